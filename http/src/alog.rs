//! Access log lines, in Tempesta FW's format plus the upstream time:
//!
//! ```text
//! 192.0.2.1 "default" "GET /index.html HTTP/1.1" 200 1234 "http://ref/" "curl/8.11" 3
//! ```
//!
//! Fields: client address, vhost, request line, status, response body bytes sent, `Referer`,
//! `User-Agent` (`-` when absent), upstream time in milliseconds (`-` when no upstream answered:
//! the proxy's own error responses).
//!
//! Everything that comes from the network is escaped: bytes outside printable ASCII and `"` and
//! `\` become `\xHH` (as nginx does), so a line is one line of ASCII that a log parser can split
//! on quotes, and a client cannot forge fields or lines. The request target, referer and user
//! agent are cut (ending in `...`) so that a line stays under [`LINE_MAX`] bytes, which keeps it
//! whole in the kernel log and bounds the per-connection memory.
//!
//! The line is built in two steps because its fields become known at two times: [`begin`] when
//! the request head is read (the head is not kept after it is forwarded), [`finish`] when the
//! response is complete.

use super::rewrite::{put_decimal as num, Out, Overflow};

/// Longest line [`finish`] produces, in bytes (the kernel log prints about 1000 bytes of a
/// message).
pub const LINE_MAX: usize = 960;

/// Most output bytes of the request target.
const URI_MAX: usize = 320;
/// Most output bytes of `Referer` and of `User-Agent` each.
const HDR_MAX: usize = 200;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `v` escaped, cut to at most `max` output bytes (the cut ends in `...`).
fn escaped(out: &mut dyn Out, v: &[u8], max: usize) -> Result<(), Overflow> {
    let len: usize = v.iter().map(|&c| if plain(c) { 1 } else { 4 }).sum();
    let (limit, cut) = if len > max {
        (max.saturating_sub(3), true)
    } else {
        (max, false)
    };
    let mut n = 0usize;
    for &c in v {
        if plain(c) {
            if n.saturating_add(1) > limit {
                break;
            }
            out.put(core::slice::from_ref(&c))?;
            n = n.saturating_add(1);
        } else {
            if n.saturating_add(4) > limit {
                break;
            }
            let hi = HEX.get(usize::from(c >> 4)).copied().unwrap_or(b'0');
            let lo = HEX.get(usize::from(c & 15)).copied().unwrap_or(b'0');
            out.put(&[b'\\', b'x', hi, lo])?;
            n = n.saturating_add(4);
        }
    }
    if cut {
        out.put(b"...")?;
    }
    Ok(())
}

fn plain(c: u8) -> bool {
    (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\'
}

/// The value of the first field `name` (lowercase) in `head`, OWS trimmed.
fn field<'h>(head: &'h [u8], name: &[u8]) -> Option<&'h [u8]> {
    head.split(|&c| c == b'\n').skip(1).find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&c| c == b':')?;
        let (n, v) = line.split_at(colon);
        if !n.eq_ignore_ascii_case(name) {
            return None;
        }
        Some(trim(v.get(1..).unwrap_or_default()))
    })
}

use super::trim;

