//! The command server: frames in, driver calls, frames out.
//!
//! Reliability rules (the protocol's, see [`ola_protocol`]):
//!
//! * **Replay cache.** The last reply to a sequenced request stays
//!   encoded in the server. A request with the same sequence number and the
//!   same CRC is answered from it without being executed again, so a host
//!   that lost a reply can retry anything, even a `Mac` job. The same
//!   number with other content gets [`ErrorCode::SequenceReused`].
//! * **Damaged frames** (bad COBS, bad CRC, too long, too short) are
//!   answered with an error reply numbered [`SEQ_NONE`], which the host
//!   takes as a request to retransmit; nothing is executed. A frame with a
//!   good CRC that is not a request gets [`ErrorCode::BadMessage`] with its
//!   own number when that can be read.
//! * **No panics, bounded memory.** All buffers are fixed; every request
//!   is checked before the device is touched; every device wait is bounded.

use embedded_io::{Read, Write};
use ola_protocol::{
    Counters, DeviceInfo, ErrorCode, ErrorReply, FrameDecoder, FrameError, LinkStats,
    MAX_BATCH_JOBS, MAX_CHUNK_WORDS, MAX_FRAME, MAX_SLOTS, Moduli, PROTOCOL_VERSION, Payload,
    Request, Response, SEQ_NONE, Words, encode_frame,
};
use ola_spec::link::WordBus;

use crate::FIRMWARE_VERSION;
use crate::driver::{Driver, DriverOptions, Error};

/// Bytes read from the stream per [`Server::poll`].
const READ_CHUNK: usize = 64;

/// Everything but the frame decoder, so a decoded frame (which borrows the
/// decoder's buffer) can be handled with `&mut` access to the rest.
struct Core<B> {
    driver: Driver<B>,
    /// The last reply to a sequenced request: the replay cache.
    reply: [u8; MAX_FRAME],
    reply_len: usize,
    /// `(sequence, CRC)` of the request `reply` answers.
    last: Option<(u32, u32)>,
    /// Replies that do not enter the cache (to damaged or reused frames).
    short: [u8; 48],
    words: [u32; MAX_CHUNK_WORDS],
    stats: LinkStats,
}

/// What a request produced, before encoding (data lives in `Core::words`).
enum Outcome {
    Reply(Response<'static>),
    Data(usize),
}

/// The command server over a [`Driver`].
pub struct Server<B> {
    decoder: FrameDecoder,
    core: Core<B>,
}

impl<B: WordBus> Server<B> {
    /// A server driving the accelerator over `bus` with default options.
    pub fn new(bus: B) -> Self {
        Self::with_options(bus, DriverOptions::default())
    }

    /// A server with the driver tuned by `options`.
    pub fn with_options(bus: B, options: DriverOptions) -> Self {
        Server {
            decoder: FrameDecoder::new(),
            core: Core {
                driver: Driver::new(bus, options),
                reply: [0; MAX_FRAME],
                reply_len: 0,
                last: None,
                short: [0; 48],
                words: [0; MAX_CHUNK_WORDS],
                stats: LinkStats::default(),
            },
        }
    }

    /// The driver (for the board's start-up checks).
    pub fn driver_mut(&mut self) -> &mut Driver<B> {
        &mut self.core.driver
    }

    /// Link statistics since start or the last reset.
    pub fn stats(&self) -> LinkStats {
        self.core.stats
    }

    /// Handles received bytes: every frame they complete is executed and
    /// its reply passed to `send` (whole frames, delimiter included).
    /// Bytes of an incomplete frame are kept for the next call. If `send`
    /// fails, the rest of `bytes` is dropped and the error returned (the
    /// host's retry recovers).
    pub fn receive<E>(
        &mut self,
        mut bytes: &[u8],
        mut send: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        while !bytes.is_empty() {
            let (used, outcome) = self.decoder.feed(bytes);
            bytes = &bytes[used..];
            if let Some(outcome) = outcome
                && let Some(reply) = self.core.handle(outcome)
            {
                send(reply)?;
            }
        }
        Ok(())
    }

    /// Handles one whole frame held in `frame` (delimiter optional),
    /// independently of the stream state; returns the reply frame, if any.
    pub fn handle_frame(&mut self, frame: &mut [u8]) -> Option<&[u8]> {
        let outcome = ola_protocol::decode_frame(frame);
        self.core.handle(outcome)
    }

    /// One blocking read from `io`, then the replies to the frames it
    /// completed; returns the bytes read (0: end of stream).
    pub fn poll<T: Read + Write>(&mut self, io: &mut T) -> Result<usize, T::Error> {
        let mut buf = [0u8; READ_CHUNK];
        let n = io.read(&mut buf)?;
        self.receive(&buf[..n], |reply| {
            io.write_all(reply)?;
            io.flush()
        })?;
        Ok(n)
    }

