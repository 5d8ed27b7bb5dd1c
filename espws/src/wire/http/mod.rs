//! The HTTP/1.1 side of the opening handshake (RFC 6455 section 4): request parsing, upgrade
//! validation, the accept key, and response heads.

use super::Status;
use base64::Engine as _;
use sha1::{Digest as _, Sha1};

/// How many headers a request may carry before it is refused with 431.
pub const MAX_HEADERS: usize = 32;

/// The GUID that RFC 6455 section 1.3 appends to the client's key.
const WEBSOCKET_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// One request header; the value is raw bytes, as HTTP allows.
pub type Header<'b> = httparse::Header<'b>;

/// An empty header slot, to build the array [`Request::parse`] fills.
pub const EMPTY_HEADER: Header<'static> = httparse::EMPTY_HEADER;

/// A parsed HTTP request head, borrowing from the receive buffer.
#[derive(Debug)]
pub struct Request<'h, 'b> {
    /// The method, such as `GET`.
    pub method: &'b str,
    /// The request target: path and query.
    pub target: &'b str,
    /// The minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    /// The headers, in the order they came.
    pub headers: &'h [Header<'b>],
}

/// Why a request head could not be parsed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Not an HTTP/1.x request head (answered with 400).
    Malformed,
    /// More than [`MAX_HEADERS`] headers (answered with 431).
    TooManyHeaders,
}

impl RequestError {
    /// The status this error answers with.
    pub const fn status(self) -> StatusCode {
        match self {
            RequestError::Malformed => StatusCode::BAD_REQUEST,
            RequestError::TooManyHeaders => StatusCode::HEADERS_TOO_LARGE,
        }
    }
}

impl<'h, 'b> Request<'h, 'b> {
    /// Parses a request head from the start of `input`, filling `headers`.
    ///
    /// Returns [`Status::Partial`] until the blank line that ends the head has arrived; the
    /// count in [`Status::Complete`] is the length of the head, so bytes after it (a client may
    /// send its first frame right behind the request) stay with the caller.
    pub fn parse(
        input: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Status<Request<'h, 'b>>, RequestError> {
        let mut req = httparse::Request::new(headers);
        match req.parse(input) {
            Ok(httparse::Status::Partial) => Ok(Status::Partial),
            Ok(httparse::Status::Complete(len)) => Ok(Status::Complete(
                Request {
                    method: req.method.unwrap_or_default(),
                    target: req.path.unwrap_or_default(),
                    minor_version: req.version.unwrap_or_default(),
                    headers: req.headers,
                },
                len,
            )),
            Err(httparse::Error::TooManyHeaders) => Err(RequestError::TooManyHeaders),
            Err(_) => Err(RequestError::Malformed),
        }
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers_named(name).next()
    }

    /// The values of every header called `name` (case-insensitive), in order.
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'b [u8]> + 's {
        headers_named(self.headers, name)
    }

    /// Whether any `name` header lists `token` in its comma-separated value (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        has_token(self.headers, name, token)
    }

    /// The path part of the target, without the query.
    pub fn path(&self) -> &'b str {
        self.target.split_once('?').map_or(self.target, |(path, _)| path)
    }

    /// The value of `name` in the query string, undecoded.
    pub fn query_param(&self, name: &str) -> Option<&'b str> {
        let (_, query) = self.target.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// Whether the client asks for a WebSocket (its `Upgrade` header lists `websocket`).
    pub fn wants_websocket(&self) -> bool {
        self.has_token("upgrade", "websocket")
    }

    /// Whether the client wants the connection kept open after the response.
    pub fn keep_alive(&self) -> bool {
        if self.has_token("connection", "close") {
            return false;
        }
        self.minor_version >= 1 || self.has_token("connection", "keep-alive")
    }
}

/// A validated WebSocket upgrade request.
#[derive(Copy, Clone, Debug)]
pub struct Upgrade<'b> {
    /// The client's `Sec-WebSocket-Key`, trimmed.
    pub key: &'b [u8],
}

/// Why an upgrade request was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum UpgradeError {
    /// The method is not GET (405).
    MethodNotGet,
    /// The request is not HTTP/1.1 (400).
    NotHttp11,
    /// `Upgrade` does not list `websocket` (426).
    NoUpgradeToken,
    /// `Connection` does not list `upgrade` (400).
    NoConnectionUpgrade,
    /// `Sec-WebSocket-Version` is missing or not 13 (426, with `Sec-WebSocket-Version: 13`).
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is missing (400).
    MissingKey,
    /// `Sec-WebSocket-Key` is not 16 bytes of base64 (400).
    InvalidKey,
}

