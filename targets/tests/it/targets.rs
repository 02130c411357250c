//! Tests of the built-in tables, the energy arithmetic, user files and every load error.

use snnc_targets::{
    Count, CountPricing, DEFAULT_TARGET, NumberFormat, OpCounts, Pricing, Section, Status, Target,
    TargetError, builtin_names,
};
use std::path::PathBuf;

/// Relative comparison for energies computed by hand.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-30)
}

fn assert_close(got: f64, want: f64, what: &str) {
    assert!(close(got, want), "{what}: got {got:e}, want {want:e}");
}

/// A count of every kind, used for the hand-computed energies below.
fn every_count() -> OpCounts {
    OpCounts {
        sops: 1e6,
        macs: 1e5,
        pooling_ops: 1e4,
        affine_ops: 1e3,
        neuron_updates: 2e4,
        current_updates: 3e3,
        spikes: 5e3,
        weight_reads: 1.1e6,
        state_reads: 2e4,
        state_writes: 2e4,
    }
}

// ---- built-in tables ----

#[test]
fn every_builtin_loads_validates_and_round_trips() {
    assert_eq!(
        builtin_names(),
        ["cmos45-fp32", "cmos45-int8", "loihi", "truenorth"]
    );
    assert_eq!(builtin_names()[0], DEFAULT_TARGET);
    for name in builtin_names() {
        let t = Target::builtin(name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.name, name, "file name field must match its built-in name");
        assert!(!t.priced_counts().is_empty(), "{name} prices nothing");
        let again = Target::from_json(&t.to_json(), "round-trip").unwrap();
        assert_eq!(again, t, "{name} does not round-trip through to_json");
    }
    assert_eq!(Target::builtins().unwrap().len(), builtin_names().len());
    assert_eq!(Target::default_target().name, DEFAULT_TARGET);
}

#[test]
fn builtin_figures_match_the_sources() {
    let fp32 = Target::builtin("cmos45-fp32").unwrap();
    assert_eq!(fp32.pj(Count::Sops), Some(0.9));
    assert_eq!(fp32.pj(Count::Macs), Some(4.6));
    assert_eq!(fp32.pj(Count::WeightReads), Some(5.0));
    assert_eq!(
        fp32.pj(Count::StateWrites),
        None,
        "the source gives no write figure"
    );
    let Pricing::PerOperation {
        memory: Some(m), ..
    } = &fp32.pricing
    else {
        panic!("fp32 prices memory")
    };
    assert_eq!(m.sram_kib, 8);
    assert_eq!(fp32.sources["horowitz2014"].year, 2014);
    assert_eq!(fp32.formats.weights, NumberFormat::Float { bits: 32 });

    let int8 = Target::builtin("cmos45-int8").unwrap();
    assert_eq!(int8.pj(Count::Sops), Some(0.03));
    assert_eq!(int8.pj(Count::Macs), Some(0.23));
    assert_eq!(int8.reference["int8_mult"].pj, 0.2);
    // A current update is composed from the table's own figures: two mults and an add.
    for (t, mult, add) in [
        (&fp32, "float32_mult", "float32_add"),
        (&int8, "int8_mult", "int8_add"),
    ] {
        let composed = 2.0 * t.reference[mult].pj + t.reference[add].pj;
        assert_close(t.pj(Count::CurrentUpdates).unwrap(), composed, &t.name);
    }
    assert_eq!(
        int8.formats.weights,
        NumberFormat::Int {
            bits: 8,
            signed: true
        }
    );

    let loihi = Target::builtin("loihi").unwrap();
    assert_eq!(loihi.sources["davies2018"].status, Status::PreSilicon);
    assert_eq!(loihi.pj(Count::Sops), Some(23.6));
    assert_eq!(loihi.pj(Count::NeuronUpdates), Some(81.0));
    assert_eq!(
        loihi.pj(Count::CurrentUpdates),
        Some(0.0),
        "a Loihi compartment update is already current-based"
    );
    assert_eq!(loihi.pj(Count::Spikes), Some(1.7));
    assert_eq!(
        loihi.pj(Count::Macs),
        None,
        "Loihi 1 has binary spikes only"
    );
    let limits = loihi.limits.as_ref().unwrap();
    assert_eq!(
        (
            limits.cores,
            limits.neurons_per_core,
            limits.fan_in_per_core
        ),
        (Some(128), Some(1024), Some(4096))
    );

    let tn = Target::builtin("truenorth").unwrap();
    assert_eq!(tn.sources["merolla2014"].status, Status::Measured);
    assert!(matches!(tn.pricing, Pricing::AllIn(_)));
    assert_eq!(tn.pj(Count::Sops), Some(26.0));
    assert_eq!(tn.pricing_of(Count::WeightReads), CountPricing::Covered);
    assert_eq!(tn.limits.as_ref().unwrap().neurons_per_core, Some(256));
}

