//! The device as a service: its routes and its application, for every driver.
//!
//! The simulator and both firmware crates hand a [`Device`] to their server; what a device
//! does is decided here and nowhere else.

use espws::nonblocking;
use espws::wire::http::{Request, Response};

use crate::settings::{App, Settings};
use crate::{echo, hubbed, routes, DeviceHub};

/// A device's HTTP routes and WebSocket application.
#[derive(Copy, Clone)]
pub struct Device<'a> {
    /// The device's configuration.
    pub settings: Settings<'a>,
    /// The message hub, when the app broadcasts or status ticks run.
    pub hub: Option<&'a DeviceHub>,
}

impl<'a> Device<'a> {
    /// A device with these settings; `hub` is required when [`Settings::uses_hub`].
    pub const fn new(settings: Settings<'a>, hub: Option<&'a DeviceHub>) -> Self {
        Device { settings, hub }
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
        match (self.hub, self.settings.app) {
            (Some(hub), app) => hubbed::run_async(ws, hub, app).await,
            (None, App::Echo) => {
                let _ = ws.run(echo::reply).await;
            }
            (None, App::Broadcast) => {
                log::warn!("the broadcast app needs a hub; closing");
            }
        }
    }
}

#[cfg(feature = "std")]
impl espws::server::Service for Device<'static> {
    fn http(&self, req: &Request<'_, '_>) -> Response<'_> {
        routes::route(req)
    }

    fn websocket(&self, ws: &mut espws::server::ServerSocket, _client: &espws::server::Client) {
        match (self.hub, self.settings.app) {
            (Some(hub), app) => hubbed::run_blocking(ws, hub, app),
            (None, App::Echo) => echo::run_blocking(ws),
            (None, App::Broadcast) => {
                log::warn!("the broadcast app needs a hub; closing");
            }
        }
    }
}
