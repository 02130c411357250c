//! Reports: a run's counts as means per sample, priced on a target; written as a table, JSON, CSV, SVG.
//!
//! [`Report`] is the JSON document of `snnc run --report` (schema in `docs/report.md`); the
//! table, CSV files and plot are views of it.

mod csv;
mod plot;
mod table;

pub use csv::write_csv;
pub use plot::{DrawError, svg, write_svg};
pub use table::table;

use crate::counts::{Counts, Tally};
use crate::error::RuntimeError;
use crate::plan::{Kind, Plan};
use serde::Serialize;
use snnc_targets::{EnergyBreakdown, Target};
use std::path::Path;

/// Counts as means per sample (the fields of [`Counts`], in f64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MeanCounts {
    pub events: f64,
    pub spikes: f64,
    pub sops: f64,
    pub macs: f64,
    pub dense: f64,
    pub pooling_ops: f64,
    pub affine_ops: f64,
    pub copies: f64,
    pub neuron_updates: f64,
    pub current_updates: f64,
    pub weight_reads: f64,
    pub state_reads: f64,
    pub state_writes: f64,
}

impl MeanCounts {
    fn of(c: &Counts, samples: usize) -> MeanCounts {
        let k = 1.0 / samples.max(1) as f64;
        MeanCounts {
            events: c.events as f64 * k,
            spikes: c.spikes as f64 * k,
            sops: c.sops as f64 * k,
            macs: c.macs as f64 * k,
            dense: c.dense as f64 * k,
            pooling_ops: c.pooling_ops as f64 * k,
            affine_ops: c.affine_ops as f64 * k,
            copies: c.copies as f64 * k,
            neuron_updates: c.neuron_updates as f64 * k,
            current_updates: c.current_updates as f64 * k,
            weight_reads: c.weight_reads as f64 * k,
            state_reads: c.state_reads as f64 * k,
            state_writes: c.state_writes as f64 * k,
        }
    }
}

/// Energy of one layer, joules per sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerEnergy {
    pub total_j: f64,
    pub arithmetic_j: f64,
    pub memory_j: f64,
    pub communication_j: f64,
    pub all_in_j: f64,
    pub per_timestep_j: Vec<f64>,
}

impl LayerEnergy {
    fn from(b: &EnergyBreakdown, per_timestep_j: Vec<f64>) -> LayerEnergy {
        LayerEnergy {
            total_j: b.total_j,
            arithmetic_j: b.arithmetic_j,
            memory_j: b.memory_j,
            communication_j: b.communication_j,
            all_in_j: b.all_in_j,
            per_timestep_j,
        }
    }
}

/// One population of the module: what it did per step and in all, means per sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layer {
    pub name: String,
    /// The population's handle in the IR text (`p7`).
    pub population: String,
    /// `input`, `spiking`, `analog` or `readout`.
    pub kind: String,
    /// Elements of the population.
    pub neurons: usize,
    pub spikes_per_timestep: Vec<f64>,
    /// Events emitted per step: spikes, or non-zero graded values.
    pub events_per_timestep: Vec<f64>,
    pub sops_per_timestep: Vec<f64>,
    pub macs_per_timestep: Vec<f64>,
    /// Spikes per neuron per step (spiking layers only).
    pub firing_rate: Option<f64>,
    /// Share of zero outputs over neurons x steps (spiking layers only).
    pub activation_sparsity: Option<f64>,
    /// Every count of the layer summed over the steps.
    pub counts: MeanCounts,
    pub energy: LayerEnergy,
}

/// Totals per sample, with NeuroBench's names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub spikes: f64,
    pub sops: f64,
    pub macs: f64,
    /// NeuroBench Dense: conv and dense pairs if every input and weight were non-zero.
    pub dense: f64,
    /// NeuroBench Effective ACs (= sops).
    pub effective_acs: f64,
    /// NeuroBench Effective MACs (= macs).
    pub effective_macs: f64,
    /// Zero outputs / all outputs over the spiking layers, neurons x steps.
    pub activation_sparsity: f64,
    /// Every count summed over layers and steps.
    pub counts: MeanCounts,
}

/// Energy per sample on the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Energy {
    pub target: String,
    pub total_j: f64,
    pub arithmetic_j: f64,
    pub memory_j: f64,
    pub communication_j: f64,
    pub all_in_j: f64,
    /// The priced terms of the whole network (count, section, events, pJ each, joules).
    pub terms: Vec<snnc_targets::EnergyTerm>,
    /// Non-zero counts the target has no figure for (left out of the total).
    pub unpriced: Vec<String>,
    pub per_layer: Vec<LayerShare>,
}

/// One layer's line of [`Energy::per_layer`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerShare {
    pub name: String,
    pub total_j: f64,
    pub arithmetic_j: f64,
    pub memory_j: f64,
}

/// The target the energy is priced on, and its sources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetInfo {
    pub name: String,
    pub description: String,
    pub sources: Vec<String>,
}

