//! The SNASNet candidate score end to end on a tiny network (snasnet.md §4.2-4.4).

use candle_core::Tensor;
use snnc_datasets::transform::Rng;
use snnc_search::arch::snasnet::{CellGenotype, SnasnetConfig, snasnet_network};
use snnc_search::arch::{InputEncoding, InputGeometry};
use snnc_search::device::ComputeDevice;
use snnc_search::init::InitScheme;
use snnc_search::model::CarriedState;
use snnc_search::model::SnnModel;
use snnc_search::snasnet::kernel::{KernelKind, log_abs_det};
use snnc_search::snasnet::score::{PassState, ScoreOptions, score_genotype, score_model};

fn options(kind: KernelKind, state: PassState) -> ScoreOptions {
    ScoreOptions {
        kind,
        state,
        ..ScoreOptions::default()
    }
}

const B: usize = 6;
const T: usize = 3;

fn cfg() -> SnasnetConfig {
    let input = InputGeometry {
        channels: 1,
        side: 8,
        encoding: InputEncoding::Direct,
        num_classes: 2,
    };
    let mut cfg = SnasnetConfig::new(input, 4);
    cfg.hidden = 16;
    cfg.vote_group = 2;
    cfg.timesteps = T;
    cfg
}

fn inputs(seed: u64, n: usize) -> Vec<Tensor> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let x: Vec<f32> = (0..B * 64).map(|_| 6.0 * rng.next_f32() - 2.0).collect();
            Tensor::from_slice(&x, (B, 1, 8, 8), &ComputeDevice::cpu()).expect("input")
        })
        .collect()
}

fn model(geno: &CellGenotype) -> SnnModel {
    let net = snasnet_network(geno, &cfg())
        .expect("network")
        .validate()
        .expect("valid");
    SnnModel::new(net, InitScheme::Snasnet, 42, &ComputeDevice::cpu()).expect("model")
}

/// The score straight from the formulas, on spikes recorded through the hook.
fn direct_score(model: &SnnModel, x: &Tensor, kind: KernelKind, rng: &mut Rng) -> (f64, usize) {
    let mut calls: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut hook = |id: usize, _t: usize, v: &Tensor| {
        if model.net.node(id).op.is_spiking() {
            let rows = v.flatten_from(1)?.to_vec2::<f32>()?;
            calls.push(
                rows.iter()
                    .map(|r| r.iter().map(|&s| (s > 0.0) as u8).collect())
                    .collect(),
            );
        }
        Ok(())
    };
    model
        .forward_with_hook(x, true, rng, &mut hook)
        .expect("forward");
    let mut mean = vec![0.0f64; B * B];
    for c in &calls {
        let n = c[0].len() as f64;
        let rate = |i: usize| c[i].iter().map(|&v| v as f64).sum::<f64>() / n;
        for i in 0..B {
            for j in 0..B {
                let d = c[i].iter().zip(&c[j]).filter(|(a, b)| a != b).count() as f64;
                let e = n * (rate(i) * (1.0 - rate(j)) + (1.0 - rate(i)) * rate(j));
                let k = match kind {
                    KernelKind::Sahd => n - 0.5 * d / (e + 1e-3),
                    KernelKind::Hamming => n - d,
                };
                mean[i * B + j] += k / calls.len() as f64;
            }
        }
    }
    (log_abs_det(&mean, B), calls.len())
}

#[test]
fn score_matches_direct_formulas_and_counts_every_lif_call() {
    for geno in [
        "0302 0030 3003 0000",
        "0323 0032 0003 0000",
        "0104 0010 1000 0410",
    ] {
        let geno: CellGenotype = geno.parse().expect("genotype");
        let m = model(&geno);
        let lifs = (0..m.net.len())
            .filter(|&i| m.net.node(i).op.is_spiking())
            .count();
        let xs = inputs(3, 2);
        for kind in [KernelKind::Sahd, KernelKind::Hamming] {
            let got =
                score_model(&m, &xs, kind, PassState::Reset, &mut Rng::new(8)).expect("score");
            assert_eq!(got.lif_calls, lifs * T, "{geno}");
            assert_eq!(got.per_pass.len(), 2);
            let mut rng = Rng::new(8);
            let want: Vec<f64> = xs
                .iter()
                .map(|x| direct_score(&m, x, kind, &mut rng).0)
                .collect();
            for (g, w) in got.per_pass.iter().zip(&want) {
                assert!(g.is_finite(), "{geno} {kind:?}: {g}");
                assert!(
                    (g - w).abs() < 1e-9 * (1.0 + w.abs()),
                    "{geno} {kind:?}: {g} vs {w}"
                );
            }
            assert!((got.score - (want[0] + want[1]) / 2.0).abs() < 1e-9 * (1.0 + got.score.abs()));
        }
    }
}

