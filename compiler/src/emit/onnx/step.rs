//! One timestep of a module as ONNX nodes: every population in schedule order, its incoming
//! projections as Conv/Gemm/AveragePool/Mul/Reshape, LIF charge/fire/reset, delay rings, the
//! readout's leaky integrator and its accumulator. The step model is this graph alone; the
//! sequence model's Scan body too.

use super::plan::Plan;
use super::proto::{Builder, Nodes, attr_f32_tensor, attr_int, attr_ints, i64s};
use crate::ir::{
    Handle, HandleMap, Param, Population, PopulationKind, Projection, ProjectionKind, Tensor,
};
use std::collections::HashMap;

mod readout;
mod spiking;

/// Where the step's inputs come from.
pub struct StepInputs {
    /// The input population's frame for this step, `[N, ...]`.
    pub x: String,
    /// The current value of each state of the plan, in plan order.
    pub states: Vec<String>,
    /// Values computed outside the step (the sequence model's hoisted constants), per population.
    pub known: HandleMap<Population, Option<String>>,
    /// A value whose axis 0 is the batch (to build zero tensors of the right size).
    pub batch_of: String,
    /// The batch size as a 1-D int64 `[N]`, if the caller already has it.
    pub batch: Option<String>,
}

/// Values the step produces (names inside the graph being built; the caller publishes them).
pub struct StepValues {
    /// New value of each state, in plan order.
    pub next: Vec<String>,
    /// The readout's value this step, `[N, K]`: `I + bias`, or its integrator's membrane.
    pub readout: String,
    /// The accumulator after this step, `[N, K]`.
    pub acc: String,
    /// Spikes per sample of each layer (plan order), int64 `[N]`.
    pub counts: Vec<String>,
    /// Spike maps of the chosen layers (`plan.spike_maps` order), f32 `[N, ...]`.
    pub spikes: Vec<String>,
}

/// Emits nodes for populations into one graph.
pub struct Emitter<'p, 'm> {
    pub plan: &'p Plan<'m>,
    /// This step's output value per population, once emitted.
    pub out: HandleMap<Population, Option<String>>,
    states: Vec<String>,
    /// `(population, delay)` -> the value read from its ring.
    delayed: HashMap<(Handle<Population>, u32), String>,
    batch_of: String,
    batch: Option<String>,
    spikes: HashMap<Handle<Population>, String>,
    counts: HashMap<Handle<Population>, String>,
    next: Vec<Option<String>>,
    readout: Option<String>,
    acc: Option<String>,
    /// The step counter as int64 indices `[N]`, once something per-step needs it.
    step_index: Option<String>,
}

impl<'p, 'm> Emitter<'p, 'm> {
    pub fn new(plan: &'p Plan<'m>, io: StepInputs) -> Self {
        let mut out = io.known;
        out.resize(plan.m.populations.len(), None);
        out[plan.input].get_or_insert(io.x);
        Emitter {
            plan,
            out,
            states: io.states,
            delayed: HashMap::new(),
            batch_of: io.batch_of,
            batch: io.batch,
            spikes: HashMap::new(),
            counts: HashMap::new(),
            next: vec![None; plan.states.len()],
            readout: None,
            acc: None,
            step_index: None,
        }
    }

    /// Emit only the populations whose value never changes (direct input's `const` stem), for
    /// the sequence model to compute once before its time loop; returns every known value.
    pub fn hoist(
        mut self,
        b: &mut Builder,
        g: &mut Nodes,
    ) -> HandleMap<Population, Option<String>> {
        for &h in &self.plan.schedule.clone() {
            if self.out[h].is_none() && self.plan.hoistable(h) {
                self.population(b, g, h);
            }
        }
        self.out
    }

