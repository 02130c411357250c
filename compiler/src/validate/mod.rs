//! The IR validator: checks every invariant the passes, interpreter and back ends rely on.
//!
//! Run it at the boundary (after lowering or parsing) and, in tests, after every pass. Once a
//! module validates, indexing by its handles cannot fail. It reports every problem it finds, each
//! with the entity it is about ([`Location`]); messages name handles the way the text form prints
//! them (`p7`, `e12`, `t3`), so a message points at a line a person can find.

mod error;

pub use error::{Location, ValidationError, ValidationErrors};

use crate::ir::shape::{bias_shape, target_shape};
use crate::ir::{
    Handle, HandleMap, Module, Param, Population, PopulationKind, Projection, ProjectionKind,
};
use crate::network::{MAX_ELEMENTS, MAX_SIZE};
use std::collections::BTreeSet;

/// Largest projection delay accepted (the network format's limit).
pub const MAX_DELAY: u32 = crate::network::MAX_DELAY;

/// What validation establishes and later stages reuse.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// Evaluation order within one step: respects every zero-delay projection; ties by handle.
    pub schedule: Vec<Handle<Population>>,
    pub input: Handle<Population>,
    pub readout: Handle<Population>,
}

/// Check `m`; on success return its schedule and its input and readout populations, otherwise
/// every problem found. Dangling handles and a broken header stop the checks early: everything
/// after them indexes by handle or sizes by the header.
pub fn validate(m: &Module) -> Result<Validated, ValidationErrors> {
    let mut errors = Vec::new();
    check_header(m, &mut errors);
    check_handles(m, &mut errors);
    if !errors.is_empty() {
        return Err(ValidationErrors(errors));
    }
    check_tensors(m, &mut errors);
    let input = exactly_one(m, "input", |k| matches!(k, PopulationKind::Input(_)))
        .map_err(|e| errors.push(e))
        .ok();
    let readout = exactly_one(m, "readout", |k| matches!(k, PopulationKind::Readout(_)))
        .map_err(|e| errors.push(e))
        .ok();
    check_populations(m, &mut errors);
    check_size(m, &mut errors);
    if let Some(r) = readout {
        check_readout(m, r, &mut errors);
    }
    check_projections(m, &mut errors);
    let schedule = schedule(m).map_err(|e| errors.push(e)).ok();
    check_constants(m, &mut errors);
    match (schedule, input, readout) {
        (Some(schedule), Some(input), Some(readout)) if errors.is_empty() => Ok(Validated {
            schedule,
            input,
            readout,
        }),
        _ => Err(ValidationErrors(errors)),
    }
}

fn check_header(m: &Module, errors: &mut Vec<ValidationError>) {
    const _: () = assert!(MAX_SIZE == 16_777_216, "the message below names the limit");
    let header = |what, found, message| ValidationError::Header {
        what,
        found,
        message,
    };
    if m.timesteps == 0 {
        errors.push(header("timesteps", 0, "must be at least 1"));
    } else if m.timesteps > MAX_SIZE {
        errors.push(header(
            "timesteps",
            m.timesteps,
            "exceeds the limit of 16777216",
        ));
    }
    if m.num_classes == 0 {
        errors.push(header("classes", 0, "must be at least 1"));
    }
}

fn check_handles(m: &Module, errors: &mut Vec<ValidationError>) {
    let dangling_tensor = |owner, tensor| ValidationError::DanglingTensor {
        owner,
        tensor,
        count: m.tensors.len(),
    };
    for (h, p) in m.projections.iter() {
        for (end, population) in [("source", p.source), ("target", p.target)] {
            if !m.populations.contains(population) {
                errors.push(ValidationError::DanglingPopulation {
                    projection: h,
                    end,
                    population,
                    count: m.populations.len(),
                });
            }
        }
        if let Some(t) = p.kind.tensor()
            && !m.tensors.contains(t)
        {
            errors.push(dangling_tensor(Location::Projection(h), t));
        }
    }
    for (h, p) in m.populations.iter() {
        for t in p.kind.tensors() {
            if !m.tensors.contains(t) {
                errors.push(dangling_tensor(Location::Population(h), t));
            }
        }
    }
}

