//! The `snnc` command line: parse arguments, dispatch to one module per subcommand, report errors.

mod cli;

use clap::Parser;
use mimalloc::MiMalloc;

// Candle allocates large temporaries every step; mimalloc avoids glibc's mmap/munmap churn.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    cli::configure_threads();
    let args = cli::Cli::parse();
    if let Err(err) = cli::run(args) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
