//! The brute-force counter: NeuroBench-style counts by visiting every (output, input, weight)
//! triple of the IR's own layouts on traced activations, then docs/report.md's cost model.

use snnc_compiler::ir::{Encoding, Module, PopulationKind, ProjectionKind};
use snnc_runtime::Counts;

/// Populations whose value is the same at every step (recomputed here from the IR): per-step
/// biases and affine scales make a population vary.
pub fn constants(m: &Module) -> Vec<bool> {
    let mut c: Vec<bool> = m
        .populations
        .iter()
        .map(|(h, p)| match &p.kind {
            PopulationKind::Input(i) => i.encoding == Encoding::Direct,
            PopulationKind::Analog(_) => !m.has_per_step_bias(h),
            _ => false,
        })
        .collect();
    while let Some((_, e)) = m.projections.iter().find(|(_, e)| {
        c[e.target.index()]
            && matches!(m.populations[e.target].kind, PopulationKind::Analog(_))
            && (e.delay != 0 || !c[e.source.index()] || m.is_per_step_projection(&e.kind))
    }) {
        c[e.target.index()] = false;
    }
    c
}

/// (pairs with a non-zero input, of those with a non-zero weight, pairs of a dense run).
fn brute(
    m: &Module,
    kind: &ProjectionKind,
    x: &[f32],
    src: &[usize],
    dst: &[usize],
) -> (u64, u64, u64) {
    let nz = |v: f32| u64::from(v != 0.0);
    let (mut pairs, mut eff, mut dense) = (0u64, 0u64, 0u64);
    match kind {
        ProjectionKind::Conv2d(c) => {
            let w = &m.tensors[c.weight];
            let [cout, cg, kh, kw] = [w.shape[0], w.shape[1], w.shape[2], w.shape[3]];
            let [_, h, wd] = [src[0], src[1], src[2]];
            let (oh, ow) = (dst[1], dst[2]);
            for co in 0..cout {
                let g = co / (cout / c.groups);
                for oy in 0..oh {
                    for ox in 0..ow {
                        for cl in 0..cg {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy =
                                        (oy * c.stride[0] + ky) as isize - c.padding[0] as isize;
                                    let ix =
                                        (ox * c.stride[1] + kx) as isize - c.padding[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                        continue;
                                    }
                                    let xv =
                                        x[((g * cg + cl) * h + iy as usize) * wd + ix as usize];
                                    let wv = w.data[((co * cg + cl) * kh + ky) * kw + kx];
                                    dense += 1;
                                    pairs += nz(xv);
                                    eff += nz(xv) * nz(wv);
                                }
                            }
                        }
                    }
                }
            }
        }
        ProjectionKind::Dense(d) => {
            let w = &m.tensors[d.weight];
            let (n_out, n_in) = (w.shape[0], w.shape[1]);
            for o in 0..n_out {
                for (i, xv) in x.iter().enumerate().take(n_in) {
                    dense += 1;
                    pairs += nz(*xv);
                    eff += nz(*xv) * nz(w.data[o * n_in + i]);
                }
            }
        }
        ProjectionKind::SumPool(p) => {
            let (c, h, wd, oh, ow) = match (src, dst) {
                ([c, h, w], [_, oh, ow]) => (*c, *h, *w, *oh, *ow),
                ([n], [on]) => (1, 1, *n, 1, *on),
                _ => unreachable!(),
            };
            for ch in 0..c {
                for oy in 0..oh {
                    for ox in 0..ow {
                        for ky in 0..p.kernel[0] {
                            for kx in 0..p.kernel[1] {
                                let iy = (oy * p.stride[0] + ky) as isize - p.padding[0] as isize;
                                let ix = (ox * p.stride[1] + kx) as isize - p.padding[1] as isize;
                                if iy >= 0 && ix >= 0 && iy < h as isize && ix < wd as isize {
                                    pairs += nz(x[(ch * h + iy as usize) * wd + ix as usize]);
                                }
                            }
                        }
                    }
                }
            }
            eff = pairs;
        }
        _ => {
            pairs = x.iter().map(|v| nz(*v)).sum();
            eff = pairs;
        }
    }
    (pairs, eff, dense)
}

