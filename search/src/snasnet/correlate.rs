//! The score/accuracy correlation study: score K sampled cells with SAHD and plain Hamming, train
//! each with a fixed budget, and report Kendall's tau of each score against test accuracy.

use super::kernel::KernelKind;
use super::sampler::CellMode;
use super::search::{SearchSettings, config, score_candidate};
use super::stats::kendall_tau_b;
use crate::arch::InputGeometry;
use crate::arch::snasnet::{CellGenotype, snasnet_network};
use crate::data::Augment;
use crate::error::{Result, SearchError};
use crate::train::{TrainConfig, TrainOutcome, train};
use serde::{Deserialize, Serialize};
use snnc_compiler::atomic;
use snnc_compiler::network::Weights;
use snnc_datasets::Dataset;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

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

fn read_study(path: &Path) -> Result<(Vec<StudyRecord>, String)> {
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
/// `dir/train/<index>`. `jobs` cells are scored and trained at once, each on its share of rayon's
/// threads: training barely gains from a second thread, so on a 2-core machine two cells at a
/// time nearly halve the study's wall time. Results do not depend on `jobs` (training is
/// bit-identical across thread counts), and the log stays in index order. `progress(done,
/// record)` hears about each new cell.
pub fn run_study(
    dir: &Path,
    s: &SearchSettings,
    input: &StudyData<'_>,
    train_cfg: &TrainConfig,
    jobs: usize,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(usize, &StudyRecord),
) -> Result<StudyReport> {
    s.check()?;
    train_cfg.check()?;
    if jobs == 0 {
        return Err(SearchError::setting("--jobs must be at least 1"));
    }
    let mode: CellMode = s.cell.parse()?;
    std::fs::create_dir_all(dir).map_err(|e| SearchError::io(dir, e))?;
    let settings_path = dir.join("study.json");
    let both = serde_json::json!({ "search": s, "train": train_cfg });
    if let Ok(text) = std::fs::read_to_string(&settings_path) {
        let old: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| SearchError::corrupt(&settings_path, e))?;
        let mut a = old.clone();
        let mut b = both.clone();
        a["search"]["candidates"] = serde_json::Value::Null;
        b["search"]["candidates"] = serde_json::Value::Null;
        if a != b {
            return Err(SearchError::OtherSettings {
                path: settings_path,
                found: old.to_string(),
            });
        }
    }
    let text = serde_json::to_string_pretty(&both).expect("JSON values serialise");
    atomic::write(&settings_path, (text + "\n").as_bytes())
        .map_err(|e| SearchError::io(&settings_path, e))?;
    let log_path = dir.join("correlate.jsonl");
    let (mut records, kept) = read_study(&log_path)?;
    let mut log = crate::jsonl::reopen(&log_path, &kept)?;

    let first = records.len();
    let todo = s.candidates.saturating_sub(first);
    let jobs = jobs.min(todo.max(1));
    let threads = (rayon::current_num_threads() / jobs).max(1);
    let pools = (0..jobs)
        .map(|_| rayon::ThreadPoolBuilder::new().num_threads(threads).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| SearchError::Threads {
            message: e.to_string(),
        })?;
    let next = AtomicUsize::new(first);
    // The workers' own stop flag: raised on Ctrl-C (copied from `stop`) or when a cell fails, so
    // the other cells checkpoint and stop too.
    let halt = AtomicBool::new(stop.load(Ordering::SeqCst));
    let (tx, rx) = mpsc::channel::<(usize, Result<StudyRecord>)>();
    let mut finished: BTreeMap<usize, StudyRecord> = BTreeMap::new();
    let mut failure: Option<SearchError> = None;
    std::thread::scope(|scope| {
        for pool in &pools {
            let (tx, next, halt) = (tx.clone(), &next, &halt);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= s.candidates || halt.load(Ordering::SeqCst) {
                        return;
                    }
                    let r =
                        pool.install(|| study_cell(dir, index, s, mode, input, train_cfg, halt));
                    let failed = r.is_err();
                    if tx.send((index, r)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(tx);
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok((index, result)) => match result {
                    Ok(r) => {
                        finished.insert(index, r);
                    }
                    Err(e) => {
                        halt.store(true, Ordering::SeqCst);
                        // A real error outranks the interruptions it causes in the other cells.
                        if failure
                            .as_ref()
                            .is_none_or(|f| matches!(f, SearchError::Interrupted))
                        {
                            failure = Some(e);
                        }
                    }
                },
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if stop.load(Ordering::SeqCst) {
                halt.store(true, Ordering::SeqCst);
            }
            // Log the finished cells that continue the numbered prefix, in order.
            while let Some(r) = finished.remove(&records.len()) {
                if let Err(e) = log.append(&r) {
                    halt.store(true, Ordering::SeqCst);
                    failure.get_or_insert(e);
                    break;
                }
                records.push(r);
                progress(records.len(), records.last().expect("pushed"));
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    if records.len() < s.candidates {
        return Err(SearchError::Interrupted);
    }
    let acc: Vec<f64> = records.iter().map(|r| r.test_accuracy).collect();
    let sahd: Vec<f64> = records.iter().map(|r| r.sahd).collect();
    let ham: Vec<f64> = records.iter().map(|r| r.hamming).collect();
    let report = StudyReport {
        cells: records.len(),
        tau_sahd: kendall_tau_b(&sahd, &acc),
        tau_hamming: kendall_tau_b(&ham, &acc),
    };
    let text = serde_json::to_string_pretty(&report).expect("reports serialise");
    let report_path = dir.join("report.json");
    atomic::write(&report_path, (text + "\n").as_bytes())
        .map_err(|e| SearchError::io(&report_path, e))?;
    Ok(report)
}

/// Score cell `index` with both kernels and train it into `dir/train/<index>`.
fn study_cell(
    dir: &Path,
    index: usize,
    s: &SearchSettings,
    mode: CellMode,
    input: &StudyData<'_>,
    train_cfg: &TrainConfig,
    stop: &AtomicBool,
) -> Result<StudyRecord> {
    let StudyData {
        geometry,
        data,
        augment,
    } = *input;
    let sahd = score_candidate(index, s, mode, KernelKind::Sahd, geometry, data, augment)?;
    let hamming = score_candidate(index, s, mode, KernelKind::Hamming, geometry, data, augment)?;
    let geno: CellGenotype = sahd
        .genotype
        .parse()
        .map_err(|e| SearchError::architecture(&sahd.genotype, e))?;
    let net = snasnet_network(&geno, &config(geometry, s))
        .map_err(|e| SearchError::architecture(geno, e))?
        .validate()
        .map_err(|e| SearchError::architecture(geno, e))?;
    let run_dir = dir.join("train").join(index.to_string());
    // A cell whose training was cut off continues from its checkpoint (study.json pins the
    // settings); anything else in its folder is a fresh start.
    let checkpoint = run_dir.join(crate::training_loop::CHECKPOINT);
    crate::checkpoint::recover(&checkpoint)?;
    let resume = checkpoint.join(crate::checkpoint::STATE).is_file();
    if !resume && run_dir.exists() {
        std::fs::remove_dir_all(&run_dir).map_err(|e| SearchError::io(&run_dir, e))?;
    }
    let test_accuracy = match train(
        net,
        &Weights::default(),
        train_cfg,
        &run_dir,
        resume,
        stop,
        false,
    )
    .map_err(|e| SearchError::Cell {
        index,
        error: Box::new(e),
    })? {
        TrainOutcome::Finished { test_accuracy } => test_accuracy,
        TrainOutcome::Interrupted { .. } => return Err(SearchError::Interrupted),
    };
    Ok(StudyRecord {
        index,
        genotype: sahd.genotype,
        sahd: sahd.score,
        hamming: hamming.score,
        test_accuracy,
    })
}
