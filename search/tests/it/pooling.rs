//! Average and max pooling: forward values against an f64 reference, gradients against finite
//! differences, and PyTorch's routing of tied maxima.

use crate::common::*;
use candle_core::Tensor;
use snnc_datasets::transform::Rng;
use snnc_search::layers::pool::{AvgPool, MaxPool, PoolGeometry};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Avg { include_pad: bool },
    Max,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    dims: [usize; 4],
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
}

impl Case {
    fn geometry(&self) -> PoolGeometry {
        PoolGeometry {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
        }
    }
    fn out_hw(&self) -> (usize, usize) {
        let [_, _, h, w] = self.dims;
        (
            (h + 2 * self.padding.0 - self.kernel.0) / self.stride.0 + 1,
            (w + 2 * self.padding.1 - self.kernel.1) / self.stride.1 + 1,
        )
    }
    fn apply(&self, kind: Kind, x: &Tensor) -> Tensor {
        match kind {
            Kind::Avg { include_pad } => AvgPool {
                geometry: self.geometry(),
                count_include_pad: include_pad,
            }
            .forward(x),
            Kind::Max => MaxPool {
                geometry: self.geometry(),
            }
            .forward(x),
        }
        .expect("pool forward")
    }

    /// Straightforward f64 pooling over padded window coordinates.
    fn reference(&self, kind: Kind, x: &[f64]) -> Vec<f64> {
        let [b, c, h, w] = self.dims;
        let (oh, ow) = self.out_hw();
        let mut out = Vec::with_capacity(b * c * oh * ow);
        for plane in 0..b * c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut sum, mut count, mut best) = (0.0, 0usize, f64::NEG_INFINITY);
                    for ky in 0..self.kernel.0 {
                        for kx in 0..self.kernel.1 {
                            let y = (oy * self.stride.0 + ky) as isize - self.padding.0 as isize;
                            let xx = (ox * self.stride.1 + kx) as isize - self.padding.1 as isize;
                            if y < 0 || xx < 0 || y >= h as isize || xx >= w as isize {
                                continue;
                            }
                            let v = x[plane * h * w + y as usize * w + xx as usize];
                            sum += v;
                            count += 1;
                            best = best.max(v);
                        }
                    }
                    out.push(match kind {
                        Kind::Avg { include_pad: true } => {
                            sum / (self.kernel.0 * self.kernel.1) as f64
                        }
                        Kind::Avg { include_pad: false } => sum / count as f64,
                        Kind::Max => best,
                    });
                }
            }
        }
        out
    }
}

/// Output and the gradient of `sum(c * pool(x))` with respect to `x`.
fn forward_backward(case: &Case, kind: Kind, x: &[f32], c: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let xv = var(x, &case.dims);
    let y = case.apply(kind, xv.as_tensor());
    let [b, ch, _, _] = case.dims;
    let (oh, ow) = case.out_hw();
    assert_eq!(y.dims(), &[b, ch, oh, ow], "output shape of {case:?}");
    let loss = (&y * tensor(c, y.dims())).unwrap().sum_all().unwrap();
    let g = loss.backward().unwrap();
    (
        values(&y),
        values(g.get(xv.as_tensor()).expect("input gradient")),
    )
}

/// `sum(c * pool(x))` through the op itself, accumulated in f64.
fn op_loss(case: &Case, kind: Kind, x: &[f64], c: &[f32]) -> f64 {
    let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let y = values(&case.apply(kind, &tensor(&xf, &case.dims)));
    y.iter().zip(c).map(|(&y, &c)| y as f64 * c as f64).sum()
}

fn ref_loss(case: &Case, kind: Kind, x: &[f64], c: &[f32]) -> f64 {
    case.reference(kind, x)
        .iter()
        .zip(c)
        .map(|(y, &c)| y * c as f64)
        .sum()
}

fn numel(d: &[usize]) -> usize {
    d.iter().product()
}

fn out_len(case: &Case) -> usize {
    let (oh, ow) = case.out_hw();
    case.dims[0] * case.dims[1] * oh * ow
}

