//! The floor for espws-sim's threads runtime as it reads and writes on Linux: raw_tcp_threads,
//! with each read and write the system call itself (rustix) rather than glibc's wrapper, as
//! espws's blocking driver does for plain TCP. Beside raw_tcp_threads, it shows what the
//! wrappers cost and what espws's own layer costs.
//!
//! `cargo run --release -p espws-bench --example raw_tcp_threads_syscalls -- PORT`, loaded with
//! `espws-load --raw`.

use std::io;
use std::net::TcpStream;

fn serve(stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = rustix::io::read(&stream, &mut buf[..])?;
        if n == 0 {
            return Ok(());
        }
        let mut sent = 0;
        while sent < n {
            sent += rustix::io::write(&stream, &buf[sent..n])?;
        }
    }
}

fn main() -> io::Result<()> {
    espws_bench::serve_threads("raw_tcp_threads_syscalls", serve)
}
