//! Requests, replies and their parts. Enum variants are encoded by index:
//! new variants go at the end, existing ones never change (a change that
//! breaks this bumps [`crate::PROTOCOL_VERSION`]).

use serde::de::{Deserializer, Error as _, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::packed::{Packed, PackedSlice, Words};
use crate::{ErrorCode, MAX_SLOTS};

/// One accelerator job: the descriptor registers, as raw values (the
/// accelerator checks them and refuses bad ones with a flag, which the
/// firmware reports as an error code).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Operation code ([`ola_spec::JobOp`] as `u8`).
    pub op: u8,
    /// `log2 N`.
    pub log_n: u8,
    /// Modulus slot.
    pub slot: u8,
    /// Word address of operand a (data memory).
    pub a: u32,
    /// Word address of operand b.
    pub b: u32,
    /// Word address of the destination.
    pub dst: u32,
    /// The constant of `MulConst`.
    pub constant: u32,
}

impl Job {
    /// A job of `op` on `2^log_n` words; `b` and `constant` zero.
    pub fn new(op: ola_spec::JobOp, log_n: u8, slot: u8, a: u32, dst: u32) -> Self {
        Job {
            op: op as u8,
            log_n,
            slot,
            a,
            b: 0,
            dst,
            constant: 0,
        }
    }

    /// With operand b.
    pub fn with_b(self, b: u32) -> Self {
        Job { b, ..self }
    }

    /// With the constant of `MulConst`.
    pub fn with_constant(self, constant: u32) -> Self {
        Job { constant, ..self }
    }
}

impl Packed for Job {
    /// `op, log_n, slot, 0, a, b, dst, constant` (words little-endian).
    const SIZE: usize = 20;
    fn pack(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&[self.op, self.log_n, self.slot, 0]);
        for (i, w) in [self.a, self.b, self.dst, self.constant].iter().enumerate() {
            w.pack(&mut out[4 + 4 * i..8 + 4 * i]);
        }
    }
    fn unpack(bytes: &[u8]) -> Self {
        let word = |i: usize| u32::unpack(&bytes[4 + 4 * i..8 + 4 * i]);
        Job {
            op: bytes[0],
            log_n: bytes[1],
            slot: bytes[2],
            a: word(0),
            b: word(1),
            dst: word(2),
            constant: word(3),
        }
    }
}

/// A list of jobs (20 bytes each on the wire).
pub type Jobs<'a> = PackedSlice<'a, Job>;

/// Up to [`MAX_SLOTS`] moduli (a postcard sequence of varints), without
/// allocation.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Moduli {
    len: u8,
    values: [u32; MAX_SLOTS],
}

impl Moduli {
    /// The list of `values`, `None` if longer than [`MAX_SLOTS`].
    pub fn new(values: &[u32]) -> Option<Self> {
        let mut list = Moduli::default();
        for &q in values {
            list.push(q)?;
        }
        Some(list)
    }

    /// Appends `q`; `None` when full.
    pub fn push(&mut self, q: u32) -> Option<()> {
        *self.values.get_mut(self.len as usize)? = q;
        self.len += 1;
        Some(())
    }

    /// The moduli.
    pub fn as_slice(&self) -> &[u32] {
        &self.values[..self.len as usize]
    }
}

impl core::fmt::Debug for Moduli {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl Serialize for Moduli {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len as usize))?;
        for q in self.as_slice() {
            seq.serialize_element(q)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Moduli {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModuliVisitor;
        impl<'de> Visitor<'de> for ModuliVisitor {
            type Value = Moduli;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "at most {MAX_SLOTS} moduli")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Moduli, A::Error> {
                let mut list = Moduli::default();
                while let Some(q) = seq.next_element::<u32>()? {
                    list.push(q)
                        .ok_or_else(|| A::Error::invalid_length(MAX_SLOTS + 1, &self))?;
                }
                Ok(list)
            }
        }
        deserializer.deserialize_seq(ModuliVisitor)
    }
}

