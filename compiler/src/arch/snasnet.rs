//! SNASNet (Kim et al., ECCV 2022): cell genotypes (`cnt_mat` text and JSON), validity pruning,
//! and the macro network of snasnet.md §3 as a graph with temporal feedback edges.

use super::{ArchError, GraphBuilder, InputGeometry, bn, bn_per_step, conv, neuron, pool};
use crate::network::{Dropout, Empty, Linear, NetworkDesc, Op, ReadoutKind, Scale, Vote};
use serde_json::{Value, json};
use std::fmt;
use thiserror::Error;

/// Why a text or JSON genotype was refused; the text variants quote the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GenotypeError {
    #[error("a cell genotype is four 4-digit rows such as `0302 0030 3003 0000`, got `{text}`")]
    Shape { text: String },
    #[error("`{text}`: op codes are 0-4 (zero, skip, conv1x1, conv3x3, avgpool), found `{found}`")]
    OpCode { text: String, found: char },
    #[error("`{text}`: the diagonal must be 0")]
    Diagonal { text: String },
    #[error("`{text}`: a node pair has edges in both directions")]
    BothDirections { text: String },
    #[error("a genotype is a `cnt_mat` string or an object with `cnt_mat` or `matrix`")]
    JsonKind,
    #[error("`cnt_mat` must be a string such as \"0302 0030 3003 0000\"")]
    CntMatNotText,
    #[error("`matrix` must be 4 rows of 4 op codes")]
    MatrixShape,
    #[error("`matrix` op codes are integers 0-4")]
    MatrixOpCode,
    #[error("`cnt_mat` ({text}) and `matrix` ({matrix}) disagree")]
    Disagree {
        text: CellGenotype,
        matrix: CellGenotype,
    },
    #[error("a genotype object needs `cnt_mat` or `matrix`")]
    Missing,
}

/// Operation codes of a cell edge (snasnet.md §2.2).
pub const OP_ZERO: u8 = 0;
pub const OP_SKIP: u8 = 1;
pub const OP_CONV1: u8 = 2;
pub const OP_CONV3: u8 = 3;
pub const OP_AVGPOOL: u8 = 4;

/// SpikingJelly's LIF time constant in SNASNet (leak factor 0.25, input gain 0.75).
pub const SNASNET_TAU: f64 = 4.0 / 3.0;

/// A 4-node cell: `m[i][j]` is the op on edge i -> j; i < j forward, i > j backward (delivered at t+1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CellGenotype {
    pub m: [[u8; 4]; 4],
}

impl CellGenotype {
    /// True if any edge points backwards (a temporal feedback cell).
    pub fn has_backward(&self) -> bool {
        (0..4).any(|i| (0..i).any(|j| self.m[i][j] != 0))
    }

    /// Nodes with a path from node 0 and a path to node 3 over non-zero edges (either direction).
    pub fn live_nodes(&self) -> [bool; 4] {
        let reach = |from: usize, forward: bool| {
            let mut seen = [false; 4];
            seen[from] = true;
            let mut stack = vec![from];
            while let Some(a) = stack.pop() {
                for (b, seen_b) in seen.iter_mut().enumerate() {
                    let e = if forward { self.m[a][b] } else { self.m[b][a] };
                    if e != 0 && !*seen_b {
                        *seen_b = true;
                        stack.push(b);
                    }
                }
            }
            seen
        };
        let from_input = reach(0, true);
        let to_output = reach(3, false);
        std::array::from_fn(|n| from_input[n] && to_output[n])
    }

    /// The official pruning (snasnet.md §2.6): zero the rows and columns of dead nodes 1 and 2.
    pub fn pruned(&self) -> CellGenotype {
        let live = self.live_nodes();
        let mut m = self.m;
        for n in 1..3 {
            if !live[n] {
                m[n] = [0; 4];
                for row in m.iter_mut() {
                    row[n] = 0;
                }
            }
        }
        CellGenotype { m }
    }

    /// The sampler's acceptance rule: a direct forward input -> output edge.
    pub fn is_valid(&self) -> bool {
        self.m[0][3] != 0
            && (0..4).all(|i| self.m[i][i] == 0)
            && self.m.iter().flatten().all(|&v| v <= OP_AVGPOOL)
    }
}

impl std::str::FromStr for CellGenotype {
    type Err = GenotypeError;
    /// Parse the official text form: four 4-digit rows, row i = source node i (`0302 0030 3003 0000`).
    fn from_str(s: &str) -> Result<Self, GenotypeError> {
        let text = || s.to_string();
        let rows: Vec<&str> = s.split_whitespace().collect();
        if rows.len() != 4 || rows.iter().any(|r| r.chars().count() != 4) {
            return Err(GenotypeError::Shape { text: text() });
        }
        let mut m = [[0u8; 4]; 4];
        for (i, row) in rows.iter().enumerate() {
            for (j, ch) in row.chars().enumerate() {
                let d =
                    ch.to_digit(10)
                        .filter(|&d| d <= 4)
                        .ok_or_else(|| GenotypeError::OpCode {
                            text: text(),
                            found: ch,
                        })?;
                m[i][j] = d as u8;
            }
        }
        if (0..4).any(|i| m[i][i] != 0) {
            return Err(GenotypeError::Diagonal { text: text() });
        }
        if (0..4).any(|i| (0..i).any(|j| m[i][j] != 0 && m[j][i] != 0)) {
            return Err(GenotypeError::BothDirections { text: text() });
        }
        Ok(CellGenotype { m })
    }
}

