//! Per-step biases and affine scales (`[T, C]`, per-step batch norm) in both ONNX models: a
//! hand-built module whose rows differ so much that using row 0 at every step changes the
//! logits, and a sequence model that must not hoist such a population out of its time loop.

use crate::onnx_common;
use snnc_compiler::emit::onnx::{self, Dim, Options, SpikeOutputs, StateKind};
use snnc_compiler::ir::{
    Affine, Analog, Compare, Dense, Encoding, Handle, Identity, Input, Module, Population,
    PopulationKind, Projection, ProjectionKind, Readout, ReadoutKind, Reset, Shape, Spiking,
    Tensor,
};
use snnc_compiler::reference::{compare, run_module};

const T: usize = 4;

/// `[T, c]` with row `t` far from row 0 (sign flips, growth), so a stale row shows.
fn per_step(
    m: &mut Module,
    label: &str,
    c: usize,
    f: impl Fn(usize, usize) -> f32,
) -> Handle<Tensor> {
    let data = (0..T)
        .flat_map(|t| (0..c).map(move |k| (t, k)))
        .map(|(t, k)| f(t, k));
    m.tensors
        .push(Tensor::new(label, vec![T, c], data.collect()))
}

/// x [2, 3, 3] -(per-step affine)-> bn (per-step bias) -> lif (per-step bias) -(dense)->
/// readout (per-step bias); bn -(dense)-> h [3] -(per-step affine)-> readout.
fn module(encoding: Encoding) -> Module {
    let mut m = Module {
        name: "per_step".into(),
        timesteps: T,
        num_classes: 3,
        ..Module::default()
    };
    let scale = per_step(&mut m, "bn.scale", 2, |t, k| {
        [1.0, -0.5, 2.0, 0.25][t] * (1.0 + k as f32)
    });
    let bn_bias = per_step(&mut m, "bn.bias", 2, |t, k| 0.3 * t as f32 - 0.2 * k as f32);
    let lif_bias = per_step(&mut m, "lif.bias", 2, |t, k| {
        [0.0, 0.9, -0.6, 0.4][t] + 0.1 * k as f32
    });
    let fc: Vec<f32> = (0..3 * 18)
        .map(|i| ((i * 7 % 11) as f32 - 5.0) / 6.0)
        .collect();
    let fc = m.tensors.push(Tensor::new("fc.weight", vec![3, 18], fc));
    let proj: Vec<f32> = (0..3 * 18)
        .map(|i| ((i * 5 % 13) as f32 - 6.0) / 9.0)
        .collect();
    let proj = m
        .tensors
        .push(Tensor::new("proj.weight", vec![3, 18], proj));
    let h_scale = per_step(&mut m, "h.scale", 3, |t, k| {
        (t as f32 - 1.5) * (k as f32 + 0.5)
    });
    let out_bias = per_step(&mut m, "readout.bias", 3, |t, k| {
        [0.5, -1.0, 2.0, -0.25][t] * (k as f32 - 1.0)
    });

    let pop = |name: &str, dims: Vec<usize>, kind| Population {
        name: name.into(),
        shape: Shape(dims),
        kind,
    };
    let x = m.populations.push(pop(
        "x",
        vec![2, 3, 3],
        PopulationKind::Input(Input { encoding }),
    ));
    let bn = m.populations.push(pop(
        "bn",
        vec![2, 3, 3],
        PopulationKind::Analog(Analog {
            bias: Some(bn_bias),
            constant: false,
        }),
    ));
    let lif = m.populations.push(pop(
        "lif",
        vec![2, 3, 3],
        PopulationKind::Spiking(Spiking {
            beta: 0.5.into(),
            gain: 1.0.into(),
            threshold: 1.0.into(),
            v_reset: 0.0.into(),
            reset: Reset::Subtract,
            fire: Compare::Ge,
            v_leak: None,
            v_min: None,
            synapse: None,
            bias: Some(lif_bias),
        }),
    ));
    let h = m.populations.push(pop(
        "h",
        vec![3],
        PopulationKind::Analog(Analog {
            bias: None,
            constant: false,
        }),
    ));
    let out = m.populations.push(pop(
        "readout",
        vec![3],
        PopulationKind::Readout(Readout {
            mode: ReadoutKind::TimeMean,
            bias: Some(out_bias),
            integrator: None,
        }),
    ));
    for (source, target, kind) in [
        (x, bn, ProjectionKind::Affine(Affine { scale })),
        (bn, lif, ProjectionKind::Identity(Identity)),
        (lif, out, ProjectionKind::Dense(Dense { weight: fc })),
        (bn, h, ProjectionKind::Dense(Dense { weight: proj })),
        (h, out, ProjectionKind::Affine(Affine { scale: h_scale })),
    ] {
        m.projections.push(Projection {
            source,
            target,
            delay: 0,
            kind,
        });
    }
    snnc_compiler::validate::validate(&m).unwrap();
    m
}

