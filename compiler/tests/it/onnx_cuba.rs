//! Current-based LIF (`cuba_lif`) in both ONNX models: the synaptic current is a state of its
//! own (`current.<layer>`, beside `membrane.<layer>`), computed as `ir::Synapse::update` does, and
//! both models match the reference interpreter spike for spike in onnxruntime; the deployment
//! manifest lists the current.

use crate::onnx_common;
use crate::ties::{self, Tally};
use snnc_compiler::deploy::{self, ExportSettings, MANIFEST_FILE, WeightsSource};
use snnc_compiler::emit::onnx::{self, Dim, Options, SpikeOutputs, StateKind};
use snnc_compiler::ir::{Module, PopulationKind};
use snnc_compiler::reference::run_module;
use snnc_compiler::synth::Rng;

const TIMESTEPS: usize = 16;
const FEATURES: usize = 6;
const SAMPLES: usize = 4;

fn numbers(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> String {
    let v: Vec<String> = (0..n)
        .map(|_| format!("{:?}", rng.uniform(lo, hi)))
        .collect();
    v.join(", ")
}

/// Three layers: `syn1` with a synapse that scales its input (`w_in` 0.5) and a bias,
/// `syn2` with a synapse but no membrane memory (`beta` 0, so a current and no membrane state),
/// and a plain `lif3` (neither current nor change).
fn cuba_module(encoding: &str) -> Module {
    let mut rng = Rng::new(18);
    let text = format!(
        r#"snnir 1
module "cuba" timesteps={TIMESTEPS} classes=4

t0 = tensor "fc1.weight" [10, {FEATURES}] [{}]
t1 = tensor "syn1.bias" [10] [{}]
t2 = tensor "fc2.weight" [8, 10] [{}]
t3 = tensor "fc3.weight" [4, 8] [{}]

p0 = input "input" [{FEATURES}] {encoding}
p1 = spiking "syn1" [10] beta=0.9 gain=1.0 threshold=1.0 v_reset=0.0 reset=subtract fire=ge alpha=0.8 w_in=0.5 bias=t1
p2 = spiking "syn2" [8] beta=0.0 gain=0.5 threshold=0.5 v_reset=0.0 reset=hard fire=gt alpha=0.6 w_in=1.0
p3 = spiking "lif3" [4] beta=0.5 gain=1.0 threshold=1.0 v_reset=0.0 reset=hard fire=ge
p4 = readout "readout" [4] spike_count

e0 = dense p0 -> p1 graded weight=t0
e1 = dense p1 -> p2 binary weight=t2
e2 = dense p2 -> p3 binary weight=t3
e3 = identity p3 -> p4 binary
"#,
        numbers(&mut rng, 10 * FEATURES, -0.4, 0.8),
        numbers(&mut rng, 10, -0.1, 0.2),
        numbers(&mut rng, 8 * 10, -0.3, 0.6),
        numbers(&mut rng, 4 * 8, -0.2, 0.9),
    );
    snnc_compiler::text::parse(&text, "cuba.snnir", |_| {
        Ok(snnc_compiler::network::Weights::default())
    })
    .unwrap_or_else(|e| panic!("{e}\n{text}"))
    .0
}

fn frames(event_frames: bool) -> Vec<Vec<f32>> {
    let per_sample = FEATURES * if event_frames { TIMESTEPS } else { 1 };
    let mut rng = Rng::new(7);
    (0..SAMPLES)
        .map(|_| (0..per_sample).map(|_| rng.uniform(0.0, 1.0)).collect())
        .collect()
}

#[test]
fn the_step_model_carries_each_synaptic_current_as_a_state() {
    let m = cuba_module("direct");
    let model = onnx::step_model(&m, &Options::default()).unwrap();
    let n = Dim::Symbol("N".into());
    let states: Vec<(&str, &str, StateKind, Vec<Dim>, f32)> = model
        .interface
        .states
        .iter()
        .map(|s| {
            (
                s.input.as_str(),
                s.output.as_str(),
                s.kind,
                s.shape.clone(),
                s.init.uniform().expect("one init value"),
            )
        })
        .collect();
    let fixed = |d: usize| vec![n.clone(), Dim::Fixed(d)];
    assert_eq!(
        states,
        [
            (
                "membrane.syn1",
                "membrane.syn1.next",
                StateKind::Membrane,
                fixed(10),
                0.0
            ),
            (
                "current.syn1",
                "current.syn1.next",
                StateKind::Current,
                fixed(10),
                0.0
            ),
            // beta = 0 keeps no membrane, but the current still decays by alpha.
            (
                "current.syn2",
                "current.syn2.next",
                StateKind::Current,
                fixed(8),
                0.0
            ),
            (
                "membrane.lif3",
                "membrane.lif3.next",
                StateKind::Membrane,
                fixed(4),
                0.0
            ),
            (
                "readout.acc",
                "readout.acc.next",
                StateKind::ReadoutAccumulator,
                fixed(4),
                0.0
            ),
        ]
    );
    let g = model.proto.graph.as_ref().unwrap();
    let inputs: Vec<&str> = g.input.iter().map(|i| i.name.as_str()).collect();
    assert!(inputs.contains(&"current.syn1") && inputs.contains(&"current.syn2"));
    let outputs: Vec<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
    assert!(outputs.contains(&"current.syn1.next") && outputs.contains(&"current.syn2.next"));

    // i = alpha i + w_in x as Mul, Mul, Add (the Add is the published next current); with
    // w_in = 1 the second product is left out.
    let node = |output: &str| {
        let n = g
            .node
            .iter()
            .find(|n| n.output.iter().any(|o| o == output))
            .unwrap_or_else(|| panic!("no node makes `{output}`"));
        (n.op_type.as_str(), n.input.clone())
    };
    assert_eq!(
        node("syn1/current_decay"),
        ("Mul", vec!["current.syn1".into(), "syn1.alpha".into()])
    );
    assert_eq!(node("syn1/current_in").0, "Mul");
    assert_eq!(
        node("current.syn1.next"),
        (
            "Add",
            vec!["syn1/current_decay".into(), "syn1/current_in".into()]
        )
    );
    let (op, inputs) = node("current.syn2.next");
    assert_eq!(op, "Add");
    assert_eq!(inputs[0], "syn2/current_decay");
    assert!(
        g.node.iter().all(|n| n.name != "syn2/current_in"),
        "w_in = 1 multiplies nothing"
    );
    assert!(
        g.node.iter().all(|n| !n.name.starts_with("lif3/current")),
        "a population without a synapse has no current"
    );
    // The current, not I + bias, charges the membrane.
    let charged = g.node.iter().find(|n| n.name == "syn1/v").unwrap();
    assert!(
        charged.input.contains(&"current.syn1.next".to_string()),
        "{:?}",
        charged.input
    );
    let current = g
        .node
        .iter()
        .find(|n| n.name == "current.syn1.next")
        .unwrap();
    assert!(
        current.doc_string.contains("alpha=0.8 w_in=0.5"),
        "{}",
        current.doc_string
    );

    // The sequence model carries the currents through its Scan.
    let seq = onnx::sequence_model(&m, &Options::default()).unwrap();
    let g = seq.proto.graph.as_ref().unwrap();
    let scan = g.node.iter().find(|n| n.op_type == "Scan").unwrap();
    let body = scan
        .attribute
        .iter()
        .find(|a| a.name == "body")
        .and_then(|a| a.g.as_ref())
        .unwrap();
    let body_inputs: Vec<&str> = body.input.iter().map(|i| i.name.as_str()).collect();
    let body_outputs: Vec<&str> = body.output.iter().map(|o| o.name.as_str()).collect();
    for state in ["current.syn1", "current.syn2"] {
        assert!(body_inputs.contains(&state), "{body_inputs:?}");
        assert!(
            body_outputs.contains(&format!("{state}.next").as_str()),
            "{body_outputs:?}"
        );
    }
}

/// Both encodings, both models, against the reference interpreter neuron by neuron (the tie
/// machinery names any differing spike; with these inputs there is none).
#[test]
fn cuba_models_agree_with_the_reference_spike_for_spike_in_onnxruntime() {
    let Some(py) = onnx_common::python("onnx cuba_lif") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut jobs, mut expected) = (Vec::new(), Vec::new());
    for encoding in ["direct", "event_frames"] {
        let events = encoding == "event_frames";
        let m = cuba_module(encoding);
        let x = frames(events);
        let reference = ties::reference_traces(&m, &x);
        assert_ne!(
            run_module(&m, &x).unwrap().spikes,
            run_module(&without_synapses(&m), &x).unwrap().spikes,
            "{encoding}: the synapses should change the spikes"
        );
        let input = dir.path().join(format!("{encoding}.npy"));
        onnx_common::write_inputs(&input, &x, &[FEATURES], events.then_some(TIMESTEPS));
        let opts = Options {
            spikes: SpikeOutputs::All,
            ..Options::default()
        };
        for (kind, model) in [
            ("step", onnx::step_model(&m, &opts)),
            ("sequence", onnx::sequence_model(&m, &opts)),
        ] {
            let path = dir.path().join(format!("{encoding}.{kind}.onnx"));
            std::fs::write(&path, model.unwrap().to_bytes().unwrap()).unwrap();
            jobs.push(onnx_common::Job {
                model: path,
                input: input.clone(),
                batch: 3,
            });
            expected.push((
                format!("{encoding} {kind}"),
                m.clone(),
                x.clone(),
                reference.clone(),
            ));
        }
    }
    let runs = onnx_common::run_with_spike_maps(&py, dir.path(), &jobs);
    assert_eq!(runs.len(), expected.len());
    let mut tally = Tally::default();
    for (run, (what, m, x, reference)) in runs.iter().zip(&expected) {
        let mut spikes = 0;
        for (s, sample) in x.iter().enumerate() {
            let layers = run
                .spike_maps
                .iter()
                .map(|(name, per_sample)| {
                    let thresholds = reference[s]
                        .layers
                        .iter()
                        .find(|l| &l.name == name)
                        .map_or(Vec::new(), |l| l.thresholds.clone());
                    ties::LayerTrace {
                        name: name.clone(),
                        thresholds,
                        membranes: None,
                        spikes: per_sample[s].clone(),
                    }
                })
                .collect::<Vec<_>>();
            spikes += layers
                .iter()
                .flat_map(|l| l.spikes.iter().flatten())
                .filter(|&&b| b)
                .count();
            let onnx = ties::SampleTrace {
                layers,
                logits: run.logits[s].clone(),
            };
            let explained = ties::explain(m, sample, &onnx, false)
                .unwrap_or_else(|e| panic!("{what}, sample {s}: {e}"));
            tally.add(&format!("{what}, sample {s}"), explained);
        }
        assert!(spikes > 0, "{what}: the module should spike");
    }
    tally.print("cuba_lif ONNX models");
    // Deterministic inputs that come nowhere near a tie: not even a licensed flip.
    assert_eq!(tally.flips, 0, "float ties in a module chosen to have none");
}

