//! The incremental state machine shared by requests and responses.
//!
//! Invariants of [`Core::run`]:
//! - `i` indexes the current chunk `data`; `data.len() <= isize::MAX`, so `i + k` for any
//!   `k <= data.len() - i` cannot overflow (used with `wrapping_add`, commented as "in chunk").
//! - Every state consumes at least one byte per iteration or changes state without consuming,
//!   into a state that consumes; there is no state that loops without input.
//! - A byte is checked for validity before it is counted against a limit, so a message gives
//!   the same error at the same byte however it is split, and bulk scans (which count a whole
//!   run of valid bytes at once) report the limit that the first excess byte crossed.

use super::error::Error;
use super::limits::{cap, cap64, Limits};
use super::names::{
    action_ids, bit, eq_fold, header_id, header_id_in_line, singletons, FORBIDDEN_TRAILER, NAME_BUF,
};
use super::scan::{self, is, lower, HEX, HOST, QDTEXT, SCHEME, TOKEN, VCHAR};
use super::types::{
    BodyKind, Chunk, Event, Field, Head, HeaderId, MessageEnd, Method, RequestLine, Sink, Span,
    Status, StatusLine, TargetForm, Version,
};

/// Longest accepted method token.
pub const MAX_METHOD_LEN: u32 = 32;
/// Longest accepted reason phrase.
pub const MAX_REASON_LEN: u32 = 512;
/// Empty lines (CRLF) ignored before a request line (RFC 9112 section 2.2).
pub const MAX_EMPTY_LINES: u8 = 4;

/// `HTTP/1.1` and `HTTP/1.0` as little-endian words.
const HTTP11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
const HTTP10: u64 = u64::from_le_bytes(*b"HTTP/1.0");

const CR: u8 = b'\r';
const LF: u8 = b'\n';
const SP: u8 = b' ';
const HT: u8 = b'\t';

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    // request line
    ReqStart,
    ReqLeadLf,
    Method,
    TargetStart,
    Origin,
    Asterisk,
    Scheme,
    SchemeSlashes,
    Authority,
    ConnectAuthority,
    Version,
    // status line
    RespVersion,
    StatusCode,
    Reason,
    StatusLf,
    // field lines (head and trailers)
    LineStart,
    Name,
    ValueOws,
    Value,
    ValueLf,
    HeadLf,
    // body
    Body,
    ChunkSize,
    ChunkExt,
    ChunkLf,
    ChunkData,
    ChunkDataCr,
    ChunkDataLf,
    Close,
    // terminal
    Closed,
    Failed,
}

/// Which value mini-parser runs for the current field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sem {
    None,
    ContentLength,
    TransferEncoding,
    Connection,
    Host,
    Expect,
}

// Chunk extension sub-states (RFC 9112 section 7.1.1).
const E_BWS: u8 = 0; // after size or value, whitespace: only ';' may follow
const E_PRE_NAME: u8 = 1; // after ';'
const E_NAME: u8 = 2;
const E_POST_NAME: u8 = 3;
const E_PRE_VAL: u8 = 4; // after '='
const E_TOKEN: u8 = 5;
const E_QUOTED: u8 = 6;
const E_ESCAPE: u8 = 7;
const E_POST_QUOTED: u8 = 8;

// Message flags.
const F_CL: u32 = 1;
const F_TE: u32 = 1 << 1;
const F_TE_CODING: u32 = 1 << 2;
const F_CHUNKED: u32 = 1 << 3;
const F_CHUNKED_LAST: u32 = 1 << 4;

/// The largest Content-Length and chunk size taken: 2^63 - 1, what a signed 64-bit length
/// (`off_t`, Java's `long`) holds. A larger one is refused rather than forwarded to an
/// upstream that might read it as negative or cut it to 32 bits, and so split the stream
/// elsewhere than the proxy (nginx refuses the same).
const MAX_LENGTH: u64 = i64::MAX as u64;
const F_CLOSE: u32 = 1 << 5;
const F_KEEP_ALIVE: u32 = 1 << 6;
const F_UPGRADE_OPT: u32 = 1 << 7;
const F_CONN_OTHER: u32 = 1 << 8;
const F_UPGRADE_HDR: u32 = 1 << 9;
const F_EXPECT: u32 = 1 << 10;
const F_HOST: u32 = 1 << 11;
/// The version's major digit is not 1: `UnsupportedVersion` if the version turns out to be
/// well-formed (`HTTP/2.0`), `InvalidVersion` if not (`HTTP/01.1`).
const F_MAJOR_OTHER: u32 = 1 << 12;
const F_TRAILER: u32 = 1 << 13;
const F_PERSIST: u32 = 1 << 14;
const F_TUNNEL: u32 = 1 << 15;
/// The authority of the target is not a valid host (reported at its end, so that a later `@`
/// is reported as userinfo).
const F_HOST_BAD: u32 = 1 << 16;

/// Stream offset of `data[i]` for a chunk starting at `base`.
#[inline(always)]
fn off(base: u64, i: usize) -> u64 {
    base.saturating_add(i as u64)
}

/// The parser state shared by [`RequestParser`] and [`ResponseParser`].
#[derive(Clone, Debug)]
struct Core {
    st: St,
    sub: u8,
    vsub: u8,
    sem: Sem,
    request: bool,
    err: Error,
    hid: HeaderId,
    method: Method,
    version: Version,
    form: TargetForm,
    hsub: u8,
    tok_len: u8,
    empty_lines: u8,
    tok: [u8; NAME_BUF],
    status: u16,
    flags: u32,
    seen: u32,
    line_len: u32,
    list_size: u32,
    fields: u32,
    port: u32,
    limits: Limits,
    base: u64,
    // Offsets whose meaning depends on the part being parsed:
    // request line: m0 method start, m1 target start, m2 authority start, m3 path start;
    // status line: m0 reason start; field line: m0 name start, m1 colon, m2/m3 value;
    // chunk-size line: m0 line start, m1 extension start.
    m0: u64,
    m1: u64,
    m2: u64,
    m3: u64,
    host: Span,
    cl: u64,
    remaining: u64,
    body_len: u64,
}

impl Core {
    const fn new(request: bool, limits: Limits) -> Self {
        Self {
            st: if request {
                St::ReqStart
            } else {
                St::RespVersion
            },
            sub: 0,
            vsub: 0,
            sem: Sem::None,
            request,
            err: Error::Closed,
            hid: HeaderId::Other,
            method: Method::Get,
            version: Version::Http11,
            form: TargetForm::Origin,
            hsub: 0,
            tok_len: 0,
            empty_lines: 0,
            tok: [0; NAME_BUF],
            status: 0,
            flags: 0,
            seen: 0,
            line_len: 0,
            list_size: 0,
            fields: 0,
            port: 0,
            limits,
            base: 0,
            m0: 0,
            m1: 0,
            m2: 0,
            m3: 0,
            host: Span::new(0, 0),
            cl: 0,
            remaining: 0,
            body_len: 0,
        }
    }

