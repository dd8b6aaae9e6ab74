//! The accelerator top: the [`Engine`] behind a memory-mapped register
//! interface on a simple synchronous on-chip bus.
//!
//! **Bus.** Word addressed, 32-bit data. A cycle with `bus_write` writes
//! `bus_write_data` at `bus_address`; a cycle with `bus_read` returns the
//! word on `bus_read_data` [`BUS_READ_LATENCY`] cycles later (registers and
//! memories alike; 0 in cycles that answer no read). Memory words come
//! from the engine's registered memory outputs and register values pass
//! one more register, so the bus's read multiplexer sees no block-RAM
//! output. At most one access per cycle. Bits 31:28 of the address select
//! the region; see [`map`] for every address.
//!
//! **Errors** are sticky flags in `ERRORS` ([`crate::config`]'s `ERR_*`):
//! the engine's refusals of a descriptor, a start while busy, memory
//! access while busy, and accesses to unmapped or read-only addresses. A
//! refused access changes nothing.
//!
//! **Jobs.** A write of `CONTROL` bit 0 starts the descriptor; the engine
//! accepts or refuses it the next cycle ([`crate::config::START_LATENCY`]),
//! when a refusal's flags reach `ERRORS`. `busy` is high from that cycle
//! to the job's done cycle (for a refusal, that one cycle), and
//! `JOB_CYCLES` counts from the start's cycle: `Config::ntt_cycles` /
//! `Config::vector_cycles`.

use rust_hdl::prelude::*;

use crate::config::{
    Config, ERR_ACCESS_WHILE_BUSY, ERR_BAD_ADDRESS, ERR_BAD_SIZE, ERR_BUSY, ERR_OUT_OF_RANGE,
    PIPELINE_LATENCY,
};
use crate::engine::{DerivedDescriptor, Engine};

pub use ola_spec::{BUS_READ_LATENCY, map};

/// The accelerator of one configuration (type parameters as [`Engine`]).
#[derive(LogicBlock)]
pub struct Accelerator<
    const P: usize,
    const DA: usize,
    const TA: usize,
    const EA: usize,
    const M: usize,
> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Word address.
    pub bus_address: Signal<In, Bits<32>>,
    /// Word to write.
    pub bus_write_data: Signal<In, Bits<32>>,
    /// Write this cycle.
    pub bus_write: Signal<In, Bit>,
    /// Read this cycle; the word appears [`BUS_READ_LATENCY`] cycles later.
    pub bus_read: Signal<In, Bit>,
    /// Word read [`BUS_READ_LATENCY`] cycles before (0 if none).
    pub bus_read_data: Signal<Out, Bits<32>>,
    /// High while a job runs (also in `STATUS`), for an interrupt line.
    pub busy: Signal<Out, Bit>,

    engine: Engine<P, DA, TA, EA, M>,
    desc_op: DFF<Bits<32>>,
    desc_log_n: DFF<Bits<32>>,
    desc_slot: DFF<Bits<32>>,
    desc_a: DFF<Bits<32>>,
    desc_b: DFF<Bits<32>>,
    desc_dst: DFF<Bits<32>>,
    desc_const: DFF<Bits<32>>,
    // What the engine derives from log_n, computed when DESC_LOG_N is
    // written (a start may follow the very next cycle); initialised to
    // the values for log_n = 0, the register's reset value.
    desc_mask: DFFWithInit<Bits<32>>,
    desc_limit: DFFWithInit<Bits<32>>,
    desc_size_flags: DFFWithInit<Bits<32>>,
    desc_half_rows: DFFWithInit<Bits<32>>,
    desc_gap: DFFWithInit<Bits<32>>,
    desc_last_stage: DFFWithInit<Bits<32>>,
    mod_slot: DFF<Bits<32>>,
    mod_q: DFF<Bits<32>>,
    mod_m: DFF<Bits<32>>,
    errors: DFF<Bits<32>>,
    done_seen: DFF<Bit>,
    cycles_lo: DFF<Bits<32>>,
    cycles_hi: DFF<Bits<32>>,
    cycles_hi_latched: DFF<Bits<32>>,
    job_counter: DFF<Bits<32>>,
    job_cycles: DFF<Bits<32>>,
    // A register read's value one and two cycles after the read.
    read_value: DFF<Bits<32>>,
    answer_value: DFF<Bits<32>>,

    region: Signal<Local, Bits<4>>,
    offset: Signal<Local, Bits<32>>,
    // Register addresses are below 64: the address's upper bits all zero
    // and the low six bits decoded by one `case` (a parallel multiplexer,
    // not a priority chain of 28-bit compares: issue 8).
    register_space: Signal<Local, Bit>,
    register_index: Signal<Local, Bits<32>>,
    register_value: Signal<Local, Bits<32>>,
    register_readable: Signal<Local, Bit>,
    new_errors: Signal<Local, Bits<32>>,
    errors_base: Signal<Local, Bits<32>>,
    start_request: Signal<Local, Bit>,
    status_busy: Signal<Local, Bits<32>>,
    status_done: Signal<Local, Bits<32>>,
    status_error: Signal<Local, Bits<32>>,

    id_value: Constant<Bits<32>>,
    config_value: Constant<Bits<32>>,
    user_words: Constant<Bits<32>>,
    region_data: Constant<Bits<4>>,
    region_twiddle: Constant<Bits<4>>,
    region_early: Constant<Bits<4>>,
    region_registers: Constant<Bits<4>>,
    err_busy: Constant<Bits<32>>,
    err_access: Constant<Bits<32>>,
    err_address: Constant<Bits<32>>,
    all_ones: Constant<Bits<32>>,
    twiddle_words: Constant<Bits<32>>,
    early_words: Constant<Bits<32>>,
    in_range: Signal<Local, Bit>,
    new_log_bits: Signal<Local, Bits<5>>,
    new_size: Signal<Local, Bits<32>>,
    new_half_log: Signal<Local, Bits<32>>,
    new_half_bits: Signal<Local, Bits<5>>,
    new_half_rows: Signal<Local, Bits<32>>,
    new_size_flags: Signal<Local, Bits<32>>,
    new_range_flag: Signal<Local, Bits<32>>,
    one: Constant<Bits<32>>,
    min_log_n: Constant<Bits<32>>,
    log_max_n: Constant<Bits<32>>,
    log_lanes_plus_one: Constant<Bits<32>>,
    gap_base: Constant<Bits<32>>,
    err_bad_size: Constant<Bits<32>>,
    err_out_of_range: Constant<Bits<32>>,
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>
    Accelerator<P, DA, TA, EA, M>
{
    /// The accelerator of `config` (see [`Engine::new`] for the checks).
    pub fn new(config: &Config) -> Self {
        assert_eq!(BUS_READ_LATENCY, 2, "read_value, then answer_value");
        let c32 = |v: u64| Constant::new(v.into());
        let reset = DerivedDescriptor::new(config, 0);
        let init = |v: u32| DFFWithInit::new((v as u64).into());
        let config_word = config.lanes as u64
            | (config.log_max_n as u64) << 8
            | (config.word_bits as u64) << 16
            | (config.moduli as u64) << 24;
        Self {
            clock: Default::default(),
            bus_address: Default::default(),
            bus_write_data: Default::default(),
            bus_write: Default::default(),
            bus_read: Default::default(),
            bus_read_data: Default::default(),
            busy: Default::default(),
            engine: Engine::new(config),
            desc_op: Default::default(),
            desc_log_n: Default::default(),
            desc_slot: Default::default(),
            desc_a: Default::default(),
            desc_b: Default::default(),
            desc_dst: Default::default(),
            desc_const: Default::default(),
            desc_mask: init(reset.mask),
            desc_limit: init(reset.limit),
            desc_size_flags: init(reset.size_flags),
            desc_half_rows: init(reset.half_rows),
            desc_gap: init(reset.gap),
            desc_last_stage: init(reset.last_stage),
            mod_slot: Default::default(),
            mod_q: Default::default(),
            mod_m: Default::default(),
            errors: Default::default(),
            done_seen: Default::default(),
            cycles_lo: Default::default(),
            cycles_hi: Default::default(),
            cycles_hi_latched: Default::default(),
            job_counter: Default::default(),
            job_cycles: Default::default(),
            read_value: Default::default(),
            answer_value: Default::default(),
            region: Default::default(),
            offset: Default::default(),
            register_space: Default::default(),
            register_index: Default::default(),
            register_value: Default::default(),
            register_readable: Default::default(),
            new_errors: Default::default(),
            errors_base: Default::default(),
            start_request: Default::default(),
            status_busy: Default::default(),
            status_done: Default::default(),
            status_error: Default::default(),
            id_value: c32(map::ID_VALUE as u64),
            config_value: c32(config_word),
            user_words: c32(config.user_words() as u64),
            region_data: Constant::new(((map::DATA >> 28) as u64).into()),
            region_twiddle: Constant::new(((map::TWIDDLE >> 28) as u64).into()),
            region_early: Constant::new(((map::TWIDDLE_EARLY >> 28) as u64).into()),
            region_registers: Constant::new(0.into()),
            err_busy: c32(ERR_BUSY as u64),
            err_access: c32(ERR_ACCESS_WHILE_BUSY as u64),
            err_address: c32(ERR_BAD_ADDRESS as u64),
            all_ones: c32(0xFFFF_FFFF),
            twiddle_words: c32(config.twiddle_words() as u64),
            early_words: c32(config.early_twiddle_words() as u64),
            in_range: Default::default(),
            new_log_bits: Default::default(),
            new_size: Default::default(),
            new_half_log: Default::default(),
            new_half_bits: Default::default(),
            new_half_rows: Default::default(),
            new_size_flags: Default::default(),
            new_range_flag: Default::default(),
            one: c32(1),
            min_log_n: c32(config.min_log_n() as u64),
            log_max_n: c32(config.log_max_n as u64),
            log_lanes_plus_one: c32(config.log_lanes() as u64 + 1),
            gap_base: c32(PIPELINE_LATENCY as u64 + 2),
            err_bad_size: c32(ERR_BAD_SIZE as u64),
            err_out_of_range: c32(ERR_OUT_OF_RANGE as u64),
        }
    }
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>
    crate::testing::Clocked for Accelerator<P, DA, TA, EA, M>
{
    fn clock_input(&mut self) -> &mut Signal<In, Clock> {
        &mut self.clock
    }
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize> Logic
    for Accelerator<P, DA, TA, EA, M>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            desc_op,
            desc_log_n,
            desc_slot,
            desc_a,
            desc_b,
            desc_dst,
            desc_const,
            desc_mask,
            desc_limit,
            desc_size_flags,
            desc_half_rows,
            desc_gap,
            desc_last_stage,
            mod_slot,
            mod_q,
            mod_m,
            errors,
            done_seen,
            cycles_lo,
            cycles_hi,
            cycles_hi_latched,
            job_counter,
            job_cycles,
            read_value,
            answer_value
        );
        self.engine.clock.next = self.clock.val();
        self.region.next = self.bus_address.val().get_bits::<4>(28);
        self.offset.next = self.bus_address.val() & 0x0FFF_FFFF;
        self.register_space.next = (self.bus_address.val() >> 6) == 0;
        self.register_index.next = self.bus_address.val() & 0x3F;
        self.busy.next = self.engine.busy.val();

        // Free-running 64-bit cycle counter.
        self.cycles_lo.d.next = self.cycles_lo.q.val() + 1;
        if self.cycles_lo.q.val() == self.all_ones.val() {
            self.cycles_hi.d.next = self.cycles_hi.q.val() + 1;
        }

        // Engine inputs: descriptor and modulus staging from registers.
        self.engine.desc_op.next = self.desc_op.q.val();
        self.engine.desc_log_n.next = self.desc_log_n.q.val();
        self.engine.desc_slot.next = self.desc_slot.q.val();
        self.engine.desc_a.next = self.desc_a.q.val();
        self.engine.desc_b.next = self.desc_b.q.val();
        self.engine.desc_dst.next = self.desc_dst.q.val();
        self.engine.desc_const.next = self.desc_const.q.val();
        self.engine.desc_mask.next = self.desc_mask.q.val();
        self.engine.desc_limit.next = self.desc_limit.q.val();
        self.engine.desc_size_flags.next = self.desc_size_flags.q.val();
        self.engine.desc_half_rows.next = self.desc_half_rows.q.val();
        self.engine.desc_gap.next = self.desc_gap.q.val();
        self.engine.desc_last_stage.next = self.desc_last_stage.q.val();

        // DerivedDescriptor of the word being written, for DESC_LOG_N.
        self.new_log_bits.next = self.bus_write_data.val().get_bits::<5>(0);
        self.new_size.next = self.one.val() << self.new_log_bits.val();
        self.new_half_log.next = self.bus_write_data.val() - self.log_lanes_plus_one.val();
        self.new_half_bits.next = self.new_half_log.val().get_bits::<5>(0);
        self.new_half_rows.next = self.one.val() << self.new_half_bits.val();
        self.new_size_flags.next = 0.into();
        self.new_range_flag.next = 0.into();
        if (self.bus_write_data.val() < self.min_log_n.val())
            | (self.bus_write_data.val() > self.log_max_n.val())
        {
            self.new_size_flags.next = self.err_bad_size.val();
        }
        if self.new_size.val() > self.user_words.val() {
            self.new_range_flag.next = self.err_out_of_range.val();
        }
        self.engine.mod_slot.next = self.mod_slot.q.val();
        self.engine.mod_q.next = self.mod_q.q.val();
        self.engine.mod_m.next = self.mod_m.q.val();
        self.engine.mem_address.next = self.offset.val();
        self.engine.mem_write_data.next = self.bus_write_data.val();
        self.engine.twiddle_address.next = self.offset.val();
        self.engine.twiddle_data.next = self.bus_write_data.val();
        self.engine.start.next = false;
        self.engine.mod_write.next = false;
        self.engine.mem_write.next = false;
        self.engine.mem_read.next = false;
        self.engine.twiddle_write.next = false;
        self.engine.twiddle_early_write.next = false;

        // STATUS bits (literal addresses below: the kernel language has no
        // paths or casts; the bus tests use `map` and would catch a slip).
        self.status_busy.next = 0.into();
        self.status_done.next = 0.into();
        self.status_error.next = 0.into();
        if self.engine.busy.val() {
            self.status_busy.next = 1.into();
        }
        if self.done_seen.q.val() {
            self.status_done.next = 2.into();
        }
        if self.errors.q.val() != 0 {
            self.status_error.next = 4.into();
        }

        // Register read mux (decimal indices: the kernel language writes
        // patterns to Verilog as they are spelled).
        self.register_readable.next = true;
        self.register_value.next = 0.into();
        match self.register_index.val().index() {
            0 => self.register_value.next = self.id_value.val(),
            1 => self.register_value.next = self.config_value.val(),
            2 => self.register_value.next = self.user_words.val(),
            4 => {
                self.register_value.next =
                    self.status_busy.val() | self.status_done.val() | self.status_error.val();
            }
            5 => self.register_value.next = self.errors.q.val(),
            6 => self.register_value.next = self.cycles_lo.q.val(),
            7 => self.register_value.next = self.cycles_hi_latched.q.val(),
            8 => self.register_value.next = self.job_cycles.q.val(),
            16 => self.register_value.next = self.desc_op.q.val(),
            17 => self.register_value.next = self.desc_log_n.q.val(),
            18 => self.register_value.next = self.desc_slot.q.val(),
            19 => self.register_value.next = self.desc_a.q.val(),
            20 => self.register_value.next = self.desc_b.q.val(),
            21 => self.register_value.next = self.desc_dst.q.val(),
            22 => self.register_value.next = self.desc_const.q.val(),
            32 => self.register_value.next = self.mod_slot.q.val(),
            33 => self.register_value.next = self.mod_q.q.val(),
            34 => self.register_value.next = self.mod_m.q.val(),
            36 => self.register_value.next = self.engine.mod_readback.val(),
            _ => self.register_readable.next = false,
        }
        if !self.register_space.val() {
            self.register_readable.next = false;
        }

        // Memory regions end where their memories end: no aliasing, and
        // the engine's scratch buffers are out of the bus's reach.
        self.in_range.next = false;
        if self.region.val() == self.region_data.val() {
            self.in_range.next = self.offset.val() < self.user_words.val();
        }
        if self.region.val() == self.region_twiddle.val() {
            self.in_range.next = self.offset.val() < self.twiddle_words.val();
        }
        if self.region.val() == self.region_early.val() {
            self.in_range.next = self.offset.val() < self.early_words.val();
        }

        // Error flags raised this cycle.
        self.new_errors.next = 0.into();
        self.start_request.next = false;
        self.errors_base.next = self.errors.q.val();

        // Bus reads: registers answer through two registers, memory through
        // the engine's stage R.
        self.read_value.d.next = 0.into();
        if self.bus_read.val() {
            if self.region.val() == self.region_registers.val() {
                if self.register_readable.val() {
                    self.read_value.d.next = self.register_value.val();
                } else {
                    self.new_errors.next = self.err_address.val();
                }
                if self.register_space.val() & (self.register_index.val() == 6) {
                    self.cycles_hi_latched.d.next = self.cycles_hi.q.val();
                }
            } else if (self.region.val() == self.region_data.val()) & self.in_range.val() {
                if self.engine.busy.val() {
                    self.new_errors.next = self.err_access.val();
                } else {
                    self.engine.mem_read.next = true;
                }
            } else {
                self.new_errors.next = self.err_address.val();
            }
        }
        // Both sources are 0 unless they answer a read, and at most one
        // does: an OR, not a multiplexer.
        self.answer_value.d.next = self.read_value.q.val();
        self.bus_read_data.next = self.engine.mem_read_data.val() | self.answer_value.q.val();

        // Bus writes.
        if self.bus_write.val() {
            if self.region.val() == self.region_registers.val() {
                if self.register_space.val() {
                    match self.register_index.val().index() {
                        3 => {
                            if self.bus_write_data.val().get_bit(1) {
                                self.errors_base.next = 0.into();
                                self.done_seen.d.next = false;
                            }
                            if self.bus_write_data.val().get_bit(0) {
                                if self.engine.busy.val() {
                                    self.new_errors.next = self.err_busy.val();
                                } else {
                                    self.start_request.next = true;
                                    self.engine.start.next = true;
                                    self.done_seen.d.next = false;
                                }
                            }
                        }
                        16 => {
                            self.desc_op.d.next = self.bus_write_data.val();
                        }
                        17 => {
                            self.desc_log_n.d.next = self.bus_write_data.val();
                            self.desc_mask.d.next = self.new_size.val() - 1;
                            self.desc_limit.d.next = self.user_words.val() - self.new_size.val();
                            self.desc_size_flags.d.next =
                                self.new_size_flags.val() | self.new_range_flag.val();
                            self.desc_half_rows.d.next = self.new_half_rows.val();
                            if (self.new_half_rows.val() >> 1) >= self.gap_base.val() {
                                self.desc_gap.d.next = 0.into();
                            } else {
                                self.desc_gap.d.next =
                                    self.gap_base.val() - (self.new_half_rows.val() >> 1);
                            }
                            self.desc_last_stage.d.next = self.bus_write_data.val() - 1;
                        }
                        18 => {
                            self.desc_slot.d.next = self.bus_write_data.val();
                        }
                        19 => {
                            self.desc_a.d.next = self.bus_write_data.val();
                        }
                        20 => {
                            self.desc_b.d.next = self.bus_write_data.val();
                        }
                        21 => {
                            self.desc_dst.d.next = self.bus_write_data.val();
                        }
                        22 => {
                            self.desc_const.d.next = self.bus_write_data.val();
                        }
                        32 => {
                            self.mod_slot.d.next = self.bus_write_data.val();
                        }
                        33 => {
                            self.mod_q.d.next = self.bus_write_data.val();
                        }
                        34 => {
                            self.mod_m.d.next = self.bus_write_data.val();
                        }
                        35 => {
                            if self.engine.busy.val() {
                                self.new_errors.next = self.err_access.val();
                            } else {
                                self.engine.mod_write.next = true;
                            }
                        }
                        _ => self.new_errors.next = self.err_address.val(),
                    }
                } else {
                    self.new_errors.next = self.err_address.val();
                }
            } else if !self.in_range.val() {
                self.new_errors.next = self.err_address.val();
            } else if self.engine.busy.val() {
                self.new_errors.next = self.err_access.val();
            } else if self.region.val() == self.region_data.val() {
                self.engine.mem_write.next = true;
            } else if self.region.val() == self.region_twiddle.val() {
                self.engine.twiddle_write.next = true;
            } else if self.region.val() == self.region_early.val() {
                self.engine.twiddle_early_write.next = true;
            } else {
                self.new_errors.next = self.err_address.val();
            }
        }
        // A refusal lands the cycle after its start, beside whatever this
        // cycle's access raises.
        self.errors.d.next = self.errors_base.val() | self.new_errors.val();
        if self.engine.reject.val() {
            self.errors.d.next =
                self.errors_base.val() | self.new_errors.val() | self.engine.reject_flags.val();
        }

        // Per-job cycle count: the start cycle counts as cycle 0.
        if self.start_request.val() {
            self.job_counter.d.next = 1.into();
        } else if self.engine.busy.val() {
            self.job_counter.d.next = self.job_counter.q.val() + 1;
        }
        if self.engine.done.val() {
            self.job_cycles.d.next = self.job_counter.q.val();
            self.done_seen.d.next = true;
        }
    }
}

