//! The pipeline's four stages (search, train, export, run): each one's settings, inputs and
//! body, calling the same library functions (and CLI helpers) the single-stage subcommands use.

use super::PipelineArgs;
use super::budget::{Budget, Method};
use super::stamp;
use anyhow::{Context, anyhow, bail};
use snnc_compiler::deploy::{self, ExportSettings, IR_FILE, WeightsSource};
use snnc_compiler::emit::onnx::SpikeOutputs;
use snnc_compiler::network::{Network, NetworkDesc, Weights};
use snnc_datasets::Split;
use snnc_datasets::transform::FrameSplit;
use snnc_datasets::{AUTOSNN_SIDE, SideRule, network_input};
use snnc_runtime::dataset_run::{ReportFiles, RunSettings};
use snnc_search::arch::autosnn::{AutoSnnArch, AutoSnnConfig, autosnn_network};
use snnc_search::arch::snasnet::{CellGenotype, SnasnetConfig, snasnet_network};
use snnc_search::data::Augment;
use snnc_search::init::InitScheme;
use snnc_search::model::ConvImpl;
use snnc_search::optim::OptimizerKind;
use snnc_search::snasnet::search::{SearchFiles, SearchSettings, read_records};
use snnc_search::train::{LossKind, TrainConfig, TrainOutcome};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Stage names, in order; each has the folder `DIR/<name>`.
pub const STAGES: [&str; 4] = ["search", "train", "export", "run"];

/// What every stage may read.
pub struct Ctx<'a> {
    pub args: &'a PipelineArgs,
    pub budget: &'a Budget,
    /// Identity of the dataset folder (see [`stamp::fingerprint_dir`]).
    pub data_fingerprint: String,
    /// Set by Ctrl-C: stages that can stop cleanly (training) poll it.
    pub stop: Arc<AtomicBool>,
    /// True while a stage that polls `stop` runs; otherwise Ctrl-C quits at once (every other
    /// stage is redone or resumed from its log on the next run).
    pub graceful: Arc<AtomicBool>,
    pub show_progress: bool,
}

impl Ctx<'_> {
    pub fn dir(&self, stage: &str) -> PathBuf {
        self.args.out.join(stage)
    }
}

/// A stage's settings and input files, from which its key is made.
pub struct Plan {
    pub settings: serde_json::Value,
    pub inputs: BTreeMap<String, String>,
}

/// Outcome of a stage body that finished: the files it wrote.
pub type Outputs = Vec<PathBuf>;

/// Inputs taken from an earlier stage's stamp: its outputs `names` (relative to its folder),
/// keyed `stage/name`.
fn inputs_from(prev: &stamp::Stamp, names: &[&str]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for n in names {
        let h = prev.outputs.get(*n).ok_or_else(|| {
            anyhow!(
                "stage {} did not record {n}; delete its stage.json to redo it",
                prev.stage
            )
        })?;
        out.insert(format!("{}/{n}", prev.stage), h.clone());
    }
    Ok(out)
}

/// Remove and recreate a stage folder.
fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

// ---------------------------------------------------------------- search

pub fn search_plan(cx: &Ctx) -> Plan {
    let search = match cx.args.search {
        Method::Snasnet => serde_json::to_value(&cx.budget.snasnet),
        Method::Autosnn => serde_json::to_value(&cx.budget.autosnn),
    }
    .expect("settings serialise");
    Plan {
        settings: serde_json::json!({
            "method": cx.args.search.name(),
            "dataset": cx.args.data.dataset.to_string(),
            "data": cx.data_fingerprint,
            "search": search,
        }),
        inputs: BTreeMap::new(),
    }
}

pub fn search(cx: &Ctx) -> anyhow::Result<Outputs> {
    let dir = cx.dir("search");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let data = snnc_datasets::load(cx.args.data.dataset, &cx.args.data.data_dir, Split::Train)
        .with_context(|| format!("search: loading {}", cx.args.data.data_dir.display()))?;
    match cx.args.search {
        Method::Snasnet => snasnet(cx, &dir, &data),
        Method::Autosnn => autosnn(cx, &dir, &data),
    }
}

