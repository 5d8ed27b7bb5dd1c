//! The async driver on tokio, through `embedded-io-adapters`.

use std::boxed::Box;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncRead as _;

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

    fn try_write_vectored(&mut self, parts: &[&[u8]]) -> Option<Result<usize, std::io::Error>> {
        let [head, body] = parts else {
            return None;
        };
        Some(match self.inner().try_write_vectored(&[IoSlice::new(head), IoSlice::new(body)]) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
            other => other,
        })
    }

    const POLLS_READ: bool = true;

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize, std::io::Error>> {
        // As FromTokio's read does, without a future around it.
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut buf = tokio::io::ReadBuf::new(buf);
        match Pin::new(self.inner_mut()).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
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
        let elapsed = self.origin.elapsed();
        Instant::from_millis(elapsed.as_secs() * 1000 + u64::from(elapsed.subsec_millis()))
    }
}

impl TokioTimer {
    fn instant(&self, deadline: Instant) -> tokio::time::Instant {
        self.origin + core::time::Duration::from_millis(deadline.as_millis())
    }
}

impl Timer for TokioTimer {
    // Boxed so that it can be kept and moved: one allocation per connection, not per wait.
    type Sleep = Pin<Box<tokio::time::Sleep>>;

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        Box::pin(tokio::time::sleep_until(self.instant(deadline)))
    }

    fn reset(&self, sleep: &mut Self::Sleep, deadline: Instant) {
        sleep.as_mut().reset(self.instant(deadline));
    }
}
