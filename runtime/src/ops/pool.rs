//! The sum-pooling kernel: window sums times a scale, per channel, direct when windows do not
//! overlap.

use super::tables::{FastDiv, Taps};
use super::{Events, Work};
use crate::layout::Layout;

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
