//! Co-simulation of the SPI link: the RTL `SpiAccelerator` (bridge +
//! accelerator, driven at its pins as a controller with a
//! [`ControllerTiming`] drives them) against the simulator's link model
//! (`ola_sim::SpiLink`) on random transactions — register, data and
//! twiddle bursts, modulus loads, job starts and polls, failing jobs,
//! reads of busy memory, bad addresses, zero-length, cut-short,
//! over-long and delayed transactions, garbage bits. Checked: the bus
//! access the bridge makes on every cycle (address, data, kind), MISO and
//! `busy` on every cycle, the MISO bits at the controller's sampling edges,
//! and the final memory. In RustHDL's simulator at ratios 4 and 8, and in
//! the emitted Verilog under Verilator on a longer run mixing ratios.
//! Finally, real NTTs through the link against `ola-arith`.

use ola_arith::{Modulus, NttPlan, prime::ntt_primes};
use ola_hdl::rtl_sim::{self, Simulator};
use ola_hdl::spi_bridge::{SpiAccelerator, SpiPins, replay_spi_in_verilog};
use ola_hdl::testing::Rng;
use ola_sim::link::{Access, PinStep};
use ola_sim::{Device, SpiLink};
use ola_spec::config::Config;
use ola_spec::link::{ControllerTiming, WordBus, command};
use ola_spec::{BusInputs, JobOp, map};
use ola_tests::link::{expected_outputs, read_steps, read_words, transaction_pins, write_steps};
use ola_tests::twiddle_bursts;
use rust_hdl::prelude::*;

const TEST_P2: Config = Config::new("test-p2", 2, 7, 30, 2, 3);
/// Small and one lane: RustHDL simulates it fastest (a few thousand
/// cycles per second; the long runs are in Verilator).
const TEST_MINI: Config = Config::new("test-mini", 1, 5, 30, 1, 3);

/// One transaction and the CPU time after it.
struct Tx {
    timing: ControllerTiming,
    steps: Vec<PinStep>,
    idle_after: u64,
}

fn moduli(config: &Config) -> Vec<Modulus> {
    ntt_primes(config.word_bits, config.log_max_n)
        .take(config.moduli)
        .map(|q| Modulus::new(q).unwrap())
        .collect()
}

/// Write transactions that load `modulus` and its twiddles into `slot`.
fn load_slot(config: &Config, slot: u32, modulus: &Modulus) -> Vec<Vec<PinStep>> {
    std::iter::once(write_steps(
        map::MOD_SLOT,
        &[slot, modulus.value(), modulus.barrett_m() as u32, 1],
    ))
    .chain(
        twiddle_bursts(
            config,
            slot,
            &NttPlan::new(config.max_n(), *modulus).unwrap(),
            256,
        )
        .iter()
        .map(|(address, words)| write_steps(*address, words)),
    )
    .collect()
}

