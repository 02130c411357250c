//! The AutoSNN search space (autosnn.md §2.3, §5): the 5^5 architectures as index, ids, 8-slot
//! vector and JSON, and the uniform sampler, mutation and crossover the evolution draws with.

use crate::arch::autosnn::{AutoSnnArch, Block};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use snnc_datasets::transform::Rng;

/// Searchable positions P0..P4.
pub const POSITIONS: usize = 5;
/// 5 choices at 5 positions.
pub const SPACE_SIZE: usize = 3125;
/// Slots of the official 8-entry vector that hold the fixed max-pools (encoded -1).
pub const POOL_SLOTS: [usize; 3] = [1, 4, 7];
/// The 8-slot position of each searchable gene.
const GENE_SLOTS: [usize; POSITIONS] = [0, 2, 3, 5, 6];

impl AutoSnnArch {
    /// Position in the space, P0 the most significant base-5 digit (so `44034` reads as written).
    pub fn index(&self) -> usize {
        self.0
            .iter()
            .fold(0, |acc, b| acc * Block::ALL.len() + b.id() as usize)
    }

    pub fn from_index(index: usize) -> Option<AutoSnnArch> {
        if index >= SPACE_SIZE {
            return None;
        }
        let mut blocks = [Block::Skip; POSITIONS];
        let mut rest = index;
        for slot in blocks.iter_mut().rev() {
            *slot = Block::ALL[rest % Block::ALL.len()];
            rest /= Block::ALL.len();
        }
        Some(AutoSnnArch(blocks))
    }

    /// The five block ids as digits, e.g. `44034`.
    pub fn ids(&self) -> String {
        self.0.iter().map(|b| char::from(b'0' + b.id())).collect()
    }

    /// The official 8-entry vector (autosnn.md §2.3): block ids with -1 at the max-pool slots.
    pub fn slots(&self) -> [i8; 8] {
        let mut v = [-1i8; 8];
        for (gene, &slot) in GENE_SLOTS.iter().enumerate() {
            v[slot] = self.0[gene].id() as i8;
        }
        v
    }

    pub fn from_slots(v: &[i8; 8]) -> Result<AutoSnnArch, String> {
        for &p in &POOL_SLOTS {
            if v[p] != -1 {
                return Err(format!("slot {p} is a fixed max-pool (-1), got {}", v[p]));
            }
        }
        let mut blocks = [Block::Skip; POSITIONS];
        for (gene, &slot) in GENE_SLOTS.iter().enumerate() {
            blocks[gene] = *usize::try_from(v[slot])
                .ok()
                .and_then(|i| Block::ALL.get(i))
                .ok_or_else(|| format!("slot {slot} holds {}, not a block id 0-4", v[slot]))?;
        }
        Ok(AutoSnnArch(blocks))
    }
}

/// JSON form: the five block names in position order.
impl Serialize for AutoSnnArch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for AutoSnnArch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names.join(",").parse().map_err(serde::de::Error::custom)
    }
}

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
