//! `frang_limits`: the configured limits and the checks on one request.
//!
//! The parser already knows every fact frang looks at (lengths, counts, the Host value), so the
//! checks here are pure functions of a [`FrangLimits`] and a [`RequestFacts`] the caller fills:
//! no parsing happens twice. The per-client counters (rates, bursts, concurrent connections,
//! response codes) live in [`ClientTable`](super::ClientTable).
//!
//! As in frang, a limit of 0 is "off" and "exceeded" means strictly greater than the limit.

use super::window::Frame;
use super::{Limit, Verdict};

/// The HTTP version of a request, for the Host checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/0.9.
    Http09,
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1.
    #[default]
    Http11,
    /// HTTP/2.
    Http2,
}

/// The request methods `http_methods` (and HTTP tables' `method`) can name: Tempesta's list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Method {
    /// COPY (WebDAV).
    Copy,
    /// DELETE.
    Delete,
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// LOCK (WebDAV).
    Lock,
    /// MKCOL (WebDAV).
    Mkcol,
    /// MOVE (WebDAV).
    Move,
    /// OPTIONS.
    Options,
    /// PATCH.
    Patch,
    /// POST.
    Post,
    /// PROPFIND (WebDAV).
    Propfind,
    /// PROPPATCH (WebDAV).
    Proppatch,
    /// PUT.
    Put,
    /// TRACE.
    Trace,
    /// UNLOCK (WebDAV).
    Unlock,
    /// PURGE (cache purging).
    Purge,
    /// Any other token: no `http_methods` list can allow it.
    Unknown,
}

const METHODS: [(&str, Method); 16] = [
    ("COPY", Method::Copy),
    ("DELETE", Method::Delete),
    ("GET", Method::Get),
    ("HEAD", Method::Head),
    ("LOCK", Method::Lock),
    ("MKCOL", Method::Mkcol),
    ("MOVE", Method::Move),
    ("OPTIONS", Method::Options),
    ("PATCH", Method::Patch),
    ("POST", Method::Post),
    ("PROPFIND", Method::Propfind),
    ("PROPPATCH", Method::Proppatch),
    ("PUT", Method::Put),
    ("TRACE", Method::Trace),
    ("UNLOCK", Method::Unlock),
    ("PURGE", Method::Purge),
];

impl Method {
    /// The method of a request line. Case-sensitive (RFC 9110 section 9.1): `get` is not GET
    /// but an unknown method, which no `http_methods` list allows.
    pub fn parse(token: &[u8]) -> Self {
        METHODS
            .iter()
            .find(|(n, _)| n.as_bytes() == token)
            .map_or(Self::Unknown, |&(_, m)| m)
    }

    /// The method a configuration names (`http_methods get post`): case-insensitive, as in
    /// Tempesta's configuration.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        METHODS
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|&(_, m)| m)
    }

    /// The upper-case name (`"UNKNOWN"` for [`Method::Unknown`]), for log messages.
    pub fn name(self) -> &'static str {
        METHODS
            .iter()
            .find(|&&(_, m)| m == self)
            .map_or("UNKNOWN", |&(n, _)| n)
    }

    const fn bit(self) -> u32 {
        1u32 << (self as u8)
    }
}

/// A set of methods (`http_methods`). [`Method::Unknown`] is never a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MethodSet(u32);

impl MethodSet {
    /// No method listed: frang does not restrict methods.
    pub const EMPTY: Self = Self(0);
    /// Frang's default: GET, POST and HEAD.
    pub const DEFAULT: Self = Self(Method::Get.bit() | Method::Post.bit() | Method::Head.bit());

    /// The set plus `m` ([`Method::Unknown`] is ignored).
    pub const fn with(self, m: Method) -> Self {
        match m {
            Method::Unknown => self,
            _ => Self(self.0 | m.bit()),
        }
    }

    /// Whether `m` is listed.
    pub const fn contains(self, m: Method) -> bool {
        !matches!(m, Method::Unknown) && self.0 & m.bit() != 0
    }

    /// Whether frang lets `m` through: listed, or no list at all.
    pub const fn allows(self, m: Method) -> bool {
        self.0 == 0 || self.contains(m)
    }

    /// The set of configuration names; `Err(i)` names the first unknown one.
    pub fn from_names(names: &[&[u8]]) -> Result<Self, usize> {
        names
            .iter()
            .enumerate()
            .try_fold(Self::EMPTY, |set, (i, n)| {
                Method::from_name(n).map(|m| set.with(m)).ok_or(i)
            })
    }
}

impl Default for MethodSet {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A set of response status codes (100..=599), for `http_resp_code_block`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CodeSet([u64; 8]);

impl CodeSet {
    /// No code.
    pub const EMPTY: Self = Self([0; 8]);

