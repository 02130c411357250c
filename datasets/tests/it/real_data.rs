//! The real datasets (found through `SNNC_DATA_DIR`, see `testdata`): counts, known labels and
//! statistics. Each test returns early, printing `skipping: ...`, when its data is absent, and
//! fails instead under `SNNC_REQUIRE_DATA=1` (`testdata::dataset_dir`).

use snnc_datasets::testdata::dataset_dir;
use snnc_datasets::transform::{FrameSpec, FrameSplit, Normalization, events_to_frames};
use snnc_datasets::{Dataset, DatasetName, ImageSet, Split, digits_split, load};

fn load_ok(name: DatasetName, split: Split) -> Option<Dataset> {
    let dir = dataset_dir(name)?;
    Some(load(name, &dir, split).unwrap_or_else(|e| panic!("{e}")))
}

/// Both splits of `name` (train, test), or `None` when its data is absent.
fn both_splits(name: DatasetName) -> Option<(Dataset, Dataset)> {
    Some((load_ok(name, Split::Train)?, load_ok(name, Split::Test)?))
}

fn class_counts(labels: &[u8]) -> [usize; 10] {
    let mut counts = [0; 10];
    for &l in labels {
        counts[usize::from(l)] += 1;
    }
    counts
}

/// Mean and population standard deviation of channel `c` after scaling to `[0, 1]`.
fn channel_stats(set: &ImageSet, c: usize) -> (f64, f64) {
    let plane = set.height * set.width;
    let (mut sum, mut sq, mut n) = (0.0f64, 0.0f64, 0usize);
    for i in 0..set.len() {
        for &p in &set.sample(i).unwrap()[c * plane..(c + 1) * plane] {
            let v = f64::from(p) / f64::from(set.max_value);
            sum += v;
            sq += v * v;
            n += 1;
        }
    }
    let mean = sum / n as f64;
    (mean, (sq / n as f64 - mean * mean).sqrt())
}

#[test]
fn mnist_counts_and_first_test_labels() {
    let Some((train, test)) = both_splits(DatasetName::Mnist) else {
        return;
    };
    let (train, test) = (train.into_images().unwrap(), test.into_images().unwrap());
    assert_eq!(test.len(), 10_000);
    assert_eq!(test.shape(), [1, 28, 28]);
    assert_eq!(test.labels[..5], [7, 2, 1, 0, 4]);
    assert_eq!(train.len(), 60_000);
    assert_eq!(train.pixels.len(), 60_000 * 784);
    assert_eq!(train.labels[..5], [5, 0, 4, 1, 9]);
    let (mean, std) = channel_stats(&train, 0);
    let norm = Normalization::for_dataset(DatasetName::Mnist).unwrap();
    assert!((mean - f64::from(norm.mean[0])).abs() < 1e-3, "mean {mean}");
    assert!((std - f64::from(norm.std[0])).abs() < 1e-3, "std {std}");
}

#[test]
fn fashion_mnist_counts_and_balance() {
    let Some((train, test)) = both_splits(DatasetName::FashionMnist) else {
        return;
    };
    assert_eq!(train.len(), 60_000);
    assert_eq!(train.name(), DatasetName::FashionMnist);
    assert_eq!(class_counts(train.labels()), [6000; 10]);
    let train = train.into_images().unwrap();
    let (mean, std) = channel_stats(&train, 0);
    assert!(
        (mean - 0.2860).abs() < 1e-3 && (std - 0.3530).abs() < 1e-3,
        "{mean} {std}"
    );
    assert_eq!(test.len(), 10_000);
    assert_eq!(class_counts(test.labels()), [1000; 10]);
}

