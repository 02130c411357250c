//! LIF, PLIF and current-based LIF neuron layers (one charge-fire-reset step on a batch) and the
//! leaky integrators that read a network out, BPTT-friendly.

use crate::neuron_ops::{Charge, HardResetDetached};
use crate::spike::SpikeFn;
use candle_core::{Result, Tensor, Var};
use snnc_compiler::ir::SynapseAt as Synapse;
use snnc_compiler::network::{IntegratorParams, NeuronParams, Reset, UniformNeuron};

/// The leak of a layer: fixed (`lif` and `if`: the factors on the old membrane and on the
/// input, and `k`, the pull towards `v_reset`) or learned (`plif`, k = sigmoid(w)).
#[derive(Debug, Clone)]
pub enum Leak {
    Fixed { beta: f64, gain: f64, k: f64 },
    Learned(Var),
}

/// A spiking layer; its state lives in the caller's per-forward [`NeuronState`].
#[derive(Debug, Clone)]
pub struct Neuron {
    pub params: NeuronParams,
    /// The parameters' numbers (the Candle forward takes no per-neuron tensors yet).
    pub values: UniformNeuron,
    pub leak: Leak,
    /// The current between the input and the membrane (`cuba_lif`); none when the input charges
    /// the membrane directly.
    pub synapse: Option<Synapse>,
    spike: SpikeFn,
}

/// What a neuron carries from one step to the next; empty before the first step (membrane at
/// `v_reset`, current at 0).
#[derive(Debug, Clone, Default)]
pub struct NeuronState {
    pub membrane: Option<Tensor>,
    /// The synaptic current (current-based neurons only).
    pub current: Option<Tensor>,
}

impl Neuron {
    /// A fixed leak: `lif` (from `tau` or `beta`) or `if` (none).
    pub fn lif(params: NeuronParams) -> Self {
        let values = uniform(&params);
        let (beta, gain) = values.beta_gain();
        let k = values.leak();
        Self::new(params, Leak::Fixed { beta, gain, k })
    }

    pub fn plif(params: NeuronParams, w: Var) -> Self {
        Self::new(params, Leak::Learned(w))
    }

    /// A current-based LIF (`cuba_lif`): the fixed leak of [`Neuron::lif`], charged through
    /// `synapse`.
    pub fn cuba_lif(params: NeuronParams, synapse: Synapse) -> Self {
        Neuron {
            synapse: Some(synapse),
            ..Self::lif(params)
        }
    }

    /// The synaptic current a neuron's parameters describe (`alpha` or `tau_syn`, and `w_in`,
    /// 1 when absent); `None` when they describe none.
    pub fn synapse_of(params: &NeuronParams) -> Option<Synapse> {
        let values = uniform(params);
        values.synapse_alpha().map(|alpha| Synapse {
            alpha,
            w_in: values.w_in.unwrap_or(1.0),
        })
    }

    fn new(params: NeuronParams, leak: Leak) -> Self {
        let values = uniform(&params);
        let spike = SpikeFn::atan(
            values.threshold as f32,
            params.surrogate_alpha as f32,
            params.compare,
        );
        Neuron {
            params,
            values,
            leak,
            synapse: None,
            spike,
        }
    }

    /// Initial PLIF logit for a time constant: `w0 = -ln(tau0 - 1)`, so `sigmoid(w0) = 1/tau0`.
    pub fn plif_w0(tau0: f64) -> f64 {
        -(tau0 - 1.0).ln()
    }

    /// One step from the state the last step left (empty at the first), which it advances;
    /// returns the spikes. A synaptic current takes the input first and charges the membrane in
    /// its place.
    pub fn advance(&self, x: &Tensor, state: &mut NeuronState) -> Result<Tensor> {
        let charge = match &self.synapse {
            Some(synapse) => {
                let i = synaptic_current(synapse, x, state.current.as_ref())?;
                state.current = Some(i.clone());
                i
            }
            None => x.clone(),
        };
        let (s, v) = self.step(&charge, state.membrane.as_ref())?;
        state.membrane = Some(v);
        Ok(s)
    }

