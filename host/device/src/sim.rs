//! A simulated board: a thread that runs the real firmware server
//! (`ola-firmware`) against the cycle-accurate simulator (`ola-sim`)
//! through the simulator's model of the SPI link, reached by the host over
//! a pseudo-terminal pair or an in-process channel.
//!
//! Simulated time ([`SimTime`]) is kept apart from wall-clock time: the
//! host link is charged 10 bit times per byte at the board's UART rate
//! ([`DEFAULT_BAUD`]), the accelerator's clock runs at [`ACCEL_HZ`] and
//! counts SPI transfers and jobs separately. So a computation on the
//! simulated board reports what it would cost on the board, however fast
//! the host machine runs it.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ola_firmware::{DriverOptions, Server, SpiBus};
use ola_sim::SpiLink;
use ola_spec::config::Config;
use ola_spec::link::ControllerTiming;
use serialport::TTYPort;

use crate::transport::{ChannelPort, ChannelTransport, SerialTransport, channel_pair};

/// The board's UART rate (8N1): `firmware/board`'s `UART_BAUD`.
pub const DEFAULT_BAUD: u32 = 3_000_000;

/// The reference accelerator clock (125 MHz; SCK is an eighth of it).
pub const ACCEL_HZ: u64 = 125_000_000;

#[derive(Debug, Default)]
struct ClockInner {
    link_bytes: AtomicU64,
    spi_cycles: AtomicU64,
    accel_cycles: AtomicU64,
    baud: AtomicU32,
}

/// The simulated board's clock, shared between its thread and the host.
#[derive(Clone, Debug)]
pub struct SimClock(Arc<ClockInner>);

/// A reading of a [`SimClock`]; subtract two for the cost of what ran
/// between them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimTime {
    /// Bytes the board's UART carried, both directions.
    pub link_bytes: u64,
    /// The UART's rate.
    pub baud: u32,
    /// Accelerator cycles spent clocking SPI transactions.
    pub spi_cycles: u64,
    /// Accelerator cycles since power-on (SPI, jobs and idle time while
    /// the firmware waited for the host).
    pub accel_cycles: u64,
}

impl SimTime {
    /// Host-link time: 10 bit times a byte.
    pub fn link_seconds(&self) -> f64 {
        if self.baud == 0 {
            return 0.0;
        }
        self.link_bytes as f64 * 10.0 / self.baud as f64
    }

    /// SPI time at [`ACCEL_HZ`].
    pub fn spi_seconds(&self) -> f64 {
        self.spi_cycles as f64 / ACCEL_HZ as f64
    }

    /// The difference `self − earlier` (counters only grow; a restart of
    /// the simulated board starts its accelerator count afresh, which
    /// shows as 0 here).
    pub fn since(&self, earlier: &SimTime) -> SimTime {
        SimTime {
            link_bytes: self.link_bytes.saturating_sub(earlier.link_bytes),
            baud: self.baud,
            spi_cycles: self.spi_cycles.saturating_sub(earlier.spi_cycles),
            accel_cycles: self.accel_cycles.saturating_sub(earlier.accel_cycles),
        }
    }
}

impl SimClock {
    fn new(baud: u32) -> Self {
        let inner = ClockInner::default();
        inner.baud.store(baud, Ordering::Relaxed);
        SimClock(Arc::new(inner))
    }

    /// The time so far.
    pub fn now(&self) -> SimTime {
        SimTime {
            link_bytes: self.0.link_bytes.load(Ordering::Acquire),
            baud: self.0.baud.load(Ordering::Relaxed),
            spi_cycles: self.0.spi_cycles.load(Ordering::Acquire),
            accel_cycles: self.0.accel_cycles.load(Ordering::Acquire),
        }
    }

    fn add_link_bytes(&self, n: usize) {
        self.0.link_bytes.fetch_add(n as u64, Ordering::AcqRel);
    }
}

/// How a simulated board is built.
#[derive(Clone, Copy, Debug)]
pub struct SimBoardConfig {
    /// The accelerator's configuration.
    pub accelerator: Config,
    /// The host link's UART rate.
    pub baud: u32,
    /// The SPI controller's timing.
    pub timing: ControllerTiming,
    /// The firmware driver's options.
    pub driver: DriverOptions,
}

