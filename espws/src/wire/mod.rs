//! Stateless wire formats: frame headers, masking, close payloads, the HTTP upgrade and its extension header.
//!
//! Everything here is a pure function over byte slices. "Need more bytes" is a result
//! ([`Status::Partial`]), never an error.

pub mod close;
pub mod extensions;
pub mod frame;
pub mod http;
pub mod mask;
pub mod url;

/// The outcome of parsing input that may be incomplete.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// The input ends before the item does; call again with more bytes.
    Partial,
    /// The item, and how many input bytes it took.
    Complete(T, usize),
}
