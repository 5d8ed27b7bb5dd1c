//! The threads server with a TLS library it does not carry (`Server::with_tls_acceptor`, as
//! `firmware/esp-idf` runs ESP-IDF's esp-tls), here mbedTLS through mbedtls-rs's blocking
//! session: a rustls client echoes 0 B to 1 MiB; a plain HTTP request gets its 400; a silent
//! client and half a ClientHello are dropped at the handshake timeout; a read that times out
//! inside the session, even in the middle of a record, is taken up again (the pings still go
//! out); a graceful shutdown closes with 1001; and a hub member, which needs a second writer,
//! is closed with 1011.
#![cfg(feature = "tls-mbedtls")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use espws::blocking::{self, BlockingService};
use espws::hub::{self, Hub, Member, Reply};
use espws::server::{Server, ServerHandle};
use espws::wire::frame::masked_client_frame;
use espws::wire::http::Request;
use espws::{Client, Config, Declined, ServeConfig, Service};
use rustls::ClientConfig;

#[path = "../examples/support/echo_service.rs"]
mod echo_service;
use echo_service::Echo;
#[path = "support/mbedtls_acceptor.rs"]
mod mbedtls_acceptor;
use mbedtls_acceptor::MbedtlsAcceptor;
#[path = "support/wss_client.rs"]
mod wss_client;
use wss_client::{client_hello, expect_plain_http_400, pki, Pki, Wss};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(1500);

/// A server on a free port with `config`, serving TLS through mbedTLS.
struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    client: Arc<ClientConfig>,
}

fn start<S: BlockingService + Send + Sync + 'static>(config: ServeConfig<'static>, service: S) -> Running {
    let Pki { cert_pem, key_pem, client } = pki();
    let acceptor = MbedtlsAcceptor { cert: cert_pem, key: key_pem };
    let server = Server::bind("127.0.0.1:0", config, service).unwrap().with_tls_acceptor(acceptor);
    let running = Running { addr: server.local_addr().unwrap(), handle: server.handle().unwrap(), client };
    std::thread::spawn(move || server.run());
    running
}

fn config() -> ServeConfig<'static> {
    ServeConfig { handshake_timeout: HANDSHAKE_TIMEOUT, ..ServeConfig::default() }
}

/// Waits until the server ends a connection it has not answered, and gives how long that took.
fn dropped_after(mut tcp: TcpStream, started: Instant) -> Duration {
    tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT * 4)).unwrap();
    let mut rest = Vec::new();
    // End of stream, or a reset for bytes the server never read.
    let _ = tcp.read_to_end(&mut rest);
    started.elapsed()
}

#[test]
fn a_rustls_client_echoes_0_bytes_to_1_mib_through_mbedtls() {
    let server = start(config(), Echo);
    let mut wss = Wss::connect(server.addr, &server.client);
    for len in [0usize, 1, 125, 126, 127, 240, 16_384, 65_535, 65_536, 1 << 20] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        assert!(wss.echo(0x82, &payload) == payload, "binary echo of {len} bytes");
    }
    assert_eq!(wss.echo(0x81, "héllo, wörld".as_bytes()), "héllo, wörld".as_bytes());
    wss.send(0x89, b"are you there");
    assert_eq!(wss.frame(), (0x8A, b"are you there".to_vec()));
    wss.close();
    server.handle.stop();
}

#[test]
fn a_plain_http_request_is_answered_400_naming_the_https_url() {
    let server = start(config(), Echo);
    expect_plain_http_400(server.addr);
    // The server goes on serving.
    Wss::connect(server.addr, &server.client).close();
    server.handle.stop();
}

#[test]
fn a_client_that_sends_nothing_is_dropped_at_the_handshake_timeout() {
    let server = start(config(), Echo);
    let started = Instant::now();
    let waited = dropped_after(TcpStream::connect(server.addr).unwrap(), started);
    assert!(waited >= HANDSHAKE_TIMEOUT - Duration::from_millis(50), "dropped after {waited:?}");
    assert!(waited < HANDSHAKE_TIMEOUT * 2, "dropped after {waited:?}");
    server.handle.stop();
}

