//! The LIF update of a whole population per step ([`fire`]) and the spike trains of autonomous
//! populations ([`train`]): the per-neuron part of a step, the one cost every step pays in full.
//!
//! A current-based population first moves its synaptic current, `i = alpha i + w_in x` (two
//! products, then their sum, as `ir::Synapse::update` states it), and charges with `i` in
//! place of `x`. Rust never contracts a product and a sum into an FMA, so one loop serves both
//! builds of [`fire`]; the vector build of [`train`] states the same two products and sum in
//! eight lanes.
//!
//! Every build computes `u = rest + beta * (v - rest) + gain * x` (`rest`: `v_leak`, else
//! `v_reset`; less the threshold where a `subtract_next` reset is pending) with the same
//! operations in the same order and no FMA, as `ir::SpikingAt::charge` does in f64, so the AVX2 kernels (also used on AVX-512
//! machines: eight lanes are enough, the loop is bound by loads and stores) give bit for bit
//! the portable results. The vector kernels turn the fire and near-threshold compares straight
//! into bit masks (`movemask`): eight neurons cost about a dozen instructions and no branch.
//!
//! A population with per-neuron parameters ([`PerNeuron`]) takes kernels of its own, so the
//! scalar-parameter ones above stay as they are: a portable loop ([`step_each`] per neuron,
//! the same operations in the same order, each neuron reading its own values) and AVX2 kernels
//! that run the same eight-lane step as the uniform ones with the parameters loaded lane by
//! lane rather than broadcast: the same bits in every build.

// Intrinsic calls sit in `unsafe` blocks for Rust 1.85 (the workspace's minimum); from 1.86 on,
// the arithmetic ones are safe inside `target_feature` functions.
#![allow(unused_unsafe)]

use crate::ops::Simd;
use crate::plan::{Lif, PerNeuron, Synapse};
use snnc_compiler::ir::{Compare, Reset};
use snnc_compiler::reference::FLIP_MARGIN;

/// `$sweep!(fires, reset, next, delayed)` once per (compare, reset) pair: `fires(u)` is the
/// compare, `reset(u)` the membrane kept after a spike, `next` whether a delayed reset
/// (`subtract_next`, `zero_next`) is read from the stored membrane before charging, and
/// `delayed(u)` the charged membrane once that pending reset is applied.
macro_rules! per_kind {
    ($lif:expr, $th:expr, $vr:expr, $sweep:ident) => {
        match ($lif.fire, $lif.reset) {
            (Compare::Ge, Reset::Hard) => {
                $sweep!(|u: f32| u >= $th, |_: f32| $vr, false, |u: f32| u)
            }
            (Compare::Ge, Reset::Subtract) => {
                $sweep!(|u: f32| u >= $th, |u: f32| u - $th, false, |u: f32| u)
            }
            (Compare::Ge, Reset::SubtractNext) => {
                $sweep!(|u: f32| u >= $th, |u: f32| u, true, |u: f32| u - $th)
            }
            (Compare::Ge, Reset::ZeroNext) => {
                $sweep!(|u: f32| u >= $th, |u: f32| u, true, |_: f32| $vr)
            }
            (Compare::Ge, Reset::None) => $sweep!(|u: f32| u >= $th, |u: f32| u, false, |u: f32| u),
            (Compare::Gt, Reset::Hard) => {
                $sweep!(|u: f32| u > $th, |_: f32| $vr, false, |u: f32| u)
            }
            (Compare::Gt, Reset::Subtract) => {
                $sweep!(|u: f32| u > $th, |u: f32| u - $th, false, |u: f32| u)
            }
            (Compare::Gt, Reset::SubtractNext) => {
                $sweep!(|u: f32| u > $th, |u: f32| u, true, |u: f32| u - $th)
            }
            (Compare::Gt, Reset::ZeroNext) => {
                $sweep!(|u: f32| u > $th, |u: f32| u, true, |_: f32| $vr)
            }
            (Compare::Gt, Reset::None) => $sweep!(|u: f32| u > $th, |u: f32| u, false, |u: f32| u),
        }
    };
}

/// [`Reset`] as a const-generic parameter of the vector kernels.
const HARD: u8 = 0;
const SUBTRACT: u8 = 1;
const SUBTRACT_NEXT: u8 = 2;
const NO_RESET: u8 = 3;
const ZERO_NEXT: u8 = 4;

/// Whether a population has a synaptic current, as a const-generic parameter of the per-neuron
/// kernels.
const SYNAPSE: bool = true;
const NO_SYNAPSE: bool = false;

/// `$kernel::<GT, RESET, extra..>($args)` once per (compare, reset) pair.
macro_rules! per_kind_const {
    ($lif:expr, $kernel:ident $(::<$($extra:ident),*>)? ($($arg:expr),*)) => {
        match ($lif.fire, $lif.reset) {
            (Compare::Ge, Reset::Hard) => $kernel::<false, HARD $($(, $extra)*)?>($($arg),*),
            (Compare::Ge, Reset::Subtract) => $kernel::<false, SUBTRACT $($(, $extra)*)?>($($arg),*),
            (Compare::Ge, Reset::SubtractNext) => {
                $kernel::<false, SUBTRACT_NEXT $($(, $extra)*)?>($($arg),*)
            }
            (Compare::Ge, Reset::ZeroNext) => {
                $kernel::<false, ZERO_NEXT $($(, $extra)*)?>($($arg),*)
            }
            (Compare::Ge, Reset::None) => $kernel::<false, NO_RESET $($(, $extra)*)?>($($arg),*),
            (Compare::Gt, Reset::Hard) => $kernel::<true, HARD $($(, $extra)*)?>($($arg),*),
            (Compare::Gt, Reset::Subtract) => $kernel::<true, SUBTRACT $($(, $extra)*)?>($($arg),*),
            (Compare::Gt, Reset::SubtractNext) => {
                $kernel::<true, SUBTRACT_NEXT $($(, $extra)*)?>($($arg),*)
            }
            (Compare::Gt, Reset::ZeroNext) => {
                $kernel::<true, ZERO_NEXT $($(, $extra)*)?>($($arg),*)
            }
            (Compare::Gt, Reset::None) => $kernel::<true, NO_RESET $($(, $extra)*)?>($($arg),*),
        }
    };
}

