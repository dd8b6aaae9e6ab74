//! The host's device layer: a typed, blocking [`Device`] API over the
//! firmware protocol (`ola-protocol`), with per-request timeouts, retries
//! under the same sequence number (the firmware replays the reply of a
//! request it already ran), resynchronisation on the COBS delimiter, and
//! detection of a device that restarted underneath the work
//! ([`Device::run_verified`]).
//!
//! Transports ([`Transport`]): a serial port to a real board
//! ([`SerialTransport::open`]), and two ways to reach a simulated board
//! that runs the real firmware against the cycle-accurate simulator
//! ([`sim::SimBoard`]): a pseudo-terminal pair and an in-process channel.
//! The simulated board charges the board's link rates in simulated time
//! ([`sim::SimTime`]): host-link bytes at the UART's baud rate, SPI
//! transfers and jobs in accelerator cycles.
//!
//! [`fault::FaultyTransport`] damages frames for the reliability tests.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod device;
pub mod error;
pub mod fault;
pub mod sim;
pub mod transport;

pub use device::{Cost, Device, DeviceConfig, HostStats, Reply};
pub use error::{Error, Result};
pub use ola_protocol::{Counters, DeviceInfo, ErrorCode, Job};
pub use transport::{ChannelPort, ChannelTransport, SerialTransport, Transport, channel_pair};
