//! BatchNorm: the fused custom-op path against the plain-Candle reference, in train and eval mode,
//! for [B, C] and [B, C, H, W]; and PyTorch's running-statistics convention on hand numbers.

use crate::common::*;
use candle_core::Var;
use snnc_search::layers::BatchNorm;

/// A BatchNorm with its own fresh variables.
fn bn(weight: &[f32], bias: &[f32], rm: &[f32], rv: &[f32], momentum: f64) -> BatchNorm {
    let c = weight.len();
    BatchNorm {
        weight: var(weight, &[c]),
        bias: var(bias, &[c]),
        running_mean: var(rm, &[c]),
        running_var: var(rv, &[c]),
        eps: 1e-5,
        momentum,
        per_step: false,
    }
}

struct Run {
    y: Vec<f32>,
    dx: Vec<f32>,
    dgamma: Vec<f32>,
    dbeta: Vec<f32>,
    rm: Vec<f32>,
    rv: Vec<f32>,
}

/// Forward (fused or reference) and the gradients of `sum(c * y)`.
fn run(layer: &BatchNorm, x: &[f32], dims: &[usize], c: &[f32], train: bool, fused: bool) -> Run {
    let xv = var(x, dims);
    let y = if fused {
        layer.forward(xv.as_tensor(), train)
    } else {
        layer.forward_reference(xv.as_tensor(), train)
    }
    .expect("bn forward");
    assert_eq!(y.dims(), dims);
    let loss = (&y * tensor(c, dims)).unwrap().sum_all().unwrap();
    let g = loss.backward().unwrap();
    let get = |v: &Var| values(g.get(v.as_tensor()).expect("gradient"));
    Run {
        y: values(&y),
        dx: get(&xv),
        dgamma: get(&layer.weight),
        dbeta: get(&layer.bias),
        rm: values(layer.running_mean.as_tensor()),
        rv: values(layer.running_var.as_tensor()),
    }
}

fn compare(dims: &[usize], train: bool, seed: u64) {
    let c = dims[1];
    let n: usize = dims.iter().product();
    let mut rng = snnc_datasets::transform::Rng::new(seed);
    // An offset and a spread per sample so the statistics are far from the defaults.
    let x: Vec<f32> = uniform(&mut rng, n, -1.0, 3.0);
    let cw = uniform(&mut rng, n, -1.0, 1.0);
    let gamma = uniform(&mut rng, c, 0.5, 1.5);
    let beta = uniform(&mut rng, c, -0.5, 0.5);
    let rm = uniform(&mut rng, c, -0.3, 0.3);
    let rv = uniform(&mut rng, c, 0.5, 2.0);
    let fused = run(
        &bn(&gamma, &beta, &rm, &rv, 0.1),
        &x,
        dims,
        &cw,
        train,
        true,
    );
    let reference = run(
        &bn(&gamma, &beta, &rm, &rv, 0.1),
        &x,
        dims,
        &cw,
        train,
        false,
    );
    let what = |s: &str| format!("{s} dims={dims:?} train={train}");
    assert_close_rel(&fused.y, &reference.y, 1e-5, &what("output"));
    assert_close_rel(&fused.dx, &reference.dx, 1e-5, &what("dx"));
    assert_close_rel(&fused.dgamma, &reference.dgamma, 1e-5, &what("dgamma"));
    assert_close_rel(&fused.dbeta, &reference.dbeta, 1e-5, &what("dbeta"));
    assert_close_rel(&fused.rm, &reference.rm, 1e-5, &what("running_mean"));
    assert_close_rel(&fused.rv, &reference.rv, 1e-5, &what("running_var"));
    if train {
        assert_ne!(fused.rm, rm, "train mode moves the running mean");
        // With batch statistics, dx of every channel sums to zero.
        let sp = n / dims[0] / c;
        for ch in 0..c {
            let s: f64 = (0..dims[0])
                .flat_map(|b| (0..sp).map(move |i| (b * c + ch) * sp + i))
                .map(|i| fused.dx[i] as f64)
                .sum();
            assert!(s.abs() < 1e-4, "channel {ch}: sum(dx) = {s}");
        }
    } else {
        assert_eq!(fused.rm, rm, "eval mode leaves the running mean");
        assert_eq!(fused.rv, rv, "eval mode leaves the running variance");
        // dx = gamma / sqrt(rv + eps) * c in eval mode.
        let sp = n / dims[0] / c;
        for (i, &g) in fused.dx.iter().enumerate() {
            let ch = (i / sp) % c;
            let want = gamma[ch] as f64 / (rv[ch] as f64 + 1e-5).sqrt() * cw[i] as f64;
            assert!(
                (g as f64 - want).abs() < 1e-5,
                "eval dx[{i}] = {g}, want {want}"
            );
        }
    }
}

