//! The AutoSNN search space (autosnn.md §2.3, §5): the uniform sampler, mutation and crossover
//! the evolution draws with. The encodings (index, ids, 8-slot vector, JSON) live with the
//! architecture in `snnc_compiler::arch::autosnn`.

pub use crate::arch::autosnn::{POOL_SLOTS, POSITIONS, SPACE_SIZE};

use crate::arch::autosnn::{AutoSnnArch, Block};
use snnc_datasets::transform::Rng;

/// One architecture drawn uniformly from the whole space (the supernet's path sampler, §3).
pub fn sample_uniform(rng: &mut Rng) -> AutoSnnArch {
    AutoSnnArch::from_index(rng.below(SPACE_SIZE)).expect("below SPACE_SIZE")
}

/// Each gene, with probability `prob`, replaced by one of the other four blocks (§5).
pub fn mutate(parent: &AutoSnnArch, prob: f64, rng: &mut Rng) -> AutoSnnArch {
    let mut child = *parent;
    for gene in child.0.iter_mut() {
        if (rng.next_f32() as f64) < prob {
            let others: Vec<Block> = Block::ALL.into_iter().filter(|b| b != gene).collect();
            *gene = others[rng.below(others.len())];
        }
    }
    child
}

/// One-point crossover on the 8-slot vector: a cut `c` in 1..=7, slots `[0, c)` from `a` and
/// `[c, 8)` from `b` (§5). Max-pool slots are -1 in both parents, so the child is always valid.
pub fn crossover(a: &AutoSnnArch, b: &AutoSnnArch, rng: &mut Rng) -> AutoSnnArch {
    let cut = 1 + rng.below(7);
    let (va, vb) = (a.slots(), b.slots());
    let mut child = vb;
    child[..cut].copy_from_slice(&va[..cut]);
    AutoSnnArch::from_slots(&child).expect("pool slots agree in both parents")
}
