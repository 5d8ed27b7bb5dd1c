//! permessage-deflate between real sockets: the espws client and the blocking server agree on it
//! and echo compressed messages of every size; a deflate bomb is refused with 1009, without the
//! process's memory growing by the limit, while the server keeps serving; a small server window is agreed only with a client that can limit its.

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
    fn websocket<T: blocking::Transport, B: espws::Storage, C: blocking::Clock>(
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

/// Keeps nothing of a message and answers its length, so that a test can measure what the
/// library holds.
struct CountLengths;

impl Service for CountLengths {
    type Admission = ();
    fn admit(&self, _req: &Request<'_, '_>) -> Result<(), Declined> {
        Ok(())
    }
}

impl BlockingService for CountLengths {
    fn websocket<T: blocking::Transport, B: espws::Storage, C: blocking::Clock>(
        &self,
        ws: &mut blocking::WebSocket<T, B, C>,
        _client: &Client<'_>,
        _admission: (),
    ) {
        let mut length = 0;
        while let Ok(Some((event, mut sender))) = ws.next_event() {
            if let Event::Data(data) = event {
                length += data.payload.len();
                if data.last {
                    let _ = sender.send_text(&length.to_string());
                    length = 0;
                }
            }
        }
    }
}

const MAX_MESSAGE: u64 = 1 << 20;

fn start(deflate: DeflateConfig) -> SocketAddr {
    start_service(deflate, WholeEcho)
}

fn start_service<S: BlockingService + Send + Sync + 'static>(
    deflate: DeflateConfig,
    service: S,
) -> SocketAddr {
    let config = ServeConfig {
        // No keepalive pings: the bomb test reads the server's frames raw.
        connection: Config { max_message: MAX_MESSAGE, ping_interval: None, ..Config::default() },
        policy: Policy { deflate, ..Policy::default() },
        ..ServeConfig::default()
    };
    let server = Server::bind("127.0.0.1:0", config, service).unwrap();
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

/// Raw DEFLATE of `megabytes` MiB of zeros, sync-flushed, trailer stripped (RFC 7692 section
/// 7.2.1), compressed a MiB at a time so that the bomb never exists inflated in this process.
fn zeros_bomb(megabytes: usize) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity(megabytes * 1100 + 1024);
    for i in 0..megabytes {
        let flush =
            if i + 1 == megabytes { flate2::FlushCompress::Sync } else { flate2::FlushCompress::None };
        let before = compress.total_in();
        while compress.total_in() - before < zeros.len() as u64 || flush == flate2::FlushCompress::Sync {
            let used = (compress.total_in() - before) as usize;
            out.reserve(64 * 1024);
            let out_before = out.len();
            compress.compress_vec(&zeros[used..], &mut out, flush).unwrap();
            if used == zeros.len() && out.len() == out_before {
                break;
            }
        }
    }
    out.truncate(out.len() - 4);
    out
}

/// The process's peak resident memory so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Opens a WebSocket by hand, offering permessage-deflate, and checks that it was agreed.
fn raw_deflate_connection(addr: SocketAddr) -> TcpStream {
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
    stream
}

/// Sends `compressed` as one masked binary frame with RSV1; returns the first frame that comes
/// back: its first byte and payload.
fn send_compressed(stream: &mut TcpStream, compressed: &[u8]) -> (u8, Vec<u8>) {
    let mut frame = espws::wire::frame::masked_client_frame(0x82, compressed, [9, 8, 7, 6]);
    frame[0] |= 0x40; // RSV1: compressed
                      // The server may close before it has read everything: a write error then is expected.
    let _ = stream.write_all(&frame);
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Ok(Status::Complete(h, n)) = FrameHeader::parse(&answer) {
            let end = n + h.payload_len as usize;
            if answer.len() >= end {
                return (answer[0], answer[n..end].to_vec());
            }
        }
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the server closed TCP without a frame");
        answer.extend_from_slice(&chunk[..n]);
    }
}

/// Whether this process is the one to run `test`: a test that measures the process's peak
/// memory runs alone in a new process of this test binary, since the other tests here (a 1 MiB
/// echo among them) run on other threads meanwhile, and their allocations would count in its
/// peak. Where it is false the caller returns; this has checked the new process's outcome.
fn alone_in_a_process(test: &str) -> bool {
    const ALONE: &str = "ESPWS_TEST_ALONE";
    if std::env::var_os(ALONE).is_some() {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let run = std::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{test}, run alone in its own process, failed ({}):\n{stdout}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    // The harness counts a filtered-out test as passed: make sure it ran.
    assert!(stdout.contains("1 passed"), "{test} did not run in its own process:\n{stdout}");
    print!("{stdout}");
    false
}

#[test]
fn a_deflate_bomb_closes_with_1009_and_the_server_keeps_serving() {
    if !alone_in_a_process("a_deflate_bomb_closes_with_1009_and_the_server_keeps_serving") {
        return;
    }
    let addr = start_service(DeflateConfig::FULL, CountLengths);
    // A compressed connection first, so that the peak below already holds what any connection
    // with compression allocates (its deflater and inflater, its thread's stack).
    let mut warm = raw_deflate_connection(addr);
    let (b0, length) = send_compressed(&mut warm, &zeros_bomb(1)[..]);
    assert_eq!((b0, length.as_slice()), (0x81, &b"1048576"[..]), "a 1 MiB message, at the limit, passes");
    // Closed cleanly, and the server's FIN read: its compression state is freed by then.
    warm.write_all(&espws::wire::frame::masked_client_frame(0x88, &1000u16.to_be_bytes(), [1, 2, 3, 4]))
        .unwrap();
    let mut rest = Vec::new();
    let _ = warm.read_to_end(&mut rest);
    let bomb = zeros_bomb(16);
    // 16 MiB of zeros, 16 times the limit, in about 16 KiB on the wire.
    assert!(bomb.len() < 32 * 1024, "{}", bomb.len());
    let peak_before = peak_rss_kib();

    let mut stream = raw_deflate_connection(addr);
    let (b0, payload) = send_compressed(&mut stream, &bomb);
    assert_eq!(b0, 0x88, "a close frame, nothing else");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1009, "message too big, on inflated bytes");
    // Inflated a window at a time and stopped one byte past the limit: the server never held the
    // message, let alone the bomb. Holding even the 1 MiB limit would show here.
    let growth = peak_rss_kib().saturating_sub(peak_before);
    println!("peak RSS grew by {growth} KiB while refusing a 16 MiB bomb (limit 1 MiB)");
    assert!(growth < 768, "peak memory grew by {growth} KiB while refusing the bomb");

    // Everyone else is still served.
    let Connected { mut ws, .. } = dial(addr);
    assert_eq!(echo_answer(&mut ws, b"still here"), b"10");
    ws.finish();
}

/// Sends `message` and returns the answer.
fn echo_answer(ws: &mut client::std::StdWebSocket, message: &[u8]) -> Vec<u8> {
    ws.sender().send(DataKind::Text, message).unwrap();
    loop {
        let (event, _) = ws.next_event().unwrap().expect("the connection ended");
        if let Event::Data(data) = event {
            assert!(data.first && data.last, "a short answer comes whole");
            return data.payload.to_vec();
        }
    }
}
