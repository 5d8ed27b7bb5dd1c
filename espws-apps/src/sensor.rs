//! The sensor demo: simulated readings pushed to every client as JSON, and commands acknowledged.
//!
//! A reading is `{"type":"reading","temperature":21.53,"humidity":45.12,"sine":0.707}`: two
//! slow, smooth signals with a little noise, as a room sensor gives, and a sine for checking a
//! plot by eye. Now and then (every 20 s on average) an event `{"type":"event","event":"motion"}`
//! goes out too, as a device reports something that happened rather than a level. Readings go
//! through the hub like status ticks, so a slow client costs only its queue.
//!
//! The signals are functions of the uptime, not of the number of readings, so that they keep
//! their shape at any rate, and the noise comes from a fixed-seed PRNG, so that a run can be
//! repeated. Nothing allocates: the device runs this for months.

use core::fmt::Write as _;
use core::time::Duration;

use espws::time::Instant;
use espws::{Data, DataKind};

use crate::DeviceHub;

/// Readings per second when the build or the command line does not say.
pub const DEFAULT_RATE_HZ: u16 = 10;
/// The most readings per second: past this a browser plots nothing more useful, and the hub
/// queues of a few clients would fill with readings alone.
pub const MAX_RATE_HZ: u16 = 1000;
/// The longest reading or event message.
pub const MAX_READING: usize = 96;
/// The longest command acknowledged; longer ones get a `nack`.
pub const MAX_COMMAND: usize = 96;
/// The longest acknowledgement: every byte of a command may need a backslash before it.
pub const MAX_ACK: usize = 2 * MAX_COMMAND + 16;

/// Mean time between two events, in seconds.
const EVENT_EVERY_SECS: u32 = 20;
/// What the occasional event reports, picked at random.
const EVENTS: [&str; 3] = ["motion", "door", "button"];

/// A xorshift32 generator: deterministic, a word of state, good enough for noise.
#[derive(Clone, Debug)]
pub struct Prng(u32);

impl Prng {
    /// A generator started from `seed` (0 is replaced, xorshift would stay at 0 forever).
    pub const fn new(seed: u32) -> Self {
        Prng(if seed == 0 { 0x9E37_79B9 } else { seed })
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// A number from -1 to 1, with the values near 0 more likely (the mean of two uniforms),
    /// as measurement noise looks.
    pub fn noise(&mut self) -> f32 {
        let a = (self.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
        let b = (self.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
        a + b - 1.0
    }
}

/// `sin(2π · phase)` for a phase from 0 to 1, without libm (core has no `sin` on `no_std`).
///
/// Folded to a quarter turn and a Taylor series to x⁹: the error is below 4e-6, far under the
/// noise added to the readings.
pub fn sin_turns(phase: f32) -> f32 {
    use core::f32::consts::{FRAC_PI_2, PI};
    let mut x = (phase - (phase as i32) as f32) * 2.0 * PI; // 0..2π (or -2π..0 below 0)
    if x > PI {
        x -= 2.0 * PI;
    } else if x < -PI {
        x += 2.0 * PI;
    }
    if x > FRAC_PI_2 {
        x = PI - x;
    } else if x < -FRAC_PI_2 {
        x = -PI - x;
    }
    let x2 = x * x;
    x * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0))))
}

/// Where a signal is in its cycle at `uptime`, from 0 to 1. Integer arithmetic first, so that
/// the phase stays exact after months of uptime (an `f32` of milliseconds would not).
fn phase(uptime: Instant, period_ms: u64) -> f32 {
    (uptime.as_millis() % period_ms) as f32 / period_ms as f32
}

/// The simulated sensor: its noise generator and what decides when an event happens.
#[derive(Clone, Debug)]
pub struct Sensor {
    prng: Prng,
    /// Chance of an event per reading, out of `u32::MAX`.
    event_chance: u32,
}

