//! Checkpoint folders that are whole or absent: a new checkpoint is written into a staging folder
//! beside the old one and swapped in, so a kill during a save leaves the previous checkpoint (or
//! the new one), never new weights beside an old state.
//!
//! A checkpoint folder holds `state.json` (written last: it is what makes the folder count),
//! `weights.safetensors` and `optimizer.safetensors`.

use crate::error::{Result, SearchError};
use crate::optim::Optimizer;
use crate::params::ParamStore;
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const STATE: &str = "state.json";
pub const WEIGHTS: &str = "weights.safetensors";
pub const OPTIMIZER: &str = "optimizer.safetensors";

fn beside(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    dir.with_file_name(format!("{name}.{suffix}"))
}

fn io(path: &Path, e: std::io::Error) -> SearchError {
    SearchError::io(path, e)
}

/// Put `dir` back in order after a kill during `save`: a complete staging folder (it has its
/// state file) replaces a missing checkpoint, else the previous one comes back; leftovers go.
/// Call it before looking at `dir`.
pub fn recover(dir: &Path) -> Result<()> {
    let staging = beside(dir, "new");
    let old = beside(dir, "old");
    if !dir.exists() {
        if staging.join(STATE).is_file() {
            std::fs::rename(&staging, dir).map_err(|e| io(&staging, e))?;
        } else if old.join(STATE).is_file() {
            std::fs::rename(&old, dir).map_err(|e| io(&old, e))?;
        }
    }
    for leftover in [staging, old] {
        if leftover.exists() {
            std::fs::remove_dir_all(&leftover).map_err(|e| io(&leftover, e))?;
        }
    }
    Ok(())
}

/// Save a checkpoint of `params`, the optimizer's moments and `state` as `dir`, replacing the
/// one there only once the new one is complete.
pub fn save(
    dir: &Path,
    state: &impl Serialize,
    params: &ParamStore,
    optimizer: &Optimizer,
) -> Result<()> {
    let staging = beside(dir, "new");
    let old = beside(dir, "old");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| io(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| io(&staging, e))?;
    params.to_weights()?.save(&staging.join(WEIGHTS))?;
    optimizer.state()?.save(&staging.join(OPTIMIZER))?;
    let json = serde_json::to_string_pretty(state).expect("checkpoint states serialise");
    snnc_compiler::atomic::write(&staging.join(STATE), json.as_bytes())
        .map_err(|e| io(&staging.join(STATE), e))?;
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
        }
        std::fs::rename(dir, &old).map_err(|e| io(dir, e))?;
    }
    std::fs::rename(&staging, dir).map_err(|e| io(&staging, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
    }
    if let Some(parent) = dir.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::ComputeDevice;
    use crate::optim::OptimizerKind;
    use candle_core::Tensor;

    fn store(v: f32) -> ParamStore {
        let mut s = ParamStore::new();
        s.insert(
            "p",
            Tensor::new(&[v, v], &ComputeDevice::cpu()).unwrap(),
            true,
        )
        .unwrap();
        s
    }

    fn state_of(dir: &Path) -> String {
        std::fs::read_to_string(dir.join(STATE)).unwrap()
    }

    #[test]
    fn a_save_cut_short_leaves_a_whole_checkpoint() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("checkpoint");
        let opt = Optimizer::new(OptimizerKind::parse("adam", 0.9, 0.0).unwrap());
        save(&dir, &1, &store(1.0), &opt).unwrap();
        save(&dir, &2, &store(2.0), &opt).unwrap();
        assert_eq!(state_of(&dir), "2");
        assert!(!beside(&dir, "new").exists() && !beside(&dir, "old").exists());

        // Killed while writing the staging folder: the old checkpoint stands.
        let staging = beside(&dir, "new");
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join(WEIGHTS), b"half").unwrap();
        recover(&dir).unwrap();
        assert_eq!(state_of(&dir), "2");
        assert!(!staging.exists());

        // Killed between the two renames: the complete staging folder becomes the checkpoint.
        save(&dir, &3, &store(3.0), &opt).unwrap();
        std::fs::rename(&dir, beside(&dir, "old")).unwrap();
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join(STATE), "4").unwrap();
        recover(&dir).unwrap();
        assert_eq!(state_of(&dir), "4");
        assert!(!beside(&dir, "old").exists());

        // Killed after moving the old one aside, before the new one was whole: the old returns.
        std::fs::rename(&dir, beside(&dir, "old")).unwrap();
        std::fs::create_dir_all(&staging).unwrap();
        recover(&dir).unwrap();
        assert_eq!(state_of(&dir), "4");

        // Nothing saved yet: nothing to recover.
        recover(&root.path().join("none")).unwrap();
        assert!(!root.path().join("none").exists());
    }
}
