//! The floor for a tokio server: no WebSocket at all, a task per connection that reads into a
//! buffer and writes the same bytes back, on tokio's multi-thread
//! runtime (`new_multi_thread().enable_all()`, default worker count), the one the tokio peers
//! run on; `raw_tcp_tokio_local` is the same loop on the runtime espws-sim's tokio server uses.
//!
//! `cargo run --release -p espws-bench --example raw_tcp_tokio -- PORT`, loaded with
//! `espws-load --raw`.

fn main() -> std::io::Result<()> {
    espws_bench::serve_tokio("raw_tcp_tokio", espws_bench::raw_echo_tokio)
}
