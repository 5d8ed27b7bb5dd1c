//! The seed inputs committed under `fuzz/seeds/<target>/`, built here so that they stay readable
//! and in step with the input formats. `cargo run --example gen_seeds` rewrites the files;
//! `tests/replay.rs` checks that they match and still pass.

use espws::wire::frame::OpCode;

use crate::client::ACCEPT;
use crate::connection::{
    client_frame, client_frame_raw, close_payload, server_frame, server_frame_raw, ConnInput, Op, Setup,
};

/// One seed file: target, file name, contents.
pub struct Seed {
    /// The fuzz target it belongs to.
    pub target: &'static str,
    /// The file name under `fuzz/seeds/<target>/`.
    pub name: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Every seed, for every target.
pub fn all() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        seeds.push(Seed { target, name: name.to_string(), bytes })
    };
    for (name, bytes) in handshakes() {
        add("handshake", name, bytes);
    }
    for (name, bytes) in frame_headers() {
        add("frame_header", name, bytes);
    }
    for (name, bytes) in utf8() {
        add("utf8", name, bytes);
    }
    for (name, input) in connections() {
        add("connection", name, input.encode());
    }
    for (name, bytes) in deflates() {
        add("deflate", name, bytes);
    }
    for (name, bytes) in clients() {
        add("client", name, bytes);
    }
    seeds
}

