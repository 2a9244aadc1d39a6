//! The head a proxy forwards (RFC 9110 section 7.6).
//!
//! A head is rewritten whole once the parser has accepted it, so these functions can rely on
//! its syntax: CRLF line ends, no obs-fold, no whitespace before a colon. They walk the lines
//! once and write the new head through an [`Out`]:
//!
//! * hop-by-hop fields are dropped: `Connection`, `Keep-Alive`, `Proxy-Connection`, `TE`,
//!   `Upgrade` (except on a WebSocket upgrade and its 101, see [`crate::tunnel`]), and
//!   every field the `Connection` options name (RFC 9110 section 7.6.1), except the framing and
//!   routing fields `Content-Length`, `Transfer-Encoding` and `Host`: a client listing those in
//!   `Connection` is trying to make the proxy and the upstream disagree on the message;
//! * bodies are forwarded with their framing, which the parser validated; in a request the
//!   framing fields are written in canonical form (`Content-Length: <decimal>`, one
//!   `Transfer-Encoding` field with the codings lowercased and without empty list elements):
//!   a client's `Transfer-Encoding: , Chunked` or `Content-Length: 007` is what the parser
//!   accepts under the grammar, but an upstream that reads it otherwise would split the
//!   stream differently from the proxy (request smuggling);
//! * a request's fields named like `Content-Length`, `Transfer-Encoding` or
//!   `X-Forwarded-For` with `_` for `-` are dropped (CGI-style upstreams read both spellings
//!   as one field);
//! * a request with an absolute-form target gets the target's authority as its `Host`
//!   (RFC 9112 section 3.2.2: a proxy must replace the client's, which the routing ignored);
//! * `X-Forwarded-For: <client>` and `Via: <version> <agent>` are added;
//! * persistence is made explicit where the version's default is not what the proxy wants:
//!   upstream connections are kept alive, and the client is told when its connection closes;
//! * the operator's changes ([`HdrMods`]: `req_hdr_set`, `resp_hdr_add`, ...) are applied.

use super::parser::BodyKind;
use super::parser::Version;
use super::reader::{ReqInfo, RespInfo};

/// The output buffer is full; the head was not written completely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

/// Where a rewritten head goes.
pub trait Out {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Overflow>;
}

/// The proxy's own values for forwarded heads.
#[derive(Clone, Copy, Debug)]
pub struct Fwd<'a> {
    /// The client's address as text (`192.0.2.1`, `2001:db8::1`), for `X-Forwarded-For`.
    pub client: &'a [u8],
    /// The agent name in `Via` (Tempesta's `hdr_via`).
    pub via: &'a [u8],
    /// Field lines to add, each ending in CRLF (the cache's revalidation conditions).
    pub extra: &'a [u8],
    /// The operator's changes (`req_hdr_add`, `req_hdr_set`).
    pub mods: HdrMods<'a>,
    /// A WebSocket upgrade the proxy passes on: `Upgrade` is kept and `Connection: upgrade`
    /// sent (see [`crate::tunnel::websocket_request`]).
    pub upgrade: bool,
    /// The authority of an absolute-form target: the `Host` sent instead of the client's.
    pub host: Option<&'a [u8]>,
}

/// The operator's header changes for one message (`req_hdr_add`/`req_hdr_set`, or the
/// `resp_hdr_*` pair): fields to remove, and lines to add at the end of the head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HdrMods<'a> {
    /// Names of the fields to remove (`*_hdr_set`), each followed by `\n`; compared
    /// case-insensitively.
    pub drop: &'a [u8],
    /// Field lines to add (`*_hdr_set NAME VALUE`, `*_hdr_add`), each ending in CRLF.
    pub add: &'a [u8],
}

impl HdrMods<'_> {
    /// Whether the field `name` is removed.
    pub fn drops(&self, name: &[u8]) -> bool {
        !self.drop.is_empty()
            && self
                .drop
                .split(|&b| b == b'\n')
                .any(|n| !n.is_empty() && n.eq_ignore_ascii_case(name))
    }
}

