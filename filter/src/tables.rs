//! HTTP tables: `http_chain` rules that route, block, redirect and mark requests.
//!
//! ```text
//! http_chain static { uri == "*.jpg" -> cache_ttl = 3600; -> storage; }
//! http_chain {
//!     hdr "User-Agent" == "*bot*" -> block;
//!     uri == "/img/*" -> static;
//!     host == "old.example.com" -> 301 = https://example.com$request_uri;
//!     -> app;
//! }
//! ```
//!
//! The configuration layer turns each chain into a [`Chain`] of [`Rule`]s borrowing its own
//! storage, checks them once with [`validate`], and every request is run through
//! [`evaluate`], which needs no allocation and no lock (the rules are read-only).
//!
//! # Semantics (Tempesta's `http_tbl.c` and `http_match.c`)
//!
//! - Evaluation starts in the main (unnamed) chain. In each chain the first rule whose
//!   condition holds and whose action is terminal decides: a vhost, `block`, a redirect, or a
//!   jump to another chain, where evaluation goes on (a jump is a goto, there is no return).
//!   A chain where nothing matches ends the evaluation with [`Route::NoMatch`] (Tempesta then
//!   has no vhost for the request).
//! - `mark = N`, `cache_disable` and `cache_ttl = N` are not terminal: when their condition
//!   holds they apply and the rules after them are evaluated (`do_eval()` returns "no match"
//!   after applying them). A later rule overrides an earlier one's value.
//! - In each chain, rules whose condition is on `mark` are evaluated before the others (in
//!   their written order): Tempesta keeps them in a separate list it scans first. A `mark`
//!   condition sees the mark set by a `mark =` action of an earlier chain, not of its own.
//! - `mark` conditions never hold for a request without a mark (0).
//! - Comparisons: `uri`, `host`, `method`, header values and header names are
//!   case-insensitive (Tempesta compares URIs case-insensitively too, which also keeps
//!   `/ADMIN` from slipping past a rule on `/admin` to a case-insensitive backend); cookie
//!   names and values are case-sensitive.
//! - `hdr` and `cookie` conditions need the field: `hdr "X" == "*"` holds when X is present,
//!   and `!=` holds when it is absent. With repeated fields, `==` holds if any instance matches.

use super::limits::trim_ows;

/// Longest chain of jumps (and most chains) [`validate`] accepts.
pub const MAX_CHAINS: usize = 1024;

/// How a condition compares a field with its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern<'a> {
    /// `"*"`: anything (for `hdr` and `cookie`: the field is present).
    Any,
    /// `"arg"`.
    Exact(&'a [u8]),
    /// `"arg*"`.
    Prefix(&'a [u8]),
    /// `"*arg"`.
    Suffix(&'a [u8]),
}

impl<'a> Pattern<'a> {
    /// The pattern of a configuration argument, Tempesta's way: `*` alone is [`Pattern::Any`],
    /// a trailing `*` makes a prefix, a leading one a suffix; with both (`*arg*`, which
    /// Tempesta cannot match either) the prefix wins. Backslash escapes (`\*`) are the
    /// configuration layer's business: it owns the storage an unescaped copy needs.
    pub fn parse(arg: &'a [u8]) -> Self {
        match arg {
            b"*" => Self::Any,
            [b'*', mid @ .., b'*'] => Self::Prefix(mid),
            [head @ .., b'*'] => Self::Prefix(head),
            [b'*', tail @ ..] => Self::Suffix(tail),
            _ => Self::Exact(arg),
        }
    }

    /// Whether `v` matches, ASCII case-insensitively if `casei`.
    pub fn matches(&self, v: &[u8], casei: bool) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            if casei {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        match *self {
            Self::Any => true,
            Self::Exact(p) => eq(v, p),
            Self::Prefix(p) => v.get(..p.len()).is_some_and(|h| eq(h, p)),
            Self::Suffix(p) => v
                .len()
                .checked_sub(p.len())
                .and_then(|s| v.get(s..))
                .is_some_and(|t| eq(t, p)),
        }
    }
}

/// The condition of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond<'a> {
    /// No condition (`-> action;`).
    Always,
    /// `uri`: the request-target as received (path and query).
    Uri(Pattern<'a>),
    /// `host`: the host the request addresses.
    Host(Pattern<'a>),
    /// `method`.
    Method(Pattern<'a>),
    /// `hdr "Name"`: the value of any field named `name`.
    Hdr {
        /// The field name (case-insensitive).
        name: &'a [u8],
        /// The value pattern.
        value: Pattern<'a>,
    },
    /// `cookie "name"`: the value of any cookie whose name matches `name`.
    Cookie {
        /// The cookie name pattern (Tempesta allows `"*"`, `"pre*"`, `"*suf"` here too).
        name: Pattern<'a>,
        /// The value pattern.
        value: Pattern<'a>,
    },
    /// `mark`: the request's netfilter mark equals the number (`None`: any mark but 0).
    Mark(Option<u32>),
}

/// What a rule does when its condition holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Route to the vhost of this name (terminal).
    Vhost(&'a [u8]),
    /// Go on in the chain of this name (terminal for the current chain).
    Chain(&'a [u8]),
    /// Block the request (terminal).
    Block,
    /// Answer with a redirect (terminal); `url` may hold `$host` and `$request_uri`.
    Redirect {
        /// 301, 302, 303, 307 or 308.
        status: u16,
        /// The location template, see [`expand_redirect`].
        url: &'a [u8],
    },
    /// Set the request's mark (non-terminal).
    Mark(u32),
    /// `cache_disable [= 0|1]`: bypass the cache, or not (non-terminal).
    CacheDisable(bool),
    /// `cache_ttl = N`: the default cache lifetime in seconds (non-terminal).
    CacheTtl(u32),
}

impl Action<'_> {
    /// Whether the action ends the evaluation of its chain.
    pub const fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Vhost(_) | Self::Chain(_) | Self::Block | Self::Redirect { .. }
        )
    }
}

/// One rule: `cond ==|!= arg -> action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule<'a> {
    /// The condition.
    pub cond: Cond<'a>,
    /// `!=`: the rule applies when the condition does not hold.
    pub negate: bool,
    /// The action.
    pub action: Action<'a>,
}

/// An `http_chain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain<'a> {
    /// The name (case-insensitive); empty for the main chain.
    pub name: &'a [u8],
    /// The rules in written order.
    pub rules: &'a [Rule<'a>],
}

