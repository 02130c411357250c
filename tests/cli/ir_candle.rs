//! The equivalence ladder between the Candle forward (eval mode) and the compiler's reference
//! interpreter on the lowered and optimised IR of every golden fixture and example architecture.
//!
//! Candle computes in f32, the interpreter accumulates in f64; the ladder (architecture.md) allows
//! exactly that, sample by sample (`snnc_compiler::reference::compare`): equal predictions on every
//! sample; logits within 1e-4 relative on every sample without a threshold flip, whatever happens
//! in the rest of the batch; a sample's spike counts may differ only from the first step at which
//! the interpreter saw one of its membranes within `FLIP_MARGIN` (1e-4) of the threshold (a float
//! tie), else the test fails; and at most one spike in 1e3 flips.

use crate::common::data;
use crate::fixtures;
use snnc_compiler::network::{Network, Weights};
use snnc_compiler::reference::{FLIP_MARGIN, RunOutput, compare, kernels, run_module};
use snnc_compiler::synth;
use snnc_search::candle_core::{DType, Tensor};
use snnc_search::device::ComputeDevice;
use snnc_search::model::SnnModel;
use std::path::{Path, PathBuf};

const SAMPLES: usize = 4;

/// Candle's run as the interpreters report theirs: logits, and spikes per sample, layer and step
/// (no near-threshold counts: the interpreter's f64 membranes are the ones that license flips).
fn candle_run(net: &Network, weights: &Weights, x: &[Vec<f32>]) -> RunOutput {
    let frame: Vec<usize> = net.shapes[net.input_node].dims().to_vec();
    let mut shape = vec![x.len()];
    if net.desc.input.encoding == snnc_compiler::network::Encoding::EventFrames {
        shape.push(net.desc.timesteps);
    }
    shape.extend(frame);
    let flat: Vec<f32> = x.iter().flatten().copied().collect();
    let input = Tensor::from_vec(flat, shape, &ComputeDevice::cpu()).unwrap();
    candle_forward(net, weights, &input)
}

fn candle_forward(net: &Network, weights: &Weights, input: &Tensor) -> RunOutput {
    let model =
        SnnModel::from_weights(net.clone(), weights, input.device()).expect("the model builds");
    // The layers the interpreters report: spiking nodes and max pools (whose outputs are events).
    let layers: Vec<usize> = (0..net.len())
        .filter(|&id| {
            let op = &net.node(id).op;
            op.is_spiking() || matches!(op, snnc_compiler::network::Op::MaxPool(_))
        })
        .collect();
    let samples = input.dims()[0];
    let steps = net.desc.timesteps;
    let mut spikes = vec![vec![vec![0u64; steps]; layers.len()]; samples];
    // Each layer's events at each step, counted per sample as the interpreters count them.
    let mut record = |id: usize, t: usize, out: &Tensor| {
        if let Some(l) = layers.iter().position(|&n| n == id) {
            let per_sample: Vec<f32> = out
                .ne(0f32)?
                .to_dtype(DType::F32)?
                .flatten_from(1)?
                .sum(1)?
                .to_vec1()?;
            for (s, c) in per_sample.into_iter().enumerate() {
                spikes[s][l][t] = c as u64;
            }
        }
        Ok(())
    };
    let mut rng = snnc_datasets::transform::Rng::new(0);
    let out = model
        .forward_with_hook(input, false, &mut rng, &mut record)
        .unwrap();
    let logits: Vec<Vec<f64>> = out
        .readout
        .to_vec2::<f32>()
        .unwrap()
        .into_iter()
        .map(|r| r.into_iter().map(f64::from).collect())
        .collect();
    RunOutput {
        predictions: logits.iter().map(|l| kernels::argmax(l)).collect(),
        logits,
        layers: layers.iter().map(|&id| net.node(id).name.clone()).collect(),
        near_threshold: spikes
            .iter()
            .map(|l| l.iter().map(|t| vec![0; t.len()]).collect())
            .collect(),
        spikes,
    }
}

