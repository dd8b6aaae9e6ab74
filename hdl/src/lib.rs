//! RustHDL description of the ola-fpga accelerator's arithmetic.
//!
//! One widget per module, each checked bit-exactly against `ola-arith`:
//!
//! * [`mul32`]: pipelined 32 × 32 multiplier from 16 × 16 partial products.
//! * [`modmul`]: pipelined Barrett modular multiplier.
//! * [`lane`]: unified butterfly / vector lane (one multiplier per lane).
//! * [`engine`], [`accelerator`]: the job engine and its register file on
//!   a word bus.
//! * [`spi_bridge`]: the SPI link's peripheral bridge, and the accelerator
//!   behind it with the board's pins.
//!
//! [`rtl_sim`] runs the emitted Verilog under Verilator and Icarus so the
//! Verilog itself, not only RustHDL's model of it, is checked.
#![warn(missing_docs)]

pub mod accelerator;
pub mod config;
pub mod engine;
pub mod harness;
pub mod lane;
pub mod modmul;
pub mod mul32;
pub mod rtl_sim;
pub mod spi_bridge;
pub mod testing;

impl_clocked!(mul32::Mul32, mul32::MulLow32, modmul::ModMul, lane::Lane);
