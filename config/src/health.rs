//! Health monitoring (Tempesta's `fw/apm.c`): `server_failover_http <status> <count>
//! <seconds>` (global, repeated), `health_check NAME { request; request_url; resp_code;
//! resp_crc32; timeout; }` monitors, and `health NAME` (global or per `srv_group`, see
//! [`group_health`](super::upstream::group_health)) naming the monitor of a group's servers;
//! `auto` is the built-in one.

use super::error::{Error, ErrorKind};
use super::tree::{Node, Tree};
use super::values::{parse_secs, parse_u32_in};

/// Most `server_failover_http` directives.
pub const MAX_FAILOVER: usize = 16;

/// Longest probe request, bytes (after escapes).
pub const MAX_REQUEST: usize = 2048;

/// The built-in monitor's name.
pub const AUTO: &str = "auto";

/// The probe request when `request` is absent (Tempesta's `TFW_APM_DFLT_REQ`).
pub const DEFAULT_REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

/// Seconds between probes when `timeout` is absent (the `auto` monitor's value).
pub const DEFAULT_SECS: u32 = 10;

const MAX_INT: u32 = i32::MAX as u32;

/// `server_failover_http <status> <count> <seconds>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failover {
    /// A status 100-599, or a class `N*` stored as N (1-5).
    pub code: u16,
    /// Responses allowed in the frame.
    pub limit: u32,
    /// The frame, seconds (1 or more).
    pub secs: u32,
    /// Line of the directive.
    pub line: u32,
}

impl Failover {
    /// A placeholder for arrays [`failover_rules`] fills.
    pub const EMPTY: Failover = Failover {
        code: 0,
        limit: 0,
        secs: 0,
        line: 0,
    };
}

/// What a probe's response body must hash to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crc {
    /// No check (`resp_crc32` absent).
    Any,
    /// `resp_crc32 auto`: the first good response's.
    Auto,
    /// `resp_crc32 <hex>`.
    Is(u32),
}

/// A `health_check` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthCheck<'s> {
    /// Its name.
    pub name: &'s str,
    /// Line of the block.
    pub line: u32,
    /// `request`, raw (decode with [`decode_request`]); `None`: [`DEFAULT_REQUEST`].
    pub request: Option<&'s [u8]>,
    /// `request_url`: client requests for it make a probe unnecessary (default `/`).
    pub url: &'s [u8],
    /// `resp_code`: bit `s` set per good status; all clear: any status.
    pub codes: [u64; 10],
    /// `resp_crc32`.
    pub crc: Crc,
    /// `timeout`: seconds between probes.
    pub secs: u32,
}

fn is_dir(tree: &Tree<'_, '_>, node: &Node, name: &[u8]) -> bool {
    !node.is_rule() && tree.name(node) == name
}

fn first_arg<'s>(tree: &Tree<'s, '_>, node: &Node) -> &'s [u8] {
    tree.arg(node, 0).map_or(&[], |a| a.text)
}

/// A status, `100`-`599`, or with `class` a class `1*`-`5*` (returned as 1-5).
fn parse_status(arg: &[u8], class: bool) -> Result<u16, ErrorKind<'_>> {
    let bad = ErrorKind::InvalidValue("HTTP status", arg);
    match arg {
        [d @ b'1'..=b'5', b'*'] if class => Ok(u16::from(d - b'0')),
        _ => parse_u32_in(arg, 100, 599)
            .map(|v| v as u16)
            .map_err(|_| bad),
    }
}

/// Most statuses of one `health_stat` or `health_stat_server`.
pub const MAX_STAT_CODES: usize = 16;

/// The statuses `health_stat` (`/proc/tempesta/perfstat`) or `health_stat_server` (each
/// server's file) count responses of: a status 100-599, or a class `N*` stored as N (1-5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatCodes {
    /// The statuses, in the directive's order.
    pub codes: [u16; MAX_STAT_CODES],
    /// How many of `codes` are used.
    pub n: usize,
}

/// Parses one `health_stat` or `health_stat_server` node.
pub(crate) fn parse_stat_codes<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<StatCodes, Error<'s>> {
    let mut s = StatCodes::default();
    for a in tree.args(node) {
        let code = parse_status(a.text, true).map_err(|k| tree.error(node, k))?;
        let Some(slot) = s.codes.get_mut(s.n) else {
            return Err(tree.error(node, ErrorKind::TooMany("statuses", MAX_STAT_CODES as u64)));
        };
        *slot = code;
        s.n = s.n.saturating_add(1);
    }
    Ok(s)
}

