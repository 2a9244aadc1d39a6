//! The flat, zero-copy syntax tree that [`parse`](super::parse) writes into caller buffers.
//!
//! Nodes are stored in pre-order: a block's descendants follow it directly, and each node
//! records where its subtree ends, so children are walked by jumping from one sibling's subtree
//! end to the next. Tokens are stored in source order; a node owns the contiguous range from its
//! name token to its last argument. Every text is a span into the source.

use super::error::{Error, ErrorKind};

/// Operators of the http_chain rule syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `->`
    Arrow,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `=` (only kept as a token inside rules, e.g. `-> mark = 7`; elsewhere it binds
    /// `key = value` into an option)
    Assign,
}

impl Op {
    /// The operator as written.
    pub const fn text(self) -> &'static [u8] {
        match self {
            Op::Arrow => b"->",
            Op::Eq => b"==",
            Op::Ne => b"!=",
            Op::Assign => b"=",
        }
    }
}

/// What a [`Token`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// An unquoted word (the directive name is one too).
    Word,
    /// A double-quoted string; the token's text excludes the quotes.
    Quoted,
    /// A `key=value` option (also `key = value`); text is the key, value via
    /// [`Tree::option_value`] or [`Tree::options`].
    Option {
        /// The value was double-quoted (its span excludes the quotes).
        quoted_value: bool,
    },
    /// A rule operator.
    Op(Op),
}

/// One token: a span into the source plus its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub(crate) kind: TokenKind,
    /// Text span (for `Quoted` without the quotes, for `Option` the key).
    pub(crate) start: u32,
    pub(crate) end: u32,
    /// Value span of an `Option`; empty otherwise.
    pub(crate) vstart: u32,
    pub(crate) vend: u32,
    /// The text (or an option's value) contains backslash escapes.
    pub(crate) escaped: bool,
}

impl Token {
    /// A zeroed token to fill the caller's buffer with before [`parse`](super::parse).
    pub const EMPTY: Token = Token {
        kind: TokenKind::Word,
        start: 0,
        end: 0,
        vstart: 0,
        vend: 0,
        escaped: false,
    };

    /// The kind of the token.
    pub const fn kind(&self) -> TokenKind {
        self.kind
    }

    /// Byte range of the text in the source (excluding quotes; the key of an option).
    pub const fn span(&self) -> (u32, u32) {
        (self.start, self.end)
    }

    /// Whether the raw text contains backslash escapes (see [`unescape`](super::unescape)).
    pub const fn is_escaped(&self) -> bool {
        self.escaped
    }
}

impl Default for Token {
    fn default() -> Self {
        Token::EMPTY
    }
}

/// What a [`Node`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// `name args... ;`
    Statement,
    /// `name args... { children }`
    Block,
    /// An http_chain rule `FIELD [NAME] ==|!= ARG -> ACTION [= VAL];` or `-> ACTION [= VAL];`;
    /// its name is its first token and its arguments are all its tokens.
    Rule,
}

/// One statement, block or rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    pub(crate) kind: NodeKind,
    /// 1-based line of the name token.
    pub(crate) line: u32,
    /// Index of the name token; the node's tokens are `name_tok..tok_end`.
    pub(crate) name_tok: u32,
    pub(crate) tok_end: u32,
    /// Own index + 1 (where children start, if any).
    pub(crate) children_start: u32,
    /// One past the last descendant.
    pub(crate) subtree_end: u32,
    /// Index of the enclosing block, or [`Node::NO_PARENT`].
    pub(crate) parent: u32,
}

impl Node {
    /// `parent` of a top-level node.
    pub const NO_PARENT: u32 = u32::MAX;

    /// A zeroed node to fill the caller's buffer with before [`parse`](super::parse).
    pub const EMPTY: Node = Node {
        kind: NodeKind::Statement,
        line: 0,
        name_tok: 0,
        tok_end: 0,
        children_start: 0,
        subtree_end: 0,
        parent: Node::NO_PARENT,
    };

    /// Statement, block or rule.
    pub const fn kind(&self) -> NodeKind {
        self.kind
    }

    /// 1-based line of the directive name.
    pub const fn line(&self) -> u32 {
        self.line
    }

    /// Whether it has a `{ ... }` block.
    pub const fn is_block(&self) -> bool {
        matches!(self.kind, NodeKind::Block)
    }

    /// Whether it is an http_chain rule.
    pub const fn is_rule(&self) -> bool {
        matches!(self.kind, NodeKind::Rule)
    }

