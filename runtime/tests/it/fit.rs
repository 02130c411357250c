//! Resource estimates against hand counts: window wiring, a small module's totals, and the
//! checks against a target's limits (each made to fail by one unit).

use snnc_compiler::ir::Module;
use snnc_compiler::network::Weights;
use snnc_compiler::text::parse;
use snnc_runtime::fit::{estimate, wiring};
use snnc_targets::Target;

/// input -> conv -> analog <-(delay 1)- LIF -> sum-pool -> dense -> readout, with a padded
/// stride-2 conv on a side branch to check window counting at the borders.
const MODULE: &str = r#"snnir 1
module "tiny" timesteps=3 classes=2
t0 = tensor "w" [1, 1, 1, 1] [2.0]
t1 = tensor "b" [1] [0.5]
t2 = tensor "d" [2, 4] [1, 0, 0, 1, 0, 1, 1, 0]
t3 = tensor "k" [2, 1, 3, 3] [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
p0 = input "x" [1, 4, 4] direct
p1 = analog "conv" [1, 4, 4] bias=t1
p2 = spiking "lif" [1, 4, 4] beta=0.5 gain=1 threshold=1 v_reset=0 reset=hard fire=ge
p3 = analog "pool" [1, 2, 2]
p4 = readout "out" [2] time_mean
p5 = spiking "side" [2, 2, 2] beta=0.5 gain=1 threshold=1 v_reset=0 reset=hard fire=ge
e0 = conv2d p0 -> p1 graded weight=t0 stride=[1, 1] padding=[0, 0] groups=1
e1 = identity p1 -> p2 graded
e2 = scale p2 -> p1 binary delay=1 factor=0.5
e3 = sum_pool p2 -> p3 binary kernel=[2, 2] stride=[2, 2] padding=[0, 0] scale=0.25
e4 = dense p3 -> p4 graded weight=t2
e5 = conv2d p2 -> p5 binary weight=t3 stride=[2, 2] padding=[1, 1] groups=1
"#;

fn module() -> Module {
    let (m, _) = parse(MODULE, "tiny.snnir", |_| Ok(Weights::default())).unwrap();
    snnc_compiler::validate::validate(&m).expect("valid");
    m
}

#[test]
fn wiring_counts_every_connected_pair() {
    let m = module();
    let w: Vec<_> = m.projections.iter().map(|(_, e)| wiring(&m, e)).collect();
    let triple = |i: usize| (w[i].synapses, w[i].max_fan_in, w[i].max_fan_out);
    assert_eq!(triple(0), (16, 1, 1), "1x1 conv");
    assert_eq!(triple(1), (16, 1, 1), "identity");
    assert_eq!(triple(3), (16, 4, 1), "2x2 pool, stride 2");
    assert_eq!(triple(4), (8, 4, 2), "dense [2, 4]");
    // 3x3, stride 2, padding 1 on a 4-wide axis, 2 outputs: output 0 reads inputs 0-1 (2 taps),
    // output 1 reads inputs 1-3 (3 taps): 5 pairs per axis, input 1 feeds both outputs.
    // Synapses 2 out-channels x 5 x 5; fan-in 1 channel x 3 x 3; fan-out 2 channels x 2 x 2.
    assert_eq!(triple(5), (50, 9, 8), "padded strided conv");
}

#[test]
fn totals_and_checks_against_limits() {
    let m = module();
    let mut t = Target::resolve("loihi").unwrap();
    let r = estimate(&m, &t).unwrap();
    // On chip: p1 (16), p2 (16), p3 (4), p4 (2), p5 (8); the input stays on the host.
    assert_eq!(r.neurons, 46);
    assert_eq!(r.spiking_neurons, 24);
    assert_eq!(r.synapses, 16 + 16 + 16 + 16 + 8 + 50);
    assert_eq!(r.weight_bits, 9);
    assert_eq!(r.synapse_memory_bytes, (122 * 9_u64).div_ceil(8));
    assert_eq!(r.max_delay, 1);
    // p1 receives the conv (1) and the feedback scale (1); p3 4 pool taps; p4 4 dense inputs;
    // p5 9 conv taps.
    assert_eq!(r.max_fan_in, 9);
    // p2 sends to p1 (1), the pool (1) and the side conv (8).
    assert_eq!(r.max_fan_out, 10);
    // Graded events leave p1 (into the LIF) and p3 (into the readout); p0's are the sample.
    assert_eq!(r.graded_projections, 2);
    assert_eq!(
        r.cores,
        Some(5),
        "one core per population at 1,024 neurons per core"
    );
    let over: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.what.as_str())
        .collect();
    assert_eq!(
        over,
        ["graded projections between on-chip layers (binary spikes only)"]
    );
    assert_eq!(r.fits(), Some(false));

    // Each limit set one below the need fails, at the need passes.
    let limits = t.limits.as_mut().unwrap();
    limits.neurons_per_core = Some(8);
    limits.cores = Some(7);
    limits.neurons_per_chip = Some(46);
    limits.fan_in_per_core = Some(8);
    limits.fan_out_per_neuron = Some(10);
    limits.delay_bits = Some(1);
    t.formats.graded = t.formats.weights.into();
    let r = estimate(&m, &t).unwrap();
    // Cores at 8 neurons each: p1 2, p2 2, p3 1, p4 1, p5 1.
    assert_eq!(r.cores, Some(7));
    let verdict = |what: &str| {
        r.checks
            .iter()
            .find(|c| c.what.starts_with(what))
            .unwrap_or_else(|| panic!("no check {what}"))
            .ok
    };
    assert!(verdict("cores"));
    assert!(verdict("neurons per chip"));
    assert!(!verdict("fan-in"), "9 inputs on an 8-axon core");
    assert!(verdict("fan-out"));
    assert!(verdict("longest delay"), "delay 1 fits 1 bit");
    assert!(
        r.checks.iter().all(|c| !c.what.starts_with("graded")),
        "a target with a graded format carries graded events"
    );
    let limits = t.limits.as_mut().unwrap();
    limits.cores = Some(6);
    limits.neurons_per_chip = Some(45);
    limits.fan_out_per_neuron = Some(9);
    limits.delay_bits = Some(0);
    let r = estimate(&m, &t).unwrap();
    assert!(
        r.checks.iter().filter(|c| !c.ok).count() == 5,
        "{:#?}",
        r.checks
    );
    let text = snnc_runtime::fit::render(&r);
    assert!(
        text.contains("does not fit loihi: 5 limit(s) exceeded"),
        "{text}"
    );

    // A target without limits has nothing to check.
    let cmos = Target::resolve("cmos45-fp32").unwrap();
    let r = estimate(&m, &cmos).unwrap();
    assert!(r.checks.is_empty() && r.fits().is_none() && r.cores.is_none());
}

#[test]
fn an_invalid_module_is_refused_not_indexed() {
    let mut m = module();
    m.timesteps = 0;
    let err = estimate(&m, &Target::resolve("loihi").unwrap()).unwrap_err();
    assert!(err.to_string().contains("timesteps"), "{err}");
}