impl Default for SimBoardConfig {
    /// The reference board: `p8` at 125 MHz, SCK at 15.625 MHz, 3 Mbaud.
    fn default() -> Self {
        SimBoardConfig {
            accelerator: Config::named("p8").expect("p8 is a named configuration"),
            baud: DEFAULT_BAUD,
            timing: ControllerTiming::DEFAULT,
            driver: DriverOptions::default(),
        }
    }
}

/// Test controls shared with the board's thread.
#[derive(Debug, Default)]
struct Control {
    stop: AtomicBool,
    mute: AtomicBool,
    /// Power-cycle the board when this many more requests have run (their
    /// replies lost); 0: never.
    reset_countdown: AtomicU64,
    resets: AtomicU64,
}

/// The device end of a transport, as the board's thread uses it.
trait BoardPort: Send + 'static {
    /// Reads some bytes, waiting at most `timeout`; `Ok(0)` on a timeout.
    fn read_some(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;
    /// Sends a reply frame.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()>;
}

impl BoardPort for ChannelPort {
    fn read_some(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        if self.wait(timeout)? {
            self.read(buf)
        } else {
            Ok(0)
        }
    }
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        self.flush()
    }
}

impl BoardPort for TTYPort {
    fn read_some(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        serialport::SerialPort::set_timeout(self, timeout).map_err(io::Error::from)?;
        match self.read(buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            other => other,
        }
    }
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        self.flush()
    }
}

/// The firmware as the board runs it: the real server, over the real SPI
/// word bus, over the simulator's cycle-exact SPI link.
type BoardServer = Server<SpiBus<SpiLink>>;

/// One power-on of the board: its server and the clock it started at.
struct PowerOn {
    server: BoardServer,
    /// Link bytes charged to this power-on's accelerator clock so far.
    idled_bytes: u64,
}

impl PowerOn {
    fn new(config: &SimBoardConfig) -> Self {
        let device = ola_sim::Device::new(config.accelerator);
        // The timing was checked when the board was built.
        let link = SpiLink::new(device, config.timing).expect("valid controller timing");
        PowerOn {
            server: Server::with_options(SpiBus::new(link), config.driver),
            idled_bytes: 0,
        }
    }

    fn link(&mut self) -> &mut SpiLink {
        self.server.driver_mut().bus_mut().device_mut()
    }

    /// The accelerator runs while bytes cross the UART: idles it until
    /// `total_bytes` link bytes' time has passed since power-on.
    fn idle_for_link(&mut self, new_bytes: u64, baud: u32) {
        let before = self.idled_bytes * 10 * ACCEL_HZ / baud as u64;
        self.idled_bytes += new_bytes;
        let after = self.idled_bytes * 10 * ACCEL_HZ / baud as u64;
        self.link().idle(after - before);
    }
}

/// A simulated board running in its own thread. Dropping it stops the
/// thread.
pub struct SimBoard {
    control: Arc<Control>,
    clock: SimClock,
    thread: Option<JoinHandle<()>>,
    /// The far end of a pty given out by path.
    hold: Option<TTYPort>,
}

impl SimBoard {
    /// A board reached over an in-process channel.
    pub fn channel(config: SimBoardConfig) -> io::Result<(ChannelTransport, SimBoard)> {
        let (host, port) = channel_pair();
        Ok((host, Self::spawn(config, port)?))
    }

    /// A board reached over a pseudo-terminal pair, as a real board's
    /// serial port would be.
    pub fn pty(config: SimBoardConfig) -> io::Result<(SerialTransport<TTYPort>, SimBoard)> {
        let (host, port) = TTYPort::pair().map_err(io::Error::from)?;
        Ok((SerialTransport::new(host), Self::spawn(config, port)?))
    }

    /// A board on the master side of a pseudo-terminal pair; returns the
    /// path of the other side (`/dev/pts/N`), to be opened as a real
    /// board's serial port would be ([`SerialTransport::open`]).
    pub fn pty_path(config: SimBoardConfig) -> io::Result<(String, SimBoard)> {
        let (master, slave) = TTYPort::pair().map_err(io::Error::from)?;
        let path = serialport::SerialPort::name(&slave)
            .ok_or_else(|| io::Error::other("the pty pair has no path"))?;
        let mut board = Self::spawn(config, master)?;
        // Holding the far side open keeps the pty from hanging up before
        // the host opens it.
        board.hold = Some(slave);
        Ok((path, board))
    }

