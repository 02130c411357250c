//! Optimisation passes: plain functions from module to module, each keeping the outputs.
//!
//! Every pass takes a valid module by value and returns a valid module whose logits and spike
//! counts equal the input's up to float summation order (the equivalence ladder); tests run the
//! validator and the reference interpreter after each one. [`optimise`] runs them all in order.

mod compact;
mod compose;

pub use compact::{compact, renumber};

use crate::ir::{
    Handle, HandleMap, Module, Population, PopulationKind, Projection, ProjectionKind, Tensor,
};
use crate::validate::MAX_DELAY;
use compose::{add_bias, composable, compose, has_bias, map_bias, scalable, scale_kind, set_bias};

/// A named pass, for drivers that run and report them one by one.
pub type Pass = fn(Module) -> Module;

/// Every pass in the order [`optimise`] runs them.
pub const PIPELINE: &[(&str, Pass)] = &[
    ("drop_dropout_and_zero", drop_dropout_and_zero),
    ("fold_batch_norm", fold_batch_norm),
    ("fold_input_gain", fold_input_gain),
    ("dissolve_relays", dissolve_relays),
    ("remove_dead", remove_dead),
    ("hoist_constants", hoist_constants),
];

/// Run the whole pipeline.
pub fn optimise(mut m: Module) -> Module {
    for (_, pass) in PIPELINE {
        m = pass(m);
    }
    m
}

/// A module under edit: removals are marked and applied once, by [`compact`], at the end.
struct Work {
    m: Module,
    dead_pop: HandleMap<Population, bool>,
    dead_proj: HandleMap<Projection, bool>,
}

impl Work {
    fn new(m: Module) -> Self {
        let (p, e) = (m.populations.len(), m.projections.len());
        Work {
            m,
            dead_pop: HandleMap::filled(p, false),
            dead_proj: HandleMap::filled(e, false),
        }
    }
    fn finish(self) -> Module {
        compact(
            self.m,
            &self.dead_pop.values().map(|d| !d).collect::<Vec<_>>(),
            &self.dead_proj.values().map(|d| !d).collect::<Vec<_>>(),
        )
    }
    fn live(&self) -> impl Iterator<Item = (Handle<Projection>, &Projection)> {
        self.m
            .projections
            .iter()
            .filter(|(h, _)| !self.dead_proj[*h])
    }
    fn incoming(&self, p: Handle<Population>) -> Vec<Handle<Projection>> {
        self.live()
            .filter(|(_, e)| e.target == p)
            .map(|(h, _)| h)
            .collect()
    }
    fn outgoing(&self, p: Handle<Population>) -> Vec<Handle<Projection>> {
        self.live()
            .filter(|(_, e)| e.source == p)
            .map(|(h, _)| h)
            .collect()
    }
    fn push(&mut self, e: Projection) {
        self.m.projections.push(e);
        self.dead_proj.push(false);
    }
    fn kill(&mut self, e: Handle<Projection>) {
        self.dead_proj[e] = true;
    }
    /// Users of each tensor among live projections and populations.
    fn uses(&self) -> HandleMap<Tensor, usize> {
        let mut u = HandleMap::filled(self.m.tensors.len(), 0usize);
        for (_, e) in self.live() {
            if let Some(t) = e.kind.tensor() {
                u[t] += 1;
            }
        }
        for (h, p) in self.m.populations.iter() {
            if !self.dead_pop[h] {
                for t in p.kind.tensors() {
                    u[t] += 1;
                }
            }
        }
        u
    }
    /// Which populations hold the same value at every step (see [`hoist_constants`]).
    fn constants(&self) -> HandleMap<Population, bool> {
        self.m.constant_populations(|e| !self.dead_proj[e])
    }
}

/// Kinds whose weights or window sums are real work; composing them into several consumers
/// would duplicate that work, so a relay fed by one is only dissolved into a single consumer.
fn heavy(k: &ProjectionKind) -> bool {
    matches!(
        k,
        ProjectionKind::Conv2d(_) | ProjectionKind::Dense(_) | ProjectionKind::SumPool(_)
    )
}

