//! Optimisers against PyTorch's update rules computed by hand in f64, checkpointed state, and the
//! cosine schedule.

use crate::common::*;
use candle_core::backprop::GradStore;
use snnc_search::optim::{Optimizer, OptimizerKind, cosine_lr};
use snnc_search::params::ParamStore;

const P0: [f32; 2] = [1.0, -2.0];
const GRADS: [[f32; 2]; 3] = [[0.5, -0.25], [1.0, 0.25], [-0.75, 0.5]];

/// A store with the trainable `p`, a trainable `unused` (never in the loss) and a buffer `buf`.
fn store() -> ParamStore {
    let mut s = ParamStore::new();
    s.insert("p", tensor(&P0, &[2]), true).unwrap();
    s.insert("unused", tensor(&[3.0], &[1]), true).unwrap();
    s.insert("buf", tensor(&[5.0], &[1]), false).unwrap();
    s
}

/// Gradients `g` for `p` (and 1 for the buffer, which the optimiser must ignore).
fn grads(s: &ParamStore, g: &[f32; 2]) -> GradStore {
    let p = s.get("p").unwrap().as_tensor();
    let b = s.get("buf").unwrap().as_tensor();
    let loss = ((p * tensor(g, &[2])).unwrap().sum_all().unwrap() + b.sum_all().unwrap()).unwrap();
    loss.backward().unwrap()
}

fn p(s: &ParamStore) -> Vec<f32> {
    values(s.get("p").unwrap().as_tensor())
}

/// PyTorch's update rules in f64 for `steps` steps of GRADS.
fn reference(kind: OptimizerKind, lr: f64, steps: usize) -> Vec<f64> {
    let mut p: Vec<f64> = P0.iter().map(|&v| v as f64).collect();
    let (mut m, mut v) = (vec![0.0; 2], vec![0.0; 2]);
    for (t, g) in GRADS.iter().take(steps).enumerate() {
        let t = t as i32 + 1;
        for i in 0..2 {
            let mut gi = g[i] as f64;
            match kind {
                OptimizerKind::Sgd {
                    momentum,
                    dampening,
                    weight_decay,
                } => {
                    gi += weight_decay * p[i];
                    m[i] = if t == 1 {
                        gi
                    } else {
                        momentum * m[i] + (1.0 - dampening) * gi
                    };
                    p[i] -= lr * m[i];
                }
                OptimizerKind::Adam {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                }
                | OptimizerKind::AdamW {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                } => {
                    if matches!(kind, OptimizerKind::AdamW { .. }) {
                        p[i] *= 1.0 - lr * weight_decay;
                    } else {
                        gi += weight_decay * p[i];
                    }
                    m[i] = beta1 * m[i] + (1.0 - beta1) * gi;
                    v[i] = beta2 * v[i] + (1.0 - beta2) * gi * gi;
                    let mh = m[i] / (1.0 - beta1.powi(t));
                    let vh = v[i] / (1.0 - beta2.powi(t));
                    p[i] -= lr * mh / (vh.sqrt() + eps);
                }
            }
        }
    }
    p
}

fn run(kind: OptimizerKind, lr: f64, steps: usize) -> ParamStore {
    let s = store();
    let mut opt = Optimizer::new(kind);
    for g in GRADS.iter().take(steps) {
        opt.step(&s, &grads(&s, g), lr).unwrap();
    }
    assert_eq!(opt.steps, steps as u64);
    s
}

fn check(kind: OptimizerKind, lr: f64) {
    for steps in 1..=3 {
        let s = run(kind, lr, steps);
        assert_all_close(
            &p(&s),
            &reference(kind, lr, steps),
            1e-6,
            &format!("{kind:?} after {steps} steps"),
        );
        assert_eq!(
            values(s.get("unused").unwrap().as_tensor()),
            vec![3.0],
            "a parameter without gradient is left alone"
        );
        assert_eq!(
            values(s.get("buf").unwrap().as_tensor()),
            vec![5.0],
            "buffers are never updated"
        );
    }
}

#[test]
fn sgd_with_momentum_and_weight_decay() {
    let kind = OptimizerKind::Sgd {
        momentum: 0.9,
        dampening: 0.0,
        weight_decay: 0.1,
    };
    // By hand: g' = g + 0.1 p = [0.6, -0.45]; buf = g'; p = [1 - 0.06, -2 + 0.045].
    assert_all_close(&p(&run(kind, 0.1, 1)), &[0.94, -1.955], 1e-6, "sgd step 1");
    check(kind, 0.1);
    check(
        OptimizerKind::Sgd {
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
        },
        0.5,
    );
    check(
        OptimizerKind::Sgd {
            momentum: 0.5,
            dampening: 0.3,
            weight_decay: 0.0,
        },
        0.2,
    );
}

