//! The network format: parsing, defaults, round trip, and one test per validation error.

use snnc_compiler::network::{Network, NetworkDesc, NetworkError, Op, Tensor, Weights};

const MLP: &str = r#"{
  "format_version": 1, "name": "mlp", "timesteps": 3, "num_classes": 10,
  "input": {"shape": [64], "encoding": "direct"},
  "readout": {"node": "fc2", "kind": "time_mean"},
  "nodes": [
    {"name": "x", "op": "input"},
    {"name": "fc1", "op": "linear", "in_features": 64, "out_features": 32},
    {"name": "lif", "op": "lif", "tau": 2.0},
    {"name": "fc2", "op": "linear", "in_features": 32, "out_features": 10, "bias": true}
  ],
  "edges": [{"from": "x", "to": "fc1"}, {"from": "fc1", "to": "lif"}, {"from": "lif", "to": "fc2"}]
}"#;

fn parse(text: &str) -> Result<Network, NetworkError> {
    NetworkDesc::from_json_str(text, "test.json")
}

/// Apply a JSON edit to the MLP and return the validation error message, without the file name
/// every validation error starts with.
fn error_after(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(MLP).unwrap();
    edit(&mut v);
    match parse(&v.to_string()) {
        Ok(_) => panic!("expected an error"),
        // Validation errors name the file first; the rows below check what follows.
        Err(e) => {
            let m = e.to_string();
            match m.strip_prefix("test.json: ") {
                Some(rest) => rest.to_string(),
                None => m,
            }
        }
    }
}

#[test]
fn mlp_parses_with_defaults_and_shapes() {
    let net = parse(MLP).unwrap();
    let lif = net.node(net.id("lif").unwrap());
    let Op::Lif(p) = &lif.op else { panic!("lif") };
    assert_eq!(
        (
            p.threshold.clone(),
            p.v_reset.clone(),
            p.decay_input,
            p.detach_reset,
            p.surrogate_alpha
        ),
        (1.0.into(), 0.0.into(), true, true, 2.0)
    );
    assert_eq!(net.shapes[net.id("fc1").unwrap()].dims(), &[32]);
    assert_eq!(net.readout_node, net.id("fc2").unwrap());
    assert_eq!(net.schedule, vec![0, 1, 2, 3]);
    // fc1 is linear on a direct input: time-invariant; the LIF and after are not.
    assert_eq!(net.is_static, vec![true, true, false, false]);
    let specs = net.parameter_specs();
    assert_eq!(
        specs,
        vec![
            ("fc1.weight".to_string(), vec![32, 64]),
            ("fc2.weight".to_string(), vec![10, 32]),
            ("fc2.bias".to_string(), vec![10]),
        ]
    );
}

#[test]
fn description_round_trips_through_json() {
    let net = parse(MLP).unwrap();
    let again = parse(&net.desc.to_json_pretty()).unwrap();
    assert_eq!(net.desc, again.desc);
}

#[test]
fn json_syntax_error_names_file_line_and_column() {
    let msg = parse("{\n  \"format_version\": 1,\n  oops\n}")
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("test.json:3:"), "{msg}");
}

#[test]
fn unknown_attribute_is_rejected() {
    let msg = error_after(|v| v["nodes"][2]["taus"] = 2.0.into());
    assert!(msg.contains("taus"), "{msg}");
}

#[test]
fn per_step_batch_norm_flag_must_be_a_boolean() {
    let msg = error_after(|v| {
        v["nodes"][2] = serde_json::json!({"name": "lif", "op": "batch_norm", "per_step": "yes"});
    });
    assert!(
        msg.contains("test.json") && msg.contains("boolean"),
        "{msg}"
    );
}

#[test]
fn unknown_op_is_rejected() {
    let msg = error_after(|v| v["nodes"][2]["op"] = "izhikevich".into());
    assert!(msg.contains("izhikevich"), "{msg}");
}

#[test]
fn wrong_format_version() {
    let msg = error_after(|v| v["format_version"] = 2.into());
    assert_eq!(
        msg,
        "unsupported format_version 2: this snnc reads version 1"
    );
}

#[test]
fn duplicate_node_name() {
    let msg = error_after(|v| v["nodes"][3]["name"] = "fc1".into());
    assert!(
        msg.contains("node `fc1`: the name is used by more than one node"),
        "{msg}"
    );
}

