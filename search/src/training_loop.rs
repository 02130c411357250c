//! The one resumable BPTT loop: epochs of seeded batches, checkpoints, the metrics log and
//! progress. Plain training and the AutoSNN supernet differ only in their [`Task`]: which samples
//! an epoch visits, the learning rate, what one batch runs (the supernet samples a path), and
//! what an epoch's end measures and writes.

use crate::error::{Result, SearchError};
use crate::optim::Optimizer;
use crate::params::ParamStore;
use candle_core::Tensor;
use indicatif::{ProgressBar, ProgressStyle};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use snnc_compiler::atomic;
use snnc_compiler::network::Weights;
use snnc_datasets::transform::Rng;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Wall time between checkpoints inside an epoch; one is also saved at every epoch's end and on
/// Ctrl-C, so a kill loses at most this much work.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(300);

/// The per-epoch log in a run folder.
pub const METRICS: &str = "metrics.jsonl";
/// The checkpoint folder in a run folder.
pub const CHECKPOINT: &str = "checkpoint";

/// One line of `metrics.jsonl`, the same for plain training and the supernet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based.
    pub epoch: usize,
    /// Learning rate of the epoch (absent, read as 0, in supernet logs before the schema was shared).
    #[serde(default)]
    pub lr: f64,
    #[serde(alias = "loss")]
    pub train_loss: f64,
    #[serde(alias = "accuracy")]
    pub train_accuracy: f64,
    /// On the test split, after the epoch (plain training only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_loss: Option<f64>,
    /// Spikes per sample, summed over layers and timesteps: on the test split for plain training,
    /// over the epoch's sampled paths for the supernet (its fitness normaliser C_s).
    pub spikes_per_sample: f64,
    pub samples_per_second: f64,
    /// Training time of the epoch (evaluation excluded), summed over resumed parts.
    pub seconds: f64,
}

/// What one training batch produced.
pub struct BatchOutput {
    pub loss: Tensor,
    pub correct: usize,
    /// What was sampled for this batch (the supernet's path), named in a divergence error.
    pub sampled: Option<String>,
}

/// What differs between the runs the loop drives.
pub trait Task {
    /// Everything that decides the run; stored in the checkpoint.
    type Settings: Serialize + DeserializeOwned + Clone;
    /// Per-epoch sums beyond loss and accuracy, carried through checkpoints.
    type Tally: Serialize + DeserializeOwned + Clone + Default;

    fn settings(&self) -> &Self::Settings;
    /// Whether a checkpoint made with `saved` continues this run.
    fn continues(&self, saved: &Self::Settings) -> bool;
    /// Names the run in progress and epoch messages (`""` for plain training).
    fn label(&self) -> &'static str;
    fn epochs(&self) -> usize;
    fn batch_size(&self) -> usize;
    fn seed(&self) -> u64;
    fn learning_rate(&self, epoch: usize) -> f64;
    /// The sample indices of epoch `epoch` (0-based), in the order they are visited.
    fn epoch_order(&self, epoch: usize) -> Vec<usize>;
    fn params(&self) -> &ParamStore;
    /// Put checkpointed weights (read from `path`) into the parameters.
    fn restore(&mut self, weights: &Weights, path: &Path) -> Result<()>;
    /// Forward one batch in train mode with everything it draws from `rng`, adding to `tally`.
    fn step(
        &mut self,
        indices: &[usize],
        rng: &mut Rng,
        tally: &mut Self::Tally,
    ) -> Result<BatchOutput>;
    /// Extra progress-bar text for the epoch so far.
    fn progress_note(&self, _tally: &Self::Tally, _seen: u64) -> String {
        String::new()
    }
    /// Complete the loop's measures of a finished epoch of `seen` samples (test accuracy, spikes).
    fn measure_epoch(
        &mut self,
        base: EpochMetrics,
        tally: &Self::Tally,
        seen: u64,
        show_progress: bool,
    ) -> Result<EpochMetrics>;
    /// Write the run's outputs after epoch `m.epoch`'s metrics are logged and before its
    /// checkpoint is saved.
    fn finish_epoch(&mut self, m: &EpochMetrics, tally: &Self::Tally, seen: u64) -> Result<()>;
}

/// The tally of a task that keeps no sums beyond loss and accuracy.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct NoTally {}

/// Whether to continue from the checkpoint in the run folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Start afresh (an existing checkpoint is replaced as training goes).
    Never,
    /// Continue from the checkpoint; its absence is an error.
    Required,
    /// Continue from the checkpoint if there is one.
    IfPresent,
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopOutcome {
    Finished,
    /// Stopped by the user; the checkpoint resumes at this epoch (0-based) and batch.
    Interrupted {
        epoch: usize,
        batch: usize,
    },
}

