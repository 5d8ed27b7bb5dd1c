//! The device's configuration, shared by the simulator's flags and the firmware's build-time
//! settings, with the defaults both use.

use core::time::Duration;

use espws::proto::deflate::DeflateConfig;
use espws::proto::handshake::Policy;
use espws::proto::Config;
use espws::ServeConfig;

/// Which application the device runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum App {
    /// Every message goes back to its sender.
    Echo,
    /// Every message goes to every connected client, like a chat.
    Broadcast,
    /// Simulated readings to every client ([`Settings::sensor_rate_hz`] a second); commands
    /// are acknowledged.
    Sensor,
}

/// Everything a device (or the simulator) is configured with.
#[derive(Copy, Clone, Debug)]
pub struct Settings<'a> {
    /// The application.
    pub app: App,
    /// TCP port of the console and the WebSocket.
    pub port: u16,
    /// Clients served at once; one more gets 503.
    pub max_clients: usize,
    /// Receive buffer per client, in bytes.
    pub rx_buffer: usize,
    /// The largest request head accepted, in bytes (431 above it, or above `rx_buffer`).
    pub max_request_head: usize,
    /// Time allowed for a request head to arrive.
    pub handshake_timeout: Duration,
    /// How long a write may block on a client that stopped reading.
    pub write_timeout: Duration,
    /// Limits and timers of each WebSocket connection.
    pub connection: Config,
    /// Origins, token and subprotocols.
    pub policy: Policy<'a>,
    /// Push a JSON status message to every client this often.
    pub tick: Option<Duration>,
    /// Bytes each client may have waiting in the hub before it counts as too slow (1008).
    pub hub_queue: usize,
    /// Readings per second of the sensor app. Not in [`App`], which every connection's task
    /// keeps a copy of: a one-byte enum keeps the bare-metal task pool at its measured size.
    pub sensor_rate_hz: u16,
    /// Serve https and wss: the firmware embedded a certificate. A TLS connection keeps its
    /// receive buffer while it waits (TLS may hold decrypted bytes no socket readiness shows),
    /// so the workers share none.
    pub tls: bool,
}

impl Settings<'_> {
    /// Whether connections join the message hub: to broadcast, to receive readings or status
    /// ticks.
    pub const fn uses_hub(&self) -> bool {
        matches!(self.app, App::Broadcast | App::Sensor) || self.tick.is_some()
    }

    /// Receive buffers the embassy-net workers share (`espws::nonblocking::BufferPool`), each
    /// of `rx_buffer` bytes. With chunked delivery [`SHARED_RX_BUFFERS`], or one per worker if
    /// there are fewer workers; a waiting connection then keeps only a carry of
    /// [`RX_CARRY`] bytes. With whole delivery none: each worker owns a buffer that a whole
    /// message fits in, for its connection's life.
    pub const fn shared_rx_buffers(&self) -> usize {
        match self.connection.delivery {
            _ if self.tls => 0,
            espws::proto::Delivery::Whole => 0,
            _ if self.max_clients + 1 < SHARED_RX_BUFFERS => self.max_clients + 1,
            _ => SHARED_RX_BUFFERS,
        }
    }
}

/// How many connections of a device process input at once with chunked delivery: the shared
/// receive buffers. A connection holds one while its input is parsed and while a write of its
/// waits (a client that stops reading its echoes holds one up to the write timeout); the others
/// wait for one to come back.
pub const SHARED_RX_BUFFERS: usize = 3;

/// What a waiting connection keeps of its input without a shared buffer: a control frame
/// (125 bytes of payload, 6 of header) and the next frame's header, with room to spare.
pub const RX_CARRY: usize = 256;

impl Settings<'_> {
    /// The defaults: the echo app on port 80 for 8 clients with 4 KiB buffers, messages of up to
    /// 1 MiB streamed in chunks, the keepalive and timeouts of [`Config::default`].
    pub const fn device_defaults() -> Self {
        Settings {
            app: App::Echo,
            port: 80,
            max_clients: 8,
            rx_buffer: 4096,
            max_request_head: ServeConfig::DEFAULT.max_request_head,
            handshake_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            connection: Config {
                max_message: 1 << 20,
                delivery: espws::proto::Delivery::Chunked,
                ping_interval: Some(Duration::from_secs(15)),
                pong_timeout: Duration::from_secs(10),
                close_timeout: Duration::from_secs(5),
            },
            policy: Policy { allowed_origins: &[], token: None, protocols: &[], deflate: DeflateConfig::OFF },
            tick: None,
            hub_queue: 8 * 1024,
            sensor_rate_hz: crate::sensor::DEFAULT_RATE_HZ,
            tls: false,
        }
    }
}

impl<'a> Settings<'a> {
    /// How the device's server serves connections, on every runtime.
    pub const fn serve_config(&self) -> ServeConfig<'a> {
        ServeConfig {
            max_clients: self.max_clients,
            rx_buffer: self.rx_buffer,
            max_request_head: self.max_request_head,
            handshake_timeout: self.handshake_timeout,
            write_timeout: self.write_timeout,
            tcp_keepalive: Some(Duration::from_secs(30)),
            connection: self.connection,
            policy: self.policy,
        }
    }
}
