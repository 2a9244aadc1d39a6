//! Invalidation by unsafe requests (RFC 9111 section 4.4) and Tempesta's PURGE
//! (`cache_purge`, `cache_purge_acl`).

use super::config::{CacheConfig, CacheMode};
use super::fields::Fields;
use super::key::Key;
use super::method::Method;

/// Whether the response `status` to a request with `method` invalidates stored responses:
/// a non-error (2xx or 3xx) response to an unsafe method, including unknown methods
/// (RFC 9111 section 4.4). An error means the state probably did not change. The store
/// invalidates before it considers storing the response, so a storable POST response
/// ([`storable`](super::store::storable)) replaces what it invalidated.
pub fn invalidates(method: Method, status: u16) -> bool {
    !method.is_safe() && (200..=399).contains(&status)
}

/// The URIs such a response invalidates: the target URI, and the Location and
/// Content-Location URIs when they have the target's origin (RFC 9111 section 4.4: another
/// origin must not be invalidated, or one site could flush another's entries). Missing,
/// unresolvable or foreign ones are `None`; duplicates are not removed (invalidating twice
/// is harmless).
pub fn targets<'a, F: Fields + ?Sized>(target: &Key<'a>, resp: &'a F) -> [Option<Key<'a>>; 3] {
    let same = |name: &[u8]| {
        resp.field(name, 0)
            .and_then(|v| target.resolve(v))
            .filter(|k| k.same_origin(target))
    };
    [Some(*target), same(b"location"), same(b"content-location")]
}

/// `cache_purge` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeMode {
    /// `invalidate` (default): mark the entry stale, so the next request revalidates it.
    Invalidate,
    /// `immediate`: remove the entry.
    Immediate,
}

/// What to do with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeAction {
    /// Not a PURGE request: the ordinary path.
    NotPurge,
    /// Answer 403: purging is not configured (cache off, no `cache_purge` or no
    /// `cache_purge_acl`), or the client is not in the ACL. Tempesta denies by default.
    Forbidden,
    /// Invalidate the entries of the target URI, then answer 200.
    Invalidate,
    /// Remove the entries of the target URI, then answer 200.
    Immediate,
}

/// The action for a request with `method`, from a client whose address `acl_match`es
/// (see [`acl_match`]) the configured ACL or not.
pub fn purge_action(method: Method, cfg: &CacheConfig<'_>, acl_ok: bool) -> PurgeAction {
    if method != Method::Purge {
        return PurgeAction::NotPurge;
    }
    match cfg.purge {
        Some(mode) if cfg.mode != CacheMode::Off && !cfg.purge_acl.is_empty() && acl_ok => {
            match mode {
                PurgeMode::Invalidate => PurgeAction::Invalidate,
                PurgeMode::Immediate => PurgeAction::Immediate,
            }
        }
        _ => PurgeAction::Forbidden,
    }
}

/// An address prefix of `cache_purge_acl`. Addresses are 16 bytes; IPv4 ones are
/// IPv4-mapped (`::ffff:a.b.c.d`, [`v4_mapped`]), as the kernel stores them in an
/// `in6_addr`, so one matcher serves both families and an IPv4 rule never matches an IPv6
/// client that is not IPv4-mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: [u8; 16],
    prefix: u8,
}

impl Cidr {
    /// `addr/prefix` (prefix 0..=128); `None` for a longer prefix. Bits past the prefix are
    /// ignored.
    pub const fn v6(addr: [u8; 16], prefix: u8) -> Option<Cidr> {
        if prefix > 128 {
            return None;
        }
        Some(Cidr { addr, prefix })
    }

    /// IPv4 `addr/prefix` (prefix 0..=32).
    pub const fn v4(addr: [u8; 4], prefix: u8) -> Option<Cidr> {
        if prefix > 32 {
            return None;
        }
        Cidr::v6(v4_mapped(addr), prefix.saturating_add(96))
    }

    /// Whether `addr` has this prefix.
    pub fn contains(&self, addr: &[u8; 16]) -> bool {
        let full = usize::from(self.prefix / 8);
        let rest = u32::from(self.prefix % 8);
        let (Some(a), Some(b)) = (
            self.addr.split_at_checked(full),
            addr.split_at_checked(full),
        ) else {
            return false;
        };
        if a.0 != b.0 {
            return false;
        }
        if rest == 0 {
            return true;
        }
        let mask = 0xffu8.wrapping_shl(8u32.saturating_sub(rest));
        match (a.1.first(), b.1.first()) {
            (Some(x), Some(y)) => x & mask == y & mask,
            _ => true,
        }
    }
}

/// `addr` as an IPv4-mapped IPv6 address.
pub const fn v4_mapped(addr: [u8; 4]) -> [u8; 16] {
    let [a, b, c, d] = addr;
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d]
}

