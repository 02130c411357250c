//! The IR validator: checks every invariant the passes, interpreter and back ends rely on.
//!
//! Run it at the boundary (after lowering or parsing) and, in tests, after every pass. Once a
//! module validates, indexing by its handles cannot fail. Errors name handles the way the text
//! form prints them (`p7`, `e12`, `t3`), so a message points at a line a person can find.

use crate::ir::shape::{bias_shape, target_shape};
use crate::ir::{
    Handle, Module, Population, PopulationKind, Projection, ProjectionKind, Shape, Tensor,
};
use std::collections::BTreeSet;
use thiserror::Error;

/// Largest projection delay accepted (the network format's limit).
pub const MAX_DELAY: u32 = crate::network::MAX_DELAY;
use crate::network::{MAX_ELEMENTS, MAX_SIZE};

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ValidationError {
    #[error("{projection}: {end} {population} does not exist (the module has {count} populations)")]
    DanglingPopulation {
        projection: Handle<Projection>,
        end: &'static str,
        population: Handle<Population>,
        count: usize,
    },
    #[error("{owner}: tensor {tensor} does not exist (the module has {count} tensors)")]
    DanglingTensor {
        owner: String,
        tensor: Handle<Tensor>,
        count: usize,
    },
    #[error("the module needs exactly one {kind} population, found {}", if found.is_empty() { "none".to_string() } else { found.iter().map(|h| h.to_string()).collect::<Vec<_>>().join(", ") })]
    Count {
        kind: &'static str,
        found: Vec<Handle<Population>>,
    },
    #[error("{projection}: {message}")]
    Endpoint {
        projection: Handle<Projection>,
        message: String,
    },
    #[error("zero-delay cycle {}: every cycle needs a total delay of at least 1", format_cycle(.0))]
    ZeroDelayCycle(Vec<(Handle<Population>, String)>),
    #[error(
        "{projection} ({kind} {from} -> {to}): the source {from} is {from_shape}, so the target must be {expected}, but {to} is {to_shape}"
    )]
    ShapeMismatch {
        projection: Handle<Projection>,
        kind: &'static str,
        from: Handle<Population>,
        from_shape: Shape,
        to: Handle<Population>,
        to_shape: Shape,
        expected: String,
    },
    #[error("{owner}: {message}")]
    Shape { owner: String, message: String },
    #[error("{tensor} (`{label}`): holds a non-finite value ({value}) at flat index {index}")]
    NonFinite {
        tensor: Handle<Tensor>,
        label: String,
        index: usize,
        value: f32,
    },
    #[error(
        "{tensor} (`{label}`): shape {shape:?} has {expected} elements but the data has {found}"
    )]
    TensorSize {
        tensor: Handle<Tensor>,
        label: String,
        shape: Vec<usize>,
        expected: usize,
        found: usize,
    },
    #[error("{projection}: delay {delay} exceeds the limit of {limit}")]
    DelayTooLarge {
        projection: Handle<Projection>,
        delay: u32,
        limit: u32,
    },
    #[error("{owner}: unsupported: {message}")]
    Unsupported { owner: String, message: String },
    #[error("{owner}: {message}")]
    Parameter { owner: String, message: String },
    #[error("the module's {what} is {found}: {message}")]
    Header {
        what: &'static str,
        found: usize,
        message: &'static str,
    },
}

fn format_cycle(c: &[(Handle<Population>, String)]) -> String {
    c.iter()
        .map(|(h, n)| format!("{h} `{n}`"))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// What validation establishes and later stages reuse.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// Evaluation order within one step: respects every zero-delay projection; ties by handle.
    pub schedule: Vec<Handle<Population>>,
    pub input: Handle<Population>,
    pub readout: Handle<Population>,
}

