//! LIF, PLIF and current-based LIF neuron layers (one charge-fire-reset step on a batch) and the
//! leaky integrators that read a network out, BPTT-friendly.
//!
//! A layer whose fields are all numbers runs exactly as it always has. A layer whose fields name
//! weights tensors (per-channel or per-neuron parameters) holds each such value as a constant
//! tensor of its population's shape, broadcast over the batch, and follows `ir::SpikingAt`'s
//! operation order throughout (`ChargeEach`), so it matches the reference interpreter neuron by
//! neuron. Per-neuron values are constants, not `Var`s: training leaves them as given (learning
//! them is a later feature), while every other parameter of the network trains as usual.

use crate::neuron_ops::{Charge, ChargeEach, Factor, HardResetDetached};
use crate::spike::{SpikeEachFn, SpikeFn};
use candle_core::{Device, Result, Tensor, Var};
use snnc_compiler::ir::SynapseAt;
use snnc_compiler::network::{
    IntegratorValues, NeuronParams, NeuronValues, Reset, UniformNeuron, Values,
};
use std::sync::Arc;

/// A neuron parameter as the forward reads it: one number for the layer, or one value per
/// neuron held twice, for the fused ops (`values`, row-major over the population) and as a
/// constant `[1, ...population]` tensor that broadcasts over the batch (`tensor`).
#[derive(Debug, Clone)]
pub enum NeuronParam {
    Uniform(f64),
    PerNeuron { values: Arc<[f32]>, tensor: Tensor },
}

impl NeuronParam {
    /// A parameter of a population of shape `dims` from the format's values; per-neuron values
    /// that are all one value become that number (as lowering makes them one IR value).
    pub fn new(values: &Values, dims: &[usize], device: &Device) -> Result<Self> {
        match values {
            Values::Uniform(v) => Ok(NeuronParam::Uniform(*v)),
            Values::PerNeuron(data)
                if data.windows(2).all(|w| w[0].to_bits() == w[1].to_bits()) =>
            {
                Ok(NeuronParam::Uniform(
                    data.first().map_or(0.0, |&v| f64::from(v)),
                ))
            }
            Values::PerNeuron(data) => {
                let shape: Vec<usize> = std::iter::once(1).chain(dims.iter().copied()).collect();
                Ok(NeuronParam::PerNeuron {
                    values: Arc::from(data.as_slice()),
                    tensor: Tensor::from_slice(data, shape, device)?,
                })
            }
        }
    }

    /// The layer's one value, if it has one.
    pub fn uniform(&self) -> Option<f64> {
        match self {
            NeuronParam::Uniform(v) => Some(*v),
            NeuronParam::PerNeuron { .. } => None,
        }
    }

    /// The parameter as a fused op reads it.
    pub fn factor(&self) -> Factor {
        match self {
            NeuronParam::Uniform(v) => Factor::One(*v as f32),
            NeuronParam::PerNeuron { values, .. } => Factor::Each(values.clone()),
        }
    }

    /// `p t`, each product rounded in f32.
    fn times(&self, t: &Tensor) -> Result<Tensor> {
        match self {
            NeuronParam::Uniform(v) => t.affine(*v, 0.0),
            NeuronParam::PerNeuron { tensor, .. } => t.broadcast_mul(tensor),
        }
    }

    /// `t + p`.
    fn added_to(&self, t: &Tensor) -> Result<Tensor> {
        match self {
            NeuronParam::Uniform(v) => t.affine(1.0, *v),
            NeuronParam::PerNeuron { tensor, .. } => t.broadcast_add(tensor),
        }
    }

    /// `t - p`.
    fn subtracted_from(&self, t: &Tensor) -> Result<Tensor> {
        match self {
            NeuronParam::Uniform(v) => t.affine(1.0, -v),
            NeuronParam::PerNeuron { tensor, .. } => t.broadcast_sub(tensor),
        }
    }

