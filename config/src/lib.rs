//! Tempesta FW's configuration language for tempesta-rs: lexer, parser, schema validation and
//! typed accessors.
//!
//! `no_std`, allocation-free and panic-free on any input: the kernel module compiles these
//! sources directly (`#[path = "../config/src/lib.rs"] mod config;`), and the host tool
//! `tempesta-rs check` runs the very same code.
//!
//! # Use
//!
//! ```
//! use tempesta_config::{measure, parse, validate, listeners, Node, Token, Options};
//!
//! let src = b"listen 80;\nlisten [::1]:8080 proto=http;\n";
//! let sizes = measure(src).unwrap();              // cheap pass: syntax + counts
//! let mut nodes = vec![Node::EMPTY; sizes.nodes]; // the kernel uses its own allocator
//! let mut tokens = vec![Token::EMPTY; sizes.tokens];
//! let tree = parse(src, &mut nodes, &mut tokens).unwrap();
//! validate(&tree, &Options::STRICT).unwrap();
//! let ports: Vec<u16> = listeners(&tree).map(|l| l.unwrap().addr.port()).collect();
//! assert_eq!(ports, [80, 8080]);
//! ```
//!
//! # Layers
//!
//! * Syntax ([`measure`], [`parse`], [`Tree`]), see below.
//! * Schema ([`schema::DIRECTIVES`], [`validate`]): contexts, shapes, argument counts, options
//!   and the support level of every directive; unsupported ones are refused unless
//!   [`Options::accept_unsupported`].
//! * Semantics ([`listeners`], [`upstream`], [`values`]): typed `listen`; server groups, servers,
//!   vhosts and routing ([`srv_groups`], [`servers`], [`vhosts`], [`default_vhost`]),
//!   `keepalive_timeout` and `hdr_via`; the value parsers other layers use.
//! * Per-scope settings: [`location`] blocks and the [`Scope`] (global, vhost, location) that
//!   [`cache`], [`frang`](mod@frang), [`hdrmod`] (`req_hdr_*`, `resp_hdr_*`) and [`nonidempotent`] look
//!   their settings up in.
//!
//! # Syntax
//!
//! Tempesta FW's (`fw/cfg.c`):
//!
//! ```text
//! config    := item*
//! item      := directive | rule
//! directive := NAME (ARG | KEY '=' VALUE)* (';' | '{' item* '}')
//! rule      := FIELD [FIELD_NAME] ('==' | '!=') ARG '->' ACTION ['=' VAL] ';'
//!            | '->' ACTION ['=' VAL] ';'
//! ```
//!
//! * NAME and KEY are identifiers (a letter, then letters, digits, `_`); the others are words
//!   or double-quoted strings.
//! * Whitespace separates tokens; `#` starts a comment to the end of the line (also right after
//!   a word: `a#b` is the word `a`).
//! * `"..."` may contain spaces, `;`, `{`, `#` and line breaks; a backslash escapes the next
//!   character (`\"`, `\\`, any other). Escapes stay in the raw text ([`Arg::escaped`]);
//!   [`unescape`] removes them into a caller buffer. Outside quotes a backslash makes the next
//!   character an ordinary word character (`a\;b` is one word).
//! * `->`, `==`, `!=` and `=` are operators and end a word with or without spaces: `a==b` is
//!   three tokens, `->main` is two; a `-` not followed by `>` and a `!` not followed by `=` are
//!   word characters (`0x24-0x26`, `!x`).
//! * How `=` binds: in a directive, `key=value` and `key = value` are both the option `key`
//!   (as in Tempesta), and anything else around `=` is an error (`unexpected '='`). A statement
//!   whose second or third token is `==`/`!=`, or whose first token is `->`, is a rule
//!   ([`NodeKind::Rule`]); its tokens are kept as written, so `-> mark = 7;` is the four tokens
//!   `->`, `mark`, `=`, `7` (same for `->mark=7;`), operators included in [`Tree::args`].
//! * `!include PATH` is refused with `!include must be expanded by tempesta.sh`: the kernel
//!   reads one file, tempesta.sh expands includes before.
//!
//! # Limits
//!
//! [`MAX_SOURCE_LEN`] bytes of source, [`MAX_DEPTH`] nested blocks, [`MAX_TOKEN_LEN`] bytes per
//! token, [`listen::MAX_LISTENERS`] `listen` directives, [`MAX_GROUPS`] server groups,
//! [`MAX_SERVERS`] servers per group, [`MAX_SERVER_CONNS`] connections to servers in total.
//!
//! # Errors
//!
//! [`Error`] displays as `line N: directive 'NAME': REASON`; [`Error::with_file`] as
//! `FILE:N: directive 'NAME': REASON` (what the module prints after `tempesta: config error: `).
//! The reasons are listed on [`ErrorKind`].
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod access_log;
pub mod brange;
pub mod cache;
mod error;
pub mod errpage;
pub mod frang;
pub mod hdrmod;
pub mod health;
mod lexer;
pub mod listen;
pub mod location;
pub mod nonidempotent;
mod parser;
pub mod schema;
mod tree;
pub mod upstream;
mod validate;
#[cfg(test)]
mod test_util {
    use crate::{measure, parse, Node, Token, Tree};

