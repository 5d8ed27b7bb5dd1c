//! `--connect URL`: the device dials out and runs its app over that connection, reconnecting
//! with backoff, instead of listening.

use espws::client::reconnect::{Ended, Policy};
use espws::client::{Auth, ClientConfig};
use espws::proto::client_handshake::ClientRequest;
use espws::wire::url::Url;
use espws_apps::settings::Settings;

use crate::Args;

/// Runs the echo app on outgoing connections to `url` until the process is stopped.
pub fn run(args: &Args, url: &str, settings: &Settings<'static>) -> Result<(), String> {
    let url: &'static str = Box::leak(url.to_owned().into_boxed_str());
    let url = Url::parse(url).map_err(|e| format!("--connect {url}: {e}"))?;
    if args.ca_file.is_some() || url.secure {
        return Err("wss:// and --ca-file need TLS, which this build does not include yet".into());
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
    let mut config = ClientConfig::new(request);
    config.connection = settings.connection;
    config.handshake_timeout = settings.handshake_timeout;
    config.write_timeout = settings.write_timeout;
    log::info!("espws-sim {} dialling {} (echo app, blocking driver)", env!("CARGO_PKG_VERSION"), url.host);
    espws::client::std::run_reconnecting(&config, settings.rx_buffer, Policy::default(), |ws, _| {
        espws_apps::echo::run_blocking(ws);
        Ended::Lost
    });
    Ok(())
}
