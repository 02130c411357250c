//! ConvImpl::Fast against ConvImpl::Candle on a whole conv SNN: logits, spike counts and the
//! gradient of the loss for every trainable parameter.

use crate::common::*;
use candle_core::Tensor;
use snnc_datasets::transform::Rng;
use snnc_search::device::ComputeDevice;
use snnc_search::init::InitScheme;
use snnc_search::model::{ConvImpl, ForwardOutput, SnnModel};
use snnc_search::train::{LossKind, loss_and_correct};

/// Stem conv (bias) -> BN -> LIF -> max-pool 3/1/1 -> grouped stride-2 conv with asymmetric
/// padding -> PLIF -> avg-pool -> grouped pointwise conv -> BN -> LIF -> flatten -> linear.
const NET: &str = r#"{
  "format_version": 1, "name": "conv-diff", "timesteps": 3, "num_classes": 10,
  "input": { "shape": [2, 9, 9], "encoding": "direct" },
  "readout": { "node": "fc", "kind": "time_mean" },
  "nodes": [
    { "name": "x", "op": "input" },
    { "name": "c1", "op": "conv2d", "in_channels": 2, "out_channels": 4, "kernel": 3, "padding": 1, "bias": true },
    { "name": "bn1", "op": "batch_norm" },
    { "name": "n1", "op": "lif", "tau": 1.3333333333333333 },
    { "name": "mp", "op": "max_pool", "kernel": 3, "stride": 1, "padding": 1 },
    { "name": "c2", "op": "conv2d", "in_channels": 4, "out_channels": 8, "kernel": 3, "stride": 2, "padding": [1, 0], "groups": 2 },
    { "name": "n2", "op": "plif", "tau": 2.0 },
    { "name": "ap", "op": "avg_pool", "kernel": 2 },
    { "name": "c3", "op": "conv2d", "in_channels": 8, "out_channels": 8, "kernel": 1, "groups": 4 },
    { "name": "bn3", "op": "batch_norm" },
    { "name": "n3", "op": "lif", "tau": 2.0 },
    { "name": "flat", "op": "flatten" },
    { "name": "fc", "op": "linear", "in_features": 32, "out_features": 10, "bias": true }
  ],
  "edges": [
    { "from": "x", "to": "c1" }, { "from": "c1", "to": "bn1" }, { "from": "bn1", "to": "n1" },
    { "from": "n1", "to": "mp" }, { "from": "mp", "to": "c2" }, { "from": "c2", "to": "n2" },
    { "from": "n2", "to": "ap" }, { "from": "ap", "to": "c3" }, { "from": "c3", "to": "bn3" },
    { "from": "bn3", "to": "n3" }, { "from": "n3", "to": "flat" }, { "from": "flat", "to": "fc" }
  ]
}"#;

fn build(conv: ConvImpl) -> SnnModel {
    let mut m = SnnModel::new(
        network(NET),
        InitScheme::Snasnet,
        2024,
        &ComputeDevice::cpu(),
    )
    .expect("model");
    m.conv_impl = conv;
    // Larger conv weights so every spiking layer is active on the random input.
    for name in ["c2.weight", "c3.weight"] {
        let v = m.params.get(name).unwrap();
        v.set(&v.as_tensor().affine(4.0, 0.0).unwrap()).unwrap();
    }
    m
}

fn input() -> Tensor {
    rand_tensor(7, &[4, 2, 9, 9], -1.0, 2.0)
}

fn spike_counts(out: &ForwardOutput) -> Vec<Vec<f64>> {
    out.spikes.iter().map(|(_, c)| c.clone()).collect()
}

