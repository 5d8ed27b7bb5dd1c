//! permessage-deflate between real sockets: the espws client and the blocking server agree on it
//! and echo compressed messages of every size; a deflate bomb is refused with 1009 while the
//! server keeps serving; a small server window is agreed only with a client that can limit its.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use espws::blocking::{self, BlockingService};
use espws::client::{self, ClientConfig, Connected};
use espws::proto::client_handshake::ClientRequest;
use espws::proto::deflate::DeflateConfig;
use espws::proto::handshake::Declined;
use espws::server::Server;
use espws::wire::frame::FrameHeader;
use espws::wire::http::Request;
use espws::wire::url::Url;
use espws::wire::Status;
use espws::{Client, Config, DataKind, Event, Policy, ServeConfig, Service};

/// Echoes every message whole, so that the answer can be compressed as one.
struct WholeEcho;

impl Service for WholeEcho {
    type Admission = ();
    fn admit(&self, _req: &Request<'_, '_>) -> Result<(), Declined> {
        Ok(())
    }
}

impl BlockingService for WholeEcho {
    fn websocket<T: blocking::Transport, B: AsRef<[u8]> + AsMut<[u8]>, C: blocking::Clock>(
        &self,
        ws: &mut blocking::WebSocket<T, B, C>,
        _client: &Client<'_>,
        _admission: (),
    ) {
        let mut message = Vec::new();
        while let Ok(Some((event, mut sender))) = ws.next_event() {
            if let Event::Data(data) = event {
                message.extend_from_slice(data.payload);
                if data.last {
                    let _ = sender.send(data.kind, &message);
                    message.clear();
                }
            }
        }
    }
}

const MAX_MESSAGE: u64 = 1 << 20;

fn start(deflate: DeflateConfig) -> SocketAddr {
    let config = ServeConfig {
        connection: Config { max_message: MAX_MESSAGE, ..Config::default() },
        policy: Policy { deflate, ..Policy::default() },
        ..ServeConfig::default()
    };
    let server = Server::bind("127.0.0.1:0", config, WholeEcho).unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || server.run());
    addr
}

fn dial(addr: SocketAddr) -> Connected<'static, client::std::StdWebSocket> {
    let url: &'static str = Box::leak(format!("ws://{addr}/ws").into_boxed_str());
    let mut request = ClientRequest::new(Url::parse(url).unwrap());
    request.deflate = true;
    let mut config = ClientConfig::new(request);
    config.connection.max_message = 4 << 20;
    client::std::connect_tcp(&config, 16 * 1024).unwrap()
}

/// Sends `message` and collects the echo.
fn echo(ws: &mut client::std::StdWebSocket, kind: DataKind, message: &[u8]) -> Vec<u8> {
    ws.sender().send(kind, message).unwrap();
    let mut echoed = Vec::new();
    loop {
        let (event, _) = ws.next_event().unwrap().expect("the connection ended");
        let Event::Data(data) = event else { continue };
        assert_eq!(data.kind, kind);
        echoed.extend_from_slice(data.payload);
        if data.last {
            return echoed;
        }
    }
}

fn json_readings(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u32;
    while out.len() < len {
        out.extend_from_slice(
            format!("{{\"t\":{i},\"temp\":{}.{},\"rh\":{}}}", 20 + i % 7, i % 10, 40 + i % 13).as_bytes(),
        );
        i += 1;
    }
    out.truncate(len);
    out
}

#[test]
fn the_client_and_the_server_agree_on_deflate_and_echo_every_size() {
    let addr = start(DeflateConfig::FULL);
    let Connected { mut ws, deflate, .. } = dial(addr);
    let agreed = deflate.expect("the server agreed to the client's offer");
    assert_eq!((agreed.server_max_window_bits, agreed.client_max_window_bits), (15, 15));
    for len in [0, 1, 31, 32, 125, 126, 4096, 65_536, 300_000, MAX_MESSAGE as usize] {
        let text = json_readings(len);
        assert_eq!(echo(&mut ws, DataKind::Text, &text), text, "text of {len} bytes");
        // Bytes that do not compress go out as they are.
        let noise: Vec<u8> = (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert_eq!(echo(&mut ws, DataKind::Binary, &noise), noise, "binary of {len} bytes");
    }
    ws.finish();
}

#[test]
fn a_small_window_is_agreed_with_a_client_that_can_limit_its() {
    let addr = start(DeflateConfig::SMALL);
    let Connected { mut ws, deflate, .. } = dial(addr);
    let agreed = deflate.expect("the client offered client_max_window_bits");
    assert_eq!((agreed.server_max_window_bits, agreed.client_max_window_bits), (9, 9));
    assert!(agreed.client_no_context_takeover && agreed.server_no_context_takeover);
    for len in [100, 5_000, 200_000] {
        let text = json_readings(len);
        assert_eq!(echo(&mut ws, DataKind::Text, &text), text, "text of {len} bytes");
    }
    ws.finish();
}

/// Raw DEFLATE of `data`, sync-flushed, trailer stripped (RFC 7692 section 7.2.1).
fn deflate_raw(data: &[u8]) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() / 100 + 1024);
    compress.compress_vec(data, &mut out, flate2::FlushCompress::Sync).unwrap();
    out.truncate(out.len() - 4);
    out
}

#[test]
fn a_deflate_bomb_closes_with_1009_and_the_server_keeps_serving() {
    let addr = start(DeflateConfig::FULL);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: device\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
              Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        )
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1);
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"), "{head}");

    // 64 MiB of zeros, 64 times the limit, in about 64 KiB on the wire.
    let bomb = deflate_raw(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 128 * 1024, "{}", bomb.len());
    let mut frame = espws::wire::frame::masked_client_frame(0x82, &bomb, [9, 8, 7, 6]);
    frame[0] |= 0x40; // RSV1: compressed
                      // The server may close before it has read everything: a write error then is expected.
    let _ = stream.write_all(&frame);

    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    let close = loop {
        if let Ok(Status::Complete(h, n)) = FrameHeader::parse(&answer) {
            let end = n + h.payload_len as usize;
            if answer.len() >= end {
                assert_eq!(answer[0], 0x88, "a close frame, nothing else");
                break u16::from_be_bytes([answer[n], answer[n + 1]]);
            }
        }
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the server closed TCP without a close frame");
        answer.extend_from_slice(&chunk[..n]);
    };
    assert_eq!(close, 1009, "message too big, counted on inflated bytes");

    // Everyone else is still served.
    let Connected { mut ws, .. } = dial(addr);
    assert_eq!(echo(&mut ws, DataKind::Text, b"still here"), b"still here");
    ws.finish();
}
