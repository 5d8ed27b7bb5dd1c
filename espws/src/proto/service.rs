//! What a server serves: the [`Service`] an application implements, and the [`Client`] it is
//! told about. Both drivers and every accept loop use these same types.

use core::fmt::Write as _;

use super::inline_str::InlineStr;
use core::net::SocketAddr;

use super::deflate::Agreed;
use super::handshake::Declined;
use super::Closed;
use crate::wire::http::{Request, Response};

/// What a server does with plain HTTP requests and with valid WebSocket upgrades.
///
/// The WebSocket itself is handled by [`BlockingService`](crate::blocking::BlockingService) or
/// [`AsyncService`](crate::nonblocking::AsyncService), whichever driver runs the service; this
/// trait holds everything the two share.
pub trait Service {
    /// What a connection holds from before its 101 until it ends (a hub membership, say);
    /// `()` for a service that takes every valid upgrade.
    type Admission;

    /// Answers a plain HTTP request (one without `Upgrade: websocket`).
    ///
    /// The default serves nothing but WebSockets: 426 for GET, 405 for other methods.
    fn http(&self, req: &Request<'_, '_>) -> Response<'_> {
        Response::websocket_only(req)
    }

    /// Takes or declines a valid upgrade before the 101 goes out, so that a client told it is
    /// connected already has everything it needs (nothing broadcast after its 101 misses it),
    /// and a full service answers with an HTTP status rather than an upgrade and a close.
    fn admit(&self, req: &Request<'_, '_>) -> Result<Self::Admission, Declined>;
}

/// How a served connection ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Served {
    /// It was a WebSocket, and ended this way.
    WebSocket(Closed),
    /// It served plain HTTP, or was refused, or closed before a request.
    Http,
}

/// A served connection, handed back so that the caller can free its client slot before the
/// bounded wait that lets the peer read the last bytes (the drivers' `linger`).
#[must_use = "linger, or drop the transport"]
pub struct Finished<T, B> {
    /// How it ended.
    pub served: Served,
    /// The transport, still open.
    pub transport: T,
    /// The receive buffer, for the linger's reads.
    pub rx: super::RecvBuf<B>,
    /// Whether the peer may still be reading, and gains from a linger.
    pub wants_linger: bool,
}

/// How a driver's HTTP phase ended.
pub(crate) enum HttpEnd<'p, A> {
    /// The 101 went out: run the WebSocket.
    Upgraded(Client<'p>, A),
    /// Answered or gone; `linger` when the peer may still read the answer.
    Done {
        /// The peer may still read the answer.
        linger: bool,
    },
}

/// The longest request target a [`Client`] keeps; longer ones are cut (at a character boundary).
pub const MAX_TARGET: usize = 96;

/// Facts about an accepted WebSocket client, for the service and the logs.
///
/// ```
/// let client = espws::Client::new(3, "192.168.4.2:50123".parse().ok(), "/ws?token=x", None);
/// assert_eq!(client.path(), "/ws");
/// assert_eq!(client.target(), "/ws?token=x");
/// ```
#[derive(Clone, Debug)]
pub struct Client<'p> {
    /// A number that tells this connection from the others in the logs.
    pub id: u64,
    /// The client's address, when the transport knows it.
    pub peer: Option<SocketAddr>,
    /// The subprotocol agreed on, if any.
    pub protocol: Option<&'p str>,
    /// permessage-deflate, if it was agreed in the handshake.
    pub deflate: Option<Agreed>,
    target: InlineStr<MAX_TARGET>,
}

impl<'p> Client<'p> {
    /// A client with this id and address that asked for `target`.
    pub fn new(id: u64, peer: Option<SocketAddr>, target: &str, protocol: Option<&'p str>) -> Self {
        Client { id, peer, protocol, deflate: None, target: InlineStr::cut(target) }
    }

    /// The request target of the upgrade (its path and query), cut to [`MAX_TARGET`] bytes.
    pub fn target(&self) -> &str {
        self.target.as_str()
    }

    /// Logs the client's arrival; every runtime prints this same line.
    #[inline(never)]
    pub fn log_connected(&self) {
        let label = PeerLabel::new(self.id, self.peer);
        info!("client {} connected from {} to {}", self.id, label.addr(), self.path());
    }

    /// Logs how the client's connection ended; every runtime prints this same line.
    #[inline(never)]
    pub fn log_disconnected(&self, how: Option<Closed>) {
        let how = how.unwrap_or(Closed::Dropped);
        let label = PeerLabel::new(self.id, self.peer);
        info!("client {} ({}) disconnected: {}, {}", self.id, label.addr(), how.code().0, how.description());
    }

    /// The path of the request target, without the query.
    pub fn path(&self) -> &str {
        self.target().split('?').next().unwrap_or_default()
    }
}

/// Who a connection is, for log lines: its number and, when known, its address.
#[derive(Copy, Clone, Debug)]
pub struct PeerLabel {
    /// The connection's number.
    pub id: u64,
    /// The peer's address, as text (empty when unknown).
    addr: InlineStr<48>,
}

impl PeerLabel {
    /// The label of connection `id` from `peer`.
    pub fn new(id: u64, peer: Option<SocketAddr>) -> Self {
        let mut addr = InlineStr::new();
        if let Some(peer) = peer {
            let _ = write!(addr, "{peer}");
        }
        PeerLabel { id, addr }
    }

    /// The address as text, `"?"` when unknown.
    pub fn addr(&self) -> &str {
        match self.addr.as_str() {
            "" => "?",
            addr => addr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_target_is_cut_at_a_character_boundary() {
        let long = "/é".repeat(100);
        let client = Client::new(1, None, &long, None);
        assert!(client.target().len() <= MAX_TARGET);
        assert!(long.starts_with(client.target()));
    }

    #[test]
    fn the_path_leaves_out_the_query() {
        let client = Client::new(1, None, "/ws?token=x", None);
        assert_eq!((client.target(), client.path()), ("/ws?token=x", "/ws"));
    }

    #[test]
    fn a_peer_label_shows_the_address_or_a_question_mark() {
        let addr: SocketAddr = "[::1]:9998".parse().unwrap();
        assert_eq!(PeerLabel::new(3, Some(addr)).addr(), "[::1]:9998");
        assert_eq!(PeerLabel::new(3, None).addr(), "?");
    }
}
