//! How much stack the std server's threads touch, measured on the host: the basis of the ESP-IDF
//! firmware's stack sizes (`espws_board::budget::esp_idf`).
//!
//! As FreeRTOS reports a task's high-water mark, the test paints the unused part of a thread's
//! stack and later finds the deepest byte that changed. The thread is found by its name, its
//! stack pointer read from `/proc/self/task/*/syscall` while it is blocked (waiting for the
//! request head, or for its hub queue), and its stack written and read through
//! `/proc/self/mem`. Then one connection is driven through everything a client can make it do
//! (the console page, a 404, the upgrade, echoes of every frame length class, a fragmented text
//! message, a ping) with a logger that formats every record. What every thread uses before its
//! closure runs (glibc's descriptor and TLS, std's start-up, none of which an ESP-IDF task keeps
//! on its stack) is measured on a probe thread and left out.
//!
//! The host is x86_64: pointers are twice the ESP32's, but Xtensa's register windows add save
//! areas, so the test requires half as much again, plus what ESP-IDF itself uses below our calls
//! (lwIP's socket layer, newlib, the UART driver), to fit the budget.
//!
//! With `--features mbedtls-host`, a third test does the same over TLS: the connection thread
//! runs an mbedTLS server handshake (mbedtls-rs, as `espws::tls::external` lends it the socket;
//! TLS 1.2, then 1.3 on a second connection) before the same client run, which is how
//! `firmware/esp-idf` serves TLS through esp-tls. Its budget also leaves room for esp-tls's own
//! frames and ESP-IDF's accelerated mbedTLS port, which the host does not run.
#![cfg(target_os = "linux")]

// The hub's lock (a Device may own one) on the host.
use critical_section as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use espws::server::{Server, ServerHandle};
use espws::ServeConfig;
use espws_apps::device::Device;
use espws_apps::settings::Settings;
use espws_apps::DeviceHub;
use espws_board::budget::esp_idf;
use espws_board::build_settings::SettingsStrings;

/// Connection threads get a large stack here, so that nothing the measurement misses can overflow.
const MARKER_STACK: usize = 1000 * 1024;

/// The tests run one at a time: each has a thread named `espws-client-1`.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Formats every record, as ESP-IDF's logger does before writing it out.
struct Formatting;

impl log::Log for Formatting {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        std::hint::black_box(line);
    }

    fn flush(&self) {}
}

static LOGGER: Formatting = Formatting;

/// A masked client frame.
fn client_frame(fin_opcode: u8, payload: &[u8]) -> Vec<u8> {
    espws::wire::frame::masked_client_frame(fin_opcode, payload, [0x5a, 0x17, 0xc3, 0x8e])
}

/// Reads one server frame, returning its opcode and payload.
fn read_frame(stream: &mut impl Read) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            stream.read_exact(&mut b).unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            stream.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).unwrap();
    (head[0] & 0x0f, payload)
}

/// Reads frames until `total` payload bytes of data have come back (chunked delivery may
/// re-frame a large message).
fn read_echo(stream: &mut impl Read, total: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < total || total == 0 {
        let (opcode, payload) = read_frame(stream);
        assert!(matches!(opcode, 0..=2), "unexpected opcode {opcode}");
        got.extend_from_slice(&payload);
        if total == 0 {
            break;
        }
    }
    got
}

fn read_http_head(stream: &mut impl Read) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// A thread stack's mapping: its address range.
#[derive(Copy, Clone, Debug)]
struct StackMapping {
    start: u64,
    end: u64,
}

/// The mapping that contains `address`, from /proc/self/maps.
fn mapping_containing(address: u64) -> StackMapping {
    let smaps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mut current: Option<(u64, u64)> = None;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16)) {
                current = (start..end).contains(&address).then_some((start, end));
            }
        }
        if let Some((start, end)) = current {
            return StackMapping { start, end };
        }
    }
    panic!("no mapping contains {address:#x}")
}