fn snasnet(cx: &Ctx, dir: &Path, data: &snnc_datasets::Dataset) -> anyhow::Result<Outputs> {
    let s = &cx.budget.snasnet;
    let files = SearchFiles::in_dir(dir);
    // Resume a search with the same settings (its log is appended to candidate by candidate);
    // start afresh if the folder holds another search or more candidates than asked for.
    let reusable = std::fs::read_to_string(&files.settings)
        .ok()
        .and_then(|t| serde_json::from_str::<SearchSettings>(&t).ok())
        .is_some_and(|old| {
            SearchSettings {
                candidates: s.candidates,
                ..old
            } == *s
        })
        && read_records(&files.candidates).is_ok_and(|r| r.len() <= s.candidates);
    if !reusable {
        if files.settings.exists() {
            eprintln!("  the folder holds a search with other settings: starting afresh");
        }
        fresh_dir(dir)?;
    }
    let geometry = network_input(cx.args.data.dataset, SideRule::Native);
    let records = crate::cli::search::run_snasnet_search(
        dir,
        s,
        geometry,
        data,
        Augment::default_for(cx.args.data.dataset),
        cx.show_progress,
    )?;
    let Some(best) = snnc_search::snasnet::search::best(&records) else {
        bail!(
            "SNASNet search in {}: no candidate got a finite score",
            dir.display()
        );
    };
    eprintln!(
        "  {} candidates scored; best #{} `{}` (score {:.3})",
        records.len(),
        best.index,
        best.genotype,
        best.score
    );
    Ok(vec![
        files.settings,
        files.candidates,
        files.best_arch,
        files.best_genotype,
    ])
}

