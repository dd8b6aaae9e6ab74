//! Shared pieces of the cross-crate tests and tools: bus stimulus helpers.
//! (The tests themselves live in `tests/`.)

pub mod speed;

use ola_arith::{Modulus, NttPlan};
use ola_spec::config::Config;
use ola_spec::{BusInputs, map, twiddle_image};

/// A bus write.
pub fn write(address: u32, write_data: u32) -> BusInputs {
    BusInputs {
        address,
        write_data,
        write: true,
        read: false,
    }
}

/// A bus read.
pub fn read(address: u32) -> BusInputs {
    BusInputs {
        address,
        read: true,
        ..Default::default()
    }
}

/// The bus writes that load `modulus` into `slot` with the Barrett
/// constant `barrett` (normally `modulus.barrett_m()`), then its twiddle
/// tables, each passed through `corrupt(value)` (identity for a clean load).
pub fn load_slot_writes(
    config: &Config,
    slot: u32,
    modulus: &Modulus,
    barrett: u32,
    mut corrupt: impl FnMut(u32) -> u32,
) -> Vec<BusInputs> {
    let mut out = vec![
        write(map::MOD_SLOT, slot),
        write(map::MOD_Q, modulus.value()),
        write(map::MOD_M, barrett),
        write(map::MOD_COMMIT, 1),
    ];
    let plan = NttPlan::new(config.max_n(), *modulus).expect("an NTT-friendly modulus");
    for (address, value, early) in twiddle_image(config, slot, &plan) {
        let region = if early {
            map::TWIDDLE_EARLY
        } else {
            map::TWIDDLE
        };
        out.push(write(region | address, corrupt(value)));
    }
    out
}

/// The twiddle image of `slot` (for `plan`, of size `N_max`) as bursts of
/// consecutive bus addresses of at most `max_burst` words: `(bus address,
/// words)`.
pub fn twiddle_bursts(
    config: &Config,
    slot: u32,
    plan: &NttPlan,
    max_burst: usize,
) -> Vec<(u32, Vec<u32>)> {
    let mut out: Vec<(u32, Vec<u32>)> = Vec::new();
    for (address, value, early) in twiddle_image(config, slot, plan) {
        let region = if early {
            map::TWIDDLE_EARLY
        } else {
            map::TWIDDLE
        };
        let address = region | address;
        match out.last_mut() {
            Some((start, words))
                if *start + words.len() as u32 == address && words.len() < max_burst =>
            {
                words.push(value)
            }
            _ => out.push((address, vec![value])),
        }
    }
    out
}

/// Stimulus for the SPI link: transactions as pin steps, the pins they
/// drive cycle by cycle, and the outputs the simulator predicts.
pub mod link {
    use ola_hdl::spi_bridge::SpiPins;
    use ola_sim::JobRecord;
    use ola_sim::link::PinStep;
    use ola_spec::link::{ControllerTiming, READ_WAIT_BITS, command};

    /// The 32 bits of a word, most significant first.
    pub fn word_steps(word: u32) -> impl Iterator<Item = PinStep> {
        (0..32).rev().map(move |i| PinStep::Bit(word >> i & 1 != 0))
    }

    /// A write transaction of `words` from `address`.
    pub fn write_steps(address: u32, words: &[u32]) -> Vec<PinStep> {
        word_steps(command(false, words.len() as u16))
            .chain(word_steps(address))
            .chain(words.iter().flat_map(|&w| word_steps(w)))
            .collect()
    }

    /// A read transaction of `count` words from `address` (MOSI low after
    /// the address).
    pub fn read_steps(address: u32, count: u16) -> Vec<PinStep> {
        word_steps(command(true, count))
            .chain(word_steps(address))
            .chain(std::iter::repeat_n(
                PinStep::Bit(false),
                READ_WAIT_BITS as usize + 32 * count as usize,
            ))
            .collect()
    }

    /// The read data in the MISO bits of a [`read_steps`] transaction.
    pub fn read_words(miso: &[bool]) -> Vec<u32> {
        miso[64 + READ_WAIT_BITS as usize..]
            .chunks_exact(32)
            .map(|bits| bits.iter().fold(0, |acc, &b| acc << 1 | b as u32))
            .collect()
    }

    /// The pins of one transaction, cycle by cycle from CS_N falling to the
    /// end of its high time, as [`ControllerTiming`] describes the
    /// controller: MOSI changes with SCK's falling edge, SCK is high in the
    /// second half of each bit, a delay keeps SCK low.
    pub fn transaction_pins(timing: &ControllerTiming, steps: &[PinStep]) -> Vec<SpiPins> {
        let ratio = timing.ratio as usize;
        let mut pins = Vec::new();
        let mut mosi = false;
        for step in steps {
            match *step {
                PinStep::Bit(bit) => {
                    mosi = bit;
                    for k in 0..ratio {
                        pins.push(SpiPins {
                            sck: k >= ratio / 2,
                            mosi,
                            cs_n: false,
                        });
                    }
                }
                PinStep::Delay(cycles) => {
                    for _ in 0..cycles {
                        pins.push(SpiPins {
                            sck: false,
                            mosi,
                            cs_n: false,
                        });
                    }
                }
            }
        }
        for _ in 0..ratio / 2 {
            pins.push(SpiPins {
                sck: false,
                mosi,
                cs_n: false,
            });
        }
        pins.extend(std::iter::repeat_n(
            SpiPins::default(),
            timing.cs_high_cycles as usize,
        ));
        pins
    }

    /// The outputs (`miso`, `busy`) the simulator predicts on each of
    /// `cycles` cycles, from its MISO changes and its job trace (`busy` is
    /// high from the cycle after a job's start to its done cycle).
    pub fn expected_outputs(
        cycles: usize,
        miso_changes: &[(u64, bool)],
        trace: &[JobRecord],
    ) -> Vec<[u64; 2]> {
        let mut out = vec![[0u64; 2]; cycles];
        let mut changes = miso_changes.iter().peekable();
        let mut miso = false;
        for (cycle, row) in out.iter_mut().enumerate() {
            while let Some(&&(at, value)) = changes.peek() {
                if at > cycle as u64 {
                    break;
                }
                miso = value;
                changes.next();
            }
            row[0] = miso as u64;
        }
        for job in trace {
            let end = job.end.unwrap_or(u64::MAX).min(cycles as u64);
            for row in out
                .iter_mut()
                .take(end as usize + 1)
                .skip(job.start as usize + 1)
            {
                row[1] = 1;
            }
        }
        out
    }
}
