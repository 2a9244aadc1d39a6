//! `http_*_brange`: the operator's alphabets for the parts of a request, checked on a head
//! the parser has already accepted (so its framing is trusted: one request line, field lines
//! `name: value`, CRLF or LF).
//!
//! What each alphabet covers (Tempesta FW's parser applies them to the same parts):
//! * `uri`: the request-target, and the `Referer` value;
//! * `token`: cookie names; `cookie`: cookie values (without the quotes of a quoted one);
//! * `xff`: each address of `X-Forwarded-For` (the list's commas and spaces are separators);
//! * `etag`: each entity tag of `If-None-Match` and `If-Match` (without `W/` and the quotes;
//!   `*` always passes);
//! * `qetoken`: each element of `Cache-Control` (`max-age=0`, commas and spaces separate);
//! * `nctl`: the dates of `If-Modified-Since`, `If-Unmodified-Since` and `Date`;
//! * `ctext_vchar`: the value of every other field, except those whose syntax the parser
//!   checks itself (`Host`, framing, `Connection` and its kin, `Content-Type`, `Pragma`).
//!
//! An alphabet only narrows: a byte the parser refuses stays refused whatever the set says.

use super::limits::trim_ows as trim;

/// A set of bytes: bit `b % 64` of word `b / 64`.
pub type ByteSet = [u64; 4];

/// The configured alphabets; `None` checks nothing beyond the parser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Alphabets {
    /// The request-target and `Referer`.
    pub uri: Option<ByteSet>,
    /// Cookie names.
    pub token: Option<ByteSet>,
    /// `Cache-Control` elements.
    pub qetoken: Option<ByteSet>,
    /// Dates.
    pub nctl: Option<ByteSet>,
    /// Values of the fields nothing else covers.
    pub ctext_vchar: Option<ByteSet>,
    /// `X-Forwarded-For` addresses.
    pub xff: Option<ByteSet>,
    /// Cookie values.
    pub cookie: Option<ByteSet>,
    /// Entity tags.
    pub etag: Option<ByteSet>,
}

/// The alphabet a request broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// `http_uri_brange`.
    Uri,
    /// `http_token_brange`.
    Token,
    /// `http_qetoken_brange`.
    Qetoken,
    /// `http_nctl_brange`.
    Nctl,
    /// `http_ctext_vchar_brange`.
    CtextVchar,
    /// `http_xff_brange`.
    Xff,
    /// `http_cookie_brange`.
    Cookie,
    /// `http_etag_brange`.
    Etag,
}

fn has(set: &ByteSet, b: u8) -> bool {
    set.get(usize::from(b >> 6))
        .is_some_and(|w| w & (1u64 << (b & 63)) != 0)
}

/// `bytes` all in `set` (or no set): else `part`.
fn check(set: &Option<ByteSet>, bytes: &[u8], part: Part) -> Result<(), Part> {
    match set {
        Some(s) if !bytes.iter().all(|&b| has(s, b)) => Err(part),
        _ => Ok(()),
    }
}

/// Fields whose values the parser checks itself: no alphabet applies.
const OWN_SYNTAX: [&[u8]; 9] = [
    b"host",
    b"content-length",
    b"transfer-encoding",
    b"connection",
    b"upgrade",
    b"expect",
    b"keep-alive",
    b"content-type",
    b"pragma",
];

impl Alphabets {
    /// Whether no alphabet is configured (nothing to check).
    pub fn is_empty(&self) -> bool {
        *self == Alphabets::default()
    }

