//! Shared by the ONNX tests (compiler and root package): find a Python with onnx and
//! onnxruntime, hand it models and inputs, read back logits, spike counts (as a `RunOutput`) and,
//! if asked, spike maps.
//!
//! Python is `$SNNC_PYTHON` (default `python3`). Without it, or without the packages, the tests
//! print why and skip, unless `SNNC_REQUIRE_ONNX=1` (set by `.ci/run`), which makes it a failure.
#![allow(dead_code)]

use snnc_compiler::reference::RunOutput;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/python/onnx_run.py` in the workspace.
pub fn script() -> PathBuf {
    workspace().join("tests/python/onnx_run.py")
}

fn workspace() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The compiler crate sits one level below the workspace; the root package is the workspace.
    if here.join("tests/python").is_dir() {
        here
    } else {
        here.join("..")
    }
}

/// The Python to run, or `None` (after printing why) when the tests should skip.
pub fn python(test: &str) -> Option<PathBuf> {
    let exe = std::env::var_os("SNNC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let probe = Command::new(&exe)
        .args(["-c", "import onnx, onnxruntime, numpy; print(onnx.__version__, onnxruntime.__version__, numpy.__version__)"])
        .output();
    let reason = match probe {
        Ok(o) if o.status.success() => {
            eprintln!(
                "{test}: using {} (onnx, onnxruntime, numpy: {})",
                exe.display(),
                String::from_utf8_lossy(&o.stdout).trim()
            );
            return Some(exe);
        }
        Ok(o) => format!(
            "{} cannot import onnx/onnxruntime/numpy: {}",
            exe.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("cannot run {}: {e}", exe.display()),
    };
    if std::env::var("SNNC_REQUIRE_ONNX").is_ok_and(|v| v == "1") {
        panic!(
            "{test}: SNNC_REQUIRE_ONNX=1 but {reason}; set SNNC_PYTHON to a Python with onnx, onnxruntime and numpy"
        );
    }
    eprintln!(
        "{test}: SKIPPED: {reason} (set SNNC_PYTHON to a Python with onnx==1.23.2 onnxruntime==1.31.1 numpy)"
    );
    None
}

/// Write a float32 `.npy` file (format 1.0, C order).
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) {
    assert_eq!(
        shape.iter().product::<usize>(),
        data.len(),
        "npy shape and data disagree"
    );
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write npy");
}

/// Samples (one direct frame or `T` frames each, as the reference interpreter takes them) as one
/// `.npy`: `[S, *frame]` or `[S, T, *frame]`.
pub fn write_inputs(path: &Path, inputs: &[Vec<f32>], frame: &[usize], steps: Option<usize>) {
    let mut shape = vec![inputs.len()];
    shape.extend(steps);
    shape.extend_from_slice(frame);
    let flat: Vec<f32> = inputs.iter().flatten().copied().collect();
    write_npy(path, &shape, &flat);
}

/// One model for the script: its file, the inputs' `.npy`, samples per onnxruntime call.
pub struct Job {
    pub model: PathBuf,
    pub input: PathBuf,
    pub batch: usize,
}

/// What one model produced.
#[derive(Debug)]
pub struct OnnxRun {
    pub model: String,
    pub kind: String,
    pub logits: Vec<Vec<f64>>,
    /// `(layer, [sample][t])` in the model's `snnc.layers` order.
    pub spikes: Vec<(String, Vec<Vec<u64>>)>,
    /// `(layer, [sample][t][neuron])`: each neuron's spike; empty unless asked for
    /// ([`run_with_spike_maps`]).
    pub spike_maps: Vec<(String, Vec<Vec<Vec<bool>>>)>,
}

impl OnnxRun {
    /// As the interpreters report runs; no near-threshold counts (the reference's license flips).
    pub fn to_run_output(&self) -> RunOutput {
        let samples = self.logits.len();
        let spikes: Vec<Vec<Vec<u64>>> = (0..samples)
            .map(|s| self.spikes.iter().map(|(_, per)| per[s].clone()).collect())
            .collect();
        let near = spikes
            .iter()
            .map(|l| l.iter().map(|t| vec![0; t.len()]).collect())
            .collect();
        RunOutput {
            predictions: self
                .logits
                .iter()
                .map(|l| snnc_compiler::reference::kernels::argmax(l))
                .collect(),
            logits: self.logits.clone(),
            layers: self.spikes.iter().map(|(l, _)| l.clone()).collect(),
            spikes,
            near_threshold: near,
        }
    }
}

/// Check and run every job in one Python process (imports cost more than small models).
pub fn run(python: &Path, dir: &Path, jobs: &[Job]) -> Vec<OnnxRun> {
    run_jobs(python, dir, jobs, false)
}

/// [`run`], also reading back every layer's spike map per step (the models must output them all:
/// `SpikeOutputs::All`), so a differing spike can be traced to its neuron.
pub fn run_with_spike_maps(python: &Path, dir: &Path, jobs: &[Job]) -> Vec<OnnxRun> {
    run_jobs(python, dir, jobs, true)
}

fn run_jobs(python: &Path, dir: &Path, jobs: &[Job], spike_maps: bool) -> Vec<OnnxRun> {
    let list: Vec<serde_json::Value> = jobs
        .iter()
        .map(|j| {
            serde_json::json!({
                "model": j.model, "input": j.input, "batch": j.batch, "spike_maps": spike_maps
            })
        })
        .collect();
    let jobs_path = dir.join("jobs.json");
    let results_path = dir.join("results.json");
    std::fs::write(&jobs_path, serde_json::json!({ "jobs": list }).to_string())
        .expect("write jobs");
    let out = Command::new(python)
        .arg(script())
        .arg(&jobs_path)
        .arg(&results_path)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "onnx_run.py failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results_path).expect("results"))
            .expect("results json");
    doc["results"]
        .as_array()
        .expect("results array")
        .iter()
        .map(|r| {
            let logits = r["logits"]
                .as_array()
                .expect("logits")
                .iter()
                .map(|row| {
                    row.as_array()
                        .expect("row")
                        .iter()
                        .map(|v| v.as_f64().expect("logit"))
                        .collect()
                })
                .collect();
            let spikes = r["spikes"]
                .as_object()
                .expect("spikes")
                .iter()
                .map(|(l, per)| {
                    let per = per
                        .as_array()
                        .expect("per sample")
                        .iter()
                        .map(|s| {
                            s.as_array()
                                .expect("per t")
                                .iter()
                                .map(|c| c.as_u64().expect("count"))
                                .collect()
                        })
                        .collect();
                    (l.clone(), per)
                })
                .collect();
            let spike_maps = match r.get("spike_maps") {
                None => Vec::new(),
                Some(maps) => maps
                    .as_object()
                    .expect("spike maps")
                    .iter()
                    .map(|(l, per)| (l.clone(), spike_map(per)))
                    .collect(),
            };
            OnnxRun {
                model: r["model"].as_str().unwrap_or_default().to_string(),
                kind: r["kind"].as_str().unwrap_or_default().to_string(),
                logits,
                spikes,
                spike_maps,
            }
        })
        .collect()
}

/// One layer's `[["0110..." per step] per sample]` from the script as `[sample][t][neuron]`.
fn spike_map(per_sample: &serde_json::Value) -> Vec<Vec<Vec<bool>>> {
    per_sample
        .as_array()
        .expect("spike map per sample")
        .iter()
        .map(|steps| {
            steps
                .as_array()
                .expect("spike map per step")
                .iter()
                .map(|bits| {
                    bits.as_str()
                        .expect("spike bits")
                        .bytes()
                        .map(|b| b == b'1')
                        .collect()
                })
                .collect()
        })
        .collect()
}
