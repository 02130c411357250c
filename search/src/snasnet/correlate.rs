//! The score/accuracy correlation study: score K sampled cells with SAHD and plain Hamming, train
//! each with a fixed budget, and report Kendall's tau of each score against test accuracy.

use super::kernel::KernelKind;
use super::sampler::CellMode;
use super::search::{SearchSettings, config, score_candidate};
use super::stats::kendall_tau_b;
use crate::arch::InputGeometry;
use crate::arch::snasnet::{CellGenotype, snasnet_network};
use crate::data::Augment;
use crate::train::{TrainConfig, TrainOutcome, train};
use serde::{Deserialize, Serialize};
use snnc_compiler::atomic;
use snnc_datasets::Dataset;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// One studied cell: a line of `correlate.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRecord {
    pub index: usize,
    pub genotype: String,
    #[serde(with = "crate::jsonl::float")]
    pub sahd: f64,
    #[serde(with = "crate::jsonl::float")]
    pub hamming: f64,
    #[serde(with = "crate::jsonl::float")]
    pub test_accuracy: f64,
}

/// Kendall's tau of each score against accuracy (None if undefined, e.g. constant accuracy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyReport {
    pub cells: usize,
    pub tau_sahd: Option<f64>,
    pub tau_hamming: Option<f64>,
}

fn read_study(path: &Path) -> Result<(Vec<StudyRecord>, String), String> {
    crate::jsonl::read_numbered(path, |r: &StudyRecord| r.index, "one study's log")
}

/// The scoring data of a study: how the dataset enters the network, the set, its augmentation.
#[derive(Debug, Clone, Copy)]
pub struct StudyData<'a> {
    pub geometry: InputGeometry,
    pub data: &'a Dataset,
    pub augment: Augment,
}

/// Run (or resume) the study in `dir`: `s.candidates` cells, scored as the search scores them
/// (`s.kernel` is ignored: both kernels are computed), each trained as `train_cfg` says into
/// `dir/train/<index>`. `progress(done, record)` hears about each new cell.
pub fn run_study(
    dir: &Path,
    s: &SearchSettings,
    input: &StudyData<'_>,
    train_cfg: &TrainConfig,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(usize, &StudyRecord),
) -> Result<StudyReport, String> {
    let StudyData {
        geometry,
        data,
        augment,
    } = *input;
    s.check()?;
    train_cfg.check()?;
    let mode: CellMode = s.cell.parse()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let settings_path = dir.join("study.json");
    let both = serde_json::json!({ "search": s, "train": train_cfg });
    if let Ok(text) = std::fs::read_to_string(&settings_path) {
        let old: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", settings_path.display()))?;
        let mut a = old.clone();
        let mut b = both.clone();
        a["search"]["candidates"] = serde_json::Value::Null;
        b["search"]["candidates"] = serde_json::Value::Null;
        if a != b {
            return Err(format!(
                "{} holds a study with other settings; use another --out",
                settings_path.display()
            ));
        }
    }
    let text = serde_json::to_string_pretty(&both).map_err(|e| e.to_string())?;
    atomic::write(&settings_path, (text + "\n").as_bytes())
        .map_err(|e| format!("{}: {e}", settings_path.display()))?;
    let log_path = dir.join("correlate.jsonl");
    let (mut records, kept) = read_study(&log_path)?;
    let mut log = crate::jsonl::reopen(&log_path, &kept)?;
    for index in records.len()..s.candidates {
        let sahd = score_candidate(index, s, mode, KernelKind::Sahd, geometry, data, augment)?;
        let hamming =
            score_candidate(index, s, mode, KernelKind::Hamming, geometry, data, augment)?;
        let geno: CellGenotype = sahd.genotype.parse()?;
        let net = snasnet_network(&geno, &config(geometry, s))?
            .validate()
            .map_err(|e| e.to_string())?;
        let run_dir = dir.join("train").join(index.to_string());
        // A cell whose training was cut off continues from its checkpoint (study.json pins the
        // settings); anything else in its folder is a fresh start.
        let checkpoint = run_dir.join("checkpoint");
        crate::checkpoint::recover(&checkpoint)?;
        let resume = checkpoint.join(crate::checkpoint::STATE).is_file();
        if !resume && run_dir.exists() {
            std::fs::remove_dir_all(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
        }
        let test_accuracy = match train(net, train_cfg, &run_dir, resume, stop, false)
            .map_err(|e| e.to_string())?
        {
            TrainOutcome::Finished { test_accuracy } => test_accuracy,
            TrainOutcome::Interrupted { .. } => {
                return Err("interrupted; run the same command again to continue".into());
            }
        };
        let r = StudyRecord {
            index,
            genotype: sahd.genotype,
            sahd: sahd.score,
            hamming: hamming.score,
            test_accuracy,
        };
        log.append(&r)?;
        records.push(r);
        progress(records.len(), records.last().expect("pushed"));
    }
    let acc: Vec<f64> = records.iter().map(|r| r.test_accuracy).collect();
    let sahd: Vec<f64> = records.iter().map(|r| r.sahd).collect();
    let ham: Vec<f64> = records.iter().map(|r| r.hamming).collect();
    let report = StudyReport {
        cells: records.len(),
        tau_sahd: kendall_tau_b(&sahd, &acc),
        tau_hamming: kendall_tau_b(&ham, &acc),
    };
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    let report_path = dir.join("report.json");
    atomic::write(&report_path, (text + "\n").as_bytes())
        .map_err(|e| format!("{}: {e}", report_path.display()))?;
    Ok(report)
}
