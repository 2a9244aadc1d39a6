//! Differential tests against `httparse` on valid messages: both parsers must agree on the
//! start line, every header name and value, and where the head ends.

mod common;

use common::corpus::CASES;
use common::Rng;
use tempesta_parser::testkit::{self, Outcome, Role};
use tempesta_parser::{Event, Limits, Method, Version};

#[derive(Debug, PartialEq, Eq)]
struct HeadView {
    start: (String, String, u8), // method or code, target or reason, minor version
    headers: Vec<(String, Vec<u8>)>,
    head_len: usize,
}

fn ours(msg: &[u8], o: &Outcome) -> HeadView {
    let mut start = None;
    let mut headers = Vec::new();
    let mut head_len = 0;
    for e in &o.events {
        match e {
            Event::RequestLine(r) => {
                let minor = u8::from(r.version == Version::Http11);
                start = Some((
                    String::from_utf8(testkit::bytes(msg, r.method_span).to_vec()).unwrap(),
                    String::from_utf8(testkit::bytes(msg, r.target).to_vec()).unwrap(),
                    minor,
                ));
            }
            Event::StatusLine(s) => {
                let minor = u8::from(s.version == Version::Http11);
                start = Some((
                    s.code.to_string(),
                    String::from_utf8_lossy(testkit::bytes(msg, s.reason)).into_owned(),
                    minor,
                ));
            }
            Event::Header(f) => headers.push((
                String::from_utf8(testkit::bytes(msg, f.name).to_vec()).unwrap(),
                testkit::bytes(msg, f.value).to_vec(),
            )),
            Event::HeadEnd(h) => {
                head_len = h.end as usize;
                break;
            }
            _ => {}
        }
    }
    HeadView {
        start: start.expect("no start line"),
        headers,
        head_len,
    }
}

fn theirs_request(msg: &[u8]) -> Result<HeadView, String> {
    let mut hs = [httparse::EMPTY_HEADER; 128];
    let mut r = httparse::Request::new(&mut hs);
    match r.parse(msg) {
        Ok(httparse::Status::Complete(n)) => Ok(HeadView {
            start: (
                r.method.unwrap().to_string(),
                r.path.unwrap().to_string(),
                r.version.unwrap(),
            ),
            headers: r
                .headers
                .iter()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect(),
            head_len: n,
        }),
        other => Err(format!("{other:?}")),
    }
}

fn theirs_response(msg: &[u8]) -> Result<HeadView, String> {
    let mut hs = [httparse::EMPTY_HEADER; 128];
    let mut r = httparse::Response::new(&mut hs);
    match r.parse(msg) {
        Ok(httparse::Status::Complete(n)) => Ok(HeadView {
            start: (
                r.code.unwrap().to_string(),
                r.reason.unwrap_or("").to_string(),
                r.version.unwrap(),
            ),
            headers: r
                .headers
                .iter()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect(),
            head_len: n,
        }),
        other => Err(format!("{other:?}")),
    }
}

/// The valid corpus messages (first message of each stream) parse the same in both, except
/// where httparse is documented to be laxer or stricter (listed).
#[test]
fn corpus_agrees_with_httparse() {
    // httparse reports an empty reason for a reason phrase with obs-text and HTAB (it does
    // not hand out such a reason as `&str`); we report the span.
    // httparse refuses HTTP/1 minor versions past 1, which RFC 9110 section 2.5 says to
    // process as 1.1.
    let skip = ["resp_obs_text_reason", "http12"];
    let mut compared = 0;
    for c in CASES
        .iter()
        .filter(|c| c.expect.is_ok() && !skip.contains(&c.name))
    {
        let o = testkit::run(c.role, c.limits, &[c.msg]);
        let mine = ours(c.msg, &o);
        let theirs = match c.role {
            Role::Request => theirs_request(c.msg),
            Role::Response(_) => theirs_response(c.msg),
        };
        assert_eq!(theirs.as_ref(), Ok(&mine), "{}", c.name);
        compared += 1;
    }
    assert!(compared > 40, "{compared}");
}

const TCHARS: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const PATH: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%";

fn pick(rng: &mut Rng, set: &[u8], min: usize, max: usize) -> Vec<u8> {
    let n = min + rng.below(max - min + 1);
    (0..n).map(|_| set[rng.below(set.len())]).collect()
}

/// A field value: visible ASCII and obs-text with single inner spaces/tabs, no surrounding
/// whitespace (surrounding OWS is added separately).
fn value(rng: &mut Rng) -> Vec<u8> {
    let n = rng.below(60);
    let mut v = Vec::new();
    for i in 0..n {
        let b = match rng.below(20) {
            0 if i > 0 && i + 1 < n => b' ',
            1 if i > 0 && i + 1 < n => b'\t',
            2 => 0x80 + rng.below(128) as u8,
            _ => 0x21 + rng.below(0x5e) as u8,
        };
        v.push(b);
    }
    v
}

