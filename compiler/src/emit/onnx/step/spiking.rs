//! A spiking population's step as ONNX nodes: the synaptic current of a current-based LIF,
//! charge (leak, input gain, a pending delayed reset), fire, reset, and the per-step spike count.
//! A parameter that differs per neuron is an initializer of the population's shape in place of
//! the scalar: the same nodes, broadcasting per neuron.

use super::Emitter;
use crate::emit::onnx::plan::{describe, has_membrane};
use crate::emit::onnx::proto::{Builder, Nodes, attr_int};
use crate::ir::{Compare, Handle, Population, PopulationKind, Reset, Spiking, Synapse};

impl Emitter<'_, '_> {
    /// LIF charge, fire, reset: `v = v_reset + beta (v - v_reset) + gain (I + bias)`,
    /// `s = v >= threshold` (or `>`), then `v = v_reset` (hard) or `v -= threshold` where `s`,
    /// in `ir::SpikingAt::charge` and `after_fire`'s order. With a synapse, the synaptic current
    /// takes the place of `I + bias`.
    pub(super) fn spiking(
        &mut self,
        b: &mut Builder,
        g: &mut Nodes,
        h: Handle<Population>,
    ) -> String {
        let plan = self.plan;
        let p = &plan.m.populations[h];
        let PopulationKind::Spiking(s) = &p.kind else {
            return String::new();
        };
        let show = |p| describe(p, &plan.per_neuron);
        let lif = Lif {
            s,
            thr: self.param(b, h, "threshold", s.threshold),
            name: plan.name(h).to_string(),
            params: format!(
                "LIF `{}` ({h}) {}: beta={} gain={} threshold={} v_reset={} reset={} fire={}{}",
                plan.name(h),
                p.shape,
                show(s.beta),
                show(s.gain),
                show(s.threshold),
                show(s.v_reset),
                crate::text::reset_name(s.reset),
                crate::text::compare_name(s.fire),
                s.synapse
                    .map(|syn| format!(" alpha={} w_in={}", show(syn.alpha), show(syn.w_in)))
                    .unwrap_or_default()
            ),
        };
        let name = &lif.name;
        let (charged, v_reset) = self.charge(b, g, h, &lif);
        let thr = &lif.thr;
        let cmp = match s.fire {
            Compare::Ge => "GreaterOrEqual",
            Compare::Gt => "Greater",
        };
        let fired = g.op(
            b,
            cmp,
            &[&charged, thr],
            &format!("{name}/fired"),
            vec![],
            &format!("fire: {}", lif.params),
        );
        let spikes = g.op(
            b,
            "Cast",
            &[&fired],
            &format!("{name}/spikes"),
            vec![attr_int("to", 1)],
            "binary spikes as 0/1",
        );
        if let Some(si) = plan.membrane_state[h] {
            let fire = Fire {
                fired: &fired,
                spikes: &spikes,
                charged: &charged,
                thr,
            };
            let kept = reset(b, g, &lif, v_reset, fire);
            self.next[si] = Some(match s.v_min {
                Some(lo) => {
                    let lo = self.param(b, h, "v_min", lo);
                    floor_at(b, g, &lif, kept, &lo)
                }
                None => kept,
            });
        }
        let count = spike_count(b, g, p, name, &spikes);
        self.counts.insert(h, count);
        self.spikes.insert(h, spikes.clone());
        spikes
    }

    /// The membrane after charging, `rest + beta (v - rest) + gain (I + bias)` (`rest`: `v_leak`,
    /// else `v_reset`), and the `v_reset` constant when it is not zero.
    fn charge(
        &mut self,
        b: &mut Builder,
        g: &mut Nodes,
        h: Handle<Population>,
        lif: &Lif,
    ) -> (String, Option<String>) {
        let (s, name) = (lif.s, &lif.name);
        let p = &self.plan.m.populations[h];
        let cur = self.input_current(b, g, h);
        let cur = self.synaptic_current(b, g, h, s.synapse, &lif.params, cur);
        let gain = self.param_unless(b, h, "gain", s.gain, 1.0);
        let driven = times_gain(b, g, name, cur, gain.as_deref());
        let v_reset = self.param_unless(b, h, "v_reset", s.v_reset, 0.0);
        // The potential the leak pulls towards: v_leak, else v_reset (omitted when zero).
        let rest = match s.v_leak {
            Some(v) => self.param_unless(b, h, "v_leak", v, 0.0),
            None => v_reset.clone(),
        };
        // The leaky part: rest + beta (v - rest); absent when beta = 0 (no memory).
        let kept = self.plan.membrane_state[h]
            .filter(|_| has_membrane(p))
            .map(|si| {
                let v = self.states[si].clone();
                let beta = self.param_unless(b, h, "beta", s.beta, 1.0);
                leak(b, g, name, v, rest.as_deref(), beta.as_deref())
            });
        let charged = add_drive(b, g, name, kept, rest.as_deref(), driven, &lif.params);
        let charged = match self.plan.membrane_state[h] {
            Some(si) if s.reset.is_delayed() => {
                let v_reset = v_reset.clone();
                self.pending_reset(b, g, lif, &self.states[si].clone(), charged, v_reset)
            }
            _ => charged,
        };
        (charged, v_reset)
    }

