//! `frang_limits { ... }` (global) and `block_action`: the limits the firewall enforces per
//! client and per request, and what it does to a client that exceeds one.
//!
//! Implemented (the module enforces them): `ip_block`, the request and connection rates and
//! bursts, `concurrent_tcp_connections`, `client_header_timeout`, `client_body_timeout`,
//! `http_header_chunk_cnt`, `http_body_chunk_cnt`, `http_methods`, `http_uri_len`,
//! `http_hdr_len`, `http_header_cnt`, `http_body_len`, `http_strict_host_checking`,
//! `http_ct_required`, `http_ct_vals`, `http_resp_code_block`, and `whitelist_mark`.
//! The others (TLS limits, ...) stay "not supported by tempesta-rs yet": a limit is never
//! accepted and then ignored. A vhost's or location's `frang_limits` holds the per-request
//! limits only, on top of the enclosing level's ([`scope_frang`]).
//!
//! Defaults are Tempesta FW's (`http_limits.c`); they apply when the configuration has a
//! `frang_limits` block. Without one tempesta-rs enforces no frang limit (Tempesta applies its
//! defaults always; doing so here would refuse PUT and DELETE and IP-literal Host headers by
//! default, which no configuration that lacks the block asked for).

use super::error::{Error, ErrorKind};
use super::location::{Levels, Scope};
use super::tree::{Node, Tree};
use super::values::{parse_bool, parse_size, parse_u32_in};

/// `block_action` of one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassAction {
    /// `drop`: reset the connection without a response; `reply`: an error status, then close.
    pub drop: bool,
    /// `nolog`: do not log the event.
    pub nolog: bool,
}

/// `block_action error ...` and `block_action attack ...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockActions {
    /// Malformed requests.
    pub error: ClassAction,
    /// Limits exceeded and filtered requests.
    pub attack: ClassAction,
}

impl Default for BlockActions {
    /// Tempesta's: `error reply`, `attack drop`.
    fn default() -> Self {
        BlockActions {
            error: ClassAction {
                drop: false,
                nolog: false,
            },
            attack: ClassAction {
                drop: true,
                nolog: false,
            },
        }
    }
}

/// HTTP methods `http_methods` may name (Tempesta's list).
pub const METHODS: [&str; 16] = [
    "copy",
    "delete",
    "get",
    "head",
    "lock",
    "mkcol",
    "move",
    "options",
    "patch",
    "post",
    "propfind",
    "proppatch",
    "put",
    "trace",
    "unlock",
    "purge",
];

/// The implemented `frang_limits` values (see the module docs); 0 means "no limit".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frang {
    /// `ip_block`: block an address that exceeds a limit for this many seconds (0: until the
    /// next start); `None`: off.
    pub ip_block: Option<u32>,
    /// Seconds to receive a request's header section.
    pub client_header_timeout: u32,
    /// Seconds between two pieces of a request body.
    pub client_body_timeout: u32,
    /// Most network reads a header section may arrive in.
    pub http_header_chunk_cnt: u32,
    /// Most network reads a body may arrive in.
    pub http_body_chunk_cnt: u32,
    /// Requests per second.
    pub request_rate: u32,
    /// Requests per 1/8 second.
    pub request_burst: u32,
    /// New connections per second.
    pub tcp_connection_rate: u32,
    /// New connections per 1/8 second.
    pub tcp_connection_burst: u32,
    /// Open connections per client (1000).
    pub concurrent_tcp_connections: u32,
    /// Bit `i` allows [`METHODS`]`[i]` (default: get, post, head).
    pub methods: u32,
    /// Longest request-target.
    pub http_uri_len: u32,
    /// Longest header field line.
    pub http_hdr_len: u32,
    /// Most header fields (50).
    pub http_header_cnt: u32,
    /// Longest body (1 GiB).
    pub http_body_len: u64,
    /// Host checks (true).
    pub http_strict_host_checking: bool,
    /// POST needs Content-Type.
    pub http_ct_required: bool,
    /// `http_resp_code_block CODE... LIMIT SECS`.
    pub resp_code_block: Option<RespCodeBlock>,
    /// `X-HTTP-Method-Override` and friends are accepted (false).
    pub method_override_allowed: bool,
    /// A trailer field may repeat a head field (false).
    pub trailer_split_allowed: bool,
}

