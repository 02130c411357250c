//! Typed errors of target lookup, loading and validation, each naming the file and the problem.

use std::path::PathBuf;

/// What went wrong finding or loading a target. Every variant that concerns a file names it.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Neither a built-in name nor an existing file.
    #[error("unknown target `{name}`; built-in targets: {}; or give the path of a target file (.json)", valid.join(", "))]
    UnknownTarget { name: String, valid: Vec<String> },
    /// The file could not be read.
    #[error("{}: cannot read target file: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not JSON, or JSON not of the target schema: bad syntax, a missing or unknown field, a value
    /// of the wrong type, a negative or non-finite energy, an unknown number format.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Well-formed, but inconsistent: a row citing a source the file does not list, both or neither
    /// kind of pricing, a count both priced and covered ...
    #[error("{file}{}: {field}: {problem}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        file: String,
        line: Option<usize>,
        field: String,
        problem: String,
    },
}
