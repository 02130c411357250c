//! SnnModel graph semantics: dropout masks fixed over time, and feedback edges with delays
//! against hand-unrolled f64 computations.

use crate::common::*;
use candle_core::Tensor;
use snnc_datasets::transform::Rng;
use snnc_search::device::ComputeDevice;
use snnc_search::init::InitScheme;
use snnc_search::layers::dropout_mask;
use snnc_search::model::SnnModel;

fn model(json: &str) -> SnnModel {
    SnnModel::new(network(json), InitScheme::Pytorch, 1, &ComputeDevice::cpu()).expect("model")
}

fn set(model: &SnnModel, name: &str, data: &[f32]) {
    let v = model
        .params
        .get(name)
        .unwrap_or_else(|| panic!("no parameter {name}"));
    v.set(&tensor(data, v.dims())).expect("set parameter");
}

// ------------------------------------------------------------------------------------------------
// Dropout

/// Event frames [2, 2, 2] -> dropout(p) -> flatten (the readout, 8 classes), T = 3.
fn dropout_frames_net(p: f64) -> String {
    format!(
        r#"{{
  "format_version": 1, "name": "drop-frames", "timesteps": 3, "num_classes": 8,
  "input": {{ "shape": [2, 2, 2], "encoding": "event_frames" }},
  "readout": {{ "node": "flat", "kind": "time_mean" }},
  "nodes": [
    {{ "name": "x", "op": "input" }},
    {{ "name": "drop", "op": "dropout", "p": {p} }},
    {{ "name": "flat", "op": "flatten" }}
  ],
  "edges": [ {{ "from": "x", "to": "drop" }}, {{ "from": "drop", "to": "flat" }} ]
}}"#
    )
}

/// Frames whose every element at step t is 4^t: the time-mean readout of x * m_t is
/// (m_0 + 4 m_1 + 16 m_2) / 3, which reveals each step's mask.
fn frames(batch: usize) -> Tensor {
    let mut data = Vec::new();
    for _ in 0..batch {
        for t in 0..3 {
            data.extend(std::iter::repeat_n(4f32.powi(t), 8));
        }
    }
    tensor(&data, &[batch, 3, 2, 2, 2])
}

#[test]
fn dropout_mask_is_the_same_at_every_timestep() {
    let m = model(&dropout_frames_net(0.5));
    let batch = 6;
    let mut rng = Rng::new(77);
    let out = m.forward(&frames(batch), true, &mut rng, false).unwrap();
    let r = values(&out.readout);
    assert_eq!(r.len(), batch * 8);
    // Same mask m in {0, 2} at every step: (1 + 4 + 16) m / 3 = 7 m in {0, 14}. A mask that changed
    // between steps would give 2/3 * (a partial sum of 1, 4, 16), never 0 or 14 exactly.
    for (i, &v) in r.iter().enumerate() {
        assert!(
            v.abs() < 1e-5 || (v - 14.0).abs() < 1e-4,
            "readout[{i}] = {v}: the mask differs between timesteps"
        );
    }
    let kept = r.iter().filter(|&&v| v > 7.0).count();
    assert!(
        kept > 8 && kept < 40,
        "p = 0.5 should drop some and keep some of 48: kept {kept}"
    );
    // The mask is per sample: not every sample has the same pattern.
    let rows: Vec<&[f32]> = r.chunks(8).collect();
    assert!(
        rows.iter().any(|row| *row != rows[0]),
        "all samples share one mask"
    );
    // A new forward pass draws a new mask.
    let again = values(
        &m.forward(&frames(batch), true, &mut rng, false)
            .unwrap()
            .readout,
    );
    assert_ne!(r, again, "the second forward pass should draw a fresh mask");
}

