//! `snnc targets`: list the built-in hardware targets, or show one (built-in or file) in full.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use snnc_targets::{Count, CountPricing, DEFAULT_TARGET, Limits, Pricing, Row, Section, Target};
use std::fmt::Write as _;

#[derive(Args, Debug)]
pub struct TargetsArgs {
    #[command(subcommand)]
    pub command: Option<TargetsCommand>,
    /// Print JSON (the target file format) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum TargetsCommand {
    /// List the built-in targets with their key figures and sources (what `snnc targets` does).
    List,
    /// Print one target in full: every priced count with its source, limits, formats.
    Show {
        /// A built-in name (see `snnc targets`) or the path of a target file.
        target: String,
    },
    /// Check a compiled network against a target's resource limits (neurons, synapses, fan-in,
    /// fan-out, delays, graded events, cores), layer by layer; exits 1 when it does not fit.
    Fit {
        /// A `.snnir` file, a training output directory, or a `network.json` (an architecture
        /// without weights is compiled with placeholder weights: the estimate needs only shapes).
        compiled: std::path::PathBuf,
        /// A built-in name or the path of a target file.
        #[arg(long, default_value = "loihi")]
        target: String,
    },
}

pub fn run(a: TargetsArgs) -> anyhow::Result<()> {
    match a.command.unwrap_or(TargetsCommand::List) {
        TargetsCommand::List => {
            let targets = Target::builtins()?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&targets)?);
            } else {
                print!("{}", list(&targets));
            }
        }
        TargetsCommand::Fit { compiled, target } => {
            let t = Target::resolve(&target).with_context(|| format!("--target {target}"))?;
            let m = match snnc_runtime::load::load(&compiled) {
                Err(snnc_runtime::RuntimeError::NoWeights { path }) => placeholder_module(&path)?,
                other => other?,
            };
            let r = snnc_runtime::fit::estimate(&m, &t)
                .with_context(|| format!("{} is not a valid module", compiled.display()))?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", snnc_runtime::fit::render(&r));
            }
            if r.fits() == Some(false) {
                std::process::exit(1);
            }
        }
        TargetsCommand::Show { target } => {
            let t = Target::resolve(&target)?;
            if a.json {
                println!("{}", t.to_json());
            } else {
                print!("{}", show(&t));
            }
        }
    }
    Ok(())
}

/// An architecture without weights compiled with placeholder ones: a resource estimate needs
/// only the shapes.
fn placeholder_module(network: &std::path::Path) -> anyhow::Result<snnc_compiler::ir::Module> {
    use snnc_compiler::deploy::{WeightsSource, load};
    let loaded = load(network, &WeightsSource::Placeholder { seed: 0 })?;
    Ok(loaded.compile(true)?.0)
}

/// `pj` without trailing zeros (0.9, 26, 1300).
fn pj(v: f64) -> String {
    format!("{v}")
}

/// The price of one count as a table cell: its pJ, `in` when an all-in figure covers it, `-`.
fn cell(t: &Target, c: Count) -> String {
    match t.pricing_of(c) {
        CountPricing::Priced { row, .. } => pj(row.pj),
        CountPricing::Covered => "in".to_string(),
        CountPricing::Unpriced => "-".to_string(),
    }
}

/// The weight-read cell, with the SRAM size it prices.
fn memory_cell(t: &Target) -> String {
    match &t.pricing {
        Pricing::PerOperation {
            memory: Some(m), ..
        } => match &m.weight_read {
            Some(r) => format!("{} ({} KiB SRAM)", pj(r.pj), m.sram_kib),
            None => format!("- ({} KiB SRAM)", m.sram_kib),
        },
        Pricing::PerOperation { memory: None, .. } => "-".to_string(),
        Pricing::AllIn(_) => "in".to_string(),
    }
}

/// "Authors year [status]" for each source a target cites.
fn short_sources(t: &Target) -> String {
    let short: Vec<String> = t
        .sources
        .values()
        .map(|s| {
            let authors = s.citation.split(", \"").next().unwrap_or(&s.citation);
            format!("{authors} {} [{}]", s.year, s.status.as_str())
        })
        .collect();
    short.join("; ")
}

fn list(targets: &[Target]) -> String {
    let header = [
        "target",
        "pricing",
        "SOP",
        "MAC",
        "neuron",
        "weight read",
        "spike",
        "sources",
    ];
    let rows: Vec<[String; 8]> = targets
        .iter()
        .map(|t| {
            let pricing = match t.pricing {
                Pricing::PerOperation { .. } => "per op",
                Pricing::AllIn(_) => "all in",
            };
            [
                t.name.clone(),
                pricing.to_string(),
                cell(t, Count::Sops),
                cell(t, Count::Macs),
                cell(t, Count::NeuronUpdates),
                memory_cell(t),
                cell(t, Count::Spikes),
                short_sources(t),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = format!(
        "Built-in targets (default {DEFAULT_TARGET}); energies in pJ per event, `in` = inside an all-in figure, `-` = not priced.\n\n"
    );
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ");
            }
        }
        s.trim_end().to_string() + "\n"
    };
    out += &line(&header);
    for r in &rows {
        out += &line(&r.each_ref().map(String::as_str));
    }
    out += "\n`snnc targets show NAME|FILE` prints one target in full; `--json` prints the file format.\n";
    out
}