/// Apply the ladder between the interpreter's run `ir` and Candle's; fails naming what differs.
/// Returns the flip rate.
fn check(what: &str, candle: &RunOutput, ir: &RunOutput) -> f64 {
    let ag = compare(ir, candle);
    ag.check().unwrap_or_else(|e| {
        panic!("{what}: Candle and the interpreter disagree (flip margin {FLIP_MARGIN:e}): {e}")
    });
    let flipped: Vec<usize> = (0..ag.samples)
        .filter(|&s| {
            candle.layers.iter().enumerate().any(|(l, name)| {
                let mine = ir.layers.iter().position(|n| n == name);
                mine.is_some_and(|i| ir.spikes[s][i] != candle.spikes[s][l])
            })
        })
        .collect();
    if !flipped.is_empty() {
        eprintln!(
            "{what}: threshold flips (float ties) in samples {flipped:?}; the other {} samples' \
             logits agree within 1e-4",
            ag.samples - flipped.len()
        );
    }
    ag.flip_rate()
}

/// Every golden fixture's network, then every example architecture.
fn networks() -> Vec<PathBuf> {
    let mut v = fixtures::networks();
    let examples = crate::common::repo().join("examples/architectures");
    let mut more: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap_or_else(|e| panic!("{}: {e}", examples.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    more.sort();
    assert!(
        !more.is_empty(),
        "no architectures in {}",
        examples.display()
    );
    v.extend(more);
    v
}

fn name(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn candle_and_the_reference_interpreter_agree() {
    for path in networks() {
        let net = Network::load(&path).unwrap();
        let weights = synth::weights(&net, 2022);
        let x = synth::inputs(&net, SAMPLES, 7);
        let candle = candle_run(&net, &weights, &x);
        let m = snnc_compiler::lower::lower(&net, weights).unwrap();
        let lowered = run_module(&m, &x).unwrap();
        let r1 = check(&format!("{} (lowered)", name(&path)), &candle, &lowered);
        let optimised = run_module(&snnc_compiler::passes::optimise(m), &x).unwrap();
        let r2 = check(&format!("{} (optimised)", name(&path)), &candle, &optimised);
        let spikes: u64 = lowered.spikes.iter().flatten().flatten().sum();
        eprintln!(
            "{}: {spikes} spikes, flip rate {r1:.1e} / {r2:.1e}",
            name(&path)
        );
    }
}

/// Trained runs (directories with network.json + weights.safetensors) on the first 64 test
/// samples of their dataset: every network the project trained and committed under
/// `tests/fixtures/trained/`, plus any named in `SNNC_IR_RUNS` (separated by `:`).
#[test]
fn trained_runs_agree_on_real_data() {
    for dir in fixtures::trained_runs() {
        let net = Network::load(&dir.join("network.json")).unwrap();
        let weights = Weights::load(&dir.join("weights.safetensors")).unwrap();
        let dataset: snnc_datasets::DatasetName = net.desc.meta["dataset"]
            .as_str()
            .expect("meta.dataset")
            .parse()
            .unwrap();
        let Some(data_dir) = data(dataset) else {
            continue;
        };
        let test = snnc_datasets::load(dataset, &data_dir, snnc_datasets::Split::Test).unwrap();
        let pipeline = snnc_search::data::InputPipeline::new(
            &net,
            &test,
            snnc_search::data::Augment::NONE,
            snnc_datasets::transform::FrameSplit::ByCount,
        )
        .unwrap();
        let indices: Vec<usize> = (0..64).collect();
        let (input, _) = pipeline
            .batch(&test, &indices, None, &ComputeDevice::cpu())
            .unwrap();
        let per_sample = input.dims()[1..].iter().product::<usize>();
        let flat: Vec<f32> = input.flatten_all().unwrap().to_vec1().unwrap();
        let x: Vec<Vec<f32>> = flat.chunks(per_sample).map(<[f32]>::to_vec).collect();
        let candle = candle_forward(&net, &weights, &input);
        let m = snnc_compiler::lower::lower(&net, weights).unwrap();
        let r1 = check(
            &format!("{} (lowered)", dir.display()),
            &candle,
            &run_module(&m, &x).unwrap(),
        );
        let optimised = run_module(&snnc_compiler::passes::optimise(m), &x).unwrap();
        let r2 = check(
            &format!("{} (optimised)", dir.display()),
            &candle,
            &optimised,
        );
        let spikes: u64 = optimised.spikes.iter().flatten().flatten().sum();
        eprintln!(
            "{}: 64 test samples, {spikes} spikes, flip rate {r1:.1e} / {r2:.1e}",
            dir.display()
        );
    }
}

/// Current-based neurons (`cuba_lif`) on two small dense networks: snnTorch `Synaptic`'s form
/// (`alpha`, `beta`, delayed subtract, `gt`) and NIR `CubaLIF`'s (`tau`, `tau_syn`, `w_in`,
/// `v_leak`), as a name and the neuron's fields.
const CUBA_NEURONS: [(&str, &str); 2] = [
    (
        "cuba-synaptic",
        r#""beta": 0.9, "alpha": 0.8, "decay_input": false, "reset": "subtract_next", "compare": "gt""#,
    ),
    (
        "cuba-nir",
        r#""tau": 2.0, "tau_syn": 4.0, "w_in": 0.5, "v_leak": 0.1"#,
    ),
];

/// Logits of a `cuba_lif` network without a threshold flip agree closer than the ladder asks:
/// the current adds two f32 products per step, nothing that should cost more.
const CUBA_LOGIT_TOLERANCE: f64 = 1e-5;

/// A digits MLP with two `cuba_lif` layers of `neuron` fields and an analog readout.
fn cuba_network(name: &str, neuron: &str) -> String {
    format!(
        r#"{{"format_version": 1, "name": "{name}", "timesteps": 8, "num_classes": 10,
  "input": {{"shape": [64], "encoding": "direct"}},
  "readout": {{"node": "fc3", "kind": "time_mean"}},
  "nodes": [
    {{"name": "input", "op": "input"}},
    {{"name": "fc1", "op": "linear", "in_features": 64, "out_features": 32, "bias": true}},
    {{"name": "cuba1", "op": "cuba_lif", {neuron}}},
    {{"name": "fc2", "op": "linear", "in_features": 32, "out_features": 16, "bias": true}},
    {{"name": "cuba2", "op": "cuba_lif", {neuron}}},
    {{"name": "fc3", "op": "linear", "in_features": 16, "out_features": 10, "bias": true}}
  ],
  "edges": [
    {{"from": "input", "to": "fc1"}}, {{"from": "fc1", "to": "cuba1"}},
    {{"from": "cuba1", "to": "fc2"}}, {{"from": "fc2", "to": "cuba2"}},
    {{"from": "cuba2", "to": "fc3"}}
  ]}}"#
    )
}

/// One digits network run every way these tests compare: Candle on 64 test samples with
/// placeholder weights, and both interpreters (the network's own and the IR's, before and after
/// the passes) on the same inputs.
struct DigitsRun {
    net: Network,
    /// The run directory (`network.json`, `weights.safetensors`) `snnc eval` reads.
    dir: PathBuf,
    candle: RunOutput,
    labels: Vec<u32>,
    /// `(stage, run)`: network, lowered, optimised.
    interpreters: Vec<(&'static str, RunOutput)>,
}

fn run_on_digits(root: &Path, test: &snnc_datasets::Dataset, name: &str, text: &str) -> DigitsRun {
    let run = root.join(name);
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("network.json"), text).unwrap();
    let net = Network::load(&run.join("network.json")).unwrap();
    let weights = synth::weights(&net, 2022);
    weights.save(&run.join("weights.safetensors")).unwrap();

    let pipeline = snnc_search::data::InputPipeline::new(
        &net,
        test,
        snnc_search::data::Augment::NONE,
        snnc_datasets::transform::FrameSplit::ByCount,
    )
    .unwrap();
    let indices: Vec<usize> = (0..64).collect();
    let (input, labels) = pipeline
        .batch(test, &indices, None, &ComputeDevice::cpu())
        .unwrap();
    let flat: Vec<f32> = input.flatten_all().unwrap().to_vec1().unwrap();
    let x: Vec<Vec<f32>> = flat.chunks(64).map(<[f32]>::to_vec).collect();
    let candle = candle_forward(&net, &weights, &input);

    let graph = snnc_compiler::reference::run_network(&net, &weights, &x).unwrap();
    let m = snnc_compiler::lower::lower(&net, weights).unwrap();
    let lowered = run_module(&m, &x).unwrap();
    let optimised = run_module(&snnc_compiler::passes::optimise(m), &x).unwrap();
    DigitsRun {
        net,
        dir: run,
        candle,
        labels: labels.iter().map(|&l| l as u32).collect(),
        interpreters: vec![
            ("network", graph),
            ("lowered", lowered),
            ("optimised", optimised),
        ],
    }
}

/// `snnc eval` on the run reports exactly Candle's spikes per layer and step and its accuracy;
/// returns the number of correct predictions.
fn eval_agrees_with_candle(name: &str, r: &DigitsRun, digits: &Path) -> usize {
    let o = crate::common::snnc(&[
        "eval",
        "--run",
        crate::common::s(&r.dir),
        "--dataset",
        "digits",
        "--data-dir",
        crate::common::s(digits),
        "--limit",
        "64",
        "--json",
    ]);
    assert!(o.status.success(), "{name}: {}", crate::common::text(&o));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let correct = r
        .candle
        .predictions
        .iter()
        .zip(&r.labels)
        .filter(|&(p, &l)| *p == l as usize)
        .count();
    assert_eq!(
        eval["accuracy"].as_f64(),
        Some(correct as f64 / 64.0),
        "{name}: eval's accuracy"
    );
    for (l, layer) in r.candle.layers.iter().enumerate() {
        let reported = eval["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == layer.as_str())
            .unwrap_or_else(|| panic!("{name}: eval reports no layer `{layer}`"));
        let per_step: Vec<f64> = (0..r.net.desc.timesteps)
            .map(|t| r.candle.spikes.iter().map(|s| s[l][t]).sum::<u64>() as f64 / 64.0)
            .collect();
        assert_eq!(
            reported["spikes_per_timestep"],
            serde_json::json!(per_step),
            "{name}: eval's spikes of `{layer}` per step"
        );
    }
    correct
}

/// `cuba_lif` in Candle against both interpreters (the network's own and the IR's, before and
/// after the passes) on 64 digits test samples with placeholder weights: the ladder, with
/// logits within [`CUBA_LOGIT_TOLERANCE`]. Then `snnc eval` on the same run reports exactly
/// Candle's spikes per layer and step and its accuracy.
#[test]
fn cuba_lif_networks_agree_with_the_interpreters_and_eval() {
    let Some(digits) = data(snnc_datasets::DatasetName::Digits) else {
        return;
    };
    let test = snnc_datasets::load(
        snnc_datasets::DatasetName::Digits,
        &digits,
        snnc_datasets::Split::Test,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, neuron) in CUBA_NEURONS {
        let r = run_on_digits(dir.path(), &test, name, &cuba_network(name, neuron));
        for (stage, ir) in &r.interpreters {
            let what = format!("{name} ({stage})");
            check(&what, &r.candle, ir);
            let error = compare(ir, &r.candle).max_logit_error;
            assert!(
                error <= CUBA_LOGIT_TOLERANCE,
                "{what}: logits differ by {error:.3e} (relative), above {CUBA_LOGIT_TOLERANCE:e}"
            );
        }
        let graph = &r.interpreters[0].1;
        for layer in ["cuba1", "cuba2"] {
            let spikes = graph.total_spikes(layer).unwrap();
            assert!(
                spikes >= 64,
                "{name}: `{layer}` fired {spikes} times on 64 samples, too few to test anything"
            );
        }
        let correct = eval_agrees_with_candle(name, &r, &digits);
        eprintln!(
            "{name}: {} spikes, accuracy {correct}/64 (placeholder weights)",
            graph.spikes.iter().flatten().flatten().sum::<u64>()
        );
    }
}

/// A digits MLP whose every neuron layer names tensors for its fields (per neuron and per
/// channel, drawn by the placeholder weights): `lif`, `cuba_lif` and a `cuba_li` readout.
const PER_NEURON_DIGITS: &str = r#"{"format_version": 1, "name": "per-neuron-digits", "timesteps": 8, "num_classes": 10,
  "input": {"shape": [64], "encoding": "direct"},
  "readout": {"node": "out", "kind": "membrane_max"},
  "nodes": [
    {"name": "input", "op": "input"},
    {"name": "fc1", "op": "linear", "in_features": 64, "out_features": 32, "bias": true},
    {"name": "lif1", "op": "lif", "beta": "lif1.beta", "threshold": "lif1.threshold", "v_reset": "lif1.v_reset", "decay_input": false, "reset": "subtract_next", "compare": "gt"},
    {"name": "fc2", "op": "linear", "in_features": 32, "out_features": 16, "bias": true},
    {"name": "cuba2", "op": "cuba_lif", "tau": "cuba2.tau", "tau_syn": "cuba2.tau_syn", "w_in": "cuba2.w_in", "v_leak": "cuba2.v_leak", "v_min": "cuba2.v_min"},
    {"name": "fc3", "op": "linear", "in_features": 16, "out_features": 10, "bias": true},
    {"name": "out", "op": "cuba_li", "beta": "out.beta", "alpha": "out.alpha", "v_leak": "out.v_leak", "decay_input": false}
  ],
  "edges": [
    {"from": "input", "to": "fc1"}, {"from": "fc1", "to": "lif1"},
    {"from": "lif1", "to": "fc2"}, {"from": "fc2", "to": "cuba2"},
    {"from": "cuba2", "to": "fc3"}, {"from": "fc3", "to": "out"}
  ]}"#;

/// Per-neuron parameters in Candle against both interpreters on 64 digits test samples with
/// placeholder weights: the same spikes in every layer at every step, logits within
/// [`CUBA_LOGIT_TOLERANCE`]; then `snnc eval` (which reads the values from the run's weights)
/// reports Candle's spikes and accuracy.
#[test]
fn per_neuron_parameters_agree_with_the_interpreters_and_eval() {
    let Some(digits) = data(snnc_datasets::DatasetName::Digits) else {
        return;
    };
    let test = snnc_datasets::load(
        snnc_datasets::DatasetName::Digits,
        &digits,
        snnc_datasets::Split::Test,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let name = "per-neuron-digits";
    let r = run_on_digits(dir.path(), &test, name, PER_NEURON_DIGITS);
    for (stage, ir) in &r.interpreters {
        let what = format!("{name} ({stage})");
        for (l, layer) in r.candle.layers.iter().enumerate() {
            let i = ir.layers.iter().position(|n| n == layer).unwrap();
            for s in 0..64 {
                assert_eq!(
                    r.candle.spikes[s][l], ir.spikes[s][i],
                    "{what}: spikes of `{layer}` per step in sample {s}"
                );
            }
        }
        let error = compare(ir, &r.candle).max_logit_error;
        assert!(
            error <= CUBA_LOGIT_TOLERANCE,
            "{what}: logits differ by {error:.3e} (relative), above {CUBA_LOGIT_TOLERANCE:e}"
        );
        assert_eq!(r.candle.predictions, ir.predictions, "{what}: predictions");
    }
    let graph = &r.interpreters[0].1;
    for layer in ["lif1", "cuba2"] {
        let spikes = graph.total_spikes(layer).unwrap();
        assert!(
            spikes >= 64,
            "`{layer}` fired {spikes} times on 64 samples, too few to test anything"
        );
    }
    let correct = eval_agrees_with_candle(name, &r, &digits);
    eprintln!(
        "{name}: {} spikes, logits within {:.1e}, accuracy {correct}/64 (placeholder weights)",
        graph.spikes.iter().flatten().flatten().sum::<u64>(),
        r.interpreters
            .iter()
            .map(|(_, ir)| compare(ir, &r.candle).max_logit_error)
            .fold(0.0, f64::max)
    );
}

/// Leaky-integrator readouts: `(name, op, fields, readout kind)`.
const INTEGRATOR_READOUTS: [(&str, &str, &str, &str); 3] = [
    (
        "li-last-beta",
        "li",
        r#""beta": 0.9, "decay_input": false"#,
        "membrane_last",
    ),
    (
        "li-mean-tau",
        "li",
        r#""tau": 5.0, "v_leak": 0.2"#,
        "membrane_mean",
    ),
    (
        "cuba-li-max",
        "cuba_li",
        r#""tau": 10.0, "tau_syn": 5.0"#,
        "membrane_max",
    ),
];

/// A digits MLP with two `lif` layers read out by an `op` node of `fields` through `kind`.
fn integrator_network(name: &str, op: &str, fields: &str, kind: &str) -> String {
    format!(
        r#"{{"format_version": 1, "name": "{name}", "timesteps": 8, "num_classes": 10,
  "input": {{"shape": [64], "encoding": "direct"}},
  "readout": {{"node": "out", "kind": "{kind}"}},
  "nodes": [
    {{"name": "input", "op": "input"}},
    {{"name": "fc1", "op": "linear", "in_features": 64, "out_features": 32, "bias": true}},
    {{"name": "lif1", "op": "lif", "tau": 2.0}},
    {{"name": "fc2", "op": "linear", "in_features": 32, "out_features": 16, "bias": true}},
    {{"name": "lif2", "op": "lif", "tau": 2.0}},
    {{"name": "fc3", "op": "linear", "in_features": 16, "out_features": 10, "bias": true}},
    {{"name": "out", "op": "{op}", {fields}}}
  ],
  "edges": [
    {{"from": "input", "to": "fc1"}}, {{"from": "fc1", "to": "lif1"}},
    {{"from": "lif1", "to": "fc2"}}, {{"from": "fc2", "to": "lif2"}},
    {{"from": "lif2", "to": "fc3"}}, {{"from": "fc3", "to": "out"}}
  ]}}"#
    )
}

