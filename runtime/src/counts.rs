//! Exact operation counts per population and step, in the counting words of architecture.md.
//!
//! The executor records only what varies (pairs applied, effective pairs, events per projection;
//! events and near-threshold neurons per population); this module turns that into every count
//! with one fixed cost model, documented in `docs/report.md`:
//!
//! * conv and dense: each (event, weight) pair applied reads one weight and read-modify-writes
//!   one target input value; pairs with a non-zero weight are SOPs (binary source) or MACs
//!   (graded source). **Dense** counts every pair a dense implementation would apply.
//! * sum-pool: one pooling op per (event, window) pair; affine and scale: one affine op per event
//!   (affine also reads its per-channel scale); identity, dropout and reshape: one copy per event.
//!   Each of these read-modify-writes one target input value.
//! * a delayed projection reads each event it delivers from its source's ring (one state read);
//!   a population with delayed consumers writes each event it emits to its ring.
//! * a spiking neuron is updated every step: one neuron update, two state reads (membrane,
//!   input) and two writes (membrane, input cleared); a current-based neuron also updates its
//!   synaptic current (one current update, the current read and written: one more state read
//!   and write); an analog element reads and clears its
//!   input (once per sample when constant); a readout element reads its input and accumulator
//!   and writes both. A leaky-integrator readout element is also a neuron update per step, its
//!   membrane read and written (one more state read and write), and with a synapse a current
//!   update with its read and write, as for a current-based spiking neuron.
//!
//! Counts are attributed to the population a projection delivers into. Hoisted projections (from
//! constant populations) run once per sample, at step `delay`; a per-step affine from a constant
//! population is not hoisted and runs every step from `delay` on, reading the source's one value
//! (no ring read). A per-step bias or scale costs what a constant one does, and a neuron with
//! per-neuron parameters what a neuron with uniform ones does (parameters are memory, counted
//! by [`crate::fit`]).

use crate::exec::SampleRun;
use crate::ops::Op;
use crate::plan::{Kind, Plan};
use serde::Serialize;
use snnc_targets::OpCounts;
use std::ops::AddAssign;

/// Every count of one population at one step (or any sum of those).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Events emitted: spikes, or non-zero graded values.
    pub events: u64,
    /// Binary events emitted (spiking populations).
    pub spikes: u64,
    /// (non-zero weight, binary event) pairs applied: NeuroBench's effective ACs.
    pub sops: u64,
    /// (non-zero weight, graded event) pairs applied: NeuroBench's effective MACs.
    pub macs: u64,
    /// Conv and dense pairs of a dense implementation: NeuroBench's Dense.
    pub dense: u64,
    pub pooling_ops: u64,
    pub affine_ops: u64,
    /// Identity, dropout and reshape deliveries: no arithmetic, only state traffic.
    pub copies: u64,
    pub neuron_updates: u64,
    /// Synaptic-current updates: one per neuron with a synapse per step.
    pub current_updates: u64,
    pub weight_reads: u64,
    pub state_reads: u64,
    pub state_writes: u64,
}

impl AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.events += o.events;
        self.spikes += o.spikes;
        self.sops += o.sops;
        self.macs += o.macs;
        self.dense += o.dense;
        self.pooling_ops += o.pooling_ops;
        self.affine_ops += o.affine_ops;
        self.copies += o.copies;
        self.neuron_updates += o.neuron_updates;
        self.current_updates += o.current_updates;
        self.weight_reads += o.weight_reads;
        self.state_reads += o.state_reads;
        self.state_writes += o.state_writes;
    }
}

impl Counts {
    /// The counts `targets` prices, times `scale` (`1 / samples` for means per sample).
    pub fn op_counts(&self, scale: f64) -> OpCounts {
        OpCounts {
            sops: self.sops as f64 * scale,
            macs: self.macs as f64 * scale,
            pooling_ops: self.pooling_ops as f64 * scale,
            affine_ops: self.affine_ops as f64 * scale,
            neuron_updates: self.neuron_updates as f64 * scale,
            current_updates: self.current_updates as f64 * scale,
            spikes: self.spikes as f64 * scale,
            weight_reads: self.weight_reads as f64 * scale,
            state_reads: self.state_reads as f64 * scale,
            state_writes: self.state_writes as f64 * scale,
        }
    }
}

