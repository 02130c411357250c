//! Index arithmetic fixed when the plan is built: per-axis window tap tables and division by
//! a constant, so kernels spend no division or bounds search per event.

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
