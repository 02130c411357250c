//! Subcommand definitions and dispatch; each subcommand lives in its own module.

pub mod arch;
pub mod args;
pub mod autosnn;
pub mod bench;
pub mod compile;
pub mod eval;
pub mod export;
pub mod ir;
pub mod pipeline;
pub mod run;
pub mod search;
pub mod targets;
pub mod train;

use clap::{Parser, Subcommand};
use snnc_search::device::ComputeDevice;

/// Where Candle computes, chosen once for every subcommand that trains, scores or evaluates.
/// A device flag or a GPU feature would change only this function.
pub fn compute_device() -> ComputeDevice {
    ComputeDevice::default()
}

#[derive(Parser, Debug)]
#[command(
    name = "snnc",
    version,
    about = "Find, train, compile and profile spiking neural networks"
)]
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
    /// Compile a trained network (or an architecture) to event IR, JSON, DOT or ONNX.
    Compile(compile::CompileArgs),
    /// Write a deployment folder: text IR + weights, ONNX step and sequence models, manifest.json.
    Export(export::ExportArgs),
    /// Check or format `.snnir` event-IR files.
    Ir(ir::IrArgs),
    /// Search -> train -> compile and export -> event-driven run on real data, resumable by stage.
    Pipeline(pipeline::PipelineArgs),
    /// Profile a compiled network on a dataset with the event-driven runtime: spikes, SOPs, energy.
    Run(run::RunArgs),
    /// Architecture search: SNASNet (training-free scoring of random cells), its correlation study, AutoSNN (supernet + evolution).
    Search(search::SearchArgs),
    /// List the hardware targets (energy per operation with sources), or show one in full.
    Targets(targets::TargetsArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Export(a) => export::run(a),
        Command::Ir(a) => ir::run(a),
        Command::Pipeline(a) => pipeline::run(a),
        Command::Run(a) => run::run(a),
        Command::Search(a) => search::run(a),
        Command::Targets(a) => targets::run(a),
        Command::Arch(a) => arch::run(a),
        Command::Bench(a) => bench::run(a),
    }
}

/// Thread settings, unless the user chose. Rayon is pinned to the machine's cores: Candle
/// otherwise re-reads /proc/cpuinfo on every matmul (toolchain-notes.md §2). Candle's own
/// elementwise pool is switched off: its workers spin while waiting and, measured on 2 cores,
/// made a training step 2-3x slower than running those memory-bound ops on one thread.
pub fn configure_threads() {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    for (var, value) in [
        ("RAYON_NUM_THREADS", n.to_string()),
        ("CANDLE_NUM_THREADS", "1".to_string()),
    ] {
        if std::env::var_os(var).is_none() {
            // SAFETY: called first thing in main, before any thread exists.
            unsafe { std::env::set_var(var, value) };
        }
    }
}

/// Reserve address space for mimalloc to reuse: training, evaluation and scoring allocate large
/// im2col buffers and activations every step, and without a reserved arena each one is fresh
/// memory the kernel must zero (measured: a third of CIFAR-10 scoring time in page clearing).
/// Nothing is committed up front. Skipped if the user configured mimalloc's reservation.
pub fn reserve_allocator_arena() {
    if std::env::var_os("MIMALLOC_RESERVE_OS_MEMORY").is_some() {
        return;
    }
    unsafe extern "C" {
        // mimalloc's C API (mimalloc.h), linked in through libmimalloc-sys.
        fn mi_reserve_os_memory(size: usize, commit: bool, allow_large: bool) -> std::ffi::c_int;
    }
    // SAFETY: a plain FFI call taking only values; on failure mimalloc simply allocates as before.
    let _ = unsafe { mi_reserve_os_memory(2 << 30, false, true) };
}

/// A flag the first Ctrl-C raises, so a long job stops at its next step and saves its progress;
/// a second Ctrl-C quits at once (the last saved checkpoint stays valid).
pub fn stop_on_ctrlc() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nstopping after this step; saving progress (Ctrl-C again to quit at once)");
    })
    .map_err(|e| anyhow::anyhow!("installing the Ctrl-C handler: {e}"))?;
    Ok(stop)
}
