//! Fuzz target: the IDX image and label readers (gzip or plain) and their pairing.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| snnc_datasets::fuzz::idx(data));