/// The global `name` directive (`health_stat` or `health_stat_server`); none: no statuses.
pub fn stat_codes<'s>(tree: &Tree<'s, '_>, name: &[u8]) -> Result<StatCodes, Error<'s>> {
    match tree.top_level().find(|n| is_dir(tree, n, name)) {
        Some(n) => parse_stat_codes(tree, n),
        None => Ok(StatCodes::default()),
    }
}

/// Parses one `server_failover_http` directive.
pub fn parse_failover<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<Failover, Error<'s>> {
    let arg = |i| tree.arg(node, i).map_or(&[][..], |a| a.text);
    let code = parse_status(arg(0), true).map_err(|k| tree.error(node, k))?;
    let limit = parse_u32_in(arg(1), 0, MAX_INT).map_err(|k| tree.error(node, k))?;
    let secs = parse_secs(arg(2), MAX_INT).map_err(|k| tree.error(node, k))?;
    if secs == 0 {
        return Err(tree.error(
            node,
            ErrorKind::Message("the time frame must be 1 s or more"),
        ));
    }
    Ok(Failover {
        code,
        limit,
        secs,
        line: node.line(),
    })
}

/// The `server_failover_http` rules, in file order, into `out`; how many. More than
/// [`MAX_FAILOVER`] is an error.
pub fn failover_rules<'s>(tree: &Tree<'s, '_>, out: &mut [Failover]) -> Result<usize, Error<'s>> {
    let mut n = 0usize;
    for node in tree
        .top_level()
        .filter(|n| is_dir(tree, n, b"server_failover_http"))
    {
        let f = parse_failover(tree, node)?;
        let Some(slot) = out.get_mut(n).filter(|_| n < MAX_FAILOVER) else {
            return Err(tree.error(
                node,
                ErrorKind::TooMany("server_failover_http directives", MAX_FAILOVER as u64),
            ));
        };
        *slot = f;
        n = n.saturating_add(1);
    }
    Ok(n)
}

/// Parses a `health_check` block.
pub fn parse_health_check<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<HealthCheck<'s>, Error<'s>> {
    let name = tree
        .arg(node, 0)
        .and_then(|a| a.as_str())
        .filter(|_| tree.arg_count(node) == 1)
        .ok_or_else(|| tree.error(node, ErrorKind::Message("expected one name")))?;
    let mut hc = HealthCheck {
        name,
        line: node.line(),
        request: None,
        url: b"/",
        codes: [0; 10],
        crc: Crc::Any,
        secs: DEFAULT_SECS,
    };
    for n in tree.children(node) {
        let a = first_arg(tree, n);
        match tree.name(n) {
            b"request" => {
                if decoded(a).count() > MAX_REQUEST {
                    return Err(
                        tree.error(n, ErrorKind::TooMany("request bytes", MAX_REQUEST as u64))
                    );
                }
                check_request(a).map_err(|m| tree.error(n, ErrorKind::Message(m)))?;
                hc.request = Some(a);
            }
            b"request_url" => {
                if a.first() != Some(&b'/') || a.iter().any(|&c| c <= b' ' || c == 0x7f) {
                    return Err(tree.error(n, ErrorKind::InvalidValue("URL path", a)));
                }
                hc.url = a;
            }
            b"resp_code" => {
                for arg in tree.args(n) {
                    let s = parse_status(arg.text, false).map_err(|k| tree.error(n, k))?;
                    if let Some(w) = hc.codes.get_mut(usize::from(s / 64)) {
                        *w |= 1 << (s % 64);
                    }
                }
            }
            b"resp_crc32" => {
                hc.crc = if a.eq_ignore_ascii_case(b"auto") {
                    Crc::Auto
                } else {
                    let hex = a
                        .strip_prefix(b"0x")
                        .or_else(|| a.strip_prefix(b"0X"))
                        .unwrap_or(a);
                    let v = core::str::from_utf8(hex)
                        .ok()
                        .filter(|h| !h.is_empty() && h.len() <= 8)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .ok_or_else(|| tree.error(n, ErrorKind::InvalidValue("CRC-32", a)))?;
                    Crc::Is(v)
                };
            }
            b"timeout" => {
                hc.secs = parse_secs(a, MAX_INT).map_err(|k| tree.error(n, k))?;
                if hc.secs == 0 {
                    return Err(tree.error(n, ErrorKind::Message("must be 1 s or more")));
                }
            }
            _ => {}
        }
    }
    if hc.codes.iter().all(|&w| w == 0) && !matches!(hc.crc, Crc::Is(_)) {
        return Err(tree.error(
            node,
            ErrorKind::Message("needs 'resp_code' or an explicit (not 'auto') 'resp_crc32'"),
        ));
    }
    Ok(hc)
}

