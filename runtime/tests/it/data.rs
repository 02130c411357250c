//! Dataset samples become module input as training feeds them: normalised, zero-padded 28 -> 32,
//! flattened for an MLP, N-MNIST binned into T frames and centre-cropped; mismatches are errors.

use crate::common;

use snnc_datasets::transform::Normalization;
use snnc_datasets::{DatasetName, Split};
use snnc_runtime::data::DatasetInputs;
use snnc_runtime::{Inputs, Plan};

fn plan_of(arch: &str) -> Plan {
    let net = snnc_compiler::network::Network::load(
        &common::workspace()
            .join("examples/architectures")
            .join(arch),
    )
    .unwrap();
    let w = snnc_compiler::synth::weights(&net, common::SEED);
    Plan::new(&snnc_compiler::driver::compile(&net, w, true, true).unwrap()).unwrap()
}

#[test]
fn images_are_normalised_and_zero_padded_to_the_input() {
    let Some(dir) = snnc_datasets::testdata::dataset_dir(DatasetName::FashionMnist) else {
        return;
    };
    let plan = plan_of("autosnn-fmnist.json"); // input [1, 32, 32]
    let inputs =
        DatasetInputs::load(&plan, DatasetName::FashionMnist, &dir, Split::Test, Some(3)).unwrap();
    assert_eq!(inputs.len(), 3);
    assert_eq!(inputs.labels().len(), 3);
    let set = inputs.dataset().as_images().unwrap();
    let norm = Normalization::for_dataset(DatasetName::FashionMnist).unwrap();
    let mut x = Vec::new();
    inputs.fill(1, &mut x).unwrap();
    assert_eq!(x.len(), 32 * 32);
    let raw = set.sample(1).unwrap();
    for y in 0..32 {
        for xx in 0..32 {
            let v = x[y * 32 + xx];
            if (2..30).contains(&y) && (2..30).contains(&xx) {
                let want = norm.apply(0, f32::from(raw[(y - 2) * 28 + xx - 2]) / 255.0);
                assert!((v - want).abs() < 1e-6, "({y}, {xx}): {v} vs {want}");
            } else {
                assert_eq!(v, 0.0, "padding at ({y}, {xx})");
            }
        }
    }
}

#[test]
fn event_streams_become_cropped_frames() {
    let Some(dir) = snnc_datasets::testdata::dataset_dir(DatasetName::Nmnist) else {
        return;
    };
    let plan = plan_of("conv-snn-nmnist.json"); // input [2, 32, 32], T = 8
    let inputs =
        DatasetInputs::load(&plan, DatasetName::Nmnist, &dir, Split::Test, Some(2)).unwrap();
    let mut x = Vec::new();
    inputs.fill(0, &mut x).unwrap();
    assert_eq!(x.len(), plan.input_len());
    let events = &inputs.dataset().as_events().unwrap().samples[0];
    let inside = events
        .iter()
        .filter(|e| (1..33).contains(&e.x) && (1..33).contains(&e.y))
        .count();
    assert_eq!(
        x.iter().sum::<f32>() as usize,
        inside,
        "every event inside the centre crop lands in a frame"
    );
    // And the runtime takes them.
    let runs = plan.run_batch(&inputs, false, None).unwrap();
    assert_eq!(runs.len(), 2);
}

/// The error of a load that must fail (without printing the whole dataset if it does not).
fn load_err(plan: &Plan, name: DatasetName, dir: &std::path::Path) -> String {
    match DatasetInputs::load(plan, name, dir, Split::Test, None) {
        Ok(_) => panic!("{name} should not fit `{}`", plan.name),
        Err(e) => e.to_string(),
    }
}

#[test]
fn mismatched_datasets_are_errors_that_say_why() {
    let conv = plan_of("conv-snn-28.json");
    let nmnist = plan_of("conv-snn-nmnist.json");
    let err = load_err(
        &conv,
        DatasetName::Digits,
        std::path::Path::new("/no/such/dir"),
    );
    assert!(err.contains("/no/such/dir"), "{err}");
    if let Some(dir) = snnc_datasets::testdata::dataset_dir(DatasetName::Digits) {
        let err = load_err(&nmnist, DatasetName::Digits, &dir);
        assert!(err.contains("event frames"), "{err}");
    }
    if let Some(dir) = snnc_datasets::testdata::dataset_dir(DatasetName::Cifar10) {
        let err = load_err(&conv, DatasetName::Cifar10, &dir);
        assert!(
            err.contains("[1, 28, 28]") && err.contains("[3, 32, 32]"),
            "{err}"
        );
    }
    if let Some(dir) = snnc_datasets::testdata::dataset_dir(DatasetName::Nmnist) {
        let err = load_err(&conv, DatasetName::Nmnist, &dir);
        assert!(err.contains("direct-encoded"), "{err}");
    }
}
