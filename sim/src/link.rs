//! The SPI link from the firmware's CPU to the accelerator, cycle-exact.
//!
//! [`SpiLink`] wraps a [`Device`] and plays both ends of the wire: the
//! controller drives the pins per a [`ControllerTiming`], and a model of
//! the RTL bridge (`ola_hdl::spi_bridge`, state for state) decodes the bits
//! and performs each bus access on exactly the cycle the RTL does
//! ([`ControllerTiming::access_cycle`]), with the same MISO bits back. The
//! cycles between accesses are skipped with [`Device::idle`], so a burst of
//! 4096 words costs about as much as 4096 bus cycles, not 400,000.
//!
//! It is a [`WordBus`] (what the firmware's driver programs against) and an
//! `embedded_hal::spi::SpiDevice` (what the firmware's own `WordBus`
//! implementation runs on), so firmware code runs unchanged against it.
//! [`LinkStats`] separates the cycles spent moving data from the rest;
//! the jobs' cycles are in [`Device::trace`].

use core::convert::Infallible;

use embedded_hal::spi::{ErrorType, Operation, SpiDevice};
use ola_spec::link::{BRIDGE_DELAY, ControllerTiming, MAX_BURST, READ_WAIT_BITS, WordBus, command};
use ola_spec::{BUS_READ_LATENCY, BusInputs, BusModel};

use crate::Device;

/// The accelerator clock the simulator assumes when converting
/// `Operation::DelayNs` into cycles (the reference board's 125 MHz).
pub const DEFAULT_CLOCK_HZ: u64 = 125_000_000;

/// What the link has carried so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Transactions (CS_N low … high).
    pub transactions: u64,
    /// Accelerator cycles spent in transactions: from CS_N falling to the
    /// end of its high time ([`ControllerTiming::transaction_cycles`]),
    /// delays inside transactions included. This is the data movement.
    pub link_cycles: u64,
    /// SPI bits clocked.
    pub bits: u64,
    /// Bus writes the bridge performed.
    pub words_written: u64,
    /// Bus reads the bridge performed.
    pub words_read: u64,
}

/// One bus access of the bridge: the cycle (of the device's clock) and the
/// bus inputs in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Device cycle.
    pub cycle: u64,
    /// Bus inputs (`write` or `read` set).
    pub inputs: BusInputs,
}

/// One step of a transaction at the pins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinStep {
    /// Clock one bit out on MOSI (and one in from MISO).
    Bit(bool),
    /// Keep SCK low for this many extra accelerator cycles.
    Delay(u64),
}

/// A timing the bridge does not support (see [`ControllerTiming::is_valid`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidTiming(pub ControllerTiming);

impl core::fmt::Display for InvalidTiming {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "controller timing {:?} is not supported: the ratio must be even and at least {}, CS_N high at least one SCK period",
            self.0,
            ola_spec::link::MIN_CLOCK_RATIO
        )
    }
}

impl std::error::Error for InvalidTiming {}

/// The simulated device behind its SPI link.
#[derive(Clone, Debug)]
pub struct SpiLink {
    device: Device,
    timing: ControllerTiming,
    clock_hz: u64,
    stats: LinkStats,
    log: Option<Log>,
}

#[derive(Clone, Debug, Default)]
struct Log {
    accesses: Vec<Access>,
    miso: Vec<(u64, bool)>,
}

