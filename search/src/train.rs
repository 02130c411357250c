//! BPTT training of a network graph on a dataset: epochs, checkpoints, resume, metrics, progress.

use crate::data::{Augment, InputPipeline};
use crate::init::InitScheme;
use crate::model::{ConvImpl, SnnModel, predictions};
use crate::optim::{Optimizer, OptimizerKind, cosine_lr};
use candle_core::{D, DType, Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use snnc_compiler::atomic;
use snnc_compiler::network::{Network, ReadoutKind, Weights};
use snnc_datasets::transform::{FrameSplit, Rng, epoch_order};
use snnc_datasets::{Dataset, DatasetName, Split};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub type Result<T> = std::result::Result<T, TrainError>;

/// Wall time between checkpoints inside an epoch (one is also saved at every epoch's end and on
/// Ctrl-C).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] snnc_datasets::DataError),
    #[error(transparent)]
    Network(#[from] snnc_compiler::network::NetworkError),
    #[error(transparent)]
    Weights(#[from] snnc_compiler::network::WeightsError),
    #[error("{0}")]
    Candle(#[from] candle_core::Error),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Config(String),
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The loss on the readout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Cross-entropy on the time-averaged readout (SNASNet).
    CrossEntropy,
    /// MSE between the output rate (counter / T) and the one-hot label (AutoSNN).
    MseRate,
}

impl LossKind {
    /// The seeds' pairing: time-mean logits with cross-entropy, spike counts with MSE on rates.
    pub fn for_readout(kind: ReadoutKind) -> LossKind {
        match kind {
            ReadoutKind::TimeMean => LossKind::CrossEntropy,
            ReadoutKind::SpikeCount => LossKind::MseRate,
        }
    }
}

impl std::str::FromStr for LossKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "ce" | "cross-entropy" => Ok(LossKind::CrossEntropy),
            "mse" | "mse-rate" => Ok(LossKind::MseRate),
            _ => Err(format!("unknown loss `{s}`: use ce or mse")),
        }
    }
}

/// Everything that determines a training run. Two runs with equal configs give equal weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    #[serde(with = "dataset_serde")]
    pub dataset: DatasetName,
    pub data_dir: PathBuf,
    pub epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    pub lr: f64,
    /// Final learning rate of the cosine schedule as a fraction of `lr` (SNASNet: 0.01).
    pub eta_min_ratio: f64,
    /// False keeps `lr` constant (AutoSNN).
    pub cosine: bool,
    pub optimizer: OptimizerKind,
    pub loss: LossKind,
    pub init: InitScheme,
    #[serde(with = "augment_serde")]
    pub augment: Augment,
    #[serde(with = "split_serde")]
    pub frame_split: FrameSplit,
    /// Use only the first N training samples (quick runs and tests).
    pub train_limit: Option<usize>,
    /// Evaluate on only the first N test samples.
    pub test_limit: Option<usize>,
    /// Convolution implementation (the fast custom op unless asked otherwise).
    #[serde(default)]
    pub conv: ConvImpl,
}

impl TrainConfig {
    /// Settings no training can run with, named by their CLI flags; checked before anything
    /// is written.
    pub fn check(&self) -> std::result::Result<(), String> {
        let mut wrong = Vec::new();
        if self.epochs == 0 {
            wrong.push("--epochs must be at least 1".to_string());
        }
        if self.batch_size == 0 {
            wrong.push("the batch size must be at least 1".to_string());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            wrong.push(format!("--lr must be a positive number, got {}", self.lr));
        }
        if !(0.0..=1.0).contains(&self.eta_min_ratio) {
            wrong.push(format!(
                "the final learning-rate ratio must lie in [0, 1], got {}",
                self.eta_min_ratio
            ));
        }
        if self.train_limit == Some(0) || self.test_limit == Some(0) {
            wrong.push("--train-limit and --test-limit must be at least 1".to_string());
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(wrong.join("; "))
        }
    }
}

