//! Cache-Control (RFC 9111 section 5.2) and Pragma (section 5.4), for requests and responses.
//!
//! The parse is one pass over each field line and never fails: unknown directives are ignored
//! (RFC 9111 section 5.2.3), malformed members are skipped, and every field line of a message
//! is folded into one [`RequestCc`] or [`ResponseCc`].
//!
//! # Duplicates and invalid arguments
//!
//! RFC 9111 section 4.2.1 lets a cache use the first of several values of a directive or treat
//! the response as stale, asks that "the most restrictive directive should be honored" when
//! directives conflict, and encourages treating invalid freshness information as stale. This
//! parse applies one rule throughout, **the most restrictive reading wins**, which is never
//! more permissive than either reading the RFC allows:
//!
//! * `max-age`, `s-maxage` (both messages), `max-stale`, `stale-while-revalidate`,
//!   `stale-if-error`: the smallest value; `min-fresh`: the largest.
//! * An invalid or missing argument of `max-age` / `s-maxage` counts as `0` (stale, or "wants
//!   a response of age 0" in a request); of the directives that only grant leeway
//!   (`max-stale=x`, `min-fresh`, `stale-*`) it makes the directive ignored.
//! * A qualified and an unqualified `no-cache` (or `private`) together are unqualified.
//!
//! Delta-seconds larger than 2^31 saturate at 2^31 ([`DELTA_MAX`], RFC 9111 section 1.2.2).
//! Arguments may be tokens or quoted strings (`max-age="60"` is accepted, RFC 9111 section 5.2).

use super::fields::{self, is_token, trim, unquote, Fields, ListItems};

/// The largest delta-seconds value: 2^31 seconds, about 68 years (RFC 9111 section 1.2.2).
pub const DELTA_MAX: u32 = 1 << 31;

/// Parses `delta-seconds = 1*DIGIT` (RFC 9111 section 1.2.2), saturating at [`DELTA_MAX`].
pub fn delta_seconds(v: &[u8]) -> Option<u32> {
    if v.is_empty() {
        return None;
    }
    let mut n: u32 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n
            .saturating_mul(10)
            .saturating_add(u32::from(b & 0x0f))
            .min(DELTA_MAX);
    }
    Some(n)
}

/// One Cache-Control directive: `token [ "=" ( token / quoted-string ) ]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Directive<'a> {
    /// The directive name, as received (compare case-insensitively).
    pub name: &'a [u8],
    /// The argument, quotes removed (escapes are left as received), `None` without `=`.
    pub arg: Option<&'a [u8]>,
}

/// The directives of one Cache-Control field line, in order. Public so that a store can read
/// the field names of a qualified `no-cache` / `private` itself.
pub fn directives(line: &[u8]) -> Directives<'_> {
    Directives(ListItems::new(line, true))
}

/// Iterator returned by [`directives`].
#[derive(Clone, Debug)]
pub struct Directives<'a>(ListItems<'a>);

impl<'a> Iterator for Directives<'a> {
    type Item = Directive<'a>;

    fn next(&mut self) -> Option<Directive<'a>> {
        for item in self.0.by_ref() {
            let (name, arg) = match item.iter().position(|&b| b == b'=') {
                Some(eq) => {
                    let (n, a) = item.split_at_checked(eq).unwrap_or((item, &[]));
                    (trim(n), Some(unquote(trim(a.get(1..).unwrap_or_default()))))
                }
                None => (item, None),
            };
            if is_token(name) {
                return Some(Directive { name, arg });
            }
        }
        None
    }
}

fn is(name: &[u8], directive: &[u8]) -> bool {
    name.eq_ignore_ascii_case(directive)
}

/// `Some(min)` of an optional current value and a new one.
fn min_in(cur: Option<u32>, v: u32) -> Option<u32> {
    Some(cur.map_or(v, |c| c.min(v)))
}

