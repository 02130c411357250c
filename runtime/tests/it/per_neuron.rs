//! Per-neuron neuron parameters in the runtime: three kinds of neuron, each with its own leak,
//! threshold and reset value, in one spiking population and one integrator readout, checked
//! step by step against the arithmetic worked out by hand, the reference interpreter and every
//! SIMD build, stepping (`neuron::fire`) and precomputed (`neuron::train`) alike.

use snnc_compiler::ir::{Module, Param, PopulationKind, Tensor};
use snnc_compiler::reference::run_module;
use snnc_runtime::Plan;
use snnc_runtime::ops::Simd;
use snnc_runtime::plan::Kind;

const T: usize = 5;

/// The three kinds of spiking neuron: (beta, threshold, v_reset).
const SPIKING: [(f32, f32, f32); 3] = [(0.5, 1.5, 0.0), (0.75, 2.5, 0.5), (0.25, 0.5, -0.25)];
/// The three kinds of integrator: (beta, rest).
const INTEGRATOR: [(f32, f32); 3] = [(0.5, 0.0), (0.5, 1.0), (0.25, -1.0)];

/// By hand, input 1 at every step, `u = v_reset + beta (v - v_reset) + 1` from `v = v_reset`,
/// hard reset, `u >= threshold` fires:
/// * kind 0: u runs 1, 1.5 (fires: on the threshold), 1, 1.5 (fires), 1;
/// * kind 1: u runs 1.5, 2.25, 2.8125 (fires), 1.5, 2.25;
/// * kind 2: u is 0.75 at every step, and fires at every step.
const SPIKES: [[bool; T]; 3] = [
    [false, true, false, true, false],
    [false, false, true, false, false],
    [true; T],
];
/// Kind 0 lands on its threshold at steps 1 and 3; the others never come within the margin
/// (kind 1's 1.5 would be near kind 0's threshold: near-threshold counting is per neuron too).
const NEAR: [bool; T] = [false, true, false, true, false];
/// The integrator readout, `v = rest + beta (v - rest) + spike` from `v = rest`, its last
/// membrane: kind 0 runs 0, 1, 0.5, 1.25, 0.625; kind 1 runs 1, 1, 2, 1.5, 1.25; kind 2 runs 0,
/// 0.25, 0.3125, 0.328125, 0.33203125. All exact in binary.
const LAST_MEMBRANE: [f64; 3] = [0.625, 1.25, 0.33203125];

/// Input into one spiking population of `shape` (`direct`: its spike trains are precomputed;
/// `event_frames`: it steps), read by a same-sized membrane readout through a reshape; then
/// every parameter that differs by kind made a per-neuron tensor, neuron `i` (row-major) of
/// kind `i % 3`.
fn module(shape: &[usize], encoding: &str) -> Module {
    let n: usize = shape.iter().product();
    let dims = format!("{shape:?}");
    let text = format!(
        r#"snnir 1
module "per-neuron" timesteps={T} classes={n}
p0 = input "x" {dims} {encoding}
p1 = spiking "lif" {dims} beta=0.5 gain=1.0 threshold=1.0 v_reset=0.0 reset=hard fire=ge
p2 = readout "out" [{n}] membrane_last beta=0.5 gain=1.0 rest=0.0
e0 = identity p0 -> p1 graded
e1 = reshape p1 -> p2 binary
"#
    );
    let mut m = snnc_compiler::text::parse(&text, "per-neuron.snnir", |_| {
        Ok(snnc_compiler::network::Weights::default())
    })
    .unwrap_or_else(|e| panic!("{e}\n{text}"))
    .0;
    let mut tensor = |label: &str, shape: &[usize], value: &dyn Fn(usize) -> f32| {
        let data = (0..n).map(|i| value(i % 3)).collect();
        Param::PerNeuron(m.tensors.push(Tensor::new(label, shape.to_vec(), data)))
    };
    let beta = tensor("lif.beta", shape, &|k| SPIKING[k].0);
    let threshold = tensor("lif.threshold", shape, &|k| SPIKING[k].1);
    let v_reset = tensor("lif.v_reset", shape, &|k| SPIKING[k].2);
    let li_beta = tensor("out.beta", &[n], &|k| INTEGRATOR[k].0);
    let li_rest = tensor("out.rest", &[n], &|k| INTEGRATOR[k].1);
    for (_, p) in m.populations.iter_mut() {
        match &mut p.kind {
            PopulationKind::Spiking(s) => {
                (s.beta, s.threshold, s.v_reset) = (beta, threshold, v_reset)
            }
            PopulationKind::Readout(r) => {
                let li = r.integrator.as_mut().expect("a membrane readout");
                (li.beta, li.rest) = (li_beta, li_rest);
            }
            _ => {}
        }
    }
    m
}

