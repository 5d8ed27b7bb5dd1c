//! The bare-metal server's TLS (`espws::tls::mbedtls`) over loopback, under the async driver on
//! tokio: a rustls client echoes 0 B to 1 MiB through it, and bad input at the TLS layer is
//! answered (plain HTTP gets a 400 naming the https URL) or dropped within the handshake
//! timeout, each while the server goes on serving.
//!
//! mbedTLS allows one instance per process, so the tests share one server; each finds the
//! outcome of its own connection by its local port.
#![cfg(all(feature = "tls-mbedtls", feature = "tokio"))]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use embedded_io_adapters::tokio_1::FromTokio;
use espws::nonblocking::{self, TokioTimer, Transport};
use espws::tls::mbedtls::{accept, AcceptError, Tls, TlsServer, X509};
use espws::wire::frame::masked_client_frame;
use espws::{RecvBuf, ServeConfig};
use rustls::ClientConfig;

#[path = "../examples/support/echo_service.rs"]
mod echo_service;
use echo_service::Echo;
#[path = "support/wss_client.rs"]
mod wss_client;
use wss_client::{client_hello, expect_plain_http_400, pki, Pki, Wss};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(1500);

/// How a connection ended on the server, and when, by the client's port.
type Outcomes = Arc<(Mutex<HashMap<u16, (Result<(), AcceptError>, Instant)>>, Condvar)>;

struct Server {
    addr: SocketAddr,
    outcomes: Outcomes,
    client: Arc<ClientConfig>,
}

impl Server {
    /// The handshake's outcome for the client whose local port is `port`, waiting up to `within`.
    fn outcome(&self, port: u16, within: Duration) -> Result<(), AcceptError> {
        self.outcome_and_time(port, within).0
    }

    /// The outcome, and when the server reported it.
    fn outcome_and_time(&self, port: u16, within: Duration) -> (Result<(), AcceptError>, Instant) {
        let (map, ready) = &*self.outcomes;
        let deadline = Instant::now() + within;
        let mut map = map.lock().unwrap();
        loop {
            if let Some(outcome) = map.remove(&port) {
                return outcome;
            }
            let left =
                deadline.checked_duration_since(Instant::now()).expect("the server reported no outcome");
            map = ready.wait_timeout(map, left).unwrap().0;
        }
    }
}

/// tokio's TCP stream as the async driver's transport.
struct Tcp(FromTokio<tokio::net::TcpStream>);

impl embedded_io_async::ErrorType for Tcp {
    type Error = std::io::Error;
}

impl embedded_io_async::Read for Tcp {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).await
    }
}

impl embedded_io_async::Write for Tcp {
    async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).await
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().await
    }
}

impl Transport for Tcp {
    async fn shutdown_write(&mut self) -> std::io::Result<()> {
        tokio::io::AsyncWriteExt::shutdown(self.0.inner_mut()).await
    }
}

/// The one server of this test binary.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let Pki { cert_pem: cert, key_pem: key, client } = pki();
        let outcomes: Outcomes = Arc::default();
        let reported = outcomes.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rng = Box::leak(Box::new(rand_core_10::UnwrapErr(getrandom_04::SysRng)));
            let library: &'static Tls<'static> = Box::leak(Box::new(Tls::new(rng).unwrap()));
            let tls: &'static TlsServer<'static> = Box::leak(Box::new(
                TlsServer::new(library.reference(), X509::PEM(cert), X509::PEM(key)).unwrap(),
            ));
            let config: &'static ServeConfig<'static> = Box::leak(Box::new(ServeConfig {
                handshake_timeout: HANDSHAKE_TIMEOUT,
                ..ServeConfig::default()
            }));
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let timer = TokioTimer::new();
                for id in 1.. {
                    let (stream, peer) = listener.accept().await.unwrap();
                    let local_addr = stream.local_addr().ok();
                    let reported = reported.clone();
                    tokio::task::spawn_local(async move {
                        let socket = Tcp(FromTokio::new(stream));
                        let outcome =
                            match accept(socket, tls, &timer, config.handshake_timeout, local_addr).await {
                                Ok(stream) => {
                                    let rx = RecvBuf::new(vec![0u8; config.rx_buffer]);
                                    let finished =
                                        nonblocking::serve(stream, rx, timer, config, &Echo, id, Some(peer))
                                            .await;
                                    finished.linger_async(&timer).await;
                                    Ok(())
                                }
                                Err(e) => Err(e),
                            };
                        let (map, ready) = &*reported;
                        map.lock().unwrap().insert(peer.port(), (outcome, Instant::now()));
                        ready.notify_all();
                    });
                }
            });
        });
        Server { addr: rx.recv().unwrap(), outcomes, client }
    })
}

