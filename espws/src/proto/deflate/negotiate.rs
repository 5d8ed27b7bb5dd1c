//! The permessage-deflate negotiation (RFC 7692 section 7.1): the server's answer to offers, and
//! the client's offer and its check of the answer.

use crate::wire::extensions::{self, BufferTooSmall, Param};

/// The extension's registered name.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// What the server accepts and asks for when a client offers permessage-deflate.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Negotiate the extension at all.
    pub enabled: bool,
    /// The largest LZ77 window (log2, 8 to 15) the server inflates the client's messages with:
    /// the inflate window's RAM per connection. A client that offers no `client_max_window_bits`
    /// may use 15 (32 KiB), so below 15 its offer is declined.
    pub client_max_window_bits: u8,
    /// The window (log2, 8 to 15) the server compresses its own messages with.
    pub server_max_window_bits: u8,
    /// Ask the client to compress each message on its own (`client_no_context_takeover`).
    pub client_no_context_takeover: bool,
    /// Compress each outgoing message on its own (`server_no_context_takeover`), even unasked.
    pub server_no_context_takeover: bool,
}

impl DeflateConfig {
    /// No compression: offers are ignored (the device's default).
    pub const OFF: DeflateConfig = DeflateConfig {
        enabled: false,
        client_max_window_bits: 15,
        server_max_window_bits: 15,
        client_no_context_takeover: false,
        server_no_context_takeover: false,
    };

    /// Full 32 KiB windows both ways, with context takeover: the best compression, for a PC.
    pub const FULL: DeflateConfig = DeflateConfig { enabled: true, ..DeflateConfig::OFF };

    /// A small device: a 512-byte inflate window and no context carried across the client's
    /// messages, so only clients that offer `client_max_window_bits` (as Chrome does) get it.
    pub const SMALL: DeflateConfig = DeflateConfig {
        enabled: true,
        client_max_window_bits: 9,
        server_max_window_bits: 9,
        client_no_context_takeover: true,
        server_no_context_takeover: true,
    };
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig::OFF
    }
}

/// The parameters both sides agreed on, as the server answers them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// The server resets its compressor for every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor for every message.
    pub client_no_context_takeover: bool,
    /// The server's window (log2): the server's messages never refer further back.
    pub server_max_window_bits: u8,
    /// The client's window (log2): the size of the inflate window.
    pub client_max_window_bits: u8,
    /// Whether the answer carries `server_max_window_bits`.
    answer_server_bits: bool,
    /// Whether the answer carries `client_max_window_bits` (only if the client offered it).
    answer_client_bits: bool,
}

/// Window sizes as answer text, 8 to 15.
const BITS: [&[u8]; 8] = [b"8", b"9", b"10", b"11", b"12", b"13", b"14", b"15"];

impl Agreed {
    /// The same agreement seen from the client: its own messages are what the server calls the
    /// client's. The inflater and the deflater read `client_*` as the peer's and `server_*` as
    /// their own, so a client builds them from this.
    #[cfg(feature = "std")]
    pub(crate) fn mirrored(&self) -> Agreed {
        Agreed {
            server_no_context_takeover: self.client_no_context_takeover,
            client_no_context_takeover: self.server_no_context_takeover,
            server_max_window_bits: self.client_max_window_bits,
            client_max_window_bits: self.server_max_window_bits,
            answer_server_bits: self.answer_client_bits,
            answer_client_bits: self.answer_server_bits,
        }
    }

    /// Writes the `Sec-WebSocket-Extensions` value of the answer; returns its length.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        // Written a parameter at a time, without a parameter list on the stack: this runs on the
        // connection's stack, which is budgeted to the byte on a device.
        let bits = |b: u8| Some(BITS[usize::from(b.clamp(8, 15) - 8)]);
        let params = [
            (self.server_no_context_takeover, b"server_no_context_takeover".as_slice(), None),
            (self.client_no_context_takeover, b"client_no_context_takeover".as_slice(), None),
            (
                self.answer_server_bits,
                b"server_max_window_bits".as_slice(),
                bits(self.server_max_window_bits),
            ),
            (
                self.answer_client_bits,
                b"client_max_window_bits".as_slice(),
                bits(self.client_max_window_bits),
            ),
        ];
        let mut len = extensions::write_element(out, EXTENSION_NAME, &[])?;
        for (wanted, name, value) in params {
            if wanted {
                let rest = out.get_mut(len..).ok_or(BufferTooSmall)?;
                let n = extensions::write_element(rest, "", &[Param { name, value }])?;
                len += n;
            }
        }
        Ok(len)
    }
}

