//! One test per validator error, each asserting the message names the handles as the text prints them.

use crate::common;
use snnc_compiler::ir::{Handle, Module, PopulationKind, ProjectionKind};
use snnc_compiler::lower::lower;
use snnc_compiler::network::{NetworkDesc, Weights};
use snnc_compiler::text::parse;
use snnc_compiler::validate::{Location, ValidationError, validate};

/// A small valid module: input -> conv -> LIF -> pool -> flatten -> dense -> readout, with a
/// feedback projection from the LIF into the conv population.
const BASE: &str = r#"snnir 1
module "tiny" timesteps=3 classes=2
t0 = tensor "w" [1, 1, 1, 1] [2.0]
t1 = tensor "b" [1] [0.5]
t2 = tensor "d" [2, 4] [1, 0, 0, 1, 0, 1, 1, 0]
p0 = input "x" [1, 4, 4] direct
p1 = analog "conv" [1, 4, 4] bias=t1
p2 = spiking "lif" [1, 4, 4] beta=0.5 gain=1 threshold=1 v_reset=0 reset=hard fire=ge
p3 = analog "pool" [1, 2, 2]
p4 = readout "out" [2] time_mean
e0 = conv2d p0 -> p1 graded weight=t0 stride=[1, 1] padding=[0, 0] groups=1
e1 = identity p1 -> p2 graded
e2 = scale p2 -> p1 binary delay=1 factor=0.5
e3 = sum_pool p2 -> p3 binary kernel=[2, 2] stride=[2, 2] padding=[0, 0] scale=0.25
e4 = dense p3 -> p4 graded weight=t2
"#;

fn base() -> Module {
    let (m, _) = parse(BASE, "tiny.snnir", |_| Ok(Weights::default())).unwrap();
    validate(&m).expect("the base module is valid");
    m
}

fn error(m: &Module) -> String {
    validate(m)
        .expect_err("the module should be invalid")
        .to_string()
}

fn p(i: usize) -> Handle<snnc_compiler::ir::Population> {
    Handle::new(i)
}
fn e(i: usize) -> Handle<snnc_compiler::ir::Projection> {
    Handle::new(i)
}

#[test]
fn every_error_is_reported_with_the_entity_it_is_about() {
    let mut m = base();
    m.tensors[Handle::new(2)].data[3] = f32::NAN;
    if let PopulationKind::Spiking(s) = &mut m.populations[p(2)].kind {
        s.beta = 1.5;
    }
    m.projections[e(2)].delay = 5000;
    let errors = validate(&m).expect_err("three problems");
    let located: Vec<(Location, String)> = errors
        .iter()
        .map(|e| (e.location(), e.to_string()))
        .collect();
    assert_eq!(
        located,
        [
            (
                Location::Tensor(Handle::new(2)),
                "t2 (`d`): holds a non-finite value (NaN) at flat index 3".to_string()
            ),
            (
                Location::Population(p(2)),
                "p2: beta must lie in [0, 1] (a leak, not a gain), got 1.5".to_string()
            ),
            (
                Location::Projection(e(2)),
                "e2: delay 5000 exceeds the limit of 1024".to_string()
            ),
        ]
    );
    assert!(matches!(
        errors.iter().nth(2),
        Some(ValidationError::DelayTooLarge { delay: 5000, .. })
    ));
}

#[test]
fn a_cycle_is_located_at_its_first_population() {
    let mut m = base();
    m.projections[e(2)].delay = 0;
    let errors = validate(&m).unwrap_err();
    assert_eq!(errors.first().location(), Location::Population(p(1)));
}

#[test]
fn zero_delay_cycle_names_every_population_on_it() {
    let mut m = base();
    m.projections[e(2)].delay = 0;
    assert_eq!(
        error(&m),
        "zero-delay cycle p1 `conv` -> p2 `lif` -> p1 `conv`: every cycle needs a total delay of at least 1"
    );
}

#[test]
fn shape_mismatch_names_both_ends_and_shapes() {
    let mut m = base();
    m.projections[e(3)].kind = ProjectionKind::SumPool(snnc_compiler::ir::SumPool {
        kernel: [1, 1],
        stride: [1, 1],
        padding: [0, 0],
        scale: 1.0,
    });
    assert_eq!(
        error(&m),
        "e3 (sum_pool p2 -> p3): the source p2 is [1, 4, 4], so the target must be [1, 4, 4], but p3 is [1, 2, 2]"
    );
}

#[test]
fn dangling_population() {
    let mut m = base();
    m.projections[e(4)].target = p(9);
    assert_eq!(
        error(&m),
        "e4: target p9 does not exist (the module has 5 populations)"
    );
}

#[test]
fn dangling_tensor() {
    let mut m = base();
    if let PopulationKind::Analog(a) = &mut m.populations[p(1)].kind {
        a.bias = Some(Handle::new(7));
    }
    assert_eq!(
        error(&m),
        "p1: tensor t7 does not exist (the module has 3 tensors)"
    );
}

