//! Turning one direction of a connection into messages to forward.
//!
//! The caller keeps the received bytes in a buffer and offers the reader the part it has not
//! consumed yet (`buf`, whose first byte is at stream offset `buf_start`). The reader parses
//! at most what it is offered and answers with one [`Step`] at a time:
//!
//! * [`Step::Head`]: a complete head at `[start, end)` of the stream. The caller must still
//!   hold these bytes: it keeps everything from [`Reader::keep_from`] on.
//! * [`Step::Body`]: message bytes after the head, verbatim (chunk-size lines and trailers
//!   included), ready to forward.
//! * [`Step::End`]: the message is complete.
//! * [`Step::Need`]: everything offered is parsed; offer more when it arrives.
//!
//! Offering less than what is buffered is how the caller applies backpressure: body bytes are
//! only produced when the caller has room to send them, and a pipelined request after the
//! current one is not read until the caller is ready for it.

use super::parser::{
    BodyKind, Error, Event, HeaderId, Limits, Method, RequestParser, ResponseParser, Version,
};

/// What the request head says, for the proxy's decisions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReqInfo {
    /// The method.
    pub method: Method,
    /// The version of the request line.
    pub version: Version,
    /// Whether the client connection persists after this request.
    pub keep_alive: bool,
    /// How the body is delimited.
    pub body: BodyKind,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// An `Upgrade` field together with the `upgrade` Connection option (see
    /// [`crate::tunnel`]).
    pub upgrade: bool,
}

impl ReqInfo {
    /// Whether re-sending the request to another upstream is safe (RFC 9110 section 9.2.2).
    pub fn idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::Get
                | Method::Head
                | Method::Put
                | Method::Delete
                | Method::Options
                | Method::Trace
        )
    }
}

/// What a response head says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RespInfo {
    /// The status code.
    pub code: u16,
    /// The version of the status line.
    pub version: Version,
    /// Whether the upstream connection persists after this response.
    pub keep_alive: bool,
    /// How the body is delimited.
    pub body: BodyKind,
    /// A 1xx response other than 101: the final response follows.
    pub interim: bool,
}

/// The next thing to do with the stream; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// All offered bytes are parsed.
    Need,
    /// A complete message head at stream offsets `[start, end)`.
    Head {
        /// Offset of the first byte of the message.
        start: u64,
        /// Offset one past the empty line that ends the head.
        end: u64,
    },
    /// Message bytes after the head, at stream offsets `[start, end)`.
    Body {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// The message ended (its last byte was in the previous `Body` or `Head`).
    End,
    /// The stream is malformed; the connection cannot continue.
    Error(Error),
}

enum Parser {
    Request(RequestParser),
    Response(ResponseParser),
}

/// Events of the current `feed` call that the reader acts on.
#[derive(Default)]
struct Seen {
    req: ReqInfo,
    resp: RespInfo,
    head_end: Option<u64>,
    end: Option<u64>,
    /// The recognized fields of the head (bit `HeaderId as u32`).
    head_ids: u64,
    /// A trailer field repeats a recognized field of the head.
    trailer_split: bool,
}

/// One direction of a connection: requests from a client or responses from an upstream.
pub struct Reader {
    parser: Parser,
    seen: Seen,
    /// First byte of the current message.
    msg_start: u64,
    /// Next byte to hand out as part of a `Head` or `Body` step.
    fwd: u64,
    /// The head was handed out.
    head_done: bool,
    /// The `End` was handed out; the next `poll` starts a new message.
    ended: bool,
}

impl Reader {
    /// A reader of requests.
    pub const fn requests(limits: Limits) -> Self {
        Self::new(Parser::Request(RequestParser::new(limits)))
    }

    /// A reader of responses.
    pub const fn responses(limits: Limits) -> Self {
        Self::new(Parser::Response(ResponseParser::new(limits)))
    }

