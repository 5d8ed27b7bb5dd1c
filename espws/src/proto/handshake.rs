//! The server's side of the opening handshake: which upgrades to accept, and the answer.
//!
//! Reading the request head and writing the answer are the driver's job; deciding is here, so
//! every driver decides the same way.

use crate::wire::http::{self, Request, RequestError, StatusCode, Upgrade, UpgradeError};

use super::deflate::{self, Agreed, DeflateConfig};
use super::Delivery;

/// Why no usable request head arrived.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// The head did not complete before the handshake deadline.
    TimedOut,
    /// The head is longer than the server's bound on request heads, or its receive buffer.
    TooLarge,
    /// The bytes are not an HTTP/1.x request head.
    Malformed(RequestError),
    /// The peer closed the connection first.
    Closed,
}

impl HeadError {
    /// The status and explanation to answer with, if any: nothing is said to a peer that
    /// closed, or that sent nothing at all before the deadline.
    pub const fn answer(self, received_anything: bool) -> Option<(StatusCode, &'static str)> {
        match self {
            HeadError::TimedOut if received_anything => {
                Some((StatusCode::REQUEST_TIMEOUT, "the request head did not arrive in time"))
            }
            HeadError::TooLarge => {
                Some((StatusCode::HEADERS_TOO_LARGE, "the request head is larger than this server accepts"))
            }
            HeadError::Malformed(e) => Some((e.status(), "this is not a valid HTTP/1.1 request")),
            HeadError::TimedOut | HeadError::Closed => None,
        }
    }
}

/// Who may open a WebSocket, and which subprotocols the server speaks.
#[derive(Copy, Clone, Debug, Default)]
pub struct Policy<'p> {
    /// Browser origins allowed besides the server's own (`http://host:port` as sent in
    /// `Origin`). Requests without `Origin` come from non-browser clients and are allowed.
    pub allowed_origins: &'p [&'p str],
    /// If set, clients must present it as `Authorization: Bearer <token>` or `?token=<token>`.
    pub token: Option<&'p str>,
    /// Subprotocols the server speaks, in no particular order.
    pub protocols: &'p [&'p str],
    /// Whether and how to agree to permessage-deflate (RFC 7692); off by default.
    pub deflate: DeflateConfig,
}

/// An upgrade the server accepts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Accepted<'p> {
    /// The `Sec-WebSocket-Accept` value.
    pub accept_key: [u8; 28],
    /// The subprotocol chosen from the client's offer, if any matched.
    pub protocol: Option<&'p str>,
    /// permessage-deflate, if the client offered it and the policy accepted an offer.
    pub deflate: Option<Agreed>,
}

impl Accepted<'_> {
    /// Drops permessage-deflate unless messages are delivered in chunks: inflated bytes are
    /// delivered from the inflate window, so they cannot be reassembled whole.
    pub fn for_delivery(mut self, delivery: Delivery) -> Self {
        if delivery != Delivery::Chunked {
            self.deflate = None;
        }
        self
    }

    /// Writes the 101 response into `out`; returns its length.
    #[inline(never)]
    pub fn write_response(&self, out: &mut [u8]) -> Result<usize, http::BufferTooSmall> {
        let len = http::write_switching_protocols(out, &self.accept_key, self.protocol)?;
        let Some(agreed) = self.deflate else {
            return Ok(len);
        };
        // The extension header goes in place of the blank line, which follows it: written in
        // place, so that no second buffer sits on the stack.
        const NAME: &[u8] = b"Sec-WebSocket-Extensions: ";
        let mut at = len - 2;
        out.get_mut(at..at + NAME.len()).ok_or(http::BufferTooSmall)?.copy_from_slice(NAME);
        at += NAME.len();
        at +=
            agreed.write(out.get_mut(at..).ok_or(http::BufferTooSmall)?).map_err(|_| http::BufferTooSmall)?;
        out.get_mut(at..at + 4).ok_or(http::BufferTooSmall)?.copy_from_slice(b"\r\n\r\n");
        Ok(at + 4)
    }
}

/// A service turning a valid upgrade away before its 101 goes out (no room for one more
/// client of the app, say): the client gets this status instead of a WebSocket.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Declined {
    /// The HTTP status to answer with.
    pub status: StatusCode,
    /// A one-line explanation for the response body and the log.
    pub reason: &'static str,
}

impl Declined {
    /// 503: the service is full for now; the client may try again later.
    pub const fn busy(reason: &'static str) -> Self {
        Declined { status: StatusCode::SERVICE_UNAVAILABLE, reason }
    }
}