    fn pos(code: u16) -> Option<(usize, u32)> {
        if !(100..=599).contains(&code) {
            return None;
        }
        let i = code.checked_sub(100)?;
        Some((usize::from(i / 64), u32::from(i % 64)))
    }

    /// Adds `code`; false (and no change) when it is not a status code.
    pub fn insert(&mut self, code: u16) -> bool {
        match Self::pos(code).and_then(|(w, b)| Some((self.0.get_mut(w)?, b))) {
            Some((word, bit)) => {
                *word |= 1u64 << bit;
                true
            }
            None => false,
        }
    }

    /// Whether `code` is in the set.
    pub fn contains(&self, code: u16) -> bool {
        Self::pos(code)
            .and_then(|(w, b)| Some(self.0.get(w)? & (1u64 << b) != 0))
            .unwrap_or(false)
    }
}

/// `http_resp_code_block <codes> <limit> <secs>`: a client that gets more than `limit`
/// responses with one of `codes` within `period` is blocked. It catches password guessing and
/// scanning, which show in the responses (401, 403, 404) rather than in the requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RespCodeBlock {
    /// The watched status codes.
    pub codes: CodeSet,
    /// Most matching responses allowed in a period.
    pub limit: u32,
    /// The period, counted as a sliding window of 8 slots like the rates.
    pub period: Frame,
}

/// The limits of `frang_limits`, named after the directives.
///
/// Global-only directives (rates, connections, timeouts, chunk counts, header sizes) and
/// per-vhost/location ones (URI, body, Host, methods, Content-Type) share one struct: the
/// configuration layer builds one per location, copying the global values into it, so a check
/// needs one pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrangLimits<'a> {
    /// `ip_block`: `None` is off; `Some(secs)` blocks a client's address that exceeds a limit
    /// for `secs` seconds, `Some(0)` until the module is reloaded.
    pub ip_block: Option<u32>,
    /// The frame of the request, connection and TLS rates: one second in frang (not a
    /// directive; kept configurable for tests and tuning).
    pub rate_frame: Frame,
    /// `request_rate`: requests per frame.
    pub request_rate: u32,
    /// `request_burst`: requests per 1/8 of the frame.
    pub request_burst: u32,
    /// `tcp_connection_rate`: new connections per frame.
    pub tcp_connection_rate: u32,
    /// `tcp_connection_burst`: new connections per 1/8 of the frame.
    pub tcp_connection_burst: u32,
    /// `concurrent_tcp_connections`: open connections of one client.
    pub concurrent_tcp_connections: u32,
    /// `tls_connection_rate`: full TLS handshakes per frame.
    pub tls_connection_rate: u32,
    /// `tls_connection_burst`: full TLS handshakes per 1/8 of the frame.
    pub tls_connection_burst: u32,
    /// `tls_incomplete_connection_rate`: handshakes abandoned or failed, per frame.
    pub tls_incomplete_connection_rate: u32,
    /// `client_header_timeout`, seconds: longest time from the first byte of a request to the
    /// end of its header section (slowloris).
    pub client_header_timeout: u32,
    /// `client_body_timeout`, seconds: longest gap between two pieces of a body.
    pub client_body_timeout: u32,
    /// `http_header_chunk_cnt`: most network chunks (skbs) a header section may arrive in.
    pub http_header_chunk_cnt: u32,
    /// `http_body_chunk_cnt`: most network chunks a body may arrive in.
    pub http_body_chunk_cnt: u32,
    /// `http_hdr_len`: longest header field line.
    pub http_hdr_len: u32,
    /// `http_header_cnt`: most header fields.
    pub http_header_cnt: u32,
    /// `http_max_header_list_size`: most bytes of all header field lines together.
    pub http_max_header_list_size: u32,
    /// `http_uri_len`: longest request-target.
    pub http_uri_len: u32,
    /// `http_body_len`: longest body.
    pub http_body_len: u64,
    /// `http_strict_host_checking`: see [`check_request`].
    pub http_strict_host_checking: bool,
    /// `http_ct_required`: a POST needs a Content-Type.
    pub http_ct_required: bool,
    /// `http_trailer_split_allowed`: a field may appear both in the head and the trailer.
    pub http_trailer_split_allowed: bool,
    /// `http_method_override_allowed`: `X-HTTP-Method-Override` and friends are accepted.
    pub http_method_override_allowed: bool,
    /// `http_methods`.
    pub http_methods: MethodSet,
    /// `http_ct_vals`: the media types a POST may carry (empty: any).
    pub http_ct_vals: &'a [&'a [u8]],
    /// `http_resp_code_block`.
    pub http_resp_code_block: Option<RespCodeBlock>,
}

