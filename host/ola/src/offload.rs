//! CKKS on the accelerator, end to end: `ola offload` evaluates one ReLU
//! layer's fitted polynomial on encrypted real activations with every NTT
//! and limb-wise operation on the device (the simulated board over a
//! pseudo-terminal, or a board on a serial port), and `ola costs`
//! measures the per-degree cost table (`ola-costs/1`, source "measured")
//! the optimizer uses.
//!
//! Keys are generated and inputs encrypted and decrypted on the host (the
//! CPU backend; it is bit-identical to the device backend, so the keys are
//! the same either way); the evaluation runs on a ring over
//! [`ola_offload::DeviceBackend`] — or, for `ola costs` by default, on the
//! CPU through [`ola_offload::priced::CountingBackend`] with every distinct
//! call priced once on the device ([`ola_offload::priced`]): the same
//! table in minutes instead of hours.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::ProgressBar;
use ola_ckks::polynomial::{ChebyshevPoly as CkksPoly, plan};
use ola_ckks::{
    Backend, Ciphertext, CpuBackend, Decryptor, Encoder, Encryptor, EvaluationKeys, Evaluator,
    KeyGenerator, Params, ParamsLiteral, PolynomialEvaluator, Ring, SecretKey, presets,
};
use ola_offload::ola_device::DeviceConfig;
use ola_offload::ola_device::sim::{ACCEL_HZ, SimBoard};
use ola_offload::priced::{CountingBackend, Op, Pricer, Shape};
use ola_offload::{Costs, DeviceBackend};
use serde::{Deserialize, Serialize};

use crate::cifar::{Dataset, Normalization};
use crate::costs::{CostEntry, CostModel, CostParams, CostTable, FORMAT};
use crate::demo;
use crate::error::{Error, Result};
use crate::fit::{Family, FitOptions, fit_layer};
use crate::model::ResNet;

fn ck<T>(r: ola_ckks::Result<T>) -> Result<T> {
    r.map_err(|e| Error::new(format!("CKKS: {e}")))
}

fn dev_err(e: ola_offload::Error) -> Error {
    Error::new(format!("{e}"))
}

/// The 128-bit secure preset of ring degree `2^log_n` (30-bit primes
/// only, as the device needs, from N = 2^13 up).
pub fn preset(log_n: u32) -> Result<ParamsLiteral> {
    match log_n {
        13 => Ok(presets::PN13_QP218),
        14 => Ok(presets::PN14_QP438),
        15 => Ok(presets::PN15_QP881),
        16 => Ok(presets::PN16_QP1747),
        _ => Err(Error::new(format!(
            "--log-n {log_n}: the device runs the 30-bit presets N = 2^13 … 2^16 \
             (PN12's primes are smaller than the device's word)"
        ))),
    }
}

/// A device ring with its keys: encryption and decryption on the host,
/// evaluation on the device.
pub struct Session {
    /// The parameters.
    pub params: Params,
    /// The host ring (keys, encryption, decryption).
    pub cpu_ring: Arc<Ring>,
    /// The device backend.
    pub device: Arc<DeviceBackend>,
    /// Evaluator on the device ring.
    pub eval: Evaluator,
    /// Evaluator on the CPU ring that records every backend call (for
    /// priced evaluation).
    pub counted: Evaluator,
    counter: Arc<CountingBackend<CpuBackend>>,
    pricer: Option<Pricer>,
    /// Encoder.
    pub encoder: Encoder,
    /// Where the device is ("simulated board on /dev/pts/N" or the port).
    pub link: String,
    sk: SecretKey,
    encryptor: Encryptor,
    _board: Option<SimBoard>,
}

impl Session {
    /// Keys from a fixed seed, the device on `port` (a simulated board on
    /// a pty when `None`).
    pub fn open(lit: ParamsLiteral, port: Option<&str>, config: DeviceConfig) -> Result<Self> {
        let params = ck(Params::new(lit))?;
        let (device, board, link) = match port {
            Some(p) => (
                ola_offload::serial(p, config)
                    .map_err(|e| Error::new(format!("cannot open {p}: {e}")))?,
                None,
                format!("board on {p}"),
            ),
            None => {
                let (d, b, path) = ola_offload::sim_pty(config)
                    .map_err(|e| Error::new(format!("cannot start the simulated board: {e}")))?;
                (
                    d,
                    Some(b),
                    format!("simulated p8 board over the pty {path}"),
                )
            }
        };
        let backend = Arc::new(
            DeviceBackend::new(device, params.n(), &params.all_moduli()).map_err(dev_err)?,
        );
        let dev_ring = Arc::new(Ring::new(
            params.clone(),
            backend.clone() as Arc<dyn Backend>,
        ));
        let cpu_ring = Arc::new(Ring::cpu(params.clone()));
        let mut kg = KeyGenerator::from_seed(cpu_ring.clone(), [0x0a; 32]);
        let sk = kg.gen_secret_key();
        let pk = ck(kg.gen_public_key(&sk))?;
        let keys = EvaluationKeys {
            relin: Some(ck(kg.gen_relin_key(&sk))?),
            ..Default::default()
        };
        let counter = Arc::new(CountingBackend::new(CpuBackend::new(
            params.n(),
            &params.all_moduli(),
        )));
        let counted_ring = Arc::new(Ring::new(
            params.clone(),
            counter.clone() as Arc<dyn Backend>,
        ));
        let counted = ck(Evaluator::new(counted_ring, keys.clone()))?;
        let eval = ck(Evaluator::new(dev_ring, keys))?;
        let encoder = Encoder::new(&cpu_ring);
        let encryptor = ck(Encryptor::from_seed(cpu_ring.clone(), pk, [0x0b; 32]))?;
        Ok(Session {
            params,
            cpu_ring,
            device: backend,
            eval,
            counted,
            counter,
            pricer: None,
            encoder,
            link,
            sk,
            encryptor,
            _board: board,
        })
    }

