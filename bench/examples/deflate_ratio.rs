//! Echo throughput with permessage-deflate (RFC 7692): espws-sim against yawc
//! (`examples/yawc_echo.rs`), alternated in one run, with the espws/yawc ratio per round.
//!
//! ```text
//! deflate_ratio ESPWS_ADDR YAWC_ADDR [--connections 100] [--messages 300] [--rounds 6] [--seed 1]
//!               [--espws-pid PID] [--yawc-pid PID]
//! e.g. deflate_ratio 127.0.0.1:9401 127.0.0.1:9402 --messages 80 --espws-pid 1234 --yawc-pid 1235
//! ```
//!
//! (espws-sim needs `--max-clients` of at least N: it serves 8 by default.)
//!
//! Each round runs both servers once, alternating which goes first (espws first in even rounds,
//! yawc first in odd ones, so ABBA over two rounds), so that a machine changing speed between
//! runs weighs on both alike; the median of the per-round ratios is the figure to read. One
//! run: N connections (all at once, on one current-thread tokio runtime, as espws-load does)
//! are opened with permessage-deflate offered, every one must have it agreed (the run fails
//! otherwise), and then, timed, each sends a text message of about 1 KiB of JSON (a sensor
//! node's report: readings of several sensors, values drawn from a seeded PRNG, so no two
//! messages are alike) and waits for its echo, M times. Every echo is compared with what was
//! sent, byte for byte (kind, length and content), so a corrupt inflate or deflate fails the
//! run. The connections' closing handshakes come after the clock stops. Before round 0 each
//! server gets one short untimed warm-up run and a probe (below). With the servers' pids, each
//! run also gives the server's CPU time per message (all its threads, /proc/PID/task/*/schedstat)
//! and the client's: on a shared machine, where msg/s follows the CPU share a server gets,
//! that is the steadier figure.
//!
//! The messages come from a pool of 1024 (1 MiB of JSON, far more than a 32 KiB window), each
//! connection walking it from its own offset: with context takeover a message can refer back
//! to the previous ones of its connection, never to an identical copy of itself.
//!
//! One client for both servers: **the espws tokio client** (`request.deflate = true`; its TCP
//! stream opened here exactly as `espws::client::tokio::connect_tcp` does, so that the socket's
//! byte counters can be read). Why this one rather than yawc's client: it sends the same bytes
//! to both servers (the same offer, `permessage-deflate; client_max_window_bits`, answered by
//! both with 15-bit windows and context takeover, hence the same compressor state and the same
//! compressed frames), so its cost per message is the same whichever server answers, and it
//! says what was agreed (`Connected::deflate`), which yawc 0.5's client does not expose, so
//! the check that deflate is on needs no guessing. Its one link to espws's server, the shared
//! deflate code, gives espws's server no advantage on the server side of the measurement (and
//! yawc compresses with the same zlib-rs at the same level). What each server sends back does
//! differ, so that the client's cost of inflating it is part of each figure: the wire bytes per
//! echo are printed so that this can be seen.
//!
//! Wire bytes (TCP_INFO's bytes_received and bytes_acked, between the start and the end of the
//! timed part) per message show whether each side really compressed: an echo that came back
//! uncompressed (say, as fragments, which espws never compresses) costs its whole size. The
//! probe, one connection echoing the whole pool with the counters read after every echo,
//! counts such echoes and their frame headers (4 B: one frame; more: fragments).

use std::os::fd::{AsRawFd as _, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Parser;
use embedded_io_adapters::tokio_1::FromTokio;
use espws::client::tokio::TokioWebSocket;
use espws::client::{connect_async, std::os_keys, ClientConfig, Connected};
use espws::nonblocking::TokioTimer;
use espws::proto::client_handshake::ClientRequest;
use espws::proto::deflate::Agreed;
use espws::wire::url::Url;
use espws::{Config, DataKind, Event, RecvBuf};

/// Messages in the pool.
const POOL: usize = 1024;
/// The client's receive buffer, as espws-load and client_ratio use.
const RX_BUFFER: usize = 64 * 1024;

#[derive(Parser, Debug)]
#[command(about = "permessage-deflate echo throughput, espws against yawc, alternated")]
struct Args {
    /// espws-sim's address (HOST:PORT), such as 127.0.0.1:9401.
    espws: String,
    /// yawc_echo's address (HOST:PORT), such as 127.0.0.1:9402.
    yawc: String,
    /// Connections at once.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Round trips per connection in each timed run.
    #[arg(long, default_value_t = 300)]
    messages: u32,
    /// Rounds (each runs both servers once).
    #[arg(long, default_value_t = 6)]
    rounds: usize,
    /// Seed of the JSON's values.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The largest message, in bytes; readings are added while they fit.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// espws-sim's process id: adds its CPU time per message (all its threads, from
    /// /proc/PID/task/*/schedstat) to each run's figures.
    #[arg(long, value_name = "PID")]
    espws_pid: Option<u32>,
    /// yawc_echo's process id, likewise.
    #[arg(long, value_name = "PID")]
    yawc_pid: Option<u32>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Server {
    Espws,
    Yawc,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Espws => "espws",
            Server::Yawc => "yawc",
        }
    }
}