/// Input 1 on every line at every step (one frame, or `T`).
fn ones(shape: &[usize], encoding: &str) -> Vec<Vec<f32>> {
    let n: usize = shape.iter().product();
    let frames = if encoding == "event_frames" { T } else { 1 };
    vec![vec![1.0; n * frames]]
}

#[test]
fn three_kinds_of_neuron_fire_and_integrate_as_worked_out_by_hand() {
    // Three neurons; then 72 as [3, 4, 6], stored channel-last and over a full 64-neuron word
    // and a partial one.
    for shape in [vec![3], vec![3, 4, 6]] {
        let n: usize = shape.iter().product();
        for encoding in ["event_frames", "direct"] {
            let what = format!("{shape:?} {encoding}");
            let m = module(&shape, encoding);
            let x = ones(&shape, encoding);
            let mut plan = Plan::new(&m).unwrap();
            let Kind::Spiking(lif) = &plan.pops[1].kind else {
                panic!("{what}: p1 is spiking");
            };
            assert!(lif.per_neuron.is_some(), "{what}: per-neuron kernels");
            assert_eq!(
                plan.pops[1].incoming.is_empty(),
                encoding == "direct",
                "{what}: direct input is hoisted, so the spike trains are precomputed"
            );
            plan.simd = Simd::None;
            let portable = plan.run_batch(&x, true, None).unwrap();
            let run = &portable[0];
            let trace = run.trace.as_ref().unwrap();
            for t in 0..T {
                for i in 0..n {
                    let want = if SPIKES[i % 3][t] { 1.0 } else { 0.0 };
                    assert_eq!(trace[t][1][i], want, "{what}: neuron {i} at step {t}");
                }
                let near = if NEAR[t] { n.div_ceil(3) } else { 0 };
                assert_eq!(
                    run.pops[T + t].near,
                    near as u64,
                    "{what}: near at step {t}"
                );
            }
            let want: Vec<f64> = (0..n).map(|i| LAST_MEMBRANE[i % 3]).collect();
            assert_eq!(run.logits, want, "{what}");

            let reference = run_module(&m, &x).unwrap();
            let output = plan.run_output(&portable);
            assert_eq!(reference.spikes, output.spikes, "{what}: reference spikes");
            assert_eq!(
                reference.near_threshold, output.near_threshold,
                "{what}: reference near-threshold counts"
            );
            assert_eq!(reference.logits, output.logits, "{what}: reference logits");
            for level in Simd::available() {
                plan.simd = level;
                assert_eq!(
                    plan.run_batch(&x, true, None).unwrap(),
                    portable,
                    "{what}: {level:?}"
                );
            }
        }
    }
}

