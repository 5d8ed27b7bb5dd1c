//! wss:// through embedded-tls (the no_std client's TLS) on the host, against a rustls server
//! with throwaway certificates: the chain and name are checked, the WebSocket runs over it.
#![cfg(all(feature = "tls-embedded", feature = "tokio"))]

use embedded_io_adapters::tokio_1::FromTokio;
use espws::client::embedded_tls::{open, NoClock, TlsError, Verifying, MAX_RECORD};
use espws::client::{connect_async, ClientConfig, Connected};
use espws::nonblocking::TokioTimer;
use espws::proto::client_handshake::ClientRequest;
use espws::wire::url::Url;
use espws::{Event, RecvBuf};

#[path = "support/tls_server.rs"]
mod support;
use support::{pki, server};

fn keys() -> [u8; 4] {
    espws::client::std::os_keys()
}

async fn dial(url: &'static str, ca_der: &'static [u8]) -> Result<(), TlsError> {
    let url = Url::parse(url).unwrap();
    let tcp = tokio::net::TcpStream::connect((url.host, url.port)).await.unwrap();
    let read = Box::leak(vec![0u8; MAX_RECORD].into_boxed_slice());
    let write = Box::leak(vec![0u8; 4096].into_boxed_slice());
    let provider = Verifying::<_, NoClock, 2048>::new(rand_core::OsRng, ca_der);
    let tls = open(FromTokio::new(tcp), url.host, read, write, provider).await?;
    let config = ClientConfig::new(ClientRequest::new(url));
    let rx = RecvBuf::new(vec![0u8; 4096]);
    let Connected { mut ws, .. } = connect_async(tls, rx, TokioTimer::new(), &config, keys).await.unwrap();
    ws.sender().send_text("hello").await.unwrap();
    let (event, _) = ws.next_event().await.unwrap().unwrap();
    assert!(matches!(event, Event::Data(d) if d.payload == b"hello"));
    ws.finish().await;
    Ok(())
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[tokio::test]
async fn a_certificate_from_the_carried_ca_is_accepted() {
    let pki = pki("localhost", (2020, 2099), false);
    let (url, server) = server(&pki);
    dial(leak(url), Box::leak(pki.ca_der.clone().into_boxed_slice())).await.unwrap();
    tokio::task::spawn_blocking(move || server.join().unwrap()).await.unwrap();
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let pki = pki("device.example", (2020, 2099), false);
    let (url, server) = server(&pki);
    let err = dial(leak(url), Box::leak(pki.ca_der.clone().into_boxed_slice())).await.err().unwrap();
    assert!(matches!(err, TlsError::InvalidCertificate), "{err:?}");
    tokio::task::spawn_blocking(move || server.join().unwrap()).await.unwrap();
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let pki = pki("localhost", (2020, 2099), false);
    let other = pki_other();
    let (url, server) = server(&pki);
    let err = dial(leak(url), Box::leak(other.into_boxed_slice())).await.err().unwrap();
    assert!(matches!(err, TlsError::InvalidCertificate | TlsError::InvalidSignature), "{err:?}");
    tokio::task::spawn_blocking(move || server.join().unwrap()).await.unwrap();
}

fn pki_other() -> Vec<u8> {
    pki("localhost", (2020, 2099), false).ca_der
}
