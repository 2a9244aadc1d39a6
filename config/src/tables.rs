//! HTTP tables: the typed rules of every `http_chain`, as the firewall runs them.
//!
//! ```text
//! http_chain static { uri == "*.jpg" -> cache_ttl = 3600; -> storage; }
//! http_chain {
//!     hdr "User-Agent" == "*bot*" -> block;
//!     uri == "/img/*" -> static;
//!     host == "old.example.com" -> 301 = https://example.com$request_uri;
//!     mark == 7 -> mark = 8;
//!     -> app;
//! }
//! ```
//!
//! The validator has checked the shape of each rule (field, operators, that `hdr`/`cookie`
//! have a name, a default rule last) and, through [`rule`], every value; the jump and vhost
//! targets resolve to something defined *before* the rule (Tempesta reads the file once), so
//! jumps can't loop. This module only types the rules: matching is the firewall's
//! (`filter::tables`), which takes these pieces as they are, borrowed from the source.
//!
//! Not supported yet: backslash escapes in rule arguments (their unescaped text needs storage
//! the zero-copy tree doesn't have); they are refused. Tempesta's `-> $cache = 0` is
//! `cache_disable`.

use super::error::{Error, ErrorKind};
use super::tree::{Arg, Node, Op, TokenKind, Tree};
use super::values::parse_u32_in;

/// What a condition looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field<'s> {
    /// `uri`: the request-target.
    Uri,
    /// `host`.
    Host,
    /// `method`.
    Method,
    /// `mark`: the connection's netfilter mark.
    Mark,
    /// `hdr "NAME"`.
    Hdr(&'s [u8]),
    /// `cookie "NAME"` (the name may be a pattern).
    Cookie(&'s [u8]),
}

/// `FIELD [NAME] ==|!= ARG`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond<'s> {
    /// The field.
    pub field: Field<'s>,
    /// `!=`.
    pub negate: bool,
    /// The argument as written, quotes excluded (`*` marks a prefix or suffix pattern). For
    /// `mark` it is a number (or `*`: any mark).
    pub arg: &'s [u8],
}

/// What a rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'s> {
    /// `-> VHOST`.
    Vhost(&'s [u8]),
    /// `-> CHAIN`: a named chain defined before the rule.
    Chain(&'s [u8]),
    /// `-> block`.
    Block,
    /// `-> mark = N`.
    Mark(u32),
    /// `-> cache_disable [= 0|1]` (or Tempesta's `-> $cache = 0|1`, the inverse).
    CacheDisable(bool),
    /// `-> cache_ttl = N`.
    CacheTtl(u32),
    /// `-> 301|302|303|307|308 = URL`.
    Redirect {
        /// The status code.
        status: u16,
        /// The location template (`$host`, `$request_uri`).
        url: &'s [u8],
    },
}

/// One rule of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule<'s> {
    /// The line it is on.
    pub line: u32,
    /// `None`: a default rule (`-> ACTION`).
    pub cond: Option<Cond<'s>>,
    /// The action.
    pub action: Action<'s>,
}

/// The `http_chain` blocks in file order; [`chain_name`] tells the main chain (empty name).
pub fn chains<'t, 'b>(tree: &'t Tree<'_, 'b>) -> impl Iterator<Item = &'b Node> + 't {
    tree.top_level()
        .filter(move |n| tree.name(n).eq_ignore_ascii_case(b"http_chain"))
}

/// The name of a chain; empty for the main (unnamed) one.
pub fn chain_name<'s>(tree: &Tree<'s, '_>, chain: &Node) -> &'s [u8] {
    tree.arg(chain, 0).map_or(&[], |a| a.text)
}

/// The rules of `chain`, typed, in written order.
pub fn rules<'t, 's, 'b>(
    tree: &'t Tree<'s, 'b>,
    chain: &Node,
) -> impl Iterator<Item = Result<Rule<'s>, Error<'s>>> + 't
where
    's: 't,
    'b: 't,
{
    tree.children(chain)
        .filter(|n| n.is_rule())
        .map(move |n| rule(tree, n))
}

