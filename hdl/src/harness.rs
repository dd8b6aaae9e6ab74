//! Drives an [`Engine`] from Rust, cycle by cycle, the way firmware would:
//! load moduli, twiddles and data, run jobs, read results. Every cycle's
//! inputs and outputs are recorded so the same input sequence can be
//! replayed into the emitted Verilog and compared output for output.

use ola_arith::{Modulus, NttPlan};

use crate::config::{Config, START_LATENCY};
use crate::engine::{DerivedDescriptor, Engine, JobOp};
use crate::testing::{settle, tick};

/// Every engine input for one cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineInputs {
    /// `start`.
    pub start: bool,
    /// `desc_op`.
    pub desc_op: u32,
    /// `desc_log_n`.
    pub desc_log_n: u32,
    /// `desc_slot`.
    pub desc_slot: u32,
    /// `desc_a`.
    pub desc_a: u32,
    /// `desc_b`.
    pub desc_b: u32,
    /// `desc_dst`.
    pub desc_dst: u32,
    /// `desc_const`.
    pub desc_const: u32,
    /// The inputs derived from `desc_log_n`, as the accelerator's registers
    /// hold them; [`Driver::cycle`] fills them in.
    pub derived: DerivedDescriptor,
    /// `mod_write`.
    pub mod_write: bool,
    /// `mod_slot`.
    pub mod_slot: u32,
    /// `mod_q`.
    pub mod_q: u32,
    /// `mod_m`.
    pub mod_m: u32,
    /// `mem_address`.
    pub mem_address: u32,
    /// `mem_write_data`.
    pub mem_write_data: u32,
    /// `mem_write`.
    pub mem_write: bool,
    /// `mem_read`.
    pub mem_read: bool,
    /// `twiddle_address`.
    pub twiddle_address: u32,
    /// `twiddle_data`.
    pub twiddle_data: u32,
    /// `twiddle_write`.
    pub twiddle_write: bool,
    /// `twiddle_early_write`.
    pub twiddle_early_write: bool,
}

impl EngineInputs {
    /// Port names and widths, in the order of [`EngineInputs::values`].
    pub const PORTS: [(&'static str, usize); 26] = [
        ("start", 1),
        ("desc_op", 32),
        ("desc_log_n", 32),
        ("desc_slot", 32),
        ("desc_a", 32),
        ("desc_b", 32),
        ("desc_dst", 32),
        ("desc_const", 32),
        ("desc_mask", 32),
        ("desc_limit", 32),
        ("desc_size_flags", 32),
        ("desc_half_rows", 32),
        ("desc_gap", 32),
        ("desc_last_stage", 32),
        ("mod_write", 1),
        ("mod_slot", 32),
        ("mod_q", 32),
        ("mod_m", 32),
        ("mem_address", 32),
        ("mem_write_data", 32),
        ("mem_write", 1),
        ("mem_read", 1),
        ("twiddle_address", 32),
        ("twiddle_data", 32),
        ("twiddle_write", 1),
        ("twiddle_early_write", 1),
    ];

    /// The values in port order.
    pub fn values(&self) -> Vec<u64> {
        vec![
            self.start as u64,
            self.desc_op as u64,
            self.desc_log_n as u64,
            self.desc_slot as u64,
            self.desc_a as u64,
            self.desc_b as u64,
            self.desc_dst as u64,
            self.desc_const as u64,
            self.derived.mask as u64,
            self.derived.limit as u64,
            self.derived.size_flags as u64,
            self.derived.half_rows as u64,
            self.derived.gap as u64,
            self.derived.last_stage as u64,
            self.mod_write as u64,
            self.mod_slot as u64,
            self.mod_q as u64,
            self.mod_m as u64,
            self.mem_address as u64,
            self.mem_write_data as u64,
            self.mem_write as u64,
            self.mem_read as u64,
            self.twiddle_address as u64,
            self.twiddle_data as u64,
            self.twiddle_write as u64,
            self.twiddle_early_write as u64,
        ]
    }
}

/// Every engine output after one cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineOutputs {
    /// `busy`.
    pub busy: bool,
    /// `done`.
    pub done: bool,
    /// `reject`.
    pub reject: bool,
    /// `reject_flags`.
    pub reject_flags: u32,
    /// `mod_readback`.
    pub mod_readback: u32,
    /// `mem_read_data`.
    pub mem_read_data: u32,
}

