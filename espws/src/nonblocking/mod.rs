//! The async driver: the same state machine over `embedded-io-async`, for embassy-net on bare
//! metal and tokio on a PC.
//!
//! Deadlines from the core are honoured with a [`Timer`], raced against the read; no protocol
//! logic lives here. [`serve`] runs one TCP connection end to end: HTTP requests, then the
//! WebSocket, exactly as the blocking server does.

// The coarse timer keeps deadlines in 64-bit atomics, which 32-bit devices lack.
#[cfg(all(feature = "std", target_has_atomic = "64"))]
mod coarse;
#[cfg(feature = "embassy")]
mod embassy;
#[cfg(feature = "tokio")]
mod tokio;

use core::convert::Infallible;
use core::future::poll_fn;
use core::future::Future;
use core::pin::{pin, Pin};
use core::task::Poll;
use core::time::Duration;

use embassy_futures::select::{select, Either, Either3};
use embedded_io_async::{Error as _, ErrorKind, Read, Write};

use crate::proto::deflate::{self, InflateSlot};
use crate::proto::handshake::{self, Answer, Declined, HeadError, Policy};
use crate::proto::{Closed, Config, Connection, Event, RecvBuf, SendError};
use crate::time::{Clock, Instant};
use crate::wire::frame::EncodedHeader;
use crate::wire::http::{self, Request, Response, StatusCode, EMPTY_HEADER, MAX_HEADERS};
use crate::wire::Status;
use crate::{CloseCode, DataKind};

#[cfg(all(feature = "std", target_has_atomic = "64"))]
pub use coarse::{CoarseSleep, CoarseTimer};
#[cfg(feature = "embassy")]
pub use embassy::EmbassyTimer;
#[cfg(feature = "tokio")]
pub use tokio::TokioTimer;

/// How long a closed connection keeps reading (and discarding) after its FIN, so that the
/// peer receives the close frame rather than a reset.
pub const LINGER: Duration = Duration::from_secs(2);

/// An async byte stream the driver can run a connection over.
#[allow(async_fn_in_trait)] // Send-ness follows the concrete transport, as in embedded-io-async.
pub trait Transport: Read + Write {
    /// Writes all `parts` in order; transports that can should do it in one vectored write.
    async fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), Self::Error> {
        for part in parts {
            self.write_all(part).await?;
        }
        Ok(())
    }

    /// Sends end-of-stream after everything written so far, keeping the read side open.
    async fn shutdown_write(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Writes what the transport takes of `parts` at once, without waiting: the bytes taken
    /// (0 if it would have to wait), or `None` if it cannot tell without waiting. Lets a write
    /// that completes at once skip the machinery of a future.
    fn try_write_vectored(&mut self, _parts: &[&[u8]]) -> Option<Result<usize, Self::Error>> {
        None
    }

    /// Whether [`poll_read`](Self::poll_read) works: then a wait polls the transport directly
    /// instead of building a read future each time.
    const POLLS_READ: bool = false;

    /// Polls a read directly; only called when [`POLLS_READ`](Self::POLLS_READ) is set.
    fn poll_read(
        &mut self,
        _cx: &mut core::task::Context<'_>,
        _buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        Poll::Pending
    }
}

/// A clock that can also wait: the runtime's timer.
pub trait Timer: Clock {
    /// The runtime's sleep, which can be moved to a new deadline.
    type Sleep: Future<Output = ()> + Unpin;

    /// A sleep that completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// Moves `sleep` to a new deadline, whether or not it has completed: cheaper than a new
    /// sleep on runtimes whose timers are registered.
    fn reset(&self, sleep: &mut Self::Sleep, deadline: Instant) {
        *sleep = self.sleep_until(deadline);
    }
}

/// Why a driver call failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The transport failed; the connection is over.
    Io(E),
    /// A write stayed blocked past the write timeout: the peer stopped reading and is dropped.
    WriteTimedOut,
    /// The frame could not be sent (see [`SendError`]).
    Send(SendError),
}

impl<E> From<SendError> for Error<E> {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
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
    /// The inflater, once permessage-deflate is on.
    inflate: InflateSlot,
    #[cfg(feature = "std")]
    deflate: Option<std::boxed::Box<deflate::Deflate>>,
}

/// How many replies one event's handler may queue with [`WebSocket::run`].
pub const MAX_REPLIES: usize = 4;

