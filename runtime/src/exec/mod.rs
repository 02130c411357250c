//! Running a plan: per-sample state, the prologue, the step loop, and samples in parallel.
//!
//! Per step, each population of the schedule seeds its input (bias, constant or that step's
//! row of a per-step one, plus hoisted drives),
//! receives the events of its sources from step `t - delay` through their projections, then
//! updates: LIF neurons charge (a current-based one with its synaptic current, updated
//! first), fire and reset; analog populations emit their non-zero values as
//! graded events; the readout's value (its input, or the membrane of its leaky integrator) is
//! reduced into the logits by its mode's reduction. Event lists live in per-population rings as deep as
//! the longest delay out of the population.

mod batch;
mod prologue;
mod slot;
mod state;
mod step;

pub use batch::Profile;
pub use state::State;

use crate::error::RuntimeError;
use crate::plan::{Kind, Plan};
use snnc_compiler::reference::RunOutput;

/// Work of one projection at one step, summed over what it delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjStep {
    /// (event, target element) updates applied (for conv and dense: weights read).
    pub pairs: u64,
    /// Of those, the ones with a non-zero weight: SOPs (binary source) or MACs (graded source).
    pub effective: u64,
    /// Source events delivered.
    pub events: u64,
}

/// What one population did at one step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PopStep {
    /// Events emitted: spikes, or non-zero graded values.
    pub events: u64,
    /// Neurons whose membrane lay within [`snnc_compiler::reference::FLIP_MARGIN`] of the threshold (spiking only).
    pub near: u64,
}

/// The outcome of one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRun {
    pub logits: Vec<f64>,
    pub prediction: usize,
    /// `[population * T + t]`.
    pub pops: Vec<PopStep>,
    /// `[projection * T + t]`.
    pub projs: Vec<ProjStep>,
    /// With tracing: `[t][population]` values in row-major order (spikes as 0/1; the readout's
    /// value of that step: its input, or its integrator's membrane).
    pub trace: Option<Vec<Vec<Vec<f32>>>>,
}

/// Where samples come from: the runtime asks for one at a time, so a large set is never
/// materialised.
pub trait Inputs: Sync {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Write sample `i` (row-major, as [`snnc_compiler::reference::run_module`] takes it) into `out`.
    fn fill(&self, i: usize, out: &mut Vec<f32>) -> Result<(), RuntimeError>;
}

impl Inputs for [Vec<f32>] {
    fn len(&self) -> usize {
        <[Vec<f32>]>::len(self)
    }
    fn fill(&self, i: usize, out: &mut Vec<f32>) -> Result<(), RuntimeError> {
        out.clear();
        out.extend_from_slice(&self[i]);
        Ok(())
    }
}

impl Inputs for Vec<Vec<f32>> {
    fn len(&self) -> usize {
        <[Vec<f32>]>::len(self)
    }
    fn fill(&self, i: usize, out: &mut Vec<f32>) -> Result<(), RuntimeError> {
        self.as_slice().fill(i, out)
    }
}