/// Default `Via` agent, as Tempesta FW names itself.
pub const DEFAULT_VIA: &[u8] = b"tempesta_fw (Tempesta FW tempesta-rs)";

const HOP_BY_HOP: [&[u8]; 5] = [
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"upgrade",
];

const NEVER_DROPPED: [&[u8]; 3] = [b"content-length", b"transfer-encoding", b"host"];

/// Most `Connection` options remembered; more are not removed (they are ignored, as an
/// upstream that does not know an option ignores it).
const MAX_OPTIONS: usize = 16;

/// Writes the request head to forward upstream. `head` is the whole head as received,
/// request line to the empty line.
pub fn rewrite_request(
    head: &[u8],
    info: &ReqInfo,
    fwd: &Fwd<'_>,
    out: &mut impl Out,
) -> Result<(), Overflow> {
    let own = Own {
        host: fwd.host,
        framing: Some(info.body),
        ..Own::default()
    };
    copy_fields(head, &fwd.mods, fwd.upgrade, &own, out)?;
    out.put(b"X-Forwarded-For: ")?;
    out.put(fwd.client)?;
    out.put(b"\r\n")?;
    put_via(info.version, fwd.via, out)?;
    out.put(fwd.extra)?;
    out.put(fwd.mods.add)?;
    // HTTP/1.1 persists by default; an HTTP/1.0 request must ask for it, or the upstream
    // closes the pooled connection after answering.
    if fwd.upgrade {
        out.put(b"Connection: upgrade\r\n")?;
    } else if info.version == Version::Http10 {
        out.put(b"Connection: keep-alive\r\n")?;
    }
    out.put(b"\r\n")
}

/// Whether the client connection stays open after this response: the client wants it and
/// the response does not end by closing.
pub fn client_keeps_alive(req: &ReqInfo, resp: &RespInfo) -> bool {
    req.keep_alive && resp.body != BodyKind::CloseDelimited && !dechunked(req, resp)
}

/// Whether the response's chunked coding must be undone for the client: an HTTP/1.0 client
/// cannot read it (RFC 9112 section 6.1: no Transfer-Encoding in a response to a request
/// that does not indicate HTTP/1.1). The proxy forwards such a request as HTTP/1.0, so only
/// an upstream that ignores that sends one; the client then gets the chunk data without
/// framing, `Transfer-Encoding` and `Trailer` removed, delimited by the close.
pub fn dechunked(req: &ReqInfo, resp: &RespInfo) -> bool {
    !resp.interim && resp.body == BodyKind::Chunked && req.version == Version::Http10
}

/// Writes the response head to send to the client, for a request `req`, with the operator's
/// changes `mods` (`resp_hdr_*`). A 101 is written as the switch of a WebSocket tunnel: the
/// caller passes one on only for a request it forwarded as an upgrade.
///
/// `date` is the current HTTP-date: a final response without `Date` gets one (RFC 9110
/// section 6.6.1: a recipient with a clock adds it to a response it forwards); empty, none.
pub fn rewrite_response(
    head: &[u8],
    req: &ReqInfo,
    resp: &RespInfo,
    via: &[u8],
    date: &[u8],
    mods: &HdrMods<'_>,
    out: &mut impl Out,
) -> Result<(), Overflow> {
    // The operator's changes are for final responses, not 1xx ones.
    let none = HdrMods::default();
    let mods = if resp.interim { &none } else { mods };
    let switch = resp.code == 101;
    let own = Own {
        no_transfer_coding: dechunked(req, resp),
        ..Own::default()
    };
    copy_fields(head, mods, switch, &own, out)?;
    put_via(resp.version, via, out)?;
    let dated = || {
        lines(head)
            .skip(1)
            .any(|l| split_field(l).0.eq_ignore_ascii_case(b"date"))
    };
    if !resp.interim && !date.is_empty() && !mods.drops(b"date") && !dated() {
        out.put(b"Date: ")?;
        out.put(date)?;
        out.put(b"\r\n")?;
    }
    out.put(mods.add)?;
    if switch {
        out.put(b"Connection: upgrade\r\n")?;
    } else if !resp.interim {
        if !client_keeps_alive(req, resp) {
            out.put(b"Connection: close\r\n")?;
        } else if req.version == Version::Http10 {
            out.put(b"Connection: keep-alive\r\n")?;
        }
    }
    out.put(b"\r\n")
}

