//! Lowering + validation + every pass on a SNASNet CIFAR-100-size network (about 20.6 M parameters,
//! snasnet.md §3.4), with the peak heap measured against the size of the weights.
//!
//! `cargo bench -p snnc-compiler --bench pipeline`. Target: under 2 s, peak under 2x the weights.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use snnc_compiler::arch::snasnet::{CellGenotype, SnasnetConfig, snasnet_network};
use snnc_compiler::arch::{InputEncoding, InputGeometry};
use snnc_compiler::network::{Network, NetworkDesc, Weights};
use snnc_compiler::synth;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The system allocator, counting live bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to the system allocator with the caller's arguments; the counters
// only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which `System.alloc` shares.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size > layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn cifar100_network() -> Network {
    let input = InputGeometry {
        channels: 3,
        side: 32,
        encoding: InputEncoding::Direct,
        num_classes: 100,
    };
    let cfg = SnasnetConfig {
        vote_group: 5,
        // Shared statistics, as the seed code has: every BN after a conv folds into it.
        per_step_bn: false,
        ..SnasnetConfig::new(input, 128)
    };
    let genotype: CellGenotype = "0302 0030 3003 0000".parse().expect("valid genotype");
    let desc: NetworkDesc = snasnet_network(&genotype, &cfg).expect("valid settings");
    desc.validate().expect("the builder makes valid networks")
}

fn pipeline(net: &Network, weights: Weights) -> snnc_compiler::ir::Module {
    snnc_compiler::driver::compile(net, weights, true, true).expect("compiles")
}

fn bench(c: &mut Criterion) {
    let net = cifar100_network();
    let weights = synth::weights(&net, 1);
    let params: usize = weights.tensors.values().map(|t| t.data.len()).sum();
    let weight_bytes = params * 4;

    // Peak heap of one run, the weights included (they move into the module), against their size.
    let w = weights.clone();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let start = Instant::now();
    let m = pipeline(&net, w);
    let elapsed = start.elapsed();
    let peak = PEAK.load(Ordering::Relaxed);
    // Everything else alive (the network, the kept copy of the weights) is baseline, minus the
    // moved weights that the run itself holds.
    let baseline = before - weight_bytes;
    println!(
        "snasnet_cifar100: {:.2} M parameters ({:.1} MB), one run {:.0} ms, peak heap during the run {:.1} MB = {:.2}x the weights; module: {} populations, {} projections, {:.2} M weights",
        params as f64 / 1e6,
        weight_bytes as f64 / 1e6,
        elapsed.as_secs_f64() * 1e3,
        (peak - baseline) as f64 / 1e6,
        (peak - baseline) as f64 / weight_bytes as f64,
        m.populations.len(),
        m.projections.len(),
        m.weight_count() as f64 / 1e6
    );
    drop(m);

    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("snasnet_cifar100 lower+validate+passes", |b| {
        b.iter_batched(
            || weights.clone(),
            |w| pipeline(&net, w),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("snasnet_cifar100 lower only", |b| {
        b.iter_batched(
            || weights.clone(),
            |w| snnc_compiler::lower::lower(&net, w).expect("lowers"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
