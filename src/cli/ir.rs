//! `snnc ir`: check and format `.snnir` files.

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use snnc_compiler::text::{self, INLINE_LIMIT, PrintOptions, SourceMap};
use snnc_compiler::validate::validate;
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

/// The line of the first handle (`p7`, `e12`, `t3`) a message mentions, to point at it.
fn locate(message: &str, map: &SourceMap) -> Option<usize> {
    message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| {
            w.len() > 1
                && matches!(w.as_bytes()[0], b'p' | b'e' | b't')
                && w[1..].bytes().all(|b| b.is_ascii_digit())
        })
        .and_then(|h| map.line_of(h))
}

fn load(file: &Path) -> anyhow::Result<(snnc_compiler::ir::Module, SourceMap)> {
    let (m, map) = text::read(file)?;
    if let Err(e) = validate(&m) {
        let msg = e.to_string();
        return Err(match locate(&msg, &map) {
            Some(line) => anyhow!("{}:{line}: {msg}", file.display()),
            None => anyhow!("{}: {msg}", file.display()),
        });
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
        (t.data.len() > INLINE_LIMIT) != map.external.get(h.index()).copied().unwrap_or(false)
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
