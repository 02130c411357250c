//! The field's neurons as their frameworks compute them: every committed peer fixture
//! (tests/peers: snnTorch and SpikingJelly runs of small networks on digits, Fashion-MNIST and
//! random spike trains) run in the runtime, compared spike for spike with the framework, and
//! the runtime against the reference interpreter on the same inputs (flips proven ties).

use crate::common;
use crate::common::flips::{TIE_EPSILON, check_runs};
use snnc_compiler::ir::{Module, PopulationKind};
use snnc_compiler::peer::PeerRun;
use snnc_compiler::reference::{compare, run_module};
use snnc_runtime::{Plan, SampleRun};

fn fixtures() -> Vec<PeerRun> {
    let root = common::workspace().join("tests/peers/fixtures");
    let dirs = PeerRun::all(&root);
    assert!(
        !dirs.is_empty(),
        "no peer fixtures under {}: run tests/peers/generate.py",
        root.display()
    );
    dirs.iter()
        .map(|d| PeerRun::load(d).unwrap_or_else(|e| panic!("{}: {e}", d.display())))
        .collect()
}

/// Spikes that differ between the runtime's trace and the peer, as
/// `(sample, layer, t, neuron, peer spiked, peer membrane)`.
type Difference = (usize, String, usize, usize, bool, f32);

fn differences(m: &Module, peer: &PeerRun, runs: &[SampleRun]) -> Vec<Difference> {
    let mut out = Vec::new();
    for (layer, rec) in &peer.layers {
        let (h, p) = m
            .populations
            .iter()
            .find(|(_, p)| &p.name == layer)
            .unwrap_or_else(|| panic!("{}: no population `{layer}`", peer.dir.display()));
        assert!(
            matches!(p.kind, PopulationKind::Spiking(_)),
            "`{layer}` must spike"
        );
        assert_eq!(p.shape.numel(), rec.neurons, "`{layer}`: neurons");
        assert_eq!(runs.len(), rec.samples, "`{layer}`: samples");
        for (s, run) in runs.iter().enumerate() {
            let trace = run.trace.as_ref().expect("traced");
            for (t, step) in trace.iter().enumerate().take(rec.steps) {
                for (i, v) in step[h.index()].iter().enumerate() {
                    let ours = *v != 0.0;
                    if ours != rec.spike(s, t, i) {
                        out.push((s, layer.clone(), t, i, !ours, rec.membrane(s, t, i)));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_peer_fixture_spike_for_spike() {
    for peer in fixtures() {
        let name = peer.dir.file_name().unwrap().to_string_lossy().to_string();
        let raw = snnc_compiler::driver::compile(&peer.network, peer.weights.clone(), false, true)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let optimised = snnc_compiler::passes::optimise(raw.clone());
        for (stage, m) in [("lowered", raw), ("optimised", optimised)] {
            let plan = Plan::new(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
            let runs = plan.run_batch(&peer.inputs, true, None).unwrap();
            let diffs = differences(&m, &peer, &runs);
            let spikes: usize = peer
                .layers
                .values()
                .map(|r| r.spikes.iter().map(|&s| s as usize).sum::<usize>())
                .sum();
            eprintln!(
                "{name} {stage}: {spikes} peer spikes, {} differing in the runtime",
                diffs.len()
            );
            assert!(spikes > 0, "{name}: the fixture should spike");
            assert!(
                diffs.is_empty(),
                "{name} {stage}: {} spikes differ from the peer, first {:?}",
                diffs.len(),
                &diffs[..diffs.len().min(5)]
            );
            for (s, run) in runs.iter().enumerate() {
                let readout: Vec<f32> = run.logits.iter().map(|&v| v as f32).collect();
                if let Err(e) = peer.check_readout(s, &readout) {
                    panic!("{name} {stage}: {e}");
                }
            }
            // The reference interpreter (f64) on the same inputs: the ladder, flips proven ties.
            let reference = run_module(&m, &peer.inputs).unwrap();
            let ag = compare(&reference, &plan.run_output(&runs));
            ag.check().unwrap_or_else(|e| panic!("{name} {stage}: {e}"));
            let found = check_runs(&m, &plan, &reference, &runs)
                .unwrap_or_else(|e| panic!("{name} {stage}: {e}"));
            eprintln!(
                "  reference: flips {} in {} samples (each within {TIE_EPSILON:e})",
                found.flips, found.samples_with_flips
            );
        }
    }
}
