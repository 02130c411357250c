//! The two ONNX models of a module: the stateful step model (the host loops over time) and the
//! sequence model (the time loop inside the graph, as a Scan over the steps).

use super::plan::{Plan, StateSpec};
use super::proto::{
    Builder, Dim, Elem, Nodes, attr_f32_tensor, attr_graph, attr_int, batched, i64s, value_info,
};
use super::step::{Emitter, StepInputs};
use super::{Interface, Model, Options, Port, StateInit, StatePort};
use crate::ir::{Encoding, HandleMap, Param, Population, PopulationKind, Reduction};
use onnx_protobuf::{
    GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto, ValueInfoProto,
};

/// IR 8 with opset 17: widely supported, and has every op used here (toolchain-notes.md §4).
pub const IR_VERSION: i64 = 8;
pub const OPSET: i64 = 17;

fn port(name: &str, elem: Elem, shape: Vec<Dim>, doc: String) -> Port {
    Port {
        name: name.to_string(),
        dtype: elem.name().to_string(),
        shape,
        doc,
    }
}

fn info(p: &Port) -> ValueInfoProto {
    let elem = if p.dtype == Elem::I64.name() {
        Elem::I64
    } else {
        Elem::F32
    };
    value_info(&p.name, elem, &p.shape, &p.doc)
}

fn state_port(plan: &Plan, s: &StateSpec) -> StatePort {
    StatePort {
        input: s.name.clone(),
        output: s.next.clone(),
        kind: s.kind,
        population: plan.name(s.population).to_string(),
        shape: batched(&s.dims),
        init: match s.init {
            Param::Uniform(v) => StateInit::Uniform(v as f32),
            Param::PerNeuron(t) => StateInit::PerNeuron {
                dims: s.dims.clone(),
                values: plan.m.tensors[t].data.clone(),
            },
        },
        doc: s.doc.clone(),
    }
}

fn in_dims(plan: &Plan) -> Vec<usize> {
    plan.m.populations[plan.input].shape.dims().to_vec()
}

fn k(plan: &Plan) -> usize {
    plan.m.num_classes
}

/// What the readout's per-step value is, for the documentation of the logits.
fn value_doc(plan: &Plan) -> &'static str {
    match &plan.m.populations[plan.readout].kind {
        PopulationKind::Readout(r) if r.integrator.is_some() => {
            "the readout's leaky-integrator membrane"
        }
        _ => "the readout's I + bias",
    }
}

fn logits_doc(plan: &Plan, when: &str) -> String {
    let y = value_doc(plan);
    match plan.readout_mode.reduction() {
        Reduction::Mean => format!(
            "logits: {y} summed over the steps and divided by {} (timesteps){when}",
            plan.m.timesteps
        ),
        Reduction::Sum => format!("logits: {y} summed over the steps{when}"),
        Reduction::Last => format!("logits: {y} at the latest step{when}"),
        Reduction::Max => format!("logits: the maximum over the steps of {y}{when}"),
    }
}

/// `acc / T` for a mean, the accumulator itself otherwise (a sum, the last value, a maximum).
fn logits(plan: &Plan, b: &mut Builder, g: &mut Nodes, acc: &str) -> String {
    match plan.readout_mode.reduction() {
        Reduction::Mean => {
            let t = b.scalar("timesteps", plan.m.timesteps as f32);
            g.op(b, "Div", &[acc, &t], "logits/mean", vec![], "")
        }
        Reduction::Sum | Reduction::Last | Reduction::Max => acc.to_string(),
    }
}

fn reserve(b: &mut Builder, names: impl IntoIterator<Item = String>) {
    for n in names {
        b.names.reserve(&n);
    }
}

