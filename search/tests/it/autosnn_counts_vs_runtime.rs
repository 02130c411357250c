//! AutoSNN's counting of a Candle pass against the runtime's counts (`snnc_runtime::counts`) on
//! the same trained network and inputs: spikes per layer and step, and every priced count.
//!
//! `autosnn::counting` restates the runtime's cost model for the parts it prices: synaptic pairs
//! of convolutions and linear layers (SOPs from binary sources, MACs from graded ones, one weight
//! read and one target read-modify-write each) and spiking neurons (one update, two state reads
//! and two writes per step). By design it leaves out what deployment adds around them:
//!
//! * max-pool outputs are spikes for the fitness (autosnn.md §4), but the runtime lowers a
//!   max-pool to an OR-gate population fed by a sum-pool, with its own updates, state and
//!   pooling ops;
//! * the compiler folds BatchNorm into the convolutions and a PLIF's input gain into its incoming
//!   weights; where no weight can take the gain (an identity shortcut, the stem's constant drive)
//!   it becomes a `scale` projection: affine ops, with their target read-modify-writes;
//! * the vote, the readout and any analog population (the stem's hoisted drive) keep state.
//!
//! So the agreement is exact, with those terms taken from the runtime's per-population counts:
//!
//! * spikes per LIF/PLIF and max-pool layer per step: equal;
//! * fitness spikes = all runtime spikes; counted spikes = spikes of LIF/PLIF populations;
//! * SOPs, MACs and weight reads: equal (every weight is non-zero, so the runtime's effective
//!   pairs are all its pairs; only convolutions and dense layers read weights);
//! * neuron updates = updates of LIF/PLIF populations;
//! * state reads and writes = one per synaptic pair, plus each LIF/PLIF population's own traffic
//!   (its reads minus the pairs, pool, scale and copy deliveries into it).

use snnc_compiler::arch::autosnn::{AutoSnnArch, AutoSnnConfig, Block, autosnn_network};
use snnc_compiler::arch::{InputEncoding, InputGeometry};
use snnc_compiler::network::{Network, Op};
use snnc_datasets::transform::Rng;
use snnc_runtime::{Counts, Plan, Tally};
use snnc_search::autosnn::counting::{Activity, CountPlan};
use snnc_search::candle_core::Tensor;
use snnc_search::device::ComputeDevice;
use snnc_search::init::InitScheme;
use snnc_search::model::SnnModel;
use std::collections::HashMap;

const SAMPLES: usize = 6;
const TIMESTEPS: usize = 3;
const SIDE: usize = 8;

fn network(arch: &AutoSnnArch) -> Network {
    let input = InputGeometry {
        channels: 1,
        side: SIDE,
        encoding: InputEncoding::Direct,
        num_classes: 2,
    };
    let mut cfg = AutoSnnConfig::new(input, 2);
    cfg.timesteps = TIMESTEPS;
    cfg.vote_group = 2;
    autosnn_network(arch, &cfg)
        .expect("network")
        .validate()
        .expect("valid network")
}

/// A seeded model whose BatchNorm running statistics have moved towards the data (train-mode
/// passes), so that eval mode keeps deep layers firing and the folded BatchNorm is not the
/// identity, and whose classifier fires.
fn trained_model(net: Network, x: &Tensor, seed: u64) -> SnnModel {
    let model =
        SnnModel::new(net, InitScheme::Pytorch, seed, &ComputeDevice::cpu()).expect("model");
    let mut rng = Rng::new(seed);
    for _ in 0..30 {
        model
            .forward(x, true, &mut rng, false)
            .expect("train-mode pass");
    }
    // The classifier has no BatchNorm to scale its input up; larger weights make it fire.
    let fc = model.params.get("fc.weight").expect("classifier weights");
    fc.set(&(fc.as_tensor() * 10.0).unwrap()).unwrap();
    model
}

/// The Candle side: the counting plan's activity and spikes per (node name, step) over the batch.
fn candle_counts(model: &SnnModel, x: &Tensor) -> (Activity, HashMap<(String, usize), f64>) {
    let plan = CountPlan::new(model).expect("count plan");
    let mut activity = Activity {
        samples: x.dim(0).unwrap(),
        ..Activity::default()
    };
    let mut spikes = HashMap::new();
    let mut rng = Rng::new(0);
    model
        .forward_with_hook(x, false, &mut rng, &mut |id, t, out| {
            let op = &model.net.node(id).op;
            if op.is_spiking() || matches!(op, Op::MaxPool(_)) {
                let s = out.sum_all()?.to_scalar::<f32>()? as f64;
                spikes.insert((model.net.node(id).name.clone(), t), s);
            }
            plan.observe(id, out, &mut activity)
        })
        .expect("counted forward");
    (activity, spikes)
}

