//! Every bad input gets its answer, while a well-behaved client beside it loses nothing and the
//! simulator's memory stays bounded. One test per row of the table in the README.

mod support;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use support::{http, masked_frame, on_each_runtime, RawClient, Sim, UPGRADE};

/// Runs `case` against a fresh simulator while a bystander client has 50 messages in flight,
/// then checks the bystander gets every echo in order and memory did not grow.
fn with_bystander(args: &[&str], case: impl FnOnce(&Sim)) {
    let sim = Sim::start(args);
    let mut bystander = RawClient::connect(sim.addr);
    bystander.assert_echo(b"warm up");
    let rss_before = sim.rss_kib();
    let messages: Vec<Vec<u8>> = (0..50).map(|i| format!("bystander message {i}").into_bytes()).collect();
    for message in &messages {
        bystander.send_frame(0x82, message);
    }
    case(&sim);
    for message in &messages {
        let (_, echoed) = bystander.read_message().expect("the bystander's connection survived");
        assert_eq!(&echoed, message, "bystander messages arrive complete and in order");
    }
    bystander.assert_echo(b"still served");
    let rss_after = sim.rss_kib();
    assert!(rss_after < rss_before + 8 * 1024, "memory grew from {rss_before} KiB to {rss_after} KiB");
}

/// A WebSocket case: connect, send `bytes`, expect a close frame with `code`.
fn closes_with(code: u16, bytes: Vec<u8>) {
    with_bystander(&[], |sim| {
        let mut client = RawClient::connect(sim.addr);
        client.send_raw(&bytes);
        client.expect_close(code);
    });
}

