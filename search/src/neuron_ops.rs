//! Fused elementwise steps of a fixed-leak LIF (charge, hard reset) as Candle custom ops.

use crate::spike::contiguous_f32;
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use std::sync::Arc;

/// A neuron parameter inside a fused op: one value for the layer, or one per neuron of the
/// population (the trailing axes of the op's `[B, ...population]` operands, row-major), the same
/// for every sample of the batch.
#[derive(Debug, Clone)]
pub enum Factor {
    One(f32),
    Each(Arc<[f32]>),
}

impl Factor {
    /// `g` times the factor, broadcast over the batch (a gradient through a product with it).
    pub fn times(&self, g: &Tensor) -> Result<Tensor> {
        match self {
            Factor::One(v) => g.affine(f64::from(*v), 0.0),
            Factor::Each(values) => {
                let mut dims = g.dims().to_vec();
                dims[0] = 1;
                g.broadcast_mul(&Tensor::from_slice(values, dims, g.device())?)
            }
        }
    }

    /// The neuron count a per-neuron factor is for; `None` for one value.
    fn neurons(&self) -> Option<usize> {
        match self {
            Factor::One(_) => None,
            Factor::Each(values) => Some(values.len()),
        }
    }
}

/// Map `f(neuron, element)` over `data`, a batch of populations of `neurons` each (one
/// population of all the elements when no factor is per neuron); fails if the elements are no
/// whole number of populations.
fn per_neuron_map(
    data: &[f32],
    neurons: Option<usize>,
    what: &str,
    f: impl Fn(usize, usize) -> f32,
) -> Result<Vec<f32>> {
    let n = neurons.unwrap_or(data.len());
    if n == 0 || !data.len().is_multiple_of(n) {
        candle_core::bail!(
            "{what}: {} values are no whole number of populations of {n} neurons",
            data.len()
        );
    }
    let mut out = Vec::with_capacity(data.len());
    for start in (0..data.len()).step_by(n) {
        out.extend((0..n).map(|i| f(i, start + i)));
    }
    Ok(out)
}

/// `h = a*v + b*x + c` (the LIF charge with a fixed leak); gradients `a*g` to v, `b*g` to x.
#[derive(Debug, Clone, Copy)]
pub struct Charge {
    pub a: f32,
    pub b: f32,
    pub c: f32,
}

impl CustomOp2 for Charge {
    fn name(&self) -> &'static str {
        "lif-charge"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        vs: &CpuStorage,
        vl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if xl.shape() != vl.shape() {
            candle_core::bail!(
                "lif charge: input {:?} and membrane {:?} differ",
                xl.dims(),
                vl.dims()
            );
        }
        let x = contiguous_f32(xs, xl)?;
        let v = contiguous_f32(vs, vl)?;
        let h = x
            .iter()
            .zip(v.iter())
            .map(|(&x, &v)| self.a * v + self.b * x + self.c)
            .collect();
        Ok((CpuStorage::F32(h), xl.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _v: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((
            Some(g.affine(self.b as f64, 0.0)?),
            Some(g.affine(self.a as f64, 0.0)?),
        ))
    }
}

/// The membrane before firing in `ir::SpikingAt::charge`'s order, `rest + beta (v - rest) +
/// gain x`, each product and sum rounded in f32 (no FMA), with any factor per neuron: the
/// charge of a layer whose parameters name tensors (and of such a leaky integrator);
/// gradients `beta g` to v, `gain g` to x.
#[derive(Debug, Clone)]
pub struct ChargeEach {
    pub beta: Factor,
    pub gain: Factor,
    pub rest: Factor,
}

impl ChargeEach {
    /// The population size the per-neuron factors share (they come from one population).
    fn neurons(&self) -> Result<Option<usize>> {
        let sizes: Vec<usize> = [&self.beta, &self.gain, &self.rest]
            .into_iter()
            .filter_map(Factor::neurons)
            .collect();
        if sizes.windows(2).any(|w| w[0] != w[1]) {
            candle_core::bail!("per-neuron charge: factors for populations of {sizes:?} neurons");
        }
        Ok(sizes.first().copied())
    }
}

/// One value of a factor for neuron `i`.
fn at(f: &Factor, i: usize) -> f32 {
    match f {
        Factor::One(v) => *v,
        Factor::Each(values) => values[i],
    }
}

impl CustomOp2 for ChargeEach {
    fn name(&self) -> &'static str {
        "lif-charge-each"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        vs: &CpuStorage,
        vl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if xl.shape() != vl.shape() {
            candle_core::bail!(
                "per-neuron charge: input {:?} and membrane {:?} differ",
                xl.dims(),
                vl.dims()
            );
        }
        let x = contiguous_f32(xs, xl)?;
        let v = contiguous_f32(vs, vl)?;
        let h = per_neuron_map(&x, self.neurons()?, "per-neuron charge", |i, e| {
            let rest = at(&self.rest, i);
            rest + at(&self.beta, i) * (v[e] - rest) + at(&self.gain, i) * x[e]
        })?;
        Ok((CpuStorage::F32(h), xl.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _v: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(self.gain.times(g)?), Some(self.beta.times(g)?)))
    }
}

/// Hard reset `v = h*(1-s) + v_reset*s`; the spike `s` is treated as a constant (detached).
/// `v_reset` may differ per neuron.
#[derive(Debug, Clone)]
pub struct HardResetDetached {
    pub v_reset: Factor,
}

impl CustomOp2 for HardResetDetached {
    fn name(&self) -> &'static str {
        "lif-hard-reset"
    }

    fn cpu_fwd(
        &self,
        hs: &CpuStorage,
        hl: &Layout,
        ss: &CpuStorage,
        sl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let h = contiguous_f32(hs, hl)?;
        let s = contiguous_f32(ss, sl)?;
        let v = match &self.v_reset {
            Factor::One(v_reset) => h
                .iter()
                .zip(s.iter())
                .map(|(&h, &s)| if s != 0.0 { *v_reset } else { h })
                .collect(),
            each => per_neuron_map(&h, each.neurons(), "per-neuron hard reset", |i, e| {
                if s[e] != 0.0 { at(each, i) } else { h[e] }
            })?,
        };
        Ok((CpuStorage::F32(v), hl.shape().clone()))
    }

    fn bwd(
        &self,
        _h: &Tensor,
        s: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let keep = s.affine(-1.0, 1.0)?;
        Ok((Some((g * keep)?), None))
    }
}
