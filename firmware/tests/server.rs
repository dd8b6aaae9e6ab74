//! The command server end to end against the simulated accelerator: the
//! results equal ola-arith's, bad requests get the right codes and change
//! nothing, retries never execute a job twice, damaged frames are refused.

mod common;

use common::{Host, SimBus, primes, residues};
use ola_arith::reference::negacyclic_schoolbook;
use ola_arith::{Modulus, NttPlan};
use ola_firmware::{DriverOptions, Server};
use ola_protocol::*;
use ola_spec::JobOp;
use ola_spec::config::Config;

fn host(config: &str) -> Host<SimBus> {
    Host::new(Server::new(SimBus::new(Config::named(config).unwrap())))
}

fn error(reply: &common::Reply) -> (ErrorCode, u32, Option<u16>) {
    match reply.response {
        Response::Error(e) => (e.code, e.detail, e.job),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn load(host: &mut Host<SimBus>, first: u8, moduli: &[u32]) -> common::Reply {
    host.call(&Request::LoadModuli {
        first_slot: first,
        moduli: Moduli::new(moduli).unwrap(),
    })
}

fn info(host: &mut Host<SimBus>) -> DeviceInfo {
    match host.call(&Request::Info).response {
        Response::Info(info) => info,
        other => panic!("{other:?}"),
    }
}

#[test]
fn ntt_and_intt_equal_the_golden_model_on_every_configuration() {
    for config in ola_spec::config::CONFIGS {
        let mut host = host(config.name);
        let n = config.max_n();
        let log_n = config.log_max_n as u8;
        let qs = primes(config.word_bits, config.log_max_n, 2);
        assert_eq!(load(&mut host, 0, &qs).response, Response::Done);
        let info = info(&mut host);
        assert_eq!(
            (
                info.lanes as usize,
                info.log_max_n as u32,
                info.word_bits as u32
            ),
            (config.lanes, config.log_max_n, config.word_bits)
        );
        assert_eq!(info.user_words as usize, config.user_words());
        assert_eq!(&info.moduli.as_slice()[..2], &qs[..]);
        assert!(info.moduli.as_slice()[2..].iter().all(|&q| q == 0));
        assert_eq!(info.protocol_version, PROTOCOL_VERSION);

        for (slot, &q) in qs.iter().enumerate() {
            let modulus = Modulus::new(q as u64).unwrap();
            let plan = NttPlan::new(n, modulus).unwrap();
            let a = residues(n, q, slot as u64 + 5);
            host.write(0, &a);
            let job = Job::new(JobOp::Ntt, log_n, slot as u8, 0, n as u32);
            let reply = host.call(&Request::RunJob(job));
            assert_eq!(
                reply.response,
                Response::JobDone {
                    cycles: config.ntt_cycles(log_n as u32) as u32
                },
                "{}",
                config.name
            );
            let mut expect = a.clone();
            plan.fwd(&mut expect);
            assert_eq!(host.read(n as u32, n), expect, "{} NTT", config.name);
            let back = Job::new(JobOp::Intt, log_n, slot as u8, n as u32, n as u32);
            assert!(matches!(
                host.call(&Request::RunJob(back)).response,
                Response::JobDone { .. }
            ));
            assert_eq!(host.read(n as u32, n), a, "{} INTT", config.name);
        }
    }
}

#[test]
fn batch_computes_a_negacyclic_product() {
    let mut host = host("p8");
    let q = primes(30, 12, 1)[0];
    let m = Modulus::new(q as u64).unwrap();
    load(&mut host, 3, &[q]);
    let (log_n, n) = (8u8, 256u32);
    let a = residues(n as usize, q, 1);
    let b = residues(n as usize, q, 2);
    host.write(0, &a);
    host.write(n, &b);
    let jobs = [
        Job::new(JobOp::Ntt, log_n, 3, 0, 0),
        Job::new(JobOp::Ntt, log_n, 3, n, n),
        Job::new(JobOp::Mul, log_n, 3, 0, 2 * n).with_b(n),
        Job::new(JobOp::Intt, log_n, 3, 2 * n, 2 * n),
        Job::new(JobOp::MulConst, log_n, 3, 2 * n, 3 * n).with_constant(3),
    ];
    let reply = host.call(&Request::RunBatch(Jobs::new(&jobs)));
    let config = Config::named("p8").unwrap();
    let expect_cycles = 3 * config.ntt_cycles(8) + 2 * config.vector_cycles(8, 2)
        - config.vector_cycles(8, 2)
        + config.vector_cycles(8, 1);
    assert_eq!(
        reply.response,
        Response::BatchDone {
            jobs: 5,
            cycles: expect_cycles as u64
        }
    );
    let product = negacyclic_schoolbook(&m, &a, &b);
    assert_eq!(host.read(2 * n, n as usize), product);
    let tripled: Vec<u32> = product.iter().map(|&x| m.mul(x, 3)).collect();
    assert_eq!(host.read(3 * n, n as usize), tripled);
}

#[test]
fn batch_stops_at_the_first_failing_job() {
    let mut host = host("p8");
    let q = primes(30, 12, 1)[0];
    load(&mut host, 0, &[q]);
    let a = residues(256, q, 9);
    host.write(0, &a);
    let jobs = [
        Job::new(JobOp::MulConst, 8, 0, 0, 256).with_constant(2),
        Job::new(JobOp::Ntt, 8, 0, 100, 512), // misaligned
        Job::new(JobOp::MulConst, 8, 0, 0, 768).with_constant(5),
    ];
    let before = host.server.driver_mut().bus_mut().device.trace().len();
    let reply = host.call(&Request::RunBatch(Jobs::new(&jobs)));
    let config = ola_spec::config::ERR_MISALIGNED;
    assert_eq!(error(&reply), (ErrorCode::Misaligned, config, Some(1)));
    let device = &host.server.driver_mut().bus_mut().device;
    let trace = &device.trace()[before..];
    assert_eq!(trace.len(), 2, "the third job never started");
    assert_eq!(trace[1].flags, config);
    assert!(device.memory()[768..1024].iter().all(|&x| x == 0));
    let m = Modulus::new(q as u64).unwrap();
    let doubled: Vec<u32> = a.iter().map(|&x| m.mul(x, 2)).collect();
    assert_eq!(host.read(256, 256), doubled, "the first job ran");
}

#[test]
fn bad_requests_get_their_codes_and_change_nothing() {
    let mut host = host("p8");
    let config = Config::named("p8").unwrap();
    let q = primes(30, 12, 1)[0];
    load(&mut host, 0, &[q]);
    let a = residues(4096, q, 3);
    host.write(0, &a);
    let snapshot = host.server.driver_mut().bus_mut().device.memory().to_vec();
    let user = config.user_words() as u32;
    let bad = [0u32; MAX_CHUNK_WORDS + 1];
    let many_jobs = [Job::default(); MAX_BATCH_JOBS + 1];
    let not_prime = (1u32 << 29) + 1 + 2 * 4096 * 3; // odd, 30 bits, 1 mod 2N, composite?
    let cases: Vec<(Request, ErrorCode)> = vec![
        (
            Request::RunJob(Job {
                op: 7,
                log_n: 8,
                ..Job::default()
            }),
            ErrorCode::BadOp,
        ),
        (
            Request::RunJob(Job::new(JobOp::Ntt, 3, 0, 0, 0)),
            ErrorCode::BadSize,
        ),
        (
            Request::RunJob(Job::new(JobOp::Ntt, 13, 0, 0, 0)),
            ErrorCode::BadSize,
        ),
        (
            Request::RunJob(Job::new(JobOp::Ntt, 12, 1, 0, 4096)),
            ErrorCode::BadModulus,
        ),
        (
            Request::RunJob(Job::new(JobOp::Ntt, 12, 9, 0, 4096)),
            ErrorCode::BadModulus,
        ),
        (
            Request::RunJob(Job::new(JobOp::Ntt, 12, 0, 0, 100)),
            ErrorCode::Misaligned,
        ),
        (
            Request::RunJob(Job::new(JobOp::Ntt, 12, 0, 0, user)),
            ErrorCode::OutOfRange,
        ),
        (
            Request::WriteBuffer {
                address: user - 4,
                words: Words::new(&[1, 2, 3, 4, 5]),
            },
            ErrorCode::BufferOutOfRange,
        ),
        (
            Request::WriteBuffer {
                address: u32::MAX - 1,
                words: Words::new(&[1, 2, 3]),
            },
            ErrorCode::BufferOutOfRange,
        ),
        (
            Request::ReadBuffer {
                address: user - 1,
                count: 2,
            },
            ErrorCode::BufferOutOfRange,
        ),
        (
            Request::WriteBuffer {
                address: 0,
                words: Words::new(&bad),
            },
            ErrorCode::ChunkTooLong,
        ),
        (
            Request::ReadBuffer {
                address: 0,
                count: MAX_CHUNK_WORDS as u16 + 1,
            },
            ErrorCode::ChunkTooLong,
        ),
        (
            Request::LoadModuli {
                first_slot: 3,
                moduli: Moduli::new(&[q, q]).unwrap(),
            },
            ErrorCode::SlotOutOfRange,
        ),
        (
            Request::LoadModuli {
                first_slot: 1,
                moduli: Moduli::new(&[q, primes(29, 12, 1)[0]]).unwrap(),
            },
            ErrorCode::ModulusRejected,
        ),
        (
            Request::LoadModuli {
                first_slot: 1,
                moduli: Moduli::new(&[q, primes(30, 5, 200)[199]]).unwrap(),
            },
            ErrorCode::ModulusRejected,
        ),
        (
            Request::LoadModuli {
                first_slot: 1,
                moduli: Moduli::new(&[not_prime]).unwrap(),
            },
            ErrorCode::ModulusRejected,
        ),
        (
            Request::RunBatch(Jobs::new(&many_jobs)),
            ErrorCode::BatchTooLong,
        ),
    ];
    assert!(!ola_arith::prime::is_prime(not_prime as u64));
    // The 200th 30-bit prime 1 mod 64 is not 1 mod 8192 (the device's N_max).
    assert_ne!(primes(30, 5, 200)[199] % 8192, 1);
    let jobs_before = host.server.driver_mut().bus_mut().device.trace().len();
    for (request, code) in &cases {
        let reply = host.call(request);
        assert_eq!(error(&reply).0, *code, "{request:?}");
        // Nothing changed, and the device is left without sticky errors.
        let device = &host.server.driver_mut().bus_mut().device;
        assert_eq!(device.memory(), &snapshot[..], "{request:?}");
        let counters = host.call(&Request::ReadCounters);
        let Response::Counters(c) = counters.response else {
            panic!()
        };
        assert_eq!(c.errors, 0, "{request:?}");
    }
    // Only the refused job descriptors reached the device, none ran.
    let device = &host.server.driver_mut().bus_mut().device;
    assert!(device.trace()[jobs_before..].iter().all(|j| j.flags != 0));
    let info = info(&mut host);
    assert_eq!(info.moduli.as_slice(), &[q, 0, 0, 0], "no slot loaded");
    // The device still works.
    let reply = host.call(&Request::RunJob(Job::new(JobOp::Ntt, 12, 0, 0, 4096)));
    assert!(matches!(reply.response, Response::JobDone { .. }));
}

#[test]
fn retries_are_answered_from_the_cache_and_never_run_twice() {
    let mut host = host("p8");
    let q = primes(30, 12, 1)[0];
    let m = Modulus::new(q as u64).unwrap();
    load(&mut host, 0, &[q]);
    let a = residues(256, q, 4);
    host.write(0, &a);
    // dst += a · a: running it twice would double the sum.
    let mac = Request::RunJob(Job::new(JobOp::Mac, 8, 0, 0, 256).with_b(0));
    let first = host.call_seq(1000, &mac);
    let trace_len = host.server.driver_mut().bus_mut().device.trace().len();
    for _ in 0..3 {
        assert_eq!(host.call_seq(1000, &mac), first);
    }
    assert_eq!(
        host.server.driver_mut().bus_mut().device.trace().len(),
        trace_len
    );
    assert_eq!(host.server.stats().replays, 3);
    // Same number, other content: refused, not executed.
    let other = Request::RunJob(Job::new(JobOp::Mac, 8, 0, 0, 512).with_b(0));
    assert_eq!(
        error(&host.call_seq(1000, &other)).0,
        ErrorCode::SequenceReused
    );
    assert_eq!(
        host.server.driver_mut().bus_mut().device.trace().len(),
        trace_len
    );
    host.seq = 1000;
    let squares: Vec<u32> = a.iter().map(|&x| m.mul(x, x)).collect();
    assert_eq!(host.read(256, 256), squares);
    // The reserved number is refused.
    let reply = host.send_bytes(&encode_frame_vec(SEQ_NONE, &Request::Info).unwrap());
    assert_eq!(reply.len(), 1);
    assert_eq!(
        (reply[0].seq, error(&reply[0]).0),
        (SEQ_NONE, ErrorCode::BadSequence)
    );
}

#[test]
fn damaged_frames_get_negative_acknowledgements() {
    let mut host = host("tiny");
    let frame = encode_frame_vec(5, &Request::Ping { token: 77 }).unwrap();
    let mut flipped = frame.clone();
    flipped[3] ^= 0x10;
    let replies = host.send_bytes(&flipped);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].seq, SEQ_NONE);
    assert_eq!(error(&replies[0]).0, ErrorCode::FrameCrc);
    // Garbage, then a delimiter and the frame: the frame is served.
    let mut stream = vec![0x42, 0x17, 0x99];
    stream.push(0);
    stream.extend_from_slice(&frame);
    let replies = host.send_bytes(&stream);
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0].seq, SEQ_NONE);
    assert_eq!(error(&replies[0]).0, ErrorCode::FrameCobs);
    assert_eq!(
        (replies[1].seq, replies[1].response),
        (5, Response::Pong { token: 77 })
    );
    // A good CRC around a non-request: BadMessage with the frame's number.
    let replies = host.send_bytes(&encode_frame_vec(6, &(99u32, 5u8)).unwrap());
    assert_eq!(
        (replies[0].seq, error(&replies[0]).0),
        (6, ErrorCode::BadMessage)
    );
    // Too long.
    let mut long = vec![1u8; MAX_ENCODED + 10];
    long.push(0);
    let replies = host.send_bytes(&long);
    assert_eq!(error(&replies[0]).0, ErrorCode::FrameTooLong);
    let stats = host.server.stats();
    assert_eq!(
        (stats.bad_frames, stats.bad_messages, stats.requests),
        (3, 1, 1)
    );
    // Reset clears the statistics and the replay cache.
    assert_eq!(host.call(&Request::Reset).response, Response::Done);
    assert_eq!(host.server.stats(), LinkStats::default());
}

