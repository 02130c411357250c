//! Threshold flips shown to be float ties, not waived: a per-neuron trace of the reference
//! interpreter that can impose chosen spike decisions, and [`explain`], which accounts for every
//! spike two runs disagree on.
//!
//! Two implementations that sum in another order (or in float32) may decide a neuron whose
//! membrane lies on its threshold differently, and from then on their spikes may differ anywhere
//! downstream. [`explain`] finds the first neuron whose spike differs (earliest step, then schedule
//! order), requires its membrane to lie within [`TIE_EPSILON`] of the threshold in either run,
//! imposes the other run's decision on the reference there and runs it again, until both agree on
//! every spike; then their logits must agree within the ladder's tolerance. A difference at a
//! membrane away from the threshold is an error naming the layer, step and neuron.

use snnc_compiler::ir::{Encoding, HandleMap, Module, Population, PopulationKind, ProjectionKind};
use snnc_compiler::reference::kernels::{self, Pooling};
use snnc_compiler::reference::{FLIP_MARGIN, run_module};
use snnc_compiler::validate::validate;
use std::collections::BTreeMap;

/// How close to its threshold a membrane must lie for a differing spike to count as a float tie:
/// the reference's own near-threshold margin (architecture.md).
pub const TIE_EPSILON: f64 = FLIP_MARGIN;
/// The equivalence ladder's logit tolerance, relative to `max(1, max|logit|)` of the sample
/// (`reference::compare` keeps its constant private).
pub const LOGIT_TOLERANCE: f64 = 1e-4;

/// One spiking layer of one sample's run.
#[derive(Debug, Clone)]
pub struct LayerTrace {
    pub name: String,
    /// Per neuron (empty where the run does not say: ONNX).
    pub thresholds: Vec<f64>,
    /// `[t][neuron]`: the membrane just before the threshold test; `None` where the
    /// implementation does not expose it (ONNX).
    pub membranes: Option<Vec<Vec<f64>>>,
    /// `[t][neuron]`.
    pub spikes: Vec<Vec<bool>>,
}

/// One sample's run: its spiking layers (the reference's in schedule order) and its logits.
#[derive(Debug, Clone)]
pub struct SampleTrace {
    pub layers: Vec<LayerTrace>,
    pub logits: Vec<f64>,
}

/// Spike decisions imposed on the reference: `(layer in schedule order, step, neuron) -> spike`.
pub type Imposed = BTreeMap<(usize, usize, usize), bool>;

