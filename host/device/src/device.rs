//! The typed, blocking device API: one request at a time (stop-and-wait),
//! each with a timeout and retries under the same sequence number.

use std::time::{Duration, Instant};

use ola_protocol::{
    Counters, DeviceInfo, ErrorCode, ErrorReply, FrameDecoder, Job, Jobs, MAX_BATCH_JOBS,
    MAX_CHUNK_WORDS, MAX_FRAME, Moduli, PROTOCOL_VERSION, Request, Response, SEQ_NONE, Words,
    encode_frame,
};

use crate::error::{Error, Result};
use crate::sim::{SimClock, SimTime};
use crate::transport::Transport;

/// How patient the host is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Longest wait for the reply to one attempt of a request.
    pub timeout: Duration,
    /// Retransmissions of a request after the first send (on a timeout, a
    /// damaged reply or a negative acknowledgement).
    pub retries: u32,
    /// How many times [`Device::run_verified`] redoes work after the
    /// device lost its state.
    pub max_restarts: u32,
}

impl Default for DeviceConfig {
    /// One second a request, five retries, two restarts: generous for a
    /// board (a full 4 KiB chunk takes ~14 ms on a 3 Mbaud UART).
    fn default() -> Self {
        DeviceConfig {
            timeout: Duration::from_secs(1),
            retries: 5,
            max_restarts: 2,
        }
    }
}

/// What the host saw on the link since the device was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Requests answered (each counted once, however many attempts).
    pub requests: u64,
    /// Retransmissions.
    pub retries: u64,
    /// Attempts that ran out of time.
    pub timeouts: u64,
    /// Negative acknowledgements (the device got a damaged frame).
    pub naks: u64,
    /// Damaged or undecodable frames received.
    pub bad_frames: u64,
    /// Replies to an earlier request (duplicates), dropped.
    pub stale: u64,
    /// Bytes sent and received (what the host link carried).
    pub link_bytes: u64,
    /// Accelerator cycles of the jobs run (from the device's replies).
    pub job_cycles: u64,
    /// Times [`Device::run_verified`] found the device had lost its state.
    pub resets_detected: u64,
}

/// What a piece of work cost ([`Device::measure`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Accelerator cycles of the jobs it ran, as the device reported them.
    pub job_cycles: u64,
    /// Bytes it moved over the host link (both directions, retries
    /// included).
    pub link_bytes: u64,
    /// On a simulated board, the board's time: host-link bytes at the
    /// UART rate, SPI and accelerator cycles.
    pub sim: Option<SimTime>,
}

/// A reply, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// [`Response::Pong`].
    Pong(u32),
    /// [`Response::Info`].
    Info(DeviceInfo),
    /// [`Response::Done`].
    Done,
    /// [`Response::Data`].
    Data(Vec<u32>),
    /// [`Response::JobDone`]: the job's cycles.
    JobDone(u32),
    /// [`Response::BatchDone`]: jobs run and their cycles.
    BatchDone(u16, u64),
    /// [`Response::Counters`].
    Counters(Counters),
    /// [`Response::Error`].
    Error(ErrorReply),
}

impl Reply {
    fn from_response(response: &Response<'_>) -> Reply {
        match *response {
            Response::Pong { token } => Reply::Pong(token),
            Response::Info(info) => Reply::Info(info),
            Response::Done => Reply::Done,
            Response::Data(words) => Reply::Data(words.to_vec()),
            Response::JobDone { cycles } => Reply::JobDone(cycles),
            Response::BatchDone { jobs, cycles } => Reply::BatchDone(jobs, cycles),
            Response::Counters(c) => Reply::Counters(c),
            Response::Error(e) => Reply::Error(e),
        }
    }
}

/// What came off the wire.
enum Incoming {
    Reply(u32, Reply),
    Damaged,
}

/// The device state the host relies on, as last verified.
#[derive(Clone, Copy, Debug)]
struct Baseline {
    /// The firmware's executed-request count at the check.
    requests: u32,
    /// The accelerator's cycle counter at the check.
    cycles: u64,
}

