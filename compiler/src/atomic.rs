//! Atomic file output: write a temporary file beside the target, then rename it into place.

use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A file that could not be written, named.
#[derive(Debug, Error)]
#[error("{}: cannot write: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// [`write`], with the file named in the error (for callers without their own error wording).
pub fn write_named(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write(path, bytes).map_err(|source| WriteError {
        path: path.to_path_buf(),
        source,
    })
}

/// Write `bytes` to `path` so that readers see either the old file or the complete new one.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself lives in the directory: sync it too, so "written" outlasts a power
        // cut (a checkpoint counts only once its state file is there). Not every platform can
        // open a directory for this; there the rename's own ordering has to do.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