/// Run `m` on one sample as `reference::run_module` does, recording every spiking neuron's
/// membrane and spike, with the decisions in `imposed` taken instead of the threshold test's.
pub fn trace(m: &Module, sample: &[f32], imposed: &Imposed) -> SampleTrace {
    let v = validate(m).unwrap_or_else(|e| panic!("tracing an invalid module: {e}"));
    let incoming = m.incoming();
    let mut depth = HandleMap::filled(m.populations.len(), 1usize);
    for (_, p) in m.projections.iter() {
        depth[p.source] = depth[p.source].max(p.delay as usize + 1);
    }
    let spiking: Vec<_> = v
        .schedule
        .iter()
        .copied()
        .filter(|&h| matches!(m.populations[h].kind, PopulationKind::Spiking(_)))
        .collect();
    let mut layer_of = HandleMap::filled(m.populations.len(), usize::MAX);
    for (i, &h) in spiking.iter().enumerate() {
        layer_of[h] = i;
    }
    let mut layers: Vec<LayerTrace> = spiking
        .iter()
        .map(|&h| {
            let p = &m.populations[h];
            let PopulationKind::Spiking(s) = &p.kind else {
                unreachable!("filtered to spiking populations")
            };
            LayerTrace {
                name: p.name.clone(),
                thresholds: (0..p.shape.numel())
                    .map(|i| s.threshold.at(&m.tensors, i))
                    .collect(),
                membranes: Some(Vec::with_capacity(m.timesteps)),
                spikes: Vec::with_capacity(m.timesteps),
            }
        })
        .collect();
    let mut hist: HandleMap<Population, Vec<Vec<f64>>> = m
        .populations
        .iter()
        .map(|(h, p)| vec![vec![0.0; p.shape.numel()]; depth[h]])
        .collect();
    let (mut membrane, mut current) = snnc_compiler::reference::initial_state(m);
    let mut acc = vec![0.0f64; m.num_classes];
    for t in 0..m.timesteps {
        for &ph in &v.schedule {
            let p = &m.populations[ph];
            let slot = t % depth[ph];
            if let PopulationKind::Analog(a) = &p.kind
                && a.constant
                && t > 0
            {
                let prev = hist[ph][(t - 1) % depth[ph]].clone();
                hist[ph][slot] = prev;
                continue;
            }
            if let PopulationKind::Input(i) = &p.kind {
                let numel = p.shape.numel();
                let start = if i.encoding == Encoding::EventFrames {
                    t * numel
                } else {
                    0
                };
                hist[ph][slot] = sample[start..start + numel]
                    .iter()
                    .map(|x| f64::from(*x))
                    .collect();
                continue;
            }
            let mut input = vec![0.0f64; p.shape.numel()];
            for &eh in &incoming[ph] {
                let e = &m.projections[eh];
                let d = e.delay as usize;
                if t < d {
                    continue;
                }
                let x = &hist[e.source][(t - d) % depth[e.source]];
                deliver(
                    m,
                    &e.kind,
                    t,
                    x,
                    m.populations[e.source].shape.dims(),
                    &mut input,
                    p.shape.dims(),
                );
            }
            if let Some(b) = p.kind.bias() {
                kernels::channel_bias_add(m.tensors[b].at_step(t), &mut input);
            }
            let output = &mut hist[ph][slot];
            match &p.kind {
                PopulationKind::Input(_) => unreachable!("handled above"),
                PopulationKind::Analog(_) => *output = input,
                PopulationKind::Readout(r) => {
                    if let Some(li) = r.integrator {
                        snnc_compiler::reference::integrate(
                            |i| li.at(&m.tensors, i),
                            &mut membrane[ph],
                            &mut current[ph],
                            &mut input,
                        );
                    }
                    snnc_compiler::reference::reduce(&mut acc, &input, t, r.mode.reduction());
                    *output = input;
                }
                PopulationKind::Spiking(s) => {
                    let l = layer_of[ph];
                    // A delayed reset follows the last spike, which may have been imposed.
                    let last: Vec<f64> = match t {
                        0 => vec![0.0; input.len()],
                        _ => hist[ph][(t - 1) % depth[ph]].clone(),
                    };
                    let at = |i| s.at(&m.tensors, i);
                    if let Some(syn) = s.synapse {
                        let cur = current[ph].iter_mut().zip(input.iter_mut());
                        for (i, (ii, x)) in cur.enumerate() {
                            *ii = syn.at(&m.tensors, i).update(*ii, *x);
                            *x = *ii;
                        }
                    }
                    let output = &mut hist[ph][slot];
                    let vm = &mut membrane[ph];
                    for (i, ((vi, x), last)) in vm.iter_mut().zip(&input).zip(&last).enumerate() {
                        let pending = s.reset.is_delayed() && *last != 0.0;
                        *vi = at(i).charge_pending(*vi, *x, pending);
                    }
                    let before = vm.clone();
                    let mut fired = Vec::with_capacity(vm.len());
                    for (n, (vi, oi)) in vm.iter_mut().zip(output.iter_mut()).enumerate() {
                        let threshold_says = at(n).fires(*vi);
                        let spike = imposed.get(&(l, t, n)).copied().unwrap_or(threshold_says);
                        *oi = if spike { 1.0 } else { 0.0 };
                        *vi = at(n).after_fire(*vi, spike);
                        fired.push(spike);
                    }
                    let layer = &mut layers[l];
                    if let Some(membranes) = &mut layer.membranes {
                        membranes.push(before);
                    }
                    layer.spikes.push(fired);
                }
            }
        }
    }
    if let PopulationKind::Readout(r) = &m.populations[v.readout].kind {
        snnc_compiler::reference::finish_reduction(&mut acc, m.timesteps, r.mode.reduction());
    }
    SampleTrace {
        layers,
        logits: acc,
    }
}

