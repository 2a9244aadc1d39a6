//! Incremental, allocation-free, strict HTTP/1.x parser (RFC 9110, RFC 9112) for tempesta-rs.
//!
//! The parser sees every byte a client or a backend sends, in softirq, split at arbitrary skb
//! boundaries. It is a sans-I/O state machine: feed it the stream's chunks in order, of any
//! length (one byte is fine); it keeps a small fixed-size state
//! (`size_of::<RequestParser>()` is 176 bytes on x86_64, tested to stay <= 256), never
//! re-scans accepted bytes, never allocates, and never copies message bytes.
//!
//! Lines that are complete in the current chunk (request line, status line, field lines,
//! chunk-size lines) go through fast paths that take a whole line at a time; everything else
//! (a line split across chunks, anything unusual or invalid, a limit reached) goes through
//! the byte-wise state machine from the first byte of that line. Both give the same events and
//! errors, which the split-invariance tests and the fuzz target check.
//!
//! # Spans: absolute stream offsets
//!
//! Everything the parser reports about message bytes is a [`Span`] of absolute offsets in the
//! connection's byte stream (offset 0 is the first byte fed). The caller, which keeps the
//! skbs, resolves spans to bytes: [`Span::within`] when the span lies in one chunk (the caller
//! knows each chunk's start offset, [`RequestParser::offset`] before feeding it), or
//! [`Span::overlap`] per chunk when it crosses chunks. The few values the parser needs itself
//! are accumulated in its state while the bytes stream by: Content-Length digits,
//! Transfer-Encoding codings, Connection options, `Expect: 100-continue`, the Host syntax
//! (`host[:port]`, port <= 65535), and header names for recognition ([`HeaderId`]), which
//! needs at most the first 20 bytes of a name.
//!
//! # Events
//!
//! `feed(chunk, sink)` reports [`Event`]s to a [`Sink`] (any `FnMut(Event)`), in stream
//! order: [`Event::RequestLine`] / [`Event::StatusLine`], one [`Event::Header`] per field line
//! (with its [`HeaderId`], name span and value span without surrounding whitespace),
//! [`Event::HeadEnd`] (where the head ends, the [`BodyKind`], keep-alive, Expect,
//! Upgrade, Host), then the body: [`Event::Data`] spans of body bytes (for chunked bodies the
//! chunk data only, after an [`Event::Chunk`] for each chunk-size line, so a proxy can pass
//! chunks through or re-frame them), [`Event::Trailer`] fields, and [`Event::End`].
//!
//! `feed` returns [`Status::Complete`] when a message ends inside the chunk, with the number
//! of bytes that belong to it: feed the rest of the chunk again for the next pipelined
//! message. For responses, tell the parser the method of the request being answered first
//! ([`ResponseParser::set_request_method`]): HEAD responses have no body, a 2xx to CONNECT
//! starts a tunnel. A close-delimited response body ends with [`ResponseParser::finish`] at
//! EOF.
//!
//! # Strictness
//!
//! Anything ambiguous is an error, each with its own [`Error`] variant so the firewall can
//! count them: Content-Length with Transfer-Encoding, any duplicate Content-Length (even
//! identical), a request Transfer-Encoding not ending in chunked, chunk-size overflow, bare CR,
//! bare LF (no line may end with a bare LF, anywhere), obs-fold, whitespace before the colon,
//! NUL and control bytes, invalid token bytes; and the caller's [`Limits`] (frang's
//! `http_uri_len`, `http_header_cnt`, `http_hdr_len`, `http_body_len`,
//! `http_max_header_list_size`), one variant each. A message is rejected at the same byte with
//! the same error however it is split.
//!
//! # Example
//!
//! ```
//! use tempesta_parser::{BodyKind, Event, HeaderId, Limits, RequestParser, Status};
//!
//! // Two pipelined requests, split at arbitrary points.
//! let chunks: [&[u8]; 3] = [
//!     b"POST /api HTTP/1.1\r\nHo",
//!     b"st: example.com\r\nContent-Length: 5\r\n\r\nhel",
//!     b"loGET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
//! ];
//! let stream: Vec<u8> = chunks.concat(); // only to resolve spans in this example
//!
//! let mut parser = RequestParser::new(Limits::default());
//! let mut hosts = Vec::new();
//! let mut body = Vec::new();
//! let mut ends = 0;
//! let mut sink = |ev: Event| match ev {
//!     Event::Header(f) if f.id == HeaderId::Host => hosts.push(f.value),
//!     Event::HeadEnd(h) => assert!(h.keep_alive),
//!     Event::Data(span) => body.extend_from_slice(&stream[span.start as usize..span.end as usize]),
//!     Event::End(_) => ends += 1,
//!     _ => {}
//! };
//! for chunk in chunks {
//!     let mut rest = chunk;
//!     while let Status::Complete { consumed } = parser.feed(rest, &mut sink)? {
//!         rest = &rest[consumed..]; // the next pipelined request starts here
//!         if rest.is_empty() {
//!             break;
//!         }
//!     }
//! }
//! parser.finish(&mut sink)?;
//! assert_eq!(ends, 2);
//! assert_eq!(body, b"hello");
//! assert_eq!(hosts.len(), 2);
//! assert_eq!(&stream[hosts[0].start as usize..hosts[0].end as usize], b"example.com");
//! # Ok::<(), tempesta_parser::Error>(())
//! ```
//!
//! # Kernel build
//!
//! The kernel module compiles this file as a module (`#[path = "../parser/src/lib.rs"] mod
//! parser;`) without cargo features: no `std`, no SIMD, no floats, no allocation, and no
//! panic reachable from input (no unchecked indexing or arithmetic; enforced with clippy's
//! `indexing_slicing`, `arithmetic_side_effects`, `unwrap_used`, `expect_used` and `panic`).
//! With the `std` feature (host only) the long scans use SSE2/AVX2.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(missing_docs)]

mod error;
mod limits;
mod machine;
mod names;
mod scan;
#[cfg(feature = "std")]
pub mod testkit;
mod types;

pub use self::error::Error;
pub use self::limits::Limits;
pub use self::machine::{
    RequestParser, ResponseParser, MAX_EMPTY_LINES, MAX_METHOD_LEN, MAX_REASON_LEN,
};
pub use self::types::{
    BodyKind, Chunk, Event, Field, Head, HeaderId, MessageEnd, Method, RequestLine, Sink, Span,
    Status, StatusLine, TargetForm, Version,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_small() {
        let r = core::mem::size_of::<RequestParser>();
        let s = core::mem::size_of::<ResponseParser>();
        println!("RequestParser: {r} bytes, ResponseParser: {s} bytes");
        println!("Event: {} bytes", core::mem::size_of::<Event>());
        assert!(r <= 256, "RequestParser is {r} bytes");
        assert!(s <= 256, "ResponseParser is {s} bytes");
    }
}
