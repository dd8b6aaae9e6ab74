//! Named accelerator configurations and the derived sizes every other part
//! (RTL, simulator, firmware, host) agrees on.

/// Cycles from a lane's inputs to its outputs (the RTL asserts its
/// pipeline has exactly this depth).
pub const LANE_LATENCY: usize = 13;

/// Register stages the engine puts around the memories so its critical
/// paths stay short (issue 8, timing closure on ECP5): A, the issued read
/// rows and twiddle rows, registered before they address the memories;
/// R, the memories' outputs, registered before the bank and operand
/// multiplexers; I, the lanes' operands, registered after them.
pub const FEED_STAGES: usize = 3;

/// Cycles from the sequencer issuing a read to the lanes' results:
/// [`FEED_STAGES`] + [`LANE_LATENCY`]. The exact cycle formulas below use
/// it in place of the lane latency alone.
pub const PIPELINE_LATENCY: usize = FEED_STAGES + LANE_LATENCY;

/// Cycles from a start request to the job's acceptance or refusal: the
/// descriptor checks are registered in the start's cycle (issue 8, timing
/// closure on ECP5), so the accelerator is busy from the next cycle and a
/// refusal's flags land then. Counted in the exact cycle formulas below.
pub const START_LATENCY: usize = 1;

/// One accelerator configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Name used on the command line and in reports.
    pub name: &'static str,
    /// Parallel butterflies (lanes): 1, 2, 4 or 8.
    pub lanes: usize,
    /// `log2` of the largest transform size.
    pub log_max_n: u32,
    /// Modulus bit size `b` (every loaded modulus has exactly `b` bits).
    pub word_bits: u32,
    /// Modulus slots (each with its two twiddle tables).
    pub moduli: usize,
    /// `log2` of the number of `N_max`-word buffers, the top two of which
    /// are the engine's private scratch.
    pub log_buffers: u32,
}

/// Job-descriptor error flags (the engine's; the register file adds
/// [`ERR_BUSY`] and up).
pub const ERR_BAD_OP: u32 = 1 << 0;
/// `N` is not a supported power of two.
pub const ERR_BAD_SIZE: u32 = 1 << 1;
/// The modulus slot does not exist or holds no valid `b`-bit odd modulus.
pub const ERR_BAD_MODULUS: u32 = 1 << 2;
/// A buffer address is not a multiple of `N`.
pub const ERR_MISALIGNED: u32 = 1 << 3;
/// A buffer reaches past the user memory.
pub const ERR_OUT_OF_RANGE: u32 = 1 << 4;
/// A job was started while another was running.
pub const ERR_BUSY: u32 = 1 << 5;
/// Memory was accessed over the bus while a job was running.
pub const ERR_ACCESS_WHILE_BUSY: u32 = 1 << 6;
/// A bus access hit an unmapped or read-only address.
pub const ERR_BAD_ADDRESS: u32 = 1 << 7;

/// Every named configuration. `p1` … `p8` differ only in lanes; each is
/// instantiated by `ola_hdl::with_accelerator!`.
pub const CONFIGS: &[Config] = &[
    Config::new("p1", 1, 12, 30, 4, 4),
    Config::new("p2", 2, 12, 30, 4, 4),
    Config::new("p4", 4, 12, 30, 4, 4),
    // The ECP5-85F target: N up to 4096, 30-bit words, 4 moduli,
    // 16 buffers of 4096 words (14 for the host, 2 scratch).
    Config::new("p8", 8, 12, 30, 4, 4),
    // Small enough for quick synthesis in CI and for iCE40 trials.
    Config::new("tiny", 2, 8, 18, 2, 2),
];

/// Benchmark-only configurations, kept out of [`CONFIGS`] so that loops
/// over every named configuration (co-simulation, lint, synthesis) skip
/// them; look them up with [`Config::named_any`]. `p8n16` is `p8` with
/// `N_max` = 2^16, one modulus slot and two host buffers: the simulator
/// against Verilator at N = 2^12 … 2^16 (`ola-tests --bin sim-speed-large`).
pub const BENCH_CONFIGS: &[Config] = &[Config::new("p8n16", 8, 16, 30, 1, 2)];

impl Config {
    /// A configuration (see the field docs).
    pub const fn new(
        name: &'static str,
        lanes: usize,
        log_max_n: u32,
        word_bits: u32,
        moduli: usize,
        log_buffers: u32,
    ) -> Self {
        Config {
            name,
            lanes,
            log_max_n,
            word_bits,
            moduli,
            log_buffers,
        }
    }

    /// Looks a configuration up by name.
    pub fn named(name: &str) -> Option<Config> {
        CONFIGS.iter().copied().find(|c| c.name == name)
    }

    /// Looks a configuration up by name in [`CONFIGS`] and [`BENCH_CONFIGS`].
    pub fn named_any(name: &str) -> Option<Config> {
        Config::named(name).or_else(|| BENCH_CONFIGS.iter().copied().find(|c| c.name == name))
    }

    /// `log2` of the lane count.
    pub fn log_lanes(&self) -> u32 {
        self.lanes.trailing_zeros()
    }

    /// Largest transform size.
    pub fn max_n(&self) -> usize {
        1 << self.log_max_n
    }

    /// Smallest transform size: 16, and at least two rows of lanes.
    pub fn min_log_n(&self) -> u32 {
        4.max(self.log_lanes() + 1)
    }

