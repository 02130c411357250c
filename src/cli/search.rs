//! `snnc search`: training-free architecture search (SNASNet random search over cells).

use super::args::DataArgs;
use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use snnc_datasets::transform::FrameSplit;
use snnc_datasets::{DatasetName, Split};
use snnc_search::arch::InputGeometry;
use snnc_search::data::Augment;
use snnc_search::init::InitScheme;
use snnc_search::model::ConvImpl;
use snnc_search::optim::OptimizerKind;
use snnc_search::snasnet::correlate::{StudyData, StudyRecord, run_study};
use snnc_search::snasnet::kernel::KernelKind;
use snnc_search::snasnet::sampler::CellMode;
use snnc_search::snasnet::search::{SearchFiles, SearchSettings, best, run_search};
use snnc_search::train::{LossKind, TrainConfig};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(subcommand)]
    pub kind: SearchKind,
}

#[derive(Subcommand, Debug)]
pub enum SearchKind {
    /// SNASNet random search: sample cells, score each with the SAHD kernel, keep the best.
    /// Writes OUT/search.json, OUT/candidates.jsonl (one line per scored candidate) and
    /// OUT/best_arch.json; run again with the same settings (and more candidates) to resume.
    Snasnet(SnasnetSearchArgs),
    /// Score K sampled cells with SAHD and plain Hamming, train each with a fixed budget, and
    /// report Kendall's tau of each score against test accuracy. Writes OUT/correlate.jsonl,
    /// OUT/report.json and OUT/train/<k>; run again to resume.
    SnasnetCorrelate(CorrelateArgs),
    /// AutoSNN: train a weight-sharing supernet (or reuse one), then evolve architectures with a
    /// spike-, energy- or accuracy-driven fitness. Run again with the same flags to resume.
    Autosnn(super::autosnn::AutosnnSearchArgs),
}

/// How SNASNet candidates are built and scored (shared by the search and the correlation study).
#[derive(Args, Debug)]
pub struct ScoringArgs {
    /// forward (feed-forward cells) or backward (cells with feedback edges).
    #[arg(long, default_value = "backward")]
    pub cell: CellMode,
    /// Scoring batch B (the paper's 256).
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Passes per candidate, each on a fresh random batch (the paper's 2).
    #[arg(long, default_value_t = 2)]
    pub repeats: usize,
    #[arg(long, default_value_t = 5)]
    pub timesteps: usize,
    /// Cell-1 channel count C (cell 2 has 2C).
    #[arg(long, default_value_t = 16)]
    pub width: usize,
}

impl ScoringArgs {
    /// The search settings these flags describe, for `candidates` cells scored with `kernel`.
    fn settings(
        &self,
        dataset: DatasetName,
        candidates: usize,
        kernel: KernelKind,
        seed: u64,
        carry_state: bool,
    ) -> SearchSettings {
        SearchSettings {
            dataset: dataset.to_string(),
            cell: self.cell.to_string(),
            candidates,
            batch: self.batch,
            repeats: self.repeats,
            timesteps: self.timesteps,
            width: self.width,
            kernel: match kernel {
                KernelKind::Sahd => "sahd".into(),
                KernelKind::Hamming => "hamming".into(),
            },
            seed,
            carry_state,
            device: crate::cli::compute_device(),
        }
    }
}

#[derive(Args, Debug)]
pub struct CorrelateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of cells K.
    #[arg(long, default_value_t = 20)]
    pub candidates: usize,
    #[command(flatten)]
    pub scoring: ScoringArgs,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training epochs per cell (the fixed budget).
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub train_batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Train on only the first N training samples.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Evaluate on only the first N test samples.
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Cells trained at once, each on its share of the threads (results do not change).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct SnasnetSearchArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of candidates to score (5000 in the paper).
    #[arg(long, default_value_t = 5000)]
    pub candidates: usize,
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// sahd (SNASNet) or hamming (plain Hamming distance, NASWOT).
    #[arg(long, default_value = "sahd")]
    pub kernel: KernelKind,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Carry LIF membranes and dropout masks from one pass to the next, as the official code does
    /// (by default every pass starts from fresh state).
    #[arg(long)]
    pub carry_state: bool,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: SearchArgs) -> anyhow::Result<()> {
    match a.kind {
        SearchKind::Snasnet(s) => snasnet(s),
        SearchKind::SnasnetCorrelate(c) => correlate(c),
        SearchKind::Autosnn(a) => super::autosnn::run(a),
    }
}