    /// Emit every population not yet known, in schedule order, then the ring updates.
    pub fn step(mut self, b: &mut Builder, g: &mut Nodes) -> StepValues {
        for &h in &self.plan.schedule.clone() {
            if self.out[h].is_none() {
                self.population(b, g, h);
            }
        }
        if let Some(si) = self.plan.step_state {
            let one = b.scalar("step.increment", 1.0);
            let cur = self.states[si].clone();
            let next = g.op(
                b,
                "Add",
                &[&cur, &one],
                "step/advance",
                vec![],
                "the step counter after this step",
            );
            self.next[si] = Some(next);
        }
        // Shift each delay ring: this step's output enters slot 0, the oldest slot drops out.
        for (h, _) in self.plan.m.populations.iter() {
            let Some(si) = self.plan.ring_state[h] else {
                continue;
            };
            let d = self.plan.depth[h];
            let name = self.plan.name(h).to_string();
            let cur = self.value(h);
            let axis1 = b.ints("axes.1", &[1]);
            let head = g.op(
                b,
                "Unsqueeze",
                &[&cur, &axis1],
                &format!("{name}/ring_head"),
                vec![],
                "",
            );
            let next = if d == 1 {
                head
            } else {
                let (starts, ends) = (
                    b.ints("zero.1", &[0]),
                    b.ints(&format!("ring_keep.{}", d - 1), &[d as i64 - 1]),
                );
                let ring = self.states[si].clone();
                let kept = g.op(
                    b,
                    "Slice",
                    &[&ring, &starts, &ends, &axis1],
                    &format!("{name}/ring_keep"),
                    vec![],
                    "",
                );
                g.op(
                    b,
                    "Concat",
                    &[&head, &kept],
                    &format!("{name}/ring_next"),
                    vec![attr_int("axis", 1)],
                    "",
                )
            };
            self.next[si] = Some(next);
        }
        let plan = self.plan;
        StepValues {
            next: self
                .next
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
            readout: self.readout.unwrap_or_default(),
            acc: self.acc.unwrap_or_default(),
            counts: plan
                .layers
                .iter()
                .map(|h| self.counts.get(h).cloned().unwrap_or_default())
                .collect(),
            spikes: plan
                .spike_maps
                .iter()
                .map(|h| self.spikes.get(h).cloned().unwrap_or_default())
                .collect(),
        }
    }

    fn value(&self, h: Handle<Population>) -> String {
        self.out[h].clone().unwrap_or_default()
    }

    /// Neuron parameter `field` of population `h` as a graph value: a scalar initializer
    /// `<population>.<field>` holding its one value, or the plan's initializer of the
    /// population's shape holding its per-neuron values (which broadcasts against `[N, ...]`
    /// the way the scalar does, so the nodes around it are the same).
    fn param(&self, b: &mut Builder, h: Handle<Population>, field: &str, p: Param) -> String {
        match p {
            Param::Uniform(v) => b.scalar(&format!("{}.{field}", self.plan.name(h)), v as f32),
            Param::PerNeuron(t) => self.plan.per_neuron_value(b, t),
        }
    }

    /// [`Emitter::param`], or `None` when the parameter is `neutral` for every neuron (0 for a
    /// term added, 1 for a factor): the operation it takes part in is left out, which is exact.
    fn param_unless(
        &self,
        b: &mut Builder,
        h: Handle<Population>,
        field: &str,
        p: Param,
        neutral: f64,
    ) -> Option<String> {
        (p != Param::Uniform(neutral)).then(|| self.param(b, h, field, p))
    }

    /// `[N]` as a 1-D int64 value (Shape of the batch carrier, axis 0 only).
    fn batch(&mut self, b: &mut Builder, g: &mut Nodes) -> String {
        if let Some(n) = &self.batch {
            return n.clone();
        }
        let src = self.batch_of.clone();
        let n = g.op(
            b,
            "Shape",
            &[&src],
            "batch",
            vec![attr_int("start", 0), attr_int("end", 1)],
            "the batch size N",
        );
        self.batch = Some(n.clone());
        n
    }

