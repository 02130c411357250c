//! The seeds' networks as graph-format descriptions: SNASNet cells and AutoSNN block lists, and
//! the encodings that name them. The one set of builders the searches, `snnc arch` and the golden
//! fixtures share.
//!
//! Builders take the input as an [`InputGeometry`], decided for a dataset by
//! [`snnc_datasets::network_input`], so a network is built for exactly what it will be fed.

pub mod autosnn;
pub mod snasnet;

pub use snnc_datasets::{InputEncoding, InputGeometry};

use crate::network::{
    BatchNorm, Conv2d, Edge, Empty, Encoding, FORMAT_VERSION, InputSpec, NetworkDesc, NeuronParams,
    Node, Op, Pair, Pool, Readout, ReadoutKind,
};
use thiserror::Error;

/// Why a builder refuses its settings.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArchError {
    #[error(
        "cell `{genotype}` has no direct input -> output edge (M[0][3] = 0), which SNASNet requires"
    )]
    NoDirectEdge { genotype: String },
    #[error("{what} must be at least 1")]
    Zero { what: &'static str },
    #[error("input side {side} is too small for this macro network")]
    InputTooSmall { side: usize },
    #[error("AutoSNN downsamples by 8; input side {side} is not a multiple of 8 (pad 28x28 to 32)")]
    SideNotMultipleOf8 { side: usize },
}

impl From<InputEncoding> for Encoding {
    fn from(e: InputEncoding) -> Self {
        match e {
            InputEncoding::Direct => Encoding::Direct,
            InputEncoding::EventFrames => Encoding::EventFrames,
        }
    }
}

impl From<Encoding> for InputEncoding {
    fn from(e: Encoding) -> Self {
        match e {
            Encoding::Direct => InputEncoding::Direct,
            Encoding::EventFrames => InputEncoding::EventFrames,
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
                shape: input.shape().to_vec(),
                encoding: input.encoding.into(),
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
