//! Whether a response may be stored (RFC 9111 section 3) and which of its fields.
//!
//! [`storable`] applies, in order: the configuration (`cache`, `cache_fulfill`/`_bypass`,
//! `cache_methods`), then RFC 9111 section 3 with Tempesta's choices:
//!
//! * Methods: GET, and POST when configured (RFC 9110 section 9.3.3: only with explicit
//!   freshness and a Content-Location naming the target URI; the entry then serves GET and
//!   HEAD). Responses to HEAD are never stored: they have no content, and HEAD requests are
//!   answered from GET entries instead ([`lookup_allowed`]).
//! * Requests with Range are not looked up and their responses not stored, and 206 is never
//!   stored: the store keeps complete representations only.
//! * `no-store` in the request or the response, `private` (either form: RFC 9111 section
//!   5.2.2.7 notes caches commonly treat the qualified form so): not stored. `must-understand`
//!   with a status code this cache understands overrides `no-store` (section 5.2.2.3).
//! * Response `no-cache`: **stored**, and [`Entry::no_cache`](super::fresh::Entry) makes every
//!   use revalidate (section 5.2.2.4: it forbids reuse without validation, not storage; a 304
//!   then saves the transfer). Tempesta does not store these.
//! * Authorization in the request: stored only with `s-maxage`, `public` or `must-revalidate`
//!   (section 3.5).
//! * `Vary: *`: not stored (no request could be matched to it).
//! * Status: 200, 203, 204, 300, 301, 308, 404, 405, 410, 414 and 501 are cacheable by
//!   default (RFC 9110 section 15.1, minus 206), the 4xx/5xx ones only for GET (as Tempesta:
//!   a failed POST describes no resource); any other final status needs `max-age`,
//!   `s-maxage`, `Expires` or `public` (section 3).
//! * Set-Cookie: per [`SetCookie`] (default: not stored).

use super::cc::{CcIgnore, RequestCc, ResponseCc};
use super::config::{CacheConfig, CacheMode, SetCookie};
use super::date::parse_http_date;
use super::fields::{self, trim, Fields};
use super::fresh::Expires;
use super::key::Key;
use super::method::Method;
use super::rules::{policy, Policy};
use super::vary::Vary;

/// What the policy needs to know about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The target URI.
    pub key: Key<'a>,
    /// Cache-Control (and Pragma).
    pub cc: RequestCc,
    /// An Authorization field is present.
    pub authorization: bool,
    /// A Range field is present.
    pub range: bool,
}

impl<'a> Request<'a> {
    /// Reads the fields of request `h`.
    pub fn new<F: Fields + ?Sized>(method: Method, key: Key<'a>, h: &F) -> Request<'a> {
        Request {
            method,
            key,
            cc: RequestCc::from_fields(h),
            authorization: fields::has(h, b"authorization"),
            range: fields::has(h, b"range"),
        }
    }
}

/// What the policy needs to know about a response, borrowing the values it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// Status code.
    pub status: u16,
    /// CDN-Cache-Control if it is present and valid, else Cache-Control (and Pragma),
    /// `cache_control_ignore` applied.
    pub cc: ResponseCc,
    /// `cc` came from CDN-Cache-Control: Cache-Control, Pragma and Expires are ignored
    /// (RFC 9213 section 2.1).
    pub targeted: bool,
    /// Date, `None` if absent or invalid (then the receive time stands in for it, RFC 9110
    /// section 6.6.1).
    pub date: Option<u64>,
    /// Expires.
    pub expires: Expires,
    /// Age: the first member of the first line if repeated (`Age: 0, 7200` is 0), ignored if
    /// it is invalid.
    pub age: Option<u32>,
    /// Last-Modified.
    pub last_modified: Option<u64>,
    /// ETag, if it is one valid entity-tag.
    pub etag: Option<&'a [u8]>,
    /// Vary.
    pub vary: Vary,
    /// A Set-Cookie field is present.
    pub set_cookie: bool,
    /// Content-Location (first line).
    pub content_location: Option<&'a [u8]>,
}

