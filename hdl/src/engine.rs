//! The job engine: banked data memory, twiddle memories, modulus table,
//! `P` lanes, and the sequencer that runs NTT, INTT and vector jobs.
//!
//! **Memory.** Data live in rows of `P` words (word `a` is lane `a mod P`
//! of global row `g = a / P`). Rows are spread over two banks by the parity
//! of `popcount(g)`; a bank holds row `g` at address `g >> 1`. Every access
//! pattern the engine uses reads or writes two rows whose indices differ in
//! exactly one bit (`c` and `c + H` with `H` a power of two above `c`,
//! or `2c` and `2c + 1`), so the two rows always sit in different banks:
//! each cycle is one read and one write per bank, with no conflicts, for
//! any `N`. A job's buffers start at multiples of `N` words, which keeps
//! that property within each buffer.
//!
//! **NTT.** Constant geometry (see `ola_arith::ntt`): each stage reads rows
//! `c`, `H + c` (forward) or `2c`, `2c + 1` (inverse) of its source and
//! writes the other pattern to its destination, `P` butterflies per cycle,
//! ping-ponging between the job's destination and two private scratch
//! buffers so that the last stage lands in the destination, even when the
//! source is the destination. Stages follow each other without a bubble
//! once `H/2 ≥ L + 2` (`L` = [`PIPELINE_LATENCY`]); smaller transforms wait
//! [`Config::stage_gap`].
//! Twiddles for stages `s ≥ log2 P` are `P` consecutive table entries, one
//! row of the per-lane main twiddle memories; the first `log2 P` stages use
//! rows of a small early-stage memory that the loader fills with the
//! entries each lane needs.
//!
//! **Vector jobs** process row pairs `(2j, 2j + 1)`: one cycle reads both
//! rows of one operand (one per bank), two or three such cycles feed the
//! lanes two rows, which they finish in two cycles.
//!
//! **Pipeline** (for timing closure on ECP5: no block-RAM output, adder
//! chain or address adder shares a cycle with another). A read issued on
//! cycle `t` is registered (stage A) and addresses the memories on `t + 1`;
//! their outputs are registered on `t + 2` (stage R, before any
//! multiplexer); the bank and operand multiplexers fill the lanes' operand
//! registers on `t + 3` (stage I); the lanes start on `t + 4` and their
//! results are written [`LANE_LATENCY`] cycles later. The host's reads
//! address the memories directly on cycle `t` and take stage R on `t + 1`;
//! the lane and bank multiplexer picks their word from stage R's registers
//! on `t + 2` ([`BUS_READ_LATENCY`], what the bus promises), so no block-RAM
//! output feeds it directly.
//!
//! **Start.** A start's descriptor checks (alignment masks and range
//! compares against registers derived from `log_n` when it was written —
//! [`DerivedDescriptor`] — and the slot's validity) are registered in the
//! start's cycle, with the descriptor's decode (operation, first target,
//! the slot's modulus); the job is accepted or refused the cycle after
//! ([`START_LATENCY`]), and the job registers load then from those
//! registers, without depending on the checks. `busy` covers that cycle,
//! so the bus refuses a second start or a memory access in it.
//!
//! Exact cycle counts: [`Config::ntt_cycles`], [`Config::vector_cycles`].
//!
//! [`Config::stage_gap`]: crate::config::Config::stage_gap
//! [`Config::ntt_cycles`]: crate::config::Config::ntt_cycles
//! [`Config::vector_cycles`]: crate::config::Config::vector_cycles
//! [`PIPELINE_LATENCY`]: crate::config::PIPELINE_LATENCY
//! [`START_LATENCY`]: crate::config::START_LATENCY
//! [`BUS_READ_LATENCY`]: ola_spec::BUS_READ_LATENCY

use rust_hdl::prelude::*;

use crate::config::{
    Config, ERR_BAD_MODULUS, ERR_BAD_OP, ERR_BAD_SIZE, ERR_MISALIGNED, ERR_OUT_OF_RANGE,
    PIPELINE_LATENCY, START_LATENCY,
};
use crate::lane::{LANE_LATENCY, Lane};

pub use ola_spec::JobOp;

/// The engine inputs derived from `desc_log_n` ([`Engine`]'s `desc_mask`,
/// `desc_limit`, `desc_size_flags`, `desc_half_rows`, `desc_gap`,
/// `desc_last_stage`), as the accelerator's registers compute them when
/// `DESC_LOG_N` is written (32-bit wrapping arithmetic, the size from the
/// low five bits of `log_n`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DerivedDescriptor {
    /// `N − 1`.
    pub mask: u32,
    /// `user_words − N`.
    pub limit: u32,
    /// `ERR_BAD_SIZE` and/or `ERR_OUT_OF_RANGE` (when `N > user_words`).
    pub size_flags: u32,
    /// `2^((log_n − log2 P − 1) mod 32)`.
    pub half_rows: u32,
    /// Idle cycles between NTT stages.
    pub gap: u32,
    /// `log_n − 1`.
    pub last_stage: u32,
}

impl DerivedDescriptor {
    /// The derived inputs for `log_n` in `config`.
    pub fn new(config: &Config, log_n: u32) -> Self {
        let size = 1u32 << (log_n & 31);
        let user = config.user_words() as u32;
        let mut size_flags = 0;
        if log_n < config.min_log_n() || log_n > config.log_max_n {
            size_flags |= ERR_BAD_SIZE;
        }
        if size > user {
            size_flags |= ERR_OUT_OF_RANGE;
        }
        let half_rows = 1u32 << (log_n.wrapping_sub(config.log_lanes() + 1) & 31);
        DerivedDescriptor {
            mask: size.wrapping_sub(1),
            limit: user.wrapping_sub(size),
            size_flags,
            half_rows,
            gap: (PIPELINE_LATENCY as u32 + 2).saturating_sub(half_rows >> 1),
            last_stage: log_n.wrapping_sub(1),
        }
    }
}

/// The engine of one configuration: `P` lanes, data banks with `DA`
/// address bits, main / early twiddle memories with `TA` / `EA` address
/// bits, `M` modulus slots. Build it with [`Engine::new`], which checks the
/// parameters against a [`Config`].
#[derive(LogicBlock)]
pub struct Engine<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>
{
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Start the job described by the `desc_*` inputs (one-cycle pulse).
    /// The descriptor is checked in this cycle and the job accepted or
    /// refused in the next ([`START_LATENCY`]), from the `desc_*` inputs,
    /// which must hold their values for both cycles, and the modulus slots.
    pub start: Signal<In, Bit>,
    /// [`JobOp`] code.
    pub desc_op: Signal<In, Bits<32>>,
    /// `log2 N`.
    pub desc_log_n: Signal<In, Bits<32>>,
    /// Modulus slot.
    pub desc_slot: Signal<In, Bits<32>>,
    /// Word address of operand `a`.
    pub desc_a: Signal<In, Bits<32>>,
    /// Word address of operand `b`.
    pub desc_b: Signal<In, Bits<32>>,
    /// Word address of the destination.
    pub desc_dst: Signal<In, Bits<32>>,
    /// Constant of `MulConst` (reduced).
    pub desc_const: Signal<In, Bits<32>>,
    /// `N − 1` for `desc_log_n`, with `N = 2^(log_n mod 32)`. This and the
    /// other `desc_*` quantities derived from `desc_log_n` come from
    /// registers written with it (see [`DerivedDescriptor`]), so that the
    /// start's checks are one compare each, not a shifter and adders.
    pub desc_mask: Signal<In, Bits<32>>,
    /// `user_words − N` (wrapping): an operand `x` is out of range exactly
    /// when `x > desc_limit`, or when `N > user_words`.
    pub desc_limit: Signal<In, Bits<32>>,
    /// `ERR_BAD_SIZE` when `desc_log_n` is outside the configuration's
    /// sizes, `ERR_OUT_OF_RANGE` when `N > user_words`.
    pub desc_size_flags: Signal<In, Bits<32>>,
    /// Rows per half of a buffer: `2^((log_n − log2 P − 1) mod 32)`.
    pub desc_half_rows: Signal<In, Bits<32>>,
    /// Idle cycles between NTT stages (`Config::stage_gap`).
    pub desc_gap: Signal<In, Bits<32>>,
    /// `desc_log_n − 1` (wrapping): the last stage's index.
    pub desc_last_stage: Signal<In, Bits<32>>,
    /// A job is starting or running: from the cycle after `start` to the
    /// cycle of `done` (or of `reject`).
    pub busy: Signal<Out, Bit>,
    /// The running job finished this cycle (all memory written).
    pub done: Signal<Out, Bit>,
    /// The start of the previous cycle was refused; `reject_flags` says why.
    pub reject: Signal<Out, Bit>,
    /// Error flags of the refused start (0 in other cycles).
    pub reject_flags: Signal<Out, Bits<32>>,
    /// Write a modulus slot (`mod_slot`, `mod_q`, `mod_m`); idle only.
    pub mod_write: Signal<In, Bit>,
    /// Slot to write or read back.
    pub mod_slot: Signal<In, Bits<32>>,
    /// Modulus to write.
    pub mod_q: Signal<In, Bits<32>>,
    /// Its Barrett constant.
    pub mod_m: Signal<In, Bits<32>>,
    /// Read-back of slot `mod_slot`: the modulus, or 0 when not valid.
    pub mod_readback: Signal<Out, Bits<32>>,
    /// Data word address for host access.
    pub mem_address: Signal<In, Bits<32>>,
    /// Data word to write.
    pub mem_write_data: Signal<In, Bits<32>>,
    /// Write `mem_write_data` at `mem_address` (ignored while busy).
    pub mem_write: Signal<In, Bit>,
    /// Read at `mem_address`; the word appears on `mem_read_data`
    /// [`ola_spec::BUS_READ_LATENCY`] cycles later (0 in other cycles).
    pub mem_read: Signal<In, Bit>,
    /// Word read `BUS_READ_LATENCY` cycles before.
    pub mem_read_data: Signal<Out, Bits<32>>,
    /// Twiddle word address: `row · P + lane` in the main or early memory.
    pub twiddle_address: Signal<In, Bits<32>>,
    /// Twiddle word to write.
    pub twiddle_data: Signal<In, Bits<32>>,
    /// Write the main twiddle memory (ignored while busy).
    pub twiddle_write: Signal<In, Bit>,
    /// Write the early-stage twiddle memory (ignored while busy).
    pub twiddle_early_write: Signal<In, Bit>,

