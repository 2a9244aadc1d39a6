//! Web cache policy (RFC 9111): cache keys, storability, freshness, conditional requests,
//! Vary, invalidation and Tempesta FW's cache directives.
//!
//! `no_std`, allocation-free and panic-free, so that the kernel module compiles these sources
//! as they are; the store itself (pages, hash table, RCU publication) lives in the module and
//! calls these functions. Messages are read through [`Fields`], which the store implements on
//! its parsed header table; nothing is copied, every field may have several lines.
//!
//! * [`key`]: the cache key and its keyed, incremental hash.
//! * [`cc`]: Cache-Control and Pragma; [`targeted`]: CDN-Cache-Control (RFC 9213), which
//!   takes their place when present.
//! * [`store`]: may this request use the cache, may this response be stored, which fields.
//! * [`fresh`]: lifetime, age, the [`Entry`] metadata, and [`decide`] on a hit.
//! * [`cond`]: 304 to conditional requests, revalidation with the upstream, 304 updates.
//! * [`vary`]: secondary keys.
//! * [`invalidate`]: unsafe methods and PURGE.
//! * [`wire`]: heads read as fields, the fields a stored response keeps, hit and 304 heads,
//!   chunked framing undone.
//! * [`rules`], [`config`], [`method`], [`date`]: `cache_fulfill`/`cache_bypass`, the
//!   settings, methods, HTTP-dates.
//!
//! # The flow a store follows
//!
//! ```
//! use tempesta_cache::cond::{self, Cond, Validators};
//! use tempesta_cache::fresh::{decide, Decision, Entry};
//! use tempesta_cache::rules::{MatchOp, Rule};
//! use tempesta_cache::store::{lookup_allowed, storable, stored_field, Request, Response};
//! use tempesta_cache::{vary, CacheConfig, Key, Method, Seed};
//!
//! // `cache_fulfill * *;`, Tempesta's defaults otherwise.
//! let rules = [Rule { op: MatchOp::Any, arg: b"*", fulfill: true }];
//! let cfg = CacheConfig { rules: &rules, ..CacheConfig::DEFAULT };
//! let seed = Seed { k0: 0x5eed, k1: 0xcafe }; // random, chosen when the store is created
//!
//! // A request: key, may it use the cache, lookup (the store's), decide.
//! let req_h = [("Host", "example.com"), ("Accept-Encoding", "gzip")];
//! let key = Key::new(false, b"/index.html", b"example.com").unwrap();
//! let req = Request::new(Method::Get, key, &req_h);
//! assert!(lookup_allowed(&req, &cfg));
//! let _bucket = key.hash(seed); // the store finds nothing under it
//! assert_eq!(decide(&req.cc, None, 1000), Decision::Miss);
//!
//! // The upstream's response (request sent at 1000, response received at 1001): storable,
//! // then the entry metadata; the store keeps `stored_field` fields, the body and the
//! // variant hash of the request's Vary fields.
//! let resp_h = [
//!     ("Date", "Thu, 01 Jan 1970 00:16:40 GMT"), // 1000
//!     ("Cache-Control", "max-age=60"),
//!     ("ETag", "\"v1\""),
//!     ("Vary", "Accept-Encoding"),
//!     ("Connection", "keep-alive"),
//! ];
//! let resp = Response::new(200, &resp_h, cfg.cc_ignore);
//! assert_eq!(storable(&req, &resp, &cfg), Ok(()));
//! let entry = Entry::new(1000, 1001, &resp, &cfg);
//! assert_eq!(entry.lifetime, 60);
//! let variant = vary::variant_hash(seed, &resp_h, &req_h);
//! assert!(!stored_field(b"Connection", &cfg));
//!
//! // A later conditional request from another client at 1030: same key, same variant,
//! // fresh, and its If-None-Match matches: a 304 with Age 30.
//! let req2_h = [("Accept-Encoding", "gzip"), ("If-None-Match", "W/\"v1\"")];
//! let req2 = Request::new(Method::Get, key, &req2_h);
//! assert_eq!(vary::variant_hash(seed, &resp_h, &req2_h), variant);
//! assert_eq!(decide(&req2.cc, Some(&entry), 1030), Decision::Fresh);
//! let v = Validators::new(&entry, resp.etag);
//! assert_eq!(cond::evaluate(req2.method, &req2_h, entry.status, &v, 1030), Cond::NotModified);
//! assert!(cond::in_not_modified(b"ETag", true));
//! assert_eq!(entry.age_header(1030), 30);
//!
//! // At 1100 the entry is stale: revalidate with the upstream using its validators.
//! assert_eq!(decide(&req2.cc, Some(&entry), 1100), Decision::Revalidate);
//! assert_eq!(cond::revalidation(&v).if_none_match, Some(&b"\"v1\""[..]));
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod cc;
pub mod cond;
pub mod config;
pub mod date;
pub mod fields;
pub mod fresh;
pub mod invalidate;
pub mod key;
pub mod method;
pub mod rules;
pub mod store;
pub mod targeted;
pub mod vary;
pub mod wire;

