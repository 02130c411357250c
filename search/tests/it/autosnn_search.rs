//! AutoSNN search: the space's encodings, the sampler, mutation and crossover, the fitness
//! formulas, the evolution's bookkeeping, Pareto fronts, operation counting and weight sharing.

use candle_core::Tensor;
use snnc_compiler::network::Op;
use snnc_datasets::transform::Rng;
use snnc_search::arch::InputGeometry;
use snnc_search::arch::autosnn::{AutoSnnArch, Block};
use snnc_search::autosnn::counting::{Activity, CountPlan};
use snnc_search::autosnn::evolution::{
    Candidate, EvolutionSettings, FitnessKind, Reference, Scores, evolve, fitness, pareto_front,
};
use snnc_search::autosnn::space::{SPACE_SIZE, crossover, mutate, sample_uniform};
use snnc_search::autosnn::supernet::{Supernet, SupernetSettings};
use snnc_search::device::ComputeDevice;
use snnc_search::optim::{Optimizer, OptimizerKind};
use std::collections::{HashMap, HashSet};

#[test]
fn the_space_has_3125_architectures_and_every_encoding_round_trips() {
    let mut seen = HashSet::new();
    for i in 0..SPACE_SIZE {
        let a = AutoSnnArch::from_index(i).unwrap();
        assert_eq!(a.index(), i);
        assert!(seen.insert(a), "index {i} repeats an architecture");
        let text: AutoSnnArch = a.to_string().parse().unwrap();
        assert_eq!(text, a);
        let ids: AutoSnnArch = a.ids().parse().unwrap();
        assert_eq!(ids, a);
        assert_eq!(AutoSnnArch::from_slots(&a.slots()).unwrap(), a);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<AutoSnnArch>(&json).unwrap(), a);
    }
    assert_eq!(seen.len(), 3125);
    assert!(AutoSnnArch::from_index(SPACE_SIZE).is_none());
    // The paper's final network (autosnn.md §7.1) in each form.
    let paper = AutoSnnArch::paper_final();
    assert_eq!(paper.ids(), "44034");
    assert_eq!(paper.slots(), [4, -1, 4, 0, -1, 3, 4, -1]);
    assert_eq!(
        serde_json::to_string(&paper).unwrap(),
        r#"["SRB_k5","SRB_k5","skip_connect","SRB_k3","SRB_k5"]"#
    );
    assert_eq!(paper.index(), 4 * 625 + 4 * 125 + 3 * 5 + 4);
}

#[test]
fn malformed_encodings_are_rejected_with_a_reason() {
    let err = AutoSnnArch::from_slots(&[4, 2, 4, 0, -1, 3, 4, -1]).unwrap_err();
    assert!(err.to_string().contains("slot 1"), "{err}");
    let err = AutoSnnArch::from_slots(&[5, -1, 4, 0, -1, 3, 4, -1]).unwrap_err();
    assert!(err.to_string().contains("slot 0"), "{err}");
    assert!("4403".parse::<AutoSnnArch>().is_err());
    assert!(
        serde_json::from_str::<AutoSnnArch>(
            r#"["SRB_k5","SRB_k7","skip_connect","SRB_k3","SRB_k5"]"#
        )
        .is_err()
    );
}

#[test]
fn the_path_sampler_is_uniform() {
    let mut rng = Rng::new(3);
    let draws = 50_000;
    let mut per_position = [[0usize; 5]; 5];
    let mut per_index = vec![0usize; SPACE_SIZE];
    for _ in 0..draws {
        let a = sample_uniform(&mut rng);
        per_index[a.index()] += 1;
        for (pos, b) in a.0.iter().enumerate() {
            per_position[pos][b.id() as usize] += 1;
        }
    }
    // Each block's share at each position: 0.2 +- 4 standard errors.
    let se = (0.2f64 * 0.8 / draws as f64).sqrt();
    for (pos, counts) in per_position.iter().enumerate() {
        for (block, &c) in counts.iter().enumerate() {
            let share = c as f64 / draws as f64;
            assert!(
                (share - 0.2).abs() < 4.0 * se,
                "position {pos} block {block}: share {share}"
            );
        }
    }
    // Chi-square over all 3125 architectures (3124 degrees of freedom, sd ~ 79).
    let expected = draws as f64 / SPACE_SIZE as f64;
    let chi2: f64 = per_index
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    assert!((chi2 - 3124.0).abs() < 5.0 * 79.0, "chi-square {chi2}");
}