#[test]
fn echoes_text_and_binary_from_0_bytes_to_1_mib_over_tls() {
    let server = server();
    let mut wss = Wss::connect(server.addr, &server.client);
    for len in [0usize, 1, 125, 126, 127, 16_384, 65_535, 65_536, 1 << 20] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        assert!(wss.echo(0x82, &payload) == payload, "binary echo of {len} bytes");
    }
    assert_eq!(wss.echo(0x81, "héllo, wörld".as_bytes()), "héllo, wörld".as_bytes());
    // A ping is answered with its payload.
    wss.tls.write_all(&masked_client_frame(0x89, b"are you there", [9, 8, 7, 6])).unwrap();
    assert_eq!(wss.frame(), (0x8A, b"are you there".to_vec()));
    // The closing handshake: 1000 back, then the server's close_notify and end of stream.
    wss.tls.write_all(&masked_client_frame(0x88, &1000u16.to_be_bytes(), [1, 1, 1, 1])).unwrap();
    assert_eq!(wss.frame(), (0x88, 1000u16.to_be_bytes().to_vec()));
    let mut rest = Vec::new();
    let _ = wss.tls.read_to_end(&mut rest);
    assert!(rest.is_empty(), "nothing after the close frame: {rest:?}");
    assert_eq!(server.outcome(wss.port(), Duration::from_secs(5)), Ok(()));
}

#[test]
fn a_plain_http_request_is_answered_400_naming_the_https_url() {
    let server = server();
    let port = expect_plain_http_400(server.addr);
    assert_eq!(server.outcome(port, Duration::from_secs(2)), Err(AcceptError::NotTls));
}

#[test]
fn a_client_hello_that_does_not_parse_ends_the_connection_at_once() {
    let server = server();
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    // One record holding a whole ClientHello message (type 1, 8 bytes) whose body is nonsense.
    tcp.write_all(b"\x16\x03\x01\x00\x0c\x01\x00\x00\x08not TLS!").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let outcome = server.outcome(port, Duration::from_secs(2));
    assert!(matches!(outcome, Err(AcceptError::Protocol(_))), "{outcome:?}");
    assert!(started.elapsed() < HANDSHAKE_TIMEOUT, "ended after {:?}, not at once", started.elapsed());
    // Whatever the server sent (an alert, or nothing), the connection then ends.
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest);
}

#[test]
fn garbage_that_announces_a_long_handshake_message_is_dropped_at_the_timeout() {
    let server = server();
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    let started = Instant::now();
    // A handshake record whose message announces 6.8 MB: mbedTLS waits for the rest of a
    // message split over records (TLS allows it), so this ends at the deadline.
    tcp.write_all(b"\x16\x03\x01\x00\x20this is not a ClientHello at all!!").unwrap();
    let port = tcp.local_addr().unwrap().port();
    assert_eq!(server.outcome(port, HANDSHAKE_TIMEOUT * 2), Err(AcceptError::TimedOut));
    assert!(started.elapsed() >= HANDSHAKE_TIMEOUT - Duration::from_millis(50));
}

