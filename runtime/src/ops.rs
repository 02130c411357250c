//! Projections prepared for scattering events: re-laid weights, window tables and the scatter kernels.
//!
//! Every kernel takes the events of one source step and adds their effect into the target's
//! input buffer (storage order, see [`crate::layout`]), touching only what the events reach:
//! work is proportional to events times fan-out, never to the layer size. (The one exception
//! is a conv from a *dense* graded source, at least half non-zero: it gathers per output, the
//! same sums in the same order, which is then within 2x of events times fan-out.) Each returns
//! the [`Work`] it did, counted exactly while doing it.

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
    /// Every value is 1: kernels add weights without multiplying (`w * 1.0 == w`, so the sums
    /// are bit for bit the same).
    const BINARY: bool = false;
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
    const BINARY: bool = true;
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

/// `out += w * v` over one contiguous run; binary events (`v == 1.0`) skip the multiply.
#[inline(always)]
fn axpy<const BINARY: bool>(out: &mut [f32], w: &[f32], v: f32) {
    for (o, w) in out.iter_mut().zip(w) {
        *o += if BINARY { *w } else { w * v };
    }
}

/// Division by a divisor fixed when the plan is built, as a multiply and a shift (Lemire,
/// Kaser and Kurz 2019): exact for every `u32` numerator. Storage indices are split into
/// (position, channel) once per event, and a hardware division per event is slow.
#[derive(Debug, Clone, Copy)]
pub struct FastDiv {
    d: u64,
    /// `2^64 / d` rounded up; unused for `d == 1`.
    m: u64,
}

impl FastDiv {
    pub fn new(d: usize) -> FastDiv {
        let d = d.max(1) as u64;
        FastDiv {
            d,
            m: if d == 1 { 0 } else { u64::MAX / d + 1 },
        }
    }

    /// `(n / d, n % d)` for `n < 2^32`.
    #[inline(always)]
    pub fn divrem(self, n: usize) -> (usize, usize) {
        debug_assert!(n as u64 <= u64::from(u32::MAX));
        if self.d == 1 {
            return (n, 0);
        }
        let q = ((u128::from(self.m) * n as u128) >> 64) as u64;
        (q as usize, (n as u64 - q * self.d) as usize)
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
    /// Kernel taps, `kh * kw`.
    kk: usize,
    /// Storage index -> (input position, channel).
    by_cin: FastDiv,
    /// Channel -> group.
    by_cg: FastDiv,
    /// Per input position `iy * W + ix`, the `(kernel tap, output position)` pairs it reaches
    /// (`reach[reach_at[pos]..reach_at[pos + 1]]`): the row and column tap tables crossed once
    /// at plan time, so a scatter walks one flat list per event. Padding never appears.
    reach_at: Vec<u32>,
    reach: Vec<(u32, u32)>,
    /// Per output position, the `(kernel tap, input position)` pairs that reach it, in
    /// ascending input position (`gather[gather_at[o]..gather_at[o + 1]]`).
    gather_at: Vec<u32>,
    gather: Vec<(u32, u32)>,
    /// Per source storage index, the non-zero weights one event there applies: the effective
    /// pairs of an event, counted once per event rather than per tap.
    reach_nnz: Vec<u32>,
    weights: Vec<f32>,
    dense_pairs: u64,
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
        let rows = Taps::new(src.h, kh, c.stride[0], c.padding[0], dst.h);
        let cols = Taps::new(src.w, kw, c.stride[1], c.padding[1], dst.w);
        let mut reach_at = Vec::with_capacity(src.h * src.w + 1);
        let mut reach = Vec::new();
        reach_at.push(0);
        for iy in 0..src.h {
            for ix in 0..src.w {
                for &(ky, oy) in rows.of(iy) {
                    for &(kx, ox) in cols.of(ix) {
                        reach.push((ky * kw as u32 + kx, oy * dst.w as u32 + ox));
                    }
                }
                reach_at.push(reach.len() as u32);
            }
        }
        // The same pairs seen from the outputs, for gathering from a dense source: per output
        // position, its (tap, input position) pairs in ascending input position, the order in
        // which a scatter of the source's events in storage order adds them.
        let mut from: Vec<Vec<(u32, u32)>> = vec![Vec::new(); dst.h * dst.w];
        for pos in 0..src.h * src.w {
            for &(tap, opos) in &reach[reach_at[pos] as usize..reach_at[pos + 1] as usize] {
                from[opos as usize].push((tap, pos as u32));
            }
        }
        let mut gather_at = Vec::with_capacity(from.len() + 1);
        gather_at.push(0u32);
        let mut gather = Vec::with_capacity(reach.len());
        for f in &from {
            gather.extend_from_slice(f);
            gather_at.push(gather.len() as u32);
        }
        let reach_nnz = (0..src.h * src.w * cin)
            .map(|s| {
                let (pos, ci) = (s / cin, s % cin);
                reach[reach_at[pos] as usize..reach_at[pos + 1] as usize]
                    .iter()
                    .map(|&(tap, _)| nnz[ci * kh * kw + tap as usize])
                    .sum::<u32>()
            })
            .collect();
        Conv {
            cin,
            cout,
            cg,
            coutg,
            kk: kh * kw,
            by_cin: FastDiv::new(cin),
            by_cg: FastDiv::new(cg),
            reach_at,
            reach,
            gather_at,
            gather,
            reach_nnz,
            weights,
            dense_pairs: (rows.pairs() * cols.pairs() * cin * coutg) as u64,
        }
    }