impl Sensor {
    /// A sensor read `rate_hz` times a second (0 counts as 1), its noise from `seed`.
    pub fn new(rate_hz: u16, seed: u32) -> Self {
        let readings_between_events = u32::from(rate_hz.max(1)) * EVENT_EVERY_SECS;
        Sensor { prng: Prng::new(seed), event_chance: u32::MAX / readings_between_events }
    }

    /// Formats the reading at `uptime` into `out`.
    pub fn reading(&mut self, uptime: Instant, out: &mut heapless::String<MAX_READING>) {
        let temperature = 21.5 + 1.2 * sin_turns(phase(uptime, 90_000)) + 0.05 * self.prng.noise();
        let humidity = 45.0 + 4.0 * sin_turns(phase(uptime, 240_000) + 0.2) + 0.3 * self.prng.noise();
        let sine = sin_turns(phase(uptime, 5_000));
        out.clear();
        // The largest values format in under 80 bytes, so this cannot fail.
        let _ = write!(
            out,
            r#"{{"type":"reading","temperature":{temperature:.2},"humidity":{humidity:.2},"sine":{sine:.3}}}"#
        );
    }

    /// Formats an event into `out` when one happens at this reading.
    pub fn event(&mut self, out: &mut heapless::String<MAX_READING>) -> bool {
        if self.prng.next_u32() >= self.event_chance {
            return false;
        }
        let name = EVENTS[self.prng.next_u32() as usize % EVENTS.len()];
        out.clear();
        let _ = write!(out, r#"{{"type":"event","event":"{name}"}}"#);
        true
    }

    /// Broadcasts the reading at `uptime`, and an event when one happens.
    pub fn publish(&mut self, hub: &DeviceHub, uptime: Instant) {
        let mut json = heapless::String::new();
        self.reading(uptime, &mut json);
        // Nobody connected, or a queue full: the hub deals with the client; the next reading
        // comes anyway.
        let _ = hub.broadcast(DataKind::Text, json.as_bytes());
        if self.event(&mut json) {
            let _ = hub.broadcast(DataKind::Text, json.as_bytes());
        }
    }
}

/// The time between two readings at `rate_hz`.
pub fn period(rate_hz: u16) -> Duration {
    Duration::from_micros(1_000_000 / u64::from(rate_hz.clamp(1, MAX_RATE_HZ)))
}

/// The answer to a command: `{"ack":"<command>"}`, or `{"nack":"<why>"}` for a message that
/// is not one (binary, too long, or with control characters). Written into `out`, a buffer of
/// at least [`MAX_ACK`] bytes the connection already has (the async one lends its hub buffer,
/// so that a device's task futures do not grow); returns the length.
pub fn ack(data: &Data<'_>, out: &mut [u8]) -> usize {
    let mut w = Cursor { out, len: 0 };
    let why = match core::str::from_utf8(data.payload) {
        _ if data.kind == DataKind::Binary => "commands are text messages",
        _ if data.payload.len() > MAX_COMMAND => "command longer than 96 bytes",
        Ok(text) if text.chars().all(|c| !c.is_control()) => {
            let _ = w.write_str(r#"{"ack":""#);
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    let _ = w.write_char('\\');
                }
                // Room for every byte twice was reserved: this cannot fail.
                let _ = w.write_char(c);
            }
            let _ = w.write_str(r#""}"#);
            return w.len;
        }
        _ => "commands have no control characters",
    };
    let _ = write!(w, r#"{{"nack":"{why}"}}"#);
    w.len
}

/// Text written into a byte buffer; what does not fit is an error, never a panic.
struct Cursor<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.out.get_mut(self.len..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Publishes readings at `rate_hz`, forever, on an async runtime.
pub async fn run_async<K: espws::nonblocking::Timer>(hub: &DeviceHub, timer: K, rate_hz: u16) -> ! {
    let period = period(rate_hz);
    let mut sensor = Sensor::new(rate_hz, SEED);
    let mut next = timer.now() + period;
    loop {
        timer.sleep_until(next).await;
        sensor.publish(hub, timer.now());
        next = next + period;
    }
}

/// Publishes readings at `rate_hz`, forever, from a thread of its own.
#[cfg(feature = "std")]
pub fn run_blocking(hub: &DeviceHub, rate_hz: u16) -> ! {
    use espws::time::Clock as _;
    let clock = espws::blocking::StdClock::new();
    let period = period(rate_hz);
    let mut sensor = Sensor::new(rate_hz, SEED);
    let mut next = clock.now() + period;
    loop {
        std::thread::sleep(next.saturating_duration_since(clock.now()));
        sensor.publish(hub, clock.now());
        next = next + period;
    }
}

/// The noise's seed: the same on every device, so that two runs can be compared.
const SEED: u32 = 0x5EED_2026;

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers of a reading, by field name.
    fn field(json: &str, name: &str) -> f32 {
        let key = std::format!("\"{name}\":");
        let start = json.find(&key).unwrap_or_else(|| panic!("no {name} in {json}")) + key.len();
        let rest = &json[start..];
        let end = rest.find([',', '}']).unwrap();
        rest[..end].parse().unwrap_or_else(|_| panic!("{name} is not a number in {json}"))
    }

    #[test]
    fn sin_turns_matches_the_library_sine_over_several_turns() {
        for i in -2000..=2000 {
            let phase = i as f32 / 997.0;
            let want = (phase as f64 * core::f64::consts::TAU).sin() as f32;
            assert!(
                (sin_turns(phase) - want).abs() < 1e-4,
                "sin at {phase} turns: {} vs {want}",
                sin_turns(phase)
            );
        }
    }

    #[test]
    fn the_prng_repeats_from_a_seed_and_its_noise_spans_minus_one_to_one() {
        let (mut a, mut b) = (Prng::new(7), Prng::new(7));
        let mut zero = Prng::new(0);
        let (mut low, mut high, mut sum) = (0.0f32, 0.0f32, 0.0f32);
        for _ in 0..10_000 {
            assert_eq!(a.next_u32(), b.next_u32());
            assert_ne!(zero.next_u32(), 0, "seed 0 must not stick at 0");
            let n = a.noise();
            assert_eq!(n, b.noise());
            assert!((-1.0..=1.0).contains(&n));
            (low, high, sum) = (low.min(n), high.max(n), sum + n);
        }
        assert!(low < -0.9 && high > 0.9, "noise from {low} to {high}");
        assert!((sum / 10_000.0).abs() < 0.02, "noise is centred: mean {}", sum / 10_000.0);
    }

    #[test]
    fn a_reading_is_json_with_three_numbers_in_their_ranges() {
        let mut sensor = Sensor::new(50, 1);
        let mut out = heapless::String::new();
        for ms in (0..600_000).step_by(997) {
            sensor.reading(Instant::from_millis(ms), &mut out);
            assert!(out.starts_with(r#"{"type":"reading","#) && out.ends_with('}'), "{out}");
            assert!((20.2..=22.8).contains(&field(&out, "temperature")), "{out}");
            assert!((40.7..=49.3).contains(&field(&out, "humidity")), "{out}");
            assert!((-1.0..=1.0).contains(&field(&out, "sine")), "{out}");
        }
        // The longest numbers a reading can have still fit.
        sensor.reading(Instant::from_millis(u64::MAX), &mut out);
        assert!(out.ends_with('}'), "{out}");
    }

    #[test]
    fn readings_are_smooth_at_50_hz_and_follow_their_cycles() {
        let mut sensor = Sensor::new(50, 1);
        let mut out = heapless::String::new();
        let mut last: Option<[f32; 3]> = None;
        let (mut sine_min, mut sine_max) = (1.0f32, -1.0f32);
        for ms in (0..10_000).step_by(20) {
            sensor.reading(Instant::from_millis(ms), &mut out);
            let now = [field(&out, "temperature"), field(&out, "humidity"), field(&out, "sine")];
            if let Some(before) = last {
                // Noise of ±0.05 and ±0.3 at most, and the slow cycles barely move in 20 ms.
                assert!((now[0] - before[0]).abs() < 0.12, "temperature jumped: {before:?} -> {now:?}");
                assert!((now[1] - before[1]).abs() < 0.62, "humidity jumped: {before:?} -> {now:?}");
                assert!((now[2] - before[2]).abs() < 0.03, "the sine jumped: {before:?} -> {now:?}");
            }
            (sine_min, sine_max) = (sine_min.min(now[2]), sine_max.max(now[2]));
            last = Some(now);
        }
        assert!(sine_min < -0.99 && sine_max > 0.99, "the 5 s sine spans -1..1 in 10 s");
    }

    #[test]
    fn events_are_occasional() {
        let rate = 50;
        let mut sensor = Sensor::new(rate, 3);
        let mut out = heapless::String::new();
        let hour = u32::from(rate) * 3600;
        let mut events = 0;
        for _ in 0..hour {
            if sensor.event(&mut out) {
                events += 1;
                assert!(EVENTS
                    .iter()
                    .any(|e| out.as_str() == std::format!(r#"{{"type":"event","event":"{e}"}}"#)));
            }
        }
        // One per 20 s on average: 180 in an hour, give or take the luck of the draw.
        assert!((120..=240).contains(&events), "{events} events in an hour");
    }

    #[test]
    fn the_period_follows_the_rate_within_its_bounds() {
        assert_eq!(period(10), Duration::from_millis(100));
        assert_eq!(period(50), Duration::from_millis(20));
        assert_eq!(period(0), Duration::from_secs(1));
        assert_eq!(period(u16::MAX), period(MAX_RATE_HZ));
    }

    fn ack_of(kind: DataKind, payload: &[u8]) -> std::string::String {
        let mut out = [0u8; MAX_ACK];
        let len = ack(&Data { kind, payload, first: true, last: true }, &mut out);
        std::string::String::from_utf8(out[..len].to_vec()).unwrap()
    }

    #[test]
    fn a_command_is_acknowledged_with_its_text_escaped() {
        assert_eq!(ack_of(DataKind::Text, b"led on").as_str(), r#"{"ack":"led on"}"#);
        assert_eq!(ack_of(DataKind::Text, b"").as_str(), r#"{"ack":""}"#);
        assert_eq!(ack_of(DataKind::Text, br#"say "hi" \o/"#).as_str(), r#"{"ack":"say \"hi\" \\o/"}"#);
        assert_eq!(ack_of(DataKind::Text, "réglage €".as_bytes()).as_str(), r#"{"ack":"réglage €"}"#);
        // The worst case fills the buffer and is still whole.
        let quotes = [b'"'; MAX_COMMAND];
        let worst = ack_of(DataKind::Text, &quotes);
        assert!(worst.ends_with(r#""}"#) && worst.len() == 2 * MAX_COMMAND + 10, "{worst}");
    }

    #[test]
    fn what_is_not_a_command_gets_a_nack() {
        assert_eq!(ack_of(DataKind::Binary, b"led on").as_str(), r#"{"nack":"commands are text messages"}"#);
        let long = [b'x'; MAX_COMMAND + 1];
        assert_eq!(ack_of(DataKind::Text, &long).as_str(), r#"{"nack":"command longer than 96 bytes"}"#);
        assert!(ack_of(DataKind::Text, &[b'x'; MAX_COMMAND]).starts_with(r#"{"ack":"#));
        assert_eq!(
            ack_of(DataKind::Text, b"a\nb").as_str(),
            r#"{"nack":"commands have no control characters"}"#
        );
    }
}