/// What projection `kind` at step `t` adds from source values `x` into `out`, as the reference
/// interpreter delivers it (its own `deliver` is crate-private).
fn deliver(
    m: &Module,
    kind: &ProjectionKind,
    t: usize,
    x: &[f64],
    src: &[usize],
    out: &mut [f64],
    dst: &[usize],
) {
    match kind {
        ProjectionKind::Conv2d(c) => {
            let w = &m.tensors[c.weight];
            kernels::conv2d_add(
                x,
                [src[0], src[1], src[2]],
                &w.data,
                [w.shape[0], w.shape[1], w.shape[2], w.shape[3]],
                c.stride,
                c.padding,
                c.groups,
                out,
                [dst[1], dst[2]],
            );
        }
        ProjectionKind::Dense(d) => kernels::dense_add(x, &m.tensors[d.weight].data, out),
        ProjectionKind::SumPool(p) => {
            let (planes, out_hw) = match (src, dst) {
                ([c, h, w], [_, oh, ow]) => ([*c, *h, *w], [*oh, *ow]),
                ([n], [on]) => ([1, 1, *n], [1, *on]),
                _ => unreachable!("validated sum_pool shapes"),
            };
            kernels::pool_add(
                x,
                planes,
                p.kernel,
                p.stride,
                p.padding,
                Pooling::Sum { scale: p.scale },
                out,
                out_hw,
            );
        }
        ProjectionKind::Identity(_) | ProjectionKind::Reshape(_) | ProjectionKind::Dropout(_) => {
            out.iter_mut().zip(x).for_each(|(o, v)| *o += v);
        }
        ProjectionKind::Scale(s) => out.iter_mut().zip(x).for_each(|(o, v)| *o += s.factor * v),
        ProjectionKind::Affine(a) => {
            kernels::channel_scale_add(x, m.tensors[a.scale].at_step(t), out)
        }
    }
}

/// The reference's traces of every sample, checked against `run_module` itself (same layers,
/// spike counts and logits, bit for bit), so the trace cannot drift from the oracle it stands for.
pub fn reference_traces(m: &Module, inputs: &[Vec<f32>]) -> Vec<SampleTrace> {
    let run = run_module(m, inputs).unwrap_or_else(|e| panic!("reference run: {e}"));
    inputs
        .iter()
        .enumerate()
        .map(|(s, x)| {
            let traced = trace(m, x, &Imposed::new());
            for (i, name) in run.layers.iter().enumerate() {
                let layer = traced
                    .layers
                    .iter()
                    .find(|l| &l.name == name)
                    .unwrap_or_else(|| panic!("the trace lacks layer `{name}`"));
                let counts: Vec<u64> = layer
                    .spikes
                    .iter()
                    .map(|step| step.iter().filter(|&&b| b).count() as u64)
                    .collect();
                assert_eq!(
                    counts, run.spikes[s][i],
                    "sample {s}, layer `{name}`: the trace's spike counts differ from run_module's"
                );
            }
            assert_eq!(traced.layers.len(), run.layers.len(), "sample {s}: layers");
            assert_eq!(
                traced.logits, run.logits[s],
                "sample {s}: the trace's logits differ from run_module's"
            );
            traced
        })
        .collect()
}

/// A differing spike shown to be a float tie.
#[derive(Debug, Clone)]
pub struct Flip {
    pub layer: String,
    pub step: usize,
    pub neuron: usize,
    /// The reference's membrane and threshold there.
    pub membrane: f64,
    pub threshold: f64,
    /// The other run's membrane there, if it exposes membranes.
    pub other_membrane: Option<f64>,
}

/// How one sample's two runs were reconciled.
#[derive(Debug, Clone, Default)]
pub struct Explained {
    /// In the order they were found; each a float tie.
    pub flips: Vec<Flip>,
    /// `max|a - b| / max(1, max|a|)` of the logits once the flips are imposed.
    pub logit_error: f64,
    /// The predictions differ only because two of the reference's logits tie (within the
    /// logit tolerance).
    pub prediction_tie: bool,
}

