//! Byte classes and the bulk scanners of the hot loops.
//!
//! The scalar scanners are what the kernel runs: a 256-entry class table and SWAR over u64
//! words (no SIMD, no FPU). With the `std` feature on x86_64 the long scans use SSE2 (always
//! present on x86_64) or AVX2 (runtime detection). Every scanner returns the index of the first
//! byte that needs attention, or the slice length; the variants are tested against each other.

/// tchar (RFC 9110 section 5.6.2).
pub(super) const TOKEN: u8 = 1;
/// Bytes accepted in a request-target: VCHAR except `#` and `\`.
pub(super) const URI: u8 = 2;
/// reg-name bytes: unreserved, sub-delims and `%` (RFC 3986).
pub(super) const HOST: u8 = 4;
/// HEXDIG.
pub(super) const HEX: u8 = 8;
/// Scheme bytes after the first: ALPHA DIGIT `+` `-` `.`.
pub(super) const SCHEME: u8 = 16;
/// qdtext (RFC 9110 section 5.6.4).
pub(super) const QDTEXT: u8 = 32;
/// VCHAR and obs-text (field-vchar).
pub(super) const VCHAR: u8 = 64;

// Evaluated at compile time only: an out-of-range index or overflow would fail the build.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn build() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0usize;
    while i < 256 {
        let b = i as u8;
        let alpha = b.is_ascii_alphabetic();
        let digit = b.is_ascii_digit();
        let mut c = 0u8;
        if alpha
            || digit
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
        {
            c |= TOKEN;
        }
        if b >= 0x21 && b <= 0x7e && b != b'#' && b != b'\\' {
            c |= URI;
        }
        if alpha
            || digit
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
            )
        {
            c |= HOST;
        }
        if b.is_ascii_hexdigit() {
            c |= HEX;
        }
        if alpha || digit || matches!(b, b'+' | b'-' | b'.') {
            c |= SCHEME;
        }
        if b == b'\t'
            || b == b' '
            || b == 0x21
            || (b >= 0x23 && b <= 0x5b)
            || (b >= 0x5d && b <= 0x7e)
            || b >= 0x80
        {
            c |= QDTEXT;
        }
        if (b >= 0x21 && b <= 0x7e) || b >= 0x80 {
            c |= VCHAR;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = build();

/// Whether `b` is in all of the classes in `mask`.
#[inline(always)]
#[allow(clippy::indexing_slicing)] // A u8 index into a 256-entry array is always in bounds.
pub(super) fn is(b: u8, mask: u8) -> bool {
    CLASS[usize::from(b)] & mask == mask
}

/// ASCII lowercase (token bytes only need letters folded).
#[inline(always)]
pub(super) const fn lower(b: u8) -> u8 {
    b.to_ascii_lowercase()
}

/// Index of the first byte of `s` that is not a token character (a table lookup per byte,
/// unrolled over 8-byte blocks).
#[inline(always)]
pub(super) fn token_len(s: &[u8]) -> usize {
    let mut i = 0usize;
    let mut rest = s;
    while let Some((w, tail)) = rest.split_first_chunk::<8>() {
        for (k, &b) in w.iter().enumerate() {
            if !is(b, TOKEN) {
                return i.wrapping_add(k); // < s.len()
            }
        }
        i = i.wrapping_add(8); // <= s.len()
        rest = tail;
    }
    for (k, &b) in rest.iter().enumerate() {
        if !is(b, TOKEN) {
            return i.wrapping_add(k); // < s.len()
        }
    }
    s.len()
}

/// Index of the first byte of `s` that is a control byte, SP, DEL, non-ASCII or `:` (the
/// end of a field name). The field-line fast path now finds the end of a name and checks its
/// bytes in one pass with [`token_len`]; this SWAR scanner stays, tested, for reference.
#[cfg(test)]
pub(super) fn name_len(s: &[u8]) -> usize {
    swar::name_len(s)
}

/// Whether every byte of `s` is in all classes of `mask` (branch-free over the bytes).
#[inline]
pub(super) fn all_class(s: &[u8], mask: u8) -> bool {
    let mut acc = mask;
    let mut rest = s;
    while let Some((w, tail)) = rest.split_first_chunk::<8>() {
        acc &= class(w[0])
            & class(w[1])
            & class(w[2])
            & class(w[3])
            & class(w[4])
            & class(w[5])
            & class(w[6])
            & class(w[7]);
        rest = tail;
    }
    rest.iter().fold(acc, |acc, &b| acc & class(b)) == mask
}

#[inline(always)]
#[allow(clippy::indexing_slicing)] // A u8 index into a 256-entry array is always in bounds.
fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

/// Index of the first byte of `s` that may not appear as-is in a field value or reason phrase:
/// a control byte (including HTAB, which the caller steps over) or DEL.
#[inline(always)]
pub(super) fn value_len(s: &[u8]) -> usize {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        // Short values end in the first two words: no call, no feature check.
        if let Some((w, rest)) = s.split_first_chunk::<16>() {
            let x = u128::from_le_bytes(*w);
            // Truncations: the low and the high word.
            let lo = swar::value_mask(x as u64);
            let hi = swar::value_mask((x >> 64) as u64);
            if lo != 0 {
                return (lo.trailing_zeros() / 8) as usize;
            }
            if hi != 0 {
                return 8usize.wrapping_add((hi.trailing_zeros() / 8) as usize);
            }
            if rest.len() >= 16 {
                return simd::value_len(rest).wrapping_add(16); // <= s.len()
            }
        }
    }
    swar::value_len(s)
}

