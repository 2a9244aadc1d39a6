//! Read access to a message's header fields, and the list syntax shared by the fields the
//! cache reads.
//!
//! The parser hands the proxy raw field lines, and a field may occur on several lines (RFC 9110
//! section 5.3: a recipient may combine them with commas, in order, without changing the
//! message's meaning). Every function of this crate that reads a message takes it as a
//! [`Fields`] and asks for the lines of one name at a time, so the caller keeps its own header
//! table (the kernel module indexes it by field id) and nothing is copied.

/// A message's header section, as the cache policy reads it.
///
/// The kernel store implements this on its parsed header table; host code and tests can use
/// the implementations on slices of `(name, value)` pairs.
pub trait Fields {
    /// The value of the `nth` (0-based, in message order) line of the field `name`, compared
    /// case-insensitively (RFC 9110 section 5.1). Values are raw field values, leading and
    /// trailing whitespace already stripped by the parser (stripping again is harmless).
    fn field(&self, name: &[u8], nth: usize) -> Option<&[u8]>;
}

impl Fields for [(&[u8], &[u8])] {
    fn field(&self, name: &[u8], nth: usize) -> Option<&[u8]> {
        self.iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .nth(nth)
            .map(|(_, v)| *v)
    }
}

impl Fields for [(&str, &str)] {
    fn field(&self, name: &[u8], nth: usize) -> Option<&[u8]> {
        self.iter()
            .filter(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
            .nth(nth)
            .map(|(_, v)| v.as_bytes())
    }
}

impl<const N: usize> Fields for [(&str, &str); N] {
    fn field(&self, name: &[u8], nth: usize) -> Option<&[u8]> {
        self.as_slice().field(name, nth)
    }
}

impl<const N: usize> Fields for [(&[u8], &[u8]); N] {
    fn field(&self, name: &[u8], nth: usize) -> Option<&[u8]> {
        self.as_slice().field(name, nth)
    }
}

/// The lines of one field, in order: the iterator form of [`Fields::field`].
pub fn values<'f, 'n, F: Fields + ?Sized>(fields: &'f F, name: &'n [u8]) -> Values<'f, 'n, F> {
    Values {
        fields,
        name,
        next: 0,
    }
}

/// Iterator returned by [`values`].
#[derive(Debug)]
pub struct Values<'f, 'n, F: ?Sized> {
    fields: &'f F,
    name: &'n [u8],
    next: usize,
}

impl<F: ?Sized> Clone for Values<'_, '_, F> {
    fn clone(&self) -> Self {
        Values { ..*self }
    }
}

impl<'f, F: Fields + ?Sized> Iterator for Values<'f, '_, F> {
    type Item = &'f [u8];

    fn next(&mut self) -> Option<&'f [u8]> {
        let v = self.fields.field(self.name, self.next)?;
        self.next = self.next.saturating_add(1);
        Some(v)
    }
}

/// Whether at least one line of `name` is present.
pub fn has<F: Fields + ?Sized>(fields: &F, name: &[u8]) -> bool {
    fields.field(name, 0).is_some()
}

/// The single line of a singleton field: `None` if it is absent or occurs more than once.
/// Singleton fields (Date, Expires, Last-Modified, ETag, If-Modified-Since) repeated with
/// different values are invalid (RFC 9110 section 5.5), and a cache that guesses which one
/// the origin meant risks serving with the wrong validator or lifetime.
pub(crate) fn single<'f, F: Fields + ?Sized>(fields: &'f F, name: &[u8]) -> Option<&'f [u8]> {
    let v = fields.field(name, 0)?;
    match fields.field(name, 1) {
        Some(other) if trim(other) != trim(v) => None,
        _ => Some(v),
    }
}

/// Whether `b` is optional whitespace (RFC 9110 section 5.6.3: SP / HTAB).
pub(crate) const fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `v` without leading and trailing OWS.
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| !is_ows(b)).unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| !is_ows(b))
        .map_or(start, |i| i.saturating_add(1));
    v.get(start..end).unwrap_or_default()
}

