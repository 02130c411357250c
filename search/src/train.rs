//! BPTT training of a network graph on a dataset: epochs, checkpoints, resume, metrics, progress.

use crate::data::{Augment, InputPipeline};
use crate::device::ComputeDevice;
use crate::error::{Result, SearchError, check_settings};
use crate::init::InitScheme;
use crate::model::{ConvImpl, SnnModel, predictions};
use crate::optim::{Optimizer, OptimizerKind, cosine_lr};
use crate::params::ParamStore;
use crate::training_loop::{self, BatchOutput, LoopOutcome, NoTally, Resume, Task, progress_bar};
use candle_core::{D, DType, Tensor};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use snnc_compiler::atomic;
use snnc_compiler::network::{Network, ReadoutKind, Weights};
use snnc_datasets::transform::{FrameSplit, Rng, epoch_order};
use snnc_datasets::{Dataset, DatasetName, Split};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

pub use crate::training_loop::EpochMetrics;

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
            ReadoutKind::TimeMean
            | ReadoutKind::MembraneLast
            | ReadoutKind::MembraneMean
            | ReadoutKind::MembraneMax => LossKind::CrossEntropy,
            ReadoutKind::SpikeCount => LossKind::MseRate,
        }
    }
}

impl std::str::FromStr for LossKind {
    type Err = SearchError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ce" | "cross-entropy" => Ok(LossKind::CrossEntropy),
            "mse" | "mse-rate" => Ok(LossKind::MseRate),
            _ => Err(SearchError::UnknownName {
                what: "loss",
                given: s.to_string(),
                choices: "ce or mse",
            }),
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
    /// Where the tensors live; not stored (the CPU when read back).
    #[serde(skip)]
    pub device: ComputeDevice,
}

