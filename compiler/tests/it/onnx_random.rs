//! Random valid modules through both ONNX models in onnxruntime, against the reference
//! interpreter: every projection kind, grouped and strided convs, pools over `[C, H, W]` and
//! `[N]`, dense into `[C, 1, 1]`, delays and feedback,
//! both encodings, hard and subtractive resets, `>=` and `>`, non-zero `v_reset`, `beta` 0 and 1,
//! synaptic currents (current-based LIF, so `current.<layer>` states),
//! populations fed by their bias alone, every readout mode (leaky-integrator readouts too), per-step (`[T, C]`) biases and affine
//! scales, neuron parameters that differ per neuron; each module raw and optimised (hoisting).
//!
//! The modules come from the generator every property test shares (`synth::random_module`).
//! Spikes are compared neuron by neuron (the models output every spike map): each difference
//! must be a float tie at the reference's membrane ([`crate::ties`]), and the logits must agree
//! once the ties are imposed.

use crate::onnx_common::{self, OnnxRun};
use crate::ties::{self, LayerTrace, SampleTrace, Tally};
use snnc_compiler::emit::onnx::{self, Options, SpikeOutputs};
use snnc_compiler::ir::{Encoding, Module, PopulationKind};
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
    let (mut counted, mut integrators, mut per_neuron) = (0, 0, 0);
    for seed in 0..MODULES {
        let raw = random_module(seed);
        validate(&raw)
            .unwrap_or_else(|e| panic!("seed {seed}: the generator made an invalid module: {e}"));
        integrators +=
            usize::from(raw.populations.iter().any(
                |(_, p)| matches!(&p.kind, PopulationKind::Readout(r) if r.integrator.is_some()),
            ));
        per_neuron += usize::from(raw.populations.iter().any(|(_, p)| match &p.kind {
            PopulationKind::Spiking(s) => s.uniform().is_none(),
            PopulationKind::Readout(r) => r.integrator.is_some_and(|li| li.uniform().is_none()),
            _ => false,
        }));
        let (x, frame, steps) = inputs(&raw, seed);
        let input = dir.path().join(format!("x{seed}.npy"));
        onnx_common::write_inputs(&input, &x, &frame, steps);
        let optimised = snnc_compiler::passes::optimise(raw.clone());
        for (stage, m) in [("raw", raw), ("optimised", optimised)] {
            let reference = ties::reference_traces(&m, &x);
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
                    format!("seed {seed} {stage} {kind}"),
                    reference.clone(),
                    m.clone(),
                    x.clone(),
                ));
            }
        }
    }
    // The generator gives some modules per-step biases or affine scales: their step models
    // carry the step counter, and this test is what runs it over every projection kind.
    assert!(counted > 0, "no random module has a per-step tensor");
    // And some read out a leaky integrator (`membrane.<readout>` states, every reduction).
    assert!(
        integrators > 0,
        "no random module reads out a leaky integrator"
    );
    // And some give neuron parameters one value per neuron (initializers of the layer's shape).
    assert!(
        per_neuron > 0,
        "no random module has a per-neuron parameter"
    );
    let started = std::time::Instant::now();
    let runs = onnx_common::run_with_spike_maps(&py, dir.path(), &jobs);
    eprintln!(
        "{} random-module models checked and run in {:.1} s",
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(runs.len(), expected.len());
    let mut tally = Tally::default();
    for (run, (what, reference, m, x)) in runs.iter().zip(&expected) {
        for (s, sample) in x.iter().enumerate() {
            let onnx =
                sample_trace(run, s, &reference[s]).unwrap_or_else(|e| panic!("{what}: {e}"));
            let explained = ties::explain(m, sample, &onnx, false).unwrap_or_else(|e| {
                panic!(
                    "{what}, sample {s}: {e}\n{}",
                    print(m, &PrintOptions::default())
                )
            });
            tally.add(&format!("{what}, sample {s}"), explained);
        }
    }
    tally.print(&format!(
        "{} random-module ONNX models ({counted} step models with a step counter, {integrators} modules reading out a leaky integrator, {per_neuron} modules with per-neuron parameters)",
        runs.len()
    ));
}

/// Sample `s` of an ONNX run as a trace: its logits and every layer's spike map (no membranes),
/// after checking that the spike-count outputs are the maps' sums and that the ONNX model has
/// the reference's layers. `reference` gives the thresholds.
pub(crate) fn sample_trace(
    run: &OnnxRun,
    s: usize,
    reference: &SampleTrace,
) -> Result<SampleTrace, String> {
    let mut layers = Vec::new();
    for (name, per_sample) in &run.spike_maps {
        let spikes = per_sample[s].clone();
        let counts: Vec<u64> = spikes
            .iter()
            .map(|step| step.iter().filter(|&&b| b).count() as u64)
            .collect();
        let reported = run
            .spikes
            .iter()
            .find(|(l, _)| l == name)
            .map(|(_, per)| &per[s])
            .ok_or_else(|| format!("layer `{name}` has a spike map but no spike count"))?;
        if &counts != reported {
            return Err(format!(
                "layer `{name}`, sample {s}: spike counts {reported:?} but the map holds {counts:?}"
            ));
        }
        let thresholds = reference
            .layers
            .iter()
            .find(|l| &l.name == name)
            .map_or(Vec::new(), |l| l.thresholds.clone());
        layers.push(LayerTrace {
            name: name.clone(),
            thresholds,
            membranes: None,
            spikes,
        });
    }
    if layers.len() != run.spikes.len() {
        return Err(format!(
            "{} spike maps for {} layers",
            layers.len(),
            run.spikes.len()
        ));
    }
    Ok(SampleTrace {
        layers,
        logits: run.logits[s].clone(),
    })
}
