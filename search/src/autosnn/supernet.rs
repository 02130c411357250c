//! AutoSNN's weight-sharing supernet (autosnn.md §3): every block choice at every position in one
//! parameter store, one uniformly sampled path per batch, trained on the first 80 % of the
//! training split with checkpoints; and the evaluation of one architecture with inherited weights
//! on the held-out part (§4).

use super::counting::{Activity, CountPlan};
use super::space::sample_uniform;
use crate::arch::InputGeometry;
use crate::arch::autosnn::{AutoSnnArch, AutoSnnConfig, Block, autosnn_network};
use crate::data::{Augment, InputPipeline};
use crate::device::ComputeDevice;
use crate::error::{Result, SearchError, check_settings};
use crate::init::InitScheme;
use crate::model::SnnModel;
use crate::optim::{Optimizer, OptimizerKind};
use crate::params::ParamStore;
use crate::train::{LossKind, loss_and_correct};
use crate::training_loop::{self, BatchOutput, EpochMetrics, LoopOutcome, Resume, Task};
use serde::{Deserialize, Serialize};
use snnc_compiler::atomic;
use snnc_compiler::network::{NetworkDesc, ReadoutKind, Weights};
use snnc_datasets::Dataset;
use snnc_datasets::transform::{Rng, epoch_order};
use snnc_targets::OpCounts;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Everything that decides the supernet's weights; stored in `settings.json` and checked on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupernetSettings {
    pub dataset: String,
    /// Channel count C of the first stage.
    pub width: usize,
    pub timesteps: usize,
    pub epochs: usize,
    pub batch_size: usize,
    /// Adam learning rate, constant (§3).
    pub lr: f64,
    pub seed: u64,
    /// Share of the training split the supernet trains on; the rest is held out for the search.
    pub train_fraction: f64,
    /// Train on only the first N samples of the supernet's share (quick runs and tests).
    pub train_limit: Option<usize>,
    /// Keep moving blocks that were sampled before but not in this batch, as the official code's
    /// Adam does (§3, §8); off: only the sampled path is updated.
    pub update_unsampled: bool,
    /// Where the tensors live; not stored (the CPU when read back).
    #[serde(skip)]
    pub device: ComputeDevice,
}

impl SupernetSettings {
    /// The documented reduced budget for a 2-core machine (docs/results.md).
    pub fn small(dataset: &str) -> Self {
        SupernetSettings {
            dataset: dataset.to_string(),
            width: 16,
            timesteps: 4,
            epochs: 2,
            batch_size: 96,
            lr: 1e-3,
            seed: 0,
            train_fraction: 0.8,
            train_limit: None,
            update_unsampled: false,
            device: ComputeDevice::default(),
        }
    }

    /// Settings no supernet can train with, named by their CLI flags.
    pub fn check(&self) -> Result<()> {
        let mut wrong = Vec::new();
        if self.width == 0 || self.timesteps == 0 || self.batch_size == 0 || self.epochs == 0 {
            wrong.push(
                "--width, --timesteps, --batch-size and --supernet-epochs must be at least 1"
                    .to_string(),
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            wrong.push(format!("--lr must be a positive number, got {}", self.lr));
        }
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            wrong.push(format!(
                "the supernet's training share must lie strictly between 0 and 1, got {}",
                self.train_fraction
            ));
        }
        if self.train_limit == Some(0) {
            wrong.push("--train-limit must be at least 1".to_string());
        }
        check_settings(wrong)
    }

    /// The training and held-out index ranges of a training split of `n` samples.
    pub fn split(&self, n: usize) -> (Range<usize>, Range<usize>) {
        let cut = ((n as f64) * self.train_fraction).round() as usize;
        let cut = cut.min(n);
        let train_end = self.train_limit.map_or(cut, |l| l.min(cut));
        (0..train_end, cut..n)
    }
}

