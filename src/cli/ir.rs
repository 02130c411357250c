//! `snnc ir`: check and format `.snnir` files.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use snnc_compiler::text::{self, INLINE_LIMIT, PrintOptions, SourceMap};
use snnc_compiler::validate::{ValidationErrors, validate};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct IrArgs {
    #[command(subcommand)]
    pub command: IrCommand,
}

#[derive(Subcommand, Debug)]
pub enum IrCommand {
    /// Parse and validate a .snnir file (and its sidecar); exits non-zero with the reason if invalid.
    Check { file: PathBuf },
    /// Print a .snnir file in canonical form, or rewrite it (and its sidecar) in place.
    Fmt {
        file: PathBuf,
        /// Rewrite the file (and its sidecar) instead of printing to standard output.
        #[arg(short, long)]
        write: bool,
    },
}

pub fn run(a: IrArgs) -> anyhow::Result<()> {
    match a.command {
        IrCommand::Check { file } => check(&file),
        IrCommand::Fmt { file, write } => fmt(&file, write),
    }
}

/// Every validation error, one per line, each at the line defining the entity it is about.
fn located(file: &Path, errors: &ValidationErrors, map: &SourceMap) -> String {
    let lines: Vec<String> = errors
        .iter()
        .map(|e| match map.line(e.location()) {
            Some(line) => format!("{}:{line}: {e}", file.display()),
            None => format!("{}: {e}", file.display()),
        })
        .collect();
    lines.join("\n")
}

fn load(file: &Path) -> anyhow::Result<(snnc_compiler::ir::Module, SourceMap)> {
    let (m, map) = text::read(file)?;
    if let Err(errors) = validate(&m) {
        bail!("{}", located(file, &errors, &map));
    }
    Ok((m, map))
}

fn check(file: &Path) -> anyhow::Result<()> {
    let (m, _) = load(file)?;
    println!(
        "{}: ok: module `{}`, {} populations, {} projections, {} tensors ({} weights), {} timesteps",
        file.display(),
        m.name,
        m.populations.len(),
        m.projections.len(),
        m.tensors.len(),
        m.weight_count(),
        m.timesteps
    );
    Ok(())
}

fn fmt(file: &Path, write: bool) -> anyhow::Result<()> {
    let (m, map) = load(file)?;
    if write {
        return text::write(&m, file).with_context(|| format!("rewriting {}", file.display()));
    }
    // Printing to stdout keeps the existing sidecar, so every tensor must stay where it is.
    let moves = m.tensors.iter().any(|(h, t)| {
        (t.data.len() > INLINE_LIMIT) != map.external.get(h).copied().unwrap_or(false)
    });
    if moves {
        bail!(
            "{}: canonical form moves tensors between the text and the sidecar (inline up to {INLINE_LIMIT} values); use --write to rewrite both",
            file.display()
        );
    }
    let sidecar = map.sidecar.unwrap_or_else(|| "weights.safetensors".into());
    print!(
        "{}",
        text::print(
            &m,
            &PrintOptions {
                sidecar,
                inline_limit: INLINE_LIMIT
            }
        )
    );
    Ok(())
}