impl UpgradeError {
    /// The status this error answers with.
    pub const fn status(self) -> StatusCode {
        match self {
            UpgradeError::MethodNotGet => StatusCode::METHOD_NOT_ALLOWED,
            UpgradeError::NoUpgradeToken | UpgradeError::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            UpgradeError::NotHttp11
            | UpgradeError::NoConnectionUpgrade
            | UpgradeError::MissingKey
            | UpgradeError::InvalidKey => StatusCode::BAD_REQUEST,
        }
    }

    /// A one-line explanation for the response body and the log.
    pub const fn reason(self) -> &'static str {
        match self {
            UpgradeError::MethodNotGet => "a WebSocket upgrade must use GET",
            UpgradeError::NotHttp11 => "a WebSocket upgrade must use HTTP/1.1",
            UpgradeError::NoUpgradeToken => "this endpoint speaks WebSocket: send Upgrade: websocket",
            UpgradeError::NoConnectionUpgrade => "the Connection header must list upgrade",
            UpgradeError::UnsupportedVersion => "only Sec-WebSocket-Version 13 is supported",
            UpgradeError::MissingKey => "the Sec-WebSocket-Key header is missing",
            UpgradeError::InvalidKey => "Sec-WebSocket-Key must be 16 bytes in base64",
        }
    }
}

impl<'b> Upgrade<'b> {
    /// Checks the rules of RFC 6455 section 4.2.1 for a client's opening handshake.
    pub fn validate(req: &Request<'_, 'b>) -> Result<Upgrade<'b>, UpgradeError> {
        if req.method != "GET" {
            return Err(UpgradeError::MethodNotGet);
        }
        if req.minor_version != 1 {
            return Err(UpgradeError::NotHttp11);
        }
        if !req.wants_websocket() {
            return Err(UpgradeError::NoUpgradeToken);
        }
        if !req.has_token("connection", "upgrade") {
            return Err(UpgradeError::NoConnectionUpgrade);
        }
        if req.header("sec-websocket-version").map(trim) != Some(b"13") {
            return Err(UpgradeError::UnsupportedVersion);
        }
        let key = trim(req.header("sec-websocket-key").ok_or(UpgradeError::MissingKey)?);
        let mut decoded = [0u8; 18];
        match base64::engine::general_purpose::STANDARD.decode_slice(key, &mut decoded) {
            Ok(16) => Ok(Upgrade { key }),
            _ => Err(UpgradeError::InvalidKey),
        }
    }

    /// The `Sec-WebSocket-Accept` value that answers this key.
    pub fn accept_key(&self) -> [u8; 28] {
        accept_key(self.key)
    }
}

/// Computes `Sec-WebSocket-Accept` for a client key (RFC 6455 section 1.3).
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let digest = Sha1::new().chain_update(key).chain_update(WEBSOCKET_GUID).finalize();
    let mut out = [0u8; 28];
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(digest, &mut out)
        .expect("a SHA-1 digest is 28 base64 characters");
    debug_assert_eq!(written, 28);
    out
}

/// Strips leading and trailing spaces and tabs.
pub fn trim(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &value[start..end]
}

/// An HTTP status code with its reason phrase.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StatusCode(pub u16, pub &'static str);

impl StatusCode {
    /// 101, the WebSocket upgrade.
    pub const SWITCHING_PROTOCOLS: StatusCode = StatusCode(101, "Switching Protocols");
    /// 200.
    pub const OK: StatusCode = StatusCode(200, "OK");
    /// 304, the cached copy is current.
    pub const NOT_MODIFIED: StatusCode = StatusCode(304, "Not Modified");
    /// 400, a malformed request.
    pub const BAD_REQUEST: StatusCode = StatusCode(400, "Bad Request");
    /// 401, a missing or wrong token.
    pub const UNAUTHORIZED: StatusCode = StatusCode(401, "Unauthorized");
    /// 403, an origin that is not allowed.
    pub const FORBIDDEN: StatusCode = StatusCode(403, "Forbidden");
    /// 404.
    pub const NOT_FOUND: StatusCode = StatusCode(404, "Not Found");
    /// 405.
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405, "Method Not Allowed");
    /// 408, the request head did not arrive in time.
    pub const REQUEST_TIMEOUT: StatusCode = StatusCode(408, "Request Timeout");
    /// 426, a WebSocket endpoint asked for without a usable upgrade.
    pub const UPGRADE_REQUIRED: StatusCode = StatusCode(426, "Upgrade Required");
    /// 431, the request head does not fit the buffer.
    pub const HEADERS_TOO_LARGE: StatusCode = StatusCode(431, "Request Header Fields Too Large");
    /// 503, every client slot is taken.
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503, "Service Unavailable");
}

/// The output buffer was too small for the response head.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BufferTooSmall;

/// Writes an HTTP/1.1 response head into a caller's buffer.
pub struct ResponseHead<'o> {
    out: &'o mut [u8],
    len: usize,
    overflowed: bool,
}