/// Writes the fields known when the request head is read: `CLIENT "VHOST" "METHOD URI
/// VERSION"`, then a `\n` mark, then ` "REFERER" "USER-AGENT"`. [`finish`] puts status and
/// length at the mark. `head` is the request head as received (request line first).
pub fn begin(out: &mut dyn Out, client: &[u8], vhost: &[u8], head: &[u8]) -> Result<(), Overflow> {
    let line = head.split(|&c| c == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.splitn(2, |&c| c == b' ');
    let method = parts.next().unwrap_or_default();
    let rest = parts.next().unwrap_or_default();
    let (uri, version) = match rest.iter().rposition(|&c| c == b' ') {
        Some(sp) => (
            rest.get(..sp).unwrap_or_default(),
            rest.get(sp.saturating_add(1)..).unwrap_or_default(),
        ),
        None => (rest, &b""[..]),
    };
    escaped(out, client, 64)?;
    out.put(b" \"")?;
    escaped(out, vhost, 64)?;
    out.put(b"\" \"")?;
    escaped(out, method, 32)?;
    out.put(b" ")?;
    escaped(out, uri, URI_MAX)?;
    out.put(b" ")?;
    escaped(out, version, 16)?;
    out.put(b"\"\n \"")?;
    escaped(out, field(head, b"referer").unwrap_or(b"-"), HDR_MAX)?;
    out.put(b"\" \"")?;
    escaped(out, field(head, b"user-agent").unwrap_or(b"-"), HDR_MAX)?;
    out.put(b"\"")
}

/// Completes a line that [`begin`] started (`pending`) with the status, the body bytes sent and
/// the upstream time.
pub fn finish(
    out: &mut dyn Out,
    pending: &[u8],
    status: u16,
    body_bytes: u64,
    upstream_ms: Option<u64>,
) -> Result<(), Overflow> {
    let mark = pending.iter().position(|&c| c == b'\n');
    let (head, tail) = match mark {
        Some(m) => (
            pending.get(..m).unwrap_or_default(),
            pending.get(m.saturating_add(1)..).unwrap_or_default(),
        ),
        None => (pending, &b""[..]),
    };
    out.put(head)?;
    out.put(b" ")?;
    num(out, u64::from(status))?;
    out.put(b" ")?;
    num(out, body_bytes)?;
    out.put(tail)?;
    out.put(b" ")?;
    match upstream_ms {
        Some(ms) => num(out, ms),
        None => out.put(b"-"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct V(Vec<u8>);
    impl Out for V {
        fn put(&mut self, b: &[u8]) -> Result<(), Overflow> {
            self.0.extend_from_slice(b);
            Ok(())
        }
    }

    fn line(head: &[u8], status: u16, len: u64, ms: Option<u64>) -> String {
        let mut p = V(Vec::new());
        begin(&mut p, b"192.0.2.1", b"default", head).unwrap();
        let mut l = V(Vec::new());
        finish(&mut l, &p.0, status, len, ms).unwrap();
        String::from_utf8(l.0).unwrap()
    }

    #[test]
    fn fields_in_tempesta_order() {
        let head = b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nReferer: http://r/\r\nuser-agent:  curl/8.11 \r\n\r\n";
        assert_eq!(
            line(head, 200, 1234, Some(3)),
            r#"192.0.2.1 "default" "GET /a?b=c HTTP/1.1" 200 1234 "http://r/" "curl/8.11" 3"#
        );
        assert_eq!(
            line(b"POST / HTTP/1.0\r\n\r\n", 502, 0, None),
            r#"192.0.2.1 "default" "POST / HTTP/1.0" 502 0 "-" "-" -"#
        );
    }

    #[test]
    fn network_bytes_are_escaped() {
        let head = b"GET /\"x\\ HTTP/1.1\r\nUser-Agent: a\"b\xff\r\n\r\n";
        assert_eq!(
            line(head, 200, 1, Some(0)),
            r#"192.0.2.1 "default" "GET /\x22x\x5c HTTP/1.1" 200 1 "-" "a\x22b\xff" 0"#
        );
    }

    #[test]
    fn long_fields_are_cut() {
        let uri = "/".repeat(5000);
        let ua = "u".repeat(5000);
        let head = format!("GET {uri} HTTP/1.1\r\nUser-Agent: {ua}\r\nReferer: {ua}\r\n\r\n");
        let l = line(head.as_bytes(), 200, u64::MAX, Some(u64::MAX));
        assert!(l.len() <= LINE_MAX, "{} bytes", l.len());
        assert!(l.contains(&format!("\"GET {}... HTTP/1.1\"", &uri[..URI_MAX - 3])));
        assert!(l.contains(&format!(" \"{}...\"", &ua[..HDR_MAX - 3])));
        assert!(l.ends_with(" 18446744073709551615"));
        // Escaped bytes are never split by the cut.
        let head = format!("GET {} HTTP/1.1\r\n\r\n", "\x01".repeat(1000));
        let l = line(head.as_bytes(), 200, 0, None);
        let uri = l.split(' ').nth(3).unwrap();
        assert!(uri.ends_with("\\x01..."), "{uri}");
    }

    #[test]
    fn garbage_heads_do_not_panic() {
        for head in [&b""[..], b"\n", b"GET", b"GET /", b"\r\n\r\n", b":\n:"] {
            let _ = line(head, 400, 0, None);
        }
        assert_eq!(num_str(0), "0");
        assert_eq!(num_str(1_000_000), "1000000");
    }

    fn num_str(v: u64) -> String {
        let mut o = V(Vec::new());
        num(&mut o, v).unwrap();
        String::from_utf8(o.0).unwrap()
    }
}
