//! Neuron parameters that differ per neuron in both ONNX models: each is an initializer of the
//! population's shape in place of the scalar (`lif1.threshold [3, 4, 4]`), read by the same
//! nodes; a per-neuron `v_reset` or integrator `rest` is a per-neuron start of the membrane
//! (nested lists in the step model's interface, `Expand` in the sequence model). A network with
//! per-neuron thresholds, betas, `v_reset`, alphas and an integrator's beta and rest runs in
//! onnxruntime, both encodings and both models, spike for spike with the reference interpreter.

use crate::onnx_common;
use crate::onnx_random::sample_trace;
use crate::ties::{self, Tally};
use snnc_compiler::emit::onnx::{self, Options, SpikeOutputs, StateInit};
use snnc_compiler::ir::{Module, Param, PopulationKind};
use snnc_compiler::synth::Rng;

const TIMESTEPS: usize = 8;
const SAMPLES: usize = 4;

fn numbers(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> String {
    let v: Vec<String> = (0..n)
        .map(|_| format!("{:?}", rng.uniform(lo, hi)))
        .collect();
    v.join(", ")
}

/// A conv layer `lif1 [3, 4, 4]` (hard reset) with per-neuron beta, threshold and v_reset, a
/// current-based `syn1 [6]` (subtractive reset) with per-neuron threshold and alpha, and a
/// `cuba_li` readout with per-neuron beta, rest and alpha.
fn per_neuron_module(encoding: &str) -> Module {
    let mut rng = Rng::new(41);
    let text = format!(
        r#"snnir 1
module "per_neuron_hand" timesteps={TIMESTEPS} classes=3

t0 = tensor "conv1.weight" [3, 2, 3, 3] [{}]
t1 = tensor "lif1.beta" [3, 4, 4] [{}]
t2 = tensor "lif1.threshold" [3, 4, 4] [{}]
t3 = tensor "lif1.v_reset" [3, 4, 4] [{}]
t4 = tensor "fc1.weight" [6, 48] [{}]
t5 = tensor "syn1.threshold" [6] [{}]
t6 = tensor "syn1.alpha" [6] [{}]
t7 = tensor "fc2.weight" [3, 6] [{}]
t8 = tensor "out.beta" [3] [{}]
t9 = tensor "out.rest" [3] [{}]
t10 = tensor "out.alpha" [3] [{}]

p0 = input "input" [2, 4, 4] {encoding}
p1 = spiking "lif1" [3, 4, 4] beta=t1 gain=1.0 threshold=t2 v_reset=t3 reset=hard fire=ge
p2 = spiking "syn1" [6] beta=0.85 gain=1.0 threshold=t5 v_reset=0.0 reset=subtract fire=gt alpha=t6 w_in=1.0
p3 = readout "readout" [3] membrane_mean beta=t8 gain=0.5 rest=t9 alpha=t10 w_in=1.0

e0 = conv2d p0 -> p1 graded weight=t0 stride=[1, 1] padding=[1, 1] groups=1
e1 = dense p1 -> p2 binary weight=t4
e2 = dense p2 -> p3 binary weight=t7
"#,
        numbers(&mut rng, 3 * 2 * 9, -0.2, 0.6),
        numbers(&mut rng, 48, 0.3, 0.95),
        numbers(&mut rng, 48, 0.5, 1.5),
        numbers(&mut rng, 48, -0.3, 0.0),
        numbers(&mut rng, 6 * 48, -0.25, 0.25),
        numbers(&mut rng, 6, 0.5, 1.5),
        numbers(&mut rng, 6, 0.2, 0.9),
        numbers(&mut rng, 3 * 6, -1.0, 1.0),
        numbers(&mut rng, 3, 0.5, 0.95),
        numbers(&mut rng, 3, -0.3, 0.3),
        numbers(&mut rng, 3, 0.2, 0.9),
    );
    snnc_compiler::text::parse(&text, "per_neuron_hand.snnir", |_| {
        Ok(snnc_compiler::network::Weights::default())
    })
    .unwrap_or_else(|e| panic!("{e}\n{text}"))
    .0
}

fn frames(event_frames: bool) -> Vec<Vec<f32>> {
    let per_sample = 2 * 4 * 4 * if event_frames { TIMESTEPS } else { 1 };
    let mut rng = Rng::new(9);
    (0..SAMPLES)
        .map(|_| (0..per_sample).map(|_| rng.uniform(0.0, 1.5)).collect())
        .collect()
}

/// The per-neuron parameters' initializers and the population shape each must have.
const PER_NEURON: [(&str, &[i64]); 8] = [
    ("lif1.beta", &[3, 4, 4]),
    ("lif1.threshold", &[3, 4, 4]),
    ("lif1.v_reset", &[3, 4, 4]),
    ("syn1.threshold", &[6]),
    ("syn1.alpha", &[6]),
    ("readout.beta", &[3]),
    ("readout.rest", &[3]),
    ("readout.alpha", &[3]),
];

/// The tensor's values of a per-neuron parameter of the module, by population and field.
fn values(m: &Module, population: &str, field: &str) -> Vec<f32> {
    let (_, p) = m
        .populations
        .iter()
        .find(|(_, p)| p.name == population)
        .unwrap();
    let params = match &p.kind {
        PopulationKind::Spiking(s) => s.params(),
        PopulationKind::Readout(r) => r.integrator.unwrap().params(),
        _ => Vec::new(),
    };
    let (_, param) = params.into_iter().find(|(f, _)| *f == field).unwrap();
    match param {
        Param::PerNeuron(t) => m.tensors[t].data.clone(),
        Param::Uniform(v) => panic!("{population}.{field} = {v} is not per neuron"),
    }
}

#[test]
fn per_neuron_parameters_are_initializers_of_the_population_shape_in_both_models() {
    let m = per_neuron_module("direct");
    for model in [
        onnx::step_model(&m, &Options::default()).unwrap(),
        onnx::sequence_model(&m, &Options::default()).unwrap(),
    ] {
        let kind = &model.interface.model;
        let g = model.proto.graph.as_ref().unwrap();
        for (name, dims) in PER_NEURON {
            let init = g
                .initializer
                .iter()
                .find(|t| t.name == name)
                .unwrap_or_else(|| panic!("{kind}: no initializer `{name}`"));
            assert_eq!(init.dims, dims, "{kind}: `{name}`");
            let (pop, field) = name.split_once('.').unwrap();
            let stored: Vec<f32> = init
                .raw_data
                .chunks(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            assert_eq!(stored, values(&m, pop, field), "{kind}: `{name}`'s values");
        }
        // The Scan body reads them from the outer graph: find the nodes wherever they are.
        let mut nodes: Vec<_> = g.node.iter().collect();
        for n in &g.node {
            for a in &n.attribute {
                if let Some(body) = a.g.as_ref() {
                    nodes.extend(body.node.iter());
                }
            }
        }
        let reads = |op: &str, input: &str| {
            nodes
                .iter()
                .any(|n| n.op_type == op && n.input.iter().any(|i| i == input))
        };
        assert!(
            reads("GreaterOrEqual", "lif1.threshold"),
            "{kind}: lif1 fires"
        );
        assert!(reads("Greater", "syn1.threshold"), "{kind}: syn1 fires");
        assert!(reads("Mul", "syn1.threshold"), "{kind}: subtractive reset");
        assert!(reads("Where", "lif1.v_reset"), "{kind}: hard reset");
        assert!(reads("Mul", "lif1.beta"), "{kind}: lif1's leak");
        assert!(reads("Mul", "syn1.alpha"), "{kind}: syn1's current");
        assert!(
            reads("Mul", "readout.beta"),
            "{kind}: the integrator's leak"
        );
        assert!(
            reads("Sub", "readout.rest"),
            "{kind}: the integrator's rest"
        );
        let charge = nodes
            .iter()
            .find(|n| n.doc_string.starts_with("charge: LIF `lif1`"))
            .unwrap();
        assert!(
            charge
                .doc_string
                .contains("threshold=per neuron (initializer `lif1.threshold`)"),
            "{}",
            charge.doc_string
        );
        if kind == "sequence" {
            // Per-neuron starts are expanded over the batch before the time loop.
            for (state, start) in [
                ("init.membrane.lif1", "lif1.v_reset"),
                ("init.membrane.readout", "readout.rest"),
            ] {
                let n = g.node.iter().find(|n| n.output[0] == state).unwrap();
                assert_eq!((n.op_type.as_str(), n.input[0].as_str()), ("Expand", start));
            }
        }
    }
}

#[test]
fn per_neuron_starts_are_nested_lists_in_the_step_models_interface() {
    let m = per_neuron_module("direct");
    let model = onnx::step_model(&m, &Options::default()).unwrap();
    let state = |name: &str| {
        model
            .interface
            .states
            .iter()
            .find(|s| s.input == name)
            .unwrap_or_else(|| panic!("no state {name}"))
    };
    let lif1 = state("membrane.lif1");
    assert_eq!(
        lif1.init,
        StateInit::PerNeuron {
            dims: vec![3, 4, 4],
            values: values(&m, "lif1", "v_reset")
        }
    );
    assert!(
        lif1.doc.contains("initializer `lif1.v_reset`"),
        "{}",
        lif1.doc
    );
    assert_eq!(state("membrane.syn1").init, StateInit::Uniform(0.0));
    let readout = state("membrane.readout");
    assert_eq!(readout.init.sample(3), values(&m, "readout", "rest"));
    let current = state("current.syn1");
    assert!(
        current
            .doc
            .contains("alpha = per neuron (initializer `syn1.alpha`), w_in = 1"),
        "{}",
        current.doc
    );

    // JSON: nested lists of the state's shape, so `np.full([n, *shape], init)` is the start;
    // and the interface reads back as it was.
    let json = serde_json::to_value(&model.interface).unwrap();
    let nested = json["states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["input"] == "membrane.lif1")
        .unwrap()["init"]
        .clone();
    let rows = nested.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.as_array().unwrap().len() == 4));
    assert!(rows[0][0].as_array().unwrap().len() == 4 && rows[2][3][3].is_number());
    let back: onnx::Interface =
        serde_json::from_str(&serde_json::to_string(&model.interface).unwrap()).unwrap();
    assert_eq!(back, model.interface);
    let ragged = r#"[[1.0, 2.0], [3.0]]"#;
    assert!(serde_json::from_str::<StateInit>(ragged).is_err());
}

/// Both encodings, both models, against the reference interpreter neuron by neuron.
#[test]
fn per_neuron_parameters_agree_with_the_reference_in_onnxruntime() {
    let Some(py) = onnx_common::python("onnx per-neuron parameters") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut jobs, mut expected) = (Vec::new(), Vec::new());
    for encoding in ["direct", "event_frames"] {
        let events = encoding == "event_frames";
        let m = per_neuron_module(encoding);
        let x = frames(events);
        let input = dir.path().join(format!("{encoding}.npy"));
        onnx_common::write_inputs(&input, &x, &[2, 4, 4], events.then_some(TIMESTEPS));
        let reference = ties::reference_traces(&m, &x);
        for layer in ["lif1", "syn1"] {
            let spikes: usize = reference
                .iter()
                .flat_map(|s| s.layers.iter().filter(|l| l.name == layer))
                .map(|l| l.spikes.iter().flatten().filter(|&&b| b).count())
                .sum();
            eprintln!("{encoding}: {layer} spikes {spikes} times");
            assert!(spikes > 0, "{encoding}: {layer} should spike");
        }
        let opts = Options {
            spikes: SpikeOutputs::All,
            ..Options::default()
        };
        for (kind, model) in [
            ("step", onnx::step_model(&m, &opts)),
            ("sequence", onnx::sequence_model(&m, &opts)),
        ] {
            let what = format!("{encoding} {kind}");
            let path = dir.path().join(format!("{encoding}.{kind}.onnx"));
            std::fs::write(&path, model.unwrap().to_bytes().unwrap()).unwrap();
            jobs.push(onnx_common::Job {
                model: path,
                input: input.clone(),
                batch: 3,
            });
            expected.push((what, m.clone(), x.clone(), reference.clone()));
        }
    }
    let runs = onnx_common::run_with_spike_maps(&py, dir.path(), &jobs);
    assert_eq!(runs.len(), expected.len());
    let mut tally = Tally::default();
    for (run, (what, m, x, reference)) in runs.iter().zip(&expected) {
        for (s, sample) in x.iter().enumerate() {
            let onnx =
                sample_trace(run, s, &reference[s]).unwrap_or_else(|e| panic!("{what}: {e}"));
            let explained = ties::explain(m, sample, &onnx, false)
                .unwrap_or_else(|e| panic!("{what}, sample {s}: {e}"));
            tally.add(&format!("{what}, sample {s}"), explained);
        }
    }
    tally.print("per-neuron parameters in ONNX");
    assert_eq!(tally.flips, 0, "float ties in a module chosen to have none");
}