/// The stack pointer of the one thread named `name`, which must be blocked in a system call
/// (from /proc/self/task/*/syscall), waiting for a thread of that name to be the only one.
fn blocked_thread_sp(name: &str) -> u64 {
    for _ in 0..500 {
        let mut found = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim() == name {
                let syscall = std::fs::read_to_string(task.path().join("syscall")).unwrap_or_default();
                // "nr arg1 .. arg6 sp pc" while blocked; "running" or "-1 sp pc" otherwise.
                let fields: Vec<&str> = syscall.split_whitespace().collect();
                if fields.len() == 9 {
                    found.push(u64::from_str_radix(fields[7].trim_start_matches("0x"), 16).unwrap());
                } else {
                    found.push(0);
                }
            }
        }
        match found.as_slice() {
            [sp] if *sp != 0 => return *sp,
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    panic!("no single thread named {name} blocked in a system call")
}

const PAINT: u8 = 0xA5;

/// Fills a blocked thread's stack below its stack pointer (less 256 bytes: x86_64's red zone is
/// 128) with [`PAINT`], through /proc/self/mem, as FreeRTOS paints task
/// stacks to report their high-water mark. Returns the stack and the painted range.
fn paint(sp: u64) -> (StackMapping, (u64, u64)) {
    use std::io::{Seek, SeekFrom};
    let stack = mapping_containing(sp);
    let top_of_paint = sp - 256;
    let mut mem = std::fs::OpenOptions::new().write(true).open("/proc/self/mem").unwrap();
    mem.seek(SeekFrom::Start(stack.start)).unwrap();
    mem.write_all(&vec![PAINT; (top_of_paint - stack.start) as usize]).unwrap();
    (stack, (stack.start, top_of_paint))
}

/// How deep the thread has reached since [`paint`]: bytes from the top of the mapping to the
/// lowest byte that is no longer paint (or to the top of the paint, if none changed).
fn depth(stack: StackMapping, painted: (u64, u64)) -> u64 {
    use std::io::{Seek, SeekFrom};
    let mut mem = std::fs::File::open("/proc/self/mem").unwrap();
    mem.seek(SeekFrom::Start(painted.0)).unwrap();
    let mut bytes = vec![0u8; (painted.1 - painted.0) as usize];
    mem.read_exact(&mut bytes).unwrap();
    let lowest = bytes.iter().position(|&b| b != PAINT).map_or(painted.1, |i| painted.0 + i as u64);
    stack.end - lowest
}

/// How much of a thread's stack is taken before its closure runs: glibc's thread descriptor and
/// TLS, and std's thread start-up. An ESP-IDF task keeps neither descriptor nor TLS on its
/// stack, so this part of the host's figure is not the firmware's.
fn thread_start_overhead(probe_stack: usize) -> u64 {
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let probe = std::thread::Builder::new()
        .stack_size(probe_stack)
        .spawn(move || {
            let local = 0u8;
            tx.send(std::hint::black_box(&local) as *const u8 as u64).unwrap();
            // Alive until its stack has been found.
            let _ = done_rx.recv();
        })
        .unwrap();
    let address = rx.recv().unwrap();
    let stack = mapping_containing(address);
    done_tx.send(()).unwrap();
    probe.join().unwrap();
    stack.end - address
}

#[test]
fn a_connection_thread_stays_within_the_esp_idf_stack_budget() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Debug);

    let settings = Settings::device_defaults();
    let (addr, handle, thread) = start(settings.serve_config(), MARKER_STACK, Device::new(settings, None));

    let overhead = thread_start_overhead(700 * 1024);
    let mut stream = connect(addr);
    // The connection thread now waits for the request head; paint what it has not touched.
    let (stack, painted) = paint(blocked_thread_sp("espws-client-1"));

    drive_everything(&mut stream);

    // The thread is parked in its read now, its deepest excursion recorded in the paint.
    // From the top of the mapping, less what every thread takes before its closure runs.
    let total = depth(stack, painted);
    let used = total.saturating_sub(overhead) as usize;
    println!(
        "connection thread: at most {used} bytes of stack on the host ({} build), {total} from the top of \
         which {overhead} before the thread's closure; budget {} with {} for ESP-IDF below our code",
        if cfg!(debug_assertions) { "debug" } else { "release" },
        esp_idf::CONNECTION_STACK,
        esp_idf::BELOW_OUR_CODE
    );
    // 64-bit frames against Xtensa's register-window save areas: half as much again.
    let needed = used * 3 / 2 + esp_idf::BELOW_OUR_CODE;
    let limit =
        if cfg!(debug_assertions) { esp_idf::CONNECTION_STACK_DEBUG } else { esp_idf::CONNECTION_STACK };
    assert!(
        needed <= limit,
        "a connection thread used {used} bytes of stack on the host; with half again and {} for ESP-IDF below \
         our code that is {needed}, past {limit}: raise budget::esp_idf::CONNECTION_STACK (or _DEBUG), and the \
         RAM table in firmware/README.md",
        esp_idf::BELOW_OUR_CODE,
    );

    // A clean close.
    stream.write_all(&client_frame(0x88, &1000u16.to_be_bytes())).unwrap();
    let (opcode, _) = read_frame(&mut stream);
    assert_eq!(opcode, 0x8);
    drop(stream);
    handle.stop();
    thread.join().unwrap().unwrap();
}

