//! The request-smuggling and malformed-message mutations of public tools, each fed through
//! the request parser whole and byte by byte, with the verdict a strict RFC 9110/9112 reverse
//! proxy must reach: rejected with a given error, or accepted with the framing (body kind,
//! body length, number of requests in the stream) that leaves no room for a second reading.
//!
//! Sources (each case names its tool and payload):
//! - `smuggler`: defparam/smuggler, `configs/default.py`, `exhaustive.py`, `doubles.py`
//!   (the Transfer-Encoding gadget sits before Host, and a Content-Length follows it).
//! - `burp`: PortSwigger/http-request-smuggler, `DesyncBox.applyDesync` permutations.
//! - `probe`: MDA2AV/Http11Probe, `SmugglingSuite.cs` and `MalformedInputSuite.cs` ids.
//! - `desync`: James Kettle, "HTTP Desync Attacks" (2019) and "HTTP/1.1 must die" (2025).
//! - `funky`: "Funky chunks" chunk-line terminator research (TERM.EXT, EXT.TERM, ...).
//! - `garden`: narfindustries/http-garden style byte mutations (control bytes, overflows).
//!
//! Where the RFC allows either verdict the case documents which one the parser takes and why
//! it is safe: e.g. `Content-Length: 5, 5` (RFC 9110 section 8.6: a recipient MAY accept a
//! list of identical values) is rejected, which is always safe; `Content-Length: 005` is
//! accepted as 5 (it is `1*DIGIT`).

use tempesta_parser::testkit::{self, Outcome, Role};
use tempesta_parser::{BodyKind, Error, Event, Limits, Method, TargetForm};

use BodyKind::{Chunked, Length};
use Error::*;

/// What the parser must do with a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// Rejected with this error.
    Reject(Error),
    /// Accepted: the first request's framing and body length, and the number of requests in
    /// the stream.
    Accept {
        body: BodyKind,
        len: u64,
        msgs: usize,
    },
}

struct Case {
    src: String,
    msg: Vec<u8>,
    want: Want,
}

const fn rej(e: Error) -> Want {
    Want::Reject(e)
}

/// One request with a Content-Length body of `n` bytes (`n` = 0: no body).
const fn cl(n: u64) -> Want {
    Want::Accept {
        body: if n == 0 { BodyKind::None } else { Length(n) },
        len: n,
        msgs: 1,
    }
}

/// One chunked request with `n` bytes of chunk data.
const fn chunked(n: u64) -> Want {
    Want::Accept {
        body: Chunked,
        len: n,
        msgs: 1,
    }
}

