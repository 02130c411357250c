//! The runtime's integration tests, linked as one binary: one module per concern, shared helpers
//! in `common`.

mod common;
mod counts;
mod cuba;
mod data;
mod dataset_run;
mod differential;
mod fit;
mod integrator;
mod peers;
mod per_neuron;
mod per_step;
mod random_modules;