#[test]
fn mutation_and_crossover_keep_architectures_valid() {
    let mut rng = Rng::new(11);
    for _ in 0..2000 {
        let a = sample_uniform(&mut rng);
        let b = sample_uniform(&mut rng);
        assert_eq!(mutate(&a, 0.0, &mut rng), a);
        let all = mutate(&a, 1.0, &mut rng);
        for (x, y) in a.0.iter().zip(&all.0) {
            assert_ne!(x, y, "probability 1 changes every gene");
        }
        let m = mutate(&a, 0.2, &mut rng);
        assert!(AutoSnnArch::from_index(m.index()) == Some(m));
        // A one-point crossover child is a prefix of `a` followed by the rest of `b`.
        let c = crossover(&a, &b, &mut rng);
        let from_a = (0..=5)
            .filter(|&k| c.0[..k] == a.0[..k] && c.0[k..] == b.0[k..])
            .count();
        assert!(from_a >= 1, "{c} is not a one-point cross of {a} and {b}");
        assert_eq!(AutoSnnArch::from_slots(&c.slots()).unwrap(), c);
    }
}

#[test]
fn fitness_follows_the_formulas() {
    let r = Reference {
        spikes: 100_000.0,
        energy_j: 2e-6,
    };
    let f = fitness(FitnessKind::Spikes, -0.08, 0.9, 200_000.0, 9.0, &r);
    assert!((f - 0.9 * 2f64.powf(-0.08)).abs() < 1e-12);
    assert!((2f64.powf(-0.08) - 0.946_058).abs() < 1e-6);
    let f = fitness(FitnessKind::Spikes, -0.08, 0.9, 100_000.0, 9.0, &r);
    assert!(
        (f - 0.9).abs() < 1e-12,
        "at C_s the fitness is the accuracy"
    );
    let f = fitness(FitnessKind::Energy, -0.16, 0.8, 1.0, 0.5e-6, &r);
    assert!((f - 0.8 * 0.25f64.powf(-0.16)).abs() < 1e-12);
    assert_eq!(
        fitness(FitnessKind::Accuracy, -0.08, 0.7, 1e9, 1.0, &r),
        0.7
    );
    let silent = fitness(FitnessKind::Spikes, -0.08, 0.1, 0.0, 0.0, &r);
    assert!(silent.is_finite(), "a silent network gets a finite fitness");
}

/// A smooth toy landscape: accuracy grows with the number of SRB_k5 blocks, spikes with every
/// non-skip block.
fn toy_scores(a: &AutoSnnArch) -> Scores {
    let srb5 = a.0.iter().filter(|&&b| b == Block::Srb5).count() as f64;
    let active = a.0.iter().filter(|&&b| b != Block::Skip).count() as f64;
    Scores {
        accuracy: 0.5 + 0.09 * srb5,
        spikes: 1000.0 + 1000.0 * active,
        energy_j: 1e-6 * (1.0 + active),
    }
}

fn small_settings(seed: u64) -> EvolutionSettings {
    EvolutionSettings {
        population: 12,
        generations: 8,
        top_k: 6,
        mutants: 5,
        crossovers: 5,
        seed,
        fitness: FitnessKind::Accuracy,
        ..EvolutionSettings::default()
    }
}

#[test]
fn evolution_never_evaluates_twice_and_climbs_a_toy_landscape() {
    let r = Reference {
        spikes: 3000.0,
        energy_j: 3e-6,
    };
    let settings = small_settings(5);
    let mut calls = Vec::new();
    let out = evolve(
        &settings,
        &r,
        &mut |a| {
            calls.push(*a);
            Ok(Some(toy_scores(a)))
        },
        &mut |_, _| Ok(()),
    )
    .unwrap()
    .unwrap();
    let unique: HashSet<_> = calls.iter().collect();
    assert_eq!(
        unique.len(),
        calls.len(),
        "an architecture was evaluated twice"
    );
    assert_eq!(calls.len(), settings.population * settings.generations);
    assert_eq!(out.evaluated.len(), calls.len());
    assert_eq!(out.generations.len(), settings.generations);
    assert!(out.top.windows(2).all(|w| w[0].fitness >= w[1].fitness));
    assert_eq!(out.top.len(), settings.top_k);
    // Elitism: the best fitness never drops from one generation to the next.
    for w in out.generations.windows(2) {
        assert!(w[1].best.fitness >= w[0].best.fitness);
    }
    let best = out.top[0].arch;
    let srb5 = best.0.iter().filter(|&&b| b == Block::Srb5).count();
    assert!(
        srb5 >= 4,
        "96 of 3125 evaluations should climb to >= 4 SRB_k5, got {best}"
    );
    // The first generation's random pool is as good as chance; the search must beat it.
    let first_best = out.generations[0].best.fitness;
    assert!(
        out.top[0].fitness > first_best,
        "no improvement over generation 0"
    );
}

