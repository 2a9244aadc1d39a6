//! Conditional requests: answering a client's from a stored response (RFC 9110 section 13,
//! RFC 9111 section 4.3.2) and revalidating a stored response with the upstream (RFC 9111
//! sections 4.3.1, 4.3.3, 4.3.4).
//!
//! A cache evaluates only If-None-Match and If-Modified-Since, If-None-Match taking
//! precedence (RFC 9111 section 4.3.2): If-Match and If-Unmodified-Since concern the origin's
//! current state, and If-Range only matters with Range, which bypasses this cache.

use super::date::{format_http_date, parse_http_date, DATE_LEN};
use super::fields::{self, trim, Fields, ListItems};
use super::fresh::Entry;
use super::method::Method;

/// An entity-tag (RFC 9110 section 8.8.3): `[W/] "opaque"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntityTag<'a> {
    /// `W/` prefix.
    pub weak: bool,
    /// The opaque-tag, quotes included.
    pub opaque: &'a [u8],
}

impl<'a> EntityTag<'a> {
    /// Parses one entity-tag (surrounding whitespace allowed); `None` if malformed.
    pub fn parse(v: &'a [u8]) -> Option<EntityTag<'a>> {
        let v = trim(v);
        let (weak, opaque) = match v.strip_prefix(b"W/") {
            Some(rest) => (true, rest),
            None => (false, v),
        };
        match opaque {
            [b'"', inner @ .., b'"']
                if inner
                    .iter()
                    .all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80) =>
            {
                Some(EntityTag { weak, opaque })
            }
            _ => None,
        }
    }

    /// Strong comparison: both strong and the same opaque-tag (RFC 9110 section 8.8.3.2).
    pub fn strong_eq(&self, other: &EntityTag<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// Weak comparison: the same opaque-tag, `W/` disregarded.
    pub fn weak_eq(&self, other: &EntityTag<'_>) -> bool {
        self.opaque == other.opaque
    }
}

/// The validators of a stored response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validators<'a> {
    /// The stored ETag value, if any (the raw field value: parsed when used).
    pub etag: Option<&'a [u8]>,
    /// Last-Modified.
    pub last_modified: Option<u64>,
    /// Date, or the time the response was received.
    pub date: u64,
}

impl<'a> Validators<'a> {
    /// The validators of `entry`, whose stored ETag field value is `etag`.
    pub fn new(entry: &Entry, etag: Option<&'a [u8]>) -> Validators<'a> {
        Validators {
            etag,
            last_modified: entry.last_modified,
            date: entry.date,
        }
    }
}

/// How to answer a request from a stored response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    /// 304 Not Modified, with the fields [`in_not_modified`] selects.
    NotModified,
    /// The stored response in full.
    Full,
}

/// Evaluates the conditions of request `req` (method `method`) against a stored response with
/// status `status` and validators `v`, at `now` (RFC 9110 section 13.2.2 steps 3 and 4).
///
/// * Conditions are ignored unless the stored status is 2xx (RFC 9110 section 13.2.1) and the
///   method is GET or HEAD (other methods are not answered from the cache anyway).
/// * If-None-Match: `*` matches any stored response; otherwise weak comparison with the stored
///   ETag (section 13.1.2). A match means 304. Members that are not entity-tags are skipped;
///   `*` counts only as the whole field value.
/// * If-Modified-Since, only without If-None-Match: ignored unless it is one valid date not
///   in the future (section 13.1.3); 304 if the stored Last-Modified (else its Date, else the
///   receive time: RFC 9111 section 4.3.2) is not later.
pub fn evaluate<F: Fields + ?Sized>(
    method: Method,
    req: &F,
    status: u16,
    v: &Validators<'_>,
    now: u64,
) -> Cond {
    if !(200..=299).contains(&status) || !matches!(method, Method::Get | Method::Head) {
        return Cond::Full;
    }
    if fields::has(req, b"if-none-match") {
        return if none_match_fails(req, v.etag) {
            Cond::NotModified
        } else {
            Cond::Full
        };
    }
    let ims = fields::values(req, b"if-modified-since");
    let mut ims = ims.take(2);
    match (ims.next().and_then(parse_http_date), ims.next()) {
        (Some(since), None) if since <= now => {
            if v.last_modified.unwrap_or(v.date) <= since {
                Cond::NotModified
            } else {
                Cond::Full
            }
        }
        _ => Cond::Full,
    }
}

