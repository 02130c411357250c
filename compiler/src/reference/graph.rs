//! The reference interpreter of network descriptions: node semantics straight from the format.
//!
//! Independent of lowering on purpose: it reads the ops and weights as the trainer defines them
//! (SpikingJelly's LIF charge, BN from running statistics, PLIF's sigmoid leak), so running a
//! network here and its lowered module in [`super::run_module`] checks the lowering itself.

use super::kernels::{self, Pooling};
use super::{
    Fired, RunError, RunOutput, check_inputs, finish_reduction, fire_and_reset, frame, integrate,
    reduce,
};
use crate::network::{
    BatchNorm, Encoding, IntegratorValues, Network, NeuronValues, Op, ParamRole, ParamSource,
    Weights, WeightsError,
};

/// Run `net` with `weights` on a batch, in eval mode. Inputs as for [`super::run_module`].
pub fn run_network(
    net: &Network,
    weights: &Weights,
    inputs: &[Vec<f32>],
) -> Result<RunOutput, GraphRunError> {
    net.check_weights(weights)?;
    let per_step = net.desc.input.encoding == Encoding::EventFrames;
    let in_numel = net.shapes[net.input_node].numel();
    check_inputs(inputs, in_numel, net.desc.timesteps, per_step)?;
    let walk = Walk::new(net, weights, per_step, in_numel)?;
    let mut out = RunOutput {
        logits: Vec::new(),
        predictions: Vec::new(),
        layers: walk
            .layer_nodes
            .iter()
            .map(|&i| net.node(i).name.clone())
            .collect(),
        spikes: Vec::new(),
        near_threshold: Vec::new(),
    };
    for sample in inputs {
        let (acc, spikes, near) = walk.sample(sample);
        out.predictions.push(kernels::argmax(&acc));
        out.logits.push(acc);
        out.spikes.push(spikes);
        out.near_threshold.push(near);
    }
    Ok(out)
}

/// A neuron node's state across steps: its membrane and, for a current-based neuron, its
/// synaptic current (both empty for other nodes).
#[derive(Default)]
struct NeuronState {
    membrane: Vec<f64>,
    current: Vec<f64>,
}

/// What is fixed across samples: the network, its weights, each node's history depth and the
/// spiking layers' numbering.
struct Walk<'a> {
    net: &'a Network,
    weights: &'a Weights,
    per_step: bool,
    in_numel: usize,
    /// Per node, the outputs kept: one more than the longest delay out of it.
    depth: Vec<usize>,
    /// The spiking layers (lif, plif, if, cuba_lif, max_pool), in node order.
    layer_nodes: Vec<usize>,
    /// Per node, its index in `layer_nodes` (`usize::MAX` for the others).
    layer_of: Vec<usize>,
    /// Per neuron node, its parameters per neuron (a PLIF's leak from its tensor `w`).
    neurons: Vec<Option<NeuronValues>>,
    /// Per leaky-integrator node, its parameters per neuron.
    integrators: Vec<Option<IntegratorValues>>,
}

/// Per layer, per step: spikes and near-threshold counts of one sample.
type LayerSteps = Vec<Vec<u64>>;