/// Runs `$body` with `$acc` bound to a fresh, connected [`Accelerator`] of
/// the named configuration `$config` (a [`Config`] from
/// [`crate::config::CONFIGS`]); evaluates to `None` for an unknown name.
#[macro_export]
macro_rules! with_accelerator {
    ($config:expr, |$acc:ident| $body:expr) => {
        $crate::with_configured_block!($config, |$acc| $body, $crate::accelerator::Accelerator)
    };
}

/// [`with_accelerator!`] for any block generic over the accelerator's type
/// parameters with a `new(&Config)` constructor (`$block` is its path):
/// the type parameters of each named configuration are spelled out here
/// once.
#[macro_export]
macro_rules! with_configured_block {
    ($config:expr, |$acc:ident| $body:expr, $($block:tt)+) => {{
        use rust_hdl::prelude::Block as _;
        let config: $crate::config::Config = $config;
        match config.name {
            "p1" => {
                let mut $acc = $($block)+::<1, 15, 15, 5, 4>::new(&config);
                $acc.connect_all();
                Some($body)
            }
            "p2" => {
                let mut $acc = $($block)+::<2, 14, 14, 5, 4>::new(&config);
                $acc.connect_all();
                Some($body)
            }
            "p4" => {
                let mut $acc = $($block)+::<4, 13, 13, 5, 4>::new(&config);
                $acc.connect_all();
                Some($body)
            }
            "p8" => {
                let mut $acc = $($block)+::<8, 12, 12, 5, 4>::new(&config);
                $acc.connect_all();
                Some($body)
            }
            "tiny" => {
                let mut $acc = $($block)+::<2, 8, 9, 4, 2>::new(&config);
                $acc.connect_all();
                Some($body)
            }
            _ => None,
        }
    }};
}
