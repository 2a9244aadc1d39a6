//! The application-layer firewall of tempesta-rs without the kernel: frang's limits and
//! HTTP tables.
//!
//! `no_std`, allocation-free, clock-free: the caller owns all storage (a slice of client slots
//! per shard, the rules in its configuration arena) and passes the time in (milliseconds of a
//! monotonic clock). The kernel module adds what needs the kernel: the netfilter hook, the
//! spinlocks around the shards, the per-connection counters it feeds in.
//!
//! * [`window`]: the 8-slot sliding window behind every rate and burst.
//! * [`client`]: the bounded, sharded table of clients: connection, request, TLS and response
//!   code accounting, `ip_block`, log rate limiting.
//! * [`limits`]: `frang_limits` and the checks on one request's head and body.
//! * [`mem`]: `client_mem`, the bytes held for each client address.
//! * [`brange`]: `http_*_brange`, the operator's alphabets for the parts of a request.
//! * [`tables`]: `http_chain` rules and their evaluation.
//! * [`action`]: `block_action` and the class of each refusal.
//!
//! Every refusal names a [`Limit`], used for the counters, the log line and the class.
//!
//! # Flow
//!
//! ```
//! use tempesta_filter::*;
//!
//! // Configuration (once): limits, block actions, rules; checked before they go live.
//! let limits = FrangLimits { request_burst: 10, ip_block: Some(60), ..FrangLimits::DEFAULT };
//! let actions = BlockAction::DEFAULT;
//! assert_eq!(actions.validate(limits.ip_block), Ok(()));
//! let rules = [
//!     Rule { cond: Cond::Uri(Pattern::parse(b"/admin*")), negate: false, action: Action::Block },
//!     Rule { cond: Cond::Always, negate: false, action: Action::Vhost(b"app") },
//! ];
//! let chains = [Chain { name: b"", rules: &rules }];
//! assert_eq!(validate(&chains), Ok(()));
//!
//! // Start-up: N shards, each a table behind its own lock, one random key for all.
//! let key = HashKey::new([0x5a; 16]); // get_random_bytes() in the kernel
//! let mut storage = [ClientSlot::EMPTY; 256];
//! let mut shard = ClientTable::new(&mut storage[..], key);
//! let addr = addr_v4([192, 0, 2, 1]);
//! let _which = shard_of(key.hash(&addr), 1); // the shard to lock
//! let now = 5_000; // ms
//!
//! // Every packet (netfilter): drop the blocked.
//! assert!(!shard.is_blocked(&addr, now));
//!
//! // New connection (`whitelisted`: its mark is in `whitelist_mark`).
//! assert_eq!(shard.on_connect(&addr, now, &limits, false), Ok(()));
//!
//! // Every request: the rates first, then the head once the parser has it.
//! assert_eq!(shard.on_request(&addr, now, &limits), Ok(()));
//! let facts = RequestFacts { method: b"GET", host: Some(b"example.com"), ..Default::default() };
//! let verdict = check_request(&limits, &facts).and_then(|()| {
//!     let req = RequestView { uri: b"/admin/x", host: b"example.com", method: b"GET", ..Default::default() };
//!     match evaluate(&chains, &req).route {
//!         Route::Block => Err(Limit::TablesBlock),
//!         _ => Ok(()),
//!     }
//! });
//! assert_eq!(verdict, Err(Limit::TablesBlock));
//! if let Err(limit) = verdict {
//!     // ip_block for frang violations (the table does it for its own checks); the module
//!     // leaves a tables `block` out of it, as Tempesta does, and this example does not.
//!     shard.punish(&addr, now, &limits);
//!     let act = actions.for_class(limit.class());
//!     if act.log && shard.should_log(&addr, now, 1_000) {
//!         // log "frang: {limit.name()} exceeded for {addr}"
//!     }
//!     assert_eq!(act.response, Response::Drop); // close without a reply
//! }
//! assert!(shard.is_blocked(&addr, now + 59_999));
//!
//! // Connection closed.
//! shard.on_close(&addr);
//! ```
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

pub mod action;
pub mod brange;
pub mod client;
pub mod hash;
pub mod limits;
pub mod logcap;
pub mod mem;
pub mod tables;
pub mod window;

#[allow(unused_imports)]
pub use self::action::{BlockAction, BlockActionError, Class, ClassAction, Response};
#[allow(unused_imports)]
pub use self::client::{Client, ClientSlot, ClientTable, Handshake};
#[allow(unused_imports)]
pub use self::hash::{addr_v4, shard_of, Addr, HashKey};
#[allow(unused_imports)]
pub use self::limits::{
    check_body, check_head_progress, check_request, check_trailer, whitelisted, BodyProgress,
    CodeSet, FrangLimits, HeadProgress, HttpVersion, Method, MethodSet, RequestFacts,
    RespCodeBlock,
};
#[allow(unused_imports)]
pub use self::logcap::LogBudget;
#[allow(unused_imports)]
pub use self::mem::{MemSlot, MemTable};
#[allow(unused_imports)]
pub use self::tables::{
    cookies, evaluate, expand_redirect, validate, Action, Chain, Cond, Outcome, Overflow, Pattern,
    Request, RequestView, Route, Rule, TablesError,
};
#[allow(unused_imports)]
pub use self::window::{Frame, Rate, Window};

/// The outcome of a check: `Err` names the limit that refused.
pub type Verdict = Result<(), Limit>;