/// Account for every spike on which the reference (module `m` on `sample`) and `other` disagree:
/// each first difference must be a float tie (see the module doc), after which the logits agree.
/// Layers are matched by name; those in only one run are an error unless `missing_layers_allowed`
/// (a pass that removes dead layers).
pub fn explain(
    m: &Module,
    sample: &[f32],
    other: &SampleTrace,
    missing_layers_allowed: bool,
) -> Result<Explained, String> {
    let mut imposed = Imposed::new();
    let mut explained = Explained::default();
    let mut last: Option<(usize, usize)> = None;
    loop {
        let reference = trace(m, sample, &imposed);
        let pairs = pair_layers(&reference, other, missing_layers_allowed)?;
        let Some((t, i, j, neurons)) = first_difference(&reference, other, &pairs)? else {
            return finish(&reference, other, explained);
        };
        if last.is_some_and(|at| at >= (t, i)) {
            return Err(format!(
                "imposing the other run's spikes on `{}` at step {t} did not take",
                reference.layers[i].name
            ));
        }
        last = Some((t, i));
        let (a, b) = (&reference.layers[i], &other.layers[j]);
        for n in neurons {
            let membrane = a
                .membranes
                .as_ref()
                .expect("the reference traces membranes")[t][n];
            let other_membrane = b.membranes.as_ref().map(|v| v[t][n]);
            let threshold = a.thresholds[n];
            let other_threshold = b.thresholds.get(n).copied().unwrap_or(threshold);
            let tie = (membrane - threshold).abs() < TIE_EPSILON
                || other_membrane.is_some_and(|v| (v - other_threshold).abs() < TIE_EPSILON);
            if !tie {
                return Err(format!(
                    "layer `{}`, step {t}, neuron {n}: the reference {} (membrane {membrane}, \
                     threshold {}), the other run {} (membrane {}); not a float tie \
                     (|membrane - threshold| >= {TIE_EPSILON:e}); {} ties before it",
                    a.name,
                    if a.spikes[t][n] {
                        "fires"
                    } else {
                        "stays silent"
                    },
                    threshold,
                    if b.spikes[t][n] {
                        "fires"
                    } else {
                        "stays silent"
                    },
                    other_membrane.map_or("not exposed".to_string(), |v| v.to_string()),
                    explained.flips.len()
                ));
            }
            imposed.insert((i, t, n), b.spikes[t][n]);
            explained.flips.push(Flip {
                layer: a.name.clone(),
                step: t,
                neuron: n,
                membrane,
                threshold,
                other_membrane,
            });
        }
    }
}

/// `(reference layer, other layer)` index pairs with the same name.
fn pair_layers(
    reference: &SampleTrace,
    other: &SampleTrace,
    missing_layers_allowed: bool,
) -> Result<Vec<(usize, usize)>, String> {
    let position = |t: &SampleTrace, name: &str| t.layers.iter().position(|l| l.name == name);
    let unmatched: Vec<&str> = reference
        .layers
        .iter()
        .filter(|l| position(other, &l.name).is_none())
        .chain(
            other
                .layers
                .iter()
                .filter(|l| position(reference, &l.name).is_none()),
        )
        .map(|l| l.name.as_str())
        .collect();
    if !unmatched.is_empty() && !missing_layers_allowed {
        return Err(format!("layers only in one run: {unmatched:?}"));
    }
    Ok(reference
        .layers
        .iter()
        .enumerate()
        .filter_map(|(i, l)| position(other, &l.name).map(|j| (i, j)))
        .collect())
}

/// The earliest step, then the first reference layer in schedule order, where the spikes differ:
/// `(t, reference layer, other layer, differing neurons)`.
#[allow(clippy::type_complexity)]
fn first_difference(
    reference: &SampleTrace,
    other: &SampleTrace,
    pairs: &[(usize, usize)],
) -> Result<Option<(usize, usize, usize, Vec<usize>)>, String> {
    let steps = reference.layers.first().map_or(0, |l| l.spikes.len());
    for t in 0..steps {
        for &(i, j) in pairs {
            let (a, b) = (&reference.layers[i], &other.layers[j]);
            let (Some(sa), Some(sb)) = (a.spikes.get(t), b.spikes.get(t)) else {
                return Err(format!(
                    "layer `{}`: {} steps in the reference, {} in the other run",
                    a.name,
                    a.spikes.len(),
                    b.spikes.len()
                ));
            };
            if sa.len() != sb.len() {
                return Err(format!(
                    "layer `{}`, step {t}: {} neurons in the reference, {} in the other run",
                    a.name,
                    sa.len(),
                    sb.len()
                ));
            }
            let differing: Vec<usize> = (0..sa.len()).filter(|&n| sa[n] != sb[n]).collect();
            if !differing.is_empty() {
                return Ok(Some((t, i, j, differing)));
            }
        }
    }
    Ok(None)
}