    fn feed<S: Sink>(&mut self, data: &[u8], sink: &mut S) -> Result<Status, Error> {
        match self.st {
            St::Failed => return Err(self.err),
            St::Closed if !data.is_empty() => return Err(self.fail(Error::Closed)),
            _ => {}
        }
        match self.run(data, sink) {
            Ok(status) => {
                let n = match status {
                    Status::Partial => data.len(),
                    Status::Complete { consumed } => consumed,
                };
                self.base = off(self.base, n);
                Ok(status)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Bytes of message data right after the parsed input that need no parsing: the rest of
    /// a Content-Length body or of the current chunk, or what a close-delimited body may
    /// still hold within the body limit. 0 anywhere else.
    const fn data_run(&self) -> u64 {
        match self.st {
            St::Body | St::ChunkData => self.remaining,
            St::Close => cap64(self.limits.body_len).saturating_sub(self.body_len),
            _ => 0,
        }
    }

    /// Takes the next `n` bytes of the data run as parsed without seeing them: the same
    /// events and state as [`feed`](Self::feed) of those bytes would give. `None` (nothing
    /// changed) when `n` is more than [`data_run`](Self::data_run).
    fn skip<S: Sink>(&mut self, n: u64, sink: &mut S) -> Option<Status> {
        if n > self.data_run() {
            return None;
        }
        let k = usize::try_from(n).ok()?;
        if k == 0 {
            return Some(Status::Partial);
        }
        // As `run` over a chunk of `k` body bytes: events at offsets from `base`, then
        // `base` moves past them.
        self.data(0, k, sink);
        let status = match self.st {
            St::Body => {
                self.remaining = self.remaining.wrapping_sub(n); // n <= remaining
                match self.remaining {
                    0 => self.end_message(k, sink),
                    _ => Status::Partial,
                }
            }
            St::ChunkData => {
                self.remaining = self.remaining.wrapping_sub(n); // n <= remaining
                if self.remaining == 0 {
                    self.st = St::ChunkDataCr;
                }
                Status::Partial
            }
            _ => Status::Partial, // St::Close: within the body limit (data_run)
        };
        self.base = off(self.base, k);
        Some(status)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.st = St::Failed;
        self.err = e;
        e
    }

    fn finish<S: Sink>(&mut self, sink: &mut S) -> Result<(), Error> {
        match self.st {
            St::Failed => Err(self.err),
            St::ReqStart | St::Closed => Ok(()),
            St::RespVersion if self.sub == 0 => Ok(()),
            St::Close => {
                sink.event(Event::End(MessageEnd {
                    end: self.base,
                    body_len: self.body_len,
                    keep_alive: false,
                }));
                self.st = St::Closed;
                Ok(())
            }
            _ => Err(self.fail(Error::UnexpectedEof)),
        }
    }

    /// Clears everything but the limits, the request/response role and (for responses) the
    /// request method.
    fn reset(&mut self) {
        let method = self.method;
        *self = Self::new(self.request, self.limits);
        if !self.request {
            self.method = method;
        }
    }

    fn reset_message(&mut self) {
        self.st = if self.request {
            St::ReqStart
        } else {
            St::RespVersion
        };
        self.sub = 0;
        self.vsub = 0;
        self.sem = Sem::None;
        self.hid = HeaderId::Other;
        self.version = Version::Http11;
        self.form = TargetForm::Origin;
        self.tok_len = 0;
        self.empty_lines = 0;
        self.status = 0;
        self.flags = 0;
        self.seen = 0;
        self.line_len = 0;
        self.list_size = 0;
        self.fields = 0;
        self.host = Span::new(0, 0);
        self.cl = 0;
        self.remaining = 0;
        self.body_len = 0;
        if self.request {
            self.method = Method::Get;
        }
    }

    #[inline(always)]
    fn push_tok(&mut self, b: u8) {
        if let Some(slot) = self.tok.get_mut(usize::from(self.tok_len)) {
            *slot = b;
        }
        self.tok_len = self.tok_len.saturating_add(1);
    }

    /// The token buffer, or a byte that matches nothing if the token overflowed it.
    #[inline(always)]
    fn tok(&self) -> &[u8] {
        self.tok.get(..usize::from(self.tok_len)).unwrap_or(b"\xff")
    }

    fn push_name(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if usize::from(self.tok_len) > NAME_BUF {
                break;
            }
            self.push_tok(b);
        }
    }

    /// Counts `n` valid bytes of a field line against `hdr_len` and `header_list_size`.
    #[inline(always)]
    fn count_field(&mut self, n: usize) -> Result<(), Error> {
        let n = n as u64;
        let line = u64::from(self.line_len).saturating_add(n);
        let list = u64::from(self.list_size).saturating_add(n);
        let lcap = cap(self.limits.hdr_len);
        let tcap = cap(self.limits.header_list_size);
        if line > lcap || list > tcap {
            // The limit whose budget the excess bytes exhaust first.
            let to_line = lcap.saturating_sub(u64::from(self.line_len));
            let to_list = tcap.saturating_sub(u64::from(self.list_size));
            return Err(if to_line <= to_list {
                Error::HeaderTooLong
            } else {
                Error::HeaderListTooLarge
            });
        }
        self.line_len = u32::try_from(line).unwrap_or(u32::MAX);
        self.list_size = u32::try_from(list).unwrap_or(u32::MAX);
        Ok(())
    }

    /// Counts `n` valid request-target bytes against `uri_len`.
    #[inline(always)]
    fn count_uri(&mut self, n: usize) -> Result<(), Error> {
        let len = u64::from(self.line_len).saturating_add(n as u64);
        if len > cap(self.limits.uri_len) {
            return Err(Error::UriTooLong);
        }
        self.line_len = u32::try_from(len).unwrap_or(u32::MAX);
        Ok(())
    }

    fn count_chunk_line(&mut self) -> Result<(), Error> {
        self.line_len = self.line_len.saturating_add(1);
        if u64::from(self.line_len) > cap(self.limits.chunk_line_len) {
            return Err(Error::ChunkLineTooLong);
        }
        Ok(())
    }

    fn host_reset(&mut self) {
        self.hsub = 0;
        self.port = 0;
    }

    /// `host = IP-literal / IPv4address / reg-name`, then `[":" port]`.
    #[inline(always)]
    fn host_byte(&mut self, b: u8) -> Result<(), Error> {
        self.hsub = match (self.hsub, b) {
            (0 | 1, _) if is(b, HOST) => 1,
            (0, b'[') => 2,
            (1, b':') | (3, b':') => 4,
            (2, b']') => 3,
            (2, _) if b == b':' || is(b, HOST) => 2,
            (4 | 5, b'0'..=b'9') => {
                let port = self
                    .port
                    .saturating_mul(10)
                    .saturating_add(u32::from(b.wrapping_sub(b'0')));
                if port > 65535 {
                    return Err(Error::InvalidHost);
                }
                self.port = port;
                5
            }
            _ => return Err(Error::InvalidHost),
        };
        Ok(())
    }

    fn host_end(&self, need_port: bool, allow_empty: bool) -> Result<(), Error> {
        match self.hsub {
            0 if allow_empty => Ok(()),
            1 | 3 | 4 if !need_port => Ok(()),
            5 => Ok(()),
            _ => Err(Error::InvalidHost),
        }
    }

    /// Whether the request's target carries the authority (absolute-form, authority-form).
    fn authority_in_target(&self) -> bool {
        matches!(self.form, TargetForm::Absolute | TargetForm::Authority)
    }

    /// The end of the authority of an absolute-form or authority-form target.
    fn authority_end(&self, need_port: bool) -> Result<(), Error> {
        if self.flags & F_HOST_BAD != 0 {
            return Err(Error::InvalidHost);
        }
        self.host_end(need_port, false)
    }

    /// Reacts to a complete field name.
    #[inline(always)]
    fn on_name(&mut self, id: HeaderId) -> Result<(), Error> {
        self.hid = id;
        self.sem = Sem::None;
        self.vsub = 0;
        self.tok_len = 0;
        if id == HeaderId::Other {
            return Ok(());
        }
        if self.flags & F_TRAILER != 0 {
            if FORBIDDEN_TRAILER & bit(id) != 0 {
                return Err(Error::ForbiddenTrailer);
            }
            return Ok(());
        }
        match id {
            HeaderId::Other => {}
            HeaderId::ContentLength => {
                if self.flags & F_CL != 0 {
                    return Err(Error::DuplicateContentLength);
                }
                if self.flags & F_TE != 0 {
                    return Err(Error::ContentLengthWithTransferEncoding);
                }
                self.flags |= F_CL;
                self.cl = 0;
                self.sem = Sem::ContentLength;
            }
            HeaderId::TransferEncoding => {
                if self.flags & F_CL != 0 {
                    return Err(Error::ContentLengthWithTransferEncoding);
                }
                if self.version == Version::Http10 {
                    return Err(Error::TransferEncodingInHttp10);
                }
                if !self.request && (self.status < 200 || self.status == 204) {
                    return Err(Error::BodyNotAllowed);
                }
                self.flags = (self.flags | F_TE) & !F_TE_CODING;
                self.sem = Sem::TransferEncoding;
            }
            HeaderId::Connection => self.sem = Sem::Connection,
            HeaderId::Upgrade => self.flags |= F_UPGRADE_HDR,
            HeaderId::Host if self.request => {
                if self.flags & F_HOST != 0 {
                    return Err(Error::DuplicateHost);
                }
                self.flags |= F_HOST;
                self.host_reset();
                self.sem = Sem::Host;
            }
            HeaderId::Expect if self.request => self.sem = Sem::Expect,
            _ => {
                let b = bit(id);
                if singletons(self.request) & b != 0 {
                    if self.seen & b != 0 {
                        return Err(Error::DuplicateHeader);
                    }
                    self.seen |= b;
                }
            }
        }
        Ok(())
    }

    /// One byte (already known to be SP, HTAB or field-vchar) of a value with a mini-parser.
    #[inline(always)]
    fn sem_byte(&mut self, b: u8) -> Result<(), Error> {
        let ws = b == SP || b == HT;
        match self.sem {
            Sem::None => {}
            Sem::ContentLength => match (self.vsub, b) {
                (0 | 1, b'0'..=b'9') => {
                    self.cl = self
                        .cl
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(b.wrapping_sub(b'0'))))
                        .filter(|&v| v <= MAX_LENGTH)
                        .ok_or(Error::ContentLengthOverflow)?;
                    self.vsub = 1;
                }
                (1 | 2, _) if ws => self.vsub = 2,
                (_, b',') => return Err(Error::DuplicateContentLength),
                _ => return Err(Error::InvalidContentLength),
            },
            Sem::TransferEncoding | Sem::Connection => {
                let te = self.sem == Sem::TransferEncoding;
                let bad = if te {
                    Error::InvalidTransferEncoding
                } else {
                    Error::InvalidConnection
                };
                match self.vsub {
                    0 => {
                        if is(b, TOKEN) {
                            self.tok_len = 0;
                            self.push_tok(lower(b));
                            self.vsub = 1;
                        } else if !(ws || b == b',') {
                            return Err(bad);
                        }
                    }
                    1 => {
                        if is(b, TOKEN) {
                            self.push_tok(lower(b));
                        } else if ws || b == b',' {
                            self.list_token_end()?;
                            self.vsub = if ws { 2 } else { 0 };
                        } else {
                            return Err(bad);
                        }
                    }
                    _ => {
                        if b == b',' {
                            self.vsub = 0;
                        } else if !ws {
                            return Err(bad);
                        }
                    }
                }
            }
            Sem::Host => {
                if ws {
                    self.vsub = 1;
                } else if self.vsub != 0 {
                    return Err(Error::InvalidHost);
                } else {
                    self.host_byte(b)?;
                }
            }
            Sem::Expect => {
                if ws {
                    self.vsub = 1;
                } else if self.vsub != 0 {
                    self.tok_len = u8::MAX;
                } else {
                    self.push_tok(lower(b));
                }
            }
        }
        Ok(())
    }

