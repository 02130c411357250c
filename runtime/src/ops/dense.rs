//! The fully connected kernel: one weight row per input element, narrow outputs held in
//! registers across a step's events.

use super::{Events, Work, axpy};
use crate::layout::Layout;
use snnc_compiler::ir::Tensor;

/// A fully connected projection laid out for scattering: one weight row per input element,
/// both in storage order. Narrow outputs (a readout) get rows padded with zeros to a vector
/// length, `stride`, and accumulate in registers across all events of a step.
#[derive(Debug, Clone)]
pub struct Dense {
    n_out: usize,
    /// Row length in `weights`: `n_out`, or 16 or 32 for narrower outputs.
    stride: usize,
    weights: Vec<f32>,
    nnz: Vec<u32>,
}

impl Dense {
    /// Prepare from the IR weight `[out, in]`, reading the source flat in row-major order.
    pub fn new(weight: &Tensor, src: Layout, dst: Layout) -> Dense {
        let (n_out, n_in) = (weight.shape[0], weight.shape[1]);
        let stride = match n_out {
            0..=16 => 16,
            17..=32 => 32,
            _ => n_out,
        };
        let mut weights = vec![0.0f32; n_in * stride];
        let mut nnz = vec![0u32; n_in];
        for si in 0..n_in {
            let li = src.logical(si);
            let row = &mut weights[si * stride..si * stride + n_out];
            for (so, slot) in row.iter_mut().enumerate() {
                *slot = weight.data[dst.logical(so) * n_in + li];
            }
            nnz[si] = row.iter().filter(|w| **w != 0.0).count() as u32;
        }
        Dense {
            n_out,
            stride,
            weights,
            nnz,
        }
    }

    pub fn dense_pairs(&self) -> u64 {
        (self.nnz.len() * self.n_out) as u64
    }

    #[inline(always)]
    pub fn scatter<E: Events>(&self, ev: &E, out: &mut [f32]) -> Work {
        match self.stride {
            16 => self.scatter_narrow::<E, 16>(ev, out),
            32 => self.scatter_narrow::<E, 32>(ev, out),
            _ => self.scatter_wide(ev, out),
        }
    }

    #[inline(always)]
    fn scatter_wide<E: Events>(&self, ev: &E, out: &mut [f32]) -> Work {
        let mut effective = 0u64;
        let n = self.n_out;
        for (s, v) in ev.iter() {
            let w = &self.weights[s * n..(s + 1) * n];
            if E::BINARY {
                axpy::<true>(&mut out[..n], w, v);
            } else {
                axpy::<false>(&mut out[..n], w, v);
            }
            effective += u64::from(self.nnz[s]);
        }
        Work {
            pairs: (ev.count() * n) as u64,
            effective,
        }
    }

    /// Outputs held in `N` lanes through all the events (the padding lanes add zeros and are
    /// dropped), each output summed in event order as one event at a time would.
    #[inline(always)]
    fn scatter_narrow<E: Events, const N: usize>(&self, ev: &E, out: &mut [f32]) -> Work {
        let mut effective = 0u64;
        let n = self.n_out;
        let mut acc = [0.0f32; N];
        acc[..n].copy_from_slice(&out[..n]);
        for (s, v) in ev.iter() {
            if let Ok(w) = <&[f32; N]>::try_from(&self.weights[s * N..(s + 1) * N]) {
                for j in 0..N {
                    acc[j] += if E::BINARY { w[j] } else { w[j] * v };
                }
            }
            effective += u64::from(self.nnz[s]);
        }
        out[..n].copy_from_slice(&acc[..n]);
        Work {
            pairs: (ev.count() * n) as u64,
            effective,
        }
    }
}
