//! Per-sample state: ring slots, membranes, hoisted drives, precomputed spike trains and
//! logits, made once per thread and reset per sample.

use super::slot::Slot;
use crate::plan::{Kind, Plan};

/// Everything one sample changes: membranes, rings, input buffers, drives, logits. Made once
/// per thread and reset per sample, so a run allocates nothing after warm-up.
#[derive(Debug, Clone)]
pub struct State {
    pub(super) slots: Vec<Slot>,
    /// First slot of each population.
    pub(super) slot_base: Vec<usize>,
    /// Input accumulator of the spiking or readout population being evaluated (analog ones sum
    /// into their slot). Live only during that population's update, so one serves them all.
    pub(super) scratch: Vec<f32>,
    /// The readout's input of the latest step (kept for traces and its event count).
    pub(super) readout_in: Vec<f32>,
    /// Membranes of spiking populations that step and of an integrator readout.
    pub(super) membrane: Vec<Vec<f32>>,
    /// Synaptic currents of current-based populations that step and of an integrator readout
    /// with a synapse (empty for the others;
    /// autonomous ones hold theirs in registers, like their membranes).
    pub(super) current: Vec<Vec<f32>>,
    /// Per population, one seed per hoisted delay: every constant drive due by then, plus the
    /// bias when it is constant (a per-step one is added at each step).
    pub(super) drives: Vec<Vec<Vec<f32>>>,
    /// Spike trains of autonomous spiking populations (fed only by hoisted constants), computed
    /// in the prologue: one bit per neuron and step, `[t][neuron / 64]`; and near counts per step.
    pub(super) trains: Vec<Vec<u64>>,
    pub(super) train_near: Vec<Vec<u64>>,
    pub(super) logits: Vec<f64>,
}

impl State {
    pub fn new(plan: &Plan) -> State {
        let mut slots = Vec::new();
        let mut slot_base = Vec::with_capacity(plan.pops.len());
        let mut membrane = Vec::with_capacity(plan.pops.len());
        let mut current = Vec::with_capacity(plan.pops.len());
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
            // An integrator readout steps even when fed only by hoisted drives.
            let steps = !p.incoming.is_empty() || p.integrator().is_some();
            let mut v = if steps { vec![0.0; n] } else { Vec::new() };
            match (&p.kind, p.integrator()) {
                (Kind::Spiking(l), _) => l.initial_membrane(&mut v),
                (_, Some(li)) => li.initial_membrane(&mut v),
                _ => {}
            }
            membrane.push(v);
            current.push(match p.synapse() {
                Some(_) if steps => vec![0.0; n],
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
            current,
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
            + vecs(&self.current)
            + drives
            + (self.scratch.capacity() + self.readout_in.capacity()) * f
            + self.logits.capacity() * 8
    }
}
