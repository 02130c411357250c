//! AutoSNN supernet training through the shared training loop: a run stopped part-way and resumed
//! ends with the uninterrupted run's weights and summary; a finished supernet loads back; other
//! settings are refused with a typed error.

use snnc_datasets::transform::Rng;
use snnc_datasets::{Dataset, DatasetName, ImageSet, Split};
use snnc_search::SearchError;
use snnc_search::arch::InputGeometry;
use snnc_search::autosnn::supernet::{SupernetSettings, SupernetSummary, train_supernet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Random 8x8 images with 17 grey levels, as the digits set has.
fn images(n: usize) -> Dataset {
    let mut rng = Rng::new(4);
    Dataset::Images(ImageSet {
        name: DatasetName::Digits,
        split: Split::Train,
        channels: 1,
        height: 8,
        width: 8,
        pixels: (0..n * 64).map(|_| rng.below(17) as u8).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        num_classes: 10,
        max_value: 16.0,
    })
}

fn geometry() -> InputGeometry {
    InputGeometry {
        channels: 1,
        side: 8,
        encoding: snnc_search::arch::InputEncoding::Direct,
        num_classes: 10,
    }
}

/// Many small batches, so that an epoch lasts long enough to be stopped part-way.
fn settings() -> SupernetSettings {
    SupernetSettings {
        width: 2,
        timesteps: 2,
        epochs: 2,
        batch_size: 4,
        train_limit: Some(240),
        ..SupernetSettings::small("digits")
    }
}

fn train(dir: &Path, data: &Dataset, stop: &AtomicBool) -> Option<SupernetSummary> {
    train_supernet(&settings(), data, geometry(), dir, stop, false)
        .expect("supernet trains")
        .map(|(_, summary)| summary)
}

fn without_timing(s: SupernetSummary) -> SupernetSummary {
    SupernetSummary { seconds: 0.0, ..s }
}

#[test]
fn a_stopped_and_resumed_supernet_equals_an_uninterrupted_one() {
    let data = images(400);
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    let want = train(&full, &data, &AtomicBool::new(false)).expect("finished");
    // A watcher raises the stop flag a little after epoch 1's metrics line appears, so training
    // stops somewhere in epoch 2 (where exactly depends on timing; it may even finish first).
    for delay_us in [0u64, 20_000, 60_000] {
        let cut = tmp.path().join(format!("cut{delay_us}"));
        let stop = AtomicBool::new(false);
        let done = AtomicBool::new(false);
        let first = std::thread::scope(|s| {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    let text =
                        std::fs::read_to_string(cut.join("metrics.jsonl")).unwrap_or_default();
                    if text.lines().count() >= 1 {
                        std::thread::sleep(std::time::Duration::from_micros(delay_us));
                        stop.store(true, Ordering::SeqCst);
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_micros(100));
                }
            });
            let first = train(&cut, &data, &stop);
            done.store(true, Ordering::SeqCst);
            first
        });
        let got = match first {
            Some(summary) => summary,
            None => train(&cut, &data, &AtomicBool::new(false)).expect("resumed to the end"),
        };
        assert_eq!(without_timing(got), without_timing(want.clone()));
        let weights = |dir: &Path| std::fs::read(dir.join("weights.safetensors")).unwrap();
        assert_eq!(weights(&cut), weights(&full), "stopped after {delay_us} µs");
        let metrics = std::fs::read_to_string(cut.join("metrics.jsonl")).unwrap();
        assert_eq!(metrics.lines().count(), 2, "{metrics}");
        assert!(metrics.contains("\"train_loss\""), "{metrics}");
    }

    // A finished supernet loads back without training, even with the stop flag raised.
    // (`seconds` is left out: serde_json's default float reader may round its last digit.)
    let again = train(&full, &data, &AtomicBool::new(true)).expect("loads back");
    assert_eq!(without_timing(again), without_timing(want));

    // Other settings in the same folder are refused, naming the summary file.
    let other = SupernetSettings {
        seed: 1,
        ..settings()
    };
    match train_supernet(
        &other,
        &data,
        geometry(),
        &full,
        &AtomicBool::new(false),
        false,
    ) {
        Err(SearchError::OtherSettings { path, .. }) => {
            assert!(path.ends_with("supernet.json"), "{}", path.display())
        }
        other => panic!("expected an other-settings error, got {:?}", other.err()),
    }
}
