//! `snnc eval`: test accuracy and spikes per sample per layer of a trained run.

use super::args::DataArgs;
use anyhow::Context;
use clap::Args;
use snnc_datasets::Split;
use snnc_datasets::transform::FrameSplit;
use snnc_search::data::{Augment, InputPipeline};
use snnc_search::train::{LossKind, evaluate, load_run};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Training output directory (network.json + weights.safetensors).
    #[arg(long)]
    pub run: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Evaluate only the first N test samples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: EvalArgs) -> anyhow::Result<()> {
    let model = load_run(&a.run, &crate::cli::compute_device())
        .with_context(|| format!("loading the run in {}", a.run.display()))?;
    let test = snnc_datasets::load(a.data.dataset, &a.data.data_dir, Split::Test)?;
    let pipeline = InputPipeline::new(&model.net, &test, Augment::NONE, FrameSplit::ByCount)?;
    if let Some(note) = pipeline.transform_note() {
        eprintln!("input: {note}");
    }
    let loss = LossKind::for_readout(model.net.desc.readout.kind);
    let ev = evaluate(
        &model,
        &test,
        &pipeline,
        a.batch_size.max(1),
        a.limit,
        loss,
        None,
    )?;
    if a.json {
        let out = serde_json::json!({
            "run": a.run,
            "dataset": a.data.dataset.to_string(),
            "samples": ev.samples,
            "accuracy": ev.accuracy,
            "loss": ev.loss,
            "spikes_per_sample": ev.spikes_per_sample(),
            "layers": ev.layers,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{} on {} test samples of {}",
        model.net.desc.name, ev.samples, a.data.dataset
    );
    println!("accuracy  {:.2}%", 100.0 * ev.accuracy);
    println!();
    println!(
        "{:<24} {:>10} {:>16} {:>10}",
        "layer", "neurons", "spikes/sample", "rate"
    );
    let t = model.timesteps() as f64;
    for l in &ev.layers {
        println!(
            "{:<24} {:>10} {:>16.1} {:>9.2}%",
            l.name,
            l.neurons,
            l.spikes_per_sample,
            100.0 * l.spikes_per_sample / (l.neurons as f64 * t)
        );
    }
    println!(
        "{:<24} {:>10} {:>16.1}",
        "total",
        "",
        ev.spikes_per_sample()
    );
    Ok(())
}
