//! `ola-hdl`: emit the accelerator's Verilog, list configurations, and
//! measure NTT cycle counts on the RTL.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ola_arith::{Modulus, NttPlan, prime::ntt_primes};
use ola_hdl::config::{CONFIGS, Config};
use ola_hdl::engine::JobOp;
use ola_hdl::harness::{BusDriver, Job, JobDevice, JobOutcome};
use ola_hdl::{with_accelerator, with_spi_accelerator};
use rust_hdl::prelude::generate_verilog;

#[derive(Parser)]
#[command(
    about = "RustHDL NTT + modular-multiply accelerator: Verilog, configurations, cycle benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the Verilog of a named configuration (top module `top`).
    Verilog {
        /// Configuration name (see `configs`).
        #[arg(long)]
        config: String,
        /// Which top: `bus` (the accelerator on its word bus) or `spi` (the
        /// SPI bridge in front of it; ports sck, mosi, cs_n, miso, busy).
        #[arg(long, value_enum, default_value_t = Top::Bus)]
        top: Top,
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// List the named configurations and their sizes.
    Configs,
    /// Run NTT and INTT jobs on the RTL (RustHDL simulation, through the
    /// bus) and print cycles against the (N/2)·log2(N)/P bound.
    Bench {
        /// Comma-separated configuration names.
        #[arg(long, default_value = "p1,p2,p4,p8")]
        configs: String,
        /// Smallest log2 N to measure (default: the configuration's minimum).
        #[arg(long)]
        min_log_n: Option<u32>,
    },
}

/// The design to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Top {
    /// `Accelerator`: the word bus as ports.
    Bus,
    /// `SpiAccelerator`: the board's SPI pins as ports.
    Spi,
}

fn lookup(name: &str) -> Result<Config, String> {
    Config::named(name).ok_or_else(|| {
        let names: Vec<&str> = CONFIGS.iter().map(|c| c.name).collect();
        format!(
            "unknown configuration {name:?}; known: {}",
            names.join(", ")
        )
    })
}

fn verilog(config: &str, top: Top, out: &PathBuf) -> Result<(), String> {
    let config = lookup(config)?;
    let text = match top {
        Top::Bus => with_accelerator!(config, |acc| generate_verilog(&acc)),
        Top::Spi => with_spi_accelerator!(config, |acc| generate_verilog(&acc)),
    }
    .ok_or_else(|| format!("configuration {} has no instantiation", config.name))?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let prefix = match top {
        Top::Bus => "ola_accelerator",
        Top::Spi => "ola_spi_accelerator",
    };
    let file = out.join(format!("{prefix}_{}.v", config.name));
    // Write to a temporary name first so a failure never leaves half a file.
    let partial = file.with_extension("v.partial");
    std::fs::write(&partial, text)
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    std::fs::rename(&partial, &file)
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    println!("{}", file.display());
    Ok(())
}

fn configs() {
    println!(
        "{:<6} {:>5} {:>7} {:>5} {:>6} {:>8} {:>10} {:>12}",
        "name", "lanes", "max N", "bits", "moduli", "buffers", "user words", "limbs @ maxN"
    );
    for c in CONFIGS {
        println!(
            "{:<6} {:>5} {:>7} {:>5} {:>6} {:>8} {:>10} {:>12}",
            c.name,
            c.lanes,
            c.max_n(),
            c.word_bits,
            c.moduli,
            1usize << c.log_buffers,
            c.user_words(),
            c.user_words() / c.max_n()
        );
    }
}

fn bench(names: &str, min_log_n: Option<u32>) -> Result<(), String> {
    println!(
        "{:>6} {:>2} {:>5} {:>8} {:>9} {:>9} {:>8} {:>11}",
        "N", "P", "op", "cycles", "bound", "1.03xbnd", "overhead", "utilisation"
    );
    for name in names.split(',') {
        let config = lookup(name.trim())?;
        let rows = with_accelerator!(config, |acc| {
            let mut d = BusDriver::new(acc, config);
            let q = ntt_primes(config.word_bits, config.log_max_n)
                .next()
                .ok_or("no NTT prime for this configuration")?;
            let m = Modulus::new(q).map_err(|e| e.to_string())?;
            d.load_modulus(0, &m);
            d.load_twiddles(
                0,
                &NttPlan::new(config.max_n(), m).map_err(|e| e.to_string())?,
            );
            let data: Vec<u32> = (0..config.max_n() as u32)
                .map(|i| i * 7 % m.value())
                .collect();
            d.write_words(0, &data);
            let mut rows = Vec::new();
            for log_n in min_log_n
                .unwrap_or(config.min_log_n())
                .max(config.min_log_n())..=config.log_max_n
            {
                for op in [JobOp::Ntt, JobOp::Intt] {
                    let job = Job {
                        op,
                        log_n,
                        slot: 0,
                        a: 0,
                        b: 0,
                        dst: config.max_n() as u32,
                        constant: 0,
                    };
                    match d.run(&job, 1 << 22) {
                        JobOutcome::Done(cycles) => rows.push((log_n, op, cycles)),
                        JobOutcome::Rejected(flags) => {
                            return Err(format!("{job:?} refused: {flags:#x}"));
                        }
                    }
                }
            }
            Ok::<_, String>(rows)
        })
        .ok_or_else(|| format!("configuration {} has no instantiation", config.name))??;
        for (log_n, op, cycles) in rows {
            let bound = config.ntt_bound(log_n);
            println!(
                "{:>6} {:>2} {:>5} {:>8} {:>9.0} {:>9.0} {:>8.0} {:>10.2}%",
                1u32 << log_n,
                config.lanes,
                if op == JobOp::Ntt { "NTT" } else { "INTT" },
                cycles,
                bound,
                1.03 * bound,
                cycles as f64 - bound,
                100.0 * bound / cycles as f64
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Verilog { config, top, out } => verilog(config, *top, out),
        Command::Configs => {
            configs();
            Ok(())
        }
        Command::Bench { configs, min_log_n } => bench(configs, *min_log_n),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
