//! The one error type every reader returns, with messages that name the file, the fault and the fix.
//!
//! Each message is complete on its own: an underlying `io::Error` is folded into the text rather
//! than exposed through `Error::source`, so printing the error once says everything.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::name::VALID_NAMES;

/// Everything that can go wrong while finding, reading or checking a dataset file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file or folder the reader needs does not exist. `path` may hold a glob-like pattern
    /// (`data_batch*.bin`) when no file matched it.
    #[error("{}: not found; {hint}", path.display())]
    MissingFile { path: PathBuf, hint: String },

    /// The operating system refused a read.
    #[error("{}: cannot read: {error}", path.display())]
    Io { path: PathBuf, error: io::Error },

    /// A file starts like gzip but its compressed stream is damaged.
    #[error("{}: corrupt gzip data ({error}); the download is damaged, fetch the file again", path.display())]
    Decompress { path: PathBuf, error: io::Error },

    /// A gzip file inflates past what any dataset file this crate reads can hold.
    #[error(
        "{}: inflates to more than {limit} bytes, more than any dataset file this reader takes; \
         the file is not a dataset file (or is a gzip bomb)",
        path.display()
    )]
    InflatesTooLarge { path: PathBuf, limit: u64 },

    /// The leading magic number is not the one this format requires.
    #[error(
        "{}: bad magic number: expected 0x{expected:08x} ({what}), found 0x{found:08x}; \
         check that this is the right file",
        path.display()
    )]
    BadMagic {
        path: PathBuf,
        expected: u32,
        found: u32,
        what: &'static str,
    },

    /// The file holds fewer bytes than its header (or the format) promises.
    #[error(
        "{}: truncated: expected {expected} bytes, found {found}; the file is incomplete, fetch it again",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },

    /// The file holds more bytes than its header describes.
    #[error(
        "{}: trailing garbage: expected {expected} bytes, found {found} ({} extra); \
         the file is corrupt or not in this format",
        path.display(),
        found.saturating_sub(*expected)
    )]
    TrailingData {
        path: PathBuf,
        expected: u64,
        found: u64,
    },

    /// An image file and its label file disagree on the number of samples.
    #[error(
        "count mismatch: {} holds {images} images but {} holds {labels} labels; \
         both files must come from the same split",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        images_path: PathBuf,
        images: usize,
        labels_path: PathBuf,
        labels: usize,
    },

    /// A stored label is not a valid class index.
    #[error(
        "{}: label out of range: sample {index} has label {label}, but there are only {classes} classes \
         (0..={}); the file is corrupt",
        path.display(),
        classes.saturating_sub(1)
    )]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        label: u32,
        classes: usize,
    },

    /// A file of fixed-size records whose length is not a whole number of records.
    #[error(
        "{}: wrong size: {size} bytes is not a multiple of the {record}-byte record size; \
         the file is truncated or not in this format",
        path.display()
    )]
    RecordSize {
        path: PathBuf,
        size: u64,
        record: usize,
    },

    /// A text file has a line that does not follow the format.
    #[error("{}: line {line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },

    /// A number in a text file parses but lies outside the allowed range.
    #[error(
        "{}: line {line}: value out of range: column {column} is {value}, allowed 0..={max}",
        path.display()
    )]
    ValueOutOfRange {
        path: PathBuf,
        line: usize,
        column: usize,
        value: String,
        max: u32,
    },

    /// An event lies outside the sensor.
    #[error(
        "{}: event {index} out of range: (x={x}, y={y}) is outside the {width}x{height} sensor; \
         the file is corrupt or not N-MNIST",
        path.display()
    )]
    EventOutOfRange {
        path: PathBuf,
        index: usize,
        x: u8,
        y: u8,
        width: usize,
        height: usize,
    },

    /// More than one file matches a pattern that must name exactly one file.
    #[error(
        "{}: {pattern} is ambiguous, {} files match: {}; keep one of them in the folder",
        dir.display(),
        found.len(),
        PathList(found)
    )]
    Ambiguous {
        dir: PathBuf,
        pattern: String,
        found: Vec<PathBuf>,
    },

    /// A dataset name that is not one of the known ones.
    #[error(transparent)]
    UnknownDataset(#[from] ParseDatasetNameError),
}

/// A dataset name that is not one of [`VALID_NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown dataset '{given}'; valid names: {}", VALID_NAMES.join(", "))]
pub struct ParseDatasetNameError {
    pub given: String,
}

/// A split name that is neither `train` nor `test`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown split '{given}'; valid splits: train, test")]
pub struct ParseSplitError {
    pub given: String,
}

struct PathList<'a>(&'a [PathBuf]);

impl fmt::Display for PathList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", p.display())?;
        }
        Ok(())
    }
}

impl DataError {
    /// Wraps an `io::Error` from reading `path`; "not found" becomes [`DataError::MissingFile`].
    pub(crate) fn from_io(path: &Path, error: io::Error, hint: &str) -> Self {
        if error.kind() == io::ErrorKind::NotFound {
            DataError::MissingFile {
                path: path.to_path_buf(),
                hint: hint.to_string(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                error,
            }
        }
    }
}
