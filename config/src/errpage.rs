//! `response_body <code|4*|5*> <file>`: the body of the error responses tempesta-rs makes
//! itself (a refused request, no upstream, a timeout), instead of an empty one.
//!
//! As in Tempesta FW: the first argument is a status code (400-599) or a class (`4*`, `5*`),
//! the second an absolute path read when the configuration loads (a missing file is a
//! configuration error, so a reload never loses a page silently). A code's own page wins over
//! its class's; a later directive for the same code or class replaces an earlier one.

use super::error::{Error, ErrorKind};
use super::tree::{Node, Tree};
use super::upstream::is_dir;

/// Most `response_body` directives.
pub const MAX_RESPONSE_BODIES: usize = 32;

/// The statuses a page is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKey {
    /// One status code (400-599).
    Code(u16),
    /// Every code of a class: 4 (`4*`) or 5 (`5*`).
    Class(u8),
}

impl PageKey {
    /// Whether the page is for `code`.
    pub fn covers(self, code: u16) -> bool {
        match self {
            PageKey::Code(c) => c == code,
            PageKey::Class(c) => code / 100 == u16::from(c),
        }
    }
}

/// One `response_body` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseBody<'s> {
    /// The statuses it is for.
    pub key: PageKey,
    /// The file (an absolute path, as written).
    pub path: &'s [u8],
    /// The directive, for errors about its file.
    pub node: Node,
}

impl ResponseBody<'_> {
    /// An unused entry.
    pub const EMPTY: ResponseBody<'static> = ResponseBody {
        key: PageKey::Class(4),
        path: b"",
        node: Node::EMPTY,
    };
}

/// Parses one `response_body` node.
pub(crate) fn parse_response_body<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<(PageKey, &'s [u8]), Error<'s>> {
    let (Some(k), Some(p), 2) = (tree.arg(node, 0), tree.arg(node, 1), tree.arg_count(node)) else {
        return Err(tree.error(
            node,
            ErrorKind::ArgCount {
                min: 2,
                max: 2,
                got: tree.arg_count(node),
            },
        ));
    };
    let key = match k.text {
        b"4*" => PageKey::Class(4),
        b"5*" => PageKey::Class(5),
        t => match super::values::parse_u32_in(t, 400, 599) {
            Ok(c) => PageKey::Code(c as u16),
            Err(_) => return Err(tree.error(node, ErrorKind::InvalidValue("status code", t))),
        },
    };
    if p.escaped || p.text.first() != Some(&b'/') || p.text.contains(&0) {
        return Err(tree.error(node, ErrorKind::InvalidValue("absolute path", p.text)));
    }
    Ok((key, p.text))
}

/// The global `response_body` directives, in file order, into `out`; returns how many.
pub fn response_bodies<'s>(
    tree: &Tree<'s, '_>,
    out: &mut [ResponseBody<'s>],
) -> Result<usize, Error<'s>> {
    let mut n = 0usize;
    for node in tree
        .top_level()
        .filter(|n| is_dir(tree, n, b"response_body"))
    {
        let (key, path) = parse_response_body(tree, node)?;
        let Some(slot) = out.get_mut(n).filter(|_| n < MAX_RESPONSE_BODIES) else {
            return Err(tree.error(
                node,
                ErrorKind::TooMany("response_body directives", MAX_RESPONSE_BODIES as u64),
            ));
        };
        *slot = ResponseBody {
            key,
            path,
            node: *node,
        };
        n = n.saturating_add(1);
    }
    Ok(n)
}

/// The page for `code` among `pages` (in file order): the last one for the code itself, else
/// the last one for its class.
pub fn lookup<T>(pages: &[(PageKey, T)], code: u16) -> Option<&T> {
    let own = pages.iter().rev().find(|(k, _)| *k == PageKey::Code(code));
    own.or_else(|| pages.iter().rev().find(|(k, _)| k.covers(code)))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::with;
    use crate::{validate, Options};

    fn bodies(src: &str) -> Result<Vec<(PageKey, String, u32)>, String> {
        with(src, |t| {
            let mut out = [ResponseBody::EMPTY; MAX_RESPONSE_BODIES];
            let n = response_bodies(t, &mut out).map_err(|e| e.to_string())?;
            Ok(out[..n]
                .iter()
                .map(|b| {
                    (
                        b.key,
                        String::from_utf8(b.path.to_vec()).unwrap(),
                        b.node.line(),
                    )
                })
                .collect())
        })
    }

    #[test]
    fn directives() {
        assert_eq!(
            bodies("response_body 4* /etc/4xx.html;\nresponse_body 502 \"/etc/502.html\";"),
            Ok(vec![
                (PageKey::Class(4), "/etc/4xx.html".into(), 1),
                (PageKey::Code(502), "/etc/502.html".into(), 2)
            ])
        );
        for bad in [
            "response_body 4* ;",
            "response_body 3* /a;",
            "response_body 200 /a;",
            "response_body 600 /a;",
            "response_body 4xx /a;",
            "response_body 404 relative.html;",
            "response_body 404 /a /b;",
        ] {
            let r = with(bad, |t| {
                validate(t, &Options::STRICT).map_err(|e| e.to_string())
            });
            assert!(r.is_err(), "{bad}");
        }
        assert_eq!(
            with("response_body 4* /a;", |t| validate(t, &Options::STRICT)
                .map_err(|e| e.to_string())),
            Ok(())
        );
    }

    #[test]
    fn code_wins_over_class_and_later_wins() {
        let pages = [
            (PageKey::Class(4), "4a"),
            (PageKey::Code(404), "404"),
            (PageKey::Class(4), "4b"),
            (PageKey::Class(5), "5"),
        ];
        assert_eq!(lookup(&pages, 404), Some(&"404"));
        assert_eq!(lookup(&pages, 403), Some(&"4b"));
        assert_eq!(lookup(&pages, 502), Some(&"5"));
        assert_eq!(lookup(&pages, 200), None);
    }
}
