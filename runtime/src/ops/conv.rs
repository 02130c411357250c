//! The 2-D convolution kernel: weights re-laid per input channel and tap, the reach of each
//! input position, and the scatter (plus a gather for dense graded sources).

use super::tables::{FastDiv, Taps};
use super::{Events, Work, axpy};
use crate::layout::Layout;
use snnc_compiler::ir::Tensor;

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
