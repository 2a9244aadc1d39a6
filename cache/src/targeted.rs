//! Targeted cache control (RFC 9213): `CDN-Cache-Control`, read instead of Cache-Control.
//!
//! An origin behind a CDN often wants the CDN to keep a response longer (or not at all) than
//! browsers do: `Cache-Control: no-store` for browsers, `CDN-Cache-Control: max-age=600` for
//! the edge. A reverse-proxy cache in front of web servers is that edge, so the cache's target
//! list is `CDN-Cache-Control` alone. When a response carries it with a valid, non-empty value,
//! its directives decide storage and freshness, and Cache-Control, Pragma and Expires are
//! ignored (RFC 9213 section 2.1); otherwise the response is read as if it were absent. The
//! field itself is passed through, so caches further down can use it too.
//!
//! Unlike Cache-Control, a targeted field is a Structured Field Dictionary (RFC 8941 section
//! 3.2): lowercase keys, typed values, the last of duplicate keys wins. The parse is strict, as
//! RFC 9213 section 2.2 asks: any syntax error, or a known directive with a value of the wrong
//! type (`max-age="60"`), makes the whole field ignored, so a response never gets a policy the
//! origin did not write. `cache_control_ignore` masks the same directives here as in
//! Cache-Control.

use super::cc::{CcIgnore, ResponseCc, DELTA_MAX};
use super::fields::{self, Fields};

/// The targeted field this cache reads.
pub const FIELD: &[u8] = b"cdn-cache-control";

/// The policy of response `h`'s `CDN-Cache-Control`, `ignore`d directives removed; `None` if
/// the field is absent, empty or invalid (then Cache-Control applies).
///
/// Several field lines are one Dictionary (RFC 8941 section 4.2: they are combined with
/// commas), read line by line in order: an empty line among others would make a trailing or
/// doubled comma, so it makes the field invalid.
pub fn from_fields<F: Fields + ?Sized>(h: &F, ignore: CcIgnore) -> Option<ResponseCc> {
    let mut cc = ResponseCc {
        present: true,
        ..ResponseCc::default()
    };
    let (mut lines, mut empty, mut members) = (0usize, false, 0usize);
    for line in fields::values(h, FIELD) {
        lines = lines.saturating_add(1);
        let line = fields::trim(line);
        if line.is_empty() {
            empty = true;
            continue;
        }
        members =
            members.saturating_add(dictionary(line, |key, v| apply(&mut cc, key, v, ignore))?);
    }
    (members > 0 && !(empty && lines > 1)).then_some(cc)
}

/// A Dictionary member's value, as far as cache directives need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    /// sf-boolean; a bare key is `true`.
    Bool(bool),
    /// sf-integer.
    Int(i64),
    /// sf-string.
    Str,
    /// An inner list.
    List,
    /// sf-token, sf-decimal or sf-binary.
    Other,
}

/// Folds one member into `cc`; `None` if a known directive has a value of the wrong type.
fn apply(cc: &mut ResponseCc, key: &[u8], v: Value, ignore: CcIgnore) -> Option<()> {
    if CcIgnore::from_name(key).is_some_and(|bit| ignore.contains(bit)) {
        return Some(());
    }
    let delta = || match v {
        // Larger than 2^31 saturates, as in Cache-Control (RFC 9111 section 1.2.2).
        Value::Int(n) if n >= 0 => Some(u32::try_from(n).map_or(DELTA_MAX, |n| n.min(DELTA_MAX))),
        _ => None,
    };
    let flag = || match v {
        Value::Bool(b) => Some(b),
        _ => None,
    };
    // `no-cache` / `private`: true (unqualified), a field name or a list of them (qualified,
    // RFC 9111 sections 5.2.2.4 and 5.2.2.7), false (absent).
    let qualified = || match v {
        Value::Bool(b) => Some((b, false)),
        Value::Str | Value::List => Some((true, true)),
        _ => None,
    };
    match key {
        b"max-age" => cc.max_age = Some(delta()?),
        b"s-maxage" => cc.s_maxage = Some(delta()?),
        b"stale-while-revalidate" => cc.stale_while_revalidate = Some(delta()?),
        b"stale-if-error" => cc.stale_if_error = Some(delta()?),
        b"no-store" => cc.no_store = flag()?,
        b"public" => cc.public = flag()?,
        b"must-revalidate" => cc.must_revalidate = flag()?,
        b"proxy-revalidate" => cc.proxy_revalidate = flag()?,
        b"no-transform" => cc.no_transform = flag()?,
        b"must-understand" => cc.must_understand = flag()?,
        b"immutable" => cc.immutable = flag()?,
        b"no-cache" => (cc.no_cache, cc.no_cache_fields) = qualified()?,
        b"private" => (cc.private, cc.private_fields) = qualified()?,
        // Extension directives this cache does not know (RFC 9111 section 5.2.3).
        _ => {}
    }
    Some(())
}

