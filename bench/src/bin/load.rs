//! espws-load: a WebSocket load generator in the manner of uWebSockets' `load_test`.
//!
//! N connections each send one masked message of S bytes, wait for its echo, and repeat. The
//! frames are built once up front and the client runs on a single thread, so that it costs
//! the machine as little as possible beside the server it measures. `--idle` instead opens the
//! connections and holds them (answering pings) to measure what idle clients cost a server.
//!
//! Echoing and idle connections are opened at most `--connect-batch` at a time (a listen
//! backlog is finite: a burst beyond it costs SYN retransmissions of a second and more), each
//! within `--connect-timeout`; once one fails, no further one is opened. Echoing starts measuring once
//! every connection is connected and warmed up. `--source-addrs K` spreads the connections
//! over the loopback source addresses 127.0.0.1 to 127.0.0.K, each with its own ephemeral
//! ports, so that tens of thousands of connections (and those still in TIME_WAIT from the last
//! run) do not run out of ports.
//!
//! `--raw` loads a plain TCP echo server (the floors in `bench/examples/raw_tcp_*.rs`): no
//! handshake, the same masked frame bytes are sent and as many bytes are read back, so that
//! the floor moves the same bytes through the same client as a WebSocket echo. `--count K`
//! makes each connection perform exactly K measured round trips (after the warm-up) instead
//! of running for `--seconds`, so that a server's work can be counted per message.
//!
//! `--tls-ca CA.pem` speaks wss (TLS trusting that certificate, for the name `localhost`);
//! `--handshakes` then measures connections per second instead: each connection does the TCP,
//! TLS and WebSocket handshakes and closes, over and over, `--connections` at a time.
//!
//! The last line of output is one JSON object with the figures, for scripts.

use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

/// Loads a WebSocket echo server and reports throughput and latency.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:9998")]
    addr: SocketAddr,
    /// The request path.
    #[arg(long, default_value = "/")]
    path: String,
    /// Concurrent connections.
    #[arg(long, short = 'c', default_value_t = 1)]
    connections: usize,
    /// Payload bytes per message.
    #[arg(long, short = 's', default_value_t = 64)]
    size: usize,
    /// Measure for this many seconds (after the warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Echo round trips per connection before measuring.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Send text (valid UTF-8) instead of binary.
    #[arg(long)]
    text: bool,
    /// Open the connections and hold them idle instead of echoing, for this many seconds after
    /// the last one is open.
    #[arg(long, value_name = "SECS")]
    idle: Option<f64>,
    /// Connections being opened at once, at most (the server's listen backlog is finite).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    connect_batch: u32,
    /// A connection whose TCP, TLS and WebSocket handshakes take longer fails.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = positive_seconds)]
    connect_timeout: f64,
    /// Spread the connections round-robin over the source addresses 127.0.0.1 to 127.0.0.K
    /// (bound before connecting), for more ephemeral ports than one address has; the server
    /// must then be on loopback too. 1 leaves the source to the kernel.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=254))]
    source_addrs: u8,
    /// Print the PID-free summary only.
    #[arg(long)]
    quiet: bool,
    /// Plain TCP echo, no WebSocket: skip the handshake, send the masked frame bytes and read
    /// the same number of bytes back.
    #[arg(long, conflicts_with = "idle")]
    raw: bool,
    /// Each connection performs exactly this many measured round trips (after the warm-up)
    /// instead of running for --seconds; the rate is then taken over the time they took.
    #[arg(long, value_name = "K", conflicts_with = "idle")]
    count: Option<u64>,
    /// Speak wss: TLS trusting this CA (or self-signed) certificate, for the name `localhost`.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<std::path::PathBuf>,
    /// Count complete handshakes (TCP, TLS, WebSocket) per second instead of echoes.
    #[arg(long, conflicts_with_all = ["idle", "raw", "count"])]
    handshakes: bool,
}

/// A number of seconds above zero.
fn positive_seconds(arg: &str) -> Result<f64, String> {
    match arg.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() => Ok(secs),
        _ => Err(format!("`{arg}` is not a number of seconds above zero")),
    }
}

