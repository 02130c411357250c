//! One step of one population: seed its input, deliver its due projections through their
//! kernels, then update (charge and fire, emit graded events, or fold the readout's value,
//! its input or its integrator's membrane, into the logits).

use super::{SampleRun, State};
use crate::neuron::{bits_to_idx, fire};
use crate::ops::{DenseGraded, Graded, Spikes, Work};
use crate::plan::{Integrator, Kind, PerNeuron, Plan};
use snnc_compiler::ir::Reduction;

impl Plan {
    /// The slot population `p` writes (and zero-delay consumers read) at step `t`.
    #[inline]
    pub(super) fn current(&self, st: &State, p: usize, t: usize) -> usize {
        let pop = &self.pops[p];
        st.slot_base[p] + if pop.constant { 0 } else { t % pop.depth }
    }

    /// Deliver projection `e` (source events of step `t - delay`, or the constant slot) into `out`.
    pub(super) fn deliver(&self, st: &State, e: usize, t: usize, out: &mut [f32]) -> (Work, u64) {
        let proj = &self.projs[e];
        let src = &self.pops[proj.source];
        let slot = &st.slots[self.current(
            st,
            proj.source,
            if src.constant { 0 } else { t - proj.delay },
        )];
        let work = if src.binary() {
            proj.op.scatter(&Spikes(&slot.idx), out, t, self.simd)
        } else if slot.dense {
            proj.op.scatter(
                &DenseGraded {
                    val: &slot.val,
                    count: slot.events,
                },
                out,
                t,
                self.simd,
            )
        } else {
            proj.op.scatter(
                &Graded {
                    idx: &slot.idx,
                    val: &slot.val,
                },
                out,
                t,
                self.simd,
            )
        };
        (work, slot.events as u64)
    }

    pub(super) fn record(&self, out: &mut SampleRun, e: usize, t: usize, (w, events): (Work, u64)) {
        let s = &mut out.projs[e * self.timesteps + t];
        s.pairs += w.pairs;
        s.effective += w.effective;
        s.events += events;
    }

    /// The hoisted drive of population `p` at step `t`: the latest one due, if any.
    pub(super) fn seed_of<'a>(&self, st: &'a State, p: usize, t: usize) -> Option<&'a [f32]> {
        let due = self.pops[p]
            .drive_delays
            .iter()
            .take_while(|&&d| d as usize <= t)
            .count();
        if due > 0 {
            Some(&st.drives[p][due - 1])
        } else {
            None
        }
    }

    /// Start population `p`'s input at step `t` (see [`seed`]); a per-step bias takes its row
    /// `t` and, as hoisted drives leave it out, is added to the drive due.
    #[inline]
    fn seed_input(&self, st: &State, p: usize, t: usize, buf: &mut [f32]) {
        let pop = &self.pops[p];
        let drive = self.seed_of(st, p, t);
        match (drive, pop.step_bias_row(t)) {
            (Some(d), Some(b)) => buf
                .iter_mut()
                .zip(d.iter().zip(b))
                .for_each(|(o, (d, b))| *o = d + b),
            (None, Some(b)) => seed(buf, Some(b), None, bias_period(pop)),
            (_, None) => seed(buf, pop.bias.as_deref(), drive, bias_period(pop)),
        }
    }

    pub(super) fn step_population(
        &self,
        st: &mut State,
        p: usize,
        t: usize,
        input: &[f32],
        out: &mut SampleRun,
    ) {
        let pop = &self.pops[p];
        let cur = self.current(st, p, t);
        match &pop.kind {
            Kind::Input { .. } => {
                let n = pop.numel();
                let slot = &mut st.slots[cur];
                slot.clear_values();
                slot.load_frame(&pop.layout, &input[t * n..(t + 1) * n], self.simd);
            }
            Kind::Analog => {
                let mut val = std::mem::take(&mut st.slots[cur].val);
                self.seed_input(st, p, t, &mut val);
                self.gather(st, p, t, &mut val, out);
                st.slots[cur].val = val;
                st.slots[cur].index_graded(self.simd);
            }
            Kind::Spiking(_) if !st.trains[p].is_empty() => {
                let words = pop.numel().div_ceil(64);
                let bits = &st.trains[p][t * words..(t + 1) * words];
                let idx = &mut st.slots[cur].idx;
                bits_to_idx(bits, idx, pop.numel(), self.simd);
                st.slots[cur].events = idx.len();
                out.pops[p * self.timesteps + t].near = st.train_near[p][t];
            }
            Kind::Spiking(lif) => {
                let mut scratch = std::mem::take(&mut st.scratch);
                let acc = &mut scratch[..pop.numel()];
                self.seed_input(st, p, t, acc);
                self.gather(st, p, t, acc, out);
                let mut idx = std::mem::take(&mut st.slots[cur].idx);
                out.pops[p * self.timesteps + t].near = fire(
                    lif,
                    &mut st.membrane[p],
                    acc,
                    &mut st.current[p],
                    &mut idx,
                    self.simd,
                );
                st.slots[cur].events = idx.len();
                st.slots[cur].idx = idx;
                st.scratch = scratch;
            }
            Kind::Readout { mode, integrator } => {
                let mut acc = std::mem::take(&mut st.readout_in);
                self.seed_input(st, p, t, &mut acc);
                self.gather(st, p, t, &mut acc, out);
                let how = mode.reduction();
                match integrator {
                    Some(li) => {
                        integrate(li, &mut st.membrane[p], &mut st.current[p], &acc);
                        reduce(&mut st.logits, &st.membrane[p], t, how);
                    }
                    None => reduce(&mut st.logits, &acc, t, how),
                }
                st.readout_in = acc;
            }
        }
    }

    /// Every per-step projection into `p` that is due at `t`.
    fn gather(&self, st: &State, p: usize, t: usize, buf: &mut [f32], out: &mut SampleRun) {
        for &e in &self.pops[p].incoming {
            if t >= self.projs[e].delay {
                let done = self.deliver(st, e, t, buf);
                self.record(out, e, t, done);
            }
        }
    }
}

