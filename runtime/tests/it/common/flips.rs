//! Every spike on which the runtime and the reference disagree is proven a float tie: the
//! runtime's trace is replayed through the reference interpreter's f64 arithmetic one population
//! and step at a time, and each differing spike decision must sit within [`TIE_EPSILON`] of the
//! threshold.
//!
//! The replay is teacher-forced: a population's drive at step `t` is computed from the values the
//! runtime itself traced for its sources, and a membrane is reset where the runtime spiked. So a
//! flip cannot cascade: each one reported is a decision the runtime made differently on the same
//! inputs, never a consequence of an earlier flip. Analog and readout values are checked on the
//! way (a wrong graded value would otherwise feed the replay unnoticed), and the readout's
//! values, through its leaky integrator if it has one, are reduced into logits as the reference
//! does ([`reduce`], [`finish_reduction`]) to check the runtime's, flips or not.

use rayon::prelude::*;
use snnc_compiler::ir::{Module, PopulationKind};
use snnc_compiler::reference::kernels;
use snnc_compiler::reference::{
    FLIP_MARGIN, RunOutput, compare, deliver, finish_reduction, reduce,
};
use snnc_runtime::{Plan, SampleRun};

/// A membrane closer than this to its threshold may fire either way under another summation
/// order (f32 in the runtime, f64 in the reference): the margin the reference flags as
/// near-threshold.
pub const TIE_EPSILON: f64 = FLIP_MARGIN;

/// Largest tolerated difference of a traced graded value (analog population, readout input),
/// relative to `max(1, max|reference|)` of that population at that step.
pub const VALUE_TOLERANCE: f64 = 1e-4;

/// One spike decision of the runtime that the reference arithmetic makes the other way.
#[derive(Debug, Clone, PartialEq)]
pub struct Flip {
    pub population: String,
    pub neuron: usize,
    pub step: usize,
    /// The reference membrane before the decision (the runtime's, in f32, rounds differently).
    pub membrane: f64,
    pub threshold: f64,
    pub runtime_spiked: bool,
}

impl Flip {
    pub fn is_tie(&self) -> bool {
        (self.membrane - self.threshold).abs() < TIE_EPSILON
    }
}

/// Replay one traced sample (`trace[t][population]`, as [`SampleRun::trace`] holds it) and
/// return every flip, or `Err` naming the first graded value the runtime got wrong.
pub fn replay(m: &Module, trace: &[Vec<Vec<f32>>]) -> Result<Vec<Flip>, String> {
    replay_sample(m, trace).map(|r| r.flips)
}

/// What the replay of one sample found: its flips, and the logits the reference arithmetic
/// makes of the traced inputs of the readout.
pub struct Replay {
    pub flips: Vec<Flip>,
    pub logits: Vec<f64>,
}

/// [`replay`], with the logits.
pub fn replay_sample(m: &Module, trace: &[Vec<Vec<f32>>]) -> Result<Replay, String> {
    let incoming = m.incoming();
    // Membranes and synaptic currents as the reference starts them; the currents are not
    // traced, so replayed from the drives (exact in f64, like the membranes; the runtime's f32
    // rounding stays within the tie epsilon).
    let (start_membrane, start_current) = snnc_compiler::reference::initial_state(m);
    let mut membrane: Vec<Vec<f64>> = start_membrane.values().cloned().collect();
    let mut current: Vec<Vec<f64>> = start_current.values().cloned().collect();
    let mut flips = Vec::new();
    let mut logits = vec![0.0f64; m.num_classes];
    for t in 0..m.timesteps {
        for (h, p) in m.populations.iter() {
            if matches!(p.kind, PopulationKind::Input(_)) {
                continue;
            }
            if let PopulationKind::Analog(a) = &p.kind
                && a.constant
                && t > 0
            {
                // Hoisted: step 0 was checked, and the value may not change since.
                if trace[t][h.index()] != trace[0][h.index()] {
                    return Err(format!("constant `{}` changed at step {t}", p.name));
                }
                continue;
            }
            let mut drive = vec![0.0f64; p.shape.numel()];
            for &eh in &incoming[h] {
                let e = &m.projections[eh];
                let d = e.delay as usize;
                if t < d {
                    continue;
                }
                let x: Vec<f64> = trace[t - d][e.source.index()]
                    .iter()
                    .map(|v| f64::from(*v))
                    .collect();
                let src = &m.populations[e.source].shape.0;
                deliver(&m.tensors, &e.kind, t, &x, src, &mut drive, &p.shape.0);
            }
            if let Some(b) = p.kind.bias() {
                kernels::channel_bias_add(m.tensors[b].at_step(t), &mut drive);
            }
            let traced = &trace[t][h.index()];
            match &p.kind {
                PopulationKind::Input(_) => unreachable!("skipped above"),
                PopulationKind::Analog(_) | PopulationKind::Readout(_) => {
                    // An integrator's membrane free-runs in f64 from the traced inputs, as the
                    // synaptic currents do; the traced value is that membrane.
                    if let PopulationKind::Readout(r) = &p.kind {
                        if let Some(li) = r.integrator {
                            let (vm, cur) = (&mut membrane[h.index()], &mut current[h.index()]);
                            for (k, (v, x)) in vm.iter_mut().zip(drive.iter_mut()).enumerate() {
                                let li = li.at(&m.tensors, k);
                                let x_in = match li.synapse {
                                    Some(syn) => {
                                        cur[k] = syn.update(cur[k], *x);
                                        cur[k]
                                    }
                                    None => *x,
                                };
                                *v = li.charge(*v, x_in);
                                *x = *v;
                            }
                        }
                        reduce(&mut logits, &drive, t, r.mode.reduction());
                    }
                    let scale = drive.iter().fold(1.0f64, |s, v| s.max(v.abs()));
                    if let Some((i, (r, v))) =
                        drive.iter().zip(traced).enumerate().find(|(_, (r, v))| {
                            (**r - f64::from(**v)).abs() > VALUE_TOLERANCE * scale
                        })
                    {
                        return Err(format!(
                            "`{}` element {i} at step {t}: runtime {v}, reference {r}",
                            p.name
                        ));
                    }
                }
                PopulationKind::Spiking(s) => {
                    if let Some(syn) = s.synapse {
                        let cur = current[h.index()].iter_mut().zip(drive.iter_mut());
                        for (k, (i, x)) in cur.enumerate() {
                            *i = syn.at(&m.tensors, k).update(*i, *x);
                            *x = *i;
                        }
                    }
                    for (i, v) in membrane[h.index()].iter_mut().enumerate() {
                        let s = s.at(&m.tensors, i);
                        // A delayed reset follows the runtime's last spike, imposed like the rest.
                        let pending =
                            s.reset.is_delayed() && t > 0 && trace[t - 1][h.index()][i] != 0.0;
                        *v = s.charge_pending(*v, drive[i], pending);
                        let reference_spikes = s.fires(*v);
                        let runtime_spiked = traced[i] != 0.0;
                        if reference_spikes != runtime_spiked {
                            flips.push(Flip {
                                population: p.name.clone(),
                                neuron: i,
                                step: t,
                                membrane: *v,
                                threshold: s.threshold,
                                runtime_spiked,
                            });
                        }
                        // Forced: the runtime's decision resets, so later steps replay its state.
                        *v = s.after_fire(*v, runtime_spiked);
                    }
                }
            }
        }
    }
    if let Some((_, p)) = m
        .populations
        .iter()
        .find(|(_, p)| matches!(p.kind, PopulationKind::Readout(_)))
        && let PopulationKind::Readout(r) = &p.kind
    {
        finish_reduction(&mut logits, m.timesteps, r.mode.reduction());
    }
    Ok(Replay { flips, logits })
}

