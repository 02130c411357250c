//! Lowering: a validated `Network` plus its `Weights` becomes a faithful event-IR `Module`.
//!
//! Faithful means nothing is folded here: batch norm stays a per-channel affine projection,
//! dropout an identity-at-inference projection, each LIF keeps its input gain, SNASNet's zero op a
//! `scale 0`. Passes (see `passes`) simplify afterwards; the reference interpreter checks they
//! keep the outputs. Every network node becomes one population holding its output; a node with a
//! single-input op (conv, BN, pool, ...) and several incoming edges first sums them in a relay
//! population `<node>.in`. The readout becomes one extra readout population fed by the readout node.

use crate::ir::{
    self, Handle, Module, Population, PopulationKind, Projection, ProjectionKind, Tensor,
};
use crate::network::{
    self, IntegratorValues, Network, NeuronValues, NodeId, Op, ParamRole, Values, Weights,
    WeightsError,
};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LowerError {
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("node `{node}`: {message}")]
    Unsupported { node: String, message: String },
}

/// Lower `net` with its trained `weights`. Takes the weights by value: their buffers move into
/// the module, so lowering never holds two copies of the parameters.
pub fn lower(net: &Network, weights: Weights) -> Result<Module, LowerError> {
    net.check_weights(&weights)?;
    let mut cx = Lowering {
        net,
        weights,
        taken: Default::default(),
        m: Module {
            name: net.desc.name.clone(),
            timesteps: net.desc.timesteps,
            num_classes: net.desc.num_classes,
            ..Module::default()
        },
    };

    // Phase 1: one population per node (plus relays), in schedule order, so feedback edges can
    // point at populations created later. The op's projection kind (and its tensors) is made here
    // too, so each node's tensors are numbered together.
    let mut pop_of: Vec<Option<Handle<Population>>> = vec![None; net.len()];
    let mut relay_of: Vec<Option<Handle<Population>>> = vec![None; net.len()];
    let mut op_kind: Vec<Option<ProjectionKind>> = vec![None; net.len()];
    for &id in &net.schedule {
        let node = net.node(id);
        if needs_relay(&node.op, net.inputs[id].len()) {
            let relay = Population {
                name: format!("{}.in", node.name),
                shape: net.input_shape(id).clone(),
                kind: PopulationKind::Analog(ir::Analog {
                    bias: None,
                    constant: false,
                }),
            };
            relay_of[id] = Some(cx.m.populations.push(relay));
        }
        let (kind, proj) = cx.node(id)?;
        op_kind[id] = proj;
        let shape = net.shapes[id].clone();
        pop_of[id] = Some(cx.m.populations.push(Population {
            name: node.name.clone(),
            shape,
            kind,
        }));
    }
    let pop = |id: NodeId| pop_of[id].expect("every node got a population in phase 1");
    let m = &mut cx.m;

    // Phase 2: projections, grouped by target in population order.
    for &id in &net.schedule {
        let edges = &net.inputs[id];
        match op_kind[id].take() {
            None => {
                for &(src, delay) in edges {
                    push(
                        m,
                        pop(src),
                        pop(id),
                        delay,
                        ProjectionKind::Identity(ir::Identity),
                    );
                }
            }
            Some(kind) => {
                let (source, delay) = match relay_of[id] {
                    Some(relay) => {
                        for &(src, d) in edges {
                            push(
                                m,
                                pop(src),
                                relay,
                                d,
                                ProjectionKind::Identity(ir::Identity),
                            );
                        }
                        (relay, 0)
                    }
                    None => (pop(edges[0].0), edges[0].1),
                };
                if matches!(net.node(id).op, Op::MaxPool(_))
                    && !matches!(m.populations[source].kind, PopulationKind::Spiking(_))
                {
                    return Err(unsupported(
                        net,
                        id,
                        "max_pool is supported over binary spikes only (it lowers to an OR); feed it from a single lif/plif node",
                    ));
                }
                push(m, source, pop(id), delay, kind);
            }
        }
    }

    let integrator = match net.node(net.readout_node).op.integrator() {
        Some(p) => {
            let node = &net.node(net.readout_node).name;
            let shape = &net.shapes[net.readout_node];
            let v = network::integrator_values(node, p, shape, &cx.weights)?;
            Some(cx.integrator(net.readout_node, v))
        }
        None => None,
    };
    let m = &mut cx.m;
    let readout = m.populations.push(Population {
        name: "readout".into(),
        shape: net.shapes[net.readout_node].clone(),
        kind: PopulationKind::Readout(ir::Readout {
            mode: net.desc.readout.kind,
            bias: None,
            integrator,
        }),
    });
    push(
        m,
        pop(net.readout_node),
        readout,
        0,
        ProjectionKind::Identity(ir::Identity),
    );
    // Canonical numbering (tensors in order of first mention), the same every pass leaves.
    Ok(crate::passes::renumber(cx.m))
}

