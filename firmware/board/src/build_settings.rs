//! The device's [`Settings`] from the strings the firmware was built with.
//!
//! A device has no command line: the firmware crates read these variables with `option_env!`
//! at build time and hand them to [`settings`], a `const fn`, so that a bad value stops the
//! build with a message instead of a device that misbehaves in the field. Unset variables keep
//! [`Settings::device_defaults`].
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `ESPWS_APP` | `echo` | `echo`, `broadcast` or `sensor` (10 readings a second) |
//! | `ESPWS_MAX_CLIENTS` | 8 (with TLS [`TLS_DEFAULT_MAX_CLIENTS`]) | clients served at once, 1 to [`MAX_CLIENTS_LIMIT`]; one more gets 503 |
//! | `ESPWS_RX_BUFFER` | 4096 | receive buffer per client, bytes (at least 256) |
//! | `ESPWS_TICK_MS` | unset | push a JSON status message to every client this often |
//! | `ESPWS_HUB_QUEUE` | 8192 | bytes each client may have queued by broadcasts and ticks |
//! | `ESPWS_PORT` | 80 | TCP port of the console and the WebSocket |
//! | `ESPWS_TOKEN` | unset | require `Authorization: Bearer …` or `?token=…` |
//! | `ESPWS_MAX_MESSAGE` | 1048576 | the largest message, bytes (at least 1) |
//! | `ESPWS_PING_INTERVAL` | 15 | seconds of silence before a ping; 0 disables pings |
//! | `ESPWS_PONG_TIMEOUT` | 10 | seconds a pinged client has to send anything |
//! | `ESPWS_HANDSHAKE_TIMEOUT` | 5 | seconds for the request head to arrive |
//! | `ESPWS_TLS_CERT`, `ESPWS_TLS_KEY` | unset | serve https and wss with this ECDSA P-256 certificate and key (PEM files; the port is then 443 and the clients [`TLS_DEFAULT_MAX_CLIENTS`] unless `ESPWS_PORT` and `ESPWS_MAX_CLIENTS` are set) |
//!
//! As in the simulator, a device that broadcasts or sends ticks delivers messages whole, so
//! that a hub message never falls between the fragments of a reply.

use core::time::Duration;

use espws::proto::{Config, Delivery};

use espws_apps::settings::{App, Settings};

/// The most clients a build may ask for. Each costs a task (bare metal) or a thread (ESP-IDF)
/// and its buffers; see `firmware/README.md` for what fits.
pub const MAX_CLIENTS_LIMIT: usize = 32;
/// Clients served at once with TLS unless `ESPWS_MAX_CLIENTS` says otherwise: each costs about
/// 30 KiB more of mbedTLS's heap, and this is the most that fit ESP-IDF's heap in both Wi-Fi
/// modes (`budget::esp_idf` asserts that they fit; firmware/README.md has the table).
pub const TLS_DEFAULT_MAX_CLIENTS: usize = 2;
/// The largest hub queue per client, bytes.
pub const MAX_HUB_QUEUE: usize = 1 << 20;
/// The largest receive buffer per client, bytes.
pub const MAX_RX_BUFFER: usize = 1 << 20;
/// The longest token, bytes.
pub const MAX_TOKEN: usize = 128;
/// The largest message a build may allow, bytes (what Autobahn's largest cases send).
pub const MAX_MESSAGE_LIMIT: usize = 1 << 24;
/// The longest timer a build may set, seconds (a day).
pub const MAX_TIMER_SECS: u64 = 24 * 60 * 60;
/// The smallest hub queue: one frame header, its length prefix and a byte of payload.
pub const MIN_HUB_QUEUE: usize = espws::wire::frame::MAX_HEADER_LEN + 5;

/// The build-time variable a value came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SettingsVar {
    /// `ESPWS_APP`.
    App,
    /// `ESPWS_MAX_CLIENTS`.
    MaxClients,
    /// `ESPWS_RX_BUFFER`.
    RxBuffer,
    /// `ESPWS_TICK_MS`.
    TickMs,
    /// `ESPWS_HUB_QUEUE`.
    HubQueue,
    /// `ESPWS_PORT`.
    Port,
    /// `ESPWS_TOKEN`.
    Token,
    /// `ESPWS_MAX_MESSAGE`.
    MaxMessage,
    /// `ESPWS_PING_INTERVAL`.
    PingInterval,
    /// `ESPWS_PONG_TIMEOUT`.
    PongTimeout,
    /// `ESPWS_HANDSHAKE_TIMEOUT`.
    HandshakeTimeout,
}

