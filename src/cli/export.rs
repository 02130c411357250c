//! `snnc export`: one deployment folder from a trained network: the text IR with its weights
//! (what the runtime loads), the ONNX step and sequence models, and a manifest describing them.

use super::args::{WeightsArgs, deploy_error};
use clap::Args;
use snnc_compiler::deploy::{
    self, ExportSettings, IR_FILE, MANIFEST_FILE, SEQUENCE_FILE, STEP_FILE,
};
use snnc_compiler::emit::onnx::SpikeOutputs;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A training output directory (network.json + weights.safetensors) or a network.json.
    pub input: PathBuf,
    /// The folder to write (created if missing; files in it are replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub weights: WeightsArgs,
    /// Export the faithful lowering, without running the optimisation passes.
    #[arg(long)]
    pub no_opt: bool,
    /// Layers whose full spike maps the ONNX models output: `all`, or names separated by commas
    /// (spike counts per layer are always output).
    #[arg(long, value_name = "all|LAYER,...")]
    pub spikes: Option<String>,
}

/// `--spikes` as the ONNX emitter takes it.
pub fn spike_outputs(spec: Option<&str>) -> SpikeOutputs {
    match spec.map(str::trim) {
        None | Some("") | Some("none") => SpikeOutputs::None,
        Some("all") => SpikeOutputs::All,
        Some(list) => SpikeOutputs::Layers(
            list.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        ),
    }
}

pub fn run(a: ExportArgs) -> anyhow::Result<()> {
    let settings = ExportSettings {
        input: a.input,
        out: a.out,
        weights: a.weights.source(),
        optimise: !a.no_opt,
        spikes: spike_outputs(a.spikes.as_deref()),
    };
    let e = deploy::export(&settings).map_err(|e| deploy_error(e, "export"))?;
    eprintln!(
        "{}: {} timesteps, {} layers, {} states -> {} ({IR_FILE}, {STEP_FILE}, {SEQUENCE_FILE}, {MANIFEST_FILE})",
        e.module,
        e.timesteps,
        e.layers.len(),
        e.states,
        settings.out.display()
    );
    Ok(())
}