/// The replies an event handler queues in [`WebSocket::run`], written once it returns.
pub struct Replies<'c, 'a> {
    conn: &'c mut Connection,
    queued: heapless::Vec<(EncodedHeader, &'a [u8]), MAX_REPLIES>,
    close: Option<(CloseCode, &'a str)>,
}

/// Why a reply could not be queued.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// The frame may not be sent now (see [`SendError`]).
    Send(SendError),
    /// [`MAX_REPLIES`] replies are queued already for this event.
    Full,
}

impl<'a> Replies<'_, 'a> {
    /// Queues one frame of a message (whole when `first` and `last` are both set); the payload
    /// may be the event's own.
    pub fn send_part(
        &mut self,
        kind: DataKind,
        payload: &'a [u8],
        first: bool,
        last: bool,
    ) -> Result<(), ReplyError> {
        if self.queued.is_full() {
            return Err(ReplyError::Full);
        }
        let header =
            self.conn.send_header(kind, payload.len() as u64, first, last).map_err(ReplyError::Send)?;
        let _ = self.queued.push((header, payload));
        Ok(())
    }

    /// Queues a whole text message.
    pub fn send_text(&mut self, text: &'a str) -> Result<(), ReplyError> {
        self.send_part(DataKind::Text, text.as_bytes(), true, true)
    }

    /// Queues a whole binary message.
    pub fn send_binary(&mut self, bytes: &'a [u8]) -> Result<(), ReplyError> {
        self.send_part(DataKind::Binary, bytes, true, true)
    }

    /// Starts the closing handshake after the queued replies.
    pub fn close(&mut self, code: CloseCode, reason: &'a str) -> Result<(), ReplyError> {
        if !code.is_allowed_on_wire() {
            return Err(ReplyError::Send(SendError::CloseCodeNotAllowed));
        }
        self.close = Some((code, reason));
        Ok(())
    }
}

/// Sends frames on a connection while an event borrows its receive buffer.
pub struct Sender<'a, T, K> {
    io: &'a mut T,
    conn: &'a mut Connection,
    timer: &'a K,
    write_timeout: Duration,
    #[cfg(feature = "std")]
    deflate: Option<&'a mut deflate::Deflate>,
}

impl<T: Transport, B: AsRef<[u8]> + AsMut<[u8]>, K: Timer> WebSocket<T, B, K> {
    /// Runs `config` over `io`; a write blocked longer than `write_timeout` drops the peer.
    /// `rx` may already hold bytes that followed the request head.
    pub fn new(io: T, rx: RecvBuf<B>, config: Config, timer: K, write_timeout: Duration) -> Self {
        let conn = Connection::new(config, timer.now());
        WebSocket {
            io,
            conn,
            rx,
            timer,
            write_timeout,
            sleep: None,
            armed: None,
            finished: false,
            inflate: Default::default(),
            #[cfg(feature = "std")]
            deflate: None,
        }
    }

