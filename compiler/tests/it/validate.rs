//! The validator's errors, one table row per error, each message naming the handles as the text
//! prints them; and the lowering errors for what the event IR cannot express.

use crate::common;
use snnc_compiler::ir::{
    Affine, Analog, Conv2d, Handle, Module, PopulationKind, ProjectionKind, Readout, ReadoutKind,
    Reshape, Scale, Shape, Spiking, SumPool, Tensor,
};
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
        s.beta = 1.5.into();
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
fn a_per_step_bias_has_one_row_per_timestep() {
    let mut m = base();
    let b = Handle::new(1);
    let v = m.tensors[b].data[0];
    m.tensors[b].shape = vec![3, 1];
    m.tensors[b].data = vec![v, -v, 2.0 * v];
    assert!(validate(&m).is_ok(), "{:?}", validate(&m));
    assert_eq!(m.tensors[b].at_step(1), &[-v]);
}

/// The spiking population `h` of a module being broken (the base's `p2`).
fn spiking(m: &mut Module, h: usize) -> &mut Spiking {
    match &mut m.populations[p(h)].kind {
        PopulationKind::Spiking(s) => s,
        other => panic!("p{h} is not spiking: {other:?}"),
    }
}

/// The analog population `h` of a module being broken (the base's `p1`).
fn analog(m: &mut Module, h: usize) -> &mut Analog {
    match &mut m.populations[p(h)].kind {
        PopulationKind::Analog(a) => a,
        other => panic!("p{h} is not analog: {other:?}"),
    }
}

/// Replace the feedback `e2` (which makes p1 vary over time) by a projection that bypasses p1,
/// and mark p1 const: then only its own per-step parts can make it vary.
fn constant_conv_without_feedback(m: &mut Module) {
    m.projections[e(2)].source = p(0);
    m.projections[e(2)].target = p(2);
    m.projections[e(2)].delay = 0;
    analog(m, 1).constant = true;
}

/// One way to break the base module, and the validator's whole message for it.
struct Invalid {
    case: &'static str,
    break_it: fn(&mut Module),
    message: &'static str,
}

