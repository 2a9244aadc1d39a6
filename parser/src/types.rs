//! Values the parser reports: spans, events and the small enums they carry.

/// A half-open range `[start, end)` of absolute offsets in the connection's byte stream.
///
/// Offset 0 is the first byte ever fed to the parser (or fed after
/// [`reset`](super::RequestParser::reset)). The parser never copies message bytes: the caller,
/// which keeps the skbs, resolves a span to bytes. A span may cross chunk boundaries; use
/// [`Span::within`] when it is known to lie in one chunk, and [`Span::overlap`] to gather it
/// piece by piece from several chunks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u64,
    /// Offset one past the last byte.
    pub end: u64,
}

impl Span {
    /// A span from `start` to `end` (not checked: `end < start` is treated as empty).
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    /// Number of bytes.
    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the span has no bytes.
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The span's bytes if all of them are inside `chunk`, whose first byte is at stream offset
    /// `chunk_start`.
    pub fn within<'a>(&self, chunk: &'a [u8], chunk_start: u64) -> Option<&'a [u8]> {
        let from = usize::try_from(self.start.checked_sub(chunk_start)?).ok()?;
        let to = usize::try_from(self.end.checked_sub(chunk_start)?).ok()?;
        chunk.get(from..to)
    }

    /// The part of the span that lies inside `chunk` (first byte at stream offset
    /// `chunk_start`); empty if they do not overlap.
    pub fn overlap<'a>(&self, chunk: &'a [u8], chunk_start: u64) -> &'a [u8] {
        let len = chunk.len() as u64;
        let lo = self
            .start
            .max(chunk_start)
            .saturating_sub(chunk_start)
            .min(len);
        let hi = self.end.saturating_sub(chunk_start).min(len);
        match (usize::try_from(lo), usize::try_from(hi)) {
            (Ok(lo), Ok(hi)) if lo < hi => chunk.get(lo..hi).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Request method. Methods are case-sensitive: `get` is [`Method::Other`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    #[default]
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// CONNECT
    Connect,
    /// OPTIONS
    Options,
    /// TRACE
    Trace,
    /// PATCH
    Patch,
    /// Any other token; its bytes are at [`RequestLine::method_span`].
    Other,
}

impl Method {
    /// Recognizes a method token (exact, case-sensitive).
    pub fn from_bytes(m: &[u8]) -> Self {
        match m {
            b"GET" => Self::Get,
            b"HEAD" => Self::Head,
            b"POST" => Self::Post,
            b"PUT" => Self::Put,
            b"DELETE" => Self::Delete,
            b"CONNECT" => Self::Connect,
            b"OPTIONS" => Self::Options,
            b"TRACE" => Self::Trace,
            b"PATCH" => Self::Patch,
            _ => Self::Other,
        }
    }
}

/// HTTP version; only 1.0 and 1.1 are accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    #[default]
    Http11,
}

/// The form of a request-target (RFC 9112 section 3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TargetForm {
    /// `/path?query`
    #[default]
    Origin,
    /// `http://authority/path?query`
    Absolute,
    /// `host:port`, CONNECT only.
    Authority,
    /// `*`, OPTIONS only.
    Asterisk,
}

/// Header fields recognized during the name scan (case-insensitively). Everything else is
/// [`HeaderId::Other`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HeaderId {
    /// Not one of the fields below.
    #[default]
    Other = 0,
    /// Host
    Host,
    /// Content-Length
    ContentLength,
    /// Transfer-Encoding
    TransferEncoding,
    /// Connection
    Connection,
    /// Cache-Control
    CacheControl,
    /// Pragma
    Pragma,
    /// Expires
    Expires,
    /// Date
    Date,
    /// Age
    Age,
    /// ETag
    ETag,
    /// Last-Modified
    LastModified,
    /// If-None-Match
    IfNoneMatch,
    /// If-Modified-Since
    IfModifiedSince,
    /// Authorization
    Authorization,
    /// Cookie
    Cookie,
    /// Set-Cookie
    SetCookie,
    /// X-Forwarded-For
    XForwardedFor,
    /// Upgrade
    Upgrade,
    /// Expect
    Expect,
    /// Vary
    Vary,
    /// Keep-Alive
    KeepAlive,
    /// Content-Type
    ContentType,
    /// User-Agent
    UserAgent,
    /// Referer
    Referer,
    /// TE
    Te,
    /// Trailer
    Trailer,
}

/// How the body of a message is delimited (RFC 9112 section 6.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// No body: the message ends with its head.
    #[default]
    None,
    /// Exactly this many bytes (Content-Length, never 0: a zero length is `None`).
    Length(u64),
    /// Transfer-Encoding: chunked.
    Chunked,
    /// A response body that runs until the connection closes (call `finish` at EOF).
    CloseDelimited,
    /// The connection leaves HTTP after this head (101 Switching Protocols, CONNECT 2xx).
    Tunnel,
}

