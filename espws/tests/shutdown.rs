//! A graceful shutdown does not wait for a client that is gone. A client that had closed its
//! socket answers the server's 1001 with a TCP reset, before or after its own end of stream
//! (when that end of stream crossed the shutdown); either way its connection ends at once, not at
//! the close timeout. A client that only ends its side of TCP after the 1001 cannot be told from
//! the shutdown's own end of stream: it is given up on at the close timeout, not held until the
//! shutdown's limit. Checked on the threads server and on the tokio server.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use espws::server::{Server, Shutdown};
use espws::ServeConfig;

#[path = "../examples/support/echo_service.rs"]
mod echo_service;
use echo_service::Echo;

#[path = "support/raw_client.rs"]
mod raw_client;

/// Far longer than a noticed reset takes (milliseconds), and far shorter than the shutdown's own
/// limit.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// How the client leaves once it has read the 1001.
#[derive(Copy, Clone, Debug)]
enum Leaving {
    /// A reset, with no end of stream before it.
    Reset,
    /// Its end of stream, then a reset: what the server's socket holds when a client's close
    /// crosses the shutdown (the 1001 reaches a closed socket, which answers with a reset).
    EndThenReset,
    /// Its end of stream alone, and no close frame: waited for until the close timeout.
    End,
}

impl Leaving {
    const ALL: [Leaving; 3] = [Leaving::Reset, Leaving::EndThenReset, Leaving::End];
}

/// A client past its upgrade, its reads bounded.
fn upgraded(addr: SocketAddr) -> TcpStream {
    let (stream, head) = raw_client::upgrade(addr);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    stream.set_read_timeout(Some(SHUTDOWN_TIMEOUT)).unwrap();
    stream
}

/// The code of the close frame the client receives next.
fn close_code(stream: &mut TcpStream) -> u16 {
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(head[0], 0x88, "a close frame");
    let mut rest = vec![0u8; usize::from(head[1] & 0x7f) - 2];
    stream.read_exact(&mut rest).unwrap();
    u16::from_be_bytes([head[2], head[3]])
}

fn leave(stream: TcpStream, how: Leaving) {
    match how {
        Leaving::Reset => {}
        Leaving::EndThenReset => {
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
        // Nothing unread: closing sends the end of stream alone.
        Leaving::End => return,
    }
    // No lingering: closing resets.
    socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
}

fn config() -> ServeConfig<'static> {
    let mut config = ServeConfig::default();
    config.connection.close_timeout = CLOSE_TIMEOUT;
    config
}

/// Upgrades a client to the server at `addr`, starts the shutdown with `shut_down` (which gives
/// the connections it left open), and leaves with `how` once the 1001 came; asserts that the
/// shutdown then ended with no connection left: at once after a reset, at the close timeout
/// otherwise.
fn shutdown_after(addr: SocketAddr, how: Leaving, shut_down: impl FnOnce() -> usize + Send + 'static) {
    let mut client = upgraded(addr);
    let shutdown = std::thread::spawn(shut_down);
    assert_eq!(close_code(&mut client), 1001);
    let left = Instant::now();
    leave(client, how);
    assert_eq!(shutdown.join().unwrap(), 0, "{how:?}: every connection ended");
    let took = left.elapsed();
    let expected = match how {
        Leaving::Reset | Leaving::EndThenReset => Duration::ZERO..Duration::from_secs(1),
        // The close deadline runs from the 1001, a little before the client left.
        Leaving::End => CLOSE_TIMEOUT - Duration::from_millis(500)..CLOSE_TIMEOUT + Duration::from_secs(1),
    };
    assert!(
        expected.contains(&took),
        "{how:?}: the shutdown ended {took:?} after the client left, not within {expected:?} \
         (the close timeout is {CLOSE_TIMEOUT:?}, the shutdown's limit {SHUTDOWN_TIMEOUT:?})"
    );
}

#[test]
fn the_threads_server_ends_a_reset_client_at_once_and_a_silent_one_at_the_close_timeout() {
    for how in Leaving::ALL {
        let server = Server::bind("127.0.0.1:0", config(), Echo).unwrap();
        let addr = server.local_addr().unwrap();
        let handle = server.handle().unwrap();
        let running = std::thread::spawn(move || server.run());
        shutdown_after(addr, how, move || handle.shutdown(SHUTDOWN_TIMEOUT));
        running.join().unwrap().unwrap();
    }
}

#[test]
fn the_tokio_server_ends_a_reset_client_at_once_and_a_silent_one_at_the_close_timeout() {
    for how in Leaving::ALL {
        let listener = espws::server::tokio::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let running = {
            let shutdown = shutdown.clone();
            std::thread::spawn(move || espws::server::tokio::run_until(listener, config(), Echo, 1, shutdown))
        };
        shutdown_after(addr, how, move || shutdown.shutdown(SHUTDOWN_TIMEOUT));
        running.join().unwrap().unwrap();
    }
}
