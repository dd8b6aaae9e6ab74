//! `ola optimize`: analysis → fits → dynamic program → plan → accuracy
//! comparison and Pareto sweep.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use ola_approx::{ChebyshevPoly, CompositeRelu, CompositeSign};

use crate::accuracy::{Accuracy, Activations, accuracy};
use crate::analysis::{AnalysisOptions, LayerStats, analyse, correlated_error};
use crate::cifar::{Dataset, Normalization};
use crate::costs::CostTable;
use crate::dp::{Choice, solve};
use crate::error::{Error, Result};
use crate::fit::{
    Candidate, Family, FitOptions, LayerFit, candidate_cycles, candidate_levels, fit_layer,
};
use crate::measured::{Context, layer_losses};
use crate::model::ResNet;
use crate::plan::Plan;
use crate::sequential::{SeqCalib, sequential_pass};
use crate::tune::{TuneOptions, tune};

/// Everything `optimize` needs besides the data.
#[derive(Clone, Debug)]
pub struct OptimizeOptions {
    /// Model name written into the plan.
    pub model_name: String,
    /// Budget: `≤ 1` is a fraction of the uniform-minimax baseline, larger is cycles.
    pub budget: f64,
    /// Families the optimizer may choose from (first = the uniform comparison's).
    pub families: Vec<Family>,
    /// Calibration analysis.
    pub analysis: AnalysisOptions,
    /// Fitting options.
    pub fit: FitOptions,
    /// Smallest and largest candidate degree.
    pub degrees: (usize, usize),
    /// Budget fractions of the Pareto sweep (empty: no sweep).
    pub sweep: Vec<f64>,
    /// Measure accuracy at every sweep point (slow: one test pass each).
    pub sweep_measure: bool,
    /// Steps of the dynamic program's cycle axis.
    pub dp_steps: usize,
    /// Test images evaluated (at most the set).
    pub test_images: usize,
    /// Skip the accuracy comparison.
    pub skip_accuracy: bool,
    /// Write plots here.
    pub plots: Option<PathBuf>,
    /// Hide progress bars.
    pub quiet: bool,
    /// Sequential calibration passes after the first DP (0: off). Each
    /// pass walks the network layer by layer, fitting every layer to the
    /// inputs it sees with the layers before it already approximated
    /// ([`crate::sequential`]); every pass but the last also re-measures
    /// `E_i(d)` for all candidates that way and solves the DP again; the
    /// last one makes the plan's polynomials.
    pub refit: usize,
    /// Calibration images of the sequential passes (the first ones of the set).
    pub refit_images: usize,
    /// Sequential passes fit the exact network's ReLU outputs (true) or
    /// ReLU of the approximated inputs (false).
    pub exact_targets: bool,
    /// The DP's error term: the correlated first-order loss change `V_i`
    /// of [`crate::analysis::correlated_error`] (true, when gradient images
    /// were analysed) or OLA's independent-noise `A_i · E_i(d)` (false,
    /// the default: on ResNet-20 at 0.20 of the baseline the correlated
    /// term chose a plan 4 pp worse).
    pub correlated: bool,
    /// End-to-end coefficient tuning of the plan's polynomials after the
    /// sequential passes ([`crate::tune`]; `steps` 0: off).
    pub tune: TuneOptions,
    /// Local search on measured losses, on this many calibration images
    /// (the first ones; 0: off). The first DP uses `A_i · E_i(d)` (or
    /// `V_i`); every sequential pass but the last then measures, around
    /// the plan it applied, the change of the plan's loss when one layer
    /// moves to another candidate ([`crate::measured::Context::Plan`]),
    /// and the DP re-solves on those changes with each layer kept within
    /// one level of its planned candidate.
    pub measure_images: usize,
}

impl Default for OptimizeOptions {
    fn default() -> Self {
        OptimizeOptions {
            model_name: "model".into(),
            budget: 0.25,
            families: vec![Family::Wls],
            analysis: AnalysisOptions::default(),
            fit: FitOptions::default(),
            degrees: (2, 127),
            sweep: Vec::new(),
            sweep_measure: false,
            dp_steps: 5000,
            test_images: usize::MAX,
            skip_accuracy: false,
            plots: None,
            quiet: false,
            refit: 2,
            refit_images: 1000,
            exact_targets: true,
            correlated: false,
            tune: TuneOptions::default(),
            measure_images: 0,
        }
    }
}