/// Replace analog relay `r` by direct projections from its sources to its consumers, when every
/// composition is exact and legal; `allow` narrows which relays a pass targets.
fn try_dissolve(
    w: &mut Work,
    r: Handle<Population>,
    allow: impl Fn(&Work, &[Handle<Projection>], &[Handle<Projection>]) -> bool,
) -> bool {
    if w.dead_pop[r] || !matches!(w.m.populations[r].kind, PopulationKind::Analog(_)) {
        return false;
    }
    let (ins, outs) = (w.incoming(r), w.outgoing(r));
    if ins.is_empty() || outs.is_empty() || !allow(w, &ins, &outs) {
        return false;
    }
    let proj = |h: Handle<Projection>| w.m.projections[h].clone();
    let (ins_p, outs_p): (Vec<_>, Vec<_>) = (
        ins.iter().map(|&h| proj(h)).collect(),
        outs.iter().map(|&h| proj(h)).collect(),
    );
    if ins_p.iter().any(|e| e.source == r) || outs_p.iter().any(|e| e.target == r) {
        return false; // a self-loop through the relay has nothing to compose with
    }
    if outs.len() > 1 && (ins.len() != 1 || heavy(&ins_p[0].kind)) {
        return false;
    }
    // A per-step scale or bias has no single-projection equivalent once composed: keep the relay.
    if w.m.has_per_step_bias(r)
        || ins_p
            .iter()
            .chain(&outs_p)
            .any(|e| w.m.is_per_step_projection(&e.kind))
    {
        return false;
    }
    let mid = w.m.populations[r].shape.clone();
    for i in &ins_p {
        for o in &outs_p {
            if !composable(&i.kind, &o.kind, &mid) || i.delay + o.delay > MAX_DELAY {
                return false;
            }
        }
    }
    // Hoisting: a relay computed once must not move its work into a population computed every step.
    let constant = w.constants();
    if constant[r]
        && ins_p.iter().any(|e| heavy(&e.kind))
        && outs_p.iter().any(|o| !constant[o.target])
    {
        return false;
    }
    // The relay's constant output reaches a consumer only over zero delay, and must stay a
    // per-channel constant there (before the start a delayed edge delivers zero, not the bias).
    let mut biases = Vec::new();
    if has_bias(&w.m, r) {
        let b = w.m.populations[r]
            .kind
            .bias()
            .map(|b| w.m.tensors[b].data.clone())
            .unwrap_or_default();
        for o in &outs_p {
            let dst = &w.m.populations[o.target].shape;
            match (o.delay, map_bias(&w.m, &o.kind, &b, &mid, dst)) {
                (0, Some(mapped)) => biases.push((o.target, mapped)),
                _ => return false,
            }
        }
    }
    for (t, b) in biases {
        add_bias(&mut w.m, t, &b);
    }
    // A tensor may change in place only if exactly one composition reads it: an input's when
    // the relay has one consumer, a consumer's when the relay has one input.
    let mut uses = w.uses();
    let shared = |list: &[Projection], uses: &mut HandleMap<Tensor, usize>| {
        for t in list.iter().filter_map(|e| e.kind.tensor()) {
            uses[t] = usize::MAX;
        }
    };
    if outs.len() > 1 {
        shared(&ins_p, &mut uses);
    }
    if ins.len() > 1 {
        shared(&outs_p, &mut uses);
    }
    for i in &ins_p {
        for o in &outs_p {
            let kind = compose(&mut w.m, &i.kind, &o.kind, &mid, &uses);
            w.push(Projection {
                source: i.source,
                target: o.target,
                delay: i.delay + o.delay,
                kind,
            });
        }
    }
    ins.iter().chain(&outs).for_each(|&h| w.kill(h));
    w.dead_pop[r] = true;
    true
}

/// Dropout is the identity at inference and SNASNet's zero op contributes nothing: remove both.
/// A dropout's population is dissolved (its consumers read its source directly).
pub fn drop_dropout_and_zero(m: Module) -> Module {
    let mut w = Work::new(m);
    let mut dropout_targets = Vec::new();
    for (h, e) in w.m.projections.iter_mut() {
        match &e.kind {
            ProjectionKind::Dropout(_) => {
                e.kind = ProjectionKind::Identity(crate::ir::Identity);
                dropout_targets.push(e.target);
            }
            ProjectionKind::Scale(s) if s.factor == 0.0 => w.dead_proj[h] = true,
            _ => {}
        }
    }
    for r in dropout_targets {
        try_dissolve(&mut w, r, |w, ins, _| {
            ins.len() == 1 && matches!(w.m.projections[ins[0]].kind, ProjectionKind::Identity(_))
        });
    }
    w.finish()
}

/// Fold batch norm into the linear projection before it: a conv or dense whose output
/// population feeds only the BN's affine projection is replaced by one scaled projection.
pub fn fold_batch_norm(m: Module) -> Module {
    let mut w = Work::new(m);
    for r in w.m.populations.handles() {
        try_dissolve(&mut w, r, |w, ins, outs| {
            let k = |h: Handle<Projection>| &w.m.projections[h].kind;
            ins.len() == 1
                && outs.len() == 1
                && matches!(
                    k(ins[0]),
                    ProjectionKind::Conv2d(_) | ProjectionKind::Dense(_)
                )
                && matches!(k(outs[0]), ProjectionKind::Affine(_))
        });
    }
    w.finish()
}

