//! `nonidempotent METHOD OP ARG`: requests the proxy treats as non-idempotent although their
//! method is not (a `GET /logout` with side effects), so that they are never re-sent to another
//! upstream after a failure (unless the group has `server_retry_nonidempotent`).
//!
//! Tempesta FW's semantics (`vhost.c`): METHOD is a method name (any case) or `*`; OP and ARG
//! match the request's path and query as `location` does (`*`, `eq`, `prefix`, `suffix`,
//! case-insensitive). Global, per vhost and per location; the innermost level that writes any
//! line has only its own (see [`Scope`]). At most [`MAX_NONIDEMPOTENT`] per level.

use super::cache::RuleOp;
use super::error::{Error, ErrorKind};
use super::location::{all_levels, Levels, Scope};
use super::tree::{Node, Nodes, Tree};
use super::values::{is_tchar, Bounded};

/// Most lines in one level (Tempesta's `TFW_NIPDEF_ARRAY_SZ`).
pub const MAX_NONIDEMPOTENT: usize = 64;

/// One `nonidempotent` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonIdempotent<'s> {
    /// The method as written; `None` for `*`.
    pub method: Option<&'s [u8]>,
    /// The match operator.
    pub op: RuleOp,
    /// What is matched (`*` for [`RuleOp::Any`]).
    pub arg: &'s [u8],
}

/// The line a `nonidempotent` node writes, checked.
pub(crate) fn parse<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<NonIdempotent<'s>, Error<'s>> {
    let n = tree.arg_count(node);
    if n != 3 {
        return Err(tree.error(
            node,
            ErrorKind::ArgCount {
                min: 3,
                max: 3,
                got: n,
            },
        ));
    }
    let text = |i: usize| tree.arg(node, i).map_or(&b""[..], |a| a.text);
    let method = match text(0) {
        b"*" => None,
        m if !m.is_empty() && m.iter().all(|&c| is_tchar(c)) => Some(m),
        m => return Err(tree.error(node, ErrorKind::InvalidValue("method", m))),
    };
    let op = RuleOp::parse(text(1))
        .ok_or_else(|| tree.error(node, ErrorKind::InvalidValue("operator", text(1))))?;
    let arg = text(2);
    let bad = |c: &u8| c.is_ascii_whitespace() || c.is_ascii_control();
    if arg.is_empty() || arg.iter().any(bad) || (op == RuleOp::Any && arg != b"*") {
        return Err(tree.error(node, ErrorKind::InvalidValue("argument", arg)));
    }
    Ok(NonIdempotent { method, op, arg })
}

fn level_lines<'s>(
    tree: &Tree<'s, '_>,
    level: Nodes<'_>,
    f: &mut dyn FnMut(&Node, NonIdempotent<'s>) -> Result<(), Error<'s>>,
) -> Result<bool, Error<'s>> {
    let mut any = false;
    for node in level.filter(|n| !n.is_rule() && tree.name(n) == b"nonidempotent") {
        any = true;
        f(node, parse(tree, node)?)?;
    }
    Ok(any)
}

fn counted<'s>(
    tree: &Tree<'s, '_>,
    level: Nodes<'_>,
    f: &mut dyn FnMut(NonIdempotent<'s>),
) -> Result<usize, Error<'s>> {
    let mut n = Bounded::new(MAX_NONIDEMPOTENT, "nonidempotent lines in one level");
    level_lines(tree, level, &mut |node, l| {
        n.add(tree, node)?;
        f(l);
        Ok(())
    })?;
    Ok(n.count())
}

/// The `nonidempotent` lines of `scope`, in file order: the innermost level's (location,
/// vhost, global) that has any. Calls `f` on each; returns how many.
pub fn nonidempotent<'s>(
    tree: &Tree<'s, '_>,
    scope: Scope<'_>,
    f: &mut dyn FnMut(NonIdempotent<'s>),
) -> Result<usize, Error<'s>> {
    let chosen =
        Levels::of(tree, scope).innermost(|level| level_lines(tree, level, &mut |_, _| Ok(())))?;
    counted(tree, chosen, f)
}

/// Validation of every level's count (run by [`validate`](fn@super::validate)).
pub(crate) fn check<'s>(tree: &Tree<'s, '_>) -> Result<(), Error<'s>> {
    for level in all_levels(tree) {
        counted(tree, level, &mut |_| {})?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::with;
    use crate::{validate, Options};
    use std::string::ToString;
    use std::vec::Vec;

    #[test]
    fn lines_and_inheritance() {
        let src = "nonidempotent GET prefix /logout;\n\
                   srv_group g { server 127.0.0.1:80; }\n\
                   vhost v {\n proxy_pass g;\n nonidempotent * eq /pay;\n\
                   nonidempotent post suffix .do;\n}\nvhost w { proxy_pass g; }\n";
        with(src, |t| {
            validate(t, &Options::STRICT).unwrap();
            let all = |sc| {
                let mut v = Vec::new();
                nonidempotent(t, sc, &mut |l| v.push(l)).unwrap();
                v
            };
            assert_eq!(
                all(Scope::GLOBAL),
                [NonIdempotent {
                    method: Some(b"GET"),
                    op: RuleOp::Prefix,
                    arg: b"/logout"
                }]
            );
            assert_eq!(all(Scope::vhost("w")), all(Scope::GLOBAL));
            let v = all(Scope::vhost("v"));
            assert_eq!(v.len(), 2);
            assert_eq!((v[0].method, v[0].op), (None, RuleOp::Eq));
            assert_eq!((v[1].method, v[1].arg), (Some(&b"post"[..]), &b".do"[..]));
        });
        let e = |src: &str| {
            with(src, |t| {
                validate(t, &Options::STRICT).unwrap_err().to_string()
            })
        };
        assert_eq!(
            e("nonidempotent GET like /a;"),
            "line 1: directive 'nonidempotent': invalid operator 'like'"
        );
        assert_eq!(
            e("nonidempotent G@T eq /a;"),
            "line 1: directive 'nonidempotent': invalid method 'G@T'"
        );
        assert_eq!(
            e("nonidempotent GET * /a;"),
            "line 1: directive 'nonidempotent': invalid argument '/a'"
        );
    }
}
