//! Per-step biases and affine scales (`[T, C]`, row `t` at step `t`: per-step batch norm) on a
//! small hand-built module that reaches every path the runtime gives them: a per-step bias on an
//! analog, a spiking, an autonomous spiking (hoisted drive plus bias) and the readout population,
//! and a delayed per-step affine from the constant input. Changing one row must change that
//! step and no other, which a runtime reading row 0 (or the row of `t - delay`) at every step
//! fails.

use crate::common::brute::brute_counts;
use crate::common::flips::check_runs;
use snnc_compiler::ir::{
    self, Compare, Encoding, Handle, Module, Population, PopulationKind, Projection,
    ProjectionKind, ReadoutKind, Reset, Shape, Tensor,
};
use snnc_compiler::reference::{compare, run_module};
use snnc_compiler::synth::random_inputs;
use snnc_runtime::ops::Simd;
use snnc_runtime::{Plan, SampleRun};

const T: usize = 4;

/// The per-step tensors of [`module`], by label.
const PER_STEP: [&str; 5] = [
    "bn.bias",
    "lif.bias",
    "tonic.bias",
    "readout.bias",
    "affine",
];

/// Deterministic values in `[lo, hi)`, distinct per `salt`, so the rows of a table differ.
fn values(n: usize, salt: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x = ((i * 7 + salt * 13 + 3) % 17) as f32 / 17.0;
            lo + (hi - lo) * x
        })
        .collect()
}

/// Memoryless spiking neurons (`beta = 0`): a change at one step cannot leak into later ones, so
/// the test can demand that every other step stays bit for bit the same.
fn lif(bias: Handle<Tensor>) -> PopulationKind {
    PopulationKind::Spiking(ir::Spiking {
        beta: 0.0.into(),
        gain: 1.0.into(),
        threshold: 1.0.into(),
        v_reset: 0.0.into(),
        reset: Reset::Hard,
        fire: Compare::Ge,
        v_leak: None,
        v_min: None,
        synapse: None,
        bias: Some(bias),
    })
}

fn module() -> Module {
    let mut m = Module {
        name: "per_step".into(),
        timesteps: T,
        num_classes: 3,
        ..Module::default()
    };
    let tensor = |m: &mut Module, label: &str, shape: Vec<usize>, lo: f32, hi: f32| {
        let n = shape.iter().product();
        let salt = m.tensors.len();
        m.tensors
            .push(Tensor::new(label, shape, values(n, salt, lo, hi)))
    };
    let pop = |m: &mut Module, name: &str, shape: Vec<usize>, kind: PopulationKind| {
        m.populations.push(Population {
            name: name.into(),
            shape: Shape(shape),
            kind,
        })
    };
    let chw = vec![2, 2, 2];
    let input = pop(
        &mut m,
        "input",
        chw.clone(),
        PopulationKind::Input(ir::Input {
            encoding: Encoding::Direct,
        }),
    );
    let b = tensor(&mut m, "bn.bias", vec![T, 2], -0.5, 0.5);
    let bn = pop(
        &mut m,
        "bn",
        chw.clone(),
        PopulationKind::Analog(ir::Analog {
            bias: Some(b),
            constant: false,
        }),
    );
    let scaled = pop(
        &mut m,
        "scaled",
        chw.clone(),
        PopulationKind::Analog(ir::Analog {
            bias: None,
            constant: false,
        }),
    );
    let b = tensor(&mut m, "lif.bias", vec![T, 2], -0.3, 0.3);
    let spiking = pop(&mut m, "lif", chw.clone(), lif(b));
    // Over 64 neurons: the vector build of its spike train runs a full word, not only the tail.
    let b = tensor(&mut m, "tonic.bias", vec![T, 70], 0.0, 0.6);
    let tonic = pop(&mut m, "tonic", vec![70], lif(b));
    let b = tensor(&mut m, "readout.bias", vec![T, 3], -0.5, 0.5);
    let readout = pop(
        &mut m,
        "readout",
        vec![3],
        PopulationKind::Readout(ir::Readout {
            mode: ReadoutKind::TimeMean,
            bias: Some(b),
            integrator: None,
        }),
    );
    let affine = tensor(&mut m, "affine", vec![T, 2], -1.5, 1.5);
    let half = tensor(&mut m, "half", vec![2], 0.4, 0.6);
    let dense =
        |m: &mut Module, from: Handle<Population>, to, [n_out, n_in]: [usize; 2], lo, hi| {
            let weight = tensor(m, "dense", vec![n_out, n_in], lo, hi);
            (from, to, 0, ProjectionKind::Dense(ir::Dense { weight }))
        };
    let edges = [
        (input, bn, 0, ProjectionKind::Identity(ir::Identity)),
        // Delayed: step t uses row t (not t - 1), and nothing arrives at step 0.
        (
            input,
            scaled,
            1,
            ProjectionKind::Affine(ir::Affine { scale: affine }),
        ),
        (
            bn,
            spiking,
            0,
            ProjectionKind::Affine(ir::Affine { scale: half }),
        ),
        (scaled, spiking, 0, ProjectionKind::Identity(ir::Identity)),
        dense(&mut m, input, tonic, [70, 8], -0.1, 0.2),
        dense(&mut m, spiking, readout, [3, 8], -1.0, 1.0),
        dense(&mut m, tonic, readout, [3, 70], -0.2, 0.2),
        dense(&mut m, bn, readout, [3, 8], -0.5, 0.5),
        dense(&mut m, scaled, readout, [3, 8], -0.5, 0.5),
    ];
    for (source, target, delay, kind) in edges {
        m.projections.push(Projection {
            source,
            target,
            delay,
            kind,
        });
    }
    m
}