/// `http_resp_code_block CODE... LIMIT SECS`: a client that gets more than `limit` responses
/// with one of the codes within `secs` seconds is blocked (password guessing, scanning).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RespCodeBlock {
    /// Bit `c - 100` is set for each status code `c` (100..=599).
    pub codes: [u64; 8],
    /// Most such responses in a period.
    pub limit: u32,
    /// The period, seconds (1..=3600).
    pub secs: u32,
}

impl RespCodeBlock {
    /// The status codes, ascending.
    pub fn codes(&self) -> impl Iterator<Item = u16> + '_ {
        (100u16..=599).filter(|&c| {
            let i = usize::from(c - 100);
            self.codes
                .get(i / 64)
                .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
        })
    }
}

fn method_bit(name: &[u8]) -> Option<u32> {
    METHODS
        .iter()
        .position(|m| m.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1u32 << i)
}

impl Default for Frang {
    fn default() -> Self {
        Frang {
            ip_block: None,
            client_header_timeout: 0,
            client_body_timeout: 0,
            http_header_chunk_cnt: 0,
            http_body_chunk_cnt: 0,
            request_rate: 0,
            request_burst: 0,
            tcp_connection_rate: 0,
            tcp_connection_burst: 0,
            concurrent_tcp_connections: 1000,
            methods: method_bit(b"get").unwrap_or(0)
                | method_bit(b"post").unwrap_or(0)
                | method_bit(b"head").unwrap_or(0),
            http_uri_len: 0,
            http_hdr_len: 0,
            http_header_cnt: 50,
            http_body_len: 1 << 30,
            http_strict_host_checking: true,
            http_ct_required: false,
            resp_code_block: None,
            method_override_allowed: false,
            trailer_split_allowed: false,
        }
    }
}

fn is(tree: &Tree<'_, '_>, n: &Node, name: &[u8]) -> bool {
    !n.is_rule() && tree.name(n) == name
}

/// Checks a `block_action` node; returns (is attack, its action).
pub(crate) fn check_block_action<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<(bool, ClassAction), Error<'s>> {
    let arg = |i| tree.arg(node, i).map_or(&b""[..], |a| a.text);
    let attack = match arg(0) {
        a if a.eq_ignore_ascii_case(b"attack") => true,
        a if a.eq_ignore_ascii_case(b"error") => false,
        a => return Err(tree.error(node, ErrorKind::InvalidValue("block_action class", a))),
    };
    let drop = match arg(1) {
        a if a.eq_ignore_ascii_case(b"drop") => true,
        a if a.eq_ignore_ascii_case(b"reply") => false,
        a => return Err(tree.error(node, ErrorKind::InvalidValue("block_action action", a))),
    };
    let nolog = match tree.arg(node, 2) {
        None => false,
        Some(a) if a.text.eq_ignore_ascii_case(b"nolog") => true,
        Some(a) => {
            return Err(tree.error(node, ErrorKind::InvalidValue("block_action flag", a.text)))
        }
    };
    Ok((attack, ClassAction { drop, nolog }))
}

/// `block_action` lines (Tempesta's defaults for a class not named).
pub fn block_actions<'s>(tree: &Tree<'s, '_>) -> Result<BlockActions, Error<'s>> {
    let mut b = BlockActions::default();
    for n in tree.top_level() {
        if is(tree, n, b"block_action") {
            let (attack, a) = check_block_action(tree, n)?;
            if attack {
                b.attack = a;
            } else {
                b.error = a;
            }
        }
    }
    Ok(b)
}

/// Most media types `http_ct_vals` takes.
pub const MAX_CT_VALS: usize = 32;

/// `http_ct_vals TYPE...` of the global `frang_limits` (the last one written): the media types
/// a POST may carry (compared without parameters, case-insensitively). Returns how many it
/// wrote into `out`; 0: any type.
pub fn ct_vals<'s>(
    tree: &Tree<'s, '_>,
    out: &mut [&'s [u8]; MAX_CT_VALS],
) -> Result<usize, Error<'s>> {
    ct_vals_in(tree, tree.top_level(), out, 0)
}