/// Check `m`; on success return its schedule and its input and readout populations.
pub fn validate(m: &Module) -> Result<Validated, ValidationError> {
    if m.timesteps == 0 {
        return Err(ValidationError::Header {
            what: "timesteps",
            found: 0,
            message: "must be at least 1",
        });
    }
    const _: () = assert!(MAX_SIZE == 16_777_216, "the message below names the limit");
    if m.timesteps > MAX_SIZE {
        return Err(ValidationError::Header {
            what: "timesteps",
            found: m.timesteps,
            message: "exceeds the limit of 16777216",
        });
    }
    if m.num_classes == 0 {
        return Err(ValidationError::Header {
            what: "classes",
            found: 0,
            message: "must be at least 1",
        });
    }
    check_handles(m)?;
    check_tensors(m)?;
    let input = exactly_one(m, "input", |k| matches!(k, PopulationKind::Input(_)))?;
    let readout = exactly_one(m, "readout", |k| matches!(k, PopulationKind::Readout(_)))?;
    check_populations(m)?;
    let neurons = m
        .populations
        .iter()
        .fold(0usize, |acc, (_, p)| acc.saturating_add(p.shape.numel()));
    if neurons.saturating_mul(m.timesteps) > MAX_ELEMENTS {
        return Err(ValidationError::Shape {
            owner: "the module".into(),
            message: format!(
                "{neurons} neuron values over {} timesteps exceed the limit of {MAX_ELEMENTS} \
                 per sample",
                m.timesteps
            ),
        });
    }
    let readout_shape = &m.populations[readout].shape;
    if readout_shape.dims() != [m.num_classes] {
        return Err(ValidationError::Shape {
            owner: readout.to_string(),
            message: format!(
                "the readout must be [{}] (classes), but it is {readout_shape}",
                m.num_classes
            ),
        });
    }
    check_projections(m)?;
    let schedule = schedule(m)?;
    check_constants(m)?;
    Ok(Validated {
        schedule,
        input,
        readout,
    })
}

fn check_handles(m: &Module) -> Result<(), ValidationError> {
    let pops = m.populations.len();
    for (h, p) in m.projections.iter() {
        for (end, pop) in [("source", p.source), ("target", p.target)] {
            if !m.populations.contains(pop) {
                return Err(ValidationError::DanglingPopulation {
                    projection: h,
                    end,
                    population: pop,
                    count: pops,
                });
            }
        }
        if let Some(t) = p.kind.tensor()
            && !m.tensors.contains(t)
        {
            return Err(ValidationError::DanglingTensor {
                owner: h.to_string(),
                tensor: t,
                count: m.tensors.len(),
            });
        }
    }
    for (h, p) in m.populations.iter() {
        if let Some(t) = p.kind.bias()
            && !m.tensors.contains(t)
        {
            return Err(ValidationError::DanglingTensor {
                owner: h.to_string(),
                tensor: t,
                count: m.tensors.len(),
            });
        }
    }
    Ok(())
}

fn check_tensors(m: &Module) -> Result<(), ValidationError> {
    for (h, t) in m.tensors.iter() {
        let expected = t.numel();
        if expected != t.data.len() {
            return Err(ValidationError::TensorSize {
                tensor: h,
                label: t.label.clone(),
                shape: t.shape.clone(),
                expected,
                found: t.data.len(),
            });
        }
        if let Some((index, &value)) = t.data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(ValidationError::NonFinite {
                tensor: h,
                label: t.label.clone(),
                index,
                value,
            });
        }
    }
    Ok(())
}

fn exactly_one(
    m: &Module,
    kind: &'static str,
    is: impl Fn(&PopulationKind) -> bool,
) -> Result<Handle<Population>, ValidationError> {
    let found: Vec<_> = m
        .populations
        .iter()
        .filter(|(_, p)| is(&p.kind))
        .map(|(h, _)| h)
        .collect();
    match found[..] {
        [one] => Ok(one),
        _ => Err(ValidationError::Count { kind, found }),
    }
}

