//! Current-based LIF (`cuba_lif`) in the runtime: hand-written modules where the synaptic current
//! decides when neurons fire, checked step by step against the arithmetic worked out by hand,
//! the reference interpreter, the counting words and every SIMD build.

use snnc_compiler::ir::Module;
use snnc_compiler::reference::run_module;
use snnc_runtime::ops::Simd;
use snnc_runtime::{Plan, State, Tally};
use snnc_targets::{Count, Target};

/// 70 neurons: one full 64-lane word and a partial one, so both halves of every kernel run.
const N: usize = 70;
const T: usize = 8;

fn parsed(text: &str) -> Module {
    snnc_compiler::text::parse(text, "cuba.snnir", |_| {
        Ok(snnc_compiler::network::Weights::default())
    })
    .unwrap_or_else(|e| panic!("{e}\n{text}"))
    .0
}

/// Event-frame input into one spiking population (`synapse`: its `alpha=.. w_in=..`, or
/// empty), read out as spike counts. Fed per step, so the population steps through `fire`.
fn stepping(synapse: &str) -> Module {
    parsed(&format!(
        r#"snnir 1
module "cuba-step" timesteps={T} classes={N}
p0 = input "x" [{N}] event_frames
p1 = spiking "lif" [{N}] beta=0.75 gain=1.0 threshold=2.0 v_reset=0.0 reset=hard fire=ge {synapse}
p2 = readout "out" [{N}] spike_count
e0 = identity p0 -> p1 graded
e1 = identity p1 -> p2 binary
"#
    ))
}

/// Direct (constant) input into one spiking population: its input is known after the
/// prologue, so its spike trains are precomputed (`neuron::train`).
fn autonomous(synapse: &str) -> Module {
    parsed(&format!(
        r#"snnir 1
module "cuba-const" timesteps={T} classes={N}
p0 = input "x" [{N}] direct
p1 = spiking "lif" [{N}] beta=0.5 gain=1.0 threshold=2.5 v_reset=0.0 reset=hard fire=ge {synapse}
p2 = readout "out" [{N}] spike_count
e0 = identity p0 -> p1 graded
e1 = identity p1 -> p2 binary
"#
    ))
}

/// One spike on every input line at step 0, nothing after.
fn one_input_spike() -> Vec<Vec<f32>> {
    let mut x = vec![0.0f32; T * N];
    x[..N].fill(1.0);
    vec![x]
}

/// Steps at which every neuron of `p1` fired, checking that all neurons agree (same input).
fn spike_steps(plan: &Plan, x: &[Vec<f32>]) -> Vec<usize> {
    let run = &plan.run_batch(x, false, None).unwrap()[0];
    (0..T)
        .filter(|&t| {
            let events = run.pops[T + t].events;
            assert!(
                events == 0 || events == N as u64,
                "step {t}: {events} spikes"
            );
            events == N as u64
        })
        .collect()
}

/// The current carries one input spike across later steps. By hand (alpha 0.75, beta 0.75,
/// threshold 2, hard reset): the current runs 1, 0.75, 0.5625, 0.421875, ... and the membrane
/// 1, 1.5, 1.6875, 1.6875, ..., so it never fires; alpha 0.9 keeps enough current: membrane
/// 1, 1.65, 2.0475 (fires), 0.729, 1.2028, 1.4926, 1.6508, 1.7166: one spike, at step 2.
/// Without a synapse the input spike charges the membrane to 1 once and it only decays.
#[test]
fn one_input_spike_keeps_charging_through_the_current() {
    let x = one_input_spike();
    for (synapse, want) in [
        ("alpha=0.9 w_in=1.0", vec![2]),
        ("alpha=0.75 w_in=1.0", vec![]),
        // w_in scales what enters the current: 1.5 x (1, 0.75, ...) takes the membrane to
        // 1.5, then 2.25 (fires), then 0.84375, 1.265625, 1.423828125, ... below 2.
        ("alpha=0.75 w_in=1.5", vec![1]),
        ("", vec![]),
    ] {
        let m = stepping(synapse);
        let plan = Plan::new(&m).unwrap();
        assert!(!plan.pops[1].incoming.is_empty(), "fed every step");
        assert_eq!(spike_steps(&plan, &x), want, "{synapse:?}");
        let reference = run_module(&m, &x).unwrap();
        assert_eq!(
            reference.spikes,
            plan.run_output(&plan.run_batch(&x, false, None).unwrap())
                .spikes,
            "{synapse:?}: runtime and reference"
        );
    }
}

/// A constant input builds the current up towards `x / (1 - alpha)`: with alpha 0.5 and beta
/// 0.5 the current runs 1, 1.5, 1.75, 1.875, ... and the membrane fires at steps 2, 4 and 6
/// (2.75, 2.875, 2.96875 over threshold 2.5). Plain LIF on the same input tends to 2 and never
/// fires.
#[test]
fn a_constant_input_builds_up_the_current_of_an_autonomous_population() {
    let x = vec![vec![1.0f32; N]];
    for (synapse, want) in [("alpha=0.5 w_in=1.0", vec![2, 4, 6]), ("", vec![])] {
        let m = autonomous(synapse);
        let plan = Plan::new(&m).unwrap();
        assert!(
            plan.pops[1].incoming.is_empty(),
            "only hoisted input: the spike trains are precomputed"
        );
        assert_eq!(spike_steps(&plan, &x), want, "{synapse:?}");
        let reference = run_module(&m, &x).unwrap();
        assert_eq!(
            reference.spikes,
            plan.run_output(&plan.run_batch(&x, false, None).unwrap())
                .spikes,
            "{synapse:?}: runtime and reference"
        );
    }
}