impl SettingsVar {
    /// The variable's name.
    pub const fn name(self) -> &'static str {
        match self {
            SettingsVar::App => "ESPWS_APP",
            SettingsVar::MaxClients => "ESPWS_MAX_CLIENTS",
            SettingsVar::RxBuffer => "ESPWS_RX_BUFFER",
            SettingsVar::TickMs => "ESPWS_TICK_MS",
            SettingsVar::HubQueue => "ESPWS_HUB_QUEUE",
            SettingsVar::Port => "ESPWS_PORT",
            SettingsVar::Token => "ESPWS_TOKEN",
            SettingsVar::MaxMessage => "ESPWS_MAX_MESSAGE",
            SettingsVar::PingInterval => "ESPWS_PING_INTERVAL",
            SettingsVar::PongTimeout => "ESPWS_PONG_TIMEOUT",
            SettingsVar::HandshakeTimeout => "ESPWS_HANDSHAKE_TIMEOUT",
        }
    }
}

/// Why a build-time value cannot be used.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SettingsError {
    /// Not a decimal number.
    NotANumber(SettingsVar),
    /// A number outside the variable's range.
    OutOfRange(SettingsVar),
    /// `ESPWS_APP` is not `echo`, `broadcast` or `sensor`.
    UnknownApp,
    /// `ESPWS_TOKEN` is empty, too long, or has a space or a character outside printable ASCII.
    BadToken,
}

impl SettingsError {
    /// What went wrong and the accepted values, in one sentence (a `const fn`, so that a build
    /// can stop with it).
    pub const fn message(self) -> &'static str {
        use SettingsError::*;
        use SettingsVar as V;
        match self {
            NotANumber(V::MaxClients) | OutOfRange(V::MaxClients) => {
                "ESPWS_MAX_CLIENTS must be a number from 1 to 32"
            }
            NotANumber(V::RxBuffer) | OutOfRange(V::RxBuffer) => {
                "ESPWS_RX_BUFFER must be a number of bytes from 256 to 1048576"
            }
            NotANumber(V::TickMs) | OutOfRange(V::TickMs) => {
                "ESPWS_TICK_MS must be a number of milliseconds from 1 to 86400000 (unset it for no ticks)"
            }
            NotANumber(V::HubQueue) | OutOfRange(V::HubQueue) => {
                "ESPWS_HUB_QUEUE must be a number of bytes from 19 to 1048576"
            }
            NotANumber(V::Port) | OutOfRange(V::Port) => "ESPWS_PORT must be a TCP port from 1 to 65535",
            NotANumber(V::MaxMessage) | OutOfRange(V::MaxMessage) => {
                "ESPWS_MAX_MESSAGE must be a number of bytes from 1 to 16777216"
            }
            NotANumber(V::PingInterval) | OutOfRange(V::PingInterval) => {
                "ESPWS_PING_INTERVAL must be a number of seconds from 0 (no pings) to 86400"
            }
            NotANumber(V::PongTimeout) | OutOfRange(V::PongTimeout) => {
                "ESPWS_PONG_TIMEOUT must be a number of seconds from 1 to 86400"
            }
            NotANumber(V::HandshakeTimeout) | OutOfRange(V::HandshakeTimeout) => {
                "ESPWS_HANDSHAKE_TIMEOUT must be a number of seconds from 1 to 86400"
            }
            NotANumber(_) | OutOfRange(_) | UnknownApp => "ESPWS_APP must be echo, broadcast or sensor",
            BadToken => "ESPWS_TOKEN must be 1 to 128 printable ASCII characters without spaces",
        }
    }
}

impl core::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for SettingsError {}

/// The settings strings the firmware was built with, each `None` when unset.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingsStrings<'a> {
    /// `ESPWS_APP`.
    pub app: Option<&'a str>,
    /// `ESPWS_MAX_CLIENTS`.
    pub max_clients: Option<&'a str>,
    /// `ESPWS_RX_BUFFER`.
    pub rx_buffer: Option<&'a str>,
    /// `ESPWS_TICK_MS`.
    pub tick_ms: Option<&'a str>,
    /// `ESPWS_HUB_QUEUE`.
    pub hub_queue: Option<&'a str>,
    /// `ESPWS_PORT`.
    pub port: Option<&'a str>,
    /// `ESPWS_TOKEN`.
    pub token: Option<&'a str>,
    /// `ESPWS_MAX_MESSAGE`.
    pub max_message: Option<&'a str>,
    /// `ESPWS_PING_INTERVAL`.
    pub ping_interval: Option<&'a str>,
    /// `ESPWS_PONG_TIMEOUT`.
    pub pong_timeout: Option<&'a str>,
    /// `ESPWS_HANDSHAKE_TIMEOUT`.
    pub handshake_timeout: Option<&'a str>,
    /// `ESPWS_TLS_CERT`: set, the device serves https and wss (the build script embeds the file).
    pub tls_cert: Option<&'a str>,
}