fn check_populations(m: &Module) -> Result<(), ValidationError> {
    for (h, p) in m.populations.iter() {
        let dims = p.shape.dims();
        if !(dims.len() == 1 || dims.len() == 3) || dims.contains(&0) {
            return Err(ValidationError::Shape {
                owner: h.to_string(),
                message: format!(
                    "a population is [C, H, W] or [N] with non-zero sizes, got {}",
                    p.shape
                ),
            });
        }
        if let Some(b) = p.kind.bias() {
            let want = bias_shape(&p.shape);
            let per_step = [m.timesteps, want[0]];
            let got = &m.tensors[b].shape;
            if *got != want && *got != per_step {
                return Err(ValidationError::Shape {
                    owner: h.to_string(),
                    message: format!(
                        "bias {b} has shape {got:?}, but a {} population needs {want:?} (or \
                         {per_step:?}, one row per step)",
                        p.shape
                    ),
                });
            }
        }
        if let PopulationKind::Spiking(s) = &p.kind {
            let params = [
                ("beta", s.beta),
                ("gain", s.gain),
                ("threshold", s.threshold),
                ("v_reset", s.v_reset),
            ];
            if let Some((name, v)) = params.iter().find(|(_, v)| !v.is_finite()) {
                return Err(ValidationError::Parameter {
                    owner: h.to_string(),
                    message: format!("{name} must be finite, got {v}"),
                });
            }
            if !(0.0..=1.0).contains(&s.beta) {
                return Err(ValidationError::Parameter {
                    owner: h.to_string(),
                    message: format!(
                        "beta must lie in [0, 1] (a leak, not a gain), got {}",
                        s.beta
                    ),
                });
            }
        }
    }
    Ok(())
}

fn check_projections(m: &Module) -> Result<(), ValidationError> {
    for (h, p) in m.projections.iter() {
        let source = &m.populations[p.source];
        let target = &m.populations[p.target];
        if matches!(target.kind, PopulationKind::Input(_)) {
            return Err(ValidationError::Endpoint {
                projection: h,
                message: format!(
                    "the input population {} cannot receive projections",
                    p.target
                ),
            });
        }
        if matches!(source.kind, PopulationKind::Readout(_)) {
            return Err(ValidationError::Endpoint {
                projection: h,
                message: format!(
                    "the readout population {} cannot feed projections",
                    p.source
                ),
            });
        }
        if p.delay > MAX_DELAY {
            return Err(ValidationError::DelayTooLarge {
                projection: h,
                delay: p.delay,
                limit: MAX_DELAY,
            });
        }
        check_kind(h, &p.kind)?;
        if matches!(p.kind, ProjectionKind::Conv2d(_)) && source.shape.rank() != 3 {
            return Err(ValidationError::Unsupported {
                owner: h.to_string(),
                message: format!(
                    "conv2d over the flat population {} ({}); only [C, H, W] sources convolve",
                    p.source, source.shape
                ),
            });
        }
        let expected =
            target_shape(&p.kind, &source.shape, &m.tensors, m.timesteps).map_err(|message| {
                ValidationError::Shape {
                    owner: h.to_string(),
                    message,
                }
            })?;
        if !expected.accepts(&target.shape) {
            return Err(ValidationError::ShapeMismatch {
                projection: h,
                kind: p.kind.name(),
                from: p.source,
                from_shape: source.shape.clone(),
                to: p.target,
                to_shape: target.shape.clone(),
                expected: expected.to_string(),
            });
        }
    }
    Ok(())
}

fn check_kind(h: Handle<Projection>, kind: &ProjectionKind) -> Result<(), ValidationError> {
    let bad = |message: String| {
        Err(ValidationError::Parameter {
            owner: h.to_string(),
            message,
        })
    };
    let sizes: &[usize] = match kind {
        ProjectionKind::Conv2d(c) => &[
            c.stride[0],
            c.stride[1],
            c.padding[0],
            c.padding[1],
            c.groups,
        ],
        ProjectionKind::SumPool(p) => &[
            p.kernel[0],
            p.kernel[1],
            p.stride[0],
            p.stride[1],
            p.padding[0],
            p.padding[1],
        ],
        _ => &[],
    };
    if let Some(v) = sizes.iter().find(|&&v| v > MAX_SIZE) {
        return bad(format!(
            "a kernel, stride, padding or group count of {v} exceeds the limit of {MAX_SIZE}"
        ));
    }
    match kind {
        ProjectionKind::Conv2d(c) if c.stride.contains(&0) || c.groups == 0 => {
            bad("conv2d stride and groups must be non-zero".into())
        }
        ProjectionKind::SumPool(p) if p.kernel.contains(&0) || p.stride.contains(&0) => {
            bad("sum_pool kernel and stride must be non-zero".into())
        }
        ProjectionKind::SumPool(p) if !p.scale.is_finite() => {
            bad(format!("sum_pool scale must be finite, got {}", p.scale))
        }
        ProjectionKind::Scale(s) if !s.factor.is_finite() => {
            bad(format!("scale factor must be finite, got {}", s.factor))
        }
        ProjectionKind::Dropout(d) if !(0.0..1.0).contains(&d.p) => {
            bad(format!("dropout p must be in [0, 1), got {}", d.p))
        }
        _ => Ok(()),
    }
}

