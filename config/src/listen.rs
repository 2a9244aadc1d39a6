//! `listen <port> | <ipv4>[:<port>] | <[ipv6]>[:<port>] | <ipv6> [proto=http|https|h2|h2,https]`.
//!
//! * A bare port listens on `0.0.0.0:<port>` (IPv4 only, as Tempesta does; write `[::]:<port>`
//!   for IPv6).
//! * A bare address (`10.0.0.1`, `::1`, `[::1]`) listens on port 80.
//! * Ports are 1..65535, decimal.
//! * `proto` is `http` (the default), `https`, `h2` or a comma-separated list of `https` and
//!   `h2` (ASCII case-insensitive). tempesta-rs implements `http` only; [`validate`] refuses the
//!   others unless [`Options::accept_unsupported`], but [`listeners`] returns them typed.
//! * The same address twice is an error, whatever the protos.
//! * No `listen` at all means Tempesta's default `listen 80`: see [`DEFAULT_LISTEN`] and
//!   [`effective_listeners`].
//!
//! [`validate`]: super::validate
//! [`Options::accept_unsupported`]: super::Options::accept_unsupported

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use core::str::FromStr;

use super::error::{Error, ErrorKind};
use super::tree::{Node, Nodes, Tree};

/// The most `listen` directives a configuration may have (bounds the duplicate check).
pub const MAX_LISTENERS: usize = 1024;

/// Port of a bare address.
pub const DEFAULT_PORT: u16 = 80;

/// Tempesta's default when there is no `listen`: `listen 80`, i.e. `0.0.0.0:80`, HTTP.
pub const DEFAULT_LISTEN: Listen = Listen {
    addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, DEFAULT_PORT)),
    proto: Proto::Http,
};

/// The protocols of a listening socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// Plain HTTP/1.x (`proto=http`, the default).
    Http,
    /// HTTP/1.x over TLS (`proto=https`).
    Https,
    /// HTTP/2 over TLS (`proto=h2`).
    H2,
    /// Both, chosen by ALPN (`proto=h2,https`).
    H2Https,
}

impl Proto {
    /// The canonical `proto=` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Proto::Http => "http",
            Proto::Https => "https",
            Proto::H2 => "h2",
            Proto::H2Https => "h2,https",
        }
    }

    /// Parses a `proto=` value.
    pub fn parse(v: &[u8]) -> Option<Proto> {
        if v.eq_ignore_ascii_case(b"http") {
            return Some(Proto::Http);
        }
        let (mut h2, mut https) = (false, false);
        for p in v.split(|c| *c == b',') {
            if p.eq_ignore_ascii_case(b"h2") {
                h2 = true;
            } else if p.eq_ignore_ascii_case(b"https") {
                https = true;
            } else {
                return None;
            }
        }
        match (h2, https) {
            (true, true) => Some(Proto::H2Https),
            (true, false) => Some(Proto::H2),
            (false, true) => Some(Proto::Https),
            (false, false) => None,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One listening socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listen {
    /// Address and port.
    pub addr: SocketAddr,
    /// Protocols.
    pub proto: Proto,
}

fn parse_port(p: &[u8]) -> Result<u16, ErrorKind<'_>> {
    if p.is_empty() || !p.iter().all(u8::is_ascii_digit) {
        return Err(ErrorKind::InvalidPort(p));
    }
    let mut v: u32 = 0;
    for &c in p {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(c.wrapping_sub(b'0'))))
            .ok_or(ErrorKind::InvalidPort(p))?;
    }
    match u16::try_from(v) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(ErrorKind::InvalidPort(p)),
    }
}

fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    IpAddr::from_str(core::str::from_utf8(s).ok()?).ok()
}

