//! The SAHD / Hamming kernel on bit-packed spike patterns and its log|det| (snasnet.md §4.3-4.5).

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
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sahd" => Ok(KernelKind::Sahd),
            "hamming" => Ok(KernelKind::Hamming),
            _ => Err(format!("unknown kernel `{s}`: use sahd or hamming")),
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

impl SpikeBits {
    /// Binarise `values` (`[B, N]` row-major) as `c = 1[v > 0]` and pack it.
    pub fn from_values(values: &[f32], batch: usize, neurons: usize) -> Result<Self, String> {
        if values.len() != batch * neurons {
            return Err(format!(
                "spike tensor has {} values, expected {batch} x {neurons}",
                values.len()
            ));
        }
        let words = neurons.div_ceil(64);
        let mut bits = vec![0u64; batch * words];
        let mut ones = vec![0u64; batch];
        for b in 0..batch {
            let row = &values[b * neurons..(b + 1) * neurons];
            let out = &mut bits[b * words..(b + 1) * words];
            for (w, chunk) in row.chunks(64).enumerate() {
                let mut word = 0u64;
                for (k, &v) in chunk.iter().enumerate() {
                    word |= ((v > 0.0) as u64) << k;
                }
                out[w] = word;
            }
            ones[b] = out.iter().map(|w| w.count_ones() as u64).sum();
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

#[inline(always)]
fn pair_distances_body(s: &SpikeBits, out: &mut [u64]) {
    let b = s.batch;
    let mut q = 0;
    for i in 0..b {
        let ri = s.row(i);
        for j in i + 1..b {
            out[q] = ri
                .iter()
                .zip(s.row(j))
                .map(|(x, y)| (x ^ y).count_ones() as u64)
                .sum();
            q += 1;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn pair_distances_popcnt(s: &SpikeBits, out: &mut [u64]) {
    pair_distances_body(s, out)
}

/// Hamming distances of all pairs i < j, in row-major upper-triangle order.
pub fn pair_distances(s: &SpikeBits, dispatch: Dispatch) -> Vec<u64> {
    let b = s.batch;
    let mut out = vec![0u64; b * b.saturating_sub(1) / 2];
    #[cfg(target_arch = "x86_64")]
    if dispatch == Dispatch::Auto && std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU supports popcnt (checked just above).
        unsafe { pair_distances_popcnt(s, &mut out) };
        return out;
    }
    let _ = dispatch;
    pair_distances_body(s, &mut out);
    out
}

/// The per-call kernel matrix `[B, B]` in f64 (row-major).
pub fn call_kernel(spikes: &SpikeBits, kind: KernelKind) -> Vec<f64> {
    let b = spikes.batch;
    let n = spikes.neurons as f64;
    let mut k = vec![n; b * b];
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
            k[i * b + j] = v;
            k[j * b + i] = v;
        }
    }
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

    /// Add one LIF call's patterns.
    pub fn add(&mut self, spikes: &SpikeBits) -> Result<(), String> {
        if spikes.batch != self.batch {
            return Err(format!(
                "spike batch {} does not match the kernel's batch {}",
                spikes.batch, self.batch
            ));
        }
        for (s, k) in self.sum.iter_mut().zip(call_kernel(spikes, self.kind)) {
            *s += k;
        }
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
