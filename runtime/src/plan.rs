//! The immutable plan: a validated module turned into scatter-ready projections and a step schedule.
//!
//! Built once, shared by every thread; per-sample values live in [`crate::State`]. The plan
//! splits populations into the **prologue** (constant: the direct-encoded input and analog
//! populations fed only by constants over zero delay), evaluated once per sample, and the
//! **step schedule**, evaluated every step. A projection from a constant population into a
//! per-step one is applied once per sample too, into a per-sample drive that seeds the target's
//! input at every step from `delay` on (the hoisting of architecture.md). Per-step tensors
//! (`[T, C]` biases and affine scales, per-step batch norm) are never hoisted: an analog
//! population with one, or fed through one, is per-step, and a per-step affine from a constant
//! population is delivered every step.

use crate::layout::Layout;
use crate::ops::Op;
use snnc_compiler::ir::{
    Arena, Compare, Encoding, Handle, Module, Param, Population, PopulationKind, Projection,
    ReadoutKind, Reset, Tensor,
};
use snnc_compiler::validate::validate;

/// What a population computes, with the parameters the runtime needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Input {
        event_frames: bool,
    },
    Spiking(Lif),
    Analog,
    Readout {
        mode: ReadoutKind,
        integrator: Option<Integrator>,
    },
}

/// A leaky-integrator readout in the runtime's precision (`ir::Integrator`): each step
/// `v = rest + beta (v - rest) + gain x`, `x` the input or, with a synapse, the current it enters.
#[derive(Debug, Clone, PartialEq)]
pub struct Integrator {
    pub beta: f32,
    pub gain: f32,
    pub rest: f32,
    pub synapse: Option<Synapse>,
    /// Every parameter per neuron when any differs between neurons (see [`Lif::per_neuron`]).
    pub per_neuron: Option<Box<PerNeuron>>,
}

impl Integrator {
    /// Set a membrane to its initial value, `rest` (per neuron where it differs).
    pub fn initial_membrane(&self, v: &mut [f32]) {
        match &self.per_neuron {
            Some(p) => v.copy_from_slice(&p.rest[..v.len()]),
            None => v.fill(self.rest),
        }
    }
}

/// LIF parameters in the runtime's precision.
///
/// A population whose parameters are all uniform holds them as the scalars below and runs the
/// scalar-parameter kernels; one with any per-neuron parameter also carries [`PerNeuron`]
/// arrays, which its own kernels read instead (the scalars then hold neuron 0's values, and
/// the presence of `v_min` and `synapse` still says whether the population has them).
#[derive(Debug, Clone, PartialEq)]
pub struct Lif {
    pub beta: f32,
    pub gain: f32,
    pub threshold: f32,
    pub v_reset: f32,
    /// The potential the leak pulls towards (`ir::Spiking::rest`).
    pub rest: f32,
    pub reset: Reset,
    pub fire: Compare,
    /// Lower bound of the kept membrane (`ir::Spiking::v_min`).
    pub v_min: Option<f32>,
    /// The synaptic current between input and membrane (`ir::Spiking::synapse`), if any.
    pub synapse: Option<Synapse>,
    /// Every parameter per neuron, in storage order, when any differs between neurons.
    pub per_neuron: Option<Box<PerNeuron>>,
}

impl Lif {
    /// Set a membrane to its initial value, `v_reset` (per neuron where it differs).
    pub fn initial_membrane(&self, v: &mut [f32]) {
        match &self.per_neuron {
            Some(p) => v.copy_from_slice(&p.v_reset[..v.len()]),
            None => v.fill(self.v_reset),
        }
    }
}