    /// What charges the membrane: `I + bias` itself, or with a synapse the current it enters,
    /// `i = alpha i + w_in (I + bias)` (two products rounded apart, then added, as
    /// `ir::SynapseAt::update`; the `w_in` product is left out only when `w_in` = 1 for every
    /// neuron, which is exact). The new current is also the current state's next value.
    pub(super) fn synaptic_current(
        &mut self,
        b: &mut Builder,
        g: &mut Nodes,
        h: Handle<Population>,
        synapse: Option<Synapse>,
        params: &str,
        input: String,
    ) -> String {
        let (Some(syn), Some(si)) = (synapse, self.plan.current_state[h]) else {
            return input;
        };
        let name = self.plan.name(h).to_string();
        let alpha = self.param(b, h, "alpha", syn.alpha);
        let old = self.states[si].clone();
        let decayed = g.op(
            b,
            "Mul",
            &[&old, &alpha],
            &format!("{name}/current_decay"),
            vec![],
            "",
        );
        let entering = if let Some(w_in) = self.param_unless(b, h, "w_in", syn.w_in, 1.0) {
            g.op(
                b,
                "Mul",
                &[&input, &w_in],
                &format!("{name}/current_in"),
                vec![],
                "",
            )
        } else {
            input
        };
        let current = g.op(
            b,
            "Add",
            &[&decayed, &entering],
            &format!("{name}/current"),
            vec![],
            &format!("synaptic current: {params}"),
        );
        self.next[si] = Some(current.clone());
        current
    }

    /// snnTorch's delayed resets: where the stored membrane (kept unreset) fired last step, the
    /// threshold comes off the charged membrane (`subtract_next`) or the charge is replaced by
    /// `v_reset` (`zero_next`).
    fn pending_reset(
        &mut self,
        b: &mut Builder,
        g: &mut Nodes,
        lif: &Lif,
        stored: &str,
        charged: String,
        v_reset: Option<String>,
    ) -> String {
        let (name, thr) = (&lif.name, &lif.thr);
        let cmp = match lif.s.fire {
            Compare::Ge => "GreaterOrEqual",
            Compare::Gt => "Greater",
        };
        let pending = g.op(
            b,
            cmp,
            &[stored, thr],
            &format!("{name}/pending_reset"),
            vec![],
            "reset pending from last step: the stored membrane fired",
        );
        let (lowered, what) = if lif.s.reset == Reset::ZeroNext {
            let vr = v_reset.unwrap_or_else(|| b.scalar(&format!("{name}.v_reset"), 0.0));
            (vr, "delayed zero reset")
        } else {
            let lowered = g.op(
                b,
                "Sub",
                &[&charged, thr],
                &format!("{name}/v_minus_threshold"),
                vec![],
                "",
            );
            (lowered, "delayed subtractive reset")
        };
        g.op(
            b,
            "Where",
            &[&pending, &lowered, &charged],
            &format!("{name}/v_pending"),
            vec![],
            &format!("{what}: {}", lif.params),
        )
    }
}

/// `gain x`, the product left out when `gain` is 1 for every neuron (`None`; exact).
pub(super) fn times_gain(
    b: &mut Builder,
    g: &mut Nodes,
    name: &str,
    x: String,
    gain: Option<&str>,
) -> String {
    match gain {
        Some(k) => g.op(b, "Mul", &[&x, k], &format!("{name}/gain"), vec![], ""),
        None => x,
    }
}