/// `li` / `cuba_li` readouts with membrane reductions in Candle against both interpreters on 64
/// digits test samples with placeholder weights: the same spikes in every layer at every step,
/// logits within [`CUBA_LOGIT_TOLERANCE`] (the integrator adds a few f32 products per step)
/// and the same predictions; then `snnc eval` reports Candle's spikes and accuracy.
#[test]
fn integrator_readouts_agree_with_the_interpreters_and_eval() {
    let Some(digits) = data(snnc_datasets::DatasetName::Digits) else {
        return;
    };
    let test = snnc_datasets::load(
        snnc_datasets::DatasetName::Digits,
        &digits,
        snnc_datasets::Split::Test,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, op, fields, kind) in INTEGRATOR_READOUTS {
        let text = integrator_network(name, op, fields, kind);
        let r = run_on_digits(dir.path(), &test, name, &text);
        assert_eq!(
            r.candle.layers,
            ["lif1", "lif2"],
            "{name}: the spiking layers"
        );
        for (stage, ir) in &r.interpreters {
            let what = format!("{name} ({stage})");
            for (l, layer) in r.candle.layers.iter().enumerate() {
                let i = ir
                    .layers
                    .iter()
                    .position(|n| n == layer)
                    .unwrap_or_else(|| panic!("{what}: no layer `{layer}`"));
                for s in 0..64 {
                    assert_eq!(
                        r.candle.spikes[s][l], ir.spikes[s][i],
                        "{what}: spikes of `{layer}` per step in sample {s}"
                    );
                }
            }
            let error = compare(ir, &r.candle).max_logit_error;
            assert!(
                error <= CUBA_LOGIT_TOLERANCE,
                "{what}: logits differ by {error:.3e} (relative), above {CUBA_LOGIT_TOLERANCE:e}"
            );
            assert_eq!(r.candle.predictions, ir.predictions, "{what}: predictions");
        }
        let graph = &r.interpreters[0].1;
        for layer in ["lif1", "lif2"] {
            let spikes = graph.total_spikes(layer).unwrap();
            assert!(
                spikes >= 64,
                "{name}: `{layer}` fired {spikes} times on 64 samples, too few to test anything"
            );
        }
        let correct = eval_agrees_with_candle(name, &r, &digits);
        eprintln!(
            "{name}: logits within {:.1e}, accuracy {correct}/64 (placeholder weights)",
            r.interpreters
                .iter()
                .map(|(_, ir)| compare(ir, &r.candle).max_logit_error)
                .fold(0.0, f64::max)
        );
    }
}

