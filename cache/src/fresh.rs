//! Freshness (RFC 9111 section 4.2), age (section 4.2.3) and the decision whether a stored
//! response may answer a request (sections 4, 4.2.4, 5.2.1), in whole seconds.
//!
//! # Lifetime
//!
//! [`lifetime`] takes the first of: `s-maxage` (this is a shared cache), `max-age`,
//! `Expires - Date` (an invalid Expires is already expired, section 5.3), Tempesta's
//! `cache_ttl`, and, only when `cache_ttl` is 0 and the operator enabled it, the heuristic of
//! section 4.2.2 (a fraction of the time since Last-Modified, capped at [`HEURISTIC_MAX`]).
//! With neither, the lifetime is 0: the entry is stored (a validator still saves the transfer)
//! and revalidated on every use, Tempesta's behavior. Results are capped at 2^31 seconds
//! (section 1.2.2).
//!
//! # Entry
//!
//! [`Entry`] is the metadata the store keeps next to the raw response: the section 4.2.3
//! inputs (request and response times, Date, Age), the lifetime, and the flags that limit
//! reuse. Field values (ETag, Vary, ...) stay in the stored header block, not copied here.
//!
//! # Decision
//!
//! [`decide`] applies, in order: request or response `no-cache` (validate), request `max-age`
//! (section 5.2.1.1), freshness with request `min-fresh` (section 5.2.1.3); for a stale entry,
//! `must-revalidate`/`proxy-revalidate`/`s-maxage` forbid serving it (section 4.2.4), request
//! `max-stale` (section 5.2.1.2) allows it, then `stale-while-revalidate` (RFC 5861 section 3)
//! when the request has no freshness requirement of its own; `only-if-cached` (section
//! 5.2.1.7) turns any need to contact the origin into 504.
//!
//! Serving stale on upstream failure (`cache_use_stale`, `stale-if-error`) is
//! [`stale_on_error`].

use super::cc::{RequestCc, DELTA_MAX};
use super::config::CacheConfig;
use super::date::parse_http_date;
use super::fields::{self, Fields};
use super::store::Response;

/// Cap of a heuristic lifetime: one day, the age beyond which RFC 7234 required a heuristic
/// response to be flagged (Warning 113), i.e. the span caches have long considered a safe
/// guess.
pub const HEURISTIC_MAX: u64 = 86_400;

/// A response's Expires field (RFC 9111 section 5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expires {
    /// No Expires.
    Absent,
    /// Present but not one valid HTTP-date (e.g. `0`), or repeated with different values:
    /// "already expired".
    Invalid,
    /// A valid date.
    At(u64),
}

impl Expires {
    /// The Expires field of a response.
    pub fn from_fields<F: Fields + ?Sized>(h: &F) -> Expires {
        if !fields::has(h, b"expires") {
            return Expires::Absent;
        }
        fields::single(h, b"expires")
            .and_then(parse_http_date)
            .map_or(Expires::Invalid, Expires::At)
    }
}

/// The freshness lifetime of `resp`, received at `response_time` (RFC 9111 section 4.2.1; see
/// the module documentation).
pub fn lifetime(resp: &Response<'_>, response_time: u64, cfg: &CacheConfig<'_>) -> u64 {
    let date = resp.date.unwrap_or(response_time);
    let lt = if let Some(s) = resp.cc.s_maxage {
        u64::from(s)
    } else if let Some(m) = resp.cc.max_age {
        u64::from(m)
    } else {
        match resp.expires {
            Expires::At(t) => t.saturating_sub(date),
            Expires::Invalid => 0,
            Expires::Absent if cfg.ttl > 0 => u64::from(cfg.ttl),
            Expires::Absent => resp.last_modified.map_or(0, |lm| {
                (date.saturating_sub(lm) / 100)
                    .saturating_mul(u64::from(cfg.heuristic_percent))
                    .min(HEURISTIC_MAX)
            }),
        }
    };
    lt.min(u64::from(DELTA_MAX))
}