impl<'o> ResponseHead<'o> {
    /// Starts a response with its status line.
    pub fn new(out: &'o mut [u8], status: StatusCode) -> Self {
        let mut head = ResponseHead { out, len: 0, overflowed: false };
        head.put(b"HTTP/1.1 ");
        head.put_number(u64::from(status.0));
        head.put(b" ");
        head.put(status.1.as_bytes());
        head.put(b"\r\n");
        head
    }

    /// Adds one header.
    pub fn header(mut self, name: &str, value: &[u8]) -> Self {
        self.put(name.as_bytes());
        self.put(b": ");
        self.put(value);
        self.put(b"\r\n");
        self
    }

    /// Adds a header whose value is a decimal number, such as `Content-Length`.
    pub fn number_header(mut self, name: &str, value: u64) -> Self {
        self.put(name.as_bytes());
        self.put(b": ");
        self.put_number(value);
        self.put(b"\r\n");
        self
    }

    /// Ends the head with the blank line; returns its length.
    pub fn finish(mut self) -> Result<usize, BufferTooSmall> {
        self.put(b"\r\n");
        if self.overflowed {
            Err(BufferTooSmall)
        } else {
            Ok(self.len)
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        match self.out.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflowed = true,
        }
    }

    fn put_number(&mut self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.put(&digits[at..]);
    }
}

/// A plain HTTP response whose body is already in memory (a page in flash, an error text).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// The status.
    pub status: StatusCode,
    /// The `Content-Type`.
    pub content_type: &'a str,
    /// `Content-Encoding`, such as `gzip` for a pre-compressed page.
    pub content_encoding: Option<&'a str>,
    /// Further headers, such as `Cache-Control` or `Vary`.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body.
    pub body: &'a [u8],
}

impl<'a> Response<'a> {
    /// A plain-text response, for errors and short answers.
    pub const fn text(status: StatusCode, body: &'a str) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            content_encoding: None,
            headers: &[],
            body: body.as_bytes(),
        }
    }

    /// The answer of a server that serves nothing but WebSockets to a plain request: 426 for
    /// GET and HEAD, 405 for other methods.
    pub fn websocket_only(req: &Request<'_, '_>) -> Response<'static> {
        if req.method == "GET" || req.method == "HEAD" {
            Response::text(StatusCode::UPGRADE_REQUIRED, "this endpoint speaks WebSocket\n")
        } else {
            Response::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        }
    }

    /// Writes the head; the caller writes [`body`](Self::body) after it unless answering HEAD.
    ///
    /// `keep_alive` chooses between `Connection: keep-alive` and `Connection: close`.
    pub fn write_head(&self, out: &mut [u8], keep_alive: bool) -> Result<usize, BufferTooSmall> {
        let mut head = entity_head(out, self.status, self.content_type, self.body.len(), keep_alive);
        if let Some(encoding) = self.content_encoding {
            head = head.header("Content-Encoding", encoding.as_bytes());
        }
        for (name, value) in self.headers {
            head = head.header(name, value);
        }
        head.finish()
    }
}

/// Writes the 101 response that completes an upgrade; `protocol` is the chosen subprotocol.
///
/// It carries no `Content-Length`: a 101 has no body, and some .NET clients refuse one.
pub fn write_switching_protocols(
    out: &mut [u8],
    accept: &[u8; 28],
    protocol: Option<&str>,
) -> Result<usize, BufferTooSmall> {
    let mut head = ResponseHead::new(out, StatusCode::SWITCHING_PROTOCOLS)
        .header("Upgrade", b"websocket")
        .header("Connection", b"Upgrade")
        .header("Sec-WebSocket-Accept", accept);
    if let Some(protocol) = protocol {
        head = head.header("Sec-WebSocket-Protocol", protocol.as_bytes());
    }
    head.finish()
}

/// Writes a complete short error response with a one-line plain-text body, closing the
/// connection. A 426 carries `Sec-WebSocket-Version: 13` (RFC 6455 section 4.4); a 405, `Allow`.
pub fn write_error(out: &mut [u8], status: StatusCode, message: &str) -> Result<usize, BufferTooSmall> {
    // The body gets a trailing newline, so that terminals show it cleanly.
    let body_len = message.len() + 1;
    let head_len = entity_head(out, status, "text/plain; charset=utf-8", body_len, false).finish()?;
    let body = out.get_mut(head_len..head_len + body_len).ok_or(BufferTooSmall)?;
    body[..message.len()].copy_from_slice(message.as_bytes());
    body[message.len()] = b'\n';
    Ok(head_len + body_len)
}

