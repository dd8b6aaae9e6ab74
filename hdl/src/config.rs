//! Configurations: see [`ola_spec::config`].

pub use ola_spec::config::*;
