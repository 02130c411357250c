//! End-to-end CLI tests: `snnc arch`, `snnc train`, `snnc eval` on real data, and their errors.

use crate::common::{data, repo, s, snnc, text, train};
use std::path::Path;

#[test]
fn example_architectures_match_their_generators() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<&str>); 2] = [
        (
            "snasnet-backward-fmnist.json",
            vec![
                "arch",
                "snasnet",
                "--genotype",
                "0302 0030 3003 0000",
                "--dataset",
                "fashion-mnist",
                "--width",
                "8",
                "--hidden",
                "128",
                "--timesteps",
                "4",
            ],
        ),
        (
            "autosnn-fmnist.json",
            vec![
                "arch",
                "autosnn",
                "--blocks",
                "SRB_k5,SRB_k5,skip_connect,SRB_k3,SRB_k5",
                "--dataset",
                "fashion-mnist",
                "--width",
                "8",
                "--timesteps",
                "4",
            ],
        ),
    ];
    for (file, mut args) in cases {
        let out = dir.path().join(file);
        args.extend(["-o", s(&out)]);
        let o = snnc(&args);
        assert!(o.status.success(), "{}", text(&o));
        let generated = std::fs::read_to_string(&out).unwrap();
        let committed =
            std::fs::read_to_string(repo().join("examples/architectures").join(file)).unwrap();
        assert_eq!(
            generated,
            committed,
            "examples/architectures/{file} is stale: regenerate it with `snnc {}`",
            args.join(" ")
        );
    }
}

#[test]
fn every_example_architecture_trains_and_evaluates() {
    use snnc_datasets::DatasetName::{FashionMnist, Nmnist};
    let cases = [
        ("conv-snn-28.json", FashionMnist),
        ("snasnet-backward-fmnist.json", FashionMnist),
        ("autosnn-fmnist.json", FashionMnist),
        ("conv-snn-nmnist.json", Nmnist),
    ];
    for (arch, dataset) in cases {
        // A missing dataset is reported (a failure with SNNC_REQUIRE_DATA=1); the others still run.
        let Some(dir) = data(dataset) else { continue };
        let name = dataset.to_string();
        let run = tempfile::tempdir().unwrap();
        let arch_path = repo().join("examples/architectures").join(arch);
        let budget = [
            "--timesteps",
            "2",
            "--batch-size",
            "16",
            "--train-limit",
            "32",
            "--test-limit",
            "16",
            "--seed",
            "3",
        ];
        train(&arch_path, &name, &dir, run.path(), &budget);
        for f in [
            "network.json",
            "weights.safetensors",
            "metrics.jsonl",
            "checkpoint/state.json",
        ] {
            assert!(run.path().join(f).is_file(), "{arch}: {f} missing");
        }
        let metrics = std::fs::read_to_string(run.path().join("metrics.jsonl")).unwrap();
        let line: serde_json::Value =
            serde_json::from_str(metrics.lines().next().expect("one epoch")).unwrap();
        for key in [
            "epoch",
            "train_loss",
            "train_accuracy",
            "test_accuracy",
            "spikes_per_sample",
            "samples_per_second",
        ] {
            assert!(
                line.get(key)
                    .and_then(|v| v.as_f64())
                    .is_some_and(f64::is_finite),
                "{arch}: metrics line lacks a finite {key}: {line}"
            );
        }
        let o = snnc(&[
            "eval",
            "--run",
            s(run.path()),
            "--dataset",
            &name,
            "--data-dir",
            s(&dir),
            "--limit",
            "16",
            "--json",
        ]);
        assert!(o.status.success(), "{arch}: {}", text(&o));
        let ev: serde_json::Value =
            serde_json::from_slice(&o.stdout).expect("eval --json prints JSON");
        assert_eq!(ev["samples"], 16);
        let acc = ev["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
        let layers = ev["layers"].as_array().unwrap();
        assert!(!layers.is_empty(), "{arch}: no spiking layers reported");
        let total: f64 = layers
            .iter()
            .map(|l| l["spikes_per_sample"].as_f64().unwrap())
            .sum();
        assert!((total - ev["spikes_per_sample"].as_f64().unwrap()).abs() < 1e-6 * total.max(1.0));
        // The trained accuracy recorded by `train` is what `eval` measures on the same samples.
        let trained: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(run.path().join("network.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            trained["meta"]["test_accuracy"].as_f64().unwrap(),
            acc,
            "{arch}"
        );
    }
}

/// Run `snnc train` expecting a refusal; returns what it printed.
fn train_refusal(arch: &Path, dataset: &str, data_dir: &Path, out: &Path) -> String {
    let args = [
        "train",
        "--arch",
        s(arch),
        "--dataset",
        dataset,
        "--data-dir",
        s(data_dir),
        "--out",
        s(out),
    ];
    let o = snnc(&args);
    assert!(!o.status.success(), "snnc {} succeeded", args.join(" "));
    text(&o)
}

#[test]
fn train_rejects_a_broken_architecture_naming_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("bad.json");
    std::fs::write(
        &arch,
        r#"{"format_version":1,"timesteps":2,"num_classes":10,"input":{"shape":[64],"encoding":"direct"},
           "readout":{"node":"fc","kind":"time_mean"},
           "nodes":[{"name":"x","op":"input"},{"name":"fc","op":"linear","in_features":32,"out_features":10}],
           "edges":[{"from":"x","to":"fc"}]}"#,
    )
    .unwrap();
    let msg = train_refusal(
        &arch,
        "digits",
        Path::new("/nonexistent"),
        &dir.path().join("run"),
    );
    assert!(
        msg.contains("node `fc`") && msg.contains("in_features is 32 but the input has 64"),
        "{msg}"
    );
}