/// Whether `addr` is in any prefix of `acl`.
pub fn acl_match(acl: &[Cidr], addr: &[u8; 16]) -> bool {
    acl.iter().any(|c| c.contains(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_non_error_invalidates() {
        for m in [
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Patch,
            Method::Other,
        ] {
            assert!(invalidates(m, 200) && invalidates(m, 204) && invalidates(m, 303));
            assert!(!invalidates(m, 404) && !invalidates(m, 500) && !invalidates(m, 100));
        }
        for m in [Method::Get, Method::Head, Method::Options, Method::Trace] {
            assert!(!invalidates(m, 200));
        }
    }

    #[test]
    fn invalidation_targets_same_origin_only() {
        let t = Key::new(false, b"/a", b"h.com").unwrap();
        let resp = [
            ("Location", "http://h.com:80/b"),
            ("Content-Location", "http://evil.com/c"),
        ];
        let [a, b, c] = targets(&t, &resp);
        assert_eq!(a, Some(t));
        assert_eq!(b.map(|k| k.path), Some(&b"/b"[..]));
        assert_eq!(c, None);
        let resp = [("Content-Location", "/c"), ("Location", "https://h.com/b")];
        let [_, b, c] = targets(&t, &resp);
        assert_eq!(b, None);
        assert_eq!(c.map(|k| k.path), Some(&b"/c"[..]));
        let [_, b, c] = targets(&t, &[("X", "y")]);
        assert_eq!((b, c), (None, None));
    }

    #[test]
    fn purge_requires_configuration_and_acl() {
        let acl = [Cidr::v4([10, 0, 0, 0], 8).unwrap()];
        let cfg = CacheConfig {
            purge: Some(PurgeMode::Invalidate),
            purge_acl: &acl,
            ..CacheConfig::DEFAULT
        };
        assert_eq!(purge_action(Method::Get, &cfg, true), PurgeAction::NotPurge);
        assert_eq!(
            purge_action(Method::Purge, &cfg, true),
            PurgeAction::Invalidate
        );
        assert_eq!(
            purge_action(Method::Purge, &cfg, false),
            PurgeAction::Forbidden
        );
        let imm = CacheConfig {
            purge: Some(PurgeMode::Immediate),
            ..cfg
        };
        assert_eq!(
            purge_action(Method::Purge, &imm, true),
            PurgeAction::Immediate
        );
        let no_acl = CacheConfig {
            purge_acl: &[],
            ..cfg
        };
        assert_eq!(
            purge_action(Method::Purge, &no_acl, true),
            PurgeAction::Forbidden
        );
        let no_purge = CacheConfig { purge: None, ..cfg };
        assert_eq!(
            purge_action(Method::Purge, &no_purge, true),
            PurgeAction::Forbidden
        );
        let off = CacheConfig {
            mode: CacheMode::Off,
            ..cfg
        };
        assert_eq!(
            purge_action(Method::Purge, &off, true),
            PurgeAction::Forbidden
        );
        // Method names are case-sensitive.
        assert_eq!(
            purge_action(Method::parse(b"purge"), &cfg, true),
            PurgeAction::NotPurge
        );
    }

    #[test]
    fn cidr_v4() {
        let net = Cidr::v4([192, 168, 1, 0], 24).unwrap();
        assert!(net.contains(&v4_mapped([192, 168, 1, 77])));
        assert!(!net.contains(&v4_mapped([192, 168, 2, 1])));
        let odd = Cidr::v4([10, 0, 0, 0], 9).unwrap();
        assert!(odd.contains(&v4_mapped([10, 127, 255, 255])));
        assert!(!odd.contains(&v4_mapped([10, 128, 0, 0])));
        let host = Cidr::v4([1, 2, 3, 4], 32).unwrap();
        assert!(host.contains(&v4_mapped([1, 2, 3, 4])));
        assert!(!host.contains(&v4_mapped([1, 2, 3, 5])));
        let any4 = Cidr::v4([0, 0, 0, 0], 0).unwrap();
        assert!(any4.contains(&v4_mapped([8, 8, 8, 8])));
        // An IPv4 rule does not match a native IPv6 address.
        let mut v6 = [0u8; 16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        assert!(!any4.contains(&v6));
        assert_eq!(Cidr::v4([0; 4], 33), None);
    }

    #[test]
    fn cidr_v6() {
        let mut p = [0u8; 16];
        p[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        let net = Cidr::v6(p, 32).unwrap();
        let mut a = p;
        a[15] = 1;
        assert!(net.contains(&a));
        a[3] = 0xb9;
        assert!(!net.contains(&a));
        let all = Cidr::v6([0xff; 16], 0).unwrap();
        assert!(all.contains(&[0; 16]));
        let lo = Cidr::v6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128).unwrap();
        assert!(lo.contains(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
        assert!(!lo.contains(&[0; 16]));
        let nibble = Cidr::v6(p, 28).unwrap();
        let mut b = p;
        b[3] = 0xbf;
        assert!(nibble.contains(&b));
        b[3] = 0xc8;
        assert!(!nibble.contains(&b));
        assert_eq!(Cidr::v6(p, 129), None);
        assert!(acl_match(&[net, lo], &a) || acl_match(&[lo, nibble], &p));
        assert!(!acl_match(&[], &p));
    }
}
