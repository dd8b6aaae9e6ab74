//! The simulator against the Verilated RTL on NTT-heavy work at
//! N = 2^12 … 2^16 (the `sim-speed-large` tool; issue 3's speed bar).
//!
//! One bus script per N on the benchmark-only `p8n16` configuration
//! (`N_max` = 2^16): load a modulus, its twiddles and two buffers of data;
//! then rounds of NTT, Mul, INTT and Mac jobs (or NTT and INTT only);
//! then read the error flags,
//! the cycle counters and the whole user memory back. The simulator runs
//! it as a caller would (idle runs skipped); a reference run steps every
//! cycle and gives the outputs the RTL must produce on each cycle, and the
//! memory is checked against the golden model. The Verilated RTL replays
//! the same script from a small C++ driver (no per-cycle file I/O, two
//! `eval`s a cycle) that compares both outputs on every cycle itself and
//! times each phase.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ola_arith::{Modulus, prime::ntt_primes};
use ola_hdl::harness::{Job, golden_job};
use ola_sim::Device;
use ola_spec::config::Config;
use ola_spec::{BUS_READ_LATENCY, BusInputs, BusModel, BusOutputs, JobOp, map};

use crate::{load_slot_writes, read, write};

/// A script step: one bus cycle, or a run of idle cycles.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// One cycle with these inputs.
    Bus(BusInputs),
    /// This many cycles with no bus access.
    Idle(u64),
}

/// The script's phases, timed separately.
pub const PHASES: [&str; 3] = ["load", "jobs", "check"];

/// One N's bus script.
pub struct Script {
    /// `log2 N`.
    pub log_n: u32,
    /// The steps, phase after phase.
    pub steps: Vec<Step>,
    /// Index of the first step of each phase of [`PHASES`].
    pub phase_starts: [usize; 3],
    /// The jobs, in order.
    pub jobs: Vec<Job>,
    /// The user memory after the load phase.
    pub initial_memory: Vec<u32>,
    /// The loaded modulus (slot 0).
    pub modulus: Modulus,
}

impl Script {
    /// Cycles of the whole script.
    pub fn cycles(&self) -> u64 {
        self.phase_cycles().iter().sum()
    }

    /// Cycles of each phase of [`PHASES`].
    pub fn phase_cycles(&self) -> [u64; 3] {
        let mut out = [0; 3];
        for (phase, cycles) in out.iter_mut().enumerate() {
            let end = self
                .phase_starts
                .get(phase + 1)
                .copied()
                .unwrap_or(self.steps.len());
            *cycles = self.steps[self.phase_starts[phase]..end]
                .iter()
                .map(|s| match s {
                    Step::Bus(_) => 1,
                    Step::Idle(k) => *k,
                })
                .sum();
        }
        out
    }
}

/// The job mix of a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// Rounds of `B = NTT(A)`, `B = B·B`, `A = INTT(B)`, `B += A·A` on
    /// buffers `A = 0` and `B = N` (a negacyclic product and an
    /// accumulation).
    Product,
    /// Rounds of `B = NTT(A)`, `A = INTT(B)` only.
    Transforms,
}

/// The best thread CPU time of one forward and one inverse transform of
/// size `2^log_n` with the simulator's fast path (`ola_arith::fast_ntt`'s
/// `LazyNtt` at the detected instruction set): what a transform costs the
/// simulator at least.
pub fn transform_time(modulus: &Modulus, log_n: u32) -> Duration {
    let plan = ola_arith::NttPlan::new(1 << log_n, *modulus).expect("an NTT-friendly modulus");
    let fast = ola_arith::fast_ntt::LazyNtt::new(&plan);
    let isa = ola_arith::simd::Isa::detect();
    let mut data: Vec<u32> = (0..1u32 << log_n).map(|i| i % modulus.value()).collect();
    let mut best = Duration::MAX;
    for _ in 0..20 {
        let started = thread_cpu_time();
        fast.fwd(isa, &mut data);
        fast.inv(isa, &mut data);
        best = best.min(thread_cpu_time() - started);
    }
    best
}

