//! Back ends that render a module for people and tools: JSON and Graphviz DOT (the text form
//! lives in `text`), which take the module and return the document and cannot fail; and ONNX
//! (`onnx`), for deployment, which writes protobuf and names what it cannot express.

mod dot;
mod json;
pub mod onnx;

pub use dot::dot;
pub use json::json;

/// What `snnc compile --emit` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The `.snnir` text form plus its safetensors sidecar.
    Ir,
    /// The module as JSON (tensors by shape and hash; values in the sidecar).
    Json,
    /// A Graphviz digraph of populations and projections.
    Dot,
    /// The stateful single-step ONNX model (`onnx::step`).
    OnnxStep,
    /// The whole-sequence ONNX model (`onnx::sequence`).
    OnnxSeq,
}
