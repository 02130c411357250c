//! Running a plan: per-sample state, the prologue, the step loop, and samples in parallel.
//!
//! Per step, each population of the schedule seeds its input (bias, constant or that step's
//! row of a per-step one, plus hoisted drives),
//! receives the events of its sources from step `t - delay` through their projections, then
//! updates: LIF neurons charge, fire and reset; analog populations emit their non-zero values as
//! graded events; the readout accumulates. Event lists live in per-population rings as deep as
//! the longest delay out of the population.

use crate::error::RuntimeError;
use crate::layout::Layout;
use crate::neuron::{bits_to_idx, fire, train};
use crate::ops::{DenseGraded, Graded, Simd, Spikes, Work};
use crate::plan::{Kind, Lif, Plan};
use rayon::prelude::*;
use snnc_compiler::ir::ReadoutKind;
use snnc_compiler::reference::RunOutput;

/// One ring slot: the events of one step. `val` holds a graded population's values (storage
/// order) and is empty for spiking ones; `idx` lists the active elements, unless `dense`.
#[derive(Debug, Clone, Default)]
struct Slot {
    idx: Vec<u32>,
    val: Vec<f32>,
    /// At least half of `val` is non-zero: consumers scan `val` instead of an index list.
    dense: bool,
    /// Number of events (non-zero values, or spikes).
    events: usize,
}

