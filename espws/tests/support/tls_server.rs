//! A throwaway PKI and a one-connection rustls wss server, shared by the TLS tests.
#![allow(dead_code)] // each test uses a part of it

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA, and a leaf for `name` valid over the given years, signed by it.
pub struct Pki {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub leaf: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

pub fn pki(name: &str, years: (i32, i32), self_signed: bool) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(years.0, 1, 1);
    params.not_after = rcgen::date_time_ymd(years.1, 1, 1);
    let leaf =
        if self_signed { params.self_signed(&key).unwrap() } else { params.signed_by(&key, &ca).unwrap() };
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().to_vec(),
        leaf: leaf.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// A one-connection wss server with `pki`'s leaf that upgrades and echoes one message.
pub fn server(pki: &Pki) -> (String, thread::JoinHandle<()>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf.clone()], pki.key.clone_key())
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match tls.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return, // the client refused the certificate
            }
        }
        let head = String::from_utf8(head).unwrap();
        let key = head.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap();
        let accept = espws::wire::http::accept_key(key.as_bytes());
        write!(
            tls,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            std::str::from_utf8(&accept).unwrap()
        )
        .unwrap();
        let mut frame = [0u8; 11];
        tls.read_exact(&mut frame).unwrap();
        assert_eq!(frame[..2], [0x81, 0x85]);
        let mut payload = frame[6..].to_vec();
        espws::wire::mask::apply_mask_bytewise(&mut payload, frame[2..6].try_into().unwrap(), 0);
        tls.write_all(&[0x81, 0x05]).unwrap();
        tls.write_all(&payload).unwrap();
        tls.write_all(&[0x88, 0x02, 0x03, 0xE8]).unwrap();
        tls.flush().unwrap();
        let _ = tls.read(&mut [0u8; 64]);
    });
    (format!("wss://localhost:{port}/ws"), handle)
}