// ---- The messages ----

/// splitmix64: small, seeded, good enough for sensor values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One sensor's reading, the `k`th of its message.
fn reading(rng: &mut Rng, k: usize) -> String {
    match k % 6 {
        0 => format!(
            r#"{{"sensor":"bme280","id":"bme280-{}","temperature_c":{:.2},"humidity_pct":{:.1},"pressure_hpa":{:.2}}}"#,
            k / 6,
            rng.range(14.0, 31.0),
            rng.range(30.0, 90.0),
            rng.range(985.0, 1035.0)
        ),
        1 => format!(
            r#"{{"sensor":"scd41","co2_ppm":{},"temperature_c":{:.2},"humidity_pct":{:.1}}}"#,
            400 + rng.below(1400),
            rng.range(14.0, 31.0),
            rng.range(30.0, 90.0)
        ),
        2 => format!(r#"{{"sensor":"bh1750","lux":{:.1}}}"#, rng.range(0.0, 65000.0)),
        3 => format!(
            r#"{{"sensor":"soil","channel":{},"moisture_pct":{:.1},"temperature_c":{:.2}}}"#,
            k / 6,
            rng.range(10.0, 60.0),
            rng.range(8.0, 26.0)
        ),
        4 => format!(
            r#"{{"sensor":"ina219","bus_v":{:.3},"current_ma":{:.1},"power_mw":{:.1}}}"#,
            rng.range(11.5, 12.8),
            rng.range(20.0, 900.0),
            rng.range(200.0, 11000.0)
        ),
        _ => format!(
            r#"{{"sensor":"anemometer","wind_mps":{:.2},"gust_mps":{:.2},"direction_deg":{}}}"#,
            rng.range(0.0, 12.0),
            rng.range(0.0, 20.0),
            rng.below(360)
        ),
    }
}

/// A sensor node's report, at most `size` bytes: a header, then readings while they fit.
fn report(rng: &mut Rng, seq: usize, size: usize) -> String {
    let mut s = format!(
        r#"{{"device_id":"greenhouse-node-{:03}","firmware":"2.3.{}","seq":{seq},"ts":"2025-06-{:02}T{:02}:{:02}:{:02}.{:03}Z","uptime_s":{},"battery":{{"voltage_v":{:.3},"percent":{}}},"wifi":{{"rssi_dbm":-{},"channel":{}}},"readings":["#,
        rng.below(64),
        rng.below(8),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1000),
        rng.below(3_000_000),
        rng.range(3.3, 4.2),
        rng.below(101),
        35 + rng.below(55),
        1 + rng.below(13),
    );
    let end = format!(
        r#"],"alerts":{},"status":"ok"}}"#,
        if rng.below(10) == 0 { r#"["low_battery"]"# } else { "[]" }
    );
    for k in 0.. {
        let r = reading(rng, k);
        let comma = usize::from(k > 0);
        if s.len() + comma + r.len() + end.len() > size {
            break;
        }
        if k > 0 {
            s.push(',');
        }
        s.push_str(&r);
    }
    s.push_str(&end);
    s
}

fn pool(seed: u64, size: usize) -> Vec<String> {
    let mut rng = Rng(seed);
    (0..POOL).map(|seq| report(&mut rng, seq, size)).collect()
}

// ---- One connection ----

struct Conn {
    ws: TokioWebSocket,
    /// The socket's descriptor, for its byte counters; `ws` owns the socket.
    fd: RawFd,
}

/// Bytes received and bytes sent (and acknowledged) so far on the socket `fd` (TCP_INFO).
fn wire_bytes(fd: RawFd) -> (u64, u64) {
    // SAFETY: tcp_info is plain integers, for which zero is valid; getsockopt writes at most
    // `len` bytes into it, and `fd` is a TCP socket that stays open while its connection lives.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        if rc != 0 {
            return (0, 0);
        }
        (info.tcpi_bytes_received, info.tcpi_bytes_acked)
    }
}