fn put_via(v: Version, via: &[u8], out: &mut impl Out) -> Result<(), Overflow> {
    out.put(match v {
        Version::Http10 => b"Via: 1.0 ",
        Version::Http11 => b"Via: 1.1 ",
    })?;
    out.put(via)?;
    out.put(b"\r\n")
}

/// Fields of a forwarded head that the proxy writes itself instead of copying.
#[derive(Default)]
struct Own<'a> {
    /// `Host`, written after the start line.
    host: Option<&'a [u8]>,
    /// The message's framing: `Content-Length` and `Transfer-Encoding` written in canonical
    /// form where the first of each was.
    framing: Option<BodyKind>,
    /// `Transfer-Encoding` and `Trailer` are dropped: the body goes on decoded ([`dechunked`]).
    no_transfer_coding: bool,
}

/// Copies the start line and the end-to-end fields (everything but the final empty line),
/// without those `mods` removes and with the fields in `own` replaced. `upgrade`: the
/// `Upgrade` field is kept.
fn copy_fields(
    head: &[u8],
    mods: &HdrMods<'_>,
    upgrade: bool,
    own: &Own<'_>,
    out: &mut impl Out,
) -> Result<(), Overflow> {
    let mut opts: [&[u8]; MAX_OPTIONS] = [&[]; MAX_OPTIONS];
    let mut n_opts = 0usize;
    for line in lines(head).skip(1) {
        let (name, value) = split_field(line);
        if name.eq_ignore_ascii_case(b"connection") {
            for o in value.split(|&b| b == b',') {
                let o = trim(o);
                if o.is_empty() {
                    continue;
                }
                if let Some(slot) = opts.get_mut(n_opts) {
                    *slot = o;
                    n_opts = n_opts.saturating_add(1);
                }
            }
        }
    }
    let opts = opts.get(..n_opts).unwrap_or(&[]);

    let (mut cl_done, mut te_done) = (false, false);
    for (i, line) in lines(head).enumerate() {
        if i > 0 {
            let (name, _) = split_field(line);
            if own.framing.is_some() && underscored(name) {
                continue;
            }
            if own.host.is_some() && name.eq_ignore_ascii_case(b"host") {
                continue;
            }
            if own.no_transfer_coding
                && (name.eq_ignore_ascii_case(b"transfer-encoding")
                    || name.eq_ignore_ascii_case(b"trailer"))
            {
                continue;
            }
            if let Some(body) = own.framing {
                if name.eq_ignore_ascii_case(b"content-length") {
                    if !core::mem::replace(&mut cl_done, true) {
                        put_content_length(body, out)?;
                    }
                    continue;
                }
                if name.eq_ignore_ascii_case(b"transfer-encoding") {
                    if !core::mem::replace(&mut te_done, true) {
                        put_transfer_encoding(head, out)?;
                    }
                    continue;
                }
            }
            let kept = upgrade && name.eq_ignore_ascii_case(b"upgrade");
            let listed = opts.iter().any(|o| o.eq_ignore_ascii_case(name))
                && !NEVER_DROPPED.iter().any(|p| p.eq_ignore_ascii_case(name));
            let hop = listed || HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name));
            if (hop && !kept) || mods.drops(name) {
                continue;
            }
        }
        if i == 0 {
            put_start_line(line, own.framing.is_some(), out)?;
        } else {
            out.put(line)?;
        }
        out.put(b"\r\n")?;
        if let (0, Some(host)) = (i, own.host) {
            out.put(b"Host: ")?;
            out.put(host)?;
            out.put(b"\r\n")?;
        }
    }
    Ok(())
}

