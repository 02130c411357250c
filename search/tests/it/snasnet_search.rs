//! SNASNet random search: JSONL log, best architecture file, resume and determinism (snasnet.md §5).

use snnc_compiler::network::NetworkDesc;
use snnc_datasets::transform::Rng;
use snnc_datasets::{Dataset, DatasetName, ImageSet, Split};
use snnc_search::data::Augment;
use snnc_search::snasnet::search::{
    CandidateRecord, SearchSettings, best, read_records, run_search,
};

fn digits() -> Dataset {
    let mut rng = Rng::new(4);
    let n = 24;
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

fn settings(candidates: usize, cell: &str) -> SearchSettings {
    SearchSettings {
        dataset: "digits".into(),
        cell: cell.into(),
        candidates,
        batch: 6,
        repeats: 2,
        timesteps: 2,
        width: 2,
        kernel: "sahd".into(),
        seed: 17,
        carry_state: false,
        device: snnc_search::device::ComputeDevice::cpu(),
    }
}

fn run(dir: &std::path::Path, s: &SearchSettings) -> snnc_search::Result<Vec<CandidateRecord>> {
    let geometry =
        snnc_datasets::network_input(DatasetName::Digits, snnc_datasets::SideRule::Native);
    run_search(dir, s, geometry, &digits(), Augment::NONE, &mut |_, _| {})
}

/// Equal up to the last-digit rounding of JSON floats, ignoring timings.
fn same(a: &[CandidateRecord], b: &[CandidateRecord]) {
    assert_eq!(a.len(), b.len());
    let near = |x: f64, y: f64| (x - y).abs() <= 1e-12 * (1.0 + y.abs());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (x.index, &x.genotype, x.lif_calls, x.draws),
            (y.index, &y.genotype, y.lif_calls, y.draws)
        );
        assert!(near(x.score, y.score), "{x:?} vs {y:?}");
        assert_eq!(x.per_pass.len(), y.per_pass.len());
        assert!(
            x.per_pass
                .iter()
                .zip(&y.per_pass)
                .all(|(p, q)| near(*p, *q)),
            "{x:?} vs {y:?}"
        );
    }
}

#[test]
fn search_logs_every_candidate_and_writes_the_best_architecture() {
    let dir = tempfile::tempdir().expect("tmp");
    let records = run(dir.path(), &settings(5, "backward")).expect("search");
    assert_eq!(records.len(), 5);
    same(
        &read_records(&dir.path().join("candidates.jsonl")).expect("log"),
        &records,
    );
    for (k, r) in records.iter().enumerate() {
        assert_eq!(r.index, k);
        assert!(r.score.is_finite(), "{r:?}");
        assert_eq!(r.per_pass.len(), 2);
        assert!(r.draws >= 1);
    }
    let b = best(&records).expect("best");
    assert!(records.iter().all(|r| r.score <= b.score));
    let text = std::fs::read_to_string(dir.path().join("best_arch.json")).expect("best arch");
    let net = NetworkDesc::from_json_str(&text, "best_arch.json").expect("valid architecture");
    assert_eq!(net.desc.meta["genotype"], serde_json::json!(b.genotype));
    assert_eq!(net.desc.timesteps, 2);
    let g: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("best_genotype.json")).expect("best genotype"),
    )
    .expect("json");
    assert_eq!(
        snnc_search::snasnet::genotype::genotype_from_json(&g)
            .expect("genotype")
            .to_string(),
        b.genotype
    );
    assert_eq!(g["index"], serde_json::json!(b.index));
}

#[test]
fn resumed_search_equals_an_uninterrupted_one() {
    let whole = tempfile::tempdir().expect("tmp");
    let all = run(whole.path(), &settings(6, "forward")).expect("search");
    let parts = tempfile::tempdir().expect("tmp");
    let first = run(parts.path(), &settings(3, "forward")).expect("first part");
    same(&first, &all[..3]);
    // An interrupted write leaves a torn last line; it is dropped and that candidate re-scored.
    let log = parts.path().join("candidates.jsonl");
    let mut text = std::fs::read_to_string(&log).expect("log");
    text += "{\"index\":3,\"genotype\":\"00";
    std::fs::write(&log, text).expect("write");
    let rest = run(parts.path(), &settings(6, "forward")).expect("resumed");
    same(&rest, &all);
    assert_eq!(read_records(&log).expect("log").len(), 6);
    // Forward searches only produce forward cells.
    assert!(all.iter().all(|r| {
        !r.genotype
            .parse::<snnc_search::arch::snasnet::CellGenotype>()
            .expect("g")
            .has_backward()
    }));
}

/// A cell whose kernel is singular scores -inf (a silent cell); its record must read back so the
/// search still resumes, and so must a `null` that older logs wrote for it.
#[test]
fn non_finite_scores_survive_a_resume() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = run(dir.path(), &settings(2, "forward")).expect("search");
    let log = dir.path().join("candidates.jsonl");
    let mut silent = first[0].clone();
    silent.score = f64::NEG_INFINITY;
    silent.per_pass = vec![f64::NEG_INFINITY, -3.5];
    let line0 = serde_json::to_string(&silent).expect("json");
    assert!(line0.contains(r#""score":"-inf""#), "{line0}");
    let text = std::fs::read_to_string(&log).expect("log");
    let line1 = text.lines().nth(1).expect("two records");
    let line1 = line1.replacen(
        &format!("\"score\":{}", serde_json::json!(first[1].score)),
        "\"score\":null",
        1,
    );
    assert!(line1.contains("\"score\":null"), "{line1}");
    std::fs::write(&log, format!("{line0}\n{line1}\n")).expect("write");
    let all = run(dir.path(), &settings(3, "forward")).expect("resumed");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].score, f64::NEG_INFINITY);
    assert_eq!(all[0].per_pass, [f64::NEG_INFINITY, -3.5]);
    assert!(all[1].score.is_nan());
    assert_eq!(
        best(&all).map(|b| b.index),
        Some(2),
        "a NaN never wins; -inf only if alone"
    );
}

#[test]
fn carried_state_changes_later_passes_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let reset = run(dir.path(), &settings(2, "backward")).expect("search");
    let dir = tempfile::tempdir().expect("tmp");
    let mut s = settings(2, "backward");
    s.carry_state = true;
    let carried = run(dir.path(), &s).expect("search");
    for (r, c) in reset.iter().zip(&carried) {
        assert_eq!(r.genotype, c.genotype);
        assert_eq!(r.per_pass[0], c.per_pass[0]);
    }
    // Settings files from before the option existed still load (it defaults to off).
    let old = r#"{"dataset":"digits","cell":"forward","candidates":1,"batch":6,"repeats":2,"timesteps":2,"width":2,"kernel":"sahd","seed":17}"#;
    let parsed: SearchSettings = serde_json::from_str(old).expect("old settings");
    assert!(!parsed.carry_state);
}

#[test]
fn resume_refuses_other_settings_and_bad_options() {
    let dir = tempfile::tempdir().expect("tmp");
    run(dir.path(), &settings(1, "forward")).expect("search");
    let mut other = settings(2, "forward");
    other.seed = 18;
    assert!(run(dir.path(), &other).is_err());
    assert!(run(dir.path(), &settings(2, "backward")).is_err());
    let fresh = tempfile::tempdir().expect("tmp");
    assert!(run(fresh.path(), &settings(1, "sideways")).is_err());
    let mut big = settings(1, "forward");
    big.batch = 1000;
    assert!(run(fresh.path(), &big).is_err());
}