    /// A complete Transfer-Encoding coding or Connection option is in the token buffer.
    fn list_token_end(&mut self) -> Result<(), Error> {
        let tok = self.tok;
        let len = usize::from(self.tok_len);
        // An overflowed buffer matches nothing, as `tok()` does.
        self.list_token(if len <= NAME_BUF {
            tok.get(..len).unwrap_or(b"\xff")
        } else {
            b"\xff"
        })
    }

    /// A complete Transfer-Encoding coding or Connection option `tok` (token characters, any
    /// case).
    fn list_token(&mut self, tok: &[u8]) -> Result<(), Error> {
        if self.sem == Sem::TransferEncoding {
            self.flags |= F_TE_CODING;
            if eq_fold(tok, b"chunked") {
                if self.flags & F_CHUNKED != 0 {
                    return Err(Error::ChunkedAppliedTwice);
                }
                self.flags |= F_CHUNKED | F_CHUNKED_LAST;
            } else {
                if self.request && self.flags & F_CHUNKED != 0 {
                    return Err(Error::TransferEncodingNotChunked);
                }
                self.flags &= !F_CHUNKED_LAST;
            }
        } else {
            self.flags |= if eq_fold(tok, b"close") {
                F_CLOSE
            } else if eq_fold(tok, b"keep-alive") {
                F_KEEP_ALIVE
            } else if eq_fold(tok, b"upgrade") {
                F_UPGRADE_OPT
            } else {
                F_CONN_OTHER
            };
            if self.flags & (F_CLOSE | F_KEEP_ALIVE) == F_CLOSE | F_KEEP_ALIVE {
                return Err(Error::ConflictingConnection);
            }
        }
        Ok(())
    }

    /// The CRLF of a field line: finish its value and report it.
    #[inline(always)]
    fn field_end<S: Sink>(&mut self, sink: &mut S) -> Result<(), Error> {
        let value = Span::new(self.m2, self.m3);
        self.value_end(value)?;
        let f = Field {
            id: self.hid,
            name: Span::new(self.m0, self.m1),
            value,
        };
        sink.event(if self.flags & F_TRAILER != 0 {
            Event::Trailer(f)
        } else {
            Event::Header(f)
        });
        Ok(())
    }

    /// The end of a value with a mini-parser (`self.sem`), whose span is `value`.
    #[inline(always)]
    fn value_end(&mut self, value: Span) -> Result<(), Error> {
        match self.sem {
            Sem::None => {}
            Sem::ContentLength => {
                if self.vsub == 0 {
                    return Err(Error::InvalidContentLength);
                }
            }
            Sem::TransferEncoding | Sem::Connection => {
                if self.vsub == 1 {
                    self.list_token_end()?;
                }
                if self.sem == Sem::TransferEncoding && self.flags & F_TE_CODING == 0 {
                    return Err(Error::InvalidTransferEncoding);
                }
            }
            Sem::Host => {
                // Empty only when the target has the authority: otherwise the target URI
                // would be `http://` + an empty host, which RFC 9110 section 4.2.1 requires
                // a recipient to reject.
                self.host_end(false, self.authority_in_target())?;
                self.host = value;
            }
            Sem::Expect => {
                if self.tok() == b"100-continue" && self.version == Version::Http11 {
                    self.flags |= F_EXPECT;
                }
            }
        }
        Ok(())
    }

    /// The value mini-parser (`self.sem`, not `Sem::None`) over a whole valid value
    /// (`trimmed` is `value` without trailing whitespace), then its end; the same result as
    /// [`Self::sem_byte`] for each byte of `value` and [`Self::value_end`].
    #[inline]
    fn sem_value(&mut self, value: &[u8], trimmed: &[u8], span: Span) -> Result<(), Error> {
        match self.sem {
            // Common shapes, checked in one go: a run of reg-name bytes, one token, digits.
            Sem::Host if scan::all_class(trimmed, HOST) => {
                self.hsub = u8::from(!trimmed.is_empty());
            }
            Sem::TransferEncoding | Sem::Connection
                if !trimmed.is_empty() && scan::all_class(trimmed, TOKEN) =>
            {
                self.list_token(trimmed)?;
                self.vsub = 2;
            }
            Sem::ContentLength
                if !trimmed.is_empty()
                    && trimmed.len() < 19
                    && trimmed.iter().all(u8::is_ascii_digit) =>
            {
                // At most 18 digits: below 10^18 < MAX_LENGTH.
                self.cl = trimmed.iter().fold(0u64, |v, &d| {
                    v.wrapping_mul(10)
                        .wrapping_add(u64::from(d.wrapping_sub(b'0')))
                });
                self.vsub = 1;
            }
            _ => {
                for &c in value {
                    self.sem_byte(c)?;
                }
            }
        }
        self.value_end(span)
    }

    fn start_fields(&mut self) {
        self.st = St::LineStart;
        self.fields = 0;
        self.list_size = 0;
    }

    /// The empty line ending the head, whose LF is `data[after - 1]`.
    fn head_end<S: Sink>(&mut self, after: usize, sink: &mut S) -> Result<Status, Error> {
        let end = off(self.base, after);
        let f = self.flags;
        let body_cap = cap64(self.limits.body_len);
        let length = |cl: u64| -> Result<BodyKind, Error> {
            if cl == 0 {
                Ok(BodyKind::None)
            } else if cl > body_cap {
                Err(Error::BodyTooLarge)
            } else {
                Ok(BodyKind::Length(cl))
            }
        };
        let s = self.status;
        let body = if self.request {
            if self.version == Version::Http11 && f & F_HOST == 0 {
                return Err(Error::MissingHost);
            }
            if f & F_TE != 0 {
                if f & F_CHUNKED_LAST == 0 {
                    return Err(Error::TransferEncodingNotChunked);
                }
                BodyKind::Chunked
            } else if f & F_CL != 0 {
                length(self.cl)?
            } else {
                BodyKind::None
            }
        } else if s < 200 || s == 204 {
            if f & F_CL != 0 && self.cl != 0 {
                return Err(Error::BodyNotAllowed);
            }
            if s == 101 {
                BodyKind::Tunnel
            } else {
                BodyKind::None
            }
        } else if self.method == Method::Head || s == 304 {
            BodyKind::None
        } else if self.method == Method::Connect && s < 300 {
            BodyKind::Tunnel
        } else if f & F_TE != 0 {
            if f & F_CHUNKED_LAST != 0 {
                BodyKind::Chunked
            } else {
                BodyKind::CloseDelimited
            }
        } else if f & F_CL != 0 {
            length(self.cl)?
        } else {
            BodyKind::CloseDelimited
        };
        let mut keep_alive = match self.version {
            Version::Http11 => f & F_CLOSE == 0,
            Version::Http10 => f & F_KEEP_ALIVE != 0,
        };
        if matches!(body, BodyKind::CloseDelimited | BodyKind::Tunnel) {
            keep_alive = false;
        }
        if keep_alive {
            self.flags |= F_PERSIST;
        }
        let has_host = self.request && f & F_HOST != 0;
        sink.event(Event::HeadEnd(Head {
            end,
            body,
            keep_alive,
            expect_continue: f & F_EXPECT != 0,
            upgrade: f & (F_UPGRADE_HDR | F_UPGRADE_OPT) == F_UPGRADE_HDR | F_UPGRADE_OPT,
            connection_options: f & F_CONN_OTHER != 0,
            host: if has_host { Some(self.host) } else { None },
            interim: !self.request && s < 200 && s != 101,
            fields: self.fields,
        }));
        match body {
            BodyKind::None => Ok(self.end_message(after, sink)),
            BodyKind::Tunnel => {
                self.flags |= F_TUNNEL;
                Ok(self.end_message(after, sink))
            }
            BodyKind::Length(n) => {
                self.remaining = n;
                self.st = St::Body;
                Ok(Status::Partial)
            }
            BodyKind::Chunked => {
                self.chunk_line_start(end);
                Ok(Status::Partial)
            }
            BodyKind::CloseDelimited => {
                self.st = St::Close;
                Ok(Status::Partial)
            }
        }
    }

