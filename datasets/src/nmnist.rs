//! N-MNIST: 40-bit event files, found through a label list or the official `Train/<digit>/` tree.
//!
//! Event record (5 bytes, no header): byte 0 = x, byte 1 = y, bit 7 of byte 2 = polarity
//! (1 = ON), the low 23 bits of bytes 2..=4 read big-endian = timestamp in microseconds.

use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::io::{matching_files, read_raw};
use crate::name::Split;
use crate::set::{Event, EventSet};

/// Width and height of the N-MNIST sensor.
pub const NMNIST_SIDE: usize = 34;
/// Bytes per event record.
pub const NMNIST_EVENT_BYTES: usize = 5;

const NMNIST_CLASSES: usize = 10;

const DIR_HINT: &str = "point --data-dir at an N-MNIST folder: either the official layout \
     (Train/<digit>/<id>.bin and Test/<digit>/<id>.bin) or label lists train*.txt / test*.txt \
     (lines '<sample><TAB><class>') next to <sample>.bs2 event files";

/// One line of a label list: the sample's file stem and its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelEntry {
    pub sample: String,
    pub label: u8,
    /// 1-based line number in the list file.
    pub line: usize,
}

/// Reads one event file, checking its length and that every event is on the 34x34 sensor.
pub fn read_nmnist_file(path: &Path) -> Result<Vec<Event>, DataError> {
    let bytes = read_raw(path, DIR_HINT)?;
    decode_events(path, &bytes)
}

/// Decodes the 5-byte records of `bytes`; `path` only names the file in errors.
pub fn decode_events(path: &Path, bytes: &[u8]) -> Result<Vec<Event>, DataError> {
    if !bytes.len().is_multiple_of(NMNIST_EVENT_BYTES) {
        return Err(DataError::RecordSize {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            record: NMNIST_EVENT_BYTES,
        });
    }
    let mut events = Vec::with_capacity(bytes.len() / NMNIST_EVENT_BYTES);
    for (index, r) in bytes.chunks_exact(NMNIST_EVENT_BYTES).enumerate() {
        let (x, y) = (r[0], r[1]);
        if usize::from(x) >= NMNIST_SIDE || usize::from(y) >= NMNIST_SIDE {
            return Err(DataError::EventOutOfRange {
                path: path.to_path_buf(),
                index,
                x,
                y,
                width: NMNIST_SIDE,
                height: NMNIST_SIDE,
            });
        }
        let t_us = (u32::from(r[2] & 0x7f) << 16) | (u32::from(r[3]) << 8) | u32::from(r[4]);
        events.push(Event {
            x,
            y,
            on: r[2] & 0x80 != 0,
            t_us,
        });
    }
    Ok(events)
}

/// Reads a label list: lines starting with `#` and blank lines are skipped, every other line is
/// `<sample>` and `<class>` separated by whitespace (a tab in the published lists).
pub fn read_nmnist_list(path: &Path) -> Result<Vec<LabelEntry>, DataError> {
    parse_nmnist_list(path, read_raw(path, DIR_HINT)?)
}

/// Parses the bytes of a label list; `path` only names the file in errors.
pub(crate) fn parse_nmnist_list(path: &Path, bytes: Vec<u8>) -> Result<Vec<LabelEntry>, DataError> {
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
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = content.split_whitespace().collect();
        let [sample, class] = fields[..] else {
            return Err(parse_err(
                line,
                format!(
                    "expected '<sample><TAB><class>', found {} fields in '{content}'",
                    fields.len()
                ),
            ));
        };
        if sample.contains(['/', '\\']) || sample == "." || sample == ".." {
            return Err(parse_err(
                line,
                format!("sample name '{sample}' must be a plain file stem"),
            ));
        }
        let label: u32 = class
            .parse()
            .map_err(|_| parse_err(line, format!("class '{class}' is not a whole number")))?;
        if label as usize >= NMNIST_CLASSES {
            return Err(parse_err(
                line,
                format!("class {label} is out of range 0..={}", NMNIST_CLASSES - 1),
            ));
        }
        entries.push(LabelEntry {
            sample: sample.to_string(),
            label: label as u8,
            line,
        });
    }
    Ok(entries)
}

