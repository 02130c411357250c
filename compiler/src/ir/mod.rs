//! The event IR: populations joined by delayed projections, weights held as tensors, all in arenas.
//!
//! A [`Module`] is what the compiler produces and every back end consumes. Semantics (one per
//! timestep `t = 0..T-1`, populations evaluated in an order that respects zero-delay projections):
//!
//! * a projection delivers its source's output of step `t - delay` (zero before the start),
//!   mapped by its kind (conv, dense, pool, ...); a population's input `I` is the sum of what its
//!   incoming projections deliver;
//! * an **analog** population outputs `I + bias`; a **spiking** population charges
//!   `v = v_reset + beta * (v - v_reset) + gain * (I + bias)`, fires `s = v >= threshold` (or `>`),
//!   then resets (`v = v_reset` or `v -= threshold` where it fired) and outputs `s`; with a
//!   synapse (current-based LIF), `I + bias` first enters a current `i = alpha i + w_in (I + bias)`
//!   and `i` charges the membrane in its place;
//!   a **readout** reduces `I + bias` over time (sum, mean, last or max), or with an
//!   integrator the membrane that `I + bias` charges (a leaky integrator read out, `li`); the
//!   **input** outputs the sample's frame.
//!
//! A bias (and an affine scale) is one `[C]` vector for every step, or `[T, C]` with row `t`
//! used at step `t` ([`Tensor::at_step`]): per-step batch norm lowers to those.
//!
//! `docs/ir.md` is the full reference, with the text form.

mod arena;
pub mod shape;

pub use crate::network::{Compare, Encoding, ReadoutKind, Reduction, Reset, Shape};
pub use arena::{Arena, Entity, Handle, HandleMap};

/// A weight tensor held by the module, f32, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Where the values came from (e.g. `c1.e01.conv.weight`); informative only.
    pub label: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(label: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Self {
        Tensor {
            label: label.into(),
            shape,
            data,
        }
    }
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    /// For a bias or affine scale: one row per timestep (`[T, C]`, per-step batch norm) rather
    /// than one `[C]` vector used at every step. Meaningless for weights.
    pub fn is_per_step(&self) -> bool {
        self.shape.len() == 2
    }
    /// The bias or scale values used at step `t`: row `t` of a per-step tensor, else all of it.
    pub fn at_step(&self, t: usize) -> &[f32] {
        if self.is_per_step() {
            let c = self.shape[1];
            &self.data[t * c..(t + 1) * c]
        } else {
            &self.data
        }
    }
}

impl Entity for Tensor {
    const PREFIX: char = 't';
}

/// A group of neurons or values with one shape (no batch axis): `[C, H, W]` or `[N]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    /// The network node it came from (or a derived name such as `conv.in`); informative only.
    pub name: String,
    pub shape: Shape,
    pub kind: PopulationKind,
}

impl Entity for Population {
    const PREFIX: char = 'p';
}

/// What a population computes each step. Closed: every consumer matches on all of these.
#[derive(Debug, Clone, PartialEq)]
pub enum PopulationKind {
    Input(Input),
    Spiking(Spiking),
    Analog(Analog),
    Readout(Readout),
}

/// The sample enters here: the same frame every step (direct) or one frame per step.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub encoding: Encoding,
}

/// A neuron parameter: one value for the whole population, or one per neuron (a tensor of the
/// population's shape, row-major).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param {
    Uniform(f64),
    PerNeuron(Handle<Tensor>),
}

impl Param {
    /// Neuron `i`'s value.
    pub fn at(self, tensors: &Arena<Tensor>, i: usize) -> f64 {
        match self {
            Param::Uniform(v) => v,
            Param::PerNeuron(t) => f64::from(tensors[t].data[i]),
        }
    }
    /// The value shared by every neuron, if it is one.
    pub fn uniform(self) -> Option<f64> {
        match self {
            Param::Uniform(v) => Some(v),
            Param::PerNeuron(_) => None,
        }
    }
    pub fn tensor(self) -> Option<Handle<Tensor>> {
        match self {
            Param::Uniform(_) => None,
            Param::PerNeuron(t) => Some(t),
        }
    }
}

impl From<f64> for Param {
    fn from(v: f64) -> Self {
        Param::Uniform(v)
    }
}

