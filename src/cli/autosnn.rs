//! `snnc search autosnn`: supernet training and spike-, energy- or accuracy-driven evolution.

use super::args::{DataArgs, TargetArg};
use anyhow::{Context, anyhow};
use clap::Args;
use snnc_datasets::Split;
use snnc_search::autosnn::evolution::{EvolutionSettings, FitnessKind};
use snnc_search::autosnn::search::{AutoSnnSearchSettings, SearchOutputs, describe, run_search};
use snnc_search::autosnn::supernet::SupernetSettings;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AutosnnSearchArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Output folder: search.json, candidates.csv, generations.jsonl, best.json, best_arch.json,
    /// pareto-{spikes,energy}.csv, pareto.svg, and supernet/ unless --supernet names another.
    #[arg(long)]
    pub out: PathBuf,
    /// spikes: ACC x (spikes/C_s)^lambda; energy: ACC x (E/E_ref)^lambda on --target;
    /// accuracy: ACC alone (lambda = 0).
    #[arg(long, default_value = "spikes")]
    pub fitness: FitnessKind,
    #[command(flatten)]
    pub target: TargetArg,
    #[arg(long, default_value_t = -0.08, allow_negative_numbers = true)]
    pub lambda: f64,
    /// A supernet folder to train into or reuse (share one between searches with other fitness).
    #[arg(long)]
    pub supernet: Option<PathBuf>,
    /// Channel count C of the first stage.
    #[arg(long, default_value_t = 16)]
    pub width: usize,
    #[arg(long, default_value_t = 4)]
    pub timesteps: usize,
    /// Supernet training epochs (the paper: 600).
    #[arg(long, default_value_t = 2)]
    pub supernet_epochs: usize,
    #[arg(long, default_value_t = 96)]
    pub batch_size: usize,
    /// Adam learning rate (constant).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Train the supernet on only the first N samples of its 80 % share.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Keep moving unsampled blocks with stale Adam moments, as the official code does.
    #[arg(long)]
    pub update_unsampled: bool,
    /// Held-out samples each candidate is scored on (the paper: all 20 %).
    #[arg(long, default_value_t = 2000)]
    pub eval_samples: usize,
    #[arg(long, default_value_t = 250)]
    pub eval_batch: usize,
    /// Re-estimate each candidate's BatchNorm statistics on this many supernet-training samples
    /// before scoring it (0: inherit the supernet's, as the paper's code does).
    #[arg(long, default_value_t = 0)]
    pub bn_recalibrate: usize,
    #[arg(long, default_value_t = 20)]
    pub population: usize,
    /// Generations (the paper: 20).
    #[arg(long, default_value_t = 10)]
    pub generations: usize,
    #[arg(long, default_value_t = 10)]
    pub top_k: usize,
    #[arg(long, default_value_t = 10)]
    pub mutants: usize,
    #[arg(long, default_value_t = 10)]
    pub crossovers: usize,
    #[arg(long, default_value_t = 0.2)]
    pub mutation_prob: f64,
    /// Refill the whole pool with random architectures each generation (the WS + random baseline).
    #[arg(long)]
    pub random_search: bool,
    /// Seed of the supernet (weights, batches, sampled paths).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seed of the evolution (the official code uses 99).
    #[arg(long, default_value_t = 99)]
    pub search_seed: u64,
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: AutosnnSearchArgs) -> anyhow::Result<()> {
    if a.width == 0 || a.timesteps == 0 || a.batch_size == 0 || a.eval_batch == 0 {
        return Err(anyhow!(
            "--width, --timesteps, --batch-size and --eval-batch must be at least 1"
        ));
    }
    if a.eval_samples == 0 {
        return Err(anyhow!("--eval-samples must be at least 1"));
    }
    snnc_targets::Target::resolve(&a.target.target).map_err(|e| anyhow!("--target: {e}"))?;
    if a.fitness == FitnessKind::Accuracy && a.lambda != -0.08 {
        eprintln!("note: --fitness accuracy ignores --lambda");
    }
    let mut supernet = SupernetSettings::small(&a.data.dataset.to_string());
    supernet.width = a.width;
    supernet.timesteps = a.timesteps;
    supernet.epochs = a.supernet_epochs;
    supernet.batch_size = a.batch_size;
    supernet.lr = a.lr;
    supernet.seed = a.seed;
    supernet.train_limit = a.train_limit;
    supernet.update_unsampled = a.update_unsampled;
    let settings = AutoSnnSearchSettings {
        supernet,
        evolution: EvolutionSettings {
            population: a.population,
            generations: a.generations,
            top_k: a.top_k,
            mutants: a.mutants,
            crossovers: a.crossovers,
            mutation_prob: a.mutation_prob,
            seed: a.search_seed,
            fitness: a.fitness,
            lambda: if a.fitness == FitnessKind::Accuracy {
                0.0
            } else {
                a.lambda
            },
            random_search: a.random_search,
        },
        eval_samples: a.eval_samples,
        eval_batch: a.eval_batch,
        recalibration_samples: a.bn_recalibrate,
        target: a.target.target.clone(),
    };
    settings.check().map_err(anyhow::Error::msg)?;
    let data =
        snnc_datasets::load(a.data.dataset, &a.data.data_dir, Split::Train).with_context(|| {
            format!(
                "loading {} from {}",
                a.data.dataset,
                a.data.data_dir.display()
            )
        })?;
    let stop = super::stop_on_ctrlc()?;
    let show_progress = !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    eprintln!(
        "AutoSNN search on {}: width {}, T = {}, fitness {}; supernet {} epochs, {} x {} candidates on {} held-out samples",
        a.data.dataset,
        a.width,
        a.timesteps,
        describe(&settings),
        a.supernet_epochs,
        a.population,
        a.generations,
        a.eval_samples
    );
    let started = std::time::Instant::now();
    let Some(summary) = run_search(
        &settings,
        a.data.dataset,
        &data,
        &a.out,
        a.supernet.as_deref(),
        &stop,
        show_progress,
    )
    .map_err(|e| anyhow!(e))?
    else {
        eprintln!("interrupted; run the same command again to resume");
        std::process::exit(130);
    };
    let outputs = SearchOutputs { dir: a.out.clone() };
    let b = &summary.best;
    println!(
        "supernet: C_s = {:.0} spikes/sample, E_ref = {:.3} µJ/sample on {}",
        summary.reference.spikes,
        summary.reference.energy_j * 1e6,
        a.target.target
    );
    println!(
        "best of {} architectures: {} ({})  held-out accuracy {:.2}%, {:.0} spikes/sample, {:.3} µJ/sample, fitness {:.4}",
        summary.evaluations,
        summary.best_blocks,
        b.arch.ids(),
        100.0 * b.scores.accuracy,
        b.scores.spikes,
        b.scores.energy_j * 1e6,
        b.fitness
    );
    println!(
        "-> {} (retrain with `snnc train --arch {}`), {}, {} ({:.0} s)",
        outputs.best().display(),
        outputs.best_arch().display(),
        outputs.candidates().display(),
        outputs.pareto_svg().display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