    lanes: [Lane; P],
    bank0: [RAM<Bits<32>, DA>; P],
    bank1: [RAM<Bits<32>, DA>; P],
    twiddle_main: [RAM<Bits<32>, TA>; P],
    twiddle_early: [RAM<Bits<32>, EA>; P],
    modulus_q: [DFF<Bits<32>>; M],
    modulus_m: [DFF<Bits<32>>; M],
    modulus_valid: [DFF<Bit>; M],

    // Job start: a start was requested the cycle before; the descriptor's
    // error flags as of the cycle before (registered every cycle).
    start_pending: DFF<Bit>,
    pending_flags: DFF<Bits<32>>,
    // The descriptor decoded in the start's cycle too (it holds through
    // the next), so the job registers load from flip-flops.
    pending_ntt: DFF<Bit>,
    pending_inverse: DFF<Bit>,
    pending_mul: DFF<Bit>,
    pending_mac: DFF<Bit>,
    pending_mul_const: DFF<Bit>,
    pending_lane_op: DFF<Bits<3>>,
    pending_target: DFF<Bits<32>>,
    pending_last_row: DFF<Bits<32>>,
    pending_modulus: DFF<Bits<32>>,
    pending_barrett: DFF<Bits<32>>,
    // Job state.
    running: DFF<Bit>,
    draining: DFF<Bit>,
    drain_count: DFF<Bits<32>>,
    is_ntt: DFF<Bit>,
    inverse: DFF<Bit>,
    // The vector operation, decoded at the start: the operand
    // multiplexers select on flip-flops, not on 32-bit compares.
    op_mul: DFF<Bit>,
    op_mac: DFF<Bit>,
    op_mul_const: DFF<Bit>,
    lane_op: DFF<Bits<3>>,
    // Operand slots of a vector row pair (0..=2): two bits, so the
    // sequencer's slot compares are one LUT each.
    last_slot: DFF<Bits<2>>,
    modulus: DFF<Bits<32>>,
    barrett: DFF<Bits<32>>,
    constant: DFF<Bits<32>>,
    half_rows: DFF<Bits<32>>,
    last_row: DFF<Bits<32>>,
    stages: DFF<Bits<32>>,
    // 2^stage and 2^stage − 1, kept beside `stage` so the twiddle row is
    // bit operations on registers.
    stage_pow: DFF<Bits<32>>,
    stage_low: DFF<Bits<32>>,
    stage_index: DFF<Bits<32>>,
    stage: DFF<Bits<32>>,
    row: DFF<Bits<32>>,
    slot: DFF<Bits<2>>,
    gap_length: DFF<Bits<32>>,
    gap_left: DFF<Bits<32>>,
    // The sequencer's end-of-count compares, kept as flags beside their
    // counters (issue 8: 32-bit compares drove every job register's
    // enable): `row == last_row`, `stage_index == log_n − 1`,
    // `gap_left == 0`, `drain_count == 0`. Each is set from a compare of
    // the counter's current value against the limit's predecessor (or of
    // the value it is loaded with), registered.
    row_last: DFF<Bit>,
    stage_last: DFF<Bit>,
    gap_zero: DFF<Bit>,
    drain_zero: DFF<Bit>,
    last_row_before: DFF<Bits<32>>,
    last_stage_before: DFF<Bits<32>>,
    source_row: DFF<Bits<32>>,
    target_row: DFF<Bits<32>>,
    a_row: DFF<Bits<32>>,
    b_row: DFF<Bits<32>>,
    dst_row: DFF<Bits<32>>,
    twiddle_main_base: DFF<Bits<32>>,
    twiddle_early_base: DFF<Bits<32>>,
    // Bank parities (popcount mod 2) of the row registers above, kept
    // beside them. An issued row is base | offset with disjoint bits (the
    // buffers are aligned to N/P rows, the offsets below N/P), so its bank
    // is parity(base) ^ parity(offset): the issue path sees one-bit
    // parities instead of a 32-bit parity tree behind the row
    // multiplexers (issue 8).
    pending_target_parity: DFF<Bit>,
    source_parity: DFF<Bit>,
    target_parity: DFF<Bit>,
    a_parity: DFF<Bit>,
    b_parity: DFF<Bit>,
    dst_parity: DFF<Bit>,

    // Stage A: the issued read, registered before it reaches the memories.
    issued: DFF<Bit>,
    issued_ntt: DFF<Bit>,
    issued_first: DFF<Bit>,
    issued_second: DFF<Bit>,
    issued_last: DFF<Bit>,
    issued_early: DFF<Bit>,
    issued_row_a: DFF<Bits<32>>,
    issued_row_b: DFF<Bits<32>>,
    issued_read_a: DFF<Bits<32>>,
    issued_read_b: DFF<Bits<32>>,
    // Bank of issued_read_a (its row's popcount parity), computed with it.
    issued_swap: DFF<Bit>,
    issued_twiddle_main: DFF<Bits<32>>,
    issued_twiddle_early: DFF<Bits<32>>,
    // Tag of the rows arriving from memory this cycle.
    arriving: DFF<Bit>,
    arriving_ntt: DFF<Bit>,
    arriving_first: DFF<Bit>,
    arriving_second: DFF<Bit>,
    arriving_last: DFF<Bit>,
    arriving_swap: DFF<Bit>,
    arriving_early: DFF<Bit>,
    arriving_row_a: DFF<Bits<32>>,
    arriving_row_b: DFF<Bits<32>>,
    // Stage R: the memories' outputs, registered, and their tag.
    arrived: DFF<Bit>,
    arrived_ntt: DFF<Bit>,
    arrived_first: DFF<Bit>,
    arrived_second: DFF<Bit>,
    arrived_last: DFF<Bit>,
    arrived_swap: DFF<Bit>,
    arrived_row_a: DFF<Bits<32>>,
    arrived_row_b: DFF<Bits<32>>,
    bank0_word: [DFF<Bits<32>>; P],
    bank1_word: [DFF<Bits<32>>; P],
    twiddle_word: [DFF<Bits<32>>; P],
    // Stage I: the lanes' operands, registered after the multiplexers.
    lane_u: [DFF<Bits<32>>; P],
    lane_v: [DFF<Bits<32>>; P],
    lane_w: [DFF<Bits<32>>; P],
    // Second row of a vector pair, issued the cycle after the first.
    second_issue: DFF<Bit>,
    second_row: DFF<Bits<32>>,
    // Operand rows held for vector jobs.
    hold_first_a: [DFF<Bits<32>>; P],
    hold_first_b: [DFF<Bits<32>>; P],
    hold_second_a: [DFF<Bits<32>>; P],
    hold_second_b: [DFF<Bits<32>>; P],
    hold_last_b: [DFF<Bits<32>>; P],
    // Write-back metadata travelling beside stage I and the lanes
    // (LANE_LATENCY + 1 long).
    write_valid: [DFF<Bit>; 14],
    write_two_rows: [DFF<Bit>; 14],
    write_inverse: [DFF<Bit>; 14],
    write_row_a: [DFF<Bits<32>>; 14],
    write_row_b: [DFF<Bits<32>>; 14],
    // Bank of write_row_a[13], computed from write_row_a[12] a cycle early.
    write_swap: DFF<Bit>,
    // Host read in flight: its row is leaving the memories (`host_read_*`,
    // cycle t + 1), then sits in stage R (`host_answer_*`, cycle t + 2).
    host_read_valid: DFF<Bit>,
    host_read_bank: DFF<Bit>,
    host_read_lane: DFF<Bits<32>>,
    host_answer_valid: DFF<Bit>,
    host_answer_bank: DFF<Bit>,
    host_answer_lane: DFF<Bits<32>>,