    fn chunk_line_start(&mut self, at: u64) {
        self.st = St::ChunkSize;
        self.sub = 0;
        self.remaining = 0;
        self.line_len = 0;
        self.m0 = at;
    }

    /// Reports the end of the message whose last byte is `data[after - 1]`.
    fn end_message<S: Sink>(&mut self, after: usize, sink: &mut S) -> Status {
        sink.event(Event::End(MessageEnd {
            end: off(self.base, after),
            body_len: self.body_len,
            keep_alive: self.flags & F_PERSIST != 0,
        }));
        let tunnel = self.flags & F_TUNNEL != 0;
        self.reset_message();
        if tunnel {
            self.st = St::Closed;
        }
        Status::Complete { consumed: after }
    }

    /// Reports body data `data[i..i + n]`.
    #[inline(always)]
    fn data<S: Sink>(&mut self, i: usize, n: usize, sink: &mut S) {
        if n > 0 {
            // In chunk: i + n <= data.len().
            let from = off(self.base, i);
            sink.event(Event::Data(Span::new(from, from.saturating_add(n as u64))));
            self.body_len = self.body_len.saturating_add(n as u64);
        }
    }

    /// Fast path: parses the complete, valid field lines at `data[i..]` (stopping at the first
    /// line that is incomplete in this chunk, unusual or possibly over a limit, which the
    /// byte-wise states then handle from its first byte). Returns the index after the lines
    /// handled.
    ///
    /// Equivalent to the byte-wise states by construction: it only takes lines whose every
    /// byte is valid and within the limits, and runs the same name and value checks, in the
    /// same order. The limits are checked once per call: the lines are taken from a window
    /// of the chunk so short that no line in it can reach `hdr_len`, `header_list_size` or
    /// `header_cnt` (every field line has at least 4 bytes with its CRLF); a line that
    /// crosses the window's end goes through the byte-wise states, which count exactly.
    #[inline]
    fn fast_fields<S: Sink>(
        &mut self,
        data: &[u8],
        start: usize,
        sink: &mut S,
    ) -> Result<usize, Error> {
        // A limit as a budget in a u64, 0 (no limit) as 2^32: above anything the window,
        // which is shorter than 2^32, can hold.
        let budget = |limit: u32| u64::from(limit.wrapping_sub(1)).wrapping_add(1);
        let room = budget(self.limits.hdr_len)
            .min(budget(self.limits.header_list_size).saturating_sub(u64::from(self.list_size)))
            .min(
                // At most 2^34: no overflow.
                budget(self.limits.header_cnt)
                    .saturating_sub(u64::from(self.fields))
                    .wrapping_mul(4),
            )
            .min(u64::from(u32::MAX));
        let Some(rest) = data.get(start..) else {
            return Ok(start);
        };
        // `room` < 2^32 fits a usize on 32- and 64-bit targets.
        let window = rest
            .get(..usize::try_from(room).unwrap_or(usize::MAX))
            .unwrap_or(rest);
        // Stream offset of the window's end; every offset below is at most this.
        let Some(wend) = off(self.base, start).checked_add(window.len() as u64) else {
            return Ok(start);
        };
        let trailer = self.flags & F_TRAILER != 0;
        // Names that need more than an event (see `field_action`).
        let action = if trailer {
            FORBIDDEN_TRAILER
        } else {
            action_ids(self.request)
        };
        let single = singletons(self.request);
        let mut rest = window;
        let mut lines = 0usize;
        // The field of `line` at the start of `rest`, whose name is `id`.
        let field = |rest: &[u8], line: &Line, id: HeaderId| {
            // In the window: at most `wend`, no overflow.
            let at = wend.wrapping_sub(rest.len() as u64);
            Field {
                id,
                name: Span::new(at, at.wrapping_add(line.n as u64)),
                value: Span::new(
                    at.wrapping_add(line.vs as u64),
                    at.wrapping_add(line.vt as u64),
                ),
            }
        };
        let event = |f: Field| {
            if trailer {
                Event::Trailer(f)
            } else {
                Event::Header(f)
            }
        };
        'lines: loop {
            // Lines without an action; a call in this loop would make it spill and reload.
            let (line, next, id) = loop {
                let Some((line, next)) = field_line(rest) else {
                    break 'lines;
                };
                let id = header_id_in_line(rest, line.n);
                if bit(id) & action != 0 {
                    break (line, next, id);
                }
                sink.event(event(field(rest, &line, id)));
                lines = lines.wrapping_add(1); // <= window.len()
                rest = next;
            };
            let f = field(rest, &line, id);
            let b = bit(id);
            if !trailer && single & b != 0 {
                // What `on_name` does for them.
                if self.seen & b != 0 {
                    return Err(Error::DuplicateHeader);
                }
                self.seen |= b;
            } else {
                let Some(value) = rest.get(line.vs..line.le) else {
                    break;
                };
                // In the line.
                let t = line.vt.wrapping_sub(line.vs);
                self.field_action(id, value, t, f.value.start)?;
            }
            sink.event(event(f));
            lines = lines.wrapping_add(1); // <= window.len()
            rest = next;
        }
        let taken = window.len().wrapping_sub(rest.len());
        // Both below 2^32 (the window is); the lines' lengths are the bytes taken without
        // their CRLFs. The counts stay within their limits (or saturate without one).
        let lines = lines as u32;
        self.fields = self.fields.saturating_add(lines);
        self.list_size = self
            .list_size
            .saturating_add((taken as u32).wrapping_sub(lines.wrapping_mul(2)));
        Ok(start.wrapping_add(taken))
    }

    /// What a field line taken by the fast path needs besides its event: the checks of
    /// [`Self::on_name`] and the value mini-parser, for a name in [`action_ids`] (or, in a
    /// trailer section, [`FORBIDDEN_TRAILER`]) other than the singletons. `value` is the
    /// value up to the CR, `t` its length without trailing whitespace, `at` its offset.
    #[inline(never)]
    fn field_action(&mut self, id: HeaderId, value: &[u8], t: usize, at: u64) -> Result<(), Error> {
        let trimmed = value.get(..t).unwrap_or_default();
        // In the window: no overflow.
        let span = Span::new(at, at.wrapping_add(t as u64));
        // The common Host in short: what `on_name` and `sem_value` do for it (the state they
        // leave for the byte-wise states is dead after a whole line).
        if id == HeaderId::Host
            && self.request
            && self.flags & (F_HOST | F_TRAILER) == 0
            && !trimmed.is_empty()
            && scan::all_class(trimmed, HOST)
        {
            self.flags |= F_HOST;
            self.host = span;
            return Ok(());
        }
        self.on_name(id)?;
        if self.sem != Sem::None {
            self.sem_value(value, trimmed, span)?;
        }
        Ok(())
    }

    /// Fast path for a complete origin-form request line `method SP /target SP HTTP/1.x CRLF`
    /// at `data[i..]`; anything else is left to the byte-wise states.
    #[inline]
    fn fast_request_line<S: Sink>(&mut self, data: &[u8], i: usize, sink: &mut S) -> Option<usize> {
        let rest = data.get(i..)?;
        let n = scan::token_len(rest);
        if n == 0 || n as u64 > u64::from(MAX_METHOD_LEN) || rest.get(n) != Some(&SP) {
            return None;
        }
        // GET is by far the most common method: one compare.
        let method = if n == 3 && rest.starts_with(b"GET") {
            Method::Get
        } else {
            Method::from_bytes(rest.get(..n)?)
        };
        let t = n.wrapping_add(1); // in chunk, as all indices below
        if method == Method::Connect || rest.get(t) != Some(&b'/') {
            return None;
        }
        let u = scan::uri_len(rest.get(t..)?);
        let v = t.wrapping_add(u);
        if u as u64 > cap(self.limits.uri_len) || rest.get(v) != Some(&SP) {
            return None;
        }
        let vs = v.wrapping_add(1);
        // `HTTP/1.x` as one word, then CRLF.
        let (word, crlf) = rest.get(vs..)?.split_first_chunk::<8>()?;
        if crlf.first_chunk::<2>()? != b"\r\n" {
            return None;
        }
        let version = match u64::from_le_bytes(*word) {
            HTTP11 => Version::Http11,
            HTTP10 => Version::Http10,
            _ => return None,
        };
        self.method = method;
        self.version = version;
        self.form = TargetForm::Origin;
        self.m0 = off(self.base, i);
        self.m1 = off(self.base, i.wrapping_add(t));
        self.m3 = self.m1;
        let lf = i.wrapping_add(vs).wrapping_add(9);
        self.request_line_end(off(self.base, lf), sink);
        Some(lf.wrapping_add(1))
    }

    /// Fast path for a complete status line `HTTP/1.x ddd SP reason CRLF` (or without a
    /// reason) at `data[i..]`.
    #[inline]
    fn fast_status_line<S: Sink>(&mut self, data: &[u8], i: usize, sink: &mut S) -> Option<usize> {
        let rest = data.get(i..)?;
        let (word, after) = rest.split_first_chunk::<8>()?;
        if after.first() != Some(&SP) {
            return None;
        }
        let version = match u64::from_le_bytes(*word) {
            HTTP11 => Version::Http11,
            HTTP10 => Version::Http10,
            _ => return None,
        };
        let mut code = 0u16;
        for &d in rest.get(9..12)? {
            if !d.is_ascii_digit() {
                return None;
            }
            // At most 999.
            code = code
                .wrapping_mul(10)
                .wrapping_add(u16::from(d.wrapping_sub(b'0')));
        }
        if !(100..=599).contains(&code) {
            return None;
        }
        let (rs, cr) = match *rest.get(12)? {
            CR => (12usize, 12usize),
            SP => {
                let mut e = 13usize; // in chunk, as below
                loop {
                    e = e.wrapping_add(scan::value_len(rest.get(e..).unwrap_or_default()));
                    if rest.get(e) != Some(&HT) {
                        break;
                    }
                    e = e.wrapping_add(1);
                }
                if e.wrapping_sub(13) as u64 > u64::from(MAX_REASON_LEN) {
                    return None;
                }
                (13, e)
            }
            _ => return None,
        };
        if rest.get(cr) != Some(&CR) || rest.get(cr.wrapping_add(1)) != Some(&LF) {
            return None;
        }
        self.version = version;
        self.status = code;
        let base = off(self.base, i);
        sink.event(Event::StatusLine(StatusLine {
            version,
            code,
            reason: Span::new(
                base.saturating_add(rs as u64),
                base.saturating_add(cr as u64),
            ),
        }));
        self.start_fields();
        Some(i.wrapping_add(cr).wrapping_add(2))
    }

    /// Fast path for a complete chunk-size line without extensions (`1*HEXDIG CRLF`) at
    /// `data[i..]`; anything else is left to the byte-wise states.
    #[inline]
    fn fast_chunk_line<S: Sink>(
        &mut self,
        data: &[u8],
        i: usize,
        sink: &mut S,
    ) -> Result<Option<usize>, Error> {
        let Some(rest) = data.get(i..) else {
            return Ok(None);
        };
        let n = rest.iter().take(16).take_while(|&&c| is(c, HEX)).count();
        // Up to 15 digits cannot overflow; the limit is checked as the byte-wise path does.
        if n == 0
            || n >= 16
            || n as u64 > cap(self.limits.chunk_line_len)
            || rest.get(n) != Some(&CR)
            || rest.get(n.wrapping_add(1)) != Some(&LF)
        {
            return Ok(None);
        }
        let mut size = 0u64;
        for &c in rest.get(..n).unwrap_or_default() {
            let digit = match c {
                b'0'..=b'9' => c.wrapping_sub(b'0'),
                _ => (c | 0x20).wrapping_sub(b'a').wrapping_add(10),
            };
            // At most 15 hex digits: < 2^60.
            size = (size << 4) | u64::from(digit);
        }
        self.remaining = size;
        self.m1 = off(self.base, i.wrapping_add(n));
        // The LF is at i + n + 1 (in chunk).
        self.chunk_line_end(off(self.base, i.wrapping_add(n).wrapping_add(1)), sink)?;
        Ok(Some(i.wrapping_add(n).wrapping_add(2)))
    }

    /// The LF (at stream offset `lf`) of a chunk-size line whose size is in `remaining`.
    #[inline(always)]
    fn chunk_line_end<S: Sink>(&mut self, lf: u64, sink: &mut S) -> Result<(), Error> {
        let cr = lf.saturating_sub(1);
        let size = self.remaining;
        if size != 0 && self.body_len.saturating_add(size) > cap64(self.limits.body_len) {
            return Err(Error::BodyTooLarge);
        }
        sink.event(Event::Chunk(Chunk {
            size,
            line: Span::new(self.m0, cr),
            ext: Span::new(self.m1, cr),
        }));
        if size == 0 {
            self.flags |= F_TRAILER;
            self.start_fields();
        } else {
            self.st = St::ChunkData;
        }
        Ok(())
    }

    #[allow(clippy::too_many_lines)]
    fn run<S: Sink>(&mut self, data: &[u8], sink: &mut S) -> Result<Status, Error> {
        let mut i = 0usize;
        while let Some(&b) = data.get(i) {
            match self.st {
                // ---------------------------------------------------------- request line
                St::ReqStart => {
                    if let Some(next) = self.fast_request_line(data, i, sink) {
                        i = self.fast_fields(data, next, sink)?;
                        continue;
                    }
                    if b == CR {
                        self.st = St::ReqLeadLf;
                        i = i.wrapping_add(1);
                    } else if is(b, TOKEN) {
                        self.m0 = off(self.base, i);
                        self.tok_len = 0;
                        self.line_len = 0;
                        self.st = St::Method;
                    } else {
                        return Err(match b {
                            LF => Error::BareLf,
                            0 => Error::NulByte,
                            _ => Error::InvalidMethod,
                        });
                    }
                }
                St::ReqLeadLf => {
                    if b != LF {
                        return Err(Error::BareCr);
                    }
                    self.empty_lines = self.empty_lines.saturating_add(1);
                    if self.empty_lines > MAX_EMPTY_LINES {
                        return Err(Error::TooManyEmptyLines);
                    }
                    self.st = St::ReqStart;
                    i = i.wrapping_add(1);
                }
                St::Method => {
                    let rest = data.get(i..).unwrap_or_default();
                    let n = scan::token_len(rest);
                    let len = u64::from(self.line_len).saturating_add(n as u64);
                    if len > u64::from(MAX_METHOD_LEN) {
                        return Err(Error::MethodTooLong);
                    }
                    self.line_len = len as u32; // <= MAX_METHOD_LEN
                    self.push_name(rest.get(..n).unwrap_or_default());
                    i = i.wrapping_add(n); // in chunk
                    let Some(&c) = data.get(i) else { break };
                    if c != SP {
                        return Err(match c {
                            CR | LF => Error::InvalidRequestLine,
                            0 => Error::NulByte,
                            _ => Error::InvalidMethod,
                        });
                    }
                    self.method = Method::from_bytes(self.tok());
                    i = i.wrapping_add(1);
                    self.m1 = off(self.base, i);
                    self.line_len = 0;
                    self.st = St::TargetStart;
                }
                St::TargetStart => {
                    if self.method == Method::Connect {
                        if is(b, HOST) || b == b'[' {
                            self.form = TargetForm::Authority;
                            self.m2 = off(self.base, i);
                            self.host_reset();
                            self.st = St::ConnectAuthority;
                            continue;
                        }
                    } else if b == b'/' {
                        self.form = TargetForm::Origin;
                        self.m3 = off(self.base, i);
                        self.st = St::Origin;
                        continue;
                    } else if b == b'*' {
                        if self.method != Method::Options {
                            return Err(Error::InvalidTarget);
                        }
                        self.form = TargetForm::Asterisk;
                        self.count_uri(1)?;
                        self.st = St::Asterisk;
                        i = i.wrapping_add(1);
                        continue;
                    } else if b.is_ascii_alphabetic() {
                        self.form = TargetForm::Absolute;
                        self.tok_len = 0;
                        self.st = St::Scheme;
                        continue;
                    }
                    return Err(match b {
                        SP | CR | LF => Error::InvalidRequestLine,
                        0 => Error::NulByte,
                        _ => Error::InvalidTarget,
                    });
                }
                St::Origin => {
                    let rest = data.get(i..).unwrap_or_default();
                    let n = scan::uri_len(rest);
                    self.count_uri(n)?;
                    i = i.wrapping_add(n); // in chunk
                    let Some(&c) = data.get(i) else { break };
                    if c != SP {
                        return Err(target_error(c));
                    }
                    self.st = St::Version;
                    self.sub = 0;
                    i = i.wrapping_add(1);
                }
                St::Asterisk => {
                    if b != SP {
                        return Err(target_error(b));
                    }
                    self.st = St::Version;
                    self.sub = 0;
                    i = i.wrapping_add(1);
                }
                St::Scheme => {
                    if is(b, SCHEME) {
                        self.count_uri(1)?;
                        self.push_tok(lower(b));
                    } else if b == b':' {
                        self.count_uri(1)?;
                        if !matches!(self.tok(), b"http" | b"https") {
                            return Err(Error::InvalidScheme);
                        }
                        self.st = St::SchemeSlashes;
                        self.sub = 0;
                    } else {
                        return Err(target_error(b));
                    }
                    i = i.wrapping_add(1);
                }
                St::SchemeSlashes => {
                    if b != b'/' {
                        return Err(target_error(b));
                    }
                    self.count_uri(1)?;
                    self.sub = self.sub.wrapping_add(1); // 0 or 1
                    i = i.wrapping_add(1);
                    if self.sub == 2 {
                        self.m2 = off(self.base, i);
                        self.host_reset();
                        self.st = St::Authority;
                    }
                }
                St::Authority => match b {
                    b'/' | b'?' | SP => {
                        self.authority_end(false)?;
                        self.m3 = off(self.base, i);
                        if b == SP {
                            self.st = St::Version;
                            self.sub = 0;
                            i = i.wrapping_add(1);
                        } else {
                            self.st = St::Origin;
                        }
                    }
                    b'@' => return Err(Error::UserinfoInTarget),
                    CR | LF => return Err(Error::InvalidRequestLine),
                    0 => return Err(Error::NulByte),
                    _ => {
                        if self.host_byte(b).is_err() {
                            self.flags |= F_HOST_BAD;
                        }
                        self.count_uri(1)?;
                        i = i.wrapping_add(1);
                    }
                },
                St::ConnectAuthority => match b {
                    SP => {
                        self.authority_end(true)?;
                        self.m3 = off(self.base, i);
                        self.st = St::Version;
                        self.sub = 0;
                        i = i.wrapping_add(1);
                    }
                    b'@' => return Err(Error::UserinfoInTarget),
                    CR | LF => return Err(Error::InvalidRequestLine),
                    0 => return Err(Error::NulByte),
                    _ => {
                        if self.host_byte(b).is_err() {
                            self.flags |= F_HOST_BAD;
                        }
                        self.count_uri(1)?;
                        i = i.wrapping_add(1);
                    }
                },
                St::Version => {
                    if self.sub < 8 {
                        self.version_byte(b)?;
                    } else if self.sub == 8 {
                        if b != CR {
                            return Err(match b {
                                LF => Error::BareLf,
                                0 => Error::NulByte,
                                _ => Error::InvalidVersion,
                            });
                        }
                        self.sub = 9;
                    } else {
                        if b != LF {
                            return Err(Error::BareCr);
                        }
                        self.request_line_end(off(self.base, i), sink);
                    }
                    i = i.wrapping_add(1);
                }
                // ---------------------------------------------------------- status line
                St::RespVersion => {
                    if self.sub == 0 {
                        if let Some(next) = self.fast_status_line(data, i, sink) {
                            i = self.fast_fields(data, next, sink)?;
                            continue;
                        }
                    }
                    if self.sub < 8 {
                        self.version_byte(b)?;
                    } else if b == SP {
                        self.st = St::StatusCode;
                        self.sub = 0;
                        self.status = 0;
                    } else {
                        return Err(match b {
                            0 => Error::NulByte,
                            b'0'..=b'9' => Error::InvalidVersion,
                            _ => Error::InvalidStatusLine,
                        });
                    }
                    i = i.wrapping_add(1);
                }
                St::StatusCode => {
                    if self.sub < 3 {
                        if !b.is_ascii_digit() {
                            return Err(match b {
                                0 => Error::NulByte,
                                _ => Error::InvalidStatusCode,
                            });
                        }
                        // At most 999: no overflow.
                        self.status = self
                            .status
                            .wrapping_mul(10)
                            .wrapping_add(u16::from(b.wrapping_sub(b'0')));
                        self.sub = self.sub.wrapping_add(1);
                    } else {
                        if !(100..=599).contains(&self.status) || b.is_ascii_digit() {
                            return Err(Error::InvalidStatusCode);
                        }
                        match b {
                            SP => {
                                self.m0 = off(self.base, i.wrapping_add(1));
                                self.line_len = 0;
                                self.st = St::Reason;
                            }
                            CR => {
                                self.m0 = off(self.base, i);
                                self.st = St::StatusLf;
                            }
                            LF => return Err(Error::BareLf),
                            0 => return Err(Error::NulByte),
                            _ => return Err(Error::InvalidStatusLine),
                        }
                    }
                    i = i.wrapping_add(1);
                }
                St::Reason => {
                    let rest = data.get(i..).unwrap_or_default();
                    let n = scan::value_len(rest);
                    let len = u64::from(self.line_len).saturating_add(n as u64);
                    if len > u64::from(MAX_REASON_LEN) {
                        return Err(Error::StatusLineTooLong);
                    }
                    self.line_len = len as u32; // <= MAX_REASON_LEN
                    i = i.wrapping_add(n); // in chunk
                    let Some(&c) = data.get(i) else { break };
                    match c {
                        CR => self.st = St::StatusLf,
                        HT => {
                            if len >= u64::from(MAX_REASON_LEN) {
                                return Err(Error::StatusLineTooLong);
                            }
                            self.line_len = self.line_len.saturating_add(1);
                        }
                        LF => return Err(Error::BareLf),
                        0 => return Err(Error::NulByte),
                        _ => return Err(Error::InvalidReason),
                    }
                    i = i.wrapping_add(1);
                }
                St::StatusLf => {
                    if b != LF {
                        return Err(Error::BareCr);
                    }
                    let lf = off(self.base, i);
                    sink.event(Event::StatusLine(StatusLine {
                        version: self.version,
                        code: self.status,
                        reason: Span::new(self.m0, lf.saturating_sub(1)),
                    }));
                    self.start_fields();
                    i = i.wrapping_add(1);
                }
                // ---------------------------------------------------------- field lines
                St::LineStart => {
                    if b == CR && data.get(i.wrapping_add(1)) == Some(&LF) {
                        // The empty line, whole: as `HeadLf` does with its LF.
                        i = i.wrapping_add(2); // in chunk
                        if self.flags & F_TRAILER != 0 {
                            return Ok(self.end_message(i, sink));
                        }
                        match self.head_end(i, sink)? {
                            Status::Partial => continue,
                            done => return Ok(done),
                        }
                    }
                    let next = self.fast_fields(data, i, sink)?;
                    if next != i {
                        i = next;
                        continue;
                    }
                    if is(b, TOKEN) {
                        self.fields = self.fields.saturating_add(1);
                        if u64::from(self.fields) > cap(self.limits.header_cnt) {
                            return Err(Error::TooManyHeaders);
                        }
                        self.m0 = off(self.base, i);
                        self.line_len = 0;
                        self.tok_len = 0;
                        self.st = St::Name;
                        continue;
                    }
                    match b {
                        CR => self.st = St::HeadLf,
                        LF => return Err(Error::BareLf),
                        SP | HT => {
                            return Err(if self.fields == 0 && self.flags & F_TRAILER == 0 {
                                Error::WhitespaceAfterStartLine
                            } else {
                                Error::ObsFold
                            })
                        }
                        b':' => return Err(Error::EmptyHeaderName),
                        0 => return Err(Error::NulByte),
                        _ => return Err(Error::InvalidHeaderName),
                    }
                    i = i.wrapping_add(1);
                }
                St::Name => {
                    let rest = data.get(i..).unwrap_or_default();
                    let n = scan::token_len(rest);
                    self.count_field(n)?;
                    let name = rest.get(..n).unwrap_or_default();
                    let Some(&c) = rest.get(n) else {
                        // The chunk ends inside the name: keep what identification needs.
                        self.push_name(name);
                        break;
                    };
                    if c != b':' {
                        return Err(match c {
                            SP | HT => Error::WhitespaceBeforeColon,
                            CR | LF => Error::MissingColon,
                            0 => Error::NulByte,
                            _ => Error::InvalidHeaderName,
                        });
                    }
                    let id = match self.m0.checked_sub(self.base) {
                        // The whole name is in this chunk.
                        Some(start) => header_id(
                            usize::try_from(start)
                                .ok()
                                .and_then(|s| data.get(s..i.wrapping_add(n)))
                                .unwrap_or_default(),
                        ),
                        None => {
                            self.push_name(name);
                            if usize::from(self.tok_len) <= NAME_BUF {
                                header_id(self.tok())
                            } else {
                                HeaderId::Other
                            }
                        }
                    };
                    i = i.wrapping_add(n); // in chunk
                    self.m1 = off(self.base, i);
                    self.count_field(1)?;
                    self.on_name(id)?;
                    self.st = St::ValueOws;
                    i = i.wrapping_add(1);
                }
                St::ValueOws => {
                    let rest = data.get(i..).unwrap_or_default();
                    let n = rest
                        .iter()
                        .position(|&c| c != SP && c != HT)
                        .unwrap_or(rest.len());
                    self.count_field(n)?;
                    i = i.wrapping_add(n); // in chunk
                    if i < data.len() {
                        self.m2 = off(self.base, i);
                        self.m3 = self.m2;
                        self.st = St::Value;
                    }
                }
                St::Value => {
                    if self.sem == Sem::None {
                        let rest = data.get(i..).unwrap_or_default();
                        let n = scan::value_len(rest);
                        if n > 0 {
                            self.count_field(n)?;
                            let seg = rest.get(..n).unwrap_or_default();
                            if let Some(p) = seg.iter().rposition(|&c| c != SP) {
                                // In chunk.
                                self.m3 = off(self.base, i.wrapping_add(p).wrapping_add(1));
                            }
                            i = i.wrapping_add(n);
                        }
                        let Some(&c) = data.get(i) else { break };
                        match c {
                            CR => self.st = St::ValueLf,
                            HT => self.count_field(1)?,
                            _ => return Err(value_error(c)),
                        }
                        i = i.wrapping_add(1);
                    } else {
                        while let Some(&c) = data.get(i) {
                            i = i.wrapping_add(1);
                            if c == CR {
                                self.st = St::ValueLf;
                                break;
                            }
                            if (c < 0x20 && c != HT) || c == 0x7f {
                                return Err(value_error(c));
                            }
                            self.count_field(1)?;
                            self.sem_byte(c)?;
                            if c != SP && c != HT {
                                self.m3 = off(self.base, i);
                            }
                        }
                    }
                }
                St::ValueLf => {
                    if b != LF {
                        return Err(Error::BareCr);
                    }
                    self.field_end(sink)?;
                    self.st = St::LineStart;
                    i = i.wrapping_add(1);
                }
                St::HeadLf => {
                    if b != LF {
                        return Err(Error::BareCr);
                    }
                    i = i.wrapping_add(1);
                    if self.flags & F_TRAILER != 0 {
                        return Ok(self.end_message(i, sink));
                    }
                    match self.head_end(i, sink)? {
                        Status::Partial => {}
                        done => return Ok(done),
                    }
                }
                // ---------------------------------------------------------- body
                St::Body => {
                    let avail = data.len().wrapping_sub(i) as u64; // i < data.len()
                    let n = self.remaining.min(avail) as usize; // <= avail
                    self.data(i, n, sink);
                    self.remaining = self.remaining.wrapping_sub(n as u64); // n <= remaining
                    i = i.wrapping_add(n);
                    if self.remaining == 0 {
                        return Ok(self.end_message(i, sink));
                    }
                }
                St::ChunkSize => {
                    if self.sub == 0 {
                        if let Some(next) = self.fast_chunk_line(data, i, sink)? {
                            i = next;
                            continue;
                        }
                    }
                    if is(b, HEX) {
                        self.count_chunk_line()?;
                        let digit = match b {
                            b'0'..=b'9' => b.wrapping_sub(b'0'),
                            _ => (b | 0x20).wrapping_sub(b'a').wrapping_add(10),
                        };
                        self.remaining = self
                            .remaining
                            .checked_mul(16)
                            .and_then(|v| v.checked_add(u64::from(digit)))
                            .filter(|&v| v <= MAX_LENGTH)
                            .ok_or(Error::ChunkSizeOverflow)?;
                        self.sub = 1;
                    } else if self.sub == 0 {
                        return Err(match b {
                            0 => Error::NulByte,
                            LF => Error::BareLf,
                            _ => Error::InvalidChunkSize,
                        });
                    } else {
                        self.m1 = off(self.base, i);
                        match b {
                            CR => self.st = St::ChunkLf,
                            b';' | SP | HT => {
                                self.count_chunk_line()?;
                                self.sub = if b == b';' { E_PRE_NAME } else { E_BWS };
                                self.st = St::ChunkExt;
                            }
                            LF => return Err(Error::BareLf),
                            0 => return Err(Error::NulByte),
                            _ => return Err(Error::InvalidChunkSize),
                        }
                    }
                    i = i.wrapping_add(1);
                }
                St::ChunkExt => {
                    if b == CR {
                        if !matches!(self.sub, E_NAME | E_TOKEN | E_POST_QUOTED) {
                            return Err(Error::InvalidChunkExtension);
                        }
                        self.st = St::ChunkLf;
                    } else {
                        let ws = b == SP || b == HT;
                        let tchar = is(b, TOKEN);
                        self.sub = match (self.sub, b) {
                            (_, LF) => return Err(Error::BareLf),
                            (_, 0) => return Err(Error::NulByte),
                            (E_BWS, _) if ws => E_BWS,
                            (E_PRE_NAME, _) if ws => E_PRE_NAME,
                            (E_PRE_NAME | E_NAME, _) if tchar => E_NAME,
                            (E_NAME | E_POST_NAME, _) if ws => E_POST_NAME,
                            (E_NAME | E_POST_NAME, b'=') => E_PRE_VAL,
                            (E_PRE_VAL, _) if ws => E_PRE_VAL,
                            (E_PRE_VAL, b'"') => E_QUOTED,
                            (E_PRE_VAL | E_TOKEN, _) if tchar => E_TOKEN,
                            (E_TOKEN | E_POST_QUOTED, _) if ws => E_BWS,
                            (E_BWS | E_NAME | E_POST_NAME | E_TOKEN | E_POST_QUOTED, b';') => {
                                E_PRE_NAME
                            }
                            (E_QUOTED, b'"') => E_POST_QUOTED,
                            (E_QUOTED, b'\\') => E_ESCAPE,
                            (E_QUOTED, _) if is(b, QDTEXT) => E_QUOTED,
                            (E_ESCAPE, _) if ws || is(b, VCHAR) => E_QUOTED,
                            _ => return Err(Error::InvalidChunkExtension),
                        };
                        self.count_chunk_line()?;
                    }
                    i = i.wrapping_add(1);
                }
                St::ChunkLf => {
                    if b != LF {
                        return Err(Error::BareCr);
                    }
                    self.chunk_line_end(off(self.base, i), sink)?;
                    i = i.wrapping_add(1);
                }
                St::ChunkData => {
                    let avail = data.len().wrapping_sub(i) as u64; // i < data.len()
                    let n = self.remaining.min(avail) as usize; // <= avail
                    self.data(i, n, sink);
                    self.remaining = self.remaining.wrapping_sub(n as u64); // n <= remaining
                    i = i.wrapping_add(n);
                    if self.remaining == 0 {
                        self.st = St::ChunkDataCr;
                    }
                }
                St::ChunkDataCr => {
                    if b == CR && data.get(i.wrapping_add(1)) == Some(&LF) {
                        i = i.wrapping_add(2); // in chunk
                        self.chunk_line_start(off(self.base, i));
                        continue;
                    }
                    if b != CR {
                        return Err(match b {
                            LF => Error::BareLf,
                            _ => Error::InvalidChunkTerminator,
                        });
                    }
                    self.st = St::ChunkDataLf;
                    i = i.wrapping_add(1);
                }
                St::ChunkDataLf => {
                    if b != LF {
                        return Err(Error::BareCr);
                    }
                    i = i.wrapping_add(1);
                    self.chunk_line_start(off(self.base, i));
                }
                St::Close => {
                    let avail = data.len().wrapping_sub(i); // i < data.len()
                    let room = cap64(self.limits.body_len).saturating_sub(self.body_len);
                    if avail as u64 > room {
                        self.data(i, room as usize, sink); // room < avail
                        return Err(Error::BodyTooLarge);
                    }
                    self.data(i, avail, sink);
                    i = data.len();
                }
                St::Closed => return Err(Error::Closed),
                St::Failed => return Err(self.err),
            }
        }
        Ok(Status::Partial)
    }

    /// `HTTP/1.0` or `HTTP/1.1`, byte `self.sub` of it.
    fn version_byte(&mut self, b: u8) -> Result<(), Error> {
        let ok = match self.sub {
            5 => {
                if b != b'1' && b.is_ascii_digit() {
                    self.flags |= F_MAJOR_OTHER;
                }
                b.is_ascii_digit()
            }
            7 => match b {
                _ if self.flags & F_MAJOR_OTHER != 0 && b.is_ascii_digit() => {
                    return Err(Error::UnsupportedVersion)
                }
                b'0' => {
                    self.version = Version::Http10;
                    true
                }
                // A later minor version of HTTP/1 is processed as 1.1, the highest one
                // implemented (RFC 9110 section 2.5); the proxy writes 1.1 when it forwards.
                b'1'..=b'9' => {
                    self.version = Version::Http11;
                    true
                }
                _ => false,
            },
            s => b"HTTP/1.".get(usize::from(s)) == Some(&b),
        };
        if !ok {
            return Err(match b {
                0 => Error::NulByte,
                _ => Error::InvalidVersion,
            });
        }
        self.sub = self.sub.wrapping_add(1); // < 8
        Ok(())
    }

    /// The LF of the request line is at stream offset `lf`.
    fn request_line_end<S: Sink>(&mut self, lf: u64, sink: &mut S) {
        // The line ends with exactly `SP HTTP/1.x CR LF`.
        let te = lf.saturating_sub(10);
        let (path, authority) = match self.form {
            TargetForm::Origin => (Span::new(self.m1, te), None),
            TargetForm::Absolute => (Span::new(self.m3, te), Some(Span::new(self.m2, self.m3))),
            TargetForm::Authority => (Span::new(te, te), Some(Span::new(self.m2, te))),
            TargetForm::Asterisk => (Span::new(te, te), None),
        };
        sink.event(Event::RequestLine(RequestLine {
            method: self.method,
            method_span: Span::new(self.m0, self.m1.saturating_sub(1)),
            target: Span::new(self.m1, te),
            form: self.form,
            path,
            authority,
            version: self.version,
        }));
        self.start_fields();
    }
}

