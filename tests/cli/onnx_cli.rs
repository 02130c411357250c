//! ONNX end to end through the command line: `snnc export` and `snnc compile --emit onnx-*` on
//! trained networks and fixtures; the exported models pass `onnx.checker` and, run in
//! onnxruntime on real test data, agree with the reference interpreter and the event-driven
//! runtime (equivalence ladder); the Python deployment example runs and agrees with `snnc run`.

use crate::common::{data, repo as root, s, snnc, text};

use crate::fixtures::{self, fixture};
use crate::onnx_common;

use snnc_compiler::emit::onnx::Interface;
use snnc_compiler::reference::{compare, run_module};
use snnc_runtime::Inputs;
use std::path::Path;
use std::process::Command;

/// Test samples per trained network.
const SAMPLES: usize = 64;

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn exported_trained_networks_agree_in_onnxruntime_on_real_data() {
    let runs = fixtures::trained_runs();
    let Some(py) = onnx_common::python("exported trained networks") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let out = tmp.path().join(format!("export{i}"));
        let o = snnc(&["export", s(run), "--out", s(&out)]);
        assert!(o.status.success(), "{}: {}", run.display(), text(&o));
        let mf = manifest(&out);
        for f in ["ir", "step", "sequence"] {
            assert!(
                out.join(mf["files"][f].as_str().unwrap()).is_file(),
                "{}: no {f} file",
                run.display()
            );
        }
        // What the runtime loads is what was exported: parse it back.
        let module = snnc_runtime::load::load(&out.join("network.snnir")).unwrap();
        let dataset: snnc_datasets::DatasetName = mf["meta"]["dataset"]
            .as_str()
            .expect("meta.dataset")
            .parse()
            .unwrap();
        let Some(data_dir) = data(dataset) else {
            continue;
        };
        let plan = snnc_runtime::Plan::new(&module).unwrap();
        let data = snnc_runtime::data::DatasetInputs::load(
            &plan,
            dataset,
            &data_dir,
            snnc_datasets::Split::Test,
            Some(SAMPLES),
        )
        .unwrap();
        let x: Vec<Vec<f32>> = (0..data.len())
            .map(|i| {
                let mut v = Vec::new();
                data.fill(i, &mut v).unwrap();
                v
            })
            .collect();
        let step: Interface = serde_json::from_value(mf["step"].clone()).unwrap();
        let frame: Vec<usize> = step.inputs[0].shape[1..]
            .iter()
            .map(|d| match d {
                snnc_compiler::emit::onnx::Dim::Fixed(k) => *k,
                _ => panic!("only the batch is symbolic"),
            })
            .collect();
        let events = mf["encoding"] == "event_frames";
        let input = tmp.path().join(format!("x{i}.npy"));
        onnx_common::write_inputs(&input, &x, &frame, events.then_some(module.timesteps));
        let reference = run_module(&module, &x).unwrap();
        let runtime = plan.run_output(&plan.run_batch(&x[..], false, None).unwrap());
        for kind in ["step", "sequence"] {
            jobs.push(onnx_common::Job {
                model: out.join(mf["files"][kind].as_str().unwrap()),
                input: input.clone(),
                batch: 16,
            });
            expected.push((
                format!("{} {kind}", run.display()),
                reference.clone(),
                runtime.clone(),
            ));
        }
    }
    let runs = onnx_common::run(&py, tmp.path(), &jobs);
    for (run, (what, reference, runtime)) in runs.iter().zip(&expected) {
        let onnx = run.to_run_output();
        let ag = compare(reference, &onnx);
        ag.check()
            .unwrap_or_else(|e| panic!("{what} vs the reference interpreter: {e}"));
        compare(runtime, &onnx)
            .check()
            .unwrap_or_else(|e| panic!("{what} vs the runtime: {e}"));
        let spikes: u64 = onnx.spikes.iter().flatten().flatten().sum();
        eprintln!(
            "{what}: {SAMPLES} test samples, {spikes} spikes, max logit error {:.1e}, flip rate {:.1e}",
            ag.max_logit_error,
            ag.flip_rate()
        );
    }
}

