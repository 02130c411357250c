//! `snnc pipeline`: search -> train -> compile and export -> event-driven run on real data, each
//! stage skipped when its stamp still matches its settings and inputs, ending in one summary.

mod budget;
mod stages;
mod stamp;

use crate::cli::args::{DataArgs, TargetArg};
use anyhow::{Context, bail};
use budget::{Budget, BudgetKind, Method};
use clap::Args;
use snnc_search::autosnn::evolution::FitnessKind;
use snnc_search::snasnet::sampler::CellMode;
use stages::{Ctx, STAGES};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A flag given twice takes its last value, so wrapper scripts can be given overrides.
#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Output folder: search/, train/, export/, run/ (each with its stage.json) and summary.json.
    #[arg(long)]
    pub out: PathBuf,
    /// snasnet (training-free) or autosnn (supernet + evolution).
    #[arg(long, value_enum, default_value_t = Method::Snasnet)]
    pub search: Method,
    /// small (a 2-core machine) or paper (the seeds' settings: days of compute).
    #[arg(long, value_enum, default_value_t = BudgetKind::Small)]
    pub budget: BudgetKind,
    #[command(flatten)]
    pub target: TargetArg,
    /// Seed of the search, the initialisation and the batches.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// SNASNet: forward or backward (feedback) cells.
    #[arg(long, default_value = "backward")]
    pub cell: CellMode,
    /// AutoSNN fitness: spikes, energy (on --target) or accuracy.
    #[arg(long, default_value = "spikes")]
    pub fitness: FitnessKind,
    /// SNASNet candidates to score [small: 150, paper: 5000].
    #[arg(long)]
    pub candidates: Option<usize>,
    /// Search width C [16].
    #[arg(long)]
    pub search_width: Option<usize>,
    /// SNASNet scoring batch B [small: 128, paper: 256]; AutoSNN supernet batch [96].
    #[arg(long)]
    pub search_batch: Option<usize>,
    /// Timesteps during the search [SNASNet 5; AutoSNN small 4, paper 8].
    #[arg(long)]
    pub search_timesteps: Option<usize>,
    /// AutoSNN supernet epochs [small: 2, paper: 600].
    #[arg(long)]
    pub supernet_epochs: Option<usize>,
    /// AutoSNN: train the supernet on only the first N samples of its share.
    #[arg(long)]
    pub search_train_limit: Option<usize>,
    /// AutoSNN population [20]; half of it survives, and half as many mutants and crossovers.
    #[arg(long)]
    pub population: Option<usize>,
    /// AutoSNN generations [small: 10, paper: 20].
    #[arg(long)]
    pub generations: Option<usize>,
    /// AutoSNN: held-out samples each candidate is scored on [small: 2000, paper: all].
    #[arg(long)]
    pub eval_samples: Option<usize>,
    /// Width C the chosen architecture is trained at [16].
    #[arg(long)]
    pub width: Option<usize>,
    /// SNASNet classifier hidden units [small: 256, paper: 1024].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Training timesteps T [SNASNet small 4, paper 5; AutoSNN the search's].
    #[arg(long)]
    pub timesteps: Option<usize>,
    /// Training epochs [small: 1; paper: 300 SNASNet, 600 AutoSNN].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Training batch [SNASNet 64, AutoSNN 96].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate [Adam 1e-3; paper SNASNet: SGD 0.1].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Train on only the first N training samples.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Evaluate training on only the first N test samples.
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Test samples the event-driven run profiles [small: 2000, paper: all].
    #[arg(long)]
    pub samples: Option<usize>,
    /// Redo this stage and every later one even if their stamps match: search, train, export
    /// or run.
    #[arg(long, value_name = "STAGE", value_parser = clap::builder::PossibleValuesParser::new(STAGES))]
    pub redo: Option<String>,
    /// No progress bars and no report table (stage lines and the summary still print).
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(mut a: PipelineArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if !a.data.data_dir.is_dir() {
        bail!(
            "--data-dir {}: no such folder (it should hold the {} files, e.g. ../shared/data/{})",
            a.data.data_dir.display(),
            a.data.dataset,
            snnc_datasets::testdata::folder_names(a.data.dataset)[0]
        );
    }
    // One spelling of the data folder, so that a rerun from another working directory matches.
    a.data.data_dir = std::fs::canonicalize(&a.data.data_dir)
        .with_context(|| format!("--data-dir {}", a.data.data_dir.display()))?;
    snnc_targets::Target::resolve(&a.target.target)
        .with_context(|| format!("--target {}", a.target.target))?;
    // AutoSNN scores candidates on (part of) the held-out 20 % of the training split: all of it
    // in the paper budget, at most 2,000 samples in the small one.
    let held_out = match a.search {
        Method::Autosnn => {
            let n = snnc_datasets::load(
                a.data.dataset,
                &a.data.data_dir,
                snnc_datasets::Split::Train,
            )?
            .len();
            let s = snnc_search::autosnn::supernet::SupernetSettings::small("");
            s.split(n).1.len()
        }
        Method::Snasnet => 2000,
    };
    let budget = Budget::resolve(&a, held_out);
    budget.check(a.search)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;

    let stop = Arc::new(AtomicBool::new(false));
    let graceful = Arc::new(AtomicBool::new(false));
    install_ctrlc(stop.clone(), graceful.clone())?;
    let cx = Ctx {
        args: &a,
        budget: &budget,
        data_fingerprint: stamp::fingerprint_dir(&a.data.data_dir)?,
        stop,
        graceful,
        show_progress: !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    eprintln!(
        "pipeline: {} search on {} ({} budget), target {} -> {}",
        a.search.name(),
        a.data.dataset,
        match a.budget {
            BudgetKind::Small => "small",
            BudgetKind::Paper => "paper",
        },
        a.target.target,
        a.out.display()
    );

    let mut display = Display {
        rerun: false,
        redo_from: a
            .redo
            .as_deref()
            .and_then(|r| STAGES.iter().position(|s| *s == r)),
    };
    let plan = stages::search_plan(&cx);
    let search = display.stage(&cx, 0, &plan, || stages::search(&cx))?;
    let plan = stages::train_plan(&cx, &search)?;
    let train = display.stage(&cx, 1, &plan, || stages::train(&cx, &plan))?;
    let plan = stages::export_plan(&cx, &train)?;
    let export = display.stage(&cx, 2, &plan, || stages::export(&cx))?;
    let plan = stages::run_plan(&cx, &export)?;
    let run = display.stage(&cx, 3, &plan, || stages::run(&cx))?;

    summary(&cx, &[&search, &train, &export, &run], started)
}

/// Ctrl-C stops a training stage after its batch (a second one quits at once); in any other
/// stage it quits at once: those stages resume from their logs or are redone.
fn install_ctrlc(stop: Arc<AtomicBool>, graceful: Arc<AtomicBool>) -> anyhow::Result<()> {
    ctrlc::set_handler(move || {
        if graceful.load(Ordering::SeqCst) && !stop.swap(true, Ordering::SeqCst) {
            eprintln!(
                "\nstopping after this step; saving a checkpoint (Ctrl-C again to quit at once)"
            );
        } else {
            eprintln!("\ninterrupted; run the same command again to resume");
            std::process::exit(130);
        }
    })
    .context("installing the Ctrl-C handler")
}

/// The pipeline's one progress display: a line per stage (skipped, running, done), with the
/// stage's own bars beneath it on a terminal.
struct Display {
    /// An earlier stage ran, so every later one must too.
    rerun: bool,
    /// `--redo`: the first stage to redo regardless of its stamp.
    redo_from: Option<usize>,
}

impl Display {
    fn stage(
        &mut self,
        cx: &Ctx,
        k: usize,
        plan: &stages::Plan,
        body: impl FnOnce() -> anyhow::Result<stages::Outputs>,
    ) -> anyhow::Result<stamp::Stamp> {
        let name = STAGES[k];
        let dir = cx.dir(name);
        let key = stamp::key(&plan.settings, &plan.inputs);
        let prefix = format!("[{}/{}] {name:<7}", k + 1, STAGES.len());
        let reason = if self.rerun {
            Some("an earlier stage ran".to_string())
        } else if self.redo_from == Some(k) {
            Some("--redo".to_string())
        } else {
            stamp::stale_reason(&dir, &key)
        };
        let Some(reason) = reason else {
            eprintln!(
                "{prefix} skipped: outputs match {}",
                dir.join(stamp::STAMP_FILE).display()
            );
            return stamp::read(&dir);
        };
        eprintln!("{prefix} running ({reason})");
        self.rerun = true;
        stamp::invalidate(&dir)?;
        let t0 = Instant::now();
        let outputs = body().with_context(|| format!("stage {name}"))?;
        let seconds = t0.elapsed().as_secs_f64();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let s = stamp::write(
            &dir,
            name,
            &key,
            &plan.settings,
            &plan.inputs,
            &outputs,
            seconds,
        )?;
        eprintln!("{prefix} done in {}", duration(seconds));
        Ok(s)
    }
}

fn duration(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        format!("{} min {:02} s", (s / 60.0) as u64, (s as u64) % 60)
    }
}