impl Slot {
    /// Record a graded population's events: an index list if sparse, else a scan marker.
    fn index_graded(&mut self, simd: Simd) {
        #[cfg(target_arch = "x86_64")]
        if simd != Simd::None {
            // SAFETY: `Simd::detect` only returns a level the CPU supports; both include AVX2.
            return unsafe { self.index_graded_avx2() };
        }
        let _ = simd;
        self.index_graded_portable()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn index_graded_avx2(&mut self) {
        self.index_graded_portable()
    }

    #[inline(always)]
    fn index_graded_portable(&mut self) {
        let n = self.val.iter().filter(|v| **v != 0.0).count();
        self.events = n;
        self.dense = 2 * n >= self.val.len() && n > 0;
        self.idx.clear();
        if !self.dense {
            // Exact reservation: the list never holds more than half the population.
            self.idx.reserve_exact(n);
            for (c, chunk) in self.val.chunks(64).enumerate() {
                let mut bits = nonzero_bits(chunk);
                while bits != 0 {
                    self.idx.push((c * 64) as u32 + bits.trailing_zeros());
                    bits &= bits - 1;
                }
            }
        }
    }

    /// Zero the values the slot holds, touching only its events when it has an index list.
    fn clear_values(&mut self) {
        if self.dense {
            self.val.fill(0.0);
        } else {
            for &i in &self.idx {
                self.val[i as usize] = 0.0;
            }
        }
        self.idx.clear();
        self.dense = false;
        self.events = 0;
    }

    /// Load one row-major event frame into a slot whose values are all zero (see
    /// [`Slot::clear_values`]): a sparse frame costs its events, not its size. The frame's
    /// non-zero values are found 64 at a time as bit masks, one per channel; the positions
    /// where any channel is active are then visited in order, which lists the events in
    /// storage (channel-last) order, as [`Slot::index_graded`] would.
    fn load_frame(&mut self, layout: &Layout, frame: &[f32], simd: Simd) {
        #[cfg(target_arch = "x86_64")]
        if simd != Simd::None {
            // SAFETY: as in `index_graded`.
            return unsafe { self.load_frame_avx2(layout, frame) };
        }
        let _ = simd;
        self.load_frame_portable(layout, frame)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn load_frame_avx2(&mut self, layout: &Layout, frame: &[f32]) {
        self.load_frame_portable(layout, frame)
    }

    #[inline(always)]
    fn load_frame_portable(&mut self, layout: &Layout, frame: &[f32]) {
        let n = frame.len();
        let count = frame.iter().filter(|v| **v != 0.0).count();
        let c = if layout.flat { 1 } else { layout.c };
        if (2 * count >= n && count > 0) || c > 8 {
            layout.to_storage(frame, &mut self.val);
            self.index_graded_portable();
            return;
        }
        self.events = count;
        self.idx.reserve_exact(count);
        let plane = n / c;
        let mut masks = [0u64; 8];
        for p0 in (0..plane).step_by(64) {
            let hi = (p0 + 64).min(plane);
            let mut any = 0u64;
            for (ch, m) in masks[..c].iter_mut().enumerate() {
                *m = nonzero_bits(&frame[ch * plane + p0..ch * plane + hi]);
                any |= *m;
            }
            while any != 0 {
                let j = any.trailing_zeros() as usize;
                any &= any - 1;
                for (ch, m) in masks[..c].iter().enumerate() {
                    if m >> j & 1 != 0 {
                        let s = (p0 + j) * c + ch;
                        self.idx.push(s as u32);
                        self.val[s] = frame[ch * plane + p0 + j];
                    }
                }
            }
        }
    }
}

/// Bit `j` set where `x[j] != 0` (`x` at most 64 long; a full chunk compiles to vector compares).
#[inline(always)]
fn nonzero_bits(x: &[f32]) -> u64 {
    let mut bits = 0u64;
    if let Ok(x) = <&[f32; 64]>::try_from(x) {
        for (j, v) in x.iter().enumerate() {
            bits |= u64::from(*v != 0.0) << j;
        }
    } else {
        for (j, v) in x.iter().enumerate() {
            bits |= u64::from(*v != 0.0) << j;
        }
    }
    bits
}

/// Everything one sample changes: membranes, rings, input buffers, drives, logits. Made once
/// per thread and reset per sample, so a run allocates nothing after warm-up.
#[derive(Debug, Clone)]
pub struct State {
    slots: Vec<Slot>,
    /// First slot of each population.
    slot_base: Vec<usize>,
    /// Input accumulator of the spiking or readout population being evaluated (analog ones sum
    /// into their slot). Live only during that population's update, so one serves them all.
    scratch: Vec<f32>,
    /// The readout's input of the latest step (kept for traces and its event count).
    readout_in: Vec<f32>,
    membrane: Vec<Vec<f32>>,
    /// Per population, one seed per hoisted delay: every constant drive due by then, plus the
    /// bias when it is constant (a per-step one is added at each step).
    drives: Vec<Vec<Vec<f32>>>,
    /// Spike trains of autonomous spiking populations (fed only by hoisted constants), computed
    /// in the prologue: one bit per neuron and step, `[t][neuron / 64]`; and near counts per step.
    trains: Vec<Vec<u64>>,
    train_near: Vec<Vec<u64>>,
    logits: Vec<f64>,
}

impl State {
    pub fn new(plan: &Plan) -> State {
        let mut slots = Vec::new();
        let mut slot_base = Vec::with_capacity(plan.pops.len());
        let mut membrane = Vec::with_capacity(plan.pops.len());
        let mut drives = Vec::with_capacity(plan.pops.len());
        let (mut trains, mut train_near) = (Vec::new(), Vec::new());
        for p in &plan.pops {
            let n = p.numel();
            slot_base.push(slots.len());
            for _ in 0..p.depth {
                let val = if p.binary() { Vec::new() } else { vec![0.0; n] };
                slots.push(Slot {
                    idx: Vec::new(),
                    val,
                    dense: false,
                    events: 0,
                });
            }
            // An autonomous population keeps its membranes in registers (see `train`).
            membrane.push(match p.kind {
                Kind::Spiking(l) if !p.incoming.is_empty() => vec![l.v_reset; n],
                _ => Vec::new(),
            });
            drives.push(p.drive_delays.iter().map(|_| vec![0.0; n]).collect());
            let autonomous = matches!(p.kind, Kind::Spiking(_)) && p.incoming.is_empty();
            trains.push(if autonomous {
                vec![0u64; n.div_ceil(64) * plan.timesteps]
            } else {
                Vec::new()
            });
            train_near.push(if autonomous {
                vec![0u64; plan.timesteps]
            } else {
                Vec::new()
            });
        }
        let widest = plan
            .pops
            .iter()
            .filter(|p| matches!(p.kind, Kind::Spiking(_)) && !p.incoming.is_empty())
            .map(|p| p.numel())
            .max()
            .unwrap_or(0);
        State {
            slots,
            slot_base,
            scratch: vec![0.0; widest],
            readout_in: vec![0.0; plan.pops[plan.readout].numel()],
            membrane,
            drives,
            trains,
            train_near,
            logits: vec![0.0; plan.num_classes],
        }
    }

    /// Bytes held (capacities), for the state-size budget.
    pub fn bytes(&self) -> usize {
        let f = std::mem::size_of::<f32>();
        let slots: usize = self
            .slots
            .iter()
            .map(|s| s.idx.capacity() * 4 + s.val.capacity() * f)
            .sum();
        let vecs = |v: &Vec<Vec<f32>>| v.iter().map(|x| x.capacity() * f).sum::<usize>();
        let drives: usize = self.drives.iter().map(vecs).sum::<usize>()
            + self
                .trains
                .iter()
                .chain(&self.train_near)
                .map(|t| t.capacity() * 8)
                .sum::<usize>();
        slots
            + vecs(&self.membrane)
            + drives
            + (self.scratch.capacity() + self.readout_in.capacity()) * f
            + self.logits.capacity() * 8
    }
}

/// Work of one projection at one step, summed over what it delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjStep {
    /// (event, target element) updates applied (for conv and dense: weights read).
    pub pairs: u64,
    /// Of those, the ones with a non-zero weight: SOPs (binary source) or MACs (graded source).
    pub effective: u64,
    /// Source events delivered.
    pub events: u64,
}

/// What one population did at one step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PopStep {
    /// Events emitted: spikes, or non-zero graded values.
    pub events: u64,
    /// Neurons whose membrane lay within [`snnc_compiler::reference::FLIP_MARGIN`] of the threshold (spiking only).
    pub near: u64,
}

