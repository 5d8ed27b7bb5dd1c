//! The async driver on embassy-net (smoltcp) and embassy-time: bare-metal ESP32 firmware, and
//! the simulator's TAP runtime.

use embassy_net::tcp::TcpSocket;

use super::{Timer, Transport};
use crate::time::{Clock, Instant};

impl Transport for TcpSocket<'_> {
    async fn shutdown_write(&mut self) -> Result<(), embassy_net::tcp::Error> {
        // FIN goes out after the data already queued.
        self.close();
        self.flush().await
    }
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
