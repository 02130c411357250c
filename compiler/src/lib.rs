//! Network description in, event IR out: load, lower, validate, optimise, print and emit.

pub mod arch;
pub mod atomic;
pub mod deploy;
pub mod driver;
pub mod emit;
pub mod fuzz;
pub mod hash;
pub mod ir;
pub mod lower;
pub mod network;
pub mod passes;
pub mod peer;
pub mod placeholder;
pub mod reference;
pub mod synth;
pub mod text;
pub mod validate;
