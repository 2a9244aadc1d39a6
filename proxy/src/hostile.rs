//! Hostile peers on both sides: generated and mutated requests from clients and responses
//! from the upstream, split at random points, with time moving so that timeouts fire and reloads
//! happening, through a proxy with the cache, PURGE, frang limits and HTTP tables on.
//!
//! Every input is derived from a seed, so a failure names the seed that reproduces it
//! (`TFW_HOSTILE_SEED=N cargo test -p tempesta-proxy hostile`); `make test` runs 200 seeds,
//! `TFW_HOSTILE_RUNS=5000` runs more (2000 passed when this was written). What must hold
//! whatever the peers send: no panic (test builds check arithmetic overflow, as the module's
//! do), every byte a client gets is a sequence of HTTP/1.1 responses with a valid status (the
//! proxy never relays an upstream's garbage as its own framing), nothing is lost silently
//! (a client that sent well-formed requests and waited gets a final response to each, unless
//! a response said the connection closes, broke off visibly, or the connection was reset),
//! the simulation comes to rest, and stopping releases every socket.

use std::prelude::rust_2021::*;

use crate::host::testkit::{responses, responses_rest, Peer, Server};
use crate::host::Sim;

const PORT: u16 = 8090;
const CONFIG: &str = "listen 8090;
server 127.0.0.1:8101 conns_n=2;
server_forward_timeout 5;
server_forward_retries 2;
cache 2;
cache_fulfill * *;
cache_bypass prefix /nocache;
cache_methods GET HEAD;
cache_purge;
cache_purge_acl 10.0.0.0/8;
cache_use_stale 5*;
keepalive_timeout 30;
frang_limits {
    http_uri_len 2048;
    http_hdr_len 1024;
    http_header_cnt 40;
    http_body_len 65536;
    client_header_timeout 10;
    client_body_timeout 10;
    http_methods get head post put delete purge options;
}
vhost v {
    proxy_pass default;
}
http_chain {
    uri == \"/blocked*\" -> block;
    hdr \"X-Mark\" == \"1\" -> mark = 7;
    -> v;
}
";

/// xorshift64*: small, seedable, good enough to pick among alternatives.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const METHODS: &[&str] = &[
    "GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "PURGE", "OPTIONS", "CONNECT", "get",
    "G@T",
];
const PATHS: &[&str] = &[
    "/",
    "/c/a",
    "/c/a",
    "/c/b?x=1",
    "/c/%41",
    "/nocache/x",
    "/blocked/y",
    "*",
    "http://example.com/c/a",
    "example.com:80",
    "/c/a#frag",
    "/../../etc",
];
const VERSIONS: &[&str] = &[
    "HTTP/1.1",
    "HTTP/1.1",
    "HTTP/1.1",
    "HTTP/1.0",
    "HTTP/1.9",
    "HTTP/2.0",
    "HTTP/1.1x",
];
/// Fields of well-formed requests: what the cache, the conditions and the tables read.
const GOOD_REQ_FIELDS: &[&str] = &[
    "Cache-Control: no-cache",
    "Cache-Control: max-age=0",
    "Cache-Control: max-stale, min-fresh=5",
    "Cache-Control: only-if-cached",
    "Cache-Control: max-age=99999999999999999999",
    "Pragma: no-cache",
    "If-None-Match: \"e1\"",
    "If-None-Match: *",
    "If-None-Match: W/\"e1\", \"e2\"",
    "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT",
    "If-Modified-Since: Sun, 06 Nov 2094 08:49:37 GMT",
    "If-Modified-Since: yesterday",
    "Accept-Encoding: gzip",
    "Accept-Encoding: br",
    "Authorization: Basic dTpw",
    "Cookie: a=b",
    "Range: bytes=0-1",
    "Connection: close",
    "Connection: keep-alive",
    "Expect: 100-continue",
    "X-Forwarded-For: 1.2.3.4",
    "X-Mark: 1",
];
/// Fields that make a request suspect or invalid.
const BAD_REQ_FIELDS: &[&str] = &[
    "Host: example.com",
    "Host: a, b",
    "Host:",
    "Connection: Upgrade",
    "Upgrade: websocket",
    "Content-Length: 0",
    "Content-Length: 5",
    "Content-Length: 5, 5",
    "Content-Length: -1",
    "Content-Length: 99999999999999999999999",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: gzip, chunked",
    "Transfer-Encoding: chunked, gzip",
    "Trailer: X",
    "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    " folded: x",
    "Bad Name: x",
    "X: a\x01b",
];
const BODIES: &[&str] = &[
    "",
    "hello",
    "5\r\nhello\r\n0\r\n\r\n",
    "5;ext=1\r\nhello\r\n0\r\nX: y\r\n\r\n",
    "ffffffffffffffffff\r\n",
    "3\r\nab",
    "0\r\n\r\n",
];

