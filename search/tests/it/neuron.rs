//! LIF, PLIF and current-based LIF forward sequences against hand-computed membranes and spikes.

use crate::common::*;
use candle_core::{Tensor, Var};
use snnc_compiler::network::{Compare, NeuronParams, Reset};
use snnc_search::device::ComputeDevice;
use snnc_search::neuron::{Leak, Neuron, NeuronState};

/// Run `neuron` over a sequence of inputs (each of `dims`); returns per-step (spikes, membranes).
fn run(neuron: &Neuron, inputs: &[Vec<f32>], dims: &[usize]) -> Vec<(Vec<f32>, Vec<f32>)> {
    let mut v: Option<Tensor> = None;
    let mut out = Vec::new();
    for x in inputs {
        let (s, v_new) = neuron.step(&tensor(x, dims), v.as_ref()).expect("step");
        assert_eq!(s.dims(), dims, "spike shape");
        assert_eq!(v_new.dims(), dims, "membrane shape");
        out.push((values(&s), values(&v_new)));
        v = Some(v_new);
    }
    out
}

/// A scalar sequence: (spikes, membranes) per step.
fn run1(neuron: &Neuron, xs: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let inputs: Vec<Vec<f32>> = xs.iter().map(|&x| vec![x]).collect();
    let steps = run(neuron, &inputs, &[1]);
    (
        steps.iter().map(|(s, _)| s[0]).collect(),
        steps.iter().map(|(_, v)| v[0]).collect(),
    )
}

fn params(tau: f64, f: impl FnOnce(&mut NeuronParams)) -> NeuronParams {
    let mut p = lif_params(tau);
    f(&mut p);
    p
}

fn plif(p: NeuronParams, w: f64) -> Neuron {
    Neuron::plif(
        p,
        Var::from_tensor(&Tensor::new(w as f32, &ComputeDevice::cpu()).unwrap()).unwrap(),
    )
}

#[test]
fn lif_tau_four_thirds_hard_reset_sequence() {
    // SNASNet's LIF: v <- 0.25 v + 0.75 x, threshold 1, hard reset to 0.
    let n = Neuron::lif(lif_params(4.0 / 3.0));
    match n.leak {
        Leak::Fixed { beta, gain, k } => {
            assert!((k - 0.75).abs() < 1e-12, "k = {k}");
            assert_eq!((beta, gain), (1.0 - k, k));
        }
        Leak::Learned(_) | Leak::PerNeuron(_) => panic!("lif must have a fixed leak"),
    }
    let (s, v) = run1(&n, &[0.8, 0.8, 0.8, 2.0]);
    assert_eq!(s, vec![0.0, 0.0, 0.0, 1.0]);
    assert_all_close(&v, &[0.6, 0.75, 0.7875, 0.0], 1e-6, "membranes");
    // After the reset the neuron starts from 0 again: h = 0.75 * 0.8 = 0.6.
    let (s, v) = run1(&n, &[0.8, 0.8, 0.8, 2.0, 0.8]);
    assert_eq!(s[4], 0.0);
    assert!(
        (v[4] - 0.6).abs() < 1e-6,
        "membrane after reset then 0.8: {}",
        v[4]
    );
}

#[test]
fn lif_multi_element_tensor_each_element_independent() {
    // Six neurons in a [2, 3] tensor, three steps, tau = 2 (v <- 0.5 v + 0.5 x).
    let n = Neuron::lif(lif_params(2.0));
    let inputs = vec![
        vec![2.5, 0.4, 1.0, -1.0, 2.0, 0.0],
        vec![0.2, 1.6, 1.0, 3.0, 2.0, 0.0],
        vec![2.0, 1.6, 1.0, 0.6, 0.2, 4.0],
    ];
    let steps = run(&n, &inputs, &[2, 3]);
    // Hand values: element by element.
    //  e0: h 1.25 spike -> 0; h 0.1; h 0.05+1.0 = 1.05 spike -> 0
    //  e1: h 0.2; h 0.1+0.8 = 0.9; h 0.45+0.8 = 1.25 spike -> 0
    //  e2: h 0.5; 0.75; 0.875
    //  e3: h -0.5; -0.25+1.5 = 1.25 spike -> 0; 0.3
    //  e4: h 1.0 spike (>=) -> 0; 1.0 spike -> 0; 0.1
    //  e5: 0; 0; 2.0 spike -> 0
    let want_s = [
        [1., 0., 0., 0., 1., 0.],
        [0., 0., 0., 1., 1., 0.],
        [1., 1., 0., 0., 0., 1.],
    ];
    let want_v = [
        [0.0, 0.2, 0.5, -0.5, 0.0, 0.0],
        [0.1, 0.9, 0.75, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.875, 0.3, 0.1, 0.0],
    ];
    for t in 0..3 {
        assert_eq!(steps[t].0, want_s[t].to_vec(), "spikes at t={t}");
        assert_all_close(
            &steps[t].1,
            &want_v[t],
            1e-6,
            &format!("membranes at t={t}"),
        );
    }
}

