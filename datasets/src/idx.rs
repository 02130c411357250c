//! MNIST and Fashion-MNIST: big-endian IDX image and label files, gzip or uncompressed.

use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::io::read_maybe_gz;
use crate::name::{DatasetName, Split};
use crate::set::ImageSet;

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

const IDX_CLASSES: usize = 10;

const DIR_HINT: &str = "point --data-dir at the folder holding train-images-idx3-ubyte.gz, \
     train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz \
     (gzip or uncompressed)";

/// The images of one IDX3 file: `count` images of `rows` x `cols` bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// The official file stems (without `.gz`) of the image and label files of `split`.
pub fn idx_file_stems(split: Split) -> (&'static str, &'static str) {
    match split {
        Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
}

/// Reads an IDX3 image file (magic 0x00000803, then count, rows, cols, then the bytes).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    parse_idx_images(path, read_maybe_gz(path, DIR_HINT)?)
}

/// Parses the (inflated) bytes of an IDX3 image file; `path` only names the file in errors.
pub(crate) fn parse_idx_images(path: &Path, mut bytes: Vec<u8>) -> Result<IdxImages, DataError> {
    let header = parse_header(path, &bytes, IDX_IMAGES_MAGIC, "IDX images", 3)?;
    let (count, rows, cols) = (header[0], header[1], header[2]);
    check_body_len(
        path,
        bytes.len(),
        16,
        count as u128 * rows as u128 * cols as u128,
    )?;
    bytes.drain(..16);
    Ok(IdxImages {
        count: count as usize,
        rows: rows as usize,
        cols: cols as usize,
        pixels: bytes,
    })
}

/// Reads an IDX1 label file (magic 0x00000801, then count, then one byte per label). Labels are
/// returned as stored; [`read_idx_pair`] checks their range.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_idx_labels(path, read_maybe_gz(path, DIR_HINT)?)
}

/// Parses the (inflated) bytes of an IDX1 label file; `path` only names the file in errors.
pub(crate) fn parse_idx_labels(path: &Path, mut bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    let header = parse_header(path, &bytes, IDX_LABELS_MAGIC, "IDX labels", 1)?;
    check_body_len(path, bytes.len(), 8, header[0] as u128)?;
    bytes.drain(..8);
    Ok(bytes)
}

/// Reads a matching image and label file into one set, checking that the counts agree and that
/// every label is below 10.
pub fn read_idx_pair(
    name: DatasetName,
    split: Split,
    images_path: &Path,
    labels_path: &Path,
) -> Result<ImageSet, DataError> {
    let images = read_idx_images(images_path)?;
    let labels = read_idx_labels(labels_path)?;
    pair_idx(name, split, (images_path, images), (labels_path, labels))
}

/// Joins parsed images and labels into one set, checking that the counts agree and that every
/// label is below 10.
pub(crate) fn pair_idx(
    name: DatasetName,
    split: Split,
    (images_path, images): (&Path, IdxImages),
    (labels_path, labels): (&Path, Vec<u8>),
) -> Result<ImageSet, DataError> {
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_path: images_path.to_path_buf(),
            images: images.count,
            labels_path: labels_path.to_path_buf(),
            labels: labels.len(),
        });
    }
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|(_, l)| usize::from(**l) >= IDX_CLASSES)
    {
        return Err(DataError::LabelOutOfRange {
            path: labels_path.to_path_buf(),
            index,
            label: label.into(),
            classes: IDX_CLASSES,
        });
    }
    Ok(ImageSet {
        name,
        split,
        channels: 1,
        height: images.rows,
        width: images.cols,
        pixels: images.pixels,
        labels,
        num_classes: IDX_CLASSES,
        max_value: 255.0,
    })
}

/// Loads one split from a folder with the official file names (`.gz` preferred, else the
/// uncompressed name).
pub(crate) fn load_idx_dir(
    name: DatasetName,
    dir: &Path,
    split: Split,
) -> Result<ImageSet, DataError> {
    let (images, labels) = idx_file_stems(split);
    read_idx_pair(name, split, &resolve(dir, images)?, &resolve(dir, labels)?)
}

fn resolve(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{stem}.gz"));
    if gz.exists() {
        return Ok(gz);
    }
    let plain = dir.join(stem);
    if plain.exists() {
        return Ok(plain);
    }
    Err(DataError::MissingFile {
        path: gz,
        hint: format!("neither it nor {stem} exists; {DIR_HINT}"),
    })
}

/// Checks the magic number and returns the `dims` big-endian u32 sizes that follow it.
fn parse_header(
    path: &Path,
    bytes: &[u8],
    magic: u32,
    what: &'static str,
    dims: usize,
) -> Result<Vec<u32>, DataError> {
    let header_len = 4 * (1 + dims);
    if bytes.len() < header_len {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header_len as u64,
            found: bytes.len() as u64,
        });
    }
    let words: Vec<u32> = bytes[..header_len]
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    if words[0] != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected: magic,
            found: words[0],
            what,
        });
    }
    Ok(words[1..].to_vec())
}

/// Compares the file length with `header + body` bytes (all after decompression).
fn check_body_len(path: &Path, found: usize, header: usize, body: u128) -> Result<(), DataError> {
    let expected = header as u128 + body;
    let found_u = found as u128;
    let to_u64 = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
    if found_u < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: to_u64(expected),
            found: found as u64,
        });
    }
    if found_u > expected {
        return Err(DataError::TrailingData {
            path: path.to_path_buf(),
            expected: to_u64(expected),
            found: found as u64,
        });
    }
    Ok(())
}
