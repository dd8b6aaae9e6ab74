//! The driver's bus traffic, word for word: a modulus load writes exactly
//! `ola_spec::twiddle_image` (computed from `NttPlan`'s tables), invalid
//! slot first and the modulus committed last.

mod common;

use std::convert::Infallible;

use common::{SimBus, primes};
use ola_arith::{Modulus, NttPlan};
use ola_firmware::{Driver, DriverOptions, Error};
use ola_spec::config::Config;
use ola_spec::link::WordBus;
use ola_spec::{map, twiddle_image};

/// Passes accesses to the simulator and records every written word.
struct Recording {
    inner: SimBus,
    writes: Vec<(u32, u32)>,
}

impl WordBus for Recording {
    type Error = Infallible;
    fn write(&mut self, address: u32, words: &[u32]) -> Result<(), Infallible> {
        for (i, &w) in words.iter().enumerate() {
            self.writes.push((address + i as u32, w));
        }
        self.inner.write(address, words)
    }
    fn read(&mut self, address: u32, words: &mut [u32]) -> Result<(), Infallible> {
        self.inner.read(address, words)
    }
}

#[test]
fn modulus_load_writes_exactly_the_twiddle_image() {
    for name in ["p1", "p8", "tiny"] {
        let config = Config::named(name).unwrap();
        let q = primes(config.word_bits, config.log_max_n, 3)[2];
        let slot = config.moduli - 1;
        let mut driver = Driver::new(
            Recording {
                inner: SimBus::new(config),
                writes: Vec::new(),
            },
            DriverOptions::default(),
        );
        driver.load_modulus(slot, q).unwrap();
        let writes = &driver.bus_mut().writes;
        let modulus = Modulus::new(q as u64).unwrap();
        let m = modulus.barrett_m() as u32;
        let s = slot as u32;
        // Slot emptied first, committed last.
        let head = [
            (map::MOD_SLOT, s),
            (map::MOD_Q, 0),
            (map::MOD_M, 0),
            (map::MOD_COMMIT, 1),
        ];
        let tail = [
            (map::MOD_SLOT, s),
            (map::MOD_Q, q),
            (map::MOD_M, m),
            (map::MOD_COMMIT, 1),
        ];
        assert_eq!(&writes[..4], &head);
        assert_eq!(&writes[writes.len() - 4..], &tail);
        let mut got: Vec<(u32, u32)> = writes[4..writes.len() - 4].to_vec();
        let plan = NttPlan::new(config.max_n(), modulus).unwrap();
        let mut expect: Vec<(u32, u32)> = twiddle_image(&config, s, &plan)
            .into_iter()
            .map(|(address, value, early)| {
                let region = if early {
                    map::TWIDDLE_EARLY
                } else {
                    map::TWIDDLE
                };
                (region | address, value)
            })
            .collect();
        got.sort_unstable();
        expect.sort_unstable();
        assert_eq!(got, expect, "{name}");
        assert_eq!(driver.slot_modulus(slot).unwrap(), q);
    }
}

#[test]
fn moduli_are_checked_before_anything_is_written() {
    let config = Config::named("p4").unwrap();
    let good = primes(30, 12, 1)[0];
    let mut driver = Driver::new(
        Recording {
            inner: SimBus::new(config),
            writes: Vec::new(),
        },
        DriverOptions::default(),
    );
    // A 30-bit prime that is 1 mod 2^6 but not 1 mod 2·4096.
    let shallow = primes(30, 5, 300)
        .into_iter()
        .find(|q| q % 8192 != 1)
        .unwrap();
    for (first, moduli, error) in [
        (
            0,
            vec![good, shallow],
            Error::ModulusRejected { q: shallow },
        ),
        (
            0,
            vec![good, good + 2],
            Error::ModulusRejected { q: good + 2 },
        ),
        (
            0,
            vec![good, 1 << 29],
            Error::ModulusRejected { q: 1 << 29 },
        ),
        (3, vec![good, good], Error::SlotOutOfRange { slot: 4 }),
    ] {
        assert_eq!(driver.load_moduli(first, &moduli), Err(error));
    }
    assert!(driver.bus_mut().writes.is_empty());
}
