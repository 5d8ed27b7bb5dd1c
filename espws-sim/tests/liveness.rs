//! Dead peers are noticed and their slots come back, with the flags of the liveness issue:
//! `--ping-interval 2 --pong-timeout 2 --handshake-timeout 3 --max-clients 8 --max-message 1048576`.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use support::{on_each_runtime, RawClient, Sim, UPGRADE};

const FLAGS: &[&str] = &[
    "--ping-interval",
    "2",
    "--pong-timeout",
    "2",
    "--handshake-timeout",
    "3",
    "--max-clients",
    "8",
    "--max-message",
    "1048576",
];

#[test]
fn a_silent_client_is_pinged_then_closed_with_1001_within_10_s() {
    on_each_runtime(|| {
        let sim = Sim::start(FLAGS);
        // From before the handshake: the server's silence starts when the request arrives.
        let started = Instant::now();
        let mut client = RawClient::connect(sim.addr);
        // Reading sends nothing, so to the server this client is as silent as a dead one.
        let mut pings = 0;
        let close = loop {
            let frame = client.read_frame().expect("a close frame before the end");
            match frame.opcode {
                0x9 => pings += 1,
                0x8 => break frame,
                other => panic!("unexpected opcode {other}"),
            }
        };
        let elapsed = started.elapsed();
        assert!(pings >= 1, "pinged first");
        assert_eq!(u16::from_be_bytes([close.payload[0], close.payload[1]]), 1001);
        assert!(elapsed < Duration::from_secs(10), "closed after {elapsed:?}");
        assert!(elapsed >= Duration::from_secs(4), "closed too early, after {elapsed:?}");
        assert!(client.ended_within(Duration::from_secs(3)), "TCP dropped after the close frame");
        eprintln!("silent client closed after {elapsed:?}");
    });
}

#[test]
fn a_client_that_never_reads_loses_its_slot_within_10_s() {
    on_each_runtime(|| {
        let mut flags = FLAGS.to_vec();
        flags[7] = "1"; // one slot, so that getting it back is observable
        let sim = Sim::start(&flags);
        let _dead = RawClient::connect(sim.addr);
        let started = Instant::now();
        loop {
            // A device refuses at once (RST) while none of its sockets listens: try again.
            let Some(mut probe) = RawClient::tcp_unless_refused(sim.addr) else {
                assert!(started.elapsed() < Duration::from_secs(10), "the dead client kept its slot");
                thread::sleep(Duration::from_millis(250));
                continue;
            };
            probe.send_raw(UPGRADE.as_bytes());
            let head = probe.read_head();
            if head.starts_with("HTTP/1.1 101") {
                probe.assert_echo(b"the slot is mine");
                break;
            }
            assert!(head.starts_with("HTTP/1.1 503"), "{head}");
            assert!(started.elapsed() < Duration::from_secs(10), "the dead client kept its slot");
            thread::sleep(Duration::from_millis(250));
        }
        eprintln!("slot free after {:?}", started.elapsed());
    });
}

#[test]
fn a_handshake_sent_one_line_then_nothing_is_dropped_within_8_s() {
    on_each_runtime(|| {
        let sim = Sim::start(FLAGS);
        let mut client = RawClient::tcp(sim.addr);
        client.send_raw(b"GET /ws HTTP/1.1\r\n");
        let started = Instant::now();
        let response = client.read_to_end();
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(8), "dropped after {elapsed:?}");
        assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
        eprintln!("slowloris dropped after {elapsed:?}");
    });
}

#[test]
fn eight_clients_are_admitted_the_ninth_gets_503_and_a_freed_slot_is_usable_within_a_second() {
    on_each_runtime(|| {
        let sim = Sim::start(FLAGS);
        let mut clients: Vec<RawClient> = (0..8).map(|_| RawClient::connect(sim.addr)).collect();
        for (i, client) in clients.iter_mut().enumerate() {
            client.assert_echo(format!("client {i}").as_bytes());
        }
        let mut ninth = RawClient::tcp(sim.addr);
        ninth.send_raw(UPGRADE.as_bytes());
        let response = ninth.read_to_end();
        assert!(response.starts_with("HTTP/1.1 503 "), "{response}");

        let mut leaving = clients.pop().unwrap();
        leaving.send_frame(0x88, &1000u16.to_be_bytes());
        leaving.expect_close(1000);
        drop(leaving);
        let freed = Instant::now();
        loop {
            let Some(mut next) = RawClient::tcp_unless_refused(sim.addr) else {
                assert!(
                    freed.elapsed() < Duration::from_secs(1),
                    "the slot did not come back within a second"
                );
                thread::sleep(Duration::from_millis(20));
                continue;
            };
            next.send_raw(UPGRADE.as_bytes());
            if next.read_head().starts_with("HTTP/1.1 101") {
                next.assert_echo(b"took the freed slot");
                break;
            }
            assert!(freed.elapsed() < Duration::from_secs(1), "the slot did not come back within a second");
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!("freed slot reused after {:?}", freed.elapsed());
        for client in &mut clients {
            client.assert_echo(b"still here");
        }
    });
}