#[test]
fn fast_and_candle_convolutions_agree_on_the_model() {
    let fast = build(ConvImpl::Fast);
    let candle = build(ConvImpl::Candle);
    // Identical initial parameters from the same seed.
    for (name, v) in fast.params.trainable() {
        assert_eq!(
            values(v.as_tensor()),
            values(candle.params.get(name).unwrap().as_tensor()),
            "{name}"
        );
    }
    let x = input();
    let labels = [3u8, 1, 4, 1];
    let mut grads = Vec::new();
    let mut outs = Vec::new();
    for m in [&fast, &candle] {
        let out = m.forward(&x, true, &mut Rng::new(1), true).unwrap();
        let (loss, _) =
            loss_and_correct(&out.readout, &labels, LossKind::CrossEntropy, m.timesteps()).unwrap();
        grads.push(loss.backward().unwrap());
        outs.push(out);
    }
    let (a, b) = (&outs[0], &outs[1]);
    assert_eq!(a.readout.dims(), &[4, 10]);
    let (ra, rb) = (values(&a.readout), values(&b.readout));
    assert!(
        max_abs_diff(&ra, &rb) <= 1e-4,
        "logits differ: {ra:?} vs {rb:?}"
    );
    assert_eq!(
        spike_counts(a),
        spike_counts(b),
        "spike counts per layer and timestep"
    );
    // Every spiking layer fires at some step, so the comparison covers all of them.
    for (id, counts) in &a.spikes {
        let name = &fast.net.node(*id).name;
        assert!(
            counts.iter().sum::<f64>() > 0.0,
            "layer {name} is silent: {counts:?}"
        );
    }

    let mut compared = 0;
    for (name, v) in fast.params.trainable() {
        let ga = values(
            grads[0]
                .get(v.as_tensor())
                .unwrap_or_else(|| panic!("fast: no gradient for {name}")),
        );
        let vb = candle.params.get(name).unwrap();
        let gb = values(
            grads[1]
                .get(vb.as_tensor())
                .unwrap_or_else(|| panic!("candle: no gradient for {name}")),
        );
        if name == "c1.bias" {
            // A conv bias in front of a train-mode BN is cancelled by the batch mean: its gradient
            // is zero up to rounding in both implementations.
            assert!(
                max_abs(&ga) < 1e-7 && max_abs(&gb) < 1e-7,
                "c1.bias gradients {ga:?} {gb:?}"
            );
        } else {
            assert_close_rel(&ga, &gb, 1e-4, &format!("gradient of {name}"));
        }
        compared += 1;
    }
    // c1 (weight, bias), bn1 (2), c2, n2.w, c3, bn3 (2), fc (2).
    assert_eq!(compared, 11);

    // Eval mode (BN from the running statistics both models just updated the same way).
    for name in [
        "bn1.running_mean",
        "bn1.running_var",
        "bn3.running_mean",
        "bn3.running_var",
    ] {
        let (p, q) = (
            values(fast.params.get(name).unwrap().as_tensor()),
            values(candle.params.get(name).unwrap().as_tensor()),
        );
        assert!(max_abs_diff(&p, &q) <= 1e-5, "{name}: {p:?} vs {q:?}");
    }
    let ea = fast.forward(&x, false, &mut Rng::new(1), true).unwrap();
    let eb = candle.forward(&x, false, &mut Rng::new(1), true).unwrap();
    assert!(
        max_abs_diff(&values(&ea.readout), &values(&eb.readout)) <= 1e-4,
        "eval logits differ"
    );
    assert_eq!(spike_counts(&ea), spike_counts(&eb), "eval spike counts");
}

#[test]
fn stem_input_gets_no_gradient_with_the_fast_conv() {
    // The stem conv reads the plain network input; only the weights get gradients.
    let m = build(ConvImpl::Fast);
    let x = input();
    let out = m.forward(&x, true, &mut Rng::new(1), false).unwrap();
    let g = out.readout.sum_all().unwrap().backward().unwrap();
    assert!(g.get(&x).is_none());
    assert!(
        g.get(m.params.get("c1.weight").unwrap().as_tensor())
            .is_some()
    );
}

#[test]
fn gradients_do_not_depend_on_the_thread_count() {
    // Every parameter's gradient, bit for bit, computed on rayon pools of 1, 2 and 3 threads: the
    // same seed must train the same network on any machine. 20 samples split differently across
    // those pools, which is what used to change the conv weight gradient's float sums.
    let x = rand_tensor(11, &[20, 2, 9, 9], -1.0, 2.0);
    let labels: Vec<u8> = (0..20).map(|i| (i * 7 % 10) as u8).collect();
    let run = |threads: usize| -> Vec<(String, Vec<u32>)> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let m = build(ConvImpl::Fast);
            let out = m.forward(&x, true, &mut Rng::new(1), false).unwrap();
            let (loss, _) =
                loss_and_correct(&out.readout, &labels, LossKind::CrossEntropy, m.timesteps())
                    .unwrap();
            let grads = loss.backward().unwrap();
            m.params
                .trainable()
                .map(|(name, v)| {
                    let g = values(grads.get(v.as_tensor()).expect("gradient"));
                    (name.to_string(), g.iter().map(|f| f.to_bits()).collect())
                })
                .collect()
        })
    };
    let one = run(1);
    assert_eq!(one.len(), 11);
    for threads in [2, 3] {
        for ((name, a), (_, b)) in one.iter().zip(run(threads)) {
            assert_eq!(a, &b, "gradient of {name} on {threads} threads");
        }
    }
}
