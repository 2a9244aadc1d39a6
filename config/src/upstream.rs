//! Upstreams and routing: `srv_group`, `server`, `sched`, the `server_*` forwarding options,
//! `vhost`, `proxy_pass`, the main `http_chain`, plus `keepalive_timeout` and `hdr_via`.
//!
//! Semantics follow Tempesta FW (`sock_srv.c`, `vhost.c`, `http_tbl.c`, `sock_clnt.c`), which
//! reads the file once, in order:
//!
//! * **Groups.** `srv_group NAME { server ...; ... }` declares a group. Top-level `server` lines
//!   form the implicit group [`DEFAULT_GROUP`] (`default`); it can't coexist with an explicit
//!   `srv_group default`. [`srv_groups`] yields the implicit group first, then the explicit
//!   ones in file order.
//! * **Group options** (`sched`, `server_queue_size`, `server_forward_timeout`,
//!   `server_forward_retries`, `server_retry_nonidempotent`, `server_connect_retries`): written
//!   inside a group they apply to it. Written at top level they are defaults: an explicit group
//!   inherits a top-level option written *before* the group (one written after it does not
//!   apply), and the implicit `default` group takes the top-level options wherever they are
//!   (Tempesta fills it at the end of the file). Otherwise Tempesta's defaults apply, see
//!   [`GroupParams::DEFAULT`].
//! * **Servers.** `server IP[:PORT] [conns_n=N] [weight=N]`: `IP:PORT`, `[IPv6]:PORT`, a bare
//!   `IP` or `[IPv6]` or `IPv6` means port 80
//!   ([`DEFAULT_PORT`](super::listen::DEFAULT_PORT)); host names are refused.
//!   IPv4-mapped IPv6 addresses are stored as IPv4 (Tempesta compares them so). `conns_n` is
//!   1..=[`MAX_CONNS_N`] (default [`DEFAULT_CONNS_N`]), `weight` 1..=100 (default
//!   [`DEFAULT_WEIGHT`]). The same address twice in one group is an error (in two groups it is
//!   not).
//! * **Limits** (they bound the module's memory): [`MAX_GROUPS`] groups (the implicit one
//!   included), [`MAX_SERVERS`] servers per group, [`MAX_SERVER_CONNS`] connections to servers
//!   in total (the sum of `conns_n`).
//! * **Vhosts.** `vhost NAME { proxy_pass GROUP; }`: the group must be defined before the vhost.
//!   A vhost other than `default` needs `proxy_pass`. `vhost default` proxies to the `default`
//!   group (which must be defined before it) and may only name that group in `proxy_pass`.
//!   Without an explicit `vhost default`, Tempesta creates an implicit one proxying to the
//!   `default` group; [`vhosts`] yields it (first) when that group exists.
//! * **Routing.** The HTTP tables (`http_chain`, typed by [`tables`]) pick a
//!   request's vhost; a rule's vhost or chain must be defined before the rule (the implicit
//!   `default` vhost can't be named: Tempesta creates it at the end of the file). Without any
//!   `http_chain`, requests go to the `default` vhost if there is one. See [`default_vhost`].
//! * Names of groups and vhosts compare ASCII case-insensitively, as in Tempesta.
//!
//! * `proxy_pass MAIN backup=BACKUP`: requests go to BACKUP while no server of MAIN is up.
//!
//! Not implemented by tempesta-rs yet (refused by [`validate`] in strict mode, accepted after
//! their shape is checked in lenient mode; the accessors here return an error for them):
//! schedulers other than `ratio static`.
//!
//! [`validate`]: super::validate

use core::net::{IpAddr, SocketAddr};

use super::error::{Error, ErrorKind};
use super::listen::parse_listen_addr;
use super::tables;
use super::tree::{Arg, Node, Nodes, Tree};
use super::values::{parse_secs, parse_u32_in};

/// Name of the implicit group of top-level `server` lines, and of the default vhost.
pub const DEFAULT_GROUP: &str = "default";

/// Name of the default vhost.
pub const DEFAULT_VHOST: &str = "default";

/// Most server groups, the implicit `default` one included.
pub const MAX_GROUPS: usize = 64;

/// Most `server` entries in one group.
pub const MAX_SERVERS: usize = 64;

/// Most connections to servers in total (the sum of every server's `conns_n`).
pub const MAX_SERVER_CONNS: u32 = 4096;

/// Largest `conns_n` of one server (Tempesta allows more; tempesta-rs bounds it).
pub const MAX_CONNS_N: u32 = 1024;

/// Tempesta's default `conns_n` (`TFW_CFG_SRV_CONNS_N_DEF`).
pub const DEFAULT_CONNS_N: u32 = 32;

/// Smallest `weight` (`TFW_CFG_SRV_WEIGHT_MIN`).
pub const MIN_WEIGHT: u32 = 1;

/// Largest `weight` (`TFW_CFG_SRV_WEIGHT_MAX`).
pub const MAX_WEIGHT: u32 = 100;

/// Tempesta's default `weight` under `sched ratio static` (`TFW_CFG_SRV_WEIGHT_DEF`).
pub const DEFAULT_WEIGHT: u32 = 50;

/// Tempesta's default `keepalive_timeout`, in seconds.
pub const DEFAULT_KEEPALIVE_TIMEOUT: u32 = 75;

/// Tempesta's default `client_ws_timeout`, in seconds.
pub const DEFAULT_WS_TIMEOUT: u32 = 3600;

/// Largest value of the `int` options Tempesta bounds by `INT_MAX` (`server_queue_size`,
/// `server_forward_timeout`, `server_connect_retries`, `keepalive_timeout`).
pub const MAX_INT: u32 = i32::MAX as u32;

/// Largest `server_forward_retries` (`USHRT_MAX`).
pub const MAX_FORWARD_RETRIES: u32 = u16::MAX as u32;

/// A group's scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sched {
    /// Weighted round robin with static weights: `sched ratio static;` or `sched ratio;`
    /// (Tempesta's default).
    RatioStatic,
    /// `sched hash;`: rendezvous hashing of the request's Host and URI.
    Hash,
    /// `sched ratio dynamic [STAT];` or `sched ratio predict [STAT] [past=N] [rate=N]
    /// [ahead=N];`: weighted round robin with weights from response times.
    RatioDynamic(Dynamic),
}

/// The response time statistic a dynamic ratio follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RttStat {
    /// `minimum`.
    Minimum,
    /// `maximum`.
    Maximum,
    /// `average` (the default).
    Average,
    /// `percentile [50|75|90|95|99]` (90 without a value).
    Percentile(u8),
}

/// `sched ratio dynamic|predict` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dynamic {
    /// The statistic.
    pub stat: RttStat,
    /// `predict`: its `past=` seconds of history (1-120, default 30), `rate=` samples a second
    /// (1-20, default 20) and `ahead=` seconds (default past/2, at most past).
    pub predict: Option<Predict>,
}

/// `sched ratio predict` options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Predict {
    /// `past=`.
    pub past: u32,
    /// `rate=`.
    pub rate: u32,
    /// `ahead=`.
    pub ahead: u32,
}

/// The options of a server group, after inheritance and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupParams {
    /// `sched` (default `ratio static`).
    pub sched: Sched,
    /// `server_queue_size`: requests queued per group at most; 0 = unlimited (default 1000).
    pub queue_size: u32,
    /// `server_forward_timeout`: seconds a request may wait to be forwarded; 0 = unlimited
    /// (default 60).
    pub forward_timeout: u32,
    /// `server_forward_retries`: re-forwarding attempts of a request (default 5).
    pub forward_retries: u32,
    /// `server_retry_nonidempotent`: non-idempotent requests may be re-forwarded too (default
    /// off).
    pub retry_nonidempotent: bool,
    /// `server_connect_retries`: reconnection attempts before a server is considered down;
    /// 0 = unlimited (default 10). Tempesta raises small non-zero values to the length of its
    /// reconnection timeout table.
    pub connect_retries: u32,
}

impl GroupParams {
    /// Tempesta's defaults (the `.deflt` of `tfw_srv_group_specs` in `sock_srv.c`).
    pub const DEFAULT: GroupParams = GroupParams {
        sched: Sched::RatioStatic,
        queue_size: 1000,
        forward_timeout: 60,
        forward_retries: 5,
        retry_nonidempotent: false,
        connect_retries: 10,
    };
}

impl Default for GroupParams {
    fn default() -> Self {
        GroupParams::DEFAULT
    }
}

/// A server group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SrvGroup<'s> {
    /// The name as written (`default` for the implicit group).
    pub name: &'s str,
    /// Line of `srv_group`, or of the first top-level `server` for the implicit group.
    pub line: u32,
    /// Options, inherited and defaulted.
    pub params: GroupParams,
    /// Index of the `srv_group` node; `None` for the implicit group.
    node: Option<u32>,
}

impl SrvGroup<'_> {
    /// Whether this is the implicit `default` group of top-level `server` lines.
    pub const fn is_implicit(&self) -> bool {
        self.node.is_none()
    }
}

/// One upstream server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Server {
    /// Address and port (IPv4-mapped IPv6 addresses as IPv4).
    pub addr: SocketAddr,
    /// Connections to open (`conns_n`).
    pub conns_n: u32,
    /// Static weight (`weight`).
    pub weight: u32,
    /// Line of the `server` directive.
    pub line: u32,
}

