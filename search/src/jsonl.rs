//! Append-only JSON-lines logs that resume: read back every record, drop only a torn last line,
//! and write non-finite numbers in a form that reads back.

use crate::error::{Result, SearchError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use snnc_compiler::atomic;
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// The records of a log and its text without a torn tail. A missing file is an empty log; a
/// line that does not parse is an error naming it, unless it is the last line and unterminated
/// (an append cut short), which is dropped so its record is redone.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<(Vec<T>, String)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Vec::new(), String::new()));
        }
        Err(e) => return Err(SearchError::io(path, e)),
    };
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut records = Vec::with_capacity(lines.len());
    let mut kept = String::new();
    for (k, &(number, line)) in lines.iter().enumerate() {
        match serde_json::from_str::<T>(line) {
            Ok(r) => {
                records.push(r);
                kept += line;
                kept.push('\n');
            }
            Err(_) if k + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => {
                return Err(SearchError::LogLine {
                    path: path.to_path_buf(),
                    line: number + 1,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok((records, kept))
}

/// `read` for a log whose records are numbered 0, 1, 2, ... in order (`index` reads the number);
/// a gap or a foreign record is an error naming `what` the log should be.
pub fn read_numbered<T: DeserializeOwned>(
    path: &Path,
    index: impl Fn(&T) -> usize,
    what: &'static str,
) -> Result<(Vec<T>, String)> {
    let (records, kept) = read::<T>(path)?;
    for (k, r) in records.iter().enumerate() {
        if index(r) != k {
            return Err(SearchError::LogOrder {
                path: path.to_path_buf(),
                position: k,
                found: index(r),
                what,
            });
        }
    }
    Ok((records, kept))
}

/// Open a log for appending after replacing it (atomically) with `kept`, the text `read`
/// returned, so a new record never lands on a torn line.
pub fn reopen(path: &Path, kept: &str) -> Result<Log> {
    atomic::write(path, kept.as_bytes()).map_err(|e| SearchError::io(path, e))?;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| SearchError::io(path, e))?;
    Ok(Log {
        file,
        path: path.to_path_buf(),
    })
}

/// Keep only the records of a per-epoch metrics log whose (1-based) `epoch` is at most `done`:
/// a resumed run redoes the rest. A damaged line is an error, as in `read`.
pub fn keep_epochs(path: &Path, done: usize) -> Result<()> {
    let (records, text) = read::<serde_json::Value>(path)?;
    // Kept lines stay byte for byte: re-serialising would reorder keys and, as serde_json parses
    // floats, could change a last digit.
    let mut kept = String::new();
    for (r, line) in records.iter().zip(text.lines()) {
        if r["epoch"].as_u64().is_some_and(|e| e as usize <= done) {
            kept += line;
            kept.push('\n');
        }
    }
    atomic::write(path, kept.as_bytes()).map_err(|e| SearchError::io(path, e))
}

/// A log open for appending.
pub struct Log {
    file: File,
    path: std::path::PathBuf,
}

impl Log {
    /// Append one record as one line, flushed.
    pub fn append(&mut self, record: &impl Serialize) -> Result<()> {
        let line = serde_json::to_string(record).expect("log records serialise") + "\n";
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(|e| SearchError::io(&self.path, e))
    }
}

/// Serde form of an `f64` that may be infinite or NaN (a singular kernel's log-determinant, an
/// accuracy over no samples): a JSON number when finite, else the string `"inf"`, `"-inf"` or
/// `"nan"`. JSON has no such numbers and serde_json writes them as `null`, which would not read
/// back; `null` from older logs reads as NaN.
pub mod float {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
        match Repr::from(*v) {
            Repr::Number(n) => s.serialize_f64(n),
            Repr::Word(w) => s.serialize_str(w),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
        Option::<Wire>::deserialize(d)?.map_or(Ok(f64::NAN), Wire::value::<D::Error>)
    }

    enum Repr {
        Number(f64),
        Word(&'static str),
    }

    impl From<f64> for Repr {
        fn from(v: f64) -> Self {
            if v.is_finite() {
                Repr::Number(v)
            } else if v.is_nan() {
                Repr::Word("nan")
            } else if v > 0.0 {
                Repr::Word("inf")
            } else {
                Repr::Word("-inf")
            }
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub(super) enum Wire {
        Number(f64),
        Word(String),
    }

    impl Wire {
        pub(super) fn value<E: serde::de::Error>(self) -> std::result::Result<f64, E> {
            match self {
                Wire::Number(n) => Ok(n),
                Wire::Word(w) => match w.as_str() {
                    "inf" => Ok(f64::INFINITY),
                    "-inf" => Ok(f64::NEG_INFINITY),
                    "nan" => Ok(f64::NAN),
                    other => Err(E::custom(format!(
                        "expected a number, \"inf\", \"-inf\" or \"nan\", found \"{other}\""
                    ))),
                },
            }
        }
    }

    /// The same form for every element of a `Vec<f64>`.
    pub mod vec {
        use super::*;

        pub fn serialize<S: Serializer>(v: &[f64], s: S) -> std::result::Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            let mut seq = s.serialize_seq(Some(v.len()))?;
            for &x in v {
                match Repr::from(x) {
                    Repr::Number(n) => seq.serialize_element(&n)?,
                    Repr::Word(w) => seq.serialize_element(w)?,
                }
            }
            seq.end()
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> std::result::Result<Vec<f64>, D::Error> {
            Vec::<Option<Wire>>::deserialize(d)?
                .into_iter()
                .map(|w| w.map_or(Ok(f64::NAN), Wire::value::<D::Error>))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Row {
        index: usize,
        #[serde(with = "float")]
        score: f64,
        #[serde(with = "float::vec")]
        passes: Vec<f64>,
    }

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("snnc-jsonl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn non_finite_numbers_round_trip() {
        let row = Row {
            index: 3,
            score: f64::NEG_INFINITY,
            passes: vec![1.5, f64::INFINITY, f64::NAN],
        };
        let line = serde_json::to_string(&row).unwrap();
        assert_eq!(
            line,
            r#"{"index":3,"score":"-inf","passes":[1.5,"inf","nan"]}"#
        );
        let back: Row = serde_json::from_str(&line).unwrap();
        assert_eq!(back.score, f64::NEG_INFINITY);
        assert_eq!(back.passes[..2], [1.5, f64::INFINITY]);
        assert!(back.passes[2].is_nan());
        let old: Row = serde_json::from_str(r#"{"index":0,"score":null,"passes":[null]}"#).unwrap();
        assert!(old.score.is_nan() && old.passes[0].is_nan());
        let err = serde_json::from_str::<Row>(r#"{"index":0,"score":"big","passes":[]}"#);
        assert!(err.is_err());
    }

    #[test]
    fn only_a_torn_last_line_is_dropped() {
        let d = dir("torn");
        let path = d.join("log.jsonl");
        let good = "{\"index\":0,\"score\":1.0,\"passes\":[]}\n{\"index\":1,\"score\":\"-inf\",\"passes\":[]}\n";
        std::fs::write(&path, format!("{good}{{\"index\":2,\"sco")).unwrap();
        let (rows, kept) = read::<Row>(&path).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].score, f64::NEG_INFINITY);
        assert_eq!(kept, good);
        let mut log = reopen(&path, &kept).unwrap();
        log.append(&Row {
            index: 2,
            score: 0.5,
            passes: vec![],
        })
        .unwrap();
        let (rows, _) = read::<Row>(&path).unwrap();
        assert_eq!(rows.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1, 2]);

        // A damaged line in the middle is an error naming it; the file is left as it was.
        let damaged = "{\"index\":0,\"score\":1.0,\"passes\":[]}\nnot json\n{\"index\":1,\"score\":2.0,\"passes\":[]}\n";
        std::fs::write(&path, damaged).unwrap();
        let err = read::<Row>(&path).unwrap_err().to_string();
        assert!(err.contains("log.jsonl line 2"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), damaged);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn keep_epochs_drops_the_epochs_a_resume_redoes() {
        let d = dir("epochs");
        let path = d.join("metrics.jsonl");
        std::fs::write(
            &path,
            "{\"epoch\":1,\"seconds\":2.0}\n{\"epoch\":2,\"seconds\":3.0}\n{\"epoch\":2,\"sec",
        )
        .unwrap();
        keep_epochs(&path, 1).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"epoch\":1,\"seconds\":2.0}\n"
        );
        // Kept lines are not rewritten: key order and every digit stay.
        let line = "{\"seconds\":1.9134096611397606,\"epoch\":1}\n";
        std::fs::write(&path, format!("{line}{{\"epoch\":2}}\n")).unwrap();
        keep_epochs(&path, 1).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), line);
        keep_epochs(&d.join("absent.jsonl"), 0).unwrap();
        assert_eq!(std::fs::read_to_string(d.join("absent.jsonl")).unwrap(), "");
        std::fs::write(&path, "garbage\n{\"epoch\":1}\n").unwrap();
        assert!(matches!(
            keep_epochs(&path, 1),
            Err(SearchError::LogLine { line: 1, .. })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