/// What [`evaluate`] needs of a request.
pub trait Request {
    /// The request-target as received.
    fn uri(&self) -> &[u8];
    /// The host the request addresses (absolute-form authority, else `:authority`, else Host).
    fn host(&self) -> &[u8];
    /// The method token.
    fn method(&self) -> &[u8];
    /// The netfilter mark of the request's first packet (0: none).
    fn mark(&self) -> u32;
    /// Whether some field named `name` (ASCII case-insensitive) has a value, without leading
    /// and trailing whitespace, for which `pred` holds. Called for `hdr` and `cookie`.
    fn any_header(&self, name: &[u8], pred: &mut dyn FnMut(&[u8]) -> bool) -> bool;
}

/// A [`Request`] over plain slices: for tests, and for callers that keep the fields of a
/// head in an array.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestView<'a> {
    /// See [`Request::uri`].
    pub uri: &'a [u8],
    /// See [`Request::host`].
    pub host: &'a [u8],
    /// See [`Request::method`].
    pub method: &'a [u8],
    /// See [`Request::mark`].
    pub mark: u32,
    /// The header fields, `(name, value)`.
    pub headers: &'a [(&'a [u8], &'a [u8])],
}

impl Request for RequestView<'_> {
    fn uri(&self) -> &[u8] {
        self.uri
    }
    fn host(&self) -> &[u8] {
        self.host
    }
    fn method(&self) -> &[u8] {
        self.method
    }
    fn mark(&self) -> u32 {
        self.mark
    }
    fn any_header(&self, name: &[u8], pred: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && pred(trim_ows(v)))
    }
}

/// The `name=value` pairs of a `Cookie` field value (`a=b; c=d`), names and values without
/// surrounding whitespace. Empty pieces (`a=b;;c=d`, a trailing `;`) and pieces without `=`
/// are skipped; a value keeps its double quotes, if any (RFC 6265 makes them part of it).
pub fn cookies(value: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    value.split(|&c| c == b';').filter_map(|pair| {
        let eq = pair.iter().position(|&c| c == b'=')?;
        let name = trim_ows(pair.get(..eq)?);
        let value = trim_ows(pair.get(eq.checked_add(1)?..)?);
        (!name.is_empty()).then_some((name, value))
    })
}

/// Where the evaluation routes the request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Route<'a> {
    /// No terminal rule matched (or there is no main chain).
    #[default]
    NoMatch,
    /// To this vhost.
    Vhost(&'a [u8]),
    /// Blocked (an attack: see [`Class`](super::Class)).
    Block,
    /// Answered with a redirect.
    Redirect {
        /// The status code.
        status: u16,
        /// The location template, see [`expand_redirect`].
        url: &'a [u8],
    },
}

/// The result of [`evaluate`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome<'a> {
    /// The terminal decision.
    pub route: Route<'a>,
    /// The mark to set, if a `mark =` rule applied (the last one wins).
    pub mark: Option<u32>,
    /// `cache_disable`, if a rule set it.
    pub cache_disable: Option<bool>,
    /// `cache_ttl`, if a rule set it.
    pub cache_ttl: Option<u32>,
}

fn find_chain<'c, 'a>(chains: &'c [Chain<'a>], name: &[u8]) -> Option<&'c Chain<'a>> {
    chains.iter().find(|c| c.name.eq_ignore_ascii_case(name))
}