    /// Turns permessage-deflate on, as agreed in the handshake: compressed messages are inflated
    /// (into a window sized for `agreed`) and whole outgoing messages are compressed when that
    /// makes them smaller.
    #[cfg(feature = "std")]
    #[inline(never)]
    pub fn enable_deflate(&mut self, agreed: &deflate::Agreed) {
        self.conn.enable_deflate();
        self.inflate = Some(deflate::boxed_inflate(agreed));
        self.deflate = Some(std::boxed::Box::new(deflate::Deflate::new(agreed)));
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
                self.flush_control().await;
            }
            if self.finished {
                return Ok(Next::End);
            }
            if let Some(pending) = deflate::poll_pending(&mut self.conn, &mut self.rx, &mut self.inflate) {
                break pending;
            }
            if let Some(woken) = self.wait_and_read(wake.as_mut()).await {
                return Ok(Next::Woken(woken, self.sender()));
            }
        };
        let event = deflate::event(&self.conn, pending, &self.rx, &self.inflate);
        if let Event::Closed { .. } = event {
            self.finished = true;
            // The close frame goes out now, before the application hears of the end.
            while let Some(frame) = self.conn.poll_transmit() {
                if timed_write(&mut self.io, &self.timer, self.write_timeout, &[frame.as_bytes()])
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        let sender = Sender {
            io: &mut self.io,
            conn: &mut self.conn,
            timer: &self.timer,
            write_timeout: self.write_timeout,
            #[cfg(feature = "std")]
            deflate: self.deflate.as_deref_mut(),
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
                self.flush_control().await;
            }
            if self.finished {
                return Ok(());
            }
            let Some(pending) = deflate::poll_pending(&mut self.conn, &mut self.rx, &mut self.inflate) else {
                self.arm_sleep();
                let step = if T::POLLS_READ {
                    self.poll_wait(never.as_mut()).await
                } else {
                    self.future_wait(never.as_mut()).await
                };
                if let Some(never) = self.after_wait(step) {
                    match never {}
                }
                continue;
            };
            let event = deflate::event(&self.conn, pending, &self.rx, &self.inflate);
            if let Event::Closed { .. } = event {
                self.finished = true;
                // The close frame goes out now, before the application hears of the end. Written
                // out here and in `next_or` rather than in a helper: a helper's future would add
                // 64 bytes to every bare-metal worker task.
                while let Some(frame) = self.conn.poll_transmit() {
                    if timed_write(&mut self.io, &self.timer, self.write_timeout, &[frame.as_bytes()])
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
            let mut replies = Replies { conn: &mut self.conn, queued: heapless::Vec::new(), close: None };
            handler(event, &mut replies);
            let mut failed = false;
            for (header, payload) in &replies.queued {
                #[cfg(feature = "std")]
                let (header, payload) = match self.deflate.as_mut() {
                    Some(deflate) => match deflate::compress_frame(deflate, header, payload) {
                        Some((header, compressed)) => (&{ header }, compressed),
                        None => (header, *payload),
                    },
                    None => (header, *payload),
                };
                let parts = [header.as_bytes(), payload];
                // Most replies go out at once, without building a future for the write.
                let written = match try_write(&mut self.io, &parts) {
                    Some(Ok(written)) if written == header.as_bytes().len() + payload.len() => continue,
                    Some(Ok(written)) => written,
                    Some(Err(_)) => {
                        failed = true;
                        break;
                    }
                    None => 0,
                };
                if timed_write_from(&mut self.io, &self.timer, self.write_timeout, &parts, written)
                    .await
                    .is_err()
                {
                    failed = true;
                    break;
                }
            }
            let close = replies.close;
            if failed {
                // A peer that stopped reading past the write timeout is treated as gone.
                self.conn.handle_eof();
            } else if let Some((code, reason)) = close {
                let _ = self.conn.close(code, reason, self.timer.now());
            }
        }
    }

    /// Waits for input, the core's next deadline, or `wake`, whichever comes first, and acts on
    /// the first two; returns what `wake` gave if it came first.
    async fn wait_and_read<W>(&mut self, wake: Pin<&mut impl Future<Output = W>>) -> Option<W> {
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
            self.future_wait(wake).await
        }
    }

    /// [`wait`](Self::wait) for transports that can be polled: nothing but a poll function.
    #[inline(always)]
    fn poll_wait<'s, W>(
        &'s mut self,
        mut wake: Pin<&'s mut impl Future<Output = W>>,
    ) -> impl Future<Output = Either3<Result<usize, T::Error>, (), W>> + 's {
        let space = self.conn.read_buf(&mut self.rx);
        let io = &mut self.io;
        let mut sleep = match self.armed {
            Some(_) => self.sleep.as_mut(),
            None => None,
        };
        poll_fn(move |cx| match io.poll_read(cx, space) {
            Poll::Ready(result) => Poll::Ready(Either3::First(result)),
            Poll::Pending => sleep_or_wake(&mut sleep, wake.as_mut(), cx),
        })
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
        match step {
            Either3::First(Ok(0)) => self.conn.handle_eof(),
            Either3::First(Ok(n)) => self.conn.handle_read_untimed(&mut self.rx, n),
            Either3::First(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
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
            deflate: self.deflate.as_deref_mut(),
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

    /// After [`finish`](Self::finish): shuts the transport for writing and, when the peer may
    /// still be reading, reads and discards until its FIN or [`LINGER`] passes, so that the close
    /// frame is not destroyed by a reset.
    pub async fn linger(&mut self) {
        let deadline = self.timer.now() + LINGER;
        if self.conn.outcome().is_some_and(Closed::wants_linger) {
            linger(&mut self.io, &mut self.rx, &self.timer, deadline).await;
        } else {
            let _ = select(self.io.shutdown_write(), self.timer.sleep_until(deadline)).await;
        }
    }
}

impl<T: Transport, K: Timer> Sender<'_, T, K> {
    /// Sends a whole text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error<T::Error>> {
        self.send_part(DataKind::Text, text.as_bytes(), true, true).await
    }

    /// Sends a whole binary message.
    pub async fn send_binary(&mut self, bytes: &[u8]) -> Result<(), Error<T::Error>> {
        self.send_part(DataKind::Binary, bytes, true, true).await
    }

    /// Sends one frame of a message: whole when `first` and `last` are both set.
    pub async fn send_part(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        first: bool,
        last: bool,
    ) -> Result<(), Error<T::Error>> {
        let header = self.conn.send_header(kind, payload.len() as u64, first, last)?;
        #[cfg(feature = "std")]
        let (header, payload) = match self.deflate.as_deref_mut() {
            Some(deflate) => deflate::compress_frame(deflate, &header, payload).unwrap_or((header, payload)),
            None => (header, payload),
        };
        let written =
            timed_write(self.io, self.timer, self.write_timeout, &[header.as_bytes(), payload]).await;
        if written.is_err() {
            // A peer that stopped reading past the write timeout is treated as gone.
            self.conn.handle_eof();
        }
        written
    }

    /// Writes bytes that already form complete frames (a queued broadcast, say) as they are.
    ///
    /// The caller vouches that they are whole, unmasked server frames.
    pub async fn send_framed(&mut self, frames: &[u8]) -> Result<(), Error<T::Error>> {
        if !self.conn.can_send() {
            return Err(Error::Send(SendError::Closed));
        }
        if self.conn.is_mid_message() {
            return Err(Error::Send(SendError::MessageInProgress));
        }
        let written = timed_write(self.io, self.timer, self.write_timeout, &[frames]).await;
        if written.is_err() {
            self.conn.handle_eof();
        }
        written
    }

    /// Starts the closing handshake; the close frame goes out with the next driver call.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error<T::Error>> {
        self.conn.close(code, reason, self.timer.now()).map_err(Error::Send)
    }

    /// Gives the connection up at once, without a close frame: for when a frame was cut short
    /// and the stream can carry nothing more. The next driver call reports it closed.
    pub fn abort(&mut self) {
        self.conn.handle_eof();
    }

    /// Whether data frames may still be sent.
    pub fn can_send(&self) -> bool {
        self.conn.can_send()
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

/// Writes what the transport takes of at most two parts at once: `None` if it cannot tell.
fn try_write<T: Transport>(io: &mut T, parts: &[&[u8]]) -> Option<Result<usize, T::Error>> {
    if parts.len() > 2 {
        return None;
    }
    io.try_write_vectored(parts)
}

/// Writes `parts`, giving up after `timeout`.
async fn timed_write<T: Transport, K: Timer>(
    io: &mut T,
    timer: &K,
    timeout: Duration,
    parts: &[&[u8]],
) -> Result<(), Error<T::Error>> {
    let written = match try_write(io, parts) {
        Some(Ok(written)) => written,
        Some(Err(e)) => return Err(Error::Io(e)),
        None => 0,
    };
    timed_write_from(io, timer, timeout, parts, written).await
}

/// Writes `parts` but for the first `written` bytes, giving up after `timeout`.
async fn timed_write_from<T: Transport, K: Timer>(
    io: &mut T,
    timer: &K,
    timeout: Duration,
    parts: &[&[u8]],
    mut written: usize,
) -> Result<(), Error<T::Error>> {
    let mut rest: [&[u8]; 2] = [&[], &[]];
    let mut parts = parts;
    if written > 0 {
        for (slot, part) in rest.iter_mut().zip(parts) {
            let skip = written.min(part.len());
            *slot = &part[skip..];
            written -= skip;
        }
        parts = &rest;
    }
    if parts.iter().all(|part| part.is_empty()) {
        return Ok(());
    }
    let mut write = pin!(io.write_all_vectored(parts));
    // Most writes complete at once: only one that has to wait pays for a timer.
    if let Poll::Ready(result) = poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
        return result.map_err(Error::Io);
    }
    let deadline = timer.now() + timeout;
    match select(write, timer.sleep_until(deadline)).await {
        Either::First(result) => result.map_err(Error::Io),
        Either::Second(()) => Err(Error::WriteTimedOut),
    }
}

