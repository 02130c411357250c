//! Shared helpers of the compiler's integration tests: the golden fixtures and their weights.
#![allow(dead_code)]

use snnc_compiler::arch::autosnn::{AutoSnnArch, AutoSnnConfig, autosnn_network};
use snnc_compiler::arch::snasnet::{CellGenotype, SnasnetConfig, snasnet_network};
use snnc_compiler::arch::{InputEncoding, InputGeometry};
use snnc_compiler::ir::Module;
use snnc_compiler::network::{Network, NetworkDesc, Weights};
use snnc_compiler::synth;
use snnc_datasets::{AUTOSNN_SIDE, DatasetName, SideRule, network_input};
use std::path::PathBuf;

/// The seed every fixture's weights are drawn from.
pub const SEED: u64 = 2022;

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// The golden fixtures: every `tests/fixtures/<name>/network.json`, by name. A folder is the one
/// list, so a new fixture is picked up by every test that runs them all.
pub fn fixtures() -> Vec<String> {
    let dir = fixtures_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())))
        .filter(|entry| entry.path().join("network.json").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "{} holds no fixture", dir.display());
    names
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

/// A small direct-coded input the CIFAR-sized macros also take (so fixtures stay quick).
fn small_input(num_classes: usize) -> InputGeometry {
    InputGeometry {
        channels: 3,
        side: 16,
        encoding: InputEncoding::Direct,
        num_classes,
    }
}

/// A SNASNet fixture from the product builder (`snnc_compiler::arch`), named `name`.
fn snasnet(name: &str, genotype: &str, cfg: SnasnetConfig) -> NetworkDesc {
    let genotype: CellGenotype = genotype.parse().expect("valid genotype");
    let mut desc = snasnet_network(&genotype, &cfg).expect("valid SNASNet settings");
    desc.name = name.into();
    desc
}

/// The generated fixtures and the builder configuration each comes from: the product builders,
/// so the snapshots show the graphs snnc ships. `snasnet_per_step` and `autosnn` are exactly what
/// `snnc arch` writes for CIFAR-10 (but for the name); `tests/cli/arch_fixtures.rs` checks that.
pub fn generated() -> Vec<(&'static str, NetworkDesc)> {
    let head = |input, width, second_pool, vote_group, per_step_bn| SnasnetConfig {
        hidden: 32,
        second_pool,
        vote_group,
        per_step_bn,
        ..SnasnetConfig::new(input, width)
    };
    let cifar10 = network_input(DatasetName::Cifar10, SideRule::Native);
    let mut autosnn = autosnn_network(
        &AutoSnnArch::paper_final(),
        &AutoSnnConfig::new(network_input(DatasetName::Cifar10, AUTOSNN_SIDE), 4),
    )
    .expect("valid AutoSNN settings");
    autosnn.name = "autosnn".into();
    vec![
        (
            // The seed code's shared batch-norm statistics (`snnc arch snasnet --shared-bn`).
            "snasnet_c10",
            snasnet(
                "snasnet_c10",
                "0303 0030 2002 0200",
                head(small_input(10), 8, 4, 10, false),
            ),
        ),
        (
            "snasnet_c100",
            snasnet(
                "snasnet_c100",
                "0302 0030 3003 0000",
                head(small_input(100), 4, 2, 5, true),
            ),
        ),
        (
            "snasnet_forward",
            snasnet(
                "snasnet_forward",
                "0342 0010 0003 0000",
                head(small_input(10), 4, 2, 10, true),
            ),
        ),
        (
            "snasnet_per_step",
            snasnet(
                "snasnet_per_step",
                "0303 0030 2002 0200",
                head(cifar10, 4, 4, 10, true),
            ),
        ),
        ("autosnn", autosnn),
    ]
}
