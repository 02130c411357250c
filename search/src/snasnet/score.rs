//! The SNASNet training-free score of one candidate (snasnet.md §4): LIF spike patterns of every
//! call, the mean kernel per pass, log|det| per pass, mean over passes.

use super::kernel::{KernelAccumulator, KernelKind, SpikeBits};
use crate::arch::snasnet::{CellGenotype, SnasnetConfig, snasnet_network};
use crate::init::InitScheme;
use crate::model::SnnModel;
use candle_core::{DType, Tensor};
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
}

/// The kernel of one forward pass over `input` in train mode with fresh state.
pub fn pass_kernel(model: &SnnModel, input: &Tensor, kind: KernelKind, rng: &mut Rng) -> candle_core::Result<KernelAccumulator> {
    let batch = input.dim(0)?;
    let mut acc = KernelAccumulator::new(batch, kind);
    let net = &model.net;
    let mut hook = |id: usize, _t: usize, v: &Tensor| -> candle_core::Result<()> {
        if !net.node(id).op.is_spiking() {
            return Ok(());
        }
        let flat = v.flatten_from(1)?.to_dtype(DType::F32)?;
        let neurons = flat.dim(1)?;
        let values = flat.flatten_all()?.to_vec1::<f32>()?;
        let bits = SpikeBits::from_values(&values, batch, neurons).map_err(candle_core::Error::Msg)?;
        acc.add(&bits).map_err(candle_core::Error::Msg)
    };
    model.forward_with_hook(input, true, rng, &mut hook)?;
    Ok(acc)
}

/// Score `model` over `inputs` (one pass per batch, every pass from fresh state).
pub fn score_model(model: &SnnModel, inputs: &[Tensor], kind: KernelKind, rng: &mut Rng) -> candle_core::Result<CandidateScore> {
    if inputs.is_empty() {
        candle_core::bail!("scoring needs at least one input batch");
    }
    let mut per_pass = Vec::with_capacity(inputs.len());
    let mut lif_calls = 0;
    for x in inputs {
        let acc = pass_kernel(model, x, kind, rng)?;
        lif_calls = acc.calls;
        match acc.score() {
            Some(s) => per_pass.push(s),
            None => candle_core::bail!("the network has no LIF calls to score"),
        }
    }
    let score = per_pass.iter().sum::<f64>() / per_pass.len() as f64;
    Ok(CandidateScore { per_pass, score, lif_calls })
}

/// Build a fresh SNASNet for `geno` (§3.3 init from `init_seed`) and score it over `inputs`.
pub fn score_genotype(geno: &CellGenotype, cfg: &SnasnetConfig, init_seed: u64, inputs: &[Tensor], kind: KernelKind, rng: &mut Rng) -> candle_core::Result<CandidateScore> {
    let desc = snasnet_network(geno, cfg).map_err(candle_core::Error::Msg)?;
    let net = desc.validate().map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let model = SnnModel::new(net, InitScheme::Snasnet, init_seed)?;
    score_model(&model, inputs, kind, rng)
}