/// Sends FIN, then reads and discards until the peer's FIN or `deadline`.
async fn linger<T: Transport, B: AsRef<[u8]> + AsMut<[u8]>, K: Timer>(
    io: &mut T,
    rx: &mut RecvBuf<B>,
    timer: &K,
    deadline: Instant,
) {
    let _ = select(io.shutdown_write(), timer.sleep_until(deadline)).await;
    loop {
        rx.clear();
        match select(io.read(rx.spare_mut()), timer.sleep_until(deadline)).await {
            Either::First(Ok(0)) | Either::First(Err(_)) | Either::Second(()) => return,
            Either::First(Ok(_)) => {}
        }
    }
}

/// What one async server connection may do, and its limits.
#[derive(Copy, Clone, Debug)]
pub struct ServeConfig<'p> {
    /// Time allowed for a request head to arrive.
    pub handshake_timeout: Duration,
    /// How long a write may block on a peer that does not read before the peer is dropped.
    pub write_timeout: Duration,
    /// Limits and timers of the WebSocket connection.
    pub connection: Config,
    /// Origins, token and subprotocols.
    pub policy: Policy<'p>,
}

impl Default for ServeConfig<'_> {
    fn default() -> Self {
        ServeConfig {
            handshake_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            connection: Config::default(),
            policy: Policy::default(),
        }
    }
}

