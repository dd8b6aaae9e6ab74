//! `ola-boards`: list boards, and synthesise a configuration for a board
//! with the open toolchain (yosys + nextpnr), writing a utilisation / Fmax
//! report.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ola_boards::board::{BOARDS, Board};
use ola_boards::flow::{FlowOptions, MARKDOWN_HEADER, Router, Top, run_flow};
use ola_hdl::config::{CONFIGS, Config};

#[derive(Parser)]
#[command(about = "Board definitions and the yosys + nextpnr flow for the ola-fpga accelerator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the boards and their SPI link wiring.
    Boards,
    /// Synthesise, place and route; write report.json / report.md (and a
    /// bitstream for board tops) into the output directory.
    Synth {
        /// Board name (see `boards`).
        #[arg(long, default_value = "ulx3s-85f")]
        board: String,
        /// Accelerator configuration (see `ola-hdl configs`).
        #[arg(long, default_value = "p8")]
        config: String,
        /// `board` (PLL + SPI-attached accelerator on the board's pins),
        /// `spi` (SPI-attached accelerator, pins unassigned) or `core`
        /// (bare accelerator, bus as ports).
        #[arg(long, default_value = "board")]
        top: String,
        /// Accelerator clock in MHz (PLL output and timing target).
        #[arg(long, default_value_t = 125.0)]
        mhz: f64,
        /// Placer seed.
        #[arg(long, default_value_t = 1)]
        seed: u32,
        /// nextpnr's router: `router1` or `router2`.
        #[arg(long, default_value = "router2")]
        router: String,
        /// Skip packing the bitstream.
        #[arg(long)]
        no_bitstream: bool,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

fn board(name: &str) -> Result<Board, String> {
    Board::named(name).ok_or_else(|| {
        let names: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
        format!("unknown board {name:?}; known: {}", names.join(", "))
    })
}

fn config(name: &str) -> Result<Config, String> {
    Config::named(name).ok_or_else(|| {
        let names: Vec<&str> = CONFIGS.iter().map(|c| c.name).collect();
        format!(
            "unknown configuration {name:?}; known: {}",
            names.join(", ")
        )
    })
}

fn main() -> ExitCode {
    let result: Result<(), String> = match Cli::parse().command {
        Command::Boards => {
            for b in BOARDS {
                println!("{}: {}", b.name, b.description);
                if b.pinned {
                    println!("{}", b.wiring_table());
                }
            }
            Ok(())
        }
        Command::Synth {
            board: board_name,
            config: config_name,
            top,
            mhz,
            seed,
            router,
            no_bitstream,
            out,
        } => (|| {
            let options = FlowOptions {
                board: board(&board_name)?,
                config: config(&config_name)?,
                top: Top::parse(&top)
                    .ok_or_else(|| format!("unknown top {top:?}; known: board, spi, core"))?,
                mhz,
                seed,
                router: Router::parse(&router)
                    .ok_or_else(|| format!("unknown router {router:?}; known: router1, router2"))?,
                out,
                bitstream: !no_bitstream,
            };
            let report = run_flow(&options).map_err(|e| e.to_string())?;
            println!("{MARKDOWN_HEADER}\n{}", report.markdown_row());
            for (step, seconds) in &report.step_seconds {
                println!("{step}: {seconds:.1} s");
            }
            if let Some(bit) = &report.bitstream {
                println!("bitstream: {}", bit.display());
            }
            Ok(())
        })(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