/// The request line, reported once it is complete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RequestLine {
    /// The method.
    pub method: Method,
    /// The method's bytes.
    pub method_span: Span,
    /// The whole request-target.
    pub target: Span,
    /// The form of the request-target.
    pub form: TargetForm,
    /// Path and query: the whole target for origin-form, the part after the authority for
    /// absolute-form (may be empty), empty (at the target's end) otherwise.
    pub path: Span,
    /// The authority (`host[:port]`) of an absolute-form or authority-form target.
    pub authority: Option<Span>,
    /// The HTTP version.
    pub version: Version,
}

/// The status line of a response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StatusLine {
    /// The HTTP version.
    pub version: Version,
    /// The status code, 100..=599.
    pub code: u16,
    /// The reason phrase (may be empty).
    pub reason: Span,
}

/// One header or trailer field line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Field {
    /// The recognized field, or [`HeaderId::Other`].
    pub id: HeaderId,
    /// The field name (without the colon).
    pub name: Span,
    /// The field value without leading and trailing whitespace (may be empty).
    pub value: Span,
}

/// What the head of a message means for the rest of it, reported at the empty line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Head {
    /// Offset one past the empty line that ends the head: the body starts here.
    pub end: u64,
    /// How the body is delimited.
    pub body: BodyKind,
    /// Whether the connection persists after this message (RFC 9112 section 9.3), from the
    /// version and the Connection options. For a response it is also false when the body is
    /// close-delimited or the connection turns into a tunnel.
    pub keep_alive: bool,
    /// A request with `Expect: 100-continue` (ignored for HTTP/1.0, as RFC 9110 requires).
    pub expect_continue: bool,
    /// An Upgrade field together with the `upgrade` Connection option.
    pub upgrade: bool,
    /// Connection lists options other than close, keep-alive and upgrade (hop-by-hop fields a
    /// proxy must remove).
    pub connection_options: bool,
    /// The request's Host field value (requests only). With an absolute-form or
    /// authority-form target, RFC 9112 section 3.2.2 makes the target's authority
    /// ([`RequestLine::authority`]) win; a firewall that requires both to match compares the
    /// two spans' bytes.
    pub host: Option<Span>,
    /// A 1xx response other than 101: another response to the same request follows.
    pub interim: bool,
    /// Number of header field lines.
    pub fields: u32,
}

/// A chunk-size line of a chunked body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Chunk {
    /// The chunk size; 0 for the last chunk (a trailer section follows).
    pub size: u64,
    /// The chunk-size line without its CRLF.
    pub line: Span,
    /// The chunk extensions (from the first `;` or whitespace after the size), may be empty.
    pub ext: Span,
}

/// The end of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MessageEnd {
    /// Offset one past the last byte of the message.
    pub end: u64,
    /// Length of the body data (without chunk framing).
    pub body_len: u64,
    /// Whether the connection persists (same as [`Head::keep_alive`]).
    pub keep_alive: bool,
}

/// What the parser reports to a [`Sink`], in stream order.
///
/// A message yields `RequestLine` or `StatusLine`, then one `Header` per field line, then
/// `HeadEnd`; then for a chunked body `Chunk` before each chunk's `Data` and `Trailer` fields
/// after the last chunk; `Data` for body bytes; finally `End`.
///
/// Every event except `Data` describes bytes that are all in the stream already, and is
/// reported exactly once, at the same offsets however the input was split. `Data` is reported
/// per input chunk (a proxy forwards body bytes as they arrive): successive `Data` spans are
/// contiguous, and merging adjacent ones gives a split-independent result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The request line of a request.
    RequestLine(RequestLine),
    /// The status line of a response.
    StatusLine(StatusLine),
    /// A header field line.
    Header(Field),
    /// The end of the head.
    HeadEnd(Head),
    /// A chunk-size line.
    Chunk(Chunk),
    /// Body data (for chunked bodies: chunk data only, never framing).
    Data(Span),
    /// A field line in the trailer section of a chunked body.
    Trailer(Field),
    /// The end of the message.
    End(MessageEnd),
}

/// Receives the parser's events.
///
/// Implemented for every `FnMut(Event)` closure.
pub trait Sink {
    /// Called for each event, in stream order.
    fn event(&mut self, ev: Event);
}

impl<F: FnMut(Event)> Sink for F {
    #[inline]
    fn event(&mut self, ev: Event) {
        self(ev)
    }
}

/// What one call of `feed` achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Every byte of the chunk was consumed; the message goes on.
    Partial,
    /// A message ended after `consumed` bytes of the chunk (the [`Event::End`] was sent). The
    /// parser is ready for the next message: feed it the rest of the chunk (for a response
    /// parser, after [`set_request_method`](super::ResponseParser::set_request_method) for the
    /// next request).
    Complete {
        /// Bytes of this chunk that belong to the ended message.
        consumed: usize,
    },
}