#[test]
fn train_reports_a_missing_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let arch = repo().join("examples/architectures/conv-snn-28.json");
    let missing = dir.path().join("no-such-folder");
    let msg = train_refusal(&arch, "mnist", &missing, &dir.path().join("run"));
    assert!(
        msg.contains("no-such-folder") && msg.contains("--data-dir"),
        "{msg}"
    );
}

#[test]
fn eval_reports_nan_weights_by_node() {
    let Some(digits) = data(snnc_datasets::DatasetName::Digits) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("mlp.json");
    std::fs::write(
        &arch,
        r#"{"format_version":1,"name":"mlp","timesteps":2,"num_classes":10,"input":{"shape":[64],"encoding":"direct"},
           "readout":{"node":"fc2","kind":"time_mean"},
           "nodes":[{"name":"x","op":"input"},{"name":"fc1","op":"linear","in_features":64,"out_features":16},
                    {"name":"lif","op":"lif","tau":2.0},{"name":"fc2","op":"linear","in_features":16,"out_features":10,"bias":true}],
           "edges":[{"from":"x","to":"fc1"},{"from":"fc1","to":"lif"},{"from":"lif","to":"fc2"}]}"#,
    )
    .unwrap();
    let run = dir.path().join("run");
    train(&arch, "digits", &digits, &run, &[]);
    let mut w = snnc_compiler::network::Weights::load(&run.join("weights.safetensors")).unwrap();
    w.tensors.get_mut("fc1.weight").unwrap().data[5] = f32::NAN;
    w.save(&run.join("weights.safetensors")).unwrap();
    let o = snnc(&[
        "eval",
        "--run",
        s(&run),
        "--dataset",
        "digits",
        "--data-dir",
        s(&digits),
    ]);
    assert!(!o.status.success());
    let msg = text(&o);
    assert!(
        msg.contains("node `fc1`") && msg.contains("fc1.weight") && msg.contains("non-finite"),
        "{msg}"
    );
}

