//! Training on the real digits data: determinism, resume, interruption and the metrics file.
//! Skips (with a message) when the data is absent, unless SNNC_REQUIRE_DATA=1.
//!
//! The MLP carries a dropout layer so that the per-batch random streams are part of what
//! determinism and resume must reproduce.

use crate::common::network;
use snnc_datasets::testdata::dataset_dir;
use snnc_datasets::transform::FrameSplit;
use snnc_datasets::{DatasetName, Split};
use snnc_search::SearchError;
use snnc_search::data::{Augment, InputPipeline};
use snnc_search::init::InitScheme;
use snnc_search::optim::OptimizerKind;
use snnc_search::train::{LossKind, TrainConfig, TrainOutcome, evaluate, load_run, train};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The MLP names no tensors in its neuron fields.
fn no_neuron_params() -> snnc_compiler::network::Weights {
    snnc_compiler::network::Weights::default()
}

const MLP: &str = r#"{
  "format_version": 1, "name": "tiny-mlp", "timesteps": 2, "num_classes": 10,
  "input": { "shape": [64], "encoding": "direct" },
  "readout": { "node": "fc2", "kind": "time_mean" },
  "nodes": [
    { "name": "input", "op": "input" },
    { "name": "fc1", "op": "linear", "in_features": 64, "out_features": 32, "bias": true },
    { "name": "lif1", "op": "lif", "tau": 2.0 },
    { "name": "drop", "op": "dropout", "p": 0.2 },
    { "name": "fc2", "op": "linear", "in_features": 32, "out_features": 10, "bias": true }
  ],
  "edges": [
    { "from": "input", "to": "fc1" }, { "from": "fc1", "to": "lif1" }, { "from": "lif1", "to": "drop" },
    { "from": "drop", "to": "fc2" }
  ]
}"#;

const LR: f64 = 0.01;

fn config(data_dir: PathBuf, epochs: usize) -> TrainConfig {
    TrainConfig {
        dataset: DatasetName::Digits,
        data_dir,
        epochs,
        batch_size: 32,
        seed: 17,
        lr: LR,
        eta_min_ratio: 0.01,
        cosine: true,
        // Adam keeps two moment buffers per parameter: resume must restore both.
        optimizer: OptimizerKind::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
        },
        loss: LossKind::CrossEntropy,
        init: InitScheme::Pytorch,
        augment: Augment::NONE,
        frame_split: FrameSplit::ByCount,
        train_limit: Some(256),
        test_limit: Some(100),
        conv: Default::default(),
        device: Default::default(),
    }
}

fn run(cfg: &TrainConfig, dir: &Path, resume: bool, stop: bool) -> TrainOutcome {
    train(
        network(MLP),
        &no_neuron_params(),
        cfg,
        dir,
        resume,
        &AtomicBool::new(stop),
        false,
    )
    .unwrap_or_else(|e| panic!("train in {}: {e}", dir.display()))
}

fn weights(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("weights.safetensors")).expect("weights.safetensors")
}

fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .expect("metrics.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("metrics line `{l}`: {e}")))
        .collect()
}

/// The fields of a metrics line that do not depend on wall-clock time.
fn deterministic(m: &serde_json::Value) -> Vec<f64> {
    [
        "epoch",
        "lr",
        "train_loss",
        "train_accuracy",
        "test_accuracy",
        "test_loss",
        "spikes_per_sample",
    ]
    .iter()
    .map(|k| {
        m[*k]
            .as_f64()
            .unwrap_or_else(|| panic!("metrics field {k} in {m}"))
    })
    .collect()
}

fn approx_eq(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            "{what}: {a:?} vs {b:?}"
        );
    }
}

fn data() -> Option<PathBuf> {
    dataset_dir(DatasetName::Digits)
}

