//! Placeholder weights for an architecture that has no trained ones: every parameter the network
//! needs, at its shape, drawn from a seed and scaled so the network spikes.
//!
//! What `snnc compile/export --synthetic-weights SEED` compile, and what `snnc targets fit` uses
//! for an architecture file (a resource estimate needs shapes, not trained values). The golden
//! fixtures draw the same values (`synth::weights`), so a placeholder export of a fixture matches
//! its snapshot.

use crate::network::{Network, Op, ParamRole, Tensor, Weights, per_neuron_specs};
use snnc_datasets::transform::SplitMix64;

/// The most parameter values placeholders are drawn for (1 GiB of f32): a file may claim any
/// shape, and an allocation that fails aborts instead of reporting.
pub const MAX_VALUES: usize = 1 << 28;

/// How many parameter values [`weights`] would draw for `net`.
pub fn values_needed(net: &Network) -> usize {
    let numel = |shape: &[usize]| shape.iter().fold(1usize, |a, &d| a.saturating_mul(d));
    let roles = (0..net.desc.nodes.len())
        .flat_map(|id| net.param_shapes(id))
        .map(|(_, shape)| numel(&shape));
    let neurons = per_neuron_specs(net)
        .into_iter()
        .map(|(_, _, shape)| numel(&shape));
    roles.chain(neurons).fold(0usize, usize::saturating_add)
}

/// Parameters for every tensor `net` needs, drawn from `seed` (callers check [`values_needed`]
/// against [`MAX_VALUES`] for files they did not write).
///
/// Convs and linears: uniform with variance `gain^2 / fan_in` (gain 2.5, so LIFs behind them
/// fire at a useful rate); BN: gamma in [0.6, 1.6], beta in [-0.2, 0.4], running mean in
/// [-0.1, 0.1], running var in [0.5, 1.5]; biases in [-0.2, 0.3]; PLIF `w` in [-1.5, 1.5], so the
/// trained leak is never the initial 0.5 and a swap of beta and gain shows. A neuron field that
/// names a tensor gets one value per neuron in a range valid for that field ([`neuron_range`]).
pub fn weights(net: &Network, seed: u64) -> Weights {
    let mut rng = Rng::new(seed);
    let mut w = Weights::default();
    for (id, node) in net.desc.nodes.iter().enumerate() {
        for (role, shape) in net.param_shapes(id) {
            let (lo, hi) = range(&node.op, role, &shape);
            let data = (0..shape.iter().product())
                .map(|_| rng.uniform(lo, hi))
                .collect();
            w.tensors
                .insert(node.tensor_name(role), Tensor::new(shape, data));
        }
    }
    for (name, field, shape) in per_neuron_specs(net) {
        if w.tensors.contains_key(&name) {
            continue;
        }
        let (lo, hi) = neuron_range(field);
        let data = (0..shape.iter().product())
            .map(|_| rng.uniform(lo, hi))
            .collect();
        w.tensors.insert(name, Tensor::new(shape, data));
    }
    w
}

/// The interval a per-neuron value of a neuron `field` is drawn from: inside the field's valid
/// range, with `v_reset` and `v_min` below any threshold drawn.
fn neuron_range(field: &str) -> (f64, f64) {
    match field {
        "beta" => (0.5, 0.95),
        "tau" => (2.0, 10.0),
        "alpha" => (0.5, 0.9),
        "tau_syn" => (2.0, 6.0),
        "threshold" => (0.8, 1.2),
        "v_reset" => (-0.2, 0.0),
        "v_min" => (-0.6, -0.3),
        "w_in" => (0.5, 1.5),
        _ => (-0.1, 0.1),
    }
}

/// The interval a parameter of `role` in an `op` node is drawn from.
fn range(op: &Op, role: ParamRole, shape: &[usize]) -> (f64, f64) {
    match (op, role) {
        (Op::Conv2d(_) | Op::Linear(_), ParamRole::Weight) => {
            let fan_in: usize = shape.iter().skip(1).product();
            let b = 2.5 * (3.0 / fan_in as f64).sqrt();
            (-b, b)
        }
        (Op::BatchNorm(_), ParamRole::Weight) => (0.6, 1.6),
        (Op::BatchNorm(_), ParamRole::Bias) => (-0.2, 0.4),
        (_, ParamRole::RunningMean) => (-0.1, 0.1),
        (_, ParamRole::RunningVar) => (0.5, 1.5),
        (_, ParamRole::W) => (-1.5, 1.5),
        _ => (-0.2, 0.3),
    }
}

/// Uniform draws on a SplitMix64 stream (`snnc_datasets::transform::SplitMix64`, the one
/// implementation), so values never change across platforms.
#[derive(Debug, Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f32 {
        (lo + (hi - lo) * self.unit()) as f32
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
}
