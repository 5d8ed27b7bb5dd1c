//! Runs every case of the Autobahn|Testsuite `fuzzingserver` against the espws client: each
//! case's connection echoes every message back, as the suite asks.
//!
//! ```text
//! autobahn_client [--runtime threads|tokio] [--agent NAME] [--rx-buffer BYTES]
//!                 [--delivery chunked|whole] ws://127.0.0.1:9001
//! ```
//!
//! Exits 0 once the server has updated its reports.

use std::process::ExitCode;

use espws::client::{self, ClientConfig, Connected};
use espws::proto::client_handshake::ClientRequest;
use espws::proto::Delivery;
use espws::wire::url::Url;
use espws::{Config, DataKind, Event};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The receive buffer: by default big enough for the suite's largest frames to stream through
/// in few pieces.
static RX_BUFFER: AtomicUsize = AtomicUsize::new(64 * 1024);
/// Whole-message delivery instead of chunks.
static WHOLE: AtomicBool = AtomicBool::new(false);

fn config(url: Url<'_>) -> ClientConfig<'_> {
    let mut config = ClientConfig::new(ClientRequest::new(url));
    config.connection = Config {
        // Case group 9 sends messages of up to 16 MiB.
        max_message: 64 << 20,
        delivery: if WHOLE.load(Ordering::Relaxed) { Delivery::Whole } else { Delivery::Chunked },
        // The suite judges the frames a client sends: no unsolicited pings.
        ping_interval: None,
        ..Config::default()
    };
    config
}

fn main() -> ExitCode {
    let mut runtime = String::from("threads");
    let mut agent = String::from("espws-client");
    let mut base = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runtime" => runtime = args.next().unwrap_or_default(),
            "--agent" => agent = args.next().unwrap_or_default(),
            "--rx-buffer" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => RX_BUFFER.store(n, Ordering::Relaxed),
                None => return usage(),
            },
            "--delivery" => match args.next().as_deref() {
                Some("whole") => WHOLE.store(true, Ordering::Relaxed),
                Some("chunked") => WHOLE.store(false, Ordering::Relaxed),
                _ => return usage(),
            },
            _ if base.is_none() && !arg.starts_with('-') => base = Some(arg),
            _ => return usage(),
        }
    }
    let Some(base) = base else { return usage() };
    let base = base.trim_end_matches('/').to_string();
    let result = match runtime.as_str() {
        "threads" => threads::run(&base, &agent),
        "tokio" => tokio_runtime::run(&base, &agent),
        _ => return usage(),
    };
    match result {
        Ok(count) => {
            println!("ran {count} cases as {agent} on {runtime}; reports updated");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("autobahn_client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: autobahn_client [--runtime threads|tokio] [--agent NAME] [--rx-buffer BYTES] [--delivery chunked|whole] URL"
    );
    ExitCode::from(2)
}

mod threads {
    use super::*;

    fn open(url: &str) -> Result<Connected<'_, client::std::StdWebSocket>, String> {
        let url = Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let config = config(url);
        client::std::connect_tcp(&config, RX_BUFFER.load(Ordering::Relaxed))
            .map_err(|e| format!("{}: {e}", url.resource))
    }

    pub fn run(base: &str, agent: &str) -> Result<u32, String> {
        let count = case_count(base)?;
        for case in 1..=count {
            let url = format!("{base}/runCase?case={case}&agent={agent}");
            match open(&url) {
                Ok(Connected { mut ws, .. }) => {
                    let _ = ws.run(|event, sender| {
                        if let Event::Data(data) = event {
                            // A failed send ends the connection; the case's verdict says why.
                            let _ = sender.send_part(data.kind, data.payload, data.first, data.last);
                        }
                    });
                    ws.finish();
                    ws.linger();
                }
                Err(e) => eprintln!("case {case}: {e}"),
            }
        }
        let url = format!("{base}/updateReports?agent={agent}");
        let Connected { mut ws, .. } = open(&url)?;
        ws.finish();
        ws.linger();
        Ok(count)
    }

    fn case_count(base: &str) -> Result<u32, String> {
        let url = format!("{base}/getCaseCount");
        let Connected { mut ws, .. } = open(&url)?;
        let mut count = None;
        while let Ok(Some((event, _))) = ws.next_event() {
            if let Event::Data(data) = event {
                if data.kind == DataKind::Text {
                    count = std::str::from_utf8(data.payload).ok().and_then(|t| t.trim().parse().ok());
                }
            }
        }
        ws.linger();
        count.ok_or_else(|| "getCaseCount gave no number".to_string())
    }
}

mod tokio_runtime {
    use super::*;

    async fn open(url: &str) -> Result<Connected<'_, client::tokio::TokioWebSocket>, String> {
        let url = Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let config = config(url);
        client::tokio::connect_tcp(&config, RX_BUFFER.load(Ordering::Relaxed))
            .await
            .map_err(|e| format!("{}: {e}", url.resource))
    }

    pub fn run(base: &str, agent: &str) -> Result<u32, String> {
        let rt =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(async {
            let count = case_count(base).await?;
            for case in 1..=count {
                let url = format!("{base}/runCase?case={case}&agent={agent}");
                match open(&url).await {
                    Ok(Connected { mut ws, .. }) => {
                        let _ = ws
                            .run(|event, replies| {
                                if let Event::Data(data) = event {
                                    let _ = replies.send_part(data.kind, data.payload, data.first, data.last);
                                }
                            })
                            .await;
                        ws.finish().await;
                        ws.linger().await;
                    }
                    Err(e) => eprintln!("case {case}: {e}"),
                }
            }
            let url = format!("{base}/updateReports?agent={agent}");
            let Connected { mut ws, .. } = open(&url).await?;
            ws.finish().await;
            ws.linger().await;
            Ok(count)
        })
    }

    async fn case_count(base: &str) -> Result<u32, String> {
        let url = format!("{base}/getCaseCount");
        let Connected { mut ws, .. } = open(&url).await?;
        let mut count = None;
        while let Ok(Some((event, _))) = ws.next_event().await {
            if let Event::Data(data) = event {
                if data.kind == DataKind::Text {
                    count = std::str::from_utf8(data.payload).ok().and_then(|t| t.trim().parse().ok());
                }
            }
        }
        ws.linger().await;
        count.ok_or_else(|| "getCaseCount gave no number".to_string())
    }
}