#[test]
fn non_finite_weight() {
    let mut m = base();
    m.tensors[Handle::new(2)].data[3] = f32::NAN;
    assert_eq!(
        error(&m),
        "t2 (`d`): holds a non-finite value (NaN) at flat index 3"
    );
    m.tensors[Handle::new(2)].data[3] = f32::INFINITY;
    assert_eq!(
        error(&m),
        "t2 (`d`): holds a non-finite value (inf) at flat index 3"
    );
}

#[test]
fn delay_over_the_limit() {
    let mut m = base();
    m.projections[e(2)].delay = 5000;
    assert_eq!(error(&m), "e2: delay 5000 exceeds the limit of 1024");
}

#[test]
fn unsupported_conv_over_a_flat_population() {
    let mut m = base();
    m.projections[e(4)].kind = ProjectionKind::Conv2d(snnc_compiler::ir::Conv2d {
        weight: Handle::new(0),
        stride: [1, 1],
        padding: [0, 0],
        groups: 1,
    });
    m.populations[p(3)].shape = snnc_compiler::ir::Shape(vec![4]);
    m.projections[e(3)].kind = ProjectionKind::Reshape(snnc_compiler::ir::Reshape);
    m.populations[p(3)].shape = snnc_compiler::ir::Shape(vec![16]);
    assert_eq!(
        error(&m),
        "e4: unsupported: conv2d over the flat population p3 ([16]); only [C, H, W] sources convolve"
    );
}

#[test]
fn tensor_shape_against_its_projection() {
    let mut m = base();
    m.tensors[Handle::new(2)].shape = vec![4, 2];
    assert_eq!(
        error(&m),
        "e4: dense weight t2 has shape [4, 2]; the source [1, 2, 2] needs [out, 4]"
    );
}

#[test]
fn tensor_data_must_fill_its_shape() {
    let mut m = base();
    m.tensors[Handle::new(2)].data.pop();
    assert_eq!(
        error(&m),
        "t2 (`d`): shape [2, 4] has 8 elements but the data has 7"
    );
}

#[test]
fn bias_shape() {
    let mut m = base();
    m.tensors[Handle::new(1)].shape = vec![1, 1];
    assert_eq!(
        error(&m),
        "p1: bias t1 has shape [1, 1], but a [1, 4, 4] population needs [1] (or [3, 1], one row per step)"
    );
}

#[test]
fn a_per_step_bias_has_one_row_per_timestep() {
    let mut m = base();
    let b = Handle::new(1);
    let v = m.tensors[b].data[0];
    m.tensors[b].shape = vec![3, 1];
    m.tensors[b].data = vec![v, -v, 2.0 * v];
    assert!(validate(&m).is_ok(), "{:?}", validate(&m));
    assert_eq!(m.tensors[b].at_step(1), &[-v]);
}

#[test]
fn exactly_one_input_and_one_readout() {
    let mut m = base();
    m.populations[p(3)].kind = PopulationKind::Readout(snnc_compiler::ir::Readout {
        mode: snnc_compiler::ir::ReadoutKind::TimeMean,
        bias: None,
    });
    // A second readout is also a readout feeding a projection: both are reported.
    assert_eq!(
        error(&m),
        "the module needs exactly one readout population, found p3, p4\n\
         e4: the readout population p3 cannot feed projections"
    );
    let mut m = base();
    m.populations[p(0)].kind = PopulationKind::Analog(snnc_compiler::ir::Analog {
        bias: None,
        constant: false,
    });
    assert_eq!(
        error(&m),
        "the module needs exactly one input population, found none"
    );
}

#[test]
fn projections_into_the_input_or_out_of_the_readout() {
    let mut m = base();
    m.projections[e(2)].target = p(0);
    m.populations[p(0)].shape = snnc_compiler::ir::Shape(vec![1, 4, 4]);
    assert_eq!(
        error(&m),
        "e2: the input population p0 cannot receive projections"
    );
    // Rewiring e1 out of the readout also closes a zero-delay loop through it: both are reported.
    let mut m = base();
    m.projections[e(1)].source = p(4);
    assert_eq!(
        error(&m),
        "e1: the readout population p4 cannot feed projections\n\
         zero-delay cycle p2 `lif` -> p3 `pool` -> p4 `out` -> p2 `lif`: every cycle needs a total delay of at least 1"
    );
}

#[test]
fn readout_must_have_one_value_per_class() {
    let mut m = base();
    m.num_classes = 3;
    assert_eq!(
        error(&m),
        "p4: the readout must be [3] (classes), but it is [2]"
    );
}

#[test]
fn neuron_parameters() {
    let mut m = base();
    if let PopulationKind::Spiking(s) = &mut m.populations[p(2)].kind {
        s.beta = 1.5;
    }
    assert_eq!(
        error(&m),
        "p2: beta must lie in [0, 1] (a leak, not a gain), got 1.5"
    );
    if let PopulationKind::Spiking(s) = &mut m.populations[p(2)].kind {
        s.beta = 0.5;
        s.threshold = f64::NAN;
    }
    assert_eq!(error(&m), "p2: threshold must be finite, got NaN");
}

