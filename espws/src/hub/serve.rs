//! Serving a connection that is a hub member: what its client sends, and what the hub queues
//! for it, at once, with the overflow close. Applications call these instead of writing the
//! loop.

use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::RawMutex;

use super::{Member, Outgoing};
use crate::nonblocking::{self, Next};
use crate::proto::Storage;
use crate::{CloseCode, Data, DataKind, Event};

/// The close frame for a client whose queue overflowed (RFC 6455 section 7.4.1: 1008).
const TOO_SLOW: (CloseCode, &str) = (CloseCode::POLICY_VIOLATION, "outgoing queue full: reading too slowly");

/// Buffer for draining the queue on an async task; larger frames go out in pieces.
const DRAIN_CHUNK: usize = 1024;
const _: () = assert!(DRAIN_CHUNK >= REPLY_SCRATCH);

/// What to send back to a member's client for a message it sent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// Nothing (the message was broadcast, say).
    Nothing,
    /// This whole message: the one received, or one written into the scratch buffer.
    Send(DataKind, &'a [u8]),
}

/// The scratch buffer a member's `on_data` may write its reply into has at least this many
/// bytes.
pub const REPLY_SCRATCH: usize = 256;

/// Serves an async connection joined to the hub as `member` until it ends: each whole message
/// from the client goes to `on_data` with a scratch buffer of at least [`REPLY_SCRATCH`] bytes,
/// and its reply goes back; what the hub queues for the member is written between. A member that stops reading is closed with 1008 once its queue overflows.
///
/// Use whole-message delivery, so that hub frames never fall between a reply's fragments.
pub async fn serve_member<T, B, K, M, F>(
    ws: &mut nonblocking::WebSocket<T, B, K>,
    member: &Member<'_, '_, M>,
    mut on_data: F,
) where
    T: nonblocking::Transport,
    B: Storage,
    K: nonblocking::Timer,
    M: RawMutex,
    F: for<'a> FnMut(Data<'a>, &'a mut [u8]) -> Reply<'a>,
{
    // Also the scratch of the replies: the queue is not drained while one is written, and one
    // buffer costs a bare-metal worker's future less than two.
    let mut chunk = [0u8; DRAIN_CHUNK];
    // Once the connection is closing as too slow, the queue has nothing more to give; watching
    // it then would wake at once, forever.
    let mut draining = true;
    loop {
        let queue = async {
            match draining {
                true => member.ready().await,
                false => core::future::pending().await,
            }
        };
        match ws.next_or(queue).await {
            Ok(Next::Event(Event::Data(data), mut tx)) => {
                if let Reply::Send(kind, payload) = on_data(data, &mut chunk) {
                    let _ = tx.send(kind, payload).await;
                }
            }
            Ok(Next::Event(_, _)) => {}
            Ok(Next::Woken((), mut tx)) => loop {
                match member.take(&mut chunk) {
                    Outgoing::Frames(n) | Outgoing::Partial(n) => {
                        // A client that stopped reading must not hold this task past its queue.
                        match select(tx.send_framed(&chunk[..n]), member.overflowed()).await {
                            Either::First(Ok(())) => {}
                            Either::First(Err(_)) => break,
                            Either::Second(()) => {
                                info!(
                                    "client {} stopped reading; its queue overflowed; dropping it",
                                    member.id().0
                                );
                                tx.abort();
                                draining = false;
                                break;
                            }
                        }
                    }
                    Outgoing::Empty => break,
                    Outgoing::Overflowed => {
                        info!("client {} reads too slowly for the hub; closing with 1008", member.id().0);
                        let _ = tx.close(TOO_SLOW.0, TOO_SLOW.1);
                        draining = false;
                        break;
                    }
                }
            },
            Ok(Next::End) | Err(_) => break,
        }
    }
}

#[cfg(feature = "std")]
pub use blocking::{serve_member_blocking, DrainThread};

#[cfg(feature = "std")]
mod blocking {
    use crate::proto::Storage;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    use embassy_futures::select::{select, Either};
    use embassy_sync::blocking_mutex::raw::{CriticalSectionRawMutex, RawMutex};
    use embassy_sync::signal::Signal;

    use super::{Reply, REPLY_SCRATCH, TOO_SLOW};
    use crate::blocking::{Clock, SharedWriter, Transport, WebSocket};
    use crate::hub::{block_on, Member, Outgoing};
    use crate::proto::ControlFrame;
    use crate::{Data, Event};