/// The outcome of one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRun {
    pub logits: Vec<f64>,
    pub prediction: usize,
    /// `[population * T + t]`.
    pub pops: Vec<PopStep>,
    /// `[projection * T + t]`.
    pub projs: Vec<ProjStep>,
    /// With tracing: `[t][population]` values in row-major order (spikes as 0/1; the readout's
    /// input of that step).
    pub trace: Option<Vec<Vec<Vec<f32>>>>,
}

/// Where samples come from: the runtime asks for one at a time, so a large set is never
/// materialised.
pub trait Inputs: Sync {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Write sample `i` (row-major, as [`snnc_compiler::reference::run_module`] takes it) into `out`.
    fn fill(&self, i: usize, out: &mut Vec<f32>) -> Result<(), RuntimeError>;
}

impl Inputs for [Vec<f32>] {
    fn len(&self) -> usize {
        <[Vec<f32>]>::len(self)
    }
    fn fill(&self, i: usize, out: &mut Vec<f32>) -> Result<(), RuntimeError> {
        out.clear();
        out.extend_from_slice(&self[i]);
        Ok(())
    }
}

impl Inputs for Vec<Vec<f32>> {
    fn len(&self) -> usize {
        <[Vec<f32>]>::len(self)
    }
    fn fill(&self, i: usize, out: &mut Vec<f32>) -> Result<(), RuntimeError> {
        self.as_slice().fill(i, out)
    }
}

