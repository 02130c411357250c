//! `snnc compile`'s work: one network compiled to one file in one format.

use super::{DeployError, WeightsSource, load, onnx_bytes, write};
use crate::emit::{Format, onnx};
use crate::ir::Module;
use crate::text::{self, INLINE_LIMIT};
use std::path::PathBuf;

/// What to compile and where to write it.
#[derive(Debug, Clone)]
pub struct CompileSettings {
    /// A training output directory or a network.json.
    pub input: PathBuf,
    pub weights: WeightsSource,
    /// Run the optimisation passes (otherwise the faithful lowering is written).
    pub optimise: bool,
    pub format: Format,
    /// The file to write; for `Ir` and `Json` a `.safetensors` sidecar goes beside it.
    pub output: PathBuf,
}

/// Compile `s.input` and write it as `s.format`; returns the module written.
pub fn compile_to_file(s: &CompileSettings) -> Result<Module, DeployError> {
    let (m, provenance) = load(&s.input, &s.weights)?.compile(s.optimise)?;
    match s.format {
        Format::Ir => text::write(&m, &s.output)?,
        Format::Json => write_json(&m, s)?,
        Format::Dot => write(&s.output, crate::emit::dot(&m).as_bytes())?,
        Format::OnnxStep | Format::OnnxSeq => {
            let opts = onnx::Options {
                source_hash: Some(provenance.source_hash),
                ..onnx::Options::default()
            };
            let (bytes, _) = onnx_bytes(&m, s.format == Format::OnnxSeq, &opts)?;
            write(&s.output, &bytes)?;
        }
    }
    Ok(m)
}

/// The module as JSON, its large tensors in the sidecar as for the text form.
fn write_json(m: &Module, s: &CompileSettings) -> Result<(), DeployError> {
    let sidecar = text::sidecar_path(&s.output);
    let sidecar_name = sidecar
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let opts = text::PrintOptions {
        sidecar: sidecar_name.clone(),
        inline_limit: INLINE_LIMIT,
    };
    if let Some(bytes) = text::sidecar(m, &opts) {
        write(&sidecar, &bytes)?;
    }
    let doc = crate::emit::json(m, &sidecar_name, INLINE_LIMIT);
    let json = serde_json::to_string_pretty(&doc).expect("a JSON value always serialises") + "\n";
    write(&s.output, json.as_bytes())
}