/// Random transactions: mostly meaningful, often wrong.
fn random_transactions(
    config: &Config,
    seed: u64,
    count: usize,
    timings: &[ControllerTiming],
) -> Vec<Tx> {
    let mut rng = Rng::new(seed);
    let primes: Vec<u32> = ntt_primes(config.word_bits, config.log_max_n)
        .take(3)
        .map(|q| q as u32)
        .collect();
    let user = config.user_words() as u64;
    let mut out: Vec<Tx> = Vec::with_capacity(count);
    let mut kinds = [0usize; 8];
    while out.len() < count {
        let timing = timings[rng.below(timings.len() as u64) as usize];
        let pick = rng.below(100);
        let burst = 1 + rng.below(6) as usize;
        let words = |rng: &mut Rng, n: usize| -> Vec<u32> {
            (0..n)
                .map(|_| {
                    if rng.below(20) == 0 {
                        rng.next_u32()
                    } else {
                        rng.below(primes[2] as u64) as u32
                    }
                })
                .collect()
        };
        let mut steps = match pick {
            // A descriptor, sometimes bad, then a start.
            0..10 => {
                let sizes = config.log_max_n - config.min_log_n() + 1;
                let log_n = config.min_log_n() + rng.below(sizes as u64) as u32;
                let n = 1u32 << log_n;
                let region = |rng: &mut Rng| rng.below(user / n as u64) as u32 * n;
                let mut descriptor = [
                    rng.below(7) as u32,
                    log_n,
                    rng.below(config.moduli as u64) as u32,
                    region(&mut rng),
                    region(&mut rng),
                    region(&mut rng),
                    rng.below(primes[2] as u64) as u32,
                ];
                // One in three is bad in one way.
                match rng.below(15) {
                    0 => descriptor[0] = 7,
                    1 => descriptor[1] = config.log_max_n + 1,
                    2 => descriptor[2] = config.moduli as u32,
                    3 => descriptor[3] += 1,
                    4 => descriptor[5] = user as u32,
                    _ => {}
                }
                kinds[0] += 1;
                // Usually started straight away.
                if rng.below(4) != 0 {
                    out.push(Tx {
                        timing,
                        steps: write_steps(map::DESC_OP, &descriptor),
                        idle_after: 0,
                    });
                    write_steps(map::CONTROL, &[1 | (2 * rng.below(2) as u32)])
                } else {
                    write_steps(map::DESC_OP, &descriptor)
                }
            }
            10..18 => {
                kinds[1] += 1;
                write_steps(map::CONTROL, &[1 | (2 * rng.below(2) as u32)])
            }
            // Status polls and register bursts (unmapped ones included).
            18..28 => {
                if rng.below(2) == 0 {
                    read_steps(map::STATUS, 1)
                } else {
                    read_steps(rng.below(0x28) as u32, burst as u16)
                }
            }
            // Data bursts, some running past the end of memory, some while
            // a job runs.
            28..42 => {
                kinds[2] += 1;
                let data = words(&mut rng, burst);
                write_steps(map::DATA | rng.below(user + 4) as u32, &data)
            }
            42..56 => {
                kinds[3] += 1;
                read_steps(map::DATA | rng.below(user + 4) as u32, burst as u16)
            }
            56..62 => {
                let region = [map::TWIDDLE, map::TWIDDLE_EARLY][rng.below(2) as usize];
                let data = words(&mut rng, burst);
                write_steps(
                    region | rng.below(config.twiddle_words() as u64 + 2) as u32,
                    &data,
                )
            }
            // A modulus load, its Barrett constant sometimes wrong.
            62..67 => {
                let q = primes[rng.below(3) as usize];
                let m = Modulus::new(q as u64).unwrap().barrett_m() as u32;
                let m = if rng.below(4) == 0 { rng.next_u32() } else { m };
                let slot = rng.below(config.moduli as u64 + 1) as u32;
                write_steps(map::MOD_SLOT, &[slot, q, m, 1])
            }
            67..71 => {
                kinds[4] += 1;
                let address = rng.next_u32();
                if rng.below(2) == 0 {
                    read_steps(address, 0)
                } else {
                    write_steps(address, &[])
                }
            }
            // Cycle counter, modulus read-back.
            71..76 => read_steps(
                [map::CYCLES_LO, map::MOD_READBACK, map::JOB_CYCLES][rng.below(3) as usize],
                1 + rng.below(2) as u16,
            ),
            // Unmapped regions.
            76..80 => {
                let address = (4 + rng.below(12) as u32) << 28 | rng.below(64) as u32;
                if rng.below(2) == 0 {
                    read_steps(address, 1)
                } else {
                    write_steps(address, &[rng.next_u32()])
                }
            }
            // Garbage bits, CS_N-only transactions included.
            80..84 => {
                kinds[5] += 1;
                (0..rng.below(120))
                    .map(|_| PinStep::Bit(rng.below(2) == 0))
                    .collect()
            }
            // Cut short anywhere, or clocked too long.
            _ => {
                let mut steps = if rng.below(2) == 0 {
                    read_steps(map::DATA | rng.below(user) as u32, burst as u16)
                } else {
                    let data = words(&mut rng, burst);
                    write_steps(map::DATA | rng.below(user) as u32, &data)
                };
                if rng.below(3) == 0 {
                    kinds[6] += 1;
                    steps.extend((0..1 + rng.below(70)).map(|_| PinStep::Bit(rng.below(2) == 0)));
                } else {
                    kinds[7] += 1;
                    let keep = rng.below(steps.len() as u64) as usize;
                    steps.truncate(keep);
                }
                steps
            }
        };
        // Now and then the controller pauses between bytes.
        if rng.below(10) == 0 && !steps.is_empty() {
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(steps.len() as u64) as usize;
                steps.insert(at, PinStep::Delay(1 + rng.below(40)));
            }
        }
        let idle_after = if rng.below(4) == 0 { rng.below(300) } else { 0 };
        out.push(Tx {
            timing,
            steps,
            idle_after,
        });
    }
    assert!(kinds.iter().all(|&k| k > 0), "every kind drawn: {kinds:?}");
    out
}

