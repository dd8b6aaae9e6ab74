//! The accelerator over any [`WordBus`]: what the firmware does with it,
//! in register terms (`ola_spec::map`).
//!
//! Every check that can be made before touching the device is made first,
//! so a refused request changes nothing. Jobs are started with their
//! descriptor in one burst and the "clear errors" bit set, so stale sticky
//! flags never fail a new job, and are then polled a bounded number of
//! times. Modulus slots are loaded invalid-first: the slot is emptied,
//! its twiddles written, and only then `q` and its Barrett constant
//! committed, so a load cut short leaves a slot that refuses jobs rather
//! than one that computes garbage.

use ola_arith::{Modulus, TwiddleGen, roots::MAX_TWIDDLE_LOG_N};
use ola_protocol::{ErrorCode, Job, MAX_SLOTS};
use ola_spec::config::Config;
use ola_spec::link::WordBus;
use ola_spec::map;

/// `STATUS` bits.
const STATUS_BUSY: u32 = 1;
const STATUS_DONE: u32 = 2;
const STATUS_ERRORS: u32 = 4;
/// `CONTROL` bits.
const CONTROL_START: u32 = 1;
const CONTROL_CLEAR: u32 = 2;

/// Words per twiddle burst and per verification chunk (stack buffers).
const CHUNK: usize = 64;

/// What can go wrong, with the protocol's [`ErrorCode`] of each
/// ([`Error::code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The link failed.
    Bus(E),
    /// The ID register does not read "OLA1".
    NoDevice {
        /// What it read.
        id: u32,
    },
    /// The accelerator's configuration is beyond this firmware.
    UnsupportedDevice {
        /// The CONFIG register.
        config: u32,
    },
    /// A data chunk longer than the protocol allows.
    ChunkTooLong {
        /// Its length.
        len: usize,
    },
    /// A data access reaching past the user memory.
    BufferOutOfRange {
        /// The start address.
        address: u32,
    },
    /// A modulus slot the accelerator does not have.
    SlotOutOfRange {
        /// The slot.
        slot: usize,
    },
    /// A modulus the accelerator cannot use.
    ModulusRejected {
        /// The modulus.
        q: u32,
    },
    /// The accelerator refused a job or an access: its `ERRORS` flags.
    Refused {
        /// `ERRORS` (cleared since).
        flags: u32,
    },
    /// A job did not finish within the poll limit.
    Timeout,
    /// The device did not hold what was written, or is in an impossible
    /// state.
    Fault {
        /// The failing address or register value.
        detail: u32,
    },
}

impl<E> Error<E> {
    /// The protocol's code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Bus(_) => ErrorCode::Bus,
            Error::NoDevice { .. } => ErrorCode::NoDevice,
            Error::UnsupportedDevice { .. } => ErrorCode::UnsupportedDevice,
            Error::ChunkTooLong { .. } => ErrorCode::ChunkTooLong,
            Error::BufferOutOfRange { .. } => ErrorCode::BufferOutOfRange,
            Error::SlotOutOfRange { .. } => ErrorCode::SlotOutOfRange,
            Error::ModulusRejected { .. } => ErrorCode::ModulusRejected,
            Error::Refused { flags } => {
                ErrorCode::from_device_flags(*flags).unwrap_or(ErrorCode::DeviceFault)
            }
            Error::Timeout => ErrorCode::Timeout,
            Error::Fault { .. } => ErrorCode::DeviceFault,
        }
    }

    /// The detail word of the error reply.
    pub fn detail(&self) -> u32 {
        match *self {
            Error::NoDevice { id } => id,
            Error::UnsupportedDevice { config } => config,
            Error::ChunkTooLong { len } => len as u32,
            Error::BufferOutOfRange { address } => address,
            Error::SlotOutOfRange { slot } => slot as u32,
            Error::ModulusRejected { q } => q,
            Error::Refused { flags } => flags,
            Error::Fault { detail } => detail,
            Error::Bus(_) | Error::Timeout => 0,
        }
    }
}

/// Tuning of the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverOptions {
    /// `STATUS` reads before a job (or the wait in [`Driver::reset`])
    /// counts as timed out. Each read is one bus transaction: ~100 SPI
    /// clocks on the reference link, so the default allows ~0.8 s there,
    /// far above the slowest job (~25,000 cycles, 0.2 ms).
    pub poll_limit: u32,
    /// Read written data back and compare (a mismatch is retried once,
    /// then reported as [`Error::Fault`]).
    pub verify_writes: bool,
    /// Read data twice and compare (likewise).
    pub verify_reads: bool,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            poll_limit: 100_000,
            verify_writes: true,
            verify_reads: false,
        }
    }
}

