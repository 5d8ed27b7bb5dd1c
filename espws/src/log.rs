//! The one place diagnostics go through: `log`, `defmt`, or nowhere.
//!
//! Messages use only `{}` placeholders with integers and `&str`, which both back ends format.
//! The macros are exported ([`info!`](crate::info) and its siblings) so that applications log
//! through the same shim and build with either back end; which one is this crate's feature,
//! not the caller's.

#[cfg(all(feature = "log", feature = "defmt"))]
compile_error!("espws: enable at most one of the `log` and `defmt` features");

#[cfg(all(feature = "defmt", feature = "std"))]
compile_error!("espws: `defmt` is for no_std targets; with `std`, use the `log` feature");

/// The back end the exported macros expand to, chosen by this crate's features.
#[doc(hidden)]
pub mod backend {
    #[cfg(not(any(feature = "log", feature = "defmt")))]
    pub use crate::__espws_no_log as debug;
    #[cfg(not(any(feature = "log", feature = "defmt")))]
    pub use crate::__espws_no_log as info;
    #[cfg(not(any(feature = "log", feature = "defmt")))]
    pub use crate::__espws_no_log as trace;
    #[cfg(not(any(feature = "log", feature = "defmt")))]
    pub use crate::__espws_no_log as warn;
    #[cfg(feature = "defmt")]
    pub use ::defmt::{debug, info, trace, warn};
    #[cfg(feature = "log")]
    pub use ::log::{debug, info, trace, warn};
}

/// Swallows a message when no logging back end is enabled, keeping its arguments "used" so
/// that such builds stay warning-free.
#[doc(hidden)]
#[macro_export]
macro_rules! __espws_no_log {
    ($($arg:tt)*) => {{
        let _ = ::core::format_args!($($arg)*);
    }};
}

/// Logs at trace level through espws's back end (`log`, `defmt`, or none).
#[macro_export]
macro_rules! trace { ($($arg:tt)*) => { $crate::log::backend::trace!($($arg)*) }; }
/// Logs at debug level through espws's back end (`log`, `defmt`, or none).
#[macro_export]
macro_rules! debug { ($($arg:tt)*) => { $crate::log::backend::debug!($($arg)*) }; }
/// Logs at info level through espws's back end (`log`, `defmt`, or none).
#[macro_export]
macro_rules! info { ($($arg:tt)*) => { $crate::log::backend::info!($($arg)*) }; }
/// Logs at warn level through espws's back end (`log`, `defmt`, or none).
#[macro_export]
macro_rules! warn { ($($arg:tt)*) => { $crate::log::backend::warn!($($arg)*) }; }