#[test]
fn a_const_population_must_really_be_constant() {
    let mut m = base();
    if let PopulationKind::Analog(a) = &mut m.populations[p(1)].kind {
        a.constant = true;
    }
    assert_eq!(
        error(&m),
        "p1: is marked const, but it receives p2 with delay 1, which changes over time"
    );
}

#[test]
fn a_const_population_has_no_per_step_bias_or_scale() {
    // Drop the feedback so only the per-step parts make p1 vary.
    let mut m = base();
    m.projections[Handle::new(2)].source = p(0);
    m.projections[Handle::new(2)].target = p(2);
    m.projections[Handle::new(2)].delay = 0;
    if let PopulationKind::Analog(a) = &mut m.populations[p(1)].kind {
        a.constant = true;
    }
    let b = Handle::new(1);
    m.tensors[b].shape = vec![3, 1];
    m.tensors[b].data = vec![0.5, 0.25, 0.0];
    assert_eq!(
        error(&m),
        "p1: is marked const, but its bias has one row per step"
    );
    m.tensors[b].shape = vec![1];
    m.tensors[b].data = vec![0.5];
    let scale = m.tensors.push(snnc_compiler::ir::Tensor::new(
        "s",
        vec![3, 1],
        vec![1.0, 2.0, 3.0],
    ));
    m.projections[Handle::new(0)].kind =
        ProjectionKind::Affine(snnc_compiler::ir::Affine { scale });
    assert_eq!(
        error(&m),
        "p1: is marked const, but it receives p0 through an affine with one row per step"
    );
}

#[test]
fn header_values() {
    let mut m = base();
    m.timesteps = 0;
    assert_eq!(error(&m), "the module's timesteps is 0: must be at least 1");
    m.timesteps = 1 << 30;
    assert_eq!(
        error(&m),
        "the module's timesteps is 1073741824: exceeds the limit of 16777216"
    );
}

/// Sizes from a parsed file are bounded, so window arithmetic cannot wrap.
#[test]
fn absurd_window_sizes() {
    let text = BASE.replace(
        "padding=[0, 0] scale=0.25",
        "padding=[9223372036854775807, 0] scale=0.25",
    );
    let (m, _) = parse(&text, "tiny.snnir", |_| Ok(Weights::default())).unwrap();
    assert_eq!(
        error(&m),
        "e3: a kernel, stride, padding or group count of 9223372036854775807 exceeds the limit of 16777216"
    );
}

#[test]
fn projection_attributes() {
    let mut m = base();
    m.projections[e(2)].kind = ProjectionKind::Scale(snnc_compiler::ir::Scale {
        factor: f64::INFINITY,
    });
    assert_eq!(error(&m), "e2: scale factor must be finite, got inf");
}

// Lowering errors: ops the event IR cannot express are named by node.

fn lower_err(json: &str) -> String {
    let net = NetworkDesc::from_json_str(json, "net.json").unwrap();
    let w = snnc_compiler::synth::weights(&net, 1);
    lower(&net, w).expect_err("should not lower").to_string()
}

fn net_with(middle: &str) -> String {
    format!(
        r#"{{"format_version": 1, "timesteps": 2, "num_classes": 4,
        "input": {{"shape": [1, 4, 4], "encoding": "direct"}},
        "readout": {{"node": "flat", "kind": "time_mean"}},
        "nodes": [{{"name": "x", "op": "input"}}, {middle}, {{"name": "flat", "op": "flatten"}}],
        "edges": [{{"from": "x", "to": "pool"}}, {{"from": "pool", "to": "flat"}}]}}"#
    )
}

#[test]
fn max_pool_over_analog_values_is_unsupported() {
    let err = lower_err(&net_with(
        r#"{"name": "pool", "op": "max_pool", "kernel": 2}"#,
    ));
    assert_eq!(
        err,
        "node `pool`: max_pool is supported over binary spikes only (it lowers to an OR); feed it from a single lif/plif node"
    );
}

#[test]
fn avg_pool_excluding_padding_is_unsupported() {
    let err = lower_err(&net_with(
        r#"{"name": "pool", "op": "avg_pool", "kernel": 3, "stride": 2, "padding": 1, "count_include_pad": false}"#,
    ));
    assert!(
        err.starts_with("node `pool`: avg_pool with padding and count_include_pad = false"),
        "{err}"
    );
}

#[test]
fn lowering_rejects_bad_weights() {
    let (net, mut w) = common::load("mlp");
    w.tensors.get_mut("fc1.weight").unwrap().data[5] = f32::NAN;
    let err = lower(&net, w).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "node `fc1`: tensor `fc1.weight` holds a non-finite value (NaN) at flat index 5"
        ),
        "{err}"
    );
    let err = lower(&net, Weights::default()).unwrap_err().to_string();
    assert!(
        err.starts_with("node `fc1`: weights have no tensor `fc1.weight`"),
        "{err}"
    );
}