/// One malformed `snnc arch` call per row: the family, its flags (the dataset is always mnist)
/// and what the refusal must say.
const MALFORMED_ARCHS: &[(&str, &[&str], &str)] = &[
    (
        "snasnet",
        &["--genotype", "0302 0030 3003 0000", "--second-pool", "0"],
        "second pool must be at least 1",
    ),
    (
        "autosnn",
        &[
            "--blocks",
            "SRB_k5,SRB_k5,skip_connect,SRB_k3,SRB_k3",
            "--width",
            "0",
        ],
        "width and timesteps must be at least 1",
    ),
    (
        "snasnet",
        &["--genotype", "0302 0030 3003"],
        "four 4-digit rows",
    ),
    (
        "snasnet",
        &["--genotype", "0302 0030 3093 0000"],
        "op codes are 0-4",
    ),
    (
        "snasnet",
        &["--genotype", "0300 0030 0003 0000"],
        "no direct input -> output edge",
    ),
    (
        "autosnn",
        &["--blocks", "SRB_k5,SRB_k5,skip_connect,SRB_k3"],
        "has 5 blocks",
    ),
    (
        "autosnn",
        &["--blocks", "SRB_k5,SRB_k9,skip_connect,SRB_k3,SRB_k5"],
        "unknown block `SRB_k9`",
    ),
];

#[test]
fn arch_rejects_malformed_genotypes_and_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.json");
    for (row, (family, flags, expected)) in MALFORMED_ARCHS.iter().enumerate() {
        let mut args = vec!["arch", family];
        args.extend_from_slice(flags);
        args.extend(["--dataset", "mnist", "-o", s(&out)]);
        let o = snnc(&args);
        let case = format!("row {row} (snnc {})", args.join(" "));
        assert!(!o.status.success(), "{case} succeeded");
        let msg = text(&o);
        assert!(
            msg.contains(expected),
            "{case}: expected `{expected}` in: {msg}"
        );
        assert!(!out.exists(), "{case} wrote a file despite the error");
    }
}

/// One bad `snnc train` flag per row and what the refusal must say; the flags are checked before
/// the (missing) data folder is read.
const BAD_TRAIN_FLAGS: &[(&[&str], &str)] = &[
    (&["--epochs", "0"], "--epochs must be at least 1"),
    (
        &["--train-limit", "0"],
        "--train-limit and --test-limit must be at least 1",
    ),
    (&["--schedule", "linear"], "unknown --schedule `linear`"),
    (&["--optimizer", "rmsprop"], "unknown optimizer `rmsprop`"),
    (&["--augment", "rotate"], "unknown augmentation `rotate`"),
    (&["--lr=-1"], "--lr must be a positive number"),
    (&["--timesteps", "0"], "timesteps must be at least 1"),
];

#[test]
fn train_rejects_bad_flag_values() {
    let dir = tempfile::tempdir().unwrap();
    let arch = repo().join("examples/architectures/conv-snn-28.json");
    for (row, (extra, expected)) in BAD_TRAIN_FLAGS.iter().enumerate() {
        let mut args = vec![
            "train",
            "--arch",
            s(&arch),
            "--dataset",
            "mnist",
            "--data-dir",
            "/nonexistent",
            "--out",
            s(dir.path()),
        ];
        args.extend_from_slice(extra);
        let o = snnc(&args);
        let case = format!("row {row} ({})", extra.join(" "));
        assert!(!o.status.success(), "{case} succeeded");
        let msg = text(&o);
        assert!(
            msg.contains(expected),
            "{case}: expected `{expected}` in: {msg}"
        );
    }
}

#[test]
fn snasnet_batch_norm_is_per_step_after_the_stem_unless_shared_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let per_step_bns = |extra: &[&str]| {
        let out = dir.path().join("a.json");
        let mut args = vec![
            "arch",
            "snasnet",
            "--genotype",
            "0302 0030 3003 0000",
            "--dataset",
            "fashion-mnist",
            "--width",
            "4",
            "-o",
            s(&out),
        ];
        args.extend(extra);
        let o = snnc(&args);
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["op"] == "batch_norm")
            .map(|n| {
                let name = n["name"].as_str().unwrap().to_string();
                (name, n["per_step"].as_bool().unwrap_or(false))
            })
            .collect::<Vec<(String, bool)>>()
    };
    let default = per_step_bns(&[]);
    assert!(default.len() > 2, "{default:?}");
    for (name, per_step) in &default {
        assert_eq!(*per_step, name != "stem.bn", "{name}");
    }
    assert!(per_step_bns(&["--shared-bn"]).iter().all(|(_, p)| !p));
}

