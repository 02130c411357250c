//! `snnc compile` and `snnc ir check|fmt` end to end: outputs, round trips and error exits.

use crate::common::{s, snnc, text};
use crate::fixtures::fixture;
use std::path::Path;
use std::process::Output;

/// `snnc compile` of fixture `name` with synthetic weights drawn from `seed`, writing `out`.
fn compile_synthetic(name: &str, seed: &str, extra: &[&str], out: &Path) -> Output {
    let fixture = fixture(name);
    let mut args = vec![
        "compile",
        s(&fixture),
        "--synthetic-weights",
        seed,
        "-o",
        s(out),
    ];
    args.extend_from_slice(extra);
    snnc(&args)
}

#[test]
fn compile_emits_ir_json_and_dot_and_the_ir_checks() {
    let dir = tempfile::tempdir().unwrap();
    let ir = dir.path().join("net.snnir");
    let o = compile_synthetic("snasnet_c10", "7", &[], &ir);
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir.path().join("net.safetensors").is_file());
    let o = snnc(&["ir", "check", s(&ir)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("ok: module `snasnet_c10`"),
        "{}",
        text(&o)
    );

    // fmt of a canonical file prints it unchanged; --write leaves it unchanged too.
    let before = std::fs::read_to_string(&ir).unwrap();
    let o = snnc(&["ir", "fmt", s(&ir)]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), before);
    assert!(snnc(&["ir", "fmt", "--write", s(&ir)]).status.success());
    assert_eq!(std::fs::read_to_string(&ir).unwrap(), before);

    let json = dir.path().join("net.json");
    let o = compile_synthetic("autosnn/network.json", "7", &["--emit", "json"], &json);
    assert!(o.status.success(), "{}", text(&o));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["module"], "autosnn");
    assert!(
        doc["populations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "spiking")
    );

    let dot = dir.path().join("net.dot");
    let o = compile_synthetic("delay2", "7", &["--emit", "dot", "--no-opt"], &dot);
    assert!(o.status.success(), "{}", text(&o));
    let d = std::fs::read_to_string(&dot).unwrap();
    assert!(
        d.starts_with("digraph \"delay2\"") && d.contains("style=dashed"),
        "{d}"
    );
}

#[test]
fn check_fails_with_the_line_of_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let ir = dir.path().join("d.snnir");
    assert!(compile_synthetic("delay2", "1", &[], &ir).status.success());
    // Remove the delay of the feedback projection: a zero-delay self-loop.
    let src = std::fs::read_to_string(&ir).unwrap();
    // The message points at the first population it names.
    let line = src
        .lines()
        .position(|l| l.starts_with("p2 = "))
        .expect("p2's line")
        + 1;
    std::fs::write(&ir, src.replace(" delay=2 factor", " factor")).unwrap();
    let o = snnc(&["ir", "check", s(&ir)]);
    assert!(!o.status.success());
    let msg = text(&o);
    assert!(
        msg.contains(&format!(
            "d.snnir:{line}: zero-delay cycle p2 `lif1` -> p2 `lif1`"
        )),
        "{msg}"
    );
    // Every problem is reported, each at the line of its entity: the cycle and a gain for a leak.
    let broken = src
        .replace(" delay=2 factor", " factor")
        .replacen("beta=", "beta=1", 1);
    std::fs::write(&ir, broken).unwrap();
    let o = snnc(&["ir", "check", s(&ir)]);
    assert!(!o.status.success());
    let msg = text(&o);
    assert!(
        msg.contains(&format!("d.snnir:{line}: p2: beta must lie in [0, 1]"))
            && msg.contains(&format!("d.snnir:{line}: zero-delay cycle")),
        "{msg}"
    );

    std::fs::write(
        &ir,
        "snnir 1\nmodule \"m\" timesteps=1 classes=1\np0 = input \"x\" [1] sideways\n",
    )
    .unwrap();
    let o = snnc(&["ir", "check", s(&ir)]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(
            "d.snnir:3:20: expected an encoding (direct or event_frames), found `sideways`"
        ),
        "{}",
        text(&o)
    );
}

