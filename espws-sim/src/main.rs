//! espws-sim: runs the device's applications on a PC, over the same library code.

mod connect;
mod runtime;
mod tls;

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use espws::proto::deflate::DeflateConfig;
use espws::proto::handshake::Policy;
use espws::proto::{Config, Delivery};
use espws_apps::device::Device;
use espws_apps::settings::{App, Settings};
use espws_apps::DeviceHub;

/// The espws device simulator: the firmware's WebSocket applications, on your PC.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The application: echo every message to its sender, broadcast it to every client, or
    /// send simulated sensor readings to every client and acknowledge commands.
    #[arg(long, value_enum, default_value_t = AppArg::Echo)]
    app: AppArg,
    /// Readings per second of the sensor app.
    #[arg(long, value_name = "HZ", default_value_t = espws_apps::sensor::DEFAULT_RATE_HZ)]
    rate: u16,
    /// Push a JSON status message (uptime, clients, free slots) to every client this often.
    #[arg(long, value_name = "N")]
    tick_ms: Option<u64>,
    /// Bytes each client may have waiting in the message hub before it is closed as too slow
    /// (1008); used by broadcast and status ticks.
    #[arg(long, default_value_t = 64 * 1024, value_name = "BYTES")]
    queue_bytes: usize,
    /// How connections are served: a thread each (as on ESP-IDF), tokio tasks, or embassy-net
    /// on a TAP device (the bare-metal firmware's network stack).
    #[arg(long, value_enum, default_value_t = RuntimeArg::Threads)]
    runtime: RuntimeArg,
    /// TAP device for --runtime embassy-tap (see scripts/netns).
    #[arg(long, default_value = "tap0")]
    tap: String,
    /// The simulated device's address on the TAP device, for --runtime embassy-tap.
    #[arg(long, default_value = "192.168.69.2/24", value_name = "CIDR")]
    ip: String,
    /// Address to listen on; 0.0.0.0 makes the simulator reachable from other machines.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// TCP port of the console and the WebSocket.
    #[arg(long, default_value_t = 9998)]
    port: u16,
    /// Clients served at once; one more gets HTTP 503.
    #[arg(long, default_value_t = 8)]
    max_clients: usize,
    /// Largest message accepted, in bytes; larger ones close with 1009.
    #[arg(long, default_value_t = 1 << 20)]
    max_message: u64,
    /// Receive buffer per client, in bytes [default: 262144 on tokio without TLS, 65536
    /// otherwise]. On a PC a larger buffer means fewer, larger reads and frames; tokio lends it
    /// only while bytes are processed, so there its size costs an idle connection nothing. The
    /// device's default is 4096, and chunked delivery works down to 256.
    #[arg(long, value_name = "BYTES")]
    rx_buffer: Option<usize>,
    /// Largest HTTP request head accepted, in bytes; a longer one is answered 431 (so is one
    /// longer than --rx-buffer). 16 KiB, as Node.js, fits any browser's.
    #[arg(long, default_value_t = espws::ServeConfig::DEFAULT.max_request_head, value_name = "BYTES")]
    max_request_head: usize,
    /// How messages reach the app: in chunks as they arrive, or reassembled whole (then
    /// --rx-buffer bounds the message size too).
    #[arg(long, value_enum, default_value_t = DeliveryArg::Chunked)]
    delivery: DeliveryArg,
    /// Ping a client after this many seconds without hearing from it; 0 disables pings.
    #[arg(long, default_value_t = 15.0, value_name = "SECS")]
    ping_interval: f64,
    /// Drop a client that sends nothing for this many seconds after a ping.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pong_timeout: f64,
    /// Drop a client whose HTTP request head has not arrived after this many seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    handshake_timeout: f64,
    /// Drop a client that stops reading once a write has been blocked this many seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    write_timeout: f64,
    /// Wait this many seconds for the client's answer to a close frame.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    close_timeout: f64,
    /// On SIGINT or SIGTERM, close every client with 1001 and wait this many seconds for the
    /// closing handshakes before exiting (a second signal exits at once).
    #[arg(long, default_value_t = 3.0, value_name = "SECS")]
    shutdown_timeout: f64,
    /// A browser origin allowed to connect besides the device's own (repeatable), such as
    /// https://dashboard.example. Requests without an Origin header are always allowed.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Require this secret as `Authorization: Bearer SECRET` or `?token=SECRET`.
    #[arg(long, value_name = "SECRET", env = "ESPWS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A subprotocol the server speaks (repeatable); the first one the client offers wins.
    #[arg(long = "protocol", value_name = "NAME")]
    protocols: Vec<String>,
    /// Agree to permessage-deflate (RFC 7692) when a client offers it: the default, with chunked
    /// delivery (the hub's apps and --delivery whole turn it off).
    #[arg(long, overrides_with = "no_deflate")]
    deflate: bool,
    /// Never agree to permessage-deflate.
    #[arg(long, overrides_with = "deflate")]
    no_deflate: bool,
    /// The largest compression window (log2, 8 to 15) accepted from clients and used for the
    /// server's messages; below 15, clients that cannot limit their window get no compression.
    #[arg(long, default_value_t = 15, value_name = "BITS", value_parser = clap::value_parser!(u8).range(8..=15))]
    deflate_window: u8,
    /// Dial out to this ws:// or wss:// URL and run the echo app over it (reconnecting with backoff)
    /// instead of listening; --token and --protocol are then what the device presents and offers.
    #[arg(long, value_name = "URL")]
    connect: Option<String>,
    /// A header to send with --connect, as 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// A CA certificate (PEM) to trust for wss:// with --connect.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<String>,
    /// Serve https and wss with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE")]
    tls_key: Option<std::path::PathBuf>,
    /// Serve https and wss with a certificate made at start-up for the bind address and
    /// localhost; prints its SHA-256 fingerprint and where its PEM is.
    #[arg(long)]
    tls_self_signed: bool,
    /// The TLS configuration built from the flags above.
    #[arg(skip)]
    tls: Option<tls::Tls>,
}

