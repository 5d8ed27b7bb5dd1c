//! The device as a service: its routes and its application, for every driver.
//!
//! The simulator and both firmware crates hand a [`Device`] to their server; what a device
//! does is decided here and nowhere else.

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use espws::nonblocking;
use espws::proto::handshake::Declined;
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

impl<'a> Device<'a> {
    /// Joins the hub, when there is one, before the client is told it is connected.
    fn join_hub(&self) -> Result<Option<Membership<'a>>, Declined> {
        match self.hub {
            Some(hub) => hub.join().map(Some).ok_or(HUB_FULL),
            None => Ok(None),
        }
    }
}

/// A connection's place in the device's hub.
pub type Membership<'a> = espws::hub::Member<'a, 'static, CriticalSectionRawMutex>;

/// The answer to a client for whom the hub has no slot left.
const HUB_FULL: Declined = Declined::busy("no room on the device's message hub");

impl<'a> nonblocking::Service for Device<'a> {
    type Admission = Option<Membership<'a>>;

    fn http(&self, req: &Request<'_, '_>) -> Response<'_> {
        routes::route(req)
    }

    fn admit(&self, _req: &Request<'_, '_>) -> Result<Self::Admission, Declined> {
        self.join_hub()
    }

    async fn websocket<T, B, K>(
        &self,
        ws: &mut nonblocking::WebSocket<T, B, K>,
        _client: nonblocking::Client<'_>,
        membership: Self::Admission,
    ) where
        T: nonblocking::Transport,
        B: AsRef<[u8]> + AsMut<[u8]>,
        K: nonblocking::Timer,
    {
        match (self.hub.zip(membership), self.settings.app) {
            (Some((hub, member)), app) => hubbed::run_async(ws, hub, member, app).await,
            (None, App::Echo) => {
                let _ = ws.run(echo::reply).await;
            }
            (None, App::Broadcast | App::Sensor) => {
                log::warn!("this app needs a hub; closing");
            }
        }
    }
}

#[cfg(feature = "std")]
impl espws::server::Service for Device<'static> {
    type Admission = Option<Membership<'static>>;

    fn http(&self, req: &Request<'_, '_>) -> Response<'_> {
        routes::route(req)
    }

    fn admit(&self, _req: &Request<'_, '_>) -> Result<Self::Admission, Declined> {
        self.join_hub()
    }

    fn websocket(
        &self,
        ws: &mut espws::server::ServerSocket,
        _client: &espws::server::Client,
        membership: Self::Admission,
    ) {
        match (self.hub.zip(membership), self.settings.app) {
            (Some((hub, member)), app) => hubbed::run_blocking(ws, hub, member, app),
            (None, App::Echo) => echo::run_blocking(ws),
            (None, App::Broadcast | App::Sensor) => {
                log::warn!("this app needs a hub; closing");
            }
        }
    }
}