#[test]
fn compile_without_weights_says_how_to_proceed() {
    let dir = tempfile::tempdir().unwrap();
    let o = snnc(&[
        "compile",
        s(&fixture("mlp")),
        "-o",
        s(&dir.path().join("m.snnir")),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--synthetic-weights SEED"),
        "{}",
        text(&o)
    );
    let o = snnc(&[
        "compile",
        s(dir.path()),
        "-o",
        s(&dir.path().join("m.snnir")),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no network found"), "{}", text(&o));
}

/// Malformed neuron attributes through the CLI: exit 1, one message naming the file, the node and
/// the field, and no output written. Each row edits node `neuron1` of a peer fixture's network.
#[test]
fn malformed_neuron_attributes_exit_1_and_write_nothing() {
    type Edit = fn(&mut serde_json::Value);
    let rows: &[(&str, Edit, &str)] = &[
        (
            "tau and beta",
            |n| n["tau"] = 2.0.into(),
            "give exactly one of `tau` and `beta`",
        ),
        (
            "beta 1",
            |n| n["beta"] = 1.0.into(),
            "(1 is no leak: use op `if`)",
        ),
        (
            "beta naming no tensor",
            |n| n["beta"] = "nan".into(),
            "weights have no tensor `nan`",
        ),
        (
            "beta neither a number nor a tensor name",
            |n| n["beta"] = true.into(),
            "expected a number, or the name of a tensor in the weights file",
        ),
        (
            "threshold naming a tensor of the wrong shape",
            |n| n["threshold"] = "fc1.weight".into(),
            "`threshold` names tensor `fc1.weight` of shape [32, 64]",
        ),
        (
            "v_min above threshold",
            |n| n["v_min"] = 2.0.into(),
            "`v_min` must be finite and below",
        ),
        (
            "unknown reset",
            |n| n["reset"] = "delayed".into(),
            "unknown variant `delayed`",
        ),
        (
            "if with beta",
            |n| n["op"] = "if".into(),
            "`if` has no leak",
        ),
        (
            "alpha on a lif",
            |n| n["alpha"] = 0.5.into(),
            "which `lif` does not have: remove them (or use `cuba_lif`)",
        ),
        (
            "cuba_lif without a current decay",
            |n| n["op"] = "cuba_lif".into(),
            "`cuba_lif` needs its current's decay",
        ),
        (
            "cuba_lif alpha 1",
            |n| {
                n["op"] = "cuba_lif".into();
                n["alpha"] = 1.0.into();
            },
            "`alpha` must lie in [0, 1)",
        ),
        (
            "cuba_lif alpha and tau_syn",
            |n| {
                n["op"] = "cuba_lif".into();
                n["alpha"] = 0.5.into();
                n["tau_syn"] = 4.0.into();
            },
            "give exactly one of `alpha` and `tau_syn`",
        ),
    ];
    let source = crate::common::repo().join("tests/peers/fixtures/snntorch_leaky_subtract_digits");
    let mut failed = Vec::new();
    for (case, edit, expected) in rows {
        let dir = tempfile::tempdir().unwrap();
        let mut net: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(source.join("network.json")).unwrap())
                .unwrap();
        let node = net["nodes"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|n| n["name"] == "neuron1")
            .unwrap();
        edit(node);
        std::fs::write(dir.path().join("network.json"), net.to_string()).unwrap();
        std::fs::copy(
            source.join("weights.safetensors"),
            dir.path().join("weights.safetensors"),
        )
        .unwrap();
        let out = dir.path().join("out.snnir");
        let o = snnc(&["compile", s(dir.path()), "-o", s(&out)]);
        let msg = text(&o);
        // The file of the field, or of the tensor it names.
        let file = msg.contains("network.json") || msg.contains("weights.safetensors");
        let named = file && (msg.contains("neuron1") || msg.contains(":1:"));
        if o.status.code() != Some(1) || !msg.contains(expected) || !named || out.exists() {
            failed.push(format!(
                "{case}: exit {:?}, output written {}, message: {msg}",
                o.status.code(),
                out.exists()
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