/// All candidate blocks' weights and the models of the paths built so far.
pub struct Supernet {
    pub settings: SupernetSettings,
    pub params: ParamStore,
    config: AutoSnnConfig,
    models: HashMap<AutoSnnArch, SnnModel>,
}

impl Supernet {
    /// Initialise every (position, block) weight, the stem and the classifier from `seed`.
    pub fn new(settings: SupernetSettings, input: InputGeometry) -> Result<Self> {
        let mut config = AutoSnnConfig::new(input, settings.width);
        config.timesteps = settings.timesteps;
        config.supernet_names = true;
        let mut params = ParamStore::new();
        // Building the five uniform paths in a fixed order touches every parameter once, so the
        // initial weights do not depend on which paths training happens to sample first.
        for (k, block) in Block::ALL.into_iter().enumerate() {
            let net = Self::network(&config, &AutoSnnArch([block; 5]))?;
            let model = SnnModel::with_store(
                net,
                InitScheme::Pytorch,
                settings.seed.wrapping_add(k as u64),
                params,
                &settings.device,
            )?;
            params = model.params;
        }
        Ok(Supernet {
            settings,
            params,
            config,
            models: HashMap::new(),
        })
    }

    fn network(
        config: &AutoSnnConfig,
        arch: &AutoSnnArch,
    ) -> Result<snnc_compiler::network::Network> {
        autosnn_network(arch, config)
            .map_err(|e| SearchError::architecture(arch, e))?
            .validate()
            .map_err(|e| SearchError::architecture(arch, e))
    }

    /// The path `arch` as a model whose variables are the supernet's.
    pub fn model(&mut self, arch: &AutoSnnArch) -> Result<&SnnModel> {
        if !self.models.contains_key(arch) {
            let net = Self::network(&self.config, arch)?;
            let before = self.params.len();
            let model = SnnModel::with_store(
                net,
                InitScheme::Pytorch,
                0,
                self.params.clone(),
                &self.settings.device,
            )?;
            if model.params.len() != before {
                return Err(SearchError::architecture(
                    arch,
                    "the path has parameters the supernet lacks (internal error)",
                ));
            }
            self.models.insert(*arch, model);
        }
        Ok(&self.models[arch])
    }

    /// The stand-alone network file of `arch` (plain node names, the supernet's T and width),
    /// ready for `snnc train`.
    pub fn child_network(&self, arch: &AutoSnnArch) -> Result<NetworkDesc> {
        let mut config = self.config;
        config.supernet_names = false;
        autosnn_network(arch, &config).map_err(|e| SearchError::architecture(arch, e))
    }

    pub fn input(&self) -> InputGeometry {
        self.config.input
    }
}

/// What a finished supernet reports: the fitness normalisers of §4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupernetSummary {
    pub settings: SupernetSettings,
    pub epochs_done: usize,
    /// C_s: mean spikes per sample (§4 counting) over the last epoch's sampled paths.
    pub spikes_per_sample: f64,
    /// Mean operation counts per sample over the same passes; E_ref is a target's price of them.
    pub counts_per_sample: OpCounts,
    pub last_epoch_loss: f64,
    pub last_epoch_accuracy: f64,
    pub train_samples: usize,
    pub held_out_samples: usize,
    pub seconds: f64,
}

/// The files of a supernet directory.
pub struct SupernetFiles {
    pub dir: PathBuf,
}

impl SupernetFiles {
    pub fn summary(&self) -> PathBuf {
        self.dir.join("supernet.json")
    }
    pub fn weights(&self) -> PathBuf {
        self.dir.join("weights.safetensors")
    }
    pub fn metrics(&self) -> PathBuf {
        self.dir.join(training_loop::METRICS)
    }
    pub fn evaluations(&self) -> PathBuf {
        self.dir.join("evaluations.jsonl")
    }
}

fn optimizer(settings: &SupernetSettings) -> Optimizer {
    let mut opt = Optimizer::new(OptimizerKind::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    });
    opt.update_without_grad = settings.update_unsampled;
    opt
}