/// The first permessage-deflate offer in `headers` (the `Sec-WebSocket-Extensions` values, in
/// order) that `config` can accept, and what to answer; `None` declines them all.
///
/// Not inlined: its iterators would otherwise widen the frame of the driver's connection loop.
#[inline(never)]
pub fn negotiate<'h>(headers: impl IntoIterator<Item = &'h [u8]>, config: &DeflateConfig) -> Option<Agreed> {
    if !config.enabled {
        return None;
    }
    headers
        .into_iter()
        .flat_map(extensions::offers)
        .filter_map(Result::ok)
        .filter(|offer| offer.name.eq_ignore_ascii_case(EXTENSION_NAME.as_bytes()))
        .find_map(|offer| accept(offer, config))
}

/// A window-bits value: 1*DIGIT, 8 to 15 (RFC 7692 sections 7.1.2.1 and 7.1.2.2).
fn window_bits(value: &[u8]) -> Option<u8> {
    match value {
        [d] if (b'8'..=b'9').contains(d) => Some(d - b'0'),
        [b'1', d] if (b'0'..=b'5').contains(d) => Some(10 + d - b'0'),
        _ => None,
    }
}

/// The four parameters of one offer or answer, each at most once.
#[derive(Copy, Clone, Debug, Default)]
struct Params {
    server_no_context: bool,
    client_no_context: bool,
    server_bits: Option<u8>,
    /// `Some(None)`: present without a value.
    client_bits: Option<Option<u8>>,
}

impl Params {
    /// The parameters of `element`, or `None` if one is there twice, has a value where none
    /// belongs, a bad value, or an unknown name (RFC 7692 section 7.1).
    fn parse(element: extensions::Offer<'_>) -> Option<Params> {
        let mut params = Params::default();
        for param in element.params() {
            let name = param.name;
            if name.eq_ignore_ascii_case(b"server_no_context_takeover") {
                if params.server_no_context || param.value.is_some() {
                    return None;
                }
                params.server_no_context = true;
            } else if name.eq_ignore_ascii_case(b"client_no_context_takeover") {
                if params.client_no_context || param.value.is_some() {
                    return None;
                }
                params.client_no_context = true;
            } else if name.eq_ignore_ascii_case(b"server_max_window_bits") {
                if params.server_bits.is_some() {
                    return None;
                }
                params.server_bits = Some(window_bits(param.value?)?);
            } else if name.eq_ignore_ascii_case(b"client_max_window_bits") {
                if params.client_bits.is_some() {
                    return None;
                }
                params.client_bits = Some(match param.value {
                    Some(value) => Some(window_bits(value)?),
                    None => None,
                });
            } else {
                return None;
            }
        }
        Some(params)
    }
}

/// What a client offers: permessage-deflate, and that the server may limit the client's window
/// (`client_max_window_bits` without a value), so that a small server can accept.
pub const CLIENT_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// Why a server's `Sec-WebSocket-Extensions` answer to [`CLIENT_OFFER`] cannot be used; the
/// client then fails the connection (RFC 7692 section 7.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AnswerError {
    /// An extension that was not offered, or an answer when nothing was offered.
    NotOffered,
    /// permessage-deflate with invalid parameters, or more than one answer.
    Invalid,
}

