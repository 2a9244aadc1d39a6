//! Schema validation of a parsed [`Tree`]: every check the module needs before applying a
//! configuration, reporting the first error in file order.
//!
//! For each node, in order:
//! 1. http_chain rules are only allowed in `http_chain` (and are shape-checked there);
//! 2. the name must be in [`DIRECTIVES`](super::schema::DIRECTIVES) (`unknown directive`);
//! 3. the context must allow it (`not allowed in CONTEXT`);
//! 4. block or statement, argument count, options (`expected ...`, `unknown option`...);
//! 5. a non-repeatable directive must not repeat in its block; `vhost`, `srv_group`,
//!    `health_check` and `http_chain` names must be unique;
//! 6. [`Support::NotYetSupported`] directives fail with `not supported by tempesta-rs yet` unless
//!    [`Options::accept_unsupported`];
//! 7. directive semantics (`listen`: address, port, proto, duplicates; the upstream and routing
//!    directives, see `upstream.rs`);
//! 8. then its children, in the block's context.

use super::access_log;
use super::error::{Error, ErrorKind};
use super::frang;
use super::hdrmod;
use super::health;
use super::listen::{check_listen, Proto};
use super::location;
use super::nonidempotent;
use super::schema::{lookup, Context, DirectiveSpec, OptionSpec, Shape, Support, MANY};
use super::tree::{Node, Nodes, Op, Tree};
use super::upstream;

/// Validation switches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Accept directives (and `listen` protos) that Tempesta FW has but tempesta-rs does not
    /// implement yet, after checking their shape. For `tempesta-rs check --lenient` and tests;
    /// the module validates with `false`.
    pub accept_unsupported: bool,
}

impl Options {
    /// What the kernel module uses: unsupported directives are errors.
    pub const STRICT: Options = Options {
        accept_unsupported: false,
    };
    /// Shape-check unsupported directives and accept them.
    pub const LENIENT: Options = Options {
        accept_unsupported: true,
    };
}

/// Validates `tree` against the schema and returns the first error in file order.
///
/// For each node, in order:
/// 1. http_chain rules are only allowed in `http_chain` (and are shape-checked there);
/// 2. the name must be in [`DIRECTIVES`](super::schema::DIRECTIVES) (`unknown directive`);
/// 3. the context must allow it (`not allowed in CONTEXT`);
/// 4. block or statement, argument count, options (`expected ...`, `unknown option`...);
/// 5. a non-repeatable directive must not repeat in its block; `vhost`, `srv_group`,
///    `health_check` and `http_chain` names must be unique;
/// 6. [`Support::NotYetSupported`] directives fail with `not supported by tempesta-rs yet`
///    unless [`Options::accept_unsupported`];
/// 7. directive semantics (`listen`: address, port, proto, duplicates — the same checks as
///    [`listeners`](super::listeners); `server`, `srv_group`, group options, `vhost`,
///    `proxy_pass`, http_chain rules, `keepalive_timeout`, `hdr_via`: see
///    [`upstream`](super::upstream));
/// 8. then its children, in the block's context.
pub fn validate<'s>(tree: &Tree<'s, '_>, opts: &Options) -> Result<(), Error<'s>> {
    scope(tree, tree.top_level(), Context::Global, opts)
}

fn scope<'s>(
    tree: &Tree<'s, '_>,
    siblings: Nodes<'_>,
    ctx: Context,
    opts: &Options,
) -> Result<(), Error<'s>> {
    let mut default_rule_seen = false;
    for node in siblings.clone() {
        if node.is_rule() {
            if ctx != Context::HttpChain {
                return Err(tree.error(node, ErrorKind::NotAllowed(ctx)));
            }
            if default_rule_seen {
                return Err(tree.error(
                    node,
                    ErrorKind::Message(
                        "a default rule '-> ...' must be the last rule of its http_chain",
                    ),
                ));
            }
            check_rule(tree, node)?;
            upstream::check_rule(tree, node)?;
            default_rule_seen = is_default_rule(tree, node);
            continue;
        }
        let name = tree.name(node);
        let spec = lookup(name).ok_or_else(|| tree.error(node, ErrorKind::UnknownDirective))?;
        if !spec.contexts.contains(ctx) {
            return Err(tree.error(node, ErrorKind::NotAllowed(ctx)));
        }
        check_shape(tree, node, spec)?;
        check_unique(tree, siblings.clone(), node, spec, ctx)?;
        if spec.support == Support::NotYetSupported && !opts.accept_unsupported {
            return Err(tree.error(node, ErrorKind::NotSupported));
        }
        check_semantics(tree, siblings.clone(), node, spec, opts)?;
        if node.is_block() {
            if let Some(child) = spec.child_context(ctx) {
                scope(tree, tree.children(node), child, opts)?;
            }
        }
    }
    Ok(())
}