    /// The parameter at every neuron of a batch shaped like `like`.
    fn filled_like(&self, like: &Tensor) -> Result<Tensor> {
        match self {
            NeuronParam::Uniform(v) => like.ones_like()?.affine(*v, 0.0),
            NeuronParam::PerNeuron { tensor, .. } => tensor.broadcast_as(like.shape()),
        }
    }
}

/// The leak of a layer: fixed (`lif` and `if` given by numbers: the factors on the old membrane
/// and on the input, and `k`, the pull towards `v_reset`), per neuron (a layer whose fields
/// name tensors: `ir::SpikingAt::charge` with its factors, any of them per neuron) or learned
/// (`plif`, k = sigmoid(w)).
#[derive(Debug, Clone)]
pub enum Leak {
    Fixed { beta: f64, gain: f64, k: f64 },
    PerNeuron(ChargeEach),
    Learned(Var),
}

/// The synaptic current of a current-based layer: `i = alpha i + w_in x` ([`SynapseAt::update`]).
#[derive(Debug, Clone)]
pub struct Current {
    pub alpha: NeuronParam,
    pub w_in: NeuronParam,
}

impl From<SynapseAt> for Current {
    fn from(s: SynapseAt) -> Self {
        Current {
            alpha: NeuronParam::Uniform(s.alpha),
            w_in: NeuronParam::Uniform(s.w_in),
        }
    }
}

/// The spike function of a layer: one threshold, or one per neuron.
#[derive(Debug, Clone)]
enum Spike {
    One(SpikeFn),
    Each(SpikeEachFn),
}

impl Spike {
    fn new(threshold: &NeuronParam, params: &NeuronParams) -> Self {
        let alpha = params.surrogate_alpha as f32;
        match threshold {
            NeuronParam::Uniform(th) => {
                Spike::One(SpikeFn::atan(*th as f32, alpha, params.compare))
            }
            NeuronParam::PerNeuron { values, .. } => Spike::Each(SpikeEachFn {
                thresholds: values.clone(),
                alpha,
                compare: params.compare,
            }),
        }
    }

    fn apply(&self, v: &Tensor) -> Result<Tensor> {
        match self {
            Spike::One(f) => f.apply(v),
            Spike::Each(f) => f.apply(v),
        }
    }
}

/// A spiking layer; its state lives in the caller's per-forward [`NeuronState`].
#[derive(Debug, Clone)]
pub struct Neuron {
    pub params: NeuronParams,
    pub threshold: NeuronParam,
    /// The initial membrane and the hard-reset value.
    pub v_reset: NeuronParam,
    /// The potential the leak pulls towards: `v_leak`, else `v_reset`.
    pub rest: NeuronParam,
    pub v_min: Option<NeuronParam>,
    pub leak: Leak,
    /// The current between the input and the membrane (`cuba_lif`); none when the input charges
    /// the membrane directly.
    pub synapse: Option<Current>,
    spike: Spike,
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
    /// A fixed leak: `lif` (from `tau` or `beta`) or `if` (none), every field a number.
    ///
    /// # Panics
    /// If a field names a tensor: such a layer is built by [`Neuron::resolved`], which the model
    /// uses for every layer.
    pub fn lif(params: NeuronParams) -> Self {
        let values = numbers(&params);
        let (beta, gain) = values.beta_gain();
        let k = values.leak();
        Self::from_numbers(params, values, Leak::Fixed { beta, gain, k })
    }

    /// A learned leak; every other field a number (`plif` refuses tensors).
    ///
    /// # Panics
    /// As [`Neuron::lif`].
    pub fn plif(params: NeuronParams, w: Var) -> Self {
        let values = numbers(&params);
        Self::from_numbers(params, values, Leak::Learned(w))
    }

    /// A current-based LIF (`cuba_lif`): the fixed leak of [`Neuron::lif`], charged through
    /// `synapse`.
    pub fn cuba_lif(params: NeuronParams, synapse: SynapseAt) -> Self {
        Neuron {
            synapse: Some(synapse.into()),
            ..Self::lif(params)
        }
    }

