//! The bytes a store keeps and sends: a raw head read as [`Fields`], the head a stored
//! response keeps, the heads of a hit and of a 304 built from it, and chunked framing undone.
//!
//! The proxy hands the store heads the parser has already accepted (one start line, CRLF or
//! LF line ends, no obs-fold, no whitespace before a colon), so these functions trust that
//! syntax and never fail on it: a malformed line is skipped, not an error.
//!
//! A stored response is its status line (always sent as HTTP/1.1: the cache speaks for
//! itself, not for the upstream's version), the field lines [`stored_field`] keeps, and the
//! content without framing. Every hit gets fresh framing (`Content-Length`), `Age`, `Via`
//! and the client connection's persistence, so one entry serves HTTP/1.0 and HTTP/1.1
//! clients, keep-alive or not.

use super::cond::in_not_modified;
use super::config::CacheConfig;
use super::fields::{trim, Fields};
use super::store::stored_field;

/// The output is full: what was asked was not written completely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Where the bytes go.
pub trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full>;
}

/// The field lines of a block (field lines up to an empty line or the end), each as
/// `(name, trimmed value)`. Lines without a colon are skipped.
pub fn field_lines(block: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    lines(block).filter_map(|l| {
        let colon = l.iter().position(|&c| c == b':')?;
        let (name, value) = l.split_at(colon);
        Some((name, trim(value.get(1..).unwrap_or_default())))
    })
}

/// Lines without their line ends, up to (not including) the first empty line.
fn lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    block
        .split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
}

/// A block of field lines (a stored response's fields) read as [`Fields`].
#[derive(Clone, Copy, Debug)]
pub struct FieldBlock<'a>(pub &'a [u8]);

impl Fields for FieldBlock<'_> {
    fn field(&self, name: &[u8], nth: usize) -> Option<&[u8]> {
        field_lines(self.0)
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .nth(nth)
            .map(|(_, v)| v)
    }
}

/// The field lines of a whole message head (start line skipped).
pub fn head_fields(head: &[u8]) -> FieldBlock<'_> {
    let start = head
        .iter()
        .position(|&c| c == b'\n')
        .map_or(head.len(), |i| i.saturating_add(1));
    FieldBlock(head.get(start..).unwrap_or_default())
}

/// The status code and reason phrase of a response head's status line (`200 OK`).
pub fn status_text(head: &[u8]) -> &[u8] {
    let line = lines(head).next().unwrap_or_default();
    let start = line
        .iter()
        .position(|&c| c == b' ')
        .map_or(line.len(), |i| i.saturating_add(1));
    line.get(start..).unwrap_or_default()
}

/// Most `Connection` options honoured when dropping the fields they name.
const MAX_OPTIONS: usize = 16;

/// Writes the field lines of response head `head` that a stored response keeps, each ending
/// in CRLF: [`stored_field`], minus the fields the `Connection` field names (hop-by-hop,
/// RFC 9110 section 7.6.1), minus `Content-Length` (each hit is framed anew). The upstream's
/// own `Via` lines are kept; a hit adds this proxy's.
pub fn stored_fields(head: &[u8], cfg: &CacheConfig<'_>, out: &mut dyn Sink) -> Result<(), Full> {
    let fields = head_fields(head);
    let opts = Options::of(fields.0);
    for (name, value) in field_lines(fields.0) {
        if opts.keeps(name, cfg) {
            put_field(out, name, value)?;
        }
    }
    Ok(())
}

/// Writes the field lines of a stored response updated by a 304 (or a HEAD response) that
/// renews it, `head` (RFC 9111 section 3.2): every field of `head` a stored response keeps
/// (as [`stored_fields`] filters them) replaces all lines of that name in `stored`; the other
/// stored lines stay as they are. So a revalidated entry's hits carry the new `Cache-Control`,
/// `Expires`, `ETag` and `Date`, and the freshness computed from them.
pub fn updated_fields(
    stored: &[u8],
    head: &[u8],
    cfg: &CacheConfig<'_>,
    out: &mut dyn Sink,
) -> Result<(), Full> {
    let fields = head_fields(head);
    let opts = Options::of(fields.0);
    let replaced = |name: &[u8]| {
        field_lines(fields.0).any(|(n, _)| n.eq_ignore_ascii_case(name) && opts.keeps(n, cfg))
    };
    for (name, value) in field_lines(stored) {
        if !replaced(name) {
            put_field(out, name, value)?;
        }
    }
    for (name, value) in field_lines(fields.0) {
        if opts.keeps(name, cfg) {
            put_field(out, name, value)?;
        }
    }
    Ok(())
}