    /// The value a projection reads: the source's output this step, or `delay` steps back.
    fn source_value(&mut self, b: &mut Builder, g: &mut Nodes, e: &Projection) -> String {
        if e.delay == 0 {
            return self.value(e.source);
        }
        let key = (e.source, e.delay);
        if let Some(v) = self.delayed.get(&key) {
            return v.clone();
        }
        let si = self.plan.ring_state[e.source].unwrap_or_default();
        let ring = self.states[si].clone();
        let idx = b.int_scalar(&format!("slot.{}", e.delay - 1), i64::from(e.delay) - 1);
        let name = format!("{}/delayed.{}", self.plan.name(e.source), e.delay);
        let doc = format!(
            "`{}` as it was {} step(s) ago",
            self.plan.name(e.source),
            e.delay
        );
        let v = g.op(
            b,
            "Gather",
            &[&ring, &idx],
            &name,
            vec![attr_int("axis", 1)],
            &doc,
        );
        self.delayed.insert(key, v.clone());
        v
    }

    fn weight(&self, b: &mut Builder, t: Handle<Tensor>, dims: Vec<i64>) -> String {
        let tensor = &self.plan.m.tensors[t];
        let label = if tensor.label.is_empty() {
            t.to_string()
        } else {
            tensor.label.clone()
        };
        b.tensor(
            t.index(),
            &label,
            dims,
            &tensor.data,
            &format!("{t} `{}` {:?}", tensor.label, tensor.shape),
        )
    }

    /// A per-channel (rank 3: `[C, 1, 1]`) or per-neuron (rank 1: `[n]`) tensor for broadcasting.
    /// A per-step `[T, C]` tensor is stored as `[T, C, 1, 1]` (or `[T, n]`) and this step's row
    /// gathered by the counter, giving `[N, C, 1, 1]` (or `[N, n]`): it broadcasts the same way.
    fn channel_tensor(
        &mut self,
        b: &mut Builder,
        g: &mut Nodes,
        t: Handle<Tensor>,
        pop_rank: usize,
    ) -> String {
        let tensor = &self.plan.m.tensors[t];
        let (rows, n) = if tensor.is_per_step() {
            (Some(tensor.shape[0] as i64), tensor.shape[1] as i64)
        } else {
            (None, tensor.data.len() as i64)
        };
        let dims: Vec<i64> = rows
            .into_iter()
            .chain([n])
            .chain(if pop_rank == 3 { vec![1, 1] } else { vec![] })
            .collect();
        let table = self.weight(b, t, dims);
        if rows.is_none() {
            return table;
        }
        let idx = self.step_index(b, g);
        g.op(
            b,
            "Gather",
            &[&table, &idx],
            &format!("{table}/at_step"),
            vec![attr_int("axis", 0)],
            &format!("row t of the per-step {t} `{}`", tensor.label),
        )
    }

    /// The step counter as int64 row indices, cast once per step.
    fn step_index(&mut self, b: &mut Builder, g: &mut Nodes) -> String {
        if let Some(i) = &self.step_index {
            return i.clone();
        }
        // Plan::new adds the counter whenever a tensor is per step, so it is there.
        let si = self.plan.step_state.unwrap_or_default();
        let counter = self.states[si].clone();
        let i = g.op(
            b,
            "Cast",
            &[&counter],
            "step/index",
            vec![attr_int("to", 7)],
            "the step counter as row indices",
        );
        self.step_index = Some(i.clone());
        i
    }

