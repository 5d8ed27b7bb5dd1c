//! What the espws firmware crates share, kept out of the apps: the build-time settings, Wi-Fi
//! provisioning, and the RAM budget the build checks configurations against.
//!
//! Everything here compiles and is tested on the host, because the firmware crates themselves
//! need the chips' toolchains.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod budget;
pub mod build_settings;
pub mod provision;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "std")]
pub mod tls_files;
#[cfg(feature = "embassy")]
pub mod worker_memory;
