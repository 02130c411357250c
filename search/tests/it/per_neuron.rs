//! Per-channel and per-neuron neuron parameters in the Candle forward: a layer's step against
//! `ir::SpikingAt` / `ir::IntegratorAt` arithmetic in f32, neuron by neuron and bit for bit; a
//! network with a per-channel `[C, 1, 1]` beta against both reference interpreters; where the
//! values live (buffers of the model's store) and what happens without them.

use crate::common::*;
use candle_core::{Device, Tensor};
use snnc_compiler::ir::{IntegratorAt, SpikingAt};
use snnc_compiler::network::{
    Compare, IntegratorParams, NeuronParams, ParamSource, Reset, Shape, Tensor as NetTensor,
    Weights, integrator_values, neuron_values,
};
use snnc_compiler::reference::{run_module, run_network};
use snnc_datasets::transform::Rng;
use snnc_search::init::InitScheme;
use snnc_search::model::SnnModel;
use snnc_search::neuron::{LeakyIntegrator, Neuron, NeuronState};

/// The population every layer test runs: `[C, H, W]`.
const POPULATION: [usize; 3] = [3, 2, 2];
const NEURONS: usize = 12;
const BATCH: usize = 4;
const STEPS: usize = 10;

fn named(name: &str) -> Option<ParamSource> {
    Some(ParamSource::Tensor(name.to_string()))
}

/// Values uniform in `[lo, hi)` in a tensor of `shape`.
fn drawn(rng: &mut Rng, shape: &[usize], lo: f32, hi: f32) -> NetTensor {
    let n = shape.iter().product();
    NetTensor::new(shape.to_vec(), uniform(rng, n, lo, hi))
}

/// Neuron `i` of a spiking layer in f32, operation for operation as `ir::SpikingAt` states it
/// (the current first, `rest + beta (v - rest) + gain x`, the pending delayed reset, fire,
/// reset, the `v_min` bound): returns the new membrane and current and whether it fired.
fn spiking_at_f32(at: &SpikingAt, v: f32, i: f32, x: f32) -> (f32, f32, bool) {
    let f = |p: f64| p as f32;
    let threshold = f(at.threshold);
    let fires = |u: f32| match at.fire {
        Compare::Ge => u >= threshold,
        Compare::Gt => u > threshold,
    };
    let (i, drive) = match at.synapse {
        Some(s) => {
            let i = f(s.alpha) * i + f(s.w_in) * x;
            (i, i)
        }
        None => (i, x),
    };
    let rest = f(at.rest());
    let mut u = rest + f(at.beta) * (v - rest) + f(at.gain) * drive;
    if at.reset.is_delayed() && fires(v) {
        u = match at.reset {
            Reset::SubtractNext => u - threshold,
            _ => f(at.v_reset),
        };
    }
    let fired = fires(u);
    let mut v = match at.reset {
        Reset::Hard if fired => f(at.v_reset),
        Reset::Subtract if fired => u - threshold,
        _ => u,
    };
    if let Some(lo) = at.v_min {
        let above = v - f(lo);
        v = (if above > 0.0 { above } else { 0.0 }) + f(lo);
    }
    (v, i, fired)
}

/// Neuron `i` of a leaky integrator in f32 as `ir::IntegratorAt::step` states it.
fn integrator_at_f32(at: &IntegratorAt, v: f32, i: f32, x: f32) -> (f32, f32) {
    let f = |p: f64| p as f32;
    let (i, drive) = match at.synapse {
        Some(s) => {
            let i = f(s.alpha) * i + f(s.w_in) * x;
            (i, i)
        }
        None => (i, x),
    };
    let rest = f(at.rest);
    (rest + f(at.beta) * (v - rest) + f(at.gain) * drive, i)
}

/// `BATCH` samples of inputs for `STEPS` steps.
fn inputs(rng: &mut Rng) -> Vec<Vec<f32>> {
    (0..STEPS)
        .map(|_| uniform(rng, BATCH * NEURONS, -0.5, 2.0))
        .collect()
}

fn batch_dims() -> Vec<usize> {
    std::iter::once(BATCH).chain(POPULATION).collect()
}

