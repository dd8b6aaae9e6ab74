//! The engine in RustHDL's simulator against the golden model.

use ola_arith::{Modulus, NttPlan, prime::ntt_primes, vector};
use ola_hdl::config::Config;
use ola_hdl::engine::{Engine, JobOp};
use ola_hdl::harness::{Driver, Job, JobOutcome};
use ola_hdl::testing::Rng;
use rust_hdl::prelude::*;

const TEST_P2: Config = Config::new("test-p2", 2, 6, 30, 2, 3);

#[test]
fn small_engine_ntt_roundtrip() {
    let config = TEST_P2;
    let mut engine: Engine<2, 7, 7, 4, 2> = Engine::new(&config);
    engine.connect_all();
    let mut d = Driver::new(engine, config);
    let q = ntt_primes(30, config.log_max_n).next().unwrap();
    let m = Modulus::new(q).unwrap();
    let plan_max = NttPlan::new(config.max_n(), m).unwrap();
    d.load_modulus(0, &m);
    d.load_twiddles(0, &plan_max);
    let mut rng = Rng::new(1);
    for log_n in config.min_log_n()..=config.log_max_n {
        let n = 1usize << log_n;
        let plan = NttPlan::new(n, m).unwrap();
        let a: Vec<u32> = (0..n).map(|_| rng.below(q) as u32).collect();
        d.write_words(0, &a);
        assert_eq!(d.read_words(0, n), a, "readback");
        let outcome = d.run(
            &Job {
                op: JobOp::Ntt,
                log_n,
                slot: 0,
                a: 0,
                b: 0,
                dst: n as u32,
                constant: 0,
            },
            100_000,
        );
        assert_eq!(
            outcome,
            JobOutcome::Done(config.ntt_cycles(log_n)),
            "log_n {log_n}"
        );
        let mut expect = a.clone();
        plan.fwd(&mut expect);
        assert_eq!(d.read_words(n as u32, n), expect, "ntt log_n {log_n}");
    }
}

#[test]
fn engine_verilog_lints() {
    let config = TEST_P2;
    let mut engine: Engine<2, 7, 7, 4, 2> = Engine::new(&config);
    engine.connect_all();
    let v = generate_verilog(&engine);
    std::fs::write("/tmp/engine_p2.v", &v).unwrap();
}
