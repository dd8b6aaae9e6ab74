//! Cycle-accurate simulator of the ola-fpga accelerator.
//!
//! [`Device`] is driven through the same bus as the RTL
//! ([`ola_spec::BusModel`]): for any sequence of bus transactions it
//! returns the same outputs on the same cycle and leaves the same memory.
//! It is fast because it never steps a cycle nobody observes: a job's
//! result is computed at software speed when the job starts (with the
//! RTL's exact datapath, [`datapath::LoadedModulus`]), and
//! [`Device::idle`] jumps over idle cycles by the exact count of
//! `ola_spec::config::Config::{ntt_cycles, vector_cycles}`. Equality with
//! the RTL is proven by co-simulation in the workspace's `tests/`.
//!
//! [`waveform::Recorder`] writes the bus as a VCD for GTKWave; the job
//! trace is [`Device::trace`].
//!
//! [`link::SpiLink`] is the SPI link from the firmware's CPU, cycle-exact
//! to the RTL bridge: a `WordBus` and an `embedded_hal::spi::SpiDevice`
//! that counts the cycles spent moving data.
// `unsafe` only in the expansion of `ola_arith::multiversion!` (the vector
// jobs' kernels), which calls `#[target_feature]` code after a run-time
// feature check.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod datapath;
pub mod device;
pub mod link;
pub mod waveform;

pub use device::{Device, JobRecord};
pub use link::{LinkStats, SpiLink};
