//! Serving one connection with the blocking driver: the HTTP phase, then the WebSocket.

use core::net::SocketAddr;
use core::time::Duration;

use embedded_io::{Error as _, ErrorKind};

use super::{Clock, Transport, WebSocket};
use crate::proto::http_phase::HEAD_BUFFER;
use crate::proto::{
    Client, Closed, Finished, HttpEnd, HttpPhase, RecvBuf, ServeConfig, Served, Service, Step, Storage,
    LINGER,
};

/// A [`Service`] whose WebSockets run on the blocking driver (a thread each).
pub trait BlockingService: Service {
    /// Runs one accepted WebSocket connection. [`serve`] finishes the closing handshake after
    /// this returns, if the service did not.
    fn websocket<T: Transport, B: Storage, C: Clock>(
        &self,
        ws: &mut WebSocket<T, B, C>,
        client: &Client<'_>,
        admission: Self::Admission,
    );
}

impl<T: Transport, B: Storage> Finished<T, B> {
    /// Sends FIN and, when the peer may still be reading, reads and discards until its FIN or
    /// [`LINGER`] passes, so that what was written last is not destroyed by a reset.
    pub fn linger(mut self, clock: &impl Clock) {
        let _ = self.transport.shutdown_write();
        if self.wants_linger {
            drain_until(&mut self.transport, &mut self.rx, clock, clock.now() + LINGER);
        }
    }
}

/// Reads and discards until the peer's FIN, an error or `deadline`.
pub(super) fn drain_until<T: Transport, B: Storage>(
    io: &mut T,
    rx: &mut RecvBuf<B>,
    clock: &impl Clock,
    deadline: crate::time::Instant,
) {
    loop {
        let now = clock.now();
        if now >= deadline || io.set_read_timeout(Some(deadline.saturating_duration_since(now))).is_err() {
            return;
        }
        rx.clear();
        match io.read(rx.spare_mut()) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Serves one connection: HTTP requests until an upgrade, then the WebSocket, through
/// `service`. `id` and `peer` name the connection in logs and in its [`Client`].
///
/// The transport's own timeouts bound writes; the request head is bounded by
/// `config.handshake_timeout`.
pub fn serve<T, B, C, S>(
    mut io: T,
    mut rx: RecvBuf<B>,
    clock: C,
    config: &ServeConfig<'_>,
    service: &S,
    id: u64,
    peer: Option<SocketAddr>,
) -> Finished<T, B>
where
    T: Transport,
    B: Storage,
    C: Clock,
    S: BlockingService + ?Sized,
{
    let (client, admission) = match http_phase(&mut io, &mut rx, &clock, config, service, id, peer) {
        HttpEnd::Upgraded(client, admission) => (client, admission),
        HttpEnd::Done { linger } => {
            return Finished { served: Served::Http, transport: io, rx, wants_linger: linger }
        }
    };
    run_websocket(io, rx, clock, config, service, &client, admission)
}

/// Runs the WebSocket phase to its end. A function of its own, so that the message loop is
/// compiled as one small, hot function (inlined into the thread's body with the HTTP phase,
/// it crossed the optimiser's size limits and the socket write stopped being inlined: about
/// 50 more instructions per message).
#[inline(never)]
fn run_websocket<T, B, C, S>(
    io: T,
    rx: RecvBuf<B>,
    clock: C,
    config: &ServeConfig<'_>,
    service: &S,
    client: &Client<'_>,
    admission: S::Admission,
) -> Finished<T, B>
where
    T: Transport,
    B: Storage,
    C: Clock,
    S: BlockingService + ?Sized,
{
    client.log_connected();
    let mut ws = WebSocket::new(io, rx, config.connection, clock);
    #[cfg(feature = "std")]
    if let Some(agreed) = client.deflate {
        ws.enable_deflate(&agreed);
    }
    service.websocket(&mut ws, client, admission);
    ws.finish();
    let outcome = ws.connection().outcome();
    client.log_disconnected(outcome);
    let (transport, rx) = ws.into_parts();
    let how = outcome.unwrap_or(Closed::Dropped);
    Finished { served: Served::WebSocket(how), transport, rx, wants_linger: how.wants_linger() }
}

/// Runs the HTTP phase to its end. A frame of its own, so that its answer buffer is off the
/// stack while the WebSocket runs (ESP-IDF's connection threads have little).
#[inline(never)]
fn http_phase<'p, T, B, C, S>(
    io: &mut T,
    rx: &mut RecvBuf<B>,
    clock: &C,
    config: &ServeConfig<'p>,
    service: &S,
    id: u64,
    peer: Option<SocketAddr>,
) -> HttpEnd<'p, S::Admission>
where
    T: Transport,
    B: Storage,
    C: Clock,
    S: BlockingService + ?Sized,
{
    let policy = config.upgrade_policy();
    let mut phase =
        HttpPhase::new(id, peer, config.handshake_timeout, config.effective_max_request_head(), clock.now());
    let mut out = [0u8; HEAD_BUFFER];
    let mut step = phase.handle_input(rx.pending(), false, clock.now(), &policy, service, &mut out);
    loop {
        match step {
            Step::Read => {
                let wait = phase.poll_timeout().saturating_duration_since(clock.now());
                if io.set_read_timeout(Some(wait.max(Duration::from_millis(1)))).is_err() {
                    return HttpEnd::Done { linger: false };
                }
                step = match io.read(rx.spare_mut()) {
                    Ok(0) => return HttpEnd::Done { linger: false },
                    Ok(n) => {
                        rx.commit(n);
                        let full = rx.spare_mut().is_empty();
                        phase.handle_input(rx.pending(), full, clock.now(), &policy, service, &mut out)
                    }
                    Err(e) if T::is_timeout(&e) => phase.handle_timeout(rx.pending(), &mut out),
                    Err(e) if e.kind() == ErrorKind::Interrupted => Step::Read,
                    Err(_) => return HttpEnd::Done { linger: false },
                };
            }
            Step::Respond { head, body, keep_alive, consumed } => {
                if io.write_all_vectored(&[&out[..head], body]).is_err() {
                    return HttpEnd::Done { linger: false };
                }
                if !keep_alive {
                    return HttpEnd::Done { linger: true };
                }
                rx.consume(consumed);
                let full = rx.spare_mut().is_empty();
                step = phase.handle_input(rx.pending(), full, clock.now(), &policy, service, &mut out);
            }
            Step::Refuse { len } => return HttpEnd::Done { linger: io.write_all(&out[..len]).is_ok() },
            Step::Upgrade { len, consumed, client, admission } => {
                if io.write_all(&out[..len]).is_err() {
                    return HttpEnd::Done { linger: false };
                }
                rx.consume(consumed);
                return HttpEnd::Upgraded(client, admission);
            }
            Step::Close => return HttpEnd::Done { linger: false },
        }
    }
}