/// Whether `b` is a `tchar` (RFC 9110 section 5.6.2).
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Whether `v` is a non-empty `token`.
pub(crate) fn is_token(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(|&b| is_tchar(b))
}

/// The members of a comma-separated list value (RFC 9110 section 5.6.1), OWS-trimmed, empty
/// members skipped (recipients must accept them). Commas inside a quoted string do not split.
///
/// `escapes` says whether a backslash escapes the next byte inside quotes: true for
/// `quoted-string` (Cache-Control arguments), false for entity-tags, whose opaque part has no
/// escaping (RFC 9110 section 8.8.3), so `"a\"` is a whole tag.
#[derive(Clone, Debug)]
pub(crate) struct ListItems<'a> {
    rest: &'a [u8],
    escapes: bool,
}

impl<'a> ListItems<'a> {
    pub(crate) fn new(value: &'a [u8], escapes: bool) -> Self {
        ListItems {
            rest: value,
            escapes,
        }
    }
}

impl<'a> Iterator for ListItems<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = comma_outside_quotes(self.rest, self.escapes);
            let (item, rest) = self.rest.split_at_checked(end).unwrap_or((self.rest, &[]));
            self.rest = rest.get(1..).unwrap_or_default();
            let item = trim(item);
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

/// Index of the first comma of `v` outside a quoted string, or `v.len()`. An unterminated
/// quote runs to the end of the value.
fn comma_outside_quotes(v: &[u8], escapes: bool) -> usize {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in v.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted {
            match b {
                b'\\' if escapes => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => quoted = true,
                b',' => return i,
                _ => {}
            }
        }
    }
    v.len()
}

/// The content of a `quoted-string` without its quotes, escapes left in place; `v` unchanged
/// when it is not quoted. Arguments the cache interprets (delta-seconds, field names) contain
/// no characters that need escaping, so unescaping would change nothing they match against.
pub(crate) fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(v: &str) -> Vec<&[u8]> {
        ListItems::new(v.as_bytes(), true).collect()
    }

    #[test]
    fn list_members_trimmed_empty_skipped() {
        assert_eq!(items(" a ,, b,\tc ,"), [&b"a"[..], b"b", b"c"]);
        assert!(items("").is_empty());
        assert!(items(" , ,").is_empty());
    }

    #[test]
    fn list_quoted_commas_do_not_split() {
        assert_eq!(
            items(r#"no-cache="a, b", private"#),
            [&br#"no-cache="a, b""#[..], b"private"]
        );
        assert_eq!(items(r#"x="a\", b", y"#), [&br#"x="a\", b""#[..], b"y"]);
        // Without escapes (entity-tags) the backslash is an ordinary byte.
        let tags: Vec<&[u8]> = ListItems::new(br#""a\", "b""#, false).collect();
        assert_eq!(tags, [&br#""a\""#[..], br#""b""#]);
        // Unterminated quote: the rest is one member.
        assert_eq!(items(r#"a="x, y"#), [&br#"a="x, y"#[..]]);
    }

    #[test]
    fn fields_lookup_case_insensitive_in_order() {
        let h = [("Vary", "a"), ("X", "1"), ("vary", "b")];
        assert_eq!(values(&h, b"VARY").collect::<Vec<_>>(), [b"a", b"b"]);
        assert!(has(&h, b"x") && !has(&h, b"y"));
        assert_eq!(single(&h, b"x"), Some(&b"1"[..]));
        assert_eq!(single(&h, b"vary"), None);
        let same = [("Date", "d"), ("date", " d ")];
        assert_eq!(single(&same, b"date"), Some(&b"d"[..]));
    }

    #[test]
    fn trim_and_unquote() {
        assert_eq!(trim(b" \t a b \t"), b"a b");
        assert_eq!(trim(b"  "), b"");
        assert_eq!(unquote(b"\"60\""), b"60");
        assert_eq!(unquote(b"\""), b"\"");
        assert_eq!(unquote(b"60"), b"60");
        assert!(is_token(b"max-age") && !is_token(b"a b") && !is_token(b""));
    }
}