    /// Index of this node in the node buffer.
    pub const fn index(&self) -> u32 {
        self.children_start.saturating_sub(1)
    }

    /// Index of the enclosing block, if any.
    pub const fn parent(&self) -> Option<u32> {
        if self.parent == Node::NO_PARENT {
            None
        } else {
            Some(self.parent)
        }
    }

    /// Range of token indices: name token first.
    pub const fn token_range(&self) -> (u32, u32) {
        (self.name_tok, self.tok_end)
    }

    /// Range of node indices holding the descendants (empty for statements and rules).
    pub const fn children_range(&self) -> (u32, u32) {
        (self.children_start, self.subtree_end)
    }
}

impl Default for Node {
    fn default() -> Self {
        Node::EMPTY
    }
}

/// Buffer sizes a configuration needs, as counted by [`measure`](super::measure).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Number of [`Node`]s.
    pub nodes: usize,
    /// Number of [`Token`]s.
    pub tokens: usize,
}

/// A positional argument (a word or a quoted string, or any token of a rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arg<'s> {
    /// Raw text (quotes excluded, escapes kept).
    pub text: &'s [u8],
    /// Word, quoted string or (in rules) operator.
    pub kind: TokenKind,
    /// Whether `text` contains backslash escapes.
    pub escaped: bool,
}

impl<'s> Arg<'s> {
    /// The text as `&str` when it is UTF-8.
    pub fn as_str(&self) -> Option<&'s str> {
        core::str::from_utf8(self.text).ok()
    }

    /// Whether this is the given operator (rules only).
    pub fn is_op(&self, op: Op) -> bool {
        self.kind == TokenKind::Op(op)
    }
}

/// A `key=value` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionArg<'s> {
    /// The key.
    pub key: &'s [u8],
    /// The value (quotes excluded, escapes kept).
    pub value: &'s [u8],
    /// Whether the value was quoted.
    pub quoted: bool,
    /// Whether the value contains backslash escapes.
    pub escaped: bool,
}

/// The parsed configuration: borrowed source plus the filled node and token buffers.
#[derive(Clone, Copy, Debug)]
pub struct Tree<'s, 'b> {
    pub(crate) src: &'s [u8],
    pub(crate) nodes: &'b [Node],
    pub(crate) tokens: &'b [Token],
}

