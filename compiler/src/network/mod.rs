//! The framework-neutral network format: `network.json` (graph, attributes, delays) plus `weights.safetensors`.
//!
//! An architecture file is the same JSON without weights. Every node's input is the sum of its
//! incoming edges, each read `delay` steps in the past (zero before the start); the node applies its
//! op to that sum. See `docs/network-format.md` for the full specification.

mod check;
mod neuron_values;
mod ops;
mod shape;
mod weights;

pub use check::NetworkError;
pub use neuron_values::{
    IntegratorValues, NeuronValues, Values, integrator_values, neuron_values, per_neuron_specs,
};
pub use ops::{BatchNorm, Conv2d, Dropout, Empty, Linear, Pair, Pool, Scale, Vote};
pub use ops::{
    Compare, IntegratorParams, NeuronParams, Op, ParamRole, ParamSource, Reset, UniformNeuron,
};
pub use shape::{Shape, ShapeError, output_shape, window_out};
pub use weights::{NeuronParamError, Tensor, Weights, WeightsError};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The version this build writes and the only one it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Largest edge delay the format accepts; longer delays are almost certainly a typo.
pub const MAX_DELAY: u32 = 1024;

/// Largest number of values a network or module may hold over all its neurons and timesteps
/// (per sample). Far above any real network, it keeps every size computed from a file within
/// range, so shapes from a hostile file are refused instead of overflowing.
pub const MAX_ELEMENTS: usize = isize::MAX as usize / 64;

/// Largest size of a single attribute (a kernel, stride, padding, channel count or dimension).
pub const MAX_SIZE: usize = 1 << 24;

/// How the input reaches the network at each timestep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// The same analog frame at every step (direct coding).
    Direct,
    /// One frame per step, e.g. N-MNIST event counts `[2, H, W]`.
    EventFrames,
}

/// What the network's prediction is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadoutKind {
    /// Mean over time of the readout node's output (SNASNet: logits averaged over T).
    TimeMean,
    /// Sum over time of the readout node's output (AutoSNN: vote counter of spikes).
    SpikeCount,
    /// The membrane of an `li` / `cuba_li` readout node at the last step.
    MembraneLast,
    /// The mean over time of an `li` / `cuba_li` readout node's membrane.
    MembraneMean,
    /// The maximum over time of an `li` / `cuba_li` readout node's membrane.
    MembraneMax,
}

/// How a readout reduces its per-step values over time into logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    Sum,
    Mean,
    Last,
    Max,
}

impl ReadoutKind {
    pub fn reduction(self) -> Reduction {
        match self {
            ReadoutKind::SpikeCount => Reduction::Sum,
            ReadoutKind::TimeMean | ReadoutKind::MembraneMean => Reduction::Mean,
            ReadoutKind::MembraneLast => Reduction::Last,
            ReadoutKind::MembraneMax => Reduction::Max,
        }
    }
    /// Whether the readout reads a membrane (an `li` / `cuba_li` node).
    pub fn reads_membrane(self) -> bool {
        matches!(
            self,
            ReadoutKind::MembraneLast | ReadoutKind::MembraneMean | ReadoutKind::MembraneMax
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Shape of one sample without batch: `[C, H, W]` or `[N]`.
    pub shape: Vec<usize>,
    pub encoding: Encoding,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readout {
    pub node: String,
    pub kind: ReadoutKind,
}

/// One node: a name, an op with its attributes, and optionally explicit tensor names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    #[serde(flatten)]
    pub op: Op,
    /// Tensor name per parameter role; a missing role defaults to `<node name>.<role>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

impl Node {
    pub fn new(name: impl Into<String>, op: Op) -> Self {
        Node {
            name: name.into(),
            op,
            params: BTreeMap::new(),
        }
    }

    /// The safetensors name holding this node's parameter `role`.
    pub fn tensor_name(&self, role: ParamRole) -> String {
        self.params
            .get(role.as_str())
            .cloned()
            .unwrap_or_else(|| format!("{}.{}", self.name, role.as_str()))
    }
}

/// A directed edge: `to` receives `from`'s output of step `t - delay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay: u32,
}

fn is_zero(d: &u32) -> bool {
    *d == 0
}

impl Edge {
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        Edge {
            from: from.into(),
            to: to.into(),
            delay: 0,
        }
    }
    pub fn delayed(from: impl Into<String>, to: impl Into<String>, delay: u32) -> Self {
        Edge {
            from: from.into(),
            to: to.into(),
            delay,
        }
    }
}

/// A whole network description, as stored in `network.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkDesc {
    pub format_version: u32,
    #[serde(default)]
    pub name: String,
    pub timesteps: usize,
    pub num_classes: usize,
    pub input: InputSpec,
    pub readout: Readout,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Free-form provenance (dataset, training settings, accuracy). Ignored by the compiler.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub meta: serde_json::Value,
}

