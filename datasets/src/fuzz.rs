//! Fuzz entry points of the readers: raw file bytes in, a set or a typed error out, never a panic.
//!
//! The cargo-fuzz targets in `fuzz/` call these with libFuzzer's inputs, and the tests below
//! replay the committed corpus (`fuzz/corpus/<target>/`) through them, so CI covers every input a
//! fuzz run kept, on stable. Each entry also checks what a successful read promises (sizes that
//! agree, values in range), so a reader that accepts an inconsistent file fails here as well.

use std::path::Path;

use crate::cifar::{CIFAR_PIXELS, append_cifar_records};
use crate::digits::{DIGITS_SIDE, parse_digits_rows, split_digits};
use crate::idx::{pair_idx, parse_idx_images, parse_idx_labels};
use crate::io::inflate_if_gz;
use crate::name::{DatasetName, Split};
use crate::nmnist::{NMNIST_SIDE, decode_events, parse_nmnist_list};
use crate::set::ImageSet;
use crate::transform::{FrameSpec, FrameSplit, events_to_frames};

/// The name error messages give the fuzzed file.
const FUZZ_PATH: &str = "fuzz-input";

/// An IDX image file and an IDX label file (either gzip or plain): the first two bytes are the
/// image file's length (big-endian), the image file follows, the label file is the rest.
pub fn idx(data: &[u8]) {
    let path = Path::new(FUZZ_PATH);
    let (images, labels) = split_len_prefixed(data);
    let images = inflate_if_gz(path, images.to_vec()).and_then(|b| parse_idx_images(path, b));
    let labels = inflate_if_gz(path, labels.to_vec()).and_then(|b| parse_idx_labels(path, b));
    if let Ok(images) = &images {
        let claimed = images.count as u128 * images.rows as u128 * images.cols as u128;
        assert_eq!(
            images.pixels.len() as u128,
            claimed,
            "IDX pixels match the header"
        );
    }
    if let (Ok(images), Ok(labels)) = (images, labels)
        && let Ok(set) = pair_idx(
            DatasetName::Mnist,
            Split::Train,
            (path, images),
            (path, labels),
        )
    {
        check_image_set(&set);
    }
}

/// One CIFAR-10 binary batch file.
pub fn cifar(data: &[u8]) {
    let path = Path::new(FUZZ_PATH);
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    if append_cifar_records(path, data, &mut pixels, &mut labels).is_ok() {
        assert_eq!(
            pixels.len(),
            labels.len() * CIFAR_PIXELS,
            "CIFAR sizes agree"
        );
        assert!(labels.iter().all(|&l| l < 10), "CIFAR labels in range");
    }
}

/// The same bytes as an N-MNIST event file (then binned into frames both ways) and as a label
/// list.
pub fn nmnist(data: &[u8]) {
    let path = Path::new(FUZZ_PATH);
    if let Ok(events) = decode_events(path, data) {
        assert_eq!(events.len() * 5, data.len(), "one event per 5-byte record");
        for split in [FrameSplit::ByCount, FrameSplit::ByTime] {
            let spec = FrameSpec {
                timesteps: 7,
                split,
                crop_to: Some(32),
            };
            let mut frames = vec![0.0; spec.output_len(NMNIST_SIDE, NMNIST_SIDE)];
            events_to_frames(&events, NMNIST_SIDE, NMNIST_SIDE, &spec, &mut frames);
            let inside = |v: u8| (1..=32).contains(&v);
            let kept = events.iter().filter(|e| inside(e.x) && inside(e.y)).count();
            assert_eq!(
                frames.iter().sum::<f32>(),
                kept as f32,
                "every event inside the crop lands in one frame"
            );
        }
    }
    if let Ok(entries) = parse_nmnist_list(path, data.to_vec()) {
        for entry in entries {
            assert!(entry.label < 10, "list labels in range");
            assert!(!entry.sample.contains('/'), "samples are plain stems");
        }
    }
}

/// The scikit-learn digits CSV (gzip or plain), then its seeded 80/20 split.
pub fn digits(data: &[u8]) {
    let path = Path::new(FUZZ_PATH);
    let Ok((pixels, labels)) =
        inflate_if_gz(path, data.to_vec()).and_then(|b| parse_digits_rows(path, b))
    else {
        return;
    };
    assert_eq!(pixels.len(), labels.len() * DIGITS_SIDE * DIGITS_SIDE);
    let both = split_digits(&pixels, &labels, 0);
    assert_eq!(both.train.len() + both.test.len(), labels.len());
    check_image_set(&both.train);
    check_image_set(&both.test);
}

/// What every image set promises its users: one sample of `sample_len` bytes per label, labels
/// below `num_classes`, pixels at most `max_value`.
fn check_image_set(set: &ImageSet) {
    assert_eq!(
        set.pixels.len(),
        set.len() * set.sample_len(),
        "sizes agree"
    );
    assert!(
        set.labels.iter().all(|&l| usize::from(l) < set.num_classes),
        "labels in range"
    );
    assert!(
        set.pixels.iter().all(|&p| f32::from(p) <= set.max_value),
        "pixels in range"
    );
}

/// Splits `data` after a big-endian u16 length prefix: the first part has that length (cut to
/// what is there), the second is the rest.
fn split_len_prefixed(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return (&[], data);
    };
    rest.split_at(usize::from(u16::from_be_bytes(*len)).min(rest.len()))
}

#[cfg(test)]
mod corpus_replay {
    //! Replays the committed fuzz corpus of every reader through its entry point.

    use crate::testdata::replay_corpus as replay;

    #[test]
    fn idx_corpus() {
        replay("idx", super::idx);
    }

    #[test]
    fn cifar_corpus() {
        replay("cifar", super::cifar);
    }

    #[test]
    fn nmnist_corpus() {
        replay("nmnist", super::nmnist);
    }

    #[test]
    fn digits_corpus() {
        replay("digits", super::digits);
    }
}
