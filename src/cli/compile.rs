//! `snnc compile`: a trained network (or an architecture with placeholder weights) to event IR,
//! JSON, DOT or ONNX.

use super::args::{WeightsArgs, deploy_error};
use clap::{Args, ValueEnum};
use snnc_compiler::deploy::{CompileSettings, compile_to_file};
use snnc_compiler::emit::Format;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// `.snnir` text, with large tensors in a `.safetensors` sidecar beside it.
    Ir,
    /// The module as JSON (large tensors in the sidecar, as for `ir`).
    Json,
    /// A Graphviz digraph.
    Dot,
    /// The stateful single-step ONNX model (docs/deploy.md).
    OnnxStep,
    /// The whole-sequence ONNX model (time loop inside, as a Scan).
    OnnxSeq,
}

impl From<Emit> for Format {
    fn from(e: Emit) -> Format {
        match e {
            Emit::Ir => Format::Ir,
            Emit::Json => Format::Json,
            Emit::Dot => Format::Dot,
            Emit::OnnxStep => Format::OnnxStep,
            Emit::OnnxSeq => Format::OnnxSeq,
        }
    }
}

#[derive(Args, Debug)]
pub struct CompileArgs {
    /// A training output directory (network.json + weights.safetensors) or a network.json.
    pub input: PathBuf,
    /// What to write.
    #[arg(long, value_enum, default_value_t = Emit::Ir)]
    pub emit: Emit,
    /// Output file; for `ir` and `json` the sidecar is written beside it (same stem, .safetensors).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub weights: WeightsArgs,
    /// Emit the faithful lowering, without running the optimisation passes.
    #[arg(long)]
    pub no_opt: bool,
}

pub fn run(a: CompileArgs) -> anyhow::Result<()> {
    let settings = CompileSettings {
        input: a.input,
        weights: a.weights.source(),
        optimise: !a.no_opt,
        format: a.emit.into(),
        output: a.output,
    };
    let m = compile_to_file(&settings).map_err(|e| deploy_error(e, "compile"))?;
    eprintln!(
        "{}: {} populations, {} projections, {} weights -> {}",
        m.name,
        m.populations.len(),
        m.projections.len(),
        m.weight_count(),
        settings.output.display()
    );
    Ok(())
}
