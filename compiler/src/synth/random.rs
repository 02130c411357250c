//! Random valid event-IR modules and inputs for property tests.

use super::Rng;
use crate::ir::{
    self, Compare, Encoding, Handle, Module, Population, PopulationKind, Projection,
    ProjectionKind, ReadoutKind, Reset, Shape, Tensor,
};

struct Gen {
    rng: Rng,
    m: Module,
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.unit() < p
    }
    fn pick(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.rng.below(hi - lo + 1)
    }
    fn tensor(&mut self, label: &str, shape: Vec<usize>, lo: f64, hi: f64) -> Handle<Tensor> {
        let n = shape.iter().product();
        let data = (0..n).map(|_| self.rng.uniform(lo, hi)).collect();
        self.m.tensors.push(Tensor::new(label, shape, data))
    }
    /// A `[C]` vector, or (sometimes) a per-step `[T, C]` one as per-step batch norm gives.
    fn step_vector(&mut self, label: &str, c: usize, lo: f64, hi: f64) -> Handle<Tensor> {
        let shape = if self.chance(0.3) {
            vec![self.m.timesteps, c]
        } else {
            vec![c]
        };
        self.tensor(label, shape, lo, hi)
    }
    fn bias(&mut self, shape: &Shape) -> Option<Handle<Tensor>> {
        if self.chance(0.4) {
            Some(self.step_vector("bias", shape.dims()[0], -0.3, 0.5))
        } else {
            None
        }
    }
    /// Sometimes a leaky integrator read out (`li` / `cuba_li`) with one of the membrane
    /// reductions.
    fn integrator(&mut self) -> Option<(ReadoutKind, ir::Integrator)> {
        if !self.chance(0.3) {
            return None;
        }
        let mode = [
            ReadoutKind::MembraneLast,
            ReadoutKind::MembraneMean,
            ReadoutKind::MembraneMax,
        ][self.rng.below(3)];
        let integrator = ir::Integrator {
            beta: self.rng.unit().into(),
            gain: (0.3 + self.rng.unit()).into(),
            rest: if self.chance(0.7) { 0.0 } else { 0.1 }.into(),
            synapse: self.chance(0.4).then(|| ir::Synapse {
                alpha: (0.9 * self.rng.unit()).into(),
                w_in: 1.0.into(),
            }),
        };
        Some((mode, integrator))
    }
    fn delay(&mut self) -> u32 {
        if self.chance(0.75) {
            0
        } else {
            self.pick(1, 2) as u32
        }
    }
    /// A random projection kind from `src`, and the target shape it gives.
    fn forward(&mut self, src: &Shape) -> (ProjectionKind, Shape) {
        let d = src.dims().to_vec();
        let choice = self.rng.below(8);
        match (choice, d.as_slice()) {
            (0, &[c, h, w]) => {
                let k = self.pick(1, 3.min(h).min(w));
                let pad = self.pick(0, k / 2);
                let stride = self.pick(1, 2);
                let cout = self.pick(1, 3);
                let groups = if cout.is_multiple_of(c) && c > 1 && self.chance(0.5) {
                    c
                } else {
                    1
                };
                let weight = self.tensor("conv", vec![cout, c / groups, k, k], -1.2, 1.2);
                let oh = (h + 2 * pad - k) / stride + 1;
                let ow = (w + 2 * pad - k) / stride + 1;
                (
                    ProjectionKind::Conv2d(ir::Conv2d {
                        weight,
                        stride: [stride, stride],
                        padding: [pad, pad],
                        groups,
                    }),
                    Shape(vec![cout, oh, ow]),
                )
            }
            (1, &[c, h, w]) => {
                let k = self.pick(1, 2.min(h).min(w));
                let s = self.pick(1, 2);
                let pad = self.pick(0, k / 2);
                let scale = [1.0, 0.25, 0.5][self.rng.below(3)];
                let (oh, ow) = ((h + 2 * pad - k) / s + 1, (w + 2 * pad - k) / s + 1);
                (
                    ProjectionKind::SumPool(ir::SumPool {
                        kernel: [k, k],
                        stride: [s, s],
                        padding: [pad, pad],
                        scale,
                    }),
                    Shape(vec![c, oh, ow]),
                )
            }
            (1, &[n]) if n >= 2 => {
                let k = self.pick(1, 3.min(n));
                (
                    ProjectionKind::SumPool(ir::SumPool {
                        kernel: [1, k],
                        stride: [1, k],
                        padding: [0, 0],
                        scale: 1.0 / k as f64,
                    }),
                    Shape(vec![(n - k) / k + 1]),
                )
            }
            (2, _) => {
                let out = self.pick(1, 6);
                let shape = if self.chance(0.2) {
                    Shape(vec![out, 1, 1])
                } else {
                    Shape(vec![out])
                };
                let weight = self.tensor("dense", vec![out, src.numel()], -1.0, 1.0);
                (ProjectionKind::Dense(ir::Dense { weight }), shape)
            }
            (3, _) => {
                let scale = self.step_vector("affine", d[0], -1.5, 1.5);
                (ProjectionKind::Affine(ir::Affine { scale }), src.clone())
            }
            (4, &[_, _, _]) => (
                ProjectionKind::Reshape(ir::Reshape),
                Shape(vec![src.numel()]),
            ),
            (4, &[n]) => (ProjectionKind::Reshape(ir::Reshape), Shape(vec![1, 1, n])),
            (5, _) => (
                ProjectionKind::Scale(ir::Scale {
                    factor: [0.0, 0.5, -1.0, 2.0][self.rng.below(4)],
                }),
                src.clone(),
            ),
            (6, _) => (ProjectionKind::Dropout(ir::Dropout { p: 0.5 }), src.clone()),
            _ => (ProjectionKind::Identity(ir::Identity), src.clone()),
        }
    }
    /// A kind mapping `src` onto exactly `dst`, for extra and feedback projections.
    fn onto(&mut self, src: &Shape, dst: &Shape) -> ProjectionKind {
        if src == dst && self.chance(0.6) {
            match self.rng.below(3) {
                0 => ProjectionKind::Identity(ir::Identity),
                1 => ProjectionKind::Scale(ir::Scale { factor: 0.5 }),
                _ => ProjectionKind::Affine(ir::Affine {
                    scale: self.step_vector("affine", src.dims()[0], -1.0, 1.0),
                }),
            }
        } else {
            ProjectionKind::Dense(ir::Dense {
                weight: self.tensor("dense", vec![dst.numel(), src.numel()], -0.8, 0.8),
            })
        }
    }
    fn population(&mut self, shape: Shape) -> PopulationKind {
        if self.chance(0.5) {
            // beta 0 (no memory) and 1 (no leak) are edge cases worth drawing on purpose.
            let beta = match self.rng.below(6) {
                0 => 0.0,
                1 => 1.0,
                _ => self.rng.unit(),
            };
            PopulationKind::Spiking(ir::Spiking {
                beta: beta.into(),
                gain: (0.3 + self.rng.unit()).into(),
                threshold: (0.5 + self.rng.unit()).into(),
                v_reset: if self.chance(0.8) { 0.0 } else { -0.2 }.into(),
                reset: match self.rng.below(10) {
                    0..=4 => Reset::Hard,
                    5..=6 => Reset::Subtract,
                    7 => Reset::SubtractNext,
                    8 => Reset::ZeroNext,
                    _ => Reset::None,
                },
                fire: if self.chance(0.7) {
                    Compare::Ge
                } else {
                    Compare::Gt
                },
                v_leak: self.chance(0.2).then_some(0.2.into()),
                v_min: self.chance(0.2).then_some((-0.3).into()),
                synapse: self.chance(0.25).then(|| ir::Synapse {
                    alpha: (0.95 * self.rng.unit()).into(),
                    w_in: if self.chance(0.5) {
                        1.0
                    } else {
                        0.5 + self.rng.unit()
                    }
                    .into(),
                }),
                bias: self.bias(&shape),
            })
        } else {
            PopulationKind::Analog(ir::Analog {
                bias: self.bias(&shape),
                constant: false,
            })
        }
    }
}