/// A virtual host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vhost<'s> {
    /// The name as written (`default` for the implicit default vhost).
    pub name: &'s str,
    /// Line of `vhost`; 0 for the implicit default vhost.
    pub line: u32,
    /// The group it proxies to, as the group's [`SrvGroup::name`]. Always `Some` today (a vhost
    /// without `proxy_pass` is an error); `None` is reserved for vhosts served by their
    /// `location`s only.
    pub proxy_pass: Option<&'s str>,
    /// The `backup=` group of its `proxy_pass`.
    pub backup: Option<&'s str>,
}

// ---------------------------------------------------------------------------------------------
// Small helpers over the tree.

pub(crate) fn is_dir(tree: &Tree<'_, '_>, node: &Node, name: &[u8]) -> bool {
    !node.is_rule() && tree.name(node) == name
}

fn is_default(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(DEFAULT_GROUP.as_bytes())
}

/// The first argument, as text.
fn first_arg<'s>(tree: &Tree<'s, '_>, node: &Node) -> &'s [u8] {
    tree.arg(node, 0).map_or(&[], |a| a.text)
}

/// The name of a `srv_group`/`vhost`/`http_chain`: one UTF-8 argument.
fn block_name<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<&'s str, Error<'s>> {
    let n = tree.arg_count(node);
    match tree.arg(node, 0) {
        Some(a) if n == 1 => a
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| tree.error(node, ErrorKind::InvalidValue("name", a.text))),
        _ => Err(tree.error(
            node,
            ErrorKind::ArgCount {
                min: 1,
                max: 1,
                got: n,
            },
        )),
    }
}

/// Top-level nodes before index `idx`.
fn top_before<'b>(tree: &Tree<'_, 'b>, idx: u32) -> impl Iterator<Item = &'b Node> {
    tree.top_level().take_while(move |n| n.index() < idx)
}

/// The top-level `srv_group` named `name` (case-insensitive), with the index bound.
fn find_group<'b>(tree: &Tree<'_, 'b>, name: &[u8], before: u32) -> Option<&'b Node> {
    top_before(tree, before)
        .find(|n| is_dir(tree, n, b"srv_group") && first_arg(tree, n).eq_ignore_ascii_case(name))
}

/// The first top-level `server`, with the index bound.
fn first_global_server<'b>(tree: &Tree<'_, 'b>, before: u32) -> Option<&'b Node> {
    top_before(tree, before).find(|n| is_dir(tree, n, b"server"))
}

/// The top-level `vhost` named `name` (case-insensitive), with the index bound.
fn find_vhost<'b>(tree: &Tree<'_, 'b>, name: &[u8], before: u32) -> Option<&'b Node> {
    top_before(tree, before)
        .find(|n| is_dir(tree, n, b"vhost") && first_arg(tree, n).eq_ignore_ascii_case(name))
}

/// The named top-level `http_chain` `name` (case-insensitive), with the index bound.
fn find_chain<'b>(tree: &Tree<'_, 'b>, name: &[u8], before: u32) -> Option<&'b Node> {
    top_before(tree, before).find(|n| {
        is_dir(tree, n, b"http_chain")
            && tree.arg_count(n) == 1
            && first_arg(tree, n).eq_ignore_ascii_case(name)
    })
}

/// Whether the `default` group (explicit, or implicit from top-level `server`s) exists among
/// the top-level nodes before `before`.
fn default_group_before(tree: &Tree<'_, '_>, before: u32) -> bool {
    find_group(tree, DEFAULT_GROUP.as_bytes(), before).is_some()
        || first_global_server(tree, before).is_some()
}

/// Numbers of a directive's single argument.
fn arg_u32<'s>(tree: &Tree<'s, '_>, node: &Node, max: u32) -> Result<u32, Error<'s>> {
    parse_u32_in(first_arg(tree, node), 0, max).map_err(|k| tree.error(node, k))
}

fn arg_secs<'s>(tree: &Tree<'s, '_>, node: &Node, max: u32) -> Result<u32, Error<'s>> {
    parse_secs(first_arg(tree, node), max).map_err(|k| tree.error(node, k))
}

// ---------------------------------------------------------------------------------------------
// Servers.

/// Parses the address of `server` (see the module docs): a bare port is refused, a host name
/// is refused with its own reason, IPv4-mapped IPv6 becomes IPv4.
pub fn parse_server_addr(a: &[u8]) -> Result<SocketAddr, ErrorKind<'_>> {
    if a.iter().all(u8::is_ascii_digit) {
        // Empty, or a bare port: `listen` takes that, `server` does not.
        return Err(ErrorKind::InvalidAddress(a));
    }
    if looks_like_hostname(a) {
        return Err(ErrorKind::Hostname(a));
    }
    let addr = parse_listen_addr(a)?;
    Ok(match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    })
}

/// `name`, `name:port`: letters, no `[` and at most one `:` (more is an IPv6 attempt).
fn looks_like_hostname(a: &[u8]) -> bool {
    if a.first() == Some(&b'[') {
        return false;
    }
    let colons = a.iter().filter(|c| **c == b':').count();
    let host = match colons {
        0 => a,
        1 => a.split(|c| *c == b':').next().unwrap_or(a),
        _ => return false,
    };
    host.iter().any(u8::is_ascii_alphabetic)
}

fn option_u32<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
    key: &'static str,
    value: &'s [u8],
    min: u32,
    max: u32,
) -> Result<u32, Error<'s>> {
    parse_u32_in(value, min, max).map_err(|k| {
        let k = match k {
            ErrorKind::OutOfRange { value, min, max } => ErrorKind::OptionOutOfRange {
                key,
                value,
                min,
                max,
            },
            _ => ErrorKind::InvalidValue(key, value),
        };
        tree.error(node, k)
    })
}

/// Parses one `server` node on its own: argument, options, address.
pub fn parse_server<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<Server, Error<'s>> {
    let arg = tree.single_arg(node)?;
    let (mut conns_n, mut weight) = (DEFAULT_CONNS_N, DEFAULT_WEIGHT);
    for (i, o) in tree.options(node).enumerate() {
        if tree
            .options(node)
            .take(i)
            .any(|p| p.key.eq_ignore_ascii_case(o.key))
        {
            return Err(tree.error(node, ErrorKind::DuplicateOption(o.key)));
        }
        if o.key.eq_ignore_ascii_case(b"conns_n") {
            conns_n = option_u32(tree, node, "conns_n", o.value, 1, MAX_CONNS_N)?;
        } else if o.key.eq_ignore_ascii_case(b"weight") {
            weight = option_u32(tree, node, "weight", o.value, MIN_WEIGHT, MAX_WEIGHT)?;
        } else {
            return Err(tree.error(node, ErrorKind::UnknownOption(o.key)));
        }
    }
    let addr = parse_server_addr(arg.text).map_err(|k| tree.error(node, k))?;
    Ok(Server {
        addr,
        conns_n,
        weight,
        line: node.line(),
    })
}

/// The `server` siblings of `node` (its group's entries).
fn group_members<'b>(tree: &Tree<'_, 'b>, node: &Node) -> Nodes<'b> {
    match tree.parent(node) {
        Some(p) => tree.children(p),
        None => tree.top_level(),
    }
}

/// Sum of `conns_n` of the servers (top-level or in a `srv_group`) before index `before`.
fn conns_before(tree: &Tree<'_, '_>, before: u32) -> u32 {
    let mut sum: u32 = 0;
    let mut add = |n: &Node| {
        if is_dir(tree, n, b"server") && n.index() < before {
            if let Ok(s) = parse_server(tree, n) {
                sum = sum.saturating_add(s.conns_n);
            }
        }
    };
    for top in top_before(tree, before) {
        add(top);
        if is_dir(tree, top, b"srv_group") {
            tree.children(top).for_each(&mut add);
        }
    }
    sum
}

/// Checks the implicit `default` group that the top-level `server` `first` opens: no explicit
/// `srv_group default` before it, and room for one more group.
fn check_implicit_group<'s>(tree: &Tree<'s, '_>, first: &Node) -> Result<(), Error<'s>> {
    let mut groups: usize = 0;
    for n in top_before(tree, first.index()) {
        if !is_dir(tree, n, b"srv_group") {
            continue;
        }
        if is_default(first_arg(tree, n)) {
            return Err(tree.error(
                first,
                ErrorKind::Message(
                    "top-level 'server' directives form the implicit srv_group 'default', \
                     which is already defined explicitly",
                ),
            ));
        }
        groups = groups.saturating_add(1);
    }
    if groups >= MAX_GROUPS {
        return Err(tree.error(first, ErrorKind::TooMany("srv_groups", MAX_GROUPS as u64)));
    }
    Ok(())
}