/// Whether a `no-cache` / `private` argument names at least one field. An empty or malformed
/// list is read as the unqualified directive (the restrictive reading).
fn qualified(arg: Option<&[u8]>) -> bool {
    arg.is_some_and(|a| {
        let mut names = ListItems::new(a, false);
        names.clone().next().is_some() && names.all(is_token)
    })
}

/// Whether a Pragma field line contains `no-cache` (RFC 9111 section 5.4).
pub fn pragma_no_cache(line: &[u8]) -> bool {
    ListItems::new(line, true).any(|d| is(d, b"no-cache"))
}

/// Request Cache-Control directives (RFC 9111 section 5.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCc {
    /// A Cache-Control field was present (even empty or with unknown directives only): then
    /// Pragma is ignored (RFC 9111 section 5.4).
    pub present: bool,
    /// `max-age`: the client wants a response no older than this.
    pub max_age: Option<u32>,
    /// `max-stale`: the client accepts a response stale by at most this; without an argument
    /// any staleness, represented as [`DELTA_MAX`].
    pub max_stale: Option<u32>,
    /// `min-fresh`: the client wants a response fresh for at least this much longer.
    pub min_fresh: Option<u32>,
    /// `no-cache`, or `Pragma: no-cache` without Cache-Control: do not serve a stored response
    /// without validating it first.
    pub no_cache: bool,
    /// `no-store`: do not store the response to this request.
    pub no_store: bool,
    /// `no-transform`.
    pub no_transform: bool,
    /// `only-if-cached`: answer from the cache or with 504, never from the origin.
    pub only_if_cached: bool,
}

impl RequestCc {
    /// The Cache-Control and Pragma fields of a request.
    pub fn from_fields<F: Fields + ?Sized>(h: &F) -> RequestCc {
        let mut cc = RequestCc::parse(fields::values(h, b"cache-control"));
        if !cc.present && fields::values(h, b"pragma").any(pragma_no_cache) {
            cc.no_cache = true;
        }
        cc
    }

    /// Folds every line of a request's Cache-Control field (Pragma is not considered).
    pub fn parse<I>(lines: I) -> RequestCc
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut cc = RequestCc::default();
        for l in lines {
            cc.add(l.as_ref());
        }
        cc
    }

    /// Folds one more Cache-Control line.
    pub fn add(&mut self, line: &[u8]) {
        self.present = true;
        for Directive { name, arg } in directives(line) {
            let delta = arg.and_then(delta_seconds);
            if is(name, b"max-age") {
                self.max_age = min_in(self.max_age, delta.unwrap_or(0));
            } else if is(name, b"max-stale") {
                let v = match arg {
                    None => Some(DELTA_MAX),
                    Some(_) => delta,
                };
                if let Some(v) = v {
                    self.max_stale = min_in(self.max_stale, v);
                }
            } else if is(name, b"min-fresh") {
                if let Some(v) = delta {
                    self.min_fresh = Some(self.min_fresh.map_or(v, |c| c.max(v)));
                }
            } else if is(name, b"no-cache") {
                self.no_cache = true;
            } else if is(name, b"no-store") {
                self.no_store = true;
            } else if is(name, b"no-transform") {
                self.no_transform = true;
            } else if is(name, b"only-if-cached") {
                self.only_if_cached = true;
            }
        }
    }
}

/// The response directives `cache_control_ignore` can mask. Tempesta's set: the directives
/// that decide storage and freshness. Extension directives (`immutable`, `stale-*`,
/// `must-understand`) are left out: ignoring them changes nothing a misbehaving origin could
/// need overridden that these cannot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CcIgnore(u16);