    /// One step: returns `(spikes, new membrane)`. `v` is `None` at the first step (membrane v_reset).
    pub fn step(&self, x: &Tensor, v: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        let (p, u) = (&self.params, &self.values);
        let vr = u.v_reset;
        // The potential the leak pulls towards (v_leak, else v_reset).
        let rest = u.v_leak.unwrap_or(vr);
        let h = match (&self.leak, v) {
            // From v_reset the leak term is k (rest - v_reset): h = gain*x + vr when they agree.
            (Leak::Fixed { gain, .. }, None) if rest == vr => x.affine(*gain, vr)?,
            (Leak::Fixed { beta, gain, k }, None) => x.apply_op2(
                &x.ones_like()?.affine(vr, 0.0)?,
                Charge {
                    a: *beta as f32,
                    b: *gain as f32,
                    c: (k * rest) as f32,
                },
            )?,
            // SpikingJelly's decay_input: h = v + k*(x - (v - vr)) = (1-k) v + k x + k vr;
            // otherwise v - k*(v - vr) + x = (1-k) v + x + k vr; snnTorch's beta v + x.
            (Leak::Fixed { beta, gain, k }, Some(v)) => x.apply_op2(
                v,
                Charge {
                    a: *beta as f32,
                    b: *gain as f32,
                    c: (k * rest) as f32,
                },
            )?,
            (Leak::Learned(w), v) => {
                let k = candle_nn::ops::sigmoid(w.as_tensor())?;
                // v - rest, and rest + (v - rest): the membrane measured from where it leaks to.
                let v_minus = match v {
                    Some(v) => v.affine(1.0, -rest)?,
                    None if rest == vr => x.zeros_like()?,
                    None => x.ones_like()?.affine(vr - rest, 0.0)?,
                };
                let base = v_minus.affine(1.0, rest)?;
                if p.decay_input {
                    (base + (x - v_minus)?.broadcast_mul(&k)?)?
                } else {
                    ((base + x)? - v_minus.broadcast_mul(&k)?)?
                }
            }
        };
        // snnTorch's delayed resets: where last step's (unreset) membrane fired, the threshold
        // comes off (`subtract_next`) or the charge is discarded for v_reset (`zero_next`:
        // h (1 - p) + vr p); the pending spike carries no gradient (snnTorch detaches it too).
        let h = match (p.reset, v) {
            (Reset::SubtractNext, Some(v)) => {
                let pending = self.spike.apply(v)?.detach();
                (h - pending.affine(u.threshold, 0.0)?)?
            }
            (Reset::ZeroNext, Some(v)) => {
                let pending = self.spike.apply(v)?.detach();
                let kept = (h * pending.affine(-1.0, 1.0)?)?;
                if vr == 0.0 {
                    kept
                } else {
                    (kept + pending.affine(vr, 0.0)?)?
                }
            }
            _ => h,
        };
        let s = self.spike.apply(&h)?;
        if p.detach_reset && p.reset == Reset::Hard {
            let v_new = h.apply_op2(&s.detach(), HardResetDetached { v_reset: vr as f32 })?;
            return Ok((s, floor_at(v_new, u.v_min)?));
        }
        let s_reset = if p.detach_reset {
            s.detach()
        } else {
            s.clone()
        };
        let v_new = match p.reset {
            // v = h*(1-s) + vr*s
            Reset::Hard => {
                let keep = s_reset.affine(-1.0, 1.0)?;
                let kept = (h * keep)?;
                if vr == 0.0 {
                    kept
                } else {
                    (kept + s_reset.affine(vr, 0.0)?)?
                }
            }
            Reset::Subtract => (h - s_reset.affine(u.threshold, 0.0)?)?,
            Reset::SubtractNext | Reset::ZeroNext | Reset::None => h,
        };
        Ok((s, floor_at(v_new, u.v_min)?))
    }
}

