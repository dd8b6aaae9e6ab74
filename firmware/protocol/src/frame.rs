//! Frames on the byte stream:
//!
//! ```text
//! COBS( postcard((seq: u32, message)) ‖ CRC-32 of those bytes, LE ) ‖ 0x00
//! ```
//!
//! The zero byte only ever appears as the delimiter, so a receiver that
//! lost track (noise, a dropped byte, a reset mid-frame) resynchronises at
//! the next `0x00`; senders may also put a `0x00` before a frame to flush
//! any garbage before it into its own (rejected) frame. Consecutive
//! delimiters are empty frames and are skipped.

use serde::{Deserialize, Serialize};

use crate::cobs::{self, Encoder};
use crate::crc::{Crc32, crc32};
use crate::{MAX_ENCODED, MAX_MESSAGE};

/// Why a message could not be framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too small, or the message is longer than
    /// [`MAX_MESSAGE`].
    TooLong,
    /// The message could not be serialised.
    Serialize,
}

/// Why a received frame was rejected. Each is a distinct [`ErrorCode`](crate::ErrorCode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// More than [`MAX_ENCODED`] bytes before a delimiter (the rest up to
    /// the delimiter was discarded).
    TooLong,
    /// Not valid COBS.
    Cobs,
    /// Too short to hold a message and a CRC.
    TooShort,
    /// The CRC does not match.
    Crc,
}

impl FrameError {
    /// The error code that reports it.
    pub fn code(self) -> crate::ErrorCode {
        match self {
            FrameError::TooLong => crate::ErrorCode::FrameTooLong,
            FrameError::Cobs => crate::ErrorCode::FrameCobs,
            FrameError::TooShort => crate::ErrorCode::FrameTooShort,
            FrameError::Crc => crate::ErrorCode::FrameCrc,
        }
    }
}

/// Why a frame's payload is not a valid message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Not a `(seq, message)` of this protocol (postcard refused it).
    Malformed,
    /// Bytes left after the message.
    TrailingBytes,
}

/// postcard output flavor: CRC and COBS on the fly, straight into the
/// caller's buffer (no intermediate copy of the message).
struct FrameFlavor<'a> {
    encoder: Encoder<'a>,
    crc: Crc32,
    message_len: usize,
}

impl postcard::ser_flavors::Flavor for FrameFlavor<'_> {
    type Output = usize;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.message_len += 1;
        if self.message_len > MAX_MESSAGE {
            return Err(postcard::Error::SerializeBufferFull);
        }
        self.crc.push(byte);
        self.encoder
            .push(byte)
            .map_err(|_| postcard::Error::SerializeBufferFull)
    }

    fn finalize(mut self) -> postcard::Result<usize> {
        for b in self.crc.finish().to_le_bytes() {
            self.encoder
                .push(b)
                .map_err(|_| postcard::Error::SerializeBufferFull)?;
        }
        Ok(self.encoder.finish())
    }
}

/// Frames `(seq, message)` into `out`, delimiter included; returns the
/// frame's length. A buffer of [`MAX_FRAME`](crate::MAX_FRAME) bytes
/// holds any message of this protocol.
pub fn encode_frame<M: Serialize>(
    seq: u32,
    message: &M,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    // Keep the last byte for the delimiter.
    let body = out.len().checked_sub(1).ok_or(EncodeError::TooLong)?;
    let flavor = FrameFlavor {
        encoder: Encoder::new(&mut out[..body]).map_err(|_| EncodeError::TooLong)?,
        crc: Crc32::new(),
        message_len: 0,
    };
    let n = postcard::serialize_with_flavor(&(seq, message), flavor).map_err(|e| match e {
        postcard::Error::SerializeBufferFull => EncodeError::TooLong,
        _ => EncodeError::Serialize,
    })?;
    out[n] = 0;
    Ok(n + 1)
}

/// Frames `(seq, message)` into a new vector, delimiter included.
#[cfg(feature = "std")]
pub fn encode_frame_vec<M: Serialize>(
    seq: u32,
    message: &M,
) -> Result<std::vec::Vec<u8>, EncodeError> {
    let mut out = std::vec![0u8; crate::MAX_FRAME];
    let n = encode_frame(seq, message, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// A received frame whose COBS and CRC are good: the message bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payload<'a> {
    bytes: &'a [u8],
    crc: u32,
}

impl<'a> Payload<'a> {
    /// The postcard bytes of `(seq, message)`.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The frame's CRC (identifies the request in the replay cache).
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// The sequence number alone (readable even when the message is not).
    pub fn sequence(&self) -> Option<u32> {
        postcard::take_from_bytes::<u32>(self.bytes)
            .ok()
            .map(|(seq, _)| seq)
    }

    /// Decodes `(seq, message)`, refusing trailing bytes.
    pub fn decode<M: Deserialize<'a>>(&self) -> Result<(u32, M), DecodeError> {
        let ((seq, message), rest) = postcard::take_from_bytes::<(u32, M)>(self.bytes)
            .map_err(|_| DecodeError::Malformed)?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes);
        }
        Ok((seq, message))
    }
}

