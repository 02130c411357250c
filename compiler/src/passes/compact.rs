//! Rebuild a module without removed entities: dense renumbering, projections grouped by target,
//! unreferenced tensors dropped (their buffers move, never copy).

use crate::ir::{Arena, Handle, HandleMap, Module, Population, Projection, Tensor};

/// Keep the populations and projections marked `true` (a projection also needs both ends kept),
/// renumber densely in the old order, sort projections stably by target, drop unused tensors.
pub fn compact(m: Module, keep_pop: &[bool], keep_proj: &[bool]) -> Module {
    let Module {
        name,
        timesteps,
        num_classes,
        tensors,
        populations,
        projections,
    } = m;
    let mut pop_map: HandleMap<Population, Option<Handle<Population>>> =
        HandleMap::filled(populations.len(), None);
    let mut pops = Vec::new();
    for (i, p) in populations.into_vec().into_iter().enumerate() {
        if keep_pop.get(i).copied().unwrap_or(true) {
            pop_map[Handle::new(i)] = Some(Handle::new(pops.len()));
            pops.push(p);
        }
    }
    let mut projs: Vec<Projection> = projections
        .into_vec()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep_proj.get(*i).copied().unwrap_or(true))
        .filter_map(|(_, mut e)| {
            e.source = pop_map.get(e.source).copied().flatten()?;
            e.target = pop_map.get(e.target).copied().flatten()?;
            Some(e)
        })
        .collect();
    projs.sort_by_key(|e| e.target);

    // Tensors in order of first use (populations' biases and per-neuron parameters, then
    // projections by target), so numbering follows the text from top to bottom regardless of
    // the order passes created them in.
    let mut tensor_map: HandleMap<Tensor, Option<Handle<Tensor>>> =
        HandleMap::filled(tensors.len(), None);
    let mut order = Vec::new();
    let mut visit = |t: Handle<Tensor>, order: &mut Vec<Handle<Tensor>>| {
        if let Some(slot) = tensor_map.get_mut(t)
            && slot.is_none()
        {
            *slot = Some(Handle::new(order.len()));
            order.push(t);
        }
    };
    for p in &pops {
        for t in p.kind.tensors() {
            visit(t, &mut order);
        }
    }
    for e in &projs {
        if let Some(t) = e.kind.tensor() {
            visit(t, &mut order);
        }
    }
    let mut old: HandleMap<Tensor, Option<Tensor>> =
        tensors.into_vec().into_iter().map(Some).collect();
    let new_tensors: Vec<Tensor> = order
        .iter()
        .map(|&t| old[t].take().expect("each tensor is moved once"))
        .collect();
    let remap = |t: Handle<Tensor>| tensor_map[t].expect("visited above");
    for p in &mut pops {
        p.kind.map_tensors(remap);
    }
    for e in &mut projs {
        if let Some(t) = e.kind.tensor_mut() {
            *t = remap(*t);
        }
    }
    Module {
        name,
        timesteps,
        num_classes,
        tensors: Arena::from_vec(new_tensors),
        populations: Arena::from_vec(pops),
        projections: Arena::from_vec(projs),
    }
}

/// Renumber without removing anything (canonical order).
pub fn renumber(m: Module) -> Module {
    compact(m, &[], &[])
}