/// Charge, fire and reset every neuron; spikes go to `idx` (cleared first), in ascending order.
/// `current` is the synaptic current of a current-based population (ignored, and may be empty,
/// for a plain one). Returns the near-threshold count.
pub(crate) fn fire(
    lif: &Lif,
    v: &mut [f32],
    input: &[f32],
    current: &mut [f32],
    idx: &mut Vec<u32>,
    simd: Simd,
) -> u64 {
    idx.clear();
    if let Some(each) = &lif.per_neuron {
        return fire_each(lif, each, v, input, current, idx, simd);
    }
    // Decided once per population: the plain kernel is the one it always was.
    let near = match lif.synapse {
        Some(syn) => {
            update_current(syn, current, input, simd);
            fire_any(lif, v, current, idx, simd)
        }
        None => fire_any(lif, v, input, idx, simd),
    };
    // A lower bound is rare: one scalar pass after the kernel, the same in every build.
    if let Some(lo) = lif.v_min {
        v.iter_mut().for_each(|m| *m = floor_at(*m, lo));
    }
    near
}

fn fire_any(lif: &Lif, v: &mut [f32], input: &[f32], idx: &mut Vec<u32>, simd: Simd) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if simd != Simd::None {
        // SAFETY: `Simd::detect` only returns a level the CPU supports, and both vector levels
        // include AVX2.
        return unsafe { fire_avx2(lif, v, input, idx) };
    }
    let _ = simd;
    fire_portable(lif, v, input, idx, 0, v.len())
}

/// This step's input enters the synaptic current: `i = alpha i + w_in x`.
fn update_current(syn: Synapse, current: &mut [f32], input: &[f32], simd: Simd) {
    #[cfg(target_arch = "x86_64")]
    if simd != Simd::None {
        // SAFETY: as in `fire_any`.
        return unsafe { update_current_avx2(syn, current, input) };
    }
    let _ = simd;
    update_current_portable(syn, current, input)
}

/// The portable loop compiled for AVX2: vector multiplies and adds, never an FMA, so the same
/// bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_current_avx2(syn: Synapse, current: &mut [f32], input: &[f32]) {
    update_current_portable(syn, current, input)
}

#[inline(always)]
fn update_current_portable(syn: Synapse, current: &mut [f32], input: &[f32]) {
    let (alpha, w_in) = (syn.alpha, syn.w_in);
    for (i, x) in current.iter_mut().zip(input) {
        *i = alpha * *i + w_in * *x;
    }
}

/// Sinabs' lower bound on the kept membrane, `relu(v - lo) + lo`, as `ir::Spiking::after_fire`
/// states it.
#[inline(always)]
fn floor_at(v: f32, lo: f32) -> f32 {
    let above = v - lo;
    (if above > 0.0 { above } else { 0.0 }) + lo
}