impl SpiLink {
    /// The link to `device` driven with `timing`.
    pub fn new(device: Device, timing: ControllerTiming) -> Result<Self, InvalidTiming> {
        if !timing.is_valid() {
            return Err(InvalidTiming(timing));
        }
        Ok(SpiLink {
            device,
            timing,
            clock_hz: DEFAULT_CLOCK_HZ,
            stats: LinkStats::default(),
            log: None,
        })
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The device, for driving its bus directly or idling it.
    pub fn device_mut(&mut self) -> &mut Device {
        &mut self.device
    }

    /// Unwraps the device.
    pub fn into_device(self) -> Device {
        self.device
    }

    /// The controller timing.
    pub fn timing(&self) -> ControllerTiming {
        self.timing
    }

    /// Changes the controller timing for the following transactions (the
    /// bridge does not care, as long as the timing is valid).
    pub fn set_timing(&mut self, timing: ControllerTiming) -> Result<(), InvalidTiming> {
        if !timing.is_valid() {
            return Err(InvalidTiming(timing));
        }
        self.timing = timing;
        Ok(())
    }

    /// Sets the accelerator clock used to convert `DelayNs` into cycles.
    pub fn set_clock_hz(&mut self, hz: u64) {
        self.clock_hz = hz.max(1);
    }

    /// What the link has carried so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Cycles since the device's power-on: link, jobs and idle time.
    pub fn elapsed(&self) -> u64 {
        self.device.cycle_count()
    }

    /// Starts (or stops) recording every bus access
    /// ([`Self::take_accesses`]) and every change of MISO
    /// ([`Self::take_miso_changes`]).
    pub fn record(&mut self, on: bool) {
        self.log = on.then(Log::default);
    }

    /// The bus accesses recorded since the last call.
    pub fn take_accesses(&mut self) -> Vec<Access> {
        self.log
            .as_mut()
            .map(|l| std::mem::take(&mut l.accesses))
            .unwrap_or_default()
    }

    /// The changes of MISO recorded since the last call: `(cycle, value)`,
    /// MISO having `value` from `cycle` on (it is low at power-on).
    pub fn take_miso_changes(&mut self) -> Vec<(u64, bool)> {
        self.log
            .as_mut()
            .map(|l| std::mem::take(&mut l.miso))
            .unwrap_or_default()
    }

    fn log_miso(&mut self, cycle: u64, value: bool) {
        if let Some(log) = &mut self.log {
            log.miso.push((cycle, value));
        }
    }

    /// Lets `cycles` pass with CS_N high (the CPU doing something else).
    pub fn idle(&mut self, cycles: u64) {
        self.device.idle(cycles);
    }

    /// One transaction at the pin level: CS_N falls now, `steps` are
    /// clocked, CS_N rises and stays high for the timing's high time.
    /// Returns the MISO bit sampled at each bit's rising edge.
    pub fn transaction_steps(&mut self, steps: &[PinStep]) -> Vec<bool> {
        let mut t = Transaction::begin(self);
        let out = steps
            .iter()
            .filter_map(|step| match *step {
                PinStep::Bit(mosi) => Some(t.bit(mosi)),
                PinStep::Delay(cycles) => {
                    t.delay(cycles);
                    None
                }
            })
            .collect();
        t.end();
        out
    }

    fn access(&mut self, cycle: u64, inputs: BusInputs) -> u32 {
        let now = self.device.cycle_count();
        debug_assert!(cycle >= now, "bridge accesses are in time order");
        self.device.idle(cycle - now);
        if let Some(log) = &mut self.log {
            log.accesses.push(Access { cycle, inputs });
        }
        self.device.cycle(&inputs);
        if inputs.read {
            self.stats.words_read += 1;
            // The word comes back BUS_READ_LATENCY cycles later, idle ones
            // for the bus (the bridge's next access is at least
            // MIN_CLOCK_RATIO cycles away).
            let mut word = 0;
            for _ in 0..BUS_READ_LATENCY {
                word = self.device.cycle(&BusInputs::default()).read_data;
            }
            word
        } else {
            self.stats.words_written += 1;
            0
        }
    }

    fn words_transaction(&mut self, read: bool, address: u32, words: &mut [u32]) {
        let mut t = Transaction::begin(self);
        t.word(command(read, words.len() as u16));
        t.word(address);
        if read {
            for _ in 0..READ_WAIT_BITS {
                t.bit(false);
            }
        }
        for w in words.iter_mut() {
            *w = t.word(if read { 0 } else { *w });
        }
        t.end();
    }
}

/// The bridge's state machine (`ola_hdl::spi_bridge::SpiBridge`), one
/// SCK rising edge at a time.
#[derive(Clone, Copy, Debug, Default)]
struct Bridge {
    /// 0 command, 1 address, 2 read wait bits, 3 data.
    phase: u8,
    finished: bool,
    bit_index: u32,
    shift_in: u32,
    is_read: bool,
    words_left: u32,
    next_address: u32,
    fetched: bool,
    read_buffer: u32,
    shift_out: u32,
}

impl Bridge {
    /// Issues the read of the next word.
    fn fetch(&mut self) -> BusInputs {
        let inputs = BusInputs {
            address: self.next_address,
            read: true,
            ..Default::default()
        };
        self.next_address = self.next_address.wrapping_add(1);
        self.words_left -= 1;
        self.fetched = true;
        inputs
    }

