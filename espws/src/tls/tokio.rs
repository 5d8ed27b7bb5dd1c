//! TLS for the async driver on tokio: tokio-rustls over the tokio server's [`TokioTcp`].

use core::future::poll_fn;
use core::time::Duration;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead as _, AsyncReadExt as _, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;

use super::{plain_http_answer, TlsConfig, TlsError, HANDSHAKE_RECORD};
use crate::nonblocking::{write_all_parts, TokioTcp, Transport};

/// A TLS connection over a tokio TCP stream, as a transport for the async driver.
///
/// A write completes only once its records have reached the socket: rustls buffers what the
/// socket does not take, and a frame left in that buffer would wait for the next write, so
/// every write is flushed (which also keeps the driver's write timeout meaningful).
pub struct TlsStream {
    inner: tokio_rustls::server::TlsStream<TokioTcp>,
}

impl core::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TlsStream")
    }
}

impl TlsStream {
    /// The TCP stream, for socket options.
    pub fn stream(&self) -> core::cell::Ref<'_, TcpStream> {
        self.inner.get_ref().0.stream()
    }
}

impl embedded_io_async::ErrorType for TlsStream {
    type Error = io::Error;
}

impl embedded_io_async::Read for TlsStream {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        poll_fn(|cx| Transport::poll_read(self, cx, buf)).await
    }
}

impl embedded_io_async::Write for TlsStream {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        let n = self.inner.write(buf).await?;
        self.inner.flush().await?;
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), io::Error> {
        self.inner.flush().await
    }
}

impl Transport for TlsStream {
    async fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), io::Error> {
        // Header and payload go into the same records.
        write_all_parts(&mut self.inner, parts).await?;
        self.inner.flush().await
    }

    // `try_write_vectored` keeps its default (`None`): whether a TLS write is complete is
    // known only once rustls's buffer has drained, which needs the future.

    const POLLS_READ: bool = true;

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize, io::Error>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut buf = ReadBuf::new(buf);
        match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            // The peer ended TCP without close_notify: an ordinary end of stream here, as
            // WebSocket frames delimit themselves.
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(0)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    async fn shutdown_write(&mut self) -> Result<(), io::Error> {
        // close_notify, then TCP end-of-stream.
        self.inner.shutdown().await
    }

    fn peer_reset(&self) -> bool {
        crate::server::holds_reset(socket2::SockRef::from(&*self.stream()))
    }
}

/// Runs the server side of the TLS handshake on an accepted stream, within `timeout`.
///
/// A client whose first byte is not a TLS handshake record gets a plain-HTTP `400` naming the
/// `https://` URL ([`TlsError::NotTls`]).
pub async fn accept(stream: TokioTcp, config: &TlsConfig, timeout: Duration) -> Result<TlsStream, TlsError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut first = [0u8; 1];
    // The shared stream is borrowed per poll, never across a wait.
    let peek = poll_fn(|cx| stream.stream().poll_peek(cx, &mut ReadBuf::new(&mut first)));
    match tokio::time::timeout_at(deadline, peek).await {
        Err(_) => return Err(TlsError::TimedOut),
        Ok(Ok(0)) => return Err(TlsError::Closed),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(e.into()),
    }
    if first[0] != HANDSHAKE_RECORD {
        answer_plain_http(stream).await;
        return Err(TlsError::NotTls);
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
        Err(_) => Err(TlsError::TimedOut),
        Ok(Ok(inner)) => Ok(TlsStream { inner }),
        Ok(Err(e)) => Err(handshake_error(e)),
    }
}

/// tokio-rustls reports TLS errors as `io::Error`s wrapping a `rustls::Error`.
fn handshake_error(e: io::Error) -> TlsError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return TlsError::Closed;
    }
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => TlsError::Protocol(tls.clone()),
        None => TlsError::Io(e),
    }
}

/// Answers a plain-HTTP client with the `400`, then closes without a reset.
async fn answer_plain_http(mut stream: TokioTcp) {
    let Ok(local) = stream.stream().local_addr() else { return };
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(plain_http_answer(local).as_bytes()).await?;
        stream.shutdown().await?;
        let mut scratch = [0u8; 1024];
        while stream.read(&mut scratch).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
}
