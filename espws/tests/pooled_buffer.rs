//! A connection on the tokio transport gives its pooled receive buffer back while it waits for
//! input, keeps a partial frame in its carry meanwhile, and takes a buffer again when bytes come.

use std::cell::RefCell;
use std::future::Future;
use std::io::Write as _;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use espws::nonblocking::{PooledBuf, TokioTcp, TokioTimer, WebSocket};
use espws::{Config, Data, Event, RecvBuf};

/// A masked client frame: FIN, `opcode`, a payload under 126 bytes.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// Polls `future` once, as a runtime would before it parks the task.
async fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Option<F::Output> {
    let mut future = future;
    std::future::poll_fn(|cx| {
        Poll::Ready(match future.as_mut().poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

#[test]
fn a_waiting_connection_holds_no_buffer_and_keeps_a_partial_frame() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let io = TokioTcp::new(Rc::new(RefCell::new(tokio::net::TcpStream::from_std(server).unwrap())));
        let rx = RecvBuf::new(PooledBuf::new(4096));
        let mut ws = WebSocket::new(io, rx, Config::default(), TokioTimer::new(), Duration::from_secs(5));
        let lent_before = PooledBuf::pooled_here();

        // Half of a frame: the driver reads it, finds no whole frame, and waits with the rest
        // of the frame still to come.
        let frame = client_frame(0x1, b"hello, pool");
        client.write_all(&frame[..5]).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        {
            let mut next = pin!(ws.next_event());
            assert!(poll_once(next.as_mut()).await.is_none(), "no whole frame yet");
            assert_eq!(
                PooledBuf::pooled_here(),
                lent_before + 1,
                "while it waits, the connection's buffer is back in the thread's pool"
            );
            client.write_all(&frame[5..]).unwrap();
            let (event, _sender) = tokio::time::timeout(Duration::from_secs(5), next)
                .await
                .expect("the rest of the frame is read")
                .unwrap()
                .expect("an event");
            match event {
                Event::Data(Data { payload, first: true, last: true, .. }) => {
                    assert_eq!(payload, b"hello, pool", "the carried half and the rest make the frame")
                }
                _ => panic!("expected the whole text message"),
            }
            assert_eq!(PooledBuf::pooled_here(), lent_before, "taken again while the event is handled");
        }

        // A close ends it; the buffer is lent for the close and given back by the next wait.
        client.write_all(&client_frame(0x8, &[0x03, 0xe8])).unwrap();
        let mut closed = false;
        while let Ok(Some((event, _))) = ws.next_event().await {
            closed |= matches!(event, Event::Closed { .. });
        }
        assert!(closed);
    });
}
