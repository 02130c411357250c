//! Dataset readers in plain Rust: MNIST/Fashion-MNIST IDX, CIFAR-10 binary, N-MNIST events, digits CSV.
//!
//! [`load`] reads one split of a named dataset from its folder (the `--data-dir` of the CLI) into
//! an [`ImageSet`] (raw bytes, CHW per sample) or an [`EventSet`] (event lists). Every fault in
//! the files is a [`DataError`] whose message names the file, the fault and the fix. The
//! [`transform`] module turns samples into f32 network input; [`testdata`] locates the real data
//! for tests.

mod cifar;
mod digits;
mod error;
pub mod fuzz;
mod idx;
mod input;
mod io;
mod name;
mod nmnist;
mod set;
pub mod testdata;
pub mod transform;

use std::path::Path;

pub use cifar::{
    CIFAR_PIXELS, CIFAR_RECORD, CIFAR_SIDE, cifar_files, cifar_prefix, read_cifar_bin,
};
pub use digits::{
    DIGITS_FILE, DIGITS_MAX, DIGITS_SIDE, DIGITS_SPLIT_SEED, TrainTest, digits_split,
    read_digits_csv, read_digits_rows,
};
pub use error::{DataError, ParseDatasetNameError, ParseSplitError};
pub use idx::{
    IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxImages, idx_file_stems, read_idx_images,
    read_idx_labels, read_idx_pair,
};
pub use input::{
    AUTOSNN_SIDE, InputEncoding, InputGeometry, InputMapping, InputMismatch, NMNIST_FRAME_SIDE,
    NetworkInput, SideRule, input_mapping, network_input,
};
pub use name::{DatasetName, Split, VALID_NAMES};
pub use nmnist::{
    LabelEntry, NMNIST_EVENT_BYTES, NMNIST_SIDE, decode_events, read_nmnist_file, read_nmnist_list,
    read_nmnist_listed, read_nmnist_official,
};
pub use set::{Dataset, Event, EventSet, ImageSet};

/// Reads one split of dataset `name` from `dir`, the folder holding that dataset's files:
///
/// - `mnist`, `fashion-mnist`: `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
///   `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz` (or the same names without `.gz`);
/// - `cifar10`: every `data_batch*.bin` (train) or `test_batch*.bin` (test), concatenated in file
///   name order;
/// - `nmnist`: `Train/<digit>/<id>.bin` and `Test/<digit>/<id>.bin`, or a `train*.txt` /
///   `test*.txt` label list beside `<sample>.bs2` event files;
/// - `digits`: `digits.csv.gz`, split 80/20 with seed [`DIGITS_SPLIT_SEED`].
///
/// A relative `dir` is made absolute first, so error messages carry full paths.
pub fn load(name: DatasetName, dir: &Path, split: Split) -> Result<Dataset, DataError> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !dir.is_dir() {
        return Err(DataError::MissingFile {
            path: dir,
            hint: format!(
                "the data folder does not exist; point --data-dir at the folder holding {}",
                expected_files(name)
            ),
        });
    }
    Ok(match name {
        DatasetName::Mnist | DatasetName::FashionMnist => {
            Dataset::Images(idx::load_idx_dir(name, &dir, split)?)
        }
        DatasetName::Cifar10 => Dataset::Images(cifar::load_cifar_dir(&dir, split)?),
        DatasetName::Nmnist => Dataset::Events(nmnist::load_nmnist_dir(&dir, split)?),
        DatasetName::Digits => Dataset::Images(digits::load_digits_dir(&dir, split)?),
    })
}

/// A one-line description of the files `load` looks for, for hints.
pub fn expected_files(name: DatasetName) -> &'static str {
    match name {
        DatasetName::Mnist | DatasetName::FashionMnist => {
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and \
             t10k-labels-idx1-ubyte.gz"
        }
        DatasetName::Cifar10 => "the CIFAR-10 binary batches (data_batch*.bin, test_batch*.bin)",
        DatasetName::Nmnist => {
            "N-MNIST (Train/<digit>/*.bin and Test/<digit>/*.bin, or train*.txt / test*.txt beside <sample>.bs2)"
        }
        DatasetName::Digits => "digits.csv.gz",
    }
}
