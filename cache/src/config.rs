//! The cache's configuration knobs, as plain data with Tempesta's defaults.
//!
//! The configuration layer fills a [`CacheConfig`] from the `cache*` directives (and a copy
//! per vhost/location where Tempesta allows the directive there); this crate only reads it.
//! Lists are borrowed slices, so the structure is `Copy` and a per-request override (the
//! `http_chain` action `cache_ttl = N`) is `CacheConfig { ttl: n, ..*cfg }`.

use super::cc::CcIgnore;
use super::fresh::StaleCodes;
use super::invalidate::{Cidr, PurgeMode};
use super::method::MethodSet;
use super::rules::Rule;

/// `cache 0|1|2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheMode {
    /// `cache 0`: no caching.
    Off,
    /// `cache 1`: one store sharded across NUMA nodes.
    Sharded,
    /// `cache 2` (default): a replica of the store per NUMA node.
    Replicated,
}

impl CacheMode {
    /// The mode of `cache N`.
    pub const fn from_level(n: u64) -> Option<CacheMode> {
        match n {
            0 => Some(CacheMode::Off),
            1 => Some(CacheMode::Sharded),
            2 => Some(CacheMode::Replicated),
            _ => None,
        }
    }
}

/// What to do with a cacheable response carrying `Set-Cookie`.
///
/// RFC 9111 section 7.3 notes that Set-Cookie "does not inhibit caching", but a shared cache
/// that stores one replays one client's cookie (often a session) to every other client: the
/// classic cache-deception leak. Tempesta FW stores such responses as they are; nginx and
/// Varnish do not cache them unless told to. The default here is the safe one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCookie {
    /// Do not store (default).
    Refuse,
    /// Store the response without its Set-Cookie lines (the client receiving it from the
    /// upstream still gets them).
    Strip,
    /// Store and replay Set-Cookie (Tempesta FW's behavior).
    Store,
}

/// Every cache setting the policy reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig<'a> {
    /// `cache` (default 2).
    pub mode: CacheMode,
    /// `cache_size` in bytes (default 256 MiB): for the store; the policy does not read it.
    pub size: u64,
    /// `cache_methods` (default GET).
    pub methods: MethodSet,
    /// `cache_ttl` in seconds: the freshness lifetime of responses without explicit freshness
    /// (default 0: none, such responses are stored but revalidated on every use).
    pub ttl: u32,
    /// Heuristic freshness (RFC 9111 section 4.2.2) as a percentage of the time since
    /// Last-Modified, used only when `ttl` is 0; capped at
    /// [`HEURISTIC_MAX`](super::fresh::HEURISTIC_MAX). Default 0 (off), as in Tempesta; 10 is
    /// the value the RFC cites.
    pub heuristic_percent: u8,
    /// `cache_fulfill` / `cache_bypass` rules that apply (default none: nothing is cached).
    pub rules: &'a [Rule<'a>],
    /// `cache_control_ignore`: response directives to disregard.
    pub cc_ignore: CcIgnore,
    /// `cache_use_stale`: upstream status codes on which a stale entry is served instead.
    pub use_stale: StaleCodes,
    /// `cache_resp_hdr_del`: response fields never stored (names, case-insensitive).
    pub resp_hdr_del: &'a [&'a [u8]],
    /// Responses with Set-Cookie.
    pub set_cookie: SetCookie,
    /// `cache_purge [invalidate|immediate]`; `None` when the directive is absent.
    pub purge: Option<PurgeMode>,
    /// `cache_purge_acl`: clients allowed to PURGE.
    pub purge_acl: &'a [Cidr],
}

impl CacheConfig<'static> {
    /// Tempesta's defaults.
    pub const DEFAULT: CacheConfig<'static> = CacheConfig {
        mode: CacheMode::Replicated,
        size: 256 << 20,
        methods: MethodSet::GET,
        ttl: 0,
        heuristic_percent: 0,
        rules: &[],
        cc_ignore: CcIgnore::NONE,
        use_stale: StaleCodes::NONE,
        resp_hdr_del: &[],
        set_cookie: SetCookie::Refuse,
        purge: None,
        purge_acl: &[],
    };
}

impl Default for CacheConfig<'static> {
    fn default() -> Self {
        CacheConfig::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::super::method::Method;
    use super::*;

    #[test]
    fn defaults() {
        let c = CacheConfig::default();
        assert_eq!(c.mode, CacheMode::Replicated);
        assert_eq!(c.size, 268_435_456);
        assert!(c.methods.contains(Method::Get) && !c.methods.contains(Method::Head));
        assert_eq!((c.ttl, c.purge), (0, None));
        assert_eq!(CacheMode::from_level(0), Some(CacheMode::Off));
        assert_eq!(CacheMode::from_level(3), None);
        let o = CacheConfig { ttl: 60, ..c };
        assert_eq!(o.ttl, 60);
    }
}
