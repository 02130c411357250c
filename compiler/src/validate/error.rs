//! What the validator reports: one typed error per problem, the entity each is about, and the
//! list of all of them.

use crate::ir::shape::{TargetShape, TargetShapeError};
use crate::ir::{Handle, Population, Projection, Shape, Tensor};
use crate::network::{MAX_ELEMENTS, MAX_SIZE};
use std::fmt;
use thiserror::Error;

/// The entity a validation error is about: where a reader of the text form should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The module header (`timesteps`, `classes`) or the module as a whole.
    Module,
    Tensor(Handle<Tensor>),
    Population(Handle<Population>),
    Projection(Handle<Projection>),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Module => write!(f, "the module"),
            Location::Tensor(h) => write!(f, "{h}"),
            Location::Population(h) => write!(f, "{h}"),
            Location::Projection(h) => write!(f, "{h}"),
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ValidationError {
    #[error("{projection}: {end} {population} does not exist (the module has {count} populations)")]
    DanglingPopulation {
        projection: Handle<Projection>,
        end: &'static str,
        population: Handle<Population>,
        count: usize,
    },
    #[error("{owner}: tensor {tensor} does not exist (the module has {count} tensors)")]
    DanglingTensor {
        owner: Location,
        tensor: Handle<Tensor>,
        count: usize,
    },
    #[error("the module needs exactly one {kind} population, found {}", if found.is_empty() { "none".to_string() } else { found.iter().map(|h| h.to_string()).collect::<Vec<_>>().join(", ") })]
    Count {
        kind: &'static str,
        found: Vec<Handle<Population>>,
    },
    #[error("{projection}: the input population {input} cannot receive projections")]
    IntoInput {
        projection: Handle<Projection>,
        input: Handle<Population>,
    },
    #[error("{projection}: the readout population {readout} cannot feed projections")]
    OutOfReadout {
        projection: Handle<Projection>,
        readout: Handle<Population>,
    },
    #[error("zero-delay cycle {}: every cycle needs a total delay of at least 1", format_cycle(.0))]
    ZeroDelayCycle(Vec<(Handle<Population>, String)>),
    #[error(
        "{projection} ({kind} {from} -> {to}): the source {from} is {from_shape}, so the target must be {expected}, but {to} is {to_shape}"
    )]
    ShapeMismatch {
        projection: Handle<Projection>,
        kind: &'static str,
        from: Handle<Population>,
        from_shape: Shape,
        to: Handle<Population>,
        to_shape: Shape,
        expected: TargetShape,
    },
    #[error("{projection}: {source}")]
    TargetShape {
        projection: Handle<Projection>,
        source: TargetShapeError,
    },
    #[error("{population}: a population is [C, H, W] or [N] with non-zero sizes, got {shape}")]
    PopulationShape {
        population: Handle<Population>,
        shape: Shape,
    },
    #[error(
        "{population}: bias {bias} has shape {found:?}, but a {shape} population needs {expected:?} (or {per_step:?}, one row per step)"
    )]
    BiasShape {
        population: Handle<Population>,
        bias: Handle<Tensor>,
        found: Vec<usize>,
        shape: Shape,
        expected: Vec<usize>,
        per_step: Vec<usize>,
    },
    #[error("{readout}: the readout must be [{classes}] (classes), but it is {shape}")]
    ReadoutShape {
        readout: Handle<Population>,
        classes: usize,
        shape: Shape,
    },
    #[error(
        "the module: {neurons} neuron values over {timesteps} timesteps exceed the limit of {} per sample",
        MAX_ELEMENTS
    )]
    TooLarge { neurons: usize, timesteps: usize },
    #[error("{tensor} (`{label}`): holds a non-finite value ({value}) at flat index {index}")]
    NonFinite {
        tensor: Handle<Tensor>,
        label: String,
        index: usize,
        value: f32,
    },
    #[error(
        "{tensor} (`{label}`): shape {shape:?} has {expected} elements but the data has {found}"
    )]
    TensorSize {
        tensor: Handle<Tensor>,
        label: String,
        shape: Vec<usize>,
        expected: usize,
        found: usize,
    },
    #[error("{projection}: delay {delay} exceeds the limit of {limit}")]
    DelayTooLarge {
        projection: Handle<Projection>,
        delay: u32,
        limit: u32,
    },
    #[error(
        "{projection}: unsupported: conv2d over the flat population {population} ({shape}); only [C, H, W] sources convolve"
    )]
    ConvOverFlat {
        projection: Handle<Projection>,
        population: Handle<Population>,
        shape: Shape,
    },
    #[error("{population}: {parameter} must be finite, got {value}")]
    NonFiniteNeuron {
        population: Handle<Population>,
        parameter: &'static str,
        value: f64,
    },
    #[error(
        "{population}: per-neuron {parameter} {tensor} has shape {found:?}; it needs the population's shape {shape}"
    )]
    ParamShape {
        population: Handle<Population>,
        parameter: &'static str,
        tensor: Handle<Tensor>,
        found: Vec<usize>,
        shape: Shape,
    },
    #[error("{population}: beta must lie in [0, 1] (a leak, not a gain), got {beta}")]
    Leak {
        population: Handle<Population>,
        beta: f64,
    },
    #[error("{population}: a synaptic current's alpha must lie in [0, 1), got {alpha}")]
    CurrentDecay {
        population: Handle<Population>,
        alpha: f64,
    },
    #[error(
        "{projection}: a kernel, stride, padding or group count of {value} exceeds the limit of {}",
        MAX_SIZE
    )]
    SizeTooLarge {
        projection: Handle<Projection>,
        value: usize,
    },
    #[error("{projection}: {what} must be non-zero")]
    ZeroSize {
        projection: Handle<Projection>,
        what: &'static str,
    },
    #[error("{projection}: {parameter} must be finite, got {value}")]
    NonFiniteFactor {
        projection: Handle<Projection>,
        parameter: &'static str,
        value: f64,
    },
    #[error("{projection}: dropout p must be in [0, 1), got {p}")]
    DropoutRate {
        projection: Handle<Projection>,
        p: f64,
    },
    #[error("{population}: is marked const, but its bias has one row per step")]
    ConstWithPerStepBias { population: Handle<Population> },
    #[error(
        "{population}: is marked const, but it receives {from} with delay {delay}, which changes over time"
    )]
    ConstFedByVarying {
        population: Handle<Population>,
        from: Handle<Population>,
        delay: u32,
    },
    #[error(
        "{population}: is marked const, but it receives {from} through an affine with one row per step"
    )]
    ConstThroughPerStepAffine {
        population: Handle<Population>,
        from: Handle<Population>,
    },
    #[error("the module's {what} is {found}: {message}")]
    Header {
        what: &'static str,
        found: usize,
        message: &'static str,
    },
}

