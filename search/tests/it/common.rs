//! Helpers shared by the `snnc-search` integration tests: tensors, seeded data, comparisons,
//! finite differences, networks from JSON and an f64 reference LIF.
#![allow(dead_code)]

use candle_core::{Tensor, Var};
use snnc_compiler::network::{Compare, Network, NetworkDesc, NeuronParams, Reset};
use snnc_datasets::transform::Rng;
use snnc_search::device::ComputeDevice;

/// A CPU f32 tensor of `dims` from `data`.
pub fn tensor(data: &[f32], dims: &[usize]) -> Tensor {
    Tensor::from_slice(data, dims, &ComputeDevice::cpu()).expect("tensor")
}

/// A CPU f32 variable of `dims` from `data`.
pub fn var(data: &[f32], dims: &[usize]) -> Var {
    Var::from_tensor(&tensor(data, dims)).expect("var")
}

/// Every element of `t`, row-major.
pub fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all()
        .expect("flatten")
        .to_vec1::<f32>()
        .expect("f32")
}

/// The scalar of a one-element tensor.
pub fn scalar(t: &Tensor) -> f64 {
    let v = values(t);
    assert_eq!(v.len(), 1, "expected a single element, got {}", v.len());
    v[0] as f64
}

/// `n` uniform draws in `[lo, hi)` from a seeded generator.
pub fn uniform(rng: &mut Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| lo + (hi - lo) * rng.next_f32()).collect()
}

/// A seeded random tensor with entries in `[lo, hi)`.
pub fn rand_tensor(seed: u64, dims: &[usize], lo: f32, hi: f32) -> Tensor {
    let mut rng = Rng::new(seed);
    let n = dims.iter().product();
    tensor(&uniform(&mut rng, n, lo, hi), dims)
}

pub fn max_abs(a: &[f32]) -> f32 {
    a.iter().fold(0f32, |m, v| m.max(v.abs()))
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

/// `max|a - b| <= rel * max|b|` (and both have the same length). `b` is the reference.
pub fn assert_close_rel(a: &[f32], b: &[f32], rel: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    let scale = max_abs(b);
    assert!(
        scale > 0.0,
        "{what}: the reference is all zeros, the comparison would be vacuous"
    );
    let diff = max_abs_diff(a, b);
    assert!(
        diff <= rel * scale,
        "{what}: max|a-b| = {diff:e} > {rel:e} * max|b| = {:e}\n a = {:?}\n b = {:?}",
        rel * scale,
        &a[..a.len().min(12)],
        &b[..b.len().min(12)]
    );
}

/// Elementwise `|a - b| <= tol` against expected f64 values.
pub fn assert_all_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: lengths differ: got {got:?}, want {want:?}"
    );
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= tol,
            "{what}[{i}]: got {g}, want {w} (tol {tol:e})\n got  {got:?}\n want {want:?}"
        );
    }
}

/// Relative agreement of f64 vectors: `|a - b| <= rel * max(|b|_inf, floor)` elementwise.
pub fn assert_rel_f64(got: &[f64], want: &[f64], rel: f64, floor: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let scale = want.iter().fold(floor, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * scale,
            "{what}[{i}]: got {g}, want {w} (rel {rel:e} of {scale})\n got  {got:?}\n want {want:?}"
        );
    }
}

/// Central differences of `f` at `x` with step `h`, one coordinate at a time.
pub fn central_diff(mut f: impl FnMut(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    let mut p = x.to_vec();
    (0..x.len())
        .map(|i| {
            p[i] = x[i] + h;
            let up = f(&p);
            p[i] = x[i] - h;
            let down = f(&p);
            p[i] = x[i];
            (up - down) / (2.0 * h)
        })
        .collect()
}

/// Parse and validate a network description, panicking with the validator's message.
pub fn network(json: &str) -> Network {
    NetworkDesc::from_json_str(json, "test.json")
        .unwrap_or_else(|e| panic!("invalid test network: {e}"))
}

/// LIF parameters with SpikingJelly's defaults and time constant `tau`.
pub fn lif_params(tau: f64) -> NeuronParams {
    NeuronParams::with_tau(tau)
}

/// One step of an f64 reference neuron with leak factor `k` (1/tau or sigmoid(w)):
/// returns `(h, s, v_new)`. `v` is the membrane before the step (v_reset at the start; kept
/// unreset by `subtract_next`, whose pending reset it carries).
pub fn ref_step(p: &NeuronParams, k: f64, v: f64, x: f64) -> (f64, f64, f64) {
    let u = p.uniform().expect("numbers only");
    let (vr, threshold) = (u.v_reset, u.threshold);
    let fires = |u: f64| match p.compare {
        Compare::Ge => u >= threshold,
        Compare::Gt => u > threshold,
    };
    let h = if p.decay_input {
        v + k * (x - (v - vr))
    } else {
        v - k * (v - vr) + x
    };
    // snnTorch's delayed resets: the stored (unreset) membrane fired last step.
    let h = match p.reset {
        Reset::SubtractNext if fires(v) => h - threshold,
        Reset::ZeroNext if fires(v) => vr,
        _ => h,
    };
    let fire = fires(h);
    let s = if fire { 1.0 } else { 0.0 };
    let v_new = match p.reset {
        Reset::Hard => {
            if fire {
                vr
            } else {
                h
            }
        }
        Reset::Subtract => h - s * threshold,
        Reset::SubtractNext | Reset::ZeroNext | Reset::None => h,
    };
    (h, s, v_new)
}

/// `sigmoid(w)` in f64.
pub fn sigmoid(w: f64) -> f64 {
    1.0 / (1.0 + (-w).exp())
}
