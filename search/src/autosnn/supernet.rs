//! AutoSNN's weight-sharing supernet (autosnn.md §3): every block choice at every position in one
//! parameter store, one uniformly sampled path per batch, trained on the first 80 % of the
//! training split with checkpoints; and the evaluation of one architecture with inherited weights
//! on the held-out part (§4).

use super::counting::{Activity, CountPlan};
use super::space::sample_uniform;
use crate::arch::InputGeometry;
use crate::arch::autosnn::{AutoSnnArch, AutoSnnConfig, Block, autosnn_network};
use crate::data::{Augment, InputPipeline};
use crate::init::InitScheme;
use crate::model::SnnModel;
use crate::optim::{Optimizer, OptimizerKind};
use crate::params::ParamStore;
use crate::train::{LossKind, loss_and_correct};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use snnc_compiler::atomic;
use snnc_compiler::network::{NetworkDesc, ReadoutKind, Weights};
use snnc_datasets::Dataset;
use snnc_datasets::transform::{Rng, epoch_order};
use snnc_targets::OpCounts;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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
        }
    }

    /// Settings no supernet can train with, named by their CLI flags.
    pub fn check(&self) -> Result<(), String> {
        if self.width == 0 || self.timesteps == 0 || self.batch_size == 0 || self.epochs == 0 {
            return Err(
                "--width, --timesteps, --batch-size and --supernet-epochs must be at least 1"
                    .into(),
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("--lr must be a positive number, got {}", self.lr));
        }
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            return Err(format!(
                "the supernet's training share must lie strictly between 0 and 1, got {}",
                self.train_fraction
            ));
        }
        if self.train_limit == Some(0) {
            return Err("--train-limit must be at least 1".into());
        }
        Ok(())
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
    pub fn new(settings: SupernetSettings, input: InputGeometry) -> Result<Self, String> {
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
            )
            .map_err(|e| e.to_string())?;
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
    ) -> Result<snnc_compiler::network::Network, String> {
        autosnn_network(arch, config)
            .map_err(|e| e.to_string())?
            .validate()
            .map_err(|e| format!("AutoSNN network {arch}: {e}"))
    }

    /// The path `arch` as a model whose variables are the supernet's.
    pub fn model(&mut self, arch: &AutoSnnArch) -> Result<&SnnModel, String> {
        if !self.models.contains_key(arch) {
            let net = Self::network(&self.config, arch)?;
            let before = self.params.len();
            let model = SnnModel::with_store(net, InitScheme::Pytorch, 0, self.params.clone())
                .map_err(|e| e.to_string())?;
            if model.params.len() != before {
                return Err(format!(
                    "path {arch} has parameters the supernet lacks (internal error)"
                ));
            }
            self.models.insert(*arch, model);
        }
        Ok(&self.models[arch])
    }

    /// The stand-alone network file of `arch` (plain node names, the supernet's T and width),
    /// ready for `snnc train`.
    pub fn child_network(&self, arch: &AutoSnnArch) -> Result<NetworkDesc, String> {
        let mut config = self.config;
        config.supernet_names = false;
        autosnn_network(arch, &config).map_err(|e| e.to_string())
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

/// Progress within training, saved with the weights and optimiser state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    settings: SupernetSettings,
    epoch: usize,
    next_batch: usize,
    optimizer_steps: u64,
    /// Sums over the current epoch so far.
    loss_sum: f64,
    correct: u64,
    seen: u64,
    fitness_spikes: f64,
    counts: OpCounts,
    seconds: f64,
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
        self.dir.join("metrics.jsonl")
    }
    pub fn evaluations(&self) -> PathBuf {
        self.dir.join("evaluations.jsonl")
    }
    fn checkpoint_dir(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }
    fn checkpoint_state(&self) -> PathBuf {
        self.checkpoint_dir().join(crate::checkpoint::STATE)
    }
    fn checkpoint_weights(&self) -> PathBuf {
        self.checkpoint_dir().join(crate::checkpoint::WEIGHTS)
    }
    fn checkpoint_optimizer(&self) -> PathBuf {
        self.checkpoint_dir().join(crate::checkpoint::OPTIMIZER)
    }
}

