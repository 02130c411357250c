//! 2-D convolution as a Candle custom op: im2col + GEMM forward, and both gradients through GEMM.
//!
//! Candle 0.11 computes the input gradient with a naive `conv_transpose2d` loop and always
//! computes it, even for the network input (toolchain-notes.md §2). Here the input gradient goes
//! through GEMM + col2im, and is skipped when the input carries no gradient.

use crate::spike::contiguous_f32;
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Geometry of one convolution (square stride, per-axis padding, groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    pub stride: usize,
    pub padding: (usize, usize),
    pub groups: usize,
}

/// Shapes of one call, resolved from the operands.
#[derive(Debug, Clone, Copy)]
struct Dims {
    batch: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    groups: usize,
    stride: usize,
    ph: usize,
    pw: usize,
}

impl Dims {
    fn new(spec: ConvSpec, x: &[usize], wt: &[usize]) -> Result<Dims> {
        let (&[batch, cin, h, w], &[cout, cg, kh, kw]) = (x, wt) else {
            candle_core::bail!(
                "conv2d expects input [B, C, H, W] and weight [O, C/g, kh, kw], got {x:?} and {wt:?}"
            )
        };
        let g = spec.groups.max(1);
        if cg * g != cin || cout % g != 0 {
            candle_core::bail!(
                "conv2d: weight {wt:?} with {g} groups does not match {cin} input channels"
            );
        }
        let (ph, pw) = spec.padding;
        let oh = snnc_compiler::network::window_out(h, kh, spec.stride, ph);
        let ow = snnc_compiler::network::window_out(w, kw, spec.stride, pw);
        let (Some(oh), Some(ow)) = (oh, ow) else {
            candle_core::bail!(
                "conv2d: kernel {kh}x{kw} does not fit input {h}x{w} with padding {ph}x{pw}"
            )
        };
        Ok(Dims {
            batch,
            cin,
            h,
            w,
            cout,
            kh,
            kw,
            oh,
            ow,
            groups: g,
            stride: spec.stride,
            ph,
            pw,
        })
    }
    fn cin_g(&self) -> usize {
        self.cin / self.groups
    }
    fn cout_g(&self) -> usize {
        self.cout / self.groups
    }
    /// Rows of one group's column matrix: `C/g * kh * kw`.
    fn k_g(&self) -> usize {
        self.cin_g() * self.kh * self.kw
    }
    fn pixels(&self) -> usize {
        self.oh * self.ow
    }
    fn in_len(&self) -> usize {
        self.cin * self.h * self.w
    }
    fn out_len(&self) -> usize {
        self.cout * self.pixels()
    }
    /// 1x1, stride 1, no padding: the input already is the column matrix.
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.ph == 0 && self.pw == 0
    }
}

/// `c (+)= op(a) * op(b)` for row-major matrices: `op(a)` is `[m, k]`, `op(b)` is `[k, n]`.
#[allow(clippy::too_many_arguments)]
fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    c: &mut [f32],
    accumulate: bool,
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "sgemm operand sizes"
    );
    let (a_rs, a_cs) = if a_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (b_rs, b_cs) = if b_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the assert above bounds every index the strides can reach; c does not alias a or b.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// The output columns `ox` whose input column `ox*stride + j - pw` lies inside `0..w`.
fn valid_columns(d: &Dims, j: usize) -> std::ops::Range<usize> {
    // First ox with ox*s + j >= pw, and one past the last with ox*s + j - pw < w.
    let lo = d.pw.saturating_sub(j).div_ceil(d.stride);
    let hi = if d.w + d.pw > j {
        (d.w + d.pw - j - 1) / d.stride + 1
    } else {
        0
    };
    lo.min(d.ow)..hi.min(d.ow).max(lo.min(d.ow))
}