impl<'a> SettingsStrings<'a> {
    /// Nothing set, usable in a `const` (where `Default::default()` is not).
    pub const EMPTY: Self = SettingsStrings {
        app: None,
        max_clients: None,
        rx_buffer: None,
        tick_ms: None,
        hub_queue: None,
        port: None,
        token: None,
        max_message: None,
        ping_interval: None,
        pong_timeout: None,
        handshake_timeout: None,
        tls_cert: None,
    };

    /// The settings, or the first value that cannot be used.
    pub const fn settings(&self) -> Result<Settings<'a>, SettingsError> {
        settings(self)
    }

    /// The settings, stopping the build with the error's message when a value cannot be used:
    /// call it in a `const` of the firmware crate.
    pub const fn unwrap_or_stop(&self) -> Settings<'a> {
        match settings(self) {
            Ok(settings) => settings,
            Err(e) => panic!("{}", e.message()),
        }
    }
}

/// [`Settings::device_defaults`] with every variable that is set applied.
pub const fn settings<'a>(strings: &SettingsStrings<'a>) -> Result<Settings<'a>, SettingsError> {
    let mut s = Settings::device_defaults();
    if strings.tls_cert.is_some() {
        // https's port and the clients that fit with TLS, unless ESPWS_PORT and
        // ESPWS_MAX_CLIENTS say otherwise below.
        s.tls = true;
        s.port = 443;
        s.max_clients = TLS_DEFAULT_MAX_CLIENTS;
    }
    if let Some(app) = strings.app {
        s.app = if eq_ignore_ascii_case(app, "echo") {
            App::Echo
        } else if eq_ignore_ascii_case(app, "broadcast") {
            App::Broadcast
        } else if eq_ignore_ascii_case(app, "sensor") {
            App::Sensor
        } else {
            return Err(SettingsError::UnknownApp);
        };
    }
    if let Some(text) = strings.max_clients {
        match number(SettingsVar::MaxClients, text, 1, MAX_CLIENTS_LIMIT as u64) {
            Ok(n) => s.max_clients = n as usize,
            Err(e) => return Err(e),
        }
    }
    if let Some(text) = strings.rx_buffer {
        match number(SettingsVar::RxBuffer, text, Config::MIN_BUFFER as u64, MAX_RX_BUFFER as u64) {
            Ok(n) => s.rx_buffer = n as usize,
            Err(e) => return Err(e),
        }
    }
    if let Some(text) = strings.tick_ms {
        match number(SettingsVar::TickMs, text, 1, 24 * 60 * 60 * 1000) {
            Ok(n) => s.tick = Some(Duration::from_millis(n)),
            Err(e) => return Err(e),
        }
    }
    if let Some(text) = strings.hub_queue {
        match number(SettingsVar::HubQueue, text, MIN_HUB_QUEUE as u64, MAX_HUB_QUEUE as u64) {
            Ok(n) => s.hub_queue = n as usize,
            Err(e) => return Err(e),
        }
    }
    if let Some(text) = strings.port {
        match number(SettingsVar::Port, text, 1, u16::MAX as u64) {
            Ok(n) => s.port = n as u16,
            Err(e) => return Err(e),
        }
    }
    if let Some(token) = strings.token {
        if !token_ok(token) {
            return Err(SettingsError::BadToken);
        }
        s.policy.token = Some(token);
    }
    if let Some(text) = strings.max_message {
        match number(SettingsVar::MaxMessage, text, 1, MAX_MESSAGE_LIMIT as u64) {
            Ok(n) => s.connection.max_message = n,
            Err(e) => return Err(e),
        }
    }
    if let Some(text) = strings.ping_interval {
        match number(SettingsVar::PingInterval, text, 0, MAX_TIMER_SECS) {
            Ok(0) => s.connection.ping_interval = None,
            Ok(n) => s.connection.ping_interval = Some(Duration::from_secs(n)),
            Err(e) => return Err(e),
        }
    }
    if let Some(text) = strings.pong_timeout {
        match number(SettingsVar::PongTimeout, text, 1, MAX_TIMER_SECS) {
            Ok(n) => s.connection.pong_timeout = Duration::from_secs(n),
            Err(e) => return Err(e),
        }
    }
    if let Some(text) = strings.handshake_timeout {
        match number(SettingsVar::HandshakeTimeout, text, 1, MAX_TIMER_SECS) {
            Ok(n) => s.handshake_timeout = Duration::from_secs(n),
            Err(e) => return Err(e),
        }
    }
    // Messages through the hub are whole, so that none falls between another's fragments.
    if s.uses_hub() {
        s.connection.delivery = Delivery::Whole;
    }
    Ok(s)
}

