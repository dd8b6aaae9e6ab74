//! Consistent Overhead Byte Stuffing: turns any byte string into one
//! without zero bytes (so `0x00` can delimit frames) at a cost of at most
//! one byte per 254, plus one.
//!
//! Each block is a code byte `c` (1..=255) followed by `c − 1` non-zero
//! bytes; a block with `c < 255` stands for its bytes followed by a zero,
//! except the last block, whose implied zero is dropped.

/// Largest encoded length of `n` bytes.
pub const fn max_encoded_len(n: usize) -> usize {
    n + n / 254 + 1
}

/// The output buffer is too small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

/// The input is not valid COBS (a zero byte, or a block running past the
/// end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidCobs;

/// A streaming COBS encoder into a caller's buffer.
#[derive(Debug)]
pub struct Encoder<'a> {
    out: &'a mut [u8],
    /// Where the current block's code byte goes.
    code_at: usize,
    /// Bytes of `out` used so far (including the pending code byte).
    len: usize,
    code: u8,
}

impl<'a> Encoder<'a> {
    /// An encoder writing to `out`.
    pub fn new(out: &'a mut [u8]) -> Result<Self, Overflow> {
        if out.is_empty() {
            return Err(Overflow);
        }
        Ok(Encoder {
            out,
            code_at: 0,
            len: 1,
            code: 1,
        })
    }

    /// Closes the current block and reserves the next block's code byte.
    fn close_block(&mut self) -> Result<(), Overflow> {
        if self.len >= self.out.len() {
            return Err(Overflow);
        }
        self.out[self.code_at] = self.code;
        self.code_at = self.len;
        self.len += 1;
        self.code = 1;
        Ok(())
    }

    /// Encodes one byte.
    #[inline]
    pub fn push(&mut self, byte: u8) -> Result<(), Overflow> {
        if byte == 0 {
            return self.close_block();
        }
        let slot = self.out.get_mut(self.len).ok_or(Overflow)?;
        *slot = byte;
        self.len += 1;
        self.code += 1;
        if self.code == 0xFF {
            self.close_block()?;
        }
        Ok(())
    }

    /// Writes the last code byte; returns the encoded length (no delimiter).
    pub fn finish(self) -> usize {
        self.out[self.code_at] = self.code;
        self.len
    }
}

/// Encodes `input` into `out`; returns the encoded length.
pub fn encode(input: &[u8], out: &mut [u8]) -> Result<usize, Overflow> {
    let mut encoder = Encoder::new(out)?;
    for &b in input {
        encoder.push(b)?;
    }
    Ok(encoder.finish())
}

/// Decodes `buf` in place (the decoded bytes are never longer than the
/// encoded ones); returns the decoded length.
pub fn decode_in_place(buf: &mut [u8]) -> Result<usize, InvalidCobs> {
    let len = buf.len();
    let (mut read, mut write) = (0, 0);
    while read < len {
        let code = buf[read] as usize;
        if code == 0 {
            return Err(InvalidCobs);
        }
        read += 1;
        let end = read + code - 1;
        if end > len {
            return Err(InvalidCobs);
        }
        while read < end {
            let b = buf[read];
            if b == 0 {
                return Err(InvalidCobs);
            }
            buf[write] = b;
            write += 1;
            read += 1;
        }
        if code != 0xFF && read < len {
            buf[write] = 0;
            write += 1;
        }
    }
    Ok(write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(input: &[u8]) {
        let mut out = [0u8; 1200];
        let n = encode(input, &mut out).unwrap();
        assert!(n <= max_encoded_len(input.len()), "length bound");
        assert!(!out[..n].contains(&0), "no zero in the encoding");
        let mut buf = out;
        let m = decode_in_place(&mut buf[..n]).unwrap();
        assert_eq!(&buf[..m], input);
    }

    #[test]
    fn known_answers() {
        // Examples of the COBS paper / common test vectors.
        let mut out = [0u8; 16];
        let n = encode(&[0], &mut out).unwrap();
        assert_eq!(&out[..n], &[1, 1]);
        let n = encode(&[0x11, 0x22, 0x00, 0x33], &mut out).unwrap();
        assert_eq!(&out[..n], &[3, 0x11, 0x22, 2, 0x33]);
        let n = encode(&[], &mut out).unwrap();
        assert_eq!(&out[..n], &[1]);
    }

    #[test]
    fn round_trips_around_block_boundaries() {
        for len in [0, 1, 2, 253, 254, 255, 256, 508, 509, 1000] {
            let nonzero: [u8; 1000] = core::array::from_fn(|i| (i % 255) as u8 + 1);
            round_trip(&nonzero[..len]);
            let mut with_zeros = nonzero;
            for i in (0..len).step_by(7) {
                with_zeros[i] = 0;
            }
            round_trip(&with_zeros[..len]);
            round_trip(&[0u8; 1000][..len]);
        }
    }

    #[test]
    fn rejects_bad_input_and_small_buffers() {
        assert_eq!(decode_in_place(&mut [3, 1]), Err(InvalidCobs));
        assert_eq!(decode_in_place(&mut [2, 0]), Err(InvalidCobs));
        assert_eq!(decode_in_place(&mut [0]), Err(InvalidCobs));
        assert_eq!(encode(&[1, 2, 3], &mut [0u8; 3]), Err(Overflow));
        assert_eq!(encode(&[], &mut []), Err(Overflow));
        assert_eq!(encode(&[0, 0], &mut [0u8; 2]), Err(Overflow));
        assert_eq!(encode(&[0, 0], &mut [0u8; 3]), Ok(3));
    }
}
