//! The pipeline's budgets: `small` (a 2-core machine, under 30 minutes on Fashion-MNIST) and
//! `paper` (the seeds' settings), with every piece overridable from the command line.

use super::PipelineArgs;
use clap::ValueEnum;
use snnc_search::autosnn::evolution::{EvolutionSettings, FitnessKind};
use snnc_search::autosnn::search::AutoSnnSearchSettings;
use snnc_search::autosnn::supernet::SupernetSettings;
use snnc_search::snasnet::search::SearchSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// SNASNet: training-free random search over cells (SAHD score at initialisation).
    Snasnet,
    /// AutoSNN: weight-sharing supernet, then spike-aware evolution.
    Autosnn,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Snasnet => "snasnet",
            Method::Autosnn => "autosnn",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BudgetKind {
    /// Reduced settings for a 2-core machine.
    Small,
    /// The papers' settings (thousands of candidates, hundreds of epochs).
    Paper,
}

/// How the chosen architecture is trained.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrainBudget {
    /// Channel count C the architecture is rebuilt at for training.
    pub width: usize,
    /// Hidden units of SNASNet's classifier (AutoSNN has none).
    pub hidden: usize,
    pub timesteps: usize,
    pub epochs: usize,
    pub batch_size: usize,
    /// `adam` or `sgd` (momentum 0.9 and weight decay 5e-4, as SNASNet's training).
    pub optimizer: String,
    pub lr: f64,
    pub cosine: bool,
    pub train_limit: Option<usize>,
    pub test_limit: Option<usize>,
    pub seed: u64,
}

/// Every setting of a pipeline run, resolved from the budget and the flags.
#[derive(Debug, Clone)]
pub struct Budget {
    pub snasnet: SearchSettings,
    pub autosnn: AutoSnnSearchSettings,
    pub train: TrainBudget,
    /// Test samples the event-driven run profiles (`None`: all).
    pub samples: Option<usize>,
}

impl Budget {
    /// The budget `a` asks for, with its overrides applied. `held_out` is the size of AutoSNN's
    /// held-out share of the training split (the paper scores candidates on all of it).
    pub fn resolve(a: &PipelineArgs, held_out: usize) -> Budget {
        let paper = a.budget == BudgetKind::Paper;
        let dataset = a.data.dataset.to_string();
        let snasnet = SearchSettings {
            dataset: dataset.clone(),
            cell: a.cell.to_string(),
            candidates: a.candidates.unwrap_or(if paper { 5000 } else { 150 }),
            batch: a.search_batch.unwrap_or(if paper { 256 } else { 128 }),
            repeats: 2,
            timesteps: a.search_timesteps.unwrap_or(5),
            width: a.search_width.unwrap_or(16),
            kernel: "sahd".into(),
            seed: a.seed,
            carry_state: false,
            device: crate::cli::compute_device(),
        };
        let mut supernet = SupernetSettings::small(&dataset);
        supernet.width = a.search_width.unwrap_or(16);
        supernet.timesteps =
            a.search_timesteps
                .unwrap_or(if paper { 8 } else { supernet.timesteps });
        supernet.epochs = a
            .supernet_epochs
            .unwrap_or(if paper { 600 } else { supernet.epochs });
        supernet.batch_size = a.search_batch.unwrap_or(supernet.batch_size);
        supernet.seed = a.seed;
        supernet.train_limit = a.search_train_limit;
        // The paper's ratios: of 20, the top 10 survive and 10 mutants and 10 crossovers are bred.
        let population = a.population.unwrap_or(20);
        let half = (population / 2).max(1);
        let evolution = EvolutionSettings {
            generations: a.generations.unwrap_or(if paper { 20 } else { 10 }),
            population,
            top_k: half,
            mutants: half,
            crossovers: half,
            fitness: a.fitness,
            lambda: if a.fitness == FitnessKind::Accuracy {
                0.0
            } else {
                -0.08
            },
            ..EvolutionSettings::default()
        };
        let eval_samples =
            a.eval_samples
                .unwrap_or(if paper { held_out } else { 2000.min(held_out) });
        let autosnn = AutoSnnSearchSettings {
            supernet,
            evolution,
            eval_samples,
            eval_batch: eval_samples.clamp(1, 250),
            recalibration_samples: 0,
            target: a.target.target.clone(),
        };
        let train = match (a.search, paper) {
            (Method::Snasnet, false) => TrainBudget {
                width: 16,
                hidden: 256,
                timesteps: 4,
                epochs: 1,
                batch_size: 64,
                optimizer: "adam".into(),
                lr: 1e-3,
                cosine: true,
                train_limit: None,
                test_limit: None,
                seed: a.seed,
            },
            (Method::Snasnet, true) => TrainBudget {
                width: 16,
                hidden: 1024,
                timesteps: 5,
                epochs: 300,
                batch_size: 64,
                optimizer: "sgd".into(),
                lr: 0.1,
                cosine: true,
                train_limit: None,
                test_limit: None,
                seed: a.seed,
            },
            (Method::Autosnn, _) => TrainBudget {
                width: autosnn.supernet.width,
                hidden: 0,
                timesteps: autosnn.supernet.timesteps,
                epochs: if paper { 600 } else { 1 },
                batch_size: 96,
                optimizer: "adam".into(),
                lr: 1e-3,
                cosine: false,
                train_limit: None,
                test_limit: None,
                seed: a.seed,
            },
        };
        let train = TrainBudget {
            width: a.width.unwrap_or(train.width),
            hidden: a.hidden.unwrap_or(train.hidden),
            timesteps: a.timesteps.unwrap_or(train.timesteps),
            epochs: a.epochs.unwrap_or(train.epochs),
            batch_size: a.batch_size.unwrap_or(train.batch_size),
            lr: a.lr.unwrap_or(train.lr),
            train_limit: a.train_limit.or(train.train_limit),
            test_limit: a.test_limit.or(train.test_limit),
            ..train
        };
        let samples = match a.samples {
            Some(n) => Some(n),
            None if paper => None,
            None => Some(2000),
        };
        Budget {
            snasnet,
            autosnn,
            train,
            samples,
        }
    }

    /// Refuse settings no stage could run with, before any work.
    pub fn check(&self, method: Method) -> anyhow::Result<()> {
        let t = &self.train;
        match method {
            Method::Snasnet => {
                self.snasnet.check().map_err(anyhow::Error::msg)?;
                if t.hidden == 0 {
                    anyhow::bail!("--hidden must be at least 1");
                }
            }
            Method::Autosnn => self.autosnn.check().map_err(anyhow::Error::msg)?,
        }
        if t.width == 0 || t.timesteps == 0 || t.epochs == 0 || t.batch_size == 0 {
            anyhow::bail!("--width, --timesteps, --epochs and --batch-size must be at least 1");
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            anyhow::bail!("--lr must be a positive number, got {}", t.lr);
        }
        if self.snasnet.candidates == 0 || self.snasnet.batch < 2 || self.snasnet.width == 0 {
            anyhow::bail!(
                "--candidates and --search-width must be at least 1 and --search-batch at least 2"
            );
        }
        if self.samples == Some(0) || t.train_limit == Some(0) || t.test_limit == Some(0) {
            anyhow::bail!("--samples, --train-limit and --test-limit must be at least 1");
        }
        Ok(())
    }
}
