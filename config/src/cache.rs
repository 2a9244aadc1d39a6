//! The web cache's directives: `cache`, `cache_methods`, `cache_size`, `cache_ttl`,
//! `cache_purge`, `cache_purge_acl` (global) and `cache_fulfill`, `cache_bypass`,
//! `cache_resp_hdr_del`, `cache_control_ignore`, `cache_use_stale` (global, per vhost and per
//! location).
//!
//! Defaults are Tempesta FW's (`cache.c`): `cache 2`, `cache_methods GET`, `cache_size 256M`,
//! `cache_ttl 0`, no purging, no rules (nothing is cached until a `cache_fulfill` matches).
//!
//! Per vhost and per location, a list directive is inherited as a whole: a vhost that writes
//! any line of it has only its own lines, one that writes none has the global ones, and a
//! location likewise has its own lines or its vhost's (`cache_fulfill` and `cache_bypass`
//! together form one list). See [`Scope`].
//!
//! The accessors do not need [`validate`](fn@super::validate) first (they check what they read),
//! and [`validate`](fn@super::validate) runs them, so a bad value fails validation with its line.

use core::net::IpAddr;
use core::str::FromStr;

use super::error::{Error, ErrorKind};
use super::location::{Levels, Scope};
use super::tree::{Node, Nodes, Tree};
use super::values::{is_tchar, parse_size_in, parse_u32_in, Bounded};

/// Most rules (`cache_fulfill` and `cache_bypass` arguments) in one scope.
pub const MAX_RULES: usize = 64;
/// Most names in one scope for `cache_resp_hdr_del`, `cache_control_ignore` and
/// `cache_use_stale`.
pub const MAX_NAMES: usize = 32;
/// Most `cache_purge_acl` prefixes.
pub const MAX_ACL: usize = 64;

/// Default `cache_size`: 256 MiB.
pub const DEFAULT_SIZE: u64 = 256 << 20;
/// Smallest `cache_size` accepted (one page).
pub const MIN_SIZE: u64 = 4096;

/// The `Cache-Control` directives `cache_control_ignore` can mask (the cache crate's
/// `CcIgnore::NAMES`; compared case-insensitively, whole names only).
pub const CC_IGNORE_NAMES: [&str; 9] = [
    "max-age",
    "s-maxage",
    "no-cache",
    "no-store",
    "private",
    "public",
    "must-revalidate",
    "proxy-revalidate",
    "no-transform",
];

/// How a `cache_fulfill`/`cache_bypass` rule matches the request URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleOp {
    /// `* *`: every request.
    Any,
    /// `eq ARG`: the URI is exactly ARG.
    Eq,
    /// `prefix ARG`: the URI starts with ARG.
    Prefix,
    /// `suffix ARG`: the URI ends with ARG.
    Suffix,
}

/// One `cache_fulfill` or `cache_bypass` match (a line with several arguments gives one rule
/// per argument, in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule<'s> {
    /// The match.
    pub op: RuleOp,
    /// What is matched (`*` for [`RuleOp::Any`]); raw text, never escaped.
    pub arg: &'s [u8],
    /// `cache_fulfill` (true) or `cache_bypass` (false).
    pub fulfill: bool,
}

impl RuleOp {
    /// The operator written `text`: `*`, or `eq`, `prefix`, `suffix` in any case (Tempesta's
    /// match operators, shared by cache rules, `location` and `nonidempotent`).
    pub fn parse(text: &[u8]) -> Option<RuleOp> {
        match text {
            b"*" => Some(RuleOp::Any),
            t if t.eq_ignore_ascii_case(b"eq") => Some(RuleOp::Eq),
            t if t.eq_ignore_ascii_case(b"prefix") => Some(RuleOp::Prefix),
            t if t.eq_ignore_ascii_case(b"suffix") => Some(RuleOp::Suffix),
            _ => None,
        }
    }
}

impl Rule<'_> {
    /// A placeholder to fill output arrays with: `[Rule::NONE; MAX_RULES]`.
    pub const NONE: Rule<'static> = Rule {
        op: RuleOp::Any,
        arg: b"",
        fulfill: false,
    };
}

impl Default for Rule<'_> {
    fn default() -> Self {
        Rule::NONE
    }
}

/// `cache_purge` mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purge {
    /// `cache_purge` or `cache_purge invalidate`: PURGE marks the entry stale.
    Invalidate,
    /// `cache_purge immediate`: PURGE removes the entry.
    Immediate,
}

/// The global cache settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cache {
    /// `cache 0|1|2`: off, sharded, replicated (default 2).
    pub level: u8,
    /// `cache_size` in bytes (default 256 MiB, at least 4096).
    pub size: u64,
    /// `cache_methods` has GET (default: only GET).
    pub get: bool,
    /// `cache_methods` has HEAD.
    pub head: bool,
    /// `cache_methods` has POST.
    pub post: bool,
    /// `cache_ttl` seconds: lifetime of a response without explicit freshness (default 0).
    pub ttl: u32,
    /// `cache_purge [MODE]`; `None` without the directive (PURGE is not allowed).
    pub purge: Option<Purge>,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            level: 2,
            size: DEFAULT_SIZE,
            get: true,
            head: false,
            post: false,
            ttl: 0,
            purge: None,
        }
    }
}