/// The loop's files in a run folder: `metrics.jsonl` and `checkpoint/`.
struct LoopFiles {
    dir: PathBuf,
}

impl LoopFiles {
    fn metrics(&self) -> PathBuf {
        self.dir.join(METRICS)
    }
    fn checkpoint(&self) -> PathBuf {
        self.dir.join(CHECKPOINT)
    }
    fn checkpoint_file(&self, name: &str) -> PathBuf {
        self.checkpoint().join(name)
    }
}

/// Where a run stands: `checkpoint/state.json`. Older files read back: plain training's called
/// the settings `config` and the sums `partial_*`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState<S, X> {
    #[serde(alias = "config")]
    settings: S,
    /// Epoch in progress (0-based) and the next batch of it to run.
    epoch: usize,
    next_batch: usize,
    optimizer_steps: u64,
    /// Sums over the epoch in progress.
    #[serde(alias = "partial_loss")]
    loss_sum: f64,
    #[serde(alias = "partial_correct")]
    correct: u64,
    #[serde(alias = "partial_seen")]
    seen: u64,
    #[serde(alias = "partial_seconds")]
    seconds: f64,
    #[serde(flatten)]
    tally: X,
}

impl<S, X: Default> CheckpointState<S, X> {
    fn start_of(settings: S, epoch: usize, optimizer_steps: u64) -> Self {
        CheckpointState {
            settings,
            epoch,
            next_batch: 0,
            optimizer_steps,
            loss_sum: 0.0,
            correct: 0,
            seen: 0,
            seconds: 0.0,
            tally: X::default(),
        }
    }
}

/// Train `task` in `dir` until its last epoch or until `stop` is raised (polled between batches;
/// a checkpoint is saved first). Same settings and seed, same weights, however often resumed.
pub fn run<T: Task>(
    task: &mut T,
    optimizer: &mut Optimizer,
    dir: &Path,
    resume: Resume,
    stop: &AtomicBool,
    show_progress: bool,
) -> Result<LoopOutcome> {
    let files = LoopFiles {
        dir: dir.to_path_buf(),
    };
    std::fs::create_dir_all(dir).map_err(|e| SearchError::io(dir, e))?;
    crate::checkpoint::recover(&files.checkpoint())?;
    let resumed = match resume {
        Resume::Never => None,
        Resume::Required | Resume::IfPresent => {
            load_checkpoint(task, optimizer, &files, resume == Resume::Required)?
        }
    };
    let is_resumed = resumed.is_some();
    let mut state =
        resumed.unwrap_or_else(|| CheckpointState::start_of(task.settings().clone(), 0, 0));
    if is_resumed {
        // The settings may differ in what does not change the run (a grown epoch count).
        state.settings = task.settings().clone();
        // An epoch whose metrics line was written before its checkpoint is redone.
        crate::jsonl::keep_epochs(&files.metrics(), state.epoch)?;
        eprintln!(
            "{}resuming at epoch {} batch {}",
            prefix(task.label(), ": "),
            state.epoch + 1,
            state.next_batch
        );
    } else {
        atomic::write(&files.metrics(), b"").map_err(|e| SearchError::io(&files.metrics(), e))?;
    }
    while state.epoch < task.epochs() {
        if let Some(outcome) = run_epoch(task, optimizer, &files, &mut state, stop, show_progress)?
        {
            return Ok(outcome);
        }
    }
    Ok(LoopOutcome::Finished)
}

fn prefix(label: &str, separator: &str) -> String {
    if label.is_empty() {
        String::new()
    } else {
        format!("{label}{separator}")
    }
}

