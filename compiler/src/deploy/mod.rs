//! From a network on disk to files a user deploys: resolve the network and its weights, compile,
//! and write one artefact ([`compile_to_file`], `snnc compile`) or a deployment folder
//! ([`export`], `snnc export` and the pipeline's export stage).

mod artefact;
mod folder;

pub use artefact::{CompileSettings, compile_to_file};
pub use folder::{
    ExportSettings, Exported, IR_FILE, MANIFEST_FILE, SEQUENCE_FILE, STEP_FILE, export,
};

use crate::driver::{CompileError, Source, locate};
use crate::emit::onnx::{self, OnnxError};
use crate::ir::Module;
use crate::network::{Network, NetworkError, Weights, WeightsError};
use crate::text::TextError;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The weights a network is compiled with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum WeightsSource {
    /// The `weights.safetensors` beside the network (a training output directory).
    #[default]
    Beside,
    /// A safetensors file given by path.
    File(PathBuf),
    /// [`crate::placeholder::weights`] drawn from this seed: an architecture compiled without
    /// training.
    Placeholder { seed: u64 },
}

#[derive(Debug, Error)]
pub enum DeployError {
    #[error(transparent)]
    Locate(Box<CompileError>),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("{}: no weights.safetensors beside the network", network.display())]
    NoWeights { network: PathBuf },
    #[error(
        "{}: the architecture needs {values} parameter values, more than the {limit} placeholder \
         weights are drawn for; give trained weights (--weights)",
        network.display()
    )]
    PlaceholderTooLarge {
        network: PathBuf,
        values: usize,
        limit: usize,
    },
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("compiling {}", network.display())]
    Compile {
        network: PathBuf,
        #[source]
        source: Box<CompileError>,
    },
    #[error("emitting the ONNX {model} model of `{module}`")]
    Onnx {
        model: &'static str,
        module: String,
        #[source]
        source: OnnxError,
    },
    #[error(transparent)]
    Text(#[from] TextError),
    #[error("writing {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("creating {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A network with the weights it is compiled with, and a hash identifying both.
pub struct Loaded {
    pub source: Source,
    pub net: Network,
    pub weights: Weights,
    /// Where the weights came from: a path, or `synthetic:SEED` for placeholders.
    pub weights_origin: String,
    /// [`onnx::source_hash`] of the network file and the weights file (or the placeholder tag).
    pub source_hash: String,
}

/// Resolve `input` (a training output directory or a network.json) and its weights, checked
/// against the network.
pub fn load(input: &Path, weights: &WeightsSource) -> Result<Loaded, DeployError> {
    let source = locate(input).map_err(|e| DeployError::Locate(Box::new(e)))?;
    let json = read(&source.network)?;
    let net = Network::load(&source.network)?;
    let file = match weights {
        WeightsSource::File(path) => Some(path),
        WeightsSource::Beside => source.weights.as_ref(),
        WeightsSource::Placeholder { .. } => None,
    };
    let (weights, weights_origin, source_hash) = match (weights, file) {
        (_, Some(path)) => {
            let bytes = read(path)?;
            let w = Weights::from_bytes(&bytes, &path.display().to_string())?;
            net.check_weights(&w).map_err(|e| e.in_file(path))?;
            let hash = onnx::source_hash(&json, Some(&bytes));
            (w, path.display().to_string(), hash)
        }
        (WeightsSource::Placeholder { seed }, None) => {
            let values = crate::placeholder::values_needed(&net);
            if values > crate::placeholder::MAX_VALUES {
                return Err(DeployError::PlaceholderTooLarge {
                    network: source.network,
                    values,
                    limit: crate::placeholder::MAX_VALUES,
                });
            }
            let tag = format!("synthetic:{seed}");
            let hash = onnx::source_hash(&json, Some(tag.as_bytes()));
            (crate::placeholder::weights(&net, *seed), tag, hash)
        }
        (_, None) => {
            return Err(DeployError::NoWeights {
                network: source.network,
            });
        }
    };
    Ok(Loaded {
        source,
        net,
        weights,
        weights_origin,
        source_hash,
    })
}

impl Loaded {
    /// Lower and validate, and with `optimise` run every pass.
    pub fn compile(self, optimise: bool) -> Result<(Module, Provenance), DeployError> {
        let info = Provenance {
            network: self.source.network.clone(),
            weights_origin: self.weights_origin,
            source_hash: self.source_hash,
            meta: self.net.desc.meta.clone(),
        };
        let m =
            crate::driver::compile(&self.net, self.weights, optimise, false).map_err(|source| {
                DeployError::Compile {
                    network: self.source.network,
                    source: Box::new(source),
                }
            })?;
        Ok((m, info))
    }
}

/// Where a compiled module came from, as the manifest and the ONNX metadata record it.
pub struct Provenance {
    pub network: PathBuf,
    pub weights_origin: String,
    pub source_hash: String,
    /// The network's free-form `meta`, carried into the manifest.
    pub meta: serde_json::Value,
}

fn read(path: &Path) -> Result<Vec<u8>, DeployError> {
    std::fs::read(path).map_err(|source| DeployError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Write `bytes` to `path` atomically.
fn write(path: &Path, bytes: &[u8]) -> Result<(), DeployError> {
    crate::atomic::write(path, bytes).map_err(|source| DeployError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The serialised step (`sequence = false`) or sequence model of `m`, and its interface.
pub fn onnx_bytes(
    m: &Module,
    sequence: bool,
    opts: &onnx::Options,
) -> Result<(Vec<u8>, onnx::Interface), DeployError> {
    let wrap = |source| DeployError::Onnx {
        model: if sequence { "sequence" } else { "step" },
        module: m.name.clone(),
        source,
    };
    let model = if sequence {
        onnx::sequence_model(m, opts)
    } else {
        onnx::step_model(m, opts)
    }
    .map_err(wrap)?;
    let bytes = model.to_bytes().map_err(wrap)?;
    Ok((bytes, model.interface))
}
