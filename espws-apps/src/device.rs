//! The device as a service: its routes and its application, for every driver.
//!
//! The simulator and both firmware crates hand a [`Device`] to their server; what a device
//! does is decided here and nowhere else.

use espws::nonblocking;
use espws::wire::http::{Request, Response};

use crate::settings::{App, Settings};
use crate::{echo, routes};

/// A device's HTTP routes and WebSocket application.
#[derive(Copy, Clone, Debug)]
pub struct Device<'a> {
    /// The device's configuration.
    pub settings: Settings<'a>,
}

impl<'a> Device<'a> {
    /// A device with these settings.
    pub const fn new(settings: Settings<'a>) -> Self {
        Device { settings }
    }
}

impl nonblocking::Service for Device<'_> {
    fn http(&self, req: &Request<'_, '_>) -> Response<'_> {
        routes::route(req)
    }

    async fn websocket<T, B, K>(
        &self,
        ws: &mut nonblocking::WebSocket<T, B, K>,
        _client: nonblocking::Client<'_>,
    ) where
        T: nonblocking::Transport,
        B: AsRef<[u8]> + AsMut<[u8]>,
        K: nonblocking::Timer,
    {
        match self.settings.app {
            App::Echo => echo::run_async(ws).await,
        }
    }
}

#[cfg(feature = "std")]
impl espws::server::Service for Device<'static> {
    fn http(&self, req: &Request<'_, '_>) -> Response<'_> {
        routes::route(req)
    }

    fn websocket(&self, ws: &mut espws::server::ServerSocket, _client: &espws::server::Client) {
        match self.settings.app {
            App::Echo => echo::run_blocking(ws),
        }
    }
}
