//! Back ends that render a module for people and tools: JSON and Graphviz DOT (the text form
//! lives in `text`). Each takes the module and returns the document; none can fail.

mod dot;
mod json;

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
}
