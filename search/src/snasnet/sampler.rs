//! The official SNASNet cell sampler (snasnet.md §2.6): random draw, path-count pruning, acceptance.

#![allow(clippy::needless_range_loop)] // 4x4 matrix code reads best with indices
use crate::arch::snasnet::CellGenotype;
use crate::error::SearchError;
use snnc_datasets::transform::Rng;

/// Number of op codes an edge draws from (zero, skip, conv1x1, conv3x3, avgpool).
const NUM_OPS: usize = 5;

/// Which cells the sampler draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellMode {
    /// Strict upper triangle only (feed-forward cells).
    Forward,
    /// Every node pair gets one direction at random (temporal feedback cells).
    Backward,
}

impl std::str::FromStr for CellMode {
    type Err = SearchError;
    fn from_str(s: &str) -> Result<Self, SearchError> {
        match s {
            "forward" => Ok(CellMode::Forward),
            "backward" => Ok(CellMode::Backward),
            _ => Err(SearchError::UnknownName {
                what: "cell type",
                given: s.to_string(),
                choices: "forward or backward",
            }),
        }
    }
}

impl std::fmt::Display for CellMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CellMode::Forward => "forward",
            CellMode::Backward => "backward",
        })
    }
}

/// One raw draw of the 4x4 `cnt_mat`, before pruning.
pub fn draw_raw(mode: CellMode, rng: &mut Rng) -> [[u8; 4]; 4] {
    let mut m = [[0u8; 4]; 4];
    match mode {
        CellMode::Forward => {
            for i in 0..4 {
                for j in i + 1..4 {
                    m[i][j] = rng.below(NUM_OPS) as u8;
                }
            }
        }
        CellMode::Backward => {
            let mut upper = [[0u8; 4]; 4];
            let mut lower = [[0u8; 4]; 4];
            for i in 0..4 {
                for j in i + 1..4 {
                    upper[i][j] = rng.below(NUM_OPS) as u8;
                }
            }
            for i in 0..4 {
                for j in i + 1..4 {
                    lower[j][i] = rng.below(NUM_OPS) as u8;
                }
            }
            for i in 0..4 {
                for j in i + 1..4 {
                    if rng.below(2) == 1 {
                        m[i][j] = upper[i][j];
                    } else {
                        m[j][i] = lower[j][i];
                    }
                }
            }
        }
    }
    m
}

fn matmul(a: &[[u64; 4]; 4], b: &[[u64; 4]; 4]) -> [[u64; 4]; 4] {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..4).map(|k| a[i][k] * b[k][j]).sum()))
}

/// The path-count matrix G = M + M² + M³ + M⁴ (entries are op codes, so G counts weighted paths).
pub fn path_counts(m: &[[u8; 4]; 4]) -> [[u64; 4]; 4] {
    let base: [[u64; 4]; 4] = std::array::from_fn(|i| std::array::from_fn(|j| m[i][j] as u64));
    let mut power = base;
    let mut g = base;
    for _ in 1..4 {
        power = matmul(&power, &base);
        for i in 0..4 {
            for j in 0..4 {
                g[i][j] += power[i][j];
            }
        }
    }
    g
}

/// The official pruning: with G from the unpruned M, zero row and column n of nodes 0-2 with no
/// path to node 3, then of nodes 1-3 not reachable from node 0.
pub fn prune_official(m: &[[u8; 4]; 4]) -> [[u8; 4]; 4] {
    let g = path_counts(m);
    let mut out = *m;
    let kill = |out: &mut [[u8; 4]; 4], n: usize| {
        out[n] = [0; 4];
        for row in out.iter_mut() {
            row[n] = 0;
        }
    };
    for n in 0..3 {
        if g[n][3] == 0 {
            kill(&mut out, n);
        }
    }
    for n in 1..4 {
        if g[0][n] == 0 {
            kill(&mut out, n);
        }
    }
    out
}

/// The outcome of one sampler attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub raw: [[u8; 4]; 4],
    pub pruned: [[u8; 4]; 4],
    /// True iff the pruned `M[0][3] != 0`.
    pub accepted: bool,
}

/// One draw, pruned, with the acceptance decision.
pub fn attempt(mode: CellMode, rng: &mut Rng) -> Attempt {
    let raw = draw_raw(mode, rng);
    let pruned = prune_official(&raw);
    Attempt {
        raw,
        pruned,
        accepted: pruned[0][3] != 0,
    }
}

/// Draw until a cell is accepted; returns the pruned genotype and the number of draws it took.
pub fn sample(mode: CellMode, rng: &mut Rng) -> (CellGenotype, usize) {
    let mut draws = 0;
    loop {
        draws += 1;
        let a = attempt(mode, rng);
        if a.accepted {
            return (CellGenotype { m: a.pruned }, draws);
        }
    }
}