#[test]
fn every_builtin_row_cites_a_listed_source_with_a_location() {
    for t in Target::builtins().unwrap() {
        for c in t.priced_counts() {
            let CountPricing::Priced { row, .. } = t.pricing_of(c) else {
                unreachable!()
            };
            assert!(t.sources.contains_key(&row.source), "{}: {c}", t.name);
            assert!(
                !row.location.is_empty() && !row.op.is_empty(),
                "{}: {c}",
                t.name
            );
        }
    }
}

// ---- energy, computed by hand ----

#[test]
fn cmos45_fp32_prices_sops_and_macs_like_the_papers() {
    let t = Target::builtin("cmos45-fp32").unwrap();
    let e = t.energy(&OpCounts {
        sops: 1e6,
        macs: 1e5,
        ..Default::default()
    });
    // 1e6 x 0.9 pJ + 1e5 x 4.6 pJ = 900,000 + 460,000 pJ
    assert_close(e.arithmetic_j, 1.36e-6, "arithmetic");
    assert_close(e.total_j, 1.36e-6, "total");
    assert_eq!(e.memory_j, 0.0);
    assert!(e.unpriced.is_empty());
}

#[test]
fn cmos45_fp32_every_count() {
    let e = Target::builtin("cmos45-fp32")
        .unwrap()
        .energy(&every_count());
    // 1e6 x 0.9 + 1e5 x 4.6 + 1e4 x 0.9 + 1e3 x 4.6 + 2e4 x 5.5 + 3e3 x 8.3 pJ
    assert_close(
        e.arithmetic_j,
        (900_000.0 + 460_000.0 + 9_000.0 + 4_600.0 + 110_000.0 + 24_900.0) * 1e-12,
        "arithmetic",
    );
    // 1.1e6 weight reads + 2e4 state reads, 5 pJ each
    assert_close(e.memory_j, 5.6e6 * 1e-12, "memory");
    assert_close(e.total_j, 1_508_500e-12 + 5.6e-6, "total");
    assert_eq!(e.unpriced, [Count::Spikes, Count::StateWrites]);
    assert_close(
        e.term(Count::NeuronUpdates).unwrap().joules,
        1.1e-7,
        "neuron updates term",
    );
}

#[test]
fn cmos45_int8_every_count() {
    let e = Target::builtin("cmos45-int8")
        .unwrap()
        .energy(&every_count());
    // 1e6 x 0.03 + 1e5 x 0.23 + 1e4 x 0.03 + 1e3 x 0.23 + 2e4 x 0.26 + 3e3 x 0.43 pJ
    assert_close(
        e.arithmetic_j,
        (30_000.0 + 23_000.0 + 300.0 + 230.0 + 5_200.0 + 1_290.0) * 1e-12,
        "arithmetic",
    );
    // (1.1e6 + 2e4) x 1.25 pJ
    assert_close(e.memory_j, 1.4e6 * 1e-12, "memory");
}

