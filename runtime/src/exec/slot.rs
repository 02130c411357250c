//! One ring slot: the events of one population at one step, indexed as they are written
//! (graded values, event frames) so consumers visit only the active elements.

use crate::layout::Layout;
use crate::ops::Simd;

/// One ring slot: the events of one step. `val` holds a graded population's values (storage
/// order) and is empty for spiking ones; `idx` lists the active elements, unless `dense`.
#[derive(Debug, Clone, Default)]
pub(super) struct Slot {
    pub(super) idx: Vec<u32>,
    pub(super) val: Vec<f32>,
    /// At least half of `val` is non-zero: consumers scan `val` instead of an index list.
    pub(super) dense: bool,
    /// Number of events (non-zero values, or spikes).
    pub(super) events: usize,
}

impl Slot {
    /// Record a graded population's events: an index list if sparse, else a scan marker.
    pub(super) fn index_graded(&mut self, simd: Simd) {
        #[cfg(target_arch = "x86_64")]
        if simd != Simd::None {
            // SAFETY: `Simd::detect` only returns a level the CPU supports; both include AVX2.
            return unsafe { self.index_graded_avx2() };
        }
        let _ = simd;
        self.index_graded_portable()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn index_graded_avx2(&mut self) {
        self.index_graded_portable()
    }

    #[inline(always)]
    fn index_graded_portable(&mut self) {
        let n = self.val.iter().filter(|v| **v != 0.0).count();
        self.events = n;
        self.dense = 2 * n >= self.val.len() && n > 0;
        self.idx.clear();
        if !self.dense {
            // Exact reservation: the list never holds more than half the population.
            self.idx.reserve_exact(n);
            for (c, chunk) in self.val.chunks(64).enumerate() {
                let mut bits = nonzero_bits(chunk);
                while bits != 0 {
                    self.idx.push((c * 64) as u32 + bits.trailing_zeros());
                    bits &= bits - 1;
                }
            }
        }
    }

    /// Zero the values the slot holds, touching only its events when it has an index list.
    pub(super) fn clear_values(&mut self) {
        if self.dense {
            self.val.fill(0.0);
        } else {
            for &i in &self.idx {
                self.val[i as usize] = 0.0;
            }
        }
        self.idx.clear();
        self.dense = false;
        self.events = 0;
    }

    /// Load one row-major event frame into a slot whose values are all zero (see
    /// [`Slot::clear_values`]): a sparse frame costs its events, not its size. The frame's
    /// non-zero values are found 64 at a time as bit masks, one per channel; the positions
    /// where any channel is active are then visited in order, which lists the events in
    /// storage (channel-last) order, as [`Slot::index_graded`] would.
    pub(super) fn load_frame(&mut self, layout: &Layout, frame: &[f32], simd: Simd) {
        #[cfg(target_arch = "x86_64")]
        if simd != Simd::None {
            // SAFETY: as in `index_graded`.
            return unsafe { self.load_frame_avx2(layout, frame) };
        }
        let _ = simd;
        self.load_frame_portable(layout, frame)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn load_frame_avx2(&mut self, layout: &Layout, frame: &[f32]) {
        self.load_frame_portable(layout, frame)
    }

    #[inline(always)]
    fn load_frame_portable(&mut self, layout: &Layout, frame: &[f32]) {
        let n = frame.len();
        let count = frame.iter().filter(|v| **v != 0.0).count();
        let c = if layout.flat { 1 } else { layout.c };
        if (2 * count >= n && count > 0) || c > 8 {
            layout.to_storage(frame, &mut self.val);
            self.index_graded_portable();
            return;
        }
        self.events = count;
        self.idx.reserve_exact(count);
        let plane = n / c;
        let mut masks = [0u64; 8];
        for p0 in (0..plane).step_by(64) {
            let hi = (p0 + 64).min(plane);
            let mut any = 0u64;
            for (ch, m) in masks[..c].iter_mut().enumerate() {
                *m = nonzero_bits(&frame[ch * plane + p0..ch * plane + hi]);
                any |= *m;
            }
            while any != 0 {
                let j = any.trailing_zeros() as usize;
                any &= any - 1;
                for (ch, m) in masks[..c].iter().enumerate() {
                    if m >> j & 1 != 0 {
                        let s = (p0 + j) * c + ch;
                        self.idx.push(s as u32);
                        self.val[s] = frame[ch * plane + p0 + j];
                    }
                }
            }
        }
    }
}

/// Bit `j` set where `x[j] != 0` (`x` at most 64 long; a full chunk compiles to vector compares).
#[inline(always)]
fn nonzero_bits(x: &[f32]) -> u64 {
    let mut bits = 0u64;
    if let Ok(x) = <&[f32; 64]>::try_from(x) {
        for (j, v) in x.iter().enumerate() {
            bits |= u64::from(*v != 0.0) << j;
        }
    } else {
        for (j, v) in x.iter().enumerate() {
            bits |= u64::from(*v != 0.0) << j;
        }
    }
    bits
}