    /// Apply projection `eh` to its source value; `bias` is fused into a Conv or Gemm when given.
    fn deliver(
        &mut self,
        b: &mut Builder,
        g: &mut Nodes,
        eh: Handle<Projection>,
        bias: Option<Handle<Tensor>>,
    ) -> String {
        let m = self.plan.m;
        let e = &m.projections[eh];
        let x = self.source_value(b, g, e);
        let src = m.populations[e.source].shape.dims().to_vec();
        let dst = m.populations[e.target].shape.dims().to_vec();
        let tname = self.plan.name(e.target).to_string();
        let base = format!("{tname}/{eh}.{}", e.kind.name());
        let doc = format!(
            "{eh}: {} from `{}`{}",
            e.kind.name(),
            self.plan.name(e.source),
            delay_note(e.delay)
        );
        match &e.kind {
            ProjectionKind::Conv2d(c) => {
                let ws = &m.tensors[c.weight].shape;
                let w = self.weight(b, c.weight, i64s(ws));
                let mut inputs = vec![x.as_str(), w.as_str()];
                let bname = bias.map(|t| self.weight(b, t, vec![dst[0] as i64]));
                if let Some(bn) = &bname {
                    inputs.push(bn);
                }
                let attrs = vec![
                    attr_ints("kernel_shape", &i64s(&ws[2..])),
                    attr_ints("strides", &i64s(&c.stride)),
                    attr_ints(
                        "pads",
                        &i64s(&[c.padding[0], c.padding[1], c.padding[0], c.padding[1]]),
                    ),
                    attr_ints("dilations", &[1, 1]),
                    attr_int("group", c.groups as i64),
                ];
                g.op(b, "Conv", &inputs, &base, attrs, &doc)
            }
            ProjectionKind::Dense(d) => {
                let flat = if src.len() > 1 {
                    g.op(
                        b,
                        "Flatten",
                        &[&x],
                        &format!("{base}/flat"),
                        vec![attr_int("axis", 1)],
                        "",
                    )
                } else {
                    x
                };
                let ws = &m.tensors[d.weight].shape;
                let w = self.weight(b, d.weight, i64s(ws));
                let mut inputs = vec![flat.as_str(), w.as_str()];
                let bname = bias.map(|t| self.weight(b, t, vec![dst[0] as i64]));
                if let Some(bn) = &bname {
                    inputs.push(bn);
                }
                let y = g.op(b, "Gemm", &inputs, &base, vec![attr_int("transB", 1)], &doc);
                if dst.len() > 1 {
                    self.reshape(b, g, &y, &dst, &format!("{base}/shaped"))
                } else {
                    y
                }
            }
            ProjectionKind::SumPool(p) => {
                let planar = src.len() == 3;
                let x4 = if planar {
                    x
                } else {
                    self.reshape(b, g, &x, &[1, 1, src[0]], &format!("{base}/row"))
                };
                let attrs = vec![
                    attr_ints("kernel_shape", &i64s(&p.kernel)),
                    attr_ints("strides", &i64s(&p.stride)),
                    // The validator keeps padding at most half the kernel, as ONNX requires.
                    attr_ints(
                        "pads",
                        &i64s(&[p.padding[0], p.padding[1], p.padding[0], p.padding[1]]),
                    ),
                    attr_int("count_include_pad", 1),
                ];
                let mut y = g.op(b, "AveragePool", &[&x4], &base, attrs, &doc);
                // AveragePool divides by the window size; the IR's sum-pool multiplies by scale.
                let factor = p.scale * (p.kernel[0] * p.kernel[1]) as f64;
                if factor != 1.0 {
                    let f = b.scalar(&format!("{eh}.window_scale"), factor as f32);
                    y = g.op(b, "Mul", &[&y, &f], &format!("{base}/scaled"), vec![], "");
                }
                if planar {
                    y
                } else {
                    self.reshape(b, g, &y, &dst, &format!("{base}/flat"))
                }
            }
            ProjectionKind::Identity(_) | ProjectionKind::Dropout(_) => x,
            ProjectionKind::Reshape(_) => self.reshape(b, g, &x, &dst, &base),
            ProjectionKind::Scale(s) => {
                let f = b.scalar(&format!("{eh}.factor"), s.factor as f32);
                g.op(b, "Mul", &[&x, &f], &base, vec![], &doc)
            }
            ProjectionKind::Affine(a) => {
                let s = self.channel_tensor(b, g, a.scale, src.len());
                g.op(b, "Mul", &[&x, &s], &base, vec![], &doc)
            }
        }
    }

