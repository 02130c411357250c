//! Subcommand definitions and dispatch; each subcommand lives in its own module.

pub mod arch;
pub mod compile;
pub mod bench;
pub mod eval;
pub mod ir;
pub mod train;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "snnc", version, about = "Find, train, compile and profile spiking neural networks")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a network (architecture or trained-network JSON) on a dataset with BPTT.
    Train(train::TrainArgs),
    /// Write an architecture file from a SNASNet genotype or an AutoSNN block list.
    Arch(arch::ArchArgs),
    /// Timed measurements (training step, inference) for the results page.
    Bench(bench::BenchArgs),
    /// Evaluate a trained network: test accuracy and spikes per sample per layer.
    Eval(eval::EvalArgs),
    /// Compile a trained network (or an architecture) to event IR, JSON or DOT.
    Compile(compile::CompileArgs),
    /// Check or format `.snnir` event-IR files.
    Ir(ir::IrArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Ir(a) => ir::run(a),
        Command::Arch(a) => arch::run(a),
        Command::Bench(a) => bench::run(a),
    }
}

/// Pin rayon to the machine's cores unless the user chose: Candle otherwise re-reads
/// /proc/cpuinfo on every matmul (toolchain-notes.md §2).
pub fn configure_threads() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        // SAFETY: called first thing in main, before any thread exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    }
}
