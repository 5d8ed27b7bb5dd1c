//! The no_std path allocates nothing: the handshake, the connection state machine (both
//! deliveries, every kind of frame) and the hub, driven in memory under a counting allocator.
//!
//! The crate builds without `alloc` for bare-metal targets (`scripts/test` builds it for
//! riscv32imc-unknown-none-elf), so it cannot allocate there; this shows the same code paths
//! allocate nothing on the host either, where the allocator is available.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use espws::hub::{self, Hub, Outgoing};
use espws::proto::handshake::{self, Policy};
use espws::proto::{Config, Connection, Delivery, Event, RecvBuf};
use espws::wire::http::{Request, EMPTY_HEADER, MAX_HEADERS};
use espws::wire::Status;
use espws::{DataKind, Instant};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    espws::wire::frame::masked_client_frame(b0, payload, [1, 2, 3, 4])
}

/// Every kind of input: whole and fragmented messages, text and binary, all three length
/// forms, pings and pongs between fragments, and the closing handshake.
fn stream() -> Vec<u8> {
    let mut s = Vec::new();
    for round in 0..50u8 {
        s.extend(masked(0x81, "héllo wörld".as_bytes()));
        s.extend(masked(0x82, &vec![round; 300]));
        s.extend(masked(0x02, &vec![round; 70_000]));
        s.extend(masked(0x89, b"ping"));
        s.extend(masked(0x80, b"tail"));
        s.extend(masked(0x01, &"€".as_bytes()[..1]));
        s.extend(masked(0x8A, b"pong"));
        s.extend(masked(0x80, &"€".as_bytes()[1..]));
    }
    s.extend(masked(0x88, &1000u16.to_be_bytes()));
    s
}

fn drive(config: Config, buffer: &mut [u8], input: &[u8]) -> usize {
    let mut conn = Connection::new(config, Instant::from_millis(0));
    let mut rx = RecvBuf::new(buffer);
    let (mut rest, mut messages, mut sent) = (input, 0usize, 0usize);
    let mut now = 0u64;
    loop {
        while let Some(event) = conn.poll_event(&mut rx) {
            if let Event::Data(data) = event {
                messages += usize::from(data.last);
                // The echo's header, as a driver would write it.
                if let Ok(header) =
                    conn.send_header(data.kind, data.payload.len() as u64, data.first, data.last)
                {
                    sent += header.as_bytes().len() + data.payload.len();
                }
            }
            while let Some(frame) = conn.poll_transmit() {
                sent += frame.as_bytes().len();
            }
        }
        if rest.is_empty() || conn.is_closed() {
            break;
        }
        let space = conn.read_buf(&mut rx);
        let n = space.len().min(rest.len()).min(1000);
        space[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        now += 1;
        conn.handle_read(&mut rx, n, Instant::from_millis(now));
        conn.handle_timeout(Instant::from_millis(now));
    }
    assert!(conn.is_closed());
    assert!(sent > 0);
    messages
}

#[test]
fn the_no_std_paths_allocate_nothing() {
    // Everything the measured part needs is made before it.
    let input = stream();
    let mut whole_buffer = vec![0u8; 128 * 1024];
    let mut small_buffer = [0u8; 512];
    let request = b"GET /ws?token=t HTTP/1.1\r\nHost: d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
    let mut rings = [[0u8; 4096]; 4];
    let mut slots = hub::slots(&mut rings);
    let hub = Hub::<NoopRawMutex>::new(&mut slots);
    let mut out = [0u8; 512];

    let before = ALLOCATIONS.load(Ordering::SeqCst);

    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let Ok(Status::Complete(req, _)) = Request::parse(request, &mut headers) else { panic!("request") };
    let policy = Policy { token: Some("t"), protocols: &["chat"], ..Policy::default() };
    let accepted = handshake::decide(&req, &policy).expect("accepted");
    let response_len = accepted.write_response(&mut out).expect("fits");

    let whole = drive(Config { delivery: Delivery::Whole, ..Config::default() }, &mut whole_buffer, &input);
    let chunked =
        drive(Config { delivery: Delivery::Chunked, ..Config::default() }, &mut small_buffer, &input);

    let a = hub.join().expect("a slot");
    let b = hub.join().expect("a slot");
    let mut drained = 0;
    for i in 0..1000u32 {
        hub.broadcast(DataKind::Binary, &i.to_be_bytes()).expect("fits");
        hub.send_to(b.id(), DataKind::Text, b"direct").expect("b is there");
        for member in [&a, &b] {
            while let Outgoing::Frames(n) | Outgoing::Partial(n) = member.take(&mut out) {
                drained += n;
            }
        }
    }

    let allocations = ALLOCATIONS.load(Ordering::SeqCst) - before;
    assert_eq!(allocations, 0, "allocations on the no_std paths");
    assert!(response_len > 0);
    assert_eq!((whole, chunked), (200, 200), "every message delivered");
    assert_eq!(drained, 1000 * (2 * 6 + 8));
}
