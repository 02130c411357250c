//! Tiny networks whose outputs are computed by hand: both interpreters, lowered and optimised.

use snnc_compiler::lower::lower;
use snnc_compiler::network::{NetworkDesc, Tensor, Weights};
use snnc_compiler::passes::optimise;
use snnc_compiler::reference::{RunOutput, compare, run_module, run_network};

fn weights(list: &[(&str, Vec<usize>, Vec<f32>)]) -> Weights {
    let mut w = Weights::default();
    for (name, shape, data) in list {
        w.tensors
            .insert(name.to_string(), Tensor::new(shape.clone(), data.clone()));
    }
    w
}

/// Run the network directly, lowered, and optimised; all three must agree exactly here.
fn run_all(json: &str, w: Weights, x: Vec<f32>) -> RunOutput {
    let net = NetworkDesc::from_json_str(json, "hand.json").unwrap();
    let direct = run_network(&net, &w, std::slice::from_ref(&x)).unwrap();
    let m = lower(&net, w).unwrap();
    let lowered = run_module(&m, std::slice::from_ref(&x)).unwrap();
    let optimised = run_module(&optimise(m), &[x]).unwrap();
    for other in [&lowered, &optimised] {
        compare(&direct, other).check().unwrap();
        assert_eq!(direct.spikes, other.spikes);
    }
    direct
}

#[test]
fn lif_charges_fires_and_resets_as_spikingjelly() {
    // x = 1 every step, tau = 2: v = 0.5, 0.75, 0.875 (>= 0.8: spike, reset), 0.5, 0.75, 0.875.
    let json = r#"{"format_version": 1, "timesteps": 6, "num_classes": 1,
        "input": {"shape": [2], "encoding": "direct"}, "readout": {"node": "lif", "kind": "spike_count"},
        "nodes": [{"name": "x", "op": "input"}, {"name": "fc", "op": "linear", "in_features": 2, "out_features": 1},
                  {"name": "lif", "op": "lif", "tau": 2.0, "threshold": 0.8}],
        "edges": [{"from": "x", "to": "fc"}, {"from": "fc", "to": "lif"}]}"#;
    let out = run_all(
        json,
        weights(&[("fc.weight", vec![1, 2], vec![1.0, 1.0])]),
        vec![0.25, 0.75],
    );
    assert_eq!(out.spikes[0][0], vec![0, 0, 1, 0, 0, 1]);
    assert_eq!(out.logits[0], vec![2.0]);
}

#[test]
fn plif_uses_its_trained_leak() {
    // w = ln 3 gives k = sigmoid(w) = 0.75: v = 0.75 (x = 1), then 0.75 + 0.25 * 0.75 = 0.9375.
    // Threshold 0.9: the swap beta <-> gain (k = 0.25) would give 0.25, 0.4375 and never fire.
    let json = r#"{"format_version": 1, "timesteps": 2, "num_classes": 1,
        "input": {"shape": [1], "encoding": "direct"}, "readout": {"node": "p", "kind": "spike_count"},
        "nodes": [{"name": "x", "op": "input"}, {"name": "p", "op": "plif", "tau": 2.0, "threshold": 0.9}],
        "edges": [{"from": "x", "to": "p"}]}"#;
    let out = run_all(
        json,
        weights(&[("p.w", vec![], vec![3.0f32.ln()])]),
        vec![1.0],
    );
    assert_eq!(out.spikes[0][0], vec![0, 1]);
}

#[test]
fn feedback_is_delivered_one_step_later() {
    // s(t) = x + 0.5 s(t-1): 1, 1.5, 1.75; time-mean readout (1 + 1.5 + 1.75) / 3.
    let json = r#"{"format_version": 1, "timesteps": 3, "num_classes": 1,
        "input": {"shape": [1], "encoding": "direct"}, "readout": {"node": "s", "kind": "time_mean"},
        "nodes": [{"name": "x", "op": "input"}, {"name": "s", "op": "sum"}, {"name": "half", "op": "scale", "factor": 0.5}],
        "edges": [{"from": "x", "to": "s"}, {"from": "s", "to": "half"}, {"from": "half", "to": "s", "delay": 1}]}"#;
    let out = run_all(json, Weights::default(), vec![1.0]);
    assert!(
        (out.logits[0][0] - 4.25 / 3.0).abs() < 1e-12,
        "{:?}",
        out.logits
    );
}