/// `w` (an `Accept`), with `k` requests in the stream.
const fn msgs(k: usize, w: Want) -> Want {
    match w {
        Want::Accept { body, len, .. } => Want::Accept { body, len, msgs: k },
        r => r,
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// defparam/smuggler `render_template(gadget)`, with a CL.TE probe body: Content-Length
/// framing reads all 6 bytes; chunked framing would stop after `0\r\n\r\n` and leave `G`.
fn smuggler(gadget: &[u8]) -> Vec<u8> {
    cat(&[
        b"POST /?cb=1 HTTP/1.1\r\n",
        gadget,
        b"\r\nHost: h\r\nUser-Agent: Mozilla/5.0\r\n\
          Content-type: application/x-www-form-urlencoded; charset=UTF-8\r\n\
          Content-Length: 6\r\n\r\n0\r\n\r\nG",
    ])
}

/// What the smuggler template must give when its gadget is a harmless field.
const SMUGGLER_CL: Want = cl(6);

/// `POST / HTTP/1.1`, Host, the given field lines (each ending in CRLF), the empty line and
/// the body.
fn post(fields: &[u8], body: &[u8]) -> Vec<u8> {
    cat(&[b"POST / HTTP/1.1\r\nHost: h\r\n", fields, b"\r\n", body])
}

/// A chunked POST with the given body (chunk framing included).
fn te(body: &[u8]) -> Vec<u8> {
    post(b"Transfer-Encoding: chunked\r\n", body)
}

fn run_case(c: &Case) -> Result<(), String> {
    let whole = testkit::run(Role::Request, Limits::DEFAULT, &[&c.msg]);
    let cuts: Vec<usize> = (1..c.msg.len()).collect();
    let bytes = testkit::run_split(Role::Request, Limits::DEFAULT, &c.msg, &cuts);
    if bytes != whole {
        return Err(format!(
            "byte by byte differs from whole:\nwhole: {whole:?}\nbytes: {bytes:?}"
        ));
    }
    for seed in [3u8, 200] {
        let split = testkit::check_split_invariance(Role::Request, Limits::DEFAULT, &c.msg, seed)?;
        if split != whole {
            return Err(format!("seed {seed} differs from whole"));
        }
    }
    let got = verdict(&whole);
    if got != c.want {
        return Err(format!("want {:?}, got {got:?}", c.want));
    }
    Ok(())
}

/// Cases whose mutation is in the head: a rejection must come before the head ends, so the
/// proxy never forwards any part of such a request.
fn check_head(cases: &[Case]) {
    check_all(cases);
    for c in cases {
        let o = testkit::run(Role::Request, Limits::DEFAULT, &[&c.msg]);
        if o.verdict.is_err() {
            assert!(
                !o.events.iter().any(|e| matches!(e, Event::HeadEnd(_))),
                "{}: rejected after the head",
                c.src
            );
        }
    }
}

fn verdict(o: &Outcome) -> Want {
    if let Err(e) = o.verdict {
        return Want::Reject(e);
    }
    let body = o
        .events
        .iter()
        .find_map(|e| match e {
            Event::HeadEnd(h) => Some(h.body),
            _ => None,
        })
        .unwrap_or_default();
    let mut ends = o.events.iter().filter_map(|e| match e {
        Event::End(m) => Some(m.body_len),
        _ => None,
    });
    let len = ends.next().unwrap_or_default();
    Want::Accept {
        body,
        len,
        msgs: 1 + ends.count(),
    }
}

fn check_all(cases: &[Case]) {
    let mut bad = Vec::new();
    for c in cases {
        if let Err(e) = run_case(c) {
            bad.push(format!(
                "{} {:?}: {e}",
                c.src,
                String::from_utf8_lossy(&c.msg)
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} cases disagree:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

macro_rules! cases {
    ($($src:expr, $msg:expr => $want:expr;)*) => {
        vec![$(Case { src: String::from($src), msg: $msg.to_vec(), want: $want },)*]
    };
}

// ---------------------------------------------------------------------------------------------
// defparam/smuggler: named gadgets (exhaustive.py; default.py is a subset)

#[test]
fn smuggler_named_gadgets() {
    let te_cl = rej(ContentLengthWithTransferEncoding);
    let cases = cases![
        // The baseline: TE recognized, then Content-Length: both framings, rejected.
        "smuggler vanilla", smuggler(b"Transfer-Encoding: chunked") => te_cl;
        // First field line starts with SP (RFC 9112 section 2.2: MUST reject or consume).
        "smuggler nameprefix1", smuggler(b" Transfer-Encoding: chunked") => rej(WhitespaceAfterStartLine);
        "smuggler tabprefix1", smuggler(b"Transfer-Encoding:\tchunked") => te_cl;
        "smuggler tabprefix2", smuggler(b"Transfer-Encoding\t:\tchunked") => rej(WhitespaceBeforeColon);
        "smuggler spacejoin1", smuggler(b"Transfer Encoding: chunked") => rej(WhitespaceBeforeColon);
        // Another field: Content-Length framing, like every RFC parser. A backend that maps
        // `_` to `-` (CGI-style) would see TE; see the report.
        "smuggler underjoin1", smuggler(b"Transfer_Encoding: chunked") => SMUGGLER_CL;
        "smuggler smashed", smuggler(b"Transfer Encoding:chunked") => rej(WhitespaceBeforeColon);
        "smuggler space1", smuggler(b"Transfer-Encoding : chunked") => rej(WhitespaceBeforeColon);
        "smuggler valueprefix1", smuggler(b"Transfer-Encoding:  chunked") => te_cl;
        "smuggler vertprefix1", smuggler(b"Transfer-Encoding:\x0bchunked") => rej(InvalidHeaderValue);
        // `cow` after `chunked`: chunked is not the final coding.
        "smuggler commaCow", smuggler(b"Transfer-Encoding: chunked, cow") => rej(TransferEncodingNotChunked);
        "smuggler cowComma", smuggler(b"Transfer-Encoding: cow, chunked") => te_cl;
        "smuggler contentEnc", smuggler(b"Content-Encoding: chunked") => SMUGGLER_CL;
        "smuggler linewrapped1", smuggler(b"Transfer-Encoding:\n chunked") => rej(BareLf);
        "smuggler quoted", smuggler(b"Transfer-Encoding: \"chunked\"") => rej(InvalidTransferEncoding);
        // `'` is a tchar: a coding named `'chunked'`, and then Content-Length.
        "smuggler aposed", smuggler(b"Transfer-Encoding: 'chunked'") => te_cl;
        "smuggler lazygrep", smuggler(b"Transfer-Encoding: chunk") => te_cl;
        "smuggler sarcasm", smuggler(b"TrAnSFer-EnCODinG: cHuNkeD") => te_cl;
        "smuggler yelling", smuggler(b"TRANSFER-ENCODING: CHUNKED") => te_cl;
        "smuggler 0dsuffix", smuggler(b"Transfer-Encoding: chunked\r") => rej(BareCr);
        "smuggler tabsuffix", smuggler(b"Transfer-Encoding: chunked\t") => te_cl;
        "smuggler revdualchunk", smuggler(b"Transfer-Encoding: cow\r\nTransfer-Encoding: chunked") => te_cl;
        "smuggler 0dspam", smuggler(b"Transfer\r-Encoding: chunked") => rej(MissingColon);
        "smuggler nested", smuggler(b"Transfer-Encoding: cow chunked bar") => rej(InvalidTransferEncoding);
        "smuggler spaceFF", smuggler(b"Transfer-Encoding:\xffchunked") => rej(InvalidTransferEncoding);
        "smuggler accentCH", smuggler(b"Transfer-Encoding: ch\x96nked") => rej(InvalidTransferEncoding);
        "smuggler accentTE", smuggler(b"Transf\x82r-Encoding: chunked") => rej(InvalidHeaderName);
        "smuggler x-rout", smuggler(b"X:X\rTransfer-Encoding: chunked") => rej(BareCr);
        "smuggler x-nout", smuggler(b"X:X\nTransfer-Encoding: chunked") => rej(BareLf);
    ];
    check_head(&cases);
}

// ---------------------------------------------------------------------------------------------
// defparam/smuggler: the per-byte loops of default.py, exhaustive.py and doubles.py, over
// 0x00-0x20 and 0x7f-0xff (a superset of each file's ranges and of Burp's special chars).

const SP: u8 = b' ';
const HT: u8 = b'\t';
const CR: u8 = b'\r';
const LF: u8 = b'\n';

fn ws(c: u8) -> bool {
    c == SP || c == HT
}

/// `c` inside a field value that no mini-parser reads (followed by more value bytes).
fn in_value(c: u8) -> Option<Error> {
    match c {
        0 => Some(NulByte),
        CR => Some(BareCr),
        LF => Some(BareLf),
        SP | HT => None,
        0x01..=0x1f | 0x7f => Some(InvalidHeaderValue),
        _ => None,
    }
}

/// `c` next to the `chunked` token in a Transfer-Encoding value: OWS is fine, obs-text is not
/// a token.
fn in_te_value(c: u8) -> Option<Error> {
    match c {
        0x80..=0xff => Some(InvalidTransferEncoding),
        _ => in_value(c),
    }
}

/// `c` between a field name and its colon.
fn before_colon(c: u8) -> Error {
    match c {
        SP | HT => WhitespaceBeforeColon,
        CR | LF => MissingColon,
        0 => NulByte,
        _ => InvalidHeaderName,
    }
}

/// `c` starting the first field line.
fn first_line_start(c: u8) -> Error {
    match c {
        SP | HT => WhitespaceAfterStartLine,
        CR => BareCr,
        LF => BareLf,
        0 => NulByte,
        _ => InvalidHeaderName,
    }
}

fn sweep_bytes() -> impl Iterator<Item = u8> {
    (0x00..=0x20u8).chain(0x7f..=0xffu8)
}

#[test]
fn smuggler_byte_loops() {
    let te_cl = ContentLengthWithTransferEncoding;
    let or = |e: Option<Error>, w: Want| e.map_or(w, rej);
    let mut cases = Vec::new();
    for c in sweep_bytes() {
        let b = [c];
        let c1: &[u8] = &b;
        let mut add = |name: &str, gadget: Vec<u8>, want: Want| {
            cases.push(Case {
                src: format!("smuggler {name}-{c:02x}"),
                msg: smuggler(&gadget),
                want,
            });
        };
        // default.py / exhaustive.py (and burp spacefix1, prefix1, suffix1)
        add(
            "midspace",
            cat(&[b"Transfer-Encoding:", c1, b"chunked"]),
            or(in_te_value(c), rej(te_cl)),
        );
        add(
            "postspace",
            cat(&[b"Transfer-Encoding", c1, b": chunked"]),
            rej(before_colon(c)),
        );
        add(
            "prespace",
            cat(&[c1, b"Transfer-Encoding: chunked"]),
            rej(first_line_start(c)),
        );
        add(
            "endspace",
            cat(&[b"Transfer-Encoding: chunked", c1]),
            or(in_te_value(c), rej(te_cl)),
        );
        // default.py only
        add(
            "xprespace",
            cat(&[b"X: X", c1, b"Transfer-Encoding: chunked"]),
            or(in_value(c), SMUGGLER_CL),
        );
        add(
            "endspacex",
            cat(&[b"Transfer-Encoding: chunked", c1, b"X: X"]),
            or(in_te_value(c), rej(InvalidTransferEncoding)),
        );
        add(
            "rxprespace",
            cat(&[b"X: X\r", c1, b"Transfer-Encoding: chunked"]),
            rej(if c == LF { te_cl } else { BareCr }),
        );
        add(
            "xnprespace",
            cat(&[b"X: X", c1, b"\nTransfer-Encoding: chunked"]),
            if c == CR {
                rej(te_cl)
            } else {
                or(in_value(c), rej(BareLf))
            },
        );
        add(
            "endspacerx",
            cat(&[b"Transfer-Encoding: chunked\r", c1, b"X: X"]),
            rej(if c == LF { te_cl } else { BareCr }),
        );
        add(
            "endspacexn",
            cat(&[b"Transfer-Encoding: chunked", c1, b"\nX: X"]),
            if c == CR {
                rej(te_cl)
            } else {
                or(in_te_value(c), rej(BareLf))
            },
        );
        // doubles.py
        add(
            "doubles-PP-XX",
            cat(&[c1, b"Transfer-Encoding", c1, b": chunked"]),
            rej(first_line_start(c)),
        );
        add(
            "doubles-PX-MX",
            cat(&[c1, b"Transfer-Encoding:", c1, b"chunked"]),
            rej(first_line_start(c)),
        );
        add(
            "doubles-PX-XE",
            cat(&[c1, b"Transfer-Encoding: chunked", c1]),
            rej(first_line_start(c)),
        );
        add(
            "doubles-XP-MX",
            cat(&[b"Transfer-Encoding", c1, b":", c1, b"chunked"]),
            rej(before_colon(c)),
        );
        add(
            "doubles-XP-XE",
            cat(&[b"Transfer-Encoding", c1, b": chunked", c1]),
            rej(before_colon(c)),
        );
        add(
            "doubles-XX-ME",
            cat(&[b"Transfer-Encoding:", c1, b"chunked", c1]),
            or(in_te_value(c), or(in_te_value(c), rej(te_cl))),
        );
        // Sanity of the model: OWS around `chunked` is the only accepted filler.
        if ws(c) {
            assert_eq!(in_te_value(c), None);
        }
    }
    assert_eq!(cases.len(), 16 * (33 + 129));
    check_head(&cases);
}

// ---------------------------------------------------------------------------------------------
// PortSwigger HTTP Request Smuggler (Burp): DesyncBox permutations not in smuggler

#[test]
fn burp_desync_box() {
    let te_cl = rej(ContentLengthWithTransferEncoding);
    let cases = cases![
        "burp nameprefix1", smuggler(b"Foo: bar\r\n Transfer-Encoding: chunked") => rej(ObsFold);
        "burp nameprefix2", smuggler(b"Foo: bar\r\n\tTransfer-Encoding: chunked") => rej(ObsFold);
        "burp nospace1", smuggler(b"Transfer-Encoding:chunked") => te_cl;
        "burp gareth1", smuggler(b"Transfer-Encoding\n : chunked") => rej(MissingColon);
        "burp badsetupCR", smuggler(b"Foo: bar\rTransfer-Encoding: chunked") => rej(BareCr);
        "burp badsetupLF", smuggler(b"Foo: bar\nTransfer-Encoding: chunked") => rej(BareLf);
        "burp vertwrap", smuggler(b"Transfer-Encoding: \n\x0bchunked") => rej(BareLf);
        // The empty TE value is rejected before the fold is seen.
        "burp tabwrap", smuggler(b"Transfer-Encoding: \r\n\tchunked") => rej(InvalidTransferEncoding);
        "burp multiCase", smuggler(b"tRANSFER-ENCODING: CHUNKED") => te_cl;
        "burp UPPERCASE", smuggler(b"TRANSFER-ENCODING: chunked") => te_cl;
        "burp 0dwrap", smuggler(b"Foo: bar\r\n\rTransfer-Encoding: chunked") => rej(BareCr);
        // Listing a framing field in Connection: the parser still frames by it (the rewrite
        // never drops Content-Length, Transfer-Encoding or Host as a Connection option).
        "burp connection", smuggler(b"Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked") => te_cl;
        "burp spjunk", smuggler(b"Transfer-Encoding x: chunked") => rej(WhitespaceBeforeColon);
        "burp backslash", smuggler(b"Transfer\\Encoding: chunked") => rej(InvalidHeaderName);
        "burp unispace", smuggler(b"Transfer-Encoding:\xa0chunked") => rej(InvalidTransferEncoding);
        "burp dualchunk", smuggler(b"Transfer-Encoding: chunked\r\nTransfer-encoding: identity") => rej(TransferEncodingNotChunked);
        "burp bodysplit", smuggler(b"X: y\r\nFoo: barn\n\nTransfer-Encoding: chunked") => rej(BareLf);
        "burp nested", smuggler(b"Transfer-Encoding: identity, chunked, identity") => rej(TransferEncodingNotChunked);
        // Percent-encoding in a name is just another name.
        "burp encode", smuggler(b"Transfer-%45ncoding: chunked") => SMUGGLER_CL;
        "burp h2colon", smuggler(b"Transfer-Encoding`chunked : chunked") => rej(WhitespaceBeforeColon);
        "burp h2space", smuggler(b"Transfer-Encoding chunked : chunked") => rej(WhitespaceBeforeColon);
        // In HTTP/1.1 the `^~` separators are tchars: one long, unknown name.
        "burp h2name", smuggler(b"Transfer-Encoding`chunked^~xz: x") => SMUGGLER_CL;
        "burp http2hide", smuggler(b"Foo: b^~Transfer-Encoding: chunked^~x: x") => SMUGGLER_CL;
        "burp revdualchunk", smuggler(b"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked") => te_cl;
    ];
    check_head(&cases);

    // `connection` without Content-Length: chunked, and the option is reported.
    let m = te_conn();
    let o = testkit::run(Role::Request, Limits::DEFAULT, &[&m]);
    assert_eq!(verdict(&o), chunked(5));
    assert!(o
        .events
        .iter()
        .any(|e| matches!(e, Event::HeadEnd(h) if h.connection_options)));
}

fn te_conn() -> Vec<u8> {
    post(
        b"Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n",
        b"5\r\nhello\r\n0\r\n\r\n",
    )
}

// ---------------------------------------------------------------------------------------------
// Http11Probe: SmugglingSuite and MalformedInputSuite

#[test]
fn http11probe_smuggling_suite() {
    let te_cl = rej(ContentLengthWithTransferEncoding);
    let smuggled_get = b"0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let smuggled_head = b"0\r\n\r\nHEAD / HTTP/1.1\r\nHost: h\r\n\r\n";
    let cl_hdr = |n: usize| format!("Content-Length: {n}\r\n").into_bytes();
    let a200 = [b'A'; 200];
    let tecl_get = b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n";
    let tecl_size = format!("{:x}\r\n", tecl_get.len());
    let tecl_body = cat(&[tecl_size.as_bytes(), tecl_get, b"\r\n0\r\n\r\n"]);
    let prefix = b"GET / HTTP/1.1\r\nHost: h\r\n";
    let cases = cases![
        "probe SMUG-CL-TE-BOTH", post(b"Content-Length: 23\r\nTransfer-Encoding: chunked\r\n", b"D\r\nhello-bananas\r\n0\r\n\r\n") => te_cl;
        "probe SMUG-DUPLICATE-CL", post(b"Content-Length: 5\r\nContent-Length: 10\r\n", b"helloworld") => rej(DuplicateContentLength);
        // 1*DIGIT: leading zeros are decimal.
        "probe SMUG-CL-LEADING-ZEROS", post(b"Content-Length: 005\r\n", b"hello") => cl(5);
        "probe SMUG-TE-XCHUNKED", post(b"Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n", b"hello") => te_cl;
        "probe SMUG-TE-TRAILING-SPACE", post(b"Transfer-Encoding: chunked \r\nContent-Length: 5\r\n", b"hello") => te_cl;
        "probe SMUG-TE-SP-BEFORE-COLON", post(b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n", b"hello") => rej(WhitespaceBeforeColon);
        "probe SMUG-CL-NEGATIVE", post(b"Content-Length: -1\r\n", b"") => rej(InvalidContentLength);
        "probe SMUG-CLTE-PIPELINE", post(b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n") => te_cl;
        "probe SMUG-TECL-PIPELINE", post(b"Transfer-Encoding: chunked\r\nContent-Length: 30\r\n", b"0\r\n\r\n") => te_cl;
        "probe SMUG-CL-TRAILING-SPACE", post(b"Content-Length: 5 \r\n", b"hello") => cl(5);
        "probe SMUG-TE-DOUBLE-CHUNKED", post(b"Transfer-Encoding: chunked, chunked\r\nContent-Length: 5\r\n", b"hello") => rej(ChunkedAppliedTwice);
        "probe SMUG-CL-EXTRA-LEADING-SP", post(b"Content-Length:  5\r\n", b"hello") => cl(5);
        "probe SMUG-TE-CASE-MISMATCH", post(b"Transfer-Encoding: Chunked\r\nContent-Length: 5\r\n", b"hello") => te_cl;
        "probe SMUG-CL-COMMA-DIFFERENT", post(b"Content-Length: 5, 10\r\n", b"hello") => rej(DuplicateContentLength);
        "probe SMUG-TE-NOT-FINAL-CHUNKED", post(b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n") => rej(TransferEncodingNotChunked);
        "probe SMUG-TE-HTTP10", b"POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello" => rej(TransferEncodingInHttp10);
        "probe SMUG-CHUNK-BARE-SEMICOLON", te(b"5;\r\nhello\r\n0\r\n\r\n") => rej(InvalidChunkExtension);
        "probe SMUG-CHUNK-EXT-INVALID-TOKEN", te(b"5;bad[=x\r\nhello\r\n0\r\n\r\n") => rej(InvalidChunkExtension);
        "probe SMUG-BARE-CR-HEADER-VALUE", post(b"Content-Length: 5\r\nX-Test: val\rue\r\n", b"hello") => rej(BareCr);
        "probe SMUG-CL-OCTAL", post(b"Content-Length: 0o5\r\n", b"hello") => rej(InvalidContentLength);
        "probe SMUG-CHUNK-UNDERSCORE", te(b"1_0\r\nhello world!!!!!\r\n0\r\n\r\n") => rej(InvalidChunkSize);
        "probe SMUG-TE-EMPTY-VALUE", post(b"Transfer-Encoding: \r\nContent-Length: 5\r\n", b"hello") => rej(InvalidTransferEncoding);
        // RFC 9110 section 5.6.1: empty list elements are ignored, so this is chunked.
        "probe SMUG-TE-LEADING-COMMA", post(b"Transfer-Encoding: , chunked\r\nContent-Length: 5\r\n", b"hello") => te_cl;
        "probe SMUG-TE-DUPLICATE-HEADERS", post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n", b"hello") => rej(TransferEncodingNotChunked);
        "probe SMUG-CHUNK-HEX-PREFIX", te(b"0x5\r\nhello\r\n0\r\n\r\n") => rej(InvalidChunkSize);
        "probe SMUG-CHUNK-SIZE-PLUS", te(b"+5\r\nhello\r\n0\r\n\r\n") => rej(InvalidChunkSize);
        "probe SMUG-CHUNK-SIZE-TRAILING-OWS", te(b"5 \r\nhello\r\n0\r\n\r\n") => rej(InvalidChunkExtension);
        "probe SMUG-CL-HEX-PREFIX", post(b"Content-Length: 0x5\r\n", b"hello") => rej(InvalidContentLength);
        "probe SMUG-CL-INTERNAL-SPACE", post(b"Content-Length: 1 0\r\n", b"hello12345") => rej(InvalidContentLength);
        "probe SMUG-CHUNK-LEADING-SP", te(b" 5\r\nhello\r\n0\r\n\r\n") => rej(InvalidChunkSize);
        "probe SMUG-CHUNK-MISSING-TRAILING-CRLF", te(b"5\r\nhello0\r\n\r\n") => rej(InvalidChunkTerminator);
        // RFC 9112 section 2.2 MAY accept bare LF; rejecting is the safe choice.
        "probe SMUG-CHUNK-EXT-LF", te(b"5;\nhello\r\n0\r\n\r\n") => rej(BareLf);
        "probe SMUG-CHUNK-SPILL", te(b"5\r\nhello!!\r\n0\r\n\r\n") => rej(InvalidChunkTerminator);
        "probe SMUG-CHUNK-LF-TERM", te(b"5\r\nhello\n0\r\n\r\n") => rej(BareLf);
        "probe SMUG-CHUNK-EXT-CTRL", te(b"5;\x00ext\r\nhello\r\n0\r\n\r\n") => rej(NulByte);
        "probe SMUG-CHUNK-EXT-CR", te(b"5;a\rX\r\nhello\r\n0\r\n\r\n") => rej(BareCr);
        "probe SMUG-TE-VTAB", post(b"Transfer-Encoding: \x0bchunked\r\nContent-Length: 5\r\n", b"hello") => rej(InvalidHeaderValue);
        "probe SMUG-TE-FORMFEED", post(b"Transfer-Encoding: \x0cchunked\r\nContent-Length: 5\r\n", b"hello") => rej(InvalidHeaderValue);
        "probe SMUG-TE-NULL", post(b"Transfer-Encoding: chunked\x00\r\nContent-Length: 5\r\n", b"hello") => rej(NulByte);
        "probe SMUG-CHUNK-LF-TRAILER", te(b"5\r\nhello\r\n0\r\n\n") => rej(BareLf);
        "probe SMUG-TE-IDENTITY", post(b"Transfer-Encoding: identity\r\nContent-Length: 5\r\n", b"hello") => te_cl;
        "probe SMUG-TE-IDENTITY no CL", post(b"Transfer-Encoding: identity\r\n", b"hello") => rej(TransferEncodingNotChunked);
        "probe SMUG-CHUNK-NEGATIVE", te(b"-1\r\nhello\r\n0\r\n\r\n") => rej(InvalidChunkSize);
        // Another field (unscored): Content-Length framing.
        "probe SMUG-TRANSFER_ENCODING", post(b"Transfer_Encoding: chunked\r\nContent-Length: 5\r\n", b"hello") => cl(5);
        // RFC 9110 section 8.6 MAY accept identical values; rejecting is always safe.
        "probe SMUG-CL-COMMA-SAME", post(b"Content-Length: 5, 5\r\n", b"hello") => rej(DuplicateContentLength);
        "probe SMUG-CL-COMMA-TRIPLE", post(b"Content-Length: 5, 5, 5\r\n", b"hello") => rej(DuplicateContentLength);
        "probe SMUG-CHUNKED-WITH-PARAMS", post(b"Transfer-Encoding: chunked;ext=val\r\nContent-Length: 5\r\n", b"hello") => rej(InvalidTransferEncoding);
        "probe SMUG-EXPECT-100-CL", post(b"Content-Length: 5\r\nExpect: 100-continue\r\n", b"hello") => cl(5);
        "probe SMUG-TRAILER-CL", te(b"5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n") => rej(ForbiddenTrailer);
        "probe SMUG-TRAILER-TE", te(b"5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n") => rej(ForbiddenTrailer);
        "probe SMUG-TRAILER-HOST", te(b"5\r\nhello\r\n0\r\nHost: evil.example.com\r\n\r\n") => rej(ForbiddenTrailer);
        // Authentication and content format are not allowed in trailers either (a recipient
        // that merges trailers would act on what the proxy's checks never saw).
        "probe SMUG-TRAILER-AUTH", te(b"5\r\nhello\r\n0\r\nAuthorization: Bearer evil\r\n\r\n") => rej(ForbiddenTrailer);
        "probe SMUG-TRAILER-CONTENT-TYPE", te(b"5\r\nhello\r\n0\r\nContent-Type: text/evil\r\n\r\n") => rej(ForbiddenTrailer);
        // Request framing does not depend on the method: the body is read, not left behind.
        "probe SMUG-HEAD-CL-BODY", b"HEAD / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" => cl(5);
        "probe SMUG-OPTIONS-CL-BODY", b"OPTIONS / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" => cl(5);
        "probe SMUG-CL-UNDERSCORE", post(b"Content-Length: 1_0\r\n", b"helloworld") => rej(InvalidContentLength);
        "probe SMUG-CL-NEGATIVE-ZERO", post(b"Content-Length: -0\r\n", b"") => rej(InvalidContentLength);
        "probe SMUG-CL-DOUBLE-ZERO", post(b"Content-Length: 00\r\n", b"") => cl(0);
        "probe SMUG-CL-LEADING-ZEROS-OCTAL", post(b"Content-Length: 0200\r\n", &a200) => cl(200);
        "probe SMUG-TE-OBS-FOLD", post(b"Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n", b"hello") => rej(InvalidTransferEncoding);
        "probe SMUG-TE-TRAILING-COMMA", post(b"Transfer-Encoding: chunked,\r\nContent-Length: 5\r\n", b"hello") => te_cl;
        "probe SMUG-TE-TAB-BEFORE-VALUE", post(b"Transfer-Encoding:\tchunked\r\nContent-Length: 5\r\n", b"hello") => te_cl;
        "probe SMUG-ABSOLUTE-URI-HOST-MISMATCH", b"GET http://other.example.com/ HTTP/1.1\r\nHost: h\r\n\r\n" => cl(0);
        "probe SMUG-MULTIPLE-HOST-COMMA", b"GET / HTTP/1.1\r\nHost: h, other.example.com\r\n\r\n" => rej(InvalidHost);
        "probe SMUG-CHUNK-BARE-CR-TERM", te(b"5\rhello\r\n0\r\n\r\n") => rej(BareCr);
        // Sequence tests (their first step, or both steps on one connection).
        "probe SMUG-CLTE-CONN-CLOSE", cat(&[&post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"]) => te_cl;
        "probe SMUG-TECL-CONN-CLOSE", post(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n") => te_cl;
        "probe SMUG-CLTE-DESYNC", post(b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\nX") => te_cl;
        "probe SMUG-CLTE-SMUGGLED-GET", post(&cat(&[&cl_hdr(smuggled_get.len()), b"Transfer-Encoding: chunked\r\n"]), smuggled_get) => te_cl;
        "probe SMUG-CLTE-SMUGGLED-GET-CL-PLUS", post(&cat(&[format!("Content-Length: +{}\r\n", smuggled_get.len()).as_bytes(), b"Transfer-Encoding: chunked\r\n"]), smuggled_get) => rej(InvalidContentLength);
        "probe SMUG-CLTE-SMUGGLED-GET-CL-NON-NUMERIC", post(&cat(&[format!("Content-Length: {}x\r\n", smuggled_get.len()).as_bytes(), b"Transfer-Encoding: chunked\r\n"]), smuggled_get) => rej(InvalidContentLength);
        "probe SMUG-CLTE-SMUGGLED-GET-TE-OBS-FOLD", post(&cat(&[b"Transfer-Encoding:\r\n chunked\r\n", &cl_hdr(smuggled_get.len())]), smuggled_get) => rej(InvalidTransferEncoding);
        "probe SMUG-CLTE-SMUGGLED-HEAD", post(&cat(&[&cl_hdr(smuggled_head.len()), b"Transfer-Encoding: chunked\r\n"]), smuggled_head) => te_cl;
        "probe SMUG-CLTE-SMUGGLED-GET-TE-TRAILING-SPACE", post(&cat(&[&cl_hdr(smuggled_get.len()), b"Transfer-Encoding: chunked \r\n"]), smuggled_get) => te_cl;
        "probe SMUG-CLTE-SMUGGLED-GET-TE-LEADING-COMMA", post(&cat(&[&cl_hdr(smuggled_get.len()), b"Transfer-Encoding: , chunked\r\n"]), smuggled_get) => te_cl;
        "probe SMUG-CLTE-SMUGGLED-GET-TE-CASE-MISMATCH", post(&cat(&[&cl_hdr(smuggled_get.len()), b"Transfer-Encoding: Chunked\r\n"]), smuggled_get) => te_cl;
        "probe SMUG-TE-DUPLICATE-HEADERS-SMUGGLED-GET", post(&cat(&[b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", &cl_hdr(smuggled_get.len())]), smuggled_get) => rej(TransferEncodingNotChunked);
        "probe SMUG-TECL-SMUGGLED-GET", post(&cat(&[b"Transfer-Encoding: chunked\r\n", &cl_hdr(tecl_size.len())]), &tecl_body) => te_cl;
        // The same body with chunked framing only: the embedded GET is chunk data.
        "probe SMUG-TECL-SMUGGLED-GET without CL", te(&tecl_body) => chunked(tecl_get.len() as u64);
        "probe SMUG-DUPLICATE-CL-SMUGGLED-GET", post(&cat(&[b"Content-Length: 4\r\n", &cl_hdr(4 + prefix.len() + 2)]), &cat(&[b"PING", prefix, b"\r\n"])) => rej(DuplicateContentLength);
        // Both steps: the prefix is body, the leading CRLF of step 2 is ignored (RFC 9112
        // section 2.2), then a second request.
        "probe SMUG-GET-CL-PREFIX-DESYNC", cat(&[b"GET / HTTP/1.1\r\nHost: h\r\n", &cl_hdr(prefix.len()), b"\r\n", prefix, b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"]) => msgs(2, cl(prefix.len() as u64));
    ];
    check_all(&cases);

    // The absolute-form authority is reported (it wins over Host, RFC 9112 section 3.2.2).
    let m = b"GET http://other.example.com/ HTTP/1.1\r\nHost: h\r\n\r\n";
    let o = testkit::run(Role::Request, Limits::DEFAULT, &[m]);
    let (rl, host) = line_and_host(&o);
    assert_eq!(rl.form, TargetForm::Absolute);
    assert_eq!(
        testkit::bytes(m, rl.authority.unwrap()),
        b"other.example.com"
    );
    assert_eq!(testkit::bytes(m, host.unwrap()), b"h");
}

fn line_and_host(o: &Outcome) -> (tempesta_parser::RequestLine, Option<tempesta_parser::Span>) {
    let rl = o
        .events
        .iter()
        .find_map(|e| match e {
            Event::RequestLine(r) => Some(*r),
            _ => None,
        })
        .expect("request line");
    let host = o.events.iter().find_map(|e| match e {
        Event::HeadEnd(h) => h.host,
        _ => None,
    });
    (rl, host)
}

#[test]
fn http11probe_malformed_input_suite() {
    let long_method = cat(&[&[b'A'; 1000][..], b" / HTTP/1.1\r\nHost: h\r\n\r\n"]);
    let cases = cases![
        "probe MAL-NUL-IN-URL", b"GET /\x00test HTTP/1.1\r\nHost: h\r\n\r\n" => rej(NulByte);
        "probe MAL-CONTROL-CHARS-HEADER", b"GET / HTTP/1.1\r\nHost: h\r\nX-Test: abc\x07\x08\x0bdef\r\n\r\n" => rej(InvalidHeaderValue);
        "probe MAL-INCOMPLETE-REQUEST", b"GET / HTTP/1.1\r\nHost: h\r\nX-Test: value" => rej(UnexpectedEof);
        "probe MAL-LONG-METHOD", long_method => rej(MethodTooLong);
        "probe MAL-NON-ASCII-HEADER-NAME", b"GET / HTTP/1.1\r\nHost: h\r\nX-T\xc3\xabst: value\r\n\r\n" => rej(InvalidHeaderName);
        "probe MAL-NON-ASCII-URL", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n" => rej(InvalidTarget);
        "probe MAL-CL-OVERFLOW", post(b"Content-Length: 99999999999999999999\r\n", b"") => rej(ContentLengthOverflow);
        "probe MAL-WHITESPACE-ONLY-LINE", b"   \r\n\r\n" => rej(InvalidMethod);
        "probe MAL-BINARY-GARBAGE (TLS record)", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" => rej(InvalidMethod);
    ];
    check_all(&cases);
}

// ---------------------------------------------------------------------------------------------
// "HTTP Desync Attacks" (Kettle 2019) and "HTTP/1.1 must die" (2025), and the request-line
// mutations every fuzzer starts with

#[test]
fn desync_research() {
    let cases = cases![
        // TE obfuscations without a Content-Length: what framing is used.
        "desync TE space before colon", post(b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n") => rej(WhitespaceBeforeColon);
        "desync TE xchunked", post(b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n") => rej(TransferEncodingNotChunked);
        "desync TE tab", post(b"Transfer-Encoding:\tchunked\r\n", b"0\r\n\r\n") => chunked(0);
        "desync TE chunked, identity", post(b"Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\n") => rej(TransferEncodingNotChunked);
        "desync TE newline before colon", post(b"Transfer-Encoding\n: chunked\r\n", b"0\r\n\r\n") => rej(MissingColon);
        "desync TE obs-fold", post(b"X: y\r\nTransfer-Encoding: gzip\r\n ,chunked\r\n", b"0\r\n\r\n") => rej(ObsFold);
        "desync TE gzip then chunked field", post(b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n") => chunked(5);
        // Content-Length obfuscations.
        "desync CL plus", post(b"Content-Length: +5\r\n", b"hello") => rej(InvalidContentLength);
        "desync CL list same", post(b"Content-Length: 5, 5\r\n", b"hello") => rej(DuplicateContentLength);
        "desync CL list trailing comma", post(b"Content-Length: 5,\r\n", b"hello") => rej(DuplicateContentLength);
        "desync CL list leading comma", post(b"Content-Length: ,5\r\n", b"hello") => rej(DuplicateContentLength);
        "desync CL leading zeros", post(b"Content-Length: 0000000000000000000000005\r\n", b"hello") => cl(5);
        "desync CL vtab", post(b"Content-Length: 5\x0b\r\n", b"hello") => rej(InvalidHeaderValue);
        "desync CL form feed", post(b"Content-Length:\x0c5\r\n", b"hello") => rej(InvalidHeaderValue);
        "desync CL dot", post(b"Content-Length: 5.0\r\n", b"hello") => rej(InvalidContentLength);
        "desync CL exponent", post(b"Content-Length: 5e0\r\n", b"hello") => rej(InvalidContentLength);
        "desync CL u64 max + 1", post(b"Content-Length: 18446744073709551616\r\n", b"") => rej(ContentLengthOverflow);
        "desync CL 2^64 + 5 (wraps to 5)", post(b"Content-Length: 18446744073709551621\r\n", b"hello") => rej(ContentLengthOverflow);
        "desync CL 2^63 (negative as i64)", post(b"Content-Length: 9223372036854775808\r\n", b"hello") => rej(ContentLengthOverflow);
        "desync CL empty", post(b"Content-Length:\r\n", b"") => rej(InvalidContentLength);
        "desync CL obs-fold", post(b"Content-Length:\r\n 5\r\n", b"hello") => rej(InvalidContentLength);
        "desync CL space before colon", post(b"Content-Length : 5\r\n", b"hello") => rej(WhitespaceBeforeColon);
        "desync CL leading space (0.CL)", b"POST / HTTP/1.1\r\n Content-Length: 5\r\nHost: h\r\n\r\nhello" => rej(WhitespaceAfterStartLine);
        "desync CL folded name (0.CL)", post(b"X: y\r\n Content-Length: 5\r\n", b"hello") => rej(ObsFold);
        "desync CL in trailer", te(b"0\r\nContent-Length: 5\r\n\r\n") => rej(ForbiddenTrailer);
        // Expect obfuscations (2025): not 100-continue, so no interim response is promised.
        "desync Expect obfuscated", post(b"Content-Length: 5\r\nExpect: y 100-continue\r\n", b"hello") => cl(5);
        "desync Expect folded", post(b"Content-Length: 5\r\nExpect:\n 100-continue\r\n", b"hello") => rej(BareLf);
        // Pipelined request after a Content-Length body: two requests, nothing hidden.
        "desync CL pipelined", post(b"Content-Length: 5\r\n", b"helloGET /admin HTTP/1.1\r\nHost: h\r\n\r\n") => msgs(2, cl(5));
        // Chunk framing.
        "desync chunk size leading zeros", te(b"0005\r\nhello\r\n0\r\n\r\n") => chunked(5);
        "desync chunk size 0x5", te(b"0x5\r\nhello\r\n0\r\n\r\n") => rej(InvalidChunkSize);
        "desync chunk ext bare LF", te(b"5;a=b\nhello\r\n0\r\n\r\n") => rej(BareLf);
        "desync chunk ext quoted CRLF", te(b"5;a=\"x\r\nhello\r\n0\r\n\r\n\"\r\nhello\r\n0\r\n\r\n") => rej(InvalidChunkExtension);
        "desync chunk ext quoted LF", te(b"5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n") => rej(BareLf);
        "desync last chunk zeros", te(b"5\r\nhello\r\n000\r\n\r\n") => chunked(5);
        // Host.
        "desync duplicate Host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" => rej(DuplicateHost);
        "desync Host with path", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n" => rej(InvalidHost);
        "desync Host with userinfo", b"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n" => rej(InvalidHost);
        "desync Host double port", b"GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n" => rej(InvalidHost);
        "desync Host NUL", b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n" => rej(NulByte);
        "desync Host in trailer", te(b"0\r\nHost: evil\r\n\r\n") => rej(ForbiddenTrailer);
        "desync absolute-form, other Host", b"GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n" => cl(0);
        "desync absolute-form userinfo", b"GET http://b.example@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n" => rej(UserinfoInTarget);
        "desync absolute-form bad port", b"GET http://a:99999/ HTTP/1.1\r\nHost: a\r\n\r\n" => rej(InvalidHost);
        // Bytes.
        "desync NUL in value", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n" => rej(NulByte);
        "desync obs-fold", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n" => rej(ObsFold);
        "desync CR CR LF in field", b"GET / HTTP/1.1\r\nHost: h\r\r\n\r\n" => rej(BareCr);
        "desync CR CR LF after request line", b"GET / HTTP/1.1\r\r\nHost: h\r\n\r\n" => rej(BareCr);
        "desync bare LF head end", b"GET / HTTP/1.1\r\nHost: h\n\n" => rej(BareLf);
        // Request line.
        "desync HTTP/0.9", b"GET /\r\n" => rej(InvalidRequestLine);
        "desync HTTP/0.9 body", b"GET /\r\nHost: h\r\n\r\n" => rej(InvalidRequestLine);
        "desync version trailing space", b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n" => rej(InvalidVersion);
        "desync version lowercase", b"GET / http/1.1\r\nHost: h\r\n\r\n" => rej(InvalidVersion);
        "desync version leading zero", b"GET / HTTP/01.1\r\nHost: h\r\n\r\n" => rej(InvalidVersion);
        "desync version 1.01", b"GET / HTTP/1.01\r\nHost: h\r\n\r\n" => rej(InvalidVersion);
        "desync version HTTP/2", b"GET / HTTP/2\r\nHost: h\r\n\r\n" => rej(InvalidVersion);
        // Methods are case-sensitive: `get` is an extension method (checked below).
        "desync method lowercase", b"get / HTTP/1.1\r\nHost: h\r\n\r\n" => cl(0);
        "desync double space after method", b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n" => rej(InvalidRequestLine);
        "desync double space before version", b"GET /  HTTP/1.1\r\nHost: h\r\n\r\n" => rej(InvalidVersion);
        "desync tab separators", b"GET\t/\tHTTP/1.1\r\nHost: h\r\n\r\n" => rej(InvalidMethod);
        "desync space in target", b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n" => rej(InvalidVersion);
        "desync leading space", b" GET / HTTP/1.1\r\nHost: h\r\n\r\n" => rej(InvalidMethod);
        "desync leading CRLF", b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n" => cl(0);
        "desync leading LF", b"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n" => rej(BareLf);
        "desync method with vtab", b"GET\x0b/ HTTP/1.1\r\nHost: h\r\n\r\n" => rej(InvalidMethod);
        "desync target with vtab", b"GET /\x0bx HTTP/1.1\r\nHost: h\r\n\r\n" => rej(InvalidTarget);
        "desync target fragment", b"GET /#x HTTP/1.1\r\nHost: h\r\n\r\n" => rej(InvalidTarget);
        "desync missing Host", b"GET / HTTP/1.1\r\n\r\n" => rej(MissingHost);
    ];
    check_all(&cases);

    let m = b"get / HTTP/1.1\r\nHost: h\r\n\r\n";
    let o = testkit::run(Role::Request, Limits::DEFAULT, &[m]);
    assert_eq!(line_and_host(&o).0.method, Method::Other);
}

// ---------------------------------------------------------------------------------------------
// "Funky chunks" (chunk-line terminators) and oversized chunk sizes

#[test]
fn funky_chunks() {
    let cases = cases![
        // TERM.EXT / EXT.TERM: one side ends the chunk line at a bare LF or CR in the
        // extension, the other does not.
        "funky TERM.EXT", te(b"2;\nxx\r\n45\r\n0\r\n\r\n") => rej(BareLf);
        "funky EXT.TERM", te(b"2;a\rxx\r\n0\r\n\r\n") => rej(BareCr);
        "funky TERM.SPILL LF", te(b"2\r\nxx\n0\r\n\r\n") => rej(BareLf);
        "funky TERM.SPILL CR", te(b"2\r\nxx\r0\r\n\r\n") => rej(BareCr);
        "funky SPILL", te(b"2\r\nxxyy\r\n0\r\n\r\n") => rej(InvalidChunkTerminator);
        "funky one-byte terminator", te(b"2\r\nxx\r\r\n0\r\n\r\n") => rej(BareCr);
        "funky size bare LF", te(b"2\nxx\r\n0\r\n\r\n") => rej(BareLf);
        "funky last-chunk bare LF", te(b"0\n\r\n") => rej(BareLf);
        "funky trailer bare LF", te(b"0\r\nX: y\n\r\n") => rej(BareLf);
        // BWS before ';' is in the grammar (RFC 9112 section 7.1.1).
        "funky BWS before ext", te(b"5 ;a\r\nhello\r\n0\r\n\r\n") => chunked(5);
        "funky tab before ext", te(b"5\t;a=b\r\nhello\r\n0\r\n\r\n") => chunked(5);
        "funky ext quoted", te(b"5;a=\"b;c\\\"d\"\r\nhello\r\n0\r\n\r\n") => chunked(5);
        "funky ext token after space", te(b"5 a\r\nhello\r\n0\r\n\r\n") => rej(InvalidChunkExtension);
        "funky ext name then space", te(b"5;a \r\nhello\r\n0\r\n\r\n") => rej(InvalidChunkExtension);
        // Oversized sizes: 2^64 overflows; truncating parsers would read 0 or 5.
        "funky size 2^64", te(b"10000000000000000\r\nhello\r\n0\r\n\r\n") => rej(ChunkSizeOverflow);
        "funky size 2^64+5", te(b"10000000000000005\r\nhello\r\n0\r\n\r\n") => rej(ChunkSizeOverflow);
        "funky size leading zeros", te(b"0000000000000000000000005\r\nhello\r\n0\r\n\r\n") => chunked(5);
        "funky size over chunk_line_len", te(&cat(&[&[b'0'; 1025][..], b"5\r\nhello\r\n0\r\n\r\n"])) => rej(ChunkLineTooLong);
        // Sizes that fit 63 bits but not 32: accepted (no body limit by default); the request
        // waits for its data. Over 2^63 - 1 (what a signed 64-bit length holds): refused.
        "funky size 2^32+5", te(b"100000005\r\nhello\r\n0\r\n\r\n") => rej(UnexpectedEof);
        "funky size 2^63-1", te(b"7fffffffffffffff\r\nhello\r\n0\r\n\r\n") => rej(UnexpectedEof);
        "funky size 2^63+5", te(b"8000000000000005\r\nhello\r\n0\r\n\r\n") => rej(ChunkSizeOverflow);
        "funky size u64 max", te(b"ffffffffffffffff\r\nhello\r\n0\r\n\r\n") => rej(ChunkSizeOverflow);
        "funky missing last chunk", te(b"5\r\nhello\r\n") => rej(UnexpectedEof);
        "funky NUL in size", te(b"5\x00\r\nhello\r\n0\r\n\r\n") => rej(NulByte);
        "funky NUL in data", te(b"5\r\nhe\x00lo\r\n0\r\n\r\n") => chunked(5);
    ];
    check_all(&cases);

    // With a body limit, oversized chunks are refused at their size line.
    let lim = Limits {
        body_len: 1 << 20,
        ..Limits::DEFAULT
    };
    for size in [&b"100000005"[..], b"7fffffffffffffff"] {
        let m = te(&cat(&[size, b"\r\nhello\r\n0\r\n\r\n"]));
        let o = testkit::run(Role::Request, lim, &[&m]);
        assert_eq!(
            o.verdict,
            Err(BodyTooLarge),
            "{}",
            String::from_utf8_lossy(size)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// http-garden style byte sweeps over single positions

#[test]
fn garden_byte_sweeps() {
    let mut cases = Vec::new();
    for c in 0..=255u8 {
        let b = [c];
        let c1: &[u8] = &b;
        // A byte inside an unknown field's value.
        cases.push(Case {
            src: format!("garden value-{c:02x}"),
            msg: cat(&[b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a", c1, b"b\r\n\r\n"]),
            want: in_value(c).map_or(cl(0), rej),
        });
        // A byte inside a field name.
        let name_tchar = c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
        cases.push(Case {
            src: format!("garden name-{c:02x}"),
            msg: cat(&[b"GET / HTTP/1.1\r\nHost: h\r\nX-", c1, b"A: v\r\n\r\n"]),
            want: if name_tchar || c == b':' {
                cl(0)
            } else {
                rej(before_colon(c))
            },
        });
        // A byte right after a chunk size.
        cases.push(Case {
            src: format!("garden chunk-size-{c:02x}"),
            msg: te(&cat(&[b"5", c1, b"\r\nhello\r\n0\r\n\r\n"])),
            want: rej(match c {
                // 0x5X: the rest is chunk data, never complete.
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => UnexpectedEof,
                b';' | SP | HT => InvalidChunkExtension,
                CR => BareCr,
                LF => BareLf,
                0 => NulByte,
                _ => InvalidChunkSize,
            }),
        });
        // A byte ending a chunk extension name.
        cases.push(Case {
            src: format!("garden chunk-ext-{c:02x}"),
            msg: te(&cat(&[b"5;a", c1, b"\r\nhello\r\n0\r\n\r\n"])),
            want: match c {
                _ if name_tchar => chunked(5),
                CR => rej(BareCr),
                LF => rej(BareLf),
                0 => rej(NulByte),
                _ => rej(InvalidChunkExtension),
            },
        });
        // A byte inside a quoted chunk extension value.
        let qdtext = c == HT || c == SP || c == 0x21 || ((0x23..=0x7e).contains(&c) && c != b'\\');
        cases.push(Case {
            src: format!("garden chunk-ext-quoted-{c:02x}"),
            msg: te(&cat(&[b"5;a=\"", c1, b"\"\r\nhello\r\n0\r\n\r\n"])),
            want: match c {
                _ if qdtext || c >= 0x80 => chunked(5),
                LF => rej(BareLf),
                0 => rej(NulByte),
                // `\"` escapes the closing quote: unterminated at the CR.
                _ => rej(InvalidChunkExtension),
            },
        });
    }
    check_all(&cases);
}

// ---------------------------------------------------------------------------------------------
// http-garden style: every single-byte substitution in the framing and routing field names
// (the TE.TE/CL.CL "near miss" names). A name is recognized exactly when it equals the real
// name case-insensitively, whole and byte by byte (where it crosses chunk boundaries).

#[test]
fn garden_framing_name_substitutions() {
    type Make = fn(&[u8]) -> Vec<u8>;
    let framing: [(&[u8], Make, Want); 3] = [
        (
            b"Content-Length",
            |n| post(&cat(&[n, b": 5\r\n"]), b"hello"),
            cl(5),
        ),
        (
            b"Transfer-Encoding",
            |n| post(&cat(&[n, b": chunked\r\n"]), b"5\r\nhello\r\n0\r\n\r\n"),
            chunked(5),
        ),
        (
            b"Host",
            |n| cat(&[b"GET / HTTP/1.1\r\n", n, b": h\r\n\r\n"]),
            cl(0),
        ),
    ];
    let mut bad = Vec::new();
    let mut count = 0usize;
    for (name, make, recognized) in framing {
        for i in 0..name.len() {
            for c in 0..=255u8 {
                let mut n = name.to_vec();
                n[i] = c;
                let msg = make(&n);
                let whole = testkit::run(Role::Request, Limits::DEFAULT, &[&msg]);
                let cuts: Vec<usize> = (1..msg.len()).collect();
                let bytes = testkit::run_split(Role::Request, Limits::DEFAULT, &msg, &cuts);
                let same = n.eq_ignore_ascii_case(name);
                count += 1;
                if bytes != whole || (verdict(&whole) == recognized) != same {
                    bad.push(format!(
                        "{:?}: {:?}",
                        String::from_utf8_lossy(&n),
                        verdict(&whole)
                    ));
                }
            }
        }
    }
    assert_eq!(count, (14 + 17 + 4) * 256);
    assert!(
        bad.is_empty(),
        "{} disagree:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn expect_obfuscations_promise_nothing() {
    let expect = |v: &[u8]| {
        let m = post(
            &cat(&[b"Content-Length: 5\r\nExpect: ", v, b"\r\n"]),
            b"hello",
        );
        let o = testkit::run(Role::Request, Limits::DEFAULT, &[&m]);
        assert_eq!(verdict(&o), cl(5), "{}", String::from_utf8_lossy(v));
        o.events
            .iter()
            .any(|e| matches!(e, Event::HeadEnd(h) if h.expect_continue))
    };
    assert!(expect(b"100-continue"));
    assert!(expect(b"100-Continue "));
    assert!(!expect(b"y 100-continue"));
    assert!(!expect(b"100-continue, x"));
    assert!(!expect(b"100-continuex"));
}