/// JSON: a number, or the tensor's handle as a string (`"t5"`).
impl serde::Serialize for Param {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Param::Uniform(v) => s.serialize_f64(*v),
            Param::PerNeuron(t) => s.collect_str(t),
        }
    }
}

/// The text form: a number (Rust's shortest round-trip form) or a tensor handle.
impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Param::Uniform(v) => write!(f, "{v:?}"),
            Param::PerNeuron(t) => write!(f, "{t}"),
        }
    }
}

/// A LIF-family neuron layer in canonical form; emits binary events. Its parameters may differ
/// per neuron ([`Param`]); [`Spiking::at`] gives one neuron's model, whose methods state the
/// arithmetic.
#[derive(Debug, Clone, PartialEq)]
pub struct Spiking {
    /// Factor on the old membrane (its distance from the rest): `1 - 1/tau` for SpikingJelly's LIF.
    pub beta: Param,
    /// Factor on the input (`1/tau` for SpikingJelly's decay-input LIF); 1 after `fold_input_gain`.
    pub gain: Param,
    pub threshold: Param,
    /// Initial membrane, resting potential the leak pulls towards, and the hard-reset value.
    pub v_reset: Param,
    pub reset: Reset,
    pub fire: Compare,
    /// The resting potential the leak pulls towards; `v_reset` when absent.
    pub v_leak: Option<Param>,
    /// Lower bound of the kept membrane, applied after the reset: `relu(v - v_min) + v_min`
    /// (Sinabs' `min_v_mem`, operation for operation).
    pub v_min: Option<Param>,
    /// A synaptic current between the input and the membrane (current-based LIF); none when
    /// the input charges the membrane directly.
    pub synapse: Option<Synapse>,
    /// Constant input, shape `[shape[0]]` (per channel of `[C, H, W]`, per neuron of `[N]`), or
    /// `[T, shape[0]]` with one row per step.
    pub bias: Option<Handle<Tensor>>,
}

/// The synaptic current of a current-based neuron: each step the input `x` (bias included)
/// enters it as `i = alpha i + w_in x`, then `i` charges the membrane (snnTorch `Synaptic`'s
/// order: the current of this step, input included, charges this step's membrane). It starts at 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Synapse {
    /// Factor on the old current (`1 - 1/tau_syn`).
    pub alpha: Param,
    /// Factor on the input entering the current.
    pub w_in: Param,
}

impl Synapse {
    pub fn at(&self, tensors: &Arena<Tensor>, i: usize) -> SynapseAt {
        SynapseAt {
            alpha: self.alpha.at(tensors, i),
            w_in: self.w_in.at(tensors, i),
        }
    }
    pub fn params(&self) -> [(&'static str, Param); 2] {
        [("alpha", self.alpha), ("w_in", self.w_in)]
    }
}

/// One neuron's synaptic current parameters ([`Synapse::at`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynapseAt {
    pub alpha: f64,
    pub w_in: f64,
}

impl SynapseAt {
    /// The current after this step's input `x`: `alpha i + w_in x`, the products rounded
    /// separately (no FMA) in every back end.
    pub fn update(&self, i: f64, x: f64) -> f64 {
        self.alpha * i + self.w_in * x
    }
}

impl Spiking {
    /// Neuron `i`'s model, every parameter resolved.
    pub fn at(&self, tensors: &Arena<Tensor>, i: usize) -> SpikingAt {
        SpikingAt {
            beta: self.beta.at(tensors, i),
            gain: self.gain.at(tensors, i),
            threshold: self.threshold.at(tensors, i),
            v_reset: self.v_reset.at(tensors, i),
            reset: self.reset,
            fire: self.fire,
            v_leak: self.v_leak.map(|p| p.at(tensors, i)),
            v_min: self.v_min.map(|p| p.at(tensors, i)),
            synapse: self.synapse.map(|s| s.at(tensors, i)),
        }
    }

    /// The model every neuron shares, when no parameter differs per neuron.
    pub fn uniform(&self) -> Option<SpikingAt> {
        self.params()
            .iter()
            .all(|(_, p)| p.uniform().is_some())
            .then(|| self.at(&Arena::default(), 0))
    }

