//! Drive an exported ONNX step model from a Rust host loop with tract (pure Rust, no native
//! runtime), on real test samples, and check it against snnc's event-driven runtime and the
//! reference interpreter.
//!
//! ```text
//! snnc export tests/fixtures/trained/fmnist-conv --out /tmp/fmnist-export
//! cargo run --features tract --example onnx_tract -- /tmp/fmnist-export \
//!     --dataset fashion-mnist --data-dir ../shared/data/fashion-mnist --samples 32
//! ```
//!
//! The folder is what `snnc export` writes: `step.onnx`, `manifest.json` (which lists every state
//! tensor with its shape and initial value) and `network.snnir` (for the comparison). The host
//! loop is the one docs/deploy.md describes: states start at their init values, each step feeds
//! `x_t` and the states and feeds every `*.next` output back, logits are read after step T-1.
//! Exits non-zero if tract disagrees with the runtime (architecture.md's equivalence ladder).

use anyhow::{Context, bail};
use snnc_compiler::emit::onnx::{Dim, Interface};
use snnc_compiler::reference::{RunOutput, compare, kernels::argmax, run_module};
use snnc_runtime::Inputs;
use std::path::PathBuf;
use tract_onnx::prelude::*;

struct Args {
    dir: PathBuf,
    dataset: snnc_datasets::DatasetName,
    data_dir: PathBuf,
    samples: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let mut dir = None;
    let (mut dataset, mut data_dir, mut samples) = (None, None, 16usize);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--dataset" => dataset = Some(value()?.parse().map_err(|e| anyhow::anyhow!("{e}"))?),
            "--data-dir" => data_dir = Some(PathBuf::from(value()?)),
            "--samples" => samples = value()?.parse()?,
            _ if dir.is_none() && !a.starts_with("--") => dir = Some(PathBuf::from(a)),
            _ => bail!(
                "unexpected argument `{a}`; usage: onnx_tract EXPORT_DIR --dataset NAME --data-dir DIR [--samples N]"
            ),
        }
    }
    Ok(Args {
        dir: dir
            .context("usage: onnx_tract EXPORT_DIR --dataset NAME --data-dir DIR [--samples N]")?,
        dataset: dataset.context("--dataset is required")?,
        data_dir: data_dir.context("--data-dir is required")?,
        samples,
    })
}

/// `[N, dims...]` with the batch fixed to `n`.
fn concrete(shape: &[Dim], n: usize) -> Vec<usize> {
    shape
        .iter()
        .map(|d| if let Dim::Fixed(k) = d { *k } else { n })
        .collect()
}

/// What the export folder's manifest.json says about the step model.
struct Export {
    step: Interface,
    timesteps: usize,
    events: bool,
    step_file: PathBuf,
    ir_file: PathBuf,
}

fn read_manifest(dir: &std::path::Path) -> anyhow::Result<Export> {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json"))?)?;
    let file =
        |key: &str, default: &str| dir.join(manifest["files"][key].as_str().unwrap_or(default));
    Ok(Export {
        step: serde_json::from_value(manifest["step"].clone())?,
        timesteps: manifest["timesteps"]
            .as_u64()
            .context("manifest: timesteps")? as usize,
        events: manifest["encoding"] == "event_frames",
        step_file: file("step", "step.onnx"),
        ir_file: file("ir", "network.snnir"),
    })
}

/// The first `samples` test samples, mapped exactly as the runtime maps them (normalisation,
/// padding, frames), with their labels.
fn load_samples(plan: &snnc_runtime::Plan, a: &Args) -> anyhow::Result<(Vec<Vec<f32>>, Vec<u8>)> {
    let data = snnc_runtime::data::DatasetInputs::load(
        plan,
        a.dataset,
        &a.data_dir,
        snnc_datasets::Split::Test,
        Some(a.samples),
    )?;
    let mut x: Vec<Vec<f32>> = Vec::with_capacity(data.len());
    for i in 0..data.len() {
        let mut v = Vec::new();
        data.fill(i, &mut v)?;
        x.push(v);
    }
    Ok((x, data.labels().to_vec()))
}

/// The step model with the batch fixed to `n`: input 0 is x_t, then the states in order.
fn load_step_model(export: &Export, n: usize) -> anyhow::Result<TypedRunnableModel<TypedModel>> {
    let mut model = tract_onnx::onnx().model_for_path(&export.step_file)?;
    model.set_input_fact(
        0,
        f32::fact(concrete(&export.step.inputs[0].shape, n)).into(),
    )?;
    for (i, s) in export.step.states.iter().enumerate() {
        model.set_input_fact(i + 1, f32::fact(concrete(&s.shape, n)).into())?;
    }
    Ok(model.into_optimized()?.into_runnable()?)
}