/// What [`check_runs`] found: flips (all ties) and the samples they occurred in.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FlipSummary {
    pub flips: usize,
    pub samples_with_flips: usize,
}

/// The equivalence ladder, sample by sample, with no check waived for a flip it cannot prove:
/// every flip of the runtime (found by [`replay`] on traced `runs`) must be a tie; a sample
/// without one must pass the full ladder against `reference` (predictions, logits, spikes); a
/// sample with one may differ from the free-running reference only after a near-threshold
/// membrane (its trajectory left the reference's at a proven tie, so its logits and prediction
/// may too).
pub fn check_runs(
    m: &Module,
    plan: &Plan,
    reference: &RunOutput,
    runs: &[SampleRun],
) -> Result<FlipSummary, String> {
    let mine = plan.run_output(runs);
    let replays: Vec<Result<Replay, String>> = runs
        .par_iter()
        .enumerate()
        .map(|(s, run)| {
            let trace = run
                .trace
                .as_ref()
                .ok_or("the runs must be traced to replay them")?;
            replay_sample(m, trace).map_err(|e| format!("sample {s}: {e}"))
        })
        .collect();
    let mut summary = FlipSummary::default();
    for (s, replayed) in replays.into_iter().enumerate() {
        let Replay { flips, logits } = replayed?;
        // The runtime's reduction of its own readout values, checked in every sample (a
        // sample with a flip skips the ladder's logit check).
        let scale = logits.iter().fold(1.0f64, |s, v| s.max(v.abs()));
        if let Some((i, (r, v))) = logits
            .iter()
            .zip(&runs[s].logits)
            .enumerate()
            .find(|(_, (r, v))| (**r - **v).abs() > VALUE_TOLERANCE * scale)
        {
            return Err(format!(
                "sample {s}: logit {i}: runtime {v}, reference reduction of the replay {r}"
            ));
        }
        if let Some(f) = flips.iter().find(|f| !f.is_tie()) {
            return Err(format!(
                "sample {s}: `{}` neuron {} at step {}: the runtime {} with the reference membrane \
                 {} vs threshold {} (|difference| {:.3e}, not below the tie epsilon {TIE_EPSILON:e})",
                f.population,
                f.neuron,
                f.step,
                if f.runtime_spiked {
                    "spiked"
                } else {
                    "stayed silent"
                },
                f.membrane,
                f.threshold,
                (f.membrane - f.threshold).abs()
            ));
        }
        let ag = compare(&sample(reference, s), &sample(&mine, s));
        if flips.is_empty() {
            ag.check()
                .map_err(|e| format!("sample {s} (no flip): {e}"))?;
        } else {
            summary.flips += flips.len();
            summary.samples_with_flips += 1;
            if !ag.unexplained.is_empty() || !ag.unmatched_layers.is_empty() {
                return Err(format!(
                    "sample {s} ({} tie flips): spike counts differ before any near-threshold \
                     membrane {:?}, unmatched layers {:?}",
                    flips.len(),
                    ag.unexplained,
                    ag.unmatched_layers
                ));
            }
        }
    }
    Ok(summary)
}

/// Sample `s` of a run, as a run of one sample.
fn sample(run: &RunOutput, s: usize) -> RunOutput {
    RunOutput {
        logits: vec![run.logits[s].clone()],
        predictions: vec![run.predictions[s]],
        layers: run.layers.clone(),
        spikes: vec![run.spikes[s].clone()],
        near_threshold: vec![run.near_threshold[s].clone()],
    }
}
