//! Projections prepared for scattering events: re-laid weights, window tables and the scatter kernels.
//!
//! Every kernel takes the events of one source step and adds their effect into the target's
//! input buffer (storage order, see [`crate::layout`]), touching only what the events reach:
//! work is proportional to events times fan-out, never to the layer size. Each returns the
//! [`Work`] it did, counted exactly while doing it.

use crate::layout::Layout;
use snnc_compiler::ir::{Arena, ProjectionKind, Tensor};

/// What one scatter did: `pairs` (event, target element) updates applied, of which `effective`
/// met a non-zero weight (the NeuroBench effective operations; padding never counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    pub pairs: u64,
    pub effective: u64,
}

/// The events of one population at one step.
pub trait Events {
    /// Number of events.
    fn count(&self) -> usize;
    /// `(storage index, value)` of every event. An iterator rather than a callback, so the
    /// kernels' loop bodies are not closures: those would not inherit the AVX2 build.
    fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_;
    /// All of the source's values, when it is dense (zeros included): element-wise kernels then
    /// run one straight vector loop, since adding `f * 0` changes nothing.
    #[inline(always)]
    fn dense_values(&self) -> Option<&[f32]> {
        None
    }
}

/// Binary events: active storage indices, value 1.
pub struct Spikes<'a>(pub &'a [u32]);

/// Sparse graded events: active storage indices and the population's values (read at those).
pub struct Graded<'a> {
    pub idx: &'a [u32],
    pub val: &'a [f32],
}

/// Dense graded events: every non-zero value of the population. Used when at least half the
/// values are non-zero, where an index list would cost more memory than it saves in work.
pub struct DenseGraded<'a> {
    pub val: &'a [f32],
    pub count: usize,
}

impl Events for Spikes<'_> {
    #[inline(always)]
    fn count(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.0.iter().map(|&i| (i as usize, 1.0))
    }
}

impl Events for Graded<'_> {
    #[inline(always)]
    fn count(&self) -> usize {
        self.idx.len()
    }
    #[inline(always)]
    fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.idx.iter().map(|&i| (i as usize, self.val[i as usize]))
    }
}

impl Events for DenseGraded<'_> {
    #[inline(always)]
    fn count(&self) -> usize {
        self.count
    }
    #[inline(always)]
    fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.val
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0.0)
            .map(|(i, v)| (i, *v))
    }
    #[inline(always)]
    fn dense_values(&self) -> Option<&[f32]> {
        Some(self.val)
    }
}

/// For each input coordinate along one axis, the `(kernel tap, output coordinate)` pairs it
/// reaches: `o * stride + k - pad == i` with both in range. Padding never appears in a table.
#[derive(Debug, Clone)]
pub struct Taps {
    offsets: Vec<u32>,
    taps: Vec<(u32, u32)>,
}

impl Taps {
    pub fn new(in_len: usize, kernel: usize, stride: usize, pad: usize, out_len: usize) -> Taps {
        let mut offsets = Vec::with_capacity(in_len + 1);
        let mut taps = Vec::new();
        offsets.push(0);
        for i in 0..in_len {
            for k in 0..kernel {
                let shifted = i + pad;
                if shifted < k || !(shifted - k).is_multiple_of(stride) {
                    continue;
                }
                let o = (shifted - k) / stride;
                if o < out_len {
                    taps.push((k as u32, o as u32));
                }
            }
            offsets.push(taps.len() as u32);
        }
        Taps { offsets, taps }
    }

