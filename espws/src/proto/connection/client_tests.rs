//! The client role: masking what it sends, refusing masked frames, its side of the close.

use super::*;

/// A key source for tests: a counter, so that each key is distinct and known.
fn counting_keys() -> [u8; 4] {
    use core::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0x0102_0304);
    NEXT.fetch_add(0x0101_0101, Ordering::Relaxed).to_be_bytes()
}

fn client() -> Harness {
    Harness {
        conn: Connection::with_role(Config::default(), Role::Client(counting_keys), T0),
        rx: RecvBuf::new(vec![0; 4096]),
        events: Vec::new(),
        sent: Vec::new(),
        now: T0,
    }
}

/// An unmasked server frame.
fn server_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        fin: b0 & 0x80 != 0,
        opcode: OpCode::Binary,
        mask: None,
        payload_len: payload.len() as u64,
    };
    let mut frame = EncodedHeader::new(&header).as_bytes().to_vec();
    frame[0] = b0;
    frame.extend_from_slice(payload);
    frame
}

/// Parses a frame this side sent and returns its opcode, key and unmasked payload.
fn unmask_sent(frame: &[u8]) -> (OpCode, Option<[u8; 4]>, Vec<u8>) {
    let crate::wire::Status::Complete(h, n) = FrameHeader::parse(frame).unwrap() else { panic!("partial") };
    let mut payload = frame[n..].to_vec();
    if let Some(key) = h.mask {
        crate::wire::mask::apply_mask_bytewise(&mut payload, key, 0);
    }
    (h.opcode, h.mask, payload)
}

#[test]
fn rfc_5_1_a_client_reads_unmasked_server_frames() {
    let mut h = client();
    h.feed(&server_frame(0x81, b"Hello"));
    assert_eq!(h.events, vec![Ev::Data(DataKind::Text, b"Hello".to_vec(), true, true)]);
}

#[test]
fn rfc_5_1_a_masked_frame_from_the_server_closes_with_1002() {
    let mut h = client();
    h.feed(&raw_frame(0x81, b"Hello"));
    assert_eq!(h.closed(), Some(Closed::Failed(ProtocolError::MaskedFrame)));
    assert_eq!(h.sent_close_code_masked(), Some(1002));
}

#[test]
fn rfc_5_1_an_unmasked_frame_from_a_client_still_closes_a_server_with_1002() {
    let mut h = Harness::whole();
    h.feed(&server_frame(0x81, b"Hello"));
    assert_eq!(h.closed(), Some(Closed::Failed(ProtocolError::UnmaskedFrame)));
}

#[test]
fn rfc_5_3_a_client_masks_every_data_header_with_a_fresh_key() {
    let mut conn = Connection::with_role(Config::default(), Role::Client(counting_keys), T0);
    let a = conn.send_header(DataKind::Text, 5, true, true).unwrap();
    let b = conn.send_header(DataKind::Text, 5, true, true).unwrap();
    assert_eq!(a.as_bytes().len(), 6);
    assert_eq!(a.as_bytes()[1], 0x85);
    let (ka, kb) = (a.mask().unwrap(), b.mask().unwrap());
    assert_ne!(ka, kb);
    assert_eq!(&a.as_bytes()[2..6], &ka);
    let server = Connection::new(Config::default(), T0).send_header(DataKind::Text, 5, true, true).unwrap();
    assert_eq!(server.mask(), None);
}

#[test]
fn rfc_5_3_a_client_masks_its_pongs_pings_and_close_frames() {
    let mut h = client();
    h.feed(&server_frame(0x89, b"ping!"));
    let (opcode, key, payload) = unmask_sent(&h.sent[0]);
    assert_eq!((opcode, payload.as_slice()), (OpCode::Pong, &b"ping!"[..]));
    assert!(key.is_some());
    h.conn.handle_timeout(T0.after_millis(15_000));
    h.flush();
    let (opcode, key, _) = unmask_sent(h.sent.last().unwrap());
    assert_eq!(opcode, OpCode::Ping);
    assert!(key.is_some());
    h.conn.close(CloseCode::NORMAL, "bye", h.now).unwrap();
    h.flush();
    let (opcode, key, payload) = unmask_sent(h.sent.last().unwrap());
    assert_eq!((opcode, &payload[2..]), (OpCode::Close, &b"bye"[..]));
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1000);
    assert!(key.is_some());
}

#[test]
fn rfc_7_1_2_a_client_completes_the_close_handshake_the_server_starts() {
    let mut h = client();
    h.feed(&server_frame(0x88, &close_payload(1001, "restart")));
    assert_eq!(h.closed(), Some(Closed::Handshake { code: CloseCode::GOING_AWAY, initiator: Side::Peer }));
    assert_eq!(h.sent_close_code_masked(), Some(1001));
}

impl Harness {
    /// The code of the (masked) close frame a client sent, if any.
    fn sent_close_code_masked(&self) -> Option<u16> {
        self.sent.iter().map(|f| unmask_sent(f)).find(|(op, _, _)| *op == OpCode::Close).map(|(_, _, p)| {
            if p.len() >= 2 {
                u16::from_be_bytes([p[0], p[1]])
            } else {
                0
            }
        })
    }
}