/// Parses the address argument of `listen` (see the module docs).
pub fn parse_listen_addr(a: &[u8]) -> Result<SocketAddr, ErrorKind<'_>> {
    if a.iter().all(u8::is_ascii_digit) && !a.is_empty() {
        let port = parse_port(a)?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    if let Some(rest) = a.strip_prefix(b"[") {
        // [v6] or [v6]:port
        let close = rest
            .iter()
            .position(|c| *c == b']')
            .ok_or(ErrorKind::InvalidAddress(a))?;
        let host = rest.get(..close).ok_or(ErrorKind::InvalidAddress(a))?;
        let after = rest
            .get(close.saturating_add(1)..)
            .ok_or(ErrorKind::InvalidAddress(a))?;
        let ip = match parse_ip(host) {
            Some(IpAddr::V6(ip)) => IpAddr::V6(ip),
            _ => return Err(ErrorKind::InvalidAddress(a)),
        };
        let port = match after {
            [] => DEFAULT_PORT,
            [b':', port @ ..] => parse_port(port)?,
            _ => return Err(ErrorKind::InvalidAddress(a)),
        };
        return Ok(SocketAddr::new(ip, port));
    }
    if let Some(ip) = parse_ip(a) {
        // 10.0.0.1 or a bare IPv6 address (::1)
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    // v4:port
    let colon = a
        .iter()
        .rposition(|c| *c == b':')
        .ok_or(ErrorKind::InvalidAddress(a))?;
    let host = a.get(..colon).ok_or(ErrorKind::InvalidAddress(a))?;
    let port = a
        .get(colon.saturating_add(1)..)
        .ok_or(ErrorKind::InvalidAddress(a))?;
    match parse_ip(host) {
        Some(IpAddr::V4(ip)) => Ok(SocketAddr::new(IpAddr::V4(ip), parse_port(port)?)),
        _ => Err(ErrorKind::InvalidAddress(a)),
    }
}

/// Parses one `listen` node (argument count, options, address, proto); no duplicate check.
pub fn parse_listen<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<Listen, Error<'s>> {
    let arg = tree.single_arg(node)?;
    let mut proto = Proto::Http;
    let mut seen = false;
    for o in tree.options(node) {
        if !o.key.eq_ignore_ascii_case(b"proto") {
            return Err(tree.error(node, ErrorKind::UnknownOption(o.key)));
        }
        if seen {
            return Err(tree.error(node, ErrorKind::DuplicateOption(o.key)));
        }
        seen = true;
        proto = Proto::parse(o.value)
            .ok_or_else(|| tree.error(node, ErrorKind::InvalidValue("proto", o.value)))?;
    }
    let addr = parse_listen_addr(arg.text).map_err(|k| tree.error(node, k))?;
    Ok(Listen { addr, proto })
}

fn is_listen(tree: &Tree<'_, '_>, node: &Node) -> bool {
    !node.is_rule() && tree.name(node) == b"listen"
}

/// Parses `node` (a top-level `listen`) and checks it against the `listen` nodes before it among
/// `siblings` (duplicates, count).
pub(crate) fn check_listen<'s>(
    tree: &Tree<'s, '_>,
    siblings: Nodes<'_>,
    node: &Node,
) -> Result<Listen, Error<'s>> {
    let l = parse_listen(tree, node)?;
    let mut count: usize = 0;
    for prev in siblings {
        if prev.index() >= node.index() {
            break;
        }
        if !is_listen(tree, prev) {
            continue;
        }
        count = count.saturating_add(1);
        if count >= MAX_LISTENERS {
            return Err(tree.error(node, ErrorKind::TooManyListeners));
        }
        if let Ok(p) = parse_listen(tree, prev) {
            if p.addr == l.addr {
                return Err(tree.error(node, ErrorKind::DuplicateListen(l.addr)));
            }
        }
    }
    Ok(l)
}

/// Iterator over the top-level `listen` directives, see [`listeners`].
#[derive(Clone, Debug)]
pub struct Listeners<'t, 's, 'b> {
    tree: &'t Tree<'s, 'b>,
    it: Nodes<'b>,
}

impl<'s> Iterator for Listeners<'_, 's, '_> {
    type Item = Result<Listen, Error<'s>>;

    fn next(&mut self) -> Option<Self::Item> {
        let tree = self.tree;
        let node = self.it.by_ref().find(|n| is_listen(tree, n))?;
        Some(check_listen(tree, tree.top_level(), node))
    }
}

/// The `listen` directives in order, parsed and checked (address, port, proto, duplicates).
///
/// Protos tempesta-rs does not implement (`https`, `h2`) are returned as they are; run
/// [`validate`](super::validate) first to refuse them. Empty when there is no `listen`: see
/// [`effective_listeners`] for Tempesta's default.
pub fn listeners<'t, 's, 'b>(tree: &'t Tree<'s, 'b>) -> Listeners<'t, 's, 'b> {
    Listeners {
        tree,
        it: tree.top_level(),
    }
}

/// Like [`listeners`], with the line of each `listen` directive (for messages about a listener
/// after validation, e.g. `FILE:LINE: directive 'listen': cannot bind ...`).
pub fn listeners_with_lines<'t, 's, 'b>(
    tree: &'t Tree<'s, 'b>,
) -> impl Iterator<Item = Result<(u32, Listen), Error<'s>>> + 't
where
    's: 't,
    'b: 't,
{
    tree.top_level()
        .filter(move |n| is_listen(tree, n))
        .map(move |n| check_listen(tree, tree.top_level(), n).map(|l| (n.line(), l)))
}

/// Like [`listeners`], but yields [`DEFAULT_LISTEN`] (`listen 80`) when the configuration has
/// no `listen` directive.
pub fn effective_listeners<'t, 's, 'b>(
    tree: &'t Tree<'s, 'b>,
) -> impl Iterator<Item = Result<Listen, Error<'s>>> + 't
where
    's: 't,
    'b: 't,
{
    let none = listeners(tree).next().is_none();
    listeners(tree).chain(none.then_some(Ok(DEFAULT_LISTEN)))
}