/// A `cache_purge_acl` prefix: a 16-byte address (IPv4 as IPv4-mapped IPv6) and its prefix
/// length in bits (an IPv4 prefix plus 96), as the cache crate's `Cidr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// IPv6 or IPv4-mapped address, network byte order.
    pub addr: [u8; 16],
    /// Prefix length, 0..=128.
    pub prefix: u8,
}

impl Cidr {
    /// A placeholder to fill output arrays with: `[Cidr::NONE; MAX_ACL]` (`::/128`, which
    /// matches no real client).
    pub const NONE: Cidr = Cidr {
        addr: [0; 16],
        prefix: 128,
    };
}

impl Default for Cidr {
    fn default() -> Self {
        Cidr::NONE
    }
}

/// What the walkers call for each item they find (with its line's node).
type Each<'f, 's, T> = dyn FnMut(&Node, T) -> Result<(), Error<'s>> + 'f;

fn is(tree: &Tree<'_, '_>, n: &Node, name: &[u8]) -> bool {
    !n.is_rule() && tree.name(n) == name
}

fn first<'s>(tree: &Tree<'s, '_>, node: &Node) -> &'s [u8] {
    tree.arg(node, 0).map_or(&b""[..], |a| a.text)
}

/// Applies one global setting directive to `c` (others are ignored).
fn apply<'s>(tree: &Tree<'s, '_>, node: &Node, c: &mut Cache) -> Result<(), Error<'s>> {
    let a = first(tree, node);
    match tree.name(node) {
        b"cache" => {
            let v = parse_u32_in(a, 0, 2).map_err(|k| tree.error(node, k))?;
            c.level = u8::try_from(v).unwrap_or(2);
        }
        b"cache_methods" => {
            let (mut get, mut head, mut post) = (false, false, false);
            for m in tree.args(node) {
                match m.text {
                    t if t.eq_ignore_ascii_case(b"GET") => get = true,
                    t if t.eq_ignore_ascii_case(b"HEAD") => head = true,
                    t if t.eq_ignore_ascii_case(b"POST") => post = true,
                    t => return Err(tree.error(node, ErrorKind::InvalidValue("method", t))),
                }
            }
            if !(get || head || post) {
                return Err(tree.error(node, ErrorKind::Message("no method given")));
            }
            (c.get, c.head, c.post) = (get, head, post);
        }
        b"cache_size" => {
            c.size = parse_size_in(a, MIN_SIZE, u64::MAX).map_err(|k| tree.error(node, k))?;
        }
        b"cache_ttl" => c.ttl = parse_u32_in(a, 0, u32::MAX).map_err(|k| tree.error(node, k))?,
        b"cache_purge" => {
            c.purge = Some(match tree.arg(node, 0) {
                None => Purge::Invalidate,
                Some(m) if m.text.eq_ignore_ascii_case(b"invalidate") => Purge::Invalidate,
                Some(m) if m.text.eq_ignore_ascii_case(b"immediate") => Purge::Immediate,
                Some(m) => {
                    return Err(
                        tree.error(node, ErrorKind::InvalidValue("cache_purge mode", m.text))
                    )
                }
            });
        }
        _ => {}
    }
    Ok(())
}

/// The global settings (`cache`, `cache_methods`, `cache_size`, `cache_ttl`, `cache_purge`),
/// Tempesta's defaults for those not written; the last line of a directive wins.
pub fn cache<'s>(tree: &Tree<'s, '_>) -> Result<Cache, Error<'s>> {
    let mut c = Cache::default();
    for n in tree.top_level() {
        apply(tree, n, &mut c)?;
    }
    Ok(c)
}

/// Calls `f` on each rule of one `cache_fulfill`/`cache_bypass` node.
fn node_rules<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
    fulfill: bool,
    f: &mut Each<'_, 's, Rule<'s>>,
) -> Result<(), Error<'s>> {
    let op_text = first(tree, node);
    let op = RuleOp::parse(op_text)
        .ok_or_else(|| tree.error(node, ErrorKind::InvalidValue("operator", op_text)))?;
    if tree.arg_count(node) < 2 {
        return Err(tree.error(
            node,
            ErrorKind::ArgCount {
                min: 2,
                max: super::schema::MANY,
                got: tree.arg_count(node),
            },
        ));
    }
    if op == RuleOp::Any {
        if tree.arg_count(node) != 2 || !matches!(tree.arg(node, 1), Some(a) if a.text == b"*") {
            return Err(tree.error(
                node,
                ErrorKind::Message("with '*' the only argument must be '*'"),
            ));
        }
        return f(
            node,
            Rule {
                op,
                arg: b"*",
                fulfill,
            },
        );
    }
    for a in tree.args(node).skip(1) {
        let bad = |c: &u8| c.is_ascii_whitespace() || c.is_ascii_control();
        if a.text.is_empty() || a.escaped || a.text.iter().any(bad) {
            return Err(tree.error(node, ErrorKind::InvalidValue("rule argument", a.text)));
        }
        f(
            node,
            Rule {
                op,
                arg: a.text,
                fulfill,
            },
        )?;
    }
    Ok(())
}