/// What an async server does with requests and connections.
#[allow(async_fn_in_trait)]
pub trait Service {
    /// Answers a plain HTTP request (one without `Upgrade: websocket`).
    ///
    /// The default serves nothing but WebSockets: 426 for GET, 405 for other methods.
    fn http(&self, req: &Request<'_, '_>) -> Response<'_> {
        Response::websocket_only(req)
    }

    /// What a connection holds from before its 101 until it ends (a hub membership, say);
    /// `()` for a service that takes every valid upgrade.
    type Admission;

    /// Takes or declines a valid upgrade before the 101 goes out, so that a client told it is
    /// connected already has everything it needs (nothing broadcast after its 101 misses it),
    /// and a full service answers with an HTTP status rather than an upgrade and a close.
    fn admit(&self, req: &Request<'_, '_>) -> Result<Self::Admission, Declined>;

    /// Runs one accepted WebSocket connection. [`serve`] finishes the closing handshake after
    /// this returns, if the service did not.
    async fn websocket<T: Transport, B: AsRef<[u8]> + AsMut<[u8]>, K: Timer>(
        &self,
        ws: &mut WebSocket<T, B, K>,
        client: Client<'_>,
        admission: Self::Admission,
    );
}

/// Facts about an accepted WebSocket client.
#[derive(Copy, Clone, Debug)]
pub struct Client<'p> {
    /// The number the caller gave this connection.
    pub id: u32,
    /// The subprotocol agreed on, if any.
    pub protocol: Option<&'p str>,
}

/// How a served connection ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Served {
    /// It was a WebSocket, and ended this way.
    WebSocket(Closed),
    /// It served plain HTTP, or was refused, or closed before a request.
    Http,
}