/// docs/deploy.md's host loop over all samples at once: states start at their init values, each
/// step feeds x_t and the states, every `*.next` output is fed back, logits are read after the
/// last step. Outputs come in the interface's order, then every state's next value.
fn host_loop(
    export: &Export,
    runnable: &TypedRunnableModel<TypedModel>,
    x: &[Vec<f32>],
) -> anyhow::Result<RunOutput> {
    let (step, n) = (&export.step, x.len());
    let frame = concrete(&step.inputs[0].shape, n);
    let frame_len: usize = frame[1..].iter().product();
    let mut states: Vec<Tensor> = step
        .states
        .iter()
        .map(|s| {
            let shape = concrete(&s.shape, n);
            // One value per element of a sample (a per-neuron start), repeated per sample.
            let per_sample = shape[1..].iter().product();
            Tensor::from_shape(&shape, &s.init.batch(n, per_sample))
        })
        .collect::<TractResult<_>>()?;
    let layers: Vec<(usize, String)> = step
        .outputs
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            o.name
                .strip_prefix("spike_count.")
                .map(|l| (i, l.to_string()))
        })
        .collect();
    let logits_at = step
        .outputs
        .iter()
        .position(|o| o.name == "logits")
        .context("no logits output")?;
    let mut spikes = vec![vec![Vec::with_capacity(export.timesteps); layers.len()]; n];
    let mut logits = vec![vec![0.0f64; 0]; n];
    for t in 0..export.timesteps {
        let mut frame_t = Vec::with_capacity(n * frame_len);
        for sample in x {
            let start = if export.events { t * frame_len } else { 0 };
            frame_t.extend_from_slice(&sample[start..start + frame_len]);
        }
        let mut inputs: TVec<TValue> = tvec!(Tensor::from_shape(&frame, &frame_t)?.into());
        inputs.extend(states.iter().map(|s| s.clone().into()));
        let out = runnable.run(inputs)?;
        for (l, (i, _)) in layers.iter().enumerate() {
            // tract may hold an int64 output as its symbolic-dimension type: cast to read it.
            let counts = out[*i].cast_to::<i64>()?;
            let counts = counts.to_array_view::<i64>()?;
            for (s, c) in counts.iter().enumerate() {
                spikes[s][l].push(u64::try_from(*c).unwrap_or(0));
            }
        }
        let lg = out[logits_at].to_array_view::<f32>()?;
        for (s, row) in lg.outer_iter().enumerate() {
            logits[s] = row.iter().map(|v| f64::from(*v)).collect();
        }
        let first_state = step.outputs.len();
        states = (0..step.states.len())
            .map(|k| out[first_state + k].clone().into_tensor())
            .collect();
    }
    Ok(RunOutput {
        predictions: logits.iter().map(|l| argmax(l)).collect(),
        near_threshold: spikes
            .iter()
            .map(|l| l.iter().map(|t| vec![0; t.len()]).collect())
            .collect(),
        layers: layers.iter().map(|(_, l)| l.clone()).collect(),
        logits,
        spikes,
    })
}

/// Prints tract's predictions beside the runtime's; true when tract agrees with both the runtime
/// and the reference interpreter.
fn report(tract: &RunOutput, runtime: &RunOutput, reference: &RunOutput, labels: &[u8]) -> bool {
    println!("sample  label  tract  runtime");
    for (i, (label, (ours, theirs))) in labels
        .iter()
        .zip(tract.predictions.iter().zip(&runtime.predictions))
        .enumerate()
    {
        println!("{i:>6}  {label:>5}  {ours:>5}  {theirs:>7}");
    }
    let correct = tract
        .predictions
        .iter()
        .zip(labels)
        .filter(|(p, l)| **p == usize::from(**l))
        .count();
    println!("accuracy {correct}/{}", labels.len());
    let mut ok = true;
    for (what, other) in [
        ("snnc run's runtime", runtime),
        ("the reference interpreter", reference),
    ] {
        let ag = compare(other, tract);
        match ag.check() {
            Ok(()) => println!(
                "tract agrees with {what}: predictions equal, max logit error {:.1e}, flip rate {:.1e}",
                ag.max_logit_error,
                ag.flip_rate()
            ),
            Err(e) => {
                ok = false;
                println!("tract DISAGREES with {what}: {e}");
            }
        }
    }
    ok
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    let export = read_manifest(&a.dir)?;
    let module = snnc_runtime::load::load(&export.ir_file)?;
    let plan = snnc_runtime::Plan::new(&module)?;
    let (x, labels) = load_samples(&plan, &a)?;
    let n = x.len();
    let runnable = load_step_model(&export, n)?;
    let started = std::time::Instant::now();
    let tract = host_loop(&export, &runnable, &x)?;
    let seconds = started.elapsed().as_secs_f64();
    let runtime = plan.run_output(&plan.run_batch(&x[..], false, None)?);
    let reference = run_module(&module, &x)?;
    println!(
        "{} ({} timesteps), {n} test samples of {}, tract host loop: {:.1} ms per sample",
        module.name,
        export.timesteps,
        a.dataset,
        seconds * 1e3 / n as f64
    );
    if !report(&tract, &runtime, &reference, &labels) {
        bail!("tract's results differ from snnc's");
    }
    Ok(())
}
