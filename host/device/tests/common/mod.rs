//! Shared fixtures: simulated boards, random data, golden results.

#![allow(dead_code)]

use std::time::Duration;

use ola_arith::{Modulus, NttPlan, prime::ntt_primes};
use ola_device::sim::{SimBoard, SimBoardConfig};
use ola_device::{Device, DeviceConfig, Job, Transport};
use ola_spec::JobOp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How the host reaches the simulated board.
#[derive(Clone, Copy, Debug)]
pub enum Link {
    Channel,
    Pty,
}

/// Patient enough for a loaded 2-core machine, short enough that a lost
/// frame costs little.
pub fn test_config() -> DeviceConfig {
    DeviceConfig {
        timeout: Duration::from_millis(400),
        retries: 8,
        max_restarts: 3,
    }
}

/// A simulated reference board and its transport.
pub fn board(link: Link) -> (Box<dyn Transport>, SimBoard) {
    match link {
        Link::Channel => {
            let (t, b) = SimBoard::channel(SimBoardConfig::default()).expect("spawn board");
            (Box::new(t), b)
        }
        Link::Pty => {
            let (t, b) = SimBoard::pty(SimBoardConfig::default()).expect("open pty pair");
            (Box::new(t), b)
        }
    }
}

/// A device on a fresh simulated board.
pub fn device(link: Link) -> (Device, SimBoard) {
    let (transport, board) = board(link);
    let device = Device::new(transport, test_config()).with_clock(board.clock());
    (device, board)
}

/// The first `count` moduli the `p8` accelerator accepts (30 bits,
/// `1 mod 2·4096`).
pub fn moduli(count: usize) -> Vec<u32> {
    ntt_primes(30, 12).take(count).map(|q| q as u32).collect()
}

/// `n` random residues mod `q`.
pub fn random_poly(rng: &mut ChaCha8Rng, q: u32, n: usize) -> Vec<u32> {
    (0..n).map(|_| rng.random_range(0..q)).collect()
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// The golden forward NTT.
pub fn golden_ntt(q: u32, input: &[u32]) -> Vec<u32> {
    let plan = NttPlan::new(input.len(), Modulus::new(q as u64).unwrap()).unwrap();
    let mut out = input.to_vec();
    plan.fwd(&mut out);
    out
}

/// Forward NTT of `input` in slot `slot` on the device, in place at
/// buffer `buffer` (`N`-aligned), as one self-contained piece of work.
pub fn device_ntt(
    dev: &mut Device,
    slot: u8,
    buffer: u32,
    input: &[u32],
) -> ola_device::Result<Vec<u32>> {
    let log_n = input.len().trailing_zeros() as u8;
    let address = buffer * input.len() as u32;
    dev.write_buffer(address, input)?;
    dev.run_job(Job::new(JobOp::Ntt, log_n, slot, address, address))?;
    dev.read_buffer_new(address, input.len())
}