/// The spikes of a bit train (`bits[w]` bit `j`: neuron `64 w + j`) into `idx`, cleared first.
pub(crate) fn bits_to_idx(bits: &[u64], idx: &mut Vec<u32>, n: usize, simd: Simd) {
    idx.clear();
    #[cfg(target_arch = "x86_64")]
    if simd != Simd::None {
        // SAFETY: as in `fire`.
        return unsafe { bits_to_idx_avx2(bits, idx, n) };
    }
    let _ = simd;
    for (w, &word) in bits.iter().enumerate() {
        push_bits(idx, word, w * 64, n);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn bits_to_idx_avx2(bits: &[u64], idx: &mut Vec<u32>, n: usize) {
    for (w, &word) in bits.iter().enumerate() {
        // SAFETY: this function runs with AVX2 enabled; `push_bits_wide` keeps its stores within `idx`'s capacity.
        unsafe { x86::push_bits_wide(idx, word, w * 64, n) };
    }
}

/// Sixty-four neurons at a time through fixed-size arrays, so the compiler can vectorise the
/// update; then one push per set bit (a push inside the update loop would keep it scalar).
/// Appends `base + i` for every neuron `i` that fired; `n` bounds `idx`'s growth.
#[inline(always)]
fn fire_portable(
    lif: &Lif,
    v: &mut [f32],
    input: &[f32],
    idx: &mut Vec<u32>,
    base: usize,
    n: usize,
) -> u64 {
    let margin = FLIP_MARGIN as f32;
    let (vr, rest, beta, gain, th) = (lif.v_reset, lif.rest, lif.beta, lif.gain, lif.threshold);
    let len = v.len();
    // One instance per (compare, reset) pair, so the choice is made once, not per neuron.
    macro_rules! sweep {
        ($fires:expr, $reset:expr, $next:expr, $delayed:expr) => {{
            let mut near = 0u32;
            let chunks = v.chunks_exact_mut(64).zip(input.chunks_exact(64));
            for (c, (m, x)) in chunks.enumerate() {
                let (Ok(m), Ok(x)) = (<&mut [f32; 64]>::try_from(m), <&[f32; 64]>::try_from(x))
                else {
                    continue;
                };
                let mut bits = 0u64;
                for j in 0..64 {
                    let u = rest + beta * (m[j] - rest) + gain * x[j];
                    let u = if $next && $fires(m[j]) {
                        $delayed(u)
                    } else {
                        u
                    };
                    near += u32::from((u - th).abs() < margin);
                    let f = $fires(u);
                    bits |= u64::from(f) << j;
                    m[j] = if f { $reset(u) } else { u };
                }
                push_bits(idx, bits, base + c * 64, n);
            }
            let full = len / 64 * 64;
            let mut bits = 0u64;
            for (j, (m, x)) in v[full..].iter_mut().zip(&input[full..]).enumerate() {
                let u = rest + beta * (*m - rest) + gain * *x;
                let u = if $next && $fires(*m) { $delayed(u) } else { u };
                near += u32::from((u - th).abs() < margin);
                let f = $fires(u);
                bits |= u64::from(f) << j;
                *m = if f { $reset(u) } else { u };
            }
            push_bits(idx, bits, base + full, n);
            u64::from(near)
        }};
    }
    per_kind!(lif, th, vr, sweep)
}

/// Push `base + j` for every set bit `j` of `bits`, growing `idx` by doubling but never past
/// the population of `n`: bounded state.
#[inline(always)]
fn push_bits(idx: &mut Vec<u32>, mut bits: u64, base: usize, n: usize) {
    if bits.count_ones() as usize > idx.capacity() - idx.len() {
        let need = idx.len() + bits.count_ones() as usize;
        let target = (2 * idx.capacity()).clamp(16, n.max(16)).max(need);
        idx.reserve_exact(target - idx.len());
    }
    while bits != 0 {
        let j = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        idx.push((base + j) as u32);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// The loop-invariant vectors of one population's update.
    #[derive(Clone, Copy)]
    pub(super) struct Consts {
        pub(super) vr: __m256,
        pub(super) rest: __m256,
        pub(super) beta: __m256,
        pub(super) gain: __m256,
        pub(super) th: __m256,
        pub(super) margin: __m256,
        pub(super) abs: __m256,
    }

    impl Consts {
        #[target_feature(enable = "avx2")]
        pub(super) unsafe fn new(lif: &Lif) -> Consts {
            // SAFETY: the enclosing function is compiled for AVX2 and only called where it is available.
            unsafe {
                Consts {
                    vr: _mm256_set1_ps(lif.v_reset),
                    rest: _mm256_set1_ps(lif.rest),
                    beta: _mm256_set1_ps(lif.beta),
                    gain: _mm256_set1_ps(lif.gain),
                    th: _mm256_set1_ps(lif.threshold),
                    margin: _mm256_set1_ps(FLIP_MARGIN as f32),
                    abs: _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff)),
                }
            }
        }
    }

    impl Consts {
        /// The parameters of neurons `i..i + 8` of a per-neuron population, one per lane.
        #[inline]
        #[target_feature(enable = "avx2")]
        pub(super) unsafe fn of_lanes(each: &PerNeuron, i: usize) -> Consts {
            // SAFETY: as in `Consts::new`; `load8` checks its bounds.
            unsafe {
                Consts {
                    vr: load8(&each.v_reset, i),
                    rest: load8(&each.rest, i),
                    beta: load8(&each.beta, i),
                    gain: load8(&each.gain, i),
                    th: load8(&each.threshold, i),
                    margin: _mm256_set1_ps(FLIP_MARGIN as f32),
                    abs: _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff)),
                }
            }
        }
    }

    /// Values `i..i + 8` of `a` (panics past its end).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn load8(a: &[f32], i: usize) -> __m256 {
        let lanes = &a[i..i + 8];
        // SAFETY: `lanes` holds the eight f32 the unaligned load reads.
        unsafe { _mm256_loadu_ps(lanes.as_ptr()) }
    }

    /// `m` into values `i..i + 8` of `a` (panics past its end).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn store8(a: &mut [f32], i: usize, m: __m256) {
        let lanes = &mut a[i..i + 8];
        // SAFETY: `lanes` holds the eight f32 the unaligned store writes.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), m) }
    }

    /// One step of eight neurons: the new membranes, the fire mask (a bit per lane) and the
    /// near-threshold compare (all ones in the lanes that are near).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn step8<const GT: bool, const RESET: u8>(
        k: &Consts,
        m: __m256,
        x: __m256,
    ) -> (__m256, u32, __m256i) {
        // SAFETY: register-only intrinsics in an AVX2 function called on AVX2 CPUs only.
        unsafe {
            let u = _mm256_add_ps(
                _mm256_add_ps(k.rest, _mm256_mul_ps(k.beta, _mm256_sub_ps(m, k.rest))),
                _mm256_mul_ps(k.gain, x),
            );
            let u = match RESET {
                SUBTRACT_NEXT => _mm256_blendv_ps(u, _mm256_sub_ps(u, k.th), fires::<GT>(k, m)),
                ZERO_NEXT => _mm256_blendv_ps(u, k.vr, fires::<GT>(k, m)),
                _ => u,
            };
            let d = _mm256_and_ps(_mm256_sub_ps(u, k.th), k.abs);
            let near = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(d, k.margin));
            let f = fires::<GT>(k, u);
            let m = match RESET {
                HARD => _mm256_blendv_ps(u, k.vr, f),
                SUBTRACT => _mm256_blendv_ps(u, _mm256_sub_ps(u, k.th), f),
                _ => u,
            };
            (m, _mm256_movemask_ps(f) as u32, near)
        }
    }

    /// All ones in the lanes of `u` over the threshold (`>` when `GT`, else `>=`).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn fires<const GT: bool>(k: &Consts, u: __m256) -> __m256 {
        // SAFETY: a register-only compare in an AVX2 function called on AVX2 CPUs only.
        unsafe {
            if GT {
                _mm256_cmp_ps::<_CMP_GT_OQ>(u, k.th)
            } else {
                _mm256_cmp_ps::<_CMP_GE_OQ>(u, k.th)
            }
        }
    }

    /// For each byte value, the positions of its set bits, in order (padded with zeros).
    static BIT_POSITIONS: [[u8; 8]; 256] = {
        let mut t = [[0u8; 8]; 256];
        let mut b = 0;
        while b < 256 {
            let (mut j, mut k) = (0, 0);
            while j < 8 {
                if (b >> j) & 1 == 1 {
                    t[b][k] = j as u8;
                    k += 1;
                }
                j += 1;
            }
            b += 1;
        }
        t
    };

    /// [`push_bits`] without a branch per spike: each byte of `bits` stores the eight
    /// positions its table entry lists (plus `base`) at the end of `idx` and moves the end by
    /// the byte's bit count. Needs eight values of spare capacity past the spikes; falls back
    /// to [`push_bits`] where that would pass the population bound `n`.
    ///
    /// Always inlined, into AVX2 functions only (it has no `target_feature` of its own: those
    /// cannot be forced inline), so its intrinsics compile to AVX2 instructions.
    #[inline(always)]
    pub(super) unsafe fn push_bits_wide(idx: &mut Vec<u32>, bits: u64, base: usize, n: usize) {
        if bits == 0 {
            return;
        }
        let (len, count) = (idx.len(), bits.count_ones() as usize);
        if idx.capacity() < len + count + 8 {
            if len + count + 8 > n {
                return push_bits(idx, bits, base, n);
            }
            let target = (2 * idx.capacity()).max(16).min(n).max(len + count + 8);
            idx.reserve_exact(target - len);
        }
        // SAFETY: every store writes 8 values at or before `len + count`, within the capacity
        // just ensured; the first `count` written are the spikes, in order.
        unsafe {
            let mut p = idx.as_mut_ptr().add(len);
            for byte in 0..8 {
                let b = (bits >> (8 * byte)) as u8;
                let pos = _mm_loadl_epi64(BIT_POSITIONS[b as usize].as_ptr() as *const __m128i);
                let v = _mm256_add_epi32(
                    _mm256_cvtepu8_epi32(pos),
                    _mm256_set1_epi32((base + 8 * byte) as i32),
                );
                _mm256_storeu_si256(p as *mut __m256i, v);
                p = p.add(b.count_ones() as usize);
            }
            idx.set_len(len + count);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn fire_avx2(lif: &Lif, v: &mut [f32], input: &[f32], idx: &mut Vec<u32>) -> u64 {
    // SAFETY: the caller's CPU has AVX2.
    unsafe { per_kind_const!(lif, fire_avx2_n(lif, v, input, idx)) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn fire_avx2_n<const GT: bool, const RESET: u8>(
    lif: &Lif,
    v: &mut [f32],
    input: &[f32],
    idx: &mut Vec<u32>,
) -> u64 {
    use std::arch::x86_64::*;
    let n = v.len().min(input.len());
    let full = n / 64 * 64;
    // SAFETY: the caller's CPU has AVX2 (this function's contract).
    let k = unsafe { x86::Consts::new(lif) };
    // Per lane, minus the number of near-threshold neurons (a true compare is -1).
    // SAFETY: as above; a register-only intrinsic.
    let mut near = unsafe { _mm256_setzero_si256() };
    let (vp, xp) = (v.as_mut_ptr(), input.as_ptr());
    for c in (0..full).step_by(64) {
        let mut bits = 0u64;
        for g in 0..8 {
            let i = c + 8 * g;
            // SAFETY: i + 8 <= full <= both lengths.
            unsafe {
                let (m, f, close) = x86::step8::<GT, RESET>(
                    &k,
                    _mm256_loadu_ps(vp.add(i)),
                    _mm256_loadu_ps(xp.add(i)),
                );
                _mm256_storeu_ps(vp.add(i), m);
                bits |= u64::from(f) << (8 * g);
                near = _mm256_add_epi32(near, close);
            }
        }
        // SAFETY: AVX2 is enabled here; `push_bits_wide` keeps its stores within `idx`'s capacity.
        unsafe { x86::push_bits_wide(idx, bits, c, n) };
    }
    let mut lanes = [0i32; 8];
    // SAFETY: `lanes` holds exactly the eight i32 the unaligned store writes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, near) };
    let near: u64 = lanes.iter().map(|&l| u64::from(l.unsigned_abs())).sum();
    near + fire_portable(lif, &mut v[full..n], &input[full..n], idx, full, n)
}

/// Spike trains of an autonomous population: `seeds[t]` is its input at step `t` (`None`: zero),
/// plus row `t` of `step_bias` (`[T * n]`) when it has a per-step bias, which the seeds (hoisted
/// drives) leave out: the sum is formed here rather than stored, `T` times the population.
/// A current-based population's current starts at zero and is held beside the membrane.
/// Bits go to `trains[t * words + neuron / 64]`, near-threshold counts to `near[t]` (added).
#[allow(clippy::too_many_arguments)]
pub(crate) fn train(
    lif: &Lif,
    seeds: &[Option<&[f32]>],
    step_bias: Option<&[f32]>,
    n: usize,
    words: usize,
    trains: &mut [u64],
    near: &mut [u64],
    simd: Simd,
) {
    if let Some(each) = &lif.per_neuron {
        return train_each(lif, each, seeds, step_bias, n, words, trains, near, simd);
    }
    // Separate builds with a per-step bias and with a current, so the common case keeps its
    // loop as it was.
    let b = step_bias.unwrap_or(&[]);
    match (step_bias.is_some(), lif.synapse.is_some()) {
        (false, false) => train_with::<false, false>(lif, seeds, b, n, words, trains, near, simd),
        (true, false) => train_with::<true, false>(lif, seeds, b, n, words, trains, near, simd),
        (false, true) => train_with::<false, true>(lif, seeds, b, n, words, trains, near, simd),
        (true, true) => train_with::<true, true>(lif, seeds, b, n, words, trains, near, simd),
    }
}

/// [`train`] in the build for one (per-step bias, current) pair; `step_bias` empty if none.
#[allow(clippy::too_many_arguments)]
fn train_with<const BIAS: bool, const SYN: bool>(
    lif: &Lif,
    seeds: &[Option<&[f32]>],
    step_bias: &[f32],
    n: usize,
    words: usize,
    trains: &mut [u64],
    near: &mut [u64],
    simd: Simd,
) {
    assert!(!BIAS || step_bias.len() >= seeds.len() * n);
    #[cfg(target_arch = "x86_64")]
    if simd != Simd::None {
        // SAFETY: as in `fire`.
        return unsafe { train_avx2::<BIAS, SYN>(lif, seeds, step_bias, n, words, trains, near) };
    }
    let _ = simd;
    train_portable::<BIAS, SYN>(lif, seeds, step_bias, n, 0, words, trains, near)
}

/// Words `from..words` of [`train`]: each word's 64 membranes held through all the steps.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn train_portable<const BIAS: bool, const SYN: bool>(
    lif: &Lif,
    seeds: &[Option<&[f32]>],
    step_bias: &[f32],
    n: usize,
    from: usize,
    words: usize,
    trains: &mut [u64],
    near: &mut [u64],
) {
    let margin = FLIP_MARGIN as f32;
    let (vr, rest, beta, gain, th) = (lif.v_reset, lif.rest, lif.beta, lif.gain, lif.threshold);
    let (alpha, w_in) = lif.synapse.map_or((0.0, 0.0), |s| (s.alpha, s.w_in));
    let zeros = [0.0f32; 64];
    macro_rules! sweep {
        ($fires:expr, $reset:expr, $next:expr, $delayed:expr) => {{
            for w in from..words {
                let (lo, hi) = (w * 64, (w * 64 + 64).min(n));
                let mut v = [vr; 64];
                let mut current = [0.0f32; 64];
                for (t, seed) in seeds.iter().enumerate() {
                    let x: &[f32] = match seed {
                        Some(s) => &s[lo..hi],
                        None => &zeros[..hi - lo],
                    };
                    let b: &[f32] = if BIAS {
                        &step_bias[t * n + lo..t * n + hi]
                    } else {
                        &zeros[..hi - lo]
                    };
                    let mut close = 0u32;
                    let mut bits = 0u64;
                    for (j, ((m, x), b)) in v.iter_mut().zip(x).zip(b).enumerate() {
                        let x = if BIAS { x + b } else { *x };
                        let x = if SYN {
                            current[j] = alpha * current[j] + w_in * x;
                            current[j]
                        } else {
                            x
                        };
                        let u = rest + beta * (*m - rest) + gain * x;
                        let u = if $next && $fires(*m) { $delayed(u) } else { u };
                        close += u32::from((u - th).abs() < margin);
                        let f = $fires(u);
                        bits |= u64::from(f) << j;
                        *m = if f { $reset(u) } else { u };
                        if let Some(lo) = lif.v_min {
                            *m = floor_at(*m, lo);
                        }
                    }
                    trains[t * words + w] = bits;
                    near[t] += u64::from(close);
                }
            }
        }};
    }
    per_kind!(lif, th, vr, sweep)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn train_avx2<const BIAS: bool, const SYN: bool>(
    lif: &Lif,
    seeds: &[Option<&[f32]>],
    step_bias: &[f32],
    n: usize,
    words: usize,
    trains: &mut [u64],
    near: &mut [u64],
) {
    // SAFETY: the caller's CPU has AVX2.
    unsafe {
        per_kind_const!(
            lif,
            train_avx2_n::<BIAS, SYN>(lif, seeds, step_bias, n, words, trains, near)
        )
    }
}

/// Full words eight lanes at a time, the eight membrane vectors of a word in registers
/// through the steps; the partial last word portably.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn train_avx2_n<const GT: bool, const RESET: u8, const BIAS: bool, const SYN: bool>(
    lif: &Lif,
    seeds: &[Option<&[f32]>],
    step_bias: &[f32],
    n: usize,
    words: usize,
    trains: &mut [u64],
    near: &mut [u64],
) {
    use std::arch::x86_64::*;
    let full = n / 64;
    // SAFETY: the caller's CPU has AVX2 (this function's contract).
    let k = unsafe { x86::Consts::new(lif) };
    // Every seed covers the population, and a per-step bias every step.
    assert!(seeds.iter().flatten().all(|s| s.len() >= n));
    assert!(!BIAS || step_bias.len() >= seeds.len() * n);
    // SAFETY: register-only intrinsics; the caller's CPU has AVX2.
    let (alpha, w_in, zero) = unsafe {
        let (a, w) = lif.synapse.map_or((0.0, 0.0), |s| (s.alpha, s.w_in));
        (_mm256_set1_ps(a), _mm256_set1_ps(w), _mm256_setzero_ps())
    };
    for w in 0..full {
        let mut m = [k.vr; 8];
        let mut current = [zero; 8];
        for (t, seed) in seeds.iter().enumerate() {
            let mut bits = 0u64;
            let mut close = 0u32;
            for (g, mg) in m.iter_mut().enumerate() {
                // SAFETY: w * 64 + 8 * g + 8 <= full * 64 <= n <= s.len().
                let (nm, f, c) = unsafe {
                    let x = match seed {
                        Some(s) => _mm256_loadu_ps(s.as_ptr().add(w * 64 + 8 * g)),
                        None => _mm256_setzero_ps(),
                    };
                    // SAFETY: as for the seed, `step_bias` holding `T * n` values.
                    let x = if BIAS {
                        let b = step_bias.as_ptr().add(t * n + w * 64 + 8 * g);
                        _mm256_add_ps(x, _mm256_loadu_ps(b))
                    } else {
                        x
                    };
                    // `update_current` in eight lanes: two products, then their sum.
                    let x = if SYN {
                        let i =
                            _mm256_add_ps(_mm256_mul_ps(alpha, current[g]), _mm256_mul_ps(w_in, x));
                        current[g] = i;
                        i
                    } else {
                        x
                    };
                    let (nm, f, near) = x86::step8::<GT, RESET>(&k, *mg, x);
                    let nm = match lif.v_min {
                        // `floor_at` in eight lanes: max(d, 0) is `d > 0 ? d : 0` exactly.
                        Some(lo) => {
                            let lo = _mm256_set1_ps(lo);
                            let above = _mm256_sub_ps(nm, lo);
                            _mm256_add_ps(_mm256_max_ps(above, _mm256_setzero_ps()), lo)
                        }
                        None => nm,
                    };
                    (nm, f, _mm256_movemask_ps(_mm256_castsi256_ps(near)) as u32)
                };
                *mg = nm;
                bits |= u64::from(f) << (8 * g);
                close += c.count_ones();
            }
            trains[t * words + w] = bits;
            near[t] += u64::from(close);
        }
    }
    train_portable::<BIAS, SYN>(lif, seeds, step_bias, n, full, words, trains, near);
}

/// One neuron's step with its own parameters, `ir::SpikingAt::charge` then `after_fire` (less
/// the lower bound, applied by the callers) in f32: charge `u` from the stored membrane `m` and
/// the drive `x`, apply a pending delayed reset, fire, reset. Returns the kept membrane, whether
/// it fired and whether `u` came within the flip margin of the threshold. `x86::step8` states
/// the same operations in eight lanes.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_each<const GT: bool, const RESET: u8>(
    m: f32,
    x: f32,
    beta: f32,
    gain: f32,
    rest: f32,
    th: f32,
    vr: f32,
) -> (f32, bool, bool) {
    let fires = |u: f32| if GT { u > th } else { u >= th };
    let u = rest + beta * (m - rest) + gain * x;
    let u = match RESET {
        SUBTRACT_NEXT if fires(m) => u - th,
        ZERO_NEXT if fires(m) => vr,
        _ => u,
    };
    let near = (u - th).abs() < FLIP_MARGIN as f32;
    let f = fires(u);
    let kept = match RESET {
        HARD if f => vr,
        SUBTRACT if f => u - th,
        _ => u,
    };
    (kept, f, near)
}

/// [`fire`] for a population with per-neuron parameters.
fn fire_each(
    lif: &Lif,
    each: &PerNeuron,
    v: &mut [f32],
    input: &[f32],
    current: &mut [f32],
    idx: &mut Vec<u32>,
    simd: Simd,
) -> u64 {
    let near = fire_each_build(lif, each, v, input, current, idx, simd);
    // As for a uniform population: one scalar pass after the kernel, the same in every build.
    for (m, lo) in v.iter_mut().zip(&each.v_min) {
        *m = floor_at(*m, *lo);
    }
    near
}

/// [`fire_each`] less the lower bound, in the widest build the CPU has.
fn fire_each_build(
    lif: &Lif,
    each: &PerNeuron,
    v: &mut [f32],
    input: &[f32],
    current: &mut [f32],
    idx: &mut Vec<u32>,
    simd: Simd,
) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if simd != Simd::None {
        // SAFETY: as in `fire_any`.
        return unsafe {
            if lif.synapse.is_some() {
                per_kind_const!(lif, fire_each_avx2::<SYNAPSE>(each, v, input, current, idx))
            } else {
                per_kind_const!(
                    lif,
                    fire_each_avx2::<NO_SYNAPSE>(each, v, input, current, idx)
                )
            }
        };
    }
    let _ = simd;
    if lif.synapse.is_some() {
        per_kind_const!(lif, fire_each_n::<SYNAPSE>(each, v, input, current, idx, 0))
    } else {
        per_kind_const!(
            lif,
            fire_each_n::<NO_SYNAPSE>(each, v, input, current, idx, 0)
        )
    }
}

/// Neurons `from..` (`from` a multiple of 64) through [`step_each`], each one's synaptic
/// current first when `SYN` (`ir::SynapseAt::update`: two products, then their sum), 64 at a
/// time into one word of spike bits. Returns the near-threshold count.
#[inline(always)]
fn fire_each_n<const GT: bool, const RESET: u8, const SYN: bool>(
    each: &PerNeuron,
    v: &mut [f32],
    input: &[f32],
    current: &mut [f32],
    idx: &mut Vec<u32>,
    from: usize,
) -> u64 {
    let n = v.len();
    // Slices of one length, so the loop below indexes them without bounds checks.
    let (input, beta, gain, rest) = (
        &input[..n],
        &each.beta[..n],
        &each.gain[..n],
        &each.rest[..n],
    );
    let (th, vr) = (&each.threshold[..n], &each.v_reset[..n]);
    let with_current = if SYN { n } else { 0 };
    let (alpha, w_in) = (&each.alpha[..with_current], &each.w_in[..with_current]);
    let current = &mut current[..with_current];
    let mut near = 0u64;
    let mut lo = from;
    while lo < n {
        let hi = (lo + 64).min(n);
        let (mut bits, mut close) = (0u64, 0u32);
        for i in lo..hi {
            let x = if SYN {
                current[i] = alpha[i] * current[i] + w_in[i] * input[i];
                current[i]
            } else {
                input[i]
            };
            let (kept, f, c) =
                step_each::<GT, RESET>(v[i], x, beta[i], gain[i], rest[i], th[i], vr[i]);
            v[i] = kept;
            bits |= u64::from(f) << (i - lo);
            close += u32::from(c);
        }
        push_bits(idx, bits, lo, n);
        near += u64::from(close);
        lo = hi;
    }
    near
}

/// [`fire_each_n`] eight lanes at a time through `x86::step8`, each lane with its own
/// parameters; the partial last word portably.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn fire_each_avx2<const GT: bool, const RESET: u8, const SYN: bool>(
    each: &PerNeuron,
    v: &mut [f32],
    input: &[f32],
    current: &mut [f32],
    idx: &mut Vec<u32>,
) -> u64 {
    use std::arch::x86_64::*;
    let n = v.len();
    let full = n / 64 * 64;
    // Every array covers the population (a current only with a synapse).
    let input = &input[..n];
    // SAFETY: register-only intrinsics; the caller's CPU has AVX2.
    let mut near = unsafe { _mm256_setzero_si256() };
    for c in (0..full).step_by(64) {
        let mut bits = 0u64;
        for g in 0..8 {
            let i = c + 8 * g;
            // SAFETY: i + 8 <= full <= n, the length of every array read or written (`load8`
            // and `store8` check it).
            unsafe {
                let k = x86::Consts::of_lanes(each, i);
                let x = x86::load8(input, i);
                let x = if SYN {
                    let cur = _mm256_add_ps(
                        _mm256_mul_ps(x86::load8(&each.alpha, i), x86::load8(current, i)),
                        _mm256_mul_ps(x86::load8(&each.w_in, i), x),
                    );
                    x86::store8(current, i, cur);
                    cur
                } else {
                    x
                };
                let (m, f, close) = x86::step8::<GT, RESET>(&k, x86::load8(v, i), x);
                x86::store8(v, i, m);
                bits |= u64::from(f) << (8 * g);
                near = _mm256_add_epi32(near, close);
            }
        }
        // SAFETY: AVX2 is enabled here; `push_bits_wide` keeps its stores within `idx`'s capacity.
        unsafe { x86::push_bits_wide(idx, bits, c, n) };
    }
    let mut lanes = [0i32; 8];
    // SAFETY: `lanes` holds exactly the eight i32 the unaligned store writes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, near) };
    let near: u64 = lanes.iter().map(|&l| u64::from(l.unsigned_abs())).sum();
    near + fire_each_n::<GT, RESET, SYN>(each, v, input, current, idx, full)
}

