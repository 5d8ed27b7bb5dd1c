//! The async driver on tokio, through `embedded-io-adapters`.

use std::io::IoSlice;

use embedded_io_adapters::tokio_1::FromTokio;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::{Timer, Transport};
use crate::time::{Clock, Instant};

impl Transport for FromTokio<TcpStream> {
    async fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), std::io::Error> {
        let [head, body] = parts else {
            for part in parts {
                self.inner_mut().write_all(part).await?;
            }
            return Ok(());
        };
        let (mut head, mut body) = (*head, *body);
        let stream = self.inner_mut();
        while !head.is_empty() {
            let n = stream.write_vectored(&[IoSlice::new(head), IoSlice::new(body)]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            let from_head = n.min(head.len());
            head = &head[from_head..];
            body = &body[n - from_head..];
        }
        stream.write_all(body).await
    }

    async fn shutdown_write(&mut self) -> Result<(), std::io::Error> {
        self.inner_mut().shutdown().await
    }
}

/// tokio's timer as a [`Timer`], counting from its creation.
#[derive(Copy, Clone, Debug)]
pub struct TokioTimer {
    origin: tokio::time::Instant,
}

impl TokioTimer {
    /// A timer whose origin is now.
    pub fn new() -> Self {
        TokioTimer { origin: tokio::time::Instant::now() }
    }
}

impl Default for TokioTimer {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioTimer {
    fn now(&self) -> Instant {
        Instant::from_millis(self.origin.elapsed().as_millis() as u64)
    }
}

impl Timer for TokioTimer {
    async fn sleep_until(&self, deadline: Instant) {
        tokio::time::sleep_until(self.origin + core::time::Duration::from_millis(deadline.as_millis())).await
    }
}