/// Cycle counters and status registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceCounters {
    /// `CYCLES_HI:CYCLES_LO`.
    pub cycles: u64,
    /// `JOB_CYCLES`.
    pub job_cycles: u32,
    /// `STATUS`.
    pub status: u32,
    /// `ERRORS`.
    pub errors: u32,
}

/// Outcome of a batch: jobs run and the sum of their cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchDone {
    /// Jobs that ran.
    pub jobs: u16,
    /// Sum of their `JOB_CYCLES`.
    pub cycles: u64,
}

/// The accelerator driver.
#[derive(Debug)]
pub struct Driver<B> {
    bus: B,
    config: Option<Config>,
    raw_config: u32,
    options: DriverOptions,
}

/// A checked modulus ready to load.
struct SlotLoad {
    modulus: Modulus,
    twiddles: TwiddleGen,
}

impl<B: WordBus> Driver<B> {
    /// A driver over `bus` (nothing is accessed yet).
    pub fn new(bus: B, options: DriverOptions) -> Self {
        Driver {
            bus,
            config: None,
            raw_config: 0,
            options,
        }
    }

    /// The bus.
    pub fn bus_mut(&mut self) -> &mut B {
        &mut self.bus
    }

    /// The bus back.
    pub fn into_bus(self) -> B {
        self.bus
    }

    /// The options.
    pub fn options(&self) -> DriverOptions {
        self.options
    }

    /// The `CONFIG` register as last read (0 before [`Driver::identify`]).
    pub fn raw_config(&self) -> u32 {
        self.raw_config
    }

    fn read1(&mut self, address: u32) -> Result<u32, Error<B::Error>> {
        let mut w = [0];
        self.bus.read(address, &mut w).map_err(Error::Bus)?;
        Ok(w[0])
    }

    fn write1(&mut self, address: u32, value: u32) -> Result<(), Error<B::Error>> {
        self.bus.write(address, &[value]).map_err(Error::Bus)
    }

    /// Reads and checks the ID and configuration registers.
    pub fn identify(&mut self) -> Result<Config, Error<B::Error>> {
        self.config = None;
        let mut regs = [0; 3];
        self.bus.read(map::ID, &mut regs).map_err(Error::Bus)?;
        let [id, raw, user_words] = regs;
        if id != map::ID_VALUE {
            return Err(Error::NoDevice { id });
        }
        self.raw_config = raw;
        let config =
            decode_config(raw, user_words).ok_or(Error::UnsupportedDevice { config: raw })?;
        log_debug!(
            "accelerator: config {=u32:x}, {=u32} user words",
            raw,
            user_words
        );
        self.config = Some(config);
        Ok(config)
    }

    /// The configuration, identifying the device first if needed.
    pub fn config(&mut self) -> Result<Config, Error<B::Error>> {
        match self.config {
            Some(config) => Ok(config),
            None => self.identify(),
        }
    }

    /// Checks that slots `first .. first + moduli.len()` exist and every
    /// modulus fits the device; loads nothing.
    pub fn check_moduli(&mut self, first: usize, moduli: &[u32]) -> Result<(), Error<B::Error>> {
        let config = self.config()?;
        for (i, &q) in moduli.iter().enumerate() {
            check_slot(&config, first + i)?;
            check_modulus(&config, q)?;
        }
        Ok(())
    }

    /// Loads `moduli[i]` into slot `first + i` after checking them all.
    pub fn load_moduli(&mut self, first: usize, moduli: &[u32]) -> Result<(), Error<B::Error>> {
        self.check_moduli(first, moduli)?;
        for (i, &q) in moduli.iter().enumerate() {
            self.load_modulus(first + i, q)?;
        }
        Ok(())
    }