/// Run the rest of `state.epoch`, then log, write and checkpoint it. `Some` if interrupted.
fn run_epoch<T: Task>(
    task: &mut T,
    optimizer: &mut Optimizer,
    files: &LoopFiles,
    state: &mut CheckpointState<T::Settings, T::Tally>,
    stop: &AtomicBool,
    show_progress: bool,
) -> Result<Option<LoopOutcome>> {
    let epoch = state.epoch;
    let lr = task.learning_rate(epoch);
    let order = task.epoch_order(epoch);
    let batch = task.batch_size().max(1);
    let batches = order.len().div_ceil(batch);
    let pb = progress_bar(
        show_progress,
        order.len() as u64,
        &format!(
            "{}epoch {}/{}",
            prefix(task.label(), " "),
            epoch + 1,
            task.epochs()
        ),
    );
    pb.set_position((state.next_batch * batch).min(order.len()) as u64);
    let started = Instant::now();
    let mut saved = Instant::now();
    let seconds_before = state.seconds;
    for b in state.next_batch..batches {
        let seconds = seconds_before + started.elapsed().as_secs_f64();
        if stop.load(Ordering::SeqCst) {
            state.next_batch = b;
            state.seconds = seconds;
            save_checkpoint(files, state, task.params(), optimizer)?;
            pb.abandon_with_message("interrupted; checkpoint saved");
            return Ok(Some(LoopOutcome::Interrupted { epoch, batch: b }));
        }
        let indices = &order[b * batch..((b + 1) * batch).min(order.len())];
        train_batch(task, optimizer, state, indices, b, lr)?;
        pb.inc(indices.len() as u64);
        let seconds = seconds_before + started.elapsed().as_secs_f64();
        pb.set_message(format!(
            "loss {:.4} acc {:.2}%{} {:.0} samples/s",
            state.loss_sum / state.seen as f64,
            100.0 * state.correct as f64 / state.seen as f64,
            task.progress_note(&state.tally, state.seen),
            state.seen as f64 / seconds.max(1e-9)
        ));
        if saved.elapsed() >= CHECKPOINT_EVERY && b + 1 < batches {
            state.next_batch = b + 1;
            state.seconds = seconds;
            save_checkpoint(files, state, task.params(), optimizer)?;
            saved = Instant::now();
        }
    }
    state.seconds = seconds_before + started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    end_epoch(task, optimizer, files, state, lr, show_progress)?;
    Ok(None)
}

/// Measure, log and write the epoch just trained, then checkpoint the start of the next.
fn end_epoch<T: Task>(
    task: &mut T,
    optimizer: &Optimizer,
    files: &LoopFiles,
    state: &mut CheckpointState<T::Settings, T::Tally>,
    lr: f64,
    show_progress: bool,
) -> Result<()> {
    let seen = state.seen.max(1) as f64;
    let base = EpochMetrics {
        epoch: state.epoch + 1,
        lr,
        train_loss: state.loss_sum / seen,
        train_accuracy: state.correct as f64 / seen,
        test_accuracy: None,
        test_loss: None,
        spikes_per_sample: 0.0,
        samples_per_second: state.seen as f64 / state.seconds.max(1e-9),
        seconds: state.seconds,
    };
    let m = task.measure_epoch(base, &state.tally, state.seen, show_progress)?;
    append_metrics(&files.metrics(), &m)?;
    eprintln!("{}", describe_epoch(task.label(), task.epochs(), &m));
    task.finish_epoch(&m, &state.tally, state.seen)?;
    *state = CheckpointState::start_of(state.settings.clone(), m.epoch, optimizer.steps);
    save_checkpoint(files, state, task.params(), optimizer)
}

/// One optimisation step on batch `b` of the epoch in progress, with everything it draws from
/// the batch's own random stream (so a resumed run draws what an uninterrupted one does).
fn train_batch<T: Task>(
    task: &mut T,
    optimizer: &mut Optimizer,
    state: &mut CheckpointState<T::Settings, T::Tally>,
    indices: &[usize],
    b: usize,
    lr: f64,
) -> Result<()> {
    let mut rng = Rng::with_stream(task.seed(), (state.epoch as u64) << 32 | b as u64);
    let out = task.step(indices, &mut rng, &mut state.tally)?;
    let loss = out.loss.to_scalar::<f32>()? as f64;
    if !loss.is_finite() {
        return Err(SearchError::Diverged {
            epoch: state.epoch + 1,
            batch: b,
            loss,
            lr,
            path: out.sampled,
        });
    }
    let grads = out.loss.backward()?;
    optimizer.step(task.params(), &grads, lr)?;
    state.loss_sum += loss * indices.len() as f64;
    state.correct += out.correct as u64;
    state.seen += indices.len() as u64;
    Ok(())
}

/// The line printed after each epoch.
fn describe_epoch(label: &str, epochs: usize, m: &EpochMetrics) -> String {
    let test = m
        .test_accuracy
        .map(|a| format!(" test {:.2}%", 100.0 * a))
        .unwrap_or_default();
    format!(
        "{}epoch {}/{epochs}: loss {:.4} train {:.2}%{test} spikes/sample {:.0} ({:.0} samples/s, {:.0} s)",
        prefix(label, " "),
        m.epoch,
        m.train_loss,
        100.0 * m.train_accuracy,
        m.spikes_per_sample,
        m.samples_per_second,
        m.seconds
    )
}

