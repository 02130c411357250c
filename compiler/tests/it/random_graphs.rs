//! Property tests on random valid modules: the text form round-trips, and every pass keeps the
//! module valid and its outputs equal to the reference interpreter's, up to threshold flips that
//! are each shown to be a float tie.

use crate::ties::{self, Tally};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use snnc_compiler::network::Weights;
use snnc_compiler::passes::PIPELINE;
use snnc_compiler::reference::run_module;
use snnc_compiler::synth::{Rng, random_inputs, random_module};
use snnc_compiler::text::{PrintOptions, parse, print, sidecar};
use snnc_compiler::validate::validate;
use std::cell::RefCell;

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_modules_are_valid_and_round_trip(seed in any::<u64>()) {
        let m = random_module(seed);
        validate(&m).map_err(|e| TestCaseError::fail(format!("generator made an invalid module: {e}")))?;
        let opts = PrintOptions { inline_limit: 4, ..PrintOptions::default() };
        let text = print(&m, &opts);
        let side = sidecar(&m, &opts);
        let (back, _) = parse(&text, "random.snnir", |n| Weights::from_bytes(side.as_deref().unwrap_or_default(), n))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(print(&back, &opts), text);
        prop_assert_eq!(back, m);
    }
}

/// Every pass, alone and in the pipeline, keeps random modules valid and their outputs: each
/// spike on which the reference and the pass's module disagree is a float tie ([`ties`]), and the
/// logits agree once the ties are imposed. The flips are counted and printed.
#[test]
fn every_pass_keeps_random_modules_valid_and_equivalent() {
    let config = ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let tally = RefCell::new(Tally::default());
    let result = TestRunner::new(config).run(&any::<u64>(), |seed| {
        let m = random_module(seed);
        let x = random_inputs(&m, seed);
        ties::reference_traces(&m, &x);
        let mut piped = m.clone();
        let mut dead_removed = false;
        for (name, pass) in PIPELINE {
            dead_removed |= *name == "remove_dead";
            piped = pass(piped);
            for (how, out) in [
                ("alone", pass(m.clone())),
                ("in the pipeline", piped.clone()),
            ] {
                let shown = |out: &_| {
                    format!(
                        "before:\n{}\nafter:\n{}",
                        print(&m, &PrintOptions::default()),
                        print(out, &PrintOptions::default())
                    )
                };
                validate(&out).map_err(|e| {
                    TestCaseError::fail(format!(
                        "{name} {how} made an invalid module: {e}\n{}",
                        shown(&out)
                    ))
                })?;
                let traces = ties::reference_traces(&out, &x);
                for (s, (sample, other)) in x.iter().zip(&traces).enumerate() {
                    let explained =
                        ties::explain(&m, sample, other, dead_removed).map_err(|e| {
                            TestCaseError::fail(format!(
                                "seed {seed}, {name} {how}, sample {s}: {e}\n{}",
                                shown(&out)
                            ))
                        })?;
                    tally
                        .borrow_mut()
                        .add(&format!("seed {seed}, {name} {how}, sample {s}"), explained);
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    tally.into_inner().print("every pass on random modules");
}

/// Damage a printed module at random: the parser and validator return errors, never panic, and
/// whatever still validates also runs.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    const ALPHABET: &[char] = &[
        '0', '1', '9', '-', '.', 'e', 'p', 't', '[', ']', ',', '=', '"', ' ', '\n', 'x', ';',
    ];
    for _ in 0..1 + rng.below(4) {
        if chars.is_empty() {
            break;
        }
        let at = rng.below(chars.len());
        match rng.below(3) {
            0 => {
                chars.remove(at);
            }
            1 => chars.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
            _ => chars[at] = ALPHABET[rng.below(ALPHABET.len())],
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn damaged_text_is_an_error_not_a_panic(seed in any::<u64>()) {
        let m = random_module(seed);
        let opts = PrintOptions { inline_limit: usize::MAX, ..PrintOptions::default() };
        let mut rng = Rng::new(seed ^ 0x5EED);
        let text = mutate(&print(&m, &opts), &mut rng);
        if let Ok((back, _)) = parse(&text, "damaged.snnir", |_| Ok(Weights::default()))
            && validate(&back).is_ok()
        {
            let x = random_inputs(&back, seed);
            let _ = run_module(&back, &x);
            let _ = snnc_compiler::passes::optimise(back);
        }
    }
}