    /// Loads `q`, its Barrett constant and its twiddle tables into `slot`.
    pub fn load_modulus(&mut self, slot: usize, q: u32) -> Result<(), Error<B::Error>> {
        let config = self.config()?;
        check_slot(&config, slot)?;
        let load = check_modulus(&config, q)?;
        let slot32 = slot as u32;
        // Empty the slot first: jobs on it are refused until the commit.
        self.bus
            .write(map::MOD_SLOT, &[slot32, 0, 0, 1])
            .map_err(Error::Bus)?;
        let n = config.max_n();
        let mut buf = [0u32; CHUNK];
        for direction in 0..2 {
            let entry = |k: usize| {
                if direction == 0 {
                    load.twiddles.forward(k)
                } else {
                    load.twiddles.inverse_half(k)
                }
            };
            let region = 2 * slot + direction;
            for start in (0..n).step_by(CHUNK) {
                let len = CHUNK.min(n - start);
                for (i, w) in buf[..len].iter_mut().enumerate() {
                    *w = entry(start + i);
                }
                let address = map::TWIDDLE | (region * n + start) as u32;
                self.bus.write(address, &buf[..len]).map_err(Error::Bus)?;
            }
            // The early-stage memory: stage s < log2 P, lane l holds entry
            // 2^s + (l mod 2^s) (`ola_spec::twiddle_image`).
            for s in 0..config.log_lanes() as usize {
                let lanes = config.lanes;
                for (lane, w) in buf[..lanes].iter_mut().enumerate() {
                    *w = entry((1 << s) + (lane % (1 << s)));
                }
                let address = map::TWIDDLE_EARLY | ((region * 4 + s) * lanes) as u32;
                self.bus.write(address, &buf[..lanes]).map_err(Error::Bus)?;
            }
        }
        let m = load.modulus.barrett_m() as u32;
        self.bus
            .write(map::MOD_SLOT, &[slot32, q, m, 1])
            .map_err(Error::Bus)?;
        let back = self.read1(map::MOD_READBACK)?;
        self.check_errors()?;
        if back != q {
            return Err(Error::Fault { detail: back });
        }
        log_debug!("slot {=u32} loaded with {=u32}", slot32, q);
        Ok(())
    }

    /// The modulus in `slot` (0 when the slot is empty or invalid).
    pub fn slot_modulus(&mut self, slot: usize) -> Result<u32, Error<B::Error>> {
        let config = self.config()?;
        check_slot(&config, slot)?;
        self.write1(map::MOD_SLOT, slot as u32)?;
        self.read1(map::MOD_READBACK)
    }

    fn check_range(&mut self, address: u32, len: usize) -> Result<(), Error<B::Error>> {
        let config = self.config()?;
        if address as u64 + len as u64 > config.user_words() as u64 {
            return Err(Error::BufferOutOfRange { address });
        }
        Ok(())
    }

    /// Fails with [`Error::Refused`] (and clears the flags) when the
    /// accelerator has raised any error flag.
    pub fn check_errors(&mut self) -> Result<(), Error<B::Error>> {
        let flags = self.read1(map::ERRORS)?;
        if flags != 0 {
            self.write1(map::CONTROL, CONTROL_CLEAR)?;
            log_warn!("accelerator errors {=u32:x}", flags);
            return Err(Error::Refused { flags });
        }
        Ok(())
    }

    /// Writes `words` to the data memory from `address`.
    pub fn write_data(&mut self, address: u32, words: &[u32]) -> Result<(), Error<B::Error>> {
        self.check_range(address, words.len())?;
        self.bus
            .write(map::DATA | address, words)
            .map_err(Error::Bus)?;
        if self.options.verify_writes {
            for (k, chunk) in words.chunks(CHUNK).enumerate() {
                let at = address + (k * CHUNK) as u32;
                if !self.matches(at, chunk)? {
                    self.bus.write(map::DATA | at, chunk).map_err(Error::Bus)?;
                    if !self.matches(at, chunk)? {
                        self.check_errors()?;
                        return Err(Error::Fault { detail: at });
                    }
                }
            }
        }
        self.check_errors()
    }

    /// Whether the data memory holds `expected` from `address`.
    fn matches(&mut self, address: u32, expected: &[u32]) -> Result<bool, Error<B::Error>> {
        let mut buf = [0u32; CHUNK];
        let got = &mut buf[..expected.len()];
        self.bus
            .read(map::DATA | address, got)
            .map_err(Error::Bus)?;
        Ok(got == expected)
    }

    /// Reads the data memory from `address` into `words`.
    pub fn read_data(&mut self, address: u32, words: &mut [u32]) -> Result<(), Error<B::Error>> {
        self.check_range(address, words.len())?;
        self.bus
            .read(map::DATA | address, words)
            .map_err(Error::Bus)?;
        if self.options.verify_reads {
            for (k, chunk) in words.chunks_mut(CHUNK).enumerate() {
                let at = address + (k * CHUNK) as u32;
                if !self.matches(at, chunk)? {
                    // Disagreeing reads: a third decides, else give up.
                    self.bus.read(map::DATA | at, chunk).map_err(Error::Bus)?;
                    if !self.matches(at, chunk)? {
                        self.check_errors()?;
                        return Err(Error::Fault { detail: at });
                    }
                }
            }
        }
        self.check_errors()
    }

