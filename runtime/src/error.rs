//! The runtime's typed errors: each names the file, population or sample it is about.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("{}: {source}", path.display())]
    Compile {
        path: PathBuf,
        source: Box<snnc_compiler::driver::CompileError>,
    },
    #[error(transparent)]
    Text(#[from] Box<snnc_compiler::text::TextError>),
    #[error("{}: {source}", path.display())]
    Weights {
        path: PathBuf,
        // Boxed: the weights error is large, and every result of the runtime carries this type.
        source: Box<snnc_compiler::network::WeightsError>,
    },
    #[error("{}: no weights.safetensors beside the network; compile it with trained weights first (or give a .snnir)", path.display())]
    NoWeights { path: PathBuf },
    #[error("{}: not a compiled module: expected a .snnir file, a training output directory or a network.json", path.display())]
    NotCompiled { path: PathBuf },
    #[error("the module is invalid: {0}")]
    Invalid(#[from] Box<snnc_compiler::validate::ValidationErrors>),
    #[error("sample {sample}: expected {expected} input values ({what}), got {found}")]
    InputSize {
        sample: usize,
        expected: usize,
        found: usize,
        what: String,
    },
    #[error(transparent)]
    Data(#[from] Box<snnc_datasets::DataError>),
    #[error("dataset {dataset} does not fit the module `{module}`: {message}")]
    Mismatch {
        dataset: String,
        module: String,
        message: String,
    },
    #[error(transparent)]
    Target(#[from] snnc_targets::TargetError),
    #[error(transparent)]
    Write(#[from] snnc_compiler::atomic::WriteError),
    #[error("plot {}: {source}", path.display())]
    Plot {
        path: PathBuf,
        source: crate::report::DrawError,
    },
}
