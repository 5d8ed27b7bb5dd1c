//! Connecting from bare metal: open an embassy-net TCP socket to the server and upgrade it.

use embassy_net::tcp::TcpSocket;
use embassy_net::IpEndpoint;

use super::{connect_async, ClientConfig, ConnectAsync, ConnectError};
use crate::nonblocking::EmbassyTimer;
use crate::proto::{MaskKeys, RecvBuf, Storage};

/// Opens `socket` to `remote` (bounded by the handshake timeout), then upgrades it to a
/// WebSocket as [`connect_async`] does. `keys` should draw on the chip's RNG.
///
/// The host name for `Host` comes from `config.request.url`; resolving it to `remote` is the
/// caller's (embassy-net's DNS socket, or a fixed address from provisioning).
pub async fn connect_tcp<'s, 'a, B: Storage>(
    mut socket: TcpSocket<'s>,
    remote: IpEndpoint,
    rx: RecvBuf<B>,
    config: &ClientConfig<'a>,
    keys: MaskKeys,
) -> ConnectAsync<'a, TcpSocket<'s>, B, EmbassyTimer> {
    let timeout = embassy_time::Duration::from_millis(config.handshake_timeout.as_millis() as u64);
    match embassy_time::with_timeout(timeout, socket.connect(remote)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) | Err(_) => return Err(ConnectError::NoConnection),
    }
    connect_async(socket, rx, EmbassyTimer, config, keys).await
}
