//! The accelerator as seen from its bus, cycle by cycle.
//!
//! The state is exactly the RTL's bus-visible state: registers, sticky
//! errors, the read pipeline, memories, modulus slots and the running job.
//! A job's result is computed in software when it starts (the bus cannot
//! touch memory while a job runs) and lands in memory on its done cycle,
//! `Config::{ntt_cycles, vector_cycles}` after the start. The descriptor is
//! checked at the start too (nothing can change it in the start's cycle);
//! a refusal lands `START_LATENCY` cycles later, as in the RTL.

use ola_spec::config::{Config, ERR_ACCESS_WHILE_BUSY, ERR_BAD_ADDRESS, ERR_BUSY, START_LATENCY};
use ola_spec::{BUS_READ_LATENCY, BusInputs, BusModel, BusOutputs, JobOp, map};

use ola_arith::fast_ntt::LazyNtt;
use ola_arith::simd::Isa;
use ola_arith::{Modulus, NttPlan};

use crate::datapath::LoadedModulus;

/// One modulus slot.
#[derive(Clone, Debug, Default)]
struct Slot {
    q: u32,
    m: u32,
    valid: bool,
    /// Whether the slot's constants and twiddles are the canonical ones, so
    /// transforms of reduced data may take the fast path; `None` until
    /// checked after the last change.
    canonical: Option<Option<Modulus>>,
    /// Fast transforms of this slot's canonical modulus, by `log2 N`
    /// (bit-identical to the golden `NttPlan` on reduced data).
    plans: Vec<Option<LazyNtt>>,
}

/// A job that was started: what the trace records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobRecord {
    /// The raw operation code.
    pub op: u32,
    /// `log2 N` from the descriptor.
    pub log_n: u32,
    /// The cycle of the start request.
    pub start: u64,
    /// The cycle `done` is raised (`None` while running); for a refused
    /// descriptor, the cycle of the refusal (`start + START_LATENCY`).
    pub end: Option<u64>,
    /// Error flags of a refused descriptor, 0 when it ran.
    pub flags: u32,
}

#[derive(Clone, Debug)]
struct RunningJob {
    start: u64,
    done: u64,
    dst: usize,
    result: Vec<u32>,
    trace_index: usize,
}

/// The simulated accelerator.
#[derive(Clone, Debug)]
pub struct Device {
    config: Config,
    cycle: u64,
    memory: Vec<u32>,
    twiddles: Vec<u32>,
    early_twiddles: Vec<u32>,
    slots: Vec<Slot>,
    descriptor: [u32; 7],
    mod_slot: u32,
    mod_q: u32,
    mod_m: u32,
    errors: u32,
    done_seen: bool,
    cycles_hi_latched: u32,
    job_cycles: u32,
    /// Words of the reads in flight: `reads[i]` answers `BUS_READ_LATENCY
    /// − i` cycles from now (0 where nothing was read, as the RTL).
    reads: [u32; BUS_READ_LATENCY],
    job: Option<RunningJob>,
    /// A refused start: the cycle its flags land, and the flags.
    refusal: Option<(u64, u32)>,
    trace: Vec<JobRecord>,
    /// Instruction set of the compute kernels (results never depend on it).
    isa: Isa,
    /// The last landed job's result buffer, reused for the next job.
    spare: Vec<u32>,
}