/// Whether a rule's action ends its chain (`mark`, `cache_disable` and `cache_ttl` don't: the
/// rules after them are evaluated too).
pub fn is_terminal(action: &Action<'_>) -> bool {
    matches!(
        action,
        Action::Vhost(_) | Action::Chain(_) | Action::Block | Action::Redirect { .. }
    )
}

const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// Types one rule node. Errors name the rule's line and what is wrong with it.
pub fn rule<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<Rule<'s>, Error<'s>> {
    let err = |k| Err(tree.error(node, k));
    let mut args = tree.args(node).peekable();
    let cond = match args.peek() {
        Some(a) if a.is_op(Op::Arrow) => None,
        Some(_) => Some(cond(tree, node, &mut args)?),
        None => return err(ErrorKind::InvalidRule("empty rule")),
    };
    if !args.next().is_some_and(|a| a.is_op(Op::Arrow)) {
        return err(ErrorKind::InvalidRule("expected '->'"));
    }
    let Some(act) = args.next() else {
        return err(ErrorKind::InvalidRule("expected an action after '->'"));
    };
    let value = match args.next() {
        None => None,
        Some(a) if a.is_op(Op::Assign) => match args.next() {
            Some(v) if !matches!(v.kind, TokenKind::Op(_)) => Some(plain(tree, node, v)?),
            _ => return err(ErrorKind::InvalidRule("expected a value after '='")),
        },
        Some(_) => return err(ErrorKind::InvalidRule("unexpected text after the action")),
    };
    if args.next().is_some() {
        return err(ErrorKind::InvalidRule("unexpected text after the action"));
    }
    let name = plain(tree, node, act)?;
    let action = if name.eq_ignore_ascii_case(b"mark") {
        let v = value
            .ok_or_else(|| tree.error(node, ErrorKind::InvalidRule("action 'mark' needs '= N'")))?;
        Action::Mark(parse_u32_in(v, 0, u32::MAX).map_err(|k| tree.error(node, k))?)
    } else if name.eq_ignore_ascii_case(b"cache_ttl") {
        let v = value.ok_or_else(|| {
            tree.error(
                node,
                ErrorKind::InvalidRule("action 'cache_ttl' needs '= N'"),
            )
        })?;
        Action::CacheTtl(parse_u32_in(v, 0, i32::MAX as u32).map_err(|k| tree.error(node, k))?)
    } else if name.eq_ignore_ascii_case(b"cache_disable") {
        Action::CacheDisable(match value {
            None | Some(b"1") => true,
            Some(b"0") => false,
            Some(v) => return err(ErrorKind::InvalidValue("cache_disable value (0 or 1)", v)),
        })
    } else if name == b"$cache" {
        // Tempesta's flag syntax: `$cache = 0` is `cache_disable`.
        Action::CacheDisable(match value {
            Some(b"0") => true,
            Some(b"1") => false,
            Some(v) => return err(ErrorKind::InvalidValue("$cache value (0 or 1)", v)),
            None => return err(ErrorKind::InvalidRule("action '$cache' needs '= 0|1'")),
        })
    } else if name.first().is_some_and(u8::is_ascii_digit) {
        let status = parse_u32_in(name, 100, 599).map_err(|k| tree.error(node, k))?;
        let status = REDIRECTS
            .into_iter()
            .find(|&s| u32::from(s) == status)
            .ok_or_else(|| {
                tree.error(
                    node,
                    ErrorKind::InvalidValue("redirect status (301, 302, 303, 307, 308)", name),
                )
            })?;
        let url = value
            .ok_or_else(|| tree.error(node, ErrorKind::InvalidRule("a redirect needs '= URL'")))?;
        Action::Redirect { status, url }
    } else if value.is_some() {
        return err(ErrorKind::InvalidRule(
            "only mark, cache_ttl, cache_disable and redirects take '= VALUE'",
        ));
    } else if name.eq_ignore_ascii_case(b"block") {
        Action::Block
    } else if is_chain(tree, name, node) {
        Action::Chain(name)
    } else {
        // The validator checked that a vhost of this name is defined before the rule.
        Action::Vhost(name)
    };
    Ok(Rule {
        line: node.line(),
        cond,
        action,
    })
}

