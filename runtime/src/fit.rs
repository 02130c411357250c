//! Whether a compiled network fits a target's resource limits: neurons, synapses and their
//! memory, per-neuron fan-in and fan-out, delays, graded events and cores, estimated layer by
//! layer from the IR alone (no data needed).
//!
//! The host keeps what depends on the sample alone: the input and the populations computed once
//! per sample from it (`const`, e.g. a first convolution on direct input), whose values enter
//! the chip as currents. The estimate maps each other population onto cores of its own, as
//! layer-by-layer mappers do, and
//! counts every synapse a chip would have to store: a convolution's shared kernel is expanded to
//! one synapse per (input, output) pair it connects, because neuromorphic cores hold synapses,
//! not kernels. It gives necessary conditions and a lower bound on cores: a real placement can
//! need more (a core's distinct inputs, routing, per-synapse index and delay fields), never less.
//!
//! Neuron parameters that differ per neuron are memory, reported both ways a chip may hold
//! them: one word per neuron and per-neuron field (stored per compartment), and the distinct
//! parameter sets of each layer (shared profiles a compartment points to). A uniform parameter
//! is one setting of the layer and costs nothing here.

use serde::Serialize;
use snnc_compiler::ir::{
    Arena, Events, HandleMap, Module, Param, Population, PopulationKind, Projection,
    ProjectionKind, Tensor,
};
use snnc_compiler::validate::{ValidationErrors, validate};
use snnc_targets::Target;
use std::collections::HashSet;

/// The wiring of one projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Wiring {
    /// (source element, target element) pairs the projection connects.
    pub synapses: u64,
    /// The most synapses any one target element receives from it.
    pub max_fan_in: u64,
    /// The most synapses any one source element sends through it.
    pub max_fan_out: u64,
}

/// One window axis: how many (output, tap) pairs land inside the input, the most taps one output
/// reads, and the most outputs one input feeds.
fn window_axis(
    in_len: usize,
    out_len: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
) -> [u64; 3] {
    let mut feeds = vec![0u64; in_len];
    let (mut pairs, mut most_taps) = (0u64, 0u64);
    for o in 0..out_len {
        let mut taps = 0u64;
        for k in 0..kernel {
            let padded = o * stride + k;
            if padded >= pad && padded - pad < in_len {
                feeds[padded - pad] += 1;
                taps += 1;
            }
        }
        pairs += taps;
        most_taps = most_taps.max(taps);
    }
    [pairs, most_taps, feeds.into_iter().max().unwrap_or(0)]
}

/// `[C, H, W]`, with a flat `[N]` read as one row `[1, 1, N]` (as sum pools read it).
fn chw(dims: &[usize]) -> [usize; 3] {
    match *dims {
        [c, h, w] => [c, h, w],
        [n] => [1, 1, n],
        _ => [1, 1, dims.iter().product()],
    }
}

