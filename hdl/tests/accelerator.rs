//! The whole accelerator through its bus: registers, counters, error flags,
//! random job sessions for P ∈ {1, 2, 4, 8} against the golden model in the
//! RustHDL simulator, and the emitted Verilog (lint, iverilog, Verilator)
//! replaying the same sessions with equal outputs on every cycle.

use ola_arith::{Modulus, prime::ntt_primes};
use ola_hdl::accelerator::{Accelerator, BUS_READ_LATENCY, map};
use ola_hdl::config::{Config, ERR_ACCESS_WHILE_BUSY, ERR_BAD_ADDRESS, ERR_BUSY};
use ola_hdl::engine::JobOp;
use ola_hdl::harness::{
    BusDriver, BusModel, Job, JobDevice, JobOutcome, random_session, replay_bus_in_verilog,
};
use ola_hdl::rtl_sim::{self, Simulator};
use rust_hdl::prelude::*;

const TEST_P1: Config = Config::new("test-p1", 1, 7, 30, 2, 3);
const TEST_P2: Config = Config::new("test-p2", 2, 7, 30, 2, 3);
const TEST_P4: Config = Config::new("test-p4", 4, 7, 30, 2, 3);
const TEST_P8: Config = Config::new("test-p8", 8, 7, 30, 2, 3);

fn moduli(config: &Config) -> Vec<Modulus> {
    ntt_primes(config.word_bits, config.log_max_n)
        .take(config.moduli)
        .map(|q| Modulus::new(q).unwrap())
        .collect()
}

/// Register behaviour that the random sessions do not exercise.
fn register_checks<A: BusModel>(d: &mut BusDriver<A>) {
    let config = d.config;
    assert_eq!(d.read(map::ID), map::ID_VALUE);
    let word = d.read(map::CONFIG);
    assert_eq!(word & 0xFF, config.lanes as u32);
    assert_eq!((word >> 8) & 0xFF, config.log_max_n);
    assert_eq!((word >> 16) & 0xFF, config.word_bits);
    assert_eq!(word >> 24, config.moduli as u32);
    assert_eq!(d.read(map::USER_WORDS), config.user_words() as u32);
    // The cycle counter advances by exactly the cycles between reads (each
    // read waits BUS_READ_LATENCY cycles for its word).
    let first = d.read(map::CYCLES_LO);
    let second = d.read(map::CYCLES_LO);
    assert_eq!(second - first, 1 + BUS_READ_LATENCY as u32);
    assert_eq!(d.read(map::CYCLES_HI), 0);
    // Unmapped and write-only addresses raise ERR_BAD_ADDRESS.
    d.write(map::CONTROL, 2);
    assert_eq!(d.read(0x0000_0077), 0);
    assert_eq!(d.read(map::ERRORS), ERR_BAD_ADDRESS);
    d.write(map::CONTROL, 2);
    d.write(0x5000_0000, 1);
    assert_eq!(d.read(map::ERRORS), ERR_BAD_ADDRESS);
    // Memory regions end where their memories do: no aliasing.
    for address in [
        map::DATA | config.user_words() as u32,
        map::TWIDDLE | config.twiddle_words() as u32,
        map::TWIDDLE_EARLY | config.early_twiddle_words() as u32,
    ] {
        d.write(map::CONTROL, 2);
        d.write(address, 99);
        assert_eq!(d.read(map::ERRORS), ERR_BAD_ADDRESS, "{address:#x}");
    }
    d.write(map::DATA | (config.user_words() as u32 - 1), 7);
    d.write(map::CONTROL, 2);
    assert_eq!(d.read(map::DATA | config.user_words() as u32), 0);
    assert_eq!(d.read(map::ERRORS), ERR_BAD_ADDRESS);
    assert_eq!(d.read(map::DATA | (config.user_words() as u32 - 1)), 7);
    d.write(map::CONTROL, 2);
    assert_eq!(d.read(map::ERRORS), 0);
    // A rejected modulus leaves its slot invalid; a good one reads back.
    let good = moduli(&config)[0];
    d.load_modulus(1, &Modulus::new(7681).unwrap());
    d.write(map::MOD_SLOT, 1);
    assert_eq!(d.read(map::MOD_READBACK), 0);
    d.load_modulus(0, &good);
    d.write(map::MOD_SLOT, 0);
    assert_eq!(d.read(map::MOD_READBACK), good.value());
}