    /// The thread that drains a member's queue on the threads runtime, where a blocking read
    /// cannot also wait for the queue.
    #[derive(Copy, Clone, Debug)]
    pub struct DrainThread {
        /// Its stack, in bytes.
        pub stack: usize,
        /// Its write buffer; larger frames go out in pieces.
        pub chunk: usize,
    }

    impl Default for DrainThread {
        /// 36 KiB of stack (a size no other thread of the server has, so tests can find it)
        /// and 16 KiB writes: on a PC memory is cheaper than system calls.
        fn default() -> Self {
            DrainThread { stack: 36 * 1024, chunk: 16 * 1024 }
        }
    }

    /// [`serve_member`](super::serve_member) for the blocking driver: a second thread drains the
    /// queue, writing in turn with the connection's thread. The transport must be able to
    /// share its writes (TCP can); a connection over one that cannot is closed with 1011.
    #[inline(never)] // Off the stack of connections that are not hub members.
    pub fn serve_member_blocking<T, B, C, M, F>(
        ws: &mut WebSocket<T, B, C>,
        member: &Member<'_, '_, M>,
        drain: DrainThread,
        mut on_data: F,
    ) where
        T: Transport,
        B: Storage,
        C: Clock,
        M: RawMutex + Sync,
        F: for<'a> FnMut(Data<'a>, &'a mut [u8]) -> Reply<'a>,
    {
        let Some(writer) = ws.transport_mut().share_writes() else {
            // A TLS session of a library that owns its socket (ESP-IDF's esp-tls) is one.
            warn!(
                "client {}: this transport cannot share writes (a TLS session that reads and writes on one thread only), which the hub needs; closing",
                member.id().0
            );
            let _ = ws.sender().close(crate::CloseCode::INTERNAL_ERROR, "hub unavailable on this transport");
            return;
        };
        let done: Signal<CriticalSectionRawMutex, ()> = Signal::new();
        std::thread::scope(|scope| {
            let drainer = std::thread::Builder::new()
                .name(std::format!("espws-hub-{}", member.id().0))
                .stack_size(drain.stack)
                .spawn_scoped(scope, || drain_queue(member, &writer, &done, drain.chunk));
            if drainer.is_err() {
                warn!("no thread for client {}'s hub queue", member.id().0);
                writer.abort();
            }
            let mut scratch = [0u8; REPLY_SCRATCH];
            while let Ok(Some((event, mut tx))) = ws.next_event() {
                if let Event::Data(data) = event {
                    if let Reply::Send(kind, payload) = on_data(data, &mut scratch) {
                        let _ = tx.send(kind, payload);
                    }
                }
            }
            done.signal(());
        });
    }

    /// Writes what the hub queues for `member` until the connection is done.
    fn drain_queue<M: RawMutex>(
        member: &Member<'_, '_, M>,
        writer: &SharedWriter,
        done: &Signal<CriticalSectionRawMutex, ()>,
        chunk: usize,
    ) {
        /// Shuts the socket down if the queue overflows while a write to the client is stuck.
        struct AbortStuckWrite {
            writer: SharedWriter,
            writing: AtomicBool,
        }
        impl Wake for AbortStuckWrite {
            fn wake(self: Arc<Self>) {
                if self.writing.load(Ordering::Acquire) {
                    info!("a client stopped reading; its queue overflowed; dropping it");
                    self.writer.abort();
                }
            }
        }
        let stuck = Arc::new(AbortStuckWrite { writer: writer.clone(), writing: AtomicBool::new(false) });
        member.on_overflow(stuck.clone().into());

        let mut chunk = std::vec![0u8; chunk];
        loop {
            if let Either::Second(()) = block_on(select(member.ready(), done.wait())) {
                return;
            }
            // One turn for a whole batch, so that the pieces of a large frame stay together.
            let mut turn = writer.turn();
            loop {
                match member.take(&mut chunk) {
                    Outgoing::Frames(n) | Outgoing::Partial(n) => {
                        stuck.writing.store(true, Ordering::Release);
                        let written = turn.write_data(&chunk[..n]);
                        stuck.writing.store(false, Ordering::Release);
                        match written {
                            Ok(true) => {}
                            Ok(false) => return,
                            Err(_) => {
                                drop(turn);
                                writer.abort();
                                return;
                            }
                        }
                    }
                    Outgoing::Empty => break,
                    Outgoing::Overflowed => {
                        info!("client {} reads too slowly for the hub; closing with 1008", member.id().0);
                        turn.close(ControlFrame::close(TOO_SLOW.0, TOO_SLOW.1).as_bytes());
                        return;
                    }
                }
            }
        }
    }
}