#[test]
fn subtract_reset_keeps_the_excess() {
    // tau = 2, x = [3.0, 0.4, 0.4]: h = 1.5 -> spike, v = 0.5; h = 0.25 + 0.2 = 0.45; h = 0.225 + 0.2 = 0.425.
    let p = params(2.0, |p| p.reset = Reset::Subtract);
    let (s, v) = run1(&Neuron::lif(p.clone()), &[3.0, 0.4, 0.4]);
    assert_eq!(s, vec![1.0, 0.0, 0.0]);
    assert_all_close(&v, &[0.5, 0.45, 0.425], 1e-6, "subtract-reset membranes");
    // Hard reset on the same input would give 0, 0.2, 0.3: the two must differ.
    let (_, vh) = run1(&Neuron::lif(lif_params(2.0)), &[3.0, 0.4, 0.4]);
    assert_all_close(&vh, &[0.0, 0.2, 0.3], 1e-6, "hard-reset membranes");
    // The undetached variant computes the same forward values.
    let p2 = NeuronParams {
        detach_reset: false,
        ..p
    };
    let (s2, v2) = run1(&Neuron::lif(p2), &[3.0, 0.4, 0.4]);
    assert_eq!(s2, s);
    assert_all_close(
        &v2,
        &[0.5, 0.45, 0.425],
        1e-6,
        "undetached subtract-reset membranes",
    );
}

#[test]
fn compare_ge_fires_at_threshold_gt_does_not() {
    // tau = 2, x = 2.0 -> h = 1.0 exactly, at the first step (affine path) ...
    let ge = Neuron::lif(lif_params(2.0));
    let gt = Neuron::lif(params(2.0, |p| p.compare = Compare::Gt));
    let (s, v) = run1(&ge, &[2.0]);
    assert_eq!((s[0], v[0]), (1.0, 0.0));
    let (s, v) = run1(&gt, &[2.0]);
    assert_eq!((s[0], v[0]), (0.0, 1.0));
    // ... and at later steps (fused charge path): v = 1.0, x = 1.0 -> h = 1.0 again; then x = 1.2 -> 1.1.
    let (s, v) = run1(&gt, &[2.0, 1.0, 1.2]);
    assert_eq!(s, vec![0.0, 0.0, 1.0]);
    assert_all_close(&v, &[1.0, 1.0, 0.0], 0.0, "gt membranes");
    let (s, _) = run1(&ge, &[0.0, 2.0]);
    assert_eq!(s, vec![0.0, 1.0], "ge at h == threshold on the fused path");
    // PLIF obeys the comparison too: w = 0 -> k = 0.5.
    let (s, _) = run1(
        &plif(params(2.0, |p| p.compare = Compare::Gt), 0.0),
        &[2.0, 1.0],
    );
    assert_eq!(s, vec![0.0, 0.0]);
    let (s, _) = run1(&plif(lif_params(2.0), 0.0), &[2.0]);
    assert_eq!(s, vec![1.0]);
}