/// Fold each spiking population's input gain into what it receives (weights, pool scales, its
/// bias), leaving gain 1. A population fed through a reshape keeps its gain, and so does one
/// with a synaptic current (its gain scales the current, which is state: `current.<layer>` of
/// the ONNX models would change meaning), and one whose gain differs per neuron.
pub fn fold_input_gain(m: Module) -> Module {
    let mut w = Work::new(m);
    for p in w.m.populations.handles() {
        let PopulationKind::Spiking(s) = &w.m.populations[p].kind else {
            continue;
        };
        let Some(gain) = s.gain.uniform() else {
            continue;
        };
        if gain == 1.0 || s.synapse.is_some() {
            continue;
        }
        let ins = w.incoming(p);
        if ins
            .iter()
            .any(|&h| !scalable(&w.m.projections[h].kind, gain))
        {
            continue;
        }
        for h in ins {
            let uses = w.uses();
            let kind = w.m.projections[h].kind.clone();
            w.m.projections[h].kind = scale_kind(&mut w.m, &kind, gain, &uses);
        }
        if let Some(b) = w.m.populations[p].kind.bias() {
            let scaled: Vec<f32> = w.m.tensors[b]
                .data
                .iter()
                .map(|v| (f64::from(*v) * gain) as f32)
                .collect();
            set_bias(&mut w.m, p, scaled);
        }
        if let PopulationKind::Spiking(s) = &mut w.m.populations[p].kind {
            s.gain = 1.0.into();
        }
    }
    w.finish()
}

/// Dissolve analog relays wherever the linear maps around them compose exactly (conv -> BN ->
/// sum -> LIF becomes projections straight into the LIF). Repeats until nothing changes.
pub fn dissolve_relays(m: Module) -> Module {
    let mut w = Work::new(m);
    loop {
        let mut changed = false;
        for r in w.m.populations.handles() {
            changed |= try_dissolve(&mut w, r, |_, _, _| true);
        }
        if !changed {
            return w.finish();
        }
    }
}

/// Remove what cannot affect the readout: projections from populations that are always zero
/// (no input, no bias, never firing), then populations with no path to the readout.
pub fn remove_dead(m: Module) -> Module {
    let mut w = Work::new(m);
    loop {
        let mut changed = false;
        let zero: HandleMap<Population, bool> =
            w.m.populations
                .iter()
                .map(|(h, p)| {
                    let silent = w.incoming(h).is_empty() && p.kind.bias().is_none();
                    silent
                        && match &p.kind {
                            PopulationKind::Analog(_) => true,
                            // With no drive the membrane starts at v_reset and moves only towards
                            // its rest (v_leak), so it fires only if one of them crosses the
                            // threshold.
                            PopulationKind::Spiking(s) => (0..p.shape.numel()).all(|i| {
                                let n = s.at(&w.m.tensors, i);
                                !n.fires(n.v_reset) && !n.fires(n.rest())
                            }),
                            _ => false,
                        }
                })
                .collect();
        let from_zero: Vec<_> = w
            .live()
            .filter(|(_, e)| zero[e.source])
            .map(|(h, _)| h)
            .collect();
        for h in from_zero {
            w.kill(h);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    // Backwards from the readout over live projections (any delay).
    let mut reaches = HandleMap::filled(w.m.populations.len(), false);
    let mut stack: Vec<Handle<Population>> = w.m.readout().into_iter().collect();
    while let Some(p) = stack.pop() {
        if std::mem::replace(&mut reaches[p], true) {
            continue;
        }
        stack.extend(
            w.live()
                .filter(|(_, e)| e.target == p)
                .map(|(_, e)| e.source),
        );
    }
    for (h, p) in w.m.populations.iter() {
        if !reaches[h] && !matches!(p.kind, PopulationKind::Input(_)) {
            w.dead_pop[h] = true;
        }
    }
    w.finish()
}

/// Mark every analog population whose value is the same at every step (fed over zero delay only
/// by the direct input or other such populations) as `const`: computed once per sample.
pub fn hoist_constants(m: Module) -> Module {
    let mut w = Work::new(m);
    let constant = w.constants();
    for (h, p) in w.m.populations.iter_mut() {
        if let PopulationKind::Analog(a) = &mut p.kind {
            a.constant = constant[h];
        }
    }
    w.finish()
}
