//! The energy model: operation counts in, joules out, term by term, priced by a target's rows.

use crate::model::{Pricing, Row, Target};
use serde::{Deserialize, Serialize};
use std::ops::{Add, AddAssign};

/// The counting words of snnc (architecture.md, "Counting words"). Counts may be exact totals or
/// means per sample; the energy model is linear, so either works.
///
/// Who counts what: the runtime counts every field exactly; a search that estimates (SOPs =
/// firing rate x T x dense ops) may fill only `sops` and `macs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpCounts {
    /// Synaptic operations on binary events (ACs): one per (non-zero weight, input spike) pair
    /// actually applied, padding excluded. NeuroBench's Effective ACs.
    pub sops: f64,
    /// Synaptic operations on graded events (MACs): the same pairs for non-binary inputs (direct
    /// encoding, analog sums, pooled values). NeuroBench's Effective MACs.
    pub macs: f64,
    /// Sum-pool accumulations: one per input value added into a pool output. Not synaptic.
    pub pooling_ops: f64,
    /// Per-channel affine applications (BatchNorm kept at inference): one per value scaled and
    /// shifted. Not synaptic.
    pub affine_ops: f64,
    /// Membrane updates: one per neuron per timestep at which its state is updated.
    pub neuron_updates: f64,
    /// Synaptic-current updates of current-based neurons (`cuba_lif`): one per neuron with a
    /// synapse per timestep, `i = alpha i + w_in x`, on top of its membrane update.
    pub current_updates: f64,
    /// Binary events emitted by spiking populations.
    pub spikes: f64,
    /// Weight values fetched from memory.
    pub weight_reads: f64,
    /// State values (membranes, delay-ring slots) read from memory.
    pub state_reads: f64,
    /// State values written to memory.
    pub state_writes: f64,
}

/// One field of [`OpCounts`], named as in files and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Count {
    Sops,
    Macs,
    PoolingOps,
    AffineOps,
    NeuronUpdates,
    CurrentUpdates,
    Spikes,
    WeightReads,
    StateReads,
    StateWrites,
}

impl Count {
    /// Every count, in the order of the [`OpCounts`] fields.
    pub const ALL: [Count; 10] = [
        Count::Sops,
        Count::Macs,
        Count::PoolingOps,
        Count::AffineOps,
        Count::NeuronUpdates,
        Count::CurrentUpdates,
        Count::Spikes,
        Count::WeightReads,
        Count::StateReads,
        Count::StateWrites,
    ];

    /// The name used in files, reports and [`OpCounts`] (`sops`, `weight_reads`).
    pub fn name(self) -> &'static str {
        match self {
            Count::Sops => "sops",
            Count::Macs => "macs",
            Count::PoolingOps => "pooling_ops",
            Count::AffineOps => "affine_ops",
            Count::NeuronUpdates => "neuron_updates",
            Count::CurrentUpdates => "current_updates",
            Count::Spikes => "spikes",
            Count::WeightReads => "weight_reads",
            Count::StateReads => "state_reads",
            Count::StateWrites => "state_writes",
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl OpCounts {
    /// The value of one count.
    pub fn get(&self, count: Count) -> f64 {
        match count {
            Count::Sops => self.sops,
            Count::Macs => self.macs,
            Count::PoolingOps => self.pooling_ops,
            Count::AffineOps => self.affine_ops,
            Count::NeuronUpdates => self.neuron_updates,
            Count::CurrentUpdates => self.current_updates,
            Count::Spikes => self.spikes,
            Count::WeightReads => self.weight_reads,
            Count::StateReads => self.state_reads,
            Count::StateWrites => self.state_writes,
        }
    }

    /// A mutable reference to one count.
    pub fn get_mut(&mut self, count: Count) -> &mut f64 {
        match count {
            Count::Sops => &mut self.sops,
            Count::Macs => &mut self.macs,
            Count::PoolingOps => &mut self.pooling_ops,
            Count::AffineOps => &mut self.affine_ops,
            Count::NeuronUpdates => &mut self.neuron_updates,
            Count::CurrentUpdates => &mut self.current_updates,
            Count::Spikes => &mut self.spikes,
            Count::WeightReads => &mut self.weight_reads,
            Count::StateReads => &mut self.state_reads,
            Count::StateWrites => &mut self.state_writes,
        }
    }

    /// Every count multiplied by `factor` (for example `1.0 / samples` to get means per sample).
    pub fn scaled(&self, factor: f64) -> OpCounts {
        let mut out = *self;
        for c in Count::ALL {
            *out.get_mut(c) *= factor;
        }
        out
    }
}

impl AddAssign for OpCounts {
    fn add_assign(&mut self, rhs: OpCounts) {
        for c in Count::ALL {
            *self.get_mut(c) += rhs.get(c);
        }
    }
}

impl Add for OpCounts {
    type Output = OpCounts;
    fn add(mut self, rhs: OpCounts) -> OpCounts {
        self += rhs;
        self
    }
}

/// Which part of the breakdown a priced count falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Arithmetic,
    Memory,
    Communication,
    AllIn,
}

impl Section {
    /// The name used in files and reports (`arithmetic`, `all_in`).
    pub fn name(self) -> &'static str {
        match self {
            Section::Arithmetic => "arithmetic",
            Section::Memory => "memory",
            Section::Communication => "communication",
            Section::AllIn => "all_in",
        }
    }
}