/// One value per neuron is the same as a uniform value: a population whose tensors repeat one
/// value runs like the uniform one, bit for bit (the uniform kernels against the per-neuron
/// ones).
#[test]
fn a_per_neuron_tensor_of_one_value_runs_like_the_uniform_value() {
    for encoding in ["event_frames", "direct"] {
        let shape = [3, 4, 6];
        let mut per_neuron = module(&shape, encoding);
        let mut uniform = per_neuron.clone();
        for (_, p) in uniform.populations.iter_mut() {
            match &mut p.kind {
                PopulationKind::Spiking(s) => {
                    (s.beta, s.threshold, s.v_reset) = (0.75.into(), 2.5.into(), 0.5.into())
                }
                PopulationKind::Readout(r) => {
                    let li = r.integrator.as_mut().unwrap();
                    (li.beta, li.rest) = (0.25.into(), (-1.0).into());
                }
                _ => {}
            }
        }
        // Kind 1's spiking values and kind 2's integrator everywhere, as tensors.
        for (_, t) in per_neuron.tensors.iter_mut() {
            let value = match t.label.as_str() {
                "lif.beta" => 0.75,
                "lif.threshold" => 2.5,
                "lif.v_reset" => 0.5,
                "out.beta" => 0.25,
                "out.rest" => -1.0,
                _ => continue,
            };
            t.data.fill(value);
        }
        let x = ones(&shape, encoding);
        let uniform_plan = Plan::new(&uniform).unwrap();
        let Kind::Spiking(lif) = &uniform_plan.pops[1].kind else {
            panic!("p1 is spiking");
        };
        assert!(lif.per_neuron.is_none(), "uniform kernels");
        let mut plan = Plan::new(&per_neuron).unwrap();
        for level in Simd::available() {
            plan.simd = level;
            assert_eq!(
                plan.run_batch(&x, true, None).unwrap(),
                uniform_plan.run_batch(&x, true, None).unwrap(),
                "{encoding} {level:?}"
            );
        }
    }
}

/// `snnc targets fit`: per-neuron parameters are memory. The 72-neuron module holds three
/// per-neuron fields in its spiking layer and two in its readout's integrator (one word each
/// per neuron; at Loihi's 24-bit state width, 3 bytes a word), in three distinct sets per layer
/// (the three kinds); a field made uniform costs no words.
#[test]
fn fit_counts_a_word_per_neuron_and_per_neuron_field_and_the_distinct_sets() {
    let loihi = snnc_targets::Target::builtin("loihi").unwrap();
    let m = module(&[3, 4, 6], "event_frames");
    let r = snnc_runtime::fit::estimate(&m, &loihi).unwrap();
    let words: Vec<(&str, u64, u64)> = r
        .layers
        .iter()
        .map(|l| (l.name.as_str(), l.parameter_words, l.parameter_sets))
        .collect();
    assert_eq!(words, [("lif", 3 * 72, 3), ("out", 2 * 72, 3)]);
    assert_eq!(r.parameter_words, 5 * 72);
    assert_eq!(r.parameter_bytes, Some(5 * 72 * 3));
    assert_eq!(r.max_parameter_sets, 3);
    let text = snnc_runtime::fit::render(&r);
    assert!(
        text.contains("360 per-neuron parameter words (1080 bytes), up to 3 parameter sets"),
        "{text}"
    );

    let mut uniform = m.clone();
    for (_, p) in uniform.populations.iter_mut() {
        match &mut p.kind {
            PopulationKind::Spiking(s) => s.beta = 0.5.into(),
            PopulationKind::Readout(r) => r.integrator.as_mut().unwrap().rest = 0.0.into(),
            _ => {}
        }
    }
    let r = snnc_runtime::fit::estimate(&uniform, &loihi).unwrap();
    let words: Vec<(u64, u64)> = r
        .layers
        .iter()
        .map(|l| (l.parameter_words, l.parameter_sets))
        .collect();
    // Threshold and v_reset still differ in the spiking layer, integrator beta in the readout.
    assert_eq!(words, [(2 * 72, 3), (72, 2)]);
}