#[test]
fn invalid_utf8_text_closes_with_1007() {
    on_each_runtime(|| {
        closes_with(1007, masked_frame(0x81, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"));
    });
}

#[test]
fn unmasked_frame_closes_with_1002() {
    on_each_runtime(|| {
        closes_with(1002, vec![0x82, 0x02, b'h', b'i']);
    });
}

#[test]
fn rsv_bits_close_with_1002() {
    on_each_runtime(|| {
        closes_with(1002, masked_frame(0xC2, b"compressed?"));
    });
}

#[test]
fn reserved_opcode_closes_with_1002() {
    on_each_runtime(|| {
        closes_with(1002, masked_frame(0x83, b""));
    });
}

#[test]
fn fragmented_control_frame_closes_with_1002() {
    on_each_runtime(|| {
        closes_with(1002, masked_frame(0x09, b"ping without FIN"));
    });
}

#[test]
fn ping_over_125_bytes_closes_with_1002() {
    on_each_runtime(|| {
        closes_with(1002, masked_frame(0x89, &[b'p'; 126]));
    });
}

#[test]
fn orphan_continuation_closes_with_1002() {
    on_each_runtime(|| {
        closes_with(1002, masked_frame(0x80, b"no message started"));
    });
}

#[test]
fn close_with_a_one_byte_payload_closes_with_1002() {
    on_each_runtime(|| {
        closes_with(1002, masked_frame(0x88, &[0x03]));
    });
}

#[test]
fn close_with_an_invalid_code_closes_with_1002() {
    on_each_runtime(|| {
        closes_with(1002, masked_frame(0x88, &1004u16.to_be_bytes()));
    });
}

#[test]
fn a_frame_announcing_2_pow_63_minus_1_bytes_closes_with_1009_at_once() {
    on_each_runtime(|| {
        let mut header = vec![0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        header.extend_from_slice(&[1, 2, 3, 4]);
        with_bystander(&[], |sim| {
            let rss_before = sim.rss_kib();
            let mut client = RawClient::connect(sim.addr);
            let started = Instant::now();
            // Only the header is sent: the answer must not wait for payload.
            client.send_raw(&header);
            client.expect_close(1009);
            assert!(started.elapsed() < Duration::from_secs(2), "1009 came after {:?}", started.elapsed());
            assert!(sim.rss_kib() < rss_before + 1024, "nothing may be allocated for the announced length");
        });
    });
}

#[test]
fn fragments_whose_sum_passes_max_message_close_with_1009_at_the_crossing_fragment() {
    on_each_runtime(|| {
        with_bystander(&["--max-message", "1000"], |sim| {
            let mut client = RawClient::connect(sim.addr);
            client.send_frame(0x02, &[1u8; 600]);
            client.send_frame(0x00, &[2u8; 400]);
            // The third fragment's header alone crosses the limit.
            let crossing = masked_frame(0x80, &[3u8; 1]);
            client.send_raw(&crossing[..6]);
            client.expect_close(1009);
        });
    });
}

#[test]
fn garbage_instead_of_a_handshake_gets_400() {
    on_each_runtime(|| {
        with_bystander(&[], |sim| {
            let (status, _) = http(sim.addr, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n");
            assert_eq!(status, 400);
        });
    });
}

#[test]
fn a_handshake_without_a_key_gets_400() {
    on_each_runtime(|| {
        with_bystander(&[], |sim| {
            let request = UPGRADE.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
            let (status, response) = http(sim.addr, request.as_bytes());
            assert_eq!(status, 400, "{response}");
            assert!(response.contains("Sec-WebSocket-Key"), "the body explains: {response}");
        });
    });
}

#[test]
fn a_version_other_than_13_gets_426_naming_13() {
    on_each_runtime(|| {
        with_bystander(&[], |sim| {
            let request = UPGRADE.replace("Version: 13", "Version: 8");
            let (status, response) = http(sim.addr, request.as_bytes());
            assert_eq!(status, 426);
            assert!(response.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{response}");
        });
    });
}

#[test]
fn sixty_four_kib_of_headers_get_431() {
    on_each_runtime(|| {
        with_bystander(&[], |sim| {
            let mut request = String::from("GET /ws HTTP/1.1\r\nHost: test\r\n");
            while request.len() < 64 * 1024 {
                request.push_str(
                    "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
                );
            }
            request.push_str("\r\n");
            let mut client = RawClient::tcp(sim.addr);
            // The server answers before reading it all; the write may then fail, which is fine.
            let _ = client.stream.write_all(request.as_bytes());
            let response = client.read_to_end();
            assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
        });
    });
}

#[test]
fn a_burst_of_300_silent_connections_does_not_stop_service() {
    on_each_runtime(|| {
        // The handshake timeout leaves the accept loop time to answer the whole burst even when
        // the machine is loaded by the other tests.
        with_bystander(&["--max-clients", "8", "--handshake-timeout", "3"], |sim| {
            // A device has no listen backlog: with every listening socket busy, a connection is
            // refused at once (RST), which is as good an answer as 503.
            let silent: Vec<Option<RawClient>> =
                (0..300).map(|_| RawClient::tcp_unless_refused(sim.addr)).collect();
            // Those beyond the free slots are answered 503 at once; those with a slot are dropped
            // at the handshake timeout. None may hang.
            let started = Instant::now();
            let mut refused = 0;
            for client in silent {
                let Some(mut client) = client else {
                    refused += 1;
                    continue;
                };
                let head = client.read_head();
                assert!(head.is_empty() || head.starts_with("HTTP/1.1 503 "), "unexpected answer {head:?}");
                refused += usize::from(!head.is_empty());
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "silent connections lingered {:?}",
                started.elapsed()
            );
            assert!(refused >= 280, "only {refused} of 300 got 503");
            // The silent ones that took slots time out, and service resumes within a second more.
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let Some(mut probe) = RawClient::tcp_unless_refused(sim.addr) else {
                    assert!(Instant::now() < deadline, "no slot came back");
                    thread::sleep(Duration::from_millis(100));
                    continue;
                };
                probe.send_raw(UPGRADE.as_bytes());
                if probe.read_head().starts_with("HTTP/1.1 101") {
                    probe.assert_echo(b"service resumed");
                    break;
                }
                assert!(Instant::now() < deadline, "no slot came back");
                thread::sleep(Duration::from_millis(100));
            }
        });
    });
}