mod dataset_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    use snnc_datasets::DatasetName;
    pub fn serialize<S: Serializer>(d: &DatasetName, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DatasetName, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

mod augment_serde {
    use super::Augment;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(a: &Augment, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match (a.crop_padding > 0, a.hflip) {
            (false, false) => "none",
            (true, false) => "crop",
            (false, true) => "flip",
            (true, true) => "crop-flip",
        })
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Augment, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

mod split_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    use snnc_datasets::transform::FrameSplit;
    pub fn serialize<S: Serializer>(f: &FrameSplit, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match f {
            FrameSplit::ByCount => "count",
            FrameSplit::ByTime => "time",
        })
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FrameSplit, D::Error> {
        match String::deserialize(d)?.as_str() {
            "count" => Ok(FrameSplit::ByCount),
            "time" => Ok(FrameSplit::ByTime),
            other => Err(serde::de::Error::custom(format!(
                "unknown frame split `{other}`"
            ))),
        }
    }
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub test_loss: f64,
    /// Spikes per test sample, summed over layers and timesteps.
    pub spikes_per_sample: f64,
    pub samples_per_second: f64,
    pub seconds: f64,
}

/// Where a run stands, written beside the checkpoint weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    config: TrainConfig,
    /// Epoch in progress (0-based) and the next batch of it to run.
    epoch: usize,
    next_batch: usize,
    optimizer_steps: u64,
    partial_loss: f64,
    partial_correct: u64,
    partial_seen: u64,
    partial_seconds: f64,
}

/// Accuracy, loss and spikes of a model on a dataset.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub samples: usize,
    pub accuracy: f64,
    pub loss: f64,
    /// Per spiking node: name, neurons, mean spikes per sample per timestep.
    pub layers: Vec<LayerSpikes>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerSpikes {
    pub name: String,
    pub neurons: usize,
    pub spikes_per_timestep: Vec<f64>,
    pub spikes_per_sample: f64,
}

impl Evaluation {
    pub fn spikes_per_sample(&self) -> f64 {
        self.layers.iter().map(|l| l.spikes_per_sample).sum()
    }
}

pub fn loss_and_correct(
    readout: &Tensor,
    labels: &[u8],
    loss: LossKind,
    timesteps: usize,
) -> candle_core::Result<(Tensor, usize)> {
    let targets: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let target = Tensor::from_vec(targets.clone(), targets.len(), &Device::Cpu)?;
    let l = match loss {
        LossKind::CrossEntropy => candle_nn::loss::cross_entropy(readout, &target)?,
        LossKind::MseRate => {
            let k = readout.dim(D::Minus1)?;
            let onehot = Tensor::ones(targets.len(), DType::F32, &Device::Cpu)?
                .unsqueeze(1)?
                .broadcast_mul(
                    &target
                        .unsqueeze(1)?
                        .broadcast_eq(&Tensor::arange(0u32, k as u32, &Device::Cpu)?.unsqueeze(0)?)?
                        .to_dtype(DType::F32)?,
                )?;
            let rate = readout.affine(1.0 / timesteps as f64, 0.0)?;
            candle_nn::loss::mse(&rate, &onehot)?
        }
    };
    let pred = predictions(readout)?;
    let correct = pred.iter().zip(&targets).filter(|(p, t)| p == t).count();
    Ok((l, correct))
}

/// Evaluate in inference mode (BN running statistics, no dropout) over `data`.
pub fn evaluate(
    model: &SnnModel,
    data: &Dataset,
    pipeline: &InputPipeline,
    batch_size: usize,
    limit: Option<usize>,
    loss: LossKind,
    progress: Option<&ProgressBar>,
) -> Result<Evaluation> {
    let n = limit.map_or(data.len(), |l| l.min(data.len()));
    let t = model.timesteps();
    let spiking = model.spiking_nodes();
    let mut per_t = vec![vec![0f64; t]; spiking.len()];
    let mut correct = 0usize;
    let mut loss_sum = 0f64;
    let mut rng = Rng::new(0);
    for start in (0..n).step_by(batch_size.max(1)) {
        let idx: Vec<usize> = (start..(start + batch_size).min(n)).collect();
        let (x, y) = pipeline.batch(data, &idx, None)?;
        let out = model.forward(&x, false, &mut rng, true)?;
        let (l, c) = loss_and_correct(&out.readout, &y, loss, t)?;
        loss_sum += l.to_scalar::<f32>()? as f64 * idx.len() as f64;
        correct += c;
        for (slot, (_, counts)) in out.spikes.iter().enumerate() {
            for (acc, c) in per_t[slot].iter_mut().zip(counts) {
                *acc += c;
            }
        }
        if let Some(pb) = progress {
            pb.inc(idx.len() as u64);
        }
    }
    let denom = n.max(1) as f64;
    let layers = spiking
        .iter()
        .zip(per_t)
        .map(|(&id, counts)| {
            let per: Vec<f64> = counts.iter().map(|c| c / denom).collect();
            LayerSpikes {
                name: model.net.node(id).name.clone(),
                neurons: model.net.shapes[id].numel(),
                spikes_per_sample: per.iter().sum(),
                spikes_per_timestep: per,
            }
        })
        .collect();
    Ok(Evaluation {
        samples: n,
        accuracy: correct as f64 / denom,
        loss: loss_sum / denom,
        layers,
    })
}

