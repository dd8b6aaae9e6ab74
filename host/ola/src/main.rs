//! `ola`: choose a polynomial degree per ReLU of a CIFAR ResNet under an
//! accelerator cycle budget (see README.md "The ola tool").

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use ola::accuracy::{Activations, accuracy};
use ola::analysis::AnalysisOptions;
use ola::cifar::{Dataset, Normalization};
use ola::costs::{CostModel, CostTable, MODEL_MAX_DEGREE};
use ola::error::{Error, Result};
use ola::fit::Family;
use ola::model::ResNet;
use ola::pipeline::{OptimizeOptions, Report, bar, optimize, render};
use ola::plan::Plan;
use ola::{demo, plot};

#[derive(Parser)]
#[command(
    name = "ola",
    version,
    about = "Optimized layerwise ReLU approximation for CKKS on the OLA accelerator.\n\
With no command: the whole pipeline on a built-in network trained on synthetic data."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Analyse, fit, solve the budgeted degree choice, write a plan, compare accuracies.
    Optimize(Box<OptimizeArgs>),
    /// Top-1 accuracy of a model with a plan's polynomials (and the original network).
    Accuracy(AccuracyArgs),
    /// Tune an existing plan's coefficients end to end (degrees and cycles
    /// fixed), write the tuned plan, compare accuracies on the test images.
    Tune(Box<TuneArgs>),
    /// Write the modelled cost table (JSON, and CSV beside it).
    CostModel {
        /// Output JSON file.
        #[arg(long, default_value = "costs.json")]
        out: PathBuf,
        /// Largest degree.
        #[arg(long, default_value_t = MODEL_MAX_DEGREE)]
        max_degree: usize,
    },
    /// Time the dynamic program on a ResNet-20-shaped problem (modelled
    /// costs, candidate degrees up to 127) and on a 109-layer one with |S| = 18.
    DpTiming {
        /// Steps of the cycle axis.
        #[arg(long, default_value_t = 5000)]
        steps: usize,
    },
    /// Evaluate one ReLU layer's polynomial on encrypted activations with
    /// every NTT and limb operation on the device (simulated board over a
    /// pty, or --port); prints the error and the cycles.
    Offload(ola::offload::OffloadArgs),
    /// Measure the per-degree cost table on the device (`ola-costs/1`,
    /// source "measured"; JSON and CSV beside it).
    Costs(ola::offload::CostsArgs),
    /// The built-in demonstration (the same as no command).
    Demo {
        /// Output directory.
        #[arg(long, default_value = "ola-demo")]
        out: PathBuf,
    },
}

#[derive(Args)]
struct NormArgs {
    /// Input normalisation means "r,g,b" (default: the model file's metadata).
    #[arg(long)]
    mean: Option<String>,
    /// Input normalisation standard deviations "r,g,b".
    #[arg(long)]
    std: Option<String>,
}