/// The supernet's trained weights and summary, if `dir` holds a finished supernet made with
/// `settings`. An unfinished or different one is `None` / an error.
pub fn load_finished(
    dir: &Path,
    settings: &SupernetSettings,
    input: InputGeometry,
) -> Result<Option<(Supernet, SupernetSummary)>> {
    let files = SupernetFiles {
        dir: dir.to_path_buf(),
    };
    let text = match std::fs::read_to_string(files.summary()) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SearchError::io(&files.summary(), e)),
    };
    let summary: SupernetSummary = serde_json::from_str(&text)
        .map_err(|e| SearchError::corrupt(&files.summary(), format!("corrupt summary: {e}")))?;
    if summary.settings != *settings {
        return Err(SearchError::OtherSettings {
            path: files.summary(),
            found: serde_json::to_string(&summary.settings).expect("serialises"),
        });
    }
    let net = Supernet::new(settings.clone(), input)?;
    let weights = Weights::load(&files.weights())?;
    net.params
        .load_weights(&weights)
        .map_err(|e| SearchError::corrupt(&files.weights(), e))?;
    Ok(Some((net, summary)))
}

/// Train the supernet in `dir` (resuming from its checkpoint if there is one), or load it if it is
/// finished. `stop` is polled between batches; an interrupted run saves a checkpoint and returns
/// `Ok(None)`.
pub fn train_supernet(
    settings: &SupernetSettings,
    data: &Dataset,
    input: InputGeometry,
    dir: &Path,
    stop: &AtomicBool,
    show_progress: bool,
) -> Result<Option<(Supernet, SupernetSummary)>> {
    settings.check()?;
    if let Some(done) = load_finished(dir, settings, input)? {
        return Ok(Some(done));
    }
    let mut task = SupernetTraining::new(settings, data, input, dir)?;
    let mut opt = optimizer(settings);
    match training_loop::run(
        &mut task,
        &mut opt,
        dir,
        Resume::IfPresent,
        stop,
        show_progress,
    )? {
        LoopOutcome::Interrupted { .. } => Ok(None),
        LoopOutcome::Finished => match task.summary {
            Some(summary) => Ok(Some((task.net, summary))),
            None => Err(SearchError::FinishedWithoutOutputs {
                dir: dir.to_path_buf(),
                missing: "supernet.json",
            }),
        },
    }
}

/// Spike and operation counts summed over an epoch's sampled paths (the fitness normalisers).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PathActivity {
    fitness_spikes: f64,
    counts: OpCounts,
}

/// Supernet training as a task of the training loop: each batch trains one uniformly sampled
/// path on the supernet's share of the training split.
struct SupernetTraining<'a> {
    settings: &'a SupernetSettings,
    net: Supernet,
    data: &'a Dataset,
    pipeline: InputPipeline,
    train_range: Range<usize>,
    held_out: usize,
    files: SupernetFiles,
    summary: Option<SupernetSummary>,
}

impl<'a> SupernetTraining<'a> {
    fn new(
        settings: &'a SupernetSettings,
        data: &'a Dataset,
        input: InputGeometry,
        dir: &Path,
    ) -> Result<Self> {
        let mut net = Supernet::new(settings.clone(), input)?;
        let (train_range, held_out) = settings.split(data.len());
        if train_range.is_empty() {
            return Err(SearchError::TooFewSamples {
                message: "the supernet's training share is empty; raise --train-limit".into(),
            });
        }
        let probe = net.model(&AutoSnnArch([Block::Skip; 5]))?.net.clone();
        let pipeline = InputPipeline::new(
            &probe,
            data,
            Augment::default_for(data.name()),
            Default::default(),
        )
        .map_err(|e| SearchError::input(data.name(), e))?;
        Ok(SupernetTraining {
            settings,
            net,
            data,
            pipeline,
            train_range,
            held_out: held_out.len(),
            files: SupernetFiles {
                dir: dir.to_path_buf(),
            },
            summary: None,
        })
    }
}

