//! One AutoSNN search end to end: train (or reuse) the supernet, evaluate candidates on a fixed
//! held-out split with a cache shared by every search on that supernet, evolve, and write the
//! log, the best architecture, and the Pareto fronts (CSV and SVG).

use super::evolution::{
    Candidate, EvolutionSettings, FitnessKind, GenerationLog, Reference, Scores, evolve,
    pareto_front,
};
use super::supernet::{
    ArchEvaluation, SupernetFiles, SupernetSettings, SupernetSummary, evaluate_arch, train_supernet,
};
use crate::arch::autosnn::AutoSnnArch;
use crate::error::{Result, SearchError};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use snnc_compiler::atomic;
use snnc_datasets::{Dataset, DatasetName};
use snnc_targets::Target;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Everything one search depends on; written to `search.json` and checked on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoSnnSearchSettings {
    pub supernet: SupernetSettings,
    pub evolution: EvolutionSettings,
    /// Candidates are scored on the first N held-out samples.
    pub eval_samples: usize,
    pub eval_batch: usize,
    /// Re-estimate each path's BatchNorm statistics on this many supernet-training samples
    /// before scoring it (0: inherit the supernet's, as the official code does).
    #[serde(default)]
    pub recalibration_samples: usize,
    /// Energy table name or file (the energy fitness and every candidate's energy column).
    pub target: String,
}

impl AutoSnnSearchSettings {
    /// Settings no search can run with, checked before anything is written (a mistake found
    /// after the supernet has trained would lock the output folder to those settings).
    pub fn check(&self) -> Result<()> {
        let mut problems = Vec::new();
        for check in [self.supernet.check(), self.evolution.check()] {
            match check {
                Err(SearchError::Settings { problems: p }) => problems.extend(p),
                other => other?,
            }
        }
        if self.eval_samples == 0 || self.eval_batch == 0 {
            problems.push("--eval-samples and --eval-batch must be at least 1".to_string());
        }
        crate::error::check_settings(problems)
    }
}

/// What a finished search reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSummary {
    pub settings: AutoSnnSearchSettings,
    pub reference: Reference,
    pub supernet: SupernetSummary,
    pub best: Candidate,
    pub best_blocks: String,
    pub evaluations: usize,
    pub evaluation_seconds: f64,
}

/// The files a search writes into its output folder.
pub struct SearchOutputs {
    pub dir: PathBuf,
}

impl SearchOutputs {
    pub fn settings(&self) -> PathBuf {
        self.dir.join("search.json")
    }
    pub fn candidates(&self) -> PathBuf {
        self.dir.join("candidates.csv")
    }
    pub fn generations(&self) -> PathBuf {
        self.dir.join("generations.jsonl")
    }
    pub fn best(&self) -> PathBuf {
        self.dir.join("best.json")
    }
    pub fn best_arch(&self) -> PathBuf {
        self.dir.join("best_arch.json")
    }
    pub fn pareto_csv(&self, axis: &str) -> PathBuf {
        self.dir.join(format!("pareto-{axis}.csv"))
    }
    pub fn pareto_svg(&self) -> PathBuf {
        self.dir.join("pareto.svg")
    }
    /// Every file above, in the order a finished search lists them.
    pub fn all(&self) -> Vec<PathBuf> {
        vec![
            self.settings(),
            self.candidates(),
            self.generations(),
            self.best(),
            self.best_arch(),
            self.pareto_csv("spikes"),
            self.pareto_csv("energy"),
            self.pareto_svg(),
        ]
    }
}

/// Evaluations already in a supernet's cache made with `samples` held-out samples, and the cache
/// open for appending (a torn last line, an interrupted append, is dropped first).
fn open_cache(
    path: &Path,
    samples: usize,
    recalibration: usize,
) -> Result<(HashMap<AutoSnnArch, ArchEvaluation>, crate::jsonl::Log)> {
    let (records, kept) = crate::jsonl::read::<ArchEvaluation>(path)?;
    let cache = records
        .into_iter()
        .filter(|e| e.samples == samples && e.recalibration_samples == recalibration)
        .map(|e| (e.arch, e))
        .collect();
    Ok((cache, crate::jsonl::reopen(path, &kept)?))
}