    /// Every parameter with its text-form name (`v_leak`, `v_min` and the current's only
    /// where present).
    pub fn params(&self) -> Vec<(&'static str, Param)> {
        let mut out = vec![
            ("beta", self.beta),
            ("gain", self.gain),
            ("threshold", self.threshold),
            ("v_reset", self.v_reset),
        ];
        out.extend(self.v_leak.map(|p| ("v_leak", p)));
        out.extend(self.v_min.map(|p| ("v_min", p)));
        if let Some(syn) = self.synapse {
            out.extend(syn.params());
        }
        out
    }

    /// The per-neuron tensors the population reads.
    pub fn tensors(&self) -> impl Iterator<Item = Handle<Tensor>> + '_ {
        self.params().into_iter().filter_map(|(_, p)| p.tensor())
    }
}

/// One neuron of a [`Spiking`] population with its parameters resolved: the arithmetic, stated
/// once in f64, that every back end performs in f32 in the same order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikingAt {
    pub beta: f64,
    pub gain: f64,
    pub threshold: f64,
    pub v_reset: f64,
    pub reset: Reset,
    pub fire: Compare,
    pub v_leak: Option<f64>,
    pub v_min: Option<f64>,
    pub synapse: Option<SynapseAt>,
}

impl SpikingAt {
    /// The potential the leak pulls towards: `v_leak`, else `v_reset`.
    pub fn rest(&self) -> f64 {
        self.v_leak.unwrap_or(self.v_reset)
    }

    /// Whether a membrane `u` fires.
    pub fn fires(&self, u: f64) -> bool {
        match self.fire {
            Compare::Ge => u >= self.threshold,
            Compare::Gt => u > self.threshold,
        }
    }

    /// The membrane before firing, from the stored one `v` and the input `x` (bias included):
    /// `rest + beta (v - rest) + gain x` (`rest`: `v_leak`, else `v_reset`); where a delayed
    /// reset is pending (the stored membrane, kept unreset, fired last step), less the
    /// threshold (`subtract_next`) or replaced by `v_reset` (`zero_next`). The order of the
    /// operations is the one every back end follows.
    pub fn charge(&self, v: f64, x: f64) -> f64 {
        let pending = self.reset.is_delayed() && self.fires(v);
        self.charge_pending(v, x, pending)
    }

    /// [`SpikingAt::charge`] with the pending reset given: a replay that imposes another run's
    /// spikes passes that run's last spike.
    pub fn charge_pending(&self, v: f64, x: f64, pending: bool) -> f64 {
        let rest = self.rest();
        let u = rest + self.beta * (v - rest) + self.gain * x;
        if pending {
            self.apply_delayed_reset(u)
        } else {
            u
        }
    }

    /// The charged membrane `u` once a pending delayed reset is applied.
    pub fn apply_delayed_reset(&self, u: f64) -> f64 {
        match self.reset {
            Reset::SubtractNext => u - self.threshold,
            Reset::ZeroNext => self.v_reset,
            _ => u,
        }
    }

    /// The membrane kept for the next step after `u` fired (`fired`) or not.
    pub fn after_fire(&self, u: f64, fired: bool) -> f64 {
        let v = match self.reset {
            Reset::Hard if fired => self.v_reset,
            Reset::Subtract if fired => u - self.threshold,
            _ => u,
        };
        match self.v_min {
            Some(lo) => {
                let above = v - lo;
                (if above > 0.0 { above } else { 0.0 }) + lo
            }
            None => v,
        }
    }
}

/// A stateless sum of its inputs plus an optional constant; emits graded events.
#[derive(Debug, Clone, PartialEq)]
pub struct Analog {
    pub bias: Option<Handle<Tensor>>,
    /// Its value is the same at every step (set by `hoist_constants`): computed once per sample.
    pub constant: bool,
}

/// Reduces a per-step value over the steps into the logits (`mode.reduction()`: the sum for
/// spike-count, the mean for time-mean and membrane-mean, the last step's value, or the
/// maximum). The per-step value is `I + bias`, or with an integrator its membrane.
#[derive(Debug, Clone, PartialEq)]
pub struct Readout {
    pub mode: ReadoutKind,
    pub bias: Option<Handle<Tensor>>,
    /// A leaky integrator (`li`, `cuba_li`) between the input and the reduction.
    pub integrator: Option<Integrator>,
}

