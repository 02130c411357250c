//! Every count the runtime reports equals a brute-force count on the same activations.
//!
//! The brute-force counter reads the runtime's trace (every population's values at every step,
//! row-major) and the module in the IR's own layouts (`[C_out, C_in/g, kh, kw]` weights), and
//! counts NeuroBench-style by visiting every (output, input, weight) triple: a pair counts when
//! the input is non-zero and in bounds, and as effective when the weight is non-zero too. Then
//! it applies the cost model of docs/report.md. Nothing of the runtime's scatter tables is used.

use crate::common;

use crate::common::brute::brute_counts;
use snnc_compiler::ir::Module;
use snnc_compiler::synth;
use snnc_runtime::Plan;

fn check_module(what: &str, m: &Module, x: &[Vec<f32>]) {
    let plan = Plan::new(m).unwrap();
    let runs = plan.run_batch(x, true, None).unwrap();
    for (s, run) in runs.iter().enumerate() {
        let trace = run.trace.as_ref().expect("traced");
        let mine = plan.counts(run);
        let brute = brute_counts(m, trace);
        for (i, (a, b)) in mine.iter().zip(&brute).enumerate() {
            let (p, t) = (i / m.timesteps, i % m.timesteps);
            assert_eq!(
                a,
                b,
                "{what}: sample {s}, population p{p} `{}`, step {t}",
                m.populations[snnc_compiler::ir::Handle::new(p)].name
            );
        }
    }
    // The traced run is the same run: its spike counts are the ones reported.
    let out = plan.run_output(&runs);
    let untraced = plan.run_output(&plan.run_batch(x, false, None).unwrap());
    assert_eq!(out, untraced, "{what}: tracing changed the run");
}

#[test]
fn counts_equal_a_brute_force_count_on_every_fixture() {
    for name in common::fixtures() {
        let (net, w) = common::load(&name);
        let x = synth::inputs(&net, 2, common::SEED);
        for (stage, m) in common::modules(&net, &w) {
            check_module(&format!("{name} {stage}"), &m, &x);
        }
    }
}

#[test]
fn counts_equal_a_brute_force_count_on_the_example_architectures() {
    for path in common::example_architectures() {
        let net = snnc_compiler::network::Network::load(&path).unwrap();
        let w = synth::weights(&net, common::SEED);
        let x = synth::inputs(&net, 1, common::SEED);
        let m = snnc_compiler::driver::compile(&net, w, true, true).unwrap();
        check_module(&path.display().to_string(), &m, &x);
    }
}

/// Zero weights are read but are not effective operations; padding taps are neither.
#[test]
fn zero_weights_and_padding_do_not_count_as_operations() {
    let (net, mut w) = common::load("mlp");
    for t in w.tensors.values_mut() {
        if t.shape.len() == 2 {
            for (i, v) in t.data.iter_mut().enumerate() {
                if i % 3 == 0 {
                    *v = 0.0;
                }
            }
        }
    }
    let x = synth::inputs(&net, 2, common::SEED);
    let m = snnc_compiler::driver::compile(&net, w, true, true).unwrap();
    check_module("mlp with zeroed weights", &m, &x);
    let plan = Plan::new(&m).unwrap();
    let runs = plan.run_batch(&x, false, None).unwrap();
    let mut tally = snnc_runtime::Tally::new(&plan);
    runs.iter().for_each(|r| tally.add(&plan, r));
    let total = tally.total();
    assert!(
        total.sops + total.macs < total.weight_reads,
        "zeroed weights must be read but not counted: {total:?}"
    );
}
