//! `http_*_brange`: the bytes Tempesta FW lets through in each part of a request, narrowed by
//! the operator (`http_uri_brange 0x2f 0x41-0x5a 0x61-0x7a 0x30-0x39;`).
//!
//! Each directive takes bytes and inclusive ranges of bytes, in hex (`0x41`) or decimal
//! (`65`), and replaces the default alphabet of its part with exactly that set. As in
//! Tempesta, NUL, LF and CR can never be allowed, nor the separators a part is split on (`"`
//! in entity tags, `;` and `=` in cookies, `,` in `X-Forwarded-For`, `,` and `;` in tokens,
//! `,` in Cache-Control elements). Which bytes of a request each set covers is the firewall's
//! business (`filter::brange`).

use super::error::{Error, ErrorKind};
use super::tree::{Node, Tree};

/// A set of bytes: bit `b % 64` of word `b / 64`.
pub type ByteSet = [u64; 4];

/// The directives, in the order [`branges`] returns their sets, with the separators each
/// may not allow. What each covers: `filter::brange`.
pub const DIRECTIVES: [(&[u8], &[u8]); 8] = [
    (b"http_uri_brange", b""),
    (b"http_token_brange", b",;"),
    (b"http_qetoken_brange", b","),
    (b"http_nctl_brange", b""),
    (b"http_ctext_vchar_brange", b""),
    (b"http_xff_brange", b","),
    (b"http_cookie_brange", b";="),
    (b"http_etag_brange", b"\""),
];

/// A byte value, hex (`0x41`) or decimal (`65`), as Tempesta's integers are written.
fn byte(t: &[u8]) -> Option<u8> {
    super::values::parse_uint(t)
        .ok()
        .and_then(|v| u8::try_from(v).ok())
}

fn add(set: &mut ByteSet, b: u8) {
    if let Some(w) = set.get_mut(usize::from(b >> 6)) {
        *w |= 1u64 << (b & 63);
    }
}

/// Parses one `http_*_brange` node into a set.
pub(crate) fn parse_brange<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<ByteSet, Error<'s>> {
    let name = tree.name(node);
    let sep = DIRECTIVES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&b""[..], |(_, s)| s);
    let mut set = [0u64; 4];
    for a in tree.args(node) {
        let t = a.text;
        let bad = || tree.error(node, ErrorKind::InvalidValue("byte or byte range", t));
        let (lo, hi) = match t.iter().position(|&c| c == b'-') {
            Some(dash) => {
                let lo = t.get(..dash).and_then(byte).ok_or_else(bad)?;
                let hi = t
                    .get(dash.saturating_add(1)..)
                    .and_then(byte)
                    .ok_or_else(bad)?;
                (lo, hi)
            }
            None => {
                let b = byte(t).ok_or_else(bad)?;
                (b, b)
            }
        };
        if lo > hi {
            return Err(bad());
        }
        for b in lo..=hi {
            if matches!(b, 0 | b'\n' | b'\r') || sep.contains(&b) {
                return Err(tree.error(node, ErrorKind::InvalidValue("byte for this alphabet", t)));
            }
            add(&mut set, b);
        }
    }
    Ok(set)
}

/// Whether `name` is one of the `http_*_brange` directives.
pub(crate) fn is_brange(name: &[u8]) -> bool {
    DIRECTIVES.iter().any(|(n, _)| *n == name)
}

/// The global `http_*_brange` directives' sets, in [`DIRECTIVES`] order (`None`: not
/// configured; the last directive of a name counts).
pub fn branges<'s>(tree: &Tree<'s, '_>) -> Result<[Option<ByteSet>; 8], Error<'s>> {
    let mut b = [None; 8];
    for node in tree.top_level().filter(|n| !n.is_rule()) {
        let name = tree.name(node);
        if let Some(slot) = DIRECTIVES
            .iter()
            .position(|(n, _)| *n == name)
            .and_then(|i| b.get_mut(i))
        {
            *slot = Some(parse_brange(tree, node)?);
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::with;
    use crate::{validate, Options};

    fn strict(src: &str) -> Result<(), String> {
        with(src, |t| {
            validate(t, &Options::STRICT).map_err(|e| e.to_string())
        })
    }

    fn has(set: &ByteSet, b: u8) -> bool {
        set[usize::from(b >> 6)] & (1u64 << (b & 63)) != 0
    }

    fn bytes(set: &ByteSet) -> Vec<u8> {
        (0..=255u8).filter(|&b| has(set, b)).collect()
    }

    #[test]
    fn sets_from_hex_decimal_and_ranges() {
        let b = with(
            "http_uri_brange 0x2d-57 0x41-90 0x61-126 0x2f;\nhttp_xff_brange 0x30-0x39 0x2e;",
            |t| branges(t).map_err(|e| e.to_string()),
        )
        .unwrap();
        let uri = bytes(&b[0].unwrap());
        assert_eq!(uri.len(), (0x39 - 0x2d + 1) + 26 + (126 - 0x61 + 1));
        assert!(uri.contains(&b'/') && uri.contains(&b'~') && !uri.contains(&b'+'));
        assert_eq!(bytes(&b[5].unwrap()), b".0123456789".to_vec());
        assert_eq!(b[6], None);
    }

    #[test]
    fn refused_like_tempesta() {
        // NUL, LF, CR in any alphabet; each alphabet's separators (Tempesta's own tests).
        for bad in [
            "http_uri_brange 0x00-0x7e;",
            "http_token_brange 0-126;",
            "http_nctl_brange 0x21-0x7e 0x00;",
            "http_xff_brange 0x0a 0x21-0x7e;",
            "http_ctext_vchar_brange 0x21-0x40 0x0d 0x41-0x7e;",
            "http_etag_brange 0x30-0x39 0x41-0x5a 0x61-0x7a 0x22;",
            "http_cookie_brange 0x30-0x39 0x41-0x5a 0x61-0x7a 0x3b 0x3d;",
            "http_xff_brange 0x30-0x39 0x3a 0x61-0x7a 0x2c;",
            "http_token_brange 0x61-0x7a 0x2c 0x3b;",
            "http_qetoken_brange 0x61-0x7a 0x2c;",
            "http_uri_brange 0x41-0x30;",
            "http_uri_brange 0x100;",
            "http_uri_brange 256;",
            "http_uri_brange abc;",
            "http_uri_brange;",
        ] {
            assert!(strict(bad).is_err(), "{bad}");
        }
        assert_eq!(
            strict("http_cookie_brange 0x3b;"),
            Err(
                "line 1: directive 'http_cookie_brange': invalid byte for this alphabet '0x3b'"
                    .into()
            )
        );
        assert_eq!(
            strict("http_uri_brange 0x25 0x2b 0x2c 0x2f 0x41-0x5a 0x61-0x7a 0x30-0x39 0x26 0x3f 0x3a 0x2d 0x2e 0x5b 0x5d 0x5f 0x3d;"),
            Ok(())
        );
    }
}
