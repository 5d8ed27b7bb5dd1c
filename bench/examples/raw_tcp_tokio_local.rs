//! The floor for espws-sim's tokio server: the read/write loop of `raw_tcp_tokio`, no WebSocket
//! at all, on the runtime that server uses (a current-thread runtime per core, each connection
//! a local task), so that espws is measured against what its own runtime costs.
//!
//! `cargo run --release -p espws-bench --example raw_tcp_tokio_local -- PORT`, loaded with
//! `espws-load --raw`.

fn main() -> std::io::Result<()> {
    espws_bench::serve_tokio_per_core("raw_tcp_tokio_local", espws_bench::raw_echo_tokio)
}