/// The options of a head's `Connection` fields: the fields they name are hop-by-hop
/// (RFC 9110 section 7.6.1) and not stored.
struct Options<'a> {
    names: [&'a [u8]; MAX_OPTIONS],
    n: usize,
}

impl<'a> Options<'a> {
    fn of(block: &'a [u8]) -> Self {
        let mut o = Options {
            names: [&[]; MAX_OPTIONS],
            n: 0,
        };
        for (name, value) in field_lines(block) {
            if !name.eq_ignore_ascii_case(b"connection") {
                continue;
            }
            for t in value
                .split(|&c| c == b',')
                .map(trim)
                .filter(|t| !t.is_empty())
            {
                if let Some(slot) = o.names.get_mut(o.n) {
                    *slot = t;
                    o.n = o.n.saturating_add(1);
                }
            }
        }
        o
    }

    /// Whether a stored response keeps field `name`: not named by `Connection`, not
    /// `Content-Length` (each hit is framed anew), and [`stored_field`].
    fn keeps(&self, name: &[u8], cfg: &CacheConfig<'_>) -> bool {
        let listed = self
            .names
            .get(..self.n)
            .unwrap_or_default()
            .iter()
            .any(|o| o.eq_ignore_ascii_case(name));
        !listed && !name.eq_ignore_ascii_case(b"content-length") && stored_field(name, cfg)
    }
}

fn put_field(out: &mut dyn Sink, name: &[u8], value: &[u8]) -> Result<(), Full> {
    out.put(name)?;
    out.put(b": ")?;
    out.put(value)?;
    out.put(b"\r\n")
}

/// Writes `n` in decimal.
pub fn put_u64(out: &mut dyn Sink, mut n: u64) -> Result<(), Full> {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i = i.saturating_sub(1);
        if let Some(d) = buf.get_mut(i) {
            // `n % 10` is below 10.
            *d = b'0'.saturating_add((n % 10) as u8);
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.put(buf.get(i..).unwrap_or_default())
}

/// What a response built from a stored one says besides the stored fields.
#[derive(Clone, Copy, Debug)]
pub struct Reply<'a> {
    /// `Age`, seconds.
    pub age: u64,
    /// The agent name for `Via: 1.1 <via>`.
    pub via: &'a [u8],
    /// The client connection closes after this response (`Connection: close`).
    pub close: bool,
    /// The client speaks HTTP/1.0 and keeps the connection (`Connection: keep-alive`).
    pub keep_alive_10: bool,
    /// The operator's `resp_hdr_set` names: stored fields not sent, each followed by `\n`
    /// (case-insensitive).
    pub drop: &'a [u8],
    /// The operator's `resp_hdr_*` lines, each ending in CRLF, sent after `Via`.
    pub add: &'a [u8],
}

impl Reply<'_> {
    /// Whether the stored field `name` is left out (`resp_hdr_set`).
    fn drops(&self, name: &[u8]) -> bool {
        self.drop
            .split(|&b| b == b'\n')
            .any(|n| !n.is_empty() && n.eq_ignore_ascii_case(name))
    }
}

/// Whether a response with status `status` has content to frame (RFC 9110 section 6.4.1).
pub const fn has_content(status: u16) -> bool {
    !matches!(status, 100..=199 | 204 | 304)
}

