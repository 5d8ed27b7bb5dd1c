//! A WebSocket client over rustls for the TLS servers' tests, and the throwaway certificate
//! for `localhost` it trusts.
#![allow(dead_code)] // each test uses a part of it

use std::ffi::{CStr, CString};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use espws::wire::frame::{masked_client_frame, read_server_frame};
use espws::wire::http::upgrade_for_test;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A self-signed ECDSA P-256 certificate for `localhost`: its PEM and its key's PEM (with
/// their final NUL, as mbedTLS takes them), and a client configuration that trusts it.
pub struct Pki {
    pub cert_pem: &'static CStr,
    pub key_pem: &'static CStr,
    pub client: Arc<ClientConfig>,
}

pub fn pki() -> Pki {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(made.cert.der().to_vec())).unwrap();
    let client = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let pem = |text: String| -> &'static CStr { Box::leak(CString::new(text).unwrap().into_boxed_c_str()) };
    Pki {
        cert_pem: pem(made.cert.pem()),
        key_pem: pem(made.signing_key.serialize_pem()),
        client: Arc::new(client),
    }
}

/// The bytes a TLS client sends first: its ClientHello record.
pub fn client_hello(client: &Arc<ClientConfig>) -> Vec<u8> {
    let mut hello = Vec::new();
    let name = ServerName::try_from("localhost").unwrap();
    ClientConnection::new(client.clone(), name).unwrap().write_tls(&mut hello).unwrap();
    hello
}

/// Sends a plain HTTP request to the TLS port at `addr` and checks the `400` that names the
/// https URL; gives the client's port.
pub fn expect_plain_http_400(addr: SocketAddr) -> u16 {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer}");
    assert!(answer.contains(&format!("https://{addr}/")), "{answer}");
    tcp.local_addr().unwrap().port()
}

/// A WebSocket client over TLS, upgraded.
pub struct Wss {
    pub tls: StreamOwned<ClientConnection, TcpStream>,
}

impl Wss {
    /// Connects to `addr` as `localhost` and upgrades to a WebSocket.
    pub fn connect(addr: SocketAddr, client: &Arc<ClientConfig>) -> Wss {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(client.clone(), name).unwrap();
        let mut wss = Wss { tls: StreamOwned::new(conn, tcp) };
        let head = upgrade_for_test(&mut wss.tls).expect("an upgrade answer");
        assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
        wss
    }

    /// The client's port, which names its connection on the server.
    pub fn port(&self) -> u16 {
        self.tls.get_ref().local_addr().unwrap().port()
    }

    /// The next frame: its first byte and payload.
    pub fn frame(&mut self) -> (u8, Vec<u8>) {
        read_server_frame(&mut self.tls).expect("a frame")
    }

    /// Sends one frame, masked.
    pub fn send(&mut self, first_byte: u8, payload: &[u8]) {
        self.tls.write_all(&masked_client_frame(first_byte, payload, [1, 2, 3, 4])).unwrap();
    }

    /// The next data message, reassembled; pings on the way are answered and counted.
    pub fn message(&mut self, pings: &mut usize) -> Vec<u8> {
        let mut message = Vec::new();
        loop {
            match self.frame() {
                (0x89, payload) => {
                    *pings += 1;
                    self.send(0x8A, &payload);
                }
                (head, part) => {
                    message.extend_from_slice(&part);
                    if head & 0x80 != 0 {
                        return message;
                    }
                }
            }
        }
    }

    /// Sends a message and reads its echo.
    pub fn echo(&mut self, first_byte: u8, payload: &[u8]) -> Vec<u8> {
        self.send(first_byte, payload);
        self.message(&mut 0)
    }

    /// Closes with 1000 and expects the server's 1000, then the end of the stream.
    pub fn close(mut self) {
        self.send(0x88, &1000u16.to_be_bytes());
        assert_eq!(self.frame(), (0x88, 1000u16.to_be_bytes().to_vec()));
        let mut rest = Vec::new();
        let _ = self.tls.read_to_end(&mut rest);
        assert!(rest.is_empty(), "nothing after the close frame: {rest:?}");
    }
}