#[test]
fn batch_norm_uses_running_statistics_and_max_pool_is_an_or() {
    // BN: (x - 1) / sqrt(4 + 0) * 2 + 1 = x for x = 1 -> 1; LIF tau 1 (no leak, gain 1) fires at
    // v >= 1 where x = 1; the 2x2 max-pool of the spikes is 1 if any of the four fired.
    let json = r#"{"format_version": 1, "timesteps": 1, "num_classes": 2,
        "input": {"shape": [1, 2, 4], "encoding": "direct"}, "readout": {"node": "flat", "kind": "spike_count"},
        "nodes": [{"name": "x", "op": "input"}, {"name": "bn", "op": "batch_norm", "eps": 1e-30},
                  {"name": "lif", "op": "lif", "tau": 1.0}, {"name": "pool", "op": "max_pool", "kernel": 2},
                  {"name": "flat", "op": "flatten"}],
        "edges": [{"from": "x", "to": "bn"}, {"from": "bn", "to": "lif"}, {"from": "lif", "to": "pool"}, {"from": "pool", "to": "flat"}]}"#;
    let w = weights(&[
        ("bn.weight", vec![1], vec![2.0]),
        ("bn.bias", vec![1], vec![1.0]),
        ("bn.running_mean", vec![1], vec![1.0]),
        ("bn.running_var", vec![1], vec![4.0]),
    ]);
    // Left window holds one x = 1 (fires), right window none.
    let out = run_all(json, w, vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.0]);
    assert_eq!(out.logits[0], vec![1.0, 0.0]);
    assert_eq!(out.spikes[0][0], vec![1]); // lif
    assert_eq!(out.spikes[0][1], vec![1]); // pool
}

#[test]
fn per_step_batch_norm_uses_the_statistics_of_each_step() {
    // Means 0, 1, 2 at steps 0, 1, 2 and unit variance: x = 3 gives 3, 2, 1, whose time mean is
    // 2; one shared row would give 3. The conv-free linear before it must not absorb the BN.
    let json = r#"{"format_version": 1, "timesteps": 3, "num_classes": 1,
        "input": {"shape": [1], "encoding": "direct"}, "readout": {"node": "bn", "kind": "time_mean"},
        "nodes": [{"name": "x", "op": "input"}, {"name": "fc", "op": "linear", "in_features": 1, "out_features": 1},
                  {"name": "bn", "op": "batch_norm", "eps": 1e-30, "per_step": true}],
        "edges": [{"from": "x", "to": "fc"}, {"from": "fc", "to": "bn"}]}"#;
    let w = weights(&[
        ("fc.weight", vec![1, 1], vec![1.0]),
        ("bn.weight", vec![1], vec![1.0]),
        ("bn.bias", vec![1], vec![0.0]),
        ("bn.running_mean", vec![3, 1], vec![0.0, 1.0, 2.0]),
        ("bn.running_var", vec![3, 1], vec![1.0, 1.0, 1.0]),
    ]);
    let out = run_all(json, w.clone(), vec![3.0]);
    assert!((out.logits[0][0] - 2.0).abs() < 1e-12, "{:?}", out.logits);
    // Statistics of the shared shape are an error naming the tensor, not a silent broadcast.
    let mut shared = w;
    shared
        .tensors
        .insert("bn.running_mean".into(), Tensor::new(vec![1], vec![0.0]));
    let net = NetworkDesc::from_json_str(json, "hand.json").unwrap();
    let err = lower(&net, shared).unwrap_err().to_string();
    assert!(
        err.contains("bn.running_mean") && err.contains("[3, 1]"),
        "{err}"
    );
}

#[test]
fn tied_weights_are_moved_once_and_shared() {
    // Two linear layers name one tensor; s = W x + W x = 2 W x.
    let json = r#"{"format_version": 1, "timesteps": 1, "num_classes": 2,
        "input": {"shape": [2], "encoding": "direct"}, "readout": {"node": "s", "kind": "time_mean"},
        "nodes": [{"name": "x", "op": "input"},
                  {"name": "a", "op": "linear", "in_features": 2, "out_features": 2, "params": {"weight": "tied"}},
                  {"name": "b", "op": "linear", "in_features": 2, "out_features": 2, "params": {"weight": "tied"}},
                  {"name": "s", "op": "sum"}],
        "edges": [{"from": "x", "to": "a"}, {"from": "x", "to": "b"}, {"from": "a", "to": "s"}, {"from": "b", "to": "s"}]}"#;
    let w = weights(&[("tied", vec![2, 2], vec![1.0, 2.0, 3.0, 4.0])]);
    let net = NetworkDesc::from_json_str(json, "tied.json").unwrap();
    let m = lower(&net, w.clone()).unwrap();
    assert_eq!(
        m.tensors.len(),
        1,
        "one tensor, shared by two dense projections"
    );
    let out = run_all(json, w, vec![1.0, 1.0]);
    assert_eq!(out.logits[0], vec![6.0, 14.0]);
}
