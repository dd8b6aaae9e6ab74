//! The interface of the ola-fpga accelerator, shared by everything that
//! talks to it or models it: the RTL (`ola-hdl`), the simulator, the
//! firmware and the host.
//!
//! * [`config`]: named configurations, derived sizes, exact cycle counts,
//!   the descriptor checks and their error flags.
//! * [`map`]: the bus's register and memory map.
//! * [`link`]: the SPI link from the firmware's CPU to the accelerator's
//!   bridge, and the word-bus trait the firmware drives it through.
//! * [`JobOp`]: job operation codes.
//! * [`twiddle_image`]: where each twiddle factor goes in device memory.
//!
//! `no_std`; [`twiddle_image`] needs `alloc`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod config;
pub mod link;

/// The register and memory map (word addresses).
pub mod map {
    /// Region of the data memory: `DATA | word_address`, word addresses
    /// below `USER_WORDS` (beyond: `ERR_BAD_ADDRESS`, nothing accessed).
    pub const DATA: u32 = 0x1000_0000;
    /// Region of the main twiddle memory (write only): `TWIDDLE | address`,
    /// addresses below `Config::twiddle_words`,
    /// with the layout of [`crate::twiddle_image`].
    pub const TWIDDLE: u32 = 0x2000_0000;
    /// Region of the early-stage twiddle memory (write only), addresses
    /// below `Config::early_twiddle_words`.
    pub const TWIDDLE_EARLY: u32 = 0x3000_0000;
    /// Mask of the region offset.
    pub const OFFSET_MASK: u32 = 0x0FFF_FFFF;

    /// Read only: [`ID_VALUE`].
    pub const ID: u32 = 0x00;
    /// The value of [`ID`]: "OLA1".
    pub const ID_VALUE: u32 = 0x4F4C_4131;
    /// Read only: lanes (7:0), log2 N_max (15:8), word bits (23:16),
    /// modulus slots (31:24).
    pub const CONFIG: u32 = 0x01;
    /// Read only: words of data memory the host may use.
    pub const USER_WORDS: u32 = 0x02;
    /// Write only: bit 0 starts the job in the `DESC_*` registers, bit 1
    /// clears `ERRORS` and the done bit first.
    pub const CONTROL: u32 = 0x03;
    /// Read only: bit 0 busy, bit 1 done (a job finished since the last
    /// start), bit 2 `ERRORS` non-zero.
    pub const STATUS: u32 = 0x04;
    /// Read only: sticky error flags.
    pub const ERRORS: u32 = 0x05;
    /// Read only: free-running cycle counter, low word; reading it latches
    /// the high word into [`CYCLES_HI`].
    pub const CYCLES_LO: u32 = 0x06;
    /// Read only: high word latched by the last read of [`CYCLES_LO`].
    pub const CYCLES_HI: u32 = 0x07;
    /// Read only: cycles of the last completed job, start to done.
    pub const JOB_CYCLES: u32 = 0x08;
    /// Descriptor: operation code.
    pub const DESC_OP: u32 = 0x10;
    /// Descriptor: log2 N.
    pub const DESC_LOG_N: u32 = 0x11;
    /// Descriptor: modulus slot.
    pub const DESC_SLOT: u32 = 0x12;
    /// Descriptor: word address of operand a.
    pub const DESC_A: u32 = 0x13;
    /// Descriptor: word address of operand b.
    pub const DESC_B: u32 = 0x14;
    /// Descriptor: word address of the destination.
    pub const DESC_DST: u32 = 0x15;
    /// Descriptor: constant of MulConst.
    pub const DESC_CONST: u32 = 0x16;
    /// Modulus slot to load or read back.
    pub const MOD_SLOT: u32 = 0x20;
    /// Modulus to load.
    pub const MOD_Q: u32 = 0x21;
    /// Barrett constant to load.
    pub const MOD_M: u32 = 0x22;
    /// Write only: loads `MOD_Q`, `MOD_M` into slot `MOD_SLOT` (the slot is
    /// valid only if the modulus is odd with exactly the word's bits).
    pub const MOD_COMMIT: u32 = 0x23;
    /// Read only: the modulus in slot `MOD_SLOT`, 0 when the slot is invalid.
    pub const MOD_READBACK: u32 = 0x24;
}

