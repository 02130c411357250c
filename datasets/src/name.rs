//! Dataset and split names: parsing, printing and the facts that follow from a name.

use std::fmt;
use std::str::FromStr;

use crate::error::{ParseDatasetNameError, ParseSplitError};

/// The names accepted by [`DatasetName::from_str`], in declaration order.
pub const VALID_NAMES: [&str; 5] = ["mnist", "fashion-mnist", "cifar10", "nmnist", "digits"];

/// One of the datasets snnc knows how to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasetName {
    /// MNIST handwritten digits, 28x28 grey, IDX files.
    Mnist,
    /// Fashion-MNIST clothing images, 28x28 grey, IDX files.
    FashionMnist,
    /// CIFAR-10, 32x32 RGB, binary version.
    Cifar10,
    /// N-MNIST events from a 34x34 event camera.
    Nmnist,
    /// scikit-learn's 8x8 digits, values 0..=16.
    Digits,
}

impl DatasetName {
    /// Every dataset, in declaration order.
    pub const ALL: [DatasetName; 5] = [
        DatasetName::Mnist,
        DatasetName::FashionMnist,
        DatasetName::Cifar10,
        DatasetName::Nmnist,
        DatasetName::Digits,
    ];

    /// The command-line spelling, e.g. `fashion-mnist`.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Nmnist => "nmnist",
            DatasetName::Digits => "digits",
        }
    }

    /// Number of classes (10 for every dataset here).
    pub fn num_classes(self) -> usize {
        10
    }

    /// True for event-camera data (read into an [`EventSet`](crate::EventSet)).
    pub fn is_events(self) -> bool {
        self == DatasetName::Nmnist
    }

    /// The raw per-sample shape `[C, H, W]` as stored on disk; for N-MNIST, `[2, 34, 34]`
    /// (two polarities over the sensor).
    pub fn raw_shape(self) -> [usize; 3] {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => [1, 28, 28],
            DatasetName::Cifar10 => [3, 32, 32],
            DatasetName::Nmnist => [2, 34, 34],
            DatasetName::Digits => [1, 8, 8],
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = ParseDatasetNameError;

    /// Accepts the names in [`VALID_NAMES`], ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        DatasetName::ALL
            .into_iter()
            .find(|n| n.as_str() == lower)
            .ok_or_else(|| ParseDatasetNameError {
                given: s.to_string(),
            })
    }
}

/// Which half of a dataset to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    /// `train` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Split {
    type Err = ParseSplitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            _ => Err(ParseSplitError {
                given: s.to_string(),
            }),
        }
    }
}