#[test]
fn same_seed_same_weights_and_resume_equals_uninterrupted() {
    let Some(dir) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c, e) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
        tmp.path().join("e"),
    );

    // Two one-epoch runs with the same seed: byte-identical weights.
    let one = config(dir.clone(), 1);
    let oa = run(&one, &a, false, false);
    let ob = run(&one, &b, false, false);
    assert_eq!(oa, ob, "same outcome");
    assert_eq!(
        weights(&a),
        weights(&b),
        "weights.safetensors of two equal runs"
    );
    approx_eq(
        &deterministic(&metrics(&a)[0]),
        &deterministic(&metrics(&b)[0]),
        "metrics of two equal runs",
    );

    // Two epochs at once vs one epoch then resume to two: identical final weights and metrics.
    let two = config(dir.clone(), 2);
    let oc = run(&two, &c, false, false);
    let ob2 = run(&two, &b, true, false);
    assert_eq!(oc, ob2);
    assert_eq!(weights(&c), weights(&b), "resumed run vs uninterrupted run");
    let (mc, mb) = (metrics(&c), metrics(&b));
    assert_eq!(
        mb.len(),
        2,
        "the resumed run keeps epoch 1's line and adds epoch 2's"
    );
    for (x, y) in mc.iter().zip(&mb) {
        approx_eq(
            &deterministic(x),
            &deterministic(y),
            "metrics of resumed vs uninterrupted",
        );
    }
    assert_ne!(
        weights(&a),
        weights(&c),
        "the second epoch changes the weights"
    );

    // Stopped before the first batch: an interruption with a checkpoint; resuming completes the run.
    let oe = train(
        network(MLP),
        &no_neuron_params(),
        &two,
        &e,
        false,
        &AtomicBool::new(true),
        false,
    )
    .unwrap();
    assert_eq!(oe, TrainOutcome::Interrupted { epoch: 0, batch: 0 });
    assert!(
        e.join("checkpoint").join("state.json").is_file(),
        "the interruption leaves a checkpoint"
    );
    assert!(
        !e.join("weights.safetensors").exists(),
        "no final weights before an epoch ends"
    );
    assert!(metrics(&e).is_empty());
    let oe2 = run(&two, &e, true, false);
    assert_eq!(oe2, oc);
    assert_eq!(
        weights(&e),
        weights(&c),
        "interrupted-then-resumed run vs uninterrupted run"
    );

    // Resuming a finished run does no more work and reports the recorded accuracy.
    let again = run(&two, &c, true, false);
    assert_eq!(again, oc);
    assert_eq!(weights(&c), weights(&e));
}

#[test]
fn metrics_file_has_one_documented_line_per_epoch() {
    let Some(dir) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let cfg = config(dir.clone(), 2);
    let outcome = run(&cfg, &out, false, false);
    let lines = metrics(&out);
    assert_eq!(lines.len(), 2);
    let mut fields: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "epoch",
            "lr",
            "samples_per_second",
            "seconds",
            "spikes_per_sample",
            "test_accuracy",
            "test_loss",
            "train_accuracy",
            "train_loss"
        ]
    );
    for (i, m) in lines.iter().enumerate() {
        assert_eq!(m["epoch"].as_u64(), Some(i as u64 + 1));
        let get = |k: &str| m[k].as_f64().unwrap();
        // Accuracies are fractions of 256 training and 100 test samples.
        let (tr, te) = (get("train_accuracy"), get("test_accuracy"));
        assert!(
            (0.0..=1.0).contains(&tr) && ((tr * 256.0).round() - tr * 256.0).abs() < 1e-9,
            "train_accuracy {tr}"
        );
        assert!(
            (0.0..=1.0).contains(&te) && ((te * 100.0).round() - te * 100.0).abs() < 1e-9,
            "test_accuracy {te}"
        );
        assert!(get("train_loss").is_finite() && get("train_loss") > 0.0);
        assert!(get("test_loss").is_finite() && get("test_loss") > 0.0);
        // At most 32 neurons x 2 timesteps can fire per sample.
        let sps = get("spikes_per_sample");
        assert!(sps > 0.0 && sps <= 64.0, "spikes_per_sample {sps}");
        assert!(get("samples_per_second") > 0.0 && get("seconds") > 0.0);
    }
    // Cosine schedule over 2 epochs: lr, then eta_min + (lr - eta_min)/2.
    assert!((lines[0]["lr"].as_f64().unwrap() - LR).abs() < 1e-15);
    let eta = LR * 0.01;
    assert!((lines[1]["lr"].as_f64().unwrap() - (eta + (LR - eta) / 2.0)).abs() < 1e-15);
    // Learning happened: the training loss fell from epoch 1 to epoch 2.
    assert!(
        lines[1]["train_loss"].as_f64() < lines[0]["train_loss"].as_f64(),
        "{lines:?}"
    );
    // The outcome reports the last epoch's test accuracy.
    assert_eq!(
        outcome,
        TrainOutcome::Finished {
            test_accuracy: lines[1]["test_accuracy"].as_f64().unwrap()
        }
    );

    // The run directory loads back and evaluates to the recorded test accuracy and loss.
    let model = load_run(&out, &snnc_search::device::ComputeDevice::cpu()).expect("load_run");
    let test_set = snnc_datasets::load(DatasetName::Digits, &dir, Split::Test).unwrap();
    let pipeline =
        InputPipeline::new(&model.net, &test_set, Augment::NONE, FrameSplit::ByCount).unwrap();
    let ev = evaluate(
        &model,
        &test_set,
        &pipeline,
        64,
        Some(100),
        LossKind::CrossEntropy,
        None,
    )
    .unwrap();
    assert_eq!(ev.samples, 100);
    assert_eq!(ev.accuracy, lines[1]["test_accuracy"].as_f64().unwrap());
    assert!((ev.loss - lines[1]["test_loss"].as_f64().unwrap()).abs() < 1e-9);
    assert!(
        (ev.spikes_per_sample() - lines[1]["spikes_per_sample"].as_f64().unwrap()).abs() < 1e-9
    );
}

