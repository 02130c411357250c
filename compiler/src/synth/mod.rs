//! Deterministic synthetic weights and inputs (and random modules) for fixtures and benches.
//!
//! Not a trainer: it gives every test, snapshot and benchmark the same parameters from a seed,
//! scaled so that random networks actually spike, so the golden fixtures need no committed binary
//! weights. The fixtures' networks themselves come from the product builders in [`crate::arch`].

mod random;

pub use random::{random_inputs, random_module};

use crate::network::{Network, Op, ParamRole, Tensor, Weights};
use snnc_datasets::transform::SplitMix64;

/// The fixtures' draws on a SplitMix64 stream (`snnc_datasets::transform::SplitMix64`, the one
/// implementation), so values never change across platforms.
#[derive(Debug, Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f32 {
        (lo + (hi - lo) * self.unit()) as f32
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
}

/// Parameters for every tensor `net` needs, drawn from `seed`.
///
/// Convs and linears: uniform with variance `gain^2 / fan_in` (gain 2.5, so LIFs behind them
/// fire at a useful rate); BN: gamma in [0.6, 1.6], beta in [-0.2, 0.4], running mean in
/// [-0.1, 0.1], running var in [0.5, 1.5]; biases in [-0.2, 0.3]; PLIF `w` in [-1.5, 1.5], so the
/// trained leak is never the initial 0.5 and a swap of beta and gain shows.
pub fn weights(net: &Network, seed: u64) -> Weights {
    let mut rng = Rng::new(seed);
    let mut w = Weights::default();
    for (id, node) in net.desc.nodes.iter().enumerate() {
        for (role, shape) in net.param_shapes(id) {
            let n: usize = shape.iter().product();
            let fan_in = if shape.len() > 1 {
                shape[1..].iter().product::<usize>()
            } else {
                1
            };
            let (lo, hi) = match (&node.op, role) {
                (Op::Conv2d(_) | Op::Linear(_), ParamRole::Weight) => {
                    let b = 2.5 * (3.0 / fan_in as f64).sqrt();
                    (-b, b)
                }
                (Op::BatchNorm(_), ParamRole::Weight) => (0.6, 1.6),
                (Op::BatchNorm(_), ParamRole::Bias) => (-0.2, 0.4),
                (_, ParamRole::RunningMean) => (-0.1, 0.1),
                (_, ParamRole::RunningVar) => (0.5, 1.5),
                (_, ParamRole::W) => (-1.5, 1.5),
                _ => (-0.2, 0.3),
            };
            let data = (0..n).map(|_| rng.uniform(lo, hi)).collect();
            w.tensors
                .insert(node.tensor_name(role), Tensor::new(shape, data));
        }
    }
    w
}

/// A batch of `samples` inputs for `net`: direct frames uniform in [-1, 2]; event frames as
/// sparse counts (about 20% of pixels with 1 or 2 events per step).
pub fn inputs(net: &Network, samples: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed ^ 0xA5A5_5A5A);
    let numel = net.shapes[net.input_node].numel();
    let events = net.desc.input.encoding == crate::network::Encoding::EventFrames;
    (0..samples)
        .map(|_| {
            if events {
                (0..numel * net.desc.timesteps)
                    .map(|_| {
                        if rng.unit() < 0.2 {
                            1.0 + rng.below(2) as f32
                        } else {
                            0.0
                        }
                    })
                    .collect()
            } else {
                (0..numel).map(|_| rng.uniform(-1.0, 2.0)).collect()
            }
        })
        .collect()
}