#[test]
fn the_spike_fitness_prefers_fewer_spikes_than_accuracy_alone() {
    let r = Reference {
        spikes: 3000.0,
        energy_j: 3e-6,
    };
    let run = |fitness: FitnessKind, lambda: f64| {
        let s = EvolutionSettings {
            fitness,
            lambda,
            ..small_settings(7)
        };
        evolve(&s, &r, &mut |a| Ok(Some(toy_scores(a))), &mut |_, _| Ok(()))
            .unwrap()
            .unwrap()
            .top[0]
            .clone()
    };
    let acc = run(FitnessKind::Accuracy, 0.0);
    let spiky = run(FitnessKind::Spikes, -1.0);
    assert!(
        spiky.scores.spikes < acc.scores.spikes,
        "{spiky:?} vs {acc:?}"
    );
}

#[test]
fn an_interrupted_evolution_replays_exactly_from_cached_scores() {
    let r = Reference {
        spikes: 3000.0,
        energy_j: 3e-6,
    };
    let settings = small_settings(9);
    let full = evolve(
        &settings,
        &r,
        &mut |a| Ok(Some(toy_scores(a))),
        &mut |_, _| Ok(()),
    )
    .unwrap()
    .unwrap();
    let mut cache: HashMap<AutoSnnArch, Scores> = HashMap::new();
    let mut budget = 30;
    let stopped = evolve(
        &settings,
        &r,
        &mut |a| {
            if budget == 0 {
                return Ok(None);
            }
            budget -= 1;
            cache.insert(*a, toy_scores(a));
            Ok(Some(toy_scores(a)))
        },
        &mut |_, _| Ok(()),
    )
    .unwrap();
    assert!(stopped.is_none());
    assert_eq!(cache.len(), 30);
    let mut fresh = 0;
    let resumed = evolve(
        &settings,
        &r,
        &mut |a| {
            Ok(Some(match cache.get(a) {
                Some(s) => *s,
                None => {
                    fresh += 1;
                    toy_scores(a)
                }
            }))
        },
        &mut |_, _| Ok(()),
    )
    .unwrap()
    .unwrap();
    assert_eq!(fresh, full.evaluated.len() - 30);
    assert_eq!(resumed, full);
}

#[test]
fn pareto_front_keeps_exactly_the_non_dominated() {
    let mk = |acc: f64, spikes: f64| Candidate {
        arch: AutoSnnArch::paper_final(),
        generation: 0,
        scores: Scores {
            accuracy: acc,
            spikes,
            energy_j: 0.0,
        },
        fitness: 0.0,
    };
    let all = vec![
        mk(0.90, 100.0),
        mk(0.85, 50.0),
        mk(0.80, 60.0),  // dominated by (0.85, 50)
        mk(0.90, 120.0), // dominated by (0.90, 100)
        mk(0.95, 300.0),
        mk(0.70, 10.0),
    ];
    let front = pareto_front(&all, |c| c.scores.spikes);
    let got: Vec<(f64, f64)> = front
        .iter()
        .map(|c| (c.scores.accuracy, c.scores.spikes))
        .collect();
    assert_eq!(
        got,
        vec![(0.70, 10.0), (0.85, 50.0), (0.90, 100.0), (0.95, 300.0)]
    );
}

