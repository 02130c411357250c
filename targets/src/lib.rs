//! Hardware descriptions: per-operation energy tables with provenance, resource limits and numeric formats.
//!
//! A [`Target`] is data: one JSON file per target (`targets/data/*.json`, embedded at build time),
//! or a user's own file loaded by path. Each energy figure is a [`Row`] that names its source, where
//! in the source it stands and how it was derived. The runtime and the searches count operations
//! in an [`OpCounts`] and call [`Target::energy`] to get joules per term:
//!
//! ```
//! use snnc_targets::{OpCounts, Target};
//! let t = Target::resolve("cmos45-fp32").unwrap();
//! let e = t.energy(&OpCounts { sops: 1e6, macs: 1e5, ..Default::default() });
//! assert!((e.total_j - 1.36e-6).abs() < 1e-15); // 1e6 x 0.9 pJ + 1e5 x 4.6 pJ
//! ```
//!
//! Which counts each built-in prices (anything else non-zero is listed in
//! [`EnergyBreakdown::unpriced`]):
//!
//! | target | arithmetic | memory | communication | all in |
//! |---|---|---|---|---|
//! | `cmos45-fp32`, `cmos45-int8` | sops, macs, pooling_ops, affine_ops, neuron_updates | weight_reads, state_reads (8 KiB SRAM) | - | - |
//! | `loihi` | sops, pooling_ops, neuron_updates | - | spikes | - |
//! | `truenorth` | - | - | - | sops + pooling_ops at 26 pJ; covers neuron_updates, spikes, weight/state reads and writes |
//!
//! This crate depends on no other snnc crate.

mod builtin;
mod energy;
mod error;
mod file;
mod model;

pub use builtin::{DEFAULT_TARGET, builtin_names};
pub use energy::{Count, CountPricing, EnergyBreakdown, EnergyTerm, OpCounts, Section};
pub use error::TargetError;
pub use model::{
    AllIn, Arithmetic, Communication, Formats, Limits, Memory, NumberFormat, Pricing, Row, Source,
    Status, Target,
};
