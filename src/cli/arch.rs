//! `snnc arch`: write the architecture file of a SNASNet cell genotype or an AutoSNN block list.

use anyhow::Context;
use clap::{Args, Subcommand};
use snnc_compiler::arch::autosnn::{AutoSnnArch, AutoSnnConfig, autosnn_network};
use snnc_compiler::arch::snasnet::{CellGenotype, SnasnetConfig, snasnet_network};
use snnc_datasets::{AUTOSNN_SIDE, DatasetName, SideRule, network_input};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ArchArgs {
    #[command(subcommand)]
    pub kind: ArchKind,
}

#[derive(Subcommand, Debug)]
pub enum ArchKind {
    /// A SNASNet network from a cell genotype such as "0302 0030 3003 0000".
    Snasnet {
        /// Four 4-digit rows; row i lists the ops on edges from node i (0 zero, 1 skip, 2 conv1x1, 3 conv3x3, 4 avgpool).
        #[arg(long)]
        genotype: CellGenotype,
        #[arg(long)]
        dataset: DatasetName,
        /// Cell-1 channel count C (cell 2 has 2C).
        #[arg(long, default_value_t = 16)]
        width: usize,
        #[arg(long, default_value_t = 5)]
        timesteps: usize,
        /// Hidden units of the classifier.
        #[arg(long, default_value_t = 1024)]
        hidden: usize,
        /// Kernel of the last average pool.
        #[arg(long, default_value_t = 2)]
        second_pool: usize,
        /// One set of batch-norm running statistics for all timesteps, as the seed code has,
        /// instead of one per step (which inference needs to match training; docs/search.md).
        #[arg(long)]
        shared_bn: bool,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// An AutoSNN network from five blocks, e.g. "SRB_k5,SRB_k5,skip_connect,SRB_k3,SRB_k5" or "44034".
    Autosnn {
        #[arg(long)]
        blocks: AutoSnnArch,
        #[arg(long)]
        dataset: DatasetName,
        /// Channel count C of the first stage.
        #[arg(long, default_value_t = 16)]
        width: usize,
        #[arg(long, default_value_t = 8)]
        timesteps: usize,
        #[arg(short, long)]
        out: PathBuf,
    },
}

pub fn run(a: ArchArgs) -> anyhow::Result<()> {
    let (desc, out) = match a.kind {
        ArchKind::Snasnet {
            genotype,
            dataset,
            width,
            timesteps,
            hidden,
            second_pool,
            shared_bn,
            out,
        } => {
            let mut cfg = SnasnetConfig::new(network_input(dataset, SideRule::Native), width);
            cfg.timesteps = timesteps;
            cfg.hidden = hidden;
            cfg.second_pool = second_pool;
            cfg.per_step_bn = !shared_bn;
            (snasnet_network(&genotype, &cfg)?, out)
        }
        ArchKind::Autosnn {
            blocks,
            dataset,
            width,
            timesteps,
            out,
        } => {
            let mut cfg = AutoSnnConfig::new(network_input(dataset, AUTOSNN_SIDE), width);
            cfg.timesteps = timesteps;
            (autosnn_network(&blocks, &cfg)?, out)
        }
    };
    // Validate before writing: a builder bug must not leave an unusable file behind.
    let net = desc
        .clone()
        .validate()
        .context("the generated architecture is invalid (a bug in snnc)")?;
    snnc_compiler::atomic::write(&out, desc.to_json_pretty().as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    let params: usize = net
        .parameter_specs()
        .iter()
        .map(|(_, s)| s.iter().product::<usize>())
        .sum();
    println!(
        "{} ({} nodes, {} parameters incl. BN statistics) -> {}",
        desc.name,
        desc.nodes.len(),
        params,
        out.display()
    );
    Ok(())
}