    // Combinational intermediates.
    flags: Signal<Local, Bits<32>>,
    issue: Signal<Local, Bit>,
    read_row_a: Signal<Local, Bits<32>>,
    read_row_b: Signal<Local, Bits<32>>,
    operand_base: Signal<Local, Bits<32>>,
    // Bank parity of `read_row_a` and its parts.
    read_parity: Signal<Local, Bit>,
    base_parity: Signal<Local, Bit>,
    row_parity: Signal<Local, Bit>,
    start_a_row: Signal<Local, Bits<32>>,
    start_b_row: Signal<Local, Bits<32>>,
    start_dst_row: Signal<Local, Bits<32>>,
    twiddle_step: Signal<Local, Bits<32>>,
    host_row: Signal<Local, Bits<32>>,
    host_lane: Signal<Local, Bits<32>>,
    next_target: Signal<Local, Bits<32>>,
    first_target: Signal<Local, Bits<32>>,
    vector_lane_op: Signal<Local, Bits<3>>,
    twiddle_mask: Signal<Local, Bits<32>>,
    flag_op: Signal<Local, Bits<32>>,
    flag_size: Signal<Local, Bits<32>>,
    flag_modulus: Signal<Local, Bits<32>>,
    flag_alignment: Signal<Local, Bits<32>>,
    flag_range: Signal<Local, Bits<32>>,
    stages_remaining: Signal<Local, Bits<32>>,
    twiddle_host_row: Signal<Local, Bits<32>>,
    twiddle_row_main: Signal<Local, Bits<32>>,
    twiddle_row_early: Signal<Local, Bits<32>>,