    /// Encrypts real values (at most `N/2`) at the top level.
    pub fn encrypt(&mut self, xs: &[f64]) -> Result<Ciphertext> {
        let pt = ck(self.encoder.encode_real(
            &self.cpu_ring,
            xs,
            self.params.max_level(),
            self.params.default_scale(),
        ))?;
        ck(self.encryptor.encrypt(&pt))
    }

    /// Decrypts the real parts of every slot.
    pub fn decrypt(&self, ct: &Ciphertext) -> Result<Vec<f64>> {
        let dec = ck(Decryptor::new(self.cpu_ring.clone(), self.sk.clone()))?;
        let pt = ck(dec.decrypt(ct))?;
        Ok(ck(self.encoder.decode(&self.cpu_ring, &pt))?
            .iter()
            .map(|z| z.re)
            .collect())
    }

    /// `p(ct)` on the device, with what it cost; fails on a device error.
    pub fn evaluate(&self, ct: &Ciphertext, p: &CkksPoly) -> Result<(Ciphertext, Costs)> {
        let before = self.device.costs();
        let out =
            ck(PolynomialEvaluator::new(&self.eval).evaluate(ct, p, self.params.default_scale()));
        self.device.check().map_err(dev_err)?;
        Ok((out?, self.device.costs().since(&before)))
    }

    /// Runs `f` and returns its device costs: on the device
    /// (`priced == false`), or on the CPU with the recorded calls priced
    /// on the device ([`ola_offload::priced`]). Priced calls made outside
    /// `measure` still advance the replayed modulus slots, as they would
    /// change the device's.
    pub fn measure<T>(
        &mut self,
        priced: bool,
        f: impl FnOnce(&Evaluator) -> ola_ckks::Result<T>,
    ) -> Result<(T, Costs)> {
        if !priced {
            let before = self.device.costs();
            let out = f(&self.eval);
            self.device.check().map_err(dev_err)?;
            return Ok((ck(out)?, self.device.costs().since(&before)));
        }
        let pending = self.counter.take();
        self.pricer()?.replay(&pending);
        let out = ck(f(&self.counted))?;
        let calls = self.counter.take();
        let costs = self.pricer()?.price(&calls).map_err(dev_err)?;
        Ok((out, costs))
    }

    /// The pricer of priced evaluations (made on first use).
    pub fn pricer(&mut self) -> Result<&mut Pricer> {
        if self.pricer.is_none() {
            self.pricer = Some(Pricer::new(self.device.clone()).map_err(dev_err)?);
        }
        Ok(self.pricer.as_mut().expect("made above"))
    }

    /// [`Session::measure`] of `p(ct)`.
    pub fn measure_poly(
        &mut self,
        priced: bool,
        ct: &Ciphertext,
        p: &CkksPoly,
    ) -> Result<(Ciphertext, Costs)> {
        let scale = self.params.default_scale();
        self.measure(priced, |e| {
            PolynomialEvaluator::new(e).evaluate(ct, p, scale)
        })
    }

    /// Distinct call shapes priced on the device so far.
    pub fn priced_shapes(&self) -> usize {
        self.pricer.as_ref().map_or(0, |p| p.prices().len())
    }
}

/// Cycles as seconds on the 125 MHz accelerator clock.
fn secs(cycles: u64) -> f64 {
    cycles as f64 / ACCEL_HZ as f64
}

/// `ola offload`.
#[derive(Args, Debug, Clone)]
pub struct OffloadArgs {
    /// ReLU layer (forward order) whose inputs are evaluated.
    #[arg(long, default_value_t = 0)]
    pub layer: usize,
    /// Polynomial degree (WLS fit on the layer's inputs, Chebyshev basis).
    #[arg(long, default_value_t = 15)]
    pub degree: usize,
    /// Serial port of a board (default: the simulated board over a pty).
    #[arg(long)]
    pub port: Option<String>,
    /// log2 of the ring degree: 13 … 16 (the presets; 14 = PN14_QP438,
    /// 128-bit secure, depth 9).
    #[arg(long, default_value_t = 14)]
    pub log_n: u32,
    /// A ResNet (safetensors) instead of the built-in network.
    #[arg(long, requires = "data")]
    pub model: Option<PathBuf>,
    /// CIFAR-10 binary images to run it on (with --model).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Images whose activations are packed (and fitted on).
    #[arg(long, default_value_t = 8)]
    pub images: usize,
    /// Built-in network: training images (the demo's recipe: 2000).
    #[arg(long, default_value_t = 2000)]
    pub train_images: usize,
    /// Built-in network: training epochs (the demo's recipe: 3).
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
}

/// What `ola offload` found.
#[derive(Clone, Debug)]
pub struct OffloadReport {
    /// Slots filled with activations.
    pub values: usize,
    /// `max |decrypted − p(x)|` over the slots.
    pub max_error: f64,
    /// `max |p|` on the fitting interval.
    pub max_abs_p: f64,
    /// The bar: `2^-12 · max |p|`.
    pub bound: f64,
    /// Levels consumed and ciphertext products of the plan.
    pub levels: usize,
    /// Ciphertext products.
    pub products: usize,
    /// Device costs of the evaluation.
    pub costs: Costs,
    /// Wall time of the evaluation.
    pub wall: Duration,
}