#[test]
fn cifar_partial_counts_labels_and_plane_order() {
    let Some((train, test)) = both_splits(DatasetName::Cifar10) else {
        return;
    };
    let (train, test) = (train.into_images().unwrap(), test.into_images().unwrap());
    let full = train.len() == 50_000;
    if !full {
        assert_eq!(train.len(), 4000);
        assert_eq!(test.len(), 1000);
    }
    assert_eq!(test.labels[..10], [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
    assert_eq!(train.shape(), [3, 32, 32]);
    // Per-channel means in R, G, B order tell whether the planes were kept apart correctly.
    let norm = Normalization::for_dataset(DatasetName::Cifar10).unwrap();
    for c in 0..3 {
        let (mean, std) = channel_stats(&train, c);
        assert!(
            (mean - f64::from(norm.mean[c])).abs() < 0.005,
            "channel {c} mean {mean}"
        );
        assert!(
            (std - f64::from(norm.std[c])).abs() < 0.005,
            "channel {c} std {std}"
        );
    }
}

#[test]
fn nmnist_small_counts_labels_and_events() {
    let Some((train, test)) = both_splits(DatasetName::Nmnist) else {
        return;
    };
    let (train, test) = (train.into_events().unwrap(), test.into_events().unwrap());
    assert_eq!((train.len(), test.len()), (1000, 100));
    assert_eq!(train.labels[0], 5, "sample 1 is MNIST train image 0, a 5");
    assert_eq!(test.labels[..5], [7, 2, 1, 0, 4]);
    let counts: Vec<usize> = train
        .samples
        .iter()
        .chain(&test.samples)
        .map(Vec::len)
        .collect();
    assert_eq!(counts.iter().min(), Some(&1069));
    assert_eq!(counts.iter().max(), Some(&7152));
    let mut on = 0;
    for s in train.samples.iter().chain(&test.samples) {
        assert!(
            s.windows(2).all(|w| w[0].t_us <= w[1].t_us),
            "timestamps are monotone"
        );
        assert!(s.iter().all(|e| e.t_us <= 336_040));
        on += s.iter().filter(|e| e.on).count();
    }
    let total: usize = counts.iter().sum();
    assert!(
        on * 3 > total && on * 3 < 2 * total,
        "ON and OFF roughly balanced: {on}/{total}"
    );
    // Frames of a real sample keep every event without a crop.
    let spec = FrameSpec {
        timesteps: 10,
        split: FrameSplit::ByCount,
        crop_to: None,
    };
    let mut out = vec![0.0; spec.output_len(34, 34)];
    events_to_frames(&train.samples[0], 34, 34, &spec, &mut out);
    assert_eq!(out.iter().sum::<f32>(), train.samples[0].len() as f32);
}

#[test]
fn digits_total_split_and_statistics() {
    let Some((train, test)) = both_splits(DatasetName::Digits) else {
        return;
    };
    let (train, test) = (train.into_images().unwrap(), test.into_images().unwrap());
    assert_eq!((train.len(), test.len()), (1437, 360));
    assert_eq!(train.shape(), [1, 8, 8]);
    assert_eq!(train.max_value, 16.0);
    let mut all = class_counts(&train.labels);
    for (a, b) in all.iter_mut().zip(class_counts(&test.labels)) {
        *a += b;
    }
    assert_eq!(all, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    let (tr, te) = digits_split(1797, 0);
    assert_eq!((tr.len(), te.len()), (1437, 360));
    // The normalisation constants are the statistics of all 1797 samples.
    let (n_tr, n_te) = (train.len() as f64, test.len() as f64);
    let (m_tr, s_tr) = channel_stats(&train, 0);
    let (m_te, s_te) = channel_stats(&test, 0);
    let mean = (m_tr * n_tr + m_te * n_te) / (n_tr + n_te);
    let sq =
        ((s_tr * s_tr + m_tr * m_tr) * n_tr + (s_te * s_te + m_te * m_te) * n_te) / (n_tr + n_te);
    let std = (sq - mean * mean).sqrt();
    let norm = Normalization::for_dataset(DatasetName::Digits).unwrap();
    assert!((mean - f64::from(norm.mean[0])).abs() < 1e-4, "mean {mean}");
    assert!((std - f64::from(norm.std[0])).abs() < 1e-4, "std {std}");
}
