//! Fuzz entry points of the file readers: raw bytes in, a module or a typed error out, never a panic.
//!
//! The cargo-fuzz targets in `fuzz/` call these with libFuzzer's inputs, and the tests below
//! replay the committed corpus (`fuzz/corpus/<target>/`) through them, so CI covers every input a
//! fuzz run kept, on stable. Each input is a text part and a binary part: the text, a zero byte,
//! then a safetensors file (text never holds a raw zero byte, so the first one splits the two).

use crate::driver::{CompileError, compile};
use crate::network::{NetworkDesc, Weights, WeightsError};
use crate::text::{INLINE_LIMIT, PrintOptions, parse, print, sidecar};
use crate::validate::validate;

/// The sidecar name the fuzzed text's `weights` line may give (any name reads the binary part).
const SIDECAR_NAME: &str = "fuzz.safetensors";

/// A `.snnir` text and its sidecar. A module that parses and validates must print back to text
/// that parses to the same printout, so printer and parser agree on everything they accept.
pub fn parse_text(data: &[u8]) {
    let (text, binary) = split_parts(data);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok((module, _)) = parse(text, "fuzz.snnir", |_| {
        Weights::from_bytes(binary, SIDECAR_NAME)
    }) else {
        return;
    };
    if validate(&module).is_err() {
        return;
    }
    let opts = PrintOptions {
        sidecar: SIDECAR_NAME.into(),
        inline_limit: INLINE_LIMIT,
    };
    let printed = print(&module, &opts);
    let side = sidecar(&module, &opts);
    let reread = parse(&printed, "printed.snnir", |_| match &side {
        Some(bytes) => Weights::from_bytes(bytes, SIDECAR_NAME),
        None => Err(WeightsError::Io {
            file: SIDECAR_NAME.into(),
            message: "the printer wrote no sidecar".into(),
        }),
    });
    let (again, _) = reread.unwrap_or_else(|e| panic!("printed text does not parse: {e}"));
    assert_eq!(
        print(&again, &opts),
        printed,
        "print -> parse -> print changed"
    );
}

/// A `network.json` and its `weights.safetensors`. Whatever passes validation and the weights
/// check must lower to a module that stays valid through every pass.
pub fn load_network(data: &[u8]) {
    let (json, binary) = split_parts(data);
    let weights = Weights::from_bytes(binary, SIDECAR_NAME);
    let Ok(json) = std::str::from_utf8(json) else {
        return;
    };
    let Ok(net) = NetworkDesc::from_json_str(json, "fuzz.json") else {
        return;
    };
    assert_eq!(
        net.schedule.len(),
        net.len(),
        "the schedule holds every node once"
    );
    let Ok(weights) = weights else {
        return;
    };
    if net.check_weights(&weights).is_err() {
        return;
    }
    if let Err(e @ CompileError::Invalid { .. }) = compile(&net, weights, true, true) {
        panic!("a checked network compiled to an invalid module: {e}");
    }
}

/// The text before the first zero byte, and the bytes after it (empty when there is none).
fn split_parts(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

#[cfg(test)]
mod corpus_replay {
    //! Replays the committed fuzz corpus of each reader through its entry point.

    use snnc_datasets::testdata::replay_corpus as replay;

    #[test]
    fn text_corpus() {
        replay("text", super::parse_text);
    }

    #[test]
    fn network_corpus() {
        replay("network", super::load_network);
    }
}