/// Run (or resume) a search. `supernet_dir` defaults to `out/supernet`; searches with other
/// fitness functions can share one. `Ok(None)` means it was interrupted and can be resumed.
#[allow(clippy::too_many_arguments)]
pub fn run_search(
    settings: &AutoSnnSearchSettings,
    dataset: DatasetName,
    data: &Dataset,
    out: &Path,
    supernet_dir: Option<&Path>,
    stop: &AtomicBool,
    show_progress: bool,
) -> Result<Option<SearchSummary>> {
    settings.check()?;
    let outputs = SearchOutputs {
        dir: out.to_path_buf(),
    };
    std::fs::create_dir_all(out).map_err(|e| SearchError::io(out, e))?;
    pin_settings(&outputs, settings)?;
    let target = Target::resolve(&settings.target)?;
    let geometry = snnc_datasets::network_input(dataset, snnc_datasets::AUTOSNN_SIDE);
    let sdir = supernet_dir.map_or_else(|| out.join("supernet"), Path::to_path_buf);
    let Some((mut net, summary)) = train_supernet(
        &settings.supernet,
        data,
        geometry,
        &sdir,
        stop,
        show_progress,
    )?
    else {
        return Ok(None);
    };
    let eval_indices = held_out_indices(settings, data.len())?;
    let reference = Reference {
        spikes: summary.spikes_per_sample,
        energy_j: target.energy(&summary.counts_per_sample).total_j,
    };
    let sfiles = SupernetFiles { dir: sdir.clone() };
    let (mut cache, mut cache_log) = open_cache(
        &sfiles.evaluations(),
        settings.eval_samples,
        settings.recalibration_samples,
    )?;
    let (train_share, _) = settings.supernet.split(data.len());
    let recalibration: Vec<usize> = train_share.take(settings.recalibration_samples).collect();
    let ev = &settings.evolution;
    let pb = progress_bar(show_progress, (ev.population * ev.generations) as u64);
    let mut eval_seconds = 0.0;
    let mut evaluate = |arch: &AutoSnnArch| -> Result<Option<Scores>> {
        let e = match cache.get(arch) {
            Some(e) => e.clone(),
            None => {
                if stop.load(Ordering::SeqCst) {
                    return Ok(None);
                }
                let e = evaluate_arch(
                    &mut net,
                    arch,
                    data,
                    &eval_indices,
                    settings.eval_batch,
                    &recalibration,
                )?;
                cache_log.append(&e)?;
                cache.insert(*arch, e.clone());
                e
            }
        };
        eval_seconds += e.seconds;
        pb.inc(1);
        pb.set_message(format!(
            "last {} acc {:.1}% spikes {:.0}",
            e.ids,
            100.0 * e.accuracy,
            e.spikes_per_sample
        ));
        Ok(Some(Scores {
            accuracy: e.accuracy,
            spikes: e.spikes_per_sample,
            energy_j: target.energy(&e.counts_per_sample).total_j,
        }))
    };
    let mut log_text = String::new();
    let generations = ev.generations;
    let mut on_generation = |log: &GenerationLog, _: &[Candidate]| -> Result<()> {
        let b = &log.best;
        pb.suspend(|| {
            eprintln!(
                "generation {}/{generations}: {} evaluated; best {} acc {:.2}% spikes {:.0} energy {:.3} µJ fitness {:.4}",
                log.generation + 1,
                log.evaluated,
                b.arch.ids(),
                100.0 * b.scores.accuracy,
                b.scores.spikes,
                b.scores.energy_j * 1e6,
                b.fitness
            )
        });
        log_text += &serde_json::to_string(log).expect("serialises");
        log_text.push('\n');
        atomic::write(&outputs.generations(), log_text.as_bytes())
            .map_err(|e| SearchError::io(&outputs.generations(), e))
    };
    let Some(outcome) = evolve(ev, &reference, &mut evaluate, &mut on_generation)? else {
        pb.abandon_with_message("interrupted; run the same command again to resume");
        return Ok(None);
    };
    pb.finish_and_clear();
    write_evaluated(&outputs, &outcome.evaluated, &target.name)?;
    let best = outcome.top[0].clone();
    let child = net.child_network(&best.arch)?;
    atomic::write(&outputs.best_arch(), child.to_json_pretty().as_bytes())
        .map_err(|e| SearchError::io(&outputs.best_arch(), e))?;
    let summary = SearchSummary {
        settings: settings.clone(),
        reference,
        supernet: summary,
        best_blocks: best.arch.to_string(),
        best,
        evaluations: outcome.evaluated.len(),
        evaluation_seconds: eval_seconds,
    };
    let json = serde_json::to_string_pretty(&summary).expect("serialises");
    atomic::write(&outputs.best(), json.as_bytes())
        .map_err(|e| SearchError::io(&outputs.best(), e))?;
    Ok(Some(summary))
}

