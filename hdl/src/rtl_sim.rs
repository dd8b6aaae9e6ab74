//! Runs emitted Verilog in real Verilog simulators, cycle by cycle.
//!
//! RustHDL's simulator and the Verilog it writes can disagree (widths in
//! casts, for one), so every unit is also run as Verilog: this module writes
//! a testbench that applies one stimulus vector per clock cycle (the same
//! protocol as [`crate::testing::tick`]: inputs, rising edge, falling edge,
//! sample outputs), runs it under Verilator (`--binary`) or Icarus Verilog,
//! and returns the sampled outputs. It also lints with
//! `verilator --lint-only -Wall` under [`LINT_WAIVERS`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Verilator warnings we waive entirely, each with the reason.
pub const LINT_WAIVERS: &[(&str, &str)] = &[(
    "DECLFILENAME",
    "RustHDL names the top module `top` whatever the file is called",
)];

/// Narrow waivers passed to Verilator as a configuration file: partly used
/// bits of 32-bit row/address registers (see the file for the reason).
pub const LINT_CONFIG: &str = include_str!("lint.vlt");

/// A port of the design under test.
#[derive(Clone, Debug)]
pub struct Port {
    /// Verilog port name.
    pub name: String,
    /// Width in bits (1..=64).
    pub bits: usize,
}

impl Port {
    /// A port.
    pub fn new(name: &str, bits: usize) -> Self {
        assert!((1..=64).contains(&bits), "port {name} is {bits} bits");
        Port {
            name: name.into(),
            bits,
        }
    }
}

/// Which Verilog simulator to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simulator {
    /// Verilator 5 (`--binary`).
    Verilator,
    /// Icarus Verilog (`iverilog -g2005` + `vvp`).
    Icarus,
}

impl Simulator {
    fn program(self) -> &'static str {
        match self {
            Simulator::Verilator => "verilator",
            Simulator::Icarus => "iverilog",
        }
    }

    /// Whether the simulator is installed.
    pub fn available(self) -> bool {
        Command::new(self.program())
            .arg("-V")
            .output()
            .map(|o| o.status.success() || !o.stdout.is_empty())
            .unwrap_or(false)
    }
}

/// When the testbench samples the outputs within each cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// After the cycle's edges, like [`crate::testing::tick`] then `.val()`.
    AfterEdge,
    /// After the inputs settle and before the rising edge, like
    /// [`crate::harness::EngineModel::cycle`].
    BeforeEdge,
}

/// A failure to build or run the Verilog.
#[derive(Debug)]
pub struct RtlError(pub String);

impl std::fmt::Display for RtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RtlError {}

/// Runs a tool to completion: its stdout and stderr together, or an
/// [`RtlError`] with that text when it cannot start or exits unsuccessfully.
pub fn run(cmd: &mut Command) -> Result<String, RtlError> {
    let out = cmd
        .output()
        .map_err(|e| RtlError(format!("cannot start {cmd:?}: {e}")))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(RtlError(format!("{cmd:?} failed:\n{text}")))
    }
}

