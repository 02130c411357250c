//! BPTT through LIF/PLIF steps: Candle's gradient against central differences of an f64 model
//! whose loss-path spike is the smooth primitive of the surrogate and whose reset mask is the
//! (constant) Heaviside spike. That is exactly the gradient surrogate BPTT with a detached reset
//! defines, so the two must agree.

use crate::common::*;
use candle_core::{Tensor, Var};
use snnc_compiler::network::{NeuronParams, Reset};
use snnc_datasets::transform::Rng;
use snnc_search::device::ComputeDevice;
use snnc_search::neuron::Neuron;
use snnc_search::spike::SpikeFn;

const DIMS: [usize; 2] = [2, 3];
const N: usize = 6;

/// One BPTT problem: input weights `w` (the differentiated variable), fixed inputs `u[t]`,
/// loss weights `c[t]` on the spikes and `d` on the final membrane.
struct Problem {
    p: NeuronParams,
    /// PLIF leak logit; `None` for a fixed-leak LIF.
    leak_w: Option<f64>,
    w: Vec<f64>,
    u: Vec<Vec<f64>>,
    c: Vec<Vec<f64>>,
    d: Vec<f64>,
}

impl Problem {
    fn k(&self, leak_w: f64) -> f64 {
        match self.leak_w {
            Some(_) => sigmoid(leak_w),
            None => self.p.uniform().unwrap().leak(),
        }
    }

    /// The f64 reference. `smooth` puts P(h) in the loss path; the reset always uses the Heaviside
    /// spike of the *nominal* run (`masks`), or of this run when `masks` is `None`.
    /// Returns (loss, every h, the Heaviside spikes of this run).
    fn reference(
        &self,
        w: &[f64],
        leak_w: f64,
        smooth: bool,
        masks: Option<&[Vec<f64>]>,
    ) -> (f64, Vec<f64>, Vec<Vec<f64>>) {
        let f = SpikeFn::atan(
            self.p.threshold.number().unwrap() as f32,
            self.p.surrogate_alpha as f32,
            self.p.compare,
        );
        let k = self.k(leak_w);
        let mut v = [self.p.v_reset.number().unwrap(); N];
        let mut loss = 0.0;
        let mut hs = Vec::new();
        let mut spikes = Vec::new();
        for t in 0..self.u.len() {
            let mut st = [0.0; N];
            for i in 0..N {
                let (h, s, _) = ref_step(&self.p, k, v[i], w[i] * self.u[t][i]);
                let m = masks.map_or(s, |m| m[t][i]);
                loss += self.c[t][i] * if smooth { f.primitive(h) } else { s };
                v[i] = match self.p.reset {
                    Reset::Hard => h * (1.0 - m) + self.p.v_reset.number().unwrap() * m,
                    Reset::Subtract => h - self.p.threshold.number().unwrap() * m,
                    Reset::SubtractNext | Reset::ZeroNext | Reset::None => h,
                };
                hs.push(h);
                st[i] = s;
            }
            spikes.push(st.to_vec());
        }
        loss += v.iter().zip(&self.d).map(|(v, d)| v * d).sum::<f64>();
        (loss, hs, spikes)
    }

    /// Candle forward + backward: (loss, dL/dw, dL/dleak_w).
    fn candle(&self) -> (f64, Vec<f64>, Option<f64>) {
        let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let w = var(&f32s(&self.w), &DIMS);
        let leak = self.leak_w.map(|lw| {
            Var::from_tensor(&Tensor::new(lw as f32, &ComputeDevice::cpu()).unwrap()).unwrap()
        });
        let neuron = match &leak {
            Some(l) => Neuron::plif(self.p.clone(), l.clone()),
            None => Neuron::lif(self.p.clone()),
        };
        let mut v: Option<Tensor> = None;
        let mut loss = Tensor::zeros((), candle_core::DType::F32, &ComputeDevice::cpu()).unwrap();
        for t in 0..self.u.len() {
            let x = (tensor(&f32s(&self.u[t]), &DIMS) * w.as_tensor()).unwrap();
            let (s, v_new) = neuron.step(&x, v.as_ref()).unwrap();
            let term = (s * tensor(&f32s(&self.c[t]), &DIMS))
                .unwrap()
                .sum_all()
                .unwrap();
            loss = (loss + term).unwrap();
            v = Some(v_new);
        }
        let term = (v.unwrap() * tensor(&f32s(&self.d), &DIMS))
            .unwrap()
            .sum_all()
            .unwrap();
        let loss = (loss + term).unwrap();
        let grads = loss.backward().unwrap();
        let dw = values(grads.get(w.as_tensor()).expect("dL/dw"))
            .iter()
            .map(|&g| g as f64)
            .collect();
        let dleak = leak.map(|l| scalar(grads.get(l.as_tensor()).expect("dL/dleak")));
        (scalar(&loss), dw, dleak)
    }
}

