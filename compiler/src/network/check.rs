//! Validation of a network description: names, edges, zero-delay cycles, shapes, attributes.

use super::ReadoutKind;
use super::neuron_values::field_rule;
use super::ops::{NeuronParams, Op, ParamSource};
use super::shape::{Shape, ShapeError, output_shape};
use super::{
    Encoding, FORMAT_VERSION, MAX_DELAY, MAX_ELEMENTS, MAX_SIZE, Network, NetworkDesc, NodeId,
};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Why a network description was rejected. Messages name the node or edge and say what to fix.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NetworkError {
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    /// A validation error of a file's content, with the file named.
    #[error("{file}: {source}")]
    InFile {
        file: String,
        source: Box<NetworkError>,
    },
    #[error("{file}:{line}:{column}: invalid network JSON: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("unsupported format_version {found}: this snnc reads version {expected}")]
    Version { found: u32, expected: u32 },
    #[error("{0}")]
    Invalid(String),
    #[error("node `{node}`: {message}")]
    Node { node: String, message: String },
    #[error("node `{node}`: {op}: {source}")]
    OpShape {
        node: String,
        op: &'static str,
        source: ShapeError,
    },
    #[error("edge {from} -> {to}: {message}")]
    Edge {
        from: String,
        to: String,
        message: String,
    },
    #[error(
        "zero-delay cycle through {}: every cycle needs a total delay of at least 1 (mark the feedback edge with \"delay\": 1)",
        nodes.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" -> ")
    )]
    ZeroDelayCycle { nodes: Vec<String> },
    #[error(
        "node `{node}`: its inputs disagree in shape: `{first}` gives {first_shape} but `{other}` gives {other_shape}"
    )]
    ShapeMismatch {
        node: String,
        first: String,
        first_shape: Shape,
        other: String,
        other_shape: Shape,
    },
}

fn node_err(node: &str, message: impl Into<String>) -> NetworkError {
    NetworkError::Node {
        node: node.to_string(),
        message: message.into(),
    }
}

fn op_shape_err(node: &str, op: &Op, source: ShapeError) -> NetworkError {
    NetworkError::OpShape {
        node: node.to_string(),
        op: op.kind(),
        source,
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

pub(super) fn validate(desc: NetworkDesc) -> Result<Network, NetworkError> {
    check_header(&desc)?;
    let mut index = BTreeMap::new();
    for (i, node) in desc.nodes.iter().enumerate() {
        if !valid_name(&node.name) {
            return Err(node_err(
                &node.name,
                "names may use only letters, digits, `_`, `.` and `-`",
            ));
        }
        if index.insert(node.name.clone(), i).is_some() {
            return Err(node_err(
                &node.name,
                "the name is used by more than one node",
            ));
        }
        check_attributes(&node.name, &node.op)?;
    }
    let inputs_named: Vec<_> = desc
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Input(_)))
        .map(|n| &n.name)
        .collect();
    let input_node = match inputs_named.as_slice() {
        [one] => index[one.as_str()],
        [] => {
            return Err(NetworkError::Invalid(
                "the network has no node with op \"input\"".into(),
            ));
        }
        _ => {
            return Err(NetworkError::Invalid(format!(
                "the network has {} input nodes; exactly one is supported",
                inputs_named.len()
            )));
        }
    };

    let n = desc.nodes.len();
    let mut inputs: Vec<Vec<(NodeId, u32)>> = vec![Vec::new(); n];
    for e in &desc.edges {
        let edge_err = |m: &str| NetworkError::Edge {
            from: e.from.clone(),
            to: e.to.clone(),
            message: m.to_string(),
        };
        let Some(&from) = index.get(&e.from) else {
            return Err(edge_err(&format!("there is no node named `{}`", e.from)));
        };
        let Some(&to) = index.get(&e.to) else {
            return Err(edge_err(&format!("there is no node named `{}`", e.to)));
        };
        if to == input_node {
            return Err(edge_err("the input node cannot receive edges"));
        }
        if e.delay > MAX_DELAY {
            return Err(edge_err(&format!(
                "delay {} exceeds the limit of {MAX_DELAY}",
                e.delay
            )));
        }
        inputs[to].push((from, e.delay));
    }
    for (i, node) in desc.nodes.iter().enumerate() {
        if i != input_node && inputs[i].is_empty() {
            return Err(node_err(&node.name, "has no incoming edge"));
        }
    }

    let schedule = schedule(&desc, &inputs)?;
    let shapes = infer_shapes(&desc, &inputs, input_node)?;
    check_totals(&desc, &shapes, &inputs)?;

    let readout_node = *index.get(&desc.readout.node).ok_or_else(|| {
        NetworkError::Invalid(format!(
            "readout.node `{}` is not a node",
            desc.readout.node
        ))
    })?;
    let rshape = &shapes[readout_node];
    if rshape.dims() != [desc.num_classes] {
        return Err(node_err(
            &desc.readout.node,
            format!(
                "is the readout, so its output must be [{}] (num_classes), but it is {rshape}",
                desc.num_classes
            ),
        ));
    }
    check_integrators(&desc, &inputs, readout_node)?;

    let mut is_static = vec![false; n];
    if desc.input.encoding == Encoding::Direct {
        is_static[input_node] = true;
        for &id in &schedule {
            let node = &desc.nodes[id];
            if id == input_node
                || node.op.is_stateful()
                || node.op.varies_by_step()
                || matches!(node.op, Op::Dropout(_))
            {
                continue;
            }
            is_static[id] = inputs[id].iter().all(|&(src, d)| d == 0 && is_static[src]);
        }
    }

    Ok(Network {
        desc,
        shapes,
        inputs,
        schedule,
        is_static,
        input_node,
        readout_node,
        index,
    })
}

