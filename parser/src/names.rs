//! Recognition of header field names.
//!
//! A name is recognized from its complete bytes: straight from the input chunk when the whole
//! name is in one chunk (the common case), otherwise from the parser's small name buffer, which
//! holds the first [`NAME_BUF`] bytes of a name that crossed a chunk boundary. Every recognized
//! name is shorter than the buffer, so both paths see the same bytes and agree.

use super::types::HeaderId;

/// Bytes of a split name (or token) the parser keeps; longer names are never recognized.
pub(super) const NAME_BUF: usize = 20;

/// Compares a field name (token bytes, any case) with a lowercase literal of the same length.
///
/// `b | 0x20` folds ASCII letters; among token characters it maps nothing else onto a
/// lowercase letter or `-` (the only byte other than `-` with `b | 0x20 == b'-'` is CR), so
/// the comparison is exact for token input. Names of 8 bytes or more are compared as
/// little-endian words.
#[inline(always)]
pub(super) fn eq_fold(name: &[u8], lit: &[u8]) -> bool {
    if name.len() != lit.len() {
        return false;
    }
    if name.len() < 8 {
        return name.iter().zip(lit).all(|(&a, &b)| a | 0x20 == b);
    }
    // Words at 0, 8, ... and one ending at the last byte (overlapping the previous one).
    let word_eq = |a: Option<&[u8; 8]>, b: Option<&[u8; 8]>| match (a, b) {
        (Some(a), Some(b)) => (u64::from_le_bytes(*a) | FOLD) == u64::from_le_bytes(*b),
        _ => false,
    };
    // An index loop rather than `chunks_exact().zip()`, whose out-of-line code in the kernel
    // build ends in an unreachable trap that objtool reports as falling through.
    let mut i = 0usize;
    while let (Some(a), Some(b)) = (
        name.get(i..).and_then(|s| s.first_chunk()),
        lit.get(i..).and_then(|s| s.first_chunk()),
    ) {
        if !word_eq(Some(a), Some(b)) {
            return false;
        }
        i = i.wrapping_add(8); // At most the length: the chunk was there.
    }
    word_eq(name.last_chunk(), lit.last_chunk())
}

const FOLD: u64 = 0x2020_2020_2020_2020;

/// The recognized names, lowercase.
const NAMES: [(&[u8], HeaderId); 26] = [
    (b"te", HeaderId::Te),
    (b"age", HeaderId::Age),
    (b"host", HeaderId::Host),
    (b"date", HeaderId::Date),
    (b"etag", HeaderId::ETag),
    (b"vary", HeaderId::Vary),
    (b"cookie", HeaderId::Cookie),
    (b"pragma", HeaderId::Pragma),
    (b"expect", HeaderId::Expect),
    (b"expires", HeaderId::Expires),
    (b"upgrade", HeaderId::Upgrade),
    (b"referer", HeaderId::Referer),
    (b"trailer", HeaderId::Trailer),
    (b"connection", HeaderId::Connection),
    (b"keep-alive", HeaderId::KeepAlive),
    (b"set-cookie", HeaderId::SetCookie),
    (b"user-agent", HeaderId::UserAgent),
    (b"content-type", HeaderId::ContentType),
    (b"cache-control", HeaderId::CacheControl),
    (b"last-modified", HeaderId::LastModified),
    (b"authorization", HeaderId::Authorization),
    (b"if-none-match", HeaderId::IfNoneMatch),
    (b"content-length", HeaderId::ContentLength),
    (b"x-forwarded-for", HeaderId::XForwardedFor),
    (b"transfer-encoding", HeaderId::TransferEncoding),
    (b"if-modified-since", HeaderId::IfModifiedSince),
];

/// Slot of a name in [`TABLE`]: a perfect hash of the recognized names (checked at compile
/// time by [`build_table`]), so recognition is one table load and one compare, without
/// data-dependent branches.
#[inline(always)]
const fn slot(first: u8, last: u8, len: usize) -> usize {
    ((first | 0x20) as usize)
        .wrapping_add(len)
        .wrapping_add(((last | 0x20) as usize).wrapping_mul(52))
        & 63
}

/// A table slot: a recognized name as zero-padded little-endian words.
#[derive(Clone, Copy)]
struct Entry {
    len: usize,
    words: [u64; 3],
    /// The bytes of `words` that belong to the name.
    masks: [u64; 3],
    lit: &'static [u8],
    id: HeaderId,
}

const EMPTY: Entry = Entry {
    len: 0,
    words: [0; 3],
    masks: [0; 3],
    lit: b"",
    id: HeaderId::Other,
};