impl NetworkDesc {
    /// Parse and validate a description; errors name the file, the JSON position or the node.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Network, NetworkError> {
        let desc: NetworkDesc = serde_json::from_str(text).map_err(|e| NetworkError::Json {
            file: origin.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        desc.validate().map_err(|e| NetworkError::InFile {
            file: origin.to_string(),
            source: Box::new(e),
        })
    }

    pub fn validate(self) -> Result<Network, NetworkError> {
        check::validate(self)
    }

    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a NetworkDesc always serialises")
    }
}

/// Dense index of a node in [`Network::desc`]`.nodes`.
pub type NodeId = usize;

/// A validated network: the description plus everything derived from it once.
#[derive(Debug, Clone)]
pub struct Network {
    pub desc: NetworkDesc,
    /// Output shape of every node, by node index.
    pub shapes: Vec<Shape>,
    /// Incoming edges of every node: `(source, delay)`, in file order.
    pub inputs: Vec<Vec<(NodeId, u32)>>,
    /// Evaluation order within one timestep: respects every zero-delay edge; ties in file order.
    pub schedule: Vec<NodeId>,
    /// Nodes whose value is the same at every step (stateless and fed only by static nodes over
    /// zero-delay edges from a direct-encoded input): computed once per sample.
    pub is_static: Vec<bool>,
    pub input_node: NodeId,
    pub readout_node: NodeId,
    index: BTreeMap<String, NodeId>,
}

impl Network {
    pub fn load(path: &Path) -> Result<Network, NetworkError> {
        let text = std::fs::read_to_string(path).map_err(|e| NetworkError::Io {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        NetworkDesc::from_json_str(&text, &path.display().to_string())
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.desc.nodes[id]
    }

    pub fn id(&self, name: &str) -> Option<NodeId> {
        self.index.get(name).copied()
    }

    pub fn len(&self) -> usize {
        self.desc.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.desc.nodes.is_empty()
    }

    /// The shape a node receives (the common shape of its incoming edges).
    pub fn input_shape(&self, id: NodeId) -> &Shape {
        match self.inputs[id].first() {
            Some(&(src, _)) => &self.shapes[src],
            None => &self.shapes[id],
        }
    }

    /// Node `id`'s parameter tensors and their shapes.
    pub fn param_shapes(&self, id: NodeId) -> Vec<(ParamRole, Vec<usize>)> {
        self.desc.nodes[id]
            .op
            .param_shapes(self.input_shape(id), self.desc.timesteps)
    }

    /// Every parameter tensor the network needs, with its expected shape, in node order.
    pub fn parameter_specs(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        for (id, node) in self.desc.nodes.iter().enumerate() {
            for (role, shape) in self.param_shapes(id) {
                out.push((node.tensor_name(role), shape));
            }
        }
        out
    }

    /// Check that `weights` holds every parameter with the right shape and only finite values.
    pub fn check_weights(&self, weights: &Weights) -> Result<(), WeightsError> {
        weights::check_against(self, weights)
    }
}