    const fn new(parser: Parser) -> Self {
        Self {
            parser,
            seen: Seen {
                req: ReqInfo {
                    method: Method::Get,
                    version: Version::Http11,
                    keep_alive: true,
                    body: BodyKind::None,
                    expect_continue: false,
                    upgrade: false,
                },
                resp: RespInfo {
                    code: 0,
                    version: Version::Http11,
                    keep_alive: true,
                    body: BodyKind::None,
                    interim: false,
                },
                head_end: None,
                end: None,
                head_ids: 0,
                trailer_split: false,
            },
            msg_start: 0,
            fwd: 0,
            head_done: false,
            ended: false,
        }
    }

    /// For a response reader: the method of the request the next response answers.
    pub fn expect_response_to(&mut self, method: Method) {
        if let Parser::Response(p) = &mut self.parser {
            p.set_request_method(method);
        }
    }

    /// The request head's facts (valid after [`Step::Head`] of a request reader).
    pub fn request(&self) -> ReqInfo {
        self.seen.req
    }

    /// The response head's facts (valid after [`Step::Head`] of a response reader).
    pub fn response(&self) -> RespInfo {
        self.seen.resp
    }

    /// Stream offset of the first byte the caller must keep: the start of a head not handed
    /// out yet, or the next body byte.
    pub fn keep_from(&self) -> u64 {
        if self.head_done {
            self.fwd
        } else {
            self.msg_start
        }
    }

    /// Stream offset of the next byte the parser has not seen.
    pub fn parsed(&self) -> u64 {
        match &self.parser {
            Parser::Request(p) => p.offset(),
            Parser::Response(p) => p.offset(),
        }
    }

    /// Whether a message is in progress (some of its bytes were parsed).
    pub fn in_message(&self) -> bool {
        !self.ended && self.parsed() > self.msg_start
    }

    /// Whether a trailer field of the current message repeats one of its head (a recognized
    /// field: Cache-Control, Cookie, ...): intermediaries that drop trailers and those that
    /// merge them would see different messages (frang's `http_trailer_split_allowed`). Known
    /// before the bytes of that trailer are handed out.
    pub fn trailer_split(&self) -> bool {
        self.seen.trailer_split
    }

    /// Whether the head of the current message was handed out and its end was not.
    pub fn in_body(&self) -> bool {
        self.head_done && !self.ended
    }

    /// How many of the next bytes of the stream are body data that the reader need not see
    /// (see [`skip`](Self::skip)): only once everything parsed was handed out, in the middle
    /// of a Content-Length body, a chunk's data or a close-delimited body. 0 otherwise.
    pub fn data_run(&self) -> u64 {
        if !self.head_done || self.ended || self.seen.end.is_some() || self.fwd != self.parsed() {
            return 0;
        }
        match &self.parser {
            Parser::Request(p) => p.data_run(),
            Parser::Response(p) => p.data_run(),
        }
    }

    /// The caller forwarded the next `n` bytes (at most [`data_run`](Self::data_run))
    /// without offering them (zero-copy): they count as parsed and handed out, as one
    /// [`Step::Body`] would have. The message's [`Step::End`] may follow at the next
    /// [`poll`](Self::poll). False, with nothing changed, when `n` is more than the run.
    pub fn skip(&mut self, n: u64) -> bool {
        if n > self.data_run() {
            return false;
        }
        let seen = &mut self.seen;
        let mut sink = |ev: Event| record(seen, ev);
        let done = match &mut self.parser {
            Parser::Request(p) => p.skip(n, &mut sink),
            Parser::Response(p) => p.skip(n, &mut sink),
        };
        if done.is_none() {
            return false;
        }
        self.fwd = self.parsed();
        true
    }

    /// The next step, given the unconsumed bytes `buf` that start at stream offset
    /// `buf_start`. `buf_start` must not be past [`keep_from`](Self::keep_from).
    pub fn poll(&mut self, buf: &[u8], buf_start: u64) -> Step {
        loop {
            if self.ended {
                self.next_message();
            }
            if let Some(step) = self.pending() {
                return step;
            }
            let parsed = self.parsed();
            let Some(from) = parsed
                .checked_sub(buf_start)
                .and_then(|o| usize::try_from(o).ok())
            else {
                return Step::Need;
            };
            let input = match buf.get(from..) {
                Some(b) if !b.is_empty() => b,
                _ => return Step::Need,
            };
            if let Err(e) = self.feed(input) {
                return Step::Error(e);
            }
        }
    }