/// Writes a start line, a later HTTP/1 minor version (which the parser reads as 1.1, RFC 9110
/// section 2.5) as `HTTP/1.1`: the next hop may not take `HTTP/1.2`.
///
/// A status line always goes out as `HTTP/1.1`, whatever the upstream spoke: an intermediary
/// sends its own version in what it forwards (RFC 9110 section 2.5), `Via` keeps the one it
/// received, and the client's persistence is the proxy's to state (an `HTTP/1.0` status line
/// would make a 1.1 client close a connection the proxy keeps). A request keeps `HTTP/1.0`:
/// the upstream must not answer an HTTP/1.0 client's request with chunked coding, which the
/// proxy passes through as it is.
fn put_start_line(line: &[u8], request: bool, out: &mut impl Out) -> Result<(), Overflow> {
    let later = |v: &[u8]| {
        v.len() == 8
            && v.starts_with(b"HTTP/1.")
            && v.last()
                .is_some_and(|d| (if request { b'2' } else { b'0' }..=b'9').contains(d))
    };
    if request {
        // A request line ends with the version (a target has no space).
        let cut = line.len().saturating_sub(8);
        if let (Some(start), Some(v)) = (line.get(..cut), line.get(cut..)) {
            if later(v) && start.ends_with(b" ") {
                out.put(start)?;
                return out.put(b"HTTP/1.1");
            }
        }
    } else if let Some(rest) = line
        .get(8..)
        .filter(|_| later(line.get(..8).unwrap_or(&[])))
    {
        // A status line starts with it.
        out.put(b"HTTP/1.1")?;
        return out.put(rest);
    }
    out.put(line)
}

/// Fields whose meaning the proxy sets or checks (and that have a `-`): a request's field
/// named like one of these with `_` for `-` is not forwarded, since CGI-style upstreams
/// (`HTTP_CONTENT_LENGTH`, `HTTP_X_FORWARDED_FOR`, Rack, PHP) read both spellings as the same
/// field.
const UNDERSCORE_ALIASED: [&[u8]; 3] =
    [b"content-length", b"transfer-encoding", b"x-forwarded-for"];

/// Whether `name` has a `_` and would be one of [`UNDERSCORE_ALIASED`] with `-` in its place.
fn underscored(name: &[u8]) -> bool {
    name.contains(&b'_')
        && UNDERSCORE_ALIASED.iter().any(|a| {
            a.len() == name.len()
                && a.iter().zip(name).all(|(&a, &n)| {
                    let n = if n == b'_' {
                        b'-'
                    } else {
                        n.to_ascii_lowercase()
                    };
                    a == n
                })
        })
}

/// `Content-Length: <n>` for a body of `body` (a zero length is [`BodyKind::None`]).
fn put_content_length(body: BodyKind, out: &mut impl Out) -> Result<(), Overflow> {
    let n = match body {
        BodyKind::Length(n) => n,
        _ => 0,
    };
    out.put(b"Content-Length: ")?;
    put_decimal(out, n)?;
    out.put(b"\r\n")
}

