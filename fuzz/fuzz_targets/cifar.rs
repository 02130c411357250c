//! Fuzz target: the CIFAR-10 binary batch reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| snnc_datasets::fuzz::cifar(data));
