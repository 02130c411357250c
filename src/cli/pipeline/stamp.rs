//! Stage stamps: what a finished pipeline stage was made from and what it wrote, so a rerun can
//! tell whether the stage is still valid (`DIR/<stage>/stage.json`, written last and atomically).

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The stamp file inside each stage folder.
pub const STAMP_FILE: &str = "stage.json";

// The hash of settings and files: the compiler's FNV-1a (it detects change, no more).
use snnc_compiler::hash::Fnv1a as Fnv;

/// The hash of a file's bytes, or `None` if it cannot be read (missing).
pub fn hash_file(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = Fnv::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(h.hex())
}

/// The hash of a JSON value (settings), in its compact text form.
pub fn hash_json(v: &serde_json::Value) -> String {
    let mut h = Fnv::new();
    h.update(v.to_string().as_bytes());
    h.hex()
}

/// A cheap identity of a dataset folder: every file's relative path, size and modification time
/// (hashing 30 MB of images on every rerun would cost more than it protects).
pub fn fingerprint_dir(dir: &Path) -> anyhow::Result<String> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files).with_context(|| format!("listing {}", dir.display()))?;
    files.sort();
    let mut h = Fnv::new();
    for f in &files {
        h.update(f.as_bytes());
        h.update(b"\n");
    }
    Ok(h.hex())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let path = entry.path();
        if meta.is_dir() {
            collect(root, &path, out)?;
        } else {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(format!("{} {} {mtime}", rel.display(), meta.len()));
        }
    }
    Ok(())
}

/// What `DIR/<stage>/stage.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stamp {
    pub stage: String,
    pub snnc_version: String,
    /// Hash of `settings` and `inputs` together: the stage is valid only for this key.
    pub key: String,
    /// The settings that decide the stage's outputs (for people; the key covers them).
    pub settings: serde_json::Value,
    /// Input files (paths as given) and their hashes.
    pub inputs: BTreeMap<String, String>,
    /// Outputs, relative to the stage folder, and their hashes.
    pub outputs: BTreeMap<String, String>,
    pub seconds: f64,
}

/// The key of a stage run with `settings` on `inputs`.
pub fn key(settings: &serde_json::Value, inputs: &BTreeMap<String, String>) -> String {
    hash_json(&serde_json::json!({ "settings": settings, "inputs": inputs }))
}

/// Why a stage must run, or `None` when its stamp matches `key` and every output it lists is
/// still there, unchanged.
pub fn stale_reason(dir: &Path, key: &str) -> Option<String> {
    let path = dir.join(STAMP_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => return Some("not run yet".into()),
    };
    let Ok(stamp) = serde_json::from_str::<Stamp>(&text) else {
        return Some(format!("{} is unreadable", path.display()));
    };
    if stamp.key != key {
        return Some("its settings or inputs changed".into());
    }
    for (rel, hash) in &stamp.outputs {
        match hash_file(&dir.join(rel)) {
            None => return Some(format!("{rel} is missing")),
            Some(h) if h != *hash => return Some(format!("{rel} changed")),
            Some(_) => {}
        }
    }
    None
}

/// The stamp of a finished stage (after [`stale_reason`] said it is valid, or after writing it).
pub fn read(dir: &Path) -> anyhow::Result<Stamp> {
    let path = dir.join(STAMP_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Remove a stage's stamp before redoing it, so a stage interrupted half-way never counts as done.
pub fn invalidate(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(STAMP_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Hash `outputs` (paths inside `dir`) and write the stamp, atomically, last.
pub fn write(
    dir: &Path,
    stage: &str,
    key: &str,
    settings: &serde_json::Value,
    inputs: &BTreeMap<String, String>,
    outputs: &[PathBuf],
    seconds: f64,
) -> anyhow::Result<Stamp> {
    let mut hashed = BTreeMap::new();
    for p in outputs {
        let rel = p.strip_prefix(dir).unwrap_or(p);
        let hash = hash_file(p).with_context(|| {
            format!(
                "stage {stage}: expected output {} was not written",
                p.display()
            )
        })?;
        hashed.insert(rel.to_string_lossy().into_owned(), hash);
    }
    let stamp = Stamp {
        stage: stage.to_string(),
        snnc_version: env!("CARGO_PKG_VERSION").to_string(),
        key: key.to_string(),
        settings: settings.clone(),
        inputs: inputs.clone(),
        outputs: hashed,
        seconds,
    };
    let path = dir.join(STAMP_FILE);
    let text = serde_json::to_string_pretty(&stamp)? + "\n";
    snnc_compiler::atomic::write(&path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(stamp)
}