/// Parses `node` (a `server`, top-level or in a `srv_group`) and checks it against the servers
/// before it: duplicates and count in its group, total connections; for the first top-level
/// one, the implicit `default` group itself.
pub(crate) fn check_server<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<Server, Error<'s>> {
    let s = parse_server(tree, node)?;
    let mut count: usize = 0;
    for prev in group_members(tree, node) {
        if prev.index() >= node.index() {
            break;
        }
        if !is_dir(tree, prev, b"server") {
            continue;
        }
        count = count.saturating_add(1);
        if count >= MAX_SERVERS {
            return Err(tree.error(
                node,
                ErrorKind::TooMany("servers in the group", MAX_SERVERS as u64),
            ));
        }
        if parse_server(tree, prev).is_ok_and(|p| p.addr == s.addr) {
            return Err(tree.error(node, ErrorKind::DuplicateServer(s.addr)));
        }
    }
    if count == 0 && node.parent().is_none() {
        check_implicit_group(tree, node)?;
    }
    if conns_before(tree, node.index()).saturating_add(s.conns_n) > MAX_SERVER_CONNS {
        return Err(tree.error(
            node,
            ErrorKind::TooMany(
                "connections to servers (sum of conns_n)",
                u64::from(MAX_SERVER_CONNS),
            ),
        ));
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Groups and their options.

/// Parses `sched`.
pub(crate) fn parse_sched<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<Sched, Error<'s>> {
    let mut args = tree.args(node);
    let kind = args.next().map_or(&[][..], |a| a.text);
    let mode = args.next();
    let third = args.next();
    let fourth = args.next();
    let has_opts = tree.options(node).next().is_some();
    let extra = |what| Err(tree.error(node, ErrorKind::Message(what)));
    if kind.eq_ignore_ascii_case(b"hash") {
        if mode.is_some() || has_opts {
            return extra("'sched hash' takes no further arguments or options");
        }
        return Ok(Sched::Hash);
    }
    if !kind.eq_ignore_ascii_case(b"ratio") {
        return Err(tree.error(node, ErrorKind::InvalidValue("scheduler", kind)));
    }
    let is = |a: Option<Arg<'_>>, w: &[u8]| a.is_some_and(|a| a.text.eq_ignore_ascii_case(w));
    if mode.is_none() || is(mode, b"static") {
        if third.is_some() || has_opts {
            return extra("'sched ratio static' takes no further arguments or options");
        }
        return Ok(Sched::RatioStatic);
    }
    let predict = is(mode, b"predict");
    if !predict && !is(mode, b"dynamic") {
        let m = mode.map_or(&[][..], |a| a.text);
        return Err(tree.error(node, ErrorKind::InvalidValue("ratio scheduler", m)));
    }
    if has_opts && !predict {
        return extra("options past, rate and ahead only apply to 'sched ratio predict'");
    }
    let stat = match third {
        None => RttStat::Average,
        Some(_) if is(third, b"percentile") => match fourth {
            None => RttStat::Percentile(90),
            Some(p) => {
                const PERCENTILES: [&[u8]; 5] = [b"50", b"75", b"90", b"95", b"99"];
                if !PERCENTILES.contains(&p.text) {
                    return Err(tree.error(node, ErrorKind::InvalidValue("percentile", p.text)));
                }
                RttStat::Percentile(
                    parse_u32_in(p.text, 50, 99).map_err(|k| tree.error(node, k))? as u8,
                )
            }
        },
        Some(t) => {
            let stat = if t.text.eq_ignore_ascii_case(b"minimum") {
                RttStat::Minimum
            } else if t.text.eq_ignore_ascii_case(b"maximum") {
                RttStat::Maximum
            } else if t.text.eq_ignore_ascii_case(b"average") {
                RttStat::Average
            } else {
                return Err(tree.error(node, ErrorKind::InvalidValue("ratio statistic", t.text)));
            };
            if fourth.is_some() {
                return extra("only 'percentile' takes a value: percentile 50|75|90|95|99");
            }
            stat
        }
    };
    let predict = match predict {
        false => None,
        true => {
            let opt = |key: &str, min: u32, max: u32, dflt: u32| match tree.option(node, key) {
                None => Ok(dflt),
                Some(o) => parse_u32_in(o.value, min, max).map_err(|k| tree.error(node, k)),
            };
            let past = opt("past", 1, 120, 30)?;
            let rate = opt("rate", 1, 20, 20)?;
            let ahead = opt("ahead", 1, past, (past / 2).max(1))?;
            Some(Predict { past, rate, ahead })
        }
    };
    Ok(Sched::RatioDynamic(Dynamic { stat, predict }))
}

/// Checks the value of a group option directive (top-level or in a `srv_group`).
pub(crate) fn check_group_option<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<(), Error<'s>> {
    match tree.name(node) {
        b"sched" => {
            parse_sched(tree, node)?;
        }
        b"server_queue_size" | b"server_connect_retries" => {
            arg_u32(tree, node, MAX_INT)?;
        }
        b"server_forward_timeout" => {
            arg_secs(tree, node, MAX_INT)?;
        }
        b"server_forward_retries" => {
            arg_u32(tree, node, MAX_FORWARD_RETRIES)?;
        }
        _ => {}
    }
    Ok(())
}

/// The node setting option `name` for `group` (`None`: the implicit group): in the group, else
/// at top level (before the group for an explicit one; anywhere for the implicit one).
fn find_option<'b>(tree: &Tree<'_, 'b>, group: Option<&Node>, name: &[u8]) -> Option<&'b Node> {
    match group {
        Some(g) => tree
            .children(g)
            .find(|n| is_dir(tree, n, name))
            .or_else(|| top_before(tree, g.index()).find(|n| is_dir(tree, n, name))),
        None => tree.top_level().find(|n| is_dir(tree, n, name)),
    }
}

/// The health monitor of `group`'s servers (`health NAME`, in the group or inherited from the
/// top level), checked; `None` if they are not monitored.
pub fn group_health<'s>(
    tree: &Tree<'s, '_>,
    group: &SrvGroup<'_>,
) -> Result<Option<super::health::HealthCheck<'s>>, Error<'s>> {
    let node = group.node.and_then(|i| tree.node(i));
    if group.node.is_some() && node.is_none() {
        return Ok(None);
    }
    match find_option(tree, node, b"health") {
        Some(n) => super::health::check_health(tree, n).map(Some),
        None => Ok(None),
    }
}

/// The options of `group` (`None`: the implicit group), inherited and defaulted.
fn group_params<'s>(tree: &Tree<'s, '_>, group: Option<&Node>) -> Result<GroupParams, Error<'s>> {
    let mut p = GroupParams::DEFAULT;
    if let Some(n) = find_option(tree, group, b"sched") {
        p.sched = parse_sched(tree, n)?;
    }
    if let Some(n) = find_option(tree, group, b"server_queue_size") {
        p.queue_size = arg_u32(tree, n, MAX_INT)?;
    }
    if let Some(n) = find_option(tree, group, b"server_forward_timeout") {
        p.forward_timeout = arg_secs(tree, n, MAX_INT)?;
    }
    if let Some(n) = find_option(tree, group, b"server_forward_retries") {
        p.forward_retries = arg_u32(tree, n, MAX_FORWARD_RETRIES)?;
    }
    if find_option(tree, group, b"server_retry_nonidempotent").is_some() {
        p.retry_nonidempotent = true;
    }
    if let Some(n) = find_option(tree, group, b"server_connect_retries") {
        p.connect_retries = arg_u32(tree, n, MAX_INT)?;
    }
    Ok(p)
}

/// Checks a `srv_group` node's declaration: its name, no clash with the implicit `default`
/// group, the group count. Options and servers are checked on their own nodes.
pub(crate) fn check_group_decl<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<&'s str, Error<'s>> {
    let name = block_name(tree, node)?;
    let implicit_before = first_global_server(tree, node.index()).is_some();
    if implicit_before && is_default(name.as_bytes()) {
        return Err(tree.error(
            node,
            ErrorKind::Message(
                "srv_group 'default' is already defined implicitly by top-level 'server' \
                 directives",
            ),
        ));
    }
    let explicit_before = top_before(tree, node.index())
        .filter(|n| is_dir(tree, n, b"srv_group"))
        .count();
    let total = explicit_before
        .saturating_add(usize::from(implicit_before))
        .saturating_add(1);
    if total > MAX_GROUPS {
        return Err(tree.error(node, ErrorKind::TooMany("srv_groups", MAX_GROUPS as u64)));
    }
    Ok(name)
}

/// Iterator over the server groups, see [`srv_groups`].
#[derive(Clone, Debug)]
pub struct SrvGroups<'t, 's, 'b> {
    tree: &'t Tree<'s, 'b>,
    implicit_done: bool,
    it: Nodes<'b>,
}

impl<'s> Iterator for SrvGroups<'_, 's, '_> {
    type Item = Result<SrvGroup<'s>, Error<'s>>;

    fn next(&mut self) -> Option<Self::Item> {
        let tree = self.tree;
        if !self.implicit_done {
            self.implicit_done = true;
            if let Some(first) = tree.top_level().find(|n| is_dir(tree, n, b"server")) {
                let g = check_implicit_group(tree, first)
                    .and_then(|()| group_params(tree, None))
                    .map(|params| SrvGroup {
                        name: DEFAULT_GROUP,
                        line: first.line(),
                        params,
                        node: None,
                    });
                return Some(g);
            }
        }
        let node = self.it.by_ref().find(|n| is_dir(tree, n, b"srv_group"))?;
        Some(check_group_decl(tree, node).and_then(|name| {
            Ok(SrvGroup {
                name,
                line: node.line(),
                params: group_params(tree, Some(node))?,
                node: Some(node.index()),
            })
        }))
    }
}

/// The server groups: the implicit `default` group first when there are top-level `server`
/// lines, then each `srv_group` in file order, with their options inherited and defaulted.
///
/// A group whose scheduler tempesta-rs does not implement is an error (`not supported by
/// tempesta-rs yet: ...`).
pub fn srv_groups<'t, 's, 'b>(tree: &'t Tree<'s, 'b>) -> SrvGroups<'t, 's, 'b> {
    SrvGroups {
        tree,
        implicit_done: false,
        it: tree.top_level(),
    }
}

