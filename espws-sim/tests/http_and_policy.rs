//! Plain HTTP beside the WebSocket on one port, and the upgrade policy: origin, token and
//! subprotocols, each rule a test against the real simulator.

mod support;

use support::{http, on_each_runtime, RawClient, Sim, UPGRADE};

fn upgrade_with(extra_headers: &str) -> String {
    UPGRADE.replace("\r\n\r\n", &format!("\r\n{extra_headers}\r\n\r\n"))
}

fn status_of(sim: &Sim, request: &str) -> (u16, String) {
    let mut client = RawClient::tcp(sim.addr);
    client.send_raw(request.as_bytes());
    let head = client.read_head();
    (head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), head)
}

#[test]
fn get_slash_returns_the_console_with_200() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        let (status, response) = http(sim.addr, b"GET / HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
        assert_eq!(status, 200);
        assert!(response.contains("Content-Type: text/html"));
        assert!(response.contains("<title>espws console</title>"));
    });
}

#[test]
fn the_console_is_served_gzipped_to_clients_that_accept_it() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        let (status, response) = http(
            sim.addr,
            b"GET / HTTP/1.1\r\nHost: d\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status, 200);
        assert!(response.contains("\r\nContent-Encoding: gzip\r\n"), "{response}");
    });
}

#[test]
fn head_slash_sends_the_head_only() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        let (status, response) = http(sim.addr, b"HEAD / HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
        assert_eq!(status, 200);
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("Content-Length: "));
        assert_eq!(body, "");
    });
}

#[test]
fn unknown_paths_get_404_and_other_methods_405() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        assert_eq!(http(sim.addr, b"GET /missing HTTP/1.1\r\nConnection: close\r\n\r\n").0, 404);
        assert_eq!(
            http(sim.addr, b"POST / HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").0,
            405
        );
    });
}

#[test]
fn get_on_the_websocket_path_without_upgrade_gets_426() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        let (status, response) = http(sim.addr, b"GET /ws HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert_eq!(status, 426);
        assert!(response.contains("Sec-WebSocket-Version: 13"));
    });
}

#[test]
fn keep_alive_serves_several_requests_then_an_upgrade_on_one_connection() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        let mut client = RawClient::tcp(sim.addr);
        client.send_raw(b"GET /missing HTTP/1.1\r\nHost: d\r\n\r\n");
        let first = client.read_head();
        assert!(first.starts_with("HTTP/1.1 404") && first.contains("Connection: keep-alive"), "{first}");
        let length: usize =
            first.split("Content-Length: ").nth(1).unwrap().split("\r\n").next().unwrap().parse().unwrap();
        let mut body = vec![0u8; length];
        std::io::Read::read_exact(&mut client.stream, &mut body).unwrap();
        client.send_raw(UPGRADE.as_bytes());
        assert!(client.read_head().starts_with("HTTP/1.1 101"));
        client.assert_echo(b"upgraded after keep-alive");
    });
}

#[test]
fn connection_close_is_honoured() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        let (status, response) = http(sim.addr, b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(status, 200);
        assert!(response.contains("Connection: close"), "HTTP/1.0 without keep-alive closes");
    });
}

#[test]
fn a_foreign_origin_gets_403() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        let (status, _) = status_of(&sim, &upgrade_with("Origin: https://evil.example"));
        assert_eq!(status, 403);
    });
}

#[test]
fn the_devices_own_origin_and_listed_origins_are_allowed() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--allow-origin", "https://dash.example"]);
        let own = format!("Origin: http://{}", sim.addr);
        let request = upgrade_with(&own).replace("Host: test", &format!("Host: {}", sim.addr));
        assert_eq!(status_of(&sim, &request).0, 101);
        assert_eq!(status_of(&sim, &upgrade_with("Origin: https://dash.example")).0, 101);
        assert_eq!(status_of(&sim, &upgrade_with("Origin: https://other.example")).0, 403);
    });
}

#[test]
fn a_missing_token_gets_401() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--token", "s3cret-value"]);
        assert_eq!(status_of(&sim, UPGRADE).0, 401);
    });
}

#[test]
fn a_wrong_token_gets_401_and_the_log_never_shows_the_secret() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--token", "s3cret-value"]);
        assert_eq!(status_of(&sim, &upgrade_with("Authorization: Bearer wrong")).0, 401);
        assert_eq!(status_of(&sim, &UPGRADE.replace("GET /ws ", "GET /ws?token=s3cret-valuX ")).0, 401);
        assert_eq!(status_of(&sim, &upgrade_with("Authorization: Bearer s3cret-value")).0, 101);
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!sim.log_text().contains("s3cret"), "the secret leaked into the log:\n{}", sim.log_text());
    });
}

#[test]
fn the_right_token_gets_101_as_bearer_or_query() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--token", "s3cret value"]);
        assert_eq!(status_of(&sim, &upgrade_with("Authorization: Bearer s3cret value")).0, 101);
        assert_eq!(status_of(&sim, &UPGRADE.replace("GET /ws ", "GET /ws?token=s3cret%20value ")).0, 101);
    });
}

#[test]
fn subprotocol_the_first_offered_that_the_server_speaks_is_chosen() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--protocol", "v2.espws", "--protocol", "chat"]);
        let (status, head) = status_of(&sim, &upgrade_with("Sec-WebSocket-Protocol: mqtt, chat, v2.espws"));
        assert_eq!(status, 101);
        assert!(head.contains("\r\nSec-WebSocket-Protocol: chat\r\n"), "{head}");
    });
}

#[test]
fn subprotocol_none_matching_means_no_protocol_header() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--protocol", "chat"]);
        let (status, head) = status_of(&sim, &upgrade_with("Sec-WebSocket-Protocol: mqtt, stomp"));
        assert_eq!(status, 101);
        assert!(!head.to_ascii_lowercase().contains("sec-websocket-protocol"), "{head}");
    });
}

#[test]
fn subprotocol_the_client_list_is_never_echoed() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--protocol", "chat"]);
        let (_, head) = status_of(&sim, &upgrade_with("Sec-WebSocket-Protocol: chat, superchat"));
        assert!(head.contains("\r\nSec-WebSocket-Protocol: chat\r\n"));
        assert!(!head.contains("superchat"));
    });
}

#[test]
fn subprotocol_none_configured_means_none_chosen() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        let (_, head) = status_of(&sim, &upgrade_with("Sec-WebSocket-Protocol: chat"));
        assert!(!head.to_ascii_lowercase().contains("sec-websocket-protocol"));
    });
}