impl Task for SupernetTraining<'_> {
    type Settings = SupernetSettings;
    type Tally = PathActivity;

    fn settings(&self) -> &SupernetSettings {
        self.settings
    }

    fn continues(&self, saved: &SupernetSettings) -> bool {
        saved == self.settings
    }

    fn label(&self) -> &'static str {
        "supernet"
    }

    fn epochs(&self) -> usize {
        self.settings.epochs
    }

    fn batch_size(&self) -> usize {
        self.settings.batch_size
    }

    fn seed(&self) -> u64 {
        self.settings.seed
    }

    /// Adam at a constant rate (§3).
    fn learning_rate(&self, _: usize) -> f64 {
        self.settings.lr
    }

    fn epoch_order(&self, epoch: usize) -> Vec<usize> {
        epoch_order(self.train_range.len(), self.settings.seed, epoch as u64)
            .into_iter()
            .map(|i| self.train_range.start + i)
            .collect()
    }

    fn params(&self) -> &ParamStore {
        &self.net.params
    }

    fn restore(&mut self, weights: &Weights, path: &Path) -> Result<()> {
        self.net
            .params
            .load_weights(weights)
            .map_err(|e| SearchError::corrupt(path, e))
    }

    fn step(
        &mut self,
        indices: &[usize],
        rng: &mut Rng,
        tally: &mut PathActivity,
    ) -> Result<BatchOutput> {
        let arch = sample_uniform(rng);
        let device = self.settings.device.clone();
        let (x, y) = self
            .pipeline
            .batch(self.data, indices, Some(rng), &device)?;
        let model = self.net.model(&arch)?;
        let plan = CountPlan::new(model)?;
        let (fwd, activity) = plan.counted_forward(model, &x, true, rng)?;
        let (loss, correct) = loss_and_correct(
            &fwd.readout,
            &y,
            LossKind::for_readout(ReadoutKind::SpikeCount),
            self.settings.timesteps,
        )?;
        tally.fitness_spikes += activity.fitness_spikes;
        tally.counts += activity.counts;
        Ok(BatchOutput {
            loss,
            correct,
            sampled: Some(arch.to_string()),
        })
    }

    fn progress_note(&self, tally: &PathActivity, seen: u64) -> String {
        format!(
            " spikes/sample {:.0}",
            tally.fitness_spikes / seen.max(1) as f64
        )
    }

    fn measure_epoch(
        &mut self,
        base: EpochMetrics,
        tally: &PathActivity,
        seen: u64,
        _: bool,
    ) -> Result<EpochMetrics> {
        Ok(EpochMetrics {
            spikes_per_sample: tally.fitness_spikes / seen.max(1) as f64,
            ..base
        })
    }

    /// After the last epoch: the weights and the summary, which marks the supernet finished.
    fn finish_epoch(&mut self, m: &EpochMetrics, tally: &PathActivity, seen: u64) -> Result<()> {
        if m.epoch < self.settings.epochs {
            return Ok(());
        }
        let seen = seen.max(1) as f64;
        let seconds = training_loop::read_metrics(&self.files.metrics())?
            .iter()
            .map(|m| m.seconds)
            .sum();
        let summary = SupernetSummary {
            settings: self.settings.clone(),
            epochs_done: m.epoch,
            spikes_per_sample: tally.fitness_spikes / seen,
            counts_per_sample: tally.counts.scaled(1.0 / seen),
            last_epoch_loss: m.train_loss,
            last_epoch_accuracy: m.train_accuracy,
            train_samples: self.train_range.len(),
            held_out_samples: self.held_out,
            seconds,
        };
        self.net.params.to_weights()?.save(&self.files.weights())?;
        let json = serde_json::to_string_pretty(&summary).expect("serialises");
        atomic::write(&self.files.summary(), json.as_bytes())
            .map_err(|e| SearchError::io(&self.files.summary(), e))?;
        self.summary = Some(summary);
        Ok(())
    }
}