/// Files of a training run directory.
pub struct RunPaths {
    pub dir: PathBuf,
}

impl RunPaths {
    pub fn network(&self) -> PathBuf {
        self.dir.join("network.json")
    }
    pub fn weights(&self) -> PathBuf {
        self.dir.join("weights.safetensors")
    }
    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.jsonl")
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

/// How a call to [`train`] ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainOutcome {
    Finished {
        test_accuracy: f64,
    },
    /// Stopped by the user; the checkpoint resumes exactly where it stopped.
    Interrupted {
        epoch: usize,
        batch: usize,
    },
}

/// Train `net` as `cfg` says, writing into `out`. With `resume`, continue from `out/checkpoint`.
/// `stop` is polled between batches (Ctrl-C).
pub fn train(
    net: Network,
    cfg: &TrainConfig,
    out: &Path,
    resume: bool,
    stop: &AtomicBool,
    show_progress: bool,
) -> Result<TrainOutcome> {
    cfg.check().map_err(TrainError::Config)?;
    let paths = RunPaths {
        dir: out.to_path_buf(),
    };
    std::fs::create_dir_all(out).map_err(|e| file_err(out, e))?;
    crate::checkpoint::recover(&paths.checkpoint_dir()).map_err(TrainError::Config)?;
    let train_set = snnc_datasets::load(cfg.dataset, &cfg.data_dir, Split::Train)?;
    let test_set = snnc_datasets::load(cfg.dataset, &cfg.data_dir, Split::Test)?;
    if train_set.num_classes() != net.desc.num_classes {
        return Err(TrainError::Config(format!(
            "{} has {} classes but the network's num_classes is {}",
            cfg.dataset,
            train_set.num_classes(),
            net.desc.num_classes
        )));
    }
    let pipeline = InputPipeline::new(&net, &train_set, cfg.augment, cfg.frame_split)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    let eval_pipeline = InputPipeline::new(&net, &test_set, Augment::NONE, cfg.frame_split)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    if let Some(note) = pipeline.transform_note() {
        eprintln!("input: {note}");
    }
    let mut model = SnnModel::new(net, cfg.init, cfg.seed)?;
    model.conv_impl = cfg.conv;
    let mut optimizer = Optimizer::new(cfg.optimizer);

    let mut state = CheckpointState {
        config: cfg.clone(),
        epoch: 0,
        next_batch: 0,
        optimizer_steps: 0,
        partial_loss: 0.0,
        partial_correct: 0,
        partial_seen: 0,
        partial_seconds: 0.0,
    };
    if resume {
        state = load_checkpoint(&paths, cfg, &model, &mut optimizer)?;
        truncate_metrics(&paths.metrics(), state.epoch)?;
        eprintln!(
            "resuming at epoch {} batch {}",
            state.epoch + 1,
            state.next_batch
        );
    } else {
        atomic::write(&paths.metrics(), b"").map_err(|e| file_err(&paths.metrics(), e))?;
    }

    let n_train = cfg
        .train_limit
        .map_or(train_set.len(), |l| l.min(train_set.len()));
    let batches = n_train.div_ceil(cfg.batch_size.max(1));
    let t = model.timesteps();
    let mut last_test = f64::NAN;
    while state.epoch < cfg.epochs {
        let epoch = state.epoch;
        let lr = if cfg.cosine {
            cosine_lr(cfg.lr, cfg.lr * cfg.eta_min_ratio, epoch, cfg.epochs)
        } else {
            cfg.lr
        };
        let order: Vec<usize> = epoch_order(train_set.len(), cfg.seed, epoch as u64)
            .into_iter()
            .filter(|&i| i < n_train)
            .collect();
        let pb = progress_bar(
            show_progress,
            (batches * cfg.batch_size).min(n_train) as u64,
            &format!("epoch {}/{}", epoch + 1, cfg.epochs),
        );
        pb.set_position((state.next_batch * cfg.batch_size).min(n_train) as u64);
        let started = Instant::now();
        let mut saved = Instant::now();
        let seconds_before = state.partial_seconds;
        for b in state.next_batch..batches {
            if stop.load(Ordering::SeqCst) {
                state.next_batch = b;
                state.partial_seconds = seconds_before + started.elapsed().as_secs_f64();
                save_checkpoint(&paths, &state, &model, &optimizer)?;
                pb.abandon_with_message("interrupted; checkpoint saved");
                return Ok(TrainOutcome::Interrupted { epoch, batch: b });
            }
            let idx = &order[b * cfg.batch_size..((b + 1) * cfg.batch_size).min(order.len())];
            let mut rng = Rng::with_stream(cfg.seed, (epoch as u64) << 32 | b as u64);
            let (x, y) = pipeline.batch(&train_set, idx, Some(&mut rng))?;
            let fwd = model.forward(&x, true, &mut rng, false)?;
            let (loss, correct) = loss_and_correct(&fwd.readout, &y, cfg.loss, t)?;
            let loss_value = loss.to_scalar::<f32>()? as f64;
            if !loss_value.is_finite() {
                return Err(TrainError::Config(format!(
                    "the loss became {loss_value} at epoch {} batch {b}; lower --lr (now {lr})",
                    epoch + 1
                )));
            }
            let grads = loss.backward()?;
            optimizer.step(&model.params, &grads, lr)?;
            state.partial_loss += loss_value * idx.len() as f64;
            state.partial_correct += correct as u64;
            state.partial_seen += idx.len() as u64;
            pb.inc(idx.len() as u64);
            let secs = seconds_before + started.elapsed().as_secs_f64();
            pb.set_message(format!(
                "loss {:.4} acc {:.2}% {:.0} samples/s",
                state.partial_loss / state.partial_seen as f64,
                100.0 * state.partial_correct as f64 / state.partial_seen as f64,
                state.partial_seen as f64 / secs.max(1e-9)
            ));
            // A kill (not only Ctrl-C) loses at most this much of an epoch.
            if saved.elapsed() >= CHECKPOINT_EVERY && b + 1 < batches {
                state.next_batch = b + 1;
                state.partial_seconds = secs;
                save_checkpoint(&paths, &state, &model, &optimizer)?;
                saved = Instant::now();
            }
        }
        let train_seconds = seconds_before + started.elapsed().as_secs_f64();
        pb.finish_and_clear();
        let eval_pb = progress_bar(
            show_progress,
            cfg.test_limit
                .map_or(test_set.len(), |l| l.min(test_set.len())) as u64,
            "  test",
        );
        let ev = evaluate(
            &model,
            &test_set,
            &eval_pipeline,
            cfg.batch_size.max(64),
            cfg.test_limit,
            cfg.loss,
            Some(&eval_pb),
        )?;
        eval_pb.finish_and_clear();
        let seen = state.partial_seen.max(1) as f64;
        let m = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: state.partial_loss / seen,
            train_accuracy: state.partial_correct as f64 / seen,
            test_accuracy: ev.accuracy,
            test_loss: ev.loss,
            spikes_per_sample: ev.spikes_per_sample(),
            samples_per_second: state.partial_seen as f64 / train_seconds.max(1e-9),
            seconds: train_seconds,
        };
        append_metrics(&paths.metrics(), &m)?;
        eprintln!(
            "epoch {}/{}: loss {:.4} train {:.2}% test {:.2}% spikes/sample {:.0} ({:.0} samples/s, {:.0} s)",
            m.epoch,
            cfg.epochs,
            m.train_loss,
            100.0 * m.train_accuracy,
            100.0 * m.test_accuracy,
            m.spikes_per_sample,
            m.samples_per_second,
            m.seconds
        );
        last_test = ev.accuracy;
        state = CheckpointState {
            epoch: epoch + 1,
            next_batch: 0,
            optimizer_steps: optimizer.steps,
            partial_loss: 0.0,
            partial_correct: 0,
            partial_seen: 0,
            partial_seconds: 0.0,
            ..state
        };
        write_outputs(&paths, &model, cfg, &m)?;
        save_checkpoint(&paths, &state, &model, &optimizer)?;
    }
    if last_test.is_nan() {
        // Resumed a finished run: report the recorded accuracy.
        last_test = read_last_accuracy(&paths.metrics()).unwrap_or(f64::NAN);
    }
    Ok(TrainOutcome::Finished {
        test_accuracy: last_test,
    })
}

