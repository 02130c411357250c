//! The seeds' network builders, which live in `snnc_compiler::arch` (Candle-free, shared with
//! `snnc arch` and the golden fixtures); re-exported here under the search's own paths.

pub use snnc_compiler::arch::{ArchError, InputEncoding, InputGeometry, autosnn, snasnet};
