//! Shared helpers of the runtime's tests: the golden fixtures (every folder of `tests/fixtures/`),
//! lowered and optimised.

pub mod brute;
pub mod flips;

use snnc_compiler::ir::Module;
use snnc_compiler::network::{Network, Weights};
use snnc_compiler::synth;
use std::path::PathBuf;

/// The seed the compiler's fixtures draw their weights from.
pub const SEED: u64 = 2022;

/// Every golden fixture: the folders of `tests/fixtures/` holding a `network.json`, sorted.
/// (`tests/fixtures/trained/` holds trained runs one level down, so it is not one of them.)
pub fn fixtures() -> Vec<String> {
    let dir = workspace().join("tests/fixtures");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the golden fixtures {}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("network.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no fixture in {}", dir.display());
    names
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn load(name: &str) -> (Network, Weights) {
    let path = workspace()
        .join("tests/fixtures")
        .join(name)
        .join("network.json");
    let net = Network::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let w = synth::weights(&net, SEED);
    (net, w)
}

/// The faithful lowering and the optimised module of a fixture.
pub fn modules(net: &Network, w: &Weights) -> Vec<(&'static str, Module)> {
    let lowered = snnc_compiler::driver::compile(net, w.clone(), false, true).unwrap();
    let optimised = snnc_compiler::driver::compile(net, w.clone(), true, true).unwrap();
    vec![("lowered", lowered), ("optimised", optimised)]
}

/// Every example architecture (`examples/architectures/*.json`), sorted; never empty, so a test
/// over them cannot pass by finding none.
pub fn example_architectures() -> Vec<PathBuf> {
    let dir = workspace().join("examples/architectures");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the example architectures {}: {e}", dir.display()));
    let mut v: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no architecture in {}", dir.display());
    v
}
