//! Neuron parameters that name a weights tensor: how each allowed shape expands to one value
//! per neuron, that a tensor of equal values is the number it repeats, and every refusal.

use snnc_compiler::ir::{Param, PopulationKind};
use snnc_compiler::lower::lower;
use snnc_compiler::network::{NetworkDesc, Tensor, Weights};
use snnc_compiler::reference::{run_module, run_network};
use snnc_compiler::synth;

/// A conv layer of 3 channels (4 x 4 each) into a spiking node `lif` with the attributes
/// `attrs`, then a readout over 4 classes.
fn conv_net(attrs: &str) -> String {
    format!(
        r#"{{
  "format_version": 1, "name": "pn", "timesteps": 5, "num_classes": 4,
  "input": {{ "shape": [2, 6, 6], "encoding": "direct" }},
  "readout": {{ "node": "fc", "kind": "spike_count" }},
  "nodes": [
    {{ "name": "input", "op": "input" }},
    {{ "name": "conv", "op": "conv2d", "in_channels": 2, "out_channels": 3, "kernel": 3, "bias": true }},
    {{ "name": "lif", {attrs} }},
    {{ "name": "flatten", "op": "flatten" }},
    {{ "name": "fc", "op": "linear", "in_features": 48, "out_features": 4, "bias": true }}
  ],
  "edges": [
    {{ "from": "input", "to": "conv" }}, {{ "from": "conv", "to": "lif" }},
    {{ "from": "lif", "to": "flatten" }}, {{ "from": "flatten", "to": "fc" }}
  ]
}}"#
    )
}

fn parse(text: &str) -> snnc_compiler::network::Network {
    NetworkDesc::from_json_str(text, "pn.json").unwrap_or_else(|e| panic!("{e}"))
}

/// Placeholder weights for the graph's layers plus exactly the neuron tensors given here (the
/// placeholder ones for named neuron tensors are dropped).
fn weights_with(
    net: &snnc_compiler::network::Network,
    extra: &[(&str, Vec<usize>, Vec<f32>)],
) -> Weights {
    let mut w = synth::weights(net, 7);
    for (name, _, _) in snnc_compiler::network::per_neuron_specs(net) {
        w.tensors.remove(&name);
    }
    for (name, shape, data) in extra {
        w.tensors
            .insert(name.to_string(), Tensor::new(shape.clone(), data.clone()));
    }
    w
}

fn spiking(m: &snnc_compiler::ir::Module) -> &snnc_compiler::ir::Spiking {
    m.populations
        .iter()
        .find_map(|(_, p)| match &p.kind {
            PopulationKind::Spiking(s) if p.name == "lif" => Some(s),
            _ => None,
        })
        .expect("the lif population")
}

#[test]
fn each_allowed_shape_expands_to_one_value_per_neuron() {
    let net = parse(&conv_net(
        r#""op": "lif", "beta": "lif.beta", "threshold": "lif.threshold", "v_reset": "lif.v_reset", "v_leak": "lif.v_leak", "decay_input": false"#,
    ));
    let per_neuron: Vec<f32> = (0..48).map(|i| 0.8 + 0.01 * i as f32).collect();
    let w = weights_with(
        &net,
        &[
            ("lif.beta", vec![3, 1, 1], vec![0.5, 0.6, 0.7]),
            ("lif.threshold", vec![3], vec![1.0, 1.5, 2.0]),
            ("lif.v_reset", vec![], vec![-0.25]),
            ("lif.v_leak", vec![3, 4, 4], per_neuron.clone()),
        ],
    );
    let m = lower(&net, w).unwrap();
    let s = spiking(&m);
    for i in [0, 15, 16, 31, 32, 47] {
        let n = s.at(&m.tensors, i);
        let c = i / 16;
        assert_eq!(
            n.beta,
            f64::from([0.5f32, 0.6, 0.7][c]),
            "beta of neuron {i}"
        );
        assert_eq!(
            n.threshold,
            f64::from([1.0f32, 1.5, 2.0][c]),
            "threshold of {i}"
        );
        assert_eq!(n.v_leak, Some(f64::from(per_neuron[i])), "v_leak of {i}");
        assert_eq!(n.gain, 1.0);
    }
    // One value for the whole layer is a number in the IR; so is the derived gain of 1.
    assert_eq!(s.v_reset, Param::Uniform(f64::from(-0.25f32)));
    assert_eq!(s.gain, Param::Uniform(1.0));
    assert!(matches!(s.beta, Param::PerNeuron(_)));
    let t = s.beta.tensor().unwrap();
    assert_eq!(m.tensors[t].shape, vec![3, 4, 4]);
    assert_eq!(m.tensors[t].label, "lif.beta");
}

#[test]
fn a_tensor_of_equal_values_is_the_number_it_repeats() {
    let numbers = parse(&conv_net(
        r#""op": "cuba_lif", "tau": 4.0, "tau_syn": 2.0, "threshold": 0.75, "reset": "subtract""#,
    ));
    let tensors = parse(&conv_net(
        r#""op": "cuba_lif", "tau": "t", "tau_syn": "ts", "threshold": "th", "reset": "subtract""#,
    ));
    let w = synth::weights(&numbers, 11);
    let mut wt = w.clone();
    for (name, v) in [("t", 4.0f32), ("ts", 2.0), ("th", 0.75)] {
        wt.tensors
            .insert(name.into(), Tensor::new(vec![3], vec![v; 3]));
    }
    let x = synth::inputs(&numbers, 4, 3);
    let a = run_network(&numbers, &w, &x).unwrap();
    let b = run_network(&tensors, &wt, &x).unwrap();
    assert_eq!(a.spikes, b.spikes, "graph interpreter");
    let (ma, mb) = (lower(&numbers, w).unwrap(), lower(&tensors, wt).unwrap());
    // 1 - 1/4 and 1/2 are exact in f32, so the lowered modules are the same module.
    assert_eq!(
        snnc_compiler::text::print(&ma, &Default::default()),
        snnc_compiler::text::print(&mb, &Default::default())
    );
    let spikes: u64 = a.spikes.iter().flatten().flatten().sum();
    assert!(spikes > 0, "the network spikes ({spikes})");
    assert_eq!(run_module(&ma, &x).unwrap().spikes, a.spikes);
}