impl<'s, 'b> Tree<'s, 'b> {
    /// The source text.
    pub fn source(&self) -> &'s [u8] {
        self.src
    }

    /// All nodes, pre-order.
    pub fn nodes(&self) -> &'b [Node] {
        self.nodes
    }

    /// All tokens, source order.
    pub fn tokens(&self) -> &'b [Token] {
        self.tokens
    }

    /// The node at `index`.
    pub fn node(&self, index: u32) -> Option<&'b Node> {
        self.nodes.get(index as usize)
    }

    /// The top-level nodes.
    pub fn top_level(&self) -> Nodes<'b> {
        Nodes {
            nodes: self.nodes,
            pos: 0,
            end: u32::try_from(self.nodes.len()).unwrap_or(u32::MAX),
        }
    }

    /// The direct children of `node` (none for statements and rules).
    pub fn children(&self, node: &Node) -> Nodes<'b> {
        Nodes {
            nodes: self.nodes,
            pos: node.children_start,
            end: node.subtree_end,
        }
    }

    /// The enclosing block of `node`.
    pub fn parent(&self, node: &Node) -> Option<&'b Node> {
        node.parent().and_then(|p| self.node(p))
    }

    /// Text of a token (quotes excluded; an option's key).
    pub fn text(&self, tok: &Token) -> &'s [u8] {
        self.src
            .get(tok.start as usize..tok.end as usize)
            .unwrap_or(&[])
    }

    /// Value of an option token (empty for other tokens).
    pub fn option_value(&self, tok: &Token) -> &'s [u8] {
        self.src
            .get(tok.vstart as usize..tok.vend as usize)
            .unwrap_or(&[])
    }

    /// All tokens of `node`, name first.
    pub fn node_tokens(&self, node: &Node) -> &'b [Token] {
        self.tokens
            .get(node.name_tok as usize..node.tok_end as usize)
            .unwrap_or(&[])
    }

    /// The name token of `node`.
    pub fn name_token(&self, node: &Node) -> Option<&'b Token> {
        self.tokens.get(node.name_tok as usize)
    }

    /// The directive name (the first token of a rule).
    pub fn name(&self, node: &Node) -> &'s [u8] {
        self.name_token(node).map_or(&[], |t| self.text(t))
    }

    /// The directive name as `&str` when it is UTF-8.
    pub fn name_str(&self, node: &Node) -> Option<&'s str> {
        core::str::from_utf8(self.name(node)).ok()
    }

    /// Positional arguments (options excluded). For a rule: all its tokens, operators included.
    pub fn args(&self, node: &Node) -> Args<'s, 'b> {
        let all = self.node_tokens(node);
        let toks = if node.is_rule() {
            all
        } else {
            all.get(1..).unwrap_or(&[])
        };
        Args {
            src: self.src,
            toks: toks.iter(),
        }
    }

    /// Number of positional arguments.
    pub fn arg_count(&self, node: &Node) -> usize {
        self.args(node).count()
    }

    /// The `i`-th positional argument.
    pub fn arg(&self, node: &Node, i: usize) -> Option<Arg<'s>> {
        self.args(node).nth(i)
    }

    /// The only positional argument of a one-argument directive, or the argument-count error.
    pub fn single_arg(&self, node: &Node) -> Result<Arg<'s>, Error<'s>> {
        let n = self.arg_count(node);
        match self.arg(node, 0) {
            Some(a) if n == 1 => Ok(a),
            _ => Err(self.error(
                node,
                ErrorKind::ArgCount {
                    min: 1,
                    max: 1,
                    got: n,
                },
            )),
        }
    }

    /// The `key=value` options of `node`, in order.
    pub fn options(&self, node: &Node) -> OptionArgs<'s, 'b> {
        OptionArgs {
            src: self.src,
            toks: self.node_tokens(node).iter(),
        }
    }

    /// The value of option `key` (ASCII case-insensitive, like Tempesta), first occurrence.
    pub fn option(&self, node: &Node, key: &str) -> Option<OptionArg<'s>> {
        self.options(node)
            .find(|o| o.key.eq_ignore_ascii_case(key.as_bytes()))
    }

    /// An [`Error`] at `node` (its line, its name as the directive).
    pub fn error(&self, node: &Node, kind: ErrorKind<'s>) -> Error<'s> {
        Error::new(node.line, Some(self.name(node)), kind)
    }
}

/// Iterator over sibling nodes, see [`Tree::top_level`] and [`Tree::children`].
#[derive(Clone, Debug)]
pub struct Nodes<'b> {
    nodes: &'b [Node],
    pos: u32,
    end: u32,
}

impl<'b> Iterator for Nodes<'b> {
    type Item = &'b Node;

    fn next(&mut self) -> Option<&'b Node> {
        if self.pos >= self.end {
            return None;
        }
        let node = self.nodes.get(self.pos as usize)?;
        // Always move forward, even on a malformed subtree end.
        self.pos = node.subtree_end.max(self.pos.saturating_add(1));
        Some(node)
    }
}

/// Iterator over positional arguments, see [`Tree::args`].
#[derive(Clone, Debug)]
pub struct Args<'s, 'b> {
    src: &'s [u8],
    toks: core::slice::Iter<'b, Token>,
}

impl<'s> Iterator for Args<'s, '_> {
    type Item = Arg<'s>;

    fn next(&mut self) -> Option<Arg<'s>> {
        for t in self.toks.by_ref() {
            if matches!(t.kind, TokenKind::Option { .. }) {
                continue;
            }
            return Some(Arg {
                text: self
                    .src
                    .get(t.start as usize..t.end as usize)
                    .unwrap_or(&[]),
                kind: t.kind,
                escaped: t.escaped,
            });
        }
        None
    }
}

/// Iterator over `key=value` options, see [`Tree::options`].
#[derive(Clone, Debug)]
pub struct OptionArgs<'s, 'b> {
    src: &'s [u8],
    toks: core::slice::Iter<'b, Token>,
}

impl<'s> Iterator for OptionArgs<'s, '_> {
    type Item = OptionArg<'s>;

    fn next(&mut self) -> Option<OptionArg<'s>> {
        for t in self.toks.by_ref() {
            if let TokenKind::Option { quoted_value } = t.kind {
                return Some(OptionArg {
                    key: self
                        .src
                        .get(t.start as usize..t.end as usize)
                        .unwrap_or(&[]),
                    value: self
                        .src
                        .get(t.vstart as usize..t.vend as usize)
                        .unwrap_or(&[]),
                    quoted: quoted_value,
                    escaped: t.escaped,
                });
            }
        }
        None
    }
}