/// A decimal number from `min` to `max`, surrounding spaces allowed.
const fn number(var: SettingsVar, text: &str, min: u64, max: u64) -> Result<u64, SettingsError> {
    let bytes = text.as_bytes();
    let (mut start, mut end) = (0, bytes.len());
    while start < end && bytes[start] == b' ' {
        start += 1;
    }
    while end > start && bytes[end - 1] == b' ' {
        end -= 1;
    }
    if start == end {
        return Err(SettingsError::NotANumber(var));
    }
    let mut value: u64 = 0;
    let mut i = start;
    while i < end {
        let digit = bytes[i];
        if !digit.is_ascii_digit() {
            return Err(SettingsError::NotANumber(var));
        }
        value = match value.checked_mul(10) {
            Some(v) => match v.checked_add((digit - b'0') as u64) {
                Some(v) => v,
                None => return Err(SettingsError::OutOfRange(var)),
            },
            None => return Err(SettingsError::OutOfRange(var)),
        };
        i += 1;
    }
    if value < min || value > max {
        return Err(SettingsError::OutOfRange(var));
    }
    Ok(value)
}

const fn eq_ignore_ascii_case(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !a[i].eq_ignore_ascii_case(&b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

const fn token_ok(token: &str) -> bool {
    let bytes = token.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_TOKEN {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] <= b' ' || bytes[i] > b'~' {
            return false;
        }
        i += 1;
    }
    true
}

/// The Wi-Fi strings given at build time (`WIFI_SSID`, `WIFI_PASS`, `AP_SSID`, `AP_PASS`).
///
/// A macro so that `option_env!` reads the environment of the firmware crate's build, which
/// cargo then rebuilds when those variables change.
#[macro_export]
macro_rules! wifi_from_build_env {
    () => {
        $crate::provision::WifiStrings {
            wifi_ssid: option_env!("WIFI_SSID"),
            wifi_pass: option_env!("WIFI_PASS"),
            ap_ssid: option_env!("AP_SSID"),
            ap_pass: option_env!("AP_PASS"),
        }
    };
}

/// The device's settings given at build time (`ESPWS_*`), checked when the firmware compiles:
/// a value that cannot work stops the build with the variable's name.
#[macro_export]
macro_rules! settings_from_build_env {
    () => {
        $crate::build_settings::SettingsStrings {
            app: option_env!("ESPWS_APP"),
            max_clients: option_env!("ESPWS_MAX_CLIENTS"),
            rx_buffer: option_env!("ESPWS_RX_BUFFER"),
            tick_ms: option_env!("ESPWS_TICK_MS"),
            hub_queue: option_env!("ESPWS_HUB_QUEUE"),
            port: option_env!("ESPWS_PORT"),
            token: option_env!("ESPWS_TOKEN"),
            max_message: option_env!("ESPWS_MAX_MESSAGE"),
            ping_interval: option_env!("ESPWS_PING_INTERVAL"),
            pong_timeout: option_env!("ESPWS_PONG_TIMEOUT"),
            handshake_timeout: option_env!("ESPWS_HANDSHAKE_TIMEOUT"),
            tls_cert: option_env!("ESPWS_TLS_CERT"),
        }
        .unwrap_or_stop()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_environment_macros_expand_to_checked_values() {
        // Unset variables give the device's defaults.
        let settings = crate::settings_from_build_env!();
        assert!(settings.max_clients >= 1);
        let wifi = crate::wifi_from_build_env!();
        wifi.assert_valid();
    }

    #[test]
    fn nothing_set_gives_the_device_defaults() {
        let s = settings(&SettingsStrings::default()).unwrap();
        let d = Settings::device_defaults();
        assert_eq!((s.app, s.port, s.max_clients, s.rx_buffer), (d.app, d.port, d.max_clients, d.rx_buffer));
        assert_eq!((s.tick, s.hub_queue, s.policy.token), (None, d.hub_queue, None));
        assert_eq!(s.connection, d.connection);
        assert_eq!(s.connection.delivery, Delivery::Chunked);
        assert!(!s.uses_hub());
    }

    #[test]
    fn a_tls_certificate_serves_on_port_443_unless_a_port_is_given() {
        let tls = SettingsStrings { tls_cert: Some("device.pem"), ..SettingsStrings::EMPTY };
        assert_eq!(settings(&tls).unwrap().port, 443);
        assert_eq!(settings(&SettingsStrings { port: Some("8443"), ..tls }).unwrap().port, 8443);
        assert_eq!(settings(&SettingsStrings::EMPTY).unwrap().port, 80);
    }

    #[test]
    fn a_tls_certificate_serves_fewer_clients_unless_a_count_is_given() {
        let tls = SettingsStrings { tls_cert: Some("device.pem"), ..SettingsStrings::EMPTY };
        assert_eq!(settings(&tls).unwrap().max_clients, TLS_DEFAULT_MAX_CLIENTS);
        assert_eq!(settings(&SettingsStrings { max_clients: Some("3"), ..tls }).unwrap().max_clients, 3);
        assert_eq!(settings(&SettingsStrings::EMPTY).unwrap().max_clients, 8);
    }

    #[test]
    fn every_variable_is_applied() {
        let s = settings(&SettingsStrings {
            app: Some("Broadcast"),
            max_clients: Some("4"),
            rx_buffer: Some(" 2048 "),
            tick_ms: Some("1000"),
            hub_queue: Some("4096"),
            port: Some("8080"),
            token: Some("s3cret/+"),
            max_message: Some("16777216"),
            ping_interval: Some("2"),
            pong_timeout: Some("3"),
            handshake_timeout: Some("4"),
            tls_cert: Some("device.pem"),
        })
        .unwrap();
        assert!(s.tls, "a certificate means https and wss");
        assert_eq!(s.shared_rx_buffers(), 0, "TLS connections keep their buffers");
        assert_eq!(s.app, App::Broadcast);
        assert_eq!((s.max_clients, s.rx_buffer, s.hub_queue, s.port), (4, 2048, 4096, 8080));
        assert_eq!(s.tick, Some(Duration::from_secs(1)));
        assert_eq!(s.policy.token, Some("s3cret/+"));
        assert_eq!(s.connection.max_message, 1 << 24);
        assert_eq!(s.connection.ping_interval, Some(Duration::from_secs(2)));
        assert_eq!(s.connection.pong_timeout, Duration::from_secs(3));
        assert_eq!(s.handshake_timeout, Duration::from_secs(4));
        let no_pings = settings(&SettingsStrings { ping_interval: Some("0"), ..Default::default() }).unwrap();
        assert_eq!(no_pings.connection.ping_interval, None);
    }

    #[test]
    fn the_hub_makes_delivery_whole() {
        let broadcast = settings(&SettingsStrings { app: Some("broadcast"), ..Default::default() }).unwrap();
        assert_eq!(broadcast.connection.delivery, Delivery::Whole);
        let sensor = settings(&SettingsStrings { app: Some("sensor"), ..Default::default() }).unwrap();
        assert_eq!((sensor.app, sensor.sensor_rate_hz), (App::Sensor, espws_apps::sensor::DEFAULT_RATE_HZ));
        assert_eq!(sensor.connection.delivery, Delivery::Whole);
        let ticks = settings(&SettingsStrings { tick_ms: Some("500"), ..Default::default() }).unwrap();
        assert_eq!(ticks.connection.delivery, Delivery::Whole);
        assert!(ticks.uses_hub());
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: [(SettingsStrings<'_>, SettingsError); 16] = [
            (SettingsStrings { app: Some("chat"), ..Default::default() }, SettingsError::UnknownApp),
            (
                SettingsStrings { max_clients: Some("0"), ..Default::default() },
                SettingsError::OutOfRange(SettingsVar::MaxClients),
            ),
            (
                SettingsStrings { max_clients: Some("33"), ..Default::default() },
                SettingsError::OutOfRange(SettingsVar::MaxClients),
            ),
            (
                SettingsStrings { max_clients: Some("eight"), ..Default::default() },
                SettingsError::NotANumber(SettingsVar::MaxClients),
            ),
            (
                SettingsStrings { max_clients: Some(""), ..Default::default() },
                SettingsError::NotANumber(SettingsVar::MaxClients),
            ),
            (
                SettingsStrings { max_clients: Some("99999999999999999999999"), ..Default::default() },
                SettingsError::OutOfRange(SettingsVar::MaxClients),
            ),
            (
                SettingsStrings { rx_buffer: Some("255"), ..Default::default() },
                SettingsError::OutOfRange(SettingsVar::RxBuffer),
            ),
            (
                SettingsStrings { tick_ms: Some("0"), ..Default::default() },
                SettingsError::OutOfRange(SettingsVar::TickMs),
            ),
            (
                SettingsStrings { hub_queue: Some("18"), ..Default::default() },
                SettingsError::OutOfRange(SettingsVar::HubQueue),
            ),
            (
                SettingsStrings { port: Some("65536"), ..Default::default() },
                SettingsError::OutOfRange(SettingsVar::Port),
            ),
            (
                SettingsStrings { port: Some("-1"), ..Default::default() },
                SettingsError::NotANumber(SettingsVar::Port),
            ),
            (SettingsStrings { token: Some("two words"), ..Default::default() }, SettingsError::BadToken),
            (
                SettingsStrings { max_message: Some("16777217"), ..Default::default() },
                SettingsError::OutOfRange(SettingsVar::MaxMessage),
            ),
            (
                SettingsStrings { ping_interval: Some("86401"), ..Default::default() },
                SettingsError::OutOfRange(SettingsVar::PingInterval),
            ),
            (
                SettingsStrings { pong_timeout: Some("0"), ..Default::default() },
                SettingsError::OutOfRange(SettingsVar::PongTimeout),
            ),
            (
                SettingsStrings { handshake_timeout: Some("1s"), ..Default::default() },
                SettingsError::NotANumber(SettingsVar::HandshakeTimeout),
            ),
        ];
        for (strings, expected) in cases {
            let err = settings(&strings).unwrap_err();
            assert_eq!(err, expected, "{strings:?}");
            let name = match err {
                SettingsError::NotANumber(var) | SettingsError::OutOfRange(var) => var.name(),
                SettingsError::UnknownApp => SettingsVar::App.name(),
                SettingsError::BadToken => SettingsVar::Token.name(),
            };
            assert!(err.message().starts_with(name), "{err:?}: {}", err.message());
        }
        assert_eq!(
            settings(&SettingsStrings { token: Some(""), ..Default::default() }).unwrap_err(),
            SettingsError::BadToken
        );
        let long = "t".repeat(MAX_TOKEN + 1);
        assert_eq!(
            settings(&SettingsStrings { token: Some(&long), ..Default::default() }).unwrap_err(),
            SettingsError::BadToken
        );
    }

    #[test]
    fn the_messages_quote_the_real_limits() {
        use std::string::ToString;
        let message = |var| SettingsError::OutOfRange(var).message();
        assert!(message(SettingsVar::MaxClients).ends_with(&std::format!("1 to {MAX_CLIENTS_LIMIT}")));
        assert!(message(SettingsVar::RxBuffer)
            .contains(&std::format!("{} to {MAX_RX_BUFFER}", Config::MIN_BUFFER)));
        assert!(message(SettingsVar::HubQueue).contains(&std::format!("{MIN_HUB_QUEUE} to {MAX_HUB_QUEUE}")));
        assert!(SettingsError::BadToken.message().contains(&MAX_TOKEN.to_string()));
    }

    #[test]
    fn the_settings_are_made_at_compile_time() {
        const S: Settings<'static> =
            SettingsStrings { max_clients: Some("3"), token: Some("abc"), ..SettingsStrings::EMPTY }
                .unwrap_or_stop();
        assert_eq!((S.max_clients, S.policy.token), (3, Some("abc")));
    }

    #[test]
    fn unwrap_or_stop_panics_with_the_message() {
        let payload = std::panic::catch_unwind(|| {
            SettingsStrings { port: Some("0"), ..Default::default() }.unwrap_or_stop();
        })
        .unwrap_err();
        assert_eq!(
            payload.downcast_ref::<std::string::String>().map(|s| s.as_str()),
            Some(SettingsError::OutOfRange(SettingsVar::Port).message())
        );
    }
}