/// One value per neuron of every parameter of a population, in storage order ([`Layout`]):
/// a uniform parameter repeated, a per-neuron tensor (row-major) permuted. Arrays a
/// population does not use are empty: `threshold` and `v_reset` for an integrator, `v_min`
/// without a lower bound, `alpha` and `w_in` without a synapse.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PerNeuron {
    pub beta: Vec<f32>,
    pub gain: Vec<f32>,
    /// The potential the leak pulls towards (`v_leak`, else `v_reset`; an integrator's `rest`).
    pub rest: Vec<f32>,
    pub threshold: Vec<f32>,
    pub v_reset: Vec<f32>,
    pub v_min: Vec<f32>,
    pub alpha: Vec<f32>,
    pub w_in: Vec<f32>,
}

/// A current-based neuron's synapse in the runtime's precision: `i = alpha i + w_in x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Synapse {
    pub alpha: f32,
    pub w_in: f32,
}

/// One population of the plan.
#[derive(Debug, Clone)]
pub struct Pop {
    pub name: String,
    pub handle: Handle<Population>,
    pub kind: Kind,
    pub layout: Layout,
    /// Output the same at every step: evaluated once per sample in the prologue.
    pub constant: bool,
    /// Ring slots kept: the longest delay of a per-step consumer plus one (1 for constants).
    pub depth: usize,
    /// Bias in storage order, if any and the same at every step.
    pub bias: Option<Vec<f32>>,
    /// A per-step bias: `T` rows of `numel` values in storage order, row `t` added at step `t`.
    /// Kept apart from `bias` so that hoisted drives, which fold a constant bias in, stay
    /// without it, and the constant case is untouched.
    pub step_bias: Option<Vec<f32>>,
    /// Projections delivered every step (non-constant sources, or per-step maps), in handle
    /// order.
    pub incoming: Vec<usize>,
    /// Projections from constant sources through constant maps: applied once per sample.
    pub hoisted: Vec<usize>,
    /// Distinct delays of `hoisted` (below the timestep count), ascending: one drive each.
    pub drive_delays: Vec<u32>,
}

impl Pop {
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }
    /// Emits binary events (spikes) rather than graded values.
    pub fn binary(&self) -> bool {
        matches!(self.kind, Kind::Spiking(_))
    }
    /// The synapse of a current-based spiking population or integrator readout.
    pub fn synapse(&self) -> Option<Synapse> {
        match &self.kind {
            Kind::Spiking(l) => l.synapse,
            Kind::Readout {
                integrator: Some(li),
                ..
            } => li.synapse,
            _ => None,
        }
    }
    /// The leaky integrator of a membrane readout.
    pub fn integrator(&self) -> Option<&Integrator> {
        match &self.kind {
            Kind::Readout { integrator, .. } => integrator.as_ref(),
            _ => None,
        }
    }
    /// Row `t` of a per-step bias (storage order), if the population has one.
    pub fn step_bias_row(&self, t: usize) -> Option<&[f32]> {
        let n = self.numel();
        self.step_bias
            .as_deref()
            .map(|rows| &rows[t * n..(t + 1) * n])
    }
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Input { .. } => "input",
            Kind::Spiking(_) => "spiking",
            Kind::Analog => "analog",
            Kind::Readout { .. } => "readout",
        }
    }
}

/// One projection of the plan.
#[derive(Debug, Clone)]
pub struct Proj {
    pub handle: Handle<Projection>,
    pub source: usize,
    pub target: usize,
    pub delay: usize,
    /// The IR kind's name (`conv2d`, `dense`, ...).
    pub kind: &'static str,
    /// Its source emits binary events: synaptic work counts as SOPs, else as MACs.
    pub binary: bool,
    /// Its source is constant and its map the same at every step: applied once per sample, at
    /// step `delay`.
    pub hoisted: bool,
    pub op: Op,
}

impl Proj {
    /// Whether the projection does work at step `t`.
    pub fn active(&self, t: usize) -> bool {
        if self.hoisted {
            t == self.delay
        } else {
            t >= self.delay
        }
    }
}

