//! Error codes of error replies: stable numbers, never reused.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a request failed. The numeric codes ([`ErrorCode::code`]) are part
/// of the protocol: a code keeps its meaning forever, new ones are added
/// with new numbers. Ranges: 1–15 framing and sequencing, 16–31 request
/// checks done by the firmware, 32–47 refusals by the accelerator (one per
/// `ERRORS` flag), 48–63 device and transport faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 1: the frame is not valid COBS.
    FrameCobs,
    /// 2: the frame's CRC-32 does not match.
    FrameCrc,
    /// 3: the frame is longer than [`crate::MAX_ENCODED`].
    FrameTooLong,
    /// 4: the frame is too short to hold a sequence number and a CRC.
    FrameTooShort,
    /// 5: the CRC is right but the bytes are not a request of this
    /// protocol version (unknown command, truncated, trailing bytes).
    BadMessage,
    /// 6: the sequence number equals the last one served but the request
    /// differs; nothing was executed (the host must advance its number).
    SequenceReused,
    /// 7: sequence number [`crate::SEQ_NONE`] is reserved for replies.
    BadSequence,
    /// 16: a data chunk longer than [`crate::MAX_CHUNK_WORDS`].
    ChunkTooLong,
    /// 17: a buffer access reaches past the user memory.
    BufferOutOfRange,
    /// 18: a modulus slot the accelerator does not have.
    SlotOutOfRange,
    /// 19: a modulus the accelerator cannot use: not prime, not exactly
    /// the word's bits, or not `1 mod 2·N_max` (detail: the modulus).
    ModulusRejected,
    /// 20: a batch longer than [`crate::MAX_BATCH_JOBS`].
    BatchTooLong,
    /// 32: the job's operation code is unknown (`ERR_BAD_OP`).
    BadOp,
    /// 33: the job's size is unsupported (`ERR_BAD_SIZE`).
    BadSize,
    /// 34: the job's modulus slot holds no valid modulus (`ERR_BAD_MODULUS`).
    BadModulus,
    /// 35: a job buffer is not `N`-aligned (`ERR_MISALIGNED`).
    Misaligned,
    /// 36: a job buffer reaches past the user memory (`ERR_OUT_OF_RANGE`).
    OutOfRange,
    /// 37: a job was started while another ran (`ERR_BUSY`).
    Busy,
    /// 38: memory was accessed while a job ran (`ERR_ACCESS_WHILE_BUSY`).
    AccessWhileBusy,
    /// 39: an unmapped or read-only address was accessed (`ERR_BAD_ADDRESS`).
    BadAddress,
    /// 48: a job did not finish within the firmware's poll limit.
    Timeout,
    /// 49: the link to the accelerator failed.
    Bus,
    /// 50: no accelerator answers (detail: the ID register read).
    NoDevice,
    /// 51: the accelerator's configuration is beyond this firmware
    /// (detail: the CONFIG register).
    UnsupportedDevice,
    /// 52: the accelerator did not hold what was written, or raised an
    /// unexpected error (detail: the ERRORS register or the bad word's
    /// address).
    DeviceFault,
    /// 63: a firmware bug (a reply that could not be encoded).
    Internal,
    /// A code this version of the protocol does not know.
    Unknown(u16),
}

impl ErrorCode {
    const TABLE: [(ErrorCode, u16); 26] = [
        (ErrorCode::FrameCobs, 1),
        (ErrorCode::FrameCrc, 2),
        (ErrorCode::FrameTooLong, 3),
        (ErrorCode::FrameTooShort, 4),
        (ErrorCode::BadMessage, 5),
        (ErrorCode::SequenceReused, 6),
        (ErrorCode::BadSequence, 7),
        (ErrorCode::ChunkTooLong, 16),
        (ErrorCode::BufferOutOfRange, 17),
        (ErrorCode::SlotOutOfRange, 18),
        (ErrorCode::ModulusRejected, 19),
        (ErrorCode::BatchTooLong, 20),
        (ErrorCode::BadOp, 32),
        (ErrorCode::BadSize, 33),
        (ErrorCode::BadModulus, 34),
        (ErrorCode::Misaligned, 35),
        (ErrorCode::OutOfRange, 36),
        (ErrorCode::Busy, 37),
        (ErrorCode::AccessWhileBusy, 38),
        (ErrorCode::BadAddress, 39),
        (ErrorCode::Timeout, 48),
        (ErrorCode::Bus, 49),
        (ErrorCode::NoDevice, 50),
        (ErrorCode::UnsupportedDevice, 51),
        (ErrorCode::DeviceFault, 52),
        (ErrorCode::Internal, 63),
    ];

    /// The stable numeric code.
    pub fn code(self) -> u16 {
        if let ErrorCode::Unknown(code) = self {
            return code;
        }
        Self::TABLE
            .iter()
            .find(|(c, _)| *c == self)
            .map_or(0, |&(_, n)| n)
    }

    /// The error of a numeric code ([`ErrorCode::Unknown`] if unassigned).
    pub fn from_code(code: u16) -> Self {
        Self::TABLE
            .iter()
            .find(|&&(_, n)| n == code)
            .map_or(ErrorCode::Unknown(code), |&(c, _)| c)
    }

    /// The code of the accelerator's lowest set `ERRORS` flag (bit `i` maps
    /// to code `32 + i`), `None` for no flag.
    pub fn from_device_flags(flags: u32) -> Option<Self> {
        (flags != 0).then(|| Self::from_code(32 + flags.trailing_zeros() as u16))
    }

    /// Whether retrying the same request may succeed (a damaged frame, a
    /// link fault), as opposed to a request that is wrong as sent.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorCode::FrameCobs
                | ErrorCode::FrameCrc
                | ErrorCode::FrameTooLong
                | ErrorCode::FrameTooShort
                | ErrorCode::Bus
                | ErrorCode::Timeout
        )
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{self:?} (code {})", self.code())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u16(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u16::deserialize(deserializer).map(ErrorCode::from_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        for (i, &(error, code)) in ErrorCode::TABLE.iter().enumerate() {
            assert_eq!(error.code(), code);
            assert_eq!(ErrorCode::from_code(code), error);
            for &(other, other_code) in &ErrorCode::TABLE[i + 1..] {
                assert_ne!(code, other_code, "{error:?} and {other:?}");
            }
        }
        assert_eq!(ErrorCode::from_code(999), ErrorCode::Unknown(999));
        assert_eq!(ErrorCode::Unknown(999).code(), 999);
    }

    #[test]
    fn device_flags_map_to_codes() {
        use ola_spec::config::*;
        let pairs = [
            (ERR_BAD_OP, ErrorCode::BadOp),
            (ERR_BAD_SIZE, ErrorCode::BadSize),
            (ERR_BAD_MODULUS, ErrorCode::BadModulus),
            (ERR_MISALIGNED, ErrorCode::Misaligned),
            (ERR_OUT_OF_RANGE, ErrorCode::OutOfRange),
            (ERR_BUSY, ErrorCode::Busy),
            (ERR_ACCESS_WHILE_BUSY, ErrorCode::AccessWhileBusy),
            (ERR_BAD_ADDRESS, ErrorCode::BadAddress),
        ];
        for (flag, code) in pairs {
            assert_eq!(ErrorCode::from_device_flags(flag), Some(code));
            assert_eq!(ErrorCode::from_device_flags(flag | 1 << 31), Some(code));
        }
        assert_eq!(ErrorCode::from_device_flags(0), None);
    }
}
