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

use postcard::ser_flavors::{Cobs, Flavor, Slice, crc::CrcModifier};
use serde::{Deserialize, Serialize};

use crate::{MAX_ENCODED, MAX_MESSAGE};

/// The frames' CRC: CRC-32/ISO-HDLC (IEEE 802.3: reflected polynomial
/// `0xEDB88320`, initial value and final XOR `0xFFFFFFFF`), one 1 KiB
/// table computed at compile time. A `static` so digests can borrow it for
/// `'static`.
static CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

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

/// The outermost postcard flavor of a frame: refuses messages longer than
/// [`MAX_MESSAGE`] (the output buffer alone would not, as COBS overhead
/// varies), then hands each byte to CRC, COBS and the caller's buffer, so
/// the message is never copied.
struct Bounded<F> {
    inner: F,
    len: usize,
}

impl<F: Flavor> Flavor for Bounded<F> {
    type Output = F::Output;

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.len += 1;
        if self.len > MAX_MESSAGE {
            return Err(postcard::Error::SerializeBufferFull);
        }
        self.inner.try_push(byte)
    }

    fn finalize(self) -> postcard::Result<F::Output> {
        self.inner.finalize()
    }
}

type FrameFlavor<'a> = Bounded<CrcModifier<'static, Cobs<Slice<'a>>, u32>>;

/// `COBS(bytes ‖ CRC LE) ‖ 0x00` into `out`. postcard's COBS flavor always
/// reserves the next code byte, so a body whose last zero-free run is a
/// multiple of 254 bytes ends in an empty `0x01` block (as protocol
/// version 1 always did; `cobs::encode` would omit it, and either decodes).
fn frame_flavor(out: &mut [u8]) -> Result<FrameFlavor<'_>, EncodeError> {
    let cobs = Cobs::try_new(Slice::new(out)).map_err(|_| EncodeError::TooLong)?;
    Ok(Bounded {
        inner: CrcModifier::new(cobs, CRC32.digest()),
        len: 0,
    })
}

fn encode_error(e: postcard::Error) -> EncodeError {
    match e {
        postcard::Error::SerializeBufferFull => EncodeError::TooLong,
        _ => EncodeError::Serialize,
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
    let flavor = frame_flavor(out)?;
    let frame = postcard::serialize_with_flavor(&(seq, message), flavor).map_err(encode_error)?;
    Ok(frame.len())
}

/// Frames bytes that already are a postcard `(seq, message)` into `out`,
/// delimiter included; returns the frame's length. For relaying a
/// [`Payload`] and for tests that forge messages; no check is made that
/// the bytes decode.
pub fn encode_frame_bytes(message: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut flavor = frame_flavor(out)?;
    for &byte in message {
        flavor.try_push(byte).map_err(encode_error)?;
    }
    Ok(flavor.finalize().map_err(encode_error)?.len())
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
    // `check` needs a zero-free body (the stream decoder splits at zeros).
    if frame[..body].contains(&0) {
        return Err(FrameError::Cobs);
    }
    check(&mut frame[..body])
}

/// COBS-decodes in place and checks length and CRC. `encoded` holds no
/// zero byte (`cobs` would take one as the end of the frame).
fn check(encoded: &mut [u8]) -> Result<Payload<'_>, FrameError> {
    let n = cobs::decode_in_place(encoded).map_err(|e| match e {
        cobs::DecodeError::EmptyFrame => FrameError::TooShort,
        _ => FrameError::Cobs,
    })?;
    if n <= 4 {
        return Err(FrameError::TooShort);
    }
    let (bytes, tail) = encoded[..n].split_at(n - 4);
    let crc = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if CRC32.checksum(bytes) != crc {
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
    fn crc_is_crc32_iso_hdlc() {
        // The catalogue check value, also split across digest updates as
        // the encoder feeds it.
        assert_eq!(CRC32.checksum(b"123456789"), 0xCBF4_3926);
        let mut digest = CRC32.digest();
        digest.update(b"1234");
        digest.update(b"56789");
        assert_eq!(digest.finalize(), 0xCBF4_3926);
    }

    #[test]
    fn decodes_either_cobs_ending() {
        // A 250-byte message and its CRC make one zero-free 254-byte run:
        // our encoder ends it with an empty 0x01 block, `cobs::encode`
        // does not. Both are the same frame.
        let mut message = [0x55u8; 250];
        message[0] = 1; // seq 1
        let mut out = [0u8; 300];
        let n = encode_frame_bytes(&message, &mut out).unwrap();
        assert_eq!(&out[n - 2..n], &[1, 0], "trailing empty block");
        let mut body = [0u8; 254];
        body[..250].copy_from_slice(&message);
        body[250..].copy_from_slice(&CRC32.checksum(&message).to_le_bytes());
        assert!(!body.contains(&0), "the CRC has no zero byte");
        let mut plain = [0u8; 300];
        let m = cobs::encode(&body, &mut plain);
        assert_eq!(m, n - 2);
        assert_eq!(&plain[..m], &out[..m]);
        assert_eq!(decode_frame(&mut plain[..m]).unwrap().bytes(), &message);
        assert_eq!(decode_frame(&mut out[..n]).unwrap().bytes(), &message);
    }

    #[test]
    fn one_shot_decode_errors() {
        assert_eq!(decode_frame(&mut []), Err(FrameError::TooShort));
        assert_eq!(decode_frame(&mut [0]), Err(FrameError::TooShort));
        assert_eq!(decode_frame(&mut [2, 1, 1, 1]), Err(FrameError::TooShort));
        // A zero inside a frame, a block running past the end.
        assert_eq!(decode_frame(&mut [3, 1, 0, 1, 0]), Err(FrameError::Cobs));
        assert_eq!(
            decode_frame(&mut [9, 1, 2, 3, 4, 5, 0]),
            Err(FrameError::Cobs)
        );
        assert_eq!(decode_frame(&mut [6, 1, 2, 3, 4, 5]), Err(FrameError::Crc));
        let mut long = [1u8; MAX_ENCODED + 1];
        assert_eq!(decode_frame(&mut long), Err(FrameError::TooLong));
    }

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
