//! Event streams to frames: `T` bins of per-pixel event counts, OFF and ON in separate channels.

use crate::set::Event;

/// How events are assigned to the `T` frames (SpikingJelly's `split_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameSplit {
    /// `split_by='number'`: `N` events in order are cut into `T` chunks of `floor(N / T)`
    /// events; the last chunk also takes the remainder (all of them when `N < T`).
    #[default]
    ByCount,
    /// `split_by='time'`: with `t0` the first (smallest) and `t1` the last (largest)
    /// timestamp, `dt = max(floor((t1 - t0) / T), 1)`; an event goes to frame
    /// `min(floor((t - t0) / dt), T - 1)`, so the last frame takes the rounding remainder.
    ByTime,
}

/// Frame layout: `timesteps` frames, optionally centre-cropped to `crop_to` x `crop_to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpec {
    pub timesteps: usize,
    pub split: FrameSplit,
    /// Side of a centred square window (34 -> 32 drops one pixel on each side); events outside
    /// it are dropped. `None` keeps the whole sensor.
    pub crop_to: Option<usize>,
}

impl FrameSpec {
    /// `[T, 2, H', W']` of one sample's frames.
    pub fn output_shape(&self, width: usize, height: usize) -> [usize; 4] {
        match self.crop_to {
            Some(s) => [self.timesteps, 2, s, s],
            None => [self.timesteps, 2, height, width],
        }
    }

    /// Number of f32 values per sample.
    pub fn output_len(&self, width: usize, height: usize) -> usize {
        self.output_shape(width, height).iter().product()
    }
}

/// Bins `events` from a `width` x `height` sensor into `out`, shaped `[T, 2, H', W']` (row-major,
/// `out[((t * 2 + p) * H' + y) * W' + x]`) with channel 0 = OFF and 1 = ON. Values are raw event
/// counts. `out` is overwritten. Both splits place every event in some frame; only the crop (and
/// events lying off the sensor) can drop events.
///
/// # Panics
/// When `out.len()` differs from [`FrameSpec::output_len`], a caller bug.
pub fn events_to_frames(
    events: &[Event],
    width: usize,
    height: usize,
    spec: &FrameSpec,
    out: &mut [f32],
) {
    let [t, _, oh, ow] = spec.output_shape(width, height);
    assert_eq!(
        out.len(),
        t * 2 * oh * ow,
        "output buffer must hold T*2*H'*W' = {t}x2x{oh}x{ow} values"
    );
    out.fill(0.0);
    if t == 0 || events.is_empty() {
        return;
    }
    let top = (oh as isize - height as isize).div_euclid(2);
    let left = (ow as isize - width as isize).div_euclid(2);
    let frame_of = frame_assigner(events, t, spec.split);
    for (i, e) in events.iter().enumerate() {
        if usize::from(e.x) >= width || usize::from(e.y) >= height {
            continue;
        }
        let (y, x) = (isize::from(e.y) + top, isize::from(e.x) + left);
        if y < 0 || x < 0 || y >= oh as isize || x >= ow as isize {
            continue;
        }
        let frame = frame_of(i, e);
        out[((frame * 2 + usize::from(e.on)) * oh + y as usize) * ow + x as usize] += 1.0;
    }
}

/// The frame index of event `i` under `split`.
fn frame_assigner(
    events: &[Event],
    t: usize,
    split: FrameSplit,
) -> impl Fn(usize, &Event) -> usize {
    let n = events.len();
    let per_chunk = n / t;
    let t0 = events.iter().map(|e| e.t_us).min().unwrap_or(0);
    let t1 = events.iter().map(|e| e.t_us).max().unwrap_or(0);
    let dt = (u64::from(t1 - t0) / t as u64).max(1);
    move |i, e| match split {
        FrameSplit::ByCount if per_chunk == 0 => t - 1,
        FrameSplit::ByCount => (i / per_chunk).min(t - 1),
        FrameSplit::ByTime => (u64::from(e.t_us - t0) / dt).min(t as u64 - 1) as usize,
    }
}