/// With every spike agreeing, the logits must agree within the ladder's tolerance, and the
/// predictions too unless two of the reference's logits tie.
fn finish(
    reference: &SampleTrace,
    other: &SampleTrace,
    mut explained: Explained,
) -> Result<Explained, String> {
    let (a, b) = (&reference.logits, &other.logits);
    if a.len() != b.len() {
        return Err(format!(
            "{} logits in the reference, {} in the other run",
            a.len(),
            b.len()
        ));
    }
    let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    explained.logit_error = diff / scale;
    if explained.logit_error > LOGIT_TOLERANCE {
        return Err(format!(
            "with every spike agreeing ({} flips imposed), the logits differ by {:.3e} (relative), \
             above {LOGIT_TOLERANCE:e}: {a:?} vs {b:?}",
            explained.flips.len(),
            explained.logit_error
        ));
    }
    let (pa, pb) = (kernels::argmax(a), kernels::argmax(b));
    if pa != pb {
        if (a[pa] - a[pb]).abs() > LOGIT_TOLERANCE * scale {
            return Err(format!(
                "predictions differ ({pa} vs {pb}) though the logits agree: {a:?} vs {b:?}"
            ));
        }
        explained.prediction_tie = true;
    }
    Ok(explained)
}

/// Totals over many [`explain`] calls, for the tests' closing line.
#[derive(Debug, Default)]
pub struct Tally {
    pub samples: usize,
    pub flips: usize,
    pub prediction_ties: usize,
    pub worst_logit_error: f64,
    /// The flips themselves, with what they were part of, to print.
    pub seen: Vec<(String, Flip)>,
}

impl Tally {
    pub fn add(&mut self, what: &str, explained: Explained) {
        self.samples += 1;
        self.flips += explained.flips.len();
        self.prediction_ties += usize::from(explained.prediction_tie);
        self.worst_logit_error = self.worst_logit_error.max(explained.logit_error);
        self.seen
            .extend(explained.flips.into_iter().map(|f| (what.to_string(), f)));
    }

    /// Print the totals and every flip (there are few: each is a float tie).
    pub fn print(&self, test: &str) {
        eprintln!(
            "{test}: {} samples agree; {} threshold flips, each a float tie (|v - threshold| < \
             {TIE_EPSILON:e}); {} prediction ties; worst logit error {:.1e}",
            self.samples, self.flips, self.prediction_ties, self.worst_logit_error
        );
        for (what, f) in &self.seen {
            eprintln!(
                "  {what}: `{}` step {} neuron {}: membrane {} (other {:?}), threshold {}",
                f.layer, f.step, f.neuron, f.membrane, f.other_membrane, f.threshold
            );
        }
    }
}

#[test]
fn the_trace_is_the_reference_interpreter() {
    for seed in 0..200 {
        let m = snnc_compiler::synth::random_module(seed);
        let x = snnc_compiler::synth::random_inputs(&m, seed);
        reference_traces(&m, &x);
    }
    for name in &crate::common::fixtures() {
        let (net, _, m) = crate::common::lowered(name);
        reference_traces(
            &m,
            &snnc_compiler::synth::inputs(&net, 2, crate::common::SEED),
        );
    }
}

fn parsed(text: &str) -> Module {
    snnc_compiler::text::parse(text, "tie.snnir", |_| {
        Ok(snnc_compiler::network::Weights::default())
    })
    .unwrap_or_else(|e| panic!("{e}\n{text}"))
    .0
}

/// A one-neuron module whose membrane at step 0 (input 1) is `drive`, against threshold 1.
fn single_neuron(drive: f32) -> Module {
    parsed(&format!(
        r#"snnir 1
module "one" timesteps=2 classes=1
t0 = tensor "w" [1, 1] [{drive:?}]
t1 = tensor "r" [1, 1] [1.0]
p0 = input "x" [1] direct
p1 = spiking "lif" [1] beta=0.5 gain=1 threshold=1 v_reset=0 reset=hard fire=ge
p2 = readout "out" [1] spike_count
e0 = dense p0 -> p1 graded weight=t0
e1 = dense p1 -> p2 binary weight=t1
"#
    ))
}