/// A ReLU layer's inputs over the first `images` images.
fn layer_inputs(a: &OffloadArgs) -> Result<Vec<f64>> {
    let (model, data, norm): (ResNet, Dataset, Normalization) = match (&a.model, &a.data) {
        (Some(m), Some(d)) => {
            let model = ResNet::load(m)?;
            let norm = model
                .normalization
                .ok_or_else(|| Error::new("the model file has no normalization metadata"))?;
            (model, Dataset::load(d)?, norm)
        }
        _ => {
            let train = demo::synthetic(a.train_images.max(1), 1);
            let untrained = demo::init_resnet(1, 8, 7)?;
            let (model, _) = demo::train(
                &untrained,
                &train,
                a.epochs,
                50,
                0.05,
                &ProgressBar::hidden(),
            )?;
            (model, demo::synthetic(a.images.max(1), 2), demo::DEMO_NORM)
        }
    };
    if a.layer >= model.relu_count() {
        return Err(Error::new(format!(
            "--layer {}: the network has {} ReLU layers",
            a.layer,
            model.relu_count()
        )));
    }
    let (x, _) = data.batch(0, a.images.max(1).min(data.len()), &norm)?;
    let mut got = Vec::new();
    model.forward(&x, &mut |i, t| {
        if i == a.layer {
            got = t.flatten_all()?.to_vec1::<f32>()?;
        }
        Ok(t.relu()?)
    })?;
    Ok(got.into_iter().map(f64::from).collect())
}

/// `ola offload` (see the module doc); prints the report.
pub fn run_offload(a: &OffloadArgs) -> Result<OffloadReport> {
    let lit = preset(a.log_n)?;
    let xs = layer_inputs(a)?;
    let max_abs = xs.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let fit = fit_layer(
        a.layer,
        &xs,
        max_abs,
        &[a.degree],
        &[Family::Wls],
        &FitOptions::default(),
    )?;
    let cand = fit
        .candidates
        .first()
        .ok_or_else(|| Error::new("no polynomial fitted"))?;
    let bound_b = cand.poly.bound();
    // On [-1, 1]: the slots hold x / B.
    let p = CkksPoly::new(cand.poly.coeffs().to_vec());
    let pl = plan(&p);
    let mut s = Session::open(lit, a.port.as_deref(), DeviceConfig::default())?;
    if pl.depth > s.params.max_level() {
        return Err(Error::new(format!(
            "degree {} needs {} levels; N = 2^{} has {}",
            a.degree,
            pl.depth,
            a.log_n,
            s.params.max_level()
        )));
    }
    let slots = s.encoder.slots();
    let ts: Vec<f64> = xs.iter().take(slots).map(|x| x / bound_b).collect();
    println!(
        "ReLU layer {}: {} activations (|x| ≤ {max_abs:.3}), {} in the slots; WLS degree {} on [-{bound_b:.3}, {bound_b:.3}]",
        a.layer,
        xs.len(),
        ts.len(),
        a.degree
    );
    println!(
        "CKKS N = 2^{}, {} limbs + {} special primes, depth {}; device: {}",
        a.log_n,
        s.params.q().len(),
        s.params.p().len(),
        s.params.max_level(),
        s.link
    );
    let ct = s.encrypt(&ts)?;
    let start = Instant::now();
    let (out, costs) = s.evaluate(&ct, &p)?;
    let wall = start.elapsed();
    let got = s.decrypt(&out)?;
    let max_error = ts
        .iter()
        .zip(&got)
        .map(|(&t, &y)| (y - p.eval(t)).abs())
        .fold(0.0, f64::max);
    let max_abs_p = (0..=4096)
        .map(|k| p.eval(-1.0 + k as f64 / 2048.0).abs())
        .fold(0.0, f64::max);
    let bound = max_abs_p / 4096.0;
    let r = OffloadReport {
        values: ts.len(),
        max_error,
        max_abs_p,
        bound,
        levels: pl.depth,
        products: pl.products,
        costs,
        wall,
    };
    print_report(&r);
    Ok(r)
}