    /// Memory rows (of `lanes` words) per `N_max` buffer.
    pub fn rows_per_buffer(&self) -> usize {
        self.max_n() / self.lanes
    }

    /// Words of memory the host may use (everything below the scratch).
    pub fn user_words(&self) -> usize {
        ((1 << self.log_buffers) - 2) * self.max_n()
    }

    /// Words of the main twiddle memory: per modulus, two tables of `N_max`.
    pub fn twiddle_words(&self) -> usize {
        self.moduli * 2 * self.max_n()
    }

    /// Words of the early-stage twiddle memory: per modulus and direction,
    /// four rows of `lanes` words.
    pub fn early_twiddle_words(&self) -> usize {
        self.moduli * 2 * 4 * self.lanes
    }

    /// Address bits of one data bank (each bank holds half the rows).
    pub fn data_bank_address_bits(&self) -> usize {
        (self.log_buffers + self.log_max_n - self.log_lanes() - 1) as usize
    }

    /// Address bits of one lane's main twiddle memory: per modulus, a
    /// forward and an inverse table of `N_max / lanes` rows.
    pub fn twiddle_address_bits(&self) -> usize {
        (self.moduli * 2 * self.rows_per_buffer()).trailing_zeros() as usize
    }

    /// Address bits of one lane's early-stage twiddle memory: per modulus
    /// and direction, four rows (stages `s < log2 lanes ≤ 3`).
    pub fn early_twiddle_address_bits(&self) -> usize {
        (self.moduli * 2 * 4).trailing_zeros() as usize
    }

    /// Idle cycles between NTT stages so a stage never reads a row its
    /// predecessor has not written yet: `max(0, L + 2 − H/2)` with
    /// `H = N / (2·lanes)` rows per half and `L` the
    /// [`PIPELINE_LATENCY`] (issue to result).
    pub fn stage_gap(&self, log_n: u32) -> usize {
        let half_rows = 1usize << (log_n - self.log_lanes() - 1);
        (PIPELINE_LATENCY + 2).saturating_sub(half_rows / 2)
    }

    /// Exact engine cycles of an NTT or INTT of size `2^log_n`, from the
    /// cycle of the start request to the cycle `done` is raised (what
    /// `JOB_CYCLES` reads; [`START_LATENCY`] included).
    pub fn ntt_cycles(&self, log_n: u32) -> usize {
        let half_rows = 1usize << (log_n - self.log_lanes() - 1);
        let stages = log_n as usize;
        stages * half_rows
            + (stages - 1) * self.stage_gap(log_n)
            + START_LATENCY
            + PIPELINE_LATENCY
            + 2
    }

    /// Exact engine cycles of a vector job of size `2^log_n` with
    /// `operands` memory operands (`MulConst` 1, `Add`/`Sub`/`Mul` 2,
    /// `Mac` 3): row pairs take `max(2, operands)` cycles each (from the
    /// start request, as [`Config::ntt_cycles`]).
    pub fn vector_cycles(&self, log_n: u32, operands: usize) -> usize {
        let pairs = 1usize << (log_n - self.log_lanes() - 1);
        pairs * operands.max(2) + START_LATENCY + PIPELINE_LATENCY + 3
    }

    /// Whether a modulus slot accepts `q`: odd with exactly `word_bits` bits
    /// (the Barrett unit's shifts are fixed per configuration).
    pub fn accepts_modulus(&self, q: u32) -> bool {
        q & 1 == 1 && q >> self.word_bits == 0 && q >> (self.word_bits - 1) == 1
    }

    /// The error flags the engine raises for a descriptor, exactly as the
    /// RTL computes them (32-bit wrapping arithmetic, the size taken from
    /// the low five bits of `log_n`); `valid_slots[i]` says whether slot
    /// `i` holds an accepted modulus. Zero means the job runs.
    #[allow(clippy::too_many_arguments)]
    pub fn descriptor_flags(
        &self,
        op: u32,
        log_n: u32,
        slot: u32,
        a: u32,
        b: u32,
        dst: u32,
        valid_slots: &[bool],
    ) -> u32 {
        let user = self.user_words() as u32;
        let size = 1u32 << (log_n & 31);
        let misaligned = |x: u32| x & size.wrapping_sub(1) != 0;
        let outside = |x: u32| x >= user || x.wrapping_add(size) > user;
        let mut flags = 0;
        if op > 6 {
            flags |= ERR_BAD_OP;
        }
        if log_n < self.min_log_n() || log_n > self.log_max_n {
            flags |= ERR_BAD_SIZE;
        }
        if slot as usize >= self.moduli || !valid_slots.get(slot as usize).copied().unwrap_or(false)
        {
            flags |= ERR_BAD_MODULUS;
        }
        let uses_b = (2..=5).contains(&op);
        if misaligned(a) || misaligned(dst) || (uses_b && misaligned(b)) {
            flags |= ERR_MISALIGNED;
        }
        if outside(a) || outside(dst) || (uses_b && outside(b)) {
            flags |= ERR_OUT_OF_RANGE;
        }
        flags
    }

    /// The lower bound `(N/2)·log2(N)/lanes` butterfly cycles.
    pub fn ntt_bound(&self, log_n: u32) -> f64 {
        (1u64 << (log_n - 1)) as f64 * log_n as f64 / self.lanes as f64
    }
}
