//! `snnc run`: profile a compiled network on real data with the event-driven runtime.

use anyhow::Context;
use clap::Args;
use snnc_datasets::{DatasetName, Split};
use snnc_runtime::data::DatasetInputs;
use snnc_runtime::report::{self, Report};
use snnc_runtime::{Inputs, Plan};
use snnc_targets::{DEFAULT_TARGET, Target};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A `.snnir` module, or a training output directory (network.json + weights.safetensors)
    /// compiled and optimised on the spot.
    pub compiled: PathBuf,
    #[arg(long)]
    pub dataset: DatasetName,
    /// The dataset's folder (e.g. ../shared/data/fashion-mnist).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Run the first N samples of the split (default: all).
    #[arg(long)]
    pub samples: Option<usize>,
    #[arg(long, default_value = "test")]
    pub split: Split,
    /// Energy target: a built-in name (see `snnc targets`) or the path of a target file.
    #[arg(long, default_value = DEFAULT_TARGET)]
    pub target: String,
    /// Write the full report as JSON (schema: docs/report.md).
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// Write the tables as CSV files into this folder.
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Draw spikes per layer over time and energy per layer as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print nothing but errors (the files are still written).
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: RunArgs) -> anyhow::Result<()> {
    let target = Target::resolve(&a.target)?;
    let module = snnc_runtime::load::load(&a.compiled)?;
    let plan = Plan::new(&module).with_context(|| format!("{}", a.compiled.display()))?;
    let inputs = DatasetInputs::load(&plan, a.dataset, &a.data_dir, a.split, a.samples)?;
    if let Some(note) = inputs.mapping().transform_note().filter(|_| !a.quiet) {
        eprintln!("input: {note}");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()?;
    let threads = pool.current_num_threads();

    // A bar only when the run is long enough to watch; indicatif hides it off a terminal.
    let bar = (!a.quiet && inputs.len() >= 256).then(|| {
        let b = indicatif::ProgressBar::new(inputs.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} samples {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let tick = || {
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    let profile = pool.install(|| plan.profile(&inputs, Some(&tick)))?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }

    let samples = profile.tally.samples;
    let cx = report::Context {
        source: a.compiled.display().to_string(),
        dataset: Some(format!(
            "{} ({}, {})",
            a.dataset,
            a.split,
            a.data_dir.display()
        )),
        accuracy: profile.accuracy(inputs.labels()),
        predictions: profile.predictions.clone(),
        timing: Some(report::Timing {
            seconds: profile.seconds,
            samples_per_second: samples as f64 / profile.seconds.max(1e-12),
            threads,
        }),
    };
    let r = Report::new(&plan, &profile.tally, &target, cx);
    if !a.quiet {
        print!("{}", report::table(&r));
    }
    if let Some(path) = &a.report {
        r.write_json(path)?;
    }
    if let Some(dir) = &a.csv {
        report::write_csv(&r, dir)?;
    }
    if let Some(path) = &a.plot {
        report::write_svg(&r, path)?;
    }
    Ok(())
}