#[test]
fn fused_matches_reference_train_mode() {
    compare(&[5, 3], true, 1);
    compare(&[64, 7], true, 2);
    compare(&[3, 4, 5, 6], true, 3);
    compare(&[2, 3, 7, 9], true, 4);
}

#[test]
fn fused_matches_reference_eval_mode() {
    compare(&[5, 3], false, 5);
    compare(&[3, 4, 5, 6], false, 6);
}

#[test]
fn running_statistics_follow_pytorch_rank2() {
    // [B=4, C=2]: channel 0 = 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3);
    // channel 1 = 2, 2, 2, 6 (mean 3, biased var 3, unbiased 4).
    let x = [1., 2., 2., 2., 3., 2., 4., 6.];
    let c = [1.0; 8];
    for fused in [true, false] {
        let layer = bn(&[1.0, 2.0], &[0.0, 0.5], &[0.0, 0.0], &[1.0, 1.0], 0.1);
        let r = run(&layer, &x, &[4, 2], &c, true, fused);
        assert_all_close(
            &r.rm,
            &[0.25, 0.3],
            1e-6,
            &format!("running_mean fused={fused}"),
        );
        assert_all_close(
            &r.rv,
            &[0.9 + 0.1 * 5.0 / 3.0, 0.9 + 0.1 * 4.0],
            1e-6,
            &format!("running_var fused={fused}"),
        );
        // Normalised with the biased batch variance: (x - 2.5)/sqrt(1.25 + eps), and for channel 1
        // 2 * (x - 3)/sqrt(3 + eps) + 0.5.
        let i0 = 1.0 / (1.25f64 + 1e-5).sqrt();
        let i1 = 2.0 / (3.0f64 + 1e-5).sqrt();
        let want = [
            -1.5 * i0,
            -i1 + 0.5,
            -0.5 * i0,
            -i1 + 0.5,
            0.5 * i0,
            -i1 + 0.5,
            1.5 * i0,
            3.0 * i1 + 0.5,
        ];
        assert_all_close(&r.y, &want, 1e-5, &format!("output fused={fused}"));
        // Loss = sum(y): dgamma = sum(xhat) = 0, dbeta = B = 4, and dx = 0 (the mean absorbs it).
        assert_all_close(&r.dgamma, &[0.0, 0.0], 1e-5, "dgamma");
        assert_all_close(&r.dbeta, &[4.0, 4.0], 1e-6, "dbeta");
        assert_all_close(&r.dx, &[0.0; 8], 1e-5, "dx");

        // A second train call moves the statistics again: 0.9 * 0.25 + 0.1 * 2.5 = 0.475.
        let r = run(&layer, &x, &[4, 2], &c, true, fused);
        assert_all_close(&r.rm, &[0.475, 0.57], 1e-6, "running_mean after two calls");
        let v0 = 0.9 * (0.9 + 0.1 * 5.0 / 3.0) + 0.1 * 5.0 / 3.0;
        assert_all_close(
            &r.rv,
            &[v0, 0.9 * 1.3 + 0.4],
            1e-6,
            "running_var after two calls",
        );

        // Eval mode then uses them: channel 0, x = 1: (1 - 0.475)/sqrt(v0 + eps).
        let r = run(&layer, &x, &[4, 2], &c, false, fused);
        assert!(
            (r.y[0] as f64 - 0.525 / (v0 + 1e-5).sqrt()).abs() < 1e-5,
            "eval output {}",
            r.y[0]
        );
        assert_all_close(&r.rm, &[0.475, 0.57], 1e-6, "eval leaves running_mean");
    }
}

