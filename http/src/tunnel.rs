//! WebSocket tunnels (RFC 6455 section 4, RFC 9110 section 7.8): which upgrade requests the
//! proxy passes on, and which responses turn the two connections into a byte tunnel.
//!
//! Only WebSocket is proxied, as in Tempesta FW. Any other upgrade (`h2c`, `TLS/1.2`) is
//! forwarded as a plain request with its `Upgrade` field removed as a hop-by-hop field, so
//! the upstream answers it in HTTP/1.1 and its connection stays in the pool.

use super::parser::{BodyKind, Method, Version};
use super::reader::ReqInfo;
use super::rewrite::{lines, split_field};
use super::trim;

/// Whether the request asks to switch to WebSocket in a form the proxy passes on: a GET of
/// HTTP/1.1 without a body, with `Connection: upgrade` and an `Upgrade` field that offers
/// `websocket` (RFC 6455 section 4.1). `head` is the whole request head.
pub fn websocket_request(head: &[u8], req: &ReqInfo) -> bool {
    req.upgrade
        && req.method == Method::Get
        && req.version == Version::Http11
        && req.body == BodyKind::None
        && offers_websocket(head)
}

/// Whether a 101 response (its whole head) switches to WebSocket (RFC 6455 section 4.2.2):
/// anything else switches to a protocol the client did not get asked about.
pub fn websocket_response(head: &[u8]) -> bool {
    offers_websocket(head)
}

/// An `Upgrade` field of the head lists `websocket` (a protocol name, any version,
/// case-insensitive: RFC 9110 section 7.8).
fn offers_websocket(head: &[u8]) -> bool {
    lines(head).skip(1).any(|line| {
        let (name, value) = split_field(line);
        name.eq_ignore_ascii_case(b"upgrade")
            && value.split(|&b| b == b',').any(|p| {
                let p = trim(p);
                let name = p.split(|&b| b == b'/').next().unwrap_or(p);
                name.eq_ignore_ascii_case(b"websocket")
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::Limits;
    use crate::reader::{Reader, Step};

    fn info(head: &[u8]) -> ReqInfo {
        let mut r = Reader::requests(Limits::DEFAULT);
        assert!(matches!(r.poll(head, 0), Step::Head { .. }));
        r.request()
    }

    const WS: &[u8] = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn websocket_upgrades() {
        assert!(websocket_request(WS, &info(WS)));
        let h = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, upgrade\r\n\
upgrade: h2c, WebSocket\r\n\r\n";
        assert!(websocket_request(h, &info(h)));
    }

    #[test]
    fn other_requests_are_not_tunnelled() {
        for h in [
            // No `upgrade` Connection option: Upgrade alone means nothing (RFC 9110 7.8).
            &b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"[..],
            // Another protocol.
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n",
            // Not a GET, or with a body.
            b"POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
Content-Length: 2\r\n\r\n",
            // HTTP/1.0 has no Upgrade.
            b"GET / HTTP/1.0\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            // `websocketx` is not `websocket`.
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocketx\r\nConnection: upgrade\r\n\r\n",
        ] {
            assert!(
                !websocket_request(h, &info(h)),
                "{:?}",
                core::str::from_utf8(h)
            );
        }
    }

    #[test]
    fn responses() {
        assert!(websocket_response(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        ));
        assert!(!websocket_response(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
        ));
        assert!(!websocket_response(
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n"
        ));
    }
}
