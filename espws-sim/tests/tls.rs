//! Bad input at the TLS layer (`--tls-self-signed`): each is dropped within its timeout, or
//! answered, while a wss client beside it keeps being served. On the threads and tokio runtimes.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use espws::wire::frame::read_server_frame;
use espws::wire::http::upgrade_for_test;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use support::{masked_frame, on_each_runtime, runtime, RawClient, Sim, UPGRADE};

const HANDSHAKE_TIMEOUT: &str = "2";

/// A simulator serving TLS with a certificate of its own, and a client configuration trusting it.
fn tls_sim(extra: &[&str]) -> (Sim, Arc<ClientConfig>) {
    let mut args = vec!["--tls-self-signed", "--handshake-timeout", HANDSHAKE_TIMEOUT];
    args.extend_from_slice(extra);
    let sim = Sim::start(&args);
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(certificate_file(&sim)).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (sim, Arc::new(config))
}

/// Where the simulator says it wrote the certificate it made.
fn certificate_file(sim: &Sim) -> std::path::PathBuf {
    let log = sim.log_text();
    let path = log
        .split("PEM written to ")
        .nth(1)
        .and_then(|rest| rest.split(" (").next())
        .expect("the simulator says where the certificate is");
    path.into()
}

/// A WebSocket client over TLS.
struct Wss {
    tls: StreamOwned<ClientConnection, TcpStream>,
}

impl Wss {
    fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> Wss {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(config.clone(), name).unwrap();
        let mut wss = Wss { tls: StreamOwned::new(conn, tcp) };
        let head = upgrade_for_test(&mut wss.tls).expect("an upgrade answer");
        assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
        wss
    }

    fn send(&mut self, payload: &[u8]) {
        self.tls.write_all(&masked_frame(0x82, payload)).unwrap();
    }

    /// The next binary message, reassembled, skipping pings and text (status ticks).
    fn receive(&mut self) -> Vec<u8> {
        loop {
            let (opcode, message) = self.receive_message();
            if opcode == 0x2 {
                return message;
            }
        }
    }

    /// The next data message, reassembled, and its opcode; pings skipped.
    fn receive_message(&mut self) -> (u8, Vec<u8>) {
        let mut message = Vec::new();
        let mut opcode = 0;
        loop {
            let (head, payload) = read_server_frame(&mut self.tls).expect("a frame");
            if matches!(head & 0x0F, 0x0..=0x2) {
                if head & 0x0F != 0 {
                    opcode = head & 0x0F;
                }
                message.extend_from_slice(&payload);
                if head & 0x80 != 0 {
                    return (opcode, message);
                }
            }
        }
    }

    fn assert_echo(&mut self, payload: &[u8]) {
        self.send(payload);
        let echoed = self.receive();
        assert!(echoed == payload, "echo of {} bytes came back as {} bytes", payload.len(), echoed.len());
    }
}

/// Runs `case` while a wss bystander has 50 messages in flight; checks it gets them all.
fn with_wss_bystander(extra: &[&str], case: impl FnOnce(&Sim, &Arc<ClientConfig>)) {
    let (sim, config) = tls_sim(extra);
    let mut bystander = Wss::connect(sim.addr, &config);
    bystander.assert_echo(b"warm up");
    let messages: Vec<Vec<u8>> = (0..50).map(|i| format!("bystander message {i}").into_bytes()).collect();
    for message in &messages {
        bystander.send(message);
    }
    case(&sim, &config);
    for message in &messages {
        assert!(&bystander.receive() == message, "bystander messages arrive complete and in order");
    }
    bystander.assert_echo(&vec![7u8; 100_000]);
    bystander.assert_echo(b"still served");
}

/// The first `len` bytes of a real ClientHello.
fn client_hello(config: &Arc<ClientConfig>) -> Vec<u8> {
    let mut conn = ClientConnection::new(config.clone(), ServerName::try_from("localhost").unwrap()).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    hello
}

/// How long the server takes to end `client`'s connection (at most `limit`).
fn time_to_end(client: &mut RawClient, limit: Duration) -> Duration {
    let started = Instant::now();
    assert!(client.ended_within(limit), "the server kept the connection past {limit:?}");
    started.elapsed()
}

#[test]
fn the_console_and_the_websocket_are_served_over_tls() {
    on_each_runtime(|| {
        let (sim, config) = tls_sim(&[]);
        let mut wss = Wss::connect(sim.addr, &config);
        for size in [0, 125, 126, 65535, 65536, 1 << 20] {
            wss.assert_echo(&vec![0x5A; size]);
        }
        let tcp = TcpStream::connect(sim.addr).unwrap();
        let conn = ClientConnection::new(config.clone(), ServerName::try_from("127.0.0.1").unwrap()).unwrap();
        let mut https = StreamOwned::new(conn, tcp);
        https.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut page = Vec::new();
        let _ = https.read_to_end(&mut page);
        let page = String::from_utf8_lossy(&page);
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("espws console"));
    });
}