// Evaluated at compile time only: a collision or an out-of-range index fails the build.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn build_table() -> [Entry; 64] {
    let mut t = [EMPTY; 64];
    let mut i = 0;
    while i < NAMES.len() {
        let (name, id) = NAMES[i];
        assert!(name.len() <= 24);
        let k = slot(name[0], name[name.len() - 1], name.len());
        assert!(t[k].len == 0, "header name hash collision");
        let mut words = [0u64; 3];
        let mut masks = [0u64; 3];
        let mut j = 0;
        while j < name.len() {
            words[j / 8] |= (name[j] as u64) << (8 * (j % 8));
            masks[j / 8] |= 0xff << (8 * (j % 8));
            j += 1;
        }
        t[k] = Entry {
            len: name.len(),
            words,
            masks,
            lit: name,
            id,
        };
        i += 1;
    }
    t
}

static TABLE: [Entry; 64] = build_table();

// Evaluated at compile time only: indices are below 64, lengths below 256.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn build_lens() -> [u8; 64] {
    let mut l = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        l[i] = TABLE[i].len as u8;
        i += 1;
    }
    l
}

/// The name lengths of [`TABLE`] (0 for an empty slot), which reject most names with one
/// byte load.
static LENS: [u8; 64] = build_lens();

/// Recognizes a field name. `name` must consist of token characters.
#[inline(always)]
pub(super) fn header_id(name: &[u8]) -> HeaderId {
    let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
        return HeaderId::Other;
    };
    match TABLE.get(slot(first, last, name.len())) {
        Some(e) if eq_fold(name, e.lit) => e.id,
        _ => HeaderId::Other,
    }
}

/// Recognizes the name `line[..n]` (token characters) of a field line: one table load and a
/// length compare (which rejects most other names), then three masked word compares without
/// data-dependent branches when the line has at least 24 bytes (names longer than 24 bytes are
/// never recognized); same result as [`header_id`].
#[inline(always)]
pub(super) fn header_id_in_line(line: &[u8], n: usize) -> HeaderId {
    let (Some(words), Some(&first), Some(&last)) = (
        line.first_chunk::<24>(),
        line.first(),
        line.get(n.wrapping_sub(1)),
    ) else {
        return header_id(line.get(..n).unwrap_or_default());
    };
    let k = slot(first, last, n);
    if LENS.get(k).map(|&l| usize::from(l)) != Some(n) {
        return HeaderId::Other;
    }
    let Some(e) = TABLE.get(k) else {
        return HeaderId::Other;
    };
    let x = u128::from_le_bytes(*words.first_chunk::<16>().unwrap_or(&[0; 16]));
    let w2 = u64::from_le_bytes(*words.last_chunk::<8>().unwrap_or(&[0; 8]));
    let [m0, m1, m2] = e.masks;
    let [l0, l1, l2] = e.words;
    // Truncations: the low and the high word of `x`.
    let d = (((x as u64) | FOLD) & m0 ^ l0)
        | ((((x >> 64) as u64) | FOLD) & m1 ^ l1)
        | ((w2 | FOLD) & m2 ^ l2);
    if d == 0 {
        e.id
    } else {
        HeaderId::Other
    }
}

/// Bit of `id` in a set of header ids.
#[inline(always)]
pub(super) const fn bit(id: HeaderId) -> u32 {
    1u32 << (id as u32 & 31)
}

/// Fields that may appear at most once (besides Host and Content-Length, which have their own
/// errors).
pub(super) const SINGLETON: u32 = bit(HeaderId::ContentType)
    | bit(HeaderId::Authorization)
    | bit(HeaderId::UserAgent)
    | bit(HeaderId::Referer)
    | bit(HeaderId::IfModifiedSince)
    | bit(HeaderId::Age)
    | bit(HeaderId::Date)
    | bit(HeaderId::Expires)
    | bit(HeaderId::ETag)
    | bit(HeaderId::LastModified);

/// Singletons a response may repeat. RFC 9111 section 4.2.1 tells a cache what to do with
/// them (the first Age line is used; repeated Date, Expires, Last-Modified or ETag lines make
/// the field unusable: the response is stale or has no validator), origins do send them, and
/// they do not frame the message, so refusing the response (502) would only break the site.
/// A request repeating one of its singletons is still refused.
pub(super) const RESPONSE_REPEATABLE: u32 = bit(HeaderId::Age)
    | bit(HeaderId::Date)
    | bit(HeaderId::Expires)
    | bit(HeaderId::ETag)
    | bit(HeaderId::LastModified);

/// The singletons of a request (`true`) or a response.
pub(super) const fn singletons(request: bool) -> u32 {
    if request {
        SINGLETON
    } else {
        SINGLETON & !RESPONSE_REPEATABLE
    }
}

/// [`ACTION_IDS`] for a request (`true`) or a response: the fields a response may repeat need
/// nothing but their event there.
pub(super) const fn action_ids(request: bool) -> u32 {
    ACTION_IDS & !SINGLETON | singletons(request)
}