/// Parses `line` as an sf-dictionary (RFC 8941 section 4.2.2), calling `member` for each
/// member in order; returns how many there were, `None` on a syntax error or if `member`
/// refuses one.
fn dictionary(line: &[u8], mut member: impl FnMut(&[u8], Value) -> Option<()>) -> Option<usize> {
    let mut c = Cursor { s: line, i: 0 };
    c.skip(|b| b == b' ');
    let mut n = 0usize;
    while !c.at_end() {
        let key = c.key()?;
        let value = if c.eat(b'=') {
            c.item_or_inner_list()?
        } else {
            c.parameters()?;
            Value::Bool(true)
        };
        member(key, value)?;
        n = n.saturating_add(1);
        c.skip(|b| b == b' ' || b == b'\t');
        if c.at_end() {
            break;
        }
        if !c.eat(b',') {
            return None;
        }
        c.skip(|b| b == b' ' || b == b'\t');
        if c.at_end() {
            // A trailing comma.
            return None;
        }
    }
    Some(n)
}

/// The parse position in one field line.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn bump(&mut self) {
        self.i = self.i.saturating_add(1);
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.bump();
        }
        hit
    }

    /// Advances over bytes `ok` accepts; returns them.
    fn skip(&mut self, ok: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(&ok) {
            self.bump();
        }
        self.s.get(start..self.i).unwrap_or_default()
    }

    /// `key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`.
    fn key(&mut self) -> Option<&'a [u8]> {
        if !self
            .peek()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'*')
        {
            return None;
        }
        Some(self.skip(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.' | b'*')
        }))
    }

    /// `parameters = *( ";" *SP parameter )`, values discarded.
    fn parameters(&mut self) -> Option<()> {
        while self.eat(b';') {
            self.skip(|b| b == b' ');
            self.key()?;
            if self.eat(b'=') {
                self.bare_item()?;
            }
        }
        Some(())
    }

    fn item_or_inner_list(&mut self) -> Option<Value> {
        if !self.eat(b'(') {
            let v = self.bare_item()?;
            self.parameters()?;
            return Some(v);
        }
        loop {
            self.skip(|b| b == b' ');
            if self.eat(b')') {
                self.parameters()?;
                return Some(Value::List);
            }
            self.bare_item()?;
            self.parameters()?;
            if !matches!(self.peek(), Some(b' ' | b')')) {
                return None;
            }
        }
    }

    /// `bare-item` (RFC 8941 section 4.2.3.1).
    fn bare_item(&mut self) -> Option<Value> {
        match self.peek()? {
            b'-' | b'0'..=b'9' => self.number(),
            b'"' => self.string(),
            b'?' => {
                self.bump();
                let v = match self.peek()? {
                    b'0' => false,
                    b'1' => true,
                    _ => return None,
                };
                self.bump();
                Some(Value::Bool(v))
            }
            b':' => {
                self.bump();
                self.skip(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
                self.eat(b':').then_some(Value::Other)
            }
            b if b.is_ascii_alphabetic() || b == b'*' => {
                self.skip(|b| fields::is_tchar(b) || b == b':' || b == b'/');
                Some(Value::Other)
            }
            _ => None,
        }
    }

    /// sf-integer (at most 15 digits) or sf-decimal (at most 12 digits, a dot, 1 to 3).
    fn number(&mut self) -> Option<Value> {
        let negative = self.eat(b'-');
        let int = self.skip(|b| b.is_ascii_digit());
        if int.is_empty() {
            return None;
        }
        if self.eat(b'.') {
            let frac = self.skip(|b| b.is_ascii_digit());
            return (int.len() <= 12 && (1..=3).contains(&frac.len())).then_some(Value::Other);
        }
        if int.len() > 15 {
            return None;
        }
        let mut n: i64 = 0;
        for &d in int {
            // 15 digits stay far below i64::MAX.
            n = n.saturating_mul(10).saturating_add(i64::from(d & 0x0f));
        }
        Some(Value::Int(if negative { n.saturating_neg() } else { n }))
    }

    /// sf-string: printable ASCII, `\"` and `\\` the only escapes.
    fn string(&mut self) -> Option<Value> {
        self.bump();
        loop {
            let b = self.peek()?;
            self.bump();
            match b {
                b'"' => return Some(Value::Str),
                b'\\' => {
                    if !matches!(self.peek()?, b'"' | b'\\') {
                        return None;
                    }
                    self.bump();
                }
                0x20..=0x7e => {}
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdn(v: &str) -> Option<ResponseCc> {
        from_fields(&[("CDN-Cache-Control", v)], CcIgnore::NONE)
    }

    #[test]
    fn max_age_and_flags() {
        let cc = cdn("max-age=3600").unwrap();
        assert_eq!(cc.max_age, Some(3600));
        assert!(cc.present && !cc.no_store);
        let cc = cdn("foobar, max-age=60, must-revalidate").unwrap();
        assert_eq!(cc.max_age, Some(60));
        assert!(cc.must_revalidate);
        assert!(cdn("no-store").unwrap().no_store);
        assert!(cdn("private").unwrap().private);
        assert!(cdn("no-cache").unwrap().no_cache);
        assert_eq!(cdn("s-maxage=5;x=1, public").unwrap().s_maxage, Some(5));
        assert_eq!(cdn("stale-if-error=30").unwrap().stale_if_error, Some(30));
    }

    #[test]
    fn large_values_saturate() {
        assert_eq!(cdn("max-age=2147483648").unwrap().max_age, Some(DELTA_MAX));
        assert_eq!(cdn("max-age=99999999999").unwrap().max_age, Some(DELTA_MAX));
        assert_eq!(
            cdn("max-age=999999999999999").unwrap().max_age,
            Some(DELTA_MAX)
        );
        // More than 15 digits is not an sf-integer.
        assert_eq!(cdn("max-age=9999999999999999"), None);
    }

    #[test]
    fn last_duplicate_wins() {
        assert_eq!(cdn("max-age=10, max-age=20").unwrap().max_age, Some(20));
        assert!(!cdn("no-store, no-store=?0").unwrap().no_store);
        let cc = cdn("no-cache=\"set-cookie\"").unwrap();
        assert!(cc.no_cache && cc.no_cache_fields);
        let cc = cdn("private=(\"set-cookie\" \"x\"), private").unwrap();
        assert!(cc.private && !cc.private_fields);
    }

    #[test]
    fn invalid_field_is_ignored() {
        for bad in [
            "max-age =100",
            "max-age= 100",
            "max-age=10000, &&&&&",
            "MaX-aGe=3600",
            "max-age=\"10000\"",
            "max-age=-1",
            "max-age=1.5",
            "no-store=1",
            "private=tok",
            "max-age=60,",
            ", max-age=60",
            "max-age=60,,public",
            "a=\"unterminated",
            "a=\"bad\\escape\"",
            "a=(1 2",
            "a=(1 2)x",
            "a=?2",
            "a=:abc",
        ] {
            assert_eq!(cdn(bad), None, "{bad}");
        }
        assert_eq!(cdn(""), None);
        // Valid Dictionaries with unknown keys and types.
        for ok in [
            "a=:YWJj:, b=tok/x:y, c=1.25, d=(1 \"s\" t);p, e=\"q\\\"\"",
            "*x",
        ] {
            assert!(cdn(ok).is_some(), "{ok}");
        }
    }

    #[test]
    fn several_lines_are_one_dictionary() {
        let h = [
            ("CDN-Cache-Control", "max-age=5"),
            ("cdn-cache-control", "no-cache"),
        ];
        let cc = from_fields(&h, CcIgnore::NONE).unwrap();
        assert!(cc.max_age == Some(5) && cc.no_cache);
        let h = [
            ("CDN-Cache-Control", "max-age=5"),
            ("CDN-Cache-Control", ""),
        ];
        assert_eq!(from_fields(&h, CcIgnore::NONE), None);
        assert_eq!(
            from_fields(&[("Cache-Control", "max-age=5")], CcIgnore::NONE),
            None
        );
    }

    #[test]
    fn cache_control_ignore_applies() {
        let h = [("CDN-Cache-Control", "max-age=60, no-store")];
        let cc = from_fields(&h, CcIgnore::NO_STORE).unwrap();
        assert!(cc.max_age == Some(60) && !cc.no_store);
    }
}
