//! The firmware of ola-fpga's reference platform, as a `no_std` library
//! without allocation: an MCU between the host (a serial byte stream) and
//! the accelerator (an SPI link to the FPGA's bridge).
//!
//! * [`spi_bus`]: [`SpiBus`], the accelerator's word bus over an
//!   `embedded_hal::spi::SpiDevice`, in the wire format of
//!   [`ola_spec::link`].
//! * [`driver`]: [`Driver`], the accelerator's registers and memories over
//!   any [`WordBus`]: identification, modulus slots with twiddles
//!   computed on the device from the primes, data transfers, jobs and
//!   batches with bounded polling, counters, errors.
//! * [`server`]: [`Server`], the command server speaking
//!   [`ola_protocol`] over `embedded_io::{Read, Write}`, one blocking loop
//!   ([`Server::run`]) or one chunk of bytes at a time
//!   ([`Server::receive`]).
//!
//! Logging goes through defmt with the `defmt` feature and compiles to
//! nothing without it (host tests link without a logger).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod log;

pub mod driver;
pub mod server;
pub mod spi_bus;

pub use driver::{Driver, DriverOptions, Error};
pub use ola_spec::link::WordBus;
pub use server::Server;
pub use spi_bus::SpiBus;

/// The firmware's version `(major, minor, patch)`, from the crate version.
pub const FIRMWARE_VERSION: (u16, u16, u16) = (
    parse_u16(env!("CARGO_PKG_VERSION_MAJOR")),
    parse_u16(env!("CARGO_PKG_VERSION_MINOR")),
    parse_u16(env!("CARGO_PKG_VERSION_PATCH")),
);

const fn parse_u16(s: &str) -> u16 {
    let bytes = s.as_bytes();
    let mut value = 0u16;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u16;
        i += 1;
    }
    value
}