/// A membrane that never fires: each step `I + bias` (or, with a synapse, the current it
/// enters, as for a spiking population) charges `v = rest + beta (v - rest) + gain x`, the
/// operations in [`SpikingAt::charge`]'s order; `v` starts at `rest` and is the step's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Integrator {
    pub beta: Param,
    pub gain: Param,
    /// The potential the leak pulls towards and the initial membrane (`v_leak`, 0 by default).
    pub rest: Param,
    pub synapse: Option<Synapse>,
}

impl Integrator {
    /// Neuron `i`'s integrator, every parameter resolved.
    pub fn at(&self, tensors: &Arena<Tensor>, i: usize) -> IntegratorAt {
        IntegratorAt {
            beta: self.beta.at(tensors, i),
            gain: self.gain.at(tensors, i),
            rest: self.rest.at(tensors, i),
            synapse: self.synapse.map(|s| s.at(tensors, i)),
        }
    }

    /// Every parameter with its text-form name (the current's only where present).
    pub fn params(&self) -> Vec<(&'static str, Param)> {
        let mut out = vec![
            ("beta", self.beta),
            ("gain", self.gain),
            ("rest", self.rest),
        ];
        if let Some(syn) = self.synapse {
            out.extend(syn.params());
        }
        out
    }

    /// The integrator every neuron shares, when no parameter differs per neuron.
    pub fn uniform(&self) -> Option<IntegratorAt> {
        self.params()
            .iter()
            .all(|(_, p)| p.uniform().is_some())
            .then(|| self.at(&Arena::default(), 0))
    }
}

/// One neuron of an [`Integrator`] with its parameters resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntegratorAt {
    pub beta: f64,
    pub gain: f64,
    pub rest: f64,
    pub synapse: Option<SynapseAt>,
}

impl IntegratorAt {
    /// The membrane after this step's drive `x` (the input, or the updated current).
    pub fn charge(&self, v: f64, x: f64) -> f64 {
        self.rest + self.beta * (v - self.rest) + self.gain * x
    }

    /// One step from membrane `v` and current `i` (0, unused, without a synapse) on input `x`:
    /// the new membrane and current.
    pub fn step(&self, v: f64, i: f64, x: f64) -> (f64, f64) {
        match self.synapse {
            Some(syn) => {
                let i = syn.update(i, x);
                (self.charge(v, i), i)
            }
            None => (self.charge(v, x), i),
        }
    }
}

impl PopulationKind {
    pub fn name(&self) -> &'static str {
        match self {
            PopulationKind::Input(_) => "input",
            PopulationKind::Spiking(_) => "spiking",
            PopulationKind::Analog(_) => "analog",
            PopulationKind::Readout(_) => "readout",
        }
    }
    pub fn bias(&self) -> Option<Handle<Tensor>> {
        match self {
            PopulationKind::Spiking(s) => s.bias,
            PopulationKind::Analog(a) => a.bias,
            PopulationKind::Readout(r) => r.bias,
            PopulationKind::Input(_) => None,
        }
    }
    /// Every tensor the population reads: its bias, then its per-neuron parameters in
    /// [`Spiking::params`] / [`Integrator::params`] order.
    pub fn tensors(&self) -> Vec<Handle<Tensor>> {
        let params = match self {
            PopulationKind::Spiking(s) => s.params(),
            PopulationKind::Readout(r) => r.integrator.map(|li| li.params()).unwrap_or_default(),
            _ => Vec::new(),
        };
        self.bias()
            .into_iter()
            .chain(params.into_iter().filter_map(|(_, p)| p.tensor()))
            .collect()
    }

    /// Replace every tensor handle the population holds (bias and per-neuron parameters) by
    /// `f` of it: renumbering.
    pub fn map_tensors(&mut self, mut f: impl FnMut(Handle<Tensor>) -> Handle<Tensor>) {
        let mut param = |p: &mut Param| {
            if let Param::PerNeuron(t) = p {
                *t = f(*t);
            }
        };
        let synapse = |s: &mut Option<Synapse>, param: &mut dyn FnMut(&mut Param)| {
            if let Some(s) = s {
                param(&mut s.alpha);
                param(&mut s.w_in);
            }
        };
        match self {
            PopulationKind::Spiking(s) => {
                for p in [&mut s.beta, &mut s.gain, &mut s.threshold, &mut s.v_reset] {
                    param(p);
                }
                for p in [&mut s.v_leak, &mut s.v_min].into_iter().flatten() {
                    param(p);
                }
                synapse(&mut s.synapse, &mut param);
                s.bias = s.bias.map(&mut f);
            }
            PopulationKind::Readout(r) => {
                if let Some(li) = &mut r.integrator {
                    for p in [&mut li.beta, &mut li.gain, &mut li.rest] {
                        param(p);
                    }
                    synapse(&mut li.synapse, &mut param);
                }
                r.bias = r.bias.map(&mut f);
            }
            PopulationKind::Analog(a) => a.bias = a.bias.map(&mut f),
            PopulationKind::Input(_) => {}
        }
    }

    /// The bias slot of a population that can hold one (all but the input).
    pub fn bias_mut(&mut self) -> Option<&mut Option<Handle<Tensor>>> {
        match self {
            PopulationKind::Spiking(s) => Some(&mut s.bias),
            PopulationKind::Analog(a) => Some(&mut a.bias),
            PopulationKind::Readout(r) => Some(&mut r.bias),
            PopulationKind::Input(_) => None,
        }
    }
    /// What kind of events the population emits to its projections.
    pub fn events(&self) -> Events {
        match self {
            PopulationKind::Spiking(_) => Events::Binary,
            _ => Events::Graded,
        }
    }
}

