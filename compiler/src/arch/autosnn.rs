//! AutoSNN (Na et al., ICML 2022): the macro backbone with five searchable block positions
//! (autosnn.md §2) as a graph (SCB/SRB blocks, residual adds, max-pool downsampling, PLIF,
//! voting), and the encodings of an architecture: names, ids, space index, 8-slot vector, JSON.

use super::{ArchError, GraphBuilder, InputGeometry, bn, conv, neuron, pool};
use crate::network::{Empty, Linear, NetworkDesc, Op, ReadoutKind, Vote};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use thiserror::Error;

/// Searchable positions P0..P4.
pub const POSITIONS: usize = 5;
/// 5 choices at 5 positions.
pub const SPACE_SIZE: usize = 3125;
/// Slots of the official 8-entry vector that hold the fixed max-pools (encoded -1).
pub const POOL_SLOTS: [usize; 3] = [1, 4, 7];
/// The 8-slot position of each searchable gene.
const GENE_SLOTS: [usize; POSITIONS] = [0, 2, 3, 5, 6];

/// Why a block list (text or 8-slot vector) was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BlockListError {
    #[error("an AutoSNN architecture has 5 blocks, `{text}` has {found}")]
    Count { text: String, found: usize },
    #[error("unknown block `{block}`: use skip_connect, SCB_k3, SCB_k5, SRB_k3, SRB_k5 or ids 0-4")]
    UnknownBlock { block: String },
    #[error("slot {slot} is a fixed max-pool (-1), got {found}")]
    PoolSlot { slot: usize, found: i8 },
    #[error("slot {slot} holds {found}, not a block id 0-4")]
    BlockSlot { slot: usize, found: i8 },
}

/// The candidate blocks, in the official id order (autosnn.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Block {
    Skip,
    Scb3,
    Scb5,
    Srb3,
    Srb5,
}

impl Block {
    pub const ALL: [Block; 5] = [
        Block::Skip,
        Block::Scb3,
        Block::Scb5,
        Block::Srb3,
        Block::Srb5,
    ];

    pub fn id(self) -> u8 {
        Block::ALL.iter().position(|&b| b == self).expect("listed") as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Block::Skip => "skip_connect",
            Block::Scb3 => "SCB_k3",
            Block::Scb5 => "SCB_k5",
            Block::Srb3 => "SRB_k3",
            Block::Srb5 => "SRB_k5",
        }
    }
}

/// One block per searchable position P0..P4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AutoSnnArch(pub [Block; 5]);

impl AutoSnnArch {
    /// The architecture the paper found on CIFAR-10 (autosnn.md §7.1).
    pub fn paper_final() -> Self {
        AutoSnnArch([
            Block::Srb5,
            Block::Srb5,
            Block::Skip,
            Block::Srb3,
            Block::Srb5,
        ])
    }
}

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

    pub fn from_slots(v: &[i8; 8]) -> Result<AutoSnnArch, BlockListError> {
        for &slot in &POOL_SLOTS {
            if v[slot] != -1 {
                return Err(BlockListError::PoolSlot {
                    slot,
                    found: v[slot],
                });
            }
        }
        let mut blocks = [Block::Skip; POSITIONS];
        for (gene, &slot) in GENE_SLOTS.iter().enumerate() {
            blocks[gene] = *usize::try_from(v[slot])
                .ok()
                .and_then(|i| Block::ALL.get(i))
                .ok_or(BlockListError::BlockSlot {
                    slot,
                    found: v[slot],
                })?;
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

impl fmt::Display for AutoSnnArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|b| b.name()).collect();
        write!(f, "{}", names.join(","))
    }
}

