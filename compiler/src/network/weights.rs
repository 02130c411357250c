//! Parameter tensors of a trained network: read and write `weights.safetensors`, check against the graph.

use super::Network;
use super::ops::ParamRole;
use safetensors::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

/// A dense f32 tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { shape, data }
    }
}

/// All parameter tensors of a network, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Weights {
    pub tensors: BTreeMap<String, Tensor>,
}

#[derive(Debug, Error)]
pub enum WeightsError {
    #[error("{file}: cannot read weights: {message}")]
    Io { file: String, message: String },
    #[error("{file}: not a valid safetensors file: {message}")]
    Format { file: String, message: String },
    #[error("{file}: tensor `{name}` has dtype {dtype:?}; snnc reads F32, F64 and F16 weights")]
    Dtype {
        file: String,
        name: String,
        dtype: Dtype,
    },
    #[error("node `{node}`: weights have no tensor `{tensor}` (expected shape {expected:?})")]
    Missing {
        node: String,
        tensor: String,
        expected: Vec<usize>,
    },
    #[error("node `{node}`: tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    Shape {
        node: String,
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error(
        "node `{node}`: tensor `{tensor}` holds a non-finite value ({value}) at flat index {index}; retrain or fix the exporter"
    )]
    NonFinite {
        node: String,
        tensor: String,
        index: usize,
        value: f32,
    },
    #[error(
        "node `{node}`: tensor `{tensor}` holds a negative variance ({value}) at flat index {index}; running variances are never below 0: retrain or fix the exporter"
    )]
    NegativeVariance {
        node: String,
        tensor: String,
        index: usize,
        value: f32,
    },
    #[error(transparent)]
    NeuronParam(Box<NeuronParamError>),
    /// `shapes`: the tensor's shape and the population's, written out (kept in one string so
    /// the error stays small).
    #[error(
        "node `{node}`: `{field}` names tensor `{tensor}` {shapes}; a neuron parameter is [] (one value), [C] or [C, 1, 1] (per channel) or the population's shape (per neuron)"
    )]
    NeuronParamShape {
        node: String,
        field: &'static str,
        tensor: String,
        shapes: String,
    },
    /// Not a `source` (the field's name): the message carries the cause once, so printing the
    /// error chain does not repeat it.
    #[error("{file}: {error}")]
    InFile {
        file: String,
        error: Box<WeightsError>,
    },
}

/// A neuron parameter's value breaks its rule at one neuron (boxed in [`WeightsError`], so the
/// error stays small).
#[derive(Debug, Error)]
#[error(
    "node `{node}`: `{field}`{}, neuron {index}: {message}",
    if tensor.is_empty() { String::new() } else { format!(" (tensor `{tensor}`)") }
)]
pub struct NeuronParamError {
    pub node: String,
    pub field: &'static str,
    /// The tensor the field names; empty when the field is a number.
    pub tensor: String,
    pub index: usize,
    pub message: String,
}

impl WeightsError {
    /// Name the file the checked weights came from (errors about reading it name it already).
    pub fn in_file(self, path: &Path) -> WeightsError {
        match self {
            WeightsError::Missing { .. }
            | WeightsError::Shape { .. }
            | WeightsError::NonFinite { .. }
            | WeightsError::NegativeVariance { .. }
            | WeightsError::NeuronParam(_)
            | WeightsError::NeuronParamShape { .. } => WeightsError::InFile {
                file: path.display().to_string(),
                error: Box::new(self),
            },
            other => other,
        }
    }
}

fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exp = ((bits >> 10) & 0x1f) as u32;
    let frac = (bits & 0x3ff) as u32;
    let out = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: renormalise into an f32 normal.
            let shift = f.leading_zeros() - 21;
            sign | ((127 - 15 - shift + 1) << 23) | (((f << shift) & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(out)
}

impl Weights {
    pub fn load(path: &Path) -> Result<Weights, WeightsError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| WeightsError::Io {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Self::from_bytes(&bytes, &file)
    }

    pub fn from_bytes(bytes: &[u8], file: &str) -> Result<Weights, WeightsError> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            let raw = view.data();
            let data: Vec<f32> = match view.dtype() {
                Dtype::F32 => raw
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                Dtype::F64 => raw
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                    .collect(),
                Dtype::F16 => raw
                    .chunks_exact(2)
                    .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                    .collect(),
                dtype => {
                    return Err(WeightsError::Dtype {
                        file: file.to_string(),
                        name,
                        dtype,
                    });
                }
            };
            tensors.insert(name, Tensor::new(view.shape().to_vec(), data));
        }
        Ok(Weights { tensors })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let views: Vec<(&str, F32View<'_>)> = self
            .tensors
            .iter()
            .map(|(k, t)| (k.as_str(), F32View(t)))
            .collect();
        safetensors::serialize(views, None).expect("f32 tensors always serialise")
    }

    /// Write atomically: a temporary file in the same folder, then a rename.
    pub fn save(&self, path: &Path) -> Result<(), WeightsError> {
        crate::atomic::write(path, &self.to_bytes()).map_err(|e| WeightsError::Io {
            file: path.display().to_string(),
            message: e.to_string(),
        })
    }

    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }
}

struct F32View<'a>(&'a Tensor);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.0.data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
    fn data_len(&self) -> usize {
        self.0.data.len() * 4
    }
}

pub(super) fn check_against(net: &Network, weights: &Weights) -> Result<(), WeightsError> {
    for (id, node) in net.desc.nodes.iter().enumerate() {
        if let Some(p) = node.op.neuron() {
            super::neuron_values(&node.name, node.op.kind(), p, &net.shapes[id], weights)?;
        }
        if let Some(p) = node.op.integrator() {
            super::integrator_values(&node.name, p, &net.shapes[id], weights)?;
        }
        for (role, expected) in net.param_shapes(id) {
            let tensor = node.tensor_name(role);
            let Some(t) = weights.get(&tensor) else {
                return Err(WeightsError::Missing {
                    node: node.name.clone(),
                    tensor,
                    expected,
                });
            };
            // A scalar may be stored as [] or [1].
            let scalar_ok = expected.is_empty() && t.shape == [1];
            if t.shape != expected && !scalar_ok {
                return Err(WeightsError::Shape {
                    node: node.name.clone(),
                    tensor,
                    expected,
                    found: t.shape.clone(),
                });
            }
            if let Some((index, &value)) = t.data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(WeightsError::NonFinite {
                    node: node.name.clone(),
                    tensor,
                    index,
                    value,
                });
            }
            if role == ParamRole::RunningVar
                && let Some((index, &value)) = t.data.iter().enumerate().find(|(_, v)| **v < 0.0)
            {
                return Err(WeightsError::NegativeVariance {
                    node: node.name.clone(),
                    tensor,
                    index,
                    value,
                });
            }
        }
    }
    Ok(())
}