/// Run `m` with traces, check it against the reference interpreter and the brute-force counter,
/// and return the runs.
fn run(m: &Module, x: &[Vec<f32>], what: &str) -> Vec<SampleRun> {
    let reference = run_module(m, x).unwrap_or_else(|e| panic!("{what}: {e}"));
    let plan = Plan::new(m).unwrap_or_else(|e| panic!("{what}: {e}"));
    let runs = plan.run_batch(x, true, None).unwrap();
    let ag = compare(&reference, &plan.run_output(&runs));
    assert!(
        ag.unexplained.is_empty() && ag.max_logit_error <= 1e-5,
        "{what}: {:?}",
        ag.check()
    );
    // The batch's flip rate and predictions are not checked above: each flip is proven a tie
    // instead, and a sample without one passes the whole ladder.
    let found = check_runs(m, &plan, &reference, &runs).unwrap_or_else(|e| panic!("{what}: {e}"));
    eprintln!("{what}: {} tie flips", found.flips);
    for (s, r) in runs.iter().enumerate() {
        let brute = brute_counts(m, r.trace.as_ref().unwrap());
        assert_eq!(plan.counts(r), brute, "{what}, sample {s}: counts");
    }
    runs
}

#[test]
fn per_step_tensors_agree_with_the_reference_the_counts_and_every_simd_build() {
    let m = module();
    let x = random_inputs(&m, 7);
    let runs = run(&m, &x, "per-step module");
    let spikes: u64 = runs.iter().flat_map(|r| &r.pops).map(|p| p.events).sum();
    assert!(spikes > 0, "the module should emit events");
    let mut plan = Plan::new(&m).unwrap();
    // The per-step paths are where they should be: no constant analog population, the affine
    // from the constant input delivered every step rather than hoisted, the tonic population
    // seeded by a hoisted drive.
    assert!(plan.prologue.iter().all(|&p| plan.pops[p].name == "input"));
    assert!(plan.projs.iter().any(|e| e.op.per_step() && !e.hoisted));
    let tonic = plan.pops.iter().find(|p| p.name == "tonic").unwrap();
    assert!(tonic.incoming.is_empty() && !tonic.drive_delays.is_empty());
    plan.simd = Simd::None;
    let portable = plan.run_batch(&x, false, None).unwrap();
    for level in Simd::available() {
        plan.simd = level;
        assert_eq!(
            plan.run_batch(&x, false, None).unwrap(),
            portable,
            "{level:?}"
        );
    }
}

#[test]
fn changing_one_row_changes_only_its_step() {
    let base = module();
    let x = random_inputs(&base, 11);
    let before = run(&base, &x, "base");
    let pop_of = |label: &str| {
        let name = match label {
            "affine" => "scaled",
            l => l.trim_end_matches(".bias"),
        };
        base.populations
            .iter()
            .position(|(_, p)| p.name == name)
            .unwrap()
    };
    for label in PER_STEP {
        let (h, _) = base.tensors.iter().find(|(_, t)| t.label == label).unwrap();
        let target = pop_of(label);
        for k in 0..T {
            let mut changed_at_k = false;
            // Far past any threshold both ways: one of the two moves a spiking population's
            // spikes at step k whatever they were.
            for delta in [100.0f32, -100.0] {
                let mut m = base.clone();
                let c = m.tensors[h].shape[1];
                m.tensors[h].data[k * c..(k + 1) * c]
                    .iter_mut()
                    .for_each(|v| *v += delta);
                let what = format!("{label} row {k} {delta:+}");
                let after = run(&m, &x, &what);
                for (a, b) in before.iter().zip(&after) {
                    let (a, b) = (a.trace.as_ref().unwrap(), b.trace.as_ref().unwrap());
                    for t in (0..T).filter(|&t| t != k) {
                        assert_eq!(a[t], b[t], "{what}: step {t} changed");
                    }
                    changed_at_k |= a[k][target] != b[k][target];
                }
            }
            // The affine arrives one step late, so its row 0 is never used.
            let expected = !(label == "affine" && k == 0);
            assert_eq!(
                changed_at_k, expected,
                "{label} row {k}: population {target} at step {k}"
            );
        }
    }
}