/// A progress bar (hidden unless `show`) over `len` samples.
pub fn progress_bar(show: bool, len: u64, prefix: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed} < {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix(prefix.to_string());
    pb
}

fn save_checkpoint<S: Serialize + Clone, X: Serialize + Clone>(
    files: &LoopFiles,
    state: &CheckpointState<S, X>,
    params: &ParamStore,
    optimizer: &Optimizer,
) -> Result<()> {
    let state = CheckpointState {
        optimizer_steps: optimizer.steps,
        ..state.clone()
    };
    crate::checkpoint::save(&files.checkpoint(), &state, params, optimizer)
}

/// The checkpoint's state, with its weights and optimizer moments loaded; `None` if there is
/// none and `required` is false.
fn load_checkpoint<T: Task>(
    task: &mut T,
    optimizer: &mut Optimizer,
    files: &LoopFiles,
    required: bool,
) -> Result<Option<CheckpointState<T::Settings, T::Tally>>> {
    let path = files.checkpoint_file(crate::checkpoint::STATE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(error) if required => return Err(SearchError::NoCheckpoint { path, error }),
        Err(e) => return Err(SearchError::io(&path, e)),
    };
    let state: CheckpointState<T::Settings, T::Tally> = serde_json::from_str(&text)
        .map_err(|e| SearchError::corrupt(&path, format!("corrupt checkpoint state: {e}")))?;
    if !task.continues(&state.settings) {
        return Err(SearchError::OtherSettings {
            path,
            found: serde_json::to_string(&state.settings).expect("settings serialise"),
        });
    }
    let weights_path = files.checkpoint_file(crate::checkpoint::WEIGHTS);
    task.restore(&Weights::load(&weights_path)?, &weights_path)?;
    let moments_path = files.checkpoint_file(crate::checkpoint::OPTIMIZER);
    optimizer
        .load_state(
            state.optimizer_steps,
            &Weights::load(&moments_path)?,
            task.params(),
        )
        .map_err(|e| SearchError::corrupt(&moments_path, e))?;
    Ok(Some(state))
}

fn append_metrics(path: &Path, m: &EpochMetrics) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| SearchError::io(path, e))?;
    let line = serde_json::to_string(m).expect("metrics serialise");
    writeln!(f, "{line}").map_err(|e| SearchError::io(path, e))
}

/// The epochs logged in a metrics file, old supernet lines included.
pub fn read_metrics(path: &Path) -> Result<Vec<EpochMetrics>> {
    crate::jsonl::read::<EpochMetrics>(path).map(|(records, _)| records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    struct Extra {
        spikes: f64,
    }

    #[test]
    fn checkpoint_states_of_both_former_loops_read_back() {
        let plain = r#"{"config": {"seed": 3}, "epoch": 1, "next_batch": 4, "optimizer_steps": 9,
            "partial_loss": 1.5, "partial_correct": 7, "partial_seen": 8, "partial_seconds": 2.0}"#;
        let s: CheckpointState<serde_json::Value, NoTally> = serde_json::from_str(plain).unwrap();
        assert_eq!((s.epoch, s.next_batch, s.correct, s.seen), (1, 4, 7, 8));
        assert_eq!(
            (s.loss_sum, s.seconds, s.settings["seed"].as_u64()),
            (1.5, 2.0, Some(3))
        );
        let supernet = r#"{"settings": {"seed": 3}, "epoch": 0, "next_batch": 2,
            "optimizer_steps": 2, "loss_sum": 1.0, "correct": 1, "seen": 2, "spikes": 5.0,
            "seconds": 1.0}"#;
        let s: CheckpointState<serde_json::Value, Extra> = serde_json::from_str(supernet).unwrap();
        assert_eq!(s.tally, Extra { spikes: 5.0 });
        let again: CheckpointState<serde_json::Value, Extra> =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!((again.tally, again.seen), (Extra { spikes: 5.0 }, 2));
    }

    #[test]
    fn old_supernet_metrics_lines_read_as_epoch_metrics() {
        let old = r#"{"epoch":1,"loss":0.5,"accuracy":0.25,"spikes_per_sample":10.0,"seconds":3.0,"samples_per_second":64.0}"#;
        let m: EpochMetrics = serde_json::from_str(old).unwrap();
        assert_eq!((m.train_loss, m.train_accuracy, m.lr), (0.5, 0.25, 0.0));
        assert_eq!(m.test_accuracy, None);
        let line = serde_json::to_string(&m).unwrap();
        assert!(!line.contains("test_"), "{line}");
    }
}