/// One point of the Pareto sweep.
#[derive(Clone, Debug)]
pub struct SweepPoint {
    /// Budget as a fraction of the baseline.
    pub fraction: f64,
    /// Cycles of the chosen plan.
    pub cycles: f64,
    /// Objective `Σ A_i E_i(d_i)`.
    pub objective: f64,
    /// Degrees chosen.
    pub degrees: Vec<usize>,
    /// Top-1 on the sequential-calibration images (exact network, plan),
    /// when the point was calibrated sequentially.
    pub calib_accuracy: Option<(f64, f64)>,
    /// Measured accuracy, if asked.
    pub accuracy: Option<f64>,
}

/// What `optimize` found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The plan at the budget.
    pub plan: Plan,
    /// Calibration statistics per ReLU.
    pub stats: Vec<LayerStats>,
    /// Fits per ReLU.
    pub fits: Vec<LayerFit>,
    /// The plan's polynomials (after refitting).
    pub chosen: Vec<Candidate>,
    /// Baseline cycles (uniform composite minimax).
    pub baseline_cycles: f64,
    /// Objective of the plan (the DP's, see [`OptimizeOptions::correlated`]).
    pub objective: f64,
    /// The plan's error term per layer (`V_i` or `A_i · E_i(d_i)`).
    pub layer_err: Vec<f64>,
    /// The uniform-WLS degree with at most the plan's cycles.
    pub uniform_degree: Option<usize>,
    /// Its cycles.
    pub uniform_cycles: f64,
    /// Accuracies: original, baseline, plan, uniform WLS.
    pub accuracies: Option<[Accuracy; 4]>,
    /// Top-1 on the sequential-calibration images (if run): the exact
    /// network's and the plan's.
    pub calib_accuracy: Option<(f64, f64)>,
    /// The sweep.
    pub sweep: Vec<SweepPoint>,
    /// Seconds: analysis, fits, DP, sequential calibration, accuracy.
    pub timings: [f64; 5],
}

/// The DP error of a candidate outside the measured search's reach (a
/// capped KL is at most 1).
const OUT_OF_REACH: f64 = 1e6;

