//! `Sec-WebSocket-Extensions` (RFC 6455 section 9.1): the client's offers and the server's answer.
//!
//! ```text
//! extension-list  = 1#extension
//! extension       = token *( ";" extension-param )
//! extension-param = token [ "=" ( token | quoted-string ) ]
//! ```
//!
//! Pure functions over the header value. A malformed element is reported as such and the other
//! elements still parse: the server declines that offer and looks at the next one.

/// One element of an extension list: a name and its parameters, borrowed from the header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Offer<'a> {
    /// The extension's name, such as `permessage-deflate`.
    pub name: &'a [u8],
    /// The text after the name, already checked to be well-formed parameters.
    params: &'a [u8],
}

impl<'a> Offer<'a> {
    /// The offer's parameters, in order.
    pub fn params(&self) -> Params<'a> {
        Params { rest: self.params }
    }
}

/// One extension parameter; `value` is unquoted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    /// The parameter's name.
    pub name: &'a [u8],
    /// Its value, without quotes, if it has one.
    pub value: Option<&'a [u8]>,
}

/// An element of the list that does not follow the grammar (or uses a quoted value with an
/// escape, which no registered extension needs): that offer is declined.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Malformed;

/// The elements of one `Sec-WebSocket-Extensions` header value, in the order offered.
pub fn offers(value: &[u8]) -> Offers<'_> {
    Offers { rest: value }
}

/// Iterator over the elements of a header value; see [`offers`].
#[derive(Clone, Debug)]
pub struct Offers<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Offers<'a> {
    type Item = Result<Offer<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = element_end(self.rest);
            let element = &self.rest[..end];
            self.rest = self.rest.get(end + 1..).unwrap_or(&[]);
            let element = trim(element);
            // Empty list elements (`a, , b`) are allowed by the list rule and skipped.
            if element.is_empty() {
                continue;
            }
            return Some(parse_element(element));
        }
    }
}

/// Iterator over an offer's parameters.
#[derive(Clone, Debug)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        // The text was checked by `parse_element`; a failure here cannot happen, and ends the list.
        let rest = trim(self.rest);
        let rest = rest.strip_prefix(b";")?;
        let (param, len) = parse_param(rest).ok()?;
        self.rest = &rest[len..];
        Some(param)
    }
}

/// Where the element starting at `input` ends: the first comma outside quotes, or the end.
fn element_end(input: &[u8]) -> usize {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in input.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => return i,
            _ => {}
        }
    }
    input.len()
}

fn parse_element(element: &[u8]) -> Result<Offer<'_>, Malformed> {
    let name_len = token_len(element);
    if name_len == 0 {
        return Err(Malformed);
    }
    let (name, params) = element.split_at(name_len);
    let mut rest = params;
    loop {
        rest = trim(rest);
        if rest.is_empty() {
            return Ok(Offer { name, params });
        }
        rest = rest.strip_prefix(b";").ok_or(Malformed)?;
        let (_, len) = parse_param(rest)?;
        rest = &rest[len..];
    }
}

/// Parses `OWS token [ OWS "=" OWS ( token | quoted-string ) ]` from the start of `input`.
fn parse_param(input: &[u8]) -> Result<(Param<'_>, usize), Malformed> {
    let mut at = ows(input, 0);
    let name_len = token_len(&input[at..]);
    if name_len == 0 {
        return Err(Malformed);
    }
    let name = &input[at..at + name_len];
    at += name_len;
    let after_name = at;
    at = ows(input, at);
    if input.get(at) != Some(&b'=') {
        return Ok((Param { name, value: None }, after_name));
    }
    at = ows(input, at + 1);
    let value = if input.get(at) == Some(&b'"') {
        let body = &input[at + 1..];
        let close = body.iter().position(|&b| b == b'"' || b == b'\\').ok_or(Malformed)?;
        if body[close] == b'\\' {
            return Err(Malformed);
        }
        let value = &body[..close];
        // RFC 6455 section 9.1: a quoted value must still be a token once unquoted.
        if value.is_empty() || token_len(value) != value.len() {
            return Err(Malformed);
        }
        at += close + 2;
        value
    } else {
        let len = token_len(&input[at..]);
        if len == 0 {
            return Err(Malformed);
        }
        let value = &input[at..at + len];
        at += len;
        value
    };
    Ok((Param { name, value: Some(value) }, at))
}

fn ows(input: &[u8], mut at: usize) -> usize {
    while matches!(input.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    at
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |i| i + 1);
    &value[start..end]
}

/// The length of the RFC 7230 token at the start of `input`.
fn token_len(input: &[u8]) -> usize {
    input.iter().position(|&b| !is_tchar(b)).unwrap_or(input.len())
}

const fn is_tchar(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~'
    ) || b.is_ascii_alphanumeric()
}

