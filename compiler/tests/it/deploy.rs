//! The library behind `snnc compile` and `snnc export`: weights resolved from each source, one
//! artefact per format, a complete deployment folder, and typed errors that leave no files.

use crate::common;
use snnc_compiler::deploy::{
    self, CompileSettings, DeployError, ExportSettings, IR_FILE, MANIFEST_FILE, WeightsSource,
};
use snnc_compiler::emit::Format;
use snnc_compiler::emit::onnx::{self, SpikeOutputs};
use snnc_compiler::network::Network;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    common::fixtures_dir().join(name)
}

#[test]
fn placeholder_weights_fit_every_fixture_and_repeat_per_seed() {
    for name in &common::fixtures() {
        let net = Network::load(&fixture(name).join("network.json")).unwrap();
        let w = snnc_compiler::placeholder::weights(&net, 5);
        net.check_weights(&w)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(w, snnc_compiler::placeholder::weights(&net, 5), "{name}");
        assert_ne!(w, snnc_compiler::placeholder::weights(&net, 6), "{name}");
    }
}

#[test]
fn weights_come_from_beside_a_file_or_a_seed() {
    let trained = fixture("trained/fmnist-conv");
    let beside = deploy::load(&trained, &WeightsSource::Beside).unwrap();
    let json = std::fs::read(trained.join("network.json")).unwrap();
    let bytes = std::fs::read(trained.join("weights.safetensors")).unwrap();
    assert_eq!(beside.source_hash, onnx::source_hash(&json, Some(&bytes)));
    let file = WeightsSource::File(trained.join("weights.safetensors"));
    let by_path = deploy::load(&trained.join("network.json"), &file).unwrap();
    assert_eq!(by_path.weights, beside.weights);
    assert_eq!(by_path.source_hash, beside.source_hash);

    let seeded = deploy::load(&trained, &WeightsSource::Placeholder { seed: 3 }).unwrap();
    assert_eq!(seeded.weights_origin, "synthetic:3");
    assert_eq!(
        seeded.source_hash,
        onnx::source_hash(&json, Some(b"synthetic:3"))
    );

    match deploy::load(&fixture("mlp"), &WeightsSource::Beside) {
        Err(DeployError::NoWeights { network }) => assert!(network.ends_with("mlp/network.json")),
        Err(e) => panic!("expected NoWeights, got {e}"),
        Ok(_) => panic!("an architecture has no weights beside it"),
    }
}

#[test]
fn compile_to_file_writes_each_format() {
    let tmp = tempfile::tempdir().unwrap();
    for (format, file) in [
        (Format::Ir, "m.snnir"),
        (Format::Json, "m.json"),
        (Format::Dot, "m.dot"),
        (Format::OnnxStep, "step.onnx"),
        (Format::OnnxSeq, "seq.onnx"),
    ] {
        let output = tmp.path().join(file);
        let m = deploy::compile_to_file(&CompileSettings {
            input: fixture("delay2"),
            weights: WeightsSource::Placeholder { seed: 1 },
            optimise: true,
            format,
            output: output.clone(),
        })
        .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(m.weight_count() > 0);
        assert!(std::fs::metadata(&output).unwrap().len() > 0, "{format:?}");
    }
}

#[test]
fn export_writes_a_complete_folder_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("export");
    let settings = ExportSettings {
        input: fixture("trained/fmnist-conv"),
        out: out.clone(),
        weights: WeightsSource::Beside,
        optimise: true,
        spikes: SpikeOutputs::None,
    };
    let e = deploy::export(&settings).unwrap();
    assert!(!e.layers.is_empty() && e.states > 0);
    for f in &e.files {
        assert!(f.is_file(), "{} listed but not written", f.display());
    }
    assert!(e.files.contains(&out.join(IR_FILE)));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(manifest["module"], e.module.as_str());
    assert_eq!(manifest["layers"].as_array().unwrap().len(), e.layers.len());

    let bad = tmp.path().join("bad");
    let err = deploy::export(&ExportSettings {
        out: bad.clone(),
        spikes: SpikeOutputs::Layers(vec!["nope".into()]),
        ..settings
    })
    .expect_err("an unknown layer is refused");
    assert!(
        matches!(err, DeployError::Onnx { .. }),
        "expected an ONNX error, got {err}"
    );
    assert!(!bad.exists(), "a failed export must not create the folder");
}

/// An architecture claiming more parameters than placeholders are drawn for is refused before
/// anything is allocated (noted while writing the fuzz targets: it used to abort on the
/// allocation).
#[test]
fn placeholder_weights_refuse_a_huge_architecture() {
    let tmp = tempfile::tempdir().unwrap();
    let net = r#"{"format_version": 1, "name": "huge", "timesteps": 1, "num_classes": 10,
      "input": {"shape": [1000000], "encoding": "direct"},
      "readout": {"node": "fc2", "kind": "time_mean"},
      "nodes": [{"name": "x", "op": "input"},
        {"name": "fc1", "op": "linear", "in_features": 1000000, "out_features": 1000},
        {"name": "lif", "op": "lif", "tau": 2.0},
        {"name": "fc2", "op": "linear", "in_features": 1000, "out_features": 10}],
      "edges": [{"from": "x", "to": "fc1"}, {"from": "fc1", "to": "lif"}, {"from": "lif", "to": "fc2"}]}"#;
    std::fs::write(tmp.path().join("network.json"), net).unwrap();
    let output = tmp.path().join("m.snnir");
    let err = deploy::compile_to_file(&CompileSettings {
        input: tmp.path().to_path_buf(),
        weights: WeightsSource::Placeholder { seed: 1 },
        optimise: true,
        format: Format::Ir,
        output: output.clone(),
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("needs 1000010000 parameter values, more than the 268435456"),
        "{err}"
    );
    assert!(!output.exists());
}