/// The runtime side: the compiled module's plan, its tally and the near-threshold count.
/// With every conv and dense pair applied (no zero weights) and no other projection reading
/// weights, checked here.
fn runtime_counts(model: &SnnModel, rows: &[Vec<f32>]) -> (Plan, Tally, u64) {
    let weights = model.params.to_weights().expect("weights");
    let module = snnc_compiler::driver::compile(&model.net, weights, true, true).expect("compiles");
    let plan = Plan::new(&module).expect("plan");
    let runs = plan.run_batch(rows, false, None).expect("runtime run");
    let mut tally = Tally::new(&plan);
    let mut near = 0;
    let mut synaptic_pairs = 0;
    for run in &runs {
        tally.add(&plan, run);
        near += run.pops.iter().map(|p| p.near).sum::<u64>();
        for (e, proj) in plan.projs.iter().enumerate() {
            if matches!(proj.kind, "conv2d" | "dense") {
                for t in 0..plan.timesteps {
                    let step = run.projs[e * plan.timesteps + t];
                    synaptic_pairs += step.pairs;
                    assert_eq!(
                        step.effective, step.pairs,
                        "projection {} has zero weights: effective pairs would differ from pairs",
                        proj.kind
                    );
                }
            }
        }
    }
    assert_eq!(
        tally.total().weight_reads,
        synaptic_pairs,
        "only convolutions and dense layers read weights"
    );
    (plan, tally, near)
}

fn check(arch: &AutoSnnArch, seed: u64) {
    let net = network(arch);
    let mut rng = Rng::new(seed);
    let rows: Vec<Vec<f32>> = (0..SAMPLES)
        .map(|_| {
            // Some exact zeros, so the graded input has fewer events than elements.
            (0..SIDE * SIDE)
                .map(|_| (3.0 * rng.next_f32() - 0.5).max(0.0))
                .collect()
        })
        .collect();
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    let x = Tensor::from_vec(flat, (SAMPLES, 1, SIDE, SIDE), &ComputeDevice::cpu()).unwrap();
    let model = trained_model(net, &x, seed);
    let (activity, candle_spikes) = candle_counts(&model, &x);
    let (plan, tally, near) = runtime_counts(&model, &rows);
    assert_eq!(
        near, 0,
        "{arch} seed {seed}: a membrane lay within the flip margin of its threshold, so f32 rounding \
         may flip a spike between Candle and the runtime; pick another seed"
    );

    let is_neuron = |name: &str| {
        model
            .net
            .id(name)
            .is_some_and(|id| model.net.node(id).op.is_spiking())
    };
    let mut neurons = Counts::default();
    // The state traffic counting.rs prices: every synaptic pair's target read-modify-write,
    // wherever it lands, and each neuron's own membrane and input.
    let mut priced_traffic = 0u64;
    let mut layers_seen = 0;
    for (p, pop) in plan.pops.iter().enumerate() {
        if !pop.binary() {
            continue;
        }
        layers_seen += 1;
        for t in 0..plan.timesteps {
            let candle = candle_spikes
                .get(&(pop.name.clone(), t))
                .unwrap_or_else(|| {
                    panic!("{arch}: runtime layer `{}` has no Candle node", pop.name)
                });
            assert_eq!(
                tally.cell(p, t).spikes as f64,
                *candle,
                "{arch} seed {seed}: spikes of `{}` at step {t}",
                pop.name
            );
        }
        if is_neuron(&pop.name) {
            neurons += tally.population(p);
        }
    }
    for p in 0..plan.pops.len() {
        let c = tally.population(p);
        assert_eq!(c.state_reads, c.state_writes, "{arch}: no delay rings here");
        priced_traffic += c.weight_reads;
        if is_neuron(&plan.pops[p].name) {
            // What a neuron population reads besides its incoming pairs: its own state.
            priced_traffic +=
                c.state_reads - c.weight_reads - c.pooling_ops - c.affine_ops - c.copies;
        }
    }
    assert_eq!(
        layers_seen,
        candle_spikes.len() / TIMESTEPS,
        "{arch}: layers"
    );

    let total = tally.total();
    eprintln!(
        "{arch}: counting {:?}\n  runtime {:?}",
        activity.counts,
        total.op_counts(1.0)
    );
    let got = &activity.counts;
    let what = |field: &str| format!("{arch} seed {seed}: {field}");
    assert!(
        got.sops > 0.0 && got.macs > 0.0,
        "{}",
        what("both kinds of events occur")
    );
    assert!(
        candle_spikes
            .iter()
            .any(|((n, _), s)| n == "fc.plif" && *s > 0.0),
        "{}",
        what("spikes reach the classifier")
    );
    assert_eq!(
        activity.fitness_spikes,
        total.spikes as f64,
        "{}",
        what("fitness spikes")
    );
    assert_eq!(
        got.spikes,
        neurons.spikes as f64,
        "{}",
        what("neuron spikes")
    );
    assert_eq!(got.sops, total.sops as f64, "{}", what("SOPs"));
    assert_eq!(got.macs, total.macs as f64, "{}", what("MACs"));
    assert_eq!(
        got.weight_reads,
        total.weight_reads as f64,
        "{}",
        what("weight reads")
    );
    assert_eq!(
        got.neuron_updates,
        neurons.neuron_updates as f64,
        "{}",
        what("neuron updates")
    );
    assert_eq!(
        got.state_reads,
        priced_traffic as f64,
        "{}",
        what("state reads")
    );
    assert_eq!(
        got.state_writes,
        priced_traffic as f64,
        "{}",
        what("state writes")
    );
}

#[test]
fn candle_counting_agrees_with_the_runtime_counts() {
    for (arch, seed) in [
        (AutoSnnArch::paper_final(), 1),
        (
            AutoSnnArch([
                Block::Scb5,
                Block::Skip,
                Block::Srb3,
                Block::Skip,
                Block::Scb3,
            ]),
            2,
        ),
        (
            AutoSnnArch([
                Block::Srb3,
                Block::Srb5,
                Block::Scb3,
                Block::Srb3,
                Block::Skip,
            ]),
            3,
        ),
    ] {
        check(&arch, seed);
    }
}
