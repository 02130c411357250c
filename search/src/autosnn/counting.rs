//! Spike and operation counts of a Candle forward pass, for AutoSNN's fitness: spikes as
//! autosnn.md §4 counts them, and `targets` operation counts for the energy-aware fitness.
//!
//! The operation counts follow the runtime's cost model (`runtime/src/counts.rs`) for the parts
//! that dominate energy: every (input event, weight) pair a convolution or linear layer applies,
//! padding excluded, is an SOP when the source is binary and a MAC when it is graded, and reads
//! one weight and read-modify-writes one target value; a spiking neuron is one update, two state
//! reads and two writes per step. Values computed once per sample (the static stem) count once.
//! BatchNorm folds into the convolution at deployment, so it is not priced. Left out on purpose,
//! though the runtime prices them: a max-pool's outputs count as fitness spikes, but not the
//! OR-gate neurons and sum-pool ops the runtime lowers it to; the `scale` ops (and their state
//! traffic) that carry a PLIF's input gain across an identity shortcut or the stem's constant
//! drive; the state of the vote, the readout and the stem's drive. The exact relation to
//! `snnc_runtime::counts` is tested in `search/tests/it/autosnn_counts_vs_runtime.rs`.

use crate::model::{ForwardOutput, SnnModel};
use candle_core::{DType, Result, Storage, Tensor};
use snnc_compiler::network::{NodeId, Op};
use snnc_datasets::transform::Rng;
use snnc_targets::OpCounts;

/// A convolution or linear layer reading from some node: pairs applied per input event at each
/// input position (`H*W` entries; one entry, for every element, for a linear layer).
#[derive(Debug, Clone)]
struct Consumer {
    pairs_per_event: Vec<f64>,
}

/// What to count at each node of one network.
#[derive(Debug, Clone)]
pub struct CountPlan {
    consumers: Vec<Vec<Consumer>>,
    binary: Vec<bool>,
    neuron: Vec<bool>,
    max_pool: Vec<bool>,
    numel: Vec<usize>,
}

/// Counts accumulated over samples; [`Activity::per_sample`] divides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    pub samples: usize,
    /// Spikes as autosnn.md §4 counts them: every neuron output and every max-pool output.
    pub fitness_spikes: f64,
    pub counts: OpCounts,
}

impl Activity {
    pub fn spikes_per_sample(&self) -> f64 {
        self.fitness_spikes / self.samples.max(1) as f64
    }

    pub fn counts_per_sample(&self) -> OpCounts {
        self.counts.scaled(1.0 / self.samples.max(1) as f64)
    }

    pub fn merge(&mut self, other: &Activity) {
        self.samples += other.samples;
        self.fitness_spikes += other.fitness_spikes;
        self.counts += other.counts;
    }
}

/// For an input of side `n` under a window `k`, stride `s`, padding `p` with `out` outputs: how
/// many output positions each input position reaches.
fn reach(n: usize, k: usize, s: usize, p: usize, out: usize) -> Vec<f64> {
    let mut r = vec![0f64; n];
    for o in 0..out {
        for i in 0..k {
            let pos = (o * s + i) as isize - p as isize;
            if pos >= 0 && (pos as usize) < n {
                r[pos as usize] += 1.0;
            }
        }
    }
    r
}

