//! Test scaffolding: the accelerator simulator as a [`WordBus`], and a
//! minimal host that frames requests for a [`Server`] and decodes replies.
#![allow(dead_code)]

use std::convert::Infallible;

use ola_arith::prime::ntt_primes;
use ola_firmware::Server;
use ola_protocol::{FrameDecoder, Request, Response, SEQ_NONE, Words, encode_frame_vec};
use ola_sim::Device;
use ola_spec::config::Config;
use ola_spec::link::{ControllerTiming, WordBus, transaction_bits};
use ola_spec::{BUS_READ_LATENCY, BusInputs, BusModel};

/// The simulator at its bus, one access per cycle (a read's data is
/// sampled `BUS_READ_LATENCY` cycles after the request); each transaction also idles the
/// device for the rest of the reference SPI link's time, so counters and
/// job polls see realistic gaps.
pub struct SimBus {
    pub device: Device,
    pub timing: Option<ControllerTiming>,
    pub transactions: u64,
}

impl SimBus {
    pub fn new(config: Config) -> Self {
        SimBus {
            device: Device::new(config),
            timing: Some(ControllerTiming::DEFAULT),
            transactions: 0,
        }
    }

    fn link_time(&mut self, read: bool, n: usize) {
        self.transactions += 1;
        if let Some(t) = self.timing {
            let cycles = t.transaction_cycles(transaction_bits(read, n));
            self.device
                .idle(cycles.saturating_sub((n + BUS_READ_LATENCY) as u64));
        }
    }
}

impl WordBus for SimBus {
    type Error = Infallible;

    fn write(&mut self, address: u32, words: &[u32]) -> Result<(), Infallible> {
        self.link_time(false, words.len());
        for (i, &w) in words.iter().enumerate() {
            self.device.cycle(&BusInputs {
                address: address.wrapping_add(i as u32),
                write_data: w,
                write: true,
                read: false,
            });
        }
        Ok(())
    }

    fn read(&mut self, address: u32, words: &mut [u32]) -> Result<(), Infallible> {
        self.link_time(true, words.len());
        for i in 0..words.len() + BUS_READ_LATENCY {
            let inputs = if i < words.len() {
                BusInputs {
                    address: address.wrapping_add(i as u32),
                    read: true,
                    ..Default::default()
                }
            } else {
                BusInputs::default()
            };
            let out = self.device.cycle(&inputs);
            if i >= BUS_READ_LATENCY {
                words[i - BUS_READ_LATENCY] = out.read_data;
            }
        }
        Ok(())
    }
}

/// A reply with its data copied out of the receive buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub seq: u32,
    pub response: Response<'static>,
    pub data: Vec<u32>,
}

/// Decodes every reply frame in `bytes`.
pub fn decode_replies(bytes: &[u8]) -> Vec<Reply> {
    let mut decoder = FrameDecoder::new();
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (used, outcome) = decoder.feed(rest);
        rest = &rest[used..];
        if let Some(outcome) = outcome {
            let payload = outcome.expect("the server sends valid frames");
            let (seq, response) = payload
                .decode::<Response>()
                .expect("the server sends valid responses");
            out.push(owned(seq, response));
        }
    }
    out
}

fn owned(seq: u32, response: Response<'_>) -> Reply {
    match response {
        Response::Data(words) => Reply {
            seq,
            response: Response::Data(Words::new(&[])),
            data: words.to_vec(),
        },
        Response::Pong { token } => plain(seq, Response::Pong { token }),
        Response::Info(i) => plain(seq, Response::Info(i)),
        Response::Done => plain(seq, Response::Done),
        Response::JobDone { cycles } => plain(seq, Response::JobDone { cycles }),
        Response::BatchDone { jobs, cycles } => plain(seq, Response::BatchDone { jobs, cycles }),
        Response::Counters(c) => plain(seq, Response::Counters(c)),
        Response::Error(e) => plain(seq, Response::Error(e)),
    }
}

fn plain(seq: u32, response: Response<'static>) -> Reply {
    Reply {
        seq,
        response,
        data: Vec::new(),
    }
}

/// A host speaking to a server in the same process.
pub struct Host<B: WordBus> {
    pub server: Box<Server<B>>,
    pub seq: u32,
}

impl<B: WordBus> Host<B> {
    pub fn new(server: Server<B>) -> Self {
        Host {
            server: Box::new(server),
            seq: 0,
        }
    }

    /// Sends raw bytes; returns the decoded replies.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Vec<Reply> {
        let mut out = Vec::new();
        self.server
            .receive(bytes, |reply| {
                out.extend_from_slice(reply);
                Ok::<(), Infallible>(())
            })
            .unwrap();
        decode_replies(&out)
    }

    /// Sends `request` with sequence number `seq`; the one reply.
    pub fn call_seq(&mut self, seq: u32, request: &Request) -> Reply {
        let frame = encode_frame_vec(seq, request).unwrap();
        let mut replies = self.send_bytes(&frame);
        assert_eq!(replies.len(), 1, "one reply per request");
        let reply = replies.pop().unwrap();
        assert_eq!(reply.seq, seq);
        reply
    }

    /// Sends `request` with the next sequence number; the response.
    pub fn call(&mut self, request: &Request) -> Reply {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == SEQ_NONE {
            self.seq = 1;
        }
        self.call_seq(self.seq, request)
    }

    /// Writes `words` in chunks of at most `MAX_CHUNK_WORDS`.
    pub fn write(&mut self, address: u32, words: &[u32]) {
        for (k, chunk) in words.chunks(ola_protocol::MAX_CHUNK_WORDS).enumerate() {
            let reply = self.call(&Request::WriteBuffer {
                address: address + (k * ola_protocol::MAX_CHUNK_WORDS) as u32,
                words: Words::new(chunk),
            });
            assert_eq!(reply.response, Response::Done);
        }
    }

    /// Reads `count` words in chunks.
    pub fn read(&mut self, address: u32, count: usize) -> Vec<u32> {
        let mut out = Vec::new();
        while out.len() < count {
            let n = (count - out.len()).min(ola_protocol::MAX_CHUNK_WORDS);
            let reply = self.call(&Request::ReadBuffer {
                address: address + out.len() as u32,
                count: n as u16,
            });
            assert_eq!(reply.response, Response::Data(Words::new(&[])), "{reply:?}");
            assert_eq!(reply.data.len(), n);
            out.extend(reply.data);
        }
        out
    }
}

/// The first `count` primes of exactly `bits` bits that are `1 mod 2·N`.
pub fn primes(bits: u32, log_n: u32, count: usize) -> Vec<u32> {
    ntt_primes(bits, log_n)
        .take(count)
        .map(|q| q as u32)
        .collect()
}

/// Deterministic residues below `q`.
pub fn residues(n: usize, q: u32, seed: u64) -> Vec<u32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % q as u64) as u32
        })
        .collect()
}
