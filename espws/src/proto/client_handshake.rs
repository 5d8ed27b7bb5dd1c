//! The client's side of the opening handshake (RFC 6455 section 4.1): the upgrade request, and
//! the checks on the server's answer.
//!
//! Sans-IO like the rest of `proto`: the request is written into a caller's buffer, the key
//! comes from the caller's random bytes, and the answer is checked from received bytes.

use base64::Engine as _;

use super::deflate::{check_answer, Agreed, AnswerError, CLIENT_OFFER};
use crate::wire::http::{self, BufferTooSmall, ParsedResponse, RequestHead, EMPTY_HEADER, MAX_HEADERS};
use crate::wire::url::Url;
use crate::wire::Status;

/// How a client proves who it is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Auth<'a> {
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// `?token=<token>` in the query, for servers (and browsers) that cannot use headers. The
    /// token is sent as given: it must be URL-safe.
    QueryToken(&'a str),
}

/// What a client asks for in its upgrade request.
#[derive(Copy, Clone, Debug)]
pub struct ClientRequest<'a> {
    /// Where to connect: host, port and resource.
    pub url: Url<'a>,
    /// The `Origin` to send, if any (browsers always send one; devices usually need not).
    pub origin: Option<&'a str>,
    /// Subprotocols offered, most wanted first.
    pub protocols: &'a [&'a str],
    /// Further headers, sent as given.
    pub headers: &'a [(&'a str, &'a str)],
    /// Credentials, if the server wants them.
    pub auth: Option<Auth<'a>>,
    /// Offer permessage-deflate ([`CLIENT_OFFER`]). Honoured with `std` only, whose drivers
    /// allocate the inflater and the deflater when the server agrees; without `std` nothing is
    /// offered.
    pub deflate: bool,
}

/// The `Sec-WebSocket-Accept` value a request's server must answer with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    accept: [u8; 28],
}

/// An upgrade the server agreed to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Upgraded<'a> {
    /// The length of the response head; bytes after it are the first frames.
    pub head_len: usize,
    /// The subprotocol the server chose from the offer, if any.
    pub protocol: Option<&'a str>,
    /// permessage-deflate, if it was offered and the server agreed.
    pub deflate: Option<Agreed>,
}

/// A server's answer other than 101.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The status code, such as 401 or 503.
    pub status: u16,
    /// The reason phrase, cut to 64 bytes.
    pub reason: heapless::String<64>,
}

/// Why the opening handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// The server answered with another status than 101 (a redirect, 401, 503...).
    Rejected(Rejection),
    /// A 101 without `Upgrade: websocket`.
    MissingUpgrade,
    /// A 101 without `Connection: Upgrade`.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Accept` is missing or does not match the key sent.
    WrongAccept,
    /// The server chose a subprotocol that was not offered.
    ProtocolNotOffered,
    /// The server named an extension this client did not offer.
    ExtensionNotOffered,
    /// The server's permessage-deflate answer has invalid parameters (RFC 7692 section 7.1).
    InvalidExtensionAnswer,
    /// The response head does not fit the receive buffer.
    TooLarge,
    /// The bytes are not an HTTP/1.1 response head.
    Malformed,
    /// No complete answer arrived before the handshake deadline.
    TimedOut,
    /// The server closed the connection before answering.
    Closed,
}

impl core::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HandshakeError::Rejected(r) => write!(f, "the server answered {} {}", r.status, r.reason),
            HandshakeError::MissingUpgrade => f.write_str("101 without Upgrade: websocket"),
            HandshakeError::MissingConnectionUpgrade => f.write_str("101 without Connection: Upgrade"),
            HandshakeError::WrongAccept => f.write_str("Sec-WebSocket-Accept does not match the key"),
            HandshakeError::ProtocolNotOffered => f.write_str("the server chose a subprotocol not offered"),
            HandshakeError::ExtensionNotOffered => f.write_str("the server named an extension not offered"),
            HandshakeError::InvalidExtensionAnswer => {
                f.write_str("the server's permessage-deflate answer has invalid parameters")
            }
            HandshakeError::TooLarge => f.write_str("the response head does not fit the buffer"),
            HandshakeError::Malformed => f.write_str("malformed HTTP response"),
            HandshakeError::TimedOut => f.write_str("no answer to the upgrade request in time"),
            HandshakeError::Closed => f.write_str("the server closed the connection before answering"),
        }
    }
}

