//! The messaging API: send to one client or broadcast to all, from any task or thread.
//!
//! A [`Hub`] gives every connected client a bounded outgoing queue of whole, ready-to-write
//! frames. Anyone holding the hub may [`send_to`](Hub::send_to) one client or
//! [`broadcast`](Hub::broadcast) to all; each connection drains its own queue through its
//! [`Member`]. Nothing blocks: a send only copies the frame into queues.
//!
//! # Overflow policy
//!
//! A client whose queue cannot take a message is *too slow*: the message is not queued for it,
//! its queue is emptied, and its connection is told to close with 1008 ("outgoing queue full").
//! The other clients are not affected and nothing waits for the slow one. So a client that stays
//! connected has received every message sent to it, in order, and a slow one costs at most its
//! queue's memory.
//!
//! The hub's memory is the caller's: [`slots`] for a fixed size known at compile time, or
//! [`Hub::leak`] (with `std`) for one sized at startup. No allocation happens per message.

use core::cell::RefCell;
use core::future::poll_fn;
use core::task::{Poll, Waker};

use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::blocking_mutex::Mutex;

use crate::proto::DataKind;
use crate::wire::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};

/// Connect and disconnect notices kept for [`Hub::next_notice`]; older ones are dropped first.
const NOTICES: usize = 16;

mod queue;
mod serve;

use queue::Queue;
pub use serve::{serve_member, Reply, REPLY_SCRATCH};
#[cfg(feature = "std")]
pub use serve::{serve_member_blocking, DrainThread};

/// Identifies a connected client for the lifetime of the hub.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u32);

/// A client joined or left.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A client joined the hub.
    Joined(ClientId),
    /// A client left the hub.
    Left(ClientId),
}

/// Why a message could not be queued for a client.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// No connected client has this id.
    NoSuchClient,
    /// The frame is larger than a whole queue.
    TooLarge,
    /// The client's queue was full: it is being closed as too slow.
    QueueFull,
}

/// What a broadcast reached.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Broadcast {
    /// Clients the message was queued for.
    pub queued: usize,
    /// Clients whose queue was full; they are being closed as too slow.
    pub overflowed: usize,
}

/// What a connection finds in its queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// This many bytes, ending at a frame boundary, were copied out; write them as they are.
    Frames(usize),
    /// This many bytes of a frame larger than the buffer were copied out: write them, then call
    /// [`Member::take`] again before writing anything else, until `Frames` ends the frame.
    Partial(usize),
    /// The queue overflowed: close the connection with 1008.
    Overflowed,
    /// Nothing queued.
    Empty,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum SlotState {
    Free,
    Active(ClientId),
    Overflowed(ClientId),
}

/// One client's place in the hub.
pub struct Slot<'a> {
    queue: Queue<'a>,
    state: SlotState,
    waker: Option<Waker>,
    overflow_waker: Option<Waker>,
}

impl<'a> Slot<'a> {
    /// A free slot whose queue is `ring`.
    pub fn new(ring: &'a mut [u8]) -> Self {
        Slot {
            queue: Queue { ring, start: 0, len: 0, in_flight: 0 },
            state: SlotState::Free,
            waker: None,
            overflow_waker: None,
        }
    }
}

struct State<'a> {
    slots: &'a mut [Slot<'a>],
    next_id: u32,
    notices: [Option<Notice>; NOTICES],
    notice_waker: Option<Waker>,
}

/// The hub: per-client bounded queues behind one lock, `M` being the lock (a critical section
/// on a device, `CriticalSectionRawMutex` with `critical-section/std` on a PC).
pub struct Hub<'a, M: RawMutex> {
    state: Mutex<M, RefCell<State<'a>>>,
    max_frame: usize,
}

/// A connection's membership: drains its queue, and leaves the hub when dropped.
pub struct Member<'h, 'a, M: RawMutex> {
    hub: &'h Hub<'a, M>,
    index: usize,
    id: ClientId,
}

