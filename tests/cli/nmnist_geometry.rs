//! One rule from a dataset to a network's input: on N-MNIST the pipeline's search scores cells
//! on the same input shape its training then trains them on (the sensor's 34 x 34 centre-cropped
//! to 32 x 32, `snnc_datasets::network_input`).

use crate::common::{data, s, snnc, text};

use snnc_compiler::network::Network;
use snnc_datasets::{DatasetName, NMNIST_FRAME_SIDE};

#[test]
fn the_nmnist_pipeline_searches_and_trains_on_one_input_shape() {
    let Some(data) = data(DatasetName::Nmnist) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p");
    let o = snnc(&[
        "pipeline",
        "--dataset",
        "nmnist",
        "--data-dir",
        s(&data),
        "--out",
        s(&out),
        "--candidates",
        "2",
        "--search-width",
        "2",
        "--search-batch",
        "16",
        "--search-timesteps",
        "2",
        "--width",
        "2",
        "--hidden",
        "16",
        "--timesteps",
        "2",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--train-limit",
        "32",
        "--test-limit",
        "16",
        "--samples",
        "8",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let input = |f: &str| {
        Network::load(&out.join(f))
            .unwrap_or_else(|e| panic!("{e}"))
            .desc
            .input
            .shape
    };
    let searched = input("search/best_arch.json");
    let trained = input("train/network.json");
    assert_eq!(searched, trained, "search and training disagree");
    assert_eq!(trained, [2, NMNIST_FRAME_SIDE, NMNIST_FRAME_SIDE]);
}