/// A seeded problem in which no h comes within 0.05 of the threshold, some neuron fires before
/// the last step (so the reset matters) and some final membrane is non-zero.
fn problem(p: NeuronParams, leak_w: Option<f64>, steps: usize) -> Problem {
    for seed in 0..10_000u64 {
        let mut rng = Rng::new(1000 + seed);
        let mut draw = |n: usize, lo: f32, hi: f32| -> Vec<f64> {
            uniform(&mut rng, n, lo, hi)
                .iter()
                .map(|&x| x as f64)
                .collect()
        };
        let w = draw(N, 0.5, 1.5);
        let u = (0..steps).map(|_| draw(N, -0.5, 2.5)).collect();
        let c = (0..steps).map(|_| draw(N, -1.0, 1.0)).collect();
        let d = draw(N, -1.0, 1.0);
        let pr = Problem {
            p: p.clone(),
            leak_w,
            w,
            u,
            c,
            d,
        };
        let (_, hs, spikes) = pr.reference(&pr.w, leak_w.unwrap_or(0.0), false, None);
        let clear = hs
            .iter()
            .all(|h| (h - p.threshold.number().unwrap()).abs() > 0.05);
        let early = spikes[..steps - 1].iter().flatten().sum::<f64>();
        let silent = spikes.iter().flatten().sum::<f64>() < (steps * N) as f64;
        if clear && early >= 2.0 && silent {
            return pr;
        }
    }
    panic!("no suitable seeded problem for {p:?}");
}

fn check(p: NeuronParams, leak_w: Option<f64>, steps: usize) {
    let pr = problem(p.clone(), leak_w, steps);
    let lw = leak_w.unwrap_or(0.0);
    let (_, _, masks) = pr.reference(&pr.w, lw, false, None);
    let (loss, dw, dleak) = pr.candle();

    // The forward loss is the Heaviside one.
    let (want_loss, _, _) = pr.reference(&pr.w, lw, false, None);
    assert!(
        (loss - want_loss).abs() < 1e-5,
        "{p:?}: loss {loss} vs reference {want_loss}"
    );

    let fd_w = central_diff(|w| pr.reference(w, lw, true, Some(&masks)).0, &pr.w, 1e-5);
    assert_rel_f64(
        &dw,
        &fd_w,
        1e-4,
        1e-2,
        &format!("dL/dw {p:?} leak {leak_w:?} T={steps}"),
    );
    // Not a vacuous comparison: the gradient is substantial.
    assert!(
        fd_w.iter().any(|g| g.abs() > 0.05),
        "gradients too small to test: {fd_w:?}"
    );

    if let Some(lw) = leak_w {
        let fd_l = central_diff(
            |l| pr.reference(&pr.w, l[0], true, Some(&masks)).0,
            &[lw],
            1e-5,
        );
        let got = dleak.expect("PLIF leak gradient");
        assert_rel_f64(
            &[got],
            &fd_l,
            1e-4,
            1e-2,
            &format!("dL/dleak {p:?} T={steps}"),
        );
        assert!(
            fd_l[0].abs() > 1e-3,
            "leak gradient too small to test: {}",
            fd_l[0]
        );
    } else {
        assert!(dleak.is_none());
    }
}

