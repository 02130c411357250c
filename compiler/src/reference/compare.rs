//! The equivalence ladder of architecture.md, applied to two runs on the same inputs.
//!
//! Predictions equal on every sample; logits within `1e-4 * max(1, max|a|)` per sample; spike
//! counts per layer and step equal, except threshold flips: once either run saw a membrane within
//! [`super::FLIP_MARGIN`] of its threshold in a sample, later differences in that sample count as
//! flips (and its logits are exempt); the flip rate (flipped / all spikes) must stay <= 1e-3.

use super::RunOutput;
use std::fmt;
use thiserror::Error;

/// Largest tolerated logit difference, relative to `max(1, max|a|)` of the sample.
pub const LOGIT_TOLERANCE: f64 = 1e-4;
/// Largest tolerated share of flipped spikes.
pub const FLIP_RATE_LIMIT: f64 = 1e-3;

/// How two runs compare; [`Agreement::check`] turns it into a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    pub samples: usize,
    /// Samples whose predictions differ.
    pub prediction_mismatches: Vec<usize>,
    /// Largest `max|a-b| / max(1, max|a|)` over samples without flips.
    pub max_logit_error: f64,
    /// Spikes that differ where a flip licenses it.
    pub flips: u64,
    /// All spikes of the first run.
    pub spikes: u64,
    /// Differences no flip explains: `(sample, layer, t, a, b)`.
    pub unexplained: Vec<(usize, String, usize, u64, u64)>,
    /// Layers of one run that the other lacks.
    pub unmatched_layers: Vec<String>,
}

impl Agreement {
    pub fn flip_rate(&self) -> f64 {
        if self.spikes == 0 {
            0.0
        } else {
            self.flips as f64 / self.spikes as f64
        }
    }

    /// `Ok` when the runs agree in the ladder's sense, else every way they differ.
    pub fn check(&self) -> Result<(), Disagreement> {
        let mut problems = Vec::new();
        if !self.prediction_mismatches.is_empty() {
            problems.push(Discrepancy::Predictions {
                samples: self.prediction_mismatches.clone(),
            });
        }
        if self.max_logit_error > LOGIT_TOLERANCE {
            problems.push(Discrepancy::Logits {
                error: self.max_logit_error,
            });
        }
        if let Some((sample, layer, step, a, b)) = self.unexplained.first() {
            problems.push(Discrepancy::Spikes {
                count: self.unexplained.len(),
                sample: *sample,
                layer: layer.clone(),
                step: *step,
                a: *a,
                b: *b,
            });
        }
        if self.flip_rate() > FLIP_RATE_LIMIT {
            problems.push(Discrepancy::FlipRate {
                rate: self.flip_rate(),
            });
        }
        if !self.unmatched_layers.is_empty() {
            problems.push(Discrepancy::Layers {
                names: self.unmatched_layers.clone(),
            });
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Disagreement(problems))
        }
    }
}

/// One way two runs fail the ladder.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Discrepancy {
    #[error("predictions differ on samples {samples:?}")]
    Predictions { samples: Vec<usize> },
    #[error("logits differ by {error:.3e} (relative), above {LOGIT_TOLERANCE:e}")]
    Logits { error: f64 },
    #[error(
        "{count} spike counts differ without a threshold flip, first: sample {sample}, layer `{layer}`, step {step}: {a} vs {b}"
    )]
    Spikes {
        count: usize,
        sample: usize,
        layer: String,
        step: usize,
        a: u64,
        b: u64,
    },
    #[error("flip rate {rate:.2e} above {FLIP_RATE_LIMIT:e}")]
    FlipRate { rate: f64 },
    #[error("layers only in one run: {names:?}")]
    Layers { names: Vec<String> },
}

/// Every way two runs differ (at least one); prints them joined by `; `.
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement(pub Vec<Discrepancy>);

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Disagreement {}