/// One architecture evaluated with the supernet's weights (§4): accuracy, spikes and operation
/// counts per sample on the held-out samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchEvaluation {
    pub arch: AutoSnnArch,
    pub ids: String,
    pub accuracy: f64,
    pub spikes_per_sample: f64,
    pub counts_per_sample: OpCounts,
    pub samples: usize,
    /// Training samples the path's BatchNorm statistics were re-estimated on first (0: none).
    #[serde(default)]
    pub recalibration_samples: usize,
    pub seconds: f64,
}

/// Run `arch` in inference mode (BN running statistics, fresh state per batch) over `indices` of
/// `data`, without augmentation. With `recalibrate` samples, the path's BatchNorm running
/// statistics are first re-estimated on them (train-mode passes, no weight change) and restored
/// afterwards, so evaluations stay independent of each other; the official code does not do this
/// (autosnn.md §4), so it is off unless asked for.
pub fn evaluate_arch(
    net: &mut Supernet,
    arch: &AutoSnnArch,
    data: &Dataset,
    indices: &[usize],
    batch_size: usize,
    recalibrate: &[usize],
) -> Result<ArchEvaluation> {
    let started = Instant::now();
    let model = net.model(arch)?;
    let pipeline = InputPipeline::new(&model.net, data, Augment::NONE, Default::default())
        .map_err(|e| SearchError::input(data.name(), e))?;
    let plan = CountPlan::new(model)?;
    let stats = bn_statistics(model);
    let saved: Vec<candle_core::Tensor> = stats
        .iter()
        .map(|v| v.as_tensor().copy())
        .collect::<candle_core::Result<_>>()?;
    let mut rng = Rng::new(0);
    for chunk in recalibrate.chunks(batch_size.max(1)) {
        let (x, _) = pipeline.batch(data, chunk, None, model.device())?;
        model.forward(&x, true, &mut rng, false)?;
    }
    let result = evaluate_path(model, &plan, &pipeline, data, indices, batch_size);
    for (var, t) in stats.iter().zip(&saved) {
        var.set(t)?;
    }
    let (accuracy, activity) = result?;
    Ok(ArchEvaluation {
        arch: *arch,
        ids: arch.ids(),
        accuracy,
        spikes_per_sample: activity.spikes_per_sample(),
        counts_per_sample: activity.counts_per_sample(),
        samples: indices.len(),
        recalibration_samples: recalibrate.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The running-statistics variables of every BatchNorm on a path.
fn bn_statistics(model: &SnnModel) -> Vec<candle_core::Var> {
    use snnc_compiler::network::{Op, ParamRole};
    (0..model.net.len())
        .filter(|&id| matches!(model.net.node(id).op, Op::BatchNorm(_)))
        .flat_map(|id| {
            let node = model.net.node(id);
            [ParamRole::RunningMean, ParamRole::RunningVar]
                .into_iter()
                .filter_map(|role| model.params.get(&node.tensor_name(role)).cloned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Accuracy and activity of one path in inference mode.
fn evaluate_path(
    model: &SnnModel,
    plan: &CountPlan,
    pipeline: &InputPipeline,
    data: &Dataset,
    indices: &[usize],
    batch_size: usize,
) -> Result<(f64, Activity)> {
    let mut activity = Activity::default();
    let mut correct = 0usize;
    let mut rng = Rng::new(0);
    for chunk in indices.chunks(batch_size.max(1)) {
        let (x, y) = pipeline.batch(data, chunk, None, model.device())?;
        let (fwd, part) = plan.counted_forward(model, &x, false, &mut rng)?;
        let pred = crate::model::predictions(&fwd.readout)?;
        correct += pred
            .iter()
            .zip(&y)
            .filter(|(p, t)| **p == **t as u32)
            .count();
        activity.merge(&part);
    }
    Ok((correct as f64 / indices.len().max(1) as f64, activity))
}
