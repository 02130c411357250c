//! The terminal table of `snnc run`: layers by timesteps of spikes, then SOPs, MACs and energy.

use super::Report;
use std::fmt::Write;

/// A number in at most 7 characters: `12345`, `1.23M`, `45.6k`, `0.25`.
fn num(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e9 {
        format!("{:.2}G", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if a >= 1e5 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// Joules in the unit that keeps the figure readable.
pub(crate) fn joules(j: f64) -> String {
    let a = j.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e-3 {
        format!("{:.3} mJ", j * 1e3)
    } else if a >= 1e-6 {
        format!("{:.3} uJ", j * 1e6)
    } else if a >= 1e-9 {
        format!("{:.3} nJ", j * 1e9)
    } else {
        format!("{:.3} pJ", j * 1e12)
    }
}

/// The report as a text table (means per sample).
pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let on = r
        .dataset
        .as_deref()
        .map(|d| format!(" of {d}"))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "{}: {} samples{on}, T = {}, target {}",
        r.module, r.samples, r.timesteps, r.target.name
    );
    if let Some(a) = r.accuracy {
        let _ = writeln!(s, "accuracy {:.2}%", 100.0 * a);
    }
    let name_w = r
        .layers
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 28);
    let _ = writeln!(
        s,
        "\nspikes per sample at each step; SOPs, MACs and energy per sample summed over the steps"
    );
    let mut head = format!("{:<name_w$} {:<7} {:>7}", "layer", "kind", "neurons");
    for t in 0..r.timesteps {
        let _ = write!(head, " {:>7}", format!("t{t}"));
    }
    let _ = write!(
        head,
        " {:>8} {:>6} {:>8} {:>8} {:>12}",
        "spikes", "rate", "SOPs", "MACs", "energy"
    );
    let _ = writeln!(s, "{head}");
    let _ = writeln!(s, "{}", "-".repeat(head.len()));
    for l in &r.layers {
        // Cut by characters, not bytes: names come from the user's network file.
        let name: String = if l.name.chars().count() > name_w {
            l.name.chars().take(name_w - 1).chain(['~']).collect()
        } else {
            l.name.clone()
        };
        let _ = write!(s, "{name:<name_w$} {:<7} {:>7}", l.kind, l.neurons);
        for t in 0..r.timesteps {
            let cell = if l.firing_rate.is_some() {
                num(l.spikes_per_timestep[t])
            } else {
                "-".into()
            };
            let _ = write!(s, " {cell:>7}");
        }
        let (spikes, rate) = match l.firing_rate {
            Some(f) => (num(l.counts.spikes), format!("{:.1}%", 100.0 * f)),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            s,
            " {spikes:>8} {rate:>6} {:>8} {:>8} {:>12}",
            num(l.counts.sops),
            num(l.counts.macs),
            joules(l.energy.total_j)
        );
    }
    let t = &r.totals;
    let _ = writeln!(s, "{}", "-".repeat(head.len()));
    let _ = writeln!(
        s,
        "total: {} spikes, {} SOPs (effective ACs), {} MACs (effective MACs), Dense {}, activation sparsity {:.4}",
        num(t.spikes),
        num(t.sops),
        num(t.macs),
        num(t.dense),
        t.activation_sparsity
    );
    // Only current-based neurons update a current: other networks keep their line as it was.
    let currents = if t.counts.current_updates > 0.0 {
        format!(", {} current updates", num(t.counts.current_updates))
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "other: {} pooling ops, {} affine ops, {} copies, {} neuron updates{currents}, {} weight reads, {} state reads, {} state writes",
        num(t.counts.pooling_ops),
        num(t.counts.affine_ops),
        num(t.counts.copies),
        num(t.counts.neuron_updates),
        num(t.counts.weight_reads),
        num(t.counts.state_reads),
        num(t.counts.state_writes)
    );
    let e = &r.energy;
    let mut parts = vec![
        format!("arithmetic {}", joules(e.arithmetic_j)),
        format!("memory {}", joules(e.memory_j)),
    ];
    if e.communication_j > 0.0 {
        parts.push(format!("communication {}", joules(e.communication_j)));
    }
    if e.all_in_j > 0.0 {
        parts.push(format!("all-in {}", joules(e.all_in_j)));
    }
    let _ = writeln!(
        s,
        "energy per sample on {}: {} ({})",
        e.target,
        joules(e.total_j),
        parts.join(", ")
    );
    if !e.unpriced.is_empty() {
        let _ = writeln!(
            s,
            "not priced by {} (left out of the total): {}",
            e.target,
            e.unpriced.join(", ")
        );
    }
    if let Some(tm) = &r.timing {
        let _ = writeln!(
            s,
            "time {:.3} s on {} threads ({:.1} samples/s)",
            tm.seconds, tm.threads, tm.samples_per_second
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_energies_stay_short() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(12.345), "12.35");
        assert_eq!(num(123456.0), "123.5k");
        assert_eq!(num(2.5e6), "2.50M");
        assert_eq!(joules(1.5e-6), "1.500 uJ");
        assert_eq!(joules(2e-12), "2.000 pJ");
    }
}
