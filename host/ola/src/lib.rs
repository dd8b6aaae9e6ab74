//! The `ola` tool: per-layer polynomial replacements of a CIFAR ResNet's
//! ReLUs under a cycle budget on the accelerator (OLA, method.md).
//!
//! Flow: [`cifar`] and [`model`] load and validate the inputs;
//! [`analysis`] streams the calibration set (input samples, bounds,
//! sensitivities); [`fit`] makes every candidate polynomial with its error
//! `E_i(d)`; [`costs`] prices each degree in device cycles; [`dp`] solves the
//! budgeted choice; [`plan`] is the output file; [`accuracy`] simulates the
//! substituted network; [`sequential`] refits layer by layer under the
//! approximated upstream; [`pipeline`] ties them together; [`plot`] draws;
//! [`demo`] is the built-in network for `ola` with no arguments.

pub mod accuracy;
pub mod analysis;
pub mod cifar;
pub mod costs;
pub mod demo;
pub mod dp;
pub mod error;
pub mod fit;
pub mod measured;
pub mod model;
pub mod offload;
pub mod pipeline;
pub mod plan;
pub mod plot;
pub mod sequential;
pub mod tune;

pub use error::{Error, Result};
