//! The link between the firmware's CPU and the accelerator: an SPI bus with
//! the CPU as controller and the FPGA's bridge as peripheral.
//!
//! Wire format (SPI mode 0: SCK idles low, both sides sample on the rising
//! edge and change on the falling edge — the bridge's MISO a few cycles
//! after the rising edge, see [`BRIDGE_DELAY`]; most significant bit
//! first; every field a big-endian 32-bit word). One transaction (CS_N low
//! … high):
//!
//! | word | write | read |
//! |---|---|---|
//! | 0 | [`command`]`(false, n)` | [`command`]`(true, n)` |
//! | 1 | start address `a` | start address `a` |
//! | then | `n` data words, word `i` goes to `a + i` | [`READ_WAIT_BITS`] zero bits, then `n` words read from `a + i` |
//!
//! The bridge performs exactly `n` bus accesses per transaction and none
//! beyond (so a burst never touches an address it was not asked for — a
//! read past the end of a region would set a sticky error). Bits after the
//! last data word are ignored; a transaction cut short (CS_N high in the
//! middle of a word) performs the accesses of the complete words only
//! (for a read: of the words whose fetch, [`READ_PREFETCH_BITS`] before the
//! word, was clocked — see [`access_bit`]).
//!
//! Timing is in accelerator clock cycles. The bridge samples SCK, MOSI and
//! CS_N through two-flip-flop synchronisers, so it needs
//! [`MIN_CLOCK_RATIO`] or more accelerator cycles per SCK period. The
//! controller timing the simulator and the co-simulation use (a CPU's SPI
//! peripheral clocked at `f_accel / ratio`): see [`ControllerTiming`].

/// Bit 31 of the command word: 1 = read, 0 = write.
pub const COMMAND_READ: u32 = 1 << 31;
/// Mask of the burst length `n` in the command word (bits 15..0); `n = 0`
/// is a transaction without data accesses.
pub const COMMAND_COUNT_MASK: u32 = 0xFFFF;
/// Longest burst of one transaction.
pub const MAX_BURST: usize = 0xFFFF;
/// Zero bits the controller clocks between the address word and the first
/// read data word (the bridge's read wait state: one byte).
pub const READ_WAIT_BITS: u32 = 8;
/// Fewest accelerator cycles per SCK period the bridge supports.
pub const MIN_CLOCK_RATIO: u32 = 4;
/// The reference board's ratio: a 125 MHz accelerator and 15.625 MHz SCK.
pub const DEFAULT_CLOCK_RATIO: u32 = 8;

/// The command word of a transaction of `count` words.
pub const fn command(read: bool, count: u16) -> u32 {
    (if read { COMMAND_READ } else { 0 }) | count as u32
}

/// Decoded command word: `(read, count)`.
pub const fn decode_command(word: u32) -> (bool, usize) {
    (
        word & COMMAND_READ != 0,
        (word & COMMAND_COUNT_MASK) as usize,
    )
}

/// Bits clocked in a transaction of `count` words.
pub const fn transaction_bits(read: bool, count: usize) -> u64 {
    64 + 32 * count as u64 + if read { READ_WAIT_BITS as u64 } else { 0 }
}

/// How the SPI controller (the firmware CPU's peripheral) drives the pins,
/// in accelerator cycles from the cycle CS_N falls (cycle 0 of the
/// transaction): bit `k` is put on MOSI at cycle `k·ratio` with SCK low,
/// SCK rises at `k·ratio + ratio/2` (both sides sample) and falls at
/// `(k+1)·ratio` (both sides shift out the next bit). CS_N rises
/// `ratio/2` cycles after the last falling edge and stays high at least
/// `cs_high_cycles` before the next transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControllerTiming {
    /// Accelerator cycles per SCK period (even, ≥ [`MIN_CLOCK_RATIO`]).
    pub ratio: u32,
    /// Least accelerator cycles CS_N stays high between transactions.
    pub cs_high_cycles: u32,
}

impl ControllerTiming {
    /// The reference board: [`DEFAULT_CLOCK_RATIO`], CS_N high 2 SCK periods.
    pub const DEFAULT: ControllerTiming = ControllerTiming {
        ratio: DEFAULT_CLOCK_RATIO,
        cs_high_cycles: 2 * DEFAULT_CLOCK_RATIO,
    };

    /// Whether the bridge supports this timing.
    pub const fn is_valid(&self) -> bool {
        self.ratio >= MIN_CLOCK_RATIO
            && self.ratio.is_multiple_of(2)
            && self.cs_high_cycles >= self.ratio
    }