impl<'a> FrangLimits<'a> {
    /// Tempesta's defaults: everything off but `concurrent_tcp_connections` 1000,
    /// `http_header_cnt` 50, `http_max_header_list_size` 16 KiB, `http_body_len` 1 GiB,
    /// strict Host checking and methods GET, POST, HEAD.
    pub const DEFAULT: Self = Self {
        ip_block: None,
        rate_frame: Frame::SECOND,
        request_rate: 0,
        request_burst: 0,
        tcp_connection_rate: 0,
        tcp_connection_burst: 0,
        concurrent_tcp_connections: 1000,
        tls_connection_rate: 0,
        tls_connection_burst: 0,
        tls_incomplete_connection_rate: 0,
        client_header_timeout: 0,
        client_body_timeout: 0,
        http_header_chunk_cnt: 0,
        http_body_chunk_cnt: 0,
        http_hdr_len: 0,
        http_header_cnt: 50,
        http_max_header_list_size: 16 * 1024,
        http_uri_len: 0,
        http_body_len: 1 << 30,
        http_strict_host_checking: true,
        http_ct_required: false,
        http_trailer_split_allowed: false,
        http_method_override_allowed: false,
        http_methods: MethodSet::DEFAULT,
        http_ct_vals: &[],
        http_resp_code_block: None,
    };

    /// Nothing limited: what whitelisted traffic gets, and a base for tests.
    pub const NONE: Self = Self {
        concurrent_tcp_connections: 0,
        http_header_cnt: 0,
        http_max_header_list_size: 0,
        http_body_len: 0,
        http_strict_host_checking: false,
        http_methods: MethodSet::EMPTY,
        ..Self::DEFAULT
    };
}

impl Default for FrangLimits<'_> {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Whether a connection whose packets carry netfilter `mark` is in `whitelist_mark`: its
/// traffic bypasses frang (the kernel passes the result to
/// [`ClientTable::on_connect`](super::ClientTable::on_connect) and skips the request
/// checks). Mark 0 is "no mark" and is never whitelisted, whatever the list says: otherwise
/// a stray `whitelist_mark 0` would exempt all unmarked traffic.
pub fn whitelisted(marks: &[u32], mark: u32) -> bool {
    mark != 0 && marks.contains(&mark)
}

/// What the parser knows of a header section while it is still arriving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeadProgress {
    /// Network chunks (skbs) the request has arrived in so far.
    pub chunks: u32,
    /// Milliseconds since the first byte of the request.
    pub elapsed_ms: u64,
    /// Header fields so far.
    pub header_cnt: u32,
    /// Longest header field line so far (name to end of value).
    pub longest_header: u32,
    /// Bytes of all header field lines so far.
    pub header_bytes: u32,
}

/// What the parser knows of a request once its header section is complete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestFacts<'a> {
    /// The HTTP version.
    pub version: HttpVersion,
    /// The method token as received.
    pub method: &'a [u8],
    /// The value of `X-HTTP-Method-Override` (or `X-HTTP-Method`, `X-Method-Override`).
    pub method_override: Option<&'a [u8]>,
    /// Bytes of the request-target.
    pub uri_len: u64,
    /// The header section counters.
    pub head: HeadProgress,
    /// The Host header value, trimmed.
    pub host: Option<&'a [u8]>,
    /// The authority of an absolute-form request-target (HTTP/1) or `:authority` (HTTP/2).
    pub authority: Option<&'a [u8]>,
    /// Whether the connection is TLS (the default port is then 443, else 80).
    pub tls: bool,
    /// The local (listening) port of the connection, if the port in Host is to be checked.
    pub local_port: Option<u16>,
    /// The Content-Type value.
    pub content_type: Option<&'a [u8]>,
    /// The Content-Length value, if any: a body announced too long is refused before it comes.
    pub content_length: Option<u64>,
}

/// What the parser knows of a body while it arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BodyProgress {
    /// Body bytes so far.
    pub len: u64,
    /// Network chunks the body has arrived in so far.
    pub chunks: u32,
    /// Milliseconds since the previous piece of the body (Tempesta's body timeout is between
    /// pieces, not over the whole body: a large upload on a slow link is fine, a stalled one
    /// is not).
    pub idle_ms: u64,
}

const fn over(value: u64, limit: u64) -> bool {
    limit != 0 && value > limit
}

const fn secs_to_ms(secs: u32) -> u64 {
    (secs as u64).saturating_mul(1000)
}

