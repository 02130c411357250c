//! Leaky-integrator readouts (`li`, `cuba_li`) in the runtime: logits of membrane readouts
//! worked out by hand for every reduction, against the reference interpreter, every SIMD build
//! and the counting words.

use snnc_compiler::ir::Module;
use snnc_compiler::reference::run_module;
use snnc_runtime::Plan;
use snnc_runtime::ops::Simd;

const T: usize = 4;

/// Event-frame input straight into a two-neuron integrator readout read out by `mode`, with
/// `synapse` (`alpha=.. w_in=..`, or empty).
fn module(mode: &str, synapse: &str) -> Module {
    let text = format!(
        r#"snnir 1
module "li" timesteps={T} classes=2
p0 = input "x" [2] event_frames
p1 = readout "readout" [2] {mode} beta=0.5 gain=1.0 rest=0.0 {synapse}
e0 = identity p0 -> p1 graded
"#
    );
    snnc_compiler::text::parse(&text, "li.snnir", |_| {
        Ok(snnc_compiler::network::Weights::default())
    })
    .unwrap_or_else(|e| panic!("{e}\n{text}"))
    .0
}

/// Neuron 0 receives 1, 0, 0, 2 and neuron 1 receives 4, 0, -1, 0 (row-major `[t][neuron]`).
fn inputs() -> Vec<Vec<f32>> {
    vec![vec![1.0, 4.0, 0.0, 0.0, 0.0, -1.0, 2.0, 0.0]]
}

/// By hand, `v = 0.5 v + drive` from `v = 0`:
/// * no synapse (drive = x): neuron 0 runs 1, 0.5, 0.25, 2.125 and neuron 1 runs 4, 2, 0, 0;
/// * `alpha=0.5 w_in=1.0` (drive `i = 0.5 i + x`): the currents run 1, 0.5, 0.25, 2.125 and
///   4, 2, 0, 0, the membranes 1, 1, 0.75, 2.5 and 4, 4, 2, 1.
///
/// Last, mean (time_mean is the same mean) and max of those, all exact in binary.
#[test]
fn membrane_readouts_give_the_logits_worked_out_by_hand() {
    let cases: [(&str, &str, [f64; 2]); 8] = [
        ("membrane_last", "", [2.125, 0.0]),
        ("membrane_mean", "", [0.96875, 1.5]),
        ("time_mean", "", [0.96875, 1.5]),
        ("membrane_max", "", [2.125, 4.0]),
        ("membrane_last", "alpha=0.5 w_in=1.0", [2.5, 1.0]),
        ("membrane_mean", "alpha=0.5 w_in=1.0", [1.3125, 2.75]),
        ("time_mean", "alpha=0.5 w_in=1.0", [1.3125, 2.75]),
        ("membrane_max", "alpha=0.5 w_in=1.0", [2.5, 4.0]),
    ];
    let x = inputs();
    for (mode, synapse, want) in cases {
        let m = module(mode, synapse);
        let mut plan = Plan::new(&m).unwrap();
        plan.simd = Simd::None;
        let portable = plan.run_batch(&x, true, None).unwrap();
        assert_eq!(portable[0].logits, want, "{mode} {synapse}");
        let argmax = usize::from(want[1] > want[0]);
        assert_eq!(portable[0].prediction, argmax, "{mode} {synapse}");
        let reference = run_module(&m, &x).unwrap();
        assert_eq!(reference.logits[0], want, "reference {mode} {synapse}");
        assert_eq!(
            plan.run_output(&portable).predictions,
            reference.predictions
        );
        for level in Simd::available() {
            plan.simd = level;
            assert_eq!(
                plan.run_batch(&x, true, None).unwrap(),
                portable,
                "{mode} {synapse}: {level:?}"
            );
        }
        // The trace holds each step's membrane, the value the reduction reads.
        let trace = portable[0].trace.as_ref().unwrap();
        let membrane: Vec<f32> = trace.iter().map(|step| step[1][0]).collect();
        let expected: &[f32] = if synapse.is_empty() {
            &[1.0, 0.5, 0.25, 2.125]
        } else {
            &[1.0, 1.0, 0.75, 2.5]
        };
        assert_eq!(membrane, expected, "{mode} {synapse}");
    }
}

/// A second sample starts again from `rest` with no current: the state is reset per sample.
#[test]
fn integrator_state_is_reset_at_each_sample() {
    let m = module("membrane_last", "alpha=0.5 w_in=1.0");
    let plan = Plan::new(&m).unwrap();
    let x = inputs();
    let twice = vec![x[0].clone(), x[0].clone()];
    let runs = plan.run_batch(&twice, false, None).unwrap();
    assert_eq!(runs[0].logits, [2.5, 1.0]);
    assert_eq!(runs[1].logits, runs[0].logits);
}

/// An integrator readout neuron is a neuron update per step (membrane read and written), and
/// with a synapse a current update too (its current read and written).
#[test]
fn integrator_readout_neurons_are_counted_as_neuron_updates() {
    let x = inputs();
    for (synapse, extra) in [("", 1u64), ("alpha=0.5 w_in=1.0", 2)] {
        let m = module("membrane_max", synapse);
        let plan = Plan::new(&m).unwrap();
        let run = &plan.run_batch(&x, false, None).unwrap()[0];
        let counts = plan.counts(run);
        for t in 0..T {
            let c = counts[T + t];
            assert_eq!(c.neuron_updates, 2, "{synapse:?} step {t}");
            assert_eq!(c.current_updates, 2 * (extra - 1), "{synapse:?} step {t}");
            // The identity's pairs (one per non-zero input: 2, 0, 1, 1), then input,
            // accumulator, membrane and current per neuron.
            let pairs = [2, 0, 1, 1][t];
            assert_eq!(run.projs[t].pairs, pairs, "step {t}");
            assert_eq!(
                c.state_reads,
                pairs + 2 * (2 + extra),
                "{synapse:?} step {t}"
            );
            assert_eq!(c.state_writes, c.state_reads, "{synapse:?} step {t}");
        }
    }
}
