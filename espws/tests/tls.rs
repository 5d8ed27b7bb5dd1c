//! wss:// over loopback against a rustls server with throwaway certificates: a valid chain is
//! accepted, and a wrong name, an expired certificate or an unknown issuer are refused by name.
#![cfg(feature = "tls-rustls")]

use espws::client::tls::{certificate_error, connect_tls, TlsConfig};
use espws::client::{ClientConfig, Connected};
use espws::proto::client_handshake::ClientRequest;
use espws::wire::url::Url;
use espws::Event;
use rustls::CertificateError;

#[path = "support/tls_server.rs"]
mod support;
use support::{pki, server};

fn dial(
    url: &str,
    tls: &TlsConfig,
) -> Result<Connected<'static, espws::client::tls::TlsWebSocket>, rustls::CertificateError> {
    let url: &'static str = Box::leak(url.to_string().into_boxed_str());
    let config = ClientConfig::new(ClientRequest::new(Url::parse(url).unwrap()));
    connect_tls(&config, 4096, tls)
        .map_err(|e| certificate_error(&e).unwrap_or_else(|| panic!("not a certificate error: {e}")))
}

#[test]
fn a_certificate_from_the_given_ca_is_accepted() {
    let pki = pki("localhost", (2020, 2099), false);
    let (url, server) = server(&pki);
    let Connected { mut ws, .. } = dial(&url, &TlsConfig::ca_pem(pki.ca_pem.as_bytes()).unwrap()).unwrap();
    ws.sender().send_text("hello").unwrap();
    let (event, _) = ws.next_event().unwrap().unwrap();
    assert!(matches!(event, Event::Data(d) if d.payload == b"hello"));
    ws.finish();
    ws.linger();
    server.join().unwrap();
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let pki = pki("device.example", (2020, 2099), false);
    let (url, server) = server(&pki);
    let err = dial(&url, &TlsConfig::ca_pem(pki.ca_pem.as_bytes()).unwrap()).err().unwrap();
    assert!(
        matches!(err, CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }),
        "{err:?}"
    );
    server.join().unwrap();
}

#[test]
fn an_expired_certificate_is_refused() {
    let pki = pki("localhost", (2001, 2002), false);
    let (url, server) = server(&pki);
    let err = dial(&url, &TlsConfig::ca_pem(pki.ca_pem.as_bytes()).unwrap()).err().unwrap();
    assert!(matches!(err, CertificateError::Expired | CertificateError::ExpiredContext { .. }), "{err:?}");
    server.join().unwrap();
}

#[test]
fn a_self_signed_certificate_is_refused_by_default() {
    let pki = pki("localhost", (2020, 2099), true);
    let (url, server) = server(&pki);
    let err = dial(&url, &TlsConfig::webpki_roots()).err().unwrap();
    assert_eq!(err, CertificateError::UnknownIssuer);
    server.join().unwrap();
}

#[test]
fn the_loudly_named_option_accepts_a_self_signed_certificate() {
    let pki = pki("localhost", (2020, 2099), true);
    let (url, server) = server(&pki);
    let Connected { mut ws, .. } = dial(&url, &TlsConfig::danger_accept_any_certificate()).unwrap();
    ws.sender().send_text("hello").unwrap();
    assert!(matches!(ws.next_event().unwrap().unwrap().0, Event::Data(_)));
    ws.finish();
    server.join().unwrap();
}