impl CcIgnore {
    /// Nothing ignored (the default).
    pub const NONE: CcIgnore = CcIgnore(0);
    /// `max-age`.
    pub const MAX_AGE: CcIgnore = CcIgnore(1);
    /// `s-maxage`.
    pub const S_MAXAGE: CcIgnore = CcIgnore(1 << 1);
    /// `no-cache` (also the response `Pragma: no-cache` stand-in for it).
    pub const NO_CACHE: CcIgnore = CcIgnore(1 << 2);
    /// `no-store`.
    pub const NO_STORE: CcIgnore = CcIgnore(1 << 3);
    /// `private`.
    pub const PRIVATE: CcIgnore = CcIgnore(1 << 4);
    /// `public`.
    pub const PUBLIC: CcIgnore = CcIgnore(1 << 5);
    /// `must-revalidate`.
    pub const MUST_REVALIDATE: CcIgnore = CcIgnore(1 << 6);
    /// `proxy-revalidate`.
    pub const PROXY_REVALIDATE: CcIgnore = CcIgnore(1 << 7);
    /// `no-transform`.
    pub const NO_TRANSFORM: CcIgnore = CcIgnore(1 << 8);

    const NAMES: [(&'static [u8], CcIgnore); 9] = [
        (b"max-age", CcIgnore::MAX_AGE),
        (b"s-maxage", CcIgnore::S_MAXAGE),
        (b"no-cache", CcIgnore::NO_CACHE),
        (b"no-store", CcIgnore::NO_STORE),
        (b"private", CcIgnore::PRIVATE),
        (b"public", CcIgnore::PUBLIC),
        (b"must-revalidate", CcIgnore::MUST_REVALIDATE),
        (b"proxy-revalidate", CcIgnore::PROXY_REVALIDATE),
        (b"no-transform", CcIgnore::NO_TRANSFORM),
    ];

    /// The mask bit of a `cache_control_ignore` argument (case-insensitive, whole name: unlike
    /// Tempesta's prefix match, `max-agex` is refused), `None` for any other name so that the
    /// configuration layer can reject it.
    pub fn from_name(name: &[u8]) -> Option<CcIgnore> {
        CcIgnore::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, m)| m)
    }

    /// `self` plus the directives of `other`.
    #[must_use]
    pub const fn with(self, other: CcIgnore) -> CcIgnore {
        CcIgnore(self.0 | other.0)
    }

    /// Whether every directive of `m` is ignored.
    pub const fn contains(self, m: CcIgnore) -> bool {
        self.0 & m.0 == m.0
    }

    /// The mask bit of directive `name`, if it is one `cache_control_ignore` can mask.
    fn bit(name: &[u8]) -> CcIgnore {
        CcIgnore::from_name(name).unwrap_or(CcIgnore::NONE)
    }
}

/// Response Cache-Control directives (RFC 9111 section 5.2.2 and RFC 5861, RFC 8246).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResponseCc {
    /// A Cache-Control field was present.
    pub present: bool,
    /// `max-age`.
    pub max_age: Option<u32>,
    /// `s-maxage`: the lifetime for shared caches; also means `proxy-revalidate`
    /// (RFC 9111 section 5.2.2.10).
    pub s_maxage: Option<u32>,
    /// `no-cache` in either form, or `Pragma: no-cache` without Cache-Control: storable, but
    /// never served without successful validation.
    pub no_cache: bool,
    /// `no-cache` was present only in its qualified form (`no-cache="Set-Cookie"`): only the
    /// listed fields need validation (RFC 9111 section 5.2.2.4). The policy treats it as
    /// unqualified, as the RFC notes most caches do; the flag lets a store that strips the
    /// listed fields relax that.
    pub no_cache_fields: bool,
    /// `no-store`.
    pub no_store: bool,
    /// `private` in either form: a shared cache must not store the response.
    pub private: bool,
    /// `private` only in its qualified form (the listed fields are private). Treated as
    /// unqualified, as for [`no_cache_fields`](Self::no_cache_fields).
    pub private_fields: bool,
    /// `public`.
    pub public: bool,
    /// `must-revalidate`.
    pub must_revalidate: bool,
    /// `proxy-revalidate`: `must-revalidate` for shared caches.
    pub proxy_revalidate: bool,
    /// `no-transform`.
    pub no_transform: bool,
    /// `must-understand` (RFC 9111 section 5.2.2.3).
    pub must_understand: bool,
    /// `immutable` (RFC 8246).
    pub immutable: bool,
    /// `stale-while-revalidate` (RFC 5861 section 3).
    pub stale_while_revalidate: Option<u32>,
    /// `stale-if-error` (RFC 5861 section 4).
    pub stale_if_error: Option<u32>,
}

