//! The device layer's errors: one enum, each variant a different thing the
//! caller may do about it.

use std::fmt;

use ola_protocol::ErrorCode;

/// Why a [`crate::Device`] call failed.
#[derive(Debug)]
pub enum Error {
    /// The transport failed (port closed, pty hung up, device thread gone).
    Io(std::io::Error),
    /// No valid reply after every attempt: each timed out, or was
    /// answered only by damaged frames or negative acknowledgements.
    Timeout {
        /// The request that went unanswered.
        request: &'static str,
        /// Attempts made (the first send and its retries).
        attempts: u32,
    },
    /// The firmware executed or refused the request and answered with an
    /// error code.
    Device {
        /// The request that failed.
        request: &'static str,
        /// The protocol's error code.
        code: ErrorCode,
        /// Detail of the code (device flags, the offending value, or 0).
        detail: u32,
        /// For a batch, the index of the job that failed.
        job: Option<u16>,
    },
    /// A well-framed reply that makes no sense for the request (wrong kind,
    /// wrong length, another protocol version).
    Protocol(String),
    /// The device lost its state (it restarted) while work was in flight,
    /// and the work could not be redone.
    DeviceReset(String),
    /// The caller's arguments cannot be sent (too many moduli, a buffer
    /// beyond the device's memory, …); nothing was sent.
    Invalid(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "device link failed: {e}"),
            Error::Timeout { request, attempts } => {
                write!(f, "device did not answer {request} ({attempts} attempts)")
            }
            Error::Device {
                request,
                code,
                detail,
                job,
            } => {
                write!(f, "device refused {request}: {code}, detail {detail:#x}")?;
                if let Some(job) = job {
                    write!(f, ", at job {job} of the batch")?;
                }
                Ok(())
            }
            Error::Protocol(msg) => write!(f, "protocol error: {msg}"),
            Error::DeviceReset(msg) => write!(f, "device reset: {msg}"),
            Error::Invalid(msg) => write!(f, "invalid request: {msg}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// The device layer's result.
pub type Result<T> = std::result::Result<T, Error>;
