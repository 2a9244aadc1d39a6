//! One test per rule: what the parser reports (spans, framing, keep-alive, ...) and what it
//! rejects. Verdict-only cases live in the corpus (tests/common/corpus.rs).

mod common;

use common::*;
use tempesta_parser::testkit::{self, Role};
use tempesta_parser::{
    BodyKind, Chunk, Error, Event, HeaderId, Limits, MessageEnd, Method, RequestParser,
    ResponseParser, Span, Status, TargetForm, Version,
};

fn s(msg: &[u8], span: Span) -> &str {
    std::str::from_utf8(testkit::bytes(msg, span)).unwrap()
}

// ------------------------------------------------------------------ request line

#[test]
fn origin_form() {
    let m = b"GET /a/b?c=d HTTP/1.1\r\nHost: h\r\n\r\n";
    let o = req(m);
    ok(&o);
    let r = request_line(&o);
    assert_eq!(r.method, Method::Get);
    assert_eq!(s(m, r.method_span), "GET");
    assert_eq!(s(m, r.target), "/a/b?c=d");
    assert_eq!(s(m, r.path), "/a/b?c=d");
    assert_eq!(r.form, TargetForm::Origin);
    assert_eq!(r.authority, None);
    assert_eq!(r.version, Version::Http11);
}

#[test]
fn methods() {
    for (name, m) in [
        ("GET", Method::Get),
        ("HEAD", Method::Head),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("DELETE", Method::Delete),
        ("OPTIONS", Method::Options),
        ("TRACE", Method::Trace),
        ("PATCH", Method::Patch),
        ("PURGE", Method::Other),
        ("get", Method::Other),
        ("GETS", Method::Other),
    ] {
        let msg = format!("{name} / HTTP/1.1\r\nHost: h\r\n\r\n");
        let o = req(msg.as_bytes());
        let r = request_line(&o);
        assert_eq!(r.method, m, "{name}");
        assert_eq!(s(msg.as_bytes(), r.method_span), name);
    }
    let m = b"CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n";
    assert_eq!(request_line(&req(m)).method, Method::Connect);
}