#[derive(Args)]
struct OptimizeArgs {
    /// Model (safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Calibration images (CIFAR-10 binary).
    #[arg(long)]
    calib: PathBuf,
    /// Held-out test images (CIFAR-10 binary).
    #[arg(long)]
    test: PathBuf,
    /// Budget: <= 1 is a fraction of the uniform composite-minimax baseline, larger is cycles.
    #[arg(long, default_value_t = 0.25)]
    budget: f64,
    /// Plan file to write.
    #[arg(long, default_value = "plan.json")]
    out: PathBuf,
    /// Cost table (JSON, `ola-costs/1`); default: the built-in measured
    /// table (host/ola/data/costs-measured.json).
    #[arg(long)]
    costs: Option<PathBuf>,
    /// Use the modelled cost table instead of the built-in measured one.
    #[arg(long, conflicts_with = "costs")]
    modelled_costs: bool,
    #[command(flatten)]
    norm: NormArgs,
    /// Families the optimizer may choose per layer (comma-separated: wls, scaled, kmeans, pow2, parity).
    #[arg(long, value_delimiter = ',', default_value = "wls")]
    families: Vec<Family>,
    /// Calibration images for the distributions.
    #[arg(long, default_value_t = 4000)]
    calib_images: usize,
    /// Calibration images for the sensitivities (forward + backward).
    #[arg(long, default_value_t = 500)]
    grad_images: usize,
    /// Test images evaluated.
    #[arg(long, default_value_t = usize::MAX)]
    test_images: usize,
    /// Largest candidate degree.
    #[arg(long, default_value_t = 127)]
    max_degree: usize,
    /// B_i = factor x max |x| on the calibration set.
    #[arg(long, default_value_t = 1.2)]
    bound_factor: f64,
    /// Share of the fitting mass on the Chebyshev measure (tail robustness).
    #[arg(long, default_value_t = 0.001)]
    chebyshev_mix: f64,
    /// Budget fractions of the Pareto sweep.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.15,0.2,0.25,0.33,0.4,0.5"
    )]
    sweep: Vec<f64>,
    /// Measure accuracy at every sweep point.
    #[arg(long)]
    sweep_measure: bool,
    /// Steps of the DP's cycle axis.
    #[arg(long, default_value_t = 5000)]
    dp_steps: usize,
    /// Directory for the SVG plots.
    #[arg(long)]
    plots: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
    /// Sequential calibration passes (0: off): fit each layer to the inputs
    /// it sees with the ReLUs before it approximated; all passes but the
    /// last re-measure E_i(d) that way and solve the DP again.
    #[arg(long, default_value_t = 2)]
    refit: usize,
    /// Calibration images of the sequential passes.
    #[arg(long, default_value_t = 1000)]
    refit_images: usize,
    /// Sequential passes fit ReLU of the approximated inputs instead of the
    /// exact network's ReLU outputs.
    #[arg(long)]
    relu_targets: bool,
    /// DP error term: the correlated first-order loss change V_i(d) instead
    /// of OLA's independent-noise A_i * E_i(d).
    #[arg(long)]
    correlated_proxy: bool,
    /// End-to-end coefficient tuning steps after the sequential passes
    /// (Adam on the distillation loss against the exact network; 0: off).
    #[arg(long, default_value_t = 0)]
    tune_steps: usize,
    #[command(flatten)]
    tuning: TuneFlags,
    /// Local search on measured losses, on this many calibration images
    /// (0: off): every sequential pass but the last measures how the plan's
    /// loss (capped KL against the exact network) changes when one layer
    /// moves to a candidate within one level of its own, and the DP
    /// re-solves on those changes. About 90 s a round on ResNet-20 with 128.
    #[arg(long, default_value_t = 0)]
    measure_images: usize,
}

/// The tuning's options that `ola optimize` and `ola tune` share.
#[derive(Args)]
struct TuneFlags {
    /// Images per tuning step.
    #[arg(long, default_value_t = 64)]
    tune_batch: usize,
    /// Calibration images the tuning cycles through (the last 256 of them
    /// are held back for the check).
    #[arg(long, default_value_t = 4000)]
    tune_images: usize,
    /// Tuning peak learning rate (on coefficients divided by B_i; warm-up,
    /// then cosine decay). ResNet-32 diverged at 2e-3 and tuned at 1e-3.
    #[arg(long, default_value_t = 2e-3)]
    tune_lr: f64,
    /// Adaptive gradient clipping (0: off): a step's gradient norm is
    /// capped at this many times the mean of the earlier ones.
    #[arg(long, default_value_t = 0.0)]
    tune_clip: f64,
}

impl TuneFlags {
    fn options(&self, steps: usize) -> ola::tune::TuneOptions {
        ola::tune::TuneOptions {
            steps,
            batch: self.tune_batch,
            images: self.tune_images,
            lr: self.tune_lr,
            clip: self.tune_clip,
            ..Default::default()
        }
    }
}