    /// Accelerator cycles from CS_N falling to CS_N falling of the next
    /// transaction for a transaction of `bits` bits.
    pub const fn transaction_cycles(&self, bits: u64) -> u64 {
        bits * self.ratio as u64 + (self.ratio / 2) as u64 + self.cs_high_cycles as u64
    }
}

/// A word-addressed view of the accelerator's bus, one burst at a time: the
/// interface the firmware's driver programs against. Implemented by the
/// firmware's SPI link (through `embedded_hal::spi::SpiDevice`) and by the
/// simulator's model of the same link.
pub trait WordBus {
    /// Transport error.
    type Error;

    /// Writes `words` to consecutive addresses from `address`.
    fn write(&mut self, address: u32, words: &[u32]) -> Result<(), Self::Error>;

    /// Reads consecutive addresses from `address` into `words`.
    fn read(&mut self, address: u32, words: &mut [u32]) -> Result<(), Self::Error>;
}

// The bridge's timing, as the RTL (`ola_hdl::spi_bridge`) implements it and
// the co-simulation (`tests/tests/link_cosim.rs`) checks cycle for cycle.

/// Accelerator cycles from an SCK rising edge (the cycle SCK is high for
/// the first time) to the bridge's reaction to it: two cycles through the
/// synchroniser, one to detect the edge and register the result. The bus
/// access a bit triggers, and the bridge's next MISO bit, appear this many
/// cycles after that bit's rising edge.
///
/// MISO is a register: read data bit `b` (counted from CS_N falling) is on
/// it from `rise_cycle(b − 1) + BRIDGE_DELAY` to `rise_cycle(b) +
/// BRIDGE_DELAY − 1`, so the controller, sampling at `rise_cycle(b)`, has
/// `ratio − 3` cycles of set-up and 3 of hold. (MISO changes this soon
/// after the rising edge rather than on the falling edge because a change
/// triggered by a synchronised falling edge would arrive after the next
/// rising edge at [`MIN_CLOCK_RATIO`].) Outside read data bits, and while
/// CS_N is high, MISO is 0.
pub const BRIDGE_DELAY: u64 = 3;

/// How many bits before a read word's first bit the bridge fetches it: the
/// read of data word `i` is triggered by the rising edge of bit
/// `READ_WAIT_BITS − 2 + 32·i` after the address word (counting from 0:
/// the second-to-last wait bit for word 0, then the second-to-last bit of
/// the previous word).
pub const READ_PREFETCH_BITS: u64 = 2;

// A read issued on the prefetch bit's edge (its `bus_read` at
// `BRIDGE_DELAY` after it) has its word on the bus `BUS_READ_LATENCY`
// cycles later and in the bridge's read buffer one cycle after that; the
// bridge loads the buffer into its shift register when it acts on the
// next bit's edge, `ratio` cycles later at the same delay. So
// `BUS_READ_LATENCY + 1 < ratio · (READ_PREFETCH_BITS − 1)`, exactly met at
// `MIN_CLOCK_RATIO` (`tests/tests/link_cosim.rs` checks it cycle for cycle).
const _: () =
    assert!(crate::BUS_READ_LATENCY as u64 + 1 < MIN_CLOCK_RATIO as u64 * (READ_PREFETCH_BITS - 1));

/// Index (from 0, counted from CS_N falling) of the bit whose rising edge
/// triggers the bus access of data word `i`: the word's last bit for a
/// write, [`READ_PREFETCH_BITS`] bits before the word's first bit for a
/// read.
pub const fn access_bit(read: bool, i: usize) -> u64 {
    if read {
        64 + READ_WAIT_BITS as u64 + 32 * i as u64 - READ_PREFETCH_BITS
    } else {
        64 + 32 * i as u64 + 31
    }
}

/// Index of the first bit of read data word `i`.
pub const fn read_data_bit(i: usize) -> u64 {
    64 + READ_WAIT_BITS as u64 + 32 * i as u64
}

impl ControllerTiming {
    /// Cycle (from CS_N falling) at which SCK rises for bit `bit`, when the
    /// controller clocks the bits back to back.
    pub const fn rise_cycle(&self, bit: u64) -> u64 {
        bit * self.ratio as u64 + (self.ratio / 2) as u64
    }

    /// Cycle (from CS_N falling) at which the bridge performs the bus access
    /// of data word `i` of a back-to-back transaction: the write of word `i`
    /// or the read that fetches it. The accelerator sees `bus_write` or
    /// `bus_read` high in exactly this cycle and no other bus access within
    /// [`MIN_CLOCK_RATIO`] cycles of it.
    pub const fn access_cycle(&self, read: bool, i: usize) -> u64 {
        self.rise_cycle(access_bit(read, i)) + BRIDGE_DELAY
    }
}