/// Inputs `x_t` and every state; outputs logits, the step's readout, spike counts, chosen spike
/// maps and every state's next value.
pub fn step(plan: &Plan, opts: &Options) -> Model {
    let mut b = Builder::default();
    let frame_doc = match plan.encoding {
        Encoding::Direct => "the input frame (direct encoding: pass the same frame at every step)",
        Encoding::EventFrames => "event frame t of the sample",
    };
    let inputs = vec![port(
        "x_t",
        Elem::F32,
        batched(&in_dims(plan)),
        frame_doc.into(),
    )];
    let states: Vec<StatePort> = plan.states.iter().map(|s| state_port(plan, s)).collect();
    let mut outputs = vec![
        port(
            "logits",
            Elem::F32,
            batched(&[k(plan)]),
            logits_doc(plan, " after this step: the prediction once t = T-1"),
        ),
        port(
            "readout",
            Elem::F32,
            batched(&[k(plan)]),
            format!("this step's readout value: {}", value_doc(plan)),
        ),
    ];
    for l in plan.layer_names() {
        outputs.push(port(
            &format!("spike_count.{l}"),
            Elem::I64,
            batched(&[]),
            format!("spikes of `{l}` at this step, per sample"),
        ));
    }
    for &h in &plan.spike_maps {
        let dims = plan.m.populations[h].shape.dims().to_vec();
        outputs.push(port(
            &format!("spikes.{}", plan.name(h)),
            Elem::F32,
            batched(&dims),
            format!("spikes (0/1) of `{}` at this step", plan.name(h)),
        ));
    }
    reserve(
        &mut b,
        inputs.iter().chain(&outputs).map(|p| p.name.clone()),
    );
    reserve(
        &mut b,
        states
            .iter()
            .flat_map(|s| [s.input.clone(), s.output.clone()]),
    );
    plan.declare_per_neuron(&mut b);

    let mut g = Nodes::default();
    let io = StepInputs {
        x: "x_t".into(),
        states: plan.states.iter().map(|s| s.name.clone()).collect(),
        known: HandleMap::new(),
        batch_of: "x_t".into(),
        batch: None,
    };
    let v = Emitter::new(plan, io).step(&mut b, &mut g);
    let lg = logits(plan, &mut b, &mut g, &v.acc);
    g.publish(&lg, "logits", "");
    g.publish(&v.readout, "readout", "");
    for (l, c) in plan.layer_names().iter().zip(&v.counts) {
        g.publish(c, &format!("spike_count.{l}"), "");
    }
    for (&h, s) in plan.spike_maps.iter().zip(&v.spikes) {
        g.publish(s, &format!("spikes.{}", plan.name(h)), "");
    }
    for (s, next) in plan.states.iter().zip(&v.next) {
        g.publish(next, &s.next, "");
    }

    let mut graph_inputs: Vec<ValueInfoProto> = inputs.iter().map(info).collect();
    let mut graph_outputs: Vec<ValueInfoProto> = outputs.iter().map(info).collect();
    for s in &states {
        graph_inputs.push(value_info(&s.input, Elem::F32, &s.shape, &s.doc));
        graph_outputs.push(value_info(
            &s.output,
            Elem::F32,
            &s.shape,
            &format!("next value of {}", s.input),
        ));
    }
    let graph = GraphProto {
        name: plan.m.name.clone(),
        node: g.nodes,
        initializer: b.initializers,
        input: graph_inputs,
        output: graph_outputs,
        doc_string: format!(
            "One timestep of `{}`. Start every state at its init value (snnc.interface metadata), feed x_t, and pass each *.next output back as the state of the next step; logits after step T-1 = {}.",
            plan.m.name, plan.m.timesteps
        ),
        ..Default::default()
    };
    let interface = Interface {
        model: "step".into(),
        inputs,
        outputs,
        states,
    };
    finish(plan, opts, graph, interface)
}