/// The genotype as JSON: the text form, the 4x4 matrix (row = source node) and the cell type.
pub fn genotype_to_json(g: &CellGenotype) -> Value {
    json!({
        "cnt_mat": g.to_string(),
        "matrix": g.m,
        "cell": if g.has_backward() { "backward" } else { "forward" },
    })
}

/// Read a genotype from JSON: an object with `cnt_mat` (text form) and/or `matrix` (4x4 op codes;
/// both must agree when both are given), or a bare `cnt_mat` string.
pub fn genotype_from_json(v: &Value) -> Result<CellGenotype, GenotypeError> {
    if let Some(s) = v.as_str() {
        return s.parse();
    }
    let obj = v.as_object().ok_or(GenotypeError::JsonKind)?;
    let from_text = obj
        .get("cnt_mat")
        .map(|t| {
            t.as_str()
                .ok_or(GenotypeError::CntMatNotText)?
                .parse::<CellGenotype>()
        })
        .transpose()?;
    let from_matrix = obj.get("matrix").map(matrix_from_json).transpose()?;
    match (from_text, from_matrix) {
        (Some(text), Some(matrix)) if text != matrix => {
            Err(GenotypeError::Disagree { text, matrix })
        }
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Err(GenotypeError::Missing),
    }
}

/// The `matrix` field: 4 rows of 4 op codes, checked like the text form.
fn matrix_from_json(m: &Value) -> Result<CellGenotype, GenotypeError> {
    let rows = m
        .as_array()
        .filter(|r| r.len() == 4)
        .ok_or(GenotypeError::MatrixShape)?;
    let mut text = Vec::with_capacity(4);
    for row in rows {
        let cells = row
            .as_array()
            .filter(|r| r.len() == 4)
            .ok_or(GenotypeError::MatrixShape)?;
        let mut s = String::with_capacity(4);
        for c in cells {
            let d = c
                .as_u64()
                .filter(|&d| d <= 4)
                .ok_or(GenotypeError::MatrixOpCode)?;
            s.push(char::from(b'0' + d as u8));
        }
        text.push(s);
    }
    text.join(" ").parse()
}

impl fmt::Display for CellGenotype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, row) in self.m.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            for v in row {
                write!(f, "{v}")?;
            }
        }
        Ok(())
    }
}

/// Macro-network settings (snasnet.md §3.1; 28x28 inputs as architecture.md describes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnasnetConfig {
    pub input: InputGeometry,
    /// Cell-1 channel count C; cell 2 has 2C.
    pub width: usize,
    pub stem_stride: usize,
    /// Kernel of the average pool after the last LIF (2 by default, 4 for the released CIFAR-10 net).
    pub second_pool: usize,
    pub hidden: usize,
    /// Output neurons per class of the voting layer.
    pub vote_group: usize,
    pub dropout: f64,
    pub timesteps: usize,
    /// Running statistics per timestep in every batch norm after the stem (its input is the
    /// same at every step, so one set is exact there). The seeds share one set over time, which
    /// leaves inference normalising cells with statistics no step actually had: on
    /// Fashion-MNIST a net at 82 % training accuracy scored 54 % shared, 89 % per step.
    pub per_step_bn: bool,
}

impl SnasnetConfig {
    /// The paper's CIFAR-10-style head (hidden 1024, vote group 10) at width `width`, T = 5.
    pub fn new(input: InputGeometry, width: usize) -> Self {
        SnasnetConfig {
            input,
            width,
            stem_stride: 1,
            second_pool: 2,
            hidden: 1024,
            vote_group: 10,
            dropout: 0.5,
            timesteps: 5,
            per_step_bn: true,
        }
    }
}

