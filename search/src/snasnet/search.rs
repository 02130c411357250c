//! SNASNet random search (snasnet.md §5): sample, score and log candidates to JSONL, resumably,
//! and write the best cell as an architecture file.

use super::genotype::genotype_to_json;
use super::kernel::KernelKind;
use super::sampler::{CellMode, sample};
use super::score::{PassState, ScoreOptions, score_genotype};
use crate::arch::InputGeometry;
use crate::arch::snasnet::{CellGenotype, SnasnetConfig, snasnet_network};
use crate::data::{Augment, InputPipeline};
use crate::device::ComputeDevice;
use crate::error::{Result, SearchError};
use serde::{Deserialize, Serialize};
use snnc_compiler::atomic;
use snnc_datasets::Dataset;
use snnc_datasets::transform::{FrameSplit, Rng};
use std::path::{Path, PathBuf};

/// Everything that decides a search's candidates and scores; stored in `search.json` and checked
/// on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSettings {
    pub dataset: String,
    pub cell: String,
    pub candidates: usize,
    pub batch: usize,
    pub repeats: usize,
    pub timesteps: usize,
    pub width: usize,
    pub kernel: String,
    pub seed: u64,
    /// Carry LIF membranes and dropout masks between a candidate's passes (the official code's
    /// behaviour, snasnet.md §4.6) instead of starting each pass fresh.
    #[serde(default)]
    pub carry_state: bool,
    /// Where the candidates are scored; not stored (the CPU when read back).
    #[serde(skip)]
    pub device: ComputeDevice,
}

impl SearchSettings {
    /// Settings no search can run with; checked before anything is written.
    pub fn check(&self) -> Result<()> {
        self.cell.parse::<CellMode>()?;
        self.kernel.parse::<KernelKind>()?;
        if self.batch < 2 || self.repeats == 0 || self.timesteps == 0 || self.width == 0 {
            return Err(SearchError::setting(
                "--batch must be at least 2 and --repeats, --timesteps and --width at least 1",
            ));
        }
        Ok(())
    }
}

/// One scored candidate: a line of `candidates.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateRecord {
    pub index: usize,
    pub genotype: String,
    /// -inf when a pass's kernel is singular (e.g. a cell that never spikes).
    #[serde(with = "crate::jsonl::float")]
    pub score: f64,
    #[serde(with = "crate::jsonl::float::vec")]
    pub per_pass: Vec<f64>,
    pub lif_calls: usize,
    /// Sampler draws until acceptance.
    pub draws: usize,
    pub seconds: f64,
    /// Part of `seconds` spent packing spikes and building kernels.
    #[serde(default)]
    pub kernel_seconds: f64,
}

/// Where a search writes.
pub struct SearchFiles {
    pub settings: PathBuf,
    pub candidates: PathBuf,
    pub best_arch: PathBuf,
    pub best_genotype: PathBuf,
}

impl SearchFiles {
    pub fn in_dir(dir: &Path) -> Self {
        SearchFiles {
            settings: dir.join("search.json"),
            candidates: dir.join("candidates.jsonl"),
            best_arch: dir.join("best_arch.json"),
            best_genotype: dir.join("best_genotype.json"),
        }
    }
}

/// The best record: highest score, ties to the later index (the official argmax over a reversed
/// comparison, §5).
pub fn best(records: &[CandidateRecord]) -> Option<&CandidateRecord> {
    let mut best: Option<&CandidateRecord> = None;
    for r in records {
        if r.score.is_nan() {
            continue;
        }
        if best.is_none_or(|b| r.score >= b.score) {
            best = Some(r);
        }
    }
    best
}

/// Records already in `path`; a torn last line (an interrupted write) is dropped.
pub fn read_records(path: &Path) -> Result<Vec<CandidateRecord>> {
    read_log(path).map(|(records, _)| records)
}

/// The records of a log and the text of their lines, byte for byte (without a torn tail).
fn read_log(path: &Path) -> Result<(Vec<CandidateRecord>, String)> {
    crate::jsonl::read_numbered(path, |r: &CandidateRecord| r.index, "one search's log")
}