    /// The synaptic current a layer's numbers describe (`alpha` or `tau_syn`, and `w_in`, 1
    /// when absent); `None` when they describe none.
    ///
    /// # Panics
    /// As [`Neuron::lif`].
    pub fn synapse_of(params: &NeuronParams) -> Option<SynapseAt> {
        let values = numbers(params);
        values.synapse_alpha().map(|alpha| SynapseAt {
            alpha,
            w_in: values.w_in.unwrap_or(1.0),
        })
    }

    /// A `lif`, `if` or `cuba_lif` layer of population shape `dims` with its values resolved
    /// (`network::neuron_values`): a layer of numbers exactly as [`Neuron::lif`] /
    /// [`Neuron::cuba_lif`] build it, else one that follows `ir::SpikingAt`'s order with its
    /// per-neuron values as constant tensors on `device`.
    pub fn resolved(
        params: NeuronParams,
        values: &NeuronValues,
        dims: &[usize],
        device: &Device,
    ) -> Result<Self> {
        if params.uniform().is_some() {
            let synapse = Self::synapse_of(&params);
            let neuron = Self::lif(params);
            return Ok(Neuron {
                synapse: synapse.map(Current::from),
                ..neuron
            });
        }
        let param = |v: &Values| NeuronParam::new(v, dims, device);
        let rest = param(values.v_leak.as_ref().unwrap_or(&values.v_reset))?;
        let leak = Leak::PerNeuron(ChargeEach {
            beta: param(&values.beta)?.factor(),
            gain: param(&values.gain)?.factor(),
            rest: rest.factor(),
        });
        let threshold = param(&values.threshold)?;
        let synapse = match &values.synapse {
            Some((alpha, w_in)) => Some(Current {
                alpha: param(alpha)?,
                w_in: param(w_in)?,
            }),
            None => None,
        };
        Ok(Neuron {
            spike: Spike::new(&threshold, &params),
            threshold,
            v_reset: param(&values.v_reset)?,
            rest,
            v_min: values.v_min.as_ref().map(param).transpose()?,
            leak,
            synapse,
            params,
        })
    }