/// Add one cell fed by `input`; returns the name of its output node (node 3).
fn add_cell(
    g: &mut GraphBuilder,
    cell: &str,
    input: &str,
    geno: &CellGenotype,
    channels: usize,
    bn: fn() -> Op,
) -> String {
    let m = geno.pruned().m;
    let live = geno.pruned().live_nodes();
    let node = |k: usize| format!("{cell}.n{k}");
    for (k, _) in live.iter().enumerate().filter(|(_, l)| **l) {
        g.node(node(k), Op::Sum(Empty {}));
    }
    g.edge(input, &node(0), 0);
    // Forward edges in the official module order (col 1..3, row < col), then backward edges.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for j in 1..4 {
        for i in 0..j {
            pairs.push((i, j));
        }
    }
    for j in 0..3 {
        for i in j + 1..4 {
            pairs.push((i, j));
        }
    }
    for (i, j) in pairs {
        if !(live[i] && live[j]) {
            continue;
        }
        let op = m[i][j];
        let forward = i < j;
        // A pair with no edge in either direction is the zero op; it is kept (as the official
        // code keeps its ScaleLayer(0)) on the forward position only.
        if op == OP_ZERO && !(forward && m[j][i] == 0) {
            continue;
        }
        let delay = if forward { 0 } else { 1 };
        let from = node(i);
        let to = node(j);
        let prefix = format!("{cell}.e{i}{j}");
        match op {
            OP_ZERO => {
                let z = g.chain(
                    &from,
                    format!("{prefix}.zero"),
                    Op::Scale(Scale { factor: 0.0 }),
                );
                g.edge(&z, &to, delay);
            }
            OP_SKIP => g.edge(&from, &to, delay),
            OP_CONV1 | OP_CONV3 => {
                let k = if op == OP_CONV1 { 1 } else { 3 };
                let lif = g.chain(&from, format!("{prefix}.lif"), Op::Lif(neuron(SNASNET_TAU)));
                let c = g.chain(
                    &lif,
                    format!("{prefix}.conv"),
                    conv(channels, channels, k, 1),
                );
                let b = g.chain(&c, format!("{prefix}.bn"), bn());
                g.edge(&b, &to, delay);
            }
            _ => {
                let p = g.chain(&from, format!("{prefix}.pool"), Op::AvgPool(pool(3, 1, 1)));
                g.edge(&p, &to, delay);
            }
        }
    }
    node(3)
}

/// The whole SNASNet macro network for `geno` (snasnet.md §3.2).
pub fn snasnet_network(geno: &CellGenotype, cfg: &SnasnetConfig) -> Result<NetworkDesc, ArchError> {
    if !geno.is_valid() {
        return Err(ArchError::NoDirectEdge {
            genotype: geno.to_string(),
        });
    }
    if cfg.width == 0 || cfg.timesteps == 0 || cfg.hidden == 0 {
        return Err(ArchError::Zero {
            what: "width, timesteps and hidden",
        });
    }
    if cfg.stem_stride == 0 || cfg.second_pool == 0 {
        return Err(ArchError::Zero {
            what: "the stem stride and second pool",
        });
    }
    let c = cfg.width;
    let side1 = (cfg.input.side + 2 - 3) / cfg.stem_stride + 1;
    let side2 = side1 / 2;
    let side3 = side2 / cfg.second_pool;
    if side2 == 0 || side3 == 0 {
        return Err(ArchError::InputTooSmall {
            side: cfg.input.side,
        });
    }
    let mut g = GraphBuilder::new();
    let stem = g.chain(
        "input",
        "stem.conv",
        conv(cfg.input.channels, c, 3, cfg.stem_stride),
    );
    let stem = g.chain(&stem, "stem.bn", bn());
    let bn = if cfg.per_step_bn { bn_per_step } else { bn };
    let cell1 = add_cell(&mut g, "cell1", &stem, geno, c, bn);
    let x = g.chain(&cell1, "down.bn1", bn());
    let x = g.chain(&x, "down.lif", Op::Lif(neuron(SNASNET_TAU)));
    let x = g.chain(&x, "down.conv", conv(c, 2 * c, 3, 1));
    let x = g.chain(&x, "down.bn2", bn());
    let x = g.chain(&x, "down.pool", Op::AvgPool(pool(2, 2, 0)));
    let cell2 = add_cell(&mut g, "cell2", &x, geno, 2 * c, bn);
    let x = g.chain(&cell2, "last.bn", bn());
    let x = g.chain(&x, "last.lif", Op::Lif(neuron(SNASNET_TAU)));
    let x = g.chain(
        &x,
        "last.pool",
        Op::AvgPool(pool(cfg.second_pool, cfg.second_pool, 0)),
    );
    let x = g.chain(&x, "flatten", Op::Flatten(Empty {}));
    let x = g.chain(&x, "dropout", Op::Dropout(Dropout { p: cfg.dropout }));
    let flat = 2 * c * side3 * side3;
    let x = g.chain(
        &x,
        "fc1",
        Op::Linear(Linear {
            in_features: flat,
            out_features: cfg.hidden,
            bias: false,
        }),
    );
    let x = g.chain(&x, "fc1.lif", Op::Lif(neuron(SNASNET_TAU)));
    let outputs = cfg.input.num_classes * cfg.vote_group;
    let x = g.chain(
        &x,
        "fc2",
        Op::Linear(Linear {
            in_features: cfg.hidden,
            out_features: outputs,
            bias: true,
        }),
    );
    let vote = g.chain(
        &x,
        "vote",
        Op::Vote(Vote {
            group: cfg.vote_group,
        }),
    );
    let meta = serde_json::json!({
        "architecture": "snasnet",
        "genotype": geno.to_string(),
        "cell": if geno.has_backward() { "backward" } else { "forward" },
        "width": c,
        "init": "snasnet",
    });
    let name = format!("snasnet-{}", geno.to_string().replace(' ', "-"));
    Ok(g.finish(
        &name,
        cfg.input,
        cfg.timesteps,
        &vote,
        ReadoutKind::TimeMean,
        meta,
    ))
}