/// One sample `[C, H, W]` to its column matrix `[C*kh*kw, oh*ow]`, zeros where padding is read.
fn im2col(d: &Dims, x: &[f32], col: &mut [f32]) {
    let p = d.pixels();
    for c in 0..d.cin {
        let plane = &x[c * d.h * d.w..(c + 1) * d.h * d.w];
        for i in 0..d.kh {
            for j in 0..d.kw {
                let row = &mut col[((c * d.kh + i) * d.kw + j) * p..][..p];
                let cols = valid_columns(d, j);
                for oy in 0..d.oh {
                    let y = (oy * d.stride + i) as isize - d.ph as isize;
                    let dst = &mut row[oy * d.ow..(oy + 1) * d.ow];
                    if y < 0 || y >= d.h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    let src = &plane[y as usize * d.w..(y as usize + 1) * d.w];
                    dst[..cols.start].fill(0.0);
                    dst[cols.end..].fill(0.0);
                    let x0 = cols.start * d.stride + j - d.pw;
                    if d.stride == 1 {
                        // Unit stride: the valid part of the row is one contiguous copy.
                        dst[cols.clone()].copy_from_slice(&src[x0..x0 + cols.len()]);
                    } else {
                        for (k, v) in dst[cols.clone()].iter_mut().enumerate() {
                            *v = src[x0 + k * d.stride];
                        }
                    }
                }
            }
        }
    }
}

/// Scatter-add a column matrix back onto one sample `[C, H, W]` (the adjoint of im2col).
fn col2im(d: &Dims, col: &[f32], x: &mut [f32]) {
    let p = d.pixels();
    for c in 0..d.cin {
        let plane = &mut x[c * d.h * d.w..(c + 1) * d.h * d.w];
        for i in 0..d.kh {
            for j in 0..d.kw {
                let row = &col[((c * d.kh + i) * d.kw + j) * p..][..p];
                let cols = valid_columns(d, j);
                if cols.is_empty() {
                    continue;
                }
                let x0 = cols.start * d.stride + j - d.pw;
                for oy in 0..d.oh {
                    let y = (oy * d.stride + i) as isize - d.ph as isize;
                    if y < 0 || y >= d.h as isize {
                        continue;
                    }
                    let dst = &mut plane[y as usize * d.w..(y as usize + 1) * d.w];
                    let src = &row[oy * d.ow..(oy + 1) * d.ow][cols.clone()];
                    if d.stride == 1 {
                        for (a, b) in dst[x0..x0 + src.len()].iter_mut().zip(src) {
                            *a += b;
                        }
                    } else {
                        for (k, v) in src.iter().enumerate() {
                            dst[x0 + k * d.stride] += v;
                        }
                    }
                }
            }
        }
    }
}

/// The column matrix of one sample: borrowed for pointwise convs, built otherwise.
fn columns<'a>(d: &Dims, x: &'a [f32], buf: &'a mut Vec<f32>) -> &'a [f32] {
    if d.is_pointwise() {
        return x;
    }
    buf.resize(d.cin * d.kh * d.kw * d.pixels(), 0.0);
    im2col(d, x, buf);
    buf
}

/// `conv2d(x, w)` with the fast CPU path; gradients flow to both operands.
#[derive(Debug, Clone, Copy)]
pub struct FastConv2d(pub ConvSpec);

impl FastConv2d {
    pub fn forward(&self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        x.apply_op2(w, *self)
    }
}