/// Reads every sample named in a label list; event files are `<sample>.bs2` (or `<sample>.bin`)
/// in the list's folder.
pub fn read_nmnist_listed(list: &Path, split: Split) -> Result<EventSet, DataError> {
    let dir = list
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let entries = read_nmnist_list(list)?;
    let mut samples = Vec::with_capacity(entries.len());
    let mut labels = Vec::with_capacity(entries.len());
    for entry in entries {
        let path = event_file(dir, list, &entry)?;
        samples.push(read_nmnist_file(&path)?);
        labels.push(entry.label);
    }
    Ok(event_set(split, samples, labels))
}

/// Reads the official layout under `root`: `Train/<digit>/<id>.bin` or `Test/<digit>/<id>.bin`,
/// digits in order and files by numeric id (then name) within a digit.
pub fn read_nmnist_official(root: &Path, split: Split) -> Result<EventSet, DataError> {
    let split_dir =
        official_split_dir(root, split).unwrap_or_else(|| root.join(official_name(split)));
    let mut samples = Vec::new();
    let mut labels = Vec::new();
    for digit in 0..NMNIST_CLASSES as u8 {
        let digit_dir = split_dir.join(digit.to_string());
        if !digit_dir.is_dir() {
            continue;
        }
        let mut files = matching_files(&digit_dir, "", ".bin")?;
        files.sort_by_key(|p| sample_order_key(p));
        for path in files {
            samples.push(read_nmnist_file(&path)?);
            labels.push(digit);
        }
    }
    if samples.is_empty() {
        return Err(DataError::MissingFile {
            path: split_dir.join("<digit>").join("*.bin"),
            hint: format!("no event file found; {DIR_HINT}"),
        });
    }
    Ok(event_set(split, samples, labels))
}

/// Loads one split, choosing the layout: the official tree when `Train/` (or `Test/`) exists,
/// else the single `train*.txt` (or `test*.txt`) label list.
pub(crate) fn load_nmnist_dir(dir: &Path, split: Split) -> Result<EventSet, DataError> {
    if official_split_dir(dir, split).is_some() {
        return read_nmnist_official(dir, split);
    }
    let prefix = split.as_str();
    let lists = matching_files(dir, prefix, ".txt")?;
    match lists.as_slice() {
        [list] => read_nmnist_listed(list, split),
        [] => Err(DataError::MissingFile {
            path: dir.join(format!("{prefix}*.txt")),
            hint: format!(
                "found neither a label list nor {}/; {DIR_HINT}",
                official_name(split)
            ),
        }),
        _ => Err(DataError::Ambiguous {
            dir: dir.to_path_buf(),
            pattern: format!("{prefix}*.txt"),
            found: lists,
        }),
    }
}

fn event_set(split: Split, samples: Vec<Vec<Event>>, labels: Vec<u8>) -> EventSet {
    EventSet {
        split,
        width: NMNIST_SIDE,
        height: NMNIST_SIDE,
        samples,
        labels,
        num_classes: NMNIST_CLASSES,
    }
}

fn official_name(split: Split) -> &'static str {
    match split {
        Split::Train => "Train",
        Split::Test => "Test",
    }
}

/// `root/Train` (or `root/train`) when it is a folder.
fn official_split_dir(root: &Path, split: Split) -> Option<PathBuf> {
    [official_name(split), split.as_str()]
        .into_iter()
        .map(|n| root.join(n))
        .find(|p| p.is_dir())
}

fn event_file(dir: &Path, list: &Path, entry: &LabelEntry) -> Result<PathBuf, DataError> {
    for ext in ["bs2", "bin"] {
        let path = dir.join(format!("{}.{ext}", entry.sample));
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(DataError::MissingFile {
        path: dir.join(format!("{}.bs2", entry.sample)),
        hint: format!(
            "{list} line {line} names sample '{sample}' but neither {sample}.bs2 nor {sample}.bin \
             exists beside it; keep the event files next to the label list",
            list = list.display(),
            line = entry.line,
            sample = entry.sample
        ),
    })
}

/// Numeric file stems sort by value, the rest after them by name.
fn sample_order_key(path: &Path) -> (u8, u64, Option<std::ffi::OsString>) {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse::<u64>().ok());
    match stem {
        Some(n) => (0, n, None),
        None => (1, 0, path.file_name().map(|n| n.to_os_string())),
    }
}
