//! Value parsers shared by the directive handlers, following Tempesta FW's rules (`fw/cfg.c`).
//!
//! They take the raw argument text and return an [`ErrorKind`] the caller places with
//! [`Tree::error`](super::Tree::error).

use super::error::ErrorKind;

/// Parses an unsigned integer the way Tempesta does (`tfw_cfg_parse_int`): decimal (leading
/// zeros stay decimal), `0x` hexadecimal or `0b` binary, an optional leading `+`.
pub fn parse_uint(arg: &[u8]) -> Result<u64, ErrorKind<'_>> {
    let bad = ErrorKind::InvalidValue("integer", arg);
    let s = arg.strip_prefix(b"+").unwrap_or(arg);
    let (base, digits): (u64, &[u8]) = match s {
        [b'0', b'x' | b'X', rest @ ..] if !rest.is_empty() => (16, rest),
        [b'0', b'b' | b'B', rest @ ..] if !rest.is_empty() => (2, rest),
        _ => (10, s),
    };
    if digits.is_empty() {
        return Err(bad);
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => c.wrapping_sub(b'0'),
            b'a'..=b'f' => c.wrapping_sub(b'a').wrapping_add(10),
            b'A'..=b'F' => c.wrapping_sub(b'A').wrapping_add(10),
            _ => return Err(bad),
        };
        let d = u64::from(d);
        if d >= base {
            return Err(bad);
        }
        v = v
            .checked_mul(base)
            .and_then(|v| v.checked_add(d))
            .ok_or(ErrorKind::OutOfRange {
                value: arg,
                min: 0,
                max: u64::MAX,
            })?;
    }
    Ok(v)
}

fn range(arg: &[u8], v: u64, min: u64, max: u64) -> Result<u64, ErrorKind<'_>> {
    if v < min || v > max {
        return Err(ErrorKind::OutOfRange {
            value: arg,
            min,
            max,
        });
    }
    Ok(v)
}

/// RFC 9110 `tchar` (field names, methods, cache directive names).
pub(crate) fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Counts the entries of a bounded per-level list as they are read; the one past `max` is
/// refused with `too many WHAT (at most MAX)` on its line.
pub(crate) struct Bounded {
    n: usize,
    max: usize,
    what: &'static str,
}

impl Bounded {
    pub(crate) const fn new(max: usize, what: &'static str) -> Self {
        Bounded { n: 0, max, what }
    }

    /// One more entry, written by `node`.
    pub(crate) fn add<'s>(
        &mut self,
        tree: &super::tree::Tree<'s, '_>,
        node: &super::tree::Node,
    ) -> Result<(), super::error::Error<'s>> {
        self.n = self.n.saturating_add(1);
        if self.n > self.max {
            return Err(tree.error(node, ErrorKind::TooMany(self.what, self.max as u64)));
        }
        Ok(())
    }

    /// How many were added.
    pub(crate) const fn count(&self) -> usize {
        self.n
    }
}

/// [`parse_uint`] within `min..=max` (`value 'X' out of range [MIN, MAX]` otherwise).
pub fn parse_u32_in(arg: &[u8], min: u32, max: u32) -> Result<u32, ErrorKind<'_>> {
    let v = parse_uint(arg).map_err(|e| match e {
        ErrorKind::OutOfRange { value, .. } => ErrorKind::OutOfRange {
            value,
            min: u64::from(min),
            max: u64::from(max),
        },
        e => e,
    })?;
    let v = range(arg, v, u64::from(min), u64::from(max))?;
    u32::try_from(v).map_err(|_| ErrorKind::OutOfRange {
        value: arg,
        min: u64::from(min),
        max: u64::from(max),
    })
}