/// `http_ct_vals` of vhost `name`: its own `frang_limits` value, else the global one.
pub fn vhost_ct_vals<'s>(
    tree: &Tree<'s, '_>,
    name: &str,
    out: &mut [&'s [u8]; MAX_CT_VALS],
) -> Result<usize, Error<'s>> {
    scope_ct_vals(tree, Scope::vhost(name), out)
}

/// `http_ct_vals` of `scope`: the innermost level's `frang_limits` value (location, vhost,
/// global).
pub fn scope_ct_vals<'s>(
    tree: &Tree<'s, '_>,
    scope: Scope<'_>,
    out: &mut [&'s [u8]; MAX_CT_VALS],
) -> Result<usize, Error<'s>> {
    let levels = Levels::of(tree, scope);
    let mut n = ct_vals(tree, out)?;
    for level in levels.inner() {
        n = ct_vals_in(tree, level, out, n)?;
    }
    Ok(n)
}

/// The `vhost NAME` block of the configuration.
pub(crate) fn find_vhost<'b>(tree: &Tree<'_, 'b>, name: &str) -> Option<&'b Node> {
    tree.top_level().find(|n| {
        is(tree, n, b"vhost")
            && tree
                .arg(n, 0)
                .is_some_and(|a| a.text.eq_ignore_ascii_case(name.as_bytes()))
    })
}

/// The last `http_ct_vals` of the `frang_limits` blocks among `scope`; `inherited` values
/// already in `out` stay when there is none.
fn ct_vals_in<'s, 'b>(
    tree: &Tree<'s, 'b>,
    scope: super::tree::Nodes<'b>,
    out: &mut [&'s [u8]; MAX_CT_VALS],
    inherited: usize,
) -> Result<usize, Error<'s>> {
    let mut n = inherited;
    for f in scope.filter(|n| is(tree, n, b"frang_limits")) {
        for node in tree.children(f).filter(|c| is(tree, c, b"http_ct_vals")) {
            check_ct_vals(tree, node)?;
            n = 0;
            for a in tree.args(node) {
                let slot = out.get_mut(n).ok_or_else(|| {
                    tree.error(node, ErrorKind::Message("more than 32 media types"))
                })?;
                *slot = a.text;
                n = n.saturating_add(1);
            }
        }
    }
    Ok(n)
}

/// A media type is a token with no whitespace and no parameters.
fn check_ct_vals<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<(), Error<'s>> {
    for a in tree.args(node) {
        let t = a.text;
        let bad = |c: &u8| c.is_ascii_whitespace() || *c == b';';
        if t.is_empty() || a.escaped || t.iter().any(bad) {
            return Err(tree.error(node, ErrorKind::InvalidValue("media type", t)));
        }
    }
    if tree.arg_count(node) > MAX_CT_VALS {
        return Err(tree.error(node, ErrorKind::Message("more than 32 media types")));
    }
    Ok(())
}

/// Most marks `whitelist_mark` takes.
pub const MAX_WHITELIST_MARKS: usize = 64;

/// `whitelist_mark N...`: connections whose packets carry one of these netfilter marks bypass
/// frang. Returns how many marks it wrote into `out` (all `whitelist_mark` lines together;
/// duplicates kept). Mark 0 is refused: it is "no mark", and whitelisting it would exempt all
/// unmarked traffic.
pub fn whitelist_marks<'s>(
    tree: &Tree<'s, '_>,
    out: &mut [u32; MAX_WHITELIST_MARKS],
) -> Result<usize, Error<'s>> {
    let mut n = 0usize;
    for node in tree.top_level().filter(|n| is(tree, n, b"whitelist_mark")) {
        for a in tree.args(node) {
            let m = parse_u32_in(a.text, 1, u32::MAX).map_err(|k| tree.error(node, k))?;
            let slot = out.get_mut(n).ok_or_else(|| {
                tree.error(node, ErrorKind::Message("more than 64 whitelist marks"))
            })?;
            *slot = m;
            n = n.saturating_add(1);
        }
    }
    Ok(n)
}

