//! Connecting on tokio: resolve the host, open TCP, upgrade, with keys from the OS's RNG.

use ::std::boxed::Box;
use ::std::io;
use ::std::vec;

use ::tokio::net::TcpStream;
use embedded_io_adapters::tokio_1::FromTokio;

use super::{connect_async, ClientConfig, ConnectError, Connected};
use crate::nonblocking::{TokioTimer, WebSocket};
use crate::proto::RecvBuf;

/// An async client connection over tokio's TCP.
pub type TokioWebSocket = WebSocket<FromTokio<TcpStream>, Box<[u8]>, TokioTimer>;

/// Connects to `config.request.url` (`ws://` only) with a receive buffer of `rx_buffer` bytes.
pub async fn connect_tcp<'a>(
    config: &ClientConfig<'a>,
    rx_buffer: usize,
) -> Result<Connected<'a, TokioWebSocket>, ConnectError<io::Error>> {
    let url = &config.request.url;
    if url.secure {
        return Err(ConnectError::Io(io::Error::new(
            io::ErrorKind::Unsupported,
            "wss:// needs TLS, which this build does not include",
        )));
    }
    let open = TcpStream::connect((url.host, url.port));
    let stream = match ::tokio::time::timeout(config.handshake_timeout, open).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(ConnectError::Io(e)),
        Err(_) => return Err(ConnectError::Io(io::ErrorKind::TimedOut.into())),
    };
    let _ = stream.set_nodelay(true);
    let rx = RecvBuf::new(vec![0u8; rx_buffer].into_boxed_slice());
    connect_async(FromTokio::new(stream), rx, TokioTimer::new(), config, super::std::os_keys).await
}
