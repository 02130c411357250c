//! The spike op: Heaviside forward, ATan surrogate backward, and the surrogate as the derivative
//! of its primitive.

use crate::common::*;
use snnc_compiler::network::Compare;
use snnc_search::spike::SpikeFn;

#[test]
fn surrogate_is_the_derivative_of_the_primitive() {
    for &(threshold, alpha) in &[(1.0f32, 2.0f32), (1.0, 4.0), (0.5, 0.7), (-0.25, 3.0)] {
        let f = SpikeFn::atan(threshold, alpha, Compare::Ge);
        let mut worst = 0f64;
        for i in 0..=200 {
            let v = threshold as f64 - 2.5 + 0.025 * i as f64;
            let h = 1e-5;
            let fd = (f.primitive(v + h) - f.primitive(v - h)) / (2.0 * h);
            let s = f.surrogate(v as f32) as f64;
            let err = (fd - s).abs() / s.abs().max(1e-3);
            worst = worst.max(err);
            assert!(
                err < 1e-5,
                "threshold {threshold} alpha {alpha} v {v}: fd {fd} surrogate {s}"
            );
        }
        assert!(worst < 1e-5);
        // The peak is alpha/2 at the threshold; the primitive runs from 0 to 1 through 1/2.
        assert!((f.surrogate(threshold) - alpha / 2.0).abs() < 1e-6);
        assert!((f.primitive(threshold as f64) - 0.5).abs() < 1e-12);
        assert!(
            f.primitive(threshold as f64 - 1e4) < 1e-3
                && f.primitive(threshold as f64 + 1e4) > 1.0 - 1e-3
        );
    }
    // SpikingJelly's ATan() at alpha = 2: 1 / (1 + (pi (v - 1))^2); at v = 1.5 that is 1/(1 + pi^2/4).
    let f = SpikeFn::atan(1.0, 2.0, Compare::Ge);
    let want = 1.0 / (1.0 + std::f64::consts::PI.powi(2) / 4.0);
    assert!(
        (f.surrogate(1.5) as f64 - want).abs() < 1e-7,
        "{} vs {want}",
        f.surrogate(1.5)
    );
    assert!(
        (f.surrogate(0.5) as f64 - want).abs() < 1e-7,
        "symmetric about the threshold"
    );
}

#[test]
fn forward_is_heaviside_including_the_threshold() {
    let below = 1f32.next_down();
    let above = 1f32.next_up();
    let v = [-3.0, 0.0, 0.999, below, 1.0, above, 1.001, 7.5];
    let x = tensor(&v, &[2, 4]);
    let ge = values(&SpikeFn::atan(1.0, 2.0, Compare::Ge).apply(&x).unwrap());
    assert_eq!(ge, vec![0., 0., 0., 0., 1., 1., 1., 1.]);
    let gt = values(&SpikeFn::atan(1.0, 2.0, Compare::Gt).apply(&x).unwrap());
    assert_eq!(gt, vec![0., 0., 0., 0., 0., 1., 1., 1.]);
    // A strided (transposed) view: the op must follow the layout.
    let xt = x.t().unwrap();
    assert!(!xt.is_contiguous());
    let ge_t = SpikeFn::atan(1.0, 2.0, Compare::Ge).apply(&xt).unwrap();
    assert_eq!(ge_t.dims(), &[4, 2]);
    assert_eq!(values(&ge_t), vec![0., 1., 0., 1., 0., 1., 0., 1.]);
    // A narrowed view with an offset.
    let tail = x.flatten_all().unwrap().narrow(0, 3, 3).unwrap();
    assert_eq!(
        values(&SpikeFn::atan(1.0, 2.0, Compare::Ge).apply(&tail).unwrap()),
        vec![0., 1., 1.]
    );
}

#[test]
fn backward_of_sum_is_the_surrogate() {
    for &(threshold, alpha) in &[(1.0f32, 2.0f32), (0.3, 5.0)] {
        let f = SpikeFn::atan(threshold, alpha, Compare::Ge);
        let data: Vec<f32> = (0..21).map(|i| threshold - 1.0 + 0.1 * i as f32).collect();
        let v = var(&data, &[3, 7]);
        let loss = f.apply(v.as_tensor()).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let g = values(grads.get(v.as_tensor()).expect("gradient for v"));
        let want: Vec<f64> = data.iter().map(|&x| f.surrogate(x) as f64).collect();
        assert_all_close(&g, &want, 1e-7, "d sum(spike(v)) / dv");
        // Hand value at the threshold element (index 10): alpha / 2.
        assert!((g[10] - alpha / 2.0).abs() < 1e-6);
    }
}

#[test]
fn backward_weights_the_incoming_gradient_and_follows_strides() {
    let f = SpikeFn::atan(1.0, 2.0, Compare::Ge);
    let data: Vec<f32> = (0..12).map(|i| 0.2 * i as f32).collect();
    let c: Vec<f32> = (0..12).map(|i| (i as f32 - 5.0) * 0.5).collect();
    let v = var(&data, &[3, 4]);
    // Spike a transposed view, weight by c (laid out as [4, 3]).
    let s = f.apply(&v.as_tensor().t().unwrap()).unwrap();
    let loss = (s * tensor(&c, &[4, 3])).unwrap().sum_all().unwrap();
    let g = values(loss.backward().unwrap().get(v.as_tensor()).unwrap());
    // Element (i, j) of v meets c[j][i] = c[j * 3 + i].
    let want: Vec<f64> = (0..12)
        .map(|k| {
            let (i, j) = (k / 4, k % 4);
            c[j * 3 + i] as f64 * f.surrogate(data[k]) as f64
        })
        .collect();
    assert_all_close(&g, &want, 1e-6, "weighted strided gradient");
}
