//! Deterministic synthetic weights, inputs and seed-architecture networks for fixtures and benches.
//!
//! Not a trainer and not the searches' exporter: it gives every test, snapshot and benchmark the
//! same parameters from a seed, scaled so that random networks actually spike, so the golden
//! fixtures need no committed binary weights.

mod builders;
mod random;

pub use builders::{AutoSnnBlock, AutoSnnConfig, SnasnetConfig, autosnn, parse_cell, snasnet};
pub use random::{random_inputs, random_module};

use crate::network::Network;

/// SplitMix64: tiny, fast and fully specified, so values never change across platforms.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
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

/// Parameters for every tensor a network needs, drawn from a seed: the placeholder weights the
/// CLI compiles an architecture with, so fixtures and `--synthetic-weights` agree.
pub use crate::placeholder::weights;

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