/// Index of the first byte of `s` that is not a request-target byte ([`URI`]).
#[inline]
pub(super) fn uri_len(s: &[u8]) -> usize {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if s.len() >= 16 {
            return simd::uri_len(s);
        }
    }
    swar::uri_len(s)
}

/// Word-at-a-time scanners: the lowest flagged byte of each mask is exact (borrows and carries
/// only propagate towards higher bytes, which come later in memory on little- and big-endian
/// alike because words are loaded little-endian).
pub(super) mod swar {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;

    /// Flags bytes equal to zero.
    #[inline(always)]
    const fn zero(x: u64) -> u64 {
        x.wrapping_sub(LO) & !x & HI
    }

    /// Flags bytes below `n` (`n` <= 0x80), given as `n * LO`.
    #[inline(always)]
    const fn below(x: u64, n_lo: u64) -> u64 {
        x.wrapping_sub(n_lo) & !x & HI
    }

    /// Flags control bytes and DEL: `below(x, 0x20) | zero(x ^ 0x7f)`, sharing the `!x & HI`
    /// term (`!(x ^ 0x7f)` and `!x` have the same high bits).
    #[inline(always)]
    pub(in super::super) const fn value_mask(x: u64) -> u64 {
        (x.wrapping_sub(0x20 * LO) | (x ^ (0x7f * LO)).wrapping_sub(LO)) & !x & HI
    }

    #[inline(always)]
    const fn uri_mask(x: u64) -> u64 {
        // <= 0x20, >= 0x7f, '#', '\'.
        below(x, 0x21 * LO)
            | ((x.wrapping_add(LO) | x) & HI)
            | zero(x ^ (0x23 * LO))
            | zero(x ^ (0x5c * LO))
    }

    #[inline(always)]
    fn scan(s: &[u8], mask: impl Fn(u64) -> u64, slow: impl Fn(u8) -> bool) -> usize {
        let mut i = 0usize;
        let mut rest = s;
        while let Some((w, tail)) = rest.split_first_chunk::<8>() {
            let m = mask(u64::from_le_bytes(*w));
            if m != 0 {
                // trailing_zeros() / 8 < 8 and i + 8 <= s.len(): no overflow.
                return i.wrapping_add((m.trailing_zeros() / 8) as usize);
            }
            i = i.wrapping_add(8);
            rest = tail;
        }
        match rest.iter().position(|&b| slow(b)) {
            Some(p) => i.wrapping_add(p),
            None => s.len(),
        }
    }