impl Device {
    /// A device of `config` in its power-on state.
    pub fn new(config: Config) -> Self {
        Device {
            config,
            cycle: 0,
            memory: vec![0; config.user_words()],
            twiddles: vec![0; config.twiddle_words()],
            early_twiddles: vec![0; config.early_twiddle_words()],
            slots: vec![Slot::default(); config.moduli],
            descriptor: [0; 7],
            mod_slot: 0,
            mod_q: 0,
            mod_m: 0,
            errors: 0,
            done_seen: false,
            cycles_hi_latched: 0,
            job_cycles: 0,
            reads: [0; BUS_READ_LATENCY],
            job: None,
            refusal: None,
            trace: Vec::new(),
            isa: Isa::detect(),
            spare: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Cycles elapsed since power-on.
    pub fn cycle_count(&self) -> u64 {
        self.cycle
    }

    /// Every job started so far, refused ones included.
    pub fn trace(&self) -> &[JobRecord] {
        &self.trace
    }

    /// The user data memory (for inspection; the bus is the way in).
    pub fn memory(&self) -> &[u32] {
        &self.memory
    }

    /// Whether a job starts or runs in the current cycle (the RTL's
    /// `busy`): from the cycle after a start to its done or refusal cycle.
    pub fn busy(&self) -> bool {
        self.job
            .as_ref()
            .is_some_and(|j| self.cycle > j.start && self.cycle <= j.done)
            || self.refusal.is_some_and(|(at, _)| at == self.cycle)
    }

    /// Runs `cycles` idle cycles, skipping straight over the ones in which
    /// nothing observable changes.
    pub fn idle(&mut self, cycles: u64) {
        let mut left = cycles;
        while left > 0 {
            self.cycle(&BusInputs::default());
            left -= 1;
            // Step until the read pipeline is empty and no refusal is
            // pending; from there on, only a job's end changes state.
            if self.reads.iter().any(|&w| w != 0) || self.refusal.is_some() {
                continue;
            }
            let skip = match &self.job {
                Some(job) if job.done >= self.cycle => (job.done - self.cycle).min(left),
                _ => left,
            };
            self.cycle += skip;
            left -= skip;
        }
    }

    /// Runs idle cycles until no job is starting or running; returns how
    /// many.
    pub fn wait_idle(&mut self) -> u64 {
        let before = self.cycle;
        let end = self
            .job
            .as_ref()
            .map(|j| j.done)
            .or(self.refusal.map(|r| r.0));
        if let Some(end) = end {
            self.idle(end + 1 - self.cycle);
        }
        self.cycle - before
    }

    fn register(&self, offset: u32, busy: bool) -> Option<u32> {
        let c = &self.config;
        Some(match offset {
            map::ID => map::ID_VALUE,
            map::CONFIG => {
                c.lanes as u32 | c.log_max_n << 8 | c.word_bits << 16 | (c.moduli as u32) << 24
            }
            map::USER_WORDS => c.user_words() as u32,
            map::STATUS => {
                busy as u32 | (self.done_seen as u32) << 1 | ((self.errors != 0) as u32) << 2
            }
            map::ERRORS => self.errors,
            map::CYCLES_LO => self.cycle as u32,
            map::CYCLES_HI => self.cycles_hi_latched,
            map::JOB_CYCLES => self.job_cycles,
            map::DESC_OP..=map::DESC_CONST => self.descriptor[(offset - map::DESC_OP) as usize],
            map::MOD_SLOT => self.mod_slot,
            map::MOD_Q => self.mod_q,
            map::MOD_M => self.mod_m,
            map::MOD_READBACK => match self.slots.get(self.mod_slot as usize) {
                Some(slot) if slot.valid => slot.q,
                _ => 0,
            },
            _ => return None,
        })
    }

    fn region_size(&self, region: u32) -> Option<usize> {
        match region << 28 {
            map::DATA => Some(self.config.user_words()),
            map::TWIDDLE => Some(self.config.twiddle_words()),
            map::TWIDDLE_EARLY => Some(self.config.early_twiddle_words()),
            _ => None,
        }
    }

    /// Starts the descriptor in the registers; returns the refusal flags
    /// (which land `START_LATENCY` cycles later).
    fn start(&mut self) -> u32 {
        let [op, log_n, slot, a, b, dst, constant] = self.descriptor;
        let valid: Vec<bool> = self.slots.iter().map(|s| s.valid).collect();
        let flags = self
            .config
            .descriptor_flags(op, log_n, slot, a, b, dst, &valid);
        let index = self.trace.len();
        let refused_at = self.cycle + START_LATENCY as u64;
        self.trace.push(JobRecord {
            op,
            log_n,
            start: self.cycle,
            end: (flags != 0).then_some(refused_at),
            flags,
        });
        if flags != 0 {
            self.refusal = Some((refused_at, flags));
            return flags;
        }
        let op = JobOp::from_code(op).expect("checked by the descriptor flags");
        let slot = slot as usize;
        let canonical = self.canonical_modulus(slot);
        let modulus = LoadedModulus {
            q: self.slots[slot].q,
            m: self.slots[slot].m,
            bits: self.config.word_bits,
        };
        let n = 1usize << log_n;
        let words = |at: u32| &self.memory[at as usize..at as usize + n];
        let mut result = std::mem::take(&mut self.spare);
        result.clear();
        result.resize(n, 0);
        match op {
            JobOp::Ntt | JobOp::Intt => match canonical {
                // Reduced data, a correct Barrett constant and canonical
                // twiddles: the RTL computes exactly the golden transform,
                // which `LazyNtt` computes bit for bit.
                Some(m) if words(a).iter().all(|&x| x < modulus.q) => {
                    let plans = &mut self.slots[slot].plans;
                    if plans.len() <= log_n as usize {
                        plans.resize(log_n as usize + 1, None);
                    }
                    let plan = plans[log_n as usize].get_or_insert_with(|| {
                        LazyNtt::new(&NttPlan::new(n, m).expect("checked canonical"))
                    });
                    result.copy_from_slice(&self.memory[a as usize..a as usize + n]);
                    if op == JobOp::Ntt {
                        plan.fwd(self.isa, &mut result);
                    } else {
                        plan.inv(self.isa, &mut result);
                    }
                }
                _ => {
                    result = self.transform(op == JobOp::Intt, log_n, slot, &modulus, words(a));
                }
            },
            // The lane's formula for every element, at software speed.
            _ => modulus.vector(
                self.isa,
                op,
                [words(a), words(b), words(dst)],
                constant,
                &mut result,
            ),
        }
        let cycles = match op {
            JobOp::Ntt | JobOp::Intt => self.config.ntt_cycles(log_n),
            _ => self.config.vector_cycles(log_n, op.operands()),
        };
        self.job = Some(RunningJob {
            start: self.cycle,
            done: self.cycle + cycles as u64,
            dst: dst as usize,
            result,
            trace_index: index,
        });
        0
    }

    /// The slot's modulus when its constants and twiddle tables are the
    /// canonical ones of `ola-arith` (checked once after each change).
    fn canonical_modulus(&mut self, slot: usize) -> Option<Modulus> {
        if let Some(known) = self.slots[slot].canonical {
            return known;
        }
        let config = self.config;
        let (q, m) = (self.slots[slot].q, self.slots[slot].m);
        let check = || {
            let modulus = Modulus::new(q as u64).ok()?;
            if modulus.barrett_m() != m as u64 {
                return None;
            }
            let plan = NttPlan::new(config.max_n(), modulus).ok()?;
            let image = ola_spec::twiddle_image(&config, slot as u32, &plan);
            image
                .iter()
                .all(|&(address, value, early)| {
                    let memory = if early {
                        &self.early_twiddles
                    } else {
                        &self.twiddles
                    };
                    memory[address as usize] == value
                })
                .then_some(modulus)
        };
        let known = check();
        self.slots[slot].canonical = Some(known);
        known
    }

    /// The constant-geometry transform with the loaded twiddles.
    fn transform(
        &self,
        inverse: bool,
        log_n: u32,
        slot: usize,
        modulus: &LoadedModulus,
        input: &[u32],
    ) -> Vec<u32> {
        let n = input.len();
        let half = n / 2;
        let lanes = self.config.lanes;
        let log_lanes = self.config.log_lanes();
        let region = 2 * slot + inverse as usize;
        let twiddle = |stage: u32, butterfly: usize| {
            if stage < log_lanes {
                self.early_twiddles[(region * 4 + stage as usize) * lanes + butterfly % lanes]
            } else {
                let index = (1usize << stage) | (butterfly & ((1 << stage) - 1));
                self.twiddles[region * self.config.max_n() + index]
            }
        };
        let mut current = input.to_vec();
        let mut next = vec![0; n];
        let stages: Vec<u32> = if inverse {
            (0..log_n).rev().collect()
        } else {
            (0..log_n).collect()
        };
        for stage in stages {
            for b in 0..half {
                let w = twiddle(stage, b);
                if inverse {
                    let (x, y) = modulus.lane(1, current[2 * b], current[2 * b + 1], w);
                    next[b] = x;
                    next[b + half] = y;
                } else {
                    let (x, y) = modulus.lane(0, current[b], current[b + half], w);
                    next[2 * b] = x;
                    next[2 * b + 1] = y;
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        current
    }
}

impl BusModel for Device {
    fn cycle(&mut self, inputs: &BusInputs) -> BusOutputs {
        let busy = self.busy();
        let outputs = BusOutputs {
            read_data: self.reads[0],
            busy,
        };
        let region = inputs.address >> 28;
        let offset = (inputs.address & map::OFFSET_MASK) as usize;
        let in_range = self.region_size(region).is_some_and(|size| offset < size);
        let mut new_errors = 0;
        let mut errors_base = self.errors;

        // Reads.
        let mut read_value = 0;
        if inputs.read {
            if region == 0 {
                match self.register(offset as u32, busy) {
                    Some(value) => read_value = value,
                    None => new_errors = ERR_BAD_ADDRESS,
                }
                if offset as u32 == map::CYCLES_LO {
                    self.cycles_hi_latched = (self.cycle >> 32) as u32;
                }
            } else if region << 28 == map::DATA && in_range {
                if busy {
                    new_errors = ERR_ACCESS_WHILE_BUSY;
                } else {
                    read_value = self.memory[offset];
                }
            } else {
                new_errors = ERR_BAD_ADDRESS;
            }
        }

        // Writes.
        let data = inputs.write_data;
        if inputs.write {
            if region == 0 {
                match offset as u32 {
                    map::CONTROL => {
                        if data & 2 != 0 {
                            errors_base = 0;
                            self.done_seen = false;
                        }
                        if data & 1 != 0 {
                            if busy {
                                new_errors = ERR_BUSY;
                            } else {
                                self.done_seen = false;
                                self.start();
                            }
                        }
                    }
                    o @ map::DESC_OP..=map::DESC_CONST => {
                        self.descriptor[(o - map::DESC_OP) as usize] = data
                    }
                    map::MOD_SLOT => self.mod_slot = data,
                    map::MOD_Q => self.mod_q = data,
                    map::MOD_M => self.mod_m = data,
                    map::MOD_COMMIT => {
                        if busy {
                            new_errors = ERR_ACCESS_WHILE_BUSY;
                        } else if let Some(slot) = self.slots.get_mut(self.mod_slot as usize) {
                            *slot = Slot {
                                q: self.mod_q,
                                m: self.mod_m,
                                valid: self.config.accepts_modulus(self.mod_q),
                                canonical: None,
                                plans: Vec::new(),
                            };
                        }
                    }
                    _ => new_errors = ERR_BAD_ADDRESS,
                }
            } else if !in_range {
                new_errors = ERR_BAD_ADDRESS;
            } else if busy {
                new_errors = ERR_ACCESS_WHILE_BUSY;
            } else {
                match region << 28 {
                    map::DATA => self.memory[offset] = data,
                    map::TWIDDLE => {
                        self.twiddles[offset] = data;
                        self.slots[offset / (2 * self.config.max_n())].canonical = None;
                    }
                    _ => {
                        self.early_twiddles[offset] = data;
                        self.slots[offset / (8 * self.config.lanes)].canonical = None;
                    }
                }
            }
        }
        // A refusal's flags land beside this cycle's own errors.
        if let Some((at, flags)) = self.refusal
            && at == self.cycle
        {
            new_errors |= flags;
            self.refusal = None;
        }
        self.errors = errors_base | new_errors;
        self.reads.rotate_left(1);
        self.reads[BUS_READ_LATENCY - 1] = read_value;

        // A job ends: its result lands, its cycle count is recorded.
        if self.job.as_ref().is_some_and(|j| j.done == self.cycle) {
            let job = self.job.take().expect("checked above");
            self.memory[job.dst..job.dst + job.result.len()].copy_from_slice(&job.result);
            self.spare = job.result;
            self.job_cycles = (job.done - job.start) as u32;
            self.done_seen = true;
            self.trace[job.trace_index].end = Some(job.done);
        }
        self.cycle += 1;
        outputs
    }
}