fn autosnn(cx: &Ctx, dir: &Path, data: &snnc_datasets::Dataset) -> anyhow::Result<Outputs> {
    use snnc_search::autosnn::search::{AutoSnnSearchSettings, SearchOutputs, run_search};
    let s = &cx.budget.autosnn;
    let outputs = SearchOutputs {
        dir: dir.to_path_buf(),
    };
    let supernet = dir.join("supernet");
    let keep = dir.with_file_name("search.supernet.keep");
    // A run stopped between moving the supernet aside and back left it here: put it back.
    if keep.is_dir() {
        if supernet.exists() {
            std::fs::remove_dir_all(&supernet)
                .with_context(|| format!("removing {}", supernet.display()))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::rename(&keep, &supernet)
            .with_context(|| format!("restoring {}", supernet.display()))?;
    }
    let same_search = std::fs::read_to_string(outputs.settings())
        .ok()
        .and_then(|t| serde_json::from_str::<AutoSnnSearchSettings>(&t).ok())
        .is_some_and(|old| old == *s);
    if !same_search {
        // Another search: keep a finished supernet trained with the same settings (its weights
        // and score cache are what costs), drop everything else.
        let same_supernet = std::fs::read_to_string(supernet.join("supernet.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| {
                v.get("settings") == Some(&serde_json::to_value(&s.supernet).expect("serialises"))
            });
        if same_supernet {
            std::fs::rename(&supernet, &keep)
                .with_context(|| format!("moving {} aside", supernet.display()))?;
        }
        fresh_dir(dir)?;
        if same_supernet {
            std::fs::rename(&keep, &supernet)
                .with_context(|| format!("restoring {}", supernet.display()))?;
        }
    }
    cx.graceful.store(true, Ordering::SeqCst);
    let summary = run_search(
        s,
        cx.args.data.dataset,
        data,
        dir,
        None,
        &cx.stop,
        cx.show_progress,
    )
    .map_err(|e| anyhow!(e))
    .with_context(|| format!("AutoSNN search in {}", dir.display()));
    cx.graceful.store(false, Ordering::SeqCst);
    let Some(summary) = summary? else {
        interrupted("search");
    };
    eprintln!(
        "  {} architectures evaluated; best {} (held-out accuracy {:.2}%, {:.0} spikes/sample)",
        summary.evaluations,
        summary.best_blocks,
        100.0 * summary.best.scores.accuracy,
        summary.best.scores.spikes
    );
    let outputs = SearchOutputs {
        dir: dir.to_path_buf(),
    };
    Ok(outputs.all().into_iter().filter(|p| p.is_file()).collect())
}

/// Tell the user how to go on after Ctrl-C stopped a stage cleanly, and exit.
pub fn interrupted(stage: &str) -> ! {
    eprintln!("interrupted during {stage}; run the same command again to resume");
    std::process::exit(130);
}

// ---------------------------------------------------------------- train

/// The training configuration of the pipeline's budget.
fn train_config(cx: &Ctx, init: InitScheme, loss: LossKind) -> anyhow::Result<TrainConfig> {
    let t = &cx.budget.train;
    let (momentum, weight_decay) = if t.optimizer == "sgd" {
        (0.9, 5e-4)
    } else {
        (0.9, 0.0)
    };
    Ok(TrainConfig {
        dataset: cx.args.data.dataset,
        data_dir: cx.args.data.data_dir.clone(),
        epochs: t.epochs,
        batch_size: t.batch_size,
        seed: t.seed,
        lr: t.lr,
        eta_min_ratio: 0.01,
        cosine: t.cosine,
        optimizer: OptimizerKind::parse(&t.optimizer, momentum, weight_decay)
            .map_err(anyhow::Error::msg)?,
        loss,
        init,
        augment: Augment::default_for(cx.args.data.dataset),
        frame_split: FrameSplit::ByCount,
        train_limit: t.train_limit,
        test_limit: t.test_limit,
        conv: ConvImpl::default(),
        device: crate::cli::compute_device(),
    })
}

pub fn train_plan(cx: &Ctx, search: &stamp::Stamp) -> anyhow::Result<Plan> {
    Ok(Plan {
        settings: serde_json::json!({
            "method": cx.args.search.name(),
            "data": cx.data_fingerprint,
            "train": cx.budget.train,
            "data_dir": cx.args.data.data_dir,
        }),
        inputs: inputs_from(search, &["best_arch.json"])?,
    })
}

/// The searched architecture rebuilt at the training width, hidden size and T.
fn training_arch(cx: &Ctx, best_arch: &Path) -> anyhow::Result<NetworkDesc> {
    let found = Network::load(best_arch)?;
    let meta = &found.desc.meta;
    let field = |k: &str| {
        meta.get(k).and_then(|v| v.as_str()).ok_or_else(|| {
            anyhow!(
                "{}: meta.{k} is missing; was it written by snnc search?",
                best_arch.display()
            )
        })
    };
    let t = &cx.budget.train;
    let desc = match cx.args.search {
        Method::Snasnet => {
            let geno: CellGenotype = field("genotype")?
                .parse()
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{}: meta.genotype", best_arch.display()))?;
            let mut cfg = SnasnetConfig::new(
                network_input(cx.args.data.dataset, SideRule::Native),
                t.width,
            );
            cfg.timesteps = t.timesteps;
            cfg.hidden = t.hidden;
            snasnet_network(&geno, &cfg).map_err(anyhow::Error::msg)?
        }
        Method::Autosnn => {
            let arch: AutoSnnArch = field("blocks")?
                .parse()
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{}: meta.blocks", best_arch.display()))?;
            let mut cfg =
                AutoSnnConfig::new(network_input(cx.args.data.dataset, AUTOSNN_SIDE), t.width);
            cfg.timesteps = t.timesteps;
            autosnn_network(&arch, &cfg).map_err(anyhow::Error::msg)?
        }
    };
    Ok(desc)
}

pub fn train(cx: &Ctx, plan: &Plan) -> anyhow::Result<Outputs> {
    let dir = cx.dir("train");
    let desc = training_arch(cx, &cx.dir("search").join("best_arch.json"))?;
    let net = desc
        .clone()
        .validate()
        .context("the training architecture is invalid (a bug in snnc)")?;
    let init = crate::cli::train::default_init(&net, &dir.join("arch.json"))?;
    let cfg = train_config(cx, init, LossKind::for_readout(net.desc.readout.kind))?;

    // An interrupted training of the same stage resumes from its checkpoint, and so does one
    // asked for more epochs (the library checks everything else). A finished one is redone: the
    // stage runs because an output went missing or changed, or an earlier stage ran.
    let mut resume_settings = plan.settings.clone();
    resume_settings["train"]["epochs"] = serde_json::Value::Null;
    let resume_key = stamp::key(&resume_settings, &plan.inputs);
    let pending = dir.join("pending.json");
    let checkpoint_epoch = std::fs::read_to_string(dir.join("checkpoint").join("state.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("epoch").and_then(|e| e.as_u64()));
    let same = std::fs::read_to_string(&pending)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("resume_key").and_then(|k| k.as_str()) == Some(&resume_key));
    let resume = same && checkpoint_epoch.is_some_and(|e| (e as usize) < cfg.epochs);
    if !resume {
        fresh_dir(&dir)?;
        let text = serde_json::to_string_pretty(&serde_json::json!({ "resume_key": resume_key }))?;
        snnc_compiler::atomic::write(&pending, text.as_bytes())
            .with_context(|| format!("writing {}", pending.display()))?;
    }
    let arch = dir.join("arch.json");
    snnc_compiler::atomic::write(&arch, (desc.to_json_pretty() + "\n").as_bytes())
        .with_context(|| format!("writing {}", arch.display()))?;
    let params = crate::cli::train::parameter_count(&net);
    eprintln!(
        "  training `{}` ({params} parameters) for {} epoch(s), T = {}, batch {}{}",
        net.desc.name,
        cfg.epochs,
        net.desc.timesteps,
        cfg.batch_size,
        if resume { ", resuming" } else { "" }
    );
    cx.graceful.store(true, Ordering::SeqCst);
    let outcome = snnc_search::train::train(
        net,
        &Weights::default(),
        &cfg,
        &dir,
        resume,
        &cx.stop,
        cx.show_progress,
    );
    cx.graceful.store(false, Ordering::SeqCst);
    match outcome.with_context(|| format!("training in {}", dir.display()))? {
        TrainOutcome::Finished { test_accuracy } => {
            eprintln!("  test accuracy {:.2}%", 100.0 * test_accuracy)
        }
        TrainOutcome::Interrupted { .. } => interrupted("train"),
    }
    Ok(vec![
        arch,
        dir.join("network.json"),
        dir.join("weights.safetensors"),
        dir.join("metrics.jsonl"),
    ])
}

// ---------------------------------------------------------------- export

/// What the export stage exports: the trained network, optimised, with spike counts only.
fn export_settings(cx: &Ctx) -> ExportSettings {
    ExportSettings {
        input: cx.dir("train"),
        out: cx.dir("export"),
        weights: WeightsSource::Beside,
        optimise: true,
        spikes: SpikeOutputs::None,
    }
}

/// `--spikes` as the stamp records it.
fn spikes_key(spikes: &SpikeOutputs) -> String {
    match spikes {
        SpikeOutputs::None => "none".into(),
        SpikeOutputs::All => "all".into(),
        SpikeOutputs::Layers(names) => names.join(","),
    }
}

pub fn export_plan(cx: &Ctx, train: &stamp::Stamp) -> anyhow::Result<Plan> {
    let s = export_settings(cx);
    Ok(Plan {
        settings: serde_json::json!({ "optimised": s.optimise, "spikes": spikes_key(&s.spikes) }),
        inputs: inputs_from(train, &["network.json", "weights.safetensors"])?,
    })
}

pub fn export(cx: &Ctx) -> anyhow::Result<Outputs> {
    let settings = export_settings(cx);
    let dir = &settings.out;
    fresh_dir(dir)?;
    let exported = deploy::export(&settings).context("export")?;
    let ir = dir.join(IR_FILE);
    let module = snnc_runtime::load::load(&ir)?;
    let plan = snnc_runtime::Plan::new(&module).with_context(|| format!("{}", ir.display()))?;
    let plan_file = dir.join("plan.json");
    let text = serde_json::to_string_pretty(&describe_plan(&plan))? + "\n";
    snnc_compiler::atomic::write(&plan_file, text.as_bytes())
        .with_context(|| format!("writing {}", plan_file.display()))?;
    let mut out = exported.files;
    out.push(plan_file);
    Ok(out)
}

/// The runtime plan as people read it: populations with their layouts and ring depths,
/// projections, evaluation order and the state budget.
fn describe_plan(p: &snnc_runtime::Plan) -> serde_json::Value {
    let name = |i: usize| p.pops[i].name.clone();
    serde_json::json!({
        "module": p.name,
        "timesteps": p.timesteps,
        "classes": p.num_classes,
        "neurons": p.neurons(),
        "state_budget_bytes": p.state_budget(),
        "input_values_per_sample": p.input_len(),
        "event_frames": p.event_frames(),
        "kernels": format!("{:?}", p.simd),
        "populations": p.pops.iter().map(|q| serde_json::json!({
            "name": q.name,
            "handle": q.handle.to_string(),
            "kind": q.kind_name(),
            "neurons": q.numel(),
            "constant": q.constant,
            "ring_depth": q.depth,
        })).collect::<Vec<_>>(),
        "projections": p.projs.iter().map(|e| serde_json::json!({
            "handle": e.handle.to_string(),
            "kind": e.kind,
            "source": name(e.source),
            "target": name(e.target),
            "delay": e.delay,
            "events": e.binary,
            "hoisted": e.hoisted,
        })).collect::<Vec<_>>(),
        "prologue": p.prologue.iter().map(|&i| name(i)).collect::<Vec<_>>(),
        "schedule": p.schedule.iter().map(|&i| name(i)).collect::<Vec<_>>(),
        "layers": p.layer_names(),
    })
}

// ---------------------------------------------------------------- run

/// What the run stage runs: the exported module on the test split, every report file in
/// `DIR/run`.
fn run_settings(cx: &Ctx) -> RunSettings {
    let dir = cx.dir("run");
    RunSettings {
        compiled: cx.dir("export").join(IR_FILE),
        dataset: cx.args.data.dataset,
        data_dir: cx.args.data.data_dir.clone(),
        split: Split::Test,
        samples: cx.budget.samples,
        target: cx.args.target.target.clone(),
        threads: None,
        files: ReportFiles {
            json: Some(dir.join("report.json")),
            csv_dir: Some(dir.join("tables")),
            svg: Some(dir.join("report.svg")),
        },
    }
}

pub fn run_plan(cx: &Ctx, export: &stamp::Stamp) -> anyhow::Result<Plan> {
    let s = run_settings(cx);
    // A target given as a file is identified by its contents, a built-in one by its name.
    let target_file = Path::new(&s.target);
    let target_hash = target_file
        .is_file()
        .then(|| stamp::hash_file(target_file))
        .flatten();
    let mut inputs = inputs_from(export, &[IR_FILE])?;
    let sidecar = "network.safetensors";
    if export.outputs.contains_key(sidecar) {
        inputs.extend(inputs_from(export, &[sidecar])?);
    }
    Ok(Plan {
        settings: serde_json::json!({
            "target": s.target,
            "target_file": target_hash,
            "samples": s.samples,
            "split": s.split.to_string(),
            "dataset": s.dataset.to_string(),
            "data": cx.data_fingerprint,
        }),
        inputs,
    })
}

pub fn run(cx: &Ctx) -> anyhow::Result<Outputs> {
    let settings = run_settings(cx);
    fresh_dir(&cx.dir("run"))?;
    let r = crate::cli::run::profile(&settings, cx.args.quiet).context("event-driven run")?;
    if !cx.args.quiet {
        print!("{}", snnc_runtime::report::table(&r));
    }
    let files = &settings.files;
    let mut out: Vec<PathBuf> = [&files.json, &files.svg]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    if let Some(tables) = &files.csv_dir {
        let mut csv: Vec<PathBuf> = std::fs::read_dir(tables)
            .with_context(|| format!("listing {}", tables.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        csv.sort();
        out.extend(csv);
    }
    Ok(out)
}