/// A fresh scratch directory for one run under the system temp dir.
pub fn scratch_dir(label: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ola-hdl-{label}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// `verilator --lint-only -Wall` with [`LINT_WAIVERS`]; returns the
/// diagnostics (empty when clean) or an error when Verilator rejects it.
pub fn lint(verilog_file: &Path) -> Result<String, RtlError> {
    let mut cmd = Command::new("verilator");
    cmd.args(["--lint-only", "-Wall", "--top-module", "top"]);
    for (warning, _) in LINT_WAIVERS {
        cmd.arg(format!("-Wno-{warning}"));
    }
    let config = verilog_file.with_extension("vlt");
    std::fs::write(&config, LINT_CONFIG)
        .map_err(|e| RtlError(format!("cannot write {}: {e}", config.display())))?;
    cmd.arg(&config).arg(verilog_file);
    run(&mut cmd)
}

/// `iverilog -g2005` compile check.
pub fn icarus_compile(verilog_file: &Path) -> Result<(), RtlError> {
    let out = verilog_file.with_extension("vvp");
    run(Command::new("iverilog")
        .args(["-g2005", "-s", "top", "-o"])
        .arg(&out)
        .arg(verilog_file))
    .map(|_| ())
}

fn testbench(
    clock: &str,
    inputs: &[Port],
    outputs: &[Port],
    cycles: usize,
    sampling: Sampling,
) -> String {
    let total: usize = inputs.iter().map(|p| p.bits).sum();
    let mut tb = String::from("`timescale 1ns/1ps\nmodule tb;\n");
    writeln!(tb, "  reg {clock} = 1'b0;").unwrap();
    for p in inputs {
        writeln!(tb, "  reg [{}:0] {} = 0;", p.bits - 1, p.name).unwrap();
    }
    for p in outputs {
        writeln!(tb, "  wire [{}:0] {};", p.bits - 1, p.name).unwrap();
    }
    let connections: Vec<String> = std::iter::once(clock.to_string())
        .chain(inputs.iter().chain(outputs).map(|p| p.name.clone()))
        .map(|n| format!(".{n}({n})"))
        .collect();
    writeln!(tb, "  top dut({});", connections.join(", ")).unwrap();
    writeln!(tb, "  reg [{}:0] stimulus [0:{}];", total - 1, cycles - 1).unwrap();
    tb.push_str("  integer cycle, fd;\n  initial begin\n");
    tb.push_str("    $readmemh(\"stimulus.hex\", stimulus);\n");
    tb.push_str("    fd = $fopen(\"outputs.txt\", \"w\");\n");
    writeln!(
        tb,
        "    for (cycle = 0; cycle < {cycles}; cycle = cycle + 1) begin"
    )
    .unwrap();
    let names: Vec<&str> = inputs.iter().map(|p| p.name.as_str()).collect();
    writeln!(tb, "      {{{}}} = stimulus[cycle];", names.join(", ")).unwrap();
    let formats = vec!["%h"; outputs.len()].join(" ");
    let outs: Vec<&str> = outputs.iter().map(|p| p.name.as_str()).collect();
    let sample = format!("$fwrite(fd, \"{formats}\\n\", {});", outs.join(", "));
    let edges = format!("#1 {clock} = 1'b1;\n      #1 {clock} = 1'b0;");
    match sampling {
        Sampling::AfterEdge => writeln!(tb, "      {edges}\n      #1 {sample}").unwrap(),
        Sampling::BeforeEdge => writeln!(tb, "      #1 {sample}\n      {edges}").unwrap(),
    }
    tb.push_str("    end\n    $fclose(fd);\n    $finish;\n  end\nendmodule\n");
    tb
}

/// Simulates `verilog` (whose top module is `top`, clocked by `clock`) for
/// `stimulus.len()` cycles, applying `stimulus[c]` (one value per input
/// port) before the rising edge of cycle `c`, and returns the outputs sampled
/// after that cycle's falling edge.
pub fn run_cycles(
    simulator: Simulator,
    label: &str,
    verilog: &str,
    clock: &str,
    inputs: &[Port],
    outputs: &[Port],
    stimulus: &[Vec<u64>],
) -> Result<Vec<Vec<u64>>, RtlError> {
    run_cycles_sampled(
        simulator,
        label,
        verilog,
        clock,
        inputs,
        outputs,
        stimulus,
        Sampling::AfterEdge,
    )
}

/// [`run_cycles`] with a choice of when outputs are sampled.
#[allow(clippy::too_many_arguments)]
pub fn run_cycles_sampled(
    simulator: Simulator,
    label: &str,
    verilog: &str,
    clock: &str,
    inputs: &[Port],
    outputs: &[Port],
    stimulus: &[Vec<u64>],
    sampling: Sampling,
) -> Result<Vec<Vec<u64>>, RtlError> {
    run_cycles_timed(
        simulator, label, verilog, clock, inputs, outputs, stimulus, sampling,
    )
    .map(|(rows, _)| rows)
}

/// [`run_cycles_sampled`], also returning the wall time of the simulation
/// run alone (not of building it), for speed comparisons.
#[allow(clippy::too_many_arguments)]
pub fn run_cycles_timed(
    simulator: Simulator,
    label: &str,
    verilog: &str,
    clock: &str,
    inputs: &[Port],
    outputs: &[Port],
    stimulus: &[Vec<u64>],
    sampling: Sampling,
) -> Result<(Vec<Vec<u64>>, std::time::Duration), RtlError> {
    assert!(!stimulus.is_empty() && !inputs.is_empty() && !outputs.is_empty());
    let dir = scratch_dir(label);
    std::fs::write(dir.join("top.v"), verilog).map_err(|e| RtlError(e.to_string()))?;
    std::fs::write(
        dir.join("tb.v"),
        testbench(clock, inputs, outputs, stimulus.len(), sampling),
    )
    .map_err(|e| RtlError(e.to_string()))?;
    let mut hex = String::new();
    for vector in stimulus {
        assert_eq!(vector.len(), inputs.len(), "one value per input port");
        // Pack most significant (first port) first, as the testbench unpacks.
        let mut bits = Vec::new();
        for (value, port) in vector.iter().zip(inputs) {
            for i in (0..port.bits).rev() {
                bits.push((value >> i) & 1);
            }
        }
        while bits.len() % 4 != 0 {
            bits.insert(0, 0);
        }
        for nibble in bits.chunks(4) {
            let v = nibble.iter().fold(0, |acc, b| acc * 2 + b);
            hex.push(char::from_digit(v as u32, 16).unwrap());
        }
        hex.push('\n');
    }
    std::fs::write(dir.join("stimulus.hex"), hex).map_err(|e| RtlError(e.to_string()))?;
    // Build, then time the simulation run alone.
    let mut simulation = match simulator {
        Simulator::Verilator => {
            let mut cmd = Command::new("verilator");
            cmd.current_dir(&dir).args([
                "--binary",
                "--timing",
                "-O2",
                "-Wno-fatal",
                "-Wno-lint",
                "-Wno-style",
                "--top-module",
                "tb",
                "-Mdir",
                "obj",
                "-j",
                "2",
                "tb.v",
                "top.v",
            ]);
            run(&mut cmd)?;
            Command::new(dir.join("obj/Vtb"))
        }
        Simulator::Icarus => {
            run(Command::new("iverilog")
                .current_dir(&dir)
                .args(["-g2005", "-s", "tb", "-o", "tb.vvp", "tb.v", "top.v"]))?;
            let mut vvp = Command::new("vvp");
            vvp.args(["-n", "tb.vvp"]);
            vvp
        }
    };
    let started = std::time::Instant::now();
    run(simulation.current_dir(&dir))?;
    let run_time = started.elapsed();
    let text = std::fs::read_to_string(dir.join("outputs.txt"))
        .map_err(|e| RtlError(format!("no outputs: {e}")))?;
    let rows: Result<Vec<Vec<u64>>, RtlError> = text
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(|h| {
                    u64::from_str_radix(h, 16)
                        .map_err(|_| RtlError(format!("output {h:?} is not hex (x or z?)")))
                })
                .collect()
        })
        .collect();
    let rows = rows?;
    if rows.len() != stimulus.len() {
        return Err(RtlError(format!(
            "expected {} output rows, got {}",
            stimulus.len(),
            rows.len()
        )));
    }
    // OLA_KEEP_RTL keeps the testbench, stimulus and outputs for debugging.
    if std::env::var_os("OLA_KEEP_RTL").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok((rows, run_time))
}

/// Whether a test needing `simulator` should run: yes when it is installed;
/// when it is not, tests skip with a message, except under CI (`CI` set),
/// where a missing tool is a failure.
pub fn tool_or_skip(simulator: Simulator, test: &str) -> bool {
    if simulator.available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: {} is required under CI but not installed",
        simulator.program()
    );
    eprintln!(
        "SKIPPED {test}: {} not installed (apt-get install -y iverilog verilator)",
        simulator.program()
    );
    false
}
