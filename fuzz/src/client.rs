//! The `client` target: the client's side of a connection against whatever a server may send.
//!
//! The input is one flags byte, then a [`ConnInput`] whose stream is the server's bytes: its
//! answer to the upgrade request, then its frames. The answer is checked as the client drivers
//! read it, in pieces into the receive buffer, and compared with one look at the same bytes:
//! the verdict must not depend on how the bytes were split, an upgrade must carry the right
//! `Sec-WebSocket-Accept` and only a subprotocol that was offered, and a refusal its status. An
//! upgrade then hands the bytes after the head to the connection harness in the client role
//! (see [`crate::connection`]), which runs the input's operations and checks every event and
//! every frame sent (masked, with the control frames' rules). Every complete head's
//! `Sec-WebSocket-Extensions` also goes through the permessage-deflate answer check as a client
//! that offered it (a `std` one) would take it: agreed windows stay within 8 to 15 bits, which
//! the inflater's allocation relies on.

use espws::proto::client_handshake::{ClientRequest, HandshakeError, Upgraded};
use espws::proto::deflate::{check_answer, AnswerError};
use espws::proto::Role;
use espws::wire::http::{self, ParsedResponse, EMPTY_HEADER, MAX_HEADERS};
use espws::wire::url::Url;
use espws::wire::Status;

use crate::connection::{client_key, trace, ConnInput, Harness};

/// The nonce of RFC 6455 section 1.3, whose key is `dGhlIHNhbXBsZSBub25jZQ==`.
pub const NONCE: [u8; 16] = *b"the sample nonce";
/// The `Sec-WebSocket-Accept` an upgrade must carry for [`NONCE`].
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The subprotocols offered when the flags byte's lowest bit is set.
pub const PROTOCOLS: [&str; 2] = ["v2.espws", "chat"];

/// Checks one input.
pub fn check(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Ok(input) = ConnInput::decode(rest) else { return };
    let mut request = ClientRequest::new(Url::parse("ws://device.local:9998/ws").expect("a valid URL"));
    if flags & 1 != 0 {
        request.protocols = &PROTOCOLS;
    }
    // Reads of 1 to 127 bytes, as a driver's reads may return any amount.
    let read_size = usize::from(flags >> 1).max(1);
    let mut out = [0u8; 512];
    let (_, expected) = request.write(NONCE, &mut out).expect("the request fits 512 bytes");

    let stream = input.stream;
    let capacity = input.setup.buffer();
    let visible = stream.len().min(capacity);
    // As a driver reads: poll after each read, until an answer or the end of the bytes.
    let mut received = 0;
    let verdict = loop {
        let full = received == capacity;
        match request.poll_response(&stream[..received], full, &expected) {
            Ok(None) => {
                assert!(!full, "still waiting with a full buffer");
                if received == visible {
                    // The server's bytes ended before an answer: the driver reports Closed.
                    return;
                }
                received = (received + read_size).min(visible);
            }
            verdict => break verdict,
        }
    };
    if trace() {
        eprintln!("answer after {received} of {} bytes: {verdict:?}", stream.len());
    }
    // One look at everything that fits the buffer gives the same verdict.
    let once = request.poll_response(&stream[..visible], visible == capacity, &expected);
    assert_eq!(once, verdict, "the verdict depends on how the answer was split ({received} bytes read)");
    if let Err(e) = &verdict {
        assert!(!e.to_string().is_empty(), "{e:?} has no message");
    }
    check_deflate_answer(&stream[..received]);
    match verdict {
        Ok(Some(Upgraded { head_len, protocol, deflate })) => {
            assert!(head_len <= received, "the head ({head_len}) is longer than what was read");
            let head = &stream[..head_len];
            assert!(
                head.ends_with(b"\n\r\n") || head.ends_with(b"\n\n"),
                "the head does not end with a blank line"
            );
            assert!(contains(head, ACCEPT.as_bytes()), "an upgrade without the expected accept value");
            assert!(
                protocol.is_none_or(|p| PROTOCOLS.contains(&p) && flags & 1 != 0),
                "{protocol:?} not offered"
            );
            // Without std nothing is offered, so nothing can be agreed.
            assert_eq!(deflate, None, "permessage-deflate agreed though not offered");
            Harness::run_as(Role::Client(client_key), &input.setup, &input.ops, &stream[head_len..]);
        }
        Ok(None) => unreachable!("the loop ends on an answer"),
        Err(HandshakeError::Rejected(rejection)) => {
            assert_ne!(rejection.status, 101, "a 101 reported as a refusal");
        }
        Err(HandshakeError::TooLarge) => assert_eq!(received, capacity, "too large before the buffer filled"),
        Err(_) => {}
    }
}

/// The permessage-deflate answer in a complete head, as a client that offered it checks it, and
/// as one that did not.
fn check_deflate_answer(head: &[u8]) {
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let Ok(Status::Complete(res, _)) = ParsedResponse::parse(head, &mut headers) else { return };
    let values = || res.headers_named("sec-websocket-extensions").filter(|v| !http::trim(v).is_empty());
    let unoffered = check_answer(values(), false);
    match check_answer(values(), true) {
        Ok(Some(agreed)) => {
            for bits in [agreed.server_max_window_bits, agreed.client_max_window_bits] {
                assert!((8..=15).contains(&bits), "agreed a window of {bits} bits");
            }
            assert_eq!(unoffered, Err(AnswerError::NotOffered), "an answer agreed to what was not offered");
        }
        Ok(None) => assert_eq!(unoffered, Ok(None), "no extension named, yet refused without an offer"),
        Err(_) => assert!(unoffered.is_err(), "an invalid answer accepted without an offer"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