fn without_synapses(m: &Module) -> Module {
    let mut plain = m.clone();
    for (_, p) in plain.populations.iter_mut() {
        if let PopulationKind::Spiking(s) = &mut p.kind {
            s.synapse = None;
        }
    }
    plain
}

/// A `cuba_lif` network exported as a deployment: the manifest lists its current.
#[test]
fn the_manifest_lists_the_synaptic_current() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("cuba");
    std::fs::create_dir_all(&src).unwrap();
    let network = serde_json::json!({
        "format_version": 1,
        "name": "cuba",
        "timesteps": 4,
        "num_classes": 4,
        "input": { "shape": [FEATURES], "encoding": "direct" },
        "readout": { "node": "lif2", "kind": "spike_count" },
        "nodes": [
            { "name": "input", "op": "input" },
            { "name": "fc1", "op": "linear", "in_features": FEATURES, "out_features": 8, "bias": true },
            { "name": "syn1", "op": "cuba_lif", "beta": 0.9, "alpha": 0.8, "w_in": 0.5 },
            { "name": "fc2", "op": "linear", "in_features": 8, "out_features": 4, "bias": false },
            { "name": "lif2", "op": "lif", "beta": 0.8 }
        ],
        "edges": [
            { "from": "input", "to": "fc1" },
            { "from": "fc1", "to": "syn1" },
            { "from": "syn1", "to": "fc2" },
            { "from": "fc2", "to": "lif2" }
        ]
    });
    std::fs::write(src.join("network.json"), network.to_string()).unwrap();
    let out = tmp.path().join("export");
    deploy::export(&ExportSettings {
        input: src,
        out: out.clone(),
        weights: WeightsSource::Placeholder { seed: 3 },
        optimise: true,
        spikes: SpikeOutputs::None,
    })
    .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(MANIFEST_FILE)).unwrap()).unwrap();
    let states = manifest["step"]["states"].as_array().unwrap();
    let current: Vec<&serde_json::Value> =
        states.iter().filter(|s| s["kind"] == "current").collect();
    assert_eq!(current.len(), 1, "{states:#?}");
    let c = current[0];
    assert_eq!(c["input"], "current.syn1");
    assert_eq!(c["output"], "current.syn1.next");
    assert_eq!(c["population"], "syn1");
    assert_eq!(c["init"], 0.0);
    assert_eq!(c["shape"], serde_json::json!(["N", 8]));
    let doc = c["doc"].as_str().unwrap();
    assert!(
        doc.contains("alpha = 0.8") && doc.contains("w_in = 0.5"),
        "{doc}"
    );
    assert!(
        states.iter().all(|s| s["input"] != "current.lif2"),
        "a plain LIF has no current"
    );
}