/// The jobs of one round of `mix`.
fn round(log_n: u32, mix: Mix) -> Vec<Job> {
    let n = 1u32 << log_n;
    let job = |op, a, b, dst| Job {
        op,
        log_n,
        slot: 0,
        a,
        b,
        dst,
        constant: 0,
    };
    match mix {
        Mix::Product => vec![
            job(JobOp::Ntt, 0, 0, n),
            job(JobOp::Mul, n, n, n),
            job(JobOp::Intt, n, 0, 0),
            job(JobOp::Mac, 0, 0, n),
        ],
        Mix::Transforms => vec![job(JobOp::Ntt, 0, 0, n), job(JobOp::Intt, n, 0, 0)],
    }
}

/// Engine cycles of a job, start to done.
fn job_cycles(config: &Config, job: &Job) -> u64 {
    match job.op {
        JobOp::Ntt | JobOp::Intt => config.ntt_cycles(job.log_n) as u64,
        op => config.vector_cycles(job.log_n, op.operands()) as u64,
    }
}

/// The script at `N = 2^log_n` with enough rounds of `mix` for at least
/// `job_cycles_target` job cycles (one round at least).
pub fn script(
    config: &Config,
    log_n: u32,
    mix: Mix,
    job_cycles_target: u64,
) -> Result<Script, String> {
    if log_n < config.min_log_n() || log_n > config.log_max_n {
        return Err(format!(
            "log2 N = {log_n} is outside {}..={} for {}",
            config.min_log_n(),
            config.log_max_n,
            config.name
        ));
    }
    if config.user_words() < 2 << log_n {
        return Err(format!("{} has no room for two buffers", config.name));
    }
    let q = ntt_primes(config.word_bits, config.log_max_n)
        .next()
        .ok_or("no NTT-friendly prime for this configuration")?;
    let modulus = Modulus::new(q).map_err(|e| format!("{e:?}"))?;
    let mut steps: Vec<Step> =
        load_slot_writes(config, 0, &modulus, modulus.barrett_m() as u32, |w| w)
            .into_iter()
            .map(Step::Bus)
            .collect();
    let mut initial_memory = vec![0u32; config.user_words()];
    for (i, word) in initial_memory[..2 << log_n].iter_mut().enumerate() {
        // Reduced, spread-out values (a multiplicative hash of the index).
        *word = ((i as u64 * 2_654_435_761) % q) as u32;
        steps.push(Step::Bus(write(map::DATA | i as u32, *word)));
    }
    let jobs_start = steps.len();
    let per_round: u64 = round(log_n, mix)
        .iter()
        .map(|j| job_cycles(config, j))
        .sum();
    let rounds = job_cycles_target.div_ceil(per_round).max(1);
    let mut jobs = Vec::new();
    for _ in 0..rounds {
        for job in round(log_n, mix) {
            for (register, value) in [
                (map::DESC_OP, job.op as u32),
                (map::DESC_LOG_N, job.log_n),
                (map::DESC_SLOT, job.slot),
                (map::DESC_A, job.a),
                (map::DESC_B, job.b),
                (map::DESC_DST, job.dst),
            ] {
                steps.push(Step::Bus(write(register, value)));
            }
            steps.push(Step::Bus(write(map::CONTROL, 1)));
            // Busy until the done cycle; the next access comes after it.
            steps.push(Step::Idle(job_cycles(config, &job) + 1));
            jobs.push(job);
        }
    }
    let check_start = steps.len();
    for register in [map::ERRORS, map::JOB_CYCLES, map::CYCLES_LO, map::CYCLES_HI] {
        steps.push(Step::Bus(read(register)));
    }
    for i in 0..config.user_words() as u32 {
        steps.push(Step::Bus(read(map::DATA | i)));
    }
    // The last read's word appears BUS_READ_LATENCY cycles later.
    steps.push(Step::Idle(BUS_READ_LATENCY as u64));
    Ok(Script {
        log_n,
        steps,
        phase_starts: [0, jobs_start, check_start],
        jobs,
        initial_memory,
        modulus,
    })
}

/// Wall time and thread CPU time of each phase of [`PHASES`].
#[derive(Clone, Copy, Debug, Default)]
pub struct PhaseTimes {
    /// Wall-clock time.
    pub wall: [Duration; 3],
    /// CPU time of the running thread (the machine is shared: wall time
    /// also counts the time other processes hold the core).
    pub cpu: [Duration; 3],
}