/// The checks that can run on every new piece of a header section, before it is complete:
/// timeout and chunk count (slowloris), field count and sizes.
pub fn check_head_progress(l: &FrangLimits<'_>, h: &HeadProgress) -> Verdict {
    if over(h.elapsed_ms, secs_to_ms(l.client_header_timeout)) {
        return Err(Limit::HeaderTimeout);
    }
    if over(h.chunks.into(), l.http_header_chunk_cnt.into()) {
        return Err(Limit::HeaderChunkCount);
    }
    if over(h.header_cnt.into(), l.http_header_cnt.into()) {
        return Err(Limit::HeaderCount);
    }
    if over(h.longest_header.into(), l.http_hdr_len.into()) {
        return Err(Limit::HeaderLength);
    }
    if over(h.header_bytes.into(), l.http_max_header_list_size.into()) {
        return Err(Limit::HeaderListSize);
    }
    Ok(())
}

/// All checks on a complete header section, in frang's order: the slowloris and size checks
/// of [`check_head_progress`], the method, the URI length, a declared body length, Host
/// (if `http_strict_host_checking`), the method override, Content-Type.
///
/// Strict Host checking (as Tempesta does it):
/// - HTTP/1.1 needs a Host; with an absolute-form target, Host must name the same host
///   (case-insensitive) and port.
/// - HTTP/2: when both `:authority` and Host are present they must agree.
/// - HTTP/1.0 and 0.9 must carry no Host nor absolute-form target at all: routing on a host
///   with a protocol that does not define it invites backends to disagree on the route.
/// - The host must not be an IP address literal (`[v6]`, a dotted quad, or any name whose
///   last label is numeric, which URL parsers read as IPv4): legitimate browsers use names,
///   scanners and bots use addresses.
/// - With `local_port` given, the Host port (default 80, or 443 on TLS) must be that port.
///
/// Content-Type checks apply to POST only, as in Tempesta: the media type (without its
/// parameters) must be one of `http_ct_vals`, compared case-insensitively. Tempesta compares
/// a case-insensitive prefix, which also lets `text/plainX` through; the exact comparison
/// here lets only the listed types through.
pub fn check_request(l: &FrangLimits<'_>, f: &RequestFacts<'_>) -> Verdict {
    check_head_progress(l, &f.head)?;
    let method = Method::parse(f.method);
    if !l.http_methods.allows(method) {
        return Err(Limit::Method);
    }
    if over(f.uri_len, l.http_uri_len.into()) {
        return Err(Limit::UriLength);
    }
    if let Some(cl) = f.content_length {
        if over(cl, l.http_body_len) {
            return Err(Limit::BodyLength);
        }
    }
    if l.http_strict_host_checking {
        check_host(f)?;
    }
    if let Some(m) = f.method_override {
        if !l.http_method_override_allowed || !l.http_methods.allows(Method::parse(m)) {
            return Err(Limit::MethodOverride);
        }
    }
    if method == Method::Post && (l.http_ct_required || !l.http_ct_vals.is_empty()) {
        let ct = f.content_type.ok_or(Limit::ContentTypeMissing)?;
        if !l.http_ct_vals.is_empty() {
            let media = media_type(ct);
            if !l.http_ct_vals.iter().any(|v| v.eq_ignore_ascii_case(media)) {
                return Err(Limit::ContentType);
            }
        }
    }
    Ok(())
}

/// The checks on every new piece of a body: the gap since the previous piece, the chunk count
/// and the length.
pub fn check_body(l: &FrangLimits<'_>, b: &BodyProgress) -> Verdict {
    if over(b.idle_ms, secs_to_ms(l.client_body_timeout)) {
        return Err(Limit::BodyTimeout);
    }
    if over(b.chunks.into(), l.http_body_chunk_cnt.into()) {
        return Err(Limit::BodyChunkCount);
    }
    if over(b.len, l.http_body_len) {
        return Err(Limit::BodyLength);
    }
    Ok(())
}

/// The check on a trailer section: `split` is whether a field appears both in the head and in
/// the trailer, which intermediaries that drop trailers would see differently.
pub fn check_trailer(l: &FrangLimits<'_>, split: bool) -> Verdict {
    if split && !l.http_trailer_split_allowed {
        Err(Limit::TrailerSplit)
    } else {
        Ok(())
    }
}

fn check_host(f: &RequestFacts<'_>) -> Verdict {
    let default_port = if f.tls { 443 } else { 80 };
    let effective = match f.version {
        HttpVersion::Http09 | HttpVersion::Http10 => {
            return match (f.host, f.authority) {
                (None, None) => Ok(()),
                _ => Err(Limit::HostOldVersion),
            };
        }
        HttpVersion::Http11 => {
            let host = f.host.ok_or(Limit::HostMissing)?;
            if let Some(a) = f.authority {
                if !same_authority(a, host, default_port) {
                    return Err(Limit::HostMismatch);
                }
            }
            host
        }
        HttpVersion::Http2 => {
            if let (Some(a), Some(h)) = (f.authority, f.host) {
                if !same_authority(a, h, default_port) {
                    return Err(Limit::HostMismatch);
                }
            }
            f.authority.or(f.host).ok_or(Limit::HostMissing)?
        }
    };
    let (name, port) = split_authority(effective).ok_or(Limit::HostPort)?;
    if is_ip_literal(name) {
        return Err(Limit::HostIpLiteral);
    }
    if let Some(local) = f.local_port {
        if port.unwrap_or(default_port) != local {
            return Err(Limit::HostPort);
        }
    }
    Ok(())
}