fn check_shape<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
    spec: &DirectiveSpec,
) -> Result<(), Error<'s>> {
    match (spec.shape, node.is_block()) {
        (Shape::Block, false) => return Err(tree.error(node, ErrorKind::ExpectedBlock)),
        (Shape::Statement, true) => return Err(tree.error(node, ErrorKind::UnexpectedBlock)),
        _ => {}
    }
    let got = tree.arg_count(node);
    let too_many = spec.max_args != MANY && got > usize::from(spec.max_args);
    if got < usize::from(spec.min_args) || too_many {
        return Err(tree.error(
            node,
            ErrorKind::ArgCount {
                min: spec.min_args,
                max: spec.max_args,
                got,
            },
        ));
    }
    for (i, o) in tree.options(node).enumerate() {
        let known = match spec.options {
            OptionSpec::None => false,
            OptionSpec::Any => true,
            OptionSpec::Keys(keys) => keys
                .iter()
                .any(|k| o.key.eq_ignore_ascii_case(k.as_bytes())),
        };
        if !known {
            return Err(tree.error(node, ErrorKind::UnknownOption(o.key)));
        }
        if tree
            .options(node)
            .take(i)
            .any(|p| p.key.eq_ignore_ascii_case(o.key))
        {
            return Err(tree.error(node, ErrorKind::DuplicateOption(o.key)));
        }
    }
    Ok(())
}