struct Lowering<'a> {
    net: &'a Network,
    weights: Weights,
    m: Module,
    /// Tensors already moved into the module, by their name in the weights.
    taken: std::collections::BTreeMap<String, Handle<Tensor>>,
}

/// `check_weights` has run, so this cannot happen for a validated network; reported, not unwrapped.
fn missing(node: &network::Node, name: &str) -> LowerError {
    LowerError::Weights(WeightsError::Missing {
        node: node.name.clone(),
        tensor: name.to_string(),
        expected: vec![],
    })
}

fn push(
    m: &mut Module,
    source: Handle<Population>,
    target: Handle<Population>,
    delay: u32,
    kind: ProjectionKind,
) {
    m.projections.push(Projection {
        source,
        target,
        delay,
        kind,
    });
}

/// Ops that act on one input: with several incoming edges their sum goes through a relay first.
fn needs_relay(op: &Op, edges: usize) -> bool {
    edges > 1
        && !matches!(
            op,
            Op::Input(_) | Op::Lif(_) | Op::Plif(_) | Op::If(_) | Op::CubaLif(_) | Op::Sum(_)
        )
}

fn unsupported(net: &Network, id: NodeId, message: &str) -> LowerError {
    LowerError::Unsupported {
        node: net.node(id).name.clone(),
        message: message.to_string(),
    }
}

