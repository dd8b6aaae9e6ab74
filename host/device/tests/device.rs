//! The device API against a simulated board running the real firmware:
//! results bit-exact against the golden model, typed errors, and the
//! simulated clock charging the board's link rates.

mod common;

use common::*;
use ola_device::sim::{SimBoard, SimBoardConfig};
use ola_device::{Device, Error, ErrorCode, Job, SerialTransport};
use ola_spec::JobOp;
use ola_spec::link::{ControllerTiming, transaction_bits};

#[test]
fn info_describes_the_reference_accelerator() {
    let (mut dev, _board) = device(Link::Channel);
    dev.ping().unwrap();
    let info = dev.info().unwrap();
    assert_eq!((info.lanes, info.log_max_n, info.word_bits), (8, 12, 30));
    assert_eq!(info.moduli.as_slice(), &[0, 0, 0, 0], "slots start empty");
    dev.load_moduli(1, &moduli(2)).unwrap();
    let info = dev.info().unwrap();
    assert_eq!(info.moduli.as_slice()[1..3], moduli(2)[..]);
}

#[test]
fn ntt_and_vector_jobs_match_the_golden_model_over_both_links() {
    for link in [Link::Channel, Link::Pty] {
        let (mut dev, _board) = device(link);
        let qs = moduli(2);
        dev.load_moduli(0, &qs).unwrap();
        let mut rng = rng(7);
        for (slot, &q) in qs.iter().enumerate() {
            for log_n in [4, 10, 12] {
                let input = random_poly(&mut rng, q, 1 << log_n);
                let out = device_ntt(&mut dev, slot as u8, 1, &input).unwrap();
                assert_eq!(
                    out,
                    golden_ntt(q, &input),
                    "{link:?} slot {slot} log_n {log_n}"
                );
            }
        }
        // A batch: c = a·b element-wise, then its inverse NTT.
        let (q, n) = (qs[0], 1024usize);
        let a = random_poly(&mut rng, q, n);
        let b = random_poly(&mut rng, q, n);
        dev.write_buffer(0, &a).unwrap();
        dev.write_buffer(n as u32, &b).unwrap();
        let c = 2 * n as u32;
        let jobs = [
            Job::new(JobOp::Mul, 10, 0, 0, c).with_b(n as u32),
            Job::new(JobOp::Intt, 10, 0, c, c),
        ];
        dev.run_batch(&jobs).unwrap();
        let m = ola_arith::Modulus::new(q as u64).unwrap();
        let mut want: Vec<u32> = a.iter().zip(&b).map(|(&x, &y)| m.mul(x, y)).collect();
        ola_arith::NttPlan::new(n, m).unwrap().inv(&mut want);
        assert_eq!(dev.read_buffer_new(c, n).unwrap(), want, "{link:?} batch");
    }
}

#[test]
fn refusals_are_typed_device_errors() {
    let (mut dev, _board) = device(Link::Channel);
    dev.load_moduli(0, &moduli(1)).unwrap();
    // Not N-aligned.
    let err = dev.run_job(Job::new(JobOp::Ntt, 10, 0, 3, 3)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Device {
                code: ErrorCode::Misaligned,
                ..
            }
        ),
        "{err}"
    );
    // An empty slot.
    let err = dev.run_job(Job::new(JobOp::Ntt, 10, 2, 0, 0)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Device {
                code: ErrorCode::BadModulus,
                ..
            }
        ),
        "{err}"
    );
    // Not a prime.
    let err = dev.load_moduli(1, &[(1 << 29) + 1]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Device {
                code: ErrorCode::ModulusRejected,
                ..
            }
        ),
        "{err}"
    );
    // The second job of a batch fails: the error names it.
    let jobs = [
        Job::new(JobOp::Ntt, 10, 0, 0, 0),
        Job::new(JobOp::Ntt, 10, 0, 5, 5),
    ];
    let err = dev.run_batch(&jobs).unwrap_err();
    assert!(matches!(err, Error::Device { job: Some(1), .. }), "{err}");
    // Too many moduli for one request: refused before anything is sent.
    let sent = dev.stats().requests;
    assert!(matches!(
        dev.load_moduli(0, &[3; 9]),
        Err(Error::Invalid(_))
    ));
    assert_eq!(dev.stats().requests, sent);
    // And the device still works.
    dev.ping().unwrap();
}

