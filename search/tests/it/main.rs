//! The `snnc-search` integration tests as one test binary: one module per area, helpers in `common`.

mod common;

mod autosnn_counts_vs_runtime;
mod autosnn_search;
mod autosnn_supernet;
mod batchnorm;
mod bptt;
mod conv;
mod conv_impl;
mod model;
mod neuron;
mod optim;
mod per_neuron;
mod pooling;
mod snasnet_correlate;
mod snasnet_genotype;
mod snasnet_kernel;
mod snasnet_sampler;
mod snasnet_score;
mod snasnet_search;
mod snasnet_seed_spread;
mod snasnet_stats;
mod snasnet_timing;
mod surrogate;
mod training;
