//! The test settings: where the real datasets are (`SNNC_DATA_DIR`), and the fuzz-corpus replay.
//!
//! `SNNC_DATA_DIR` names the folder holding `mnist/`, `fashion-mnist/`, `cifar-10-partial/` (or
//! `cifar-10-batches-bin/`), `nmnist-small/` and `sklearn-digits/`. When it is unset,
//! `<workspace root>/../shared/data` is used if it exists. A test that needs data calls
//! [`dataset_dir`]; when the data is absent it prints `skipping: <reason>` and returns `None`,
//! so the test can return early, unless `SNNC_REQUIRE_DATA=1`, which turns absence into a panic
//! (use it in CI where the data must be present).

use std::env;
use std::path::{Path, PathBuf};

use crate::name::DatasetName;

/// Environment variable naming the folder that holds every dataset's folder.
pub const DATA_DIR_ENV: &str = "SNNC_DATA_DIR";
/// Environment variable that, set to `1`, makes missing test data a failure.
pub const REQUIRE_DATA_ENV: &str = "SNNC_REQUIRE_DATA";

/// The folder names tried for `name` under the data root, in order of preference.
pub fn folder_names(name: DatasetName) -> &'static [&'static str] {
    match name {
        DatasetName::Mnist => &["mnist"],
        DatasetName::FashionMnist => &["fashion-mnist"],
        DatasetName::Cifar10 => &["cifar-10-batches-bin", "cifar-10-partial"],
        DatasetName::Nmnist => &["nmnist-small"],
        DatasetName::Digits => &["sklearn-digits"],
    }
}

/// The default data root, `<workspace root>/../shared/data`.
pub fn default_data_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().unwrap_or(manifest);
    workspace.join("..").join("shared").join("data")
}

/// The data root: `SNNC_DATA_DIR` when set, else the default; `Err` says why there is none.
pub fn data_root() -> Result<PathBuf, String> {
    match env::var_os(DATA_DIR_ENV) {
        Some(v) if !v.is_empty() => {
            let root = PathBuf::from(v);
            if root.is_dir() {
                Ok(root)
            } else {
                Err(format!("{DATA_DIR_ENV}={} is not a folder", root.display()))
            }
        }
        _ => {
            let root = default_data_root();
            if root.is_dir() {
                Ok(root)
            } else {
                Err(format!(
                    "{DATA_DIR_ENV} is unset and the default {} does not exist",
                    root.display()
                ))
            }
        }
    }
}

/// The folder holding dataset `name`, or `None` (after printing `skipping: <reason>`) when it is
/// absent.
///
/// # Panics
/// When the data is absent and `SNNC_REQUIRE_DATA=1`.
pub fn dataset_dir(name: DatasetName) -> Option<PathBuf> {
    let reason = match data_root() {
        Ok(root) => {
            let names = folder_names(name);
            if let Some(dir) = names.iter().map(|n| root.join(n)).find(|p| p.is_dir()) {
                return Some(dir);
            }
            format!(
                "{name} data not found: {} has no {} folder",
                root.display(),
                names.join(" or ")
            )
        }
        Err(why) => format!("{name} data not found: {why}"),
    };
    if env::var(REQUIRE_DATA_ENV).is_ok_and(|v| v == "1") {
        panic!(
            "{reason} ({REQUIRE_DATA_ENV}=1 requires the data; set {DATA_DIR_ENV} to the folder holding it)"
        );
    }
    eprintln!("skipping: {reason}");
    None
}

/// Feeds every file of the committed fuzz corpus `fuzz/corpus/<target>` to `entry` and fails,
/// naming the file, if it panics. An empty or missing folder fails too, so a corpus that went
/// astray does not pass in silence. The fuzz targets' library entry points are replayed this way.
pub fn replay_corpus(target: &str, entry: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: cannot list the corpus: {e}", dir.display()));
    let mut paths: Vec<_> = entries
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    assert!(!paths.is_empty(), "{}: the corpus is empty", dir.display());
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| entry(&bytes));
        assert!(
            outcome.is_ok(),
            "{}: the entry point panicked",
            path.display()
        );
    }
}