/// Forward against the reference, gradient against finite differences of the op and of the reference.
fn check_avg(case: Case, include_pad: bool, seed: u64) -> Vec<f32> {
    let kind = Kind::Avg { include_pad };
    let mut rng = Rng::new(seed);
    let x = uniform(&mut rng, numel(&case.dims), -1.0, 1.0);
    let c = uniform(&mut rng, out_len(&case), -1.0, 1.0);
    let (y, g) = forward_backward(&case, kind, &x, &c);
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    assert_all_close(
        &y,
        &case.reference(kind, &x64),
        1e-6,
        &format!("avg forward {case:?} include_pad={include_pad}"),
    );
    // The op is linear, so a large step has no truncation error and keeps f32 rounding ~1e-6.
    let fd_op = central_diff(|x| op_loss(&case, kind, x, &c), &x64, 0.25);
    assert_all_close(
        &g,
        &fd_op,
        1e-4,
        &format!("avg grad vs FD of the op {case:?} include_pad={include_pad}"),
    );
    let fd_ref = central_diff(|x| ref_loss(&case, kind, x, &c), &x64, 1e-3);
    assert_all_close(
        &g,
        &fd_ref,
        1e-6,
        &format!("avg grad vs FD of the reference {case:?} include_pad={include_pad}"),
    );
    g
}

#[test]
fn avg_pool_non_divisible_input() {
    // 7x7, kernel 2, stride 2: the last row and column are never read (floor mode).
    let case = Case {
        dims: [2, 3, 7, 7],
        kernel: (2, 2),
        stride: (2, 2),
        padding: (0, 0),
    };
    let g = check_avg(case, true, 1);
    for plane in 0..6 {
        for i in 0..7 {
            assert_eq!(g[plane * 49 + 6 * 7 + i], 0.0, "row 6 gets no gradient");
            assert_eq!(g[plane * 49 + i * 7 + 6], 0.0, "column 6 gets no gradient");
        }
    }
    // Each covered element gets exactly c/4 of its (single) window.
    let mut rng = Rng::new(1);
    let _x = uniform(&mut rng, 6 * 49, -1.0, 1.0);
    let c = uniform(&mut rng, 6 * 9, -1.0, 1.0);
    assert!((g[0] - c[0] / 4.0).abs() < 1e-7 && (g[7 + 1] - c[0] / 4.0).abs() < 1e-7);
    assert!((g[2] - c[1] / 4.0).abs() < 1e-7);
}

#[test]
fn avg_pool_padded_count_include_pad_true_and_false() {
    let case = Case {
        dims: [2, 2, 5, 6],
        kernel: (3, 3),
        stride: (1, 1),
        padding: (1, 1),
    };
    check_avg(case, true, 2);
    check_avg(case, false, 3);

    // Hand numbers on all ones: with the pad counted, corners average 4/9 and edges 6/9.
    let one = Case {
        dims: [1, 1, 4, 4],
        ..case
    };
    let ones = tensor(&[1.0; 16], &[1, 1, 4, 4]);
    let inc = values(&one.apply(Kind::Avg { include_pad: true }, &ones));
    let (c, e) = (4.0 / 9.0, 6.0 / 9.0);
    #[rustfmt::skip]
    let want = [c, e, e, c,
                e, 1.0, 1.0, e,
                e, 1.0, 1.0, e,
                c, e, e, c];
    assert_all_close(&inc, &want, 1e-6, "count_include_pad=true on ones");
    let exc = values(&one.apply(Kind::Avg { include_pad: false }, &ones));
    assert_all_close(&exc, &[1.0; 16], 1e-6, "count_include_pad=false on ones");
    // Gradient of the sum: element (0,0) sits in 4 windows: 4 * 1/9 with the pad counted;
    // without, 1/4 (corner window) + 1/6 + 1/6 (edge windows) + 1/9 (interior).
    let (_, g) = forward_backward(
        &one,
        Kind::Avg { include_pad: true },
        &[1.0; 16],
        &[1.0; 16],
    );
    assert!((g[0] - 4.0 / 9.0).abs() < 1e-6, "{}", g[0]);
    let (_, g) = forward_backward(
        &one,
        Kind::Avg { include_pad: false },
        &[1.0; 16],
        &[1.0; 16],
    );
    let want = 0.25 + 2.0 / 6.0 + 1.0 / 9.0;
    assert!((g[0] as f64 - want).abs() < 1e-6, "{} vs {want}", g[0]);
}