/// One spiking layer's fields: `(what, params, weights)`.
fn spiking_cases(rng: &mut Rng) -> Vec<(String, NeuronParams, Weights)> {
    let mut cases = Vec::new();
    let resets = [
        Reset::Hard,
        Reset::Subtract,
        Reset::SubtractNext,
        Reset::ZeroNext,
        Reset::None,
    ];
    for (r, reset) in resets.into_iter().enumerate() {
        for detach_reset in [true, false] {
            for cuba in [false, true] {
                let variant = r * 4 + usize::from(detach_reset) * 2 + usize::from(cuba);
                let mut w = Weights::default();
                let mut add = |name: &str, t: NetTensor| {
                    w.tensors.insert(name.to_string(), t);
                };
                // The leak per channel ([C, 1, 1] beta or [C] tau) or per neuron, alternating.
                let (tau, beta) = match variant % 3 {
                    0 => {
                        add("l.beta", drawn(rng, &[3, 1, 1], 0.5, 0.95));
                        (None, named("l.beta"))
                    }
                    1 => {
                        add("l.tau", drawn(rng, &[3], 2.0, 10.0));
                        (named("l.tau"), None)
                    }
                    _ => {
                        add("l.beta", drawn(rng, &POPULATION, 0.5, 0.95));
                        (None, named("l.beta"))
                    }
                };
                add("l.threshold", drawn(rng, &POPULATION, 0.8, 1.2));
                add("l.v_reset", drawn(rng, &[3], -0.2, 0.0));
                let v_leak = if variant % 2 == 0 {
                    add("l.v_leak", drawn(rng, &POPULATION, -0.1, 0.1));
                    named("l.v_leak")
                } else {
                    None
                };
                let v_min = if variant % 4 < 2 {
                    add("l.v_min", drawn(rng, &POPULATION, -0.6, -0.3));
                    named("l.v_min")
                } else {
                    None
                };
                let (alpha, tau_syn, w_in) = if cuba {
                    add("l.w_in", drawn(rng, &POPULATION, 0.5, 1.5));
                    if variant % 3 == 0 {
                        add("l.tau_syn", drawn(rng, &[3], 2.0, 6.0));
                        (None, named("l.tau_syn"), named("l.w_in"))
                    } else {
                        add("l.alpha", drawn(rng, &POPULATION, 0.5, 0.9));
                        (named("l.alpha"), None, named("l.w_in"))
                    }
                } else {
                    (None, None, None)
                };
                let p = NeuronParams {
                    tau,
                    beta,
                    threshold: ParamSource::Tensor("l.threshold".into()),
                    v_reset: ParamSource::Tensor("l.v_reset".into()),
                    v_leak,
                    v_min,
                    reset,
                    compare: if variant % 2 == 0 {
                        Compare::Ge
                    } else {
                        Compare::Gt
                    },
                    decay_input: variant % 3 != 2,
                    detach_reset,
                    alpha,
                    tau_syn,
                    w_in,
                    ..NeuronParams::with_tau(2.0)
                };
                let what = format!("{reset:?} detach={detach_reset} cuba={cuba} {p:?}");
                cases.push((what, p, w));
            }
        }
    }
    cases
}

#[test]
fn a_per_neuron_spiking_layer_steps_as_the_ir_states_it_bit_for_bit() {
    let mut rng = Rng::new(18);
    let shape = Shape(POPULATION.to_vec());
    let device = Device::Cpu;
    let mut fired = 0usize;
    for (what, p, weights) in spiking_cases(&mut rng) {
        let kind = if p.has_synapse() { "cuba_lif" } else { "lif" };
        let resolved = neuron_values("l", kind, &p, &shape, &weights).expect("valid values");
        let neuron = Neuron::resolved(p.clone(), &resolved, &POPULATION, &device).unwrap();
        let at: Vec<SpikingAt> = (0..NEURONS)
            .map(|i| resolved.at(i, p.reset, p.compare))
            .collect();
        let mut state = NeuronState::default();
        let mut v: Vec<f32> = (0..BATCH * NEURONS)
            .map(|e| at[e % NEURONS].v_reset as f32)
            .collect();
        let mut current = [0f32; BATCH * NEURONS];
        for (t, x) in inputs(&mut rng).iter().enumerate() {
            let s = neuron
                .advance(&tensor(x, &batch_dims()), &mut state)
                .unwrap();
            let (s, membrane) = (values(&s), values(state.membrane.as_ref().unwrap()));
            let candle_current = state.current.as_ref().map(values);
            for e in 0..BATCH * NEURONS {
                let (v_new, i_new, spike) =
                    spiking_at_f32(&at[e % NEURONS], v[e], current[e], x[e]);
                assert_eq!(
                    s[e],
                    if spike { 1.0 } else { 0.0 },
                    "{what}: spike of element {e} at t={t}"
                );
                assert_eq!(
                    membrane[e].to_bits(),
                    v_new.to_bits(),
                    "{what}: membrane of element {e} at t={t}: {} vs the IR's {v_new}",
                    membrane[e]
                );
                if let Some(c) = &candle_current {
                    assert_eq!(c[e].to_bits(), i_new.to_bits(), "{what}: current {e} t={t}");
                }
                fired += usize::from(spike);
                (v[e], current[e]) = (v_new, i_new);
            }
        }
    }
    assert!(fired > 2000, "the layers should fire ({fired} spikes)");
}

