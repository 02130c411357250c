//! The score/accuracy correlation study on the digits data: records, taus, resume. Skips (with a
//! message) when the data is absent, unless SNNC_REQUIRE_DATA=1.

use snnc_datasets::testdata::dataset_dir;
use snnc_datasets::transform::FrameSplit;
use snnc_datasets::{DatasetName, Split};
use snnc_search::data::Augment;
use snnc_search::init::InitScheme;
use snnc_search::model::ConvImpl;
use snnc_search::optim::OptimizerKind;
use snnc_search::snasnet::correlate::{StudyData, run_study};
use snnc_search::snasnet::search::SearchSettings;
use snnc_search::snasnet::stats::kendall_tau_b;
use snnc_search::train::{LossKind, TrainConfig};
use std::sync::atomic::AtomicBool;

#[test]
fn study_scores_trains_and_correlates_and_resumes() {
    let Some(dir) = dataset_dir(DatasetName::Digits) else {
        return;
    };
    let data = snnc_datasets::load(DatasetName::Digits, &dir, Split::Train).expect("digits");
    let geometry =
        snnc_datasets::network_input(DatasetName::Digits, snnc_datasets::SideRule::Native);
    let mut s = SearchSettings {
        dataset: "digits".into(),
        cell: "backward".into(),
        candidates: 2,
        batch: 16,
        repeats: 2,
        timesteps: 2,
        width: 2,
        kernel: "sahd".into(),
        seed: 5,
        carry_state: false,
        device: snnc_search::device::ComputeDevice::cpu(),
    };
    let train = TrainConfig {
        dataset: DatasetName::Digits,
        data_dir: dir.clone(),
        epochs: 1,
        batch_size: 32,
        seed: 1,
        lr: 1e-3,
        eta_min_ratio: 0.01,
        cosine: true,
        optimizer: OptimizerKind::parse("adam", 0.9, 0.0).expect("adam"),
        loss: LossKind::CrossEntropy,
        init: InitScheme::Snasnet,
        augment: Augment::NONE,
        frame_split: FrameSplit::ByCount,
        train_limit: Some(64),
        test_limit: Some(32),
        conv: ConvImpl::default(),
        device: snnc_search::device::ComputeDevice::cpu(),
    };
    let out = tempfile::tempdir().expect("tmp");
    let stop = AtomicBool::new(false);
    let input = StudyData {
        geometry,
        data: &data,
        augment: Augment::NONE,
    };
    // Settings no training can run with are refused before anything is written.
    let mut no_epochs = train.clone();
    no_epochs.epochs = 0;
    let err = run_study(out.path(), &s, &input, &no_epochs, 1, &stop, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("--epochs"), "{err}");
    let err = run_study(out.path(), &s, &input, &train, 0, &stop, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("--jobs"), "{err}");
    assert!(!out.path().join("study.json").exists());

    let first = run_study(out.path(), &s, &input, &train, 1, &stop, &mut |_, _| {}).expect("study");
    assert_eq!(first.cells, 2);
    let log = out.path().join("correlate.jsonl");
    let two = std::fs::read_to_string(&log).expect("log");
    let stamp = |cell: usize| {
        std::fs::metadata(out.path().join(format!("train/{cell}/weights.safetensors")))
            .and_then(|m| m.modified())
            .expect("cell trained")
    };
    let stamps = [stamp(0), stamp(1)];
    // A torn second line (an interrupted append) is dropped and that cell studied again: scored
    // anew, its finished training taken from its checkpoint rather than redone.
    let (line0, line1) = (two.lines().next().unwrap(), two.lines().nth(1).unwrap());
    std::fs::write(&log, format!("{line0}\n{}", &line1[..20])).expect("tear");
    // The resumed study trains two cells at a time; its log is still in index order.
    s.candidates = 4;
    let mut heard = Vec::new();
    let report = run_study(out.path(), &s, &input, &train, 2, &stop, &mut |done, r| {
        heard.push((done, r.index))
    })
    .expect("resumed");
    assert_eq!(heard, [(2, 1), (3, 2), (4, 3)]);
    assert_eq!(report.cells, 4);
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.starts_with(&two),
        "the first two records must come back as they were"
    );
    assert_eq!([stamp(0), stamp(1)], stamps, "no cell is trained again");
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(rows.len(), 4);
    let col = |k: &str| {
        rows.iter()
            .map(|r| r[k].as_f64().expect("number"))
            .collect::<Vec<_>>()
    };
    for a in col("test_accuracy") {
        assert!((0.0..=1.0).contains(&a));
    }
    assert_eq!(
        report.tau_sahd,
        kendall_tau_b(&col("sahd"), &col("test_accuracy"))
    );
    assert_eq!(
        report.tau_hamming,
        kendall_tau_b(&col("hamming"), &col("test_accuracy"))
    );
    assert!(out.path().join("report.json").exists());
    // Cells trained two at a time give the same study as one at a time.
    let parallel = tempfile::tempdir().expect("tmp");
    let again = run_study(
        parallel.path(),
        &s,
        &input,
        &train,
        3,
        &stop,
        &mut |_, _| {},
    )
    .expect("parallel study");
    assert_eq!(again, report);
    assert_eq!(
        std::fs::read_to_string(parallel.path().join("correlate.jsonl")).expect("log"),
        text
    );
    // Other settings in the same folder are refused.
    s.seed = 6;
    assert!(run_study(out.path(), &s, &input, &train, 1, &stop, &mut |_, _| {}).is_err());

    // A damaged record in the middle is an error naming its line; nothing is rewritten.
    s.seed = 5;
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{\"index\":1,";
    let damaged = lines.join("\n") + "\n";
    std::fs::write(&log, &damaged).expect("damage");
    let err = run_study(out.path(), &s, &input, &train, 1, &stop, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("correlate.jsonl line 2"), "{err}");
    assert_eq!(std::fs::read_to_string(&log).expect("log"), damaged);
}