#[test]
fn compile_emits_both_onnx_models_and_export_writes_a_complete_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let snasnet = fixture("snasnet_c10");
    let (step_path, seq_path) = (tmp.path().join("step.onnx"), tmp.path().join("seq.onnx"));
    for (emit, model) in [("onnx-step", &step_path), ("onnx-seq", &seq_path)] {
        let args = [
            "compile",
            s(&snasnet),
            "--synthetic-weights",
            "7",
            "--emit",
            emit,
            "-o",
            s(model),
        ];
        let o = snnc(&args);
        assert!(o.status.success(), "snnc {}: {}", args.join(" "), text(&o));
    }
    assert!(std::fs::metadata(&step_path).unwrap().len() > 10_000);

    let out = tmp.path().join("export");
    let o = snnc(&[
        "export",
        s(&fixture("delay2")),
        "--synthetic-weights",
        "7",
        "--out",
        s(&out),
        "--spikes",
        "lif1",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let mf = manifest(&out);
    assert_eq!(mf["module"], "delay2");
    assert_eq!(mf["timesteps"], 7);
    assert_eq!(mf["encoding"], "direct");
    assert_eq!(mf["layers"], serde_json::json!(["lif1"]));
    assert_eq!(mf["source"]["weights"], "synthetic:7");
    assert_eq!(mf["source"]["hash"].as_str().unwrap().len(), 16);
    assert_eq!(mf["onnx"]["opset"], 17);
    let step: Interface = serde_json::from_value(mf["step"].clone()).unwrap();
    let states: Vec<&str> = step.states.iter().map(|s| s.input.as_str()).collect();
    assert_eq!(states, ["membrane.lif1", "delay.lif1", "readout.acc"]);
    assert!(step.outputs.iter().any(|o| o.name == "spikes.lif1"));
    // The text IR is what `snnc ir check` (and the runtime) accepts.
    let o = snnc(&["ir", "check", s(&out.join("network.snnir"))]);
    assert!(o.status.success(), "{}", text(&o));

    if let Some(py) = onnx_common::python("compile --emit onnx") {
        let net = snnc_compiler::network::Network::load(&snasnet.join("network.json")).unwrap();
        let x = snnc_compiler::synth::inputs(&net, 2, 1);
        let input = tmp.path().join("x.npy");
        onnx_common::write_inputs(&input, &x, &[3, 16, 16], None);
        let jobs: Vec<_> = [&step_path, &seq_path]
            .iter()
            .map(|m| onnx_common::Job {
                model: m.to_path_buf(),
                input: input.clone(),
                batch: 2,
            })
            .collect();
        let runs = onnx_common::run(&py, tmp.path(), &jobs);
        let a = runs[0].to_run_output();
        compare(&a, &runs[1].to_run_output()).check().unwrap();
    }
}

/// The `per_neuron` fixture (per-neuron beta, threshold, `v_reset`, alpha, `w_in`, `v_leak`,
/// `v_min` and an integrator's per-neuron rest) through `snnc export`: the manifest gives the
/// per-neuron starts as nested lists, and both models, driven from the manifest's interface,
/// agree in onnxruntime with the reference interpreter on the exported IR.
#[test]
fn exported_per_neuron_parameters_agree_in_onnxruntime() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("export");
    let o = snnc(&[
        "export",
        s(&fixture("per_neuron")),
        "--synthetic-weights",
        "7",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let mf = manifest(&out);
    let module = snnc_runtime::load::load(&out.join("network.snnir")).unwrap();
    let step: Interface = serde_json::from_value(mf["step"].clone()).unwrap();
    let starts: Vec<(&str, usize)> = mf["step"]["states"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|st| Some((st["input"].as_str()?, st["init"].as_array()?.len())))
        .collect();
    // syn2's v_reset and the readout integrator's rest are per neuron; lif1's v_reset is not.
    assert_eq!(starts, [("membrane.syn2", 8), ("membrane.readout", 4)]);
    assert!(
        step.states
            .iter()
            .any(|st| st.doc.contains("initializer `syn2.alpha`")),
        "the current's doc names its per-neuron alpha"
    );
    let Some(py) = onnx_common::python("exported per-neuron parameters") else {
        return;
    };
    let net =
        snnc_compiler::network::Network::load(&fixture("per_neuron").join("network.json")).unwrap();
    let x = snnc_compiler::synth::inputs(&net, 5, 3);
    let input = tmp.path().join("x.npy");
    onnx_common::write_inputs(&input, &x, &[2, 6, 6], None);
    let reference = run_module(&module, &x).unwrap();
    let jobs: Vec<_> = ["step", "sequence"]
        .iter()
        .map(|kind| onnx_common::Job {
            model: out.join(mf["files"][kind].as_str().unwrap()),
            input: input.clone(),
            batch: 3,
        })
        .collect();
    for (run, kind) in onnx_common::run(&py, tmp.path(), &jobs)
        .iter()
        .zip(["step", "sequence"])
    {
        let ag = compare(&reference, &run.to_run_output());
        ag.check()
            .unwrap_or_else(|e| panic!("per_neuron {kind} vs the reference interpreter: {e}"));
        let spikes: u64 = reference.spikes.iter().flatten().flatten().sum();
        assert!(spikes > 0, "the fixture should spike");
        eprintln!(
            "per_neuron {kind}: {spikes} spikes, max logit error {:.1e}, flip rate {:.1e}",
            ag.max_logit_error,
            ag.flip_rate()
        );
    }
}

#[test]
fn export_errors_name_the_problem_and_leave_no_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("export");
    let o = snnc(&[
        "export",
        s(&fixture("delay2")),
        "--synthetic-weights",
        "7",
        "--out",
        s(&out),
        "--spikes",
        "nope",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("no spiking layer `nope` to output spikes of; the layers are: lif1"),
        "{}",
        text(&o)
    );
    assert!(!out.exists(), "a failed export must not create the folder");
    let o = snnc(&["export", s(&fixture("mlp")), "--out", s(&out)]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--synthetic-weights SEED"),
        "{}",
        text(&o)
    );
}

/// examples/onnx_host_loop.py on a trained network: it exports it, prints the step model's
/// predictions from a host loop, and checks the sequence model and `snnc run` (accuracy and
/// spikes per layer and timestep) against them.
#[test]
fn the_python_deployment_example_agrees_with_snnc_run() {
    let run = fixture("trained/fmnist-conv");
    let Some(data_dir) = data(snnc_datasets::DatasetName::FashionMnist) else {
        return;
    };
    let Some(py) = onnx_common::python("examples/onnx_host_loop.py") else {
        return;
    };
    // Given the training output folder, the example exports it with `snnc export` itself.
    let o = Command::new(py)
        .arg(root().join("examples/onnx_host_loop.py"))
        .args([
            s(&run),
            "--data-dir",
            s(&data_dir),
            "--samples",
            "32",
            "--snnc",
            env!("CARGO_BIN_EXE_snnc"),
        ])
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("sample  label  prediction"), "{t}");
    assert!(
        t.contains("snnc run: accuracy") && t.contains("spikes per layer and timestep equal"),
        "{t}"
    );
    eprintln!("{t}");
}