#[test]
fn per_neuron_values_change_what_fires_neuron_by_neuron() {
    // Thresholds so high on channel 1 that it never fires; channels 0 and 2 as the number.
    let net = parse(&conv_net(r#""op": "lif", "tau": 2.0, "threshold": "th""#));
    let plain = parse(&conv_net(r#""op": "lif", "tau": 2.0, "threshold": 1.0"#));
    let w = weights_with(&net, &[("th", vec![3], vec![1.0, 1e6, 1.0])]);
    let wp = synth::weights(&plain, 7);
    let x = synth::inputs(&net, 3, 5);
    let (mn, mp) = (lower(&net, w).unwrap(), lower(&plain, wp).unwrap());
    let (a, b) = (run_module(&mn, &x).unwrap(), run_module(&mp, &x).unwrap());
    let lif = a.layers.iter().position(|l| l == "lif").unwrap();
    let fired = |r: &snnc_compiler::reference::RunOutput| -> u64 {
        r.spikes.iter().map(|s| s[lif].iter().sum::<u64>()).sum()
    };
    assert!(
        fired(&b) > fired(&a) && fired(&a) > 0,
        "{} vs {}",
        fired(&a),
        fired(&b)
    );
}

/// One row per refusal: (case, node attributes, tensors given, expected message part).
type Refusal = (
    &'static str,
    &'static str,
    Vec<(&'static str, Vec<usize>, Vec<f32>)>,
    &'static str,
);

#[test]
fn bad_per_neuron_parameters_are_refused_naming_node_field_and_neuron() {
    let rows: Vec<Refusal> = vec![
        (
            "missing tensor",
            r#""op": "lif", "beta": "nowhere""#,
            vec![],
            "node `lif`: weights have no tensor `nowhere`",
        ),
        (
            "wrong shape",
            r#""op": "lif", "beta": "b""#,
            vec![("b", vec![5], vec![0.5; 5])],
            "node `lif`: `beta` names tensor `b` of shape [5], the population [3, 4, 4]; a neuron parameter is [] (one value), [C] or [C, 1, 1] (per channel) or the population's shape (per neuron)",
        ),
        (
            "beta out of range",
            r#""op": "lif", "beta": "b""#,
            vec![("b", vec![3], vec![0.5, 1.5, 0.5])],
            "node `lif`: `beta` (tensor `b`), neuron 1: `beta` must lie in [0, 1) (1 is no leak: use op `if`), got 1.5",
        ),
        (
            "NaN threshold",
            r#""op": "lif", "tau": 2.0, "threshold": "th""#,
            vec![("th", vec![3], vec![1.0, 1.0, f32::NAN])],
            "node `lif`: `threshold` (tensor `th`), neuron 2: `threshold` must be finite, got NaN",
        ),
        (
            "tau below 1",
            r#""op": "lif", "tau": "t""#,
            vec![("t", vec![], vec![0.5])],
            "`tau` must be finite and at least 1",
        ),
        (
            "v_reset above one neuron's threshold",
            r#""op": "lif", "tau": 2.0, "v_reset": 0.5, "threshold": "th""#,
            vec![("th", vec![3], vec![1.0, 0.4, 1.0])],
            "node `lif`: `v_reset`, neuron 16: `v_reset` 0.5 must lie below `threshold` 0.4000000059604645",
        ),
        (
            "v_min above the threshold",
            r#""op": "lif", "tau": 2.0, "v_min": "lo""#,
            vec![("lo", vec![3], vec![-1.0, -1.0, 2.0])],
            "node `lif`: `v_min` (tensor `lo`), neuron 32: `v_min` must lie below `threshold` 1, got 2",
        ),
        (
            "a tau whose leak rounds away",
            r#""op": "lif", "tau": "t""#,
            vec![("t", vec![3], vec![2.0, 2.0, 1e9])],
            "node `lif`: `tau` (tensor `t`), neuron 32: leaves a leak factor that rounds to 1 in f32",
        ),
        (
            "a current that never decays",
            r#""op": "cuba_lif", "beta": 0.9, "tau_syn": "ts""#,
            vec![("ts", vec![3], vec![2.0, 1e9, 2.0])],
            "node `lif`: `tau_syn` (tensor `ts`), neuron 16: leaves a current decay that rounds to 1 in f32",
        ),
    ];
    let mut failed = Vec::new();
    for (case, attrs, tensors, expected) in rows {
        let net = parse(&conv_net(attrs));
        let w = weights_with(&net, &tensors);
        let message = match lower(&net, w) {
            Ok(_) => "lowered".to_string(),
            Err(e) => e.to_string(),
        };
        if !message.contains(expected) {
            failed.push(format!("{case}: expected `{expected}` in `{message}`"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn plif_takes_numbers_only() {
    let err = NetworkDesc::from_json_str(
        &conv_net(r#""op": "plif", "tau": 2.0, "threshold": "th""#),
        "pn.json",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`threshold` names a tensor: `plif` learns one leak per layer"),
        "{err}"
    );
}
