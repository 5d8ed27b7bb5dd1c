//! Serving one connection with the async driver: the HTTP phase, then the WebSocket.

use core::future::{poll_fn, Future};
use core::net::SocketAddr;

use embassy_futures::select::{select, Either};
use embedded_io_async::{Error as _, ErrorKind};

use super::transport::poll_read_parking;
use super::write::{linger, timed_write};
use super::{Timer, Transport, WebSocket};
use crate::proto::http_phase::HEAD_BUFFER;
use crate::proto::{
    Client, Closed, Finished, HttpEnd, HttpPhase, RecvBuf, ServeConfig, Served, Service, Step, Storage,
    LINGER,
};
use crate::wire::http;

/// A [`Service`] whose WebSockets run on the async driver (tokio, embassy-net).
#[allow(async_fn_in_trait)] // Send-ness follows the transport, as in embedded-io-async.
pub trait AsyncService: Service {
    /// Runs one accepted WebSocket connection. [`serve`] finishes the closing handshake after
    /// this returns, if the service did not.
    async fn websocket<T: Transport, B: Storage, K: Timer>(
        &self,
        ws: &mut WebSocket<T, B, K>,
        client: &Client<'_>,
        admission: Self::Admission,
    );
}

impl<T: Transport, B: Storage> Finished<T, B> {
    /// Sends FIN and, when the peer may still be reading, reads and discards until its FIN or
    /// [`LINGER`] passes, so that what was written last is not destroyed by a reset: the async
    /// driver's linger.
    pub async fn linger_async(mut self, timer: &impl Timer) {
        let deadline = timer.now() + LINGER;
        if self.wants_linger {
            linger(&mut self.transport, &mut self.rx, timer, deadline).await;
        } else {
            let _ = select(self.transport.shutdown_write(), timer.sleep_until(deadline)).await;
        }
    }
}

/// Serves one connection: HTTP requests until an upgrade, then the WebSocket, through
/// `service`. `id` and `peer` name the connection in logs and in its [`Client`].
//
// Not an `async fn`: its arguments would be kept in the future beside the `WebSocket` they are
// moved into, for the connection's life. The `WebSocket` is built first, and the future holds
// only it; the HTTP phase borrows its transport and buffer.
pub fn serve<'a, 'p, T, B, K, S>(
    io: T,
    rx: RecvBuf<B>,
    timer: K,
    config: &'a ServeConfig<'p>,
    service: &'a S,
    id: u64,
    peer: Option<SocketAddr>,
) -> impl Future<Output = Finished<T, B>> + use<'a, 'p, T, B, K, S>
where
    T: Transport,
    B: Storage,
    K: Timer,
    S: AsyncService + ?Sized,
{
    let mut ws = WebSocket::new(io, rx, config.connection, timer, config.write_timeout);
    async move {
        // Two futures awaited one after the other share their storage in this one: the HTTP
        // phase's answer buffer costs a bare-metal worker nothing while its WebSocket runs. On a
        // PC the HTTP phase's future lives on the heap for the handshake's duration, so that an
        // open connection's task holds only the WebSocket's; the `let` ends the phase's result
        // there too.
        let (io, rx, timer) = ws.http_parts();
        let (client, admission) =
            match rarely_awaited!(http_phase(io, rx, timer, config, service, id, peer)).await {
                HttpEnd::Upgraded(client, admission) => (client, admission),
                HttpEnd::Done { linger } => {
                    let (transport, rx) = ws.into_parts();
                    return Finished { served: Served::Http, transport, rx, wants_linger: linger };
                }
            };
        client.log_connected();
        // The connection's clock starts at the upgrade.
        ws.restart(config.connection);
        #[cfg(feature = "std")]
        if let Some(agreed) = client.deflate {
            ws.enable_deflate(&agreed);
        }
        service.websocket(&mut ws, &client, admission).await;
        rarely_awaited!(ws.finish()).await;
        let outcome = ws.connection().outcome();
        client.log_disconnected(outcome);
        let (transport, rx) = ws.into_parts();
        let how = outcome.unwrap_or(Closed::Dropped);
        Finished { served: Served::WebSocket(how), transport, rx, wants_linger: how.wants_linger() }
    }
}