#[test]
fn a_per_neuron_integrator_steps_as_the_ir_states_it_bit_for_bit() {
    let mut rng = Rng::new(19);
    let shape = Shape(POPULATION.to_vec());
    for variant in 0..4 {
        let mut w = Weights::default();
        let (tau, beta) = if variant % 2 == 0 {
            w.tensors
                .insert("o.beta".into(), drawn(&mut rng, &[3, 1, 1], 0.5, 0.95));
            (None, named("o.beta"))
        } else {
            w.tensors
                .insert("o.tau".into(), drawn(&mut rng, &POPULATION, 2.0, 10.0));
            (named("o.tau"), None)
        };
        w.tensors
            .insert("o.v_leak".into(), drawn(&mut rng, &POPULATION, -0.1, 0.1));
        let cuba = variant >= 2;
        if cuba {
            w.tensors
                .insert("o.tau_syn".into(), drawn(&mut rng, &POPULATION, 2.0, 6.0));
            w.tensors
                .insert("o.w_in".into(), drawn(&mut rng, &[3], 0.5, 1.5));
        }
        let p = IntegratorParams {
            tau,
            beta,
            decay_input: variant == 1,
            v_leak: named("o.v_leak"),
            alpha: None,
            tau_syn: cuba.then(|| named("o.tau_syn")).flatten(),
            w_in: cuba.then(|| named("o.w_in")).flatten(),
        };
        let resolved = integrator_values("o", &p, &shape, &w).expect("valid values");
        let li = LeakyIntegrator::resolved(&resolved, &POPULATION, &Device::Cpu).unwrap();
        let at: Vec<IntegratorAt> = (0..NEURONS).map(|i| resolved.at(i)).collect();
        let mut state = NeuronState::default();
        let mut v: Vec<f32> = (0..BATCH * NEURONS)
            .map(|e| at[e % NEURONS].rest as f32)
            .collect();
        let mut current = [0f32; BATCH * NEURONS];
        for (t, x) in inputs(&mut rng).iter().enumerate() {
            let out = values(&li.advance(&tensor(x, &batch_dims()), &mut state).unwrap());
            for e in 0..BATCH * NEURONS {
                let (v_new, i_new) = integrator_at_f32(&at[e % NEURONS], v[e], current[e], x[e]);
                assert_eq!(
                    out[e].to_bits(),
                    v_new.to_bits(),
                    "variant {variant}: membrane of element {e} at t={t}: {} vs {v_new}",
                    out[e]
                );
                (v[e], current[e]) = (v_new, i_new);
            }
        }
    }
}