#[test]
fn edge_to_unknown_node() {
    let msg = error_after(|v| v["edges"][1]["to"] = "lif9".into());
    assert_eq!(msg, "edge fc1 -> lif9: there is no node named `lif9`");
}

#[test]
fn node_without_inputs() {
    let msg = error_after(|v| {
        v["edges"].as_array_mut().unwrap().remove(1);
    });
    assert_eq!(msg, "node `lif`: has no incoming edge");
}

#[test]
fn edge_into_the_input() {
    let msg = error_after(|v| {
        v["edges"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"from": "lif", "to": "x", "delay": 1}))
    });
    assert_eq!(msg, "edge lif -> x: the input node cannot receive edges");
}

#[test]
fn zero_delay_cycle_names_every_node() {
    let msg = error_after(|v| {
        v["nodes"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"name": "back", "op": "scale", "factor": 0.5}));
        let e = v["edges"].as_array_mut().unwrap();
        e.push(serde_json::json!({"from": "lif", "to": "back"}));
        e.push(serde_json::json!({"from": "back", "to": "lif"}));
    });
    assert!(
        msg.starts_with("zero-delay cycle through `lif` -> `back` -> `lif`"),
        "{msg}"
    );
    assert!(msg.contains("\"delay\": 1"), "{msg}");
}

#[test]
fn cycle_with_a_delay_is_accepted() {
    let mut v: serde_json::Value = serde_json::from_str(MLP).unwrap();
    v["nodes"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "back", "op": "scale", "factor": 0.5}));
    let e = v["edges"].as_array_mut().unwrap();
    e.push(serde_json::json!({"from": "lif", "to": "back"}));
    e.push(serde_json::json!({"from": "back", "to": "lif", "delay": 1}));
    let net = parse(&v.to_string()).unwrap();
    let lif = net.id("lif").unwrap();
    assert!(net.inputs[lif].contains(&(net.id("back").unwrap(), 1)));
}

#[test]
fn delay_over_the_limit() {
    let msg = error_after(|v| v["edges"][1]["delay"] = 5000.into());
    assert_eq!(msg, "edge fc1 -> lif: delay 5000 exceeds the limit of 1024");
}

#[test]
fn shape_mismatch_names_both_inputs() {
    let msg = error_after(|v| {
        v["nodes"].as_array_mut().unwrap().push(serde_json::json!({"name": "side", "op": "linear", "in_features": 64, "out_features": 16}));
        let e = v["edges"].as_array_mut().unwrap();
        e.push(serde_json::json!({"from": "x", "to": "side"}));
        e.push(serde_json::json!({"from": "side", "to": "lif"}));
    });
    assert_eq!(
        msg,
        "node `lif`: its inputs disagree in shape: `fc1` gives [32] but `side` gives [16]"
    );
}

#[test]
fn linear_in_features_mismatch() {
    let msg = error_after(|v| v["nodes"][3]["in_features"] = 33.into());
    assert_eq!(
        msg,
        "node `fc2`: linear: in_features is 33 but the input has 32"
    );
}

#[test]
fn conv_on_flat_input() {
    let msg = error_after(
        |v| v["nodes"][1] = serde_json::json!({"name": "fc1", "op": "conv2d", "in_channels": 1, "out_channels": 4, "kernel": 3}),
    );
    assert!(msg.starts_with("node `fc1`: conv2d:"), "{msg}");
}

#[test]
fn readout_with_wrong_size() {
    let msg = error_after(|v| v["num_classes"] = 7.into());
    assert_eq!(
        msg,
        "node `fc2`: is the readout, so its output must be [7] (num_classes), but it is [10]"
    );
}

#[test]
fn readout_names_a_missing_node() {
    let msg = error_after(|v| v["readout"]["node"] = "out".into());
    assert_eq!(msg, "readout.node `out` is not a node");
}

/// One row per neuron-attribute refusal: (case, JSON edit of node `lif`, expected message).
type NeuronCase = (&'static str, fn(&mut serde_json::Value), &'static str);

