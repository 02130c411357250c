//! Whole-file reads with transparent gzip: a file starting with the gzip magic is inflated.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::error::DataError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads `path` fully, inflating it when it is gzip (detected by content, not by name, so a
/// `.gz` file that a browser already unpacked still reads). A missing file gives
/// [`DataError::MissingFile`] with `hint`.
pub(crate) fn read_maybe_gz(path: &Path, hint: &str) -> Result<Vec<u8>, DataError> {
    inflate_if_gz(path, read_raw(path, hint)?)
}

/// `raw` itself, or its inflated content when it starts with the gzip magic; `path` only names
/// the file in errors.
pub(crate) fn inflate_if_gz(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(inflated_size_hint(&raw));
    // One byte past the limit tells a file at the limit from one beyond it.
    MultiGzDecoder::new(raw.as_slice())
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|error| DataError::Decompress {
            path: path.to_path_buf(),
            error,
        })?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(DataError::InflatesTooLarge {
            path: path.to_path_buf(),
            limit: MAX_INFLATED,
        });
    }
    Ok(out)
}

/// The most a gzip file may inflate to: four times the largest file read here (MNIST's and
/// Fashion-MNIST's 47 MB training images), so no real file comes near it.
pub(crate) const MAX_INFLATED: u64 = 192 << 20;

/// The uncompressed size a gzip member records in its last four bytes (ISIZE, little-endian),
/// capped at deflate's best ratio (1032:1) so a forged trailer cannot force a huge allocation.
fn inflated_size_hint(gz: &[u8]) -> usize {
    let Some(tail) = gz.last_chunk::<4>() else {
        return 0;
    };
    let isize = u32::from_le_bytes(*tail) as usize;
    isize
        .min(gz.len().saturating_mul(1032))
        .min(MAX_INFLATED as usize)
}

/// Reads `path` fully as bytes.
pub(crate) fn read_raw(path: &Path, hint: &str) -> Result<Vec<u8>, DataError> {
    fs::read(path).map_err(|e| DataError::from_io(path, e, hint))
}

/// The files directly in `dir` whose names start with `prefix` and end with `suffix`, sorted by
/// file name.
pub(crate) fn matching_files(
    dir: &Path,
    prefix: &str,
    suffix: &str,
) -> Result<Vec<PathBuf>, DataError> {
    let hint = "point --data-dir at the dataset's folder";
    let entries = fs::read_dir(dir).map_err(|e| DataError::from_io(dir, e, hint))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DataError::from_io(dir, e, hint))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(prefix)
            && name.ends_with(suffix)
            && name.len() >= prefix.len() + suffix.len()
        {
            let path = entry.path();
            if path.is_file() {
                found.push(path);
            }
        }
    }
    found.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A gzip bomb (a small file inflating past every dataset file) is refused, not inflated
    /// into memory without end; one at the limit still reads.
    #[test]
    fn inflation_stops_at_the_limit() {
        let gz = |len: usize| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let zeros = vec![0u8; 1 << 20];
            let mut left = len;
            while left > 0 {
                let n = left.min(zeros.len());
                e.write_all(&zeros[..n]).unwrap();
                left -= n;
            }
            e.finish().unwrap()
        };
        let path = Path::new("bomb.gz");
        let bomb = gz(MAX_INFLATED as usize + 1);
        assert!(
            bomb.len() < 1 << 20,
            "the bomb is small: {} bytes",
            bomb.len()
        );
        match inflate_if_gz(path, bomb) {
            Err(DataError::InflatesTooLarge { limit, .. }) => assert_eq!(limit, MAX_INFLATED),
            other => panic!(
                "expected InflatesTooLarge, got {:?}",
                other.map(|v| v.len())
            ),
        }
        let at_limit = inflate_if_gz(path, gz(MAX_INFLATED as usize)).unwrap();
        assert_eq!(at_limit.len() as u64, MAX_INFLATED);
    }
}
