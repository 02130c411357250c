//! The one listing of the committed fixtures: every `tests/fixtures/*` network and every trained
//! run under `tests/fixtures/trained/`, found on disk so a new fixture is picked up everywhere.

use crate::common::repo;
use std::path::{Path, PathBuf};

/// The sub-folders of `dir` holding a `network.json`, sorted; fails when there are none.
fn network_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("network.json").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no networks under {}", dir.display());
    dirs
}

/// `tests/fixtures/<name>/network.json` of every golden fixture.
pub fn networks() -> Vec<PathBuf> {
    network_dirs(&repo().join("tests/fixtures"))
        .into_iter()
        .map(|d| d.join("network.json"))
        .collect()
}

/// Every committed trained run (`tests/fixtures/trained/*`, network.json + weights.safetensors),
/// plus the run folders named in `SNNC_IR_RUNS` (separated by `:`).
pub fn trained_runs() -> Vec<PathBuf> {
    let mut dirs = network_dirs(&repo().join("tests/fixtures/trained"));
    if let Some(list) = std::env::var_os("SNNC_IR_RUNS") {
        dirs.extend(std::env::split_paths(&list));
    }
    dirs
}

/// `tests/fixtures/<name>`: one golden fixture's folder.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}
