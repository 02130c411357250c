//! Benchmark: the event-driven runtime vs the dense reference interpreter on trained networks,
//! at batch 1 and over many samples, on 1 and 2 threads, with measured firing rates; and a sweep
//! of input event rates on an event-frame network showing time linear in events.
//!
//! ```text
//! cargo run --release -p snnc-runtime --example bench -- \
//!     --net conv-snn=RUN_DIR:fashion-mnist:DATA_DIR \
//!     --net nmnist=RUN_DIR:nmnist:DATA_DIR --sweep nmnist [--samples 256] [--reference-samples 256]
//! ```
//! RUN_DIR is a training output directory or a `.snnir`. Prints markdown tables. `--per-neuron`
//! gives every neuron parameter a per-neuron tensor of its own value: the same network, the
//! same results, through the per-neuron kernels.

use rayon::prelude::*;
use snnc_compiler::ir::{Module, Param, PopulationKind, Tensor};
use snnc_compiler::reference::run_module;
use snnc_datasets::{DatasetName, Split};
use snnc_runtime::data::DatasetInputs;
use snnc_runtime::{Inputs, Plan, State, Tally};
use std::path::PathBuf;
use std::time::Instant;

struct Net {
    label: String,
    path: PathBuf,
    dataset: DatasetName,
    data: PathBuf,
}

struct Args {
    nets: Vec<Net>,
    samples: usize,
    reference_samples: usize,
    sweep: Option<String>,
    repeats: usize,
    /// Write each network's inputs here (`LABEL.f32`, raw little-endian, samples x values) for
    /// `runtime/benches/onnxruntime_bench.py`.
    dump: Option<PathBuf>,
    per_neuron: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        nets: Vec::new(),
        samples: 256,
        reference_samples: 256,
        sweep: None,
        repeats: 3,
        dump: None,
        per_neuron: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--net" => {
                let v = value()?;
                let (label, rest) = v
                    .split_once('=')
                    .ok_or("--net LABEL=PATH:DATASET:DATA_DIR")?;
                let parts: Vec<&str> = rest.splitn(3, ':').collect();
                let [path, dataset, data] = parts[..] else {
                    return Err("--net LABEL=PATH:DATASET:DATA_DIR".into());
                };
                a.nets.push(Net {
                    label: label.into(),
                    path: path.into(),
                    dataset: dataset.parse().map_err(|e| format!("{e}"))?,
                    data: data.into(),
                });
            }
            "--samples" => a.samples = value()?.parse().map_err(|e| format!("--samples: {e}"))?,
            "--reference-samples" => {
                a.reference_samples = value()?
                    .parse()
                    .map_err(|e| format!("--reference-samples: {e}"))?
            }
            "--repeats" => a.repeats = value()?.parse().map_err(|e| format!("--repeats: {e}"))?,
            "--sweep" => a.sweep = Some(value()?),
            "--dump" => a.dump = Some(value()?.into()),
            "--per-neuron" => a.per_neuron = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Every uniform neuron parameter of `m` made a per-neuron tensor repeating its value.