impl<'a, M: RawMutex> Hub<'a, M> {
    /// A hub over `slots`: one client per slot, each queue as large as its slot's ring.
    pub fn new(slots: &'a mut [Slot<'a>]) -> Self {
        let max_frame = slots.iter().map(|s| s.queue.ring.len()).min().unwrap_or(0).saturating_sub(4);
        Hub {
            state: Mutex::new(RefCell::new(State {
                slots,
                next_id: 1,
                notices: [None; NOTICES],
                notice_waker: None,
            })),
            max_frame,
        }
    }

    /// The largest frame (header and payload) a queue can hold.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Joins a connection to the hub; `None` when every slot is in use.
    pub fn join(&self) -> Option<Member<'_, 'a, M>> {
        let (member, waker) = self.with(|state| {
            let index = state.slots.iter().position(|s| s.state == SlotState::Free)?;
            let id = ClientId(state.next_id);
            state.next_id = state.next_id.wrapping_add(1).max(1);
            state.slots[index].state = SlotState::Active(id);
            state.slots[index].queue.clear();
            let waker = state.notify(Notice::Joined(id));
            Some((Member { hub: self, index, id }, waker))
        })?;
        wake(waker);
        Some(member)
    }

    /// Queues a message for one client.
    pub fn send_to(&self, id: ClientId, kind: DataKind, payload: &[u8]) -> Result<(), SendError> {
        let header = Self::header(kind, payload);
        if header.as_bytes().len() + payload.len() > self.max_frame {
            return Err(SendError::TooLarge);
        }
        let (result, waker) = self.with(|state| {
            let Some(slot) = state.slots.iter_mut().find(|s| s.state == SlotState::Active(id)) else {
                return (Err(SendError::NoSuchClient), (None, None));
            };
            let delivered = Self::push(slot, header.as_bytes(), payload);
            let overflow = if delivered { None } else { slot.overflow_waker.take() };
            (if delivered { Ok(()) } else { Err(SendError::QueueFull) }, (slot.waker.take(), overflow))
        });
        wake(waker.0);
        wake(waker.1);
        result
    }

    /// Queues a message for every connected client.
    pub fn broadcast(&self, kind: DataKind, payload: &[u8]) -> Result<Broadcast, SendError> {
        self.broadcast_except(None, kind, payload)
    }

    /// Queues a message for every connected client but `except`.
    pub fn broadcast_except(
        &self,
        except: Option<ClientId>,
        kind: DataKind,
        payload: &[u8],
    ) -> Result<Broadcast, SendError> {
        let header = Self::header(kind, payload);
        if header.as_bytes().len() + payload.len() > self.max_frame {
            return Err(SendError::TooLarge);
        }
        let mut report = Broadcast::default();
        let mut index = 0;
        // Wake outside the lock, a slot at a time, so that no waker runs under it.
        loop {
            let step = self.with(|state| {
                let slots = &mut state.slots[index..];
                let offset = slots
                    .iter()
                    .position(|s| matches!(s.state, SlotState::Active(id) if Some(id) != except))?;
                let slot = &mut slots[offset];
                let overflow = if Self::push(slot, header.as_bytes(), payload) {
                    report.queued += 1;
                    None
                } else {
                    report.overflowed += 1;
                    slot.overflow_waker.take()
                };
                Some((index + offset + 1, slot.waker.take(), overflow))
            });
            let Some((next, waker, overflow)) = step else { break };
            wake(waker);
            wake(overflow);
            index = next;
        }
        Ok(report)
    }

    /// Connected clients.
    pub fn clients(&self) -> usize {
        self.with(|state| state.slots.iter().filter(|s| matches!(s.state, SlotState::Active(_))).count())
    }

    /// Slots free for more clients.
    pub fn free_slots(&self) -> usize {
        self.with(|state| state.slots.iter().filter(|s| s.state == SlotState::Free).count())
    }

    /// The oldest connect or disconnect notice not yet taken.
    pub fn try_next_notice(&self) -> Option<Notice> {
        self.with(|state| {
            let first = state.notices[0].take();
            state.notices.rotate_left(1);
            first
        })
    }

    /// Waits for the next connect or disconnect notice.
    pub async fn next_notice(&self) -> Notice {
        poll_fn(|cx| {
            self.with(|state| {
                let first = state.notices[0].take();
                state.notices.rotate_left(1);
                match first {
                    Some(notice) => Poll::Ready(notice),
                    None => {
                        state.notice_waker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                }
            })
        })
        .await
    }

    fn header(kind: DataKind, payload: &[u8]) -> crate::wire::frame::EncodedHeader {
        let opcode = if kind == DataKind::Text { OpCode::Text } else { OpCode::Binary };
        crate::wire::frame::EncodedHeader::new(&FrameHeader {
            fin: true,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        })
    }

    /// Queues a frame for an active slot; applies the overflow policy when it does not fit.
    fn push(slot: &mut Slot<'_>, header: &[u8], payload: &[u8]) -> bool {
        let SlotState::Active(id) = slot.state else { return false };
        if slot.queue.push_frame(header, payload) {
            return true;
        }
        slot.queue.keep_in_flight();
        slot.state = SlotState::Overflowed(id);
        warn!("hub: client {} cannot keep up; closing it", id.0);
        false
    }

    fn with<R>(&self, f: impl FnOnce(&mut State<'a>) -> R) -> R {
        self.state.lock(|cell| f(&mut cell.borrow_mut()))
    }
}

impl State<'_> {
    /// Records a notice (dropping the oldest when full) and returns the waiter to wake.
    fn notify(&mut self, notice: Notice) -> Option<Waker> {
        if self.notices[NOTICES - 1].is_some() {
            self.notices.rotate_left(1);
            self.notices[NOTICES - 1] = None;
        }
        if let Some(free) = self.notices.iter_mut().find(|n| n.is_none()) {
            *free = Some(notice);
        }
        self.notice_waker.take()
    }
}

