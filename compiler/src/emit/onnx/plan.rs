//! What an ONNX model of a module must carry across steps, decided once: readable unique names,
//! the state tensors (membranes and synaptic currents, the readout integrator's too, delay rings,
//! the readout accumulator, the step counter), the initializers of per-neuron neuron parameters,
//! and the checks for anything ONNX's float32 graphs cannot hold.

use super::proto::{Builder, i64s};
use super::{OnnxError, Options, SpikeOutputs};
use crate::ir::{
    Encoding, Handle, HandleMap, Integrator, Module, Param, Population, PopulationKind,
    ProjectionKind, ReadoutKind, Reduction, Reset, Spiking, Synapse, Tensor,
};
use crate::validate::validate;

/// The step counter's state name (its next value is `step.next`).
pub const STEP: &str = "step";

/// Where a `membrane_max` accumulator starts: the lowest finite float32, not -inf, because the
/// interface (and the deployment manifest) is JSON, which has no infinities. Every finite value
/// is at least as large, so `Max` lets step 0's value through as the reference's first step
/// does; only a step-0 value that overflowed to -inf would read as this instead.
pub const MAX_INIT: f32 = f32::MIN;

/// What a state tensor holds between steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    /// A spiking population's membrane potential after the step's reset, or the readout's
    /// leaky-integrator membrane (never reset: it is the step's readout value).
    Membrane,
    /// The synaptic current of a spiking population with a synapse (current-based LIF), or of
    /// a readout's integrator with one (`cuba_li`), after the step's input entered it.
    Current,
    /// The last `D` outputs of a population read over delayed projections: slot 0 is step
    /// `t-1`, slot `k` is step `t-1-k` (shape `[N, D, ...]`).
    Delay,
    /// The readout's reduction of its per-step values over the steps so far: their sum
    /// (`time_mean`, `spike_count`, `membrane_mean`), the last one (`membrane_last`) or their
    /// running maximum (`membrane_max`, starting at [`MAX_INIT`]).
    ReadoutAccumulator,
    /// Steps taken so far (`[N]`, float32): picks row `t` of per-step biases and affine
    /// scales. Only modules with such a tensor have it. A float32 `[N]` state like the others,
    /// so every host loop that feeds states back generically feeds it too (exact up to 2^24).
    Step,
}

/// One state tensor: graph input `name`, graph output `next`.
#[derive(Debug, Clone)]
pub struct StateSpec {
    pub kind: StateKind,
    pub population: Handle<Population>,
    pub name: String,
    pub next: String,
    /// Shape without the batch axis.
    pub dims: Vec<usize>,
    /// Value every element starts from (and is reset to between samples): one value, or a
    /// membrane's per-neuron `v_reset` / `rest` (a tensor of the population's shape).
    pub init: Param,
    pub doc: String,
}

/// The initializer of a neuron parameter that differs per neuron: the tensor's values under the
/// population's shape, which broadcasts against the `[N, ...]` states as a scalar does.
#[derive(Debug, Clone)]
pub struct PerNeuronInit {
    pub tensor: Handle<Tensor>,
    pub population: Handle<Population>,
    /// `<population>.<field>` of the first parameter that reads the tensor (a scalar parameter
    /// has the same name), so every use of the tensor reads one initializer.
    pub name: String,
}

#[derive(Debug)]
pub struct Plan<'m> {
    pub m: &'m Module,
    pub schedule: Vec<Handle<Population>>,
    pub input: Handle<Population>,
    pub readout: Handle<Population>,
    pub encoding: Encoding,
    pub readout_mode: ReadoutKind,
    /// A unique, readable name per population (the network's node name, disambiguated).
    pub names: HandleMap<Population, String>,
    /// Longest delay any projection reads each population at (0: nobody reads its history).
    pub depth: HandleMap<Population, usize>,
    /// Spiking populations in handle order: the reference interpreter's layer order.
    pub layers: Vec<Handle<Population>>,
    /// Layers whose full spike maps are model outputs.
    pub spike_maps: Vec<Handle<Population>>,
    pub states: Vec<StateSpec>,
    pub membrane_state: HandleMap<Population, Option<usize>>,
    /// The synaptic current's state of each population with a synapse.
    pub current_state: HandleMap<Population, Option<usize>>,
    pub ring_state: HandleMap<Population, Option<usize>>,
    pub acc_state: usize,
    /// The step counter's state, when some bias or affine scale is per step.
    pub step_state: Option<usize>,
    /// Per-neuron parameters' initializers, in population and parameter order.
    pub per_neuron: Vec<PerNeuronInit>,
}

