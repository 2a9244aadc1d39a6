//! `location OP ARG { ... }`: settings for part of a vhost's URI space, and the [`Scope`] every
//! per-vhost setting is looked up in.
//!
//! Tempesta FW's semantics (`vhost.c`), kept so that configurations carry over:
//!
//! * A request's location is the **first** `location` of its vhost, in file order, whose
//!   operator matches the request's path and query (`uri_path`): `eq`, `prefix` and `suffix`
//!   compare case-insensitively, `*` matches everything. No match: the vhost's own settings.
//! * A `location` outside any vhost belongs to the vhost `default` (Tempesta keeps those in
//!   the default vhost's list); with an explicit `vhost default`, its own locations and the
//!   top-level ones form one list, in file order.
//! * At most [`MAX_LOCATIONS`] per vhost; the same operator and argument twice in one vhost is
//!   refused (the second could never match). `regex` is not supported.
//! * What a location holds: `proxy_pass` (else the vhost's), the cache rule lists
//!   (`cache_fulfill`/`cache_bypass`, `cache_resp_hdr_del`, `cache_control_ignore`,
//!   `cache_use_stale`: a list the location writes replaces the vhost's, which replaces the
//!   global one) and `frang_limits` with the per-request limits (applied on top of the
//!   vhost's, which are on top of the global ones).

use super::cache::RuleOp;
use super::error::{Error, ErrorKind};
use super::frang::find_vhost;
use super::tree::{Node, Nodes, Tree};
use super::upstream::DEFAULT_VHOST;

/// Most locations in one vhost (Tempesta's `TFW_LOCATION_ARRAY_SZ`).
pub const MAX_LOCATIONS: usize = 64;

/// One `location` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location<'s> {
    /// The match operator.
    pub op: RuleOp,
    /// What is matched (`*` for [`RuleOp::Any`]); raw text.
    pub arg: &'s [u8],
    /// Line of `location`.
    pub line: u32,
    /// The block's node index (see [`Scope::location`]).
    pub node: u32,
}

impl Location<'_> {
    /// A placeholder to fill output arrays with: `[Location::NONE; MAX_LOCATIONS]`.
    pub const NONE: Location<'static> = Location {
        op: RuleOp::Any,
        arg: b"",
        line: 0,
        node: u32::MAX,
    };
}

/// Where a per-vhost setting is looked up: the global level, a vhost, or one of its locations.
/// The innermost level that writes a setting wins (see the module docs for each kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Scope<'a> {
    /// The vhost; `None`: the global level.
    pub vhost: Option<&'a str>,
    /// The `location` block ([`Location::node`]) within the vhost.
    pub location: Option<u32>,
}

impl<'a> Scope<'a> {
    /// The global level.
    pub const GLOBAL: Scope<'static> = Scope {
        vhost: None,
        location: None,
    };

    /// Vhost `name`.
    pub const fn vhost(name: &'a str) -> Self {
        Scope {
            vhost: Some(name),
            location: None,
        }
    }

    /// Location `loc` of vhost `name`.
    pub const fn location(name: &'a str, loc: &Location<'_>) -> Self {
        Scope {
            vhost: Some(name),
            location: Some(loc.node),
        }
    }
}

impl<'a> From<Option<&'a str>> for Scope<'a> {
    fn from(vhost: Option<&'a str>) -> Self {
        Scope {
            vhost,
            location: None,
        }
    }
}

/// The node lists of a scope, outermost first: the top level, the vhost's block (if the vhost
/// is given and has one) and the location's block (if given and a `location`).
pub(crate) struct Levels<'b> {
    pub(crate) global: Nodes<'b>,
    pub(crate) vhost: Option<Nodes<'b>>,
    pub(crate) location: Option<Nodes<'b>>,
}

impl<'b> Levels<'b> {
    /// The levels of `scope`.
    pub(crate) fn of(tree: &Tree<'_, 'b>, scope: Scope<'_>) -> Self {
        let location = scope
            .location
            .and_then(|i| tree.node(i))
            .filter(|n| is_location(tree, n))
            .map(|n| tree.children(n));
        Levels {
            global: tree.top_level(),
            vhost: scope
                .vhost
                .and_then(|v| find_vhost(tree, v))
                .map(|v| tree.children(v)),
            location,
        }
    }

