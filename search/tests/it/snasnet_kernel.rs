//! The SAHD / Hamming kernel and log|det| against direct f64 computations (snasnet.md §4.3-4.5).

use snnc_search::snasnet::kernel::{
    Dispatch, KernelAccumulator, KernelKind, SpikeBits, call_kernel, log_abs_det, pair_distances,
};

/// The kernel straight from the formulas, on 0/1 rows.
fn direct(c: &[Vec<u8>], kind: KernelKind) -> Vec<f64> {
    let b = c.len();
    let n = c[0].len() as f64;
    let rate = |i: usize| c[i].iter().map(|&v| v as f64).sum::<f64>() / n;
    let mut k = vec![0.0; b * b];
    for i in 0..b {
        for j in 0..b {
            let d: f64 = (0..c[i].len())
                .map(|q| {
                    let (x, y) = (c[i][q] as f64, c[j][q] as f64);
                    x * (1.0 - y) + (1.0 - x) * y
                })
                .sum();
            k[i * b + j] = match kind {
                KernelKind::Hamming => n - d,
                KernelKind::Sahd => {
                    let (ri, rj) = (rate(i), rate(j));
                    let e = n * (ri * (1.0 - rj) + (1.0 - ri) * rj);
                    n - 0.5 * d / (e + 1e-3)
                }
            };
        }
    }
    k
}