impl ResponseCc {
    /// The Cache-Control and Pragma fields of a response, with the `ignore`d directives
    /// removed.
    ///
    /// `Pragma: no-cache` has no defined meaning in a response (RFC 9111 section 5.4), but an
    /// origin that sends it without Cache-Control evidently wants no reuse without asking; it
    /// is read as `no-cache` (stored, always revalidated), the reading that cannot serve
    /// anything the origin did not mean to be served. Ignoring `no-cache` ignores it too.
    pub fn from_fields<F: Fields + ?Sized>(h: &F, ignore: CcIgnore) -> ResponseCc {
        let mut cc = ResponseCc::parse(fields::values(h, b"cache-control"), ignore);
        if !cc.present
            && !ignore.contains(CcIgnore::NO_CACHE)
            && fields::values(h, b"pragma").any(pragma_no_cache)
        {
            cc.no_cache = true;
        }
        cc
    }

    /// Folds every line of a response's Cache-Control field, without the `ignore`d directives.
    pub fn parse<I>(lines: I, ignore: CcIgnore) -> ResponseCc
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut cc = ResponseCc::default();
        for l in lines {
            cc.add(l.as_ref(), ignore);
        }
        cc
    }

    /// Folds one more Cache-Control line.
    pub fn add(&mut self, line: &[u8], ignore: CcIgnore) {
        self.present = true;
        for Directive { name, arg } in directives(line) {
            let bit = CcIgnore::bit(name);
            if bit != CcIgnore::NONE && ignore.contains(bit) {
                continue;
            }
            let delta = arg.and_then(delta_seconds);
            if is(name, b"max-age") {
                self.max_age = min_in(self.max_age, delta.unwrap_or(0));
            } else if is(name, b"s-maxage") {
                self.s_maxage = min_in(self.s_maxage, delta.unwrap_or(0));
            } else if is(name, b"no-cache") {
                mark(
                    &mut self.no_cache,
                    &mut self.no_cache_fields,
                    qualified(arg),
                );
            } else if is(name, b"private") {
                mark(&mut self.private, &mut self.private_fields, qualified(arg));
            } else if is(name, b"no-store") {
                self.no_store = true;
            } else if is(name, b"public") {
                self.public = true;
            } else if is(name, b"must-revalidate") {
                self.must_revalidate = true;
            } else if is(name, b"proxy-revalidate") {
                self.proxy_revalidate = true;
            } else if is(name, b"no-transform") {
                self.no_transform = true;
            } else if is(name, b"must-understand") {
                self.must_understand = true;
            } else if is(name, b"immutable") {
                self.immutable = true;
            } else if is(name, b"stale-while-revalidate") {
                if let Some(v) = delta {
                    self.stale_while_revalidate = min_in(self.stale_while_revalidate, v);
                }
            } else if is(name, b"stale-if-error") {
                if let Some(v) = delta {
                    self.stale_if_error = min_in(self.stale_if_error, v);
                }
            }
        }
    }

    /// Whether a shared cache must never serve the response stale: `must-revalidate`,
    /// `proxy-revalidate` or `s-maxage` (RFC 9111 sections 4.2.4, 5.2.2.2, 5.2.2.8, 5.2.2.10).
    pub const fn forbids_stale(&self) -> bool {
        self.must_revalidate || self.proxy_revalidate || self.s_maxage.is_some()
    }
}