    /// The levels below the global one, outermost first.
    pub(crate) fn inner(&self) -> impl Iterator<Item = Nodes<'b>> {
        self.vhost.clone().into_iter().chain(self.location.clone())
    }

    /// The innermost level for which `has` holds (a list directive is taken whole from the
    /// innermost level that writes it); the global level otherwise.
    pub(crate) fn innermost<'s>(
        &self,
        mut has: impl FnMut(Nodes<'b>) -> Result<bool, Error<'s>>,
    ) -> Result<Nodes<'b>, Error<'s>> {
        let mut chosen = self.global.clone();
        for level in self.inner() {
            if has(level.clone())? {
                chosen = level;
            }
        }
        Ok(chosen)
    }
}

/// Every level of the configuration: the top level, then each `vhost` and `location` block
/// (for validating per-level bounds).
pub(crate) fn all_levels<'t, 'b>(tree: &'t Tree<'_, 'b>) -> impl Iterator<Item = Nodes<'b>> + 't
where
    'b: 't,
{
    core::iter::once(tree.top_level()).chain(
        tree.nodes()
            .iter()
            .filter(|n| !n.is_rule() && matches!(tree.name(n), b"vhost" | b"location"))
            .map(|n| tree.children(n)),
    )
}

fn is_location(tree: &Tree<'_, '_>, n: &Node) -> bool {
    !n.is_rule() && tree.name(n) == b"location"
}

/// The operator and argument of a `location` node, checked.
pub(crate) fn parse<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
    accept_unsupported: bool,
) -> Result<Option<Location<'s>>, Error<'s>> {
    let op_text = tree.arg(node, 0).map_or(&b""[..], |a| a.text);
    let op = match RuleOp::parse(op_text) {
        Some(op) => op,
        None if op_text.eq_ignore_ascii_case(b"regex") => {
            if accept_unsupported {
                return Ok(None);
            }
            return Err(tree.error(node, ErrorKind::NotSupportedValue("operator", op_text)));
        }
        None => return Err(tree.error(node, ErrorKind::InvalidValue("operator", op_text))),
    };
    let arg = tree.arg(node, 1).map_or(&b""[..], |a| a.text);
    let bad = |c: &u8| c.is_ascii_whitespace() || c.is_ascii_control();
    if arg.is_empty() || arg.iter().any(bad) || tree.arg(node, 1).is_some_and(|a| a.escaped) {
        return Err(tree.error(node, ErrorKind::InvalidValue("location argument", arg)));
    }
    if op == RuleOp::Any && arg != b"*" {
        return Err(tree.error(
            node,
            ErrorKind::Message("with '*' the only argument must be '*'"),
        ));
    }
    Ok(Some(Location {
        op,
        arg,
        line: node.line(),
        node: node.index(),
    }))
}

