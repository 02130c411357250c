//! ONNX back end: a module as a stateful single-step model and as a whole-sequence (Scan) model.
//!
//! The **step model** takes `x_t` and every state tensor (membranes, the synaptic currents of
//! current-based layers, delay rings of delayed and feedback projections, the readout
//! accumulator, and a step counter when a bias or affine scale is per step) and returns the logits so far, the step's readout, per-layer spike counts, the
//! chosen layers' spike maps and every state's next value: the host loops over time
//! (docs/deploy.md). The **sequence model** runs all `T` steps in one
//! Scan and returns the logits and per-step spike counts. Both use IR 8 / opset 17, a symbolic
//! batch `N`, float32 values, spikes as `GreaterOrEqual`/`Greater` + `Cast`, resets as
//! `Where`/`Mul`. Names come from the network; neuron parameters sit in doc strings, and one
//! that differs per neuron is an initializer of the population's shape in place of the scalar;
//! the model's metadata says the snnc version, timesteps, encoding, hashes and the full
//! interface (JSON).
//!
//! Like the other emitters: options in, a writer, a typed error out. What ONNX cannot hold
//! (a parameter outside float32's range, weights beyond protobuf's 2 GiB) is an [`OnnxError`]
//! naming the population, projection or tensor.

mod models;
mod plan;
mod proto;
mod step;

pub use models::{IR_VERSION, OPSET};
pub use plan::{MAX_INIT, StateKind};
pub use proto::{BATCH, Dim};

use crate::hash::Fnv1a;
use crate::ir::Module;
use onnx_protobuf::Message;
use serde::{Deserialize, Serialize};
use std::io::Write;
use thiserror::Error;

/// Protobuf messages cannot exceed 2 GiB; leave room for the graph around the weights.
pub const DEFAULT_MAX_BYTES: u64 = (2u64 << 30) - (64u64 << 20);

/// Which layers' full spike maps the models output (spike counts are always output).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SpikeOutputs {
    #[default]
    None,
    All,
    /// By population name (as the text IR prints it).
    Layers(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub spikes: SpikeOutputs,
    /// A hash of the source network (see [`source_hash`]), recorded as `snnc.source_hash`.
    pub source_hash: Option<String>,
    /// Refuse modules whose weights take more bytes than this.
    pub max_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            spikes: SpikeOutputs::None,
            source_hash: None,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

#[derive(Debug, Error)]
pub enum OnnxError {
    #[error("the module is invalid: {0}")]
    Invalid(#[from] Box<crate::validate::ValidationErrors>),
    #[error(
        "{owner}: {what} = {value:e} is outside float32's range, and ONNX models compute in float32"
    )]
    NotFloat32 {
        owner: String,
        /// The parameter, and for a per-neuron one the neuron and the tensor.
        what: String,
        value: f64,
    },
    #[error("{owner}: dimensions {dims:?} do not fit ONNX's int64")]
    Dimension { owner: String, dims: Vec<usize> },
    #[error(
        "the weights take {bytes} bytes, above the {limit}-byte limit of one ONNX protobuf (largest tensor: {largest})"
    )]
    TooLarge {
        bytes: u64,
        limit: u64,
        largest: String,
    },
    #[error("no spiking layer `{name}` to output spikes of; the layers are: {}", known.join(", "))]
    UnknownLayer { name: String, known: Vec<String> },
    #[error("the ONNX name `{name}` would stand for both {first} and {second}; rename one of them")]
    NameClash {
        name: String,
        first: String,
        second: String,
    },
    #[error("cannot encode the ONNX model: {0}")]
    Encode(String),
    #[error("cannot write the ONNX model: {0}")]
    Io(#[from] std::io::Error),
}

/// A graph input or output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Port {
    pub name: String,
    /// `float32` or `int64`.
    pub dtype: String,
    /// Sizes; `"N"` is the batch.
    pub shape: Vec<Dim>,
    pub doc: String,
}

/// A state tensor of the step model: fed as `input`, returned as `output` for the next step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatePort {
    pub input: String,
    pub output: String,
    pub kind: StateKind,
    /// The population whose state it is (the input's for the step counter, which counts its
    /// frames).
    pub population: String,
    pub shape: Vec<Dim>,
    /// Each element's value at the start of a sample (and after a reset between samples).
    pub init: StateInit,
    pub doc: String,
}

/// Where a state starts, the same for every sample: one value for all its elements, or, for a
/// membrane whose `v_reset` (or an integrator's `rest`) differs per neuron, one value per
/// element of its shape without the batch axis. In JSON a number, or nested lists of that shape
/// (numpy's `tolist()` form), so `np.full([n, *shape], init)` builds the start either way.
#[derive(Debug, Clone, PartialEq)]
pub enum StateInit {
    Uniform(f32),
    /// `values` row-major over `dims` (the state's shape without the batch axis).
    PerNeuron {
        dims: Vec<usize>,
        values: Vec<f32>,
    },
}

impl StateInit {
    /// The value every element starts at, if it is one.
    pub fn uniform(&self) -> Option<f32> {
        match self {
            StateInit::Uniform(v) => Some(*v),
            StateInit::PerNeuron { .. } => None,
        }
    }

    /// One sample's start: `numel` values, row-major.
    pub fn sample(&self, numel: usize) -> Vec<f32> {
        match self {
            StateInit::Uniform(v) => vec![*v; numel],
            StateInit::PerNeuron { values, .. } => values.clone(),
        }
    }

