//! Deterministic synthetic weights and inputs (and random modules) for fixtures and benches.
//!
//! Not a trainer: it gives every test, snapshot and benchmark the same parameters from a seed,
//! scaled so that random networks actually spike, so the golden fixtures need no committed binary
//! weights. The fixtures' networks themselves come from the product builders in [`crate::arch`].

mod random;

pub use random::{random_inputs, random_module};

use crate::network::Network;
pub use crate::placeholder::Rng;

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
