//! The compile pipeline as one call: find the inputs, load, lower, validate, optimise.

use crate::ir::Module;
use crate::lower::{LowerError, lower};
use crate::network::{Network, NetworkError, Weights, WeightsError};
use crate::validate::{ValidationErrors, validate};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CompileError {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(transparent)]
    Lower(#[from] LowerError),
    #[error("{stage}: the module is invalid: {error}")]
    Invalid {
        stage: String,
        error: Box<ValidationErrors>,
    },
    #[error("{0}: no network found (expected a network.json, or a directory holding one)")]
    NoNetwork(String),
}

/// Where a network and its weights are.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub network: PathBuf,
    /// `weights.safetensors` beside the network, if present.
    pub weights: Option<PathBuf>,
}

/// Resolve a training output directory (network.json + weights.safetensors) or a network file.
pub fn locate(input: &Path) -> Result<Source, CompileError> {
    let network = if input.is_dir() {
        input.join("network.json")
    } else {
        input.to_path_buf()
    };
    if !network.is_file() {
        return Err(CompileError::NoNetwork(input.display().to_string()));
    }
    let weights = network
        .parent()
        .map(|d| d.join("weights.safetensors"))
        .filter(|w| w.is_file());
    Ok(Source { network, weights })
}

/// Lower and validate; with `optimise`, run every pass (validating after each when
/// `check_each_pass`, as the tests do).
pub fn compile(
    net: &Network,
    weights: Weights,
    optimise: bool,
    check_each_pass: bool,
) -> Result<Module, CompileError> {
    let mut m = lower(net, weights)?;
    validate(&m).map_err(|error| CompileError::Invalid {
        stage: "lowering".into(),
        error: Box::new(error),
    })?;
    if optimise {
        for (name, pass) in crate::passes::PIPELINE {
            m = pass(m);
            if check_each_pass {
                validate(&m).map_err(|error| CompileError::Invalid {
                    stage: format!("pass {name}"),
                    error: Box::new(error),
                })?;
            }
        }
        if !check_each_pass {
            validate(&m).map_err(|error| CompileError::Invalid {
                stage: "optimisation".into(),
                error: Box::new(error),
            })?;
        }
    }
    Ok(m)
}
