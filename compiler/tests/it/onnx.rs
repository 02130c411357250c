//! ONNX back end: both models of every golden fixture pass `onnx.checker` (full check) and, in
//! onnxruntime, agree with the reference interpreter in the equivalence ladder's sense; the
//! interface, names and metadata are what docs/deploy.md promises; what ONNX cannot express is a
//! typed error naming its owner.

use crate::{common, onnx_common};
use snnc_compiler::emit::onnx::{self, Dim, OnnxError, Options, SpikeOutputs, StateKind};
use snnc_compiler::ir::{Module, PopulationKind};
use snnc_compiler::network::Encoding;
use snnc_compiler::passes;
use snnc_compiler::reference::{compare, run_module};
use snnc_compiler::synth;

const SAMPLES: usize = 5;

fn frame_and_steps(m: &Module) -> (Vec<usize>, Option<usize>) {
    let input = m.input().expect("input");
    let p = &m.populations[input];
    let steps = match &p.kind {
        PopulationKind::Input(i) if i.encoding == Encoding::EventFrames => Some(m.timesteps),
        _ => None,
    };
    (p.shape.dims().to_vec(), steps)
}

fn metadata(model: &onnx::Model) -> std::collections::BTreeMap<String, String> {
    model
        .proto
        .metadata_props
        .iter()
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect()
}

