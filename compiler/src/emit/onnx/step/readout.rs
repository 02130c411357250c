//! The readout's step as ONNX nodes: its value (`I + bias`, or the membrane of the leaky
//! integrator it charges) and the accumulator's reduction of the values over the steps.

use super::Emitter;
use super::spiking::{add_drive, leak, times_gain};
use crate::emit::onnx::plan::describe;
use crate::emit::onnx::proto::{Builder, Nodes};
use crate::ir::{Handle, Integrator, Population, PopulationKind, Reduction};

impl Emitter<'_, '_> {
    /// The step's readout value `y`, folded into the accumulator: added (`Sum`, `Mean`), kept
    /// as the larger (`Max`) or taking its place (`Last`).
    pub(super) fn readout_step(
        &mut self,
        b: &mut Builder,
        g: &mut Nodes,
        h: Handle<Population>,
    ) -> String {
        let plan = self.plan;
        let PopulationKind::Readout(r) = &plan.m.populations[h].kind else {
            return String::new();
        };
        let name = plan.name(h).to_string();
        let cur = self.input_current(b, g, h);
        let y = match r.integrator {
            Some(li) => self.integrate(b, g, h, &li, cur),
            None => cur,
        };
        let acc = self.states[plan.acc_state].clone();
        let mode = crate::text::readout_name(r.mode);
        let mut fold = |op: &str, what: &str| {
            g.op(
                b,
                op,
                &[&acc, &y],
                &format!("{name}/acc"),
                vec![],
                &format!("readout `{name}` ({h}, {mode}): {what}"),
            )
        };
        let next = match r.mode.reduction() {
            Reduction::Sum | Reduction::Mean => fold("Add", "add this step's value to the sum"),
            Reduction::Max => fold(
                "Max",
                "the larger of the maximum so far and this step's value",
            ),
            Reduction::Last => y.clone(),
        };
        self.next[plan.acc_state] = Some(next.clone());
        self.acc = Some(next);
        self.readout = Some(y.clone());
        y
    }

    /// A leaky integrator's membrane after this step: with a synapse the current
    /// `i = alpha i + w_in x` first, then `v = rest + beta (v - rest) + gain drive` in
    /// `ir::IntegratorAt::step`'s order (the spiking charge's nodes, with nothing left out that
    /// is not exact to leave out; per-neuron parameters as initializers of the readout's shape).
    /// The membrane is never reset: the charged one is the next state.
    fn integrate(
        &mut self,
        b: &mut Builder,
        g: &mut Nodes,
        h: Handle<Population>,
        li: &Integrator,
        x: String,
    ) -> String {
        let plan = self.plan;
        let p = &plan.m.populations[h];
        let name = plan.name(h).to_string();
        let show = |p| describe(p, &plan.per_neuron);
        let params = format!(
            "leaky integrator `{name}` ({h}) {}: beta={} gain={} rest={}{}",
            p.shape,
            show(li.beta),
            show(li.gain),
            show(li.rest),
            li.synapse
                .map(|syn| format!(" alpha={} w_in={}", show(syn.alpha), show(syn.w_in)))
                .unwrap_or_default()
        );
        let drive = self.synaptic_current(b, g, h, li.synapse, &params, x);
        let gain = self.param_unless(b, h, "gain", li.gain, 1.0);
        let driven = times_gain(b, g, &name, drive, gain.as_deref());
        let rest = self.param_unless(b, h, "rest", li.rest, 0.0);
        // Plan::new gives every integrator a membrane state.
        let si = plan.membrane_state[h].unwrap_or_default();
        let v = self.states[si].clone();
        let beta = self.param_unless(b, h, "beta", li.beta, 1.0);
        let kept = leak(b, g, &name, v, rest.as_deref(), beta.as_deref());
        let charged = add_drive(b, g, &name, Some(kept), rest.as_deref(), driven, &params);
        self.next[si] = Some(charged.clone());
        charged
    }
}
