//! Network descriptions of the two seeds' architectures (SNASNet cells, AutoSNN blocks) at any width.

use crate::network::{
    BatchNorm, Conv2d, Dropout, Edge, Empty, Encoding, InputSpec, Linear, NetworkDesc,
    NeuronParams, Node, Op, Pair, Pool, Readout, ReadoutKind, Scale, Vote,
};

/// Collects nodes and edges in the order they are added.
struct Graph {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

impl Graph {
    fn node(&mut self, name: impl Into<String>, op: Op) -> String {
        let name = name.into();
        self.nodes.push(Node::new(name.clone(), op));
        name
    }
    /// A node fed by one zero-delay edge from `from`.
    fn then(&mut self, from: &str, name: impl Into<String>, op: Op) -> String {
        let name = self.node(name, op);
        self.edge(from, &name, 0);
        name
    }
    fn edge(&mut self, from: &str, to: &str, delay: u32) {
        self.edges.push(Edge::delayed(from, to, delay));
    }
    fn conv(
        &mut self,
        from: &str,
        name: String,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
    ) -> String {
        let op = Op::Conv2d(Conv2d {
            in_channels: cin,
            out_channels: cout,
            kernel: Pair::square(k),
            stride: Pair::square(stride),
            padding: Pair::square(k / 2),
            groups: 1,
            bias: false,
        });
        self.then(from, name, op)
    }
    fn bn(&mut self, from: &str, name: String) -> String {
        self.bn_with(from, name, false)
    }
    fn bn_with(&mut self, from: &str, name: String, per_step: bool) -> String {
        self.then(
            from,
            name,
            Op::BatchNorm(BatchNorm {
                eps: 1e-5,
                momentum: 0.1,
                per_step,
            }),
        )
    }
    fn pool(
        &mut self,
        from: &str,
        name: String,
        k: usize,
        s: usize,
        p: usize,
        max: bool,
    ) -> String {
        let pool = Pool {
            kernel: Pair::square(k),
            stride: Some(Pair::square(s)),
            padding: Pair::square(p),
            count_include_pad: true,
        };
        self.then(
            from,
            name,
            if max {
                Op::MaxPool(pool)
            } else {
                Op::AvgPool(pool)
            },
        )
    }
    fn finish(
        self,
        name: &str,
        timesteps: usize,
        classes: usize,
        input: Vec<usize>,
        readout: String,
        kind: ReadoutKind,
    ) -> NetworkDesc {
        NetworkDesc {
            format_version: crate::network::FORMAT_VERSION,
            name: name.into(),
            timesteps,
            num_classes: classes,
            input: InputSpec {
                shape: input,
                encoding: Encoding::Direct,
            },
            readout: Readout {
                node: readout,
                kind,
            },
            nodes: self.nodes,
            edges: self.edges,
            meta: serde_json::Value::Null,
        }
    }
}

/// Parse a SNASNet `cnt_mat` such as `0303 0030 2002 0200` (row i = source node i).
pub fn parse_cell(code: &str) -> Option<[[u8; 4]; 4]> {
    let rows: Vec<&str> = code.split_whitespace().collect();
    if rows.len() != 4 {
        return None;
    }
    let mut m = [[0u8; 4]; 4];
    for (i, r) in rows.iter().enumerate() {
        let digits: Vec<u8> = r.bytes().map(|b| b.wrapping_sub(b'0')).collect();
        if digits.len() != 4 || digits.iter().any(|&d| d > 4) || digits[i] != 0 {
            return None;
        }
        m[i].copy_from_slice(&digits);
    }
    Some(m)
}

/// A SNASNet macro network (snasnet.md §3) at a chosen width.
#[derive(Debug, Clone)]
pub struct SnasnetConfig {
    pub name: String,
    pub cell: [[u8; 4]; 4],
    /// `[3, H, W]`.
    pub input: Vec<usize>,
    /// Cell-1 width C1; cell 2 has 2 C1.
    pub width: usize,
    /// Kernel of the average pool after the last LIF (2 for CIFAR-100, 4 for the CIFAR-10 release).
    pub second_pool: usize,
    pub hidden: usize,
    pub classes: usize,
    /// Output neurons per class in the voting layer.
    pub group: usize,
    pub timesteps: usize,
    /// Running statistics per timestep in every batch norm after the stem.
    pub per_step_bn: bool,
}

fn snn_lif() -> Op {
    Op::Lif(NeuronParams::with_tau(4.0 / 3.0))
}

/// Build the SNASNet macro network: stem (computed once), cell(C), BN-LIF-conv-BN + avg-pool,
/// cell(2C), BN-LIF, avg-pool, flatten, dropout, FC, LIF, FC, voting; time-mean readout.
pub fn snasnet(cfg: &SnasnetConfig) -> NetworkDesc {
    let mut g = Graph {
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    let c1 = cfg.width;
    g.node("input", Op::Input(Empty {}));
    let stem = g.conv("input", "stem.conv".into(), cfg.input[0], c1, 3, 1);
    let stem = g.bn(&stem, "stem.bn".into());
    let ps = cfg.per_step_bn;
    let cell1 = snasnet_cell(&mut g, "cell1", &stem, c1, &cfg.cell, ps);
    let d = g.bn_with(&cell1, "down.bn1".into(), ps);
    let d = g.then(&d, "down.lif", snn_lif());
    let d = g.conv(&d, "down.conv".into(), c1, 2 * c1, 3, 1);
    let d = g.bn_with(&d, "down.bn2".into(), ps);
    let d = g.pool(&d, "down.pool".into(), 2, 2, 0, false);
    let cell2 = snasnet_cell(&mut g, "cell2", &d, 2 * c1, &cfg.cell, ps);
    let l = g.bn_with(&cell2, "last.bn".into(), ps);
    let l = g.then(&l, "last.lif", snn_lif());
    let l = g.pool(
        &l,
        "last.pool".into(),
        cfg.second_pool,
        cfg.second_pool,
        0,
        false,
    );
    let l = g.then(&l, "flatten", Op::Flatten(Empty {}));
    let hw = cfg.input[1] / 2 / cfg.second_pool * (cfg.input[2] / 2 / cfg.second_pool);
    let l = g.then(&l, "fc.dropout", Op::Dropout(Dropout { p: 0.5 }));
    let l = g.then(
        &l,
        "fc1",
        Op::Linear(Linear {
            in_features: 2 * c1 * hw,
            out_features: cfg.hidden,
            bias: false,
        }),
    );
    let l = g.then(&l, "fc.lif", snn_lif());
    let outs = cfg.classes * cfg.group;
    let l = g.then(
        &l,
        "fc2",
        Op::Linear(Linear {
            in_features: cfg.hidden,
            out_features: outs,
            bias: true,
        }),
    );
    let vote = g.then(&l, "vote", Op::Vote(Vote { group: cfg.group }));
    g.finish(
        &cfg.name,
        cfg.timesteps,
        cfg.classes,
        cfg.input.clone(),
        vote,
        ReadoutKind::TimeMean,
    )
}

/// One SNASNet cell (snasnet.md §2): four summing nodes, an op per node pair; a backward op
/// (source below the diagonal) runs at t on its source's value and is delivered at t + 1.
#[allow(clippy::needless_range_loop)] // i, j are node indices into the 4x4 cell matrix
fn snasnet_cell(
    g: &mut Graph,
    p: &str,
    input: &str,
    c: usize,
    m: &[[u8; 4]; 4],
    per_step: bool,
) -> String {
    let n = |k: usize| format!("{p}.n{k}");
    let mut backward = Vec::new();
    for j in 0..4 {
        if j == 0 {
            g.node(n(0), Op::Sum(Empty {}));
            g.edge(input, &n(0), 0);
            continue;
        }
        for i in 0..j {
            match (m[i][j], m[j][i]) {
                (0, 0) => snasnet_op(g, &format!("{p}.e{i}{j}"), &n(i), &n(j), 0, 0, c, per_step),
                (op, 0) => snasnet_op(g, &format!("{p}.e{i}{j}"), &n(i), &n(j), op, 0, c, per_step),
                (_, op) => backward.push((j, i, op)),
            }
        }
        g.node(n(j), Op::Sum(Empty {}));
    }
    for (j, i, op) in backward {
        snasnet_op(g, &format!("{p}.b{j}{i}"), &n(j), &n(i), op, 1, c, per_step);
    }
    // Edges into a node were added before the node itself; the schedule orders them anyway.
    n(3)
}

#[allow(clippy::too_many_arguments)] // one edge of the cell and how its BN keeps statistics
fn snasnet_op(
    g: &mut Graph,
    name: &str,
    from: &str,
    to: &str,
    op: u8,
    delay: u32,
    c: usize,
    per_step: bool,
) {
    let last = match op {
        0 => g.then(
            from,
            format!("{name}.zero"),
            Op::Scale(Scale { factor: 0.0 }),
        ),
        1 => {
            g.edge(from, to, delay);
            return;
        }
        2 | 3 => {
            let k = if op == 2 { 1 } else { 3 };
            let l = g.then(from, format!("{name}.lif"), snn_lif());
            let l = g.conv(&l, format!("{name}.conv"), c, c, k, 1);
            g.bn_with(&l, format!("{name}.bn"), per_step)
        }
        _ => g.pool(from, format!("{name}.pool"), 3, 1, 1, false),
    };
    g.edge(&last, to, delay);
}

/// AutoSNN's candidate blocks (autosnn.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoSnnBlock {
    Skip,
    Scb(usize),
    Srb(usize),
}

/// An AutoSNN child network on the SNN_1 backbone (autosnn.md §2.1).
#[derive(Debug, Clone)]
pub struct AutoSnnConfig {
    pub name: String,
    /// The five searchable slots P0..P4.
    pub blocks: [AutoSnnBlock; 5],
    pub input: Vec<usize>,
    pub width: usize,
    pub classes: usize,
    pub timesteps: usize,
}

impl AutoSnnConfig {
    /// The paper's final network (autosnn.md §7.1): SRB_k5, SRB_k5, skip, SRB_k3, SRB_k5.
    pub fn final_architecture(width: usize) -> Self {
        use AutoSnnBlock::*;
        AutoSnnConfig {
            name: "autosnn".into(),
            blocks: [Srb(5), Srb(5), Skip, Srb(3), Srb(5)],
            input: vec![3, 32, 32],
            width,
            classes: 10,
            timesteps: 8,
        }
    }
}

fn plif() -> Op {
    Op::Plif(NeuronParams::with_tau(2.0))
}

/// Build an AutoSNN child: stem conv-BN (computed once) then PLIF, five blocks with max-pools
/// after P0, P2 and P4, FC to 10 neurons per class, PLIF, voting; spike-count readout.
pub fn autosnn(cfg: &AutoSnnConfig) -> NetworkDesc {
    let mut g = Graph {
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    let c = cfg.width;
    g.node("input", Op::Input(Empty {}));
    let x = g.conv("input", "stem.conv".into(), cfg.input[0], c, 3, 1);
    let x = g.bn(&x, "stem.bn".into());
    let mut x = g.then(&x, "stem.plif", plif());
    let channels = [c, 2 * c, 2 * c, 4 * c, 4 * c];
    let mut cin = c;
    for (slot, block) in cfg.blocks.iter().enumerate() {
        let cout = channels[slot];
        x = autosnn_block(&mut g, &format!("p{slot}"), &x, cin, cout, *block);
        cin = cout;
        if slot % 2 == 0 {
            x = g.pool(&x, format!("pool{}", slot / 2 + 1), 2, 2, 0, true);
        }
    }
    let x = g.then(&x, "flatten", Op::Flatten(Empty {}));
    let hw = (cfg.input[1] / 8) * (cfg.input[2] / 8);
    let outs = 10 * cfg.classes;
    let x = g.then(
        &x,
        "fc",
        Op::Linear(Linear {
            in_features: 4 * c * hw,
            out_features: outs,
            bias: false,
        }),
    );
    let x = g.then(&x, "fc.plif", plif());
    let vote = g.then(&x, "vote", Op::Vote(Vote { group: 10 }));
    g.finish(
        &cfg.name,
        cfg.timesteps,
        cfg.classes,
        cfg.input.clone(),
        vote,
        ReadoutKind::SpikeCount,
    )
}

fn autosnn_block(
    g: &mut Graph,
    p: &str,
    x: &str,
    cin: usize,
    cout: usize,
    block: AutoSnnBlock,
) -> String {
    match block {
        AutoSnnBlock::Skip if cin == cout => x.to_string(),
        AutoSnnBlock::Skip => {
            let y = g.conv(x, format!("{p}.conv"), cin, cout, 1, 1);
            let y = g.bn(&y, format!("{p}.bn"));
            g.then(&y, format!("{p}.plif"), plif())
        }
        AutoSnnBlock::Scb(k) => {
            let y = g.conv(x, format!("{p}.conv1"), cin, cout, k, 1);
            let y = g.bn(&y, format!("{p}.bn1"));
            let y = g.then(&y, format!("{p}.plif1"), plif());
            let y = g.conv(&y, format!("{p}.conv2"), cout, cout, k, 1);
            let y = g.bn(&y, format!("{p}.bn2"));
            g.then(&y, format!("{p}.plif2"), plif())
        }
        AutoSnnBlock::Srb(k) => {
            let y = g.conv(x, format!("{p}.conv1"), cin, cout, k, 1);
            let y = g.bn(&y, format!("{p}.bn1"));
            let y = g.then(&y, format!("{p}.plif1"), plif());
            let y = g.conv(&y, format!("{p}.conv2"), cout, cout, k, 1);
            let y = g.bn(&y, format!("{p}.bn2"));
            // The shortcut joins before the second neuron: raw spikes, or conv1x1-BN on a width change.
            let add = g.then(&y, format!("{p}.add"), Op::Sum(Empty {}));
            if cin == cout {
                g.edge(x, &add, 0);
            } else {
                let s = g.conv(x, format!("{p}.short.conv"), cin, cout, 1, 1);
                let s = g.bn(&s, format!("{p}.short.bn"));
                g.edge(&s, &add, 0);
            }
            g.then(&add, format!("{p}.plif2"), plif())
        }
    }
}