/// Every fixture, lowered (faithful: BN affines, dropout, relays) and optimised (hoisted stem,
/// dissolved relays): step and sequence model, checked and run in onnxruntime in batches of 3
/// (so both a full and a partial batch go through the symbolic N), against the interpreter.
#[test]
fn every_fixture_agrees_with_the_reference_interpreter_in_onnxruntime() {
    let Some(py) = onnx_common::python("onnx fixtures") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    for name in &common::fixtures() {
        let (net, _, lowered) = common::lowered(name);
        let x = synth::inputs(&net, SAMPLES, 7);
        let optimised = passes::optimise(lowered.clone());
        for (stage, m) in [("lowered", lowered), ("optimised", optimised)] {
            let reference = run_module(&m, &x).unwrap();
            let (frame, steps) = frame_and_steps(&m);
            let input = dir.path().join(format!("{name}.{stage}.npy"));
            onnx_common::write_inputs(&input, &x, &frame, steps);
            // The lowered models also output every layer's spike maps, so that path is checked too.
            let spikes = if stage == "lowered" {
                SpikeOutputs::All
            } else {
                SpikeOutputs::None
            };
            let opts = Options {
                spikes,
                ..Options::default()
            };
            for (kind, model) in [
                ("step", onnx::step_model(&m, &opts)),
                ("sequence", onnx::sequence_model(&m, &opts)),
            ] {
                let model = model.unwrap_or_else(|e| panic!("{name} {stage} {kind}: {e}"));
                let path = dir.path().join(format!("{name}.{stage}.{kind}.onnx"));
                std::fs::write(&path, model.to_bytes().unwrap()).unwrap();
                jobs.push(onnx_common::Job {
                    model: path,
                    input: input.clone(),
                    batch: 3,
                });
                expected.push((format!("{name} {stage} {kind}"), reference.clone()));
            }
        }
    }
    let started = std::time::Instant::now();
    let runs = onnx_common::run(&py, dir.path(), &jobs);
    eprintln!(
        "{} models checked and run in {:.1} s",
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(runs.len(), expected.len());
    for (run, (what, reference)) in runs.iter().zip(&expected) {
        let ag = compare(reference, &run.to_run_output());
        ag.check().unwrap_or_else(|e| panic!("{what}: {e}"));
        let spikes: u64 = reference.spikes.iter().flatten().flatten().sum();
        assert!(spikes > 0, "{what}: the fixture should spike");
        eprintln!(
            "{what}: agrees ({spikes} spikes, max logit error {:.1e}, flip rate {:.1e})",
            ag.max_logit_error,
            ag.flip_rate()
        );
    }
}

#[test]
fn the_step_model_of_delay2_has_the_states_docs_promise() {
    let (_, _, m) = common::lowered("delay2");
    let m = passes::optimise(m);
    let model = onnx::step_model(&m, &Options::default()).unwrap();
    let states: Vec<(String, StateKind, Vec<Dim>, f32)> = model
        .interface
        .states
        .iter()
        .map(|s| {
            let init = s.init.uniform().expect("one init value");
            (s.input.clone(), s.kind, s.shape.clone(), init)
        })
        .collect();
    let n = Dim::Symbol("N".into());
    assert_eq!(
        states,
        vec![
            (
                "membrane.lif1".into(),
                StateKind::Membrane,
                vec![n.clone(), Dim::Fixed(12)],
                0.0
            ),
            // lif1 is read two steps late (its delayed self-projection and fc2): a 2-slot ring.
            (
                "delay.lif1".into(),
                StateKind::Delay,
                vec![n.clone(), Dim::Fixed(2), Dim::Fixed(12)],
                0.0
            ),
            (
                "readout.acc".into(),
                StateKind::ReadoutAccumulator,
                vec![n.clone(), Dim::Fixed(4)],
                0.0
            ),
        ]
    );
    let g = model.proto.graph.as_ref().unwrap();
    let inputs: Vec<&str> = g.input.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        inputs,
        ["x_t", "membrane.lif1", "delay.lif1", "readout.acc"]
    );
    let outputs: Vec<&str> = g.output.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        outputs,
        [
            "logits",
            "readout",
            "spike_count.lif1",
            "membrane.lif1.next",
            "delay.lif1.next",
            "readout.acc.next"
        ]
    );
    // Spikes by comparison and cast, the hard reset by Where; neuron parameters in doc strings.
    let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
    for op in [
        "GreaterOrEqual",
        "Cast",
        "Where",
        "Gather",
        "Concat",
        "Gemm",
    ] {
        assert!(ops.contains(&op), "no {op} in {ops:?}");
    }
    let fire = g
        .node
        .iter()
        .find(|n| n.op_type == "GreaterOrEqual")
        .unwrap();
    assert!(
        fire.doc_string.contains("beta=0.5") && fire.doc_string.contains("threshold=1"),
        "{}",
        fire.doc_string
    );
    // Weights keep the network's names.
    assert!(
        g.initializer.iter().any(|t| t.name == "fc1.weight"),
        "{:?}",
        g.initializer.iter().map(|t| &t.name).collect::<Vec<_>>()
    );

    let meta = metadata(&model);
    assert_eq!(meta["snnc.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(meta["snnc.timesteps"], "7");
    assert_eq!(meta["snnc.encoding"], "direct");
    assert_eq!(meta["snnc.model"], "step");
    assert_eq!(meta["snnc.module_hash"].len(), 16);
    let iface: onnx::Interface = serde_json::from_str(&meta["snnc.interface"]).unwrap();
    assert_eq!(iface, model.interface);
    assert_eq!(model.proto.ir_version, 8);
    assert_eq!(model.proto.opset_import[0].version, 17);
}

#[test]
fn the_sequence_model_hoists_the_direct_stem_out_of_the_loop() {
    let (_, _, m) = common::lowered("snasnet_c10");
    let m = passes::optimise(m);
    let model = onnx::sequence_model(
        &m,
        &Options {
            source_hash: Some("0123456789abcdef".into()),
            ..Options::default()
        },
    )
    .unwrap();
    let g = model.proto.graph.as_ref().unwrap();
    // The stem conv (const: fed by the direct input only) runs once, before the Scan.
    let scan = g
        .node
        .iter()
        .position(|n| n.op_type == "Scan")
        .expect("a Scan");
    let stem = g
        .node
        .iter()
        .position(|n| n.op_type == "Conv")
        .expect("the stem conv outside the loop");
    assert!(stem < scan);
    assert_eq!(
        g.node.iter().filter(|n| n.op_type == "Conv").count(),
        1,
        "only the stem is outside the loop"
    );
    let body = g.node[scan]
        .attribute
        .iter()
        .find(|a| a.name == "body")
        .unwrap()
        .g
        .as_ref()
        .unwrap();
    assert!(body.node.iter().any(|n| n.op_type == "Conv"));
    assert!(body.node.iter().all(|n| n.name != "stem.bn"));
    let outputs: Vec<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(outputs[0], "logits");
    assert!(
        outputs.contains(&"spike_count.cell1.e20.lif"),
        "{outputs:?}"
    );
    assert_eq!(metadata(&model)["snnc.source_hash"], "0123456789abcdef");
    // Feedback edges (SNASNet backward cells) are delay rings carried by the Scan.
    let body_inputs: Vec<&str> = body.input.iter().map(|i| i.name.as_str()).collect();
    assert!(
        body_inputs.contains(&"delay.cell1.e20.bn"),
        "{body_inputs:?}"
    );
}

#[test]
fn event_frame_models_take_time_first_input() {
    let (_, _, m) = common::lowered("mlp");
    let model = onnx::sequence_model(&m, &Options::default()).unwrap();
    let x = &model.interface.inputs[0];
    assert_eq!(x.name, "x");
    assert_eq!(x.shape[0], Dim::Fixed(m.timesteps));
    assert_eq!(x.shape[1], Dim::Symbol("N".into()));
}

#[test]
fn what_onnx_cannot_hold_is_an_error_naming_its_owner() {
    let (_, _, m) = common::lowered("delay2");
    let mut big = m.clone();
    let lif = big
        .populations
        .iter()
        .find(|(_, p)| p.name == "lif1")
        .map(|(h, _)| h)
        .unwrap();
    if let PopulationKind::Spiking(s) = &mut big.populations[lif].kind {
        s.threshold = 1e39.into();
    }
    let err = onnx::step_model(&big, &Options::default()).unwrap_err();
    assert!(matches!(err, OnnxError::NotFloat32 { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "{lif} `lif1`: threshold = 1e39 is outside float32's range, and ONNX models compute in float32"
        )
    );

    let err = onnx::sequence_model(
        &m,
        &Options {
            max_bytes: 100,
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("above the 100-byte limit")
            && err.to_string().contains("`fc1.weight`"),
        "{err}"
    );

    let err = onnx::step_model(
        &m,
        &Options {
            spikes: SpikeOutputs::Layers(vec!["lif9".into()]),
            ..Options::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no spiking layer `lif9` to output spikes of; the layers are: lif1"
    );

    // Interface names derive from population names; a collision through them is refused.
    let mut clash = m.clone();
    let fc1 = clash
        .populations
        .iter()
        .find(|(_, p)| p.name == "fc1")
        .map(|(h, _)| h)
        .unwrap();
    clash.populations[fc1].kind = clash.populations[lif].kind.clone();
    clash.populations[fc1].name = "lif1.next".into();
    let err = onnx::step_model(&clash, &Options::default()).unwrap_err();
    assert!(matches!(err, OnnxError::NameClash { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("the ONNX name `membrane.lif1.next` would stand for both"),
        "{err}"
    );

    let mut broken = m.clone();
    broken.timesteps = 0;
    assert!(matches!(
        onnx::step_model(&broken, &Options::default()),
        Err(OnnxError::Invalid(_))
    ));
}

#[test]
fn chosen_spike_maps_become_outputs() {
    let (_, _, m) = common::lowered("autosnn");
    let m = passes::optimise(m);
    let layers: Vec<String> = m
        .populations
        .iter()
        .filter(|(_, p)| matches!(p.kind, PopulationKind::Spiking(_)))
        .map(|(_, p)| p.name.clone())
        .collect();
    let pick = vec![layers[1].clone(), layers[0].clone()];
    let model = onnx::step_model(
        &m,
        &Options {
            spikes: SpikeOutputs::Layers(pick),
            ..Options::default()
        },
    )
    .unwrap();
    let spike_outputs: Vec<&str> = model
        .interface
        .outputs
        .iter()
        .map(|o| o.name.as_str())
        .filter(|n| n.starts_with("spikes."))
        .collect();
    assert_eq!(
        spike_outputs,
        [
            format!("spikes.{}", layers[0]),
            format!("spikes.{}", layers[1])
        ]
    );
}

#[test]
fn writers_write_what_the_builders_build() {
    let (_, _, m) = common::lowered("mlp");
    let mut buf = Vec::new();
    let iface = onnx::step(&m, &Options::default(), &mut buf).unwrap();
    assert_eq!(
        buf,
        onnx::step_model(&m, &Options::default())
            .unwrap()
            .to_bytes()
            .unwrap()
    );
    assert_eq!(iface.model, "step");
    let mut buf = Vec::new();
    assert_eq!(
        onnx::sequence(&m, &Options::default(), &mut buf)
            .unwrap()
            .model,
        "sequence"
    );
    assert!(!buf.is_empty());
    // Deterministic: the same module gives the same bytes.
    let again = onnx::sequence_model(&m, &Options::default())
        .unwrap()
        .to_bytes()
        .unwrap();
    assert_eq!(buf, again);
}