impl<'a, M: RawMutex> Member<'_, 'a, M> {
    /// This client's id, for [`Hub::send_to`].
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// Copies queued frames into `out`: whole frames, or pieces of one larger than `out`.
    ///
    /// After an overflow, the rest of a frame already started still comes out first, so that
    /// the connection can end it before it closes.
    pub fn take(&self, out: &mut [u8]) -> Outgoing {
        self.hub.with(|state| {
            let slot = &mut state.slots[self.index];
            match slot.state {
                SlotState::Overflowed(_) if slot.queue.in_flight == 0 => Outgoing::Overflowed,
                _ => slot.queue.pop(out),
            }
        })
    }

    /// Completes once this client's queue has overflowed: race it against a write to the
    /// client, and close the connection (TCP, as the frame is cut) if it wins.
    pub async fn overflowed(&self) {
        poll_fn(|cx| {
            self.hub.with(|state| {
                let slot = &mut state.slots[self.index];
                if matches!(slot.state, SlotState::Overflowed(_)) {
                    Poll::Ready(())
                } else {
                    slot.overflow_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
        })
        .await
    }

    /// Wakes `waker` once when this client's queue overflows: how a blocking thread stuck in a
    /// write to the client learns to give up (the waker can shut the socket down).
    pub fn on_overflow(&self, waker: Waker) {
        let now = self.hub.with(|state| {
            let slot = &mut state.slots[self.index];
            if matches!(slot.state, SlotState::Overflowed(_)) {
                Some(waker)
            } else {
                slot.overflow_waker = Some(waker);
                None
            }
        });
        wake(now);
    }

    /// Waits until something is queued for this client, or its queue overflowed.
    pub async fn ready(&self) {
        poll_fn(|cx| {
            self.hub.with(|state| {
                let slot = &mut state.slots[self.index];
                if slot.queue.len > 0 || matches!(slot.state, SlotState::Overflowed(_)) {
                    slot.waker = None;
                    Poll::Ready(())
                } else {
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
        })
        .await
    }
}

impl<M: RawMutex> Drop for Member<'_, '_, M> {
    fn drop(&mut self) {
        let waker = self.hub.with(|state| {
            let slot = &mut state.slots[self.index];
            slot.state = SlotState::Free;
            slot.queue.clear();
            slot.waker = None;
            slot.overflow_waker = None;
            state.notify(Notice::Left(self.id))
        });
        wake(waker);
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Slots over fixed-size rings, one client each: for memory in a `static` on a device.
///
/// ```ignore
/// static RINGS: StaticCell<[[u8; 4096]; 8]> = StaticCell::new();
/// static SLOTS: StaticCell<[Slot<'static>; 8]> = StaticCell::new();
/// let slots = SLOTS.init(hub::slots(RINGS.init([[0; 4096]; 8])));
/// let hub = Hub::<CriticalSectionRawMutex>::new(slots);
/// ```
pub fn slots<const CLIENTS: usize, const QUEUE: usize>(
    rings: &mut [[u8; QUEUE]; CLIENTS],
) -> [Slot<'_>; CLIENTS] {
    const { assert!(QUEUE > MAX_HEADER_LEN + 4, "a queue must hold at least one frame") };
    rings.each_mut().map(|ring| Slot::new(ring))
}

#[cfg(feature = "std")]
impl<M: RawMutex + 'static> Hub<'static, M> {
    /// A hub for `clients` clients with `queue` bytes each, allocated once for the rest of the
    /// program (a PC's answer to a device's `static`).
    pub fn leak(clients: usize, queue: usize) -> &'static Self {
        extern crate alloc;
        use alloc::boxed::Box;
        use alloc::vec::Vec;
        let rings: &'static mut [u8] = alloc::vec![0u8; clients * queue.max(MAX_HEADER_LEN + 5)].leak();
        let slots: Vec<Slot<'static>> =
            rings.chunks_mut(queue.max(MAX_HEADER_LEN + 5)).map(Slot::new).collect();
        Box::leak(Box::new(Hub::new(slots.leak())))
    }
}

/// Runs a future to completion on the calling thread, parking it while the future waits: how a
/// blocking thread waits on [`Member::ready`].
#[cfg(feature = "std")]
pub fn block_on<F: core::future::Future>(future: F) -> F::Output {
    extern crate alloc;
    use alloc::sync::Arc;
    use alloc::task::Wake;
    use core::task::Context;

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = core::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests;