#[test]
fn scoring_is_deterministic_and_kernels_differ() {
    let geno: CellGenotype = "0302 0030 3003 0000".parse().expect("genotype");
    let xs = inputs(5, 2);
    let run = |kind| {
        score_genotype(
            &geno,
            &cfg(),
            7,
            &xs,
            &options(kind, PassState::Reset),
            &mut Rng::new(1),
        )
        .expect("score")
    };
    let (a, b) = (run(KernelKind::Sahd), run(KernelKind::Sahd));
    assert_eq!(
        (a.per_pass, a.score, a.lif_calls),
        (b.per_pass, b.score, b.lif_calls)
    );
    assert_ne!(run(KernelKind::Sahd).score, run(KernelKind::Hamming).score);
    // Every pass starts from fresh state: scoring one batch twice gives the same number twice.
    let twice = vec![xs[0].clone(), xs[0].clone()];
    let s = score_genotype(
        &geno,
        &cfg(),
        7,
        &twice,
        &options(KernelKind::Sahd, PassState::Reset),
        &mut Rng::new(1),
    )
    .expect("score");
    assert_eq!(s.per_pass[0], s.per_pass[1]);
    assert!(
        score_model(
            &model(&geno),
            &[],
            KernelKind::Sahd,
            PassState::Reset,
            &mut Rng::new(1)
        )
        .is_err()
    );
}

/// LIF outputs of every call, in order.
fn lif_trace(
    model: &SnnModel,
    x: &Tensor,
    rng: &mut Rng,
    carry: Option<&mut CarriedState>,
) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    let mut hook = |id: usize, _t: usize, v: &Tensor| {
        if model.net.node(id).op.is_spiking() {
            out.push(v.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(())
    };
    match carry {
        Some(c) => model
            .forward_carrying(x, true, rng, &mut hook, c)
            .expect("forward"),
        None => model
            .forward_with_hook(x, true, rng, &mut hook)
            .expect("forward"),
    };
    out
}

#[test]
fn carried_state_continues_the_membranes_of_the_previous_pass() {
    // A forward-only cell has no delayed edges, so two carried passes of T steps on one batch
    // are one pass of 2T steps (same weights, same dropout mask).
    let geno: CellGenotype = "0323 0032 0003 0000".parse().expect("genotype");
    let x = &inputs(6, 1)[0];
    let m = model(&geno);
    let mut long_cfg = cfg();
    long_cfg.timesteps = 2 * T;
    let long = SnnModel::new(
        snasnet_network(&geno, &long_cfg)
            .expect("net")
            .validate()
            .expect("valid"),
        InitScheme::Snasnet,
        42,
        &ComputeDevice::cpu(),
    )
    .expect("model");
    let want = lif_trace(&long, x, &mut Rng::new(2), None);
    let mut carry = CarriedState::default();
    let mut rng = Rng::new(2);
    let mut got = lif_trace(&m, x, &mut rng, Some(&mut carry));
    let fresh = lif_trace(&m, x, &mut Rng::new(2), None);
    assert_eq!(got, fresh, "an empty carry is a fresh pass");
    got.extend(lif_trace(&m, x, &mut rng, Some(&mut carry)));
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    // The score with carried state: first pass as with a reset, later passes differ.
    let twice = vec![x.clone(), x.clone()];
    let reset = score_model(
        &m,
        &twice,
        KernelKind::Sahd,
        PassState::Reset,
        &mut Rng::new(1),
    )
    .expect("score");
    let carried = score_model(
        &m,
        &twice,
        KernelKind::Sahd,
        PassState::Carry,
        &mut Rng::new(1),
    )
    .expect("score");
    assert_eq!(reset.per_pass[0], carried.per_pass[0]);
    assert_eq!(reset.per_pass[0], reset.per_pass[1]);
    assert_ne!(carried.per_pass[0], carried.per_pass[1]);
    assert!(carried.kernel_seconds > 0.0);
}
