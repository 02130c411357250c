//! The compiler's integration tests as one test binary (one link of the dependency tree), one
//! module per area; `cargo test -p snnc-compiler --test it <module>` runs one area.

mod common;
// Shared with the root package's ONNX tests, which include it by path: it stays beside `it/`.
#[path = "../onnx_common/mod.rs"]
mod onnx_common;

mod deploy;
mod fixtures;
mod golden;
mod hand;
mod network_format;
mod onnx;
mod onnx_cuba;
mod onnx_li;
mod onnx_peers;
mod onnx_per_neuron;
mod onnx_per_step;
mod onnx_random;
mod passes;
mod per_neuron;
mod random_graphs;
mod text;
mod ties;
mod validate;
