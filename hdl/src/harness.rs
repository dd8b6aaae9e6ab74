//! Drives an [`Engine`] from Rust, cycle by cycle, the way firmware would:
//! load moduli, twiddles and data, run jobs, read results. Every cycle's
//! inputs and outputs are recorded so the same input sequence can be
//! replayed into the emitted Verilog and compared output for output.

use ola_arith::{Modulus, NttPlan};

use crate::config::Config;
use crate::engine::{Engine, JobOp};
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
    pub const PORTS: [(&'static str, usize); 20] = [
        ("start", 1),
        ("desc_op", 32),
        ("desc_log_n", 32),
        ("desc_slot", 32),
        ("desc_a", 32),
        ("desc_b", 32),
        ("desc_dst", 32),
        ("desc_const", 32),
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

    /// One cycle with these inputs.
    pub fn cycle(&mut self, inputs: EngineInputs) -> EngineOutputs {
        let out = self.engine.cycle(&inputs);
        self.inputs.push(inputs);
        self.outputs.push(out);
        out
    }

    /// One idle cycle.
    pub fn idle(&mut self) -> EngineOutputs {
        self.cycle(EngineInputs::default())
    }

    /// Loads modulus slot `slot`.
    pub fn load_modulus(&mut self, slot: u32, modulus: &Modulus) {
        self.cycle(EngineInputs {
            mod_write: true,
            mod_slot: slot,
            mod_q: modulus.value(),
            mod_m: modulus.barrett_m() as u32,
            ..Default::default()
        });
    }

    /// Writes the twiddle tables of `plan` (of size `N_max`) into `slot`.
    pub fn load_twiddles(&mut self, slot: u32, plan: &NttPlan) {
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

    /// Writes words at a data address.
    pub fn write_words(&mut self, address: u32, words: &[u32]) {
        for (i, &w) in words.iter().enumerate() {
            self.cycle(EngineInputs {
                mem_address: address + i as u32,
                mem_write_data: w,
                mem_write: true,
                ..Default::default()
            });
        }
    }

    /// Reads words from a data address.
    pub fn read_words(&mut self, address: u32, count: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(count);
        for i in 0..=count {
            let o = self.cycle(EngineInputs {
                mem_address: address + i.min(count - 1) as u32,
                mem_read: i < count,
                ..Default::default()
            });
            if i > 0 {
                out.push(o.mem_read_data);
            }
        }
        out
    }

    /// Starts a job and waits for it; `limit` bounds the wait.
    pub fn run(&mut self, job: &Job, limit: usize) -> JobOutcome {
        let first = self.cycle(EngineInputs {
            start: true,
            desc_op: job.op as u32,
            desc_log_n: job.log_n,
            desc_slot: job.slot,
            desc_a: job.a,
            desc_b: job.b,
            desc_dst: job.dst,
            desc_const: job.constant,
            ..Default::default()
        });
        if first.reject {
            return JobOutcome::Rejected(first.reject_flags);
        }
        for cycles in 1..=limit {
            if self.idle().done {
                return JobOutcome::Done(cycles);
            }
        }
        panic!("job {job:?} did not finish within {limit} cycles");
    }
}

/// The twiddle memory image of modulus slot `slot`: `(address, value,
/// early)` triples for the main memory (`address = (2·slot + dir)·N_max + i`)
/// and the early-stage memory (`address = ((2·slot + dir)·4 + s)·P + lane`,
/// holding entry `2^s + (lane mod 2^s)` for stages `s < log2 P`).
pub fn twiddle_image(config: &Config, slot: u32, plan: &NttPlan) -> Vec<(u32, u32, bool)> {
    assert_eq!(
        plan.n(),
        config.max_n(),
        "twiddles come from the N_max plan"
    );
    let mut image = Vec::new();
    for (direction, table) in [plan.psi_rev(), plan.psi_inv_half_rev()]
        .into_iter()
        .enumerate()
    {
        let region = 2 * slot as usize + direction;
        for (i, &w) in table.iter().enumerate() {
            image.push(((region * config.max_n() + i) as u32, w, false));
        }
        for s in 0..config.log_lanes() {
            for lane in 0..config.lanes {
                let entry = (1 << s) + (lane % (1 << s));
                let address = ((region * 4 + s as usize) * config.lanes + lane) as u32;
                image.push((address, table[entry], true));
            }
        }
    }
    image
}