    /// Starts `job` and waits for it; returns its `JOB_CYCLES`.
    pub fn run_job(&mut self, job: &Job) -> Result<u32, Error<B::Error>> {
        let descriptor = [
            job.op as u32,
            job.log_n as u32,
            job.slot as u32,
            job.a,
            job.b,
            job.dst,
            job.constant,
        ];
        self.bus
            .write(map::DESC_OP, &descriptor)
            .map_err(Error::Bus)?;
        self.write1(map::CONTROL, CONTROL_CLEAR | CONTROL_START)?;
        for _ in 0..self.options.poll_limit {
            let mut regs = [0; 2];
            self.bus.read(map::STATUS, &mut regs).map_err(Error::Bus)?;
            let [status, flags] = regs;
            if status & STATUS_ERRORS != 0 {
                self.write1(map::CONTROL, CONTROL_CLEAR)?;
                return Err(Error::Refused { flags });
            }
            if status & STATUS_BUSY == 0 {
                if status & STATUS_DONE == 0 {
                    // Neither running, nor done, nor refused: the start
                    // never arrived.
                    return Err(Error::Fault { detail: status });
                }
                return self.read1(map::JOB_CYCLES);
            }
        }
        log_warn!("job timed out");
        Err(Error::Timeout)
    }

    /// Runs `jobs` in order, stopping at the first failure, which is
    /// returned with its index.
    pub fn run_batch(
        &mut self,
        jobs: impl IntoIterator<Item = Job>,
    ) -> Result<BatchDone, (u16, Error<B::Error>)> {
        let mut done = BatchDone { jobs: 0, cycles: 0 };
        for job in jobs {
            let cycles = self.run_job(&job).map_err(|e| (done.jobs, e))?;
            done.jobs += 1;
            done.cycles += cycles as u64;
        }
        Ok(done)
    }

    /// The counters and status registers (one burst: reading `CYCLES_LO`
    /// latches `CYCLES_HI`, read next).
    pub fn counters(&mut self) -> Result<DeviceCounters, Error<B::Error>> {
        let mut regs = [0; 5];
        self.bus.read(map::STATUS, &mut regs).map_err(Error::Bus)?;
        let [status, errors, lo, hi, job_cycles] = regs;
        Ok(DeviceCounters {
            cycles: (hi as u64) << 32 | lo as u64,
            job_cycles,
            status,
            errors,
        })
    }

    /// Waits (bounded) until no job runs, clears the error flags and the
    /// done bit, and identifies the device again.
    pub fn reset(&mut self) -> Result<(), Error<B::Error>> {
        let mut idle = false;
        for _ in 0..self.options.poll_limit {
            if self.read1(map::STATUS)? & STATUS_BUSY == 0 {
                idle = true;
                break;
            }
        }
        if !idle {
            return Err(Error::Timeout);
        }
        self.write1(map::CONTROL, CONTROL_CLEAR)?;
        self.identify().map(|_| ())
    }
}

fn check_slot<E>(config: &Config, slot: usize) -> Result<(), Error<E>> {
    if slot >= config.moduli {
        return Err(Error::SlotOutOfRange { slot });
    }
    Ok(())
}

/// A modulus the device accepts (exactly the word's bits, odd), prime,
/// with a `2·N_max`-th root of unity.
fn check_modulus<E>(config: &Config, q: u32) -> Result<SlotLoad, Error<E>> {
    let rejected = || Error::ModulusRejected { q };
    if !config.accepts_modulus(q) {
        return Err(rejected());
    }
    let modulus = Modulus::new(q as u64).map_err(|_| rejected())?;
    let twiddles = TwiddleGen::new(modulus, config.max_n()).ok_or_else(rejected)?;
    Ok(SlotLoad { modulus, twiddles })
}

/// The configuration encoded in `CONFIG` (lanes 7:0, log2 N_max 15:8, word
/// bits 23:16, slots 31:24) and `USER_WORDS`, if this firmware supports it.
pub fn decode_config(raw: u32, user_words: u32) -> Option<Config> {
    let lanes = (raw & 0xFF) as usize;
    let log_max_n = (raw >> 8) & 0xFF;
    let word_bits = (raw >> 16) & 0xFF;
    let moduli = (raw >> 24) as usize;
    let supported = matches!(lanes, 1 | 2 | 4 | 8)
        && log_max_n <= MAX_TWIDDLE_LOG_N
        && (4..=30).contains(&word_bits)
        && (1..=MAX_SLOTS).contains(&moduli);
    if !supported {
        return None;
    }
    let probe = Config::new("device", lanes, log_max_n, word_bits, moduli, 1);
    if log_max_n < probe.min_log_n() {
        return None;
    }
    let max_n = probe.max_n() as u32;
    let buffers = (user_words / max_n).checked_add(2)?;
    if !user_words.is_multiple_of(max_n) || !buffers.is_power_of_two() || buffers < 4 {
        return None;
    }
    Some(Config::new(
        "device",
        lanes,
        log_max_n,
        word_bits,
        moduli,
        buffers.trailing_zeros(),
    ))
}
