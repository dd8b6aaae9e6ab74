//! Logging shim: defmt's macros with the `defmt` feature, nothing without
//! it (the arguments are still evaluated by reference, so no
//! unused-variable warnings differ between the two builds).

#[cfg(feature = "defmt")]
macro_rules! log_debug {
    ($($t:tt)*) => { defmt::debug!($($t)*) };
}

#[cfg(not(feature = "defmt"))]
macro_rules! log_debug {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{ $( let _ = &$arg; )* }};
}

#[cfg(feature = "defmt")]
macro_rules! log_warn {
    ($($t:tt)*) => { defmt::warn!($($t)*) };
}

#[cfg(not(feature = "defmt"))]
macro_rules! log_warn {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{ $( let _ = &$arg; )* }};
}