fn print_report(r: &OffloadReport) {
    let c = &r.costs;
    println!(
        "max |decrypted − p(x)| = {:.3e} = 2^{:.1} (bar 2^-12·max|p| = {:.3e}: {})",
        r.max_error,
        r.max_error.log2(),
        r.bound,
        if r.max_error <= r.bound {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "plan: {} levels, {} ciphertext products; device calls {} ({} NTTs, {} jobs), host calls {}",
        r.levels, r.products, c.device_calls, c.ntts, c.jobs, c.host_calls
    );
    println!(
        "cycles at 125 MHz: compute {} ({:.3} s), data movement {} ({:.1} s), modulus loads {} ×, {} ({:.1} s); total {} ({:.1} s)",
        c.compute_cycles,
        secs(c.compute_cycles),
        c.movement_cycles(),
        secs(c.movement_cycles()),
        c.modulus_loads,
        c.load_cycles(),
        secs(c.load_cycles()),
        c.total_cycles(),
        secs(c.total_cycles())
    );
    println!(
        "wall time of the evaluation here: {:.1} s",
        r.wall.as_secs_f64()
    );
}

/// `ola costs`.
#[derive(Args, Debug, Clone)]
pub struct CostsArgs {
    /// Output JSON file (CSV beside it).
    #[arg(long, default_value = "costs.json")]
    pub out: PathBuf,
    /// Largest degree measured (capped by the evaluation level).
    #[arg(long, default_value_t = 63)]
    pub max_degree: usize,
    /// Degrees to measure (default: the optimizer's candidate set of the
    /// modelled table, up to --max-degree).
    #[arg(long, value_delimiter = ',')]
    pub degrees: Option<Vec<usize>>,
    /// Serial port of a board (default: the simulated board over a pty).
    #[arg(long)]
    pub port: Option<String>,
    /// log2 of the ring degree (13 … 16; 16 = PN16_QP1747, the
    /// optimizer's parameters).
    #[arg(long, default_value_t = 16)]
    pub log_n: u32,
    /// Level at which every polynomial (and the baseline's stages) is
    /// evaluated (default: 7, where a ciphertext is after a bootstrap in
    /// the cost model — 19 levels, 12 consumed by the bootstrap — or the
    /// top level if lower).
    #[arg(long)]
    pub level: Option<usize>,
    /// Run every evaluation on the device instead of pricing it (the same
    /// table within the data-movement framing bound; hours at N = 2^16).
    #[arg(long)]
    pub device_run: bool,
    /// Check mode: evaluate this degree on the device and priced, print
    /// both, fail unless compute cycles, jobs and modulus loads agree
    /// exactly and data movement within 0.5 %; writes no table.
    #[arg(long, conflicts_with = "device_run")]
    pub verify_degree: Option<usize>,
}

/// The level a polynomial is evaluated at by default: where the cost
/// model's bootstrap leaves a ciphertext (its levels minus the levels the
/// bootstrap consumes).
pub fn default_level() -> usize {
    let m = CostModel::default();
    m.params.levels - m.bootstrap_depth
}

/// Data movement of a priced evaluation agrees with a device run's
/// within this fraction: the frames' COBS overhead depends on the data
/// (one byte per 254 non-zero bytes, ≤ 0.4 %), and their sequence
/// numbers and counters are varints that grow with the session.
pub const MOVEMENT_TOLERANCE: f64 = 0.005;

/// A degree evaluated both on the device and priced ([`verify`]).
#[derive(Clone, Debug)]
pub struct Verification {
    /// The degree.
    pub degree: usize,
    /// The device run's costs.
    pub device: Costs,
    /// The priced evaluation's costs.
    pub priced: Costs,
    /// Wall time of the device run.
    pub device_wall: Duration,
    /// Wall time of the priced evaluation (CPU run and pricing).
    pub priced_wall: Duration,
    /// Distinct call shapes priced.
    pub shapes: usize,
}

impl Verification {
    /// Data movement (modulus loads included) of the priced evaluation
    /// relative to the device run's: `priced / device − 1`.
    pub fn movement_error(&self) -> f64 {
        let m = |c: &Costs| (c.movement_cycles() + c.load_cycles()) as f64;
        m(&self.priced) / m(&self.device).max(1.0) - 1.0
    }

    /// Fails unless compute cycles, jobs, device calls, NTTs, host calls
    /// and modulus loads are equal and data movement is within
    /// [`MOVEMENT_TOLERANCE`].
    pub fn check(&self) -> Result<()> {
        let (d, p) = (&self.device, &self.priced);
        let exact = [
            ("compute cycles", d.compute_cycles, p.compute_cycles),
            ("jobs", d.jobs, p.jobs),
            ("device calls", d.device_calls, p.device_calls),
            ("NTTs", d.ntts, p.ntts),
            ("host calls", d.host_calls, p.host_calls),
            ("modulus loads", d.modulus_loads, p.modulus_loads),
        ];
        for (what, dv, pv) in exact {
            if dv != pv {
                return Err(Error::new(format!(
                    "degree {}: {what} differ: device run {dv}, priced {pv}",
                    self.degree
                )));
            }
        }
        let e = self.movement_error();
        if e.abs() > MOVEMENT_TOLERANCE {
            return Err(Error::new(format!(
                "degree {}: data movement differs by {:.3} % (bound {:.1} %)",
                self.degree,
                100.0 * e,
                100.0 * MOVEMENT_TOLERANCE
            )));
        }
        Ok(())
    }
}

/// Evaluates the degree-`degree` ReLU interpolant on `ct` on the device,
/// then priced, on a session whose device backend has not been used yet
/// (so both start with empty modulus slots).
pub fn verify(s: &mut Session, ct: &Ciphertext, degree: usize) -> Result<Verification> {
    let p = entry_poly(degree);
    let t = Instant::now();
    let (_, device) = s.measure_poly(false, ct, &p)?;
    let device_wall = t.elapsed();
    let t = Instant::now();
    let (_, priced) = s.measure_poly(true, ct, &p)?;
    Ok(Verification {
        degree,
        device,
        priced,
        device_wall,
        priced_wall: t.elapsed(),
        shapes: s.priced_shapes(),
    })
}

/// `ola costs` as a command: the table, or with `--verify-degree` the
/// check (an error if it fails).
pub fn costs_command(a: &CostsArgs) -> Result<()> {
    let Some(d) = a.verify_degree else {
        return run_costs(a).map(|_| ());
    };
    let mut s = Session::open(preset(a.log_n)?, a.port.as_deref(), DeviceConfig::default())?;
    let ct = eval_ciphertext(&mut s, a.level)?;
    let depth = plan(&entry_poly(d)).depth;
    if depth > ct.level() {
        return Err(Error::new(format!(
            "--verify-degree {d} needs {depth} levels; the evaluation level is {}",
            ct.level()
        )));
    }
    let v = verify(&mut s, &ct, d)?;
    let row = |name: &str, c: &Costs, wall: Duration| {
        println!(
            "{name}: compute {} cycles, data movement {} (+ {} modulus loads, {} cycles), {} jobs, {} device calls; {:.1} s wall",
            c.compute_cycles,
            c.movement_cycles(),
            c.modulus_loads,
            c.load_cycles(),
            c.jobs,
            c.device_calls,
            wall.as_secs_f64()
        )
    };
    println!(
        "degree {d} at level {} of N = 2^{} on {}",
        ct.level(),
        a.log_n,
        s.link
    );
    row("device run", &v.device, v.device_wall);
    row("priced    ", &v.priced, v.priced_wall);
    println!(
        "priced {} distinct call shapes; data movement (loads included) differs by {:+.4} % (bound {:.1} %)",
        v.shapes,
        100.0 * v.movement_error(),
        100.0 * MOVEMENT_TOLERANCE
    );
    v.check()?;
    println!("agree: compute cycles, jobs, calls, NTTs and modulus loads exactly");
    Ok(())
}

/// A ciphertext of fixed values in [-1, 1] at `level` (default
/// [`default_level`], capped by the top).
fn eval_ciphertext(s: &mut Session, level: Option<usize>) -> Result<Ciphertext> {
    let top = s.params.max_level();
    let level = level.unwrap_or(default_level().min(top));
    if level > top || level == 0 {
        return Err(Error::new(format!(
            "--level {level}: the parameters have levels 1 … {top}"
        )));
    }
    let xs = fixed_inputs(s.encoder.slots());
    let mut ct = s.encrypt(&xs)?;
    ck(s.counted.drop_level_assign(&mut ct, level))?;
    Ok(ct)
}

/// The polynomial a table entry of degree `d` prices: the Chebyshev
/// interpolant of ReLU(x − 1/8), every coefficient non-zero, as a fitted
/// polynomial's are. (ReLU's own interpolant is x/2 plus an even
/// polynomial: the evaluator skips its zero odd terms, which a fit on an
/// asymmetric distribution does not have.)
pub fn entry_poly(d: usize) -> CkksPoly {
    let p = CkksPoly::interpolate(|x| (x - 0.125).max(0.0), d);
    let dense: Vec<f64> = (0..=d)
        .map(|k| match p.coeffs.get(k) {
            Some(&c) if c != 0.0 => c,
            _ => 1e-12,
        })
        .collect();
    CkksPoly::new(dense)
}

fn fixed_inputs(slots: usize) -> Vec<f64> {
    (0..slots)
        .map(|i| ((i * 7919) % 2001) as f64 / 1000.0 - 1.0)
        .collect()
}

/// Format tag of the prices `ola costs` saves beside a priced table.
pub const PRICES_FORMAT: &str = "ola-prices/1";

/// The prices behind the built-in measured table
/// (`host/ola/data/costs-measured.prices.json`).
pub const BUILT_IN_PRICES: &str = include_str!("../data/costs-measured.prices.json");

/// The device prices a priced table was made with (`<out>.prices.json`):
/// what lets a test re-derive an entry from a CPU run alone and re-check a
/// few prices on the device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceFile {
    /// Always [`PRICES_FORMAT`].
    pub format: String,
    /// `log2 N` of the table.
    pub log_n: u32,
    /// Level the polynomials were evaluated at.
    pub level: usize,
    /// Each call shape's price (modulus loads apart).
    pub shapes: Vec<ShapePrice>,
    /// Each prime's load price.
    pub loads: Vec<LoadPrice>,
}