/// Record `settings` in a new output folder, or check that a resumed one was made with the same.
fn pin_settings(outputs: &SearchOutputs, settings: &AutoSnnSearchSettings) -> Result<()> {
    match std::fs::read_to_string(outputs.settings()) {
        Ok(text) => {
            let saved: AutoSnnSearchSettings = serde_json::from_str(&text).map_err(|e| {
                SearchError::corrupt(&outputs.settings(), format!("corrupt settings: {e}"))
            })?;
            if saved != *settings {
                return Err(SearchError::OtherSettings {
                    path: outputs.settings(),
                    found: serde_json::to_string(&saved).expect("serialises"),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let json = serde_json::to_string_pretty(settings).expect("serialises");
            atomic::write(&outputs.settings(), json.as_bytes())
                .map_err(|e| SearchError::io(&outputs.settings(), e))?;
        }
        Err(e) => return Err(SearchError::io(&outputs.settings(), e)),
    }
    Ok(())
}

/// The held-out samples candidates are scored on: the first `eval_samples` of the split.
fn held_out_indices(settings: &AutoSnnSearchSettings, samples: usize) -> Result<Vec<usize>> {
    let (_, held_out) = settings.supernet.split(samples);
    if held_out.len() < settings.eval_samples {
        return Err(SearchError::TooFewSamples {
            message: format!(
                "the held-out split has {} samples but --eval-samples is {}",
                held_out.len(),
                settings.eval_samples
            ),
        });
    }
    Ok(held_out.take(settings.eval_samples).collect())
}

/// One tick per architecture scored (`total` of them), or a hidden bar.
fn progress_bar(show: bool, total: u64) -> ProgressBar {
    if show {
        let pb = ProgressBar::new(total);
        pb.set_style(
            ProgressStyle::with_template(
                "search [{bar:30}] {pos}/{len} architectures {msg} ({elapsed} < {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    } else {
        ProgressBar::hidden()
    }
}

/// Every evaluated candidate, and the Pareto fronts of accuracy against spikes and against
/// energy on `target`: CSVs and one SVG.
fn write_evaluated(outputs: &SearchOutputs, evaluated: &[Candidate], target: &str) -> Result<()> {
    write_candidates(&outputs.candidates(), evaluated)?;
    let spikes_front = pareto_front(evaluated, |c| c.scores.spikes);
    let energy_front = pareto_front(evaluated, |c| c.scores.energy_j);
    write_front(&outputs.pareto_csv("spikes"), &spikes_front)?;
    write_front(&outputs.pareto_csv("energy"), &energy_front)?;
    super::plot::pareto_svg(
        &outputs.pareto_svg(),
        evaluated,
        &spikes_front,
        &energy_front,
        target,
    )
}

const CSV_HEADER: &str =
    "generation,ids,blocks,accuracy,spikes_per_sample,energy_j_per_sample,fitness";

fn csv_row(c: &Candidate) -> String {
    format!(
        "{},{},\"{}\",{:.6},{:.2},{:.6e},{:.6}",
        c.generation,
        c.arch.ids(),
        c.arch,
        c.scores.accuracy,
        c.scores.spikes,
        c.scores.energy_j,
        c.fitness
    )
}

fn write_candidates(path: &Path, all: &[Candidate]) -> Result<()> {
    let mut text = format!("index,{CSV_HEADER}\n");
    for (i, c) in all.iter().enumerate() {
        text += &format!("{i},{}\n", csv_row(c));
    }
    atomic::write(path, text.as_bytes()).map_err(|e| SearchError::io(path, e))
}

fn write_front(path: &Path, front: &[&Candidate]) -> Result<()> {
    let mut text = format!("{CSV_HEADER}\n");
    for c in front {
        text += &csv_row(c);
        text.push('\n');
    }
    atomic::write(path, text.as_bytes()).map_err(|e| SearchError::io(path, e))
}

/// The fitness a finished search optimised, for messages.
pub fn describe(settings: &AutoSnnSearchSettings) -> String {
    match settings.evolution.fitness {
        FitnessKind::Accuracy => "accuracy".into(),
        FitnessKind::Spikes => format!("accuracy x (spikes/C_s)^{}", settings.evolution.lambda),
        FitnessKind::Energy => format!(
            "accuracy x (E/E_ref)^{} on {}",
            settings.evolution.lambda, settings.target
        ),
    }
}