/// What the server's answer (the `Sec-WebSocket-Extensions` values of its 101) agreed to, when
/// the client `offered` [`CLIENT_OFFER`]: `None` if it declined.
pub fn check_answer<'h>(
    headers: impl IntoIterator<Item = &'h [u8]>,
    offered: bool,
) -> Result<Option<Agreed>, AnswerError> {
    let mut agreed = None;
    for element in headers.into_iter().flat_map(extensions::offers) {
        let element = element.map_err(|_| AnswerError::Invalid)?;
        if !offered || !element.name.eq_ignore_ascii_case(EXTENSION_NAME.as_bytes()) {
            return Err(AnswerError::NotOffered);
        }
        let params = Params::parse(element).ok_or(AnswerError::Invalid)?;
        // In an answer, client_max_window_bits carries the window the client must keep to.
        let client_bits = match params.client_bits {
            Some(None) => return Err(AnswerError::Invalid),
            Some(Some(bits)) => bits,
            None => 15,
        };
        let answer = Agreed {
            server_no_context_takeover: params.server_no_context,
            client_no_context_takeover: params.client_no_context,
            server_max_window_bits: params.server_bits.unwrap_or(15),
            client_max_window_bits: client_bits,
            answer_server_bits: params.server_bits.is_some(),
            answer_client_bits: params.client_bits.is_some(),
        };
        if agreed.replace(answer).is_some() {
            return Err(AnswerError::Invalid);
        }
    }
    Ok(agreed)
}

