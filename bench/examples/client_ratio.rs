//! The espws tokio client against tokio-websockets' client, alternated against the same echo
//! server in one run: messages per second of each, and their ratio per round.
//!
//! ```text
//! client_ratio HOST:PORT [CONNECTIONS] [SIZE] [MESSAGES_PER_CONNECTION] [ROUNDS]
//! e.g. client_ratio 127.0.0.1:9001 1 64 20000 6      client_ratio 127.0.0.1:9001 100 16384 200 6
//! ```
//!
//! Each connection sends a binary message and waits for its echo, MESSAGES times; all
//! connections run at once on one current-thread runtime (as espws-load does). The rounds
//! alternate which client goes first, so that a machine changing speed between runs weighs on
//! both alike; the median of the per-round ratios is the figure to read.

use std::time::{Duration, Instant};

use espws::client::{tokio::connect_tcp, ClientConfig, Connected};
use espws::proto::client_handshake::ClientRequest;
use espws::wire::url::Url;
use espws::{Config, Event};
use futures_util::{SinkExt as _, StreamExt as _};

#[derive(Copy, Clone, Debug)]
enum Client {
    Espws,
    TokioWebsockets,
}

async fn espws_connection(url: &'static str, size: usize, messages: u32) -> Result<(), String> {
    let url = Url::parse(url).map_err(|e| e.to_string())?;
    let mut config = ClientConfig::new(ClientRequest::new(url));
    config.connection = Config { max_message: 64 << 20, ping_interval: None, ..Config::default() };
    let Connected { mut ws, .. } =
        connect_tcp(&config, (size + 4096).max(64 * 1024)).await.map_err(|e| e.to_string())?;
    let payload = vec![0x5a; size];
    for _ in 0..messages {
        ws.sender().send_binary(&payload).await.map_err(|e| format!("{e:?}"))?;
        loop {
            match ws.next_event().await {
                Ok(Some((Event::Data(d), _))) if d.last => break,
                Ok(Some((Event::Closed { reason, .. }, _))) => return Err(format!("closed: {reason}")),
                Ok(Some(_)) => {}
                Ok(None) => return Err("ended".into()),
                Err(e) => return Err(format!("{e:?}")),
            }
        }
    }
    ws.finish().await;
    Ok(())
}

async fn tokio_websockets_connection(url: &'static str, size: usize, messages: u32) -> Result<(), String> {
    let uri = http::Uri::from_static(url);
    let (mut ws, _) = tokio_websockets::ClientBuilder::from_uri(uri)
        .limits(tokio_websockets::Limits::default().max_payload_len(Some(64 << 20)))
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let payload = bytes::Bytes::from(vec![0x5a; size]);
    for _ in 0..messages {
        ws.send(tokio_websockets::Message::binary(payload.clone())).await.map_err(|e| e.to_string())?;
        match ws.next().await {
            Some(Ok(m)) if m.as_payload().len() == size => {}
            Some(Ok(m)) => return Err(format!("an echo of {} bytes, not {size}", m.as_payload().len())),
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("ended".into()),
        }
    }
    let _ = ws.close().await;
    Ok(())
}

/// Messages per second of `client` with `connections` at once.
async fn run(
    client: Client,
    url: &'static str,
    connections: usize,
    size: usize,
    messages: u32,
) -> Result<f64, String> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        tasks.push(tokio::task::spawn_local(async move {
            match client {
                Client::Espws => espws_connection(url, size, messages).await,
                Client::TokioWebsockets => tokio_websockets_connection(url, size, messages).await,
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    let total = connections as f64 * f64::from(messages);
    Ok(total / started.elapsed().as_secs_f64())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(addr) = args.first() else {
        eprintln!("usage: client_ratio HOST:PORT [CONNECTIONS] [SIZE] [MESSAGES] [ROUNDS]");
        return std::process::ExitCode::from(2);
    };
    let number = |i: usize, default: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let (connections, size, messages, rounds) =
        (number(1, 1), number(2, 64), number(3, 10_000) as u32, number(4, 6));
    let url: &'static str = Box::leak(format!("ws://{addr}/").into_boxed_str());
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let local = tokio::task::LocalSet::new();
    let outcome: Result<Vec<f64>, String> = local.block_on(&runtime, async {
        let mut ratios = Vec::new();
        for round in 0..rounds {
            let order = if round % 2 == 0 {
                [Client::Espws, Client::TokioWebsockets]
            } else {
                [Client::TokioWebsockets, Client::Espws]
            };
            let mut rate = [0.0; 2];
            for client in order {
                let r = run(client, url, connections, size, messages).await?;
                rate[client as usize] = r;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let ratio = rate[0] / rate[1];
            println!(
                "round {round}: espws {:.0} msg/s, tokio-websockets {:.0} msg/s, ratio {ratio:.2}",
                rate[0], rate[1]
            );
            ratios.push(ratio);
        }
        Ok(ratios)
    });
    match outcome {
        Ok(mut ratios) => {
            ratios.sort_by(f64::total_cmp);
            println!(
                "client ratio (espws / tokio-websockets), {connections} x {size} B: median {:.2} of {} rounds",
                ratios[ratios.len() / 2],
                ratios.len()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("client_ratio: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