#[test]
fn decay_input_false_adds_the_whole_input() {
    // h = (1 - 1/tau) v + x with tau = 2: 0.6, 0.3 + 0.6 = 0.9, 0.45 + 0.6 = 1.05 -> spike.
    let p = params(2.0, |p| p.decay_input = false);
    let (s, v) = run1(&Neuron::lif(p.clone()), &[0.6, 0.6, 0.6, 0.6]);
    assert_eq!(s, vec![0.0, 0.0, 1.0, 0.0]);
    assert_all_close(
        &v,
        &[0.6, 0.9, 0.0, 0.6],
        1e-6,
        "decay_input=false membranes",
    );
    // The same with a learned leak at k = 0.5 (w = 0).
    let (s, v) = run1(&plif(p, 0.0), &[0.6, 0.6, 0.6, 0.6]);
    assert_eq!(s, vec![0.0, 0.0, 1.0, 0.0]);
    assert_all_close(
        &v,
        &[0.6, 0.9, 0.0, 0.6],
        1e-6,
        "plif decay_input=false membranes",
    );
}

#[test]
fn nonzero_v_reset() {
    // v_reset = -0.5, tau = 2, decay_input: h = v + (x - (v + 0.5)) / 2, starting at v = -0.5.
    //  x = 1: h = -0.5 + 0.5 = 0.0; x = 1: h = 0 + 0.5 (1 - 0.5) = 0.25;
    //  x = 3: h = 0.25 + 0.5 (3 - 0.75) = 1.375 -> spike, v = -0.5; x = 1: h = -0.5 + 0.5 = 0.0.
    let p = params(2.0, |p| p.v_reset = (-0.5).into());
    let xs = [1.0, 1.0, 3.0, 1.0];
    let (s, v) = run1(&Neuron::lif(p.clone()), &xs);
    assert_eq!(s, vec![0.0, 0.0, 1.0, 0.0]);
    assert_all_close(&v, &[0.0, 0.25, -0.5, 0.0], 1e-6, "v_reset=-0.5 membranes");
    let (s, v) = run1(&plif(p.clone(), 0.0), &xs);
    assert_eq!(s, vec![0.0, 0.0, 1.0, 0.0]);
    assert_all_close(
        &v,
        &[0.0, 0.25, -0.5, 0.0],
        1e-6,
        "plif v_reset=-0.5 membranes",
    );
    // Without input decay: h = v - (v + 0.5)/2 + x. x = 0.2: h = -0.5 + 0.2 = -0.3;
    //  x = 0.5: h = -0.3 - 0.1 + 0.5 = 0.1; x = 1.5: h = 0.1 - 0.3 + 1.5 = 1.3 -> spike -> -0.5.
    let p2 = NeuronParams {
        decay_input: false,
        ..p.clone()
    };
    let (s, v) = run1(&Neuron::lif(p2), &[0.2, 0.5, 1.5]);
    assert_eq!(s, vec![0.0, 0.0, 1.0]);
    assert_all_close(
        &v,
        &[-0.3, 0.1, -0.5],
        1e-6,
        "v_reset=-0.5 without input decay",
    );
    // Subtract reset ignores v_reset for the reset itself: 1.375 - 1 = 0.375.
    let p3 = NeuronParams {
        reset: Reset::Subtract,
        ..p
    };
    let (s, v) = run1(&Neuron::lif(p3), &xs[..3]);
    assert_eq!(s, vec![0.0, 0.0, 1.0]);
    assert_all_close(&v, &[0.0, 0.25, 0.375], 1e-6, "v_reset=-0.5 subtract reset");
}

#[test]
fn plif_w0_helper() {
    assert_eq!(Neuron::plif_w0(2.0), 0.0);
    let w = Neuron::plif_w0(4.0 / 3.0);
    assert!((w - 3f64.ln()).abs() < 1e-12, "w0(4/3) = {w}, want ln 3");
    assert!((sigmoid(w) - 0.75).abs() < 1e-12);
    for tau in [1.5, 2.0, 3.0, 10.0] {
        assert!(
            (sigmoid(Neuron::plif_w0(tau)) - 1.0 / tau).abs() < 1e-12,
            "sigmoid(w0({tau})) != 1/tau"
        );
    }
}

