//! Random valid modules through both ONNX models in onnxruntime, against the reference
//! interpreter: every projection kind, grouped and strided convs, pools over `[C, H, W]` and
//! `[N]`, dense into `[C, 1, 1]`, delays and feedback,
//! both encodings, hard and subtractive resets, `>=` and `>`, non-zero `v_reset`, `beta` 0 and 1,
//! populations fed by their bias alone, both readouts, per-step (`[T, C]`) biases and affine
//! scales; each module raw and optimised (hoisting).
//!
//! The modules come from the generator every property test shares (`synth::random_module`).

use crate::onnx_common;
use snnc_compiler::emit::onnx::{self, Options, SpikeOutputs};
use snnc_compiler::ir::{Encoding, Module, PopulationKind};
use snnc_compiler::reference::{compare, run_module};
use snnc_compiler::synth::{Rng, random_module};
use snnc_compiler::text::{PrintOptions, print};
use snnc_compiler::validate::validate;

const MODULES: u64 = 120;

fn inputs(m: &Module, seed: u64) -> (Vec<Vec<f32>>, Vec<usize>, Option<usize>) {
    let input = &m.populations[m.input().unwrap()];
    let per_step =
        matches!(&input.kind, PopulationKind::Input(i) if i.encoding == Encoding::EventFrames);
    let n = input.shape.numel() * if per_step { m.timesteps } else { 1 };
    let mut rng = Rng::new(seed);
    let x = (0..3)
        .map(|_| (0..n).map(|_| rng.uniform(-1.0, 2.0)).collect())
        .collect();
    (
        x,
        input.shape.dims().to_vec(),
        per_step.then_some(m.timesteps),
    )
}

#[test]
fn random_modules_agree_with_the_reference_in_onnxruntime() {
    let Some(py) = onnx_common::python("onnx random modules") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut jobs, mut expected) = (Vec::new(), Vec::new());
    let mut counted = 0;
    for seed in 0..MODULES {
        let raw = random_module(seed);
        validate(&raw)
            .unwrap_or_else(|e| panic!("seed {seed}: the generator made an invalid module: {e}"));
        let (x, frame, steps) = inputs(&raw, seed);
        let input = dir.path().join(format!("x{seed}.npy"));
        onnx_common::write_inputs(&input, &x, &frame, steps);
        let optimised = snnc_compiler::passes::optimise(raw.clone());
        for (stage, m) in [("raw", raw), ("optimised", optimised)] {
            let reference = run_module(&m, &x).unwrap();
            let opts = Options {
                spikes: SpikeOutputs::All,
                ..Options::default()
            };
            for (kind, model) in [
                ("step", onnx::step_model(&m, &opts)),
                ("sequence", onnx::sequence_model(&m, &opts)),
            ] {
                let model = model.unwrap_or_else(|e| panic!("seed {seed} {stage} {kind}: {e}"));
                if kind == "step" && model.interface.states.iter().any(|s| s.input == "step") {
                    counted += 1;
                }
                let path = dir.path().join(format!("r{seed}.{stage}.{kind}.onnx"));
                std::fs::write(&path, model.to_bytes().unwrap()).unwrap();
                jobs.push(onnx_common::Job {
                    model: path,
                    input: input.clone(),
                    batch: 2,
                });
                expected.push((
                    seed,
                    format!("seed {seed} {stage} {kind}"),
                    reference.clone(),
                    m.clone(),
                ));
            }
        }
    }
    // The generator gives some modules per-step biases or affine scales: their step models
    // carry the step counter, and this test is what runs it over every projection kind.
    assert!(counted > 0, "no random module has a per-step tensor");
    let started = std::time::Instant::now();
    let runs = onnx_common::run(&py, dir.path(), &jobs);
    eprintln!(
        "{} random-module models checked and run in {:.1} s",
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    let (mut flips, mut spikes) = (0, 0);
    for (run, (_, what, reference, m)) in runs.iter().zip(&expected) {
        let ag = compare(reference, &run.to_run_output());
        // Tiny random networks have few spikes, so one legitimate flip can exceed the flip rate
        // (as in random_graphs.rs); what must hold is that every difference is explained.
        let explained = ag.unexplained.is_empty()
            && ag.unmatched_layers.is_empty()
            && ag.max_logit_error <= 1e-4
            && (ag.flips > 0 || ag.prediction_mismatches.is_empty());
        assert!(
            explained,
            "{what}: {:?}\n{}",
            ag.check(),
            print(m, &PrintOptions::default())
        );
        flips += ag.flips;
        spikes += ag.spikes;
    }
    eprintln!(
        "{} models agree ({counted} step models with a step counter); {flips} threshold flips in {spikes} spikes",
        runs.len()
    );
}