/// The same module with row 0 of every per-step tensor used at every step.
fn row0_everywhere(m: &Module) -> Module {
    let mut stale = m.clone();
    // Rank 2 means per step only for biases and affine scales (dense weights are rank 2 too).
    let rows = m.populations.iter().filter_map(|(_, p)| p.kind.bias());
    let scales = m.projections.iter().filter_map(|(_, e)| match &e.kind {
        ProjectionKind::Affine(a) => Some(a.scale),
        _ => None,
    });
    for h in rows.chain(scales) {
        let t = &mut stale.tensors[h];
        let row = t.at_step(0).to_vec();
        *t = Tensor::new(t.label.clone(), vec![row.len()], row);
    }
    stale
}

fn inputs(encoding: Encoding) -> Vec<Vec<f32>> {
    let frames = if encoding == Encoding::Direct { 1 } else { T };
    (0..3)
        .map(|s| {
            (0..18 * frames)
                .map(|i| ((i * 3 + s * 5) % 7) as f32 / 3.0 - 0.5)
                .collect()
        })
        .collect()
}

#[test]
fn per_step_tensors_use_row_t_at_step_t_in_onnxruntime() {
    let Some(py) = onnx_common::python("onnx per-step tensors") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut jobs, mut expected) = (Vec::new(), Vec::new());
    for encoding in [Encoding::Direct, Encoding::EventFrames] {
        let m = module(encoding);
        let x = inputs(encoding);
        let reference = run_module(&m, &x).unwrap();
        // The test is only worth something if a stale row 0 would change the answer.
        let stale = run_module(&row0_everywhere(&m), &x).unwrap();
        let gap = reference
            .logits
            .iter()
            .flatten()
            .zip(stale.logits.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            gap > 0.1,
            "{encoding:?}: row 0 everywhere changes logits by only {gap}"
        );
        assert!(
            reference.spikes.iter().flatten().flatten().sum::<u64>() > 0,
            "{encoding:?}: lif should spike"
        );
        let input = dir.path().join(format!("{encoding:?}.npy"));
        let steps = (encoding == Encoding::EventFrames).then_some(T);
        onnx_common::write_inputs(&input, &x, &[2, 3, 3], steps);
        let opts = Options {
            spikes: SpikeOutputs::All,
            ..Options::default()
        };
        for (kind, model) in [
            ("step", onnx::step_model(&m, &opts).unwrap()),
            ("sequence", onnx::sequence_model(&m, &opts).unwrap()),
        ] {
            if kind == "step" {
                let counter: Vec<_> = model
                    .interface
                    .states
                    .iter()
                    .filter(|s| s.kind == StateKind::Step)
                    .map(|s| {
                        let init = s.init.uniform().expect("one init value");
                        (s.input.as_str(), s.output.as_str(), s.shape.clone(), init)
                    })
                    .collect();
                assert_eq!(
                    counter,
                    [("step", "step.next", vec![Dim::Symbol("N".into())], 0.0)]
                );
            }
            let path = dir.path().join(format!("{encoding:?}.{kind}.onnx"));
            std::fs::write(&path, model.to_bytes().unwrap()).unwrap();
            // Batches of 2 over 3 samples: the counter's batch axis follows a partial batch too.
            jobs.push(onnx_common::Job {
                model: path,
                input: input.clone(),
                batch: 2,
            });
            expected.push((format!("{encoding:?} {kind}"), reference.clone()));
        }
    }
    let runs = onnx_common::run(&py, dir.path(), &jobs);
    assert_eq!(runs.len(), expected.len());
    for (run, (what, reference)) in runs.iter().zip(&expected) {
        let ag = compare(reference, &run.to_run_output());
        ag.check().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(ag.max_logit_error <= 1e-5, "{what}: {}", ag.max_logit_error);
    }
}

/// Per-step rows are read inside the Scan, never once before it, even for populations fed only
/// by the direct input; and the validator refuses a `const` mark on such a population.
#[test]
fn per_step_tensors_stay_in_the_time_loop() {
    let m = module(Encoding::Direct);
    let mut marked = m.clone();
    for (_, p) in marked.populations.iter_mut() {
        if let PopulationKind::Analog(a) = &mut p.kind
            && p.name == "bn"
        {
            a.constant = true;
        }
    }
    assert!(snnc_compiler::validate::validate(&marked).is_err());
    let model = onnx::sequence_model(&m, &Options::default()).unwrap();
    let g = model.proto.graph.as_ref().unwrap();
    let scan = g.node.iter().find(|n| n.op_type == "Scan").unwrap();
    let body = scan.attribute[0].g.as_ref().unwrap();
    let gathers = |nodes: &[onnx_protobuf::NodeProto]| {
        nodes
            .iter()
            .filter(|n| n.op_type == "Gather")
            .map(|n| n.input[0].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(gathers(&g.node), Vec::<String>::new());
    let inside = gathers(&body.node);
    for table in ["bn.scale", "bn.bias", "lif.bias", "h.scale", "readout.bias"] {
        assert!(
            inside.iter().any(|t| t == table),
            "{table} not gathered in the body: {inside:?}"
        );
    }
    // The counter is carried by the Scan like any state; modules without per-step tensors
    // have none (the delay2 interface test pins their states exactly).
    let body_inputs: Vec<&str> = body.input.iter().map(|i| i.name.as_str()).collect();
    assert!(body_inputs.contains(&"step"), "{body_inputs:?}");
}
