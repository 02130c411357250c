//! The generated golden fixtures match their builders, and every fixture loads, lowers and runs.
//!
//! `SNNC_WRITE_FIXTURES=1 cargo test -p snnc-compiler --test it fixtures` rewrites the generated
//! `tests/fixtures/*/network.json` files from the product builders (`snnc_compiler::arch`).

use crate::common;
use snnc_compiler::reference::{compare, run_module, run_network};
use snnc_compiler::synth;

#[test]
fn generated_fixtures_match_their_builders() {
    let write = std::env::var_os("SNNC_WRITE_FIXTURES").is_some();
    let listed = common::fixtures();
    for (name, desc) in common::generated() {
        let path = common::fixtures_dir().join(name).join("network.json");
        let text = desc.to_json_pretty() + "\n";
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            on_disk, text,
            "{name}: regenerate with SNNC_WRITE_FIXTURES=1"
        );
        assert!(
            write || listed.iter().any(|l| l == name),
            "{name}: not among the listed fixtures {listed:?}"
        );
    }
}

#[test]
fn lowering_agrees_with_the_network_interpreter_on_every_fixture() {
    for name in &common::fixtures() {
        let (net, w, m) = common::lowered(name);
        let x = synth::inputs(&net, 3, common::SEED);
        let a = run_network(&net, &w, &x).unwrap();
        let b = run_module(&m, &x).unwrap();
        let ag = compare(&a, &b);
        ag.check().unwrap_or_else(|e| panic!("{name}: {e}"));
        let spikes: u64 = a.spikes.iter().flatten().flatten().sum();
        eprintln!(
            "{name}: {} layers, {spikes} spikes, flips {}, logit err {:.2e}, preds {:?}",
            a.layers.len(),
            ag.flips,
            ag.max_logit_error,
            a.predictions
        );
        for l in &a.layers {
            eprintln!("   {l}: {}", a.total_spikes(l).unwrap());
        }
        assert!(
            spikes > 0,
            "{name}: the synthetic weights should make the network spike"
        );
    }
}

/// The architectures the searches' builders write (`snnc arch`, kept in `examples/architectures`)
/// lower, optimise and agree with the network interpreter too.
#[test]
fn example_architectures_lower_and_keep_their_outputs() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/architectures");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut checked = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        checked += 1;
        let net = snnc_compiler::network::Network::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let w = synth::weights(&net, common::SEED);
        let x = synth::inputs(&net, 2, common::SEED);
        let a = run_network(&net, &w, &x).unwrap();
        let m = snnc_compiler::driver::compile(&net, w, true, true)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        compare(&a, &run_module(&m, &x).unwrap())
            .check()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    assert!(checked > 0, "{} holds no architecture", dir.display());
}