/// Input `x` (`[N, ...]` for direct encoding, `[T, N, ...]` for event frames); outputs logits and
/// per-step spike counts per layer (`[T, N]`), plus the chosen layers' spike maps `[T, N, ...]`.
pub fn sequence(plan: &Plan, opts: &Options) -> Model {
    let mut b = Builder::default();
    let t_max = plan.m.timesteps;
    let events = plan.encoding == Encoding::EventFrames;
    let (inputs, outputs) = sequence_ports(plan, events);
    reserve(
        &mut b,
        inputs.iter().chain(&outputs).map(|p| p.name.clone()),
    );
    let body_io = BodyNames::new(plan, events);
    reserve(
        &mut b,
        plan.states
            .iter()
            .flat_map(|s| [s.name.clone(), s.next.clone()]),
    );
    reserve(
        &mut b,
        body_io
            .counts
            .iter()
            .chain(&body_io.spikes)
            .cloned()
            .chain([body_io.slice.to_string()]),
    );
    plan.declare_per_neuron(&mut b);

    let mut g = Nodes::default();
    let batch_axis = if events { 1 } else { 0 };
    let batch = g.op(
        &mut b,
        "Shape",
        &["x"],
        "batch",
        vec![
            attr_int("start", batch_axis),
            attr_int("end", batch_axis + 1),
        ],
        "the batch size N",
    );

    // Direct input: the frame and the `const` stem it feeds are the same at every step, so they
    // are computed here, once, and the loop body reads them as outer-scope values.
    let known = if events {
        HandleMap::filled(plan.m.populations.len(), None)
    } else {
        let io = StepInputs {
            x: "x".into(),
            states: Vec::new(),
            known: HandleMap::new(),
            batch_of: "x".into(),
            batch: Some(batch.clone()),
        };
        Emitter::new(plan, io).hoist(&mut b, &mut g)
    };
    let inits = initial_states(plan, &mut b, &mut g, &batch);
    let body_graph = scan_body(plan, &mut b, &body_io, known, &batch);
    let finals = time_loop(plan, &mut b, &mut g, inits, body_graph, events);
    let lg = logits(plan, &mut b, &mut g, &finals[plan.acc_state]);
    g.publish(&lg, "logits", "");

    let graph = GraphProto {
        name: plan.m.name.clone(),
        node: g.nodes,
        initializer: b.initializers,
        input: inputs.iter().map(info).collect(),
        output: outputs.iter().map(info).collect(),
        doc_string: format!(
            "All {t_max} timesteps of `{}` in one graph (Scan over time); states start at their init values inside.",
            plan.m.name
        ),
        ..Default::default()
    };
    let interface = Interface {
        model: "sequence".into(),
        inputs,
        outputs,
        states: Vec::new(),
    };
    finish(plan, opts, graph, interface)
}

/// The sequence model's graph inputs (`x`) and outputs (logits, then per-step spike counts and
/// the chosen spike maps, time first).
fn sequence_ports(plan: &Plan, events: bool) -> (Vec<Port>, Vec<Port>) {
    let t_max = plan.m.timesteps;
    let (x_shape, x_doc) = if events {
        let mut s = vec![Dim::Fixed(t_max)];
        s.extend(batched(&in_dims(plan)));
        (s, format!("the sample's {t_max} event frames, time first"))
    } else {
        (
            batched(&in_dims(plan)),
            format!("the input frame, presented at each of the {t_max} steps (direct encoding)"),
        )
    };
    let inputs = vec![Port {
        name: "x".into(),
        dtype: Elem::F32.name().into(),
        shape: x_shape,
        doc: x_doc,
    }];
    let time_batched = |dims: &[usize]| -> Vec<Dim> {
        let mut s = vec![Dim::Fixed(t_max)];
        s.extend(batched(dims));
        s
    };
    let mut outputs = vec![port(
        "logits",
        Elem::F32,
        batched(&[k(plan)]),
        logits_doc(plan, ""),
    )];
    for l in plan.layer_names() {
        outputs.push(port(
            &format!("spike_count.{l}"),
            Elem::I64,
            time_batched(&[]),
            format!("spikes of `{l}` per step and sample"),
        ));
    }
    for &h in &plan.spike_maps {
        let dims = plan.m.populations[h].shape.dims().to_vec();
        outputs.push(port(
            &format!("spikes.{}", plan.name(h)),
            Elem::F32,
            time_batched(&dims),
            format!("spikes (0/1) of `{}` per step", plan.name(h)),
        ));
    }
    (inputs, outputs)
}

