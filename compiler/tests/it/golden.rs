//! Golden IR snapshots: the lowered and optimised text of every fixture, and each pass's effect.
//!
//! Snapshots live in the workspace's `tests/snapshots/`. After an intended change, update them with
//! `INSTA_UPDATE=always cargo test -p snnc-compiler --test it golden` and review the diff in git.

use crate::common;
use snnc_compiler::ir::{Module, PopulationKind, ProjectionKind};
use snnc_compiler::passes::{self, PIPELINE};
use snnc_compiler::text::{PrintOptions, print};
use std::collections::BTreeMap;

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        snapshot_path => "../../../tests/snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

fn text(m: &Module) -> String {
    print(m, &PrintOptions::default())
}

/// Counts of populations and projections by kind, e.g. `spiking 15, analog 3 | conv2d 16, ...`.
fn census(m: &Module) -> String {
    let mut pops = BTreeMap::new();
    for (_, p) in m.populations.iter() {
        *pops.entry(p.kind.name()).or_insert(0) += 1;
    }
    let mut projs = BTreeMap::new();
    for (_, e) in m.projections.iter() {
        *projs.entry(e.kind.name()).or_insert(0) += 1;
    }
    let list = |m: BTreeMap<&str, i32>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{} | {} | {} tensors, {} weights",
        list(pops),
        list(projs),
        m.tensors.len(),
        m.weight_count()
    )
}

#[test]
fn lowered_and_optimised_ir_of_every_fixture() {
    for name in &common::fixtures() {
        let (_, _, m) = common::lowered(name);
        snapshot(&format!("{name}.lowered"), &text(&m));
        snapshot(&format!("{name}.optimised"), &text(&passes::optimise(m)));
    }
}

#[test]
fn the_effect_of_each_pass() {
    for name in ["snasnet_c10", "autosnn"] {
        let (_, _, lowered) = common::lowered(name);
        for (pass_name, pass) in PIPELINE {
            let after = pass(lowered.clone());
            let report = format!(
                "; {pass_name} on the lowered {name}\n; before: {}\n; after:  {}\n{}",
                census(&lowered),
                census(&after),
                text(&after)
            );
            snapshot(&format!("{name}.{pass_name}"), &report);
        }
    }
}

#[test]
fn census_sees_the_shape_of_the_seeds() {
    // A cheap cross-check of what the snapshots hold: the AutoSNN network optimises to spiking
    // populations only (plus the input, the hoisted stem and the readout).
    let (_, _, m) = common::lowered("autosnn");
    let m = passes::optimise(m);
    let analog: Vec<_> = m
        .populations
        .iter()
        .filter(|(_, p)| matches!(p.kind, PopulationKind::Analog(_)))
        .map(|(_, p)| p.name.clone())
        .collect();
    assert_eq!(analog, ["stem.bn"]);
    assert!(
        m.projections
            .iter()
            .all(|(_, e)| !matches!(e.kind, ProjectionKind::Affine(_)))
    );
}

#[test]
fn json_and_dot_back_ends() {
    for name in ["delay2", "mlp"] {
        let (_, _, m) = common::lowered(name);
        let m = passes::optimise(m);
        let json =
            snnc_compiler::emit::json(&m, "weights.safetensors", snnc_compiler::text::INLINE_LIMIT);
        snapshot(
            &format!("{name}.optimised.json"),
            &serde_json::to_string_pretty(&json).unwrap(),
        );
        snapshot(
            &format!("{name}.optimised.dot"),
            &snnc_compiler::emit::dot(&m),
        );
    }
}
