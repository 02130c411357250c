//! The closed set of node ops a network file may use, their attributes, parameters and output shapes.

use super::shape::Shape;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A kernel, stride or padding: one number for square, or `[h, w]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair(pub usize, pub usize);

impl Pair {
    pub fn square(n: usize) -> Self {
        Pair(n, n)
    }
}

impl Serialize for Pair {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == self.1 {
            s.serialize_u64(self.0 as u64)
        } else {
            [self.0, self.1].serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(usize),
            Two([usize; 2]),
        }
        Ok(
            match Raw::deserialize(d).map_err(|_| {
                serde::de::Error::custom("expected a non-negative integer or a pair [h, w]")
            })? {
                Raw::One(n) => Pair(n, n),
                Raw::Two([h, w]) => Pair(h, w),
            },
        )
    }
}

/// Membrane reset after a spike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    /// `v = v_reset` where a spike fired.
    #[default]
    Hard,
    /// `v -= threshold` where a spike fired.
    Subtract,
    /// snnTorch's default (`reset_mechanism="subtract"`, `reset_delay=True`): the threshold is
    /// subtracted at the next step's charge, after the leak, where the stored membrane (kept
    /// unreset) is over the threshold: `v = beta v + x - threshold * fire(v_prev)`.
    SubtractNext,
    /// snnTorch's zero reset of `RLeaky`, `Synaptic` and `RSynaptic` (`reset_mechanism="zero"`,
    /// `reset_delay=True`): the step after a spike, read like `subtract_next` from the stored
    /// (unreset) membrane, the whole new charge is discarded and the membrane is `v_reset`; a
    /// synaptic current is left as it is.
    ZeroNext,
    /// No reset: the membrane keeps integrating (snnTorch `reset_mechanism="none"`).
    None,
}

impl Reset {
    pub const ALL: [Reset; 5] = [
        Reset::Hard,
        Reset::Subtract,
        Reset::SubtractNext,
        Reset::ZeroNext,
        Reset::None,
    ];

    /// Whether the reset is applied at the next step's charge, pending on the stored membrane
    /// having fired (`subtract_next`, `zero_next`).
    pub fn is_delayed(self) -> bool {
        matches!(self, Reset::SubtractNext | Reset::ZeroNext)
    }
}

/// Firing comparison of the membrane against the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// Fire at `v >= threshold` (SpikingJelly's Heaviside).
    #[default]
    Ge,
    /// Fire at `v > threshold`.
    Gt,
}

fn yes() -> bool {
    true
}
fn two() -> f64 {
    2.0
}
fn one_param() -> ParamSource {
    ParamSource::Number(1.0)
}
fn zero_param() -> ParamSource {
    ParamSource::Number(0.0)
}

/// A neuron parameter as the file gives it: one number for the whole layer, or the name of a
/// tensor in the weights file holding one value per channel or per neuron (`"beta": "lif1.beta"`;
/// shapes in `network::neuron_values`).
#[derive(Debug, Clone, PartialEq)]
pub enum ParamSource {
    Number(f64),
    Tensor(String),
}

impl ParamSource {
    /// The number, if the parameter is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            ParamSource::Number(v) => Some(*v),
            ParamSource::Tensor(_) => None,
        }
    }
}

impl From<f64> for ParamSource {
    fn from(v: f64) -> Self {
        ParamSource::Number(v)
    }
}

impl Serialize for ParamSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ParamSource::Number(v) => s.serialize_f64(*v),
            ParamSource::Tensor(name) => s.serialize_str(name),
        }
    }
}

impl<'de> Deserialize<'de> for ParamSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ParamSource;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, or the name of a tensor in the weights file")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ParamSource, E> {
                Ok(ParamSource::Number(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ParamSource, E> {
                Ok(ParamSource::Number(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ParamSource, E> {
                Ok(ParamSource::Number(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ParamSource, E> {
                Ok(ParamSource::Tensor(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The parameters of a spiking layer (`lif`, `plif`, `if`, `cuba_lif`).
///
/// The leak is given as exactly one of `tau` (SpikingJelly: `k = 1/tau`, charge
/// `v += (x - (v - v_reset)) / tau` when `decay_input`, else `v += x - (v - v_reset) / tau`) or
/// `beta` (snnTorch: the factor on the old membrane, `k = 1 - beta`); `if` takes neither (no
/// leak). For `plif` the leak is the initial value and the trained `k = sigmoid(w)` lives in the
/// tensor `w`. Each [`ParamSource`] field may name a tensor instead of giving a number
/// (per-channel or per-neuron values; not on `plif`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeuronParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<ParamSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<ParamSource>,
    #[serde(default = "one_param")]
    pub threshold: ParamSource,
    #[serde(default = "zero_param")]
    pub v_reset: ParamSource,
    /// The resting potential the leak pulls towards (NIR's `v_leak`, Norse's `v_leak`); `v_reset`
    /// when absent. A constant drive inside the neuron: `k (v_leak - v_reset)` per step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_leak: Option<ParamSource>,
    /// Lower bound of the membrane, applied after the reset as Sinabs does (`min_v_mem`:
    /// `v = relu(v - v_min) + v_min`); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_min: Option<ParamSource>,
    #[serde(default)]
    pub reset: Reset,
    #[serde(default)]
    pub compare: Compare,
    #[serde(default = "yes")]
    pub decay_input: bool,
    /// The spike enters the reset without gradient (SpikingJelly `detach_reset=True`).
    #[serde(default = "yes")]
    pub detach_reset: bool,
    /// ATan surrogate width: gradient `alpha/2 / (1 + (pi/2 * alpha * (v - threshold))^2)`.
    #[serde(default = "two")]
    pub surrogate_alpha: f64,
    /// `cuba_lif` only: the synaptic current's decay, exactly one of `alpha` (snnTorch
    /// `Synaptic`: the factor on the old current) and `tau_syn` (`alpha = 1 - 1/tau_syn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<ParamSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_syn: Option<ParamSource>,
    /// `cuba_lif` only: the factor on the input entering the current (NIR's `w_in`); 1 when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub w_in: Option<ParamSource>,
}

