//! The client over loopback TCP against a scripted server: the handshake, masking, and the
//! ways a server can go wrong.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use espws::client::{self, ClientConfig, ConnectError, Connected};
use espws::proto::client_handshake::{ClientRequest, HandshakeError};
use espws::proto::{Closed, ProtocolError};
use espws::wire::frame::FrameHeader;
use espws::wire::http::accept_key;
use espws::wire::url::Url;
use espws::wire::Status;
use espws::{DataKind, Event};

/// Starts a one-connection server running `script` on the accepted stream (after reading the
/// request head, whose `Sec-WebSocket-Key` it is given); returns the URL to dial.
fn server(script: impl FnOnce(TcpStream, String) + Send + 'static) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).unwrap() == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key =
            head.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap_or_default().to_string();
        script(stream, key);
    });
    (url, handle)
}

fn upgrade(stream: &mut TcpStream, key: &str) {
    let accept = accept_key(key.as_bytes());
    let accept = std::str::from_utf8(&accept).unwrap();
    write!(
        stream,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .unwrap();
}

/// Reads one frame from the client and returns its first byte, key and unmasked payload.
fn read_frame(stream: &mut TcpStream) -> (u8, Option<[u8; 4]>, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(Status::Complete(h, n)) = FrameHeader::parse(&buf) {
            if buf.len() >= n + h.payload_len as usize {
                let mut payload = buf[n..n + h.payload_len as usize].to_vec();
                if let Some(key) = h.mask {
                    espws::wire::mask::apply_mask_bytewise(&mut payload, key, 0);
                }
                return (buf[0], h.mask, payload);
            }
        }
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the client closed before a whole frame");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn dial(
    url: &str,
    timeout: Duration,
) -> Result<Connected<'_, client::std::StdWebSocket>, ConnectError<std::io::Error>> {
    let mut config = ClientConfig::new(ClientRequest::new(Url::parse(url).unwrap()));
    config.handshake_timeout = timeout;
    client::std::connect_tcp(&config, 4096)
}

#[test]
fn the_client_masks_what_it_sends_and_reads_what_the_server_sends() {
    let (url, server) = server(|mut stream, key| {
        upgrade(&mut stream, &key);
        let (b0, mask, payload) = read_frame(&mut stream);
        assert_eq!((b0, payload.as_slice()), (0x81, &b"hello"[..]));
        assert!(mask.is_some(), "a client frame must be masked");
        stream.write_all(&[0x81, 0x05]).unwrap();
        stream.write_all(b"HELLO").unwrap();
        let (b0, mask, payload) = read_frame(&mut stream);
        assert_eq!((b0, &payload[..2]), (0x88, &1000u16.to_be_bytes()[..]));
        assert!(mask.is_some());
        stream.write_all(&[0x88, 0x02, 0x03, 0xE8]).unwrap();
    });
    let Connected { mut ws, .. } = dial(&url, Duration::from_secs(5)).unwrap();
    ws.sender().send_text("hello").unwrap();
    let (event, _) = ws.next_event().unwrap().unwrap();
    let Event::Data(data) = event else { panic!("expected data") };
    assert_eq!((data.kind, data.payload), (DataKind::Text, &b"HELLO"[..]));
    ws.finish();
    assert!(matches!(ws.connection().outcome(), Some(Closed::Handshake { .. })));
    ws.linger();
    server.join().unwrap();
}

#[test]
fn a_masked_frame_from_the_server_closes_with_1002() {
    let (url, server) = server(|mut stream, key| {
        upgrade(&mut stream, &key);
        stream.write_all(&espws::wire::frame::masked_client_frame(0x81, b"hi", [1, 2, 3, 4])).unwrap();
        let (b0, _, payload) = read_frame(&mut stream);
        assert_eq!((b0, &payload[..2]), (0x88, &1002u16.to_be_bytes()[..]));
    });
    let Connected { mut ws, .. } = dial(&url, Duration::from_secs(5)).unwrap();
    let (event, _) = ws.next_event().unwrap().unwrap();
    assert!(matches!(event, Event::Closed { how: Closed::Failed(ProtocolError::MaskedFrame), .. }));
    drop(ws);
    server.join().unwrap();
}

#[test]
fn a_server_that_never_answers_the_upgrade_times_out() {
    let (url, server) = server(|stream, _| {
        thread::sleep(Duration::from_millis(800));
        drop(stream);
    });
    let started = Instant::now();
    let err = dial(&url, Duration::from_millis(200)).err().unwrap();
    assert!(matches!(err, ConnectError::Handshake(HandshakeError::TimedOut)), "{err}");
    assert!(started.elapsed() < Duration::from_millis(700));
    server.join().unwrap();
}

#[test]
fn a_503_is_an_error_with_status_and_reason() {
    let (url, server) = server(|mut stream, _| {
        stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n").unwrap();
    });
    let Err(ConnectError::Handshake(HandshakeError::Rejected(r))) = dial(&url, Duration::from_secs(5)) else {
        panic!("a 503 was accepted")
    };
    assert_eq!((r.status, r.reason.as_str()), (503, "Service Unavailable"));
    server.join().unwrap();
}

