//! A client on a plain socket, which sends its upgrade and then frames by hand, shared by the
//! tests that need to send what a WebSocket library would not.
#![allow(dead_code)] // each test uses a part of it

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A valid upgrade request for `/ws`.
pub const UPGRADE: &str = "GET /ws HTTP/1.1\r\nHost: device\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                           Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Connects to `addr` and sends [`UPGRADE`]; gives the stream (its reads bounded by 10 s) and
/// the response head, read byte by byte so that nothing after it is taken.
pub fn upgrade(addr: SocketAddr) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(UPGRADE.as_bytes()).unwrap();
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "the response ended early: {response:?}");
        response.push(byte[0]);
    }
    (stream, String::from_utf8(response).unwrap())
}