/// A supernet parameter's values.
fn values(net: &Supernet, name: &str) -> Vec<f32> {
    let t = net.params.get(name).expect("parameter exists").as_tensor();
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn tiny_geometry() -> InputGeometry {
    InputGeometry {
        channels: 1,
        side: 8,
        encoding: snnc_search::arch::InputEncoding::Direct,
        num_classes: 10,
    }
}

fn tiny_settings() -> SupernetSettings {
    SupernetSettings {
        width: 2,
        timesteps: 3,
        ..SupernetSettings::small("fashion-mnist")
    }
}

#[test]
fn paths_share_the_supernet_weights_of_their_common_layers_only() {
    let mut net = Supernet::new(tiny_settings(), tiny_geometry()).unwrap();
    let total = net.params.len();
    let a = AutoSnnArch([
        Block::Srb5,
        Block::Scb3,
        Block::Skip,
        Block::Srb3,
        Block::Scb5,
    ]);
    let b = AutoSnnArch([
        Block::Srb5,
        Block::Srb3,
        Block::Skip,
        Block::Srb3,
        Block::Skip,
    ]);
    let id_of = |net: &mut Supernet, arch: &AutoSnnArch, name: &str| {
        net.model(arch)
            .unwrap()
            .params
            .get(name)
            .map(|v| v.as_tensor().id())
    };
    for shared in [
        "stem.conv.weight",
        "fc.weight",
        "p0.SRB_k5.conv1.weight",
        "p3.SRB_k3.conv2.weight",
    ] {
        let x = id_of(&mut net, &a, shared).expect("present");
        assert_eq!(
            Some(x),
            id_of(&mut net, &b, shared),
            "{shared} is one variable"
        );
    }
    // Building paths adds no parameters: the supernet made them all up front.
    assert_eq!(net.params.len(), total);
    // Every (position, block) with weights exists, and the channel-changing skips have a conv.
    for pos in 0..5 {
        for block in ["SCB_k3", "SCB_k5", "SRB_k3", "SRB_k5"] {
            assert!(
                net.params
                    .get(&format!("p{pos}.{block}.conv1.weight"))
                    .is_some()
            );
        }
    }
    assert!(net.params.get("p1.skip_connect.conv.weight").is_some());
    assert!(net.params.get("p3.skip_connect.conv.weight").is_some());
    assert!(
        net.params.get("p0.skip_connect.conv.weight").is_none(),
        "an identity skip has no weights"
    );
    // The child network for retraining uses plain names.
    let child = net.child_network(&a).unwrap();
    assert!(child.nodes.iter().any(|n| n.name == "p0.conv1"));
}

#[test]
fn only_the_sampled_path_moves_unless_unsampled_blocks_are_asked_to() {
    for update_unsampled in [false, true] {
        let mut net = Supernet::new(tiny_settings(), tiny_geometry()).unwrap();
        let mut opt = Optimizer::new(OptimizerKind::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        });
        opt.update_without_grad = update_unsampled;
        let x = Tensor::rand(0f32, 1f32, (4, 1, 8, 8), &ComputeDevice::cpu()).unwrap();
        let mut rng = Rng::new(1);
        let mut step = |net: &mut Supernet, arch: AutoSnnArch| {
            let model = net.model(&arch).unwrap();
            let out = model.forward(&x, true, &mut rng, false).unwrap();
            // Away from zero output, so the gradient is non-zero even if the network is silent.
            let loss = out
                .readout
                .affine(1.0, -1.0)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            let grads = loss.backward().unwrap();
            opt.step(&net.params, &grads, 1e-2).unwrap();
        };
        let a = AutoSnnArch([Block::Scb3; 5]);
        let b = AutoSnnArch([Block::Scb5; 5]);
        let w0 = values(&net, "p0.SCB_k3.conv1.weight");
        step(&mut net, a);
        let w = |net: &Supernet| values(net, "p0.SCB_k3.conv1.weight");
        let after_a = w(&net);
        assert_ne!(w0, after_a, "the sampled path moves");
        let untouched_before = values(&net, "p0.SRB_k3.conv1.weight");
        step(&mut net, b);
        let after_b = w(&net);
        let untouched_after = values(&net, "p0.SRB_k3.conv1.weight");
        assert_eq!(
            untouched_before, untouched_after,
            "a never-sampled block has no state to move it"
        );
        if update_unsampled {
            assert_ne!(after_a, after_b, "stale Adam moments keep moving block a");
        } else {
            assert_eq!(
                after_a, after_b,
                "block a was not sampled in the second step"
            );
        }
    }
}