/// The metadata of a stored response. Plain data: the store persists it as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// When the request that produced the response was sent (`request_time`).
    pub request_time: u64,
    /// When the response was received (`response_time`).
    pub response_time: u64,
    /// The response's Date, or `response_time` if it had none (`date_value`).
    pub date: u64,
    /// The response's Age, 0 if none (`age_value`).
    pub age: u64,
    /// Freshness lifetime ([`lifetime`]).
    pub lifetime: u64,
    /// Last-Modified, for If-Modified-Since.
    pub last_modified: Option<u64>,
    /// Status code.
    pub status: u16,
    /// Never serve stale: must-revalidate, proxy-revalidate or s-maxage.
    pub must_revalidate: bool,
    /// Never serve without validation: response no-cache (or its Pragma stand-in).
    pub no_cache: bool,
    /// `stale-while-revalidate` window, seconds.
    pub stale_while_revalidate: Option<u32>,
    /// `stale-if-error` window, seconds.
    pub stale_if_error: Option<u32>,
}

impl Entry {
    /// The entry for `resp`, whose request was sent at `request_time` and which was received
    /// at `response_time`. After a 304 ([`Response::update_from_304`]), the same call with
    /// the revalidation's times gives the updated entry.
    pub fn new(
        request_time: u64,
        response_time: u64,
        resp: &Response<'_>,
        cfg: &CacheConfig<'_>,
    ) -> Entry {
        Entry {
            request_time,
            response_time,
            date: resp.date.unwrap_or(response_time),
            age: resp.age.map_or(0, u64::from),
            lifetime: lifetime(resp, response_time, cfg),
            last_modified: resp.last_modified,
            status: resp.status,
            must_revalidate: resp.cc.forbids_stale(),
            no_cache: resp.cc.no_cache,
            stale_while_revalidate: resp.cc.stale_while_revalidate,
            stale_if_error: resp.cc.stale_if_error,
        }
    }

    /// `corrected_initial_age` (RFC 9111 section 4.2.3): the age when received, the larger of
    /// the age the clocks imply and the age the Age field plus the transit time imply. A
    /// clock that went backwards makes a difference 0, not a huge value.
    pub fn initial_age(&self) -> u64 {
        let apparent_age = self.response_time.saturating_sub(self.date);
        let response_delay = self.response_time.saturating_sub(self.request_time);
        let corrected_age_value = self.age.saturating_add(response_delay);
        apparent_age.max(corrected_age_value)
    }

    /// `current_age` at `now`: initial age plus `resident_time`.
    pub fn current_age(&self, now: u64) -> u64 {
        self.initial_age()
            .saturating_add(now.saturating_sub(self.response_time))
    }

    /// The Age value to send with the entry at `now`, capped at 2^31 (RFC 9111 section 5.1).
    pub fn age_header(&self, now: u64) -> u64 {
        self.current_age(now).min(u64::from(DELTA_MAX))
    }

    /// `freshness_lifetime > current_age` (RFC 9111 section 4.2).
    pub fn is_fresh(&self, now: u64) -> bool {
        self.lifetime > self.current_age(now)
    }

    /// Seconds past the end of the lifetime at `now` (0 while fresh).
    pub fn staleness(&self, now: u64) -> u64 {
        self.current_age(now).saturating_sub(self.lifetime)
    }

    fn decide(&self, req: &RequestCc, now: u64) -> Decision {
        if req.no_cache || self.no_cache {
            return Decision::Revalidate;
        }
        let age = self.current_age(now);
        if req.max_age.is_some_and(|m| age > u64::from(m)) {
            return Decision::Revalidate;
        }
        if self.lifetime > age {
            let left = self.lifetime.saturating_sub(age);
            return match req.min_fresh {
                Some(m) if left < u64::from(m) => Decision::Revalidate,
                _ => Decision::Fresh,
            };
        }
        if self.must_revalidate {
            return Decision::Revalidate;
        }
        let staleness = age.saturating_sub(self.lifetime);
        let within = |w: Option<u32>| w.is_some_and(|w| staleness <= u64::from(w));
        if within(req.max_stale) && req.min_fresh.is_none() {
            Decision::Stale
        } else if within(self.stale_while_revalidate)
            && req.max_age.is_none()
            && req.min_fresh.is_none()
        {
            Decision::StaleWhileRevalidate
        } else {
            Decision::Revalidate
        }
    }
}