/// Topological order over zero-delay projections (ties by handle); names the cycle if there is one.
pub fn schedule(m: &Module) -> Result<Vec<Handle<Population>>, ValidationError> {
    let n = m.populations.len();
    let mut indegree = vec![0usize; n];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut sources: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (_, p) in m.projections.iter() {
        if p.delay == 0 {
            indegree[p.target.index()] += 1;
            consumers[p.source.index()].push(p.target.index());
            sources[p.target.index()].push(p.source.index());
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(Handle::new(i));
        for &c in &consumers[i] {
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.insert(c);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every unscheduled node has an unscheduled zero-delay source: walk back until one repeats.
    let Some(mut at) = (0..n).find(|&i| indegree[i] > 0) else {
        return Ok(order);
    };
    let mut seen = vec![usize::MAX; n];
    let mut path = Vec::new();
    while seen[at] == usize::MAX {
        seen[at] = path.len();
        path.push(at);
        match sources[at].iter().find(|&&s| indegree[s] > 0) {
            Some(&s) => at = s,
            None => break,
        }
    }
    let mut cycle: Vec<usize> = path[seen[at].min(path.len() - 1)..].to_vec();
    cycle.reverse();
    let first = cycle
        .iter()
        .enumerate()
        .min_by_key(|(_, i)| **i)
        .map(|(k, _)| k)
        .unwrap_or(0);
    cycle.rotate_left(first);
    cycle.push(cycle[0]);
    let named = cycle.into_iter().map(|i| {
        let h = Handle::new(i);
        (h, m.populations[h].name.clone())
    });
    Err(ValidationError::ZeroDelayCycle(named.collect()))
}

/// A population marked constant must be analog, without a per-step bias, and fed only by
/// constants over zero delay through maps that do not change with the step.
fn check_constants(m: &Module) -> Result<(), ValidationError> {
    for (h, p) in m.populations.iter() {
        if let PopulationKind::Analog(a) = &p.kind
            && a.constant
            && m.has_per_step_bias(h)
        {
            return Err(ValidationError::Parameter {
                owner: h.to_string(),
                message: "is marked const, but its bias has one row per step".into(),
            });
        }
    }
    for (_, p) in m.projections.iter() {
        let PopulationKind::Analog(a) = &m.populations[p.target].kind else {
            continue;
        };
        if !a.constant {
            continue;
        }
        if p.delay != 0 || !is_constant(&m.populations[p.source]) {
            return Err(ValidationError::Parameter {
                owner: p.target.to_string(),
                message: format!(
                    "is marked const, but it receives {} with delay {}, which changes over time",
                    p.source, p.delay
                ),
            });
        }
        if m.is_per_step_projection(&p.kind) {
            return Err(ValidationError::Parameter {
                owner: p.target.to_string(),
                message: format!(
                    "is marked const, but it receives {} through an affine with one row per step",
                    p.source
                ),
            });
        }
    }
    Ok(())
}

/// Whether a population's output is the same at every step, as far as its own kind says.
pub fn is_constant(p: &Population) -> bool {
    match &p.kind {
        PopulationKind::Input(i) => i.encoding == crate::ir::Encoding::Direct,
        PopulationKind::Analog(a) => a.constant,
        PopulationKind::Spiking(_) | PopulationKind::Readout(_) => false,
    }
}
