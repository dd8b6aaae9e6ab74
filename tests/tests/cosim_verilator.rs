//! Co-simulation with the Verilated RTL: for P ∈ {1, 2, 4, 8}, 1,000 random
//! job sequences each (fresh data of several N, one to three jobs of every
//! operation with bad descriptors among them, bus traffic while they run,
//! readback, and now and then a modulus or twiddle reload, sometimes
//! corrupted) run through the simulator; the same bus inputs replay in the
//! Verilog under Verilator, and every output must agree on every cycle.

use ola_arith::{Modulus, prime::ntt_primes};
use ola_hdl::accelerator::Accelerator;
use ola_hdl::harness::bus_ports;
use ola_hdl::rtl_sim::{self, Sampling, Simulator};
use ola_hdl::testing::Rng;
use ola_sim::Device;
use ola_spec::config::Config;
use ola_spec::{BusInputs, BusModel, BusOutputs, map};
use ola_tests::{load_slot_writes, read, write};
use rust_hdl::prelude::*;

const SEQUENCES: usize = 1000;

fn load_slot(
    out: &mut Vec<BusInputs>,
    config: &Config,
    rng: &mut Rng,
    slot: u32,
    q: u64,
    corrupt: bool,
) {
    let m = Modulus::new(q).unwrap();
    let barrett = if corrupt && rng.below(2) == 0 {
        rng.next_u32()
    } else {
        m.barrett_m() as u32
    };
    out.extend(load_slot_writes(config, slot, &m, barrett, |value| {
        if corrupt && rng.below(64) == 0 {
            rng.next_u32()
        } else {
            value
        }
    }));
}

/// Bus inputs for `sequences` job sequences (open loop: nothing depends on
/// outputs, so the same inputs can be replayed anywhere).
fn stimulus(config: &Config, seed: u64, sequences: usize) -> Vec<BusInputs> {
    let mut rng = Rng::new(seed);
    let primes: Vec<u64> = ntt_primes(config.word_bits, config.log_max_n)
        .take(3)
        .collect();
    let mut out = Vec::new();
    for slot in 0..config.moduli as u32 {
        load_slot(
            &mut out,
            config,
            &mut rng,
            slot,
            primes[slot as usize],
            false,
        );
    }
    let user = config.user_words() as u32;
    for _ in 0..sequences {
        if rng.below(25) == 0 {
            let slot = rng.below(config.moduli as u64) as u32;
            let q = primes[rng.below(3) as usize];
            let corrupt = rng.below(2) == 0;
            load_slot(&mut out, config, &mut rng, slot, q, corrupt);
        }
        let log_n = config.min_log_n()
            + rng.below((config.log_max_n - config.min_log_n() + 1) as u64) as u32;
        let n = 1u32 << log_n;
        let region = |rng: &mut Rng| rng.below((user / n) as u64) as u32 * n;
        let small = primes[2] as u32;
        for _ in 0..1 + rng.below(2) {
            let base = region(&mut rng);
            for i in 0..n {
                let value = if rng.below(50) == 0 {
                    rng.next_u32()
                } else {
                    rng.below(small as u64) as u32
                };
                out.push(write(map::DATA | (base + i), value));
            }
        }
        for _ in 0..1 + rng.below(3) {
            let op = if rng.below(10) == 0 {
                7
            } else {
                rng.below(7) as u32
            };
            let mut descriptor = [
                op,
                log_n,
                rng.below(config.moduli as u64) as u32,
                region(&mut rng),
                region(&mut rng),
                region(&mut rng),
                rng.below(small as u64) as u32,
            ];
            match rng.below(12) {
                0 => descriptor[1] = config.log_max_n + 1,
                1 => descriptor[2] = config.moduli as u32,
                2 => descriptor[3] += 1,
                3 => descriptor[5] = user,
                _ => {}
            }
            if rng.below(4) == 0 {
                descriptor[5] = descriptor[3];
            }
            for (i, value) in descriptor.into_iter().enumerate() {
                out.push(write(map::DESC_OP + i as u32, value));
            }
            out.push(write(map::CONTROL, 1 | (2 * rng.below(2) as u32)));
            // Traffic while it runs: polls, refused accesses, idle cycles.
            let busy_for = config.ntt_cycles(log_n).max(config.vector_cycles(log_n, 3)) + 2;
            for _ in 0..busy_for {
                out.push(match rng.below(10) {
                    0 => read(map::STATUS),
                    1 => read(map::DATA | region(&mut rng)),
                    2 => write(map::DATA | region(&mut rng), rng.next_u32()),
                    3 => read(rng.below(0x28) as u32),
                    4 => write(map::CONTROL, 1),
                    _ => BusInputs::default(),
                });
            }
            let dst = descriptor[5].min(user - n);
            for i in 0..n {
                out.push(read(map::DATA | (dst + i)));
            }
            out.extend([
                read(map::ERRORS),
                read(map::JOB_CYCLES),
                read(map::STATUS),
                read(map::CYCLES_LO),
            ]);
        }
    }
    out.push(BusInputs::default());
    out
}

fn check<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>(
    config: Config,
    seed: u64,
) {
    let label = config.name;
    if !rtl_sim::tool_or_skip(Simulator::Verilator, label) {
        return;
    }
    let mut rtl: Accelerator<P, DA, TA, EA, M> = Accelerator::new(&config);
    rtl.connect_all();
    let verilog = generate_verilog(&rtl);
    let inputs = stimulus(&config, seed, SEQUENCES);
    let mut sim = Device::new(config);
    let expected: Vec<BusOutputs> = inputs.iter().map(|i| sim.cycle(i)).collect();
    let ran = sim.trace().iter().filter(|j| j.flags == 0).count();
    let refused = sim.trace().len() - ran;
    assert!(
        ran >= 1000 && refused >= 200,
        "{label}: ran {ran}, refused {refused}"
    );
    let (in_ports, out_ports) = bus_ports();
    let stimulus: Vec<Vec<u64>> = inputs.iter().map(|i| i.values().to_vec()).collect();
    let rows = rtl_sim::run_cycles_sampled(
        Simulator::Verilator,
        label,
        &verilog,
        "clock",
        &in_ports,
        &out_ports,
        &stimulus,
        Sampling::BeforeEdge,
    )
    .unwrap();
    for (cycle, (row, want)) in rows.iter().zip(&expected).enumerate() {
        for ((name, _), (&got, w)) in BusOutputs::PORTS.iter().zip(row.iter().zip(want.values())) {
            assert_eq!(
                got, w,
                "{label}: cycle {cycle}: signal {name} is {got:#x} in the Verilog, {w:#x} in the simulator (inputs {:?})",
                inputs[cycle]
            );
        }
    }
}

const TEST_P1: Config = Config::new("test-p1", 1, 7, 30, 2, 3);
const TEST_P2: Config = Config::new("test-p2", 2, 7, 30, 2, 3);
const TEST_P4: Config = Config::new("test-p4", 4, 7, 30, 2, 3);
const TEST_P8: Config = Config::new("test-p8", 8, 7, 30, 2, 3);

#[test]
fn verilog_equals_simulator_p1() {
    check::<1, 9, 9, 4, 2>(TEST_P1, 41);
}

#[test]
fn verilog_equals_simulator_p2() {
    check::<2, 8, 8, 4, 2>(TEST_P2, 42);
}

#[test]
fn verilog_equals_simulator_p4() {
    check::<4, 7, 7, 4, 2>(TEST_P4, 44);
}

#[test]
fn verilog_equals_simulator_p8() {
    check::<8, 6, 6, 4, 2>(TEST_P8, 48);
}
