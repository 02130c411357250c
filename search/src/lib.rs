//! Everything on Candle: spiking layers, surrogate-gradient BPTT training, architecture search.

pub use candle_core;
pub use error::{Result, SearchError};

pub mod arch;
pub mod autosnn;
pub mod checkpoint;
pub mod data;
pub mod device;
pub mod error;
pub mod init;
pub mod jsonl;
pub mod layers;
pub mod model;
pub mod neuron;
pub mod neuron_ops;
pub mod optim;
pub mod params;
pub mod snasnet;
pub mod spike;
pub mod train;
pub mod training_loop;