impl EngineOutputs {
    /// Port names and widths, in the order of [`EngineOutputs::values`].
    pub const PORTS: [(&'static str, usize); 6] = [
        ("busy", 1),
        ("done", 1),
        ("reject", 1),
        ("reject_flags", 32),
        ("mod_readback", 32),
        ("mem_read_data", 32),
    ];

    /// The values in port order.
    pub fn values(&self) -> Vec<u64> {
        vec![
            self.busy as u64,
            self.done as u64,
            self.reject as u64,
            self.reject_flags as u64,
            self.mod_readback as u64,
            self.mem_read_data as u64,
        ]
    }
}

/// Anything that behaves like the engine cycle by cycle.
pub trait EngineModel {
    /// Applies `inputs`, runs one clock cycle, and returns the outputs
    /// sampled after it.
    fn cycle(&mut self, inputs: &EngineInputs) -> EngineOutputs;
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize> EngineModel
    for Engine<P, DA, TA, EA, M>
{
    fn cycle(&mut self, i: &EngineInputs) -> EngineOutputs {
        self.start.next = i.start;
        self.desc_op.next = (i.desc_op as u64).into();
        self.desc_log_n.next = (i.desc_log_n as u64).into();
        self.desc_slot.next = (i.desc_slot as u64).into();
        self.desc_a.next = (i.desc_a as u64).into();
        self.desc_b.next = (i.desc_b as u64).into();
        self.desc_dst.next = (i.desc_dst as u64).into();
        self.desc_const.next = (i.desc_const as u64).into();
        self.desc_mask.next = (i.derived.mask as u64).into();
        self.desc_limit.next = (i.derived.limit as u64).into();
        self.desc_size_flags.next = (i.derived.size_flags as u64).into();
        self.desc_half_rows.next = (i.derived.half_rows as u64).into();
        self.desc_gap.next = (i.derived.gap as u64).into();
        self.desc_last_stage.next = (i.derived.last_stage as u64).into();
        self.mod_write.next = i.mod_write;
        self.mod_slot.next = (i.mod_slot as u64).into();
        self.mod_q.next = (i.mod_q as u64).into();
        self.mod_m.next = (i.mod_m as u64).into();
        self.mem_address.next = (i.mem_address as u64).into();
        self.mem_write_data.next = (i.mem_write_data as u64).into();
        self.mem_write.next = i.mem_write;
        self.mem_read.next = i.mem_read;
        self.twiddle_address.next = (i.twiddle_address as u64).into();
        self.twiddle_data.next = (i.twiddle_data as u64).into();
        self.twiddle_write.next = i.twiddle_write;
        self.twiddle_early_write.next = i.twiddle_early_write;
        // Outputs are sampled before the edge ends the cycle: combinational
        // outputs (done, reject) describe this cycle.
        settle(self);
        let out = EngineOutputs {
            busy: self.busy.val(),
            done: self.done.val(),
            reject: self.reject.val(),
            reject_flags: self.reject_flags.val().to_u32(),
            mod_readback: self.mod_readback.val().to_u32(),
            mem_read_data: self.mem_read_data.val().to_u32(),
        };
        tick(self);
        out
    }
}

/// A job descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// Operation.
    pub op: JobOp,
    /// `log2 N`.
    pub log_n: u32,
    /// Modulus slot.
    pub slot: u32,
    /// Word address of `a`.
    pub a: u32,
    /// Word address of `b`.
    pub b: u32,
    /// Word address of the destination.
    pub dst: u32,
    /// Constant of `MulConst`.
    pub constant: u32,
}

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished after this many cycles (start cycle to done cycle).
    Done(usize),
    /// Refused with these error flags, memory untouched.
    Rejected(u32),
}

/// Firmware-like driver over an [`EngineModel`], recording every cycle.
pub struct Driver<E: EngineModel> {
    /// The engine.
    pub engine: E,
    /// The configuration it was built for.
    pub config: Config,
    /// Inputs of every cycle so far.
    pub inputs: Vec<EngineInputs>,
    /// Outputs of every cycle so far.
    pub outputs: Vec<EngineOutputs>,
}