fn correlate(a: CorrelateArgs) -> anyhow::Result<()> {
    if !(a.lr.is_finite() && a.lr > 0.0) || a.train_batch == 0 {
        anyhow::bail!("--lr must be positive and --train-batch at least 1");
    }
    let data = snnc_datasets::load(a.data.dataset, &a.data.data_dir, Split::Train)?;
    let geometry = snnc_datasets::network_input(a.data.dataset, snnc_datasets::SideRule::Native);
    let settings = a.scoring.settings(
        a.data.dataset,
        a.candidates,
        KernelKind::Sahd,
        a.seed,
        false,
    );
    let augment = Augment::default_for(a.data.dataset);
    let train_cfg = TrainConfig {
        dataset: a.data.dataset,
        data_dir: a.data.data_dir.clone(),
        epochs: a.epochs,
        batch_size: a.train_batch,
        seed: a.seed,
        lr: a.lr,
        eta_min_ratio: 0.01,
        cosine: true,
        optimizer: OptimizerKind::parse("adam", 0.9, 0.0).map_err(anyhow::Error::msg)?,
        loss: LossKind::CrossEntropy,
        init: InitScheme::Snasnet,
        augment,
        frame_split: FrameSplit::ByCount,
        train_limit: a.train_limit,
        test_limit: a.test_limit,
        conv: ConvImpl::default(),
        device: crate::cli::compute_device(),
    };
    let input = StudyData {
        geometry,
        data: &data,
        augment,
    };
    let stop = super::stop_on_ctrlc()?;
    let quiet = a.quiet;
    let mut progress = |done: usize, r: &StudyRecord| {
        if !quiet {
            eprintln!(
                "[{done}/{}] {}  sahd {:.3}  hamming {:.3}  accuracy {:.2}%",
                a.candidates,
                r.genotype,
                r.sahd,
                r.hamming,
                100.0 * r.test_accuracy
            );
        }
    };
    let report = run_study(
        &a.out,
        &settings,
        &input,
        &train_cfg,
        a.jobs,
        &stop,
        &mut progress,
    )
    .map_err(|e| anyhow!(e))
    .with_context(|| format!("SNASNet correlation study in {}", a.out.display()))?;
    let show = |t: Option<f64>| t.map_or("undefined".to_string(), |t| format!("{t:.3}"));
    println!(
        "{} cells: Kendall tau (score vs test accuracy) SAHD {}, plain Hamming {}",
        report.cells,
        show(report.tau_sahd),
        show(report.tau_hamming)
    );
    Ok(())
}

fn snasnet(a: SnasnetSearchArgs) -> anyhow::Result<()> {
    let data = snnc_datasets::load(a.data.dataset, &a.data.data_dir, Split::Train)?;
    let geometry = snnc_datasets::network_input(a.data.dataset, snnc_datasets::SideRule::Native);
    let settings = a.scoring.settings(
        a.data.dataset,
        a.candidates,
        a.kernel,
        a.seed,
        a.carry_state,
    );
    let records = run_snasnet_search(
        &a.out,
        &settings,
        geometry,
        &data,
        Augment::default_for(a.data.dataset),
        !a.quiet,
    )?;
    let scores: Vec<f64> = records
        .iter()
        .map(|r| r.score)
        .filter(|s| s.is_finite())
        .collect();
    let n = scores.len().max(1) as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
    let secs: f64 = records.iter().map(|r| r.seconds).sum();
    let kernel: f64 = records.iter().map(|r| r.kernel_seconds).sum();
    println!(
        "{} candidates scored: mean {mean:.4}, variance {var:.4}",
        records.len()
    );
    if secs > 0.0 {
        println!(
            "{:.2} candidates/s, kernel {:.1}% of scoring time",
            records.len() as f64 / secs,
            100.0 * kernel / secs
        );
    }
    if let Some(b) = best(&records) {
        let files = SearchFiles::in_dir(&a.out);
        println!(
            "best #{}: {} score {:.4} -> {}",
            b.index,
            b.genotype,
            b.score,
            files.best_arch.display()
        );
    }
    Ok(())
}

/// A SNASNet search in `dir` (resuming its log) with a progress bar showing the best score so far
/// when `show`; every record, in candidate order.
pub(crate) fn run_snasnet_search(
    dir: &std::path::Path,
    settings: &SearchSettings,
    geometry: InputGeometry,
    data: &snnc_datasets::Dataset,
    augment: Augment,
    show: bool,
) -> anyhow::Result<Vec<snnc_search::snasnet::search::CandidateRecord>> {
    let bar = show.then(|| {
        let b = indicatif::ProgressBar::new(settings.candidates as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "  search [{bar:30}] {pos}/{len} candidates {per_sec} {msg} ({elapsed} < {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut best_score = f64::NEG_INFINITY;
    let mut progress = |done: usize, r: &snnc_search::snasnet::search::CandidateRecord| {
        if let Some(b) = &bar {
            if r.score >= best_score {
                best_score = r.score;
                b.set_message(format!("best {:.3} ({})", r.score, r.genotype));
            }
            b.set_position(done as u64);
        }
    };
    let records = run_search(dir, settings, geometry, data, augment, &mut progress)
        .map_err(|e| anyhow!(e))
        .with_context(|| format!("SNASNet search in {}", dir.display()))?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    Ok(records)
}