/// Uniform draws in `[lo, hi)` from a fixed seed (xorshift), one per neuron.
fn draws(seed: &mut u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            lo + (hi - lo) * (*seed >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// Every (compare, reset) pair, with and without a synaptic current and a lower bound, stepping
/// and precomputed, on 70 neurons stored channel-last (a full 64-neuron word and a partial one),
/// every parameter drawn per neuron: every SIMD build gives the portable run bit for bit, and
/// the reference interpreter agrees up to float ties (each flip replayed and proven one).
#[test]
fn every_reset_and_compare_with_per_neuron_values_agrees_everywhere() {
    use crate::common::flips::check_runs;
    let shape = [2usize, 5, 7];
    let n = 70;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let (mut spikes, mut flips, mut cases) = (0u64, 0usize, 0);
    for fire in ["ge", "gt"] {
        for reset in ["hard", "subtract", "subtract_next", "zero_next", "none"] {
            for synapse in ["", "alpha=0.5 w_in=1.0"] {
                for v_min in ["", "v_min=-1.0"] {
                    for encoding in ["event_frames", "direct"] {
                        let what = format!("{fire} {reset} {synapse:?} {v_min:?} {encoding}");
                        let text = format!(
                            r#"snnir 1
module "per-neuron-kinds" timesteps=6 classes={n}
p0 = input "x" [2, 5, 7] {encoding}
p1 = spiking "lif" [2, 5, 7] beta=0.5 gain=1.0 threshold=1.0 v_reset=0.0 v_leak=0.0 reset={reset} fire={fire} {v_min} {synapse}
p2 = readout "out" [{n}] spike_count
e0 = identity p0 -> p1 graded
e1 = reshape p1 -> p2 binary
"#
                        );
                        let mut m = snnc_compiler::text::parse(&text, "kinds.snnir", |_| {
                            Ok(snnc_compiler::network::Weights::default())
                        })
                        .unwrap_or_else(|e| panic!("{e}\n{text}"))
                        .0;
                        let mut tensor = |label: &str, lo: f32, hi: f32| {
                            let data = draws(&mut seed, n, lo, hi);
                            let t = Tensor::new(label, shape.to_vec(), data);
                            Param::PerNeuron(m.tensors.push(t))
                        };
                        let beta = tensor("beta", 0.5, 0.95);
                        let gain = tensor("gain", 0.5, 1.5);
                        let threshold = tensor("threshold", 0.5, 1.5);
                        let v_reset = tensor("v_reset", -0.3, 0.2);
                        let v_leak = tensor("v_leak", -0.2, 0.2);
                        let floor = tensor("v_min", -1.5, -0.5);
                        let alpha = tensor("alpha", 0.5, 0.9);
                        let w_in = tensor("w_in", 0.5, 1.5);
                        for (_, p) in m.populations.iter_mut() {
                            if let PopulationKind::Spiking(s) = &mut p.kind {
                                (s.beta, s.gain, s.threshold) = (beta, gain, threshold);
                                (s.v_reset, s.v_leak) = (v_reset, Some(v_leak));
                                s.v_min = s.v_min.map(|_| floor);
                                if let Some(syn) = &mut s.synapse {
                                    (syn.alpha, syn.w_in) = (alpha, w_in);
                                }
                            }
                        }
                        let frames = if encoding == "event_frames" { 6 } else { 1 };
                        let x: Vec<Vec<f32>> = (0..3)
                            .map(|_| draws(&mut seed, n * frames, -0.2, 1.2))
                            .collect();
                        let mut plan = Plan::new(&m).unwrap_or_else(|e| panic!("{what}: {e}"));
                        plan.simd = Simd::None;
                        let portable = plan.run_batch(&x, true, None).unwrap();
                        for level in Simd::available() {
                            plan.simd = level;
                            assert_eq!(
                                plan.run_batch(&x, true, None).unwrap(),
                                portable,
                                "{what}: {level:?}"
                            );
                        }
                        let reference = run_module(&m, &x).unwrap();
                        let found = check_runs(&m, &plan, &reference, &portable)
                            .unwrap_or_else(|e| panic!("{what}: {e}"));
                        flips += found.flips;
                        spikes += portable
                            .iter()
                            .map(|r| (0..6).map(|t| r.pops[6 + t].events).sum::<u64>())
                            .sum::<u64>();
                        cases += 1;
                    }
                }
            }
        }
    }
    eprintln!("{cases} cases, {spikes} spikes, {flips} tie flips");
    assert!(
        spikes > 100 * cases as u64,
        "the neurons should spike ({spikes})"
    );
}