#[test]
fn half_a_client_hello_is_dropped_at_the_handshake_timeout() {
    let server = start(config(), Echo);
    let hello = client_hello(&server.client);
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    let started = Instant::now();
    tcp.write_all(&hello[..hello.len() / 2]).unwrap();
    let waited = dropped_after(tcp, started);
    assert!(waited >= HANDSHAKE_TIMEOUT - Duration::from_millis(50), "dropped after {waited:?}");
    assert!(waited < HANDSHAKE_TIMEOUT * 2, "dropped after {waited:?}");
    server.handle.stop();
}

#[test]
fn reads_that_time_out_inside_the_session_are_taken_up_again() {
    // Pings after 300 ms of silence: the session's reads time out often.
    let config = ServeConfig {
        connection: Config { ping_interval: Some(Duration::from_millis(300)), ..config().connection },
        ..config()
    };
    let server = start(config, Echo);
    let mut wss = Wss::connect(server.addr, &server.client);

    // Silence: the server's read times out inside mbedTLS, and the driver pings.
    std::thread::sleep(Duration::from_millis(700));
    let mut pings = 0;
    wss.send(0x82, b"after the silence");
    assert_eq!(wss.message(&mut pings), b"after the silence");
    assert!(pings >= 1, "the server pinged during the silence");

    // A record cut in two, its halves 700 ms apart: the read times out with half a record in
    // mbedTLS's buffer, and the next read completes it.
    let payload: Vec<u8> = (0..1000).map(|i| i as u8).collect();
    wss.tls.conn.writer().write_all(&masked_client_frame(0x82, &payload, [5, 6, 7, 8])).unwrap();
    let mut records = Vec::new();
    while wss.tls.conn.wants_write() {
        wss.tls.conn.write_tls(&mut records).unwrap();
    }
    let (first, second) = records.split_at(records.len() / 2);
    wss.tls.sock.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    wss.tls.sock.write_all(second).unwrap();
    let mut pings_meanwhile = 0;
    assert_eq!(wss.message(&mut pings_meanwhile), payload);
    assert!(pings_meanwhile >= 1, "the server pinged while half a record waited");

    assert_eq!(wss.echo(0x81, b"still here"), b"still here");
    wss.close();
    server.handle.stop();
}

#[test]
fn a_graceful_shutdown_closes_tls_clients_with_1001() {
    let server = start(config(), Echo);
    let mut wss = Wss::connect(server.addr, &server.client);
    assert_eq!(wss.echo(0x82, b"before"), b"before");
    let handle = server.handle.clone();
    let shutdown = std::thread::spawn(move || handle.shutdown(Duration::from_secs(5)));
    let (head, payload) = wss.frame();
    assert_eq!((head, &payload[..2]), (0x88, &1001u16.to_be_bytes()[..]));
    wss.send(0x88, &1001u16.to_be_bytes());
    assert_eq!(shutdown.join().unwrap(), 0, "every connection finished closing");
}

type TestHub = Hub<'static, CriticalSectionRawMutex>;

/// A hub member per client: it needs a second thread to write the hub's messages.
struct Members {
    hub: &'static TestHub,
}

impl Service for Members {
    type Admission = Member<'static, 'static, CriticalSectionRawMutex>;

    fn admit(&self, _req: &Request<'_, '_>) -> Result<Self::Admission, Declined> {
        self.hub.join().ok_or(Declined::busy("full"))
    }
}

impl BlockingService for Members {
    fn websocket<T: blocking::Transport, B: espws::Storage, C: blocking::Clock>(
        &self,
        ws: &mut blocking::WebSocket<T, B, C>,
        _client: &Client<'_>,
        member: Self::Admission,
    ) {
        hub::serve_member_blocking(ws, &member, hub::DrainThread::default(), |_, _| Reply::Nothing);
    }
}

#[test]
fn a_hub_member_is_closed_with_1011_as_the_session_cannot_take_a_second_writer() {
    let server = start(config(), Members { hub: Hub::leak(4, 4096) });
    let mut wss = Wss::connect(server.addr, &server.client);
    let (head, payload) = wss.frame();
    assert_eq!((head, &payload[..2]), (0x88, &1011u16.to_be_bytes()[..]));
    server.handle.stop();
}
