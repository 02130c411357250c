//! AutoSNN's evolutionary search (autosnn.md §5) and its fitness functions (§4, plus an
//! energy-aware variant): elitist top-k selection, mutation, one-point crossover and random fill,
//! never evaluating an architecture twice.

use super::space::{SPACE_SIZE, crossover, mutate, sample_uniform};
use crate::arch::autosnn::AutoSnnArch;
use crate::error::{Result, SearchError, check_settings};
use serde::{Deserialize, Serialize};
use snnc_datasets::transform::Rng;
use std::collections::HashSet;

/// What the search maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitnessKind {
    /// ACC (lambda = 0).
    Accuracy,
    /// ACC x (spikes / C_s)^lambda (§4).
    Spikes,
    /// ACC x (E / E_ref)^lambda, E priced by a `targets` energy table.
    Energy,
}

impl std::str::FromStr for FitnessKind {
    type Err = SearchError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "accuracy" => Ok(FitnessKind::Accuracy),
            "spikes" => Ok(FitnessKind::Spikes),
            "energy" => Ok(FitnessKind::Energy),
            _ => Err(SearchError::UnknownName {
                what: "fitness",
                given: s.to_string(),
                choices: "spikes, energy or accuracy",
            }),
        }
    }
}

impl std::fmt::Display for FitnessKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FitnessKind::Accuracy => "accuracy",
            FitnessKind::Spikes => "spikes",
            FitnessKind::Energy => "energy",
        })
    }
}

/// The normalisers: the supernet's mean spikes (C_s) and energy (E_ref) per sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub spikes: f64,
    pub energy_j: f64,
}

/// A ratio below this counts as this: a silent network would otherwise get infinite fitness.
const MIN_RATIO: f64 = 1e-6;

/// The fitness of one evaluated architecture.
pub fn fitness(
    kind: FitnessKind,
    lambda: f64,
    accuracy: f64,
    spikes: f64,
    energy_j: f64,
    reference: &Reference,
) -> f64 {
    let penalty = |value: f64, reference: f64| (value / reference).max(MIN_RATIO).powf(lambda);
    match kind {
        FitnessKind::Accuracy => accuracy,
        FitnessKind::Spikes => accuracy * penalty(spikes, reference.spikes),
        FitnessKind::Energy => accuracy * penalty(energy_j, reference.energy_j),
    }
}

/// Everything that decides the search's path; stored with its outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolutionSettings {
    pub population: usize,
    pub generations: usize,
    pub top_k: usize,
    pub mutants: usize,
    pub crossovers: usize,
    pub mutation_prob: f64,
    pub seed: u64,
    pub fitness: FitnessKind,
    pub lambda: f64,
    /// Refill the whole pool with random unseen architectures ("WS + random search", §5).
    pub random_search: bool,
}

impl EvolutionSettings {
    /// Settings no evolution can run with, named by their CLI flags.
    pub fn check(&self) -> Result<()> {
        let mut wrong = Vec::new();
        if self.population == 0 || self.generations == 0 || self.top_k == 0 {
            wrong.push("--population, --generations and --top-k must be at least 1".to_string());
        }
        if !(0.0..=1.0).contains(&self.mutation_prob) {
            wrong.push(format!(
                "--mutation-prob {} is not in [0, 1]",
                self.mutation_prob
            ));
        }
        if !self.lambda.is_finite() {
            wrong.push(format!(
                "--lambda must be a finite number, got {}",
                self.lambda
            ));
        }
        check_settings(wrong)
    }
}

impl Default for EvolutionSettings {
    /// The official settings (autosnn.md §5).
    fn default() -> Self {
        EvolutionSettings {
            population: 20,
            generations: 20,
            top_k: 10,
            mutants: 10,
            crossovers: 10,
            mutation_prob: 0.2,
            seed: 99,
            fitness: FitnessKind::Spikes,
            lambda: -0.08,
            random_search: false,
        }
    }
}

/// Accuracy, spikes per sample and energy per sample of one architecture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub accuracy: f64,
    pub spikes: f64,
    pub energy_j: f64,
}

/// One evaluated architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub arch: AutoSnnArch,
    pub generation: usize,
    pub scores: Scores,
    pub fitness: f64,
}

/// The state after one generation's evaluations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationLog {
    pub generation: usize,
    pub evaluated: usize,
    pub best: Candidate,
    pub top: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvolutionOutcome {
    /// Every evaluated architecture, in evaluation order.
    pub evaluated: Vec<Candidate>,
    /// The final top-k, best first.
    pub top: Vec<Candidate>,
    pub generations: Vec<GenerationLog>,
}

