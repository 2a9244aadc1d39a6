//! The cache key (RFC 9111 section 2: "the request method and target URI").
//!
//! A [`Key`] is the scheme, the host and the path-and-query of the target URI:
//!
//! * **Method: not in the key.** GET and HEAD name the same representation, and a cacheable
//!   POST response with a matching Content-Location is a representation of that URI too
//!   (RFC 9110 sections 9.3.1-9.3.3). The store keeps one entry per URI (per variant), which
//!   answers GET and HEAD; responses to HEAD are not stored and POST requests are never
//!   answered from the cache ([`lookup_allowed`](super::store::lookup_allowed)).
//! * **Scheme: in the key.** `http://h/x` and `https://h/x` may differ (the typical
//!   HTTP-to-HTTPS 301 served to HTTPS clients would loop), and a plain-text client must not
//!   be able to fill the entries TLS clients read.
//! * **Host: case-insensitive** (RFC 3986 section 6.2.2.1), the scheme's default port and an
//!   empty port removed (RFC 3986 section 6.2.3), so `Example.com:80` and `example.com` share
//!   entries.
//! * **Path and query: exact bytes.** No percent-decoding or dot-segment removal: a missed
//!   equivalence costs a cache miss, a wrong one would serve one resource for another.
//!
//! The 64-bit hash is SipHash-1-3 (the hash of Rust's `HashMap`) keyed by a secret
//! [`Seed`]: without the seed a client cannot aim many URIs at one bucket of the store's
//! table (hash flooding). It is computed incrementally ([`KeyHasher`]), so a caller holding
//! the path in several chunks hashes them in order and gets the same value as [`Key::hash`].

use super::fields::trim;

/// The secret key of the hash: random, chosen once when the store is created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seed {
    /// First half.
    pub k0: u64,
    /// Second half.
    pub k1: u64,
}

/// The normalized target URI of a request, borrowing the request's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key<'a> {
    /// `https` rather than `http`.
    pub https: bool,
    /// Host, with the port unless it is the scheme's default (case as received).
    pub host: &'a [u8],
    /// Path and query (`/` for an empty path of an absolute URI).
    pub path: &'a [u8],
}

impl<'a> Key<'a> {
    /// The key of a request with request-target `target` and Host field value `host`, received
    /// over TLS when `https`.
    ///
    /// `None` when the request has no cacheable target: asterisk-form and authority-form
    /// targets, another scheme than the connection's, or an absolute-form target whose
    /// authority differs from the Host field (RFC 9112 section 3.2.2 requires them identical;
    /// a proxy routing on Host while the cache keyed on the URI would let such a request store
    /// one site's response under another's key).
    pub fn new(https: bool, target: &'a [u8], host: &'a [u8]) -> Option<Key<'a>> {
        let host = normalize_host(host, https);
        if target.first() == Some(&b'/') {
            return Some(Key {
                https,
                host,
                path: target,
            });
        }
        let (scheme, authority, path) = split_absolute(target)?;
        let authority = normalize_host(authority, scheme);
        (scheme == https && authority.eq_ignore_ascii_case(host)).then_some(Key {
            https,
            host: authority,
            path,
        })
    }

    /// The key of a URI reference found in a response (Location, Content-Location) of a
    /// request for `self`: an absolute path (`/x`) or absolute URI (`https://h/x`).
    /// Relative paths (`x`, `../x`) and other schemes give `None`: such references are rare
    /// in these fields and resolving them needs path merging this crate does not do. A
    /// fragment is removed.
    pub fn resolve(&self, reference: &'a [u8]) -> Option<Key<'a>> {
        let r = trim(reference);
        let r = r
            .iter()
            .position(|&b| b == b'#')
            .and_then(|i| r.get(..i))
            .unwrap_or(r);
        if r.starts_with(b"//") {
            let (https, host, path) = split_authority(self.https, r.get(2..)?)?;
            return Some(Key { https, host, path });
        }
        if r.first() == Some(&b'/') {
            return Some(Key { path: r, ..*self });
        }
        let (https, host, path) = split_absolute(r)?;
        Some(Key {
            https,
            host: normalize_host(host, https),
            path,
        })
    }

    /// Same scheme and host (RFC 9110 section 4.3.1 origin, the port being in the host).
    pub fn same_origin(&self, other: &Key<'_>) -> bool {
        self.https == other.https && self.host.eq_ignore_ascii_case(other.host)
    }

    /// Whether `other` names the same resource: the equality the store checks on a hash hit.
    pub fn matches(&self, other: &Key<'_>) -> bool {
        self.same_origin(other) && self.path == other.path
    }

    /// The keyed hash of the key, equal for keys that [`matches`](Self::matches).
    pub fn hash(&self, seed: Seed) -> u64 {
        let mut h = KeyHasher::new(seed, self.https, self.host);
        h.path(self.path);
        h.finish()
    }
}

