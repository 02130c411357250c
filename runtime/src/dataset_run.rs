//! One profiling run as a library call: load a compiled network, run it on a dataset split, price
//! its counts on a target and write the report files. `snnc run` and the pipeline's run stage
//! both call [`profile_dataset`].

use crate::data::DatasetInputs;
use crate::error::RuntimeError;
use crate::exec::Inputs;
use crate::plan::Plan;
use crate::report::{self, Report};
use snnc_datasets::{DatasetName, Split};
use snnc_targets::Target;
use std::path::PathBuf;
use thiserror::Error;

/// What to run, on which data, priced on which target, and which files to write.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// A `.snnir` module, or a training output directory compiled and optimised on the spot.
    pub compiled: PathBuf,
    pub dataset: DatasetName,
    pub data_dir: PathBuf,
    pub split: Split,
    /// Run only the first N samples of the split (all when `None`).
    pub samples: Option<usize>,
    /// A built-in target name or the path of a target file.
    pub target: String,
    /// Worker threads (all cores when `None`).
    pub threads: Option<usize>,
    pub files: ReportFiles,
}

/// The report files a run writes; each is optional.
#[derive(Debug, Clone, Default)]
pub struct ReportFiles {
    /// The full report as JSON (docs/report.md).
    pub json: Option<PathBuf>,
    /// A folder for the tables as CSV files.
    pub csv_dir: Option<PathBuf>,
    /// Spikes per layer over time and energy per layer, drawn as SVG.
    pub svg: Option<PathBuf>,
}

/// What a run tells its caller while it goes, e.g. to drive a progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunProgress {
    /// The inputs are loaded; this many samples will run. `input_note` names the transform
    /// (padding or cropping) that fits the dataset to the network's input, if any.
    Started {
        samples: usize,
        input_note: Option<String>,
    },
    /// One more sample finished (samples finish in parallel, in any order).
    SampleDone,
    /// Every sample finished.
    Finished,
}

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{}", path.display())]
    Plan {
        path: PathBuf,
        #[source]
        source: Box<snnc_compiler::validate::ValidationErrors>,
    },
    #[error("starting the worker threads")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// Run `s.compiled` on the dataset, write the files `s.files` names and return the report.
pub fn profile_dataset(
    s: &RunSettings,
    progress: &(dyn Fn(RunProgress) + Sync),
) -> Result<Report, RunError> {
    let target = Target::resolve(&s.target).map_err(RuntimeError::from)?;
    let module = crate::load::load(&s.compiled)?;
    let plan = Plan::new(&module).map_err(|source| RunError::Plan {
        path: s.compiled.clone(),
        source: Box::new(source),
    })?;
    let inputs = DatasetInputs::load(&plan, s.dataset, &s.data_dir, s.split, s.samples)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(s.threads.unwrap_or(0))
        .build()?;
    let threads = pool.current_num_threads();

    progress(RunProgress::Started {
        samples: inputs.len(),
        input_note: inputs.mapping().transform_note(),
    });
    let tick = || progress(RunProgress::SampleDone);
    let profile = pool.install(|| plan.profile(&inputs, Some(&tick)))?;
    progress(RunProgress::Finished);

    let cx = report::Context {
        source: s.compiled.display().to_string(),
        dataset: Some(format!(
            "{} ({}, {})",
            s.dataset,
            s.split,
            s.data_dir.display()
        )),
        accuracy: profile.accuracy(inputs.labels()),
        predictions: profile.predictions.clone(),
        timing: Some(report::Timing {
            seconds: profile.seconds,
            samples_per_second: profile.tally.samples as f64 / profile.seconds.max(1e-12),
            threads,
        }),
    };
    let r = Report::new(&plan, &profile.tally, &target, cx);
    write_files(&r, &s.files)?;
    Ok(r)
}

fn write_files(r: &Report, files: &ReportFiles) -> Result<(), RuntimeError> {
    if let Some(path) = &files.json {
        r.write_json(path)?;
    }
    if let Some(dir) = &files.csv_dir {
        report::write_csv(r, dir)?;
    }
    if let Some(path) = &files.svg {
        report::write_svg(r, path)?;
    }
    Ok(())
}