/// Runs `req` through the chains. At most `chains.len()` jumps are followed: a configuration
/// that passed [`validate`] has no cycle, and one that did not gets [`Route::Block`] instead
/// of a loop (as does a jump to an undefined chain): a firewall fails closed.
pub fn evaluate<'a, R: Request + ?Sized>(chains: &[Chain<'a>], req: &R) -> Outcome<'a> {
    let mut out = Outcome::default();
    let mut mark = req.mark();
    let Some(mut chain) = find_chain(chains, b"") else {
        return out;
    };
    for _ in 0..=chains.len() {
        let mark_rules = chain
            .rules
            .iter()
            .filter(|r| matches!(r.cond, Cond::Mark(_)));
        let other_rules = chain
            .rules
            .iter()
            .filter(|r| !matches!(r.cond, Cond::Mark(_)));
        let mut decided = None;
        for rule in mark_rules.chain(other_rules) {
            if cond_holds(&rule.cond, req, mark) == rule.negate {
                continue;
            }
            match rule.action {
                Action::Mark(m) => {
                    mark = m;
                    out.mark = Some(m);
                }
                Action::CacheDisable(b) => out.cache_disable = Some(b),
                Action::CacheTtl(t) => out.cache_ttl = Some(t),
                terminal => {
                    decided = Some(terminal);
                    break;
                }
            }
        }
        out.route = match decided {
            None => Route::NoMatch,
            Some(Action::Chain(name)) => match find_chain(chains, name) {
                Some(next) => {
                    chain = next;
                    continue;
                }
                None => Route::Block,
            },
            Some(Action::Vhost(v)) => Route::Vhost(v),
            Some(Action::Redirect { status, url }) => Route::Redirect { status, url },
            Some(_) => Route::Block,
        };
        return out;
    }
    out.route = Route::Block;
    out
}

fn cond_holds<R: Request + ?Sized>(cond: &Cond<'_>, req: &R, mark: u32) -> bool {
    match *cond {
        Cond::Always => true,
        Cond::Uri(p) => p.matches(req.uri(), true),
        Cond::Host(p) => p.matches(req.host(), true),
        Cond::Method(p) => p.matches(req.method(), true),
        Cond::Hdr { name, value } => req.any_header(name, &mut |v| value.matches(v, true)),
        Cond::Cookie { name, value } => req.any_header(b"cookie", &mut |v| {
            cookies(v).any(|(n, cv)| name.matches(n, false) && value.matches(cv, false))
        }),
        Cond::Mark(m) => mark != 0 && (m.is_none() || m == Some(mark)),
    }
}

/// A configuration error found by [`validate`]; `chain` and `rule` are indices into the
/// slices given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TablesError {
    /// More than [`MAX_CHAINS`] chains.
    TooManyChains,
    /// Two chains with the same name (or two main chains).
    DuplicateChain {
        /// The second one.
        chain: usize,
    },
    /// A jump to a chain that does not exist.
    UndefinedChain {
        /// The chain of the rule.
        chain: usize,
        /// The rule.
        rule: usize,
    },
    /// Jumps that can loop; `chain` is on the loop (or leads into it).
    JumpCycle {
        /// A chain of the cycle.
        chain: usize,
    },
    /// A rule after an unconditional terminal rule, which it could never be reached past
    /// (Tempesta: "default HTTP rule must be only one and last").
    RuleAfterDefault {
        /// The chain.
        chain: usize,
        /// The unreachable rule.
        rule: usize,
    },
    /// A redirect status other than 301, 302, 303, 307, 308.
    RedirectStatus {
        /// The chain.
        chain: usize,
        /// The rule.
        rule: usize,
    },
    /// `mark == 0`, which never holds (an unmarked request has mark 0 and never matches).
    ZeroMark {
        /// The chain.
        chain: usize,
        /// The rule.
        rule: usize,
    },
    /// `hdr ""`.
    EmptyHeaderName {
        /// The chain.
        chain: usize,
        /// The rule.
        rule: usize,
    },
    /// `!=` on a rule without a condition.
    NegatedAlways {
        /// The chain.
        chain: usize,
        /// The rule.
        rule: usize,
    },
}

