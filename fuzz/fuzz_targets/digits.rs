//! Fuzz target: the digits CSV reader (gzip or plain) and its seeded split.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| snnc_datasets::fuzz::digits(data));