/// The wiring of projection `e` of a validated module.
pub fn wiring(m: &Module, e: &Projection) -> Wiring {
    let source = m.populations[e.source].shape.dims();
    let target = m.populations[e.target].shape.dims();
    let n = |dims: &[usize]| dims.iter().product::<usize>() as u64;
    match &e.kind {
        ProjectionKind::Dense(d) => {
            let shape = &m.tensors[d.weight].shape;
            let (outs, ins) = (shape[0] as u64, shape[1] as u64);
            Wiring {
                synapses: outs * ins,
                max_fan_in: ins,
                max_fan_out: outs,
            }
        }
        ProjectionKind::Conv2d(c) => {
            let shape = &m.tensors[c.weight].shape;
            let (c_out, c_in_group, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
            let [_, h, w] = chw(source);
            let [_, oh, ow] = chw(target);
            let [ph, th, fh] = window_axis(h, oh, kh, c.stride[0], c.padding[0]);
            let [pw, tw, fw] = window_axis(w, ow, kw, c.stride[1], c.padding[1]);
            let per_group_out = (c_out / c.groups.max(1)) as u64;
            Wiring {
                synapses: c_out as u64 * c_in_group as u64 * ph * pw,
                max_fan_in: c_in_group as u64 * th * tw,
                max_fan_out: per_group_out * fh * fw,
            }
        }
        ProjectionKind::SumPool(p) => {
            let [c, h, w] = chw(source);
            let [_, oh, ow] = chw(target);
            let [ph, th, fh] = window_axis(h, oh, p.kernel[0], p.stride[0], p.padding[0]);
            let [pw, tw, fw] = window_axis(w, ow, p.kernel[1], p.stride[1], p.padding[1]);
            Wiring {
                synapses: c as u64 * ph * pw,
                max_fan_in: th * tw,
                max_fan_out: fh * fw,
            }
        }
        ProjectionKind::Identity(_)
        | ProjectionKind::Scale(_)
        | ProjectionKind::Affine(_)
        | ProjectionKind::Reshape(_)
        | ProjectionKind::Dropout(_) => Wiring {
            synapses: n(source),
            max_fan_in: 1,
            max_fan_out: 1,
        },
    }
}

/// One population's share of the chip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerResources {
    pub name: String,
    pub population: String,
    pub kind: String,
    pub neurons: u64,
    /// Neuron state values it holds: a membrane per spiking neuron, and a synaptic current
    /// besides for a current-based one (two words); 0 for other kinds.
    pub state_words: u64,
    /// Neuron parameters stored per neuron: one word per neuron for each parameter that differs
    /// between its neurons (uniform ones are one setting of the layer, not counted).
    pub parameter_words: u64,
    /// Distinct parameter sets among its neurons (what shared per-core profiles would hold): 1
    /// when every parameter is uniform, 0 for a population without neuron parameters.
    pub parameter_sets: u64,
    /// Synapses of every projection into the population.
    pub synapses_in: u64,
    pub synapse_memory_bytes: u64,
    /// The most synapses one of its neurons receives, over all its incoming projections.
    pub max_fan_in: u64,
    /// The most synapses one of its neurons sends, over all its outgoing projections.
    pub max_fan_out: u64,
    /// Cores it needs on its own (lower bound); `None` when the target gives no per-core limit.
    pub cores: Option<u64>,
}

/// One limit compared with what the network needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub what: String,
    pub need: u64,
    pub limit: u64,
    pub ok: bool,
    /// What to do when it does not fit.
    pub hint: String,
}

/// A network's resources on one target (`snnc targets fit`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resources {
    pub module: String,
    pub target: String,
    /// Neurons (compartments) of every on-chip population (all but the host's).
    pub neurons: u64,
    pub spiking_neurons: u64,
    /// Neuron state values of the spiking layers (see [`LayerResources::state_words`]).
    pub state_words: u64,
    /// `state_words` at the target's state width, when its formats give one.
    pub state_bytes: Option<u64>,
    /// Per-neuron parameter words of every layer (see [`LayerResources::parameter_words`]).
    pub parameter_words: u64,
    /// `parameter_words` at the target's state width, when its formats give one.
    pub parameter_bytes: Option<u64>,
    /// The most distinct parameter sets one layer needs.
    pub max_parameter_sets: u64,
    pub synapses: u64,
    /// Width of one stored weight on the target (its `formats.weights`).
    pub weight_bits: u8,
    /// `synapses x weight_bits / 8`: weights alone, so a lower bound on the synapse memory.
    pub synapse_memory_bytes: u64,
    pub max_fan_in: u64,
    pub max_fan_out: u64,
    pub max_delay: u32,
    /// Projections that carry graded (valued) events from an on-chip population; those from the
    /// host's populations are the sample entering the chip.
    pub graded_projections: usize,
    /// Sum of the layers' cores; `None` when the target gives no per-core limit.
    pub cores: Option<u64>,
    pub layers: Vec<LayerResources>,
    /// Every limit the target states, with the network's need; empty when it states none.
    pub checks: Vec<Check>,
}

impl Resources {
    /// `Some(true)` when every stated limit holds, `None` when the target states none.
    pub fn fits(&self) -> Option<bool> {
        (!self.checks.is_empty()).then(|| self.checks.iter().all(|c| c.ok))
    }
}

/// Whether a population stays on the host: the input, and what is computed once per sample
/// from it.
fn on_host(kind: &PopulationKind) -> bool {
    matches!(
        kind,
        PopulationKind::Input(_)
            | PopulationKind::Analog(snnc_compiler::ir::Analog { constant: true, .. })
    )
}

