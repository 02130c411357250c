//! The element-wise kernels: copy (identity, dropout, reshape), a constant scale and a
//! per-channel affine scale, one update per event.

use super::{Events, Work};

/// `out += x` at each event's target: the same index, or `map[s]` for a reshape between
/// different storage orders.
#[inline(always)]
pub(super) fn copy<E: Events>(map: Option<&[u32]>, ev: &E, out: &mut [f32]) -> Work {
    match (map, ev.dense_values()) {
        (Some(m), _) => ev.iter().for_each(|(s, v)| out[m[s] as usize] += v),
        (None, Some(val)) => out.iter_mut().zip(val).for_each(|(o, v)| *o += v),
        (None, None) => ev.iter().for_each(|(s, v)| out[s] += v),
    }
    one_per_event(ev)
}

/// `out += f * x` element-wise over the events `ev`.
#[inline(always)]
pub(super) fn scale<E: Events>(f: f32, ev: &E, out: &mut [f32]) -> Work {
    match ev.dense_values() {
        Some(val) => out.iter_mut().zip(val).for_each(|(o, v)| *o += f * v),
        None => ev.iter().for_each(|(s, v)| out[s] += f * v),
    }
    one_per_event(ev)
}

/// `out += scale * x` element-wise over the events `ev` (`scale` in the source's storage order).
#[inline(always)]
pub(super) fn affine<E: Events>(scale: &[f32], ev: &E, out: &mut [f32]) -> Work {
    match ev.dense_values() {
        Some(val) => out
            .iter_mut()
            .zip(val)
            .zip(scale)
            .for_each(|((o, v), k)| *o += k * v),
        None => ev.iter().for_each(|(s, v)| out[s] += scale[s] * v),
    }
    one_per_event(ev)
}

/// An element-wise map applies one update per event, and every one counts as effective.
#[inline(always)]
fn one_per_event<E: Events>(ev: &E) -> Work {
    let n = ev.count() as u64;
    Work {
        pairs: n,
        effective: n,
    }
}