/// The rule `check` applies, on made-up runs of two samples: a flip licensed in one sample does
/// not waive the other sample's logits, and a flip with no float tie before it fails.
#[test]
fn a_flip_in_one_sample_leaves_the_others_checked() {
    let run = |logits: [f64; 2], spikes: [u64; 2], near: [u64; 2]| RunOutput {
        predictions: vec![0, 0],
        logits: vec![vec![logits[0], -1.0], vec![logits[1], -1.0]],
        layers: vec!["lif".into()],
        spikes: spikes.iter().map(|&c| vec![vec![c]]).collect(),
        near_threshold: near.iter().map(|&c| vec![vec![c]]).collect(),
    };
    let ir = run([1.0, 1.0], [1000, 1000], [1, 0]);
    // Sample 0 flipped on a tie and its logits moved: allowed.
    let candle = run([1.5, 1.0], [1001, 1000], [0, 0]);
    assert_eq!(compare(&ir, &candle).check(), Ok(()));
    // Sample 1's logits moved too: it had no tie, so the flip in sample 0 does not excuse it.
    let candle = run([1.5, 1.1], [1001, 1000], [0, 0]);
    let err = compare(&ir, &candle).check().unwrap_err().to_string();
    assert!(err.contains("logits differ"), "{err}");
    // A spike count differing in sample 1, where no membrane was near the threshold, fails.
    let candle = run([1.0, 1.0], [1000, 1001], [0, 0]);
    let err = compare(&ir, &candle).check().unwrap_err().to_string();
    assert!(err.contains("without a threshold flip"), "{err}");
}

