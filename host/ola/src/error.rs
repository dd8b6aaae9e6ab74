//! One error type for the tool: every failure is a message that names the
//! file, tensor or value at fault (the binary prints it and exits non-zero).

use std::fmt;

/// A failure of the `ola` tool, with a human-readable explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with the given message.
    pub fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error(format!("tensor error: {e}"))
    }
}

impl From<ola_approx::ApproxError> for Error {
    fn from(e: ola_approx::ApproxError) -> Self {
        Error(format!("approximation error: {e}"))
    }
}

/// Adds context to an error: `"{context}: {inner}"`.
pub trait Context<T> {
    /// Prefixes the error message with `context()`.
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error(format!("{}: {}", context(), e.into().0)))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error(e.to_string())
    }
}
