//! The engine's emitted Verilog: lint-clean under `verilator -Wall`,
//! compiles with `iverilog -g2005`, and, simulated by Verilator on the same
//! random job sessions the RustHDL tests run (every operation, several N,
//! two moduli, bad descriptors), produces the same outputs on every cycle.

use ola_arith::{Modulus, prime::ntt_primes};
use ola_hdl::config::Config;
use ola_hdl::engine::Engine;
use ola_hdl::harness::{Driver, random_session, replay_in_verilog};
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

fn check<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>(
    config: Config,
    seed: u64,
) {
    let label = config.name;
    let mut engine: Engine<P, DA, TA, EA, M> = Engine::new(&config);
    engine.connect_all();
    let verilog = generate_verilog(&engine);
    let dir = rtl_sim::scratch_dir(label);
    let file = dir.join("engine.v");
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
    let mut driver = Driver::new(engine, config);
    let report = random_session(&mut driver, &moduli(&config), seed, 40);
    assert!(report.completed >= 20 && report.rejected >= 2, "{report:?}");
    replay_in_verilog(
        Simulator::Verilator,
        label,
        &verilog,
        &driver.inputs,
        &driver.outputs,
    )
    .unwrap_or_else(|e| panic!("{label}: {e}"));
}

#[test]
fn verilog_engine_p1() {
    check::<1, 9, 9, 4, 2>(TEST_P1, 11);
}

#[test]
fn verilog_engine_p2() {
    check::<2, 8, 8, 4, 2>(TEST_P2, 12);
}

#[test]
fn verilog_engine_p4() {
    check::<4, 7, 7, 4, 2>(TEST_P4, 14);
}

#[test]
fn verilog_engine_p8() {
    check::<8, 6, 6, 4, 2>(TEST_P8, 18);
}