/// One call shape's price.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShapePrice {
    /// [`ola_offload::priced::Op`] name.
    pub op: String,
    /// Input limbs (`lincomb`, `lincomb_multi`).
    pub inputs: u32,
    /// Target primes (`lincomb_multi`).
    pub targets: u32,
    /// The price.
    pub costs: Costs,
}

/// One prime's load price.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadPrice {
    /// Prime index (`Q` then `P`).
    pub prime: usize,
    /// The price.
    pub costs: Costs,
}

impl PriceFile {
    /// What `pricer` has priced.
    pub fn from_pricer(p: &Pricer, log_n: u32, level: usize) -> Self {
        PriceFile {
            format: PRICES_FORMAT.into(),
            log_n,
            level,
            shapes: p
                .prices()
                .iter()
                .map(|(s, c)| ShapePrice {
                    op: s.op.name(),
                    inputs: s.inputs,
                    targets: s.targets,
                    costs: *c,
                })
                .collect(),
            loads: p
                .load_prices()
                .iter()
                .map(|(&m, c)| LoadPrice {
                    prime: m,
                    costs: *c,
                })
                .collect(),
        }
    }

    /// Reads prices (checked format tag and op names).
    pub fn parse(text: &str) -> Result<Self> {
        let f: PriceFile = serde_json::from_str(text)
            .map_err(|e| Error::new(format!("not a valid {PRICES_FORMAT} file: {e}")))?;
        if f.format != PRICES_FORMAT {
            return Err(Error::new(format!(
                "format is {:?}, expected {PRICES_FORMAT:?}",
                f.format
            )));
        }
        f.shapes()?;
        Ok(f)
    }

