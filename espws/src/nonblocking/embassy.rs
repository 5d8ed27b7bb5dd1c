//! The async driver on embassy-net (smoltcp) and embassy-time: bare-metal ESP32 firmware, and
//! the simulator's TAP runtime.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embassy_net::tcp::TcpSocket;

use super::{Timer, Transport};
use crate::time::{Clock, Instant};

impl Transport for TcpSocket<'_> {
    async fn shutdown_write(&mut self) -> Result<(), embassy_net::tcp::Error> {
        // FIN goes out after the data already queued.
        self.close();
        self.flush().await
    }

    /// Copies what fits into the socket's send ring in one look at the socket, without a
    /// future: a frame's header and payload otherwise took a write each, through the driver's
    /// timed write (about 300 more RV32 instructions per 64-byte echo on the emulated board).
    fn try_write_vectored(&mut self, parts: &[&[u8]]) -> Option<Result<usize, embassy_net::tcp::Error>> {
        let write = pin!(self.write_with(|free| {
            let mut copied = 0;
            for part in parts {
                let take = part.len().min(free.len() - copied);
                free[copied..copied + take].copy_from_slice(&part[..take]);
                copied += take;
            }
            (copied, copied)
        }));
        // A full ring keeps this no-op waker; the write that then waits registers its own.
        Some(match write.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(result) => result,
            Poll::Pending => Ok(0),
        })
    }

    const POLLS_READ: bool = true;

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize, Self::Error>> {
        // embassy-net's read future keeps no state between polls (it is a `poll_fn` over the
        // socket), so a new one per poll is the same read.
        pin!(self.read(buf)).poll(cx)
    }

    // A pending read leaves nothing in the buffer: the bytes wait in the socket's ring, and its
    // receive waker brings the next poll. So a connection can lend its buffer out meanwhile.
    const PARKS_WHILE_PENDING: bool = true;
}

/// embassy-time as a [`Timer`]; its instants count from boot.
#[derive(Copy, Clone, Debug, Default)]
pub struct EmbassyTimer;

impl Clock for EmbassyTimer {
    fn now(&self) -> Instant {
        Instant::from_millis(embassy_time::Instant::now().as_millis())
    }
}

impl Timer for EmbassyTimer {
    type Sleep = embassy_time::Timer;

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        embassy_time::Timer::at(embassy_time::Instant::from_millis(deadline.as_millis()))
    }
}