/// The servers of `group` (from [`srv_groups`] on the same tree) in file order, parsed and
/// checked (address, options, duplicates, limits).
pub fn servers<'t, 's, 'b>(
    tree: &'t Tree<'s, 'b>,
    group: &SrvGroup<'_>,
) -> impl Iterator<Item = Result<Server, Error<'s>>> + 't
where
    's: 't,
    'b: 't,
{
    let members = match group.node.and_then(|i| tree.node(i)) {
        Some(g) => tree.children(g),
        None if group.is_implicit() => tree.top_level(),
        None => tree.children(&Node::EMPTY),
    };
    members
        .filter(move |n| is_dir(tree, n, b"server"))
        .map(move |n| check_server(tree, n))
}

// ---------------------------------------------------------------------------------------------
// Vhosts and proxy_pass.

/// Resolves group `name` for a reference at node index `at`: an explicit group defined before,
/// or the implicit `default` group opened before. Returns the group's name as defined.
fn resolve_group<'s>(
    tree: &Tree<'s, '_>,
    name: &'s [u8],
    at: u32,
) -> Result<&'s str, ErrorKind<'s>> {
    if let Some(g) = find_group(tree, name, at) {
        return Ok(first_arg_str(tree, g));
    }
    if is_default(name) && first_global_server(tree, at).is_some() {
        return Ok(DEFAULT_GROUP);
    }
    let later = find_group(tree, name, u32::MAX).is_some()
        || (is_default(name) && first_global_server(tree, u32::MAX).is_some());
    if later {
        Err(ErrorKind::DefinedLater("srv_group", name))
    } else {
        Err(ErrorKind::NotDefined("srv_group", name))
    }
}

fn first_arg_str<'s>(tree: &Tree<'s, '_>, node: &Node) -> &'s str {
    tree.arg(node, 0).and_then(|a| a.as_str()).unwrap_or("")
}

/// The `vhost` enclosing `node` (through `location`s); `None` at top level (the implicit default
/// vhost).
fn enclosing_vhost<'b>(tree: &Tree<'_, 'b>, node: &Node) -> Option<&'b Node> {
    let mut cur = tree.parent(node);
    while let Some(p) = cur {
        if is_dir(tree, p, b"vhost") {
            return Some(p);
        }
        cur = tree.parent(p);
    }
    None
}

/// Checks a `proxy_pass` (in a vhost or a location) and returns the names of its main group
/// and its `backup=` group, as the groups are defined.
pub(crate) fn check_proxy_pass<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<(&'s str, Option<&'s str>), Error<'s>> {
    let main = tree.single_arg(node)?;
    for o in tree.options(node) {
        if !o.key.eq_ignore_ascii_case(b"backup") {
            return Err(tree.error(node, ErrorKind::UnknownOption(o.key)));
        }
    }
    let backup = tree.option(node, "backup").map(|o| o.value);
    let in_default = match enclosing_vhost(tree, node) {
        Some(v) => is_default(first_arg(tree, v)),
        None => true,
    };
    if in_default {
        // Tempesta: the default vhost proxies to the default group only (checked when the vhost
        // opens).
        if !is_default(main.text) || backup.is_some() {
            return Err(tree.error(
                node,
                ErrorKind::Message(
                    "the default vhost can only proxy_pass to srv_group 'default' (no backup)",
                ),
            ));
        }
        return Ok((DEFAULT_GROUP, None));
    }
    let group = resolve_group(tree, main.text, node.index()).map_err(|k| tree.error(node, k))?;
    let Some(b) = backup else {
        return Ok((group, None));
    };
    let bg = resolve_group(tree, b, node.index()).map_err(|k| tree.error(node, k))?;
    if bg.eq_ignore_ascii_case(group) {
        return Err(tree.error(
            node,
            ErrorKind::Message("the same srv_group is the main and the backup one"),
        ));
    }
    Ok((group, Some(bg)))
}

/// Checks a `vhost` node; with `children`, also its `proxy_pass` (the validator checks that on
/// its own node).
fn check_vhost_node<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
    children: bool,
) -> Result<Vhost<'s>, Error<'s>> {
    let name = block_name(tree, node)?;
    let pp = tree.children(node).find(|n| is_dir(tree, n, b"proxy_pass"));
    let (group, backup) = if is_default(name.as_bytes()) {
        resolve_group(tree, DEFAULT_GROUP.as_bytes(), node.index())
            .map_err(|k| tree.error(node, k))?;
        if let Some(p) = pp.filter(|_| children) {
            check_proxy_pass(tree, p)?;
        }
        (DEFAULT_GROUP, None)
    } else {
        let Some(p) = pp else {
            return Err(tree.error(
                node,
                ErrorKind::Message("vhost without proxy_pass: nothing to serve"),
            ));
        };
        if children {
            check_proxy_pass(tree, p)?
        } else {
            (first_arg_str(tree, p), None)
        }
    };
    Ok(Vhost {
        name,
        line: node.line(),
        proxy_pass: Some(group),
        backup,
    })
}

/// Validator entry for `vhost`.
pub(crate) fn check_vhost_decl<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<(), Error<'s>> {
    check_vhost_node(tree, node, false).map(|_| ())
}

/// Whether the implicit default vhost exists: no explicit `vhost default`, and a `default`
/// group.
fn implicit_default_vhost(tree: &Tree<'_, '_>) -> bool {
    find_vhost(tree, DEFAULT_VHOST.as_bytes(), u32::MAX).is_none()
        && default_group_before(tree, u32::MAX)
}

/// The vhosts: the implicit `default` one first (when there is no explicit `vhost default` but
/// there is a `default` group: Tempesta's implicit default vhost proxying to it), then each
/// `vhost` in file order, checked (name, `proxy_pass` and its group).
pub fn vhosts<'t, 's, 'b>(
    tree: &'t Tree<'s, 'b>,
) -> impl Iterator<Item = Result<Vhost<'s>, Error<'s>>> + 't
where
    's: 't,
    'b: 't,
{
    let implicit = implicit_default_vhost(tree).then_some(Ok(Vhost {
        name: DEFAULT_VHOST,
        line: 0,
        proxy_pass: Some(DEFAULT_GROUP),
        backup: None,
    }));
    implicit.into_iter().chain(
        tree.top_level()
            .filter(move |n| is_dir(tree, n, b"vhost"))
            .map(move |n| check_vhost_node(tree, n, true)),
    )
}

// ---------------------------------------------------------------------------------------------
// http_chain.

/// Checks an http_chain rule (the validator calls this after the rule's shape is checked):
/// its values (see [`tables::rule`](super::tables::rule)), and that the vhost or chain it
/// names is defined before it.
pub(crate) fn check_rule<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<(), Error<'s>> {
    let target = match tables::rule(tree, node)?.action {
        tables::Action::Vhost(t) | tables::Action::Chain(t) => t,
        _ => return Ok(()),
    };
    let here = tree.parent(node);
    if let Some(chain) = find_chain(tree, target, node.index()) {
        if here.is_some_and(|h| h.index() == chain.index()) {
            return Err(tree.error(
                node,
                ErrorKind::Message("an http_chain can't refer to itself"),
            ));
        }
        return Ok(());
    }
    if find_vhost(tree, target, node.index()).is_some() {
        return Ok(());
    }
    if is_default(target) && implicit_default_vhost(tree) {
        return Err(tree.error(
            node,
            ErrorKind::Message(
                "the implicit vhost 'default' can't be named in http_chain rules: \
                 define 'vhost default { ... }' before the http_chain",
            ),
        ));
    }
    let later = find_vhost(tree, target, u32::MAX).is_some()
        || find_chain(tree, target, u32::MAX).is_some();
    Err(tree.error(
        node,
        if later {
            ErrorKind::DefinedLater("vhost", target)
        } else {
            ErrorKind::NotDefined("vhost", target)
        },
    ))
}

/// The vhost requests go to when the HTTP tables don't decide otherwise: without any
/// `http_chain`, `default` if that vhost exists (explicit, or implicit with a `default`
/// group); with a main (unnamed) chain, the vhost of its default rule `-> NAME;`, if that
/// names a vhost. `None`: nowhere (an explicit main chain without a default vhost rule sends
/// what its other rules don't route to 404, as Tempesta does).
pub fn default_vhost<'s>(tree: &Tree<'s, '_>) -> Result<Option<&'s str>, Error<'s>> {
    let main = tables::chains(tree)
        .filter(|n| tree.arg_count(n) == 0)
        .last();
    let Some(chain) = main else {
        if let Some(v) = find_vhost(tree, DEFAULT_VHOST.as_bytes(), u32::MAX) {
            return Ok(Some(first_arg_str(tree, v)));
        }
        return Ok(implicit_default_vhost(tree).then_some(DEFAULT_VHOST));
    };
    let mut target = None;
    for node in tree.children(chain).filter(|n| n.is_rule()) {
        check_rule(tree, node)?;
        if let (None, tables::Action::Vhost(name)) = {
            let r = tables::rule(tree, node)?;
            (r.cond, r.action)
        } {
            if let Some(v) = find_vhost(tree, name, node.index()) {
                target = Some(first_arg_str(tree, v));
            }
        }
    }
    Ok(target)
}

// ---------------------------------------------------------------------------------------------
// keepalive_timeout, hdr_via.

/// `keepalive_timeout` in seconds (0..=`INT_MAX`), Tempesta's default
/// [`DEFAULT_KEEPALIVE_TIMEOUT`] (75) when absent.
pub fn keepalive_timeout<'s>(tree: &Tree<'s, '_>) -> Result<u32, Error<'s>> {
    match tree
        .top_level()
        .find(|n| is_dir(tree, n, b"keepalive_timeout"))
    {
        Some(n) => parse_keepalive_timeout(tree, n),
        None => Ok(DEFAULT_KEEPALIVE_TIMEOUT),
    }
}