    fn miso(&self) -> bool {
        self.shift_out >> 31 != 0
    }

    /// A rising edge with `mosi`; returns the bus access it triggers.
    fn rise(&mut self, mosi: bool) -> Option<BusInputs> {
        if self.finished {
            return None;
        }
        let incoming = self.shift_in << 1 | mosi as u32;
        let word_done = self.bit_index == 31;
        let index = self.bit_index;
        self.shift_in = incoming;
        self.shift_out <<= 1;
        self.bit_index = if word_done { 0 } else { index + 1 };
        let mut access = None;
        match self.phase {
            0 if word_done => {
                self.is_read = incoming >> 31 != 0;
                self.words_left = incoming & 0xFFFF;
                self.phase = 1;
            }
            1 if word_done => {
                self.next_address = incoming;
                if self.words_left == 0 {
                    self.finished = true;
                } else {
                    self.phase = if self.is_read { 2 } else { 3 };
                }
            }
            2 => {
                if index == READ_WAIT_BITS - 2 {
                    access = Some(self.fetch());
                }
                if index == READ_WAIT_BITS - 1 {
                    self.phase = 3;
                    self.bit_index = 0;
                    self.shift_out = self.read_buffer;
                    self.fetched = false;
                }
            }
            3 if self.is_read => {
                if index == 30 && self.words_left != 0 {
                    access = Some(self.fetch());
                }
                if word_done {
                    if self.fetched {
                        self.shift_out = self.read_buffer;
                        self.fetched = false;
                    } else {
                        self.finished = true;
                        self.shift_out = 0;
                    }
                }
            }
            3 if word_done => {
                access = Some(BusInputs {
                    address: self.next_address,
                    write_data: incoming,
                    write: true,
                    read: false,
                });
                self.next_address = self.next_address.wrapping_add(1);
                self.words_left -= 1;
                self.finished = self.words_left == 0;
            }
            _ => {}
        }
        access
    }
}

/// One transaction in progress: CS_N is low.
struct Transaction<'a> {
    link: &'a mut SpiLink,
    bridge: Bridge,
    start: u64,
    /// Cycle at which the next bit goes on MOSI (SCK low).
    now: u64,
}

impl<'a> Transaction<'a> {
    fn begin(link: &'a mut SpiLink) -> Self {
        let start = link.device.cycle_count();
        Transaction {
            link,
            bridge: Bridge::default(),
            start,
            now: start,
        }
    }

    fn delay(&mut self, cycles: u64) {
        self.now += cycles;
    }

    /// Clocks one bit; returns MISO as sampled at the rising edge.
    fn bit(&mut self, mosi: bool) -> bool {
        let ratio = self.link.timing.ratio as u64;
        let rise = self.now + ratio / 2;
        let miso = self.bridge.miso();
        if let Some(inputs) = self.bridge.rise(mosi) {
            let data = self.link.access(rise + BRIDGE_DELAY, inputs);
            if inputs.read {
                self.bridge.read_buffer = data;
            }
        }
        if self.bridge.miso() != miso {
            self.link.log_miso(rise + BRIDGE_DELAY, !miso);
        }
        self.now += ratio;
        self.link.stats.bits += 1;
        miso
    }

    fn byte(&mut self, mosi: u8) -> u8 {
        (0..8)
            .rev()
            .fold(0, |acc, i| acc << 1 | self.bit(mosi >> i & 1 != 0) as u8)
    }

