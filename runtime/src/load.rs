//! Loading what `snnc run` is given: a `.snnir` module, or a trained network compiled on the spot.

use crate::error::RuntimeError;
use snnc_compiler::driver::{CompileError, compile, locate};
use snnc_compiler::ir::Module;
use snnc_compiler::network::{Network, Weights};
use std::path::Path;

/// A `.snnir` file (with its sidecar) as written, or a training output directory / network.json
/// with its `weights.safetensors`, lowered, validated and optimised by the compiler's driver.
pub fn load(path: &Path) -> Result<Module, RuntimeError> {
    if path.is_file() && path.extension().is_some_and(|e| e == "snnir") {
        return Ok(snnc_compiler::text::read(path).map_err(Box::new)?.0);
    }
    let source = locate(path).map_err(|_| RuntimeError::NotCompiled {
        path: path.to_path_buf(),
    })?;
    let net = Network::load(&source.network).map_err(|e| RuntimeError::Compile {
        path: source.network.clone(),
        source: Box::new(CompileError::from(e)),
    })?;
    let weights_path = source.weights.ok_or_else(|| RuntimeError::NoWeights {
        path: source.network.clone(),
    })?;
    let weights = Weights::load(&weights_path)
        .and_then(|w| net.check_weights(&w).map(|()| w))
        .map_err(|e| RuntimeError::Weights {
            path: weights_path.clone(),
            source: Box::new(e),
        })?;
    compile(&net, weights, true, false).map_err(|e| RuntimeError::Compile {
        path: source.network,
        source: Box::new(e),
    })
}