/// Whether the If-None-Match condition is false (some member matches the stored ETag).
fn none_match_fails<F: Fields + ?Sized>(req: &F, etag: Option<&[u8]>) -> bool {
    let mut members = fields::values(req, b"if-none-match").flat_map(|l| ListItems::new(l, false));
    let star = {
        let mut m = members.clone();
        m.next() == Some(b"*") && m.next().is_none()
    };
    if star {
        return true;
    }
    let Some(stored) = etag.and_then(EntityTag::parse) else {
        return false;
    };
    members.any(|m| EntityTag::parse(m).is_some_and(|t| t.weak_eq(&stored)))
}

/// Whether a 304 built from a stored response carries field `name`: Content-Location, Date,
/// ETag, Vary, Cache-Control and Expires, plus Last-Modified when there is no ETag
/// (RFC 9110 section 15.4.5). Others are left out to keep the 304 small, as the RFC asks.
pub fn in_not_modified(name: &[u8], has_etag: bool) -> bool {
    const ALWAYS: [&[u8]; 6] = [
        b"cache-control",
        b"content-location",
        b"date",
        b"etag",
        b"expires",
        b"vary",
    ];
    ALWAYS.iter().any(|n| n.eq_ignore_ascii_case(name))
        || (!has_etag && name.eq_ignore_ascii_case(b"last-modified"))
}

/// The condition fields of a request revalidating a stored response (RFC 9111 section
/// 4.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revalidation<'a> {
    /// `If-None-Match` value: the stored ETag.
    pub if_none_match: Option<&'a [u8]>,
    /// `If-Modified-Since` value: the stored Last-Modified as an IMF-fixdate. Sent alongside
    /// If-None-Match too: an origin ignores it then (RFC 9110 section 13.1.3), and an origin
    /// that does not implement entity-tags still validates.
    pub if_modified_since: Option<[u8; DATE_LEN]>,
}

/// The conditions to revalidate a stored response with validators `v`. Both `None` means
/// the response has no validator: the request goes unconditional and the response replaces
/// the entry.
pub fn revalidation<'a>(v: &Validators<'a>) -> Revalidation<'a> {
    Revalidation {
        if_none_match: v.etag.filter(|t| EntityTag::parse(t).is_some()).map(trim),
        if_modified_since: v.last_modified.map(|t| {
            let mut b = [0; DATE_LEN];
            format_http_date(t, &mut b);
            b
        }),
    }
}

/// Whether a 304 with ETag `etag` and Last-Modified `last_modified` refers to the stored
/// response with validators `stored`, which it then freshens (RFC 9111 section 4.3.4):
///
/// * a strong ETag must match the stored one strongly, a weak one weakly;
/// * without ETag, a Last-Modified must equal the stored one;
/// * a 304 with no validator at all is accepted: it answers the cache's own revalidation,
///   which carried this entry's validators (the RFC's rule for it, "only one stored response
///   and it has no validator", targets 304s to conditions the cache did not generate, which
///   this cache never applies to a stored response).
pub fn freshens(stored: &Validators<'_>, etag: Option<&[u8]>, last_modified: Option<u64>) -> bool {
    let stored_tag = stored.etag.and_then(EntityTag::parse);
    match (etag.and_then(EntityTag::parse), last_modified) {
        (Some(t), _) => stored_tag.is_some_and(|s| {
            if t.weak {
                t.weak_eq(&s)
            } else {
                t.strong_eq(&s)
            }
        }),
        (None, Some(lm)) => stored.last_modified == Some(lm),
        (None, None) => true,
    }
}