/// A command from the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request<'a> {
    /// Liveness check: answered by [`Response::Pong`] with the same token.
    Ping {
        /// Echoed back.
        token: u32,
    },
    /// Firmware and accelerator description: [`Response::Info`].
    Info,
    /// Loads `moduli[i]` (and its Barrett constant and twiddle tables,
    /// computed by the firmware) into slot `first_slot + i`. Every modulus
    /// and slot is checked before anything is loaded. [`Response::Done`].
    LoadModuli {
        /// The first slot to load.
        first_slot: u8,
        /// The moduli, one per slot.
        moduli: Moduli,
    },
    /// Writes words to the data memory from word address `address`
    /// (at most [`crate::MAX_CHUNK_WORDS`]). [`Response::Done`].
    WriteBuffer {
        /// Data-memory word address.
        address: u32,
        /// The words.
        #[serde(borrow)]
        words: Words<'a>,
    },
    /// Reads `count` words (at most [`crate::MAX_CHUNK_WORDS`]) from word
    /// address `address`: [`Response::Data`].
    ReadBuffer {
        /// Data-memory word address.
        address: u32,
        /// Words to read.
        count: u16,
    },
    /// Runs one job and waits for it: [`Response::JobDone`].
    RunJob(Job),
    /// Runs jobs one after the other (each may read what the previous one
    /// wrote), stopping at the first that fails (the error reply names
    /// it): [`Response::BatchDone`]. At most [`crate::MAX_BATCH_JOBS`].
    RunBatch(#[serde(borrow)] Jobs<'a>),
    /// Cycle counters and link statistics: [`Response::Counters`].
    ReadCounters,
    /// Waits for a running job, clears the accelerator's errors and the
    /// server's state (statistics, replay cache); moduli and data stay.
    /// [`Response::Done`].
    Reset,
}

/// The firmware's and accelerator's description.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// [`crate::PROTOCOL_VERSION`] of the firmware.
    pub protocol_version: u16,
    /// Firmware version `(major, minor, patch)`.
    pub firmware_version: (u16, u16, u16),
    /// The accelerator's ID register (`ola_spec::map::ID_VALUE`).
    pub device_id: u32,
    /// Parallel butterflies `P`.
    pub lanes: u8,
    /// `log2 N_max`.
    pub log_max_n: u8,
    /// Modulus bit size (every modulus has exactly this many bits).
    pub word_bits: u8,
    /// Modulus slots.
    pub slots: u8,
    /// Words of data memory the host may use.
    pub user_words: u32,
    /// Largest data chunk of one request.
    pub max_chunk_words: u16,
    /// Largest batch of one request.
    pub max_batch_jobs: u16,
    /// The modulus in each slot, 0 for an empty slot.
    pub moduli: Moduli,
}

/// Link statistics of the server since start or [`Request::Reset`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStats {
    /// Requests executed.
    pub requests: u32,
    /// Requests answered from the replay cache (retries).
    pub replays: u32,
    /// Frames dropped for bad COBS, a bad CRC or a bad length.
    pub bad_frames: u32,
    /// Frames with a good CRC that were not valid requests.
    pub bad_messages: u32,
}

/// The accelerator's counters and status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Free-running cycle counter (`CYCLES_HI:CYCLES_LO`).
    pub cycles: u64,
    /// Cycles of the last completed job (`JOB_CYCLES`).
    pub job_cycles: u32,
    /// `STATUS` register.
    pub status: u32,
    /// `ERRORS` register (sticky flags).
    pub errors: u32,
    /// The server's link statistics.
    pub link: LinkStats,
}

/// An error reply's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What went wrong.
    pub code: ErrorCode,
    /// Detail depending on the code: the accelerator's error flags, the
    /// offending value, or 0.
    pub detail: u32,
    /// For a batch, the index of the job that failed (the ones before it
    /// ran and completed).
    pub job: Option<u16>,
}

/// A reply of the firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response<'a> {
    /// Answer to [`Request::Ping`].
    Pong {
        /// The request's token.
        token: u32,
    },
    /// Answer to [`Request::Info`].
    Info(DeviceInfo),
    /// A request without data to return succeeded.
    Done,
    /// Answer to [`Request::ReadBuffer`].
    Data(#[serde(borrow)] Words<'a>),
    /// Answer to [`Request::RunJob`].
    JobDone {
        /// The job's cycles (`JOB_CYCLES`).
        cycles: u32,
    },
    /// Answer to [`Request::RunBatch`].
    BatchDone {
        /// Jobs run.
        jobs: u16,
        /// Sum of their `JOB_CYCLES`.
        cycles: u64,
    },
    /// Answer to [`Request::ReadCounters`].
    Counters(Counters),
    /// The request failed (or, with sequence number
    /// [`crate::SEQ_NONE`], a frame was damaged).
    Error(ErrorReply),
}

impl Response<'_> {
    /// An error reply without detail.
    pub fn error(code: ErrorCode) -> Self {
        Response::Error(ErrorReply {
            code,
            detail: 0,
            job: None,
        })
    }
}