const INVALID: &[Invalid] = &[
    Invalid {
        case: "zero-delay cycle names every population on it",
        break_it: |m| m.projections[e(2)].delay = 0,
        message: "zero-delay cycle p1 `conv` -> p2 `lif` -> p1 `conv`: every cycle needs a total delay of at least 1",
    },
    Invalid {
        case: "shape mismatch names both ends and shapes",
        break_it: |m| {
            m.projections[e(3)].kind = ProjectionKind::SumPool(SumPool {
                kernel: [1, 1],
                stride: [1, 1],
                padding: [0, 0],
                scale: 1.0,
            })
        },
        message: "e3 (sum_pool p2 -> p3): the source p2 is [1, 4, 4], so the target must be [1, 4, 4], but p3 is [1, 2, 2]",
    },
    Invalid {
        case: "dangling population",
        break_it: |m| m.projections[e(4)].target = p(9),
        message: "e4: target p9 does not exist (the module has 5 populations)",
    },
    Invalid {
        case: "dangling tensor",
        break_it: |m| analog(m, 1).bias = Some(Handle::new(7)),
        message: "p1: tensor t7 does not exist (the module has 3 tensors)",
    },
    Invalid {
        case: "NaN weight",
        break_it: |m| m.tensors[Handle::new(2)].data[3] = f32::NAN,
        message: "t2 (`d`): holds a non-finite value (NaN) at flat index 3",
    },
    Invalid {
        case: "infinite weight",
        break_it: |m| m.tensors[Handle::new(2)].data[3] = f32::INFINITY,
        message: "t2 (`d`): holds a non-finite value (inf) at flat index 3",
    },
    Invalid {
        case: "delay over the limit",
        break_it: |m| m.projections[e(2)].delay = 5000,
        message: "e2: delay 5000 exceeds the limit of 1024",
    },
    Invalid {
        case: "conv2d over a flat population",
        break_it: |m| {
            m.projections[e(4)].kind = ProjectionKind::Conv2d(Conv2d {
                weight: Handle::new(0),
                stride: [1, 1],
                padding: [0, 0],
                groups: 1,
            });
            m.projections[e(3)].kind = ProjectionKind::Reshape(Reshape);
            m.populations[p(3)].shape = Shape(vec![16]);
        },
        message: "e4: unsupported: conv2d over the flat population p3 ([16]); only [C, H, W] sources convolve",
    },
    Invalid {
        case: "tensor shape against its projection",
        break_it: |m| m.tensors[Handle::new(2)].shape = vec![4, 2],
        message: "e4: dense weight t2 has shape [4, 2]; the source [1, 2, 2] needs [out, 4]",
    },
    Invalid {
        case: "tensor data must fill its shape",
        break_it: |m| {
            m.tensors[Handle::new(2)].data.pop();
        },
        message: "t2 (`d`): shape [2, 4] has 8 elements but the data has 7",
    },
    Invalid {
        case: "bias shape",
        break_it: |m| m.tensors[Handle::new(1)].shape = vec![1, 1],
        message: "p1: bias t1 has shape [1, 1], but a [1, 4, 4] population needs [1] (or [3, 1], one row per step)",
    },
    Invalid {
        // A second readout is also a readout feeding a projection: both are reported.
        case: "two readouts",
        break_it: |m| {
            m.populations[p(3)].kind = PopulationKind::Readout(Readout {
                mode: ReadoutKind::TimeMean,
                bias: None,
                integrator: None,
            })
        },
        message: "the module needs exactly one readout population, found p3, p4\n\
                  e4: the readout population p3 cannot feed projections",
    },
    Invalid {
        case: "no input",
        break_it: |m| {
            m.populations[p(0)].kind = PopulationKind::Analog(Analog {
                bias: None,
                constant: false,
            })
        },
        message: "the module needs exactly one input population, found none",
    },
    Invalid {
        case: "a projection into the input",
        break_it: |m| {
            m.projections[e(2)].target = p(0);
            m.populations[p(0)].shape = Shape(vec![1, 4, 4]);
        },
        message: "e2: the input population p0 cannot receive projections",
    },
    Invalid {
        // Rewiring e1 out of the readout also closes a zero-delay loop through it: both are reported.
        case: "a projection out of the readout",
        break_it: |m| m.projections[e(1)].source = p(4),
        message: "e1: the readout population p4 cannot feed projections\n\
                  zero-delay cycle p2 `lif` -> p3 `pool` -> p4 `out` -> p2 `lif`: every cycle needs a total delay of at least 1",
    },
    Invalid {
        case: "the readout must have one value per class",
        break_it: |m| m.num_classes = 3,
        message: "p4: the readout must be [3] (classes), but it is [2]",
    },
    Invalid {
        case: "beta above 1",
        break_it: |m| spiking(m, 2).beta = 1.5.into(),
        message: "p2: beta must lie in [0, 1] (a leak, not a gain), got 1.5",
    },
    Invalid {
        case: "NaN threshold",
        break_it: |m| spiking(m, 2).threshold = f64::NAN.into(),
        message: "p2: threshold must be finite, got NaN",
    },
    Invalid {
        case: "a const population must really be constant",
        break_it: |m| analog(m, 1).constant = true,
        message: "p1: is marked const, but it receives p2 with delay 1, which changes over time",
    },
    Invalid {
        case: "a const population has no per-step bias",
        break_it: |m| {
            constant_conv_without_feedback(m);
            let b = Handle::new(1);
            m.tensors[b].shape = vec![3, 1];
            m.tensors[b].data = vec![0.5, 0.25, 0.0];
        },
        message: "p1: is marked const, but its bias has one row per step",
    },
    Invalid {
        case: "a const population has no per-step affine scale",
        break_it: |m| {
            constant_conv_without_feedback(m);
            let scale = m
                .tensors
                .push(Tensor::new("s", vec![3, 1], vec![1.0, 2.0, 3.0]));
            m.projections[e(0)].kind = ProjectionKind::Affine(Affine { scale });
        },
        message: "p1: is marked const, but it receives p0 through an affine with one row per step",
    },
    Invalid {
        case: "zero timesteps",
        break_it: |m| m.timesteps = 0,
        message: "the module's timesteps is 0: must be at least 1",
    },
    Invalid {
        case: "timesteps over the limit",
        break_it: |m| m.timesteps = 1 << 30,
        message: "the module's timesteps is 1073741824: exceeds the limit of 16777216",
    },
    Invalid {
        // Sizes from a parsed file are bounded, so window arithmetic cannot wrap.
        case: "absurd window sizes from a parsed file",
        break_it: |m| {
            let text = BASE.replace(
                "padding=[0, 0] scale=0.25",
                "padding=[9223372036854775807, 0] scale=0.25",
            );
            *m = parse(&text, "tiny.snnir", |_| Ok(Weights::default()))
                .unwrap()
                .0;
        },
        message: "e3: a kernel, stride, padding or group count of 9223372036854775807 exceeds the limit of 16777216",
    },
    Invalid {
        case: "infinite scale factor",
        break_it: |m| {
            m.projections[e(2)].kind = ProjectionKind::Scale(Scale {
                factor: f64::INFINITY,
            })
        },
        message: "e2: scale factor must be finite, got inf",
    },
];

/// Every row of [`INVALID`] breaks the base module and gets exactly its message; all failing rows
/// are named at once.
#[test]
fn each_invalid_module_is_reported_with_its_message() {
    let failures: Vec<String> = INVALID
        .iter()
        .filter_map(|row| {
            let mut m = base();
            (row.break_it)(&mut m);
            match validate(&m) {
                Ok(_) => Some(format!("{}: the broken module validates", row.case)),
                Err(errors) if errors.to_string() == row.message => None,
                Err(errors) => Some(format!(
                    "{}:\n  expected: {}\n  got:      {errors}",
                    row.case, row.message
                )),
            }
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        INVALID.len(),
        failures.join("\n")
    );
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