impl NeuronParams {
    pub fn with_tau(tau: f64) -> Self {
        NeuronParams {
            tau: Some(tau.into()),
            beta: None,
            threshold: 1.0.into(),
            v_reset: 0.0.into(),
            v_leak: None,
            v_min: None,
            reset: Reset::Hard,
            compare: Compare::Ge,
            decay_input: true,
            detach_reset: true,
            surrogate_alpha: 2.0,
            alpha: None,
            tau_syn: None,
            w_in: None,
        }
    }

    /// Every parameter given as a number: the layer's one model. `None` when a field names a
    /// tensor (see `network::neuron_values` for the per-neuron values).
    pub fn uniform(&self) -> Option<UniformNeuron> {
        let opt = |p: &Option<ParamSource>| match p {
            None => Some(None),
            Some(p) => p.number().map(Some),
        };
        Some(UniformNeuron {
            tau: opt(&self.tau)?,
            beta: opt(&self.beta)?,
            threshold: self.threshold.number()?,
            v_reset: self.v_reset.number()?,
            v_leak: opt(&self.v_leak)?,
            v_min: opt(&self.v_min)?,
            alpha: opt(&self.alpha)?,
            tau_syn: opt(&self.tau_syn)?,
            w_in: opt(&self.w_in)?,
            decay_input: self.decay_input,
        })
    }