fn ows(rng: &mut Rng) -> &'static [u8] {
    [&b""[..], b" ", b"  ", b"\t", b" \t "][rng.below(5)]
}

fn random_fields(rng: &mut Rng, m: &mut Vec<u8>) {
    let safe_known = [
        "Accept",
        "Cookie",
        "cache-control",
        "X-FORWARDED-FOR",
        "Vary",
        "Set-Cookie",
        "pragma",
    ];
    for _ in 0..rng.below(25) {
        let name = if rng.below(4) == 0 {
            safe_known[rng.below(safe_known.len())].as_bytes().to_vec()
        } else {
            let mut n = pick(rng, TCHARS, 1, 30);
            // Keep clear of names with framing semantics.
            if matches!(n.len(), 4 | 6 | 10 | 14 | 17) {
                n.push(b'x');
            }
            n
        };
        m.extend_from_slice(&name);
        m.push(b':');
        m.extend_from_slice(ows(rng));
        m.extend_from_slice(&value(rng));
        m.extend_from_slice(ows(rng));
        m.extend_from_slice(b"\r\n");
    }
}

fn random_request(rng: &mut Rng) -> Vec<u8> {
    let methods = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "X-CUSTOM", "HEAD",
    ];
    let mut m = methods[rng.below(methods.len())].as_bytes().to_vec();
    m.push(b' ');
    m.push(b'/');
    m.extend_from_slice(&pick(rng, PATH, 0, 120));
    m.extend_from_slice(if rng.below(3) == 0 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    m.extend_from_slice(b"Host: ");
    m.extend_from_slice(&pick(rng, b"abcdefghijklmnopqrstuvwxyz0123456789.-", 1, 30));
    m.extend_from_slice(b"\r\n");
    random_fields(rng, &mut m);
    m.extend_from_slice(b"\r\n");
    m
}

fn random_response(rng: &mut Rng) -> Vec<u8> {
    let mut m = if rng.below(3) == 0 {
        b"HTTP/1.0 ".to_vec()
    } else {
        b"HTTP/1.1 ".to_vec()
    };
    m.extend_from_slice(format!("{}", 100 + rng.below(500)).as_bytes());
    m.push(b' ');
    m.extend_from_slice(&pick(rng, b"abcdefghij KLMNOP-_.,;", 0, 30));
    m.extend_from_slice(b"\r\n");
    random_fields(rng, &mut m);
    m.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    m
}

#[test]
fn random_requests_agree_with_httparse() {
    let mut rng = Rng(0xd1ff_0000_0000_0001);
    for i in 0..3000 {
        let m = random_request(&mut rng);
        let o = testkit::run(Role::Request, Limits::NONE, &[&m]);
        assert_eq!(o.verdict, Ok(()), "#{i}: {:?}", String::from_utf8_lossy(&m));
        let mine = ours(&m, &o);
        assert_eq!(
            theirs_request(&m),
            Ok(mine),
            "#{i}: {:?}",
            String::from_utf8_lossy(&m)
        );
        // And split at a random point.
        let k = rng.below(m.len());
        assert_eq!(testkit::run_split(Role::Request, Limits::NONE, &m, &[k]), o);
    }
}

#[test]
fn random_responses_agree_with_httparse() {
    let mut rng = Rng(0xd1ff_0000_0000_0002);
    for i in 0..3000 {
        let m = random_response(&mut rng);
        let role = Role::Response(Method::Get);
        let o = testkit::run(role, Limits::NONE, &[&m]);
        assert_eq!(o.verdict, Ok(()), "#{i}: {:?}", String::from_utf8_lossy(&m));
        let mine = ours(&m, &o);
        assert_eq!(
            theirs_response(&m),
            Ok(mine),
            "#{i}: {:?}",
            String::from_utf8_lossy(&m)
        );
        let k = rng.below(m.len());
        assert_eq!(testkit::run_split(role, Limits::NONE, &m, &[k]), o);
    }
}

/// Lists the corpus messages we reject and httparse accepts (its head parse completes): our
/// deliberate strictness. Run with `--nocapture` to see them.
#[test]
fn stricter_than_httparse() {
    let mut laxer = Vec::new();
    for c in CASES.iter().filter(|c| c.expect.is_err()) {
        let theirs = match c.role {
            Role::Request => theirs_request(c.msg),
            Role::Response(_) => theirs_response(c.msg),
        };
        if theirs.is_ok() {
            laxer.push(format!("{} ({:?})", c.name, c.expect.unwrap_err()));
        }
    }
    println!(
        "httparse accepts {} heads we reject:\n{}",
        laxer.len(),
        laxer.join("\n")
    );
    assert!(!laxer.is_empty());
}