fn every_parameter_per_neuron(m: &mut Module) {
    let Module {
        populations,
        tensors,
        ..
    } = m;
    for (_, p) in populations.iter_mut() {
        let n = p.shape.numel();
        let shape = p.shape.dims().to_vec();
        let mut each = |param: &mut Param| {
            if let Param::Uniform(v) = *param {
                let t = Tensor::new(
                    format!("{}.per_neuron", p.name),
                    shape.clone(),
                    vec![v as f32; n],
                );
                *param = Param::PerNeuron(tensors.push(t));
            }
        };
        match &mut p.kind {
            PopulationKind::Spiking(s) => {
                for param in [&mut s.beta, &mut s.gain, &mut s.threshold, &mut s.v_reset] {
                    each(param);
                }
                s.v_leak
                    .iter_mut()
                    .chain(s.v_min.iter_mut())
                    .for_each(&mut each);
                if let Some(syn) = &mut s.synapse {
                    each(&mut syn.alpha);
                    each(&mut syn.w_in);
                }
            }
            PopulationKind::Readout(r) => {
                if let Some(li) = &mut r.integrator {
                    for param in [&mut li.beta, &mut li.gain, &mut li.rest] {
                        each(param);
                    }
                    if let Some(syn) = &mut li.synapse {
                        each(&mut syn.alpha);
                        each(&mut syn.w_in);
                    }
                }
            }
            _ => {}
        }
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

/// Best of `repeats` wall-clock runs of `f`, in seconds.
fn best(repeats: usize, mut f: impl FnMut()) -> f64 {
    (0..repeats.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// On-CPU time of the calling thread in seconds (`CLOCK_THREAD_CPUTIME_ID`): on a machine
/// shared with other jobs it leaves out the time this thread waited for a core.
fn thread_cpu() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: plain syscall wrapper writing into a timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// Seconds `f` took on this thread: on-CPU time where the OS reports it, else wall clock.
fn single_thread_time(f: impl FnOnce()) -> f64 {
    let (c0, t0) = (thread_cpu(), Instant::now());
    f();
    match (c0, thread_cpu()) {
        (Some(a), Some(b)) => b - a,
        _ => t0.elapsed().as_secs_f64(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runtime at batch 1: samples one after another on one thread, one state; median per sample
/// of on-CPU time and of wall clock.
fn runtime_batch1(plan: &Plan, x: &[Vec<f32>]) -> (f64, f64) {
    let mut st = State::new(plan);
    for (i, s) in x.iter().enumerate().take(8) {
        plan.run_sample(&mut st, s, i, false).expect("runs");
    }
    let (cpu, wall): (Vec<f64>, Vec<f64>) = x
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let t = Instant::now();
            let cpu = single_thread_time(|| {
                std::hint::black_box(plan.run_sample(&mut st, s, i, false).expect("runs"));
            });
            (cpu, t.elapsed().as_secs_f64())
        })
        .unzip();
    (median(cpu), median(wall))
}

/// The reference interpreter at batch 1: one sample per call; median per sample.
fn reference_batch1(m: &Module, x: &[Vec<f32>]) -> f64 {
    median(
        x.iter()
            .map(|s| {
                single_thread_time(|| {
                    std::hint::black_box(run_module(m, std::slice::from_ref(s)).expect("runs"));
                })
            })
            .collect(),
    )
}

/// The reference interpreter over a batch split across the current pool's threads.
fn reference_batch(m: &Module, x: &[Vec<f32>], threads: usize) {
    let chunk = x.len().div_ceil(threads.max(1)).max(1);
    x.par_chunks(chunk).for_each(|c| {
        std::hint::black_box(run_module(m, c).expect("runs"));
    });
}

fn us(s: f64) -> String {
    format!("{:.1}", s * 1e6)
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "| network | T | samples | accuracy | firing rate | spikes/sample | input events/sample | SOPs/sample | MACs/sample | state B (budget) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut timing_rows = Vec::new();
    let mut sweep_plan = None;
    for net in &args.nets {
        let mut m =
            snnc_runtime::load::load(&net.path).unwrap_or_else(|e| panic!("{}: {e}", net.label));
        if args.per_neuron {
            every_parameter_per_neuron(&mut m);
        }
        let plan = Plan::new(&m).unwrap_or_else(|e| panic!("{}: {e}", net.label));
        let inputs = DatasetInputs::load(
            &plan,
            net.dataset,
            &net.data,
            Split::Test,
            Some(args.samples),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", net.label));
        let x: Vec<Vec<f32>> = (0..inputs.len())
            .map(|i| {
                let mut v = Vec::new();
                inputs.fill(i, &mut v).expect("sample");
                v
            })
            .collect();
        let profile = pool(1).install(|| plan.profile(&x, None)).expect("runs");
        let tally: &Tally = &profile.tally;
        let n = tally.samples as f64;
        let total = tally.total();
        let neuron_steps: usize = plan
            .layers
            .iter()
            .map(|&p| plan.pops[p].numel() * plan.timesteps)
            .sum();
        let input_events = tally.population(plan.input).events as f64 / n;
        let mut st = State::new(&plan);
        for (i, s) in x.iter().enumerate() {
            plan.run_sample(&mut st, s, i, false).expect("runs");
        }
        println!(
            "| {} | {} | {} | {:.1}% | {:.2}% | {:.0} | {:.0} | {:.0} | {:.0} | {} ({}) |",
            net.label,
            plan.timesteps,
            x.len(),
            100.0 * profile.accuracy(inputs.labels()).unwrap_or(0.0),
            100.0 * total.spikes as f64 / n / neuron_steps as f64,
            total.spikes as f64 / n,
            input_events,
            total.sops as f64 / n,
            total.macs as f64 / n,
            st.bytes(),
            plan.state_budget()
        );

        let (rt1, rt1_wall) = runtime_batch1(&plan, &x);
        if let Some(dir) = &args.dump {
            std::fs::create_dir_all(dir).expect("dump folder");
            let bytes: Vec<u8> = x.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(dir.join(format!("{}.f32", net.label)), bytes).expect("dump written");
        }
        let (one, two) = (pool(1), pool(2));
        let batch = |p: &rayon::ThreadPool| {
            p.install(|| {
                std::hint::black_box(plan.run_batch(&x, false, None).expect("runs"));
            })
        };
        let rt_b1 = best(args.repeats, || batch(&one)) / n;
        let rt_b2 = best(args.repeats, || batch(&two)) / n;
        let rx = &x[..args.reference_samples.min(x.len())];
        let rn = rx.len() as f64;
        let ref1 = reference_batch1(&m, &rx[..rx.len().min(32)]);
        let ref_b1 = best(1, || one.install(|| reference_batch(&m, rx, 1))) / rn;
        let ref_b2 = best(1, || two.install(|| reference_batch(&m, rx, 2))) / rn;
        timing_rows.push(format!(
            "| {} | {} ({} wall) | {} | {:.1}x | {} | {} | {:.1}x | {} | {} | {:.1}x |",
            net.label,
            us(rt1),
            us(rt1_wall),
            us(ref1),
            ref1 / rt1,
            us(rt_b1),
            us(ref_b1),
            ref_b1 / rt_b1,
            us(rt_b2),
            us(ref_b2),
            ref_b2 / rt_b2
        ));
        if args.sweep.as_deref() == Some(net.label.as_str()) {
            sweep_plan = Some((net.label.clone(), plan));
        }
    }
    println!();
    println!(
        "Time per sample in us (runtime vs dense reference interpreter). Batch 1: median on-CPU time per sample, one thread. Batch: wall clock over {} samples (reference: {}), best of {} (reference: 1):",
        args.samples, args.reference_samples, args.repeats
    );
    println!();
    println!(
        "| network | runtime batch 1 | reference batch 1 | speed-up | runtime batch, 1 thread | reference, 1 thread | speed-up | runtime batch, 2 threads | reference, 2 threads | speed-up |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in timing_rows {
        println!("{r}");
    }
    if let Some((label, plan)) = sweep_plan {
        sweep(&label, &plan, args.repeats);
    }
}

/// Synthetic event frames at a range of input densities: time against events, least squares.
fn sweep(label: &str, plan: &Plan, repeats: usize) {
    if !plan.event_frames() {
        eprintln!("--sweep {label}: the network does not take event frames; skipped");
        return;
    }
    let samples = 32;
    let numel = plan.input_len();
    println!();
    println!(
        "Input event-rate sweep on {label} ({samples} synthetic samples per rate, batch 1, 1 thread, on-CPU time, best of {repeats}):"
    );
    println!();
    println!(
        "| input density | input events/sample | spikes/sample | events/sample | synaptic ops/sample | us/sample | ns/event |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut points = Vec::new();
    for density in [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3] {
        let mut rng = snnc_compiler::synth::Rng::new(7);
        let x: Vec<Vec<f32>> = (0..samples)
            .map(|_| {
                (0..numel)
                    .map(|_| if rng.unit() < density { 1.0 } else { 0.0 })
                    .collect()
            })
            .collect();
        let profile = pool(1).install(|| plan.profile(&x, None)).expect("runs");
        let total = profile.tally.total();
        let n = samples as f64;
        let input = profile.tally.population(plan.input).events as f64 / n;
        let events = total.events as f64 / n;
        let ops = (total.sops + total.macs + total.pooling_ops + total.affine_ops + total.copies)
            as f64
            / n;
        let mut st = State::new(plan);
        let t = (0..repeats.max(1))
            .map(|_| {
                single_thread_time(|| {
                    for (i, s) in x.iter().enumerate() {
                        std::hint::black_box(plan.run_sample(&mut st, s, i, false).expect("runs"));
                    }
                })
            })
            .fold(f64::INFINITY, f64::min)
            / n;
        println!(
            "| {:.1}% | {input:.0} | {:.0} | {events:.0} | {ops:.0} | {} | {:.1} |",
            100.0 * density,
            total.spikes as f64 / n,
            us(t),
            t * 1e9 / events.max(1.0)
        );
        points.push((events, ops, t));
    }
    let fit = |xs: &[(f64, f64)]| {
        let n = xs.len() as f64;
        let (mx, my) = (
            xs.iter().map(|p| p.0).sum::<f64>() / n,
            xs.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let sxy: f64 = xs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = xs.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let syy: f64 = xs.iter().map(|p| (p.1 - my).powi(2)).sum();
        let slope = sxy / sxx;
        (slope, my - slope * mx, sxy * sxy / (sxx * syy))
    };
    let (s1, i1, r1) = fit(&points.iter().map(|p| (p.0, p.2)).collect::<Vec<_>>());
    let (s2, i2, r2) = fit(&points.iter().map(|p| (p.1, p.2)).collect::<Vec<_>>());
    println!();
    println!(
        "time = {:.1} us + {:.2} ns x events (R^2 = {r1:.4}); time = {:.1} us + {:.3} ns x synaptic ops (R^2 = {r2:.4})",
        i1 * 1e6,
        s1 * 1e9,
        i2 * 1e6,
        s2 * 1e9
    );
}
