//! `profile_dataset`, the library call behind `snnc run` and the pipeline's run stage: progress
//! for every sample, the report files it is asked for, and typed errors.

use crate::common;
use snnc_datasets::{DatasetName, Split};
use snnc_runtime::dataset_run::{ReportFiles, RunError, RunProgress, RunSettings, profile_dataset};
use std::path::PathBuf;
use std::sync::Mutex;

fn trained(name: &str) -> PathBuf {
    common::workspace()
        .join("tests/fixtures/trained")
        .join(name)
}

fn settings(data_dir: PathBuf) -> RunSettings {
    RunSettings {
        compiled: trained("fmnist-conv"),
        dataset: DatasetName::FashionMnist,
        data_dir,
        split: Split::Test,
        samples: Some(8),
        target: snnc_targets::DEFAULT_TARGET.to_string(),
        threads: Some(1),
        files: ReportFiles::default(),
    }
}

#[test]
fn a_run_reports_progress_and_writes_the_files_asked_for() {
    let Some(dir) = snnc_datasets::testdata::dataset_dir(DatasetName::FashionMnist) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut s = settings(dir);
    s.files = ReportFiles {
        json: Some(tmp.path().join("report.json")),
        csv_dir: Some(tmp.path().join("tables")),
        svg: Some(tmp.path().join("report.svg")),
    };
    let seen = Mutex::new(Vec::new());
    let r = profile_dataset(&s, &|p| seen.lock().unwrap().push(p)).unwrap();
    assert_eq!(r.samples, 8);
    assert!(r.accuracy.is_some());
    let seen = seen.into_inner().unwrap();
    assert_eq!(
        seen.first(),
        Some(&RunProgress::Started {
            samples: 8,
            input_note: None
        })
    );
    assert_eq!(seen.last(), Some(&RunProgress::Finished));
    let done = seen
        .iter()
        .filter(|p| **p == RunProgress::SampleDone)
        .count();
    assert_eq!(done, 8);
    assert!(tmp.path().join("report.json").is_file());
    assert!(tmp.path().join("report.svg").is_file());
    assert!(
        std::fs::read_dir(tmp.path().join("tables"))
            .unwrap()
            .count()
            > 0
    );
}

#[test]
fn an_unknown_target_or_a_missing_module_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = settings(tmp.path().to_path_buf());
    s.target = "no-such-chip".into();
    let err = profile_dataset(&s, &|_| {}).expect_err("unknown target");
    assert!(
        matches!(
            err,
            RunError::Runtime(snnc_runtime::RuntimeError::Target(_))
        ),
        "{err}"
    );
    let mut s = settings(tmp.path().to_path_buf());
    s.compiled = tmp.path().join("nothing-here");
    let err = profile_dataset(&s, &|_| {}).expect_err("missing module");
    assert!(err.to_string().contains("nothing-here"), "{err}");
}