    /// The fields that may name a tensor, with their file names, in file order.
    pub fn sources(&self) -> [(&'static str, Option<&ParamSource>); 9] {
        [
            ("tau", self.tau.as_ref()),
            ("beta", self.beta.as_ref()),
            ("threshold", Some(&self.threshold)),
            ("v_reset", Some(&self.v_reset)),
            ("v_leak", self.v_leak.as_ref()),
            ("v_min", self.v_min.as_ref()),
            ("alpha", self.alpha.as_ref()),
            ("tau_syn", self.tau_syn.as_ref()),
            ("w_in", self.w_in.as_ref()),
        ]
    }

    /// Whether the current's decay is given (`alpha` or `tau_syn`): a current-based neuron.
    pub fn has_synapse(&self) -> bool {
        self.alpha.is_some() || self.tau_syn.is_some()
    }
}

/// A neuron layer's parameters when every one is a number ([`NeuronParams::uniform`]): the
/// formulas from the file's fields to the canonical factors, stated once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UniformNeuron {
    pub tau: Option<f64>,
    pub beta: Option<f64>,
    pub threshold: f64,
    pub v_reset: f64,
    pub v_leak: Option<f64>,
    pub v_min: Option<f64>,
    pub alpha: Option<f64>,
    pub tau_syn: Option<f64>,
    pub w_in: Option<f64>,
    pub decay_input: bool,
}

impl UniformNeuron {
    /// The synaptic current's factor on its old value: `alpha` as given, or `1 - 1/tau_syn`;
    /// `None` for a neuron without a current (neither given).
    pub fn synapse_alpha(&self) -> Option<f64> {
        synapse_alpha(self.alpha, self.tau_syn)
    }

    /// The fixed leak `k` (`1/tau`, or `1 - beta`; 0 when neither is given, as for `if`).
    pub fn leak(&self) -> f64 {
        leak(self.tau, self.beta)
    }

    /// The factor on the old membrane and on the input of a fixed leak: `beta` as given (or
    /// `1 - 1/tau`), the input gain `k` with `decay_input`, else 1. Neither given: (1, 1), `if`.
    pub fn beta_gain(&self) -> (f64, f64) {
        beta_gain(self.tau, self.beta, self.decay_input)
    }
}

/// `alpha` as given, or `1 - 1/tau_syn`; `None` when neither is given.
pub fn synapse_alpha(alpha: Option<f64>, tau_syn: Option<f64>) -> Option<f64> {
    match (alpha, tau_syn) {
        (Some(alpha), _) => Some(alpha),
        (None, Some(tau)) => Some(1.0 - 1.0 / tau),
        (None, None) => None,
    }
}

/// The leak `k`: `1/tau`, or `1 - beta`; 0 when neither is given.
pub fn leak(tau: Option<f64>, beta: Option<f64>) -> f64 {
    match (tau, beta) {
        (Some(tau), _) => 1.0 / tau,
        (None, Some(beta)) => 1.0 - beta,
        (None, None) => 0.0,
    }
}

/// The canonical `(beta, gain)` of a leak given as `tau` or `beta` (neither: `(1, 1)`).
pub fn beta_gain(tau: Option<f64>, beta: Option<f64>, decay_input: bool) -> (f64, f64) {
    let k = leak(tau, beta);
    let b = beta.unwrap_or(1.0 - k);
    let gain = if decay_input && (tau, beta) != (None, None) {
        k
    } else {
        1.0
    };
    (b, gain)
}

/// The parameters of a leaky integrator (`li`, `cuba_li`): a membrane that leaks towards
/// `v_leak` and is charged by the input (or, for `cuba_li`, by a synaptic current), never
/// fires and is read out as it is. The leak is exactly one of `tau` or `beta`, as for `lif`;
/// `alpha` / `tau_syn` / `w_in` as for `cuba_lif`. The membrane starts at `v_leak` (0 when absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegratorParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<ParamSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<ParamSource>,
    #[serde(default = "yes")]
    pub decay_input: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_leak: Option<ParamSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<ParamSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_syn: Option<ParamSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub w_in: Option<ParamSource>,
}