const STATUSES: &[&str] = &[
    "200 OK",
    "200 OK",
    "200 OK",
    "203 X",
    "204 No Content",
    "206 Partial",
    "301 Moved",
    "304 Not Modified",
    "404 Not Found",
    "500 Oops",
    "502 Bad",
    "503 Busy",
    "100 Continue",
    "101 Switching",
    "999 What",
    "20 Short",
    "200",
];
const RESP_VERSIONS: &[&str] = &[
    "HTTP/1.1",
    "HTTP/1.1",
    "HTTP/1.1",
    "HTTP/1.0",
    "HTTP/2",
    "HTTP/1.1x",
];
const RESP_FIELDS: &[&str] = &[
    "Cache-Control: max-age=60",
    "Cache-Control: max-age=60",
    "Cache-Control: max-age=0",
    "Cache-Control: max-age=99999999999999999999",
    "Cache-Control: s-maxage=5, public",
    "Cache-Control: no-store",
    "Cache-Control: private",
    "Cache-Control: no-cache=\"Set-Cookie\"",
    "Cache-Control: must-revalidate, stale-if-error=60",
    "Cache-Control: max-age=\"1",
    "CDN-Cache-Control: max-age=60",
    "CDN-Cache-Control: no-store, max-age=1",
    "CDN-Cache-Control: max-age=(1 2);a=?1",
    "CDN-Cache-Control: max-age=\"60\\",
    "Pragma: no-cache",
    "Expires: Sun, 06 Nov 2094 08:49:37 GMT",
    "Expires: 0",
    "Date: Sun, 06 Nov 1994 08:49:37 GMT",
    "Date: garbage",
    "Age: 7200",
    "Age: 99999999999999999999",
    "Age: 1, 2",
    "ETag: \"e1\"",
    "ETag: W/\"e2\"",
    "ETag: e3",
    "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT",
    "Vary: Accept-Encoding",
    "Vary: *",
    "Vary: ,,,",
    "Set-Cookie: s=1",
    "Content-Location: /c/b?x=1",
    "Location: /c/a",
    "Connection: close",
    "Connection: keep-alive, X-Drop",
    "Keep-Alive: timeout=1",
    "Content-Length: 5",
    "Content-Length: 5",
    "Content-Length: 5, 6",
    "Content-Length: 100",
    "Content-Length: 99999999999999999999999",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: gzip",
    "Upgrade: websocket",
    "Content-Type: text/html",
    "Server: evil\x7f",
    "X\t: y",
];