/// A leaky integrator (`li`, `cuba_li`): a membrane that leaks towards `rest` and never fires;
/// its output each step is the membrane. Its state lives in the caller's [`NeuronState`].
#[derive(Debug, Clone)]
pub struct LeakyIntegrator {
    /// The factor on the old membrane (measured from `rest`) and the one on the drive.
    pub beta: f64,
    pub gain: f64,
    /// Where the membrane starts and leaks to (`v_leak`, 0 when absent).
    pub rest: f64,
    /// The current between the input and the membrane (`cuba_li`).
    pub synapse: Option<Synapse>,
}

impl LeakyIntegrator {
    /// The leak of a spiking neuron with the same fields, so `li` and `lif` read `tau` / `beta`
    /// / `decay_input` alike (as lowering does).
    pub fn new(params: &IntegratorParams) -> Self {
        let n = params.as_neuron();
        let values = uniform(&n);
        let (beta, gain) = values.beta_gain();
        LeakyIntegrator {
            beta,
            gain,
            rest: values.v_leak.unwrap_or(0.0),
            synapse: Neuron::synapse_of(&n),
        }
    }

    /// One step from the state the last step left (empty at the first: membrane at `rest`,
    /// current at 0), which it advances; returns the new membrane. The f32 operations are those
    /// of `ir::Integrator::charge`, in its order: `rest + beta (v - rest)`, then `+ gain drive`.
    pub fn advance(&self, x: &Tensor, state: &mut NeuronState) -> Result<Tensor> {
        let drive = match &self.synapse {
            Some(synapse) => {
                let i = synaptic_current(synapse, x, state.current.as_ref())?;
                state.current = Some(i.clone());
                i
            }
            None => x.clone(),
        };
        let driven = if self.gain == 1.0 {
            drive
        } else {
            drive.affine(self.gain, 0.0)?
        };
        let v = match state.membrane.as_ref() {
            // `beta (v - rest)` with the candle affine's product and sum each rounded in f32.
            Some(v) => {
                let from_rest = if self.rest == 0.0 {
                    v.clone()
                } else {
                    v.affine(1.0, -self.rest)?
                };
                (from_rest.affine(self.beta, self.rest)? + driven)?
            }
            // From `rest` the leaked term is `rest` itself, exactly.
            None if self.rest == 0.0 => driven,
            None => driven.affine(1.0, self.rest)?,
        };
        state.membrane = Some(v.clone());
        Ok(v)
    }
}

/// The current after this step's input `x`, `alpha i + w_in x` in f32 as
/// [`Synapse::update`] states it: the two products rounded separately, then added. `i` is `None`
/// at the first step, where the current is 0 and the sum is `w_in x` exactly; a `w_in` of 1 is
/// no product at all.
fn synaptic_current(synapse: &Synapse, x: &Tensor, i: Option<&Tensor>) -> Result<Tensor> {
    let entering = if synapse.w_in == 1.0 {
        x.clone()
    } else {
        x.affine(synapse.w_in, 0.0)?
    };
    match i {
        Some(i) => i.affine(synapse.alpha, 0.0)? + entering,
        None => Ok(entering),
    }
}

/// The numbers of a layer's parameters; the model refuses a layer whose parameters name
/// tensors before it builds one (`model::per_neuron_refusal`).
fn uniform(params: &NeuronParams) -> UniformNeuron {
    params
        .uniform()
        .expect("PENDING(pn-candle): per-neuron parameters are refused when the model is built")
}

/// Sinabs' lower bound on the kept membrane, `relu(v - v_min) + v_min`; `v` itself without one.
fn floor_at(v: Tensor, v_min: Option<f64>) -> Result<Tensor> {
    match v_min {
        Some(lo) => v.affine(1.0, -lo)?.relu()?.affine(1.0, lo),
        None => Ok(v),
    }
}