    /// Checks a request head (request line, field lines, the empty line): the first part
    /// with a byte outside its alphabet.
    pub fn check_request(&self, head: &[u8]) -> Result<(), Part> {
        let mut lines = head
            .split(|&c| c == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let line = lines.next().unwrap_or_default();
        let target = line.split(|&c| c == b' ').nth(1).unwrap_or_default();
        check(&self.uri, target, Part::Uri)?;
        for l in lines.take_while(|l| !l.is_empty()) {
            let Some(colon) = l.iter().position(|&c| c == b':') else {
                continue;
            };
            let (name, v) = l.split_at(colon);
            let v = trim(v.get(1..).unwrap_or_default());
            self.check_field(name, v)?;
        }
        Ok(())
    }

    fn check_field(&self, name: &[u8], v: &[u8]) -> Result<(), Part> {
        let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
        if is(b"referer") {
            check(&self.uri, v, Part::Uri)
        } else if is(b"x-forwarded-for") {
            v.split(|&c| c == b',')
                .try_for_each(|a| check(&self.xff, trim(a), Part::Xff))
        } else if is(b"cookie") {
            v.split(|&c| c == b';').try_for_each(|pair| {
                let pair = trim(pair);
                let (n, val) = match pair.iter().position(|&c| c == b'=') {
                    Some(eq) => (
                        pair.get(..eq).unwrap_or_default(),
                        pair.get(eq.saturating_add(1)..).unwrap_or_default(),
                    ),
                    None => (pair, &[][..]),
                };
                let val = match val {
                    [b'"', inner @ .., b'"'] => inner,
                    v => v,
                };
                check(&self.token, n, Part::Token)?;
                check(&self.cookie, val, Part::Cookie)
            })
        } else if is(b"if-none-match") || is(b"if-match") {
            v.split(|&c| c == b',').try_for_each(|t| {
                let t = trim(t);
                if t == b"*" {
                    return Ok(());
                }
                let t = t.strip_prefix(b"W/").unwrap_or(t);
                let t = match t {
                    [b'"', inner @ .., b'"'] => inner,
                    t => t,
                };
                check(&self.etag, t, Part::Etag)
            })
        } else if is(b"cache-control") {
            v.split(|&c| c == b',')
                .try_for_each(|e| check(&self.qetoken, trim(e), Part::Qetoken))
        } else if is(b"if-modified-since") || is(b"if-unmodified-since") || is(b"date") {
            check(&self.nctl, v, Part::Nctl)
        } else if OWN_SYNTAX.iter().any(|n| is(n)) {
            Ok(())
        } else {
            check(&self.ctext_vchar, v, Part::CtextVchar)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ranges: &[(u8, u8)]) -> Option<ByteSet> {
        let mut s = [0u64; 4];
        for &(lo, hi) in ranges {
            for b in lo..=hi {
                s[usize::from(b >> 6)] |= 1 << (b & 63);
            }
        }
        Some(s)
    }

    fn req(a: &Alphabets, target: &str, field: &str) -> Result<(), Part> {
        let head = format!("GET {target} HTTP/1.1\r\nHost: x\r\n{field}\r\n\r\n");
        a.check_request(head.as_bytes())
    }

    #[test]
    fn uri_and_referer() {
        // Tempesta's test cases (tempesta-test, t_http_brange).
        let a = Alphabets {
            uri: set(&[
                (0x2f, 0x2f),
                (0x41, 0x5a),
                (0x61, 0x7a),
                (0x30, 0x39),
                (0x26, 0x26),
                (0x3f, 0x3f),
                (0x3a, 0x3a),
                (0x2d, 0x2e),
                (0x5f, 0x5f),
                (0x3d, 0x3d),
            ]),
            ..Default::default()
        };
        assert_eq!(req(&a, "/js/prism.min.js", "X: 1"), Ok(()));
        assert_eq!(req(&a, "/js%a", "X: 1"), Err(Part::Uri));
        let b = Alphabets {
            uri: set(&[(0x2d, 0x39), (0x41, 0x5a), (0x61, 0x7e)]),
            ..Default::default()
        };
        assert_eq!(req(&b, "/example~", "X: 1"), Ok(()));
        assert_eq!(req(&b, "/example@", "X: 1"), Err(Part::Uri));
        assert_eq!(req(&b, "/example_", "X: 1"), Err(Part::Uri));
        assert_eq!(req(&b, "/", "Referer: /example+"), Err(Part::Uri));
        assert_eq!(req(&b, "/", "Referer: /example-"), Ok(()));
        assert!(Alphabets::default().is_empty() && !b.is_empty());
    }

    #[test]
    fn fields() {
        let lower = set(&[(0x61, 0x7a)]);
        let e = Alphabets {
            etag: lower,
            ..Default::default()
        };
        for (v, ok) in [
            ("\"asdfqwerty\"", true),
            ("\"asdfqwerty\", \"sdfrgg\"", true),
            ("W/\"asdfqwerty\"", true),
            ("*", true),
            ("\"asdfQWErty\"", false),
        ] {
            assert_eq!(
                req(&e, "/", &format!("If-None-Match: {v}")).is_ok(),
                ok,
                "{v}"
            );
        }
        let c = Alphabets {
            cookie: set(&[(0x30, 0x39), (0x61, 0x7a)]),
            ..Default::default()
        };
        assert_eq!(req(&c, "/", "Cookie: id=QWErty"), Err(Part::Cookie));
        assert_eq!(req(&c, "/", "Cookie: ID=qwerty"), Ok(()));
        let c2 = Alphabets {
            cookie: set(&[(0x30, 0x39), (0x41, 0x5a), (0x61, 0x7a)]),
            ..Default::default()
        };
        assert_eq!(req(&c2, "/", "Cookie: id=qwerty; c2=v2"), Ok(()));
        let t = Alphabets {
            token: set(&[(0x41, 0x7a)]),
            ..Default::default()
        };
        assert_eq!(req(&t, "/", "Cookie: unknown=value"), Ok(()));
        assert_eq!(req(&t, "/", "Cookie: unknown%=value"), Err(Part::Token));
        let x = Alphabets {
            xff: set(&[(0x30, 0x39), (0x2e, 0x2e), (0x3a, 0x3a), (0x61, 0x7a)]),
            ..Default::default()
        };
        assert_eq!(
            req(
                &x,
                "/",
                "X-Forwarded-For: 5.10.50.6, 2001:db8:85a3:8d3:1319:8a2e:370:7348"
            ),
            Ok(())
        );
        let x4 = Alphabets {
            xff: set(&[(0x30, 0x39), (0x3a, 0x3a), (0x61, 0x7a)]),
            ..Default::default()
        };
        assert_eq!(req(&x4, "/", "X-Forwarded-For: 5.10.50.6"), Err(Part::Xff));
        let ua = Alphabets {
            ctext_vchar: set(&[(0x20, 0x7a)]),
            ..Default::default()
        };
        assert_eq!(req(&ua, "/", "User-Agent: Mozilla/5.0 (Windows 6.1; Win64; x64; rv:47.0) Gecko/20100101 Firefox/47.0"), Ok(()));
        let ua2 = Alphabets {
            ctext_vchar: set(&[(0x20, 0x20), (0x28, 0x3b), (0x41, 0x7a)]),
            ..Default::default()
        };
        assert_eq!(
            req(&ua2, "/", "User-Agent: Mozilla/5.0 %"),
            Err(Part::CtextVchar)
        );
        // Host is the parser's business, not ctext's.
        assert_eq!(req(&ua2, "/", "X-Ok: abc"), Ok(()));
        let q = Alphabets {
            qetoken: set(&[(0x41, 0x7a), (0x3d, 0x3d)]),
            ..Default::default()
        };
        assert_eq!(req(&q, "/", "Cache-Control: unknown=value"), Ok(()));
        assert_eq!(
            req(&q, "/", "Cache-Control: unkno%wn=value%"),
            Err(Part::Qetoken)
        );
        let q2 = Alphabets {
            qetoken: set(&[(0x41, 0x7a)]),
            ..Default::default()
        };
        assert_eq!(
            req(&q2, "/", "Cache-Control: unknown=value"),
            Err(Part::Qetoken)
        );
        let n = Alphabets {
            nctl: set(&[
                (0x20, 0x20),
                (0x2c, 0x2c),
                (0x2e, 0x2e),
                (0x30, 0x3b),
                (0x41, 0x5a),
                (0x61, 0x7a),
            ]),
            ..Default::default()
        };
        assert_eq!(
            req(&n, "/", "If-Modified-Since: Mon, 12 Dec 2016 13:59:39 GMT"),
            Ok(())
        );
        assert_eq!(
            req(&n, "/", "If-Modified-Since: Mon, 12 Dec 2016% 13:59:39 GMT"),
            Err(Part::Nctl)
        );
    }
}
