//! Hub tests: queues, overflow, notices and wakeups.

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