/// `client_ws_timeout` in seconds (0..=`INT_MAX`): how long a WebSocket tunnel may carry
/// nothing either way before both its connections close. Tempesta's default
/// [`DEFAULT_WS_TIMEOUT`] (3600) when absent; 0 closes idle tunnels at the next tick.
pub fn ws_timeout<'s>(tree: &Tree<'s, '_>) -> Result<u32, Error<'s>> {
    match tree
        .top_level()
        .find(|n| is_dir(tree, n, b"client_ws_timeout"))
    {
        Some(n) => parse_ws_timeout(tree, n),
        None => Ok(DEFAULT_WS_TIMEOUT),
    }
}

/// `grace_shutdown_time` in seconds (default 0): how long a reload lets the busy connections
/// of the previous configuration's servers finish their exchange before they are closed (and
/// their requests re-sent or answered 502).
pub fn grace_shutdown_time<'s>(tree: &Tree<'s, '_>) -> Result<u32, Error<'s>> {
    match tree
        .top_level()
        .find(|n| is_dir(tree, n, b"grace_shutdown_time"))
    {
        Some(n) => parse_grace_shutdown_time(tree, n),
        None => Ok(0),
    }
}

/// Parses the `grace_shutdown_time` node.
pub(crate) fn parse_grace_shutdown_time<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<u32, Error<'s>> {
    arg_secs(tree, node, MAX_INT)
}

/// Default `http_max_header_list_size`, bytes (Tempesta's).
pub const DEFAULT_MAX_HEADER_LIST_SIZE: u32 = 16384;

/// `http_max_header_list_size` in bytes: the most a request's header section (its field lines)
/// may hold, enforced for every request as Tempesta does; 0: no limit.
pub fn max_header_list_size<'s>(tree: &Tree<'s, '_>) -> Result<u32, Error<'s>> {
    match tree
        .top_level()
        .find(|n| is_dir(tree, n, b"http_max_header_list_size"))
    {
        Some(n) => parse_max_header_list_size(tree, n),
        None => Ok(DEFAULT_MAX_HEADER_LIST_SIZE),
    }
}

/// Parses an `http_max_header_list_size` node.
pub(crate) fn parse_max_header_list_size<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<u32, Error<'s>> {
    let a = tree.single_arg(node)?;
    super::values::parse_u32_in(a.text, 0, u32::MAX).map_err(|k| tree.error(node, k))
}

/// Tempesta's default `client_mem`: 500 MiB soft, 1 GiB hard.
pub const DEFAULT_CLIENT_MEM: ClientMem = ClientMem {
    soft: 500 << 20,
    hard: 1 << 30,
};

/// `client_mem <soft> [<hard>]`: the bytes the proxy may hold for one client address, summed
/// over its connections. Above `soft` the client's connections stop reading; above `hard` the
/// connection is refused (`block_action error`). 0 turns a limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientMem {
    /// Bytes; 0: no soft limit.
    pub soft: u64,
    /// Bytes; 0: no hard limit.
    pub hard: u64,
}

/// The global `client_mem`, or Tempesta's default.
pub fn client_mem<'s>(tree: &Tree<'s, '_>) -> Result<ClientMem, Error<'s>> {
    match tree.top_level().find(|n| is_dir(tree, n, b"client_mem")) {
        Some(n) => parse_client_mem(tree, n),
        None => Ok(DEFAULT_CLIENT_MEM),
    }
}

/// Parses a `client_mem` node: sizes as `memparse` takes them (`500M`); without `<hard>`, the
/// hard limit is twice the soft one (the ratio of Tempesta's defaults); `<soft>` above a
/// non-zero `<hard>` is an error.
pub(crate) fn parse_client_mem<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<ClientMem, Error<'s>> {
    let size = |i: usize| -> Result<Option<u64>, Error<'s>> {
        match tree.arg(node, i) {
            Some(a) => super::values::parse_size(a.text)
                .map(Some)
                .map_err(|k| tree.error(node, k)),
            None => Ok(None),
        }
    };
    let Some(soft) = size(0)? else {
        return Err(tree.error(
            node,
            ErrorKind::ArgCount {
                min: 1,
                max: 2,
                got: 0,
            },
        ));
    };
    let hard = size(1)?.unwrap_or(soft.saturating_mul(2));
    if hard != 0 && soft > hard {
        return Err(tree.error(
            node,
            ErrorKind::Message("the soft limit is above the hard limit"),
        ));
    }
    Ok(ClientMem { soft, hard })
}

/// Tempesta's client table directives: `client_lru_size` (addresses the table keeps) and
/// `client_tbl_size` (its memory); `client_db` names Tempesta's database file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientTableCfg {
    /// `client_lru_size`: addresses.
    pub lru_size: Option<u32>,
    /// `client_tbl_size`: bytes.
    pub tbl_size: Option<u64>,
}

/// The global client table directives.
pub fn client_table<'s>(tree: &Tree<'s, '_>) -> Result<ClientTableCfg, Error<'s>> {
    let mut c = ClientTableCfg::default();
    for n in tree.top_level() {
        if is_dir(tree, n, b"client_lru_size") {
            c.lru_size = Some(parse_client_lru_size(tree, n)?);
        } else if is_dir(tree, n, b"client_tbl_size") {
            c.tbl_size = Some(parse_client_tbl_size(tree, n)?);
        }
    }
    Ok(c)
}

/// Parses `client_lru_size`: 1 or more addresses (Tempesta's range).
pub(crate) fn parse_client_lru_size<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<u32, Error<'s>> {
    let a = tree.single_arg(node)?;
    super::values::parse_u32_in(a.text, 1, u32::MAX).map_err(|k| tree.error(node, k))
}

/// Parses `client_tbl_size`: 4K to 1G, a multiple of 4K (Tempesta's range).
pub(crate) fn parse_client_tbl_size<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<u64, Error<'s>> {
    let a = tree.single_arg(node)?;
    let v = super::values::parse_size_in(a.text, 4096, 1 << 30).map_err(|k| tree.error(node, k))?;
    if v % 4096 != 0 {
        return Err(tree.error(
            node,
            ErrorKind::Message("the size must be a multiple of 4K"),
        ));
    }
    Ok(v)
}

/// Checks a database path (`client_db`, `cache_db`): Tempesta keeps those tables in files;
/// tempesta-rs keeps them in memory, so the path is checked and not used.
pub(crate) fn check_db_path<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<(), Error<'s>> {
    let a = tree.single_arg(node)?;
    if a.text.is_empty() || a.text.contains(&0) {
        return Err(tree.error(node, ErrorKind::InvalidValue("path", a.text)));
    }
    Ok(())
}

/// Parses the `client_ws_timeout` node.
pub(crate) fn parse_ws_timeout<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<u32, Error<'s>> {
    arg_secs(tree, node, MAX_INT)
}

/// Parses the `keepalive_timeout` node.
pub(crate) fn parse_keepalive_timeout<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<u32, Error<'s>> {
    arg_secs(tree, node, MAX_INT)
}

/// Parses the `hdr_via` node: one non-empty value of printable ASCII and spaces, no backslash
/// escapes (it goes into a header).
pub(crate) fn parse_hdr_via<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<&'s str, Error<'s>> {
    let Some(a) = tree.arg(node, 0) else {
        return Err(tree.error(
            node,
            ErrorKind::ArgCount {
                min: 1,
                max: 1,
                got: 0,
            },
        ));
    };
    if a.escaped {
        return Err(tree.error(
            node,
            ErrorKind::Message("backslash escapes are not supported in hdr_via"),
        ));
    }
    let ok = !a.text.is_empty()
        && a.text
            .iter()
            .all(|c| (0x20..0x7f).contains(c) || *c == b'\t');
    match a.as_str().filter(|_| ok) {
        Some(s) => Ok(s),
        None => Err(tree.error(node, ErrorKind::InvalidValue("Via agent name", a.text))),
    }
}

/// The `Via` agent name of `hdr_via`, if set (Tempesta's default otherwise:
/// `tempesta_fw (Tempesta FW VERSION)`).
pub fn hdr_via<'s>(tree: &Tree<'s, '_>) -> Result<Option<&'s str>, Error<'s>> {
    tree.top_level()
        .find(|n| is_dir(tree, n, b"hdr_via"))
        .map(|n| parse_hdr_via(tree, n))
        .transpose()
}

#[cfg(test)]
mod tests {
    use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

    use super::*;
    use crate::test_util::with;
    use crate::{validate, Options};

    fn check(src: &str, opts: Options) -> Result<(), String> {
        with(src, |t| validate(t, &opts).map_err(|e| e.to_string()))
    }

    fn strict(src: &str) -> Result<(), String> {
        check(src, Options::STRICT)
    }

    fn lenient(src: &str) -> Result<(), String> {
        check(src, Options::LENIENT)
    }

    type Groups = Vec<(String, u32, GroupParams, Vec<Server>)>;

    fn groups(src: &str) -> Result<Groups, String> {
        with(src, |t| {
            let mut out = Vec::new();
            for g in srv_groups(t) {
                let g = g.map_err(|e| e.to_string())?;
                let s: Result<Vec<Server>, String> = servers(t, &g)
                    .map(|s| s.map_err(|e| e.to_string()))
                    .collect();
                out.push((g.name.to_string(), g.line, g.params, s?));
            }
            Ok(out)
        })
    }

