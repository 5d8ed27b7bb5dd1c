//! The device's plain-HTTP routes, beside its WebSocket on the same port.
//!
//! | Request | Answer |
//! |---|---|
//! | `GET`/`HEAD /` or `/index.html` | the console, gzipped when accepted |
//! | `GET /ws` without `Upgrade: websocket` | 426 |
//! | any other `GET`/`HEAD` path | 404 |
//! | any other method | 405 |
//!
//! Upgrades are accepted on any path before routing, so they never reach here.

use espws::wire::http::{self, Request, Response, StatusCode};

use crate::console;

/// Headers every page response carries: the page may change with a firmware update, and must
/// not be interpreted as anything but what it says.
const PAGE_HEADERS: &[(&str, &[u8])] =
    &[("Cache-Control", b"no-cache"), ("Vary", b"Accept-Encoding"), ("X-Content-Type-Options", b"nosniff")];

/// Answers a plain HTTP request.
pub fn route(req: &Request<'_, '_>) -> Response<'static> {
    if req.method != "GET" && req.method != "HEAD" {
        return Response::text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD are served here\n");
    }
    match req.path() {
        "/" | "/index.html" => console_page(accepts_gzip(req)),
        console::WS_PATH => Response::text(
            StatusCode::UPGRADE_REQUIRED,
            "this is the WebSocket endpoint: connect with a WebSocket client, or open / in a browser\n",
        ),
        _ => Response::text(StatusCode::NOT_FOUND, "not found: the console is at /\n"),
    }
}

/// The console page response.
pub fn console_page(gzip: bool) -> Response<'static> {
    Response {
        status: StatusCode::OK,
        content_type: "text/html; charset=utf-8",
        content_encoding: gzip.then_some("gzip"),
        headers: PAGE_HEADERS,
        body: if gzip { console::INDEX_HTML_GZ } else { console::INDEX_HTML },
    }
}

/// Whether `Accept-Encoding` lists gzip without `q=0`.
fn accepts_gzip(req: &Request<'_, '_>) -> bool {
    req.headers_named("accept-encoding").flat_map(|value| value.split(|&b| b == b',')).any(|item| {
        let mut parts = item.split(|&b| b == b';').map(http::trim);
        let coding = parts.next().unwrap_or_default();
        let refused = parts.any(|p| {
            let p: &[u8] = p;
            p.len() >= 2
                && p[..2].eq_ignore_ascii_case(b"q=")
                && p[2..].iter().all(|&b| b == b'0' || b == b'.')
        });
        (coding.eq_ignore_ascii_case(b"gzip") || coding == b"*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use espws::wire::http::{EMPTY_HEADER, MAX_HEADERS};
    use espws::wire::Status;

    fn route_raw(raw: &str) -> Response<'static> {
        let mut headers = [EMPTY_HEADER; MAX_HEADERS];
        let Ok(Status::Complete(req, _)) = Request::parse(raw.as_bytes(), &mut headers) else {
            panic!("request did not parse: {raw}")
        };
        route(&req)
    }

    #[test]
    fn get_and_head_slash_serve_the_console() {
        for method in ["GET", "HEAD"] {
            let response = route_raw(&std::format!("{method} / HTTP/1.1\r\nHost: d\r\n\r\n"));
            assert_eq!(response.status, StatusCode::OK);
            assert_eq!(response.body, console::INDEX_HTML);
        }
    }

    #[test]
    fn the_console_is_gzipped_when_the_client_accepts_it() {
        let response = route_raw("GET / HTTP/1.1\r\nAccept-Encoding: br, gzip, deflate\r\n\r\n");
        assert_eq!((response.content_encoding, response.body), (Some("gzip"), console::INDEX_HTML_GZ));
        let refused = route_raw("GET / HTTP/1.1\r\nAccept-Encoding: gzip;q=0, deflate\r\n\r\n");
        assert_eq!(refused.content_encoding, None);
    }

    #[test]
    fn get_on_the_websocket_path_without_upgrade_gets_426() {
        assert_eq!(route_raw("GET /ws HTTP/1.1\r\n\r\n").status.0, 426);
        assert_eq!(route_raw("GET /ws?token=x HTTP/1.1\r\n\r\n").status.0, 426);
    }

    #[test]
    fn unknown_paths_get_404_and_other_methods_405() {
        assert_eq!(route_raw("GET /nope HTTP/1.1\r\n\r\n").status.0, 404);
        assert_eq!(route_raw("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status.0, 405);
        assert_eq!(route_raw("DELETE /ws HTTP/1.1\r\n\r\n").status.0, 405);
    }
}
