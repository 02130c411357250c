//! `snnc run`: profile a compiled network on real data with the event-driven runtime.

use super::args::{DataArgs, TargetArg};
use clap::Args;
use snnc_datasets::Split;
use snnc_runtime::dataset_run::{ReportFiles, RunProgress, RunSettings, profile_dataset};
use snnc_runtime::report;
use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A `.snnir` module, or a training output directory (network.json + weights.safetensors)
    /// compiled and optimised on the spot.
    pub compiled: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Run the first N samples of the split (default: all).
    #[arg(long)]
    pub samples: Option<usize>,
    #[arg(long, default_value = "test")]
    pub split: Split,
    #[command(flatten)]
    pub target: TargetArg,
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
    let settings = RunSettings {
        compiled: a.compiled,
        dataset: a.data.dataset,
        data_dir: a.data.data_dir,
        split: a.split,
        samples: a.samples,
        target: a.target.target,
        threads: a.threads,
        files: ReportFiles {
            json: a.report,
            csv_dir: a.csv,
            svg: a.plot,
        },
    };
    let r = profile(&settings, a.quiet)?;
    if !a.quiet {
        print!("{}", report::table(&r));
    }
    Ok(())
}

/// [`profile_dataset`] with a progress bar unless `quiet`.
pub fn profile(settings: &RunSettings, quiet: bool) -> anyhow::Result<report::Report> {
    let bar = OnceLock::new();
    let progress = |p: RunProgress| match p {
        RunProgress::Started {
            samples,
            input_note,
        } => {
            if let Some(note) = input_note.filter(|_| !quiet) {
                eprintln!("input: {note}");
            }
            if let Some(b) = progress_bar(samples, quiet) {
                let _ = bar.set(b);
            }
        }
        RunProgress::SampleDone => {
            if let Some(b) = bar.get() {
                b.inc(1);
            }
        }
        RunProgress::Finished => {
            if let Some(b) = bar.get() {
                b.finish_and_clear();
            }
        }
    };
    Ok(profile_dataset(settings, &progress)?)
}

/// A bar only when the run is long enough to watch; indicatif hides it off a terminal.
fn progress_bar(samples: usize, quiet: bool) -> Option<indicatif::ProgressBar> {
    (!quiet && samples >= 256).then(|| {
        let b = indicatif::ProgressBar::new(samples as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} samples {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    })
}