/// The output buffer was too small for the answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BufferTooSmall;

/// Writes one extension element, `name; p1; p2=v2`, as the server's answer; returns its length.
pub fn write_element(out: &mut [u8], name: &str, params: &[Param<'_>]) -> Result<usize, BufferTooSmall> {
    let mut len = 0;
    let mut put = |bytes: &[u8]| -> Result<(), BufferTooSmall> {
        let dest = out.get_mut(len..len + bytes.len()).ok_or(BufferTooSmall)?;
        dest.copy_from_slice(bytes);
        len += bytes.len();
        Ok(())
    };
    put(name.as_bytes())?;
    for param in params {
        put(b"; ")?;
        put(param.name)?;
        if let Some(value) = param.value {
            put(b"=")?;
            put(value)?;
        }
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// An offer with owned bytes: its name and its parameters.
    type Owned = Result<(Vec<u8>, Vec<(Vec<u8>, Option<Vec<u8>>)>), Malformed>;

    fn parsed(value: &str) -> Vec<Owned> {
        offers(value.as_bytes())
            .map(|offer| {
                offer.map(|o| {
                    let params = o.params().map(|p| (p.name.to_vec(), p.value.map(<[u8]>::to_vec))).collect();
                    (o.name.to_vec(), params)
                })
            })
            .collect()
    }

    fn ok(name: &str, params: &[(&str, Option<&str>)]) -> Owned {
        Ok((
            name.as_bytes().to_vec(),
            params.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()))).collect(),
        ))
    }

    #[test]
    fn a_bare_offer_has_no_params() {
        assert_eq!(parsed("permessage-deflate"), [ok("permessage-deflate", &[])]);
    }

    #[test]
    fn params_with_and_without_values() {
        assert_eq!(
            parsed("permessage-deflate; client_max_window_bits; server_max_window_bits=10"),
            [ok(
                "permessage-deflate",
                &[("client_max_window_bits", None), ("server_max_window_bits", Some("10"))]
            )]
        );
    }

    #[test]
    fn several_offers_keep_their_order() {
        // RFC 7692 section 5.1's example of two offers, most preferred first.
        assert_eq!(
            parsed("permessage-deflate; client_max_window_bits=10, permessage-deflate"),
            [
                ok("permessage-deflate", &[("client_max_window_bits", Some("10"))]),
                ok("permessage-deflate", &[])
            ]
        );
    }

    #[test]
    fn quoted_values_are_unquoted_and_may_hold_commas_only_inside_quotes() {
        assert_eq!(
            parsed("permessage-deflate; server_max_window_bits=\"10\", x-foo"),
            [ok("permessage-deflate", &[("server_max_window_bits", Some("10"))]), ok("x-foo", &[])]
        );
    }

    #[test]
    fn whitespace_around_separators_is_allowed() {
        assert_eq!(
            parsed("  permessage-deflate ;\tclient_max_window_bits = 9 ;server_no_context_takeover ,"),
            [ok(
                "permessage-deflate",
                &[("client_max_window_bits", Some("9")), ("server_no_context_takeover", None)]
            )]
        );
    }

    #[test]
    fn a_malformed_offer_is_reported_and_the_next_still_parses() {
        for bad in [
            "permessage-deflate; =10",
            "permessage-deflate;",
            "permessage-deflate; a=",
            "permessage-deflate; a=\"1,",
            "permessage-deflate; a=\"\"",
            "permessage-deflate; a=\"x y\"",
            "permessage-deflate; a=\"\\1\"",
            "permessage-deflate x",
            "; a",
            "permessage-deflate; a=1 b",
        ] {
            let value = std::format!("{bad}, permessage-deflate");
            let result = parsed(&value);
            assert_eq!(result.first(), Some(&Err(Malformed)), "{bad}");
            if !bad.contains('"') || bad.ends_with('"') {
                assert_eq!(result.last(), Some(&ok("permessage-deflate", &[])), "{bad}");
            }
        }
    }

    #[test]
    fn empty_elements_are_skipped() {
        assert_eq!(parsed(" , ,permessage-deflate,,"), [ok("permessage-deflate", &[])]);
        assert!(parsed("").is_empty());
    }

    #[test]
    fn the_answer_is_written_as_name_and_params() {
        let mut out = [0u8; 128];
        let params = [
            Param { name: b"server_no_context_takeover", value: None },
            Param { name: b"client_max_window_bits", value: Some(b"9") },
        ];
        let n = write_element(&mut out, "permessage-deflate", &params).unwrap();
        assert_eq!(&out[..n], b"permessage-deflate; server_no_context_takeover; client_max_window_bits=9");
        assert_eq!(write_element(&mut out[..10], "permessage-deflate", &[]), Err(BufferTooSmall));
    }
}