    /// Every (input, weight) pair one step would apply if every input were non-zero.
    pub fn dense_pairs(&self) -> u64 {
        self.dense_pairs
    }

    #[inline(always)]
    fn reach(&self, pos: usize) -> &[(u32, u32)] {
        &self.reach[self.reach_at[pos] as usize..self.reach_at[pos + 1] as usize]
    }

    #[inline(always)]
    pub fn scatter<E: Events>(&self, ev: &E, out: &mut [f32]) -> Work {
        // Common slice lengths get a build where the length is a constant: the compiler then
        // emits exactly length / lanes vector adds per tap, with no loop or remainder around them.
        // With `groups == 1`, `B` taps are accumulated together (see `scatter_grouped`); two
        // measured best for spikes, one for graded events into wide slices.
        let grouped = self.cg == self.cin;
        let binary = E::BINARY;
        if let (true, Some(val)) = (grouped, ev.dense_values()) {
            match self.coutg {
                8 => return self.gather_dense::<8>(val, out),
                16 => return self.gather_dense::<16>(val, out),
                32 => return self.gather_dense::<32>(val, out),
                64 => return self.gather_dense::<64>(val, out),
                128 => return self.gather_dense::<128>(val, out),
                _ => {}
            }
        }
        match self.coutg {
            8 if grouped && binary => self.scatter_grouped::<E, 8, 2>(ev, out),
            16 if grouped && binary => self.scatter_grouped::<E, 16, 2>(ev, out),
            32 if grouped && binary => self.scatter_grouped::<E, 32, 2>(ev, out),
            64 if grouped && binary => self.scatter_grouped::<E, 64, 2>(ev, out),
            8 if grouped => self.scatter_grouped::<E, 8, 2>(ev, out),
            16 if grouped => self.scatter_grouped::<E, 16, 2>(ev, out),
            32 if grouped => self.scatter_grouped::<E, 32, 1>(ev, out),
            64 if grouped => self.scatter_grouped::<E, 64, 1>(ev, out),
            128 if grouped => self.scatter_grouped::<E, 128, 1>(ev, out),
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
        let len = if N == 0 { self.coutg } else { N };
        let (mut taps, mut effective) = (0u64, 0u64);
        for (s, v) in ev.iter() {
            let (pos, ci) = self.by_cin.divrem(s);
            let group_base = self.by_cg.divrem(ci).0 * len;
            let slice_base = ci * self.kk;
            effective += u64::from(self.reach_nnz[s]);
            for &(tap, opos) in self.reach(pos) {
                let slice = slice_base + tap as usize;
                let o = opos as usize * self.cout + group_base;
                let (dst, src) = (
                    &mut out[o..o + len],
                    &self.weights[slice * len..(slice + 1) * len],
                );
                if N == 0 {
                    if E::BINARY {
                        axpy::<true>(dst, src, v);
                    } else {
                        axpy::<false>(dst, src, v);
                    }
                } else if let (Ok(d), Ok(w)) =
                    (<&mut [f32; N]>::try_from(dst), <&[f32; N]>::try_from(src))
                {
                    for j in 0..N {
                        d[j] += if E::BINARY { w[j] } else { w[j] * v };
                    }
                }
                taps += 1;
            }
        }
        Work {
            pairs: taps * len as u64,
            effective,
        }
    }

    /// A dense graded source (`groups == 1`): each output slice is held in registers while
    /// every (tap, channel) reaching it is added, in the order a scatter of the source's
    /// events would add them (ascending input position, then channel), skipping zeros as a
    /// scatter never sees them: the same sums, bit for bit, without a load and store of the
    /// slice per event. Counted per non-zero input, as the scatter counts.
    #[inline(always)]
    fn gather_dense<const N: usize>(&self, val: &[f32], out: &mut [f32]) -> Work {
        let cin = self.cin;
        for (o, d) in out.chunks_exact_mut(N).enumerate() {
            let Ok(d) = <&mut [f32; N]>::try_from(d) else {
                continue;
            };
            let mut acc = *d;
            let pairs = &self.gather[self.gather_at[o] as usize..self.gather_at[o + 1] as usize];
            for &(tap, ipos) in pairs {
                let xs = &val[ipos as usize * cin..(ipos as usize + 1) * cin];
                for (ci, &x) in xs.iter().enumerate() {
                    if x == 0.0 {
                        continue;
                    }
                    let slice = ci * self.kk + tap as usize;
                    if let Ok(w) = <&[f32; N]>::try_from(&self.weights[slice * N..(slice + 1) * N])
                    {
                        for j in 0..N {
                            acc[j] += w[j] * x;
                        }
                    }
                }
            }
            *d = acc;
        }
        let (mut taps, mut effective) = (0u64, 0u64);
        for (s, &x) in val.iter().enumerate() {
            if x != 0.0 {
                taps += (self.reach_at[s / cin + 1] - self.reach_at[s / cin]) as u64;
                effective += u64::from(self.reach_nnz[s]);
            }
        }
        Work {
            pairs: taps * N as u64,
            effective,
        }
    }

    /// Events come in storage order, so the channels that fired at one input position arrive
    /// together; they all reach the same output slices. Those slices are then loaded once, get
    /// every one of those channels' weights added (in event order, so the sums are bit for bit
    /// those of one event at a time), and are stored once. `B` taps go together, so the adds
    /// of one channel form `B` independent chains rather than one (an add waits for the
    /// previous add into the same register). Only for `groups == 1`, where every channel's
    /// slice is the same output run, of `N == C_out` values.
    #[inline(always)]
    fn scatter_grouped<E: Events, const N: usize, const B: usize>(
        &self,
        ev: &E,
        out: &mut [f32],
    ) -> Work {
        const MAX: usize = 32;
        let (mut taps, mut effective) = (0u64, 0u64);
        let mut group = [(0usize, 0.0f32); MAX];
        let mut it = ev.iter().peekable();
        while let Some((s, v)) = it.next() {
            let (pos, ci) = self.by_cin.divrem(s);
            group[0] = (ci * self.kk, v);
            effective += u64::from(self.reach_nnz[s]);
            let mut k = 1;
            let start = pos * self.cin;
            let run = start..start + self.cin;
            while k < MAX {
                match it.peek() {
                    Some(&(s2, v2)) if run.contains(&s2) => {
                        group[k] = ((s2 - start) * self.kk, v2);
                        effective += u64::from(self.reach_nnz[s2]);
                        k += 1;
                        it.next();
                    }
                    _ => break,
                }
            }
            let members = &group[..k];
            let reach = self.reach(pos);
            taps += (k * reach.len()) as u64;
            let mut blocks = reach.chunks_exact(B);
            for block in blocks.by_ref() {
                let mut acc = [[0.0f32; N]; B];
                for b in 0..B {
                    let o = block[b].1 as usize * N;
                    if let Ok(d) = <&[f32; N]>::try_from(&out[o..o + N]) {
                        acc[b] = *d;
                    }
                }
                for &(base, v) in members {
                    for b in 0..B {
                        let slice = base + block[b].0 as usize;
                        if let Ok(w) =
                            <&[f32; N]>::try_from(&self.weights[slice * N..(slice + 1) * N])
                        {
                            for j in 0..N {
                                acc[b][j] += if E::BINARY { w[j] } else { w[j] * v };
                            }
                        }
                    }
                }
                for b in 0..B {
                    let o = block[b].1 as usize * N;
                    if let Ok(d) = <&mut [f32; N]>::try_from(&mut out[o..o + N]) {
                        *d = acc[b];
                    }
                }
            }
            for &(tap, opos) in blocks.remainder() {
                let o = opos as usize * N;
                let Ok(d) = <&mut [f32; N]>::try_from(&mut out[o..o + N]) else {
                    continue;
                };
                let mut acc = *d;
                for &(base, v) in members {
                    let slice = base + tap as usize;
                    if let Ok(w) = <&[f32; N]>::try_from(&self.weights[slice * N..(slice + 1) * N])
                    {
                        for j in 0..N {
                            acc[j] += if E::BINARY { w[j] } else { w[j] * v };
                        }
                    }
                }
                *d = acc;
            }
        }
        Work {
            pairs: taps * N as u64,
            effective,
        }
    }
}

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

/// Window sums times a scale, per channel.
#[derive(Debug, Clone)]
pub struct Pool {
    c: usize,
    by_c: FastDiv,
    by_w: FastDiv,
    out_w: usize,
    scale: f32,
    rows: Taps,
    cols: Taps,
    /// When windows do not overlap (kernel <= stride: every input reaches at most one
    /// output), the target storage index of each source storage index, `u32::MAX` for none.
    direct: Option<Vec<u32>>,
}

impl Pool {
    pub fn new(p: &snnc_compiler::ir::SumPool, src: Layout, dst: Layout) -> Pool {
        // A [N] population pools as one row [1, 1, N]; the layouts already say so.
        let (oh, ow) = (dst.h, dst.w);
        let rows = Taps::new(src.h, p.kernel[0], p.stride[0], p.padding[0], oh);
        let cols = Taps::new(src.w, p.kernel[1], p.stride[1], p.padding[1], ow);
        let single = |t: &Taps, len: usize| (0..len).all(|i| t.of(i).len() <= 1);
        let direct = (single(&rows, src.h) && single(&cols, src.w)).then(|| {
            (0..src.numel())
                .map(|s| {
                    let (pos, ch) = (s / src.c, s % src.c);
                    let (iy, ix) = (pos / src.w, pos % src.w);
                    match (rows.of(iy), cols.of(ix)) {
                        ([(_, oy)], [(_, ox)]) => {
                            ((*oy as usize * ow + *ox as usize) * src.c + ch) as u32
                        }
                        _ => u32::MAX,
                    }
                })
                .collect()
        });
        Pool {
            c: src.c,
            by_c: FastDiv::new(src.c),
            by_w: FastDiv::new(src.w),
            out_w: ow,
            scale: p.scale as f32,
            rows,
            cols,
            direct,
        }
    }

    #[inline(always)]
    pub fn scatter<E: Events>(&self, ev: &E, out: &mut [f32]) -> Work {
        let mut pairs = 0u64;
        if let Some(direct) = &self.direct {
            for (s, v) in ev.iter() {
                let o = direct[s];
                if o != u32::MAX {
                    out[o as usize] += self.scale * v;
                    pairs += 1;
                }
            }
            return Work {
                pairs,
                effective: pairs,
            };
        }
        for (s, v) in ev.iter() {
            let (pos, ch) = self.by_c.divrem(s);
            let (iy, ix) = self.by_w.divrem(pos);
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
            Op::Affine(scale) => affine(scale, ev, out),
            Op::AffineSteps { scale, numel } => affine(&scale[t * numel..(t + 1) * numel], ev, out),
        }
    }
}

/// `out += scale * x` element-wise over the events `ev` (`scale` in the source's storage order).
#[inline(always)]
fn affine<E: Events>(scale: &[f32], ev: &E, out: &mut [f32]) -> Work {
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