/// Splits `host[:port]` / `[v6][:port]`; `None` when the port is not a number below 65536.
/// An empty port (`host:`) is no port, as RFC 3986 allows.
fn split_authority(a: &[u8]) -> Option<(&[u8], Option<u16>)> {
    let colon = if a.first() == Some(&b'[') {
        let after = a.iter().position(|&c| c == b']')?.checked_add(1)?;
        match a.get(after..) {
            Some([]) => None,
            Some([b':', ..]) => Some(after),
            _ => return None,
        }
    } else {
        a.iter().rposition(|&c| c == b':')
    };
    let Some(colon) = colon else {
        return Some((a, None));
    };
    let name = a.get(..colon)?;
    let digits = a.get(colon.checked_add(1)?..)?;
    if digits.is_empty() {
        return Some((name, None));
    }
    if digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let port = digits.iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(10)?
            .checked_add(u32::from(d.checked_sub(b'0')?))
    })?;
    Some((name, Some(u16::try_from(port).ok()?)))
}

fn same_authority(a: &[u8], b: &[u8], default_port: u16) -> bool {
    match (split_authority(a), split_authority(b)) {
        (Some((an, ap)), Some((bn, bp))) => {
            an.eq_ignore_ascii_case(bn) && ap.unwrap_or(default_port) == bp.unwrap_or(default_port)
        }
        _ => false,
    }
}

/// Whether a host name (port removed) is an IP address literal.
fn is_ip_literal(name: &[u8]) -> bool {
    if name.first() == Some(&b'[') || name.contains(&b':') {
        return true;
    }
    let name = name.strip_suffix(b".").unwrap_or(name);
    let last = name.rsplit(|&c| c == b'.').next().unwrap_or(name);
    if last.is_empty() {
        return false;
    }
    if let Some(hex) = last
        .strip_prefix(b"0x")
        .or_else(|| last.strip_prefix(b"0X"))
    {
        return hex.iter().all(u8::is_ascii_hexdigit);
    }
    last.iter().all(u8::is_ascii_digit)
}

/// The media type of a Content-Type value: what precedes the parameters, without whitespace.
fn media_type(ct: &[u8]) -> &[u8] {
    let end = ct.iter().position(|&c| c == b';').unwrap_or(ct.len());
    trim_ows(ct.get(..end).unwrap_or(ct))
}