    /// Serves `io` until the end of the stream (on an MCU: forever).
    pub fn run<T: Read + Write>(&mut self, io: &mut T) -> Result<(), T::Error> {
        while self.poll(io)? > 0 {}
        Ok(())
    }
}

impl<B: WordBus> Core<B> {
    /// The reply to one frame outcome (`None`: nothing to send).
    fn handle(&mut self, outcome: Result<Payload<'_>, FrameError>) -> Option<&[u8]> {
        let payload = match outcome {
            Ok(payload) => payload,
            Err(e) => {
                self.stats.bad_frames = self.stats.bad_frames.wrapping_add(1);
                log_warn!("bad frame ({=u16})", e.code().code());
                return self.short_reply(SEQ_NONE, e.code());
            }
        };
        let Some(seq) = payload.sequence().filter(|&s| s != SEQ_NONE) else {
            self.stats.bad_messages = self.stats.bad_messages.wrapping_add(1);
            let code = match payload.sequence() {
                Some(_) => ErrorCode::BadSequence,
                None => ErrorCode::BadMessage,
            };
            return self.short_reply(SEQ_NONE, code);
        };
        if let Some((last_seq, last_crc)) = self.last
            && last_seq == seq
        {
            if last_crc == payload.crc() {
                self.stats.replays = self.stats.replays.wrapping_add(1);
                return Some(&self.reply[..self.reply_len]);
            }
            return self.short_reply(seq, ErrorCode::SequenceReused);
        }
        let outcome = match payload.decode::<Request>() {
            Ok((_, request)) => {
                self.stats.requests = self.stats.requests.wrapping_add(1);
                self.execute(request)
            }
            Err(_) => {
                self.stats.bad_messages = self.stats.bad_messages.wrapping_add(1);
                Outcome::Reply(Response::error(ErrorCode::BadMessage))
            }
        };
        let encoded = match outcome {
            Outcome::Reply(response) => encode_frame(seq, &response, &mut self.reply),
            Outcome::Data(n) => encode_frame(
                seq,
                &Response::Data(Words::new(&self.words[..n])),
                &mut self.reply,
            ),
        };
        self.reply_len = match encoded {
            Ok(n) => n,
            // Unreachable by the size bounds; reported, never a panic.
            Err(_) => encode_frame(seq, &Response::error(ErrorCode::Internal), &mut self.reply)
                .unwrap_or(0),
        };
        self.last = Some((seq, payload.crc()));
        Some(&self.reply[..self.reply_len])
    }

    fn short_reply(&mut self, seq: u32, code: ErrorCode) -> Option<&[u8]> {
        let n = encode_frame(seq, &Response::error(code), &mut self.short).ok()?;
        Some(&self.short[..n])
    }

    /// Executes a request.
    fn execute(&mut self, request: Request<'_>) -> Outcome {
        let result = match request {
            Request::Ping { token } => Ok(Outcome::Reply(Response::Pong { token })),
            Request::Info => self.info().map(|info| Outcome::Reply(Response::Info(info))),
            Request::LoadModuli { first_slot, moduli } => self
                .load(first_slot as usize, &moduli)
                .map(|()| Outcome::Reply(Response::Done)),
            Request::WriteBuffer { address, words } => self.write(address, words),
            Request::ReadBuffer { address, count } => self.read(address, count as usize),
            Request::RunJob(job) => self
                .driver
                .run_job(&job)
                .map(|cycles| Outcome::Reply(Response::JobDone { cycles })),
            Request::RunBatch(jobs) => {
                if jobs.len() > MAX_BATCH_JOBS {
                    return Outcome::Reply(Response::Error(ErrorReply {
                        code: ErrorCode::BatchTooLong,
                        detail: jobs.len() as u32,
                        job: None,
                    }));
                }
                return match self.driver.run_batch(jobs.iter()) {
                    Ok(done) => Outcome::Reply(Response::BatchDone {
                        jobs: done.jobs,
                        cycles: done.cycles,
                    }),
                    Err((index, e)) => Outcome::Reply(Response::Error(ErrorReply {
                        code: e.code(),
                        detail: e.detail(),
                        job: Some(index),
                    })),
                };
            }
            Request::ReadCounters => self.driver.counters().map(|c| {
                Outcome::Reply(Response::Counters(Counters {
                    cycles: c.cycles,
                    job_cycles: c.job_cycles,
                    status: c.status,
                    errors: c.errors,
                    link: self.stats,
                }))
            }),
            Request::Reset => {
                self.stats = LinkStats::default();
                self.driver.reset().map(|()| Outcome::Reply(Response::Done))
            }
        };
        result.unwrap_or_else(|e| {
            Outcome::Reply(Response::Error(ErrorReply {
                code: e.code(),
                detail: e.detail(),
                job: None,
            }))
        })
    }

    fn info(&mut self) -> Result<DeviceInfo, Error<B::Error>> {
        let config = self.driver.identify()?;
        let mut moduli = Moduli::default();
        for slot in 0..config.moduli.min(MAX_SLOTS) {
            let q = self.driver.slot_modulus(slot)?;
            // Cannot fail: at most MAX_SLOTS pushes.
            let _ = moduli.push(q);
        }
        Ok(DeviceInfo {
            protocol_version: PROTOCOL_VERSION,
            firmware_version: FIRMWARE_VERSION,
            device_id: ola_spec::map::ID_VALUE,
            lanes: config.lanes as u8,
            log_max_n: config.log_max_n as u8,
            word_bits: config.word_bits as u8,
            slots: config.moduli as u8,
            user_words: config.user_words() as u32,
            max_chunk_words: MAX_CHUNK_WORDS as u16,
            max_batch_jobs: MAX_BATCH_JOBS as u16,
            moduli,
        })
    }

    fn load(&mut self, first: usize, moduli: &Moduli) -> Result<(), Error<B::Error>> {
        self.driver.load_moduli(first, moduli.as_slice())
    }

    fn write(&mut self, address: u32, words: Words<'_>) -> Result<Outcome, Error<B::Error>> {
        if words.len() > MAX_CHUNK_WORDS {
            return Err(Error::ChunkTooLong { len: words.len() });
        }
        let n = words.copy_to(&mut self.words);
        self.driver.write_data(address, &self.words[..n])?;
        Ok(Outcome::Reply(Response::Done))
    }

    fn read(&mut self, address: u32, count: usize) -> Result<Outcome, Error<B::Error>> {
        if count > MAX_CHUNK_WORDS {
            return Err(Error::ChunkTooLong { len: count });
        }
        self.driver.read_data(address, &mut self.words[..count])?;
        Ok(Outcome::Data(count))
    }
}
