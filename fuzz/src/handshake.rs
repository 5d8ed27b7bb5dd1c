//! Arbitrary bytes as an HTTP request head: `Request::parse`, then `handshake::decide` under
//! two policies, the 101 response and the error responses written into small and large buffers,
//! and the parse of every prefix compared with the parse of the whole.

use espws::proto::deflate::DeflateConfig;
use espws::proto::handshake::{decide, Policy};
use espws::wire::http::{self, Request, RequestError, StatusCode, Upgrade, EMPTY_HEADER, MAX_HEADERS};
use espws::wire::Status;

const STRICT: Policy<'static> = Policy {
    allowed_origins: &["https://dash.example", "http://localhost:8080"],
    token: Some("s3 cr3t/+"),
    protocols: &["v2.espws", "chat"],
    deflate: DeflateConfig::SMALL,
};
const OPEN: Policy<'static> =
    Policy { allowed_origins: &[], token: None, protocols: &["chat", "mqtt"], deflate: DeflateConfig::FULL };

/// What a parse says, borrowing from the input, so that parses of prefixes of the same input
/// can be compared without allocating.
#[derive(Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // on the stack, compared often: no Box
enum Summary<'b> {
    Partial,
    Complete {
        len: usize,
        method: &'b str,
        target: &'b str,
        minor: u8,
        headers: [(&'b str, &'b [u8]); MAX_HEADERS],
        count: usize,
    },
    Error(RequestError),
}

fn summarize(input: &[u8]) -> Summary<'_> {
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    match Request::parse(input, &mut headers) {
        Ok(Status::Partial) => Summary::Partial,
        Ok(Status::Complete(req, len)) => {
            let mut owned: [(&str, &[u8]); MAX_HEADERS] = [("", &[]); MAX_HEADERS];
            for (slot, h) in owned.iter_mut().zip(req.headers) {
                *slot = (h.name, h.value);
            }
            Summary::Complete {
                len,
                method: req.method,
                target: req.target,
                minor: req.minor_version,
                headers: owned,
                count: req.headers.len(),
            }
        }
        Err(e) => Summary::Error(e),
    }
}

/// Writes with `write` into a large buffer and into a small one of `small` bytes: the large one
/// must succeed; the small one fails or writes the same bytes.
fn check_writes(small: usize, write: impl Fn(&mut [u8]) -> Result<usize, http::BufferTooSmall>) -> String {
    let mut large = [0u8; 1024];
    let n = write(&mut large).expect("a response fits 1 KiB");
    let mut buf = vec![0u8; small];
    if let Ok(m) = write(&mut buf) {
        assert_eq!(&buf[..m], &large[..n], "a small buffer changed the response");
    } else {
        assert!(small < n, "{small} bytes were enough for {n} but refused");
    }
    let text = core::str::from_utf8(&large[..n]).expect("responses are ASCII").to_string();
    assert!(text.starts_with("HTTP/1.1 "), "{text:?}");
    text
}

/// Checks one input.
pub fn check(data: &[u8]) {
    let whole = summarize(data);
    // Prefixes: all of them for short inputs, a sample (and the ones around the head's end)
    // for long ones, to keep each run fast.
    let head_end = match &whole {
        Summary::Complete { len, .. } => Some(*len),
        _ => None,
    };
    let mut cuts: Vec<usize> = if data.len() <= 512 {
        (0..data.len()).collect()
    } else {
        (0..data.len()).step_by(data.len() / 127 + 1).collect()
    };
    if let Some(end) = head_end {
        cuts.extend([end.saturating_sub(2), end.saturating_sub(1), end, end + 1]);
    }
    for cut in cuts.into_iter().filter(|&c| c <= data.len()) {
        let prefix = summarize(&data[..cut]);
        match (&prefix, head_end) {
            (Summary::Partial, Some(end)) => {
                assert!(cut < end, "prefix {cut} covers the head ({end}) but is Partial")
            }
            (Summary::Partial, None) => {}
            _ => assert_eq!(prefix, whole, "prefix of {cut} bytes parses differently from the whole"),
        }
    }
    if let Summary::Error(e) = whole {
        let status = e.status();
        check_writes(data.len() % 160, |out| http::write_error(out, status, "bad request"));
        return;
    }
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let Ok(Status::Complete(req, len)) = Request::parse(data, &mut headers) else {
        return;
    };
    assert!(len <= data.len());
    // The accessors must not panic, whatever the head holds.
    let _ = (req.path(), req.query_param("token"), req.keep_alive(), req.wants_websocket());
    assert!(req.target.starts_with(req.path()));
    let validated = Upgrade::validate(&req);
    for policy in [&STRICT, &OPEN] {
        let small = usize::from(data.get(len.saturating_sub(1)).copied().unwrap_or(0));
        match decide(&req, policy) {
            Ok(accepted) => {
                let upgrade = validated.expect("accepted an upgrade that does not validate");
                assert_eq!(accepted.accept_key, http::accept_key(upgrade.key));
                assert!(accepted.protocol.is_none_or(|p| policy.protocols.contains(&p)));
                let text = check_writes(small, |out| accepted.write_response(out));
                assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
                assert!(text.ends_with("\r\n\r\n"));
                assert_eq!(text.matches("\r\n\r\n").count(), 1, "one blank line only");
                let accept = core::str::from_utf8(&accepted.accept_key).unwrap();
                assert!(text.contains(&format!("\r\nSec-WebSocket-Accept: {accept}\r\n")));
                match accepted.protocol {
                    Some(p) => assert!(text.contains(&format!("\r\nSec-WebSocket-Protocol: {p}\r\n"))),
                    None => assert!(!text.contains("Sec-WebSocket-Protocol")),
                }
            }
            Err(refusal) => {
                if let Err(invalid) = validated {
                    assert_eq!(refusal, espws::proto::handshake::Refusal::Invalid(invalid));
                }
                let status = refusal.status();
                assert!(status.0 >= 400 && status.0 < 500, "{status:?}");
                assert!(!refusal.reason().contains("s3 cr3t"));
                let text = check_writes(small, |out| http::write_error(out, status, refusal.reason()));
                assert!(text.ends_with(&format!("\r\n\r\n{}\n", refusal.reason())));
                if status == StatusCode::UPGRADE_REQUIRED {
                    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
                }
            }
        }
    }
}