/// Writes `v` in decimal.
pub(crate) fn put_decimal(out: &mut dyn Out, mut v: u64) -> Result<(), Overflow> {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i = i.saturating_sub(1);
        if let Some(d) = buf.get_mut(i) {
            // `v % 10` is below 10.
            *d = b'0'.saturating_add((v % 10) as u8);
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.put(buf.get(i..).unwrap_or_default())
}

/// One `Transfer-Encoding` field with the codings of all of `head`'s, lowercased, joined by
/// `", "`, without empty list elements.
fn put_transfer_encoding(head: &[u8], out: &mut impl Out) -> Result<(), Overflow> {
    out.put(b"Transfer-Encoding: ")?;
    let mut first = true;
    for line in lines(head).skip(1) {
        let (name, value) = split_field(line);
        if !name.eq_ignore_ascii_case(b"transfer-encoding") {
            continue;
        }
        for coding in value
            .split(|&b| b == b',')
            .map(trim)
            .filter(|c| !c.is_empty())
        {
            if !core::mem::replace(&mut first, false) {
                out.put(b", ")?;
            }
            for b in coding {
                out.put(&[b.to_ascii_lowercase()])?;
            }
        }
    }
    out.put(b"\r\n")
}

/// The lines of a head without their CRLF, up to (not including) the empty line.
pub(crate) fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
}

