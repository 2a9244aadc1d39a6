//! Responses the proxy generates itself.
//!
//! Static byte strings: sending one needs no formatting and no allocation, which matters in
//! the paths that run out of memory or upstreams. Each closes or keeps the connection as its
//! caller decides; the bodies are empty, as in Tempesta FW's defaults.

/// A status the proxy answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 200: the proxy itself did what was asked (a PURGE).
    Ok,
    /// 400: the request is malformed (the connection is closed after it).
    BadRequest,
    /// 403: a firewall rule blocked the request.
    Forbidden,
    /// 404: no vhost serves the request.
    NotFound,
    /// 500: the proxy failed (out of memory).
    InternalError,
    /// 502: no upstream could answer.
    BadGateway,
    /// 503: the upstream queue is full.
    Unavailable,
    /// 504: the upstream did not answer in time.
    GatewayTimeout,
}

impl Status {
    /// The numeric code.
    pub const fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::InternalError => 500,
            Status::BadGateway => 502,
            Status::Unavailable => 503,
            Status::GatewayTimeout => 504,
        }
    }

    /// The whole response; `close` adds `Connection: close` (the caller then closes).
    pub const fn response(self, close: bool) -> &'static [u8] {
        macro_rules! resp {
            ($line:literal) => {
                if close {
                    concat!(
                        "HTTP/1.1 ",
                        $line,
                        "\r\nServer: Tempesta FW (tempesta-rs)\r\nContent-Length: 0\r\n",
                        "Connection: close\r\n\r\n"
                    )
                    .as_bytes()
                } else {
                    concat!(
                        "HTTP/1.1 ",
                        $line,
                        "\r\nServer: Tempesta FW (tempesta-rs)\r\nContent-Length: 0\r\n\r\n"
                    )
                    .as_bytes()
                }
            };
        }
        match self {
            Status::Ok => resp!("200 OK"),
            Status::BadRequest => resp!("400 Bad Request"),
            Status::Forbidden => resp!("403 Forbidden"),
            Status::NotFound => resp!("404 Not Found"),
            Status::InternalError => resp!("500 Internal Server Error"),
            Status::BadGateway => resp!("502 Bad Gateway"),
            Status::Unavailable => resp!("503 Service Unavailable"),
            Status::GatewayTimeout => resp!("504 Gateway Timeout"),
        }
    }
}

/// Writes a redirect response (`http_chain ... -> 301 = URL`): status line, `Location`, an
/// empty body; `close` adds `Connection: close`. `location` comes from the configuration and
/// the request's validated target and host, which hold no CR or LF.
pub fn redirect(
    status: u16,
    location: &[u8],
    close: bool,
    out: &mut dyn super::Out,
) -> Result<(), super::Overflow> {
    let line: &[u8] = match status {
        301 => b"HTTP/1.1 301 Moved Permanently\r\n",
        302 => b"HTTP/1.1 302 Found\r\n",
        303 => b"HTTP/1.1 303 See Other\r\n",
        307 => b"HTTP/1.1 307 Temporary Redirect\r\n",
        _ => b"HTTP/1.1 308 Permanent Redirect\r\n",
    };
    out.put(line)?;
    out.put(b"Server: Tempesta FW (tempesta-rs)\r\nLocation: ")?;
    out.put(location)?;
    out.put(b"\r\nContent-Length: 0\r\n")?;
    if close {
        out.put(b"Connection: close\r\n")?;
    }
    out.put(b"\r\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn redirects_parse_as_responses() {
        use super::super::parser::{Limits, ResponseParser};
        for (st, close) in [
            (301, false),
            (302, true),
            (303, false),
            (307, true),
            (308, false),
        ] {
            let mut v = std::vec::Vec::new();
            super::redirect(st, b"https://example.com/a?b", close, &mut v).unwrap();
            let text = std::str::from_utf8(&v).unwrap();
            assert!(text.starts_with(&std::format!("HTTP/1.1 {st} ")), "{text}");
            assert!(text.contains("\r\nLocation: https://example.com/a?b\r\n"));
            assert_eq!(text.contains("Connection: close"), close);
            let mut p = ResponseParser::new(Limits::DEFAULT);
            let mut keep = None;
            let st = p
                .feed(&v, &mut |ev| {
                    if let super::super::parser::Event::End(e) = ev {
                        keep = Some(e.keep_alive);
                    }
                })
                .unwrap();
            assert_eq!(
                st,
                super::super::parser::Status::Complete { consumed: v.len() }
            );
            assert_eq!(keep, Some(!close));
        }
    }

    use super::super::parser::{Limits, ResponseParser, Status as P};
    use super::*;

    #[test]
    fn responses_parse() {
        for s in [
            Status::BadRequest,
            Status::Forbidden,
            Status::NotFound,
            Status::InternalError,
            Status::BadGateway,
            Status::Unavailable,
            Status::GatewayTimeout,
        ] {
            for close in [false, true] {
                let mut p = ResponseParser::new(Limits::DEFAULT);
                let r = s.response(close);
                let mut keep = None;
                let st = p
                    .feed(r, &mut |ev| {
                        if let super::super::parser::Event::End(e) = ev {
                            keep = Some(e.keep_alive);
                        }
                    })
                    .unwrap();
                assert_eq!(st, P::Complete { consumed: r.len() });
                assert_eq!(keep, Some(!close));
                assert!(r.starts_with(format!("HTTP/1.1 {} ", s.code()).as_bytes()));
            }
        }
    }
}