/// Calls `f` on each rule of `scope` (its direct children); whether there was any line.
fn scope_rules<'s>(
    tree: &Tree<'s, '_>,
    scope: Nodes<'_>,
    f: &mut Each<'_, 's, Rule<'s>>,
) -> Result<bool, Error<'s>> {
    let mut any = false;
    for n in scope {
        let fulfill = is(tree, n, b"cache_fulfill");
        if fulfill || is(tree, n, b"cache_bypass") {
            any = true;
            node_rules(tree, n, fulfill, f)?;
        }
    }
    Ok(any)
}

/// `cache_fulfill` and `cache_bypass` rules, in file order, into `out`; returns how many.
///
/// The innermost level of `scope` that has any `cache_fulfill`/`cache_bypass` line gives the
/// list: the location's, else the vhost's, else the global one (also for a vhost or location
/// that does not exist). Every level on the way is checked.
pub fn rules<'s>(
    tree: &Tree<'s, '_>,
    scope: Scope<'_>,
    out: &mut [Rule<'s>; MAX_RULES],
) -> Result<usize, Error<'s>> {
    let err = |node: &Node| tree.error(node, ErrorKind::TooMany("cache rules", MAX_RULES as u64));
    let levels = Levels::of(tree, scope);
    let mut n = 0usize;
    scope_rules(tree, levels.global.clone(), &mut |node, r| {
        *out.get_mut(n).ok_or_else(|| err(node))? = r;
        n = n.saturating_add(1);
        Ok(())
    })?;
    for level in levels.inner() {
        // Check for own lines first (without writing) so that the outer list stays otherwise.
        if scope_rules(tree, level.clone(), &mut |_, _| Ok(()))? {
            n = 0;
            scope_rules(tree, level, &mut |node, r| {
                *out.get_mut(n).ok_or_else(|| err(node))? = r;
                n = n.saturating_add(1);
                Ok(())
            })?;
        }
    }
    Ok(n)
}

/// Which name list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    RespHdrDel,
    CcIgnore,
    UseStale,
}

impl List {
    const fn directive(self) -> &'static [u8] {
        match self {
            List::RespHdrDel => b"cache_resp_hdr_del",
            List::CcIgnore => b"cache_control_ignore",
            List::UseStale => b"cache_use_stale",
        }
    }

    const fn what(self) -> &'static str {
        match self {
            List::RespHdrDel => "header name",
            List::CcIgnore => "Cache-Control directive",
            List::UseStale => "status code or class",
        }
    }

    const fn too_many(self) -> &'static str {
        match self {
            List::RespHdrDel => "cache_resp_hdr_del names",
            List::CcIgnore => "cache_control_ignore names",
            List::UseStale => "cache_use_stale codes",
        }
    }

    fn valid(self, t: &[u8]) -> bool {
        match self {
            List::RespHdrDel => !t.is_empty() && t.iter().all(|&c| is_tchar(c)),
            List::CcIgnore => CC_IGNORE_NAMES
                .iter()
                .any(|n| n.as_bytes().eq_ignore_ascii_case(t)),
            List::UseStale => valid_stale(t),
        }
    }
}

/// The cache crate's `StaleCodes::with_token`: `4*`, `5*`, or digits whose value is
/// 400..=599.
fn valid_stale(t: &[u8]) -> bool {
    if t == b"4*" || t == b"5*" {
        return true;
    }
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let v = t.iter().fold(0u32, |v, &c| {
        v.saturating_mul(10)
            .saturating_add(u32::from(c.wrapping_sub(b'0')))
    });
    (400..=599).contains(&v)
}

/// Calls `f` on each name of `list` in `scope`; whether there was any line.
fn scope_names<'s>(
    tree: &Tree<'s, '_>,
    scope: Nodes<'_>,
    list: List,
    f: &mut Each<'_, 's, &'s [u8]>,
) -> Result<bool, Error<'s>> {
    let mut any = false;
    for node in scope.filter(|n| is(tree, n, list.directive())) {
        any = true;
        if tree.arg_count(node) == 0 {
            return Err(tree.error(
                node,
                ErrorKind::ArgCount {
                    min: 1,
                    max: super::schema::MANY,
                    got: 0,
                },
            ));
        }
        for a in tree.args(node) {
            if a.escaped || !list.valid(a.text) {
                return Err(tree.error(node, ErrorKind::InvalidValue(list.what(), a.text)));
            }
            f(node, a.text)?;
        }
    }
    Ok(any)
}

fn names<'s>(
    tree: &Tree<'s, '_>,
    scope: Scope<'_>,
    list: List,
    out: &mut [&'s [u8]; MAX_NAMES],
) -> Result<usize, Error<'s>> {
    let err = |node: &Node| tree.error(node, ErrorKind::TooMany(list.too_many(), MAX_NAMES as u64));
    let levels = Levels::of(tree, scope);
    let mut n = 0usize;
    scope_names(tree, levels.global.clone(), list, &mut |node, t| {
        *out.get_mut(n).ok_or_else(|| err(node))? = t;
        n = n.saturating_add(1);
        Ok(())
    })?;
    for level in levels.inner() {
        if scope_names(tree, level.clone(), list, &mut |_, _| Ok(()))? {
            n = 0;
            scope_names(tree, level, list, &mut |node, t| {
                *out.get_mut(n).ok_or_else(|| err(node))? = t;
                n = n.saturating_add(1);
                Ok(())
            })?;
        }
    }
    Ok(n)
}

