//! A Candle model built from a validated network graph: parameters, and the BPTT forward over T steps.

use crate::error::SearchError;
use crate::init::{self, InitScheme};
use crate::layers::conv::{ConvSpec, FastConv2d};
use crate::layers::pool::{AvgPool, MaxPool, PoolGeometry};
use crate::layers::{self, BatchNorm};
use crate::neuron::{LeakyIntegrator, Neuron, NeuronState};
use crate::params::{ParamStore, to_net_tensor};
use candle_core::{D, DType, Device, Result, Tensor, Var};
use serde::{Deserialize, Serialize};
use snnc_compiler::network::{
    Encoding, IntegratorParams, Network, NeuronParams, NodeId, Op, ParamRole, ParamSource,
    Reduction, Weights, integrator_values, neuron_values,
};
use snnc_datasets::transform::Rng;
use std::collections::VecDeque;

/// The Candle counterpart of one graph node.
#[derive(Debug, Clone)]
enum Layer {
    Input,
    Conv {
        w: Var,
        b: Option<Var>,
        stride: usize,
        padding: (usize, usize),
        groups: usize,
    },
    Linear {
        w: Var,
        b: Option<Var>,
    },
    BatchNorm(BatchNorm),
    Neuron(Box<Neuron>),
    Integrator(LeakyIntegrator),
    AvgPool(AvgPool),
    MaxPool(MaxPool),
    Dropout(f64),
    Flatten,
    Sum,
    Scale(f64),
    Vote(usize),
}

/// Result of one forward pass over all timesteps.
#[derive(Debug)]
pub struct ForwardOutput {
    /// `[B, K]`: the readout node's outputs over time reduced as its readout kind says: summed
    /// (spike_count), averaged (time_mean, membrane_mean), the last (membrane_last) or the
    /// element-wise maximum (membrane_max).
    pub readout: Tensor,
    /// For every spiking node (in node order): spikes summed over the batch, per timestep.
    pub spikes: Vec<(NodeId, Vec<f64>)>,
}

/// Observer of node outputs during a forward pass: `(node, timestep, value)`.
pub type NodeHook<'a> = dyn FnMut(NodeId, usize, &Tensor) -> Result<()> + 'a;

/// Neuron states (membranes, synaptic currents) and dropout masks carried from one forward
/// pass into the next.
#[derive(Debug, Clone, Default)]
pub struct CarriedState {
    neurons: Vec<NeuronState>,
    masks: Vec<Option<Tensor>>,
}

/// Which convolution implementation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvImpl {
    /// im2col + GEMM custom op with both gradients through GEMM (the default).
    #[default]
    Fast,
    /// Candle's own `conv2d`, kept for comparison.
    Candle,
}

impl std::str::FromStr for ConvImpl {
    type Err = SearchError;
    fn from_str(s: &str) -> std::result::Result<Self, SearchError> {
        match s {
            "fast" => Ok(ConvImpl::Fast),
            "candle" => Ok(ConvImpl::Candle),
            _ => Err(SearchError::UnknownName {
                what: "conv implementation",
                given: s.to_string(),
                choices: "fast or candle",
            }),
        }
    }
}

/// A trainable SNN whose structure is a [`Network`].
#[derive(Debug, Clone)]
pub struct SnnModel {
    pub net: Network,
    pub params: ParamStore,
    pub conv_impl: ConvImpl,
    /// Record the autograd graph in train mode (for BPTT). Off for train-mode passes that only
    /// observe (SNASNet's scoring): each activation is then freed as soon as it is consumed.
    pub autograd: bool,
    layers: Vec<Layer>,
    /// Longest delay on any edge leaving each node (how much history it needs).
    max_delay: Vec<usize>,
    /// Where the parameters live and the state is made.
    device: Device,
}

fn weights_error(e: snnc_compiler::network::WeightsError) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

fn node_error(net: &Network, id: NodeId, msg: impl std::fmt::Display) -> candle_core::Error {
    candle_core::Error::Msg(format!("node `{}`: {msg}", net.node(id).name))
}