/// The Scan body's own interface names, distinct from every outer one (single static
/// assignment): per-step spike counts, spike maps, and the step's slice of the scanned input.
struct BodyNames {
    counts: Vec<String>,
    spikes: Vec<String>,
    /// `x_t` (an event frame) or `t` (the step index, for one direct frame).
    slice: &'static str,
    events: bool,
}

impl BodyNames {
    fn new(plan: &Plan, events: bool) -> BodyNames {
        BodyNames {
            counts: plan
                .layer_names()
                .iter()
                .map(|l| format!("spike_count_t.{l}"))
                .collect(),
            spikes: plan
                .spike_maps
                .iter()
                .map(|&h| format!("spikes_t.{}", plan.name(h)))
                .collect(),
            slice: if events { "x_t" } else { "t" },
            events,
        }
    }
}

/// Every state's initial value, `[N, ...]` built from the batch size: filled with its one init
/// value, or a per-neuron start (`v_reset`, `rest`) expanded over the batch.
fn initial_states(plan: &Plan, b: &mut Builder, g: &mut Nodes, batch: &str) -> Vec<String> {
    let mut inits = Vec::new();
    for s in &plan.states {
        let dims = b.ints(&format!("dims.{}", s.name), &i64s(&s.dims));
        let shape = g.op(
            b,
            "Concat",
            &[batch, &dims],
            &format!("shape.{}", s.name),
            vec![attr_int("axis", 0)],
            "",
        );
        let doc = format!("initial {}", s.doc);
        let out = format!("init.{}", s.name);
        inits.push(match s.init {
            Param::Uniform(v) => g.op(
                b,
                "ConstantOfShape",
                &[&shape],
                &out,
                vec![attr_f32_tensor("value", v as f32)],
                &doc,
            ),
            Param::PerNeuron(t) => {
                let start = plan.per_neuron_value(b, t);
                g.op(b, "Expand", &[&start, &shape], &out, vec![], &doc)
            }
        });
    }
    inits
}

/// The loop body: one step, from the states and the step's slice to the next states and the
/// step's outputs. `known` holds the values hoisted out of the loop.
fn scan_body(
    plan: &Plan,
    b: &mut Builder,
    names: &BodyNames,
    known: HandleMap<Population, Option<String>>,
    batch: &str,
) -> GraphProto {
    let events = names.events;
    let mut body = Nodes::default();
    let io = StepInputs {
        x: if events { "x_t".into() } else { "x".into() },
        states: plan.states.iter().map(|s| s.name.clone()).collect(),
        known,
        batch_of: if events { "x_t".into() } else { "x".into() },
        batch: Some(batch.to_string()),
    };
    let v = Emitter::new(plan, io).step(b, &mut body);
    for (s, next) in plan.states.iter().zip(&v.next) {
        body.publish(next, &s.next, "");
    }
    for (name, c) in names.counts.iter().zip(&v.counts) {
        body.publish(c, name, "");
    }
    for (name, s) in names.spikes.iter().zip(&v.spikes) {
        body.publish(s, name, "");
    }
    let mut body_inputs: Vec<ValueInfoProto> = plan
        .states
        .iter()
        .map(|s| value_info(&s.name, Elem::F32, &batched(&s.dims), &s.doc))
        .collect();
    body_inputs.push(if events {
        value_info("x_t", Elem::F32, &batched(&in_dims(plan)), "event frame t")
    } else {
        value_info(
            "t",
            Elem::I64,
            &[],
            "the step index (the frame itself is the outer `x`)",
        )
    });
    let mut body_outputs: Vec<ValueInfoProto> = plan
        .states
        .iter()
        .map(|s| value_info(&s.next, Elem::F32, &batched(&s.dims), ""))
        .collect();
    for name in &names.counts {
        body_outputs.push(value_info(name, Elem::I64, &batched(&[]), ""));
    }
    for (name, &h) in names.spikes.iter().zip(&plan.spike_maps) {
        body_outputs.push(value_info(
            name,
            Elem::F32,
            &batched(plan.m.populations[h].shape.dims()),
            "",
        ));
    }
    GraphProto {
        name: format!("{}.step", plan.m.name),
        node: body.nodes,
        input: body_inputs,
        output: body_outputs,
        doc_string:
            "one timestep: states and the step's slice in, next states and per-step outputs out"
                .into(),
        ..Default::default()
    }
}