/// The file's version, its sizes and the input's shape.
fn check_header(desc: &NetworkDesc) -> Result<(), NetworkError> {
    if desc.format_version != FORMAT_VERSION {
        return Err(NetworkError::Version {
            found: desc.format_version,
            expected: FORMAT_VERSION,
        });
    }
    if desc.timesteps == 0 {
        return Err(NetworkError::Invalid("timesteps must be at least 1".into()));
    }
    if desc.num_classes == 0 {
        return Err(NetworkError::Invalid(
            "num_classes must be at least 1".into(),
        ));
    }
    if desc.timesteps > MAX_SIZE {
        return Err(NetworkError::Invalid(format!(
            "timesteps {} exceeds the limit of {MAX_SIZE}",
            desc.timesteps
        )));
    }
    let in_dims = &desc.input.shape;
    if !(in_dims.len() == 1 || in_dims.len() == 3) || in_dims.contains(&0) {
        return Err(NetworkError::Invalid(format!(
            "input.shape must be [C, H, W] or [N] with non-zero sizes, got {:?}",
            in_dims
        )));
    }
    if in_dims.iter().any(|&d| d > MAX_SIZE) {
        return Err(NetworkError::Invalid(format!(
            "input.shape {in_dims:?} has a size above the limit of {MAX_SIZE}"
        )));
    }
    Ok(())
}

/// The neuron values over all timesteps and the parameters must each stay within
/// `MAX_ELEMENTS`: sizes multiply, and a file can ask for anything.
fn check_totals(
    desc: &NetworkDesc,
    shapes: &[Shape],
    inputs: &[Vec<(NodeId, u32)>],
) -> Result<(), NetworkError> {
    let mut neurons = 0usize;
    let mut params = 0usize;
    for (id, node) in desc.nodes.iter().enumerate() {
        neurons = neurons.saturating_add(shapes[id].numel());
        let source = match inputs[id].first() {
            Some(&(src, _)) => &shapes[src],
            None => &shapes[id],
        };
        for (_, shape) in node.op.param_shapes(source, desc.timesteps) {
            let n = shape.iter().fold(1usize, |a, &d| a.saturating_mul(d));
            params = params.saturating_add(n);
            if params > MAX_ELEMENTS {
                return Err(node_err(
                    &node.name,
                    format!("its parameters bring the network above {MAX_ELEMENTS} values"),
                ));
            }
        }
    }
    if neurons.saturating_mul(desc.timesteps) > MAX_ELEMENTS {
        return Err(NetworkError::Invalid(format!(
            "the network's {neurons} neuron values over {} timesteps exceed the limit of \
             {MAX_ELEMENTS} per sample",
            desc.timesteps
        )));
    }
    Ok(())
}