#[test]
fn avg_pool_stride_not_equal_kernel() {
    // Overlapping windows (k3 s2), gaps between windows (k2 s3), and a rectangular geometry.
    check_avg(
        Case {
            dims: [1, 2, 7, 7],
            kernel: (3, 3),
            stride: (2, 2),
            padding: (0, 0),
        },
        true,
        4,
    );
    let g = check_avg(
        Case {
            dims: [2, 1, 8, 8],
            kernel: (2, 2),
            stride: (3, 3),
            padding: (0, 0),
        },
        true,
        5,
    );
    // Windows start at 0, 3 and 6: rows and columns 2 and 5 fall between them.
    for plane in 0..2 {
        for r in [2, 5] {
            for i in 0..8 {
                assert_eq!(g[plane * 64 + r * 8 + i], 0.0);
                assert_eq!(g[plane * 64 + i * 8 + r], 0.0);
            }
        }
        assert_ne!(
            g[plane * 64 + 7 * 8 + 7],
            0.0,
            "the last window covers (7, 7)"
        );
    }
    check_avg(
        Case {
            dims: [2, 2, 6, 9],
            kernel: (2, 3),
            stride: (1, 2),
            padding: (1, 1),
        },
        false,
        6,
    );
    check_avg(
        Case {
            dims: [2, 2, 6, 9],
            kernel: (2, 3),
            stride: (1, 2),
            padding: (1, 1),
        },
        true,
        7,
    );
}

/// Max pool on distinct values that are multiples of 1/8: a step of 1/128 never changes a window's
/// winner and every perturbed value is exact in f32, so finite differences are exact.
fn check_max(case: Case, seed: u64) {
    let n = numel(&case.dims);
    let mut rng = Rng::new(seed);
    let mut perm: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut perm);
    let x: Vec<f32> = perm.iter().map(|&p| p as f32 / 8.0 - 10.0).collect();
    let c = uniform(&mut rng, out_len(&case), -1.0, 1.0);
    let (y, g) = forward_backward(&case, Kind::Max, &x, &c);
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    assert_all_close(
        &y,
        &case.reference(Kind::Max, &x64),
        0.0,
        &format!("max forward {case:?}"),
    );
    let fd = central_diff(|x| op_loss(&case, Kind::Max, x, &c), &x64, 1.0 / 128.0);
    assert_all_close(&g, &fd, 1e-6, &format!("max grad vs FD {case:?}"));
    // Every window routes its whole gradient to one element.
    let total: f64 = g.iter().map(|&v| v as f64).sum();
    let want: f64 = c.iter().map(|&v| v as f64).sum();
    assert!(
        (total - want).abs() < 1e-4,
        "gradient mass {total} vs {want}"
    );
}

#[test]
fn max_pool_distinct_values_matches_finite_differences() {
    check_max(
        Case {
            dims: [2, 3, 7, 7],
            kernel: (2, 2),
            stride: (2, 2),
            padding: (0, 0),
        },
        10,
    );
    check_max(
        Case {
            dims: [2, 2, 7, 8],
            kernel: (3, 3),
            stride: (2, 2),
            padding: (1, 1),
        },
        11,
    );
    check_max(
        Case {
            dims: [1, 2, 6, 6],
            kernel: (3, 3),
            stride: (1, 1),
            padding: (1, 1),
        },
        12,
    );
    check_max(
        Case {
            dims: [3, 1, 9, 5],
            kernel: (3, 2),
            stride: (2, 1),
            padding: (0, 1),
        },
        13,
    );
}