fn show(t: &Target) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n  {}\n", t.name, t.description);
    out += "sources\n";
    for (id, s) in &t.sources {
        let _ = writeln!(out, "  {id} [{}]: {}", s.status.as_str(), s.citation);
        if let Some(n) = &s.note {
            let _ = writeln!(out, "    {n}");
        }
    }
    out += "\n";
    out += &pricing(t);
    if let Some(l) = &t.limits {
        out += &limits(l);
    }
    out += "\nformats\n";
    let f = &t.formats;
    let _ = write!(out, "  weights {}", f.weights);
    for (name, v) in [("state", f.state), ("graded", f.graded), ("decay", f.decay)] {
        if let Some(v) = v {
            let _ = write!(out, ", {name} {v}");
        }
    }
    out += "\n";
    if let Some(n) = &f.note {
        let _ = writeln!(out, "  {n}");
    }
    if !t.reference.is_empty() {
        out += "\nreference figures (recorded for context; they price no count)\n";
        for (label, r) in &t.reference {
            out += &row(label, r);
        }
    }
    out
}

fn pricing(t: &Target) -> String {
    let mut out = match &t.pricing {
        Pricing::PerOperation {
            memory: Some(m), ..
        } => {
            format!(
                "pricing: per operation; memory rows price an {} KiB SRAM\n",
                m.sram_kib
            )
        }
        Pricing::PerOperation { memory: None, .. } => {
            "pricing: per operation; no memory rows\n".to_string()
        }
        Pricing::AllIn(_) => {
            "pricing: all in (one whole-chip figure per event; memory is not priced again)\n"
                .to_string()
        }
    };
    if let Pricing::AllIn(a) = &t.pricing {
        let prices: Vec<&str> = a.prices.iter().map(|c| c.name()).collect();
        out += &row(
            &format!("per event, events = {}", prices.join(" + ")),
            &a.per_event,
        );
    }
    let (mut covered, mut unpriced) = (Vec::new(), Vec::new());
    for c in Count::ALL {
        match t.pricing_of(c) {
            CountPricing::Priced {
                section: Section::AllIn,
                ..
            } => {}
            CountPricing::Priced { section, row: r } => {
                out += &row(&format!("{c} ({})", section.name()), r);
            }
            CountPricing::Covered => covered.push(c.name()),
            CountPricing::Unpriced => unpriced.push(c.name()),
        }
    }
    if !covered.is_empty() {
        let _ = writeln!(out, "  inside the all-in figure: {}", covered.join(", "));
    }
    if !unpriced.is_empty() {
        let _ = writeln!(
            out,
            "  not priced (no figure in the sources): {}",
            unpriced.join(", ")
        );
    }
    out
}

fn row(label: &str, r: &Row) -> String {
    let range = r.pj_max.map(|m| format!("-{}", pj(m))).unwrap_or_default();
    let mut out = format!(
        "  {label}: {}{range} pJ  {}\n    source {}, {}\n",
        pj(r.pj),
        r.op,
        r.source,
        r.location
    );
    if let Some(d) = &r.derived {
        let _ = writeln!(out, "    derived: {d}");
    }
    if let Some(n) = &r.note {
        let _ = writeln!(out, "    note: {n}");
    }
    out
}

fn limits(l: &Limits) -> String {
    let fields = [
        ("cores", l.cores),
        ("neurons per core", l.neurons_per_core),
        ("neurons per chip", l.neurons_per_chip),
        ("fan-in per core", l.fan_in_per_core),
        ("fan-out per core", l.fan_out_per_core),
        ("fan-out per neuron", l.fan_out_per_neuron),
        ("synapses per core", l.synapses_per_core),
        (
            "synapse memory per core (bytes)",
            l.synapse_memory_bytes_per_core,
        ),
        (
            "synapse memory per chip (bytes)",
            l.synapse_memory_bytes_per_chip,
        ),
        ("delay bits", l.delay_bits.map(u64::from)),
    ];
    let mut out = format!("\nlimits (source {}, {})\n", l.source, l.location);
    for (name, v) in fields {
        if let Some(v) = v {
            let _ = writeln!(out, "  {name}: {v}");
        }
    }
    if let Some(n) = &l.note {
        let _ = writeln!(out, "  {n}");
    }
    out
}
