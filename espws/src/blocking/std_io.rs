//! The blocking driver on `std::net`: a TCP transport and a clock.

use core::time::Duration;
use std::io::{self, IoSlice, Write as _};
use std::net::{Shutdown, TcpStream};

use super::{Clock, Transport};
use crate::time::Instant;

/// A `std::net::TcpStream` as a [`Transport`], with vectored writes.
#[derive(Debug)]
pub struct TcpTransport(pub TcpStream);

impl embedded_io::ErrorType for TcpTransport {
    type Error = io::Error;
}

impl embedded_io::Read for TcpTransport {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        io::Read::read(&mut self.0, buf)
    }
}

impl embedded_io::Write for TcpTransport {
    fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> Result<(), io::Error> {
        self.0.flush()
    }
}

impl Transport for TcpTransport {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), io::Error> {
        self.0.set_read_timeout(timeout)
    }

    fn is_timeout(error: &io::Error) -> bool {
        // SO_RCVTIMEO expiry reads as EAGAIN on Unix and as a timeout elsewhere.
        matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
    }

    fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), io::Error> {
        let [head, body] = parts else {
            return parts.iter().try_for_each(|part| self.0.write_all(part));
        };
        let (mut head, mut body) = (*head, *body);
        while !head.is_empty() {
            let n = self.0.write_vectored(&[IoSlice::new(head), IoSlice::new(body)])?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let from_head = n.min(head.len());
            head = &head[from_head..];
            body = &body[n - from_head..];
        }
        self.0.write_all(body)
    }

    fn shutdown_write(&mut self) -> Result<(), io::Error> {
        self.0.shutdown(Shutdown::Write)
    }
}

/// `std::time::Instant` as a [`Clock`], counting from its creation.
#[derive(Copy, Clone, Debug)]
pub struct StdClock {
    origin: std::time::Instant,
}

impl StdClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        StdClock { origin: std::time::Instant::now() }
    }
}

impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for StdClock {
    fn now(&self) -> Instant {
        Instant::from_millis(self.origin.elapsed().as_millis() as u64)
    }
}
