//! Shared by the allocation tests: a counting allocator, a server and a raw client.
//!
//! A counting global allocator sees every allocation in the process, so each test binary runs a
//! single server with a single client: a server torn down before would still be freeing and
//! allocating on its own threads while the next one is measured.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};

use espws::blocking::{self, BlockingService};
use espws::proto::handshake::Declined;
use espws::proto::{Config, Delivery};
use espws::server::Server;
use espws::wire::http::Request;
use espws::{Client, ServeConfig, Service};

pub struct Counting;

pub static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

struct Echo;

impl Service for Echo {
    type Admission = ();

    fn admit(&self, _req: &Request<'_, '_>) -> Result<(), Declined> {
        Ok(())
    }
}

impl BlockingService for Echo {
    fn websocket<T: blocking::Transport, B: espws::Storage, C: blocking::Clock>(
        &self,
        ws: &mut blocking::WebSocket<T, B, C>,
        _client: &Client<'_>,
        (): (),
    ) {
        espws_apps::echo::run_blocking(ws);
    }
}

/// A masked client frame.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    espws::wire::frame::masked_client_frame(0x80 | opcode, payload, [9, 8, 7, 6])
}

fn echo_round_trips(stream: &mut TcpStream, frame: &[u8], reply: &mut [u8], count: usize) {
    for _ in 0..count {
        stream.write_all(frame).unwrap();
        stream.read_exact(reply).unwrap();
    }
}

/// Echoes 1000 messages of each size after a warm-up and asserts no allocation happened.
pub fn assert_no_allocation_per_echo(delivery: Delivery) {
    {
        let config = ServeConfig {
            connection: Config { delivery, ..Config::default() },
            rx_buffer: 128 * 1024,
            ..ServeConfig::default()
        };
        let server = Server::bind("127.0.0.1:0", config, Echo).unwrap();
        let addr = server.local_addr().unwrap();
        let handle = server.handle().unwrap();
        let thread = std::thread::spawn(move || server.run());

        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .unwrap();
        let mut response = Vec::new();
        while !response.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            stream.read_exact(&mut byte).unwrap();
            response.push(byte[0]);
        }
        assert!(response.starts_with(b"HTTP/1.1 101"));

        // Sizes across the three length encodings, text and binary.
        let cases: Vec<(Vec<u8>, Vec<u8>)> = [(2u8, 64usize), (1, 100), (2, 1000), (2, 70_000)]
            .iter()
            .map(|&(opcode, len)| {
                let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                let mut expected = vec![0x80 | opcode];
                match len {
                    0..=125 => expected.push(len as u8),
                    126..=65535 => {
                        expected.push(126);
                        expected.extend_from_slice(&(len as u16).to_be_bytes());
                    }
                    _ => {
                        expected.push(127);
                        expected.extend_from_slice(&(len as u64).to_be_bytes());
                    }
                }
                expected.extend_from_slice(&payload);
                (client_frame(opcode, &payload), expected)
            })
            .collect();
        for (frame, expected) in &cases {
            let mut reply = vec![0u8; expected.len()];
            if delivery == Delivery::Chunked && expected.len() > 16 * 1024 {
                continue; // chunked echo re-frames large messages; checked by the interop suite
            }
            echo_round_trips(&mut stream, frame, &mut reply, 20);
            assert_eq!(&reply, expected, "echo of a {} byte frame", frame.len());
            // Three windows of 1000 echoes: an allocation per message would show in every one,
            // while a server thread finishing its start-up late can only spoil one.
            let fewest = (0..3)
                .map(|_| {
                    let before = ALLOCATIONS.load(Ordering::SeqCst);
                    echo_round_trips(&mut stream, frame, &mut reply, 1000);
                    ALLOCATIONS.load(Ordering::SeqCst) - before
                })
                .min()
                .unwrap();
            assert_eq!(fewest, 0, "{delivery:?}: allocations during 1000 echoes of {} bytes", frame.len());
        }
        drop(stream);
        handle.stop();
        thread.join().unwrap().unwrap();
    }
}