/// Parses a size in bytes: decimal digits and an optional binary suffix `K`, `M`, `G` or `T`
/// (either case; `500M` = 500 * 2^20), as Linux `memparse` and Tempesta's `client_mem` take.
pub fn parse_size(arg: &[u8]) -> Result<u64, ErrorKind<'_>> {
    let bad = ErrorKind::InvalidValue("size", arg);
    let (digits, shift) = match arg.split_last() {
        Some((b'k' | b'K', rest)) => (rest, 10),
        Some((b'm' | b'M', rest)) => (rest, 20),
        Some((b'g' | b'G', rest)) => (rest, 30),
        Some((b't' | b'T', rest)) => (rest, 40),
        _ => (arg, 0),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let too_big = ErrorKind::OutOfRange {
        value: arg,
        min: 0,
        max: u64::MAX,
    };
    let mut v: u64 = 0;
    for &c in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c.wrapping_sub(b'0'))))
            .ok_or(too_big)?;
    }
    let mul = 1u64.checked_shl(shift).ok_or(too_big)?;
    v.checked_mul(mul).ok_or(too_big)
}

/// [`parse_size`] within `min..=max`.
pub fn parse_size_in(arg: &[u8], min: u64, max: u64) -> Result<u64, ErrorKind<'_>> {
    let v = parse_size(arg).map_err(|e| match e {
        ErrorKind::OutOfRange { value, .. } => ErrorKind::OutOfRange { value, min, max },
        e => e,
    })?;
    range(arg, v, min, max)
}

/// Parses a boolean as Tempesta's `tfw_cfg_set_bool` (ASCII case-insensitive): true is `1`,
/// `y`, `on`, `yes`, `true`, `enable`; false is `0`, `n`, `off`, `no`, `false`, `disable`.
/// (A flag directive written without a value means true; that is up to the caller.)
pub fn parse_bool(arg: &[u8]) -> Result<bool, ErrorKind<'_>> {
    const TRUE: [&[u8]; 6] = [b"1", b"y", b"on", b"yes", b"true", b"enable"];
    const FALSE: [&[u8]; 6] = [b"0", b"n", b"off", b"no", b"false", b"disable"];
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(arg)) {
        Ok(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(arg)) {
        Ok(false)
    } else {
        Err(ErrorKind::InvalidValue("boolean", arg))
    }
}

/// Parses a time in seconds, `0..=max`. Tempesta takes plain integers (no `s`/`m` suffixes), so
/// this does too; anything else is `invalid time 'X'`.
pub fn parse_secs(arg: &[u8], max: u32) -> Result<u32, ErrorKind<'_>> {
    if arg.is_empty() || !arg.iter().all(u8::is_ascii_digit) {
        return Err(ErrorKind::InvalidValue("time", arg));
    }
    parse_u32_in(arg, 0, max)
}