impl Plan {
    /// Run one sample (`input` row-major: one frame, or `timesteps` frames for event input).
    /// `sample` only names it in errors.
    pub fn run_sample(
        &self,
        st: &mut State,
        input: &[f32],
        sample: usize,
        trace: bool,
    ) -> Result<SampleRun, RuntimeError> {
        let expected = self.input_len();
        if input.len() != expected {
            let what = if self.event_frames() {
                format!(
                    "{} event frames of {}",
                    self.timesteps,
                    self.pops[self.input].numel()
                )
            } else {
                format!("one direct frame of {}", self.pops[self.input].numel())
            };
            return Err(RuntimeError::InputSize {
                sample,
                expected,
                found: input.len(),
                what,
            });
        }
        let t_max = self.timesteps;
        let mut out = SampleRun {
            logits: Vec::new(),
            prediction: 0,
            pops: vec![PopStep::default(); self.pops.len() * t_max],
            projs: vec![ProjStep::default(); self.projs.len() * t_max],
            trace: trace.then(Vec::new),
        };
        self.reset(st);
        self.prologue(st, input, &mut out);
        for t in 0..t_max {
            for &p in &self.schedule {
                self.step_population(st, p, t, input, &mut out);
            }
            for (p, pop) in self.pops.iter().enumerate() {
                let step = &mut out.pops[p * t_max + t];
                step.events = match pop.kind {
                    Kind::Readout { .. } => {
                        st.readout_in.iter().filter(|v| **v != 0.0).count() as u64
                    }
                    _ => st.slots[self.current(st, p, t)].events as u64,
                };
            }
            if let Some(tr) = out.trace.as_mut() {
                tr.push(self.snapshot(st, t));
            }
        }
        let mut logits = st.logits.clone();
        if matches!(
            self.pops[self.readout].kind,
            Kind::Readout {
                mode: ReadoutKind::TimeMean
            }
        ) {
            logits.iter_mut().for_each(|l| *l /= t_max as f64);
        }
        out.prediction = snnc_compiler::reference::kernels::argmax(&logits);
        out.logits = logits;
        Ok(out)
    }

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

    /// The runs in the reference interpreter's shape, for the equivalence ladder.
    pub fn run_output(&self, runs: &[SampleRun]) -> RunOutput {
        let t_max = self.timesteps;
        let per_layer = |r: &SampleRun, f: fn(&PopStep) -> u64| -> Vec<Vec<u64>> {
            self.layers
                .iter()
                .map(|&p| (0..t_max).map(|t| f(&r.pops[p * t_max + t])).collect())
                .collect()
        };
        RunOutput {
            logits: runs.iter().map(|r| r.logits.clone()).collect(),
            predictions: runs.iter().map(|r| r.prediction).collect(),
            layers: self.layer_names(),
            spikes: runs.iter().map(|r| per_layer(r, |s| s.events)).collect(),
            near_threshold: runs.iter().map(|r| per_layer(r, |s| s.near)).collect(),
        }
    }

    fn reset(&self, st: &mut State) {
        for (p, pop) in self.pops.iter().enumerate() {
            match pop.kind {
                Kind::Spiking(l) => st.membrane[p].fill(l.v_reset),
                // Event frames are loaded into zeroed slots, clearing only the last events.
                Kind::Input { event_frames: true } => {
                    let base = st.slot_base[p];
                    for s in &mut st.slots[base..base + pop.depth] {
                        s.clear_values();
                    }
                }
                _ => {}
            }
        }
        for s in &mut st.slots {
            s.idx.clear();
            s.dense = false;
            s.events = 0;
        }
        st.logits.fill(0.0);
    }

    /// The slot population `p` writes (and zero-delay consumers read) at step `t`.
    #[inline]
    fn current(&self, st: &State, p: usize, t: usize) -> usize {
        let pop = &self.pops[p];
        st.slot_base[p] + if pop.constant { 0 } else { t % pop.depth }
    }