/// Whether `name` is a named chain defined before `node`.
fn is_chain(tree: &Tree<'_, '_>, name: &[u8], node: &Node) -> bool {
    tree.top_level()
        .take_while(|n| n.index() < node.index())
        .any(|n| {
            tree.name(n).eq_ignore_ascii_case(b"http_chain")
                && tree.arg_count(n) == 1
                && chain_name(tree, n).eq_ignore_ascii_case(name)
        })
}

/// An argument's text, refusing backslash escapes (see the module documentation).
fn plain<'s>(tree: &Tree<'s, '_>, node: &Node, a: Arg<'s>) -> Result<&'s [u8], Error<'s>> {
    if a.escaped {
        return Err(tree.error(
            node,
            ErrorKind::NotSupportedFeature("backslash escapes in http_chain rules"),
        ));
    }
    Ok(a.text)
}

fn cond<'s, 'b>(
    tree: &Tree<'s, 'b>,
    node: &Node,
    args: &mut core::iter::Peekable<super::tree::Args<'s, 'b>>,
) -> Result<Cond<'s>, Error<'s>> {
    let err = |k| Err(tree.error(node, k));
    let Some(f) = args.next() else {
        return err(ErrorKind::InvalidRule("empty rule"));
    };
    let f = plain(tree, node, f)?;
    let named = |args: &mut core::iter::Peekable<super::tree::Args<'s, 'b>>| match args.next() {
        Some(a) if !matches!(a.kind, TokenKind::Op(_)) => plain(tree, node, a),
        _ => Err(tree.error(
            node,
            ErrorKind::InvalidRule("'hdr' and 'cookie' need a name: hdr \"NAME\" == ARG"),
        )),
    };
    let field = if f.eq_ignore_ascii_case(b"uri") {
        Field::Uri
    } else if f.eq_ignore_ascii_case(b"host") {
        Field::Host
    } else if f.eq_ignore_ascii_case(b"method") {
        Field::Method
    } else if f.eq_ignore_ascii_case(b"mark") {
        Field::Mark
    } else if f.eq_ignore_ascii_case(b"hdr") {
        let name = named(args)?;
        if name.is_empty() {
            return err(ErrorKind::InvalidRule("empty header name"));
        }
        Field::Hdr(name)
    } else if f.eq_ignore_ascii_case(b"cookie") {
        Field::Cookie(named(args)?)
    } else {
        return err(ErrorKind::InvalidValue("rule field", f));
    };
    let negate = match args.next() {
        Some(a) if a.is_op(Op::Eq) => false,
        Some(a) if a.is_op(Op::Ne) => true,
        _ => return err(ErrorKind::InvalidRule("expected '==' or '!='")),
    };
    let arg = match args.next() {
        Some(a) if !matches!(a.kind, TokenKind::Op(_)) => plain(tree, node, a)?,
        _ => {
            return err(ErrorKind::InvalidRule(
                "expected an argument after '==' or '!='",
            ))
        }
    };
    if field == Field::Mark && arg != b"*" {
        let m = parse_u32_in(arg, 0, u32::MAX).map_err(|k| tree.error(node, k))?;
        if m == 0 {
            return err(ErrorKind::InvalidRule(
                "'mark == 0' never holds: unmarked traffic has no mark",
            ));
        }
    }
    Ok(Cond { field, negate, arg })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{validate, Options};

    type Chains = std::vec::Vec<(&'static [u8], std::vec::Vec<Rule<'static>>)>;

    /// Validates (strict) and types every chain; the source and the tree are leaked so the
    /// rules can outlive the call.
    fn typed(src: &str) -> Result<Chains, std::string::String> {
        use crate::{measure, parse, Node, Token};
        let src: &'static [u8] = std::boxed::Box::leak(src.as_bytes().into());
        let sizes = measure(src).map_err(|e| e.to_string())?;
        let nodes = std::vec![Node::EMPTY; sizes.nodes].leak();
        let tokens = std::vec![Token::EMPTY; sizes.tokens].leak();
        let t = parse(src, nodes, tokens).map_err(|e| e.to_string())?;
        validate(&t, &Options::STRICT).map_err(|e| e.to_string())?;
        let mut out = std::vec::Vec::new();
        for c in chains(&t) {
            let rs = rules(&t, c)
                .collect::<Result<std::vec::Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            out.push((chain_name(&t, c), rs));
        }
        Ok(out)
    }

    const BASE: &str = "srv_group a { server 127.0.0.1:8000; }\nsrv_group b { server 127.0.0.1:8001; }\nvhost app { proxy_pass a; }\nvhost img { proxy_pass b; }\n";

    #[test]
    fn every_field_and_action() {
        let src = std::format!(
            "{BASE}http_chain pics {{\n uri == \"*.jpg\" -> cache_ttl = 3600;\n -> img;\n}}\nhttp_chain {{\n mark == 7 -> mark = 8;\n hdr \"User-Agent\" == \"*bot\" -> block;\n cookie \"sess\" != \"*\" -> cache_disable;\n uri == \"/img/*\" -> pics;\n method == \"PUT\" -> cache_disable = 0;\n host == \"old.example.com\" -> 301 = https://example.com$request_uri;\n -> app;\n}}\n"
        );
        let t = typed(&src).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].0, b"pics");
        assert_eq!(
            t[0].1[0].cond,
            Some(Cond {
                field: Field::Uri,
                negate: false,
                arg: b"*.jpg"
            })
        );
        assert_eq!(t[0].1[0].action, Action::CacheTtl(3600));
        assert_eq!(
            t[0].1[1],
            Rule {
                line: 7,
                cond: None,
                action: Action::Vhost(b"img")
            }
        );
        let main = &t[1].1;
        assert_eq!(t[1].0, b"");
        assert_eq!(main[0].cond.unwrap().field, Field::Mark);
        assert_eq!(main[0].action, Action::Mark(8));
        assert_eq!(main[1].cond.unwrap().field, Field::Hdr(b"User-Agent"));
        assert_eq!(main[1].action, Action::Block);
        assert_eq!(
            main[2].cond,
            Some(Cond {
                field: Field::Cookie(b"sess"),
                negate: true,
                arg: b"*"
            })
        );
        assert_eq!(main[2].action, Action::CacheDisable(true));
        assert_eq!(main[3].action, Action::Chain(b"pics"));
        assert_eq!(main[4].action, Action::CacheDisable(false));
        assert_eq!(
            main[5].action,
            Action::Redirect {
                status: 301,
                url: b"https://example.com$request_uri"
            }
        );
        assert_eq!(main[6].action, Action::Vhost(b"app"));
        assert!(is_terminal(&main[6].action) && !is_terminal(&main[0].action));
    }

    #[test]
    fn bad_values_are_refused_with_their_line() {
        let bad = [
            ("http_chain {\n -> 302 = /x;\n -> 304 = /y;\n}\n", "line 7"),
            ("http_chain {\n mark == 0 -> block;\n}\n", "never holds"),
            ("http_chain {\n -> mark = x;\n}\n", "line 6"),
            ("http_chain {\n -> cache_disable = 2;\n}\n", "cache_disable"),
            ("http_chain {\n -> 301;\n}\n", "needs '= URL'"),
            ("http_chain {\n -> block = 1;\n}\n", "take '= VALUE'"),
            ("http_chain {\n -> $cache = 2;\n}\n", "$cache value"),
            ("http_chain {\n uri == \"/a\\*\" -> block;\n}\n", "escapes"),
            (
                "http_chain {\n hdr \"\" == \"x\" -> block;\n}\n",
                "empty header name",
            ),
        ];
        for (chain, want) in bad {
            let e = typed(&std::format!("{BASE}{chain}")).unwrap_err();
            assert!(e.contains(want), "{chain}: {e}");
        }
    }

    #[test]
    fn cache_and_mark_are_not_default_rules() {
        let src = std::format!("{BASE}http_chain {{\n -> mark = 3;\n -> cache_ttl = 5;\n -> cache_disable;\n -> app;\n}}\n");
        assert_eq!(typed(&src).unwrap()[0].1.len(), 4);
        let src = std::format!("{BASE}http_chain {{\n -> app;\n -> mark = 3;\n}}\n");
        assert!(typed(&src).unwrap_err().contains("must be the last rule"));
    }
}