#[test]
fn adam_and_adamw() {
    let adam = OptimizerKind::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    // The first Adam step moves every coordinate by lr against the sign of its gradient.
    assert_all_close(&p(&run(adam, 0.1, 1)), &[0.9, -1.9], 1e-6, "adam step 1");
    check(adam, 0.1);
    check(
        OptimizerKind::Adam {
            beta1: 0.8,
            beta2: 0.99,
            eps: 1e-3,
            weight_decay: 0.05,
        },
        0.05,
    );
    let adamw = OptimizerKind::AdamW {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    // Decoupled decay first: p * (1 - 0.01), then the Adam step: [0.99 - 0.1, -1.98 + 0.1].
    assert_all_close(
        &p(&run(adamw, 0.1, 1)),
        &[0.89, -1.88],
        1e-6,
        "adamw step 1",
    );
    check(adamw, 0.1);
}

#[test]
fn saved_state_continues_exactly() {
    for kind in [
        OptimizerKind::Sgd {
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 0.01,
        },
        OptimizerKind::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        },
        OptimizerKind::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        },
    ] {
        let whole = run(kind, 0.1, 3);
        // Two steps, save, restore into a fresh optimiser, one more step.
        let s = store();
        let mut opt = Optimizer::new(kind);
        for g in &GRADS[..2] {
            opt.step(&s, &grads(&s, g), 0.1).unwrap();
        }
        let state = opt.state().unwrap();
        let mut fresh = Optimizer::new(kind);
        fresh.load_state(opt.steps, &state, &s).unwrap();
        fresh.step(&s, &grads(&s, &GRADS[2]), 0.1).unwrap();
        assert_eq!(
            p(&s),
            p(&whole),
            "{kind:?}: restored state must continue exactly"
        );
        // Without the state the third step differs (the test can tell).
        let s2 = store();
        let mut opt2 = Optimizer::new(kind);
        for g in &GRADS[..2] {
            opt2.step(&s2, &grads(&s2, g), 0.1).unwrap();
        }
        let mut forgetful = Optimizer::new(kind);
        forgetful.step(&s2, &grads(&s2, &GRADS[2]), 0.1).unwrap();
        assert_ne!(
            p(&s2),
            p(&whole),
            "{kind:?}: losing the state must change the step"
        );
    }
}

/// A checkpoint's moments must fit the network they are loaded into, and say why not.
#[test]
fn mismatched_optimizer_state_is_refused() {
    let kind = OptimizerKind::parse("adam", 0.9, 0.0).unwrap();
    let s = store();
    let mut opt = Optimizer::new(kind);
    opt.step(&s, &grads(&s, &GRADS[0]), 0.1).unwrap();
    let state = opt.state().unwrap();
    let mut other = ParamStore::new();
    other
        .insert("p", tensor(&[1.0, 2.0, 3.0], &[3]), true)
        .unwrap();
    let err = Optimizer::new(kind)
        .load_state(1, &state, &other)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`first.p` has shape [2], but the parameter is [3]"),
        "{err}"
    );
    let mut stranger = ParamStore::new();
    stranger.insert("q", tensor(&P0, &[2]), true).unwrap();
    let err = Optimizer::new(kind)
        .load_state(1, &state, &stranger)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("belongs to no parameter of this network"),
        "{err}"
    );
    let mut poisoned = state.clone();
    poisoned.tensors.get_mut("second.p").unwrap().data[0] = f32::NAN;
    let err = Optimizer::new(kind)
        .load_state(1, &poisoned, &s)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`second.p` holds a non-finite value"), "{err}");
}

#[test]
fn cosine_schedule() {
    assert_eq!(cosine_lr(0.1, 0.001, 0, 10), 0.1);
    assert!((cosine_lr(0.1, 0.001, 5, 10) - 0.0505).abs() < 1e-15);
    assert!((cosine_lr(0.1, 0.001, 10, 10) - 0.001).abs() < 1e-15);
    // A quarter of the way: eta_min + (base - eta_min) * (1 + cos(pi/4)) / 2.
    let q = 0.001 + 0.099 * (1.0 + std::f64::consts::FRAC_1_SQRT_2) / 2.0;
    assert!((cosine_lr(0.1, 0.001, 1, 4) - q).abs() < 1e-15);
    assert_eq!(cosine_lr(0.1, 0.001, 3, 0), 0.1);
}

#[test]
fn parse_names() {
    assert_eq!(
        OptimizerKind::parse("sgd", 0.9, 5e-4).unwrap(),
        OptimizerKind::Sgd {
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 5e-4
        }
    );
    assert!(
        matches!(OptimizerKind::parse("adamw", 0.0, 0.01).unwrap(), OptimizerKind::AdamW { weight_decay, .. } if weight_decay == 0.01)
    );
    assert!(OptimizerKind::parse("rmsprop", 0.0, 0.0).is_err());
}