/// Counts of a set of samples: `[population * T + t]`, summed over `samples`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    pub samples: usize,
    pub timesteps: usize,
    pub cells: Vec<Counts>,
}

impl Tally {
    pub fn new(plan: &Plan) -> Tally {
        Tally {
            samples: 0,
            timesteps: plan.timesteps,
            cells: vec![Counts::default(); plan.pops.len() * plan.timesteps],
        }
    }

    /// Add one sample's run.
    pub fn add(&mut self, plan: &Plan, run: &SampleRun) {
        for (c, s) in self.cells.iter_mut().zip(plan.counts(run)) {
            *c += s;
        }
        self.samples += 1;
    }

    /// Add another tally of the same plan.
    pub fn merge(&mut self, other: &Tally) {
        for (c, o) in self.cells.iter_mut().zip(&other.cells) {
            *c += *o;
        }
        self.samples += other.samples;
    }

    pub fn cell(&self, p: usize, t: usize) -> &Counts {
        &self.cells[p * self.timesteps + t]
    }

    /// One population summed over the steps.
    pub fn population(&self, p: usize) -> Counts {
        let mut c = Counts::default();
        for t in 0..self.timesteps {
            c += *self.cell(p, t);
        }
        c
    }

    /// Everything summed.
    pub fn total(&self) -> Counts {
        let mut c = Counts::default();
        for cell in &self.cells {
            c += *cell;
        }
        c
    }
}

impl Plan {
    /// Every count of one sample, `[population * T + t]`.
    pub fn counts(&self, run: &SampleRun) -> Vec<Counts> {
        let t_max = self.timesteps;
        let mut cells = vec![Counts::default(); self.pops.len() * t_max];
        for (e, proj) in self.projs.iter().enumerate() {
            let dense = proj.op.dense_pairs();
            for t in 0..t_max {
                let step = run.projs[e * t_max + t];
                let c = &mut cells[proj.target * t_max + t];
                c.state_reads += step.pairs;
                c.state_writes += step.pairs;
                match &proj.op {
                    Op::Conv(_) | Op::Dense(_) => {
                        if proj.binary {
                            c.sops += step.effective;
                        } else {
                            c.macs += step.effective;
                        }
                        c.weight_reads += step.pairs;
                        if proj.active(t) {
                            c.dense += dense;
                        }
                    }
                    Op::Pool(_) => c.pooling_ops += step.pairs,
                    Op::Affine(_) | Op::AffineSteps { .. } => {
                        c.affine_ops += step.pairs;
                        c.weight_reads += step.pairs;
                    }
                    Op::Scale(_) => c.affine_ops += step.pairs,
                    Op::Copy(_) => c.copies += step.pairs,
                }
                // A constant source has no ring: a per-step map from one reads its one slot.
                if proj.delay > 0 && !self.pops[proj.source].constant {
                    c.state_reads += step.events;
                }
            }
        }
        for (p, pop) in self.pops.iter().enumerate() {
            let n = pop.numel() as u64;
            for t in 0..t_max {
                let events = run.pops[p * t_max + t].events;
                let c = &mut cells[p * t_max + t];
                c.events += events;
                match &pop.kind {
                    Kind::Spiking(lif) => {
                        c.spikes += events;
                        c.neuron_updates += n;
                        c.state_reads += 2 * n;
                        c.state_writes += 2 * n;
                        if lif.synapse.is_some() {
                            c.current_updates += n;
                            c.state_reads += n;
                            c.state_writes += n;
                        }
                    }
                    Kind::Analog if !pop.constant || t == 0 => {
                        c.state_reads += n;
                        c.state_writes += n;
                    }
                    Kind::Readout { integrator, .. } => {
                        c.state_reads += 2 * n;
                        c.state_writes += 2 * n;
                        if let Some(li) = integrator {
                            c.neuron_updates += n;
                            c.state_reads += n;
                            c.state_writes += n;
                            if li.synapse.is_some() {
                                c.current_updates += n;
                                c.state_reads += n;
                                c.state_writes += n;
                            }
                        }
                    }
                    Kind::Analog | Kind::Input { .. } => {}
                }
                if pop.depth > 1 {
                    c.state_writes += events;
                }
            }
        }
        cells
    }
}
