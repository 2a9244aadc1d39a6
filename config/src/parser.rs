//! Statements, blocks and rules from tokens ([`measure`] and [`parse`]).
//!
//! Grammar (Tempesta's PFSM in `fw/cfg.c`):
//!
//! ```text
//! config    := item*
//! item      := directive | rule
//! directive := NAME (ARG | KEY '=' VALUE)* (';' | '{' item* '}')
//! rule      := FIELD [FIELD_NAME] ('==' | '!=') ARG '->' ACTION ['=' VAL] ';'
//!            | '->' ACTION ['=' VAL] ';'
//! ```
//!
//! * NAME and KEY are identifiers (a letter, then letters, digits, `_`); ARG, VALUE, FIELD,
//!   FIELD_NAME, ACTION and VAL are words or quoted strings.
//! * `=` binding: in a directive, `key=value` and `key = value` are the same option (as in
//!   Tempesta). A statement whose second or third token is `==` or `!=`, or whose first token
//!   is `->`, is a rule; its tokens are kept as they are, so `-> mark = 7;` is the four tokens
//!   `->`, `mark`, `=`, `7` (and `->mark=7;` too).
//! * `!include PATH;` is rejected: tempesta.sh expands includes before the module reads the file.
//!
//! Both passes run the same code; [`measure`] only counts, so it reports every syntax error too.

use super::error::{Error, ErrorKind};
use super::lexer::{Lex, LexError, Lexeme, Lexer};
use super::tree::{Node, NodeKind, Op, Sizes, Token, TokenKind, Tree};
use super::{MAX_DEPTH, MAX_SOURCE_LEN};

/// Where the parser puts tokens and nodes: counted only, or written to buffers.
trait Sink {
    fn push_token(&mut self, t: Token) -> Result<u32, ErrorKind<'static>>;
    fn push_node(&mut self, n: Node) -> Result<u32, ErrorKind<'static>>;
    fn close_node(&mut self, idx: u32, subtree_end: u32);
    fn node_count(&self) -> u32;
    fn token_count(&self) -> u32;
}

#[derive(Default)]
struct Counter {
    nodes: u32,
    tokens: u32,
}

impl Sink for Counter {
    fn push_token(&mut self, _t: Token) -> Result<u32, ErrorKind<'static>> {
        let i = self.tokens;
        self.tokens = self.tokens.saturating_add(1);
        Ok(i)
    }

    fn push_node(&mut self, _n: Node) -> Result<u32, ErrorKind<'static>> {
        let i = self.nodes;
        self.nodes = self.nodes.saturating_add(1);
        Ok(i)
    }

    fn close_node(&mut self, _idx: u32, _subtree_end: u32) {}

    fn node_count(&self) -> u32 {
        self.nodes
    }

    fn token_count(&self) -> u32 {
        self.tokens
    }
}

struct Writer<'b> {
    nodes: &'b mut [Node],
    tokens: &'b mut [Token],
    n: u32,
    t: u32,
}

impl Sink for Writer<'_> {
    fn push_token(&mut self, tok: Token) -> Result<u32, ErrorKind<'static>> {
        let slot = self
            .tokens
            .get_mut(self.t as usize)
            .ok_or(ErrorKind::BufferTooSmall("token"))?;
        *slot = tok;
        let i = self.t;
        self.t = self.t.saturating_add(1);
        Ok(i)
    }

    fn push_node(&mut self, node: Node) -> Result<u32, ErrorKind<'static>> {
        let slot = self
            .nodes
            .get_mut(self.n as usize)
            .ok_or(ErrorKind::BufferTooSmall("node"))?;
        *slot = node;
        let i = self.n;
        self.n = self.n.saturating_add(1);
        Ok(i)
    }

    fn close_node(&mut self, idx: u32, subtree_end: u32) {
        if let Some(n) = self.nodes.get_mut(idx as usize) {
            n.subtree_end = subtree_end;
        }
    }

    fn node_count(&self) -> u32 {
        self.n
    }

    fn token_count(&self) -> u32 {
        self.t
    }
}

/// An open block: node index, name span, line.
#[derive(Clone, Copy)]
struct Open {
    idx: u32,
    name: (u32, u32),
    line: u32,
}

