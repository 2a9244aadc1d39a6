//! `req_hdr_add`, `req_hdr_set`, `resp_hdr_add`, `resp_hdr_set`: header fields the proxy adds
//! to, replaces in or removes from forwarded requests and the responses sent to clients.
//!
//! Tempesta FW's semantics (`vhost.c`), kept so that configurations carry over:
//!
//! * `*_hdr_add NAME VALUE` appends the field `NAME: VALUE`;
//! * `*_hdr_set NAME VALUE` removes every `NAME` field of the message, then appends
//!   `NAME: VALUE`; `*_hdr_set NAME` only removes them;
//! * global, per vhost and per location; the request list and the response list are each
//!   inherited whole: the innermost level that writes any `req_hdr_*` line has only its own
//!   (see [`Scope`]); the same for `resp_hdr_*`;
//! * at most [`MAX_HDR_MODS`] per list.
//!
//! Refused: names that are not tokens, values with control characters, removing or adding a
//! request's `Host` (it may be replaced: routing and the cache key use the one Host), and the
//! fields that frame a message or manage its connection (`Content-Length`, `Transfer-Encoding`,
//! `Connection`, `Keep-Alive`, `Proxy-Connection`, `TE`, `Upgrade`): the proxy owns those, and
//! changing them would make it and the peer disagree on where a message ends.

use super::error::{Error, ErrorKind};
use super::location::{all_levels, Levels, Scope};
use super::tree::{Node, Nodes, Tree};
use super::values::{is_tchar, Bounded};

/// Most changes in one list (Tempesta's `TFW_USRHDRS_ARRAY_SZ`).
pub const MAX_HDR_MODS: usize = 64;

/// Fields a change may not name.
const PROTECTED: [&[u8]; 7] = [
    b"content-length",
    b"transfer-encoding",
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"upgrade",
];

/// One header change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HdrMod<'s> {
    /// The field name as written.
    pub name: &'s [u8],
    /// The value as written (raw: it may hold backslash escapes, see `escaped`); `None` for a
    /// `*_hdr_set` that only removes.
    pub value: Option<&'s [u8]>,
    /// The value holds backslash escapes ([`unescape`](super::values::unescape) them).
    pub escaped: bool,
    /// `*_hdr_add` (true) or `*_hdr_set`.
    pub append: bool,
}

/// Whether directive `name` belongs to the response list (`resp: true`) or the request one.
fn of_list(name: &[u8], resp: bool) -> Option<bool> {
    match (name, resp) {
        (b"req_hdr_add", false) | (b"resp_hdr_add", true) => Some(true),
        (b"req_hdr_set", false) | (b"resp_hdr_set", true) => Some(false),
        _ => None,
    }
}

/// The change a `*_hdr_add`/`*_hdr_set` node makes, checked.
pub(crate) fn parse<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<HdrMod<'s>, Error<'s>> {
    let append = tree.name(node).ends_with(b"_add");
    let n = tree.arg_count(node);
    // `*_hdr_add NAME VALUE`; `*_hdr_set NAME [VALUE]`.
    let ok = n == 2 || (n == 1 && !append);
    if !ok {
        let min = if append { 2 } else { 1 };
        return Err(tree.error(
            node,
            ErrorKind::ArgCount {
                min,
                max: 2,
                got: n,
            },
        ));
    }
    let name = tree.arg(node, 0).map_or(&b""[..], |a| a.text);
    if name.is_empty() || !name.iter().all(|&c| is_tchar(c)) {
        return Err(tree.error(node, ErrorKind::InvalidValue("header name", name)));
    }
    if PROTECTED.iter().any(|p| p.eq_ignore_ascii_case(name)) {
        return Err(tree.error(
            node,
            ErrorKind::InvalidValue(
                "header to change (framing and connection fields are the proxy's)",
                name,
            ),
        ));
    }
    let value = tree.arg(node, 1);
    // The proxy forwards exactly one Host (the one routing and the cache key used): it may be
    // replaced, not removed or doubled.
    if name.eq_ignore_ascii_case(b"host")
        && tree.name(node).starts_with(b"req_")
        && (append || value.is_none())
    {
        return Err(tree.error(
            node,
            ErrorKind::Message("Host can only be replaced: req_hdr_set Host VALUE"),
        ));
    }
    if let Some(v) = value {
        let bad = |c: &u8| (c.is_ascii_control() && *c != b'\t') || *c == 0x7f;
        if v.text.iter().any(bad) {
            return Err(tree.error(node, ErrorKind::InvalidValue("header value", v.text)));
        }
    }
    Ok(HdrMod {
        name,
        value: value.map(|v| v.text),
        escaped: value.is_some_and(|v| v.escaped),
        append,
    })
}

/// Calls `f` on each change of list `resp` among `level`; whether there was any line.
fn level_mods<'s>(
    tree: &Tree<'s, '_>,
    level: Nodes<'_>,
    resp: bool,
    f: &mut dyn FnMut(&Node, HdrMod<'s>) -> Result<(), Error<'s>>,
) -> Result<bool, Error<'s>> {
    let mut any = false;
    for node in level.filter(|n| !n.is_rule() && of_list(tree.name(n), resp).is_some()) {
        any = true;
        f(node, parse(tree, node)?)?;
    }
    Ok(any)
}