/// `cache_resp_hdr_del NAME...`: header fields removed from responses before they are stored
/// (tokens; all lines of the scope together). Same inheritance as [`rules`].
pub fn resp_hdr_del<'s>(
    tree: &Tree<'s, '_>,
    scope: Scope<'_>,
    out: &mut [&'s [u8]; MAX_NAMES],
) -> Result<usize, Error<'s>> {
    names(tree, scope, List::RespHdrDel, out)
}

/// `cache_control_ignore NAME...`: response Cache-Control directives the cache ignores (one
/// of [`CC_IGNORE_NAMES`], any case). Same inheritance as [`rules`].
pub fn cc_ignore<'s>(
    tree: &Tree<'s, '_>,
    scope: Scope<'_>,
    out: &mut [&'s [u8]; MAX_NAMES],
) -> Result<usize, Error<'s>> {
    names(tree, scope, List::CcIgnore, out)
}

/// `cache_use_stale TOKEN...`: statuses on which a stale entry may be served (`4*`, `5*` or a
/// code 400..=599). Same inheritance as [`rules`].
pub fn use_stale<'s>(
    tree: &Tree<'s, '_>,
    scope: Scope<'_>,
    out: &mut [&'s [u8]; MAX_NAMES],
) -> Result<usize, Error<'s>> {
    names(tree, scope, List::UseStale, out)
}

/// Parses `ADDR[/PREFIX]` (IPv4 prefix 0..=32, IPv6 0..=128).
fn parse_cidr(t: &[u8]) -> Result<Cidr, ErrorKind<'_>> {
    let (addr, prefix) = match t.iter().position(|&c| c == b'/') {
        Some(i) => (t.get(..i).unwrap_or(b""), t.get(i.saturating_add(1)..)),
        None => (t, None),
    };
    let ip = core::str::from_utf8(addr)
        .ok()
        .and_then(|s| IpAddr::from_str(s).ok())
        .ok_or(ErrorKind::InvalidAddress(t))?;
    let (bytes, max, base) = match ip {
        IpAddr::V4(v4) => (v4.to_ipv6_mapped().octets(), 32u32, 96u8),
        IpAddr::V6(v6) => (v6.octets(), 128u32, 0u8),
    };
    let bits = match prefix {
        None => max,
        Some(p) if !p.is_empty() && p.iter().all(u8::is_ascii_digit) => parse_u32_in(p, 0, max)?,
        Some(_) => return Err(ErrorKind::InvalidAddress(t)),
    };
    let bits = u8::try_from(bits).map_err(|_| ErrorKind::InvalidAddress(t))?;
    Ok(Cidr {
        addr: bytes,
        prefix: bits.saturating_add(base),
    })
}

/// Calls `f` on each `cache_purge_acl` prefix, in order.
fn each_cidr<'s>(tree: &Tree<'s, '_>, f: &mut Each<'_, 's, Cidr>) -> Result<(), Error<'s>> {
    for node in tree.top_level().filter(|n| is(tree, n, b"cache_purge_acl")) {
        for a in tree.args(node) {
            f(node, parse_cidr(a.text).map_err(|k| tree.error(node, k))?)?;
        }
    }
    Ok(())
}

fn too_many_acl<'s>(tree: &Tree<'s, '_>, node: &Node) -> Error<'s> {
    tree.error(
        node,
        ErrorKind::TooMany("cache_purge_acl prefixes", MAX_ACL as u64),
    )
}

/// `cache_purge_acl ADDR[/PREFIX]...`: the clients allowed to PURGE (all lines together, in
/// order, into `out`; returns how many). IPv4 addresses are IPv4-mapped with the prefix plus
/// 96; without `/PREFIX` the address alone (/32, /128).
pub fn purge_acl<'s>(tree: &Tree<'s, '_>, out: &mut [Cidr; MAX_ACL]) -> Result<usize, Error<'s>> {
    let mut n = 0usize;
    each_cidr(tree, &mut |node, c| {
        *out.get_mut(n).ok_or_else(|| too_many_acl(tree, node))? = c;
        n = n.saturating_add(1);
        Ok(())
    })?;
    Ok(n)
}