/// `host` without surrounding whitespace and without its port when that is empty or the
/// default of the scheme (80, or 443 when `https`). IPv6 literals keep their brackets.
pub fn normalize_host(host: &[u8], https: bool) -> &[u8] {
    let host = trim(host);
    // The port colon is the last one, after the `]` of an IPv6 literal.
    let from = host.iter().rposition(|&b| b == b']').unwrap_or(0);
    let colon = host
        .get(from..)
        .and_then(|t| t.iter().rposition(|&b| b == b':'))
        .and_then(|i| i.checked_add(from));
    let Some(c) = colon else {
        return host;
    };
    let (name, port) = host.split_at_checked(c).unwrap_or((host, &[]));
    let port = port.get(1..).unwrap_or_default();
    let default = if https { 443 } else { 80 };
    let is_default = port.iter().all(u8::is_ascii_digit)
        && port.iter().try_fold(0u32, |n, &d| {
            n.checked_mul(10)?.checked_add(u32::from(d & 0x0f))
        }) == Some(default);
    if port.is_empty() || is_default {
        name
    } else {
        host
    }
}

/// The path and query of request-target `target`: the target itself in origin form, the part
/// after the authority in absolute form (`/` when empty), and the target as it is otherwise
/// (asterisk and authority forms). What `location` blocks and cache rules match against.
pub fn target_path(target: &[u8]) -> &[u8] {
    if target.first() == Some(&b'/') {
        return target;
    }
    split_absolute(target).map_or(target, |(_, _, path)| path)
}

/// `(https, authority, path)` of an absolute http(s) URI; the authority has no userinfo and
/// is not normalized; an empty path is `/`.
fn split_absolute(uri: &[u8]) -> Option<(bool, &[u8], &[u8])> {
    let (https, rest) = if starts_with_ci(uri, b"http://") {
        (false, uri.get(7..)?)
    } else if starts_with_ci(uri, b"https://") {
        (true, uri.get(8..)?)
    } else {
        return None;
    };
    split_authority(https, rest)
}

/// Splits `authority path` (what follows `//`), dropping userinfo; the host is normalized.
fn split_authority(https: bool, rest: &[u8]) -> Option<(bool, &[u8], &[u8])> {
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, path) = rest.split_at_checked(end)?;
    let authority = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => authority.get(at.saturating_add(1)..)?,
        None => authority,
    };
    let host = normalize_host(authority, https);
    if host.is_empty() {
        return None;
    }
    Some((https, host, if path.is_empty() { b"/" } else { path }))
}