#[test]
fn loihi_every_count() {
    let e = Target::builtin("loihi").unwrap().energy(&every_count());
    // 1e6 SOPs + 1e4 pooled inputs at 23.6 pJ, 2e4 updates at 81 pJ; current updates are
    // inside the neuron updates (a priced zero, not unpriced)
    assert_close(
        e.arithmetic_j,
        (1.01e6 * 23.6 + 2e4 * 81.0) * 1e-12,
        "arithmetic",
    );
    assert_eq!(e.term(Count::CurrentUpdates).unwrap().joules, 0.0);
    // 5e3 spikes at 1.7 pJ
    assert_close(e.communication_j, 8_500e-12, "communication");
    assert_eq!(e.memory_j, 0.0);
    assert_close(
        e.total_j,
        (1.01e6 * 23.6 + 2e4 * 81.0 + 8_500.0) * 1e-12,
        "total",
    );
    assert_eq!(
        e.unpriced,
        [
            Count::Macs,
            Count::AffineOps,
            Count::WeightReads,
            Count::StateReads,
            Count::StateWrites
        ]
    );
}

#[test]
fn truenorth_is_all_in_and_adds_no_memory_term() {
    let t = Target::builtin("truenorth").unwrap();
    let e = t.energy(&every_count());
    // (1e6 SOPs + 1e4 pooled inputs) x 26 pJ; reads, writes, updates and spikes are inside it.
    assert_close(e.all_in_j, 1.01e6 * 26e-12, "all in");
    assert_close(e.total_j, 1.01e6 * 26e-12, "total");
    assert_eq!(
        (e.memory_j, e.arithmetic_j, e.communication_j),
        (0.0, 0.0, 0.0)
    );
    assert!(e.terms.iter().all(|t| t.section == Section::AllIn));
    assert!(e.term(Count::WeightReads).is_none());
    // A TrueNorth neuron has no synaptic current: its updates are not inside the figure.
    assert_eq!(
        e.unpriced,
        [Count::Macs, Count::AffineOps, Count::CurrentUpdates]
    );
    // Memory traffic alone costs nothing extra.
    let only_memory = OpCounts {
        weight_reads: 1e9,
        state_reads: 1e9,
        state_writes: 1e9,
        ..Default::default()
    };
    assert_eq!(t.energy(&only_memory).total_j, 0.0);
}

#[test]
fn breakdown_is_consistent_for_every_target() {
    for t in Target::builtins().unwrap() {
        let e = t.energy(&every_count());
        let sum: f64 = e.terms.iter().map(|t| t.joules).sum();
        assert_close(e.total_j, sum, &t.name);
        assert_eq!(e.target, t.name);
        for term in &e.terms {
            assert_close(
                term.joules,
                term.events * term.pj_each * 1e-12,
                &format!("{} {}", t.name, term.count),
            );
        }
        assert_eq!(t.energy(&OpCounts::default()).total_j, 0.0);
    }
}

