//! The engine in RustHDL's simulator against the golden model: random job
//! sessions (every operation, several N, two moduli, bad descriptors) for
//! P ∈ {1, 2, 4, 8}, exact cycle counts, and untouched memory.

use ola_arith::{Modulus, prime::ntt_primes};
use ola_hdl::config::Config;
use ola_hdl::engine::Engine;
use ola_hdl::harness::{Driver, EngineModel, random_session};
use rust_hdl::prelude::*;

/// Test configurations: N up to 128, 30-bit words, 2 moduli, 8 buffers.
pub const TEST_P1: Config = Config::new("test-p1", 1, 7, 30, 2, 3);
pub const TEST_P2: Config = Config::new("test-p2", 2, 7, 30, 2, 3);
pub const TEST_P4: Config = Config::new("test-p4", 4, 7, 30, 2, 3);
pub const TEST_P8: Config = Config::new("test-p8", 8, 7, 30, 2, 3);

fn moduli(config: &Config) -> Vec<Modulus> {
    ntt_primes(config.word_bits, config.log_max_n)
        .take(config.moduli)
        .map(|q| Modulus::new(q).unwrap())
        .collect()
}

fn session<E: EngineModel>(engine: E, config: Config, seed: u64) {
    let mut driver = Driver::new(engine, config);
    let report = random_session(&mut driver, &moduli(&config), seed, 60);
    assert!(report.rejected >= 3, "{report:?}");
    assert!(report.per_op.iter().all(|&c| c >= 1), "{report:?}");
}

#[test]
fn random_jobs_p1() {
    let mut e: Engine<1, 9, 9, 4, 2> = Engine::new(&TEST_P1);
    e.connect_all();
    session(e, TEST_P1, 1);
}

#[test]
fn random_jobs_p2() {
    let mut e: Engine<2, 8, 8, 4, 2> = Engine::new(&TEST_P2);
    e.connect_all();
    session(e, TEST_P2, 2);
}

#[test]
fn random_jobs_p4() {
    let mut e: Engine<4, 7, 7, 4, 2> = Engine::new(&TEST_P4);
    e.connect_all();
    session(e, TEST_P4, 4);
}

#[test]
fn random_jobs_p8() {
    let mut e: Engine<8, 6, 6, 4, 2> = Engine::new(&TEST_P8);
    e.connect_all();
    session(e, TEST_P8, 8);
}