#[test]
fn bad_neuron_parameters() {
    let cases: &[NeuronCase] = &[
        (
            "tau below 1",
            |n| n["tau"] = 0.5.into(),
            "node `lif`: `tau` must be finite and at least 1",
        ),
        (
            "v_reset at the threshold",
            |n| n["v_reset"] = 2.0.into(),
            "node `lif`: `v_reset` 2 must lie below `threshold` 1",
        ),
        (
            "tau and beta",
            |n| n["beta"] = 0.9.into(),
            "node `lif`: give exactly one of `tau` and `beta`, not both",
        ),
        (
            "no leak",
            |n| {
                n.as_object_mut().unwrap().remove("tau");
            },
            "node `lif`: `lif` needs its leak: `tau` or `beta`",
        ),
        (
            "beta 1",
            |n| {
                n.as_object_mut().unwrap().remove("tau");
                n["beta"] = 1.0.into();
            },
            "node `lif`: `beta` must lie in [0, 1) (1 is no leak: use op `if`), got 1",
        ),
        (
            "beta negative",
            |n| {
                n.as_object_mut().unwrap().remove("tau");
                n["beta"] = (-0.1).into();
            },
            "node `lif`: `beta` must lie in [0, 1)",
        ),
        (
            "beta rounding to 1",
            |n| {
                n.as_object_mut().unwrap().remove("tau");
                n["beta"] = 0.99999999.into();
            },
            "node `lif`: `beta` leaves a leak factor of 0.99999999 that rounds to 1 in f32",
        ),
        (
            "tau so large beta rounds to 1",
            |n| n["tau"] = 1e9.into(),
            "node `lif`: `tau` leaves a leak factor of",
        ),
        (
            "if with a tau",
            |n| n["op"] = "if".into(),
            "node `lif`: `if` has no leak: remove `tau` and `beta`",
        ),
        (
            "v_min at the threshold",
            |n| n["v_min"] = 1.0.into(),
            "node `lif`: `v_min` must be finite and below `threshold` 1, got 1",
        ),
        (
            "v_leak on an if",
            |n| {
                n["op"] = "if".into();
                n.as_object_mut().unwrap().remove("tau");
                n["v_leak"] = 0.1.into();
            },
            "node `lif`: `if` has no leak, so no `v_leak`",
        ),
        (
            "alpha on a lif",
            |n| n["alpha"] = 0.8.into(),
            "node `lif`: `alpha`, `tau_syn` and `w_in` describe a synaptic current, which `lif` \
             does not have",
        ),
        (
            "w_in on an if",
            |n| {
                n["op"] = "if".into();
                n.as_object_mut().unwrap().remove("tau");
                n["w_in"] = 2.0.into();
            },
            "which `if` does not have: remove them (or use `cuba_lif`)",
        ),
        (
            "cuba_lif without a current decay",
            |n| n["op"] = "cuba_lif".into(),
            "node `lif`: `cuba_lif` needs its current's decay: `alpha` or `tau_syn`",
        ),
        (
            "cuba_lif with alpha and tau_syn",
            |n| {
                n["op"] = "cuba_lif".into();
                n["alpha"] = 0.8.into();
                n["tau_syn"] = 5.0.into();
            },
            "node `lif`: give exactly one of `alpha` and `tau_syn`, not both",
        ),
        (
            "cuba_lif with alpha 1",
            |n| {
                n["op"] = "cuba_lif".into();
                n["alpha"] = 1.0.into();
            },
            "node `lif`: `alpha` must lie in [0, 1) (the current's factor on its old value), got 1",
        ),
        (
            "cuba_lif with a negative alpha",
            |n| {
                n["op"] = "cuba_lif".into();
                n["alpha"] = (-0.5).into();
            },
            "`alpha` must lie in [0, 1)",
        ),
        (
            "cuba_lif with tau_syn below 1",
            |n| {
                n["op"] = "cuba_lif".into();
                n["tau_syn"] = 0.5.into();
            },
            "node `lif`: `tau_syn` must be finite and at least 1",
        ),
        (
            "cuba_lif with tau_syn so large alpha rounds to 1",
            |n| {
                n["op"] = "cuba_lif".into();
                n["tau_syn"] = 1e9.into();
            },
            "node `lif`: `tau_syn` leaves a current decay of",
        ),
        (
            "cuba_lif with beta too",
            |n| {
                n["op"] = "cuba_lif".into();
                n["alpha"] = 0.5.into();
                n["beta"] = 0.9.into();
            },
            "node `lif`: give exactly one of `tau` and `beta`, not both",
        ),
        (
            "w_in neither a number nor a tensor name",
            |n| {
                n["op"] = "cuba_lif".into();
                n["alpha"] = 0.5.into();
                n["w_in"] = true.into();
            },
            "invalid type: boolean `true`, expected a number, or the name of a tensor in the weights file",
        ),
        (
            "unknown reset",
            |n| n["reset"] = "later".into(),
            "unknown variant `later`",
        ),
        (
            "threshold neither a number nor a tensor name",
            |n| n["threshold"] = serde_json::json!([1.0]),
            "test.json:1:314: invalid network JSON: invalid type: sequence, expected a number, or the name of a tensor in the weights file",
        ),
    ];
    let mut failed = Vec::new();
    for (case, edit, expected) in cases {
        let msg = error_after(|v| edit(&mut v["nodes"][2]));
        if !msg.contains(expected) {
            failed.push(format!("{case}: expected `{expected}` in `{msg}`"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn new_neuron_forms_parse() {
    for (edit, reset) in [
        (
            r#""beta": 0.9, "decay_input": false, "reset": "subtract_next", "compare": "gt""#,
            "subtract_next",
        ),
        (r#""beta": 0.5, "reset": "none""#, "none"),
    ] {
        let text = MLP.replace(r#""tau": 2.0"#, edit);
        let net = parse(&text).unwrap_or_else(|e| panic!("{edit}: {e}"));
        let Op::Lif(p) = &net.node(2).op else {
            panic!("{edit}: not a lif");
        };
        assert_eq!(snnc_compiler::text::reset_name(p.reset), reset);
        assert_eq!(p.tau, None);
    }
    let text = MLP.replace(
        r#""op": "lif", "tau": 2.0"#,
        r#""op": "if", "reset": "subtract""#,
    );
    let net = parse(&text).unwrap();
    let Op::If(p) = &net.node(2).op else {
        panic!("not an if");
    };
    assert_eq!(p.uniform().unwrap().beta_gain(), (1.0, 1.0));
}

#[test]
fn cuba_lif_lowers_to_a_population_with_a_synapse() {
    for (edit, alpha, w_in) in [
        (r#""beta": 0.9, "alpha": 0.8"#, 0.8, 1.0),
        (r#""tau": 2.0, "tau_syn": 4.0, "w_in": 0.5"#, 0.75, 0.5),
    ] {
        let text = MLP.replace(
            r#""op": "lif", "tau": 2.0"#,
            &format!(r#""op": "cuba_lif", {edit}"#),
        );
        let net = parse(&text).unwrap_or_else(|e| panic!("{edit}: {e}"));
        assert!(matches!(net.node(2).op, Op::CubaLif(_)), "{edit}");
        let m = snnc_compiler::lower::lower(&net, weights_for(&net)).unwrap();
        let synapses: Vec<_> = m
            .populations
            .iter()
            .filter_map(|(_, p)| match &p.kind {
                snnc_compiler::ir::PopulationKind::Spiking(s) => s.synapse,
                _ => None,
            })
            .collect();
        assert_eq!(
            synapses,
            [snnc_compiler::ir::Synapse {
                alpha: alpha.into(),
                w_in: w_in.into()
            }],
            "{edit}"
        );
    }
}

#[test]
fn invalid_name_characters() {
    let msg = error_after(|v| {
        v["nodes"][2]["name"] = "my lif".into();
        v["edges"][1]["to"] = "my lif".into();
        v["edges"][2]["from"] = "my lif".into();
    });
    assert!(msg.contains("node `my lif`: names may use only"), "{msg}");
}

#[test]
fn no_input_node() {
    let msg = error_after(|v| v["nodes"][0]["op"] = "sum".into());
    assert_eq!(msg, "the network has no node with op \"input\"");
}

#[test]
fn zero_timesteps() {
    let msg = error_after(|v| v["timesteps"] = 0.into());
    assert_eq!(msg, "timesteps must be at least 1");
}

fn weights_for(net: &Network) -> Weights {
    let mut w = Weights::default();
    for (name, shape) in net.parameter_specs() {
        let n = shape.iter().product();
        w.tensors.insert(name, Tensor::new(shape, vec![0.5; n]));
    }
    w
}

#[test]
fn weights_round_trip_and_check() {
    let net = parse(MLP).unwrap();
    let w = weights_for(&net);
    net.check_weights(&w).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.safetensors");
    w.save(&path).unwrap();
    assert_eq!(Weights::load(&path).unwrap(), w);
}

#[test]
fn weights_missing_tensor() {
    let net = parse(MLP).unwrap();
    let mut w = weights_for(&net);
    w.tensors.remove("fc2.bias");
    let msg = net.check_weights(&w).unwrap_err().to_string();
    assert_eq!(
        msg,
        "node `fc2`: weights have no tensor `fc2.bias` (expected shape [10])"
    );
}

#[test]
fn weights_wrong_shape() {
    let net = parse(MLP).unwrap();
    let mut w = weights_for(&net);
    w.tensors.insert(
        "fc1.weight".into(),
        Tensor::new(vec![64, 32], vec![0.0; 2048]),
    );
    let msg = net.check_weights(&w).unwrap_err().to_string();
    assert_eq!(
        msg,
        "node `fc1`: tensor `fc1.weight` has shape [64, 32], expected [32, 64]"
    );
}

#[test]
fn weights_with_nan_or_inf() {
    let net = parse(MLP).unwrap();
    let mut w = weights_for(&net);
    w.tensors.get_mut("fc2.weight").unwrap().data[17] = f32::INFINITY;
    let msg = net.check_weights(&w).unwrap_err().to_string();
    assert!(
        msg.starts_with(
            "node `fc2`: tensor `fc2.weight` holds a non-finite value (inf) at flat index 17"
        ),
        "{msg}"
    );
}

#[test]
fn explicit_tensor_names_are_used() {
    let mut v: serde_json::Value = serde_json::from_str(MLP).unwrap();
    v["nodes"][1]["params"] = serde_json::json!({"weight": "features.0.weight"});
    let net = parse(&v.to_string()).unwrap();
    assert_eq!(net.parameter_specs()[0].0, "features.0.weight");
}

#[test]
fn corrupt_weights_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.safetensors");
    std::fs::write(&path, b"not a safetensors file").unwrap();
    let msg = Weights::load(&path).unwrap_err().to_string();
    assert!(
        msg.contains("weights.safetensors: not a valid safetensors file"),
        "{msg}"
    );
}

/// Sizes from a file multiply; absurd ones are refused by name instead of overflowing.
#[test]
fn absurd_sizes_are_refused() {
    let msg = error_after(|v| v["timesteps"] = 100_000_000u64.into());
    assert_eq!(msg, "timesteps 100000000 exceeds the limit of 16777216");
    let msg = error_after(|v| v["input"]["shape"] = serde_json::json!([1u64 << 40]));
    assert!(
        msg.starts_with("input.shape [1099511627776] has a size above the limit"),
        "{msg}"
    );
    let msg = error_after(|v| v["nodes"][1]["out_features"] = (1u64 << 62).into());
    assert_eq!(
        msg,
        "node `fc1`: out_features 4611686018427387904 exceeds the limit of 16777216"
    );
    // Each size within bounds, their product not: 2^60 input values, pooled to 2^20.
    let msg = error_after(|v| {
        v["input"]["shape"] = serde_json::json!([1 << 20, 1 << 20, 1 << 20]);
        v["nodes"][1] = serde_json::json!({"name": "fc1", "op": "avg_pool", "kernel": 1 << 20});
        v["nodes"][2] = serde_json::json!({"name": "lif", "op": "flatten"});
        v["nodes"][3]["in_features"] = (1u64 << 20).into();
    });
    assert!(
        msg.starts_with("the network's 1152921504608944138 neuron values over 3 timesteps exceed"),
        "{msg}"
    );
    // A padding near usize::MAX would wrap a window's size.
    let msg = error_after(|v| {
        v["input"]["shape"] = serde_json::json!([1, 8, 8]);
        v["nodes"][1] = serde_json::json!({"name": "fc1", "op": "conv2d", "in_channels": 1,
            "out_channels": 2, "kernel": 1, "padding": u64::MAX / 2});
    });
    assert!(msg.starts_with("node `fc1`: padding"), "{msg}");
}

#[test]
fn negative_running_variance_is_named() {
    let text = MLP
        .replace(
            r#"{"name": "lif", "op": "lif", "tau": 2.0}"#,
            r#"{"name": "bn", "op": "batch_norm"}, {"name": "lif", "op": "lif", "tau": 2.0}"#,
        )
        .replace(
            r#"{"from": "fc1", "to": "lif"}"#,
            r#"{"from": "fc1", "to": "bn"}, {"from": "bn", "to": "lif"}"#,
        );
    let net = parse(&text).unwrap();
    let mut w = weights_for(&net);
    w.tensors.get_mut("bn.running_var").unwrap().data[3] = -0.5;
    let path = std::path::Path::new("run/weights.safetensors");
    let msg = net
        .check_weights(&w)
        .map_err(|e| e.in_file(path))
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(
            "run/weights.safetensors: node `bn`: tensor `bn.running_var` holds a negative variance (-0.5) at flat index 3"
        ),
        "{msg}"
    );
}

#[test]
fn validation_errors_name_the_file() {
    let text = MLP.replace(r#""tau": 2.0"#, r#""tau": 2.0, "beta": 0.5"#);
    let msg = parse(&text).unwrap_err().to_string();
    assert_eq!(
        msg,
        "test.json: node `lif`: give exactly one of `tau` and `beta`, not both"
    );
}

/// The MLP read out through a leaky integrator: `fc2 -> out` (`li` or `cuba_li`), `kind` readout.
fn li_mlp(op: &str, fields: &str, kind: &str) -> String {
    MLP.replace(
        r#"{"name": "fc2", "op": "linear", "in_features": 32, "out_features": 10, "bias": true}"#,
        &format!(
            r#"{{"name": "fc2", "op": "linear", "in_features": 32, "out_features": 10, "bias": true}},
    {{"name": "out", "op": "{op}"{fields}}}"#
        ),
    )
    .replace(
        r#"{"from": "lif", "to": "fc2"}"#,
        r#"{"from": "lif", "to": "fc2"}, {"from": "fc2", "to": "out"}"#,
    )
    .replace(
        r#""readout": {"node": "fc2", "kind": "time_mean"}"#,
        &format!(r#""readout": {{"node": "out", "kind": "{kind}"}}"#),
    )
}

#[test]
fn leaky_integrator_readouts_parse_and_lower() {
    for (op, fields, kind) in [
        (
            "li",
            r#", "beta": 0.9, "decay_input": false"#,
            "membrane_last",
        ),
        ("li", r#", "tau": 5, "v_leak": 0.2"#, "membrane_mean"),
        ("cuba_li", r#", "tau": 10, "tau_syn": 5"#, "membrane_max"),
        ("li", r#", "beta": 0.5"#, "time_mean"),
    ] {
        let text = li_mlp(op, fields, kind);
        let net = parse(&text).unwrap_or_else(|e| panic!("{op} {kind}: {e}"));
        let m = snnc_compiler::lower::lower(&net, weights_for(&net)).unwrap();
        let readout = m.readout().unwrap();
        let snnc_compiler::ir::PopulationKind::Readout(r) = &m.populations[readout].kind else {
            panic!("not a readout");
        };
        let li = r
            .integrator
            .unwrap_or_else(|| panic!("{op} {kind}: no integrator"));
        assert_eq!(li.synapse.is_some(), op == "cuba_li", "{op} {kind}");
        assert_eq!(snnc_compiler::text::readout_name(r.mode), kind);
    }
}

#[test]
fn leaky_integrator_refusals() {
    let rows = [
        (
            li_mlp("li", r#", "beta": 0.9"#, "spike_count"),
            "node `out`: is a `li`, which does not spike: read it with `membrane_last`",
        ),
        (
            MLP.replace(r#""kind": "time_mean""#, r#""kind": "membrane_last""#),
            "node `fc2`: is the node of a `membrane_last` readout, which reads a membrane: the \
             readout node must be `li` or `cuba_li`, not `linear`",
        ),
        (
            li_mlp("li", r#", "tau": 2, "beta": 0.5"#, "membrane_last"),
            "node `out`: give exactly one of `tau` and `beta`, not both",
        ),
        (
            li_mlp("li", r#", "beta": 0.5, "alpha": 0.5"#, "membrane_last"),
            "which `li` does not have: remove them (or use `cuba_lif`)",
        ),
        (
            li_mlp("cuba_li", r#", "beta": 0.5"#, "membrane_last"),
            "node `out`: `cuba_li` needs its current's decay",
        ),
        (
            li_mlp("li", r#", "beta": 0.5, "threshold": 1"#, "membrane_last"),
            "unknown field `threshold`",
        ),
        (
            MLP.replace(r#""op": "lif", "tau": 2.0"#, r#""op": "li", "tau": 2.0"#),
            "node `lif`: is a `li`: leaky integrators are supported as the readout node only",
        ),
    ];
    let mut failed = Vec::new();
    for (text, expected) in &rows {
        match parse(text) {
            Ok(_) => failed.push(format!("accepted; expected `{expected}`")),
            Err(e) if !e.to_string().contains(expected) => {
                failed.push(format!("expected `{expected}` in `{e}`"))
            }
            Err(_) => {}
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