#[test]
fn garbage_instead_of_a_client_hello_is_dropped_at_once() {
    on_each_runtime(|| {
        with_wss_bystander(&[], |sim, _| {
            // A handshake record's first byte, then nonsense.
            let mut client = RawClient::tcp(sim.addr);
            client.send_raw(b"\x16\x03\x01\x00\x20this is not a ClientHello at all!!");
            let took = time_to_end(&mut client, Duration::from_secs(1));
            eprintln!("[{}] garbage after 0x16: dropped after {took:?}", runtime());
            let logged = Instant::now() + Duration::from_secs(2);
            while !sim.log_text().contains("dropped before TLS: TLS handshake failed") {
                assert!(Instant::now() < logged, "no log line for the garbage:\n{}", sim.log_text());
                std::thread::sleep(Duration::from_millis(20));
            }
            // Bytes that are not TLS at all get the plain-HTTP answer and the end.
            let mut client = RawClient::tcp(sim.addr);
            client.send_raw(&[0u8, 0xFF, 0x13, 0x37, 0x42]);
            let started = Instant::now();
            let answer = client.read_to_end();
            assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
            eprintln!("[{}] non-TLS bytes: 400 and closed after {:?}", runtime(), started.elapsed());
        });
    });
}

#[test]
fn a_plain_http_request_gets_400_naming_the_https_url() {
    on_each_runtime(|| {
        with_wss_bystander(&[], |sim, _| {
            for request in ["GET / HTTP/1.1\r\nHost: device\r\n\r\n".to_string(), UPGRADE.to_string()] {
                let mut client = RawClient::tcp(sim.addr);
                client.send_raw(request.as_bytes());
                let started = Instant::now();
                let answer = client.read_to_end();
                assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer}");
                let url = format!("https://{}/", sim.addr);
                assert!(answer.contains(&url), "the answer names {url}: {answer}");
                assert!(started.elapsed() < Duration::from_secs(1));
            }
        });
    });
}

#[test]
fn a_handshake_that_stops_halfway_is_dropped_at_the_handshake_timeout() {
    let limit = Duration::from_secs_f64(HANDSHAKE_TIMEOUT.parse::<f64>().unwrap() + 1.0);
    on_each_runtime(|| {
        with_wss_bystander(&[], |sim, config| {
            let hello = client_hello(config);
            let started = Instant::now();
            // Half a ClientHello, then silence.
            let mut half = RawClient::tcp(sim.addr);
            half.send_raw(&hello[..hello.len() / 2]);
            // A whole ClientHello, the server's answer read, then no client Finished.
            let mut stalled = RawClient::tcp(sim.addr);
            stalled.send_raw(&hello);
            let mut answer = [0u8; 1];
            stalled.stream.read_exact(&mut answer).unwrap();
            assert_eq!(answer[0], 0x16, "the server answers with a handshake record");
            for (what, client) in [("half a ClientHello", &mut half), ("no client Finished", &mut stalled)] {
                assert!(client.ended_within(limit.saturating_sub(started.elapsed())), "{what}: kept open");
                let took = started.elapsed();
                assert!(took >= Duration::from_millis(1900), "{what}: dropped before the timeout ({took:?})");
                eprintln!("[{}] {what}: dropped {took:?} after connecting", runtime());
            }
        });
    });
}

#[test]
fn three_hundred_unfinished_tls_handshakes_are_all_dropped() {
    on_each_runtime(|| {
        with_wss_bystander(&["--max-clients", "400"], |sim, config| {
            let hello = client_hello(config);
            let started = Instant::now();
            let mut stalled: Vec<RawClient> = (0..300)
                .map(|i| {
                    let mut client = RawClient::tcp(sim.addr);
                    // A third send nothing, a third half a ClientHello, a third all of it.
                    match i % 3 {
                        0 => {}
                        1 => client.send_raw(&hello[..hello.len() / 2]),
                        _ => client.send_raw(&hello),
                    }
                    client
                })
                .collect();
            let opened = started.elapsed();
            let limit = Duration::from_secs_f64(HANDSHAKE_TIMEOUT.parse::<f64>().unwrap() + 3.0);
            let mut slowest = Duration::ZERO;
            for client in &mut stalled {
                assert!(client.ended_within(limit.saturating_sub(started.elapsed())), "a handshake lingered");
                slowest = started.elapsed();
            }
            eprintln!(
                "[{}] 300 unfinished TLS handshakes opened in {opened:?}, all dropped {slowest:?} after the first",
                runtime()
            );
            // Service goes on for newcomers.
            Wss::connect(sim.addr, config).assert_echo(b"service goes on");
        });
    });
}

#[test]
fn broadcast_and_status_ticks_reach_every_wss_client() {
    // On threads the hub writes from a second thread through the shared TLS session.
    on_each_runtime(|| {
        let (sim, config) = tls_sim(&["--app", "broadcast", "--tick-ms", "50"]);
        let mut clients: Vec<Wss> = (0..3).map(|_| Wss::connect(sim.addr, &config)).collect();
        for round in 0..20 {
            let message = format!("broadcast {round} ").repeat(round * 50).into_bytes();
            clients[round % 3].send(&message);
            for client in &mut clients {
                // Status ticks are text; the broadcast is the next binary message.
                assert!(client.receive() == message, "round {round}: a client missed the broadcast");
            }
        }
    });
}