/// What to do with a request the cache may answer ([`decide`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Serve the entry: it is fresh enough for this request.
    Fresh,
    /// Serve the stale entry: the request's `max-stale` accepts it.
    Stale,
    /// Serve the stale entry now and revalidate it in the background
    /// (`stale-while-revalidate`).
    StaleWhileRevalidate,
    /// Send a conditional request built from the entry (`cond::revalidation`); a 304 updates
    /// and serves it, anything else replaces it.
    Revalidate,
    /// Nothing stored: forward the request.
    Miss,
    /// `only-if-cached` and nothing servable without the origin: answer 504.
    GatewayTimeout,
}

/// Whether `entry` (the stored response the store found for the request, or `None`) may
/// answer a request with directives `req` at time `now`.
pub fn decide(req: &RequestCc, entry: Option<&Entry>, now: u64) -> Decision {
    let d = entry.map_or(Decision::Miss, |e| e.decide(req, now));
    match d {
        Decision::Miss | Decision::Revalidate if req.only_if_cached => Decision::GatewayTimeout,
        d => d,
    }
}

/// The status codes of `cache_use_stale`: 400 to 599, individually or by class (`4*`, `5*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StaleCodes([u64; 4]);

impl StaleCodes {
    /// No code.
    pub const NONE: StaleCodes = StaleCodes([0; 4]);

    /// `self` plus `code`; `None` outside 400..=599 (Tempesta accepts no other).
    #[must_use]
    pub fn with_code(self, code: u16) -> Option<StaleCodes> {
        if !(400..=599).contains(&code) {
            return None;
        }
        let bit = code.checked_sub(400)?;
        let mut s = self;
        let word = s.0.get_mut(usize::from(bit / 64))?;
        *word |= 1u64.wrapping_shl(u32::from(bit % 64));
        Some(s)
    }

    /// `self` plus a `cache_use_stale` argument: `4*`, `5*` or a code.
    #[must_use]
    pub fn with_token(self, token: &[u8]) -> Option<StaleCodes> {
        let first: u16 = match token {
            b"4*" => 400,
            b"5*" => 500,
            _ => {
                let code = super::cc::delta_seconds(token)?;
                return self.with_code(u16::try_from(code).ok()?);
            }
        };
        (first..first.saturating_add(100)).try_fold(self, |s, c| s.with_code(c))
    }

    /// Whether `status` is in the set.
    pub fn contains(&self, status: u16) -> bool {
        status
            .checked_sub(400)
            .filter(|&b| b < 200)
            .and_then(|b| self.0.get(usize::from(b / 64)).map(|w| (b, w)))
            .is_some_and(|(b, w)| w & 1u64.wrapping_shl(u32::from(b % 64)) != 0)
    }
}

/// Whether the stale (or unvalidated) `entry` may be served because revalidating it failed
/// with `status` (the upstream's, or the 502/504 the proxy generates when the upstream is
/// unreachable or times out) at `now`.
///
/// Allowed when the status is in `cache_use_stale` (the operator's out-of-band permission,
/// RFC 9111 section 4.2.4), or it is 500, 502, 503 or 504 within the response's
/// `stale-if-error` window (RFC 5861 section 4). Never for an entry with `must-revalidate`,
/// `proxy-revalidate`, `s-maxage` or `no-cache`: section 4.2.4 forbids generating a stale
/// response those directives prohibit, even when disconnected (section 5.2.2.2 asks for 504).
pub fn stale_on_error(entry: &Entry, status: u16, use_stale: &StaleCodes, now: u64) -> bool {
    if entry.must_revalidate || entry.no_cache {
        return false;
    }
    use_stale.contains(status)
        || (matches!(status, 500 | 502 | 503 | 504)
            && entry
                .stale_if_error
                .is_some_and(|w| entry.staleness(now) <= u64::from(w)))
}

