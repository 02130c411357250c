//! The `.snnir` text form: a deterministic printer, a parser with line:column errors, and the
//! safetensors sidecar that holds large tensors.
//!
//! One line per entity, numbered densely in arena order (`t0..`, `p0..`, `e0..`), so a handle in
//! an error message is the line's name. Tensors with at most [`INLINE_LIMIT`] values are written
//! inline; larger ones live in the sidecar under their handle's name (`t3`), and the text keeps
//! their shape and an FNV-1a hash of their bytes, so snapshots still see every weight change.
//! See `docs/ir.md` for the grammar.

mod lex;
mod parse;
mod print;

pub use parse::{ParseError, SourceMap, parse};
pub use print::{
    PrintOptions, compare_name, encoding_name, print, readout_name, reset_name, sidecar,
};

use crate::ir::Module;
use crate::network::Weights;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The text form's version; the first line of every file is `snnir 1`.
pub const VERSION: u32 = 1;

/// Tensors with at most this many values are printed inline.
pub const INLINE_LIMIT: usize = 16;

#[derive(Debug, Error)]
pub enum TextError {
    #[error("{file}: cannot {action}: {message}")]
    Io {
        file: String,
        action: &'static str,
        message: String,
    },
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// The sidecar path for a `.snnir` path: same folder and stem, `.safetensors`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    path.with_extension("safetensors")
}

/// Write `m` to `path` (text) and, if any tensor is too large to inline, its sidecar beside it.
/// Both files are written atomically.
pub fn write(m: &Module, path: &Path) -> Result<(), TextError> {
    let side = sidecar_path(path);
    let side_name = side
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let opts = PrintOptions {
        sidecar: side_name,
        inline_limit: INLINE_LIMIT,
    };
    let io = |file: &Path, e: std::io::Error| TextError::Io {
        file: file.display().to_string(),
        action: "write",
        message: e.to_string(),
    };
    if let Some(bytes) = sidecar(m, &opts) {
        crate::atomic::write(&side, &bytes).map_err(|e| io(&side, e))?;
    }
    crate::atomic::write(path, print(m, &opts).as_bytes()).map_err(|e| io(path, e))
}

/// Read a `.snnir` file and the sidecar its `weights` line names (relative to the file).
pub fn read(path: &Path) -> Result<(Module, SourceMap), TextError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| TextError::Io {
        file: file.clone(),
        action: "read",
        message: e.to_string(),
    })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(parse(&text, &file, |name| Weights::load(&dir.join(name)))?)
}