/// Wall-clock of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    pub seconds: f64,
    pub samples_per_second: f64,
    pub threads: usize,
}

/// The whole report (`snnc run --report FILE.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub module: String,
    pub source: String,
    pub dataset: Option<String>,
    pub target: TargetInfo,
    pub timesteps: usize,
    pub samples: usize,
    /// Share of samples whose prediction equals the label; `None` without labels.
    pub accuracy: Option<f64>,
    /// The predicted class of every sample, in sample order (empty when not recorded).
    pub predictions: Vec<usize>,
    pub layers: Vec<Layer>,
    pub totals: Totals,
    pub energy: Energy,
    pub timing: Option<Timing>,
}

/// What a report says besides the counts.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub source: String,
    pub dataset: Option<String>,
    pub accuracy: Option<f64>,
    pub predictions: Vec<usize>,
    pub timing: Option<Timing>,
}

impl Report {
    /// Means per sample of `tally`, priced on `target`.
    pub fn new(plan: &Plan, tally: &Tally, target: &Target, cx: Context) -> Report {
        let n = tally.samples.max(1);
        let t_max = plan.timesteps;
        let mean = |x: u64| x as f64 / n as f64;
        let k = 1.0 / n as f64;
        let layers: Vec<Layer> = plan
            .pops
            .iter()
            .enumerate()
            .map(|(p, pop)| {
                let cells: Vec<&Counts> = (0..t_max).map(|t| tally.cell(p, t)).collect();
                let all = tally.population(p);
                let breakdown = target.energy(&all.op_counts(k));
                let per_t = cells
                    .iter()
                    .map(|c| target.energy(&c.op_counts(k)).total_j)
                    .collect();
                let spiking = matches!(pop.kind, Kind::Spiking(_));
                let rate = mean(all.spikes) / (pop.numel() * t_max) as f64;
                Layer {
                    name: pop.name.clone(),
                    population: pop.handle.to_string(),
                    kind: pop.kind_name().to_string(),
                    neurons: pop.numel(),
                    spikes_per_timestep: cells.iter().map(|c| mean(c.spikes)).collect(),
                    events_per_timestep: cells.iter().map(|c| mean(c.events)).collect(),
                    sops_per_timestep: cells.iter().map(|c| mean(c.sops)).collect(),
                    macs_per_timestep: cells.iter().map(|c| mean(c.macs)).collect(),
                    firing_rate: spiking.then_some(rate),
                    activation_sparsity: spiking.then_some(1.0 - rate),
                    counts: MeanCounts::of(&all, n),
                    energy: LayerEnergy::from(&breakdown, per_t),
                }
            })
            .collect();
        let total = tally.total();
        let neuron_steps: usize = plan
            .layers
            .iter()
            .map(|&p| plan.pops[p].numel() * t_max)
            .sum();
        let sparsity = if neuron_steps == 0 {
            1.0
        } else {
            1.0 - mean(total.spikes) / neuron_steps as f64
        };
        let whole = target.energy(&total.op_counts(k));
        Report {
            module: plan.name.clone(),
            source: cx.source,
            dataset: cx.dataset,
            target: TargetInfo {
                name: target.name.clone(),
                description: target.description.clone(),
                sources: target
                    .sources
                    .values()
                    .map(|s| format!("{} [{}]", s.citation, s.status.as_str()))
                    .collect(),
            },
            timesteps: t_max,
            samples: tally.samples,
            accuracy: cx.accuracy,
            predictions: cx.predictions,
            totals: Totals {
                spikes: mean(total.spikes),
                sops: mean(total.sops),
                macs: mean(total.macs),
                dense: mean(total.dense),
                effective_acs: mean(total.sops),
                effective_macs: mean(total.macs),
                activation_sparsity: sparsity,
                counts: MeanCounts::of(&total, n),
            },
            energy: Energy {
                target: target.name.clone(),
                total_j: whole.total_j,
                arithmetic_j: whole.arithmetic_j,
                memory_j: whole.memory_j,
                communication_j: whole.communication_j,
                all_in_j: whole.all_in_j,
                terms: whole.terms.clone(),
                unpriced: whole
                    .unpriced
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect(),
                per_layer: layers
                    .iter()
                    .map(|l| LayerShare {
                        name: l.name.clone(),
                        total_j: l.energy.total_j,
                        arithmetic_j: l.energy.arithmetic_j,
                        memory_j: l.energy.memory_j,
                    })
                    .collect(),
            },
            layers,
            timing: cx.timing,
        }
    }

    /// Pretty JSON, newline-terminated.
    pub fn to_json(&self) -> String {
        // Serialising plain numbers, strings and vectors cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Write the JSON atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), RuntimeError> {
        Ok(snnc_compiler::atomic::write_named(
            path,
            self.to_json().as_bytes(),
        )?)
    }
}