#[test]
fn dropout_scales_kept_units_by_one_over_keep_probability() {
    // p = 0.25: kept units are scaled by 4/3, so the readout is 7 * 4/3 = 28/3 or 0.
    let m = model(&dropout_frames_net(0.25));
    let r = values(
        &m.forward(&frames(8), true, &mut Rng::new(5), false)
            .unwrap()
            .readout,
    );
    for &v in &r {
        assert!(
            v.abs() < 1e-5 || (v - 28.0 / 3.0).abs() < 1e-4,
            "readout {v}"
        );
    }
    let dropped = r.iter().filter(|&&v| v == 0.0).count();
    assert!(
        dropped > 2 && dropped < 40,
        "about a quarter of 64 should be dropped, got {dropped}"
    );
}

#[test]
fn dropout_is_identity_in_eval_mode_and_at_p_zero() {
    for (p, train) in [(0.5, false), (0.0, true)] {
        let m = model(&dropout_frames_net(p));
        let r = values(
            &m.forward(&frames(4), train, &mut Rng::new(3), false)
                .unwrap()
                .readout,
        );
        assert_all_close(&r, &[7.0; 32], 1e-5, &format!("p={p} train={train}"));
    }
}

#[test]
fn dropout_on_a_static_direct_input_keeps_its_mask() {
    // Direct input [8] -> dropout -> readout: the input is the same at each of the 4 steps, the
    // mask must be too, so the readout is x * m exactly (never x * 2 * j/4 for j = 1..3).
    let json = r#"{
  "format_version": 1, "name": "drop-direct", "timesteps": 4, "num_classes": 8,
  "input": { "shape": [8], "encoding": "direct" },
  "readout": { "node": "drop", "kind": "time_mean" },
  "nodes": [ { "name": "x", "op": "input" }, { "name": "drop", "op": "dropout", "p": 0.5 } ],
  "edges": [ { "from": "x", "to": "drop" } ]
}"#;
    let m = model(json);
    let x: Vec<f32> = (0..32).map(|i| 1.0 + i as f32).collect();
    let r = values(
        &m.forward(&tensor(&x, &[4, 8]), true, &mut Rng::new(9), false)
            .unwrap()
            .readout,
    );
    for (i, (&v, &xi)) in r.iter().zip(&x).enumerate() {
        assert!(
            v == 0.0 || (v - 2.0 * xi).abs() < 1e-4,
            "readout[{i}] = {v} for x = {xi}"
        );
    }
    assert!(r.contains(&0.0) && r.iter().any(|&v| v != 0.0));
}

#[test]
fn dropout_mask_values_and_determinism() {
    let a = dropout_mask(&mut Rng::new(42), &[100, 100], 0.3, &ComputeDevice::cpu()).unwrap();
    let b = dropout_mask(&mut Rng::new(42), &[100, 100], 0.3, &ComputeDevice::cpu()).unwrap();
    assert_eq!(a.dims(), &[100, 100]);
    let (va, vb) = (values(&a), values(&b));
    assert_eq!(va, vb, "same seed, same mask");
    let keep = (1.0 / 0.7) as f32;
    assert!(
        va.iter().all(|&v| v == 0.0 || v == keep),
        "mask entries are 0 or 1/(1-p)"
    );
    let dropped = va.iter().filter(|&&v| v == 0.0).count() as f64 / 10_000.0;
    assert!((dropped - 0.3).abs() < 0.02, "dropped fraction {dropped}");
    let c =
        values(&dropout_mask(&mut Rng::new(43), &[100, 100], 0.3, &ComputeDevice::cpu()).unwrap());
    assert_ne!(va, c, "another seed, another mask");
}

// ------------------------------------------------------------------------------------------------
// Delays

const W_FC: [[f64; 3]; 4] = [
    [0.9, 0.3, -0.2],
    [0.4, 0.8, 0.1],
    [-0.3, 0.5, 0.9],
    [0.6, -0.4, 0.5],
];
const W_OUT: [[f64; 4]; 2] = [[0.5, -0.3, 0.8, 0.2], [-0.6, 0.4, 0.1, 0.7]];
const B_OUT: [f64; 2] = [0.1, -0.2];
const U: [[f64; 3]; 2] = [[1.8, 1.05, 0.6], [0.45, 1.65, 1.95]];
const T: usize = 8;

