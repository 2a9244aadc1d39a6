//! Keyed hashing of client addresses.
//!
//! The address is chosen by the attacker (any address of an IPv6 /64, spoofed SYNs), so an
//! unkeyed hash would let them aim every client at one bucket or one shard and turn lookups
//! into list walks under a spinlock. SipHash-1-3 with a secret key (from the kernel's random
//! pool at module load) makes the bucket of an address unpredictable without the key; it costs
//! about 20 ns for the 16 bytes of an address.

/// A client address: IPv6, with IPv4 as v4-mapped IPv6 (`::ffff:a.b.c.d`), so one table holds
/// both families and an IPv4 client has one key whichever socket family it arrived on.
pub type Addr = [u8; 16];

/// The v4-mapped form of an IPv4 address.
pub const fn addr_v4(ip: [u8; 4]) -> Addr {
    let [a, b, c, d] = ip;
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d]
}

/// The secret key of the address hash.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HashKey {
    k0: u64,
    k1: u64,
}

impl core::fmt::Debug for HashKey {
    // Never print the key: it is the whole defence against hash flooding.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HashKey(..)")
    }
}

impl HashKey {
    /// A key from 16 random bytes.
    pub const fn new(bytes: [u8; 16]) -> Self {
        let [a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7] = bytes;
        Self {
            k0: u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            k1: u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
        }
    }

    /// SipHash-1-3 of `addr`.
    pub fn hash(&self, addr: &Addr) -> u64 {
        sip::<1, 3>(self.k0, self.k1, addr)
    }
}

/// The shard (`0..shards`) that holds `hash`'s client. Uses the low 32 bits of the hash; the
/// tables use the high 32 bits for their buckets, so one key serves both and the addresses of
/// one shard still spread over all of its buckets. `shards` of 0 gives 0.
pub fn shard_of(hash: u64, shards: usize) -> usize {
    reduce(hash & 0xffff_ffff, shards)
}

/// Maps a 32-bit value to `0..n` by multiply-shift (Lemire), which needs no division and no
/// power-of-two `n`. `n` above `u32::MAX` is treated as `u32::MAX`.
pub(super) fn reduce(x32: u64, n: usize) -> usize {
    let n = u64::try_from(n)
        .unwrap_or(u64::MAX)
        .min(u64::from(u32::MAX));
    // x32 < 2^32 and n < 2^32: the product fits in 64 bits, the result is below n.
    let r = (x32 & 0xffff_ffff).wrapping_mul(n).wrapping_shr(32);
    usize::try_from(r).unwrap_or(0)
}

/// SipHash-c-d of a 16-byte message (two words, then the length block).
fn sip<const C: usize, const D: usize>(k0: u64, k1: u64, msg: &[u8; 16]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let [m0, m1, m2, m3, m4, m5, m6, m7, n0, n1, n2, n3, n4, n5, n6, n7] = *msg;
    let words = [
        u64::from_le_bytes([m0, m1, m2, m3, m4, m5, m6, m7]),
        u64::from_le_bytes([n0, n1, n2, n3, n4, n5, n6, n7]),
        // No tail bytes; the final block carries the length (16) in its top byte.
        16u64 << 56,
    ];
    for m in words {
        v[3] ^= m;
        for _ in 0..C {
            round(&mut v);
        }
        v[0] ^= m;
    }
    v[2] ^= 0xff;
    for _ in 0..D {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[inline(always)]
fn round(v: &mut [u64; 4]) {
    let [mut v0, mut v1, mut v2, mut v3] = *v;
    v0 = v0.wrapping_add(v1);
    v1 = v1.rotate_left(13);
    v1 ^= v0;
    v0 = v0.rotate_left(32);
    v2 = v2.wrapping_add(v3);
    v3 = v3.rotate_left(16);
    v3 ^= v2;
    v0 = v0.wrapping_add(v3);
    v3 = v3.rotate_left(21);
    v3 ^= v0;
    v2 = v2.wrapping_add(v1);
    v1 = v1.rotate_left(17);
    v1 ^= v2;
    v2 = v2.rotate_left(32);
    *v = [v0, v1, v2, v3];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(i: u32) -> Addr {
        let mut x = [0u8; 16];
        x[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        x[12..].copy_from_slice(&i.to_be_bytes());
        x
    }

    #[test]
    #[allow(deprecated)]
    fn sip24_matches_std() {
        // The same round function with 2-4 rounds is std's (deprecated) SipHasher: checks
        // the constants, the word order and the length block.
        use std::hash::Hasher;
        for (k0, k1, i) in [(0, 0, 0), (1, 2, 7), (u64::MAX, 0x0123_4567, 99)] {
            let m = a(i);
            let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
            h.write(&m);
            assert_eq!(sip::<2, 4>(k0, k1, &m), h.finish());
        }
    }

    #[test]
    fn v4_mapped() {
        assert_eq!(
            addr_v4([192, 0, 2, 1]),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 192, 0, 2, 1]
        );
    }

    #[test]
    fn different_keys_give_different_hashes() {
        let k1 = HashKey::new([1; 16]);
        let k2 = HashKey::new([2; 16]);
        let same = (0..1000)
            .filter(|&i| k1.hash(&a(i)) == k2.hash(&a(i)))
            .count();
        assert_eq!(same, 0);
        // Shards of 16: an attacker who found 1000 addresses sharing a shard under one key
        // finds them spread under another.
        let target = shard_of(k1.hash(&a(0)), 16);
        let chosen: Vec<u32> = (0..100_000)
            .filter(|&i| shard_of(k1.hash(&a(i)), 16) == target)
            .take(1000)
            .collect();
        assert_eq!(chosen.len(), 1000);
        let mut per_shard = [0u32; 16];
        for &i in &chosen {
            per_shard[shard_of(k2.hash(&a(i)), 16)] += 1;
        }
        assert!(per_shard.iter().all(|&n| n < 150), "{per_shard:?}");
        assert!(format!("{k1:?}") == "HashKey(..)");
    }

    #[test]
    fn reduce_is_in_range_and_uniform() {
        assert_eq!(reduce(0xffff_ffff, 0), 0);
        assert_eq!(reduce(0xffff_ffff, 10), 9);
        assert_eq!(reduce(0, 10), 0);
        let k = HashKey::new(*b"0123456789abcdef");
        let mut n = [0u32; 7];
        for i in 0..70_000 {
            n[shard_of(k.hash(&a(i)), 7)] += 1;
        }
        assert!(n.iter().all(|&c| (9_000..11_000).contains(&c)), "{n:?}");
    }
}
