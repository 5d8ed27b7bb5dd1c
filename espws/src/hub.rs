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
//! The hub's memory is the caller's: [`HubMemory`] for a fixed size known at compile time, or
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

/// One client's queue: whole frames, each behind a 4-byte length, in a ring.
struct Queue<'a> {
    ring: &'a mut [u8],
    start: usize,
    len: usize,
    /// Bytes of the frame at the front still to be copied out, once it has been started.
    in_flight: usize,
}

impl Queue<'_> {
    fn free(&self) -> usize {
        self.ring.len() - self.len
    }

    fn clear(&mut self) {
        self.start = 0;
        self.len = 0;
        self.in_flight = 0;
    }

    /// Drops every queued frame but the rest of the one being copied out, which the connection
    /// must finish before it may close.
    fn keep_in_flight(&mut self) {
        self.len = self.in_flight;
    }

    fn put(&mut self, bytes: &[u8]) {
        let capacity = self.ring.len();
        let at = (self.start + self.len) % capacity;
        let first = bytes.len().min(capacity - at);
        self.ring[at..at + first].copy_from_slice(&bytes[..first]);
        self.ring[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.len += bytes.len();
    }

    fn peek(&self, offset: usize, out: &mut [u8]) {
        let capacity = self.ring.len();
        let at = (self.start + offset) % capacity;
        let first = out.len().min(capacity - at);
        out[..first].copy_from_slice(&self.ring[at..at + first]);
        let rest = out.len() - first;
        out[first..].copy_from_slice(&self.ring[..rest]);
    }

    fn skip(&mut self, n: usize) {
        self.start = (self.start + n) % self.ring.len();
        self.len -= n;
    }

    /// Queues one frame, or says it does not fit.
    fn push_frame(&mut self, header: &[u8], payload: &[u8]) -> bool {
        let frame_len = header.len() + payload.len();
        if 4 + frame_len > self.free() {
            return false;
        }
        self.put(&(frame_len as u32).to_le_bytes());
        self.put(header);
        self.put(payload);
        true
    }

    /// Copies out as many whole frames as fit in `out`, or a piece of one that does not fit.
    fn pop(&mut self, out: &mut [u8]) -> Outgoing {
        if self.in_flight > 0 {
            let n = self.in_flight.min(out.len());
            self.peek(0, &mut out[..n]);
            self.skip(n);
            self.in_flight -= n;
            return if self.in_flight > 0 { Outgoing::Partial(n) } else { Outgoing::Frames(n) };
        }
        let mut written = 0;
        while self.len >= 4 {
            let mut len = [0u8; 4];
            self.peek(0, &mut len);
            let frame_len = u32::from_le_bytes(len) as usize;
            if written + frame_len > out.len() {
                if written == 0 && !out.is_empty() {
                    // Too large for the buffer: stream it out piece by piece.
                    self.skip(4);
                    self.in_flight = frame_len;
                    return self.pop(out);
                }
                break;
            }
            self.peek(4, &mut out[written..written + frame_len]);
            self.skip(4 + frame_len);
            written += frame_len;
        }
        if written == 0 {
            Outgoing::Empty
        } else {
            Outgoing::Frames(written)
        }
    }
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
mod tests {
    use super::*;
    use embassy_sync::blocking_mutex::raw::{CriticalSectionRawMutex, NoopRawMutex};
    use std::vec::Vec;

    fn frame(kind: DataKind, payload: &[u8]) -> Vec<u8> {
        let mut out = Hub::<NoopRawMutex>::header(kind, payload).as_bytes().to_vec();
        out.extend_from_slice(payload);
        out
    }

    fn taken<M: RawMutex>(member: &Member<'_, '_, M>) -> Vec<u8> {
        let mut out = [0u8; 4096];
        match member.take(&mut out) {
            Outgoing::Frames(n) => out[..n].to_vec(),
            Outgoing::Empty => Vec::new(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn joins_up_to_the_slot_count_and_frees_slots_on_drop() {
        let mut rings = [[0u8; 256]; 2];
        let mut slots = slots(&mut rings);
        let hub = Hub::<NoopRawMutex>::new(&mut slots);
        let a = hub.join().unwrap();
        let b = hub.join().unwrap();
        assert!(hub.join().is_none(), "no third slot");
        assert_eq!((hub.clients(), hub.free_slots()), (2, 0));
        let a_id = a.id();
        drop(a);
        assert_eq!(hub.free_slots(), 1);
        let c = hub.join().unwrap();
        assert_ne!(c.id(), a_id, "ids are not reused");
        assert_eq!(hub.try_next_notice(), Some(Notice::Joined(a_id)));
        assert_eq!(hub.try_next_notice(), Some(Notice::Joined(b.id())));
        assert_eq!(hub.try_next_notice(), Some(Notice::Left(a_id)));
        assert_eq!(hub.try_next_notice(), Some(Notice::Joined(c.id())));
        assert_eq!(hub.try_next_notice(), None);
    }

    #[test]
    fn send_to_queues_a_whole_frame_for_one_client() {
        let mut rings = [[0u8; 256]; 2];
        let mut slots = slots(&mut rings);
        let hub = Hub::<NoopRawMutex>::new(&mut slots);
        let (a, b) = (hub.join().unwrap(), hub.join().unwrap());
        hub.send_to(b.id(), DataKind::Text, b"for b").unwrap();
        assert_eq!(taken(&a), b"");
        assert_eq!(taken(&b), frame(DataKind::Text, b"for b"));
        assert_eq!(hub.send_to(ClientId(999), DataKind::Text, b"x"), Err(SendError::NoSuchClient));
    }

    #[test]
    fn broadcast_reaches_every_client_but_the_excepted_one_in_order() {
        let mut rings = [[0u8; 512]; 3];
        let mut slots = slots(&mut rings);
        let hub = Hub::<NoopRawMutex>::new(&mut slots);
        let members: Vec<_> = (0..3).map(|_| hub.join().unwrap()).collect();
        assert_eq!(hub.broadcast(DataKind::Binary, b"one"), Ok(Broadcast { queued: 3, overflowed: 0 }));
        let except = Some(members[0].id());
        assert_eq!(
            hub.broadcast_except(except, DataKind::Text, b"two"),
            Ok(Broadcast { queued: 2, overflowed: 0 })
        );
        let both = [frame(DataKind::Binary, b"one"), frame(DataKind::Text, b"two")].concat();
        assert_eq!(taken(&members[0]), frame(DataKind::Binary, b"one"));
        assert_eq!(taken(&members[1]), both);
        assert_eq!(taken(&members[2]), both);
    }

    #[test]
    fn a_full_queue_overflows_that_client_only() {
        let mut rings = [[0u8; 64]; 2];
        let mut slots = slots(&mut rings);
        let hub = Hub::<NoopRawMutex>::new(&mut slots);
        let (slow, fast) = (hub.join().unwrap(), hub.join().unwrap());
        let mut delivered = Vec::new();
        for i in 0..5u8 {
            let payload = [i; 20];
            let report = hub.broadcast(DataKind::Binary, &payload).unwrap();
            delivered.extend(taken(&fast));
            if i < 2 {
                assert_eq!(report, Broadcast { queued: 2, overflowed: 0 });
            }
        }
        let expected: Vec<u8> = (0..5u8).flat_map(|i| frame(DataKind::Binary, &[i; 20])).collect();
        assert_eq!(delivered, expected, "the fast client got everything in order");
        let mut out = [0u8; 64];
        assert_eq!(slow.take(&mut out), Outgoing::Overflowed);
        assert_eq!(hub.send_to(slow.id(), DataKind::Text, b"x"), Err(SendError::NoSuchClient));
    }

    #[test]
    fn a_frame_larger_than_a_queue_is_refused() {
        let mut rings = [[0u8; 64]; 1];
        let mut slots = slots(&mut rings);
        let hub = Hub::<NoopRawMutex>::new(&mut slots);
        let member = hub.join().unwrap();
        assert_eq!(hub.max_frame(), 60);
        assert_eq!(hub.broadcast(DataKind::Binary, &[0; 59]), Err(SendError::TooLarge));
        assert_eq!(hub.send_to(member.id(), DataKind::Binary, &[0; 58]), Ok(()));
    }

    #[test]
    fn take_copies_only_whole_frames() {
        let mut rings = [[0u8; 256]; 1];
        let mut slots = slots(&mut rings);
        let hub = Hub::<NoopRawMutex>::new(&mut slots);
        let member = hub.join().unwrap();
        hub.broadcast(DataKind::Binary, &[1; 30]).unwrap();
        hub.broadcast(DataKind::Binary, &[2; 30]).unwrap();
        let mut out = [0u8; 50];
        assert_eq!(member.take(&mut out), Outgoing::Frames(32));
        assert_eq!(&out[..32], frame(DataKind::Binary, &[1; 30]).as_slice());
        assert_eq!(member.take(&mut out), Outgoing::Frames(32));
        assert_eq!(member.take(&mut out), Outgoing::Empty);
    }

    #[test]
    fn a_frame_larger_than_the_buffer_comes_out_in_pieces() {
        let mut rings = [[0u8; 256]; 1];
        let mut slots = slots(&mut rings);
        let hub = Hub::<NoopRawMutex>::new(&mut slots);
        let member = hub.join().unwrap();
        let payload: Vec<u8> = (0..100u8).collect();
        hub.broadcast(DataKind::Binary, &payload).unwrap();
        hub.broadcast(DataKind::Text, b"next").unwrap();
        let mut out = [0u8; 40];
        let mut got = Vec::new();
        assert_eq!(member.take(&mut out), Outgoing::Partial(40));
        got.extend_from_slice(&out);
        assert_eq!(member.take(&mut out), Outgoing::Partial(40));
        got.extend_from_slice(&out);
        assert_eq!(member.take(&mut out), Outgoing::Frames(22));
        got.extend_from_slice(&out[..22]);
        assert_eq!(got, frame(DataKind::Binary, &payload));
        assert_eq!(member.take(&mut out), Outgoing::Frames(6));
    }

    #[test]
    fn an_overflow_lets_the_frame_in_flight_finish_first() {
        let mut rings = [[0u8; 128]; 1];
        let mut slots = slots(&mut rings);
        let hub = Hub::<NoopRawMutex>::new(&mut slots);
        let member = hub.join().unwrap();
        hub.broadcast(DataKind::Binary, &[7; 100]).unwrap();
        let mut out = [0u8; 30];
        assert_eq!(member.take(&mut out), Outgoing::Partial(30));
        // No room for this one: the client overflows, but its started frame stays whole.
        assert_eq!(hub.broadcast(DataKind::Binary, &[8; 100]), Ok(Broadcast { queued: 0, overflowed: 1 }));
        let mut rest = 0;
        loop {
            match member.take(&mut out) {
                Outgoing::Partial(n) => rest += n,
                Outgoing::Frames(n) => {
                    rest += n;
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(rest, 102 - 30);
        assert_eq!(member.take(&mut out), Outgoing::Overflowed);
    }

    #[test]
    fn the_ring_wraps_around_without_corrupting_frames() {
        let mut rings = [[0u8; 100]; 1];
        let mut slots = slots(&mut rings);
        let hub = Hub::<NoopRawMutex>::new(&mut slots);
        let member = hub.join().unwrap();
        for round in 0..200usize {
            let payload: Vec<u8> = (0..(round * 7) % 40).map(|i| (i + round) as u8).collect();
            hub.send_to(member.id(), DataKind::Binary, &payload).unwrap();
            if round % 3 == 0 {
                hub.send_to(member.id(), DataKind::Text, b"x").unwrap();
                let both = [frame(DataKind::Binary, &payload), frame(DataKind::Text, b"x")].concat();
                assert_eq!(taken(&member), both, "round {round}");
            } else {
                assert_eq!(taken(&member), frame(DataKind::Binary, &payload), "round {round}");
            }
        }
    }

    #[test]
    fn old_notices_are_dropped_first() {
        let mut rings = [[0u8; 32]; 1];
        let mut slots = slots(&mut rings);
        let hub = Hub::<NoopRawMutex>::new(&mut slots);
        let mut ids = Vec::new();
        for _ in 0..20 {
            ids.push(hub.join().unwrap().id());
        }
        // 40 notices happened; the 16 newest remain.
        let kept: Vec<Notice> = core::iter::from_fn(|| hub.try_next_notice()).collect();
        assert_eq!(kept.len(), NOTICES);
        assert_eq!(kept.last(), Some(&Notice::Left(ids[19])));
        assert_eq!(kept[0], Notice::Joined(ids[12]));
    }

    #[test]
    fn an_overflow_wakes_the_overflow_waiter() {
        let hub: &'static Hub<'static, CriticalSectionRawMutex> = Hub::leak(1, 64);
        let member = hub.join().unwrap();
        let waiter = std::thread::spawn(move || {
            block_on(member.overflowed());
            let mut out = [0u8; 64];
            member.take(&mut out)
        });
        std::thread::sleep(core::time::Duration::from_millis(50));
        for _ in 0..3 {
            let _ = hub.broadcast(DataKind::Binary, &[0; 30]);
        }
        assert_eq!(waiter.join().unwrap(), Outgoing::Overflowed);
    }

    #[test]
    fn a_waiting_thread_wakes_when_a_message_arrives() {
        let hub: &'static Hub<'static, CriticalSectionRawMutex> = Hub::leak(2, 1024);
        let member = hub.join().unwrap();
        let id = member.id();
        let waiter = std::thread::spawn(move || {
            block_on(member.ready());
            taken(&member)
        });
        std::thread::sleep(core::time::Duration::from_millis(50));
        hub.send_to(id, DataKind::Text, b"wake up").unwrap();
        assert_eq!(waiter.join().unwrap(), frame(DataKind::Text, b"wake up"));
    }
}