/// Print and write (`DIR/summary.json`) what the pipeline produced.
fn summary(cx: &Ctx, stamps: &[&stamp::Stamp], started: Instant) -> anyhow::Result<()> {
    let out = &cx.args.out;
    let read_json = |p: &Path| -> anyhow::Result<serde_json::Value> {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
    };
    let report = read_json(&out.join("run").join("report.json"))?;
    let arch = read_json(&out.join("train").join("arch.json"))?;
    let metrics = std::fs::read_to_string(out.join("train").join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .last()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok());
    let f = |v: &serde_json::Value, path: &[&str]| -> Option<f64> {
        path.iter()
            .try_fold(v, |v, k| v.get(*k))
            .and_then(|x| x.as_f64())
    };
    let meta = &arch["meta"];
    let chosen = meta
        .get("genotype")
        .or_else(|| meta.get("blocks"))
        .and_then(|v| v.as_str())
        .unwrap_or("?");
    let runtime_accuracy = f(&report, &["accuracy"]);
    let train_accuracy = metrics.as_ref().and_then(|m| f(m, &["test_accuracy"]));
    let samples = f(&report, &["samples"]).unwrap_or(0.0);
    let spikes = f(&report, &["totals", "spikes"]);
    let sops = f(&report, &["totals", "sops"]);
    let energy = f(&report, &["energy", "total_j"]);
    let target = report["target"]["name"]
        .as_str()
        .unwrap_or(&cx.args.target.target);
    let files: Vec<String> = stamps
        .iter()
        .flat_map(|s| {
            s.outputs
                .keys()
                .map(move |rel| out.join(&s.stage).join(rel).display().to_string())
        })
        .collect();
    let pct = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{:.2}%", 100.0 * x));
    let num = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{x:.0}"));
    println!();
    println!("summary ({})", duration(started.elapsed().as_secs_f64()));
    println!(
        "  architecture        {} `{chosen}` (width {}, T = {})",
        cx.args.search.name(),
        meta["width"],
        arch["timesteps"]
    );
    println!(
        "  accuracy            {} (event-driven run, {samples:.0} test samples); {} after training",
        pct(runtime_accuracy),
        pct(train_accuracy)
    );
    println!("  spikes per sample   {}", num(spikes));
    println!("  SOPs per sample     {}", num(sops));
    println!(
        "  energy per sample   {} on {target}",
        energy.map_or("n/a".into(), |e| format!("{:.3} µJ", e * 1e6))
    );
    println!("  files:");
    for f in &files {
        println!("    {f}");
    }
    let doc = serde_json::json!({
        "method": cx.args.search.name(),
        "architecture": chosen,
        "dataset": cx.args.data.dataset.to_string(),
        "accuracy": runtime_accuracy,
        "training_test_accuracy": train_accuracy,
        "samples": samples,
        "spikes_per_sample": spikes,
        "sops_per_sample": sops,
        "energy_per_sample_j": energy,
        "target": target,
        "stage_seconds": stamps.iter().map(|s| (s.stage.clone(), s.seconds)).collect::<std::collections::BTreeMap<_, _>>(),
        "files": files,
    });
    let path = out.join("summary.json");
    snnc_compiler::atomic::write(
        &path,
        (serde_json::to_string_pretty(&doc)? + "\n").as_bytes(),
    )
    .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