/// A field line's name and trimmed value.
pub(crate) fn split_field(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b':') {
        Some(c) => (
            line.get(..c).unwrap_or(&[]),
            trim(line.get(c.saturating_add(1)..).unwrap_or(&[])),
        ),
        None => (line, &[]),
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::Method;

    impl Out for Vec<u8> {
        fn put(&mut self, b: &[u8]) -> Result<(), Overflow> {
            self.extend_from_slice(b);
            Ok(())
        }
    }

    struct Small(usize, Vec<u8>);
    impl Out for Small {
        fn put(&mut self, b: &[u8]) -> Result<(), Overflow> {
            if self.1.len() + b.len() > self.0 {
                return Err(Overflow);
            }
            self.1.extend_from_slice(b);
            Ok(())
        }
    }

    const FWD: Fwd<'static> = Fwd {
        client: b"192.0.2.7",
        via: b"tfw",
        extra: b"",
        mods: HdrMods {
            drop: b"",
            add: b"",
        },
        upgrade: false,
        host: None,
    };

    fn req(version: Version) -> ReqInfo {
        ReqInfo {
            method: Method::Get,
            version,
            keep_alive: true,
            body: BodyKind::None,
            expect_continue: false,
            upgrade: false,
        }
    }

    /// [`rewrite_response`] into `out` (cleared first), agent `tfw`, no Date added.
    fn rw(head: &[u8], req: &ReqInfo, resp: &RespInfo, mods: &HdrMods<'_>, out: &mut Vec<u8>) {
        out.clear();
        rewrite_response(head, req, resp, b"tfw", b"", mods, out).unwrap();
    }

    /// A final HTTP/1.1 response that keeps the connection.
    fn resp(code: u16, body: BodyKind) -> RespInfo {
        RespInfo {
            code,
            version: Version::Http11,
            keep_alive: true,
            body,
            interim: false,
        }
    }

    fn s(v: &[u8]) -> &str {
        core::str::from_utf8(v).unwrap()
    }

    #[test]
    fn request_hop_by_hop_removed() {
        let head =
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret , content-length\r\n\
Keep-Alive: timeout=5\r\nx-secret: 1\r\nTE: trailers\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\
X-Forwarded-For: 10.0.0.1\r\n\r\n";
        let mut out = Vec::new();
        rewrite_request(head, &req(Version::Http11), &FWD, &mut out).unwrap();
        assert_eq!(
            s(&out),
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nX-Forwarded-For: 10.0.0.1\r\n\
X-Forwarded-For: 192.0.2.7\r\nVia: 1.1 tfw\r\n\r\n"
        );
    }

    #[test]
    fn request_http10_asks_to_persist() {
        let head = b"GET / HTTP/1.0\r\nHost: a\r\n\r\n";
        let mut out = Vec::new();
        rewrite_request(head, &req(Version::Http10), &FWD, &mut out).unwrap();
        assert_eq!(
            s(&out),
            "GET / HTTP/1.0\r\nHost: a\r\nX-Forwarded-For: 192.0.2.7\r\nVia: 1.0 tfw\r\n\
Connection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn later_http1_minor_versions_go_on_as_1_1() {
        let head = b"GET /HTTP/1.2 HTTP/1.2\r\nHost: a\r\n\r\n";
        let mut out = Vec::new();
        rewrite_request(head, &req(Version::Http11), &FWD, &mut out).unwrap();
        assert!(
            s(&out).starts_with("GET /HTTP/1.2 HTTP/1.1\r\nHost: a\r\n"),
            "{}",
            s(&out)
        );
        // A status line's version, not its reason phrase.
        let r = resp(204, BodyKind::None);
        let mods = HdrMods::default();
        for head in [
            b"HTTP/1.1 204 HTTP/1.2\r\n\r\n",
            b"HTTP/1.9 204 HTTP/1.2\r\n\r\n",
        ] {
            out.clear();
            rw(head, &req(Version::Http11), &r, &mods, &mut out);
            assert!(
                s(&out).starts_with("HTTP/1.1 204 HTTP/1.2\r\n"),
                "{}",
                s(&out)
            );
        }
        // A request's 1.0 and 1.1 stay as they are.
        let head = b"GET / HTTP/1.0\r\n\r\n";
        out.clear();
        rewrite_request(head, &req(Version::Http10), &FWD, &mut out).unwrap();
        assert!(s(&out).starts_with("GET / HTTP/1.0\r\n"));
        // A response goes on as 1.1 (the proxy's version), Via naming the received one.
        let mut r = resp(204, BodyKind::None);
        r.version = Version::Http10;
        out.clear();
        let head = b"HTTP/1.0 204 No Content\r\n\r\n";
        rw(head, &req(Version::Http11), &r, &mods, &mut out);
        assert_eq!(s(&out), "HTTP/1.1 204 No Content\r\nVia: 1.0 tfw\r\n\r\n");
    }

    #[test]
    fn date_added_when_missing() {
        let r = resp(204, BodyKind::None);
        let dated = |head: &[u8], mods: &HdrMods<'_>| {
            let mut out = Vec::new();
            let now = b"Sun, 06 Nov 1994 08:49:37 GMT";
            rewrite_response(head, &req(Version::Http11), &r, b"tfw", now, mods, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let none = HdrMods::default();
        assert_eq!(
            dated(b"HTTP/1.1 204 No Content\r\n\r\n", &none),
            "HTTP/1.1 204 No Content\r\nVia: 1.1 tfw\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
        );
        // The upstream's own is kept, and an operator's `resp_hdr_set Date` replaces it.
        let set = HdrMods {
            drop: b"Date\n",
            add: b"Date: y\r\n",
        };
        for (head, mods) in [
            (&b"HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n"[..], none),
            (&b"HTTP/1.1 204 No Content\r\n\r\n"[..], set),
        ] {
            let out = dated(head, &mods).to_ascii_lowercase();
            assert_eq!(out.matches("date:").count(), 1, "{out}");
        }
    }

    #[test]
    fn chunked_response_to_http10_client_goes_decoded() {
        let head =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\nETag: \"a\"\r\n\r\n";
        let resp = resp(200, BodyKind::Chunked);
        let mut r10 = req(Version::Http10);
        r10.keep_alive = true;
        assert!(dechunked(&r10, &resp) && !client_keeps_alive(&r10, &resp));
        let mut out = Vec::new();
        rw(head, &r10, &resp, &HdrMods::default(), &mut out);
        assert_eq!(
            s(&out),
            "HTTP/1.1 200 OK\r\nETag: \"a\"\r\nVia: 1.1 tfw\r\nConnection: close\r\n\r\n"
        );
        // An HTTP/1.1 client gets it as it is.
        assert!(!dechunked(&req(Version::Http11), &resp));
    }

    #[test]
    fn response_persistence() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n";
        let resp = resp(200, BodyKind::Length(2));
        let mut out = Vec::new();
        rw(
            head,
            &req(Version::Http11),
            &resp,
            &HdrMods::default(),
            &mut out,
        );
        assert_eq!(
            s(&out),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nVia: 1.1 tfw\r\n\r\n"
        );

        let mut closing = req(Version::Http11);
        closing.keep_alive = false;
        out.clear();
        rw(head, &closing, &resp, &HdrMods::default(), &mut out);
        assert!(s(&out).ends_with("Via: 1.1 tfw\r\nConnection: close\r\n\r\n"));

        out.clear();
        rw(
            head,
            &req(Version::Http10),
            &resp,
            &HdrMods::default(),
            &mut out,
        );
        assert!(s(&out).ends_with("Connection: keep-alive\r\n\r\n"));

        let close_delimited = RespInfo {
            body: BodyKind::CloseDelimited,
            ..resp
        };
        assert!(!client_keeps_alive(&req(Version::Http11), &close_delimited));
    }

    #[test]
    fn request_framing_canonical() {
        let info = |body| ReqInfo {
            method: Method::Post,
            body,
            ..req(Version::Http11)
        };
        let cases: [(&[u8], BodyKind, &str); 5] = [
            (
                b"Content-Length: 007",
                BodyKind::Length(7),
                "Content-Length: 7",
            ),
            (b"content-length:0", BodyKind::None, "Content-Length: 0"),
            (
                b"Content-Length: 18446744073709551615",
                BodyKind::Length(u64::MAX),
                "Content-Length: 18446744073709551615",
            ),
            (
                b"Transfer-Encoding: , Chunked\t",
                BodyKind::Chunked,
                "Transfer-Encoding: chunked",
            ),
            (
                b"Transfer-Encoding: GZip,\r\nX: 1\r\ntransfer-encoding: ,chunked",
                BodyKind::Chunked,
                "Transfer-Encoding: gzip, chunked\r\nX: 1",
            ),
        ];
        for (fields, body, want) in cases {
            let mut head = b"POST / HTTP/1.1\r\nHost: a\r\n".to_vec();
            head.extend_from_slice(fields);
            head.extend_from_slice(b"\r\n\r\n");
            let mut out = Vec::new();
            rewrite_request(&head, &info(body), &FWD, &mut out).unwrap();
            assert_eq!(
                s(&out),
                format!(
                    "POST / HTTP/1.1\r\nHost: a\r\n{want}\r\nX-Forwarded-For: 192.0.2.7\r\n\
Via: 1.1 tfw\r\n\r\n"
                ),
                "{}",
                s(fields)
            );
        }
        // Responses keep their framing fields as they are.
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n";
        let resp = resp(200, BodyKind::Chunked);
        let mut out = Vec::new();
        let mods = HdrMods::default();
        rw(head, &req(Version::Http11), &resp, &mods, &mut out);
        assert!(s(&out).contains("\r\nTransfer-Encoding: gzip, Chunked\r\n"));
    }

    #[test]
    fn underscore_aliases_dropped() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 1.2.3.4\r\n\
content_length: 5\r\nTRANSFER_ENCODING: chunked\r\nX_Custom: 1\r\nhost_: b\r\n\r\n";
        let mut out = Vec::new();
        rewrite_request(head, &req(Version::Http11), &FWD, &mut out).unwrap();
        assert_eq!(
            s(&out),
            "GET / HTTP/1.1\r\nHost: a\r\nX_Custom: 1\r\nhost_: b\r\n\
X-Forwarded-For: 192.0.2.7\r\nVia: 1.1 tfw\r\n\r\n"
        );
    }

    #[test]
    fn absolute_form_host_replaced() {
        let head = b"GET http://b.example:8080/x HTTP/1.1\r\nHost: a\r\nX: 1\r\nhost: c\r\n\r\n";
        let fwd = Fwd {
            host: Some(b"b.example:8080"),
            ..FWD
        };
        let mut out = Vec::new();
        rewrite_request(head, &req(Version::Http11), &fwd, &mut out).unwrap();
        assert_eq!(
            s(&out),
            "GET http://b.example:8080/x HTTP/1.1\r\nHost: b.example:8080\r\nX: 1\r\n\
X-Forwarded-For: 192.0.2.7\r\nVia: 1.1 tfw\r\n\r\n"
        );
    }

    #[test]
    fn websocket_upgrade_kept() {
        let head = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade, x-hop\r\n\
Upgrade: websocket\r\nx-hop: 1\r\nSec-WebSocket-Key: k\r\n\r\n";
        let fwd = Fwd {
            upgrade: true,
            ..FWD
        };
        let mut out = Vec::new();
        rewrite_request(head, &req(Version::Http11), &fwd, &mut out).unwrap();
        assert_eq!(
            s(&out),
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\
X-Forwarded-For: 192.0.2.7\r\nVia: 1.1 tfw\r\nConnection: upgrade\r\n\r\n"
        );
        // Not passed on as an upgrade: Upgrade is a hop-by-hop field like any other.
        out.clear();
        rewrite_request(head, &req(Version::Http11), &FWD, &mut out).unwrap();
        assert!(!s(&out).contains("pgrade"));

        let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: a\r\n\r\n";
        let resp = RespInfo {
            keep_alive: false,
            ..resp(101, BodyKind::Tunnel)
        };
        out.clear();
        let none = HdrMods::default();
        rw(head, &req(Version::Http11), &resp, &none, &mut out);
        assert_eq!(
            s(&out),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Sec-WebSocket-Accept: a\r\nVia: 1.1 tfw\r\nConnection: upgrade\r\n\r\n"
        );
    }

    #[test]
    fn operator_changes() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\nx-remove: 1\r\nX-Keep: 2\r\nX-REMOVE: 3\r\n\r\n";
        let fwd = Fwd {
            mods: HdrMods {
                drop: b"X-Remove\nX-Set\n",
                add: b"X-Set: v\r\nX-Add: w\r\n",
            },
            ..FWD
        };
        let mut out = Vec::new();
        rewrite_request(head, &req(Version::Http11), &fwd, &mut out).unwrap();
        assert_eq!(
            s(&out),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Keep: 2\r\nX-Forwarded-For: 192.0.2.7\r\n\
Via: 1.1 tfw\r\nX-Set: v\r\nX-Add: w\r\n\r\n"
        );
        let head = b"HTTP/1.1 204 No Content\r\nServer: up\r\nX-A: 1\r\n\r\n";
        let resp = resp(204, BodyKind::None);
        let mods = HdrMods {
            drop: b"server\n",
            add: b"X-Frame-Options: DENY\r\n",
        };
        out.clear();
        rw(head, &req(Version::Http11), &resp, &mods, &mut out);
        assert_eq!(
            s(&out),
            "HTTP/1.1 204 No Content\r\nX-A: 1\r\nVia: 1.1 tfw\r\nX-Frame-Options: DENY\r\n\r\n"
        );
        // Not on a 1xx: the changes are for the final response.
        let interim = RespInfo {
            code: 100,
            interim: true,
            ..resp
        };
        out.clear();
        rewrite_response(
            b"HTTP/1.1 100 Continue\r\nServer: up\r\n\r\n",
            &req(Version::Http11),
            &interim,
            b"tfw",
            b"Sun, 06 Nov 1994 08:49:37 GMT",
            &mods,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            s(&out),
            "HTTP/1.1 100 Continue\r\nServer: up\r\nVia: 1.1 tfw\r\n\r\n"
        );
        assert!(!HdrMods::default().drops(b""));
        assert!(!mods.drops(b"serve"));
    }

    #[test]
    fn overflow_is_reported() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut out = Small(20, Vec::new());
        assert_eq!(
            rewrite_request(head, &req(Version::Http11), &FWD, &mut out),
            Err(Overflow)
        );
    }
}