fn progress_bar(show: bool, len: u64, prefix: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed} < {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(prefix.to_string());
    pb
}

fn write_outputs(
    paths: &RunPaths,
    model: &SnnModel,
    cfg: &TrainConfig,
    m: &EpochMetrics,
) -> Result<()> {
    let mut desc = model.net.desc.clone();
    desc.meta = serde_json::json!({
        "trained_by": format!("snnc {}", env!("CARGO_PKG_VERSION")),
        "dataset": cfg.dataset.to_string(),
        "epochs": m.epoch,
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
        "test_accuracy": m.test_accuracy,
        "spikes_per_sample": m.spikes_per_sample,
        "weights": "weights.safetensors",
    });
    let weights = model.params.to_weights()?;
    weights.save(&paths.weights())?;
    atomic::write(&paths.network(), desc.to_json_pretty().as_bytes())
        .map_err(|e| file_err(&paths.network(), e))?;
    Ok(())
}

fn save_checkpoint(
    paths: &RunPaths,
    state: &CheckpointState,
    model: &SnnModel,
    optimizer: &Optimizer,
) -> Result<()> {
    let state = CheckpointState {
        optimizer_steps: optimizer.steps,
        ..state.clone()
    };
    crate::checkpoint::save(&paths.checkpoint_dir(), &state, &model.params, optimizer)
        .map_err(TrainError::Config)
}