    /// Reshape to `[N, dims...]` (0 copies the batch dimension).
    fn reshape(
        &mut self,
        b: &mut Builder,
        g: &mut Nodes,
        x: &str,
        dims: &[usize],
        out: &str,
    ) -> String {
        let shape: Vec<i64> = std::iter::once(0).chain(i64s(dims)).collect();
        let label = format!(
            "shape.{}",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("x")
        );
        let s = b.ints(&label, &shape);
        g.op(b, "Reshape", &[x, &s], out, vec![], "")
    }

    /// `I + bias`: the sum of the incoming projections plus the population's constant input.
    fn input_current(&mut self, b: &mut Builder, g: &mut Nodes, h: Handle<Population>) -> String {
        let m = self.plan.m;
        let p = &m.populations[h];
        let name = self.plan.name(h).to_string();
        let incoming: Vec<Handle<Projection>> = m
            .projections
            .iter()
            .filter(|(_, e)| e.target == h)
            .map(|(eh, _)| eh)
            .collect();
        let rank = p.shape.rank();
        let mut bias = p.kind.bias();
        // The bias rides along in the first Conv (per channel) or Gemm (per neuron) if there is
        // one; a per-step bias cannot (their bias input is one `[C]` vector for the whole batch).
        let fuse = bias.filter(|&t| !m.tensors[t].is_per_step()).and_then(|_| {
            incoming
                .iter()
                .copied()
                .find(|&eh| match &m.projections[eh].kind {
                    ProjectionKind::Conv2d(_) => rank == 3,
                    ProjectionKind::Dense(_) => rank == 1,
                    _ => false,
                })
        });
        let mut terms = Vec::new();
        for &eh in &incoming {
            let fused = if Some(eh) == fuse { bias.take() } else { None };
            terms.push(self.deliver(b, g, eh, fused));
        }
        let mut sum = match terms.len() {
            0 => {
                let n = self.batch(b, g);
                let dims = b.ints(&format!("dims.{name}"), &i64s(p.shape.dims()));
                let shape = g.op(
                    b,
                    "Concat",
                    &[&n, &dims],
                    &format!("{name}/shape"),
                    vec![attr_int("axis", 0)],
                    "",
                );
                let doc = "no projection reaches this population: its input is zero";
                g.op(
                    b,
                    "ConstantOfShape",
                    &[&shape],
                    &format!("{name}/zero"),
                    vec![attr_f32_tensor("value", 0.0)],
                    doc,
                )
            }
            1 => terms.pop().unwrap_or_default(),
            _ => {
                let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
                g.op(b, "Sum", &refs, &format!("{name}/sum"), vec![], "")
            }
        };
        if let Some(t) = bias {
            let bt = self.channel_tensor(b, g, t, rank);
            sum = g.op(
                b,
                "Add",
                &[&sum, &bt],
                &format!("{name}/plus_bias"),
                vec![],
                "",
            );
        }
        sum
    }

    fn population(&mut self, b: &mut Builder, g: &mut Nodes, h: Handle<Population>) {
        let plan = self.plan;
        let p = &plan.m.populations[h];
        let value = match &p.kind {
            // Only reached when the caller did not provide the input (it always does).
            PopulationKind::Input(_) => self.batch_of.clone(),
            PopulationKind::Analog(_) => self.input_current(b, g, h),
            PopulationKind::Readout(_) => self.readout_step(b, g, h),
            PopulationKind::Spiking(_) => self.spiking(b, g, h),
        };
        self.out[h] = Some(value);
    }
}

fn delay_note(d: u32) -> String {
    if d == 0 {
        String::new()
    } else {
        format!(", delivered {d} step(s) late")
    }
}