/// Job operation codes of a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum JobOp {
    /// Forward negacyclic NTT, `dst = NTT(a)`.
    Ntt = 0,
    /// Inverse NTT including `N^-1`, `dst = INTT(a)`.
    Intt = 1,
    /// `dst = a · b`.
    Mul = 2,
    /// `dst = dst + a · b`.
    Mac = 3,
    /// `dst = a + b`.
    Add = 4,
    /// `dst = a − b`.
    Sub = 5,
    /// `dst = a · constant`.
    MulConst = 6,
}

impl JobOp {
    /// Every operation.
    pub const ALL: [JobOp; 7] = [
        JobOp::Ntt,
        JobOp::Intt,
        JobOp::Mul,
        JobOp::Mac,
        JobOp::Add,
        JobOp::Sub,
        JobOp::MulConst,
    ];

    /// Memory operands read per row pair (the destination counts for `Mac`).
    pub fn operands(self) -> usize {
        match self {
            JobOp::Ntt | JobOp::Intt | JobOp::MulConst => 1,
            JobOp::Mul | JobOp::Add | JobOp::Sub => 2,
            JobOp::Mac => 3,
        }
    }

    /// Whether the job reads operand `b`.
    pub fn uses_b(self) -> bool {
        matches!(self, JobOp::Mul | JobOp::Mac | JobOp::Add | JobOp::Sub)
    }

    /// Decodes a 3-bit code.
    pub fn from_code(code: u32) -> Option<JobOp> {
        JobOp::ALL.get(code as usize).copied()
    }
}

#[cfg(feature = "alloc")]
use config::Config;
// The accelerator's bus, one cycle at a time.

/// Bus inputs for one cycle of the accelerator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusInputs {
    /// `bus_address`.
    pub address: u32,
    /// `bus_write_data`.
    pub write_data: u32,
    /// `bus_write`.
    pub write: bool,
    /// `bus_read`.
    pub read: bool,
}

impl BusInputs {
    /// Port names and widths, in the order of [`BusInputs::values`].
    pub const PORTS: [(&'static str, usize); 4] = [
        ("bus_address", 32),
        ("bus_write_data", 32),
        ("bus_write", 1),
        ("bus_read", 1),
    ];

    /// The values in port order.
    pub fn values(&self) -> [u64; 4] {
        [
            self.address as u64,
            self.write_data as u64,
            self.write as u64,
            self.read as u64,
        ]
    }
}

/// Bus outputs sampled in one cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusOutputs {
    /// `bus_read_data`.
    pub read_data: u32,
    /// `busy`.
    pub busy: bool,
}

impl BusOutputs {
    /// Port names and widths, in the order of [`BusOutputs::values`].
    pub const PORTS: [(&'static str, usize); 2] = [("bus_read_data", 32), ("busy", 1)];

    /// The values in port order.
    pub fn values(&self) -> [u64; 2] {
        [self.read_data as u64, self.busy as u64]
    }
}

/// Cycles from a bus read to its word on `bus_read_data`: a read in cycle
/// `t` (registers and memory alike) answers in cycle `t + BUS_READ_LATENCY`
/// and `bus_read_data` is 0 in every cycle that answers no read. Two, so
/// that no block-RAM output reaches a multiplexer in the cycle it appears
/// (issue 8, timing closure on ECP5): memory reads go through the engine's
/// registered memory outputs (stage R), register reads through one more
/// register to match.
pub const BUS_READ_LATENCY: usize = 2;

/// Anything that behaves like the accelerator's bus cycle by cycle: the
/// RTL (in RustHDL's simulator or Verilated) and the simulator.
pub trait BusModel {
    /// Applies `inputs`, samples the outputs (before the clock edge), and
    /// runs the edge.
    fn cycle(&mut self, inputs: &BusInputs) -> BusOutputs;
}

#[cfg(feature = "alloc")]
use ola_arith::NttPlan;

#[cfg(feature = "alloc")]
/// The twiddle memory image of modulus slot `slot`: `(address, value,
/// early)` triples for the main memory (`address = (2·slot + dir)·N_max + i`)
/// and the early-stage memory (`address = ((2·slot + dir)·4 + s)·P + lane`,
/// holding entry `2^s + (lane mod 2^s)` for stages `s < log2 P`).
pub fn twiddle_image(
    config: &Config,
    slot: u32,
    plan: &NttPlan,
) -> alloc::vec::Vec<(u32, u32, bool)> {
    assert_eq!(
        plan.n(),
        config.max_n(),
        "twiddles come from the N_max plan"
    );
    let mut image = alloc::vec::Vec::new();
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