/// A compiled module ready to run: immutable, `Sync`, shared by all samples.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub timesteps: usize,
    pub num_classes: usize,
    pub pops: Vec<Pop>,
    pub projs: Vec<Proj>,
    /// Constant populations in evaluation order.
    pub prologue: Vec<usize>,
    /// Per-step populations in evaluation order (respects every zero-delay projection).
    pub schedule: Vec<usize>,
    pub input: usize,
    pub readout: usize,
    /// Spiking populations in handle order: the layers of spike reports.
    pub layers: Vec<usize>,
    /// Which build of the kernels runs (the widest the CPU has; tests try every level).
    /// Results are identical in every build.
    pub simd: crate::ops::Simd,
}

impl Plan {
    /// Validate `m` and prepare it. Any valid module runs, optimised or not.
    pub fn new(m: &Module) -> Result<Plan, snnc_compiler::validate::ValidationErrors> {
        let v = validate(m)?;
        let constant = m.constant_populations(|_| true);
        let mut pops: Vec<Pop> = m
            .populations
            .iter()
            .map(|(h, p)| {
                let layout = Layout::of(&p.shape);
                let bias = p.kind.bias().map(|b| &m.tensors[b]);
                let per_step = bias.is_some_and(|b| b.is_per_step());
                Pop {
                    name: p.name.clone(),
                    handle: h,
                    kind: kind(&p.kind, &m.tensors, layout),
                    layout,
                    constant: constant[h],
                    depth: 1,
                    bias: bias.filter(|_| !per_step).map(|b| layout.expand(&b.data)),
                    step_bias: bias
                        .filter(|_| per_step)
                        .map(|b| layout.expand_steps(&b.data, b.shape[0])),
                    incoming: Vec::new(),
                    hoisted: Vec::new(),
                    drive_delays: Vec::new(),
                }
            })
            .collect();
        let mut projs = Vec::with_capacity(m.projections.len());
        for (h, e) in m.projections.iter() {
            let (s, t) = (e.source.index(), e.target.index());
            let (source_constant, target_constant) = (constant[e.source], constant[e.target]);
            let delay = e.delay as usize;
            let src = &pops[s];
            let op = Op::new(&e.kind, &m.tensors, src.layout, pops[t].layout);
            let hoisted = source_constant && !op.per_step();
            projs.push(Proj {
                handle: h,
                source: s,
                target: t,
                delay,
                kind: e.kind.name(),
                binary: src.binary(),
                hoisted,
                op,
            });
            let i = projs.len() - 1;
            if hoisted {
                pops[t].hoisted.push(i);
                if !target_constant
                    && delay < m.timesteps
                    && !pops[t].drive_delays.contains(&e.delay)
                {
                    pops[t].drive_delays.push(e.delay);
                }
            } else {
                pops[t].incoming.push(i);
                // A constant source is read from its one slot whatever the delay.
                if !source_constant {
                    pops[s].depth = pops[s].depth.max(delay + 1);
                }
            }
        }
        for p in &mut pops {
            p.drive_delays.sort_unstable();
        }
        let (prologue, schedule): (Vec<Handle<Population>>, Vec<_>) =
            v.schedule.iter().partition(|&&h| constant[h]);
        let indices = |hs: Vec<Handle<Population>>| -> Vec<usize> {
            hs.into_iter().map(Handle::index).collect()
        };
        Ok(Plan {
            name: m.name.clone(),
            timesteps: m.timesteps,
            num_classes: m.num_classes,
            layers: pops
                .iter()
                .enumerate()
                .filter(|(_, p)| p.binary())
                .map(|(i, _)| i)
                .collect(),
            pops,
            projs,
            prologue: indices(prologue),
            schedule: indices(schedule),
            input: v.input.index(),
            readout: v.readout.index(),
            simd: crate::ops::Simd::detect(),
        })
    }

    /// Input values one sample needs: one frame (direct) or `timesteps` frames (event frames).
    pub fn input_len(&self) -> usize {
        let p = &self.pops[self.input];
        match p.kind {
            Kind::Input { event_frames: true } => p.numel() * self.timesteps,
            _ => p.numel(),
        }
    }