/// Whether a spiking population keeps a membrane across steps: beta = 0 forgets it (max-pool
/// ORs), unless a `subtract_next` reset reads last step's firing from it.
pub fn has_membrane(p: &Population) -> bool {
    matches!(&p.kind, PopulationKind::Spiking(s) if s.beta != 0.0.into() || s.reset.is_delayed())
}

/// `p3 `lif1``: how errors name a population.
pub fn owner(h: Handle<Population>, p: &Population) -> String {
    format!("{h} `{}`", p.name)
}

fn f32_ok(owner: impl Fn() -> String, what: &str, v: f64) -> Result<(), OnnxError> {
    if (v as f32).is_finite() {
        Ok(())
    } else {
        Err(OnnxError::NotFloat32 {
            owner: owner(),
            what: what.to_string(),
            value: v,
        })
    }
}

impl<'m> Plan<'m> {
    pub fn new(m: &'m Module, opts: &Options) -> Result<Plan<'m>, OnnxError> {
        let v = validate(m).map_err(Box::new)?;
        check_representable(m, opts)?;
        let encoding = match &m.populations[v.input].kind {
            PopulationKind::Input(i) => i.encoding,
            _ => Encoding::Direct,
        };
        let readout_mode = match &m.populations[v.readout].kind {
            PopulationKind::Readout(r) => r.mode,
            _ => ReadoutKind::TimeMean,
        };
        let names = unique_names(m);
        let per_neuron = per_neuron_inits(m, &names);
        let mut depth = HandleMap::filled(m.populations.len(), 0usize);
        for (_, e) in m.projections.iter() {
            let d = &mut depth[e.source];
            *d = (*d).max(e.delay as usize);
        }
        let layers: Vec<_> = m
            .populations
            .iter()
            .filter(|(_, p)| matches!(p.kind, PopulationKind::Spiking(_)))
            .map(|(h, _)| h)
            .collect();
        let spike_maps = spike_maps(m, &opts.spikes, &layers, &names)?;
        let mut s = States::new(m, &names, &per_neuron, &depth, v.readout, readout_mode);
        let step_state = s.step_state(m, v.input);
        check_names(m, &names, &s.states, &layers, &per_neuron)?;
        Ok(Plan {
            m,
            schedule: v.schedule,
            input: v.input,
            readout: v.readout,
            encoding,
            readout_mode,
            names,
            depth,
            layers,
            spike_maps,
            states: s.states,
            membrane_state: s.membrane,
            current_state: s.current,
            ring_state: s.ring,
            acc_state: s.acc,
            step_state,
            per_neuron,
        })
    }

    pub fn name(&self, h: Handle<Population>) -> &str {
        &self.names[h]
    }

    pub fn layer_names(&self) -> Vec<String> {
        self.layers.iter().map(|&h| self.names[h].clone()).collect()
    }

    /// Whether the population's value is the same at every step (direct input and the `const`
    /// stem it feeds), so the sequence model computes it once, outside the time loop. The
    /// validator has made sure a `const` population holds and receives nothing per step.
    pub fn hoistable(&self, h: Handle<Population>) -> bool {
        crate::validate::is_constant(&self.m.populations[h])
    }

    /// The initializer of per-neuron parameter tensor `t`, created on first use (the builder
    /// keeps one per tensor and shape). The models create them all before anything else
    /// ([`Plan::declare_per_neuron`]), so each has the name the plan gave it.
    pub fn per_neuron_value(&self, b: &mut Builder, t: Handle<Tensor>) -> String {
        let Some(init) = self.per_neuron.iter().find(|p| p.tensor == t) else {
            return String::new();
        };
        let tensor = &self.m.tensors[t];
        let p = &self.m.populations[init.population];
        b.tensor(
            t.index(),
            &init.name,
            i64s(p.shape.dims()),
            &tensor.data,
            &format!(
                "{t} `{}`: one value per neuron of `{}` ({}) {}",
                tensor.label,
                self.name(init.population),
                init.population,
                p.shape
            ),
        )
    }

    /// Create every per-neuron initializer, in plan order, under its planned name.
    pub fn declare_per_neuron(&self, b: &mut Builder) {
        for p in &self.per_neuron {
            self.per_neuron_value(b, p.tensor);
        }
    }
}

/// The per-neuron parameter tensors in population and parameter order, each named after the
/// first population and field that read it.
fn per_neuron_inits(m: &Module, names: &HandleMap<Population, String>) -> Vec<PerNeuronInit> {
    let mut out: Vec<PerNeuronInit> = Vec::new();
    for (h, p) in m.populations.iter() {
        for (field, param) in neuron_params(p) {
            if let Some(t) = param.tensor()
                && !out.iter().any(|q| q.tensor == t)
            {
                out.push(PerNeuronInit {
                    tensor: t,
                    population: h,
                    name: format!("{}.{field}", names[h]),
                });
            }
        }
    }
    out
}

/// A population's neuron parameters with their names: a spiking population's, or its readout
/// integrator's.
fn neuron_params(p: &Population) -> Vec<(&'static str, Param)> {
    match &p.kind {
        PopulationKind::Spiking(s) => s.params(),
        PopulationKind::Readout(r) => r.integrator.map(|li| li.params()).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// How a parameter reads in documentation: its value, or the initializer holding its per-neuron
/// values.
pub fn describe(p: Param, per_neuron: &[PerNeuronInit]) -> String {
    match p {
        Param::Uniform(v) => v.to_string(),
        Param::PerNeuron(t) => {
            let name = per_neuron
                .iter()
                .find(|q| q.tensor == t)
                .map_or_else(|| t.to_string(), |q| q.name.clone());
            format!("per neuron (initializer `{name}`)")
        }
    }
}

/// Names: the network's, with the handle appended where two populations share one.
fn unique_names(m: &Module) -> HandleMap<Population, String> {
    let mut count = std::collections::HashMap::new();
    for (_, p) in m.populations.iter() {
        *count.entry(p.name.as_str()).or_insert(0usize) += 1;
    }
    m.populations
        .iter()
        .map(|(h, p)| {
            let base = if p.name.is_empty() {
                h.to_string()
            } else {
                p.name.clone()
            };
            if count.get(p.name.as_str()).copied().unwrap_or(0) > 1 {
                format!("{base}.{h}")
            } else {
                base
            }
        })
        .collect()
}

/// The layers whose spike maps become outputs, in handle order; a requested name that is no
/// layer is an error listing the layers.
fn spike_maps(
    m: &Module,
    spikes: &SpikeOutputs,
    layers: &[Handle<Population>],
    names: &HandleMap<Population, String>,
) -> Result<Vec<Handle<Population>>, OnnxError> {
    Ok(match spikes {
        SpikeOutputs::None => Vec::new(),
        SpikeOutputs::All => layers.to_vec(),
        SpikeOutputs::Layers(wanted) => {
            let mut chosen = Vec::new();
            for w in wanted {
                let found = layers
                    .iter()
                    .copied()
                    .find(|h| names[*h] == *w || m.populations[*h].name == *w);
                match found {
                    Some(h) if !chosen.contains(&h) => chosen.push(h),
                    Some(_) => {}
                    None => {
                        return Err(OnnxError::UnknownLayer {
                            name: w.clone(),
                            known: layers.iter().map(|&h| names[h].clone()).collect(),
                        });
                    }
                }
            }
            chosen.sort();
            chosen
        }
    })
}

/// The state tensors in population order (membrane, synaptic current, then delay ring, then the
/// readout's accumulator), and where each population's are.
struct States {
    states: Vec<StateSpec>,
    membrane: HandleMap<Population, Option<usize>>,
    current: HandleMap<Population, Option<usize>>,
    ring: HandleMap<Population, Option<usize>>,
    acc: usize,
}

impl States {
    fn new(
        m: &Module,
        names: &HandleMap<Population, String>,
        per_neuron: &[PerNeuronInit],
        depth: &HandleMap<Population, usize>,
        readout: Handle<Population>,
        readout_mode: ReadoutKind,
    ) -> States {
        let mut s = States {
            states: Vec::new(),
            membrane: HandleMap::filled(m.populations.len(), None),
            current: HandleMap::filled(m.populations.len(), None),
            ring: HandleMap::filled(m.populations.len(), None),
            acc: 0,
        };
        for (h, p) in m.populations.iter() {
            let name = &names[h];
            let dims = p.shape.dims().to_vec();
            if let PopulationKind::Readout(r) = &p.kind
                && let Some(li) = r.integrator
            {
                s.integrator(h, name, &dims, &li, per_neuron);
            }
            if let PopulationKind::Spiking(lif) = &p.kind
                && has_membrane(p)
            {
                s.membrane[h] = Some(s.states.len());
                s.states.push(StateSpec {
                    kind: StateKind::Membrane,
                    population: h,
                    name: format!("membrane.{name}"),
                    next: format!("membrane.{name}.next"),
                    dims: dims.clone(),
                    init: lif.v_reset,
                    doc: membrane_doc(name, h, lif, per_neuron),
                });
            }
            // The current is kept even when the membrane is not (beta = 0): alpha carries it.
            if let PopulationKind::Spiking(lif) = &p.kind
                && let Some(syn) = lif.synapse
            {
                s.current[h] = Some(s.states.len());
                s.states.push(StateSpec {
                    kind: StateKind::Current,
                    population: h,
                    name: format!("current.{name}"),
                    next: format!("current.{name}.next"),
                    dims: dims.clone(),
                    init: Param::Uniform(0.0),
                    doc: format!(
                        "synaptic current of `{name}` ({h}) after the step's input entered it, i = alpha i + w_in (I + bias) with {}; it charges the membrane in place of I + bias, starts at 0 and is never reset by a spike",
                        synapse_doc(&syn, per_neuron)
                    ),
                });
            }
            let d = depth[h];
            if d > 0 {
                s.ring[h] = Some(s.states.len());
                let what = if p.kind.events() == crate::ir::Events::Binary {
                    "spikes"
                } else {
                    "values"
                };
                s.states.push(StateSpec {
                    kind: StateKind::Delay,
                    population: h,
                    name: format!("delay.{name}"),
                    next: format!("delay.{name}.next"),
                    dims: std::iter::once(d).chain(dims.iter().copied()).collect(),
                    init: Param::Uniform(0.0),
                    doc: format!(
                        "the last {d} output(s) ({what}) of `{name}` ({h}) for projections with delay up to {d}: slot k holds step t-1-k; zeros before the start"
                    ),
                });
            }
            if h == readout {
                s.acc = s.states.len();
                s.states.push(StateSpec {
                    kind: StateKind::ReadoutAccumulator,
                    population: h,
                    name: "readout.acc".into(),
                    next: "readout.acc.next".into(),
                    dims: dims.clone(),
                    init: Param::Uniform(if readout_mode.reduction() == Reduction::Max {
                        f64::from(MAX_INIT)
                    } else {
                        0.0
                    }),
                    doc: acc_doc(name, h, readout_mode.reduction()),
                });
            }
        }
        s
    }

    /// A readout integrator's membrane (starting at `rest`) and, with a synapse, its current.
    fn integrator(
        &mut self,
        h: Handle<Population>,
        name: &str,
        dims: &[usize],
        li: &Integrator,
        per_neuron: &[PerNeuronInit],
    ) {
        let show = |p| describe(p, per_neuron);
        self.membrane[h] = Some(self.states.len());
        self.states.push(StateSpec {
            kind: StateKind::Membrane,
            population: h,
            name: format!("membrane.{name}"),
            next: format!("membrane.{name}.next"),
            dims: dims.to_vec(),
            init: li.rest,
            doc: format!(
                "membrane of the readout's leaky integrator `{name}` ({h}), v = rest + beta (v - rest) + gain x with beta = {}, gain = {}, rest = {}, x = {}; never reset, it is the step's readout value; starts at rest",
                show(li.beta),
                show(li.gain),
                show(li.rest),
                if li.synapse.is_some() {
                    "the synaptic current"
                } else {
                    "I + bias"
                }
            ),
        });
        if let Some(syn) = li.synapse {
            self.current[h] = Some(self.states.len());
            self.states.push(StateSpec {
                kind: StateKind::Current,
                population: h,
                name: format!("current.{name}"),
                next: format!("current.{name}.next"),
                dims: dims.to_vec(),
                init: Param::Uniform(0.0),
                doc: format!(
                    "synaptic current of the readout's integrator `{name}` ({h}) after the step's input entered it, i = alpha i + w_in (I + bias) with {}; it charges the membrane in place of I + bias and starts at 0",
                    synapse_doc(&syn, per_neuron)
                ),
            });
        }
    }

    /// The step counter, appended last when some bias or affine scale is per step.
    fn step_state(&mut self, m: &Module, input: Handle<Population>) -> Option<usize> {
        let per_step = m.populations.iter().any(|(h, _)| m.has_per_step_bias(h))
            || m.projections
                .iter()
                .any(|(_, e)| m.is_per_step_projection(&e.kind));
        per_step.then(|| {
            self.states.push(StateSpec {
                kind: StateKind::Step,
                population: input,
                name: STEP.into(),
                next: format!("{STEP}.next"),
                dims: Vec::new(),
                init: Param::Uniform(0.0),
                doc: format!(
                    "steps taken so far (0 at the start, up to {} at the last step), per sample: selects row t of the per-step biases and affine scales",
                    m.timesteps.saturating_sub(1)
                ),
            });
            self.states.len() - 1
        })
    }
}

/// What the readout accumulator holds and how the logits come from it.
fn acc_doc(name: &str, h: Handle<Population>, how: Reduction) -> String {
    match how {
        Reduction::Sum => format!(
            "sum over the steps so far of the readout `{name}` ({h})'s values; logits = acc"
        ),
        Reduction::Mean => format!(
            "sum over the steps so far of the readout `{name}` ({h})'s values; logits = acc / timesteps"
        ),
        Reduction::Last => format!(
            "the readout `{name}` ({h})'s value at the latest step; logits = acc (the value at step T-1)"
        ),
        Reduction::Max => format!(
            "element-wise maximum over the steps so far of the readout `{name}` ({h})'s values, starting at the lowest finite float32 ({MAX_INIT:e}, as JSON has no -inf) so that step 0's value replaces it; logits = acc"
        ),
    }
}

/// Everything ONNX float32 graphs cannot hold, named: parameters beyond f32's range, dims beyond
/// int64, and weights beyond protobuf's 2 GiB message limit.
fn check_representable(m: &Module, opts: &Options) -> Result<(), OnnxError> {
    for (h, p) in m.populations.iter() {
        let who = || owner(h, p);
        if p.shape.dims().iter().any(|&d| i64::try_from(d).is_err()) {
            return Err(OnnxError::Dimension {
                owner: who(),
                dims: p.shape.dims().to_vec(),
            });
        }
        for (field, param) in neuron_params(p) {
            match param {
                Param::Uniform(v) => f32_ok(who, field, v)?,
                Param::PerNeuron(t) => {
                    let tensor = &m.tensors[t];
                    for (i, &v) in tensor.data.iter().enumerate() {
                        let what = || format!("{field} of neuron {i} ({t} `{}`)", tensor.label);
                        if !v.is_finite() {
                            f32_ok(who, &what(), f64::from(v))?;
                        }
                    }
                }
            }
        }
    }
    for (h, e) in m.projections.iter() {
        let who = || format!("{h} ({} {} -> {})", e.kind.name(), e.source, e.target);
        match &e.kind {
            ProjectionKind::Scale(s) => f32_ok(who, "factor", s.factor)?,
            ProjectionKind::SumPool(p) => {
                f32_ok(who, "scale", p.scale * (p.kernel[0] * p.kernel[1]) as f64)?
            }
            _ => {}
        }
    }
    let bytes: u64 = m.tensors.iter().map(|(_, t)| t.data.len() as u64 * 4).sum();
    if bytes > opts.max_bytes {
        let (h, t) = m
            .tensors
            .iter()
            .max_by_key(|(_, t)| t.data.len())
            .map(|(h, t)| (h.to_string(), t.label.clone()))
            .unwrap_or_default();
        return Err(OnnxError::TooLarge {
            bytes,
            limit: opts.max_bytes,
            largest: format!("{h} `{t}`"),
        });
    }
    if m.timesteps > i64::MAX as usize {
        return Err(OnnxError::Dimension {
            owner: "the module's timesteps".into(),
            dims: vec![m.timesteps],
        });
    }
    Ok(())
}

/// Interface names are built from population names (`membrane.<name>`, `<state>.next`,
/// `spike_count.<layer>`), so two populations can still collide through them (a population
/// named `lif1.next` next to `lif1`): refuse such a module instead of emitting an invalid graph.
fn check_names(
    m: &Module,
    names: &HandleMap<Population, String>,
    states: &[StateSpec],
    layers: &[Handle<Population>],
    per_neuron: &[PerNeuronInit],
) -> Result<(), OnnxError> {
    let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut claim = |name: String, owner: String| -> Result<(), OnnxError> {
        match seen.get(&name) {
            Some(first) if *first != owner => Err(OnnxError::NameClash {
                name,
                first: first.clone(),
                second: owner,
            }),
            _ => {
                seen.insert(name, owner);
                Ok(())
            }
        }
    };
    for fixed in ["x", "x_t", "t", "logits", "readout"] {
        claim(fixed.to_string(), "the model's interface".into())?;
    }
    let who = |h: Handle<Population>| format!("population {h} `{}`", m.populations[h].name);
    for s in states {
        let owner = match s.kind {
            StateKind::Step => "the model's step counter".to_string(),
            _ => who(s.population),
        };
        claim(s.name.clone(), owner.clone())?;
        claim(s.next.clone(), owner)?;
    }
    for &h in layers {
        let n = &names[h];
        for name in [
            format!("spike_count.{n}"),
            format!("spikes.{n}"),
            format!("spike_count_t.{n}"),
            format!("spikes_t.{n}"),
        ] {
            claim(name, who(h))?;
        }
    }
    for p in per_neuron {
        claim(p.name.clone(), who(p.population))?;
    }
    Ok(())
}

/// `alpha = ..., w_in = ...` of a synaptic current's documentation.
fn synapse_doc(syn: &Synapse, per_neuron: &[PerNeuronInit]) -> String {
    format!(
        "alpha = {}, w_in = {}",
        describe(syn.alpha, per_neuron),
        describe(syn.w_in, per_neuron)
    )
}

/// What a membrane state holds, for the manifest and the graph's documentation.
fn membrane_doc(
    name: &str,
    h: Handle<Population>,
    lif: &Spiking,
    per_neuron: &[PerNeuronInit],
) -> String {
    let after = match lif.reset {
        Reset::Hard | Reset::Subtract => "after the step's reset",
        Reset::SubtractNext | Reset::ZeroNext => {
            "before any reset: the pending reset of `subtract_next` / `zero_next` is derived \
             from it (membrane > threshold, or >= with fire=ge) at the next step, so it needs no \
             state of its own"
        }
        Reset::None => "never reset",
    };
    format!(
        "membrane potential of `{name}` ({h}), {after}; starts at v_reset = {}",
        describe(lif.v_reset, per_neuron)
    )
}
