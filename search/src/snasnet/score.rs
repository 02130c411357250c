//! The SNASNet training-free score of one candidate (snasnet.md §4): LIF spike patterns of every
//! call, the mean kernel per pass, log|det| per pass, mean over passes.

use super::kernel::{KernelAccumulator, KernelKind, SpikeBits};
use crate::arch::snasnet::{CellGenotype, SnasnetConfig, snasnet_network};
use crate::device::ComputeDevice;
use crate::error::{Result, SearchError};
use crate::init::InitScheme;
use crate::model::{CarriedState, SnnModel};
use candle_core::{DType, Storage, Tensor};
use snnc_datasets::transform::Rng;

/// The score of one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateScore {
    /// log|det K̄| of each pass (one per input batch).
    pub per_pass: Vec<f64>,
    /// Mean of `per_pass`: the candidate's score.
    pub score: f64,
    /// LIF calls per pass (#LIF nodes x T).
    pub lif_calls: usize,
    /// Wall time spent packing spikes and accumulating kernels, over all passes.
    pub kernel_seconds: f64,
}

/// How passes follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PassState {
    /// Every pass starts from fresh state (the default, snasnet.md §4.6).
    #[default]
    Reset,
    /// LIF membranes and dropout masks carry from one pass into the next, as the official code
    /// does; only the feedback buffers restart at zero.
    Carry,
}

/// Pack a LIF output `[B, ...]` as `1[v > 0]`, reading a contiguous f32 CPU tensor in place
/// (no copy of the values).
pub fn spike_bits(v: &Tensor, batch: usize) -> candle_core::Result<SpikeBits> {
    let v = v.to_dtype(DType::F32)?.contiguous()?;
    let count = v.elem_count();
    let neurons = count.checked_div(batch).unwrap_or(0);
    let (storage, layout) = v.storage_and_layout();
    let bits = match &*storage {
        Storage::Cpu(cpu) => {
            let start = layout.start_offset();
            let values = &cpu.as_slice::<f32>()?[start..start + count];
            SpikeBits::from_values(values, batch, neurons)
        }
        _ => {
            let values = v.flatten_all()?.to_vec1::<f32>()?;
            SpikeBits::from_values(&values, batch, neurons)
        }
    };
    bits.map_err(candle_core::Error::wrap)
}

/// The kernel of one forward pass over `input` in train mode (fresh state unless `carry` is
/// given), and the seconds spent on it.
pub fn pass_kernel(
    model: &SnnModel,
    input: &Tensor,
    kind: KernelKind,
    rng: &mut Rng,
    carry: Option<&mut CarriedState>,
) -> candle_core::Result<(KernelAccumulator, f64)> {
    let batch = input.dim(0)?;
    let mut acc = KernelAccumulator::new(batch, kind);
    let net = &model.net;
    let mut seconds = 0.0;
    let mut hook = |id: usize, _t: usize, v: &Tensor| -> candle_core::Result<()> {
        if !net.node(id).op.is_spiking() {
            return Ok(());
        }
        let start = std::time::Instant::now();
        let bits = spike_bits(v, batch)?;
        acc.add(&bits).map_err(candle_core::Error::wrap)?;
        seconds += start.elapsed().as_secs_f64();
        Ok(())
    };
    match carry {
        Some(c) => model.forward_carrying(input, true, rng, &mut hook, c)?,
        None => model.forward_with_hook(input, true, rng, &mut hook)?,
    };
    Ok((acc, seconds))
}

/// Score `model` over `inputs` (one pass per batch).
pub fn score_model(
    model: &SnnModel,
    inputs: &[Tensor],
    kind: KernelKind,
    state: PassState,
    rng: &mut Rng,
) -> candle_core::Result<CandidateScore> {
    if inputs.is_empty() {
        candle_core::bail!("scoring needs at least one input batch");
    }
    let mut per_pass = Vec::with_capacity(inputs.len());
    let mut lif_calls = 0;
    let mut kernel_seconds = 0.0;
    let mut carry = CarriedState::default();
    for x in inputs {
        let c = (state == PassState::Carry).then_some(&mut carry);
        let (acc, secs) = pass_kernel(model, x, kind, rng, c)?;
        kernel_seconds += secs;
        lif_calls = acc.calls;
        match acc.score() {
            Some(s) => per_pass.push(s),
            None => candle_core::bail!("the network has no LIF calls to score"),
        }
    }
    let score = per_pass.iter().sum::<f64>() / per_pass.len() as f64;
    Ok(CandidateScore {
        per_pass,
        score,
        lif_calls,
        kernel_seconds,
    })
}

/// How to score a candidate: the kernel, how passes follow each other, and the device.
#[derive(Debug, Clone, Default)]
pub struct ScoreOptions {
    pub kind: KernelKind,
    pub state: PassState,
    pub device: ComputeDevice,
}

/// Build a fresh SNASNet for `geno` (§3.3 init from `init_seed`) and score it over `inputs`.
pub fn score_genotype(
    geno: &CellGenotype,
    cfg: &SnasnetConfig,
    init_seed: u64,
    inputs: &[Tensor],
    options: &ScoreOptions,
    rng: &mut Rng,
) -> Result<CandidateScore> {
    let net = snasnet_network(geno, cfg)
        .map_err(|e| SearchError::architecture(geno, e))?
        .validate()
        .map_err(|e| SearchError::architecture(geno, e))?;
    let mut model = SnnModel::new(net, InitScheme::Snasnet, init_seed, &options.device)?;
    // Scoring observes spikes and never backpropagates.
    model.autograd = false;
    Ok(score_model(
        &model,
        inputs,
        options.kind,
        options.state,
        rng,
    )?)
}