/// The Scan over the steps: states start at `inits`, the body runs once per event frame (or
/// per step index, for one direct frame); returns the final states' names.
fn time_loop(
    plan: &Plan,
    b: &mut Builder,
    g: &mut Nodes,
    inits: Vec<String>,
    body: GraphProto,
    events: bool,
) -> Vec<String> {
    let t_max = plan.m.timesteps;
    let scan_input = if events {
        "x".to_string()
    } else {
        b.int_range(
            "steps",
            t_max,
            "0..T-1: what the Scan iterates over when the input is one frame",
        )
    };
    let finals: Vec<String> = plan
        .states
        .iter()
        .map(|s| b.names.fresh(&format!("final.{}", s.name)))
        .collect();
    let mut scan_in = inits;
    scan_in.push(scan_input);
    let mut scan_out = finals.clone();
    scan_out.extend(
        plan.layer_names()
            .iter()
            .map(|l| format!("spike_count.{l}")),
    );
    scan_out.extend(
        plan.spike_maps
            .iter()
            .map(|&h| format!("spikes.{}", plan.name(h))),
    );
    g.op_multi(
        "time_loop",
        "Scan",
        &scan_in,
        &scan_out,
        vec![attr_graph("body", body), attr_int("num_scan_inputs", 1)],
        &format!("the {t_max} timesteps of `{}`", plan.m.name),
    );
    finals
}

fn finish(plan: &Plan, opts: &Options, graph: GraphProto, interface: Interface) -> Model {
    let m = plan.m;
    let mut meta = vec![
        ("snnc.version", env!("CARGO_PKG_VERSION").to_string()),
        ("snnc.model", interface.model.clone()),
        ("snnc.module", m.name.clone()),
        ("snnc.timesteps", m.timesteps.to_string()),
        ("snnc.classes", m.num_classes.to_string()),
        (
            "snnc.encoding",
            crate::text::encoding_name(plan.encoding).to_string(),
        ),
        (
            "snnc.readout",
            crate::text::readout_name(plan.readout_mode).to_string(),
        ),
        ("snnc.module_hash", super::module_hash(m)),
        (
            "snnc.layers",
            serde_json::to_string(&plan.layer_names()).unwrap_or_default(),
        ),
        (
            "snnc.interface",
            serde_json::to_string(&interface).unwrap_or_default(),
        ),
    ];
    if let Some(h) = &opts.source_hash {
        meta.push(("snnc.source_hash", h.clone()));
    }
    let proto = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
            ..Default::default()
        }],
        producer_name: "snnc".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: "snnc".into(),
        model_version: 1,
        doc_string: format!(
            "snnc {} model of `{}`: {} timesteps, {} classes, {} input, {} readout",
            interface.model,
            m.name,
            m.timesteps,
            m.num_classes,
            crate::text::encoding_name(plan.encoding),
            crate::text::readout_name(plan.readout_mode)
        ),
        graph: Some(graph).into(),
        metadata_props: meta
            .into_iter()
            .map(|(k, v)| StringStringEntryProto {
                key: k.into(),
                value: v,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    Model { proto, interface }
}