impl PhaseTimes {
    /// The best (smallest) time of each phase over several runs, wall and
    /// CPU separately.
    pub fn best(runs: &[PhaseTimes]) -> PhaseTimes {
        let mut out = PhaseTimes {
            wall: [Duration::MAX; 3],
            cpu: [Duration::MAX; 3],
        };
        for run in runs {
            for phase in 0..3 {
                out.wall[phase] = out.wall[phase].min(run.wall[phase]);
                out.cpu[phase] = out.cpu[phase].min(run.cpu[phase]);
            }
        }
        out
    }
}

/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a
    // constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs the script on the simulator as a caller would (idle runs skipped)
/// and times each phase; returns the device and the times.
pub fn run_simulator(config: &Config, script: &Script) -> (Device, PhaseTimes) {
    let mut device = Device::new(*config);
    let mut times = PhaseTimes::default();
    for phase in 0..3 {
        let end = script
            .phase_starts
            .get(phase + 1)
            .copied()
            .unwrap_or(script.steps.len());
        let (started, cpu) = (Instant::now(), thread_cpu_time());
        for step in &script.steps[script.phase_starts[phase]..end] {
            match step {
                Step::Bus(inputs) => {
                    device.cycle(inputs);
                }
                Step::Idle(k) => device.idle(*k),
            }
        }
        times.wall[phase] = started.elapsed();
        times.cpu[phase] = thread_cpu_time() - cpu;
    }
    (device, times)
}

/// Outputs on every cycle, run-length encoded: `(cycles, outputs)`.
pub type Expected = Vec<(u64, BusOutputs)>;

/// What the reference run established.
pub struct Reference {
    /// The outputs on every cycle (from a simulator stepping every cycle).
    pub expected: Expected,
    /// Cycles of the script.
    pub cycles: u64,
    /// The cycle counter read in the check phase (`CYCLES_HI:CYCLES_LO`).
    pub counter_read: u64,
}

/// Checks the script on the simulator without timing it: skipping idle
/// cycles changes no output of a bus cycle, no memory word and no cycle
/// count (against a run that steps every cycle); no job is refused; the
/// read-back memory equals the golden model's. Returns every cycle's
/// outputs for the RTL to match.
pub fn reference(config: &Config, script: &Script) -> Result<Reference, String> {
    let mut fast = Device::new(*config);
    let mut slow = Device::new(*config);
    let mut expected: Expected = Vec::new();
    // The word of each read, BUS_READ_LATENCY cycles after it.
    let mut reads: Vec<u32> = Vec::new();
    // Whether the read answered in each of the next cycles was issued.
    let mut read_pending = [false; BUS_READ_LATENCY];
    for step in &script.steps {
        let (inputs, count) = match step {
            Step::Bus(inputs) => (*inputs, 1),
            Step::Idle(k) => (BusInputs::default(), *k),
        };
        let fast_out = match step {
            Step::Bus(inputs) => Some(fast.cycle(inputs)),
            Step::Idle(k) => {
                fast.idle(*k);
                None
            }
        };
        for k in 0..count {
            let cycle = slow.cycle_count();
            let out = slow.cycle(&inputs);
            if k == 0 && fast_out.is_some_and(|f| f != out) {
                return Err(format!(
                    "cycle {cycle}: the simulator skipping idle cycles gives {fast_out:?}, stepping every cycle {out:?}"
                ));
            }
            if read_pending[0] {
                reads.push(out.read_data);
            }
            read_pending.rotate_left(1);
            read_pending[BUS_READ_LATENCY - 1] = inputs.read;
            match expected.last_mut() {
                Some((run, last)) if *last == out => *run += 1,
                _ => expected.push((1, out)),
            }
        }
    }
    if fast.cycle_count() != slow.cycle_count() || fast.memory() != slow.memory() {
        return Err("skipping idle cycles changed the cycle count or the memory".into());
    }
    let mut golden = script.initial_memory.clone();
    for job in &script.jobs {
        golden_job(config, &mut golden, job, &script.modulus);
    }
    let Some(&[errors, last_job, lo, hi]) = reads.get(..4) else {
        return Err("the check phase reads four registers first".into());
    };
    if errors != 0 {
        return Err(format!("error flags {errors:#x} after the jobs"));
    }
    if let Some(job) = script.jobs.last()
        && last_job as u64 != job_cycles(config, job)
    {
        return Err(format!(
            "JOB_CYCLES reads {last_job}, the formula says {}",
            job_cycles(config, job)
        ));
    }
    if reads[4..] != golden[..] || fast.memory() != &golden[..] {
        let first = reads[4..]
            .iter()
            .zip(&golden)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(format!(
            "memory differs from the golden model (first at word {first})"
        ));
    }
    Ok(Reference {
        expected,
        cycles: slow.cycle_count(),
        counter_read: (hi as u64) << 32 | lo as u64,
    })
}