fn load_checkpoint(
    paths: &RunPaths,
    cfg: &TrainConfig,
    model: &SnnModel,
    optimizer: &mut Optimizer,
) -> Result<CheckpointState> {
    let sp = paths.checkpoint_state();
    let text = std::fs::read_to_string(&sp).map_err(|e| {
        file_err(
            &sp,
            format!("cannot resume: {e}; run without --resume to start afresh"),
        )
    })?;
    let state: CheckpointState = serde_json::from_str(&text)
        .map_err(|e| file_err(&sp, format!("corrupt checkpoint state: {e}")))?;
    let mut mine = serde_json::to_value(cfg).expect("serialises");
    let mut theirs = serde_json::to_value(&state.config).expect("serialises");
    // The epoch count may grow on resume; everything else must match for the run to be the same.
    for v in [&mut mine, &mut theirs] {
        v.as_object_mut().expect("object").remove("epochs");
    }
    if mine != theirs {
        return Err(TrainError::Config(format!(
            "{}: the checkpoint was made with different settings ({}); resume with the same flags or use a new --out",
            sp.display(),
            theirs
        )));
    }
    let weights = Weights::load(&paths.checkpoint_weights())?;
    model
        .net
        .check_weights(&weights)
        .map_err(|e| e.in_file(&paths.checkpoint_weights()))?;
    model.params.load_weights(&weights)?;
    let moments = Weights::load(&paths.checkpoint_optimizer())?;
    optimizer
        .load_state(state.optimizer_steps, &moments, &model.params)
        .map_err(|e| file_err(&paths.checkpoint_optimizer(), e))?;
    Ok(state)
}

fn append_metrics(path: &Path, m: &EpochMetrics) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| file_err(path, e))?;
    let line = serde_json::to_string(m).expect("metrics serialise");
    writeln!(f, "{line}").map_err(|e| file_err(path, e))
}

/// Drop metric lines of epochs at or after `epoch` (0-based), which a resumed run will redo.
fn truncate_metrics(path: &Path, epoch: usize) -> Result<()> {
    crate::jsonl::keep_epochs(path, epoch).map_err(TrainError::Config)
}

fn read_last_accuracy(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let last = text.lines().last()?;
    serde_json::from_str::<EpochMetrics>(last)
        .ok()
        .map(|m| m.test_accuracy)
}

/// Load a trained run (`network.json` + `weights.safetensors`) as a model.
pub fn load_run(dir: &Path) -> Result<SnnModel> {
    let paths = RunPaths {
        dir: dir.to_path_buf(),
    };
    let net = Network::load(&paths.network())?;
    let weights = Weights::load(&paths.weights())?;
    net.check_weights(&weights)
        .map_err(|e| e.in_file(&paths.weights()))?;
    let model = SnnModel::new(net, InitScheme::Pytorch, 0)?;
    model.params.load_weights(&weights)?;
    Ok(model)
}