/// The current starts at zero in every sample: one state reused for the same sample twice
/// (as a thread does for the samples of its share) gives the same run twice.
#[test]
fn every_sample_starts_without_current() {
    let x = one_input_spike();
    let m = stepping("alpha=0.9 w_in=1.0");
    let plan = Plan::new(&m).unwrap();
    let mut st = State::new(&plan);
    let first = plan.run_sample(&mut st, &x[0], 0, false).unwrap();
    let again = plan.run_sample(&mut st, &x[0], 1, false).unwrap();
    assert_eq!(first, again);
}

/// `current_updates`: one per neuron with a synapse per step, plus the current read and written
/// as state; none for plain LIF. Priced on cmos45-fp32 at 8.3 pJ each, 0 on Loihi.
#[test]
fn counts_book_a_current_update_per_neuron_and_step() {
    let x = one_input_spike();
    let n = N as u64;
    for (synapse, currents) in [("alpha=0.9 w_in=1.0", n), ("", 0)] {
        let m = stepping(synapse);
        let plan = Plan::new(&m).unwrap();
        let runs = plan.run_batch(&x, false, None).unwrap();
        let counts = plan.counts(&runs[0]);
        for t in 0..T {
            let c = counts[T + t];
            // The identity delivers the frame's events: N at step 0, none after.
            let pairs = if t == 0 { n } else { 0 };
            assert_eq!(c.neuron_updates, n, "{synapse:?} step {t}");
            assert_eq!(c.current_updates, currents, "{synapse:?} step {t}");
            assert_eq!(
                c.state_reads,
                2 * n + currents + pairs,
                "{synapse:?} step {t}"
            );
            assert_eq!(
                c.state_writes,
                2 * n + currents + pairs,
                "{synapse:?} step {t}"
            );
        }
        let mut tally = Tally::new(&plan);
        tally.add(&plan, &runs[0]);
        let total = tally.total();
        assert_eq!(total.current_updates, currents * T as u64);
        let ops = total.op_counts(1.0);
        assert_eq!(ops.current_updates, (currents * T as u64) as f64);

        let fp32 = Target::builtin("cmos45-fp32").unwrap();
        let report = snnc_runtime::report::Report::new(&plan, &tally, &fp32, Default::default());
        let term = report
            .energy
            .terms
            .iter()
            .find(|t| t.count == Count::CurrentUpdates);
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"current_updates\""), "{json}");
        let table = snnc_runtime::report::table(&report);
        let dir = tempfile::tempdir().unwrap();
        snnc_runtime::report::write_csv(&report, dir.path()).unwrap();
        let csv = std::fs::read_to_string(dir.path().join("layers.csv")).unwrap();
        assert!(csv.starts_with("layer,population,kind,neurons,spikes,events,sops,macs,dense,pooling_ops,affine_ops,copies,neuron_updates,current_updates,"));
        if currents > 0 {
            let want = (currents * T as u64) as f64 * 8.3e-12;
            let got = term.expect("priced").joules;
            assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
            assert!(table.contains("560 current updates"), "{table}");
            assert!(csv.contains(",560,"), "{csv}");
            let loihi = Target::builtin("loihi").unwrap();
            assert_eq!(
                loihi
                    .energy(&ops)
                    .term(Count::CurrentUpdates)
                    .unwrap()
                    .joules,
                0.0
            );
        } else {
            assert!(!table.contains("current updates"), "{table}");
        }
    }
}

/// The portable and vector builds give identical runs with a synaptic current, stepping and
/// precomputed alike, over inputs that leave membranes anywhere.
#[test]
fn simd_and_portable_agree_bit_for_bit_with_a_current() {
    let stepping_inputs: Vec<Vec<f32>> = (0..3)
        .map(|s| {
            (0..T * N)
                .map(|i| ((i * 7919 + s * 104_729) % 23) as f32 / 7.0 - 1.0)
                .collect()
        })
        .collect();
    let direct_inputs: Vec<Vec<f32>> = stepping_inputs.iter().map(|x| x[..N].to_vec()).collect();
    for synapse in ["alpha=0.9 w_in=1.0", "alpha=0.3 w_in=0.7"] {
        for (m, x) in [
            (stepping(synapse), &stepping_inputs),
            (autonomous(synapse), &direct_inputs),
        ] {
            let mut plan = Plan::new(&m).unwrap();
            plan.simd = Simd::None;
            let portable = plan.run_batch(x, true, None).unwrap();
            for level in Simd::available() {
                plan.simd = level;
                assert_eq!(
                    plan.run_batch(x, true, None).unwrap(),
                    portable,
                    "{} {synapse}: {level:?}",
                    m.name
                );
            }
        }
    }
}

/// `snnc targets fit`: a current-based neuron holds two state words (membrane and current), a
/// plain one one; bytes at the target's state width (Loihi: 24 bits).
#[test]
fn fit_counts_two_state_words_per_current_based_neuron() {
    let loihi = Target::builtin("loihi").unwrap();
    for (synapse, words) in [("alpha=0.9 w_in=1.0", 2 * N as u64), ("", N as u64)] {
        let r = snnc_runtime::fit::estimate(&stepping(synapse), &loihi).unwrap();
        assert_eq!(r.state_words, words, "{synapse:?}");
        assert_eq!(r.state_bytes, Some(words * 24 / 8), "{synapse:?}");
        let spiking = r.layers.iter().find(|l| l.kind == "spiking").unwrap();
        assert_eq!(spiking.state_words, words);
        assert!(
            snnc_runtime::fit::render(&r).contains(&format!("{words} state words")),
            "{}",
            snnc_runtime::fit::render(&r)
        );
    }
}