/// Nanoseconds on CPU of all the live threads of process `pid` (`None`: this process), from
/// /proc/PID/task/*/schedstat; `None` if it cannot be read.
fn cpu_ns(pid: Option<u32>) -> Option<u64> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}/task"),
        None => "/proc/self/task".to_string(),
    };
    let mut total = 0;
    for task in std::fs::read_dir(dir).ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).unwrap_or_default();
        total += stat.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()).unwrap_or(0);
    }
    Some(total)
}

/// Opens a connection offering permessage-deflate, as `espws::client::tokio::connect_tcp` does
/// (connect, TCP_NODELAY, a boxed receive buffer, the OS's RNG for keys); fails if the server
/// does not agree.
async fn open(url: &'static str) -> Result<(Conn, Agreed), String> {
    let parsed = Url::parse(url).map_err(|e| e.to_string())?;
    let mut request = ClientRequest::new(parsed);
    request.deflate = true;
    let mut config = ClientConfig::new(request);
    config.connection = Config { max_message: 64 << 20, ping_interval: None, ..Config::default() };
    let stream = tokio::net::TcpStream::connect((parsed.host, parsed.port))
        .await
        .map_err(|e| format!("connect to {url}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let fd = stream.as_raw_fd();
    let rx = RecvBuf::new(vec![0u8; RX_BUFFER].into_boxed_slice());
    let Connected { ws, deflate, .. } =
        connect_async(FromTokio::new(stream), rx, TokioTimer::new(), &config, os_keys)
            .await
            .map_err(|e| format!("handshake with {url}: {e}"))?;
    let Some(agreed) = deflate else {
        return Err(format!(
            "{url} did not agree to permessage-deflate (its 101 had no permessage-deflate answer)"
        ));
    };
    Ok((Conn { ws, fd }, agreed))
}

/// One round trip: sends `text` and checks its echo byte for byte (kind, length, content).
async fn round_trip(conn: &mut Conn, text: &str) -> Result<(), String> {
    let sent = text.as_bytes();
    conn.ws.sender().send_text(text).await.map_err(|e| format!("send: {e:?}"))?;
    let mut got = 0;
    loop {
        match conn.ws.next_event().await {
            Ok(Some((Event::Data(d), _))) => {
                let end = got + d.payload.len();
                if d.kind != DataKind::Text {
                    return Err(format!("a {:?} echo of a text message", d.kind));
                }
                if d.first != (got == 0) || end > sent.len() || d.payload != &sent[got..end] {
                    return Err(format!(
                        "an echo differs from the message sent ({} B) at bytes {got}..{end}",
                        sent.len()
                    ));
                }
                got = end;
                if d.last {
                    if got != sent.len() {
                        return Err(format!("an echo of {got} B, not {}", sent.len()));
                    }
                    return Ok(());
                }
            }
            Ok(Some((Event::Closed { how, reason }, _))) => {
                return Err(format!("closed by the server: {how:?} {reason}"))
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err("the connection ended".into()),
            Err(e) => return Err(format!("receive: {e:?}")),
        }
    }
}

/// `messages` round trips: pool[start], pool[start + 1], ...
async fn exchange(conn: &mut Conn, pool: &[String], start: usize, messages: u32) -> Result<(), String> {
    for k in 0..messages as usize {
        round_trip(conn, &pool[(start + k) % pool.len()]).await?;
    }
    Ok(())
}

/// One connection echoes the whole pool once, reading the socket's counters after every echo
/// (the client waits for each echo, so the bytes between two readings are that echo's frames):
/// how many echoes came back compressed, and the frame overhead of those that did not.
async fn probe(server: Server, url: &'static str, pool: &[String]) -> Result<(), String> {
    let (mut conn, _) = open(url).await?;
    let (mut rx, mut tx) = wire_bytes(conn.fd);
    let mut compressed = Vec::new();
    let mut sent_sizes = Vec::new();
    // Bytes beyond the payload of the echoes that came back uncompressed: 4 is one frame of
    // 126 to 65535 bytes, more is several frames (fragments).
    let mut plain: std::collections::BTreeMap<u64, usize> = Default::default();
    for text in pool {
        round_trip(&mut conn, text).await?;
        let (r, t) = wire_bytes(conn.fd);
        let (echo, sent) = (r - rx, t - tx);
        (rx, tx) = (r, t);
        sent_sizes.push(sent as f64);
        if echo >= text.len() as u64 {
            *plain.entry(echo - text.len() as u64).or_default() += 1;
        } else {
            compressed.push(echo as f64);
        }
    }
    conn.ws.finish().await;
    let plain_count: usize = plain.values().sum();
    let overheads: Vec<String> = plain.iter().map(|(h, n)| format!("{n} x {h} B of headers")).collect();
    println!(
        "{:<5} probe, 1 connection x {} echoes: {} came back compressed (median {:.0} B on the wire), \
         {plain_count} uncompressed{}{}; the client's messages median {:.0} B on the wire",
        server.name(),
        pool.len(),
        compressed.len(),
        if compressed.is_empty() { 0.0 } else { median(&compressed) },
        if plain.is_empty() { "" } else { ": " },
        overheads.join(", "),
        median(&sent_sizes)
    );
    Ok(())
}

// ---- One run ----

struct Run {
    msgs_per_s: f64,
    /// Bytes received per echo (frame header and compressed payload), and sent per message.
    rx_per_msg: f64,
    tx_per_msg: f64,
    /// CPU time per message of the server (if its pid was given) and of this client, in µs.
    server_us: Option<f64>,
    client_us: Option<f64>,
    agreed: Agreed,
}

/// Opens the connections, times `messages` round trips on each at once, closes them.
async fn run(
    url: &'static str,
    server_pid: Option<u32>,
    connections: usize,
    messages: u32,
    pool: &Rc<Vec<String>>,
) -> Result<Run, String> {
    let opening: Vec<_> = (0..connections).map(|_| tokio::task::spawn_local(open(url))).collect();
    let mut conns = Vec::with_capacity(connections);
    let mut agreed = None;
    for task in opening {
        let (conn, a) = task.await.map_err(|e| e.to_string())??;
        if agreed.is_some_and(|first| first != a) {
            return Err(format!("{url} agreed to different parameters on different connections"));
        }
        agreed = Some(a);
        conns.push(conn);
    }
    let counters = |conns: &[Conn]| {
        conns.iter().map(|c| wire_bytes(c.fd)).fold((0, 0), |(r, t), (dr, dt)| (r + dr, t + dt))
    };
    let cpu = || (server_pid.and_then(|pid| cpu_ns(Some(pid))), cpu_ns(None));
    let before = counters(&conns);
    let cpu_before = cpu();

    let started = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            let pool = Rc::clone(pool);
            // Connections start far apart in the pool.
            let start = i * POOL / connections.max(1);
            tokio::task::spawn_local(async move {
                exchange(&mut conn, &pool, start, messages).await.map(|()| conn)
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(connections);
    for task in tasks {
        conns.push(task.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = cpu();
    let after = counters(&conns);

    let closing: Vec<_> = conns
        .into_iter()
        .map(|mut conn| tokio::task::spawn_local(async move { conn.ws.finish().await }))
        .collect();
    for task in closing {
        let _ = task.await;
    }
    let total = connections as f64 * f64::from(messages);
    let per_msg_us =
        |b: Option<u64>, a: Option<u64>| b.zip(a).map(|(b, a)| a.saturating_sub(b) as f64 / 1e3 / total);
    Ok(Run {
        msgs_per_s: total / elapsed,
        rx_per_msg: (after.0 - before.0) as f64 / total,
        tx_per_msg: (after.1 - before.1) as f64 / total,
        server_us: per_msg_us(cpu_before.0, cpu_after.0),
        client_us: per_msg_us(cpu_before.1, cpu_after.1),
        agreed: agreed.ok_or("no connections")?,
    })
}

fn describe(a: &Agreed) -> String {
    let takeover = |no: bool| if no { "no context takeover" } else { "context takeover" };
    format!(
        "server {} bits, {}; client {} bits, {}",
        a.server_max_window_bits,
        takeover(a.server_no_context_takeover),
        a.client_max_window_bits,
        takeover(a.client_no_context_takeover)
    )
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// " (server 12.3 µs/msg of CPU, client 4.5)", or the client's alone.
fn cpu_note(r: &Run) -> String {
    match (r.server_us, r.client_us) {
        (Some(s), Some(c)) => format!(", CPU/msg server {s:.1} µs, client {c:.1} µs"),
        (None, Some(c)) => format!(", CPU/msg client {c:.1} µs"),
        _ => String::new(),
    }
}

async fn main_async(args: Args) -> Result<(), String> {
    let pool = Rc::new(pool(args.seed, args.size));
    let lens: Vec<usize> = pool.iter().map(String::len).collect();
    let mean = lens.iter().sum::<usize>() as f64 / lens.len() as f64;
    let (min, max) = (lens.iter().min().copied().unwrap_or(0), lens.iter().max().copied().unwrap_or(0));
    println!(
        "{} connections x {} round trips of a {mean:.0} B JSON text message ({min}..{max} B, pool of {POOL}, \
         seed {}), {} rounds",
        args.connections, args.messages, args.seed, args.rounds
    );
    let urls: [&'static str; 2] = [
        Box::leak(format!("ws://{}/", args.espws).into_boxed_str()),
        Box::leak(format!("ws://{}/", args.yawc).into_boxed_str()),
    ];
    let url = |server: Server| urls[server as usize];
    let pids = [args.espws_pid, args.yawc_pid];

    for server in [Server::Espws, Server::Yawc] {
        let warm =
            run(url(server), pids[server as usize], args.connections, (args.messages / 10).max(1), &pool)
                .await?;
        println!(
            "{:<5} at {}: permessage-deflate agreed ({}); warm-up {:.0} msg/s",
            server.name(),
            url(server),
            describe(&warm.agreed),
            warm.msgs_per_s
        );
        probe(server, url(server), &pool).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut ratios = Vec::new();
    let mut cpu_ratios = Vec::new();
    let mut runs: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
    for round in 0..args.rounds {
        let order =
            if round % 2 == 0 { [Server::Espws, Server::Yawc] } else { [Server::Yawc, Server::Espws] };
        for server in order {
            let r = run(url(server), pids[server as usize], args.connections, args.messages, &pool).await?;
            runs[server as usize].push(r);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (e, y) = (&runs[0][round], &runs[1][round]);
        let ratio = e.msgs_per_s / y.msgs_per_s;
        println!(
            "round {round} ({} first): espws {:.0} msg/s (echo {:.0} B on the wire, sent {:.0} B{}), \
             yawc {:.0} msg/s (echo {:.0} B, sent {:.0} B{}), espws/yawc {ratio:.3}",
            order[0].name(),
            e.msgs_per_s,
            e.rx_per_msg,
            e.tx_per_msg,
            cpu_note(e),
            y.msgs_per_s,
            y.rx_per_msg,
            y.tx_per_msg,
            cpu_note(y),
        );
        ratios.push(ratio);
        if let (Some(es), Some(ys)) = (e.server_us, y.server_us) {
            cpu_ratios.push(es / ys);
        }
    }
    if ratios.is_empty() {
        return Ok(());
    }
    let med = |s: usize, f: fn(&Run) -> f64| median(&runs[s].iter().map(f).collect::<Vec<_>>());
    println!(
        "median: espws {:.0} msg/s, yawc {:.0} msg/s; echo on the wire espws {:.0} B, yawc {:.0} B (of {mean:.0} B)",
        med(0, |r| r.msgs_per_s),
        med(1, |r| r.msgs_per_s),
        med(0, |r| r.rx_per_msg),
        med(1, |r| r.rx_per_msg),
    );
    if !cpu_ratios.is_empty() {
        println!(
            "server CPU per message: espws {:.1} µs, yawc {:.1} µs; espws/yawc median {:.3} (below 1: espws \
             uses less)",
            med(0, |r| r.server_us.unwrap_or(0.0)),
            med(1, |r| r.server_us.unwrap_or(0.0)),
            median(&cpu_ratios)
        );
    }
    println!(
        "deflate ratio (espws / yawc msg/s), {} x {mean:.0} B JSON: median {:.3} of {} rounds (min {:.3}, max {:.3})",
        args.connections,
        median(&ratios),
        ratios.len(),
        ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let local = tokio::task::LocalSet::new();
    match local.block_on(&runtime, main_async(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deflate_ratio: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
