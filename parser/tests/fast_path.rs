//! The whole-line fast path against the byte-wise state machine on field lines that exercise
//! its shortcuts (one-token Connection/Transfer-Encoding values, Content-Length digits, Host
//! runs, whitespace around values, recognized names of every length): a message fed whole
//! takes the fast path, the same message split at every point (and byte by byte) takes the
//! byte-wise states for the line that is cut, and both must give the same events and verdict.

use tempesta_parser::testkit::{self, Role};
use tempesta_parser::{Limits, Method};

const LINES: &[&str] = &[
    "Connection: keep-alive",
    "Connection: Keep-Alive",
    "connection: CLOSE",
    "Connection: close, keep-alive",
    "Connection: upgrade",
    "Connection: Upgrade\r\nUpgrade: websocket",
    "Connection: x-very-long-connection-option-name",
    "Connection: keep-alivex",
    "Connection: keep-alive ",
    "Connection:  \tclose\t ",
    "Connection: ",
    "Connection: ,close,",
    "Connection: clo se",
    "Connection: close;",
    "Transfer-Encoding: chunked\r\n\r\n0",
    "Transfer-Encoding: CHUNKED\r\n\r\n0",
    "Transfer-Encoding: gzip, chunked\r\n\r\n0",
    "Transfer-Encoding: gzip",
    "Transfer-Encoding: chunked, chunked",
    "Transfer-Encoding: chunkedx",
    "Transfer-Encoding: ",
    "Transfer-Encoding: chunked\r\nContent-Length: 3",
    "Content-Length: 0",
    "Content-Length: 3\r\n\r\nabc",
    "Content-Length: 0003 \r\n\r\nabc",
    "Content-Length:3\r\n\r\nabc",
    "Content-Length: 9999999999999999999",
    "Content-Length: 99999999999999999999",
    "Content-Length: 18446744073709551616",
    "Content-Length: 1, 1",
    "Content-Length: 1x",
    "Content-Length: ",
    "Content-Length: 1\r\nContent-Length: 1",
    "Expect: 100-continue",
    "Expect: 100-Continue ",
    "Expect: 100-continue x",
    "Date: Mon\r\nDate: Tue",
    "ETag: \"x\"",
    "TE: trailers",
    "Age: 1",
    "If-Modified-Since: Mon, 27 May 2024 10:00:00 GMT",
    "X-Forwarded-For: 203.0.113.7",
    "X-Forwarded-Forx: 1",
    "Upgrade-Insecure-Requests: 1",
    "A: b",
    "A:b",
    "A:",
    "A:\t",
    "A: b\tc",
    "A: b \t ",
    "A:   b",
    "A: \x7f",
    "A: b\x01",
    "A: b\rc",
    "A: b\nc",
    "A : b",
    "A\t: b",
    "(A): b",
    ": b",
    " A: b",
    "A-B-C-D-E-F-G-H-I-J-K-L-M-N-O-P: q",
];

fn check(role: Role, msg: &[u8]) {
    let whole = testkit::run(role, Limits::DEFAULT, &[msg]);
    for k in 0..=msg.len() {
        let s = testkit::run_split(role, Limits::DEFAULT, msg, &[k]);
        assert_eq!(
            s,
            whole,
            "{} split at {k}",
            String::from_utf8_lossy(msg).escape_debug()
        );
    }
    for seed in 0..4 {
        if let Err(e) = testkit::check_split_invariance(role, Limits::DEFAULT, msg, seed) {
            panic!("{}: {e}", String::from_utf8_lossy(msg).escape_debug());
        }
    }
}

#[test]
fn requests() {
    for line in LINES {
        let msg = format!("POST /p HTTP/1.1\r\nHost: h\r\n{line}\r\n\r\n");
        check(Role::Request, msg.as_bytes());
    }
    for host in [
        "a:80",
        "[::1]:8080",
        "a b",
        "a:99999",
        "",
        " a ",
        "a@b",
        "a:",
    ] {
        let msg = format!("GET / HTTP/1.1\r\nHost: {host}\r\nX: y\r\n\r\n");
        check(Role::Request, msg.as_bytes());
    }
}

#[test]
fn responses_and_trailers() {
    for line in LINES {
        let msg = format!("HTTP/1.1 200 OK\r\n{line}\r\n\r\n");
        check(Role::Response(Method::Get), msg.as_bytes());
        let msg = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n{line}\r\n\r\n"
        );
        check(Role::Response(Method::Get), msg.as_bytes());
    }
}

/// The fast path checks the limits once per call, on a window of the chunk too short for any
/// line in it to reach them: at every limit value around the messages' own counts, whole
/// input (fast path up to the window's end) must give what byte-by-byte input (byte-wise
/// states only) and every two-piece split give, including the error and where it is reported.
#[test]
fn limits_at_every_value() {
    let mixed: &[u8] = b"GET / HTTP/1.1\r\nHost: h\r\nA: 12345\r\nUser-Agent: x/1\r\nB:b\r\n\
Cookie: c=1; d=2\r\nC: \r\nD: 1 \t2 \r\nE:1\r\nF:2\r\nI:\r\nJ:\r\nK:\r\nL:\r\n\r\n";
    // Field lines of the shortest length (4 bytes with the CRLF).
    let short = format!("GET / HTTP/1.1\r\nHost: h\r\n{}\r\n", "a:\r\n".repeat(16));
    for msg in [mixed, short.as_bytes()] {
        for n in 0..20 {
            check_limits(
                msg,
                Limits {
                    header_cnt: n,
                    ..Limits::DEFAULT
                },
            );
        }
        for n in 0..24 {
            check_limits(
                msg,
                Limits {
                    hdr_len: n,
                    ..Limits::DEFAULT
                },
            );
        }
        for n in 0..130 {
            check_limits(
                msg,
                Limits {
                    header_list_size: n,
                    ..Limits::DEFAULT
                },
            );
            check_limits(
                msg,
                Limits {
                    header_list_size: n,
                    hdr_len: 9,
                    header_cnt: 12,
                    ..Limits::DEFAULT
                },
            );
        }
    }
}

fn check_limits(msg: &[u8], l: Limits) {
    let whole = testkit::run(Role::Request, l, &[msg]);
    let bytewise: Vec<usize> = (1..msg.len()).collect();
    assert_eq!(
        testkit::run_split(Role::Request, l, msg, &bytewise),
        whole,
        "{l:?}"
    );
    for k in 0..=msg.len() {
        assert_eq!(
            testkit::run_split(Role::Request, l, msg, &[k]),
            whole,
            "{l:?} split at {k}"
        );
    }
}
