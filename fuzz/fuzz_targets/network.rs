//! Fuzz target: network.json validation, the safetensors reader, the weights check and compilation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| snnc_compiler::fuzz::load_network(data));