/// The leaky part of a charge, `rest + beta (v - rest)`: the subtraction and the addition are
/// left out when `rest` is zero for every neuron (`None`), the product when `beta` is 1
/// (`None`), both exact.
pub(super) fn leak(
    b: &mut Builder,
    g: &mut Nodes,
    name: &str,
    v: String,
    rest: Option<&str>,
    beta: Option<&str>,
) -> String {
    let rel = match rest {
        Some(vr) => g.op(b, "Sub", &[&v, vr], &format!("{name}/v_rel"), vec![], ""),
        None => v,
    };
    let leaked = match beta {
        Some(beta) => g.op(b, "Mul", &[&rel, beta], &format!("{name}/leak"), vec![], ""),
        None => rel,
    };
    match rest {
        Some(vr) => g.op(
            b,
            "Add",
            &[vr, &leaked],
            &format!("{name}/rest_plus"),
            vec![],
            "",
        ),
        None => leaked,
    }
}

/// The charged membrane: the leaky part `kept` (or `rest` when there is no memory) plus the
/// drive, added last as in `SpikingAt::charge` and `IntegratorAt::charge`.
pub(super) fn add_drive(
    b: &mut Builder,
    g: &mut Nodes,
    name: &str,
    kept: Option<String>,
    rest: Option<&str>,
    driven: String,
    params: &str,
) -> String {
    let base = match (kept, rest) {
        (Some(k), _) => k,
        (None, Some(vr)) => vr.to_string(),
        (None, None) => return driven,
    };
    g.op(
        b,
        "Add",
        &[&base, &driven],
        &format!("{name}/v"),
        vec![],
        &format!("charge: {params}"),
    )
}

/// A spiking population being emitted: its parameters, graph name and the description its
/// nodes carry.
struct Lif<'a> {
    s: &'a Spiking,
    /// The threshold's initializer (a scalar, or one value per neuron).
    thr: String,
    name: String,
    params: String,
}

/// The values of one step's firing that the reset reads.
struct Fire<'a> {
    /// Boolean `v >= threshold` (or `>`).
    fired: &'a str,
    /// `fired` as 0/1.
    spikes: &'a str,
    /// The membrane before the reset.
    charged: &'a str,
    thr: &'a str,
}

/// The membrane after the reset: `v_reset` where fired (hard), or `v - threshold * s`, or the
/// charged membrane itself (`subtract_next` resets at the next charge, `none` never).
fn reset(b: &mut Builder, g: &mut Nodes, lif: &Lif, v_reset: Option<String>, f: Fire) -> String {
    let (name, params) = (&lif.name, &lif.params);
    match lif.s.reset {
        Reset::Hard => {
            let vr = v_reset.unwrap_or_else(|| b.scalar(&format!("{name}.v_reset"), 0.0));
            g.op(
                b,
                "Where",
                &[f.fired, &vr, f.charged],
                &format!("{name}/reset"),
                vec![],
                &format!("hard reset: {params}"),
            )
        }
        Reset::Subtract => {
            let drop = g.op(
                b,
                "Mul",
                &[f.spikes, f.thr],
                &format!("{name}/drop"),
                vec![],
                "",
            );
            g.op(
                b,
                "Sub",
                &[f.charged, &drop],
                &format!("{name}/reset"),
                vec![],
                &format!("subtractive reset: {params}"),
            )
        }
        Reset::SubtractNext | Reset::ZeroNext | Reset::None => f.charged.to_string(),
    }
}

/// Sinabs' lower bound on the kept membrane: `Relu(v - v_min) + v_min` (`lo`: the `v_min`
/// initializer).
fn floor_at(b: &mut Builder, g: &mut Nodes, lif: &Lif, v: String, lo: &str) -> String {
    let name = &lif.name;
    let above = g.op(
        b,
        "Sub",
        &[&v, lo],
        &format!("{name}/above_v_min"),
        vec![],
        "",
    );
    let relu = g.op(
        b,
        "Relu",
        &[&above],
        &format!("{name}/relu_v_min"),
        vec![],
        "",
    );
    g.op(
        b,
        "Add",
        &[&relu, lo],
        &format!("{name}/floored"),
        vec![],
        &format!("lower bound v_min (Sinabs' min_v_mem): {}", lif.params),
    )
}

/// Spikes of the layer this step, per sample, as int64 `[N]`.
fn spike_count(b: &mut Builder, g: &mut Nodes, p: &Population, name: &str, spikes: &str) -> String {
    let axes: Vec<i64> = (1..=p.shape.rank() as i64).collect();
    let axes = b.ints(&format!("axes.1to{}", p.shape.rank()), &axes);
    let total = g.op(
        b,
        "ReduceSum",
        &[spikes, &axes],
        &format!("{name}/spike_total"),
        vec![attr_int("keepdims", 0)],
        "",
    );
    g.op(
        b,
        "Cast",
        &[&total],
        &format!("{name}/spike_count"),
        vec![attr_int("to", 7)],
        &format!("spikes of `{name}` this step, per sample"),
    )
}
