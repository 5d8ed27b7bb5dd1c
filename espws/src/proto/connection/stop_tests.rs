//! A server's shutdown: the end of stream it causes is not the peer's.

use super::*;

#[test]
fn an_open_connection_closes_with_1001_and_reads_on_for_the_peers_close() {
    let mut h = Harness::whole();
    assert!(!h.conn.handle_stop(h.now), "no pause: the close frame is to be written first");
    h.flush();
    assert_eq!(h.sent_close_code(), Some(1001));
    assert!(!h.conn.is_closed(), "it waits for the peer's close frame");
    assert!(h.conn.handle_stop(h.now), "a second end of stream while closing asks for a pause");
    // The peer's close still arrives and completes the handshake.
    h.feed(&frame(OpCode::Close, true, &close_payload(1001, "")));
    assert_eq!(h.closed(), Some(Closed::Handshake { code: CloseCode::GOING_AWAY, initiator: Side::Local }));
    assert!(!h.conn.handle_stop(h.now), "nothing to wait for once closed");
    assert_eq!(h.sent.iter().filter(|f| f[0] == 0x88).count(), 1, "one close frame only");
}