/// A connection to one device: a board over a serial port, or a simulated
/// board (see [`crate::sim`]).
pub struct Device {
    transport: Box<dyn Transport>,
    config: DeviceConfig,
    seq: u32,
    decoder: Box<FrameDecoder>,
    rx: Box<[u8]>,
    rx_pos: usize,
    rx_len: usize,
    tx: Box<[u8]>,
    stats: HostStats,
    /// Moduli loaded through this handle, by slot: what a restarted device
    /// gets back.
    moduli: Vec<(u8, u32)>,
    baseline: Option<Baseline>,
    /// Requests answered since the baseline.
    answered: u32,
    clock: Option<SimClock>,
}

impl Device {
    /// A device on `transport`.
    pub fn new(transport: impl Transport + 'static, config: DeviceConfig) -> Self {
        Device {
            transport: Box::new(transport),
            config,
            seq: initial_sequence(),
            decoder: Box::new(FrameDecoder::new()),
            rx: vec![0; 4096].into_boxed_slice(),
            rx_pos: 0,
            rx_len: 0,
            tx: vec![0; MAX_FRAME + 1].into_boxed_slice(),
            stats: HostStats::default(),
            moduli: Vec::new(),
            baseline: None,
            answered: 0,
            clock: None,
        }
    }

    /// Attaches a simulated board's clock, so [`Device::sim_time`] reports
    /// its link and accelerator time.
    pub fn with_clock(mut self, clock: SimClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The link statistics so far.
    pub fn stats(&self) -> HostStats {
        self.stats
    }

    /// The simulated board's time so far (`None` on a real board).
    pub fn sim_time(&self) -> Option<SimTime> {
        self.clock.as_ref().map(SimClock::now)
    }

    /// Runs `work` and returns what it cost: compute cycles, host-link
    /// bytes and, on a simulated board, SPI cycles and link time apart.
    pub fn measure<T>(&mut self, work: impl FnOnce(&mut Device) -> Result<T>) -> Result<(T, Cost)> {
        let (stats, sim) = (self.stats, self.sim_time());
        let out = work(self)?;
        let cost = Cost {
            job_cycles: self.stats.job_cycles - stats.job_cycles,
            link_bytes: self.stats.link_bytes - stats.link_bytes,
            sim: sim
                .zip(self.sim_time())
                .map(|(before, now)| now.since(&before)),
        };
        Ok((out, cost))
    }

    /// The configuration.
    pub fn config(&self) -> DeviceConfig {
        self.config
    }

    /// Changes the configuration.
    pub fn set_config(&mut self, config: DeviceConfig) {
        self.config = config;
    }

    /// Checks the device answers: a ping with a fresh token.
    pub fn ping(&mut self) -> Result<()> {
        let token = self.seq.rotate_left(16) ^ 0x5A5A_5A5A;
        match self.request("Ping", &Request::Ping { token })? {
            Reply::Pong(t) if t == token => Ok(()),
            Reply::Pong(t) => Err(Error::Protocol(format!(
                "ping token {token:#x} came back as {t:#x}"
            ))),
            other => unexpected("Ping", other),
        }
    }

    /// The firmware's and accelerator's description; refuses a firmware of
    /// another protocol version.
    pub fn info(&mut self) -> Result<DeviceInfo> {
        match self.request("Info", &Request::Info)? {
            Reply::Info(info) if info.protocol_version == PROTOCOL_VERSION => Ok(info),
            Reply::Info(info) => Err(Error::Protocol(format!(
                "firmware speaks protocol {}, this host {PROTOCOL_VERSION}",
                info.protocol_version
            ))),
            other => unexpected("Info", other),
        }
    }

    /// Loads `moduli[i]` into slot `first_slot + i` (the firmware computes
    /// the Barrett constant and twiddles).
    pub fn load_moduli(&mut self, first_slot: u8, moduli: &[u32]) -> Result<()> {
        let list = Moduli::new(moduli)
            .ok_or_else(|| Error::Invalid(format!("{} moduli in one request", moduli.len())))?;
        let request = Request::LoadModuli {
            first_slot,
            moduli: list,
        };
        expect_done("LoadModuli", self.request("LoadModuli", &request)?)?;
        for (i, &q) in moduli.iter().enumerate() {
            let slot = first_slot + i as u8;
            self.moduli.retain(|&(s, _)| s != slot);
            self.moduli.push((slot, q));
        }
        Ok(())
    }

    /// Writes `words` to the data memory from word `address`, in chunks.
    pub fn write_buffer(&mut self, address: u32, words: &[u32]) -> Result<()> {
        for (i, chunk) in words.chunks(MAX_CHUNK_WORDS).enumerate() {
            let address = chunk_address(address, i)?;
            let request = Request::WriteBuffer {
                address,
                words: Words::new(chunk),
            };
            expect_done("WriteBuffer", self.request("WriteBuffer", &request)?)?;
        }
        Ok(())
    }

    /// Reads `out.len()` words from word `address`, in chunks.
    pub fn read_buffer(&mut self, address: u32, out: &mut [u32]) -> Result<()> {
        for (i, chunk) in out.chunks_mut(MAX_CHUNK_WORDS).enumerate() {
            let address = chunk_address(address, i)?;
            let request = Request::ReadBuffer {
                address,
                count: chunk.len() as u16,
            };
            match self.request("ReadBuffer", &request)? {
                Reply::Data(words) if words.len() == chunk.len() => chunk.copy_from_slice(&words),
                Reply::Data(words) => {
                    return Err(Error::Protocol(format!(
                        "asked for {} words, got {}",
                        chunk.len(),
                        words.len()
                    )));
                }
                other => return unexpected("ReadBuffer", other),
            }
        }
        Ok(())
    }

    /// Reads `count` words from word `address` into a new vector.
    pub fn read_buffer_new(&mut self, address: u32, count: usize) -> Result<Vec<u32>> {
        let mut out = vec![0; count];
        self.read_buffer(address, &mut out)?;
        Ok(out)
    }

    /// Runs one job and waits for it; returns its cycles.
    pub fn run_job(&mut self, job: Job) -> Result<u32> {
        match self.request("RunJob", &Request::RunJob(job))? {
            Reply::JobDone(cycles) => {
                self.stats.job_cycles += cycles as u64;
                Ok(cycles)
            }
            other => unexpected("RunJob", other),
        }
    }

    /// Runs jobs in order (in batches of at most [`MAX_BATCH_JOBS`]),
    /// stopping at the first failure (its index in `jobs` is the error's
    /// `job`); returns their total cycles.
    pub fn run_batch(&mut self, jobs: &[Job]) -> Result<u64> {
        let mut total = 0;
        for (i, batch) in jobs.chunks(MAX_BATCH_JOBS).enumerate() {
            match self.request("RunBatch", &Request::RunBatch(Jobs::new(batch))) {
                Ok(Reply::BatchDone(n, cycles)) if n as usize == batch.len() => {
                    self.stats.job_cycles += cycles;
                    total += cycles;
                }
                Ok(Reply::BatchDone(n, _)) => {
                    return Err(Error::Protocol(format!(
                        "sent {} jobs, {n} ran",
                        batch.len()
                    )));
                }
                Ok(other) => return unexpected("RunBatch", other),
                Err(Error::Device {
                    request,
                    code,
                    detail,
                    job,
                }) => {
                    let offset = (i * MAX_BATCH_JOBS) as u16;
                    return Err(Error::Device {
                        request,
                        code,
                        detail,
                        job: job.map(|j| j + offset),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// The accelerator's counters and the firmware's link statistics.
    pub fn counters(&mut self) -> Result<Counters> {
        match self.request("ReadCounters", &Request::ReadCounters)? {
            Reply::Counters(c) => Ok(c),
            other => unexpected("ReadCounters", other),
        }
    }

    /// Clears the accelerator's errors and the firmware's statistics and
    /// replay cache (moduli and data stay).
    pub fn reset(&mut self) -> Result<()> {
        expect_done("Reset", self.request("Reset", &Request::Reset)?)?;
        self.baseline = None;
        Ok(())
    }

    /// Runs `work` so that its result is never silently wrong when the
    /// device restarts underneath it: before and after, the firmware's
    /// executed-request count and the accelerator's cycle counter must be
    /// exactly what this host's requests account for. If they are not,
    /// the device lost its state (or ran a request twice): the moduli
    /// loaded through this handle are loaded again and `work` runs again
    /// from the start, at most [`DeviceConfig::max_restarts`] times, then
    /// [`Error::DeviceReset`]. `work` must therefore write every input it
    /// reads, as a computation from host data does, and must not call
    /// [`Device::reset`]. A request that goes unanswered ends the work
    /// with its [`Error::Timeout`].
    pub fn run_verified<T>(&mut self, mut work: impl FnMut(&mut Device) -> Result<T>) -> Result<T> {
        let mut restarts = 0;
        loop {
            if self.baseline.is_none() {
                self.establish()?;
            }
            let outcome = work(self);
            if self.baseline.is_none() {
                // A request went unanswered: its error says why. (Work
                // that swallowed it cannot be verified: redo it.)
                if let Err(e) = outcome {
                    return Err(e);
                }
            }
            // Whatever the outcome, a lost state explains it first.
            match (self.verify(), outcome) {
                (Ok(true), outcome) => return outcome,
                (Err(e), _) => {
                    self.baseline = None;
                    return Err(e);
                }
                (Ok(false), outcome) => {
                    self.stats.resets_detected += 1;
                    self.baseline = None;
                    if restarts == self.config.max_restarts {
                        let why = match outcome {
                            Ok(_) => "its results were discarded".to_string(),
                            Err(e) => format!("the work failed with: {e}"),
                        };
                        return Err(Error::DeviceReset(format!(
                            "the device lost its state {} times during the work; {why}",
                            restarts + 1
                        )));
                    }
                    restarts += 1;
                }
            }
        }
    }

    /// Makes the device hold this handle's moduli and records a baseline.
    fn establish(&mut self) -> Result<()> {
        let info = self.info()?;
        let stale: Vec<(u8, u32)> = self
            .moduli
            .iter()
            .copied()
            .filter(|&(slot, q)| info.moduli.as_slice().get(slot as usize) != Some(&q))
            .collect();
        for (slot, q) in stale {
            self.load_moduli(slot, &[q])?;
        }
        let c = self.counters()?;
        self.baseline = Some(Baseline {
            requests: c.link.requests,
            cycles: c.cycles,
        });
        self.answered = 0;
        Ok(())
    }

    /// Whether the device's counters match the baseline and the requests
    /// answered since; on success the baseline moves to now.
    fn verify(&mut self) -> Result<bool> {
        let Some(base) = self.baseline else {
            return Ok(false);
        };
        let expected = base.requests.wrapping_add(self.answered);
        let c = self.counters()?;
        // The firmware counts ReadCounters itself before it answers.
        let ok = c.link.requests == expected.wrapping_add(1) && c.cycles >= base.cycles;
        self.baseline = ok.then_some(Baseline {
            requests: c.link.requests,
            cycles: c.cycles,
        });
        self.answered = 0;
        Ok(ok)
    }

    /// Sends `request` and returns its reply; device error replies become
    /// [`Error::Device`].
    pub fn request(&mut self, name: &'static str, request: &Request<'_>) -> Result<Reply> {
        match self.exchange(name, request)? {
            Reply::Error(e) => Err(Error::Device {
                request: name,
                code: e.code,
                detail: e.detail,
                job: e.job,
            }),
            reply => Ok(reply),
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == SEQ_NONE {
            self.seq = 1;
        }
        self.seq
    }

    /// One request, stop-and-wait: send, wait for the reply with its
    /// sequence number; on a timeout, a damaged frame or a NAK send the
    /// same frame again (the firmware replays the reply of a request it
    /// already ran).
    fn exchange(&mut self, name: &'static str, request: &Request<'_>) -> Result<Reply> {
        let mut seq = self.next_seq();
        let mut len = self.encode(seq, request)?;
        let mut reused = false;
        let attempts = self.config.retries + 1;
        for attempt in 0..attempts {
            if attempt > 0 {
                self.stats.retries += 1;
            }
            // A retransmission (or a session's first frame) starts with a
            // delimiter: whatever partial frame the device holds (a
            // truncated request, line noise) ends there as its own
            // rejected frame instead of spoiling this one.
            let frame = if attempt > 0 || self.stats.requests == 0 {
                &self.tx[..=len]
            } else {
                &self.tx[1..=len]
            };
            self.transport.send(frame)?;
            self.stats.link_bytes += frame.len() as u64;
            let deadline = Instant::now() + self.config.timeout;
            loop {
                match self.receive(deadline)? {
                    None => {
                        self.stats.timeouts += 1;
                        break;
                    }
                    Some(Incoming::Damaged) => {
                        // Perhaps our reply: ask again rather than wait.
                        self.stats.bad_frames += 1;
                        break;
                    }
                    Some(Incoming::Reply(SEQ_NONE, _)) => {
                        self.stats.naks += 1;
                        break;
                    }
                    Some(Incoming::Reply(s, _)) if s != seq => self.stats.stale += 1,
                    Some(Incoming::Reply(_, Reply::Error(e)))
                        if e.code == ErrorCode::SequenceReused && !reused =>
                    {
                        // Our number collides with the firmware's last one
                        // (a previous host session): take a fresh one.
                        reused = true;
                        seq = self.next_seq();
                        len = self.encode(seq, request)?;
                        break;
                    }
                    Some(Incoming::Reply(_, reply)) => {
                        self.stats.requests += 1;
                        self.answered = self.answered.wrapping_add(1);
                        return Ok(reply);
                    }
                }
            }
        }
        // The request may or may not have run: what the device holds is
        // no longer known.
        self.baseline = None;
        Err(Error::Timeout {
            request: name,
            attempts,
        })
    }

    fn encode(&mut self, seq: u32, request: &Request<'_>) -> Result<usize> {
        // tx[0] stays 0: the delimiter a retransmission goes out behind.
        encode_frame(seq, request, &mut self.tx[1..])
            .map_err(|e| Error::Invalid(format!("request cannot be framed: {e:?}")))
    }

    /// The next frame, or `None` at the deadline.
    fn receive(&mut self, deadline: Instant) -> Result<Option<Incoming>> {
        loop {
            while self.rx_pos < self.rx_len {
                let (used, frame) = self.decoder.feed(&self.rx[self.rx_pos..self.rx_len]);
                self.rx_pos += used;
                match frame {
                    None => {}
                    Some(Err(_)) => return Ok(Some(Incoming::Damaged)),
                    Some(Ok(payload)) => {
                        return Ok(Some(match payload.decode::<Response<'_>>() {
                            Ok((seq, response)) => {
                                Incoming::Reply(seq, Reply::from_response(&response))
                            }
                            Err(_) => Incoming::Damaged,
                        }));
                    }
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let n = self.transport.recv(&mut self.rx, deadline - now)?;
            self.stats.link_bytes += n as u64;
            (self.rx_pos, self.rx_len) = (0, n);
        }
    }
}

fn initial_sequence() -> u32 {
    // Differs between host sessions, so a new session's first request
    // does not collide with the firmware's replay cache.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32);
    let mixed = (nanos ^ std::process::id().rotate_left(13)).wrapping_mul(0x9E37_79B9);
    mixed.max(1)
}

fn chunk_address(address: u32, chunk: usize) -> Result<u32> {
    address
        .checked_add((chunk * MAX_CHUNK_WORDS) as u32)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "buffer at {address:#x} overflows the address space"
            ))
        })
}

fn expect_done(name: &'static str, reply: Reply) -> Result<()> {
    match reply {
        Reply::Done => Ok(()),
        other => unexpected(name, other),
    }
}

fn unexpected<T>(name: &'static str, reply: Reply) -> Result<T> {
    Err(Error::Protocol(format!(
        "unexpected reply to {name}: {reply:?}"
    )))
}