const LOOKAHEAD: usize = 2;

struct Parser<'s, S> {
    src: &'s [u8],
    lx: Lexer<'s>,
    /// Tokens read ahead (`la[0]` first).
    la: [Option<Lexeme>; LOOKAHEAD],
    sink: S,
    stack: [Open; MAX_DEPTH],
    depth: usize,
}

/// Whether `s` is an identifier: a letter, then letters, digits or `_`.
pub(crate) fn is_identifier(s: &[u8]) -> bool {
    match s.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphabetic()
                && rest.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        }
        None => false,
    }
}

fn is_value(l: Option<Lexeme>) -> bool {
    matches!(
        l,
        Some(Lexeme {
            kind: Lex::Word | Lex::Quoted,
            ..
        })
    )
}

fn is_cond(l: Option<Lexeme>) -> bool {
    matches!(
        l,
        Some(Lexeme {
            kind: Lex::Op(Op::Eq | Op::Ne),
            ..
        })
    )
}

fn lex_text(kind: Lex) -> &'static [u8] {
    match kind {
        Lex::Word | Lex::Quoted => b"",
        Lex::LBrace => b"{",
        Lex::RBrace => b"}",
        Lex::Semi => b";",
        Lex::Op(op) => op.text(),
    }
}

impl<'s, S: Sink> Parser<'s, S> {
    fn new(src: &'s [u8], sink: S) -> Self {
        Parser {
            src,
            lx: Lexer::new(src),
            la: [None; LOOKAHEAD],
            sink,
            stack: [Open {
                idx: 0,
                name: (0, 0),
                line: 0,
            }; MAX_DEPTH],
            depth: 0,
        }
    }