/// Why an upgrade was refused; each maps to an HTTP status.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The request breaks RFC 6455 section 4.2.1.
    Invalid(UpgradeError),
    /// A browser origin that is neither the server's own nor allowed (403).
    OriginNotAllowed,
    /// No token came, neither as `Authorization` nor as `?token=` (401).
    TokenMissing,
    /// A token came and is not the server's (401).
    TokenWrong,
}

impl Refusal {
    /// The HTTP status this refusal answers with.
    pub const fn status(self) -> StatusCode {
        match self {
            Refusal::Invalid(e) => e.status(),
            Refusal::OriginNotAllowed => StatusCode::FORBIDDEN,
            Refusal::TokenMissing | Refusal::TokenWrong => StatusCode::UNAUTHORIZED,
        }
    }

    /// A one-line explanation for the response body and the log; never contains a secret.
    pub const fn reason(self) -> &'static str {
        match self {
            Refusal::Invalid(e) => e.reason(),
            Refusal::OriginNotAllowed => "this origin may not open a WebSocket here",
            Refusal::TokenMissing => {
                "this server needs a token: send Authorization: Bearer <token>, or add ?token=<token> to the URL"
            }
            Refusal::TokenWrong => "the token sent is not this server's",
        }
    }
}

/// What a server answers a complete request head with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Answer<'p> {
    /// Write the 101 response, then run the WebSocket connection.
    Upgrade(Accepted<'p>),
    /// Answer the refusal's status, then close.
    Refuse(Refusal),
    /// A plain HTTP request for the application's routes.
    Http {
        /// Keep the connection for another request afterwards.
        keep_alive: bool,
        /// Send the head only (a `HEAD` request).
        head_only: bool,
    },
}

/// Classifies a request head: an upgrade to accept or refuse, or plain HTTP.
///
/// Every driver answers through this, so that all of them treat requests alike.
pub fn answer<'p>(req: &Request<'_, '_>, policy: &Policy<'p>) -> Answer<'p> {
    if req.wants_websocket() {
        return match decide(req, policy) {
            Ok(accepted) => Answer::Upgrade(accepted),
            Err(refusal) => Answer::Refuse(refusal),
        };
    }
    // A request body is never read, so a connection that sent one cannot carry another request.
    let no_body = req.header("content-length").is_none_or(|v| http::trim(v) == b"0")
        && req.header("transfer-encoding").is_none();
    Answer::Http { keep_alive: req.keep_alive() && no_body, head_only: req.method == "HEAD" }
}

/// Decides whether to accept an upgrade request, and with which subprotocol. Not inlined, to
/// keep the negotiation's state off the connection thread's stack.
#[inline(never)]
pub fn decide<'p>(req: &Request<'_, '_>, policy: &Policy<'p>) -> Result<Accepted<'p>, Refusal> {
    let upgrade = Upgrade::validate(req).map_err(Refusal::Invalid)?;
    if !origin_allowed(req, policy.allowed_origins) {
        return Err(Refusal::OriginNotAllowed);
    }
    if let Some(token) = policy.token {
        match token_presented(req, token) {
            Token::Right => {}
            Token::Missing => return Err(Refusal::TokenMissing),
            Token::Wrong => return Err(Refusal::TokenWrong),
        }
    }
    Ok(Accepted {
        accept_key: upgrade.accept_key(),
        protocol: select_protocol(req, policy.protocols),
        deflate: deflate::negotiate(req.headers_named("sec-websocket-extensions"), &policy.deflate),
    })
}

/// No `Origin` (a non-browser client), the server's own origin, or one on the list.
fn origin_allowed(req: &Request<'_, '_>, allowed: &[&str]) -> bool {
    let Some(origin) = req.header("origin").map(http::trim) else {
        return true;
    };
    if allowed.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(origin)) {
        return true;
    }
    // Same origin: the Origin's host[:port] equals the Host the browser connected to.
    let origin_host = origin.splitn(2, |&b| b == b':').nth(1).and_then(|rest| rest.strip_prefix(b"//"));
    match (origin_host, req.header("host").map(http::trim)) {
        (Some(origin_host), Some(host)) => origin_host.eq_ignore_ascii_case(host),
        _ => false,
    }
}

/// The token as a bearer credential or a `token` query parameter, compared in constant time.
/// What a request presented as its token.
enum Token {
    Right,
    Missing,
    Wrong,
}