/// Where the parts of a field line are, relative to its first byte.
#[derive(Clone, Copy)]
struct Line {
    /// Name length (the colon is at `n`).
    n: usize,
    /// Value start, after the whitespace.
    vs: usize,
    /// Value end, before the whitespace.
    vt: usize,
    /// The CR.
    le: usize,
}

/// A complete, valid field line at the start of `rest`: where its parts are and what
/// follows its CRLF; `None` if the line is incomplete in `rest` or invalid (left to the
/// byte-wise states).
#[inline(always)]
fn field_line(rest: &[u8]) -> Option<(Line, &[u8])> {
    let n = scan::token_len(rest);
    if n == 0 {
        return None;
    }
    // The common shape: `name: value` or `name:value`, the value starting and ending with a
    // visible byte, CRLF. All indices below are in `rest`.
    let vs = match rest.get(n..)? {
        [b':', SP, c, ..] if *c > SP => n.wrapping_add(2),
        [b':', c, ..] if *c > SP => n.wrapping_add(1),
        [b':', ..] => return field_line_other(rest, n),
        _ => return None,
    };
    let v = rest.get(vs..)?;
    let e = scan::value_len(v);
    match v.get(e.wrapping_sub(1)..)? {
        [z, CR, LF, next @ ..] if *z > SP => {
            let le = vs.wrapping_add(e);
            Some((Line { n, vs, vt: le, le }, next))
        }
        // The chunk ends in the value or its CRLF.
        [_] | [_, CR] => None,
        _ => field_line_other(rest, n),
    }
}