#[test]
fn half_a_client_hello_is_dropped_at_the_handshake_timeout() {
    let server = server();
    let hello = client_hello(&server.client);
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    tcp.write_all(&hello[..hello.len() / 2]).unwrap();
    let port = tcp.local_addr().unwrap().port();
    assert_eq!(server.outcome(port, HANDSHAKE_TIMEOUT * 2), Err(AcceptError::TimedOut));
    let waited = started.elapsed();
    assert!(waited >= HANDSHAKE_TIMEOUT - Duration::from_millis(50), "dropped after {waited:?}");
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest);
}

#[test]
fn a_client_that_sends_nothing_is_dropped_at_the_handshake_timeout() {
    let server = server();
    let tcp = TcpStream::connect(server.addr).unwrap();
    let started = Instant::now();
    let port = tcp.local_addr().unwrap().port();
    assert_eq!(server.outcome(port, HANDSHAKE_TIMEOUT * 2), Err(AcceptError::TimedOut));
    assert!(started.elapsed() >= HANDSHAKE_TIMEOUT - Duration::from_millis(50));
}

#[test]
fn a_client_that_closes_mid_handshake_is_reported_closed() {
    let server = server();
    let hello = client_hello(&server.client);
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.write_all(&hello).unwrap();
    let port = tcp.local_addr().unwrap().port();
    tcp.shutdown(std::net::Shutdown::Both).unwrap();
    let outcome = server.outcome(port, Duration::from_secs(2));
    assert!(matches!(outcome, Err(AcceptError::Closed | AcceptError::Io(_))), "{outcome:?}");
}

#[test]
fn a_wss_client_loses_nothing_while_300_handshakes_stall_and_bad_input_arrives() {
    let server = server();
    let mut wss = Wss::connect(server.addr, &server.client);
    // 50 messages in flight before the bad input, 50 more during it.
    let messages: Vec<Vec<u8>> = (0..100u32).map(|i| std::format!("message {i}").into_bytes()).collect();
    for message in &messages[..50] {
        wss.send(0x82, message);
    }
    let started = Instant::now();
    let stalled: Vec<TcpStream> = (0..300).map(|_| TcpStream::connect(server.addr).unwrap()).collect();
    let hello = client_hello(&server.client);
    let mut half = TcpStream::connect(server.addr).unwrap();
    half.write_all(&hello[..hello.len() / 2]).unwrap();
    let mut garbage = TcpStream::connect(server.addr).unwrap();
    garbage.write_all(b"\x16\x03\x01\x00\x0c\x01\x00\x00\x08not TLS!").unwrap();
    let plain_port = expect_plain_http_400(server.addr);
    for message in &messages[50..] {
        wss.send(0x82, message);
    }
    let mut pings = 0;
    for message in &messages {
        assert_eq!(&wss.message(&mut pings), message, "echoes arrive whole and in order");
    }
    let echoed = Instant::now();
    // Every stalled connection is dropped at its deadline, the garbage at once; the echoes came
    // back while stalled handshakes were still pending, so they did not wait behind them. (The
    // times themselves depend on the machine's load and the other tests, which share the server's
    // thread: the 300 connections may take a second to open.)
    assert_eq!(server.outcome(plain_port, Duration::from_secs(5)), Err(AcceptError::NotTls));
    let port = |tcp: &TcpStream| tcp.local_addr().unwrap().port();
    assert!(matches!(server.outcome(port(&garbage), Duration::from_secs(5)), Err(AcceptError::Protocol(_))));
    assert_eq!(server.outcome(port(&half), HANDSHAKE_TIMEOUT * 4), Err(AcceptError::TimedOut));
    let mut last_drop = started;
    for tcp in &stalled {
        let (outcome, at) = server.outcome_and_time(port(tcp), HANDSHAKE_TIMEOUT * 4);
        assert_eq!(outcome, Err(AcceptError::TimedOut));
        assert!(at >= started + HANDSHAKE_TIMEOUT - Duration::from_millis(50), "dropped before its deadline");
        last_drop = last_drop.max(at);
    }
    assert!(echoed < last_drop, "the wss client's echoes waited for the stalled handshakes");
    // The wss client is still served.
    assert_eq!(wss.echo(0x81, b"still here"), b"still here");
}
