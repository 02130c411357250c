//! `snnc train`: BPTT-train an architecture (or trained network) on a dataset into a run directory.

use super::args::DataArgs;
use anyhow::{Context, bail};
use clap::Args;
use snnc_compiler::network::{Network, Weights, per_neuron_specs};
use snnc_datasets::transform::FrameSplit;
use snnc_search::data::Augment;
use snnc_search::init::InitScheme;
use snnc_search::model::ConvImpl;
use snnc_search::optim::OptimizerKind;
use snnc_search::train::{LossKind, TrainConfig, TrainOutcome, train};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Architecture file (network.json without weights) or a trained network.json.
    #[arg(long)]
    pub arch: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Override the architecture's timesteps.
    #[arg(long)]
    pub timesteps: Option<usize>,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run directory: network.json, weights.safetensors, metrics.jsonl, checkpoint/.
    #[arg(long)]
    pub out: PathBuf,
    /// sgd (momentum, weight decay), adam or adamw.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Learning rate [default: 0.1 for sgd, 1e-3 for adam/adamw].
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// cosine (to 1% of lr, per epoch) or constant.
    #[arg(long, default_value = "cosine")]
    pub schedule: String,
    /// ce or mse [default: ce for a time_mean readout, mse on rates for spike_count].
    #[arg(long)]
    pub loss: Option<LossKind>,
    /// pytorch or snasnet [default: the architecture's meta.init, else pytorch].
    #[arg(long)]
    pub init: Option<InitScheme>,
    /// none, crop, flip or crop-flip [default: crop-flip for cifar10, none otherwise].
    #[arg(long)]
    pub augment: Option<Augment>,
    /// Event-frame binning for nmnist: count or time.
    #[arg(long, default_value = "count")]
    pub frame_split: String,
    /// Train on only the first N training samples.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Evaluate on only the first N test samples.
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Convolution: fast (im2col + GEMM custom op) or candle (Candle's conv2d, for comparison).
    #[arg(long, default_value = "fast")]
    pub conv: ConvImpl,
    /// Continue from OUT/checkpoint (same settings; --epochs may grow).
    #[arg(long)]
    pub resume: bool,
    /// No progress bar (epoch summaries still print).
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    let mut net = Network::load(&a.arch)?;
    if let Some(t) = a.timesteps {
        let mut desc = net.desc.clone();
        desc.timesteps = t;
        net = desc
            .validate()
            .with_context(|| format!("{} with --timesteps {t}", a.arch.display()))?;
    }
    let optimizer = OptimizerKind::parse(&a.optimizer, a.momentum, a.weight_decay)
        .map_err(anyhow::Error::msg)?;
    let lr =
        a.lr.unwrap_or(if matches!(optimizer, OptimizerKind::Sgd { .. }) {
            0.1
        } else {
            1e-3
        });
    if !(lr.is_finite() && lr > 0.0) {
        bail!("--lr must be a positive number, got {lr}");
    }
    if a.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let cosine = match a.schedule.as_str() {
        "cosine" => true,
        "constant" => false,
        other => bail!("unknown --schedule `{other}`: use cosine or constant"),
    };
    let frame_split = match a.frame_split.as_str() {
        "count" => FrameSplit::ByCount,
        "time" => FrameSplit::ByTime,
        other => bail!("unknown --frame-split `{other}`: use count or time"),
    };
    let init = match a.init {
        Some(i) => i,
        None => default_init(&net, &a.arch)?,
    };
    let cfg = TrainConfig {
        dataset: a.data.dataset,
        data_dir: a.data.data_dir.clone(),
        epochs: a.epochs,
        batch_size: a.batch_size,
        seed: a.seed,
        lr,
        eta_min_ratio: 0.01,
        cosine,
        optimizer,
        loss: a
            .loss
            .unwrap_or(LossKind::for_readout(net.desc.readout.kind)),
        init,
        augment: a.augment.unwrap_or(Augment::default_for(a.data.dataset)),
        frame_split,
        train_limit: a.train_limit,
        test_limit: a.test_limit,
        conv: a.conv,
        device: crate::cli::compute_device(),
    };
    let neuron_params = neuron_params_beside(&net, &a.arch)?;
    let stop = super::stop_on_ctrlc()?;
    let show_progress = !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    eprintln!(
        "training `{}` ({} parameters) on {} for {} epochs, T = {}, batch {}",
        net.desc.name,
        parameter_count(&net),
        a.data.dataset,
        a.epochs,
        net.desc.timesteps,
        a.batch_size
    );
    match train(
        net,
        &neuron_params,
        &cfg,
        &a.out,
        a.resume,
        &stop,
        show_progress,
    )? {
        TrainOutcome::Finished { test_accuracy } => {
            println!(
                "test accuracy {:.2}%  ->  {}",
                100.0 * test_accuracy,
                a.out.display()
            );
            Ok(())
        }
        TrainOutcome::Interrupted { epoch, batch } => {
            eprintln!(
                "interrupted at epoch {} batch {batch}; continue with the same command plus --resume",
                epoch + 1
            );
            std::process::exit(130);
        }
    }
}

/// The tensors `net`'s neuron fields name (per-channel and per-neuron parameters), which
/// training keeps as given: read from the `weights.safetensors` beside the architecture file
/// `arch`; empty when the network names none.
fn neuron_params_beside(net: &Network, arch: &Path) -> anyhow::Result<Weights> {
    let specs = per_neuron_specs(net);
    let Some((tensor, field, _)) = specs.first() else {
        return Ok(Weights::default());
    };
    let beside = arch
        .parent()
        .unwrap_or(Path::new("."))
        .join("weights.safetensors");
    if !beside.is_file() {
        bail!(
            "{}: `{field}` names tensor `{tensor}`: training keeps per-neuron parameters as \
             given and reads them from the weights.safetensors beside the architecture, and \
             there is none ({}); write the tensors there, or give the field a number",
            arch.display(),
            beside.display()
        );
    }
    Weights::load(&beside).with_context(|| format!("{}: per-neuron parameters", arch.display()))
}

/// The initialisation an architecture asks for in `meta.init` (read from `origin`), else PyTorch's.
pub fn default_init(net: &Network, origin: &Path) -> anyhow::Result<InitScheme> {
    match net.desc.meta.get("init").and_then(|v| v.as_str()) {
        Some(s) => s
            .parse()
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("{}: meta.init", origin.display())),
        None => Ok(InitScheme::Pytorch),
    }
}

/// How many trainable values and buffers `net` holds.
pub fn parameter_count(net: &Network) -> usize {
    net.parameter_specs()
        .iter()
        .map(|(_, s)| s.iter().product::<usize>())
        .sum()
}
