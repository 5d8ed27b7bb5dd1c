//! `--connect URL`: the device dials out and runs its app over that connection, reconnecting
//! with backoff, instead of listening.

use espws::client::reconnect::{Ended, Policy};
use espws::client::tls::TlsConfig;
use espws::client::{Auth, ClientConfig};
use espws::proto::client_handshake::ClientRequest;
use espws::wire::url::Url;
use espws_apps::settings::Settings;

use crate::Args;

/// Runs the echo app on outgoing connections to `url` until the process is stopped.
pub fn run(args: &Args, url: &str, settings: &Settings<'static>) -> Result<(), String> {
    let url: &'static str = Box::leak(url.to_owned().into_boxed_str());
    let url = Url::parse(url).map_err(|e| format!("--connect {url}: {e}"))?;
    if args.ca_file.is_some() && !url.secure {
        return Err("--ca-file is for wss:// URLs".into());
    }
    let headers: Vec<(&'static str, &'static str)> = args
        .headers
        .iter()
        .map(|h| {
            let (name, value) =
                h.split_once(':').ok_or_else(|| format!("--header {h}: expected 'Name: value'"))?;
            let leak = |s: &str| -> &'static str { Box::leak(s.trim().to_owned().into_boxed_str()) };
            Ok((leak(name), leak(value)))
        })
        .collect::<Result<_, String>>()?;
    let mut request = ClientRequest::new(url);
    request.protocols = settings.policy.protocols;
    request.headers = headers.leak();
    request.auth = settings.policy.token.map(Auth::Bearer);
    // The device offers compression when it would agree to it as a server.
    request.deflate = settings.policy.deflate.enabled;
    let mut config = ClientConfig::new(request);
    config.connection = settings.connection;
    config.handshake_timeout = settings.handshake_timeout;
    config.write_timeout = settings.write_timeout;
    log::info!("espws-sim {} dialling {} (echo app, blocking driver)", env!("CARGO_PKG_VERSION"), url.host);
    let rx = settings.rx_buffer;
    if url.secure {
        let tls = match &args.ca_file {
            Some(path) => TlsConfig::ca_file(path.as_ref()).map_err(|e| format!("--ca-file {path}: {e}"))?,
            None => TlsConfig::webpki_roots(),
        };
        let dial = |config: &ClientConfig<'static>| espws::client::tls::connect_tls(config, rx, &tls);
        espws::client::std::run_reconnecting(&config, Policy::default(), dial, echo);
    } else {
        let dial = |config: &ClientConfig<'static>| espws::client::std::connect_tcp(config, rx);
        espws::client::std::run_reconnecting(&config, Policy::default(), dial, echo);
    }
    Ok(())
}

/// The echo app on one connection; losing it means dialling again.
fn echo<T: espws::blocking::Transport>(
    ws: &mut espws::blocking::WebSocket<T, Box<[u8]>, espws::blocking::StdClock>,
    _: Option<&str>,
) -> Ended {
    espws_apps::echo::run_blocking(ws);
    Ended::Lost
}
