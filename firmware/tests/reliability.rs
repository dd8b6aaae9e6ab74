//! Reliability: a host retrying over a noisy line always ends with the
//! right data and never a job run twice; the server survives arbitrary
//! input; link and device faults become error replies, never wrong data.

mod common;

use std::convert::Infallible;

use common::{Host, SimBus, decode_replies, primes, residues};
use ola_arith::Modulus;
use ola_firmware::driver::decode_config;
use ola_firmware::{Driver, DriverOptions, Error, Server};
use ola_protocol::*;
use rand::{Rng as _, RngCore, SeedableRng};

/// Seeded, so every run sees the same cases.
type Rng = rand_chacha::ChaCha8Rng;
use ola_spec::JobOp;
use ola_spec::config::{CONFIGS, Config};
use ola_spec::link::WordBus;

/// Damages a byte stream the way a bad serial line does: flipped bits,
/// dropped bytes, inserted bytes, each with probability `1 / one_in` a
/// byte.
fn damage(rng: &mut Rng, bytes: &[u8], one_in: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 4);
    for &b in bytes {
        match rng.random_range(0..one_in * 3) {
            0 => out.push(b ^ (1 << rng.random_range(0..8))),
            1 => {}
            2 => {
                out.push(b);
                out.push(rng.next_u64() as u8);
            }
            _ => out.push(b),
        }
    }
    out
}

/// A host that retries: sends `0x00 ‖ frame` over the damaging line and
/// waits for the reply with its number; a negative acknowledgement, a
/// damaged reply or no reply at all (a lost frame) means "send again".
struct RetryingHost {
    server: Box<Server<SimBus>>,
    rng: Rng,
    seq: u32,
    one_in: usize,
    attempts: usize,
}

impl RetryingHost {
    fn call(&mut self, request: &Request) -> common::Reply {
        self.seq += 1;
        let mut frame = vec![0];
        frame.extend(encode_frame_vec(self.seq, request).unwrap());
        for _ in 0..1000 {
            self.attempts += 1;
            let sent = damage(&mut self.rng, &frame, self.one_in);
            let mut wire = Vec::new();
            self.server
                .receive(&sent, |reply| {
                    wire.extend_from_slice(reply);
                    Ok::<(), Infallible>(())
                })
                .unwrap();
            let received = damage(&mut self.rng, &wire, self.one_in);
            // Decode what survived; damaged reply frames are skipped.
            let mut decoder = FrameDecoder::new();
            let mut rest = &received[..];
            let mut answer = None;
            while !rest.is_empty() {
                let (used, outcome) = decoder.feed(rest);
                rest = &rest[used..];
                if let Some(Ok(payload)) = outcome
                    && let Ok((seq, _)) = payload.decode::<Response>()
                    && seq == self.seq
                {
                    let mut encoded = vec![0; MAX_FRAME];
                    let n = encode_frame_bytes(payload.bytes(), &mut encoded).unwrap();
                    answer = decode_replies(&encoded[..n]).pop();
                }
            }
            if let Some(reply) = answer {
                return reply;
            }
        }
        panic!("no reply after 1000 attempts");
    }
}

#[test]
fn retries_over_a_noisy_line_give_exact_results_and_no_double_jobs() {
    let config = Config::named("p4").unwrap();
    let q = primes(30, 12, 1)[0];
    let m = Modulus::new(q as u64).unwrap();
    let mut host = RetryingHost {
        server: Box::new(Server::new(SimBus::new(config))),
        rng: Rng::seed_from_u64(42),
        seq: 0,
        // About one damaged byte in 2000: most 4 KiB frames need a retry.
        one_in: 2000,
        attempts: 0,
    };
    let reply = host.call(&Request::LoadModuli {
        first_slot: 0,
        moduli: Moduli::new(&[q]).unwrap(),
    });
    assert_eq!(reply.response, Response::Done);
    let n = 1024;
    let a = residues(n, q, 1);
    let b = residues(n, q, 2);
    for (address, data) in [(0u32, &a), (1024, &b)] {
        let reply = host.call(&Request::WriteBuffer {
            address,
            words: Words::new(data),
        });
        assert_eq!(reply.response, Response::Done);
    }
    // acc += a·b, twenty times: a job executed twice would show.
    let rounds = 20;
    for _ in 0..rounds {
        let job = Job::new(JobOp::Mac, 10, 0, 0, 2048).with_b(1024);
        let reply = host.call(&Request::RunJob(job));
        assert!(
            matches!(reply.response, Response::JobDone { .. }),
            "{reply:?}"
        );
    }
    let reply = host.call(&Request::ReadBuffer {
        address: 2048,
        count: n as u16,
    });
    let expect: Vec<u32> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| m.mul(m.mul(x, y), rounds))
        .collect();
    assert_eq!(reply.data, expect);
    let device = &host.server.driver_mut().bus_mut().device;
    let macs = device
        .trace()
        .iter()
        .filter(|j| j.op == JobOp::Mac as u32)
        .count();
    assert_eq!(macs, rounds as usize, "every job ran exactly once");
    // The line really was noisy: retries happened, replays were served.
    let stats = host.server.stats();
    assert!(host.attempts > 30, "{}", host.attempts);
    assert!(stats.bad_frames > 0 && stats.replays > 0, "{stats:?}");
}