/// The answer to one offer, or `None` if its parameters are invalid or cannot be met.
fn accept(offer: extensions::Offer<'_>, config: &DeflateConfig) -> Option<Agreed> {
    let clamp = |bits: u8| bits.clamp(8, 15);
    let Params { server_no_context, client_no_context, server_bits, client_bits } = Params::parse(offer)?;
    let inflate_bits = clamp(config.client_max_window_bits);
    let client_max_window_bits = match client_bits {
        // The client did not say it can limit its window: it may use 32 KiB.
        None if inflate_bits < 15 => return None,
        None => 15,
        Some(offered) => inflate_bits.min(offered.unwrap_or(15)),
    };
    let own_bits = clamp(config.server_max_window_bits);
    let server_max_window_bits = own_bits.min(server_bits.unwrap_or(15));
    Some(Agreed {
        server_no_context_takeover: server_no_context || config.server_no_context_takeover,
        client_no_context_takeover: client_no_context || config.client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
        answer_server_bits: server_bits.is_some() || server_max_window_bits < 15,
        // Only a client that offered the parameter may be told its window.
        answer_client_bits: client_bits.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    fn answer(header: &str, config: &DeflateConfig) -> Option<String> {
        let agreed = negotiate([header.as_bytes()], config)?;
        let mut out = [0u8; 128];
        let n = agreed.write(&mut out).unwrap();
        Some(String::from_utf8(out[..n].to_vec()).unwrap())
    }

    fn full(header: &str) -> Option<String> {
        answer(header, &DeflateConfig::FULL)
    }

    #[test]
    fn off_declines_every_offer() {
        assert_eq!(answer("permessage-deflate", &DeflateConfig::OFF), None);
    }

    #[test]
    fn a_plain_offer_is_accepted_without_parameters() {
        // RFC 7692 section 7.1, the first example: "permessage-deflate" answered as is.
        assert_eq!(full("permessage-deflate").as_deref(), Some("permessage-deflate"));
    }

    #[test]
    fn other_extensions_are_ignored() {
        assert_eq!(full("x-webkit-deflate-frame, permessage-deflate").as_deref(), Some("permessage-deflate"));
        assert_eq!(full("x-webkit-deflate-frame"), None);
    }

    #[test]
    fn the_first_acceptable_offer_wins() {
        // RFC 7692 section 7.1's example of two offers: the server takes the first it supports.
        let header = "permessage-deflate; client_max_window_bits; server_max_window_bits=10, \
                      permessage-deflate; client_max_window_bits";
        assert_eq!(
            full(header).as_deref(),
            Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits=15")
        );
        // The same offers, with the first one invalid: the second is taken.
        let header =
            "permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits";
        assert_eq!(full(header).as_deref(), Some("permessage-deflate; client_max_window_bits=15"));
    }

    #[test]
    fn offers_across_several_headers_are_taken_in_order() {
        let headers: [&[u8]; 2] =
            [b"foo, permessage-deflate; bogus", b"permessage-deflate; server_no_context_takeover"];
        let agreed = negotiate(headers, &DeflateConfig::FULL).unwrap();
        assert!(agreed.server_no_context_takeover);
    }

    #[test]
    fn a_malformed_offer_is_declined_not_fatal() {
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=08",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=\"x\"",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=9; server_max_window_bits=9",
            "permessage-deflate; unknown_param",
            "permessage-deflate; =",
        ] {
            assert_eq!(full(bad), None, "{bad}");
            let with_fallback = std::format!("{bad}, permessage-deflate");
            assert_eq!(full(&with_fallback).as_deref(), Some("permessage-deflate"), "{bad}");
        }
    }

    #[test]
    fn server_no_context_takeover_is_accepted_and_answered() {
        // RFC 7692 section 7.1.1.1: the server must include it when it accepts the offer.
        assert_eq!(
            full("permessage-deflate; server_no_context_takeover").as_deref(),
            Some("permessage-deflate; server_no_context_takeover")
        );
    }

    #[test]
    fn client_no_context_takeover_may_be_answered_or_asked_for() {
        // Section 7.1.1.2: an offered hint is confirmed; the server may also ask unoffered.
        assert_eq!(
            full("permessage-deflate; client_no_context_takeover").as_deref(),
            Some("permessage-deflate; client_no_context_takeover")
        );
        let ask = DeflateConfig { client_no_context_takeover: true, ..DeflateConfig::FULL };
        assert_eq!(
            answer("permessage-deflate", &ask).as_deref(),
            Some("permessage-deflate; client_no_context_takeover")
        );
    }

    #[test]
    fn server_max_window_bits_is_answered_with_the_same_or_a_smaller_value() {
        // Section 7.1.2.1.
        assert_eq!(
            full("permessage-deflate; server_max_window_bits=10").as_deref(),
            Some("permessage-deflate; server_max_window_bits=10")
        );
        assert_eq!(
            full("permessage-deflate; server_max_window_bits=\"12\"").as_deref(),
            Some("permessage-deflate; server_max_window_bits=12")
        );
        let small = DeflateConfig { server_max_window_bits: 9, ..DeflateConfig::FULL };
        assert_eq!(
            answer("permessage-deflate; server_max_window_bits=12", &small).as_deref(),
            Some("permessage-deflate; server_max_window_bits=9")
        );
        // Unasked, a server with a smaller window still says so.
        assert_eq!(
            answer("permessage-deflate", &small).as_deref(),
            Some("permessage-deflate; server_max_window_bits=9")
        );
    }

    #[test]
    fn client_max_window_bits_is_never_answered_unless_offered() {
        // Section 7.1.2.2: without the parameter in the offer, the answer must not carry it.
        let agreed = negotiate([b"permessage-deflate".as_slice()], &DeflateConfig::FULL).unwrap();
        assert_eq!(agreed.client_max_window_bits, 15);
        assert_eq!(full("permessage-deflate").as_deref(), Some("permessage-deflate"));
        // Offered without a value: the server may name any window up to 15.
        assert_eq!(
            answer("permessage-deflate; client_max_window_bits", &DeflateConfig::SMALL).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9")
        );
        // Offered with a value: the answer is no larger.
        let agreed =
            negotiate([b"permessage-deflate; client_max_window_bits=10".as_slice()], &DeflateConfig::FULL)
                .unwrap();
        assert_eq!(agreed.client_max_window_bits, 10);
        let agreed =
            negotiate([b"permessage-deflate; client_max_window_bits=8".as_slice()], &DeflateConfig::SMALL)
                .unwrap();
        assert_eq!(agreed.client_max_window_bits, 8);
    }

    #[test]
    fn a_small_inflate_window_declines_clients_that_cannot_limit_theirs() {
        // A Firefox-like offer, no client_max_window_bits: the window would be 32 KiB.
        assert_eq!(answer("permessage-deflate", &DeflateConfig::SMALL), None);
        // A Chrome-like offer is accepted with the small window.
        let chrome = "permessage-deflate; client_max_window_bits";
        assert_eq!(negotiate([chrome.as_bytes()], &DeflateConfig::SMALL).unwrap().client_max_window_bits, 9);
    }

    #[test]
    fn names_and_parameters_are_case_insensitive() {
        assert_eq!(
            full("Permessage-Deflate; Server_No_Context_Takeover").as_deref(),
            Some("permessage-deflate; server_no_context_takeover")
        );
    }
}
