//! The search crate's typed errors: each names the file, line, flag, architecture or cell it is
//! about, so callers can match on them and the CLI prints one message.

use std::path::{Path, PathBuf};
use thiserror::Error;

pub type Result<T> = std::result::Result<T, SearchError>;

#[derive(Debug, Error)]
pub enum SearchError {
    // Other crates' errors are boxed: they are large, and every `Result` here carries the enum.
    #[error(transparent)]
    Data(#[from] Box<snnc_datasets::DataError>),
    #[error(transparent)]
    Network(#[from] Box<snnc_compiler::network::NetworkError>),
    #[error(transparent)]
    Weights(#[from] Box<snnc_compiler::network::WeightsError>),
    #[error(transparent)]
    Target(#[from] Box<snnc_targets::TargetError>),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    /// The operating system refused a read, a write or a folder operation. (Fields named
    /// `error`, not `source`: the message already holds it, and the CLI prints the chain.)
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A file exists but its contents are not what was written there.
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    /// A line of a JSON-lines log that is not the torn tail of an interrupted append.
    #[error(
        "{} line {line}: {message}; the log is damaged: mend or delete that line, or use another --out",
        path.display()
    )]
    LogLine {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A numbered log whose records are not 0, 1, 2, ... in order.
    #[error("{}: record {position} has index {found}; the file is not {what}", path.display())]
    LogOrder {
        path: PathBuf,
        position: usize,
        found: usize,
        what: &'static str,
    },
    /// A run folder made with other settings than the ones given.
    #[error(
        "{}: made with other settings ({found}); resume with the same flags or use another --out",
        path.display()
    )]
    OtherSettings { path: PathBuf, found: String },
    /// `--resume` without a checkpoint to resume from.
    #[error("{}: cannot resume: {error}; run without --resume to start afresh", path.display())]
    NoCheckpoint {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A checkpoint says training is over but the run's final files are missing.
    #[error(
        "{}: the checkpoint says training is past its last epoch but {missing} is absent; \
         delete the checkpoint folder to retrain",
        dir.display()
    )]
    FinishedWithoutOutputs { dir: PathBuf, missing: &'static str },
    /// Settings no run can use, each problem named by its CLI flag.
    #[error("{}", problems.join("; "))]
    Settings { problems: Vec<String> },
    /// A name on the command line or in a file that is not one of the known choices.
    #[error("unknown {what} `{given}`: use {choices}")]
    UnknownName {
        what: &'static str,
        given: String,
        choices: &'static str,
    },
    /// The dataset and the network's input do not fit each other.
    #[error("{dataset} does not fit the network: {message}")]
    Input { dataset: String, message: String },
    /// The dataset's classes differ from the network's readout.
    #[error("{dataset} has {found} classes but the network's num_classes is {expected}")]
    ClassCount {
        dataset: String,
        found: usize,
        expected: usize,
    },
    /// Too few samples for what the settings ask of them.
    #[error("{message}")]
    TooFewSamples { message: String },
    /// A network the search builders made for an architecture or genotype does not build.
    #[error("architecture {arch}: {message}")]
    Architecture { arch: String, message: String },
    /// The training loss stopped being a number.
    #[error(
        "the loss became {loss} at epoch {epoch} batch {batch}{}; lower --lr (now {lr})",
        path.as_ref().map(|p| format!(" (path {p})")).unwrap_or_default()
    )]
    Diverged {
        epoch: usize,
        batch: usize,
        loss: f64,
        lr: f64,
        /// The supernet path sampled for that batch.
        path: Option<String>,
    },
    /// Spike patterns whose shape does not match the kernel being built.
    #[error("spike patterns: {message}")]
    SpikeShape { message: String },
    /// One cell of the correlation study failed.
    #[error("cell {index}: {error}")]
    Cell {
        index: usize,
        error: Box<SearchError>,
    },
    /// Stopped by the user; running the same command again continues.
    #[error("interrupted; run the same command again to continue")]
    Interrupted,
    /// The Pareto plot could not be drawn.
    #[error("{}: cannot draw the plot: {message}", path.display())]
    Plot { path: PathBuf, message: String },
    /// A thread pool could not be started.
    #[error("thread pool: {message}")]
    Threads { message: String },
}

impl SearchError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, error: std::io::Error) -> SearchError {
        SearchError::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    /// A file at `path` whose contents do not parse.
    pub fn corrupt(path: &Path, message: impl std::fmt::Display) -> SearchError {
        SearchError::Corrupt {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }

    /// One setting no run can use.
    pub fn setting(problem: impl Into<String>) -> SearchError {
        SearchError::Settings {
            problems: vec![problem.into()],
        }
    }

    /// A builder's failure for the architecture written `arch`.
    pub fn architecture(arch: impl std::fmt::Display, message: impl std::fmt::Display) -> Self {
        SearchError::Architecture {
            arch: arch.to_string(),
            message: message.to_string(),
        }
    }

    /// A dataset/network mismatch reported by the input pipeline.
    pub fn input(dataset: impl std::fmt::Display, message: impl std::fmt::Display) -> Self {
        SearchError::Input {
            dataset: dataset.to_string(),
            message: message.to_string(),
        }
    }
}

/// `?` on another crate's error boxes it.
macro_rules! boxed_from {
    ($($error:ty),*) => {$(
        impl From<$error> for SearchError {
            fn from(e: $error) -> Self {
                Box::new(e).into()
            }
        }
    )*};
}

boxed_from!(
    snnc_datasets::DataError,
    snnc_compiler::network::NetworkError,
    snnc_compiler::network::WeightsError,
    snnc_targets::TargetError
);

/// `Ok(())` if `problems` is empty, else the settings error listing them.
pub fn check_settings(problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SearchError::Settings { problems })
    }
}
