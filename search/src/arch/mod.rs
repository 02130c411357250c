//! Builders that turn the seeds' architecture encodings into graph-format network descriptions.

pub mod autosnn;
pub mod snasnet;

use snnc_compiler::network::{
    BatchNorm, Conv2d, Edge, Empty, Encoding, FORMAT_VERSION, InputSpec, NetworkDesc, NeuronParams,
    Node, Op, Pair, Pool, Readout, ReadoutKind,
};

/// The input side of a dataset as a network sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputGeometry {
    pub channels: usize,
    /// Square side after any padding or cropping (28 stays 28 for SNASNet, becomes 32 for AutoSNN).
    pub side: usize,
    pub encoding: Encoding,
    pub num_classes: usize,
}

impl InputGeometry {
    /// How `dataset` enters a network; `side` overrides the native square side (28 -> 32 pads,
    /// 34 -> 32 centre-crops event frames).
    pub fn for_dataset(dataset: snnc_datasets::DatasetName, side: Option<usize>) -> InputGeometry {
        use snnc_datasets::DatasetName as D;
        let (channels, native, encoding) = match dataset {
            D::Mnist | D::FashionMnist => (1, 28, Encoding::Direct),
            D::Cifar10 => (3, 32, Encoding::Direct),
            D::Nmnist => (2, 34, Encoding::EventFrames),
            D::Digits => (1, 8, Encoding::Direct),
        };
        InputGeometry {
            channels,
            side: side.unwrap_or(native),
            encoding,
            num_classes: dataset.num_classes(),
        }
    }
}

/// Appends nodes and edges while remembering the last node of a chain.
pub(crate) struct GraphBuilder {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

impl GraphBuilder {
    pub(crate) fn new() -> Self {
        GraphBuilder {
            nodes: vec![Node::new("input", Op::Input(Empty {}))],
            edges: Vec::new(),
        }
    }

    pub(crate) fn node(&mut self, name: impl Into<String>, op: Op) -> String {
        let name = name.into();
        self.nodes.push(Node::new(name.clone(), op));
        name
    }

    pub(crate) fn edge(&mut self, from: &str, to: &str, delay: u32) {
        self.edges.push(Edge::delayed(from, to, delay));
    }

    /// Add `op` as node `name` fed by `from`, returning its name.
    pub(crate) fn chain(&mut self, from: &str, name: impl Into<String>, op: Op) -> String {
        let name = self.node(name, op);
        self.edge(from, &name, 0);
        name
    }

    pub(crate) fn finish(
        self,
        name: &str,
        input: InputGeometry,
        timesteps: usize,
        readout: &str,
        kind: ReadoutKind,
        meta: serde_json::Value,
    ) -> NetworkDesc {
        NetworkDesc {
            format_version: FORMAT_VERSION,
            name: name.to_string(),
            timesteps,
            num_classes: input.num_classes,
            input: InputSpec {
                shape: vec![input.channels, input.side, input.side],
                encoding: input.encoding,
            },
            readout: Readout {
                node: readout.to_string(),
                kind,
            },
            nodes: self.nodes,
            edges: self.edges,
            meta,
        }
    }
}

pub(crate) fn conv(cin: usize, cout: usize, k: usize, stride: usize) -> Op {
    Op::Conv2d(Conv2d {
        in_channels: cin,
        out_channels: cout,
        kernel: Pair::square(k),
        stride: Pair::square(stride),
        padding: Pair::square(k / 2),
        groups: 1,
        bias: false,
    })
}

pub(crate) fn bn() -> Op {
    Op::BatchNorm(BatchNorm {
        eps: 1e-5,
        momentum: 0.1,
        per_step: false,
    })
}

/// Batch norm with running statistics per timestep (gamma and beta shared).
pub(crate) fn bn_per_step() -> Op {
    Op::BatchNorm(BatchNorm {
        eps: 1e-5,
        momentum: 0.1,
        per_step: true,
    })
}

pub(crate) fn pool(k: usize, s: usize, p: usize) -> Pool {
    Pool {
        kernel: Pair::square(k),
        stride: Some(Pair::square(s)),
        padding: Pair::square(p),
        count_include_pad: true,
    }
}

/// SpikingJelly's LIF/PLIF defaults: threshold 1, hard reset to 0, detached reset, ATan(alpha=2).
pub(crate) fn neuron(tau: f64) -> NeuronParams {
    NeuronParams::with_tau(tau)
}
