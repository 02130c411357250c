//! Random valid modules (every projection kind, groups, strides, padding, delays, feedback, both
//! encodings, both resets and comparisons, biases and affine scales constant or per step): the
//! runtime agrees with the reference interpreter and its counts with the brute-force counter.
//! The generator is the one the compiler's property tests use
//! (`snnc_compiler::synth::random_module`).

use crate::common::brute::brute_counts;
use snnc_compiler::reference::{compare, run_module};
use snnc_compiler::synth::{random_inputs, random_module};
use snnc_runtime::Plan;

#[test]
fn random_modules_agree_with_the_reference_and_the_brute_force_counts() {
    let mut spikes = 0;
    for seed in 0..400u64 {
        let m = random_module(seed);
        let x = random_inputs(&m, seed);
        let text = || snnc_compiler::text::print(&m, &snnc_compiler::text::PrintOptions::default());
        let reference = run_module(&m, &x).unwrap();
        let plan = Plan::new(&m).unwrap();
        let runs = plan.run_batch(&x, true, None).unwrap();
        let ag = compare(&reference, &plan.run_output(&runs));
        // Tiny random networks have few spikes, so one legitimate flip can exceed the flip rate;
        // what must hold is that every difference is explained by a flip.
        let explained = ag.unexplained.is_empty()
            && ag.unmatched_layers.is_empty()
            && ag.max_logit_error <= 1e-4
            && (ag.flips > 0 || ag.prediction_mismatches.is_empty());
        assert!(explained, "seed {seed}: {:?}\n{}", ag.check(), text());
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
    eprintln!("400 random modules, {spikes} spikes");
    assert!(spikes > 1000, "the random modules should spike ({spikes})");
}
