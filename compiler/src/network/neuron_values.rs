//! Neuron parameters given per channel or per neuron: the tensors a network file names for them,
//! checked and expanded to one value per neuron once the weights are known.
//!
//! A field such as `"beta": "lif1.beta"` names a weights tensor of shape `[]` or `[1]` (one
//! value), `[C]` (per channel: the population's first axis), `[C, 1, 1]` (snnTorch's per-channel
//! conv parameter, the same as `[C]`) or the population's own shape (per neuron). Each value
//! obeys the rule the field has as a number ([`field_rule`]), and every neuron the rules that
//! tie fields together (`v_reset` and `v_min` below `threshold`, a leak that survives f32).

use super::ops::{IntegratorParams, NeuronParams, ParamSource, beta_gain, synapse_alpha};
use super::weights::NeuronParamError;
use super::{Shape, Weights, WeightsError};

/// A neuron parameter's values: one for the layer, or one per neuron (row-major over the
/// population's shape).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Uniform(f64),
    PerNeuron(Vec<f32>),
}

impl Values {
    /// Neuron `i`'s value.
    pub fn at(&self, i: usize) -> f64 {
        match self {
            Values::Uniform(v) => *v,
            Values::PerNeuron(v) => f64::from(v[i]),
        }
    }
}

/// A neuron layer's canonical parameters (`ir::Spiking`'s), each uniform or per neuron.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronValues {
    pub beta: Values,
    pub gain: Values,
    pub threshold: Values,
    pub v_reset: Values,
    pub v_leak: Option<Values>,
    pub v_min: Option<Values>,
    /// The synaptic current's `(alpha, w_in)` of a current-based neuron.
    pub synapse: Option<(Values, Values)>,
}

/// A leaky integrator's canonical parameters (`ir::Integrator`'s), each uniform or per neuron.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegratorValues {
    pub beta: Values,
    pub gain: Values,
    /// The resting potential and initial membrane: `v_leak`, 0 when absent.
    pub rest: Values,
    pub synapse: Option<(Values, Values)>,
}

/// The rule a field's value obeys, as a number or as each value of its tensor.
pub(crate) fn field_rule(field: &str, v: f64) -> Result<(), String> {
    match field {
        "tau" if !(v.is_finite() && v >= 1.0) => Err(format!(
            "`tau` must be finite and at least 1 (leak factor 1 - 1/tau in [0, 1)), got {v}"
        )),
        "beta" if !(0.0..1.0).contains(&v) => Err(format!(
            "`beta` must lie in [0, 1) (1 is no leak: use op `if`), got {v}"
        )),
        "tau_syn" if !(v.is_finite() && v >= 1.0) => Err(format!(
            "`tau_syn` must be finite and at least 1 (current decay 1 - 1/tau_syn in [0, 1)), got {v}"
        )),
        "alpha" if !(0.0..1.0).contains(&v) => Err(format!(
            "`alpha` must lie in [0, 1) (the current's factor on its old value), got {v}"
        )),
        _ if !v.is_finite() => Err(format!("`{field}` must be finite, got {v}")),
        _ => Ok(()),
    }
}

/// Reads parameters: a number as it is, a tensor checked and expanded to `numel` values.
struct Reader<'a> {
    node: &'a str,
    shape: &'a Shape,
    weights: &'a Weights,
}

