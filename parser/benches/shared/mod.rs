//! The work both parsers do per message in the benchmarks (shared by `parse.rs` and
//! `instr.rs`).
#![allow(dead_code)]

use tempesta_parser::{Event, Limits, Method, RequestParser, ResponseParser, Sink, Status};

#[path = "../../tests/common/messages.rs"]
pub mod messages;

/// The benchmark corpus: name, message, is-request.
pub const CASES: [(&str, &[u8], bool); 4] = [
    ("browser_get", messages::BROWSER_GET, true),
    ("api_post", messages::API_POST, true),
    ("chunked_response", messages::CHUNKED_RESPONSE, false),
    ("tiny_get", messages::TINY_GET, true),
];

/// What a proxy would look at: count fields, sum value lengths and body bytes.
#[derive(Default)]
struct Tally {
    fields: u64,
    bytes: u64,
    ends: u64,
}

impl Sink for Tally {
    #[inline]
    fn event(&mut self, ev: Event) {
        match ev {
            Event::Header(f) | Event::Trailer(f) => {
                self.fields += 1;
                self.bytes += f.value.len();
            }
            Event::Data(d) => self.bytes += d.len(),
            Event::End(_) => self.ends += 1,
            _ => {}
        }
    }
}

pub fn ours(msg: &[u8], request: bool, chunk: usize) -> u64 {
    let mut t = Tally::default();
    if request {
        let mut p = RequestParser::new(Limits::DEFAULT);
        for c in msg.chunks(chunk) {
            let r = p.feed(c, &mut t);
            debug_assert!(matches!(r, Ok(Status::Partial | Status::Complete { .. })));
        }
    } else {
        let mut p = ResponseParser::new(Limits::DEFAULT);
        p.set_request_method(Method::Get);
        for c in msg.chunks(chunk) {
            let r = p.feed(c, &mut t);
            debug_assert!(matches!(r, Ok(Status::Partial | Status::Complete { .. })));
        }
    }
    assert_eq!(t.ends, 1);
    t.fields + t.bytes
}

#[derive(Clone, Copy)]
enum Framing {
    Length(usize),
    Chunked,
    None,
}

/// Framing from httparse's headers, as its caller must do it.
fn framing(headers: &[httparse::Header<'_>]) -> Framing {
    let mut f = Framing::None;
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).unwrap().trim();
            f = Framing::Length(v.parse().unwrap());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
            && h.value.eq_ignore_ascii_case(b"chunked")
        {
            f = Framing::Chunked;
        }
    }
    f
}

/// The body walk of an httparse caller over `buf[pos..]`; returns the new position and
/// whether the message ended.
fn walk_body(
    buf: &[u8],
    mut pos: usize,
    body: &mut (Framing, usize),
    acc: &mut u64,
) -> (usize, bool) {
    match body.0 {
        Framing::None => (pos, true),
        Framing::Length(n) => {
            let take = (n - body.1).min(buf.len() - pos);
            *acc += take as u64;
            body.1 += take;
            (pos + take, body.1 == n)
        }
        Framing::Chunked => loop {
            // body.1: data bytes + CRLF still to skip of the current chunk.
            if body.1 > 0 {
                let take = body.1.min(buf.len() - pos);
                *acc += take as u64;
                body.1 -= take;
                pos += take;
                if body.1 > 0 {
                    return (pos, false);
                }
            }
            match httparse::parse_chunk_size(&buf[pos..]) {
                Ok(httparse::Status::Complete((used, 0))) => {
                    let mut th = [httparse::EMPTY_HEADER; 16];
                    return match httparse::parse_headers(&buf[pos + used..], &mut th) {
                        Ok(httparse::Status::Complete((n, hs))) => {
                            *acc += hs.len() as u64;
                            (pos + used + n, true)
                        }
                        _ => (pos, false),
                    };
                }
                Ok(httparse::Status::Complete((used, size))) => {
                    pos += used;
                    body.1 = size as usize + 2;
                }
                _ => return (pos, false),
            }
        },
    }
}

fn httparse_head(buf: &[u8], request: bool, acc: &mut u64) -> Option<(usize, Framing)> {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let (n, headers) = if request {
        let mut r = httparse::Request::new(&mut hs);
        match r.parse(buf).unwrap() {
            httparse::Status::Complete(n) => (n, r.headers),
            httparse::Status::Partial => return None,
        }
    } else {
        let mut r = httparse::Response::new(&mut hs);
        match r.parse(buf).unwrap() {
            httparse::Status::Complete(n) => (n, r.headers),
            httparse::Status::Partial => return None,
        }
    };
    for h in headers.iter() {
        *acc += 1 + h.value.len() as u64;
    }
    Some((n, framing(headers)))
}

pub fn theirs_whole(msg: &[u8], request: bool) -> u64 {
    let mut acc = 0;
    let (n, f) = httparse_head(msg, request, &mut acc).unwrap();
    let mut body = (f, 0);
    let (_, done) = walk_body(msg, n, &mut body, &mut acc);
    assert!(done);
    acc
}

pub fn theirs_split(msg: &[u8], request: bool, chunk: usize, buf: &mut Vec<u8>) -> u64 {
    buf.clear();
    let mut acc = 0;
    let mut state: Option<(usize, (Framing, usize))> = None;
    let mut done = false;
    for c in msg.chunks(chunk) {
        buf.extend_from_slice(c);
        if state.is_none() {
            // Re-parse the head from the start: httparse keeps no state.
            if let Some((n, f)) = httparse_head(buf, request, &mut acc) {
                state = Some((n, (f, 0)));
            }
        }
        if let Some((pos, body)) = state.as_mut() {
            let (p, d) = walk_body(buf, *pos, body, &mut acc);
            *pos = p;
            done = d;
        }
    }
    assert!(done);
    acc
}