/// Estimate `m`'s resources on `target`, after validating `m`.
pub fn estimate(m: &Module, target: &Target) -> Result<Resources, ValidationErrors> {
    validate(m)?;
    let weight_bits = target.formats.weights.bits();
    let memory = |synapses: u64| (synapses * weight_bits as u64).div_ceil(8);
    let limits = target.limits.as_ref();
    let n_pops = m.populations.len();
    let mut synapses_in: HandleMap<Population, u64> = HandleMap::filled(n_pops, 0);
    let mut fan_in: HandleMap<Population, u64> = HandleMap::filled(n_pops, 0);
    let mut fan_out: HandleMap<Population, u64> = HandleMap::filled(n_pops, 0);
    let mut max_delay = 0;
    let mut graded_projections = 0;
    for (_, e) in m.projections.iter() {
        let w = wiring(m, e);
        synapses_in[e.target] += w.synapses;
        fan_in[e.target] += w.max_fan_in;
        fan_out[e.source] += w.max_fan_out;
        max_delay = max_delay.max(e.delay);
        let source = &m.populations[e.source].kind;
        if source.events() == Events::Graded && !on_host(source) {
            graded_projections += 1;
        }
    }
    let per_core = limits.and_then(|l| {
        let any = l.neurons_per_core.is_some()
            || l.synapses_per_core.is_some()
            || l.synapse_memory_bytes_per_core.is_some();
        any.then_some(l)
    });
    let mut layers = Vec::new();
    for (h, p) in m.populations.iter() {
        if on_host(&p.kind) {
            continue;
        }
        let neurons = p.shape.numel() as u64;
        let state_words = match &p.kind {
            PopulationKind::Spiking(s) => neurons * (1 + u64::from(s.synapse.is_some())),
            _ => 0,
        };
        let (parameter_words, parameter_sets) = parameters(&p.kind, &m.tensors, p.shape.numel());
        let cores = per_core.map(|l| {
            let need = |amount: u64, per: Option<u64>| per.map_or(0, |c| amount.div_ceil(c.max(1)));
            need(neurons, l.neurons_per_core)
                .max(need(synapses_in[h], l.synapses_per_core))
                .max(need(
                    memory(synapses_in[h]),
                    l.synapse_memory_bytes_per_core,
                ))
                .max(1)
        });
        layers.push(LayerResources {
            name: p.name.clone(),
            population: h.to_string(),
            kind: p.kind.name().to_string(),
            neurons,
            state_words,
            parameter_words,
            parameter_sets,
            synapses_in: synapses_in[h],
            synapse_memory_bytes: memory(synapses_in[h]),
            max_fan_in: fan_in[h],
            max_fan_out: fan_out[h],
            cores,
        });
    }
    let neurons: u64 = layers.iter().map(|l| l.neurons).sum();
    let synapses: u64 = layers.iter().map(|l| l.synapses_in).sum();
    let state_words: u64 = layers.iter().map(|l| l.state_words).sum();
    let parameter_words: u64 = layers.iter().map(|l| l.parameter_words).sum();
    let at_state_width = |words: u64| {
        target
            .formats
            .state
            .map(|f| (words * f.bits() as u64).div_ceil(8))
    };
    let cores = per_core.map(|_| layers.iter().filter_map(|l| l.cores).sum::<u64>());
    let max_fan_in = layers.iter().map(|l| l.max_fan_in).max().unwrap_or(0);
    let max_fan_out = layers.iter().map(|l| l.max_fan_out).max().unwrap_or(0);
    let mut r = Resources {
        module: m.name.clone(),
        target: target.name.clone(),
        neurons,
        spiking_neurons: layers
            .iter()
            .filter(|l| l.kind == "spiking")
            .map(|l| l.neurons)
            .sum(),
        state_words,
        state_bytes: at_state_width(state_words),
        parameter_words,
        parameter_bytes: at_state_width(parameter_words),
        max_parameter_sets: layers.iter().map(|l| l.parameter_sets).max().unwrap_or(0),
        synapses,
        weight_bits,
        synapse_memory_bytes: memory(synapses),
        max_fan_in,
        max_fan_out,
        max_delay,
        graded_projections,
        cores,
        layers,
        checks: Vec::new(),
    };
    r.checks = checks(&r, target);
    Ok(r)
}

/// A population's per-neuron parameter words and distinct parameter sets (see
/// [`LayerResources`]).
fn parameters(kind: &PopulationKind, tensors: &Arena<Tensor>, neurons: usize) -> (u64, u64) {
    let params: Vec<Param> = match kind {
        PopulationKind::Spiking(s) => s.params().into_iter().map(|(_, p)| p).collect(),
        PopulationKind::Readout(r) => match &r.integrator {
            Some(li) => li.params().into_iter().map(|(_, p)| p).collect(),
            None => return (0, 0),
        },
        _ => return (0, 0),
    };
    let each: Vec<&[f32]> = params
        .iter()
        .filter_map(|p| p.tensor().map(|t| tensors[t].data.as_slice()))
        .collect();
    let sets: HashSet<Vec<u32>> = (0..neurons)
        .map(|i| each.iter().map(|values| values[i].to_bits()).collect())
        .collect();
    ((each.len() * neurons) as u64, sets.len() as u64)
}