    fn word(&mut self, mosi: u32) -> u32 {
        (0..32)
            .rev()
            .fold(0, |acc, i| acc << 1 | self.bit(mosi >> i & 1 != 0) as u32)
    }

    /// CS_N rises half an SCK period after the last falling edge and stays
    /// high for the timing's high time.
    fn end(self) {
        let timing = self.link.timing;
        let cs_rise = self.now + (timing.ratio / 2) as u64;
        // The bridge sees CS_N high through its synchroniser and clears MISO.
        if self.bridge.miso() {
            self.link.log_miso(cs_rise + BRIDGE_DELAY, false);
        }
        let end = cs_rise + timing.cs_high_cycles as u64;
        let device = &mut self.link.device;
        device.idle(end - device.cycle_count());
        self.link.stats.transactions += 1;
        self.link.stats.link_cycles += end - self.start;
    }
}

impl WordBus for SpiLink {
    type Error = Infallible;

    /// One write transaction per [`MAX_BURST`] words (none for no words).
    fn write(&mut self, address: u32, words: &[u32]) -> Result<(), Infallible> {
        for (k, chunk) in words.chunks(MAX_BURST).enumerate() {
            let mut chunk = chunk.to_vec();
            let at = address.wrapping_add((k * MAX_BURST) as u32);
            self.words_transaction(false, at, &mut chunk);
        }
        Ok(())
    }

    /// One read transaction per [`MAX_BURST`] words (none for no words).
    fn read(&mut self, address: u32, words: &mut [u32]) -> Result<(), Infallible> {
        for (k, chunk) in words.chunks_mut(MAX_BURST).enumerate() {
            let at = address.wrapping_add((k * MAX_BURST) as u32);
            self.words_transaction(true, at, chunk);
        }
        Ok(())
    }
}

impl ErrorType for SpiLink {
    type Error = Infallible;
}

impl SpiDevice<u8> for SpiLink {
    /// The operations' bytes are clocked back to back, most significant bit
    /// first, in one transaction; `Read` sends zeros; `DelayNs` keeps SCK
    /// low for the delay rounded up to whole accelerator cycles.
    fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
        let clock_hz = self.clock_hz;
        let mut t = Transaction::begin(self);
        for op in operations {
            match op {
                Operation::Write(bytes) => {
                    for &b in bytes.iter() {
                        t.byte(b);
                    }
                }
                Operation::Read(bytes) => {
                    for b in bytes.iter_mut() {
                        *b = t.byte(0);
                    }
                }
                Operation::Transfer(read, write) => {
                    for i in 0..read.len().max(write.len()) {
                        let got = t.byte(write.get(i).copied().unwrap_or(0));
                        if let Some(r) = read.get_mut(i) {
                            *r = got;
                        }
                    }
                }
                Operation::TransferInPlace(bytes) => {
                    for b in bytes.iter_mut() {
                        *b = t.byte(*b);
                    }
                }
                Operation::DelayNs(ns) => {
                    t.delay((*ns as u64 * clock_hz).div_ceil(1_000_000_000));
                }
            }
        }
        t.end();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // `SpiDevice` has read/write too: the tests name `WordBus` where it matters.
    use ola_spec::config::Config;
    use ola_spec::link::transaction_bits;
    use ola_spec::map;

    const CONFIG: Config = Config::new("test-p2", 2, 7, 30, 2, 3);

    fn link(ratio: u32) -> SpiLink {
        let timing = ControllerTiming {
            ratio,
            cs_high_cycles: ratio,
        };
        let mut link = SpiLink::new(Device::new(CONFIG), timing).unwrap();
        link.record(true);
        link
    }

    #[test]
    fn unsupported_timings_are_refused() {
        for (ratio, cs_high_cycles) in [(2, 8), (5, 8), (8, 4)] {
            let timing = ControllerTiming {
                ratio,
                cs_high_cycles,
            };
            let err = SpiLink::new(Device::new(CONFIG), timing).unwrap_err();
            assert_eq!(err, InvalidTiming(timing));
            assert!(err.to_string().contains("not supported"));
        }
    }