    fn from_numbers(params: NeuronParams, values: UniformNeuron, leak: Leak) -> Self {
        let threshold = NeuronParam::Uniform(values.threshold);
        Neuron {
            spike: Spike::new(&threshold, &params),
            threshold,
            v_reset: NeuronParam::Uniform(values.v_reset),
            rest: NeuronParam::Uniform(values.v_leak.unwrap_or(values.v_reset)),
            v_min: values.v_min.map(NeuronParam::Uniform),
            leak,
            synapse: None,
            params,
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
        let p = &self.params;
        let h = self.charge(x, v)?;
        // snnTorch's delayed resets: where last step's (unreset) membrane fired, the threshold
        // comes off (`subtract_next`) or the charge is discarded for v_reset (`zero_next`:
        // h (1 - p) + vr p); the pending spike carries no gradient (snnTorch detaches it too).
        let h = match (p.reset, v) {
            (Reset::SubtractNext, Some(v)) => {
                let pending = self.spike.apply(v)?.detach();
                (h - self.threshold.times(&pending)?)?
            }
            (Reset::ZeroNext, Some(v)) => {
                let pending = self.spike.apply(v)?.detach();
                self.reset_where(&h, &pending)?
            }
            _ => h,
        };
        let s = self.spike.apply(&h)?;
        if p.detach_reset && p.reset == Reset::Hard {
            let reset = HardResetDetached {
                v_reset: self.v_reset.factor(),
            };
            let v_new = h.apply_op2(&s.detach(), reset)?;
            return Ok((s, floor_at(v_new, self.v_min.as_ref())?));
        }
        let s_reset = if p.detach_reset {
            s.detach()
        } else {
            s.clone()
        };
        let v_new = match p.reset {
            Reset::Hard => self.reset_where(&h, &s_reset)?,
            Reset::Subtract => (h - self.threshold.times(&s_reset)?)?,
            Reset::SubtractNext | Reset::ZeroNext | Reset::None => h,
        };
        Ok((s, floor_at(v_new, self.v_min.as_ref())?))
    }

    /// The membrane before firing and before a pending delayed reset, from the stored one `v`
    /// (`v_reset` at the first step) and the input `x`.
    fn charge(&self, x: &Tensor, v: Option<&Tensor>) -> Result<Tensor> {
        match &self.leak {
            Leak::Fixed { beta, gain, k } => {
                let (Some(vr), Some(rest)) = (self.v_reset.uniform(), self.rest.uniform()) else {
                    candle_core::bail!("a fixed leak needs one v_reset and one v_leak")
                };
                let charge = Charge {
                    a: *beta as f32,
                    b: *gain as f32,
                    c: (k * rest) as f32,
                };
                match v {
                    // From v_reset the leak term is k (rest - v_reset): h = gain*x + vr when they agree.
                    None if rest == vr => x.affine(*gain, vr),
                    None => x.apply_op2(&x.ones_like()?.affine(vr, 0.0)?, charge),
                    // SpikingJelly's decay_input: h = v + k*(x - (v - vr)) = (1-k) v + k x + k vr;
                    // otherwise v - k*(v - vr) + x = (1-k) v + x + k vr; snnTorch's beta v + x.
                    Some(v) => x.apply_op2(v, charge),
                }
            }
            Leak::PerNeuron(charge) => {
                let start;
                let v = match v {
                    Some(v) => v,
                    None => {
                        start = self.v_reset.filled_like(x)?;
                        &start
                    }
                };
                x.apply_op2(v, charge.clone())
            }
            Leak::Learned(w) => {
                let (Some(vr), Some(rest)) = (self.v_reset.uniform(), self.rest.uniform()) else {
                    candle_core::bail!("plif takes numbers only, not per-neuron tensors")
                };
                let k = candle_nn::ops::sigmoid(w.as_tensor())?;
                // v - rest, and rest + (v - rest): the membrane measured from where it leaks to.
                let v_minus = match v {
                    Some(v) => v.affine(1.0, -rest)?,
                    None if rest == vr => x.zeros_like()?,
                    None => x.ones_like()?.affine(vr - rest, 0.0)?,
                };
                let base = v_minus.affine(1.0, rest)?;
                if self.params.decay_input {
                    base + (x - v_minus)?.broadcast_mul(&k)?
                } else {
                    (base + x)? - v_minus.broadcast_mul(&k)?
                }
            }
        }
    }

    /// `h` where `s` is 0 and `v_reset` where it is 1: `h (1 - s) + v_reset s`, the sum left out
    /// when `v_reset` is one 0.
    fn reset_where(&self, h: &Tensor, s: &Tensor) -> Result<Tensor> {
        let kept = (h * s.affine(-1.0, 1.0)?)?;
        if self.v_reset.uniform() == Some(0.0) {
            Ok(kept)
        } else {
            kept + self.v_reset.times(s)?
        }
    }
}

/// A leaky integrator (`li`, `cuba_li`): a membrane that leaks towards `rest` and never fires;
/// its output each step is the membrane. Its state lives in the caller's [`NeuronState`].
#[derive(Debug, Clone)]
pub struct LeakyIntegrator {
    /// The factor on the old membrane (measured from `rest`) and the one on the drive.
    pub beta: NeuronParam,
    pub gain: NeuronParam,
    /// Where the membrane starts and leaks to (`v_leak`, 0 when absent).
    pub rest: NeuronParam,
    /// The current between the input and the membrane (`cuba_li`).
    pub synapse: Option<Current>,
}

impl LeakyIntegrator {
    /// An integrator of population shape `dims` with its values resolved
    /// (`network::integrator_values`, which reads `tau` / `beta` / `decay_input` as for a
    /// spiking neuron, as lowering does); per-neuron values become constant tensors on `device`.
    pub fn resolved(values: &IntegratorValues, dims: &[usize], device: &Device) -> Result<Self> {
        let param = |v: &Values| NeuronParam::new(v, dims, device);
        let synapse = match &values.synapse {
            Some((alpha, w_in)) => Some(Current {
                alpha: param(alpha)?,
                w_in: param(w_in)?,
            }),
            None => None,
        };
        Ok(LeakyIntegrator {
            beta: param(&values.beta)?,
            gain: param(&values.gain)?,
            rest: param(&values.rest)?,
            synapse,
        })
    }