    #[inline(always)]
    pub fn of(&self, i: usize) -> &[(u32, u32)] {
        &self.taps[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Total (input, output) pairs along this axis.
    pub fn pairs(&self) -> usize {
        self.taps.len()
    }
}

/// `out += w * v` over one contiguous run; with `v == 1.0` the multiply folds away.
#[inline(always)]
fn axpy(out: &mut [f32], w: &[f32], v: f32) {
    for (o, w) in out.iter_mut().zip(w) {
        *o += w * v;
    }
}

/// A 2-D convolution laid out for scattering: weights `[C_in][kh][kw][C_out / groups]`.
#[derive(Debug, Clone)]
pub struct Conv {
    cin: usize,
    cout: usize,
    /// Input channels per group.
    cg: usize,
    /// Output channels per group: the length of one weight slice.
    coutg: usize,
    kh: usize,
    kw: usize,
    src_w: usize,
    out_w: usize,
    rows: Taps,
    cols: Taps,
    weights: Vec<f32>,
    /// Non-zero weights per slice `[C_in][kh][kw]`.
    nnz: Vec<u32>,
}

impl Conv {
    /// Prepare from the IR weight `[C_out, C_in/groups, kh, kw]`, source `[C_in, H, W]` and
    /// target `[C_out, OH, OW]` (shapes validated).
    pub fn new(c: &snnc_compiler::ir::Conv2d, weight: &Tensor, src: Layout, dst: Layout) -> Conv {
        let [cout, cg, kh, kw] = [
            weight.shape[0],
            weight.shape[1],
            weight.shape[2],
            weight.shape[3],
        ];
        let groups = c.groups.max(1);
        let coutg = cout / groups;
        let cin = src.c;
        let mut weights = vec![0.0f32; cin * kh * kw * coutg];
        let mut nnz = vec![0u32; cin * kh * kw];
        for ci in 0..cin {
            let (g, cl) = (ci / cg, ci % cg);
            for ky in 0..kh {
                for kx in 0..kw {
                    let slice = (ci * kh + ky) * kw + kx;
                    for j in 0..coutg {
                        let co = g * coutg + j;
                        let v = weight.data[((co * cg + cl) * kh + ky) * kw + kx];
                        weights[slice * coutg + j] = v;
                        nnz[slice] += u32::from(v != 0.0);
                    }
                }
            }
        }
        Conv {
            cin,
            cout,
            cg,
            coutg,
            kh,
            kw,
            src_w: src.w,
            out_w: dst.w,
            rows: Taps::new(src.h, kh, c.stride[0], c.padding[0], dst.h),
            cols: Taps::new(src.w, kw, c.stride[1], c.padding[1], dst.w),
            weights,
            nnz,
        }
    }

    /// Every (input, weight) pair one step would apply if every input were non-zero.
    pub fn dense_pairs(&self) -> u64 {
        (self.rows.pairs() * self.cols.pairs() * self.cin * self.coutg) as u64
    }

    #[inline(always)]
    pub fn scatter<E: Events>(&self, ev: &E, out: &mut [f32]) -> Work {
        // Common slice lengths get a build where the length is a constant: the compiler then
        // emits exactly length / lanes vector adds per tap, with no loop or remainder around them.
        match self.coutg {
            8 => self.scatter_n::<E, 8>(ev, out),
            16 => self.scatter_n::<E, 16>(ev, out),
            32 => self.scatter_n::<E, 32>(ev, out),
            64 => self.scatter_n::<E, 64>(ev, out),
            128 => self.scatter_n::<E, 128>(ev, out),
            _ => self.scatter_n::<E, 0>(ev, out),
        }
    }

    /// The scatter with slices of `N` values (`N = 0`: any length, `self.coutg`).
    #[inline(always)]
    fn scatter_n<E: Events, const N: usize>(&self, ev: &E, out: &mut [f32]) -> Work {
        if N != 0 && self.cg == self.cin {
            return self.scatter_grouped::<E, N>(ev, out);
        }
        let len = if N == 0 { self.coutg } else { N };
        let (mut taps, mut effective) = (0u64, 0u64);
        for (s, v) in ev.iter() {
            let (pos, ci) = (s / self.cin, s % self.cin);
            let (iy, ix) = (pos / self.src_w, pos % self.src_w);
            let group_base = (ci / self.cg) * len;
            let slice_base = ci * self.kh * self.kw;
            let cols = self.cols.of(ix);
            for &(ky, oy) in self.rows.of(iy) {
                let row_slice = slice_base + ky as usize * self.kw;
                let row_out = oy as usize * self.out_w;
                for &(kx, ox) in cols {
                    let slice = row_slice + kx as usize;
                    let o = (row_out + ox as usize) * self.cout + group_base;
                    let (dst, src) = (
                        &mut out[o..o + len],
                        &self.weights[slice * len..(slice + 1) * len],
                    );
                    if N == 0 {
                        axpy(dst, src, v);
                    } else if let (Ok(d), Ok(w)) =
                        (<&mut [f32; N]>::try_from(dst), <&[f32; N]>::try_from(src))
                    {
                        for j in 0..N {
                            d[j] += w[j] * v;
                        }
                    }
                    effective += u64::from(self.nnz[slice]);
                    taps += 1;
                }
            }
        }
        Work {
            pairs: taps * len as u64,
            effective,
        }
    }

    /// Events come in storage order, so the channels that fired at one input position arrive
    /// together; they all reach the same output slices. Each slice is then loaded once, gets
    /// every one of those channels' weights added (in event order, so the sums are bit for bit
    /// those of one event at a time), and is stored once. Only for `groups == 1`, where every
    /// channel's slice is the same output run.
    #[inline(always)]
    fn scatter_grouped<E: Events, const N: usize>(&self, ev: &E, out: &mut [f32]) -> Work {
        const MAX: usize = 32;
        let (mut taps, mut effective) = (0u64, 0u64);
        let mut group = [(0usize, 0.0f32); MAX];
        let mut it = ev.iter().peekable();
        while let Some((s, v)) = it.next() {
            let pos = s / self.cin;
            group[0] = (s % self.cin, v);
            let mut k = 1;
            while k < MAX {
                match it.peek() {
                    Some(&(s2, v2)) if s2 / self.cin == pos => {
                        group[k] = (s2 % self.cin, v2);
                        k += 1;
                        it.next();
                    }
                    _ => break,
                }
            }
            let members = &group[..k];
            let (iy, ix) = (pos / self.src_w, pos % self.src_w);
            let cols = self.cols.of(ix);
            let kk = self.kh * self.kw;
            for &(ky, oy) in self.rows.of(iy) {
                let row_out = oy as usize * self.out_w;
                for &(kx, ox) in cols {
                    let tap = ky as usize * self.kw + kx as usize;
                    let o = (row_out + ox as usize) * self.cout;
                    let Ok(d) = <&mut [f32; N]>::try_from(&mut out[o..o + N]) else {
                        continue;
                    };
                    let mut acc = *d;
                    for &(ci, v) in members {
                        let slice = ci * kk + tap;
                        if let Ok(w) =
                            <&[f32; N]>::try_from(&self.weights[slice * N..(slice + 1) * N])
                        {
                            for j in 0..N {
                                acc[j] += w[j] * v;
                            }
                        }
                        effective += u64::from(self.nnz[slice]);
                    }
                    *d = acc;
                    taps += k as u64;
                }
            }
        }
        Work {
            pairs: taps * N as u64,
            effective,
        }
    }
}

/// A fully connected projection laid out for scattering: one weight row per input element,
/// both in storage order.
#[derive(Debug, Clone)]
pub struct Dense {
    n_out: usize,
    weights: Vec<f32>,
    nnz: Vec<u32>,
}

impl Dense {
    /// Prepare from the IR weight `[out, in]`, reading the source flat in row-major order.
    pub fn new(weight: &Tensor, src: Layout, dst: Layout) -> Dense {
        let (n_out, n_in) = (weight.shape[0], weight.shape[1]);
        let mut weights = vec![0.0f32; n_in * n_out];
        let mut nnz = vec![0u32; n_in];
        for si in 0..n_in {
            let li = src.logical(si);
            let row = &mut weights[si * n_out..(si + 1) * n_out];
            for (so, slot) in row.iter_mut().enumerate() {
                *slot = weight.data[dst.logical(so) * n_in + li];
            }
            nnz[si] = row.iter().filter(|w| **w != 0.0).count() as u32;
        }
        Dense {
            n_out,
            weights,
            nnz,
        }
    }

    pub fn dense_pairs(&self) -> u64 {
        (self.nnz.len() * self.n_out) as u64
    }

    #[inline(always)]
    pub fn scatter<E: Events>(&self, ev: &E, out: &mut [f32]) -> Work {
        let mut effective = 0u64;
        let n = self.n_out;
        for (s, v) in ev.iter() {
            axpy(&mut out[..n], &self.weights[s * n..(s + 1) * n], v);
            effective += u64::from(self.nnz[s]);
        }
        Work {
            pairs: (ev.count() * n) as u64,
            effective,
        }
    }
}

/// Window sums times a scale, per channel.
#[derive(Debug, Clone)]
pub struct Pool {
    c: usize,
    src_w: usize,
    out_w: usize,
    scale: f32,
    rows: Taps,
    cols: Taps,
}

impl Pool {
    pub fn new(p: &snnc_compiler::ir::SumPool, src: Layout, dst: Layout) -> Pool {
        // A [N] population pools as one row [1, 1, N]; the layouts already say so.
        let (oh, ow) = (dst.h, dst.w);
        Pool {
            c: src.c,
            src_w: src.w,
            out_w: ow,
            scale: p.scale as f32,
            rows: Taps::new(src.h, p.kernel[0], p.stride[0], p.padding[0], oh),
            cols: Taps::new(src.w, p.kernel[1], p.stride[1], p.padding[1], ow),
        }
    }

    #[inline(always)]
    pub fn scatter<E: Events>(&self, ev: &E, out: &mut [f32]) -> Work {
        let mut pairs = 0u64;
        for (s, v) in ev.iter() {
            let (pos, ch) = (s / self.c, s % self.c);
            let (iy, ix) = (pos / self.src_w, pos % self.src_w);
            let add = self.scale * v;
            let cols = self.cols.of(ix);
            for &(_, oy) in self.rows.of(iy) {
                for &(_, ox) in cols {
                    out[(oy as usize * self.out_w + ox as usize) * self.c + ch] += add;
                }
                pairs += cols.len() as u64;
            }
        }
        Work {
            pairs,
            effective: pairs,
        }
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
            ProjectionKind::Affine(a) => Op::Affine(src.expand(&tensors[a.scale].data)),
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

    /// Scatter `ev` into `out`, with the same code compiled for the vector width `simd` names
    /// (checked by the caller, see [`Simd::detect`]). No FMA: every build rounds alike.
    pub fn scatter<E: Events>(&self, ev: &E, out: &mut [f32], simd: Simd) -> Work {
        #[cfg(target_arch = "x86_64")]
        match simd {
            // SAFETY: `Simd::detect` only returns a level the CPU supports.
            Simd::Avx512 => return unsafe { self.scatter_avx512(ev, out) },
            Simd::Avx2 => return unsafe { self.scatter_avx2(ev, out) },
            Simd::None => {}
        }
        let _ = simd;
        self.scatter_portable(ev, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn scatter_avx2<E: Events>(&self, ev: &E, out: &mut [f32]) -> Work {
        self.scatter_portable(ev, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2")]
    unsafe fn scatter_avx512<E: Events>(&self, ev: &E, out: &mut [f32]) -> Work {
        self.scatter_portable(ev, out)
    }

    #[inline(always)]
    fn scatter_portable<E: Events>(&self, ev: &E, out: &mut [f32]) -> Work {
        match self {
            Op::Conv(c) => c.scatter(ev, out),
            Op::Dense(d) => d.scatter(ev, out),
            Op::Pool(p) => p.scatter(ev, out),
            Op::Copy(map) => {
                match (map, ev.dense_values()) {
                    (Some(m), _) => ev.iter().for_each(|(s, v)| out[m[s] as usize] += v),
                    (None, Some(val)) => out.iter_mut().zip(val).for_each(|(o, v)| *o += v),
                    (None, None) => ev.iter().for_each(|(s, v)| out[s] += v),
                }
                let n = ev.count() as u64;
                Work {
                    pairs: n,
                    effective: n,
                }
            }
            Op::Scale(f) => {
                match ev.dense_values() {
                    Some(val) => out.iter_mut().zip(val).for_each(|(o, v)| *o += f * v),
                    None => ev.iter().for_each(|(s, v)| out[s] += f * v),
                }
                let n = ev.count() as u64;
                Work {
                    pairs: n,
                    effective: n,
                }
            }
            Op::Affine(scale) => {
                match ev.dense_values() {
                    Some(val) => out
                        .iter_mut()
                        .zip(val)
                        .zip(scale)
                        .for_each(|((o, v), k)| *o += k * v),
                    None => ev.iter().for_each(|(s, v)| out[s] += scale[s] * v),
                }
                let n = ev.count() as u64;
                Work {
                    pairs: n,
                    effective: n,
                }
            }
        }
    }
}

/// Which build of the kernels runs: the widest vectors the CPU has. Results are identical in
/// every build (element-wise operations in the same order, no FMA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simd {
    None,
    Avx2,
    Avx512,
}

impl Simd {
    pub fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
            {
                return Simd::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::None
    }

    /// Every level this CPU can run, narrowest first (for tests).
    pub fn available() -> Vec<Simd> {
        let best = Simd::detect();
        [Simd::None, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .filter(|s| *s as u8 <= best as u8)
            .collect()
    }
}