/// A request: well-formed more often than not (then `true`), else suspect, malformed or with
/// bytes flipped.
fn request(r: &mut Rng) -> (Vec<u8>, bool) {
    if r.chance(70) {
        let method = r.pick(&[
            "GET", "GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "PURGE",
        ]);
        // The well-formed origin-form targets.
        let path = r.pick(&PATHS[..7]);
        // Tempesta's frang refuses a Host field before HTTP/1.1.
        let mut s = match r.pick(&["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"]) {
            "HTTP/1.0" => format!("{method} {path} HTTP/1.0\r\n"),
            v => format!("{method} {path} {v}\r\nHost: example.com:8090\r\n"),
        };
        for _ in 0..r.below(5) {
            s.push_str(r.pick(GOOD_REQ_FIELDS));
            s.push_str("\r\n");
        }
        s.push_str(if matches!(method, "POST" | "PUT") {
            "Content-Length: 5\r\n\r\nhello"
        } else {
            "\r\n"
        });
        return (s.into_bytes(), true);
    }
    let mut s = format!(
        "{} {} {}\r\n",
        r.pick(METHODS),
        r.pick(PATHS),
        r.pick(VERSIONS)
    );
    if r.chance(85) {
        s.push_str("Host: example.com:8090\r\n");
    }
    for _ in 0..r.below(6) {
        let pool = if r.chance(50) {
            GOOD_REQ_FIELDS
        } else {
            BAD_REQ_FIELDS
        };
        s.push_str(r.pick(pool));
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.push_str(r.pick(BODIES));
    (mutate(r, s.into_bytes()), false)
}

/// A response: mostly well-formed, sometimes not, sometimes several or a partial one.
fn response(r: &mut Rng) -> Vec<u8> {
    if r.chance(50) {
        // Well-formed, cacheable unless its fields say otherwise (RESP_FIELDS[..32] are the
        // cache's fields, without framing or persistence).
        let mut s = String::from("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n");
        for _ in 0..r.below(4) {
            s.push_str(RESP_FIELDS[r.below(32)]);
            s.push_str("\r\n");
        }
        s.push_str("Content-Length: 5\r\n\r\nhello");
        return s.into_bytes();
    }
    let mut s = format!("{} {}\r\n", r.pick(RESP_VERSIONS), r.pick(STATUSES));
    for _ in 0..r.below(7) {
        s.push_str(r.pick(RESP_FIELDS));
        s.push_str("\r\n");
    }
    if r.chance(60) {
        s.push_str("Content-Length: 5\r\n");
    }
    s.push_str("\r\n");
    s.push_str(r.pick(&[
        "hello",
        "hello",
        "",
        "5\r\nhello\r\n0\r\n\r\n",
        "hell",
        "hello!!",
    ]));
    let mut b = mutate(r, s.into_bytes());
    if r.chance(5) {
        let more = response(r);
        b.extend_from_slice(&more);
    }
    b
}

/// Flips, inserts or deletes a few bytes, now and then.
fn mutate(r: &mut Rng, mut b: Vec<u8>) -> Vec<u8> {
    if !r.chance(20) {
        return b;
    }
    for _ in 0..=r.below(3) {
        let at = r.below(b.len() + 1);
        match r.below(4) {
            0 if at < b.len() => b[at] ^= 1 << r.below(8),
            1 => b.insert(
                at,
                r.pick(&["\r", "\n", "\0", ":", " ", ",", "\"", "\x7f", "\u{ff}"])
                    .as_bytes()[0],
            ),
            2 if at < b.len() => {
                b.remove(at);
            }
            _ => b.truncate(at),
        }
    }
    b
}

/// Whether `out` is a sequence of HTTP/1.1 responses with valid status codes: the first
/// status line exactly, the others as framed by their heads (`heads`: which requests were
/// HEAD, whose responses have no body).
fn check_output(seed: u64, out: &[u8], heads: &[bool], closed: bool) {
    if out.is_empty() {
        return;
    }
    let first = out.get(..13).unwrap_or(out);
    let code = first.get(9..12).unwrap_or_default();
    assert!(
        first.starts_with(b"HTTP/1.1 ")
            && code.iter().all(u8::is_ascii_digit)
            && code.len() == 3
            && (&b"100"[..]..=&b"599"[..]).contains(&code)
            && matches!(first.get(12), Some(b' ' | b'\r')),
        "seed {seed}: the client got {:?}",
        String::from_utf8_lossy(&out[..out.len().min(80)])
    );
    for r in responses(out, heads, closed) {
        assert!(
            (100..600).contains(&r.status),
            "seed {seed}: status {} in {:?}",
            r.status,
            String::from_utf8_lossy(out)
        );
        // The test kit frames by Content-Length or any chunked coding: a response that is
        // close-delimited (RFC 9112 section 6.3, chunked not last) has the rest as its body.
        let te: Vec<_> = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .collect();
        let chunked_last = te.last().is_none_or(|v| v.trim().ends_with("chunked"));
        if !chunked_last || r.header("connection") == Some("close") {
            break;
        }
    }
}

/// One client connection of a run: what it sent and got.
struct Exchange {
    peer: Peer,
    /// The requests, as sent.
    sent: Vec<u8>,
    /// Which of them are HEAD requests.
    heads: Vec<bool>,
    /// All well-formed, and the client waited for the answers.
    clean: bool,
    got: Vec<u8>,
}

/// Nothing is lost silently: each well-formed request of a client that waited got a final
/// response, unless an earlier response said the connection closes, the connection was reset
/// (a refusal), or a response broke off (its framing shows it: the upstream failed
/// mid-body).
fn check_answered(seed: u64, x: &Exchange) {
    let (out, heads, c, sent) = (&x.got[..], &x.heads[..], &x.peer, &x.sent[..]);
    let (all, cut) = responses_rest(out, heads, c.closed());
    let finals: Vec<_> = all.into_iter().filter(|r| r.status >= 200).collect();
    if !cut.is_empty() {
        return;
    }
    let closing = finals
        .last()
        .and_then(|r| r.header("connection"))
        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
    assert!(
        finals.len() >= heads.len() || closing || c.was_reset(),
        "seed {seed}: {} requests, {} answered, closed {}: {:?} for {:?}",
        heads.len(),
        finals.len(),
        c.closed(),
        String::from_utf8_lossy(out),
        String::from_utf8_lossy(sent)
    );
}

/// One simulation: `clients` connections, each sending a few requests in random pieces,
/// against an upstream answering from `seed`'s generator.
fn run(seed: u64, clients: usize) {
    eprintln!("hostile_peers: seed {seed}");
    let mut rng = Rng::new(seed);
    let mut up_rng = Rng::new(seed ^ 0xdead_beef);
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(move |_req| {
            // Now and then the upstream holds a request unanswered (a timeout, then a retry
            // or a 504, or a stale entry).
            if up_rng.chance(5) {
                None
            } else {
                Some(response(&mut up_rng))
            }
        }),
    );
    let mut sim = Sim::start(CONFIG).expect("the configuration starts");
    sim.run_with(&mut [&mut up]);
    let mut peers: Vec<Exchange> = Vec::new();
    for _ in 0..clients {
        let Some(c) = sim.client(PORT, [10, 0, 0, 1 + rng.below(4) as u8]) else {
            continue;
        };
        let (mut bytes, mut heads, mut clean) = (Vec::new(), Vec::new(), true);
        for _ in 0..=rng.below(3) {
            let (one, ok) = request(&mut rng);
            heads.push(one.starts_with(b"HEAD "));
            bytes.extend_from_slice(&one);
            clean &= ok;
        }
        // In pieces of random sizes, the simulation running between them.
        let mut at = 0;
        while at < bytes.len() {
            let n = (1 + rng.below(64)).min(bytes.len() - at);
            at += c.send(&bytes[at..at + n]);
            sim.run_with(&mut [&mut up]);
            if rng.chance(10) {
                sim.advance(rng.below(3000) as u64, &mut [&mut up]);
            }
            if c.closed() {
                break;
            }
        }
        // Well-formed requests the client waits for get answers (`clean` stays true).
        match rng.below(10) {
            0 => {
                c.shutdown();
                clean = false;
            }
            1 => {
                c.reset();
                clean = false;
            }
            _ => {}
        }
        clean &= at == bytes.len() && !c.was_reset();
        if rng.chance(3) {
            // A reload with traffic in flight: the cache off or on, one upstream connection
            // or two (pools replaced, clients kept).
            let cfg = CONFIG
                .replace(
                    "cache 2;",
                    if rng.chance(50) {
                        "cache 0;"
                    } else {
                        "cache 2;"
                    },
                )
                .replace(
                    "conns_n=2",
                    if rng.chance(50) {
                        "conns_n=1"
                    } else {
                        "conns_n=2"
                    },
                );
            sim.reload(&cfg).expect("the configuration reloads");
        }
        let got = c.read_all(&mut sim, &mut [&mut up]);
        peers.push(Exchange {
            peer: c,
            sent: bytes,
            heads,
            clean,
            got,
        });
        if rng.chance(20) {
            sim.advance(6000, &mut [&mut up]);
        }
    }
    // Let every timeout fire, then collect what is left.
    sim.advance(40_000, &mut [&mut up]);
    for x in &mut peers {
        let more = x.peer.recv();
        x.got.extend_from_slice(&more);
        check_output(seed, &x.got, &x.heads, x.peer.closed());
        if x.clean {
            check_answered(seed, x);
        }
    }
    sim.stop();
    assert_eq!(
        sim.open_sockets(),
        0,
        "seed {seed}: every socket released at stop"
    );
}

#[test]
fn hostile_peers() {
    if let Some(seed) = std::env::var("TFW_HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        run(seed, 30);
        return;
    }
    let n: u64 = std::env::var("TFW_HOSTILE_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    for seed in 0..n {
        run(seed, 30);
    }
}