fn bits(c: &[Vec<u8>]) -> SpikeBits {
    let values: Vec<f32> = c.iter().flatten().map(|&v| v as f32).collect();
    SpikeBits::from_values(&values, c.len(), c[0].len()).expect("pack")
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

#[test]
fn hand_computed_sahd_b3_n4() {
    // Rows: 1100, 1010, 0000. Rates 0.5, 0.5, 0.
    let c = vec![vec![1, 1, 0, 0], vec![1, 0, 1, 0], vec![0, 0, 0, 0]];
    let k = call_kernel(&bits(&c), KernelKind::Sahd);
    // d(0,1) = 2, E = 4(0.25 + 0.25) = 2 -> 4 - 0.5*2/2.001
    // d(0,2) = 2, E = 4(0.5) = 2 -> same; d(1,2) = 2 -> same.
    let off = 4.0 - 0.5 * 2.0 / 2.001;
    let want = vec![4.0, off, off, off, 4.0, off, off, off, 4.0];
    close(&k, &want, 1e-12);
    let h = call_kernel(&bits(&c), KernelKind::Hamming);
    close(&h, &[4.0, 2.0, 2.0, 2.0, 4.0, 2.0, 2.0, 2.0, 4.0], 0.0);
}

#[test]
fn all_silent_rows_stay_finite() {
    // r_i = r_j = 0: E = 0 and d = 0, so the guard keeps K = N.
    let c = vec![vec![0; 5], vec![0; 5], vec![1; 5], vec![1; 5]];
    let k = call_kernel(&bits(&c), KernelKind::Sahd);
    assert!(k.iter().all(|v| v.is_finite()));
    close(&k, &direct(&c, KernelKind::Sahd), 1e-12);
    assert_eq!(k[1], 5.0);
    assert_eq!(k[2 * 4 + 3], 5.0);
}

#[test]
fn random_patterns_match_direct_across_word_boundaries() {
    let mut s = 12345u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for &(b, n) in &[
        (3usize, 1usize),
        (4, 7),
        (4, 63),
        (3, 64),
        (4, 65),
        (4, 130),
        (4, 200),
    ] {
        for density in [2u64, 5, 9] {
            let c: Vec<Vec<u8>> = (0..b)
                .map(|_| (0..n).map(|_| (next() % density == 0) as u8).collect())
                .collect();
            let sb = bits(&c);
            let portable = pair_distances(&sb, Dispatch::Portable);
            assert_eq!(pair_distances(&sb, Dispatch::Auto), portable);
            let mut q = 0;
            for i in 0..b {
                for j in i + 1..b {
                    assert_eq!(portable[q], sb.hamming(i, j));
                    q += 1;
                }
            }
            for kind in [KernelKind::Sahd, KernelKind::Hamming] {
                close(&call_kernel(&bits(&c), kind), &direct(&c, kind), 1e-12);
            }
        }
    }
}

#[test]
fn binarisation_is_strictly_positive() {
    let sb = SpikeBits::from_values(&[0.0, 1.0, -1.0, 0.5, 2.0, 0.0], 2, 3).expect("pack");
    assert_eq!(sb.ones, vec![1, 2]);
    assert_eq!(sb.hamming(0, 1), 1);
    assert!(SpikeBits::from_values(&[0.0; 5], 2, 3).is_err());
}

#[test]
fn accumulator_means_calls_and_scores() {
    let c1 = vec![vec![1, 1, 0, 0], vec![1, 0, 1, 0], vec![0, 0, 0, 1]];
    let c2 = vec![vec![1, 0, 0], vec![0, 1, 1], vec![1, 1, 0]];
    let mut acc = KernelAccumulator::new(3, KernelKind::Sahd);
    assert!(acc.score().is_none());
    acc.add(&bits(&c1)).expect("add");
    acc.add(&bits(&c2)).expect("add");
    let (k1, k2) = (direct(&c1, KernelKind::Sahd), direct(&c2, KernelKind::Sahd));
    let mean: Vec<f64> = k1.iter().zip(&k2).map(|(a, b)| (a + b) / 2.0).collect();
    close(&acc.mean().expect("mean"), &mean, 1e-12);
    // 3x3 determinant by cofactor expansion.
    let m = &mean;
    let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
        + m[2] * (m[3] * m[7] - m[4] * m[6]);
    let score = acc.score().expect("score");
    assert!(
        (score - det.abs().ln()).abs() < 1e-10,
        "{score} vs {}",
        det.abs().ln()
    );
    assert!(acc.add(&bits(&[vec![1], vec![0]])).is_err());
}

#[test]
fn log_abs_det_on_known_matrices() {
    // Diagonal.
    assert!(
        (log_abs_det(&[2.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.5], 3) - 3.0f64.ln()).abs()
            < 1e-14
    );
    // Needs a pivot (zero leading entry); det = -1, sign discarded.
    assert!(log_abs_det(&[0.0, 1.0, 1.0, 0.0], 2).abs() < 1e-14);
    // det [[4,3],[6,3]] = -6.
    assert!((log_abs_det(&[4.0, 3.0, 6.0, 3.0], 2) - 6.0f64.ln()).abs() < 1e-14);
    // Singular.
    assert_eq!(log_abs_det(&[1.0, 2.0, 2.0, 4.0], 2), f64::NEG_INFINITY);
    // (N - 0.5) J + 0.5 I at B = 256: det = 0.5^255 (0.5 + 256 (N - 0.5)), as in snasnet.md §4.5.
    let (b, n) = (256usize, 1000.0f64);
    let a: Vec<f64> = (0..b * b)
        .map(|q| (n - 0.5) + if q / b == q % b { 0.5 } else { 0.0 })
        .collect();
    let want = 255.0 * 0.5f64.ln() + (0.5 + b as f64 * (n - 0.5)).ln();
    let got = log_abs_det(&a, b);
    assert!((got - want).abs() < 1e-8, "{got} vs {want}");
    // Wrong size.
    assert!(log_abs_det(&[1.0, 2.0, 3.0], 2).is_nan());
}

/// Calls big enough for the parallel (rayon) packing and distance paths, with a partial last
/// word and real-valued inputs around zero: the same kernel as the direct formulas.
#[test]
fn large_calls_take_the_parallel_path_and_match_direct() {
    let mut s = 987654321u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let levels = [-1.0f32, 0.0, 1e-30, 0.5, 2.0, -0.0];
    for &(b, n) in &[(37usize, 64 * 130 + 13), (9, 64 * 512)] {
        let values: Vec<f32> = (0..b * n)
            .map(|_| levels[(next() % levels.len() as u64) as usize])
            .collect();
        let c: Vec<Vec<u8>> = values
            .chunks(n)
            .map(|r| r.iter().map(|&v| (v > 0.0) as u8).collect())
            .collect();
        let sb = SpikeBits::from_values(&values, b, n).expect("pack");
        assert_eq!(
            sb,
            bits(&c),
            "packing real values = packing their 0/1 pattern"
        );
        let d = pair_distances(&sb, Dispatch::Auto);
        assert_eq!(d, pair_distances(&sb, Dispatch::Portable));
        let mut q = 0;
        for i in 0..b {
            for j in i + 1..b {
                let want = (0..n).filter(|&k| c[i][k] != c[j][k]).count() as u64;
                assert_eq!(d[q], want, "pair ({i}, {j})");
                q += 1;
            }
        }
        for kind in [KernelKind::Sahd, KernelKind::Hamming] {
            let want = direct(&c, kind);
            close(&call_kernel(&sb, kind), &want, 1e-12);
            let mut acc = KernelAccumulator::new(b, kind);
            acc.add(&sb).expect("add");
            acc.add(&sb).expect("add");
            close(&acc.mean().expect("mean"), &want, 1e-12);
        }
    }
}