fn starts_with_ci(v: &[u8], prefix: &[u8]) -> bool {
    v.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Incremental hash of a key: the host is given whole, the path in any number of chunks.
#[derive(Clone, Debug)]
pub struct KeyHasher(Sip<1, 3>);

impl KeyHasher {
    /// Starts the hash of a key with this scheme and host (normalized here again, which is
    /// idempotent, so a raw Host value may be passed).
    pub fn new(seed: Seed, https: bool, host: &[u8]) -> KeyHasher {
        let host = normalize_host(host, https);
        let mut h = Sip::new(seed);
        h.write(&[u8::from(https)]);
        // The host's length makes the encoding prefix-free: no host/path split of the same
        // bytes collides with another.
        h.write(&(host.len() as u64).to_le_bytes());
        for chunk in host.chunks(32) {
            let mut buf = [0u8; 32];
            for (d, s) in buf.iter_mut().zip(chunk) {
                *d = s.to_ascii_lowercase();
            }
            h.write(buf.get(..chunk.len()).unwrap_or_default());
        }
        KeyHasher(h)
    }

    /// Adds the next chunk of the path and query.
    pub fn path(&mut self, chunk: &[u8]) {
        self.0.write(chunk);
    }

    /// The hash of everything added so far.
    pub fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// SipHash-C-D (Aumasson and Bernstein, 2012), incremental over byte chunks.
#[derive(Clone, Debug)]
pub(crate) struct Sip<const C: usize, const D: usize> {
    v: [u64; 4],
    /// Pending bytes of an incomplete 8-byte word, little-endian.
    tail: u64,
    ntail: u32,
    /// Total length in bytes (only its low byte is used).
    len: u64,
}

impl<const C: usize, const D: usize> Sip<C, D> {
    pub(crate) fn new(seed: Seed) -> Self {
        Sip {
            v: [
                seed.k0 ^ 0x736f_6d65_7073_6575,
                seed.k1 ^ 0x646f_7261_6e64_6f6d,
                seed.k0 ^ 0x6c79_6765_6e65_7261,
                seed.k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            len: 0,
        }
    }

    fn round(v: &mut [u64; 4]) {
        let [v0, v1, v2, v3] = v;
        *v0 = v0.wrapping_add(*v1);
        *v1 = v1.rotate_left(13) ^ *v0;
        *v0 = v0.rotate_left(32);
        *v2 = v2.wrapping_add(*v3);
        *v3 = v3.rotate_left(16) ^ *v2;
        *v0 = v0.wrapping_add(*v3);
        *v3 = v3.rotate_left(21) ^ *v0;
        *v2 = v2.wrapping_add(*v1);
        *v1 = v1.rotate_left(17) ^ *v2;
        *v2 = v2.rotate_left(32);
    }

    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        for _ in 0..C {
            Self::round(&mut self.v);
        }
        self.v[0] ^= m;
    }

    fn push(&mut self, b: u8) {
        self.tail |= u64::from(b).wrapping_shl(self.ntail << 3);
        self.ntail = self.ntail.saturating_add(1);
        if self.ntail == 8 {
            self.compress(self.tail);
            self.tail = 0;
            self.ntail = 0;
        }
    }

    pub(crate) fn write(&mut self, mut bytes: &[u8]) {
        self.len = self.len.wrapping_add(bytes.len() as u64);
        while self.ntail != 0 {
            let Some((&b, rest)) = bytes.split_first() else {
                return;
            };
            self.push(b);
            bytes = rest;
        }
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.compress(u64::from_le_bytes(w.try_into().unwrap_or_default()));
        }
        for &b in words.remainder() {
            self.push(b);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        let mut s = self.clone();
        let b = ((self.len & 0xff) << 56) | self.tail;
        s.compress(b);
        s.v[2] ^= 0xff;
        for _ in 0..D {
            Self::round(&mut s.v);
        }
        let [v0, v1, v2, v3] = s.v;
        v0 ^ v1 ^ v2 ^ v3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: Seed = Seed { k0: 1, k1: 2 };

    fn key<'a>(https: bool, target: &'a str, host: &'a str) -> Option<Key<'a>> {
        Key::new(https, target.as_bytes(), host.as_bytes())
    }

    #[test]
    fn target_paths() {
        assert_eq!(target_path(b"/a?b"), b"/a?b");
        assert_eq!(target_path(b"http://h:8080/x/y?z"), b"/x/y?z");
        assert_eq!(target_path(b"HTTPS://user@h"), b"/");
        assert_eq!(target_path(b"*"), b"*");
        assert_eq!(target_path(b"h:443"), b"h:443");
    }

    #[test]
    fn siphash24_reference_vector() {
        // The paper's example: key 00..0f, message 00..0e.
        let seed = Seed {
            k0: 0x0706_0504_0302_0100,
            k1: 0x0f0e_0d0c_0b0a_0908,
        };
        let msg: Vec<u8> = (0..15).collect();
        let mut h = Sip::<2, 4>::new(seed);
        h.write(&msg);
        assert_eq!(h.finish(), 0xa129_ca61_49be_45e5);
    }

    #[test]
    #[allow(deprecated)]
    fn siphash24_matches_std_for_all_lengths_and_splits() {
        use std::hash::Hasher as _;
        let data: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..data.len() {
            let mut std = std::hash::SipHasher::new_with_keys(3, 4);
            std.write(&data[..len]);
            for split in 0..=len {
                let mut h = Sip::<2, 4>::new(Seed { k0: 3, k1: 4 });
                h.write(&data[..split]);
                h.write(&data[split..len]);
                assert_eq!(h.finish(), std.finish(), "len {len} split {split}");
            }
        }
    }

    #[test]
    fn hash_is_chunk_invariant() {
        let k = key(
            false,
            "/some/long/path/with?query=string&and=more",
            "Example.com",
        )
        .unwrap();
        let whole = k.hash(SEED);
        let p = k.path;
        for a in 0..p.len() {
            for b in a..p.len() {
                let mut h = KeyHasher::new(SEED, false, b"example.com");
                h.path(&p[..a]);
                h.path(&p[a..b]);
                h.path(&p[b..]);
                assert_eq!(h.finish(), whole);
            }
        }
    }

    #[test]
    fn host_normalization() {
        assert_eq!(normalize_host(b"Example.com:80", false), b"Example.com");
        assert_eq!(normalize_host(b"example.com:", false), b"example.com");
        assert_eq!(normalize_host(b"example.com:0080", false), b"example.com");
        assert_eq!(
            normalize_host(b"example.com:443", false),
            b"example.com:443"
        );
        assert_eq!(normalize_host(b"example.com:443", true), b"example.com");
        assert_eq!(
            normalize_host(b"example.com:8080", false),
            b"example.com:8080"
        );
        assert_eq!(normalize_host(b"[::1]:80", false), b"[::1]");
        assert_eq!(normalize_host(b"[::1]", false), b"[::1]");
        assert_eq!(normalize_host(b"[::1]:81", false), b"[::1]:81");
        assert_eq!(normalize_host(b" a ", false), b"a");
        assert_eq!(normalize_host(b"", false), b"");
        assert_eq!(normalize_host(b"a:99999999999", false), b"a:99999999999");
    }

    #[test]
    fn equivalent_keys_hash_equal() {
        let a = key(false, "/x?y", "EXAMPLE.com:80").unwrap();
        let b = key(false, "/x?y", "example.COM").unwrap();
        assert!(a.matches(&b));
        assert_eq!(a.hash(SEED), b.hash(SEED));
        // Absolute form with matching Host.
        let c = key(false, "HTTP://example.com/x?y", "example.com").unwrap();
        assert!(a.matches(&c));
        assert_eq!(c.hash(SEED), a.hash(SEED));
        let d = key(false, "http://user@example.com:80", "example.com").unwrap();
        assert_eq!(d.path, b"/");
    }

    #[test]
    fn distinct_keys_differ() {
        let base = key(false, "/x", "a.com").unwrap();
        for other in [
            key(true, "/x", "a.com").unwrap(),
            key(false, "/X", "a.com").unwrap(),
            key(false, "/x/", "a.com").unwrap(),
            key(false, "/x", "a.com:8080").unwrap(),
            key(false, "/x", "b.com").unwrap(),
        ] {
            assert!(!base.matches(&other));
            assert_ne!(base.hash(SEED), other.hash(SEED));
        }
        // Host/path boundary is unambiguous.
        let a = key(false, "/bc", "a").unwrap();
        let b = key(false, "/c", "a/b").unwrap();
        assert_ne!(a.hash(SEED), b.hash(SEED));
        assert_ne!(base.hash(SEED), base.hash(Seed { k0: 1, k1: 3 }));
    }

    #[test]
    fn uncacheable_targets() {
        assert_eq!(key(false, "*", "a.com"), None);
        assert_eq!(key(false, "a.com:443", "a.com"), None);
        assert_eq!(key(false, "", "a.com"), None);
        assert_eq!(key(false, "ftp://a.com/x", "a.com"), None);
        // Scheme of the URI must be the connection's.
        assert_eq!(key(false, "https://a.com/x", "a.com"), None);
        // Absolute-form authority must be the Host.
        assert_eq!(key(false, "http://b.com/x", "a.com"), None);
        assert_eq!(key(false, "http://b.com/x", ""), None);
        assert_eq!(key(false, "http:///x", ""), None);
    }

    #[test]
    fn resolve_references() {
        let k = key(true, "/a/b", "h.com").unwrap();
        let r = k.resolve(b"/c?d#frag").unwrap();
        assert_eq!(
            (r.https, r.host, r.path),
            (true, &b"h.com"[..], &b"/c?d"[..])
        );
        let r = k.resolve(b"https://H.com:443/c").unwrap();
        assert!(r.same_origin(&k) && r.path == b"/c");
        let r = k.resolve(b"http://h.com/c").unwrap();
        assert!(!r.same_origin(&k));
        let r = k.resolve(b"//other.com/c").unwrap();
        assert!(r.https && r.host == b"other.com" && !r.same_origin(&k));
        assert_eq!(k.resolve(b"c/d"), None);
        assert_eq!(k.resolve(b"mailto:x@y"), None);
        assert_eq!(k.resolve(b""), None);
    }
}