fn check_attributes(name: &str, op: &Op) -> Result<(), NetworkError> {
    let bad = |m: String| Err(node_err(name, m));
    let sizes: Vec<(&str, usize)> = match op {
        Op::Conv2d(c) => vec![
            ("in_channels", c.in_channels),
            ("out_channels", c.out_channels),
            ("kernel", c.kernel.0.max(c.kernel.1)),
            ("stride", c.stride.0.max(c.stride.1)),
            ("padding", c.padding.0.max(c.padding.1)),
            ("groups", c.groups),
        ],
        Op::Linear(l) => vec![
            ("in_features", l.in_features),
            ("out_features", l.out_features),
        ],
        Op::AvgPool(p) | Op::MaxPool(p) => vec![
            ("kernel", p.kernel.0.max(p.kernel.1)),
            ("stride", p.stride().0.max(p.stride().1)),
            ("padding", p.padding.0.max(p.padding.1)),
        ],
        Op::Vote(v) => vec![("group", v.group)],
        _ => Vec::new(),
    };
    if let Some((what, v)) = sizes.iter().find(|(_, v)| *v > MAX_SIZE) {
        return bad(format!("{what} {v} exceeds the limit of {MAX_SIZE}"));
    }
    match op {
        Op::Conv2d(c) => {
            if c.in_channels == 0 || c.out_channels == 0 || c.kernel.0 == 0 || c.kernel.1 == 0 {
                return bad("conv2d channels and kernel must be non-zero".into());
            }
            if c.stride.0 == 0 || c.stride.1 == 0 {
                return bad("conv2d stride must be non-zero".into());
            }
        }
        Op::Linear(l) if l.in_features == 0 || l.out_features == 0 => {
            return bad("linear in_features and out_features must be non-zero".into());
        }
        Op::BatchNorm(b) if !(b.eps > 0.0 && (0.0..=1.0).contains(&b.momentum)) => {
            return bad(format!(
                "batch_norm needs eps > 0 and momentum in [0, 1], got eps {} momentum {}",
                b.eps, b.momentum
            ));
        }
        Op::Lif(p) | Op::Plif(p) | Op::If(p) | Op::CubaLif(p) => {
            if let Err(m) = check_neuron(op.kind(), p) {
                return bad(m);
            }
        }
        Op::Li(p) | Op::CubaLi(p) => {
            if let Err(m) = check_neuron(op.kind(), &p.as_neuron()) {
                return bad(m);
            }
        }
        Op::AvgPool(p) | Op::MaxPool(p) => {
            let s = p.stride();
            if p.kernel.0 == 0 || p.kernel.1 == 0 || s.0 == 0 || s.1 == 0 {
                return bad("pool kernel and stride must be non-zero".into());
            }
        }
        Op::Dropout(d) if !(0.0..1.0).contains(&d.p) => {
            return bad(format!("dropout p must be in [0, 1), got {}", d.p));
        }
        Op::Scale(s) if !s.factor.is_finite() => {
            return bad("scale factor must be finite".into());
        }
        Op::Vote(v) if v.group == 0 => return bad("vote group must be at least 1".into()),
        _ => {}
    }
    Ok(())
}

