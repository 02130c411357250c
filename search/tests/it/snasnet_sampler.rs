//! The SNASNet cell sampler: acceptance rates, determinism, and genotype round trips (snasnet.md §2.6).

#![allow(clippy::needless_range_loop)]
use snnc_datasets::transform::Rng;
use snnc_search::arch::snasnet::CellGenotype;
use snnc_search::snasnet::sampler::{CellMode, attempt, path_counts, prune_official, sample};

fn acceptance(mode: CellMode, seed: u64) -> f64 {
    let mut rng = Rng::new(seed);
    let draws = 20_000;
    let accepted = (0..draws)
        .filter(|_| attempt(mode, &mut rng).accepted)
        .count();
    accepted as f64 / draws as f64
}

#[test]
fn forward_acceptance_is_near_080() {
    let rate = acceptance(CellMode::Forward, 7);
    assert!((rate - 0.80).abs() < 0.02, "forward acceptance {rate}");
}

#[test]
fn backward_acceptance_is_near_040() {
    let rate = acceptance(CellMode::Backward, 7);
    assert!((rate - 0.40).abs() < 0.02, "backward acceptance {rate}");
}

#[test]
fn raw_draws_have_the_right_shape() {
    let mut rng = Rng::new(3);
    for _ in 0..2000 {
        let f = attempt(CellMode::Forward, &mut rng).raw;
        for i in 0..4 {
            for j in 0..=i {
                assert_eq!(f[i][j], 0, "forward draw has a lower-triangle entry: {f:?}");
            }
        }
        let b = attempt(CellMode::Backward, &mut rng).raw;
        for i in 0..4 {
            assert_eq!(b[i][i], 0);
            for j in i + 1..4 {
                assert!(
                    b[i][j] == 0 || b[j][i] == 0,
                    "pair ({i},{j}) has both directions: {b:?}"
                );
                assert!(b[i][j] <= 4 && b[j][i] <= 4);
            }
        }
    }
}

#[test]
fn sampling_is_deterministic_by_seed() {
    for mode in [CellMode::Forward, CellMode::Backward] {
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..200).map(|_| sample(mode, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
    }
}

#[test]
fn accepted_cells_round_trip_and_are_valid() {
    for mode in [CellMode::Forward, CellMode::Backward] {
        let mut rng = Rng::new(99);
        let mut backward_seen = false;
        for _ in 0..3000 {
            let a = attempt(mode, &mut rng);
            if !a.accepted {
                // Rejection happens exactly when the drawn (0,3) entry is not a non-zero forward edge.
                assert_eq!(a.raw[0][3], 0, "{a:?}");
                continue;
            }
            let g = CellGenotype { m: a.pruned };
            assert!(g.is_valid(), "{g}");
            let text = g.to_string();
            let back: CellGenotype = text.parse().expect("round trip");
            assert_eq!(back, g, "{text}");
            // The official G-based pruning agrees with the reachability pruning of the genotype.
            assert_eq!(CellGenotype { m: a.raw }.pruned(), g, "{text}");
            assert_eq!(g.pruned(), g, "pruning is idempotent on {text}");
            backward_seen |= g.has_backward();
        }
        assert_eq!(backward_seen, mode == CellMode::Backward);
    }
}

#[test]
fn pruning_by_hand() {
    // The documented example: 0->1 conv3, 0->3 conv1, 1->2 conv3, 2->0 conv3 (backward), 2->3 conv3.
    let g: CellGenotype = "0302 0030 3003 0000".parse().expect("parse");
    assert_eq!(prune_official(&g.m), g.m);
    // Node 1 has no path to the output: its row and column go.
    let m = [[0, 2, 0, 1], [0, 0, 0, 0], [0, 0, 0, 4], [0, 0, 0, 0]];
    assert_eq!(
        prune_official(&m),
        [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    );
    // Node 2 only reaches the output, not reachable from the input: removed.
    let m = [[0, 0, 0, 3], [0, 0, 0, 0], [0, 0, 0, 4], [0, 0, 0, 0]];
    assert_eq!(prune_official(&m)[2][3], 0);
    // Path counts weight by op code: 0->1 (2) then 1->3 (3) gives 6 plus the direct 1.
    let m = [[0, 2, 0, 1], [0, 0, 0, 3], [0, 0, 0, 0], [0, 0, 0, 0]];
    assert_eq!(path_counts(&m)[0][3], 7);
}