/// Why a connection, a request or a client was refused: the key of the counters and of the
/// log message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Limit {
    /// `tcp_connection_rate`.
    ConnectionRate,
    /// `tcp_connection_burst`.
    ConnectionBurst,
    /// `concurrent_tcp_connections`.
    ConcurrentConnections,
    /// `tls_connection_rate`.
    TlsConnectionRate,
    /// `tls_connection_burst`.
    TlsConnectionBurst,
    /// `tls_incomplete_connection_rate`.
    TlsIncompleteRate,
    /// `request_rate`.
    RequestRate,
    /// `request_burst`.
    RequestBurst,
    /// `http_resp_code_block`.
    RespCodeBlock,
    /// `client_header_timeout`.
    HeaderTimeout,
    /// `client_body_timeout`.
    BodyTimeout,
    /// `http_header_chunk_cnt`.
    HeaderChunkCount,
    /// `http_body_chunk_cnt`.
    BodyChunkCount,
    /// `http_header_cnt`.
    HeaderCount,
    /// `http_hdr_len`.
    HeaderLength,
    /// `http_max_header_list_size`.
    HeaderListSize,
    /// `http_uri_len`.
    UriLength,
    /// `http_body_len`.
    BodyLength,
    /// `http_methods`.
    Method,
    /// `http_method_override_allowed` (or the overriding method is not in `http_methods`).
    MethodOverride,
    /// `http_strict_host_checking`: no Host in HTTP/1.1 (or no authority at all in HTTP/2).
    HostMissing,
    /// `http_strict_host_checking`: Host differs from the request-target or `:authority`.
    HostMismatch,
    /// `http_strict_host_checking`: Host is an IP address.
    HostIpLiteral,
    /// `http_strict_host_checking`: the Host port is not the listening port, or not a port.
    HostPort,
    /// `http_strict_host_checking`: a host in an HTTP/1.0 or 0.9 request.
    HostOldVersion,
    /// `http_ct_required` (or `http_ct_vals`): a POST without Content-Type.
    ContentTypeMissing,
    /// `http_ct_vals`.
    ContentType,
    /// `http_trailer_split_allowed`.
    TrailerSplit,
    /// The client is blocked (`ip_block`).
    Blocked,
    /// The client table has no room (every slot holds a client with open connections).
    ClientTable,
    /// An HTTP tables `block` rule.
    TablesBlock,
}

impl Limit {
    /// Every limit, in declaration order (`ALL[l.index()] == l`).
    pub const ALL: [Self; 31] = [
        Self::ConnectionRate,
        Self::ConnectionBurst,
        Self::ConcurrentConnections,
        Self::TlsConnectionRate,
        Self::TlsConnectionBurst,
        Self::TlsIncompleteRate,
        Self::RequestRate,
        Self::RequestBurst,
        Self::RespCodeBlock,
        Self::HeaderTimeout,
        Self::BodyTimeout,
        Self::HeaderChunkCount,
        Self::BodyChunkCount,
        Self::HeaderCount,
        Self::HeaderLength,
        Self::HeaderListSize,
        Self::UriLength,
        Self::BodyLength,
        Self::Method,
        Self::MethodOverride,
        Self::HostMissing,
        Self::HostMismatch,
        Self::HostIpLiteral,
        Self::HostPort,
        Self::HostOldVersion,
        Self::ContentTypeMissing,
        Self::ContentType,
        Self::TrailerSplit,
        Self::Blocked,
        Self::ClientTable,
        Self::TablesBlock,
    ];

    /// How many limits there are: the size of a per-limit counter array.
    pub const COUNT: usize = Self::ALL.len();

    /// The index of a per-limit counter array.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The name for log messages (Tempesta's wording where it has one).
    pub const fn name(self) -> &'static str {
        match self {
            Self::ConnectionRate => "new connections rate",
            Self::ConnectionBurst => "new connections burst",
            Self::ConcurrentConnections => "connections max num.",
            Self::TlsConnectionRate => "new TLS connections rate",
            Self::TlsConnectionBurst => "new TLS connections burst",
            Self::TlsIncompleteRate => "incomplete TLS connections rate",
            Self::RequestRate => "request rate",
            Self::RequestBurst => "requests burst",
            Self::RespCodeBlock => "http_resp_code_block limit",
            Self::HeaderTimeout => "client header timeout",
            Self::BodyTimeout => "client body timeout",
            Self::HeaderChunkCount => "HTTP header chunk count",
            Self::BodyChunkCount => "HTTP body chunk count",
            Self::HeaderCount => "HTTP headers count",
            Self::HeaderLength => "HTTP header length",
            Self::HeaderListSize => "HTTP header list size",
            Self::UriLength => "HTTP URI length",
            Self::BodyLength => "HTTP body length",
            Self::Method => "restricted HTTP method",
            Self::MethodOverride => "restricted overridden HTTP method",
            Self::HostMissing => "missing Host header field",
            Self::HostMismatch => "Host differs from request authority",
            Self::HostIpLiteral => "Host header field contains IP address",
            Self::HostPort => "port from Host header doesn't match real port",
            Self::HostOldVersion => "Host header field in protocol prior to HTTP/1.1",
            Self::ContentTypeMissing => "missing Content-Type header field",
            Self::ContentType => "restricted Content-Type",
            Self::TrailerSplit => "HTTP field appears in header and trailer",
            Self::Blocked => "blocked client",
            Self::ClientTable => "client table full",
            Self::TablesBlock => "HTTP tables block rule",
        }
    }
}

impl core::fmt::Display for Limit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_table_is_consistent() {
        assert_eq!(Limit::COUNT, 31);
        for (i, l) in Limit::ALL.iter().enumerate() {
            assert_eq!(l.index(), i);
            assert!(!l.name().is_empty());
            assert_eq!(l.to_string(), l.name());
        }
        let mut names: Vec<&str> = Limit::ALL.iter().map(|l| l.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Limit::COUNT);
    }
}