#[test]
fn op_counts_add_and_scale() {
    let a = every_count();
    let sum = a + a;
    assert_eq!(sum.sops, 2e6);
    assert_eq!(sum.scaled(0.5), a);
    for c in Count::ALL {
        assert_eq!(sum.get(c), 2.0 * a.get(c));
    }
    let json = serde_json::to_string(&OpCounts {
        sops: 3.0,
        ..Default::default()
    })
    .unwrap();
    let back: OpCounts = serde_json::from_str(&json).unwrap();
    assert_eq!(back.sops, 3.0);
    let partial: OpCounts = serde_json::from_str(r#"{"macs": 2}"#).unwrap();
    assert_eq!((partial.macs, partial.sops), (2.0, 0.0));
}

// ---- lookup and user files ----

#[test]
fn unknown_name_lists_the_valid_ones() {
    let err = Target::resolve("loihi3").unwrap_err();
    assert!(matches!(err, TargetError::UnknownTarget { .. }));
    let msg = err.to_string();
    for name in builtin_names() {
        assert!(msg.contains(name), "{msg}");
    }
    assert!(msg.contains("loihi3"), "{msg}");
    assert!(Target::builtin("./loihi").is_err());
}

/// A small valid user file; the malformed cases below are edits of it.
const USER: &str = r#"{
  "name": "my-asic",
  "description": "A user's own accelerator.",
  "sources": {
    "lab": { "citation": "Our lab, chip measurement", "year": 2025, "status": "user" }
  },
  "formats": { "weights": "int4", "state": "int16" },
  "arithmetic": {
    "sop": { "pj": 0.5, "op": "4-bit add", "source": "lab", "where": "bench log 3" },
    "mac": { "pj": 2.0, "op": "4-bit MAC", "source": "lab", "where": "bench log 3" }
  },
  "memory": {
    "sram_kib": 64,
    "weight_read": { "pj": 1.0, "op": "one weight", "source": "lab", "where": "bench log 4" }
  }
}
"#;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn user_file_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "my-asic.json", USER);
    let t = Target::resolve(path.to_str().unwrap()).unwrap();
    assert_eq!(t.name, "my-asic");
    assert_eq!(
        t.formats.weights,
        NumberFormat::Int {
            bits: 4,
            signed: true
        }
    );
    let e = t.energy(&OpCounts {
        sops: 1e3,
        macs: 10.0,
        weight_reads: 1e3,
        ..Default::default()
    });
    assert_close(e.arithmetic_j, (500.0 + 20.0) * 1e-12, "arithmetic");
    assert_close(e.memory_j, 1_000e-12, "memory");
    assert_eq!(Target::from_path(&path).unwrap(), t);
}

/// A file written before `current_updates` existed (no `current_update` row) still loads; the
/// count is then unpriced: left out of the total and listed.
#[test]
fn a_file_without_a_current_update_row_loads_and_leaves_the_count_unpriced() {
    let mut t = Target::builtin("cmos45-fp32").unwrap();
    let Pricing::PerOperation { arithmetic, .. } = &mut t.pricing else {
        unreachable!()
    };
    arithmetic.current_update = None;
    let json = t.to_json();
    assert!(!json.contains("current_update"));
    let old = Target::from_json(&json, "old.json").unwrap();
    assert_eq!(
        old.pricing_of(Count::CurrentUpdates),
        CountPricing::Unpriced
    );
    let counts = OpCounts {
        neuron_updates: 10.0,
        current_updates: 10.0,
        ..Default::default()
    };
    let e = old.energy(&counts);
    assert_close(e.total_j, 10.0 * 5.5e-12, "total");
    assert_eq!(e.unpriced, [Count::CurrentUpdates]);
    // Old count files (JSON without the field) load too.
    let back: OpCounts = serde_json::from_str(r#"{"neuron_updates": 1}"#).unwrap();
    assert_eq!(back.current_updates, 0.0);
}

#[test]
fn builtin_written_out_loads_as_a_user_file() {
    let dir = tempfile::tempdir().unwrap();
    let loihi = Target::builtin("loihi").unwrap();
    let path = write(&dir, "loihi", &loihi.to_json());
    // A bare built-in name wins; a path to a file of the same name loads the file.
    assert_eq!(Target::resolve(path.to_str().unwrap()).unwrap(), loihi);
}

// ---- malformed user files ----

/// The error a malformed user file must earn.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A syntax error, at this line when given.
    Syntax(Option<usize>),
    /// A validation error, at this line when given.
    Invalid(Option<usize>),
    /// Any error (the case pins the message only).
    Any,
}

/// `USER` with one edit, and the complaint it earns.
struct EditCase {
    case: &'static str,
    /// Replaced (first occurrence) by `to`.
    from: String,
    to: String,
    expect: Expect,
    /// Fragments the message must contain (it must also start with the file's path).
    says: &'static [&'static str],
}

