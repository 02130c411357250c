//! `snnc search snasnet` end to end on the digits data: log, best architecture, resume, errors.

use crate::common::{data, s, snnc, text};

use std::path::Path;

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .expect("log")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn search_snasnet_writes_log_and_best_and_resumes() {
    let Some(digits) = data(snnc_datasets::DatasetName::Digits) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("search");
    let args = |n: &'static str| {
        vec![
            "search",
            "snasnet",
            "--dataset",
            "digits",
            "--data-dir",
            s(&digits),
            "--candidates",
            n,
            "--cell",
            "backward",
            "--batch",
            "16",
            "--width",
            "2",
            "--timesteps",
            "2",
            "--seed",
            "3",
            "--quiet",
            "--out",
            s(&out),
        ]
    };
    let o = snnc(&args("3"));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("best #"), "{}", text(&o));
    let log = out.join("candidates.jsonl");
    let first = lines(&log);
    assert_eq!(first.len(), 3);
    let arch = out.join("best_arch.json");
    let net = snnc_compiler::network::Network::load(&arch).expect("best architecture loads");
    assert_eq!(net.desc.meta["architecture"], "snasnet");
    // Resume with more candidates: the first three lines are kept as they were.
    let o = snnc(&args("5"));
    assert!(o.status.success(), "{}", text(&o));
    let all = lines(&log);
    assert_eq!(all.len(), 5);
    assert_eq!(&all[..3], &first[..]);
    // Another cell in the same folder is refused; a cell that does not exist is an error, not a
    // panic.
    let refusals = [
        ("forward", "other settings"),
        ("sideways", "forward or backward"),
    ];
    for (cell, expected) in refusals {
        let mut other = args("5");
        let at = other.iter().position(|a| *a == "--cell").expect("--cell") + 1;
        other[at] = cell;
        let o = snnc(&other);
        assert!(!o.status.success(), "--cell {cell} was accepted");
        assert!(text(&o).contains(expected), "--cell {cell}: {}", text(&o));
    }
}

#[test]
fn search_snasnet_correlate_reports_kendall_tau() {
    let Some(digits) = data(snnc_datasets::DatasetName::Digits) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let o = snnc(&[
        "search",
        "snasnet-correlate",
        "--dataset",
        "digits",
        "--data-dir",
        s(&digits),
        "--candidates",
        "3",
        "--batch",
        "16",
        "--width",
        "2",
        "--timesteps",
        "2",
        "--train-limit",
        "64",
        "--test-limit",
        "32",
        "--quiet",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Kendall tau"), "{}", text(&o));
    assert_eq!(lines(&out.join("correlate.jsonl")).len(), 3);
    assert!(out.join("report.json").exists());
}