    fn vhost_list(src: &str) -> Result<Vec<(String, u32, Option<String>)>, String> {
        with(src, |t| {
            vhosts(t)
                .map(|v| {
                    v.map(|v| (v.name.into(), v.line, v.proxy_pass.map(Into::into)))
                        .map_err(|e| e.to_string())
                })
                .collect()
        })
    }

    fn route(src: &str) -> Result<Option<String>, String> {
        with(src, |t| {
            default_vhost(t)
                .map(|v| v.map(Into::into))
                .map_err(|e| e.to_string())
        })
    }

    fn v4(a: [u8; 4], p: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), p)
    }

    fn srv(addr: SocketAddr, conns_n: u32, weight: u32, line: u32) -> Server {
        Server {
            addr,
            conns_n,
            weight,
            line,
        }
    }

    const D: GroupParams = GroupParams::DEFAULT;

    #[test]
    fn tempesta_defaults() {
        assert_eq!(
            D,
            GroupParams {
                sched: Sched::RatioStatic,
                queue_size: 1000,
                forward_timeout: 60,
                forward_retries: 5,
                retry_nonidempotent: false,
                connect_retries: 10,
            }
        );
        assert_eq!(GroupParams::default(), D);
        with("", |t| {
            assert_eq!(keepalive_timeout(t), Ok(75));
            assert_eq!(hdr_via(t), Ok(None));
            assert_eq!(srv_groups(t).count(), 0);
            assert_eq!(vhosts(t).count(), 0);
            assert_eq!(default_vhost(t), Ok(None));
        });
    }

    #[test]
    fn groups_and_servers() {
        let src = "srv_group app {\n  server 10.0.0.1:8080 conns_n=4 weight=10;\n  server 10.0.0.2;\n  server [::1]:81 CONNS_N=0x10;\n  server ::2;\n  server [::ffff:10.0.0.3]:82;\n}\n";
        assert_eq!(strict(src), Ok(()));
        let v6 = |a: Ipv6Addr, p| SocketAddr::new(IpAddr::V6(a), p);
        assert_eq!(
            groups(src),
            Ok(vec![(
                "app".into(),
                1,
                D,
                vec![
                    srv(v4([10, 0, 0, 1], 8080), 4, 10, 2),
                    srv(v4([10, 0, 0, 2], 80), 32, 50, 3),
                    srv(v6(Ipv6Addr::LOCALHOST, 81), 16, 50, 4),
                    srv(v6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 2), 80), 32, 50, 5),
                    srv(v4([10, 0, 0, 3], 82), 32, 50, 6),
                ]
            )])
        );
        with(src, |t| {
            let g = srv_groups(t).next().unwrap().unwrap();
            assert!(!g.is_implicit());
        });
    }

    #[test]
    fn implicit_default_group_comes_first_and_takes_all_global_options() {
        let src = "srv_group a { server 10.0.0.1; }\nserver 10.0.0.2;\nserver_queue_size 0;\nserver 10.0.0.3 weight=1;\nserver_retry_nonidempotent;\n";
        assert_eq!(strict(src), Ok(()));
        let g = groups(src).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].0, DEFAULT_GROUP);
        assert_eq!(g[0].1, 2, "line of the first top-level server");
        assert_eq!(
            g[0].2,
            GroupParams {
                queue_size: 0,
                retry_nonidempotent: true,
                ..D
            }
        );
        assert_eq!(
            g[0].3,
            [
                srv(v4([10, 0, 0, 2], 80), 32, 50, 2),
                srv(v4([10, 0, 0, 3], 80), 32, 1, 4)
            ]
        );
        // Group 'a' comes before the global options: Tempesta's defaults.
        assert_eq!(g[1].0, "a");
        assert_eq!(g[1].2, D);
        with(src, |t| {
            assert!(srv_groups(t).next().unwrap().unwrap().is_implicit());
        });
    }

    #[test]
    fn explicit_groups_inherit_global_options_written_before_them() {
        let src = "server_forward_timeout 30;\nserver_forward_retries 7;\nsched ratio static;\nsrv_group a {\n  server 10.0.0.1;\n  server_forward_retries 2;\n}\nserver_connect_retries 0;\nserver_retry_nonidempotent;\nsrv_group b {\n  server 10.0.0.1;\n  server_connect_retries 3;\n  server_queue_size 5;\n}\n";
        assert_eq!(strict(src), Ok(()));
        let g = groups(src).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(
            g[0].2,
            GroupParams {
                forward_timeout: 30,
                forward_retries: 2,
                ..D
            }
        );
        assert_eq!(
            g[1].2,
            GroupParams {
                forward_timeout: 30,
                forward_retries: 7,
                retry_nonidempotent: true,
                connect_retries: 3,
                queue_size: 5,
                ..D
            }
        );
        // Same server in two groups: allowed.
        assert_eq!(g[0].3[0].addr, g[1].3[0].addr);
    }

    #[test]
    fn schedulers() {
        for ok in ["sched ratio;", "sched ratio static;", "sched RATIO Static;"] {
            let src = format!("{ok}\nserver 10.0.0.1;\n");
            assert_eq!(strict(&src), Ok(()), "{ok}");
            assert_eq!(groups(&src).unwrap()[0].2.sched, Sched::RatioStatic);
        }
        let src = "srv_group g {\n  server 10.0.0.1;\n  sched hash;\n}\n";
        assert_eq!(groups(src).unwrap()[0].2.sched, Sched::Hash);
        let dynamic = |stat, predict| Sched::RatioDynamic(Dynamic { stat, predict });
        for (s, want) in [
            ("sched ratio dynamic;", dynamic(RttStat::Average, None)),
            (
                "sched ratio dynamic percentile 95;",
                dynamic(RttStat::Percentile(95), None),
            ),
            (
                "sched ratio dynamic percentile;",
                dynamic(RttStat::Percentile(90), None),
            ),
            (
                "sched ratio predict minimum past=40 rate=5;",
                dynamic(
                    RttStat::Minimum,
                    Some(Predict {
                        past: 40,
                        rate: 5,
                        ahead: 20,
                    }),
                ),
            ),
            (
                "sched ratio predict ahead=3;",
                dynamic(
                    RttStat::Average,
                    Some(Predict {
                        past: 30,
                        rate: 20,
                        ahead: 3,
                    }),
                ),
            ),
        ] {
            let src = format!("server 10.0.0.1;\nsrv_group g {{\n  server 10.0.0.2;\n  {s}\n}}\n");
            assert_eq!(strict(&src), Ok(()), "{s}");
            assert_eq!(groups(&src).unwrap()[1].2.sched, want, "{s}");
            // A global one is inherited by the implicit group.
            let src = format!("{s}\nserver 10.0.0.1;\n");
            assert_eq!(groups(&src).unwrap()[0].2.sched, want, "{s}");
        }
        for (s, reason) in [
            ("sched foo;", "invalid scheduler 'foo'"),
            ("sched ratio fast;", "invalid ratio scheduler 'fast'"),
            (
                "sched ratio static x;",
                "'sched ratio static' takes no further arguments or options",
            ),
            (
                "sched ratio past=3;",
                "'sched ratio static' takes no further arguments or options",
            ),
            (
                "sched hash x;",
                "'sched hash' takes no further arguments or options",
            ),
            (
                "sched ratio dynamic median;",
                "invalid ratio statistic 'median'",
            ),
            (
                "sched ratio dynamic percentile 42;",
                "invalid percentile '42'",
            ),
            (
                "sched ratio dynamic past=3;",
                "options past, rate and ahead only apply to 'sched ratio predict'",
            ),
            (
                "sched ratio predict past=121;",
                "value '121' out of range [1, 120]",
            ),
            (
                "sched ratio predict past=10 ahead=11;",
                "value '11' out of range [1, 10]",
            ),
        ] {
            assert_eq!(
                lenient(s),
                Err(format!("line 1: directive 'sched': {reason}")),
                "{s}"
            );
        }
    }

    #[test]
    fn server_errors() {
        for (src, line, reason) in [
            ("server 8080;", 1, "invalid address '8080'"),
            ("server \"\";", 1, "invalid address ''"),
            (
                "\nserver backend.local:8080;",
                2,
                "invalid address 'backend.local:8080': host names are not supported, use an IP address",
            ),
            (
                "server localhost;",
                1,
                "invalid address 'localhost': host names are not supported, use an IP address",
            ),
            ("server 10.0.0.1:0;", 1, "invalid port '0'"),
            ("server 10.0.0.1:70000;", 1, "invalid port '70000'"),
            ("server 300.0.0.1;", 1, "invalid address '300.0.0.1'"),
            ("server [::1:80;", 1, "invalid address '[::1:80'"),
            ("server 10.0.0.1 conns_n=0;", 1, "conns_n=0 out of range [1, 1024]"),
            ("server 10.0.0.1 conns_n=1025;", 1, "conns_n=1025 out of range [1, 1024]"),
            ("server 10.0.0.1 conns_n=x;", 1, "invalid conns_n 'x'"),
            ("server 10.0.0.1 weight=0;", 1, "weight=0 out of range [1, 100]"),
            ("server 10.0.0.1 weight=101;", 1, "weight=101 out of range [1, 100]"),
            ("server 10.0.0.1 weight=-1;", 1, "invalid weight '-1'"),
            (
                "server 10.0.0.1;\nserver 10.0.0.2;\nserver 10.0.0.1:80;",
                3,
                "duplicate server 10.0.0.1:80 in the group",
            ),
            (
                "srv_group g {\n  server 10.0.0.1;\n  server [::ffff:10.0.0.1];\n}",
                3,
                "duplicate server 10.0.0.1:80 in the group",
            ),
        ] {
            let want = format!("line {line}: directive 'server': {reason}");
            assert_eq!(strict(src), Err(want.clone()), "{src}");
            // The accessor reports the same.
            assert_eq!(groups(src).err(), Some(want), "{src}");
        }
    }

    #[test]
    fn group_option_errors() {
        for (src, reason) in [
            ("server_queue_size -1;", "invalid integer '-1'"),
            (
                "server_queue_size 2147483648;",
                "value '2147483648' out of range [0, 2147483647]",
            ),
            ("server_forward_timeout 10s;", "invalid time '10s'"),
            (
                "server_forward_retries 65536;",
                "value '65536' out of range [0, 65535]",
            ),
            ("server_connect_retries x;", "invalid integer 'x'"),
        ] {
            let name = src.split(' ').next().unwrap();
            let want = format!("line 1: directive '{name}': {reason}");
            assert_eq!(strict(src), Err(want.clone()), "{src}");
            let in_group = format!("srv_group g {{ {src} }}");
            assert_eq!(strict(&in_group), Err(want.clone()), "{src}");
            let inherited = format!("{src}\nsrv_group g {{ server 10.0.0.1; }}");
            assert_eq!(groups(&inherited).err(), Some(want), "{src}");
        }
        assert_eq!(
            strict("server_queue_size 2147483647;\nserver_forward_retries 65535;"),
            Ok(())
        );
    }

    #[test]
    fn default_group_clashes() {
        assert_eq!(
            strict("server 10.0.0.1;\nsrv_group default { server 10.0.0.2; }"),
            Err("line 2: directive 'srv_group': srv_group 'default' is already defined implicitly by top-level 'server' directives".into())
        );
        let e = "line 2: directive 'server': top-level 'server' directives form the implicit srv_group 'default', which is already defined explicitly";
        assert_eq!(
            strict("srv_group default { server 10.0.0.2; }\nserver 10.0.0.1;"),
            Err(e.into())
        );
        assert_eq!(
            groups("srv_group default { server 10.0.0.2; }\nserver 10.0.0.1;"),
            Err(e.into())
        );
        // An explicit 'default' group alone is fine.
        let src = "srv_group default { server 10.0.0.2; }\nvhost default { }\n";
        assert_eq!(strict(src), Ok(()));
        assert_eq!(groups(src).unwrap()[0].0, "default");
    }

    #[test]
    fn duplicate_names_are_schema_errors() {
        assert_eq!(
            strict("srv_group a { }\nsrv_group A { }"),
            Err("line 2: directive 'srv_group': duplicate name 'A'".into())
        );
        assert_eq!(
            strict("srv_group a { }\nvhost v { proxy_pass a; }\nvhost V { proxy_pass a; }"),
            Err("line 3: directive 'vhost': duplicate name 'V'".into())
        );
    }

    #[test]
    fn limits() {
        // Groups: the implicit one counts.
        let mut src: String = (0..MAX_GROUPS)
            .map(|i| format!("srv_group g{i} {{ server 10.0.0.1; }}\n"))
            .collect();
        assert_eq!(strict(&src), Ok(()));
        assert_eq!(groups(&src).unwrap().len(), MAX_GROUPS);
        let over = format!("{src}server 10.0.0.1;\n");
        assert_eq!(
            strict(&over),
            Err("line 65: directive 'server': too many srv_groups (max 64)".into())
        );
        src.insert_str(0, "server 10.0.0.1;\n");
        assert_eq!(
            strict(&src),
            Err("line 65: directive 'srv_group': too many srv_groups (max 64)".into())
        );
        assert!(groups(&src)
            .unwrap_err()
            .contains("too many srv_groups (max 64)"));

        // Servers per group.
        let servers_src = |n: usize| -> String {
            let body: String = (0..n)
                .map(|i| format!("  server 10.0.{}.{} conns_n=1;\n", i / 256, i % 256))
                .collect();
            format!("srv_group g {{\n{body}}}\n")
        };
        assert_eq!(strict(&servers_src(MAX_SERVERS)), Ok(()));
        assert_eq!(
            strict(&servers_src(MAX_SERVERS + 1)),
            Err("line 66: directive 'server': too many servers in the group (max 64)".into())
        );
        let global: String = (0..=MAX_SERVERS)
            .map(|i| format!("server 10.0.0.{i} conns_n=1;\n"))
            .collect();
        assert_eq!(
            strict(&global),
            Err("line 65: directive 'server': too many servers in the group (max 64)".into())
        );

        // Connections in total, across groups.
        let conns = "server 10.0.0.1 conns_n=1000;\nsrv_group a {\n  server 10.0.0.2 conns_n=1000;\n  server 10.0.0.3 conns_n=1000;\n}\nsrv_group b {\n  server 10.0.0.4 conns_n=1000;\n  server 10.0.0.5 conns_n=96;\n}\n";
        assert_eq!(strict(conns), Ok(()));
        let over = conns.replace("conns_n=96", "conns_n=97");
        let e = "line 8: directive 'server': too many connections to servers (sum of conns_n) (max 4096)";
        assert_eq!(strict(&over), Err(e.into()));
        assert_eq!(groups(&over), Err(e.into()));
        // Default conns_n counts too: 128 * 32 = 4096.
        let mut many = String::new();
        for g in 0..2 {
            many.push_str(&format!("srv_group g{g} {{\n"));
            for i in 0..64 {
                many.push_str(&format!("server 10.{g}.0.{i};\n"));
            }
            many.push_str("}\n");
        }
        assert_eq!(strict(&many), Ok(()));
        let many = format!("{many}server 10.9.9.9 conns_n=1;\n");
        assert!(strict(&many)
            .unwrap_err()
            .contains("too many connections to servers"));
    }

    #[test]
    fn vhosts_and_proxy_pass() {
        let src = "srv_group app { server 10.0.0.1; }\nvhost main {\n  proxy_pass App;\n}\n";
        assert_eq!(strict(src), Ok(()));
        assert_eq!(
            vhost_list(src),
            Ok(vec![("main".into(), 2, Some("app".into()))])
        );
        // No 'default' group: no implicit default vhost.
        assert_eq!(route(src), Ok(None));

        // Implicit default vhost with the implicit default group, even beside other vhosts.
        let src = "server 10.0.0.9;\nsrv_group app { server 10.0.0.1; }\nvhost main { proxy_pass app; }\n";
        assert_eq!(strict(src), Ok(()));
        assert_eq!(
            vhost_list(src),
            Ok(vec![
                ("default".into(), 0, Some("default".into())),
                ("main".into(), 3, Some("app".into())),
            ])
        );
        assert_eq!(route(src), Ok(Some("default".into())));
        assert_eq!(route("server 10.0.0.9;"), Ok(Some("default".into())));
        assert_eq!(
            vhost_list("server 10.0.0.9;"),
            Ok(vec![("default".into(), 0, Some("default".into()))])
        );

        // Explicit default vhost: proxies to the default group, no implicit one.
        let src = "server 10.0.0.9;\nvhost Default { }\n";
        assert_eq!(strict(src), Ok(()));
        assert_eq!(
            vhost_list(src),
            Ok(vec![("Default".into(), 2, Some("default".into()))])
        );
        assert_eq!(route(src), Ok(Some("Default".into())));
        assert_eq!(
            strict("server 10.0.0.9;\nvhost default { proxy_pass default; }"),
            Ok(())
        );
    }

    #[test]
    fn vhost_errors() {
        for (src, want) in [
            (
                "srv_group a { }\nvhost v {\n}",
                "line 2: directive 'vhost': vhost without proxy_pass: nothing to serve",
            ),
            (
                "vhost v {\n  proxy_pass nope;\n}",
                "line 2: directive 'proxy_pass': srv_group 'nope' is not defined",
            ),
            (
                "vhost v {\n  proxy_pass app;\n}\nsrv_group app { server 10.0.0.1; }",
                "line 2: directive 'proxy_pass': srv_group 'app' must be defined before it is used",
            ),
            (
                "vhost v { proxy_pass default; }\nserver 10.0.0.1;",
                "line 1: directive 'proxy_pass': srv_group 'default' must be defined before it is used",
            ),
            (
                "vhost default { }",
                "line 1: directive 'vhost': srv_group 'default' is not defined",
            ),
            (
                "vhost default { }\nserver 10.0.0.1;",
                "line 1: directive 'vhost': srv_group 'default' must be defined before it is used",
            ),
            (
                "server 10.0.0.1;\nsrv_group a { }\nvhost default {\n  proxy_pass a;\n}",
                "line 4: directive 'proxy_pass': the default vhost can only proxy_pass to srv_group 'default' (no backup)",
            ),
        ] {
            assert_eq!(strict(src), Err(want.into()), "{src}");
            assert_eq!(vhost_list(src).err(), Some(want.into()), "{src}");
        }
        // backup=: checked like the main group.
        assert_eq!(
            strict("srv_group a { }\nsrv_group b { }\nvhost v { proxy_pass a backup=B; }"),
            Ok(())
        );
        with(
            "srv_group a { }\nsrv_group b { }\nvhost v { proxy_pass a backup=B; }",
            |t| {
                let v = vhosts(t).next().unwrap().unwrap();
                assert_eq!((v.proxy_pass, v.backup), (Some("a"), Some("b")));
            },
        );
        assert_eq!(
            lenient("srv_group a { }\nvhost v { proxy_pass a backup=c; }"),
            Err("line 2: directive 'proxy_pass': srv_group 'c' is not defined".into())
        );
        assert_eq!(
            lenient("srv_group a { }\nvhost v { proxy_pass a backup=A; }"),
            Err(
                "line 2: directive 'proxy_pass': the same srv_group is the main and the backup one"
                    .into()
            )
        );
    }

    #[test]
    fn routing() {
        let base = "srv_group app { server 10.0.0.1; }\nvhost main { proxy_pass app; }\n";
        let src = format!("{base}http_chain {{\n  -> MAIN;\n}}\n");
        assert_eq!(strict(&src), Ok(()));
        assert_eq!(route(&src), Ok(Some("main".into())));
        // An empty main chain drops everything.
        let src = format!("{base}http_chain {{ }}\n");
        assert_eq!(strict(&src), Ok(()));
        assert_eq!(route(&src), Ok(None));
        // Without a chain and without a 'default' vhost: nowhere.
        assert_eq!(route(base), Ok(None));

        for (chain, want) in [
            (
                "-> nope;",
                "line 4: directive '->': vhost 'nope' is not defined",
            ),
            (
                "-> default;",
                "line 4: directive '->': vhost 'default' is not defined",
            ),
            (
                "-> 304 = /x;",
                "line 4: directive '->': invalid redirect status (301, 302, 303, 307, 308) '304'",
            ),
        ] {
            let src = format!("{base}http_chain {{\n  {chain}\n}}\n");
            assert_eq!(strict(&src), Err(want.into()), "{chain}");
            assert_eq!(route(&src), Err(want.into()), "{chain}");
        }
        // A vhost defined after the chain.
        let src = "srv_group app { server 10.0.0.1; }\nhttp_chain {\n  -> main;\n}\nvhost main { proxy_pass app; }\n";
        assert_eq!(
            lenient(src),
            Err("line 3: directive '->': vhost 'main' must be defined before it is used".into())
        );
        // The implicit default vhost can't be named.
        let src = "server 10.0.0.1;\nhttp_chain {\n  -> default;\n}\n";
        assert_eq!(
            lenient(src),
            Err("line 3: directive '->': the implicit vhost 'default' can't be named in http_chain rules: define 'vhost default { ... }' before the http_chain".into())
        );
        // Named chains: the main chain's default rule jumps, so there is no default vhost.
        let named = format!("{base}http_chain c {{\n  -> main;\n}}\nhttp_chain {{\n  -> c;\n}}\n");
        assert_eq!(strict(&named), Ok(()));
        assert_eq!(route(&named), Ok(None));
        let cyclic = format!("{base}http_chain c {{\n  -> c;\n}}\n");
        assert_eq!(
            lenient(&cyclic),
            Err("line 4: directive '->': an http_chain can't refer to itself".into())
        );
        // Conditional rules and valued actions pass, targets are still checked.
        let src = format!("{base}http_chain {{\n  uri == \"/a*\" -> block;\n  -> mark = 3;\n  host == \"x\" -> 301 = https://$host/;\n  -> main;\n}}\n");
        assert_eq!(strict(&src), Ok(()));
        assert_eq!(route(&src), Ok(Some("main".into())));
        let src = format!("{base}http_chain {{\n  uri == \"/a*\" -> nope;\n}}\n");
        assert_eq!(
            lenient(&src),
            Err("line 4: directive 'uri': vhost 'nope' is not defined".into())
        );
    }

    #[test]
    fn header_list_size() {
        with("listen 80;", |t| {
            assert_eq!(max_header_list_size(t), Ok(16384))
        });
        with("http_max_header_list_size 0;", |t| {
            assert_eq!(max_header_list_size(t), Ok(0))
        });
        assert_eq!(strict("http_max_header_list_size 65536;"), Ok(()));
        assert_eq!(
            strict("http_max_header_list_size 16k;"),
            Err("line 1: directive 'http_max_header_list_size': invalid integer '16k'".into())
        );
    }

    #[test]
    fn client_mem_limits() {
        with("listen 80;", |t| {
            assert_eq!(client_mem(t), Ok(DEFAULT_CLIENT_MEM))
        });
        let cm = |src: &str| with(src, |t| client_mem(t).map_err(|e| e.to_string()));
        assert_eq!(
            cm("client_mem 5000 10000;"),
            Ok(ClientMem {
                soft: 5000,
                hard: 10000
            })
        );
        assert_eq!(
            cm("client_mem 1M;"),
            Ok(ClientMem {
                soft: 1 << 20,
                hard: 2 << 20
            })
        );
        assert_eq!(cm("client_mem 0;"), Ok(ClientMem { soft: 0, hard: 0 }));
        assert_eq!(cm("client_mem 10 0;"), Ok(ClientMem { soft: 10, hard: 0 }));
        assert_eq!(strict("client_mem 500M 1G;"), Ok(()));
        // The invalid forms Tempesta's own tests try.
        for bad in [
            "client_mem;",
            "client_mem 1 3 5;",
            "client_mem 1 b=3;",
            "client_mem 11aa;",
            "client_mem 10 1;",
        ] {
            assert!(strict(bad).is_err(), "{bad}");
        }
        assert_eq!(
            strict("client_mem 10 1;"),
            Err("line 1: directive 'client_mem': the soft limit is above the hard limit".into())
        );
    }

    #[test]
    fn client_table_directives() {
        let ct = |src: &str| with(src, |t| client_table(t).map_err(|e| e.to_string()));
        assert_eq!(ct("listen 80;"), Ok(ClientTableCfg::default()));
        assert_eq!(
            ct("client_lru_size 1;\nclient_tbl_size 16M;\nclient_db /opt/tempesta/db/client.tdb;"),
            Ok(ClientTableCfg {
                lru_size: Some(1),
                tbl_size: Some(16 << 20)
            })
        );
        assert_eq!(strict("cache_db /opt/tempesta/db/cache.tdb;"), Ok(()));
        for bad in [
            "client_lru_size 0;",
            "client_tbl_size 5000;",
            "client_tbl_size 2G;",
            "client_db;",
            "cache_db a b;",
        ] {
            assert!(strict(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ws_timeouts() {
        with("", |t| assert_eq!(ws_timeout(t), Ok(DEFAULT_WS_TIMEOUT)));
        with("client_ws_timeout 30;", |t| {
            assert_eq!(ws_timeout(t), Ok(30))
        });
        assert_eq!(
            strict("client_ws_timeout 1h;"),
            Err("line 1: directive 'client_ws_timeout': invalid time '1h'".into())
        );
    }

    #[test]
    fn keepalive_and_via() {
        with("keepalive_timeout 0;\nhdr_via \"my proxy (1.0)\";", |t| {
            assert_eq!(keepalive_timeout(t), Ok(0));
            assert_eq!(hdr_via(t), Ok(Some("my proxy (1.0)")));
        });
        assert_eq!(strict("keepalive_timeout 30;\nhdr_via tfw;"), Ok(()));
        for (src, want) in [
            ("keepalive_timeout -1;", "line 1: directive 'keepalive_timeout': invalid time '-1'"),
            ("keepalive_timeout 1m;", "line 1: directive 'keepalive_timeout': invalid time '1m'"),
            (
                "keepalive_timeout 2147483648;",
                "line 1: directive 'keepalive_timeout': value '2147483648' out of range [0, 2147483647]",
            ),
            ("hdr_via \"\";", "line 1: directive 'hdr_via': invalid Via agent name ''"),
            (
                "hdr_via \"a\nb\";",
                "line 1: directive 'hdr_via': invalid Via agent name 'a\\x0ab'",
            ),
            (
                "hdr_via \"a\\\"b\";",
                "line 1: directive 'hdr_via': backslash escapes are not supported in hdr_via",
            ),
        ] {
            assert_eq!(strict(src), Err(want.into()), "{src}");
            let acc = with(src, |t| {
                keepalive_timeout(t)
                    .map(|_| ())
                    .and_then(|()| hdr_via(t).map(|_| ()))
                    .map_err(|e| e.to_string())
            });
            assert_eq!(acc, Err(want.into()), "{src}");
        }
    }

    const EXAMPLE: &str = include_str!("../tests/data/tempesta_fw.conf");

    #[test]
    fn example_config() {
        assert_eq!(lenient(EXAMPLE), Ok(()));
        // Tempesta FW's example loads unchanged in strict mode (what the module uses).
        assert_eq!(strict(EXAMPLE), Ok(()));
        with(EXAMPLE, |t| {
            assert_eq!(keepalive_timeout(t), Ok(30));
            assert_eq!(hdr_via(t), Ok(None));
            let g: Vec<_> = srv_groups(t).map(Result::unwrap).collect();
            assert_eq!(g.len(), 1);
            assert_eq!((g[0].name, g[0].line, g[0].params), ("srv_grp_1", 53, D));
            let s: Vec<_> = servers(t, &g[0]).map(Result::unwrap).collect();
            assert_eq!(s, [srv(v4([127, 0, 0, 1], 8080), 64, 50, 53)]);
            let v: Vec<_> = vhosts(t).map(Result::unwrap).collect();
            assert_eq!(
                v,
                [Vhost {
                    name: "main",
                    line: 56,
                    proxy_pass: Some("srv_grp_1"),
                    backup: None,
                }]
            );
            assert_eq!(default_vhost(t), Ok(Some("main")));
        });
    }
}