/// Binary events carry no value (a spike); graded events carry one value per active element.
/// Synaptic work on binary events is counted as accumulates, on graded events as MACs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Events {
    Binary,
    Graded,
}

impl Events {
    pub fn name(self) -> &'static str {
        match self {
            Events::Binary => "binary",
            Events::Graded => "graded",
        }
    }
}

/// A directed, delayed, linear map from one population's output into another's input.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub source: Handle<Population>,
    pub target: Handle<Population>,
    /// Steps between the source emitting and the target receiving; 0 orders source before target.
    pub delay: u32,
    pub kind: ProjectionKind,
}

impl Entity for Projection {
    const PREFIX: char = 'e';
}

/// The linear map a projection applies. Closed: every consumer matches on all of these.
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectionKind {
    Conv2d(Conv2d),
    Dense(Dense),
    SumPool(SumPool),
    Identity(Identity),
    Scale(Scale),
    Affine(Affine),
    Reshape(Reshape),
    Dropout(Dropout),
}

/// 2-D cross-correlation with zero padding; weight `[C_out, C_in / groups, kh, kw]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    pub weight: Handle<Tensor>,
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub groups: usize,
}

/// Fully connected; weight `[out, in]`. The source is read flat (row-major), so a flatten
/// in front of a dense projection costs nothing; the target has `out` elements in any shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub weight: Handle<Tensor>,
}

/// Window sums times `scale`, per channel, zero padding. Average pooling is `scale = 1/(kh*kw)`
/// (padding counted). A `[N]` population is pooled as one row `[1, 1, N]` (kernel `[1, k]`).
#[derive(Debug, Clone, PartialEq)]
pub struct SumPool {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub scale: f64,
}

/// Element-wise copy.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Identity;

/// Element-wise multiply by a constant; `factor: 0` is SNASNet's zero op.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub factor: f64,
}

/// Per-channel multiply by `scale`; with the target's bias it is batch norm at inference. The
/// scale is `[C]`, or `[T, C]` with one row per step (per-step batch norm, whose statistics
/// differ by timestep).
#[derive(Debug, Clone, PartialEq)]
pub struct Affine {
    pub scale: Handle<Tensor>,
}

/// Same elements, new shape (row-major order kept): flatten.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reshape;

/// Dropout with probability `p`: the identity at inference, kept by lowering so the module mirrors
/// the network; `drop_dropout_and_zero` removes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropout {
    pub p: f64,
}

impl ProjectionKind {
    pub fn name(&self) -> &'static str {
        match self {
            ProjectionKind::Conv2d(_) => "conv2d",
            ProjectionKind::Dense(_) => "dense",
            ProjectionKind::SumPool(_) => "sum_pool",
            ProjectionKind::Identity(_) => "identity",
            ProjectionKind::Scale(_) => "scale",
            ProjectionKind::Affine(_) => "affine",
            ProjectionKind::Reshape(_) => "reshape",
            ProjectionKind::Dropout(_) => "dropout",
        }
    }
    /// The tensor the projection reads, if any.
    pub fn tensor(&self) -> Option<Handle<Tensor>> {
        match self {
            ProjectionKind::Conv2d(c) => Some(c.weight),
            ProjectionKind::Dense(d) => Some(d.weight),
            ProjectionKind::Affine(a) => Some(a.scale),
            _ => None,
        }
    }
    pub fn tensor_mut(&mut self) -> Option<&mut Handle<Tensor>> {
        match self {
            ProjectionKind::Conv2d(c) => Some(&mut c.weight),
            ProjectionKind::Dense(d) => Some(&mut d.weight),
            ProjectionKind::Affine(a) => Some(&mut a.scale),
            _ => None,
        }
    }
}