/// How a target treats one count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CountPricing<'a> {
    /// Each event costs this row's energy, booked under `section`.
    Priced { section: Section, row: &'a Row },
    /// Already inside an all-in figure: adds nothing, and is not missing.
    Covered,
    /// The target has no figure for it: it adds nothing, and the breakdown lists it when non-zero.
    Unpriced,
}

/// One priced count's contribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnergyTerm {
    pub count: Count,
    pub section: Section,
    /// The count's value.
    pub events: f64,
    /// Energy per event, pJ.
    pub pj_each: f64,
    /// `events x pj_each`, in joules.
    pub joules: f64,
}

/// Energy of a set of counts on one target, in joules. `total_j` is the sum of the four sections;
/// an all-in target books everything under `all_in_j` and has zero memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnergyBreakdown {
    pub target: String,
    pub arithmetic_j: f64,
    pub memory_j: f64,
    pub communication_j: f64,
    pub all_in_j: f64,
    pub total_j: f64,
    /// One term per count the target prices, in [`Count::ALL`] order (zero counts included).
    pub terms: Vec<EnergyTerm>,
    /// Non-zero counts the target has no figure for: the total leaves them out.
    pub unpriced: Vec<Count>,
}

impl EnergyBreakdown {
    /// The term of one count, if the target prices it.
    pub fn term(&self, count: Count) -> Option<&EnergyTerm> {
        self.terms.iter().find(|t| t.count == count)
    }
}

impl Target {
    /// How this target treats `count`.
    pub fn pricing_of(&self, count: Count) -> CountPricing<'_> {
        match &self.pricing {
            Pricing::AllIn(all_in) => {
                if all_in.prices.contains(&count) {
                    CountPricing::Priced {
                        section: Section::AllIn,
                        row: &all_in.per_event,
                    }
                } else if all_in.covers.contains(&count) {
                    CountPricing::Covered
                } else {
                    CountPricing::Unpriced
                }
            }
            Pricing::PerOperation {
                arithmetic: a,
                memory,
                communication,
            } => {
                let (section, row) = match count {
                    Count::Sops => (Section::Arithmetic, a.sop.as_ref()),
                    Count::Macs => (Section::Arithmetic, a.mac.as_ref()),
                    Count::PoolingOps => (Section::Arithmetic, a.pooling_op.as_ref()),
                    Count::AffineOps => (Section::Arithmetic, a.affine_op.as_ref()),
                    Count::NeuronUpdates => (Section::Arithmetic, a.neuron_update.as_ref()),
                    Count::CurrentUpdates => (Section::Arithmetic, a.current_update.as_ref()),
                    Count::Spikes => (
                        Section::Communication,
                        communication.as_ref().and_then(|c| c.spike.as_ref()),
                    ),
                    Count::WeightReads => (
                        Section::Memory,
                        memory.as_ref().and_then(|m| m.weight_read.as_ref()),
                    ),
                    Count::StateReads => (
                        Section::Memory,
                        memory.as_ref().and_then(|m| m.state_read.as_ref()),
                    ),
                    Count::StateWrites => (
                        Section::Memory,
                        memory.as_ref().and_then(|m| m.state_write.as_ref()),
                    ),
                };
                row.map_or(CountPricing::Unpriced, |row| CountPricing::Priced {
                    section,
                    row,
                })
            }
        }
    }

    /// Energy per event of `count` in pJ, if this target prices it (the all-in figure for the
    /// counts an all-in target prices).
    pub fn pj(&self, count: Count) -> Option<f64> {
        match self.pricing_of(count) {
            CountPricing::Priced { row, .. } => Some(row.pj),
            _ => None,
        }
    }

    /// The counts this target prices, in [`Count::ALL`] order.
    pub fn priced_counts(&self) -> Vec<Count> {
        Count::ALL
            .into_iter()
            .filter(|&c| matches!(self.pricing_of(c), CountPricing::Priced { .. }))
            .collect()
    }

    /// Prices `counts`: each priced count x its row's energy, summed per section.
    pub fn energy(&self, counts: &OpCounts) -> EnergyBreakdown {
        let mut out = EnergyBreakdown {
            target: self.name.clone(),
            arithmetic_j: 0.0,
            memory_j: 0.0,
            communication_j: 0.0,
            all_in_j: 0.0,
            total_j: 0.0,
            terms: Vec::new(),
            unpriced: Vec::new(),
        };
        for count in Count::ALL {
            let events = counts.get(count);
            match self.pricing_of(count) {
                CountPricing::Priced { section, row } => {
                    let joules = events * row.joules();
                    *match section {
                        Section::Arithmetic => &mut out.arithmetic_j,
                        Section::Memory => &mut out.memory_j,
                        Section::Communication => &mut out.communication_j,
                        Section::AllIn => &mut out.all_in_j,
                    } += joules;
                    out.terms.push(EnergyTerm {
                        count,
                        section,
                        events,
                        pj_each: row.pj,
                        joules,
                    });
                }
                CountPricing::Covered => {}
                CountPricing::Unpriced => {
                    if events != 0.0 {
                        out.unpriced.push(count);
                    }
                }
            }
        }
        out.total_j = out.arithmetic_j + out.memory_j + out.communication_j + out.all_in_j;
        out
    }
}
