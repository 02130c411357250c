//! `snnc compile`: a trained network (or an architecture with synthetic weights) to event IR, JSON, DOT or ONNX.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use snnc_compiler::driver::{compile, locate};
use snnc_compiler::network::{Network, Weights};
use snnc_compiler::text::{self, INLINE_LIMIT};
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
    /// Weights to use instead of the weights.safetensors beside the network.
    #[arg(long, conflicts_with = "synthetic_weights")]
    pub weights: Option<PathBuf>,
    /// Compile an architecture without trained weights, drawing them from this seed.
    #[arg(long, value_name = "SEED")]
    pub synthetic_weights: Option<u64>,
    /// Emit the faithful lowering, without running the optimisation passes.
    #[arg(long)]
    pub no_opt: bool,
}

pub fn run(a: CompileArgs) -> anyhow::Result<()> {
    let source = locate(&a.input)?;
    let net = Network::load(&source.network)?;
    let load = |path: &std::path::Path| -> anyhow::Result<Weights> {
        let w = Weights::load(path)?;
        net.check_weights(&w).map_err(|e| e.in_file(path))?;
        Ok(w)
    };
    let weights = match (&a.weights, a.synthetic_weights, &source.weights) {
        (Some(path), _, _) => load(path)?,
        (None, Some(seed), _) => snnc_compiler::synth::weights(&net, seed),
        (None, None, Some(path)) => load(path)?,
        (None, None, None) => bail!(
            "{}: no weights.safetensors beside the network; pass --weights FILE, or --synthetic-weights SEED to compile the architecture alone",
            source.network.display()
        ),
    };
    let m = compile(&net, weights, !a.no_opt, false)
        .with_context(|| format!("compiling {}", source.network.display()))?;
    let sidecar = text::sidecar_path(&a.output);
    let sidecar_name = sidecar
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let opts = text::PrintOptions {
        sidecar: sidecar_name.clone(),
        inline_limit: INLINE_LIMIT,
    };
    let write = |path: &std::path::Path, bytes: &[u8]| {
        snnc_compiler::atomic::write(path, bytes)
            .with_context(|| format!("writing {}", path.display()))
    };
    match a.emit {
        Emit::Ir => text::write(&m, &a.output)?,
        Emit::Json => {
            if let Some(bytes) = text::sidecar(&m, &opts) {
                write(&sidecar, &bytes)?;
            }
            let doc = snnc_compiler::emit::json(&m, &sidecar_name, INLINE_LIMIT);
            write(
                &a.output,
                (serde_json::to_string_pretty(&doc)? + "\n").as_bytes(),
            )?;
        }
        Emit::Dot => write(&a.output, snnc_compiler::emit::dot(&m).as_bytes())?,
        Emit::OnnxStep | Emit::OnnxSeq => {
            let loaded = super::export::load(&a.input, a.weights.as_deref(), a.synthetic_weights)?;
            let opts = snnc_compiler::emit::onnx::Options {
                source_hash: Some(loaded.source_hash),
                ..Default::default()
            };
            write(
                &a.output,
                &super::export::onnx_bytes(&m, a.emit == Emit::OnnxSeq, &opts)?.0,
            )?;
        }
    }
    eprintln!(
        "{}: {} populations, {} projections, {} weights -> {}",
        m.name,
        m.populations.len(),
        m.projections.len(),
        m.weight_count(),
        a.output.display()
    );
    Ok(())
}