    /// Signals the end of the stream (the peer closed). A close-delimited response body ends
    /// here; anything else unfinished is an error. Then keep calling [`poll`](Self::poll) for
    /// the remaining steps.
    pub fn eof(&mut self) -> Result<(), Error> {
        let seen = &mut self.seen;
        let mut sink = |ev: Event| record(seen, ev);
        match &mut self.parser {
            Parser::Request(p) => p.finish(&mut sink),
            Parser::Response(p) => p.finish(&mut sink),
        }
    }

    fn next_message(&mut self) {
        self.ended = false;
        self.head_done = false;
        self.msg_start = self.fwd;
        self.seen.head_end = None;
        self.seen.end = None;
        self.seen.head_ids = 0;
        self.seen.trailer_split = false;
    }

    /// A step already known from parsed events, if any.
    fn pending(&mut self) -> Option<Step> {
        if !self.head_done {
            let end = self.seen.head_end?;
            self.head_done = true;
            self.fwd = end;
            return Some(Step::Head {
                start: self.msg_start,
                end,
            });
        }
        let body_end = self.seen.end.unwrap_or_else(|| self.parsed());
        if self.fwd < body_end {
            let start = self.fwd;
            self.fwd = body_end;
            return Some(Step::Body {
                start,
                end: body_end,
            });
        }
        if self.seen.end.is_some() {
            self.ended = true;
            return Some(Step::End);
        }
        None
    }

    fn feed(&mut self, input: &[u8]) -> Result<(), Error> {
        let seen = &mut self.seen;
        let mut sink = |ev: Event| record(seen, ev);
        // A message end inside `input` is reported both as `Status::Complete` and as the
        // `End` event recorded in `seen`; the bytes after it are parsed by the next call.
        match &mut self.parser {
            Parser::Request(p) => p.feed(input, &mut sink).map(|_| ()),
            Parser::Response(p) => p.feed(input, &mut sink).map(|_| ()),
        }
    }
}

fn record(seen: &mut Seen, ev: Event) {
    match ev {
        Event::RequestLine(l) => {
            seen.req.method = l.method;
            seen.req.version = l.version;
        }
        Event::StatusLine(l) => {
            seen.resp.code = l.code;
            seen.resp.version = l.version;
        }
        Event::HeadEnd(h) => {
            seen.req.keep_alive = h.keep_alive;
            seen.req.body = h.body;
            seen.req.expect_continue = h.expect_continue;
            seen.req.upgrade = h.upgrade;
            seen.resp.keep_alive = h.keep_alive;
            seen.resp.body = h.body;
            seen.resp.interim = h.interim;
            seen.head_end = Some(h.end);
        }
        Event::Header(f) if f.id != HeaderId::Other => seen.head_ids |= id_bit(f.id),
        Event::Trailer(f) if f.id != HeaderId::Other && seen.head_ids & id_bit(f.id) != 0 => {
            seen.trailer_split = true;
        }
        Event::End(e) => seen.end = Some(e.end),
        _ => {}
    }
}

fn id_bit(id: HeaderId) -> u64 {
    1u64 << (id as u32).min(63)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_that_repeats_a_head_field() {
        let msg = |trailer: &str| {
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nUser-Agent: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                 1\r\na\r\n0\r\n{trailer}\r\n"
            )
        };
        for (trailer, split) in [
            ("User-Agent: y\r\n", true),
            ("X-Checksum: 1\r\n", false),
            ("Referer: /a\r\n", false),
            ("", false),
        ] {
            let m = msg(trailer);
            let mut r = Reader::requests(Limits::NONE);
            let mut seen_split = None;
            loop {
                match r.poll(m.as_bytes(), 0) {
                    // Known before the trailer's bytes go out.
                    Step::Body { .. } if seen_split.is_none() => {
                        seen_split = Some(r.trailer_split())
                    }
                    Step::End | Step::Need | Step::Error(_) => break,
                    _ => {}
                }
            }
            assert_eq!(seen_split, Some(split), "{trailer:?}");
            assert_eq!(r.trailer_split(), split);
        }
    }

    /// Drives a reader over `stream` offered in pieces of `step` bytes, consuming what the
    /// reader no longer needs, and returns the steps with their bytes.
    fn drive(r: Reader, stream: &[u8], step: usize) -> Vec<(char, Vec<u8>)> {
        drive_skipping(r, stream, step, 0)
    }

    const PIPELINE: &[u8] = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
