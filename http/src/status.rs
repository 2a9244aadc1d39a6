//! Responses the proxy generates itself.
//!
//! Static byte strings: sending one needs no formatting and no allocation, which matters in
//! the paths that run out of memory or upstreams. Each closes or keeps the connection as its
//! caller decides; the bodies are empty, as in Tempesta FW's defaults.

use super::rewrite::{Out, Overflow};

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
    /// 413: the body is longer than the parser allows (the connection is closed after it).
    ContentTooLarge,
    /// 414: the request-target is longer than the parser allows (closed after it).
    UriTooLong,
    /// 431: a field line or the header section is larger than the parser allows (closed
    /// after it; RFC 6585 section 5).
    HeaderFieldsTooLarge,
    /// 500: the proxy failed (out of memory).
    InternalError,
    /// 501: a method the proxy does not implement (CONNECT: tunnels are not proxied).
    NotImplemented,
    /// 502: no upstream could answer.
    BadGateway,
    /// 503: the upstream queue is full.
    Unavailable,
    /// 504: the upstream did not answer in time.
    GatewayTimeout,
    /// 505: an HTTP version other than 1.0 and 1.1 (RFC 9110 section 15.6.6).
    VersionNotSupported,
}

impl Status {
    /// The numeric code.
    pub const fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::ContentTooLarge => 413,
            Status::UriTooLong => 414,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalError => 500,
            Status::NotImplemented => 501,
            Status::BadGateway => 502,
            Status::Unavailable => 503,
            Status::GatewayTimeout => 504,
            Status::VersionNotSupported => 505,
        }
    }

    /// The status line's code and reason phrase.
    pub const fn line(self) -> &'static [u8] {
        match self {
            Status::Ok => b"200 OK",
            Status::BadRequest => b"400 Bad Request",
            Status::Forbidden => b"403 Forbidden",
            Status::NotFound => b"404 Not Found",
            Status::ContentTooLarge => b"413 Content Too Large",
            Status::UriTooLong => b"414 URI Too Long",
            Status::HeaderFieldsTooLarge => b"431 Request Header Fields Too Large",
            Status::InternalError => b"500 Internal Server Error",
            Status::NotImplemented => b"501 Not Implemented",
            Status::BadGateway => b"502 Bad Gateway",
            Status::Unavailable => b"503 Service Unavailable",
            Status::GatewayTimeout => b"504 Gateway Timeout",
            Status::VersionNotSupported => b"505 HTTP Version Not Supported",
        }
    }

    /// Writes the whole response: status line, `Date: <date>` (an IMF-fixdate; the proxy is
    /// the origin of this response, RFC 9110 section 6.6.1; empty: no Date), `Server`, an
    /// empty body; `close` adds `Connection: close` (the caller then closes).
    pub fn write(self, close: bool, date: &[u8], out: &mut dyn Out) -> Result<(), Overflow> {
        self.write_page(close, date, &[], out)
    }

    /// [`write`](Self::write) with `page` as the body (a `response_body` file, sent as HTML);
    /// an empty page is no body.
    pub fn write_page(
        self,
        close: bool,
        date: &[u8],
        page: &[u8],
        out: &mut dyn Out,
    ) -> Result<(), Overflow> {
        out.put(b"HTTP/1.1 ")?;
        out.put(self.line())?;
        out.put(b"\r\n")?;
        put_date(date, out)?;
        out.put(b"Server: Tempesta FW (tempesta-rs)\r\n")?;
        if !page.is_empty() {
            out.put(b"Content-Type: text/html; charset=utf-8\r\n")?;
        }
        out.put(b"Content-Length: ")?;
        super::rewrite::put_decimal(out, page.len() as u64)?;
        out.put(b"\r\n")?;
        if close {
            out.put(b"Connection: close\r\n")?;
        }
        out.put(b"\r\n")?;
        out.put(page)
    }
}

fn put_date(date: &[u8], out: &mut dyn Out) -> Result<(), Overflow> {
    if date.is_empty() {
        return Ok(());
    }
    out.put(b"Date: ")?;
    out.put(date)?;
    out.put(b"\r\n")
}

