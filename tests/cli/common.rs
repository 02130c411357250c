//! Helpers every CLI integration test shares: run the `snnc` binary and read what it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Run the `snnc` binary under test with `args`.
pub fn snnc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snnc"))
        .args(args)
        .output()
        .expect("snnc runs")
}

/// Train `arch` on `dataset` for one quiet epoch into `out`, with the budget flags `budget`
/// (`--batch-size`, limits, seed); fails the test, naming the architecture, if training fails.
pub fn train(arch: &Path, dataset: &str, data: &Path, out: &Path, budget: &[&str]) {
    let mut args = vec![
        "train",
        "--arch",
        s(arch),
        "--dataset",
        dataset,
        "--data-dir",
        s(data),
        "--out",
        s(out),
        "--epochs",
        "1",
        "--quiet",
    ];
    args.extend_from_slice(budget);
    let o = snnc(&args);
    assert!(o.status.success(), "{}: {}", arch.display(), text(&o));
}

/// Everything the command printed, stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A path as an argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The folder of dataset `name` under `SNNC_DATA_DIR`, or `None` after printing why it is
/// absent; with `SNNC_REQUIRE_DATA=1` an absent dataset fails the test instead.
pub fn data(name: snnc_datasets::DatasetName) -> Option<PathBuf> {
    snnc_datasets::testdata::dataset_dir(name)
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