/// Up to `want` new architectures from `make`, each unseen and not already in `pool`, in at
/// most `3 * want` attempts (§5).
fn breed(
    want: usize,
    pool: &mut Vec<AutoSnnArch>,
    seen: &HashSet<AutoSnnArch>,
    make: &mut dyn FnMut() -> AutoSnnArch,
) {
    let mut made = 0;
    for _ in 0..3 * want {
        if made == want {
            break;
        }
        let child = make();
        if !seen.contains(&child) && !pool.contains(&child) {
            pool.push(child);
            made += 1;
        }
    }
}

/// Fill `pool` to `size` with uniform random unseen architectures (fewer if the space runs out).
fn random_fill(
    size: usize,
    pool: &mut Vec<AutoSnnArch>,
    seen: &HashSet<AutoSnnArch>,
    rng: &mut Rng,
) {
    while pool.len() < size && seen.len() + pool.len() < SPACE_SIZE {
        let a = sample_uniform(rng);
        if !seen.contains(&a) && !pool.contains(&a) {
            pool.push(a);
        }
    }
}

/// Called after each generation with its log and the candidates it evaluated.
pub type GenerationObserver<'a> = dyn FnMut(&GenerationLog, &[Candidate]) -> Result<()> + 'a;

/// Run the evolution. `evaluate` returns `Ok(None)` to stop early (the caller was interrupted);
/// the search is a deterministic function of the settings and the scores, so running it again
/// with cached scores replays it exactly.
pub fn evolve(
    settings: &EvolutionSettings,
    reference: &Reference,
    evaluate: &mut dyn FnMut(&AutoSnnArch) -> Result<Option<Scores>>,
    on_generation: &mut GenerationObserver<'_>,
) -> Result<Option<EvolutionOutcome>> {
    settings.check()?;
    let mut rng = Rng::new(settings.seed);
    let mut seen: HashSet<AutoSnnArch> = HashSet::new();
    let mut pool = Vec::new();
    random_fill(settings.population, &mut pool, &seen, &mut rng);
    let mut top: Vec<Candidate> = Vec::new();
    let mut evaluated: Vec<Candidate> = Vec::new();
    let mut logs = Vec::new();
    for generation in 0..settings.generations {
        let first_new = evaluated.len();
        for arch in &pool {
            let Some(scores) = evaluate(arch)? else {
                return Ok(None);
            };
            seen.insert(*arch);
            evaluated.push(Candidate {
                arch: *arch,
                generation,
                fitness: fitness(
                    settings.fitness,
                    settings.lambda,
                    scores.accuracy,
                    scores.spikes,
                    scores.energy_j,
                    reference,
                ),
                scores,
            });
        }
        // (mu + lambda) selection: stored top-k scores compete with the new pool's.
        top.extend(evaluated[first_new..].iter().cloned());
        top.sort_by(|a, b| b.fitness.total_cmp(&a.fitness));
        top.truncate(settings.top_k);
        let log = GenerationLog {
            generation,
            evaluated: evaluated.len(),
            best: top[0].clone(),
            top: top.iter().map(|c| c.arch.ids()).collect(),
        };
        on_generation(&log, &evaluated[first_new..])?;
        logs.push(log);
        if generation + 1 == settings.generations {
            break;
        }
        let mut next: Vec<AutoSnnArch> = Vec::new();
        if !settings.random_search {
            let parents: Vec<AutoSnnArch> = top.iter().map(|c| c.arch).collect();
            breed(settings.mutants, &mut next, &seen, &mut || {
                let p = parents[rng.below(parents.len())];
                mutate(&p, settings.mutation_prob, &mut rng)
            });
            if parents.len() >= 2 {
                breed(settings.crossovers, &mut next, &seen, &mut || {
                    let i = rng.below(parents.len());
                    let j = (i + 1 + rng.below(parents.len() - 1)) % parents.len();
                    crossover(&parents[i], &parents[j], &mut rng)
                });
            }
        }
        random_fill(settings.population, &mut next, &seen, &mut rng);
        if next.is_empty() {
            break;
        }
        pool = next;
    }
    Ok(Some(EvolutionOutcome {
        evaluated,
        top,
        generations: logs,
    }))
}

/// The candidates no other candidate beats on both accuracy (higher) and `cost` (lower), sorted
/// by cost.
pub fn pareto_front(candidates: &[Candidate], cost: impl Fn(&Candidate) -> f64) -> Vec<&Candidate> {
    let mut front: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| {
            !candidates.iter().any(|o| {
                o.scores.accuracy >= c.scores.accuracy
                    && cost(o) <= cost(c)
                    && (o.scores.accuracy > c.scores.accuracy || cost(o) < cost(c))
            })
        })
        .collect();
    front.sort_by(|a, b| cost(a).total_cmp(&cost(b)));
    front
}