/// The `location` nodes of vhost `vhost` in file order: its block's, and for the vhost
/// `default` the top-level ones too.
fn nodes_of<'t, 'b>(tree: &'t Tree<'_, 'b>, vhost: &str) -> impl Iterator<Item = &'b Node> + 't
where
    'b: 't,
{
    let own = find_vhost(tree, vhost).map(|v| tree.children(v));
    let top = vhost
        .eq_ignore_ascii_case(DEFAULT_VHOST)
        .then(|| tree.top_level());
    // Node indices are in file order; merge the two lists by index.
    let mut own = own
        .into_iter()
        .flatten()
        .filter(|n| is_location(tree, n))
        .peekable();
    let mut top = top
        .into_iter()
        .flatten()
        .filter(|n| is_location(tree, n))
        .peekable();
    core::iter::from_fn(move || match (own.peek(), top.peek()) {
        (Some(a), Some(b)) if a.index() < b.index() => own.next(),
        (Some(_), Some(_)) => top.next(),
        (Some(_), None) => own.next(),
        (None, _) => top.next(),
    })
}

/// Calls `f` on each location of vhost `vhost`, in file order, checked (operator, argument,
/// duplicates, the count).
/// `accept_unsupported` skips `regex` locations.
fn each<'s>(
    tree: &Tree<'s, '_>,
    vhost: &str,
    accept_unsupported: bool,
    f: &mut dyn FnMut(Location<'s>),
) -> Result<(), Error<'s>> {
    let mut n = 0usize;
    for node in nodes_of(tree, vhost) {
        let Some(loc) = parse(tree, node, accept_unsupported)? else {
            continue;
        };
        let dup = nodes_of(tree, vhost)
            .take_while(|e| e.index() < node.index())
            .filter_map(|e| parse(tree, e, true).ok().flatten())
            .any(|l| l.op == loc.op && l.arg.eq_ignore_ascii_case(loc.arg));
        if dup {
            return Err(tree.error(
                node,
                ErrorKind::Message("the same location is defined earlier in this vhost"),
            ));
        }
        n = n.saturating_add(1);
        if n > MAX_LOCATIONS {
            return Err(tree.error(
                node,
                ErrorKind::TooMany("locations in a vhost", MAX_LOCATIONS as u64),
            ));
        }
        f(loc);
    }
    Ok(())
}

/// The locations of vhost `vhost` into `out`, in file order; returns how many. Checks each
/// (operator, argument, duplicates, the count).
pub fn locations<'s>(
    tree: &Tree<'s, '_>,
    vhost: &str,
    out: &mut [Location<'s>; MAX_LOCATIONS],
) -> Result<usize, Error<'s>> {
    let mut n = 0usize;
    each(tree, vhost, false, &mut |loc| {
        if let Some(slot) = out.get_mut(n) {
            *slot = loc;
            n = n.saturating_add(1);
        }
    })?;
    Ok(n)
}

/// Validation of every vhost's location list (run by [`validate`](fn@super::validate)).
pub(crate) fn check<'s>(tree: &Tree<'s, '_>, accept_unsupported: bool) -> Result<(), Error<'s>> {
    let named = tree
        .top_level()
        .filter(|n| !n.is_rule() && tree.name(n) == b"vhost")
        .filter_map(|n| tree.arg(n, 0).and_then(|a| a.as_str()));
    for v in core::iter::once(DEFAULT_VHOST).chain(named) {
        each(tree, v, accept_unsupported, &mut |_| {})?;
    }
    Ok(())
}

/// Validator entry for `location`: its operator and argument; at top level, that there is a
/// vhost `default` for it to belong to. Duplicates and the count are checked per vhost by
/// [`check`].
pub(crate) fn check_location<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
    accept_unsupported: bool,
) -> Result<(), Error<'s>> {
    parse(tree, node, accept_unsupported)?;
    if tree.parent(node).is_none()
        && !super::upstream::vhosts(tree)
            .any(|v| v.is_ok_and(|v| v.name.eq_ignore_ascii_case(DEFAULT_VHOST)))
    {
        return Err(tree.error(
            node,
            ErrorKind::Message(
                "a location outside any vhost belongs to vhost 'default', and there is none \
                 (no 'vhost default' and no server outside a srv_group)",
            ),
        ));
    }
    Ok(())
}

