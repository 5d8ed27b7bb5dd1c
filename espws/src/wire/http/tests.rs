//! HTTP head tests: requests, responses and the upgrade, by RFC rule.

use super::*;

const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

fn with_request<R>(input: &[u8], f: impl FnOnce(Result<Request<'_, '_>, RequestError>) -> R) -> R {
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    match Request::parse(input, &mut headers) {
        Ok(Status::Complete(req, _)) => f(Ok(req)),
        Ok(Status::Partial) => panic!("request is partial"),
        Err(e) => f(Err(e)),
    }
}

fn validate(input: &[u8]) -> Result<[u8; 28], UpgradeError> {
    with_request(input, |req| Upgrade::validate(&req.unwrap()).map(|u| u.accept_key()))
}

fn replace(from: &str, to: &str) -> std::vec::Vec<u8> {
    std::string::String::from_utf8(RFC_REQUEST.to_vec()).unwrap().replace(from, to).into_bytes()
}

#[test]
fn rfc_1_3_accept_key_example() {
    assert_eq!(&accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(&validate(RFC_REQUEST).unwrap(), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn rfc_4_2_1_tokens_are_case_insensitive_and_may_be_in_lists() {
    let req = std::string::String::from_utf8(replace("Upgrade: websocket", "UPGRADE: foo, WebSocket"))
        .unwrap()
        .replace("Connection: Upgrade", "connection: keep-alive, upgrade");
    assert!(validate(req.as_bytes()).is_ok());
}

#[test]
fn rfc_4_2_1_method_must_be_get() {
    assert_eq!(validate(&replace("GET /chat", "POST /chat")), Err(UpgradeError::MethodNotGet));
}

#[test]
fn rfc_4_2_1_version_must_be_http_1_1() {
    assert_eq!(validate(&replace("HTTP/1.1", "HTTP/1.0")), Err(UpgradeError::NotHttp11));
}

#[test]
fn rfc_4_2_1_connection_must_list_upgrade() {
    let input = replace("Connection: Upgrade", "Connection: keep-alive");
    assert_eq!(validate(&input), Err(UpgradeError::NoConnectionUpgrade));
}

#[test]
fn rfc_4_2_1_upgrade_must_list_websocket() {
    let input = replace("Upgrade: websocket", "Upgrade: h2c");
    assert_eq!(validate(&input), Err(UpgradeError::NoUpgradeToken));
}

#[test]
fn rfc_4_4_other_versions_get_426() {
    let input = replace("Version: 13", "Version: 8");
    assert_eq!(validate(&input), Err(UpgradeError::UnsupportedVersion));
    assert_eq!(UpgradeError::UnsupportedVersion.status().0, 426);
}

#[test]
fn rfc_4_2_1_key_must_be_present_and_decode_to_16_bytes() {
    let missing = replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    assert_eq!(validate(&missing), Err(UpgradeError::MissingKey));
    for bad in ["dGhlIHNhbXBsZQ==", "not base64 at all!!!!!!!", "dGhlIHNhbXBsZSBub25jZQ==AAAA"] {
        let input = replace("dGhlIHNhbXBsZSBub25jZQ==", bad);
        assert_eq!(validate(&input), Err(UpgradeError::InvalidKey), "key {bad}");
    }
}

#[test]
fn garbage_is_malformed() {
    with_request(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", |r| {
        assert_eq!(r.unwrap_err(), RequestError::Malformed)
    });
}

#[test]
fn too_many_headers_answer_431() {
    let mut input = std::vec::Vec::from(&b"GET / HTTP/1.1\r\n"[..]);
    for i in 0..=MAX_HEADERS {
        input.extend_from_slice(std::format!("X-{i}: y\r\n").as_bytes());
    }
    input.extend_from_slice(b"\r\n");
    with_request(&input, |r| assert_eq!(r.unwrap_err().status().0, 431));
}

#[test]
fn every_prefix_of_a_request_is_partial() {
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    for cut in 0..RFC_REQUEST.len() {
        let status = Request::parse(&RFC_REQUEST[..cut], &mut headers);
        assert!(matches!(status, Ok(Status::Partial)), "cut at {cut}");
    }
}

#[test]
fn bytes_after_the_head_are_left_to_the_caller() {
    let mut input = RFC_REQUEST.to_vec();
    input.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]);
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    match Request::parse(&input, &mut headers) {
        Ok(Status::Complete(_, len)) => assert_eq!(len, RFC_REQUEST.len()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_101_response_has_no_content_length() {
    let mut out = [0u8; 256];
    let n =
        write_switching_protocols(&mut out, &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), Some("chat")).unwrap();
    let text = core::str::from_utf8(&out[..n]).unwrap();
    assert_eq!(
        text,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
    assert!(!text.to_ascii_lowercase().contains("content-length"));
}

#[test]
fn the_426_response_names_version_13() {
    let mut out = [0u8; 512];
    let n = write_error(&mut out, StatusCode::UPGRADE_REQUIRED, "only 13").unwrap();
    let text = core::str::from_utf8(&out[..n]).unwrap();
    assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
    assert!(text.ends_with("\r\n\r\nonly 13\n"));
}

#[test]
fn a_response_that_does_not_fit_is_an_error_not_a_panic() {
    let mut out = [0u8; 20];
    assert_eq!(write_error(&mut out, StatusCode::BAD_REQUEST, "x"), Err(BufferTooSmall));
}

#[test]
fn query_parameters_and_path() {
    with_request(b"GET /ws?a=1&token=s3cr%20t HTTP/1.1\r\n\r\n", |r| {
        let req = r.unwrap();
        assert_eq!(req.path(), "/ws");
        assert_eq!(req.query_param("token"), Some("s3cr%20t"));
        assert_eq!(req.query_param("b"), None);
    });
}