impl<'a> Response<'a> {
    /// Reads the fields of response `h` with status `status`.
    pub fn new<F: Fields + ?Sized>(status: u16, h: &'a F, ignore: CcIgnore) -> Self {
        let date = |name: &[u8]| fields::single(h, name).and_then(parse_http_date);
        let targeted = super::targeted::from_fields(h, ignore);
        Response {
            status,
            targeted: targeted.is_some(),
            cc: targeted.unwrap_or_else(|| ResponseCc::from_fields(h, ignore)),
            date: date(b"date"),
            expires: if targeted.is_some() {
                Expires::Absent
            } else {
                Expires::from_fields(h)
            },
            // The first member of the first line (RFC 9111 section 4.2.1: with more than
            // one value, the first occurrence is used); an invalid one is ignored (5.1).
            age: h
                .field(b"age", 0)
                .and_then(|v| v.split(|&b| b == b',').next())
                .and_then(|v| super::cc::delta_seconds(trim(v))),
            last_modified: date(b"last-modified"),
            etag: fields::single(h, b"etag")
                .map(trim)
                .filter(|t| super::cond::EntityTag::parse(t).is_some()),
            vary: Vary::from_fields(h),
            set_cookie: fields::has(h, b"set-cookie"),
            content_location: h.field(b"content-location", 0).map(trim),
        }
    }

    /// Applies a 304 received when revalidating this stored response (RFC 9111 section
    /// 4.3.4): the fields present in the 304 replace the stored ones. Date and Age always
    /// describe the new message (a 304 without Date was dated on receipt), so they are always
    /// taken from it. The updated response gives the entry's new metadata through
    /// [`Entry::new`](super::fresh::Entry::new) with the revalidation's times.
    ///
    /// A CDN-Cache-Control on either side wins over Cache-Control and Expires on both: the
    /// updated head holds it (the 304's, or the stored one the 304 did not replace).
    pub fn update_from_304(&mut self, r: &Response<'a>) {
        if r.targeted || (!self.targeted && r.cc.present) {
            self.cc = r.cc;
        }
        if r.targeted {
            self.expires = Expires::Absent;
        } else if !self.targeted && r.expires != Expires::Absent {
            self.expires = r.expires;
        }
        self.targeted |= r.targeted;
        self.date = r.date;
        self.age = r.age;
        if r.last_modified.is_some() {
            self.last_modified = r.last_modified;
        }
        if r.etag.is_some() {
            self.etag = r.etag;
        }
        if r.vary != Vary::Absent {
            self.vary = r.vary;
        }
        self.set_cookie |= r.set_cookie;
        if r.content_location.is_some() {
            self.content_location = r.content_location;
        }
    }

    /// Explicit freshness information: max-age, s-maxage or Expires (RFC 9111 section 4.2.1).
    pub const fn explicit_freshness(&self) -> bool {
        self.cc.max_age.is_some()
            || self.cc.s_maxage.is_some()
            || !matches!(self.expires, Expires::Absent)
    }
}

/// Why a response is not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotStorable {
    /// `cache 0`.
    Disabled,
    /// No `cache_fulfill` rule selects the URI (or a `cache_bypass` rule does).
    Bypass,
    /// The method is not in `cache_methods` or cannot be stored (HEAD and unsafe methods).
    Method,
    /// The request had a Range field.
    Range,
    /// The request had `Cache-Control: no-store`.
    RequestNoStore,
    /// Non-final status, 304, or a status not cacheable without explicit freshness.
    Status,
    /// 206 Partial Content.
    PartialContent,
    /// `must-understand` with a status code the cache does not understand.
    MustUnderstand,
    /// `no-store`.
    NoStore,
    /// `private`.
    Private,
    /// The request had Authorization and the response does not allow shared caching.
    Authorization,
    /// `Vary: *`.
    VaryStar,
    /// Set-Cookie with [`SetCookie::Refuse`].
    SetCookie,
    /// A POST response without max-age, s-maxage or Expires.
    PostFreshness,
    /// A POST response whose Content-Location is not the target URI.
    PostContentLocation,
}