impl Lowering<'_> {
    /// Move a parameter tensor out of the weights into the module. A tensor two nodes name
    /// (tied weights, via `params`) is moved once and shared by handle.
    fn take(&mut self, id: NodeId, role: ParamRole) -> Result<Handle<Tensor>, LowerError> {
        let node = self.net.node(id);
        let name = node.tensor_name(role);
        if let Some(&h) = self.taken.get(&name) {
            return Ok(h);
        }
        let t = self
            .weights
            .tensors
            .remove(&name)
            .ok_or_else(|| missing(node, &name))?;
        let h = self
            .m
            .tensors
            .push(Tensor::new(name.clone(), t.shape, t.data));
        self.taken.insert(name, h);
        Ok(h)
    }

    /// The values of a small parameter (BN statistics, a PLIF leak) that lowering folds into
    /// new tensors; read where they are, so tied names work too.
    fn read(&self, id: NodeId, role: ParamRole) -> Result<Vec<f32>, LowerError> {
        let node = self.net.node(id);
        let name = node.tensor_name(role);
        if let Some(&h) = self.taken.get(&name) {
            return Ok(self.m.tensors[h].data.clone());
        }
        self.weights
            .get(&name)
            .map(|t| t.data.clone())
            .ok_or_else(|| missing(node, &name))
    }

    fn push_tensor(&mut self, label: String, shape: Vec<usize>, data: Vec<f32>) -> Handle<Tensor> {
        self.m.tensors.push(Tensor::new(label, shape, data))
    }

    /// A parameter's values in the IR: a number as it is, per-neuron values as a tensor of the
    /// population's shape labelled `<node>.<field>`, unless they are all one value (a derived
    /// gain of 1, a tensor written out for a uniform layer): then that value, exactly.
    fn param(&mut self, node: &str, field: &str, shape: &[usize], v: Values) -> ir::Param {
        match v {
            Values::Uniform(x) => ir::Param::Uniform(x),
            Values::PerNeuron(data)
                if data.windows(2).all(|w| w[0].to_bits() == w[1].to_bits()) =>
            {
                ir::Param::Uniform(data.first().map_or(0.0, |&x| f64::from(x)))
            }
            Values::PerNeuron(data) => ir::Param::PerNeuron(self.push_tensor(
                format!("{node}.{field}"),
                shape.to_vec(),
                data,
            )),
        }
    }

    fn synapse(
        &mut self,
        node: &str,
        shape: &[usize],
        s: Option<(Values, Values)>,
    ) -> Option<ir::Synapse> {
        s.map(|(alpha, w_in)| ir::Synapse {
            alpha: self.param(node, "alpha", shape, alpha),
            w_in: self.param(node, "w_in", shape, w_in),
        })
    }

    /// A leaky neuron as `v = rest + beta (v - rest) + gain x`. SpikingJelly's charge with
    /// leak `k` (`v += k (x - (v - v_reset))` with decay_input, else `v += x - k (v - v_reset)`)
    /// is `beta = 1 - k` and `gain = k` or 1; snnTorch's `v = beta v + x` is its `beta`, gain 1.
    fn spiking(&mut self, id: NodeId, v: NeuronValues) -> ir::Spiking {
        let net = self.net;
        let (node, shape) = (&net.node(id).name, &net.shapes[id].0);
        let p = net.node(id).op.neuron().expect("a neuron node");
        ir::Spiking {
            beta: self.param(node, "beta", shape, v.beta),
            gain: self.param(node, "gain", shape, v.gain),
            threshold: self.param(node, "threshold", shape, v.threshold),
            v_reset: self.param(node, "v_reset", shape, v.v_reset),
            reset: p.reset,
            fire: p.compare,
            v_leak: v.v_leak.map(|x| self.param(node, "v_leak", shape, x)),
            v_min: v.v_min.map(|x| self.param(node, "v_min", shape, x)),
            synapse: self.synapse(node, shape, v.synapse),
            bias: None,
        }
    }

    /// A leaky integrator in canonical form, the leak as for [`Lowering::spiking`].
    fn integrator(&mut self, id: NodeId, v: IntegratorValues) -> ir::Integrator {
        let net = self.net;
        let (node, shape) = (&net.node(id).name, &net.shapes[id].0);
        ir::Integrator {
            beta: self.param(node, "beta", shape, v.beta),
            gain: self.param(node, "gain", shape, v.gain),
            rest: self.param(node, "rest", shape, v.rest),
            synapse: self.synapse(node, shape, v.synapse),
        }
    }

    /// The population a node becomes, and the projection kind of its op (None: identity edges).
    fn node(&mut self, id: NodeId) -> Result<(PopulationKind, Option<ProjectionKind>), LowerError> {
        let net = self.net;
        let node = net.node(id);
        let analog = |bias| {
            PopulationKind::Analog(ir::Analog {
                bias,
                constant: false,
            })
        };
        Ok(match &node.op {
            Op::Input(_) => (
                PopulationKind::Input(ir::Input {
                    encoding: net.desc.input.encoding,
                }),
                None,
            ),
            // Integrated inside the readout (`ir::Readout::integrator`): a relay here.
            Op::Li(_) | Op::CubaLi(_) => (analog(None), None),
            Op::Lif(p) | Op::If(p) | Op::CubaLif(p) => {
                let v = network::neuron_values(
                    &node.name,
                    node.op.kind(),
                    p,
                    &net.shapes[id],
                    &self.weights,
                )?;
                (PopulationKind::Spiking(self.spiking(id, v)), None)
            }
            Op::Plif(p) => {
                let w = f64::from(self.read(id, ParamRole::W)?[0]);
                // The trained leak: k = sigmoid(w) = 1/tau (autosnn.md §1.1).
                let k = 1.0 / (1.0 + (-w).exp());
                let gain = if p.decay_input { k } else { 1.0 };
                let mut v = network::neuron_values(
                    &node.name,
                    node.op.kind(),
                    p,
                    &net.shapes[id],
                    &self.weights,
                )?;
                (v.beta, v.gain) = (Values::Uniform(1.0 - k), Values::Uniform(gain));
                (PopulationKind::Spiking(self.spiking(id, v)), None)
            }
            Op::Sum(_) => (analog(None), None),
            Op::Conv2d(c) => {
                let weight = self.take(id, ParamRole::Weight)?;
                let bias = if c.bias {
                    Some(self.take(id, ParamRole::Bias)?)
                } else {
                    None
                };
                let kind = ProjectionKind::Conv2d(ir::Conv2d {
                    weight,
                    stride: [c.stride.0, c.stride.1],
                    padding: [c.padding.0, c.padding.1],
                    groups: c.groups,
                });
                (analog(bias), Some(kind))
            }
            Op::Linear(l) => {
                let weight = self.take(id, ParamRole::Weight)?;
                let bias = if l.bias {
                    Some(self.take(id, ParamRole::Bias)?)
                } else {
                    None
                };
                (
                    analog(bias),
                    Some(ProjectionKind::Dense(ir::Dense { weight })),
                )
            }
            Op::BatchNorm(bn) => {
                let (scale, shift) = self.bn_affine(id, bn.eps)?;
                // Per-step statistics give one row per step, as their [T, C] shape says.
                let shape = net
                    .param_shapes(id)
                    .into_iter()
                    .find(|(r, _)| *r == ParamRole::RunningMean)
                    .map(|(_, s)| s)
                    .expect("batch norm has running statistics");
                let scale = self.push_tensor(format!("{}.scale", node.name), shape.clone(), scale);
                let shift = self.push_tensor(format!("{}.shift", node.name), shape, shift);
                (
                    analog(Some(shift)),
                    Some(ProjectionKind::Affine(ir::Affine { scale })),
                )
            }
            Op::AvgPool(p) => {
                if !p.count_include_pad && (p.padding.0 > 0 || p.padding.1 > 0) {
                    return Err(unsupported(
                        net,
                        id,
                        "avg_pool with padding and count_include_pad = false divides by a varying count; only count_include_pad = true (PyTorch's default) lowers to a sum-pool",
                    ));
                }
                let scale = 1.0 / (p.kernel.0 * p.kernel.1) as f64;
                (analog(None), Some(ProjectionKind::SumPool(pool(p, scale))))
            }
            // Max-pool over spikes is an OR: window sums into a memoryless threshold population.
            Op::MaxPool(p) => (
                PopulationKind::Spiking(or_gate()),
                Some(ProjectionKind::SumPool(pool(p, 1.0))),
            ),
            Op::Vote(v) => {
                let kind = ProjectionKind::SumPool(ir::SumPool {
                    kernel: [1, v.group],
                    stride: [1, v.group],
                    padding: [0, 0],
                    scale: 1.0 / v.group as f64,
                });
                (analog(None), Some(kind))
            }
            Op::Dropout(d) => (
                analog(None),
                Some(ProjectionKind::Dropout(ir::Dropout { p: d.p })),
            ),
            Op::Flatten(_) => (analog(None), Some(ProjectionKind::Reshape(ir::Reshape))),
            Op::Scale(s) => (
                analog(None),
                Some(ProjectionKind::Scale(ir::Scale { factor: s.factor })),
            ),
        })
    }

    /// Inference BN: `gamma (x - mean) / sqrt(var + eps) + beta = scale x + shift`, in f64.
    /// Per-step statistics (`[T, C]`, row-major) give one row of scale and shift per step.
    fn bn_affine(&mut self, id: NodeId, eps: f64) -> Result<(Vec<f32>, Vec<f32>), LowerError> {
        let gamma = self.read(id, ParamRole::Weight)?;
        let beta = self.read(id, ParamRole::Bias)?;
        let mean = self.read(id, ParamRole::RunningMean)?;
        let var = self.read(id, ParamRole::RunningVar)?;
        let channels = gamma.len().max(1);
        let mut scale = Vec::with_capacity(mean.len());
        let mut shift = Vec::with_capacity(mean.len());
        for (i, (m, v)) in mean.iter().zip(var.iter()).enumerate() {
            let c = i % channels;
            let s = f64::from(gamma[c]) / (f64::from(*v) + eps).sqrt();
            scale.push(s as f32);
            shift.push((f64::from(beta[c]) - f64::from(*m) * s) as f32);
        }
        Ok((scale, shift))
    }
}

fn pool(p: &network::Pool, scale: f64) -> ir::SumPool {
    let s = p.stride();
    ir::SumPool {
        kernel: [p.kernel.0, p.kernel.1],
        stride: [s.0, s.1],
        padding: [p.padding.0, p.padding.1],
        scale,
    }
}

/// A memoryless population that fires when any input in its window spiked. Threshold 0.5 keeps
/// the integer window sums at least 0.5 away from it, so float rounding can never flip it.
fn or_gate() -> ir::Spiking {
    ir::Spiking {
        beta: 0.0.into(),
        gain: 1.0.into(),
        threshold: 0.5.into(),
        v_reset: 0.0.into(),
        reset: network::Reset::Hard,
        fire: network::Compare::Ge,
        v_leak: None,
        v_min: None,
        synapse: None,
        bias: None,
    }
}
