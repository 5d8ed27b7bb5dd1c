//! Runs the real `espws-sim` binary and talks to it with a raw client that can send anything.
//!
//! With `ESPWS_DEVICE_ADDR=host:port` the tests talk to a running device instead (the emulated
//! board of `scripts/qemu-device`), whose build-time settings `ESPWS_DEVICE_FLAGS` gives as the
//! simulator's flags: a test is run only when the flags it would start the simulator with mean
//! the same settings, and is skipped, saying so, otherwise.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

thread_local! {
    static RUNTIME: std::cell::Cell<&'static str> = const { std::cell::Cell::new("threads") };
}

/// The runtime the calling test runs the simulator on.
pub fn runtime() -> &'static str {
    RUNTIME.with(|r| r.get())
}

/// Runs `test` once per runtime of the simulator, or once against the device.
pub fn on_each_runtime(test: impl Fn()) {
    if device().is_some() {
        RUNTIME.with(|r| r.set("device"));
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(&test)) {
            Err(payload) if payload.is::<OtherBuild>() => {
                eprintln!("-- skipped: the device was built with other settings than this test needs");
            }
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => {}
        }
        return;
    }
    for runtime in ["threads", "tokio"] {
        RUNTIME.with(|r| r.set(runtime));
        eprintln!("-- runtime {runtime}");
        test();
    }
}

/// The device under test, when there is one.
pub fn device() -> Option<SocketAddr> {
    let addr = std::env::var("ESPWS_DEVICE_ADDR").ok()?;
    Some(addr.parse().expect("ESPWS_DEVICE_ADDR is host:port"))
}

/// Unwinds a test whose simulator flags differ from the device's build.
struct OtherBuild;