impl Args {
    /// The simulated device's own address, with --runtime embassy-tap (a certificate made at
    /// start-up names it).
    fn tap_address(&self) -> Option<std::net::Ipv4Addr> {
        if self.runtime != RuntimeArg::EmbassyTap {
            return None;
        }
        self.ip.split('/').next()?.parse().ok()
    }

    /// Whether the flags ask for https and wss (a certificate given, or one made at start-up).
    fn serves_tls(&self) -> bool {
        self.tls_cert.is_some() || self.tls_self_signed
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum AppArg {
    Echo,
    Broadcast,
    Sensor,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum DeliveryArg {
    Chunked,
    Whole,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum RuntimeArg {
    Threads,
    Tokio,
    EmbassyTap,
}

/// The receive buffer when `--rx-buffer` is not given. 256 KiB where a waiting connection
/// holds no buffer (tokio lends it from the thread's pool only while bytes are processed): a
/// 1 MiB message then takes 4 reads and frames instead of 16, about 1.3 times the echo rate at
/// 4 x 1 MiB (docs/bench-results.md). 64 KiB where every connection keeps its buffer for life:
/// on threads (where 256 KiB made 0.90 of 64 KiB's rate at 4 x 1 MiB), and over TLS, whose
/// buffer may hold decrypted bytes no socket readiness shows.
fn default_rx_buffer(args: &Args) -> usize {
    if args.runtime == RuntimeArg::Tokio && !args.serves_tls() {
        256 * 1024
    } else {
        64 * 1024
    }
}

/// Seconds from the command line, checked by `non_negative_seconds`, as a duration.
fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

fn non_negative_seconds(name: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(format!("--{name} must be a number of seconds, 0 or more (got {value})"))
    }
}

/// The device settings the flags describe. The strings live as long as the process, as a
/// device's configuration does.
fn settings(args: &Args) -> Result<Settings<'static>, String> {
    for (name, value) in [
        ("ping-interval", args.ping_interval),
        ("pong-timeout", args.pong_timeout),
        ("handshake-timeout", args.handshake_timeout),
        ("write-timeout", args.write_timeout),
        ("close-timeout", args.close_timeout),
        ("shutdown-timeout", args.shutdown_timeout),
    ] {
        non_negative_seconds(name, value)?;
    }
    let app = match args.app {
        AppArg::Echo => App::Echo,
        AppArg::Broadcast => App::Broadcast,
        AppArg::Sensor => App::Sensor,
    };
    if !(1..=espws_apps::sensor::MAX_RATE_HZ).contains(&args.rate) {
        return Err(format!(
            "--rate must be from 1 to {} readings a second",
            espws_apps::sensor::MAX_RATE_HZ
        ));
    }
    if args.tick_ms == Some(0) {
        return Err("--tick-ms must be at least 1".into());
    }
    let tick = args.tick_ms.map(Duration::from_millis);
    // Messages through the hub are whole, so that none falls between another's fragments.
    let uses_hub = matches!(app, App::Broadcast | App::Sensor) || tick.is_some();
    let delivery = match args.delivery {
        _ if uses_hub => Delivery::Whole,
        DeliveryArg::Chunked => Delivery::Chunked,
        DeliveryArg::Whole => Delivery::Whole,
    };
    let connection = Config {
        max_message: args.max_message,
        delivery,
        ping_interval: (args.ping_interval > 0.0).then(|| seconds(args.ping_interval)),
        pong_timeout: seconds(args.pong_timeout),
        close_timeout: seconds(args.close_timeout),
    };
    let rx_buffer = args.rx_buffer.unwrap_or_else(|| default_rx_buffer(args));
    connection.check_buffer(rx_buffer).map_err(|e| format!("--rx-buffer: {e}"))?;
    let head_bound =
        espws::ServeConfig { max_request_head: args.max_request_head, ..espws::ServeConfig::DEFAULT };
    head_bound.check().map_err(|e| format!("--max-request-head: {e}"))?;
    // Inflated messages are delivered in chunks from the inflate window, never whole.
    if args.deflate && delivery == Delivery::Whole {
        let why = if uses_hub { "this app delivers whole messages" } else { "--delivery whole" };
        return Err(format!("--deflate needs chunked delivery, and {why}: drop --deflate"));
    }
    let deflate = if args.no_deflate || delivery == Delivery::Whole {
        DeflateConfig::OFF
    } else {
        DeflateConfig {
            client_max_window_bits: args.deflate_window,
            server_max_window_bits: args.deflate_window,
            ..DeflateConfig::FULL
        }
    };
    let leak = |list: &[String]| -> &'static [&'static str] {
        list.iter().map(|s| &*Box::leak(s.clone().into_boxed_str())).collect::<Vec<_>>().leak()
    };
    Ok(Settings {
        app,
        tick,
        hub_queue: args.queue_bytes,
        sensor_rate_hz: args.rate,
        tls: args.serves_tls(),
        port: args.port,
        max_clients: args.max_clients,
        rx_buffer,
        max_request_head: args.max_request_head,
        handshake_timeout: seconds(args.handshake_timeout),
        write_timeout: seconds(args.write_timeout),
        connection,
        policy: Policy {
            allowed_origins: leak(&args.allowed_origins),
            token: args.token.clone().map(|t| &*Box::leak(t.into_boxed_str())),
            protocols: leak(&args.protocols),
            deflate,
        },
    })
}

/// Tells the user where to point a browser and a client, never printing the token, once the
/// port is bound; a certificate made at start-up is written out then, for clients to trust, and
/// a handle on its file is returned for the signal thread, whose exits run no drop.
fn announce(
    args: &Args,
    settings: &Settings<'_>,
    addr: std::net::SocketAddr,
) -> std::io::Result<Option<tls::PublishedFile>> {
    let mut tls_file = None;
    if let Some(tls) = &args.tls {
        tls.publish(addr.port()).map_err(std::io::Error::other)?;
        tls_file = tls.published_file();
    }
    let runtime = args.runtime.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default();
    let app = args.app.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default();
    log::info!("espws-sim {} running the {app} app on the {runtime} runtime", env!("CARGO_PKG_VERSION"));
    if settings.app == App::Sensor {
        log::info!(
            "sensor readings {} times a second to every client; commands are acknowledged",
            settings.sensor_rate_hz
        );
    }
    if let Some(tick) = settings.tick {
        log::info!("status ticks every {} ms to every client", tick.as_millis());
    }
    if settings.uses_hub() {
        log::info!(
            "hub: {} bytes of queue per client; a client that falls further behind is closed with 1008",
            settings.hub_queue
        );
    }
    let host = if addr.ip().is_unspecified() {
        log::info!(
            "listening on port {} of every interface; from elsewhere use this machine's address",
            addr.port()
        );
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    let token_hint = if settings.policy.token.is_some() { "?token=<your token>" } else { "" };
    let (http, ws) = if args.tls.is_some() { ("https", "wss") } else { ("http", "ws") };
    log::info!("console: open {http}://{host}/{token_hint} in a browser");
    log::info!("WebSocket URL: {ws}://{host}/ws{token_hint} (upgrades are accepted on any path)");
    if settings.policy.token.is_some() {
        log::info!("clients must present the token (Authorization: Bearer, or ?token=)");
    }
    let deflate = settings.policy.deflate;
    if deflate.enabled {
        log::info!(
            "permessage-deflate on: windows of up to 2^{} bytes (--no-deflate turns it off)",
            deflate.client_max_window_bits
        );
    } else if !args.no_deflate {
        log::info!("permessage-deflate off: it needs chunked delivery");
    }
    if !settings.policy.protocols.is_empty() {
        log::info!("subprotocols: {}", settings.policy.protocols.join(", "));
    }
    if settings.connection.delivery == Delivery::Whole {
        let fits = settings.connection.effective_max_message(settings.rx_buffer);
        if fits < settings.connection.max_message {
            log::warn!(
                "whole delivery with a {} byte buffer limits messages to {fits} bytes",
                settings.rx_buffer
            );
        }
    }
    log::info!(
        "limits: {} clients, {} byte messages, {} byte receive buffers, {} byte request heads; ping after {}s idle, drop after {}s more",
        settings.max_clients,
        settings.connection.max_message,
        settings.rx_buffer,
        settings.serve_config().effective_max_request_head(),
        args.ping_interval,
        args.pong_timeout
    );
    Ok(tls_file)
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut args = Args::parse();
    let settings = match settings(&args).and_then(|s| Ok((s, tls::config(&args)?))) {
        Ok((_, Some(_))) if args.runtime == RuntimeArg::EmbassyTap && !cfg!(feature = "mbedtls") => {
            eprintln!("espws-sim: TLS on --runtime embassy-tap is mbedTLS, as on bare metal, and this build has none: build with `--features mbedtls` (mbedTLS is compiled with clang, cmake and ninja: apt-get install clang cmake ninja-build), or use --runtime threads or tokio");
            return ExitCode::from(2);
        }
        Ok((settings, tls)) => {
            args.tls = tls;
            settings
        }
        Err(message) => {
            eprintln!("espws-sim: {message}");
            return ExitCode::from(2);
        }
    };
    if let Some(url) = &args.connect {
        return match connect::run(&args, url, &settings) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("espws-sim: {message}");
                ExitCode::from(2)
            }
        };
    }
    let hub = settings.uses_hub().then(|| DeviceHub::leak(settings.max_clients, settings.hub_queue));
    let result = match args.runtime {
        RuntimeArg::Threads => runtime::threads::run(&args, Device::new(settings, hub)),
        RuntimeArg::Tokio => runtime::tokio::run(&args, Device::new(settings, hub)),
        RuntimeArg::EmbassyTap => runtime::embassy_tap::run(&args, Device::new(settings, hub)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("espws-sim: cannot serve on port {}: {e}", args.port);
            if e.kind() == std::io::ErrorKind::AddrInUse {
                eprintln!("espws-sim: is another server using that port? Choose another with --port.");
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_from(flags: &[&str]) -> Result<Settings<'static>, String> {
        settings(&Args::parse_from(std::iter::once("espws-sim").chain(flags.iter().copied())))
    }

    #[test]
    fn the_receive_buffer_defaults_to_256_kib_where_idle_connections_hold_none() {
        let rx = |flags: &[&str]| settings_from(flags).map(|s| s.rx_buffer);
        assert_eq!(rx(&["--runtime", "tokio"]), Ok(256 * 1024));
        assert_eq!(rx(&["--runtime", "threads"]), Ok(64 * 1024));
        assert_eq!(rx(&["--runtime", "embassy-tap"]), Ok(64 * 1024));
        assert_eq!(rx(&["--runtime", "tokio", "--tls-self-signed"]), Ok(64 * 1024), "TLS keeps its buffer");
        assert_eq!(rx(&["--runtime", "tokio", "--rx-buffer", "4096"]), Ok(4096), "a given size wins");
    }

    #[test]
    fn a_request_head_bound_below_the_minimum_is_refused_with_the_flag_named() {
        let error = settings_from(&["--max-request-head", "100"]).err().unwrap_or_default();
        assert!(error.starts_with("--max-request-head: "), "{error}");
        let head = settings_from(&["--max-request-head", "32768"]).map(|s| s.max_request_head);
        assert_eq!(head, Ok(32768));
    }
}