    fn spawn(config: SimBoardConfig, port: impl BoardPort) -> io::Result<SimBoard> {
        if !config.timing.is_valid() || config.baud == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "unusable board timing {:?} or baud rate {}",
                    config.timing, config.baud
                ),
            ));
        }
        let control = Arc::new(Control::default());
        let clock = SimClock::new(config.baud);
        let thread = std::thread::Builder::new()
            .name("ola-sim-board".into())
            .spawn({
                let (control, clock) = (Arc::clone(&control), clock.clone());
                move || serve(config, port, &control, &clock)
            })?;
        Ok(SimBoard {
            control,
            clock,
            thread: Some(thread),
            hold: None,
        })
    }

    /// The board's simulated clock.
    pub fn clock(&self) -> SimClock {
        self.clock.clone()
    }

    /// Makes the board stop answering (it still reads and drops every
    /// byte), or answer again.
    pub fn set_mute(&self, mute: bool) {
        self.control.mute.store(mute, Ordering::Release);
    }

    /// Power-cycles the board (firmware and accelerator: moduli, data and
    /// counters are lost) right after it has run `requests` more requests,
    /// before the last one's reply goes out; 0 disarms.
    pub fn reset_after(&self, requests: u64) {
        self.control
            .reset_countdown
            .store(requests, Ordering::Release);
    }

    /// Power cycles so far.
    pub fn resets(&self) -> u64 {
        self.control.resets.load(Ordering::Acquire)
    }
}

impl Drop for SimBoard {
    fn drop(&mut self) {
        self.control.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The board's thread: bytes in, one frame at a time through the server,
/// replies out; simulated time charged as it goes.
fn serve(config: SimBoardConfig, mut port: impl BoardPort, control: &Control, clock: &SimClock) {
    let mut board = PowerOn::new(&config);
    // Totals of earlier power-ons, so the clock never runs backwards.
    let (mut spi_base, mut accel_base) = (0u64, 0u64);
    let mut buf = vec![0u8; 4096];
    let mut replies: Vec<Vec<u8>> = Vec::new();
    while !control.stop.load(Ordering::Acquire) {
        let n = match port.read_some(&mut buf, Duration::from_millis(20)) {
            Ok(n) => n,
            Err(_) => return, // the host end is gone
        };
        if n == 0 {
            continue;
        }
        clock.add_link_bytes(n);
        board.idle_for_link(n as u64, config.baud);
        if control.mute.load(Ordering::Acquire) {
            continue;
        }
        // Frame by frame, so a power cycle can fall between two frames.
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let end = rest
                .iter()
                .position(|&b| b == 0)
                .map_or(rest.len(), |i| i + 1);
            let (piece, tail) = rest.split_at(end);
            rest = tail;
            let before = board.server.stats().requests;
            let _ = board.server.receive(piece, |reply| {
                replies.push(reply.to_vec());
                Ok::<(), ()>(())
            });
            let ran = board.server.stats().requests != before;
            if ran && countdown_hits(&control.reset_countdown) {
                let link = board.link();
                spi_base += link.stats().link_cycles;
                accel_base += link.elapsed();
                board = PowerOn::new(&config);
                control.resets.fetch_add(1, Ordering::AcqRel);
                replies.clear();
                rest = &[];
            }
        }
        // The clock is up to date before the host can see a reply.
        for reply in &replies {
            clock.add_link_bytes(reply.len());
            board.idle_for_link(reply.len() as u64, config.baud);
        }
        let link = board.link();
        let (spi, accel) = (link.stats().link_cycles, link.elapsed());
        clock.0.spi_cycles.store(spi_base + spi, Ordering::Release);
        clock
            .0
            .accel_cycles
            .store(accel_base + accel, Ordering::Release);
        for reply in replies.drain(..) {
            if port.send(&reply).is_err() {
                return;
            }
        }
    }
}

/// Counts one request down; true when the count reaches zero.
fn countdown_hits(countdown: &AtomicU64) -> bool {
    countdown
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
            (c > 0).then(|| c - 1)
        })
        .is_ok_and(|previous| previous == 1)
}