/// A random valid module from `seed`: every projection kind, groups, strides, padding, delays,
/// feedback, both encodings, both resets and comparisons, beta 0 and 1, biases and affine scales
/// constant or per step, a population fed by its bias alone, delayed readout projections and
/// readout biases, neuron parameters uniform or per neuron. Shared by the property tests of the
/// text form, the passes and the runtime.
pub fn random_module(seed: u64) -> Module {
    let mut g = Gen {
        rng: Rng::new(seed),
        m: Module {
            name: format!("random{seed}"),
            timesteps: 0,
            num_classes: 0,
            ..Module::default()
        },
    };
    g.m.timesteps = g.pick(1, 4);
    let input = if g.chance(0.7) {
        Shape(vec![g.pick(1, 3), g.pick(2, 6), g.pick(2, 6)])
    } else {
        Shape(vec![g.pick(2, 8)])
    };
    let encoding = if g.chance(0.7) {
        Encoding::Direct
    } else {
        Encoding::EventFrames
    };
    g.m.populations.push(Population {
        name: "input".into(),
        shape: input,
        kind: PopulationKind::Input(ir::Input { encoding }),
    });
    let n = g.pick(1, 7);
    for i in 0..n {
        let src = Handle::<Population>::new(g.rng.below(g.m.populations.len()));
        let src_shape = g.m.populations[src].shape.clone();
        let (kind, shape) = g.forward(&src_shape);
        let delay = g.delay();
        let pk = g.population(shape.clone());
        let target = g.m.populations.push(Population {
            name: format!("n{i}"),
            shape: shape.clone(),
            kind: pk,
        });
        g.m.projections.push(Projection {
            source: src,
            target,
            delay,
            kind,
        });
        if g.chance(0.4) {
            let other = Handle::<Population>::new(g.rng.below(target.index()));
            let os = g.m.populations[other].shape.clone();
            let kind = g.onto(&os, &shape);
            let delay = g.delay();
            g.m.projections.push(Projection {
                source: other,
                target,
                delay,
                kind,
            });
        }
    }
    // A population driven by its bias alone (no projection reaches it).
    if g.chance(0.3) {
        let shape = Shape(vec![g.pick(1, 4)]);
        let c = shape.dims()[0];
        let bias = Some(g.step_vector("bias", c, 0.2, 0.9));
        let kind = PopulationKind::Spiking(ir::Spiking {
            beta: 0.5.into(),
            gain: 1.0.into(),
            threshold: 1.0.into(),
            v_reset: 0.0.into(),
            reset: Reset::Hard,
            fire: Compare::Ge,
            v_leak: None,
            v_min: None,
            synapse: None,
            bias,
        });
        g.m.populations.push(Population {
            name: "tonic".into(),
            shape,
            kind,
        });
    }
    // Feedback: later to earlier (or to itself), always delayed.
    for _ in 0..g.pick(0, 3) {
        let count = g.m.populations.len();
        let from = Handle::<Population>::new(g.pick(1, count - 1));
        let to = Handle::<Population>::new(g.pick(1, from.index()));
        let (fs, ts) = (
            g.m.populations[from].shape.clone(),
            g.m.populations[to].shape.clone(),
        );
        let kind = g.onto(&fs, &ts);
        let delay = g.pick(1, 3) as u32;
        g.m.projections.push(Projection {
            source: from,
            target: to,
            delay,
            kind,
        });
    }
    let classes = g.pick(1, 4);
    g.m.num_classes = classes;
    let mode = if g.chance(0.5) {
        ReadoutKind::TimeMean
    } else {
        ReadoutKind::SpikeCount
    };
    let bias = if g.chance(0.3) {
        Some(g.step_vector("readout.bias", classes, -0.5, 0.5))
    } else {
        None
    };
    let (mode, integrator) = match g.integrator() {
        Some((mode, li)) => (mode, Some(li)),
        None => (mode, None),
    };
    let readout = g.m.populations.push(Population {
        name: "readout".into(),
        shape: Shape(vec![classes]),
        kind: PopulationKind::Readout(ir::Readout {
            mode,
            bias,
            integrator,
        }),
    });
    // One or two readout projections, possibly delayed.
    for _ in 0..g.pick(1, 2) {
        let from = Handle::<Population>::new(g.rng.below(readout.index()));
        let fs = g.m.populations[from].shape.clone();
        let weight = g.tensor("readout", vec![classes, fs.numel()], -1.0, 1.0);
        let delay = g.delay();
        g.m.projections.push(Projection {
            source: from,
            target: readout,
            delay,
            kind: ProjectionKind::Dense(ir::Dense { weight }),
        });
    }
    vary_per_neuron(&mut g.m, seed);
    crate::passes::renumber(g.m)
}

