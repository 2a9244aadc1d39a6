//! The HTTP/1.x proxy logic of tempesta-rs, without I/O: message streaming, header rewriting
//! and the responses the proxy generates itself.
//!
//! The kernel module's socket layer owns the bytes (receive buffers, send queues, sockets) and
//! drives these pieces; they never allocate, never block and never see a kernel type, so host
//! tests drive exactly the code the module runs.
//!
//! * [`reader`]: a [`Reader`] per connection direction turns the stream into [`Step`]s: a
//!   message head (to rewrite), body byte ranges (to forward verbatim, chunk framing
//!   included: the parser has validated it) and the message end. The caller decides how much
//!   input to offer, which is how backpressure works: a request whose upstream cannot take
//!   more bytes is simply not read further, and TCP flow control pushes back on the client.
//! * [`rewrite`]: the forwarded head: hop-by-hop fields removed (RFC 9110 section 7.6.1),
//!   `X-Forwarded-For` and `Via` added, persistence made explicit.
//! * [`status`]: the error responses (400, 502, 504, ...).
//! * [`alog`]: access log lines.
//! * [`facts`]: what the firewall checks of a request head.
//! * [`tunnel`]: which upgrades become WebSocket tunnels.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

#[cfg(tfw_kernel)]
use crate::parser;
#[cfg(not(tfw_kernel))]
use tempesta_parser as parser;

pub mod alog;
pub mod facts;
pub mod reader;
pub mod rewrite;
pub mod status;
pub mod tunnel;

/// `v` without leading and trailing optional whitespace (SP / HTAB, RFC 9110 section 5.6.3).
fn trim(v: &[u8]) -> &[u8] {
    let ows = |c: &u8| *c == b' ' || *c == b'\t';
    let start = v.iter().position(|c| !ows(c)).unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|c| !ows(c))
        .map_or(start, |e| e.saturating_add(1));
    v.get(start..end).unwrap_or_default()
}

#[allow(unused_imports)]
pub use self::reader::{Reader, ReqInfo, RespInfo, Step};
#[allow(unused_imports)]
pub use self::rewrite::{
    dechunked, rewrite_request, rewrite_response, Fwd, HdrMods, Out, Overflow,
};
