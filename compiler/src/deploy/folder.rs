//! `snnc export`'s work: a deployment folder holding the text IR with its weights (what the
//! runtime loads), the ONNX step and sequence models, and a manifest describing them.

use super::{DeployError, Provenance, WeightsSource, load, onnx_bytes, write};
use crate::emit::onnx::{self, SpikeOutputs};
use crate::ir::{Module, PopulationKind};
use crate::text;
use std::path::{Path, PathBuf};

/// File names inside the export folder.
pub const IR_FILE: &str = "network.snnir";
pub const STEP_FILE: &str = "step.onnx";
pub const SEQUENCE_FILE: &str = "sequence.onnx";
pub const MANIFEST_FILE: &str = "manifest.json";

/// What to export and where.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// A training output directory or a network.json.
    pub input: PathBuf,
    /// The folder to write (created if missing; files in it are replaced atomically).
    pub out: PathBuf,
    pub weights: WeightsSource,
    /// Run the optimisation passes (otherwise the faithful lowering is exported).
    pub optimise: bool,
    /// Layers whose full spike maps the ONNX models output.
    pub spikes: SpikeOutputs,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    pub module: String,
    pub timesteps: usize,
    /// The spiking layers, in the order the models output their spike counts.
    pub layers: Vec<String>,
    /// State tensors of the step model.
    pub states: usize,
    /// Every file written: the text IR (and its sidecar, if any), both models, the manifest.
    pub files: Vec<PathBuf>,
}

/// Compile `s.input` and write the deployment folder `s.out`. Both models are built before
/// anything is written, so an error leaves the folder as it was (or absent).
pub fn export(s: &ExportSettings) -> Result<Exported, DeployError> {
    let (m, provenance) = load(&s.input, &s.weights)?.compile(s.optimise)?;
    let opts = onnx::Options {
        spikes: s.spikes.clone(),
        source_hash: Some(provenance.source_hash.clone()),
        ..onnx::Options::default()
    };
    let (step, step_iface) = onnx_bytes(&m, false, &opts)?;
    let (seq, seq_iface) = onnx_bytes(&m, true, &opts)?;
    std::fs::create_dir_all(&s.out).map_err(|source| DeployError::CreateDir {
        path: s.out.clone(),
        source,
    })?;

    let ir = s.out.join(IR_FILE);
    text::write(&m, &ir)?;
    let sidecar = text::sidecar_path(&ir);
    let has_sidecar = m
        .tensors
        .iter()
        .any(|(_, t)| t.data.len() > text::INLINE_LIMIT);
    write(&s.out.join(STEP_FILE), &step)?;
    write(&s.out.join(SEQUENCE_FILE), &seq)?;
    let layers: Vec<String> = step_iface
        .outputs
        .iter()
        .filter_map(|o| o.name.strip_prefix("spike_count.").map(str::to_string))
        .collect();
    let manifest = Manifest {
        module: &m,
        provenance: &provenance,
        optimised: s.optimise,
        sidecar: has_sidecar.then_some(sidecar.as_path()),
        layers: &layers,
        step: &step_iface,
        sequence: &seq_iface,
    };
    let text = serde_json::to_string_pretty(&manifest.to_json())
        .expect("a JSON value always serialises")
        + "\n";
    write(&s.out.join(MANIFEST_FILE), text.as_bytes())?;

    let mut files = vec![ir];
    if has_sidecar {
        files.push(sidecar);
    }
    files.extend([STEP_FILE, SEQUENCE_FILE, MANIFEST_FILE].map(|f| s.out.join(f)));
    Ok(Exported {
        module: m.name.clone(),
        timesteps: m.timesteps,
        layers,
        states: step_iface.states.len(),
        files,
    })
}

/// What `manifest.json` describes (schema: docs/deploy.md).
struct Manifest<'a> {
    module: &'a Module,
    provenance: &'a Provenance,
    optimised: bool,
    sidecar: Option<&'a Path>,
    layers: &'a [String],
    step: &'a onnx::Interface,
    sequence: &'a onnx::Interface,
}

impl Manifest<'_> {
    fn to_json(&self) -> serde_json::Value {
        let m = self.module;
        let p = self.provenance;
        let file_name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
        serde_json::json!({
            "snnc_version": env!("CARGO_PKG_VERSION"),
            "module": m.name,
            "timesteps": m.timesteps,
            "classes": m.num_classes,
            "encoding": encoding(m),
            "readout": readout(m),
            "optimised": self.optimised,
            "meta": p.meta,
            "source": {
                "network": p.network.display().to_string(),
                "weights": p.weights_origin,
                "hash": p.source_hash,
            },
            "module_hash": onnx::module_hash(m),
            "onnx": { "ir_version": onnx::IR_VERSION, "opset": onnx::OPSET, "batch_dim": onnx::BATCH },
            "files": {
                "ir": IR_FILE,
                "weights": self.sidecar.and_then(file_name),
                "step": STEP_FILE,
                "sequence": SEQUENCE_FILE,
            },
            "layers": self.layers,
            "step": self.step,
            "sequence": self.sequence,
        })
    }
}

/// The input population's encoding as the text IR names it.
fn encoding(m: &Module) -> &'static str {
    m.input()
        .and_then(|h| match &m.populations[h].kind {
            PopulationKind::Input(i) => Some(text::encoding_name(i.encoding)),
            _ => None,
        })
        .unwrap_or("direct")
}

/// The readout's mode as the text IR names it.
fn readout(m: &Module) -> &'static str {
    m.readout()
        .and_then(|h| match &m.populations[h].kind {
            PopulationKind::Readout(r) => Some(text::readout_name(r.mode)),
            _ => None,
        })
        .unwrap_or("time_mean")
}