/// The settings a list of simulator flags means, for the flags a device build can set.
fn settings_of(flags: &[&str]) -> Option<std::collections::BTreeMap<String, String>> {
    let mut settings: std::collections::BTreeMap<String, String> = [
        ("--max-clients", "8"),
        ("--handshake-timeout", "5"),
        ("--ping-interval", "15"),
        ("--pong-timeout", "10"),
        ("--max-message", "1048576"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for pair in flags.chunks(2) {
        let [flag, value] = pair else { return None };
        // A flag the device cannot be built with: not a test for it.
        *settings.get_mut(*flag)? = value.to_string();
    }
    Some(settings)
}

/// A running simulator, killed on drop (or the device, left running).
pub struct Sim {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<String>>,
}

impl Sim {
    /// Starts `espws-sim` on a free port with the runtime under test and extra `args`, and waits
    /// until it listens.
    pub fn start(args: &[&str]) -> Sim {
        Sim::start_on(runtime(), args)
    }

    /// Starts `espws-sim` with `--runtime runtime`.
    pub fn start_on(runtime: &str, args: &[&str]) -> Sim {
        if let Some(addr) = device() {
            let built = std::env::var("ESPWS_DEVICE_FLAGS").unwrap_or_default();
            let built: Vec<&str> = built.split_whitespace().collect();
            if settings_of(args).is_none() || settings_of(args) != settings_of(&built) {
                std::panic::panic_any(OtherBuild);
            }
            return Sim { child: None, addr, log: Arc::new(Mutex::new(String::new())) };
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_espws-sim"))
            .args(["--port", "0", "--runtime", runtime])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("espws-sim starts");
        let log = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let started = Instant::now();
        let addr = loop {
            let line = lines.next().expect("espws-sim exited before listening").unwrap();
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(url) = line.split("ws://").nth(1).or_else(|| line.split("wss://").nth(1)) {
                break url.split('/').next().unwrap().parse().expect("address in the URL line");
            }
            assert!(started.elapsed() < Duration::from_secs(10), "espws-sim did not start");
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Sim { child: Some(child), addr, log }
    }

    /// The simulator's resident memory in KiB (0 for the device, whose memory is all static).
    pub fn rss_kib(&self) -> u64 {
        let Some(child) = &self.child else { return 0 };
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        // The device's runner checks that it is still up after the tests.
        self.child.as_mut().is_none_or(|child| child.try_wait().unwrap().is_none())
    }

    /// Asks the simulator to stop gracefully (SIGTERM) and waits up to `limit` for it to exit:
    /// its exit status, or `None` for the device or a simulator still running then.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        assert!(matches!(&sent, Ok(s) if s.success()), "kill -TERM failed: {sent:?}");
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log_text(&self) -> String {
        match (&self.child, std::env::var("QEMU_DEVICE_LOG")) {
            (None, Ok(path)) => std::fs::read_to_string(path).unwrap_or_default(),
            _ => self.log.lock().unwrap().clone(),
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub const UPGRADE: &str = "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A frame as received from the server.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// A WebSocket client that sends whatever bytes a test asks for.
pub struct RawClient {
    pub stream: TcpStream,
}

impl RawClient {
    /// Connects and completes the opening handshake.
    pub fn connect(addr: SocketAddr) -> RawClient {
        let mut client = RawClient::tcp(addr);
        client.stream.write_all(UPGRADE.as_bytes()).unwrap();
        let head = client.read_head();
        assert!(head.starts_with("HTTP/1.1 101"), "upgrade refused: {head}");
        client
    }

    /// Connects without a handshake.
    pub fn tcp(addr: SocketAddr) -> RawClient {
        RawClient::try_tcp(addr).unwrap()
    }

    /// Connects without a handshake; `None` when a device refused the connection (it has no
    /// listen backlog, so it refuses while every socket is busy). The simulator must accept.
    pub fn tcp_unless_refused(addr: SocketAddr) -> Option<RawClient> {
        match RawClient::try_tcp(addr) {
            Ok(client) => Some(client),
            Err(e) if device().is_some() && e.kind() == std::io::ErrorKind::ConnectionRefused => None,
            Err(e) => panic!("connect: {e}"),
        }
    }

    /// Connects without a handshake, or says why it could not.
    pub fn try_tcp(addr: SocketAddr) -> std::io::Result<RawClient> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(RawClient { stream })
    }

    /// Reads an HTTP response head, byte by byte so that nothing after it is consumed.
    pub fn read_head(&mut self) -> String {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            match self.stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&head).into_owned()
    }

    /// Reads everything until the server closes: a whole HTTP response.
    pub fn read_to_end(&mut self) -> String {
        let mut out = Vec::new();
        let _ = self.stream.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a masked frame whose first byte is `b0` (FIN, RSV bits and opcode).
    pub fn send_frame(&mut self, b0: u8, payload: &[u8]) {
        let frame = masked_frame(b0, payload);
        self.stream.write_all(&frame).unwrap();
    }

    /// Reads one frame; `None` at end of stream.
    pub fn read_frame(&mut self) -> Option<Frame> {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).ok()?;
        let len = match head[1] & 0x7F {
            126 => {
                let mut b = [0u8; 2];
                self.stream.read_exact(&mut b).ok()?;
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                self.stream.read_exact(&mut b).ok()?;
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        assert_eq!(head[1] & 0x80, 0, "server frames must not be masked");
        let mut payload = vec![0u8; len as usize];
        self.stream.read_exact(&mut payload).ok()?;
        Some(Frame { fin: head[0] & 0x80 != 0, opcode: head[0] & 0x0F, payload })
    }

    /// Reads a whole data message (reassembling fragments), skipping pings.
    pub fn read_message(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut opcode = None;
        let mut data = Vec::new();
        loop {
            let frame = self.read_frame()?;
            match frame.opcode {
                0x9 | 0xA => continue,
                0x8 => return None,
                op => {
                    if op != 0 {
                        opcode = Some(op);
                    }
                    data.extend_from_slice(&frame.payload);
                    if frame.fin {
                        return Some((opcode.unwrap(), data));
                    }
                }
            }
        }
    }

    /// Sends `payload` as a binary message and checks the echo.
    pub fn assert_echo(&mut self, payload: &[u8]) {
        self.send_frame(0x82, payload);
        let (opcode, echoed) = self.read_message().expect("echo before the connection ended");
        assert_eq!((opcode, echoed.as_slice()), (2, payload));
    }

    /// Expects a close frame with `code`, then the end of the stream.
    pub fn expect_close(&mut self, code: u16) {
        let started = Instant::now();
        loop {
            let frame = self
                .read_frame()
                .unwrap_or_else(|| panic!("stream ended without a close frame (wanted {code})"));
            if frame.opcode == 0x8 {
                let got = u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
                assert_eq!(
                    got,
                    code,
                    "close code; reason {:?}",
                    String::from_utf8_lossy(&frame.payload[2..])
                );
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10));
        }
        let mut rest = Vec::new();
        // After its close frame the server shuts its side; reading reaches the end.
        self.stream.read_to_end(&mut rest).expect("clean end after the close frame");
    }

    /// Whether the server ended the connection (read returns 0 or an error) within `timeout`.
    pub fn ended_within(&mut self, timeout: Duration) -> bool {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    return false
                }
                Err(_) => return true,
            }
            if started.elapsed() > timeout {
                return false;
            }
        }
    }
}

/// A masked client frame with first byte `b0`.
pub fn masked_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    espws::wire::frame::masked_client_frame(b0, payload, [0x12, 0x34, 0x56, 0x78])
}

/// Sends a raw HTTP request and returns the status code and the whole response.
pub fn http(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut client = RawClient::tcp(addr);
    client.send_raw(request);
    let response = client.read_to_end();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response)
}
