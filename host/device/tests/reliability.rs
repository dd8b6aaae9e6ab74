//! Reliability: damaged, dropped, duplicated and truncated frames in both
//! directions, a device that stops answering, a device that restarts in
//! the middle of a job. The host must either finish the work with results
//! bit-exact against the golden model, or return a clear error — never
//! wrong data, never a hang.

mod common;

use std::time::Duration;

use common::*;
use ola_device::fault::{FaultCounts, FaultRates, FaultyTransport};
use ola_device::{Device, DeviceConfig, Error};

/// Short timeouts: a lost frame costs one timeout, and these tests lose
/// dozens. A slow machine only causes extra (safe) retries.
fn fault_config() -> DeviceConfig {
    DeviceConfig {
        timeout: Duration::from_millis(100),
        retries: 10,
        max_restarts: 3,
    }
}

/// Runs `jobs` forward NTTs of random data through `dev`, each as verified
/// work; checks every result and returns how many succeeded.
fn run_ntt_work(dev: &mut Device, seed: u64, jobs: usize) -> usize {
    let qs = moduli(2);
    let mut rng = rng(seed);
    let mut ok = 0;
    for i in 0..jobs {
        let slot = i % 2;
        let log_n = [8, 10, 12][i % 3];
        let input = random_poly(&mut rng, qs[slot], 1 << log_n);
        let buffer = (i % 4) as u32;
        match dev.run_verified(|d| device_ntt(d, slot as u8, buffer, &input)) {
            Ok(out) => {
                assert_eq!(out, golden_ntt(qs[slot], &input), "job {i}: wrong data");
                ok += 1;
            }
            // A clear error is allowed; wrong data and panics are not.
            Err(e @ (Error::Timeout { .. } | Error::DeviceReset(_))) => eprintln!("job {i}: {e}"),
            Err(e) => panic!("job {i}: unexpected error {e}"),
        }
    }
    ok
}

#[test]
fn damaged_links_give_right_results_or_clear_errors() {
    let rates = FaultRates {
        corrupt: 0.04,
        drop: 0.02,
        duplicate: 0.03,
        truncate: 0.03,
    };
    let mut all = FaultCounts::default();
    for (link, seed, jobs) in [(Link::Channel, 11, 24), (Link::Pty, 12, 8)] {
        let (transport, board) = board(link);
        let faulty = FaultyTransport::new(transport, rates, seed);
        let faults = faulty.counts();
        let mut dev = Device::new(faulty, fault_config()).with_clock(board.clock());
        // Loading moduli is itself a request that may be damaged.
        dev.run_verified(|d| d.load_moduli(0, &moduli(2))).unwrap();
        let ok = run_ntt_work(&mut dev, seed, jobs);
        let faults = *faults.lock().unwrap();
        let stats = dev.stats();
        eprintln!("{link:?}: {ok}/{jobs} jobs, {faults:?}, {stats:?}");
        assert!(
            faults.total() > 0 && stats.retries > 0,
            "{link:?}: {faults:?} {stats:?}"
        );
        // Ten retries a request: failures should be rare.
        assert!(
            ok * 10 >= jobs * 9,
            "{link:?}: {ok} of {jobs} jobs succeeded"
        );
        all.corrupted += faults.corrupted;
        all.dropped += faults.dropped;
        all.duplicated += faults.duplicated;
        all.truncated += faults.truncated;
    }
    // Every kind of fault happened (the counts are seeded, ~10+ each).
    assert!(all.corrupted > 0 && all.dropped > 0, "{all:?}");
    assert!(all.duplicated > 0 && all.truncated > 0, "{all:?}");
}

#[test]
fn a_silent_device_times_out_and_recovers() {
    let (transport, board) = board(Link::Channel);
    let config = DeviceConfig {
        timeout: Duration::from_millis(50),
        retries: 2,
        max_restarts: 1,
    };
    let mut dev = Device::new(transport, config);
    dev.ping().unwrap();
    board.set_mute(true);
    let err = dev.ping().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                request: "Ping",
                attempts: 3
            }
        ),
        "{err}"
    );
    let err = dev.run_verified(|d| d.read_buffer_new(0, 16)).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(dev.stats().resets_detected, 0, "silence is not a restart");
    board.set_mute(false);
    dev.ping().unwrap();
    dev.load_moduli(0, &moduli(1)).unwrap();
    let input = random_poly(&mut rng(5), moduli(1)[0], 256);
    let out = dev.run_verified(|d| device_ntt(d, 0, 0, &input)).unwrap();
    assert_eq!(out, golden_ntt(moduli(1)[0], &input));
}

#[test]
fn a_vanished_device_is_an_io_error() {
    let (transport, board) = board(Link::Channel);
    let mut dev = Device::new(transport, fault_config());
    dev.ping().unwrap();
    drop(board);
    let err = dev.ping().unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err}");
}

#[test]
fn a_reset_in_the_middle_of_a_job_is_detected_and_the_work_redone() {
    let qs = moduli(2);
    let mut rng = rng(21);
    for link in [Link::Channel, Link::Pty] {
        let (transport, board) = board(link);
        let mut dev = Device::new(transport, fault_config());
        dev.load_moduli(0, &qs).unwrap();
        // One piece of work is ~8 requests (verification included): a
        // restart after each of them in turn.
        for after in 1..=9 {
            let input = random_poly(&mut rng, qs[1], 4096);
            let resets = board.resets();
            board.reset_after(after);
            let out = dev.run_verified(|d| device_ntt(d, 1, 2, &input)).unwrap();
            assert_eq!(
                out,
                golden_ntt(qs[1], &input),
                "{link:?} reset after {after}"
            );
            board.reset_after(0);
            assert!(board.resets() <= resets + 1);
        }
        assert!(
            board.resets() >= 5,
            "{link:?}: the board restarted {} times",
            board.resets()
        );
        // Each restart is caught by the check after the work, except one
        // that hits the first work's initial check (which reloads moduli
        // anyway).
        let detected = dev.stats().resets_detected;
        assert!(
            detected <= board.resets() && detected + 1 >= board.resets(),
            "{link:?}: {detected} restarts detected of {}",
            board.resets()
        );
    }
}

#[test]
fn a_device_that_keeps_restarting_is_a_clear_error() {
    let (transport, board) = board(Link::Channel);
    let config = DeviceConfig {
        max_restarts: 0,
        ..fault_config()
    };
    let mut dev = Device::new(transport, config);
    let q = moduli(1)[0];
    dev.load_moduli(0, &[q]).unwrap();
    let input = random_poly(&mut rng(8), q, 1024);
    // Restart right after the job ran: its result is lost with the device.
    dev.run_verified(|d| d.ping()).unwrap();
    board.reset_after(2);
    let err = dev
        .run_verified(|d| device_ntt(d, 0, 0, &input))
        .unwrap_err();
    assert!(matches!(err, Error::DeviceReset(_)), "{err}");
    assert_eq!(board.resets(), 1);
    // With restarts allowed, the same work completes on the new device.
    dev.set_config(fault_config());
    let out = dev.run_verified(|d| device_ntt(d, 0, 0, &input)).unwrap();
    assert_eq!(out, golden_ntt(q, &input));
}
