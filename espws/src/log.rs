//! The one place the crate's diagnostics go through: `log`, `defmt`, or nowhere.
//!
//! Messages use only `{}` placeholders with integers and `&str`, which both back ends format.

#[cfg(all(feature = "log", feature = "defmt"))]
compile_error!("espws: enable at most one of the `log` and `defmt` features");

#[cfg(all(feature = "defmt", feature = "std"))]
compile_error!("espws: `defmt` is for no_std targets; with `std`, use the `log` feature");

#[allow(unused_macros)]
macro_rules! emit {
    ($level:ident, $($arg:tt)*) => {{
        #[cfg(feature = "log")]
        ::log::$level!($($arg)*);
        #[cfg(feature = "defmt")]
        ::defmt::$level!($($arg)*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        {
            // Keep the arguments "used" so that builds without logging stay warning-free.
            let _ = ::core::format_args!($($arg)*);
        }
    }};
}

#[allow(unused_macros)]
macro_rules! trace { ($($arg:tt)*) => { emit!(trace, $($arg)*) }; }
#[allow(unused_macros)]
macro_rules! debug { ($($arg:tt)*) => { emit!(debug, $($arg)*) }; }
#[allow(unused_macros)]
macro_rules! info { ($($arg:tt)*) => { emit!(info, $($arg)*) }; }
#[allow(unused_macros)]
macro_rules! warn { ($($arg:tt)*) => { emit!(warn, $($arg)*) }; }
