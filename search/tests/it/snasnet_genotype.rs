//! The JSON form of SNASNet genotypes: round trips, both spellings, and errors.

use serde_json::json;
use snnc_datasets::transform::Rng;
use snnc_search::arch::snasnet::CellGenotype;
use snnc_search::snasnet::genotype::{genotype_from_json, genotype_to_json};
use snnc_search::snasnet::sampler::{CellMode, sample};

#[test]
fn json_round_trips_sampled_genotypes() {
    for mode in [CellMode::Forward, CellMode::Backward] {
        let mut rng = Rng::new(21);
        for _ in 0..500 {
            let (g, _) = sample(mode, &mut rng);
            let v = genotype_to_json(&g);
            assert_eq!(genotype_from_json(&v).expect("round trip"), g);
            let text = serde_json::to_string(&v).expect("serialise");
            let back: serde_json::Value = serde_json::from_str(&text).expect("parse");
            assert_eq!(genotype_from_json(&back).expect("round trip via text"), g);
        }
    }
}

#[test]
fn json_forms_and_errors() {
    let g: CellGenotype = "0302 0030 3003 0000".parse().expect("genotype");
    let v = genotype_to_json(&g);
    assert_eq!(v["cnt_mat"], "0302 0030 3003 0000");
    assert_eq!(
        v["matrix"],
        json!([[0, 3, 0, 2], [0, 0, 3, 0], [3, 0, 0, 3], [0, 0, 0, 0]])
    );
    assert_eq!(v["cell"], "backward");
    assert_eq!(
        genotype_from_json(&json!("0302 0030 3003 0000")).expect("string"),
        g
    );
    assert_eq!(
        genotype_from_json(
            &json!({"matrix": [[0, 3, 0, 2], [0, 0, 3, 0], [3, 0, 0, 3], [0, 0, 0, 0]]})
        )
        .expect("matrix"),
        g
    );
    for bad in [
        json!({"cnt_mat": "0302 0030 3003 0000", "matrix": [[0, 0, 0, 2], [0, 0, 3, 0], [3, 0, 0, 3], [0, 0, 0, 0]]}),
        json!({"matrix": [[0, 3, 0, 2], [0, 0, 3, 0], [3, 0, 0, 3]]}),
        json!({"matrix": [[0, 3, 0, 9], [0, 0, 3, 0], [3, 0, 0, 3], [0, 0, 0, 0]]}),
        json!({"matrix": [[0, 3, 0, -1], [0, 0, 3, 0], [3, 0, 0, 3], [0, 0, 0, 0]]}),
        json!({"cnt_mat": 5}),
        json!({}),
        json!(3),
        json!("0302 0030"),
    ] {
        assert!(genotype_from_json(&bad).is_err(), "{bad}");
    }
}