impl SnnModel {
    /// A freshly initialised model on `device`; every random draw comes from `seed`.
    pub fn new(net: Network, scheme: InitScheme, seed: u64, device: &Device) -> Result<Self> {
        Self::with_store(net, scheme, seed, ParamStore::new(), device)
    }

    /// A model whose parameters come from `params` where it already holds them by name (and
    /// shape), freshly initialised otherwise; the model's store is `params` plus those. Models
    /// built on clones of one store share their variables (a weight-sharing supernet).
    ///
    /// The tensors neuron fields name (per-neuron parameters) are never initialised: `params`
    /// must hold them ([`ParamStore::insert_neuron_params`]), or the build fails naming the
    /// node, field and tensor.
    pub fn with_store(
        net: Network,
        scheme: InitScheme,
        seed: u64,
        mut params: ParamStore,
        device: &Device,
    ) -> Result<Self> {
        let mut rng = Rng::new(seed);
        let mut layers = Vec::with_capacity(net.len());
        for id in 0..net.len() {
            let layer = Self::build_layer(&net, id, scheme, &mut rng, &mut params, device)?;
            layers.push(layer);
        }
        let mut max_delay = vec![0usize; net.len()];
        for ins in &net.inputs {
            for &(src, d) in ins {
                max_delay[src] = max_delay[src].max(d as usize);
            }
        }
        Ok(SnnModel {
            net,
            params,
            conv_impl: ConvImpl::default(),
            autograd: true,
            layers,
            max_delay,
            device: device.clone(),
        })
    }

    /// A model on `device` holding trained weights; checks every tensor's presence, shape and
    /// finiteness (and every per-neuron parameter's rules).
    pub fn from_weights(net: Network, weights: &Weights, device: &Device) -> Result<Self> {
        net.check_weights(weights)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        Self::from_checked_weights(net, weights, device)
    }

    /// [`SnnModel::from_weights`] for weights the caller has checked against `net`.
    pub fn from_checked_weights(net: Network, weights: &Weights, device: &Device) -> Result<Self> {
        let mut params = ParamStore::new();
        params.insert_neuron_params(&net, weights, device)?;
        let model = Self::with_store(net, InitScheme::Pytorch, 0, params, device)?;
        model.params.load_weights(weights)?;
        Ok(model)
    }

    /// Overwrite every parameter and buffer from `weights` (each must be present with its
    /// shape), per-neuron parameters included: the layers that read them are rebuilt from the
    /// new values.
    pub fn load_weights(&mut self, weights: &Weights) -> Result<()> {
        self.params.load_weights(weights)?;
        for id in 0..self.net.len() {
            if names_tensors(&self.net.node(id).op)
                && let Some(layer) = Self::neuron_layer(&self.net, id, &self.params, &self.device)?
            {
                self.layers[id] = layer;
            }
        }
        Ok(())
    }