/// Non-repeatable directives and unique block names, against the earlier siblings.
fn check_unique<'s>(
    tree: &Tree<'s, '_>,
    siblings: Nodes<'_>,
    node: &Node,
    spec: &DirectiveSpec,
    ctx: Context,
) -> Result<(), Error<'s>> {
    if spec.repeatable && !spec.unique_name {
        return Ok(());
    }
    let name = tree.name(node);
    let first = tree.arg(node, 0).map(|a| a.text);
    for prev in siblings {
        if prev.index() >= node.index() {
            break;
        }
        if prev.is_rule() || tree.name(prev) != name {
            continue;
        }
        if !spec.repeatable {
            return Err(tree.error(node, ErrorKind::Duplicate(ctx)));
        }
        let prev_first = tree.arg(prev, 0).map(|a| a.text);
        match (first, prev_first) {
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => {
                return Err(tree.error(node, ErrorKind::DuplicateName(a)));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_semantics<'s>(
    tree: &Tree<'s, '_>,
    siblings: Nodes<'_>,
    node: &Node,
    spec: &DirectiveSpec,
    opts: &Options,
) -> Result<(), Error<'s>> {
    match spec.name {
        "listen" => {
            let l = check_listen(tree, siblings, node)?;
            if l.proto != Proto::Http && !opts.accept_unsupported {
                let v = tree.option(node, "proto").map_or(&[][..], |o| o.value);
                return Err(tree.error(node, ErrorKind::NotSupportedValue("proto", v)));
            }
        }
        "server" => {
            upstream::check_server(tree, node)?;
        }
        "srv_group" => {
            upstream::check_group_decl(tree, node)?;
        }
        "sched"
        | "server_queue_size"
        | "server_forward_timeout"
        | "server_forward_retries"
        | "server_connect_retries" => {
            upstream::check_group_option(tree, node)?;
        }
        "vhost" => upstream::check_vhost_decl(tree, node)?,
        "health" => {
            health::check_health(tree, node)?;
        }
        "health_check" => {
            health::parse_health_check(tree, node)?;
        }
        "server_failover_http" => {
            health::parse_failover(tree, node)?;
        }
        "health_stat" | "health_stat_server" => {
            health::parse_stat_codes(tree, node)?;
        }
        "proxy_pass" => {
            upstream::check_proxy_pass(tree, node)?;
        }
        "keepalive_timeout" => {
            upstream::parse_keepalive_timeout(tree, node)?;
        }
        "http_max_header_list_size" => {
            upstream::parse_max_header_list_size(tree, node)?;
        }
        "client_mem" => {
            upstream::parse_client_mem(tree, node)?;
        }
        "client_lru_size" => {
            upstream::parse_client_lru_size(tree, node)?;
        }
        "client_tbl_size" => {
            upstream::parse_client_tbl_size(tree, node)?;
        }
        "client_db" | "cache_db" => {
            upstream::check_db_path(tree, node)?;
        }
        "response_body" => {
            super::errpage::parse_response_body(tree, node)?;
        }
        n if super::brange::is_brange(n.as_bytes()) => {
            super::brange::parse_brange(tree, node)?;
        }
        "client_ws_timeout" => {
            upstream::parse_ws_timeout(tree, node)?;
        }
        "grace_shutdown_time" => {
            upstream::parse_grace_shutdown_time(tree, node)?;
        }
        "hdr_via" => {
            upstream::parse_hdr_via(tree, node)?;
        }
        "block_action" => {
            frang::check_block_action(tree, node)?;
        }
        "whitelist_mark" => {
            let mut marks = [0; frang::MAX_WHITELIST_MARKS];
            frang::whitelist_marks(tree, &mut marks)?;
        }
        "location" => location::check_location(tree, node, opts.accept_unsupported)?,
        "nonidempotent" => {
            nonidempotent::parse(tree, node)?;
        }
        "req_hdr_add" | "req_hdr_set" | "resp_hdr_add" | "resp_hdr_set" => {
            hdrmod::parse(tree, node)?;
        }
        "request_rate"
        | "request_burst"
        | "tcp_connection_rate"
        | "tcp_connection_burst"
        | "concurrent_tcp_connections"
        | "ip_block"
        | "client_header_timeout"
        | "client_body_timeout"
        | "http_header_chunk_cnt"
        | "http_body_chunk_cnt"
        | "http_uri_len"
        | "http_hdr_len"
        | "http_header_cnt"
        | "http_body_len"
        | "http_strict_host_checking"
        | "http_ct_required"
        | "http_methods" => {
            frang::apply_limit(tree, node, &mut frang::Frang::default())?;
            if tree.name(node) == b"ip_block" {
                frang::check_ip_block(tree, node)?;
            }
        }
        "access_log" => {
            access_log::check_access_log(tree, node)?;
        }
        "mmap_log_buffer_size" => {
            access_log::check_buffer_size(tree, node)?;
        }
        "http_chain" => {
            // The main (unnamed) chain must be the only one and the last one.
            for prev in siblings {
                if prev.index() >= node.index() {
                    break;
                }
                if !prev.is_rule() && tree.name(prev) == b"http_chain" && tree.arg_count(prev) == 0
                {
                    return Err(tree.error(
                        node,
                        ErrorKind::Message(
                            "the main (unnamed) http_chain must be the only one and the last one",
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Rule fields Tempesta FW matches on.
const RULE_FIELDS: [&[u8]; 6] = [b"uri", b"host", b"hdr", b"mark", b"method", b"cookie"];

/// A default rule (`-> ACTION`) whose action is terminal ends the chain (`mark`,
/// `cache_ttl` and `cache_disable` don't).
fn is_default_rule(tree: &Tree<'_, '_>, node: &Node) -> bool {
    let mut args = tree.args(node);
    match (args.next(), args.next()) {
        (Some(a), Some(act)) => {
            a.is_op(Op::Arrow)
                && ![&b"mark"[..], b"cache_ttl", b"cache_disable"]
                    .iter()
                    .any(|n| act.text.eq_ignore_ascii_case(n))
        }
        _ => false,
    }
}

fn check_rule<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<(), Error<'s>> {
    let mut args = tree.args(node);
    let Some(first) = args.next() else {
        return Ok(());
    };
    let action = if first.is_op(Op::Arrow) {
        args.next()
    } else {
        if !RULE_FIELDS
            .iter()
            .any(|f| f.eq_ignore_ascii_case(first.text))
        {
            return Err(tree.error(node, ErrorKind::InvalidValue("rule field", first.text)));
        }
        let named =
            first.text.eq_ignore_ascii_case(b"hdr") || first.text.eq_ignore_ascii_case(b"cookie");
        let second = args.next();
        let has_name = second.is_some_and(|a| !a.is_op(Op::Eq) && !a.is_op(Op::Ne));
        if named && !has_name {
            return Err(tree.error(
                node,
                ErrorKind::InvalidRule("'hdr' and 'cookie' need a name: hdr \"NAME\" == ARG"),
            ));
        }
        if !named && has_name {
            return Err(tree.error(
                node,
                ErrorKind::InvalidRule("only 'hdr' and 'cookie' take a name before '=='"),
            ));
        }
        args.by_ref().find(|a| a.is_op(Op::Arrow));
        args.next()
    };
    if let Some(act) = action {
        let has_val = args.next().is_some_and(|a| a.is_op(Op::Assign));
        if act.text.eq_ignore_ascii_case(b"mark") && !has_val {
            return Err(tree.error(node, ErrorKind::InvalidRule("action 'mark' needs '= N'")));
        }
    }
    Ok(())
}