#[test]
fn a_hub_draining_thread_stays_within_its_budget() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Debug);

    // The broadcast app: what a client sends comes back through its queue and the draining
    // thread, in whole messages.
    let settings = SettingsStrings { app: Some("broadcast"), ..SettingsStrings::EMPTY }.unwrap_or_stop();
    let hub = DeviceHub::leak(settings.max_clients, settings.hub_queue);
    let (addr, handle, thread) = start(settings.serve_config(), 900 * 1024, Device::new(settings, Some(hub)));

    let overhead = thread_start_overhead(640 * 1024);
    let mut stream = connect(addr);
    upgrade(&mut stream);
    // The draining thread now waits on the queue.
    let (drain, painted) = paint(blocked_thread_sp("espws-hub-1"));

    for len in [0usize, 125, 126, 3000] {
        let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        stream.write_all(&client_frame(0x82, &payload)).unwrap();
        assert_eq!(read_echo(&mut stream, len), payload, "broadcast of {len} bytes");
    }

    let total = depth(drain, painted);
    let used = total.saturating_sub(overhead) as usize;
    let needed = used * 3 / 2 + esp_idf::BELOW_OUR_CODE;
    println!(
        "hub draining thread: at most {used} bytes of stack on the host ({} build); budget {}",
        if cfg!(debug_assertions) { "debug" } else { "release" },
        esp_idf::HUB_DRAIN_STACK
    );
    // Debug frames are several times deeper; the firmware is built for release.
    let limit = if cfg!(debug_assertions) { 4 * esp_idf::HUB_DRAIN_STACK } else { esp_idf::HUB_DRAIN_STACK };
    assert!(
        needed <= limit,
        "a hub draining thread used {used} bytes of stack on the host ({needed} with half again and ESP-IDF's \
         share), past {limit}: raise budget::esp_idf::HUB_DRAIN_STACK and the RAM table in firmware/README.md"
    );

    stream.write_all(&client_frame(0x88, &1000u16.to_be_bytes())).unwrap();
    drop(stream);
    handle.stop();
    thread.join().unwrap().unwrap();
}