/// The monitor named `name` (case-insensitive): a `health_check` block, or the built-in
/// `auto` one (which a block of that name replaces). `None` if there is no such monitor.
pub fn find_health_check<'s>(
    tree: &Tree<'s, '_>,
    name: &[u8],
) -> Option<Result<HealthCheck<'s>, Error<'s>>> {
    let node = tree.top_level().find(|n| {
        is_dir(tree, n, b"health_check") && first_arg(tree, n).eq_ignore_ascii_case(name)
    });
    match node {
        Some(n) => Some(parse_health_check(tree, n)),
        None if name.eq_ignore_ascii_case(AUTO.as_bytes()) => Some(Ok(HealthCheck {
            name: AUTO,
            line: 0,
            request: None,
            url: b"/",
            codes: code_bit(200),
            crc: Crc::Auto,
            secs: DEFAULT_SECS,
        })),
        None => None,
    }
}

const fn code_bit(status: u16) -> [u64; 10] {
    let mut c = [0u64; 10];
    c[(status / 64) as usize] = 1 << (status % 64);
    c
}

/// Checks a `health NAME` directive: the monitor exists, and some `server_failover_http` says
/// what makes a server unhealthy (Tempesta refuses monitoring without one).
pub fn check_health<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<HealthCheck<'s>, Error<'s>> {
    let name = first_arg(tree, node);
    let hc = find_health_check(tree, name)
        .ok_or_else(|| tree.error(node, ErrorKind::Message("no health_check of this name")))??;
    if !tree
        .top_level()
        .any(|n| is_dir(tree, n, b"server_failover_http"))
    {
        return Err(tree.error(
            node,
            ErrorKind::Message("health monitoring needs a 'server_failover_http' directive"),
        ));
    }
    Ok(hc)
}

/// The probe request of a `request` argument: escapes `\r`, `\n`, `\t` become CR, LF, tab
/// (Tempesta's examples write `"GET / HTTP/1.1\r\n\r\n"`), any other `\X` is `X`. `None` if
/// `out` is too short.
pub fn decode_request<'o>(raw: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let mut n = 0usize;
    for c in decoded(raw) {
        *out.get_mut(n)? = c;
        n = n.checked_add(1)?;
    }
    out.get(..n)
}

/// The bytes of a raw `request` argument with its escapes decoded (see [`decode_request`]).
fn decoded(raw: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut esc = false;
    raw.iter().filter_map(move |&c| {
        if c == b'\\' && !esc {
            esc = true;
            return None;
        }
        let was = core::mem::replace(&mut esc, false);
        Some(match (was, c) {
            (true, b'r') => b'\r',
            (true, b'n') => b'\n',
            (true, b't') => b'\t',
            _ => c,
        })
    })
}

