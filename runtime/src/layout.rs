//! Storage order of population values: channel-last, so a conv weight slice lands on contiguous outputs.
//!
//! The IR is row-major `[C, H, W]` ("logical" order). The runtime stores a `[C, H, W]`
//! population as `[H, W, C]`: an input event at one position then adds one contiguous run of
//! output channels per kernel tap. A `[N]` population is stored as is.

use snnc_compiler::ir::Shape;

/// Where a population's elements live in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    /// A `[N]` population (`c = 1, h = 1, w = N`): its bias and affine index is the element itself.
    pub flat: bool,
}

impl Layout {
    /// The layout of a validated population shape (`[C, H, W]` or `[N]`).
    pub fn of(shape: &Shape) -> Layout {
        match *shape.dims() {
            [c, h, w] => Layout {
                c,
                h,
                w,
                flat: false,
            },
            [n] => Layout {
                c: 1,
                h: 1,
                w: n,
                flat: true,
            },
            // The validator admits only the two ranks above; a degenerate layout keeps this total.
            _ => Layout {
                c: 1,
                h: 1,
                w: shape.numel(),
                flat: true,
            },
        }
    }

    pub fn numel(&self) -> usize {
        self.c * self.h * self.w
    }

    /// The per-channel parameter index (bias, affine scale) of storage element `s`.
    #[inline]
    pub fn channel(&self, s: usize) -> usize {
        if self.flat { s } else { s % self.c }
    }

    /// The row-major `[C, H, W]` index of storage element `s`.
    #[inline]
    pub fn logical(&self, s: usize) -> usize {
        if self.flat {
            return s;
        }
        let (c, pos) = (s % self.c, s / self.c);
        c * self.h * self.w + pos
    }

    /// The storage index of row-major element `l`.
    #[inline]
    pub fn storage(&self, l: usize) -> usize {
        if self.flat {
            return l;
        }
        let plane = self.h * self.w;
        let (c, pos) = (l / plane, l % plane);
        pos * self.c + c
    }

    /// Storage-order copy of per-channel values (`[C]`, or `[N]` for a flat population).
    pub fn expand(&self, per_channel: &[f32]) -> Vec<f32> {
        (0..self.numel())
            .map(|s| per_channel.get(self.channel(s)).copied().unwrap_or(0.0))
            .collect()
    }

    /// Storage-order copies of a per-step table (`[T, C]`, row `t` used at step `t`), one after
    /// another: row `t` of the result is `numel` values at `t * numel`.
    pub fn expand_steps(&self, table: &[f32], steps: usize) -> Vec<f32> {
        let c = table.len() / steps.max(1);
        (0..steps)
            .flat_map(|t| self.expand(&table[t * c..(t + 1) * c]))
            .collect()
    }

    /// Row-major values into storage order (per position, its channels; no divisions: event
    /// frames arrive through here every step).
    pub fn to_storage(&self, logical: &[f32], out: &mut [f32]) {
        if self.flat || self.c == 1 {
            out.copy_from_slice(&logical[..out.len()]);
            return;
        }
        let plane = self.h * self.w;
        for (pos, o) in out.chunks_exact_mut(self.c).enumerate() {
            for (c, v) in o.iter_mut().enumerate() {
                *v = logical[c * plane + pos];
            }
        }
    }

    /// Storage-order values into row-major order.
    pub fn to_logical(&self, storage: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; storage.len()];
        for (s, v) in storage.iter().enumerate() {
            out[self.logical(s)] = *v;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_and_logical_are_inverse() {
        let l = Layout::of(&Shape(vec![3, 2, 4]));
        for s in 0..l.numel() {
            assert_eq!(l.storage(l.logical(s)), s);
        }
        // Channel-last: the three channels of position (0, 1) are adjacent.
        assert_eq!([l.storage(1), l.storage(9), l.storage(17)], [3, 4, 5]);
        let logical: Vec<f32> = (0..l.numel()).map(|i| i as f32).collect();
        let mut storage = vec![0.0; l.numel()];
        l.to_storage(&logical, &mut storage);
        assert_eq!(l.to_logical(&storage), logical);
        assert!((0..l.numel()).all(|s| storage[s] == l.logical(s) as f32));
        let f = Layout::of(&Shape(vec![5]));
        assert_eq!((f.logical(3), f.channel(3)), (3, 3));
    }
}