/// Drives a connection through everything a client can make it do: the console page, a 404,
/// the upgrade, echoes of every frame length class, a fragmented text message and a ping.
fn drive_everything(stream: &mut (impl Read + Write)) {
    // The console page, gzipped, on a kept-alive connection; then a 404.
    stream.write_all(b"GET / HTTP/1.1\r\nHost: d\r\nAccept-Encoding: gzip\r\n\r\n").unwrap();
    expect_response(stream, "HTTP/1.1 200");
    stream.write_all(b"GET /nothing HTTP/1.1\r\nHost: d\r\n\r\n").unwrap();
    expect_response(stream, "HTTP/1.1 404");

    // The upgrade on the same connection.
    upgrade(stream);

    // Every length class, text and binary, one message larger than the receive buffer,
    // a fragmented text message with a code point split across fragments, and a ping.
    for (opcode, len) in [(1u8, 0usize), (1, 125), (2, 126), (2, 4000), (1, 65_535), (2, 70_000)] {
        let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        stream.write_all(&client_frame(0x80 | opcode, &payload)).unwrap();
        assert_eq!(read_echo(stream, len), payload, "echo of {len} bytes");
    }
    let text = "grüße €".as_bytes();
    stream.write_all(&client_frame(0x01, &text[..4])).unwrap();
    stream.write_all(&client_frame(0x80, &text[4..])).unwrap();
    assert_eq!(read_echo(stream, text.len()), text);
    stream.write_all(&client_frame(0x89, b"are you there")).unwrap();
    assert_eq!(read_frame(stream), (0xA, b"are you there".to_vec()));
}

/// The TLS connection thread's measurement: mbedTLS through mbedtls-rs on the host, as
/// `firmware/esp-idf` serves TLS through esp-tls (mbedTLS too).
#[cfg(feature = "mbedtls-host")]
#[path = "../../../espws/tests/support/mbedtls_acceptor.rs"]
mod mbedtls_acceptor;

#[cfg(feature = "mbedtls-host")]
#[test]
fn a_tls_connection_thread_stays_within_the_esp_idf_tls_stack_budget() {
    use mbedtls_rs::TlsVersion;
    use std::ffi::{CStr, CString};

    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Debug);

    let settings =
        SettingsStrings { tls_cert: Some("device.pem"), ..SettingsStrings::EMPTY }.unwrap_or_stop();
    let pem = |text: &str| -> &'static CStr { Box::leak(CString::new(text).unwrap().into_boxed_c_str()) };
    let acceptor = mbedtls_acceptor::MbedtlsAcceptor {
        cert: pem(include_str!("data/p256-cert.pem")),
        key: pem(include_str!("data/p256-key.pem")),
    };
    let server = Server::bind("127.0.0.1:0", settings.serve_config(), Device::new(settings, None))
        .unwrap()
        .with_thread_stack(MARKER_STACK)
        .with_tls_acceptor(acceptor);
    let (addr, handle) = (server.local_addr().unwrap(), server.handle().unwrap());
    let thread = std::thread::spawn(move || server.run());

    let overhead = thread_start_overhead(700 * 1024);
    // ESP-IDF's mbedTLS serves TLS 1.2 unless CONFIG_MBEDTLS_SSL_PROTO_TLS1_3 is set: both.
    let mut used = 0;
    for (id, version) in [(1, TlsVersion::Tls1_2), (2, TlsVersion::Tls1_3)] {
        let tcp = connect(addr);
        // The thread now waits for the client's first byte, before its handshake.
        let (stack, painted) = paint(blocked_thread_sp(&format!("espws-client-{id}")));
        let mut client = tls_client::TlsClient::connect(tcp, version);
        // The thread waits for the request head once its handshake is over.
        let _ = blocked_thread_sp(&format!("espws-client-{id}"));
        let handshake = depth(stack, painted).saturating_sub(overhead);
        drive_everything(&mut client);
        let this = depth(stack, painted).saturating_sub(overhead) as usize;
        println!(
            "TLS connection thread ({version:?}): {handshake} bytes of stack after the handshake, {this} in all"
        );
        used = used.max(this);
        client.write_all(&client_frame(0x88, &1000u16.to_be_bytes())).unwrap();
        assert_eq!(read_frame(&mut client).0, 0x8);
    }
    let limit = if cfg!(debug_assertions) {
        esp_idf::CONNECTION_STACK_TLS_DEBUG
    } else {
        esp_idf::CONNECTION_STACK_TLS
    };
    // The plain rule, and what esp-tls and ESP-IDF's mbedTLS port add on the device.
    let needed = used * 3 / 2 + esp_idf::BELOW_OUR_CODE + esp_idf::ESP_TLS_FRAMES;
    println!(
        "TLS connection thread: at most {used} bytes of stack on the host ({} build), {needed} by the rule; \
         budget {limit}",
        if cfg!(debug_assertions) { "debug" } else { "release" },
    );
    assert!(
        needed <= limit,
        "a TLS connection thread used {used} bytes of stack on the host; with half again, {} for ESP-IDF below \
         our code and {} for esp-tls that is {needed}, past {limit}: raise budget::esp_idf::CONNECTION_STACK_TLS \
         (or _DEBUG), and the RAM table in firmware/README.md",
        esp_idf::BELOW_OUR_CODE,
        esp_idf::ESP_TLS_FRAMES,
    );
    handle.stop();
    thread.join().unwrap().unwrap();
}