/// Removes backslash escapes (`\X` -> `X`) from a raw token text into `out`; `None` if `out` is
/// too short (the result is never longer than `raw`).
pub fn unescape<'o>(raw: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let mut n: usize = 0;
    let mut esc = false;
    for &c in raw {
        if c == b'\\' && !esc {
            esc = true;
            continue;
        }
        esc = false;
        *out.get_mut(n)? = c;
        n = n.checked_add(1)?;
    }
    out.get(..n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint() {
        assert_eq!(parse_uint(b"0"), Ok(0));
        assert_eq!(parse_uint(b"010"), Ok(10));
        assert_eq!(parse_uint(b"+7"), Ok(7));
        assert_eq!(parse_uint(b"0x1F"), Ok(31));
        assert_eq!(parse_uint(b"0b101"), Ok(5));
        assert_eq!(parse_uint(b"18446744073709551615"), Ok(u64::MAX));
        assert!(matches!(
            parse_uint(b"18446744073709551616"),
            Err(ErrorKind::OutOfRange { .. })
        ));
        for bad in [&b""[..], b"x", b"-1", b"0x", b"12a", b"0b2", b"1 ", b"+"] {
            assert_eq!(
                parse_uint(bad),
                Err(ErrorKind::InvalidValue("integer", bad)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn u32_in() {
        assert_eq!(parse_u32_in(b"50", 1, 100), Ok(50));
        assert_eq!(parse_u32_in(b"1", 1, 100), Ok(1));
        assert_eq!(parse_u32_in(b"100", 1, 100), Ok(100));
        assert_eq!(
            parse_u32_in(b"0", 1, 100).map_err(|e| e.to_string()),
            Err("value '0' out of range [1, 100]".into())
        );
        assert_eq!(
            parse_u32_in(b"99999999999999999999999", 0, 5).map_err(|e| e.to_string()),
            Err("value '99999999999999999999999' out of range [0, 5]".into())
        );
        assert_eq!(parse_u32_in(b"4294967295", 0, u32::MAX), Ok(u32::MAX));
        assert_eq!(
            parse_u32_in(b"abc", 0, 5).map_err(|e| e.to_string()),
            Err("invalid integer 'abc'".into())
        );
    }

    #[test]
    fn size() {
        assert_eq!(parse_size(b"16384"), Ok(16384));
        assert_eq!(parse_size(b"500M"), Ok(500 << 20));
        assert_eq!(parse_size(b"1G"), Ok(1 << 30));
        assert_eq!(parse_size(b"4k"), Ok(4096));
        assert_eq!(parse_size(b"2T"), Ok(2 << 40));
        assert_eq!(parse_size(b"0"), Ok(0));
        for bad in [&b""[..], b"M", b"5Q", b"1.5G", b"-1", b"0x10", b"1GB"] {
            assert_eq!(parse_size(bad), Err(ErrorKind::InvalidValue("size", bad)));
        }
        assert!(matches!(
            parse_size(b"99999999999T"),
            Err(ErrorKind::OutOfRange { .. })
        ));
        assert_eq!(
            parse_size_in(b"8M", 16 << 20, 1 << 37).map_err(|e| e.to_string()),
            Err("value '8M' out of range [16777216, 137438953472]".into())
        );
        assert_eq!(parse_size_in(b"256M", 16 << 20, 1 << 37), Ok(256 << 20));
    }

    #[test]
    fn bool_values() {
        for t in ["1", "y", "on", "yes", "true", "enable", "ON", "True", "YES"] {
            assert_eq!(parse_bool(t.as_bytes()), Ok(true), "{t}");
        }
        for f in ["0", "n", "off", "no", "false", "disable", "OFF", "False"] {
            assert_eq!(parse_bool(f.as_bytes()), Ok(false), "{f}");
        }
        assert_eq!(
            parse_bool(b"maybe").map_err(|e| e.to_string()),
            Err("invalid boolean 'maybe'".into())
        );
        assert!(parse_bool(b"").is_err());
    }

    #[test]
    fn secs() {
        assert_eq!(parse_secs(b"75", 3600), Ok(75));
        assert_eq!(parse_secs(b"0", 3600), Ok(0));
        assert_eq!(
            parse_secs(b"10s", 3600).map_err(|e| e.to_string()),
            Err("invalid time '10s'".into())
        );
        assert_eq!(
            parse_secs(b"3601", 3600).map_err(|e| e.to_string()),
            Err("value '3601' out of range [0, 3600]".into())
        );
        assert!(parse_secs(b"0x10", 100).is_err());
    }

    #[test]
    fn unescaping() {
        let mut buf = [0u8; 16];
        assert_eq!(unescape(br#"a\"b\\c"#, &mut buf), Some(&br#"a"b\c"#[..]));
        assert_eq!(unescape(br"\.php$", &mut buf), Some(&b".php$"[..]));
        assert_eq!(unescape(b"plain", &mut buf), Some(&b"plain"[..]));
        let mut small = [0u8; 2];
        assert_eq!(unescape(b"abc", &mut small), None);
        assert_eq!(unescape(br"\a\b", &mut small), Some(&b"ab"[..]));
    }
}