#[derive(Args)]
struct TuneArgs {
    /// Model (safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Calibration images (CIFAR-10 binary): tuning trains on them and
    /// holds the last 256 of the first --tune-images back.
    #[arg(long)]
    calib: PathBuf,
    /// Held-out test images (CIFAR-10 binary), only evaluated.
    #[arg(long)]
    test: PathBuf,
    /// Plan to tune.
    #[arg(long)]
    plan: PathBuf,
    /// Tuned plan to write.
    #[arg(long, default_value = "plan-tuned.json")]
    out: PathBuf,
    #[command(flatten)]
    norm: NormArgs,
    /// Adam steps.
    #[arg(long, default_value_t = 200)]
    tune_steps: usize,
    #[command(flatten)]
    tuning: TuneFlags,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct AccuracyArgs {
    /// Model (safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Images (CIFAR-10 binary).
    #[arg(long)]
    data: PathBuf,
    /// Plan file.
    #[arg(long)]
    plan: PathBuf,
    #[command(flatten)]
    norm: NormArgs,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

fn normalization(model: &ResNet, a: &NormArgs) -> Result<Normalization> {
    match (&a.mean, &a.std, &model.normalization) {
        (Some(m), Some(s), _) => Normalization::parse(m, s),
        (None, None, Some(n)) => Ok(*n),
        (None, None, None) => Err(Error::new(
            "the model file has no normalize_mean/normalize_std metadata: give --mean and --std",
        )),
        _ => Err(Error::new("give both --mean and --std, or neither")),
    }
}

fn model_name(p: &Path) -> String {
    p.file_stem()
        .map_or("model".into(), |s| s.to_string_lossy().into_owned())
}

fn write_outputs(
    report: &Report,
    model: &ResNet,
    costs: &CostTable,
    out: &Path,
    plots: Option<&Path>,
) -> Result<()> {
    println!("{}", render(report, model, costs));
    report.plan.save(out)?;
    println!("plan written to {}", out.display());
    if let Some(dir) = plots {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
        let pts: Vec<(f64, f64, Option<f64>)> = report
            .sweep
            .iter()
            .map(|p| (p.cycles / report.baseline_cycles, p.objective, p.accuracy))
            .collect();
        let acc = report.accuracies.as_ref();
        plot::pareto(
            &dir.join("pareto.svg"),
            &pts,
            acc.map(|a| a[0].top1),
            acc.map(|a| a[1].top1),
        )?;
        let names = model.relu_names();
        for (i, l) in report.plan.layers.iter().enumerate() {
            let poly = ola_approx::ChebyshevPoly::new(l.bound, l.coeffs.clone())?;
            plot::layer(
                &dir.join(format!("layer{i:03}.svg")),
                &format!(
                    "ReLU {i} ({}): degree {}, B = {:.2}",
                    names[i], l.degree, l.bound
                ),
                &report.stats[i].samples,
                &poly,
            )?;
        }
        println!(
            "plots written to {}/ (pareto.svg, layerNNN.svg)",
            dir.display()
        );
    }
    Ok(())
}

fn cost_table(path: Option<&Path>, modelled: bool, max_degree: usize) -> Result<CostTable> {
    match path {
        Some(p) => CostTable::load(p),
        None if modelled => CostTable::modelled(&CostModel::default(), max_degree),
        None => CostTable::measured(),
    }
}

fn run_optimize(a: &OptimizeArgs) -> Result<()> {
    let start = Instant::now();
    let model = ResNet::load(&a.model)?;
    let norm = normalization(&model, &a.norm)?;
    let calib = Dataset::load(&a.calib)?;
    let test = Dataset::load(&a.test)?;
    let costs = cost_table(a.costs.as_deref(), a.modelled_costs, a.max_degree)?;
    if !(a.budget.is_finite() && a.budget > 0.0) {
        return Err(Error::new(format!("--budget {} must be > 0", a.budget)));
    }
    println!(
        "model {}: ResNet-{} ({} ReLUs), calibration {} images, test {} images, cost table: {}",
        a.model.display(),
        model.depth(),
        model.relu_count(),
        calib.len(),
        test.len(),
        costs.source
    );
    let o = OptimizeOptions {
        model_name: model_name(&a.model),
        budget: a.budget,
        families: a.families.clone(),
        analysis: AnalysisOptions {
            images: a.calib_images,
            grad_images: a.grad_images,
            ..Default::default()
        },
        fit: ola::fit::FitOptions {
            bound_factor: a.bound_factor,
            chebyshev_mix: a.chebyshev_mix,
            ..Default::default()
        },
        degrees: (2, a.max_degree),
        sweep: a.sweep.clone(),
        sweep_measure: a.sweep_measure,
        dp_steps: a.dp_steps,
        test_images: a.test_images,
        skip_accuracy: false,
        plots: a.plots.clone(),
        quiet: a.quiet,
        refit: a.refit,
        refit_images: a.refit_images,
        exact_targets: !a.relu_targets,
        correlated: a.correlated_proxy,
        tune: a.tuning.options(a.tune_steps),
        measure_images: a.measure_images,
    };
    let report = optimize(&model, &calib, &test, &norm, &costs, &o)?;
    write_outputs(&report, &model, &costs, &a.out, a.plots.as_deref())?;
    println!("total {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn run_accuracy(a: &AccuracyArgs) -> Result<()> {
    let model = ResNet::load(&a.model)?;
    let norm = normalization(&model, &a.norm)?;
    let data = Dataset::load(&a.data)?;
    let plan = Plan::load(&a.plan)?;
    if plan.layers.len() != model.relu_count() {
        return Err(Error::new(format!(
            "plan {} has {} layers but {} has {} ReLUs",
            a.plan.display(),
            plan.layers.len(),
            a.model.display(),
            model.relu_count()
        )));
    }
    let polys = plan.polys()?;
    let pb = bar(a.quiet, "original network");
    let orig = accuracy(&model, &data, &norm, Activations::Exact, 100, &pb)?;
    pb.finish_and_clear();
    let pb = bar(a.quiet, "plan");
    let got = accuracy(&model, &data, &norm, Activations::Polys(&polys), 100, &pb)?;
    pb.finish_and_clear();
    println!("images {}", data.len());
    println!("original network  top-1 {:.2} %", 100.0 * orig.top1);
    println!(
        "plan ({} cycles)   top-1 {:.2} %  ({:+.2} pp; {} inputs with |x| >= B)",
        plan.total_cycles,
        100.0 * got.top1,
        100.0 * (got.top1 - orig.top1),
        got.outside
    );
    Ok(())
}

fn run_tune(a: &TuneArgs) -> Result<()> {
    let start = Instant::now();
    let model = ResNet::load(&a.model)?;
    let norm = normalization(&model, &a.norm)?;
    let calib = Dataset::load(&a.calib)?;
    let test = Dataset::load(&a.test)?;
    let plan = Plan::load(&a.plan)?;
    if a.tune_steps == 0 {
        return Err(Error::new("--tune-steps must be at least 1"));
    }
    let o = a.tuning.options(a.tune_steps);
    let pb = bar(a.quiet, "coefficient tuning");
    let (tuned, t) = ola::tune::tune_plan(&model, &calib, &norm, &plan, &o, &pb)
        .map_err(|e| Error::new(format!("plan {}: {}", a.plan.display(), e.0)))?;
    pb.finish_and_clear();
    println!(
        "tuning: {} steps in {:.1} s, batch loss {:.4} -> {:.4} (first / last tenth), \
         held-back capped KL {:.4} -> {:.4}, {} steps clipped",
        a.tune_steps,
        start.elapsed().as_secs_f64(),
        t.loss.0,
        t.loss.1,
        t.check.0,
        t.check.1,
        t.clipped
    );
    let hist: Vec<String> = t
        .history
        .iter()
        .map(|(s, l)| format!("{s}:{l:.4}"))
        .collect();
    println!("held-back capped KL by step: {}", hist.join(" "));
    tuned.save(&a.out)?;
    println!("tuned plan written to {}", a.out.display());
    let mut acc = Vec::new();
    for (name, polys) in [
        ("original network", None),
        ("plan", Some(plan.polys()?)),
        ("tuned plan", Some(tuned.polys()?)),
    ] {
        let pb = bar(a.quiet, name);
        let act = match &polys {
            None => Activations::Exact,
            Some(p) => Activations::Polys(p),
        };
        acc.push((name, accuracy(&model, &test, &norm, act, 100, &pb)?));
        pb.finish_and_clear();
    }
    println!("test images {}", test.len());
    for (name, r) in &acc {
        println!(
            "{name:<17} top-1 {:.2} %  ({:+.2} pp; {} inputs with |x| >= B)",
            100.0 * r.top1,
            100.0 * (r.top1 - acc[0].1.top1),
            r.outside
        );
    }
    println!("total {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn run_demo(out: &Path) -> Result<()> {
    let start = Instant::now();
    std::fs::create_dir_all(out)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", out.display())))?;
    println!(
        "built-in demo: synthetic 10-class gratings, ResNet-8 (width 8) trained here, deterministically"
    );
    let train = demo::synthetic(2000, 1);
    let test = demo::synthetic(500, 2);
    let untrained = demo::init_resnet(1, 8, 7)?;
    let pb = bar(false, "training ResNet-8");
    let (model, loss) = demo::train(&untrained, &train, 3, 50, 0.05, &pb)?;
    pb.finish_and_clear();
    let acc = demo::exact_accuracy(&model, &test, &demo::DEMO_NORM)?;
    println!(
        "trained in {:.1} s: final loss {loss:.3}, test top-1 {:.1} %",
        start.elapsed().as_secs_f64(),
        100.0 * acc
    );
    let mpath = out.join("resnet8-demo.safetensors");
    model.save(&mpath)?;
    std::fs::write(out.join("train.bin"), train.to_bytes())?;
    std::fs::write(out.join("test.bin"), test.to_bytes())?;
    // Reload through the same checked path as user models.
    let model = ResNet::load(&mpath)?;
    let costs = CostTable::measured()?;
    std::fs::write(
        out.join("costs.json"),
        serde_json::to_string_pretty(&costs)?,
    )?;
    std::fs::write(out.join("costs.csv"), costs.to_csv())?;
    println!("cost table: {} ({})", costs.source, costs.description);
    let o = OptimizeOptions {
        model_name: "resnet8-demo".into(),
        budget: 0.25,
        families: vec![Family::Wls, Family::Scaled, Family::Pow2],
        analysis: AnalysisOptions {
            images: 1000,
            grad_images: 200,
            ..Default::default()
        },
        refit_images: 500,
        sweep: vec![0.2, 0.25, 0.33],
        sweep_measure: true,
        plots: Some(out.join("plots")),
        ..Default::default()
    };
    let report = optimize(&model, &train, &test, &demo::DEMO_NORM, &costs, &o)?;
    write_outputs(
        &report,
        &model,
        &costs,
        &out.join("plan.json"),
        o.plots.as_deref(),
    )?;
    println!(
        "\nfiles in {}/: model, train.bin, test.bin, costs.json/csv, plan.json, plots/\n\
         next: `ola optimize --model M --calib CALIB.bin --test TEST.bin --budget 0.25 --out plan.json`\n\
         total {:.1} s",
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn dp_timing(steps: usize) -> Result<()> {
    use ola::dp::{Choice, solve};
    let t = CostTable::modelled(&CostModel::default(), MODEL_MAX_DEGREE)?;
    // Errors shaped like E(d) ~ d^-2 with per-layer sensitivities.
    let problem = |layers: usize, degrees: &[usize]| -> Vec<Vec<Choice>> {
        (0..layers)
            .map(|i| {
                let a = 1.0 + (i * 7 % 11) as f64;
                degrees
                    .iter()
                    .map(|&d| Choice {
                        cost: t.cycles(t.entry(d).expect("modelled degree")),
                        err: a / (d * d) as f64,
                    })
                    .collect()
            })
            .collect()
    };
    let base = t.cycles(&t.baseline);
    let s = t.candidate_degrees(2, 127);
    let paper_s = [
        3, 7, 15, 31, 63, 88, 127, 154, 210, 255, 261, 393, 511, 603, 703, 813, 917, 1023,
    ];
    let s18: Vec<usize> = paper_s.to_vec();
    for (name, layers, degrees) in [
        ("ResNet-20 (19 ReLUs)", 19, s.clone()),
        ("ResNet-110 shape (109 ReLUs)", 109, s18),
    ] {
        let p = problem(layers, &degrees);
        let budget = 0.25 * base * layers as f64;
        let start = Instant::now();
        let sol = solve(&p, budget, steps)?;
        let ch = sol
            .choices(sol.steps())
            .ok_or_else(|| Error::new("no solution"))?;
        let dt = start.elapsed().as_secs_f64();
        println!(
            "{name}: |S| = {}, {steps} steps: solved and backtracked in {:.2} ms (objective {:.4e}, {} layers)",
            degrees.len(),
            dt * 1e3,
            sol.objective(sol.steps()),
            ch.len()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match &cli.cmd {
        None => run_demo(Path::new("ola-demo")),
        Some(Cmd::Demo { out }) => run_demo(out),
        Some(Cmd::Offload(a)) => ola::offload::run_offload(a).map(|_| ()),
        Some(Cmd::Costs(a)) => ola::offload::costs_command(a),
        Some(Cmd::DpTiming { steps }) => dp_timing(*steps),
        Some(Cmd::Optimize(a)) => run_optimize(a),
        Some(Cmd::Accuracy(a)) => run_accuracy(a),
        Some(Cmd::Tune(a)) => run_tune(a),
        Some(Cmd::CostModel { out, max_degree }) => (|| {
            let t = CostTable::modelled(&CostModel::default(), *max_degree)?;
            std::fs::write(out, serde_json::to_string_pretty(&t)?)?;
            let csv = out.with_extension("csv");
            std::fs::write(&csv, t.to_csv())?;
            println!(
                "{}\nwritten {} and {}",
                t.description,
                out.display(),
                csv.display()
            );
            Ok(())
        })(),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
