//! The broadcast app and the hub's overflow policy: three clients, one of which never reads.
//! The two others receive every message in order; the stopped one is dropped; memory stays
//! bounded.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::{on_each_runtime, RawClient, Sim};

const MESSAGES: u32 = 2000;
const SIZE: usize = 8 * 1024;

/// How far ahead of the slower reader the sender may run: the readers are clients that keep up
/// (64 messages, 512 KiB, is half their queue), however loaded the machine running the test.
const AHEAD: usize = 64;

/// Reads broadcasts until `MESSAGES` have arrived; returns their sequence numbers in order.
fn read_all(mut client: RawClient, progress: &AtomicUsize) -> Vec<u32> {
    let mut seen = Vec::new();
    while seen.len() < MESSAGES as usize {
        let Some((_, payload)) = client.read_message() else {
            panic!("a reading client was disconnected after {} messages", seen.len());
        };
        assert_eq!(payload.len(), SIZE);
        seen.push(u32::from_be_bytes(payload[..4].try_into().unwrap()));
        progress.store(seen.len(), Ordering::Release);
    }
    seen
}

#[test]
fn a_stopped_client_is_dropped_and_the_others_receive_every_message_in_order() {
    on_each_runtime(|| {
        // A queue of 1 MiB absorbs the bursts of a sender going flat out; the stopped client
        // falls 16 MiB behind, far past its queue and the kernel's buffers.
        let sim = Sim::start(&["--app", "broadcast", "--queue-bytes", "1048576"]);
        let sender = RawClient::connect(sim.addr);
        let reader = RawClient::connect(sim.addr);
        let mut stopped = RawClient::connect(sim.addr);
        let rss_before = sim.rss_kib();

        let sender_reads = RawClient { stream: sender.stream.try_clone().unwrap() };
        let progress = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let (p0, p1) = (progress.clone(), progress.clone());
        let readers = [
            thread::spawn(move || read_all(sender_reads, &p0[0])),
            thread::spawn(move || read_all(reader, &p1[1])),
        ];
        let mut sender = sender;
        let started = Instant::now();
        for i in 0..MESSAGES {
            while progress.iter().map(|p| p.load(Ordering::Acquire)).min().unwrap() + AHEAD < i as usize {
                thread::yield_now();
                if started.elapsed() > Duration::from_secs(30) {
                    panic!("the readers stalled at {progress:?}; the simulator's log:\n{}", sim.log_text());
                }
            }
            let mut payload = vec![(i % 251) as u8; SIZE];
            payload[..4].copy_from_slice(&i.to_be_bytes());
            sender.send_frame(0x82, &payload);
        }
        let expected: Vec<u32> = (0..MESSAGES).collect();
        for reader in readers {
            let received = reader.join();
            if received.is_err() {
                panic!("a reader failed; the simulator's log:\n{}", sim.log_text());
            }
            assert_eq!(received.unwrap(), expected, "every message, in order");
        }
        eprintln!(
            "{} MiB broadcast to 2 readers in {:?}",
            (MESSAGES as usize * SIZE) >> 20,
            started.elapsed()
        );

        // The stopped client fell more than its queue behind and was dropped: what it can still
        // read ends, with a close frame (1008) if it was between frames, or a plain end.
        stopped.stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut received = 0usize;
        let mut close_code = None;
        while let Some(frame) = stopped.read_frame() {
            if frame.opcode == 0x8 {
                close_code = Some(u16::from_be_bytes([frame.payload[0], frame.payload[1]]));
                break;
            }
            received += 1;
        }
        assert!(
            received < MESSAGES as usize,
            "the stopped client got only {received} messages before being dropped"
        );
        assert!(close_code.is_none() || close_code == Some(1008), "closed with {close_code:?}");
        eprintln!("stopped client: {received} messages, then dropped (close code {close_code:?})");
        let rss_after = sim.rss_kib();
        assert!(rss_after < rss_before + 32 * 1024, "memory grew from {rss_before} KiB to {rss_after} KiB");
        eprintln!("RSS {rss_before} KiB -> {rss_after} KiB");
    });
}

#[test]
fn status_ticks_reach_every_client_while_echo_goes_on() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--app", "echo", "--tick-ms", "100", "--max-clients", "4"]);
        let mut a = RawClient::connect(sim.addr);
        let mut b = RawClient::connect(sim.addr);
        let started = Instant::now();
        let mut statuses = 0;
        let mut echoed = false;
        a.send_frame(0x81, b"hello");
        while statuses < 3 || !echoed {
            let (opcode, payload) = a.read_message().expect("connected");
            let text = String::from_utf8(payload).unwrap();
            if text == "hello" {
                echoed = true;
            } else {
                assert_eq!(opcode, 1, "status messages are text");
                assert!(text.starts_with(r#"{"type":"status","uptime_ms":"#), "{text}");
                assert!(text.ends_with(r#","clients":2,"free_slots":2}"#), "{text}");
                statuses += 1;
            }
            assert!(started.elapsed() < Duration::from_secs(5));
        }
        let (_, other) = b.read_message().expect("the other client gets ticks too");
        assert!(String::from_utf8(other).unwrap().contains(r#""type":"status""#));
        eprintln!("3 ticks and the echo in {:?}", started.elapsed());
    });
}