    fn span(&self, s: (u32, u32)) -> &'s [u8] {
        self.src.get(s.0 as usize..s.1 as usize).unwrap_or(&[])
    }

    fn lex_err(&self, e: LexError, directive: Option<(u32, u32)>) -> Error<'s> {
        Error::new(e.line, directive.map(|d| self.span(d)), e.kind)
    }

    /// Fills the lookahead up to `n` tokens (or the end of input).
    fn fill(&mut self, n: usize, directive: Option<(u32, u32)>) -> Result<(), Error<'s>> {
        for i in 0..n.min(LOOKAHEAD) {
            let filled = self.la.get(i).is_some_and(Option::is_some);
            if filled {
                continue;
            }
            let t = self
                .lx
                .next_token()
                .map_err(|e| self.lex_err(e, directive))?;
            match t {
                Some(t) => {
                    if let Some(slot) = self.la.get_mut(i) {
                        *slot = Some(t);
                    }
                }
                None => break,
            }
        }
        Ok(())
    }

    fn peek(
        &mut self,
        i: usize,
        directive: Option<(u32, u32)>,
    ) -> Result<Option<Lexeme>, Error<'s>> {
        self.fill(i.saturating_add(1), directive)?;
        Ok(self.la.get(i).copied().flatten())
    }

    fn next(&mut self, directive: Option<(u32, u32)>) -> Result<Option<Lexeme>, Error<'s>> {
        self.fill(1, directive)?;
        let first = self.la.first().copied().flatten();
        self.la.rotate_left(1);
        if let Some(last) = self.la.last_mut() {
            *last = None;
        }
        Ok(first)
    }

    fn err(&self, line: u32, directive: (u32, u32), kind: ErrorKind<'s>) -> Error<'s> {
        Error::new(line, Some(self.span(directive)), kind)
    }

    fn push_token(&mut self, t: Token, line: u32, directive: (u32, u32)) -> Result<u32, Error<'s>> {
        self.sink
            .push_token(t)
            .map_err(|k| self.err(line, directive, k))
    }

    fn plain(l: &Lexeme) -> Token {
        Token {
            kind: match l.kind {
                Lex::Quoted => TokenKind::Quoted,
                Lex::Op(op) => TokenKind::Op(op),
                _ => TokenKind::Word,
            },
            start: l.start,
            end: l.end,
            vstart: l.end,
            vend: l.end,
            escaped: l.escaped,
        }
    }

    fn parent(&self) -> u32 {
        match self.depth.checked_sub(1).and_then(|d| self.stack.get(d)) {
            Some(o) => o.idx,
            None => Node::NO_PARENT,
        }
    }

    fn push_node(
        &mut self,
        kind: NodeKind,
        line: u32,
        name_tok: u32,
        name: (u32, u32),
    ) -> Result<u32, Error<'s>> {
        let idx = self.sink.node_count();
        let next = idx.saturating_add(1);
        let node = Node {
            kind,
            line,
            name_tok,
            tok_end: self.sink.token_count(),
            children_start: next,
            subtree_end: next,
            parent: self.parent(),
        };
        self.sink
            .push_node(node)
            .map_err(|k| self.err(line, name, k))
    }

    fn run(mut self) -> Result<S, Error<'s>> {
        loop {
            let Some(t) = self.next(None)? else {
                if let Some(open) = self.depth.checked_sub(1).and_then(|d| self.stack.get(d)) {
                    return Err(self.err(open.line, open.name, ErrorKind::MissingCloseBrace));
                }
                return Ok(self.sink);
            };
            match t.kind {
                Lex::RBrace => {
                    let Some(d) = self.depth.checked_sub(1) else {
                        return Err(Error::new(t.line, None, ErrorKind::Unexpected(b"}")));
                    };
                    self.depth = d;
                    let end = self.sink.node_count();
                    if let Some(open) = self.stack.get(d) {
                        self.sink.close_node(open.idx, end);
                    }
                }
                Lex::Semi | Lex::LBrace => {
                    return Err(Error::new(
                        t.line,
                        None,
                        ErrorKind::Unexpected(lex_text(t.kind)),
                    ))
                }
                Lex::Op(Op::Arrow) => self.rule(t)?,
                Lex::Op(_) => {
                    return Err(Error::new(
                        t.line,
                        None,
                        ErrorKind::Unexpected(lex_text(t.kind)),
                    ))
                }
                Lex::Word | Lex::Quoted => {
                    let name = (t.start, t.end);
                    let p0 = self.peek(0, Some(name))?;
                    let rule = is_cond(p0) || (is_value(p0) && is_cond(self.peek(1, Some(name))?));
                    if rule {
                        self.rule(t)?;
                    } else {
                        self.directive(t)?;
                    }
                }
            }
        }
    }

    fn directive(&mut self, name_lx: Lexeme) -> Result<(), Error<'s>> {
        let name = (name_lx.start, name_lx.end);
        let line = name_lx.line;
        let text = self.span(name);
        if name_lx.kind == Lex::Word && text == b"!include" {
            return Err(self.err(line, name, ErrorKind::Include));
        }
        if name_lx.kind != Lex::Word || !is_identifier(text) {
            return Err(self.err(line, name, ErrorKind::InvalidName(text)));
        }
        let name_tok = self.push_token(Self::plain(&name_lx), line, name)?;
        loop {
            let Some(a) = self.next(Some(name))? else {
                return Err(self.err(line, name, ErrorKind::MissingSemicolon));
            };
            match a.kind {
                Lex::Semi => {
                    self.push_node(NodeKind::Statement, line, name_tok, name)?;
                    return Ok(());
                }
                Lex::LBrace => {
                    if self.depth >= MAX_DEPTH {
                        return Err(self.err(line, name, ErrorKind::TooDeep));
                    }
                    let idx = self.push_node(NodeKind::Block, line, name_tok, name)?;
                    if let Some(slot) = self.stack.get_mut(self.depth) {
                        *slot = Open { idx, name, line };
                    }
                    self.depth = self.depth.saturating_add(1);
                    return Ok(());
                }
                Lex::RBrace => return Err(self.err(line, name, ErrorKind::MissingSemicolon)),
                Lex::Op(_) => {
                    return Err(self.err(a.line, name, ErrorKind::Unexpected(lex_text(a.kind))))
                }
                Lex::Word | Lex::Quoted => {
                    let eq = matches!(
                        self.peek(0, Some(name))?,
                        Some(Lexeme {
                            kind: Lex::Op(Op::Assign),
                            ..
                        })
                    );
                    if !eq {
                        self.push_token(Self::plain(&a), a.line, name)?;
                        continue;
                    }
                    let key = self.span((a.start, a.end));
                    if a.kind != Lex::Word || !is_identifier(key) {
                        return Err(self.err(a.line, name, ErrorKind::InvalidOptionName(key)));
                    }
                    let _assign = self.next(Some(name))?;
                    let v = self.next(Some(name))?;
                    let Some(v) = v.filter(|v| matches!(v.kind, Lex::Word | Lex::Quoted)) else {
                        return Err(self.err(a.line, name, ErrorKind::MissingOptionValue(key)));
                    };
                    let tok = Token {
                        kind: TokenKind::Option {
                            quoted_value: v.kind == Lex::Quoted,
                        },
                        start: a.start,
                        end: a.end,
                        vstart: v.start,
                        vend: v.end,
                        escaped: v.escaped,
                    };
                    self.push_token(tok, a.line, name)?;
                }
            }
        }
    }

    fn expect_value(
        &mut self,
        name: (u32, u32),
        line: u32,
        what: &'static str,
    ) -> Result<Lexeme, Error<'s>> {
        match self.next(Some(name))? {
            Some(v) if matches!(v.kind, Lex::Word | Lex::Quoted) => {
                self.push_token(Self::plain(&v), v.line, name)?;
                Ok(v)
            }
            Some(v) => Err(self.err(v.line, name, ErrorKind::InvalidRule(what))),
            None => Err(self.err(line, name, ErrorKind::InvalidRule(what))),
        }
    }

    fn rule(&mut self, first: Lexeme) -> Result<(), Error<'s>> {
        let name = (first.start, first.end);
        let line = first.line;
        let name_tok = self.push_token(Self::plain(&first), line, name)?;
        if first.kind != Lex::Op(Op::Arrow) {
            // FIELD [FIELD_NAME] (== | !=) ARG ->
            let mut t = self.next(Some(name))?;
            if is_value(t) {
                if let Some(l) = t {
                    self.push_token(Self::plain(&l), l.line, name)?;
                }
                t = self.next(Some(name))?;
            }
            if let Some(l) = t.filter(|l| matches!(l.kind, Lex::Op(Op::Eq | Op::Ne))) {
                self.push_token(Self::plain(&l), l.line, name)?;
            } else {
                return Err(self.err(line, name, ErrorKind::InvalidRule("expected '==' or '!='")));
            }
            self.expect_value(name, line, "expected an argument after '==' or '!='")?;
            match self.next(Some(name))? {
                Some(l) if l.kind == Lex::Op(Op::Arrow) => {
                    self.push_token(Self::plain(&l), l.line, name)?;
                }
                Some(l) => {
                    return Err(self.err(
                        l.line,
                        name,
                        ErrorKind::InvalidRule("expected '->' after the condition"),
                    ))
                }
                None => {
                    return Err(self.err(
                        line,
                        name,
                        ErrorKind::InvalidRule("expected '->' after the condition"),
                    ))
                }
            }
        }
        self.expect_value(name, line, "expected an action after '->'")?;
        let mut t = self.next(Some(name))?;
        if let Some(l) = t.filter(|l| l.kind == Lex::Op(Op::Assign)) {
            self.push_token(Self::plain(&l), l.line, name)?;
            self.expect_value(name, line, "expected a value after '='")?;
            t = self.next(Some(name))?;
        }
        match t {
            Some(l) if l.kind == Lex::Semi => {
                self.push_node(NodeKind::Rule, line, name_tok, name)?;
                Ok(())
            }
            None
            | Some(Lexeme {
                kind: Lex::RBrace, ..
            }) => Err(self.err(line, name, ErrorKind::MissingSemicolon)),
            Some(l) => Err(self.err(
                l.line,
                name,
                ErrorKind::InvalidRule("expected ';' after the action"),
            )),
        }
    }
}