/// [`train`] for a population with per-neuron parameters.
#[allow(clippy::too_many_arguments)]
fn train_each(
    lif: &Lif,
    each: &PerNeuron,
    seeds: &[Option<&[f32]>],
    step_bias: Option<&[f32]>,
    n: usize,
    words: usize,
    trains: &mut [u64],
    near: &mut [u64],
    simd: Simd,
) {
    // Every seed covers the population, and a per-step bias every step.
    assert!(seeds.iter().flatten().all(|s| s.len() >= n));
    assert!(step_bias.is_none_or(|b| b.len() >= seeds.len() * n));
    #[cfg(target_arch = "x86_64")]
    if simd != Simd::None {
        // SAFETY: as in `fire`.
        return unsafe {
            if lif.synapse.is_some() {
                per_kind_const!(
                    lif,
                    train_each_avx2::<SYNAPSE>(each, seeds, step_bias, n, words, trains, near)
                )
            } else {
                per_kind_const!(
                    lif,
                    train_each_avx2::<NO_SYNAPSE>(each, seeds, step_bias, n, words, trains, near)
                )
            }
        };
    }
    let _ = simd;
    if lif.synapse.is_some() {
        per_kind_const!(
            lif,
            train_each_n::<SYNAPSE>(each, seeds, step_bias, n, 0, words, trains, near)
        )
    } else {
        per_kind_const!(
            lif,
            train_each_n::<NO_SYNAPSE>(each, seeds, step_bias, n, 0, words, trains, near)
        )
    }
}

