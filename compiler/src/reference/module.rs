//! The reference interpreter of event-IR modules: every population, every step, densely.

use super::kernels::{self, Pooling};
use super::{
    RunError, RunOutput, check_inputs, finish_reduction, fire_and_reset, frame, integrate, reduce,
};
use crate::ir::{
    Arena, Encoding, HandleMap, Module, Population, PopulationKind, ProjectionKind, Tensor,
};
use crate::validate::validate;

/// Run `m` on a batch. Each input is one direct frame (the input population's size) or, for
/// event-frame input, `timesteps` frames back to back.
pub fn run_module(m: &Module, inputs: &[Vec<f32>]) -> Result<RunOutput, RunError> {
    let v = validate(m)?;
    let input = &m.populations[v.input];
    let per_step =
        matches!(input.kind, PopulationKind::Input(ref i) if i.encoding == Encoding::EventFrames);
    check_inputs(inputs, input.shape.numel(), m.timesteps, per_step)?;

    let incoming = m.incoming();
    // Ring depth per population: enough history for its longest outgoing delay.
    let mut depth = HandleMap::filled(m.populations.len(), 1usize);
    for (_, p) in m.projections.iter() {
        depth[p.source] = depth[p.source].max(p.delay as usize + 1);
    }
    let layers: Vec<_> = m
        .populations
        .iter()
        .filter(|(_, p)| matches!(p.kind, PopulationKind::Spiking(_)))
        .map(|(h, p)| (h, p.name.clone()))
        .collect();
    let layer_of = {
        let mut l = HandleMap::filled(m.populations.len(), usize::MAX);
        for (i, &(h, _)) in layers.iter().enumerate() {
            l[h] = i;
        }
        l
    };

    let mut out = RunOutput {
        logits: Vec::new(),
        predictions: Vec::new(),
        layers: layers.iter().map(|(_, n)| n.clone()).collect(),
        spikes: Vec::new(),
        near_threshold: Vec::new(),
    };
    let t_max = m.timesteps;
    for sample in inputs {
        let mut hist: HandleMap<Population, Vec<Vec<f64>>> = m
            .populations
            .iter()
            .map(|(h, p)| vec![vec![0.0; p.shape.numel()]; depth[h]])
            .collect();
        let (mut membrane, mut current) = initial_state(m);
        let mut spikes = vec![vec![0u64; t_max]; layers.len()];
        let mut near = vec![vec![0u64; t_max]; layers.len()];
        let mut acc = vec![0.0f64; m.num_classes];

        for t in 0..t_max {
            for &ph in &v.schedule {
                let p = &m.populations[ph];
                let slot = t % depth[ph];
                if let PopulationKind::Analog(a) = &p.kind
                    && a.constant
                    && t > 0
                {
                    // Same value every step: computed once at t = 0 (hoisted), copied since.
                    let prev = hist[ph][(t - 1) % depth[ph]].clone();
                    hist[ph][slot] = prev;
                    continue;
                }
                if let PopulationKind::Input(i) = &p.kind {
                    let per_step = i.encoding == Encoding::EventFrames;
                    let values: Vec<f64> = frame(sample, p.shape.numel(), t, per_step).collect();
                    hist[ph][slot] = values;
                    continue;
                }
                // Sum what every incoming projection delivers from step t - delay.
                let mut input = vec![0.0f64; p.shape.numel()];
                for &eh in &incoming[ph] {
                    let e = &m.projections[eh];
                    let d = e.delay as usize;
                    if t < d {
                        continue;
                    }
                    let src = &m.populations[e.source];
                    let x = &hist[e.source][(t - d) % depth[e.source]];
                    deliver(
                        &m.tensors,
                        &e.kind,
                        t,
                        x,
                        &src.shape.0,
                        &mut input,
                        &p.shape.0,
                    );
                }
                if let Some(b) = p.kind.bias() {
                    kernels::channel_bias_add(m.tensors[b].at_step(t), &mut input);
                }
                let output = &mut hist[ph][slot];
                match &p.kind {
                    PopulationKind::Input(_) => unreachable!("handled above"),
                    PopulationKind::Analog(_) => *output = input,
                    PopulationKind::Readout(r) => {
                        if let Some(li) = r.integrator {
                            let at = |i| li.at(&m.tensors, i);
                            integrate(at, &mut membrane[ph], &mut current[ph], &mut input);
                        }
                        reduce(&mut acc, &input, t, r.mode.reduction());
                        *output = input;
                    }
                    PopulationKind::Spiking(s) => {
                        let at = |i| s.at(&m.tensors, i);
                        if let Some(syn) = s.synapse {
                            let cur = current[ph].iter_mut().zip(input.iter_mut());
                            for (i, (ii, x)) in cur.enumerate() {
                                *ii = syn.at(&m.tensors, i).update(*ii, *x);
                                *x = *ii;
                            }
                        }
                        let vm = &mut membrane[ph];
                        for (i, (vi, x)) in vm.iter_mut().zip(&input).enumerate() {
                            *vi = at(i).charge(*vi, *x);
                        }
                        let f = fire_and_reset(vm, output, at);
                        let l = layer_of[ph];
                        spikes[l][t] = f.spikes;
                        near[l][t] = f.near;
                    }
                }
            }
        }
        let readout = &m.populations[v.readout];
        if let PopulationKind::Readout(r) = &readout.kind {
            finish_reduction(&mut acc, t_max, r.mode.reduction());
        }
        out.predictions.push(kernels::argmax(&acc));
        out.logits.push(acc);
        out.spikes.push(spikes);
        out.near_threshold.push(near);
    }
    Ok(out)
}