/// [`field_line`] for the other shapes: any whitespace around the value (or an empty value),
/// HTAB inside it; `rest[n]` is the colon.
#[inline(never)]
fn field_line_other(rest: &[u8], n: usize) -> Option<(Line, &[u8])> {
    let c = n.wrapping_add(1); // In `rest`, as all indices below.
    let (s, t, e) = field_value(rest.get(c..)?)?;
    let vs = c.wrapping_add(s);
    let le = vs.wrapping_add(e);
    Some((
        Line {
            n,
            vs,
            vt: vs.wrapping_add(t),
            le,
        },
        rest.get(le.wrapping_add(2)..)?,
    ))
}

/// The value part of a complete, valid field line in any shape: `v` is what follows the
/// colon (or the colon and a SP). Returns the start of the value after the whitespace, and
/// relative to it the end of the value without trailing whitespace and the index of the CR;
/// `None` if the line is incomplete in `v` or invalid (left to the byte-wise states).
#[inline(never)]
fn field_value(v: &[u8]) -> Option<(usize, usize, usize)> {
    let s = v
        .iter()
        .position(|&c| c != SP && c != HT)
        .unwrap_or(v.len());
    let tail = v.get(s..)?;
    // In `tail`, as all indices below.
    let mut e = scan::value_len(tail);
    while tail.get(e) == Some(&HT) {
        e = e.wrapping_add(1);
        e = e.wrapping_add(scan::value_len(tail.get(e..).unwrap_or_default()));
    }
    if tail.get(e..e.wrapping_add(2)) != Some(b"\r\n") {
        return None;
    }
    let t = tail
        .get(..e)?
        .iter()
        .rposition(|&c| c != SP && c != HT)
        .map_or(0, |p| p.wrapping_add(1));
    Some((s, t, e))
}

