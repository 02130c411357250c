//! Many samples in parallel on the rayon pool: kept runs, or a profile folded as it goes.

use super::{Inputs, SampleRun, State};
use crate::error::RuntimeError;
use crate::plan::Plan;
use rayon::prelude::*;

impl Plan {
    /// Run every sample of `inputs`, in parallel on the current rayon pool; `progress` is
    /// called once per finished sample.
    pub fn run_batch(
        &self,
        inputs: &(impl Inputs + ?Sized),
        trace: bool,
        progress: Option<&(dyn Fn() + Sync)>,
    ) -> Result<Vec<SampleRun>, RuntimeError> {
        (0..inputs.len())
            .into_par_iter()
            .with_min_len(chunk(inputs.len()))
            .map_init(
                || (State::new(self), Vec::new()),
                |(st, buf), i| {
                    inputs.fill(i, buf)?;
                    let r = self.run_sample(st, buf, i, trace);
                    if let Some(p) = progress {
                        p();
                    }
                    r
                },
            )
            .collect()
    }
}

/// Samples per rayon job: `map_init` makes a fresh [`State`] per job, so jobs are kept few
/// (four per thread balances load) rather than one per sample.
fn chunk(samples: usize) -> usize {
    samples.div_ceil(4 * rayon::current_num_threads()).max(1)
}

/// A profiling run over many samples, folded as it goes: counts, predictions, time.
#[derive(Debug, Clone)]
pub struct Profile {
    pub tally: crate::counts::Tally,
    /// Prediction of each sample, in sample order.
    pub predictions: Vec<usize>,
    pub seconds: f64,
}

impl Profile {
    /// Share of predictions equal to `labels` (over the samples both cover).
    pub fn accuracy(&self, labels: &[u8]) -> Option<f64> {
        let n = self.predictions.len().min(labels.len());
        (n > 0).then(|| {
            self.predictions
                .iter()
                .zip(labels)
                .filter(|(p, l)| **p == usize::from(**l))
                .count() as f64
                / n as f64
        })
    }
}

impl Plan {
    /// Run every sample of `inputs` in parallel and fold the counts without keeping the runs,
    /// so memory stays flat however many samples there are.
    pub fn profile(
        &self,
        inputs: &(impl Inputs + ?Sized),
        progress: Option<&(dyn Fn() + Sync)>,
    ) -> Result<Profile, RuntimeError> {
        use crate::counts::Tally;
        let start = std::time::Instant::now();
        let empty = || (Tally::new(self), Vec::new());
        let (tally, mut preds) = (0..inputs.len())
            .into_par_iter()
            .with_min_len(chunk(inputs.len()))
            .map_init(
                || (State::new(self), Vec::new()),
                |(st, buf), i| -> Result<(usize, SampleRun), RuntimeError> {
                    inputs.fill(i, buf)?;
                    let r = self.run_sample(st, buf, i, false)?;
                    if let Some(p) = progress {
                        p();
                    }
                    Ok((i, r))
                },
            )
            .try_fold(empty, |(mut tally, mut preds), r| {
                let (i, run) = r?;
                tally.add(self, &run);
                preds.push((i, run.prediction));
                Ok::<_, RuntimeError>((tally, preds))
            })
            .try_reduce(empty, |(mut a, mut pa), (b, pb)| {
                a.merge(&b);
                pa.extend(pb);
                Ok((a, pa))
            })?;
        preds.sort_unstable();
        Ok(Profile {
            tally,
            predictions: preds.into_iter().map(|(_, p)| p).collect(),
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}
