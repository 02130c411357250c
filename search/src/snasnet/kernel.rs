//! The SAHD / Hamming kernel on bit-packed spike patterns and its log|det| (snasnet.md §4.3-4.5).

use crate::error::SearchError;

/// α of the sparsity-aware Hamming distance.
pub const SAHD_ALPHA: f64 = 0.5;
/// Guard added to the expected distance E_ij (a count, not a rate).
pub const SAHD_EPS: f64 = 1e-3;

/// Which distance the kernel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KernelKind {
    /// Sparsity-aware Hamming distance (SNASNet): K = N − α·d_H / (E + 1e-3).
    #[default]
    Sahd,
    /// Plain Hamming distance (NASWOT): K = N − d_H.
    Hamming,
}

impl std::str::FromStr for KernelKind {
    type Err = SearchError;
    fn from_str(s: &str) -> Result<Self, SearchError> {
        match s {
            "sahd" => Ok(KernelKind::Sahd),
            "hamming" => Ok(KernelKind::Hamming),
            _ => Err(SearchError::UnknownName {
                what: "kernel",
                given: s.to_string(),
                choices: "sahd or hamming",
            }),
        }
    }
}

/// Binary spike patterns of one LIF call, `[B, N]`, one bit per neuron, rows padded to whole words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpikeBits {
    pub batch: usize,
    pub neurons: usize,
    pub words: usize,
    pub bits: Vec<u64>,
    /// Number of ones per row.
    pub ones: Vec<u64>,
}

/// Rows of at least this many words are packed and compared in parallel (rayon); smaller
/// calls stay on the calling thread, where the fork-join would cost more than it saves.
const PARALLEL_WORDS: usize = 1 << 12;

/// Pack 64 values as `1[v > 0]`, value k into bit k.
#[inline]
fn pack64(c: &[f32]) -> u64 {
    debug_assert_eq!(c.len(), 64);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cmpgt_ps, _mm_loadu_ps, _mm_movemask_ps, _mm_setzero_ps};
        let mut word = 0u64;
        for q in 0..16 {
            // SAFETY: SSE2 is part of the x86-64 baseline, and `c` holds 64 values, so the
            // unaligned 4-value load at 4q is in bounds.
            let m = unsafe {
                let v = _mm_loadu_ps(c.as_ptr().add(4 * q));
                _mm_movemask_ps(_mm_cmpgt_ps(v, _mm_setzero_ps()))
            };
            word |= (m as u64) << (4 * q);
        }
        word
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        pack_tail(c)
    }
}

/// Pack up to 64 values as `1[v > 0]` (the plain loop; also the last, partial word of a row).
#[inline]
fn pack_tail(c: &[f32]) -> u64 {
    let mut word = 0u64;
    for (k, &v) in c.iter().enumerate() {
        word |= ((v > 0.0) as u64) << k;
    }
    word
}

/// Pack one row into `out` and return its number of ones.
fn pack_row(row: &[f32], out: &mut [u64]) -> u64 {
    let mut chunks = row.chunks_exact(64);
    for (w, c) in out.iter_mut().zip(&mut chunks) {
        *w = pack64(c);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        out[out.len() - 1] = pack_tail(rem);
    }
    out.iter().map(|w| w.count_ones() as u64).sum()
}

impl SpikeBits {
    /// Binarise `values` (`[B, N]` row-major) as `c = 1[v > 0]` and pack it.
    pub fn from_values(values: &[f32], batch: usize, neurons: usize) -> Result<Self, SearchError> {
        if values.len() != batch * neurons {
            return Err(SearchError::SpikeShape {
                message: format!(
                    "the tensor has {} values, expected {batch} x {neurons}",
                    values.len()
                ),
            });
        }
        let words = neurons.div_ceil(64);
        let mut bits = vec![0u64; batch * words];
        let mut ones = vec![0u64; batch];
        if words > 0 {
            if batch * words >= PARALLEL_WORDS {
                use rayon::prelude::*;
                bits.par_chunks_mut(words)
                    .zip(values.par_chunks(neurons))
                    .zip(ones.par_iter_mut())
                    .for_each(|((out, row), one)| *one = pack_row(row, out));
            } else {
                let rows = bits.chunks_mut(words).zip(values.chunks(neurons));
                for ((out, row), one) in rows.zip(ones.iter_mut()) {
                    *one = pack_row(row, out);
                }
            }
        }
        Ok(SpikeBits {
            batch,
            neurons,
            words,
            bits,
            ones,
        })
    }

