//! A service admits or declines a valid upgrade before its 101 goes out: a declined client gets
//! the service's HTTP status and reason and never a WebSocket; an admitted one's connection
//! receives what the service's admission produced. Checked on the blocking server and on the
//! async `serve`.

use core::convert::Infallible;
use core::future::Pending;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use espws::proto::handshake::Declined;
use espws::time::Clock;
use espws::wire::http::Request;
use espws::{nonblocking, Instant};

#[path = "support/raw_client.rs"]
mod raw_client;
use raw_client::{upgrade, UPGRADE};

/// Admits one client at a time; each admitted client is told its ticket number.
#[derive(Default)]
struct OneAtATime {
    inside: AtomicUsize,
    tickets: AtomicU32,
}

/// A client's place, given back when its connection ends.
struct Ticket<'s> {
    number: u32,
    service: &'s OneAtATime,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.service.inside.fetch_sub(1, Ordering::AcqRel);
    }
}

impl OneAtATime {
    fn ticket(&self) -> Result<Ticket<'_>, Declined> {
        if self.inside.fetch_add(1, Ordering::AcqRel) > 0 {
            self.inside.fetch_sub(1, Ordering::AcqRel);
            return Err(Declined::busy("one client at a time"));
        }
        Ok(Ticket { number: self.tickets.fetch_add(1, Ordering::AcqRel) + 1, service: self })
    }
}

fn ticket_text(number: u32) -> String {
    format!("ticket {number}")
}

mod blocking_server {
    use super::*;
    use espws::blocking::{self, BlockingService};
    use espws::server::Server;
    use espws::{Client, ServeConfig, Service};

    static SERVICE: OneAtATime = OneAtATime { inside: AtomicUsize::new(0), tickets: AtomicU32::new(0) };

    struct Shared;

    impl Service for Shared {
        type Admission = Ticket<'static>;

        fn admit(&self, _req: &Request<'_, '_>) -> Result<Ticket<'static>, Declined> {
            SERVICE.ticket()
        }
    }

    impl BlockingService for Shared {
        fn websocket<T: blocking::Transport, B: espws::Storage, C: blocking::Clock>(
            &self,
            ws: &mut blocking::WebSocket<T, B, C>,
            _client: &Client<'_>,
            ticket: Ticket<'static>,
        ) {
            let _ = ws.sender().send_text(&ticket_text(ticket.number));
            // Holds the ticket until the client goes.
            while let Ok(Some(_)) = ws.next_event() {}
        }
    }

    fn read_text_frame(stream: &mut TcpStream) -> String {
        let mut head = [0u8; 2];
        stream.read_exact(&mut head).unwrap();
        assert_eq!(head[0], 0x81, "a whole text frame");
        let mut payload = vec![0u8; usize::from(head[1])];
        stream.read_exact(&mut payload).unwrap();
        String::from_utf8(payload).unwrap()
    }

    #[test]
    fn a_declined_upgrade_gets_the_services_status_and_a_freed_place_is_given_again() {
        let server = Server::bind("127.0.0.1:0", ServeConfig::default(), Shared).unwrap();
        let addr = server.local_addr().unwrap();
        std::thread::spawn(move || server.run());

        let (mut first, head) = upgrade(addr);
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        assert_eq!(read_text_frame(&mut first), ticket_text(1));

        let (mut second, head) = upgrade(addr);
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{head}");
        let mut body = String::new();
        second.read_to_string(&mut body).unwrap();
        assert!(body.contains("one client at a time"), "the reason is in the body: {body:?}");

        // The first client leaves; its ticket goes back and the next client is admitted.
        first
            .write_all(&espws::wire::frame::masked_client_frame(0x88, &1000u16.to_be_bytes(), [1, 2, 3, 4]))
            .unwrap();
        let mut rest = Vec::new();
        let _ = first.read_to_end(&mut rest);
        let mut admitted = None;
        for _ in 0..100 {
            let (mut third, head) = upgrade(addr);
            if head.starts_with("HTTP/1.1 101 ") {
                admitted = Some(read_text_frame(&mut third));
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(admitted, Some(ticket_text(2)), "the freed place is given to the next client");
    }
}

mod async_serve {
    use super::*;
    use espws::nonblocking::{AsyncService, Transport, WebSocket};
    use espws::RecvBuf;
    use espws::{Client, ServeConfig, Served, Service};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A connection whose peer sent `input` and then closed its side; records what was written.
    struct Scripted {
        input: Vec<u8>,
        output: Rc<RefCell<Vec<u8>>>,
    }

    impl embedded_io_async::ErrorType for Scripted {
        type Error = Infallible;
    }

    impl embedded_io_async::Read for Scripted {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
            let n = buf.len().min(self.input.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input.drain(..n);
            Ok(n)
        }
    }

    impl embedded_io_async::Write for Scripted {
        async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
            self.output.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }

        async fn flush(&mut self) -> Result<(), Infallible> {
            Ok(())
        }
    }

    impl Transport for Scripted {}

    /// Time stands still; nothing here waits on it.
    #[derive(Copy, Clone)]
    struct Frozen;

    impl Clock for Frozen {
        fn now(&self) -> Instant {
            Instant::from_millis(0)
        }
    }

    impl nonblocking::Timer for Frozen {
        type Sleep = Pending<()>;
        fn sleep_until(&self, _deadline: Instant) -> Pending<()> {
            core::future::pending()
        }
    }

    // On the service's reference, so that a ticket may borrow the service.
    impl<'s> Service for &'s OneAtATime {
        type Admission = Ticket<'s>;

        fn admit(&self, _req: &Request<'_, '_>) -> Result<Ticket<'s>, Declined> {
            OneAtATime::ticket(self)
        }
    }

    impl AsyncService for &OneAtATime {
        async fn websocket<T: Transport, B: espws::Storage, K: nonblocking::Timer>(
            &self,
            ws: &mut WebSocket<T, B, K>,
            _client: &Client<'_>,
            ticket: Self::Admission,
        ) {
            let _ = ws.sender().send_text(&ticket_text(ticket.number)).await;
        }
    }

    /// Serves one scripted connection; returns how it ended and what the server wrote.
    fn serve(service: &OneAtATime) -> (Served, String) {
        let output = Rc::new(RefCell::new(Vec::new()));
        let io = Scripted { input: UPGRADE.as_bytes().to_vec(), output: output.clone() };
        let served = embassy_futures::block_on(nonblocking::serve(
            io,
            RecvBuf::new([0u8; 1024]),
            Frozen,
            &ServeConfig::default(),
            &service,
            1,
            None,
        ))
        .served;
        let output = String::from_utf8_lossy(&output.borrow()).into_owned();
        (served, output)
    }

    #[test]
    fn a_declined_upgrade_gets_the_services_status_and_never_a_websocket() {
        let service = OneAtATime::default();
        let (served, output) = serve(&service);
        assert!(matches!(served, Served::WebSocket(_)), "{served:?}");
        assert!(output.starts_with("HTTP/1.1 101 "), "{output}");
        assert!(output.contains(&ticket_text(1)), "the connection got its admission: {output:?}");
        assert_eq!(
            service.inside.load(Ordering::Acquire),
            0,
            "the ticket went back when the connection ended"
        );

        let _held = service.ticket().unwrap();
        let (served, output) = serve(&service);
        assert_eq!(served, Served::Http);
        assert!(output.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{output}");
        assert!(output.contains("one client at a time"), "{output}");
        assert!(!output.contains("ticket"), "no WebSocket was served: {output:?}");
    }
}
