//! Every refusal says what to do, in the log (with the client's address) and in the body.
//! One test per row of the README's troubleshooting table.

mod support;

use std::time::{Duration, Instant};

use support::{http, on_each_runtime, RawClient, Sim, UPGRADE};

fn upgrade_with(extra_headers: &str) -> String {
    UPGRADE.replace("\r\n\r\n", &format!("\r\n{extra_headers}\r\n\r\n"))
}

/// Waits up to 5 s for a log line that contains every one of `parts`, and returns it.
fn log_line(sim: &Sim, parts: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = sim.log_text();
        if let Some(line) = log.lines().find(|line| parts.iter().all(|part| line.contains(part))) {
            return line.to_owned();
        }
        assert!(Instant::now() < deadline, "no log line with {parts:?} in:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `request`, and checks the status, a sentence in the body, and the logged line (which
/// names the client's address, 127.0.0.1).
fn refused(sim: &Sim, request: &str, status: u16, says: &str) {
    let (got, response) = http(sim.addr, request.as_bytes());
    assert_eq!(got, status, "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(body.contains(says), "the body says {body:?}, not {says:?}");
    log_line(sim, &["127.0.0.1:", &status.to_string(), says]);
}

#[test]
fn http_400_a_request_that_is_not_http_says_so() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        refused(&sim, "HELLO\r\n\r\n", 400, "not a valid HTTP/1.1 request");
    });
}

#[test]
fn http_401_a_missing_token_says_how_to_send_one_and_a_wrong_one_says_it_is_wrong() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--token", "s3cret-value"]);
        refused(&sim, UPGRADE, 401, "send Authorization: Bearer <token>");
        refused(
            &sim,
            &upgrade_with("Authorization: Bearer nope"),
            401,
            "the token sent is not this server's",
        );
        assert!(!sim.log_text().contains("s3cret"), "the secret is never logged");
    });
}

#[test]
fn http_403_names_the_origin_and_the_flag_that_allows_it() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        refused(
            &sim,
            &upgrade_with("Origin: https://evil.example"),
            403,
            "origin https://evil.example may not open a WebSocket here; allow it with --allow-origin https://evil.example",
        );
        refused(&sim, &upgrade_with("Origin: null"), 403, "opened from a file?");
        refused(&sim, &upgrade_with("Origin: null"), 403, "--allow-origin null");
    });
}

#[test]
fn http_404_405_and_426_are_logged_with_the_address() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        let (status, _) =
            http(sim.addr, b"GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(status, 404);
        log_line(&sim, &["127.0.0.1:", "GET /nothing-here -> 404"]);
        let (status, _) = http(sim.addr, b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(status, 405);
        log_line(&sim, &["127.0.0.1:", "DELETE / -> 405"]);
        let (status, _) = http(sim.addr, b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(status, 426);
        log_line(&sim, &["127.0.0.1:", "GET /ws -> 426"]);
    });
}

#[test]
fn http_431_a_head_larger_than_the_buffer_says_so() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--rx-buffer", "1024"]);
        let request = upgrade_with(&format!("X-Filler: {}", "a".repeat(2000)));
        refused(&sim, &request, 431, "larger than this server accepts");
    });
}

#[test]
fn http_431_a_head_over_the_request_head_bound_though_the_buffer_would_hold_it() {
    on_each_runtime(|| {
        // The default receive buffer (64 KiB, 256 KiB on tokio) would hold this head; the
        // 16 KiB bound refuses it.
        let sim = Sim::start(&[]);
        let request = upgrade_with(&format!("X-Filler: {}", "a".repeat(20 * 1024)));
        refused(&sim, &request, 431, "larger than this server accepts");
    });
}

#[test]
fn a_raised_request_head_bound_upgrades_a_head_the_default_refuses() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--max-request-head", "32768"]);
        let mut client = RawClient::tcp(sim.addr);
        client.send_raw(upgrade_with(&format!("X-Filler: {}", "a".repeat(20 * 1024))).as_bytes());
        let head = client.read_head();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        client.assert_echo(b"after a 20 KiB head");
    });
}

#[test]
fn http_503_a_full_server_says_to_try_again_later() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--max-clients", "1"]);
        let mut first = RawClient::connect(sim.addr);
        first.assert_echo(b"holding the only slot");
        let (status, response) = http(sim.addr, UPGRADE.as_bytes());
        assert_eq!(status, 503, "{response}");
        assert!(response.contains("all client slots are taken; try again later"), "{response}");
        log_line(&sim, &["all 1 client slots taken; answering 503 to client", "127.0.0.1:"]);
    });
}

#[test]
fn close_codes_are_logged_with_the_address_and_what_happened() {
    on_each_runtime(|| {
        let sim = Sim::start(&[]);
        let mut client = RawClient::connect(sim.addr);
        client.send_frame(0x81, &[0xff, 0xfe]);
        client.expect_close(1007);
        log_line(&sim, &["127.0.0.1:", "disconnected: 1007, text is not valid UTF-8"]);
    });
}
