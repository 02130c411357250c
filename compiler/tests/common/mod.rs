//! Shared helpers of the compiler's integration tests: the golden fixtures and their weights.
#![allow(dead_code)]

use snnc_compiler::ir::Module;
use snnc_compiler::network::{Network, Weights};
use snnc_compiler::synth::{self, AutoSnnConfig, SnasnetConfig};
use std::path::PathBuf;

/// The seed every fixture's weights are drawn from.
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

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

pub fn load(name: &str) -> (Network, Weights) {
    let path = fixtures_dir().join(name).join("network.json");
    let net = Network::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let w = synth::weights(&net, SEED);
    (net, w)
}

pub fn lowered(name: &str) -> (Network, Weights, Module) {
    let (net, w) = load(name);
    let m = snnc_compiler::lower::lower(&net, w.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    (net, w, m)
}

/// The generated fixtures and the builder configuration each comes from.
pub fn generated() -> Vec<(&'static str, snnc_compiler::network::NetworkDesc)> {
    let cell = |c: &str| synth::parse_cell(c).expect("valid cell code");
    let snasnet_with = |name: &str, code: &str, width, second_pool, classes, group, per_step_bn| {
        synth::snasnet(&SnasnetConfig {
            name: name.into(),
            cell: cell(code),
            input: vec![3, 16, 16],
            width,
            second_pool,
            hidden: 32,
            classes,
            group,
            timesteps: 5,
            per_step_bn,
        })
    };
    let snasnet = |name: &str, code: &str, width, second_pool, classes, group| {
        snasnet_with(name, code, width, second_pool, classes, group, false)
    };
    vec![
        (
            "snasnet_c10",
            snasnet("snasnet_c10", "0303 0030 2002 0200", 8, 4, 10, 10),
        ),
        (
            "snasnet_c100",
            snasnet("snasnet_c100", "0302 0030 3003 0000", 4, 2, 100, 5),
        ),
        (
            "snasnet_forward",
            snasnet("snasnet_forward", "0342 0010 0003 0000", 4, 2, 10, 10),
        ),
        (
            "snasnet_per_step",
            snasnet_with(
                "snasnet_per_step",
                "0303 0030 2002 0200",
                4,
                4,
                10,
                10,
                true,
            ),
        ),
        (
            "autosnn",
            synth::autosnn(&AutoSnnConfig::final_architecture(4)),
        ),
    ]
}
