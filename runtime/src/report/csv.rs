//! `--csv DIR`: the report's tables as CSV files (layers, and layer x timestep matrices).

use super::Report;
use crate::error::RuntimeError;
use snnc_compiler::atomic::{WriteError, write_named};
use std::fmt::Write;
use std::path::Path;

/// A CSV field, quoted when it holds a comma, quote or newline.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row per layer with every count and its energy (means per sample).
pub fn layers_csv(r: &Report) -> String {
    let mut s = String::from(
        "layer,population,kind,neurons,spikes,events,sops,macs,dense,pooling_ops,affine_ops,copies,neuron_updates,current_updates,weight_reads,state_reads,state_writes,firing_rate,energy_j,arithmetic_j,memory_j,communication_j,all_in_j\n",
    );
    for l in &r.layers {
        let c = &l.counts;
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:e},{:e},{:e},{:e},{:e}",
            field(&l.name),
            l.population,
            l.kind,
            l.neurons,
            c.spikes,
            c.events,
            c.sops,
            c.macs,
            c.dense,
            c.pooling_ops,
            c.affine_ops,
            c.copies,
            c.neuron_updates,
            c.current_updates,
            c.weight_reads,
            c.state_reads,
            c.state_writes,
            l.firing_rate.map(|f| f.to_string()).unwrap_or_default(),
            l.energy.total_j,
            l.energy.arithmetic_j,
            l.energy.memory_j,
            l.energy.communication_j,
            l.energy.all_in_j
        );
    }
    s
}

/// A layer x timestep matrix of one per-step series.
pub fn matrix_csv(r: &Report, series: impl Fn(&super::Layer) -> &[f64]) -> String {
    let mut s = String::from("layer");
    for t in 0..r.timesteps {
        let _ = write!(s, ",t{t}");
    }
    s.push('\n');
    for l in &r.layers {
        s.push_str(&field(&l.name));
        for v in series(l) {
            let _ = write!(s, ",{v}");
        }
        s.push('\n');
    }
    s
}

/// Write `layers.csv`, `spikes.csv`, `events.csv`, `sops.csv`, `macs.csv` and `energy.csv`
/// into `dir` (created if missing), each atomically.
pub fn write_csv(r: &Report, dir: &Path) -> Result<Vec<std::path::PathBuf>, RuntimeError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError {
        path: dir.to_path_buf(),
        source,
    })?;
    let files: [(&str, String); 6] = [
        ("layers.csv", layers_csv(r)),
        ("spikes.csv", matrix_csv(r, |l| &l.spikes_per_timestep)),
        ("events.csv", matrix_csv(r, |l| &l.events_per_timestep)),
        ("sops.csv", matrix_csv(r, |l| &l.sops_per_timestep)),
        ("macs.csv", matrix_csv(r, |l| &l.macs_per_timestep)),
        ("energy.csv", matrix_csv(r, |l| &l.energy.per_timestep_j)),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        write_named(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