    /// The shape prices.
    pub fn shapes(&self) -> Result<Vec<(Shape, Costs)>> {
        self.shapes
            .iter()
            .map(|p| {
                let op = Op::from_name(&p.op)
                    .ok_or_else(|| Error::new(format!("unknown call kind {:?}", p.op)))?;
                let shape = Shape {
                    op,
                    inputs: p.inputs,
                    targets: p.targets,
                };
                Ok((shape, p.costs))
            })
            .collect()
    }

    /// Makes `pricer` use these prices.
    pub fn install(&self, pricer: &mut Pricer) -> Result<()> {
        for (shape, c) in self.shapes()? {
            pricer.set_price(shape, c);
        }
        for l in &self.loads {
            pricer.set_load_price(l.prime, l.costs);
        }
        Ok(())
    }
}

/// Operation counts of one standard CKKS bootstrap (full slots; see
/// README "Measured costs"): key switches, rescales, NTTs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BootstrapCounts {
    /// Key switches (rotations of the two homomorphic DFTs, conjugation,
    /// relinearisations of EvalMod).
    pub key_switches: usize,
    /// Rescales.
    pub rescales: usize,
    /// Limb NTTs of ModRaise.
    pub ntts: usize,
}

/// The counts at ring degree `2^log_n` with `top_limbs` limbs at the top:
/// CoeffsToSlots and SlotsToCoeffs each as 3 levels of a radix-`2^r`
/// BSGS DFT (`r = ceil((log_n − 1)/3)`, `2^(r+1) − 1` diagonals, `2·ceil(√diag)`
/// rotations a level); EvalMod as a degree-30 Chebyshev cosine (its BSGS
/// products) and 3 double-angle squarings on the two halves (real and
/// imaginary) of a full-slot ciphertext; a rescale per level per
/// ciphertext; ModRaise an inverse NTT of the 2 base-level polynomials and
/// a forward NTT of both at every top limb.
pub fn bootstrap_counts(log_n: u32, base_limbs: usize, top_limbs: usize) -> BootstrapCounts {
    let r = (log_n - 1).div_ceil(3);
    let diag = (1usize << (r + 1)) - 1;
    let rot = 2 * (diag as f64).sqrt().ceil() as usize;
    let dft = 2 * 3 * rot + 1;
    let evalmod = plan(&CkksPoly::interpolate(|x| x.cos(), 30)).products + 3;
    BootstrapCounts {
        key_switches: dft + 2 * evalmod,
        rescales: 2 * 3 + 2 * (evalmod + plan(&CkksPoly::interpolate(|x| x.cos(), 30)).depth),
        ntts: 2 * base_limbs + 2 * top_limbs,
    }
}