/// A connection: plain TCP or TLS over it.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The TLS client configuration of `--tls-ca`, made once.
fn tls_connector(ca: &std::path::Path) -> std::io::Result<tokio_rustls::TlsConnector> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone().into());
    }
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).map_err(std::io::Error::other)? {
        roots.add(cert.map_err(std::io::Error::other)?).map_err(std::io::Error::other)?;
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone().into())
}

const MASK: [u8; 4] = [0x5a, 0x17, 0xc3, 0x8e];

/// A masked client frame, built once.
fn client_frame(text: bool, payload_len: usize) -> Vec<u8> {
    let mut frame = vec![0x80 | if text { 0x1 } else { 0x2 }];
    match payload_len {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n @ 126..=65535 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASK);
    frame.extend((0..payload_len).map(|i| (b'a' + (i % 26) as u8) ^ MASK[i % 4]));
    frame
}

/// Reads frames until a whole data message has arrived; answers pings; returns its length.
///
/// Frames are parsed in place from a cursor, and what is left is moved to the front once per
/// read, not once per frame: a server that answers in many fragments must not cost this one
/// client thread more copying than a server that answers in one frame.
async fn read_message(stream: &mut Conn, buf: &mut Vec<u8>, filled: &mut usize) -> std::io::Result<usize> {
    let mut message = 0usize;
    let mut start = 0usize;
    loop {
        // Parse as many frames as the buffer holds.
        loop {
            let avail = &buf[start..*filled];
            let Some((head, len)) = frame_head(avail) else { break };
            let total = head + len;
            if avail.len() < total {
                break;
            }
            let (fin, opcode) = (avail[0] & 0x80 != 0, avail[0] & 0x0F);
            match opcode {
                0x9 => {
                    let mut pong = vec![0x8A, 0x80 | len as u8];
                    pong.extend_from_slice(&MASK);
                    pong.extend(avail[head..total].iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
                    stream.write_all(&pong).await?;
                    stream.flush().await?;
                }
                0x8 => {
                    return Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "server closed"))
                }
                0xA => {}
                _ => message += len,
            }
            start += total;
            if fin && matches!(opcode, 0x0..=0x2) {
                buf.copy_within(start..*filled, 0);
                *filled -= start;
                return Ok(message);
            }
        }
        // Keep the unparsed tail, at the front, and make room for the frame it begins.
        buf.copy_within(start..*filled, 0);
        *filled -= start;
        start = 0;
        let needed = frame_head(&buf[..*filled]).map_or(0, |(head, len)| head + len);
        if buf.len() < needed.max(*filled + 1) {
            buf.resize(needed.max(*filled + 1), 0);
        }
        let n = stream.read(&mut buf[*filled..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        *filled += n;
    }
}

/// The head length and the payload length of the (unmasked) frame `bytes` begins, once its
/// head has arrived.
fn frame_head(bytes: &[u8]) -> Option<(usize, usize)> {
    let (head, len) = match *bytes.get(1)? & 0x7F {
        126 => (4, u64::from(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?))),
        127 => (10, u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?)),
        n => (2, u64::from(n)),
    };
    Some((head, len as usize))
}

/// Reads back exactly as many bytes as were sent (`--raw`).
async fn read_raw(stream: &mut Conn, buf: &mut [u8]) -> std::io::Result<usize> {
    stream.read_exact(buf).await?;
    Ok(buf.len())
}

/// Connects `args.addr`: connection `index` from source address 127.0.0.(1 + index % K) with
/// `--source-addrs K` above 1.
async fn open_tcp(args: &Args, index: usize) -> std::io::Result<TcpStream> {
    if args.source_addrs <= 1 {
        return TcpStream::connect(args.addr).await;
    }
    let source = Ipv4Addr::new(127, 0, 0, 1 + (index % usize::from(args.source_addrs)) as u8);
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    tokio::net::TcpSocket::from_std_stream(socket.into()).connect(args.addr).await
}