#[test]
fn a_response_head_larger_than_the_buffer_is_an_error() {
    let (url, server) = server(|mut stream, key| {
        let accept = accept_key(key.as_bytes());
        let filler = "X-Filler: ".to_string() + &"a".repeat(600) + "\r\n";
        let mut head =
            String::from("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
        head += &format!("Sec-WebSocket-Accept: {}\r\n", std::str::from_utf8(&accept).unwrap());
        for _ in 0..8 {
            head += &filler;
        }
        head += "\r\n";
        let _ = stream.write_all(head.as_bytes());
    });
    let err = dial(&url, Duration::from_secs(5)).err().unwrap();
    assert!(matches!(err, ConnectError::Handshake(HandshakeError::TooLarge)), "{err}");
    server.join().unwrap();
}

#[test]
fn a_server_that_drops_mid_message_ends_the_connection_for_the_app() {
    let (url, server) = server(|mut stream, key| {
        upgrade(&mut stream, &key);
        // A 100-byte binary frame cut after 10 bytes of payload.
        stream.write_all(&[0x82, 100]).unwrap();
        stream.write_all(&[7; 10]).unwrap();
    });
    let Connected { mut ws, .. } = dial(&url, Duration::from_secs(5)).unwrap();
    let mut ended = None;
    while let Ok(Some((event, _))) = ws.next_event() {
        if let Event::Closed { how, .. } = event {
            ended = Some(how);
        }
    }
    assert_eq!(ended, Some(Closed::Dropped));
    server.join().unwrap();
}

#[cfg(feature = "tokio")]
mod on_tokio {
    use super::*;

    fn config(url: &str, timeout: Duration) -> ClientConfig<'_> {
        let mut config = ClientConfig::new(ClientRequest::new(Url::parse(url).unwrap()));
        config.handshake_timeout = timeout;
        config
    }

    #[tokio::test]
    async fn the_async_client_masks_what_it_sends_and_reads_what_the_server_sends() {
        let (url, server) = server(|mut stream, key| {
            upgrade(&mut stream, &key);
            let (b0, mask, payload) = read_frame(&mut stream);
            assert_eq!((b0, payload.as_slice()), (0x82, &[1u8, 2, 3][..]));
            assert!(mask.is_some());
            stream.write_all(&[0x82, 0x03, 3, 2, 1]).unwrap();
            let (b0, _, _) = read_frame(&mut stream);
            assert_eq!(b0, 0x88);
            stream.write_all(&[0x88, 0x02, 0x03, 0xE8]).unwrap();
        });
        let config = config(&url, Duration::from_secs(5));
        let Connected { mut ws, .. } = client::tokio::connect_tcp(&config, 4096).await.unwrap();
        ws.sender().send_binary(&[1, 2, 3]).await.unwrap();
        let (event, _) = ws.next_event().await.unwrap().unwrap();
        assert!(matches!(event, Event::Data(d) if d.payload == [3, 2, 1]));
        ws.finish().await;
        assert!(matches!(ws.connection().outcome(), Some(Closed::Handshake { .. })));
        tokio::task::spawn_blocking(move || server.join().unwrap()).await.unwrap();
    }

    #[tokio::test]
    async fn an_async_client_times_out_a_server_that_never_answers() {
        let (url, server) = server(|stream, _| {
            thread::sleep(Duration::from_millis(800));
            drop(stream);
        });
        let config = config(&url, Duration::from_millis(200));
        let err = client::tokio::connect_tcp(&config, 4096).await.err().unwrap();
        assert!(matches!(err, ConnectError::Handshake(HandshakeError::TimedOut)), "{err}");
        tokio::task::spawn_blocking(move || server.join().unwrap()).await.unwrap();
    }
}

#[test]
fn send_part_in_place_masks_the_callers_bytes_without_a_copy() {
    let (url, server) = server(|mut stream, key| {
        upgrade(&mut stream, &key);
        let (b0, mask, payload) = read_frame(&mut stream);
        assert_eq!((b0, payload.as_slice()), (0x82, &[9u8; 300][..]));
        assert!(mask.is_some());
    });
    let Connected { mut ws, .. } = dial(&url, Duration::from_secs(5)).unwrap();
    let mut payload = [9u8; 300];
    ws.sender().send_part_in_place(DataKind::Binary, &mut payload, true, true).unwrap();
    // The bytes were masked where they lay.
    assert_ne!(payload, [9u8; 300]);
    server.join().unwrap();
}

#[test]
fn the_reconnect_loop_redials_after_a_loss_and_stops_after_an_application_close() {
    use espws::client::reconnect::{Ended, Policy};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                assert_eq!(stream.read(&mut byte).unwrap(), 1);
                head.push(byte[0]);
            }
            let head = String::from_utf8(head).unwrap();
            let key = head.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap().to_string();
            upgrade(&mut stream, &key);
            // Lose the connection at once.
            drop(stream);
        }
    });
    let config = ClientConfig::new(ClientRequest::new(Url::parse(&url).unwrap()));
    let policy = Policy { floor: Duration::from_millis(100), jitter_percent: 0, ..Policy::default() };
    let mut sessions = Vec::new();
    let started = Instant::now();
    client::std::run_reconnecting(
        &config,
        policy,
        |config| client::std::connect_tcp(config, 4096),
        |ws, _| {
            while let Ok(Some(_)) = ws.next_event() {}
            sessions.push(started.elapsed());
            if sessions.len() == 2 {
                Ended::ByApplication
            } else {
                Ended::Lost
            }
        },
    );
    assert_eq!(sessions.len(), 2);
    assert!(sessions[1] - sessions[0] >= Duration::from_millis(100), "{sessions:?}");
    server.join().unwrap();
}
