//! The sensor app against the real binary: readings arrive at the rate asked for, and a command
//! is acknowledged to its sender between them.

mod support;

use std::time::{Duration, Instant};

use support::{on_each_runtime, RawClient, Sim};

const RATE: f64 = 50.0;
const MEASURE: Duration = Duration::from_secs(3);
/// Three periods at 50 Hz.
const LONG_GAP: Duration = Duration::from_millis(60);

/// A message as text; the sensor only sends text.
fn next_text(client: &mut RawClient) -> String {
    let (opcode, payload) = client.read_message().expect("a message before the connection ended");
    assert_eq!(opcode, 1, "the sensor sends text");
    String::from_utf8(payload).expect("UTF-8 text")
}

#[test]
fn readings_arrive_at_the_rate_and_a_command_is_acknowledged() {
    on_each_runtime(|| {
        let sim = Sim::start(&["--app", "sensor", "--rate", "50"]);
        let mut client = RawClient::connect(sim.addr);

        // The first reading may come up to one period after the connection: start the clock there.
        let first = next_text(&mut client);
        assert!(first.starts_with(r#"{"type":"reading","temperature":"#), "{first}");
        let started = Instant::now();
        let mut readings = 0;
        let (mut long_gaps, mut longest_gap) = (0, Duration::ZERO);
        let mut last = started;
        while started.elapsed() < MEASURE {
            let text = next_text(&mut client);
            if text.starts_with(r#"{"type":"reading""#) {
                readings += 1;
                let gap = last.elapsed();
                long_gaps += usize::from(gap > LONG_GAP);
                longest_gap = longest_gap.max(gap);
                last = Instant::now();
                for field in ["temperature", "humidity", "sine"] {
                    assert!(text.contains(&format!("\"{field}\":")), "{field} missing from {text}");
                }
            } else {
                assert!(
                    text.starts_with(r#"{"type":"event","event":""#),
                    "neither reading nor event: {text}"
                );
            }
        }
        let rate = f64::from(readings) / started.elapsed().as_secs_f64();
        eprintln!(
            "{readings} readings in {:.2?}: {rate:.1} a second; {long_gaps} gaps over {LONG_GAP:?}, the longest {longest_gap:.2?}",
            started.elapsed()
        );
        // A loaded test machine may delay a reading, never skip or multiply them.
        assert!((RATE * 0.8..=RATE * 1.2).contains(&rate), "{rate:.1} readings a second, asked for {RATE}");
        // Readings are spread over the second, not sent in bursts behind a coarse timer: one
        // firing every 100 ms would leave every fifth gap near 100 ms. A loaded machine may stall
        // the sender now and then, so a few long gaps are allowed.
        assert!(
            long_gaps * 20 <= readings as usize,
            "{long_gaps} of {readings} gaps over {LONG_GAP:?}: readings come in bursts"
        );

        client.send_frame(0x81, br#"set "led" on"#);
        let asked = Instant::now();
        loop {
            let text = next_text(&mut client);
            if text.starts_with(r#"{"ack""#) {
                assert_eq!(text, r#"{"ack":"set \"led\" on"}"#);
                break;
            }
            assert!(asked.elapsed() < Duration::from_secs(5), "no acknowledgement after 5 s");
        }
        client.send_frame(0x82, b"\x01\x02");
        loop {
            let text = next_text(&mut client);
            if text.starts_with(r#"{"nack""#) {
                assert_eq!(text, r#"{"nack":"commands are text messages"}"#);
                break;
            }
            assert!(asked.elapsed() < Duration::from_secs(5), "no refusal of a binary command after 5 s");
        }
    });
}