/// Add projection `kind` at step `t` applied to the source values `x` into `out` (shapes as dims).
pub fn deliver(
    tensors: &Arena<Tensor>,
    kind: &ProjectionKind,
    t: usize,
    x: &[f64],
    src: &[usize],
    out: &mut [f64],
    dst: &[usize],
) {
    match kind {
        ProjectionKind::Conv2d(c) => {
            let w = &tensors[c.weight];
            let ws = [w.shape[0], w.shape[1], w.shape[2], w.shape[3]];
            kernels::conv2d_add(
                x,
                [src[0], src[1], src[2]],
                &w.data,
                ws,
                c.stride,
                c.padding,
                c.groups,
                out,
                [dst[1], dst[2]],
            );
        }
        ProjectionKind::Dense(d) => kernels::dense_add(x, &tensors[d.weight].data, out),
        ProjectionKind::SumPool(p) => {
            let (planes, out_hw) = match (src, dst) {
                ([c, h, w], [_, oh, ow]) => ([*c, *h, *w], [*oh, *ow]),
                ([n], [on]) => ([1, 1, *n], [1, *on]),
                _ => unreachable!("validated sum_pool shapes"),
            };
            kernels::pool_add(
                x,
                planes,
                p.kernel,
                p.stride,
                p.padding,
                Pooling::Sum { scale: p.scale },
                out,
                out_hw,
            );
        }
        ProjectionKind::Identity(_) | ProjectionKind::Reshape(_) | ProjectionKind::Dropout(_) => {
            out.iter_mut().zip(x).for_each(|(o, v)| *o += v);
        }
        ProjectionKind::Scale(s) => out.iter_mut().zip(x).for_each(|(o, v)| *o += s.factor * v),
        ProjectionKind::Affine(a) => {
            kernels::channel_scale_add(x, tensors[a.scale].at_step(t), out)
        }
    }
}

/// Each population's membrane and synaptic current before the first step: a spiking population
/// starts at `v_reset`, a readout integrator at its `rest` (both per neuron), currents at 0;
/// empty for populations without them.
pub fn initial_state(
    m: &Module,
) -> (
    HandleMap<Population, Vec<f64>>,
    HandleMap<Population, Vec<f64>>,
) {
    let membrane = m
        .populations
        .iter()
        .map(|(_, p)| match &p.kind {
            PopulationKind::Spiking(s) => (0..p.shape.numel())
                .map(|i| s.v_reset.at(&m.tensors, i))
                .collect(),
            PopulationKind::Readout(r) => match r.integrator {
                Some(li) => (0..p.shape.numel())
                    .map(|i| li.rest.at(&m.tensors, i))
                    .collect(),
                None => Vec::new(),
            },
            _ => Vec::new(),
        })
        .collect();
    let current = m
        .populations
        .iter()
        .map(|(_, p)| match &p.kind {
            PopulationKind::Spiking(s) if s.synapse.is_some() => vec![0.0; p.shape.numel()],
            PopulationKind::Readout(r) if r.integrator.is_some_and(|i| i.synapse.is_some()) => {
                vec![0.0; p.shape.numel()]
            }
            _ => Vec::new(),
        })
        .collect();
    (membrane, current)
}
