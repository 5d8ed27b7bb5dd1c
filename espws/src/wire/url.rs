//! WebSocket URLs (RFC 6455 section 3): `ws://` and `wss://`, host, port and resource name.
//!
//! Hand-written rather than taken from a crate: the well-kept URL parsers need `alloc`, and a
//! WebSocket URL is a small subset (no user info, no fragment, a host that is a name or an IP
//! literal), which fits in a page of `no_std` code that borrows from the input.

/// A parsed `ws://` or `wss://` URL, borrowing from the text.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Url<'a> {
    /// `wss://`: TLS over TCP.
    pub secure: bool,
    /// The host name or IP address, without the brackets of an IPv6 literal.
    pub host: &'a str,
    /// The port, 80 or 443 unless given.
    pub port: u16,
    /// Path and query (the resource name), `/` when the URL has none. It starts with `?` when the
    /// URL has a query but no path; the request line then puts a `/` before it.
    pub resource: &'a str,
}

/// Why a text is not a WebSocket URL.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// The scheme is not `ws` or `wss`.
    Scheme,
    /// No host between `//` and the port or path.
    EmptyHost,
    /// A user name or password (`user@host`), which WebSocket URLs do not carry.
    UserInfo,
    /// The port is not a number from 1 to 65535.
    Port,
    /// An IPv6 literal without its closing `]`.
    Ipv6,
    /// A `#fragment`, which RFC 6455 section 3 forbids.
    Fragment,
}

impl core::fmt::Display for UrlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            UrlError::Scheme => "the scheme must be ws:// or wss://",
            UrlError::EmptyHost => "the URL has no host",
            UrlError::UserInfo => "user information is not allowed in a WebSocket URL",
            UrlError::Port => "the port must be a number from 1 to 65535",
            UrlError::Ipv6 => "an IPv6 address needs its closing ]",
            UrlError::Fragment => "a fragment is not allowed in a WebSocket URL",
        })
    }
}

impl<'a> Url<'a> {
    /// Parses `text`; the scheme is matched without regard to case.
    pub fn parse(text: &'a str) -> Result<Url<'a>, UrlError> {
        let (secure, rest) = if let Some(rest) = strip_prefix_ignore_case(text, "ws://") {
            (false, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(text, "wss://") {
            (true, rest)
        } else {
            return Err(UrlError::Scheme);
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let close = v6.find(']').ok_or(UrlError::Ipv6)?;
            let after = &v6[close + 1..];
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or(UrlError::Ipv6)?),
            };
            (&v6[..close], port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::EmptyHost);
        }
        let port = match port {
            None => {
                if secure {
                    443
                } else {
                    80
                }
            }
            Some(digits) => {
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(UrlError::Port);
                }
                match digits.parse::<u16>() {
                    Ok(port) if port > 0 => port,
                    _ => return Err(UrlError::Port),
                }
            }
        };
        let resource = if resource.is_empty() { "/" } else { resource };
        Ok(Url { secure, host, port, resource })
    }

    /// Whether the port is the scheme's default, so that `Host` need not name it.
    pub const fn default_port(&self) -> bool {
        self.port == if self.secure { 443 } else { 80 }
    }

    /// Whether the host is an IPv6 literal (it must be bracketed in `Host`).
    pub fn is_ipv6(&self) -> bool {
        self.host.contains(':')
    }

    /// The resource name split into path and query (without its `?`).
    pub fn path_and_query(&self) -> (&'a str, Option<&'a str>) {
        match self.resource.split_once('?') {
            Some((path, query)) => (if path.is_empty() { "/" } else { path }, Some(query)),
            None => (self.resource, None),
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url<'_> {
        Url::parse(text).unwrap()
    }

    #[test]
    fn rfc_3_ws_defaults_to_port_80_and_path_slash() {
        assert_eq!(
            url("ws://example.com"),
            Url { secure: false, host: "example.com", port: 80, resource: "/" }
        );
        assert!(url("ws://example.com").default_port());
    }

    #[test]
    fn rfc_3_wss_defaults_to_port_443() {
        assert_eq!(url("WSS://example.com/chat").port, 443);
        assert!(url("wss://example.com/chat").secure);
    }

    #[test]
    fn rfc_3_port_path_and_query_are_kept() {
        let u = url("ws://127.0.0.1:9001/runCase?case=3&agent=espws");
        assert_eq!((u.host, u.port, u.resource), ("127.0.0.1", 9001, "/runCase?case=3&agent=espws"));
        assert_eq!(u.path_and_query(), ("/runCase", Some("case=3&agent=espws")));
        assert!(!u.default_port());
    }

    #[test]
    fn ipv6_literals_lose_their_brackets() {
        let u = url("ws://[::1]:9001/x");
        assert_eq!((u.host, u.port, u.resource), ("::1", 9001, "/x"));
        assert!(u.is_ipv6());
        assert_eq!(url("wss://[fe80::1]").port, 443);
    }

    #[test]
    fn a_query_without_a_path_gets_the_path_slash() {
        let u = url("ws://h?token=abc");
        assert_eq!(u.path_and_query(), ("/", Some("token=abc")));
    }

    #[test]
    fn bad_urls_are_refused_by_reason() {
        assert_eq!(Url::parse("http://h/"), Err(UrlError::Scheme));
        assert_eq!(Url::parse("ws:///x"), Err(UrlError::EmptyHost));
        assert_eq!(Url::parse("ws://u:p@h/"), Err(UrlError::UserInfo));
        assert_eq!(Url::parse("ws://h:0/"), Err(UrlError::Port));
        assert_eq!(Url::parse("ws://h:70000/"), Err(UrlError::Port));
        assert_eq!(Url::parse("ws://h:/"), Err(UrlError::Port));
        assert_eq!(Url::parse("ws://h:+1/"), Err(UrlError::Port));
        assert_eq!(Url::parse("ws://[::1/"), Err(UrlError::Ipv6));
        assert_eq!(Url::parse("ws://[::1]x/"), Err(UrlError::Ipv6));
        assert_eq!(Url::parse("ws://h/#top"), Err(UrlError::Fragment));
    }
}