/// Checks one child of a global `frang_limits` block and applies it to `f`.
pub(crate) fn apply_limit<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
    f: &mut Frang,
) -> Result<(), Error<'s>> {
    let name = tree.name(node);
    let first = tree.arg(node, 0).map_or(&b""[..], |a| a.text);
    let u32_arg = || parse_u32_in(first, 0, u32::MAX).map_err(|k| tree.error(node, k));
    // A flag written without a value means true, as in Tempesta.
    let flag = || match tree.arg(node, 0) {
        None => Ok(true),
        Some(a) => parse_bool(a.text).map_err(|k| tree.error(node, k)),
    };
    match name {
        b"ip_block" => {
            f.ip_block = match tree.arg(node, 0).map(|a| a.text) {
                None => Some(0),
                Some(a) if a.eq_ignore_ascii_case(b"on") => Some(0),
                Some(a) if a.eq_ignore_ascii_case(b"off") => None,
                Some(_) => Some(u32_arg()?),
            }
        }
        b"client_header_timeout" => f.client_header_timeout = u32_arg()?,
        b"client_body_timeout" => f.client_body_timeout = u32_arg()?,
        b"http_header_chunk_cnt" => f.http_header_chunk_cnt = u32_arg()?,
        b"http_body_chunk_cnt" => f.http_body_chunk_cnt = u32_arg()?,
        b"request_rate" => f.request_rate = u32_arg()?,
        b"request_burst" => f.request_burst = u32_arg()?,
        b"tcp_connection_rate" => f.tcp_connection_rate = u32_arg()?,
        b"tcp_connection_burst" => f.tcp_connection_burst = u32_arg()?,
        b"concurrent_tcp_connections" => f.concurrent_tcp_connections = u32_arg()?,
        b"http_uri_len" => f.http_uri_len = u32_arg()?,
        b"http_hdr_len" => f.http_hdr_len = u32_arg()?,
        b"http_header_cnt" => f.http_header_cnt = u32_arg()?,
        b"http_body_len" => f.http_body_len = parse_size(first).map_err(|k| tree.error(node, k))?,
        b"http_strict_host_checking" => f.http_strict_host_checking = flag()?,
        b"http_ct_required" => f.http_ct_required = flag()?,
        b"http_method_override_allowed" => f.method_override_allowed = flag()?,
        b"http_trailer_split_allowed" => f.trailer_split_allowed = flag()?,
        b"http_ct_vals" => check_ct_vals(tree, node)?,
        b"http_resp_code_block" => {
            let n = tree.arg_count(node);
            let arg = |i: usize| tree.arg(node, i).map_or(&b""[..], |a| a.text);
            let mut r = RespCodeBlock {
                codes: [0; 8],
                limit: parse_u32_in(arg(n.saturating_sub(2)), 1, u32::MAX)
                    .map_err(|k| tree.error(node, k))?,
                secs: parse_u32_in(arg(n.saturating_sub(1)), 1, 3600)
                    .map_err(|k| tree.error(node, k))?,
            };
            for i in 0..n.saturating_sub(2) {
                let c = parse_u32_in(arg(i), 100, 599).map_err(|k| tree.error(node, k))?;
                let bit = (c - 100) as usize;
                if let Some(w) = r.codes.get_mut(bit / 64) {
                    *w |= 1u64 << (bit % 64);
                }
            }
            f.resp_code_block = Some(r);
        }
        b"http_methods" => {
            let mut m = 0u32;
            for a in tree.args(node) {
                m |= method_bit(a.text)
                    .ok_or_else(|| tree.error(node, ErrorKind::InvalidValue("method", a.text)))?;
            }
            f.methods = m;
        }
        _ => {}
    }
    Ok(())
}

/// `ip_block` needs `block_action attack drop`: a reply would answer a client whose packets
/// the block then drops, so the close never completes (Tempesta refuses it too).
pub(crate) fn check_ip_block<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<(), Error<'s>> {
    let on = !matches!(tree.arg(node, 0), Some(a) if a.text.eq_ignore_ascii_case(b"off"));
    if on && !block_actions(tree)?.attack.drop {
        return Err(tree.error(
            node,
            ErrorKind::Conflict("ip_block needs 'block_action attack drop'"),
        ));
    }
    Ok(())
}

/// The `frang_limits` of vhost `name`, if it has the block: the global values (or Tempesta's
/// defaults without a global block) with the vhost's own on top. Only the per-request limits
/// can be written in a vhost (the schema refuses the others there).
pub fn vhost_frang<'s>(tree: &Tree<'s, '_>, name: &str) -> Result<Option<Frang>, Error<'s>> {
    scope_frang(tree, Scope::vhost(name))
}