    #[test]
    fn bursts_access_on_the_stated_cycles_and_round_trip() {
        for ratio in [4, 6, 8] {
            let mut l = link(ratio);
            let words = [5, 6, 7, 0xFFFF_FFFF];
            WordBus::write(&mut l, map::DATA | 3, &words).unwrap();
            let timing = l.timing();
            let accesses = l.take_accesses();
            assert_eq!(accesses.len(), 4);
            for (i, a) in accesses.iter().enumerate() {
                assert_eq!(a.cycle, timing.access_cycle(false, i));
                assert_eq!(a.inputs.address, map::DATA | (3 + i as u32));
                assert_eq!(a.inputs.write_data, words[i]);
            }
            let at = l.elapsed();
            assert_eq!(at, timing.transaction_cycles(transaction_bits(false, 4)));
            let mut back = [0; 4];
            WordBus::read(&mut l, map::DATA | 3, &mut back).unwrap();
            assert_eq!(back, words);
            for (i, a) in l.take_accesses().iter().enumerate() {
                assert_eq!(a.cycle - at, timing.access_cycle(true, i));
                assert!(a.inputs.read);
            }
            let stats = l.stats();
            assert_eq!(
                (stats.transactions, stats.words_written, stats.words_read),
                (2, 4, 4)
            );
            assert_eq!(stats.link_cycles, l.elapsed());
        }
    }

    #[test]
    fn zero_length_cut_short_and_long_transactions() {
        let mut l = link(4);
        // Zero-length: no access.
        WordBus::write(&mut l, map::DATA, &[]).unwrap();
        assert_eq!(l.stats().transactions, 0, "no words, no transaction");
        let zero: Vec<PinStep> = (0..64)
            .map(|k| PinStep::Bit(k < 32 && command(false, 0) >> (31 - k) & 1 != 0))
            .collect();
        l.transaction_steps(&zero);
        assert!(l.take_accesses().is_empty());
        // A write of two words cut in the second: one access.
        let mut steps: Vec<PinStep> = [command(false, 2), map::DATA, 11, 12]
            .iter()
            .flat_map(|&w| (0..32).rev().map(move |i| PinStep::Bit(w >> i & 1 != 0)))
            .collect();
        steps.truncate(64 + 32 + 31);
        l.transaction_steps(&steps);
        assert_eq!(l.take_accesses().len(), 1);
        // Extra bits after the last word are ignored; delays shift accesses.
        let mut steps: Vec<PinStep> = [command(false, 1), map::DATA | 1, 13, 14]
            .iter()
            .flat_map(|&w| (0..32).rev().map(move |i| PinStep::Bit(w >> i & 1 != 0)))
            .collect();
        steps.insert(10, PinStep::Delay(7));
        let start = l.elapsed();
        l.transaction_steps(&steps);
        let accesses = l.take_accesses();
        assert_eq!(accesses.len(), 1);
        assert_eq!(
            accesses[0].cycle - start,
            l.timing().access_cycle(false, 0) + 7
        );
        assert_eq!(&l.device().memory()[..2], &[11, 13]);
    }

    #[test]
    fn spi_device_reads_match_word_reads() {
        let mut l = link(8);
        WordBus::write(&mut l, map::DATA, &[0x0102_0304, 0xA0B0_C0D0]).unwrap();
        let mut header = [0u8; 9];
        header[..4].copy_from_slice(&command(true, 2).to_be_bytes());
        header[4..8].copy_from_slice(&map::DATA.to_be_bytes());
        let (mut a, mut b) = ([0u8; 3], [0u8; 5]);
        l.transaction(&mut [
            Operation::Write(&header[..5]),
            Operation::DelayNs(100),
            Operation::Transfer(&mut [], &header[5..]),
            Operation::Read(&mut a),
            Operation::TransferInPlace(&mut b),
        ])
        .unwrap();
        assert_eq!(a, [1, 2, 3]);
        assert_eq!(b, [4, 0xA0, 0xB0, 0xC0, 0xD0]);
    }
}