    /// One step from the state the last step left (empty at the first: membrane at `rest`,
    /// current at 0), which it advances; returns the new membrane. The f32 operations are those
    /// of `ir::IntegratorAt::charge`, in its order: `rest + beta (v - rest)`, then `+ gain drive`.
    pub fn advance(&self, x: &Tensor, state: &mut NeuronState) -> Result<Tensor> {
        let drive = match &self.synapse {
            Some(synapse) => {
                let i = synaptic_current(synapse, x, state.current.as_ref())?;
                state.current = Some(i.clone());
                i
            }
            None => x.clone(),
        };
        let v = match (
            self.beta.uniform(),
            self.gain.uniform(),
            self.rest.uniform(),
        ) {
            (Some(beta), Some(gain), Some(rest)) => {
                integrate_uniform(beta, gain, rest, &drive, state.membrane.as_ref())?
            }
            _ => {
                let start;
                let v = match state.membrane.as_ref() {
                    Some(v) => v,
                    None => {
                        start = self.rest.filled_like(&drive)?;
                        &start
                    }
                };
                let charge = ChargeEach {
                    beta: self.beta.factor(),
                    gain: self.gain.factor(),
                    rest: self.rest.factor(),
                };
                drive.apply_op2(v, charge)?
            }
        };
        state.membrane = Some(v.clone());
        Ok(v)
    }
}

/// One integrator step with one `beta`, `gain` and `rest` for the layer, in Candle's own ops.
fn integrate_uniform(
    beta: f64,
    gain: f64,
    rest: f64,
    drive: &Tensor,
    v: Option<&Tensor>,
) -> Result<Tensor> {
    let driven = if gain == 1.0 {
        drive.clone()
    } else {
        drive.affine(gain, 0.0)?
    };
    match v {
        // `beta (v - rest)` with the candle affine's product and sum each rounded in f32.
        Some(v) => {
            let from_rest = if rest == 0.0 {
                v.clone()
            } else {
                v.affine(1.0, -rest)?
            };
            from_rest.affine(beta, rest)? + driven
        }
        // From `rest` the leaked term is `rest` itself, exactly.
        None if rest == 0.0 => Ok(driven),
        None => driven.affine(1.0, rest),
    }
}

/// The current after this step's input `x`, `alpha i + w_in x` in f32 as
/// [`SynapseAt::update`] states it: the two products rounded separately, then added. `i` is
/// `None` at the first step, where the current is 0 and the sum is `w_in x` exactly; a `w_in`
/// of 1 is no product at all.
fn synaptic_current(synapse: &Current, x: &Tensor, i: Option<&Tensor>) -> Result<Tensor> {
    let entering = if synapse.w_in.uniform() == Some(1.0) {
        x.clone()
    } else {
        synapse.w_in.times(x)?
    };
    match i {
        Some(i) => synapse.alpha.times(i)? + entering,
        None => Ok(entering),
    }
}

/// The numbers of a layer's parameters (see [`Neuron::lif`]'s panics).
fn numbers(params: &NeuronParams) -> UniformNeuron {
    params
        .uniform()
        .expect("a layer whose fields name tensors is built by Neuron::resolved, from its weights")
}

/// Sinabs' lower bound on the kept membrane, `relu(v - v_min) + v_min`; `v` itself without one.
fn floor_at(v: Tensor, v_min: Option<&NeuronParam>) -> Result<Tensor> {
    match v_min {
        Some(lo) => lo.added_to(&lo.subtracted_from(&v)?.relu()?),
        None => Ok(v),
    }
}
