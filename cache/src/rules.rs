//! `cache_bypass` / `cache_fulfill <op> <arg>...`: which URIs use the cache at all.
//!
//! Tempesta's semantics, kept so that configurations carry over:
//!
//! * Rules are evaluated **in configuration order and the first matching rule wins**
//!   (`cache_fulfill prefix /static/` before `cache_bypass * *` caches `/static/` only).
//! * **No matching rule means bypass, even when no rule is configured**: the cache is used
//!   only for URIs a `cache_fulfill` rule selects, which is why Tempesta's sample configuration
//!   enables caching with `cache 2; cache_fulfill * *;`.
//! * `eq`, `prefix` and `suffix` compare **case-insensitively**, as Tempesta's matchers do, and
//!   `*` matches everything (its argument is conventionally `*` and not examined).
//! * The subject is the request's path and query (the [`Key`](super::key::Key) path), the
//!   string Tempesta matches (`uri_path`).
//!
//! Tempesta looks the rules up per location, then the vhost's, then the global ones, taking
//! the first list that has any rule; the configuration layer resolves that and hands the
//! cache the one list that applies ([`CacheConfig::rules`](super::config::CacheConfig)).
//! `regex` is not supported.

/// The match operator of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `*`: every URI.
    Any,
    /// `eq`: the whole URI.
    Eq,
    /// `prefix`: the start of the URI.
    Prefix,
    /// `suffix`: the end of the URI.
    Suffix,
}

impl MatchOp {
    /// The operator named `name` in the configuration (`*`, `eq`, `prefix`, `suffix`).
    pub fn from_name(name: &[u8]) -> Option<MatchOp> {
        match name {
            b"*" => Some(MatchOp::Any),
            b"eq" => Some(MatchOp::Eq),
            b"prefix" => Some(MatchOp::Prefix),
            b"suffix" => Some(MatchOp::Suffix),
            _ => None,
        }
    }

    /// Whether `uri` matches `arg` under this operator. `location` blocks match the same way
    /// (Tempesta uses one set of matchers for both).
    pub fn matches(self, arg: &[u8], uri: &[u8]) -> bool {
        match self {
            MatchOp::Any => true,
            MatchOp::Eq => uri.eq_ignore_ascii_case(arg),
            MatchOp::Prefix => uri
                .get(..arg.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(arg)),
            MatchOp::Suffix => uri
                .len()
                .checked_sub(arg.len())
                .and_then(|start| uri.get(start..))
                .is_some_and(|s| s.eq_ignore_ascii_case(arg)),
        }
    }
}

/// One `cache_fulfill` (`fulfill: true`) or `cache_bypass` rule with one argument (a
/// directive with several arguments is several rules, in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule<'a> {
    /// The operator.
    pub op: MatchOp,
    /// The string compared with the URI.
    pub arg: &'a [u8],
    /// `cache_fulfill` rather than `cache_bypass`.
    pub fulfill: bool,
}

impl Rule<'_> {
    /// Whether the rule applies to `uri`.
    pub fn matches(&self, uri: &[u8]) -> bool {
        self.op.matches(self.arg, uri)
    }
}

/// What the rules say about a URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Use the cache (look up, store).
    Fulfill,
    /// Do not look up and do not store: the request goes to the upstream as if there were
    /// no cache.
    Bypass,
}

/// The policy of the first rule matching `uri`, if any.
pub fn first_match(rules: &[Rule<'_>], uri: &[u8]) -> Option<Policy> {
    rules.iter().find(|r| r.matches(uri)).map(|r| {
        if r.fulfill {
            Policy::Fulfill
        } else {
            Policy::Bypass
        }
    })
}

/// The policy for `uri`: the first matching rule's, [`Policy::Bypass`] when none matches.
pub fn policy(rules: &[Rule<'_>], uri: &[u8]) -> Policy {
    first_match(rules, uri).unwrap_or(Policy::Bypass)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(op: MatchOp, arg: &str, fulfill: bool) -> Rule<'_> {
        Rule {
            op,
            arg: arg.as_bytes(),
            fulfill,
        }
    }

    #[test]
    fn operators() {
        assert!(r(MatchOp::Any, "*", true).matches(b""));
        assert!(r(MatchOp::Eq, "/A", true).matches(b"/a"));
        assert!(!r(MatchOp::Eq, "/a", true).matches(b"/ab"));
        assert!(r(MatchOp::Prefix, "/Static/", true).matches(b"/static/x.css"));
        assert!(!r(MatchOp::Prefix, "/static/", true).matches(b"/stat"));
        assert!(r(MatchOp::Suffix, ".JPG", true).matches(b"/a/b.jpg"));
        assert!(!r(MatchOp::Suffix, ".jpg", true).matches(b"jpg"));
        assert!(r(MatchOp::Prefix, "", true).matches(b"/x"));
        assert_eq!(MatchOp::from_name(b"prefix"), Some(MatchOp::Prefix));
        assert_eq!(MatchOp::from_name(b"regex"), None);
    }

    #[test]
    fn first_match_wins_default_bypass() {
        let rules = [
            r(MatchOp::Prefix, "/static/", true),
            r(MatchOp::Suffix, ".php", false),
            r(MatchOp::Any, "*", true),
        ];
        assert_eq!(policy(&rules, b"/static/a.php"), Policy::Fulfill);
        assert_eq!(policy(&rules, b"/index.php"), Policy::Bypass);
        assert_eq!(policy(&rules, b"/index.html"), Policy::Fulfill);
        assert_eq!(policy(&rules[..2], b"/index.html"), Policy::Bypass);
        assert_eq!(first_match(&rules[..2], b"/index.html"), None);
        // Tempesta: no rules at all, no caching.
        assert_eq!(policy(&[], b"/"), Policy::Bypass);
    }
}