fn crlf(lines: &[&str]) -> Vec<u8> {
    let mut out = String::new();
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Request heads: the RFC's, real clients', ones the policies accept, and refused ones.
fn handshakes() -> Vec<(&'static str, Vec<u8>)> {
    let rfc = crlf(&[
        "GET /chat HTTP/1.1",
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Origin: http://example.com",
        "Sec-WebSocket-Protocol: chat, superchat",
        "Sec-WebSocket-Version: 13",
    ]);
    let chrome = crlf(&[
        "GET /ws HTTP/1.1",
        "Host: 192.168.4.1",
        "Connection: Upgrade",
        "Pragma: no-cache",
        "Cache-Control: no-cache",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
Chrome/124.0.0.0 Safari/537.36",
        "Upgrade: websocket",
        "Origin: http://192.168.4.1",
        "Sec-WebSocket-Version: 13",
        "Accept-Encoding: gzip, deflate",
        "Accept-Language: en-US,en;q=0.9",
        "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    ]);
    let firefox = crlf(&[
        "GET /ws?token=s3%20cr3t%2F%2B HTTP/1.1",
        "Host: localhost:8080",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "Accept: */*",
        "Accept-Language: en-US,en;q=0.5",
        "Accept-Encoding: gzip, deflate, br",
        "Sec-WebSocket-Version: 13",
        "Origin: http://localhost:8080",
        "Sec-WebSocket-Protocol: v2.espws, chat",
        "Sec-WebSocket-Extensions: permessage-deflate",
        "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==",
        "Connection: keep-alive, Upgrade",
        "Sec-Fetch-Dest: empty",
        "Sec-Fetch-Mode: websocket",
        "Sec-Fetch-Site: same-origin",
        "Pragma: no-cache",
        "Cache-Control: no-cache",
        "Upgrade: websocket",
    ]);
    let python = crlf(&[
        "GET / HTTP/1.1",
        "Host: localhost:8765",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: 9fE8ZBXa6nN+J0w3Q5Hkyw==",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Protocol: mqtt, chat",
        "Authorization: Bearer s3 cr3t/+",
        "User-Agent: Python/3.12 websockets/12.0",
    ]);
    let allowed_origin = crlf(&[
        "GET /ws HTTP/1.1",
        "Host: 10.0.0.7",
        "Upgrade: WebSocket",
        "Connection: upgrade",
        "Sec-WebSocket-Key:   dGhlIHNhbXBsZSBub25jZQ==  ",
        "Sec-WebSocket-Version: 13",
        "Origin: https://dash.example",
        "authorization: bearer s3 cr3t/+",
    ]);
    let mut with_frame = rfc.clone();
    with_frame.extend(client_frame(OpCode::Text, true, [1, 2, 3, 4], b"first frame"));
    let bare_lf = b"GET /ws HTTP/1.1\nHost: h\nUpgrade: websocket\nConnection: Upgrade\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n"
        .to_vec();
    let old_version = crlf(&[
        "GET /chat HTTP/1.1",
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 8",
    ]);
    let post = crlf(&["POST /ws HTTP/1.1", "Host: h", "Content-Length: 0", "Upgrade: websocket"]);
    let http10 = crlf(&["GET /index.html HTTP/1.0", "Connection: keep-alive"]);
    let curl = crlf(&["GET / HTTP/1.1", "Host: 192.168.4.1", "User-Agent: curl/8.5.0", "Accept: */*"]);
    let bad_key = crlf(&[
        "GET /ws HTTP/1.1",
        "Host: h",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==",
        "Sec-WebSocket-Version: 13",
        "Origin: https://evil.example",
    ]);
    let mut many = String::from("GET / HTTP/1.1\r\n");
    for i in 0..40 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let tls =
        vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, b'\r', b'\n', b'\r', b'\n'];
    vec![
        ("rfc6455_1_3", rfc),
        ("chrome", chrome),
        ("firefox_query_token", firefox),
        ("python_websockets_bearer", python),
        ("allowed_origin_odd_case", allowed_origin),
        ("request_then_frame", with_frame),
        ("bare_lf", bare_lf),
        ("version_8", old_version),
        ("post", post),
        ("http_1_0", http10),
        ("curl_plain_get", curl),
        ("bad_key_foreign_origin", bad_key),
        ("too_many_headers", many.into_bytes()),
        ("tls_client_hello", tls),
    ]
}

/// Frame headers (with some payload behind them): RFC 6455 section 5.7, every length form,
/// non-minimal lengths, and each header error.
fn frame_headers() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("rfc_unmasked_hello", vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
        ("rfc_masked_hello", vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
        ("rfc_fragment_first", vec![0x01, 0x03, 0x48, 0x65, 0x6c]),
        ("rfc_fragment_last", vec![0x80, 0x02, 0x6c, 0x6f]),
        ("rfc_ping", vec![0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
        ("rfc_masked_pong", vec![0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
        ("rfc_256_binary", vec![0x82, 0x7E, 0x01, 0x00]),
        ("rfc_64k_binary", vec![0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]),
        ("masked_64bit", vec![0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 9, 8, 7, 6]),
        ("max_length", vec![0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4]),
        ("nonminimal_16bit", vec![0x81, 0xFE, 0x00, 0x05, 1, 2, 3, 4]),
        ("nonminimal_64bit", vec![0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 1, 2, 3, 4]),
        ("close_masked", vec![0x88, 0x82, 1, 2, 3, 4, 0x02, 0xEA]),
        ("rsv1", vec![0xC1, 0x80, 1, 2, 3, 4]),
        ("reserved_opcode", vec![0x83, 0x80]),
        ("fragmented_ping", vec![0x09, 0x80]),
        ("ping_126", vec![0x89, 0xFE, 0x00, 0x7E]),
        ("length_overflow", vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
        ("one_byte", vec![0x81]),
    ]
}

/// permessage-deflate inputs: the header's length, the mode, the header, the compressed bytes.
fn deflates() -> Vec<(&'static str, Vec<u8>)> {
    let seed = |mode: u8, header: &str, payload: &[u8]| {
        let mut out = vec![header.len() as u8, mode];
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(payload);
        out
    };
    // RFC 7692 section 7.2.3.1, 7.2.3.3 and 7.2.3.6.
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let stored = [0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00];
    let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    // 64 KiB of zeros in 79 bytes (zlib level 9, sync-flushed, trailer stripped): 16 times the
    // target's limit.
    let mut bomb = vec![0xec, 0xc1, 0x01, 0x01, 0x00, 0x00, 0x00, 0x80, 0x90, 0xfe, 0xaf, 0xee, 0x08, 0x0a];
    bomb.extend(std::iter::repeat_n(0x00, 63));
    bomb.extend([0x6a, 0x00]);
    vec![
        ("hello_text", seed(0x04, "permessage-deflate", &hello)),
        ("hello_fragments", seed(0x1d, "permessage-deflate; client_max_window_bits", &hello)),
        ("stored_block", seed(0x02, "permessage-deflate; client_no_context_takeover", &stored)),
        ("final_block", seed(0x01, "x-webkit-deflate-frame, permessage-deflate", &bfinal)),
        ("bomb", seed(0x00, "permessage-deflate; server_max_window_bits=10", &bomb)),
        (
            "two_offers",
            seed(0x03, "permessage-deflate; client_max_window_bits=8; server_no_context_takeover, permessage-deflate", &hello),
        ),
        ("malformed_offer", seed(0x00, "permessage-deflate; server_max_window_bits=\"1", &hello)),
    ]
}

/// UTF-8 inputs: `0x00` (no cuts) or cut points, then the text.
fn utf8() -> Vec<(&'static str, Vec<u8>)> {
    let plain = |text: &[u8]| [&[0u8][..], text].concat();
    let cut = |cuts: &[u16], text: &[u8]| {
        let mut out = Vec::new();
        for c in cuts {
            out.push(1);
            out.extend_from_slice(&c.to_le_bytes());
        }
        out.push(0);
        out.extend_from_slice(text);
        out
    };
    vec![
        ("ascii", plain(b"Hello")),
        ("kosme", plain("κόσμε".as_bytes())),
        ("mixed_cut", cut(&[1, 3, 6], "aé€𝄞z".as_bytes())),
        ("every_width", cut(&[2, 5, 9], "$¢€𐍈".as_bytes())),
        ("surrogate", plain(b"\xed\xa0\x80")),
        ("above_max", cut(&[1], b"\xf4\x90\x80\x80")),
        ("overlong_2", plain(b"\xc0\xaf")),
        ("overlong_3", cut(&[1, 2], b"\xe0\x80\xaf")),
        ("truncated", plain(b"ok \xf0\x9f\x98")),
        ("lone_continuation", plain(b"\x80")),
        ("bad_after_valid", cut(&[11], b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")),
        ("max_code_point", cut(&[2], b"\xf4\x8f\xbf\xbf")),
    ]
}

const K1: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const K2: [u8; 4] = [0x00, 0xff, 0x80, 0x01];

fn setup() -> Setup {
    Setup {
        max_message: 4096,
        chunked: false,
        ping_interval_ms: Some(15_000),
        pong_timeout_ms: 10_000,
        close_timeout_ms: 5_000,
        buffer_extra: 1024 - 256,
        start_ms: 1_000,
        two_step: false,
    }
}

fn stream(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

/// Connection inputs: the RFC's examples, fragmentation with control frames between fragments,
/// closes both ways, keepalive, application sends, and each way to break the protocol.
fn connections() -> Vec<(&'static str, ConnInput<'static>)> {
    let leak = |v: Vec<u8>| -> &'static [u8] { Box::leak(v.into_boxed_slice()) };
    let close = |code: u16, reason: &str| client_frame(OpCode::Close, true, K1, &close_payload(code, reason));
    let rfc_hello = stream(&[
        vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
        vec![0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
        close(1000, ""),
    ]);
    let fragmented = stream(&[
        client_frame(OpCode::Text, false, K1, "Hel".as_bytes()),
        client_frame(OpCode::Ping, true, K2, b"are you there"),
        client_frame(OpCode::Continuation, false, K1, b""),
        client_frame(OpCode::Pong, true, K2, b"yes"),
        client_frame(OpCode::Continuation, false, K2, &"lo €".as_bytes()[..5]),
        client_frame(OpCode::Continuation, true, K1, &"lo €uro".as_bytes()[5..]),
        client_frame(OpCode::Binary, true, K2, &(0..=255u8).cycle().take(300).collect::<Vec<_>>()),
        client_frame(OpCode::Binary, true, K1, b""),
        close(1001, "going away"),
    ]);
    let long_forms = stream(&[
        // 16-bit and non-minimal 64-bit lengths.
        {
            let mut f = vec![0x82, 0xFE, 0x00, 0x03];
            f.extend_from_slice(&K1);
            f.extend([1 ^ K1[0], 2 ^ K1[1], 3 ^ K1[2]]);
            f
        },
        {
            let mut f = vec![0x81, 0xFF, 0, 0, 0, 0, 0, 0, 0, 2];
            f.extend_from_slice(&K2);
            f.extend([b'o' ^ K2[0], b'k' ^ K2[1]]);
            f
        },
        client_frame(OpCode::Binary, true, K1, &[0x5a; 1000]),
        close(4000, "app code"),
    ]);
    let fragmented_reads = [Op::Read(1), Op::Read(7), Op::Read(2), Op::Read(100), Op::Read(3)];
    let keepalive = stream(&[
        client_frame(OpCode::Pong, true, K1, &[0, 0, 0, 0, 0, 0, 0x03, 0xE8]),
        client_frame(OpCode::Text, true, K2, b"still here"),
    ]);
    let sends_stream = stream(&[client_frame(OpCode::Text, true, K1, b"echo me"), close(1000, "")]);
    let errors: Vec<(&'static str, Vec<u8>)> = vec![
        ("err_unmasked", vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
        ("err_rsv", client_frame_raw(0xC1, K1, b"x")),
        ("err_reserved_opcode", client_frame_raw(0x83, K1, b"")),
        ("err_orphan_continuation", client_frame(OpCode::Continuation, true, K1, b"x")),
        (
            "err_expected_continuation",
            stream(&[
                client_frame(OpCode::Text, false, K1, b"a"),
                client_frame(OpCode::Binary, true, K1, b"b"),
            ]),
        ),
        ("err_bad_utf8", client_frame(OpCode::Text, true, K1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xed\xa0\x80")),
        ("err_truncated_utf8", client_frame(OpCode::Text, true, K1, &"€".as_bytes()[..2])),
        ("err_close_1005", close(1005, "")),
        ("err_close_one_byte", client_frame(OpCode::Close, true, K1, &[0x03])),
        ("err_close_bad_reason", client_frame(OpCode::Close, true, K1, &[0x03, 0xE8, 0xFF])),
        ("err_ping_126", client_frame(OpCode::Ping, true, K1, &[0; 126])),
        ("err_fragmented_ping", client_frame(OpCode::Ping, false, K1, b"x")),
        ("err_too_big", client_frame(OpCode::Binary, true, K1, &[1; 5000])),
        ("err_length_overflow", vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
    ];
    let mut out = vec![
        ("rfc_hello_whole", ConnInput { setup: setup(), ops: vec![], stream: leak(rfc_hello.clone()) }),
        (
            "rfc_hello_bytewise_two_step",
            ConnInput {
                setup: Setup { two_step: true, ..setup() },
                ops: vec![Op::Read(1); 40],
                stream: leak(rfc_hello),
            },
        ),
        (
            "fragmented_whole",
            ConnInput { setup: setup(), ops: fragmented_reads.to_vec(), stream: leak(fragmented.clone()) },
        ),
        (
            "fragmented_chunked_min_buffer",
            ConnInput {
                setup: Setup { chunked: true, buffer_extra: 0, max_message: 1000, ..setup() },
                ops: fragmented_reads.to_vec(),
                stream: leak(fragmented),
            },
        ),
        (
            "long_length_forms",
            ConnInput {
                setup: Setup { max_message: u16::MAX, buffer_extra: 3840, ..setup() },
                ops: vec![Op::Read(5), Op::Read(11)],
                stream: leak(long_forms.clone()),
            },
        ),
        (
            "long_length_forms_chunked",
            ConnInput {
                setup: Setup { chunked: true, buffer_extra: 0, ..setup() },
                ops: vec![Op::Read(64); 30],
                stream: leak(long_forms),
            },
        ),
        (
            "keepalive_answered_then_timeout",
            ConnInput {
                setup: Setup { ping_interval_ms: Some(100), pong_timeout_ms: 50, ..setup() },
                ops: vec![
                    Op::Advance(99),
                    Op::Advance(1),
                    Op::Read(14),
                    Op::Idle,
                    Op::Read(5),
                    Op::Idle,
                    Op::Advance(100),
                    Op::Advance(49),
                    Op::Advance(1),
                ],
                stream: leak(keepalive),
            },
        ),
        (
            "local_close_answered",
            ConnInput {
                setup: setup(),
                ops: vec![
                    Op::Send { binary: false, len: 5, first: true, last: true },
                    Op::Send { binary: true, len: 300, first: true, last: false },
                    Op::Send { binary: true, len: 70, first: false, last: true },
                    Op::Close { code: 0, reason_chars: 40 },
                    Op::Send { binary: false, len: 1, first: true, last: true },
                    Op::Read(200),
                ],
                stream: leak(sends_stream.clone()),
            },
        ),
        (
            "local_close_times_out",
            ConnInput {
                setup: Setup { close_timeout_ms: 300, ..setup() },
                ops: vec![
                    Op::Close { code: 0x8000, reason_chars: 200 },
                    Op::Read(5),
                    Op::Advance(299),
                    Op::Advance(1),
                ],
                stream: leak(sends_stream),
            },
        ),
        (
            "no_timers_eof",
            ConnInput {
                setup: Setup { ping_interval_ms: None, start_ms: u64::MAX - 10, ..setup() },
                ops: vec![Op::Advance(u16::MAX), Op::Read(3), Op::Eof, Op::Read(10)],
                stream: leak(client_frame(OpCode::Binary, true, K2, b"cut off")),
            },
        ),
    ];
    for (name, bytes) in errors {
        out.push((
            name,
            ConnInput { setup: setup(), ops: vec![Op::Read(4), Op::Read(2)], stream: leak(bytes) },
        ));
    }
    out
}

/// The client's inputs: a flags byte (bit 0: offer subprotocols; the rest: the read size), then
/// a connection input whose stream is the server's answer and frames.
fn clients() -> Vec<(&'static str, Vec<u8>)> {
    let upgrade = |extra: &[&str]| {
        let mut lines = vec!["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"];
        let accept = format!("Sec-WebSocket-Accept: {ACCEPT}");
        lines.push(&accept);
        lines.extend_from_slice(extra);
        crlf(&lines)
    };
    let close = |code: u16, reason: &str| server_frame(OpCode::Close, true, &close_payload(code, reason));
    let conversation = stream(&[
        server_frame(OpCode::Text, true, b"hello device"),
        server_frame(OpCode::Ping, true, b"are you there"),
        server_frame(OpCode::Text, false, "Hel".as_bytes()),
        server_frame(OpCode::Continuation, false, &"lo €".as_bytes()[..5]),
        server_frame(OpCode::Continuation, true, &"lo €uro".as_bytes()[5..]),
        server_frame(OpCode::Binary, true, &(0..=255u8).cycle().take(300).collect::<Vec<_>>()),
        close(1000, "bye"),
    ]);
    let with = |head: Vec<u8>, frames: &[u8]| -> Vec<u8> { [head, frames.to_vec()].concat() };
    let input = |flags: u8, setup: Setup, ops: Vec<Op>, bytes: Vec<u8>| -> Vec<u8> {
        let stream: &[u8] = &bytes;
        [vec![flags], ConnInput { setup, ops, stream }.encode()].concat()
    };
    let sends = vec![
        Op::Send { binary: false, len: 5, first: true, last: true },
        Op::Send { binary: true, len: 300, first: true, last: false },
        Op::Send { binary: true, len: 70, first: false, last: true },
        Op::Close { code: 0, reason_chars: 12 },
        Op::Read(200),
    ];
    vec![
        ("upgrade_then_conversation", input(0xFE, setup(), vec![], with(upgrade(&[]), &conversation))),
        (
            "upgrade_read_bytewise",
            input(0x02, setup(), vec![Op::Read(1); 30], with(upgrade(&[]), &conversation)),
        ),
        (
            "upgrade_with_protocol",
            input(0x21, setup(), vec![], with(upgrade(&["Sec-WebSocket-Protocol: chat"]), &close(1001, ""))),
        ),
        (
            "upgrade_then_client_sends_and_closes",
            input(0x40, setup(), sends, with(upgrade(&[]), &close(1000, ""))),
        ),
        (
            "upgrade_keepalive_times_out",
            input(
                0x80,
                Setup { ping_interval_ms: Some(100), pong_timeout_ms: 50, ..setup() },
                vec![Op::Read(255), Op::Advance(100), Op::Advance(50)],
                upgrade(&[]),
            ),
        ),
        (
            "upgrade_masked_frame_from_server",
            input(
                0x10,
                setup(),
                vec![],
                with(upgrade(&[]), &client_frame(OpCode::Text, true, K1, b"masked")),
            ),
        ),
        ("upgrade_rsv_bits", input(0x10, setup(), vec![], with(upgrade(&[]), &server_frame_raw(0xC1, b"x")))),
        (
            "upgrade_bad_utf8",
            input(
                0x10,
                setup(),
                vec![],
                with(upgrade(&[]), &server_frame(OpCode::Text, true, b"\xed\xa0\x80")),
            ),
        ),
        (
            "refused_protocol_not_offered",
            input(0x10, setup(), vec![], upgrade(&["Sec-WebSocket-Protocol: mqtt"])),
        ),
        (
            "refused_extension_not_offered",
            input(0x10, setup(), vec![], upgrade(&["Sec-WebSocket-Extensions: permessage-deflate"])),
        ),
        (
            "refused_deflate_agreed_with_windows",
            input(
                0x10,
                setup(),
                vec![],
                upgrade(&["Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"]),
            ),
        ),
        (
            "refused_deflate_invalid_answer",
            input(0x10, setup(), vec![], upgrade(&["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])),
        ),
        (
            "refused_wrong_accept",
            input(
                0x10,
                setup(),
                vec![],
                crlf(&[
                    "HTTP/1.1 101 Switching Protocols",
                    "Upgrade: websocket",
                    "Connection: Upgrade",
                    "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==",
                ]),
            ),
        ),
        (
            "refused_missing_upgrade",
            input(0x10, setup(), vec![], crlf(&["HTTP/1.1 101 Switching Protocols", "Connection: Upgrade"])),
        ),
        (
            "rejected_401",
            input(
                0x10,
                setup(),
                vec![],
                crlf(&["HTTP/1.1 401 Unauthorized", "WWW-Authenticate: Bearer", "Content-Length: 0"]),
            ),
        ),
        ("malformed_answer", input(0x10, setup(), vec![], b"SSH-2.0-OpenSSH_9.2\r\n".to_vec())),
        (
            "answer_too_large",
            input(
                0xFE,
                Setup { buffer_extra: 0, ..setup() },
                vec![],
                [b"HTTP/1.1 101 Switching Protocols\r\nX-Padding: ".to_vec(), vec![b'a'; 600]].concat(),
            ),
        ),
    ]
}