#[test]
fn gradients_pass_a_per_neuron_layer_with_per_neuron_factors_and_thresholds() {
    // Below its thresholds with no reset, v3 = x (1 + beta + beta^2) per neuron (gain 1).
    let betas = [0.5f32, 0.75, 0.25, 0.9];
    let mut w = Weights::default();
    w.tensors
        .insert("l.beta".into(), NetTensor::new(vec![4], betas.to_vec()));
    w.tensors.insert(
        "l.threshold".into(),
        NetTensor::new(vec![4], vec![50.0, 60.0, 70.0, 80.0]),
    );
    let p = NeuronParams {
        tau: None,
        beta: named("l.beta"),
        threshold: ParamSource::Tensor("l.threshold".into()),
        decay_input: false,
        reset: Reset::None,
        ..NeuronParams::with_tau(2.0)
    };
    let shape = Shape(vec![4]);
    let resolved = neuron_values("l", "lif", &p, &shape, &w).unwrap();
    let neuron = Neuron::resolved(p, &resolved, &[4], &Device::Cpu).unwrap();
    let x = var(&[0.5, 0.25, 1.0, 2.0], &[1, 4]);
    let mut state = NeuronState::default();
    for _ in 0..3 {
        neuron.advance(x.as_tensor(), &mut state).unwrap();
    }
    let v = state.membrane.unwrap().sum_all().unwrap();
    let grads = v.backward().unwrap();
    let got = values(grads.get(x.as_tensor()).expect("a gradient reaches x"));
    let want: Vec<f64> = betas
        .iter()
        .map(|&b| 1.0 + f64::from(b) + f64::from(b) * f64::from(b))
        .collect();
    assert_all_close(&got, &want, 1e-6, "dv3/dx per neuron");

    // The surrogate is centred on each neuron's own threshold: the first step's spike of
    // h = x has gradient alpha/2 / (1 + (pi/2 alpha (x - threshold_i))^2).
    let thresholds = [0.5f32, 1.0, 1.5, 2.0];
    w.tensors.insert(
        "l.threshold".into(),
        NetTensor::new(vec![4], thresholds.to_vec()),
    );
    let p = NeuronParams {
        tau: None,
        beta: named("l.beta"),
        threshold: ParamSource::Tensor("l.threshold".into()),
        decay_input: false,
        ..NeuronParams::with_tau(2.0)
    };
    let resolved = neuron_values("l", "lif", &p, &shape, &w).unwrap();
    let neuron = Neuron::resolved(p, &resolved, &[4], &Device::Cpu).unwrap();
    let x = var(&[1.0, 1.0, 1.0, 1.0], &[1, 4]);
    let s = neuron
        .advance(x.as_tensor(), &mut NeuronState::default())
        .unwrap();
    assert_eq!(
        values(&s),
        vec![1.0, 1.0, 0.0, 0.0],
        "x = 1 against 0.5, 1, 1.5, 2"
    );
    let grads = s.sum_all().unwrap().backward().unwrap();
    let got = values(grads.get(x.as_tensor()).unwrap());
    let want: Vec<f64> = thresholds
        .iter()
        .map(|&th| {
            let z = std::f64::consts::FRAC_PI_2 * 2.0 * (1.0 - f64::from(th));
            1.0 / (1.0 + z * z)
        })
        .collect();
    assert_all_close(&got, &want, 1e-6, "surrogate per threshold");
}

/// A conv network whose `lif1` leaks per channel (`lif1.beta`, written `[C, 1, 1]` as snnTorch
/// stores a conv layer's beta) and fires at per-neuron thresholds.
const PER_CHANNEL: &str = r#"{
  "format_version": 1, "name": "per-channel-beta", "timesteps": 8, "num_classes": 10,
  "input": { "shape": [2, 6, 6], "encoding": "direct" },
  "readout": { "node": "fc", "kind": "time_mean" },
  "nodes": [
    { "name": "input", "op": "input" },
    { "name": "conv1", "op": "conv2d", "in_channels": 2, "out_channels": 4, "kernel": 3, "bias": true },
    { "name": "lif1", "op": "lif", "beta": "lif1.beta", "threshold": "lif1.threshold", "decay_input": false, "reset": "subtract" },
    { "name": "flatten", "op": "flatten" },
    { "name": "fc", "op": "linear", "in_features": 64, "out_features": 10, "bias": true }
  ],
  "edges": [
    { "from": "input", "to": "conv1" }, { "from": "conv1", "to": "lif1" },
    { "from": "lif1", "to": "flatten" }, { "from": "flatten", "to": "fc" }
  ]
}"#;