/// Checks the chains once, at configuration time. Cost O(chains² × rules), fine for the few
/// dozen chains a configuration has.
///
/// Unlike Tempesta, a rule after an unconditional `cache_disable`/`cache_ttl` is accepted:
/// those are not terminal, so the rule is reachable.
pub fn validate(chains: &[Chain<'_>]) -> Result<(), TablesError> {
    if chains.len() > MAX_CHAINS {
        return Err(TablesError::TooManyChains);
    }
    for (ci, c) in chains.iter().enumerate() {
        if chains
            .iter()
            .take(ci)
            .any(|p| p.name.eq_ignore_ascii_case(c.name))
        {
            return Err(TablesError::DuplicateChain { chain: ci });
        }
        let mut default_seen = false;
        for (ri, r) in c.rules.iter().enumerate() {
            let at = (ci, ri);
            if default_seen {
                return Err(TablesError::RuleAfterDefault {
                    chain: at.0,
                    rule: at.1,
                });
            }
            match r.cond {
                Cond::Always if r.negate => {
                    return Err(TablesError::NegatedAlways {
                        chain: at.0,
                        rule: at.1,
                    })
                }
                Cond::Always => default_seen = r.action.is_terminal(),
                Cond::Mark(Some(0)) => {
                    return Err(TablesError::ZeroMark {
                        chain: at.0,
                        rule: at.1,
                    })
                }
                Cond::Hdr { name: [], .. } => {
                    return Err(TablesError::EmptyHeaderName {
                        chain: at.0,
                        rule: at.1,
                    })
                }
                _ => {}
            }
            match r.action {
                Action::Chain(name) if find_chain(chains, name).is_none() => {
                    return Err(TablesError::UndefinedChain {
                        chain: at.0,
                        rule: at.1,
                    })
                }
                Action::Redirect { status, .. } if !matches!(status, 301..=303 | 307 | 308) => {
                    return Err(TablesError::RedirectStatus {
                        chain: at.0,
                        rule: at.1,
                    })
                }
                _ => {}
            }
        }
    }
    check_cycles(chains)
}

/// Peels off chains whose jumps all lead to chains already peeled (at first: chains without
/// jumps). What cannot be peeled is on, or leads into, a cycle.
fn check_cycles(chains: &[Chain<'_>]) -> Result<(), TablesError> {
    let mut done = [0u64; MAX_CHAINS / 64];
    let is_done = |done: &[u64], i: usize| {
        done.get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    };
    loop {
        let mut progress = false;
        for (ci, c) in chains.iter().enumerate() {
            if is_done(&done, ci) {
                continue;
            }
            let ready = c.rules.iter().all(|r| match r.action {
                Action::Chain(name) => chains
                    .iter()
                    .position(|t| t.name.eq_ignore_ascii_case(name))
                    .is_some_and(|t| is_done(&done, t)),
                _ => true,
            });
            if ready {
                if let Some(w) = done.get_mut(ci / 64) {
                    *w |= 1u64 << (ci % 64);
                }
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    match (0..chains.len()).find(|&i| !is_done(&done, i)) {
        Some(chain) => Err(TablesError::JumpCycle { chain }),
        None => Ok(()),
    }
}

/// The redirect location did not fit the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

/// Writes the location of a redirect into `out`: `template` with `$request_uri` replaced by
/// the request-target and `$host` by the host; any other `$` is literal. Returns the length.
///
/// On [`Overflow`] (a location longer than the buffer: a long URI, since the template is the
/// administrator's) nothing useful is in `out`; the caller answers 500 rather than redirect
/// to a truncated, possibly different, URL.
pub fn expand_redirect(
    template: &[u8],
    host: &[u8],
    request_uri: &[u8],
    out: &mut [u8],
) -> Result<usize, Overflow> {
    let mut len = 0usize;
    let mut put = |s: &[u8], len: &mut usize| -> Result<(), Overflow> {
        let end = len.checked_add(s.len()).ok_or(Overflow)?;
        out.get_mut(*len..end).ok_or(Overflow)?.copy_from_slice(s);
        *len = end;
        Ok(())
    };
    let mut rest = template;
    while let Some(pos) = rest.iter().position(|&c| c == b'$') {
        let (lit, var) = rest.split_at(pos);
        put(lit, &mut len)?;
        if let Some(after) = var.strip_prefix(b"$request_uri") {
            put(request_uri, &mut len)?;
            rest = after;
        } else if let Some(after) = var.strip_prefix(b"$host") {
            put(host, &mut len)?;
            rest = after;
        } else {
            put(b"$", &mut len)?;
            rest = var.get(1..).unwrap_or(&[]);
        }
    }
    put(rest, &mut len)?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn rule<'a>(cond: Cond<'a>, action: Action<'a>) -> Rule<'a> {
        Rule {
            cond,
            negate: false,
            action,
        }
    }

    const fn not<'a>(cond: Cond<'a>, action: Action<'a>) -> Rule<'a> {
        Rule {
            cond,
            negate: true,
            action,
        }
    }

    fn req() -> RequestView<'static> {
        RequestView {
            uri: b"/index.html?x=1",
            host: b"Example.COM",
            method: b"GET",
            mark: 0,
            headers: &[
                (b"User-Agent", b"Mozilla/5.0 (X11)"),
                (b"Cookie", b"sid=abc123; theme=dark"),
                (b"Accept", b"text/html"),
                (b"accept", b" application/json "),
            ],
        }
    }

    fn route_of<'a>(rules: &'a [Rule<'a>], r: &RequestView<'_>) -> Route<'a> {
        let chains = [Chain { name: b"", rules }];
        assert_eq!(validate(&chains), Ok(()));
        evaluate(&chains, r).route
    }

    const V: Action<'static> = Action::Vhost(b"v");

    #[test]
    fn patterns() {
        assert_eq!(Pattern::parse(b"*"), Pattern::Any);
        assert_eq!(Pattern::parse(b"/a*"), Pattern::Prefix(b"/a"));
        assert_eq!(Pattern::parse(b"*.jpg"), Pattern::Suffix(b".jpg"));
        assert_eq!(Pattern::parse(b"*mid*"), Pattern::Prefix(b"mid"));
        assert_eq!(Pattern::parse(b"**"), Pattern::Prefix(b""));
        assert_eq!(Pattern::parse(b"a*b"), Pattern::Exact(b"a*b"));
        assert_eq!(Pattern::parse(b""), Pattern::Exact(b""));
        assert!(Pattern::Prefix(b"/A").matches(b"/abc", true));
        assert!(!Pattern::Prefix(b"/A").matches(b"/abc", false));
        assert!(!Pattern::Prefix(b"/abcd").matches(b"/abc", true));
        assert!(Pattern::Suffix(b".JPG").matches(b"x.jpg", true));
        assert!(!Pattern::Suffix(b"xx.jpg").matches(b".jpg", true));
        assert!(Pattern::Exact(b"").matches(b"", false));
        assert!(Pattern::Any.matches(b"", false));
    }

    #[test]
    fn uri_conditions() {
        let r = req();
        assert_eq!(
            route_of(
                &[rule(Cond::Uri(Pattern::Exact(b"/index.html?x=1")), V)],
                &r
            ),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[rule(Cond::Uri(Pattern::Prefix(b"/INDEX")), V)], &r),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[rule(Cond::Uri(Pattern::Suffix(b"x=1")), V)], &r),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[rule(Cond::Uri(Pattern::Exact(b"/index.html")), V)], &r),
            Route::NoMatch
        );
        assert_eq!(
            route_of(&[not(Cond::Uri(Pattern::Exact(b"/index.html")), V)], &r),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[not(Cond::Uri(Pattern::Prefix(b"/")), V)], &r),
            Route::NoMatch
        );
        assert_eq!(
            route_of(&[rule(Cond::Uri(Pattern::Any), V)], &r),
            Route::Vhost(b"v")
        );
    }

    #[test]
    fn host_and_method_are_case_insensitive() {
        let r = req();
        assert_eq!(
            route_of(&[rule(Cond::Host(Pattern::Exact(b"example.com")), V)], &r),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[rule(Cond::Host(Pattern::Suffix(b".com")), V)], &r),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[not(Cond::Host(Pattern::Exact(b"example.com")), V)], &r),
            Route::NoMatch
        );
        assert_eq!(
            route_of(&[rule(Cond::Method(Pattern::Exact(b"get")), V)], &r),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[rule(Cond::Method(Pattern::Exact(b"POST")), V)], &r),
            Route::NoMatch
        );
        assert_eq!(
            route_of(&[not(Cond::Method(Pattern::Exact(b"POST")), V)], &r),
            Route::Vhost(b"v")
        );
    }

    #[test]
    fn header_conditions() {
        let r = req();
        let hdr = |name: &'static [u8], value| Cond::Hdr { name, value };
        assert_eq!(
            route_of(
                &[rule(hdr(b"user-agent", Pattern::Prefix(b"mozilla")), V)],
                &r
            ),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(
                &[rule(hdr(b"User-Agent", Pattern::Suffix(b"(x11)")), V)],
                &r
            ),
            Route::Vhost(b"v")
        );
        // Any instance of a repeated field; whitespace around the value ignored.
        assert_eq!(
            route_of(
                &[rule(hdr(b"Accept", Pattern::Exact(b"application/json")), V)],
                &r
            ),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[rule(hdr(b"Accept", Pattern::Exact(b"image/png")), V)], &r),
            Route::NoMatch
        );
        // Presence and absence.
        assert_eq!(
            route_of(&[rule(hdr(b"Referer", Pattern::Any), V)], &r),
            Route::NoMatch
        );
        assert_eq!(
            route_of(&[not(hdr(b"Referer", Pattern::Any), V)], &r),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[not(hdr(b"Referer", Pattern::Exact(b"x")), V)], &r),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[rule(hdr(b"accept", Pattern::Any), V)], &r),
            Route::Vhost(b"v")
        );
    }

    #[test]
    fn cookie_conditions() {
        let r = req();
        let ck = |name, value| Cond::Cookie { name, value };
        assert_eq!(
            route_of(
                &[rule(
                    ck(Pattern::Exact(b"sid"), Pattern::Exact(b"abc123")),
                    V
                )],
                &r
            ),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(
                &[rule(ck(Pattern::Exact(b"sid"), Pattern::Prefix(b"abc")), V)],
                &r
            ),
            Route::Vhost(b"v")
        );
        // Case-sensitive names and values.
        assert_eq!(
            route_of(&[rule(ck(Pattern::Exact(b"SID"), Pattern::Any), V)], &r),
            Route::NoMatch
        );
        assert_eq!(
            route_of(
                &[rule(
                    ck(Pattern::Exact(b"sid"), Pattern::Exact(b"ABC123")),
                    V
                )],
                &r
            ),
            Route::NoMatch
        );
        // Name patterns.
        assert_eq!(
            route_of(
                &[rule(
                    ck(Pattern::Suffix(b"eme"), Pattern::Exact(b"dark")),
                    V
                )],
                &r
            ),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[rule(ck(Pattern::Any, Pattern::Exact(b"dark")), V)], &r),
            Route::Vhost(b"v")
        );
        // The value must belong to the cookie whose name matched.
        assert_eq!(
            route_of(
                &[rule(ck(Pattern::Exact(b"sid"), Pattern::Exact(b"dark")), V)],
                &r
            ),
            Route::NoMatch
        );
        assert_eq!(
            route_of(&[not(ck(Pattern::Exact(b"lang"), Pattern::Any), V)], &r),
            Route::Vhost(b"v")
        );
        let none = RequestView { headers: &[], ..r };
        assert_eq!(
            route_of(&[rule(ck(Pattern::Any, Pattern::Any), V)], &none),
            Route::NoMatch
        );
    }

    #[test]
    fn cookie_parsing() {
        let all = |v: &'static [u8]| cookies(v).collect::<Vec<_>>();
        assert_eq!(all(b"a=b; c=d"), [(&b"a"[..], &b"b"[..]), (b"c", b"d")]);
        assert_eq!(
            all(b"  a = b ;c=d;"),
            [(&b"a"[..], &b"b"[..]), (b"c", b"d")]
        );
        assert_eq!(all(b";;a=;;"), [(&b"a"[..], &b""[..])]);
        assert_eq!(all(b"noequals; x=1"), [(&b"x"[..], &b"1"[..])]);
        assert_eq!(all(b"=v; k=v=w"), [(&b"k"[..], &b"v=w"[..])]);
        assert_eq!(all(b"q=\"quoted\""), [(&b"q"[..], &b"\"quoted\""[..])]);
        assert!(all(b"").is_empty());
        assert!(all(b" ; ").is_empty());
    }

    #[test]
    fn cookies_in_several_fields() {
        // HTTP/2 sends one cookie per field.
        let r = RequestView {
            headers: &[(b"cookie", b"a=1"), (b"COOKIE", b"b=2")],
            ..req()
        };
        let c = Cond::Cookie {
            name: Pattern::Exact(b"b"),
            value: Pattern::Exact(b"2"),
        };
        assert_eq!(route_of(&[rule(c, V)], &r), Route::Vhost(b"v"));
    }

    #[test]
    fn mark_conditions() {
        let marked = RequestView { mark: 7, ..req() };
        assert_eq!(
            route_of(&[rule(Cond::Mark(Some(7)), V)], &marked),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[rule(Cond::Mark(None), V)], &marked),
            Route::Vhost(b"v")
        );
        assert_eq!(
            route_of(&[rule(Cond::Mark(Some(8)), V)], &marked),
            Route::NoMatch
        );
        assert_eq!(
            route_of(&[not(Cond::Mark(Some(8)), V)], &marked),
            Route::Vhost(b"v")
        );
        // No mark: never equal, so `!=` holds.
        assert_eq!(
            route_of(&[rule(Cond::Mark(None), V)], &req()),
            Route::NoMatch
        );
        assert_eq!(
            route_of(&[not(Cond::Mark(Some(8)), V)], &req()),
            Route::Vhost(b"v")
        );
    }

    #[test]
    fn mark_rules_run_first_in_a_chain() {
        let marked = RequestView { mark: 1, ..req() };
        let rules = [
            rule(Cond::Uri(Pattern::Any), Action::Vhost(b"by-uri")),
            rule(Cond::Mark(Some(1)), Action::Vhost(b"by-mark")),
        ];
        // Not rejected as "after default": the first rule is conditional (uri == "*").
        assert_eq!(route_of(&rules, &marked), Route::Vhost(b"by-mark"));
        assert_eq!(route_of(&rules, &req()), Route::Vhost(b"by-uri"));
    }

    #[test]
    fn first_terminal_match_wins() {
        let rules = [
            rule(Cond::Uri(Pattern::Prefix(b"/nope")), Action::Vhost(b"a")),
            rule(Cond::Uri(Pattern::Prefix(b"/index")), Action::Vhost(b"b")),
            rule(Cond::Uri(Pattern::Prefix(b"/")), Action::Vhost(b"c")),
            rule(Cond::Always, Action::Vhost(b"d")),
        ];
        assert_eq!(route_of(&rules, &req()), Route::Vhost(b"b"));
    }

    #[test]
    fn non_terminal_actions_apply_and_continue() {
        let rules = [
            rule(Cond::Always, Action::Mark(5)),
            rule(
                Cond::Uri(Pattern::Suffix(b".html?x=1")),
                Action::CacheTtl(60),
            ),
            rule(
                Cond::Uri(Pattern::Prefix(b"/admin")),
                Action::CacheDisable(true),
            ),
            rule(Cond::Host(Pattern::Any), Action::Mark(6)),
            rule(Cond::Always, Action::CacheDisable(false)),
            rule(Cond::Always, V),
        ];
        let chains = [Chain {
            name: b"",
            rules: &rules,
        }];
        assert_eq!(validate(&chains), Ok(()));
        assert_eq!(
            evaluate(&chains, &req()),
            Outcome {
                route: Route::Vhost(b"v"),
                mark: Some(6),
                cache_disable: Some(false),
                cache_ttl: Some(60),
            }
        );
        // Actions after the decision do not apply.
        let rules = [
            rule(Cond::Always, Action::Block),
            rule(Cond::Uri(Pattern::Any), Action::Mark(1)),
        ];
        let chains = [Chain {
            name: b"",
            rules: &rules,
        }];
        assert!(validate(&chains).is_err());
        assert_eq!(
            evaluate(&chains, &req()),
            Outcome {
                route: Route::Block,
                ..Outcome::default()
            }
        );
    }

    #[test]
    fn marks_set_in_one_chain_are_seen_in_the_next() {
        let main = [
            rule(Cond::Always, Action::Mark(3)),
            rule(Cond::Always, Action::Chain(b"next")),
        ];
        let next = [
            rule(Cond::Mark(Some(3)), Action::Vhost(b"marked")),
            rule(Cond::Always, V),
        ];
        let chains = [
            Chain {
                name: b"next",
                rules: &next,
            },
            Chain {
                name: b"",
                rules: &main,
            },
        ];
        assert_eq!(validate(&chains), Ok(()));
        let o = evaluate(&chains, &req());
        assert_eq!((o.route, o.mark), (Route::Vhost(b"marked"), Some(3)));
        // In the same chain the mark rules ran before the mark was set.
        let same = [
            rule(Cond::Always, Action::Mark(3)),
            rule(Cond::Mark(Some(3)), V),
        ];
        assert_eq!(route_of(&same, &req()), Route::NoMatch);
    }

    #[test]
    fn chain_jumps() {
        let img = [rule(
            Cond::Uri(Pattern::Suffix(b".png")),
            Action::Vhost(b"images"),
        )];
        let api = [
            rule(Cond::Method(Pattern::Exact(b"POST")), Action::Block),
            rule(Cond::Always, Action::Chain(b"IMG")),
        ];
        let main = [
            rule(Cond::Host(Pattern::Prefix(b"api.")), Action::Chain(b"api")),
            rule(Cond::Always, Action::Vhost(b"main")),
        ];
        let chains = [
            Chain {
                name: b"img",
                rules: &img,
            },
            Chain {
                name: b"api",
                rules: &api,
            },
            Chain {
                name: b"",
                rules: &main,
            },
        ];
        assert_eq!(validate(&chains), Ok(()));
        let api_req = |method, uri| RequestView {
            host: b"api.example.com",
            method,
            uri,
            ..req()
        };
        assert_eq!(
            evaluate(&chains, &api_req(b"GET", b"/a.png")).route,
            Route::Vhost(b"images")
        );
        assert_eq!(
            evaluate(&chains, &api_req(b"POST", b"/a.png")).route,
            Route::Block
        );
        // No match in a jumped-to chain ends the evaluation: no return to the caller chain.
        assert_eq!(
            evaluate(&chains, &api_req(b"GET", b"/a.txt")).route,
            Route::NoMatch
        );
        assert_eq!(evaluate(&chains, &req()).route, Route::Vhost(b"main"));
    }

    #[test]
    fn no_main_chain_or_empty_chain() {
        let named = [Chain {
            name: b"x",
            rules: &[],
        }];
        assert_eq!(evaluate(&named, &req()), Outcome::default());
        assert_eq!(evaluate(&[], &req()).route, Route::NoMatch);
        assert_eq!(route_of(&[], &req()), Route::NoMatch);
    }

    #[test]
    fn cycles_are_rejected_and_bounded() {
        let a = [rule(Cond::Uri(Pattern::Any), Action::Chain(b"b"))];
        let b = [rule(Cond::Host(Pattern::Any), Action::Chain(b"a"))];
        let main = [rule(Cond::Always, Action::Chain(b"a"))];
        let chains = [
            Chain {
                name: b"a",
                rules: &a,
            },
            Chain {
                name: b"b",
                rules: &b,
            },
            Chain {
                name: b"",
                rules: &main,
            },
        ];
        assert!(matches!(
            validate(&chains),
            Err(TablesError::JumpCycle { .. })
        ));
        // Evaluated anyway: bounded, and blocked.
        assert_eq!(evaluate(&chains, &req()).route, Route::Block);
        // Self-jump.
        let selfish = [rule(Cond::Uri(Pattern::Any), Action::Chain(b"s"))];
        let chains = [Chain {
            name: b"s",
            rules: &selfish,
        }];
        assert_eq!(validate(&chains), Err(TablesError::JumpCycle { chain: 0 }));
        // A diamond is not a cycle.
        let top = [
            rule(Cond::Uri(Pattern::Prefix(b"/x")), Action::Chain(b"l")),
            rule(Cond::Always, Action::Chain(b"r")),
        ];
        let l = [rule(Cond::Always, Action::Chain(b"bottom"))];
        let r = [rule(Cond::Always, Action::Chain(b"bottom"))];
        let bottom = [rule(Cond::Always, V)];
        let chains = [
            Chain {
                name: b"",
                rules: &top,
            },
            Chain {
                name: b"l",
                rules: &l,
            },
            Chain {
                name: b"r",
                rules: &r,
            },
            Chain {
                name: b"bottom",
                rules: &bottom,
            },
        ];
        assert_eq!(validate(&chains), Ok(()));
        assert_eq!(evaluate(&chains, &req()).route, Route::Vhost(b"v"));
    }

    #[test]
    fn validation_errors() {
        let undefined = [rule(Cond::Always, Action::Chain(b"missing"))];
        let c = [Chain {
            name: b"",
            rules: &undefined,
        }];
        assert_eq!(
            validate(&c),
            Err(TablesError::UndefinedChain { chain: 0, rule: 0 })
        );
        assert_eq!(evaluate(&c, &req()).route, Route::Block);

        let dup = [
            Chain {
                name: b"A",
                rules: &[],
            },
            Chain {
                name: b"a",
                rules: &[],
            },
        ];
        assert_eq!(
            validate(&dup),
            Err(TablesError::DuplicateChain { chain: 1 })
        );
        let two_main = [
            Chain {
                name: b"",
                rules: &[],
            },
            Chain {
                name: b"",
                rules: &[],
            },
        ];
        assert_eq!(
            validate(&two_main),
            Err(TablesError::DuplicateChain { chain: 1 })
        );

        let after = [rule(Cond::Always, V), rule(Cond::Uri(Pattern::Any), V)];
        let c = [Chain {
            name: b"",
            rules: &after,
        }];
        assert_eq!(
            validate(&c),
            Err(TablesError::RuleAfterDefault { chain: 0, rule: 1 })
        );
        // After an unconditional non-terminal rule, or a conditional one, rules are fine.
        let ok = [
            rule(Cond::Always, Action::Mark(1)),
            rule(Cond::Always, Action::CacheTtl(1)),
            not(Cond::Uri(Pattern::Any), V),
            rule(Cond::Always, V),
        ];
        assert_eq!(
            validate(&[Chain {
                name: b"",
                rules: &ok
            }]),
            Ok(())
        );

        let bad = |r: Rule<'static>| {
            let rules = [r];
            validate(&[Chain {
                name: b"",
                rules: &rules,
            }])
        };
        let redirect = |status| Action::Redirect { status, url: b"/" };
        assert_eq!(
            bad(rule(Cond::Always, redirect(300))),
            Err(TablesError::RedirectStatus { chain: 0, rule: 0 })
        );
        assert_eq!(
            bad(rule(Cond::Always, redirect(200))),
            Err(TablesError::RedirectStatus { chain: 0, rule: 0 })
        );
        for s in [301, 302, 303, 307, 308] {
            assert_eq!(bad(rule(Cond::Always, redirect(s))), Ok(()));
        }
        assert_eq!(
            bad(rule(Cond::Mark(Some(0)), V)),
            Err(TablesError::ZeroMark { chain: 0, rule: 0 })
        );
        assert_eq!(
            bad(rule(
                Cond::Hdr {
                    name: b"",
                    value: Pattern::Any
                },
                V
            )),
            Err(TablesError::EmptyHeaderName { chain: 0, rule: 0 })
        );
        assert_eq!(
            bad(not(Cond::Always, V)),
            Err(TablesError::NegatedAlways { chain: 0, rule: 0 })
        );

        let many = vec![
            Chain {
                name: b"x",
                rules: &[]
            };
            MAX_CHAINS + 1
        ];
        assert_eq!(validate(&many), Err(TablesError::TooManyChains));
    }

    #[test]
    fn long_acyclic_chain_of_jumps() {
        // c0 -> c1 -> ... -> c99 -> vhost: within the jump bound.
        let names: Vec<Vec<u8>> = (0..100).map(|i| format!("c{i}").into_bytes()).collect();
        let rules: Vec<[Rule<'_>; 1]> = (0..100)
            .map(|i| match names.get(i + 1) {
                Some(n) => [rule(Cond::Always, Action::Chain(n))],
                None => [rule(Cond::Always, V)],
            })
            .collect();
        let main = [rule(Cond::Always, Action::Chain(b"c0"))];
        let mut chains: Vec<Chain<'_>> = (0..100)
            .map(|i| Chain {
                name: &names[i],
                rules: &rules[i],
            })
            .collect();
        chains.push(Chain {
            name: b"",
            rules: &main,
        });
        assert_eq!(validate(&chains), Ok(()));
        assert_eq!(evaluate(&chains, &req()).route, Route::Vhost(b"v"));
    }

    #[test]
    fn redirect_route() {
        let rules = [rule(
            Cond::Host(Pattern::Exact(b"example.com")),
            Action::Redirect {
                status: 308,
                url: b"https://$host$request_uri",
            },
        )];
        assert_eq!(
            route_of(&rules, &req()),
            Route::Redirect {
                status: 308,
                url: b"https://$host$request_uri"
            }
        );
    }

    #[test]
    fn redirect_templating() {
        let mut buf = [0u8; 64];
        let n = expand_redirect(b"https://$host$request_uri", b"a.com", b"/x?y", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"https://a.com/x?y");
        let n = expand_redirect(b"/static", b"a.com", b"/x", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"/static");
        let n = expand_redirect(b"$host$host/$price$", b"h", b"/u", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hh/$price$");
        let n = expand_redirect(b"$request_urix$hos", b"h", b"/u", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"/ux$hos");
        let n = expand_redirect(b"", b"h", b"/u", &mut buf).unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn redirect_overflow() {
        let mut buf = [0u8; 16];
        assert_eq!(
            expand_redirect(
                b"https://$host/",
                b"a-very-long-host.example",
                b"",
                &mut buf
            ),
            Err(Overflow)
        );
        assert_eq!(
            expand_redirect(b"0123456789abcdefX", b"", b"", &mut buf),
            Err(Overflow)
        );
        // Exactly full is fine.
        assert_eq!(
            expand_redirect(b"0123456789abcdef", b"", b"", &mut buf),
            Ok(16)
        );
        assert_eq!(
            expand_redirect(b"$request_uri", b"", &[b'/'; 17], &mut buf),
            Err(Overflow)
        );
        assert_eq!(expand_redirect(b"$", b"", b"", &mut []), Err(Overflow));
    }

    #[test]
    fn dyn_request_works() {
        let r = req();
        let d: &dyn Request = &r;
        let rules = [rule(
            Cond::Hdr {
                name: b"accept",
                value: Pattern::Prefix(b"TEXT/"),
            },
            V,
        )];
        let chains = [Chain {
            name: b"",
            rules: &rules,
        }];
        assert_eq!(evaluate(&chains, d).route, Route::Vhost(b"v"));
    }
}
