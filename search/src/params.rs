//! The parameter store of a model: named Candle variables, trainable or buffer, saved as safetensors.

use candle_core::{DType, Device, Result, Tensor, Var};
use snnc_compiler::network::{Network, Tensor as NetTensor, Weights, per_neuron_specs};
use std::collections::BTreeMap;

/// Named variables in a stable (sorted) order, so optimiser state and files are deterministic.
#[derive(Debug, Clone, Default)]
pub struct ParamStore {
    vars: BTreeMap<String, (Var, bool)>,
}

impl ParamStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a variable; `trainable = false` marks a buffer (BN running statistics).
    pub fn insert(&mut self, name: &str, t: Tensor, trainable: bool) -> Result<Var> {
        let var = Var::from_tensor(&t)?;
        self.vars.insert(name.to_string(), (var.clone(), trainable));
        Ok(var)
    }

    /// [`ParamStore::insert`], unless `name` is already registered with `t`'s shape: then the
    /// existing variable is returned and `t` is dropped (networks sharing one store).
    pub fn insert_or_reuse(&mut self, name: &str, t: Tensor, trainable: bool) -> Result<Var> {
        match self.vars.get(name) {
            Some((var, _)) if var.dims() == t.dims() => Ok(var.clone()),
            Some((var, _)) => candle_core::bail!(
                "parameter `{name}` is shared with shape {:?} but this network needs {:?}",
                var.dims(),
                t.dims()
            ),
            None => self.insert(name, t, trainable),
        }
    }

    /// Add the tensors `net`'s neuron fields name (per-channel and per-neuron parameters) from
    /// `weights`, on `device`, as buffers: constants of the network, saved and loaded with its
    /// weights (checkpoints and trained runs keep them) and never trained. A name `weights`
    /// lacks is left out; building the model then fails naming its node, field and tensor.
    pub fn insert_neuron_params(
        &mut self,
        net: &Network,
        weights: &Weights,
        device: &Device,
    ) -> Result<()> {
        for (name, _, _) in per_neuron_specs(net) {
            if let Some(t) = weights.get(&name) {
                let values = Tensor::from_slice(&t.data, t.shape.as_slice(), device)?;
                self.insert(&name, values, false)?;
            }
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.vars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&Var> {
        self.vars.get(name).map(|(v, _)| v)
    }

    pub fn trainable(&self) -> impl Iterator<Item = (&String, &Var)> {
        self.vars
            .iter()
            .filter(|(_, (_, t))| *t)
            .map(|(n, (v, _))| (n, v))
    }

    pub fn all(&self) -> impl Iterator<Item = (&String, &Var, bool)> {
        self.vars.iter().map(|(n, (v, t))| (n, v, *t))
    }

    /// Snapshot every variable as framework-neutral f32 tensors.
    pub fn to_weights(&self) -> Result<Weights> {
        let mut w = Weights::default();
        for (name, var, _) in self.all() {
            w.tensors
                .insert(name.clone(), to_net_tensor(var.as_tensor())?);
        }
        Ok(w)
    }

    /// Overwrite variables from `weights`; every variable must be present with its shape.
    pub fn load_weights(&self, weights: &Weights) -> Result<()> {
        for (name, var, _) in self.all() {
            let Some(t) = weights.get(name) else {
                candle_core::bail!("weights have no tensor `{name}`")
            };
            let src = Tensor::from_slice(&t.data, t.shape.as_slice(), var.device())?;
            let src = src.reshape(var.shape())?;
            var.set(&src)?;
        }
        Ok(())
    }
}

pub fn to_net_tensor(t: &Tensor) -> Result<NetTensor> {
    let data = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    Ok(NetTensor::new(t.dims().to_vec(), data))
}