#[cfg(test)]
mod tests {
    use super::super::cc::CcIgnore;
    use super::*;

    fn resp<'a>(status: u16, h: &'a [(&'a str, &'a str)]) -> Response<'a> {
        Response::new(status, h, CcIgnore::NONE)
    }

    fn lt(h: &[(&str, &str)], cfg: &CacheConfig<'_>) -> u64 {
        lifetime(&resp(200, h), 1_000_000, cfg)
    }

    fn entry(lifetime: u64) -> Entry {
        Entry {
            request_time: 100,
            response_time: 100,
            date: 100,
            lifetime,
            status: 200,
            ..Entry::default()
        }
    }

    fn cc(s: &str) -> RequestCc {
        RequestCc::parse([s])
    }

    const D: CacheConfig<'static> = CacheConfig::DEFAULT;

    #[test]
    fn lifetime_precedence() {
        let e = ("Expires", "Sun, 06 Nov 1994 09:49:37 GMT");
        let d = ("Date", "Sun, 06 Nov 1994 08:49:37 GMT");
        let both = ("Cache-Control", "max-age=10, s-maxage=20");
        assert_eq!(lt(&[both, e, d], &D), 20);
        assert_eq!(lt(&[("Cache-Control", "max-age=10"), e, d], &D), 10);
        assert_eq!(lt(&[e, d], &D), 3600);
        // Expires before Date, invalid Expires: already expired.
        assert_eq!(
            lt(&[("Expires", "Sun, 06 Nov 1994 07:49:37 GMT"), d], &D),
            0
        );
        assert_eq!(lt(&[("Expires", "0"), d], &D), 0);
        assert_eq!(
            lt(&[e, ("Expires", "Mon, 07 Nov 1994 09:49:37 GMT"), d], &D),
            0
        );
        // No Date: the receive time stands in.
        assert_eq!(lifetime(&resp(200, &[e]), 784_111_777, &D), 3600);
        // max-age=0 beats cache_ttl.
        let ttl = CacheConfig { ttl: 300, ..D };
        assert_eq!(lt(&[("Cache-Control", "max-age=0")], &ttl), 0);
        assert_eq!(lt(&[], &ttl), 300);
        assert_eq!(lt(&[], &D), 0);
        assert_eq!(lt(&[("Cache-Control", "max-age=99999999999")], &D), 1 << 31);
        assert_eq!(
            lt(&[("Expires", "Fri, 31 Dec 9999 23:59:59 GMT")], &D),
            1 << 31
        );
    }

    #[test]
    fn lifetime_ignored_directive_falls_through() {
        let c = CacheConfig {
            cc_ignore: CcIgnore::MAX_AGE,
            ttl: 77,
            ..D
        };
        let h = [("Cache-Control", "max-age=10")];
        assert_eq!(lifetime(&Response::new(200, &h, c.cc_ignore), 0, &c), 77);
    }

    #[test]
    fn heuristic_only_without_ttl() {
        let h = [
            ("Date", "Thu, 11 Jan 1970 00:00:00 GMT"),
            ("Last-Modified", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ];
        let heur = CacheConfig {
            heuristic_percent: 10,
            ..D
        };
        assert_eq!(lt(&h, &D), 0);
        // 10% of 10 days, capped at one day.
        assert_eq!(lt(&h, &heur), HEURISTIC_MAX);
        let h2 = [
            ("Date", "Thu, 01 Jan 1970 01:00:00 GMT"),
            ("Last-Modified", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ];
        assert_eq!(lt(&h2, &heur), 360);
        assert_eq!(lt(&h2, &CacheConfig { ttl: 5, ..heur }), 5);
        // Last-Modified in the future: nothing.
        let h3 = [
            ("Date", "Thu, 01 Jan 1970 00:00:00 GMT"),
            ("Last-Modified", "Thu, 01 Jan 1970 01:00:00 GMT"),
        ];
        assert_eq!(lt(&h3, &heur), 0);
    }

    #[test]
    fn rfc9111_age_calculation() {
        // Request sent at 1000, response received at 1004 with Date 998 and Age 10:
        // apparent_age 6, response_delay 4, corrected_age_value 14 -> initial 14.
        let e = Entry {
            request_time: 1000,
            response_time: 1004,
            date: 998,
            age: 10,
            ..Entry::default()
        };
        assert_eq!(e.initial_age(), 14);
        assert_eq!(e.current_age(1004), 14);
        assert_eq!(e.current_age(1104), 114);
        // A Date far in the past dominates.
        let e2 = Entry { date: 900, ..e };
        assert_eq!(e2.initial_age(), 104);
        // Clocks going backwards never give a negative or huge age.
        let e3 = Entry {
            request_time: 2000,
            response_time: 1004,
            date: 5000,
            age: 0,
            ..Entry::default()
        };
        assert_eq!(e3.initial_age(), 0);
        assert_eq!(e3.current_age(0), 0);
        let huge = Entry { age: u64::MAX, ..e };
        assert_eq!(huge.current_age(u64::MAX), u64::MAX);
        assert_eq!(huge.age_header(u64::MAX), 1 << 31);
    }

    #[test]
    fn entry_from_response() {
        let h = [
            ("Date", "Thu, 01 Jan 1970 00:01:40 GMT"),
            ("Age", "3"),
            (
                "Cache-Control",
                "max-age=60, proxy-revalidate, no-cache, stale-if-error=9",
            ),
        ];
        let e = Entry::new(95, 100, &resp(200, &h), &D);
        assert_eq!((e.date, e.age, e.lifetime), (100, 3, 60));
        assert!(e.must_revalidate && e.no_cache);
        assert_eq!(e.stale_if_error, Some(9));
        assert_eq!(e.initial_age(), 8);
        let e = Entry::new(95, 100, &resp(200, &[]), &D);
        assert_eq!((e.date, e.age, e.lifetime), (100, 0, 0));
    }

    #[test]
    fn fresh_and_stale_boundary() {
        let e = entry(60);
        assert!(e.is_fresh(159));
        assert!(!e.is_fresh(160));
        assert_eq!(decide(&cc(""), Some(&e), 159), Decision::Fresh);
        assert_eq!(decide(&cc(""), Some(&e), 160), Decision::Revalidate);
        assert_eq!(e.staleness(170), 10);
        assert_eq!(decide(&cc(""), Some(&entry(0)), 100), Decision::Revalidate);
    }

    #[test]
    fn request_max_age_and_min_fresh() {
        let e = entry(60);
        assert_eq!(decide(&cc("max-age=30"), Some(&e), 130), Decision::Fresh);
        assert_eq!(
            decide(&cc("max-age=30"), Some(&e), 131),
            Decision::Revalidate
        );
        assert_eq!(decide(&cc("max-age=0"), Some(&e), 100), Decision::Fresh);
        assert_eq!(decide(&cc("min-fresh=20"), Some(&e), 140), Decision::Fresh);
        assert_eq!(
            decide(&cc("min-fresh=20"), Some(&e), 141),
            Decision::Revalidate
        );
    }

    #[test]
    fn max_stale() {
        let e = entry(60);
        assert_eq!(decide(&cc("max-stale=10"), Some(&e), 170), Decision::Stale);
        assert_eq!(
            decide(&cc("max-stale=10"), Some(&e), 171),
            Decision::Revalidate
        );
        assert_eq!(
            decide(&cc("max-stale"), Some(&e), 1_000_000_000),
            Decision::Stale
        );
        // max-age still bounds the age (RFC 9111 section 5.2.1.1).
        assert_eq!(
            decide(&cc("max-stale, max-age=65"), Some(&e), 170),
            Decision::Revalidate
        );
        // must-revalidate (and s-maxage, proxy-revalidate) forbid it.
        let mr = Entry {
            must_revalidate: true,
            ..e
        };
        assert_eq!(
            decide(&cc("max-stale"), Some(&mr), 170),
            Decision::Revalidate
        );
    }

    #[test]
    fn no_cache_always_revalidates() {
        let e = entry(60);
        assert_eq!(decide(&cc("no-cache"), Some(&e), 100), Decision::Revalidate);
        let nc = Entry {
            no_cache: true,
            ..e
        };
        assert_eq!(decide(&cc(""), Some(&nc), 100), Decision::Revalidate);
        assert_eq!(
            decide(&cc("max-stale"), Some(&nc), 100),
            Decision::Revalidate
        );
        let h = [("Pragma", "no-cache")];
        assert_eq!(
            decide(&RequestCc::from_fields(&h), Some(&e), 100),
            Decision::Revalidate
        );
    }

    #[test]
    fn only_if_cached() {
        let e = entry(60);
        assert_eq!(
            decide(&cc("only-if-cached"), None, 0),
            Decision::GatewayTimeout
        );
        assert_eq!(decide(&cc(""), None, 0), Decision::Miss);
        assert_eq!(
            decide(&cc("only-if-cached"), Some(&e), 100),
            Decision::Fresh
        );
        assert_eq!(
            decide(&cc("only-if-cached"), Some(&e), 200),
            Decision::GatewayTimeout
        );
        assert_eq!(
            decide(&cc("only-if-cached, max-stale"), Some(&e), 200),
            Decision::Stale
        );
    }

    #[test]
    fn stale_while_revalidate() {
        let e = Entry {
            stale_while_revalidate: Some(30),
            ..entry(60)
        };
        assert_eq!(
            decide(&cc(""), Some(&e), 190),
            Decision::StaleWhileRevalidate
        );
        assert_eq!(decide(&cc(""), Some(&e), 191), Decision::Revalidate);
        assert_eq!(
            decide(&cc("max-age=100"), Some(&e), 170),
            Decision::Revalidate
        );
        let mr = Entry {
            must_revalidate: true,
            ..e
        };
        assert_eq!(decide(&cc(""), Some(&mr), 170), Decision::Revalidate);
    }

    #[test]
    fn stale_codes() {
        let s = StaleCodes::NONE
            .with_token(b"5*")
            .and_then(|s| s.with_token(b"404"))
            .unwrap();
        for c in [404, 500, 502, 599] {
            assert!(s.contains(c), "{c}");
        }
        for c in [0, 200, 399, 400, 403, 499, 600, 65535] {
            assert!(!s.contains(c), "{c}");
        }
        let four = StaleCodes::NONE.with_token(b"4*").unwrap();
        assert!(four.contains(400) && four.contains(499) && !four.contains(500));
        assert_eq!(StaleCodes::NONE.with_code(399), None);
        assert_eq!(StaleCodes::NONE.with_code(600), None);
        assert_eq!(StaleCodes::NONE.with_token(b"6*"), None);
        assert_eq!(StaleCodes::NONE.with_token(b"abc"), None);
        assert_eq!(StaleCodes::NONE.with_token(b"99999999999"), None);
    }

    #[test]
    fn serving_stale_on_error() {
        let e = entry(60);
        let codes = StaleCodes::NONE.with_token(b"5*").unwrap();
        assert!(stale_on_error(&e, 502, &codes, 10_000));
        assert!(!stale_on_error(&e, 404, &codes, 10_000));
        assert!(!stale_on_error(&e, 502, &StaleCodes::NONE, 10_000));
        let mr = Entry {
            must_revalidate: true,
            ..e
        };
        assert!(!stale_on_error(&mr, 502, &codes, 10_000));
        let sie = Entry {
            stale_if_error: Some(100),
            ..e
        };
        assert!(stale_on_error(&sie, 503, &StaleCodes::NONE, 260));
        assert!(!stale_on_error(&sie, 503, &StaleCodes::NONE, 261));
        assert!(!stale_on_error(&sie, 501, &StaleCodes::NONE, 200));
    }
}