impl<'a> Walk<'a> {
    fn new(
        net: &'a Network,
        weights: &'a Weights,
        per_step: bool,
        in_numel: usize,
    ) -> Result<Walk<'a>, WeightsError> {
        let n = net.len();
        let mut neurons = Vec::with_capacity(n);
        let mut integrators = Vec::with_capacity(n);
        for (id, node) in net.desc.nodes.iter().enumerate() {
            let shape = &net.shapes[id];
            neurons.push(match node.op.neuron() {
                Some(p) => Some(crate::network::neuron_values(
                    &node.name,
                    node.op.kind(),
                    p,
                    shape,
                    weights,
                )?),
                None => None,
            });
            integrators.push(match node.op.integrator() {
                Some(p) => Some(crate::network::integrator_values(
                    &node.name, p, shape, weights,
                )?),
                None => None,
            });
        }
        let mut depth = vec![1usize; n];
        for ins in &net.inputs {
            for &(src, d) in ins {
                depth[src] = depth[src].max(d as usize + 1);
            }
        }
        let layer_nodes: Vec<usize> = (0..n)
            .filter(|&i| {
                matches!(
                    net.node(i).op,
                    Op::Lif(_) | Op::Plif(_) | Op::If(_) | Op::CubaLif(_) | Op::MaxPool(_)
                )
            })
            .collect();
        let mut layer_of = vec![usize::MAX; n];
        for (l, &id) in layer_nodes.iter().enumerate() {
            layer_of[id] = l;
        }
        Ok(Walk {
            net,
            weights,
            per_step,
            in_numel,
            depth,
            layer_nodes,
            layer_of,
            neurons,
            integrators,
        })
    }

    /// Parameter `role` of node `id` (present: `check_weights` passed).
    fn tensor(&self, id: usize, role: ParamRole) -> &'a [f32] {
        &self
            .weights
            .get(&self.net.node(id).tensor_name(role))
            .expect("check_weights found it")
            .data
    }

    /// One sample through every step: the logits, and per layer and step its spikes and
    /// near-threshold counts.
    fn sample(&self, sample: &[f32]) -> (Vec<f64>, LayerSteps, LayerSteps) {
        let net = self.net;
        let (n, t_max) = (net.len(), net.desc.timesteps);
        let mut hist: Vec<Vec<Vec<f64>>> = (0..n)
            .map(|i| vec![vec![0.0; net.shapes[i].numel()]; self.depth[i]])
            .collect();
        let mut state: Vec<NeuronState> = (0..n)
            .map(|i| {
                let numel = net.shapes[i].numel();
                match (&self.neurons[i], &self.integrators[i]) {
                    (_, Some(li)) => NeuronState {
                        membrane: (0..numel).map(|k| li.rest.at(k)).collect(),
                        current: vec![0.0; numel],
                    },
                    (Some(p), None) => NeuronState {
                        membrane: (0..numel).map(|k| p.v_reset.at(k)).collect(),
                        current: match p.synapse {
                            Some(_) => vec![0.0; numel],
                            None => Vec::new(),
                        },
                    },
                    (None, None) => NeuronState::default(),
                }
            })
            .collect();
        let mut spikes = vec![vec![0u64; t_max]; self.layer_nodes.len()];
        let mut near = vec![vec![0u64; t_max]; self.layer_nodes.len()];
        let mut acc = vec![0.0f64; net.desc.num_classes];

        for t in 0..t_max {
            for &id in &net.schedule {
                // The node's input: the sum of its edges, each read `delay` steps back.
                let mut x = vec![0.0f64; net.input_shape(id).0.iter().product()];
                for &(src, d) in &net.inputs[id] {
                    let d = d as usize;
                    if t >= d {
                        let s = &hist[src][(t - d) % self.depth[src]];
                        x.iter_mut().zip(s).for_each(|(a, b)| *a += b);
                    }
                }
                let (y, fired) = self.node(id, t, x, sample, &mut state[id]);
                if let Some(f) = fired {
                    spikes[self.layer_of[id]][t] = f.spikes;
                    near[self.layer_of[id]][t] = f.near;
                }
                if id == net.readout_node {
                    reduce(&mut acc, &y, t, net.desc.readout.kind.reduction());
                }
                let slot = t % self.depth[id];
                hist[id][slot] = y;
            }
        }
        finish_reduction(&mut acc, t_max, net.desc.readout.kind.reduction());
        (acc, spikes, near)
    }

    /// Node `id`'s output at step `t` from its summed input `x`, and, for a spiking layer, what
    /// it fired. `state` is the node's own (empty for non-neurons).
    fn node(
        &self,
        id: usize,
        t: usize,
        mut x: Vec<f64>,
        sample: &[f32],
        state: &mut NeuronState,
    ) -> (Vec<f64>, Option<Fired>) {
        let node = self.net.node(id);
        let in_shape = &self.net.input_shape(id).0;
        let out_shape = &self.net.shapes[id].0;
        let mut y = vec![0.0f64; out_shape.iter().product()];
        let mut fired = None;
        match &node.op {
            Op::Input(_) => y = frame(sample, self.in_numel, t, self.per_step).collect(),
            Op::Conv2d(c) => {
                let w = self.tensor(id, ParamRole::Weight);
                let ws = [
                    c.out_channels,
                    c.in_channels / c.groups,
                    c.kernel.0,
                    c.kernel.1,
                ];
                let src = [in_shape[0], in_shape[1], in_shape[2]];
                kernels::conv2d_add(
                    &x,
                    src,
                    w,
                    ws,
                    [c.stride.0, c.stride.1],
                    [c.padding.0, c.padding.1],
                    c.groups,
                    &mut y,
                    [out_shape[1], out_shape[2]],
                );
                if c.bias {
                    kernels::channel_bias_add(self.tensor(id, ParamRole::Bias), &mut y);
                }
            }
            Op::Linear(l) => {
                kernels::dense_add(&x, self.tensor(id, ParamRole::Weight), &mut y);
                if l.bias {
                    kernels::channel_bias_add(self.tensor(id, ParamRole::Bias), &mut y);
                }
            }
            Op::BatchNorm(bn) => self.batch_norm(id, bn, t, &x, &mut y),
            Op::Lif(p) | Op::Plif(p) | Op::If(p) | Op::CubaLif(p) => {
                let values = self.neurons[id].as_ref().expect("resolved in Walk::new");
                let at = |i| values.at(i, p.reset, p.compare);
                // A current-based neuron: the input enters the current, the current charges.
                if values.synapse.is_some() {
                    let cur = state.current.iter_mut().zip(x.iter_mut());
                    for (i, (ii, xi)) in cur.enumerate() {
                        let syn = at(i).synapse.expect("a current-based neuron");
                        *ii = syn.update(*ii, *xi);
                        *xi = *ii;
                    }
                }
                let membrane = &mut state.membrane;
                // SpikingJelly's charge, literally, for a leak given as one tau or a PLIF
                // logit: k = 1/tau or sigmoid(w). A leak given as beta (snnTorch), per neuron,
                // and `if` charge in the canonical form, which is theirs.
                let k = match &node.op {
                    Op::Plif(_) => {
                        Some(1.0 / (1.0 + (-f64::from(self.tensor(id, ParamRole::W)[0])).exp()))
                    }
                    Op::Lif(_) => p
                        .tau
                        .as_ref()
                        .and_then(ParamSource::number)
                        .map(|tau| 1.0 / tau),
                    _ => None,
                };
                for (i, (vi, xi)) in membrane.iter_mut().zip(&x).enumerate() {
                    let neuron = at(i);
                    *vi = match k {
                        Some(k) => {
                            let pending = p.reset.is_delayed() && neuron.fires(*vi);
                            let u = if p.decay_input {
                                *vi + (xi - (*vi - neuron.rest())) * k
                            } else {
                                *vi + xi - (*vi - neuron.rest()) * k
                            };
                            if pending {
                                neuron.apply_delayed_reset(u)
                            } else {
                                u
                            }
                        }
                        None => neuron.charge(*vi, *xi),
                    };
                }
                fired = Some(fire_and_reset(membrane, &mut y, at));
            }
            Op::Li(_) | Op::CubaLi(_) => {
                // The leaky integrator's membrane is its output (`ir::Integrator`).
                let li = self.integrators[id]
                    .as_ref()
                    .expect("resolved in Walk::new");
                y.clone_from(&x);
                integrate(
                    |i| li.at(i),
                    &mut state.membrane,
                    &mut state.current,
                    &mut y,
                );
            }
            Op::AvgPool(p) | Op::MaxPool(p) => {
                let how = match &node.op {
                    Op::MaxPool(_) => Pooling::Max,
                    _ if p.count_include_pad => Pooling::Sum {
                        scale: 1.0 / (p.kernel.0 * p.kernel.1) as f64,
                    },
                    _ => Pooling::MeanInBounds,
                };
                let s = p.stride();
                let src = [in_shape[0], in_shape[1], in_shape[2]];
                kernels::pool_add(
                    &x,
                    src,
                    [p.kernel.0, p.kernel.1],
                    [s.0, s.1],
                    [p.padding.0, p.padding.1],
                    how,
                    &mut y,
                    [out_shape[1], out_shape[2]],
                );
                if matches!(node.op, Op::MaxPool(_)) {
                    fired = Some(Fired {
                        spikes: y.iter().filter(|v| **v != 0.0).count() as u64,
                        near: 0,
                    });
                }
            }
            // Inference: dropout is the identity; flatten keeps the row-major order.
            Op::Dropout(_) | Op::Flatten(_) | Op::Sum(_) => y = x,
            Op::Scale(s) => y = x.iter().map(|v| v * s.factor).collect(),
            Op::Vote(v) => {
                for (c, yc) in y.iter_mut().enumerate() {
                    *yc = x[c * v.group..(c + 1) * v.group].iter().sum::<f64>() / v.group as f64;
                }
            }
        }
        (y, fired)
    }

    /// Batch norm from running statistics (row `t` of them when kept per step).
    fn batch_norm(&self, id: usize, bn: &BatchNorm, t: usize, x: &[f64], y: &mut [f64]) {
        let (g, b) = (
            self.tensor(id, ParamRole::Weight),
            self.tensor(id, ParamRole::Bias),
        );
        let (mut mean, mut var) = (
            self.tensor(id, ParamRole::RunningMean),
            self.tensor(id, ParamRole::RunningVar),
        );
        if bn.per_step {
            let c = g.len();
            mean = &mean[t * c..(t + 1) * c];
            var = &var[t * c..(t + 1) * c];
        }
        let plane = x.len() / g.len();
        for (i, (yi, xi)) in y.iter_mut().zip(x).enumerate() {
            let c = i / plane;
            let norm = (xi - f64::from(mean[c])) / (f64::from(var[c]) + bn.eps).sqrt();
            *yi = f64::from(g[c]) * norm + f64::from(b[c]);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GraphRunError {
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(transparent)]
    Run(#[from] RunError),
}