/// Opens connection `index` (TCP, TLS with `--tls-ca`, and the WebSocket upgrade unless
/// `--raw`) within `--connect-timeout`.
async fn connect(args: &Args, index: usize) -> std::io::Result<Conn> {
    let limit = Duration::from_secs_f64(args.connect_timeout);
    match tokio::time::timeout(limit, handshake(args, index)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("not open after {} s (--connect-timeout)", args.connect_timeout),
        )),
    }
}

/// The error of a connection not attempted because an earlier one failed.
const NOT_OPENED: &str = "not opened: an earlier connection failed";

/// Connects at most `--connect-batch` at a time, through `gate`. The first connection that
/// fails closes the gate: the ones still waiting then fail at once instead of one by one.
async fn connect_gated(args: &Args, index: usize, gate: &Semaphore) -> Result<Conn, String> {
    let Ok(_permit) = gate.acquire().await else {
        return Err(NOT_OPENED.to_string());
    };
    connect(args, index).await.map_err(|e| {
        gate.close();
        format!("connect: {e}")
    })
}

async fn handshake(args: &Args, index: usize) -> std::io::Result<Conn> {
    let tcp = open_tcp(args, index).await?;
    tcp.set_nodelay(true)?;
    if args.raw {
        return Ok(Conn::Plain(tcp));
    }
    let mut stream = match &args.tls_ca {
        None => Conn::Plain(tcp),
        Some(ca) => {
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("a valid name");
            Conn::Tls(Box::new(tls_connector(ca)?.connect(name, tcp).await?))
        }
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        args.path, args.addr
    );
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        let status = String::from_utf8_lossy(&head[..head.len().min(40)]).into_owned();
        return Err(std::io::Error::other(format!("upgrade refused: {status}")));
    }
    Ok(stream)
}

/// What one echoing connection measured.
#[derive(Default)]
struct Tally {
    messages: u64,
    latencies_us: Vec<u32>,
    error: Option<String>,
    /// When the first measured round trip was sent and the last one completed.
    first_sent: Option<Instant>,
    last_done: Option<Instant>,
}

/// Counts the echoing connections that are warmed up (or have given up), and wakes the start of
/// the measurement when the last one is.
struct Ready {
    count: AtomicUsize,
    of: usize,
    all: Notify,
}

/// A connection's one count in [`Ready`]: given when it is warmed up, or when it ends before.
struct ReadySignal(Option<Arc<Ready>>);

impl ReadySignal {
    fn give(&mut self) {
        if let Some(ready) = self.0.take() {
            if ready.count.fetch_add(1, Ordering::AcqRel) + 1 == ready.of {
                ready.all.notify_one();
            }
        }
    }
}

impl Drop for ReadySignal {
    fn drop(&mut self) {
        self.give();
    }
}

/// When the measurement starts and ends, sent once every connection is warmed up.
type Window = Option<(Instant, Instant)>;