    /// Deliver projection `e` (source events of step `t - delay`, or the constant slot) into `out`.
    fn deliver(&self, st: &State, e: usize, t: usize, out: &mut [f32]) -> (Work, u64) {
        let proj = &self.projs[e];
        let src = &self.pops[proj.source];
        let slot = &st.slots[self.current(
            st,
            proj.source,
            if src.constant { 0 } else { t - proj.delay },
        )];
        let work = if src.binary() {
            proj.op.scatter(&Spikes(&slot.idx), out, t, self.simd)
        } else if slot.dense {
            proj.op.scatter(
                &DenseGraded {
                    val: &slot.val,
                    count: slot.events,
                },
                out,
                t,
                self.simd,
            )
        } else {
            proj.op.scatter(
                &Graded {
                    idx: &slot.idx,
                    val: &slot.val,
                },
                out,
                t,
                self.simd,
            )
        };
        (work, slot.events as u64)
    }

    fn record(&self, out: &mut SampleRun, e: usize, t: usize, (w, events): (Work, u64)) {
        let s = &mut out.projs[e * self.timesteps + t];
        s.pairs += w.pairs;
        s.effective += w.effective;
        s.events += events;
    }

    /// Constant populations once, then the hoisted drives of per-step populations.
    fn prologue(&self, st: &mut State, input: &[f32], out: &mut SampleRun) {
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
            if let Kind::Spiking(lif) = self.pops[p].kind
                && !st.trains[p].is_empty()
            {
                self.precompute_train(st, p, &lif);
            }
        }
    }

    /// A spiking population fed only by hoisted constants has its whole input known after the
    /// prologue, so its spike train for all `T` steps is computed here in one pass over its
    /// neurons, each membrane held in a register through the steps (the same arithmetic as
    /// [`fire`], so the same spikes). Steps then only read their bits.
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

    /// The hoisted drive of population `p` at step `t`: the latest one due, if any.
    fn seed_of<'a>(&self, st: &'a State, p: usize, t: usize) -> Option<&'a [f32]> {
        let due = self.pops[p]
            .drive_delays
            .iter()
            .take_while(|&&d| d as usize <= t)
            .count();
        if due > 0 {
            Some(&st.drives[p][due - 1])
        } else {
            None
        }
    }

    /// Start population `p`'s input at step `t` (see [`seed`]); a per-step bias takes its row
    /// `t` and, as hoisted drives leave it out, is added to the drive due.
    #[inline]
    fn seed_input(&self, st: &State, p: usize, t: usize, buf: &mut [f32]) {
        let pop = &self.pops[p];
        let drive = self.seed_of(st, p, t);
        match (drive, pop.step_bias_row(t)) {
            (Some(d), Some(b)) => buf
                .iter_mut()
                .zip(d.iter().zip(b))
                .for_each(|(o, (d, b))| *o = d + b),
            (None, Some(b)) => seed(buf, Some(b), None, bias_period(pop)),
            (_, None) => seed(buf, pop.bias.as_deref(), drive, bias_period(pop)),
        }
    }

    fn step_population(
        &self,
        st: &mut State,
        p: usize,
        t: usize,
        input: &[f32],
        out: &mut SampleRun,
    ) {
        let pop = &self.pops[p];
        let cur = self.current(st, p, t);
        match pop.kind {
            Kind::Input { .. } => {
                let n = pop.numel();
                let slot = &mut st.slots[cur];
                slot.clear_values();
                slot.load_frame(&pop.layout, &input[t * n..(t + 1) * n], self.simd);
            }
            Kind::Analog => {
                let mut val = std::mem::take(&mut st.slots[cur].val);
                self.seed_input(st, p, t, &mut val);
                self.gather(st, p, t, &mut val, out);
                st.slots[cur].val = val;
                st.slots[cur].index_graded(self.simd);
            }
            Kind::Spiking(_) if !st.trains[p].is_empty() => {
                let words = pop.numel().div_ceil(64);
                let bits = &st.trains[p][t * words..(t + 1) * words];
                let idx = &mut st.slots[cur].idx;
                bits_to_idx(bits, idx, pop.numel(), self.simd);
                st.slots[cur].events = idx.len();
                out.pops[p * self.timesteps + t].near = st.train_near[p][t];
            }
            Kind::Spiking(lif) => {
                let mut scratch = std::mem::take(&mut st.scratch);
                let acc = &mut scratch[..pop.numel()];
                self.seed_input(st, p, t, acc);
                self.gather(st, p, t, acc, out);
                let mut idx = std::mem::take(&mut st.slots[cur].idx);
                out.pops[p * self.timesteps + t].near =
                    fire(&lif, &mut st.membrane[p], acc, &mut idx, self.simd);
                st.slots[cur].events = idx.len();
                st.slots[cur].idx = idx;
                st.scratch = scratch;
            }
            Kind::Readout { .. } => {
                let mut acc = std::mem::take(&mut st.readout_in);
                self.seed_input(st, p, t, &mut acc);
                self.gather(st, p, t, &mut acc, out);
                st.logits
                    .iter_mut()
                    .zip(&acc)
                    .for_each(|(l, a)| *l += f64::from(*a));
                st.readout_in = acc;
            }
        }
    }

    /// Every per-step projection into `p` that is due at `t`.
    fn gather(&self, st: &State, p: usize, t: usize, buf: &mut [f32], out: &mut SampleRun) {
        for &e in &self.pops[p].incoming {
            if t >= self.projs[e].delay {
                let done = self.deliver(st, e, t, buf);
                self.record(out, e, t, done);
            }
        }
    }

    /// Row-major values of every population at step `t`.
    fn snapshot(&self, st: &State, t: usize) -> Vec<Vec<f32>> {
        self.pops
            .iter()
            .enumerate()
            .map(|(p, pop)| {
                let slot = &st.slots[self.current(st, p, t)];
                let storage = match pop.kind {
                    Kind::Readout { .. } => st.readout_in.clone(),
                    Kind::Spiking(_) => {
                        let mut v = vec![0.0; pop.numel()];
                        slot.idx.iter().for_each(|&i| v[i as usize] = 1.0);
                        v
                    }
                    _ => slot.val.clone(),
                };
                pop.layout.to_logical(&storage)
            })
            .collect()
    }
}

