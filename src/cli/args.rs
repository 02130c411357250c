//! Arguments several subcommands share, each defined once and flattened into them.

use clap::Args;
use snnc_datasets::DatasetName;
use std::path::PathBuf;

/// The dataset a subcommand reads and where its files are.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// mnist, fashion-mnist, cifar10, nmnist or digits.
    #[arg(long)]
    pub dataset: DatasetName,
    /// Folder holding the dataset's files, e.g. ../shared/data/fashion-mnist.
    #[arg(long)]
    pub data_dir: PathBuf,
}

/// The hardware target energy is priced on.
#[derive(Args, Debug, Clone)]
pub struct TargetArg {
    /// Energy target: a built-in name (see `snnc targets`) or the path of a target file.
    #[arg(long, default_value = snnc_targets::DEFAULT_TARGET)]
    pub target: String,
}

/// Where a subcommand compiling a network takes its weights from.
#[derive(Args, Debug, Clone)]
pub struct WeightsArgs {
    /// Weights to use instead of the weights.safetensors beside the network.
    #[arg(long, conflicts_with = "synthetic_weights")]
    pub weights: Option<PathBuf>,
    /// Compile an architecture without trained weights, with placeholder weights drawn from
    /// this seed.
    #[arg(long, value_name = "SEED")]
    pub synthetic_weights: Option<u64>,
}

impl WeightsArgs {
    pub fn source(&self) -> snnc_compiler::deploy::WeightsSource {
        use snnc_compiler::deploy::WeightsSource;
        match (&self.weights, self.synthetic_weights) {
            (Some(path), _) => WeightsSource::File(path.clone()),
            (None, Some(seed)) => WeightsSource::Placeholder { seed },
            (None, None) => WeightsSource::Beside,
        }
    }
}

/// `err` as the CLI reports it; a network without weights gets the flags that supply them, and
/// `verb` says what they would let the user do ("compile", "export").
pub fn deploy_error(err: snnc_compiler::deploy::DeployError, verb: &str) -> anyhow::Error {
    match err {
        snnc_compiler::deploy::DeployError::NoWeights { network } => anyhow::anyhow!(
            "{}: no weights.safetensors beside the network; pass --weights FILE, or --synthetic-weights SEED to {verb} the architecture alone",
            network.display()
        ),
        other => other.into(),
    }
}