impl IntegratorParams {
    /// The same leak and synapse fields as a spiking neuron's, so one set of rules and one
    /// canonical form serve both.
    pub fn as_neuron(&self) -> NeuronParams {
        NeuronParams {
            tau: self.tau.clone(),
            beta: self.beta.clone(),
            decay_input: self.decay_input,
            v_leak: self.v_leak.clone(),
            alpha: self.alpha.clone(),
            tau_syn: self.tau_syn.clone(),
            w_in: self.w_in.clone(),
            ..NeuronParams::with_tau(1.0)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2d {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: Pair,
    #[serde(default = "unit_pair")]
    pub stride: Pair,
    #[serde(default = "zero_pair")]
    pub padding: Pair,
    #[serde(default = "one_usize")]
    pub groups: usize,
    #[serde(default)]
    pub bias: bool,
}

fn unit_pair() -> Pair {
    Pair(1, 1)
}
fn zero_pair() -> Pair {
    Pair(0, 0)
}
fn one_usize() -> usize {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
    #[serde(default)]
    pub bias: bool,
}

fn bn_eps() -> f64 {
    1e-5
}
fn bn_momentum() -> f64 {
    0.1
}

/// Batch normalisation over the channel axis (dim 0 of the sample). Train mode normalises with
/// batch statistics and updates running stats PyTorch's way (unbiased variance, `momentum`).
///
/// With `per_step`, each timestep keeps its own running statistics (`[T, C]`; gamma and beta stay
/// shared, as in BNTT without its per-step affine): a layer whose input distribution drifts over
/// the steps (spikes building up in a cell) is then normalised at inference as it was in training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchNorm {
    #[serde(default = "bn_eps")]
    pub eps: f64,
    #[serde(default = "bn_momentum")]
    pub momentum: f64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub per_step: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub kernel: Pair,
    /// Defaults to the kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<Pair>,
    #[serde(default = "zero_pair")]
    pub padding: Pair,
    /// Average pools only: divide by the full window, padding included (PyTorch's default).
    #[serde(default = "yes")]
    pub count_include_pad: bool,
}

impl Pool {
    pub fn stride(&self) -> Pair {
        self.stride.unwrap_or(self.kernel)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dropout {
    pub p: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    pub factor: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// Output neurons per class: class `c` is the mean of outputs `[c*group, (c+1)*group)`.
    pub group: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Every op a node may carry. Closed: a new op is a new variant here and in every consumer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// The network input; shape and encoding come from the file's `input` section.
    Input(Empty),
    Conv2d(Conv2d),
    Linear(Linear),
    BatchNorm(BatchNorm),
    /// Leaky integrate-and-fire with a fixed time constant.
    Lif(NeuronParams),
    /// Parametric LIF: one learnable leak per layer (AutoSNN).
    Plif(NeuronParams),
    /// Integrate-and-fire: no leak (beta = 1 exactly), the input enters unscaled.
    If(NeuronParams),
    /// Current-based LIF: the input charges a synaptic current (`i = alpha i + w_in x`, decaying
    /// by `alpha`), and the current charges the membrane (snnTorch `Synaptic`, Norse `LIF`, NIR
    /// `CubaLIF`).
    CubaLif(NeuronParams),
    /// Leaky integrator: a membrane that never fires, read out as it is (NIR `LI`); supported
    /// as the readout node.
    Li(IntegratorParams),
    /// Current-based leaky integrator (NIR `CubaLI`, Norse `LICell`); supported as the readout
    /// node.
    CubaLi(IntegratorParams),
    AvgPool(Pool),
    MaxPool(Pool),
    /// Inverted dropout with one mask for all timesteps of a sample; identity at inference.
    Dropout(Dropout),
    Flatten(Empty),
    /// Identity on the sum of the inputs (SNASNet cell nodes, residual adds).
    Sum(Empty),
    /// Multiply by a constant (`factor: 0` is SNASNet's zero op).
    Scale(Scale),
    /// Average each class's group of output neurons (the seeds' voting layer).
    Vote(Vote),
}

/// The parameter tensors an op can own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamRole {
    Weight,
    Bias,
    RunningMean,
    RunningVar,
    /// PLIF leak logit: `k = sigmoid(w) = 1/tau`.
    W,
}

impl ParamRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamRole::Weight => "weight",
            ParamRole::Bias => "bias",
            ParamRole::RunningMean => "running_mean",
            ParamRole::RunningVar => "running_var",
            ParamRole::W => "w",
        }
    }
}

