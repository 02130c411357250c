//! Optimisers with checkpointable state: SGD with momentum and weight decay, Adam, AdamW;
//! and the cosine learning-rate schedule.

use crate::error::SearchError;
use crate::params::{ParamStore, to_net_tensor};
use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};
use snnc_compiler::network::Weights;
use std::collections::BTreeMap;

/// Which update rule, with PyTorch's semantics for each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerKind {
    /// `buf = momentum*buf + (1-dampening)*(g + wd*p)`; `p -= lr*buf`.
    Sgd {
        momentum: f64,
        dampening: f64,
        weight_decay: f64,
    },
    /// Adam with L2 weight decay added to the gradient.
    Adam {
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    },
    /// Adam with decoupled weight decay: `p *= 1 - lr*wd` before the Adam step.
    AdamW {
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    },
}

impl OptimizerKind {
    pub fn parse(
        name: &str,
        momentum: f64,
        weight_decay: f64,
    ) -> std::result::Result<Self, SearchError> {
        match name {
            "sgd" => Ok(OptimizerKind::Sgd {
                momentum,
                dampening: 0.0,
                weight_decay,
            }),
            "adam" => Ok(OptimizerKind::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay,
            }),
            "adamw" => Ok(OptimizerKind::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay,
            }),
            _ => Err(SearchError::UnknownName {
                what: "optimizer",
                given: name.to_string(),
                choices: "sgd, adam or adamw",
            }),
        }
    }
}

/// An optimiser and its per-parameter state (momentum buffers or Adam moments).
pub struct Optimizer {
    pub kind: OptimizerKind,
    pub steps: u64,
    /// Keep updating a parameter that has optimiser state but no gradient this step, as if its
    /// gradient were zero: PyTorch 1.4's `zero_grad()` semantics, which AutoSNN's supernet
    /// training relies on (autosnn.md §3). Off: such parameters are left alone.
    pub update_without_grad: bool,
    first: BTreeMap<String, Tensor>,
    second: BTreeMap<String, Tensor>,
}

impl Optimizer {
    pub fn new(kind: OptimizerKind) -> Self {
        Optimizer {
            kind,
            steps: 0,
            update_without_grad: false,
            first: BTreeMap::new(),
            second: BTreeMap::new(),
        }
    }

    /// One update at learning rate `lr`. Parameters without a gradient are left alone.
    pub fn step(&mut self, params: &ParamStore, grads: &GradStore, lr: f64) -> Result<()> {
        self.steps += 1;
        let t = self.steps as i32;
        for (name, var) in params.trainable() {
            let zero;
            let g = match grads.get(var.as_tensor()) {
                Some(g) => g,
                None if self.update_without_grad && self.first.contains_key(name) => {
                    zero = var.as_tensor().zeros_like()?;
                    &zero
                }
                None => continue,
            };
            let p = var.as_tensor();
            let new = match self.kind {
                OptimizerKind::Sgd {
                    momentum,
                    dampening,
                    weight_decay,
                } => {
                    let g = if weight_decay != 0.0 {
                        (g + p.affine(weight_decay, 0.0)?)?
                    } else {
                        g.clone()
                    };
                    let dir = if momentum != 0.0 {
                        let buf = match self.first.get(name) {
                            Some(b) => {
                                (b.affine(momentum, 0.0)? + g.affine(1.0 - dampening, 0.0)?)?
                            }
                            None => g,
                        };
                        self.first.insert(name.clone(), buf.clone());
                        buf
                    } else {
                        g
                    };
                    (p - dir.affine(lr, 0.0)?)?
                }
                OptimizerKind::Adam {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                }
                | OptimizerKind::AdamW {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                } => {
                    let decoupled = matches!(self.kind, OptimizerKind::AdamW { .. });
                    let g = if !decoupled && weight_decay != 0.0 {
                        (g + p.affine(weight_decay, 0.0)?)?
                    } else {
                        g.clone()
                    };
                    let m = match self.first.get(name) {
                        Some(m) => (m.affine(beta1, 0.0)? + g.affine(1.0 - beta1, 0.0)?)?,
                        None => g.affine(1.0 - beta1, 0.0)?,
                    };
                    let v = match self.second.get(name) {
                        Some(v) => (v.affine(beta2, 0.0)? + g.sqr()?.affine(1.0 - beta2, 0.0)?)?,
                        None => g.sqr()?.affine(1.0 - beta2, 0.0)?,
                    };
                    let bc1 = 1.0 - beta1.powi(t);
                    let bc2 = 1.0 - beta2.powi(t);
                    let denom = v.affine(1.0 / bc2, 0.0)?.sqrt()?.affine(1.0, eps)?;
                    let update = (m.affine(lr / bc1, 0.0)? / denom)?;
                    self.first.insert(name.clone(), m);
                    self.second.insert(name.clone(), v);
                    let p = if decoupled && weight_decay != 0.0 {
                        p.affine(1.0 - lr * weight_decay, 0.0)?
                    } else {
                        p.clone()
                    };
                    (p - update)?
                }
            };
            var.set(&new)?;
        }
        Ok(())
    }

    /// State as named tensors (`first.<param>`, `second.<param>`) for a checkpoint.
    pub fn state(&self) -> Result<Weights> {
        let mut w = Weights::default();
        for (prefix, map) in [("first", &self.first), ("second", &self.second)] {
            for (k, t) in map {
                w.tensors.insert(format!("{prefix}.{k}"), to_net_tensor(t)?);
            }
        }
        Ok(w)
    }

    /// Restore `state` (as `state()` wrote it) for the parameters in `params`. Every tensor
    /// must be a moment of one of them, with its shape and finite values, so a checkpoint from
    /// another network is refused here rather than in a later step.
    pub fn load_state(&mut self, steps: u64, state: &Weights, params: &ParamStore) -> Result<()> {
        let vars: std::collections::BTreeMap<&str, &candle_core::Var> = params
            .all()
            .map(|(name, var, _)| (name.as_str(), var))
            .collect();
        let mut first = BTreeMap::new();
        let mut second = BTreeMap::new();
        for (k, t) in &state.tensors {
            let (map, name) = match (k.strip_prefix("first."), k.strip_prefix("second.")) {
                (Some(name), _) => (&mut first, name),
                (_, Some(name)) => (&mut second, name),
                _ => candle_core::bail!(
                    "optimizer state tensor `{k}` is neither `first.<param>` nor `second.<param>`"
                ),
            };
            let Some(var) = vars.get(name) else {
                candle_core::bail!(
                    "optimizer state tensor `{k}` belongs to no parameter of this network (a checkpoint of another network?)"
                )
            };
            if t.shape != var.dims() {
                candle_core::bail!(
                    "optimizer state tensor `{k}` has shape {:?}, but the parameter is {:?}",
                    t.shape,
                    var.dims()
                )
            }
            if t.data.iter().any(|v| !v.is_finite()) {
                candle_core::bail!("optimizer state tensor `{k}` holds a non-finite value")
            }
            let tensor = Tensor::from_slice(&t.data, t.shape.as_slice(), var.device())?;
            map.insert(name.to_string(), tensor);
        }
        self.steps = steps;
        self.first = first;
        self.second = second;
        Ok(())
    }
}

/// PyTorch's `CosineAnnealingLR(T_max = epochs, eta_min)`, stepped once per epoch.
pub fn cosine_lr(base: f64, eta_min: f64, epoch: usize, epochs: usize) -> f64 {
    if epochs == 0 {
        return base;
    }
    let progress = epoch as f64 / epochs as f64;
    eta_min + (base - eta_min) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
}
