//! Request methods as the cache sees them (RFC 9110 section 9).

/// A request method. Methods the cache has no rule for are [`Method::Other`], which counts as
/// unsafe (RFC 9111 section 4.4: "including methods whose safety is unknown").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
    /// `PATCH`.
    Patch,
    /// `OPTIONS`.
    Options,
    /// `TRACE`.
    Trace,
    /// `CONNECT`.
    Connect,
    /// `PURGE`: Tempesta's cache purge request (`cache_purge`).
    Purge,
    /// Any other method.
    Other,
}

impl Method {
    /// The method named `name`. Method names are case-sensitive (RFC 9110 section 9.1), so
    /// `get` is [`Method::Other`].
    pub fn parse(name: &[u8]) -> Method {
        match name {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"PATCH" => Method::Patch,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"CONNECT" => Method::Connect,
            b"PURGE" => Method::Purge,
            _ => Method::Other,
        }
    }

    /// Whether the method is safe (RFC 9110 section 9.2.1): responses to the others invalidate
    /// stored responses (RFC 9111 section 4.4).
    pub const fn is_safe(self) -> bool {
        matches!(
            self,
            Method::Get | Method::Head | Method::Options | Method::Trace
        )
    }
}

/// The set of methods of `cache_methods` (Tempesta accepts GET, HEAD and POST; default GET).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodSet(u8);

impl MethodSet {
    /// No method.
    pub const EMPTY: MethodSet = MethodSet(0);
    /// `GET`.
    pub const GET: MethodSet = MethodSet(1);
    /// `HEAD`.
    pub const HEAD: MethodSet = MethodSet(2);
    /// `POST`.
    pub const POST: MethodSet = MethodSet(4);

    /// The `cache_methods` argument `name` (case-insensitive, as Tempesta's enum mapping);
    /// `None` for a method the cache cannot serve, so the configuration layer can refuse it.
    pub fn from_name(name: &[u8]) -> Option<MethodSet> {
        [
            (&b"GET"[..], MethodSet::GET),
            (b"HEAD", MethodSet::HEAD),
            (b"POST", MethodSet::POST),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, s)| s)
    }

    /// `self` plus the methods of `other`.
    #[must_use]
    pub const fn with(self, other: MethodSet) -> MethodSet {
        MethodSet(self.0 | other.0)
    }

    /// Whether `method` is in the set.
    pub const fn contains(self, method: Method) -> bool {
        let bit = match method {
            Method::Get => MethodSet::GET.0,
            Method::Head => MethodSet::HEAD.0,
            Method::Post => MethodSet::POST.0,
            _ => return false,
        };
        self.0 & bit != 0
    }
}

impl Default for MethodSet {
    /// Tempesta's default: `cache_methods GET`.
    fn default() -> Self {
        MethodSet::GET
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_case_sensitive() {
        assert_eq!(Method::parse(b"GET"), Method::Get);
        assert_eq!(Method::parse(b"get"), Method::Other);
        assert_eq!(Method::parse(b"PURGE"), Method::Purge);
        assert_eq!(Method::parse(b""), Method::Other);
    }

    #[test]
    fn safety() {
        assert!(Method::Get.is_safe() && Method::Head.is_safe() && Method::Options.is_safe());
        assert!(!Method::Post.is_safe() && !Method::Other.is_safe() && !Method::Purge.is_safe());
    }

    #[test]
    fn method_set() {
        let s = MethodSet::from_name(b"get")
            .and_then(|g| Some(g.with(MethodSet::from_name(b"HEAD")?)))
            .unwrap();
        assert!(s.contains(Method::Get) && s.contains(Method::Head));
        assert!(!s.contains(Method::Post) && !s.contains(Method::Put));
        assert_eq!(MethodSet::from_name(b"PUT"), None);
        assert_eq!(MethodSet::default(), MethodSet::GET);
        assert!(!MethodSet::EMPTY.contains(Method::Get));
    }
}
