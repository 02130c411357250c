//! `snnc bench`: timed measurements of the pipeline's stages (the training step for now).

use anyhow::bail;
use clap::{Args, Subcommand};
use snnc_compiler::network::NetworkDesc;
use snnc_datasets::transform::Rng;
use snnc_search::init::InitScheme;
use snnc_search::model::{ConvImpl, SnnModel};
use snnc_search::optim::{Optimizer, OptimizerKind};
use snnc_search::train::{LossKind, loss_and_correct};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchKind,
}

#[derive(Subcommand, Debug)]
pub enum BenchKind {
    /// One BPTT training step (forward, backward, AdamW) of the toolchain-notes §2 network:
    /// conv 1->32 3x3, LIF, conv 32->64 3x3 stride 2, LIF, fc 12544->10, on Bernoulli spike input.
    TrainStep {
        #[arg(long, default_value_t = 64)]
        batch: usize,
        #[arg(long, default_value_t = 5)]
        timesteps: usize,
        /// Timed steps after 3 warm-up steps; the median is reported.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// fast (im2col + GEMM custom op) or candle (Candle's conv2d).
        #[arg(long, default_value = "fast")]
        conv: ConvImpl,
        /// Also time forward-only inference.
        #[arg(long)]
        inference: bool,
        #[arg(long)]
        json: bool,
    },
}

/// The benchmark network of toolchain-notes.md §2 in the graph format. LIF: beta 0.9
/// (tau 10, no input decay), threshold 1, subtract reset with a detached spike.
pub fn bench_network(timesteps: usize) -> NetworkDesc {
    let lif = r#""op": "lif", "tau": 10.0, "decay_input": false, "reset": "subtract""#;
    let text = format!(
        r#"{{"format_version": 1, "name": "bench-conv-snn", "timesteps": {timesteps}, "num_classes": 10,
        "input": {{"shape": [1, 28, 28], "encoding": "event_frames"}},
        "readout": {{"node": "fc", "kind": "time_mean"}},
        "nodes": [
          {{"name": "x", "op": "input"}},
          {{"name": "conv1", "op": "conv2d", "in_channels": 1, "out_channels": 32, "kernel": 3, "padding": 1}},
          {{"name": "lif1", {lif}}},
          {{"name": "conv2", "op": "conv2d", "in_channels": 32, "out_channels": 64, "kernel": 3, "stride": 2, "padding": 1}},
          {{"name": "lif2", {lif}}},
          {{"name": "flat", "op": "flatten"}},
          {{"name": "fc", "op": "linear", "in_features": 12544, "out_features": 10, "bias": true}}],
        "edges": [{{"from": "x", "to": "conv1"}}, {{"from": "conv1", "to": "lif1"}}, {{"from": "lif1", "to": "conv2"}},
                  {{"from": "conv2", "to": "lif2"}}, {{"from": "lif2", "to": "flat"}}, {{"from": "flat", "to": "fc"}}]}}"#
    );
    serde_json::from_str(&text).expect("the benchmark network is well-formed")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    match a.what {
        BenchKind::TrainStep {
            batch,
            timesteps,
            steps,
            conv,
            inference,
            json,
        } => {
            if steps == 0 || batch == 0 {
                bail!("--steps and --batch must be at least 1");
            }
            let net = bench_network(timesteps).validate()?;
            let mut model =
                SnnModel::new(net, InitScheme::Pytorch, 7, &crate::cli::compute_device())?;
            model.conv_impl = conv;
            let mut rng = Rng::new(11);
            let n = batch * timesteps * 28 * 28;
            let spikes: Vec<f32> = (0..n)
                .map(|_| if rng.next_f32() < 0.2 { 1.0 } else { 0.0 })
                .collect();
            let x = snnc_search::candle_core::Tensor::from_vec(
                spikes,
                (batch, timesteps, 1, 28, 28),
                model.device(),
            )?;
            let labels: Vec<u8> = (0..batch).map(|i| (i % 10) as u8).collect();
            let mut opt = Optimizer::new(OptimizerKind::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
            });
            let mut times = Vec::new();
            for i in 0..steps + 3 {
                let start = Instant::now();
                let out = model.forward(&x, true, &mut rng, false)?;
                let (loss, _) =
                    loss_and_correct(&out.readout, &labels, LossKind::CrossEntropy, timesteps)?;
                let grads = loss.backward()?;
                opt.step(&model.params, &grads, 1e-3)?;
                if i >= 3 {
                    times.push(start.elapsed().as_secs_f64() * 1e3);
                }
            }
            let mut infer = Vec::new();
            for (b, reps) in [(1usize, 30usize), (batch, 5)] {
                if !inference {
                    break;
                }
                let xb = x.narrow(0, 0, b)?;
                let mut t = Vec::new();
                for i in 0..reps + 2 {
                    let start = Instant::now();
                    let out = model.forward(&xb, false, &mut rng, false)?;
                    out.readout.to_vec2::<f32>()?;
                    if i >= 2 {
                        t.push(start.elapsed().as_secs_f64() * 1e3);
                    }
                }
                infer.push((b, median(t)));
            }
            let step_ms = median(times.clone());
            if json {
                let inf: Vec<_> = infer
                    .iter()
                    .map(|(b, ms)| serde_json::json!({"batch": b, "ms": ms}))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"bench": "train_step", "impl": format!("snnc-{conv:?}").to_lowercase(), "batch": batch,
                        "timesteps": timesteps, "median_ms": step_ms, "all_ms": times, "inference": inf})
                );
            } else {
                println!(
                    "train step (B={batch}, T={timesteps}, conv {conv:?}): median {step_ms:.1} ms over {steps} steps"
                );
                for (b, ms) in infer {
                    println!("inference (B={b}, T={timesteps}): median {ms:.2} ms");
                }
            }
            Ok(())
        }
    }
}
