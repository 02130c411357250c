//! The spike function as a Candle custom op: Heaviside forward, ATan surrogate gradient backward.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use snnc_compiler::network::Compare;
use std::sync::Arc;

/// `s = H(v - threshold)`; backward `alpha/2 / (1 + (pi/2 * alpha * (v - threshold))^2)`.
///
/// With alpha = 2 the gradient is `1 / (1 + (pi * (v - threshold))^2)`, SpikingJelly's `ATan()`.
#[derive(Debug, Clone, Copy)]
pub struct SpikeFn {
    pub threshold: f32,
    pub alpha: f32,
    pub compare: Compare,
}

impl SpikeFn {
    pub fn atan(threshold: f32, alpha: f32, compare: Compare) -> Self {
        SpikeFn {
            threshold,
            alpha,
            compare,
        }
    }

    fn fire(&self, v: f32) -> f32 {
        heaviside(v, self.threshold, self.compare)
    }

    /// The surrogate derivative at membrane value `v`.
    pub fn surrogate(&self, v: f32) -> f32 {
        atan_surrogate(v, self.threshold, self.alpha)
    }

    /// The primitive of the surrogate: `atan(pi/2 * alpha * (v - threshold)) / pi + 1/2`.
    pub fn primitive(&self, v: f64) -> f64 {
        let z = std::f64::consts::FRAC_PI_2 * self.alpha as f64 * (v - self.threshold as f64);
        z.atan() / std::f64::consts::PI + 0.5
    }

    pub fn apply(&self, v: &Tensor) -> Result<Tensor> {
        v.apply_op1(*self)
    }
}

/// 1 where `v` reaches `threshold` by `compare`, else 0.
fn heaviside(v: f32, threshold: f32, compare: Compare) -> f32 {
    let on = match compare {
        Compare::Ge => v >= threshold,
        Compare::Gt => v > threshold,
    };
    if on { 1.0 } else { 0.0 }
}

/// The ATan surrogate derivative at `v` for a neuron of `threshold`.
fn atan_surrogate(v: f32, threshold: f32, alpha: f32) -> f32 {
    let z = std::f32::consts::FRAC_PI_2 * alpha * (v - threshold);
    alpha / 2.0 / (1.0 + z * z)
}

/// [`SpikeFn`] with one threshold per neuron: applied to `[B, ...population]` membranes, element
/// `e` of each sample compares against `thresholds[e]` (row-major over the population), and the
/// surrogate gradient is centred on that neuron's threshold. The thresholds are constants: no
/// gradient reaches them (per-neuron parameters are not trained yet).
#[derive(Debug, Clone)]
pub struct SpikeEachFn {
    pub thresholds: Arc<[f32]>,
    pub alpha: f32,
    pub compare: Compare,
}

impl SpikeEachFn {
    pub fn apply(&self, v: &Tensor) -> Result<Tensor> {
        v.apply_op1(self.clone())
    }

    /// `f(v, threshold)` over a batch of populations.
    fn map(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
        f: impl Fn(f32, f32) -> f32,
    ) -> Result<(CpuStorage, Shape)> {
        let v = contiguous_f32(storage, layout)?;
        let n = self.thresholds.len();
        if n == 0 || !v.len().is_multiple_of(n) {
            candle_core::bail!(
                "per-neuron spike: membranes {:?} are no batch of populations of {n} neurons",
                layout.dims()
            );
        }
        let out = v
            .chunks_exact(n)
            .flat_map(|sample| sample.iter().zip(self.thresholds.iter()))
            .map(|(&v, &th)| f(v, th))
            .collect();
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

impl CustomOp1 for SpikeEachFn {
    fn name(&self) -> &'static str {
        "spike-atan-each"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        self.map(storage, layout, |v, th| heaviside(v, th, self.compare))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let g = arg.apply_op1_no_bwd(&SurrogateGradEach(self.clone()))?;
        Ok(Some(g.mul(grad_res)?))
    }
}

/// The per-neuron surrogate derivative, used only inside [`SpikeEachFn`]'s backward pass.
struct SurrogateGradEach(SpikeEachFn);

impl CustomOp1 for SurrogateGradEach {
    fn name(&self) -> &'static str {
        "spike-atan-each-grad"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let alpha = self.0.alpha;
        self.0
            .map(storage, layout, |v, th| atan_surrogate(v, th, alpha))
    }
}

/// Map `f` over a strided f32 storage into a fresh contiguous vector.
pub(crate) fn map_f32(
    storage: &CpuStorage,
    layout: &Layout,
    f: impl Fn(f32) -> f32,
) -> Result<Vec<f32>> {
    let data = storage.as_slice::<f32>()?;
    Ok(match layout.contiguous_offsets() {
        Some((start, end)) => data[start..end].iter().map(|&x| f(x)).collect(),
        None => strided_offsets(layout)
            .into_iter()
            .map(|i| f(data[i]))
            .collect(),
    })
}

/// Storage offsets of every element of a strided layout, in row-major order.
fn strided_offsets(layout: &Layout) -> Vec<usize> {
    let dims = layout.dims();
    let strides = layout.stride();
    let mut out = vec![layout.start_offset()];
    for (&d, &s) in dims.iter().zip(strides) {
        out = out
            .iter()
            .flat_map(|&o| (0..d).map(move |i| o + i * s))
            .collect();
    }
    out
}

/// Read a strided f32 storage into a contiguous vector.
pub(crate) fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> Result<std::borrow::Cow<'a, [f32]>> {
    let data = storage.as_slice::<f32>()?;
    Ok(match layout.contiguous_offsets() {
        Some((start, end)) => std::borrow::Cow::Borrowed(&data[start..end]),
        None => std::borrow::Cow::Owned(
            strided_offsets(layout)
                .into_iter()
                .map(|i| data[i])
                .collect(),
        ),
    })
}

impl CustomOp1 for SpikeFn {
    fn name(&self) -> &'static str {
        "spike-atan"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = map_f32(storage, layout, |v| self.fire(v))?;
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let g = arg.apply_op1_no_bwd(&SurrogateGrad(*self))?;
        Ok(Some(g.mul(grad_res)?))
    }
}

/// The elementwise surrogate derivative, used only inside the spike's backward pass.
struct SurrogateGrad(SpikeFn);

impl CustomOp1 for SurrogateGrad {
    fn name(&self) -> &'static str {
        "spike-atan-grad"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = map_f32(storage, layout, |v| self.0.surrogate(v))?;
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}
