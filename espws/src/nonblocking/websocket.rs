//! One WebSocket connection on the async driver: events in, frames out, deadlines kept.

use core::convert::Infallible;
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::Poll;
use core::time::Duration;

use embassy_futures::select::{select, Either3};
use embedded_io_async::{Error as _, ErrorKind};

use super::error::Error;
use super::replies::Replies;
use super::sender::Sender;
use super::transport::poll_read_parking;
#[cfg(feature = "client")]
use super::write::discard_until;
#[cfg(feature = "std")]
use super::write::Sending;
use super::write::{linger, send_replies, timed_write};
use super::{Timer, Transport};
use crate::proto::deflate;
use crate::proto::{Closed, Config, Connection, Event, RecvBuf, Role, Storage, LINGER};
use crate::server::gone_during_stop;
use crate::time::Instant;
use crate::CloseCode;

/// Writes the close frame the state machine queued, before the application hears of the end.
/// On a PC through the boxed `flush_frames`, so that the 132-byte frame does not sit in every
/// connection's task; on a device written out in place, where a helper's future would add 64
/// bytes to every worker task.
macro_rules! send_close_frame {
    ($ws:expr) => {{
        #[cfg(feature = "std")]
        rarely_awaited!(flush_frames(&mut $ws.conn, &mut $ws.io, &$ws.timer, $ws.write_timeout)).await;
        #[cfg(not(feature = "std"))]
        while let Some(frame) = $ws.conn.poll_transmit() {
            let parts = [frame.as_bytes()];
            if timed_write(&mut $ws.io, &$ws.timer, $ws.write_timeout, &parts).await.is_err() {
                break;
            }
        }
    }};
}

/// What [`WebSocket::next_or`] found first.
pub enum Next<'a, W, T, K> {
    /// An event from the peer, with a [`Sender`] to answer it.
    Event(Event<'a>, Sender<'a, T, K>),
    /// The other future completed first; the connection is untouched.
    Woken(W, Sender<'a, T, K>),
    /// The connection is over.
    End,
}

/// One WebSocket connection over an async transport, after the opening handshake.
pub struct WebSocket<T, B, K: Timer> {
    io: T,
    conn: Connection,
    rx: RecvBuf<B>,
    timer: K,
    write_timeout: Duration,
    /// The connection's one sleep, moved whenever the core's deadline moves.
    sleep: Option<K::Sleep>,
    /// The deadline `sleep` is set for.
    armed: Option<Instant>,
    /// The `Closed` event was delivered; there is nothing more to read.
    finished: bool,
    /// A shutdown shut the read side, so reads return at once: pause before the next.
    pause_before_read: bool,
    /// The inflater and the deflater, once [`enable_deflate`](Self::enable_deflate) turned
    /// compression on.
    compression: deflate::Compression,
}

impl<T: Transport, B: Storage, K: Timer> WebSocket<T, B, K> {
    /// Runs `config` over `io`; a write blocked longer than `write_timeout` drops the peer.
    /// `rx` may already hold bytes that followed the request head.
    pub fn new(io: T, rx: RecvBuf<B>, config: Config, timer: K, write_timeout: Duration) -> Self {
        Self::build(io, rx, config, Role::Server, timer, write_timeout)
    }

    /// Runs `config` over `io` as either end; a client's `rx` may hold frames that followed the
    /// 101 (see [`client::connect_async`](crate::client::connect_async)). Needs the `client`
    /// feature, which compiles the masking of outgoing payloads into the driver (and so is off
    /// in the bare-metal server, whose task sizes it would grow).
    #[cfg(feature = "client")]
    pub fn with_role(
        io: T,
        rx: RecvBuf<B>,
        config: Config,
        role: Role,
        timer: K,
        write_timeout: Duration,
    ) -> Self {
        Self::build(io, rx, config, role, timer, write_timeout)
    }

    fn build(io: T, rx: RecvBuf<B>, config: Config, role: Role, timer: K, write_timeout: Duration) -> Self {
        let conn = Connection::with_role(config, role, timer.now());
        WebSocket {
            io,
            conn,
            rx,
            timer,
            write_timeout,
            sleep: None,
            armed: None,
            finished: false,
            pause_before_read: false,
            compression: Default::default(),
        }
    }

