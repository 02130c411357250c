//! Executes an event IR plan on inputs, sparse and event-driven, counting every operation.
//!
//! A [`Plan`] is built once from a validated [`snnc_compiler::ir::Module`] (see [`load`] for
//! `.snnir` files and training output directories) and shared by every thread; a [`State`] holds
//! one sample's membranes, delay rings and accumulators. [`Plan::run_batch`] runs samples in
//! parallel (rayon) and returns per-sample logits and per-step work; [`Plan::counts`] turns the
//! work into exact counts ([`Counts`]: spikes, SOPs, MACs, pooling ops, neuron updates, weight and
//! state traffic, NeuroBench's Dense); [`report`] prices them on a `snnc_targets::Target` and
//! writes tables, JSON, CSV and SVG. [`fit`] checks a module against a target's resource limits.
//! [`dataset_run::profile_dataset`] is all of `snnc run` as one call (load, run a dataset split,
//! price, write the report files).
//!
//! Values are stored channel-last ([`layout`]); scatter kernels and their counting are in [`ops`].

pub mod counts;
pub mod data;
pub mod dataset_run;
pub mod error;
pub mod exec;
pub mod fit;
pub mod layout;
pub mod load;
mod neuron;
pub mod ops;
pub mod plan;
pub mod report;

pub use counts::{Counts, Tally};
pub use error::RuntimeError;
pub use exec::{Inputs, PopStep, Profile, ProjStep, SampleRun, State};
pub use plan::Plan;