/// Give some neuron parameters one value per neuron, from a stream of their own (so the rest of
/// a seed's module is what it was before per-neuron parameters existed): about a third of the
/// spiking populations and integrators, each parameter then per neuron with chance one half,
/// its values inside the parameter's valid range (`v_reset` and `v_min` below any threshold).
fn vary_per_neuron(m: &mut Module, seed: u64) {
    let mut rng = Rng::new(seed ^ 0x5eed_9e37_79b9_7f4a);
    let draw = |rng: &mut Rng,
                m: &mut Module,
                param: &mut ir::Param,
                field: &str,
                n: usize,
                shape: &Shape| {
        let (lo, hi) = match field {
            "beta" => (0.0, 1.0),
            "gain" => (0.3, 1.3),
            "threshold" => (0.5, 1.5),
            "v_reset" => (-0.2, 0.0),
            "v_min" => (-0.5, -0.25),
            "alpha" => (0.0, 0.95),
            "w_in" => (0.5, 1.5),
            _ => (-0.1, 0.3),
        };
        if rng.unit() < 0.5 {
            let data = (0..n).map(|_| rng.uniform(lo, hi)).collect();
            let t = m
                .tensors
                .push(Tensor::new(field, shape.dims().to_vec(), data));
            *param = ir::Param::PerNeuron(t);
        }
    };
    for h in m.populations.handles() {
        let shape = m.populations[h].shape.clone();
        let n = shape.numel();
        if rng.unit() >= 1.0 / 3.0 {
            continue;
        }
        let mut kind = m.populations[h].kind.clone();
        match &mut kind {
            PopulationKind::Spiking(s) => {
                for (field, p) in [
                    ("beta", &mut s.beta),
                    ("gain", &mut s.gain),
                    ("threshold", &mut s.threshold),
                    ("v_reset", &mut s.v_reset),
                ] {
                    draw(&mut rng, m, p, field, n, &shape);
                }
                if let Some(p) = &mut s.v_leak {
                    draw(&mut rng, m, p, "v_leak", n, &shape);
                }
                if let Some(p) = &mut s.v_min {
                    draw(&mut rng, m, p, "v_min", n, &shape);
                }
                if let Some(syn) = &mut s.synapse {
                    draw(&mut rng, m, &mut syn.alpha, "alpha", n, &shape);
                    draw(&mut rng, m, &mut syn.w_in, "w_in", n, &shape);
                }
            }
            PopulationKind::Readout(r) => {
                if let Some(li) = &mut r.integrator {
                    draw(&mut rng, m, &mut li.beta, "beta", n, &shape);
                    draw(&mut rng, m, &mut li.gain, "gain", n, &shape);
                    draw(&mut rng, m, &mut li.rest, "rest", n, &shape);
                    if let Some(syn) = &mut li.synapse {
                        draw(&mut rng, m, &mut syn.alpha, "alpha", n, &shape);
                        draw(&mut rng, m, &mut syn.w_in, "w_in", n, &shape);
                    }
                }
            }
            _ => continue,
        }
        m.populations[h].kind = kind;
    }
}

/// Three random input samples for `m` (one frame, or T frames for event-frame input).
pub fn random_inputs(m: &Module, seed: u64) -> Vec<Vec<f32>> {
    let input = &m.populations[m.input().unwrap()];
    let per_step =
        matches!(&input.kind, PopulationKind::Input(i) if i.encoding == Encoding::EventFrames);
    let n = input.shape.numel() * if per_step { m.timesteps } else { 1 };
    let mut rng = Rng::new(seed);
    (0..3)
        .map(|_| (0..n).map(|_| rng.uniform(-1.0, 2.0)).collect())
        .collect()
}