/// The Verilated RTL with the C++ driver, built once.
pub struct Verilated {
    dir: PathBuf,
    /// Wall time of the build (Verilator and the C++ compiler).
    pub build_time: Duration,
}

/// One Verilator run of a script.
pub struct VerilatorRun {
    /// Cycles simulated.
    pub cycles: u64,
    /// Wall and CPU time of each phase of [`PHASES`].
    pub times: PhaseTimes,
}

/// The C++ driver: reads the script and the expected outputs (binary,
/// little-endian), then runs the model with both outputs compared on every
/// cycle and the phases timed (file reading excluded).
const DRIVER: &str = r#"#include "Vtop.h"
#include "verilated.h"
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <vector>

struct Step { uint64_t count; uint32_t address, data, flags, pad; };
struct Expect { uint64_t count; uint32_t read_data, busy; };

static double cpu_now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

template <class T> static std::vector<T> load(const char* path) {
    std::vector<T> v;
    FILE* f = std::fopen(path, "rb");
    if (!f) { std::perror(path); std::exit(2); }
    T x;
    while (std::fread(&x, sizeof x, 1, f) == 1) v.push_back(x);
    std::fclose(f);
    return v;
}

int main(int argc, char** argv) {
    if (argc != 5) { std::fprintf(stderr, "usage: steps expect jobs_start check_start\n"); return 2; }
    const auto steps = load<Step>(argv[1]);
    const auto expect = load<Expect>(argv[2]);
    const size_t marks[2] = {std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10)};
    auto context = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vtop>(context.get());
    top->clock = 0;
    top->bus_address = 0;
    top->bus_write_data = 0;
    top->bus_write = 0;
    top->bus_read = 0;
    top->eval();
    uint64_t cycle = 0, mismatch = UINT64_MAX;
    uint32_t got[2] = {0, 0}, want[2] = {0, 0};
    size_t e = 0;
    uint64_t left = expect.empty() ? 0 : expect[0].count;
    double times[3] = {0, 0, 0}, cpu[3] = {0, 0, 0};
    int phase = 0;
    auto started = std::chrono::steady_clock::now();
    double cpu_started = cpu_now();
    for (size_t s = 0; s < steps.size(); ++s) {
        while (phase < 2 && marks[phase] == s) {
            auto now = std::chrono::steady_clock::now();
            times[phase] = std::chrono::duration<double>(now - started).count();
            started = now;
            const double c = cpu_now();
            cpu[phase] = c - cpu_started;
            cpu_started = c;
            ++phase;
        }
        const Step& st = steps[s];
        top->bus_address = st.address;
        top->bus_write_data = st.data;
        top->bus_write = st.flags & 1;
        top->bus_read = (st.flags >> 1) & 1;
        for (uint64_t k = 0; k < st.count; ++k) {
            // Inputs settle (and the clock falls), outputs are sampled,
            // then the rising edge.
            top->eval();
            if (e < expect.size()) {
                const Expect& x = expect[e];
                if (mismatch == UINT64_MAX && (top->bus_read_data != x.read_data || top->busy != x.busy)) {
                    mismatch = cycle;
                    got[0] = top->bus_read_data; got[1] = top->busy;
                    want[0] = x.read_data; want[1] = x.busy;
                }
                if (--left == 0 && ++e < expect.size()) left = expect[e].count;
            } else if (mismatch == UINT64_MAX) {
                mismatch = cycle;
            }
            top->clock = 1;
            top->eval();
            top->clock = 0;
            ++cycle;
        }
    }
    times[phase] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    cpu[phase] = cpu_now() - cpu_started;
    top->final();
    std::printf("cycles %llu\n", (unsigned long long)cycle);
    std::printf("times %.9f %.9f %.9f\n", times[0], times[1], times[2]);
    std::printf("cpu %.9f %.9f %.9f\n", cpu[0], cpu[1], cpu[2]);
    if (mismatch != UINT64_MAX)
        std::printf("mismatch %llu %u %u %u %u\n", (unsigned long long)mismatch, got[0], got[1], want[0], want[1]);
    return 0;
}
"#;

