//! 2-D average and max pooling over `[B, C, H, W]` with exact backward passes.
//!
//! Candle 0.11's own pooling backward is wrong for tied maxima and for windows that do not tile
//! the input (toolchain-notes.md §1); binary spikes tie all the time, so these are written here.
//! Max-pool routes each window's gradient to its first maximal element in row-major order,
//! as PyTorch does.

use crate::spike::contiguous_f32;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolGeometry {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
}

impl PoolGeometry {
    fn out_hw(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        let oh =
            snnc_compiler::network::window_out(h, self.kernel.0, self.stride.0, self.padding.0);
        let ow =
            snnc_compiler::network::window_out(w, self.kernel.1, self.stride.1, self.padding.1);
        match (oh, ow) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => candle_core::bail!("pool window {:?} does not fit a {h}x{w} input", self.kernel),
        }
    }

    /// Visit every output cell with the in-bounds rows and columns of its window.
    fn for_each_window(
        &self,
        h: usize,
        w: usize,
        mut f: impl FnMut(usize, Range<usize>, Range<usize>),
    ) -> Result<()> {
        let (oh, ow) = self.out_hw(h, w)?;
        for oy in 0..oh {
            let y0 = (oy * self.stride.0) as isize - self.padding.0 as isize;
            let ys = (y0.max(0) as usize)..((y0 + self.kernel.0 as isize).min(h as isize) as usize);
            for ox in 0..ow {
                let x0 = (ox * self.stride.1) as isize - self.padding.1 as isize;
                let xs =
                    (x0.max(0) as usize)..((x0 + self.kernel.1 as isize).min(w as isize) as usize);
                f(oy * ow + ox, ys.clone(), xs);
            }
        }
        Ok(())
    }
}

fn dims4(shape: &Shape) -> Result<(usize, usize, usize, usize)> {
    match shape.dims() {
        &[b, c, h, w] => Ok((b, c, h, w)),
        d => candle_core::bail!("pooling expects [B, C, H, W], got {d:?}"),
    }
}

/// Average pooling; `count_include_pad` divides by the full window as PyTorch does by default.
#[derive(Debug, Clone, Copy)]
pub struct AvgPool {
    pub geometry: PoolGeometry,
    pub count_include_pad: bool,
}

impl AvgPool {
    fn divisor(&self, in_window: usize) -> f32 {
        if self.count_include_pad {
            (self.geometry.kernel.0 * self.geometry.kernel.1) as f32
        } else {
            in_window.max(1) as f32
        }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.apply_op1(*self)
    }
}

impl CustomOp1 for AvgPool {
    fn name(&self) -> &'static str {
        "avg-pool2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = dims4(layout.shape())?;
        let (oh, ow) = self.geometry.out_hw(h, w)?;
        let x = contiguous_f32(storage, layout)?;
        let mut out = vec![0f32; b * c * oh * ow];
        for plane in 0..b * c {
            let src = &x[plane * h * w..(plane + 1) * h * w];
            let dst = &mut out[plane * oh * ow..(plane + 1) * oh * ow];
            self.geometry.for_each_window(h, w, |o, ys, xs| {
                let n = ys.len() * xs.len();
                let s: f32 = ys
                    .map(|y| src[y * w + xs.start..y * w + xs.end].iter().sum::<f32>())
                    .sum();
                dst[o] = s / self.divisor(n);
            })?;
        }
        Ok((CpuStorage::F32(out), Shape::from((b, c, oh, ow))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = arg.dims4()?;
        let g = grad_res.apply_op1_no_bwd(&AvgPoolBackward { pool: *self, h, w })?;
        Ok(Some(g))
    }
}

struct AvgPoolBackward {
    pool: AvgPool,
    h: usize,
    w: usize,
}

impl CustomOp1 for AvgPoolBackward {
    fn name(&self) -> &'static str {
        "avg-pool2d-backward"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, oh, ow) = dims4(layout.shape())?;
        let (h, w) = (self.h, self.w);
        let g = contiguous_f32(storage, layout)?;
        let mut out = vec![0f32; b * c * h * w];
        for plane in 0..b * c {
            let src = &g[plane * oh * ow..(plane + 1) * oh * ow];
            let dst = &mut out[plane * h * w..(plane + 1) * h * w];
            self.pool.geometry.for_each_window(h, w, |o, ys, xs| {
                let share = src[o] / self.pool.divisor(ys.len() * xs.len());
                for y in ys {
                    for v in &mut dst[y * w + xs.start..y * w + xs.end] {
                        *v += share;
                    }
                }
            })?;
        }
        Ok((CpuStorage::F32(out), Shape::from((b, c, h, w))))
    }
}

/// Max pooling; padding cells never win.
#[derive(Debug, Clone, Copy)]
pub struct MaxPool {
    pub geometry: PoolGeometry,
}

impl MaxPool {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.apply_op1(*self)
    }

    /// For each output cell, the flat in-plane index of the first maximal input.
    fn argmax(
        &self,
        x: &[f32],
        h: usize,
        w: usize,
        planes: usize,
    ) -> Result<(Vec<u32>, usize, usize)> {
        let (oh, ow) = self.geometry.out_hw(h, w)?;
        let mut arg = vec![0u32; planes * oh * ow];
        for plane in 0..planes {
            let src = &x[plane * h * w..(plane + 1) * h * w];
            let dst = &mut arg[plane * oh * ow..(plane + 1) * oh * ow];
            self.geometry.for_each_window(h, w, |o, ys, xs| {
                let mut best = usize::MAX;
                for y in ys {
                    for i in y * w + xs.start..y * w + xs.end {
                        if best == usize::MAX || src[i] > src[best] || src[i].is_nan() {
                            best = i;
                        }
                    }
                }
                dst[o] = best as u32;
            })?;
        }
        Ok((arg, oh, ow))
    }
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "max-pool2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = dims4(layout.shape())?;
        let x = contiguous_f32(storage, layout)?;
        let (arg, oh, ow) = self.argmax(&x, h, w, b * c)?;
        let out = arg
            .iter()
            .enumerate()
            .map(|(o, &i)| x[(o / (oh * ow)) * h * w + i as usize])
            .collect();
        Ok((CpuStorage::F32(out), Shape::from((b, c, oh, ow))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let g = grad_res.apply_op2_no_bwd(arg, &MaxPoolBackward(*self))?;
        Ok(Some(g))
    }
}

struct MaxPoolBackward(MaxPool);

impl CustomOp2 for MaxPoolBackward {
    fn name(&self) -> &'static str {
        "max-pool2d-backward"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        xs: &CpuStorage,
        xl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = dims4(xl.shape())?;
        let x = contiguous_f32(xs, xl)?;
        let g = contiguous_f32(gs, gl)?;
        let (arg, oh, ow) = self.0.argmax(&x, h, w, b * c)?;
        let mut out = vec![0f32; b * c * h * w];
        for (o, &i) in arg.iter().enumerate() {
            out[(o / (oh * ow)) * h * w + i as usize] += g[o];
        }
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }
}