    pub fn event_frames(&self) -> bool {
        matches!(
            self.pops[self.input].kind,
            Kind::Input { event_frames: true }
        )
    }

    /// The state-size yardstick of the issue: 4 bytes per population element (neurons and
    /// analog values) plus a dense f32 delay buffer of `depth - 1` steps per population, plus
    /// 4 bytes per neuron with a synaptic current (an integrator readout's element stands for
    /// its membrane, as a spiking neuron's does).
    pub fn state_budget(&self) -> usize {
        self.pops
            .iter()
            .map(|p| p.numel() * 4 * (p.depth + usize::from(p.synapse().is_some())))
            .sum()
    }

    /// Total population elements ("neurons" of the report).
    pub fn neurons(&self) -> usize {
        self.pops.iter().map(Pop::numel).sum()
    }

    /// Names of the spiking layers, as the reference interpreter reports them.
    pub fn layer_names(&self) -> Vec<String> {
        self.layers
            .iter()
            .map(|&p| self.pops[p].name.clone())
            .collect()
    }
}

fn kind(k: &PopulationKind, tensors: &Arena<Tensor>, layout: Layout) -> Kind {
    match k {
        PopulationKind::Input(i) => Kind::Input {
            event_frames: i.encoding == Encoding::EventFrames,
        },
        PopulationKind::Spiking(s) => {
            let first = s.at(tensors, 0);
            let per_neuron = s.uniform().is_none().then(|| {
                let each = |p: Param| per_neuron(p, tensors, layout);
                Box::new(PerNeuron {
                    beta: each(s.beta),
                    gain: each(s.gain),
                    rest: each(s.v_leak.unwrap_or(s.v_reset)),
                    threshold: each(s.threshold),
                    v_reset: each(s.v_reset),
                    v_min: s.v_min.map(each).unwrap_or_default(),
                    alpha: s.synapse.map(|syn| each(syn.alpha)).unwrap_or_default(),
                    w_in: s.synapse.map(|syn| each(syn.w_in)).unwrap_or_default(),
                })
            });
            Kind::Spiking(Lif {
                beta: first.beta as f32,
                gain: first.gain as f32,
                threshold: first.threshold as f32,
                v_reset: first.v_reset as f32,
                rest: first.rest() as f32,
                reset: first.reset,
                fire: first.fire,
                v_min: first.v_min.map(|v| v as f32),
                synapse: first.synapse.map(synapse),
                per_neuron,
            })
        }
        PopulationKind::Analog(_) => Kind::Analog,
        PopulationKind::Readout(r) => Kind::Readout {
            mode: r.mode,
            integrator: r.integrator.map(|li| {
                let first = li.at(tensors, 0);
                let per_neuron = li.uniform().is_none().then(|| {
                    let each = |p: Param| per_neuron(p, tensors, layout);
                    Box::new(PerNeuron {
                        beta: each(li.beta),
                        gain: each(li.gain),
                        rest: each(li.rest),
                        alpha: li.synapse.map(|syn| each(syn.alpha)).unwrap_or_default(),
                        w_in: li.synapse.map(|syn| each(syn.w_in)).unwrap_or_default(),
                        ..PerNeuron::default()
                    })
                });
                Integrator {
                    beta: first.beta as f32,
                    gain: first.gain as f32,
                    rest: first.rest as f32,
                    synapse: first.synapse.map(synapse),
                    per_neuron,
                }
            }),
        },
    }
}

/// One value per neuron of `p` in storage order, each rounded to f32 as the scalar kernels
/// round a uniform value (a per-neuron tensor is f32 already: exact).
fn per_neuron(p: Param, tensors: &Arena<Tensor>, layout: Layout) -> Vec<f32> {
    (0..layout.numel())
        .map(|s| p.at(tensors, layout.logical(s)) as f32)
        .collect()
}

fn synapse(s: snnc_compiler::ir::SynapseAt) -> Synapse {
    Synapse {
        alpha: s.alpha as f32,
        w_in: s.w_in as f32,
    }
}
