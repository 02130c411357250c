//! What another framework computed for a network: the peer fixtures `tests/peers/generate.py`
//! writes (inputs, per-layer spikes and membranes, readout), read for comparison with snnc.

use crate::network::{Network, NetworkError, Weights, WeightsError};
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PeerError {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("{file}: {message}")]
    Format { file: String, message: String },
}

/// One layer's record over a batch: `[sample][t][neuron]`, flat.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerRecord {
    pub samples: usize,
    pub steps: usize,
    pub neurons: usize,
    pub spikes: Vec<u8>,
    /// The membrane the framework exposes (its meaning per framework: tests/peers/generate.py).
    pub membrane: Vec<f32>,
}

impl LayerRecord {
    pub fn spike(&self, sample: usize, t: usize, neuron: usize) -> bool {
        self.spikes[(sample * self.steps + t) * self.neurons + neuron] != 0
    }

    pub fn membrane(&self, sample: usize, t: usize, neuron: usize) -> f32 {
        self.membrane[(sample * self.steps + t) * self.neurons + neuron]
    }
}

/// A peer fixture folder: the network, its weights, the inputs and the peer's record.
#[derive(Debug)]
pub struct PeerRun {
    pub dir: PathBuf,
    pub network: Network,
    pub weights: Weights,
    /// One input per sample, as the reference interpreters and the runtime take it.
    pub inputs: Vec<Vec<f32>>,
    /// Per neuron layer (by node name).
    pub layers: BTreeMap<String, LayerRecord>,
    /// Per sample, the readout the peer computed: spike counts of the last layer, or the
    /// reduced membrane of a leaky integrator read out.
    pub readout: Vec<Vec<f32>>,
}

/// Relative tolerance of a membrane readout: the framework sums the synaptic input in another
/// order, so the membrane (unlike a spike count) can differ in its last bits.
pub const MEMBRANE_READOUT_TOLERANCE: f32 = 1e-5;

impl PeerRun {
    /// Whether `ours` agrees with the peer's readout of sample `s`: exactly for spike counts,
    /// within [`MEMBRANE_READOUT_TOLERANCE`] (relative, floored at 1) for a membrane readout.
    /// On disagreement, says where.
    pub fn check_readout(&self, s: usize, ours: &[f32]) -> Result<(), String> {
        let theirs = &self.readout[s];
        if ours.len() != theirs.len() {
            return Err(format!(
                "sample {s}: readout of {} values, peer {}",
                ours.len(),
                theirs.len()
            ));
        }
        let membrane = self.network.desc.readout.kind.reads_membrane();
        for (c, (a, b)) in ours.iter().zip(theirs).enumerate() {
            let ok = if membrane {
                (a - b).abs() <= MEMBRANE_READOUT_TOLERANCE * b.abs().max(1.0)
            } else {
                a == b
            };
            if !ok {
                return Err(format!("sample {s} class {c}: readout {a}, peer {b}"));
            }
        }
        Ok(())
    }

    pub fn load(dir: &Path) -> Result<PeerRun, PeerError> {
        let network = Network::load(&dir.join("network.json"))?;
        let weights = Weights::load(&dir.join("weights.safetensors"))?;
        let path = dir.join("peer.safetensors");
        let file = path.display().to_string();
        let bad = |message: String| PeerError::Format {
            file: file.clone(),
            message,
        };
        let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
        let get = |name: &str, dtype: Dtype| -> Result<(Vec<usize>, Vec<u8>), PeerError> {
            let v = st
                .tensor(name)
                .map_err(|_| bad(format!("no tensor `{name}`")))?;
            if v.dtype() != dtype {
                return Err(bad(format!(
                    "`{name}` is {:?}, expected {dtype:?}",
                    v.dtype()
                )));
            }
            Ok((v.shape().to_vec(), v.data().to_vec()))
        };
        let f32s = |raw: Vec<u8>| -> Vec<f32> {
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        let rows = |shape: &[usize], data: Vec<f32>| -> Vec<Vec<f32>> {
            let width = shape.iter().skip(1).product::<usize>().max(1);
            data.chunks(width).map(<[f32]>::to_vec).collect()
        };
        let (shape, raw) = get("input", Dtype::F32)?;
        let inputs = rows(&shape, f32s(raw));
        let (shape, raw) = get("readout", Dtype::F32)?;
        let readout = rows(&shape, f32s(raw));
        let mut layers = BTreeMap::new();
        for name in st.names() {
            let Some(layer) = name.strip_prefix("spikes.") else {
                continue;
            };
            let (shape, spikes) = get(name, Dtype::U8)?;
            let [samples, steps, neurons] = shape[..] else {
                return Err(bad(format!("`{name}` must be [samples, steps, neurons]")));
            };
            let (mshape, raw) = get(&format!("membrane.{layer}"), Dtype::F32)?;
            if mshape != shape {
                return Err(bad(format!(
                    "`membrane.{layer}` differs in shape from `{name}`"
                )));
            }
            let record = LayerRecord {
                samples,
                steps,
                neurons,
                spikes,
                membrane: f32s(raw),
            };
            layers.insert(layer.to_string(), record);
        }
        Ok(PeerRun {
            dir: dir.to_path_buf(),
            network,
            weights,
            inputs,
            layers,
            readout,
        })
    }

    /// Every fixture folder under `root` (those holding a `peer.safetensors`), sorted.
    pub fn all(root: &Path) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        dirs.retain(|d| d.join("peer.safetensors").is_file());
        dirs.sort();
        dirs
    }
}
