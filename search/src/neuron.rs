//! LIF and PLIF neuron layers: one charge-fire-reset step on a batch, BPTT-friendly.

use crate::neuron_ops::{Charge, HardResetDetached};
use crate::spike::SpikeFn;
use candle_core::{Result, Tensor, Var};
use snnc_compiler::network::{NeuronParams, Reset};

/// The leak of a layer: fixed (`lif` and `if`: the factors on the old membrane and on the
/// input, and `k`, the pull towards `v_reset`) or learned (`plif`, k = sigmoid(w)).
#[derive(Debug, Clone)]
pub enum Leak {
    Fixed { beta: f64, gain: f64, k: f64 },
    Learned(Var),
}

/// A spiking layer; the membrane lives in the caller's per-forward state.
#[derive(Debug, Clone)]
pub struct Neuron {
    pub params: NeuronParams,
    pub leak: Leak,
    spike: SpikeFn,
}

impl Neuron {
    /// A fixed leak: `lif` (from `tau` or `beta`) or `if` (none).
    pub fn lif(params: NeuronParams) -> Self {
        let (beta, gain) = params.beta_gain();
        let k = params.leak();
        Self::new(params, Leak::Fixed { beta, gain, k })
    }

    pub fn plif(params: NeuronParams, w: Var) -> Self {
        Self::new(params, Leak::Learned(w))
    }

    fn new(params: NeuronParams, leak: Leak) -> Self {
        let spike = SpikeFn::atan(
            params.threshold as f32,
            params.surrogate_alpha as f32,
            params.compare,
        );
        Neuron {
            params,
            leak,
            spike,
        }
    }

    /// Initial PLIF logit for a time constant: `w0 = -ln(tau0 - 1)`, so `sigmoid(w0) = 1/tau0`.
    pub fn plif_w0(tau0: f64) -> f64 {
        -(tau0 - 1.0).ln()
    }

    /// One step: returns `(spikes, new membrane)`. `v` is `None` at the first step (membrane v_reset).
    pub fn step(&self, x: &Tensor, v: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        let p = &self.params;
        let vr = p.v_reset;
        // The potential the leak pulls towards (v_leak, else v_reset).
        let rest = p.v_leak.unwrap_or(vr);
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
        // snnTorch's delayed reset: the threshold comes off where last step's (unreset)
        // membrane fired; the pending spike carries no gradient (snnTorch detaches it too).
        let h = match (p.reset, v) {
            (Reset::SubtractNext, Some(v)) => {
                let pending = self.spike.apply(v)?.detach();
                (h - pending.affine(p.threshold, 0.0)?)?
            }
            _ => h,
        };
        let s = self.spike.apply(&h)?;
        if p.detach_reset && p.reset == Reset::Hard {
            let v_new = h.apply_op2(&s.detach(), HardResetDetached { v_reset: vr as f32 })?;
            return Ok((s, floor_at(v_new, p.v_min)?));
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
            Reset::Subtract => (h - s_reset.affine(p.threshold, 0.0)?)?,
            Reset::SubtractNext | Reset::None => h,
        };
        Ok((s, floor_at(v_new, p.v_min)?))
    }
}

/// Sinabs' lower bound on the kept membrane, `relu(v - v_min) + v_min`; `v` itself without one.
fn floor_at(v: Tensor, v_min: Option<f64>) -> Result<Tensor> {
    match v_min {
        Some(lo) => v.affine(1.0, -lo)?.relu()?.affine(1.0, lo),
        None => Ok(v),
    }
}