/// Whether the status code is heuristically cacheable ("cacheable by default", RFC 9110
/// section 15.1), without 206 which this cache does not store.
pub const fn cacheable_by_default(status: u16) -> bool {
    matches!(
        status,
        200 | 203 | 204 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// Whether this cache knows the caching requirements of `status` (RFC 9111 section 5.2.2.3):
/// the final codes RFC 9110 defines, but 206 whose partial content it cannot store.
const fn understood(status: u16) -> bool {
    matches!(status, 200..=205 | 300..=305 | 307 | 308 | 400..=417 | 421 | 422 | 426 | 500..=505)
}

/// Whether a request may be answered from the cache at all: caching on, a GET or HEAD in
/// `cache_methods`, no Range, and the rules select the URI. HEAD is answered from GET entries
/// (RFC 9110 section 9.3.2); POST and unsafe methods never are (RFC 9110 section 9.3.3).
pub fn lookup_allowed(req: &Request<'_>, cfg: &CacheConfig<'_>) -> bool {
    cfg.mode != CacheMode::Off
        && matches!(req.method, Method::Get | Method::Head)
        && cfg.methods.contains(req.method)
        && !req.range
        && policy(cfg.rules, req.key.path) == Policy::Fulfill
}

/// Whether `resp`, the response to `req`, may be stored (see the module documentation for
/// the rules and their order).
pub fn storable(
    req: &Request<'_>,
    resp: &Response<'_>,
    cfg: &CacheConfig<'_>,
) -> Result<(), NotStorable> {
    if cfg.mode == CacheMode::Off {
        return Err(NotStorable::Disabled);
    }
    if policy(cfg.rules, req.key.path) != Policy::Fulfill {
        return Err(NotStorable::Bypass);
    }
    let post = match req.method {
        Method::Get if cfg.methods.contains(Method::Get) => false,
        Method::Post if cfg.methods.contains(Method::Post) => true,
        _ => return Err(NotStorable::Method),
    };
    if req.range {
        return Err(NotStorable::Range);
    }
    if req.cc.no_store {
        return Err(NotStorable::RequestNoStore);
    }
    match resp.status {
        206 => return Err(NotStorable::PartialContent),
        200..=303 | 305..=599 => {}
        _ => return Err(NotStorable::Status),
    }
    let cc = &resp.cc;
    if cc.must_understand && !understood(resp.status) {
        return Err(NotStorable::MustUnderstand);
    }
    if cc.no_store && !cc.must_understand {
        return Err(NotStorable::NoStore);
    }
    if cc.private {
        return Err(NotStorable::Private);
    }
    if req.authorization && !(cc.s_maxage.is_some() || cc.public || cc.must_revalidate) {
        return Err(NotStorable::Authorization);
    }
    if resp.vary == Vary::Star {
        return Err(NotStorable::VaryStar);
    }
    if resp.set_cookie && cfg.set_cookie == SetCookie::Refuse {
        return Err(NotStorable::SetCookie);
    }
    let by_default = cacheable_by_default(resp.status) && !(post && resp.status >= 400);
    if !(resp.explicit_freshness() || cc.public || by_default) {
        return Err(NotStorable::Status);
    }
    if post {
        if !resp.explicit_freshness() {
            return Err(NotStorable::PostFreshness);
        }
        let same = resp
            .content_location
            .and_then(|l| req.key.resolve(l))
            .is_some_and(|l| l.matches(&req.key));
        if !same {
            return Err(NotStorable::PostContentLocation);
        }
    }
    Ok(())
}

/// Whether the response field `name` is kept in the stored response.
///
/// Not stored: hop-by-hop fields (RFC 9110 section 7.6.1; the fields the Connection field
/// lists are the caller's to drop, as when forwarding), Transfer-Encoding (the store re-frames
/// the content), the proxy-specific fields of RFC 9111 section 3.1 (Proxy-Authenticate,
/// Proxy-Authentication-Info), Age (recomputed on every hit, RFC 9111 section 5.1),
/// Set-Cookie under [`SetCookie::Strip`], and the `cache_resp_hdr_del` fields.
pub fn stored_field(name: &[u8], cfg: &CacheConfig<'_>) -> bool {
    const NEVER: [&[u8]; 10] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"transfer-encoding",
        b"upgrade",
        b"trailer",
        b"proxy-authenticate",
        b"proxy-authentication-info",
        b"age",
    ];
    let is = |n: &&[u8]| n.eq_ignore_ascii_case(name);
    !(NEVER.iter().any(is)
        || (cfg.set_cookie == SetCookie::Strip && name.eq_ignore_ascii_case(b"set-cookie"))
        || cfg.resp_hdr_del.iter().any(is))
}

#[cfg(test)]
mod tests {
    use super::super::cc::CcIgnore;
    use super::super::rules::{MatchOp, Rule};
    use super::*;

    const ALL: [Rule<'static>; 1] = [Rule {
        op: MatchOp::Any,
        arg: b"*",
        fulfill: true,
    }];

    fn cfg() -> CacheConfig<'static> {
        CacheConfig {
            rules: &ALL,
            ..CacheConfig::DEFAULT
        }
    }

    fn check(
        method: Method,
        req_h: &[(&str, &str)],
        status: u16,
        resp_h: &[(&str, &str)],
        cfg: &CacheConfig<'_>,
    ) -> Result<(), NotStorable> {
        let key = Key::new(false, b"/p", b"h").unwrap();
        let req = Request::new(method, key, req_h);
        let resp = Response::new(status, resp_h, cfg.cc_ignore);
        storable(&req, &resp, cfg)
    }

    fn get(status: u16, resp_h: &[(&str, &str)]) -> Result<(), NotStorable> {
        check(Method::Get, &[], status, resp_h, &cfg())
    }

    #[test]
    fn default_cacheable_statuses() {
        for s in [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501] {
            assert_eq!(get(s, &[]), Ok(()), "{s}");
        }
        for s in [201, 302, 303, 307, 400, 403, 500, 502, 503] {
            assert_eq!(get(s, &[]), Err(NotStorable::Status), "{s}");
            assert_eq!(get(s, &[("Cache-Control", "max-age=5")]), Ok(()), "{s}");
            assert_eq!(get(s, &[("Expires", "0")]), Ok(()), "{s}");
            assert_eq!(get(s, &[("Cache-Control", "public")]), Ok(()), "{s}");
        }
        assert_eq!(
            get(100, &[("Cache-Control", "max-age=5")]),
            Err(NotStorable::Status)
        );
        assert_eq!(
            get(304, &[("Cache-Control", "max-age=5")]),
            Err(NotStorable::Status)
        );
        assert_eq!(get(206, &[]), Err(NotStorable::PartialContent));
        assert_eq!(
            get(600, &[("Cache-Control", "max-age=5")]),
            Err(NotStorable::Status)
        );
    }

    #[test]
    fn configuration_gates() {
        let off = CacheConfig {
            mode: CacheMode::Off,
            ..cfg()
        };
        assert_eq!(
            check(Method::Get, &[], 200, &[], &off),
            Err(NotStorable::Disabled)
        );
        assert_eq!(
            check(Method::Get, &[], 200, &[], &CacheConfig::DEFAULT),
            Err(NotStorable::Bypass)
        );
        let bypass = [Rule {
            op: MatchOp::Prefix,
            arg: b"/p",
            fulfill: false,
        }];
        let c = CacheConfig {
            rules: &bypass,
            ..cfg()
        };
        assert_eq!(
            check(Method::Get, &[], 200, &[], &c),
            Err(NotStorable::Bypass)
        );
        for m in [Method::Head, Method::Put, Method::Post, Method::Other] {
            assert_eq!(check(m, &[], 200, &[], &cfg()), Err(NotStorable::Method));
        }
    }

    #[test]
    fn no_store_private_and_request_gates() {
        assert_eq!(
            get(200, &[("Cache-Control", "no-store")]),
            Err(NotStorable::NoStore)
        );
        assert_eq!(
            get(200, &[("Cache-Control", "private")]),
            Err(NotStorable::Private)
        );
        assert_eq!(
            get(200, &[("Cache-Control", "private=\"X\", max-age=60")]),
            Err(NotStorable::Private)
        );
        assert_eq!(get(200, &[("Cache-Control", "no-cache")]), Ok(()));
        let c = cfg();
        assert_eq!(
            check(Method::Get, &[("Cache-Control", "no-store")], 200, &[], &c),
            Err(NotStorable::RequestNoStore)
        );
        assert_eq!(
            check(Method::Get, &[("Range", "bytes=0-1")], 200, &[], &c),
            Err(NotStorable::Range)
        );
        // Request no-cache does not prevent storing (RFC 9111 section 5.2.1.4).
        assert_eq!(
            check(Method::Get, &[("Pragma", "no-cache")], 200, &[], &c),
            Ok(())
        );
    }

    #[test]
    fn must_understand() {
        let mu = [("Cache-Control", "must-understand, no-store, max-age=60")];
        assert_eq!(get(200, &mu), Ok(()));
        assert_eq!(get(299, &mu), Err(NotStorable::MustUnderstand));
    }

    #[test]
    fn authorization() {
        let c = cfg();
        let auth = [("Authorization", "Basic x")];
        assert_eq!(
            check(Method::Get, &auth, 200, &[], &c),
            Err(NotStorable::Authorization)
        );
        for cc in ["s-maxage=60", "public", "must-revalidate"] {
            assert_eq!(
                check(Method::Get, &auth, 200, &[("Cache-Control", cc)], &c),
                Ok(())
            );
        }
        assert_eq!(
            check(
                Method::Get,
                &auth,
                200,
                &[("Cache-Control", "max-age=60")],
                &c
            ),
            Err(NotStorable::Authorization)
        );
    }

    #[test]
    fn vary_and_set_cookie() {
        assert_eq!(get(200, &[("Vary", "*")]), Err(NotStorable::VaryStar));
        assert_eq!(get(200, &[("Vary", "Accept-Encoding")]), Ok(()));
        let sc = [("Set-Cookie", "s=1")];
        assert_eq!(get(200, &sc), Err(NotStorable::SetCookie));
        for p in [SetCookie::Strip, SetCookie::Store] {
            let c = CacheConfig {
                set_cookie: p,
                ..cfg()
            };
            assert_eq!(check(Method::Get, &[], 200, &sc, &c), Ok(()));
        }
    }

    #[test]
    fn cache_control_ignore_makes_storable() {
        let c = CacheConfig {
            cc_ignore: CcIgnore::NO_STORE.with(CcIgnore::PRIVATE),
            ..cfg()
        };
        let h = [("Cache-Control", "no-store, private")];
        assert_eq!(check(Method::Get, &[], 200, &h, &c), Ok(()));
        let c = CacheConfig {
            cc_ignore: CcIgnore::PUBLIC,
            ..cfg()
        };
        assert_eq!(
            check(Method::Get, &[], 302, &[("Cache-Control", "public")], &c),
            Err(NotStorable::Status)
        );
    }

    #[test]
    fn post_rules() {
        let c = CacheConfig {
            methods: MethodSet::GET.with(MethodSet::POST),
            ..cfg()
        };
        let post = |h: &[(&str, &str)], status| check(Method::Post, &[], status, h, &c);
        assert_eq!(
            post(&[("Content-Location", "/p")], 200),
            Err(NotStorable::PostFreshness)
        );
        assert_eq!(
            post(
                &[("Content-Location", "/p"), ("Cache-Control", "public")],
                200
            ),
            Err(NotStorable::PostFreshness)
        );
        let ok = [("Content-Location", "/p"), ("Cache-Control", "max-age=60")];
        assert_eq!(post(&ok, 200), Ok(()));
        let abs = [("Content-Location", "http://H:80/p"), ("Expires", "0")];
        assert_eq!(post(&abs, 200), Ok(()));
        let other = [("Content-Location", "/q"), ("Cache-Control", "max-age=60")];
        assert_eq!(post(&other, 200), Err(NotStorable::PostContentLocation));
        let none = [("Cache-Control", "max-age=60")];
        assert_eq!(post(&none, 200), Err(NotStorable::PostContentLocation));
        // Error statuses are not cacheable by default for POST.
        assert_eq!(
            post(&[("Content-Location", "/p")], 404),
            Err(NotStorable::Status)
        );
    }

    use super::super::method::MethodSet;

    #[test]
    fn lookup_gates() {
        let key = Key::new(false, b"/p", b"h").unwrap();
        let req = |m, h: &[(&str, &str)]| Request::new(m, key, h);
        let c = cfg();
        assert!(lookup_allowed(&req(Method::Get, &[]), &c));
        assert!(!lookup_allowed(&req(Method::Head, &[]), &c));
        let gh = CacheConfig {
            methods: MethodSet::GET.with(MethodSet::HEAD).with(MethodSet::POST),
            ..c
        };
        assert!(lookup_allowed(&req(Method::Head, &[]), &gh));
        assert!(!lookup_allowed(&req(Method::Post, &[]), &gh));
        assert!(!lookup_allowed(
            &req(Method::Get, &[("Range", "bytes=1-")]),
            &gh
        ));
        assert!(!lookup_allowed(
            &req(Method::Get, &[]),
            &CacheConfig::DEFAULT
        ));
        // no-cache still looks up (to revalidate).
        assert!(lookup_allowed(
            &req(Method::Get, &[("Cache-Control", "no-cache")]),
            &c
        ));
    }

    #[test]
    fn response_fields() {
        let h = [
            ("Date", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("Age", "10"),
            ("age", "20"),
            ("Age", "x"),
            ("ETag", " W/\"a\" "),
            ("Last-Modified", "Sat, 05 Nov 1994 08:49:37 GMT"),
        ];
        let r = Response::new(200, &h, CcIgnore::NONE);
        assert_eq!(r.date, Some(784_111_777));
        assert_eq!(r.age, Some(10));
        assert_eq!(r.etag, Some(&b"W/\"a\""[..]));
        assert_eq!(r.last_modified, Some(784_111_777 - 86_400));
        assert!(!r.explicit_freshness());
        for (lines, age) in [
            (&["0, 7200"][..], Some(0)),
            (&["7200, 0"], Some(7200)),
            (&["7200", "0"], Some(7200)),
            (&["x", "5"], None),
            (&[" 3 "], Some(3)),
        ] {
            let h: Vec<(&str, &str)> = lines.iter().map(|&v| ("Age", v)).collect();
            assert_eq!(
                Response::new(200, &h[..], CcIgnore::NONE).age,
                age,
                "{lines:?}"
            );
        }
        let bad = [("ETag", "a"), ("Date", "yesterday")];
        let r = Response::new(200, &bad, CcIgnore::NONE);
        assert_eq!((r.etag, r.date), (None, None));
    }

    #[test]
    fn update_from_304() {
        let stored = [
            ("Cache-Control", "max-age=60"),
            ("ETag", "\"1\""),
            ("Date", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("Age", "5"),
        ];
        let mut r = Response::new(200, &stored, CcIgnore::NONE);
        let n = [("Cache-Control", "max-age=120"), ("ETag", "\"1\"")];
        r.update_from_304(&Response::new(304, &n, CcIgnore::NONE));
        assert_eq!(r.cc.max_age, Some(120));
        assert_eq!((r.date, r.age), (None, None));
        assert_eq!(r.status, 200);
        let n = [("Expires", "Sun, 06 Nov 1994 08:49:37 GMT")];
        r.update_from_304(&Response::new(304, &n, CcIgnore::NONE));
        assert_eq!(r.cc.max_age, Some(120));
        assert_eq!(r.expires, Expires::At(784_111_777));
    }

    #[test]
    fn cdn_cache_control_takes_precedence() {
        // RFC 9213 section 2.1: a valid CDN-Cache-Control replaces Cache-Control, Pragma and
        // Expires, in both directions; an invalid one is as if absent.
        let cdn_fresh = [
            ("Cache-Control", "no-store"),
            ("Pragma", "no-cache"),
            ("CDN-Cache-Control", "max-age=600"),
        ];
        assert_eq!(get(200, &cdn_fresh), Ok(()));
        let r = Response::new(200, &cdn_fresh, CcIgnore::NONE);
        assert!(r.targeted && !r.cc.no_cache && r.cc.max_age == Some(600));
        let cdn_no_store = [
            ("Cache-Control", "max-age=600"),
            ("CDN-Cache-Control", "no-store"),
        ];
        assert_eq!(get(200, &cdn_no_store), Err(NotStorable::NoStore));
        let private = [
            ("Cache-Control", "public"),
            ("CDN-Cache-Control", "private"),
        ];
        assert_eq!(get(200, &private), Err(NotStorable::Private));
        let expires = [
            ("CDN-Cache-Control", "max-age=0"),
            ("Expires", "Sun, 06 Nov 2094 08:49:37 GMT"),
        ];
        let r = Response::new(200, &expires, CcIgnore::NONE);
        assert_eq!((r.cc.max_age, r.expires), (Some(0), Expires::Absent));
        let invalid = [
            ("Cache-Control", "no-store"),
            ("CDN-Cache-Control", "max-age=\"600\""),
        ];
        assert_eq!(get(200, &invalid), Err(NotStorable::NoStore));
        assert!(!Response::new(200, &invalid, CcIgnore::NONE).targeted);
    }

    #[test]
    fn update_from_304_keeps_cdn_cache_control() {
        let stored = [
            ("CDN-Cache-Control", "max-age=600"),
            ("Cache-Control", "no-store"),
        ];
        let mut r = Response::new(200, &stored, CcIgnore::NONE);
        // The updated head still holds the stored CDN-Cache-Control: it still wins.
        let n = [
            ("Cache-Control", "max-age=5"),
            ("Expires", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ];
        r.update_from_304(&Response::new(304, &n, CcIgnore::NONE));
        assert_eq!((r.cc.max_age, r.expires), (Some(600), Expires::Absent));
        // A 304 with its own replaces it, and silences a stored Expires.
        let stored = [("Expires", "Sun, 06 Nov 1994 08:49:37 GMT")];
        let mut r = Response::new(200, &stored, CcIgnore::NONE);
        let n = [("CDN-Cache-Control", "max-age=60")];
        r.update_from_304(&Response::new(304, &n, CcIgnore::NONE));
        assert!(r.targeted && r.cc.max_age == Some(60) && r.expires == Expires::Absent);
    }

    #[test]
    fn stored_fields() {
        let del: [&[u8]; 1] = [b"X-Secret"];
        let c = CacheConfig {
            resp_hdr_del: &del,
            ..cfg()
        };
        for n in [
            "Connection",
            "Transfer-Encoding",
            "Age",
            "x-secret",
            "Proxy-Authenticate",
        ] {
            assert!(!stored_field(n.as_bytes(), &c), "{n}");
        }
        for n in [
            "Content-Type",
            "ETag",
            "Set-Cookie",
            "Cache-Control",
            "Content-Length",
        ] {
            assert!(stored_field(n.as_bytes(), &c), "{n}");
        }
        let strip = CacheConfig {
            set_cookie: SetCookie::Strip,
            ..c
        };
        assert!(!stored_field(b"set-cookie", &strip));
    }
}
