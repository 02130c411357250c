//! The equivalence ladder between the Candle forward (eval mode) and the compiler's reference
//! interpreter on the lowered and optimised IR of every golden fixture and example architecture.
//!
//! Candle computes in f32, the interpreter accumulates in f64; the ladder (architecture.md) allows
//! exactly that: equal predictions, logits within 1e-4 relative, spike counts equal up to flips of
//! membranes within 1e-4 of the threshold.

use snnc_compiler::network::Network;
use snnc_compiler::reference::{RunOutput, run_module};
use snnc_compiler::synth;
use snnc_search::candle_core::Tensor;
use snnc_search::device::ComputeDevice;
use snnc_search::model::SnnModel;
use std::path::{Path, PathBuf};

const SAMPLES: usize = 4;

type CandleRun = (Vec<Vec<f64>>, Vec<(String, Vec<f64>)>);

/// Candle's logits per sample and spikes per layer and step (summed over the batch).
fn candle_run(
    net: &Network,
    weights: &snnc_compiler::network::Weights,
    x: &[Vec<f32>],
) -> CandleRun {
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

fn candle_forward(
    net: &Network,
    weights: &snnc_compiler::network::Weights,
    input: &Tensor,
) -> CandleRun {
    let model =
        SnnModel::from_weights(net.clone(), weights, input.device()).expect("the model builds");
    let mut rng = snnc_datasets::transform::Rng::new(0);
    let out = model.forward(input, false, &mut rng, true).unwrap();
    let logits: Vec<Vec<f32>> = out.readout.to_vec2().unwrap();
    let spikes = out
        .spikes
        .into_iter()
        .map(|(id, s)| (net.node(id).name.clone(), s))
        .collect();
    (
        logits
            .into_iter()
            .map(|r| r.into_iter().map(f64::from).collect())
            .collect(),
        spikes,
    )
}

/// Check the ladder with Candle's batch-summed spike counts: a count may differ at step t only if
/// some sample had a near-threshold membrane at or before t.
fn check(what: &str, candle: &CandleRun, ir: &RunOutput) -> f64 {
    let (logits, spikes) = candle;
    let steps = ir.spikes[0].first().map_or(0, |l| l.len());
    let first_near =
        (0..steps).find(|&t| ir.near_threshold.iter().any(|s| s.iter().any(|l| l[t] > 0)));
    let (mut flips, mut total) = (0.0, 0.0);
    for (name, per_step) in spikes {
        let l = ir
            .layers
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("{what}: no layer `{name}` in the IR run"));
        for (t, c) in per_step.iter().enumerate() {
            let mine: u64 = ir.spikes.iter().map(|s| s[l][t]).sum();
            total += c;
            if (mine as f64 - c).abs() > 0.0 {
                assert!(
                    first_near.is_some_and(|t0| t >= t0),
                    "{what}: layer `{name}` step {t}: Candle {c} spikes, IR {mine}, and no membrane was near the threshold"
                );
                flips += (mine as f64 - c).abs();
            }
        }
    }
    let flipped = flips > 0.0;
    for (s, (a, b)) in logits.iter().zip(&ir.logits).enumerate() {
        let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let diff = a
            .iter()
            .zip(b)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            flipped || diff <= 1e-4 * scale,
            "{what}: sample {s}: logits differ by {diff:e} (scale {scale})"
        );
        let pa = snnc_compiler::reference::kernels::argmax(a);
        assert!(
            flipped || pa == ir.predictions[s],
            "{what}: sample {s}: prediction {pa} vs {}",
            ir.predictions[s]
        );
    }
    let rate = if total > 0.0 { flips / total } else { 0.0 };
    assert!(rate <= 1e-3, "{what}: flip rate {rate:e}");
    rate
}

fn networks() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<PathBuf> = [
        "snasnet_c10",
        "snasnet_c100",
        "snasnet_forward",
        "snasnet_per_step",
        "autosnn",
        "mlp",
        "delay2",
    ]
    .iter()
    .map(|f| root.join("tests/fixtures").join(f).join("network.json"))
    .collect();
    if let Ok(entries) = std::fs::read_dir(root.join("examples/architectures")) {
        let mut more: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        more.sort();
        v.extend(more);
    }
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
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trained");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&committed)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("network.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no trained fixtures under {}",
        committed.display()
    );
    if let Some(list) = std::env::var_os("SNNC_IR_RUNS") {
        dirs.extend(std::env::split_paths(&list));
    }
    for dir in dirs {
        let net = Network::load(&dir.join("network.json")).unwrap();
        let weights =
            snnc_compiler::network::Weights::load(&dir.join("weights.safetensors")).unwrap();
        let dataset: snnc_datasets::DatasetName = net.desc.meta["dataset"]
            .as_str()
            .expect("meta.dataset")
            .parse()
            .unwrap();
        let Some(data_dir) = snnc_datasets::testdata::dataset_dir(dataset) else {
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