#[test]
fn plif_with_w_zero_and_ln3() {
    // w = ln 3 -> k = 0.75: the same sequence as the tau = 4/3 LIF.
    let n = plif(lif_params(4.0 / 3.0), 3f64.ln());
    let (s, v) = run1(&n, &[0.8, 0.8, 0.8, 2.0]);
    assert_eq!(s, vec![0.0, 0.0, 0.0, 1.0]);
    assert_all_close(&v, &[0.6, 0.75, 0.7875, 0.0], 1e-6, "plif k=0.75 membranes");
    // w = 0 -> k = 0.5 on a [2, 2] tensor: must equal the tau = 2 LIF step for step.
    let inputs = vec![
        vec![2.5, 0.4, 1.0, -1.0],
        vec![0.2, 1.6, 1.0, 3.0],
        vec![2.0, 1.6, 1.0, 0.6],
    ];
    let a = run(&plif(lif_params(2.0), 0.0), &inputs, &[2, 2]);
    let b = run(&Neuron::lif(lif_params(2.0)), &inputs, &[2, 2]);
    for t in 0..3 {
        assert_eq!(a[t].0, b[t].0, "spikes at t={t}");
        assert!(
            max_abs_diff(&a[t].1, &b[t].1) < 1e-6,
            "membranes at t={t}: {:?} vs {:?}",
            a[t].1,
            b[t].1
        );
    }
    // Hand numbers for the first two elements (see the LIF multi-element test).
    assert_all_close(&a[2].1[..2], &[0.0, 0.0], 1e-6, "plif membranes at t=2");
    assert_all_close(&a[1].1[..2], &[0.1, 0.9], 1e-6, "plif membranes at t=1");
    // A leak that is not 1/tau of the params: w = ln(1/3) -> k = 0.25 (the params' tau is ignored).
    let (s, v) = run1(
        &plif(lif_params(2.0), (1.0f64 / 3.0).ln()),
        &[2.0, 2.0, 2.0],
    );
    // h = 0.5; 0.375 + 0.5 = 0.875; 0.65625 + 0.5 = 1.15625 -> spike.
    assert_eq!(s, vec![0.0, 0.0, 1.0]);
    assert_all_close(&v, &[0.5, 0.875, 0.0], 1e-6, "plif k=0.25 membranes");
}