/// While a job runs: a second start, memory and modulus access are refused.
fn busy_checks<A: BusModel>(d: &mut BusDriver<A>) {
    let config = d.config;
    let log_n = config.log_max_n;
    d.write(map::CONTROL, 2);
    for (reg, value) in [
        (map::DESC_OP, JobOp::Ntt as u32),
        (map::DESC_LOG_N, log_n),
        (map::DESC_SLOT, 0),
        (map::DESC_A, 0),
        (map::DESC_DST, 1 << log_n),
    ] {
        d.write(reg, value);
    }
    let before = d.read_words(1 << log_n, 4);
    d.write(map::CONTROL, 1);
    assert!(d.cycle(Default::default()).busy);
    d.write(map::CONTROL, 1);
    assert_eq!(d.read(map::ERRORS), ERR_BUSY);
    d.write(map::DATA | (1 << log_n), 12345);
    d.write(map::MOD_COMMIT, 1);
    assert_eq!(d.read(map::ERRORS), ERR_BUSY | ERR_ACCESS_WHILE_BUSY);
    assert_eq!(d.read(map::DATA), 0, "memory reads while busy return 0");
    while d.read(map::STATUS) & 1 == 1 {}
    assert_eq!(d.read(map::STATUS), 0b110, "done and error bits");
    assert_eq!(d.read(map::JOB_CYCLES) as usize, config.ntt_cycles(log_n));
    d.write(map::CONTROL, 2);
    assert_eq!(d.read(map::STATUS), 0);
    // The refused write did not land: the NTT's output is there instead,
    // and it differs from what was there before.
    let after = d.read_words(1 << log_n, 4);
    assert_ne!(after[0], 12345);
    assert_ne!(after, before);
}

fn check<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>(
    config: Config,
    seed: u64,
) {
    let label = config.name;
    let mut accelerator: Accelerator<P, DA, TA, EA, M> = Accelerator::new(&config);
    accelerator.connect_all();
    let verilog = generate_verilog(&accelerator);
    let mut d = BusDriver::new(accelerator, config);
    register_checks(&mut d);
    let report = random_session(&mut d, &moduli(&config), seed, 36);
    assert!(report.completed >= 20 && report.rejected >= 2, "{report:?}");
    busy_checks(&mut d);
    // A plain job after everything, through the JobDevice interface.
    let job = Job {
        op: JobOp::Add,
        log_n: config.min_log_n(),
        slot: 0,
        a: 0,
        b: 0,
        dst: 0,
        constant: 0,
    };
    assert_eq!(
        d.run(&job, 1000),
        JobOutcome::Done(config.vector_cycles(job.log_n, 2))
    );

    let dir = rtl_sim::scratch_dir(label);
    let file = dir.join("accelerator.v");
    std::fs::write(&file, &verilog).unwrap();
    if rtl_sim::tool_or_skip(Simulator::Icarus, label) {
        rtl_sim::icarus_compile(&file).unwrap();
    }
    if !rtl_sim::tool_or_skip(Simulator::Verilator, label) {
        return;
    }
    let diagnostics = rtl_sim::lint(&file).unwrap();
    assert!(
        !diagnostics.contains("%Warning") && !diagnostics.contains("%Error"),
        "{label}: verilator -Wall:\n{diagnostics}"
    );
    replay_bus_in_verilog(Simulator::Verilator, label, &verilog, &d.inputs, &d.outputs)
        .unwrap_or_else(|e| panic!("{label}: {e}"));
}

#[test]
fn accelerator_p1() {
    check::<1, 9, 9, 4, 2>(TEST_P1, 21);
}

#[test]
fn accelerator_p2() {
    check::<2, 8, 8, 4, 2>(TEST_P2, 22);
}

#[test]
fn accelerator_p4() {
    check::<4, 7, 7, 4, 2>(TEST_P4, 24);
}

#[test]
fn accelerator_p8() {
    check::<8, 6, 6, 4, 2>(TEST_P8, 28);
}

/// Every named configuration emits Verilog that lints clean and compiles,
/// with the bus as its ports and with the SPI bridge in front.
#[test]
fn named_configurations_emit_clean_verilog() {
    for config in ola_hdl::config::CONFIGS {
        let bus = ola_hdl::with_accelerator!(*config, |acc| generate_verilog(&acc));
        let spi = ola_hdl::with_spi_accelerator!(*config, |acc| generate_verilog(&acc));
        for (top, verilog) in [("bus", bus), ("spi", spi)] {
            let verilog = verilog.unwrap_or_else(|| panic!("{} has no instantiation", config.name));
            let label = format!("{}-{top}", config.name);
            let dir = rtl_sim::scratch_dir(&label);
            let file = dir.join(format!("ola_accelerator_{label}.v"));
            std::fs::write(&file, &verilog).unwrap();
            if rtl_sim::tool_or_skip(Simulator::Verilator, &label) {
                let diagnostics = rtl_sim::lint(&file).unwrap();
                assert!(
                    !diagnostics.contains("%Warning") && !diagnostics.contains("%Error"),
                    "{label}: verilator -Wall:\n{diagnostics}"
                );
            }
            if rtl_sim::tool_or_skip(Simulator::Icarus, &label) {
                rtl_sim::icarus_compile(&file).unwrap();
            }
        }
    }
}