#[test]
fn server_survives_random_and_mutated_input() {
    let mut host = Host::new(Server::new(SimBus::new(Config::named("tiny").unwrap())));
    let q = primes(18, 8, 1)[0];
    let moduli = Moduli::new(&[q]).unwrap();
    let words = residues(64, q, 3);
    let jobs = [Job::new(JobOp::Ntt, 8, 0, 0, 256), Job::default()];
    let requests = [
        Request::LoadModuli {
            first_slot: 0,
            moduli,
        },
        Request::WriteBuffer {
            address: 0,
            words: Words::new(&words),
        },
        Request::RunJob(jobs[0]),
        Request::RunBatch(Jobs::new(&jobs)),
        Request::ReadBuffer {
            address: 0,
            count: 64,
        },
        Request::Info,
        Request::ReadCounters,
        Request::Reset,
    ];
    let frames: Vec<Vec<u8>> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| encode_frame_vec(i as u32 + 1, r).unwrap())
        .collect();
    let mut rng = Rng::seed_from_u64(7);
    let mut replies = 0;
    for case in 0..20_000 {
        let input: Vec<u8> = match case % 3 {
            0 => (0..rng.random_range(0..60))
                .map(|_| rng.next_u64() as u8)
                .collect(),
            1 => {
                let which = rng.random_range(0..frames.len());
                damage(&mut rng, &frames[which], 10)
            }
            _ => {
                // A valid message body with mutated fields, re-framed with
                // a good CRC: exercises the request checks, not the CRC.
                let mut frame = encode_frame_vec(
                    1 + rng.random_range(0..1000) as u32,
                    &requests[rng.random_range(0..requests.len())],
                )
                .unwrap();
                let mut body = decode_frame(&mut frame).unwrap().bytes().to_vec();
                let at = rng.random_range(0..body.len());
                body[at] = rng.next_u64() as u8;
                let mut out = vec![0; MAX_FRAME];
                let n = encode_frame_bytes(&body, &mut out).unwrap();
                out.truncate(n);
                out
            }
        };
        // Every reply the server sends is a valid frame and response.
        replies += host.send_bytes(&input).len();
    }
    assert!(replies > 10_000, "{replies}");
    // Still serving.
    assert_eq!(
        host.call(&Request::Ping { token: 1 }).response,
        Response::Pong { token: 1 }
    );
}

/// A bus that flips bit 0 of every data word written while `corrupt`, or
/// fails every transaction while `fail`.
struct FaultyBus {
    inner: SimBus,
    corrupt: bool,
    fail: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct LinkDown;

impl WordBus for FaultyBus {
    type Error = LinkDown;

    fn write(&mut self, address: u32, words: &[u32]) -> Result<(), LinkDown> {
        if self.fail {
            return Err(LinkDown);
        }
        let data = address & 0xF000_0000 == ola_spec::map::DATA;
        let words: Vec<u32> = words
            .iter()
            .map(|&w| if self.corrupt && data { w ^ 1 } else { w })
            .collect();
        self.inner.write(address, &words).map_err(|e| match e {})
    }