/// Every (non-zero input, weight) pair of every convolution and linear layer, the slow way.
fn brute_force_pairs(
    model: &snnc_search::model::SnnModel,
    outputs: &HashMap<(usize, usize), Tensor>,
    timesteps: usize,
) -> (f64, f64) {
    let net = &model.net;
    let (mut binary, mut graded) = (0f64, 0f64);
    for id in 0..net.len() {
        let (src, _) = match net.inputs[id].first() {
            Some(&s) => s,
            None => continue,
        };
        for t in 0..timesteps {
            let Some(x) = outputs.get(&(src, t)) else {
                continue;
            };
            let v = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let is_binary = v.iter().all(|&e| e == 0.0 || e == 1.0);
            let pairs = match &net.node(id).op {
                Op::Conv2d(c) => {
                    let (b, ch, h, w) = x.dims4().unwrap();
                    let out = net.shapes[id].dims().to_vec();
                    let mut n = 0f64;
                    for bi in 0..b {
                        for ci in 0..ch {
                            for oy in 0..out[1] {
                                for ox in 0..out[2] {
                                    for i in 0..c.kernel.0 {
                                        for j in 0..c.kernel.1 {
                                            let y = (oy * c.stride.0 + i) as isize
                                                - c.padding.0 as isize;
                                            let xx = (ox * c.stride.1 + j) as isize
                                                - c.padding.1 as isize;
                                            if y < 0
                                                || xx < 0
                                                || y >= h as isize
                                                || xx >= w as isize
                                            {
                                                continue;
                                            }
                                            if v[((bi * ch + ci) * h + y as usize) * w
                                                + xx as usize]
                                                != 0.0
                                            {
                                                n += c.out_channels as f64;
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    n
                }
                Op::Linear(l) => {
                    v.iter().filter(|&&e| e != 0.0).count() as f64 * l.out_features as f64
                }
                _ => continue,
            };
            if is_binary {
                binary += pairs;
            } else {
                graded += pairs;
            }
        }
    }
    (binary, graded)
}

#[test]
fn operation_counts_equal_a_brute_force_count() {
    let mut net = Supernet::new(tiny_settings(), tiny_geometry()).unwrap();
    // Make the network fire: inputs well above threshold after the stem.
    let x = Tensor::rand(0f32, 3f32, (3, 1, 8, 8), &ComputeDevice::cpu()).unwrap();
    for arch in [
        AutoSnnArch::paper_final(),
        AutoSnnArch([
            Block::Scb5,
            Block::Skip,
            Block::Srb3,
            Block::Skip,
            Block::Scb3,
        ]),
    ] {
        let model = net.model(&arch).unwrap();
        let plan = CountPlan::new(model).unwrap();
        let mut acc = Activity {
            samples: 3,
            ..Activity::default()
        };
        let mut outputs = HashMap::new();
        let mut rng = Rng::new(0);
        model
            // Batch statistics keep every layer near unit scale, so spikes reach the classifier.
            .forward_with_hook(&x, true, &mut rng, &mut |id, t, out| {
                outputs.insert((id, t), out.clone());
                plan.observe(id, out, &mut acc)
            })
            .unwrap();
        let (sops, macs) = brute_force_pairs(model, &outputs, 3);
        assert!(
            sops > 0.0 && macs > 0.0,
            "the test needs both kinds of events"
        );
        assert_eq!(acc.counts.sops, sops, "{arch}");
        assert_eq!(acc.counts.macs, macs, "{arch}");
        // Spikes as autosnn.md §4 counts them: every neuron and max-pool output.
        let mut spikes = 0f64;
        let mut neuron_spikes = 0f64;
        for ((id, _), out) in &outputs {
            let op = &model.net.node(*id).op;
            let s = out.sum_all().unwrap().to_scalar::<f32>().unwrap() as f64;
            if op.is_spiking() {
                neuron_spikes += s;
            }
            if op.is_spiking() || matches!(op, Op::MaxPool(_)) {
                spikes += s;
            }
        }
        assert_eq!(acc.fitness_spikes, spikes);
        assert_eq!(acc.counts.spikes, neuron_spikes);
        assert!(spikes > neuron_spikes, "max-pool outputs count too");
    }
}