/// `s` without leading and trailing spaces and tabs.
pub(super) fn trim_ows(s: &[u8]) -> &[u8] {
    let ows = |c: &u8| *c == b' ' || *c == b'\t';
    let start = s.iter().position(|c| !ows(c)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|c| !ows(c))
        .map_or(start, |e| e.saturating_add(1));
    s.get(start..end).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(host: &'a str) -> RequestFacts<'a> {
        RequestFacts {
            method: b"GET",
            host: Some(host.as_bytes()),
            ..RequestFacts::default()
        }
    }

    const D: FrangLimits<'static> = FrangLimits::DEFAULT;

    #[test]
    fn defaults_pass_a_plain_request() {
        assert_eq!(check_request(&D, &get("example.com")), Ok(()));
        assert_eq!(FrangLimits::default(), D);
        assert_eq!(D.concurrent_tcp_connections, 1000);
        assert_eq!(D.http_header_cnt, 50);
        assert_eq!(D.http_body_len, 1 << 30);
    }

    #[test]
    fn method_list() {
        let l = D;
        assert_eq!(check_request(&l, &get("a.com")), Ok(()));
        let put = RequestFacts {
            method: b"PUT",
            ..get("a.com")
        };
        assert_eq!(check_request(&l, &put), Err(Limit::Method));
        let lower = RequestFacts {
            method: b"get",
            ..get("a.com")
        };
        assert_eq!(check_request(&l, &lower), Err(Limit::Method));
        let l = FrangLimits {
            http_methods: MethodSet::from_names(&[b"put", b"Get"]).unwrap(),
            ..D
        };
        assert_eq!(check_request(&l, &put), Ok(()));
        let post = RequestFacts {
            method: b"POST",
            ..get("a.com")
        };
        assert_eq!(check_request(&l, &post), Err(Limit::Method));
        // No list: anything goes, but an unknown method never matches a list.
        let l = FrangLimits {
            http_methods: MethodSet::EMPTY,
            ..D
        };
        let odd = RequestFacts {
            method: b"BREW",
            ..get("a.com")
        };
        assert_eq!(check_request(&l, &odd), Ok(()));
        assert!(!MethodSet::DEFAULT
            .with(Method::Unknown)
            .contains(Method::Unknown));
    }

    #[test]
    fn method_names() {
        assert_eq!(Method::parse(b"PROPPATCH"), Method::Proppatch);
        assert_eq!(Method::parse(b"Get"), Method::Unknown);
        assert_eq!(Method::parse(b""), Method::Unknown);
        assert_eq!(Method::from_name(b"purge"), Some(Method::Purge));
        assert_eq!(Method::from_name(b"brew"), None);
        assert_eq!(Method::Mkcol.name(), "MKCOL");
        assert_eq!(Method::Unknown.name(), "UNKNOWN");
        assert_eq!(MethodSet::from_names(&[b"get", b"nope"]), Err(1));
        assert_eq!(
            MethodSet::from_names(&[b"GET", b"post", b"head"]),
            Ok(MethodSet::DEFAULT)
        );
    }

    #[test]
    fn method_override() {
        let f = RequestFacts {
            method_override: Some(b"PUT"),
            ..get("a.com")
        };
        assert_eq!(check_request(&D, &f), Err(Limit::MethodOverride));
        let l = FrangLimits {
            http_method_override_allowed: true,
            ..D
        };
        assert_eq!(check_request(&l, &f), Err(Limit::MethodOverride));
        let f = RequestFacts {
            method_override: Some(b"HEAD"),
            ..f
        };
        assert_eq!(check_request(&l, &f), Ok(()));
    }

    #[test]
    fn uri_length() {
        let l = FrangLimits {
            http_uri_len: 10,
            ..D
        };
        let f = RequestFacts {
            uri_len: 10,
            ..get("a.com")
        };
        assert_eq!(check_request(&l, &f), Ok(()));
        let f = RequestFacts { uri_len: 11, ..f };
        assert_eq!(check_request(&l, &f), Err(Limit::UriLength));
        assert_eq!(
            check_request(
                &D,
                &RequestFacts {
                    uri_len: 1 << 40,
                    ..f
                }
            ),
            Ok(())
        );
    }

    #[test]
    fn header_count_and_sizes() {
        let l = FrangLimits {
            http_header_cnt: 3,
            http_hdr_len: 100,
            http_max_header_list_size: 200,
            ..D
        };
        let ok = HeadProgress {
            header_cnt: 3,
            longest_header: 100,
            header_bytes: 200,
            ..Default::default()
        };
        assert_eq!(check_head_progress(&l, &ok), Ok(()));
        let h = HeadProgress {
            header_cnt: 4,
            ..ok
        };
        assert_eq!(check_head_progress(&l, &h), Err(Limit::HeaderCount));
        let h = HeadProgress {
            longest_header: 101,
            ..ok
        };
        assert_eq!(check_head_progress(&l, &h), Err(Limit::HeaderLength));
        let h = HeadProgress {
            header_bytes: 201,
            ..ok
        };
        assert_eq!(check_head_progress(&l, &h), Err(Limit::HeaderListSize));
        // The complete-head check runs them too.
        let f = RequestFacts {
            head: HeadProgress {
                header_cnt: 4,
                ..ok
            },
            ..get("a.com")
        };
        assert_eq!(check_request(&l, &f), Err(Limit::HeaderCount));
        let none = FrangLimits::NONE;
        let huge = HeadProgress {
            header_cnt: u32::MAX,
            longest_header: u32::MAX,
            header_bytes: u32::MAX,
            ..ok
        };
        assert_eq!(check_head_progress(&none, &huge), Ok(()));
    }

    #[test]
    fn header_timeout_and_chunks() {
        let l = FrangLimits {
            client_header_timeout: 5,
            http_header_chunk_cnt: 4,
            ..D
        };
        let h = HeadProgress {
            elapsed_ms: 5000,
            chunks: 4,
            ..Default::default()
        };
        assert_eq!(check_head_progress(&l, &h), Ok(()));
        let t = HeadProgress {
            elapsed_ms: 5001,
            ..h
        };
        assert_eq!(check_head_progress(&l, &t), Err(Limit::HeaderTimeout));
        let c = HeadProgress { chunks: 5, ..h };
        assert_eq!(check_head_progress(&l, &c), Err(Limit::HeaderChunkCount));
        let big = FrangLimits {
            client_header_timeout: u32::MAX,
            ..l
        };
        let t = HeadProgress {
            elapsed_ms: u64::MAX,
            ..h
        };
        assert_eq!(check_head_progress(&big, &t), Err(Limit::HeaderTimeout));
    }

    #[test]
    fn body_checks() {
        let l = FrangLimits {
            client_body_timeout: 2,
            http_body_chunk_cnt: 10,
            http_body_len: 1000,
            ..D
        };
        let b = BodyProgress {
            len: 1000,
            chunks: 10,
            idle_ms: 2000,
        };
        assert_eq!(check_body(&l, &b), Ok(()));
        assert_eq!(
            check_body(&l, &BodyProgress { len: 1001, ..b }),
            Err(Limit::BodyLength)
        );
        assert_eq!(
            check_body(&l, &BodyProgress { chunks: 11, ..b }),
            Err(Limit::BodyChunkCount)
        );
        assert_eq!(
            check_body(&l, &BodyProgress { idle_ms: 2001, ..b }),
            Err(Limit::BodyTimeout)
        );
        assert_eq!(
            check_body(&FrangLimits::NONE, &BodyProgress { len: u64::MAX, ..b }),
            Ok(())
        );
        // Default body limit: 1 GiB.
        assert_eq!(
            check_body(
                &D,
                &BodyProgress {
                    len: 1 << 30,
                    ..Default::default()
                }
            ),
            Ok(())
        );
        assert_eq!(
            check_body(
                &D,
                &BodyProgress {
                    len: (1 << 30) + 1,
                    ..Default::default()
                }
            ),
            Err(Limit::BodyLength)
        );
    }

    #[test]
    fn declared_body_length_is_refused_early() {
        let l = FrangLimits {
            http_body_len: 10,
            ..D
        };
        let f = RequestFacts {
            content_length: Some(11),
            ..get("a.com")
        };
        assert_eq!(check_request(&l, &f), Err(Limit::BodyLength));
        let f = RequestFacts {
            content_length: Some(10),
            ..f
        };
        assert_eq!(check_request(&l, &f), Ok(()));
    }

    #[test]
    fn trailer_split() {
        assert_eq!(check_trailer(&D, false), Ok(()));
        assert_eq!(check_trailer(&D, true), Err(Limit::TrailerSplit));
        let l = FrangLimits {
            http_trailer_split_allowed: true,
            ..D
        };
        assert_eq!(check_trailer(&l, true), Ok(()));
    }

    #[test]
    fn host_required_for_http11() {
        let f = RequestFacts {
            host: None,
            ..get("")
        };
        assert_eq!(check_request(&D, &f), Err(Limit::HostMissing));
        let l = FrangLimits {
            http_strict_host_checking: false,
            ..D
        };
        assert_eq!(check_request(&l, &f), Ok(()));
    }

    #[test]
    fn host_must_not_be_an_address() {
        for h in [
            "127.0.0.1",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:80",
            "::1",
            "10.1",
            "2130706433",
            "0x7f000001",
            "1.2.3.4.",
        ] {
            assert_eq!(check_request(&D, &get(h)), Err(Limit::HostIpLiteral), "{h}");
        }
        for h in [
            "example.com",
            "example.com:80",
            "1.2.3.example",
            "x1",
            "localhost",
        ] {
            assert_eq!(check_request(&D, &get(h)), Ok(()), "{h}");
        }
    }

    #[test]
    fn host_must_match_absolute_uri() {
        let f = RequestFacts {
            authority: Some(b"Example.COM"),
            ..get("example.com")
        };
        assert_eq!(check_request(&D, &f), Ok(()));
        let f = RequestFacts {
            authority: Some(b"example.com:80"),
            ..get("example.com")
        };
        assert_eq!(check_request(&D, &f), Ok(()));
        let f = RequestFacts {
            authority: Some(b"example.com:8080"),
            ..get("example.com")
        };
        assert_eq!(check_request(&D, &f), Err(Limit::HostMismatch));
        let f = RequestFacts {
            authority: Some(b"evil.com"),
            ..get("example.com")
        };
        assert_eq!(check_request(&D, &f), Err(Limit::HostMismatch));
    }

    #[test]
    fn host_in_http2() {
        let h2 = |a: Option<&'static str>, h: Option<&'static str>| RequestFacts {
            version: HttpVersion::Http2,
            method: b"GET",
            authority: a.map(str::as_bytes),
            host: h.map(str::as_bytes),
            tls: true,
            ..RequestFacts::default()
        };
        assert_eq!(check_request(&D, &h2(Some("a.com"), None)), Ok(()));
        assert_eq!(check_request(&D, &h2(None, Some("a.com"))), Ok(()));
        assert_eq!(
            check_request(&D, &h2(Some("a.com"), Some("a.com:443"))),
            Ok(())
        );
        assert_eq!(
            check_request(&D, &h2(Some("a.com"), Some("b.com"))),
            Err(Limit::HostMismatch)
        );
        assert_eq!(check_request(&D, &h2(None, None)), Err(Limit::HostMissing));
        assert_eq!(
            check_request(&D, &h2(Some("[::1]"), None)),
            Err(Limit::HostIpLiteral)
        );
    }

    #[test]
    fn host_in_old_versions() {
        let f = RequestFacts {
            version: HttpVersion::Http10,
            host: None,
            ..get("")
        };
        assert_eq!(check_request(&D, &f), Ok(()));
        let f = RequestFacts {
            version: HttpVersion::Http10,
            ..get("a.com")
        };
        assert_eq!(check_request(&D, &f), Err(Limit::HostOldVersion));
        let f = RequestFacts {
            version: HttpVersion::Http09,
            host: None,
            authority: Some(b"a.com"),
            ..get("")
        };
        assert_eq!(check_request(&D, &f), Err(Limit::HostOldVersion));
    }

    #[test]
    fn host_port_matches_listener() {
        let f = RequestFacts {
            local_port: Some(80),
            ..get("a.com")
        };
        assert_eq!(check_request(&D, &f), Ok(()));
        let f = RequestFacts {
            local_port: Some(8080),
            ..get("a.com")
        };
        assert_eq!(check_request(&D, &f), Err(Limit::HostPort));
        let f = RequestFacts {
            local_port: Some(8080),
            ..get("a.com:8080")
        };
        assert_eq!(check_request(&D, &f), Ok(()));
        let f = RequestFacts {
            local_port: Some(443),
            tls: true,
            ..get("a.com")
        };
        assert_eq!(check_request(&D, &f), Ok(()));
        for bad in ["a.com:99999", "a.com:8x", "[::1", "[v6]x"] {
            assert!(check_request(&D, &get(bad)).is_err(), "{bad}");
        }
        // An empty port is the default port.
        let f = RequestFacts {
            local_port: Some(80),
            ..get("a.com:")
        };
        assert_eq!(check_request(&D, &f), Ok(()));
    }

    #[test]
    fn content_type_required_for_post() {
        let post = RequestFacts {
            method: b"POST",
            ..get("a.com")
        };
        assert_eq!(check_request(&D, &post), Ok(()));
        let l = FrangLimits {
            http_ct_required: true,
            ..D
        };
        assert_eq!(check_request(&l, &post), Err(Limit::ContentTypeMissing));
        let with = RequestFacts {
            content_type: Some(b"anything/at-all"),
            ..post
        };
        assert_eq!(check_request(&l, &with), Ok(()));
        // GET is not checked, as in Tempesta.
        assert_eq!(check_request(&l, &get("a.com")), Ok(()));
    }

    #[test]
    fn content_type_values() {
        let vals: [&[u8]; 2] = [b"text/plain", b"application/json"];
        let l = FrangLimits {
            http_ct_vals: &vals,
            ..D
        };
        let post = |ct: Option<&'static str>| RequestFacts {
            method: b"POST",
            content_type: ct.map(str::as_bytes),
            ..get("a.com")
        };
        assert_eq!(check_request(&l, &post(Some("text/plain"))), Ok(()));
        assert_eq!(
            check_request(&l, &post(Some("Application/JSON; charset=utf-8"))),
            Ok(())
        );
        assert_eq!(check_request(&l, &post(Some("  text/plain ;q"))), Ok(()));
        assert_eq!(
            check_request(&l, &post(Some("text/plainX"))),
            Err(Limit::ContentType)
        );
        assert_eq!(
            check_request(&l, &post(Some("text/html"))),
            Err(Limit::ContentType)
        );
        assert_eq!(check_request(&l, &post(Some(""))), Err(Limit::ContentType));
        // A list of values implies the header is required.
        assert_eq!(
            check_request(&l, &post(None)),
            Err(Limit::ContentTypeMissing)
        );
    }

    #[test]
    fn whitelist_marks() {
        assert!(whitelisted(&[3, 7], 7));
        assert!(!whitelisted(&[3, 7], 5));
        assert!(!whitelisted(&[0, 3], 0));
        assert!(!whitelisted(&[], 1));
    }

    #[test]
    fn code_set() {
        let mut s = CodeSet::EMPTY;
        assert!(s.insert(403) && s.insert(100) && s.insert(599));
        assert!(!s.insert(99) && !s.insert(600) && !s.insert(0) && !s.insert(u16::MAX));
        assert!(s.contains(403) && s.contains(100) && s.contains(599));
        assert!(!s.contains(404) && !s.contains(600) && !s.contains(99));
    }

    #[test]
    fn helpers() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(media_type(b"text/html;charset=x"), b"text/html");
        assert_eq!(
            split_authority(b"[::1]:8080"),
            Some((&b"[::1]"[..], Some(8080)))
        );
        assert_eq!(split_authority(b"a:65535"), Some((&b"a"[..], Some(65535))));
        assert_eq!(split_authority(b"a:65536"), None);
        assert_eq!(split_authority(b""), Some((&b""[..], None)));
    }
}
