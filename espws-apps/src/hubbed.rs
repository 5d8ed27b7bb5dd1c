//! Connections that also receive what others send through the hub: broadcasts, status ticks.
//!
//! A connection joins the hub before its 101 goes out (see `Device::admit`), so that nothing
//! broadcast after a client learns it is connected misses it. It then serves two directions at
//! once: what its client sends (the app decides: echo it, or broadcast it), and what the hub
//! queues for it. Messages are whole
//! here (the device uses whole delivery when a hub runs), so hub frames never fall between the
//! fragments of a reply.
//!
//! On async runtimes one task does both. On the threads runtime a second thread drains the
//! queue, writing in turn with the connection's thread, because a blocking read cannot also
//! wait for the queue.

use embassy_futures::select::{select, Either};
use espws::hub::Outgoing;
use espws::nonblocking::{self, Next};
use espws::{CloseCode, Data, DataKind, Event};

use crate::device::Membership;
use crate::settings::App;
use crate::{sensor, DeviceHub};

/// The close frame for a client whose queue overflowed (RFC 6455 section 7.4.1: 1008).
const TOO_SLOW: (CloseCode, &str) = (CloseCode::POLICY_VIOLATION, "outgoing queue full: reading too slowly");

/// Buffer for draining the queue on an async task; larger frames go out in pieces.
const DRAIN_CHUNK: usize = 1024;
const _: () = assert!(DRAIN_CHUNK >= sensor::MAX_ACK, "the drain buffer also holds acknowledgements");

/// The same for the draining thread of the threads runtime, where memory is cheaper than
/// system calls; on ESP-IDF it is not, and eight of these would not fit.
#[cfg(feature = "std")]
const THREAD_DRAIN_CHUNK: usize =
    if cfg!(target_os = "espidf") { crate::budget::esp_idf::HUB_DRAIN_CHUNK } else { 16 * 1024 };

/// Stack of a draining thread: the budget's on ESP-IDF (measured by `tests/thread_stack.rs`),
/// and on a PC a size no other thread has, so that the test can find it.
#[cfg(feature = "std")]
pub const THREAD_DRAIN_STACK: usize =
    if cfg!(target_os = "espidf") { crate::budget::esp_idf::HUB_DRAIN_STACK } else { 36 * 1024 };

/// What goes straight back to the client who sent a message.
enum Reply {
    /// The message itself.
    Echo,
    /// The sensor's answer to a command: this many bytes of the caller's buffer.
    Ack(usize),
    /// Nothing: the hub carries the answer, if any.
    Nothing,
}

/// Does what the app does with a message from its client, and says what to send back; an
/// acknowledgement goes into `buf`, at least [`sensor::MAX_ACK`] bytes.
fn reply(app: App, hub: &DeviceHub, data: Data<'_>, buf: &mut [u8]) -> Reply {
    match app {
        App::Echo => Reply::Echo,
        App::Broadcast => {
            // Too large for the queues, or nobody to hear it: nothing to do either way.
            let _ = hub.broadcast(data.kind, data.payload);
            Reply::Nothing
        }
        App::Sensor => Reply::Ack(sensor::ack(&data, buf)),
    }
}

/// Serves an async connection joined to the hub until it ends.
pub async fn run_async<T, B, K>(
    ws: &mut nonblocking::WebSocket<T, B, K>,
    hub: &DeviceHub,
    member: Membership<'_>,
    app: App,
) where
    T: nonblocking::Transport,
    B: AsRef<[u8]> + AsMut<[u8]>,
    K: nonblocking::Timer,
{
    // Also the buffer of the sensor's acknowledgements: the queue is not drained meanwhile.
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
                // One send for either reply: each await point would have its own room in the
                // task's future.
                let out = match reply(app, hub, data, &mut chunk) {
                    Reply::Echo => Some((data.kind, data.payload)),
                    Reply::Ack(n) => Some((DataKind::Text, &chunk[..n])),
                    Reply::Nothing => None,
                };
                if let Some((kind, payload)) = out {
                    let _ = tx.send_part(kind, payload, true, true).await;
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
                                log::info!(
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
                        log::info!(
                            "client {} reads too slowly for the hub; closing with 1008",
                            member.id().0
                        );
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

/// Serves a blocking connection joined to the hub until it ends, draining the queue from a
/// second thread.
#[cfg(feature = "std")]
pub fn run_blocking(ws: &mut espws::server::ServerSocket, hub: &DeviceHub, member: Membership<'_>, app: App) {
    use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
    use embassy_sync::signal::Signal;

    let writer = ws.transport_mut().share_writes();
    let done: Signal<CriticalSectionRawMutex, ()> = Signal::new();
    std::thread::scope(|scope| {
        let drainer = std::thread::Builder::new()
            .name(std::format!("espws-hub-{}", member.id().0))
            .stack_size(THREAD_DRAIN_STACK)
            .spawn_scoped(scope, || drain_blocking(&member, &writer, &done));
        if drainer.is_err() {
            log::warn!("no thread for client {}'s hub queue", member.id().0);
            writer.abort();
        }
        let mut ack = [0u8; sensor::MAX_ACK];
        while let Ok(Some((event, mut tx))) = ws.next_event() {
            if let Event::Data(data) = event {
                let _ = match reply(app, hub, data, &mut ack) {
                    Reply::Echo => tx.send_part(data.kind, data.payload, true, true),
                    Reply::Ack(n) => tx.send_part(DataKind::Text, &ack[..n], true, true),
                    Reply::Nothing => Ok(()),
                };
            }
        }
        done.signal(());
    });
}

/// Writes what the hub queues for `member` until the connection is done.
#[cfg(feature = "std")]
fn drain_blocking(
    member: &Membership<'_>,
    writer: &espws::blocking::SharedWriter,
    done: &embassy_sync::signal::Signal<embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex, ()>,
) {
    use espws::hub::block_on;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    /// Shuts the socket down if the queue overflows while a write to the client is stuck.
    struct AbortStuckWrite {
        writer: espws::blocking::SharedWriter,
        writing: AtomicBool,
    }
    impl Wake for AbortStuckWrite {
        fn wake(self: Arc<Self>) {
            if self.writing.load(Ordering::Acquire) {
                log::info!("a client stopped reading; its queue overflowed; dropping it");
                self.writer.abort();
            }
        }
    }
    let stuck = Arc::new(AbortStuckWrite { writer: writer.clone(), writing: AtomicBool::new(false) });
    member.on_overflow(stuck.clone().into());

    let mut chunk = std::vec![0u8; THREAD_DRAIN_CHUNK];
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
                    log::info!("client {} reads too slowly for the hub; closing with 1008", member.id().0);
                    turn.close(espws::proto::ControlFrame::close(TOO_SLOW.0, TOO_SLOW.1).as_bytes());
                    return;
                }
            }
        }
    }
}