/// Records a `no-cache` / `private` occurrence: an unqualified one wins for good.
fn mark(any: &mut bool, only_qualified: &mut bool, is_qualified: bool) {
    if !is_qualified {
        *only_qualified = false;
    } else if !*any {
        *only_qualified = true;
    }
    *any = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(lines: &[&str]) -> RequestCc {
        RequestCc::parse(lines.iter().map(|l| l.as_bytes()))
    }

    fn resp(lines: &[&str]) -> ResponseCc {
        ResponseCc::parse(lines.iter().map(|l| l.as_bytes()), CcIgnore::NONE)
    }

    #[test]
    fn delta_seconds_saturates_at_2_31() {
        assert_eq!(delta_seconds(b"0"), Some(0));
        assert_eq!(delta_seconds(b"0060"), Some(60));
        assert_eq!(delta_seconds(b"2147483647"), Some(2_147_483_647));
        assert_eq!(delta_seconds(b"2147483648"), Some(DELTA_MAX));
        assert_eq!(delta_seconds(b"99999999999999999999999"), Some(DELTA_MAX));
        assert_eq!(delta_seconds(b""), None);
        assert_eq!(delta_seconds(b"-1"), None);
        assert_eq!(delta_seconds(b"1.5"), None);
        assert_eq!(delta_seconds(b" 1"), None);
    }

    #[test]
    fn directive_syntax() {
        let d: Vec<_> = directives(br#"a, B=1 , c="x, y" ,,bad name, d = 2, ="x""#).collect();
        assert_eq!(
            d,
            [
                Directive {
                    name: b"a",
                    arg: None
                },
                Directive {
                    name: b"B",
                    arg: Some(b"1")
                },
                Directive {
                    name: b"c",
                    arg: Some(b"x, y")
                },
                Directive {
                    name: b"d",
                    arg: Some(b"2")
                },
            ]
        );
    }

    #[test]
    fn request_directives() {
        let cc = req(&[
            "max-age=60, MAX-STALE, min-fresh=\"10\", no-cache, no-store",
            "no-transform, only-if-cached, x-unknown=1",
        ]);
        assert_eq!(
            cc,
            RequestCc {
                present: true,
                max_age: Some(60),
                max_stale: Some(DELTA_MAX),
                min_fresh: Some(10),
                no_cache: true,
                no_store: true,
                no_transform: true,
                only_if_cached: true,
            }
        );
        assert_eq!(req(&[]), RequestCc::default());
        assert!(req(&[""]).present);
    }

    #[test]
    fn request_most_restrictive_wins() {
        let cc = req(&[
            "max-age=100, max-stale=50, min-fresh=5",
            "max-age=10, max-stale, min-fresh=20",
        ]);
        assert_eq!(cc.max_age, Some(10));
        assert_eq!(cc.max_stale, Some(50));
        assert_eq!(cc.min_fresh, Some(20));
    }

    #[test]
    fn request_invalid_arguments() {
        // max-age garbage: the strict reading (0); leeway directives: ignored.
        let cc = req(&["max-age=abc, max-stale=-1, min-fresh=x"]);
        assert_eq!(cc.max_age, Some(0));
        assert_eq!(cc.max_stale, None);
        assert_eq!(cc.min_fresh, None);
        assert_eq!(req(&["max-age"]).max_age, Some(0));
        assert_eq!(req(&["max-age=99999999999"]).max_age, Some(DELTA_MAX));
    }

    #[test]
    fn pragma_only_without_cache_control() {
        let h = [("Pragma", "no-cache")];
        assert!(RequestCc::from_fields(&h).no_cache);
        let h = [("Pragma", "x, No-Cache")];
        assert!(RequestCc::from_fields(&h).no_cache);
        // RFC 9111 section 5.4: Cache-Control present, Pragma ignored.
        let h = [("Pragma", "no-cache"), ("Cache-Control", "max-age=5")];
        assert!(!RequestCc::from_fields(&h).no_cache);
        let h = [("Pragma", "no-cachex")];
        assert!(!RequestCc::from_fields(&h).no_cache);
    }

    #[test]
    fn response_directives() {
        let cc = resp(&[
            "public, max-age=600, s-maxage=60, must-revalidate, proxy-revalidate",
            "no-transform, must-understand, immutable",
            "stale-while-revalidate=30, stale-if-error=86400, community=\"UCI\"",
        ]);
        assert!(cc.present && cc.public && cc.must_revalidate && cc.proxy_revalidate);
        assert!(cc.no_transform && cc.must_understand && cc.immutable);
        assert_eq!((cc.max_age, cc.s_maxage), (Some(600), Some(60)));
        assert_eq!(cc.stale_while_revalidate, Some(30));
        assert_eq!(cc.stale_if_error, Some(86_400));
        assert!(!cc.no_cache && !cc.no_store && !cc.private);
        assert!(cc.forbids_stale());
        assert!(!resp(&["max-age=1"]).forbids_stale());
        assert!(resp(&["s-maxage=1"]).forbids_stale());
    }

    #[test]
    fn response_duplicates_and_invalid() {
        assert_eq!(resp(&["max-age=60", "max-age=30"]).max_age, Some(30));
        assert_eq!(resp(&["max-age=60, max-age=3600"]).max_age, Some(60));
        // Invalid freshness is stale (RFC 9111 section 4.2.1).
        assert_eq!(resp(&["max-age=1a"]).max_age, Some(0));
        assert_eq!(resp(&["s-maxage"]).s_maxage, Some(0));
        assert_eq!(resp(&["stale-if-error=x"]).stale_if_error, None);
        assert_eq!(resp(&["max-age=\"120\""]).max_age, Some(120));
    }

    #[test]
    fn qualified_no_cache_and_private() {
        let cc = resp(&[r#"no-cache="Set-Cookie, X-Foo""#]);
        assert!(cc.no_cache && cc.no_cache_fields);
        let cc = resp(&[r#"no-cache="Set-Cookie""#, "no-cache"]);
        assert!(cc.no_cache && !cc.no_cache_fields);
        let cc = resp(&["no-cache", r#"no-cache="a""#]);
        assert!(cc.no_cache && !cc.no_cache_fields);
        // Empty or malformed list: unqualified.
        assert!(!resp(&[r#"no-cache="""#]).no_cache_fields);
        assert!(!resp(&[r#"no-cache="a b""#]).no_cache_fields);
        let cc = resp(&["private=\"Authorization\""]);
        assert!(cc.private && cc.private_fields);
        let cc = resp(&["private"]);
        assert!(cc.private && !cc.private_fields);
    }

    #[test]
    fn ignore_mask_applied_at_parse() {
        let mut ignore = CcIgnore::NONE;
        for n in ["no-store", "MAX-AGE", "private", "must-revalidate"] {
            ignore = ignore.with(CcIgnore::from_name(n.as_bytes()).unwrap());
        }
        let cc = ResponseCc::parse(
            [&b"no-store, private, max-age=0, must-revalidate, s-maxage=10"[..]],
            ignore,
        );
        assert!(!cc.no_store && !cc.private && !cc.must_revalidate);
        assert_eq!((cc.max_age, cc.s_maxage), (None, Some(10)));
        assert_eq!(CcIgnore::from_name(b"max-agex"), None);
        assert_eq!(CcIgnore::from_name(b"immutable"), None);
        assert!(ignore.contains(CcIgnore::NO_STORE.with(CcIgnore::PRIVATE)));
        assert!(!ignore.contains(CcIgnore::PUBLIC));
    }

    #[test]
    fn response_pragma() {
        let h = [("Pragma", "no-cache")];
        assert!(ResponseCc::from_fields(&h, CcIgnore::NONE).no_cache);
        assert!(!ResponseCc::from_fields(&h, CcIgnore::NO_CACHE).no_cache);
        let h = [("Pragma", "no-cache"), ("Cache-Control", "max-age=60")];
        assert!(!ResponseCc::from_fields(&h, CcIgnore::NONE).no_cache);
    }

    #[test]
    fn garbage_never_panics() {
        for l in [
            "=",
            "==",
            "\"",
            "a=\"",
            ",=,",
            "\u{ff}",
            "max-age=\"",
            "a=\"\\",
        ] {
            let _ = resp(&[l]);
            let _ = req(&[l]);
        }
        assert_eq!(resp(&["max-age=\""]).max_age, Some(0));
    }
}
