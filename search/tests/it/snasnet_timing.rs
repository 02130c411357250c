//! Backward-edge timing of SNASNet cells (snasnet.md §2.5): the macro network built by
//! `snasnet_network` against a hand-unrolled computation on a tiny width.

use crate::common::values;
use candle_core::Tensor;
use snnc_compiler::network::Network;
use snnc_datasets::transform::Rng;
use snnc_search::arch::snasnet::{CellGenotype, SnasnetConfig, snasnet_network};
use snnc_search::arch::{InputEncoding, InputGeometry};
use snnc_search::device::ComputeDevice;
use snnc_search::init::InitScheme;
use snnc_search::model::SnnModel;
use std::collections::HashMap;

const T: usize = 4;

fn tiny_model(geno: &str) -> SnnModel {
    let geno: CellGenotype = geno.parse().expect("genotype");
    let input = InputGeometry {
        channels: 1,
        side: 8,
        encoding: InputEncoding::Direct,
        num_classes: 2,
    };
    let mut cfg = SnasnetConfig::new(input, 2);
    cfg.hidden = 8;
    cfg.vote_group = 2;
    cfg.timesteps = T;
    let desc = snasnet_network(&geno, &cfg).expect("network");
    let net: Network = desc.validate().expect("valid network");
    SnnModel::new(net, InitScheme::Snasnet, 5, &ComputeDevice::cpu()).expect("model")
}

/// Every node's value at every step it ran, by node name.
fn trace(model: &SnnModel) -> (HashMap<String, Vec<Vec<f32>>>, Vec<f32>) {
    let mut rng = Rng::new(1);
    let x: Vec<f32> = (0..3 * 64).map(|_| 4.0 * rng.next_f32() - 1.0).collect();
    let x = Tensor::from_slice(&x, (3, 1, 8, 8), &ComputeDevice::cpu()).expect("input");
    let mut seen: HashMap<String, Vec<Vec<f32>>> = HashMap::new();
    let mut hook = |id: usize, t: usize, v: &Tensor| {
        let name = model.net.node(id).name.clone();
        let slot = seen.entry(name).or_default();
        assert_eq!(slot.len(), t, "node {id} ran out of order");
        slot.push(values(v));
        Ok(())
    };
    let out = model
        .forward_with_hook(&x, true, &mut Rng::new(9), &mut hook)
        .expect("forward");
    let plain = model
        .forward(&x, true, &mut Rng::new(9), false)
        .expect("forward");
    assert_eq!(
        values(&out.readout),
        values(&plain.readout),
        "the hook changes nothing"
    );
    (seen, values(&out.readout))
}

/// 3x3 average pool, stride 1, pad 1, dividing by 9 (count_include_pad), on [B, C, S, S].
fn pool3(x: &[f32], side: usize) -> Vec<f32> {
    let planes = x.len() / (side * side);
    let mut y = vec![0.0f32; x.len()];
    for p in 0..planes {
        let base = p * side * side;
        for r in 0..side as isize {
            for c in 0..side as isize {
                let mut s = 0.0f32;
                for dr in -1..=1isize {
                    for dc in -1..=1isize {
                        let (rr, cc) = (r + dr, c + dc);
                        if (0..side as isize).contains(&rr) && (0..side as isize).contains(&cc) {
                            s += x[base + rr as usize * side + cc as usize];
                        }
                    }
                }
                y[base + r as usize * side + c as usize] = s / 9.0;
            }
        }
    }
    y
}

fn add(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
            "{what}[{k}]: {g} vs {w}"
        );
    }
}

/// The value of `name` at step `t` (a static node keeps its t = 0 value).
fn at<'a>(seen: &'a HashMap<String, Vec<Vec<f32>>>, name: &str, t: usize) -> &'a [f32] {
    let v = seen
        .get(name)
        .unwrap_or_else(|| panic!("node {name} never ran"));
    &v[t.min(v.len() - 1)]
}

/// Cell "0104 0010 1000 0410": forward 0->1 skip, 0->3 pool, 1->2 skip; backward 2->0 skip,
/// 3->1 pool, 3->2 skip. No weights, so the whole cell unrolls by hand:
/// z0 = x + m0, z1 = z0 + m1, z2 = z1 + m2, x3 = pool(z0); m0' = z2, m1' = pool(x3), m2' = x3.
#[test]
fn skip_and_pool_feedback_cell_matches_hand_unrolled() {
    let model = tiny_model("0104 0010 1000 0410");
    let (seen, _) = trace(&model);
    for (cell, input, side) in [("cell1", "stem.bn", 8usize), ("cell2", "down.pool", 4)] {
        let n = at(&seen, input, 0).len();
        let (mut m0, mut m1, mut m2) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
        for t in 0..T {
            let x = at(&seen, input, t);
            let z0 = add(x, &m0);
            let z1 = add(&z0, &m1);
            let z2 = add(&z1, &m2);
            let x3 = pool3(&z0, side);
            close(
                at(&seen, &format!("{cell}.n0"), t),
                &z0,
                &format!("{cell} z0 at t={t}"),
            );
            close(
                at(&seen, &format!("{cell}.n1"), t),
                &z1,
                &format!("{cell} z1 at t={t}"),
            );
            close(
                at(&seen, &format!("{cell}.n2"), t),
                &z2,
                &format!("{cell} z2 at t={t}"),
            );
            close(
                at(&seen, &format!("{cell}.n3"), t),
                &x3,
                &format!("{cell} x3 at t={t}"),
            );
            if t == 1 {
                assert!(m0.iter().any(|v| *v != 0.0), "feedback is live at t=1");
            }
            m0 = z2;
            m1 = pool3(&x3, side);
            m2 = x3;
        }
    }
}

/// The documented example "0302 0030 3003 0000" with a backward conv3x3 edge 2->0: node 0 receives
/// that edge's BN output of the previous step (nothing at t = 0), and the edge's LIF runs every step.
#[test]
fn backward_conv_edge_is_delivered_one_step_later() {
    let model = tiny_model("0302 0030 3003 0000");
    let (seen, _) = trace(&model);
    let mut live = false;
    for (cell, input) in [("cell1", "stem.bn"), ("cell2", "down.pool")] {
        let e = |name: &str, t: usize| at(&seen, &format!("{cell}.{name}"), t).to_vec();
        for t in 0..T {
            let fb = if t == 0 {
                vec![0.0; e("n0", 0).len()]
            } else {
                e("e20.bn", t - 1)
            };
            close(
                &e("n0", t),
                &add(at(&seen, input, t), &fb),
                &format!("{cell} n0 at t={t}"),
            );
            close(&e("n1", t), &e("e01.bn", t), &format!("{cell} n1 at t={t}"));
            close(&e("n2", t), &e("e12.bn", t), &format!("{cell} n2 at t={t}"));
            close(
                &e("n3", t),
                &add(&e("e03.bn", t), &e("e23.bn", t)),
                &format!("{cell} n3 at t={t}"),
            );
        }
        assert_eq!(
            seen[&format!("{cell}.e20.lif")].len(),
            T,
            "the backward LIF runs at every step"
        );
        live |= seen[&format!("{cell}.e20.bn")]
            .iter()
            .flatten()
            .any(|v| *v != 0.0);
    }
    assert!(live, "the backward edge carries something");
}