fn checks(r: &Resources, target: &Target) -> Vec<Check> {
    let Some(l) = &target.limits else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut check = |what: &str, need: u64, limit: Option<u64>, hint: &str| {
        if let Some(limit) = limit {
            out.push(Check {
                what: what.to_string(),
                need,
                limit,
                ok: need <= limit,
                hint: hint.to_string(),
            });
        }
    };
    if let Some(cores) = r.cores {
        check(
            "cores (layer by layer, lower bound)",
            cores,
            l.cores,
            "use several chips, or a narrower network",
        );
    }
    check(
        "neurons per chip",
        r.neurons,
        l.neurons_per_chip,
        "use several chips, or a narrower network",
    );
    check(
        "synapse memory per chip (bytes, weights only)",
        r.synapse_memory_bytes,
        l.synapse_memory_bytes_per_chip,
        "use several chips, fewer or narrower convolutions, or fewer weight bits",
    );
    check(
        "fan-in of one neuron (inputs a core accepts)",
        r.max_fan_in,
        l.fan_in_per_core,
        "split the layer's inputs over several cores with relay neurons, or use smaller kernels",
    );
    check(
        "fan-out of one neuron",
        r.max_fan_out,
        l.fan_out_per_neuron,
        "insert splitter neurons that copy each spike",
    );
    if let Some(bits) = l.delay_bits {
        let longest = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        check(
            "longest delay (steps)",
            r.max_delay as u64,
            Some(longest),
            "chain relay neurons to make up the delay",
        );
    }
    if target.formats.graded.is_none() {
        check(
            "graded projections between on-chip layers (binary spikes only)",
            r.graded_projections as u64,
            Some(0),
            "fold batch norm and pooling into spiking layers, or run those layers on the host",
        );
    }
    out
}

/// The estimate as a text table.
pub fn render(r: &Resources) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let parameters = if r.parameter_words > 0 {
        format!(
            ", {} per-neuron parameter words{}, up to {} parameter sets in a layer",
            r.parameter_words,
            r.parameter_bytes
                .map_or(String::new(), |b| format!(" ({b} bytes)")),
            r.max_parameter_sets
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "{} on {}: {} neurons ({} spiking, {} state words{}{parameters}), {} synapses ({} bytes \
         of {}-bit weights), fan-in up to {}, fan-out up to {}, delays up to {}",
        r.module,
        r.target,
        r.neurons,
        r.spiking_neurons,
        r.state_words,
        r.state_bytes
            .map_or(String::new(), |b| format!(", {b} bytes")),
        r.synapses,
        r.synapse_memory_bytes,
        r.weight_bits,
        r.max_fan_in,
        r.max_fan_out,
        r.max_delay
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<28} {:<6} {:<8} {:>10} {:>14} {:>8} {:>8} {:>6}",
        "layer", "pop", "kind", "neurons", "synapses in", "fan-in", "fan-out", "cores"
    );
    for l in &r.layers {
        let _ = writeln!(
            s,
            "{:<28} {:<6} {:<8} {:>10} {:>14} {:>8} {:>8} {:>6}",
            l.name,
            l.population,
            l.kind,
            l.neurons,
            l.synapses_in,
            l.max_fan_in,
            l.max_fan_out,
            l.cores.map_or("-".to_string(), |c| c.to_string())
        );
    }
    let _ = writeln!(s);
    if r.checks.is_empty() {
        let _ = writeln!(
            s,
            "{} states no resource limits: nothing to check",
            r.target
        );
        return s;
    }
    for c in &r.checks {
        let verdict = if c.ok { "ok  " } else { "OVER" };
        let _ = write!(
            s,
            "{verdict} {}: needs {}, limit {}",
            c.what, c.need, c.limit
        );
        if !c.ok {
            let _ = write!(s, " ({})", c.hint);
        }
        let _ = writeln!(s);
    }
    let over = r.checks.iter().filter(|c| !c.ok).count();
    let _ = writeln!(
        s,
        "{}",
        if over == 0 {
            format!(
                "fits {} by every stated limit (an estimate: placement can need more cores)",
                r.target
            )
        } else {
            format!("does not fit {}: {over} limit(s) exceeded", r.target)
        }
    );
    s
}
