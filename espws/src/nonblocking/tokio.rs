//! The async driver on tokio: through `embedded-io-adapters`, or over a shared stream read by
//! readiness ([`TokioTcp`], the tokio server's).

use core::cell::{Ref, RefCell};
use std::boxed::Box;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead as _, AsyncWrite as _};

use embedded_io_adapters::tokio_1::FromTokio;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::{Timer, Transport};
use crate::time::{Clock, Instant};

/// Writes every part in order over a tokio stream; a header and payload pair goes out in
/// vectored writes, so that a frame leaves in one write when the socket takes it.
pub(crate) async fn write_all_parts<W: tokio::io::AsyncWrite + Unpin>(
    stream: &mut W,
    parts: &[&[u8]],
) -> io::Result<()> {
    let [head, body] = parts else {
        for part in parts {
            stream.write_all(part).await?;
        }
        return Ok(());
    };
    let (mut head, mut body) = (*head, *body);
    while !head.is_empty() {
        let n = stream.write_vectored(&[IoSlice::new(head), IoSlice::new(body)]).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_head = n.min(head.len());
        head = &head[from_head..];
        body = &body[n - from_head..];
    }
    stream.write_all(body).await
}

impl Transport for FromTokio<TcpStream> {
    async fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), std::io::Error> {
        write_all_parts(self.inner_mut(), parts).await
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

/// A tokio TCP stream that its owner shares (the tokio server's shutdown keeps a weak handle, to
/// shut its read side), read by readiness: a connection can wait for input without a buffer.
#[derive(Debug)]
pub struct TokioTcp {
    stream: SharedTcp,
    /// The last read was short, so tokio cleared the stream's read readiness: the next read
    /// would only wait for readiness again (no system call), which `poll_read_ready` does
    /// without the read around it.
    drained: bool,
}

/// A tokio TCP stream with more than one owner on its thread: its connection's transport, and
/// whoever may shut it (borrowed only between polls, never across one).
pub type SharedTcp = Rc<RefCell<TcpStream>>;

impl TokioTcp {
    /// Wraps a shared stream.
    pub fn new(stream: SharedTcp) -> Self {
        TokioTcp { stream, drained: false }
    }

    /// The stream.
    pub fn stream(&self) -> Ref<'_, TcpStream> {
        self.stream.borrow()
    }

    /// Reads through tokio's own `poll_read`, which also notices that a short read drained the
    /// socket (so the next read waits without a system call).
    fn poll_read_bytes(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = tokio::io::ReadBuf::new(buf);
        ready!(Pin::new(&mut *self.stream.borrow_mut()).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }

    fn poll_write_parts(&self, cx: &mut Context<'_>, parts: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.stream.borrow_mut()).poll_write_vectored(cx, parts)
    }

    fn shut_write(&self) -> io::Result<()> {
        socket2::SockRef::from(&*self.stream.borrow()).shutdown(std::net::Shutdown::Write)
    }
}

impl embedded_io_async::ErrorType for TokioTcp {
    type Error = io::Error;
}

impl embedded_io_async::Read for TokioTcp {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        core::future::poll_fn(|cx| self.poll_read_bytes(cx, buf)).await
    }
}

impl embedded_io_async::Write for TokioTcp {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        core::future::poll_fn(|cx| self.poll_write_parts(cx, &[IoSlice::new(buf)])).await
    }

    /// Nothing to flush: writes go straight to the socket.
    async fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for TokioTcp {
    async fn write_all_vectored(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        write_all_parts(self, parts).await
    }

    #[inline]
    fn try_write_vectored(&mut self, parts: &[&[u8]]) -> Option<io::Result<usize>> {
        let [head, body] = parts else {
            return None;
        };
        Some(match self.stream.borrow().try_write_vectored(&[IoSlice::new(head), IoSlice::new(body)]) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            other => other,
        })
    }

    const POLLS_READ: bool = true;

    #[inline(always)]
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // After a short read the next one, right after the message was handled, mostly finds
        // nothing: it would be tokio's readiness wait inside a read. The wait alone, then (the
        // read follows if readiness came meanwhile); once, so that a wake-up reads at once.
        if core::mem::take(&mut self.drained) {
            ready!(self.stream.borrow().poll_read_ready(cx))?;
        }
        let n = ready!(self.poll_read_bytes(cx, buf))?;
        // As tokio's own read decides to clear the readiness.
        self.drained = 0 < n && n < buf.len();
        Poll::Ready(Ok(n))
    }

    const PARKS_WHILE_PENDING: bool = true;

    async fn shutdown_write(&mut self) -> io::Result<()> {
        self.shut_write()
    }

    fn peer_reset(&self) -> bool {
        crate::server::holds_reset(socket2::SockRef::from(&*self.stream()))
    }
}

/// For tokio-rustls, which runs TLS over any tokio stream.
impl tokio::io::AsyncRead for TokioTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = ready!(self.poll_read_bytes(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for TokioTcp {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_parts(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        parts: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_parts(cx, parts)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shut_write())
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