    /// The start of `batch` samples of `numel` values each, sample after sample.
    pub fn batch(&self, batch: usize, numel: usize) -> Vec<f32> {
        self.sample(numel).repeat(batch)
    }
}

impl From<f32> for StateInit {
    fn from(v: f32) -> Self {
        StateInit::Uniform(v)
    }
}

/// Values row-major over `dims` as nested sequences (a bare number when `dims` is empty).
struct Nested<'a> {
    dims: &'a [usize],
    values: &'a [f32],
}

impl Serialize for Nested<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let Some((&outer, inner)) = self.dims.split_first() else {
            return s.serialize_f32(self.values.first().copied().unwrap_or_default());
        };
        let stride: usize = inner.iter().product();
        let mut seq = s.serialize_seq(Some(outer))?;
        for k in 0..outer {
            let values = self
                .values
                .get(k * stride..(k + 1) * stride)
                .unwrap_or_default();
            seq.serialize_element(&Nested {
                dims: inner,
                values,
            })?;
        }
        seq.end()
    }
}

impl Serialize for StateInit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StateInit::Uniform(v) => s.serialize_f32(*v),
            StateInit::PerNeuron { dims, values } => Nested { dims, values }.serialize(s),
        }
    }
}

/// A number or nested lists, as read before their shape is checked.
#[derive(Deserialize)]
#[serde(untagged)]
enum NestedValue {
    Value(f32),
    List(Vec<NestedValue>),
}

impl NestedValue {
    /// The sizes along the first element at every depth.
    fn dims(&self) -> Vec<usize> {
        let mut dims = Vec::new();
        let mut at = self;
        while let NestedValue::List(items) = at {
            dims.push(items.len());
            match items.first() {
                Some(first) => at = first,
                None => break,
            }
        }
        dims
    }

    /// Append the values row-major, checking that every list at depth `k` has `dims[k]` items.
    fn flatten(&self, dims: &[usize], out: &mut Vec<f32>) -> Result<(), String> {
        match (self, dims.split_first()) {
            (NestedValue::Value(v), None) => {
                out.push(*v);
                Ok(())
            }
            (NestedValue::List(items), Some((&n, inner))) if items.len() == n => {
                items.iter().try_for_each(|item| item.flatten(inner, out))
            }
            _ => Err(format!(
                "a state's init must be a number or nested lists of one shape ({dims:?} expected here)"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for StateInit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let nested = NestedValue::deserialize(d)?;
        if let NestedValue::Value(v) = nested {
            return Ok(StateInit::Uniform(v));
        }
        let dims = nested.dims();
        let mut values = Vec::new();
        nested
            .flatten(&dims, &mut values)
            .map_err(serde::de::Error::custom)?;
        Ok(StateInit::PerNeuron { dims, values })
    }
}

/// What a model takes and returns; also stored in its `snnc.interface` metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    /// `step` or `sequence`.
    pub model: String,
    /// The data inputs (`x_t` or `x`); the step model's states follow them as extra inputs.
    pub inputs: Vec<Port>,
    /// The data outputs; the step model's next states follow them as extra outputs.
    pub outputs: Vec<Port>,
    /// Step model only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<StatePort>,
}

/// A built model and its interface.
#[derive(Debug, Clone)]
pub struct Model {
    pub proto: onnx_protobuf::ModelProto,
    pub interface: Interface,
}

impl Model {
    pub fn to_bytes(&self) -> Result<Vec<u8>, OnnxError> {
        self.proto
            .write_to_bytes()
            .map_err(|e| OnnxError::Encode(e.to_string()))
    }
    pub fn write(&self, out: &mut dyn Write) -> Result<(), OnnxError> {
        out.write_all(&self.to_bytes()?)?;
        Ok(())
    }
}

/// The stateful single-step model of `m`.
pub fn step_model(m: &Module, opts: &Options) -> Result<Model, OnnxError> {
    let plan = plan::Plan::new(m, opts)?;
    Ok(models::step(&plan, opts))
}

/// The whole-sequence model of `m` (Scan over the timesteps).
pub fn sequence_model(m: &Module, opts: &Options) -> Result<Model, OnnxError> {
    let plan = plan::Plan::new(m, opts)?;
    Ok(models::sequence(&plan, opts))
}

/// Write the step model of `m` to `out`; returns its interface.
pub fn step(m: &Module, opts: &Options, out: &mut dyn Write) -> Result<Interface, OnnxError> {
    let model = step_model(m, opts)?;
    model.write(out)?;
    Ok(model.interface)
}

/// Write the sequence model of `m` to `out`; returns its interface.
pub fn sequence(m: &Module, opts: &Options, out: &mut dyn Write) -> Result<Interface, OnnxError> {
    let model = sequence_model(m, opts)?;
    model.write(out)?;
    Ok(model.interface)
}

/// FNV-1a (64 bit, hex) over the source files: `network.json`'s bytes, then the weights' bytes.
/// It identifies a source, it does not protect one (not cryptographic).
pub fn source_hash(network_json: &[u8], weights: Option<&[u8]>) -> String {
    let mut h = Fnv1a::new();
    h.update(network_json);
    if let Some(w) = weights {
        h.update(w);
    }
    h.hex()
}

/// FNV-1a of the module's text form (which holds every tensor's hash): what was compiled.
pub fn module_hash(m: &Module) -> String {
    let mut h = Fnv1a::new();
    h.update(crate::text::print(m, &crate::text::PrintOptions::default()).as_bytes());
    h.hex()
}