async fn echo_connection(
    args: Args,
    index: usize,
    frame: Arc<Vec<u8>>,
    gate: Arc<Semaphore>,
    mut ready: ReadySignal,
    mut go: watch::Receiver<Window>,
) -> Tally {
    let mut tally = Tally::default();
    let mut stream = match connect_gated(&args, index, &gate).await {
        Ok(stream) => stream,
        Err(e) => {
            tally.error = Some(e);
            return tally;
        }
    };
    let mut buf = vec![0u8; (64 * 1024).max(frame.len())];
    let mut filled = 0;
    let mut round = 0usize;
    // A raw echo returns the frame's bytes as they were sent.
    let expected = if args.raw { frame.len() } else { args.size };
    // Everyone starts measuring together, once connected and warmed up.
    let mut window: Window = None;
    loop {
        if window.is_none() && round == args.warmup {
            ready.give();
            match go.wait_for(Option::is_some).await {
                Ok(w) => window = *w,
                Err(_) => break,
            }
        }
        match (args.count, window) {
            (Some(count), _) if tally.messages >= count => break,
            (None, Some((_, end))) if Instant::now() >= end => break,
            _ => {}
        }
        let sent = Instant::now();
        let result = async {
            stream.write_all(&frame).await?;
            stream.flush().await?;
            if args.raw {
                read_raw(&mut stream, &mut buf[..frame.len()]).await
            } else {
                read_message(&mut stream, &mut buf, &mut filled).await
            }
        }
        .await;
        match result {
            Ok(len) if len == expected => {}
            Ok(len) => {
                tally.error = Some(format!("echo of {expected} bytes came back as {len}"));
                break;
            }
            Err(e) => {
                tally.error = Some(format!("echo: {e}"));
                break;
            }
        }
        round += 1;
        // Every round trip after the warm-up counts (the window started before it was sent).
        if window.is_some() {
            let done = Instant::now();
            tally.messages += 1;
            tally.latencies_us.push((done - sent).as_micros().min(u32::MAX as u128) as u32);
            tally.first_sent.get_or_insert(sent);
            tally.last_done = Some(done);
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn run_echo(args: &Args) -> ExitCode {
    let frame = Arc::new(client_frame(args.text, args.size));
    // Measuring starts once every connection is connected and warmed up, or after this long,
    // whichever comes first (a late connection then measures from when it is ready).
    let setup = Duration::from_millis(500 + args.connections as u64 * 2);
    let latest_start = Instant::now() + setup;
    let gate = Arc::new(Semaphore::new(args.connect_batch as usize));
    let ready = Arc::new(Ready { count: AtomicUsize::new(0), of: args.connections, all: Notify::new() });
    let (go, window) = watch::channel(None);
    let mut tasks = JoinSet::new();
    for i in 0..args.connections {
        let signal = ReadySignal(Some(ready.clone()));
        tasks.spawn_local(echo_connection(
            args.clone(),
            i,
            frame.clone(),
            gate.clone(),
            signal,
            window.clone(),
        ));
    }
    let _ = tokio::time::timeout_at(latest_start.into(), ready.all.notified()).await;
    let start = Instant::now();
    go.send_replace(Some((start, start + Duration::from_secs_f64(args.seconds))));
    let mut latencies = Vec::new();
    let (mut messages, mut errors, mut first_error) = (0u64, 0usize, None);
    let (mut first_sent, mut last_done) = (None::<Instant>, None::<Instant>);
    while let Some(tally) = tasks.join_next().await {
        let tally = tally.expect("a connection task panicked");
        messages += tally.messages;
        first_sent = match (first_sent, tally.first_sent) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        last_done = last_done.max(tally.last_done);
        latencies.extend(tally.latencies_us);
        if let Some(e) = tally.error {
            errors += 1;
            if e != NOT_OPENED {
                first_error.get_or_insert(e);
            }
        }
    }
    latencies.sort_unstable();
    // With --count, the measured window is from the first measured send to the last echo.
    let seconds = match (args.count, first_sent, last_done) {
        (None, _, _) => args.seconds,
        (Some(_), Some(first), Some(last)) => (last - first).as_secs_f64().max(1e-9),
        (Some(_), _, _) => 0.0,
    };
    let msgs_per_s = if seconds > 0.0 { messages as f64 / seconds } else { 0.0 };
    let mb_per_s = msgs_per_s * args.size as f64 / 1e6;
    let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
    if !args.quiet {
        println!(
            "{} connections x {} B: {:.0} msgs/s, {:.1} MB/s, latency p50 {} us, p99 {} us, {} errors",
            args.connections, args.size, msgs_per_s, mb_per_s, p50, p99, errors
        );
        if let Some(e) = &first_error {
            println!("first error: {e}");
        }
    }
    println!(
        "{{\"connections\":{},\"size\":{},\"messages\":{},\"msgs_per_s\":{:.1},\"mb_per_s\":{:.3},\"p50_us\":{},\"p99_us\":{},\"errors\":{},\"seconds\":{:.3},\"raw\":{}}}",
        args.connections, args.size, messages, msgs_per_s, mb_per_s, p50, p99, errors, seconds, args.raw
    );
    if errors == 0 && messages > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run_idle(args: &Args, hold: f64) -> ExitCode {
    let mut tasks = JoinSet::new();
    let gate = Arc::new(Semaphore::new(args.connect_batch as usize));
    let opened = Arc::new(AtomicUsize::new(0));
    let (release, released) = watch::channel(false);
    let started = Instant::now();
    for i in 0..args.connections {
        let (args, gate, opened, mut released) =
            (args.clone(), gate.clone(), opened.clone(), released.clone());
        tasks.spawn_local(async move {
            let mut stream = connect_gated(&args, i, &gate).await?;
            opened.fetch_add(1, Ordering::Relaxed);
            let mut buf = vec![0u8; 256];
            let mut filled = 0;
            // Idle, but alive: answer the server's pings until released.
            tokio::select! {
                idle = read_message(&mut stream, &mut buf, &mut filled) => match idle {
                    Err(e) => Err(format!("dropped while idle: {e}")),
                    Ok(_) => Err("unexpected message while idle".to_string()),
                },
                _ = released.wait_for(|&r| r) => Ok(()),
            }
        });
    }
    let (mut errors, mut first_error) = (0usize, None);
    let mut record = |done: Result<Result<(), String>, tokio::task::JoinError>| {
        let error = match done {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(e) => format!("task: {e}"),
        };
        errors += 1;
        if error != NOT_OPENED {
            first_error.get_or_insert(error);
        }
    };
    // Wait until every connection is open or has failed: the caller reads the server's memory
    // once this reports them open.
    let deadline = started + Duration::from_secs(60);
    let mut failed = 0;
    loop {
        while let Some(done) = tasks.try_join_next() {
            failed += 1;
            record(done);
        }
        let open = opened.load(Ordering::Relaxed);
        if open + failed >= args.connections || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "open {} connections after {:.1} s",
        opened.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    // Hold them, unless the run has failed already.
    if failed == 0 {
        tokio::time::sleep(Duration::from_secs_f64(hold)).await;
    }
    release.send_replace(true);
    while let Some(done) = tasks.join_next().await {
        record(done);
    }
    if let Some(e) = &first_error {
        println!("first error: {e}");
    }
    println!(
        "{{\"connections\":{},\"opened\":{},\"errors\":{}}}",
        args.connections,
        opened.load(Ordering::Relaxed),
        errors
    );
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `--handshakes`: connections opened (TCP, TLS if asked, WebSocket upgrade) and closed per
/// second, `--connections` at a time.
async fn run_handshakes(args: &Args) -> ExitCode {
    let end = Instant::now() + Duration::from_secs_f64(args.seconds);
    let mut tasks = JoinSet::new();
    for i in 0..args.connections {
        let args = args.clone();
        tasks.spawn_local(async move {
            let (mut done, mut error) = (0u64, None);
            while Instant::now() < end {
                match connect(&args, i).await {
                    Ok(mut stream) => {
                        let _ = stream.shutdown().await;
                        done += 1;
                    }
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
            }
            (done, error)
        });
    }
    let (mut done, mut errors, mut first_error) = (0u64, 0usize, None);
    while let Some(result) = tasks.join_next().await {
        let (n, error) = result.expect("a handshake task panicked");
        done += n;
        if let Some(e) = error {
            errors += 1;
            first_error.get_or_insert(e);
        }
    }
    let per_s = done as f64 / args.seconds;
    if !args.quiet {
        println!("{} at a time: {per_s:.0} handshakes/s, {errors} errors", args.connections);
        if let Some(e) = &first_error {
            println!("first error: {e}");
        }
    }
    println!(
        "{{\"connections\":{},\"handshakes\":{done},\"handshakes_per_s\":{per_s:.1},\"errors\":{errors},\"tls\":{}}}",
        args.connections,
        args.tls_ca.is_some()
    );
    if errors == 0 && done > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.source_addrs > 1 && !matches!(args.addr, SocketAddr::V4(addr) if addr.ip().is_loopback()) {
        eprintln!("espws-load: --source-addrs above 1 needs the server on IPv4 loopback (127.0.0.0/8)");
        return ExitCode::from(2);
    }
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        match args.idle {
            Some(hold) => run_idle(&args, hold).await,
            None if args.handshakes => run_handshakes(&args).await,
            None => run_echo(&args).await,
        }
    })
}
