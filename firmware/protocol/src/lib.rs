//! The protocol between the ola-fpga host and the firmware that drives the
//! accelerator (the "interface control document"): data types only, shared
//! by both sides, `no_std` without allocation (feature `std` adds host
//! conveniences).
//!
//! * [`message`]: [`Request`] and [`Response`] (serde, postcard-encoded).
//! * [`ErrorCode`]: stable numeric error codes of error replies.
//! * [`frame`]: `COBS(postcard((seq, message)) ‖ CRC-32) ‖ 0x00` frames,
//!   the encoder and a streaming decoder with a fixed buffer.
//!   COBS is the `cobs` crate (through postcard's COBS flavor), CRC-32 the
//!   `crc` crate's CRC-32/ISO-HDLC.
//!
//! **Exchange.** The host sends one request frame and waits for the reply
//! frame carrying the same sequence number (stop-and-wait). Sequence
//! numbers are chosen by the host, never [`SEQ_NONE`]; a new request gets
//! a new number, a retry keeps it. The firmware remembers its last reply:
//! a request with the last served number and the same CRC gets that reply
//! again without being executed a second time (so retrying a lost reply
//! never runs a job twice); the same number with different content is
//! refused with [`ErrorCode::SequenceReused`]. A damaged frame is answered
//! by an error reply with sequence number [`SEQ_NONE`] (a negative
//! acknowledgement: the host retransmits its outstanding request); replies
//! whose number is not the outstanding one are stale and dropped. A host
//! starting a session should not reuse the number the firmware served
//! last: it starts from a random number (a `SequenceReused` reply to its
//! first request means "advance and send again").
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod error;
pub mod frame;
pub mod message;
pub mod packed;

pub use error::ErrorCode;
#[cfg(feature = "std")]
pub use frame::encode_frame_vec;
pub use frame::{
    DecodeError, EncodeError, FrameDecoder, FrameError, Payload, decode_frame, encode_frame,
    encode_frame_bytes,
};
pub use message::{
    Counters, DeviceInfo, ErrorReply, Job, Jobs, LinkStats, Moduli, Request, Response,
};
pub use packed::{Packed, PackedSlice, Words};

/// Version of this protocol; a firmware and a host talk only if equal.
pub const PROTOCOL_VERSION: u16 = 1;

/// The sequence number of replies to damaged frames; never used by a
/// request.
pub const SEQ_NONE: u32 = 0;

/// Largest data chunk of one request or reply: 1024 words (4 KiB).
pub const MAX_CHUNK_WORDS: usize = 1024;

/// Largest batch of one [`Request::RunBatch`] (20 bytes a job).
pub const MAX_BATCH_JOBS: usize = 128;

/// Largest number of modulus slots the protocol describes.
pub const MAX_SLOTS: usize = 8;

/// Largest postcard encoding of `(seq, message)`: a full data chunk and
/// room for its header (sequence, variant, address, length: < 16 bytes).
pub const MAX_MESSAGE: usize = 4 * MAX_CHUNK_WORDS + 32;

/// Largest COBS-encoded frame body (message and CRC), without delimiter.
pub const MAX_ENCODED: usize = cobs::max_encoding_length(MAX_MESSAGE + 4);

// The encoder reserves a code byte after every full 254-byte block, even a
// final one, so its worst case is n + n/254 + 1: one more than
// `max_encoding_length(n)` when n is a multiple of 254 (this n is not).
const _: () = {
    let n = MAX_MESSAGE + 4;
    let worst = n + n / 254 + 1;
    assert!(MAX_ENCODED >= worst);
};

/// Largest frame on the wire, delimiter included.
pub const MAX_FRAME: usize = MAX_ENCODED + 1;
