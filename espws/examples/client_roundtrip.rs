//! Round trips through an echo server with the blocking client: how fast the client side is,
//! masking included.
//!
//! ```text
//! client_roundtrip URL [SIZE] [COUNT]      e.g. client_roundtrip ws://127.0.0.1:9998/ws 64 20000
//! ```

use std::process::ExitCode;
use std::time::Instant;

use espws::client::{self, ClientConfig, Connected};
use espws::proto::client_handshake::ClientRequest;
use espws::wire::url::Url;
use espws::{Config, Event};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first() else {
        eprintln!("usage: client_roundtrip URL [SIZE] [COUNT]");
        return ExitCode::from(2);
    };
    let size: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let count: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let url = match Url::parse(url) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("client_roundtrip: {e}");
            return ExitCode::from(2);
        }
    };
    let mut config = ClientConfig::new(ClientRequest::new(url));
    config.connection = Config { max_message: 64 << 20, ping_interval: None, ..Config::default() };
    let rx = (size + 4096).max(64 * 1024);
    let Connected { mut ws, .. } = match client::std::connect_tcp(&config, rx) {
        Ok(connected) => connected,
        Err(e) => {
            eprintln!("client_roundtrip: {e}");
            return ExitCode::FAILURE;
        }
    };
    let payload = vec![0x5a; size];
    let started = Instant::now();
    for _ in 0..count {
        if ws.sender().send_binary(&payload).is_err() {
            eprintln!("client_roundtrip: send failed");
            return ExitCode::FAILURE;
        }
        loop {
            match ws.next_event() {
                Ok(Some((Event::Data(d), _))) if d.last => break,
                Ok(Some((Event::Closed { reason, .. }, _))) => {
                    eprintln!("client_roundtrip: closed: {reason}");
                    return ExitCode::FAILURE;
                }
                Ok(Some(_)) => {}
                _ => return ExitCode::FAILURE,
            }
        }
    }
    let elapsed = started.elapsed();
    ws.finish();
    ws.linger();
    let per = elapsed.as_secs_f64() / f64::from(count);
    println!(
        "{count} round trips of {size} bytes in {:.3} s: {:.1} us each, {:.1} MB/s each way",
        elapsed.as_secs_f64(),
        per * 1e6,
        size as f64 / per / 1e6
    );
    ExitCode::SUCCESS
}