/// Counts per `[population * T + t]` from the trace, by the cost model of docs/report.md.
pub fn brute_counts(m: &Module, trace: &[Vec<Vec<f32>>]) -> Vec<Counts> {
    let t_max = m.timesteps;
    let constant = constants(m);
    let mut cells = vec![Counts::default(); m.populations.len() * t_max];
    let mut depth = vec![1usize; m.populations.len()];
    for (_, e) in m.projections.iter() {
        if !constant[e.source.index()] {
            depth[e.source.index()] = depth[e.source.index()].max(e.delay as usize + 1);
        }
    }
    for (_, e) in m.projections.iter() {
        let d = e.delay as usize;
        // Once per sample only if the map is constant too; a constant source has no ring.
        let hoisted = constant[e.source.index()] && !m.is_per_step_projection(&e.kind);
        let ring = !constant[e.source.index()];
        let (src, dst) = (
            &m.populations[e.source].shape.0,
            &m.populations[e.target].shape.0,
        );
        let binary = matches!(m.populations[e.source].kind, PopulationKind::Spiking(_));
        for t in 0..t_max {
            let active = if hoisted { t == d } else { t >= d };
            if !active {
                continue;
            }
            let x = &trace[t - d][e.source.index()];
            let (pairs, eff, dense) = brute(m, &e.kind, x, src, dst);
            let c = &mut cells[e.target.index() * t_max + t];
            c.state_reads += pairs;
            c.state_writes += pairs;
            match &e.kind {
                ProjectionKind::Conv2d(_) | ProjectionKind::Dense(_) => {
                    if binary {
                        c.sops += eff
                    } else {
                        c.macs += eff
                    }
                    c.weight_reads += pairs;
                    c.dense += dense;
                }
                ProjectionKind::SumPool(_) => c.pooling_ops += pairs,
                ProjectionKind::Affine(_) => {
                    c.affine_ops += pairs;
                    c.weight_reads += pairs;
                }
                ProjectionKind::Scale(_) => c.affine_ops += pairs,
                _ => c.copies += pairs,
            }
            if d > 0 && ring {
                c.state_reads += x.iter().filter(|v| **v != 0.0).count() as u64;
            }
        }
    }
    for (h, p) in m.populations.iter() {
        let n = p.shape.numel() as u64;
        for t in 0..t_max {
            let events = trace[t][h.index()].iter().filter(|v| **v != 0.0).count() as u64;
            let c = &mut cells[h.index() * t_max + t];
            c.events += events;
            match &p.kind {
                PopulationKind::Spiking(s) => {
                    c.spikes += events;
                    c.neuron_updates += n;
                    c.state_reads += 2 * n;
                    c.state_writes += 2 * n;
                    // A synaptic current: updated, read and written for every neuron.
                    if s.synapse.is_some() {
                        c.current_updates += n;
                        c.state_reads += n;
                        c.state_writes += n;
                    }
                }
                PopulationKind::Analog(_) if !constant[h.index()] || t == 0 => {
                    c.state_reads += n;
                    c.state_writes += n;
                }
                PopulationKind::Readout(r) => {
                    c.state_reads += 2 * n;
                    c.state_writes += 2 * n;
                    // A leaky integrator: a neuron update with its membrane, and its current.
                    if let Some(li) = r.integrator {
                        c.neuron_updates += n;
                        c.state_reads += n;
                        c.state_writes += n;
                        if li.synapse.is_some() {
                            c.current_updates += n;
                            c.state_reads += n;
                            c.state_writes += n;
                        }
                    }
                }
                _ => {}
            }
            if depth[h.index()] > 1 {
                c.state_writes += events;
            }
        }
    }
    cells
}