/// Whether a field of a 304 replaces the stored response's field of that name (RFC 9111
/// section 3.2): every field does, except Content-Length (the 304 has no content; its
/// Content-Length would describe the 304), the hop-by-hop and framing fields, Age (recomputed
/// from the entry), and the fields describing the stored content's encoding, which the stored
/// bytes would no longer match (Content-Encoding, Content-Range: section 3.2 allows omitting
/// fields "necessary to assure integrity of the stored response"). The store applies
/// [`stored_field`](super::store::stored_field) on top.
pub fn header_updated_by_304(name: &[u8]) -> bool {
    const KEEP: [&[u8]; 11] = [
        b"content-length",
        b"content-encoding",
        b"content-range",
        b"transfer-encoding",
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"upgrade",
        b"age",
    ];
    !KEEP.iter().any(|n| n.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> EntityTag<'_> {
        EntityTag::parse(s.as_bytes()).unwrap()
    }

    const V: Validators<'static> = Validators {
        etag: Some(b"\"xyzzy\""),
        last_modified: Some(1000),
        date: 2000,
    };

    fn eval(h: &[(&str, &str)], v: &Validators<'_>) -> Cond {
        evaluate(Method::Get, h, 200, v, 10_000)
    }

    #[test]
    fn etag_syntax() {
        assert_eq!(tag("\"xyzzy\"").opaque, b"\"xyzzy\"");
        assert!(tag("W/\"xyzzy\"").weak);
        assert!(!tag("\"\"").weak);
        assert_eq!(tag(" \"a\\\" ").opaque, b"\"a\\\"");
        for bad in [
            "xyzzy", "\"", "W/", "w/\"a\"", "\"a\"b\"", "\"a b\"", "W/ \"a\"", "",
        ] {
            assert_eq!(EntityTag::parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn rfc9110_comparison_table() {
        // RFC 9110 section 8.8.3.2.
        let cases = [
            ("W/\"1\"", "W/\"1\"", false, true),
            ("W/\"1\"", "W/\"2\"", false, false),
            ("W/\"1\"", "\"1\"", false, true),
            ("\"1\"", "\"1\"", true, true),
        ];
        for (a, b, strong, weak) in cases {
            assert_eq!(tag(a).strong_eq(&tag(b)), strong, "{a} {b}");
            assert_eq!(tag(a).weak_eq(&tag(b)), weak, "{a} {b}");
            assert_eq!(tag(b).strong_eq(&tag(a)), strong);
            assert_eq!(tag(b).weak_eq(&tag(a)), weak);
        }
    }

    #[test]
    fn if_none_match() {
        assert_eq!(
            eval(&[("If-None-Match", "\"xyzzy\"")], &V),
            Cond::NotModified
        );
        assert_eq!(
            eval(&[("If-None-Match", "W/\"xyzzy\"")], &V),
            Cond::NotModified
        );
        assert_eq!(
            eval(&[("If-None-Match", "\"a\", \"xyzzy\"")], &V),
            Cond::NotModified
        );
        assert_eq!(
            eval(
                &[("If-None-Match", "\"a\""), ("If-None-Match", "\"xyzzy\"")],
                &V
            ),
            Cond::NotModified
        );
        assert_eq!(eval(&[("If-None-Match", "\"a\", W/\"b\"")], &V), Cond::Full);
        assert_eq!(eval(&[("If-None-Match", "xyzzy")], &V), Cond::Full);
        assert_eq!(eval(&[("If-None-Match", "*")], &V), Cond::NotModified);
        let no_etag = Validators { etag: None, ..V };
        assert_eq!(eval(&[("If-None-Match", "*")], &no_etag), Cond::NotModified);
        assert_eq!(
            eval(&[("If-None-Match", "\"xyzzy\"")], &no_etag),
            Cond::Full
        );
        // A stray `*` in a list is malformed, not a wildcard.
        assert_eq!(eval(&[("If-None-Match", "\"a\", *")], &V), Cond::Full);
        // Stored weak ETag, weak comparison.
        let weak = Validators {
            etag: Some(b"W/\"xyzzy\""),
            ..V
        };
        assert_eq!(
            eval(&[("If-None-Match", "\"xyzzy\"")], &weak),
            Cond::NotModified
        );
    }

    #[test]
    fn if_modified_since() {
        let ims = |d: &'static str| [("If-Modified-Since", d)];
        // Last-Modified 1000 = 00:16:40.
        assert_eq!(
            eval(&ims("Thu, 01 Jan 1970 00:16:40 GMT"), &V),
            Cond::NotModified
        );
        assert_eq!(eval(&ims("Thu, 01 Jan 1970 00:16:39 GMT"), &V), Cond::Full);
        // Without Last-Modified, Date (2000 = 00:33:20) is used.
        let no_lm = Validators {
            last_modified: None,
            ..V
        };
        assert_eq!(
            eval(&ims("Thu, 01 Jan 1970 00:30:00 GMT"), &no_lm),
            Cond::Full
        );
        assert_eq!(
            eval(&ims("Thu, 01 Jan 1970 00:33:20 GMT"), &no_lm),
            Cond::NotModified
        );
        // Invalid, in the future, repeated: ignored.
        assert_eq!(eval(&ims("yesterday"), &V), Cond::Full);
        assert_eq!(eval(&ims("Thu, 01 Jan 2099 00:00:00 GMT"), &V), Cond::Full);
        let twice = [
            ("If-Modified-Since", "Thu, 01 Jan 1970 00:20:00 GMT"),
            ("If-Modified-Since", "Thu, 01 Jan 1970 00:20:00 GMT"),
        ];
        assert_eq!(eval(&twice, &V), Cond::Full);
    }

    #[test]
    fn precedence_and_applicability() {
        // If-None-Match present (even not matching): If-Modified-Since ignored.
        let both = [
            ("If-None-Match", "\"other\""),
            ("If-Modified-Since", "Thu, 01 Jan 1970 00:20:00 GMT"),
        ];
        assert_eq!(eval(&both, &V), Cond::Full);
        let inm = [("If-None-Match", "\"xyzzy\"")];
        assert_eq!(evaluate(Method::Head, &inm, 200, &V, 0), Cond::NotModified);
        assert_eq!(evaluate(Method::Post, &inm, 200, &V, 0), Cond::Full);
        assert_eq!(evaluate(Method::Get, &inm, 404, &V, 0), Cond::Full);
        assert_eq!(evaluate(Method::Get, &inm, 301, &V, 0), Cond::Full);
        assert_eq!(evaluate(Method::Get, &inm, 204, &V, 0), Cond::NotModified);
        assert_eq!(eval(&[], &V), Cond::Full);
    }

    #[test]
    fn not_modified_fields() {
        for n in [
            "Cache-Control",
            "content-location",
            "Date",
            "ETag",
            "Expires",
            "Vary",
        ] {
            assert!(in_not_modified(n.as_bytes(), true), "{n}");
        }
        assert!(!in_not_modified(b"Last-Modified", true));
        assert!(in_not_modified(b"Last-Modified", false));
        for n in ["Content-Type", "Content-Length", "Set-Cookie", "Age"] {
            assert!(!in_not_modified(n.as_bytes(), false), "{n}");
        }
    }

    #[test]
    fn revalidation_request() {
        let r = revalidation(&V);
        assert_eq!(r.if_none_match, Some(&b"\"xyzzy\""[..]));
        assert_eq!(
            r.if_modified_since.as_ref().map(|d| &d[..]),
            Some(&b"Thu, 01 Jan 1970 00:16:40 GMT"[..])
        );
        let none = revalidation(&Validators {
            etag: Some(b"garbage"),
            last_modified: None,
            date: 0,
        });
        assert_eq!(
            none,
            Revalidation {
                if_none_match: None,
                if_modified_since: None
            }
        );
        let e = Entry {
            last_modified: Some(5),
            date: 7,
            ..Entry::default()
        };
        assert_eq!(
            Validators::new(&e, Some(b"\"t\"")),
            Validators {
                etag: Some(b"\"t\""),
                last_modified: Some(5),
                date: 7
            }
        );
    }

    #[test]
    fn freshen_selection() {
        assert!(freshens(&V, Some(b"\"xyzzy\""), None));
        assert!(freshens(&V, Some(b"W/\"xyzzy\""), None));
        assert!(!freshens(&V, Some(b"\"other\""), None));
        let weak = Validators {
            etag: Some(b"W/\"xyzzy\""),
            ..V
        };
        // A strong validator must match strongly.
        assert!(!freshens(&weak, Some(b"\"xyzzy\""), None));
        assert!(freshens(&weak, Some(b"W/\"xyzzy\""), None));
        assert!(freshens(&V, None, Some(1000)));
        assert!(!freshens(&V, None, Some(1001)));
        assert!(freshens(&V, None, None));
        let none = Validators {
            etag: None,
            last_modified: None,
            date: 0,
        };
        assert!(!freshens(&none, Some(b"\"x\""), None));
    }

    #[test]
    fn fields_updated_by_304() {
        for n in [
            "Cache-Control",
            "ETag",
            "Expires",
            "Date",
            "Content-Type",
            "X-Custom",
        ] {
            assert!(header_updated_by_304(n.as_bytes()), "{n}");
        }
        for n in [
            "Content-Length",
            "content-encoding",
            "Transfer-Encoding",
            "Age",
            "Connection",
        ] {
            assert!(!header_updated_by_304(n.as_bytes()), "{n}");
        }
    }
}