#[test]
fn simulated_time_charges_the_link_rates() {
    let (mut dev, board) = device(Link::Channel);
    let before = board.clock().now();
    let host_before = dev.stats();
    let words = random_poly(&mut rng(3), 1 << 20, 1024);
    dev.write_buffer(0, &words).unwrap();
    let spent = board.clock().now().since(&before);
    // Every byte the host sent or received crossed the board's UART.
    assert_eq!(
        spent.link_bytes,
        dev.stats().link_bytes - host_before.link_bytes
    );
    assert!(spent.link_bytes > 4096, "a 4 KiB chunk and its reply");
    assert_eq!(
        spent.link_seconds(),
        spent.link_bytes as f64 * 10.0 / 3_000_000.0
    );
    // The firmware writes the chunk in bursts of its SpiBus, then reads it
    // back to verify: at least the bursts' exact SPI cycles.
    let timing = ControllerTiming::DEFAULT;
    let bursts = 1024 / ola_firmware::spi_bus::CHUNK_WORDS;
    let chunk = ola_firmware::spi_bus::CHUNK_WORDS;
    let write = timing.transaction_cycles(transaction_bits(false, chunk));
    let read = timing.transaction_cycles(transaction_bits(true, chunk));
    assert!(
        spent.spi_cycles >= bursts as u64 * (write + read),
        "{spent:?}"
    );
    // The accelerator's clock ran through the link time too.
    let link_cycles = spent.link_bytes * 10 * ola_device::sim::ACCEL_HZ / 3_000_000;
    assert!(
        spent.accel_cycles >= spent.spi_cycles + link_cycles - 1,
        "{spent:?}"
    );
}

#[test]
fn a_board_opened_by_path_works_like_a_serial_port() {
    let (path, board) = SimBoard::pty_path(SimBoardConfig::default()).unwrap();
    let transport = SerialTransport::open(&path, ola_device::sim::DEFAULT_BAUD).unwrap();
    let mut dev = Device::new(transport, test_config()).with_clock(board.clock());
    let q = moduli(1)[0];
    dev.load_moduli(0, &[q]).unwrap();
    let input = random_poly(&mut rng(9), q, 2048);
    assert_eq!(
        device_ntt(&mut dev, 0, 1, &input).unwrap(),
        golden_ntt(q, &input)
    );
    // A port that does not exist is a clear I/O error.
    let err = SerialTransport::open("/dev/ola-no-such-port", 115_200)
        .err()
        .unwrap();
    assert!(!err.to_string().is_empty());
}

#[test]
fn measure_separates_compute_spi_and_link_time() {
    let (mut dev, _board) = device(Link::Channel);
    let q = moduli(1)[0];
    dev.load_moduli(0, &[q]).unwrap();
    let config = ola_spec::config::Config::named("p8").unwrap();
    for log_n in [8u32, 12] {
        let input = random_poly(&mut rng(log_n as u64), q, 1 << log_n);
        let (out, cost) = dev.measure(|d| device_ntt(d, 0, 0, &input)).unwrap();
        assert_eq!(out, golden_ntt(q, &input));
        // Compute: exactly the accelerator's cycle formula.
        assert_eq!(cost.job_cycles, config.ntt_cycles(log_n) as u64);
        let sim = cost.sim.expect("a simulated board reports its time");
        assert_eq!(sim.link_bytes, cost.link_bytes);
        // Data in (written and read back) and out: ~261 cycles a word.
        let words = 3 << log_n;
        assert!(
            sim.spi_cycles > 256 * words && sim.spi_cycles < 300 * words,
            "{sim:?}"
        );
        assert!(
            sim.accel_cycles >= sim.spi_cycles + cost.job_cycles,
            "{sim:?}"
        );
    }
}