impl<'a> ClientRequest<'a> {
    /// A plain request for `url`: no origin, subprotocols, headers or credentials.
    pub const fn new(url: Url<'a>) -> Self {
        ClientRequest { url, origin: None, protocols: &[], headers: &[], auth: None, deflate: false }
    }

    /// Writes the upgrade request into `out` with `nonce` (16 random bytes from the caller's
    /// RNG) as the key; returns its length and the answer to expect.
    pub fn write(&self, nonce: [u8; 16], out: &mut [u8]) -> Result<(usize, Expected), BufferTooSmall> {
        let mut key = [0u8; 24];
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(nonce, &mut key)
            .map_err(|_| BufferTooSmall)?;
        debug_assert_eq!(n, 24);
        let resource = self.url.resource;
        let slash = if resource.starts_with('?') { "/" } else { "" };
        let (sep, token) = match self.auth {
            Some(Auth::QueryToken(token)) => {
                (if resource.contains('?') { "&token=" } else { "?token=" }, token)
            }
            _ => ("", ""),
        };
        let (open, close) = if self.url.is_ipv6() { ("[", "]") } else { ("", "") };
        let mut digits = [0u8; 6];
        let port = port_suffix(self.url.port, &mut digits);
        let port = if self.url.default_port() { &[][..] } else { port };
        let mut head = RequestHead::new(out, "GET", &[slash, resource, sep, token])
            .header("Host", &[open.as_bytes(), self.url.host.as_bytes(), close.as_bytes(), port])
            .header("Upgrade", &[b"websocket"])
            .header("Connection", &[b"Upgrade"])
            .header("Sec-WebSocket-Key", &[&key])
            .header("Sec-WebSocket-Version", &[b"13"]);
        if let Some(origin) = self.origin {
            head = head.header("Origin", &[origin.as_bytes()]);
        }
        if !self.protocols.is_empty() {
            head = head.header_list("Sec-WebSocket-Protocol", self.protocols);
        }
        if self.offers_deflate() {
            head = head.header("Sec-WebSocket-Extensions", &[CLIENT_OFFER.as_bytes()]);
        }
        if let Some(Auth::Bearer(token)) = self.auth {
            head = head.header("Authorization", &[b"Bearer ", token.as_bytes()]);
        }
        for (name, value) in self.headers {
            head = head.header(name, &[value.as_bytes()]);
        }
        let len = head.finish()?;
        Ok((len, Expected { accept: http::accept_key(&key) }))
    }

    /// Looks for the server's answer at the start of `pending` and checks it: the upgrade once
    /// the head is complete, `None` while more bytes are needed. `buffer_full` says no more
    /// bytes can be received.
    pub fn poll_response(
        &self,
        pending: &[u8],
        buffer_full: bool,
        expected: &Expected,
    ) -> Result<Option<Upgraded<'a>>, HandshakeError> {
        let mut headers = [EMPTY_HEADER; MAX_HEADERS];
        let (res, head_len) = match ParsedResponse::parse(pending, &mut headers) {
            Ok(Status::Complete(res, len)) => (res, len),
            Ok(Status::Partial) if buffer_full => return Err(HandshakeError::TooLarge),
            Ok(Status::Partial) => return Ok(None),
            Err(_) => return Err(HandshakeError::Malformed),
        };
        if res.code != 101 {
            let mut reason = heapless::String::new();
            for c in res.reason.chars() {
                if reason.push(c).is_err() {
                    break;
                }
            }
            return Err(HandshakeError::Rejected(Rejection { status: res.code, reason }));
        }
        if !res.has_token("upgrade", "websocket") {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !res.has_token("connection", "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        match res.header("sec-websocket-accept") {
            Some(value) if http::trim(value) == expected.accept => {}
            _ => return Err(HandshakeError::WrongAccept),
        }
        let extensions = res.headers_named("sec-websocket-extensions").filter(|v| !http::trim(v).is_empty());
        let deflate = check_answer(extensions, self.offers_deflate()).map_err(|e| match e {
            AnswerError::NotOffered => HandshakeError::ExtensionNotOffered,
            AnswerError::Invalid => HandshakeError::InvalidExtensionAnswer,
        })?;
        let protocol = match res.header("sec-websocket-protocol") {
            None => None,
            Some(value) => {
                let value = http::trim(value);
                match self.protocols.iter().find(|offered| offered.as_bytes() == value) {
                    Some(offered) => Some(*offered),
                    None => return Err(HandshakeError::ProtocolNotOffered),
                }
            }
        };
        Ok(Some(Upgraded { head_len, protocol, deflate }))
    }