/// Compare run `a` (the reference) with run `b`, matching layers by name.
pub fn compare(a: &RunOutput, b: &RunOutput) -> Agreement {
    let mut ag = Agreement {
        samples: a.logits.len().min(b.logits.len()),
        prediction_mismatches: Vec::new(),
        max_logit_error: 0.0,
        flips: 0,
        spikes: 0,
        unexplained: Vec::new(),
        unmatched_layers: Vec::new(),
    };
    let pairs: Vec<(usize, usize)> = a
        .layers
        .iter()
        .enumerate()
        .filter_map(|(i, name)| b.layers.iter().position(|n| n == name).map(|j| (i, j)))
        .collect();
    ag.unmatched_layers = a
        .layers
        .iter()
        .filter(|n| !b.layers.contains(n))
        .chain(b.layers.iter().filter(|n| !a.layers.contains(n)))
        .cloned()
        .collect();
    if a.logits.len() != b.logits.len() {
        ag.prediction_mismatches = (ag.samples..a.logits.len().max(b.logits.len())).collect();
    }
    for s in 0..ag.samples {
        if a.predictions[s] != b.predictions[s] {
            ag.prediction_mismatches.push(s);
        }
        let steps = a.spikes[s].first().map_or(0, |l| l.len());
        // The first step at which either run had a near-threshold membrane in this sample.
        let first_near = (0..steps).find(|&t| {
            pairs
                .iter()
                .any(|&(i, j)| a.near_threshold[s][i][t] > 0 || b.near_threshold[s][j][t] > 0)
        });
        let mut flipped = false;
        for &(i, j) in &pairs {
            for t in 0..steps {
                let (x, y) = (a.spikes[s][i][t], b.spikes[s][j][t]);
                ag.spikes += x;
                if x == y {
                    continue;
                }
                if first_near.is_some_and(|t0| t >= t0) {
                    ag.flips += x.abs_diff(y);
                    flipped = true;
                } else {
                    ag.unexplained.push((s, a.layers[i].clone(), t, x, y));
                }
            }
        }
        if !flipped {
            let scale = a.logits[s].iter().fold(1.0f64, |m, v| m.max(v.abs()));
            let diff = a.logits[s]
                .iter()
                .zip(&b.logits[s])
                .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
            ag.max_logit_error = ag.max_logit_error.max(diff / scale);
        }
    }
    ag
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(logits: Vec<f64>, spikes: Vec<u64>, near: Vec<u64>) -> RunOutput {
        RunOutput {
            predictions: vec![crate::reference::kernels::argmax(&logits)],
            logits: vec![logits],
            layers: vec!["l".into()],
            spikes: vec![vec![spikes]],
            near_threshold: vec![vec![near]],
        }
    }

    #[test]
    fn equal_runs_agree() {
        let a = run(vec![1.0, 2.0], vec![3, 4], vec![0, 0]);
        assert_eq!(compare(&a, &a).check(), Ok(()));
    }

    #[test]
    fn logit_tolerance_is_relative_to_the_largest_logit() {
        let a = run(vec![100.0, 2.0], vec![3, 4], vec![0, 0]);
        let b = run(vec![100.005, 2.0], vec![3, 4], vec![0, 0]);
        assert_eq!(compare(&a, &b).check(), Ok(())); // 5e-3 / 100 = 5e-5
        let c = run(vec![100.02, 2.0], vec![3, 4], vec![0, 0]);
        assert!(
            compare(&a, &c)
                .check()
                .unwrap_err()
                .to_string()
                .contains("logits differ")
        );
    }

    #[test]
    fn spike_differences_need_a_near_threshold_membrane_first() {
        let a = run(vec![1.0], vec![3, 4], vec![0, 0]);
        let b = run(vec![1.0], vec![3, 5], vec![0, 0]);
        let err = compare(&a, &b).check().unwrap_err().to_string();
        assert!(
            err.contains("without a threshold flip") && err.contains("step 1: 4 vs 5"),
            "{err}"
        );
        // A near-threshold membrane at step 1 licenses the difference (and exempts the logits).
        let b = run(vec![1.5], vec![3, 5], vec![0, 1]);
        let ag = compare(&a, &b);
        assert_eq!(ag.flips, 1);
        assert!(ag.unexplained.is_empty());
        assert!(matches!(
            ag.check().unwrap_err().0[..],
            [Discrepancy::FlipRate { .. }]
        )); // 1 of 7 spikes is above 1e-3
    }
}
