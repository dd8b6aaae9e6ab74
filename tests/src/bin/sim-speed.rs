//! Simulated cycles per second of `ola-sim` against the Verilated RTL on
//! the same NTT-heavy bus stimulus (full-size `p8` configuration), and a
//! check that both produce the same outputs on every cycle.
//!
//! `cargo run --release -p ola-tests --bin sim-speed [-- JOBS]`

use std::time::Instant;

use ola_arith::{Modulus, prime::ntt_primes};
use ola_hdl::harness::bus_ports;
use ola_hdl::rtl_sim::{Sampling, Simulator, run_cycles_timed};
use ola_hdl::with_accelerator;
use ola_sim::Device;
use ola_spec::config::Config;
use ola_spec::{BUS_READ_LATENCY, BusInputs, BusModel, BusOutputs, JobOp, map};
use rust_hdl::prelude::generate_verilog;

/// A stimulus step: one bus cycle, or a run of idle cycles.
enum Step {
    Bus(BusInputs),
    Idle(u64),
}

fn write(address: u32, write_data: u32) -> Step {
    Step::Bus(ola_tests::write(address, write_data))
}

fn script(config: &Config, jobs: usize, log_n: u32) -> Vec<Step> {
    let q = ntt_primes(config.word_bits, config.log_max_n)
        .next()
        .unwrap();
    let m = Modulus::new(q).unwrap();
    let mut steps: Vec<Step> =
        ola_tests::load_slot_writes(config, 0, &m, m.barrett_m() as u32, |w| w)
            .into_iter()
            .map(Step::Bus)
            .collect();
    let n = 1u32 << log_n;
    for i in 0..2 * n {
        steps.push(write(map::DATA | i, (i * 2_654_435_761) % m.value()));
    }
    for j in 0..jobs {
        let op = if j % 2 == 0 { JobOp::Ntt } else { JobOp::Intt };
        for (reg, value) in [
            (map::DESC_OP, op as u32),
            (map::DESC_LOG_N, log_n),
            (map::DESC_SLOT, 0),
            (map::DESC_A, (j as u32 % 2) * n),
            (map::DESC_DST, ((j as u32 + 1) % 2) * n),
        ] {
            steps.push(write(reg, value));
        }
        steps.push(write(map::CONTROL, 1));
        steps.push(Step::Idle(config.ntt_cycles(log_n) as u64 + 1));
    }
    for i in 0..16 {
        steps.push(Step::Bus(BusInputs {
            address: map::DATA | i,
            read: true,
            ..Default::default()
        }));
    }
    steps.push(Step::Bus(BusInputs {
        address: map::JOB_CYCLES,
        read: true,
        ..Default::default()
    }));
    // The last read answers BUS_READ_LATENCY cycles later.
    steps.push(Step::Idle(BUS_READ_LATENCY as u64));
    steps
}

fn main() {
    let jobs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(40);
    let config = Config::named("p8").unwrap();
    let verilog = with_accelerator!(config, |acc| generate_verilog(&acc)).unwrap();
    println!(
        "| N | jobs | cycles | ola-sim s | ola-sim cycles/s | Verilator s | Verilator cycles/s | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for log_n in [10u32, 12] {
        let steps = script(&config, jobs, log_n);
        // The simulator as a caller would use it: idle runs skipped.
        let started = Instant::now();
        let mut fast = Device::new(config);
        for step in &steps {
            match step {
                Step::Bus(i) => {
                    fast.cycle(i);
                }
                Step::Idle(k) => fast.idle(*k),
            }
        }
        let sim_time = started.elapsed().as_secs_f64();
        let cycles = fast.cycle_count();
        // Every cycle spelled out, for Verilator and for the comparison.
        let mut stimulus = Vec::with_capacity(cycles as usize);
        let mut expected: Vec<BusOutputs> = Vec::with_capacity(cycles as usize);
        let mut slow = Device::new(config);
        for step in &steps {
            let (inputs, count) = match step {
                Step::Bus(i) => (*i, 1),
                Step::Idle(k) => (BusInputs::default(), *k),
            };
            for _ in 0..count {
                expected.push(slow.cycle(&inputs));
                stimulus.push(inputs.values().to_vec());
            }
        }
        assert_eq!(
            slow.memory(),
            fast.memory(),
            "skipping idle cycles changes nothing"
        );
        let (in_ports, out_ports) = bus_ports();
        let (rows, verilator_time) = run_cycles_timed(
            Simulator::Verilator,
            "sim-speed",
            &verilog,
            "clock",
            &in_ports,
            &out_ports,
            &stimulus,
            Sampling::BeforeEdge,
        )
        .expect("Verilator run");
        for (cycle, (row, want)) in rows.iter().zip(&expected).enumerate() {
            assert_eq!(
                row.as_slice(),
                want.values().as_slice(),
                "cycle {cycle}: Verilator vs ola-sim"
            );
        }
        let verilator_time = verilator_time.as_secs_f64();
        println!(
            "| {} | {jobs} | {cycles} | {sim_time:.4} | {:.3e} | {verilator_time:.2} | {:.3e} | {:.0}x |",
            1 << log_n,
            cycles as f64 / sim_time,
            cycles as f64 / verilator_time,
            verilator_time / sim_time
        );
    }
}