#[test]
fn a_client_that_reads_late_gets_every_echo() {
    // The echoes fill the socket while the client is not reading, so records wait in the TLS
    // session's buffer; they must all arrive, in order, once it reads.
    on_each_runtime(|| {
        let (sim, config) = tls_sim(&[]);
        let mut wss = Wss::connect(sim.addr, &config);
        let messages: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 1000 + usize::from(i) * 997]).collect();
        for message in &messages {
            wss.send(message);
        }
        std::thread::sleep(Duration::from_millis(300));
        for message in &messages {
            assert!(&wss.receive() == message, "an echo was lost or reordered");
        }
        // And small ones after it, each answered at once.
        for i in 0..100u8 {
            wss.assert_echo(&[i; 20]);
        }
    });
}

#[test]
fn a_text_split_inside_a_code_point_across_records_is_echoed_whole() {
    let first: &[u8] = b"fragment one: price 5 \xe2\x82";
    let second: &[u8] = b"\xac, fragment two";
    on_each_runtime(|| {
        let (sim, config) = tls_sim(&[]);
        for pause in [0u64, 50] {
            let mut wss = Wss::connect(sim.addr, &config);
            wss.tls.write_all(&masked_frame(0x01, first)).unwrap();
            std::thread::sleep(Duration::from_millis(pause));
            wss.tls.write_all(&masked_frame(0x80, second)).unwrap();
            let (opcode, echoed) = wss.receive_message();
            assert_eq!(opcode, 1);
            assert_eq!(echoed, [first, second].concat(), "pause {pause} ms");
        }
    });
}

#[test]
fn the_certificate_file_made_at_start_up_is_removed_at_exit() {
    on_each_runtime(|| {
        if support::device().is_some() {
            return; // no process here to stop: the file's lifetime is the simulator's
        }
        let (mut sim, config) = tls_sim(&[]);
        let pem = certificate_file(&sim);
        assert!(pem.exists(), "{} is not there while serving", pem.display());
        Wss::connect(sim.addr, &config).assert_echo(b"before the stop");
        let status =
            sim.terminate(Duration::from_secs(10)).expect("the simulator exits within 10 s of SIGTERM");
        assert!(status.success(), "the simulator exited with {status} after SIGTERM");
        assert!(!pem.exists(), "{} is left after the simulator exited", pem.display());
    });
}

/// A second SIGTERM during the graceful shutdown (here held open by a client that never answers
/// the close) exits at once with 128 + 15, and still removes the certificate file, although
/// that exit runs no destructor.
#[test]
fn a_second_sigterm_exits_at_once_and_still_removes_the_certificate_file() {
    on_each_runtime(|| {
        if support::device().is_some() {
            return; // no process here to stop: the file's lifetime is the simulator's
        }
        let (mut sim, config) = tls_sim(&["--shutdown-timeout", "60"]);
        let pem = certificate_file(&sim);
        let mut silent = Wss::connect(sim.addr, &config);
        silent.assert_echo(b"then never another read");
        let first = sim.terminate(Duration::from_millis(500));
        assert_eq!(first, None, "the simulator exited before its client answered the close");
        let status = sim
            .terminate(Duration::from_secs(5))
            .expect("the simulator exits within 5 s of a second SIGTERM");
        assert!(!pem.exists(), "{} is left after a second SIGTERM", pem.display());
        assert_eq!(
            status.code(),
            Some(128 + 15),
            "the simulator exited with {status} after a second SIGTERM"
        );
    });
}

/// A second simulator started on a port in use fails, and leaves the first one's certificate
/// file as it was: clients of the first still find the certificate they must trust.
#[test]
fn a_simulator_refused_a_busy_port_leaves_the_certificate_file_of_the_one_serving_there() {
    on_each_runtime(|| {
        if support::device().is_some() {
            return; // the device's port is not the simulator's to contest
        }
        let (sim, config) = tls_sim(&[]);
        let pem = certificate_file(&sim);
        let before = std::fs::read(&pem).expect("the certificate file is there while serving");
        let second = std::process::Command::new(env!("CARGO_BIN_EXE_espws-sim"))
            .args(["--port", &sim.addr.port().to_string(), "--runtime", runtime(), "--tls-self-signed"])
            .output()
            .expect("a second espws-sim starts");
        let said = String::from_utf8_lossy(&second.stderr);
        assert!(!second.status.success(), "a second simulator served the busy port: {said}");
        assert!(said.contains("Address already in use"), "{said}");
        let after = std::fs::read(&pem).ok();
        assert!(
            after.as_deref() == Some(&before[..]),
            "{} was {} by the simulator refused the port",
            pem.display(),
            if after.is_some() { "overwritten" } else { "removed" }
        );
        Wss::connect(sim.addr, &config).assert_echo(b"after the second start");
    });
}