/// [`single_neuron`] followed by a second layer `lif2` that fires exactly when `lif` does, with
/// its membrane (2 or 0) far from its threshold.
fn two_layers(drive: f32) -> Module {
    parsed(&format!(
        r#"snnir 1
module "two" timesteps=2 classes=1
t0 = tensor "w" [1, 1] [{drive:?}]
t1 = tensor "w2" [1, 1] [2.0]
t2 = tensor "r" [1, 1] [1.0]
p0 = input "x" [1] direct
p1 = spiking "lif" [1] beta=0.5 gain=1 threshold=1 v_reset=0 reset=hard fire=ge
p2 = spiking "lif2" [1] beta=0 gain=1 threshold=1 v_reset=0 reset=hard fire=ge
p3 = readout "out" [1] spike_count
e0 = dense p0 -> p1 graded weight=t0
e1 = dense p1 -> p2 binary weight=t1
e2 = dense p2 -> p3 binary weight=t2
"#
    ))
}

#[test]
fn a_flip_at_the_threshold_is_a_tie_and_one_away_from_it_is_not() {
    let x = [1.0f32];
    let other_run = |drive| reference_traces(&single_neuron(drive), &[x.to_vec()]).remove(0);
    // Both membranes a hair from the threshold at step 0: the reference fires, the other does not.
    let reference = single_neuron(1.0 + 1e-6);
    let tie = other_run(1.0 - 1e-6);
    let explained = explain(&reference, &x, &tie, false).expect("a float tie");
    assert_eq!(explained.flips.len(), 1, "{explained:?}");
    assert_eq!((explained.flips[0].step, explained.flips[0].neuron), (0, 0));
    // The same difference with both membranes far from the threshold is no tie.
    let far_reference = single_neuron(1.5);
    let far = other_run(0.5);
    let err = explain(&far_reference, &x, &far, false).expect_err("not a tie");
    assert!(
        err.contains("layer `lif`, step 0, neuron 0") && err.contains("not a float tie"),
        "{err}"
    );
    // Without membranes from the other run (ONNX), the reference's own membrane decides.
    let mut blind = tie;
    blind.layers[0].membranes = None;
    assert!(explain(&reference, &x, &blind, false).is_ok());
    let mut blind = far;
    blind.layers[0].membranes = None;
    assert!(explain(&far_reference, &x, &blind, false).is_err());
    // A tie in the other run alone also explains the flip (the reference is far, the other near).
    let near_other = other_run(1.0 - 1e-6);
    assert!(explain(&far_reference, &x, &near_other, false).is_ok());
}

#[test]
fn a_tie_explains_the_differences_that_follow_from_it() {
    let x = [1.0f32];
    let reference = two_layers(1.0 + 1e-6);
    let other = reference_traces(&two_layers(1.0 - 1e-6), &[x.to_vec()]).remove(0);
    // `lif2` differs at step 0 too, far from its threshold, but only because `lif` did.
    assert_ne!(
        other.layers[1].spikes[0],
        trace(&reference, &x, &Imposed::new()).layers[1].spikes[0]
    );
    let explained = explain(&reference, &x, &other, false).expect("one tie and its consequence");
    let flipped: Vec<(&str, usize)> = explained
        .flips
        .iter()
        .map(|f| (f.layer.as_str(), f.step))
        .collect();
    assert_eq!(flipped, [("lif", 0)]);
}

#[test]
fn the_logits_must_agree_once_the_spikes_do() {
    let x = [1.0f32];
    let m = two_layers(1.5);
    let mut other = reference_traces(&m, &[x.to_vec()]).remove(0);
    assert!(explain(&m, &x, &other, false).is_ok());
    other.logits[0] += 0.01;
    let err = explain(&m, &x, &other, false).expect_err("logits apart");
    assert!(err.contains("the logits differ"), "{err}");
}

#[test]
fn a_layer_in_one_run_only_is_an_error_unless_dead_layers_were_removed() {
    let x = [1.0f32];
    let m = two_layers(1.5);
    let mut other = reference_traces(&m, &[x.to_vec()]).remove(0);
    other.layers.remove(1);
    let err = explain(&m, &x, &other, false).expect_err("lif2 is missing");
    assert!(err.contains("layers only in one run: [\"lif2\"]"), "{err}");
    assert!(explain(&m, &x, &other, true).is_ok());
}
