//! `snnc search autosnn` end to end on real Fashion-MNIST at a tiny budget: outputs, resume from
//! the cache, a second search sharing the supernet, retraining and compiling the chosen network,
//! and bad flags.

use crate::common::{data, s, snnc, text};

fn search_args<'a>(data: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "search",
        "autosnn",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        data,
        "--out",
        out,
        "--width",
        "4",
        "--timesteps",
        "2",
        "--supernet-epochs",
        "1",
        "--train-limit",
        "192",
        "--batch-size",
        "32",
        "--eval-samples",
        "64",
        "--eval-batch",
        "32",
        "--population",
        "4",
        "--generations",
        "2",
        "--top-k",
        "2",
        "--mutants",
        "2",
        "--crossovers",
        "1",
        "--quiet",
    ];
    // A flag given in `extra` replaces the default above.
    for pair in extra.chunks(2) {
        match v.iter().position(|a| *a == pair[0]) {
            Some(i) if pair.len() == 2 && !v[i + 1].starts_with("--") => v[i + 1] = pair[1],
            _ => v.extend_from_slice(pair),
        }
    }
    v
}

#[test]
fn search_writes_its_outputs_resumes_from_cache_and_its_choice_retrains_and_compiles() {
    let Some(data) = data(snnc_datasets::DatasetName::FashionMnist) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("spikes");
    let o = snnc(&search_args(s(&data), s(&out), &[]));
    assert!(o.status.success(), "{}", text(&o));
    for f in [
        "search.json",
        "candidates.csv",
        "generations.jsonl",
        "best.json",
        "best_arch.json",
        "pareto-spikes.csv",
        "pareto-energy.csv",
        "pareto.svg",
        "supernet/supernet.json",
        "supernet/weights.safetensors",
        "supernet/evaluations.jsonl",
    ] {
        assert!(out.join(f).is_file(), "missing {f}: {}", text(&o));
    }
    let csv = std::fs::read_to_string(out.join("candidates.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 8, "4 x 2 evaluations:\n{csv}");
    let ids: std::collections::HashSet<&str> =
        rows.iter().map(|r| r.split(',').nth(2).unwrap()).collect();
    assert_eq!(ids.len(), 8, "no architecture evaluated twice:\n{csv}");
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("best.json")).unwrap()).unwrap();
    let c_s = best["reference"]["spikes"].as_f64().unwrap();
    let e_ref = best["reference"]["energy_j"].as_f64().unwrap();
    assert!(c_s > 0.0 && e_ref > 0.0, "{best}");
    let svg = std::fs::read_to_string(out.join("pareto.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("Pareto front"));

    // Running again resumes: every evaluation comes from the cache and the log is identical.
    let evaluations = std::fs::read_to_string(out.join("supernet/evaluations.jsonl")).unwrap();
    let o = snnc(&search_args(s(&data), s(&out), &[]));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("candidates.csv")).unwrap(),
        csv
    );
    assert_eq!(
        std::fs::read_to_string(out.join("supernet/evaluations.jsonl")).unwrap(),
        evaluations,
        "nothing was re-evaluated"
    );

    // Another fitness on the same supernet reuses its weights and cached evaluations.
    let energy = dir.path().join("energy");
    let supernet = out.join("supernet");
    let o = snnc(&search_args(
        s(&data),
        s(&energy),
        &[
            "--fitness",
            "energy",
            "--target",
            "loihi",
            "--supernet",
            s(&supernet),
        ],
    ));
    assert!(o.status.success(), "{}", text(&o));
    assert!(!energy.join("supernet").exists());
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(energy.join("best.json")).unwrap()).unwrap();
    assert_eq!(
        e["reference"]["spikes"].as_f64().unwrap(),
        c_s,
        "same supernet"
    );

    // Re-estimated BatchNorm statistics are cached apart from inherited ones, and restored after
    // each candidate: the same search twice gives the same log.
    let recal = dir.path().join("recal");
    let args = search_args(
        s(&data),
        s(&recal),
        &["--bn-recalibrate", "64", "--supernet", s(&supernet)],
    );
    let o = snnc(&args);
    assert!(o.status.success(), "{}", text(&o));
    let first = std::fs::read_to_string(recal.join("candidates.csv")).unwrap();
    let cached = std::fs::read_to_string(supernet.join("evaluations.jsonl")).unwrap();
    assert_eq!(
        cached.matches("\"recalibration_samples\":64").count(),
        8,
        "{cached}"
    );
    std::fs::remove_dir_all(&recal).unwrap();
    let lines = cached.lines().count();
    let kept: String = cached
        .lines()
        .take(lines - 8)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(supernet.join("evaluations.jsonl"), kept).unwrap();
    let o = snnc(&args);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(recal.join("candidates.csv")).unwrap(),
        first
    );

    // A damaged cache is named with its line; a torn last line (an interrupted append) is not an
    // error; a corrupt supernet summary is named too. Nothing is overwritten in either case.
    let cache = supernet.join("evaluations.jsonl");
    let good = std::fs::read_to_string(&cache).unwrap();
    std::fs::write(&cache, format!("{{not json\n{good}")).unwrap();
    let o = snnc(&search_args(s(&data), s(&out), &[]));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("evaluations.jsonl") && text(&o).contains("line 1"),
        "{}",
        text(&o)
    );
    std::fs::write(&cache, format!("{good}{{\"arch\": [")).unwrap();
    let o = snnc(&search_args(s(&data), s(&out), &[]));
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(&cache, &good).unwrap();
    let summary = supernet.join("supernet.json");
    let kept = std::fs::read(&summary).unwrap();
    std::fs::write(&summary, "{ truncated").unwrap();
    let o = snnc(&search_args(s(&data), s(&out), &[]));
    assert!(!o.status.success());
    assert!(text(&o).contains("supernet.json"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), "{ truncated");
    std::fs::write(&summary, kept).unwrap();

    // Settings that differ from the stored ones are refused, not mixed in.
    let o = snnc(&search_args(s(&data), s(&out), &["--lambda", "-0.16"]));
    assert!(!o.status.success());
    assert!(text(&o).contains("other settings"), "{}", text(&o));

    // The chosen architecture trains straight from the search output and compiles.
    let run = dir.path().join("retrain");
    let arch = out.join("best_arch.json");
    let o = snnc(&[
        "train",
        "--arch",
        s(&arch),
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        s(&data),
        "--epochs",
        "1",
        "--train-limit",
        "64",
        "--test-limit",
        "64",
        "--out",
        s(&run),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let ir = dir.path().join("best.snnir");
    let o = snnc(&["compile", s(&run), "--output", s(&ir)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read_to_string(&ir).unwrap().contains("plif"));
}

#[test]
fn bad_flags_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let no_data = dir.path().join("nowhere");
    let cases: [(&[&str], &str); 6] = [
        (&["--fitness", "speed"], "unknown fitness"),
        (&["--target", "no-such-chip"], "no-such-chip"),
        (&["--eval-samples", "0"], "--eval-samples"),
        (
            &["--supernet-epochs", "0"],
            "--supernet-epochs must be at least 1",
        ),
        (
            &["--population", "0"],
            "--population, --generations and --top-k",
        ),
        (
            &["--mutation-prob", "1.5"],
            "--mutation-prob 1.5 is not in [0, 1]",
        ),
    ];
    for (extra, want) in cases {
        let o = snnc(&search_args(s(&no_data), s(&out), extra));
        assert!(!o.status.success(), "{extra:?} accepted");
        // Flags are checked before the (missing) dataset folder is read.
        let t = text(&o);
        assert!(t.contains(want) && !t.contains("nowhere"), "{extra:?}: {t}");
        assert!(
            !out.exists(),
            "{extra:?}: wrote {} despite the error",
            out.display()
        );
    }
    let Some(fm) = data(snnc_datasets::DatasetName::FashionMnist) else {
        return;
    };
    let o = snnc(&search_args(s(&fm), s(&out), &["--eval-samples", "20000"]));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("held-out split has 12000"),
        "{}",
        text(&o)
    );
}