/// The status line and the headers every response with a body carries.
fn entity_head<'o>(
    out: &'o mut [u8],
    status: StatusCode,
    content_type: &str,
    content_length: usize,
    keep_alive: bool,
) -> ResponseHead<'o> {
    let mut head = ResponseHead::new(out, status)
        .header("Content-Type", content_type.as_bytes())
        .number_header("Content-Length", content_length as u64)
        .header("Connection", if keep_alive { b"keep-alive" } else { b"close" });
    if status == StatusCode::UPGRADE_REQUIRED {
        head = head.header("Upgrade", b"websocket").header("Sec-WebSocket-Version", b"13");
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        head = head.header("Allow", b"GET, HEAD");
    }
    head
}

/// The values of every header called `name` (case-insensitive), in order.
fn headers_named<'s, 'b>(headers: &'s [Header<'b>], name: &'s str) -> impl Iterator<Item = &'b [u8]> + 's {
    headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
}

/// Whether any `name` header lists `token` in its comma-separated value (case-insensitive).
fn has_token(headers: &[Header<'_>], name: &str, token: &str) -> bool {
    headers_named(headers, name).any(|value| {
        value.split(|&b| b == b',').any(|item| trim(item).eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// Writes an HTTP/1.1 request head into a caller's buffer: a client's upgrade request.
pub struct RequestHead<'o>(ResponseHead<'o>);

impl<'o> RequestHead<'o> {
    /// Starts a request with its request line; the target is the concatenation of `target`.
    pub fn new(out: &'o mut [u8], method: &str, target: &[&str]) -> Self {
        let mut head = ResponseHead { out, len: 0, overflowed: false };
        head.put(method.as_bytes());
        head.put(b" ");
        for part in target {
            head.put(part.as_bytes());
        }
        head.put(b" HTTP/1.1\r\n");
        RequestHead(head)
    }

    /// Adds one header listing `items`, comma-separated.
    pub fn header_list(mut self, name: &str, items: &[&str]) -> Self {
        self.0.put(name.as_bytes());
        self.0.put(b": ");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.0.put(b", ");
            }
            self.0.put(item.as_bytes());
        }
        self.0.put(b"\r\n");
        self
    }

    /// Adds one header whose value is the concatenation of `parts`.
    pub fn header(mut self, name: &str, parts: &[&[u8]]) -> Self {
        self.0.put(name.as_bytes());
        self.0.put(b": ");
        for part in parts {
            self.0.put(part);
        }
        self.0.put(b"\r\n");
        self
    }

    /// Ends the head with the blank line; returns its length.
    pub fn finish(self) -> Result<usize, BufferTooSmall> {
        self.0.finish()
    }
}

/// A parsed HTTP response head (a server's answer to an upgrade request), borrowing from the
/// receive buffer.
#[derive(Debug)]
pub struct ParsedResponse<'h, 'b> {
    /// The status code, such as 101.
    pub code: u16,
    /// The reason phrase, such as `Switching Protocols`.
    pub reason: &'b str,
    /// The headers, in the order they came.
    pub headers: &'h [Header<'b>],
}

/// The bytes are not an HTTP/1.x response head (or carry more than [`MAX_HEADERS`] headers).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MalformedResponse;

impl<'h, 'b> ParsedResponse<'h, 'b> {
    /// Parses a response head from the start of `input`, filling `headers`; the count in
    /// [`Status::Complete`] is the head's length (frames may follow it in the same read).
    pub fn parse(
        input: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Status<ParsedResponse<'h, 'b>>, MalformedResponse> {
        let mut res = httparse::Response::new(headers);
        match res.parse(input) {
            Ok(httparse::Status::Partial) => Ok(Status::Partial),
            Ok(httparse::Status::Complete(len)) => Ok(Status::Complete(
                ParsedResponse {
                    code: res.code.unwrap_or_default(),
                    reason: res.reason.unwrap_or_default(),
                    headers: res.headers,
                },
                len,
            )),
            Err(_) => Err(MalformedResponse),
        }
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        headers_named(self.headers, name).next()
    }

    /// The values of every header called `name` (case-insensitive), in order.
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'b [u8]> + 's {
        headers_named(self.headers, name)
    }

    /// Whether any `name` header lists `token` in its comma-separated value (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        has_token(self.headers, name, token)
    }
}

/// Sends a fixed upgrade request for `/ws` (host `localhost`, the RFC's sample key) and reads
/// the response head, byte by byte so that nothing after it is consumed. For test clients: the
/// head comes back unchecked.
#[cfg(any(test, all(feature = "testing", feature = "std")))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "testing", feature = "std"))))]
pub fn upgrade_for_test(
    stream: &mut (impl std::io::Read + std::io::Write),
) -> std::io::Result<std::vec::Vec<u8>> {
    stream.write_all(
        b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )?;
    let mut head = std::vec::Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        stream.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    Ok(head)
}

#[cfg(test)]
mod tests;
