//! `snnc run` end to end on networks trained here for a few batches: the runtime agrees with the
//! reference interpreter on real data (equivalence ladder), with Candle's `snnc eval` on accuracy
//! and spikes, and with itself whether given the training directory or the compiled `.snnir`.

use crate::common::{data, repo, s, snnc, text, train};

use snnc_compiler::reference::{compare, run_module};
use snnc_datasets::DatasetName::{self, FashionMnist, Nmnist};
use snnc_runtime::data::DatasetInputs;
use snnc_runtime::{Inputs, Plan};
use std::path::Path;

const SAMPLES: usize = 24;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// Train `arch` for a few batches at its own timestep count.
fn train_briefly(arch: &str, dataset: DatasetName, data: &Path, out: &Path) {
    let arch_path = repo().join("examples/architectures").join(arch);
    let budget = [
        "--batch-size",
        "32",
        "--train-limit",
        "96",
        "--test-limit",
        "16",
        "--seed",
        "5",
    ];
    train(&arch_path, &dataset.to_string(), data, out, &budget);
}

/// The ladder between the reference interpreter and the runtime on real samples.
fn ladder(what: &str, dir: &Path, dataset: DatasetName, data: &Path) {
    let m = snnc_runtime::load::load(dir).unwrap();
    let plan = Plan::new(&m).unwrap();
    let inputs = DatasetInputs::load(
        &plan,
        dataset,
        data,
        snnc_datasets::Split::Test,
        Some(SAMPLES),
    )
    .unwrap();
    let x: Vec<Vec<f32>> = (0..inputs.len())
        .map(|i| {
            let mut v = Vec::new();
            inputs.fill(i, &mut v).unwrap();
            v
        })
        .collect();
    let reference = run_module(&m, &x).unwrap();
    let mine = plan.run_output(&plan.run_batch(&x, false, None).unwrap());
    let ag = compare(&reference, &mine);
    ag.check().unwrap_or_else(|e| panic!("{what}: {e}"));
    eprintln!(
        "{what}: {} spikes, flip rate {:.1e}, logit error {:.1e}",
        ag.spikes,
        ag.flip_rate(),
        ag.max_logit_error
    );
}

#[test]
fn trained_networks_run_and_agree_everywhere() {
    let cases = [
        ("conv-snn-28.json", FashionMnist),
        ("snasnet-backward-fmnist.json", FashionMnist),
        ("conv-snn-nmnist.json", Nmnist),
    ];
    for (arch, dataset) in cases {
        // A missing dataset is reported (a failure with SNNC_REQUIRE_DATA=1); the others still run.
        let Some(data) = data(dataset) else {
            continue;
        };
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        train_briefly(arch, dataset, &data, &run);
        ladder(arch, &run, dataset, &data);

        let name = dataset.to_string();
        let n = SAMPLES.to_string();
        let (report, csv, plot) = (
            tmp.path().join("r.json"),
            tmp.path().join("csv"),
            tmp.path().join("p.svg"),
        );
        // `snnc run` of `module` on the test samples, priced on Loihi, reporting to `report`.
        let run_on_loihi = |module: &Path, report: &Path, extra: &[&str]| {
            let mut args = vec![
                "run",
                s(module),
                "--dataset",
                &name,
                "--data-dir",
                s(&data),
                "--samples",
                &n,
                "--target",
                "loihi",
                "--report",
                s(report),
            ];
            args.extend_from_slice(extra);
            snnc(&args)
        };
        let o = run_on_loihi(&run, &report, &["--csv", s(&csv), "--plot", s(&plot)]);
        assert!(o.status.success(), "{arch}: {}", text(&o));
        let table = String::from_utf8_lossy(&o.stdout);
        assert!(
            table.contains("accuracy") && table.contains("energy per sample on loihi"),
            "{arch}: {table}"
        );

        let r = json(&report);
        let t = r["timesteps"].as_u64().unwrap() as usize;
        assert_eq!(r["samples"], SAMPLES);
        assert_eq!(r["target"]["name"], "loihi");
        for key in [
            "spikes",
            "sops",
            "macs",
            "dense",
            "effective_acs",
            "effective_macs",
            "activation_sparsity",
        ] {
            assert!(r["totals"][key].is_number(), "{arch}: totals.{key} missing");
        }
        for key in ["total_j", "arithmetic_j", "memory_j", "per_layer"] {
            assert!(!r["energy"][key].is_null(), "{arch}: energy.{key} missing");
        }
        assert!(r["energy"]["total_j"].as_f64().unwrap() > 0.0);
        let layers = r["layers"].as_array().unwrap();
        for l in layers {
            for key in [
                "spikes_per_timestep",
                "sops_per_timestep",
                "macs_per_timestep",
            ] {
                assert_eq!(
                    l[key].as_array().map(Vec::len),
                    Some(t),
                    "{arch}: layer {} {key}",
                    l["name"]
                );
            }
            assert!(l["name"].is_string() && l["neurons"].as_u64().unwrap() > 0);
        }
        for f in [
            "layers.csv",
            "spikes.csv",
            "sops.csv",
            "macs.csv",
            "energy.csv",
        ] {
            let text = std::fs::read_to_string(csv.join(f)).unwrap();
            assert_eq!(text.lines().count(), layers.len() + 1, "{arch}: {f}");
        }
        assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));

        // Candle's eval on the same samples: the same accuracy, the same spikes per layer.
        let o = snnc(&[
            "eval",
            "--run",
            s(&run),
            "--dataset",
            &name,
            "--data-dir",
            s(&data),
            "--limit",
            &n,
            "--json",
        ]);
        assert!(o.status.success(), "{arch}: {}", text(&o));
        let ev: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            ev["accuracy"].as_f64(),
            r["accuracy"].as_f64(),
            "{arch}: eval and run disagree on accuracy"
        );
        for el in ev["layers"].as_array().unwrap() {
            let name = el["name"].as_str().unwrap();
            let mine = layers
                .iter()
                .find(|l| l["name"] == name)
                .unwrap_or_else(|| panic!("{arch}: no layer `{name}` in the report"));
            let (a, b) = (
                el["spikes_per_sample"].as_f64().unwrap(),
                mine["counts"]["spikes"].as_f64().unwrap(),
            );
            assert!(
                (a - b).abs() <= 1e-3 * a.max(1.0),
                "{arch}: layer `{name}`: eval {a} spikes per sample, run {b}"
            );
        }

        // The compiled module runs to the same counts as the training directory.
        let ir = tmp.path().join("net.snnir");
        let o = snnc(&["compile", s(&run), "-o", s(&ir)]);
        assert!(o.status.success(), "{arch}: {}", text(&o));
        let report2 = tmp.path().join("r2.json");
        let o = run_on_loihi(&ir, &report2, &["--quiet"]);
        assert!(o.status.success(), "{arch}: {}", text(&o));
        assert!(o.stdout.is_empty(), "--quiet prints nothing");
        let r2 = json(&report2);
        assert_eq!(
            r2["totals"], r["totals"],
            "{arch}: .snnir and directory differ"
        );
        assert_eq!(
            r2["layers"], r["layers"],
            "{arch}: .snnir and directory differ"
        );
    }
}

