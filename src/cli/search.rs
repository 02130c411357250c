//! `snnc search`: training-free architecture search (SNASNet random search over cells).

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use snnc_datasets::{DatasetName, Split};
use snnc_search::arch::InputGeometry;
use snnc_search::data::Augment;
use snnc_search::snasnet::kernel::KernelKind;
use snnc_search::snasnet::sampler::CellMode;
use snnc_search::snasnet::search::{SearchFiles, SearchSettings, best, run_search};
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
}

#[derive(Args, Debug)]
pub struct SnasnetSearchArgs {
    /// mnist, fashion-mnist, cifar10, nmnist or digits.
    #[arg(long)]
    pub dataset: DatasetName,
    /// Folder holding the dataset's files, e.g. ../shared/data/fashion-mnist.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Number of candidates to score (5000 in the paper).
    #[arg(long, default_value_t = 5000)]
    pub candidates: usize,
    /// forward (feed-forward cells) or backward (cells with feedback edges).
    #[arg(long, default_value = "backward")]
    pub cell: CellMode,
    /// Search batch B (the paper's 256).
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
    }
}

fn snasnet(a: SnasnetSearchArgs) -> anyhow::Result<()> {
    let data = snnc_datasets::load(a.dataset, &a.data_dir, Split::Train)?;
    let geometry = InputGeometry::for_dataset(a.dataset, None);
    let settings = SearchSettings {
        dataset: a.dataset.to_string(),
        cell: a.cell.to_string(),
        candidates: a.candidates,
        batch: a.batch,
        repeats: a.repeats,
        timesteps: a.timesteps,
        width: a.width,
        kernel: match a.kernel {
            KernelKind::Sahd => "sahd".into(),
            KernelKind::Hamming => "hamming".into(),
        },
        seed: a.seed,
        carry_state: a.carry_state,
    };
    let bar = (!a.quiet).then(|| {
        let b = indicatif::ProgressBar::new(a.candidates as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} candidates {per_sec} eta {eta} {msg}")
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
    let records = run_search(&a.out, &settings, geometry, &data, Augment::default_for(a.dataset), &mut progress)
        .map_err(|e| anyhow!(e))
        .with_context(|| format!("SNASNet search in {}", a.out.display()))?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let scores: Vec<f64> = records.iter().map(|r| r.score).filter(|s| s.is_finite()).collect();
    let n = scores.len().max(1) as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
    let secs: f64 = records.iter().map(|r| r.seconds).sum();
    let kernel: f64 = records.iter().map(|r| r.kernel_seconds).sum();
    println!("{} candidates scored: mean {mean:.4}, variance {var:.4}", records.len());
    if secs > 0.0 {
        println!(
            "{:.2} candidates/s, kernel {:.1}% of scoring time",
            records.len() as f64 / secs,
            100.0 * kernel / secs
        );
    }
    if let Some(b) = best(&records) {
        let files = SearchFiles::in_dir(&a.out);
        println!("best #{}: {} score {:.4} -> {}", b.index, b.genotype, b.score, files.best_arch.display());
    }
    Ok(())
}
