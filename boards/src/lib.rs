//! Boards and the open-toolchain synthesis flow for the ola-fpga accelerator.
//!
//! * [`board`]: board definitions (FPGA part, oscillator, the SPI link's
//!   pins), LPF constraints and the board's top module.
//! * [`flow`]: Verilog → yosys → nextpnr → bitstream, with a utilisation and
//!   Fmax report.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod board;
pub mod flow;