    #[cfg(test)]
    #[inline(always)]
    const fn name_mask(x: u64) -> u64 {
        // <= 0x20, >= 0x7f, ':'.
        below(x, 0x21 * LO) | ((x.wrapping_add(LO) | x) & HI) | zero(x ^ (0x3a * LO))
    }

    /// See [`super::name_len`].
    #[cfg(test)]
    pub(in super::super) fn name_len(s: &[u8]) -> usize {
        scan(s, name_mask, |b| b <= 0x20 || b >= 0x7f || b == b':')
    }

    /// See [`super::value_len`]. Two words per step.
    #[inline(always)]
    pub(in super::super) fn value_len(s: &[u8]) -> usize {
        let mut i = 0usize;
        let mut rest = s;
        while let Some((w, tail)) = rest.split_first_chunk::<16>() {
            let x = u128::from_le_bytes(*w);
            // Truncations: the low and the high word.
            let lo = value_mask(x as u64);
            let hi = value_mask((x >> 64) as u64);
            if lo | hi != 0 {
                // i + 16 <= s.len(): no overflow.
                return if lo != 0 {
                    i.wrapping_add((lo.trailing_zeros() / 8) as usize)
                } else {
                    i.wrapping_add(8)
                        .wrapping_add((hi.trailing_zeros() / 8) as usize)
                };
            }
            i = i.wrapping_add(16);
            rest = tail;
        }
        i.wrapping_add(scan(rest, value_mask, |b| b < 0x20 || b == 0x7f))
    }

