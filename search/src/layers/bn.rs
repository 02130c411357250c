//! BatchNorm as Candle custom ops: one pass for statistics, one for the affine map, and the
//! closed-form backward, avoiding Candle's slow strided reductions over `[B, C, H, W]`.

use crate::spike::contiguous_f32;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use std::sync::Arc;

/// `(batch, channels, spatial)` of a `[B, C]` or `[B, C, H, W]` layout.
fn bcs(dims: &[usize]) -> Result<(usize, usize, usize)> {
    match *dims {
        [b, c] => Ok((b, c, 1)),
        [b, c, h, w] => Ok((b, c, h * w)),
        _ => candle_core::bail!("batch_norm expects [B, C] or [B, C, H, W], got {dims:?}"),
    }
}

/// Per-channel mean and biased variance of a batch: a `[2, C]` tensor.
pub struct BatchStats;

impl CustomOp1 for BatchStats {
    fn name(&self) -> &'static str {
        "bn-stats"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, sp) = bcs(l.dims())?;
        let x = contiguous_f32(s, l)?;
        let n = (b * sp) as f64;
        let mut out = vec![0f32; 2 * c];
        for ch in 0..c {
            let mut sum = 0f64;
            for bi in 0..b {
                sum += x[(bi * c + ch) * sp..][..sp]
                    .iter()
                    .map(|&v| v as f64)
                    .sum::<f64>();
            }
            let mean = sum / n;
            let mut sq = 0f64;
            for bi in 0..b {
                sq += x[(bi * c + ch) * sp..][..sp]
                    .iter()
                    .map(|&v| (v as f64 - mean).powi(2))
                    .sum::<f64>();
            }
            out[ch] = mean as f32;
            out[c + ch] = (sq / n) as f32;
        }
        Ok((CpuStorage::F32(out), Shape::from((2, c))))
    }
}

/// `y = (x - mean) * istd * gamma + beta` with fixed per-channel `mean` and `istd`.
///
/// In train mode `mean`/`istd` are the batch's own statistics and the backward pass includes
/// their dependence on `x`; in eval mode they are constants (running statistics).
#[derive(Clone)]
pub struct BatchNormOp {
    pub mean: Arc<Vec<f32>>,
    pub istd: Arc<Vec<f32>>,
    pub train: bool,
}

impl CustomOp3 for BatchNormOp {
    fn name(&self) -> &'static str {
        "batch-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, sp) = bcs(xl.dims())?;
        let x = contiguous_f32(xs, xl)?;
        let gamma = contiguous_f32(gs, gl)?;
        let beta = contiguous_f32(bs, bl)?;
        let mut y = vec![0f32; x.len()];
        for bi in 0..b {
            for ch in 0..c {
                let scale = self.istd[ch] * gamma[ch];
                let shift = beta[ch] - self.mean[ch] * scale;
                let o = (bi * c + ch) * sp;
                for (dst, &src) in y[o..o + sp].iter_mut().zip(&x[o..o + sp]) {
                    *dst = src * scale + shift;
                }
            }
        }
        Ok((CpuStorage::F32(y), xl.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let sums = grad.apply_op2_no_bwd(x, &ParamGrad(self.clone()))?;
        let dgamma = sums.get(0)?;
        let dbeta = sums.get(1)?;
        let dx = if x.track_op() {
            let sums_v = sums.flatten_all()?.to_vec1::<f32>()?;
            let gamma_v = gamma.to_vec1::<f32>()?;
            Some(grad.apply_op2_no_bwd(
                x,
                &InputGrad {
                    op: self.clone(),
                    sums: sums_v,
                    gamma: gamma_v,
                },
            )?)
        } else {
            None
        };
        Ok((dx, Some(dgamma), Some(dbeta)))
    }
}

/// `[2, C]`: `sum(dy * xhat)` (the gamma gradient) and `sum(dy)` (the beta gradient).
struct ParamGrad(BatchNormOp);

impl CustomOp2 for ParamGrad {
    fn name(&self) -> &'static str {
        "batch-norm-param-grad"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        xs: &CpuStorage,
        xl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, sp) = bcs(xl.dims())?;
        let g = contiguous_f32(gs, gl)?;
        let x = contiguous_f32(xs, xl)?;
        let mut out = vec![0f32; 2 * c];
        for ch in 0..c {
            let (m, is) = (self.0.mean[ch], self.0.istd[ch]);
            let (mut dg, mut db) = (0f64, 0f64);
            for bi in 0..b {
                let o = (bi * c + ch) * sp;
                for (&gv, &xv) in g[o..o + sp].iter().zip(&x[o..o + sp]) {
                    dg += (gv * (xv - m) * is) as f64;
                    db += gv as f64;
                }
            }
            out[ch] = dg as f32;
            out[c + ch] = db as f32;
        }
        Ok((CpuStorage::F32(out), Shape::from((2, c))))
    }
}

/// The input gradient. Train mode: `dx = gamma*istd/N * (N*dy - sum(dy) - xhat*sum(dy*xhat))`.
struct InputGrad {
    op: BatchNormOp,
    sums: Vec<f32>,
    gamma: Vec<f32>,
}

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "batch-norm-input-grad"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        xs: &CpuStorage,
        xl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, sp) = bcs(xl.dims())?;
        let g = contiguous_f32(gs, gl)?;
        let x = contiguous_f32(xs, xl)?;
        let n = (b * sp) as f32;
        let mut dx = vec![0f32; x.len()];
        for ch in 0..c {
            let (m, is) = (self.op.mean[ch], self.op.istd[ch]);
            let k = self.gamma[ch] * is;
            let (sum_gx, sum_g) = (self.sums[ch], self.sums[c + ch]);
            for bi in 0..b {
                let o = (bi * c + ch) * sp;
                let (dst, gsl, xsl) = (&mut dx[o..o + sp], &g[o..o + sp], &x[o..o + sp]);
                if self.op.train {
                    for i in 0..sp {
                        let xhat = (xsl[i] - m) * is;
                        dst[i] = k / n * (n * gsl[i] - sum_g - xhat * sum_gx);
                    }
                } else {
                    for i in 0..sp {
                        dst[i] = k * gsl[i];
                    }
                }
            }
        }
        Ok((CpuStorage::F32(dx), xl.shape().clone()))
    }
}
