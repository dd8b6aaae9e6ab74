//! Byte-stream transports between the host and a device. Framing (COBS,
//! CRC, sequence numbers) is the [`crate::Device`]'s job; a transport only
//! moves bytes and waits with a timeout.

use std::io::{self, Read, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// A bidirectional byte stream to a device.
pub trait Transport: Send {
    /// Sends all of `bytes`.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Receives at least one byte into `buf`, waiting at most `timeout`;
    /// `Ok(0)` when nothing arrived in time.
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        (**self).send(bytes)
    }
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        (**self).recv(buf, timeout)
    }
}

/// A serial port: a real board's USB-UART bridge, or one end of a
/// pseudo-terminal pair.
pub struct SerialTransport<P> {
    port: P,
}

impl SerialTransport<Box<dyn serialport::SerialPort>> {
    /// Opens the port at `path` (e.g. `/dev/ttyUSB0`) at `baud`, 8N1, no
    /// flow control.
    pub fn open(path: &str, baud: u32) -> io::Result<Self> {
        let port = serialport::new(path, baud)
            .timeout(Duration::from_millis(10))
            .open()
            .map_err(io::Error::from)?;
        Ok(SerialTransport { port })
    }
}

/// A serial port a [`SerialTransport`] can drive: an opened port, or one
/// end of a pty pair.
pub trait Port: Send {
    /// The port.
    fn port(&mut self) -> &mut dyn serialport::SerialPort;
}

impl Port for Box<dyn serialport::SerialPort> {
    fn port(&mut self) -> &mut dyn serialport::SerialPort {
        &mut **self
    }
}

#[cfg(unix)]
impl Port for serialport::TTYPort {
    fn port(&mut self) -> &mut dyn serialport::SerialPort {
        self
    }
}

impl<P: Port> SerialTransport<P> {
    /// Wraps an open port.
    pub fn new(port: P) -> Self {
        SerialTransport { port }
    }
}

impl<P: Port> Transport for SerialTransport<P> {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let port = self.port.port();
        port.write_all(bytes)?;
        port.flush()
    }

    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let port = self.port.port();
        // serialport refuses a zero timeout on some platforms.
        port.set_timeout(timeout.max(Duration::from_micros(100)))
            .map_err(io::Error::from)?;
        match port.read(buf) {
            // A pty reports a timeout as an error rather than 0 bytes.
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "serial port closed",
            )),
            other => other,
        }
    }
}

/// The host end of an in-process byte channel (see [`channel_pair`]).
pub struct ChannelTransport {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    pos: usize,
}

/// The device end of an in-process byte channel: blocking `embedded_io`
/// reads and writes, as a UART would give the firmware.
pub struct ChannelPort {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    pos: usize,
    /// Bytes written and not yet sent (sent on flush or when large).
    out: Vec<u8>,
}

/// An in-process byte channel: the host's [`ChannelTransport`] and the
/// device's [`ChannelPort`].
pub fn channel_pair() -> (ChannelTransport, ChannelPort) {
    let (host_tx, device_rx) = mpsc::channel();
    let (device_tx, host_rx) = mpsc::channel();
    (
        ChannelTransport {
            tx: host_tx,
            rx: host_rx,
            pending: Vec::new(),
            pos: 0,
        },
        ChannelPort {
            tx: device_tx,
            rx: device_rx,
            pending: Vec::new(),
            pos: 0,
            out: Vec::new(),
        },
    )
}

fn disconnected() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the other end of the channel is gone",
    )
}

/// Copies from `pending[pos..]` into `buf`.
fn take_pending(pending: &[u8], pos: &mut usize, buf: &mut [u8]) -> usize {
    let n = buf.len().min(pending.len() - *pos);
    buf[..n].copy_from_slice(&pending[*pos..*pos + n]);
    *pos += n;
    n
}

impl Transport for ChannelTransport {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tx.send(bytes.to_vec()).map_err(|_| disconnected())
    }

    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        if self.pos == self.pending.len() {
            match self.rx.recv_timeout(timeout) {
                Ok(chunk) => (self.pending, self.pos) = (chunk, 0),
                Err(RecvTimeoutError::Timeout) => return Ok(0),
                Err(RecvTimeoutError::Disconnected) => return Err(disconnected()),
            }
        }
        Ok(take_pending(&self.pending, &mut self.pos, buf))
    }
}

impl ChannelPort {
    /// Waits for the next chunk; `Ok(false)` when `timeout` passed first.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        if self.pos < self.pending.len() {
            return Ok(true);
        }
        match self.rx.recv_timeout(timeout) {
            Ok(chunk) => {
                (self.pending, self.pos) = (chunk, 0);
                Ok(true)
            }
            Err(RecvTimeoutError::Timeout) => Ok(false),
            Err(RecvTimeoutError::Disconnected) => Err(disconnected()),
        }
    }
}

impl Read for ChannelPort {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos == self.pending.len() {
            let chunk = self.rx.recv().map_err(|_| disconnected())?;
            (self.pending, self.pos) = (chunk, 0);
        }
        Ok(take_pending(&self.pending, &mut self.pos, buf))
    }
}

impl Write for ChannelPort {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(buf);
        // A frame ends at its delimiter: deliver it even if nobody flushes.
        if buf.contains(&0) {
            self.flush()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            let chunk = std::mem::take(&mut self.out);
            self.tx.send(chunk).map_err(|_| disconnected())?;
        }
        Ok(())
    }
}
