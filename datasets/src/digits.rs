//! scikit-learn digits: a gzip CSV of 8x8 images (values 0..=16) split 80/20 by a fixed seed.
//!
//! The split: shuffle the row indices `0..n` with [`Rng::new(seed)`](crate::transform::Rng) and
//! [`Rng::shuffle`](crate::transform::Rng::shuffle); the last `ceil(n / 5)` indices of that
//! permutation are the test set, the rest the training set (as scikit-learn's `train_test_split`
//! rounds, 1797 rows give 1437 train and 360 test). Within a split, samples keep file order.
//! [`load`](crate::load) uses [`DIGITS_SPLIT_SEED`] (0).

use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::io::read_maybe_gz;
use crate::name::{DatasetName, Split};
use crate::set::ImageSet;
use crate::transform::Rng;

/// The seed [`load`](crate::load) uses for the train/test split.
pub const DIGITS_SPLIT_SEED: u64 = 0;
/// The file name inside a digits folder.
pub const DIGITS_FILE: &str = "digits.csv.gz";
/// Side of a digits image.
pub const DIGITS_SIDE: usize = 8;
/// Largest pixel value.
pub const DIGITS_MAX: u8 = 16;

const DIGITS_PIXELS: usize = DIGITS_SIDE * DIGITS_SIDE;
const DIGITS_CLASSES: usize = 10;
const DIR_HINT: &str = "point --data-dir at the folder holding digits.csv.gz (scikit-learn's \
     sklearn/datasets/data/digits.csv.gz)";

/// Both halves of a seeded split.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainTest {
    pub train: ImageSet,
    pub test: ImageSet,
}

/// Every row of the CSV (gzip or plain): returns `(pixels, labels)`, 64 pixel bytes per row.
/// Blank lines are skipped; line and column numbers in errors are 1-based.
pub fn read_digits_rows(path: &Path) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    parse_digits_rows(path, read_maybe_gz(path, DIR_HINT)?)
}

/// Parses the (inflated) bytes of the CSV; `path` only names the file in errors.
pub(crate) fn parse_digits_rows(
    path: &Path,
    bytes: Vec<u8>,
) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let parse_err = |line: usize, message: String| DataError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        parse_err(line, "not UTF-8 text".to_string())
    })?;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = raw.split(',').map(str::trim).collect();
        if fields.len() != DIGITS_PIXELS + 1 {
            return Err(parse_err(
                line,
                format!(
                    "expected {} comma-separated numbers (64 pixels, then the class), found {}",
                    DIGITS_PIXELS + 1,
                    fields.len()
                ),
            ));
        }
        for (col, field) in fields.iter().enumerate() {
            let max = if col < DIGITS_PIXELS {
                u32::from(DIGITS_MAX)
            } else {
                DIGITS_CLASSES as u32 - 1
            };
            let value = parse_whole(field).ok_or_else(|| {
                parse_err(
                    line,
                    format!("column {}: '{field}' is not a whole number", col + 1),
                )
            })?;
            if !(0.0..=f64::from(max)).contains(&value) {
                return Err(DataError::ValueOutOfRange {
                    path: path.to_path_buf(),
                    line,
                    column: col + 1,
                    value: field.to_string(),
                    max,
                });
            }
            if col < DIGITS_PIXELS {
                pixels.push(value as u8);
            } else {
                labels.push(value as u8);
            }
        }
    }
    Ok((pixels, labels))
}

/// The seeded split of `n` rows: `(train, test)` row indices, each ascending.
pub fn digits_split(n: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(seed).shuffle(&mut order);
    let n_test = n.div_ceil(5);
    let mut test = order.split_off(n - n_test);
    order.sort_unstable();
    test.sort_unstable();
    (order, test)
}

/// Reads the CSV and splits it 80/20 with `seed` (see the module docs).
pub fn read_digits_csv(path: &Path, seed: u64) -> Result<TrainTest, DataError> {
    let (pixels, labels) = read_digits_rows(path)?;
    Ok(split_digits(&pixels, &labels, seed))
}

/// Splits parsed rows 80/20 with `seed` (see the module docs).
pub(crate) fn split_digits(pixels: &[u8], labels: &[u8], seed: u64) -> TrainTest {
    let (train, test) = digits_split(labels.len(), seed);
    TrainTest {
        train: subset(pixels, labels, &train, Split::Train),
        test: subset(pixels, labels, &test, Split::Test),
    }
}

/// Loads one split of `dir/digits.csv.gz` with [`DIGITS_SPLIT_SEED`].
pub(crate) fn load_digits_dir(dir: &Path, split: Split) -> Result<ImageSet, DataError> {
    let path: PathBuf = dir.join(DIGITS_FILE);
    let both = read_digits_csv(&path, DIGITS_SPLIT_SEED)?;
    Ok(match split {
        Split::Train => both.train,
        Split::Test => both.test,
    })
}

fn subset(pixels: &[u8], labels: &[u8], indices: &[usize], split: Split) -> ImageSet {
    let mut out = Vec::with_capacity(indices.len() * DIGITS_PIXELS);
    for &i in indices {
        out.extend_from_slice(&pixels[i * DIGITS_PIXELS..(i + 1) * DIGITS_PIXELS]);
    }
    ImageSet {
        name: DatasetName::Digits,
        split,
        channels: 1,
        height: DIGITS_SIDE,
        width: DIGITS_SIDE,
        pixels: out,
        labels: indices.iter().map(|&i| labels[i]).collect(),
        num_classes: DIGITS_CLASSES,
        max_value: f32::from(DIGITS_MAX),
    }
}

/// Parses an integer written either plainly (`7`) or as a float (`7.0`); `None` for anything
/// that is not a finite whole number.
fn parse_whole(field: &str) -> Option<f64> {
    if let Ok(v) = field.parse::<i64>() {
        return Some(v as f64);
    }
    let v: f64 = field.parse().ok()?;
    (v.is_finite() && v.fract() == 0.0).then_some(v)
}