    // Configuration constants.
    log_lanes: Constant<Bits<32>>,
    lane_mask: Constant<Bits<32>>,
    log_rows_per_buffer: Constant<Bits<32>>,
    scratch0_row: Constant<Bits<32>>,
    scratch1_row: Constant<Bits<32>>,
    scratch0_parity: Constant<Bit>,
    slot_count: Constant<Bits<32>>,
    word_bits: Constant<Bits<32>>,
    single_lane: Constant<Bit>,
    zero_data_address: Constant<Bits<DA>>,
    zero_twiddle_address: Constant<Bits<TA>>,
    zero_early_address: Constant<Bits<EA>>,
    lane_op_mul: Constant<Bits<3>>,
    // Slot numbers typed to the slot registers' width.
    slot_0: Constant<Bits<2>>,
    slot_1: Constant<Bits<2>>,
    slot_2: Constant<Bits<2>>,
    drain_ntt: Constant<Bits<32>>,
    drain_vector: Constant<Bits<32>>,
    err_bad_op: Constant<Bits<32>>,
    err_bad_modulus: Constant<Bits<32>>,
    err_misaligned: Constant<Bits<32>>,
    err_out_of_range: Constant<Bits<32>>,
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>
    crate::testing::Clocked for Engine<P, DA, TA, EA, M>
{
    fn clock_input(&mut self) -> &mut Signal<In, Clock> {
        &mut self.clock
    }
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>
    Engine<P, DA, TA, EA, M>
{
    /// The engine of `config`, whose sizes must match the type parameters.
    pub fn new(config: &Config) -> Self {
        assert_eq!(config.lanes, P, "lanes");
        assert!(matches!(P, 1 | 2 | 4 | 8), "1, 2, 4 or 8 lanes");
        assert_eq!(config.moduli, M, "modulus slots");
        assert_eq!(
            config.data_bank_address_bits(),
            DA,
            "data bank address bits"
        );
        assert_eq!(config.twiddle_address_bits(), TA, "twiddle address bits");
        assert_eq!(
            config.early_twiddle_address_bits(),
            EA,
            "early twiddle bits"
        );
        assert_eq!(LANE_LATENCY, 13, "the write-back line below is 14 long");
        assert_eq!(PIPELINE_LATENCY, LANE_LATENCY + 3, "stages A, R and I");
        assert_eq!(START_LATENCY, 1, "start_pending");
        assert_eq!(
            ola_spec::BUS_READ_LATENCY,
            2,
            "host reads: the memories, then stage R"
        );
        assert!(config.min_log_n() <= config.log_max_n);
        let c32 = |v: u64| Constant::new(v.into());
        let scratch0 = ((1u64 << config.log_buffers) - 2) * config.rows_per_buffer() as u64;
        Self {
            clock: Default::default(),
            start: Default::default(),
            desc_op: Default::default(),
            desc_log_n: Default::default(),
            desc_slot: Default::default(),
            desc_a: Default::default(),
            desc_b: Default::default(),
            desc_dst: Default::default(),
            desc_const: Default::default(),
            desc_mask: Default::default(),
            desc_limit: Default::default(),
            desc_size_flags: Default::default(),
            desc_half_rows: Default::default(),
            desc_gap: Default::default(),
            desc_last_stage: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            reject: Default::default(),
            reject_flags: Default::default(),
            mod_write: Default::default(),
            mod_slot: Default::default(),
            mod_q: Default::default(),
            mod_m: Default::default(),
            mod_readback: Default::default(),
            mem_address: Default::default(),
            mem_write_data: Default::default(),
            mem_write: Default::default(),
            mem_read: Default::default(),
            mem_read_data: Default::default(),
            twiddle_address: Default::default(),
            twiddle_data: Default::default(),
            twiddle_write: Default::default(),
            twiddle_early_write: Default::default(),
            lanes: array_init::array_init(|_| Lane::new(config.word_bits as usize)),
            bank0: array_init::array_init(|_| Default::default()),
            bank1: array_init::array_init(|_| Default::default()),
            twiddle_main: array_init::array_init(|_| Default::default()),
            twiddle_early: array_init::array_init(|_| Default::default()),
            modulus_q: array_init::array_init(|_| Default::default()),
            modulus_m: array_init::array_init(|_| Default::default()),
            modulus_valid: array_init::array_init(|_| Default::default()),
            start_pending: Default::default(),
            pending_flags: Default::default(),
            pending_ntt: Default::default(),
            pending_inverse: Default::default(),
            pending_mul: Default::default(),
            pending_mac: Default::default(),
            pending_mul_const: Default::default(),
            pending_lane_op: Default::default(),
            pending_target: Default::default(),
            pending_last_row: Default::default(),
            pending_modulus: Default::default(),
            pending_barrett: Default::default(),
            running: Default::default(),
            draining: Default::default(),
            drain_count: Default::default(),
            is_ntt: Default::default(),
            inverse: Default::default(),
            op_mul: Default::default(),
            op_mac: Default::default(),
            op_mul_const: Default::default(),
            lane_op: Default::default(),
            last_slot: Default::default(),
            modulus: Default::default(),
            barrett: Default::default(),
            constant: Default::default(),
            half_rows: Default::default(),
            last_row: Default::default(),
            stages: Default::default(),
            stage_pow: Default::default(),
            stage_low: Default::default(),
            stage_index: Default::default(),
            stage: Default::default(),
            row: Default::default(),
            slot: Default::default(),
            gap_length: Default::default(),
            gap_left: Default::default(),
            row_last: Default::default(),
            stage_last: Default::default(),
            gap_zero: Default::default(),
            drain_zero: Default::default(),
            last_row_before: Default::default(),
            last_stage_before: Default::default(),
            source_row: Default::default(),
            target_row: Default::default(),
            a_row: Default::default(),
            b_row: Default::default(),
            dst_row: Default::default(),
            twiddle_main_base: Default::default(),
            twiddle_early_base: Default::default(),
            pending_target_parity: Default::default(),
            source_parity: Default::default(),
            target_parity: Default::default(),
            a_parity: Default::default(),
            b_parity: Default::default(),
            dst_parity: Default::default(),
            issued: Default::default(),
            issued_ntt: Default::default(),
            issued_first: Default::default(),
            issued_second: Default::default(),
            issued_last: Default::default(),
            issued_early: Default::default(),
            issued_row_a: Default::default(),
            issued_row_b: Default::default(),
            issued_read_a: Default::default(),
            issued_read_b: Default::default(),
            issued_swap: Default::default(),
            issued_twiddle_main: Default::default(),
            issued_twiddle_early: Default::default(),
            arriving: Default::default(),
            arriving_ntt: Default::default(),
            arriving_first: Default::default(),
            arriving_second: Default::default(),
            arriving_last: Default::default(),
            arriving_swap: Default::default(),
            arriving_early: Default::default(),
            arriving_row_a: Default::default(),
            arriving_row_b: Default::default(),
            arrived: Default::default(),
            arrived_ntt: Default::default(),
            arrived_first: Default::default(),
            arrived_second: Default::default(),
            arrived_last: Default::default(),
            arrived_swap: Default::default(),
            arrived_row_a: Default::default(),
            arrived_row_b: Default::default(),
            bank0_word: array_init::array_init(|_| Default::default()),
            bank1_word: array_init::array_init(|_| Default::default()),
            twiddle_word: array_init::array_init(|_| Default::default()),
            lane_u: array_init::array_init(|_| Default::default()),
            lane_v: array_init::array_init(|_| Default::default()),
            lane_w: array_init::array_init(|_| Default::default()),
            second_issue: Default::default(),
            second_row: Default::default(),
            hold_first_a: array_init::array_init(|_| Default::default()),
            hold_first_b: array_init::array_init(|_| Default::default()),
            hold_second_a: array_init::array_init(|_| Default::default()),
            hold_second_b: array_init::array_init(|_| Default::default()),
            hold_last_b: array_init::array_init(|_| Default::default()),
            write_valid: Default::default(),
            write_two_rows: Default::default(),
            write_inverse: Default::default(),
            write_row_a: Default::default(),
            write_row_b: Default::default(),
            write_swap: Default::default(),
            host_read_valid: Default::default(),
            host_read_bank: Default::default(),
            host_read_lane: Default::default(),
            host_answer_valid: Default::default(),
            host_answer_bank: Default::default(),
            host_answer_lane: Default::default(),
            flags: Default::default(),
            issue: Default::default(),
            read_row_a: Default::default(),
            read_row_b: Default::default(),
            operand_base: Default::default(),
            read_parity: Default::default(),
            base_parity: Default::default(),
            row_parity: Default::default(),
            start_a_row: Default::default(),
            start_b_row: Default::default(),
            start_dst_row: Default::default(),
            twiddle_step: Default::default(),
            host_row: Default::default(),
            host_lane: Default::default(),
            next_target: Default::default(),
            first_target: Default::default(),
            vector_lane_op: Default::default(),
            twiddle_mask: Default::default(),
            flag_op: Default::default(),
            flag_size: Default::default(),
            flag_modulus: Default::default(),
            flag_alignment: Default::default(),
            flag_range: Default::default(),
            stages_remaining: Default::default(),
            twiddle_host_row: Default::default(),
            twiddle_row_main: Default::default(),
            twiddle_row_early: Default::default(),
            log_lanes: c32(config.log_lanes() as u64),
            lane_mask: c32(P as u64 - 1),
            log_rows_per_buffer: c32(config.rows_per_buffer().trailing_zeros() as u64),
            scratch0_row: c32(scratch0),
            scratch1_row: c32(scratch0 + config.rows_per_buffer() as u64),
            scratch0_parity: Constant::new(scratch0.count_ones() % 2 == 1),
            slot_count: c32(M as u64),
            word_bits: c32(config.word_bits as u64),
            single_lane: Constant::new(P == 1),
            zero_data_address: Constant::new(0.into()),
            zero_twiddle_address: Constant::new(0.into()),
            zero_early_address: Constant::new(0.into()),
            lane_op_mul: Constant::new((crate::lane::LaneOp::Mul as u64).into()),
            slot_0: Constant::new(0.into()),
            slot_1: Constant::new(1.into()),
            slot_2: Constant::new(2.into()),
            drain_ntt: c32(PIPELINE_LATENCY as u64 + 1),
            drain_vector: c32(PIPELINE_LATENCY as u64 + 2),
            err_bad_op: c32(ERR_BAD_OP as u64),
            err_bad_modulus: c32(ERR_BAD_MODULUS as u64),
            err_misaligned: c32(ERR_MISALIGNED as u64),
            err_out_of_range: c32(ERR_OUT_OF_RANGE as u64),
        }
    }
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize> Logic
    for Engine<P, DA, TA, EA, M>
{
    #[hdl_gen]
    fn update(&mut self) {
        // ---------------------------------------------------------- clocks
        dff_setup!(
            self,
            clock,
            start_pending,
            pending_flags,
            pending_ntt,
            pending_inverse,
            pending_mul,
            pending_mac,
            pending_mul_const,
            pending_lane_op,
            pending_target,
            pending_last_row,
            pending_modulus,
            pending_barrett,
            running,
            draining,
            drain_count,
            is_ntt,
            inverse,
            op_mul,
            op_mac,
            op_mul_const,
            lane_op,
            last_slot,
            modulus,
            barrett,
            constant,
            half_rows,
            last_row,
            stages,
            stage_pow,
            stage_low,
            stage_index,
            stage,
            row,
            slot,
            gap_length,
            gap_left,
            row_last,
            stage_last,
            gap_zero,
            drain_zero,
            last_row_before,
            last_stage_before,
            source_row,
            target_row,
            a_row,
            b_row,
            dst_row,
            twiddle_main_base,
            twiddle_early_base,
            pending_target_parity,
            source_parity,
            target_parity,
            a_parity,
            b_parity,
            dst_parity,
            second_row,
            host_read_valid,
            host_read_bank,
            host_read_lane,
            host_answer_valid,
            host_answer_bank,
            host_answer_lane
        );
        // Stages A and R: tags and rows move one stage a cycle.
        self.issued.clock.next = self.clock.val();
        self.issued_ntt.clock.next = self.clock.val();
        self.issued_first.clock.next = self.clock.val();
        self.issued_second.clock.next = self.clock.val();
        self.issued_last.clock.next = self.clock.val();
        self.issued_early.clock.next = self.clock.val();
        self.issued_row_a.clock.next = self.clock.val();
        self.issued_row_b.clock.next = self.clock.val();
        self.issued_read_a.clock.next = self.clock.val();
        self.issued_read_b.clock.next = self.clock.val();
        self.issued_swap.clock.next = self.clock.val();
        self.write_swap.clock.next = self.clock.val();
        self.write_swap.d.next = self.write_row_a[12].q.val().xor();
        self.issued_twiddle_main.clock.next = self.clock.val();
        self.issued_twiddle_early.clock.next = self.clock.val();
        self.issued_ntt.d.next = false;
        self.issued_first.d.next = false;
        self.issued_second.d.next = false;
        self.issued_last.d.next = false;
        self.issued_early.d.next = false;
        self.issued_row_a.d.next = 0.into();
        self.issued_row_b.d.next = 0.into();
        self.issued_twiddle_main.d.next = 0.into();
        self.issued_twiddle_early.d.next = 0.into();
        self.arriving_row_a.clock.next = self.clock.val();
        self.arriving_row_b.clock.next = self.clock.val();
        self.arriving_row_a.d.next = self.issued_row_a.q.val();
        self.arriving_row_b.d.next = self.issued_row_b.q.val();
        self.arrived.clock.next = self.clock.val();
        self.arrived_ntt.clock.next = self.clock.val();
        self.arrived_first.clock.next = self.clock.val();
        self.arrived_second.clock.next = self.clock.val();
        self.arrived_last.clock.next = self.clock.val();
        self.arrived_swap.clock.next = self.clock.val();
        self.arrived_row_a.clock.next = self.clock.val();
        self.arrived_row_b.clock.next = self.clock.val();
        self.arrived.d.next = self.arriving.q.val();
        self.arrived_ntt.d.next = self.arriving_ntt.q.val();
        self.arrived_first.d.next = self.arriving_first.q.val();
        self.arrived_second.d.next = self.arriving_second.q.val();
        self.arrived_last.d.next = self.arriving_last.q.val();
        self.arrived_swap.d.next = self.arriving_swap.q.val();
        self.arrived_row_a.d.next = self.arriving_row_a.q.val();
        self.arrived_row_b.d.next = self.arriving_row_b.q.val();
        self.arriving.clock.next = self.clock.val();
        self.arriving_ntt.clock.next = self.clock.val();
        self.arriving_first.clock.next = self.clock.val();
        self.arriving_second.clock.next = self.clock.val();
        self.arriving_last.clock.next = self.clock.val();
        self.arriving_swap.clock.next = self.clock.val();
        self.arriving_early.clock.next = self.clock.val();
        self.second_issue.clock.next = self.clock.val();
        self.arriving.d.next = self.issued.q.val();
        self.arriving_ntt.d.next = self.issued_ntt.q.val();
        self.arriving_first.d.next = self.issued_first.q.val();
        self.arriving_second.d.next = self.issued_second.q.val();
        self.arriving_last.d.next = self.issued_last.q.val();
        self.arriving_swap.d.next = false;
        self.arriving_early.d.next = self.issued_early.q.val();
        self.second_issue.d.next = false;
        for i in 0..M {
            self.modulus_q[i].clock.next = self.clock.val();
            self.modulus_m[i].clock.next = self.clock.val();
            self.modulus_valid[i].clock.next = self.clock.val();
            self.modulus_q[i].d.next = self.modulus_q[i].q.val();
            self.modulus_m[i].d.next = self.modulus_m[i].q.val();
            self.modulus_valid[i].d.next = self.modulus_valid[i].q.val();
        }
        for k in 0..P {
            self.lanes[k].clock.next = self.clock.val();
            self.lanes[k].q.next = self.modulus.q.val();
            self.lanes[k].m.next = self.barrett.q.val();
            self.lanes[k].op.next = self.lane_op.q.val();
            self.lanes[k].u.next = self.lane_u[k].q.val();
            self.lanes[k].v.next = self.lane_v[k].q.val();
            self.lanes[k].w.next = self.lane_w[k].q.val();
            self.lane_u[k].clock.next = self.clock.val();
            self.lane_v[k].clock.next = self.clock.val();
            self.lane_w[k].clock.next = self.clock.val();
            self.lane_u[k].d.next = 0.into();
            self.lane_v[k].d.next = 0.into();
            self.lane_w[k].d.next = 0.into();
            self.bank0_word[k].clock.next = self.clock.val();
            self.bank1_word[k].clock.next = self.clock.val();
            self.twiddle_word[k].clock.next = self.clock.val();
            self.bank0_word[k].d.next = self.bank0[k].read_data.val();
            self.bank1_word[k].d.next = self.bank1[k].read_data.val();
            if self.arriving_early.q.val() {
                self.twiddle_word[k].d.next = self.twiddle_early[k].read_data.val();
            } else {
                self.twiddle_word[k].d.next = self.twiddle_main[k].read_data.val();
            }
            self.bank0[k].read_clock.next = self.clock.val();
            self.bank0[k].write_clock.next = self.clock.val();
            self.bank1[k].read_clock.next = self.clock.val();
            self.bank1[k].write_clock.next = self.clock.val();
            self.twiddle_main[k].read_clock.next = self.clock.val();
            self.twiddle_main[k].write_clock.next = self.clock.val();
            self.twiddle_early[k].read_clock.next = self.clock.val();
            self.twiddle_early[k].write_clock.next = self.clock.val();
            self.bank0[k].read_address.next = self.zero_data_address.val();
            self.bank1[k].read_address.next = self.zero_data_address.val();
            self.bank0[k].write_address.next = self.zero_data_address.val();
            self.bank1[k].write_address.next = self.zero_data_address.val();
            self.bank0[k].write_data.next = 0.into();
            self.bank1[k].write_data.next = 0.into();
            self.bank0[k].write_enable.next = false;
            self.bank1[k].write_enable.next = false;
            self.twiddle_main[k].read_address.next = self.zero_twiddle_address.val();
            self.twiddle_main[k].write_address.next = self.zero_twiddle_address.val();
            self.twiddle_main[k].write_data.next = self.twiddle_data.val();
            self.twiddle_main[k].write_enable.next = false;
            self.twiddle_early[k].read_address.next = self.zero_early_address.val();
            self.twiddle_early[k].write_address.next = self.zero_early_address.val();
            self.twiddle_early[k].write_data.next = self.twiddle_data.val();
            self.twiddle_early[k].write_enable.next = false;
            self.hold_first_a[k].clock.next = self.clock.val();
            self.hold_first_b[k].clock.next = self.clock.val();
            self.hold_second_a[k].clock.next = self.clock.val();
            self.hold_second_b[k].clock.next = self.clock.val();
            self.hold_last_b[k].clock.next = self.clock.val();
            self.hold_first_a[k].d.next = self.hold_first_a[k].q.val();
            self.hold_first_b[k].d.next = self.hold_first_b[k].q.val();
            self.hold_second_a[k].d.next = self.hold_second_a[k].q.val();
            self.hold_second_b[k].d.next = self.hold_second_b[k].q.val();
            self.hold_last_b[k].d.next = self.hold_last_b[k].q.val();
        }
        for i in 0..14 {
            self.write_valid[i].clock.next = self.clock.val();
            self.write_two_rows[i].clock.next = self.clock.val();
            self.write_inverse[i].clock.next = self.clock.val();
            self.write_row_a[i].clock.next = self.clock.val();
            self.write_row_b[i].clock.next = self.clock.val();
        }
        for i in 1..14 {
            self.write_valid[i].d.next = self.write_valid[i - 1].q.val();
            self.write_two_rows[i].d.next = self.write_two_rows[i - 1].q.val();
            self.write_inverse[i].d.next = self.write_inverse[i - 1].q.val();
            self.write_row_a[i].d.next = self.write_row_a[i - 1].q.val();
            self.write_row_b[i].d.next = self.write_row_b[i - 1].q.val();
        }
        self.write_valid[0].d.next = false;
        self.write_two_rows[0].d.next = false;
        self.write_inverse[0].d.next = self.inverse.q.val();
        self.write_row_a[0].d.next = 0.into();
        self.write_row_b[0].d.next = 0.into();

        self.busy.next = self.running.q.val() | self.start_pending.q.val();
        self.done.next = false;
        self.reject.next = false;
        self.reject_flags.next = 0.into();

        // ------------------------------------------------ modulus table
        self.mod_readback.next = 0.into();
        for i in 0..M {
            if self.mod_slot.val().index() == i {
                if self.modulus_valid[i].q.val() {
                    self.mod_readback.next = self.modulus_q[i].q.val();
                }
                // A slot takes only an odd modulus of exactly `word_bits` bits.
                if self.mod_write.val() & !self.running.q.val() {
                    self.modulus_q[i].d.next = self.mod_q.val();
                    self.modulus_m[i].d.next = self.mod_m.val();
                    self.modulus_valid[i].d.next = self.mod_q.val().get_bit(0)
                        & ((self.mod_q.val() >> self.word_bits.val()) == 0)
                        & ((self.mod_q.val() >> (self.word_bits.val() - 1)) == 1);
                }
            }
        }

        // ------------------------------------------------ host access
        self.host_row.next = self.mem_address.val() >> self.log_lanes.val();
        self.host_lane.next = self.mem_address.val() & self.lane_mask.val();
        self.twiddle_host_row.next = self.twiddle_address.val() >> self.log_lanes.val();
        self.host_read_valid.d.next = self.mem_read.val() & !self.running.q.val();
        if self.mem_read.val() {
            self.host_read_bank.d.next = self.host_row.val().xor();
            self.host_read_lane.d.next = self.host_lane.val();
        }
        // The row arrives in stage R (bank*_word) one cycle after the read;
        // the word is picked from there the cycle after that.
        self.host_answer_valid.d.next = self.host_read_valid.q.val();
        self.host_answer_bank.d.next = self.host_read_bank.q.val();
        self.host_answer_lane.d.next = self.host_read_lane.q.val();
        self.mem_read_data.next = 0.into();
        for k in 0..P {
            if self.host_answer_valid.q.val() & (self.host_answer_lane.q.val().index() == k) {
                if self.host_answer_bank.q.val() {
                    self.mem_read_data.next = self.bank1_word[k].q.val();
                } else {
                    self.mem_read_data.next = self.bank0_word[k].q.val();
                }
            }
        }
        if !self.running.q.val() {
            for k in 0..P {
                self.bank0[k].read_address.next = self.host_row.val().get_bits::<DA>(1);
                self.bank1[k].read_address.next = self.host_row.val().get_bits::<DA>(1);
                self.bank0[k].write_address.next = self.host_row.val().get_bits::<DA>(1);
                self.bank1[k].write_address.next = self.host_row.val().get_bits::<DA>(1);
                self.bank0[k].write_data.next = self.mem_write_data.val();
                self.bank1[k].write_data.next = self.mem_write_data.val();
                if self.mem_write.val() & (self.host_lane.val().index() == k) {
                    if self.host_row.val().xor() {
                        self.bank1[k].write_enable.next = true;
                    } else {
                        self.bank0[k].write_enable.next = true;
                    }
                }
                self.twiddle_main[k].write_address.next =
                    self.twiddle_host_row.val().get_bits::<TA>(0);
                self.twiddle_early[k].write_address.next =
                    self.twiddle_host_row.val().get_bits::<EA>(0);
                if (self.twiddle_address.val() & self.lane_mask.val()).index() == k {
                    self.twiddle_main[k].write_enable.next = self.twiddle_write.val();
                    self.twiddle_early[k].write_enable.next = self.twiddle_early_write.val();
                }
            }
        }

        // ------------------------------------------------ job start
        // Everything derived from log_n (the size, its mask and range
        // limit, the size check) arrives from registers: each check below
        // is one compare.
        self.flag_op.next = 0.into();
        if self.desc_op.val() > 6 {
            self.flag_op.next = self.err_bad_op.val();
        }
        self.flag_size.next = self.desc_size_flags.val();
        self.flag_modulus.next = 0.into();
        if self.desc_slot.val() >= self.slot_count.val() {
            self.flag_modulus.next = self.err_bad_modulus.val();
        }
        for i in 0..M {
            if (self.desc_slot.val().index() == i) & !self.modulus_valid[i].q.val() {
                self.flag_modulus.next = self.err_bad_modulus.val();
            }
        }
        self.flag_alignment.next = 0.into();
        if ((self.desc_a.val() & self.desc_mask.val()) != 0)
            | ((self.desc_dst.val() & self.desc_mask.val()) != 0)
        {
            self.flag_alignment.next = self.err_misaligned.val();
        }
        self.flag_range.next = 0.into();
        if (self.desc_a.val() > self.desc_limit.val())
            | (self.desc_dst.val() > self.desc_limit.val())
        {
            self.flag_range.next = self.err_out_of_range.val();
        }
        // Operand b matters for Mul (2), Mac (3), Add (4), Sub (5).
        if (self.desc_op.val() >= 2) & (self.desc_op.val() <= 5) {
            if (self.desc_b.val() & self.desc_mask.val()) != 0 {
                self.flag_alignment.next = self.err_misaligned.val();
            }
            if self.desc_b.val() > self.desc_limit.val() {
                self.flag_range.next = self.err_out_of_range.val();
            }
        }
        self.flags.next = self.flag_op.val()
            | self.flag_size.val()
            | self.flag_modulus.val()
            | self.flag_alignment.val()
            | self.flag_range.val();
        // NTT stage 0 writes the first scratch when the parity of the
        // stage count would otherwise make it overwrite its own source.
        if (self.desc_a.val() == self.desc_dst.val()) & !self.desc_last_stage.val().get_bit(0) {
            self.first_target.next = self.scratch1_row.val();
        } else if self.desc_last_stage.val().get_bit(0) {
            self.first_target.next = self.scratch0_row.val();
        } else {
            self.first_target.next = self.desc_dst.val() >> self.log_lanes.val();
        }
        if self.desc_op.val() == 6 {
            self.vector_lane_op.next = self.lane_op_mul.val();
        } else {
            self.vector_lane_op.next = self.desc_op.val().get_bits::<3>(0);
        }

        // The checks take the start's cycle, acceptance the next, so that
        // no descriptor adder or compare drives the job registers' enables:
        // those load unconditionally a cycle after any start (the
        // descriptor still holds), and only `running` depends on the flags.
        self.pending_flags.d.next = self.flags.val();
        self.pending_ntt.d.next = self.desc_op.val() <= 1;
        self.pending_inverse.d.next = self.desc_op.val() == 1;
        self.pending_mul.d.next = self.desc_op.val() == 2;
        self.pending_mac.d.next = self.desc_op.val() == 3;
        self.pending_mul_const.d.next = self.desc_op.val() == 6;
        self.pending_lane_op.d.next = self.vector_lane_op.val();
        self.pending_target.d.next = self.first_target.val();
        self.pending_target_parity.d.next = self.first_target.val().xor();
        self.pending_last_row.d.next = self.desc_half_rows.val() - 1;
        // An out-of-range slot (refused) leaves the modulus as it was.
        self.pending_modulus.d.next = self.modulus.q.val();
        self.pending_barrett.d.next = self.barrett.q.val();
        for i in 0..M {
            if self.desc_slot.val().index() == i {
                self.pending_modulus.d.next = self.modulus_q[i].q.val();
                self.pending_barrett.d.next = self.modulus_m[i].q.val();
            }
        }
        self.start_a_row.next = self.desc_a.val() >> self.log_lanes.val();
        self.start_b_row.next = self.desc_b.val() >> self.log_lanes.val();
        self.start_dst_row.next = self.desc_dst.val() >> self.log_lanes.val();
        self.start_pending.d.next =
            self.start.val() & !self.running.q.val() & !self.start_pending.q.val();
        if self.start_pending.q.val() {
            if self.pending_flags.q.val() != 0 {
                self.reject.next = true;
                self.reject_flags.next = self.pending_flags.q.val();
            } else {
                self.running.d.next = true;
            }
            self.draining.d.next = false;
            self.op_mul.d.next = self.pending_mul.q.val();
            self.op_mac.d.next = self.pending_mac.q.val();
            self.op_mul_const.d.next = self.pending_mul_const.q.val();
            self.lane_op.d.next = self.pending_lane_op.q.val();
            self.is_ntt.d.next = self.pending_ntt.q.val();
            self.inverse.d.next = self.pending_inverse.q.val();
            self.constant.d.next = self.desc_const.val();
            self.half_rows.d.next = self.desc_half_rows.val();
            self.last_row.d.next = self.pending_last_row.q.val();
            self.last_row_before.d.next = self.pending_last_row.q.val() - 1;
            self.row_last.d.next = self.pending_last_row.q.val() == 0;
            self.last_stage_before.d.next = self.desc_last_stage.val() - 1;
            self.stage_last.d.next = self.desc_last_stage.val() == 0;
            self.stages.d.next = self.desc_log_n.val();
            self.stage_index.d.next = 0.into();
            if self.pending_inverse.q.val() {
                self.stage.d.next = self.desc_last_stage.val();
                // 2^(log_n − 1) = half_rows · P for every accepted size.
                self.stage_pow.d.next = self.desc_half_rows.val() << self.log_lanes.val();
                self.stage_low.d.next =
                    (self.pending_last_row.q.val() << self.log_lanes.val()) | self.lane_mask.val();
            } else {
                self.stage.d.next = 0.into();
                self.stage_pow.d.next = 1.into();
                self.stage_low.d.next = 0.into();
            }
            self.row.d.next = 0.into();
            self.slot.d.next = self.slot_0.val();
            if self.pending_mac.q.val() {
                self.last_slot.d.next = self.slot_2.val();
            } else {
                self.last_slot.d.next = self.slot_1.val();
            }
            self.gap_length.d.next = self.desc_gap.val();
            self.gap_left.d.next = 0.into();
            self.gap_zero.d.next = true;
            self.a_row.d.next = self.start_a_row.val();
            self.b_row.d.next = self.start_b_row.val();
            self.dst_row.d.next = self.start_dst_row.val();
            self.source_row.d.next = self.start_a_row.val();
            self.target_row.d.next = self.pending_target.q.val();
            self.a_parity.d.next = self.start_a_row.val().xor();
            self.b_parity.d.next = self.start_b_row.val().xor();
            self.dst_parity.d.next = self.start_dst_row.val().xor();
            self.source_parity.d.next = self.start_a_row.val().xor();
            self.target_parity.d.next = self.pending_target_parity.q.val();
            self.twiddle_main_base.d.next = ((self.desc_slot.val() << 1)
                | (self.desc_op.val() & 1))
                << self.log_rows_per_buffer.val();
            self.twiddle_early_base.d.next =
                ((self.desc_slot.val() << 1) | (self.desc_op.val() & 1)) << 2;
            self.modulus.d.next = self.pending_modulus.q.val();
            self.barrett.d.next = self.pending_barrett.q.val();
        }

        // ------------------------------------------------ issue reads
        self.issue.next = false;
        self.read_row_a.next = 0.into();
        self.read_row_b.next = 0.into();
        self.operand_base.next = self.a_row.q.val();
        self.base_parity.next = self.a_parity.q.val();
        self.read_parity.next = false;
        // parity(row << 1) = parity(row): one parity for every pattern.
        self.row_parity.next = self.row.q.val().xor();
        // Stage s ≥ log2 P takes main-table row base + 2^s/P + (row mod
        // 2^s/P); every term sits below the next one's lowest set bit, so
        // the sum is an OR (below log2 P the row is unused: early table).
        self.twiddle_step.next = self.stage_pow.q.val() >> self.log_lanes.val();
        self.twiddle_mask.next = self.stage_low.q.val() >> self.log_lanes.val();
        self.twiddle_row_main.next = self.twiddle_main_base.q.val()
            | self.twiddle_step.val()
            | (self.row.q.val() & self.twiddle_mask.val());
        self.twiddle_row_early.next = self.twiddle_early_base.q.val() + self.stage.q.val();
        // Target of the next stage: the destination when an even number
        // of stages remains after it, else the first scratch.
        self.stages_remaining.next = self.stages.q.val() - self.stage_index.q.val();
        if self.stages_remaining.val().get_bit(0) {
            self.next_target.next = self.scratch0_row.val();
        } else {
            self.next_target.next = self.dst_row.q.val();
        }
        if self.running.q.val() & !self.draining.q.val() {
            if self.is_ntt.q.val() {
                if !self.gap_zero.q.val() {
                    self.gap_left.d.next = self.gap_left.q.val() - 1;
                    self.gap_zero.d.next = self.gap_left.q.val() == 1;
                } else {
                    self.issue.next = true;
                    self.issued_ntt.d.next = true;
                    self.read_parity.next = self.source_parity.q.val() ^ self.row_parity.val();
                    // Buffers start at multiples of N/P rows and every
                    // offset below is under N/P: the row sums are ORs.
                    if self.inverse.q.val() {
                        self.read_row_a.next = self.source_row.q.val() | (self.row.q.val() << 1);
                        self.read_row_b.next =
                            self.source_row.q.val() | (self.row.q.val() << 1) | 1;
                        self.issued_row_a.d.next = self.target_row.q.val() | self.row.q.val();
                        self.issued_row_b.d.next =
                            self.target_row.q.val() | self.half_rows.q.val() | self.row.q.val();
                    } else {
                        self.read_row_a.next = self.source_row.q.val() | self.row.q.val();
                        self.read_row_b.next =
                            self.source_row.q.val() | self.half_rows.q.val() | self.row.q.val();
                        self.issued_row_a.d.next =
                            self.target_row.q.val() | (self.row.q.val() << 1);
                        self.issued_row_b.d.next =
                            self.target_row.q.val() | (self.row.q.val() << 1) | 1;
                    }
                    // s < log2 P exactly when 2^s / P rounds to zero.
                    self.issued_early.d.next = self.twiddle_step.val() == 0;
                    self.issued_twiddle_main.d.next = self.twiddle_row_main.val();
                    self.issued_twiddle_early.d.next = self.twiddle_row_early.val();
                    if self.row_last.q.val() {
                        self.row.d.next = 0.into();
                        self.row_last.d.next = self.last_row.q.val() == 0;
                        if self.stage_last.q.val() {
                            self.draining.d.next = true;
                            self.drain_count.d.next = self.drain_ntt.val();
                            self.drain_zero.d.next = false;
                        } else {
                            self.stage_index.d.next = self.stage_index.q.val() + 1;
                            self.stage_last.d.next =
                                self.stage_index.q.val() == self.last_stage_before.q.val();
                            if self.inverse.q.val() {
                                self.stage.d.next = self.stage.q.val() - 1;
                                self.stage_pow.d.next = self.stage_pow.q.val() >> 1;
                                self.stage_low.d.next = self.stage_low.q.val() >> 1;
                            } else {
                                self.stage.d.next = self.stage.q.val() + 1;
                                self.stage_pow.d.next = self.stage_pow.q.val() << 1;
                                self.stage_low.d.next = (self.stage_low.q.val() << 1) | 1;
                            }
                            self.source_row.d.next = self.target_row.q.val();
                            self.target_row.d.next = self.next_target.val();
                            self.source_parity.d.next = self.target_parity.q.val();
                            if self.stages_remaining.val().get_bit(0) {
                                self.target_parity.d.next = self.scratch0_parity.val();
                            } else {
                                self.target_parity.d.next = self.dst_parity.q.val();
                            }
                            self.gap_left.d.next = self.gap_length.q.val();
                            self.gap_zero.d.next = self.gap_length.q.val() == 0;
                        }
                    } else {
                        self.row.d.next = self.row.q.val() + 1;
                        self.row_last.d.next = self.row.q.val() == self.last_row_before.q.val();
                    }
                }
            } else {
                // Vector job: slot 0 reads a (Mac: the accumulator), slot 1
                // b (Mac: a; MulConst: a), slot 2 b (Mac only).
                if self.op_mac.q.val() {
                    if self.slot.q.val() == self.slot_0.val() {
                        self.operand_base.next = self.dst_row.q.val();
                        self.base_parity.next = self.dst_parity.q.val();
                    } else if self.slot.q.val() == self.slot_1.val() {
                        self.operand_base.next = self.a_row.q.val();
                        self.base_parity.next = self.a_parity.q.val();
                    } else {
                        self.operand_base.next = self.b_row.q.val();
                        self.base_parity.next = self.b_parity.q.val();
                    }
                } else if self.op_mul_const.q.val() {
                    self.operand_base.next = self.a_row.q.val();
                    self.base_parity.next = self.a_parity.q.val();
                } else if self.slot.q.val() == self.slot_1.val() {
                    self.operand_base.next = self.b_row.q.val();
                    self.base_parity.next = self.b_parity.q.val();
                }
                self.read_parity.next = self.base_parity.val() ^ self.row_parity.val();
                self.read_row_a.next = self.operand_base.val() | (self.row.q.val() << 1);
                self.read_row_b.next = self.operand_base.val() | (self.row.q.val() << 1) | 1;
                self.issue.next =
                    !((self.op_mul_const.q.val()) & (self.slot.q.val() == self.slot_0.val()));
                self.issued_first.d.next = self.slot.q.val() == self.slot_0.val();
                self.issued_second.d.next =
                    (self.slot.q.val() == self.slot_1.val()) & (self.op_mac.q.val());
                self.issued_last.d.next = self.slot.q.val() == self.last_slot.q.val();
                self.issued_row_a.d.next = self.dst_row.q.val() | (self.row.q.val() << 1);
                self.issued_row_b.d.next = self.dst_row.q.val() | (self.row.q.val() << 1) | 1;
                if self.slot.q.val() == self.last_slot.q.val() {
                    self.slot.d.next = self.slot_0.val();
                    if self.row_last.q.val() {
                        self.draining.d.next = true;
                        self.drain_count.d.next = self.drain_vector.val();
                        self.drain_zero.d.next = false;
                    } else {
                        self.row.d.next = self.row.q.val() + 1;
                        self.row_last.d.next = self.row.q.val() == self.last_row_before.q.val();
                    }
                } else {
                    self.slot.d.next = self.slot.q.val() + self.slot_1.val();
                }
            }
        }
        self.issued.d.next = self.issue.val();
        self.issued_read_a.d.next = self.read_row_a.val();
        self.issued_read_b.d.next = self.read_row_b.val();
        self.issued_swap.d.next = self.read_parity.val();
        // Stage A: the registered rows address the memories.
        if self.issued.q.val() {
            self.arriving_swap.d.next = self.issued_swap.q.val();
            for k in 0..P {
                if self.issued_swap.q.val() {
                    self.bank1[k].read_address.next = self.issued_read_a.q.val().get_bits::<DA>(1);
                    self.bank0[k].read_address.next = self.issued_read_b.q.val().get_bits::<DA>(1);
                } else {
                    self.bank0[k].read_address.next = self.issued_read_a.q.val().get_bits::<DA>(1);
                    self.bank1[k].read_address.next = self.issued_read_b.q.val().get_bits::<DA>(1);
                }
                self.twiddle_main[k].read_address.next =
                    self.issued_twiddle_main.q.val().get_bits::<TA>(0);
                self.twiddle_early[k].read_address.next =
                    self.issued_twiddle_early.q.val().get_bits::<EA>(0);
            }
        }
        if self.draining.q.val() {
            if self.drain_zero.q.val() {
                self.done.next = true;
                self.running.d.next = false;
                self.draining.d.next = false;
            } else {
                self.drain_count.d.next = self.drain_count.q.val() - 1;
                self.drain_zero.d.next = self.drain_count.q.val() == 1;
            }
        }

        // ------------------------------------------------ rows arrive (stage R):
        // multiplexers into stage I

        if self.arrived.q.val() & self.arrived_ntt.q.val() {
            self.write_valid[0].d.next = true;
            self.write_two_rows[0].d.next = true;
            self.write_row_a[0].d.next = self.arrived_row_a.q.val();
            self.write_row_b[0].d.next = self.arrived_row_b.q.val();
            for k in 0..P {
                self.lane_w[k].d.next = self.twiddle_word[k].q.val();
            }
            if !self.inverse.q.val() {
                // Butterfly b = cP + k takes words b and b + N/2: lane k of
                // row A and lane k of row B.
                for k in 0..P {
                    if self.arrived_swap.q.val() {
                        self.lane_u[k].d.next = self.bank1_word[k].q.val();
                        self.lane_v[k].d.next = self.bank0_word[k].q.val();
                    } else {
                        self.lane_u[k].d.next = self.bank0_word[k].q.val();
                        self.lane_v[k].d.next = self.bank1_word[k].q.val();
                    }
                }
            } else if self.single_lane.val() {
                // Inverse, one lane: words 2c and 2c + 1 are rows A and B.
                if self.arrived_swap.q.val() {
                    self.lane_u[0].d.next = self.bank1_word[0].q.val();
                    self.lane_v[0].d.next = self.bank0_word[0].q.val();
                } else {
                    self.lane_u[0].d.next = self.bank0_word[0].q.val();
                    self.lane_v[0].d.next = self.bank1_word[0].q.val();
                }
            } else {
                // Inverse: butterfly b = cP + k takes words 2b and 2b + 1,
                // lanes 2i, 2i + 1 of row A for k < P/2, of row B above.
                for hp in (P / 2)..(P / 2 + 1) {
                    for i in 0..(P / 2) {
                        if self.arrived_swap.q.val() {
                            self.lane_u[i].d.next = self.bank1_word[2 * i].q.val();
                            self.lane_v[i].d.next = self.bank1_word[2 * i + 1].q.val();
                            self.lane_u[hp + i].d.next = self.bank0_word[2 * i].q.val();
                            self.lane_v[hp + i].d.next = self.bank0_word[2 * i + 1].q.val();
                        } else {
                            self.lane_u[i].d.next = self.bank0_word[2 * i].q.val();
                            self.lane_v[i].d.next = self.bank0_word[2 * i + 1].q.val();
                            self.lane_u[hp + i].d.next = self.bank1_word[2 * i].q.val();
                            self.lane_v[hp + i].d.next = self.bank1_word[2 * i + 1].q.val();
                        }
                    }
                }
            }
        }
        if self.arrived.q.val() & !self.arrived_ntt.q.val() {
            for k in 0..P {
                if self.arrived_first.q.val() {
                    if self.arrived_swap.q.val() {
                        self.hold_first_a[k].d.next = self.bank1_word[k].q.val();
                        self.hold_first_b[k].d.next = self.bank0_word[k].q.val();
                    } else {
                        self.hold_first_a[k].d.next = self.bank0_word[k].q.val();
                        self.hold_first_b[k].d.next = self.bank1_word[k].q.val();
                    }
                }
                if self.arrived_second.q.val() {
                    if self.arrived_swap.q.val() {
                        self.hold_second_a[k].d.next = self.bank1_word[k].q.val();
                        self.hold_second_b[k].d.next = self.bank0_word[k].q.val();
                    } else {
                        self.hold_second_a[k].d.next = self.bank0_word[k].q.val();
                        self.hold_second_b[k].d.next = self.bank1_word[k].q.val();
                    }
                }
            }
            if self.arrived_last.q.val() {
                // Issue row A now, row B next cycle.
                self.write_valid[0].d.next = true;
                self.write_row_a[0].d.next = self.arrived_row_a.q.val();
                self.second_issue.d.next = true;
                self.second_row.d.next = self.arrived_row_b.q.val();
                for k in 0..P {
                    if self.arrived_swap.q.val() {
                        self.hold_last_b[k].d.next = self.bank0_word[k].q.val();
                        self.lane_w[k].d.next = self.bank1_word[k].q.val();
                        self.lane_v[k].d.next = self.bank1_word[k].q.val();
                    } else {
                        self.hold_last_b[k].d.next = self.bank1_word[k].q.val();
                        self.lane_w[k].d.next = self.bank0_word[k].q.val();
                        self.lane_v[k].d.next = self.bank0_word[k].q.val();
                    }
                    self.lane_u[k].d.next = self.hold_first_a[k].q.val();
                    if self.op_mac.q.val() {
                        self.lane_v[k].d.next = self.hold_second_a[k].q.val();
                    }
                    if self.op_mul.q.val() {
                        self.lane_v[k].d.next = self.hold_first_a[k].q.val();
                    }
                    if self.op_mul_const.q.val() {
                        self.lane_w[k].d.next = self.constant.q.val();
                    }
                }
            }
        }
        if self.second_issue.q.val() {
            self.write_valid[0].d.next = true;
            self.write_row_a[0].d.next = self.second_row.q.val();
            for k in 0..P {
                self.lane_u[k].d.next = self.hold_first_b[k].q.val();
                self.lane_v[k].d.next = self.hold_last_b[k].q.val();
                self.lane_w[k].d.next = self.hold_last_b[k].q.val();
                if self.op_mac.q.val() {
                    self.lane_v[k].d.next = self.hold_second_b[k].q.val();
                }
                if self.op_mul.q.val() {
                    self.lane_v[k].d.next = self.hold_first_b[k].q.val();
                }
                if self.op_mul_const.q.val() {
                    self.lane_w[k].d.next = self.constant.q.val();
                }
            }
        }

        // ------------------------------------------------ write back
        if self.write_valid[13].q.val() {
            if self.write_two_rows[13].q.val() {
                // Row A goes to the bank of its parity, row B to the other.
                for k in 0..P {
                    if self.write_swap.q.val() {
                        self.bank1[k].write_address.next =
                            self.write_row_a[13].q.val().get_bits::<DA>(1);
                        self.bank0[k].write_address.next =
                            self.write_row_b[13].q.val().get_bits::<DA>(1);
                    } else {
                        self.bank0[k].write_address.next =
                            self.write_row_a[13].q.val().get_bits::<DA>(1);
                        self.bank1[k].write_address.next =
                            self.write_row_b[13].q.val().get_bits::<DA>(1);
                    }
                    self.bank0[k].write_enable.next = true;
                    self.bank1[k].write_enable.next = true;
                }
                if self.write_inverse[13].q.val() {
                    // x of butterfly cP + k is word cP + k (row A, lane k),
                    // y is word N/2 + cP + k (row B, lane k).
                    for k in 0..P {
                        if self.write_swap.q.val() {
                            self.bank1[k].write_data.next = self.lanes[k].x.val();
                            self.bank0[k].write_data.next = self.lanes[k].y.val();
                        } else {
                            self.bank0[k].write_data.next = self.lanes[k].x.val();
                            self.bank1[k].write_data.next = self.lanes[k].y.val();
                        }
                    }
                } else if self.single_lane.val() {
                    if self.write_swap.q.val() {
                        self.bank1[0].write_data.next = self.lanes[0].x.val();
                        self.bank0[0].write_data.next = self.lanes[0].y.val();
                    } else {
                        self.bank0[0].write_data.next = self.lanes[0].x.val();
                        self.bank1[0].write_data.next = self.lanes[0].y.val();
                    }
                } else {
                    // Forward: x, y of butterfly cP + k are words 2(cP + k)
                    // and 2(cP + k) + 1: lanes 2i, 2i + 1 of row A for
                    // k = i < P/2, of row B for k = P/2 + i.
                    for hp in (P / 2)..(P / 2 + 1) {
                        for i in 0..(P / 2) {
                            if self.write_swap.q.val() {
                                self.bank1[2 * i].write_data.next = self.lanes[i].x.val();
                                self.bank1[2 * i + 1].write_data.next = self.lanes[i].y.val();
                                self.bank0[2 * i].write_data.next = self.lanes[hp + i].x.val();
                                self.bank0[2 * i + 1].write_data.next = self.lanes[hp + i].y.val();
                            } else {
                                self.bank0[2 * i].write_data.next = self.lanes[i].x.val();
                                self.bank0[2 * i + 1].write_data.next = self.lanes[i].y.val();
                                self.bank1[2 * i].write_data.next = self.lanes[hp + i].x.val();
                                self.bank1[2 * i + 1].write_data.next = self.lanes[hp + i].y.val();
                            }
                        }
                    }
                }
            } else {
                for k in 0..P {
                    self.bank0[k].write_address.next =
                        self.write_row_a[13].q.val().get_bits::<DA>(1);
                    self.bank1[k].write_address.next =
                        self.write_row_a[13].q.val().get_bits::<DA>(1);
                    self.bank0[k].write_data.next = self.lanes[k].x.val();
                    self.bank1[k].write_data.next = self.lanes[k].x.val();
                    if self.write_swap.q.val() {
                        self.bank1[k].write_enable.next = true;
                    } else {
                        self.bank0[k].write_enable.next = true;
                    }
                }
            }
        }
    }
}
