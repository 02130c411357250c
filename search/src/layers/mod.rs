//! Layers the seeds need beyond Candle's own: BatchNorm with PyTorch's running statistics,
//! per-sample dropout masks fixed over time, and pooling with correct gradients.

pub mod bn;
pub mod conv;
pub mod pool;

use candle_core::{D, DType, Device, Result, Tensor, Var};
use snnc_datasets::transform::Rng;

/// Batch normalisation over axis 1 of `[B, C, H, W]` or `[B, C]`.
///
/// Train mode normalises with the batch's biased variance and moves the running statistics by
/// `momentum` towards the batch mean and the *unbiased* variance, as PyTorch does. Called once per
/// timestep, so the running statistics move T times per batch, as in the seeds.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    pub weight: Var,
    pub bias: Var,
    pub running_mean: Var,
    pub running_var: Var,
    pub eps: f64,
    pub momentum: f64,
    /// Running statistics are `[T, C]`, row `t` kept and used at step `t`.
    pub per_step: bool,
}

fn channel_view(t: &Tensor, rank: usize) -> Result<Tensor> {
    let c = t.dim(0)?;
    if rank == 4 {
        t.reshape((1, c, 1, 1))
    } else {
        t.reshape((1, c))
    }
}

impl BatchNorm {
    /// The fused path: statistics and affine map as custom ops with a closed-form backward.
    /// For a layer with one set of running statistics (a per-step layer needs [`Self::forward_step`]).
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if self.per_step {
            candle_core::bail!("a per-step batch norm needs the timestep: use forward_step");
        }
        self.forward_step(x, train, 0)
    }

    /// [`Self::forward`] at timestep `step`: a per-step layer reads (eval) or updates (train)
    /// row `step` of its running statistics; a shared one ignores `step`.
    pub fn forward_step(&self, x: &Tensor, train: bool, step: usize) -> Result<Tensor> {
        let rank = x.rank();
        if rank != 2 && rank != 4 {
            candle_core::bail!(
                "batch_norm expects [B, C] or [B, C, H, W], got {:?}",
                x.dims()
            );
        }
        let c = x.dim(1)?;
        let row = if self.per_step { step * c } else { 0 };
        let mut rm = self
            .running_mean
            .as_tensor()
            .flatten_all()?
            .to_vec1::<f32>()?;
        let mut rv = self
            .running_var
            .as_tensor()
            .flatten_all()?
            .to_vec1::<f32>()?;
        if rm.len() < row + c || rv.len() < row + c {
            candle_core::bail!(
                "batch_norm running statistics {:?} have no row for step {step} of {c} channels",
                self.running_mean.as_tensor().dims()
            );
        }
        let (mean, var) = if train {
            let stats = x.apply_op1_no_bwd(&bn::BatchStats)?.to_vec2::<f32>()?;
            let n = x.elem_count() / c;
            let m = self.momentum as f32;
            let unbias = if n > 1 {
                n as f32 / (n as f32 - 1.0)
            } else {
                1.0
            };
            for ch in 0..c {
                rm[row + ch] = (1.0 - m) * rm[row + ch] + m * stats[0][ch];
                rv[row + ch] = (1.0 - m) * rv[row + ch] + m * stats[1][ch] * unbias;
            }
            let shape = self.running_mean.as_tensor().shape().clone();
            let device = self.running_mean.device();
            self.running_mean
                .set(&Tensor::from_vec(rm, shape.clone(), device)?)?;
            self.running_var
                .set(&Tensor::from_vec(rv, shape, device)?)?;
            let [mean, var]: [Vec<f32>; 2] = stats.try_into().expect("two rows");
            (mean, var)
        } else {
            (rm[row..row + c].to_vec(), rv[row..row + c].to_vec())
        };
        let eps = self.eps as f32;
        let istd = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        let op = bn::BatchNormOp {
            mean: std::sync::Arc::new(mean),
            istd: std::sync::Arc::new(istd),
            train,
        };
        x.apply_op3(self.weight.as_tensor(), self.bias.as_tensor(), op)
    }

    /// The same map from Candle's own ops; kept as the oracle for the fused path.
    pub fn forward_reference(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let rank = x.rank();
        if rank != 2 && rank != 4 {
            candle_core::bail!(
                "batch_norm expects [B, C] or [B, C, H, W], got {:?}",
                x.dims()
            );
        }
        let (mean, var) = if train {
            let c = x.dim(1)?;
            // Put channels first and flatten the rest, so statistics are row reductions.
            let flat = if rank == 4 {
                x.transpose(0, 1)?.contiguous()?.reshape((c, ()))?
            } else {
                x.t()?.contiguous()?
            };
            let n = flat.dim(1)?;
            let mean = flat.mean(D::Minus1)?;
            let centred = flat.broadcast_sub(&mean.unsqueeze(1)?)?;
            let var = centred.sqr()?.mean(D::Minus1)?;
            let m = self.momentum;
            let unbiased = if n > 1 {
                var.affine(n as f64 / (n as f64 - 1.0), 0.0)?
            } else {
                var.clone()
            };
            let new_mean = (self.running_mean.as_tensor().affine(1.0 - m, 0.0)?
                + mean.detach().affine(m, 0.0)?)?;
            let new_var = (self.running_var.as_tensor().affine(1.0 - m, 0.0)?
                + unbiased.detach().affine(m, 0.0)?)?;
            self.running_mean.set(&new_mean)?;
            self.running_var.set(&new_var)?;
            (mean, var)
        } else {
            (
                self.running_mean.as_tensor().clone(),
                self.running_var.as_tensor().clone(),
            )
        };
        let inv_std = var.affine(1.0, self.eps)?.sqrt()?.recip()?;
        let scale = (self.weight.as_tensor() * &inv_std)?;
        let shift = (self.bias.as_tensor() - (&mean * &scale)?)?;
        x.broadcast_mul(&channel_view(&scale, rank)?)?
            .broadcast_add(&channel_view(&shift, rank)?)
    }
}

/// Inverted dropout whose mask is drawn once per forward pass and reused at every timestep.
pub fn dropout_mask(rng: &mut Rng, dims: &[usize], p: f64, device: &Device) -> Result<Tensor> {
    let n: usize = dims.iter().product();
    let keep = (1.0 / (1.0 - p)) as f32;
    let data: Vec<f32> = (0..n)
        .map(|_| {
            if (rng.next_f32() as f64) < p {
                0.0
            } else {
                keep
            }
        })
        .collect();
    Tensor::from_vec(data, dims, device)
}

/// `x @ w^T + b` for `[B, in]` inputs.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let y = x.matmul(&w.t()?)?;
    match b {
        Some(b) => y.broadcast_add(b),
        None => Ok(y),
    }
}

/// Class scores as the mean of each class's group of outputs: `[B, K*g] -> [B, K]`.
pub fn vote(x: &Tensor, group: usize) -> Result<Tensor> {
    let (b, n) = x.dims2()?;
    if group == 1 {
        return Ok(x.clone());
    }
    x.reshape((b, n / group, group))?.mean(D::Minus1)
}

pub fn zeros(dims: &[usize], device: &Device) -> Result<Tensor> {
    Tensor::zeros(dims, DType::F32, device)
}
