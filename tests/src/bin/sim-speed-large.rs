//! Simulated cycles per wall-clock second of `ola-sim` against the
//! Verilated RTL on NTT-heavy work at N = 2^12 … 2^16 (the benchmark-only
//! `p8n16` configuration), both checked to give the same outputs on every
//! cycle and the golden model's memory. See `ola_tests::speed`.
//!
//! `cargo run --release -p ola-tests --bin sim-speed-large [-- --job-cycles C]
//! [--reps R] [--log-n 12,13,14,15,16] [--mix product|transforms|both]
//! [--no-verilator]`
//!
//! Each N runs rounds of NTT, Mul, INTT, Mac (`product`) or of NTT, INTT
//! (`transforms`) until at least `C` job cycles (default 2^21); times are
//! the best of `R` runs (default 3) for both.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ola_hdl::accelerator::Accelerator;
use ola_spec::config::Config;
use ola_tests::speed::{self, Mix, PHASES, PhaseTimes, Verilated};
use rust_hdl::prelude::{Block, generate_verilog};

struct Options {
    job_cycles: u64,
    reps: usize,
    log_ns: Vec<u32>,
    mixes: Vec<Mix>,
    verilator: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        job_cycles: 1 << 21,
        reps: 3,
        log_ns: (12..=16).collect(),
        mixes: vec![Mix::Product, Mix::Transforms],
        verilator: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--job-cycles" => {
                o.job_cycles = value(&arg)?
                    .parse()
                    .map_err(|e| format!("--job-cycles: {e}"))?
            }
            "--reps" => {
                o.reps = value(&arg)?.parse().map_err(|e| format!("--reps: {e}"))?;
                if o.reps == 0 {
                    return Err("--reps must be at least 1".into());
                }
            }
            "--log-n" => {
                o.log_ns = value(&arg)?
                    .split(',')
                    .map(|w| w.trim().parse().map_err(|e| format!("--log-n {w:?}: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--mix" => {
                o.mixes = match value(&arg)?.as_str() {
                    "product" => vec![Mix::Product],
                    "transforms" => vec![Mix::Transforms],
                    "both" => vec![Mix::Product, Mix::Transforms],
                    other => return Err(format!("--mix {other:?}: product, transforms or both")),
                }
            }
            "--no-verilator" => o.verilator = false,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sim-speed-large: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let o = options()?;
    let config = Config::named_any("p8n16").ok_or("no p8n16 configuration")?;
    let verilated = if o.verilator {
        let started = Instant::now();
        // The type parameters of p8n16 (checked against the configuration
        // by `Accelerator::new`); instantiated here only, so no other
        // build pays for it.
        let mut acc = Accelerator::<8, 14, 14, 3, 1>::new(&config);
        acc.connect_all();
        let verilog = generate_verilog(&acc);
        eprintln!(
            "Verilog of {}: {} bytes in {:.1} s",
            config.name,
            verilog.len(),
            started.elapsed().as_secs_f64()
        );
        let dir = std::env::temp_dir().join(format!("ola-sim-speed-large-{}", std::process::id()));
        let model = Verilated::build(&verilog, &dir)?;
        eprintln!(
            "Verilator build: {:.1} s in {}",
            model.build_time.as_secs_f64(),
            dir.display()
        );
        Some((model, dir))
    } else {
        None
    };
    println!(
        "| mix | N | jobs | job cycles | ola-sim cycles/s wall | ola-sim cycles/s CPU | Verilator cycles/s wall | Verilator cycles/s CPU | ratio wall | ratio CPU | ratio CPU, whole run |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut bounds = Vec::new();
    for &mix in &o.mixes {
        for &log_n in &o.log_ns {
            let script = speed::script(&config, log_n, mix, o.job_cycles)?;
            let reference = speed::reference(&config, &script)?;
            let cycles = script.phase_cycles();
            let mut sim_runs = Vec::new();
            for _ in 0..o.reps {
                let (device, times) = speed::run_simulator(&config, &script);
                if device.cycle_count() != reference.cycles {
                    return Err("the timed simulator run differs from the reference".into());
                }
                sim_runs.push(times);
            }
            let sim = PhaseTimes::best(&sim_runs);
            eprintln!(
                "{mix:?} N = 2^{log_n}: cycles {cycles:?} ({PHASES:?}), counter read {}, ola-sim best {sim:?}",
                reference.counter_read
            );
            let rate = |t: &[Duration; 3]| cycles[1] as f64 / t[1].as_secs_f64();
            let whole = |t: &[Duration; 3]| t.iter().map(Duration::as_secs_f64).sum::<f64>();
            let verilator_cells = match &verilated {
                Some((model, _)) => {
                    let mut runs = Vec::new();
                    for _ in 0..o.reps {
                        let run = model.run(&script, &reference.expected)?;
                        if run.cycles != reference.cycles {
                            return Err(format!(
                                "Verilator ran {} cycles, ola-sim {}",
                                run.cycles, reference.cycles
                            ));
                        }
                        runs.push(run.times);
                    }
                    let v = PhaseTimes::best(&runs);
                    eprintln!("{mix:?} N = 2^{log_n}: Verilator best {v:?}");
                    format!(
                        "{:.3e} | {:.3e} | {:.0}x | {:.0}x | {:.0}x",
                        rate(&v.wall),
                        rate(&v.cpu),
                        rate(&sim.wall) / rate(&v.wall),
                        rate(&sim.cpu) / rate(&v.cpu),
                        whole(&v.cpu) / whole(&sim.cpu)
                    )
                }
                None => "— | — | — | — | —".into(),
            };
            println!(
                "| {} | 2^{log_n} | {} | {} | {:.3e} | {:.3e} | {verilator_cells} |",
                match mix {
                    Mix::Product => "product",
                    Mix::Transforms => "transforms",
                },
                script.jobs.len(),
                cycles[1],
                rate(&sim.wall),
                rate(&sim.cpu),
            );
            if mix == Mix::Transforms {
                bounds.push((log_n, speed::transform_time(&script.modulus, log_n)));
            }
        }
    }
    if !bounds.is_empty() {
        println!();
        println!("| N | LazyNtt fwd + inv, CPU µs | NTT + INTT cycles (P = 8) | bound cycles/s |");
        println!("|---|---|---|---|");
        for (log_n, time) in bounds {
            let cycles = 2 * config.ntt_cycles(log_n);
            println!(
                "| 2^{log_n} | {:.1} | {cycles} | {:.3e} |",
                time.as_secs_f64() * 1e6,
                cycles as f64 / time.as_secs_f64()
            );
        }
    }
    if let Some((_, dir)) = verilated
        && std::env::var_os("OLA_KEEP_RTL").is_none()
    {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}