/// A light check of a raw probe request (the module parses it fully): a method, a space, a
/// target, a space, a version, the head ending with an empty line. Reads the decoded bytes
/// once, without a buffer (this runs in the kernel too).
fn check_request(raw: &[u8]) -> Result<(), &'static str> {
    // In the request line: the parts seen, each one's length, the version's first bytes.
    let (mut part, mut lens, mut version) = (0usize, [0usize; 3], [0u8; 7]);
    let mut line_done = false;
    let mut last = [0u8; 4];
    for c in decoded(raw) {
        last = [last[1], last[2], last[3], c];
        if line_done {
            continue;
        }
        match c {
            b'\r' | b'\n' => line_done = true,
            b' ' => part = part.saturating_add(1),
            _ => {
                if let Some(l) = lens.get_mut(part) {
                    if part == 2 {
                        if let Some(v) = version.get_mut(*l) {
                            *v = c;
                        }
                    }
                    *l = l.saturating_add(1);
                } else {
                    part = usize::MAX;
                }
            }
        }
    }
    if part != 2 || lens.contains(&0) || &version != b"HTTP/1." {
        return Err("the request must start with 'METHOD TARGET HTTP/1.x'");
    }
    if &last != b"\r\n\r\n" {
        return Err("the request must end with an empty line (\\r\\n\\r\\n)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::with;

    #[test]
    fn stat_codes_of_health_stat() {
        with(
            "health_stat 3* 4* 5*;\nhealth_stat_server 200 404 5*;\n",
            |t| {
                let g = stat_codes(t, b"health_stat").unwrap();
                assert_eq!(&g.codes[..g.n], &[3, 4, 5]);
                let s = stat_codes(t, b"health_stat_server").unwrap();
                assert_eq!(&s.codes[..s.n], &[200, 404, 5]);
            },
        );
        with("listen 80;", |t| {
            assert_eq!(stat_codes(t, b"health_stat"), Ok(StatCodes::default()))
        });
        for bad in [
            "health_stat 6*;",
            "health_stat 99;",
            "health_stat abc;",
            "health_stat_server 4x;",
            "health_stat 200 201 202 203 204 205 206 207 208 209 210 211 212 213 214 215 216;",
        ] {
            let r = with(bad, |t| {
                crate::validate(t, &crate::Options::STRICT).map_err(|e| e.to_string())
            });
            assert!(r.is_err(), "{bad}");
        }
    }

    #[test]
    fn failover() {
        with(
            "server_failover_http 404 300 10;\nserver_failover_http 5* 3 1;\n",
            |t| {
                let mut out = [Failover::EMPTY; MAX_FAILOVER];
                assert_eq!(failover_rules(t, &mut out), Ok(2));
                assert_eq!(out[0].code, 404);
                assert_eq!(
                    (out[1].code, out[1].limit, out[1].secs, out[1].line),
                    (5, 3, 1, 2)
                );
            },
        );
        for bad in [
            "server_failover_http 600 1 1;",
            "server_failover_http 6* 1 1;",
            "server_failover_http 500 x 1;",
            "server_failover_http 500 1 0;",
        ] {
            with(bad, |t| {
                let mut out = [Failover::EMPTY; MAX_FAILOVER];
                assert!(failover_rules(t, &mut out).is_err(), "{bad}");
            });
        }
    }

    #[test]
    fn health_check_block() {
        let src = "health_check h1 {\n request \"GET /st HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n\";\n \
                   request_url \"/st\";\n resp_code 200 204;\n resp_crc32 0x1A2B;\n timeout 3;\n}\n";
        with(src, |t| {
            let hc = find_health_check(t, b"H1").unwrap().unwrap();
            assert_eq!(
                (hc.name, hc.url, hc.secs, hc.crc),
                ("h1", &b"/st"[..], 3, Crc::Is(0x1a2b))
            );
            assert_ne!(hc.codes[200 / 64] & (1 << (200 % 64)), 0);
            assert_ne!(hc.codes[204 / 64] & (1 << (204 % 64)), 0);
            let mut buf = [0u8; MAX_REQUEST];
            assert_eq!(
                decode_request(hc.request.unwrap(), &mut buf),
                Some(&b"GET /st HTTP/1.1\r\nHost: a\r\n\r\n"[..])
            );
            assert!(find_health_check(t, b"h2").is_none());
            assert_eq!(
                find_health_check(t, b"auto").unwrap().unwrap().crc,
                Crc::Auto
            );
        });
        for bad in [
            "health_check h { timeout 1; }",
            "health_check h { resp_crc32 auto; }",
            "health_check h { resp_code 200; request \"GET /\"; }",
            "health_check h { resp_code 200; request \"GET / HTTP/1.1\\r\\n\"; }",
            "health_check h { resp_code 200; timeout 0; }",
            "health_check h { resp_code 20; }",
            "health_check h { resp_crc32 xyz; }",
            "health_check h { resp_code 200; request_url x; }",
        ] {
            with(bad, |t| {
                assert!(find_health_check(t, b"h").unwrap().is_err(), "{bad}")
            });
        }
    }
}