/// Runs the HTTP phase to its end.
async fn http_phase<'p, T, B, K, S>(
    io: &mut T,
    rx: &mut RecvBuf<B>,
    timer: &K,
    config: &ServeConfig<'p>,
    service: &S,
    id: u64,
    peer: Option<SocketAddr>,
) -> HttpEnd<'p, S::Admission>
where
    T: Transport,
    B: Storage,
    K: Timer,
    S: AsyncService + ?Sized,
{
    let policy = config.upgrade_policy();
    let mut phase =
        HttpPhase::new(id, peer, config.handshake_timeout, config.effective_max_request_head(), timer.now());
    let mut out = [0u8; HEAD_BUFFER];
    let mut step = phase.handle_input(rx.pending(), false, timer.now(), &policy, service, &mut out);
    loop {
        match step {
            Step::Read => {
                let sleep = timer.sleep_until(phase.poll_timeout());
                let read = if T::PARKS_WHILE_PENDING {
                    // A connection that sent nothing yet, or a partial head, holds no buffer.
                    let read = select(poll_fn(|cx| poll_read_parking(io, rx, cx)), sleep).await;
                    rx.unpark();
                    read
                } else {
                    select(io.read(rx.spare_mut()), sleep).await
                };
                step = match read {
                    Either::First(Ok(0)) => return HttpEnd::Done { linger: false },
                    Either::First(Ok(n)) => {
                        rx.commit(n);
                        let full = rx.spare_mut().is_empty();
                        phase.handle_input(rx.pending(), full, timer.now(), &policy, service, &mut out)
                    }
                    Either::First(Err(e)) if e.kind() == ErrorKind::Interrupted => Step::Read,
                    Either::First(Err(_)) => return HttpEnd::Done { linger: false },
                    Either::Second(()) => phase.handle_timeout(rx.pending(), &mut out),
                };
            }
            Step::Respond { head, body, keep_alive, consumed } => {
                if timed_write(io, timer, config.write_timeout, &[&out[..head], body]).await.is_err() {
                    return HttpEnd::Done { linger: false };
                }
                if !keep_alive {
                    return HttpEnd::Done { linger: true };
                }
                rx.consume(consumed);
                let full = rx.spare_mut().is_empty();
                step = phase.handle_input(rx.pending(), full, timer.now(), &policy, service, &mut out);
            }
            Step::Refuse { len } => {
                let written = timed_write(io, timer, config.write_timeout, &[&out[..len]]).await;
                return HttpEnd::Done { linger: written.is_ok() };
            }
            Step::Upgrade { len, consumed, client, admission } => {
                if timed_write(io, timer, config.write_timeout, &[&out[..len]]).await.is_err() {
                    return HttpEnd::Done { linger: false };
                }
                rx.consume(consumed);
                return HttpEnd::Upgraded(client, admission);
            }
            Step::Close => return HttpEnd::Done { linger: false },
        }
    }
}

/// Answers with an error status without reading the request (such as the 503 of a full
/// server), then lingers so that the peer reads it.
pub async fn refuse<T: Transport, B: Storage, K: Timer>(
    io: &mut T,
    rx: &mut RecvBuf<B>,
    timer: &K,
    config: &ServeConfig<'_>,
    (status, reason): (http::StatusCode, &str),
) {
    let mut out = [0u8; HEAD_BUFFER];
    if let Ok(len) = http::write_error(&mut out, status, reason) {
        if timed_write(io, timer, config.write_timeout, &[&out[..len]]).await.is_ok() {
            let deadline = timer.now() + LINGER;
            linger(io, rx, timer, deadline).await;
        }
    }
}
