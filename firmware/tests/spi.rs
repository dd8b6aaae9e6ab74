//! `SpiBus` on the wire: the exact bytes of each transaction (a recording
//! SPI device), and the whole firmware over the simulator's cycle-exact
//! model of the SPI link and the RTL bridge (`ola_sim::SpiLink`).

mod common;

use std::convert::Infallible;

use common::{Host, primes, residues};
use embedded_hal::spi::{ErrorType, Operation, SpiDevice};
use ola_arith::{Modulus, NttPlan};
use ola_firmware::spi_bus::CHUNK_WORDS;
use ola_firmware::{Driver, DriverOptions, Server, SpiBus};
use ola_protocol::{Job, Moduli, Request, Response};
use ola_sim::{Device, SpiLink};
use ola_spec::JobOp;
use ola_spec::config::Config;
use ola_spec::link::{ControllerTiming, WordBus};

/// Records every transaction's operations; reads return `fill`.
#[derive(Default)]
struct Recorder {
    transactions: Vec<Vec<(bool, Vec<u8>)>>,
    fill: u8,
}

impl ErrorType for Recorder {
    type Error = Infallible;
}

impl SpiDevice<u8> for Recorder {
    fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
        let mut record = Vec::new();
        for op in operations {
            match op {
                Operation::Write(bytes) => record.push((true, bytes.to_vec())),
                Operation::Read(bytes) => {
                    bytes.fill(self.fill);
                    record.push((false, vec![0; bytes.len()]));
                }
                _ => panic!("SpiBus uses only writes and reads"),
            }
        }
        self.transactions.push(record);
        Ok(())
    }
}

#[test]
fn transactions_follow_the_wire_format() {
    let mut bus = SpiBus::new(Recorder {
        fill: 0xA5,
        ..Default::default()
    });
    bus.write(0x1000_0010, &[0x0102_0304, 0xFFEE_DDCC]).unwrap();
    let mut two = [0; 2];
    bus.read(0x0000_0004, &mut two).unwrap();
    assert_eq!(two, [0xA5A5_A5A5; 2]);
    let t = &bus.device_mut().transactions;
    assert_eq!(t.len(), 2);
    assert_eq!(
        t[0],
        vec![(
            true,
            vec![
                0, 0, 0, 2, 0x10, 0, 0, 0x10, 1, 2, 3, 4, 0xFF, 0xEE, 0xDD, 0xCC
            ]
        )]
    );
    // Read: command with bit 31, address, one zero wait byte, then data.
    assert_eq!(
        t[1],
        vec![
            (true, vec![0x80, 0, 0, 2, 0, 0, 0, 4, 0]),
            (false, vec![0; 8])
        ]
    );
    // Long bursts split into transactions of CHUNK_WORDS at consecutive
    // addresses; an empty access is no transaction.
    let mut bus = SpiBus::new(Recorder::default());
    let words: Vec<u32> = (0..2 * CHUNK_WORDS as u32 + 3).collect();
    bus.write(0x1000_0000, &words).unwrap();
    bus.write(0x1000_0000, &[]).unwrap();
    let mut back = vec![0; CHUNK_WORDS + 1];
    bus.read(0x1000_0100, &mut back).unwrap();
    let t = &bus.device_mut().transactions;
    assert_eq!(t.len(), 5);
    let header = |tr: &Vec<(bool, Vec<u8>)>| {
        let b = &tr[0].1;
        (
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        )
    };
    let c = CHUNK_WORDS as u32;
    assert_eq!(header(&t[0]), (c, 0x1000_0000));
    assert_eq!(header(&t[1]), (c, 0x1000_0000 + c));
    assert_eq!(header(&t[2]), (3, 0x1000_0000 + 2 * c));
    assert_eq!(header(&t[3]), (1 << 31 | c, 0x1000_0100));
    assert_eq!(header(&t[4]), (1 << 31 | 1, 0x1000_0100 + c));
    let last = &t[2][0].1;
    assert_eq!(&last[8..], &[0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 2]);
}

fn link(config: &str) -> SpiLink {
    SpiLink::new(
        Device::new(Config::named(config).unwrap()),
        ControllerTiming::DEFAULT,
    )
    .unwrap()
}

#[test]
fn spi_bus_makes_the_same_accesses_as_the_links_own_bus() {
    // The same bursts through SpiBus (bytes on the SpiDevice interface)
    // and through the link model's WordBus give identical bus accesses on
    // identical cycles and identical read data.
    let mut direct = link("p2");
    let mut via = SpiBus::new(link("p2"));
    direct.record(true);
    via.device_mut().record(true);
    let words: Vec<u32> = (0..100).map(|i| i * 7919).collect();
    for bus in [
        &mut direct as &mut dyn WordBus<Error = Infallible>,
        &mut via,
    ] {
        bus.write(0x1000_0040, &words).unwrap();
        let mut back = vec![0; 100];
        bus.read(0x1000_0040, &mut back).unwrap();
        assert_eq!(back, words);
        let mut regs = [0; 3];
        bus.read(0, &mut regs).unwrap();
        assert_eq!(regs[0], ola_spec::map::ID_VALUE);
    }
    let via = via.device_mut();
    assert_eq!(direct.take_accesses(), via.take_accesses());
    assert_eq!(direct.stats(), via.stats());
}

#[test]
fn firmware_over_the_spi_link_computes_the_golden_ntt() {
    let config = Config::named("p8").unwrap();
    let mut host = Host::new(Server::new(SpiBus::new(link("p8"))));
    let q = primes(30, 12, 1)[0];
    let reply = host.call(&Request::LoadModuli {
        first_slot: 2,
        moduli: Moduli::new(&[q]).unwrap(),
    });
    assert_eq!(reply.response, Response::Done);
    let n = config.max_n();
    let a = residues(n, q, 11);
    host.write(4096, &a);
    let reply = host.call(&Request::RunJob(Job::new(JobOp::Ntt, 12, 2, 4096, 0)));
    assert_eq!(
        reply.response,
        Response::JobDone {
            cycles: config.ntt_cycles(12) as u32
        }
    );
    let plan = NttPlan::new(n, Modulus::new(q as u64).unwrap()).unwrap();
    let mut expect = a;
    plan.fwd(&mut expect);
    assert_eq!(host.read(0, n), expect);
}

#[test]
fn driver_over_the_spi_link_identifies_and_checks() {
    let mut driver = Driver::new(SpiBus::new(link("tiny")), DriverOptions::default());
    let config = driver.identify().unwrap();
    assert_eq!(
        config.user_words(),
        Config::named("tiny").unwrap().user_words()
    );
    let q = primes(18, 8, 1)[0];
    driver.load_modulus(1, q).unwrap();
    assert_eq!(driver.slot_modulus(1).unwrap(), q);
    assert_eq!(driver.slot_modulus(0).unwrap(), 0);
    let data = residues(256, q, 1);
    driver.write_data(0, &data).unwrap();
    let mut back = vec![0; 256];
    driver.read_data(0, &mut back).unwrap();
    assert_eq!(back, data);
}
