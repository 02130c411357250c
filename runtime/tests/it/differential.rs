//! The runtime against the reference interpreter (architecture.md's equivalence ladder) on every
//! golden fixture and example architecture, lowered and optimised, and on trained runs.

use crate::common;
use crate::common::flips::{TIE_EPSILON, check_runs};

use snnc_compiler::ir::PopulationKind;
use snnc_compiler::reference::{compare, run_module};
use snnc_compiler::synth;
use snnc_runtime::Plan;

/// The ladder on the whole batch (flip rate included), and every flip proven a float tie
/// (`common::flips`); returns the spikes and the largest logit error.
fn check(what: &str, m: &snnc_compiler::ir::Module, x: &[Vec<f32>]) -> (u64, f64) {
    let reference = run_module(m, x).unwrap_or_else(|e| panic!("{what}: {e}"));
    let plan = Plan::new(m).unwrap_or_else(|e| panic!("{what}: {e}"));
    let runs = plan
        .run_batch(x, true, None)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mine = plan.run_output(&runs);
    let ag = compare(&reference, &mine);
    ag.check().unwrap_or_else(|e| panic!("{what}: {e}"));
    let found = check_runs(m, &plan, &reference, &runs).unwrap_or_else(|e| panic!("{what}: {e}"));
    eprintln!(
        "{what}: {} spikes, flips {} (ladder) / {} in {} samples (replay, each within {TIE_EPSILON:e}), logit error {:.2e}, predictions {:?}",
        ag.spikes,
        ag.flips,
        found.flips,
        found.samples_with_flips,
        ag.max_logit_error,
        mine.predictions
    );
    (ag.spikes, ag.max_logit_error)
}

#[test]
fn agrees_with_the_reference_on_every_fixture() {
    for name in common::fixtures() {
        let (net, w) = common::load(&name);
        let x = synth::inputs(&net, 6, common::SEED);
        for (stage, m) in common::modules(&net, &w) {
            let (spikes, _) = check(&format!("{name} {stage}"), &m, &x);
            assert!(spikes > 0, "{name}: the fixture should spike");
        }
    }
}

#[test]
fn agrees_with_the_reference_on_the_example_architectures() {
    for path in common::example_architectures() {
        let net = snnc_compiler::network::Network::load(&path).unwrap();
        let w = synth::weights(&net, common::SEED);
        let x = synth::inputs(&net, 3, common::SEED);
        for (stage, m) in common::modules(&net, &w) {
            check(&format!("{} {stage}", path.display()), &m, &x);
        }
    }
}