/// `ola costs`: writes the measured table; returns it.
pub fn run_costs(a: &CostsArgs) -> Result<CostTable> {
    let lit = preset(a.log_n)?;
    let priced = !a.device_run;
    let mut s = Session::open(lit, a.port.as_deref(), DeviceConfig::default())?;
    let levels = s.params.max_level();
    let ct = eval_ciphertext(&mut s, a.level)?;
    let level = ct.level();
    // The baseline's stages are measured one by one: each must fit.
    let sign = ola_approx::CompositeSign::published_relu(13)?;
    for st in sign.stages() {
        let depth = plan(&CkksPoly::new(st.coeffs().to_vec())).depth;
        if depth > level {
            return Err(Error::new(format!(
                "the baseline's degree-{} stage needs {depth} levels; N = 2^{} evaluated at \
                 level {level} has {level} (use --log-n 14 or more, or a higher --level)",
                st.degree(),
                a.log_n
            )));
        }
    }
    let modelled = CostTable::modelled(&CostModel::default(), a.max_degree.max(2))?;
    let mut degrees: Vec<usize> = match &a.degrees {
        Some(d) => d.clone(),
        None => modelled.candidate_degrees(2, a.max_degree),
    };
    degrees.sort_unstable();
    degrees.dedup();
    let slots = s.encoder.slots();
    let ct_top = s.encrypt(&fixed_inputs(slots))?;
    let mut entries = Vec::new();
    let started = Instant::now();
    for &d in &degrees {
        let p = entry_poly(d);
        let pl = plan(&p);
        if pl.depth > level {
            eprintln!("degree {d}: needs {} levels of {level}, skipped", pl.depth);
            continue;
        }
        let t = Instant::now();
        let (_, c) = s.measure_poly(priced, &ct, &p)?;
        let e = entry(d, pl.depth, pl.products, &c);
        eprintln!(
            "degree {d}: compute {} + movement {} cycles, {} levels, {} products ({:.1} s wall)",
            e.compute_cycles,
            e.data_movement_cycles,
            e.levels,
            e.ct_mults,
            t.elapsed().as_secs_f64()
        );
        entries.push(e);
    }
    if entries.is_empty() {
        return Err(Error::new("no degree fits the evaluation level"));
    }
    // Per-operation costs at the top level.
    let top = s.params.q().len();
    let (sq, _) = s.measure(priced, |e| e.mul_new(&ct_top, &ct_top))?;
    let (relin, ks) = s.measure(priced, |e| {
        let mut r = sq.clone();
        e.relinearize_assign(&mut r)?;
        Ok(r)
    })?;
    let (_, rs) = s.measure(priced, |e| {
        let mut r = relin.clone();
        e.rescale_assign(&mut r)
    })?;
    let n = s.params.n() as u32;
    let (_, nt) = s.measure(priced, |e| {
        let mut limb: Vec<u32> = (0..n).collect();
        e.ring().backend().ntt_fwd(0, &mut limb);
        Ok(())
    })?;
    let counts = bootstrap_counts(a.log_n, s.params.base_limbs(), top);
    let boot = counts.key_switches as f64 * ks.total_cycles() as f64
        + counts.rescales as f64 * rs.total_cycles() as f64
        + counts.ntts as f64 * nt.total_cycles() as f64;
    let per_level = boot / levels.max(1) as f64;
    // Baseline: the composite minimax ReLU's stages measured one by one
    // at the same level as the entries, plus the final product x · sgn.
    let mut base = CostEntry {
        degree: 0,
        compute_cycles: 0,
        data_movement_cycles: 0,
        total_cycles: 0,
        levels: 1,
        ct_mults: 1,
    };
    let (_, mul_cost) = s.measure(priced, |e| e.mul_relin_rescale_new(&ct, &ct))?;
    add_costs(&mut base, &mul_cost);
    for st in sign.stages() {
        let p = CkksPoly::new(st.coeffs().to_vec());
        let pl = plan(&p);
        let (_, c) = s.measure_poly(priced, &ct, &p)?;
        add_costs(&mut base, &c);
        base.levels += pl.depth as u32;
        base.ct_mults += pl.products as u32;
    }
    let how = if priced {
        format!(
            "priced: each evaluation run on the CPU with every backend call recorded, each of \
             {} distinct call shapes and each modulus load (LRU slots replayed) priced once on \
             the device (ola_offload::priced; equal to a device run in compute, within 0.5 % in \
             data movement)",
            s.priced_shapes()
        )
    } else {
        "device run: every evaluation on the device".to_string()
    };
    let table = CostTable {
        format: FORMAT.into(),
        source: "measured".into(),
        description: format!(
            "measured on {}, {how}: device job cycles (compute) and host-link + SPI cycles \
             (data movement, modulus loads included) of each degree's dense polynomial (the \
             interpolant of ReLU(x - 1/8)) evaluated on an encrypted ciphertext at level {level} of {levels}, N = 2^{}, {} limbs at the top; \
             baseline = composite minimax 15/15/27 stages at the same level + one product; \
             bootstrap share = ({} key switches x {} + {} rescales x {} + {} NTTs x {} cycles, \
             at the top level) / {} levels (README 'Measured costs'); {:.0} s wall",
            s.link,
            a.log_n,
            top,
            counts.key_switches,
            ks.total_cycles(),
            counts.rescales,
            rs.total_cycles(),
            counts.ntts,
            nt.total_cycles(),
            levels,
            started.elapsed().as_secs_f64()
        ),
        device: "p8".into(),
        params: CostParams {
            log_n: a.log_n,
            slots,
            levels,
            base_limbs: s.params.base_limbs(),
            special_primes: s.params.p().len(),
            digit_size: s.params.digit_size(),
        },
        bootstrap_cycles_per_level: per_level.round(),
        entries,
        baseline: base,
    };
    table.validate()?;
    write_table(&table, &a.out)?;
    if priced {
        let path = a.out.with_extension("prices.json");
        let prices = PriceFile::from_pricer(s.pricer()?, a.log_n, level);
        let json = serde_json::to_string_pretty(&prices)
            .map_err(|e| Error::new(format!("cannot serialise the prices: {e}")))?;
        std::fs::write(&path, json + "\n")
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
        println!("wrote {} (the device prices)", path.display());
    }
    Ok(table)
}

fn entry(degree: usize, levels: usize, products: usize, c: &Costs) -> CostEntry {
    let movement = c.movement_cycles() + c.load_cycles();
    CostEntry {
        degree,
        compute_cycles: c.compute_cycles,
        data_movement_cycles: movement,
        total_cycles: c.compute_cycles + movement,
        levels: levels as u32,
        ct_mults: products as u32,
    }
}

fn add_costs(e: &mut CostEntry, c: &Costs) {
    let movement = c.movement_cycles() + c.load_cycles();
    e.compute_cycles += c.compute_cycles;
    e.data_movement_cycles += movement;
    e.total_cycles += c.compute_cycles + movement;
}

