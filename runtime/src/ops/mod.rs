//! Projections prepared for scattering events: re-laid weights, window tables and the scatter kernels.
//!
//! Every kernel takes the events of one source step and adds their effect into the target's
//! input buffer (storage order, see [`crate::layout`]), touching only what the events reach:
//! work is proportional to events times fan-out, never to the layer size. (The one exception
//! is a conv from a *dense* graded source, at least half non-zero: it gathers per output, the
//! same sums in the same order, which is then within 2x of events times fan-out.) Each returns
//! the [`Work`] it did, counted exactly while doing it.

mod conv;
mod dense;
mod elementwise;
mod events;
mod pool;
mod simd;
mod tables;

pub use conv::Conv;
pub use dense::Dense;
pub use events::{DenseGraded, Events, Graded, Spikes};
pub use pool::Pool;
pub use simd::Simd;
pub use tables::{FastDiv, Taps};

use crate::layout::Layout;
use snnc_compiler::ir::{Arena, ProjectionKind, Tensor};

/// What one scatter did: `pairs` (event, target element) updates applied, of which `effective`
/// met a non-zero weight (the NeuroBench effective operations; padding never counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    pub pairs: u64,
    pub effective: u64,
}

/// `out += w * v` over one contiguous run; binary events (`v == 1.0`) skip the multiply.
#[inline(always)]
fn axpy<const BINARY: bool>(out: &mut [f32], w: &[f32], v: f32) {
    for (o, w) in out.iter_mut().zip(w) {
        *o += if BINARY { *w } else { w * v };
    }
}

/// A projection ready to scatter.
#[derive(Debug, Clone)]
pub enum Op {
    Conv(Conv),
    Dense(Dense),
    Pool(Pool),
    /// Identity, dropout (the identity at inference) and reshape; `Some` maps a reshape's
    /// source storage index to the target's when the two storage orders differ.
    Copy(Option<Vec<u32>>),
    Scale(f32),
    /// Per-channel scale, expanded to the source's storage order.
    Affine(Vec<f32>),
    /// Per-step per-channel scale (`[T, C]`, per-step batch norm): `T` rows of the source's
    /// size, each expanded to its storage order; row `t` applies at step `t`. A variant of its
    /// own, so the constant case keeps its single table.
    AffineSteps {
        scale: Vec<f32>,
        numel: usize,
    },
}

impl Op {
    /// Prepare `kind` between populations of layouts `src` and `dst` of a validated module.
    pub fn new(kind: &ProjectionKind, tensors: &Arena<Tensor>, src: Layout, dst: Layout) -> Op {
        match kind {
            ProjectionKind::Conv2d(c) => Op::Conv(Conv::new(c, &tensors[c.weight], src, dst)),
            ProjectionKind::Dense(d) => Op::Dense(Dense::new(&tensors[d.weight], src, dst)),
            ProjectionKind::SumPool(p) => Op::Pool(Pool::new(p, src, dst)),
            ProjectionKind::Identity(_) | ProjectionKind::Dropout(_) => Op::Copy(None),
            ProjectionKind::Reshape(_) => {
                let map: Vec<u32> = (0..src.numel())
                    .map(|s| dst.storage(src.logical(s)) as u32)
                    .collect();
                let trivial = map.iter().enumerate().all(|(i, m)| *m as usize == i);
                Op::Copy(if trivial { None } else { Some(map) })
            }
            ProjectionKind::Scale(s) => Op::Scale(s.factor as f32),
            ProjectionKind::Affine(a) => {
                let scale = &tensors[a.scale];
                if scale.is_per_step() {
                    Op::AffineSteps {
                        scale: src.expand_steps(&scale.data, scale.shape[0]),
                        numel: src.numel(),
                    }
                } else {
                    Op::Affine(src.expand(&scale.data))
                }
            }
        }
    }

    /// Pairs one step of a dense implementation would apply (conv and dense only: the
    /// NeuroBench "Dense" count; pools and element-wise maps are not synaptic).
    pub fn dense_pairs(&self) -> u64 {
        match self {
            Op::Conv(c) => c.dense_pairs(),
            Op::Dense(d) => d.dense_pairs(),
            _ => 0,
        }
    }

    /// Whether the map differs from step to step (a per-step affine scale): such a projection
    /// is never applied once per sample, even from a constant source.
    pub fn per_step(&self) -> bool {
        matches!(self, Op::AffineSteps { .. })
    }

    /// Scatter `ev` into `out` at step `t` (which only a per-step map reads), with the same
    /// code compiled for the vector width `simd` names (checked by the caller, see
    /// [`Simd::detect`]). No FMA: every build rounds alike.
    pub fn scatter<E: Events>(&self, ev: &E, out: &mut [f32], t: usize, simd: Simd) -> Work {
        #[cfg(target_arch = "x86_64")]
        match simd {
            // SAFETY: `Simd::detect` only returns a level the CPU supports.
            Simd::Avx512 => return unsafe { self.scatter_avx512(ev, out, t) },
            // SAFETY: as for AVX-512.
            Simd::Avx2 => return unsafe { self.scatter_avx2(ev, out, t) },
            Simd::None => {}
        }
        let _ = simd;
        self.scatter_portable(ev, out, t)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn scatter_avx2<E: Events>(&self, ev: &E, out: &mut [f32], t: usize) -> Work {
        self.scatter_portable(ev, out, t)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2")]
    unsafe fn scatter_avx512<E: Events>(&self, ev: &E, out: &mut [f32], t: usize) -> Work {
        self.scatter_portable(ev, out, t)
    }

    #[inline(always)]
    fn scatter_portable<E: Events>(&self, ev: &E, out: &mut [f32], t: usize) -> Work {
        match self {
            Op::Conv(c) => c.scatter(ev, out),
            Op::Dense(d) => d.scatter(ev, out),
            Op::Pool(p) => p.scatter(ev, out),
            Op::Copy(map) => elementwise::copy(map.as_deref(), ev, out),
            Op::Scale(f) => elementwise::scale(*f, ev, out),
            Op::Affine(scale) => elementwise::affine(scale, ev, out),
            Op::AffineSteps { scale, numel } => {
                elementwise::affine(&scale[t * numel..(t + 1) * numel], ev, out)
            }
        }
    }
}
