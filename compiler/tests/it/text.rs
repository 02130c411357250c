//! The `.snnir` text form: round trips on every fixture, the sidecar, and parse errors at line:column.

use crate::common;
use snnc_compiler::ir::Module;
use snnc_compiler::network::{Weights, WeightsError};
use snnc_compiler::text::{self, PrintOptions, parse, print};

/// Print, then parse that text with its sidecar.
pub fn reparse(m: &Module) -> Module {
    let opts = PrintOptions::default();
    let printed = print(m, &opts);
    let side = text::sidecar(m, &opts);
    let (back, _) = parse(&printed, "mem.snnir", |name| {
        assert_eq!(name, opts.sidecar);
        Weights::from_bytes(side.as_deref().expect("a sidecar was named"), name)
    })
    .unwrap_or_else(|e| panic!("{e}\n{printed}"));
    back
}

#[test]
fn every_fixture_round_trips_exactly() {
    for name in &common::fixtures() {
        let (_, _, lowered) = common::lowered(name);
        for m in [lowered.clone(), snnc_compiler::passes::optimise(lowered)] {
            let back = reparse(&m);
            assert_eq!(back, m, "{name}: parse(print(m)) != m");
            let opts = PrintOptions::default();
            assert_eq!(print(&back, &opts), print(&m, &opts), "{name}");
        }
    }
}

#[test]
fn files_round_trip_through_disk() {
    let (_, _, m) = common::lowered("snasnet_c100");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.snnir");
    text::write(&m, &path).unwrap();
    assert!(dir.path().join("net.safetensors").exists());
    let (back, map) = text::read(&path).unwrap();
    assert_eq!(back, m);
    let p0 = snnc_compiler::ir::Handle::new(0);
    assert_eq!(
        map.line(snnc_compiler::validate::Location::Population(p0)),
        Some(map.populations[p0])
    );
    assert_eq!(map.line(snnc_compiler::validate::Location::Module), None);
}

fn parse_err(src: &str) -> String {
    let no_sidecar = |name: &str| {
        Err(WeightsError::Io {
            file: name.to_string(),
            message: "no sidecar here".into(),
        })
    };
    match parse(src, "x.snnir", no_sidecar) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => e.to_string(),
    }
}

const HEAD: &str = "snnir 1\nmodule \"m\" timesteps=2 classes=2\n";

#[test]
fn parse_errors_point_at_line_and_column() {
    assert_eq!(
        parse_err("snnir 2\n"),
        "x.snnir:1:7: unsupported snnir version 2; this snnc reads version 1"
    );
    assert_eq!(
        parse_err("module \"m\"\n"),
        "x.snnir:1:1: expected `snnir`, found `module`"
    );
    assert_eq!(
        parse_err(&format!("{HEAD}p1 = input \"x\" [2] direct\n")),
        "x.snnir:3:1: expected p0 here: p-handles are numbered densely in order"
    );
    assert_eq!(
        parse_err(&format!("{HEAD}p0 = neuron \"x\" [2]\n")),
        "x.snnir:3:6: unknown population kind `neuron` (input, spiking, analog or readout)"
    );
    assert_eq!(
        parse_err(&format!(
            "{HEAD}p0 = spiking \"x\" [2] beta=0.5 gain=1 threshold=1 v_reset=0 reset=soft fire=ge\n"
        )),
        "x.snnir:3:66: expected `reset` (hard or subtract or subtract_next or zero_next or none), found `soft`"
    );
    assert_eq!(
        parse_err(&format!(
            "{HEAD}p0 = spiking \"x\" [2] beta=0.5 gain=1 threshold=1 v_reset=0 reset=hard fire=ge alpha=0.8\n"
        )),
        "x.snnir:3:88: missing attribute `w_in`"
    );
    assert_eq!(
        parse_err(&format!(
            "{HEAD}p0 = spiking \"x\" [2] beta=0.5 gain=1 threshold=1 v_reset=0 reset=hard fire=ge w_in=2\n"
        )),
        "x.snnir:3:79: unknown attribute `w_in` for a spiking population"
    );
    assert_eq!(
        parse_err(&format!("{HEAD}p0 = analog \"x\" [2] colour=red\n")),
        "x.snnir:3:21: unknown attribute `colour` for an analog population"
    );
    assert_eq!(
        parse_err(&format!("{HEAD}t0 = tensor \"w\" [2] [1.0, 2.0, 3.0]\n")),
        "x.snnir:3:21: shape [2] needs 2 values, found 3"
    );
    assert_eq!(
        parse_err(&format!("{HEAD}t0 = tensor \"w\" [20] external hash=00\n")),
        "x.snnir:3:22: t0 is external, but no `weights` line names a sidecar before it"
    );
    assert_eq!(
        parse_err(&format!("{HEAD}e0 = identity p0 p1 graded\n")),
        "x.snnir:3:18: expected `->`, found `p1`"
    );
    assert_eq!(
        parse_err(&format!("{HEAD}p0 = analog \"x [2]\n")),
        "x.snnir:3:13: unterminated string"
    );
    assert_eq!(
        parse_err(&format!(
            "{HEAD}p0 = spiking \"s\" [2] beta=0 gain=1 threshold=1 v_reset=0 reset=hard fire=ge\np1 = analog \"a\" [2]\ne0 = identity p0 -> p1 graded\n"
        )),
        "x.snnir:5:24: e0 is marked graded but its source p0 is spiking and emits binary events"
    );
    assert_eq!(
        parse_err(&format!("{HEAD}weights \"w.safetensors\"\n")),
        "x.snnir:3:1: cannot load the sidecar \"w.safetensors\": w.safetensors: cannot read weights: no sidecar here"
    );
    assert_eq!(
        parse_err(&format!(
            "{HEAD}p0 = analog \"x\" [4294967296, 4294967296, 4294967296]\n"
        )),
        "x.snnir:3:17: shape [4294967296, 4294967296, 4294967296] has too many elements"
    );
    assert_eq!(
        parse_err(&format!("{HEAD}p0 = analog \"x\" [2] bias=t4294967296\n")),
        "x.snnir:3:26: expected `bias` as a handle `tN`, found `t4294967296`"
    );
    assert_eq!(
        parse_err("\n\n"),
        "x.snnir:2:1: missing header: a module starts with `snnir 1` and a `module` line"
    );
}

#[test]
fn a_sidecar_from_another_compilation_is_rejected() {
    let (_, _, m) = common::lowered("mlp");
    let opts = PrintOptions::default();
    let printed = print(&m, &opts);
    let mut wrong = m.clone();
    let external = wrong
        .tensors
        .iter()
        .find(|(_, t)| t.data.len() > opts.inline_limit)
        .map(|(h, _)| h)
        .unwrap();
    wrong.tensors[external].data[0] += 1.0;
    let side = text::sidecar(&wrong, &opts).unwrap();
    let err = parse(&printed, "m.snnir", |n| Weights::from_bytes(&side, n)).unwrap_err();
    assert!(err.to_string().contains("does not match its hash"), "{err}");
}
