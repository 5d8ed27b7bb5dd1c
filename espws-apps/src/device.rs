//! The device as a service: its routes and its application, for every driver.
//!
//! The simulator and the firmware crates hand a [`Device`] to their server; what a device does
//! is decided here and nowhere else.

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use espws::blocking::{self, BlockingService};
use espws::hub::Reply;
use espws::nonblocking::{self, AsyncService};
use espws::proto::handshake::Declined;
use espws::wire::http::{Request, Response};
use espws::{Client, Data, DataKind, Service, Storage};

use crate::settings::{App, Settings};
use crate::{echo, routes, sensor, DeviceHub};

/// A device's HTTP routes and WebSocket application.
#[derive(Copy, Clone)]
pub struct Device<'a> {
    /// The device's configuration.
    pub settings: Settings<'a>,
    /// The message hub, when the app broadcasts or status ticks run.
    pub hub: Option<&'a DeviceHub>,
    /// The thread that drains a client's hub queue on the threads runtime.
    #[cfg(feature = "std")]
    pub drain: espws::hub::DrainThread,
}

impl<'a> Device<'a> {
    /// A device with these settings; `hub` is required when [`Settings::uses_hub`].
    pub fn new(settings: Settings<'a>, hub: Option<&'a DeviceHub>) -> Self {
        Device {
            settings,
            hub,
            #[cfg(feature = "std")]
            drain: espws::hub::DrainThread::default(),
        }
    }

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

/// What the app does with a message from a hub member's client: echo it back, broadcast it
/// to everyone, or (the sensor) acknowledge the command, written into `scratch`.
fn hub_reply<'d>(app: App, hub: &DeviceHub, data: Data<'d>, scratch: &'d mut [u8]) -> Reply<'d> {
    match app {
        App::Echo => Reply::Send(data.kind, data.payload),
        App::Broadcast => {
            // Too large for the queues, or nobody to hear it: nothing to do either way.
            let _ = hub.broadcast(data.kind, data.payload);
            Reply::Nothing
        }
        App::Sensor => {
            let len = sensor::ack(&data, scratch);
            Reply::Send(DataKind::Text, &scratch[..len])
        }
    }
}

const _: () = assert!(espws::hub::REPLY_SCRATCH >= sensor::MAX_ACK, "an acknowledgement fits the scratch");

impl<'a> Service for Device<'a> {
    type Admission = Option<Membership<'a>>;

    fn http(&self, req: &Request<'_, '_>) -> Response<'_> {
        routes::route(req)
    }

    fn admit(&self, _req: &Request<'_, '_>) -> Result<Self::Admission, Declined> {
        self.join_hub()
    }
}

impl AsyncService for Device<'_> {
    async fn websocket<T, B, K>(
        &self,
        ws: &mut nonblocking::WebSocket<T, B, K>,
        _client: &Client<'_>,
        membership: Self::Admission,
    ) where
        T: nonblocking::Transport,
        B: Storage,
        K: nonblocking::Timer,
    {
        let app = self.settings.app;
        match (self.hub.zip(membership), app) {
            (Some((hub, member)), app) => {
                let serving =
                    espws::hub::serve_member(ws, &member, |data, scratch| hub_reply(app, hub, data, scratch));
                // On a PC the hub's larger future goes to the heap, so that an echo connection's
                // task is no larger than the echo needs.
                #[cfg(feature = "std")]
                let serving = std::boxed::Box::pin(serving);
                serving.await;
            }
            (None, App::Echo) => {
                // A closure rather than the fn item itself: its body is inlined into the
                // driver's loop, where the fn item's call stays a call (echo on tokio: 23 fewer
                // instructions per message).
                #[allow(clippy::redundant_closure)]
                let _ = ws.run(|event, replies| echo::reply(event, replies)).await;
            }
            (None, App::Broadcast | App::Sensor) => espws::warn!("this app needs a hub; closing"),
        }
    }
}

impl BlockingService for Device<'_> {
    fn websocket<T, B, C>(
        &self,
        ws: &mut blocking::WebSocket<T, B, C>,
        _client: &Client<'_>,
        membership: Self::Admission,
    ) where
        T: blocking::Transport,
        B: Storage,
        C: blocking::Clock,
    {
        let app = self.settings.app;
        match (self.hub.zip(membership), app) {
            #[cfg(feature = "std")]
            (Some((hub, member)), app) => {
                espws::hub::serve_member_blocking(ws, &member, self.drain, |data, scratch| {
                    hub_reply(app, hub, data, scratch)
                });
            }
            #[cfg(not(feature = "std"))]
            (Some(_), _) => espws::warn!("the hub needs a second thread, which needs std; closing"),
            (None, App::Echo) => echo::run_blocking(ws),
            (None, App::Broadcast | App::Sensor) => espws::warn!("this app needs a hub; closing"),
        }
    }
}