fn target_error(b: u8) -> Error {
    match b {
        SP | CR | LF => Error::InvalidRequestLine,
        0 => Error::NulByte,
        _ => Error::InvalidTarget,
    }
}

fn value_error(b: u8) -> Error {
    match b {
        LF => Error::BareLf,
        0 => Error::NulByte,
        _ => Error::InvalidHeaderValue,
    }
}

/// Incremental HTTP/1.x request parser (see the crate docs).
#[derive(Clone, Debug)]
pub struct RequestParser {
    core: Core,
}

impl RequestParser {
    /// A parser for the requests of one connection.
    pub const fn new(limits: Limits) -> Self {
        Self {
            core: Core::new(true, limits),
        }
    }

    /// Parses the next chunk of the stream, reporting events to `sink`.
    ///
    /// Returns [`Status::Partial`] when the whole chunk was consumed, or
    /// [`Status::Complete`] when a request ended inside it (feed the rest again for the next,
    /// pipelined request). After an error the parser stays failed.
    pub fn feed<S: Sink>(&mut self, chunk: &[u8], sink: &mut S) -> Result<Status, Error> {
        self.core.feed(chunk, sink)
    }

    /// Signals the end of the stream. `Ok` between messages, [`Error::UnexpectedEof`] inside
    /// one.
    pub fn finish<S: Sink>(&mut self, sink: &mut S) -> Result<(), Error> {
        self.core.finish(sink)
    }