impl Reader<'_> {
    fn read(&self, field: &'static str, source: &ParamSource) -> Result<Values, WeightsError> {
        let name = match source {
            ParamSource::Number(v) => return Ok(Values::Uniform(*v)),
            ParamSource::Tensor(name) => name,
        };
        let dims = &self.shape.0;
        let numel: usize = dims.iter().product();
        let channels = dims.first().copied().unwrap_or(1);
        let Some(t) = self.weights.get(name) else {
            return Err(WeightsError::Missing {
                node: self.node.to_string(),
                tensor: name.clone(),
                expected: dims.clone(),
            });
        };
        let bad = |message: String, index: usize| {
            WeightsError::NeuronParam(Box::new(NeuronParamError {
                node: self.node.to_string(),
                field,
                tensor: name.clone(),
                index,
                message,
            }))
        };
        for (index, &v) in t.data.iter().enumerate() {
            field_rule(field, f64::from(v)).map_err(|m| bad(m, index))?;
        }
        let s = &t.shape;
        let one = s.is_empty() || s == &[1];
        let per_channel = s == &[channels] || s == &[channels, 1, 1] && dims.len() == 3;
        let data = if s == dims {
            t.data.clone()
        } else if one {
            vec![t.data[0]; numel]
        } else if per_channel {
            let per = numel / channels.max(1);
            t.data
                .iter()
                .flat_map(|&v| std::iter::repeat_n(v, per))
                .collect()
        } else {
            return Err(WeightsError::NeuronParamShape {
                node: self.node.to_string(),
                field,
                tensor: name.clone(),
                shapes: format!("of shape {s:?}, the population {dims:?}"),
            });
        };
        Ok(Values::PerNeuron(data))
    }

    fn read_opt(
        &self,
        field: &'static str,
        source: &Option<ParamSource>,
    ) -> Result<Option<Values>, WeightsError> {
        source.as_ref().map(|s| self.read(field, s)).transpose()
    }

    /// The canonical `(beta, gain)` from `tau` or `beta`, per neuron where either is.
    fn leak(&self, p: &NeuronParams) -> Result<(Values, Values), WeightsError> {
        let tau = self.read_opt("tau", &p.tau)?;
        let beta = self.read_opt("beta", &p.beta)?;
        let di = p.decay_input;
        Ok(match (tau, beta) {
            (Some(Values::PerNeuron(t)), _) => {
                per_neuron_pair(&t, |v| beta_gain(Some(v), None, di))
            }
            (None, Some(Values::PerNeuron(b))) => {
                per_neuron_pair(&b, |v| beta_gain(None, Some(v), di))
            }
            (tau, beta) => {
                let (b, g) = beta_gain(tau.map(|t| t.at(0)), beta.map(|b| b.at(0)), di);
                (Values::Uniform(b), Values::Uniform(g))
            }
        })
    }

    fn synapse(&self, p: &NeuronParams) -> Result<Option<(Values, Values)>, WeightsError> {
        let alpha = match (
            self.read_opt("alpha", &p.alpha)?,
            self.read_opt("tau_syn", &p.tau_syn)?,
        ) {
            (Some(a), _) => a,
            (None, Some(Values::PerNeuron(t))) => Values::PerNeuron(
                t.iter()
                    .map(|&v| synapse_alpha(None, Some(f64::from(v))).unwrap_or(0.0) as f32)
                    .collect(),
            ),
            (None, Some(Values::Uniform(t))) => {
                Values::Uniform(synapse_alpha(None, Some(t)).unwrap_or(0.0))
            }
            (None, None) => return Ok(None),
        };
        let w_in = self
            .read_opt("w_in", &p.w_in)?
            .unwrap_or(Values::Uniform(1.0));
        Ok(Some((alpha, w_in)))
    }

    fn numel(&self) -> usize {
        self.shape.0.iter().product()
    }
}

/// `(beta, gain)` per neuron from one value each, each rounded to f32 once.
fn per_neuron_pair(values: &[f32], f: impl Fn(f64) -> (f64, f64)) -> (Values, Values) {
    let (b, g): (Vec<f32>, Vec<f32>) = values
        .iter()
        .map(|&v| {
            let (b, g) = f(f64::from(v));
            (b as f32, g as f32)
        })
        .unzip();
    (Values::PerNeuron(b), Values::PerNeuron(g))
}

/// The first neuron at which `check` fails, as an error naming the node and `field`.
fn each_neuron(
    node: &str,
    field: &'static str,
    tensor: Option<&ParamSource>,
    numel: usize,
    check: impl Fn(usize) -> Result<(), String>,
) -> Result<(), WeightsError> {
    for i in 0..numel {
        if let Err(message) = check(i) {
            return Err(WeightsError::NeuronParam(Box::new(NeuronParamError {
                node: node.to_string(),
                field,
                tensor: match tensor {
                    Some(ParamSource::Tensor(name)) => name.clone(),
                    _ => String::new(),
                },
                index: i,
                message,
            })));
        }
    }
    Ok(())
}

/// The per-neuron values of a spiking layer `p` (op `kind`) named `node`, of population shape
/// `shape`: every tensor it names read, checked and expanded. A layer given only numbers gives
/// uniform values (its rules were checked with the network).
pub fn neuron_values(
    node: &str,
    kind: &str,
    p: &NeuronParams,
    shape: &Shape,
    weights: &Weights,
) -> Result<NeuronValues, WeightsError> {
    let r = Reader {
        node,
        shape,
        weights,
    };
    let (beta, gain) = r.leak(p)?;
    let v = NeuronValues {
        beta,
        gain,
        threshold: r.read("threshold", &p.threshold)?,
        v_reset: r.read("v_reset", &p.v_reset)?,
        v_leak: r.read_opt("v_leak", &p.v_leak)?,
        v_min: r.read_opt("v_min", &p.v_min)?,
        synapse: r.synapse(p)?,
    };
    let n = r.numel();
    let leak_field = if p.tau.is_some() { "tau" } else { "beta" };
    if kind != "if" {
        each_neuron(
            node,
            leak_field,
            p.tau.as_ref().or(p.beta.as_ref()),
            n,
            |i| {
                if v.beta.at(i) as f32 == 1.0 {
                    Err(
                        "leaves a leak factor that rounds to 1 in f32: no leak is left; use op \
                         `if` for integrate-and-fire"
                            .to_string(),
                    )
                } else {
                    Ok(())
                }
            },
        )?;
    }
    each_neuron(node, "v_reset", Some(&p.v_reset), n, |i| {
        let (vr, th) = (v.v_reset.at(i), v.threshold.at(i));
        if vr >= th {
            Err(format!("`v_reset` {vr} must lie below `threshold` {th}"))
        } else {
            Ok(())
        }
    })?;
    if let Some(v_min) = &v.v_min {
        each_neuron(node, "v_min", p.v_min.as_ref(), n, |i| {
            let (lo, th) = (v_min.at(i), v.threshold.at(i));
            if lo >= th {
                Err(format!("`v_min` must lie below `threshold` {th}, got {lo}"))
            } else {
                Ok(())
            }
        })?;
    }
    check_current(node, p, &v.synapse, n)?;
    Ok(v)
}

