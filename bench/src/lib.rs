//! Plumbing shared by the comparison echo servers in `examples/`, so that they differ only in
//! the WebSocket library they run: each takes its port as its first argument, listens on
//! 127.0.0.1 with a backlog of 1024 (as espws's server and tokio's `TcpListener::bind` do) and
//! serves every connection on a thread or a task of its own.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};

/// The port given as the first argument; exits with a usage line when there is none.
pub fn port_arg(example: &str) -> u16 {
    match std::env::args().nth(1).and_then(|p| p.parse().ok()) {
        Some(port) => port,
        None => {
            eprintln!("usage: {example} PORT");
            std::process::exit(2)
        }
    }
}

/// A blocking listener on 127.0.0.1:`port` with a backlog of 1024.
pub fn listen(port: u16) -> io::Result<TcpListener> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Serves each connection on a thread of its own until `serve` returns (the peer is gone).
pub fn serve_threads<E: 'static>(example: &str, serve: fn(TcpStream) -> Result<(), E>) -> io::Result<()> {
    let listener = listen(port_arg(example))?;
    eprintln!("{example} listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            let _ = serve(stream);
        });
    }
    Ok(())
}

/// Serves each connection in a task of its own, on tokio's multi-thread runtime
/// (`new_multi_thread().enable_all()`, default worker count) and a plain `tokio::spawn`.
pub fn serve_tokio<F, Fut>(example: &str, serve: F) -> io::Result<()>
where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: Future + Send + 'static,
{
    let port = port_arg(example);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        eprintln!("{example} listening on {}", listener.local_addr()?);
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let connection = serve(stream);
            tokio::spawn(async move {
                // The peer going away (EOF, reset, close handshake done) ends the task.
                let _ = connection.await;
            });
        }
    })
}

/// Serves each connection as a local task on the runtime espws-sim's tokio server uses: a
/// current-thread runtime per core (`new_current_thread().enable_all()`) with a `LocalSet`,
/// each thread accepting from the same listener in a local task and spawning with
/// `spawn_local`.
pub fn serve_tokio_per_core<F, Fut>(example: &str, serve: F) -> io::Result<()>
where
    F: Fn(tokio::net::TcpStream) -> Fut + Clone + Send + 'static,
    Fut: Future + 'static,
{
    let listener = listen(port_arg(example))?;
    listener.set_nonblocking(true)?;
    eprintln!("{example} listening on {}", listener.local_addr()?);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut workers = Vec::new();
    for n in 0..threads {
        let listener = listener.try_clone()?;
        let serve = serve.clone();
        // Named as scripts/bench expects a runtime's thread to be, like espws-sim's
        // `espws-tokio-N`: the bench reads how the connections split between these.
        let worker = std::thread::Builder::new().name(format!("tokio-local-{n}"));
        workers.push(worker.spawn(move || -> io::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let local = tokio::task::LocalSet::new();
            // The accept loop is a task of its own, as in espws-sim's server: the set's main
            // future is polled whenever any of its tasks wakes.
            let accepting = local.spawn_local(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                loop {
                    let Ok((stream, _)) = listener.accept().await else { continue };
                    let connection = serve(stream);
                    tokio::task::spawn_local(async move {
                        // The peer going away (EOF, reset, close handshake done) ends the task.
                        let _ = connection.await;
                    });
                }
            });
            match local.block_on(&runtime, accepting) {
                Ok(result) => result,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        })?);
    }
    for worker in workers {
        worker.join().map_err(|_| io::Error::other("a server thread panicked"))??;
    }
    Ok(())
}

/// The raw TCP floors' connection on tokio: reads into a buffer and writes the same bytes back
/// until the peer is gone.
pub async fn raw_echo_tokio(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}