impl Op {
    /// The op's name as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input(_) => "input",
            Op::Conv2d(_) => "conv2d",
            Op::Linear(_) => "linear",
            Op::BatchNorm(_) => "batch_norm",
            Op::Lif(_) => "lif",
            Op::Plif(_) => "plif",
            Op::If(_) => "if",
            Op::CubaLif(_) => "cuba_lif",
            Op::Li(_) => "li",
            Op::CubaLi(_) => "cuba_li",
            Op::AvgPool(_) => "avg_pool",
            Op::MaxPool(_) => "max_pool",
            Op::Dropout(_) => "dropout",
            Op::Flatten(_) => "flatten",
            Op::Sum(_) => "sum",
            Op::Scale(_) => "scale",
            Op::Vote(_) => "vote",
        }
    }

    /// True for ops that emit binary spikes.
    pub fn is_spiking(&self) -> bool {
        matches!(self, Op::Lif(_) | Op::Plif(_) | Op::If(_) | Op::CubaLif(_))
    }

    /// True for ops that keep state across timesteps (membranes, dropout masks).
    pub fn is_stateful(&self) -> bool {
        matches!(
            self,
            Op::Lif(_) | Op::Plif(_) | Op::If(_) | Op::CubaLif(_) | Op::Li(_) | Op::CubaLi(_)
        )
    }

    pub fn integrator(&self) -> Option<&IntegratorParams> {
        match self {
            Op::Li(p) | Op::CubaLi(p) => Some(p),
            _ => None,
        }
    }

    /// True for ops whose map depends on the timestep (per-step batch norm): never static.
    pub fn varies_by_step(&self) -> bool {
        matches!(self, Op::BatchNorm(bn) if bn.per_step)
    }

    pub fn neuron(&self) -> Option<&NeuronParams> {
        match self {
            Op::Lif(n) | Op::Plif(n) | Op::If(n) | Op::CubaLif(n) => Some(n),
            _ => None,
        }
    }

    /// Parameter tensors and their shapes, given the shape the node receives and the network's
    /// timesteps (per-step statistics have one row per step).
    pub fn param_shapes(&self, input: &Shape, timesteps: usize) -> Vec<(ParamRole, Vec<usize>)> {
        match self {
            Op::Conv2d(c) => {
                let mut v = vec![(
                    ParamRole::Weight,
                    vec![
                        c.out_channels,
                        c.in_channels / c.groups.max(1),
                        c.kernel.0,
                        c.kernel.1,
                    ],
                )];
                if c.bias {
                    v.push((ParamRole::Bias, vec![c.out_channels]));
                }
                v
            }
            Op::Linear(l) => {
                let mut v = vec![(ParamRole::Weight, vec![l.out_features, l.in_features])];
                if l.bias {
                    v.push((ParamRole::Bias, vec![l.out_features]));
                }
                v
            }
            Op::BatchNorm(bn) => {
                let c = input.dims().first().copied().unwrap_or(0);
                let stats = if bn.per_step {
                    vec![timesteps, c]
                } else {
                    vec![c]
                };
                vec![
                    (ParamRole::Weight, vec![c]),
                    (ParamRole::Bias, vec![c]),
                    (ParamRole::RunningMean, stats.clone()),
                    (ParamRole::RunningVar, stats),
                ]
            }
            Op::Plif(_) => vec![(ParamRole::W, vec![])],
            _ => vec![],
        }
    }
}