    /// Stream offset of the next byte to feed.
    pub const fn offset(&self) -> u64 {
        self.core.base
    }

    /// How many of the next bytes are message data the parser need not see: the rest of a
    /// Content-Length body or of the current chunk (or, for a response, what a
    /// close-delimited body may still hold). A caller that forwards them unread (zero-copy)
    /// reports them with [`skip`](Self::skip) instead of feeding them.
    pub const fn data_run(&self) -> u64 {
        self.core.data_run()
    }

    /// Takes the next `n` bytes (at most [`data_run`](Self::data_run)) as fed, without
    /// their contents: the same events and state as feeding them. `None`, with nothing
    /// changed, when `n` is more than the run.
    pub fn skip<S: Sink>(&mut self, n: u64, sink: &mut S) -> Option<Status> {
        self.core.skip(n, sink)
    }

    /// The limits in force.
    pub const fn limits(&self) -> &Limits {
        &self.core.limits
    }

    /// Whether the parser failed (every `feed` returns the error).
    pub fn error(&self) -> Option<Error> {
        (self.core.st == St::Failed).then_some(self.core.err)
    }

    /// Forgets everything but the limits, for a new connection (offsets restart at 0).
    pub fn reset(&mut self) {
        self.core.reset();
    }
}

/// Incremental HTTP/1.x response parser (see the crate docs).
///
/// A response's framing depends on its request: call
/// [`set_request_method`](Self::set_request_method) before each response (the method stays
/// set across 1xx interim responses and until changed; it starts as GET).
#[derive(Clone, Debug)]
pub struct ResponseParser {
    core: Core,
}

impl ResponseParser {
    /// A parser for the responses of one connection.
    pub const fn new(limits: Limits) -> Self {
        Self {
            core: Core::new(false, limits),
        }
    }

    /// Sets the method of the request the next response answers (HEAD: no body; CONNECT:
    /// a 2xx turns the connection into a tunnel).
    pub fn set_request_method(&mut self, method: Method) {
        self.core.method = method;
    }

    /// Parses the next chunk of the stream; see [`RequestParser::feed`].
    ///
    /// After a response whose body is [`BodyKind::Tunnel`] the parser accepts no more input
    /// ([`Error::Closed`]).
    pub fn feed<S: Sink>(&mut self, chunk: &[u8], sink: &mut S) -> Result<Status, Error> {
        self.core.feed(chunk, sink)
    }

    /// Signals the end of the stream: completes a close-delimited body (sending its
    /// [`Event::End`]); `Ok` between messages; [`Error::UnexpectedEof`] inside a message.
    pub fn finish<S: Sink>(&mut self, sink: &mut S) -> Result<(), Error> {
        self.core.finish(sink)
    }

    /// Stream offset of the next byte to feed.
    pub const fn offset(&self) -> u64 {
        self.core.base
    }

    /// How many of the next bytes are message data the parser need not see: the rest of a
    /// Content-Length body or of the current chunk (or, for a response, what a
    /// close-delimited body may still hold). A caller that forwards them unread (zero-copy)
    /// reports them with [`skip`](Self::skip) instead of feeding them.
    pub const fn data_run(&self) -> u64 {
        self.core.data_run()
    }

    /// Takes the next `n` bytes (at most [`data_run`](Self::data_run)) as fed, without
    /// their contents: the same events and state as feeding them. `None`, with nothing
    /// changed, when `n` is more than the run.
    pub fn skip<S: Sink>(&mut self, n: u64, sink: &mut S) -> Option<Status> {
        self.core.skip(n, sink)
    }

    /// The limits in force.
    pub const fn limits(&self) -> &Limits {
        &self.core.limits
    }

    /// Whether the parser failed (every `feed` returns the error).
    pub fn error(&self) -> Option<Error> {
        (self.core.st == St::Failed).then_some(self.core.err)
    }

    /// Whether the connection left HTTP (101, CONNECT 2xx) or the close-delimited body ended.
    pub fn is_closed(&self) -> bool {
        self.core.st == St::Closed
    }

    /// Forgets everything but the limits and the request method, for a new connection.
    pub fn reset(&mut self) {
        self.core.reset();
    }
}
