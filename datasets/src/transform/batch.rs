//! Batch assembly: many samples into one flat f32 buffer plus their labels.

use crate::set::{EventSet, ImageSet};
use crate::transform::{FrameSpec, ImageTransform, Rng, events_to_frames};

/// The samples at `indices` as one `[B, C, H', W']` buffer, and their labels. With an rng, each
/// sample draws its augmentation in turn (see [`ImageTransform`]).
///
/// # Panics
/// When an index is out of range.
pub fn images_batch(
    set: &ImageSet,
    indices: &[usize],
    tf: &ImageTransform,
    mut rng: Option<&mut Rng>,
) -> (Vec<f32>, Vec<u8>) {
    let per = tf.output_len(set);
    let mut data = vec![0.0; indices.len() * per];
    for (k, &i) in indices.iter().enumerate() {
        tf.write_sample(
            set,
            i,
            rng.as_deref_mut(),
            &mut data[k * per..(k + 1) * per],
        );
    }
    let labels = indices.iter().map(|&i| set.labels[i]).collect();
    (data, labels)
}

/// The samples at `indices` as one `[B, T, 2, H', W']` buffer of event counts, and their labels.
///
/// # Panics
/// When an index is out of range.
pub fn frames_batch(set: &EventSet, indices: &[usize], spec: &FrameSpec) -> (Vec<f32>, Vec<u8>) {
    let per = spec.output_len(set.width, set.height);
    let mut data = vec![0.0; indices.len() * per];
    for (k, &i) in indices.iter().enumerate() {
        events_to_frames(
            &set.samples[i],
            set.width,
            set.height,
            spec,
            &mut data[k * per..(k + 1) * per],
        );
    }
    let labels = indices.iter().map(|&i| set.labels[i]).collect();
    (data, labels)
}
