//! Every pass keeps the outputs (reference interpreter: spike for spike up to float ties alone,
//! equivalence ladder against the network through the pipeline) and a valid module.

use crate::common;
use crate::ties::{self, Tally};
use snnc_compiler::ir::{Module, PopulationKind, ProjectionKind};
use snnc_compiler::passes::{self, PIPELINE};
use snnc_compiler::reference::{RunOutput, compare, run_module, run_network};
use snnc_compiler::synth;
use snnc_compiler::validate::validate;

fn check_same(name: &str, stage: &str, reference: &RunOutput, m: &Module, x: &[Vec<f32>]) {
    validate(m).unwrap_or_else(|e| panic!("{name} after {stage}: invalid: {e}"));
    let out = run_module(m, x).unwrap();
    let ag = compare(reference, &out);
    ag.check()
        .unwrap_or_else(|e| panic!("{name} after {stage}: {e}"));
}

/// Spike for spike: every difference between the lowered module and one pass's output is a
/// float tie ([`ties`]), and the logits agree once the ties are imposed.
#[test]
fn each_pass_alone_keeps_the_outputs() {
    let mut tally = Tally::default();
    for name in &common::fixtures() {
        let (net, _, m) = common::lowered(name);
        let x = synth::inputs(&net, 3, common::SEED);
        ties::reference_traces(&m, &x);
        for (stage, pass) in PIPELINE {
            let out = pass(m.clone());
            validate(&out).unwrap_or_else(|e| panic!("{name} after {stage}: invalid: {e}"));
            let traces = ties::reference_traces(&out, &x);
            for (s, (sample, other)) in x.iter().zip(&traces).enumerate() {
                let explained = ties::explain(&m, sample, other, false)
                    .unwrap_or_else(|e| panic!("{name} after {stage}, sample {s}: {e}"));
                tally.add(&format!("{name} after {stage}, sample {s}"), explained);
            }
        }
    }
    tally.print("each pass alone on every fixture");
}

#[test]
fn the_pipeline_keeps_the_outputs_after_every_pass() {
    for name in &common::fixtures() {
        let (net, w, m) = common::lowered(name);
        let x = synth::inputs(&net, 4, common::SEED + 1);
        // The network's own semantics are the reference for the whole chain.
        let reference = run_network(&net, &w, &x).unwrap();
        let mut m = m;
        for (stage, pass) in PIPELINE {
            m = pass(m);
            check_same(name, stage, &reference, &m, &x);
        }
        // Running the pipeline again changes nothing: the passes reach a fixed point.
        assert_eq!(
            passes::optimise(m.clone()),
            m,
            "{name}: optimise is not idempotent"
        );
    }
}

fn count(m: &Module, f: impl Fn(&ProjectionKind) -> bool) -> usize {
    m.projections.iter().filter(|(_, e)| f(&e.kind)).count()
}

#[test]
fn the_pipeline_does_what_it_says() {
    for name in &common::fixtures() {
        let (_, _, lowered) = common::lowered(name);
        let m = passes::optimise(lowered.clone());
        assert_eq!(
            count(&m, |k| matches!(k, ProjectionKind::Dropout(_))),
            0,
            "{name}: dropout left"
        );
        assert_eq!(
            count(
                &m,
                |k| matches!(k, ProjectionKind::Scale(s) if s.factor == 0.0)
            ),
            0,
            "{name}: zero op left"
        );
        for (h, p) in m.populations.iter() {
            // A synaptic current keeps its gain (it scales the current, which is state).
            if let PopulationKind::Spiking(s) = &p.kind
                && s.synapse.is_none()
            {
                assert_eq!(s.gain, 1.0.into(), "{name}: {h} keeps its input gain");
            }
        }
        assert!(
            m.populations.len() < lowered.populations.len(),
            "{name}: nothing was simplified"
        );
        // Spiking layers survive (their counts are what the runtime reports).
        let spiking = |m: &Module| {
            m.populations
                .iter()
                .filter(|(_, p)| matches!(p.kind, PopulationKind::Spiking(_)))
                .count()
        };
        assert_eq!(spiking(&m), spiking(&lowered), "{name}");
    }
}

#[test]
fn bn_folds_into_its_conv_unless_the_producer_feeds_more() {
    // SNASNet edges are LIF -> conv -> BN: after folding, no affine follows a conv there. The
    // BN after a cell's output node (which also feeds feedback edges) must stay an affine.
    let (_, _, lowered) = common::lowered("snasnet_c10");
    let folded = passes::fold_batch_norm(lowered.clone());
    let affines = |m: &Module| count(m, |k| matches!(k, ProjectionKind::Affine(_)));
    assert!(affines(&folded) < affines(&lowered));
    let last_bn = folded
        .populations
        .iter()
        .find(|(_, p)| p.name == "last.bn")
        .map(|(h, _)| h)
        .unwrap();
    let into = folded
        .projections
        .iter()
        .find(|(_, e)| e.target == last_bn)
        .unwrap()
        .1;
    assert!(
        matches!(into.kind, ProjectionKind::Affine(_)),
        "last.bn reads a sum node: it cannot fold"
    );
}

#[test]
fn the_stem_is_hoisted_and_computed_once() {
    for name in ["snasnet_c10", "snasnet_forward", "autosnn"] {
        let (_, _, lowered) = common::lowered(name);
        let m = passes::optimise(lowered);
        let input = m.input().unwrap();
        let stem = m
            .projections
            .iter()
            .find(|(_, e)| e.source == input)
            .unwrap()
            .1;
        assert!(matches!(stem.kind, ProjectionKind::Conv2d(_)), "{name}");
        match &m.populations[stem.target].kind {
            PopulationKind::Analog(a) => assert!(a.constant, "{name}: the stem is not const"),
            other => panic!("{name}: the stem feeds {other:?}"),
        }
    }
}

#[test]
fn hoisting_marks_exactly_the_networks_static_nodes() {
    for name in &common::fixtures() {
        let (net, _, lowered) = common::lowered(name);
        let m = passes::hoist_constants(lowered);
        for (id, node) in net.desc.nodes.iter().enumerate() {
            let Some((_, p)) = m.populations.iter().find(|(_, p)| p.name == node.name) else {
                continue;
            };
            if let PopulationKind::Analog(a) = &p.kind {
                assert_eq!(a.constant, net.is_static[id], "{name}: `{}`", node.name);
            }
        }
    }
}