/// Decodes a whole frame (delimiter optional) held in `frame`, in place:
/// for tests and one-shot use; streams go through [`FrameDecoder`].
pub fn decode_frame(frame: &mut [u8]) -> Result<Payload<'_>, FrameError> {
    let body = match frame.split_last() {
        Some((0, _)) => frame.len() - 1,
        _ => frame.len(),
    };
    if body > MAX_ENCODED {
        return Err(FrameError::TooLong);
    }
    check(&mut frame[..body])
}

/// COBS-decodes in place and checks length and CRC.
fn check(encoded: &mut [u8]) -> Result<Payload<'_>, FrameError> {
    let n = cobs::decode_in_place(encoded).map_err(|_| FrameError::Cobs)?;
    if n <= 4 {
        return Err(FrameError::TooShort);
    }
    let (bytes, tail) = encoded[..n].split_at(n - 4);
    let crc = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32(bytes) != crc {
        return Err(FrameError::Crc);
    }
    Ok(Payload { bytes, crc })
}

/// The receiving side of a byte stream: collects bytes up to each
/// delimiter in a fixed buffer of [`MAX_ENCODED`] bytes and checks the
/// frame. Never panics and never grows, whatever the input.
#[derive(Clone)]
pub struct FrameDecoder {
    buf: [u8; MAX_ENCODED],
    len: usize,
    /// The current frame overran the buffer: discard up to the delimiter.
    overflow: bool,
    /// The buffer holds the frame returned last; start afresh.
    returned: bool,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("len", &self.len)
            .field("overflow", &self.overflow)
            .finish()
    }
}

impl FrameDecoder {
    /// An empty decoder.
    pub const fn new() -> Self {
        FrameDecoder {
            buf: [0; MAX_ENCODED],
            len: 0,
            overflow: false,
            returned: false,
        }
    }

    /// Drops any partly received frame.
    pub fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
        self.returned = false;
    }

    /// Bytes of the current, incomplete frame.
    pub fn pending(&self) -> usize {
        if self.returned { 0 } else { self.len }
    }

    /// Consumes `input` up to and including the first delimiter that ends
    /// a non-empty frame; returns the bytes consumed and that frame's
    /// outcome (`None` when `input` ran out first). Call again with the
    /// rest of `input`.
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<Result<Payload<'_>, FrameError>>) {
        if self.returned {
            self.len = 0;
            self.returned = false;
        }
        for (i, &byte) in input.iter().enumerate() {
            if byte == 0 {
                if self.overflow {
                    self.overflow = false;
                    self.len = 0;
                    return (i + 1, Some(Err(FrameError::TooLong)));
                }
                if self.len == 0 {
                    continue;
                }
                self.returned = true;
                return (i + 1, Some(check(&mut self.buf[..self.len])));
            }
            if self.len < MAX_ENCODED {
                self.buf[self.len] = byte;
                self.len += 1;
            } else {
                self.overflow = true;
            }
        }
        (input.len(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip_and_damage() {
        let mut out = [0u8; 64];
        let n = encode_frame(7, &(1u8, 2u32), &mut out).unwrap();
        assert_eq!(out[n - 1], 0);
        assert!(!out[..n - 1].contains(&0));
        let mut copy = out;
        let payload = decode_frame(&mut copy[..n]).unwrap();
        assert_eq!(payload.sequence(), Some(7));
        assert_eq!(payload.decode::<(u8, u32)>(), Ok((7, (1, 2))));
        assert_eq!(
            payload.decode::<u8>(),
            Err(DecodeError::TrailingBytes),
            "a shorter message leaves bytes"
        );
        // Any single flipped bit is caught.
        for bit in 0..(n - 1) * 8 {
            let mut damaged = out;
            damaged[bit / 8] ^= 1 << (bit % 8);
            if damaged[bit / 8] == 0 {
                continue; // a new delimiter: the decoder would split there
            }
            assert!(decode_frame(&mut damaged[..n]).is_err(), "bit {bit}");
        }
        assert_eq!(
            encode_frame(1, &[0u8; 32], &mut [0u8; 8]),
            Err(EncodeError::TooLong)
        );
    }
}