    /// Turns permessage-deflate on, as `agreed` in the handshake: compressed messages are
    /// inflated (into a window sized for the agreement), and whole outgoing messages are
    /// compressed when that makes them smaller. Needs chunked delivery.
    #[cfg(feature = "std")]
    pub fn enable_deflate(&mut self, agreed: &deflate::Agreed) {
        self.compression.enable(&mut self.conn, agreed);
    }

    /// Waits for the next event, and returns it with a [`Sender`] to answer it.
    ///
    /// The last event is [`Event::Closed`] (its close frame is already sent); the call after it
    /// returns `None`. Then [`linger`](Self::linger), or drop the transport.
    #[allow(clippy::type_complexity)]
    pub async fn next_event(&mut self) -> Result<Option<(Event<'_>, Sender<'_, T, K>)>, Error<T::Error>> {
        match self.next_or(core::future::pending::<Infallible>()).await? {
            Next::Event(event, sender) => Ok(Some((event, sender))),
            Next::End => Ok(None),
            Next::Woken(never, _) => match never {},
        }
    }

    /// Like [`next_event`](Self::next_event), but also returns when `wake` completes first, so a
    /// task can serve its connection and, say, an outgoing message queue at once.
    ///
    /// Deal with what `wake` signalled before calling again: a future that is ready at once, every
    /// time, keeps the connection from reading (and, on tokio, its timers from firing).
    pub async fn next_or<W>(
        &mut self,
        wake: impl Future<Output = W>,
    ) -> Result<Next<'_, W, T, K>, Error<T::Error>> {
        let mut wake = pin!(wake);
        let pending = loop {
            if self.conn.wants_transmit() {
                rarely_awaited!(self.flush_control()).await;
            }
            if self.finished {
                return Ok(Next::End);
            }
            if let Some(pending) =
                deflate::poll_pending(&mut self.conn, &mut self.rx, &mut self.compression.inflate)
            {
                break pending;
            }
            if let Some(woken) = self.wait_and_read(wake.as_mut()).await {
                return Ok(Next::Woken(woken, self.sender()));
            }
        };
        let event = deflate::event(&self.conn, pending, &self.rx, &self.compression.inflate);
        if let Event::Closed { .. } = event {
            self.finished = true;
            // The close frame goes out now, before the application hears of the end.
            send_close_frame!(self);
        }
        let sender = Sender {
            io: &mut self.io,
            conn: &mut self.conn,
            timer: &self.timer,
            write_timeout: self.write_timeout,
            #[cfg(feature = "std")]
            deflate: self.compression.deflate.as_deref_mut(),
        };
        Ok(Next::Event(event, sender))
    }

    /// Runs the connection to its end, handing every event to `handler`, which answers through
    /// [`Replies`]; the driver writes the replies once the handler returns.
    ///
    /// Replies may borrow the event's payload, so an echo copies nothing. This is the tightest
    /// way to serve a connection: one loop, and no await in the handler.
    pub async fn run<F>(&mut self, mut handler: F) -> Result<(), Error<T::Error>>
    where
        F: for<'c, 'a> FnMut(Event<'a>, &mut Replies<'c, 'a>),
    {
        let mut never = pin!(core::future::pending::<Infallible>());
        loop {
            if self.conn.wants_transmit() {
                rarely_awaited!(self.flush_control()).await;
            }
            if self.finished {
                return Ok(());
            }
            let Some(pending) =
                deflate::poll_pending(&mut self.conn, &mut self.rx, &mut self.compression.inflate)
            else {
                if self.pause_before_read {
                    self.pause_after_stop().await;
                }
                self.arm_sleep();
                let step = if T::POLLS_READ {
                    self.poll_wait(never.as_mut()).await
                } else {
                    rarely_awaited!(self.future_wait(never.as_mut())).await
                };
                if let Some(never) = self.after_wait(step) {
                    match never {}
                }
                continue;
            };
            let event = deflate::event(&self.conn, pending, &self.rx, &self.compression.inflate);
            if let Event::Closed { .. } = event {
                self.finished = true;
                // The close frame goes out now, before the application hears of the end. The
                // event is kept across this write rather than made again after it: made twice,
                // it cost the RV32 board (a size-optimised build) about 450 instructions per
                // echo, and saved tokio nothing measurable.
                send_close_frame!(self);
            }
            // The replies end in this block, where the handler borrowed them: a write that has
            // to wait takes them.
            let (sending, close) = {
                let mut replies = Replies { conn: &mut self.conn, queued: heapless::Vec::new(), close: None };
                handler(event, &mut replies);
                let sending = send_replies(
                    &mut self.io,
                    &self.timer,
                    self.write_timeout,
                    #[cfg(feature = "std")]
                    self.compression.deflate.as_deref_mut(),
                    &mut replies.queued,
                );
                // Written at once, the common case: no await, and nothing of this path is kept
                // across the await below (what an async fn keeps across an await lives in the
                // task, and is written there on every path that defines it).
                #[cfg(feature = "std")]
                let sending = match sending {
                    Sending::Done(sent) => {
                        replies_sent(replies.conn, &self.timer, sent, replies.close);
                        continue;
                    }
                    Sending::Waits(write) => write,
                };
                (sending, replies.close)
            };
            replies_sent(&mut self.conn, &self.timer, sending.await, close);
        }
    }

    /// Waits for input, the core's next deadline, or `wake`, whichever comes first, and acts on
    /// the first two; returns what `wake` gave if it came first.
    async fn wait_and_read<W>(&mut self, wake: Pin<&mut impl Future<Output = W>>) -> Option<W> {
        if self.pause_before_read {
            self.pause_after_stop().await;
        }
        self.arm_sleep();
        let step = self.wait(wake).await;
        self.after_wait(step)
    }

    /// Moves the connection's sleep to the core's deadline, which moves with the connection's
    /// state rather than with every read (reads are dated by the timeouts).
    #[inline(always)]
    fn arm_sleep(&mut self) {
        let deadline = self.conn.poll_timeout();
        if deadline != self.armed {
            if let Some(deadline) = deadline {
                match &mut self.sleep {
                    Some(sleep) => self.timer.reset(sleep, deadline),
                    None => self.sleep = Some(self.timer.sleep_until(deadline)),
                }
            }
            self.armed = deadline;
        }
    }

    /// Waits for input, the sleep, or `wake`: a select by hand, the read first.
    #[inline(always)]
    async fn wait<W>(
        &mut self,
        wake: Pin<&mut impl Future<Output = W>>,
    ) -> Either3<Result<usize, T::Error>, (), W> {
        if T::POLLS_READ {
            self.poll_wait(wake).await
        } else {
            rarely_awaited!(self.future_wait(wake)).await
        }
    }

    /// [`wait`](Self::wait) for transports that can be polled: nothing but a poll function.
    /// Called right after a [`poll_pending`](deflate::poll_pending) that found nothing, which
    /// released what the last event held.
    #[inline(always)]
    fn poll_wait<'s, W: Future>(&'s mut self, wake: Pin<&'s mut W>) -> PollWait<'s, T, B, K, W> {
        self.rx.make_room();
        PollWait { ws: self, wake }
    }

    /// [`wait`](Self::wait) through the transport's read future.
    async fn future_wait<W>(
        &mut self,
        mut wake: Pin<&mut impl Future<Output = W>>,
    ) -> Either3<Result<usize, T::Error>, (), W> {
        let space = self.conn.read_buf(&mut self.rx);
        let io = &mut self.io;
        let mut sleep = match self.armed {
            Some(_) => self.sleep.as_mut(),
            None => None,
        };
        {
            let mut read = pin!(io.read(space));
            poll_fn(|cx| match read.as_mut().poll(cx) {
                Poll::Ready(result) => Poll::Ready(Either3::First(result)),
                Poll::Pending => sleep_or_wake(&mut sleep, wake.as_mut(), cx),
            })
            .await
        }
    }

    /// Acts on what [`wait`](Self::wait) found.
    #[inline(always)]
    fn after_wait<W>(&mut self, step: Either3<Result<usize, T::Error>, (), W>) -> Option<W> {
        if T::PARKS_WHILE_PENDING {
            self.rx.unpark();
        }
        match step {
            Either3::First(Ok(0)) => self.on_end_of_stream(),
            Either3::First(Ok(n)) => self.conn.handle_read_untimed(&mut self.rx, n),
            Either3::First(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
            // A TLS session reads the shut read side as a truncated stream; a reset is the peer's.
            Either3::First(Err(e)) if self.io.stop_requested() && !gone_during_stop(e.kind()) => {
                self.on_end_of_stream()
            }
            Either3::First(Err(e)) => {
                debug!("read failed: {}", e.kind() as u8);
                self.conn.handle_eof();
            }
            Either3::Second(()) => {
                self.conn.handle_timeout(self.timer.now());
                // Set the sleep again even if the deadline stayed: a completed sleep stays ready.
                self.armed = None;
            }
            Either3::Third(woken) => return Some(woken),
        }
        None
    }

    /// A read found end of stream: the peer's, or the server's shutdown waking the read (unless
    /// the socket holds the peer's reset, which that end of stream hides).
    #[cold]
    #[inline(never)]
    fn on_end_of_stream(&mut self) {
        if !self.io.stop_requested() || self.io.peer_reset() {
            self.conn.handle_eof();
            return;
        }
        let now = self.timer.now();
        // From the shutdown on, the wait's read is ready at once and wins every wait over the
        // sleep, so the close deadline is looked at here: a peer that never answers the 1001 is
        // given up on at the close timeout, as the blocking driver's clock check does. (Here,
        // out of line, rather than after the pause: there it grew the bare-metal board's
        // deepest stack by 1,360 bytes.)
        self.conn.handle_timeout(now);
        if self.conn.handle_stop(now) {
            self.pause_before_read = true;
        }
    }

    /// Waits a moment: after a shutdown, reads return at once, and the peer's close frame is
    /// still to come. Lent storage goes back meanwhile: every connection pauses at once, and
    /// would otherwise each hold a buffer until its close completes.
    #[cold]
    async fn pause_after_stop(&mut self) {
        self.pause_before_read = false;
        self.rx.park();
        let moment = self.timer.now() + core::time::Duration::from_millis(10);
        self.timer.sleep_until(moment).await;
    }

    /// Completes the closing handshake whatever the state: closes with 1000 if still open and
    /// waits for the peer's close frame (bounded by the close timeout).
    pub async fn finish(&mut self) {
        if self.conn.can_send() {
            let _ = self.conn.close(CloseCode::NORMAL, "", self.timer.now());
        }
        while let Ok(Some(_)) = self.next_event().await {}
    }

    /// A [`Sender`] for sending outside of an event.
    pub fn sender(&mut self) -> Sender<'_, T, K> {
        Sender {
            io: &mut self.io,
            conn: &mut self.conn,
            timer: &self.timer,
            write_timeout: self.write_timeout,
            #[cfg(feature = "std")]
            deflate: self.compression.deflate.as_deref_mut(),
        }
    }

    /// The state machine, for inspection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Gives back the transport and the receive buffer.
    pub fn into_parts(self) -> (T, RecvBuf<B>) {
        (self.io, self.rx)
    }

    async fn flush_control(&mut self) {
        while let Some(frame) = self.conn.poll_transmit() {
            if timed_write(&mut self.io, &self.timer, self.write_timeout, &[frame.as_bytes()]).await.is_err()
            {
                self.conn.handle_eof();
            }
        }
    }

    /// The transport, the buffer and the timer, for the HTTP phase before the upgrade.
    pub(super) fn http_parts(&mut self) -> (&mut T, &mut RecvBuf<B>, &K) {
        (&mut self.io, &mut self.rx, &self.timer)
    }

    /// Starts the connection's state machine afresh, at the upgrade: its timers count from now.
    pub(super) fn restart(&mut self, config: Config) {
        self.conn = Connection::with_role(config, Role::Server, self.timer.now());
    }

    /// After [`finish`](Self::finish): shuts the transport for writing and, when the peer may
    /// still be reading, reads and discards until its FIN or [`LINGER`] passes, so that the close
    /// frame is not destroyed by a reset.
    ///
    /// A client leaves closing TCP to the server (RFC 6455 section 7.1.1): it waits for the
    /// server's FIN, at most the close timeout, before it sends its own.
    pub async fn linger(&mut self) {
        #[cfg(feature = "client")]
        if !self.conn.role().is_server() {
            if self.conn.outcome().is_some_and(Closed::wants_linger) {
                let deadline = self.timer.now() + self.conn.close_timeout();
                discard_until(&mut self.io, &mut self.rx, &self.timer, deadline).await;
            }
            let deadline = self.timer.now() + LINGER;
            let _ = select(self.io.shutdown_write(), self.timer.sleep_until(deadline)).await;
            return;
        }
        let deadline = self.timer.now() + LINGER;
        if self.conn.outcome().is_some_and(Closed::wants_linger) {
            linger(&mut self.io, &mut self.rx, &self.timer, deadline).await;
        } else {
            let _ = select(self.io.shutdown_write(), self.timer.sleep_until(deadline)).await;
        }
    }
}