pub(crate) fn io_err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
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

fn save_checkpoint(
    files: &SupernetFiles,
    state: &CheckpointState,
    net: &Supernet,
    opt: &Optimizer,
) -> Result<(), String> {
    let state = CheckpointState {
        optimizer_steps: opt.steps,
        ..state.clone()
    };
    crate::checkpoint::save(&files.checkpoint_dir(), &state, &net.params, opt)
}

/// The supernet's trained weights and summary, if `dir` holds a finished supernet made with
/// `settings`. An unfinished or different one is `None` / an error.
pub fn load_finished(
    dir: &Path,
    settings: &SupernetSettings,
    input: InputGeometry,
) -> Result<Option<(Supernet, SupernetSummary)>, String> {
    let files = SupernetFiles {
        dir: dir.to_path_buf(),
    };
    let text = match std::fs::read_to_string(files.summary()) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&files.summary(), e)),
    };
    let summary: SupernetSummary = serde_json::from_str(&text)
        .map_err(|e| io_err(&files.summary(), format!("corrupt summary: {e}")))?;
    if summary.settings != *settings {
        return Err(format!(
            "{} was trained with other settings ({}); use the same flags or another --out",
            files.summary().display(),
            serde_json::to_string(&summary.settings).expect("serialises")
        ));
    }
    let net = Supernet::new(settings.clone(), input)?;
    let weights = Weights::load(&files.weights()).map_err(|e| e.to_string())?;
    net.params
        .load_weights(&weights)
        .map_err(|e| io_err(&files.weights(), e))?;
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
) -> Result<Option<(Supernet, SupernetSummary)>, String> {
    settings.check()?;
    if let Some(done) = load_finished(dir, settings, input)? {
        return Ok(Some(done));
    }
    let files = SupernetFiles {
        dir: dir.to_path_buf(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    crate::checkpoint::recover(&files.checkpoint_dir())?;
    let mut net = Supernet::new(settings.clone(), input)?;
    let mut opt = optimizer(settings);
    let (train_range, held_out) = settings.split(data.len());
    let n_train = train_range.len();
    if n_train == 0 {
        return Err("the supernet's training share is empty; raise --train-limit".into());
    }
    let mut state = CheckpointState {
        settings: settings.clone(),
        epoch: 0,
        next_batch: 0,
        optimizer_steps: 0,
        loss_sum: 0.0,
        correct: 0,
        seen: 0,
        fitness_spikes: 0.0,
        counts: OpCounts::default(),
        seconds: 0.0,
    };
    match std::fs::read_to_string(files.checkpoint_state()) {
        Ok(text) => {
            let saved: CheckpointState = serde_json::from_str(&text).map_err(|e| {
                io_err(
                    &files.checkpoint_state(),
                    format!("corrupt checkpoint: {e}"),
                )
            })?;
            if saved.settings != *settings {
                return Err(format!(
                    "{}: the checkpoint was made with other settings; use the same flags or another --out",
                    files.checkpoint_state().display()
                ));
            }
            let w = Weights::load(&files.checkpoint_weights()).map_err(|e| e.to_string())?;
            net.params
                .load_weights(&w)
                .map_err(|e| io_err(&files.checkpoint_weights(), e))?;
            let o = Weights::load(&files.checkpoint_optimizer()).map_err(|e| e.to_string())?;
            opt.load_state(saved.optimizer_steps, &o, &net.params)
                .map_err(|e| io_err(&files.checkpoint_optimizer(), e))?;
            // An epoch whose metrics line was written before its checkpoint is redone.
            crate::jsonl::keep_epochs(&files.metrics(), saved.epoch)?;
            eprintln!(
                "supernet: resuming at epoch {} batch {}",
                saved.epoch + 1,
                saved.next_batch
            );
            state = saved;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            atomic::write(&files.metrics(), b"").map_err(|e| io_err(&files.metrics(), e))?;
        }
        Err(e) => return Err(io_err(&files.checkpoint_state(), e)),
    }

    let probe = net.model(&AutoSnnArch([Block::Skip; 5]))?.net.clone();
    let pipeline = InputPipeline::new(
        &probe,
        data,
        Augment::default_for(data.name()),
        Default::default(),
    )
    .map_err(|e| e.to_string())?;
    let loss_kind = LossKind::for_readout(ReadoutKind::SpikeCount);
    let batch = settings.batch_size.max(1);
    let batches = n_train.div_ceil(batch);
    while state.epoch < settings.epochs {
        let epoch = state.epoch;
        let order: Vec<usize> = epoch_order(n_train, settings.seed, epoch as u64);
        let pb = progress(
            show_progress,
            n_train as u64,
            &format!("supernet epoch {}/{}", epoch + 1, settings.epochs),
        );
        pb.set_position((state.next_batch * batch).min(n_train) as u64);
        let started = Instant::now();
        let seconds_before = state.seconds;
        for b in state.next_batch..batches {
            if stop.load(Ordering::SeqCst) {
                state.next_batch = b;
                state.seconds = seconds_before + started.elapsed().as_secs_f64();
                save_checkpoint(&files, &state, &net, &opt)?;
                pb.abandon_with_message("interrupted; checkpoint saved");
                return Ok(None);
            }
            let idx: Vec<usize> = order[b * batch..((b + 1) * batch).min(n_train)]
                .iter()
                .map(|&i| train_range.start + i)
                .collect();
            let mut rng = Rng::with_stream(settings.seed, (epoch as u64) << 32 | b as u64);
            let arch = sample_uniform(&mut rng);
            let (x, y) = pipeline
                .batch(data, &idx, Some(&mut rng))
                .map_err(|e| e.to_string())?;
            let model = net.model(&arch)?;
            let plan = CountPlan::new(model).map_err(|e| e.to_string())?;
            let (fwd, activity) = plan
                .counted_forward(model, &x, true, &mut rng)
                .map_err(|e| e.to_string())?;
            let (loss, correct) = loss_and_correct(&fwd.readout, &y, loss_kind, settings.timesteps)
                .map_err(|e| e.to_string())?;
            let loss_value = loss.to_scalar::<f32>().map_err(|e| e.to_string())? as f64;
            if !loss_value.is_finite() {
                return Err(format!(
                    "supernet loss became {loss_value} at epoch {} batch {b} (path {arch}); lower --lr",
                    epoch + 1
                ));
            }
            let grads = loss.backward().map_err(|e| e.to_string())?;
            opt.step(&net.params, &grads, settings.lr)
                .map_err(|e| e.to_string())?;
            state.loss_sum += loss_value * idx.len() as f64;
            state.correct += correct as u64;
            state.seen += idx.len() as u64;
            state.fitness_spikes += activity.fitness_spikes;
            state.counts += activity.counts;
            pb.inc(idx.len() as u64);
            let secs = seconds_before + started.elapsed().as_secs_f64();
            pb.set_message(format!(
                "loss {:.4} acc {:.1}% spikes/sample {:.0} {:.0} samples/s",
                state.loss_sum / state.seen as f64,
                100.0 * state.correct as f64 / state.seen as f64,
                state.fitness_spikes / state.seen as f64,
                state.seen as f64 / secs.max(1e-9)
            ));
            // A checkpoint every ~200 batches bounds the work an interruption can lose.
            if (b + 1) % 200 == 0 {
                state.next_batch = b + 1;
                state.seconds = secs;
                save_checkpoint(&files, &state, &net, &opt)?;
            }
        }
        pb.finish_and_clear();
        let seen = state.seen.max(1) as f64;
        let seconds = seconds_before + started.elapsed().as_secs_f64();
        let metrics = serde_json::json!({
            "epoch": epoch + 1,
            "loss": state.loss_sum / seen,
            "accuracy": state.correct as f64 / seen,
            "spikes_per_sample": state.fitness_spikes / seen,
            "seconds": seconds,
            "samples_per_second": seen / seconds.max(1e-9),
        });
        append_line(&files.metrics(), &metrics.to_string())?;
        eprintln!(
            "supernet epoch {}/{}: loss {:.4} train {:.2}% spikes/sample {:.0} ({:.0} samples/s, {:.0} s)",
            epoch + 1,
            settings.epochs,
            state.loss_sum / seen,
            100.0 * state.correct as f64 / seen,
            state.fitness_spikes / seen,
            seen / seconds.max(1e-9),
            seconds
        );
        let last = (
            state.loss_sum / seen,
            state.correct as f64 / seen,
            state.fitness_spikes / seen,
            state.counts.scaled(1.0 / seen),
        );
        let total_seconds = read_total_seconds(&files.metrics())?;
        state = CheckpointState {
            epoch: epoch + 1,
            next_batch: 0,
            loss_sum: 0.0,
            correct: 0,
            seen: 0,
            fitness_spikes: 0.0,
            counts: OpCounts::default(),
            seconds: 0.0,
            ..state
        };
        save_checkpoint(&files, &state, &net, &opt)?;
        if state.epoch == settings.epochs {
            let (loss, acc, spikes, counts) = last;
            let summary = SupernetSummary {
                settings: settings.clone(),
                epochs_done: state.epoch,
                spikes_per_sample: spikes,
                counts_per_sample: counts,
                last_epoch_loss: loss,
                last_epoch_accuracy: acc,
                train_samples: n_train,
                held_out_samples: held_out.len(),
                seconds: total_seconds,
            };
            net.params
                .to_weights()
                .map_err(|e| e.to_string())?
                .save(&files.weights())
                .map_err(|e| e.to_string())?;
            let json = serde_json::to_string_pretty(&summary).expect("serialises");
            atomic::write(&files.summary(), json.as_bytes())
                .map_err(|e| io_err(&files.summary(), e))?;
            return Ok(Some((net, summary)));
        }
    }
    Err(format!(
        "{}: the checkpoint says training is past its last epoch but there is no supernet.json; \
         delete the checkpoint folder to retrain",
        dir.display()
    ))
}

fn append_line(path: &Path, line: &str) -> Result<(), String> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    writeln!(f, "{line}").map_err(|e| io_err(path, e))
}

fn read_total_seconds(metrics: &Path) -> Result<f64, String> {
    let (records, _) = crate::jsonl::read::<serde_json::Value>(metrics)?;
    Ok(records.iter().filter_map(|v| v["seconds"].as_f64()).sum())
}

fn progress(show: bool, len: u64, prefix: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed} < {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_prefix(prefix.to_string());
    pb
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
) -> Result<ArchEvaluation, String> {
    let started = Instant::now();
    let model = net.model(arch)?;
    let pipeline = InputPipeline::new(&model.net, data, Augment::NONE, Default::default())
        .map_err(|e| e.to_string())?;
    let plan = CountPlan::new(model).map_err(|e| e.to_string())?;
    let stats = bn_statistics(model);
    let saved: Vec<candle_core::Tensor> = stats
        .iter()
        .map(|v| v.as_tensor().copy())
        .collect::<candle_core::Result<_>>()
        .map_err(|e| e.to_string())?;
    let mut rng = Rng::new(0);
    for chunk in recalibrate.chunks(batch_size.max(1)) {
        let (x, _) = pipeline
            .batch(data, chunk, None)
            .map_err(|e| e.to_string())?;
        model
            .forward(&x, true, &mut rng, false)
            .map_err(|e| e.to_string())?;
    }
    let result = evaluate_path(model, &plan, &pipeline, data, indices, batch_size);
    for (var, t) in stats.iter().zip(&saved) {
        var.set(t).map_err(|e| e.to_string())?;
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
) -> Result<(f64, Activity), String> {
    let mut activity = Activity::default();
    let mut correct = 0usize;
    let mut rng = Rng::new(0);
    for chunk in indices.chunks(batch_size.max(1)) {
        let (x, y) = pipeline
            .batch(data, chunk, None)
            .map_err(|e| e.to_string())?;
        let (fwd, part) = plan
            .counted_forward(model, &x, false, &mut rng)
            .map_err(|e| e.to_string())?;
        let pred = crate::model::predictions(&fwd.readout).map_err(|e| e.to_string())?;
        correct += pred
            .iter()
            .zip(&y)
            .filter(|(p, t)| **p == **t as u32)
            .count();
        activity.merge(&part);
    }
    Ok((correct as f64 / indices.len().max(1) as f64, activity))
}
