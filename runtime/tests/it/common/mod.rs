//! Shared helpers of the runtime's tests: the compiler's golden fixtures, lowered and optimised.

pub mod brute;

use snnc_compiler::ir::Module;
use snnc_compiler::network::{Network, Weights};
use snnc_compiler::synth;
use std::path::PathBuf;

/// The seed the compiler's fixtures draw their weights from.
pub const SEED: u64 = 2022;

pub const FIXTURES: &[&str] = &[
    "snasnet_c10",
    "snasnet_c100",
    "snasnet_forward",
    "snasnet_per_step",
    "autosnn",
    "mlp",
    "delay2",
];

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

/// Every example architecture (`examples/architectures/*.json`), sorted.
pub fn example_architectures() -> Vec<PathBuf> {
    let dir = workspace().join("examples/architectures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