/// Samples per rayon job: `map_init` makes a fresh [`State`] per job, so jobs are kept few
/// (four per thread balances load) rather than one per sample.
fn chunk(samples: usize) -> usize {
    samples.div_ceil(4 * rayon::current_num_threads()).max(1)
}

/// Start a step's input: the hoisted seed (which includes the bias), else the bias, else zero.
///
/// `period` is the bias's period in storage order (the channel count of a `[C, H, W]`
/// population, channel-last; the whole population for a `[N]` one). When it divides 64, the
/// first 64 bias values are held in registers and stored over and over rather than the whole
/// expanded bias streamed in: a step's seeding then reads 256 bytes, not a population's worth.
fn seed(buf: &mut [f32], bias: Option<&[f32]>, drive: Option<&[f32]>, period: usize) {
    match (drive, bias) {
        (Some(d), _) => buf.copy_from_slice(d),
        (None, Some(b)) if period > 0 && 64 % period == 0 && b.len() >= 64 => {
            let Ok(pattern) = <[f32; 64]>::try_from(&b[..64]) else {
                return buf.copy_from_slice(b);
            };
            let full = buf.len() / 64 * 64;
            for c in buf.chunks_exact_mut(64) {
                c.copy_from_slice(&pattern);
            }
            buf[full..].copy_from_slice(&b[full..]);
        }
        (None, Some(b)) => buf.copy_from_slice(b),
        (None, None) => buf.fill(0.0),
    }
}

/// The period of population `p`'s bias in storage order (see [`seed`]).
fn bias_period(pop: &crate::plan::Pop) -> usize {
    if pop.layout.flat {
        pop.numel()
    } else {
        pop.layout.c
    }
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