impl Plan {
    /// Run one sample (`input` row-major: one frame, or `timesteps` frames for event input).
    /// `sample` only names it in errors.
    pub fn run_sample(
        &self,
        st: &mut State,
        input: &[f32],
        sample: usize,
        trace: bool,
    ) -> Result<SampleRun, RuntimeError> {
        let expected = self.input_len();
        if input.len() != expected {
            let what = if self.event_frames() {
                format!(
                    "{} event frames of {}",
                    self.timesteps,
                    self.pops[self.input].numel()
                )
            } else {
                format!("one direct frame of {}", self.pops[self.input].numel())
            };
            return Err(RuntimeError::InputSize {
                sample,
                expected,
                found: input.len(),
                what,
            });
        }
        let t_max = self.timesteps;
        let mut out = SampleRun {
            logits: Vec::new(),
            prediction: 0,
            pops: vec![PopStep::default(); self.pops.len() * t_max],
            projs: vec![ProjStep::default(); self.projs.len() * t_max],
            trace: trace.then(Vec::new),
        };
        self.reset(st);
        self.prologue(st, input, &mut out);
        for t in 0..t_max {
            for &p in &self.schedule {
                self.step_population(st, p, t, input, &mut out);
            }
            for (p, pop) in self.pops.iter().enumerate() {
                let step = &mut out.pops[p * t_max + t];
                step.events = match pop.kind {
                    Kind::Readout { .. } => {
                        self.readout_value(st).iter().filter(|v| **v != 0.0).count() as u64
                    }
                    _ => st.slots[self.current(st, p, t)].events as u64,
                };
            }
            if let Some(tr) = out.trace.as_mut() {
                tr.push(self.snapshot(st, t));
            }
        }
        let mut logits = st.logits.clone();
        if let Kind::Readout { mode, .. } = self.pops[self.readout].kind {
            snnc_compiler::reference::finish_reduction(&mut logits, t_max, mode.reduction());
        }
        out.prediction = snnc_compiler::reference::kernels::argmax(&logits);
        out.logits = logits;
        Ok(out)
    }

    /// The runs in the reference interpreter's shape, for the equivalence ladder.
    pub fn run_output(&self, runs: &[SampleRun]) -> RunOutput {
        let t_max = self.timesteps;
        let per_layer = |r: &SampleRun, f: fn(&PopStep) -> u64| -> Vec<Vec<u64>> {
            self.layers
                .iter()
                .map(|&p| (0..t_max).map(|t| f(&r.pops[p * t_max + t])).collect())
                .collect()
        };
        RunOutput {
            logits: runs.iter().map(|r| r.logits.clone()).collect(),
            predictions: runs.iter().map(|r| r.prediction).collect(),
            layers: self.layer_names(),
            spikes: runs.iter().map(|r| per_layer(r, |s| s.events)).collect(),
            near_threshold: runs.iter().map(|r| per_layer(r, |s| s.near)).collect(),
        }
    }

    /// The readout's value of the latest step: its input, or its integrator's membrane.
    fn readout_value<'a>(&self, st: &'a State) -> &'a [f32] {
        match self.pops[self.readout].integrator() {
            Some(_) => &st.membrane[self.readout],
            None => &st.readout_in,
        }
    }

    fn reset(&self, st: &mut State) {
        for (p, pop) in self.pops.iter().enumerate() {
            match &pop.kind {
                Kind::Spiking(l) => {
                    l.initial_membrane(&mut st.membrane[p]);
                    st.current[p].fill(0.0);
                }
                Kind::Readout {
                    integrator: Some(li),
                    ..
                } => {
                    li.initial_membrane(&mut st.membrane[p]);
                    st.current[p].fill(0.0);
                }
                // Event frames are loaded into zeroed slots, clearing only the last events.
                Kind::Input { event_frames: true } => {
                    let base = st.slot_base[p];
                    for s in &mut st.slots[base..base + pop.depth] {
                        s.clear_values();
                    }
                }
                _ => {}
            }
        }
        for s in &mut st.slots {
            s.idx.clear();
            s.dense = false;
            s.events = 0;
        }
        st.logits.fill(0.0);
    }

    /// Row-major values of every population at step `t`.
    fn snapshot(&self, st: &State, t: usize) -> Vec<Vec<f32>> {
        self.pops
            .iter()
            .enumerate()
            .map(|(p, pop)| {
                let slot = &st.slots[self.current(st, p, t)];
                let storage = match pop.kind {
                    Kind::Readout { .. } => self.readout_value(st).to_vec(),
                    Kind::Spiking(_) => {
                        let mut v = vec![0.0; pop.numel()];
                        slot.idx.iter().for_each(|&i| v[i as usize] = 1.0);
                        v
                    }
                    _ => slot.val.clone(),
                };
                pop.layout.to_logical(&storage)
            })
            .collect()
    }
}