/// The bus inputs that matter: a read's write data is not looked at.
fn normalised(inputs: BusInputs) -> BusInputs {
    BusInputs {
        write_data: if inputs.write { inputs.write_data } else { 0 },
        ..inputs
    }
}

/// The RTL and the simulator's link side by side; the RTL's pins and
/// outputs are recorded for the Verilog replay.
struct LinkLockStep<
    const P: usize,
    const DA: usize,
    const TA: usize,
    const EA: usize,
    const M: usize,
> {
    rtl: SpiAccelerator<P, DA, TA, EA, M>,
    link: SpiLink,
    pins: Vec<SpiPins>,
    outputs: Vec<[u64; 2]>,
    rtl_accesses: Vec<Access>,
    /// The RTL's accesses in the last transaction and its first cycle.
    last: (u64, Vec<Access>),
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>
    LinkLockStep<P, DA, TA, EA, M>
{
    fn new(config: &Config) -> Self {
        let mut rtl = SpiAccelerator::new(config);
        rtl.connect_all();
        let mut link = SpiLink::new(Device::new(*config), ControllerTiming::DEFAULT).unwrap();
        link.record(true);
        LinkLockStep {
            rtl,
            link,
            pins: Vec::new(),
            outputs: Vec::new(),
            rtl_accesses: Vec::new(),
            last: (0, Vec::new()),
        }
    }

    /// One transaction on both; returns the MISO bits the controller
    /// sampled from the RTL, checked against the simulator's.
    fn transaction(&mut self, tx: &Tx) -> Vec<bool> {
        self.link.set_timing(tx.timing).unwrap();
        let start = self.pins.len();
        let expected = self.link.transaction_steps(&tx.steps);
        self.link.idle(tx.idle_after);
        let mut pins = transaction_pins(&tx.timing, &tx.steps);
        pins.extend(std::iter::repeat_n(
            SpiPins::default(),
            tx.idle_after as usize,
        ));
        let mut sampled = Vec::new();
        for p in pins {
            let cycle = self.pins.len();
            let out = self.rtl.cycle(&p);
            // The controller samples MISO as SCK rises.
            if p.sck && !self.pins.last().is_some_and(|q| q.sck) {
                sampled.push(out.miso);
            }
            if out.bus.write || out.bus.read {
                self.rtl_accesses.push(Access {
                    cycle: cycle as u64,
                    inputs: normalised(out.bus),
                });
            }
            self.pins.push(p);
            self.outputs.push(out.values());
        }
        assert_eq!(
            self.link.elapsed() as usize,
            self.pins.len(),
            "the link model's transaction length"
        );
        let sim_accesses: Vec<Access> = self.link.take_accesses();
        let rtl_accesses = std::mem::take(&mut self.rtl_accesses);
        for k in 0..rtl_accesses.len().max(sim_accesses.len()) {
            let (r, s) = (rtl_accesses.get(k), sim_accesses.get(k));
            assert_eq!(
                r.copied(),
                s.copied(),
                "access {k} of the transaction from cycle {start}: bus inputs (address, write_data, write, read) in the RTL vs the simulator"
            );
        }
        for (bit, (r, s)) in sampled.iter().zip(&expected).enumerate() {
            assert_eq!(
                r, s,
                "transaction from cycle {start}: signal miso at bit {bit}: RTL {r}, simulator {s}"
            );
        }
        assert_eq!(sampled.len(), expected.len());
        self.last = (start as u64, rtl_accesses);
        sampled
    }

    /// Every output of every cycle against the simulator's prediction.
    fn check_outputs(&mut self) -> Vec<[u64; 2]> {
        let expected = expected_outputs(
            self.outputs.len(),
            &self.link.take_miso_changes(),
            self.link.device().trace(),
        );
        compare_outputs(&self.outputs, &expected, "the RTL");
        expected
    }
}

fn compare_outputs(got: &[[u64; 2]], expected: &[[u64; 2]], what: &str) {
    for (cycle, (g, e)) in got.iter().zip(expected).enumerate() {
        for (k, name) in ["miso", "busy"].iter().enumerate() {
            assert_eq!(
                g[k], e[k],
                "cycle {cycle}: signal {name} is {} in {what}, {} in the simulator",
                g[k], e[k]
            );
        }
    }
}

/// Read transactions of the whole user memory, 128 words each.
fn memory_reads(config: &Config) -> Vec<Tx> {
    let user = config.user_words() as u32;
    (0..user)
        .step_by(128)
        .map(|start| Tx {
            timing: ControllerTiming {
                ratio: 4,
                cs_high_cycles: 4,
            },
            steps: read_steps(map::DATA | start, 128.min(user - start) as u16),
            idle_after: 0,
        })
        .collect()
}

fn rusthdl_check(timing: ControllerTiming, seed: u64, transactions: usize) {
    let started = std::time::Instant::now();
    let config = TEST_MINI;
    let mut d = LinkLockStep::<1, 7, 6, 3, 1>::new(&config);
    let m = moduli(&config)[0];
    d.transaction(&Tx {
        timing,
        steps: write_steps(map::MOD_SLOT, &[0, m.value(), m.barrett_m() as u32, 1]),
        idle_after: 0,
    });
    let txs = random_transactions(&config, seed, transactions, &[timing]);
    for tx in &txs {
        d.transaction(tx);
    }
    // Jobs ran, some were refused, the bus saw errors.
    let trace = d.link.device().trace();
    let ran = trace.iter().filter(|j| j.flags == 0).count();
    let refused = trace.len() - ran;
    assert!(ran >= 5 && refused >= 3, "ran {ran}, refused {refused}");
    let stats = d.link.stats();
    assert_eq!(stats.transactions as usize, txs.len() + 1);
    assert!(
        stats.words_written > 50 && stats.words_read > 50,
        "{stats:?}"
    );
    d.check_outputs();
    eprintln!("{} cycles in {:?}", d.pins.len(), started.elapsed());
}

#[test]
fn rusthdl_link_equals_simulator_ratio_4() {
    rusthdl_check(
        ControllerTiming {
            ratio: 4,
            cs_high_cycles: 4,
        },
        61,
        100,
    );
}

#[test]
fn rusthdl_link_equals_simulator_ratio_8() {
    rusthdl_check(ControllerTiming::DEFAULT, 64, 80);
}

/// The Verilog under Verilator, on a longer run mixing timings, against
/// the simulator alone: MISO and busy on every cycle. The same run's first
/// part is also replayed against the RustHDL RTL's outputs.
#[test]
fn verilator_link_equals_simulator() {
    let config = TEST_P2;
    let label = "link-verilator";
    if !rtl_sim::tool_or_skip(Simulator::Verilator, label) {
        return;
    }
    let timings = [
        ControllerTiming {
            ratio: 4,
            cs_high_cycles: 4,
        },
        ControllerTiming {
            ratio: 6,
            cs_high_cycles: 9,
        },
        ControllerTiming::DEFAULT,
        ControllerTiming {
            ratio: 16,
            cs_high_cycles: 16,
        },
    ];
    let mut link = SpiLink::new(Device::new(config), timings[0]).unwrap();
    link.record(true);
    let mut pins = Vec::new();
    let mut run = |link: &mut SpiLink, tx: &Tx| {
        link.set_timing(tx.timing).unwrap();
        link.transaction_steps(&tx.steps);
        link.idle(tx.idle_after);
        pins.extend(transaction_pins(&tx.timing, &tx.steps));
        pins.extend(std::iter::repeat_n(
            SpiPins::default(),
            tx.idle_after as usize,
        ));
    };
    // Real moduli and twiddles, so some jobs compute real transforms.
    for (slot, m) in moduli(&config).iter().enumerate() {
        for steps in load_slot(&config, slot as u32, m) {
            let tx = Tx {
                timing: timings[slot % 4],
                steps,
                idle_after: 0,
            };
            run(&mut link, &tx);
        }
    }
    for tx in random_transactions(&config, 71, 1500, &timings) {
        run(&mut link, &tx);
    }
    // The whole memory read back: equal MISO means equal memory.
    let mut memory = Vec::new();
    for tx in memory_reads(&config) {
        link.set_timing(tx.timing).unwrap();
        memory.extend(read_words(&link.transaction_steps(&tx.steps)));
        pins.extend(transaction_pins(&tx.timing, &tx.steps));
    }
    assert_eq!(memory, link.device().memory());
    let trace = link.device().trace();
    let ran = trace.iter().filter(|j| j.flags == 0).count();
    assert!(
        ran >= 30 && trace.len() - ran >= 30,
        "{ran} of {}",
        trace.len()
    );
    let miso = link.take_miso_changes();
    let expected = expected_outputs(pins.len(), &miso, link.device().trace());
    let mut rtl = SpiAccelerator::<2, 8, 8, 4, 2>::new(&config);
    rtl.connect_all();
    let verilog = generate_verilog(&rtl);
    replay_spi_in_verilog(Simulator::Verilator, label, &verilog, &pins, &expected)
        .unwrap_or_else(|e| panic!("{label}: {e} (expected: the simulator)"));
}

/// A `WordBus` over any `SpiDevice`, as firmware would write it: one
/// transaction per burst, the read's wait byte clocked as part of it.
struct SpiWords<D>(D);

impl<D: embedded_hal::spi::SpiDevice> WordBus for SpiWords<D> {
    type Error = D::Error;

    fn write(&mut self, address: u32, words: &[u32]) -> Result<(), D::Error> {
        use embedded_hal::spi::Operation;
        let mut header = [0u8; 8];
        header[..4].copy_from_slice(&command(false, words.len() as u16).to_be_bytes());
        header[4..].copy_from_slice(&address.to_be_bytes());
        let data: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        self.0
            .transaction(&mut [Operation::Write(&header), Operation::Write(&data)])
    }

    fn read(&mut self, address: u32, words: &mut [u32]) -> Result<(), D::Error> {
        use embedded_hal::spi::Operation;
        let mut header = [0u8; 9];
        header[..4].copy_from_slice(&command(true, words.len() as u16).to_be_bytes());
        header[4..8].copy_from_slice(&address.to_be_bytes());
        let mut data = vec![0u8; 4 * words.len()];
        self.0.transaction(&mut [
            Operation::Write(&header),
            Operation::DelayNs(40),
            Operation::TransferInPlace(&mut data),
        ])?;
        for (w, bytes) in words.iter_mut().zip(data.chunks_exact(4)) {
            *w = u32::from_be_bytes(bytes.try_into().unwrap());
        }
        Ok(())
    }
}

/// Loads slot 0, writes `data`, runs an NTT of it into the next buffer,
/// polls `STATUS`, reads the result back; returns it and the job's cycles.
fn ntt_through<B: WordBus>(
    bus: &mut B,
    config: &Config,
    m: &Modulus,
    data: &[u32],
) -> (Vec<u32>, u32)
where
    B::Error: std::fmt::Debug,
{
    let n = data.len() as u32;
    bus.write(map::MOD_SLOT, &[0, m.value(), m.barrett_m() as u32, 1])
        .unwrap();
    let plan = NttPlan::new(config.max_n(), *m).unwrap();
    for (address, words) in twiddle_bursts(config, 0, &plan, usize::MAX) {
        bus.write(address, &words).unwrap();
    }
    bus.write(map::DATA, data).unwrap();
    bus.write(
        map::DESC_OP,
        &[JobOp::Ntt as u32, n.trailing_zeros(), 0, 0, 0, n],
    )
    .unwrap();
    bus.write(map::CONTROL, &[3]).unwrap();
    let mut status = [1];
    while status[0] & 1 == 1 {
        bus.read(map::STATUS, &mut status).unwrap();
    }
    assert_eq!(status[0], 0b10, "done, no error");
    let mut cycles = [0];
    bus.read(map::JOB_CYCLES, &mut cycles).unwrap();
    let mut out = vec![0; data.len()];
    bus.read(map::DATA | n, &mut out).unwrap();
    (out, cycles[0])
}

fn golden_ntt(m: &Modulus, data: &[u32]) -> Vec<u32> {
    let mut expected = data.to_vec();
    NttPlan::new(data.len(), *m).unwrap().fwd(&mut expected);
    expected
}

/// A full-size NTT (p8, N = 4096) through the simulator's link, both as a
/// `WordBus` and through firmware-style code on its `SpiDevice`: golden
/// result, the same cycle counts, and link time accounted separately.
#[test]
fn simulator_ntt_through_the_link() {
    let config = Config::named("p8").unwrap();
    let m = moduli(&config)[0];
    let mut rng = Rng::new(5);
    let data: Vec<u32> = (0..4096)
        .map(|_| rng.below(m.value() as u64) as u32)
        .collect();
    let mut direct = SpiLink::new(Device::new(config), ControllerTiming::DEFAULT).unwrap();
    let (out, cycles) = ntt_through(&mut direct, &config, &m, &data);
    assert_eq!(out, golden_ntt(&m, &data));
    assert_eq!(cycles as usize, config.ntt_cycles(12));
    let mut firmware =
        SpiWords(SpiLink::new(Device::new(config), ControllerTiming::DEFAULT).unwrap());
    let (out2, _) = ntt_through(&mut firmware, &config, &m, &data);
    assert_eq!(out2, out);
    let (a, b) = (direct.stats(), firmware.0.stats());
    assert_eq!(a.words_written, b.words_written);
    // Link time is exactly the transactions' bits and gaps, and (this test
    // never idles the CPU) all of the elapsed time.
    let timing = ControllerTiming::DEFAULT;
    assert_eq!(
        a.link_cycles,
        a.bits * timing.ratio as u64
            + a.transactions * (timing.ratio / 2 + timing.cs_high_cycles) as u64
    );
    assert_eq!(a.link_cycles, direct.elapsed());
    let job = direct.device().trace()[0];
    assert_eq!(job.end.unwrap() - job.start, config.ntt_cycles(12) as u64);
}

/// A real NTT through the RTL's pins (RustHDL), in lock-step with the
/// simulator's link: loads, job, polls and the golden result.
#[test]
fn rusthdl_ntt_through_the_link() {
    let config = TEST_MINI;
    let m = moduli(&config)[0];
    let mut d = LinkLockStep::<1, 7, 6, 3, 1>::new(&config);
    let timing = ControllerTiming {
        ratio: 4,
        cs_high_cycles: 4,
    };
    let tx = |steps| Tx {
        timing,
        steps,
        idle_after: 0,
    };
    for steps in load_slot(&config, 0, &m) {
        d.transaction(&tx(steps));
    }
    let mut rng = Rng::new(6);
    let n = config.max_n();
    let data: Vec<u32> = (0..n).map(|_| rng.below(m.value() as u64) as u32).collect();
    d.transaction(&tx(write_steps(map::DATA, &data)));
    // The bridge's timing is as `ola_spec::link` states it.
    let (start, accesses) = &d.last;
    assert_eq!(accesses.len(), n);
    for (i, a) in accesses.iter().enumerate() {
        assert_eq!(a.cycle - start, timing.access_cycle(false, i), "write {i}");
        assert_eq!(a.inputs.address, map::DATA | i as u32);
    }
    d.transaction(&tx(write_steps(
        map::DESC_OP,
        &[JobOp::Ntt as u32, config.log_max_n, 0, 0, 0, n as u32],
    )));
    d.transaction(&tx(write_steps(map::CONTROL, &[3])));
    // At this ratio the job ends before a poll's read: done, no errors,
    // and the busy pin was high for exactly the job's cycles.
    assert_eq!(
        read_words(&d.transaction(&tx(read_steps(map::STATUS, 1))))[0],
        2
    );
    let busy_cycles = d.outputs.iter().filter(|o| o[1] == 1).count();
    assert_eq!(busy_cycles, config.ntt_cycles(config.log_max_n));
    let out = read_words(&d.transaction(&tx(read_steps(map::DATA | n as u32, n as u16))));
    let (start, accesses) = &d.last;
    assert_eq!(accesses.len(), n);
    for (i, a) in accesses.iter().enumerate() {
        assert_eq!(a.cycle - start, timing.access_cycle(true, i), "read {i}");
    }
    assert_eq!(out, golden_ntt(&m, &data));
    let cycles = read_words(&d.transaction(&tx(read_steps(map::JOB_CYCLES, 1))))[0];
    assert_eq!(cycles as usize, config.ntt_cycles(config.log_max_n));
    d.check_outputs();
}
