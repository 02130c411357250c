//! The `snnc` command line: parse arguments, dispatch to one module per subcommand, report errors.

mod cli;

use clap::Parser;
use mimalloc::MiMalloc;

// Candle allocates large temporaries every step; mimalloc avoids glibc's mmap/munmap churn.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// `mi_option_purge_delay` in mimalloc's option enum (v2 and v3 headers).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Training frees and reallocates the same large buffers every step; purging them makes the
    // kernel zero fresh huge pages each time, which halved training throughput when measured.
    // SAFETY: plain option write, before any thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    cli::reserve_allocator_arena();
    cli::configure_threads();
    let args = cli::Cli::parse();
    if let Err(err) = cli::run(args) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