/// Calls `f` on each change of list `resp` in `level`, bounded; returns how many.
fn counted<'s>(
    tree: &Tree<'s, '_>,
    level: Nodes<'_>,
    resp: bool,
    f: &mut dyn FnMut(HdrMod<'s>),
) -> Result<usize, Error<'s>> {
    let mut n = Bounded::new(MAX_HDR_MODS, "header changes in one list");
    level_mods(tree, level, resp, &mut |node, m| {
        n.add(tree, node)?;
        f(m);
        Ok(())
    })?;
    Ok(n.count())
}

/// The request (`resp: false`) or response changes of `scope`, in file order: the innermost
/// level's list (location, vhost, global) that has any line. Calls `f` on each; returns how
/// many.
pub fn hdr_mods<'s>(
    tree: &Tree<'s, '_>,
    scope: Scope<'_>,
    resp: bool,
    f: &mut dyn FnMut(HdrMod<'s>),
) -> Result<usize, Error<'s>> {
    let chosen = Levels::of(tree, scope)
        .innermost(|level| level_mods(tree, level, resp, &mut |_, _| Ok(())))?;
    counted(tree, chosen, resp, f)
}

/// Validation of every list (run by [`validate`](fn@super::validate)): the count per level.
pub(crate) fn check<'s>(tree: &Tree<'s, '_>) -> Result<(), Error<'s>> {
    for level in all_levels(tree) {
        for resp in [false, true] {
            counted(tree, level.clone(), resp, &mut |_| {})?;
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

    type Mods = Vec<(String, Option<String>, bool)>;

    fn mods(src: &str, scope: impl Fn(&Tree<'_, '_>) -> Scope<'static>, resp: bool) -> Mods {
        with(src, |t| {
            validate(t, &Options::STRICT).unwrap();
            let mut out = Vec::new();
            hdr_mods(t, scope(t), resp, &mut |m| {
                out.push((
                    String::from_utf8_lossy(m.name).into_owned(),
                    m.value.map(|v| String::from_utf8_lossy(v).into_owned()),
                    m.append,
                ))
            })
            .unwrap();
            out
        })
    }

    fn m(name: &str, value: Option<&str>, append: bool) -> (String, Option<String>, bool) {
        (name.into(), value.map(Into::into), append)
    }

    #[test]
    fn lists_and_inheritance() {
        let src = "req_hdr_add X-Global 1;\nresp_hdr_set Server;\n\
                   srv_group g { server 127.0.0.1:80; }\n\
                   vhost v {\n proxy_pass g;\n req_hdr_set X-V \"a b\";\n\
                   location prefix /l { resp_hdr_add X-L 2; }\n}\n\
                   vhost w { proxy_pass g; }\n";
        let g = |_: &Tree<'_, '_>| Scope::GLOBAL;
        assert_eq!(mods(src, g, false), [m("X-Global", Some("1"), true)]);
        assert_eq!(mods(src, g, true), [m("Server", None, false)]);
        let v = |_: &Tree<'_, '_>| Scope::vhost("v");
        assert_eq!(mods(src, v, false), [m("X-V", Some("a b"), false)]);
        assert_eq!(mods(src, v, true), [m("Server", None, false)]);
        let w = |_: &Tree<'_, '_>| Scope::vhost("w");
        assert_eq!(mods(src, w, false), [m("X-Global", Some("1"), true)]);
        let l = |t: &Tree<'_, '_>| {
            let mut locs = [crate::Location::NONE; crate::MAX_LOCATIONS];
            crate::locations(t, "v", &mut locs).unwrap();
            Scope {
                vhost: Some("v"),
                location: Some(locs[0].node),
            }
        };
        assert_eq!(mods(src, l, false), [m("X-V", Some("a b"), false)]);
        assert_eq!(mods(src, l, true), [m("X-L", Some("2"), true)]);
    }

    #[test]
    fn refused() {
        let e = |src: &str| {
            with(src, |t| {
                validate(t, &Options::STRICT).unwrap_err().to_string()
            })
        };
        assert_eq!(
            e("req_hdr_add X-A;\n"),
            "line 1: directive 'req_hdr_add': expected 2 arguments, got 1"
        );
        assert_eq!(
            e("resp_hdr_set \"X A\" 1;\n"),
            "line 1: directive 'resp_hdr_set': invalid header name 'X A'"
        );
        assert_eq!(
            e("req_hdr_set Content-Length 5;\n"),
            "line 1: directive 'req_hdr_set': invalid header to change (framing and connection \
             fields are the proxy's) 'Content-Length'"
        );
        assert_eq!(
            e("req_hdr_add host x;\n"),
            "line 1: directive 'req_hdr_add': Host can only be replaced: req_hdr_set Host VALUE"
        );
        assert_eq!(
            e("req_hdr_set Host;\n"),
            "line 1: directive 'req_hdr_set': Host can only be replaced: req_hdr_set Host VALUE"
        );
        let many: String = (0..65)
            .map(|i| format!("resp_hdr_add X-{i} v;\n"))
            .collect();
        assert!(e(&many).starts_with("line 65: directive 'resp_hdr_add': too many"));
        assert_eq!(
            with("req_hdr_set X-Ok;\nreq_hdr_add X-Q \"a\\\"b\";\n", |t| {
                validate(t, &Options::STRICT).map_err(|e| e.to_string())
            }),
            Ok(())
        );
    }
}
