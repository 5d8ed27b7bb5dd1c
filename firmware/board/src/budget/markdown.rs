//! The RAM tables of `firmware/README.md`, generated from the model (a test compares).

use super::{bare_metal, esp_idf, Budget, Source, KIB};
use crate::provision::Mode;
use espws_apps::settings::Settings;

/// The RAM tables of `firmware/README.md` for `settings`: one per firmware, a column per Wi-Fi
/// mode, on the original ESP32.
pub fn markdown(settings: &Settings<'_>) -> std::string::String {
    use core::fmt::Write as _;
    use std::string::String;

    fn kib(bytes: isize) -> String {
        let tenths = (bytes.unsigned_abs() * 10 + KIB / 2) / KIB;
        let sign = if bytes < 0 { "-" } else { "" };
        std::format!("{sign}{}.{}", tenths / 10, tenths % 10)
    }

    fn table(out: &mut String, station: &Budget, ap: &Budget) {
        let _ = writeln!(out, "| KiB | station | softAP | source |");
        let _ = writeln!(out, "|---|--:|--:|---|");
        let mut rows: std::vec::Vec<(&str, Option<usize>, Option<usize>, Source)> = std::vec::Vec::new();
        for item in &ap.items {
            let in_station = station.items.iter().find(|s| s.what == item.what).map(|s| s.bytes);
            rows.push((item.what, in_station, Some(item.bytes), item.source));
        }
        for item in &station.items {
            if !ap.items.iter().any(|a| a.what == item.what) {
                rows.push((item.what, Some(item.bytes), None, item.source));
            }
        }
        let cell = |b: Option<usize>| b.map_or_else(|| String::from("-"), |b| kib(b as isize));
        for (what, s, a, source) in rows {
            let _ = writeln!(out, "| {what} | {} | {} | {} |", cell(s), cell(a), source.label());
        }
        let _ = writeln!(
            out,
            "| **total** | **{}** | **{}** | |",
            kib(station.used() as isize),
            kib(ap.used() as isize)
        );
        let _ = writeln!(
            out,
            "| {} | {} | {} | |",
            station.capacity_what,
            kib(station.capacity as isize),
            kib(ap.capacity as isize)
        );
        let _ = writeln!(
            out,
            "| **headroom** | **{}** | **{}** | |",
            kib(station.headroom()),
            kib(ap.headroom())
        );
    }

    let mut out = String::new();
    let hub = if settings.uses_hub() { "with the hub" } else { "echo, no hub" };
    let _ =
        writeln!(out, "{} clients, {} B receive buffers, {hub}.", settings.max_clients, settings.rx_buffer);
    let _ = writeln!(out);
    let _ = writeln!(out, "ESP-IDF (`firmware/esp-idf`), worst case, on the ESP32:");
    let _ = writeln!(out);
    table(&mut out, &esp_idf::budget(settings, Mode::Station), &esp_idf::budget(settings, Mode::AccessPoint));
    let _ = writeln!(out);
    let tls = esp_idf::TLS_DEFAULTS;
    let _ = writeln!(
        out,
        "ESP-IDF with TLS (`ESPWS_TLS_CERT`), {} clients (the default with a certificate; at most {} fit both modes), the echo app, worst case (every client in its handshake at once):",
        tls.max_clients,
        esp_idf::most_clients(&tls)
    );
    let _ = writeln!(out);
    table(&mut out, &esp_idf::budget(&tls, Mode::Station), &esp_idf::budget(&tls, Mode::AccessPoint));
    let _ = writeln!(out);
    let chip = bare_metal::ESP32;
    let (reclaimed, _) = bare_metal::heap_split(chip);
    let _ = writeln!(
        out,
        "Bare metal (`firmware/esp-hal`), on the ESP32; besides, {} KiB of esp-alloc heap for esp-radio sit in the {} bytes the bootloader leaves (`dram2_seg`):",
        reclaimed / KIB,
        chip.reclaimed
    );
    let _ = writeln!(out);
    table(
        &mut out,
        &bare_metal::budget(chip, settings, Mode::Station),
        &bare_metal::budget(chip, settings, Mode::AccessPoint),
    );
    let sixteen = bare_metal::SIXTEEN_CLIENTS;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Bare metal with {} clients, the echo app otherwise as above ({} receive buffers shared; ESP-IDF's thread per client does not fit 16):",
        sixteen.max_clients,
        sixteen.shared_rx_buffers()
    );
    let _ = writeln!(out);
    table(
        &mut out,
        &bare_metal::budget(chip, &sixteen, Mode::Station),
        &bare_metal::budget(chip, &sixteen, Mode::AccessPoint),
    );
    let tls = bare_metal::THREE_TLS_CLIENTS;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Bare metal serving https and wss (`ESPWS_TLS_CERT`), {} clients, the echo app otherwise as above (each worker keeps its receive buffer):",
        tls.max_clients
    );
    let _ = writeln!(out);
    table(
        &mut out,
        &bare_metal::budget(chip, &tls, Mode::Station),
        &bare_metal::budget(chip, &tls, Mode::AccessPoint),
    );
    out
}
