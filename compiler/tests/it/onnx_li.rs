//! Leaky integrators read out (`li`, `cuba_li`) in both ONNX models: the readout's membrane
//! (`membrane.<readout>`, from `rest`) and, with a synapse, its current (`current.<readout>`)
//! are states, and every reduction (`membrane_last`, `membrane_mean`, `membrane_max`,
//! `time_mean`) gives the reference interpreter's logits in onnxruntime.

use crate::onnx_common;
use crate::ties::{self, Tally};
use snnc_compiler::emit::onnx::{self, Dim, MAX_INIT, Options, SpikeOutputs, StateKind};
use snnc_compiler::ir::Module;
use snnc_compiler::reference::run_module;
use snnc_compiler::synth::Rng;

const TIMESTEPS: usize = 12;
const FEATURES: usize = 6;
const SAMPLES: usize = 4;
const MODES: [&str; 4] = [
    "membrane_last",
    "membrane_mean",
    "membrane_max",
    "time_mean",
];

fn numbers(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> String {
    let v: Vec<String> = (0..n)
        .map(|_| format!("{:?}", rng.uniform(lo, hi)))
        .collect();
    v.join(", ")
}

/// A spiking layer into a biased readout whose integrator has `beta` 0.8, `gain` 0.5, a
/// non-zero `rest` and, when `synapse`, a current with `alpha` 0.6 and `w_in` 1.5 (no factor
/// is 1, so every product of the charge is in the graph).
fn li_module(mode: &str, synapse: bool, encoding: &str) -> Module {
    let mut rng = Rng::new(23);
    let syn = if synapse { " alpha=0.6 w_in=1.5" } else { "" };
    let text = format!(
        r#"snnir 1
module "li" timesteps={TIMESTEPS} classes=3

t0 = tensor "fc1.weight" [8, {FEATURES}] [{}]
t1 = tensor "fc2.weight" [3, 8] [{}]
t2 = tensor "fc2.bias" [3] [{}]

p0 = input "input" [{FEATURES}] {encoding}
p1 = spiking "lif1" [8] beta=0.9 gain=1.0 threshold=1.0 v_reset=0.0 reset=subtract fire=ge
p2 = readout "readout" [3] {mode} beta=0.8 gain=0.5 rest=0.25{syn} bias=t2

e0 = dense p0 -> p1 graded weight=t0
e1 = dense p1 -> p2 binary weight=t1
"#,
        numbers(&mut rng, 8 * FEATURES, -0.3, 0.9),
        numbers(&mut rng, 3 * 8, -1.0, 1.0),
        numbers(&mut rng, 3, -0.2, 0.2),
    );
    snnc_compiler::text::parse(&text, "li.snnir", |_| {
        Ok(snnc_compiler::network::Weights::default())
    })
    .unwrap_or_else(|e| panic!("{e}\n{text}"))
    .0
}

fn frames(event_frames: bool) -> Vec<Vec<f32>> {
    let per_sample = FEATURES * if event_frames { TIMESTEPS } else { 1 };
    let mut rng = Rng::new(5);
    (0..SAMPLES)
        .map(|_| (0..per_sample).map(|_| rng.uniform(0.0, 1.0)).collect())
        .collect()
}

#[test]
fn the_step_model_carries_the_integrator_and_its_reduction_as_states() {
    let n = Dim::Symbol("N".into());
    for mode in MODES {
        for synapse in [false, true] {
            let m = li_module(mode, synapse, "direct");
            let model = onnx::step_model(&m, &Options::default()).unwrap();
            let states: Vec<(&str, StateKind, f32)> = model
                .interface
                .states
                .iter()
                .filter(|s| s.population == "readout")
                .map(|s| {
                    (
                        s.input.as_str(),
                        s.kind,
                        s.init.uniform().expect("one init value"),
                    )
                })
                .collect();
            let acc_init = if mode == "membrane_max" {
                MAX_INIT
            } else {
                0.0
            };
            let mut want = vec![("membrane.readout", StateKind::Membrane, 0.25)];
            if synapse {
                want.push(("current.readout", StateKind::Current, 0.0));
            }
            want.push(("readout.acc", StateKind::ReadoutAccumulator, acc_init));
            assert_eq!(states, want, "{mode}, synapse {synapse}");
            for s in model
                .interface
                .states
                .iter()
                .filter(|s| s.population == "readout")
            {
                assert_eq!(s.shape, [n.clone(), Dim::Fixed(3)], "{}", s.input);
            }
            // The manifest is JSON: the max accumulator's start must survive it.
            let json = serde_json::to_string(&model.interface).unwrap();
            let back: onnx::Interface = serde_json::from_str(&json).unwrap();
            assert_eq!(back, model.interface, "{mode}: the interface round-trips");

            let g = model.proto.graph.as_ref().unwrap();
            // A value published under several names is one node and Identities of it.
            let node = |output: &str| {
                let mut name = output.to_string();
                loop {
                    let n = g
                        .node
                        .iter()
                        .find(|n| n.output.contains(&name))
                        .unwrap_or_else(|| panic!("{mode}: no node makes `{output}`"));
                    if n.op_type != "Identity" {
                        return n;
                    }
                    name = n.input[0].clone();
                }
            };
            // v = rest + beta (v - rest) + gain drive, added last; it is the next membrane.
            let charged = node("membrane.readout.next");
            assert_eq!(charged.op_type, "Add");
            assert!(
                charged.doc_string.contains("rest=0.25"),
                "{}",
                charged.doc_string
            );
            let kept = node(&charged.input[0]);
            assert_eq!(
                (kept.op_type.as_str(), kept.input[0].as_str()),
                ("Add", "readout.rest")
            );
            let leak = node(&kept.input[1]);
            assert_eq!(leak.op_type, "Mul", "beta 0.8");
            assert_eq!(node(&leak.input[0]).input[0], "membrane.readout");
            let driven = node(&charged.input[1]);
            assert_eq!(driven.op_type, "Mul", "gain 0.5");
            let drive = node(&driven.input[0]);
            if synapse {
                assert_eq!(drive.name, node("current.readout.next").name);
                assert!(drive.doc_string.contains("alpha=0.6 w_in=1.5"));
            } else {
                assert_eq!(drive.op_type, "Gemm", "I + bias, the bias fused");
            }
            let acc = node("readout.acc.next");
            let logits = node("logits");
            match mode {
                "membrane_last" => {
                    assert_eq!(acc.name, charged.name);
                    assert_eq!(logits.name, charged.name);
                }
                "membrane_max" => {
                    assert_eq!(acc.op_type, "Max");
                    assert_eq!(logits.name, acc.name);
                }
                "membrane_mean" | "time_mean" => {
                    assert_eq!(acc.op_type, "Add");
                    assert_eq!(logits.op_type, "Div");
                }
                _ => unreachable!(),
            }
        }
    }
}

/// Every mode, with and without a synapse, both encodings, both models, against the reference
/// interpreter: spikes neuron by neuron, then the logits within the ladder's tolerance.
#[test]
fn integrator_readouts_agree_with_the_reference_in_onnxruntime() {
    let Some(py) = onnx_common::python("onnx li readouts") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut jobs, mut expected) = (Vec::new(), Vec::new());
    for encoding in ["direct", "event_frames"] {
        let events = encoding == "event_frames";
        let x = frames(events);
        let input = dir.path().join(format!("{encoding}.npy"));
        onnx_common::write_inputs(&input, &x, &[FEATURES], events.then_some(TIMESTEPS));
        let mut per_mode = Vec::new();
        for mode in MODES {
            for synapse in [false, true] {
                let m = li_module(mode, synapse, encoding);
                let reference = ties::reference_traces(&m, &x);
                // `time_mean` of an integrator is `membrane_mean` by another name.
                if mode != "time_mean" {
                    per_mode.push(run_module(&m, &x).unwrap().logits);
                }
                let opts = Options {
                    spikes: SpikeOutputs::All,
                    ..Options::default()
                };
                for (kind, model) in [
                    ("step", onnx::step_model(&m, &opts)),
                    ("sequence", onnx::sequence_model(&m, &opts)),
                ] {
                    let what = format!("{encoding} {mode} synapse={synapse} {kind}");
                    let path = dir.path().join(format!("{}.onnx", what.replace(' ', "_")));
                    std::fs::write(&path, model.unwrap().to_bytes().unwrap()).unwrap();
                    jobs.push(onnx_common::Job {
                        model: path,
                        input: input.clone(),
                        batch: 3,
                    });
                    expected.push((what, m.clone(), x.clone(), reference.clone()));
                }
            }
        }
        // The modes must tell themselves apart, or agreeing would prove little.
        for (i, a) in per_mode.iter().enumerate() {
            for b in &per_mode[i + 1..] {
                assert_ne!(a, b, "{encoding}: two readouts give the same logits");
            }
        }
    }
    let runs = onnx_common::run_with_spike_maps(&py, dir.path(), &jobs);
    assert_eq!(runs.len(), expected.len());
    let mut tally = Tally::default();
    for (run, (what, m, x, reference)) in runs.iter().zip(&expected) {
        for (s, sample) in x.iter().enumerate() {
            let layers = run
                .spike_maps
                .iter()
                .map(|(name, per_sample)| ties::LayerTrace {
                    name: name.clone(),
                    thresholds: reference[s]
                        .layers
                        .iter()
                        .find(|l| &l.name == name)
                        .map_or(Vec::new(), |l| l.thresholds.clone()),
                    membranes: None,
                    spikes: per_sample[s].clone(),
                })
                .collect();
            let onnx = ties::SampleTrace {
                layers,
                logits: run.logits[s].clone(),
            };
            let explained = ties::explain(m, sample, &onnx, false)
                .unwrap_or_else(|e| panic!("{what}, sample {s}: {e}"));
            tally.add(&format!("{what}, sample {s}"), explained);
        }
    }
    tally.print("leaky-integrator readouts in ONNX");
    assert_eq!(tally.flips, 0, "float ties in a module chosen to have none");
}
