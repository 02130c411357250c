//! Reference interpreters: dense, simple, obviously correct; the oracle for every back end.
//!
//! [`run_module`] runs an event-IR module, [`run_network`] runs a network description directly
//! (eval mode: BN with running statistics, dropout as the identity). Both return the same
//! [`RunOutput`], so lowering and every pass can be checked against the network's own semantics,
//! and [`compare`] applies architecture.md's equivalence ladder to two runs.

mod compare;
mod graph;
pub mod kernels;
mod module;

pub use compare::{Agreement, Disagreement, Discrepancy, compare};
pub use graph::{GraphRunError, run_network};
pub use module::deliver;
pub use module::{initial_state, run_module};

use thiserror::Error;

/// A membrane closer than this to its threshold may fire differently under another summation
/// order; such a neuron (and what follows it) is a tolerated "threshold flip" (architecture.md).
pub const FLIP_MARGIN: f64 = 1e-4;

/// One run over a batch: what the readout said and what every spiking layer did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    /// Per sample, per class: mean (time-mean) or sum (spike-count) of the readout over the steps.
    pub logits: Vec<Vec<f64>>,
    /// Per sample: the index of the largest logit (the first on ties).
    pub predictions: Vec<usize>,
    /// Names of the spiking layers (IR: spiking populations; network: lif, plif, if and max_pool nodes).
    pub layers: Vec<String>,
    /// `[sample][layer][t]`: spikes emitted.
    pub spikes: Vec<Vec<Vec<u64>>>,
    /// `[sample][layer][t]`: neurons whose membrane lay within [`FLIP_MARGIN`] of the threshold.
    pub near_threshold: Vec<Vec<Vec<u64>>>,
}

impl RunOutput {
    /// Spikes of one layer summed over samples and steps.
    pub fn total_spikes(&self, layer: &str) -> Option<u64> {
        let i = self.layers.iter().position(|l| l == layer)?;
        Some(self.spikes.iter().map(|s| s[i].iter().sum::<u64>()).sum())
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum RunError {
    #[error("sample {sample}: expected {expected} input values ({what}), got {found}")]
    InputSize {
        sample: usize,
        expected: usize,
        found: usize,
        what: String,
    },
    #[error("invalid module: {0}")]
    Invalid(#[from] crate::validate::ValidationErrors),
}

/// Values of the input for a sample at step `t`: direct input repeats one frame, event frames
/// give one frame per step.
fn frame(sample: &[f32], numel: usize, t: usize, per_step: bool) -> impl Iterator<Item = f64> + '_ {
    let start = if per_step { t * numel } else { 0 };
    sample[start..start + numel].iter().map(|v| f64::from(*v))
}

fn check_inputs(
    inputs: &[Vec<f32>],
    numel: usize,
    timesteps: usize,
    per_step: bool,
) -> Result<(), RunError> {
    let expected = if per_step { numel * timesteps } else { numel };
    for (sample, x) in inputs.iter().enumerate() {
        if x.len() != expected {
            let what = if per_step {
                format!("{timesteps} event frames of {numel}")
            } else {
                format!("one direct frame of {numel}")
            };
            return Err(RunError::InputSize {
                sample,
                expected,
                found: x.len(),
                what,
            });
        }
    }
    Ok(())
}

/// One step of a leaky integrator over a population (`li(k)`: neuron `k`'s): `values` holds
/// the step's input and becomes the membrane; `current` may be empty when the integrator has
/// no synapse.
pub fn integrate(
    li: impl Fn(usize) -> crate::ir::IntegratorAt,
    membrane: &mut [f64],
    current: &mut [f64],
    values: &mut [f64],
) {
    for (k, (v, x)) in membrane.iter_mut().zip(values.iter_mut()).enumerate() {
        let i = current.get(k).copied().unwrap_or(0.0);
        let (v_new, i_new) = li(k).step(*v, i, *x);
        *v = v_new;
        if let Some(c) = current.get_mut(k) {
            *c = i_new;
        }
        *x = v_new;
    }
}

/// Fold step `t`'s readout values `y` into the logits `acc` by the readout's reduction; `Mean`
/// sums here and [`finish_reduction`] divides.
pub fn reduce(acc: &mut [f64], y: &[f64], t: usize, how: crate::ir::Reduction) {
    use crate::ir::Reduction;
    for (a, v) in acc.iter_mut().zip(y) {
        *a = match how {
            Reduction::Sum | Reduction::Mean => *a + v,
            Reduction::Last => *v,
            Reduction::Max if t == 0 => *v,
            Reduction::Max => a.max(*v),
        };
    }
}

/// The logits once every step is folded in: the mean divides the sum by `T`.
pub fn finish_reduction(acc: &mut [f64], timesteps: usize, how: crate::ir::Reduction) {
    if how == crate::ir::Reduction::Mean {
        acc.iter_mut().for_each(|a| *a /= timesteps as f64);
    }
}

/// A LIF membrane update shared by both interpreters' bookkeeping: fire, count, reset.
struct Fired {
    spikes: u64,
    near: u64,
}

/// `s(i)` is neuron `i`'s model.
fn fire_and_reset(
    v: &mut [f64],
    out: &mut [f64],
    s: impl Fn(usize) -> crate::ir::SpikingAt,
) -> Fired {
    let mut f = Fired { spikes: 0, near: 0 };
    for (i, (vi, oi)) in v.iter_mut().zip(out.iter_mut()).enumerate() {
        let s = s(i);
        if (*vi - s.threshold).abs() < FLIP_MARGIN {
            f.near += 1;
        }
        let spike = s.fires(*vi);
        *oi = if spike { 1.0 } else { 0.0 };
        f.spikes += u64::from(spike);
        *vi = s.after_fire(*vi, spike);
    }
    f
}
