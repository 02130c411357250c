//! The `snnc` package's one integration-test binary: every CLI end-to-end test, one module each.
//!
//! Tests that need the real datasets or a Python with onnxruntime print why and skip without
//! them, unless `SNNC_REQUIRE_DATA=1` / `SNNC_REQUIRE_ONNX=1` turns the absence into a failure.

mod common;
mod fixtures;
#[path = "../../compiler/tests/onnx_common/mod.rs"]
mod onnx_common;

mod arch_fixtures;
mod autosnn_cli;
mod cli_train;
mod ir_candle;
mod ir_cli;
mod nmnist_geometry;
mod onnx_cli;
mod pipeline_cli;
mod runtime_cli;
mod snasnet_cli;