    /// Whether the request offers permessage-deflate: asked for, and a build that can inflate.
    fn offers_deflate(&self) -> bool {
        self.deflate && cfg!(feature = "std")
    }
}

/// `:port` in decimal, written into `digits`.
fn port_suffix(port: u16, digits: &mut [u8; 6]) -> &[u8] {
    let mut at = digits.len();
    let mut value = port;
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    at -= 1;
    digits[at] = b':';
    &digits[at..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    // The nonce of RFC 6455 section 1.3, whose key is dGhlIHNhbXBsZSBub25jZQ==.
    const NONCE: [u8; 16] = *b"the sample nonce";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn written(req: &ClientRequest<'_>) -> (String, Expected) {
        let mut out = [0u8; 1024];
        let (len, expected) = req.write(NONCE, &mut out).unwrap();
        (String::from_utf8(out[..len].to_vec()).unwrap(), expected)
    }

    fn request(url: &str) -> ClientRequest<'_> {
        ClientRequest::new(Url::parse(url).unwrap())
    }

    fn answer(req: &ClientRequest<'static>, head: &str) -> Result<Option<Upgraded<'static>>, HandshakeError> {
        let (_, expected) = written(req);
        req.poll_response(head.as_bytes(), false, &expected)
    }

    const OK: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

    fn with(extra: &str) -> String {
        std::format!("{OK}{extra}\r\n")
    }

    #[test]
    fn rfc_4_1_the_request_carries_host_upgrade_key_and_version() {
        let (text, _) = written(&request("ws://server.example.com/chat"));
        assert_eq!(
            text,
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
    }

    #[test]
    fn rfc_4_1_host_names_a_port_other_than_the_default_and_brackets_ipv6() {
        assert!(written(&request("ws://h:9001/")).0.contains("\r\nHost: h:9001\r\n"));
        assert!(written(&request("wss://h:443/")).0.contains("\r\nHost: h\r\n"));
        assert!(written(&request("ws://[::1]:9001/")).0.contains("\r\nHost: [::1]:9001\r\n"));
    }

    #[test]
    fn rfc_4_1_origin_protocols_headers_and_bearer_token_are_sent() {
        let mut req = request("ws://h/x?a=1");
        req.origin = Some("http://device.local");
        req.protocols = &["chat.v2", "chat"];
        req.headers = &[("X-Device", "c3-01")];
        req.auth = Some(Auth::Bearer("s3cret"));
        let (text, _) = written(&req);
        assert!(text.starts_with("GET /x?a=1 HTTP/1.1\r\n"));
        for line in [
            "Origin: http://device.local",
            "Sec-WebSocket-Protocol: chat.v2, chat",
            "X-Device: c3-01",
            "Authorization: Bearer s3cret",
        ] {
            assert!(text.contains(&std::format!("\r\n{line}\r\n")), "{line} missing from {text}");
        }
    }

    #[test]
    fn a_query_token_joins_the_query() {
        let mut req = request("ws://h/x?a=1");
        req.auth = Some(Auth::QueryToken("t0k"));
        assert!(written(&req).0.starts_with("GET /x?a=1&token=t0k HTTP/1.1\r\n"));
        let mut req = request("ws://h");
        req.auth = Some(Auth::QueryToken("t0k"));
        assert!(written(&req).0.starts_with("GET /?token=t0k HTTP/1.1\r\n"));
        assert!(written(&request("ws://h?q")).0.starts_with("GET /?q HTTP/1.1\r\n"));
    }

    #[test]
    fn a_request_larger_than_the_buffer_is_an_error() {
        let mut out = [0u8; 40];
        assert_eq!(request("ws://h/").write(NONCE, &mut out), Err(BufferTooSmall));
    }

    #[test]
    fn rfc_4_1_a_valid_101_is_accepted_and_frames_after_it_are_left() {
        let req = request("ws://h/");
        let head = with("");
        let mut input = head.clone().into_bytes();
        input.extend_from_slice(&[0x81, 0x00]);
        let (_, expected) = written(&req);
        let up = req.poll_response(&input, false, &expected).unwrap().unwrap();
        assert_eq!(up, Upgraded { head_len: head.len(), protocol: None, deflate: None });
        assert_eq!(ACCEPT.len(), 28);
    }

    #[test]
    fn an_incomplete_head_needs_more_bytes_until_the_buffer_is_full() {
        let req = request("ws://h/");
        assert_eq!(answer(&req, OK), Ok(None));
        let (_, expected) = written(&req);
        assert_eq!(req.poll_response(OK.as_bytes(), true, &expected), Err(HandshakeError::TooLarge));
    }

    #[test]
    fn rfc_4_1_a_wrong_accept_is_refused() {
        let req = request("ws://h/");
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: AAAALMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(answer(&req, head), Err(HandshakeError::WrongAccept));
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        assert_eq!(answer(&req, head), Err(HandshakeError::WrongAccept));
    }

    #[test]
    fn rfc_4_1_a_101_without_upgrade_or_connection_is_refused() {
        let req = request("ws://h/");
        let no_upgrade = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(answer(&req, no_upgrade), Err(HandshakeError::MissingUpgrade));
        let no_connection = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(answer(&req, no_connection), Err(HandshakeError::MissingConnectionUpgrade));
    }

    #[test]
    fn rfc_4_1_a_subprotocol_must_be_one_offered() {
        let mut req = request("ws://h/");
        req.protocols = &["chat.v2", "chat"];
        assert_eq!(
            answer(&req, &with("Sec-WebSocket-Protocol: chat\r\n")).unwrap().unwrap().protocol,
            Some("chat")
        );
        assert_eq!(
            answer(&req, &with("Sec-WebSocket-Protocol: mqtt\r\n")),
            Err(HandshakeError::ProtocolNotOffered)
        );
        let plain = request("ws://h/");
        assert_eq!(
            answer(&plain, &with("Sec-WebSocket-Protocol: chat\r\n")),
            Err(HandshakeError::ProtocolNotOffered)
        );
        assert_eq!(answer(&req, &with("")).unwrap().unwrap().protocol, None);
    }

    #[test]
    fn rfc_4_1_an_extension_not_offered_is_refused() {
        let req = request("ws://h/");
        assert_eq!(
            answer(&req, &with("Sec-WebSocket-Extensions: permessage-deflate\r\n")),
            Err(HandshakeError::ExtensionNotOffered)
        );
    }

    fn offering_deflate() -> ClientRequest<'static> {
        ClientRequest { deflate: true, ..request("ws://h/") }
    }

    #[test]
    fn deflate_is_offered_with_a_window_the_server_may_limit() {
        let (text, _) = written(&offering_deflate());
        assert!(text.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
        assert!(!written(&request("ws://h/")).0.contains("Extensions"), "not offered by default");
    }

    #[test]
    fn rfc_7692_7_1_the_servers_deflate_answer_is_what_was_agreed() {
        let req = offering_deflate();
        let up = |ext: &str| answer(&req, &with(&std::format!("Sec-WebSocket-Extensions: {ext}\r\n")));
        let plain = up("permessage-deflate").unwrap().unwrap().deflate.unwrap();
        assert_eq!((plain.server_max_window_bits, plain.client_max_window_bits), (15, 15));
        assert!(!plain.server_no_context_takeover && !plain.client_no_context_takeover);
        let small = up("permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                        server_max_window_bits=10; client_max_window_bits=9")
        .unwrap()
        .unwrap()
        .deflate
        .unwrap();
        assert_eq!((small.server_max_window_bits, small.client_max_window_bits), (10, 9));
        assert!(small.server_no_context_takeover && small.client_no_context_takeover);
        // A server that declines says nothing, and the connection opens without compression.
        assert_eq!(answer(&req, &with("")).unwrap().unwrap().deflate, None);
    }

    #[test]
    fn rfc_7692_7_1_an_invalid_deflate_answer_fails_the_connection() {
        let req = offering_deflate();
        for bad in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; unknown",
            "permessage-deflate, permessage-deflate",
            "permessage-deflate; client_max_window_bits=\"1",
        ] {
            let head = with(&std::format!("Sec-WebSocket-Extensions: {bad}\r\n"));
            assert_eq!(answer(&req, &head), Err(HandshakeError::InvalidExtensionAnswer), "{bad}");
        }
        let other = with("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n");
        assert_eq!(answer(&req, &other), Err(HandshakeError::ExtensionNotOffered));
    }

    #[test]
    fn other_statuses_are_errors_with_status_and_reason() {
        let req = request("ws://h/");
        for (status, reason) in [(302, "Found"), (401, "Unauthorized"), (503, "Service Unavailable")] {
            let head = std::format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n");
            let Err(HandshakeError::Rejected(r)) = answer(&req, &head) else { panic!("{status} accepted") };
            assert_eq!((r.status, r.reason.as_str()), (status, reason));
        }
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(answer(&request("ws://h/"), "SSH-2.0-OpenSSH\r\n\r\n"), Err(HandshakeError::Malformed));
    }
}