#[test]
fn resume_refuses_a_different_config() {
    let Some(dir) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let cfg = config(dir.clone(), 1);
    let _ = train(
        network(MLP),
        &no_neuron_params(),
        &cfg,
        &out,
        false,
        &AtomicBool::new(true),
        false,
    )
    .unwrap();
    let other = TrainConfig {
        seed: cfg.seed + 1,
        ..cfg.clone()
    };
    match train(
        network(MLP),
        &no_neuron_params(),
        &other,
        &out,
        true,
        &AtomicBool::new(false),
        false,
    ) {
        Err(SearchError::OtherSettings { path, .. }) => {
            assert!(path.ends_with("state.json"), "{}", path.display())
        }
        other => panic!("expected an other-settings error, got {other:?}"),
    }
    // Resuming without a checkpoint is an error that names the state file.
    let empty = tmp.path().join("empty");
    match train(
        network(MLP),
        &no_neuron_params(),
        &cfg,
        &empty,
        true,
        &AtomicBool::new(false),
        false,
    ) {
        Err(SearchError::NoCheckpoint { path, .. }) => {
            assert!(path.ends_with("state.json"), "{}", path.display())
        }
        other => panic!("expected a no-checkpoint error, got {other:?}"),
    }
}

#[test]
fn stop_in_the_middle_then_resume_equals_uninterrupted() {
    // A watcher sets the stop flag a little after epoch 1's metrics line appears, so training
    // stops somewhere in epoch 2. Where exactly depends on timing; wherever it is, the resumed run
    // must end with the uninterrupted run's weights.
    let Some(dir) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    // Many small batches, so that an epoch lasts long enough to be stopped part-way.
    let cfg = TrainConfig {
        batch_size: 4,
        train_limit: Some(1024),
        ..config(dir.clone(), 2)
    };
    run(&cfg, &full, false, false);
    let mut stopped_at = Vec::new();
    for delay_us in [0u64, 10_000, 30_000] {
        let cut = tmp.path().join(format!("cut{delay_us}"));
        let stop = AtomicBool::new(false);
        let done = AtomicBool::new(false);
        let outcome = std::thread::scope(|s| {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    let lines =
                        std::fs::read_to_string(cut.join("metrics.jsonl")).unwrap_or_default();
                    if lines.lines().count() >= 1 {
                        std::thread::sleep(std::time::Duration::from_micros(delay_us));
                        stop.store(true, Ordering::SeqCst);
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_micros(100));
                }
            });
            let o = train(
                network(MLP),
                &no_neuron_params(),
                &cfg,
                &cut,
                false,
                &stop,
                false,
            )
            .unwrap();
            done.store(true, Ordering::SeqCst);
            o
        });
        match outcome {
            TrainOutcome::Interrupted { epoch, batch } => {
                assert_eq!(epoch, 1, "stopped in epoch 2 (0-based 1)");
                stopped_at.push(batch);
                let resumed = run(&cfg, &cut, true, false);
                assert!(matches!(resumed, TrainOutcome::Finished { .. }));
            }
            TrainOutcome::Finished { .. } => stopped_at.push(usize::MAX),
        }
        assert_eq!(
            weights(&cut),
            weights(&full),
            "stopped at {stopped_at:?} and resumed vs uninterrupted"
        );
        let (mc, mf) = (metrics(&cut), metrics(&full));
        assert_eq!(mc.len(), 2);
        for (x, y) in mc.iter().zip(&mf) {
            approx_eq(
                &deterministic(x),
                &deterministic(y),
                "metrics of stopped-and-resumed vs uninterrupted",
            );
        }
    }
    eprintln!("stopped before batch (usize::MAX = not stopped): {stopped_at:?}");
}