/// [`ola_hdl::rtl_sim::run`] with its error as text, as this module reports.
fn run(command: &mut Command) -> Result<String, String> {
    ola_hdl::rtl_sim::run(command).map_err(|e| e.to_string())
}

impl Verilated {
    /// Verilates `verilog` (top module `top`, the accelerator's bus ports)
    /// with the driver in a fresh directory under `dir`: `verilator --cc
    /// --exe --build -O3 --x-assign fast`, single-threaded model.
    pub fn build(verilog: &str, dir: &Path) -> Result<Verilated, String> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(dir.join("top.v"), verilog).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("driver.cpp"), DRIVER).map_err(|e| e.to_string())?;
        let started = Instant::now();
        run(Command::new("verilator").current_dir(dir).args([
            "--cc",
            "--exe",
            "--build",
            "-O3",
            "--x-assign",
            "fast",
            "--noassert",
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
            "--top-module",
            "top",
            "-Mdir",
            "obj",
            "-j",
            "2",
            "-MAKEFLAGS",
            "OPT_FAST=-O2",
            "top.v",
            "driver.cpp",
        ]))?;
        Ok(Verilated {
            dir: dir.to_path_buf(),
            build_time: started.elapsed(),
        })
    }

    /// Runs `script` on the model, comparing its outputs with `expected`
    /// on every cycle.
    pub fn run(&self, script: &Script, expected: &Expected) -> Result<VerilatorRun, String> {
        let mut steps = Vec::with_capacity(script.steps.len() * 24);
        for step in &script.steps {
            let (inputs, count) = match step {
                Step::Bus(inputs) => (*inputs, 1),
                Step::Idle(k) => (BusInputs::default(), *k),
            };
            steps.extend_from_slice(&count.to_le_bytes());
            steps.extend_from_slice(&inputs.address.to_le_bytes());
            steps.extend_from_slice(&inputs.write_data.to_le_bytes());
            let flags = inputs.write as u32 | (inputs.read as u32) << 1;
            steps.extend_from_slice(&flags.to_le_bytes());
            steps.extend_from_slice(&0u32.to_le_bytes());
        }
        let mut expect = Vec::with_capacity(expected.len() * 16);
        for (count, out) in expected {
            expect.extend_from_slice(&count.to_le_bytes());
            expect.extend_from_slice(&out.read_data.to_le_bytes());
            expect.extend_from_slice(&(out.busy as u32).to_le_bytes());
        }
        std::fs::write(self.dir.join("steps.bin"), steps).map_err(|e| e.to_string())?;
        std::fs::write(self.dir.join("expect.bin"), expect).map_err(|e| e.to_string())?;
        let text = run(Command::new(self.dir.join("obj/Vtop"))
            .current_dir(&self.dir)
            .arg("steps.bin")
            .arg("expect.bin")
            .arg(script.phase_starts[1].to_string())
            .arg(script.phase_starts[2].to_string()))?;
        let mut cycles = None;
        let mut wall = None;
        let mut cpu = None;
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.first() {
                Some(&"cycles") => cycles = words.get(1).and_then(|w| w.parse::<u64>().ok()),
                Some(&kind @ ("times" | "cpu")) => {
                    let t: Vec<f64> = words[1..].iter().filter_map(|w| w.parse().ok()).collect();
                    if let [a, b, c] = t[..] {
                        let parsed = Some([a, b, c].map(Duration::from_secs_f64));
                        if kind == "cpu" {
                            cpu = parsed;
                        } else {
                            wall = parsed;
                        }
                    }
                }
                Some(&"mismatch") => {
                    let mut message = String::new();
                    let _ = write!(
                        message,
                        "Verilator differs from ola-sim at cycle {} (bus_read_data, busy: got {}, {}; want {}, {})",
                        words.get(1).unwrap_or(&"?"),
                        words.get(2).unwrap_or(&"?"),
                        words.get(3).unwrap_or(&"?"),
                        words.get(4).unwrap_or(&"?"),
                        words.get(5).unwrap_or(&"?"),
                    );
                    return Err(message);
                }
                _ => {}
            }
        }
        match (cycles, wall, cpu) {
            (Some(cycles), Some(wall), Some(cpu)) => Ok(VerilatorRun {
                cycles,
                times: PhaseTimes { wall, cpu },
            }),
            _ => Err(format!("unexpected driver output:\n{text}")),
        }
    }
}