/// The Candle forward (eval) against the frameworks themselves on every committed peer fixture
/// (tests/peers, docs/neurons.md): spike for spike, neuron by neuron, and the same readout.
#[test]
fn candle_matches_every_peer_fixture_spike_for_spike() {
    let root = crate::common::repo().join("tests/peers/fixtures");
    let dirs = snnc_compiler::peer::PeerRun::all(&root);
    assert!(
        !dirs.is_empty(),
        "no peer fixtures under {}",
        root.display()
    );
    for dir in dirs {
        let peer = snnc_compiler::peer::PeerRun::load(&dir).unwrap();
        let net = &peer.network;
        let mut shape = vec![peer.inputs.len()];
        if net.desc.input.encoding == snnc_compiler::network::Encoding::EventFrames {
            shape.push(net.desc.timesteps);
        }
        shape.extend(net.shapes[net.input_node].dims());
        let flat: Vec<f32> = peer.inputs.concat();
        let device = ComputeDevice::cpu();
        let input = Tensor::from_vec(flat, shape, &device).unwrap();
        let model = SnnModel::from_weights(net.clone(), &peer.weights, input.device()).unwrap();
        let mut differing = Vec::new();
        let mut record = |id: usize, t: usize, out: &Tensor| {
            let name = &net.node(id).name;
            if let Some(rec) = peer.layers.get(name) {
                let rows: Vec<Vec<f32>> = out.flatten_from(1)?.to_vec2()?;
                for (s, row) in rows.iter().enumerate() {
                    for (n, v) in row.iter().enumerate() {
                        if (*v != 0.0) != rec.spike(s, t, n) {
                            differing.push((s, name.clone(), t, n, rec.membrane(s, t, n)));
                        }
                    }
                }
            }
            Ok(())
        };
        let mut rng = snnc_datasets::transform::Rng::new(0);
        let out = model
            .forward_with_hook(&input, false, &mut rng, &mut record)
            .unwrap();
        let readout = out.readout.to_vec2::<f32>().unwrap();
        eprintln!(
            "{}: {} spikes differ from the peer in Candle",
            dir.display(),
            differing.len()
        );
        assert!(
            differing.is_empty(),
            "{}: (sample, layer, step, neuron, peer membrane) {:?}",
            dir.display(),
            &differing[..differing.len().min(5)]
        );
        for (s, row) in readout.iter().enumerate() {
            if let Err(e) = peer.check_readout(s, row) {
                panic!("{}: {e}", dir.display());
            }
        }
    }
}
