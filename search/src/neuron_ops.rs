//! Fused elementwise steps of a fixed-leak LIF (charge, hard reset) as Candle custom ops.

use crate::spike::contiguous_f32;
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

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

/// Hard reset `v = h*(1-s) + v_reset*s`; the spike `s` is treated as a constant (detached).
#[derive(Debug, Clone, Copy)]
pub struct HardResetDetached {
    pub v_reset: f32,
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
        let v = h
            .iter()
            .zip(s.iter())
            .map(|(&h, &s)| if s != 0.0 { self.v_reset } else { h })
            .collect();
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