/// One step of a leaky-integrator readout: with a synapse `i = alpha i + w_in x` (two products,
/// then their sum) and the drive is `i`, else `x`; then `v = rest + beta (v - rest) + gain
/// drive`, the operations in `ir::IntegratorAt::charge`'s order. A readout is a handful of
/// values, so one scalar loop (never contracted into an FMA) serves every build.
fn integrate(li: &Integrator, v: &mut [f32], current: &mut [f32], input: &[f32]) {
    if let Some(each) = &li.per_neuron {
        return integrate_each(each, v, current, input);
    }
    let (rest, beta, gain) = (li.rest, li.beta, li.gain);
    let charge = |v: f32, x: f32| rest + beta * (v - rest) + gain * x;
    match li.synapse {
        Some(syn) => {
            for ((v, i), x) in v.iter_mut().zip(current.iter_mut()).zip(input) {
                *i = syn.alpha * *i + syn.w_in * *x;
                *v = charge(*v, *i);
            }
        }
        None => v
            .iter_mut()
            .zip(input)
            .for_each(|(v, x)| *v = charge(*v, *x)),
    }
}

/// [`integrate`] with each neuron's own parameters (`ir::IntegratorAt::step`).
fn integrate_each(each: &PerNeuron, v: &mut [f32], current: &mut [f32], input: &[f32]) {
    let synapse = !each.alpha.is_empty();
    for (k, (v, x)) in v.iter_mut().zip(input).enumerate() {
        let x = if synapse {
            current[k] = each.alpha[k] * current[k] + each.w_in[k] * *x;
            current[k]
        } else {
            *x
        };
        let rest = each.rest[k];
        *v = rest + each.beta[k] * (*v - rest) + each.gain[k] * x;
    }
}

/// Fold step `t`'s readout values `y` into the logits, as `reference::reduce` does in f64
/// (the mean sums here; `Plan::run_sample` divides at the end).
fn reduce(logits: &mut [f64], y: &[f32], t: usize, how: Reduction) {
    for (l, y) in logits.iter_mut().zip(y) {
        let y = f64::from(*y);
        *l = match how {
            Reduction::Sum | Reduction::Mean => *l + y,
            Reduction::Last => y,
            Reduction::Max if t == 0 => y,
            Reduction::Max => l.max(y),
        };
    }
}

/// Start a step's input: the hoisted seed (which includes the bias), else the bias, else zero.
///
/// `period` is the bias's period in storage order (the channel count of a `[C, H, W]`
/// population, channel-last; the whole population for a `[N]` one). When it divides 64, the
/// first 64 bias values are held in registers and stored over and over rather than the whole
/// expanded bias streamed in: a step's seeding then reads 256 bytes, not a population's worth.
pub(super) fn seed(buf: &mut [f32], bias: Option<&[f32]>, drive: Option<&[f32]>, period: usize) {
    match (drive, bias) {
        (Some(d), _) => buf.copy_from_slice(d),
        (None, Some(b)) if period > 0 && 64 % period == 0 && b.len() >= 64 => {
            let Ok(pattern) = <[f32; 64]>::try_from(&b[..64]) else {
                return buf.copy_from_slice(b);
            };
            let full = buf.len() / 64 * 64;
            for c in buf.chunks_exact_mut(64) {
                c.copy_from_slice(&pattern);
            }
            buf[full..].copy_from_slice(&b[full..]);
        }
        (None, Some(b)) => buf.copy_from_slice(b),
        (None, None) => buf.fill(0.0),
    }
}

/// The period of population `p`'s bias in storage order (see [`seed`]).
pub(super) fn bias_period(pop: &crate::plan::Pop) -> usize {
    if pop.layout.flat {
        pop.numel()
    } else {
        pop.layout.c
    }
}
