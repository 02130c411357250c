//! Both ONNX models of every committed peer fixture (tests/peers) in onnxruntime, compared
//! spike for spike with the framework that wrote the fixture (docs/neurons.md).

use crate::onnx_common::{self, Job};
use snnc_compiler::emit::onnx::{self, Options, SpikeOutputs};
use snnc_compiler::ir::Encoding;
use snnc_compiler::peer::PeerRun;
use std::path::PathBuf;

fn fixtures_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/fixtures")
}

#[test]
fn every_peer_fixture_spike_for_spike_in_onnxruntime() {
    let Some(py) = onnx_common::python("onnx peer fixtures") else {
        return;
    };
    let dirs = PeerRun::all(&fixtures_root());
    assert!(
        !dirs.is_empty(),
        "no peer fixtures: run tests/peers/generate.py"
    );
    let dir = tempfile::tempdir().unwrap();
    let (mut jobs, mut expected) = (Vec::new(), Vec::new());
    for (i, d) in dirs.iter().enumerate() {
        let peer = PeerRun::load(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        let name = d.file_name().unwrap().to_string_lossy().to_string();
        let m = snnc_compiler::driver::compile(&peer.network, peer.weights.clone(), true, true)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let desc = &peer.network.desc;
        let frame = desc.input.shape.clone();
        let steps = (desc.input.encoding == Encoding::EventFrames).then_some(desc.timesteps);
        let input = dir.path().join(format!("x{i}.npy"));
        onnx_common::write_inputs(&input, &peer.inputs, &frame, steps);
        let opts = Options {
            spikes: SpikeOutputs::All,
            ..Options::default()
        };
        for (kind, model) in [
            ("step", onnx::step_model(&m, &opts)),
            ("sequence", onnx::sequence_model(&m, &opts)),
        ] {
            let model = model.unwrap_or_else(|e| panic!("{name} {kind}: {e}"));
            let path = dir.path().join(format!("p{i}.{kind}.onnx"));
            std::fs::write(&path, model.to_bytes().unwrap()).unwrap();
            jobs.push(Job {
                model: path,
                input: input.clone(),
                batch: 8,
            });
            expected.push((format!("{name} {kind}"), i));
        }
    }
    let runs = onnx_common::run_with_spike_maps(&py, dir.path(), &jobs);
    assert_eq!(runs.len(), expected.len());
    for (run, (what, i)) in runs.iter().zip(&expected) {
        let peer = PeerRun::load(&dirs[*i]).unwrap();
        let (mut differing, mut total) = (0usize, 0usize);
        for (layer, rec) in &peer.layers {
            let maps = run
                .spike_maps
                .iter()
                .find(|(l, _)| l == layer)
                .map(|(_, m)| m)
                .unwrap_or_else(|| panic!("{what}: no spike map for `{layer}`"));
            assert_eq!(maps.len(), rec.samples, "{what} `{layer}`: samples");
            for (s, sample) in maps.iter().enumerate() {
                for (t, step) in sample.iter().enumerate() {
                    assert_eq!(step.len(), rec.neurons, "{what} `{layer}`: neurons");
                    for (n, &ours) in step.iter().enumerate() {
                        total += usize::from(rec.spike(s, t, n));
                        if ours != rec.spike(s, t, n) {
                            differing += 1;
                            eprintln!(
                                "{what} `{layer}` sample {s} step {t} neuron {n}: onnx {ours}, \
                                 peer membrane {}",
                                rec.membrane(s, t, n)
                            );
                        }
                    }
                }
            }
        }
        for (s, logits) in run.logits.iter().enumerate() {
            let ours: Vec<f32> = logits.iter().map(|&v| v as f32).collect();
            if let Err(e) = peer.check_readout(s, &ours) {
                panic!("{what}: {e}");
            }
        }
        eprintln!("{what}: {total} peer spikes, {differing} differing in onnxruntime");
        assert_eq!(differing, 0, "{what}: spikes differ from the peer");
    }
}
