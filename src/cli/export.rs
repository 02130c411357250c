//! `snnc export`: one deployment folder from a trained network: the text IR with its weights
//! (what the runtime loads), the ONNX step and sequence models, and a manifest describing them.

use anyhow::{Context, bail};
use clap::Args;
use snnc_compiler::driver::{Source, compile, locate};
use snnc_compiler::emit::onnx::{self, SpikeOutputs};
use snnc_compiler::ir::Module;
use snnc_compiler::network::{Network, Weights};
use std::path::{Path, PathBuf};

/// File names inside the export folder.
pub const IR_FILE: &str = "network.snnir";
pub const STEP_FILE: &str = "step.onnx";
pub const SEQUENCE_FILE: &str = "sequence.onnx";
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A training output directory (network.json + weights.safetensors) or a network.json.
    pub input: PathBuf,
    /// The folder to write (created if missing; files in it are replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Weights to use instead of the weights.safetensors beside the network.
    #[arg(long, conflicts_with = "synthetic_weights")]
    pub weights: Option<PathBuf>,
    /// Export an architecture without trained weights, drawing them from this seed.
    #[arg(long, value_name = "SEED")]
    pub synthetic_weights: Option<u64>,
    /// Export the faithful lowering, without running the optimisation passes.
    #[arg(long)]
    pub no_opt: bool,
    /// Layers whose full spike maps the ONNX models output: `all`, or names separated by commas
    /// (spike counts per layer are always output).
    #[arg(long, value_name = "all|LAYER,...")]
    pub spikes: Option<String>,
}

/// The network, its weights and a hash identifying both, resolved as `snnc compile` does.
pub struct Loaded {
    pub source: Source,
    pub net: Network,
    pub weights: Weights,
    /// Where the weights came from: a path, or `synthetic:SEED`.
    pub weights_origin: Option<String>,
    pub source_hash: String,
}

pub fn load(
    input: &Path,
    weights: Option<&Path>,
    synthetic: Option<u64>,
) -> anyhow::Result<Loaded> {
    let source = locate(input)?;
    let json = std::fs::read(&source.network)
        .with_context(|| format!("reading {}", source.network.display()))?;
    let net = Network::load(&source.network)?;
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let (weights, origin, hash) = match (weights, synthetic, source.weights.as_deref()) {
        (Some(path), _, _) | (None, None, Some(path)) => {
            let bytes = read(path)?;
            let w = Weights::from_bytes(&bytes, &path.display().to_string())?;
            (
                w,
                Some(path.display().to_string()),
                onnx::source_hash(&json, Some(&bytes)),
            )
        }
        (None, Some(seed), _) => {
            let tag = format!("synthetic:{seed}");
            (
                snnc_compiler::synth::weights(&net, seed),
                Some(tag.clone()),
                onnx::source_hash(&json, Some(tag.as_bytes())),
            )
        }
        (None, None, None) => bail!(
            "{}: no weights.safetensors beside the network; pass --weights FILE, or --synthetic-weights SEED to export the architecture alone",
            source.network.display()
        ),
    };
    Ok(Loaded {
        source,
        net,
        weights,
        weights_origin: origin,
        source_hash: hash,
    })
}

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

/// The bytes of the step (`sequence = false`) or sequence model of `m`.
pub fn onnx_bytes(
    m: &Module,
    sequence: bool,
    opts: &onnx::Options,
) -> anyhow::Result<(Vec<u8>, onnx::Interface)> {
    let model = if sequence {
        onnx::sequence_model(m, opts)
    } else {
        onnx::step_model(m, opts)
    }
    .with_context(|| {
        format!(
            "emitting the ONNX {} model of `{}`",
            if sequence { "sequence" } else { "step" },
            m.name
        )
    })?;
    Ok((model.to_bytes()?, model.interface))
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    snnc_compiler::atomic::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

pub fn run(a: ExportArgs) -> anyhow::Result<()> {
    let l = load(&a.input, a.weights.as_deref(), a.synthetic_weights)?;
    let m = compile(&l.net, l.weights, !a.no_opt, false)
        .with_context(|| format!("compiling {}", l.source.network.display()))?;
    let opts = onnx::Options {
        spikes: spike_outputs(a.spikes.as_deref()),
        source_hash: Some(l.source_hash.clone()),
        ..onnx::Options::default()
    };
    // Build both models before writing anything, so an error leaves the folder as it was.
    let (step, step_iface) = onnx_bytes(&m, false, &opts)?;
    let (seq, seq_iface) = onnx_bytes(&m, true, &opts)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;

    let ir = a.out.join(IR_FILE);
    snnc_compiler::text::write(&m, &ir)?;
    let sidecar = snnc_compiler::text::sidecar_path(&ir);
    let has_sidecar = m
        .tensors
        .iter()
        .any(|(_, t)| t.data.len() > snnc_compiler::text::INLINE_LIMIT);
    write(&a.out.join(STEP_FILE), &step)?;
    write(&a.out.join(SEQUENCE_FILE), &seq)?;

    let file_name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let layers: Vec<String> = step_iface
        .outputs
        .iter()
        .filter_map(|o| o.name.strip_prefix("spike_count.").map(str::to_string))
        .collect();
    let encoding = m
        .input()
        .and_then(|h| match &m.populations[h].kind {
            snnc_compiler::ir::PopulationKind::Input(i) => {
                Some(snnc_compiler::text::encoding_name(i.encoding))
            }
            _ => None,
        })
        .unwrap_or("direct");
    let readout = m
        .readout()
        .and_then(|h| match &m.populations[h].kind {
            snnc_compiler::ir::PopulationKind::Readout(r) => {
                Some(snnc_compiler::text::readout_name(r.mode))
            }
            _ => None,
        })
        .unwrap_or("time_mean");
    let manifest = serde_json::json!({
        "snnc_version": env!("CARGO_PKG_VERSION"),
        "module": m.name,
        "timesteps": m.timesteps,
        "classes": m.num_classes,
        "encoding": encoding,
        "readout": readout,
        "optimised": !a.no_opt,
        "meta": l.net.desc.meta,
        "source": {
            "network": l.source.network.display().to_string(),
            "weights": l.weights_origin,
            "hash": l.source_hash,
        },
        "module_hash": onnx::module_hash(&m),
        "onnx": { "ir_version": onnx::IR_VERSION, "opset": onnx::OPSET, "batch_dim": onnx::BATCH },
        "files": {
            "ir": IR_FILE,
            "weights": if has_sidecar { file_name(&sidecar) } else { None },
            "step": STEP_FILE,
            "sequence": SEQUENCE_FILE,
        },
        "layers": layers,
        "step": step_iface,
        "sequence": seq_iface,
    });
    write(
        &a.out.join(MANIFEST_FILE),
        (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes(),
    )?;
    eprintln!(
        "{}: {} timesteps, {} layers, {} states -> {} ({IR_FILE}, {STEP_FILE}, {SEQUENCE_FILE}, {MANIFEST_FILE})",
        m.name,
        m.timesteps,
        layers.len(),
        step_iface.states.len(),
        a.out.display()
    );
    Ok(())
}