fn token_presented(req: &Request<'_, '_>, token: &str) -> Token {
    let bearer = req.headers_named("authorization").any(|value| {
        let value = http::trim(value);
        value.len() > 7
            && value[..7].eq_ignore_ascii_case(b"bearer ")
            && constant_time_eq(http::trim(&value[7..]), token.as_bytes())
    });
    let query_token = req.query_param("token");
    let query = query_token.is_some_and(|value| percent_decoded_eq(value.as_bytes(), token.as_bytes()));
    if bearer | query {
        Token::Right
    } else if req.headers_named("authorization").next().is_none() && query_token.is_none() {
        Token::Missing
    } else {
        Token::Wrong
    }
}

/// Compares without an early exit, so the time taken does not reveal how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Percent-decodes `encoded` on the fly and compares it with `expected` in constant time for a
/// given length; malformed escapes never match.
fn percent_decoded_eq(encoded: &[u8], expected: &[u8]) -> bool {
    let mut diff = 0u8;
    let mut matched = 0usize;
    let mut at = 0;
    let mut well_formed = true;
    while at < encoded.len() {
        let byte = match encoded[at] {
            b'%' => {
                let hex = encoded.get(at + 1..at + 3).and_then(|h| core::str::from_utf8(h).ok());
                at += 3;
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => b,
                    None => {
                        well_formed = false;
                        0
                    }
                }
            }
            b'+' => {
                at += 1;
                b' '
            }
            b => {
                at += 1;
                b
            }
        };
        diff |= byte ^ expected.get(matched).copied().unwrap_or(!byte);
        matched += 1;
    }
    well_formed && matched == expected.len() && diff == 0
}