    /// The layer of a node whose op is a neuron (`lif`, `if`, `cuba_lif`, `li`, `cuba_li`);
    /// `None` for any other op.
    fn neuron_layer(
        net: &Network,
        id: NodeId,
        params: &ParamStore,
        device: &Device,
    ) -> Result<Option<Layer>> {
        match &net.node(id).op {
            Op::Lif(p) | Op::If(p) | Op::CubaLif(p) => {
                Self::spiking_layer(net, id, p, params, device).map(Some)
            }
            Op::Li(p) | Op::CubaLi(p) => {
                Self::integrator_layer(net, id, p, params, device).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// A `lif`, `if` or `cuba_lif` layer of parameters `p`, the values of the fields that name
    /// tensors read from `params`.
    fn spiking_layer(
        net: &Network,
        id: NodeId,
        p: &NeuronParams,
        params: &ParamStore,
        device: &Device,
    ) -> Result<Layer> {
        let node = net.node(id);
        let shape = &net.shapes[id];
        let named = named_tensors(net, id, p, params)?;
        let values =
            neuron_values(&node.name, node.op.kind(), p, shape, &named).map_err(weights_error)?;
        // A validated network gives every cuba_lif its current's decay.
        if matches!(node.op, Op::CubaLif(_)) && values.synapse.is_none() {
            return Err(node_error(net, id, "cuba_lif needs `alpha` or `tau_syn`"));
        }
        Ok(Layer::Neuron(Box::new(Neuron::resolved(
            p.clone(),
            &values,
            shape.dims(),
            device,
        )?)))
    }

    /// An `li` or `cuba_li` layer of parameters `p`, as [`SnnModel::spiking_layer`].
    fn integrator_layer(
        net: &Network,
        id: NodeId,
        p: &IntegratorParams,
        params: &ParamStore,
        device: &Device,
    ) -> Result<Layer> {
        let node = net.node(id);
        let shape = &net.shapes[id];
        let named = named_tensors(net, id, &p.as_neuron(), params)?;
        let values = integrator_values(&node.name, p, shape, &named).map_err(weights_error)?;
        // A validated network gives every cuba_li its current's decay.
        if matches!(node.op, Op::CubaLi(_)) && values.synapse.is_none() {
            return Err(node_error(net, id, "cuba_li needs `alpha` or `tau_syn`"));
        }
        Ok(Layer::Integrator(LeakyIntegrator::resolved(
            &values,
            shape.dims(),
            device,
        )?))
    }

    fn build_layer(
        net: &Network,
        id: NodeId,
        scheme: InitScheme,
        rng: &mut Rng,
        params: &mut ParamStore,
        device: &Device,
    ) -> Result<Layer> {
        let node = net.node(id);
        let name = |role: ParamRole| node.tensor_name(role);
        let input_shape = net.input_shape(id).dims().to_vec();
        Ok(match &node.op {
            Op::Input(_) => Layer::Input,
            Op::Conv2d(c) => {
                if c.stride.0 != c.stride.1 {
                    return Err(node_error(
                        net,
                        id,
                        "Candle convolution needs a square stride",
                    ));
                }
                let shape = [
                    c.out_channels,
                    c.in_channels / c.groups,
                    c.kernel.0,
                    c.kernel.1,
                ];
                let w = params.insert_or_reuse(
                    &name(ParamRole::Weight),
                    init::conv_weight(scheme, rng, &shape, device)?,
                    true,
                )?;
                let fan_in = shape[1] * shape[2] * shape[3];
                let b = if c.bias {
                    Some(params.insert_or_reuse(
                        &name(ParamRole::Bias),
                        init::bias(scheme, rng, c.out_channels, fan_in, device)?,
                        true,
                    )?)
                } else {
                    None
                };
                Layer::Conv {
                    w,
                    b,
                    stride: c.stride.0,
                    padding: (c.padding.0, c.padding.1),
                    groups: c.groups,
                }
            }
            Op::Linear(l) => {
                let shape = [l.out_features, l.in_features];
                let w = params.insert_or_reuse(
                    &name(ParamRole::Weight),
                    init::linear_weight(scheme, rng, &shape, device)?,
                    true,
                )?;
                let b = if l.bias {
                    Some(params.insert_or_reuse(
                        &name(ParamRole::Bias),
                        init::bias(scheme, rng, l.out_features, l.in_features, device)?,
                        true,
                    )?)
                } else {
                    None
                };
                Layer::Linear { w, b }
            }
            Op::BatchNorm(bn) => {
                let c = input_shape[0];
                let ones = Tensor::ones(c, DType::F32, device)?;
                let zeros = Tensor::zeros(c, DType::F32, device)?;
                let stats: &[usize] = if bn.per_step {
                    &[net.desc.timesteps, c]
                } else {
                    &[c]
                };
                Layer::BatchNorm(BatchNorm {
                    weight: params.insert_or_reuse(&name(ParamRole::Weight), ones, true)?,
                    bias: params.insert_or_reuse(&name(ParamRole::Bias), zeros, true)?,
                    running_mean: params.insert_or_reuse(
                        &name(ParamRole::RunningMean),
                        Tensor::zeros(stats, DType::F32, device)?,
                        false,
                    )?,
                    running_var: params.insert_or_reuse(
                        &name(ParamRole::RunningVar),
                        Tensor::ones(stats, DType::F32, device)?,
                        false,
                    )?,
                    eps: bn.eps,
                    momentum: bn.momentum,
                    per_step: bn.per_step,
                })
            }
            Op::Lif(p) | Op::If(p) | Op::CubaLif(p) => {
                Self::spiking_layer(net, id, p, params, device)?
            }
            Op::Li(p) | Op::CubaLi(p) => Self::integrator_layer(net, id, p, params, device)?,
            Op::Plif(p) => {
                let u = p.uniform().ok_or_else(|| {
                    node_error(net, id, "plif takes numbers only, not per-neuron tensors")
                })?;
                let tau0 = u.tau.unwrap_or_else(|| 1.0 / u.leak());
                let w0 = Tensor::new(Neuron::plif_w0(tau0) as f32, device)?;
                let w = params.insert_or_reuse(&name(ParamRole::W), w0, true)?;
                Layer::Neuron(Box::new(Neuron::plif(p.clone(), w)))
            }
            Op::AvgPool(p) => Layer::AvgPool(AvgPool {
                geometry: geometry(p),
                count_include_pad: p.count_include_pad,
            }),
            Op::MaxPool(p) => Layer::MaxPool(MaxPool {
                geometry: geometry(p),
            }),
            Op::Dropout(d) => Layer::Dropout(d.p),
            Op::Flatten(_) => Layer::Flatten,
            Op::Sum(_) => Layer::Sum,
            Op::Scale(s) => Layer::Scale(s.factor),
            Op::Vote(v) => Layer::Vote(v.group),
        })
    }

    pub fn timesteps(&self) -> usize {
        self.net.desc.timesteps
    }

    /// The device the model's parameters live on; inputs go there too.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Names of spiking nodes, in node order (the layers spike reports are about).
    pub fn spiking_nodes(&self) -> Vec<NodeId> {
        (0..self.net.len())
            .filter(|&i| self.net.node(i).op.is_spiking())
            .collect()
    }

    /// Run all T steps. `input` is `[B, ...sample]` for direct encoding and `[B, T, ...frame]`
    /// for event frames. `rng` draws dropout masks (train mode only).
    pub fn forward(
        &self,
        input: &Tensor,
        train: bool,
        rng: &mut Rng,
        record_spikes: bool,
    ) -> Result<ForwardOutput> {
        self.forward_impl(input, train, rng, record_spikes, None, None)
    }

    /// [`SnnModel::forward`] that also hands every node's output to `hook(node, t, value)` each time
    /// the node runs (static nodes run at t = 0 only), with fresh state as `forward` has.
    pub fn forward_with_hook(
        &self,
        input: &Tensor,
        train: bool,
        rng: &mut Rng,
        hook: &mut NodeHook<'_>,
    ) -> Result<ForwardOutput> {
        self.forward_impl(input, train, rng, false, Some(hook), None)
    }

    /// [`SnnModel::forward_with_hook`] starting from the neuron states and dropout masks `carry` holds
    /// (fresh if it is empty) and leaving this pass's final ones in it. Delayed-edge buffers still
    /// start at zero. The batch size must stay the same while state is carried.
    pub fn forward_carrying(
        &self,
        input: &Tensor,
        train: bool,
        rng: &mut Rng,
        hook: &mut NodeHook<'_>,
        carry: &mut CarriedState,
    ) -> Result<ForwardOutput> {
        self.forward_impl(input, train, rng, false, Some(hook), Some(carry))
    }

    fn forward_impl(
        &self,
        input: &Tensor,
        train: bool,
        rng: &mut Rng,
        record_spikes: bool,
        mut hook: Option<&mut NodeHook<'_>>,
        mut carry: Option<&mut CarriedState>,
    ) -> Result<ForwardOutput> {
        let net = &self.net;
        let n = net.len();
        let timesteps = self.timesteps();
        let batch = input.dim(0)?;
        let frames = net.desc.input.encoding == Encoding::EventFrames;
        if frames && input.dim(1)? != timesteps {
            candle_core::bail!(
                "event-frame input has {} frames but the network runs {timesteps} timesteps",
                input.dim(1)?
            );
        }
        let mut current: Vec<Option<Tensor>> = vec![None; n];
        let mut history: Vec<VecDeque<Tensor>> = vec![VecDeque::new(); n];
        let (mut neurons, mut masks): (Vec<NeuronState>, Vec<Option<Tensor>>) =
            match carry.as_deref_mut() {
                Some(c) if c.neurons.len() == n && c.masks.len() == n => {
                    (std::mem::take(&mut c.neurons), std::mem::take(&mut c.masks))
                }
                _ => (vec![NeuronState::default(); n], vec![None; n]),
            };
        let spiking = self.spiking_nodes();
        let mut spikes: Vec<(NodeId, Vec<f64>)> = spiking
            .iter()
            .map(|&i| (i, Vec::with_capacity(timesteps)))
            .collect();
        let reduction = net.desc.readout.kind.reduction();
        let mut acc: Option<Tensor> = None;

        for t in 0..timesteps {
            for &id in &net.schedule {
                if t > 0 && net.is_static[id] {
                    continue;
                }
                let out = if id == net.input_node {
                    if frames {
                        input.narrow(1, t, 1)?.squeeze(1)?
                    } else {
                        input.clone()
                    }
                } else {
                    let x = self.gather_input(id, t, batch, &current, &history)?;
                    let y = self.apply(id, t, &x, train, rng, &mut neurons, &mut masks)?;
                    // Inference needs no autograd graph: cutting it at every node frees each
                    // activation as soon as its consumers have run, instead of at the end.
                    if train && self.autograd {
                        y
                    } else {
                        y.detach()
                    }
                };
                if let Some(h) = hook.as_mut() {
                    h(id, t, &out)?;
                }
                current[id] = Some(out);
            }
            for id in 0..n {
                if self.max_delay[id] > 0 {
                    let h = &mut history[id];
                    h.push_front(current[id].clone().expect("every node ran this step"));
                    h.truncate(self.max_delay[id]);
                }
            }
            let r = current[net.readout_node].as_ref().expect("readout ran");
            acc = Some(match (acc, reduction) {
                (None, _) | (Some(_), Reduction::Last) => r.clone(),
                (Some(a), Reduction::Sum | Reduction::Mean) => (a + r)?,
                (Some(a), Reduction::Max) => a.maximum(r)?,
            });
            if record_spikes {
                for (slot, &id) in spiking.iter().enumerate() {
                    let s = current[id]
                        .as_ref()
                        .expect("ran")
                        .sum_all()?
                        .to_scalar::<f32>()?;
                    spikes[slot].1.push(s as f64);
                }
            }
        }
        if let Some(c) = carry {
            c.neurons = neurons;
            c.masks = masks;
        }
        let folded = acc.expect("timesteps >= 1");
        let readout = match reduction {
            Reduction::Mean => folded.affine(1.0 / timesteps as f64, 0.0)?,
            Reduction::Sum | Reduction::Last | Reduction::Max => folded,
        };
        Ok(ForwardOutput { readout, spikes })
    }

    /// The sum of a node's incoming edges at step `t`, each read `delay` steps back.
    fn gather_input(
        &self,
        id: NodeId,
        t: usize,
        batch: usize,
        current: &[Option<Tensor>],
        history: &[VecDeque<Tensor>],
    ) -> Result<Tensor> {
        let mut sum: Option<Tensor> = None;
        for &(src, d) in &self.net.inputs[id] {
            let v = if d == 0 {
                current[src].as_ref()
            } else if t >= d as usize {
                history[src].get(d as usize - 1)
            } else {
                None
            };
            if let Some(v) = v {
                sum = Some(match sum {
                    None => v.clone(),
                    Some(s) => (s + v)?,
                });
            }
        }
        match sum {
            Some(s) => Ok(s),
            None => {
                let mut dims = vec![batch];
                dims.extend_from_slice(self.net.input_shape(id).dims());
                layers::zeros(&dims, &self.device)
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // the per-step state of one forward pass
    fn apply(
        &self,
        id: NodeId,
        t: usize,
        x: &Tensor,
        train: bool,
        rng: &mut Rng,
        neurons: &mut [NeuronState],
        masks: &mut [Option<Tensor>],
    ) -> Result<Tensor> {
        match &self.layers[id] {
            Layer::Input => Ok(x.clone()),
            Layer::Conv {
                w,
                b,
                stride,
                padding,
                groups,
            } => {
                let (ph, pw) = *padding;
                let y = match self.conv_impl {
                    ConvImpl::Fast => FastConv2d(ConvSpec {
                        stride: *stride,
                        padding: (ph, pw),
                        groups: *groups,
                    })
                    .forward(x, w.as_tensor())?,
                    ConvImpl::Candle => {
                        let (x, pad) = if ph == pw {
                            (x.clone(), ph)
                        } else {
                            (x.pad_with_zeros(2, ph, ph)?.pad_with_zeros(3, pw, pw)?, 0)
                        };
                        x.conv2d(w.as_tensor(), pad, *stride, 1, *groups)?
                    }
                };
                match b {
                    Some(b) => y.broadcast_add(&b.as_tensor().reshape((1, (), 1, 1))?),
                    None => Ok(y),
                }
            }
            Layer::Linear { w, b } => {
                layers::linear(x, w.as_tensor(), b.as_ref().map(|b| b.as_tensor()))
            }
            Layer::BatchNorm(bn) => bn.forward_step(x, train, t),
            Layer::Neuron(neuron) => neuron.advance(x, &mut neurons[id]),
            Layer::Integrator(li) => li.advance(x, &mut neurons[id]),
            Layer::AvgPool(p) => p.forward(&x.contiguous()?),
            Layer::MaxPool(p) => p.forward(&x.contiguous()?),
            Layer::Dropout(p) => {
                if !train || *p == 0.0 {
                    return Ok(x.clone());
                }
                if masks[id].is_none() {
                    masks[id] = Some(layers::dropout_mask(rng, x.dims(), *p, x.device())?);
                }
                x * masks[id].as_ref().expect("set above")
            }
            Layer::Flatten => x.flatten_from(1),
            Layer::Sum => Ok(x.clone()),
            Layer::Scale(f) => x.affine(*f, 0.0),
            Layer::Vote(g) => layers::vote(x, *g),
        }
    }
}

/// Whether any neuron field of `op` names a tensor (a per-channel or per-neuron parameter).
fn names_tensors(op: &Op) -> bool {
    let params = match (op.neuron(), op.integrator()) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => p.as_neuron(),
        (None, None) => return false,
    };
    params
        .sources()
        .iter()
        .any(|(_, s)| matches!(s, Some(ParamSource::Tensor(_))))
}

/// The tensors the fields of node `id`'s neuron parameters `p` name, from the model's store:
/// per-neuron parameters are buffers of the model, loaded with its weights.
fn named_tensors(
    net: &Network,
    id: NodeId,
    p: &NeuronParams,
    params: &ParamStore,
) -> Result<Weights> {
    let mut named = Weights::default();
    for (field, source) in p.sources() {
        let Some(ParamSource::Tensor(name)) = source else {
            continue;
        };
        let Some(var) = params.get(name) else {
            return Err(node_error(
                net,
                id,
                format!(
                    "`{field}` names tensor `{name}`, which the model was not given: per-neuron \
                     parameters come from the weights the network is evaluated or trained with \
                     (docs/network-format.md)"
                ),
            ));
        };
        named
            .tensors
            .insert(name.clone(), to_net_tensor(var.as_tensor())?);
    }
    Ok(named)
}

fn geometry(p: &snnc_compiler::network::Pool) -> PoolGeometry {
    let s = p.stride();
    PoolGeometry {
        kernel: (p.kernel.0, p.kernel.1),
        stride: (s.0, s.1),
        padding: (p.padding.0, p.padding.1),
    }
}

/// Index of the largest entry of each row of `[B, K]` scores.
pub fn predictions(readout: &Tensor) -> Result<Vec<u32>> {
    readout.argmax(D::Minus1)?.to_vec1::<u32>()
}