impl Status {
    /// The answer to a request the parser refused with `e`: the size limits and an unsupported
    /// version get their own statuses (RFC 9110 sections 15.5.14, 15.5.15 and 15.6.6, RFC 6585
    /// section 5), anything else is malformed (400).
    pub const fn for_parse_error(e: &crate::parser::Error) -> Status {
        use crate::parser::Error as E;
        match e {
            E::UriTooLong => Status::UriTooLong,
            E::TooManyHeaders | E::HeaderTooLong | E::HeaderListTooLarge => {
                Status::HeaderFieldsTooLarge
            }
            E::BodyTooLarge => Status::ContentTooLarge,
            E::UnsupportedVersion => Status::VersionNotSupported,
            _ => Status::BadRequest,
        }
    }
}

/// Writes a redirect response (`http_chain ... -> 301 = URL`): status line, `Date` (see
/// [`Status::write`]), `Location`, an empty body; `close` adds `Connection: close`. `location`
/// comes from the configuration and the request's validated target and host, which hold no CR
/// or LF.
pub fn redirect(
    status: u16,
    location: &[u8],
    close: bool,
    date: &[u8],
    out: &mut dyn Out,
) -> Result<(), Overflow> {
    let line: &[u8] = match status {
        301 => b"HTTP/1.1 301 Moved Permanently\r\n",
        302 => b"HTTP/1.1 302 Found\r\n",
        303 => b"HTTP/1.1 303 See Other\r\n",
        307 => b"HTTP/1.1 307 Temporary Redirect\r\n",
        _ => b"HTTP/1.1 308 Permanent Redirect\r\n",
    };
    out.put(line)?;
    put_date(date, out)?;
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
    use super::Status;

    #[test]
    fn parse_errors() {
        use super::super::parser::Error as E;
        assert_eq!(Status::for_parse_error(&E::UriTooLong).code(), 414);
        assert_eq!(Status::for_parse_error(&E::HeaderListTooLarge).code(), 431);
        assert_eq!(Status::for_parse_error(&E::BodyTooLarge).code(), 413);
        assert_eq!(Status::for_parse_error(&E::UnsupportedVersion).code(), 505);
        assert_eq!(Status::for_parse_error(&E::UnexpectedEof).code(), 400);
    }

    #[test]
    fn error_pages() {
        let mut v = std::vec::Vec::new();
        Status::Forbidden.write(false, b"", &mut v).unwrap();
        assert_eq!(
            v,
            b"HTTP/1.1 403 Forbidden\r\nServer: Tempesta FW (tempesta-rs)\r\nContent-Length: 0\r\n\r\n"
        );
        let mut v = std::vec::Vec::new();
        Status::BadGateway
            .write_page(true, b"", b"<p>down</p>", &mut v)
            .unwrap();
        let text = std::str::from_utf8(&v).unwrap();
        assert!(text.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{text}");
        assert!(text.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"));
        assert!(text.contains("\r\nContent-Length: 11\r\nConnection: close\r\n\r\n"));
        assert!(text.ends_with("\r\n\r\n<p>down</p>"));
    }

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
            super::redirect(st, b"https://example.com/a?b", close, DATE, &mut v).unwrap();
            let text = std::str::from_utf8(&v).unwrap();
            assert!(text.starts_with(&std::format!("HTTP/1.1 {st} ")), "{text}");
            assert!(text.contains("\r\nLocation: https://example.com/a?b\r\n"));
            assert!(text.contains("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
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

    const DATE: &[u8] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    #[test]
    fn responses_parse() {
        for s in [
            Status::BadRequest,
            Status::Forbidden,
            Status::NotFound,
            Status::ContentTooLarge,
            Status::UriTooLong,
            Status::HeaderFieldsTooLarge,
            Status::InternalError,
            Status::NotImplemented,
            Status::BadGateway,
            Status::Unavailable,
            Status::GatewayTimeout,
            Status::VersionNotSupported,
        ] {
            for (close, date) in [(false, DATE), (true, &b""[..])] {
                let mut p = ResponseParser::new(Limits::DEFAULT);
                let mut v = std::vec::Vec::new();
                s.write(close, date, &mut v).unwrap();
                let r = &v[..];
                assert_eq!(r.windows(6).any(|w| w == b"Date: "), !date.is_empty());
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
