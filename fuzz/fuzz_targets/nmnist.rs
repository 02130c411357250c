//! Fuzz target: the N-MNIST event decoder, event frames and the label list reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| snnc_datasets::fuzz::nmnist(data));