/// The first protocol the client offers that the server speaks, never the client's raw list.
fn select_protocol<'p>(req: &Request<'_, '_>, supported: &[&'p str]) -> Option<&'p str> {
    req.headers_named("sec-websocket-protocol")
        .flat_map(|value| value.split(|&b| b == b','))
        .map(http::trim)
        .find_map(|offered| supported.iter().copied().find(|s| s.as_bytes() == offered))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::http::{EMPTY_HEADER, MAX_HEADERS};
    use crate::wire::Status;
    use std::format;
    use std::string::String;

    fn request(extra: &str) -> String {
        format!(
            "GET /ws?x=1 HTTP/1.1\r\nHost: 192.168.4.1:80\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
    }

    fn decide_on(raw: &str, policy: &Policy<'static>) -> Result<Accepted<'static>, Refusal> {
        let mut headers = [EMPTY_HEADER; MAX_HEADERS];
        let Ok(Status::Complete(req, _)) = Request::parse(raw.as_bytes(), &mut headers) else {
            panic!("request did not parse")
        };
        decide(&req, policy)
    }

    const PROTOCOLS: Policy<'static> = Policy {
        allowed_origins: &[],
        token: None,
        protocols: &["v2.espws", "chat"],
        deflate: DeflateConfig::OFF,
    };

    #[test]
    fn requests_without_origin_are_allowed() {
        assert!(decide_on(&request(""), &Policy::default()).is_ok());
    }

    #[test]
    fn same_origin_is_allowed() {
        assert!(decide_on(&request("Origin: http://192.168.4.1:80\r\n"), &Policy::default()).is_ok());
    }

    #[test]
    fn a_foreign_origin_gets_403() {
        let refused = decide_on(&request("Origin: https://evil.example\r\n"), &Policy::default());
        assert_eq!(refused, Err(Refusal::OriginNotAllowed));
        assert_eq!(Refusal::OriginNotAllowed.status().0, 403);
    }

    #[test]
    fn a_listed_origin_is_allowed() {
        let policy = Policy { allowed_origins: &["https://dash.example"], ..Policy::default() };
        assert!(decide_on(&request("Origin: https://dash.example\r\n"), &policy).is_ok());
        assert!(decide_on(&request("Origin: https://dash.example.evil\r\n"), &policy).is_err());
    }

    #[test]
    fn a_missing_token_gets_401() {
        let policy = Policy { token: Some("s3cret"), ..Policy::default() };
        assert_eq!(decide_on(&request(""), &policy), Err(Refusal::TokenMissing));
        assert_eq!(Refusal::TokenMissing.status().0, 401);
    }

    #[test]
    fn a_wrong_token_gets_401() {
        let policy = Policy { token: Some("s3cret"), ..Policy::default() };
        for wrong in [
            "Authorization: Bearer s3cres\r\n",
            "Authorization: Bearer s3cret2\r\n",
            "Authorization: Basic s3cret\r\n",
        ] {
            assert_eq!(decide_on(&request(wrong), &policy), Err(Refusal::TokenWrong), "{wrong}");
        }
        let raw = request("").replace("/ws?x=1", "/ws?token=s3cre");
        assert_eq!(decide_on(&raw, &policy), Err(Refusal::TokenWrong));
        assert_eq!(Refusal::TokenWrong.status().0, 401);
    }

    #[test]
    fn the_right_token_is_accepted_as_bearer_or_query() {
        let policy = Policy { token: Some("s3 cret/+"), ..Policy::default() };
        assert!(decide_on(&request("Authorization: bearer s3 cret/+\r\n"), &policy).is_ok());
        let raw = request("").replace("/ws?x=1", "/ws?x=1&token=s3%20cret%2F%2B");
        assert!(decide_on(&raw, &policy).is_ok());
    }

    #[test]
    fn refusal_reasons_never_contain_the_secret() {
        for refusal in [Refusal::TokenMissing, Refusal::TokenWrong, Refusal::OriginNotAllowed] {
            assert!(!refusal.reason().contains("s3cret"));
        }
    }

    #[test]
    fn subprotocol_is_the_first_offered_that_the_server_supports() {
        let accepted =
            decide_on(&request("Sec-WebSocket-Protocol: mqtt, chat, v2.espws\r\n"), &PROTOCOLS).unwrap();
        assert_eq!(accepted.protocol, Some("chat"));
    }

    #[test]
    fn subprotocol_offers_across_several_headers_are_considered_in_order() {
        let raw = request("Sec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Protocol: v2.espws\r\n");
        assert_eq!(decide_on(&raw, &PROTOCOLS).unwrap().protocol, Some("v2.espws"));
    }

    #[test]
    fn no_matching_subprotocol_means_no_protocol_header() {
        let accepted = decide_on(&request("Sec-WebSocket-Protocol: mqtt, stomp\r\n"), &PROTOCOLS).unwrap();
        assert_eq!(accepted.protocol, None);
        let mut out = [0u8; 256];
        let n = accepted.write_response(&mut out).unwrap();
        assert!(!core::str::from_utf8(&out[..n]).unwrap().contains("Sec-WebSocket-Protocol"));
    }

    #[test]
    fn the_client_list_is_never_echoed_verbatim() {
        let accepted = decide_on(&request("Sec-WebSocket-Protocol: chat, v2.espws\r\n"), &PROTOCOLS).unwrap();
        let mut out = [0u8; 256];
        let n = accepted.write_response(&mut out).unwrap();
        let text = core::str::from_utf8(&out[..n]).unwrap();
        assert!(text.contains("\r\nSec-WebSocket-Protocol: chat\r\n"));
        assert!(!text.contains("chat, v2.espws"));
    }

    #[test]
    fn deflate_is_answered_in_the_101_when_the_policy_allows_it() {
        let raw = request("Sec-WebSocket-Extensions: x-foo, permessage-deflate; client_max_window_bits\r\n");
        let accepted = decide_on(&raw, &PROTOCOLS).unwrap();
        assert_eq!(accepted.deflate, None, "off by default");
        let policy = Policy { deflate: DeflateConfig::SMALL, ..PROTOCOLS };
        let accepted = decide_on(&raw, &policy).unwrap();
        let mut out = [0u8; 512];
        let n = accepted.write_response(&mut out).unwrap();
        let text = core::str::from_utf8(&out[..n]).unwrap();
        assert!(
            text.ends_with(
                "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
             client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9\r\n\r\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn deflate_is_not_agreed_with_whole_delivery() {
        let raw = request("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        let policy = Policy { deflate: DeflateConfig::FULL, ..PROTOCOLS };
        let accepted = decide_on(&raw, &policy).unwrap();
        assert!(accepted.for_delivery(Delivery::Chunked).deflate.is_some());
        assert_eq!(accepted.for_delivery(Delivery::Whole).deflate, None);
    }

    #[test]
    fn a_declined_deflate_offer_still_upgrades_without_the_header() {
        let raw = request("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99\r\n");
        let policy = Policy { deflate: DeflateConfig::FULL, ..PROTOCOLS };
        let accepted = decide_on(&raw, &policy).unwrap();
        assert_eq!(accepted.deflate, None);
        let mut out = [0u8; 512];
        let n = accepted.write_response(&mut out).unwrap();
        assert!(!core::str::from_utf8(&out[..n]).unwrap().contains("Extensions"));
    }

    #[test]
    fn without_configured_protocols_none_is_chosen() {
        let accepted = decide_on(&request("Sec-WebSocket-Protocol: chat\r\n"), &Policy::default()).unwrap();
        assert_eq!(accepted.protocol, None);
    }
}