fn check_size(src: &[u8]) -> Result<(), Error<'_>> {
    if src.len() > MAX_SOURCE_LEN {
        return Err(Error::new(0, None, ErrorKind::TooLarge));
    }
    Ok(())
}

/// Checks the syntax of `src` and counts the nodes and tokens [`parse`] will need, so that the
/// caller allocates exactly (`vec![Node::EMPTY; sizes.nodes]`, or the kernel's allocator).
///
/// Every syntax error [`parse`] can report is reported here, with the same text.
pub fn measure(src: &[u8]) -> Result<Sizes, Error<'_>> {
    check_size(src)?;
    let c = Parser::new(src, Counter::default()).run()?;
    Ok(Sizes {
        nodes: c.nodes as usize,
        tokens: c.tokens as usize,
    })
}

/// Parses `src` into the caller's buffers (sized by [`measure`]; larger is fine).
///
/// Returns an error, never panics, if a buffer is too small
/// (`internal error: node buffer too small`).
pub fn parse<'s, 'b>(
    src: &'s [u8],
    nodes: &'b mut [Node],
    tokens: &'b mut [Token],
) -> Result<Tree<'s, 'b>, Error<'s>> {
    check_size(src)?;
    let w = Parser::new(
        src,
        Writer {
            nodes,
            tokens,
            n: 0,
            t: 0,
        },
    )
    .run()?;
    let Writer {
        nodes,
        tokens,
        n,
        t,
    } = w;
    let nodes: &'b [Node] = nodes;
    let tokens: &'b [Token] = tokens;
    Ok(Tree {
        src,
        nodes: nodes.get(..n as usize).unwrap_or(&[]),
        tokens: tokens.get(..t as usize).unwrap_or(&[]),
    })
}