impl TrainConfig {
    /// Settings no training can run with, named by their CLI flags; checked before anything
    /// is written.
    pub fn check(&self) -> Result<()> {
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
        check_settings(wrong)
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
    let device = readout.device();
    let targets: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let target = Tensor::from_vec(targets.clone(), targets.len(), device)?;
    let l = match loss {
        LossKind::CrossEntropy => candle_nn::loss::cross_entropy(readout, &target)?,
        LossKind::MseRate => {
            let k = readout.dim(D::Minus1)?;
            let onehot = Tensor::ones(targets.len(), DType::F32, device)?
                .unsqueeze(1)?
                .broadcast_mul(
                    &target
                        .unsqueeze(1)?
                        .broadcast_eq(&Tensor::arange(0u32, k as u32, device)?.unsqueeze(0)?)?
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
        let (x, y) = pipeline.batch(data, &idx, None, model.device())?;
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
        self.dir.join(training_loop::METRICS)
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
///
/// `neuron_params` holds the tensors `net`'s neuron fields name (per-channel and per-neuron
/// parameters; empty when it names none): constants of the network, kept as given and written
/// with the trained weights, not trained. A tensor it lacks fails the run, naming the tensor.
pub fn train(
    net: Network,
    neuron_params: &Weights,
    cfg: &TrainConfig,
    out: &Path,
    resume: bool,
    stop: &AtomicBool,
    show_progress: bool,
) -> Result<TrainOutcome> {
    cfg.check()?;
    let mut task = PlainTraining::new(net, neuron_params, cfg, out)?;
    let mut optimizer = Optimizer::new(cfg.optimizer);
    let resume = if resume {
        Resume::Required
    } else {
        Resume::Never
    };
    match training_loop::run(&mut task, &mut optimizer, out, resume, stop, show_progress)? {
        LoopOutcome::Interrupted { epoch, batch } => Ok(TrainOutcome::Interrupted { epoch, batch }),
        LoopOutcome::Finished => Ok(TrainOutcome::Finished {
            // A resumed finished run trains no epoch: report the recorded accuracy.
            test_accuracy: match task.last_test_accuracy {
                Some(a) => a,
                None => read_last_accuracy(&task.paths.metrics()).unwrap_or(f64::NAN),
            },
        }),
    }
}

/// Plain training as a task of the training loop: every epoch visits the first
/// `train_limit` training samples in a seeded order and ends with a test-set evaluation.
struct PlainTraining<'a> {
    cfg: &'a TrainConfig,
    paths: RunPaths,
    model: SnnModel,
    train_set: Dataset,
    test_set: Dataset,
    pipeline: InputPipeline,
    eval_pipeline: InputPipeline,
    n_train: usize,
    last_test_accuracy: Option<f64>,
}

impl<'a> PlainTraining<'a> {
    fn new(
        net: Network,
        neuron_params: &Weights,
        cfg: &'a TrainConfig,
        out: &Path,
    ) -> Result<Self> {
        let train_set = snnc_datasets::load(cfg.dataset, &cfg.data_dir, Split::Train)?;
        let test_set = snnc_datasets::load(cfg.dataset, &cfg.data_dir, Split::Test)?;
        if train_set.num_classes() != net.desc.num_classes {
            return Err(SearchError::ClassCount {
                dataset: cfg.dataset.to_string(),
                found: train_set.num_classes(),
                expected: net.desc.num_classes,
            });
        }
        let pipeline = InputPipeline::new(&net, &train_set, cfg.augment, cfg.frame_split)
            .map_err(|e| SearchError::input(cfg.dataset, e))?;
        let eval_pipeline = InputPipeline::new(&net, &test_set, Augment::NONE, cfg.frame_split)
            .map_err(|e| SearchError::input(cfg.dataset, e))?;
        if let Some(note) = pipeline.transform_note() {
            eprintln!("input: {note}");
        }
        let mut store = ParamStore::new();
        store.insert_neuron_params(&net, neuron_params, &cfg.device)?;
        let mut model = SnnModel::with_store(net, cfg.init, cfg.seed, store, &cfg.device)?;
        model.conv_impl = cfg.conv;
        let n_train = cfg
            .train_limit
            .map_or(train_set.len(), |l| l.min(train_set.len()));
        Ok(PlainTraining {
            cfg,
            paths: RunPaths {
                dir: out.to_path_buf(),
            },
            model,
            train_set,
            test_set,
            pipeline,
            eval_pipeline,
            n_train,
            last_test_accuracy: None,
        })
    }
}

impl Task for PlainTraining<'_> {
    type Settings = TrainConfig;
    type Tally = NoTally;

    fn settings(&self) -> &TrainConfig {
        self.cfg
    }

    /// The epoch count may grow on resume; everything else must match for the run to be the same.
    fn continues(&self, saved: &TrainConfig) -> bool {
        let mut mine = serde_json::to_value(self.cfg).expect("serialises");
        let mut theirs = serde_json::to_value(saved).expect("serialises");
        for v in [&mut mine, &mut theirs] {
            v.as_object_mut().expect("object").remove("epochs");
        }
        mine == theirs
    }

    fn label(&self) -> &'static str {
        ""
    }

    fn epochs(&self) -> usize {
        self.cfg.epochs
    }

    fn batch_size(&self) -> usize {
        self.cfg.batch_size
    }

    fn seed(&self) -> u64 {
        self.cfg.seed
    }

    fn learning_rate(&self, epoch: usize) -> f64 {
        let cfg = self.cfg;
        if cfg.cosine {
            cosine_lr(cfg.lr, cfg.lr * cfg.eta_min_ratio, epoch, cfg.epochs)
        } else {
            cfg.lr
        }
    }

    fn epoch_order(&self, epoch: usize) -> Vec<usize> {
        epoch_order(self.train_set.len(), self.cfg.seed, epoch as u64)
            .into_iter()
            .filter(|&i| i < self.n_train)
            .collect()
    }

    fn params(&self) -> &ParamStore {
        &self.model.params
    }

    fn restore(&mut self, weights: &Weights, path: &Path) -> Result<()> {
        self.model
            .net
            .check_weights(weights)
            .map_err(|e| e.in_file(path))?;
        self.model.load_weights(weights)?;
        Ok(())
    }

    fn step(&mut self, indices: &[usize], rng: &mut Rng, _: &mut NoTally) -> Result<BatchOutput> {
        let (x, y) = self
            .pipeline
            .batch(&self.train_set, indices, Some(rng), &self.cfg.device)?;
        let fwd = self.model.forward(&x, true, rng, false)?;
        let (loss, correct) =
            loss_and_correct(&fwd.readout, &y, self.cfg.loss, self.model.timesteps())?;
        Ok(BatchOutput {
            loss,
            correct,
            sampled: None,
        })
    }

    fn measure_epoch(
        &mut self,
        base: EpochMetrics,
        _: &NoTally,
        _: u64,
        show_progress: bool,
    ) -> Result<EpochMetrics> {
        let cfg = self.cfg;
        let eval_pb = progress_bar(
            show_progress,
            cfg.test_limit
                .map_or(self.test_set.len(), |l| l.min(self.test_set.len())) as u64,
            "  test",
        );
        let ev = evaluate(
            &self.model,
            &self.test_set,
            &self.eval_pipeline,
            cfg.batch_size.max(64),
            cfg.test_limit,
            cfg.loss,
            Some(&eval_pb),
        )?;
        eval_pb.finish_and_clear();
        self.last_test_accuracy = Some(ev.accuracy);
        Ok(EpochMetrics {
            test_accuracy: Some(ev.accuracy),
            test_loss: Some(ev.loss),
            spikes_per_sample: ev.spikes_per_sample(),
            ..base
        })
    }

    fn finish_epoch(&mut self, m: &EpochMetrics, _: &NoTally, _: u64) -> Result<()> {
        write_outputs(&self.paths, &self.model, self.cfg, m)
    }
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
        .map_err(|e| SearchError::io(&paths.network(), e))?;
    Ok(())
}

fn read_last_accuracy(path: &Path) -> Option<f64> {
    training_loop::read_metrics(path)
        .ok()?
        .last()
        .and_then(|m| m.test_accuracy)
}

/// Load a trained run (`network.json` + `weights.safetensors`) as a model on `device`.
pub fn load_run(dir: &Path, device: &ComputeDevice) -> Result<SnnModel> {
    let paths = RunPaths {
        dir: dir.to_path_buf(),
    };
    let net = Network::load(&paths.network())?;
    let weights = Weights::load(&paths.weights())?;
    net.check_weights(&weights)
        .map_err(|e| e.in_file(&paths.weights()))?;
    Ok(SnnModel::from_checked_weights(net, &weights, device)?)
}