/// `USER`'s pricing sections (from `"arithmetic"` to the closing brace), to cut or replace.
fn user_pricing() -> (usize, usize) {
    let start = USER.find(r#"  "arithmetic""#).unwrap();
    (start, USER.rfind('}').unwrap())
}

/// An `all_in` section pricing `prices` and covering `covers`.
fn all_in(prices: &str, covers: &str) -> String {
    format!(
        r#"  "all_in": {{ "per_event": {{ "pj": 26, "op": "event", "source": "lab", "where": "x" }}, "prices": {prices}, "covers": {covers} }}
"#
    )
}

fn edit_cases() -> Vec<EditCase> {
    let (start, end) = user_pricing();
    let pricing = USER[start..end].to_string();
    let case = |case, from: &str, to: &str, expect, says| EditCase {
        case,
        from: from.into(),
        to: to.into(),
        expect,
        says,
    };
    vec![
        case(
            "malformed JSON gives line and column",
            r#""where": "bench log 4" }"#,
            r#""where": "bench log 4", }"#,
            Expect::Syntax(Some(14)),
            &["trailing comma"],
        ),
        case(
            "missing field is named",
            r#""pj": 0.5, "#,
            "",
            Expect::Syntax(Some(9)),
            &["missing field `pj`"],
        ),
        case(
            "missing section is named",
            r#""formats": { "weights": "int4", "state": "int16" },"#,
            "",
            Expect::Any,
            &["missing field `formats`"],
        ),
        case(
            "unknown field is named with the known one",
            r#""sop": {"#,
            r#""spo": {"#,
            Expect::Syntax(Some(9)),
            &["unknown field `spo`", "`sop`"],
        ),
        case(
            "negative energy",
            r#""pj": 2.0"#,
            r#""pj": -2.0"#,
            Expect::Syntax(Some(10)),
            &["energy must be", "-2"],
        ),
        case(
            "infinite energy",
            r#""pj": 2.0"#,
            r#""pj": 1e999"#,
            Expect::Syntax(Some(10)),
            &[],
        ),
        case(
            "NaN energy",
            r#""pj": 2.0"#,
            r#""pj": NaN"#,
            Expect::Any,
            &[":10:"],
        ),
        case(
            "wrong type",
            r#""pj": 2.0"#,
            r#""pj": "2.0 pJ""#,
            Expect::Syntax(Some(10)),
            &["invalid type"],
        ),
        case(
            "unknown number format",
            r#""weights": "int4""#,
            r#""weights": "float4""#,
            Expect::Syntax(Some(7)),
            &["unknown number format `float4`"],
        ),
        case(
            "unknown source is named with its line",
            r#""source": "lab", "where": "bench log 4""#,
            r#""source": "lbb", "where": "bench log 4""#,
            Expect::Invalid(Some(14)),
            &["memory.weight_read.source", "`lbb`", "lab"],
        ),
        // Cutting the pricing leaves a trailing comma after formats ...
        case(
            "pricing cut, formats' comma left",
            &pricing,
            "",
            Expect::Any,
            &["trailing comma"],
        ),
        // ... cutting it too reaches validation.
        case(
            "no pricing",
            &USER[start - 2..end],
            "\n",
            Expect::Any,
            &["no pricing"],
        ),
        case(
            "all_in with other sections",
            r#""arithmetic": {"#,
            r#""all_in": { "per_event": { "pj": 26, "op": "event", "source": "lab", "where": "x" }, "prices": ["sops"] },
  "arithmetic": {"#,
            Expect::Invalid(None),
            &["all_in", "prices nothing else"],
        ),
        case(
            "all_in lists a count twice",
            &pricing,
            &all_in(r#"["sops"]"#, r#"["sops"]"#),
            Expect::Any,
            &["`sops` is listed twice"],
        ),
        case(
            "all_in prices nothing",
            &pricing,
            &all_in("[]", "[]"),
            Expect::Any,
            &["all_in.prices"],
        ),
        case(
            "all_in prices an unknown count",
            &pricing,
            &all_in(r#"["synops"]"#, "[]"),
            Expect::Syntax(None),
            &["unknown variant `synops`", "`sops`"],
        ),
        case(
            "backwards range",
            r#""pj": 2.0"#,
            r#""pj": 2.0, "pj_max": 1.0"#,
            Expect::Any,
            &["arithmetic.mac.pj_max", "backwards"],
        ),
        case(
            "zero SRAM",
            r#""sram_kib": 64"#,
            r#""sram_kib": 0"#,
            Expect::Any,
            &["memory.sram_kib"],
        ),
        case("empty file", USER, "", Expect::Syntax(Some(1)), &["EOF"]),
    ]
}

/// What is wrong with the outcome of loading `USER` edited as `case` says, if anything.
fn edit_problems(case: &EditCase) -> Vec<String> {
    if !USER.contains(&case.from) {
        return vec![format!("the edit `{}` is not in USER", case.from)];
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "bad.json", &USER.replacen(&case.from, &case.to, 1));
    let err = match Target::from_path(&path) {
        Ok(_) => return vec!["the malformed file loaded".into()],
        Err(e) => e,
    };
    let msg = err.to_string();
    let mut wrong = Vec::new();
    if !msg.starts_with(&path.display().to_string()) {
        wrong.push(format!("message does not name the file: {msg}"));
    }
    let expected = match (case.expect, &err) {
        (Expect::Any, _) => true,
        (Expect::Syntax(want), TargetError::Syntax { line, .. }) => want.is_none_or(|w| w == *line),
        (Expect::Invalid(want), TargetError::Invalid { line, .. }) => {
            want.is_none_or(|w| Some(w) == *line)
        }
        _ => false,
    };
    if !expected {
        wrong.push(format!("expected {:?}, got {err:?}", case.expect));
    }
    for f in case.says {
        if !msg.contains(f) {
            wrong.push(format!("message {msg:?} should contain {f:?}"));
        }
    }
    wrong
}

#[test]
fn every_malformed_user_file_earns_its_complaint() {
    let cases = edit_cases();
    let failures: Vec<String> = cases
        .iter()
        .flat_map(|c| {
            edit_problems(c)
                .into_iter()
                .map(move |p| format!("{}: {p}", c.case))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn edit_case_names_are_unique() {
    let mut names: Vec<&str> = edit_cases().iter().map(|c| c.case).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "two cases share a name");
}

#[test]
fn an_all_in_user_file_prices_only_what_it_lists() {
    let (start, end) = user_pricing();
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "ok.json",
        &USER.replacen(
            &USER[start..end],
            &all_in(r#"["sops"]"#, r#"["weight_reads"]"#),
            1,
        ),
    );
    let t = Target::from_path(&path).unwrap();
    let e = t.energy(&OpCounts {
        sops: 2.0,
        weight_reads: 5.0,
        neuron_updates: 1.0,
        ..Default::default()
    });
    assert_close(e.all_in_j, 52e-12, "all in");
    assert_eq!(e.unpriced, [Count::NeuronUpdates]);
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let err = Target::resolve("/no/such/dir/target.json").unwrap_err();
    assert!(matches!(err, TargetError::Io { .. }));
    assert!(
        err.to_string()
            .starts_with("/no/such/dir/target.json: cannot read"),
        "{err}"
    );
}

#[test]
fn number_formats_parse_and_print() {
    for s in [
        "fp16", "fp32", "fp64", "bf16", "int1", "int8", "int24", "uint12", "uint64",
    ] {
        let f: NumberFormat = s.parse().unwrap();
        assert_eq!(f.to_string(), s);
    }
    assert_eq!("int9".parse::<NumberFormat>().unwrap().bits(), 9);
    for s in [
        "fp8", "int0", "int65", "int08", "uint", "int-4", "float32", "",
    ] {
        assert!(s.parse::<NumberFormat>().is_err(), "{s} parsed");
    }
}

#[test]
fn readme_example_file_loads() {
    let readme = include_str!("../../README.md");
    let start = readme.find("```json\n").expect("README has a JSON example") + "```json\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let t = Target::from_json(&readme[start..end], "README.md").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.name, "my-asic");
    assert_eq!(t.pj(Count::WeightReads), Some(1.0));
}