fn write_table(t: &CostTable, out: &std::path::Path) -> Result<()> {
    let json = serde_json::to_string_pretty(t)
        .map_err(|e| Error::new(format!("cannot serialise the cost table: {e}")))?;
    std::fs::write(out, json)
        .map_err(|e| Error::new(format!("cannot write {}: {e}", out.display())))?;
    let csv = out.with_extension("csv");
    std::fs::write(&csv, t.to_csv())
        .map_err(|e| Error::new(format!("cannot write {}: {e}", csv.display())))?;
    println!(
        "wrote {} and {} ({} degrees, bootstrap share {:.3e} cycles per level)",
        out.display(),
        csv.display(),
        t.entries.len(),
        t.bootstrap_cycles_per_level
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // End to end on the simulated board over a pty (small: N = 2^13,
    // degree 3, a network trained briefly): the decrypted result agrees
    // with the plaintext polynomial within 2^-12 · max |p|.
    #[test]
    fn offload_meets_the_error_bar() {
        let a = OffloadArgs {
            layer: 1,
            degree: 3,
            port: None,
            log_n: 13,
            model: None,
            data: None,
            images: 2,
            train_images: 100,
            epochs: 1,
        };
        let r = run_offload(&a).unwrap();
        assert!(r.values > 1000, "{} values", r.values);
        assert!(r.max_error <= r.bound, "{} > {}", r.max_error, r.bound);
        assert!(r.costs.compute_cycles > 0 && r.costs.ntts > 0);
        assert_eq!(r.levels, 2);
    }

    // Priced evaluation against a full device run (N = 2^13, degree 3,
    // one session, both from empty modulus slots): compute cycles, jobs,
    // calls and modulus loads equal, data movement within the framing
    // bound. The ciphertext is at the top level (4), so the replay sees
    // the 4 slots cycle through 7 primes.
    #[test]
    fn priced_evaluation_equals_a_device_run() {
        let mut s = Session::open(preset(13).unwrap(), None, DeviceConfig::default()).unwrap();
        let ct = eval_ciphertext(&mut s, None).unwrap();
        assert_eq!(ct.level(), 4);
        let v = verify(&mut s, &ct, 3).unwrap();
        v.check().unwrap();
        assert!(v.device.modulus_loads > 4, "{:?}", v.device);
        assert!(v.device.compute_cycles > 0 && v.device.ntts > 0);
        // A priced evaluation that skipped a call would not pass: drop the
        // first recorded call and price again.
        let p = entry_poly(3);
        let scale = s.params.default_scale();
        ck(PolynomialEvaluator::new(&s.counted).evaluate(&ct, &p, scale)).unwrap();
        let calls = s.counter.take();
        let mut fresh = Pricer::new(s.device.clone()).unwrap();
        let short = fresh.price(&calls[1..]).unwrap();
        let broken = Verification {
            priced: short,
            ..v.clone()
        };
        assert!(broken.check().is_err());
    }

    // The built-in measured table is at the optimizer's parameters and is
    // not stale. Its first entry (which `ola costs` priced from empty
    // slots, as here) is derived again from a CPU run with the saved
    // prices: no call shape may be missing and the entry must be equal
    // (a change in ola-ckks's backend calls fails here). Then the split
    // NTT's prices are measured again on the device: compute equal, data
    // movement within the framing bound (a change in the device backend's
    // jobs or the device's cycles fails here). Regenerate with
    // `ola costs --out host/ola/data/costs-measured.json`.
    #[test]
    fn built_in_table_matches_a_fresh_pricing() {
        let t = CostTable::measured().unwrap();
        assert_eq!(t.source, "measured");
        let m = CostTable::modelled(&CostModel::default(), 7).unwrap();
        assert_eq!(t.params, m.params);
        let prices = PriceFile::parse(BUILT_IN_PRICES).unwrap();
        assert_eq!(prices.log_n, t.params.log_n);
        let e = &t.entries[0];
        let lit = preset(t.params.log_n).unwrap();
        let mut s = Session::open(lit, None, DeviceConfig::default()).unwrap();
        let ct = eval_ciphertext(&mut s, Some(prices.level)).unwrap();
        prices.install(s.pricer().unwrap()).unwrap();
        let (shapes, loads) = (prices.shapes.len(), prices.loads.len());
        let p = entry_poly(e.degree);
        let (_, c) = s.measure_poly(true, &ct, &p).unwrap();
        assert_eq!(
            (s.priced_shapes(), s.pricer().unwrap().load_prices().len()),
            (shapes, loads),
            "the evaluation made calls the saved prices lack"
        );
        assert_eq!(&entry(e.degree, plan(&p).depth, plan(&p).products, &c), e);
        for op in [Op::NttFwd, Op::NttInv] {
            let shape = Shape {
                op,
                inputs: 0,
                targets: 1,
            };
            let saved = s.pricer().unwrap().prices()[&shape];
            let fresh = s.pricer().unwrap().reprice(shape, &[0]).unwrap();
            assert_eq!(
                (fresh.compute_cycles, fresh.jobs, fresh.ntts),
                (saved.compute_cycles, saved.jobs, saved.ntts),
                "{op:?}"
            );
            let moved = fresh.movement_cycles() as f64 / saved.movement_cycles() as f64 - 1.0;
            assert!(moved.abs() <= MOVEMENT_TOLERANCE, "{op:?}: {moved}");
        }
    }

    #[test]
    fn bootstrap_counts_follow_the_model() {
        // N = 2^14: radix 2^5 per DFT level, 63 diagonals, 16 rotations a
        // level, 3 levels each way, one conjugation.
        let a = bootstrap_counts(14, 2, 11);
        assert_eq!(a.ntts, 2 * 2 + 2 * 11);
        assert!(a.key_switches > 2 * 3 * 16 + 1);
        // N = 2^12: radix 2^4, 31 diagonals, 12 rotations a level.
        let b = bootstrap_counts(12, 2, 11);
        assert_eq!(a.key_switches - b.key_switches, 2 * 3 * (16 - 12));
        assert!(bootstrap_counts(16, 3, 41).ntts > a.ntts);
    }

    #[test]
    fn unsupported_ring_sizes_are_refused() {
        assert!(preset(12).is_err());
        assert!(preset(17).is_err());
    }

    // N = 2^13 has 4 levels: the baseline's degree-27 stage needs 5, so
    // `ola costs` says so before measuring anything.
    #[test]
    fn costs_refuses_parameters_too_shallow_for_the_baseline() {
        let a = CostsArgs {
            out: std::env::temp_dir().join("ola-costs-never-written.json"),
            max_degree: 7,
            degrees: Some(vec![3]),
            port: None,
            log_n: 13,
            level: None,
            device_run: false,
            verify_degree: None,
        };
        let err = run_costs(&a).unwrap_err().to_string();
        assert!(err.contains("needs 5 levels"), "{err}");
    }
}