fn check_tensors(m: &Module, errors: &mut Vec<ValidationError>) {
    for (h, t) in m.tensors.iter() {
        let expected = t.numel();
        if expected != t.data.len() {
            errors.push(ValidationError::TensorSize {
                tensor: h,
                label: t.label.clone(),
                shape: t.shape.clone(),
                expected,
                found: t.data.len(),
            });
        } else if let Some((index, &value)) =
            t.data.iter().enumerate().find(|(_, v)| !v.is_finite())
        {
            errors.push(ValidationError::NonFinite {
                tensor: h,
                label: t.label.clone(),
                index,
                value,
            });
        }
    }
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

fn check_populations(m: &Module, errors: &mut Vec<ValidationError>) {
    for (h, p) in m.populations.iter() {
        if let Err(e) = check_population(m, h, p) {
            errors.push(e);
        }
    }
}

/// The first problem of one population (later ones would only repeat it).
fn check_population(
    m: &Module,
    h: Handle<Population>,
    p: &Population,
) -> Result<(), ValidationError> {
    let dims = p.shape.dims();
    if !(dims.len() == 1 || dims.len() == 3) || dims.contains(&0) {
        return Err(ValidationError::PopulationShape {
            population: h,
            shape: p.shape.clone(),
        });
    }
    if let Some(b) = p.kind.bias() {
        let expected = bias_shape(&p.shape);
        let per_step = vec![m.timesteps, expected[0]];
        let found = &m.tensors[b].shape;
        if *found != expected && *found != per_step {
            return Err(ValidationError::BiasShape {
                population: h,
                bias: b,
                found: found.clone(),
                shape: p.shape.clone(),
                expected,
                per_step,
            });
        }
    }
    let (params, beta, alpha) = match &p.kind {
        PopulationKind::Spiking(s) => (s.params(), s.beta, s.synapse.map(|syn| syn.alpha)),
        PopulationKind::Readout(r) => match r.integrator {
            Some(li) => (li.params(), li.beta, li.synapse.map(|syn| syn.alpha)),
            None => return Ok(()),
        },
        _ => return Ok(()),
    };
    let n = p.shape.numel();
    for (parameter, param) in params {
        if let Param::PerNeuron(t) = param
            && m.tensors[t].shape != dims
        {
            return Err(ValidationError::ParamShape {
                population: h,
                parameter,
                tensor: t,
                found: m.tensors[t].shape.clone(),
                shape: p.shape.clone(),
            });
        }
        if let Some(value) = (0..n)
            .map(|i| param.at(&m.tensors, i))
            .find(|v| !v.is_finite())
        {
            return Err(ValidationError::NonFiniteNeuron {
                population: h,
                parameter,
                value,
            });
        }
    }
    if let Some(beta) = (0..n)
        .map(|i| beta.at(&m.tensors, i))
        .find(|b| !(0.0..=1.0).contains(b))
    {
        return Err(ValidationError::Leak {
            population: h,
            beta,
        });
    }
    if let Some(alpha) = alpha.and_then(|a| {
        (0..n)
            .map(|i| a.at(&m.tensors, i))
            .find(|a| !(0.0..1.0).contains(a))
    }) {
        return Err(ValidationError::CurrentDecay {
            population: h,
            alpha,
        });
    }
    Ok(())
}

fn check_size(m: &Module, errors: &mut Vec<ValidationError>) {
    let neurons = m
        .populations
        .iter()
        .fold(0usize, |acc, (_, p)| acc.saturating_add(p.shape.numel()));
    if neurons.saturating_mul(m.timesteps) > MAX_ELEMENTS {
        errors.push(ValidationError::TooLarge {
            neurons,
            timesteps: m.timesteps,
        });
    }
}

fn check_readout(m: &Module, readout: Handle<Population>, errors: &mut Vec<ValidationError>) {
    let shape = &m.populations[readout].shape;
    if shape.dims() != [m.num_classes] {
        errors.push(ValidationError::ReadoutShape {
            readout,
            classes: m.num_classes,
            shape: shape.clone(),
        });
    }
}

fn check_projections(m: &Module, errors: &mut Vec<ValidationError>) {
    for (h, p) in m.projections.iter() {
        if let Err(e) = check_projection(m, h, p) {
            errors.push(e);
        }
    }
}

/// The first problem of one projection (later ones would only repeat it).
fn check_projection(
    m: &Module,
    h: Handle<Projection>,
    p: &Projection,
) -> Result<(), ValidationError> {
    let source = &m.populations[p.source];
    let target = &m.populations[p.target];
    if matches!(target.kind, PopulationKind::Input(_)) {
        return Err(ValidationError::IntoInput {
            projection: h,
            input: p.target,
        });
    }
    if matches!(source.kind, PopulationKind::Readout(_)) {
        return Err(ValidationError::OutOfReadout {
            projection: h,
            readout: p.source,
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
        return Err(ValidationError::ConvOverFlat {
            projection: h,
            population: p.source,
            shape: source.shape.clone(),
        });
    }
    let expected =
        target_shape(&p.kind, &source.shape, &m.tensors, m.timesteps).map_err(|source| {
            ValidationError::TargetShape {
                projection: h,
                source,
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
            expected,
        });
    }
    Ok(())
}

fn check_kind(
    projection: Handle<Projection>,
    kind: &ProjectionKind,
) -> Result<(), ValidationError> {
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
    if let Some(&value) = sizes.iter().find(|&&v| v > MAX_SIZE) {
        return Err(ValidationError::SizeTooLarge { projection, value });
    }
    let zero = |what| Err(ValidationError::ZeroSize { projection, what });
    let non_finite = |parameter, value| {
        Err(ValidationError::NonFiniteFactor {
            projection,
            parameter,
            value,
        })
    };
    match kind {
        ProjectionKind::Conv2d(c) if c.stride.contains(&0) || c.groups == 0 => {
            zero("conv2d stride and groups")
        }
        ProjectionKind::SumPool(p) if p.kernel.contains(&0) || p.stride.contains(&0) => {
            zero("sum_pool kernel and stride")
        }
        ProjectionKind::SumPool(p) if !p.scale.is_finite() => non_finite("sum_pool scale", p.scale),
        ProjectionKind::Scale(s) if !s.factor.is_finite() => non_finite("scale factor", s.factor),
        ProjectionKind::Dropout(d) if !(0.0..1.0).contains(&d.p) => {
            Err(ValidationError::DropoutRate { projection, p: d.p })
        }
        _ => Ok(()),
    }
}

/// Topological order over zero-delay projections (ties by handle); names the cycle if there is one.
pub fn schedule(m: &Module) -> Result<Vec<Handle<Population>>, ValidationError> {
    let n = m.populations.len();
    let mut indegree = HandleMap::filled(n, 0usize);
    let mut consumers = HandleMap::filled(n, Vec::new());
    let mut sources = HandleMap::filled(n, Vec::new());
    for (_, p) in m.projections.iter() {
        if p.delay == 0 {
            indegree[p.target] += 1;
            consumers[p.source].push(p.target);
            sources[p.target].push(p.source);
        }
    }
    let mut ready: BTreeSet<Handle<Population>> = indegree
        .iter()
        .filter(|&(_, &d)| d == 0)
        .map(|(h, _)| h)
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(h) = ready.pop_first() {
        order.push(h);
        for &c in &consumers[h] {
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
    let Some(mut at) = indegree.iter().find(|&(_, &d)| d > 0).map(|(h, _)| h) else {
        return Ok(order);
    };
    let mut seen: HandleMap<Population, Option<usize>> = HandleMap::filled(n, None);
    let mut path = Vec::new();
    while seen[at].is_none() {
        seen[at] = Some(path.len());
        path.push(at);
        match sources[at].iter().find(|&&s| indegree[s] > 0) {
            Some(&s) => at = s,
            None => break,
        }
    }
    let start = seen[at].unwrap_or(0).min(path.len() - 1);
    let mut cycle: Vec<Handle<Population>> = path[start..].to_vec();
    cycle.reverse();
    let first = cycle
        .iter()
        .enumerate()
        .min_by_key(|&(_, h)| *h)
        .map(|(k, _)| k)
        .unwrap_or(0);
    cycle.rotate_left(first);
    cycle.push(cycle[0]);
    let named = cycle
        .into_iter()
        .map(|h| (h, m.populations[h].name.clone()));
    Err(ValidationError::ZeroDelayCycle(named.collect()))
}

/// A population marked constant must be analog, without a per-step bias, and fed only by
/// constants over zero delay through maps that do not change with the step.
fn check_constants(m: &Module, errors: &mut Vec<ValidationError>) {
    for (h, p) in m.populations.iter() {
        if let PopulationKind::Analog(a) = &p.kind
            && a.constant
            && m.has_per_step_bias(h)
        {
            errors.push(ValidationError::ConstWithPerStepBias { population: h });
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
            errors.push(ValidationError::ConstFedByVarying {
                population: p.target,
                from: p.source,
                delay: p.delay,
            });
        } else if m.is_per_step_projection(&p.kind) {
            errors.push(ValidationError::ConstThroughPerStepAffine {
                population: p.target,
                from: p.source,
            });
        }
    }
}

/// Whether a population's output is the same at every step, as far as its own kind says.
pub fn is_constant(p: &Population) -> bool {
    match &p.kind {
        PopulationKind::Input(i) => i.encoding == crate::ir::Encoding::Direct,
        PopulationKind::Analog(a) => a.constant,
        PopulationKind::Spiking(_) | PopulationKind::Readout(_) => false,
    }
}