#[cfg(test)]
mod tests {
    use super::super::values::unescape;
    use super::super::MAX_TOKEN_LEN;
    use super::*;

    fn with_tree<R>(src: &str, f: impl FnOnce(&Tree<'_, '_>) -> R) -> R {
        let sizes = measure(src.as_bytes()).expect("measure");
        let mut nodes = vec![Node::EMPTY; sizes.nodes];
        let mut tokens = vec![Token::EMPTY; sizes.tokens];
        let tree = parse(src.as_bytes(), &mut nodes, &mut tokens).expect("parse");
        assert_eq!(tree.nodes().len(), sizes.nodes);
        assert_eq!(tree.tokens().len(), sizes.tokens);
        f(&tree)
    }

    fn err(src: &str) -> String {
        let m = measure(src.as_bytes())
            .expect_err("measure must fail")
            .to_string();
        // parse reports the same error, given big enough buffers
        let mut nodes = vec![Node::EMPTY; 64];
        let mut tokens = vec![Token::EMPTY; 256];
        let p = parse(src.as_bytes(), &mut nodes, &mut tokens)
            .expect_err("parse must fail")
            .to_string();
        assert_eq!(m, p);
        m
    }

    fn args_of(tree: &Tree<'_, '_>, node: &Node) -> Vec<String> {
        tree.args(node)
            .map(|a| String::from_utf8_lossy(a.text).into_owned())
            .collect()
    }