/// A TLS client through mbedtls-rs that does not check the server's certificate (what it
/// measures is the server's stack), as std's `Read` and `Write`.
#[cfg(feature = "mbedtls-host")]
mod tls_client {
    use std::io;
    use std::net::TcpStream;

    use mbedtls_rs::blocking::io::{ErrorKind, ErrorType, Read, Write};
    use mbedtls_rs::blocking::Session;
    use mbedtls_rs::{AuthMode, ClientSessionConfig, SessionConfig, SessionError, TlsVersion};

    pub struct TlsClient(Session<'static, Tcp>);

    impl TlsClient {
        /// Runs the handshake over `tcp`, in `version`.
        pub fn connect(tcp: TcpStream, version: TlsVersion) -> TlsClient {
            let config = SessionConfig::Client(ClientSessionConfig {
                auth_mode: AuthMode::None,
                min_version: version,
                max_version: Some(version),
                ..ClientSessionConfig::new()
            });
            let mut session = Session::new(super::mbedtls_acceptor::library(), Tcp(tcp), &config).unwrap();
            session.connect().unwrap();
            assert_eq!(session.tls_version(), Some(version));
            TlsClient(session)
        }
    }

    fn failed(e: SessionError) -> io::Error {
        io::Error::other(format!("{e}"))
    }

    impl io::Read for TlsClient {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf) {
                Err(SessionError::Io(ErrorKind::ConnectionReset)) => Ok(0),
                read => read.map_err(failed),
            }
        }
    }

    impl io::Write for TlsClient {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.write(buf).map_err(failed)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// std's TCP stream as embedded-io's.
    pub struct Tcp(TcpStream);

    impl ErrorType for Tcp {
        type Error = io::Error;
    }

    impl Read for Tcp {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            io::Read::read(&mut self.0, buf)
        }
    }

    impl Write for Tcp {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            io::Write::write(&mut self.0, buf)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}

/// Starts the device's server on a free port, on a thread of its own.
fn start(
    config: ServeConfig<'static>,
    thread_stack: usize,
    device: Device<'static>,
) -> (SocketAddr, ServerHandle, std::thread::JoinHandle<std::io::Result<()>>) {
    let server = Server::bind("127.0.0.1:0", config, device).unwrap().with_thread_stack(thread_stack);
    let addr = server.local_addr().unwrap();
    let handle = server.handle().unwrap();
    (addr, handle, std::thread::spawn(move || server.run()))
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Upgrades `stream` to a WebSocket.
fn upgrade(stream: &mut (impl Read + Write)) {
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    assert!(read_http_head(stream).starts_with("HTTP/1.1 101"));
}

/// Reads one response, head and body, and checks its status line.
fn expect_response(stream: &mut impl Read, status: &str) {
    let head = read_http_head(stream);
    assert!(head.starts_with(status), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
}