/// A whole compiled network.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Module {
    pub name: String,
    pub timesteps: usize,
    pub num_classes: usize,
    pub tensors: Arena<Tensor>,
    pub populations: Arena<Population>,
    pub projections: Arena<Projection>,
}

impl Module {
    /// The first input population (a valid module has exactly one).
    pub fn input(&self) -> Option<Handle<Population>> {
        self.populations
            .iter()
            .find(|(_, p)| matches!(p.kind, PopulationKind::Input(_)))
            .map(|(h, _)| h)
    }
    /// The first readout population (a valid module has exactly one).
    pub fn readout(&self) -> Option<Handle<Population>> {
        self.populations
            .iter()
            .find(|(_, p)| matches!(p.kind, PopulationKind::Readout(_)))
            .map(|(h, _)| h)
    }
    /// Events a projection carries: binary when its source spikes, graded otherwise.
    pub fn events(&self, e: Handle<Projection>) -> Events {
        self.populations[self.projections[e].source].kind.events()
    }
    /// Projections into each population, in handle order.
    pub fn incoming(&self) -> HandleMap<Population, Vec<Handle<Projection>>> {
        let mut v = HandleMap::filled(self.populations.len(), Vec::new());
        for (h, p) in self.projections.iter() {
            if let Some(slot) = v.get_mut(p.target) {
                slot.push(h);
            }
        }
        v
    }
    /// Projections out of each population, in handle order.
    pub fn outgoing(&self) -> HandleMap<Population, Vec<Handle<Projection>>> {
        let mut v = HandleMap::filled(self.populations.len(), Vec::new());
        for (h, p) in self.projections.iter() {
            if let Some(slot) = v.get_mut(p.source) {
                slot.push(h);
            }
        }
        v
    }
    /// Whether a population's bias changes from step to step (a per-step `[T, C]` tensor).
    pub fn has_per_step_bias(&self, p: Handle<Population>) -> bool {
        self.populations[p]
            .kind
            .bias()
            .is_some_and(|b| self.tensors[b].is_per_step())
    }
    /// Whether a projection's map changes from step to step (a per-step affine scale).
    pub fn is_per_step_projection(&self, kind: &ProjectionKind) -> bool {
        matches!(kind, ProjectionKind::Affine(a) if self.tensors[a.scale].is_per_step())
    }
    /// Which populations hold the same value at every step: the direct input, and analog
    /// populations without a per-step bias fed, over zero delay and through maps that do not
    /// change with the step, only by such populations. Projections for which `live` is false are
    /// ignored (passes mark removals before applying them). The `hoist_constants` rule, also
    /// used by back ends that hoist unoptimised modules.
    pub fn constant_populations(
        &self,
        live: impl Fn(Handle<Projection>) -> bool,
    ) -> HandleMap<Population, bool> {
        let mut c = HandleMap::from_fn(&self.populations, |h| match &self.populations[h].kind {
            PopulationKind::Input(i) => i.encoding == Encoding::Direct,
            PopulationKind::Analog(_) => !self.has_per_step_bias(h),
            _ => false,
        });
        // Optimistic start, then knock out every analog fed late or by a changing source.
        loop {
            let mut changed = false;
            for (h, e) in self.projections.iter() {
                let t = e.target;
                if live(h)
                    && c[t]
                    && matches!(self.populations[t].kind, PopulationKind::Analog(_))
                    && (e.delay != 0 || !c[e.source] || self.is_per_step_projection(&e.kind))
                {
                    c[t] = false;
                    changed = true;
                }
            }
            if !changed {
                return c;
            }
        }
    }
    /// Total number of weight values held.
    pub fn weight_count(&self) -> usize {
        self.tensors.iter().map(|(_, t)| t.data.len()).sum()
    }
}