    /// Runs `f` on the tree of `src`, which must be well-formed.
    pub(crate) fn with<R>(src: &str, f: impl FnOnce(&Tree<'_, '_>) -> R) -> R {
        let sizes = measure(src.as_bytes()).expect("syntax");
        let mut nodes = vec![Node::EMPTY; sizes.nodes];
        let mut tokens = vec![Token::EMPTY; sizes.tokens];
        let tree = parse(src.as_bytes(), &mut nodes, &mut tokens).expect("syntax");
        f(&tree)
    }
}
pub mod tables;
pub mod values;

// The kernel module includes this file as a private `mod config;` and does not use every
// re-export; `unused_imports` would flag them there (never in this crate).
#[allow(unused_imports)]
pub use self::access_log::{access_log, AccessLog};
#[allow(unused_imports)]
pub use self::error::{Error, ErrorKind, WithFile};
#[allow(unused_imports)]
pub use self::frang::{block_actions, frang, vhost_frang, whitelist_marks, BlockActions, Frang};
#[allow(unused_imports)]
pub use self::listen::{
    effective_listeners, listeners, listeners_with_lines, Listen, Listeners, Proto, DEFAULT_LISTEN,
};
#[allow(unused_imports)]
pub use self::location::{locations, Location, Scope, MAX_LOCATIONS};
#[allow(unused_imports)]
pub use self::parser::{measure, parse};
#[allow(unused_imports)]
pub use self::schema::{Context, DirectiveSpec, Support};
#[allow(unused_imports)]
pub use self::tree::{
    Arg, Args, Node, NodeKind, Nodes, Op, OptionArg, OptionArgs, Sizes, Token, TokenKind, Tree,
};
#[allow(unused_imports)]
pub use self::upstream::{
    client_mem, client_table, default_vhost, hdr_via, keepalive_timeout, max_header_list_size,
    servers, srv_groups, vhosts, ws_timeout, ClientMem, ClientTableCfg, GroupParams, Sched, Server,
    SrvGroup, SrvGroups, Vhost, DEFAULT_GROUP, DEFAULT_VHOST, MAX_GROUPS, MAX_SERVERS,
    MAX_SERVER_CONNS,
};
#[allow(unused_imports)]
pub use self::validate::Options;
#[allow(unused_imports)]
pub use self::values::unescape;

/// Validates `tree` and returns the first error: the schema and directive checks in file order
/// (see [`Options`] and the `validate` module: contexts, shapes, argument counts, options,
/// repetition, support level, then each directive's semantics), then the values of the cache
/// directives ([`cache`](mod@cache): the same checks as its accessors, and `cache_fulfill`,
/// `cache_bypass`, ... in a `location` are refused unless [`Options::accept_unsupported`]).
pub fn validate<'s>(tree: &Tree<'s, '_>, opts: &Options) -> Result<(), Error<'s>> {
    self::validate::validate(tree, opts)?;
    location::check(tree, opts.accept_unsupported)?;
    hdrmod::check(tree)?;
    nonidempotent::check(tree)?;
    cache::check(tree)
}

/// Largest configuration accepted, in bytes (1 MiB).
pub const MAX_SOURCE_LEN: usize = 1_048_576;

/// Deepest nesting of blocks (`vhost { location { frang_limits { } } }` is 3).
pub const MAX_DEPTH: usize = 8;

/// Longest word or quoted string, in bytes.
pub const MAX_TOKEN_LEN: usize = 4096;
