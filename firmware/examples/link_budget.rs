//! What each firmware operation costs on the reference SPI link: the
//! firmware (server, driver, `SpiBus`) against the simulator's cycle-exact
//! link model, `p8` at the default controller timing (125 MHz accelerator,
//! SCK = 1/8 of it). Prints SPI transactions and accelerator cycles per
//! request, with and without read-back verification of writes.
//!
//! `cargo run --release -p ola-firmware --example link_budget`

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Host, primes, residues};
use ola_firmware::{DriverOptions, Server, SpiBus};
use ola_protocol::{Job, Moduli, Request, Response, Words};
use ola_sim::{Device, SpiLink};
use ola_spec::JobOp;
use ola_spec::config::Config;
use ola_spec::link::ControllerTiming;

fn main() {
    let config = Config::named("p8").expect("named configuration");
    for verify_writes in [true, false] {
        println!("\np8, verify_writes = {verify_writes}");
        println!("| request | SPI transactions | link cycles | µs at 125 MHz |");
        println!("|---|---|---|---|");
        let link = SpiLink::new(Device::new(config), ControllerTiming::DEFAULT).expect("timing");
        let options = DriverOptions {
            verify_writes,
            ..DriverOptions::default()
        };
        let mut host = Host::new(Server::with_options(SpiBus::new(link), options));
        let q = primes(30, 12, 1)[0];
        let data = residues(1024, q, 1);
        let steps: Vec<(&str, Request)> = vec![
            (
                "LoadModuli (1 slot)",
                Request::LoadModuli {
                    first_slot: 0,
                    moduli: Moduli::new(&[q]).expect("one modulus"),
                },
            ),
            (
                "WriteBuffer (1024 words)",
                Request::WriteBuffer {
                    address: 0,
                    words: Words::new(&data),
                },
            ),
            (
                "ReadBuffer (1024 words)",
                Request::ReadBuffer {
                    address: 0,
                    count: 1024,
                },
            ),
            (
                "RunJob (NTT, N = 4096)",
                Request::RunJob(Job::new(JobOp::Ntt, 12, 0, 0, 4096)),
            ),
            ("ReadCounters", Request::ReadCounters),
        ];
        for (name, request) in steps {
            let before = host.server.driver_mut().bus_mut().device_mut().stats();
            let start = host.server.driver_mut().bus_mut().device_mut().elapsed();
            let reply = host.call(&request);
            assert!(!matches!(reply.response, Response::Error(_)), "{reply:?}");
            let link = host.server.driver_mut().bus_mut().device_mut();
            let after = link.stats();
            let cycles = link.elapsed() - start;
            println!(
                "| {name} | {} | {} | {:.1} |",
                after.transactions - before.transactions,
                cycles,
                cycles as f64 / 125.0
            );
        }
    }
}