/// A digits MLP whose `lif` leaks and fires per neuron, by tensors the weights must hold.
const PER_NEURON_MLP: &str = r#"{"format_version":1,"name":"per-neuron-mlp","timesteps":4,"num_classes":10,
  "input":{"shape":[64],"encoding":"direct"},"readout":{"node":"fc2","kind":"time_mean"},
  "nodes":[{"name":"x","op":"input"},{"name":"fc1","op":"linear","in_features":64,"out_features":16,"bias":true},
           {"name":"lif","op":"lif","beta":"lif.beta","threshold":"lif.threshold","decay_input":false},
           {"name":"fc2","op":"linear","in_features":16,"out_features":10,"bias":true}],
  "edges":[{"from":"x","to":"fc1"},{"from":"fc1","to":"lif"},{"from":"lif","to":"fc2"}]}"#;

/// Per-neuron parameters are constants of the network: training reads them from the weights
/// beside the architecture (and without them fails naming the tensor), keeps them through
/// `--resume` and writes them with the trained weights, and `snnc eval` evaluates with them.
#[test]
fn per_neuron_parameters_train_as_constants_and_evaluate() {
    let Some(digits) = data(snnc_datasets::DatasetName::Digits) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let arch_dir = dir.path().join("arch");
    std::fs::create_dir_all(&arch_dir).unwrap();
    let arch = arch_dir.join("network.json");
    std::fs::write(&arch, PER_NEURON_MLP).unwrap();
    let run = dir.path().join("run");
    let args = |extra: &[&'static str]| {
        let mut a: Vec<String> = [
            "train",
            "--arch",
            s(&arch),
            "--dataset",
            "digits",
            "--data-dir",
            s(&digits),
            "--out",
            s(&run),
            "--train-limit",
            "300",
            "--test-limit",
            "100",
            "--quiet",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        a.extend(extra.iter().map(|a| a.to_string()));
        a
    };
    let call = |a: Vec<String>| snnc(&a.iter().map(String::as_str).collect::<Vec<_>>());

    let o = call(args(&["--epochs", "1"]));
    assert!(!o.status.success(), "trained without its per-neuron values");
    let msg = text(&o);
    assert!(
        msg.contains("`lif.beta`") && msg.contains("weights.safetensors"),
        "{msg}"
    );

    let mut given = snnc_compiler::network::Weights::default();
    let betas: Vec<f32> = (0..16).map(|i| 0.5 + 0.025 * i as f32).collect();
    given.tensors.insert(
        "lif.beta".into(),
        snnc_compiler::network::Tensor::new(vec![16], betas),
    );
    given.tensors.insert(
        "lif.threshold".into(),
        snnc_compiler::network::Tensor::new(vec![], vec![0.75]),
    );
    given.save(&arch_dir.join("weights.safetensors")).unwrap();
    for extra in [&["--epochs", "1"][..], &["--epochs", "2", "--resume"][..]] {
        let o = call(args(extra));
        assert!(o.status.success(), "{extra:?}: {}", text(&o));
        let trained =
            snnc_compiler::network::Weights::load(&run.join("weights.safetensors")).unwrap();
        for name in ["lif.beta", "lif.threshold"] {
            assert_eq!(
                trained.get(name),
                given.get(name),
                "{extra:?}: `{name}` kept"
            );
        }
    }

    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value =
        serde_json::from_str(metrics.lines().last().expect("a metrics line")).unwrap();
    let o = snnc(&[
        "eval",
        "--run",
        s(&run),
        "--dataset",
        "digits",
        "--data-dir",
        s(&digits),
        "--limit",
        "100",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        eval["accuracy"], last["test_accuracy"],
        "eval scores the run as its last epoch did"
    );
}
