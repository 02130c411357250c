//! CIFAR-10 binary version: 3073-byte records (label, then R, G and B planes of 32x32).

use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::io::{matching_files, read_raw};
use crate::name::{DatasetName, Split};
use crate::set::ImageSet;

/// Side of a CIFAR-10 image.
pub const CIFAR_SIDE: usize = 32;
/// Pixel bytes per record: three 32x32 planes.
pub const CIFAR_PIXELS: usize = 3 * CIFAR_SIDE * CIFAR_SIDE;
/// Bytes per record: one label byte plus the pixels.
pub const CIFAR_RECORD: usize = 1 + CIFAR_PIXELS;

const CIFAR_CLASSES: usize = 10;

const DIR_HINT: &str = "point --data-dir at the folder holding the CIFAR-10 binary version \
     (data_batch_1.bin .. data_batch_5.bin and test_batch.bin; any data_batch*.bin / test_batch*.bin)";

/// The file-name prefix of the files that make up `split`: `data_batch` or `test_batch`.
pub fn cifar_prefix(split: Split) -> &'static str {
    match split {
        Split::Train => "data_batch",
        Split::Test => "test_batch",
    }
}

/// Every `data_batch*.bin` (train) or `test_batch*.bin` (test) file in `dir`, sorted by file
/// name. No match is a [`DataError::MissingFile`] naming the pattern.
pub fn cifar_files(dir: &Path, split: Split) -> Result<Vec<PathBuf>, DataError> {
    let prefix = cifar_prefix(split);
    let files = matching_files(dir, prefix, ".bin")?;
    if files.is_empty() {
        return Err(DataError::MissingFile {
            path: dir.join(format!("{prefix}*.bin")),
            hint: format!("no file matches; {DIR_HINT}"),
        });
    }
    Ok(files)
}

/// Reads and concatenates CIFAR-10 binary files, in the order given.
pub fn read_cifar_bin(paths: &[PathBuf], split: Split) -> Result<ImageSet, DataError> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for path in paths {
        let bytes = read_raw(path, DIR_HINT)?;
        append_cifar_records(path, &bytes, &mut pixels, &mut labels)?;
    }
    Ok(ImageSet {
        name: DatasetName::Cifar10,
        split,
        channels: 3,
        height: CIFAR_SIDE,
        width: CIFAR_SIDE,
        pixels,
        labels,
        num_classes: CIFAR_CLASSES,
        max_value: 255.0,
    })
}

/// Checks the records of one file's `bytes` and appends their pixels and labels; `path` only
/// names the file in errors.
pub(crate) fn append_cifar_records(
    path: &Path,
    bytes: &[u8],
    pixels: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<(), DataError> {
    if !bytes.len().is_multiple_of(CIFAR_RECORD) {
        return Err(DataError::RecordSize {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            record: CIFAR_RECORD,
        });
    }
    pixels.reserve(bytes.len() / CIFAR_RECORD * CIFAR_PIXELS);
    for (index, record) in bytes.chunks_exact(CIFAR_RECORD).enumerate() {
        let label = record[0];
        if usize::from(label) >= CIFAR_CLASSES {
            return Err(DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                index,
                label: label.into(),
                classes: CIFAR_CLASSES,
            });
        }
        labels.push(label);
        pixels.extend_from_slice(&record[1..]);
    }
    Ok(())
}

/// Loads one split from a folder: every matching batch file, concatenated in name order.
pub(crate) fn load_cifar_dir(dir: &Path, split: Split) -> Result<ImageSet, DataError> {
    read_cifar_bin(&cifar_files(dir, split)?, split)
}