#[test]
fn random_sequences_match_the_f64_reference() {
    // Every parameter combination over 6 steps on 40 neurons, against the reference in common.
    let mut rng = snnc_datasets::transform::Rng::new(11);
    let mut checked_spikes = 0usize;
    for &tau in &[4.0 / 3.0, 2.0, 5.0] {
        for reset in [Reset::Hard, Reset::Subtract] {
            for decay_input in [true, false] {
                for v_reset in [0.0, -0.3] {
                    for detach_reset in [true, false] {
                        let p = NeuronParams {
                            reset,
                            decay_input,
                            v_reset: v_reset.into(),
                            detach_reset,
                            ..lif_params(tau)
                        };
                        let inputs: Vec<Vec<f32>> =
                            (0..6).map(|_| uniform(&mut rng, 40, -0.5, 2.0)).collect();
                        for learned in [false, true] {
                            let (n, k) = if learned {
                                (plif(p.clone(), 0.4), sigmoid(0.4))
                            } else {
                                (Neuron::lif(p.clone()), 1.0 / tau)
                            };
                            let steps = run(&n, &inputs, &[4, 10]);
                            let mut v = vec![v_reset; 40];
                            for (t, x) in inputs.iter().enumerate() {
                                for i in 0..40 {
                                    let (h, s, vn) = ref_step(&p, k, v[i], x[i] as f64);
                                    if (h - p.threshold.number().unwrap()).abs() < 1e-4 {
                                        // Too close to call in f32: skip this element's comparison.
                                        v[i] = steps[t].1[i] as f64;
                                        continue;
                                    }
                                    assert_eq!(
                                        steps[t].0[i] as f64, s,
                                        "spike {p:?} learned={learned} t={t} i={i} h={h}"
                                    );
                                    assert!(
                                        (steps[t].1[i] as f64 - vn).abs() < 1e-5,
                                        "membrane {p:?} t={t} i={i}"
                                    );
                                    checked_spikes += s as usize;
                                    v[i] = steps[t].1[i] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        checked_spikes > 1000,
        "the random inputs should make neurons fire ({checked_spikes})"
    );
}

/// A current-based LIF (snnTorch `Synaptic` style: `beta`, no input decay) with the given
/// current decay and input factor.
fn cuba(alpha: f64, w_in: Option<f64>, f: impl FnOnce(&mut NeuronParams)) -> Neuron {
    let mut p = NeuronParams {
        tau: None,
        beta: Some(0.5.into()),
        decay_input: false,
        alpha: Some(alpha.into()),
        w_in: w_in.map(Into::into),
        ..lif_params(2.0)
    };
    f(&mut p);
    let synapse = Neuron::synapse_of(&p).expect("alpha gives a synapse");
    Neuron::cuba_lif(p, synapse)
}

/// Run `neuron` as the model does (`advance` on its own state) over a scalar sequence: spikes,
/// membranes and currents per step.
fn run_cuba(neuron: &Neuron, xs: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut state = NeuronState::default();
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for &x in xs {
        let s = neuron
            .advance(&tensor(&[x], &[1]), &mut state)
            .expect("step");
        out.0.push(scalar(&s) as f32);
        out.1
            .push(scalar(state.membrane.as_ref().expect("membrane")) as f32);
        out.2
            .push(scalar(state.current.as_ref().expect("current")) as f32);
    }
    out
}

#[test]
fn cuba_lif_charges_the_membrane_with_its_current() {
    // i = 0.5 i + x, then v = 0.5 v + i; `gt` at 1, delayed subtract. Every value is a dyadic
    // rational, so f32 is exact: i = .5 .75 .875 .4375 .21875; v = .5, 1 (not above 1),
    // 1.375 (fires, kept), .6875 + .4375 - 1 = .125, .0625 + .21875 = .28125. The spike leaves
    // the current alone.
    let n = cuba(0.5, None, |p| {
        p.reset = Reset::SubtractNext;
        p.compare = Compare::Gt;
    });
    let (s, v, i) = run_cuba(&n, &[0.5, 0.5, 0.5, 0.0, 0.0]);
    assert_eq!(s, vec![0.0, 0.0, 1.0, 0.0, 0.0]);
    assert_eq!(v, vec![0.5, 1.0, 1.375, 0.125, 0.28125]);
    assert_eq!(i, vec![0.5, 0.75, 0.875, 0.4375, 0.21875]);
    // A neuron without a current keeps none.
    let mut state = NeuronState::default();
    Neuron::lif(lif_params(2.0))
        .advance(&tensor(&[0.5], &[1]), &mut state)
        .unwrap();
    assert!(state.current.is_none() && state.membrane.is_some());
}

#[test]
fn cuba_lif_scales_what_enters_the_current_by_w_in() {
    // alpha = 0: the current is w_in x, so the neuron is a LIF driven by w_in x.
    let xs = [0.8, 1.6, -0.4, 2.2, 0.6];
    let (s, v, i) = run_cuba(&cuba(0.0, Some(0.5), |_| {}), &xs);
    let halved: Vec<f32> = xs.iter().map(|x| x * 0.5).collect();
    let lif = Neuron::lif(NeuronParams {
        tau: None,
        beta: Some(0.5.into()),
        decay_input: false,
        ..lif_params(2.0)
    });
    let (s_lif, v_lif) = run1(&lif, &halved);
    assert_eq!((s, v), (s_lif, v_lif));
    assert_eq!(i, halved);
}

#[test]
fn cuba_lif_gradient_flows_back_through_the_current() {
    // Below threshold with w_in = 2: i = 2x, 3x, 3.5x and v = 2x, 4x, 5.5x, so dv3/dx = 5.5.
    let n = cuba(0.5, Some(2.0), |p| {
        p.threshold = 100.0.into();
        p.reset = Reset::None;
    });
    let x = var(&[0.25], &[1]);
    let mut state = NeuronState::default();
    for _ in 0..3 {
        n.advance(x.as_tensor(), &mut state).unwrap();
    }
    let v = state.membrane.expect("membrane").sum_all().unwrap();
    assert_eq!(scalar(&v), 5.5 * 0.25);
    let grads = v.backward().unwrap();
    assert_eq!(
        scalar(grads.get(x.as_tensor()).expect("x has a gradient")),
        5.5
    );
}
