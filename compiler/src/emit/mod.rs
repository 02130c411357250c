//! Back ends that render a module for people and tools: JSON and Graphviz DOT (the text form
//! lives in `text`), which take the module and return the document and cannot fail; and ONNX
//! (`onnx`), for deployment, which writes protobuf and names what it cannot express.

mod dot;
mod json;
pub mod onnx;

pub use dot::dot;
pub use json::json;