    fn row(&self, b: usize) -> &[u64] {
        &self.bits[b * self.words..(b + 1) * self.words]
    }

    /// Hamming distance between rows i and j (XOR + popcount).
    pub fn hamming(&self, i: usize, j: usize) -> u64 {
        self.row(i)
            .iter()
            .zip(self.row(j))
            .map(|(a, b)| (a ^ b).count_ones() as u64)
            .sum()
    }
}

/// Which Hamming-distance code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// The hardware popcount instruction when the CPU has it, else the portable code.
    Auto,
    /// Plain Rust (`count_ones` on the baseline target, a bit-twiddling sequence on x86-64).
    Portable,
}

/// Distances from row `i` to rows `i+1..B` into `out` (length B-1-i). Rows j are taken four at
/// a time so each word of row i is loaded once per four comparisons.
#[inline(always)]
fn row_distances_body(s: &SpikeBits, i: usize, out: &mut [u64]) {
    let ri = s.row(i);
    let mut j = i + 1;
    let mut q = 0;
    while j + 4 <= s.batch {
        let (r0, r1, r2, r3) = (s.row(j), s.row(j + 1), s.row(j + 2), s.row(j + 3));
        let (mut d0, mut d1, mut d2, mut d3) = (0u64, 0u64, 0u64, 0u64);
        for w in 0..ri.len() {
            let a = ri[w];
            d0 += (a ^ r0[w]).count_ones() as u64;
            d1 += (a ^ r1[w]).count_ones() as u64;
            d2 += (a ^ r2[w]).count_ones() as u64;
            d3 += (a ^ r3[w]).count_ones() as u64;
        }
        out[q..q + 4].copy_from_slice(&[d0, d1, d2, d3]);
        j += 4;
        q += 4;
    }
    while j < s.batch {
        out[q] = ri
            .iter()
            .zip(s.row(j))
            .map(|(x, y)| (x ^ y).count_ones() as u64)
            .sum();
        j += 1;
        q += 1;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn row_distances_popcnt(s: &SpikeBits, i: usize, out: &mut [u64]) {
    row_distances_body(s, i, out)
}

fn row_distances(s: &SpikeBits, i: usize, out: &mut [u64], popcnt: bool) {
    #[cfg(target_arch = "x86_64")]
    if popcnt {
        // SAFETY: the caller checked that the CPU supports popcnt.
        unsafe { row_distances_popcnt(s, i, out) };
        return;
    }
    let _ = popcnt;
    row_distances_body(s, i, out)
}

/// Hamming distances of all pairs i < j, in row-major upper-triangle order. Large calls run
/// one task per row i on rayon's pool.
pub fn pair_distances(s: &SpikeBits, dispatch: Dispatch) -> Vec<u64> {
    let b = s.batch;
    let mut out = vec![0u64; b * b.saturating_sub(1) / 2];
    #[cfg(target_arch = "x86_64")]
    let popcnt = dispatch == Dispatch::Auto && std::arch::is_x86_feature_detected!("popcnt");
    #[cfg(not(target_arch = "x86_64"))]
    let popcnt = {
        let _ = dispatch;
        false
    };
    // Split the triangle into its rows: row i holds the B-1-i pairs (i, j > i).
    let mut rows: Vec<(usize, &mut [u64])> = Vec::with_capacity(b);
    let mut rest = out.as_mut_slice();
    for i in 0..b {
        let (row, tail) = rest.split_at_mut(b - 1 - i);
        rows.push((i, row));
        rest = tail;
    }
    if b * b * s.words / 2 >= PARALLEL_WORDS {
        use rayon::prelude::*;
        rows.into_par_iter()
            .for_each(|(i, row)| row_distances(s, i, row, popcnt));
    } else {
        for (i, row) in rows {
            row_distances(s, i, row, popcnt);
        }
    }
    out
}

/// Visit the kernel entry of every pair i < j: `f(i, j, K_ij)`; the diagonal is always N.
fn for_each_entry(spikes: &SpikeBits, kind: KernelKind, mut f: impl FnMut(usize, usize, f64)) {
    let b = spikes.batch;
    let n = spikes.neurons as f64;
    let rates: Vec<f64> = spikes.ones.iter().map(|&o| o as f64 / n.max(1.0)).collect();
    let dist = pair_distances(spikes, Dispatch::Auto);
    let mut q = 0;
    for i in 0..b {
        for j in i + 1..b {
            let d = dist[q] as f64;
            q += 1;
            let v = match kind {
                KernelKind::Hamming => n - d,
                KernelKind::Sahd => {
                    let (ri, rj) = (rates[i], rates[j]);
                    let e = n * (ri * (1.0 - rj) + (1.0 - ri) * rj);
                    n - SAHD_ALPHA * d / (e + SAHD_EPS)
                }
            };
            f(i, j, v);
        }
    }
}

/// The per-call kernel matrix `[B, B]` in f64 (row-major).
pub fn call_kernel(spikes: &SpikeBits, kind: KernelKind) -> Vec<f64> {
    let b = spikes.batch;
    let mut k = vec![spikes.neurons as f64; b * b];
    for_each_entry(spikes, kind, |i, j, v| {
        k[i * b + j] = v;
        k[j * b + i] = v;
    });
    k
}

/// Sums per-call kernels; the score is log|det| of their mean.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelAccumulator {
    pub batch: usize,
    pub kind: KernelKind,
    pub sum: Vec<f64>,
    pub calls: usize,
}

impl KernelAccumulator {
    pub fn new(batch: usize, kind: KernelKind) -> Self {
        KernelAccumulator {
            batch,
            kind,
            sum: vec![0.0; batch * batch],
            calls: 0,
        }
    }

    /// Add one LIF call's patterns (straight into the sum, no per-call matrix).
    pub fn add(&mut self, spikes: &SpikeBits) -> Result<(), SearchError> {
        if spikes.batch != self.batch {
            return Err(SearchError::SpikeShape {
                message: format!(
                    "batch {} does not match the kernel's batch {}",
                    spikes.batch, self.batch
                ),
            });
        }
        let b = self.batch;
        let n = spikes.neurons as f64;
        let sum = &mut self.sum;
        for i in 0..b {
            sum[i * b + i] += n;
        }
        for_each_entry(spikes, self.kind, |i, j, v| {
            sum[i * b + j] += v;
            sum[j * b + i] += v;
        });
        self.calls += 1;
        Ok(())
    }

    /// K̄: the mean over calls (None before any call).
    pub fn mean(&self) -> Option<Vec<f64>> {
        (self.calls > 0).then(|| self.sum.iter().map(|s| s / self.calls as f64).collect())
    }

    /// log|det K̄| (None before any call; −∞ if K̄ is singular).
    pub fn score(&self) -> Option<f64> {
        self.mean().map(|k| log_abs_det(&k, self.batch))
    }
}

/// log|det A| of an n x n row-major matrix by LU with partial pivoting in f64; the sign is
/// discarded, a singular matrix gives −∞, and a wrongly sized slice gives NaN.
pub fn log_abs_det(a: &[f64], n: usize) -> f64 {
    if a.len() != n * n {
        return f64::NAN;
    }
    let mut m = a.to_vec();
    let mut logdet = 0.0;
    for col in 0..n {
        let mut piv = col;
        let mut best = m[col * n + col].abs();
        for r in col + 1..n {
            let v = m[r * n + col].abs();
            if v > best {
                best = v;
                piv = r;
            }
        }
        if best == 0.0 || !best.is_finite() {
            return if best == 0.0 {
                f64::NEG_INFINITY
            } else {
                f64::NAN
            };
        }
        if piv != col {
            for c in 0..n {
                m.swap(col * n + c, piv * n + c);
            }
        }
        let p = m[col * n + col];
        logdet += p.abs().ln();
        for r in col + 1..n {
            let f = m[r * n + col] / p;
            if f != 0.0 {
                for c in col + 1..n {
                    m[r * n + c] -= f * m[col * n + c];
                }
            }
        }
    }
    logdet
}
