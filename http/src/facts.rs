//! What the firewall checks of a request head: sizes, counts and the few field values frang
//! looks at, read from a head the parser has already validated (so this scan trusts its
//! framing: one request line, CRLF- or LF-terminated field lines, no obs-fold).

/// Facts of one request head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeadFacts<'h> {
    /// The method token.
    pub method: &'h [u8],
    /// The request-target.
    pub target: &'h [u8],
    /// The authority of an absolute-form target (`http://HOST[:PORT]/...`).
    pub authority: Option<&'h [u8]>,
    /// Header field lines.
    pub header_cnt: u32,
    /// Longest field line, name to end of value.
    pub longest_header: u32,
    /// Bytes of all field lines (without line ends).
    pub header_bytes: u32,
    /// The first `Host` value, trimmed.
    pub host: Option<&'h [u8]>,
    /// The first `Content-Type` value, trimmed.
    pub content_type: Option<&'h [u8]>,
    /// `X-HTTP-Method-Override` (or `X-HTTP-Method`, `X-Method-Override`).
    pub method_override: Option<&'h [u8]>,
}

use super::trim;

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Scans `head` (request line, field lines, the empty line).
pub fn scan(head: &[u8]) -> HeadFacts<'_> {
    let mut f = HeadFacts::default();
    let mut lines = head
        .split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(|&c| c == b' ');
    f.method = parts.next().unwrap_or_default();
    f.target = parts.next().unwrap_or_default();
    let http = f
        .target
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"http://"));
    let https = f
        .target
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"https://"));
    if http || https {
        let rest = f
            .target
            .get(if https { 8 } else { 7 }..)
            .unwrap_or_default();
        let end = rest
            .iter()
            .position(|&c| c == b'/' || c == b'?' || c == b'#')
            .unwrap_or(rest.len());
        f.authority = rest.get(..end);
    }
    for l in lines {
        if l.is_empty() {
            break;
        }
        f.header_cnt = f.header_cnt.saturating_add(1);
        f.longest_header = f.longest_header.max(clamp(l.len()));
        f.header_bytes = f.header_bytes.saturating_add(clamp(l.len()));
        let Some(colon) = l.iter().position(|&c| c == b':') else {
            continue;
        };
        let (name, value) = l.split_at(colon);
        let value = trim(value.get(1..).unwrap_or_default());
        let slot = if name.eq_ignore_ascii_case(b"host") {
            &mut f.host
        } else if name.eq_ignore_ascii_case(b"content-type") {
            &mut f.content_type
        } else if name.eq_ignore_ascii_case(b"x-http-method-override")
            || name.eq_ignore_ascii_case(b"x-http-method")
            || name.eq_ignore_ascii_case(b"x-method-override")
        {
            &mut f.method_override
        } else {
            continue;
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    f
}

/// The host a request addresses, for matching: the absolute-form authority, else the Host
/// value, without the port (`example.com:8080` and `[::1]:80` give `example.com` and `[::1]`).
pub fn host_name<'h>(f: &HeadFacts<'h>) -> &'h [u8] {
    let h = f.authority.or(f.host).unwrap_or_default();
    let end = if h.first() == Some(&b'[') {
        h.iter()
            .position(|&c| c == b']')
            .map_or(h.len(), |e| e.saturating_add(1))
    } else {
        h.iter().position(|&c| c == b':').unwrap_or(h.len())
    };
    h.get(..end).unwrap_or(h)
}

/// Whether some field line of `head` named `name` (ASCII case-insensitive) has a value,
/// trimmed, for which `pred` holds (the HTTP tables' `hdr` and `cookie` conditions).
pub fn any_field(head: &[u8], name: &[u8], pred: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    head.split(|&c| c == b'\n')
        .skip(1)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let colon = l.iter().position(|&c| c == b':')?;
            let (n, v) = l.split_at(colon);
            n.eq_ignore_ascii_case(name)
                .then(|| trim(v.get(1..).unwrap_or_default()))
        })
        .any(pred)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_facts() {
        let h = b"POST /a?b HTTP/1.1\r\nHost:  example.com \r\nContent-Type: text/plain\r\nX-Long: 0123456789\r\n\r\n";
        let f = scan(h);
        assert_eq!((f.method, f.target), (&b"POST"[..], &b"/a?b"[..]));
        assert_eq!(f.host, Some(&b"example.com"[..]));
        assert_eq!(f.content_type, Some(&b"text/plain"[..]));
        assert_eq!(f.header_cnt, 3);
        let lens = [
            "Host:  example.com ",
            "Content-Type: text/plain",
            "X-Long: 0123456789",
        ]
        .map(|l| l.len() as u32);
        assert_eq!(f.longest_header, 24);
        assert_eq!(f.header_bytes, lens.iter().sum::<u32>());
        assert_eq!(f.authority, None);
        assert_eq!(f.method_override, None);
    }

    #[test]
    fn host_without_port_and_fields_by_name() {
        let hn = |h: &[u8]| host_name(&scan(h)).to_vec();
        assert_eq!(
            hn(b"GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n"),
            b"a.example"
        );
        assert_eq!(hn(b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), b"[::1]");
        assert_eq!(
            hn(b"GET http://b.example/x HTTP/1.1\r\nHost: a\r\n\r\n"),
            b"b.example"
        );
        assert_eq!(hn(b"GET / HTTP/1.0\r\n\r\n"), b"");
        let head = b"GET / HTTP/1.1\r\nX-A: one \r\nx-a: two\r\nCookie: s=1\r\n\r\nX-A: body\r\n";
        let mut seen = std::vec::Vec::new();
        assert!(!any_field(head, b"X-A", &mut |v| {
            seen.push(v.to_vec());
            false
        }));
        assert_eq!(seen, [b"one".to_vec(), b"two".to_vec()]);
        assert!(any_field(head, b"cookie", &mut |v| v == b"s=1"));
        assert!(!any_field(head, b"GET / HTTP/1.1", &mut |_| true));
    }

    #[test]
    fn absolute_form_and_override() {
        let f = scan(b"GET http://h.example:8080/x HTTP/1.1\nHost: h.example:8080\nX-HTTP-Method-Override: PUT\n\n");
        assert_eq!(f.authority, Some(&b"h.example:8080"[..]));
        assert_eq!(f.method_override, Some(&b"PUT"[..]));
        assert_eq!(
            scan(b"GET HTTPS://H HTTP/1.1\r\n\r\n").authority,
            Some(&b"H"[..])
        );
        assert_eq!(
            scan(b"GET http:// HTTP/1.1\r\n\r\n").authority,
            Some(&b""[..])
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        for h in [&b""[..], b"\n\n", b"GET", b":::\n:", b"GET http://"] {
            let _ = scan(h);
        }
    }
}