impl ValidationError {
    /// The entity the error is about; for an error between several, the one its message names
    /// first (a cycle's first population, the first of two readouts).
    pub fn location(&self) -> Location {
        use ValidationError as E;
        match self {
            E::DanglingPopulation { projection, .. }
            | E::IntoInput { projection, .. }
            | E::OutOfReadout { projection, .. }
            | E::ShapeMismatch { projection, .. }
            | E::TargetShape { projection, .. }
            | E::DelayTooLarge { projection, .. }
            | E::ConvOverFlat { projection, .. }
            | E::SizeTooLarge { projection, .. }
            | E::ZeroSize { projection, .. }
            | E::NonFiniteFactor { projection, .. }
            | E::DropoutRate { projection, .. } => Location::Projection(*projection),
            E::PopulationShape { population, .. }
            | E::BiasShape { population, .. }
            | E::NonFiniteNeuron { population, .. }
            | E::ParamShape { population, .. }
            | E::Leak { population, .. }
            | E::CurrentDecay { population, .. }
            | E::ConstWithPerStepBias { population }
            | E::ConstFedByVarying { population, .. }
            | E::ConstThroughPerStepAffine { population, .. }
            | E::ReadoutShape {
                readout: population,
                ..
            } => Location::Population(*population),
            E::NonFinite { tensor, .. } | E::TensorSize { tensor, .. } => Location::Tensor(*tensor),
            E::DanglingTensor { owner, .. } => *owner,
            E::Count { found, .. } => found
                .first()
                .map_or(Location::Module, |&p| Location::Population(p)),
            E::ZeroDelayCycle(cycle) => cycle
                .first()
                .map_or(Location::Module, |&(p, _)| Location::Population(p)),
            E::TooLarge { .. } | E::Header { .. } => Location::Module,
        }
    }
}

fn format_cycle(c: &[(Handle<Population>, String)]) -> String {
    c.iter()
        .map(|(h, n)| format!("{h} `{n}`"))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Every problem validation found (at least one), in the order the checks ran; prints one per line.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationErrors(pub(super) Vec<ValidationError>);

impl ValidationErrors {
    pub fn first(&self) -> &ValidationError {
        &self.0[0]
    }
    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.0.iter()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn into_vec(self) -> Vec<ValidationError> {
        self.0
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a ValidationError;
    type IntoIter = std::slice::Iter<'a, ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