/// Topological order over zero-delay edges, ties broken by file order; names a cycle if any.
fn schedule(
    desc: &NetworkDesc,
    inputs: &[Vec<(NodeId, u32)>],
) -> Result<Vec<NodeId>, NetworkError> {
    let n = desc.nodes.len();
    let mut indegree = vec![0usize; n];
    let mut consumers: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    for (to, ins) in inputs.iter().enumerate() {
        for &(from, d) in ins {
            if d == 0 {
                indegree[to] += 1;
                consumers[from].push(to);
            }
        }
    }
    let mut ready: BTreeSet<NodeId> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(id) = ready.pop_first() {
        order.push(id);
        for &c in &consumers[id] {
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.insert(c);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Walk backwards along zero-delay edges among the unscheduled nodes until a node repeats.
    let mut start = (0..n)
        .find(|&i| indegree[i] > 0)
        .expect("some node is left");
    let mut seen = vec![usize::MAX; n];
    let mut path = Vec::new();
    loop {
        if seen[start] != usize::MAX {
            let mut cycle: Vec<NodeId> = path[seen[start]..].to_vec();
            cycle.reverse();
            let first = cycle
                .iter()
                .enumerate()
                .min_by_key(|(_, id)| **id)
                .map(|(i, _)| i)
                .unwrap_or(0);
            cycle.rotate_left(first);
            let mut nodes: Vec<String> =
                cycle.iter().map(|&i| desc.nodes[i].name.clone()).collect();
            nodes.push(nodes[0].clone());
            return Err(NetworkError::ZeroDelayCycle { nodes });
        }
        seen[start] = path.len();
        path.push(start);
        start = inputs[start]
            .iter()
            .find(|&&(src, d)| d == 0 && indegree[src] > 0)
            .map(|&(src, _)| src)
            .expect("an unscheduled node has an unscheduled zero-delay source");
    }
}

fn infer_shapes(
    desc: &NetworkDesc,
    inputs: &[Vec<(NodeId, u32)>],
    input_node: NodeId,
) -> Result<Vec<Shape>, NetworkError> {
    let n = desc.nodes.len();
    let mut shapes: Vec<Option<Shape>> = vec![None; n];
    shapes[input_node] = Some(Shape(desc.input.shape.clone()));
    // Feedback edges may point backwards, so iterate until no node can be resolved.
    loop {
        let mut progress = false;
        for id in 0..n {
            if shapes[id].is_some() {
                continue;
            }
            let Some(&(src, _)) = inputs[id].iter().find(|(s, _)| shapes[*s].is_some()) else {
                continue;
            };
            let input = shapes[src].clone().expect("checked above");
            let node = &desc.nodes[id];
            let out = output_shape(&node.op, &input)
                .map_err(|e| op_shape_err(&node.name, &node.op, e))?;
            shapes[id] = Some(out);
            progress = true;
        }
        if !progress {
            break;
        }
    }
    let mut out = Vec::with_capacity(n);
    for (id, s) in shapes.into_iter().enumerate() {
        match s {
            Some(s) => out.push(s),
            None => {
                return Err(node_err(
                    &desc.nodes[id].name,
                    "no path from the input reaches it, so its shape is unknown",
                ));
            }
        }
    }
    for (id, ins) in inputs.iter().enumerate() {
        let Some(&(first, _)) = ins.first() else {
            continue;
        };
        for &(other, _) in &ins[1..] {
            if out[other] != out[first] {
                return Err(NetworkError::ShapeMismatch {
                    node: desc.nodes[id].name.clone(),
                    first: desc.nodes[first].name.clone(),
                    first_shape: out[first].clone(),
                    other: desc.nodes[other].name.clone(),
                    other_shape: out[other].clone(),
                });
            }
        }
        // The node's own output must match what its op gives on the agreed input shape.
        let node = &desc.nodes[id];
        let expected = output_shape(&node.op, &out[first])
            .map_err(|e| op_shape_err(&node.name, &node.op, e))?;
        debug_assert_eq!(expected, out[id]);
    }
    Ok(out)
}

/// The leak and firing attributes of a spiking node (`kind` is its op). Fields that name a
/// tensor are checked with the weights (`network::neuron_values`); here their presence and
/// every number.
fn check_neuron(kind: &str, p: &NeuronParams) -> Result<(), String> {
    match (kind, &p.tau, &p.beta) {
        ("if", None, None) => {}
        ("if", _, _) => {
            return Err("`if` has no leak: remove `tau` and `beta` (or use `lif`)".into());
        }
        (_, Some(_), Some(_)) => {
            return Err("give exactly one of `tau` and `beta`, not both".into());
        }
        (_, None, None) => {
            return Err(format!("`{kind}` needs its leak: `tau` or `beta`"));
        }
        _ => {}
    }
    if kind == "plif"
        && let Some((field, _)) = p
            .sources()
            .into_iter()
            .find(|(_, s)| matches!(s, Some(ParamSource::Tensor(_))))
    {
        return Err(format!(
            "`{field}` names a tensor: `plif` learns one leak per layer (its tensor `w`) and              takes numbers only; use `lif` for per-neuron parameters"
        ));
    }
    for (field, source) in p.sources() {
        if let Some(v) = source.and_then(ParamSource::number) {
            field_rule(field, v)?;
        }
    }
    if !p.surrogate_alpha.is_finite() {
        return Err(format!(
            "`surrogate_alpha` must be finite, got {}",
            p.surrogate_alpha
        ));
    }
    if kind == "if" && p.v_leak.is_some() {
        return Err("`if` has no leak, so no `v_leak`: remove it (or use `lif`)".into());
    }
    // The runtimes keep beta in f32: a leak that rounds away there is an `if` in disguise.
    let number = |s: &Option<ParamSource>| s.as_ref().and_then(ParamSource::number);
    if kind != "if" && (number(&p.tau).is_some() || number(&p.beta).is_some()) {
        let (beta, _) = super::ops::beta_gain(number(&p.tau), number(&p.beta), p.decay_input);
        if beta as f32 == 1.0 {
            let field = if p.tau.is_some() { "tau" } else { "beta" };
            return Err(format!(
                "`{field}` leaves a leak factor of {beta} that rounds to 1 in f32: no leak is \
                 left; use op `if` for integrate-and-fire"
            ));
        }
    }
    if let (Some(vr), Some(th)) = (p.v_reset.number(), p.threshold.number())
        && vr >= th
    {
        return Err(format!("`v_reset` {vr} must lie below `threshold` {th}"));
    }
    if let (Some(v_min), Some(th)) = (number(&p.v_min), p.threshold.number())
        && v_min >= th
    {
        return Err(format!(
            "`v_min` must be finite and below `threshold` {th}, got {v_min}"
        ));
    }
    check_synapse(kind, p)
}

/// Where leaky integrators may stand and what reads a membrane: an `li` / `cuba_li` is the
/// readout node and feeds nothing (the back ends integrate it inside the readout), and only it
/// takes a `membrane_*` readout.
fn check_integrators(
    desc: &NetworkDesc,
    inputs: &[Vec<(NodeId, u32)>],
    readout_node: NodeId,
) -> Result<(), NetworkError> {
    let readout = &desc.nodes[readout_node];
    let kind = desc.readout.kind;
    let what = crate::text::readout_name(kind);
    match (readout.op.integrator(), kind) {
        (None, k) if k.reads_membrane() => {
            return Err(node_err(
                &readout.name,
                format!(
                    "is the node of a `{what}` readout, which reads a membrane: the readout \
                     node must be `li` or `cuba_li`, not `{}`",
                    readout.op.kind()
                ),
            ));
        }
        (Some(_), ReadoutKind::SpikeCount) => {
            return Err(node_err(
                &readout.name,
                format!(
                    "is a `{}`, which does not spike: read it with `membrane_last`, \
                     `membrane_mean` or `membrane_max`, not `spike_count`",
                    readout.op.kind()
                ),
            ));
        }
        _ => {}
    }
    for (id, node) in desc.nodes.iter().enumerate() {
        if node.op.integrator().is_none() {
            continue;
        }
        if id != readout_node {
            return Err(node_err(
                &node.name,
                format!(
                    "is a `{}`: leaky integrators are supported as the readout node only",
                    node.op.kind()
                ),
            ));
        }
        if inputs
            .iter()
            .any(|ins| ins.iter().any(|&(src, _)| src == id))
        {
            return Err(node_err(
                &node.name,
                "is a leaky integrator read out as the network's output: it cannot feed other \
                 nodes",
            ));
        }
    }
    Ok(())
}

/// The synaptic current of a `cuba_lif` / `cuba_li`, and its absence everywhere else.
fn check_synapse(kind: &str, p: &NeuronParams) -> Result<(), String> {
    if kind != "cuba_lif" && kind != "cuba_li" {
        if p.alpha.is_some() || p.tau_syn.is_some() || p.w_in.is_some() {
            return Err(format!(
                "`alpha`, `tau_syn` and `w_in` describe a synaptic current, which `{kind}` does \
                 not have: remove them (or use `cuba_lif`)"
            ));
        }
        return Ok(());
    }
    match (&p.alpha, &p.tau_syn) {
        (Some(_), Some(_)) => {
            return Err("give exactly one of `alpha` and `tau_syn`, not both".into());
        }
        (None, None) => {
            return Err(format!(
                "`{kind}` needs its current's decay: `alpha` or `tau_syn`"
            ));
        }
        _ => {}
    }
    let number = |s: &Option<ParamSource>| s.as_ref().and_then(ParamSource::number);
    if let Some(alpha) = super::ops::synapse_alpha(number(&p.alpha), number(&p.tau_syn))
        && alpha as f32 == 1.0
    {
        return Err(format!(
            "`tau_syn` leaves a current decay of {alpha} that rounds to 1 in f32: the current \
             would never decay"
        ));
    }
    Ok(())
}
