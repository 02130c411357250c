//! By hand, not in CI: the spread of one genotype's SNASNet score over init seeds and input
//! batches on a real dataset, to compare with bench/snasnet_score_torch.py (whose random streams
//! differ from snnc's, so only score distributions can be compared):
//!
//! ```sh
//! SNAS_DATASET=cifar10 SNAS_DATA_DIR=/path/to/cifar-10-partial SNAS_GENO="0002 0000 0000 0000" \
//!   SNAS_WIDTH=16 SNAS_BATCH=256 SNAS_SEEDS=4 \
//!   cargo test --release -p snnc-search --test it snasnet_seed_spread -- --ignored --nocapture
//! ```

use snnc_datasets::transform::{FrameSplit, Rng};
use snnc_datasets::{DatasetName, Split};
use snnc_search::arch::snasnet::{CellGenotype, SnasnetConfig, snasnet_network};
use snnc_search::data::{Augment, InputPipeline};
use snnc_search::device::ComputeDevice;
use snnc_search::snasnet::kernel::KernelKind;
use snnc_search::snasnet::score::{PassState, ScoreOptions, score_genotype};

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[test]
#[ignore = "needs a dataset on disk; run by hand"]
fn score_spread_over_init_seeds() {
    let dir = std::env::var("SNAS_DATA_DIR")
        .expect("set SNAS_DATA_DIR to the dataset's folder (see the module docs)");
    let name: DatasetName = var("SNAS_DATASET", "fashion-mnist")
        .parse()
        .expect("dataset");
    let geno: CellGenotype = var("SNAS_GENO", "0302 0030 3003 0000")
        .parse()
        .expect("genotype");
    let width: usize = var("SNAS_WIDTH", "16").parse().expect("width");
    let batch: usize = var("SNAS_BATCH", "128").parse().expect("batch");
    let seeds: u64 = var("SNAS_SEEDS", "4").parse().expect("seeds");
    let data = snnc_datasets::load(name, std::path::Path::new(&dir), Split::Train).expect("data");
    let mut cfg = SnasnetConfig::new(
        snnc_datasets::network_input(name, snnc_datasets::SideRule::Native),
        width,
    );
    cfg.timesteps = 5;
    let net = snasnet_network(&geno, &cfg)
        .expect("network")
        .validate()
        .expect("valid");
    let pipeline = InputPipeline::new(&net, &data, Augment::default_for(name), FrameSplit::ByCount)
        .expect("pipeline");
    let mut scores = Vec::new();
    for seed in 0..seeds {
        let start = std::time::Instant::now();
        let mut rng = Rng::with_stream(1000 + seed, 0);
        let inputs: Vec<_> = (0..2)
            .map(|_| {
                let mut order: Vec<usize> = (0..data.len()).collect();
                rng.shuffle(&mut order);
                order.truncate(batch);
                pipeline
                    .batch(&data, &order, Some(&mut rng), &ComputeDevice::cpu())
                    .expect("batch")
                    .0
            })
            .collect();
        let s = score_genotype(
            &geno,
            &cfg,
            seed,
            &inputs,
            &ScoreOptions {
                kind: KernelKind::Sahd,
                state: PassState::Reset,
                ..ScoreOptions::default()
            },
            &mut rng,
        )
        .expect("score");
        println!(
            "{name} {geno} w{width} B{batch} init seed {seed}: score {:.3} per pass {:?}, {:.2} s (kernel {:.2} s)",
            s.score,
            s.per_pass,
            start.elapsed().as_secs_f64(),
            s.kernel_seconds
        );
        scores.push(s.score);
    }
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64).sqrt();
    println!("mean {mean:.3} sd {sd:.3}");
}