    fn opts_of(tree: &Tree<'_, '_>, node: &Node) -> Vec<(String, String)> {
        tree.options(node)
            .map(|o| {
                (
                    String::from_utf8_lossy(o.key).into_owned(),
                    String::from_utf8_lossy(o.value).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn empty_and_comments_only() {
        assert_eq!(measure(b"").unwrap(), Sizes::default());
        assert_eq!(
            measure(b"# nothing\n   \n\t# more { ; }\n").unwrap(),
            Sizes::default()
        );
        with_tree("", |t| assert_eq!(t.top_level().count(), 0));
    }

    #[test]
    fn statement_args_and_options() {
        with_tree("server 127.0.0.1:8080 conns_n=64 weight = 10;", |t| {
            let n = t.top_level().next().unwrap();
            assert_eq!(n.kind(), NodeKind::Statement);
            assert_eq!(t.name(n), b"server");
            assert_eq!(t.name_str(n), Some("server"));
            assert_eq!(args_of(t, n), ["127.0.0.1:8080"]);
            assert_eq!(
                opts_of(t, n),
                [
                    ("conns_n".into(), "64".into()),
                    ("weight".into(), "10".into())
                ]
            );
            assert_eq!(t.option(n, "CONNS_N").unwrap().value, b"64");
            assert!(t.option(n, "backup").is_none());
            assert_eq!(t.arg_count(n), 1);
        });
    }

    #[test]
    fn quoted_option_values_and_args() {
        with_tree(
            r#"access_log mmap logger_config="/etc/a b.json" "x;{y}#z";"#,
            |t| {
                let n = t.top_level().next().unwrap();
                assert_eq!(args_of(t, n), ["mmap", "x;{y}#z"]);
                let o = t.option(n, "logger_config").unwrap();
                assert_eq!(o.value, b"/etc/a b.json");
                assert!(o.quoted);
                assert_eq!(t.arg(n, 1).unwrap().kind, TokenKind::Quoted);
            },
        );
    }

    #[test]
    fn quoted_escapes() {
        with_tree(r#"hdr_via "a \"b\" \\ c";"#, |t| {
            let n = t.top_level().next().unwrap();
            let a = t.arg(n, 0).unwrap();
            assert_eq!(a.text, br#"a \"b\" \\ c"#);
            assert!(a.escaped);
            let mut buf = [0u8; 32];
            assert_eq!(unescape(a.text, &mut buf), Some(&br#"a "b" \ c"#[..]));
        });
        // A backslash in a word escapes the next character, ';' included.
        with_tree(r"req_hdr_set X-A a\;b;", |t| {
            let n = t.top_level().next().unwrap();
            assert_eq!(args_of(t, n), ["X-A", r"a\;b"]);
        });
    }

    #[test]
    fn multi_line_quoted_string_counts_lines() {
        with_tree("a \"1\n2\n3\";\nb;\n", |t| {
            let v: Vec<u32> = t.top_level().map(|n| n.line()).collect();
            assert_eq!(v, [1, 4]);
        });
    }

    #[test]
    fn comments() {
        with_tree("a 1; # c { ; }\nb 2 # trailing\n 3;\nc#d\n;", |t| {
            let names: Vec<_> = t.top_level().map(|n| t.name(n).to_vec()).collect();
            assert_eq!(names, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
            let b = t.top_level().nth(1).unwrap();
            assert_eq!(args_of(t, b), ["2", "3"]);
        });
    }

    #[test]
    fn words_with_dash_and_bang() {
        with_tree("http_uri_brange 0x24-0x26 -1 a-b !x;", |t| {
            let n = t.top_level().next().unwrap();
            assert_eq!(args_of(t, n), ["0x24-0x26", "-1", "a-b", "!x"]);
        });
    }

    #[test]
    fn blocks_and_children() {
        let src = "listen 80;\nvhost main {\n  proxy_pass g;\n  location prefix \"/a\" {\n    frang_limits { http_uri_len 10; }\n  }\n}\nsrv_group g { server 1.1.1.1; }\n";
        with_tree(src, |t| {
            let top: Vec<_> = t.top_level().collect();
            assert_eq!(top.len(), 3);
            assert_eq!(t.name(top[1]), b"vhost");
            assert!(top[1].is_block());
            assert_eq!(top[1].line(), 2);
            let kids: Vec<_> = t.children(top[1]).collect();
            assert_eq!(kids.len(), 2);
            assert_eq!(t.name(kids[0]), b"proxy_pass");
            assert_eq!(t.name(kids[1]), b"location");
            assert_eq!(args_of(t, kids[1]), ["prefix", "/a"]);
            assert_eq!(t.parent(kids[1]).map(|p| p.index()), Some(top[1].index()));
            let frang = t.children(kids[1]).next().unwrap();
            assert_eq!(frang.line(), 5);
            let lim = t.children(frang).next().unwrap();
            assert_eq!(t.name(lim), b"http_uri_len");
            assert_eq!(t.parent(lim).map(|p| p.index()), Some(frang.index()));
            assert_eq!(t.children(lim).count(), 0);
            assert_eq!(t.name(top[2]), b"srv_group");
            assert_eq!(t.children(top[2]).count(), 1);
            assert!(t.parent(top[2]).is_none());
        });
    }

    #[test]
    fn rules() {
        let src = "http_chain {\n uri == \"/x*\" -> block;\n hdr \"Referer\" != \"*bad\" -> mark = 7;\n uri==\"/y\"->block;\n ->mark=3;\n -> main;\n}";
        with_tree(src, |t| {
            let chain = t.top_level().next().unwrap();
            let rules: Vec<_> = t.children(chain).collect();
            assert_eq!(rules.len(), 5);
            assert!(rules.iter().all(|r| r.is_rule()));
            assert_eq!(args_of(t, rules[0]), ["uri", "==", "/x*", "->", "block"]);
            assert_eq!(
                args_of(t, rules[1]),
                ["hdr", "Referer", "!=", "*bad", "->", "mark", "=", "7"]
            );
            assert_eq!(args_of(t, rules[2]), ["uri", "==", "/y", "->", "block"]);
            assert_eq!(args_of(t, rules[3]), ["->", "mark", "=", "3"]);
            assert_eq!(args_of(t, rules[4]), ["->", "main"]);
            assert_eq!(t.name(rules[4]), b"->");
            assert_eq!(rules[4].line(), 6);
            let ops: Vec<_> = t.args(rules[1]).map(|a| a.kind).collect();
            assert_eq!(ops[2], TokenKind::Op(Op::Ne));
            assert_eq!(ops[6], TokenKind::Op(Op::Assign));
            assert_eq!(ops[3], TokenKind::Quoted);
        });
    }

    #[test]
    fn measure_matches_parse_and_small_buffers_fail() {
        let src = b"listen 80;\nvhost v { proxy_pass g backup=h; location eq \"/\" { } }\nhttp_chain { -> v; }\n";
        let s = measure(src).unwrap();
        assert_eq!(
            s,
            Sizes {
                nodes: 6,
                tokens: 13
            }
        );
        let mut nodes = vec![Node::EMPTY; s.nodes - 1];
        let mut tokens = vec![Token::EMPTY; s.tokens];
        let e = parse(src, &mut nodes, &mut tokens).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BufferTooSmall("node"));
        assert!(e
            .to_string()
            .ends_with("internal error: node buffer too small"));
        let mut nodes = vec![Node::EMPTY; s.nodes];
        let mut tokens = vec![Token::EMPTY; s.tokens - 1];
        let e = parse(src, &mut nodes, &mut tokens).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BufferTooSmall("token"));
        // Bigger buffers are fine.
        let mut nodes = vec![Node::EMPTY; 100];
        let mut tokens = vec![Token::EMPTY; 100];
        let t = parse(src, &mut nodes, &mut tokens).unwrap();
        assert_eq!(t.nodes().len(), 6);
        assert_eq!(t.tokens().len(), 13);
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(err("listen 80"), "line 1: directive 'listen': missing ';'");
        assert_eq!(
            err("vhost v {\n  proxy_pass g\n}\n"),
            "line 2: directive 'proxy_pass': missing ';'"
        );
        assert_eq!(err("listen 80;\n}\n"), "line 2: unexpected '}'");
        assert_eq!(err("\n;"), "line 2: unexpected ';'");
        assert_eq!(err("{ }"), "line 1: unexpected '{'");
        assert_eq!(err("= 1;"), "line 1: unexpected '='");
        assert_eq!(err("== 1;"), "line 1: unexpected '=='");
        assert_eq!(err("a b c == d;"), "line 1: directive 'a': unexpected '=='");
        assert_eq!(
            err("listen 80 -> x;"),
            "line 1: directive 'listen': unexpected '->'"
        );
        assert_eq!(
            err("vhost v {\n  location prefix \"/\" {\n"),
            "line 2: directive 'location': missing '}' at end of file"
        );
        assert_eq!(
            err("hdr_via \"abc;\n\n"),
            "line 1: directive 'hdr_via': unterminated quoted string"
        );
        assert_eq!(err("\"abc"), "line 1: unterminated quoted string");
        assert_eq!(
            err("#!include /etc/x\n!include /etc/tempesta/ua.conf\n"),
            "line 2: directive '!include': !include must be expanded by tempesta.sh"
        );
        assert_eq!(
            err("1abc 2;"),
            "line 1: directive '1abc': invalid directive name '1abc'"
        );
        assert_eq!(
            err("\"listen\" 80;"),
            "line 1: directive 'listen': invalid directive name 'listen'"
        );
        assert_eq!(
            err("listen 80 = 1;"),
            "line 1: directive 'listen': invalid option name '80'"
        );
        assert_eq!(
            err("listen 80 proto=;"),
            "line 1: directive 'listen': missing value for option 'proto'"
        );
        assert_eq!(
            err("listen 80 proto=a=b;"),
            "line 1: directive 'listen': unexpected '='"
        );
        assert_eq!(
            err("a\n\x01"),
            "line 2: directive 'a': invalid character '\\x01'"
        );
        assert_eq!(
            err("a 1\\"),
            "line 1: directive 'a': unexpected end of file after '\\'"
        );
        assert_eq!(
            err("a { b { c { d { e { f { g { h { i { } } } } } } } } }"),
            "line 1: directive 'i': blocks nested too deep (max 8)"
        );
        // 8 levels are fine
        assert!(measure(b"a { b { c { d { e { f { g { h { } } } } } } } }").is_ok());
    }

    #[test]
    fn rule_errors() {
        assert_eq!(
            err("http_chain {\n uri == \"/x\" block;\n}"),
            "line 2: directive 'uri': invalid rule: expected '->' after the condition"
        );
        assert_eq!(
            err("http_chain { uri == -> x; }"),
            "line 1: directive 'uri': invalid rule: expected an argument after '==' or '!='"
        );
        assert_eq!(
            err("http_chain { -> ; }"),
            "line 1: directive '->': invalid rule: expected an action after '->'"
        );
        assert_eq!(
            err("http_chain { -> mark = ; }"),
            "line 1: directive '->': invalid rule: expected a value after '='"
        );
        assert_eq!(
            err("http_chain { -> a b; }"),
            "line 1: directive '->': invalid rule: expected ';' after the action"
        );
        assert_eq!(
            err("http_chain { -> a }"),
            "line 1: directive '->': missing ';'"
        );
        assert_eq!(
            err("http_chain { hdr a b == c -> d; }"),
            "line 1: directive 'hdr': unexpected '=='"
        );
    }

    #[test]
    fn limits() {
        let long = format!("a {};", "x".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(
            err(&long),
            "line 1: directive 'a': token too long (max 4096 bytes)"
        );
        let ok = format!("a {};", "x".repeat(MAX_TOKEN_LEN));
        assert!(measure(ok.as_bytes()).is_ok());
        let long_q = format!("a \"{}\";", "x".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(
            err(&long_q),
            "line 1: directive 'a': token too long (max 4096 bytes)"
        );
        let big = vec![b'#'; MAX_SOURCE_LEN + 1];
        let e = measure(&big).unwrap_err();
        assert_eq!(e.to_string(), "config too large (max 1048576 bytes)");
        assert_eq!(
            e.with_file("/etc/tempesta/tempesta_fw.conf").to_string(),
            "/etc/tempesta/tempesta_fw.conf: config too large (max 1048576 bytes)"
        );
        let mut big = vec![b' '; MAX_SOURCE_LEN - 3];
        big.extend_from_slice(b"a;\n");
        assert_eq!(
            measure(&big).unwrap(),
            Sizes {
                nodes: 1,
                tokens: 1
            }
        );
    }

    #[test]
    fn error_display_shapes() {
        let e = measure(b"\n\nlisten 80").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.directive, Some(&b"listen"[..]));
        assert_eq!(e.to_string(), "line 3: directive 'listen': missing ';'");
        assert_eq!(
            e.with_file("t.conf").to_string(),
            "t.conf:3: directive 'listen': missing ';'"
        );
        let mut s = String::new();
        e.fmt_with_file("t.conf", &mut s).unwrap();
        assert_eq!(s, "t.conf:3: directive 'listen': missing ';'");
        let e = measure(b"}").unwrap_err();
        assert_eq!(
            e.with_file("t.conf").to_string(),
            "t.conf:1: unexpected '}'"
        );
        // Non-printable bytes are escaped, long excerpts cut.
        let e = measure("ab\u{e9} 1;".as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: directive 'ab\\xc3\\xa9': invalid directive name 'ab\\xc3\\xa9'"
        );
        let name = format!("a{}", "b".repeat(100));
        let src = format!("{name} \"x");
        let e = measure(src.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "line 1: directive '{}...': unterminated quoted string",
                &name[..64]
            )
        );
    }
}