#[test]
fn timeout_is_reported_and_reset_recovers() {
    let options = DriverOptions {
        poll_limit: 2,
        ..DriverOptions::default()
    };
    let mut host = Host::new(Server::with_options(
        SimBus::new(Config::named("p1").unwrap()),
        options,
    ));
    let q = primes(30, 12, 1)[0];
    load(&mut host, 0, &[q]);
    let reply = host.call(&Request::RunJob(Job::new(JobOp::Ntt, 12, 0, 0, 4096)));
    assert_eq!(error(&reply).0, ErrorCode::Timeout);
    // Accessing memory now would be refused (the job still runs).
    let reply = host.call(&Request::ReadBuffer {
        address: 0,
        count: 4,
    });
    assert_eq!(error(&reply).0, ErrorCode::AccessWhileBusy);
    // Reset waits (bounded) — too short here, so it times out as well,
    // then succeeds once the job is over.
    assert_eq!(error(&host.call(&Request::Reset)).0, ErrorCode::Timeout);
    host.server.driver_mut().bus_mut().device.wait_idle();
    assert_eq!(host.call(&Request::Reset).response, Response::Done);
    let Response::Counters(c) = host.call(&Request::ReadCounters).response else {
        panic!()
    };
    assert_eq!(c.errors, 0);
    assert_eq!(
        c.job_cycles as usize,
        Config::named("p1").unwrap().ntt_cycles(12)
    );
    assert!(c.cycles > c.job_cycles as u64);
}

#[test]
fn ping_and_counters() {
    let mut host = host("p2");
    assert_eq!(
        host.call(&Request::Ping { token: 9 }).response,
        Response::Pong { token: 9 }
    );
    let Response::Counters(c1) = host.call(&Request::ReadCounters).response else {
        panic!()
    };
    let Response::Counters(c2) = host.call(&Request::ReadCounters).response else {
        panic!()
    };
    assert!(c2.cycles > c1.cycles, "the cycle counter runs");
    assert_eq!(c2.link.requests, 3);
}