#[test]
fn lif_fixed_leak_two_and_three_steps() {
    for steps in [2, 3] {
        // SNASNet's LIF (tau 4/3) and tau 2, hard detached reset: the fused charge/reset path.
        check(lif_params(4.0 / 3.0), None, steps);
        check(lif_params(2.0), None, steps);
    }
}

#[test]
fn lif_variants_two_and_three_steps() {
    for steps in [2, 3] {
        check(
            NeuronParams {
                reset: Reset::Subtract,
                ..lif_params(2.0)
            },
            None,
            steps,
        );
        check(
            NeuronParams {
                decay_input: false,
                ..lif_params(3.0)
            },
            None,
            steps,
        );
        check(
            NeuronParams {
                v_reset: (-0.4).into(),
                ..lif_params(2.0)
            },
            None,
            steps,
        );
        check(
            NeuronParams {
                surrogate_alpha: 4.0,
                threshold: 0.8.into(),
                ..lif_params(4.0 / 3.0)
            },
            None,
            steps,
        );
    }
}

#[test]
fn plif_input_and_leak_gradients() {
    for steps in [2, 3] {
        check(lif_params(2.0), Some(0.0), steps);
        check(lif_params(2.0), Some(-0.7), steps);
        check(
            NeuronParams {
                decay_input: false,
                ..lif_params(2.0)
            },
            Some(0.9),
            steps,
        );
        check(
            NeuronParams {
                reset: Reset::Subtract,
                v_reset: 0.0.into(),
                ..lif_params(2.0)
            },
            Some(0.3),
            steps,
        );
        check(
            NeuronParams {
                v_reset: (-0.3).into(),
                ..lif_params(2.0)
            },
            Some(0.5),
            steps,
        );
    }
}

#[test]
fn hand_computed_two_step_gradient() {
    // One neuron, tau = 2, w = 1, u = [1.6, 0.5], L = s_1 + v_1 (c = [0, 1], d = 1).
    // t0: h0 = 0.8 (no spike), v0 = 0.8. t1: h1 = 0.4 + 0.25 = 0.65, v1 = 0.65 (no spike).
    // dh0/dw = 0.5*1.6 = 0.8; dh1/dw = 0.5*dh0/dw + 0.5*0.5 = 0.65.
    // dL/dw = (surrogate(0.65) + 1) * 0.65, surrogate(0.65) = 1/(1 + (pi*0.35)^2).
    let w = var(&[1.0], &[1]);
    let n = Neuron::lif(lif_params(2.0));
    let (_, v0) = n
        .step(&(tensor(&[1.6], &[1]) * w.as_tensor()).unwrap(), None)
        .unwrap();
    let (s1, v1) = n
        .step(&(tensor(&[0.5], &[1]) * w.as_tensor()).unwrap(), Some(&v0))
        .unwrap();
    let loss = (s1 + v1).unwrap().sum_all().unwrap();
    let g = scalar(loss.backward().unwrap().get(w.as_tensor()).unwrap());
    let sg = 1.0 / (1.0 + (std::f64::consts::PI * 0.35).powi(2));
    let want = (sg + 1.0) * 0.65;
    assert!((g - want).abs() < 1e-5, "dL/dw = {g}, want {want}");

    // Same with a spike at t0 (u0 = 2.4: h0 = 1.2) under the detached hard reset: v0 = 0, and
    // dv0/dw = 0, so dh1/dw = 0.25 and dL/dw = (surrogate(0.25) + 1) * 0.25.
    let (s0, v0) = n
        .step(&(tensor(&[2.4], &[1]) * w.as_tensor()).unwrap(), None)
        .unwrap();
    assert_eq!(values(&s0), vec![1.0]);
    let (s1, v1) = n
        .step(&(tensor(&[0.5], &[1]) * w.as_tensor()).unwrap(), Some(&v0))
        .unwrap();
    let loss = (s1 + v1).unwrap().sum_all().unwrap();
    let g = scalar(loss.backward().unwrap().get(w.as_tensor()).unwrap());
    let sg = 1.0 / (1.0 + (std::f64::consts::PI * 0.75).powi(2));
    let want = (sg + 1.0) * 0.25;
    assert!(
        (g - want).abs() < 1e-5,
        "dL/dw after a detached reset = {g}, want {want}"
    );
}