impl<E: EngineModel> Driver<E> {
    /// Wraps an engine.
    pub fn new(engine: E, config: Config) -> Self {
        Driver {
            engine,
            config,
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// One cycle with these inputs (`derived` computed from `desc_log_n`).
    pub fn cycle(&mut self, inputs: EngineInputs) -> EngineOutputs {
        let inputs = EngineInputs {
            derived: DerivedDescriptor::new(&self.config, inputs.desc_log_n),
            ..inputs
        };
        let out = self.engine.cycle(&inputs);
        self.inputs.push(inputs);
        self.outputs.push(out);
        out
    }

    /// One idle cycle.
    pub fn idle(&mut self) -> EngineOutputs {
        self.cycle(EngineInputs::default())
    }
}

/// What firmware does with an accelerator, at whatever level it is driven
/// (engine ports or the bus): the operations a job session needs.
pub trait JobDevice {
    /// The configuration.
    fn config(&self) -> Config;
    /// Loads modulus slot `slot`.
    fn load_modulus(&mut self, slot: u32, modulus: &Modulus);
    /// Writes the twiddle tables of `plan` (of size `N_max`) into `slot`.
    fn load_twiddles(&mut self, slot: u32, plan: &NttPlan);
    /// Writes words at a data address.
    fn write_words(&mut self, address: u32, words: &[u32]);
    /// Reads words from a data address.
    fn read_words(&mut self, address: u32, count: usize) -> Vec<u32>;
    /// Starts a job with a raw operation code and waits for it; `limit`
    /// bounds the wait in cycles.
    fn run_raw(&mut self, op_code: u32, job: &Job, limit: usize) -> JobOutcome;
    /// Starts a job and waits for it.
    fn run(&mut self, job: &Job, limit: usize) -> JobOutcome {
        self.run_raw(job.op as u32, job, limit)
    }
}

impl<E: EngineModel> JobDevice for Driver<E> {
    fn config(&self) -> Config {
        self.config
    }

    fn load_modulus(&mut self, slot: u32, modulus: &Modulus) {
        self.cycle(EngineInputs {
            mod_write: true,
            mod_slot: slot,
            mod_q: modulus.value(),
            mod_m: modulus.barrett_m() as u32,
            ..Default::default()
        });
    }

    fn load_twiddles(&mut self, slot: u32, plan: &NttPlan) {
        for (address, value, early) in twiddle_image(&self.config, slot, plan) {
            self.cycle(EngineInputs {
                twiddle_address: address,
                twiddle_data: value,
                twiddle_write: !early,
                twiddle_early_write: early,
                ..Default::default()
            });
        }
    }

    fn write_words(&mut self, address: u32, words: &[u32]) {
        for (i, &w) in words.iter().enumerate() {
            self.cycle(EngineInputs {
                mem_address: address + i as u32,
                mem_write_data: w,
                mem_write: true,
                ..Default::default()
            });
        }
    }

    fn read_words(&mut self, address: u32, count: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(count);
        for i in 0..count + BUS_READ_LATENCY {
            let o = self.cycle(EngineInputs {
                mem_address: address + i.min(count - 1) as u32,
                mem_read: i < count,
                ..Default::default()
            });
            if i >= BUS_READ_LATENCY {
                out.push(o.mem_read_data);
            }
        }
        out
    }

    fn run_raw(&mut self, op_code: u32, job: &Job, limit: usize) -> JobOutcome {
        let descriptor = EngineInputs {
            desc_op: op_code,
            desc_log_n: job.log_n,
            desc_slot: job.slot,
            desc_a: job.a,
            desc_b: job.b,
            desc_dst: job.dst,
            desc_const: job.constant,
            ..Default::default()
        };
        self.cycle(EngineInputs {
            start: true,
            ..descriptor
        });
        // The descriptor holds through the cycle that accepts or refuses it,
        // as the accelerator's registers hold it.
        for cycle in 1..=START_LATENCY {
            let out = self.cycle(descriptor);
            if out.reject {
                assert_eq!(cycle, START_LATENCY, "refused on the wrong cycle");
                return JobOutcome::Rejected(out.reject_flags);
            }
        }
        for cycles in START_LATENCY + 1..=limit {
            if self.idle().done {
                return JobOutcome::Done(cycles);
            }
        }
        panic!("job {job:?} did not finish within {limit} cycles");
    }
}

pub use ola_spec::twiddle_image;

/// What a [`random_session`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionReport {
    /// Jobs that ran and matched the golden model.
    pub completed: usize,
    /// Descriptors refused with the predicted flags.
    pub rejected: usize,
    /// Completed jobs per [`JobOp`] code.
    pub per_op: [usize; 7],
}

/// The golden result of a job on a memory image.
pub fn golden_job(config: &Config, memory: &mut [u32], job: &Job, modulus: &Modulus) {
    let n = 1usize << job.log_n;
    let (a, b, dst) = (job.a as usize, job.b as usize, job.dst as usize);
    let a_words = memory[a..a + n].to_vec();
    let b_words = memory[b.min(config.user_words() - n)..][..n].to_vec();
    let mut out = memory[dst..dst + n].to_vec();
    match job.op {
        JobOp::Ntt | JobOp::Intt => {
            let plan = NttPlan::new(n, *modulus).expect("NTT-friendly modulus");
            out = a_words;
            if job.op == JobOp::Ntt {
                plan.fwd(&mut out);
            } else {
                plan.inv(&mut out);
            }
        }
        JobOp::Mul => ola_arith::vector::mul(modulus, &a_words, &b_words, &mut out),
        JobOp::Mac => ola_arith::vector::mac(modulus, &a_words, &b_words, &mut out),
        JobOp::Add => ola_arith::vector::add(modulus, &a_words, &b_words, &mut out),
        JobOp::Sub => ola_arith::vector::sub(modulus, &a_words, &b_words, &mut out),
        JobOp::MulConst => ola_arith::vector::mul_const(modulus, &a_words, job.constant, &mut out),
    }
    memory[dst..dst + n].copy_from_slice(&out);
}

/// Runs `jobs` random jobs — every operation, every supported `N`, every
/// loaded modulus, in-place and aliased operands, and a mutated (mostly
/// bad) descriptor every sixth job — checking each result, cycle count and refusal
/// against the golden model, then the whole memory. `moduli` must be
/// NTT-friendly for `N_max` and accepted by the configuration; each goes
/// into the slot of its index.
pub fn random_session<D: JobDevice>(
    d: &mut D,
    moduli: &[Modulus],
    seed: u64,
    jobs: usize,
) -> SessionReport {
    let config = d.config();
    let mut rng = crate::testing::Rng::new(seed);
    let mut valid_slots = vec![false; config.moduli];
    for (slot, m) in moduli.iter().enumerate() {
        assert!(config.accepts_modulus(m.value()));
        d.load_modulus(slot as u32, m);
        d.load_twiddles(slot as u32, &NttPlan::new(config.max_n(), *m).unwrap());
        valid_slots[slot] = true;
    }
    // A rejected modulus leaves its slot invalid.
    if moduli.len() < config.moduli {
        d.load_modulus(moduli.len() as u32, &Modulus::new(7681).unwrap());
    }
    let smallest = moduli.iter().map(|m| m.value()).min().unwrap();
    let user = config.user_words();
    let mut memory: Vec<u32> = (0..user)
        .map(|_| rng.below(smallest as u64) as u32)
        .collect();
    d.write_words(0, &memory);
    let mut report = SessionReport::default();
    for index in 0..jobs {
        let op = if index < 7 {
            JobOp::ALL[index]
        } else {
            JobOp::ALL[rng.below(7) as usize]
        };
        let log_n = config.min_log_n()
            + rng.below((config.log_max_n - config.min_log_n() + 1) as u64) as u32;
        let n = 1u32 << log_n;
        let regions = user as u32 / n;
        let mut pick = || rng.below(regions as u64) as u32 * n;
        let a = pick();
        let b = pick();
        let mut dst = pick();
        if rng.below(4) == 0 {
            dst = a;
        }
        let slot = rng.below(moduli.len() as u64) as u32;
        let mut job = Job {
            op,
            log_n,
            slot,
            a,
            b,
            dst,
            constant: rng.below(moduli[slot as usize].value() as u64) as u32,
        };
        let mut op_code = op as u32;
        if index >= 7 && index % 6 == 0 {
            match rng.below(6) {
                0 => op_code = 7,
                1 => {
                    job.log_n = if rng.below(2) == 0 {
                        config.min_log_n() - 1
                    } else {
                        config.log_max_n + 1
                    }
                }
                2 => job.slot = config.moduli as u32 + rng.below(2) as u32,
                3 => job.a += 1 + rng.below(n as u64 - 1) as u32,
                4 => job.dst = user as u32 - n / 2,
                _ => job.b = user as u32 + rng.below(1 << 20) as u32,
            }
        }
        let flags = config.descriptor_flags(
            op_code,
            job.log_n,
            job.slot,
            job.a,
            job.b,
            job.dst,
            &valid_slots,
        );
        if flags != 0 {
            assert_eq!(
                d.run_raw(op_code, &job, 1),
                JobOutcome::Rejected(flags),
                "job {index} {job:?} (op {op_code})"
            );
            report.rejected += 1;
            continue;
        }
        // Operands must be reduced modulo the job's modulus.
        let modulus = moduli[job.slot as usize];
        let mut operands = vec![job.a, job.dst];
        if op.uses_b() {
            operands.push(job.b);
        }
        for start in operands {
            let region = &mut memory[start as usize..(start + n) as usize];
            if region.iter().any(|&w| w >= modulus.value()) {
                for w in region.iter_mut() {
                    *w %= modulus.value();
                }
                let words = region.to_vec();
                d.write_words(start, &words);
            }
        }
        golden_job(&config, &mut memory, &job, &modulus);
        let expected_cycles = match op {
            JobOp::Ntt | JobOp::Intt => config.ntt_cycles(log_n),
            _ => config.vector_cycles(log_n, op.operands()),
        };
        assert_eq!(
            d.run(&job, 10 * expected_cycles),
            JobOutcome::Done(expected_cycles),
            "job {index} {job:?}"
        );
        let got = d.read_words(job.dst, n as usize);
        assert_eq!(
            got,
            &memory[job.dst as usize..(job.dst + n) as usize],
            "job {index} {job:?}"
        );
        report.completed += 1;
        report.per_op[op as usize] += 1;
    }
    assert_eq!(
        d.read_words(0, user),
        memory,
        "memory outside the destinations changed"
    );
    report
}

pub use ola_spec::{BUS_READ_LATENCY, BusInputs, BusOutputs};

pub use ola_spec::BusModel;

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize> BusModel
    for crate::accelerator::Accelerator<P, DA, TA, EA, M>
{
    fn cycle(&mut self, i: &BusInputs) -> BusOutputs {
        self.bus_address.next = (i.address as u64).into();
        self.bus_write_data.next = (i.write_data as u64).into();
        self.bus_write.next = i.write;
        self.bus_read.next = i.read;
        settle(self);
        let out = BusOutputs {
            read_data: self.bus_read_data.val().to_u32(),
            busy: self.busy.val(),
        };
        tick(self);
        out
    }
}

/// Firmware-like driver of the bus, recording every cycle.
pub struct BusDriver<A: BusModel> {
    /// The accelerator.
    pub device: A,
    /// Its configuration.
    pub config: Config,
    /// Inputs of every cycle so far.
    pub inputs: Vec<BusInputs>,
    /// Outputs of every cycle so far.
    pub outputs: Vec<BusOutputs>,
}

impl<A: BusModel> BusDriver<A> {
    /// Wraps an accelerator.
    pub fn new(device: A, config: Config) -> Self {
        BusDriver {
            device,
            config,
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// One cycle with these inputs.
    pub fn cycle(&mut self, inputs: BusInputs) -> BusOutputs {
        let out = self.device.cycle(&inputs);
        self.inputs.push(inputs);
        self.outputs.push(out);
        out
    }

    /// Writes a word.
    pub fn write(&mut self, address: u32, data: u32) {
        self.cycle(BusInputs {
            address,
            write_data: data,
            write: true,
            read: false,
        });
    }

    /// Reads words at the given addresses, one per cycle, then waits
    /// [`BUS_READ_LATENCY`] idle cycles for the last word.
    pub fn read_many(&mut self, addresses: &[u32]) -> Vec<u32> {
        let mut out = Vec::with_capacity(addresses.len());
        for i in 0..addresses.len() + BUS_READ_LATENCY {
            let o = self.cycle(BusInputs {
                address: addresses.get(i).copied().unwrap_or(0),
                read: i < addresses.len(),
                ..Default::default()
            });
            if i >= BUS_READ_LATENCY {
                out.push(o.read_data);
            }
        }
        out
    }

    /// Reads one word.
    pub fn read(&mut self, address: u32) -> u32 {
        self.read_many(&[address])[0]
    }
}

impl<A: BusModel> JobDevice for BusDriver<A> {
    fn config(&self) -> Config {
        self.config
    }

    fn load_modulus(&mut self, slot: u32, modulus: &Modulus) {
        use crate::accelerator::map;
        self.write(map::MOD_SLOT, slot);
        self.write(map::MOD_Q, modulus.value());
        self.write(map::MOD_M, modulus.barrett_m() as u32);
        self.write(map::MOD_COMMIT, 1);
    }

    fn load_twiddles(&mut self, slot: u32, plan: &NttPlan) {
        use crate::accelerator::map;
        for (address, value, early) in twiddle_image(&self.config, slot, plan) {
            let region = if early {
                map::TWIDDLE_EARLY
            } else {
                map::TWIDDLE
            };
            self.write(region | address, value);
        }
    }

    fn write_words(&mut self, address: u32, words: &[u32]) {
        for (i, &w) in words.iter().enumerate() {
            self.write(crate::accelerator::map::DATA | (address + i as u32), w);
        }
    }

    fn read_words(&mut self, address: u32, count: usize) -> Vec<u32> {
        let addresses: Vec<u32> = (0..count as u32)
            .map(|i| crate::accelerator::map::DATA | (address + i))
            .collect();
        self.read_many(&addresses)
    }

    fn run_raw(&mut self, op_code: u32, job: &Job, limit: usize) -> JobOutcome {
        use crate::accelerator::map;
        self.write(map::CONTROL, 2);
        self.write(map::DESC_OP, op_code);
        self.write(map::DESC_LOG_N, job.log_n);
        self.write(map::DESC_SLOT, job.slot);
        self.write(map::DESC_A, job.a);
        self.write(map::DESC_B, job.b);
        self.write(map::DESC_DST, job.dst);
        self.write(map::DESC_CONST, job.constant);
        self.write(map::CONTROL, 1);
        let mut polls = 0;
        while self.read(map::STATUS) & 1 == 1 {
            polls += 1;
            assert!(
                polls <= limit,
                "job {job:?} did not finish within {limit} polls"
            );
        }
        let errors = self.read(map::ERRORS);
        if errors != 0 {
            return JobOutcome::Rejected(errors);
        }
        assert_eq!(self.read(map::STATUS) & 2, 2, "done bit after a job");
        JobOutcome::Done(self.read(map::JOB_CYCLES) as usize)
    }
}

/// The accelerator's bus ports, inputs then outputs, for [`crate::rtl_sim`].
pub fn bus_ports() -> (Vec<crate::rtl_sim::Port>, Vec<crate::rtl_sim::Port>) {
    use crate::rtl_sim::Port;
    (
        BusInputs::PORTS
            .iter()
            .map(|&(n, b)| Port::new(n, b))
            .collect(),
        BusOutputs::PORTS
            .iter()
            .map(|&(n, b)| Port::new(n, b))
            .collect(),
    )
}

/// The first output that differs between a Verilog run and the expected
/// rows: `(cycle, port index, got, want)`.
pub(crate) type Mismatch = (usize, usize, u64, u64);

/// Runs `stimulus` (one row of input values per cycle, in `in_ports`
/// order) through `verilog`, samples `out_ports` before every edge and
/// compares them with `expected` (one row per cycle, in `out_ports` order).
pub(crate) fn replay_rows_in_verilog(
    simulator: crate::rtl_sim::Simulator,
    label: &str,
    verilog: &str,
    in_ports: &[crate::rtl_sim::Port],
    out_ports: &[crate::rtl_sim::Port],
    stimulus: &[Vec<u64>],
    expected: impl Iterator<Item = Vec<u64>>,
) -> Result<Option<Mismatch>, String> {
    use crate::rtl_sim::{Sampling, run_cycles_sampled};
    let rows = run_cycles_sampled(
        simulator,
        label,
        verilog,
        "clock",
        in_ports,
        out_ports,
        stimulus,
        Sampling::BeforeEdge,
    )
    .map_err(|e| e.to_string())?;
    for (cycle, (row, want_row)) in rows.iter().zip(expected).enumerate() {
        for (port, (&got, want)) in row.iter().zip(want_row).enumerate() {
            if got != want {
                return Ok(Some((cycle, port, got, want)));
            }
        }
    }
    Ok(None)
}

/// Replays a recorded bus session into `verilog` (the accelerator's
/// emitted Verilog) and compares every output of every cycle.
pub fn replay_bus_in_verilog(
    simulator: crate::rtl_sim::Simulator,
    label: &str,
    verilog: &str,
    inputs: &[BusInputs],
    outputs: &[BusOutputs],
) -> Result<(), String> {
    let (in_ports, out_ports) = bus_ports();
    let stimulus: Vec<Vec<u64>> = inputs.iter().map(|i| i.values().to_vec()).collect();
    let expected = outputs.iter().map(|o| o.values().to_vec());
    match replay_rows_in_verilog(
        simulator, label, verilog, &in_ports, &out_ports, &stimulus, expected,
    )? {
        None => Ok(()),
        Some((cycle, port, got, want)) => Err(format!(
            "cycle {cycle}: signal {} is {got:#x} in the Verilog, {want:#x} in RustHDL",
            BusOutputs::PORTS[port].0
        )),
    }
}