/// The `proxy_pass` groups of `scope`, main and `backup=`: the location's own, else the
/// vhost's (`None` if neither writes one). Names as written; validation checked them.
pub fn proxy_pass<'s>(tree: &Tree<'s, '_>, scope: Scope<'_>) -> Option<(&'s str, Option<&'s str>)> {
    let levels = Levels::of(tree, scope);
    let pp = |nodes: Nodes<'_>| {
        let node = nodes
            .filter(|n| !n.is_rule() && tree.name(n) == b"proxy_pass")
            .last()?;
        let main = tree.arg(node, 0).and_then(|a| a.as_str())?;
        let backup = tree
            .option(node, "backup")
            .and_then(|o| core::str::from_utf8(o.value).ok());
        Some((main, backup))
    };
    levels
        .location
        .and_then(pp)
        .or_else(|| levels.vhost.and_then(pp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::with;
    use crate::{validate, Options};

    fn locs(src: &str, vhost: &str) -> Result<Vec<(RuleOp, String, u32)>, String> {
        with(src, |t| {
            validate(t, &Options::STRICT).map_err(|e| e.to_string())?;
            let mut out = [Location::NONE; MAX_LOCATIONS];
            let n = locations(t, vhost, &mut out).map_err(|e| e.to_string())?;
            Ok(out[..n]
                .iter()
                .map(|l| (l.op, String::from_utf8_lossy(l.arg).into_owned(), l.line))
                .collect())
        })
    }

    #[test]
    fn in_file_order_with_top_level_ones_in_default() {
        let src = "server 127.0.0.1;\nsrv_group g { server 127.0.0.2; }\n\
                   location prefix /top { }\n\
                   vhost default {\n proxy_pass default;\n location eq /own { }\n}\n\
                   location suffix .css { }\n\
                   vhost v {\n proxy_pass g;\n location * * { }\n location PREFIX /a { }\n}\n";
        assert_eq!(
            locs(src, "default").unwrap(),
            [
                (RuleOp::Prefix, "/top".into(), 3),
                (RuleOp::Eq, "/own".into(), 6),
                (RuleOp::Suffix, ".css".into(), 8),
            ]
        );
        assert_eq!(
            locs(src, "v").unwrap(),
            [
                (RuleOp::Any, "*".into(), 11),
                (RuleOp::Prefix, "/a".into(), 12)
            ]
        );
        assert_eq!(locs(src, "nope").unwrap(), []);
    }

    #[test]
    fn refused() {
        let e = |src: &str| {
            with(src, |t| {
                validate(t, &Options::STRICT).unwrap_err().to_string()
            })
        };
        let v = |body: &str| {
            format!("srv_group g {{ server 127.0.0.2; }}\nvhost v {{ proxy_pass g;\n{body}\n}}")
        };
        assert_eq!(
            e(&v("location regex /a { }")),
            "line 3: directive 'location': not supported by tempesta-rs yet: operator=regex"
        );
        assert_eq!(
            e(&v("location like /a { }")),
            "line 3: directive 'location': invalid operator 'like'"
        );
        assert_eq!(
            e(&v("location * /a { }")),
            "line 3: directive 'location': with '*' the only argument must be '*'"
        );
        assert_eq!(
            e(&v("location prefix /a { }\nlocation prefix /A { }")),
            "line 4: directive 'location': the same location is defined earlier in this vhost"
        );
        let many: String = (0..65)
            .map(|i| format!("location eq /{i} {{ }}\n"))
            .collect();
        assert!(e(&v(&many)).starts_with("line 67: directive 'location': too many"));
        assert_eq!(
            e("srv_group g { server 127.0.0.2; }\nlocation prefix /a { }\n"),
            "line 2: directive 'location': a location outside any vhost belongs to vhost \
             'default', and there is none (no 'vhost default' and no server outside a srv_group)"
        );
        // Lenient mode (tempesta-rs check --lenient) skips regex locations.
        with(&v("location regex /a { }"), |t| {
            assert_eq!(validate(t, &Options::LENIENT), Ok(()));
        });
    }

    #[test]
    fn proxy_pass_inherits() {
        let src = "srv_group g { server 127.0.0.2; }\nsrv_group h { server 127.0.0.3; }\n\
                   vhost v {\n proxy_pass g;\n location prefix /a { proxy_pass h backup=g; }\n\
                   location prefix /b { }\n}\n";
        with(src, |t| {
            validate(t, &Options::STRICT).unwrap();
            let mut out = [Location::NONE; MAX_LOCATIONS];
            assert_eq!(locations(t, "v", &mut out), Ok(2));
            assert_eq!(
                proxy_pass(t, Scope::location("v", &out[0])),
                Some(("h", Some("g")))
            );
            assert_eq!(
                proxy_pass(t, Scope::location("v", &out[1])),
                Some(("g", None))
            );
            assert_eq!(proxy_pass(t, Scope::vhost("v")), Some(("g", None)));
        });
    }
}