impl std::str::FromStr for AutoSnnArch {
    type Err = BlockListError;
    /// Parse five comma-separated block names (`SRB_k3,SRB_k3,skip_connect,SRB_k5,SRB_k3`) or ids (`33043`).
    fn from_str(s: &str) -> Result<Self, BlockListError> {
        let parts: Vec<String> = if s.contains(',') {
            s.split(',').map(|p| p.trim().to_string()).collect()
        } else {
            s.chars().map(|c| c.to_string()).collect()
        };
        if parts.len() != 5 {
            return Err(BlockListError::Count {
                text: s.to_string(),
                found: parts.len(),
            });
        }
        let mut out = [Block::Skip; 5];
        for (slot, p) in out.iter_mut().zip(&parts) {
            *slot = Block::ALL
                .iter()
                .copied()
                .find(|b| b.name().eq_ignore_ascii_case(p) || b.id().to_string() == *p)
                .ok_or_else(|| BlockListError::UnknownBlock { block: p.clone() })?;
        }
        Ok(AutoSnnArch(out))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoSnnConfig {
    pub input: InputGeometry,
    /// Channel count C of the first stage (16 in the search).
    pub width: usize,
    /// Output neurons per class (10 in the paper).
    pub vote_group: usize,
    /// Initial PLIF time constant.
    pub tau0: f64,
    pub timesteps: usize,
    /// Name block nodes after their block too (`p1.SRB_k5.conv1`), so that the networks of all
    /// architectures can draw their parameters from one supernet store without collisions.
    pub supernet_names: bool,
}

impl AutoSnnConfig {
    pub fn new(input: InputGeometry, width: usize) -> Self {
        AutoSnnConfig {
            input,
            width,
            vote_group: 10,
            tau0: 2.0,
            timesteps: 8,
            supernet_names: false,
        }
    }
}

fn plif(cfg: &AutoSnnConfig) -> Op {
    Op::Plif(neuron(cfg.tau0))
}

/// Add block `b` at position `pos` from `cin` to `cout` channels; returns its output node.
fn add_block(
    g: &mut GraphBuilder,
    cfg: &AutoSnnConfig,
    pos: usize,
    b: Block,
    from: &str,
    cin: usize,
    cout: usize,
) -> String {
    let p = if cfg.supernet_names {
        format!("p{pos}.{}", b.name())
    } else {
        format!("p{pos}")
    };
    match b {
        Block::Skip if cin == cout => from.to_string(),
        Block::Skip => {
            let x = g.chain(from, format!("{p}.conv"), conv(cin, cout, 1, 1));
            let x = g.chain(&x, format!("{p}.bn"), bn());
            g.chain(&x, format!("{p}.plif"), plif(cfg))
        }
        Block::Scb3 | Block::Scb5 | Block::Srb3 | Block::Srb5 => {
            let k = if matches!(b, Block::Scb3 | Block::Srb3) {
                3
            } else {
                5
            };
            let x = g.chain(from, format!("{p}.conv1"), conv(cin, cout, k, 1));
            let x = g.chain(&x, format!("{p}.bn1"), bn());
            let x = g.chain(&x, format!("{p}.plif1"), plif(cfg));
            let x = g.chain(&x, format!("{p}.conv2"), conv(cout, cout, k, 1));
            let x = g.chain(&x, format!("{p}.bn2"), bn());
            let out = g.chain(&x, format!("{p}.plif2"), plif(cfg));
            if matches!(b, Block::Srb3 | Block::Srb5) {
                // The shortcut joins the second neuron's input: PLIF(bn2 + shortcut).
                let short = if cin == cout {
                    from.to_string()
                } else {
                    let s = g.chain(from, format!("{p}.short.conv"), conv(cin, cout, 1, 1));
                    g.chain(&s, format!("{p}.short.bn"), bn())
                };
                g.edge(&short, &out, 0);
            }
            out
        }
    }
}

/// The AutoSNN network for `arch` (autosnn.md §2.1): stem, P0, pool, P1, P2, pool, P3, P4, pool, FC.
pub fn autosnn_network(arch: &AutoSnnArch, cfg: &AutoSnnConfig) -> Result<NetworkDesc, ArchError> {
    if cfg.width == 0 || cfg.timesteps == 0 {
        return Err(ArchError::Zero {
            what: "width and timesteps",
        });
    }
    if !cfg.input.side.is_multiple_of(8) {
        return Err(ArchError::SideNotMultipleOf8 {
            side: cfg.input.side,
        });
    }
    let c = cfg.width;
    let mut g = GraphBuilder::new();
    let x = g.chain("input", "stem.conv", conv(cfg.input.channels, c, 3, 1));
    let x = g.chain(&x, "stem.bn", bn());
    let mut x = g.chain(&x, "stem.plif", plif(cfg));
    let stages = [
        (0, c, c),
        (1, c, 2 * c),
        (2, 2 * c, 2 * c),
        (3, 2 * c, 4 * c),
        (4, 4 * c, 4 * c),
    ];
    for (pos, cin, cout) in stages {
        x = add_block(&mut g, cfg, pos, arch.0[pos], &x, cin, cout);
        if pos == 0 || pos == 2 || pos == 4 {
            let stage = [0, 0, 1, 1, 2][pos];
            x = g.chain(&x, format!("pool{stage}"), Op::MaxPool(pool(2, 2, 0)));
        }
    }
    let x = g.chain(&x, "flatten", Op::Flatten(Empty {}));
    let side = cfg.input.side / 8;
    let outputs = cfg.input.num_classes * cfg.vote_group;
    let x = g.chain(
        &x,
        "fc",
        Op::Linear(Linear {
            in_features: 4 * c * side * side,
            out_features: outputs,
            bias: false,
        }),
    );
    let x = g.chain(&x, "fc.plif", plif(cfg));
    let vote = g.chain(
        &x,
        "vote",
        Op::Vote(Vote {
            group: cfg.vote_group,
        }),
    );
    let meta = serde_json::json!({
        "architecture": "autosnn",
        "blocks": arch.to_string(),
        "width": c,
        "init": "pytorch",
    });
    Ok(g.finish(
        &format!(
            "autosnn-{}",
            arch.0
                .iter()
                .map(|b| b.id().to_string())
                .collect::<String>()
        ),
        cfg.input,
        cfg.timesteps,
        &vote,
        ReadoutKind::SpikeCount,
        meta,
    ))
}