/// Writes the head of a hit: the stored status line and fields, then `Age`, `Via`, the
/// content length (`len`, when the status has content: also for HEAD, which gets the length
/// of what GET would send) and persistence.
pub fn hit_head(
    status: u16,
    status_text: &[u8],
    fields: &[u8],
    len: u64,
    r: &Reply<'_>,
    out: &mut dyn Sink,
) -> Result<(), Full> {
    out.put(b"HTTP/1.1 ")?;
    out.put(status_text)?;
    out.put(b"\r\n")?;
    for (name, value) in field_lines(fields).filter(|(n, _)| !r.drops(n)) {
        put_field(out, name, value)?;
    }
    if has_content(status) {
        out.put(b"Content-Length: ")?;
        put_u64(out, len)?;
        out.put(b"\r\n")?;
    }
    tail(r, out)
}

/// Writes a 304 Not Modified for a stored response with fields `fields` (RFC 9110 section
/// 15.4.5: the validator and caching fields only).
pub fn not_modified_head(fields: &[u8], r: &Reply<'_>, out: &mut dyn Sink) -> Result<(), Full> {
    let has_etag = FieldBlock(fields).field(b"etag", 0).is_some();
    out.put(b"HTTP/1.1 304 Not Modified\r\n")?;
    let sent = |n: &&[u8]| in_not_modified(n, has_etag) && !r.drops(n);
    for (name, value) in field_lines(fields).filter(|(n, _)| sent(n)) {
        put_field(out, name, value)?;
    }
    tail(r, out)
}

fn tail(r: &Reply<'_>, out: &mut dyn Sink) -> Result<(), Full> {
    out.put(b"Age: ")?;
    put_u64(out, r.age)?;
    out.put(b"\r\nVia: 1.1 ")?;
    out.put(r.via)?;
    out.put(b"\r\n")?;
    out.put(r.add)?;
    if r.close {
        out.put(b"Connection: close\r\n")?;
    } else if r.keep_alive_10 {
        out.put(b"Connection: keep-alive\r\n")?;
    }
    out.put(b"\r\n")
}

/// Removes chunked framing from a body the parser has validated, fed in pieces as they
/// arrive: only chunk data comes out. Chunk extensions and trailers are dropped (a stored
/// response is sent with `Content-Length`, which cannot carry a trailer section).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dechunk {
    st: DcState,
    size: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum DcState {
    /// In the hex digits of a chunk size.
    #[default]
    Size,
    /// After the size: extensions, up to the line end.
    SizeLine,
    /// In chunk data, `size` bytes left.
    Data,
    /// After chunk data, up to its line end.
    DataEnd,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// In a trailer line.
    Trailer,
    /// The body ended.
    Done,
}

impl Dechunk {
    /// A decoder at the start of a chunked body.
    pub const fn new() -> Dechunk {
        Dechunk {
            st: DcState::Size,
            size: 0,
        }
    }

    /// Whether the last chunk and the trailer section were seen.
    pub fn done(&self) -> bool {
        self.st == DcState::Done
    }

