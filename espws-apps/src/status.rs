//! Status ticks: a JSON message to every client, as a sensor device pushes its readings.

use core::fmt::Write as _;
use core::time::Duration;

use espws::time::Instant;
use espws::DataKind;

use crate::DeviceHub;

/// The longest status message.
pub const MAX_STATUS: usize = 128;

/// Formats `{"type":"status","uptime_ms":…,"clients":…,"free_slots":…}` into `out`.
pub fn status_json(
    out: &mut heapless::String<MAX_STATUS>,
    uptime: Instant,
    clients: usize,
    free_slots: usize,
) {
    out.clear();
    // 128 bytes hold the longest possible numbers, so this cannot fail.
    let _ = write!(
        out,
        r#"{{"type":"status","uptime_ms":{},"clients":{},"free_slots":{}}}"#,
        uptime.as_millis(),
        clients,
        free_slots
    );
}

/// Broadcasts one status message now.
pub fn publish(hub: &DeviceHub, uptime: Instant) {
    let mut json = heapless::String::new();
    status_json(&mut json, uptime, hub.clients(), hub.free_slots());
    let _ = hub.broadcast(DataKind::Text, json.as_bytes());
}

/// Publishes a status every `period`, forever, on an async runtime.
pub async fn run_async<K: espws::nonblocking::Timer>(hub: &DeviceHub, timer: K, period: Duration) -> ! {
    let mut next = timer.now() + period;
    loop {
        timer.sleep_until(next).await;
        publish(hub, timer.now());
        next = next + period;
    }
}

/// Publishes a status every `period`, forever, from a thread of its own.
#[cfg(feature = "std")]
pub fn run_blocking(hub: &DeviceHub, period: Duration) -> ! {
    use espws::time::Clock as _;
    let clock = espws::blocking::StdClock::new();
    let mut next = clock.now() + period;
    loop {
        std::thread::sleep(next.saturating_duration_since(clock.now()));
        publish(hub, clock.now());
        next = next + period;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_is_json_with_every_field() {
        let mut out = heapless::String::new();
        status_json(&mut out, Instant::from_millis(12_345), 3, 5);
        assert_eq!(out.as_str(), r#"{"type":"status","uptime_ms":12345,"clients":3,"free_slots":5}"#);
        status_json(&mut out, Instant::from_millis(u64::MAX), usize::MAX, usize::MAX);
        assert!(out.ends_with('}'), "the largest numbers still fit: {out}");
    }
}