/// input [3] -> fc (3->4) -> s (sum); s -> n (lif tau 2); n -> fb_i (scale f_i) -> s with delay d_i;
/// n -> out (linear 4->2, readout) with delay `readout_delay`.
fn delay_net(feedback: &[(u32, f64)], readout_delay: u32) -> String {
    let mut nodes = vec![
        r#"{ "name": "x", "op": "input" }"#.to_string(),
        r#"{ "name": "fc", "op": "linear", "in_features": 3, "out_features": 4 }"#.to_string(),
        r#"{ "name": "s", "op": "sum" }"#.to_string(),
        r#"{ "name": "n", "op": "lif", "tau": 2.0 }"#.to_string(),
        r#"{ "name": "out", "op": "linear", "in_features": 4, "out_features": 2, "bias": true }"#
            .to_string(),
    ];
    let mut edges = vec![
        r#"{ "from": "x", "to": "fc" }"#.to_string(),
        r#"{ "from": "fc", "to": "s" }"#.to_string(),
        r#"{ "from": "s", "to": "n" }"#.to_string(),
        format!(r#"{{ "from": "n", "to": "out", "delay": {readout_delay} }}"#),
    ];
    for (i, (d, f)) in feedback.iter().enumerate() {
        nodes.push(format!(
            r#"{{ "name": "fb{i}", "op": "scale", "factor": {f} }}"#
        ));
        edges.push(format!(r#"{{ "from": "n", "to": "fb{i}" }}"#));
        edges.push(format!(r#"{{ "from": "fb{i}", "to": "s", "delay": {d} }}"#));
    }
    format!(
        r#"{{ "format_version": 1, "name": "delays", "timesteps": {T}, "num_classes": 2,
  "input": {{ "shape": [3], "encoding": "direct" }},
  "readout": {{ "node": "out", "kind": "time_mean" }},
  "nodes": [{}], "edges": [{}] }}"#,
        nodes.join(",\n"),
        edges.join(",\n")
    )
}

/// The hand-unrolled network in f64: (logits [B][2], spikes per timestep summed over the batch).
fn unrolled(feedback: &[(u32, f64)], readout_delay: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    let p = lif_params(2.0);
    let mut logits = Vec::new();
    let mut counts = vec![0.0; T];
    for u in &U {
        let current: Vec<f64> = W_FC
            .iter()
            .map(|row| row.iter().zip(u).map(|(w, x)| w * x).sum())
            .collect();
        let mut spikes: Vec<[f64; 4]> = Vec::new();
        let mut v = [0.0; 4];
        let mut acc = B_OUT.map(|b| b * T as f64);
        for t in 0..T {
            let mut s = [0.0; 4];
            for i in 0..4 {
                let mut input = current[i];
                for &(d, f) in feedback {
                    if t >= d as usize {
                        input += f * spikes[t - d as usize][i];
                    }
                }
                let (h, si, vi) = ref_step(&p, 0.5, v[i], input);
                assert!(
                    (h - 1.0).abs() > 1e-3,
                    "test data too close to the threshold: h = {h}"
                );
                s[i] = si;
                v[i] = vi;
            }
            spikes.push(s);
            counts[t] += s.iter().sum::<f64>();
            if t >= readout_delay {
                for (o, row) in W_OUT.iter().enumerate() {
                    acc[o] += row
                        .iter()
                        .zip(&spikes[t - readout_delay])
                        .map(|(w, s)| w * s)
                        .sum::<f64>();
                }
            }
        }
        logits.push(acc.iter().map(|a| a / T as f64).collect());
    }
    (logits, counts)
}

fn check_delays(feedback: &[(u32, f64)], readout_delay: u32, want_counts: &[f64]) {
    let m = model(&delay_net(feedback, readout_delay));
    let flat = |rows: &[[f64; 4]]| {
        rows.iter()
            .flatten()
            .map(|&v| v as f32)
            .collect::<Vec<f32>>()
    };
    set(
        &m,
        "fc.weight",
        &W_FC
            .iter()
            .flatten()
            .map(|&v| v as f32)
            .collect::<Vec<f32>>(),
    );
    set(&m, "out.weight", &flat(&W_OUT));
    set(&m, "out.bias", &B_OUT.map(|v| v as f32));
    let x: Vec<f32> = U.iter().flatten().map(|&v| v as f32).collect();
    let out = m
        .forward(&tensor(&x, &[2, 3]), false, &mut Rng::new(0), true)
        .unwrap();
    let (logits, counts) = unrolled(feedback, readout_delay as usize);
    assert_eq!(
        counts, want_counts,
        "the f64 reference itself ({feedback:?})"
    );
    let n_id = m.net.id("n").unwrap();
    assert_eq!(out.spikes.len(), 1);
    assert_eq!(out.spikes[0].0, n_id);
    assert_eq!(
        out.spikes[0].1, counts,
        "spikes per timestep, feedback {feedback:?}"
    );
    let want: Vec<f64> = logits.into_iter().flatten().collect();
    assert_all_close(
        &values(&out.readout),
        &want,
        1e-5,
        &format!("logits, feedback {feedback:?} readout delay {readout_delay}"),
    );
}

#[test]
fn feedback_with_delay_one() {
    // Inhibitory feedback; a neuron fires at t = 0, so the first delivery already matters.
    check_delays(&[(1, -0.5)], 0, &[1., 3., 1., 3., 1., 3., 1., 3.]);
    check_delays(&[(1, -0.5)], 1, &[1., 3., 1., 3., 1., 3., 1., 3.]);
}

#[test]
fn feedback_with_delay_two() {
    check_delays(&[(2, -0.5)], 0, &[1., 4., 0., 3., 2., 2., 1., 4.]);
    check_delays(&[(2, -0.5)], 2, &[1., 4., 0., 3., 2., 2., 1., 4.]);
}

#[test]
fn feedback_with_delays_one_and_two_together() {
    check_delays(
        &[(1, -0.5), (2, -0.25)],
        0,
        &[1., 3., 1., 2., 2., 2., 1., 3.],
    );
    check_delays(
        &[(1, -0.5), (2, -0.25)],
        1,
        &[1., 3., 1., 2., 2., 2., 1., 3.],
    );
    // Without feedback the same input gives yet another pattern: the delays above all matter.
    check_delays(&[], 1, &[1., 4., 1., 4., 1., 4., 1., 4.]);
}

#[test]
fn readout_kind_spike_count_sums_over_time() {
    // The same network read as spike_count: the readout is T times the time_mean one.
    let mean_json = delay_net(&[(1, -0.5)], 1);
    let count_json = mean_json.replace(r#""kind": "time_mean""#, r#""kind": "spike_count""#);
    assert_ne!(mean_json, count_json);
    let x: Vec<f32> = U.iter().flatten().map(|&v| v as f32).collect();
    let run = |json: &str| {
        let m = model(json);
        set(
            &m,
            "fc.weight",
            &W_FC
                .iter()
                .flatten()
                .map(|&v| v as f32)
                .collect::<Vec<f32>>(),
        );
        set(
            &m,
            "out.weight",
            &W_OUT
                .iter()
                .flatten()
                .map(|&v| v as f32)
                .collect::<Vec<f32>>(),
        );
        set(&m, "out.bias", &B_OUT.map(|v| v as f32));
        values(
            &m.forward(&tensor(&x, &[2, 3]), false, &mut Rng::new(0), false)
                .unwrap()
                .readout,
        )
    };
    let mean = run(&mean_json);
    let count = run(&count_json);
    let want: Vec<f64> = mean.iter().map(|&v| v as f64 * T as f64).collect();
    assert_all_close(&count, &want, 1e-4, "spike_count = T * time_mean");
}