/// Score candidate `index`: everything it draws comes from stream `index` of the seed, so a
/// resumed search reproduces an uninterrupted one.
pub fn score_candidate(
    index: usize,
    s: &SearchSettings,
    mode: CellMode,
    kind: KernelKind,
    geometry: InputGeometry,
    data: &Dataset,
    augment: Augment,
) -> Result<CandidateRecord> {
    let start = std::time::Instant::now();
    let mut rng = Rng::with_stream(s.seed, index as u64);
    let (geno, draws) = sample(mode, &mut rng);
    let init_seed = rng.next_u64();
    let cfg = config(geometry, s);
    let net = snasnet_network(&geno, &cfg)
        .map_err(|e| SearchError::architecture(geno, e))?
        .validate()
        .map_err(|e| SearchError::architecture(geno, e))?;
    let pipeline = InputPipeline::new(&net, data, augment, FrameSplit::ByCount)
        .map_err(|e| SearchError::input(data.name(), e))?;
    let n = data.len();
    if n < s.batch {
        return Err(SearchError::TooFewSamples {
            message: format!(
                "the dataset has {n} samples, fewer than the batch of {}",
                s.batch
            ),
        });
    }
    let mut inputs = Vec::with_capacity(s.repeats);
    for _ in 0..s.repeats {
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        order.truncate(s.batch);
        let (x, _) = pipeline.batch(data, &order, Some(&mut rng), &s.device)?;
        inputs.push(x);
    }
    let options = ScoreOptions {
        kind,
        state: if s.carry_state {
            PassState::Carry
        } else {
            PassState::Reset
        },
        device: s.device.clone(),
    };
    let sc = score_genotype(&geno, &cfg, init_seed, &inputs, &options, &mut rng)?;
    Ok(CandidateRecord {
        index,
        genotype: geno.to_string(),
        score: sc.score,
        per_pass: sc.per_pass,
        lif_calls: sc.lif_calls,
        draws,
        seconds: start.elapsed().as_secs_f64(),
        kernel_seconds: sc.kernel_seconds,
    })
}

/// The macro-network settings of a search.
pub fn config(geometry: InputGeometry, s: &SearchSettings) -> SnasnetConfig {
    let mut cfg = SnasnetConfig::new(geometry, s.width);
    cfg.timesteps = s.timesteps;
    cfg
}

/// Run (or resume) a search in `dir`. `progress(done, record)` is told about each new record.
/// Returns every record, old and new.
pub fn run_search(
    dir: &Path,
    s: &SearchSettings,
    geometry: InputGeometry,
    data: &Dataset,
    augment: Augment,
    progress: &mut dyn FnMut(usize, &CandidateRecord),
) -> Result<Vec<CandidateRecord>> {
    s.check()?;
    let mode: CellMode = s.cell.parse()?;
    let kind: KernelKind = s.kernel.parse()?;
    std::fs::create_dir_all(dir).map_err(|e| SearchError::io(dir, e))?;
    let files = SearchFiles::in_dir(dir);
    if files.settings.exists() {
        let text = std::fs::read_to_string(&files.settings)
            .map_err(|e| SearchError::io(&files.settings, e))?;
        let old: SearchSettings =
            serde_json::from_str(&text).map_err(|e| SearchError::corrupt(&files.settings, e))?;
        let same = SearchSettings {
            candidates: old.candidates,
            ..s.clone()
        };
        if same != old {
            return Err(SearchError::OtherSettings {
                path: files.settings.clone(),
                found: serde_json::to_string(&old).expect("settings serialise"),
            });
        }
    }
    let settings_json = serde_json::to_string_pretty(s).expect("settings serialise");
    atomic::write(&files.settings, (settings_json + "\n").as_bytes())
        .map_err(|e| SearchError::io(&files.settings, e))?;
    let (mut records, text) = read_log(&files.candidates)?;
    // Kept lines stay byte for byte; a torn tail goes before anything is appended.
    let mut log = crate::jsonl::reopen(&files.candidates, &text)?;
    for index in records.len()..s.candidates {
        let r = score_candidate(index, s, mode, kind, geometry, data, augment)?;
        log.append(&r)?;
        records.push(r);
        progress(records.len(), records.last().expect("pushed"));
    }
    if let Some(b) = best(&records) {
        let geno: CellGenotype = b
            .genotype
            .parse()
            .map_err(|e| SearchError::architecture(&b.genotype, e))?;
        let desc = snasnet_network(&geno, &config(geometry, s))
            .map_err(|e| SearchError::architecture(&b.genotype, e))?;
        atomic::write(&files.best_arch, (desc.to_json_pretty() + "\n").as_bytes())
            .map_err(|e| SearchError::io(&files.best_arch, e))?;
        let mut g = genotype_to_json(&geno);
        g["index"] = b.index.into();
        g["score"] = b.score.into();
        let text = serde_json::to_string_pretty(&g).expect("JSON values serialise");
        atomic::write(&files.best_genotype, (text + "\n").as_bytes())
            .map_err(|e| SearchError::io(&files.best_genotype, e))?;
    }
    Ok(records)
}