/// The `frang_limits` of `scope`, if the vhost or the location has the block: the global values
/// (or Tempesta's defaults without a global block), the vhost's on top, the location's on top
/// of those. `None`: neither has one (the global limits apply as they are). A location's
/// `http_resp_code_block` may also stand outside its `frang_limits` block.
pub fn scope_frang<'s>(tree: &Tree<'s, '_>, scope: Scope<'_>) -> Result<Option<Frang>, Error<'s>> {
    let levels = Levels::of(tree, scope);
    let mut out: Option<Frang> = None;
    let vhost = levels.vhost.into_iter().map(|l| (l, false));
    for (level, in_location) in vhost.chain(levels.location.into_iter().map(|l| (l, true))) {
        for n in level {
            let limits = if is(tree, n, b"frang_limits") {
                Some(tree.children(n))
            } else {
                None
            };
            let direct = in_location && is(tree, n, b"http_resp_code_block");
            if limits.is_none() && !direct {
                continue;
            }
            if out.is_none() {
                out = Some(frang(tree)?.unwrap_or_default());
            }
            if let Some(f) = out.as_mut() {
                match limits {
                    Some(children) => {
                        for c in children {
                            apply_limit(tree, c, f)?;
                        }
                    }
                    None => apply_limit(tree, n, f)?,
                }
            }
        }
    }
    Ok(out)
}