impl CountPlan {
    pub fn new(model: &SnnModel) -> Result<CountPlan> {
        let net = &model.net;
        let n = net.len();
        let mut consumers = vec![Vec::new(); n];
        let mut binary = vec![false; n];
        for &id in &net.schedule {
            let node = net.node(id);
            let from: Vec<NodeId> = net.inputs[id].iter().map(|&(s, _)| s).collect();
            let all_binary = !from.is_empty() && from.iter().all(|&s| binary[s]);
            binary[id] = match &node.op {
                Op::Lif(_) | Op::Plif(_) | Op::If(_) | Op::CubaLif(_) => true,
                Op::MaxPool(_) | Op::Flatten(_) | Op::Dropout(_) => all_binary,
                _ => false,
            };
            let consumer = match &node.op {
                Op::Conv2d(c) => {
                    let dims = net.input_shape(id).dims().to_vec();
                    let out = net.shapes[id].dims().to_vec();
                    let rows = reach(dims[1], c.kernel.0, c.stride.0, c.padding.0, out[1]);
                    let cols = reach(dims[2], c.kernel.1, c.stride.1, c.padding.1, out[2]);
                    let per_channel = (c.out_channels / c.groups) as f64;
                    let map: Vec<f64> = rows
                        .iter()
                        .flat_map(|r| cols.iter().map(move |c| r * c * per_channel))
                        .collect();
                    Some(Consumer {
                        pairs_per_event: map,
                    })
                }
                Op::Linear(l) => Some(Consumer {
                    pairs_per_event: vec![l.out_features as f64],
                }),
                _ => None,
            };
            if let Some(c) = consumer {
                for &s in &from {
                    consumers[s].push(c.clone());
                }
            }
        }
        Ok(CountPlan {
            consumers,
            binary,
            neuron: (0..n).map(|i| net.node(i).op.is_spiking()).collect(),
            max_pool: (0..n)
                .map(|i| matches!(net.node(i).op, Op::MaxPool(_)))
                .collect(),
            numel: (0..n).map(|i| net.shapes[i].numel()).collect(),
        })
    }

    /// A forward pass of `model` over the batch `x` that also counts its activity.
    pub fn counted_forward(
        &self,
        model: &SnnModel,
        x: &Tensor,
        train: bool,
        rng: &mut Rng,
    ) -> Result<(ForwardOutput, Activity)> {
        let mut activity = Activity {
            samples: x.dim(0)?,
            ..Activity::default()
        };
        let out = model.forward_with_hook(x, train, rng, &mut |id, _, v| {
            self.observe(id, v, &mut activity)
        })?;
        Ok((out, activity))
    }

    /// Count one node output `[B, ...]` (a hook of [`SnnModel::forward_with_hook`]), reading
    /// the values once in place.
    pub fn observe(&self, id: NodeId, out: &Tensor, acc: &mut Activity) -> Result<()> {
        let wants_sum = self.neuron[id] || self.max_pool[id];
        if !wants_sum && self.consumers[id].is_empty() {
            return Ok(());
        }
        let batch = out.dim(0)?;
        let out = out.to_dtype(DType::F32)?.contiguous()?;
        let count = out.elem_count();
        // Positions an element maps to: the spatial plane for [B, C, H, W], one bucket otherwise.
        let plane = match out.dims() {
            [_, _, h, w] => h * w,
            _ => 1,
        };
        let (storage, layout) = out.storage_and_layout();
        let Storage::Cpu(cpu) = &*storage else {
            candle_core::bail!("operation counting runs on CPU tensors");
        };
        let start = layout.start_offset();
        let values = &cpu.as_slice::<f32>()?[start..start + count];
        let mut sum = 0f64;
        let mut events = vec![0u64; plane];
        for chunk in values.chunks(plane) {
            for (e, &v) in events.iter_mut().zip(chunk) {
                sum += v as f64;
                *e += (v != 0.0) as u64;
            }
        }
        let c = &mut acc.counts;
        if wants_sum {
            acc.fitness_spikes += sum;
            if self.neuron[id] {
                let n = self.numel[id] as f64 * batch as f64;
                c.spikes += sum;
                c.neuron_updates += n;
                c.state_reads += 2.0 * n;
                c.state_writes += 2.0 * n;
            }
        }
        for consumer in &self.consumers[id] {
            let pairs: f64 = if consumer.pairs_per_event.len() == plane {
                events
                    .iter()
                    .zip(&consumer.pairs_per_event)
                    .map(|(&e, &p)| e as f64 * p)
                    .sum()
            } else {
                events.iter().sum::<u64>() as f64 * consumer.pairs_per_event[0]
            };
            if self.binary[id] {
                c.sops += pairs;
            } else {
                c.macs += pairs;
            }
            c.weight_reads += pairs;
            c.state_reads += pairs;
            c.state_writes += pairs;
        }
        Ok(())
    }
}
