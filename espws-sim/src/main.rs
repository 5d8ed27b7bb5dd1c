//! espws-sim: runs the device's applications on a PC, over the same library code.

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use espws::proto::{Config, Delivery};
use espws::server::{Client, Server, ServerConfig, ServerSocket, Service};
use espws::wire::http::{Request, Response};

/// The espws device simulator: the firmware's WebSocket applications, on your PC.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on; 0.0.0.0 makes the simulator reachable from other machines.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// TCP port for the WebSocket endpoint.
    #[arg(long, default_value_t = 9998)]
    port: u16,
    /// Clients served at once; one more gets HTTP 503.
    #[arg(long, default_value_t = 8)]
    max_clients: usize,
    /// Largest message accepted, in bytes; larger ones close with 1009.
    #[arg(long, default_value_t = 1 << 20)]
    max_message: u64,
    /// Receive buffer per client, in bytes.
    #[arg(long, default_value_t = 16 * 1024)]
    rx_buffer: usize,
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
}

/// Seconds from the command line, checked by `positive_seconds`, as a duration.
fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

fn positive_seconds(name: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(format!("--{name} must be a number of seconds, 0 or more (got {value})"))
    }
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum DeliveryArg {
    Chunked,
    Whole,
}

struct Echo;

impl Service for Echo {
    fn http(&self, req: &Request<'_, '_>) -> Response<'_> {
        espws_apps::routes::route(req)
    }

    fn websocket(&self, ws: &mut ServerSocket, _client: &Client) {
        espws_apps::echo::run_blocking(ws);
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    for (name, value) in [
        ("ping-interval", args.ping_interval),
        ("pong-timeout", args.pong_timeout),
        ("handshake-timeout", args.handshake_timeout),
        ("write-timeout", args.write_timeout),
        ("close-timeout", args.close_timeout),
    ] {
        if let Err(message) = positive_seconds(name, value) {
            eprintln!("espws-sim: {message}");
            return ExitCode::from(2);
        }
    }
    let delivery = match args.delivery {
        DeliveryArg::Chunked => Delivery::Chunked,
        DeliveryArg::Whole => Delivery::Whole,
    };
    let config = ServerConfig {
        max_clients: args.max_clients,
        rx_buffer: args.rx_buffer,
        handshake_timeout: seconds(args.handshake_timeout),
        write_timeout: seconds(args.write_timeout),
        connection: Config {
            max_message: args.max_message,
            delivery,
            ping_interval: (args.ping_interval > 0.0).then(|| seconds(args.ping_interval)),
            pong_timeout: seconds(args.pong_timeout),
            close_timeout: seconds(args.close_timeout),
        },
        allowed_origins: args.allowed_origins.clone(),
        token: args.token.clone(),
        protocols: args.protocols.clone(),
        ..ServerConfig::default()
    };
    if delivery == Delivery::Whole {
        let fits = config.connection.effective_max_message(config.rx_buffer);
        if fits < args.max_message {
            log::warn!(
                "whole delivery with a {} byte buffer limits messages to {fits} bytes",
                args.rx_buffer
            );
        }
    }
    let server = match Server::bind((args.bind, args.port), config, Echo) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("espws-sim: cannot listen on {}:{}: {e}", args.bind, args.port);
            if e.kind() == std::io::ErrorKind::AddrInUse {
                eprintln!("espws-sim: is another server using that port? Choose another with --port.");
            }
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr().expect("a bound listener has an address");
    log::info!("espws-sim {} running the echo app", env!("CARGO_PKG_VERSION"));
    let host = if addr.ip().is_unspecified() {
        log::info!(
            "listening on port {} of every interface; from elsewhere use this machine's address",
            addr.port()
        );
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    let token_hint = if args.token.is_some() { "?token=<your token>" } else { "" };
    log::info!("console: open http://{host}/{token_hint} in a browser");
    log::info!("WebSocket URL: ws://{host}/ws{token_hint} (upgrades are accepted on any path)");
    if args.token.is_some() {
        log::info!("clients must present the token (Authorization: Bearer, or ?token=)");
    }
    if !args.protocols.is_empty() {
        log::info!("subprotocols: {}", args.protocols.join(", "));
    }
    log::info!(
        "limits: {} clients, {} byte messages, {} byte receive buffers; ping after {}s idle, drop after {}s more",
        args.max_clients,
        args.max_message,
        args.rx_buffer,
        args.ping_interval,
        args.pong_timeout
    );
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("espws-sim: server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