/// Words `from..words` of [`train_each`]: each word's 64 neurons held through all the steps, as
/// in `train_portable`; the step's input (seed, plus the per-step bias row) gathered first,
/// then every neuron through [`step_each`] with its current and lower bound, as [`fire_each`]
/// applies them.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn train_each_n<const GT: bool, const RESET: u8, const SYN: bool>(
    each: &PerNeuron,
    seeds: &[Option<&[f32]>],
    step_bias: Option<&[f32]>,
    n: usize,
    from: usize,
    words: usize,
    trains: &mut [u64],
    near: &mut [u64],
) {
    let floor = !each.v_min.is_empty();
    for w in from..words {
        let (lo, hi) = (w * 64, (w * 64 + 64).min(n));
        let len = hi - lo;
        let (beta, gain, rest) = (&each.beta[lo..hi], &each.gain[lo..hi], &each.rest[lo..hi]);
        let (th, vr) = (&each.threshold[lo..hi], &each.v_reset[lo..hi]);
        let with_current = if SYN { lo..hi } else { 0..0 };
        let (alpha, w_in) = (&each.alpha[with_current.clone()], &each.w_in[with_current]);
        let v_min = &each.v_min[if floor { lo..hi } else { 0..0 }];
        let (mut v, mut current, mut x) = ([0.0f32; 64], [0.0f32; 64], [0.0f32; 64]);
        v[..len].copy_from_slice(vr);
        for (t, seed) in seeds.iter().enumerate() {
            let x = &mut x[..len];
            match seed {
                Some(s) => x.copy_from_slice(&s[lo..hi]),
                None => x.fill(0.0),
            }
            if let Some(b) = step_bias {
                x.iter_mut()
                    .zip(&b[t * n + lo..t * n + hi])
                    .for_each(|(x, b)| *x += b);
            }
            let (mut bits, mut close) = (0u64, 0u32);
            for j in 0..len {
                let d = if SYN {
                    current[j] = alpha[j] * current[j] + w_in[j] * x[j];
                    current[j]
                } else {
                    x[j]
                };
                let (kept, f, c) =
                    step_each::<GT, RESET>(v[j], d, beta[j], gain[j], rest[j], th[j], vr[j]);
                v[j] = if floor {
                    floor_at(kept, v_min[j])
                } else {
                    kept
                };
                bits |= u64::from(f) << j;
                close += u32::from(c);
            }
            trains[t * words + w] = bits;
            near[t] += u64::from(close);
        }
    }
}