#[allow(unused_imports)]
pub use self::config::CacheConfig;
#[allow(unused_imports)]
pub use self::fields::Fields;
#[allow(unused_imports)]
pub use self::fresh::{decide, Decision, Entry};
#[allow(unused_imports)]
pub use self::key::{Key, Seed};
#[allow(unused_imports)]
pub use self::method::Method;
#[allow(unused_imports)]
pub use self::store::{storable, NotStorable};

#[cfg(test)]
mod tests {
    use super::cc::{CcIgnore, RequestCc, ResponseCc};
    use super::cond::{self, Cond, EntityTag, Validators};
    use super::date::{format_http_date, parse_http_date, DATE_LEN};
    use super::fresh::StaleCodes;
    use super::rules::{MatchOp, Rule};
    use super::store::{Request, Response};
    use super::*;

    /// Deterministic pseudo-random bytes biased towards the syntax the parsers look for.
    fn garbage(seed: &mut u64, len: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b" \t,;=\"\\/*:-[]@?#0123456789WGMTSunNovabcxyz\x00\x7f\xff";
        (0..len)
            .map(|_| {
                *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                ALPHABET[(*seed >> 33) as usize % ALPHABET.len()]
            })
            .collect()
    }

    #[test]
    fn garbage_never_panics() {
        let mut s = 42;
        let seed = Seed { k0: 1, k1: 2 };
        for i in 0..20_000 {
            let g = garbage(&mut s, i % 40);
            let g2 = garbage(&mut s, i % 13);
            if let Some(t) = parse_http_date(&g) {
                let mut b = [0; DATE_LEN];
                format_http_date(t, &mut b);
                assert!(t == 0 || parse_http_date(&b) == Some(t));
            }
            let _ = RequestCc::parse([&g]);
            let _ = ResponseCc::parse([&g, &g2], CcIgnore::NONE);
            let _ = EntityTag::parse(&g);
            let _ = StaleCodes::NONE.with_token(&g);
            let _ = key::normalize_host(&g, i % 2 == 0);
            if let Some(k) = Key::new(i % 2 == 0, &g, &g2) {
                let _ = k.hash(seed);
                let _ = k.resolve(&g2);
            }
            let h: [(&[u8], &[u8]); 6] = [
                (b"If-None-Match", &g),
                (b"If-Modified-Since", &g2),
                (b"Vary", &g),
                (b"Cache-Control", &g2),
                (b"Expires", &g),
                (b"ETag", &g2),
            ];
            let v = Validators {
                etag: Some(&g2),
                last_modified: Some(1),
                date: 1,
            };
            let _ = cond::evaluate(Method::Get, &h, 200, &v, 100);
            let _ = vary::variant_hash(seed, &h, &h);
            let _ = vary::variant_matches(&h, &h, &h);
            let r = Response::new(200, &h, CcIgnore::NONE);
            let _ = Entry::new(0, 1, &r, &CacheConfig::DEFAULT);
        }
    }

    #[test]
    fn revalidation_round_trip() {
        let rules = [Rule {
            op: MatchOp::Any,
            arg: b"*",
            fulfill: true,
        }];
        let cfg = CacheConfig {
            rules: &rules,
            ..CacheConfig::DEFAULT
        };
        let key = Key::new(true, b"/a", b"h:443").unwrap();
        let req_h: [(&str, &str); 0] = [];
        let req = Request::new(Method::Get, key, &req_h);
        let stored = [
            ("Cache-Control", "max-age=10"),
            ("ETag", "\"e1\""),
            ("Last-Modified", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ];
        let mut resp = Response::new(200, &stored, cfg.cc_ignore);
        assert_eq!(storable(&req, &resp, &cfg), Ok(()));
        let entry = Entry::new(100, 100, &resp, &cfg);
        assert_eq!(decide(&req.cc, Some(&entry), 115), Decision::Revalidate);

        // Revalidate: If-None-Match "e1"; the upstream answers 304 with a new max-age.
        let v = Validators::new(&entry, resp.etag);
        let r = cond::revalidation(&v);
        assert_eq!(r.if_none_match, Some(&b"\"e1\""[..]));
        let upd = [("Cache-Control", "max-age=100"), ("ETag", "\"e1\"")];
        let n = Response::new(304, &upd, cfg.cc_ignore);
        assert!(cond::freshens(&v, n.etag, n.last_modified));
        resp.update_from_304(&n);
        let entry = Entry::new(115, 116, &resp, &cfg);
        assert_eq!(entry.status, 200);
        assert_eq!(decide(&req.cc, Some(&entry), 150), Decision::Fresh);
        assert_eq!(entry.age_header(150), 35);
        // A 304 for another representation does not freshen.
        assert!(!cond::freshens(&v, Some(b"\"e2\""), None));
        // The client's own revalidation against the refreshed entry.
        let c = [("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")];
        let v = Validators::new(&entry, resp.etag);
        assert_eq!(
            cond::evaluate(Method::Get, &c, entry.status, &v, 150),
            Cond::NotModified
        );
    }
}
