//! Random valid modules (every projection kind, groups, strides, padding, delays, feedback, both
//! encodings, both resets and comparisons, biases and affine scales constant or per step): the
//! runtime agrees with the reference interpreter and its counts with the brute-force counter.
//! The generator is the one the compiler's property tests use
//! (`snnc_compiler::synth::random_module`).

use crate::common::brute::brute_counts;
use crate::common::flips::{TIE_EPSILON, check_runs, replay};
use snnc_compiler::ir::{Module, PopulationKind};
use snnc_compiler::reference::{RunOutput, compare, run_module};
use snnc_compiler::synth::{random_inputs, random_module};
use snnc_runtime::Plan;
use snnc_runtime::plan::Kind;

#[test]
fn random_modules_agree_with_the_reference_and_the_brute_force_counts() {
    let (mut spikes, mut flips) = (0, 0);
    // Per-neuron populations run: [stepping, precomputed trains, integrator readouts].
    let mut per_neuron = [0; 3];
    for seed in 0..400u64 {
        let m = random_module(seed);
        let x = random_inputs(&m, seed);
        let text = || snnc_compiler::text::print(&m, &snnc_compiler::text::PrintOptions::default());
        let reference = run_module(&m, &x).unwrap();
        let plan = Plan::new(&m).unwrap();
        for p in &plan.pops {
            match &p.kind {
                Kind::Spiking(lif) if lif.per_neuron.is_some() => {
                    per_neuron[usize::from(p.incoming.is_empty())] += 1
                }
                Kind::Readout {
                    integrator: Some(li),
                    ..
                } if li.per_neuron.is_some() => per_neuron[2] += 1,
                _ => {}
            }
        }
        let runs = plan.run_batch(&x, true, None).unwrap();
        let ag = compare(&reference, &plan.run_output(&runs));
        // Tiny random networks have few spikes, so one legitimate flip can exceed the batch's
        // flip rate: instead, each flip is proven a float tie and every other sample passes the
        // whole ladder.
        let found = check_runs(&m, &plan, &reference, &runs)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", text()));
        if found.flips > 0 {
            eprintln!(
                "seed {seed}: {} tie flips in {} samples",
                found.flips, found.samples_with_flips
            );
        }
        flips += found.flips;
        spikes += ag.spikes;
        for (s, run) in runs.iter().enumerate() {
            let brute = brute_counts(&m, run.trace.as_ref().unwrap());
            let mine = plan.counts(run);
            if let Some(i) = (0..mine.len()).find(|&i| mine[i] != brute[i]) {
                panic!(
                    "seed {seed}, sample {s}, p{} step {}: runtime {:?}\nbrute force {:?}\n{}",
                    i / m.timesteps,
                    i % m.timesteps,
                    mine[i],
                    brute[i],
                    text()
                );
            }
        }
    }
    eprintln!(
        "400 random modules, {spikes} spikes, {flips} flips (each within {TIE_EPSILON:e} of the \
         threshold); per-neuron parameters in {} stepping and {} precomputed spiking populations \
         and {} integrator readouts",
        per_neuron[0], per_neuron[1], per_neuron[2]
    );
    assert!(spikes > 1000, "the random modules should spike ({spikes})");
    assert!(
        per_neuron.iter().all(|&c| c >= 10),
        "the random modules draw per-neuron parameters everywhere ({per_neuron:?})"
    );
}

/// A traced run of the first random module with a population of `kind`, with its reference.
fn traced(
    kind: fn(&PopulationKind) -> bool,
) -> (Module, Plan, RunOutput, Vec<snnc_runtime::SampleRun>) {
    let seed = (0..400u64)
        .find(|&s| {
            random_module(s)
                .populations
                .iter()
                .any(|(_, p)| kind(&p.kind))
        })
        .expect("some random module has such a population");
    let m = random_module(seed);
    let x = random_inputs(&m, seed);
    let reference = run_module(&m, &x).unwrap();
    let plan = Plan::new(&m).unwrap();
    let runs = plan.run_batch(&x, true, None).unwrap();
    (m, plan, reference, runs)
}

/// The flip proof has teeth: a spike erased from the runtime's trace where the reference
/// membrane is far from its threshold is reported at that neuron and step and fails the check.
/// An erased spike that feeds a graded value (an analog population, the readout) also makes
/// that value wrong, which the replay reports instead: the check fails all the same.
#[test]
fn an_erased_spike_is_a_flip_that_is_no_tie() {
    let spiking = |k: &PopulationKind| matches!(k, PopulationKind::Spiking(_));
    let mut checked = 0;
    for seed in 0..400u64 {
        let m = random_module(seed);
        if !m.populations.iter().any(|(_, p)| spiking(&p.kind)) {
            continue;
        }
        let x = random_inputs(&m, seed);
        let reference = run_module(&m, &x).unwrap();
        let plan = Plan::new(&m).unwrap();
        let runs = plan.run_batch(&x, true, None).unwrap();
        let trace = runs[0].trace.as_ref().unwrap();
        for (t, step) in trace.iter().enumerate() {
            for (h, p) in m.populations.iter().filter(|(_, p)| spiking(&p.kind)) {
                for i in (0..step[h.index()].len()).filter(|&i| step[h.index()][i] != 0.0) {
                    let mut forged = runs.clone();
                    forged[0].trace.as_mut().unwrap()[t][h.index()][i] = 0.0;
                    let flips = match replay(&m, forged[0].trace.as_ref().unwrap()) {
                        Ok(flips) => flips,
                        Err(e) => {
                            assert!(e.contains("element"), "seed {seed}: {e}");
                            assert!(check_runs(&m, &plan, &reference, &forged).is_err());
                            continue;
                        }
                    };
                    let flip = flips
                        .iter()
                        .find(|f| f.population == p.name && f.neuron == i && f.step == t)
                        .unwrap_or_else(|| panic!("`{}` neuron {i} step {t}: {flips:?}", p.name));
                    if flip.is_tie() {
                        continue;
                    }
                    let err = check_runs(&m, &plan, &reference, &forged).unwrap_err();
                    assert!(err.contains("not below the tie epsilon"), "{err}");
                    checked += 1;
                }
            }
        }
        if checked > 0 {
            return;
        }
    }
    panic!("no random module spikes where an erased spike stays a flip");
}

/// A wrong graded value (an analog population's output) is caught by the replay, not fed on.
#[test]
fn a_wrong_graded_value_is_caught_by_the_replay() {
    let analog = |k: &PopulationKind| matches!(k, PopulationKind::Analog(_));
    let (m, _, _, mut runs) = traced(analog);
    let (h, p) = m.populations.iter().find(|(_, p)| analog(&p.kind)).unwrap();
    let trace = runs[0].trace.as_mut().unwrap();
    trace[0][h.index()][0] += 1.0;
    let err = replay(&m, trace).unwrap_err();
    assert!(
        err.contains(&format!("`{}` element 0 at step 0", p.name)),
        "{err}"
    );
}