/// [`WebSocket::poll_wait`]'s future: the read, then the sleep, then `wake`. A future of its own
/// rather than a `poll_fn`, so that its poll is inlined into the connection's loop for certain;
/// it keeps only the connection and `wake`, the least for the task to store while it waits.
struct PollWait<'s, T, B, K: Timer, W> {
    ws: &'s mut WebSocket<T, B, K>,
    wake: Pin<&'s mut W>,
}

impl<T: Transport, B: Storage, K: Timer, W: Future> Future for PollWait<'_, T, B, K, W> {
    type Output = Either3<Result<usize, T::Error>, (), W::Output>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut core::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let ws = &mut *this.ws;
        match poll_read_parking(&mut ws.io, &mut ws.rx, cx) {
            Poll::Ready(result) => Poll::Ready(Either3::First(result)),
            Poll::Pending => {
                let mut sleep = match ws.armed {
                    Some(_) => ws.sleep.as_mut(),
                    None => None,
                };
                sleep_or_wake(&mut sleep, this.wake.as_mut(), cx)
            }
        }
    }
}

/// What follows an event's replies: the end of a peer that stopped reading past the write
/// timeout (`sent` false, treated as gone), or the close the handler asked for.
#[inline(always)]
fn replies_sent<K: Timer>(conn: &mut Connection, timer: &K, sent: bool, close: Option<(CloseCode, &str)>) {
    if !sent {
        conn.handle_eof();
    } else if let Some((code, reason)) = close {
        let _ = conn.close(code, reason, timer.now());
    }
}

/// Polls the connection's sleep, then the caller's `wake`; the second half of a wait.
#[inline(always)]
fn sleep_or_wake<S: Future<Output = ()> + Unpin, W, E>(
    sleep: &mut Option<&mut S>,
    wake: Pin<&mut impl Future<Output = W>>,
    cx: &mut core::task::Context<'_>,
) -> Poll<Either3<Result<usize, E>, (), W>> {
    if let Some(sleep) = sleep.as_mut() {
        if Pin::new(&mut **sleep).poll(cx).is_ready() {
            return Poll::Ready(Either3::Second(()));
        }
    }
    wake.poll(cx).map(Either3::Third)
}

/// [`WebSocket::flush_control`] on the connection's parts, for a caller that holds an event
/// borrowing its buffer.
#[cfg(feature = "std")]
async fn flush_frames<T: Transport, K: Timer>(
    conn: &mut Connection,
    io: &mut T,
    timer: &K,
    timeout: Duration,
) {
    while let Some(frame) = conn.poll_transmit() {
        if timed_write(io, timer, timeout, &[frame.as_bytes()]).await.is_err() {
            conn.handle_eof();
        }
    }
}