/// Full words eight lanes at a time, as `train_avx2_n` runs them, each lane with its own
/// parameters; the partial last word portably.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
#[allow(clippy::too_many_arguments)]
unsafe fn train_each_avx2<const GT: bool, const RESET: u8, const SYN: bool>(
    each: &PerNeuron,
    seeds: &[Option<&[f32]>],
    step_bias: Option<&[f32]>,
    n: usize,
    words: usize,
    trains: &mut [u64],
    near: &mut [u64],
) {
    use std::arch::x86_64::*;
    let full = n / 64;
    let floor = !each.v_min.is_empty();
    // SAFETY: a register-only intrinsic; the caller's CPU has AVX2.
    let zero = unsafe { _mm256_setzero_ps() };
    for w in 0..full {
        let mut m = [zero; 8];
        for (g, mg) in m.iter_mut().enumerate() {
            // SAFETY: w * 64 + 8 * g + 8 <= full * 64 <= n (`load8` checks it).
            *mg = unsafe { x86::load8(&each.v_reset, w * 64 + 8 * g) };
        }
        let mut current = [zero; 8];
        for (t, seed) in seeds.iter().enumerate() {
            let mut bits = 0u64;
            let mut close = 0u32;
            for (g, mg) in m.iter_mut().enumerate() {
                let i = w * 64 + 8 * g;
                // SAFETY: i + 8 <= n, within every array (`load8` checks it) and every seed;
                // row `t` of a per-step bias starts at `t * n`, within its `T * n` values.
                let (nm, f, c) = unsafe {
                    let k = x86::Consts::of_lanes(each, i);
                    let x = match seed {
                        Some(s) => x86::load8(s, i),
                        None => zero,
                    };
                    let x = match step_bias {
                        Some(b) => _mm256_add_ps(x, x86::load8(b, t * n + i)),
                        None => x,
                    };
                    let x = if SYN {
                        let cur = _mm256_add_ps(
                            _mm256_mul_ps(x86::load8(&each.alpha, i), current[g]),
                            _mm256_mul_ps(x86::load8(&each.w_in, i), x),
                        );
                        current[g] = cur;
                        cur
                    } else {
                        x
                    };
                    let (nm, f, near) = x86::step8::<GT, RESET>(&k, *mg, x);
                    // `floor_at` in eight lanes, as `train_avx2_n` states it.
                    let nm = if floor {
                        let lo = x86::load8(&each.v_min, i);
                        _mm256_add_ps(_mm256_max_ps(_mm256_sub_ps(nm, lo), zero), lo)
                    } else {
                        nm
                    };
                    (nm, f, _mm256_movemask_ps(_mm256_castsi256_ps(near)) as u32)
                };
                *mg = nm;
                bits |= u64::from(f) << (8 * g);
                close += c.count_ones();
            }
            trains[t * words + w] = bits;
            near[t] += u64::from(close);
        }
    }
    train_each_n::<GT, RESET, SYN>(each, seeds, step_bias, n, full, words, trains, near);
}
