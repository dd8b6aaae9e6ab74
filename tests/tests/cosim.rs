//! Co-simulation: the simulator (`ola-sim`) against the RTL (`ola-hdl`, in
//! RustHDL's simulator, whose Verilog is itself proven equal to it in
//! `hdl/tests/accelerator.rs`), driven in lock-step with the same bus
//! inputs. Every output must agree on every cycle; a mismatch names the
//! first differing cycle and signal. Sessions: golden-checked job streams
//! (every operation, several N, two moduli, bad descriptors) and random
//! bus traffic with garbage (unreduced data, wrong Barrett constants,
//! unmapped addresses, starts while busy).

use ola_arith::{Modulus, prime::ntt_primes};
use ola_hdl::accelerator::Accelerator;
use ola_hdl::harness::{BusDriver, random_session};
use ola_hdl::testing::Rng;
use ola_sim::Device;
use ola_spec::config::Config;
use ola_spec::{BusInputs, BusModel, BusOutputs, map};
use rust_hdl::prelude::*;

const TEST_P1: Config = Config::new("test-p1", 1, 7, 30, 2, 3);
const TEST_P2: Config = Config::new("test-p2", 2, 7, 30, 2, 3);
const TEST_P4: Config = Config::new("test-p4", 4, 7, 30, 2, 3);
const TEST_P8: Config = Config::new("test-p8", 8, 7, 30, 2, 3);

/// The RTL and the simulator side by side.
struct LockStep<A: BusModel> {
    rtl: A,
    sim: Device,
    cycle: usize,
}

impl<A: BusModel> BusModel for LockStep<A> {
    fn cycle(&mut self, inputs: &BusInputs) -> BusOutputs {
        let rtl = self.rtl.cycle(inputs);
        let sim = self.sim.cycle(inputs);
        for ((name, _), (r, s)) in BusOutputs::PORTS
            .iter()
            .zip(rtl.values().into_iter().zip(sim.values()))
        {
            assert_eq!(
                r, s,
                "cycle {}: signal {name} is {r:#x} in the RTL, {s:#x} in the simulator (inputs {inputs:?})",
                self.cycle
            );
        }
        self.cycle += 1;
        rtl
    }
}

fn moduli(config: &Config) -> Vec<Modulus> {
    ntt_primes(config.word_bits, config.log_max_n)
        .take(config.moduli)
        .map(|q| Modulus::new(q).unwrap())
        .collect()
}

/// Random bus traffic: mostly meaningful, often wrong.
fn garbage_traffic<A: BusModel>(d: &mut BusDriver<A>, seed: u64, cycles: usize) -> usize {
    let config = d.config;
    let mut rng = Rng::new(seed);
    let mut starts = 0;
    for _ in 0..cycles {
        let pick = rng.below(100);
        let inputs = if pick < 12 {
            // Start a job with a random, often bad, descriptor.
            for (reg, value) in [
                (map::DESC_OP, rng.below(8) as u32),
                (
                    map::DESC_LOG_N,
                    config.min_log_n() - 1 + rng.below(5) as u32,
                ),
                (map::DESC_SLOT, rng.below(3) as u32),
                (map::DESC_A, (rng.below(8) as u32) << 4),
                (map::DESC_B, (rng.below(8) as u32) << 4),
                (map::DESC_DST, (rng.below(8) as u32) << 4),
                (map::DESC_CONST, rng.next_u32()),
            ] {
                d.write(reg, value);
            }
            starts += 1;
            BusInputs {
                address: map::CONTROL,
                write_data: 1 + 2 * (rng.below(4) == 0) as u32,
                write: true,
                read: false,
            }
        } else if pick < 16 {
            // A modulus slot with a possibly wrong Barrett constant.
            let q = ntt_primes(config.word_bits, config.log_max_n)
                .nth(rng.below(3) as usize)
                .unwrap();
            let good = Modulus::new(q).unwrap().barrett_m() as u32;
            d.write(map::MOD_SLOT, rng.below(3) as u32);
            d.write(
                map::MOD_Q,
                if rng.below(5) == 0 {
                    rng.next_u32()
                } else {
                    q as u32
                },
            );
            d.write(
                map::MOD_M,
                if rng.below(3) == 0 {
                    rng.next_u32()
                } else {
                    good
                },
            );
            BusInputs {
                address: map::MOD_COMMIT,
                write: true,
                ..Default::default()
            }
        } else if pick < 40 {
            // Data writes, unreduced values included.
            let address = map::DATA | rng.below(config.user_words() as u64 + 4) as u32;
            BusInputs {
                address,
                write_data: rng.next_u32(),
                write: true,
                read: false,
            }
        } else if pick < 55 {
            let region = [map::TWIDDLE, map::TWIDDLE_EARLY][rng.below(2) as usize];
            let address = region | rng.below(config.twiddle_words() as u64 + 4) as u32;
            BusInputs {
                address,
                write_data: rng.next_u32(),
                write: true,
                read: false,
            }
        } else if pick < 80 {
            let address = map::DATA | rng.below(config.user_words() as u64 + 4) as u32;
            BusInputs {
                address,
                read: true,
                ..Default::default()
            }
        } else if pick < 95 {
            BusInputs {
                address: rng.below(0x30) as u32,
                read: true,
                ..Default::default()
            }
        } else {
            BusInputs {
                address: rng.next_u32(),
                write_data: rng.next_u32(),
                write: rng.below(2) == 0,
                read: false,
            }
        };
        d.cycle(inputs);
    }
    starts
}

fn check<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>(
    config: Config,
    seed: u64,
) {
    // The RTL model lives on the stack and, at P = 8 with the multipliers'
    // DSP registers, outgrows a test thread's default 2 MiB.
    let session = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || check_on_this_thread::<P, DA, TA, EA, M>(config, seed))
        .expect("spawn the co-simulation thread");
    if let Err(panic) = session.join() {
        std::panic::resume_unwind(panic);
    }
}

fn check_on_this_thread<
    const P: usize,
    const DA: usize,
    const TA: usize,
    const EA: usize,
    const M: usize,
>(
    config: Config,
    seed: u64,
) {
    let mut rtl: Accelerator<P, DA, TA, EA, M> = Accelerator::new(&config);
    rtl.connect_all();
    let lock_step = LockStep {
        rtl,
        sim: Device::new(config),
        cycle: 0,
    };
    let mut d = BusDriver::new(lock_step, config);
    let report = random_session(&mut d, &moduli(&config), seed, 30);
    assert!(report.completed >= 15, "{report:?}");
    let starts = garbage_traffic(&mut d, seed + 1, 6000);
    assert!(starts > 100);
    let sim = &d.device.sim;
    let ran = sim.trace().iter().filter(|j| j.flags == 0).count();
    let refused = sim.trace().iter().filter(|j| j.flags != 0).count();
    assert!(ran >= 20 && refused >= 20, "ran {ran}, refused {refused}");
}

#[test]
fn simulator_equals_rtl_p1() {
    check::<1, 9, 9, 4, 2>(TEST_P1, 31);
}

#[test]
fn simulator_equals_rtl_p2() {
    check::<2, 8, 8, 4, 2>(TEST_P2, 32);
}

#[test]
fn simulator_equals_rtl_p4() {
    check::<4, 7, 7, 4, 2>(TEST_P4, 34);
}

#[test]
fn simulator_equals_rtl_p8() {
    check::<8, 6, 6, 4, 2>(TEST_P8, 38);
}