    /// Decodes `input`, passing chunk data to `out`. A size that does not fit in 64 bits
    /// (the parser refuses those) counts as full.
    pub fn feed(&mut self, mut input: &[u8], out: &mut dyn Sink) -> Result<(), Full> {
        while let Some((&c, rest)) = input.split_first() {
            match self.st {
                DcState::Size => match c {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let d = match c {
                            b'0'..=b'9' => c.saturating_sub(b'0'),
                            _ => (c | 0x20).saturating_sub(b'a').saturating_add(10),
                        };
                        self.size = self
                            .size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(u64::from(d)))
                            .ok_or(Full)?;
                    }
                    b'\n' => self.end_size_line(),
                    _ => self.st = DcState::SizeLine,
                },
                DcState::SizeLine => {
                    if c == b'\n' {
                        self.end_size_line();
                    }
                }
                DcState::Data => {
                    let n = usize::try_from(self.size)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let (data, rest) = input.split_at(n);
                    out.put(data)?;
                    self.size = self.size.saturating_sub(n as u64);
                    if self.size == 0 {
                        self.st = DcState::DataEnd;
                    }
                    input = rest;
                    continue;
                }
                DcState::DataEnd => {
                    if c == b'\n' {
                        self.st = DcState::Size;
                    }
                }
                DcState::TrailerStart => match c {
                    b'\r' => {}
                    b'\n' => self.st = DcState::Done,
                    _ => self.st = DcState::Trailer,
                },
                DcState::Trailer => {
                    if c == b'\n' {
                        self.st = DcState::TrailerStart;
                    }
                }
                DcState::Done => return Ok(()),
            }
            input = rest;
        }
        Ok(())
    }

    fn end_size_line(&mut self) {
        self.st = if self.size == 0 {
            DcState::TrailerStart
        } else {
            DcState::Data
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    impl Sink for Vec<u8> {
        fn put(&mut self, b: &[u8]) -> Result<(), Full> {
            self.extend_from_slice(b);
            Ok(())
        }
    }

    struct Small(usize, Vec<u8>);
    impl Sink for Small {
        fn put(&mut self, b: &[u8]) -> Result<(), Full> {
            if self.1.len() + b.len() > self.0 {
                return Err(Full);
            }
            self.1.extend_from_slice(b);
            Ok(())
        }
    }

    const RESP: &[u8] =
        b"HTTP/1.0 200 OK\r\nDate: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\
Content-Length: 5\r\nTransfer-Encoding: chunked\r\nCache-Control: max-age=5\r\nAge: 3\r\n\
Keep-Alive: timeout=5\r\nSet-Cookie: a=b\r\nX-Del: 1\r\nETag: \"e\"\r\nVia:  1.1 up \r\n\r\n";

    #[test]
    fn fields_updated_by_304() {
        let stored = b"Cache-Control: max-age=5\r\nETag: \"1\"\r\nX-Keep: a\r\n\
Date: old\r\nX-Multi: 1\r\nX-Multi: 2\r\n";
        let h304 = b"HTTP/1.1 304 Not Modified\r\nDate: new\r\ncache-control: max-age=60\r\n\
Connection: X-Hop\r\nX-Hop: 1\r\nContent-Length: 0\r\nX-Multi: 3\r\nAge: 4\r\n\
X-Del: 9\r\n\r\n";
        let del: [&[u8]; 1] = [b"x-del"];
        let cfg = CacheConfig {
            resp_hdr_del: &del,
            ..CacheConfig::default()
        };
        let mut out = Vec::new();
        updated_fields(stored, h304, &cfg, &mut out).unwrap();
        assert_eq!(
            out,
            b"ETag: \"1\"\r\nX-Keep: a\r\nDate: new\r\ncache-control: max-age=60\r\n\
X-Multi: 3\r\n"
        );
        // Out of room: an error, never a partial success.
        for n in 0..out.len() {
            let mut small = Small(n, Vec::new());
            assert_eq!(updated_fields(stored, h304, &cfg, &mut small), Err(Full));
        }
    }

    #[test]
    fn fields_of_heads() {
        let f = head_fields(RESP);
        assert_eq!(f.field(b"cache-control", 0), Some(&b"max-age=5"[..]));
        assert_eq!(f.field(b"via", 0), Some(&b"1.1 up"[..]));
        assert_eq!(f.field(b"HTTP/1.0 200 OK", 0), None);
        assert_eq!(status_text(RESP), b"200 OK");
        assert_eq!(status_text(b"HTTP/1.1 404\n\n"), b"404");
        assert_eq!(status_text(b""), b"");
        let lf = head_fields(b"GET / HTTP/1.1\nA: 1\nB:2\nA: 3\n\nA: 4\n");
        assert_eq!(lf.field(b"a", 1), Some(&b"3"[..]));
        assert_eq!(lf.field(b"a", 2), None);
        assert_eq!(lf.field(b"b", 0), Some(&b"2"[..]));
    }

    #[test]
    fn stored_and_replayed() {
        let del: [&[u8]; 1] = [b"x-del"];
        let cfg = CacheConfig {
            resp_hdr_del: &del,
            set_cookie: super::super::config::SetCookie::Strip,
            ..CacheConfig::DEFAULT
        };
        let mut kept = Vec::new();
        stored_fields(RESP, &cfg, &mut kept).unwrap();
        assert_eq!(
            kept,
            b"Date: x\r\nCache-Control: max-age=5\r\nETag: \"e\"\r\nVia: 1.1 up\r\n".to_vec()
        );
        let r = Reply {
            age: 12,
            via: b"tempesta_fw (Tempesta FW pre-0.8)",
            close: false,
            keep_alive_10: true,
            drop: b"",
            add: b"",
        };
        let mut hit = Vec::new();
        hit_head(200, b"200 OK", &kept, 1234, &r, &mut hit).unwrap();
        assert_eq!(
            hit,
            b"HTTP/1.1 200 OK\r\nDate: x\r\nCache-Control: max-age=5\r\nETag: \"e\"\r\nVia: 1.1 up\r\n\
Content-Length: 1234\r\nAge: 12\r\nVia: 1.1 tempesta_fw (Tempesta FW pre-0.8)\r\n\
Connection: keep-alive\r\n\r\n"
                .to_vec()
        );
        let mut nm = Vec::new();
        let r = Reply { close: true, ..r };
        not_modified_head(&kept, &r, &mut nm).unwrap();
        assert_eq!(
            nm,
            b"HTTP/1.1 304 Not Modified\r\nDate: x\r\nCache-Control: max-age=5\r\nETag: \"e\"\r\n\
Age: 12\r\nVia: 1.1 tempesta_fw (Tempesta FW pre-0.8)\r\nConnection: close\r\n\r\n"
                .to_vec()
        );
        // The operator's resp_hdr_* changes: stored fields left out, lines added after Via.
        let m = Reply {
            drop: b"etag\nvia\n",
            add: b"X-A: 1\r\n",
            ..r
        };
        let mut nm = Vec::new();
        not_modified_head(&kept, &m, &mut nm).unwrap();
        assert_eq!(
            nm,
            b"HTTP/1.1 304 Not Modified\r\nDate: x\r\nCache-Control: max-age=5\r\n\
Age: 12\r\nVia: 1.1 tempesta_fw (Tempesta FW pre-0.8)\r\nX-A: 1\r\nConnection: close\r\n\r\n"
                .to_vec()
        );
        // 204 has no Content-Length.
        let mut h = Vec::new();
        hit_head(204, b"204 No Content", b"", 0, &r, &mut h).unwrap();
        assert!(!h.windows(14).any(|w| w == b"Content-Length"));
        // A full sink is an error, never a panic.
        let mut whole = Vec::new();
        hit_head(200, b"200 OK", &kept, 1234, &r, &mut whole).unwrap();
        for cap in 0..whole.len() {
            let mut s = Small(cap, Vec::new());
            assert_eq!(hit_head(200, b"200 OK", &kept, 1234, &r, &mut s), Err(Full));
        }
    }

    #[test]
    fn numbers() {
        for n in [0u64, 7, 10, 99, 1000, u64::MAX] {
            let mut v = Vec::new();
            put_u64(&mut v, n).unwrap();
            assert_eq!(v, n.to_string().into_bytes());
        }
    }

    fn dechunk_all(body: &[u8], step: usize) -> (Vec<u8>, bool) {
        let mut d = Dechunk::new();
        let mut out = Vec::new();
        for piece in body.chunks(step) {
            d.feed(piece, &mut out).unwrap();
        }
        (out, d.done())
    }

    #[test]
    fn dechunk_in_any_pieces() {
        let body = b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
        for step in 1..body.len() + 1 {
            assert_eq!(
                dechunk_all(body, step),
                (b"hello0123456789".to_vec(), true),
                "step {step}"
            );
        }
        assert_eq!(dechunk_all(b"0\r\n\r\n", 1), (Vec::new(), true));
        assert_eq!(dechunk_all(b"3\nabc\n0\n\n", 2), (b"abc".to_vec(), true));
        assert_eq!(dechunk_all(b"3\r\nab", 3), (b"ab".to_vec(), false));
        let mut d = Dechunk::new();
        assert_eq!(d.feed(b"fffffffffffffffff\r\n", &mut Vec::new()), Err(Full));
    }
}