#[test]
fn run_errors_name_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nothing-here");
    let o = snnc(&[
        "run",
        s(&missing),
        "--dataset",
        "mnist",
        "--data-dir",
        s(tmp.path()),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("nothing-here"), "{}", text(&o));

    // An architecture without weights is not a compiled network.
    let arch_dir = tmp.path().join("arch");
    std::fs::create_dir_all(&arch_dir).unwrap();
    std::fs::copy(
        repo().join("examples/architectures/conv-snn-28.json"),
        arch_dir.join("network.json"),
    )
    .unwrap();
    let o = snnc(&[
        "run",
        s(&arch_dir),
        "--dataset",
        "mnist",
        "--data-dir",
        s(tmp.path()),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("weights.safetensors"), "{}", text(&o));

    let Some(nmnist) = data(Nmnist) else {
        return;
    };
    let ir = tmp.path().join("conv.snnir");
    let arch = repo().join("examples/architectures/conv-snn-28.json");
    let o = snnc(&[
        "compile",
        s(&arch),
        "--synthetic-weights",
        "1",
        "-o",
        s(&ir),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = snnc(&[
        "run",
        s(&ir),
        "--dataset",
        "nmnist",
        "--data-dir",
        s(&nmnist),
        "--samples",
        "2",
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("direct-encoded"), "{}", text(&o));
    let o = snnc(&[
        "run",
        s(&ir),
        "--dataset",
        "nmnist",
        "--data-dir",
        s(&nmnist),
        "--target",
        "no-such-chip",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("cmos45-fp32"),
        "unknown targets list the built-ins: {}",
        text(&o)
    );
}

/// `snnc targets fit`: a plain conv SNN fits Loihi; the per-step SNASNet net does not (its BN
/// relays carry graded events) and the command says which limit, with exit code 1; the JSON
/// form carries the same verdicts; a module that does not validate is an error, not a panic.
#[test]
fn targets_fit_reports_each_limit() {
    let trained = crate::fixtures::fixture("trained");
    let conv = trained.join("fmnist-conv");
    let o = snnc(&["targets", "fit", s(&conv), "--target", "loihi"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("fits loihi by every stated limit"), "{t}");
    assert!(
        t.contains("ok   longest delay (steps): needs 0, limit 63"),
        "{t}"
    );

    let snas = trained.join("snasnet-fmnist");
    let o = snnc(&["targets", "fit", s(&snas), "--target", "loihi"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("OVER graded projections between on-chip layers"),
        "{}",
        text(&o)
    );
    let o = snnc(&[
        "targets",
        "fit",
        s(&snas),
        "--target",
        "truenorth",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let over: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["what"].as_str().unwrap())
        .collect();
    assert!(over.contains(&"fan-out of one neuron"), "{over:?}");
    assert_eq!(r["target"], "truenorth");

    // An architecture alone is checked with placeholder weights: shapes are all it needs.
    let arch = repo().join("examples/architectures/conv-snn-28.json");
    let o = snnc(&["targets", "fit", s(&arch), "--target", "loihi"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("fits loihi"), "{}", text(&o));

    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.snnir");
    std::fs::write(
        &bad,
        "snnir 1\nmodule \"m\" timesteps=0 classes=2\np0 = input \"x\" [2] direct\np1 = readout \"out\" [2] time_mean\ne0 = identity p0 -> p1 graded\n",
    )
    .unwrap();
    let o = snnc(&["targets", "fit", s(&bad)]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("bad.snnir is not a valid module") && t.contains("timesteps"),
        "{t}"
    );
    assert!(!t.contains("panicked"), "{t}");
}