GET /b HTTP/1.1\r\nHost: x\r\n\r\n\
PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: v\r\n\r\n";

    #[test]
    fn pipelined_requests_any_split() {
        let whole = drive(Reader::requests(Limits::DEFAULT), PIPELINE, PIPELINE.len());
        let kinds: String = whole.iter().map(|s| s.0).collect();
        assert_eq!(kinds, "HBEHEHBE");
        assert_eq!(whole[1].1, b"hello");
        assert_eq!(whole[6].1, b"3;e=1\r\nabc\r\n0\r\nT: v\r\n\r\n");
        for step in 1..PIPELINE.len() {
            assert_eq!(
                drive(Reader::requests(Limits::DEFAULT), PIPELINE, step),
                whole
            );
        }
    }

    /// As [`drive`], and (with `skip` above 0) the way the proxy forwards zero-copy: when
    /// everything received was consumed and the reader reports a data run, up to `skip` bytes
    /// of it are taken with [`Reader::skip`] (recorded as body bytes) instead of being
    /// received.
    fn drive_skipping(
        mut r: Reader,
        stream: &[u8],
        step: usize,
        skip: u64,
    ) -> Vec<(char, Vec<u8>)> {
        let mut out: Vec<(char, Vec<u8>)> = Vec::new();
        let mut avail = 0usize;
        let mut base = 0u64;
        loop {
            let buf = &stream[base as usize..avail];
            match r.poll(buf, base) {
                Step::Need => {
                    if avail == stream.len() {
                        break;
                    }
                    let run = r.data_run();
                    if skip > 0 && base == avail as u64 && run > 0 {
                        let n = run.min(skip).min((stream.len() - avail) as u64);
                        assert!(r.skip(n));
                        assert!(!r.skip(run - n + 1), "more than the run");
                        let bytes = &stream[avail..avail + n as usize];
                        match out.last_mut() {
                            Some(('B', b)) => b.extend_from_slice(bytes),
                            _ => out.push(('B', bytes.to_vec())),
                        }
                        avail += n as usize;
                        base = avail as u64;
                        continue;
                    }
                    avail = (avail + step).min(stream.len());
                }
                Step::Head { start, end } => {
                    out.push(('H', stream[start as usize..end as usize].to_vec()))
                }
                Step::Body { start, end } => match out.last_mut() {
                    Some(('B', b)) => b.extend_from_slice(&stream[start as usize..end as usize]),
                    _ => out.push(('B', stream[start as usize..end as usize].to_vec())),
                },
                Step::End => out.push(('E', Vec::new())),
                Step::Error(e) => {
                    out.push(('X', format!("{e:?}").into_bytes()));
                    break;
                }
            }
            assert!(r.keep_from() >= base);
            base = r.keep_from().min(avail as u64);
        }
        out
    }

    #[test]
    fn skipping_body_runs_gives_the_same_messages() {
        let whole = drive(Reader::requests(Limits::DEFAULT), PIPELINE, PIPELINE.len());
        for step in 1..PIPELINE.len() {
            for skip in [1, 2, 3, 100] {
                let got = drive_skipping(Reader::requests(Limits::DEFAULT), PIPELINE, step, skip);
                assert_eq!(got, whole, "step {step} skip {skip}");
            }
        }
        // Responses: Content-Length, chunked and a close-delimited body.
        let resp: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n\
HTTP/1.0 200 OK\r\n\r\nto the end";
        let done = drive(Reader::responses(Limits::NONE), resp, resp.len());
        assert_eq!(done.iter().map(|s| s.0).collect::<String>(), "HBEHBEHB");
        for step in 1..resp.len() {
            for skip in [1, 5, 100] {
                let got = drive_skipping(Reader::responses(Limits::NONE), resp, step, skip);
                assert_eq!(got, done, "step {step} skip {skip}");
            }
        }
        // Nothing to skip before the head is handed out, nor past a chunk's data.
        let mut r = Reader::responses(Limits::NONE);
        assert_eq!(r.data_run(), 0);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwx";
        assert!(matches!(r.poll(chunked, 0), Step::Head { .. }));
        assert_eq!(r.data_run(), 0, "the Body step is not handed out yet");
        assert!(matches!(r.poll(chunked, 0), Step::Body { .. }));
        assert_eq!(r.data_run(), 2);
        assert!(!r.skip(3));
        assert!(r.skip(2));
        assert_eq!(r.data_run(), 0, "the chunk's CRLF must be parsed");
    }

    #[test]
    fn request_info() {
        let mut r = Reader::requests(Limits::DEFAULT);
        let m = b"DELETE /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        assert!(matches!(r.poll(m, 0), Step::Head { start: 0, .. }));
        let i = r.request();
        assert_eq!(i.method, Method::Delete);
        assert_eq!(i.version, Version::Http10);
        assert!(i.keep_alive && i.idempotent());
        assert_eq!(r.poll(m, 0), Step::End);
        assert_eq!(r.poll(m, 0), Step::Need);
        assert!(!r.in_message());
    }

    #[test]
    fn malformed_request() {
        let out = drive(
            Reader::requests(Limits::DEFAULT),
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            7,
        );
        assert_eq!(out.last().unwrap().0, 'X');
    }

    #[test]
    fn responses_interim_and_close_delimited() {
        let mut r = Reader::responses(Limits::NONE);
        let s = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nabc";
        assert!(matches!(r.poll(s, 0), Step::Head { .. }));
        assert!(r.response().interim);
        assert_eq!(r.poll(s, 0), Step::End);
        assert!(matches!(r.poll(s, 0), Step::Head { .. }));
        let i = r.response();
        assert_eq!(
            (i.code, i.interim, i.body),
            (200, false, BodyKind::CloseDelimited)
        );
        assert_eq!(r.poll(s, 0), Step::Body { start: 44, end: 47 });
        assert_eq!(r.poll(s, 0), Step::Need);
        assert!(r.in_body());
        r.eof().unwrap();
        assert_eq!(r.poll(s, 0), Step::End);
    }

    #[test]
    fn head_response_has_no_body() {
        let mut r = Reader::responses(Limits::NONE);
        r.expect_response_to(Method::Head);
        let s = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
        assert!(matches!(r.poll(s, 0), Step::Head { .. }));
        assert_eq!(r.poll(s, 0), Step::End);
    }

    #[test]
    fn eof_mid_message_is_an_error() {
        let mut r = Reader::requests(Limits::DEFAULT);
        let s = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc";
        assert!(matches!(r.poll(s, 0), Step::Head { .. }));
        assert!(matches!(r.poll(s, 0), Step::Body { .. }));
        assert!(r.in_message());
        assert!(r.eof().is_err());
    }

    #[test]
    fn offering_less_holds_back_body() {
        let mut r = Reader::requests(Limits::DEFAULT);
        let s = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789";
        let head_end = s.len() - 10;
        assert!(matches!(r.poll(&s[..head_end], 0), Step::Head { .. }));
        assert_eq!(r.poll(&s[..head_end], 0), Step::Need);
        assert_eq!(
            r.poll(&s[..head_end + 4], 0),
            Step::Body {
                start: head_end as u64,
                end: head_end as u64 + 4
            }
        );
        assert_eq!(r.keep_from(), head_end as u64 + 4);
    }
}