#[test]
fn max_pool_padding_never_wins() {
    // All -1: PyTorch pads max-pool with -inf, so every output is -1, not 0.
    let case = Case {
        dims: [1, 1, 5, 5],
        kernel: (3, 3),
        stride: (2, 2),
        padding: (1, 1),
    };
    let y = values(&case.apply(Kind::Max, &tensor(&[-1.0; 25], &[1, 1, 5, 5])));
    assert_eq!(y, vec![-1.0; 9]);
}

#[test]
fn max_pool_ties_go_to_the_first_maximum_in_row_major_order() {
    // Binary spikes, k2 s2 on 4x6; gradient weights 1..6 identify each window.
    #[rustfmt::skip]
    let x = [
        1., 1., 0., 1., 0., 0.,
        1., 0., 1., 1., 0., 0.,
        0., 0., 0., 0., 1., 1.,
        0., 1., 1., 0., 1., 1.,
    ];
    let case = Case {
        dims: [1, 1, 4, 6],
        kernel: (2, 2),
        stride: (2, 2),
        padding: (0, 0),
    };
    let c = [1., 2., 3., 4., 5., 6.];
    let (y, g) = forward_backward(&case, Kind::Max, &x, &c);
    assert_eq!(y, vec![1., 1., 0., 1., 1., 1.]);
    // Window 0: (0,0). Window 1 [0 1; 1 1]: (0,3). Window 2 all zero: its first cell (0,4).
    // Window 3 [0 0; 0 1]: (3,1). Window 4 [0 0; 1 0]: (3,2). Window 5 all ones: (2,4).
    let mut want = [0f64; 24];
    want[0] = 1.0;
    want[3] = 2.0;
    want[4] = 3.0;
    want[3 * 6 + 1] = 4.0;
    want[3 * 6 + 2] = 5.0;
    want[2 * 6 + 4] = 6.0;
    assert_all_close(&g, &want, 0.0, "tie routing, k2 s2");

    // Overlapping, padded windows (k3 s2 p1) on all ones: each window's first in-bounds cell wins.
    let case = Case {
        dims: [1, 1, 5, 5],
        kernel: (3, 3),
        stride: (2, 2),
        padding: (1, 1),
    };
    let c: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let (y, g) = forward_backward(&case, Kind::Max, &[1.0; 25], &c);
    assert_eq!(y, vec![1.0; 9]);
    // Window (oy, ox) starts at row max(2*oy - 1, 0), column max(2*ox - 1, 0): rows/cols {0, 1, 3}.
    let mut want = [0f64; 25];
    for (oy, r) in [0usize, 1, 3].into_iter().enumerate() {
        for (ox, col) in [0usize, 1, 3].into_iter().enumerate() {
            want[r * 5 + col] = (oy * 3 + ox + 1) as f64;
        }
    }
    assert_all_close(&g, &want, 0.0, "tie routing, k3 s2 p1");

    // A cell that is first in two overlapping windows collects both (k3 s1 on ones 3x4).
    let case = Case {
        dims: [1, 1, 3, 4],
        kernel: (3, 3),
        stride: (1, 1),
        padding: (0, 0),
    };
    let (_, g) = forward_backward(&case, Kind::Max, &[1.0; 12], &[1.0, 10.0]);
    let mut want = [0f64; 12];
    want[0] = 1.0;
    want[1] = 10.0;
    assert_all_close(&g, &want, 0.0, "tie routing, k3 s1");
}

#[test]
fn pooling_accepts_strided_input() {
    // A transposed (non-contiguous) view gives the same result as its contiguous copy.
    let x = rand_tensor(21, &[2, 3, 6, 5], -1.0, 1.0);
    let xt = x.transpose(2, 3).unwrap();
    let xc = xt.contiguous().unwrap();
    let case = Case {
        dims: [2, 3, 5, 6],
        kernel: (2, 2),
        stride: (2, 2),
        padding: (0, 0),
    };
    for kind in [Kind::Max, Kind::Avg { include_pad: true }] {
        assert_eq!(
            values(&case.apply(kind, &xt)),
            values(&case.apply(kind, &xc)),
            "{kind:?}"
        );
    }
}