/// A current whose decay rounds to 1 in f32 would never decay.
fn check_current(
    node: &str,
    p: &NeuronParams,
    synapse: &Option<(Values, Values)>,
    n: usize,
) -> Result<(), WeightsError> {
    if let Some((alpha, _)) = synapse {
        let field = if p.alpha.is_some() {
            "alpha"
        } else {
            "tau_syn"
        };
        each_neuron(
            node,
            field,
            p.alpha.as_ref().or(p.tau_syn.as_ref()),
            n,
            |i| {
                if alpha.at(i) as f32 == 1.0 {
                    Err(
                        "leaves a current decay that rounds to 1 in f32: the current would \
                         never decay"
                            .to_string(),
                    )
                } else {
                    Ok(())
                }
            },
        )?;
    }
    Ok(())
}

/// The per-neuron values of a leaky integrator `p` named `node`, as [`neuron_values`].
pub fn integrator_values(
    node: &str,
    p: &IntegratorParams,
    shape: &Shape,
    weights: &Weights,
) -> Result<IntegratorValues, WeightsError> {
    let n = p.as_neuron();
    let r = Reader {
        node,
        shape,
        weights,
    };
    let (beta, gain) = r.leak(&n)?;
    let leak_field = if n.tau.is_some() { "tau" } else { "beta" };
    each_neuron(
        node,
        leak_field,
        n.tau.as_ref().or(n.beta.as_ref()),
        r.numel(),
        |i| {
            if beta.at(i) as f32 == 1.0 {
                Err(
                    "leaves a leak factor that rounds to 1 in f32: the integrator would never leak"
                        .to_string(),
                )
            } else {
                Ok(())
            }
        },
    )?;
    let synapse = r.synapse(&n)?;
    check_current(node, &n, &synapse, r.numel())?;
    Ok(IntegratorValues {
        beta,
        gain,
        rest: r
            .read_opt("v_leak", &p.v_leak)?
            .unwrap_or(Values::Uniform(0.0)),
        synapse,
    })
}

impl NeuronValues {
    /// Neuron `i`'s model with the layer's `reset` and `fire` rules.
    pub fn at(&self, i: usize, reset: super::Reset, fire: super::Compare) -> crate::ir::SpikingAt {
        crate::ir::SpikingAt {
            beta: self.beta.at(i),
            gain: self.gain.at(i),
            threshold: self.threshold.at(i),
            v_reset: self.v_reset.at(i),
            reset,
            fire,
            v_leak: self.v_leak.as_ref().map(|v| v.at(i)),
            v_min: self.v_min.as_ref().map(|v| v.at(i)),
            synapse: synapse_at(&self.synapse, i),
        }
    }
}

impl IntegratorValues {
    /// Neuron `i`'s integrator.
    pub fn at(&self, i: usize) -> crate::ir::IntegratorAt {
        crate::ir::IntegratorAt {
            beta: self.beta.at(i),
            gain: self.gain.at(i),
            rest: self.rest.at(i),
            synapse: synapse_at(&self.synapse, i),
        }
    }
}

fn synapse_at(s: &Option<(Values, Values)>, i: usize) -> Option<crate::ir::SynapseAt> {
    s.as_ref().map(|(alpha, w_in)| crate::ir::SynapseAt {
        alpha: alpha.at(i),
        w_in: w_in.at(i),
    })
}

/// Every tensor a neuron field names, once, in node and field order: `(tensor, field, the
/// population's shape)`. What placeholder weights draw (per neuron) for an architecture file.
pub fn per_neuron_specs(net: &super::Network) -> Vec<(String, &'static str, Vec<usize>)> {
    let mut out: Vec<(String, &'static str, Vec<usize>)> = Vec::new();
    for (id, node) in net.desc.nodes.iter().enumerate() {
        let params = match (node.op.neuron(), node.op.integrator()) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => p.as_neuron(),
            (None, None) => continue,
        };
        for (field, source) in params.sources() {
            if let Some(ParamSource::Tensor(name)) = source
                && !out.iter().any(|(n, _, _)| n == name)
            {
                out.push((name.clone(), field, net.shapes[id].0.clone()));
            }
        }
    }
    out
}