/// Validation of every cache directive (run by [`validate`](fn@super::validate) after the schema
/// checks): each accessor over the global scope, every vhost and every location.
pub(crate) fn check<'s>(tree: &Tree<'s, '_>) -> Result<(), Error<'s>> {
    cache(tree)?;
    let mut count = 0usize;
    each_cidr(tree, &mut |node, _| {
        count = count.saturating_add(1);
        if count > MAX_ACL {
            return Err(too_many_acl(tree, node));
        }
        Ok(())
    })?;
    for scope in super::location::all_levels(tree) {
        let mut n = Bounded::new(MAX_RULES, "cache rules");
        scope_rules(tree, scope.clone(), &mut |node, _| n.add(tree, node))?;
        for list in [List::RespHdrDel, List::CcIgnore, List::UseStale] {
            let mut n = Bounded::new(MAX_NAMES, list.too_many());
            scope_names(tree, scope.clone(), list, &mut |node, _| n.add(tree, node))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::with;
    use crate::{validate, Options};
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// Lenient validation (the directives are not marked supported yet), then `f`.
    fn get<R>(src: &str, f: impl FnOnce(&Tree<'_, '_>) -> R) -> Result<R, String> {
        with(src, |t| {
            validate(t, &Options::LENIENT).map_err(|e| e.to_string())?;
            Ok(f(t))
        })
    }

    fn err(src: &str) -> String {
        with(src, |t| {
            validate(t, &Options::LENIENT).unwrap_err().to_string()
        })
    }

    fn rules_of(src: &str, vhost: Option<&str>) -> Vec<(RuleOp, Vec<u8>, bool)> {
        get(src, |t| {
            let mut out = [Rule::NONE; MAX_RULES];
            let n = rules(t, vhost.into(), &mut out).unwrap();
            out[..n]
                .iter()
                .map(|r| (r.op, r.arg.to_vec(), r.fulfill))
                .collect()
        })
        .unwrap()
    }

    type Names = for<'s> fn(
        &Tree<'s, '_>,
        Scope<'_>,
        &mut [&'s [u8]; MAX_NAMES],
    ) -> Result<usize, Error<'s>>;

    fn names_of(src: &str, f: Names, vhost: Option<&str>) -> Vec<Vec<u8>> {
        get(src, |t| {
            let mut out = [&b""[..]; MAX_NAMES];
            let n = f(t, vhost.into(), &mut out).unwrap();
            out[..n].iter().map(|v| v.to_vec()).collect()
        })
        .unwrap()
    }

    #[test]
    fn defaults() {
        get("listen 80;\n", |t| {
            let c = cache(t).unwrap();
            assert_eq!(c, Cache::default());
            assert_eq!(
                (c.level, c.size, c.get, c.head, c.post, c.ttl, c.purge),
                (2, 268_435_456, true, false, false, 0, None)
            );
            let mut r = [Rule::NONE; MAX_RULES];
            assert_eq!(rules(t, Scope::GLOBAL, &mut r), Ok(0));
            assert_eq!(rules(t, Scope::vhost("nope"), &mut r), Ok(0));
            let mut n = [&b""[..]; MAX_NAMES];
            assert_eq!(resp_hdr_del(t, Scope::GLOBAL, &mut n), Ok(0));
            assert_eq!(cc_ignore(t, Scope::GLOBAL, &mut n), Ok(0));
            assert_eq!(use_stale(t, Scope::GLOBAL, &mut n), Ok(0));
            let mut a = [Cidr::NONE; MAX_ACL];
            assert_eq!(purge_acl(t, &mut a), Ok(0));
        })
        .unwrap();
        assert_eq!(Rule::default(), Rule::NONE);
        assert_eq!(Cidr::default(), Cidr::NONE);
    }

    #[test]
    fn global_settings() {
        let c = get(
            "cache 1;\ncache_methods head Post;\ncache_size 1M;\ncache_ttl 3600;\n\
             cache_purge immediate;\n",
            |t| cache(t).unwrap(),
        )
        .unwrap();
        assert_eq!(
            c,
            Cache {
                level: 1,
                size: 1 << 20,
                get: false,
                head: true,
                post: true,
                ttl: 3600,
                purge: Some(Purge::Immediate),
            }
        );
        let c = get("cache 0;\ncache_size 4096;\ncache_purge;\n", |t| {
            cache(t).unwrap()
        })
        .unwrap();
        assert_eq!(
            (c.level, c.size, c.purge),
            (0, 4096, Some(Purge::Invalidate))
        );
        let c = get("cache_purge INVALIDATE;\ncache_ttl 0x10;\n", |t| {
            cache(t).unwrap()
        })
        .unwrap();
        assert_eq!((c.purge, c.ttl), (Some(Purge::Invalidate), 16));
    }

    #[test]
    fn global_errors() {
        for (src, want) in [
            ("cache 3;", "line 1: directive 'cache': value '3' out of range [0, 2]"),
            ("cache on;", "line 1: directive 'cache': invalid integer 'on'"),
            (
                "cache_methods GET PUT;",
                "line 1: directive 'cache_methods': invalid method 'PUT'",
            ),
            (
                "cache_size 0;",
                "line 1: directive 'cache_size': value '0' out of range [4096, 18446744073709551615]",
            ),
            (
                "cache_size 4095;",
                "line 1: directive 'cache_size': value '4095' out of range [4096, 18446744073709551615]",
            ),
            ("cache_size 1.5G;", "line 1: directive 'cache_size': invalid size '1.5G'"),
            ("cache_ttl -1;", "line 1: directive 'cache_ttl': invalid integer '-1'"),
            (
                "cache_ttl 4294967296;",
                "line 1: directive 'cache_ttl': value '4294967296' out of range [0, 4294967295]",
            ),
            (
                "listen 80;\ncache_purge soon;",
                "line 2: directive 'cache_purge': invalid cache_purge mode 'soon'",
            ),
        ] {
            assert_eq!(err(src), want, "{src}");
            // The accessor itself reports the same.
            with(src, |t| assert_eq!(cache(t).unwrap_err().to_string(), want));
        }
    }

    #[test]
    fn rule_forms() {
        let src = "cache_fulfill * *;\ncache_bypass prefix \"/admin\" /private;\n\
                   cache_fulfill EQ /index.html;\ncache_fulfill suffix .jpg;\n";
        assert_eq!(
            rules_of(src, None),
            [
                (RuleOp::Any, b"*".to_vec(), true),
                (RuleOp::Prefix, b"/admin".to_vec(), false),
                (RuleOp::Prefix, b"/private".to_vec(), false),
                (RuleOp::Eq, b"/index.html".to_vec(), true),
                (RuleOp::Suffix, b".jpg".to_vec(), true),
            ]
        );
    }

    #[test]
    fn rule_errors() {
        for (src, want) in [
            (
                "cache_fulfill regex /a;",
                "line 1: directive 'cache_fulfill': invalid operator 'regex'",
            ),
            (
                "cache_fulfill * /a;",
                "line 1: directive 'cache_fulfill': with '*' the only argument must be '*'",
            ),
            (
                "cache_bypass * * *;",
                "line 1: directive 'cache_bypass': with '*' the only argument must be '*'",
            ),
            (
                "listen 80;\ncache_bypass prefix \"\";",
                "line 2: directive 'cache_bypass': invalid rule argument ''",
            ),
            (
                "cache_bypass prefix \"/a b\";",
                "line 1: directive 'cache_bypass': invalid rule argument '/a b'",
            ),
            (
                "cache_bypass prefix \"/a\\\"b\";",
                "line 1: directive 'cache_bypass': invalid rule argument '/a\\\"b'",
            ),
            (
                "server 127.0.0.1;\nvhost v {\n cache_fulfill eq; proxy_pass default;\n}",
                "line 3: directive 'cache_fulfill': expected at least 2 arguments, got 1",
            ),
            (
                "server 127.0.0.1;\nvhost v {\n proxy_pass default; cache_fulfill prefix /a;\n cache_bypass is /b;\n}",
                "line 4: directive 'cache_bypass': invalid operator 'is'",
            ),
        ] {
            assert_eq!(err(src), want, "{src}");
        }
        // The accessor checks without validation, and also an argument-less line.
        with("cache_fulfill;", |t| {
            let mut out = [Rule::NONE; MAX_RULES];
            assert!(rules(t, Scope::GLOBAL, &mut out).is_err());
        });
    }

    #[test]
    fn vhost_inheritance() {
        let src = "server 127.0.0.1;\ncache_fulfill * *;\ncache_resp_hdr_del Set-Cookie;\n\
                   cache_control_ignore no-cache;\ncache_use_stale 5*;\n\
                   vhost own {\n proxy_pass default; cache_bypass prefix /a;\n cache_fulfill suffix .css;\n\
                   cache_resp_hdr_del X-A X-B;\n cache_control_ignore MAX-AGE private;\n\
                   cache_use_stale 404 4*;\n}\n\
                   vhost inherits {\n proxy_pass default;\n}\n";
        assert_eq!(rules_of(src, None), [(RuleOp::Any, b"*".to_vec(), true)]);
        assert_eq!(rules_of(src, Some("inherits")), rules_of(src, None));
        assert_eq!(rules_of(src, Some("missing")), rules_of(src, None));
        assert_eq!(
            rules_of(src, Some("OWN")),
            [
                (RuleOp::Prefix, b"/a".to_vec(), false),
                (RuleOp::Suffix, b".css".to_vec(), true),
            ]
        );
        let v = |f: Names, vh| names_of(src, f, vh);
        assert_eq!(v(resp_hdr_del, None), [b"Set-Cookie".to_vec()]);
        assert_eq!(
            v(resp_hdr_del, Some("own")),
            [b"X-A".to_vec(), b"X-B".to_vec()]
        );
        assert_eq!(v(resp_hdr_del, Some("inherits")), [b"Set-Cookie".to_vec()]);
        assert_eq!(v(cc_ignore, None), [b"no-cache".to_vec()]);
        assert_eq!(
            v(cc_ignore, Some("own")),
            [b"MAX-AGE".to_vec(), b"private".to_vec()]
        );
        assert_eq!(v(cc_ignore, Some("inherits")), [b"no-cache".to_vec()]);
        assert_eq!(v(use_stale, None), [b"5*".to_vec()]);
        assert_eq!(v(use_stale, Some("own")), [b"404".to_vec(), b"4*".to_vec()]);
        assert_eq!(v(use_stale, Some("inherits")), [b"5*".to_vec()]);
        // Several lines of one list add up; a vhost without global rules has only its own.
        let src = "cache_resp_hdr_del A;\ncache_resp_hdr_del B C;\nserver 127.0.0.1;\nvhost v { proxy_pass default; cache_bypass eq /x; }";
        assert_eq!(
            names_of(src, resp_hdr_del, None),
            [b"A".to_vec(), b"B".to_vec(), b"C".to_vec()]
        );
        assert_eq!(rules_of(src, None), []);
        assert_eq!(
            rules_of(src, Some("v")),
            [(RuleOp::Eq, b"/x".to_vec(), false)]
        );
    }

    #[test]
    fn name_lists() {
        for n in CC_IGNORE_NAMES {
            let src = std::format!("cache_control_ignore {n};");
            assert_eq!(names_of(&src, cc_ignore, None), [n.as_bytes().to_vec()]);
        }
        let src = "cache_use_stale 400 599 0404 4* 5*;";
        assert_eq!(names_of(src, use_stale, None).len(), 5);
        for (src, want) in [
            (
                "cache_resp_hdr_del \"X A\";",
                "line 1: directive 'cache_resp_hdr_del': invalid header name 'X A'",
            ),
            (
                "cache_resp_hdr_del X:A;",
                "line 1: directive 'cache_resp_hdr_del': invalid header name 'X:A'",
            ),
            (
                "cache_control_ignore max-agex;",
                "line 1: directive 'cache_control_ignore': invalid Cache-Control directive 'max-agex'",
            ),
            (
                "server 127.0.0.1;\nvhost v {\nproxy_pass default; cache_use_stale 3*;\n}",
                "line 3: directive 'cache_use_stale': invalid status code or class '3*'",
            ),
            (
                "cache_use_stale 399;",
                "line 1: directive 'cache_use_stale': invalid status code or class '399'",
            ),
            (
                "cache_use_stale 600;",
                "line 1: directive 'cache_use_stale': invalid status code or class '600'",
            ),
            (
                "cache_use_stale 4xx;",
                "line 1: directive 'cache_use_stale': invalid status code or class '4xx'",
            ),
        ] {
            assert_eq!(err(src), want, "{src}");
        }
    }

    #[test]
    fn acl() {
        let got = get(
            "cache_purge;\ncache_purge_acl 127.0.0.1 10.0.0.0/8 ::1 2001:db8::/32 0.0.0.0/0;\n",
            |t| {
                let mut out = [Cidr::NONE; MAX_ACL];
                let n = purge_acl(t, &mut out).unwrap();
                out[..n].to_vec()
            },
        )
        .unwrap();
        let mapped = |a: [u8; 4]| {
            let mut m = [0u8; 16];
            m[10] = 0xff;
            m[11] = 0xff;
            m[12..].copy_from_slice(&a);
            m
        };
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        let mut db8 = [0u8; 16];
        db8[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(
            got,
            [
                Cidr {
                    addr: mapped([127, 0, 0, 1]),
                    prefix: 128
                },
                Cidr {
                    addr: mapped([10, 0, 0, 0]),
                    prefix: 104
                },
                Cidr {
                    addr: v6,
                    prefix: 128
                },
                Cidr {
                    addr: db8,
                    prefix: 32
                },
                Cidr {
                    addr: mapped([0, 0, 0, 0]),
                    prefix: 96
                },
            ]
        );
        for (src, want) in [
            (
                "cache_purge_acl 10.0.0.0/33;",
                "line 1: directive 'cache_purge_acl': value '33' out of range [0, 32]",
            ),
            (
                "cache_purge_acl ::/129;",
                "line 1: directive 'cache_purge_acl': value '129' out of range [0, 128]",
            ),
            (
                "cache_purge_acl localhost;",
                "line 1: directive 'cache_purge_acl': invalid address 'localhost'",
            ),
            (
                "cache_purge_acl 1.2.3.4/;",
                "line 1: directive 'cache_purge_acl': invalid address '1.2.3.4/'",
            ),
            (
                "cache_purge_acl 1.2.3.4/x;",
                "line 1: directive 'cache_purge_acl': invalid address '1.2.3.4/x'",
            ),
            (
                "cache_purge_acl [::1];",
                "line 1: directive 'cache_purge_acl': invalid address '[::1]'",
            ),
        ] {
            assert_eq!(err(src), want, "{src}");
        }
    }

    #[test]
    fn limits() {
        let many = |d: &str, item: &str, n: usize| {
            let mut s = String::from(d);
            for i in 0..n {
                s.push(' ');
                s.push_str(&item.replace('N', &i.to_string()));
            }
            s.push(';');
            s
        };
        // Exactly at the limit: fine.
        let src = many("cache_fulfill prefix", "/N", MAX_RULES);
        assert_eq!(rules_of(&src, None).len(), MAX_RULES);
        let src = many("cache_resp_hdr_del", "xN", MAX_NAMES);
        assert_eq!(names_of(&src, resp_hdr_del, None).len(), MAX_NAMES);
        let src = many("cache_purge_acl", "10.0.0.N", MAX_ACL);
        get(&src, |t| {
            let mut out = [Cidr::NONE; MAX_ACL];
            assert_eq!(purge_acl(t, &mut out), Ok(MAX_ACL));
        })
        .unwrap();
        // One more: refused, by validation and by the accessors.
        let src = std::format!(
            "listen 80;\n{}",
            many("cache_bypass suffix", ".N", MAX_RULES + 1)
        );
        assert_eq!(
            err(&src),
            "line 2: directive 'cache_bypass': too many cache rules (max 64)"
        );
        with(&src, |t| {
            let mut out = [Rule::NONE; MAX_RULES];
            assert_eq!(
                rules(t, Scope::GLOBAL, &mut out).unwrap_err().to_string(),
                "line 2: directive 'cache_bypass': too many cache rules (max 64)"
            );
        });
        let src = std::format!(
            "server 127.0.0.1;\nvhost v {{ proxy_pass default;\n{}\n}}",
            many("cache_use_stale", "4*", MAX_NAMES + 1)
        );
        assert_eq!(
            err(&src),
            "line 3: directive 'cache_use_stale': too many cache_use_stale codes (max 32)"
        );
        let src = std::format!(
            "cache_control_ignore public;\n{}",
            many("cache_control_ignore", "private", MAX_NAMES)
        );
        assert_eq!(
            err(&src),
            "line 2: directive 'cache_control_ignore': too many cache_control_ignore names (max 32)"
        );
        let src = many("cache_purge_acl", "::N", MAX_ACL + 1);
        assert_eq!(
            err(&src),
            "line 1: directive 'cache_purge_acl': too many cache_purge_acl prefixes (max 64)"
        );
        with(&src, |t| {
            let mut out = [Cidr::NONE; MAX_ACL];
            assert!(purge_acl(t, &mut out).is_err());
        });
    }

    #[test]
    fn location_inheritance() {
        let src = "server 127.0.0.1;\ncache_fulfill * *;\ncache_use_stale 5*;\n\
                   vhost v {\n proxy_pass default;\n cache_bypass prefix /x;\n\
                   location prefix /own {\n  cache_fulfill eq /own/a;\n  cache_use_stale 404;\n }\n\
                   location prefix /inh { }\n}\n\
                   location prefix /top { cache_bypass * *; }\n";
        let _ = get(src, |t| {
            let mut locs = [crate::Location::NONE; crate::MAX_LOCATIONS];
            let n = crate::locations(t, "v", &mut locs).unwrap();
            assert_eq!(n, 2);
            let r = |scope| {
                let mut out = [Rule::NONE; MAX_RULES];
                let n = rules(t, scope, &mut out).unwrap();
                out[..n]
                    .iter()
                    .map(|r| (r.op, r.arg.to_vec(), r.fulfill))
                    .collect::<Vec<_>>()
            };
            let own = Scope::location("v", &locs[0]);
            let inh = Scope::location("v", &locs[1]);
            assert_eq!(r(own), [(RuleOp::Eq, b"/own/a".to_vec(), true)]);
            assert_eq!(r(inh), r(Scope::vhost("v")));
            assert_eq!(r(inh), [(RuleOp::Prefix, b"/x".to_vec(), false)]);
            let mut names = [&b""[..]; MAX_NAMES];
            assert_eq!(use_stale(t, own, &mut names), Ok(1));
            assert_eq!(names[0], b"404");
            assert_eq!(use_stale(t, inh, &mut names), Ok(1));
            assert_eq!(names[0], b"5*");
            // The top-level location belongs to the implicit default vhost.
            let n = crate::locations(t, "default", &mut locs).unwrap();
            assert_eq!(n, 1);
            assert_eq!(
                r(Scope::location("default", &locs[0])),
                [(RuleOp::Any, b"*".to_vec(), false)]
            );
            assert_eq!(
                r(Scope::vhost("default")),
                [(RuleOp::Any, b"*".to_vec(), true)]
            );
        });
        // Values in a location are checked like anywhere else.
        assert_eq!(
            err("server 127.0.0.1; vhost v { proxy_pass default;\n location prefix /a {\n  cache_use_stale 399;\n }\n}"),
            "line 3: directive 'cache_use_stale': invalid status code or class '399'"
        );
    }

    #[test]
    fn example_config_loads() {
        let base = include_str!("../tests/data/tempesta_fw.conf");
        with(base, |t| {
            assert_eq!(validate(t, &Options::STRICT), Ok(()));
            assert_eq!(cache(t), Ok(Cache::default()));
        });
        let uncommented = base
            .replace("#cache 2;", "cache 2;")
            .replace("#cache_fulfill * *;", "cache_fulfill * *;")
            .replace("#cache_methods GET HEAD;", "cache_methods GET HEAD;")
            .replace("#cache_ttl 3600;", "cache_ttl 3600;")
            .replace("#cache_purge;", "cache_purge;")
            .replace(
                "#cache_purge_acl <IP_address>;",
                "cache_purge_acl 127.0.0.1;",
            );
        assert_eq!(uncommented.matches("\ncache").count(), 6);
        let (c, r, a) = get(&uncommented, |t| {
            let mut out = [Rule::NONE; MAX_RULES];
            let n = rules(t, Scope::GLOBAL, &mut out).unwrap();
            let mut acl = [Cidr::NONE; MAX_ACL];
            let m = purge_acl(t, &mut acl).unwrap();
            (
                cache(t).unwrap(),
                out[..n]
                    .iter()
                    .map(|r| (r.op, r.arg.to_vec(), r.fulfill))
                    .collect::<Vec<_>>(),
                acl[..m].to_vec(),
            )
        })
        .unwrap();
        assert_eq!(
            (c.level, c.get, c.head, c.post, c.ttl, c.purge),
            (2, true, true, false, 3600, Some(Purge::Invalidate))
        );
        assert_eq!(r, [(RuleOp::Any, b"*".to_vec(), true)]);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].prefix, 128);
        // Strict mode (the module's) accepts them.
        with(&uncommented, |t| validate(t, &Options::STRICT).unwrap());
    }
}