#[test]
fn method_length_limit() {
    let ok_method = "M".repeat(tempesta_parser::MAX_METHOD_LEN as usize);
    let msg = format!("{ok_method} / HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(&req(msg.as_bytes()));
    let msg = format!("{ok_method}M / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(req_err(msg.as_bytes()), Error::MethodTooLong);
}

#[test]
fn absolute_form() {
    let m = b"GET http://Example.com:8080/x?y HTTP/1.1\r\nHost: example.COM:8080\r\n\r\n";
    let o = req(m);
    let r = request_line(&o);
    assert_eq!(r.form, TargetForm::Absolute);
    assert_eq!(s(m, r.target), "http://Example.com:8080/x?y");
    assert_eq!(s(m, r.authority.unwrap()), "Example.com:8080");
    assert_eq!(s(m, r.path), "/x?y");
    let h = head(&o);
    // The caller compares the target's authority with Host (case-insensitively) if it wants.
    assert!(s(m, r.authority.unwrap()).eq_ignore_ascii_case(s(m, h.host.unwrap())));

    let m = b"GET https://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n";
    let o = req(m);
    let r = request_line(&o);
    assert_eq!(s(m, r.authority.unwrap()), "a.example");
    assert!(r.path.is_empty());
    assert_eq!(r.path.start, r.target.end);
}

#[test]
fn authority_form_only_for_connect() {
    let m = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    let o = req(m);
    let r = request_line(&o);
    assert_eq!(r.form, TargetForm::Authority);
    assert_eq!(s(m, r.authority.unwrap()), "example.com:443");
    assert_eq!(s(m, head(&o).host.unwrap()), "example.com:443");
    assert_eq!(
        req_err(b"CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n"),
        Error::InvalidTarget
    );
    assert_eq!(
        req_err(b"CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n"),
        Error::InvalidHost
    );
    assert_eq!(
        req_err(b"CONNECT u@h:1 HTTP/1.1\r\nHost: h\r\n\r\n"),
        Error::UserinfoInTarget
    );
}

#[test]
fn asterisk_form_only_for_options() {
    let m = b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
    let r = request_line(&req(m));
    assert_eq!(r.form, TargetForm::Asterisk);
    assert_eq!(s(m, r.target), "*");
    assert_eq!(
        req_err(b"GET * HTTP/1.1\r\nHost: h\r\n\r\n"),
        Error::InvalidTarget
    );
    assert_eq!(
        req_err(b"OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n"),
        Error::InvalidTarget
    );
}

#[test]
fn target_bytes() {
    for bad in [b'#', b'\\', 0x7f, 0x80, 0xff, 0x01, b'\t'] {
        let mut m = b"GET /ab HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
        m[5] = bad;
        assert_eq!(req_err(&m), Error::InvalidTarget, "{bad:#x}");
    }
    assert_eq!(
        req_err(b"GET /a\0 HTTP/1.1\r\nHost: h\r\n\r\n"),
        Error::NulByte
    );
}

#[test]
fn versions() {
    let o = req(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(request_line(&o).version, Version::Http10);
    // A later HTTP/1 minor version is read as 1.1 (RFC 9110 section 2.5).
    for v in ["HTTP/1.2", "HTTP/1.9"] {
        let m = format!("GET / {v}\r\nHost: h\r\n\r\n");
        assert_eq!(
            request_line(&req(m.as_bytes())).version,
            Version::Http11,
            "{v}"
        );
    }
    for (v, e) in [
        ("HTTP/2.0", Error::UnsupportedVersion),
        ("HTTP/3.0", Error::UnsupportedVersion),
        ("HTTP/0.9", Error::UnsupportedVersion),
        // Not `DIGIT "." DIGIT`: malformed, not another version.
        ("HTTP/01.1", Error::InvalidVersion),
        ("HTTP/2", Error::InvalidVersion),
        ("HTTP/2.x", Error::InvalidVersion),
        ("HTTP/1.x", Error::InvalidVersion),
        ("HTTP/11", Error::InvalidVersion),
        ("HTTQ/1.1", Error::InvalidVersion),
        ("HTTP/1.1x", Error::InvalidVersion),
    ] {
        let m = format!("GET / {v}\r\nHost: h\r\n\r\n");
        assert_eq!(req_err(m.as_bytes()), e, "{v}");
    }
}

#[test]
fn uri_limit_counts_target_bytes() {
    let l = Limits {
        uri_len: 5,
        ..Limits::DEFAULT
    };
    ok(&req_with(l, b"GET /1234 HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_eq!(
        req_with(l, b"GET /12345 HTTP/1.1\r\nHost: h\r\n\r\n").verdict,
        Err(Error::UriTooLong)
    );
}

#[test]
fn leading_empty_lines() {
    ok(&req(b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    let m = b"\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let o = req(m);
    assert_eq!(request_line(&o).method_span.start, 8);
    let m = b"\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_eq!(req_err(m), Error::TooManyEmptyLines);
    assert_eq!(
        req_err(b"\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
        Error::BareLf
    );
}

// ------------------------------------------------------------------ fields

#[test]
fn field_spans_and_trimming() {
    let m = b"GET / HTTP/1.1\r\nHost:  h \r\nX-A:\t a b\t \r\nX-Empty:\r\nX-Ws:  \t \r\nhOsTx: 1\r\n\r\n";
    let o = req(m);
    ok(&o);
    let fs = field_strs(m, &fields(&o));
    let want: Vec<(HeaderId, String, String)> = [
        (HeaderId::Host, "Host", "h"),
        (HeaderId::Other, "X-A", "a b"),
        (HeaderId::Other, "X-Empty", ""),
        (HeaderId::Other, "X-Ws", ""),
        (HeaderId::Other, "hOsTx", "1"),
    ]
    .iter()
    .map(|(i, n, v)| (*i, n.to_string(), v.to_string()))
    .collect();
    assert_eq!(fs, want);
    // Empty values sit where the value would start.
    let f = fields(&o)[2];
    assert_eq!(f.value.start, f.name.end + 1);
}

#[test]
fn recognized_headers_any_case() {
    let names = [
        ("host", HeaderId::Host),
        ("CONTENT-LENGTH", HeaderId::ContentLength),
        ("Cache-Control", HeaderId::CacheControl),
        ("pragma", HeaderId::Pragma),
        ("Expires", HeaderId::Expires),
        ("date", HeaderId::Date),
        ("AGE", HeaderId::Age),
        ("etag", HeaderId::ETag),
        ("Last-Modified", HeaderId::LastModified),
        ("If-None-Match", HeaderId::IfNoneMatch),
        ("if-modified-since", HeaderId::IfModifiedSince),
        ("Authorization", HeaderId::Authorization),
        ("cookie", HeaderId::Cookie),
        ("Set-Cookie", HeaderId::SetCookie),
        ("x-forwarded-for", HeaderId::XForwardedFor),
        ("Upgrade", HeaderId::Upgrade),
        ("Vary", HeaderId::Vary),
        ("Keep-Alive", HeaderId::KeepAlive),
        ("Content-Type", HeaderId::ContentType),
        ("User-Agent", HeaderId::UserAgent),
        ("Referer", HeaderId::Referer),
        ("TE", HeaderId::Te),
        ("Trailer", HeaderId::Trailer),
        ("Expect", HeaderId::Expect),
        ("X-Custom", HeaderId::Other),
    ];
    let mut m = b"POST / HTTP/1.1\r\n".to_vec();
    for (n, _) in names {
        let v = if n.eq_ignore_ascii_case("content-length") {
            "0"
        } else {
            "v"
        };
        m.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    m.extend_from_slice(b"Connection: close\r\n\r\n");
    let o = req(&m);
    ok(&o);
    let ids: Vec<HeaderId> = fields(&o).iter().map(|f| f.id).collect();
    let mut want: Vec<HeaderId> = names.iter().map(|(_, i)| *i).collect();
    want.push(HeaderId::Connection);
    assert_eq!(ids, want);
    // The same with the message fed byte by byte (names cross chunk boundaries).
    let cuts: Vec<usize> = (1..m.len()).collect();
    assert_eq!(
        testkit::run_split(Role::Request, Limits::DEFAULT, &m, &cuts),
        o
    );
}

#[test]
fn field_syntax_errors() {
    let cases: &[(&[u8], Error)] = &[
        (b"X-A : 1", Error::WhitespaceBeforeColon),
        (b"X-A\t: 1", Error::WhitespaceBeforeColon),
        (b": 1", Error::EmptyHeaderName),
        (b"X-A", Error::MissingColon),
        (b"X-[A]: 1", Error::InvalidHeaderName),
        (b"X-\xc3\xa9: 1", Error::InvalidHeaderName),
        (b"X-A: 1\x00", Error::NulByte),
        (b"X-A: \x1b[31m", Error::InvalidHeaderValue),
        (b"X-A: \x7f", Error::InvalidHeaderValue),
        (b"X-A: 1\r2", Error::BareCr),
    ];
    for (line, e) in cases {
        let mut m = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
        m.extend_from_slice(line);
        m.extend_from_slice(b"\r\n\r\n");
        assert_eq!(req_err(&m), *e, "{}", String::from_utf8_lossy(line));
    }
    assert_eq!(
        req_err(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\nX-B: 2\r\n\r\n"),
        Error::BareLf
    );
}

#[test]
fn obs_fold_and_leading_whitespace() {
    assert_eq!(
        req_err(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n"),
        Error::ObsFold
    );
    assert_eq!(
        req_err(b"GET / HTTP/1.1\r\n\tHost: h\r\n\r\n"),
        Error::WhitespaceAfterStartLine
    );
}

#[test]
fn duplicate_singletons() {
    for n in [
        "Content-Type",
        "Authorization",
        "User-Agent",
        "Referer",
        "If-Modified-Since",
        "Age",
        "Date",
        "Expires",
        "ETag",
        "Last-Modified",
    ] {
        let m = format!(
            "GET / HTTP/1.1\r\nHost: h\r\n{n}: a\r\n{}: b\r\n\r\n",
            n.to_lowercase()
        );
        assert_eq!(req_err(m.as_bytes()), Error::DuplicateHeader, "{n}");
    }
    // Lists may repeat.
    ok(&req(
        b"GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nCookie: b=2\r\nVary: a\r\nVary: b\r\n\r\n",
    ));
    // A response may repeat the fields RFC 9111 section 4.2.1 tells a cache how to read
    // (the cache's rules for them are in cache/); the others stay refused.
    for n in ["Age", "Date", "Expires", "ETag", "Last-Modified"] {
        let m = format!(
            "HTTP/1.1 200 OK\r\n{n}: a\r\nContent-Length: 0\r\n{}: b\r\n\r\n",
            n.to_lowercase()
        );
        let o = resp(Method::Get, m.as_bytes());
        ok(&o);
        let f = field_strs(m.as_bytes(), &fields(&o));
        assert_eq!(
            f.iter()
                .filter(|(_, name, _)| name.eq_ignore_ascii_case(n))
                .count(),
            2,
            "{n}"
        );
    }
    assert_eq!(
        resp_err(
            Method::Get,
            b"HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n"
        ),
        Error::DuplicateHeader
    );
}

#[test]
fn header_limits() {
    let l = Limits {
        header_cnt: 3,
        ..Limits::DEFAULT
    };
    ok(&req_with(
        l,
        b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n",
    ));
    assert_eq!(
        req_with(
            l,
            b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
        )
        .verdict,
        Err(Error::TooManyHeaders)
    );
    let l = Limits {
        hdr_len: 8,
        ..Limits::DEFAULT
    };
    ok(&req_with(
        l,
        b"GET / HTTP/1.1\r\nHost: h\r\nA: 12345\r\n\r\n",
    ));
    assert_eq!(
        req_with(l, b"GET / HTTP/1.1\r\nHost: h\r\nA: 123456\r\n\r\n").verdict,
        Err(Error::HeaderTooLong)
    );
    let l = Limits {
        header_list_size: 15,
        ..Limits::DEFAULT
    };
    ok(&req_with(
        l,
        b"GET / HTTP/1.1\r\nHost: h\r\nA: 12345\r\n\r\n",
    ));
    assert_eq!(
        req_with(l, b"GET / HTTP/1.1\r\nHost: h\r\nA: 123456\r\n\r\n").verdict,
        Err(Error::HeaderListTooLarge)
    );
    // Default: 16384 bytes of field lines.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
        "a".repeat(16384)
    );
    let e = req_with(
        Limits {
            hdr_len: 0,
            ..Limits::DEFAULT
        },
        big.as_bytes(),
    )
    .verdict;
    assert_eq!(e, Err(Error::HeaderListTooLarge));
    assert!(Error::HeaderListTooLarge.is_limit());
    assert_eq!(Error::HeaderListTooLarge.status_code(), 431);
}

// ------------------------------------------------------------------ Host

#[test]
fn host_rules() {
    let m = b"GET / HTTP/1.1\r\nHost: Example.com:8080\r\n\r\n";
    let h = head(&req(m));
    assert_eq!(s(m, h.host.unwrap()), "Example.com:8080");
    assert_eq!(req_err(b"GET / HTTP/1.1\r\n\r\n"), Error::MissingHost);
    assert_eq!(head(&req(b"GET / HTTP/1.0\r\n\r\n")).host, None);
    assert_eq!(
        req_err(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
        Error::DuplicateHost
    );
    for bad in [
        "a b", "a:65536", "a:1x", "[::1", "[::1]x", "a@b", "a/b", ":80", "a:1:2", "",
    ] {
        let m = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
        assert_eq!(req_err(m.as_bytes()), Error::InvalidHost, "{bad}");
    }
    for good in [
        "a",
        "a:",
        "a:65535",
        "1.2.3.4",
        "[::1]",
        "[v1.x]:80",
        "xn--bcher-kva.example",
    ] {
        let m = format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n");
        ok(&req(m.as_bytes()));
    }
}

// ------------------------------------------------------------------ framing

#[test]
fn content_length_body() {
    let m = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let o = req(m);
    ok(&o);
    let hs = heads(&o);
    assert_eq!(hs[0].body, BodyKind::Length(5));
    assert_eq!(hs[0].end, 47);
    assert_eq!(hs[1].body, BodyKind::None);
    assert_eq!(body(m, &o), b"hello");
    let ends: Vec<MessageEnd> = o
        .events
        .iter()
        .filter_map(|e| {
            if let Event::End(x) = e {
                Some(*x)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(ends[0].end, 52);
    assert_eq!(ends[0].body_len, 5);
    assert_eq!(ends[1].end, m.len() as u64);
}

#[test]
fn content_length_rules() {
    for (v, e) in [
        ("5, 5", Error::DuplicateContentLength),
        ("5,5", Error::DuplicateContentLength),
        ("+5", Error::InvalidContentLength),
        ("5 5", Error::InvalidContentLength),
        ("5;", Error::InvalidContentLength),
        ("", Error::InvalidContentLength),
        ("99999999999999999999", Error::ContentLengthOverflow),
    ] {
        let m = format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {v}\r\n\r\n");
        assert_eq!(req_err(m.as_bytes()), e, "{v:?}");
    }
    // Up to 2^63 - 1 (a signed 64-bit length); over it refused.
    let m = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n";
    let o = req_with(Limits::NONE, m);
    assert_eq!(heads(&o)[0].body, BodyKind::Length(i64::MAX as u64));
    assert_eq!(o.verdict, Err(Error::UnexpectedEof));
    for v in ["9223372036854775808", "18446744073709551615"] {
        let m = format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {v}\r\n\r\n");
        assert_eq!(
            req_with(Limits::NONE, m.as_bytes()).verdict,
            Err(Error::ContentLengthOverflow),
            "{v}"
        );
    }
}

#[test]
fn body_limit() {
    let l = Limits {
        body_len: 4,
        ..Limits::DEFAULT
    };
    let o = req_with(
        l,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(o.verdict, Err(Error::BodyTooLarge));
    // Rejected at the head, before any data.
    assert!(!o
        .events
        .iter()
        .any(|e| matches!(e, Event::HeadEnd(_) | Event::Data(_))));
    assert_eq!(Error::BodyTooLarge.status_code(), 413);
}

#[test]
fn chunked_body_events() {
    let m = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;a=b\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n";
    let o = req(m);
    ok(&o);
    assert_eq!(heads(&o)[0].body, BodyKind::Chunked);
    let chunks: Vec<Chunk> = o
        .events
        .iter()
        .filter_map(|e| {
            if let Event::Chunk(c) = e {
                Some(*c)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[0].size, 5);
    assert_eq!(s(m, chunks[0].line), "5;a=b");
    assert_eq!(s(m, chunks[0].ext), ";a=b");
    assert_eq!(chunks[1].size, 1);
    assert!(chunks[1].ext.is_empty());
    assert_eq!(chunks[2].size, 0);
    // Data excludes the framing.
    let data: Vec<&str> = o
        .events
        .iter()
        .filter_map(|e| {
            if let Event::Data(d) = e {
                Some(s(m, *d))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(data, ["hello", "!"]);
    let t = field_strs(m, &trailers(&o));
    assert_eq!(t, [(HeaderId::Other, "X-T".to_string(), "1".to_string())]);
    match o.events.last() {
        Some(Event::End(e)) => {
            assert_eq!(e.body_len, 6);
            assert_eq!(e.end, m.len() as u64);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn chunked_limits() {
    let l = Limits {
        body_len: 5,
        ..Limits::DEFAULT
    };
    let m = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n";
    let o = req_with(l, m);
    assert_eq!(o.verdict, Err(Error::BodyTooLarge));
    // The second chunk-size line is rejected before its data.
    assert_eq!(body(m, &o), b"hello");
    let l = Limits {
        chunk_line_len: 3,
        ..Limits::DEFAULT
    };
    let m =
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0001\r\nx\r\n0\r\n\r\n";
    assert_eq!(req_with(l, m).verdict, Err(Error::ChunkLineTooLong));
}

#[test]
fn transfer_encoding_rules() {
    for (v, e) in [
        ("chunked, gzip", Error::TransferEncodingNotChunked),
        ("gzip", Error::TransferEncodingNotChunked),
        ("chunked, chunked", Error::ChunkedAppliedTwice),
        ("chunked;a=b", Error::InvalidTransferEncoding),
        ("chunked x", Error::InvalidTransferEncoding),
        ("", Error::InvalidTransferEncoding),
    ] {
        let m = format!("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: {v}\r\n\r\n0\r\n\r\n");
        assert_eq!(req_err(m.as_bytes()), e, "{v:?}");
    }
    assert_eq!(
        req_err(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Error::TransferEncodingInHttp10
    );
    assert_eq!(Error::TransferEncodingNotChunked.status_code(), 501);
}

#[test]
fn smuggling_cl_te() {
    assert_eq!(
        req_err(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Error::ContentLengthWithTransferEncoding
    );
    assert_eq!(
        req_err(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"),
        Error::ContentLengthWithTransferEncoding
    );
    assert_eq!(
        req_err(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n"),
        Error::DuplicateContentLength
    );
}

#[test]
fn chunk_framing_errors() {
    for (body, e) in [
        (&b"g\r\n"[..], Error::InvalidChunkSize),
        (b"5 x\r\n", Error::InvalidChunkExtension),
        (b"5;=\r\n", Error::InvalidChunkExtension),
        (b"5;a=\r\n", Error::InvalidChunkExtension),
        (b"5;a=\"\x01\"\r\n", Error::InvalidChunkExtension),
        (b"5\r\nhello!", Error::InvalidChunkTerminator),
        (b"5\r\nhello\r\r", Error::BareCr),
        (b"5\r\nhello\n", Error::BareLf),
        (b"fffffffffffffffff\r\n", Error::ChunkSizeOverflow),
        (b"0\r\nContent-Length: 1\r\n\r\n", Error::ForbiddenTrailer),
        (b"0\r\nHost: x\r\n\r\n", Error::ForbiddenTrailer),
    ] {
        let mut m = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        m.extend_from_slice(body);
        assert_eq!(req_err(&m), e, "{}", String::from_utf8_lossy(body));
    }
}

// ------------------------------------------------------------------ connection semantics

#[test]
fn keep_alive() {
    let cases: &[(&[u8], bool)] = &[
        (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: CLOSE\r\n\r\n",
            false,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        (
            b"GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n",
            true,
        ),
    ];
    for (m, ka) in cases {
        let o = req(m);
        assert_eq!(head(&o).keep_alive, *ka, "{}", String::from_utf8_lossy(m));
        match o.events.last() {
            Some(Event::End(e)) => assert_eq!(e.keep_alive, *ka),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        req_err(
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"
        ),
        Error::ConflictingConnection
    );
}

#[test]
fn connection_options_and_upgrade() {
    let h = head(&req(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: x\r\n\r\n"));
    assert!(h.upgrade);
    assert!(h.connection_options);
    let h = head(&req(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n"));
    assert!(!h.upgrade, "Upgrade without the connection option");
    let h = head(&req(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
    ));
    assert!(!h.connection_options);
}

#[test]
fn expect_continue() {
    let h = head(&req(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    ));
    assert!(h.expect_continue);
    let h = head(&req(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue \r\nContent-Length: 1\r\n\r\nx",
    ));
    assert!(h.expect_continue);
    let h = head(&req(
        b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    ));
    assert!(!h.expect_continue, "ignored in HTTP/1.0");
    let h = head(&req(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue-x\r\n\r\n",
    ));
    assert!(!h.expect_continue);
    let h = head(&req(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100- continue\r\n\r\n",
    ));
    assert!(!h.expect_continue);
}

// ------------------------------------------------------------------ pipelining and the API

#[test]
fn pipelining_reports_consumed() {
    let m = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
    let mut p = RequestParser::new(Limits::default());
    let mut n = 0;
    let mut sink = |_e: Event| n += 1;
    assert_eq!(p.feed(m, &mut sink), Ok(Status::Complete { consumed: 28 }));
    assert_eq!(p.offset(), 28);
    assert_eq!(
        p.feed(&m[28..], &mut sink),
        Ok(Status::Complete { consumed: 28 })
    );
    assert_eq!(p.feed(b"GET", &mut sink), Ok(Status::Partial));
    assert_eq!(p.offset(), 59);
    assert_eq!(p.finish(&mut sink), Err(Error::UnexpectedEof));
    assert_eq!(p.error(), Some(Error::UnexpectedEof));
}

#[test]
fn errors_are_sticky_and_reset_clears() {
    let mut p = RequestParser::new(Limits::default());
    let mut sink = |_e: Event| {};
    assert_eq!(
        p.feed(b"GET / HTTP/1.1\r\nHost: h\r\nX : y", &mut sink),
        Err(Error::WhitespaceBeforeColon)
    );
    assert_eq!(
        p.feed(b"\r\n\r\n", &mut sink),
        Err(Error::WhitespaceBeforeColon)
    );
    assert_eq!(p.finish(&mut sink), Err(Error::WhitespaceBeforeColon));
    p.reset();
    assert_eq!(p.offset(), 0);
    assert_eq!(p.error(), None);
    assert_eq!(
        p.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", &mut sink),
        Ok(Status::Complete { consumed: 27 })
    );
}

#[test]
fn empty_feeds_are_harmless() {
    let mut p = RequestParser::new(Limits::default());
    let mut events = Vec::new();
    let mut sink = |e: Event| events.push(e);
    for c in [
        &b""[..],
        b"GET / HTTP/1.1\r\n",
        b"",
        b"Host: h\r\n",
        b"",
        b"\r\n",
    ] {
        p.feed(c, &mut sink).unwrap();
    }
    assert!(matches!(events.last(), Some(Event::End(_))));
}

#[test]
fn span_helpers() {
    let sp = Span::new(10, 14);
    assert_eq!(sp.len(), 4);
    assert_eq!(sp.within(b"0123456789", 5), Some(&b"5678"[..]));
    assert_eq!(sp.within(b"0123456789", 11), None);
    assert_eq!(sp.within(b"0123", 8), None);
    assert_eq!(sp.within(b"0123456789", 8), Some(&b"2345"[..]));
    assert_eq!(sp.overlap(b"abcdef", 8), b"cdef");
    assert_eq!(sp.overlap(b"abcdef", 12), b"ab");
    assert_eq!(sp.overlap(b"abcdef", 14), b"");
    assert_eq!(sp.overlap(b"abcdef", 0), b"");
    assert!(Span::new(3, 3).is_empty());
}

// ------------------------------------------------------------------ responses

#[test]
fn response_status_line() {
    let m = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    let o = resp(Method::Get, m);
    ok(&o);
    match o.events[0] {
        Event::StatusLine(sl) => {
            assert_eq!(sl.code, 404);
            assert_eq!(sl.version, Version::Http11);
            assert_eq!(s(m, sl.reason), "Not Found");
        }
        ref e => panic!("{e:?}"),
    }
    let long = format!("HTTP/1.1 200 {}\r\n\r\n", "x".repeat(600));
    assert_eq!(
        resp_err(Method::Get, long.as_bytes()),
        Error::StatusLineTooLong
    );
}

#[test]
fn response_framing() {
    let body_of = |method, m: &[u8]| heads(&resp(method, m))[0].body;
    assert_eq!(
        body_of(
            Method::Get,
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        ),
        BodyKind::Length(3)
    );
    assert_eq!(
        body_of(
            Method::Head,
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
        ),
        BodyKind::None
    );
    assert_eq!(
        body_of(Method::Get, b"HTTP/1.1 204 No Content\r\n\r\n"),
        BodyKind::None
    );
    assert_eq!(
        body_of(
            Method::Get,
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n"
        ),
        BodyKind::None
    );
    assert_eq!(
        body_of(Method::Get, b"HTTP/1.1 200 OK\r\n\r\nabc"),
        BodyKind::CloseDelimited
    );
    assert_eq!(
        body_of(
            Method::Get,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ),
        BodyKind::Chunked
    );
    assert_eq!(
        body_of(
            Method::Get,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
        ),
        BodyKind::CloseDelimited
    );
    assert_eq!(
        body_of(Method::Connect, b"HTTP/1.1 200 OK\r\n\r\n"),
        BodyKind::Tunnel
    );
    assert_eq!(
        body_of(
            Method::Connect,
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
        ),
        BodyKind::None
    );
    assert_eq!(body_of(Method::Get, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"), BodyKind::Tunnel);
}

#[test]
fn close_delimited_response_ends_at_eof() {
    let m = b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nall of it";
    let o = resp(Method::Get, m);
    ok(&o);
    let h = heads(&o)[0];
    assert!(!h.keep_alive, "close-delimited never persists");
    assert_eq!(body(m, &o), b"all of it");
    match o.events.last() {
        Some(Event::End(e)) => {
            assert_eq!(e.end, m.len() as u64);
            assert_eq!(e.body_len, 9);
        }
        other => panic!("{other:?}"),
    }
    let mut p = ResponseParser::new(Limits::default());
    let mut sink = |_e: Event| {};
    p.feed(m, &mut sink).unwrap();
    p.finish(&mut sink).unwrap();
    assert!(p.is_closed());
    assert_eq!(p.feed(b"x", &mut sink), Err(Error::Closed));
}

#[test]
fn interim_and_tunnel() {
    let m = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let o = resp(Method::Post, m);
    let hs = heads(&o);
    assert!(hs[0].interim);
    assert!(!hs[1].interim);
    let mut p = ResponseParser::new(Limits::default());
    p.set_request_method(Method::Connect);
    let mut sink = |_e: Event| {};
    let m = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01";
    assert_eq!(p.feed(m, &mut sink), Ok(Status::Complete { consumed: 39 }));
    assert!(p.is_closed());
    assert_eq!(p.feed(&m[39..], &mut sink), Err(Error::Closed));
}

#[test]
fn response_method_per_message() {
    // A GET response with a body, then a HEAD response without one.
    let m = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
    let mut p = ResponseParser::new(Limits::default());
    let mut events = Vec::new();
    let mut sink = |e: Event| events.push(e);
    let Status::Complete { consumed } = p.feed(m, &mut sink).unwrap() else {
        panic!()
    };
    p.set_request_method(Method::Head);
    assert_eq!(
        p.feed(&m[consumed..], &mut sink),
        Ok(Status::Complete {
            consumed: m.len() - consumed
        })
    );
    assert_eq!(
        events.iter().filter(|e| matches!(e, Event::End(_))).count(),
        2
    );
}

#[test]
fn response_body_not_allowed() {
    assert_eq!(
        resp_err(
            Method::Get,
            b"HTTP/1.1 204 No Content\r\nContent-Length: 1\r\n\r\n"
        ),
        Error::BodyNotAllowed
    );
    assert_eq!(
        resp_err(
            Method::Get,
            b"HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n"
        ),
        Error::BodyNotAllowed
    );
}