/// Serves one TCP connection: HTTP requests until an upgrade, then the WebSocket.
///
/// `slot` (a client-slot guard, or `()`) is dropped as soon as the connection is over, before
/// the bounded wait that lets the peer read the close frame.
pub async fn serve<T, B, K, S, G>(
    mut io: T,
    mut rx: RecvBuf<B>,
    timer: K,
    config: &ServeConfig<'_>,
    service: &S,
    id: u32,
    slot: G,
) -> Served
where
    T: Transport,
    B: AsRef<[u8]> + AsMut<[u8]>,
    K: Timer,
    S: Service,
{
    loop {
        let deadline = timer.now() + config.handshake_timeout;
        let head_len = match read_request_head(&mut io, &mut rx, &timer, deadline).await {
            Ok(len) => len,
            Err(problem) => {
                if let Some((status, reason)) = problem.answer(!rx.pending().is_empty()) {
                    info!("client {}: {} {}", id, status.0, reason);
                    refuse(&mut io, &mut rx, &timer, config, status, reason).await;
                }
                return Served::Http;
            }
        };
        // Decided before any await, so that the parsed head is not kept in the task's state.
        let Some(reply) = reply_to(&rx.pending()[..head_len], &config.policy, service) else {
            return Served::Http;
        };
        let mut head = [0u8; 512];
        match reply {
            Reply::Refuse(status, reason) => {
                info!("refused client {}: {} {}", id, status.0, reason);
                refuse(&mut io, &mut rx, &timer, config, status, reason).await;
                return Served::Http;
            }
            Reply::Upgrade(accepted, admission) => {
                let accepted = accepted.for_delivery(config.connection.delivery);
                let Ok(len) = accepted.write_response(&mut head) else { return Served::Http };
                if timed_write(&mut io, &timer, config.write_timeout, &[&head[..len]]).await.is_err() {
                    return Served::Http;
                }
                rx.consume(head_len);
                info!("client {} connected", id);
                let client = Client { id, protocol: accepted.protocol };
                let mut ws = WebSocket::new(io, rx, config.connection, timer, config.write_timeout);
                #[cfg(feature = "std")]
                if let Some(agreed) = accepted.deflate {
                    ws.enable_deflate(&agreed);
                }
                service.websocket(&mut ws, client, admission).await;
                ws.finish().await;
                let how = ws.connection().outcome().unwrap_or(Closed::Dropped);
                info!("client {} disconnected: {}", id, how.code().0);
                drop(slot);
                ws.linger().await;
                return Served::WebSocket(how);
            }
            Reply::Http { response, keep_alive, head_only } => {
                let Ok(len) = response.write_head(&mut head, keep_alive) else { return Served::Http };
                let body: &[u8] = if head_only { &[] } else { response.body };
                if timed_write(&mut io, &timer, config.write_timeout, &[&head[..len], body]).await.is_err() {
                    return Served::Http;
                }
                if !keep_alive {
                    let deadline = timer.now() + LINGER;
                    linger(&mut io, &mut rx, &timer, deadline).await;
                    return Served::Http;
                }
                rx.consume(head_len);
            }
        }
    }
}

/// What to answer a request head with, owning nothing from the head itself.
enum Reply<'s, 'p, A> {
    Refuse(StatusCode, &'static str),
    Upgrade(handshake::Accepted<'p>, A),
    Http { response: Response<'s>, keep_alive: bool, head_only: bool },
}

/// Parses a complete request head and decides the reply.
fn reply_to<'s, 'p, S: Service>(
    head: &[u8],
    policy: &Policy<'p>,
    service: &'s S,
) -> Option<Reply<'s, 'p, S::Admission>> {
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let Ok(Status::Complete(req, _)) = Request::parse(head, &mut headers) else {
        return None;
    };
    Some(match handshake::answer(&req, policy) {
        Answer::Refuse(refusal) => Reply::Refuse(refusal.status(), refusal.reason()),
        Answer::Upgrade(accepted) => match service.admit(&req) {
            Ok(admission) => Reply::Upgrade(accepted, admission),
            Err(declined) => Reply::Refuse(declined.status, declined.reason),
        },
        Answer::Http { keep_alive, head_only } => {
            Reply::Http { response: service.http(&req), keep_alive, head_only }
        }
    })
}

/// Reads into `rx` until it holds a complete request head, and returns the head's length.
pub async fn read_request_head<T: Transport, B: AsRef<[u8]> + AsMut<[u8]>, K: Timer>(
    io: &mut T,
    rx: &mut RecvBuf<B>,
    timer: &K,
    deadline: Instant,
) -> Result<usize, HeadError> {
    loop {
        let full = rx.spare_mut().is_empty();
        if let Some(len) = handshake::poll_head(rx.pending(), full)? {
            return Ok(len);
        }
        match select(io.read(rx.spare_mut()), timer.sleep_until(deadline)).await {
            Either::First(Ok(0)) => return Err(HeadError::Closed),
            Either::First(Ok(n)) => rx.commit(n),
            Either::First(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
            Either::First(Err(_)) => return Err(HeadError::Closed),
            Either::Second(()) => return Err(HeadError::TimedOut),
        }
    }
}

/// Answers with an error status (such as 503 when every slot is taken) and closes politely.
pub async fn refuse<T: Transport, B: AsRef<[u8]> + AsMut<[u8]>, K: Timer>(
    io: &mut T,
    rx: &mut RecvBuf<B>,
    timer: &K,
    config: &ServeConfig<'_>,
    status: StatusCode,
    reason: &str,
) {
    let mut out = [0u8; 512];
    if let Ok(len) = http::write_error(&mut out, status, reason) {
        if timed_write(io, timer, config.write_timeout, &[&out[..len]]).await.is_ok() {
            let deadline = timer.now() + LINGER;
            linger(io, rx, timer, deadline).await;
        }
    }
}