    /// See [`super::uri_len`]. Two words per step.
    pub(in super::super) fn uri_len(s: &[u8]) -> usize {
        let mut i = 0usize;
        let mut rest = s;
        while let Some((w, tail)) = rest.split_first_chunk::<16>() {
            let x = u128::from_le_bytes(*w);
            // Truncations: the low and the high word.
            let lo = uri_mask(x as u64);
            let hi = uri_mask((x >> 64) as u64);
            if lo | hi != 0 {
                // i + 16 <= s.len(): no overflow.
                return if lo != 0 {
                    i.wrapping_add((lo.trailing_zeros() / 8) as usize)
                } else {
                    i.wrapping_add(8)
                        .wrapping_add((hi.trailing_zeros() / 8) as usize)
                };
            }
            i = i.wrapping_add(16);
            rest = tail;
        }
        i.wrapping_add(scan(rest, uri_mask, |b| !super::is(b, super::URI)))
    }
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod simd {
    use core::arch::x86_64::{
        __m128i, __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_max_epu8, _mm256_min_epu8,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm_cmpeq_epi8, _mm_loadu_si128,
        _mm_max_epu8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    pub(super) fn value_len(s: &[u8]) -> usize {
        if s.len() >= 32 && std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available (checked at run time just above).
            unsafe { value_len_avx2(s) }
        } else {
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { value_len_sse2(s) }
        }
    }

    pub(super) fn uri_len(s: &[u8]) -> usize {
        if s.len() >= 32 && std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available (checked at run time just above).
            unsafe { uri_len_avx2(s) }
        } else {
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { uri_len_sse2(s) }
        }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn load16(b: &[u8; 16]) -> __m128i {
        // SAFETY: `b` is 16 readable bytes; the unaligned load has no alignment requirement.
        unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn load32(b: &[u8; 32]) -> __m256i {
        // SAFETY: `b` is 32 readable bytes; the unaligned load has no alignment requirement.
        unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
    }

    #[target_feature(enable = "sse2")]
    fn value_len_sse2(s: &[u8]) -> usize {
        let ctl = _mm_set1_epi8(0x1f);
        let del = _mm_set1_epi8(0x7f);
        let mut i = 0usize;
        let mut rest = s;
        while let Some((w, tail)) = rest.split_first_chunk::<16>() {
            let v = load16(w);
            let bad = _mm_or_si128(
                _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v),
                _mm_cmpeq_epi8(v, del),
            );
            let m = _mm_movemask_epi8(bad) as u32;
            if m != 0 {
                return i.wrapping_add(m.trailing_zeros() as usize);
            }
            i = i.wrapping_add(16);
            rest = tail;
        }
        i.wrapping_add(super::swar::value_len(rest))
    }

    #[target_feature(enable = "avx2")]
    fn value_len_avx2(s: &[u8]) -> usize {
        let ctl = _mm256_set1_epi8(0x1f);
        let del = _mm256_set1_epi8(0x7f);
        let mut i = 0usize;
        let mut rest = s;
        while let Some((w, tail)) = rest.split_first_chunk::<32>() {
            let v = load32(w);
            let bad = _mm256_or_si256(
                _mm256_cmpeq_epi8(_mm256_min_epu8(v, ctl), v),
                _mm256_cmpeq_epi8(v, del),
            );
            let m = _mm256_movemask_epi8(bad) as u32;
            if m != 0 {
                return i.wrapping_add(m.trailing_zeros() as usize);
            }
            i = i.wrapping_add(32);
            rest = tail;
        }
        i.wrapping_add(value_len_sse2_or_swar(rest))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn value_len_sse2_or_swar(s: &[u8]) -> usize {
        if s.len() >= 16 {
            value_len_sse2(s)
        } else {
            super::swar::value_len(s)
        }
    }

    #[target_feature(enable = "sse2")]
    fn uri_len_sse2(s: &[u8]) -> usize {
        let sp = _mm_set1_epi8(0x20);
        let del = _mm_set1_epi8(0x7f);
        let hash = _mm_set1_epi8(b'#' as i8);
        let bsl = _mm_set1_epi8(b'\\' as i8);
        let mut i = 0usize;
        let mut rest = s;
        while let Some((w, tail)) = rest.split_first_chunk::<16>() {
            let v = load16(w);
            // v <= 0x20 (unsigned): min(v, 0x20) == v; v >= 0x7f: max(v, 0x7f) == v.
            let low = _mm_cmpeq_epi8(_mm_min_epu8(v, sp), v);
            let high = _mm_cmpeq_epi8(_mm_max_epu8(v, del), v);
            let bad = _mm_or_si128(
                _mm_or_si128(low, high),
                _mm_or_si128(_mm_cmpeq_epi8(v, hash), _mm_cmpeq_epi8(v, bsl)),
            );
            let m = _mm_movemask_epi8(bad) as u32;
            if m != 0 {
                return i.wrapping_add(m.trailing_zeros() as usize);
            }
            i = i.wrapping_add(16);
            rest = tail;
        }
        i.wrapping_add(super::swar::uri_len(rest))
    }

    #[target_feature(enable = "avx2")]
    fn uri_len_avx2(s: &[u8]) -> usize {
        let sp = _mm256_set1_epi8(0x20);
        let del = _mm256_set1_epi8(0x7f);
        let hash = _mm256_set1_epi8(b'#' as i8);
        let bsl = _mm256_set1_epi8(b'\\' as i8);
        let mut i = 0usize;
        let mut rest = s;
        while let Some((w, tail)) = rest.split_first_chunk::<32>() {
            let v = load32(w);
            let low = _mm256_cmpeq_epi8(_mm256_min_epu8(v, sp), v);
            let high = _mm256_cmpeq_epi8(_mm256_max_epu8(v, del), v);
            let bad = _mm256_or_si256(
                _mm256_or_si256(low, high),
                _mm256_or_si256(_mm256_cmpeq_epi8(v, hash), _mm256_cmpeq_epi8(v, bsl)),
            );
            let m = _mm256_movemask_epi8(bad) as u32;
            if m != 0 {
                return i.wrapping_add(m.trailing_zeros() as usize);
            }
            i = i.wrapping_add(32);
            rest = tail;
        }
        if rest.len() >= 16 {
            i.wrapping_add(uri_len_sse2(rest))
        } else {
            i.wrapping_add(super::swar::uri_len(rest))
        }
    }

    #[cfg(test)]
    pub(super) fn all_value(s: &[u8]) -> [usize; 2] {
        let a = if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 checked just above.
            unsafe { value_len_avx2(s) }
        } else {
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { value_len_sse2(s) }
        };
        // SAFETY: SSE2 is part of the x86_64 baseline.
        [a, unsafe { value_len_sse2(s) }]
    }

    #[cfg(test)]
    pub(super) fn all_uri(s: &[u8]) -> [usize; 2] {
        let a = if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 checked just above.
            unsafe { uri_len_avx2(s) }
        } else {
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { uri_len_sse2(s) }
        };
        // SAFETY: SSE2 is part of the x86_64 baseline.
        [a, unsafe { uri_len_sse2(s) }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_value(s: &[u8]) -> usize {
        s.iter()
            .position(|&b| b < 0x20 || b == 0x7f)
            .unwrap_or(s.len())
    }

    fn naive_uri(s: &[u8]) -> usize {
        s.iter().position(|&b| !is(b, URI)).unwrap_or(s.len())
    }

    #[test]
    fn classes() {
        for b in 0..=255u8 {
            let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is(b, TOKEN), tchar, "{b:#x}");
            assert_eq!(
                is(b, URI),
                (0x21..=0x7e).contains(&b) && b != b'#' && b != b'\\'
            );
        }
    }

    #[test]
    fn scanners_agree() {
        // Every byte value at every position of slices of every length up to 80.
        let mut buf = [b'a'; 70];
        for len in 0..buf.len() {
            for pos in 0..len {
                for b in 0..=255u8 {
                    buf[pos] = b;
                    let s = &buf[..len];
                    let v = naive_value(s);
                    assert_eq!(swar::value_len(s), v);
                    assert_eq!(value_len(s), v);
                    let nm = s
                        .iter()
                        .position(|&b| b <= 0x20 || b >= 0x7f || b == b':')
                        .unwrap_or(s.len());
                    assert_eq!(name_len(s), nm);
                    let u = naive_uri(s);
                    assert_eq!(swar::uri_len(s), u);
                    assert_eq!(uri_len(s), u);
                    #[cfg(all(feature = "std", target_arch = "x86_64"))]
                    if len >= 16 {
                        assert_eq!(simd::all_value(s), [v, v]);
                        assert_eq!(simd::all_uri(s), [u, u]);
                    }
                    buf[pos] = b'a';
                }
            }
        }
    }

    #[test]
    fn scanners_two_bad_bytes() {
        // A later bad byte must not hide an earlier one (borrow/carry propagation).
        let mut buf = [b'x'; 40];
        for a in 0..40 {
            for b in a..40 {
                for (x, y) in [
                    (0u8, 0xffu8),
                    (0x7f, 0x00),
                    (b'#', 0x80),
                    (0x1f, 0x20),
                    (0xff, 0x7e),
                ] {
                    buf[a] = x;
                    buf[b] = y;
                    assert_eq!(value_len(&buf), naive_value(&buf));
                    assert_eq!(uri_len(&buf), naive_uri(&buf));
                    assert_eq!(swar::value_len(&buf), naive_value(&buf));
                    assert_eq!(swar::uri_len(&buf), naive_uri(&buf));
                    let nm = buf
                        .iter()
                        .position(|&b| b <= 0x20 || b >= 0x7f || b == b':')
                        .unwrap_or(buf.len());
                    assert_eq!(name_len(&buf), nm);
                    buf[a] = b'x';
                    buf[b] = b'x';
                }
            }
        }
    }
}
