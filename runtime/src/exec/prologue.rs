//! The prologue of a sample: constant populations once, hoisted drives of per-step
//! populations, and the spike trains of populations fed only by constants.

use super::step::{bias_period, seed};
use super::{SampleRun, State};
use crate::neuron::train;
use crate::plan::{Kind, Lif, Plan};

impl Plan {
    /// Constant populations once, then the hoisted drives of per-step populations.
    pub(super) fn prologue(&self, st: &mut State, input: &[f32], out: &mut SampleRun) {
        for &p in &self.prologue {
            let pop = &self.pops[p];
            let cur = st.slot_base[p];
            let mut val = std::mem::take(&mut st.slots[cur].val);
            match pop.kind {
                Kind::Input { .. } => pop.layout.to_storage(input, &mut val),
                _ => {
                    seed(&mut val, pop.bias.as_deref(), None, bias_period(pop));
                    for &e in &pop.hoisted {
                        let done = self.deliver(st, e, 0, &mut val);
                        self.record(out, e, 0, done);
                    }
                }
            }
            st.slots[cur].val = val;
            st.slots[cur].index_graded(self.simd);
        }
        for &p in &self.schedule {
            let pop = &self.pops[p];
            if pop.drive_delays.is_empty() {
                continue;
            }
            let mut drives = std::mem::take(&mut st.drives[p]);
            drives.iter_mut().for_each(|d| d.fill(0.0));
            for &e in &pop.hoisted {
                let d = self.projs[e].delay;
                if let Some(k) = pop.drive_delays.iter().position(|&x| x as usize == d) {
                    let done = self.deliver(st, e, d, &mut drives[k]);
                    self.record(out, e, d, done);
                }
            }
            // Cumulative: the seed at step t holds every drive due by t, and a constant bias.
            for k in 1..drives.len() {
                let (before, after) = drives.split_at_mut(k);
                after[0]
                    .iter_mut()
                    .zip(&before[k - 1])
                    .for_each(|(a, b)| *a += b);
            }
            if let Some(b) = &pop.bias {
                for d in drives.iter_mut() {
                    d.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                }
            }
            st.drives[p] = drives;
        }
        for &p in &self.schedule {
            if let Kind::Spiking(lif) = &self.pops[p].kind
                && !st.trains[p].is_empty()
            {
                self.precompute_train(st, p, lif);
            }
        }
    }

    /// A spiking population fed only by hoisted constants has its whole input known after the
    /// prologue, so its spike train for all `T` steps is computed here in one pass over its
    /// neurons, each membrane held in a register through the steps (the same arithmetic as
    /// [`fire`](crate::neuron::fire), so the same spikes). Steps then only read their bits.
    fn precompute_train(&self, st: &mut State, p: usize, lif: &Lif) {
        let pop = &self.pops[p];
        let n = pop.numel();
        let words = n.div_ceil(64);
        let mut trains = std::mem::take(&mut st.trains[p]);
        let mut near = std::mem::take(&mut st.train_near[p]);
        // A per-step bias is left out of the drives and added by `train` step by step.
        let seeds: Vec<Option<&[f32]>> = (0..self.timesteps)
            .map(|t| match self.seed_of(st, p, t) {
                Some(d) => Some(d),
                None => pop.bias.as_deref(),
            })
            .collect();
        near.iter_mut().for_each(|c| *c = 0);
        let step_bias = pop.step_bias.as_deref();
        train(
            lif,
            &seeds,
            step_bias,
            n,
            words,
            &mut trains,
            &mut near,
            self.simd,
        );
        st.trains[p] = trains;
        st.train_near[p] = near;
    }
}
