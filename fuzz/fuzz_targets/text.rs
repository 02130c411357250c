//! Fuzz target: the `.snnir` parser and its sidecar, then print -> parse round trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| snnc_compiler::fuzz::parse_text(data));