fn per_channel_weights(seed: u64) -> (snnc_compiler::network::Network, Weights) {
    let net = network(PER_CHANNEL);
    let mut weights = snnc_compiler::synth::weights(&net, seed);
    let mut rng = Rng::new(seed);
    weights
        .tensors
        .insert("lif1.beta".into(), drawn(&mut rng, &[4, 1, 1], 0.3, 0.95));
    (net, weights)
}

/// Logits and `lif1`'s spikes per sample and step of a Candle model in eval mode.
fn candle_run(model: &SnnModel, x: &[Vec<f32>]) -> (Vec<Vec<f32>>, Vec<Vec<u64>>) {
    let lif1 = 2;
    let flat: Vec<f32> = x.concat();
    let input = tensor(&flat, &[x.len(), 2, 6, 6]);
    let mut spikes = vec![Vec::new(); x.len()];
    let mut record = |id: usize, _t: usize, out: &Tensor| {
        if id == lif1 {
            let per_sample: Vec<f32> = out.flatten_from(1)?.sum(1)?.to_vec1()?;
            for (s, c) in per_sample.into_iter().enumerate() {
                spikes[s].push(c as u64);
            }
        }
        Ok(())
    };
    let out = model
        .forward_with_hook(&input, false, &mut Rng::new(0), &mut record)
        .unwrap();
    (out.readout.to_vec2().unwrap(), spikes)
}

#[test]
fn a_network_with_per_channel_beta_evaluates_like_the_reference() {
    let (net, weights) = per_channel_weights(5);
    let x = snnc_compiler::synth::inputs(&net, 8, 3);
    let model = SnnModel::from_weights(net.clone(), &weights, &Device::Cpu).unwrap();
    let (logits, spikes) = candle_run(&model, &x);
    let graph = run_network(&net, &weights, &x).unwrap();
    let module = snnc_compiler::lower::lower(&net, weights.clone()).unwrap();
    let lowered = run_module(&module, &x).unwrap();
    let optimised = run_module(&snnc_compiler::passes::optimise(module), &x).unwrap();
    let total: u64 = spikes.iter().flatten().sum();
    assert!(total > 100, "lif1 should fire ({total} spikes)");
    for (stage, reference) in [
        ("network", &graph),
        ("lowered", &lowered),
        ("optimised", &optimised),
    ] {
        let layer = reference.layers.iter().position(|l| l == "lif1").unwrap();
        for (s, per_step) in spikes.iter().enumerate() {
            assert_eq!(
                per_step, &reference.spikes[s][layer],
                "{stage}: lif1's spikes per step in sample {s}"
            );
        }
        for (s, row) in logits.iter().enumerate() {
            let got: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
            assert_rel_f64(
                &got,
                &reference.logits[s],
                1e-5,
                1.0,
                &format!("{stage}: logits of sample {s}"),
            );
        }
    }
}

#[test]
fn per_neuron_parameters_are_buffers_of_the_store_and_reload_with_the_weights() {
    let (net, weights) = per_channel_weights(5);
    let mut model = SnnModel::from_weights(net.clone(), &weights, &Device::Cpu).unwrap();
    let (_, beta, trainable) = model
        .params
        .all()
        .find(|(name, _, _)| name.as_str() == "lif1.beta")
        .expect("the store holds lif1.beta");
    assert!(!trainable, "per-neuron parameters are not trained");
    assert_eq!(beta.dims(), [4, 1, 1], "kept at the shape the weights give");
    let saved = model.params.to_weights().unwrap();
    assert_eq!(saved.get("lif1.beta"), weights.get("lif1.beta"));
    assert_eq!(saved.get("lif1.threshold"), weights.get("lif1.threshold"));

    // Loading other weights rebuilds the layer from their values.
    let (_, other) = per_channel_weights(6);
    model.load_weights(&other).unwrap();
    let x = snnc_compiler::synth::inputs(&net, 4, 3);
    let fresh = SnnModel::from_weights(net.clone(), &other, &Device::Cpu).unwrap();
    assert_eq!(candle_run(&model, &x), candle_run(&fresh, &x));
}

#[test]
fn a_model_without_its_per_neuron_values_fails_naming_the_tensor() {
    let net = network(PER_CHANNEL);
    let err = SnnModel::new(net, InitScheme::Pytorch, 0, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lif1") && err.contains("`lif1.beta`") && err.contains("beta"),
        "{err}"
    );
}