    fn read(&mut self, address: u32, words: &mut [u32]) -> Result<(), LinkDown> {
        if self.fail {
            return Err(LinkDown);
        }
        self.inner.read(address, words).map_err(|e| match e {})
    }
}

#[test]
fn link_faults_are_errors_never_wrong_data() {
    let bus = FaultyBus {
        inner: SimBus::new(Config::named("p2").unwrap()),
        corrupt: true,
        fail: false,
    };
    let mut driver = Driver::new(bus, DriverOptions::default());
    let words = [5u32, 6, 7];
    assert_eq!(
        driver.write_data(16, &words),
        Err(Error::Fault { detail: 16 }),
        "a corrupted write is caught by the read-back"
    );
    driver.bus_mut().corrupt = false;
    driver.write_data(16, &words).unwrap();
    driver.bus_mut().fail = true;
    let mut back = [0; 3];
    let e = driver.read_data(16, &mut back).unwrap_err();
    assert_eq!((e, e.code()), (Error::Bus(LinkDown), ErrorCode::Bus));

    // Through the server: error replies, and the host never sees data.
    let bus = FaultyBus {
        inner: SimBus::new(Config::named("p2").unwrap()),
        corrupt: false,
        fail: true,
    };
    let mut host = Host::new(Server::new(bus));
    let reply = host.call(&Request::ReadBuffer {
        address: 0,
        count: 4,
    });
    assert!(matches!(
        reply.response,
        Response::Error(ErrorReply {
            code: ErrorCode::Bus,
            ..
        })
    ));
    host.server.driver_mut().bus_mut().fail = false;
    host.server.driver_mut().bus_mut().corrupt = true;
    let reply = host.call(&Request::WriteBuffer {
        address: 0,
        words: Words::new(&words),
    });
    assert!(matches!(
        reply.response,
        Response::Error(ErrorReply {
            code: ErrorCode::DeviceFault,
            ..
        })
    ));
}

/// Answers every read with zeros (no accelerator on the bus).
struct Absent;

impl WordBus for Absent {
    type Error = Infallible;
    fn write(&mut self, _: u32, _: &[u32]) -> Result<(), Infallible> {
        Ok(())
    }
    fn read(&mut self, _: u32, words: &mut [u32]) -> Result<(), Infallible> {
        words.fill(0);
        Ok(())
    }
}

#[test]
fn absent_or_unsupported_devices_are_reported() {
    let mut host = Host::new(Server::new(Absent));
    for request in [
        Request::Info,
        Request::LoadModuli {
            first_slot: 0,
            moduli: Moduli::new(&[12289]).unwrap(),
        },
        Request::ReadBuffer {
            address: 0,
            count: 1,
        },
    ] {
        let reply = host.call(&request);
        assert!(
            matches!(
                reply.response,
                Response::Error(ErrorReply {
                    code: ErrorCode::NoDevice,
                    detail: 0,
                    ..
                })
            ),
            "{reply:?}"
        );
    }
    // Every named configuration decodes from its registers; nonsense does not.
    for c in CONFIGS {
        let raw = c.lanes as u32 | c.log_max_n << 8 | c.word_bits << 16 | (c.moduli as u32) << 24;
        let d = decode_config(raw, c.user_words() as u32).unwrap();
        assert_eq!(
            (d.lanes, d.log_max_n, d.word_bits, d.moduli, d.log_buffers),
            (c.lanes, c.log_max_n, c.word_bits, c.moduli, c.log_buffers)
        );
    }
    let good = 8 | 12 << 8 | 30 << 16 | 4 << 24;
    for (raw, user) in [
        (good, 14 * 4096 + 1),
        (good, 13 * 4096),
        (good, 0),
        (good & !0xFF | 3, 14 * 4096),
        (good & !(0xFF << 16) | 31 << 16, 14 * 4096),
        (good & !(0xFF << 24) | 9 << 24, 14 * 4096),
        (good & !(0xFF << 24), 14 * 4096),
        (good & !(0xFF << 8) | 21 << 8, 14 << 21),
        (good & !(0xFF << 8) | 3 << 8, 14 * 8),
    ] {
        assert!(decode_config(raw, user).is_none(), "{raw:x} {user}");
    }
}

/// An in-memory serial port: reads come from `input` in pieces of at most
/// `piece` bytes, writes go to `output`.
struct Port {
    input: Vec<u8>,
    at: usize,
    piece: usize,
    output: Vec<u8>,
}

impl embedded_io::ErrorType for Port {
    type Error = Infallible;
}

impl embedded_io::Read for Port {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let n = buf.len().min(self.piece).min(self.input.len() - self.at);
        buf[..n].copy_from_slice(&self.input[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl embedded_io::Write for Port {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

#[test]
fn run_serves_a_byte_stream_until_it_ends() {
    let mut input = Vec::new();
    for (seq, token) in [(1u32, 10u32), (2, 20), (3, 30)] {
        input.extend(encode_frame_vec(seq, &Request::Ping { token }).unwrap());
    }
    input.extend(encode_frame_vec(4, &Request::Info).unwrap());
    let mut port = Port {
        input,
        at: 0,
        piece: 7,
        output: Vec::new(),
    };
    let mut server = Box::new(Server::new(SimBus::new(Config::named("tiny").unwrap())));
    server.run(&mut port).unwrap();
    let replies = decode_replies(&port.output);
    assert_eq!(replies.len(), 4);
    for (reply, token) in replies.iter().zip([10, 20, 30]) {
        assert_eq!(reply.response, Response::Pong { token });
    }
    assert!(matches!(
        replies[3].response,
        Response::Info(DeviceInfo { lanes: 2, .. })
    ));
}

#[test]
fn server_state_fits_a_small_mcu() {
    // Everything the server needs is in the struct (receive buffer, reply
    // cache, one chunk of words): bounded, no heap, well inside the
    // RP2040's 264 KiB.
    let size = std::mem::size_of::<Server<Absent>>();
    assert!(size <= 16 * 1024, "{size} bytes");
    assert!(
        size >= 2 * MAX_ENCODED + 4 * MAX_CHUNK_WORDS,
        "{size} bytes"
    );
}