/// A progress bar (hidden when quiet).
pub fn bar(quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(0);
    b.set_style(
        ProgressStyle::with_template(
            "{msg:>22} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    b.set_message(what.to_string());
    b
}

/// The uniform composite-minimax baseline ReLU with a global bound.
pub fn baseline_relu(bound: f64) -> Result<CompositeRelu> {
    Ok(CompositeRelu::from_sign(
        CompositeSign::published_relu(13)?,
        bound,
    )?)
}

/// Runs the whole optimisation (see the module doc).
pub fn optimize(
    model: &ResNet,
    calib: &Dataset,
    test: &Dataset,
    norm: &Normalization,
    costs: &CostTable,
    o: &OptimizeOptions,
) -> Result<Report> {
    if o.families.is_empty() {
        return Err(Error::new("no approximation family to choose from"));
    }
    if o.measure_images > 0 && o.refit < 2 {
        return Err(Error::new(
            "the measured local search runs in the sequential passes before the last: it needs --refit 2 or more",
        ));
    }
    if o.families.contains(&Family::Parity) && candidate_cycles(costs, Family::Parity, 2).is_none()
    {
        return Err(Error::new(
            "the parity family is priced from the cost table's degree-2 entry, which this table lacks",
        ));
    }
    // Refuse an infeasible budget before the long steps.
    let cheapest = costs
        .candidate_degrees(o.degrees.0, o.degrees.1)
        .iter()
        .filter_map(|&d| costs.entry(d).map(|e| costs.cycles(e)))
        .fold(f64::INFINITY, f64::min);
    let shapes = model.act_shapes();
    let cts: Vec<f64> = shapes
        .iter()
        .map(|s| costs.ciphertexts(s.elements()) as f64)
        .collect();
    let baseline_cycles: f64 = cts.iter().map(|c| c * costs.cycles(&costs.baseline)).sum();
    let budget = if o.budget <= 1.0 {
        o.budget * baseline_cycles
    } else {
        o.budget
    };
    let min_total: f64 = cts.iter().map(|c| c * cheapest).sum();
    if !(budget.is_finite() && budget > 0.0) || min_total > budget {
        return Err(Error::new(format!(
            "infeasible budget: {budget:.0} cycles ({:.4} of the baseline's {baseline_cycles:.0}); \
             the cheapest plan (cheapest degree >= {} everywhere) costs {min_total:.0} cycles ({:.4})",
            budget / baseline_cycles,
            o.degrees.0,
            min_total / baseline_cycles
        )));
    }
    let t0 = Instant::now();
    let pb = bar(o.quiet, "calibration analysis");
    let stats = analyse(model, calib, norm, &o.analysis, &pb)?;
    pb.finish_and_clear();
    let t_analysis = t0.elapsed().as_secs_f64();

    let degrees = costs.candidate_degrees(o.degrees.0, o.degrees.1);
    if degrees.is_empty() {
        return Err(Error::new(format!(
            "the cost table has no degree in {}..={}",
            o.degrees.0, o.degrees.1
        )));
    }
    let t1 = Instant::now();
    let pb = bar(o.quiet, "polynomial fits");
    pb.set_length(stats.len() as u64);
    let mut fits = Vec::with_capacity(stats.len());
    for (i, s) in stats.iter().enumerate() {
        fits.push(fit_layer(
            i,
            &s.samples,
            s.max_abs,
            &degrees,
            &o.families,
            &o.fit,
        )?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let t_fits = t1.elapsed().as_secs_f64();

    // Items of the knapsack: per layer, every candidate with its cycles.
    let cost_of = |layer: usize, family: Family, degree: usize| -> Result<f64> {
        let c = candidate_cycles(costs, family, degree).ok_or_else(|| {
            Error::new(format!(
                "the cost table cannot price a {} polynomial of degree {degree}",
                family.name()
            ))
        })?;
        Ok(cts[layer] * c)
    };
    let err_of = |i: usize, c: &Candidate| -> f64 {
        let independent = stats[i].sensitivity * c.mse;
        if o.correlated {
            correlated_error(&stats[i], |x| c.poly.eval(x)).unwrap_or(independent)
        } else {
            independent
        }
    };
    // `meas[i][j]`: measured error of fits[i].candidates[j], replacing `err_of`.
    let items_of = |fits: &[LayerFit], meas: Option<&[Vec<f64>]>| -> Result<Vec<Vec<Choice>>> {
        fits.iter()
            .enumerate()
            .map(|(i, f)| {
                f.candidates
                    .iter()
                    .enumerate()
                    .map(|(j, c)| {
                        Ok(Choice {
                            cost: cost_of(i, c.family, c.degree)?,
                            err: meas.map_or_else(|| err_of(i, c), |m| m[i][j]),
                        })
                    })
                    .collect()
            })
            .collect()
    };
    let mbatch = if o.measure_images > 0 {
        Some(calib.batch(0, o.measure_images.min(calib.len()), norm)?.0)
    } else {
        None
    };
    // Marginal loss changes around a plan (`Context::Plan`), with every
    // candidate more than one level away from the plan's priced out: the
    // marginals are exact for one layer moving, not for many moving far.
    let measure = |plan: &[Candidate], fits: &[LayerFit]| -> Result<Option<Vec<Vec<f64>>>> {
        let Some(x) = &mbatch else { return Ok(None) };
        let t0 = Instant::now();
        let pb = bar(o.quiet, "measured layer losses");
        let polys: Vec<ChebyshevPoly> = plan.iter().map(|c| c.poly.clone()).collect();
        let reach = |p: &Candidate, c: &Candidate| {
            candidate_levels(costs, p.family, p.degree)
                .abs_diff(candidate_levels(costs, c.family, c.degree))
                <= 1
        };
        // Only the reachable candidates are measured.
        let near: Vec<LayerFit> = fits
            .iter()
            .zip(plan)
            .map(|(f, p)| LayerFit {
                bound: f.bound,
                candidates: f
                    .candidates
                    .iter()
                    .filter(|c| reach(p, c))
                    .cloned()
                    .collect(),
            })
            .collect();
        let measured = layer_losses(model, x, Context::Plan(&polys), &near, &pb)?;
        pb.finish_and_clear();
        let m: Vec<Vec<f64>> = fits
            .iter()
            .zip(plan)
            .zip(measured)
            .map(|((f, p), row)| {
                let mut row = row.into_iter();
                f.candidates
                    .iter()
                    .map(|c| {
                        if reach(p, c) {
                            row.next().unwrap_or(OUT_OF_REACH)
                        } else {
                            OUT_OF_REACH
                        }
                    })
                    .collect()
            })
            .collect();
        if !o.quiet {
            eprintln!(
                "measured layer losses: {:.1} s on {} images",
                t0.elapsed().as_secs_f64(),
                x.dims()[0]
            );
        }
        Ok(Some(m))
    };
    let items = items_of(&fits, None)?;
    let span = o
        .sweep
        .iter()
        .map(|f| f * baseline_cycles)
        .fold(budget, f64::max);
    let t2 = Instant::now();
    let sol = solve(&items, span, o.dp_steps).map_err(|e| {
        Error::new(format!(
            "{e} (budget {budget:.0} cycles = {:.3} of the baseline's {baseline_cycles:.0})",
            budget / baseline_cycles
        ))
    })?;
    let k_of = |b: f64| ((b / sol.step) * (1.0 + 1e-12)).floor() as usize;
    let choice = sol.choices(k_of(budget)).ok_or_else(|| {
        let min: f64 = items.iter().map(|l| l.iter().map(|c| c.cost).fold(f64::INFINITY, f64::min)).sum();
        Error::new(format!(
            "infeasible budget: {budget:.0} cycles ({:.3} of the baseline); the cheapest plan costs {min:.0} cycles ({:.3})",
            budget / baseline_cycles,
            min / baseline_cycles
        ))
    })?;
    let t_dp = t2.elapsed().as_secs_f64();

    // Sequential calibration (see `OptimizeOptions::refit`).
    let max_abs: Vec<f64> = stats.iter().map(|s| s.max_abs).collect();
    let t_seq0 = Instant::now();
    let seq = if o.refit > 0 {
        Some(SeqCalib::new(
            model,
            calib,
            norm,
            o.refit_images,
            o.analysis.max_samples,
        )?)
    } else {
        None
    };
    type Planned = (Vec<Candidate>, f64, Option<(f64, f64)>, Vec<f64>);
    let plan_at = |b: f64, choice: Vec<usize>| -> Result<Planned> {
        let mut cands: Vec<Candidate> = choice
            .iter()
            .zip(&fits)
            .map(|(&j, f)| f.candidates[j].clone())
            .collect();
        // The DP's error of each chosen candidate.
        let mut errs: Vec<f64> = choice.iter().zip(&items).map(|(&j, l)| l[j].err).collect();
        let mut obj = sol.objective(k_of(b));
        let Some(sc) = &seq else {
            return Ok((cands, obj, None, errs));
        };
        let pb = bar(o.quiet, "sequential calibration");
        pb.set_length(o.refit as u64);
        let mut top1 = None;
        for round in 0..o.refit {
            let last = round + 1 == o.refit;
            let plan: Vec<(Family, usize)> = cands.iter().map(|c| (c.family, c.degree)).collect();
            let (ds, fams): (&[usize], &[Family]) = if last {
                (&[], &[])
            } else {
                (&degrees, &o.families)
            };
            let pass = sequential_pass(
                model,
                sc,
                &plan,
                ds,
                fams,
                &max_abs,
                &o.fit,
                o.exact_targets,
            )?;
            top1 = Some((sc.exact_top1(), pass.top1));
            if last {
                cands = pass.chosen;
            } else {
                let meas = measure(&pass.chosen, &pass.fits)?;
                let it = items_of(&pass.fits, meas.as_deref())?;
                let s = solve(&it, b, o.dp_steps)?;
                let ch = s
                    .choices(s.steps())
                    .ok_or_else(|| Error::new("sequential calibration: DP found no plan"))?;
                obj = s.objective(s.steps());
                errs = ch.iter().zip(&it).map(|(&j, l)| l[j].err).collect();
                cands = ch
                    .iter()
                    .zip(&pass.fits)
                    .map(|(&j, f)| f.candidates[j].clone())
                    .collect();
            }
            pb.inc(1);
        }
        pb.finish_and_clear();
        if o.tune.steps > 0 {
            let pb = bar(o.quiet, "coefficient tuning");
            let t0 = Instant::now();
            let t = tune(model, calib, norm, &cands, &o.tune, &pb)?;
            pb.finish_and_clear();
            if !o.quiet {
                eprintln!(
                    "tuning at {:.3}: {} steps in {:.1} s, batch loss {:.4} -> {:.4}, held-back loss {:.4} -> {:.4}, {} steps clipped",
                    b / baseline_cycles,
                    o.tune.steps,
                    t0.elapsed().as_secs_f64(),
                    t.loss.0,
                    t.loss.1,
                    t.check.0,
                    t.check.1,
                    t.clipped
                );
            }
            cands = t.chosen;
            let polys: Vec<ChebyshevPoly> = cands.iter().map(|c| c.poly.clone()).collect();
            top1 = Some((sc.exact_top1(), sc.top1_with(model, &polys)?));
        }
        Ok((cands, obj, top1, errs))
    };
    let (chosen, objective, calib_top1, dp_errs) = plan_at(budget, choice)?;
    let layer_err: Vec<f64> = if mbatch.is_some() {
        dp_errs
    } else {
        chosen
            .iter()
            .enumerate()
            .map(|(i, c)| err_of(i, c))
            .collect()
    };
    let t_seq = t_seq0.elapsed().as_secs_f64();
    let mut total = 0.0;
    let mut layers = Vec::new();
    for (i, c) in chosen.iter().enumerate() {
        let cyc = cost_of(i, c.family, c.degree)?;
        total += cyc;
        layers.push(c.plan_layer(i, Some(cyc.round() as u64)));
    }
    let plan = Plan {
        model: o.model_name.clone(),
        activation: "relu".into(),
        total_cycles: total.round() as u64,
        budget_cycles: budget.round() as u64,
        layers,
        cost_source: Some(costs.source.clone()),
    };

    // Uniform WLS with at most the plan's cycles.
    let uni_family = o.families[0];
    let mut uniform_degree = None;
    let mut uniform_cycles = 0.0;
    for &d in &degrees {
        let c: f64 = (0..fits.len())
            .map(|i| cost_of(i, uni_family, d))
            .sum::<Result<f64>>()?;
        if c <= total * (1.0 + 1e-9) && fits.iter().all(|f| f.get(uni_family, d).is_some()) {
            uniform_degree = Some(d);
            uniform_cycles = c;
        }
    }

    let t3 = Instant::now();
    let test = test.slice(0, o.test_images);
    let global_bound = fits.iter().map(|f| f.bound).fold(0.0, f64::max);
    let base = baseline_relu(global_bound)?;
    let plan_polys: Vec<ChebyshevPoly> = chosen.iter().map(|c| c.poly.clone()).collect();
    let eval = |what: &str, acts: Activations<'_>| -> Result<Accuracy> {
        let pb = bar(o.quiet, what);
        let a = accuracy(model, &test, norm, acts, 100, &pb);
        pb.finish_and_clear();
        a
    };
    let accuracies = if o.skip_accuracy {
        None
    } else {
        let orig = eval("original network", Activations::Exact)?;
        let basel = eval("uniform minimax", Activations::Composite(&base))?;
        let ola = eval("OLA plan", Activations::Polys(&plan_polys))?;
        let uni = match uniform_degree {
            Some(d) => {
                let polys: Vec<ChebyshevPoly> = fits
                    .iter()
                    .map(|f| f.get(uni_family, d).expect("checked").poly.clone())
                    .collect();
                eval("uniform same cycles", Activations::Polys(&polys))?
            }
            None => Accuracy {
                top1: f64::NAN,
                images: 0,
                outside: 0,
            },
        };
        Some([orig, basel, ola, uni])
    };
    let t_acc = t3.elapsed().as_secs_f64();

    let mut sweep = Vec::new();
    for &f in &o.sweep {
        let k = k_of(f * baseline_cycles);
        let Some(ch) = sol.choices(k) else { continue };
        let (cands, objective, calib_top1, acc) = if o.sweep_measure {
            let (cands, obj, ct, _) = plan_at(f * baseline_cycles, ch)?;
            let polys: Vec<ChebyshevPoly> = cands.iter().map(|c| c.poly.clone()).collect();
            let a = eval(&format!("sweep {f:.2}"), Activations::Polys(&polys))?.top1;
            (cands, obj, ct, Some(a))
        } else {
            let cands: Vec<Candidate> = ch
                .iter()
                .zip(&fits)
                .map(|(&j, f)| f.candidates[j].clone())
                .collect();
            (cands, sol.objective(k), None, None)
        };
        let cycles: f64 = cands
            .iter()
            .enumerate()
            .map(|(i, c)| cost_of(i, c.family, c.degree))
            .sum::<Result<f64>>()?;
        sweep.push(SweepPoint {
            fraction: f,
            cycles,
            objective,
            degrees: cands.iter().map(|c| c.degree).collect(),
            calib_accuracy: calib_top1,
            accuracy: acc,
        });
    }
    Ok(Report {
        plan,
        stats,
        fits,
        chosen,
        baseline_cycles,
        objective,
        layer_err,
        uniform_degree,
        uniform_cycles,
        accuracies,
        calib_accuracy: calib_top1,
        sweep,
        timings: [t_analysis, t_fits, t_dp, t_seq, t_acc],
    })
}

/// Predicted top-1 of a plan on the test set: the original network's
/// test top-1 plus the change the plan makes on the calibration images
/// (`(exact, plan)` top-1 there). `None` without either.
pub fn predicted(original: Option<f64>, calib: Option<(f64, f64)>) -> Option<f64> {
    let (exact, plan) = calib?;
    Some(original? + plan - exact)
}

/// The per-layer table and the comparison, as text.
pub fn render(report: &Report, model: &ResNet, costs: &CostTable) -> String {
    let mut s = String::new();
    let names = model.relu_names();
    let base = report.baseline_cycles;
    s += &format!(
        "cycles: {} table ({}), baseline (uniform composite minimax, alpha 13) {:.4e} cycles\n",
        costs.source, costs.device, base
    );
    s += &format!(
        "{:>3} {:<16} {:>7} {:>6} {:>9} {:>11} {:>11} {:>11} {:>9}\n",
        "i", "relu", "family", "degree", "B_i", "A_i", "E_i(d)", "DP err", "cycles"
    );
    for (i, l) in report.plan.layers.iter().enumerate() {
        let st = &report.stats[i];
        let fam = l.family.as_deref().unwrap_or("?");
        let e = report.chosen[i].mse;
        s += &format!(
            "{:>3} {:<16} {:>7} {:>6} {:>9.3} {:>11.4e} {:>11.4e} {:>11.4e} {:>9.3e}\n",
            i,
            names.get(i).map_or("", |n| n.as_str()),
            fam,
            l.degree,
            l.bound,
            st.sensitivity,
            e,
            report.layer_err[i],
            l.cycles.unwrap_or(0) as f64
        );
    }
    s += &format!(
        "total {:.4e} cycles = {:.3} of the baseline (budget {:.4e} = {:.3}); objective (sum of DP err) = {:.4e}\n",
        report.plan.total_cycles as f64,
        report.plan.total_cycles as f64 / base,
        report.plan.budget_cycles as f64,
        report.plan.budget_cycles as f64 / base,
        report.objective
    );
    if let Some(acc) = &report.accuracies {
        let [orig, basel, ola, uni] = acc;
        s += &format!("\ntop-1 on {} held-out images:\n", orig.images);
        s += &format!(
            "  {:<34} {:>8} {:>12} {:>10}\n",
            "network", "top-1 %", "cycles/base", "|x|>=B"
        );
        let row = |name: String, a: &Accuracy, c: f64| {
            format!(
                "  {:<34} {:>8.2} {:>12.3} {:>10}\n",
                name,
                100.0 * a.top1,
                c / base,
                a.outside
            )
        };
        s += &row("original (exact ReLU)".into(), orig, f64::NAN);
        s += &row("uniform composite minimax".into(), basel, base);
        s += &row("OLA plan".into(), ola, report.plan.total_cycles as f64);
        let uname = match report.uniform_degree {
            Some(d) => format!("uniform WLS degree {d}"),
            None => "uniform WLS (none fits)".into(),
        };
        s += &row(uname, uni, report.uniform_cycles);
        s += &format!(
            "  OLA vs original: {:+.2} pp\n",
            100.0 * (ola.top1 - orig.top1)
        );
    }
    if let Some((exact, plan)) = report.calib_accuracy {
        s += &format!(
            "  on the sequential-calibration images: plan {:.2} %, exact {:.2} % ({:+.2} pp)\n",
            100.0 * plan,
            100.0 * exact,
            100.0 * (plan - exact)
        );
    }
    let orig = report.accuracies.as_ref().map(|a| a[0].top1);
    if !report.sweep.is_empty() {
        s += "\nPareto front (budget fraction, cycles/baseline, objective, predicted top-1 %, \
              measured top-1 %, degrees;\n  predicted = original test top-1 + the plan's change on \
              the sequential-calibration images):\n";
        for p in &report.sweep {
            s += &format!(
                "  {:>5.2} {:>7.3} {:>11.4e} {:>8} {:>8} {:?}\n",
                p.fraction,
                p.cycles / base,
                p.objective,
                predicted(orig, p.calib_accuracy)
                    .map_or("-".to_string(), |a| format!("{:.2}", 100.0 * a)),
                p.accuracy
                    .map_or("-".to_string(), |a| format!("{:.2}", 100.0 * a)),
                p.degrees
            );
        }
    }
    let [a, f, d, sq, acc] = report.timings;
    s += &format!(
        "\ntimes: analysis {a:.1} s, fits {f:.1} s, DP {:.1} ms, sequential calibration {sq:.1} s, \
         accuracy {acc:.1} s\n",
        d * 1e3
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;

    /// With `measure_images`, the re-solved DP prices candidates by the
    /// measured marginal loss changes around the applied plan: the plan
    /// stays within one level of the first DP's on every layer, its DP
    /// errors sum to the objective, and a layer whose candidate did not
    /// move has a zero marginal (OLA's `A_i · E_i(d)` would be positive).
    #[test]
    fn measured_local_search_moves_at_most_a_level() {
        let model = demo::init_resnet(1, 4, 5).unwrap();
        let calib = demo::synthetic(32, 1);
        let test = demo::synthetic(8, 2);
        let costs = CostTable::measured().unwrap();
        let o = OptimizeOptions {
            budget: 0.25,
            analysis: AnalysisOptions {
                images: 32,
                grad_images: 16,
                ..Default::default()
            },
            degrees: (2, 15),
            sweep: vec![0.25],
            refit: 2,
            refit_images: 32,
            measure_images: 16,
            skip_accuracy: true,
            quiet: true,
            ..Default::default()
        };
        let r = optimize(&model, &calib, &test, &demo::DEMO_NORM, &costs, &o).unwrap();
        let first = &r.sweep[0].degrees;
        let levels = |d: usize| costs.entry(d).unwrap().levels;
        for (l, &d0) in r.plan.layers.iter().zip(first) {
            assert!(
                levels(l.degree).abs_diff(levels(d0)) <= 1,
                "{} vs {d0}",
                l.degree
            );
        }
        let sum: f64 = r.layer_err.iter().sum();
        assert!((sum - r.objective).abs() <= 1e-9 + 1e-6 * sum.abs());
        assert!(
            r.layer_err.iter().all(|e| e.abs() < 1.0),
            "none out of reach"
        );
        for ((l, &d0), e) in r.plan.layers.iter().zip(first).zip(&r.layer_err) {
            if l.degree == d0 {
                assert!(e.abs() < 1e-6, "unmoved layer's marginal {e}");
            }
        }
        assert!(r.plan.total_cycles <= r.plan.budget_cycles);
    }
}