/// Fields for which the head's `on_name` does more than record the id: the singletons and
/// the fields with a value mini-parser or a flag.
pub(super) const ACTION_IDS: u32 = SINGLETON
    | bit(HeaderId::Host)
    | bit(HeaderId::ContentLength)
    | bit(HeaderId::TransferEncoding)
    | bit(HeaderId::Connection)
    | bit(HeaderId::Upgrade)
    | bit(HeaderId::Expect);

/// Fields rejected in a trailer section (RFC 9110 section 6.5.1: framing, routing, connection
/// management, authentication and state, request modifiers, cache controls, content format).
/// The proxy never merges trailers into the head, but a recipient behind it that does would
/// act on fields the proxy's checks (tables, frang, cache) never saw.
pub(super) const FORBIDDEN_TRAILER: u32 = bit(HeaderId::ContentLength)
    | bit(HeaderId::TransferEncoding)
    | bit(HeaderId::Host)
    | bit(HeaderId::Connection)
    | bit(HeaderId::KeepAlive)
    | bit(HeaderId::Upgrade)
    | bit(HeaderId::Te)
    | bit(HeaderId::Trailer)
    | bit(HeaderId::Expect)
    | bit(HeaderId::Authorization)
    | bit(HeaderId::Cookie)
    | bit(HeaderId::SetCookie)
    | bit(HeaderId::XForwardedFor)
    | bit(HeaderId::CacheControl)
    | bit(HeaderId::Pragma)
    | bit(HeaderId::IfNoneMatch)
    | bit(HeaderId::IfModifiedSince)
    | bit(HeaderId::ContentType);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_all_case_insensitively() {
        let all: &[(&str, HeaderId)] = &[
            ("Host", HeaderId::Host),
            ("Content-Length", HeaderId::ContentLength),
            ("Transfer-Encoding", HeaderId::TransferEncoding),
            ("Connection", HeaderId::Connection),
            ("Cache-Control", HeaderId::CacheControl),
            ("Pragma", HeaderId::Pragma),
            ("Expires", HeaderId::Expires),
            ("Date", HeaderId::Date),
            ("Age", HeaderId::Age),
            ("ETag", HeaderId::ETag),
            ("Last-Modified", HeaderId::LastModified),
            ("If-None-Match", HeaderId::IfNoneMatch),
            ("If-Modified-Since", HeaderId::IfModifiedSince),
            ("Authorization", HeaderId::Authorization),
            ("Cookie", HeaderId::Cookie),
            ("Set-Cookie", HeaderId::SetCookie),
            ("X-Forwarded-For", HeaderId::XForwardedFor),
            ("Upgrade", HeaderId::Upgrade),
            ("Expect", HeaderId::Expect),
            ("Vary", HeaderId::Vary),
            ("Keep-Alive", HeaderId::KeepAlive),
            ("Content-Type", HeaderId::ContentType),
            ("User-Agent", HeaderId::UserAgent),
            ("Referer", HeaderId::Referer),
            ("TE", HeaderId::Te),
            ("Trailer", HeaderId::Trailer),
        ];
        for &(n, id) in all {
            assert!(n.len() < NAME_BUF);
            assert_eq!(header_id(n.as_bytes()), id, "{n}");
            assert_eq!(header_id(n.to_ascii_lowercase().as_bytes()), id);
            assert_eq!(header_id(n.to_ascii_uppercase().as_bytes()), id);
            // One token byte changed anywhere: not recognized.
            for i in 0..n.len() {
                for c in [b'_', b'!', b'0', b'x', b'~', b'`', b'^'] {
                    let mut m = n.as_bytes().to_vec();
                    if m[i].to_ascii_lowercase() == c {
                        continue;
                    }
                    m[i] = c;
                    assert_eq!(
                        header_id(&m),
                        HeaderId::Other,
                        "{}",
                        String::from_utf8_lossy(&m)
                    );
                }
            }
        }
        assert_eq!(header_id(b""), HeaderId::Other);
        // The word-wise recognizer agrees, for every prefix/suffix variant of every name.
        for &(n, _) in all {
            for cut in 0..=n.len() {
                for extra in ["", "x", "-", "Xy", "-a-b-c-d-e-f-g-h"] {
                    let name = format!("{}{}", &n[..cut], extra);
                    if name.is_empty() {
                        continue;
                    }
                    for case in [name.clone(), name.to_uppercase(), name.to_lowercase()] {
                        let line = format!("{case}: some value that is long enough\r\n");
                        let b = line.as_bytes();
                        assert_eq!(
                            header_id_in_line(b, case.len()),
                            header_id(case.as_bytes()),
                            "{case}"
                        );
                        // Short lines take the byte-wise path.
                        let short = format!("{case}:\r\n");
                        assert_eq!(
                            header_id_in_line(short.as_bytes(), case.len()),
                            header_id(case.as_bytes())
                        );
                    }
                }
            }
        }
        assert_eq!(header_id(b"Hosts"), HeaderId::Other);
        assert_eq!(header_id(b"Content-Lengt"), HeaderId::Other);
    }
}
