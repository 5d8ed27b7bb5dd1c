//! Runs every case of the Autobahn|Testsuite `fuzzingserver` against the espws client: each
//! case's connection echoes every message back, as the suite asks.
//!
//! ```text
//! autobahn_client [--runtime threads|tokio|embassy-tap] [--agent NAME] [--rx-buffer BYTES]
//!                 [--delivery chunked|whole] [--deflate] [--local 192.168.69.2] ws://127.0.0.1:9001
//! ```
//!
//! `embassy-tap` runs the client as bare metal does, on embassy-net over the TAP device `tap0`
//! (inside `scripts/netns`), at the `--local` address; the server's URL must then name an
//! IPv4 address on the TAP's network.
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
/// Offer permessage-deflate (for the compression cases, 12.* and 13.*).
static DEFLATE: AtomicBool = AtomicBool::new(false);

fn config(url: Url<'_>) -> ClientConfig<'_> {
    let mut request = ClientRequest::new(url);
    request.deflate = DEFLATE.load(Ordering::Relaxed);
    let mut config = ClientConfig::new(request);
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
    let mut local = String::from("192.168.69.2");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runtime" => runtime = args.next().unwrap_or_default(),
            "--agent" => agent = args.next().unwrap_or_default(),
            "--local" => local = args.next().unwrap_or_default(),
            "--rx-buffer" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => RX_BUFFER.store(n, Ordering::Relaxed),
                None => return usage(),
            },
            "--delivery" => match args.next().as_deref() {
                Some("whole") => WHOLE.store(true, Ordering::Relaxed),
                Some("chunked") => WHOLE.store(false, Ordering::Relaxed),
                _ => return usage(),
            },
            "--deflate" => DEFLATE.store(true, Ordering::Relaxed),
            _ if base.is_none() && !arg.starts_with('-') => base = Some(arg),
            _ => return usage(),
        }
    }
    let Some(base) = base else { return usage() };
    let base = base.trim_end_matches('/').to_string();
    let result = match runtime.as_str() {
        "threads" => threads::run(&base, &agent),
        "tokio" => tokio_runtime::run(&base, &agent),
        "embassy-tap" => embassy_tap::run(base.clone(), agent.clone(), &local),
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
        "usage: autobahn_client [--runtime threads|tokio|embassy-tap] [--agent NAME] [--rx-buffer BYTES] [--delivery chunked|whole] [--local IPV4] URL"
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

mod embassy_tap {
    use super::*;
    use embassy_executor::{Executor, Spawner};
    use embassy_net::tcp::{State, TcpSocket};
    use embassy_net::{IpEndpoint, Ipv4Address, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
    use embassy_net_tuntap::TunTapDevice;
    use embassy_time::{with_timeout, Duration};
    use espws::proto::RecvBuf;

    /// Runs the suite on an embassy executor; the executor never returns, so this exits the
    /// process when the cases are done.
    pub fn run(base: String, agent: String, local: &str) -> Result<u32, String> {
        let local: Ipv4Address =
            local.parse().map_err(|_| format!("--local {local}: not an IPv4 address"))?;
        let url = Url::parse(&base).map_err(|e| format!("{base}: {e}"))?;
        let host: Ipv4Address =
            url.host.parse().map_err(|_| format!("{}: the server must be an IPv4 address", url.host))?;
        let remote = IpEndpoint::new(host.into(), url.port);
        let tap = TunTapDevice::new("tap0").map_err(|e| format!("tap0: {e} (run inside scripts/netns)"))?;
        let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
            address: Ipv4Cidr::new(local, 24),
            gateway: None,
            dns_servers: Default::default(),
        });
        let resources = Box::leak(Box::new(StackResources::<2>::new()));
        let (stack, runner) = embassy_net::new(tap, config, resources, 0x0a17_0bad);
        let base: &'static str = Box::leak(base.into_boxed_str());
        let agent: &'static str = Box::leak(agent.into_boxed_str());
        let executor = Box::leak(Box::new(Executor::new()));
        executor.run(move |spawner: Spawner| {
            spawner.spawn(net(runner).expect("one network task"));
            spawner.spawn(cases(stack, remote, base, agent).expect("one client task"));
        })
    }

    #[embassy_executor::task]
    async fn net(mut runner: Runner<'static, TunTapDevice>) -> ! {
        runner.run().await
    }

    #[embassy_executor::task]
    async fn cases(stack: Stack<'static>, remote: IpEndpoint, base: &'static str, agent: &'static str) {
        stack.wait_config_up().await;
        let mut buffers = Buffers::new();
        let outcome = async {
            let count = case_count(stack, remote, base, &mut buffers).await?;
            for case in 1..=count {
                let url = format!("{base}/runCase?case={case}&agent={agent}");
                if let Err(e) = session(stack, remote, &url, &mut buffers, Echo::Yes, |_| {}).await {
                    eprintln!("case {case}: {e}");
                }
            }
            let url = format!("{base}/updateReports?agent={agent}");
            session(stack, remote, &url, &mut buffers, Echo::No, |_| {}).await?;
            Ok::<u32, String>(count)
        }
        .await;
        match outcome {
            Ok(count) => {
                println!("ran {count} cases as {agent} on embassy-tap; reports updated");
                std::process::exit(0);
            }
            Err(e) => {
                eprintln!("autobahn_client: {e}");
                std::process::exit(1);
            }
        }
    }

    /// The TCP socket's buffers and the WebSocket's, reused by every connection.
    struct Buffers {
        socket_rx: Vec<u8>,
        socket_tx: Vec<u8>,
        websocket_rx: Vec<u8>,
    }

    impl Buffers {
        fn new() -> Self {
            Buffers {
                socket_rx: vec![0; 64 * 1024],
                socket_tx: vec![0; 64 * 1024],
                websocket_rx: vec![0; RX_BUFFER.load(Ordering::Relaxed)],
            }
        }
    }

    async fn case_count(
        stack: Stack<'static>,
        remote: IpEndpoint,
        base: &str,
        buffers: &mut Buffers,
    ) -> Result<u32, String> {
        let mut count = None;
        session(stack, remote, &format!("{base}/getCaseCount"), buffers, Echo::No, |text| {
            count = text.trim().parse().ok();
        })
        .await?;
        count.ok_or_else(|| "getCaseCount gave no number".to_string())
    }

    /// Whether a session echoes what it receives: a test case does, the suite's control
    /// connections (case count, report update) do not.
    #[derive(Copy, Clone, PartialEq, Eq)]
    enum Echo {
        Yes,
        No,
    }

    /// One connection to `url`: hands whole text messages to `on_text`, echoes every message
    /// when `echo` says so, completes the close, and ends the TCP connection.
    async fn session(
        stack: Stack<'static>,
        remote: IpEndpoint,
        url: &str,
        buffers: &mut Buffers,
        echo: Echo,
        mut on_text: impl FnMut(&str),
    ) -> Result<(), String> {
        let parsed = Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let config = config(parsed);
        let mut socket = TcpSocket::new(stack, &mut buffers.socket_rx, &mut buffers.socket_tx);
        socket.set_timeout(Some(Duration::from_secs(60)));
        let rx = RecvBuf::new(&mut buffers.websocket_rx[..]);
        let connected = client::embassy::connect_tcp(socket, remote, rx, &config, client::std::os_keys).await;
        let Connected { mut ws, .. } = connected.map_err(|e| format!("{}: {e}", parsed.resource))?;
        let _ = ws
            .run(|event, replies| {
                if let Event::Data(data) = event {
                    if data.kind == DataKind::Text && data.first && data.last {
                        if let Ok(text) = std::str::from_utf8(data.payload) {
                            on_text(text);
                        }
                    }
                    if echo == Echo::Yes {
                        let _ = replies.send_part(data.kind, data.payload, data.first, data.last);
                    }
                }
            })
            .await;
        ws.finish().await;
        ws.linger().await;
        let (mut socket, _) = ws.into_parts();
        // embassy-net forgets a dropped socket without a word to the peer: FIN, then a reset.
        socket.close();
        let _ = with_timeout(Duration::from_millis(500), socket.flush()).await;
        if !matches!(socket.state(), State::Closed | State::TimeWait) {
            socket.abort();
            let _ = with_timeout(Duration::from_millis(500), socket.flush()).await;
        }
        Ok(())
    }
}