#[test]
fn running_statistics_follow_pytorch_rank4_and_momentum() {
    // [B=2, C=1, 2, 2] = 0..8: mean 3.5, biased var 5.25, unbiased var 6 (n = 8 per channel).
    let x: Vec<f32> = (0..8).map(|v| v as f32).collect();
    for fused in [true, false] {
        let layer = bn(&[1.0], &[0.0], &[0.0], &[1.0], 0.1);
        let r = run(&layer, &x, &[2, 1, 2, 2], &[1.0; 8], true, fused);
        assert_all_close(&r.rm, &[0.35], 1e-6, "running_mean");
        assert_all_close(&r.rv, &[1.5], 1e-6, "running_var");
        let is = 1.0 / (5.25f64 + 1e-5).sqrt();
        let want: Vec<f64> = (0..8).map(|v| (v as f64 - 3.5) * is).collect();
        assert_all_close(&r.y, &want, 1e-5, "rank-4 output");
        // Momentum 0.3: 0.7 * 0 + 0.3 * 3.5 and 0.7 * 1 + 0.3 * 6.
        let layer = bn(&[1.0], &[0.0], &[0.0], &[1.0], 0.3);
        let r = run(&layer, &x, &[2, 1, 2, 2], &[1.0; 8], true, fused);
        assert_all_close(&r.rm, &[1.05], 1e-6, "running_mean momentum 0.3");
        assert_all_close(&r.rv, &[2.5], 1e-6, "running_var momentum 0.3");
    }
}

#[test]
fn plain_input_gets_no_gradient_but_parameters_do() {
    let layer = bn(&[1.0, 2.0], &[0.0, 0.5], &[0.0, 0.0], &[1.0, 1.0], 0.1);
    let x = rand_tensor(9, &[4, 2, 3, 3], -1.0, 1.0);
    let c = rand_tensor(10, &[4, 2, 3, 3], -1.0, 1.0);
    let y = layer.forward(&x, true).unwrap();
    let g = (&y * &c).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(g.get(&x).is_none());
    let want = {
        let r2 = bn(&[1.0, 2.0], &[0.0, 0.5], &[0.0, 0.0], &[1.0, 1.0], 0.1);
        let yr = r2.forward_reference(&x, true).unwrap();
        let gr = (&yr * &c).unwrap().sum_all().unwrap().backward().unwrap();
        (
            values(gr.get(r2.weight.as_tensor()).unwrap()),
            values(gr.get(r2.bias.as_tensor()).unwrap()),
        )
    };
    assert_close_rel(
        &values(g.get(layer.weight.as_tensor()).unwrap()),
        &want.0,
        1e-5,
        "dgamma",
    );
    assert_close_rel(
        &values(g.get(layer.bias.as_tensor()).unwrap()),
        &want.1,
        1e-5,
        "dbeta",
    );
}

#[test]
fn rank_three_is_rejected() {
    let layer = bn(&[1.0, 1.0], &[0.0, 0.0], &[0.0, 0.0], &[1.0, 1.0], 0.1);
    let x = rand_tensor(11, &[2, 2, 3], -1.0, 1.0);
    assert!(layer.forward(&x, true).is_err());
    assert!(layer.forward_reference(&x, true).is_err());
}

#[test]
fn a_per_step_layer_keeps_and_uses_one_row_of_statistics_per_step() {
    // Two steps, one channel: running mean rows [0, 10], variance rows [1, 4].
    let mut layer = bn(&[1.0], &[0.0], &[0.0], &[1.0], 0.5);
    layer.per_step = true;
    layer.running_mean = var(&[0.0, 10.0], &[2, 1]);
    layer.running_var = var(&[1.0, 4.0], &[2, 1]);
    let x = tensor(&[12.0, 14.0], &[2, 1]);
    // Eval: step 1 normalises with its own row, (x - 10) / 2.
    let y = values(&layer.forward_step(&x, false, 1).unwrap());
    assert_all_close(&y, &[1.0, 2.0], 1e-5, "eval at step 1");
    let y0 = values(&layer.forward_step(&x, false, 0).unwrap());
    assert_all_close(&y0, &[12.0, 14.0], 1e-4, "eval at step 0");
    // Train at step 1 moves row 1 only: mean 13, unbiased var 2, momentum 0.5.
    layer.forward_step(&x, true, 1).unwrap();
    assert_all_close(
        &values(layer.running_mean.as_tensor()),
        &[0.0, 11.5],
        1e-6,
        "running_mean rows",
    );
    assert_all_close(
        &values(layer.running_var.as_tensor()),
        &[1.0, 3.0],
        1e-6,
        "running_var rows",
    );
    // Without a step a per-step layer refuses rather than silently using row 0; a step past
    // the rows it holds is an error too.
    assert!(layer.forward(&x, false).is_err());
    assert!(layer.forward_step(&x, false, 2).is_err());
}