/// The global `frang_limits`, if the configuration has the block (see the module docs).
pub fn frang<'s>(tree: &Tree<'s, '_>) -> Result<Option<Frang>, Error<'s>> {
    let mut out: Option<Frang> = None;
    for n in tree.top_level() {
        if is(tree, n, b"frang_limits") {
            let f = out.get_or_insert_with(Frang::default);
            for c in tree.children(n) {
                apply_limit(tree, c, f)?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::with;
    use crate::{validate, Options};

    fn get(src: &str) -> Result<(Option<Frang>, BlockActions), String> {
        with(src, |t| {
            validate(t, &Options::STRICT).map_err(|e| e.to_string())?;
            Ok((
                frang(t).map_err(|e| e.to_string())?,
                block_actions(t).map_err(|e| e.to_string())?,
            ))
        })
    }

    #[test]
    fn ct_vals_parse() {
        let src = "frang_limits { http_ct_vals text/plain \"application/json\"; }";
        let got = with(src, |t| {
            let mut out = [&b""[..]; MAX_CT_VALS];
            let n = ct_vals(t, &mut out).unwrap();
            out[..n]
                .iter()
                .map(|v| v.to_vec())
                .collect::<std::vec::Vec<_>>()
        });
        assert_eq!(got, [b"text/plain".to_vec(), b"application/json".to_vec()]);
        with("frang_limits { }", |t| {
            let mut out = [&b""[..]; MAX_CT_VALS];
            assert_eq!(ct_vals(t, &mut out), Ok(0));
        });
        let e = get("frang_limits { http_ct_vals \"text/plain; charset=utf-8\"; }").unwrap_err();
        assert!(e.contains("invalid media type"), "{e}");
    }

    #[test]
    fn resp_code_block() {
        let (f, _) = get("frang_limits { http_resp_code_block 401 403 404 5 10; }").unwrap();
        let r = f.unwrap().resp_code_block.unwrap();
        assert_eq!((r.limit, r.secs), (5, 10));
        assert_eq!(r.codes().collect::<std::vec::Vec<_>>(), [401, 403, 404]);
        for (src, want) in [
            (
                "http_resp_code_block 404 0 10",
                "value '0' out of range [1, 4294967295]",
            ),
            (
                "http_resp_code_block 404 5 0",
                "value '0' out of range [1, 3600]",
            ),
            (
                "http_resp_code_block 99 5 10",
                "value '99' out of range [100, 599]",
            ),
            ("http_resp_code_block 5 10", "expected"),
        ] {
            let e = get(&std::format!("frang_limits {{ {src}; }}")).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
        }
    }

    #[test]
    fn whitelist_marks_parse() {
        let mut out = [0u32; MAX_WHITELIST_MARKS];
        with("whitelist_mark 1 7;\nwhitelist_mark ten;\n", |t| {
            assert!(whitelist_marks(t, &mut out).is_err());
        });
        with("whitelist_mark 1 7;\nwhitelist_mark 9;\n", |t| {
            assert_eq!(whitelist_marks(t, &mut out), Ok(3));
        });
        assert_eq!(out[..3], [1, 7, 9]);
        with("whitelist_mark 0;\n", |t| {
            assert!(whitelist_marks(t, &mut out).is_err());
        });
        assert_eq!(
            get("whitelist_mark 0;\n").unwrap_err(),
            "line 1: directive 'whitelist_mark': value '0' out of range [1, 4294967295]"
        );
    }

    #[test]
    fn tempesta_example_loads() {
        let (f, b) = get(include_str!("../tests/data/tempesta_fw.conf")).unwrap();
        let f = f.unwrap();
        assert_eq!((f.request_rate, f.request_burst), (200, 25));
        assert_eq!((f.tcp_connection_rate, f.tcp_connection_burst), (100, 10));
        assert_eq!(f.concurrent_tcp_connections, 500);
        let names: Vec<_> = (0..METHODS.len())
            .filter(|i| f.methods & (1 << i) != 0)
            .map(|i| METHODS[i])
            .collect();
        assert_eq!(names, ["delete", "get", "head", "post", "put"]);
        assert_eq!(b, BlockActions::default());
        assert_eq!(f.http_header_cnt, 50);
    }

    #[test]
    fn ip_block_and_timeouts() {
        let f = |src: &str| get(src).unwrap().0.unwrap();
        assert_eq!(f("frang_limits { ip_block 60; }\n").ip_block, Some(60));
        assert_eq!(f("frang_limits { ip_block; }\n").ip_block, Some(0));
        assert_eq!(f("frang_limits { ip_block on; }\n").ip_block, Some(0));
        assert_eq!(
            f("frang_limits { ip_block off; }\nblock_action attack reply;\n").ip_block,
            None
        );
        let t = f(
            "frang_limits { client_header_timeout 5; client_body_timeout 7; \
                   http_header_chunk_cnt 10; http_body_chunk_cnt 20; }\n",
        );
        assert_eq!(
            (
                t.client_header_timeout,
                t.client_body_timeout,
                t.http_header_chunk_cnt,
                t.http_body_chunk_cnt
            ),
            (5, 7, 10, 20)
        );
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(
            get("listen 80;\n").unwrap(),
            (None, BlockActions::default())
        );
        let (f, b) = get(
            "frang_limits { http_uri_len 100; http_body_len 1M; http_ct_required; \
             http_strict_host_checking false; }\nblock_action attack reply nolog;\n\
             block_action error drop;\n",
        )
        .unwrap();
        let f = f.unwrap();
        assert_eq!((f.http_uri_len, f.http_body_len), (100, 1 << 20));
        assert!(f.http_ct_required && !f.http_strict_host_checking);
        assert!(!b.attack.drop && b.attack.nolog && b.error.drop && !b.error.nolog);
    }

    #[test]
    fn errors() {
        let e = |s: &str| get(s).unwrap_err();
        assert_eq!(
            e("block_action fatal drop;\n"),
            "line 1: directive 'block_action': invalid block_action class 'fatal'"
        );
        assert_eq!(
            e("block_action attack ignore;\n"),
            "line 1: directive 'block_action': invalid block_action action 'ignore'"
        );
        assert_eq!(
            e("block_action attack drop loud;\n"),
            "line 1: directive 'block_action': invalid block_action flag 'loud'"
        );
        assert_eq!(
            e("frang_limits { http_methods get fetch; }\n"),
            "line 1: directive 'http_methods': invalid method 'fetch'"
        );
        assert_eq!(
            e("frang_limits { request_rate -1; }\n"),
            "line 1: directive 'request_rate': invalid integer '-1'"
        );
        assert_eq!(
            e("frang_limits { ip_block 60; }\nblock_action attack reply;\n"),
            "line 1: directive 'ip_block': ip_block needs 'block_action attack drop'"
        );
        assert_eq!(
            e("frang_limits { ip_block 1h; }\n"),
            "line 1: directive 'ip_block': invalid integer '1h'"
        );
        assert_eq!(
            e("srv_group g { server 127.0.0.1:80; }\nvhost v { proxy_pass g; frang_limits { request_rate 5; } }\n"),
            "line 2: directive 'request_rate': not allowed in vhost/location frang_limits"
        );
    }

    #[test]
    fn per_location_limits_inherit_the_vhost_ones() {
        let src = "frang_limits { http_uri_len 100; http_ct_vals a/b; }\n\
                   srv_group g { server 127.0.0.1:80; }\n\
                   vhost v { proxy_pass g; frang_limits { http_body_len 10; }\n\
                   location prefix /up { frang_limits { http_uri_len 20; http_ct_vals c/d; } }\n\
                   location prefix /login { http_resp_code_block 401 403 5 60; }\n\
                   location prefix /plain { } }\n\
                   vhost w { proxy_pass g; location prefix /x { frang_limits { http_ct_required; } } }\n";
        with(src, |t| {
            validate(t, &Options::STRICT).unwrap();
            let mut locs = [crate::Location::NONE; crate::MAX_LOCATIONS];
            assert_eq!(crate::locations(t, "v", &mut locs), Ok(3));
            let f = |sc| scope_frang(t, sc).unwrap();
            let up = f(Scope::location("v", &locs[0])).unwrap();
            assert_eq!((up.http_uri_len, up.http_body_len), (20, 10));
            let login = f(Scope::location("v", &locs[1])).unwrap();
            assert_eq!((login.http_uri_len, login.http_body_len), (100, 10));
            assert_eq!(login.resp_code_block.map(|r| r.limit), Some(5));
            assert_eq!(f(Scope::location("v", &locs[2])), f(Scope::vhost("v")));
            let mut out = [&b""[..]; MAX_CT_VALS];
            let n = scope_ct_vals(t, Scope::location("v", &locs[0]), &mut out).unwrap();
            assert_eq!(&out[..n], [&b"c/d"[..]]);
            let n = scope_ct_vals(t, Scope::location("v", &locs[2]), &mut out).unwrap();
            assert_eq!(&out[..n], [&b"a/b"[..]]);
            // A location of a vhost without frang_limits: the global values with its own.
            assert_eq!(crate::locations(t, "w", &mut locs), Ok(1));
            let x = f(Scope::location("w", &locs[0])).unwrap();
            assert!(x.http_ct_required);
            assert_eq!(
                (x.http_uri_len, x.http_body_len),
                (100, Frang::default().http_body_len)
            );
            assert_eq!(f(Scope::vhost("w")), None);
        });
        // Per-client limits stay global-only.
        let e = with(
            "srv_group g { server 127.0.0.1:80; }\nvhost v { proxy_pass g;\n\
             location prefix /a { frang_limits { request_rate 5; } } }",
            |t| validate(t, &Options::STRICT).unwrap_err().to_string(),
        );
        assert_eq!(
            e,
            "line 3: directive 'request_rate': not allowed in vhost/location frang_limits"
        );
    }

    #[test]
    fn per_vhost_limits_inherit_the_global_ones() {
        let src = "frang_limits { http_uri_len 100; request_rate 9; http_ct_vals a/b; }\n\
                   srv_group g { server 127.0.0.1:80; }\n\
                   vhost v { proxy_pass g; frang_limits { http_body_len 10; http_methods get put; \
                   http_method_override_allowed; http_ct_vals c/d e/f; } }\n\
                   vhost w { proxy_pass g; }\n";
        let (g, v, w, vals) = with(src, |t| {
            validate(t, &Options::STRICT).unwrap();
            let mut out = [&b""[..]; MAX_CT_VALS];
            let n = vhost_ct_vals(t, "V", &mut out).unwrap();
            let vals: std::vec::Vec<_> = out[..n].iter().map(|v| v.to_vec()).collect();
            let n = vhost_ct_vals(t, "w", &mut out).unwrap();
            assert_eq!(&out[..n], [&b"a/b"[..]]);
            (
                frang(t).unwrap().unwrap(),
                vhost_frang(t, "v").unwrap().unwrap(),
                vhost_frang(t, "w").unwrap(),
                vals,
            )
        });
        assert_eq!((v.http_uri_len, v.request_rate), (100, 9));
        assert_eq!(v.http_body_len, 10);
        assert!(v.method_override_allowed && !g.method_override_allowed);
        assert_ne!(v.methods, g.methods);
        assert_eq!(w, None);
        assert_eq!(vals, [b"c/d".to_vec(), b"e/f".to_vec()]);
    }
}