#[test]
fn agrees_with_the_network_interpreter_too() {
    for name in common::fixtures() {
        let (net, w) = common::load(&name);
        let x = synth::inputs(&net, 3, common::SEED);
        let a = snnc_compiler::reference::run_network(&net, &w, &x).unwrap();
        let m = snnc_compiler::driver::compile(&net, w, true, true).unwrap();
        let plan = Plan::new(&m).unwrap();
        let b = plan.run_output(&plan.run_batch(&x, false, None).unwrap());
        compare(&a, &b)
            .check()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_state_is_reusable_across_samples() {
    let (net, w) = common::load("snasnet_c10");
    let m = snnc_compiler::driver::compile(&net, w, true, true).unwrap();
    let x = synth::inputs(&net, 3, common::SEED);
    let plan = Plan::new(&m).unwrap();
    let mut st = snnc_runtime::State::new(&plan);
    let first: Vec<_> = x
        .iter()
        .enumerate()
        .map(|(i, s)| plan.run_sample(&mut st, s, i, false).unwrap())
        .collect();
    let again = plan.run_sample(&mut st, &x[0], 0, false).unwrap();
    assert_eq!(
        first[0], again,
        "state left over from earlier samples changed the result"
    );
}

#[test]
fn wrong_input_sizes_are_errors_naming_the_sample() {
    let (net, w) = common::load("mlp");
    let m = snnc_compiler::driver::compile(&net, w, true, true).unwrap();
    let plan = Plan::new(&m).unwrap();
    let x = vec![vec![0.0; plan.input_len()], vec![0.0; 3]];
    let err = plan.run_batch(&x, false, None).unwrap_err().to_string();
    assert!(err.contains("sample 1") && err.contains("got 3"), "{err}");
}

/// The budget: state per sample at most 2x (neurons x 4 bytes + delay buffers).
#[test]
fn state_per_sample_stays_within_twice_the_dense_budget() {
    let mut cases: Vec<(String, snnc_compiler::network::Network)> = common::fixtures()
        .iter()
        .map(|n| (n.to_string(), common::load(n).0))
        .collect();
    for p in common::example_architectures() {
        cases.push((
            p.display().to_string(),
            snnc_compiler::network::Network::load(&p).unwrap(),
        ));
    }
    for (name, net) in cases {
        let w = synth::weights(&net, common::SEED);
        let x = synth::inputs(&net, 2, common::SEED);
        let m = snnc_compiler::driver::compile(&net, w, true, true).unwrap();
        let plan = Plan::new(&m).unwrap();
        let mut st = snnc_runtime::State::new(&plan);
        for (i, s) in x.iter().enumerate() {
            plan.run_sample(&mut st, s, i, false).unwrap();
        }
        let ratio = st.bytes() as f64 / plan.state_budget() as f64;
        eprintln!(
            "{name}: state {} B, budget {} B, ratio {ratio:.2}",
            st.bytes(),
            plan.state_budget()
        );
        // Plus 1 KiB of fixed overhead (f64 logits, minimum vector capacities) for toy networks.
        assert!(
            st.bytes() <= 2 * plan.state_budget() + 1024,
            "{name}: state {} B is {ratio:.2}x the budget",
            st.bytes()
        );
    }
}

/// The AVX-512, AVX2 and portable builds of the kernels compute element by element in the same
/// order: their runs are identical, bit for bit. Fixtures, then random modules with synaptic
/// currents (stepping and precomputed populations alike).
#[test]
fn simd_and_portable_kernels_give_identical_runs() {
    let same_in_every_build = |what: &str, m: &snnc_compiler::ir::Module, x: &[Vec<f32>]| {
        let mut plan = Plan::new(m).unwrap();
        plan.simd = snnc_runtime::ops::Simd::None;
        let portable = plan.run_batch(x, false, None).unwrap();
        for level in snnc_runtime::ops::Simd::available() {
            plan.simd = level;
            assert_eq!(
                plan.run_batch(x, false, None).unwrap(),
                portable,
                "{what}: {level:?}"
            );
        }
    };
    for name in common::fixtures() {
        let (net, w) = common::load(&name);
        let x = synth::inputs(&net, 2, common::SEED);
        let m = snnc_compiler::driver::compile(&net, w, true, true).unwrap();
        same_in_every_build(&name, &m, &x);
    }
    let with_synapses = (0..400u64)
        .filter(|&seed| {
            synth::random_module(seed)
                .populations
                .iter()
                .any(|(_, p)| matches!(&p.kind, PopulationKind::Spiking(s) if s.synapse.is_some()))
        })
        .take(40);
    let mut checked = 0;
    for seed in with_synapses {
        let m = synth::random_module(seed);
        same_in_every_build(
            &format!("random module {seed}"),
            &m,
            &synth::random_inputs(&m, seed),
        );
        checked += 1;
    }
    assert_eq!(checked, 40, "random modules draw synapses");
    let with_per_neuron_parameters = (0..400u64).filter(|&seed| {
        synth::random_module(seed)
            .populations
            .iter()
            .any(|(_, p)| per_neuron_parameters(&p.kind))
    });
    let (mut checked, mut full_words) = (0, 0);
    for seed in with_per_neuron_parameters {
        let m = synth::random_module(seed);
        // The vector kernels run whole 64-neuron words only (the rest portably).
        full_words += m
            .populations
            .iter()
            .filter(|(_, p)| per_neuron_parameters(&p.kind) && p.shape.numel() >= 64)
            .count();
        same_in_every_build(
            &format!("random module {seed} (per-neuron parameters)"),
            &m,
            &synth::random_inputs(&m, seed),
        );
        checked += 1;
    }
    assert!(
        checked >= 40,
        "random modules draw per-neuron parameters ({checked})"
    );
    assert!(
        full_words >= 3,
        "per-neuron populations of at least 64 neurons: {full_words}"
    );
}

/// Whether any neuron parameter of a population differs per neuron.
fn per_neuron_parameters(kind: &PopulationKind) -> bool {
    match kind {
        PopulationKind::Spiking(s) => s.uniform().is_none(),
        PopulationKind::Readout(r) => r.integrator.is_some_and(|li| li.uniform().is_none()),
        _ => false,
    }
}

/// Reports of every built-in target render, with long non-ASCII layer names cut cleanly.
#[test]
fn reports_render_for_every_target() {
    let (net, w) = common::load("snasnet_c10");
    let mut m = snnc_compiler::driver::compile(&net, w, true, true).unwrap();
    for (_, p) in m.populations.iter_mut() {
        p.name = format!("{}-ſchicht-µ-naïve-long-name", p.name);
    }
    let plan = Plan::new(&m).unwrap();
    let x = synth::inputs(&net, 3, common::SEED);
    let profile = plan.profile(&x, None).unwrap();
    for target in snnc_targets::Target::builtins().unwrap() {
        let r =
            snnc_runtime::report::Report::new(&plan, &profile.tally, &target, Default::default());
        let table = snnc_runtime::report::table(&r);
        assert!(
            table.contains(&format!("energy per sample on {}", target.name)),
            "{table}"
        );
        assert!(r.energy.total_j > 0.0, "{}", target.name);
        let sum: f64 = r.layers.iter().map(|l| l.energy.total_j).sum();
        assert!(
            (sum - r.energy.total_j).abs() <= 1e-9 * r.energy.total_j,
            "{}: layers sum to {sum}, total {}",
            target.name,
            r.energy.total_j
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(
            json["layers"][3]["spikes_per_timestep"]
                .as_array()
                .unwrap()
                .len(),
            plan.timesteps
        );
        assert!(snnc_runtime::report::svg(&r).unwrap().starts_with("<svg"));
    }
    let dir = tempfile::tempdir().unwrap();
    let r = snnc_runtime::report::Report::new(
        &plan,
        &profile.tally,
        &snnc_targets::Target::default_target(),
        Default::default(),
    );
    let files = snnc_runtime::report::write_csv(&r, &dir.path().join("csv")).unwrap();
    assert_eq!(files.len(), 6);
}

/// The committed trained networks (`tests/fixtures/trained/*`) on their own datasets' real test
/// samples: the ladder holds at the trained networks' natural firing rates.
#[test]
fn agrees_with_the_reference_on_the_trained_fixtures_and_real_data() {
    let dir = common::workspace().join("tests/fixtures/trained");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("trained fixtures {}: {e}", dir.display()));
    let mut runs: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("network.json").is_file())
        .collect();
    runs.sort();
    assert!(!runs.is_empty(), "no trained fixture in {}", dir.display());
    for run in runs {
        let net: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("network.json")).unwrap())
                .unwrap();
        let name = net["meta"]["dataset"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: meta.dataset names no dataset", run.display()));
        let dataset: snnc_datasets::DatasetName = name.parse().unwrap();
        let Some(data) = snnc_datasets::testdata::dataset_dir(dataset) else {
            // `dataset_dir` printed why; under SNNC_REQUIRE_DATA=1 it failed instead.
            continue;
        };
        let m = snnc_runtime::load::load(&run).unwrap_or_else(|e| panic!("{}: {e}", run.display()));
        let plan = Plan::new(&m).unwrap();
        let inputs = snnc_runtime::data::DatasetInputs::load(
            &plan,
            dataset,
            &data,
            snnc_datasets::Split::Test,
            Some(12),
        )
        .unwrap();
        let x: Vec<Vec<f32>> = (0..snnc_runtime::Inputs::len(&inputs))
            .map(|i| {
                let mut v = Vec::new();
                snnc_runtime::Inputs::fill(&inputs, i, &mut v).unwrap();
                v
            })
            .collect();
        check(&run.display().to_string(), &m, &x);
    }
}