impl CustomOp2 for FastConv2d {
    fn name(&self) -> &'static str {
        "fast-conv2d"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = Dims::new(self.0, xl.dims(), wl.dims())?;
        let x = contiguous_f32(xs, xl)?;
        let w = contiguous_f32(ws, wl)?;
        let mut out = vec![0f32; d.batch * d.out_len()];
        out.par_chunks_mut(d.out_len())
            .enumerate()
            .for_each(|(b, out_b)| {
                let mut buf = Vec::new();
                let col = columns(&d, &x[b * d.in_len()..(b + 1) * d.in_len()], &mut buf);
                for g in 0..d.groups {
                    let wg = &w[g * d.cout_g() * d.k_g()..];
                    let cg = &col[g * d.k_g() * d.pixels()..];
                    let og =
                        &mut out_b[g * d.cout_g() * d.pixels()..(g + 1) * d.cout_g() * d.pixels()];
                    sgemm(
                        d.cout_g(),
                        d.pixels(),
                        d.k_g(),
                        wg,
                        false,
                        cg,
                        false,
                        og,
                        false,
                    );
                }
            });
        Ok((
            CpuStorage::F32(out),
            Shape::from((d.batch, d.cout, d.oh, d.ow)),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let dw = grad.apply_op2_no_bwd(
            x,
            &WeightGrad {
                spec: self.0,
                weight_dims: w.dims().to_vec(),
            },
        )?;
        // The network input (and anything else off the graph) needs no gradient: skip the work.
        let dx = if x.track_op() {
            Some(grad.apply_op2_no_bwd(
                w,
                &InputGrad {
                    spec: self.0,
                    input_dims: x.dims().to_vec(),
                },
            )?)
        } else {
            None
        };
        Ok((dx, Some(dw)))
    }
}

/// Samples per partial weight gradient (each chunk is one parallel task).
const WEIGHT_GRAD_CHUNK: usize = 8;

/// `dW = sum_b grad_b * col_b^T`, the batch split into fixed chunks reduced in order.
struct WeightGrad {
    spec: ConvSpec,
    weight_dims: Vec<usize>,
}

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "fast-conv2d-weight-grad"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        xs: &CpuStorage,
        xl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = Dims::new(self.spec, xl.dims(), &self.weight_dims)?;
        let g = contiguous_f32(gs, gl)?;
        let x = contiguous_f32(xs, xl)?;
        let wlen = d.cout * d.k_g();
        // Fixed-size chunks, summed in chunk order: how the float sums group must not depend on
        // the thread count, or the same seed would train differently on another machine.
        let per = WEIGHT_GRAD_CHUNK;
        let partials: Vec<Vec<f32>> = (0..d.batch.div_ceil(per))
            .into_par_iter()
            .map(|chunk| {
                let mut dw = vec![0f32; wlen];
                let mut buf = Vec::new();
                for b in chunk * per..((chunk + 1) * per).min(d.batch) {
                    let col = columns(&d, &x[b * d.in_len()..(b + 1) * d.in_len()], &mut buf);
                    let gb = &g[b * d.out_len()..(b + 1) * d.out_len()];
                    for grp in 0..d.groups {
                        let gg = &gb[grp * d.cout_g() * d.pixels()..];
                        let cg = &col[grp * d.k_g() * d.pixels()..];
                        let dst =
                            &mut dw[grp * d.cout_g() * d.k_g()..(grp + 1) * d.cout_g() * d.k_g()];
                        sgemm(
                            d.cout_g(),
                            d.k_g(),
                            d.pixels(),
                            gg,
                            false,
                            cg,
                            true,
                            dst,
                            true,
                        );
                    }
                }
                dw
            })
            .collect();
        let mut dw = vec![0f32; wlen];
        for p in partials {
            for (a, b) in dw.iter_mut().zip(p) {
                *a += b;
            }
        }
        Ok((CpuStorage::F32(dw), Shape::from(self.weight_dims.clone())))
    }
}

/// `dx_b = col2im(W^T * grad_b)`, samples in parallel.
struct InputGrad {
    spec: ConvSpec,
    input_dims: Vec<usize>,
}

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "fast-conv2d-input-grad"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = Dims::new(self.spec, &self.input_dims, wl.dims())?;
        let g = contiguous_f32(gs, gl)?;
        let w = contiguous_f32(ws, wl)?;
        let mut dx = vec![0f32; d.batch * d.in_len()];
        dx.par_chunks_mut(d.in_len())
            .enumerate()
            .for_each(|(b, dx_b)| {
                let gb = &g[b * d.out_len()..(b + 1) * d.out_len()];
                let mut col = if d.is_pointwise() {
                    Vec::new()
                } else {
                    vec![0f32; d.cin * d.kh * d.kw * d.pixels()]
                };
                for grp in 0..d.groups {
                    let wg = &w[grp * d.cout_g() * d.k_g()..];
                    let gg = &gb[grp * d.cout_g() * d.pixels()..];
                    let dst: &mut [f32] = if d.is_pointwise() {
                        &mut dx_b[grp * d.k_g() * d.pixels()..(grp + 1) * d.k_g() * d.pixels()]
                    } else {
                        &mut col[grp * d.k_g() * d.pixels()..(grp + 1) * d.k_g() * d.pixels()]
                    };
                    sgemm(
                        d.k_g(),
                        d.pixels(),
                        d.cout_g(),
                        wg,
                        true,
                        gg,
                        false,
                        dst,
                        false,
                    );
                }
                if !d.is_pointwise() {
                    col2im(&d, &col, dx_b);
                }
            });
        Ok((CpuStorage::F32(dx), Shape::from(self.input_dims.clone())))
    }
}
