// SPDX-License-Identifier: GPL-2.0

//! The reverse proxy: client connections, upstream connection pools, and the exchanges
//! between them.
//!
//! Everything here runs with glue.c's data lock held, so the proxy is plain single-owner
//! state without locks: from a connection's `sk_data_ready` in softirq when the lock is free
//! (received data is handled where it arrives), else from glue.c's work item, and from the
//! control path. [`Proxy::event`] handles a socket's events. In softirq nothing may sleep:
//! allocations use [`gfp`], sockets are released by the work item, and connects are deferred
//! to it ([`Proxy::connect`]).
//!
//! An exchange, top to bottom:
//!
//! 1. A client's bytes are read into its receive buffer; its [`Reader`] parses them.
//! 2. At the request head the head is rewritten (hop-by-hop fields, `X-Forwarded-For`,
//!    `Via`) into the client's request copy, and the request waits for an idle upstream
//!    connection of its group, chosen by the group's scheduler (`sched ratio static`).
//! 3. The head, then the body as it arrives, go to the upstream connection's send queue. A
//!    queue above [`TX_HIGH`] stops the reader: the client's receive buffer fills and TCP
//!    pushes back, so a large body never sits in memory.
//! 4. The response comes back the same way, its head rewritten, into the client's send queue.
//! 5. At the response's end the upstream connection is idle again and the client's next
//!    (pipelined) request is read: responses go out in request order because a connection
//!    has one request in flight at a time.
//!
//! Failures: a malformed request gets 400 and the connection closes; a request no upstream
//! can take gets 502; an upstream that does not answer within `server_forward_timeout` gives
//! 504; an upstream connection that fails before the response started has its request re-sent
//! on another connection if the request is idempotent and small enough to have been kept, up
//! to `server_forward_retries` times, and 502 otherwise.

use core::net::SocketAddr;

use kernel::prelude::*;

use crate::buf::{clear, Buf};
use crate::cache::rules::MatchOp;
use crate::cache::wire;
use crate::cached::{self, Answer, Cache, Fill, ReqCtx, TableHints};
use crate::cfgfile::{Config, ErrPages, ModsCfg, NipCfg};
use crate::config;
use crate::filter::{self, HashKey, MemSlot, MemTable, Route};
use crate::firewall::{self, random_key, Firewall, Origin, Progress, Verdict};
use crate::http::status::Status;
use crate::http::{self, alog, Fwd, Reader, ReqInfo, Step};
use crate::parser::Limits;
use crate::sched;
use crate::sched::apm::{Summary, Window};
use crate::sock::{gfp, now_ms, Recv, Sock, TCP_ESTABLISHED, TCP_SYN_SENT};
use crate::store::Obj;
use crate::tables::Tables;
use kernel::sync::Arc;

#[path = "proxy/health.rs"]
mod health;
#[path = "proxy/pipeline.rs"]
mod pipeline;
#[path = "proxy/splice.rs"]
mod splice;
#[path = "proxy/tunnel.rs"]
mod tunnel;

use crate::parser::Method;
use pipeline::Pipe;

/// Receive buffer of a connection. A request head (8 KiB URI + 16 KiB of fields by default)
/// must fit whole, since it is rewritten in one piece.
const RX_CAP: usize = 32 * 1024;
/// A send queue above this stops the reader that feeds it.
const TX_HIGH: usize = 64 * 1024;
/// The least time a client may take nothing of its response before it is reset, whatever
/// `keepalive_timeout` says (0 there closes idle connections at once, not busy ones).
const SEND_STALL_MIN_MS: u64 = 1000;
/// Requests up to this size (rewritten head and body) are kept until answered, to be re-sent
/// if their upstream connection fails. Larger ones are streamed without a copy.
const RETRY_MAX: usize = 64 * 1024;
/// Client connections open at once; more are refused at accept. With the buffer bounds above
/// a client holds at most about 140 KiB (receive buffer, send queue over the high-water mark
/// by one step, request copy), typically a few KiB; a WebSocket tunnel twice that (its
/// upstream connection has the same buffers), plus a socket for the pool's new connection.
const MAX_CLIENTS: usize = 16384;
/// Slots of the `client_mem` table at start; it doubles as clients arrive (at most 2 per
/// client connection, see `filter::mem`).
const MEM_SLOTS_MIN: usize = 256;
/// A connection closing after its last response gets this long to take it.
const CLOSE_GRACE_MS: u64 = 5000;
/// Upstream reconnect backoff: first delay and ceiling.
const BACKOFF_MIN_MS: u64 = 100;
const BACKOFF_MAX_MS: u64 = 5000;

/// Connection names: slot index and generation, so a stale name never reaches a new
/// connection in a reused slot.
pub(crate) type Id = u64;

/// The group and server index of an upstream connection of a replaced configuration.
const RETIRED: usize = usize::MAX;

/// Listener names have this bit (they live in the control state, not in the slab).
pub(crate) const LISTENER_ID: u64 = 1 << 63;

fn id_of(index: usize, gen: u32) -> Id {
    ((gen as u64) << 32) | (index as u64 & 0xffff_ffff)
}

/// Counters for `/proc/tempesta/perfstat`.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) clients_accepted: u64,
    pub(crate) clients_refused: u64,
    /// Clients reset because they took nothing of a response for `keepalive_timeout`.
    pub(crate) send_timeouts: u64,
    /// Responses cut (client reset, upstream connection dropped) because the upstream sent
    /// nothing more for `server_forward_timeout` while the client kept up.
    pub(crate) server_stalls: u64,
    pub(crate) clients_open: u64,
    pub(crate) requests: u64,
    pub(crate) responses: u64,
    pub(crate) errors_400: u64,
    pub(crate) errors_502: u64,
    pub(crate) errors_503: u64,
    pub(crate) errors_504: u64,
    pub(crate) errors_other: u64,
    /// Connections the firewall refused.
    pub(crate) clients_blocked: u64,
    /// Requests the firewall refused (frang limits and HTTP tables blocks).
    pub(crate) filtered: u64,
    /// Requests the HTTP tables answered with a redirect.
    pub(crate) redirects: u64,
    /// Requests answered from the cache (hits and 304s).
    pub(crate) cached: u64,
    pub(crate) retries: u64,
    pub(crate) forwarded: u64,
    pub(crate) client_rx_bytes: u64,
    pub(crate) server_rx_bytes: u64,
    pub(crate) server_connects: u64,
    pub(crate) server_established: u64,
    pub(crate) server_parse_errors: u64,
    /// Upstream responses refused for what they would do to the connection (a close-delimited
    /// response with requests pipelined behind it).
    pub(crate) server_other_errors: u64,
    pub(crate) server_failures: u64,
    /// WebSocket tunnels opened (101 responses passed on).
    pub(crate) tunnels: u64,
    /// Requests sent to a busy upstream connection behind another.
    pub(crate) pipelined: u64,
    /// Client connections refused for `client_mem` (the hard limit).
    pub(crate) mem_exceeded: u64,
    /// Body bytes passed on zero-copy (see `splice`): responses, request bodies.
    pub(crate) spliced_resp_bytes: u64,
    pub(crate) spliced_req_bytes: u64,
}

struct Server {
    addr: SocketAddr,
    /// Its `sched hash` id (from `addr`).
    hash_id: u64,
    conns: KVec<Id>,
    /// Its `/proc/tempesta/servers/GROUP/IP:PORT` counters, once published.
    stat: SrvStat,
    /// Its response times.
    apm: KBox<Window>,
    /// Its health, if its group is monitored (`health`).
    health: Option<KBox<health::ServerHealth>>,
    /// Its response time statistic's last values (`sched ratio predict`).
    history: Option<KBox<sched::dynamic::History>>,
}

/// Counters shared with glue.c's /proc file of a server (see `struct tfw_srv_stat`).
struct SrvStat(*mut crate::sys::tfw_srv_stat);

impl SrvStat {
    /// Adds `delta` to the counter `field` of the shared struct.
    fn add(&self, field: fn(*mut crate::sys::tfw_srv_stat) -> *mut u64, delta: i64) {
        if self.0.is_null() {
            return;
        }
        // SAFETY: a non-null pointer came from tfw_glue_proc_server and stays valid until
        // tfw_glue_proc_servers_clear, which the control path calls only after this proxy
        // stopped using it (see `Proxy::unpublish`). The u64 fields of a kzalloc()ed struct
        // are 8-byte aligned; glue.c only reads them with READ_ONCE.
        let a = unsafe { core::sync::atomic::AtomicU64::from_ptr(field(self.0)) };
        if delta >= 0 {
            a.fetch_add(delta.unsigned_abs(), core::sync::atomic::Ordering::Relaxed);
        } else {
            a.fetch_sub(delta.unsigned_abs(), core::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl SrvStat {
    /// Sets the statuses `health_stat_server` counts (once, when the file is made).
    fn set_codes(&self, codes: &config::health::StatCodes) {
        if self.0.is_null() {
            return;
        }
        let p = self.0;
        // SAFETY: field addresses of the live struct (see `add`), no reference is created;
        // the C arrays have 16 elements, as many as `codes.codes`.
        let (n, code) = unsafe { (&raw mut (*p).hs_n, (&raw mut (*p).hs_code).cast::<u64>()) };
        for (i, &c) in codes.codes.iter().enumerate().take(codes.n.min(16)) {
            // SAFETY: `i < 16`: within the array; glue.c reads it with READ_ONCE only.
            unsafe { core::sync::atomic::AtomicU64::from_ptr(code.add(i)) }
                .store(u64::from(c), core::sync::atomic::Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { core::sync::atomic::AtomicU64::from_ptr(n) }.store(
            codes.n.min(16) as u64,
            core::sync::atomic::Ordering::Release,
        );
    }

    /// Counts a response with `status` under every `health_stat_server` status covering it.
    fn count_status(&self, codes: &config::health::StatCodes, status: u16) {
        if self.0.is_null() || codes.n == 0 {
            return;
        }
        // SAFETY: the address of a field of the live struct (see `add`).
        let count = unsafe { (&raw mut (*self.0).hs_count).cast::<u64>() };
        for (i, &c) in codes.codes.iter().enumerate().take(codes.n.min(16)) {
            if sched::health::covers(c, status) {
                // SAFETY: `i < 16`: within the array (see `add` for the atomics).
                unsafe { core::sync::atomic::AtomicU64::from_ptr(count.add(i)) }
                    .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Publishes a response time summary (the file shows Tempesta's APM lines).
    fn set_rt(&self, s: &Summary) {
        if self.0.is_null() {
            return;
        }
        let p = self.0;
        let store = |f: *mut u64, v: u64| {
            // SAFETY: `f` points into the live, 8-byte aligned struct (see `add`); glue.c
            // reads it with READ_ONCE only.
            unsafe { core::sync::atomic::AtomicU64::from_ptr(f) }
                .store(v, core::sync::atomic::Ordering::Relaxed);
        };
        // SAFETY: field addresses of the live struct, no reference is created.
        let (min, avg, max, pct) = unsafe {
            (
                &raw mut (*p).rt_min,
                &raw mut (*p).rt_avg,
                &raw mut (*p).rt_max,
                (&raw mut (*p).rt_pct).cast::<u64>(),
            )
        };
        store(min, s.min);
        store(avg, s.avg);
        store(max, s.max);
        // The C array has 5 elements, as many as `Summary::pct`.
        for (i, &v) in s.pct.iter().enumerate().take(5) {
            // SAFETY: `i < 5`: within the array.
            store(unsafe { pct.add(i) }, v);
        }
    }
}

fn f_conns_up(s: *mut crate::sys::tfw_srv_stat) -> *mut u64 {
    // SAFETY: a field of a valid struct (the caller's pointer is non-null and live).
    unsafe { &raw mut (*s).conns_up }
}
fn f_conns(s: *mut crate::sys::tfw_srv_stat) -> *mut u64 {
    // SAFETY: as above.
    unsafe { &raw mut (*s).conns }
}
fn f_forwarded(s: *mut crate::sys::tfw_srv_stat) -> *mut u64 {
    // SAFETY: as above.
    unsafe { &raw mut (*s).forwarded }
}
fn f_responses(s: *mut crate::sys::tfw_srv_stat) -> *mut u64 {
    // SAFETY: as above.
    unsafe { &raw mut (*s).responses }
}
fn f_errors(s: *mut crate::sys::tfw_srv_stat) -> *mut u64 {
    // SAFETY: as above.
    unsafe { &raw mut (*s).errors }
}

struct Group {
    name: KVec<u8>,
    servers: KVec<Server>,
    sched: KVec<sched::Slot>,
    /// Clients waiting for an idle connection, oldest first from `wait_head`.
    wait: KVec<Id>,
    wait_head: usize,
    queue_size: usize,
    forward_timeout_ms: u64,
    forward_retries: u32,
    /// `server_retry_nonidempotent`.
    retry_nonidempotent: bool,
    /// `sched hash` (else `sched ratio static`).
    hash: bool,
    /// The servers' health monitor (`health`).
    health: Option<KBox<health::GroupHealth>>,
    /// `sched ratio dynamic|predict`: weights from response times (see [`publish_times`]).
    dynamic: Option<Dynamic>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CState {
    /// Reading the next request head.
    Idle,
    /// The head is read; waiting for an upstream connection.
    Queued,
    /// The request goes (or went) to `server`; the response comes back.
    Forwarding,
    /// The cache has nothing for the request, and another client's request for the same URI
    /// is on its way upstream: wait for that response rather than send the same request
    /// again (request collapsing). The request is rewritten in `req_copy`, ready to forward.
    Parked,
    /// Sending what is queued, then closing.
    Closing,
    /// A WebSocket tunnel: bytes go both ways between the client and `server`, unparsed,
    /// until either side closes or `client_ws_timeout` passes without traffic.
    Tunnel,
}

struct Client {
    reader: Reader,
    peer: [u8; 64],
    peer_len: usize,
    /// The current request's `sched hash` key (its Host and target).
    hash_key: u64,
    st: CState,
    req: ReqInfo,
    /// The rewritten head, plus the body while the request is small enough to re-send.
    req_copy: Buf,
    retriable: bool,
    req_done: bool,
    resp_started: bool,
    tries: u32,
    group: usize,
    server: Option<Id>,
    /// When the current state began.
    since_ms: u64,
    eof: bool,
    /// The access log line of the current request, as far as known (see `http::alog`).
    log: KVec<u8>,
    /// Status of the response being sent.
    status: u16,
    /// Response body bytes sent.
    body_sent: u64,
    /// The peer's address (the firewall's key).
    addr: [u8; 16],
    /// The local port the client connected to (strict Host checking compares the Host's).
    port: u16,
    /// The firewall counted this connection (`Firewall::close` is due when it closes).
    counted: bool,
    /// Request body bytes received.
    body_in: u64,
    /// Closing: our side is shut down, the rest of the input is discarded.
    shut: bool,
    /// The head being read: reads it arrived in, and when the first came (the firewall's
    /// slowloris checks).
    head: Progress,
    head_ms: u64,
    /// The body being read: reads it arrived in, the gap before the last one, and when it
    /// came.
    body: Progress,
    body_ms: u64,
    /// The connection's netfilter mark at accept (its SYN's, with `tcp_fwmark_accept`); the
    /// HTTP tables' `mark` conditions see it, or what a `mark =` rule set since.
    mark: u32,
    /// The vhost of the current request (an index into the proxy's vhosts).
    vhost: Option<usize>,
    /// The mark its packets carry (a `mark =` rule changes it).
    set_mark: u32,
    /// The mark is in `whitelist_mark`: frang does not apply.
    white: bool,
    /// What the cache remembers of the request in flight.
    cache: ReqCtx,
    /// The stored object being filled from the response in flight.
    fill: Option<KBox<Fill>>,
    /// The response in flight is chunked and this client speaks HTTP/1.0: it gets the chunk
    /// data only, and the close ends it (`http::dechunked`).
    dechunk: Option<wire::Dechunk>,
    /// The cached response being sent.
    hit: Option<Sending>,
    /// The entry sent to the client in place of the upstream's response when that ends: the
    /// one a 304 renewed, or a stale one that answers an upstream error (`cache_use_stale`).
    reval_hit: Option<(Arc<Obj>, crate::cache::Entry)>,
    /// The response in flight will not be stored: release the requests collapsed on it.
    release_waiters: bool,
    /// The current request is forwarded as a WebSocket upgrade: a 101 opens a tunnel.
    upgrade: bool,
    /// Bytes this connection is charged in the `client_mem` table (see [`Proxy::mem_ok`]).
    charged: u64,
    /// Its client was at or above the `client_mem` soft limit when last settled (kept so
    /// that a read does not hash the address again).
    mem_over: bool,
    /// Reading stopped: the client is above the `client_mem` soft limit.
    mem_paused: bool,
    /// The current response was counted in `health_stat`.
    stat_done: bool,
}

/// Most requests waiting for one URI; more are forwarded.
const MAX_WAITERS: usize = 1024;

/// A request others wait for (see [`CState::Parked`]).
struct Pending {
    owner: Id,
    waiters: KVec<Id>,
}

/// A cached body on its way to a client: it holds the object, so eviction meanwhile frees
/// nothing it still reads.
struct Sending {
    obj: Arc<Obj>,
    off: usize,
    close: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UState {
    /// No socket; reconnect at `retry_at`.
    Down,
    Connecting,
    Idle,
    Busy,
    /// Out of its pool, one end of a WebSocket tunnel (its client's [`CState::Tunnel`]).
    Tunnel,
}

struct Upstream {
    group: usize,
    server: usize,
    reader: Reader,
    st: UState,
    client: Option<Id>,
    fails: u32,
    retry_at: u64,
    /// A tunnel end that read its peer's close or failed: it closes once what it received
    /// is passed on.
    ended: bool,
    /// Requests sent after `client`'s, whose responses follow its response.
    pipe: Pipe,
    /// `client`'s request lets others be pipelined behind it.
    pipelinable: bool,
    /// The request in flight is a health probe (see [`health`]).
    probe: Option<health::Probe>,
    /// Retired by a reload while busy: closed at this time (ms) if still busy
    /// (`grace_shutdown_time`; 0: when its exchange ends).
    grace_until: u64,
}

enum Role {
    Client(Client),
    Upstream(Upstream),
}

struct Conn {
    sock: Option<Sock>,
    /// Received, not yet forwarded; its first byte is at stream offset `rx_base`.
    rx: Buf,
    rx_base: u64,
    /// To send.
    tx: Buf,
    role: Role,
    last_ms: u64,
    /// The last read stopped because `rx` was full: the socket may hold more, and no event
    /// comes for it until more arrives.
    rx_stalled: bool,
    /// The last read found no memory for the receive buffer in a task (where allocations
    /// may sleep, so memory is really short): the tick reads again, not an event at once,
    /// which would spin the work item for as long as memory stays short.
    rx_retry: bool,
    /// A body spliced into this connection's socket stopped because it was full: its
    /// feeder reads on once this connection's queue drains (see `splice`).
    splice_waiting: bool,
    /// When its socket last took bytes (sent from `tx` or spliced into it): a client that
    /// takes nothing of its response for `keepalive_timeout` is reset (see `Proxy::tick`).
    sent_ms: u64,
}

impl Upstream {
    /// A pool connection of server `si` of group `gi`, down, to connect at `now`.
    fn new(gi: usize, si: usize, now: u64) -> Self {
        Upstream {
            group: gi,
            server: si,
            reader: Reader::responses(Limits::NONE),
            st: UState::Down,
            client: None,
            fails: 0,
            retry_at: now,
            ended: false,
            pipe: Pipe::new(),
            pipelinable: false,
            probe: None,
            grace_until: 0,
        }
    }
}

impl Client {
    /// The peer's address as text (the firewall's log and the access log name it so).
    fn peer(&self) -> &[u8] {
        self.peer.get(..self.peer_len).unwrap_or(b"?")
    }

    /// A read of this client's socket gave data at `now`: a piece of the head being read, or
    /// of the body. Reads while a response is awaited (a pipelined next request) count for
    /// neither: the next head's clock starts when it can be parsed, not while it waits.
    fn count_read(&mut self, now: u64) {
        match self.st {
            CState::Idle => {
                if self.head.chunks == 0 {
                    self.head_ms = now;
                }
                self.head.chunks = self.head.chunks.saturating_add(1);
            }
            CState::Queued | CState::Forwarding if !self.req_done => {
                self.body.chunks = self.body.chunks.saturating_add(1);
                self.body.ms = now.saturating_sub(self.body_ms);
                self.body_ms = now;
            }
            _ => {}
        }
    }

    /// The firewall's timeouts at `now` (`client_header_timeout`, `client_body_timeout`):
    /// a head that is not complete, a body that stopped. `pending`: received bytes not yet
    /// processed (the client is not silent; the proxy is waiting for the upstream).
    fn timeouts(&self, fw: &mut Firewall, now: u64, pending: bool) -> firewall::Verdict {
        let peer = self.peer();
        if self.white {
            return firewall::Verdict::Pass;
        }
        match self.st {
            CState::Idle if self.head.chunks > 0 => {
                let p = Progress {
                    chunks: self.head.chunks,
                    ms: now.saturating_sub(self.head_ms),
                };
                fw.head_progress(&self.addr, peer, p)
            }
            CState::Queued | CState::Forwarding if !self.req_done && !pending => {
                let p = Progress {
                    chunks: self.body.chunks,
                    ms: now.saturating_sub(self.body_ms),
                };
                fw.body(&self.addr, peer, self.body_in, p, self.vhost)
            }
            _ => firewall::Verdict::Pass,
        }
    }
}

impl Conn {
    /// Drops the received bytes before stream offset `keep`.
    fn consume_to(&mut self, keep: u64) {
        let n = keep.saturating_sub(self.rx_base);
        let n = usize::try_from(n).unwrap_or(usize::MAX).min(self.rx.len());
        self.rx.consume(n);
        self.rx_base = self.rx_base.saturating_add(n as u64);
    }

    /// [`send_queued`] for this connection, noting progress in `sent_ms` (the slow-reader
    /// clock).
    fn send_tx(&mut self, more: bool) -> core::result::Result<bool, ()> {
        let before = self.tx.len();
        let r = send_queued(self.sock.as_ref(), &mut self.tx, more);
        if self.tx.len() < before {
            self.sent_ms = now_ms();
        }
        r
    }
}

/// Sends what `tx` holds, as much as `sock` takes (`more`: data follows at once, so TCP may
/// hold a short tail for it). Ok(true) when the queue is empty; Err if the connection failed.
/// Without a socket there is nothing to send to: Ok(true).
fn send_queued(sock: Option<&Sock>, tx: &mut Buf, more: bool) -> core::result::Result<bool, ()> {
    let Some(sock) = sock else {
        return Ok(true);
    };
    while !tx.is_empty() {
        let sent = match more {
            true => sock.send_more(tx.data()),
            false => sock.send(tx.data()),
        };
        match sent {
            Ok(0) => return Ok(false),
            Ok(n) => tx.consume(n),
            Err(_) => return Err(()),
        }
    }
    Ok(true)
}

struct Slot {
    gen: u32,
    conn: Option<KBox<Conn>>,
}

pub(crate) struct Proxy {
    slots: KVec<Slot>,
    free: KVec<u32>,
    groups: KVec<Group>,
    default_group: Option<usize>,
    /// The vhost requests go to without HTTP tables (an index into `vhosts`).
    default_vhost: Option<usize>,
    keepalive_ms: u64,
    /// `client_ws_timeout`.
    ws_ms: u64,
    /// The parser's limits on requests (`http_max_header_list_size`).
    req_limits: Limits,
    via: KVec<u8>,
    /// The default vhost's name, for the access log.
    vhost: KVec<u8>,
    log_to: LogTo,
    /// Response times of all servers.
    apm: KBox<Window>,
    /// When the servers' response time summaries were last published.
    apm_published_ms: u64,
    /// `frang_limits`, when configured.
    fw: Option<KBox<Firewall>>,
    block: config::BlockActions,
    /// The HTTP tables and the vhosts they route to.
    tables: Option<Arc<Tables>>,
    vhosts: KVec<Vhost>,
    /// `whitelist_mark`.
    whitelist: KVec<u32>,
    /// When an HTTP tables block was last logged (one line a second at most).
    block_logged_ms: u64,
    /// The web cache; `None` with `cache 0`.
    cache: Option<KBox<Cache>>,
    /// Requests on their way upstream that others for the same URI wait for.
    collapsing: KVec<Pending>,
    /// Upstream connections to open, wanted in softirq (see [`Proxy::connect`]).
    deferred: KVec<Id>,
    pub(crate) stats: Stats,
    /// `server_failover_http`.
    failover: KVec<sched::health::Rule>,
    /// `grace_shutdown_time`, ms.
    grace_ms: u64,
    /// `client_mem`, and the bytes held for each client address.
    client_mem: config::ClientMem,
    mem: MemTable<KVVec<MemSlot>>,
    /// When a `client_mem` refusal was last logged (one line a second at most).
    mem_logged_ms: u64,
    /// `response_body`: the bodies of the error responses the proxy makes.
    pages: Option<Arc<ErrPages>>,
    /// `http_*_brange`.
    alphabets: filter::brange::Alphabets,
    /// `health_stat`: responses to clients by status.
    hstat: sched::health::StatCounts,
    /// `health_stat_server`: the statuses each server's file counts.
    srv_codes: config::health::StatCodes,
}

/// A vhost or a location of one (see [`crate::cfgfile::VhostCfg`]): its name (the tables route
/// by it, the access log shows it), group and locations.
struct Vhost {
    name: KVec<u8>,
    group: Option<usize>,
    /// The `backup=` group, used while no server of `group` is up.
    backup: Option<usize>,
    /// `(op, arg, index into the proxy's vhosts)`, in match order.
    locations: KVec<(MatchOp, KVec<u8>, usize)>,
    /// `req_hdr_*` and `resp_hdr_*`.
    req_mods: ModsCfg,
    resp_mods: ModsCfg,
    /// `nonidempotent`.
    nonidempotent: KVec<NipCfg>,
}

/// The header changes of vhost (or location) `vi`: `resp_hdr_*` if `resp`, else `req_hdr_*`.
fn mods_of(vhosts: &[Vhost], vi: Option<usize>, resp: bool) -> http::HdrMods<'_> {
    match vi.and_then(|i| vhosts.get(i)) {
        Some(v) => {
            let m = if resp { &v.resp_mods } else { &v.req_mods };
            http::HdrMods {
                drop: &m.drop,
                add: &m.add,
            }
        }
        None => http::HdrMods::default(),
    }
}

/// Where access log lines go.
#[derive(Clone, Copy, Default)]
struct LogTo {
    dmesg: bool,
    stream: bool,
}

impl LogTo {
    fn of(cfg: &Config) -> Self {
        LogTo {
            dmesg: cfg.access_log.dmesg,
            stream: cfg.access_log.stream,
        }
    }

    fn on(self) -> bool {
        self.dmesg || self.stream
    }

    /// Completes the access log line `pending` and writes it.
    fn write(self, pending: &[u8], status: u16, body: u64, upstream_ms: Option<u64>) {
        if pending.is_empty() || !self.on() {
            return;
        }
        let mut line = [0u8; alog::LINE_MAX];
        let mut out = ArrayOut {
            buf: &mut line,
            len: 0,
        };
        if alog::finish(&mut out, pending, status, body, upstream_ms).is_err() {
            return;
        }
        let text = out.buf.get(..out.len).unwrap_or(&[]);
        if self.dmesg {
            // Always ASCII: `alog` escapes everything else.
            if let Ok(t) = core::str::from_utf8(text) {
                pr_info!("{}\n", t);
            }
        }
        if self.stream {
            // SAFETY: `text` is valid for its length; the ring copies it under its lock.
            unsafe { crate::sys::tfw_glue_alog_write(text.as_ptr().cast(), text.len()) };
        }
    }
}

/// An `http::Out` into a fixed array.
struct ArrayOut<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl http::Out for ArrayOut<'_> {
    fn put(&mut self, bytes: &[u8]) -> core::result::Result<(), http::Overflow> {
        let end = self.len.checked_add(bytes.len()).ok_or(http::Overflow)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(http::Overflow)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

/// An `http::Out` into a vector whose capacity it never exceeds (no allocation).
struct VecOut<'a>(&'a mut KVec<u8>);

impl http::Out for VecOut<'_> {
    fn put(&mut self, bytes: &[u8]) -> core::result::Result<(), http::Overflow> {
        let room = self.0.capacity().saturating_sub(self.0.len());
        if bytes.len() > room {
            return Err(http::Overflow);
        }
        self.0
            .extend_from_slice(bytes, GFP_ATOMIC)
            .map_err(|_| http::Overflow)
    }
}

/// Now as an IMF-fixdate, for the `Date` of responses the proxy generates.
fn http_date() -> [u8; crate::cache::date::DATE_LEN] {
    let mut d = [0u8; crate::cache::date::DATE_LEN];
    crate::cache::date::format_http_date(cached::now_s(), &mut d);
    d
}

/// The parser's limits on requests under `cfg`: the defaults with `http_max_header_list_size`.
fn req_limits(cfg: &Config) -> Limits {
    Limits {
        header_list_size: cfg.header_list_size,
        ..Limits::DEFAULT
    }
}

/// The groups and servers of `cfg`, without connections.
fn build_vhosts(cfg: &Config) -> Result<KVec<Vhost>> {
    let mut out = KVec::with_capacity(cfg.vhosts.len(), gfp())?;
    for v in cfg.vhosts.iter() {
        let name = crate::buf::copy(&v.name)?;
        let mut locations = KVec::with_capacity(v.locations.len(), gfp())?;
        for l in v.locations.iter() {
            locations.push((l.op, crate::buf::copy(&l.arg)?, l.scope), gfp())?;
        }
        out.push(
            Vhost {
                name,
                group: v.group,
                backup: v.backup,
                locations,
                req_mods: v.req_mods.copy()?,
                resp_mods: v.resp_mods.copy()?,
                nonidempotent: {
                    let mut n = KVec::with_capacity(v.nonidempotent.len(), gfp())?;
                    for l in v.nonidempotent.iter() {
                        n.push(l.copy()?, gfp())?;
                    }
                    n
                },
            },
            gfp(),
        )?;
    }
    Ok(out)
}

/// A response-time window on the heap, built there: `KBox::new(Window::new())` would put
/// its 2.6 KiB on the stack first, on top of the configuration path's frames (the kernel
/// stack is 16 KiB).
fn new_window() -> Result<KBox<Window>> {
    let mut w: KBox<Window> = KBox::init(kernel::init::zeroed(), gfp())?;
    w.clear();
    Ok(w)
}

// SAFETY: `Window` is arrays of integers and integers: all-zero bytes are a valid value of it
// (`clear` then makes it an empty window). (Kernel build only: on the host both types are
// foreign to this crate, and the stand-in `KBox::init` relies on this build's check.)
#[cfg(tfw_kernel)]
unsafe impl kernel::init::Zeroable for Window {}
// SAFETY: as `Window`; all-zero bytes are exactly `History::new()`.
#[cfg(tfw_kernel)]
unsafe impl kernel::init::Zeroable for sched::dynamic::History {}

fn build_groups(cfg: &Config) -> Result<KVec<Group>> {
    let mut groups = KVec::new();
    for g in cfg.groups.iter() {
        let mut grp = Group {
            name: KVec::new(),
            servers: KVec::new(),
            sched: KVec::new(),
            wait: KVec::new(),
            wait_head: 0,
            queue_size: match g.queue_size {
                0 => usize::MAX,
                n => n as usize,
            },
            forward_timeout_ms: match g.forward_timeout {
                0 => u64::MAX,
                n => u64::from(n).saturating_mul(1000),
            },
            forward_retries: g.forward_retries,
            retry_nonidempotent: g.retry_nonidempotent,
            hash: g.hash,
            health: g.health.as_ref().map(health::GroupHealth::of).transpose()?,
            dynamic: g.dynamic.map(Dynamic::of),
        };
        grp.name.extend_from_slice(&g.name, gfp())?;
        let now = now_ms();
        for s in g.servers.iter() {
            grp.servers.push(
                Server {
                    addr: s.addr,
                    hash_id: match s.addr.ip() {
                        core::net::IpAddr::V4(a) => sched::server_id(&a.octets(), s.addr.port()),
                        core::net::IpAddr::V6(a) => sched::server_id(&a.octets(), s.addr.port()),
                    },
                    conns: KVec::new(),
                    stat: SrvStat(core::ptr::null_mut()),
                    apm: new_window()?,
                    health: health::server_health(grp.health.as_deref(), cfg.failover.len(), now)?,
                    history: match g.dynamic.and_then(|d| d.predict) {
                        Some(_) => Some(KBox::init(kernel::init::zeroed(), gfp())?),
                        None => None,
                    },
                },
                gfp(),
            )?;
            grp.sched.push(sched::Slot::new(s.weight), gfp())?;
        }
        groups.push(grp, gfp())?;
    }
    Ok(groups)
}

/// `sched ratio dynamic|predict` of a group, its statistic resolved once.
#[derive(Clone, Copy)]
struct Dynamic {
    stat: sched::dynamic::RttStat,
    predict: Option<config::upstream::Predict>,
}

impl Dynamic {
    fn of(d: config::upstream::Dynamic) -> Self {
        use config::upstream::RttStat as C;
        use sched::dynamic::RttStat as S;
        let stat = match d.stat {
            C::Minimum => S::Min,
            C::Maximum => S::Max,
            C::Average => S::Avg,
            C::Percentile(p) => S::Pct(
                sched::apm::PERCENTILES
                    .iter()
                    .position(|&q| q == u32::from(p))
                    .unwrap_or(2),
            ),
        };
        Dynamic {
            stat,
            predict: d.predict,
        }
    }
}

/// Once a second: publishes each server's response times over the last minute to its
/// `/proc/tempesta/servers` file and, with `sched ratio dynamic|predict`, sets the group's
/// weights from them (see [`sched::dynamic`]). One summary per server serves both.
fn publish_times(g: &mut Group, now: u64) {
    let mut rtt = [0u64; 64];
    for (r, srv) in rtt.iter_mut().zip(g.servers.iter_mut()) {
        let summary = srv.apm.summary(now);
        srv.stat.set_rt(&summary);
        let Some(d) = g.dynamic else {
            continue;
        };
        if !health::usable(srv) {
            // Suspended: not chosen anyway, and a server that answers errors fast must not
            // set the scale for the others.
            *r = u64::MAX;
            continue;
        }
        let v = d.stat.of(&summary);
        *r = match (d.predict, srv.history.as_deref_mut()) {
            (Some(p), Some(h)) => {
                // Only measured seconds: a server without responses yet has no trend.
                if v > 0 {
                    h.push(v, p.past as usize);
                }
                h.predict(p.ahead)
            }
            _ => v,
        };
    }
    if g.dynamic.is_none() {
        return;
    }
    let n = g.servers.len().min(rtt.len());
    let mut w = [0u32; 64];
    sched::dynamic::inverse_weights(rtt.get(..n).unwrap_or(&[]), &mut w);
    for (slot, &w) in g.sched.iter_mut().zip(w.iter()) {
        slot.set_weight(w);
    }
}

impl Proxy {
    /// The proxy of `cfg`: groups, their connections (connecting), nothing accepted yet.
    ///
    /// Boxed, and built out of line: the struct is kilobytes, and every copy of it in a
    /// caller's frame counts against the 16 KiB kernel stack of the sysctl write that starts
    /// the proxy (the debug kernel's KASAN stacks are twice that and hid it).
    #[inline(never)]
    pub(crate) fn new(cfg: &Config) -> Result<KBox<Self>> {
        let mut p = KBox::new(
            Proxy {
                slots: KVec::new(),
                free: KVec::new(),
                groups: KVec::new(),
                default_group: cfg.default_group,
                default_vhost: cfg.default_vhost,
                keepalive_ms: u64::from(cfg.keepalive_timeout).saturating_mul(1000),
                ws_ms: u64::from(cfg.ws_timeout).saturating_mul(1000),
                req_limits: req_limits(cfg),
                via: KVec::new(),
                vhost: KVec::new(),
                log_to: LogTo::of(cfg),
                apm: new_window()?,
                apm_published_ms: 0,
                fw: match firewall::Prepared::of(cfg)? {
                    Some(p) => Some(Firewall::new(p, cfg.block)?),
                    None => None,
                },
                block: cfg.block,
                tables: cfg.tables.clone(),
                vhosts: build_vhosts(cfg)?,
                whitelist: KVec::new(),
                block_logged_ms: 0,
                cache: match cfg.cache.mode {
                    crate::cache::config::CacheMode::Off => None,
                    _ => Some(Cache::new(cfg.cache.copy()?)?),
                },
                collapsing: KVec::new(),
                deferred: KVec::new(),
                stats: Stats::default(),
                failover: KVec::new(),
                grace_ms: u64::from(cfg.grace_shutdown).saturating_mul(1000),
                client_mem: cfg.client_mem,
                mem: MemTable::new(
                    KVVec::from_elem(MemSlot::EMPTY, MEM_SLOTS_MIN, gfp())?,
                    HashKey::new(random_key()),
                ),
                mem_logged_ms: 0,
                pages: cfg.pages.clone(),
                alphabets: cfg.alphabets,
                hstat: stat_counts(&cfg.health_stat),
                srv_codes: cfg.health_stat_server,
            },
            GFP_KERNEL,
        )?;
        p.failover.extend_from_slice(&cfg.failover, gfp())?;
        p.whitelist.extend_from_slice(&cfg.whitelist, gfp())?;
        p.via.extend_from_slice(&cfg.via, gfp())?;
        p.vhost.extend_from_slice(&cfg.vhost, gfp())?;
        let mut groups = build_groups(cfg)?;
        p.add_pools(cfg, &mut groups)?;
        p.groups = groups;
        p.connect_all();
        Ok(p)
    }

    /// Switches to the upstreams of `cfg` without dropping a client: new pools open, requests
    /// waiting for the old ones move to the new default group, idle old connections close now
    /// and busy ones after their response. On error nothing changed.
    pub(crate) fn reconfigure(&mut self, cfg: &Config) -> Result {
        let mut via = KVec::new();
        via.extend_from_slice(&cfg.via, gfp())?;
        let mut vhost = KVec::new();
        vhost.extend_from_slice(&cfg.vhost, gfp())?;
        let vhosts = build_vhosts(cfg)?;
        let mut whitelist = KVec::new();
        whitelist.extend_from_slice(&cfg.whitelist, gfp())?;
        let mut failover = KVec::new();
        failover.extend_from_slice(&cfg.failover, gfp())?;
        // A firewall newly configured gets its table now (the one step here that allocates
        // much); a running one keeps its clients' accounting.
        let limits = firewall::Prepared::of(cfg)?;
        let (new_fw, limits) = match (limits, &self.fw) {
            (Some(p), None) => (Some(Firewall::new(p, cfg.block)?), None),
            (l, _) => (None, l),
        };
        // So is an ip_block hook newly turned on.
        let new_ipb = match (&limits, &self.fw) {
            (Some(p), Some(fw)) if fw.needs_ip_block(p) => Some(firewall::IpBlock::register()?),
            _ => None,
        };
        // The cache's new settings (none with `cache 0`); a cache newly turned on gets its
        // empty store now, a running one keeps its entries.
        let mut cache_cfg = match cfg.cache.mode {
            crate::cache::config::CacheMode::Off => None,
            _ => Some(cfg.cache.copy()?),
        };
        let fresh_cache = match self.cache {
            None => cache_cfg.take().map(Cache::new).transpose()?,
            Some(_) => None,
        };
        let mut groups = build_groups(cfg)?;
        self.add_pools(cfg, &mut groups)?;

        // Nothing fails from here on.
        match (fresh_cache, cache_cfg) {
            (Some(c), _) => self.cache = Some(c),
            (None, Some(cc)) => {
                if let Some(c) = &mut self.cache {
                    c.reconfigure(cc);
                }
            }
            (None, None) => self.cache = None,
        }
        match (new_fw, limits) {
            (Some(fw), _) => self.fw = Some(fw),
            (None, Some(p)) => {
                if let Some(fw) = &mut self.fw {
                    fw.update(p, cfg.block, new_ipb);
                }
            }
            (None, None) => self.fw = None,
        }
        self.block = cfg.block;
        let mut old = core::mem::replace(&mut self.groups, groups);
        health::carry_over(&mut old, &mut self.groups);
        self.via = via;
        self.vhost = vhost;
        self.log_to = LogTo::of(cfg);
        self.default_group = cfg.default_group;
        self.default_vhost = cfg.default_vhost;
        self.tables = cfg.tables.clone();
        let old_vhosts = core::mem::replace(&mut self.vhosts, vhosts);
        self.whitelist = whitelist;
        self.failover = failover;
        self.grace_ms = u64::from(cfg.grace_shutdown).saturating_mul(1000);
        self.keepalive_ms = u64::from(cfg.keepalive_timeout).saturating_mul(1000);
        self.ws_ms = u64::from(cfg.ws_timeout).saturating_mul(1000);
        self.req_limits = req_limits(cfg);
        // Live clients keep their totals; the new limits apply from their next step.
        self.client_mem = cfg.client_mem;
        self.pages = cfg.pages.clone();
        self.alphabets = cfg.alphabets;
        // Counting starts again (as after Tempesta's reconfiguration).
        self.hstat = stat_counts(&cfg.health_stat);
        self.srv_codes = cfg.health_stat_server;
        let mut waiting: KVec<Id> = KVec::new();
        for g in old.iter() {
            for srv in g.servers.iter() {
                for &id in srv.conns.iter() {
                    self.retire(id);
                }
            }
            for &cid in g.wait.get(g.wait_head..).unwrap_or(&[]) {
                // Without memory the request times out in the queue (504) instead.
                let _ = waiting.push(cid, gfp());
            }
        }
        // A client keeps its group if the new configuration has one of that name (it was
        // routed there); else it goes to the new default group (or fails: usize::MAX).
        let new_group = |gi: usize| {
            old.get(gi)
                .and_then(|g| {
                    cfg.groups
                        .iter()
                        .position(|n| n.name.as_slice().eq_ignore_ascii_case(&g.name))
                })
                .or(self.default_group)
                .unwrap_or(usize::MAX)
        };
        for slot in self.slots.iter_mut() {
            if let Some(Conn {
                role: Role::Client(c),
                ..
            }) = slot.conn.as_deref_mut()
            {
                c.group = new_group(c.group);
                // A request in flight keeps its vhost by name (a location's, its vhost's):
                // indices shift when vhosts or locations change.
                c.vhost = c
                    .vhost
                    .and_then(|vi| old_vhosts.get(vi))
                    .and_then(|o| self.vhosts.iter().position(|v| v.name == o.name));
            }
        }
        drop(old);
        self.connect_all();
        for cid in waiting.iter() {
            self.assign(*cid);
        }
        Ok(())
    }

    /// Creates the (not yet connected) connections of `groups`' servers in the slab; on
    /// error removes what it created.
    fn add_pools(&mut self, cfg: &Config, groups: &mut KVec<Group>) -> Result {
        let now = now_ms();
        let mut r = Ok(());
        'all: for (gi, (gcfg, g)) in cfg.groups.iter().zip(groups.iter_mut()).enumerate() {
            for (si, (scfg, srv)) in gcfg.servers.iter().zip(g.servers.iter_mut()).enumerate() {
                for _ in 0..scfg.conns_n {
                    let id = match self.insert(Role::Upstream(Upstream::new(gi, si, now))) {
                        Ok(id) => id,
                        Err(e) => {
                            r = Err(e);
                            break 'all;
                        }
                    };
                    if let Err(e) = srv.conns.push(id, gfp()) {
                        self.remove(id);
                        r = Err(e.into());
                        break 'all;
                    }
                }
            }
        }
        if r.is_err() {
            for g in groups.iter() {
                for srv in g.servers.iter() {
                    for &id in srv.conns.iter() {
                        self.remove(id);
                    }
                }
            }
        }
        r
    }

    /// Starts connecting every upstream connection that is down and due.
    fn connect_all(&mut self) {
        for gi in 0..self.groups.len() {
            let n = self.groups.get(gi).map_or(0, |g| g.servers.len());
            for si in 0..n {
                let m = self.server_conns(gi, si);
                for k in 0..m {
                    let id = self
                        .groups
                        .get(gi)
                        .and_then(|g| g.servers.get(si))
                        .and_then(|s| s.conns.get(k).copied());
                    if let Some(id) = id {
                        self.connect(id);
                    }
                }
            }
        }
    }

    fn server_conns(&self, gi: usize, si: usize) -> usize {
        self.groups
            .get(gi)
            .and_then(|g| g.servers.get(si))
            .map_or(0, |s| s.conns.len())
    }

    /// An upstream connection of a replaced configuration: closed now if idle, after its
    /// exchange if busy.
    fn retire(&mut self, id: Id) {
        let grace = match self.grace_ms {
            0 => 0,
            ms => now_ms().saturating_add(ms).max(1),
        };
        let busy = match self.get(id) {
            Some(Conn {
                role: Role::Upstream(u),
                ..
            }) => {
                if u.st == UState::Busy {
                    u.group = RETIRED;
                    u.server = RETIRED;
                    u.grace_until = grace;
                }
                u.st == UState::Busy
            }
            _ => return,
        };
        if !busy {
            self.remove(id);
        }
    }

    /// Creates `/proc/tempesta/servers/GROUP/IP:PORT` for every server. Called once the proxy
    /// runs (the control path removed the previous proxy's files first).
    pub(crate) fn publish(&mut self) {
        let codes = self.srv_codes;
        for g in self.groups.iter_mut() {
            let mut name = [0u8; 64];
            let n = g.name.len().min(name.len().saturating_sub(1));
            let (Some(dst), Some(src)) = (name.get_mut(..n), g.name.get(..n)) else {
                continue;
            };
            dst.copy_from_slice(src);
            if name.contains(&b'/') {
                continue;
            }
            // SAFETY: `name` is NUL-terminated; data lock held (our caller's context).
            let dir = unsafe { crate::sys::tfw_glue_proc_group(name.as_ptr().cast()) };
            if dir.is_null() {
                continue;
            }
            for srv in g.servers.iter_mut() {
                let mut text = [0u8; 64];
                let mut w = crate::buf::SliceWriter {
                    buf: &mut text,
                    pos: 0,
                };
                let _ = core::fmt::Write::write_fmt(&mut w, format_args!("{}", srv.addr));
                // SAFETY: `dir` is the live group directory; `text` is NUL-terminated (the
                // writer keeps its last byte zero).
                let stat = unsafe { crate::sys::tfw_glue_proc_server(dir, text.as_ptr().cast()) };
                srv.stat = SrvStat(stat);
                srv.stat.add(f_conns, srv.conns.len() as i64);
                srv.stat.set_codes(&codes);
                health::publish(srv);
            }
        }
    }

    /// Forgets the server files' counters and removes the files; the proxy is being dropped.
    pub(crate) fn unpublish(&mut self) {
        for g in self.groups.iter_mut() {
            for srv in g.servers.iter_mut() {
                srv.stat = SrvStat(core::ptr::null_mut());
            }
        }
        // SAFETY: no `SrvStat` of this proxy points into the files' memory any more; control
        // mutex held.
        unsafe { crate::sys::tfw_glue_proc_servers_clear() };
    }

    fn stat(&self, gi: usize, si: usize) -> Option<&SrvStat> {
        self.groups.get(gi)?.servers.get(si).map(|s| &s.stat)
    }

    // ---- the slab ----------------------------------------------------------------------

    fn insert(&mut self, role: Role) -> Result<Id> {
        let conn = KBox::new(
            Conn {
                sock: None,
                rx: Buf::new(),
                rx_base: 0,
                rx_stalled: false,
                rx_retry: false,
                splice_waiting: false,
                sent_ms: now_ms(),
                tx: Buf::new(),
                role,
                last_ms: now_ms(),
            },
            gfp(),
        )?;
        let index = match pop(&mut self.free) {
            Some(i) => i as usize,
            None => {
                self.slots.push(Slot { gen: 0, conn: None }, gfp())?;
                self.slots.len().saturating_sub(1)
            }
        };
        let Some(slot) = self.slots.get_mut(index) else {
            return Err(ENOMEM);
        };
        slot.conn = Some(conn);
        Ok(id_of(index, slot.gen))
    }

    fn slot(&mut self, id: Id) -> Option<&mut Slot> {
        let index = (id & 0xffff_ffff) as usize;
        let gen = (id >> 32) as u32;
        self.slots.get_mut(index).filter(|s| s.gen == gen)
    }

    fn get(&mut self, id: Id) -> Option<&mut Conn> {
        conn_mut(&mut self.slots, id)
    }

    /// The upstream connection `id`, read-only.
    /// Connection `id`, if it is still the one with that id (read-only).
    fn conn_ref(&self, id: Id) -> Option<&Conn> {
        let index = (id & 0xffff_ffff) as usize;
        let gen = (id >> 32) as u32;
        self.slots
            .get(index)
            .filter(|s| s.gen == gen)?
            .conn
            .as_deref()
    }

    fn upstream(&self, id: Id) -> Option<&Upstream> {
        match self.conn_ref(id)? {
            Conn {
                role: Role::Upstream(u),
                ..
            } => Some(u),
            _ => None,
        }
    }

    /// Whether any connection of group `gi` satisfies `f`.
    /// Whether any connection of group `gi` satisfies `f` (of servers not suspended by their
    /// health monitor: the scheduler does not choose those).
    fn any_conn(&self, gi: usize, f: impl Fn(&Upstream) -> bool) -> bool {
        self.groups.get(gi).is_some_and(|g| {
            g.servers
                .iter()
                .filter(|s| health::usable(s))
                .any(|s| s.conns.iter().any(|&id| self.upstream(id).is_some_and(&f)))
        })
    }

    /// The upstream connection a client's request went to.
    fn server_of(&mut self, cid: Id) -> Option<Id> {
        match self.get(cid)? {
            Conn {
                role: Role::Client(c),
                ..
            } => c.server,
            _ => None,
        }
    }

    /// The client an upstream connection is answering.
    fn client_of(&mut self, sid: Id) -> Option<Id> {
        match self.get(sid)? {
            Conn {
                role: Role::Upstream(u),
                ..
            } => u.client,
            _ => None,
        }
    }

    /// Takes a connection out of the slab to work on it next to others; [`put`] it back.
    fn take(&mut self, id: Id) -> Option<KBox<Conn>> {
        self.slot(id).and_then(|s| s.conn.take())
    }

    fn put(&mut self, id: Id, conn: KBox<Conn>) {
        if let Some(s) = self.slot(id) {
            s.conn = Some(conn);
        }
    }

    /// Frees a slot (its connection, if still there, is dropped: socket closed).
    fn remove(&mut self, id: Id) {
        let index = (id & 0xffff_ffff) as usize;
        if let Some(s) = self.slot(id) {
            s.conn = None;
            s.gen = s.gen.wrapping_add(1);
            // Without room the slot is leaked until the proxy is dropped, never reused.
            let _ = self.free.push(index as u32, gfp());
        }
    }

    // ---- events ------------------------------------------------------------------------

    /// Handles the events of connection `id` (bits of `TFW_EV_*`).
    pub(crate) fn event(&mut self, id: Id, _events: u64) {
        let is_client = match self.get(id) {
            Some(c) => matches!(c.role, Role::Client(_)),
            None => return,
        };
        if is_client {
            self.client_event(id);
        } else {
            self.upstream_event(id);
        }
    }

    /// Accepts every pending connection on a listener.
    pub(crate) fn accept(&mut self, listener: &Sock) {
        while let Some(mut sock) = listener.accept() {
            if self.stats.clients_open as usize >= MAX_CLIENTS {
                self.stats.clients_refused = self.stats.clients_refused.saturating_add(1);
                sock.abort_on_close();
                continue;
            }
            sock.set_nodelay();
            let mut peer = [0u8; 64];
            let peer_len = sock.peer(&mut peer).len();
            let addr = sock.peer_addr();
            let port = sock.local_port();
            let mark = sock.mark();
            let white = filter::whitelisted(&self.whitelist, mark);
            let mut counted = false;
            if let Some(fw) = &mut self.fw {
                match fw.connect(&addr, peer.get(..peer_len).unwrap_or(b"?"), white) {
                    firewall::Verdict::Pass => counted = true,
                    v => {
                        self.stats.clients_blocked = self.stats.clients_blocked.saturating_add(1);
                        if v == firewall::Verdict::Drop {
                            sock.abort_on_close();
                        }
                        continue;
                    }
                }
            }
            let client = Client {
                reader: Reader::requests(self.req_limits),
                peer,
                peer_len,
                hash_key: 0,
                st: CState::Idle,
                req: ReqInfo::default(),
                req_copy: Buf::new(),
                retriable: false,
                req_done: false,
                resp_started: false,
                tries: 0,
                group: 0,
                server: None,
                since_ms: now_ms(),
                eof: false,
                log: KVec::new(),
                status: 0,
                body_sent: 0,
                addr,
                port,
                counted,
                body_in: 0,
                shut: false,
                head: Progress::default(),
                head_ms: 0,
                body: Progress::default(),
                body_ms: 0,
                vhost: None,
                mark,
                set_mark: mark,
                white,
                cache: ReqCtx::default(),
                fill: None,
                dechunk: None,
                hit: None,
                reval_hit: None,
                release_waiters: false,
                upgrade: false,
                charged: 0,
                mem_over: false,
                mem_paused: false,
                stat_done: false,
            };
            if !self.mem_connect(&addr) {
                if counted {
                    if let Some(fw) = &mut self.fw {
                        fw.close(&addr);
                    }
                }
                sock.abort_on_close();
                continue;
            }
            let Ok(id) = self.insert(Role::Client(client)) else {
                self.mem.close(&addr, 0);
                if counted {
                    if let Some(fw) = &mut self.fw {
                        fw.close(&addr);
                    }
                }
                sock.abort_on_close();
                continue;
            };
            let watched = sock.watch(id, listener.watch_ptr());
            match (watched, self.get(id)) {
                (Ok(()), Some(c)) => {
                    c.sock = Some(sock);
                    self.stats.clients_accepted = self.stats.clients_accepted.saturating_add(1);
                    self.stats.clients_open = self.stats.clients_open.saturating_add(1);
                }
                _ => {
                    self.mem.close(&addr, 0);
                    if counted {
                        if let Some(fw) = &mut self.fw {
                            fw.close(&addr);
                        }
                    }
                    sock.abort_on_close();
                    self.remove(id);
                }
            }
        }
    }

    /// Periodic work: timeouts and reconnects.
    pub(crate) fn tick(&mut self) {
        let now = now_ms();
        if now.saturating_sub(self.apm_published_ms) >= 1000 {
            self.apm_published_ms = now;
            for g in self.groups.iter_mut() {
                publish_times(g, now);
            }
        }
        self.health_tick(now);
        for index in 0..self.slots.len() {
            let Some(slot) = self.slots.get(index) else {
                break;
            };
            let id = id_of(index, slot.gen);
            if let Some(conn) = self.get(id).filter(|c| c.rx_retry) {
                conn.rx_retry = false;
                if let Some(s) = &conn.sock {
                    s.kick();
                }
            }
            let Some(slot) = self.slots.get(index) else {
                break;
            };
            // A reader stopped above the `client_mem` soft limit reads on once its client is
            // under it (the client's other connections may have freed what held it).
            if matches!(slot.conn.as_deref(), Some(Conn { role: Role::Client(c), .. }) if c.mem_paused)
            {
                self.mem_ok(id);
            }
            let Some(conn) = self.slots.get(index).and_then(|s| s.conn.as_deref()) else {
                continue;
            };
            let v = match (&mut self.fw, &conn.role) {
                (Some(fw), Role::Client(c)) => c.timeouts(fw, now, !conn.rx.is_empty()),
                _ => firewall::Verdict::Pass,
            };
            if v != firewall::Verdict::Pass {
                let next = self.refused(v).unwrap_or(Next::Close);
                self.end_refused(id, next);
                continue;
            }
            match &conn.role {
                Role::Client(c) => {
                    let age = now.saturating_sub(c.since_ms);
                    let ft = self
                        .groups
                        .get(c.group)
                        .map_or(60_000, |g| g.forward_timeout_ms);
                    match c.st {
                        // A cached body the client stopped reading.
                        CState::Idle if c.hit.is_some() => {
                            if now.saturating_sub(conn.last_ms) > self.keepalive_ms {
                                self.close_client(id);
                            }
                        }
                        CState::Idle if !c.reader.in_message() => {
                            if now.saturating_sub(conn.last_ms) > self.keepalive_ms {
                                self.close_client(id);
                            }
                        }
                        CState::Idle => {
                            // A request head that does not complete in time.
                            if now.saturating_sub(conn.last_ms) > self.keepalive_ms {
                                self.fail_client(id, Status::BadRequest);
                            }
                        }
                        CState::Queued if age > ft => self.fail_client(id, Status::GatewayTimeout),
                        // The request it waited for takes too long: forward this one too.
                        CState::Parked if age > ft => self.wake(id),
                        CState::Forwarding if !c.resp_started && age > ft => {
                            if let Some(sid) = c.server.filter(|&s| self.client_of(s) == Some(id)) {
                                self.reset_upstream(sid, false);
                            }
                            self.fail_client(id, Status::GatewayTimeout);
                        }
                        // A response its client stopped taking: its socket took nothing
                        // for `keepalive_timeout` while more waits, here or in the socket's
                        // full send buffer (nginx's `send_timeout`).
                        // Its upstream connection waits as long, so a slow reader would pin
                        // it for good.
                        CState::Forwarding
                            if c.resp_started
                                && (!conn.tx.is_empty()
                                    || conn.splice_waiting
                                    || conn.sock.as_ref().is_some_and(|s| !s.writable()))
                                && now.saturating_sub(conn.sent_ms)
                                    > self.keepalive_ms.max(SEND_STALL_MIN_MS) =>
                        {
                            self.stats.send_timeouts = self.stats.send_timeouts.saturating_add(1);
                            self.drop_client(id);
                        }
                        // A response its upstream stopped sending while the client kept up:
                        // nothing for `server_forward_timeout` (nginx's `proxy_read_timeout`).
                        // It cannot be finished: the client is reset (a close-delimited
                        // response would otherwise look complete, or never end) and the
                        // upstream connection dropped.
                        CState::Forwarding
                            if c.resp_started
                                && conn.tx.is_empty()
                                && !conn.splice_waiting
                                && conn.sock.as_ref().is_some_and(|s| s.writable())
                                && c.server
                                    .is_some_and(|sid| self.upstream_stalled(sid, id, now, ft)) =>
                        {
                            self.stats.server_stalls = self.stats.server_stalls.saturating_add(1);
                            self.drop_client(id);
                        }
                        CState::Closing if age > CLOSE_GRACE_MS => self.close_client(id),
                        // A tunnel that carried nothing either way for `client_ws_timeout`, or
                        // (if shorter) for the close grace once the client closed its side.
                        CState::Tunnel
                            if now.saturating_sub(conn.last_ms)
                                > if c.eof {
                                    CLOSE_GRACE_MS.min(self.ws_ms)
                                } else {
                                    self.ws_ms
                                } =>
                        {
                            self.close_client(id)
                        }
                        _ => {}
                    }
                }
                Role::Upstream(u) => {
                    if u.st == UState::Busy && u.grace_until != 0 && now > u.grace_until {
                        // A connection of the previous configuration past its grace: its
                        // request is re-sent to a current server, or answered 502.
                        self.upstream_lost(id, false);
                    } else if self.probe_expired(u, now) {
                        self.reset_upstream(id, true);
                    } else if u.st == UState::Down && u.retry_at <= now {
                        self.connect(id);
                    } else if u.st == UState::Connecting
                        && now.saturating_sub(conn.last_ms) > 10_000
                    {
                        self.reset_upstream(id, true);
                    }
                }
            }
        }
    }

    // ---- clients -----------------------------------------------------------------------

    fn client_event(&mut self, id: Id) {
        if matches!(self.get(id), Some(Conn { role: Role::Client(c), .. }) if c.st == CState::Tunnel)
        {
            self.tunnel_event(id);
            return;
        }
        if !self.flush(id) {
            self.close_client(id);
            return;
        }
        let (st, tx_empty) = match self.get(id) {
            Some(Conn {
                role: Role::Client(c),
                tx,
                ..
            }) => (c.st, tx.is_empty()),
            _ => return,
        };
        if st == CState::Closing {
            if tx_empty {
                self.linger(id);
            }
            return;
        }
        // A request body goes to the upstream zero-copy where it can (see `splice`).
        if self.splice_body(id) != splice::Spliced::ReadOn {
            return;
        }
        if !self.receive(id) {
            self.close_client(id);
            return;
        }
        if !self.mem_ok(id) {
            return;
        }
        self.client_process(id);
    }

    /// Reads what the socket has, up to the receive buffer's capacity. False if the
    /// connection failed; EOF is recorded on the client.
    fn receive(&mut self, id: Id) -> bool {
        let Some(conn) = conn_mut(&mut self.slots, id) else {
            return false;
        };
        let Some(sock) = &conn.sock else { return false };
        // Above the `client_mem` soft limit a client's connections stop reading (TCP pushes
        // back), except in the middle of what is already buffered.
        if let Role::Client(c) = &mut conn.role {
            if c.mem_over && conn.rx.is_empty() {
                c.mem_paused = true;
                return true;
            }
        }
        loop {
            let full = conn.rx.len() >= RX_CAP;
            let spare = conn.rx.spare(RX_CAP);
            if spare.is_empty() {
                // Full: read on once processing makes room (`read_on`). No memory in softirq
                // (`GFP_ATOMIC`): the work item reads again, where allocations may sleep; no
                // memory there either: the tick does.
                let task = !crate::sock::atomic();
                conn.rx_stalled = full || !task;
                conn.rx_retry = !full && task;
                return true;
            }
            match sock.recv(spare) {
                Recv::Data(n) => {
                    // SAFETY: the socket wrote `n` bytes into `spare`.
                    unsafe { conn.rx.filled(n) };
                    conn.last_ms = now_ms();
                    if let Role::Client(c) = &mut conn.role {
                        c.count_read(conn.last_ms);
                    }
                    let s = &mut self.stats;
                    let counter = match conn.role {
                        Role::Client(_) => &mut s.client_rx_bytes,
                        Role::Upstream(_) => &mut s.server_rx_bytes,
                    };
                    *counter = counter.saturating_add(n as u64);
                }
                Recv::Again => return true,
                Recv::Eof => {
                    let Role::Client(c) = &mut conn.role else {
                        return false;
                    };
                    // A tunnel's close grace counts from the client's FIN.
                    let fin = !c.eof && c.st == CState::Tunnel;
                    c.eof = true;
                    if fin {
                        conn.last_ms = now_ms();
                    }
                    return true;
                }
                Recv::Err => return false,
            }
        }
    }

    /// Sends what is queued; false if the connection failed.
    fn flush(&mut self, id: Id) -> bool {
        let Some(c) = self.get(id) else { return true };
        let before = c.tx.len();
        let ok = c.send_tx(false).is_ok();
        let drained = before >= TX_HIGH && c.tx.len() < TX_HIGH;
        // A spliced body waits until the socket has room, not until any event: an event on
        // a socket that stays full (ACKs of a shut window) woke the feeder for nothing, in
        // the work item where it copies, and let a request be pipelined behind a response
        // whose client had stopped reading (see `flowing`).
        let spliced =
            c.tx.is_empty() && c.splice_waiting && c.sock.as_ref().is_none_or(|s| s.writable());
        if spliced {
            c.splice_waiting = false;
        }
        if drained || spliced {
            self.wake_feeder(id);
        }
        ok
    }

    /// `id`'s send queue fell below [`TX_HIGH`]: the reader that feeds it, stopped at that
    /// mark, goes on (a client's request body into its upstream, an upstream's response into
    /// its client). Only then: waking it on every event made the two ends wake each other
    /// for as long as an exchange lasted.
    fn wake_feeder(&mut self, id: Id) {
        let feeder = match self.get(id) {
            Some(Conn {
                role: Role::Client(c),
                ..
            }) => c.server,
            Some(Conn {
                role: Role::Upstream(u),
                ..
            }) => u.client,
            None => None,
        };
        if let Some(Conn { sock: Some(s), .. }) = feeder.and_then(|f| self.get(f)) {
            s.kick();
        }
    }

    /// Runs the client's reader as far as the exchange allows.
    fn client_process(&mut self, id: Id) {
        self.client_steps(id);
        if self.mem_ok(id) {
            self.read_on(id);
        }
    }

    /// A receive buffer that was full left bytes in the socket, and the socket does not
    /// announce them again: once processing has made room, the connection is read again.
    fn read_on(&mut self, id: Id) {
        if let Some(conn) = self.get(id) {
            if conn.rx_stalled && conn.rx.len() < RX_CAP {
                conn.rx_stalled = false;
                if let Some(s) = &conn.sock {
                    s.kick();
                }
            }
        }
    }

    // ---- client_mem ------------------------------------------------------------------

    /// Enters a new connection of `addr` in the `client_mem` table, doubling the table first
    /// when it is half full (accept runs in the work item, where allocations may sleep).
    /// False if there is no room: the connection is refused.
    fn mem_connect(&mut self, addr: &filter::Addr) -> bool {
        if self.mem.wants_room() {
            let cap = self.mem.capacity().saturating_mul(2);
            if let Ok(bigger) = KVVec::from_elem(MemSlot::EMPTY, cap, gfp()) {
                drop(self.mem.move_into(bigger));
            }
        }
        self.mem.connect(addr)
    }

    /// `client_mem` once client `id`'s buffers changed. The connection is charged with what
    /// it holds now (the bytes received and not yet passed on, the responses queued for it,
    /// the request kept for a re-send); its client's total over all of its connections past
    /// the hard limit refuses it (false); back under the soft limit, a reader that stopped
    /// reads on.
    fn mem_ok(&mut self, id: Id) -> bool {
        let cm = self.client_mem;
        let Some(conn) = conn_mut(&mut self.slots, id) else {
            return true;
        };
        let bufs = conn.rx.len().saturating_add(conn.tx.len());
        let Role::Client(c) = &mut conn.role else {
            return true;
        };
        let held = bufs.saturating_add(c.req_copy.len()) as u64;
        let total = self.mem.charge(&c.addr, c.charged, held);
        c.charged = held;
        if cm.hard != 0 && total > cm.hard {
            self.over_mem(id);
            return false;
        }
        c.mem_over = cm.soft != 0 && total >= cm.soft;
        if c.mem_paused && !c.mem_over {
            c.mem_paused = false;
            if let Some(s) = &conn.sock {
                s.kick();
            }
        }
        true
    }

    /// Client `id` took its client past the `client_mem` hard limit: counted, logged (one
    /// line a second at most, unless `nolog`) and refused as `block_action attack` says: 403
    /// then close (just the close if its response already started), or a reset.
    fn over_mem(&mut self, id: Id) {
        self.stats.mem_exceeded = self.stats.mem_exceeded.saturating_add(1);
        let now = now_ms();
        if !self.block.attack.nolog && now.saturating_sub(self.mem_logged_ms) >= 1000 {
            self.mem_logged_ms = now;
            let hard = self.client_mem.hard;
            if let Some(Conn {
                role: Role::Client(c),
                ..
            }) = self.conn_ref(id)
            {
                pr_warn!(
                    "client_mem: {} holds more than {} bytes, connection refused\n",
                    core::str::from_utf8(c.peer()).unwrap_or("?"),
                    hard
                );
            }
        }
        if self.block.attack.drop {
            self.drop_client(id);
        } else {
            self.fail_client(id, Status::Forbidden);
        }
    }

    fn client_steps(&mut self, id: Id) {
        loop {
            let Some(mut conn) = self.take(id) else {
                return;
            };
            let next = self.client_step(id, &mut conn);
            // Drop the bytes the reader no longer needs.
            if let Role::Client(c) = &conn.role {
                let keep = c.reader.keep_from();
                conn.consume_to(keep);
            }
            self.put(id, conn);
            match next {
                Next::Again => continue,
                Next::Wait => break,
                Next::Assign => {
                    self.assign(id);
                    continue;
                }
                Next::Fail(status) => {
                    self.fail_client(id, status);
                    return;
                }
                Next::Finish => {
                    if self.detach_upstream(id) {
                        self.finish_client(id, None);
                    }
                    return;
                }
                Next::Flush => {
                    if !self.flush(id) {
                        self.close_client(id);
                        return;
                    }
                    continue;
                }
                Next::Close => {
                    self.close_client(id);
                    return;
                }
                Next::Drop => {
                    self.drop_client(id);
                    return;
                }
            }
        }
        // Whatever went to the upstream's queue goes out now.
        if let Some(sid) = self.server_of(id) {
            if !self.flush(sid) {
                self.upstream_failed(sid);
            }
        }
    }

    /// One step of a client's request; the connection is out of the slab.
    fn client_step(&mut self, id: Id, conn: &mut Conn) -> Next {
        let Role::Client(c) = &mut conn.role else {
            return Next::Wait;
        };
        match c.st {
            CState::Queued | CState::Parked | CState::Closing | CState::Tunnel => {
                return Next::Wait
            }
            CState::Forwarding if c.req_done => return Next::Wait,
            CState::Idle | CState::Forwarding => {}
        }
        // A cached response still being sent comes before the next request: what is queued
        // (its head) goes out first, then the body straight from the stored pages.
        if let Some(h) = &mut c.hit {
            // (`c` borrows the role: the fields, not `Conn::send_tx`.)
            let before = conn.tx.len();
            let head = send_queued(conn.sock.as_ref(), &mut conn.tx, true);
            if conn.tx.len() < before {
                conn.sent_ms = now_ms();
            }
            match head {
                Ok(true) => {}
                Ok(false) => return Next::Wait,
                Err(()) => return Next::Close,
            }
            let Some(sock) = &conn.sock else {
                return Next::Close;
            };
            let mut sent = 0usize;
            while h.off < h.obj.body.len() {
                match h.obj.body.splice(sock, h.off) {
                    Ok(0) => break,
                    Ok(n) => {
                        h.off = h.off.saturating_add(n);
                        sent = sent.saturating_add(n);
                    }
                    Err(_) => return Next::Close,
                }
            }
            if sent > 0 {
                // Progress: a reader that stalls is closed after keepalive_timeout.
                conn.last_ms = now_ms();
                conn.sent_ms = conn.last_ms;
            }
            if h.off < h.obj.body.len() {
                return Next::Wait;
            }
            let close = h.close;
            c.body_sent = h.off as u64;
            c.hit = None;
            return self.answered(c, close);
        }
        // Room in the upstream's send queue, when forwarding.
        let mut room = usize::MAX;
        if c.st == CState::Forwarding {
            let Some(up) = c.server.and_then(|sid| self.get(sid)) else {
                return Next::Fail(Status::BadGateway);
            };
            if up.tx.len() >= TX_HIGH {
                return Next::Wait;
            }
            room = TX_HIGH.saturating_sub(up.tx.len());
        }
        let data = conn.rx.data();
        let avail = data.len().min(room.saturating_add(
            usize::try_from(c.reader.parsed().saturating_sub(conn.rx_base)).unwrap_or(0),
        ));
        let offer = data.get(..avail).unwrap_or(data);
        match c.reader.poll(offer, conn.rx_base) {
            Step::Need => {
                // A head that fills the receive buffer can never complete: refuse it rather
                // than wait for more bytes there is no room for.
                let held = conn
                    .rx_base
                    .saturating_add(conn.rx.len() as u64)
                    .saturating_sub(c.reader.keep_from());
                if c.st == CState::Idle && !c.reader.in_body() && held >= RX_CAP as u64 {
                    return Next::Fail(Status::HeaderFieldsTooLarge);
                }
                if c.st == CState::Idle {
                    if let Some(fw) = &mut self.fw {
                        let v = c.timeouts(fw, now_ms(), false);
                        if let Some(next) = self.refused(v) {
                            return next;
                        }
                    }
                }
                if c.eof {
                    if c.st == CState::Idle && !c.reader.in_message() {
                        // A response (a cached body) may still be queued: send it first.
                        return match conn.tx.is_empty() {
                            true => Next::Close,
                            false => Next::Finish,
                        };
                    }
                    if c.st == CState::Idle {
                        return Next::Fail(Status::BadRequest);
                    }
                    // EOF in the middle of a request body: the upstream has a partial request.
                    return Next::Close;
                }
                Next::Wait
            }
            Step::Head { start, end } => {
                let Some(head) = span(data, conn.rx_base, start, end) else {
                    return Next::Fail(Status::BadRequest);
                };
                c.req = c.reader.request();
                c.req_copy.clear();
                clear(&mut c.log);
                c.status = 0;
                c.body_sent = 0;
                c.stat_done = false;
                // Before any refusal below: that answers this request, not the previous one.
                c.resp_started = false;
                // The operator's alphabets (`http_*_brange`): a byte outside one is a
                // malformed request (`block_action error`).
                if !self.alphabets.is_empty() && self.alphabets.check_request(head).is_err() {
                    return match self.block.error.drop {
                        true => Next::Drop,
                        false => Next::Fail(Status::BadRequest),
                    };
                }
                // The HTTP tables first: the access log names the vhost they pick. What they
                // decide is done after the firewall's checks.
                // One scan of the head serves the tables, the firewall and a redirect.
                let facts = http::facts::scan(head);
                // Path and query: what locations, `nonidempotent` and `sched hash` look at.
                let path = crate::cache::key::target_path(facts.target);
                c.hash_key =
                    sched::request_key(facts.authority.or(facts.host).unwrap_or_default(), path);
                let tables = self.tables.clone();
                let out = tables.as_ref().map(|t| t.route(head, &facts, c.mark));
                c.vhost = match out.as_ref().map(|o| o.route) {
                    Some(Route::Vhost(name)) => self
                        .vhosts
                        .iter()
                        .position(|v| v.name.eq_ignore_ascii_case(name)),
                    Some(_) => None,
                    None => self.default_vhost,
                };
                // Then its location: from here on the request is the location's (group, frang
                // limits, cache settings).
                c.vhost = c.vhost.map(|vi| self.locate(vi, path));
                let vhost = match out.as_ref().map(|o| o.route) {
                    Some(Route::Vhost(v)) => v,
                    Some(_) => b"-",
                    None => self.vhost.as_slice(),
                };
                if self.log_to.on()
                    && (c.log.capacity() >= alog::LINE_MAX
                        || c.log.reserve(alog::LINE_MAX, gfp()).is_ok())
                {
                    let peer = c.peer.get(..c.peer_len).unwrap_or(b"-");
                    if alog::begin(&mut VecOut(&mut c.log), peer, vhost, head).is_err() {
                        clear(&mut c.log);
                    }
                }
                c.body_in = 0;
                let now = now_ms();
                let head_progress = Progress {
                    chunks: c.head.chunks,
                    ms: match c.head.chunks {
                        0 => 0,
                        _ => now.saturating_sub(c.head_ms),
                    },
                };
                // The next request's head starts with the next read; this body's clock now.
                c.head = Progress::default();
                c.body = Progress::default();
                c.body_ms = now;
                if let Some(fw) = self.fw.as_mut().filter(|_| !c.white) {
                    let cl = match c.req.body {
                        crate::parser::BodyKind::Length(n) => Some(n),
                        _ => None,
                    };
                    let peer = c.peer();
                    let (version, vi) = (c.req.version, c.vhost);
                    let at = Origin {
                        addr: &c.addr,
                        peer,
                        port: c.port,
                    };
                    let v = fw.request(at, &facts, version, cl, head_progress, vi);
                    if let Some(next) = self.refused(v) {
                        return next;
                    }
                }
                let hints = TableHints {
                    disable: out.as_ref().and_then(|o| o.cache_disable) == Some(true),
                    ttl: out.as_ref().and_then(|o| o.cache_ttl),
                };
                let group = match out {
                    None => self.vhost_group(c.vhost),
                    Some(o) => {
                        if let (Some(m), Some(sock)) = (o.mark, &conn.sock) {
                            if m != c.set_mark {
                                sock.set_mark(m);
                                c.set_mark = m;
                            }
                        }
                        match o.route {
                            Route::Vhost(_) => self.vhost_group(c.vhost),
                            Route::NoMatch => None,
                            Route::Block => {
                                match &mut self.fw {
                                    Some(fw) => fw.tables_block(&c.addr, c.peer()),
                                    None => self.log_block(c.peer()),
                                }
                                let v = match self.block.attack.drop {
                                    true => firewall::Verdict::Drop,
                                    false => firewall::Verdict::Reply,
                                };
                                return self.refused(v).unwrap_or(Next::Drop);
                            }
                            Route::Redirect { status, url } => {
                                return self.redirect(c, &mut conn.tx, &facts, status, url);
                            }
                        }
                    }
                };
                if c.req.method == crate::parser::Method::Connect && group.is_some() {
                    // Tunnels are not proxied: an upstream that accepted the CONNECT would turn
                    // its pooled connection into one. (The tables' block and redirect came
                    // first.)
                    return Next::Fail(Status::NotImplemented);
                }
                // A WebSocket upgrade goes to the upstream as one and never to the cache.
                c.upgrade = group.is_some() && http::tunnel::websocket_request(head, &c.req);
                if c.upgrade {
                    c.cache.bypass();
                }
                c.fill = None;
                if let (Some(cache), Some(_), false) = (self.cache.as_mut(), group, c.upgrade) {
                    let host = facts.authority.or(facts.host).unwrap_or_default();
                    let (m, t, vi) = (facts.method, facts.target, c.vhost);
                    match cache.request(&mut c.cache, head, m, t, host, vi, &c.addr, hints) {
                        Answer::Forward => {}
                        Answer::Status(code) => return self.cache_status(c, &mut conn.tx, code),
                        Answer::Hit {
                            obj,
                            entry,
                            not_modified,
                        } => {
                            self.stats.requests = self.stats.requests.saturating_add(1);
                            return self.serve_hit(c, &mut conn.tx, obj, &entry, not_modified);
                        }
                    }
                }
                let mods = mods_of(&self.vhosts, c.vhost, false);
                let fwd = Fwd {
                    client: c.peer.get(..c.peer_len).unwrap_or(b"unknown"),
                    via: &self.via,
                    extra: match self.cache {
                        Some(_) => c.cache.extra(),
                        None => &[],
                    },
                    mods,
                    upgrade: c.upgrade,
                    // An absolute-form target's authority replaces the client's Host, unless
                    // the operator's `req_hdr_set Host` does (one Host either way).
                    host: facts
                        .authority
                        .filter(|a| !a.is_empty() && !mods.drops(b"host")),
                };
                if http::rewrite_request(head, &c.req, &fwd, &mut c.req_copy).is_err() {
                    return Next::Fail(Status::InternalError);
                }
                c.retriable =
                    self.may_resend(c.vhost, group, facts.method, path, c.req.idempotent())
                        && c.req_copy.len() <= RETRY_MAX;
                c.req_done = false;
                c.resp_started = false;
                c.tries = 0;
                c.st = CState::Queued;
                c.since_ms = now_ms();
                self.stats.requests = self.stats.requests.saturating_add(1);
                match group {
                    Some(g) => {
                        c.group = g;
                        if c.cache.collapse {
                            match self.pending_for(&c.cache) {
                                Some(i) => {
                                    let parked = self.collapsing.get_mut(i).is_some_and(|p| {
                                        p.waiters.len() < MAX_WAITERS
                                            && p.waiters.push(id, gfp()).is_ok()
                                    });
                                    if parked {
                                        c.st = CState::Parked;
                                        return Next::Wait;
                                    }
                                }
                                None => {
                                    let p = Pending {
                                        owner: id,
                                        waiters: KVec::new(),
                                    };
                                    // Without memory the next request for the URI is simply
                                    // forwarded too.
                                    let _ = self.collapsing.push(p, gfp());
                                }
                            }
                        }
                        Next::Assign
                    }
                    None => Next::Fail(Status::NotFound),
                }
            }
            Step::Body { start, end } => {
                let Some(bytes) = span(data, conn.rx_base, start, end) else {
                    return Next::Fail(Status::BadRequest);
                };
                if c.retriable {
                    if c.req_copy.len().saturating_add(bytes.len()) <= RETRY_MAX {
                        if c.req_copy.put(bytes).is_err() {
                            c.retriable = false;
                        }
                    } else {
                        c.retriable = false;
                    }
                }
                if let Some(fw) = &mut self.fw {
                    c.body_in = c.body_in.saturating_add(bytes.len() as u64);
                    let peer = c.peer();
                    let mut v = fw.body(&c.addr, peer, c.body_in, c.body, c.vhost);
                    // A trailer that repeats a head field: refused before its bytes go out.
                    if v == Verdict::Pass && !c.white && c.reader.trailer_split() {
                        v = fw.trailer_split(&c.addr, peer, c.vhost);
                    }
                    if let Some(next) = self.refused(v) {
                        return next;
                    }
                }
                let Some(up) = c.server.and_then(|sid| self.get(sid)) else {
                    return Next::Fail(Status::BadGateway);
                };
                if up.tx.put(bytes).is_err() {
                    return Next::Fail(Status::InternalError);
                }
                Next::Again
            }
            // A redirect answered this request (which had no body) and the client stays.
            Step::End if c.st == CState::Idle => Next::Flush,
            Step::End => {
                c.req_done = true;
                if !c.retriable {
                    c.req_copy.clear();
                }
                // A request the proxy answered at its head (a hit, a redirect, a cache status)
                // is done: a pipelined next one may already be buffered, so parse on rather
                // than wait for a socket event to come by.
                match c.st {
                    CState::Idle => Next::Again,
                    _ => Next::Wait,
                }
            }
            Step::Error(_) if self.block.error.drop => Next::Drop,
            Step::Error(e) => {
                // A head refused before it was complete is a new request's (a pipelined one
                // behind a response already sent): the error answers it, whatever answered the
                // one before.
                if !c.reader.in_body() {
                    c.resp_started = false;
                }
                Next::Fail(Status::for_parse_error(&e))
            }
        }
    }

    /// Answers the request from the cache: the head (or a 304) now, the body spliced from
    /// the stored pages as the client takes it. A request with a body is answered and its
    /// connection closed, rather than the body read and thrown away.
    fn serve_hit(
        &mut self,
        c: &mut Client,
        tx: &mut Buf,
        obj: Arc<Obj>,
        entry: &crate::cache::Entry,
        not_modified: bool,
    ) -> Next {
        let close = !c.req.keep_alive || has_body(&c.req);
        let mods = mods_of(&self.vhosts, c.vhost, true);
        let reply = wire::Reply {
            age: entry.age_header(cached::now_s()),
            via: &self.via,
            close,
            keep_alive_10: c.req.version == crate::parser::Version::Http10,
            drop: mods.drop,
            add: mods.add,
        };
        if cached::hit_head(&obj, entry, not_modified, &reply, &mut BufSink(tx)).is_err() {
            return Next::Fail(Status::InternalError);
        }
        self.stats.cached = self.stats.cached.saturating_add(1);
        c.resp_started = true;
        c.status = if not_modified { 304 } else { entry.status };
        c.body_sent = 0;
        let head_only = not_modified
            || c.req.method == crate::parser::Method::Head
            || !wire::has_content(entry.status)
            || obj.body.len() == 0;
        if head_only {
            return self.answered(c, close);
        }
        c.hit = Some(Sending { obj, off: 0, close });
        Next::Again
    }

    /// A response the proxy made itself (a hit, a cache status, a redirect) is complete:
    /// the connection closes after it, or the access log gets its line and the next
    /// request is read.
    fn answered(&mut self, c: &mut Client, close: bool) -> Next {
        if close {
            return Next::Finish;
        }
        count_status(&mut self.hstat, c, c.status);
        self.log_to.write(&c.log, c.status, c.body_sent, None);
        clear(&mut c.log);
        Next::Again
    }

    /// Answers with an empty-bodied status of the cache's own: 200 for PURGE, 403 for a PURGE
    /// refused, 504 for `only-if-cached` with nothing stored.
    fn cache_status(&mut self, c: &mut Client, tx: &mut Buf, status: Status) -> Next {
        let close = !c.req.keep_alive || has_body(&c.req);
        if status
            .write_page(close, &http_date(), page(&self.pages, status, &c.req), tx)
            .is_err()
        {
            return Next::Fail(Status::InternalError);
        }
        self.stats.requests = self.stats.requests.saturating_add(1);
        c.resp_started = true;
        c.status = status.code();
        c.body_sent = 0;
        self.answered(c, close)
    }

    /// The collapsing entry whose owner fetches the URI of `ctx`.
    fn pending_for(&self, ctx: &ReqCtx) -> Option<usize> {
        self.collapsing.iter().position(|p| {
            matches!(
                self.conn_ref(p.owner),
                Some(Conn { role: Role::Client(c), .. })
                    if matches!(c.st, CState::Queued | CState::Forwarding) && c.cache.same_key(ctx)
            )
        })
    }

    /// Client `owner`'s request is answered (or failed): the requests that waited for it
    /// are looked up again, and forwarded if it left nothing they can use.
    fn release_pending(&mut self, owner: Id) {
        let Some(i) = self.collapsing.iter().position(|p| p.owner == owner) else {
            return;
        };
        let Some(p) = crate::store::swap_remove(&mut self.collapsing, i) else {
            return;
        };
        for &wid in p.waiters.iter() {
            self.wake(wid);
        }
    }

    /// A parked client goes on: answered from the cache if the response it waited for was
    /// stored (and is its variant), else forwarded.
    fn wake(&mut self, wid: Id) {
        let Some(mut conn) = self.take(wid) else {
            return;
        };
        let Conn { role, tx, .. } = &mut *conn;
        let next = match role {
            Role::Client(c) if c.st == CState::Parked => {
                let head = c.req_copy.data();
                let hit = self
                    .cache
                    .as_mut()
                    .and_then(|k| k.after_wait(&c.cache, head));
                match hit {
                    Some(Answer::Hit {
                        obj,
                        entry,
                        not_modified,
                    }) => {
                        c.st = CState::Idle;
                        c.req_copy.clear();
                        Some(self.serve_hit(c, tx, obj, &entry, not_modified))
                    }
                    _ => {
                        c.st = CState::Queued;
                        c.since_ms = now_ms();
                        Some(Next::Assign)
                    }
                }
            }
            _ => None,
        };
        self.put(wid, conn);
        self.go_on(wid, next);
    }

    /// Client `id` (in the slab again) goes on with `next`, decided outside its own step.
    fn go_on(&mut self, id: Id, next: Option<Next>) {
        match next {
            None => {}
            Some(Next::Assign) => {
                self.assign(id);
                self.client_process(id);
            }
            Some(Next::Finish) => {
                if self.detach_upstream(id) {
                    self.finish_client(id, None);
                }
            }
            Some(Next::Fail(status)) => self.fail_client(id, status),
            Some(_) => {
                if !self.flush(id) {
                    self.close_client(id);
                    return;
                }
                self.client_process(id);
            }
        }
    }

    /// The upstream renewed the stale entry client `cid` revalidated (its response is
    /// complete): the client gets the stored response.
    fn answer_revalidated(&mut self, cid: Id, obj: Arc<Obj>, entry: crate::cache::Entry) {
        let Some(mut conn) = self.take(cid) else {
            return;
        };
        let Conn { role, tx, .. } = &mut *conn;
        let next = match role {
            Role::Client(c) => {
                let closing = c.st == CState::Closing;
                c.st = CState::Idle;
                let next = self.serve_hit(c, tx, obj, &entry, false);
                if closing {
                    if let Some(h) = &mut c.hit {
                        h.close = true;
                    }
                }
                match next {
                    Next::Again if closing && c.hit.is_none() => Some(Next::Finish),
                    n => Some(n),
                }
            }
            Role::Upstream(_) => None,
        };
        self.put(cid, conn);
        self.go_on(cid, next);
    }

    /// Whether a request may be re-sent to another upstream after a failure: idempotent and
    /// not declared otherwise by `nonidempotent`, or the group has `server_retry_nonidempotent`.
    fn may_resend(
        &self,
        vi: Option<usize>,
        group: Option<usize>,
        method: &[u8],
        path: &[u8],
        idempotent: bool,
    ) -> bool {
        if group
            .and_then(|g| self.groups.get(g))
            .is_some_and(|g| g.retry_nonidempotent)
        {
            return true;
        }
        idempotent
            && !vi
                .and_then(|i| self.vhosts.get(i))
                .is_some_and(|v| v.nonidempotent.iter().any(|n| n.matches(method, path)))
    }

    /// The location of vhost `vi` that `path` (path and query) falls in (the first that
    /// matches, as Tempesta does), else `vi` itself.
    fn locate(&self, vi: usize, path: &[u8]) -> usize {
        self.vhosts
            .get(vi)
            .and_then(|v| {
                v.locations
                    .iter()
                    .find(|(op, arg, _)| op.matches(arg, path))
            })
            .map_or(vi, |&(_, _, scope)| scope)
    }

    /// The group of vhost `vi`.
    /// Its `backup=` group instead while the main one has no server up and the backup one
    /// has (Tempesta: "the main group is offline, use backup").
    fn vhost_group(&self, vi: Option<usize>) -> Option<usize> {
        let v = vi.and_then(|i| self.vhosts.get(i))?;
        let main = v.group?;
        match v.backup {
            Some(b) if !self.group_up(main) && self.group_up(b) => Some(b),
            _ => Some(main),
        }
    }

    /// Answers the request with a redirect to `url` (expanded with its `$host` and
    /// `$request_uri`). A request without a body keeps its connection; one with a body is
    /// answered and the connection closed, rather than its body read and thrown away.
    fn redirect(
        &mut self,
        c: &mut Client,
        tx: &mut Buf,
        f: &http::facts::HeadFacts<'_>,
        status: u16,
        url: &[u8],
    ) -> Next {
        let host = f.authority.or(f.host).unwrap_or_default();
        // Room for every `$` to expand to the longer of the two variables.
        let vars = url.iter().filter(|&&b| b == b'$').count();
        let len = vars
            .saturating_mul(host.len().max(f.target.len()))
            .saturating_add(url.len());
        let Ok(mut loc) = KVec::from_elem(0u8, len, gfp()) else {
            return Next::Fail(Status::InternalError);
        };
        let Ok(n) = filter::expand_redirect(url, host, f.target, &mut loc) else {
            return Next::Fail(Status::InternalError);
        };
        let close = !c.req.keep_alive || has_body(&c.req);
        let location = loc.get(..n).unwrap_or_default();
        if http::status::redirect(status, location, close, &http_date(), tx).is_err() {
            return Next::Fail(Status::InternalError);
        }
        self.stats.redirects = self.stats.redirects.saturating_add(1);
        c.resp_started = true;
        c.status = status;
        c.body_sent = 0;
        self.answered(c, close)
    }

    /// Logs an HTTP tables block without a firewall (no `frang_limits`; with one,
    /// `Firewall::tables_block` counts and logs it): one line a second at most, unless
    /// `block_action attack ... nolog`.
    fn log_block(&mut self, peer: &[u8]) {
        let now = now_ms();
        if self.block.attack.nolog || now.saturating_sub(self.block_logged_ms) < 1000 {
            return;
        }
        self.block_logged_ms = now;
        pr_warn!(
            "http_tables: request from {} blocked\n",
            core::str::from_utf8(peer).unwrap_or("?")
        );
    }

    /// The client step for a firewall verdict: `None` to go on.
    fn refused(&mut self, v: firewall::Verdict) -> Option<Next> {
        let next = match v {
            firewall::Verdict::Pass => return None,
            firewall::Verdict::Reply => Next::Fail(Status::Forbidden),
            firewall::Verdict::Drop => Next::Drop,
        };
        self.stats.filtered = self.stats.filtered.saturating_add(1);
        Some(next)
    }

    /// Ends client `id` as [`Self::refused`] decided: an error status and then a close, a
    /// reset without a response, or a plain close.
    fn end_refused(&mut self, id: Id, next: Next) {
        match next {
            Next::Fail(status) => self.fail_client(id, status),
            Next::Drop => self.drop_client(id),
            _ => self.close_client(id),
        }
    }

    /// Finds an upstream connection for a queued client and sends it the request: an idle
    /// one, else (see `pipeline`) a busy one it can go behind, unless clients of the group
    /// already wait (they come first: they are served as connections free up).
    fn assign(&mut self, cid: Id) {
        self.assign_from(cid, false);
    }

    /// [`assign`]; `ahead`: the client goes before those waiting for the group (it is the
    /// head of the wait list, which [`serve_waiting`] took off it, or a request that was in
    /// flight already and is re-sent).
    fn assign_from(&mut self, cid: Id, ahead: bool) {
        let (mut gi, method, key, vi, pipelinable) = match self.get(cid) {
            Some(Conn {
                role: Role::Client(c),
                ..
            }) if c.st == CState::Queued => (
                c.group,
                c.req.method,
                c.hash_key,
                c.vhost,
                Self::pipelinable(c),
            ),
            _ => return,
        };
        let mut sid = self.pick(gi, key);
        if sid.is_none() && pipelinable && (ahead || !self.others_wait(gi)) {
            sid = self.pick_pipelined(gi, key);
        }
        if sid.is_none() && !self.group_alive(gi) {
            // The group went down after the request chose it (a re-send, a queued request):
            // its vhost's backup group, if that is up.
            if let Some(b) = self.vhost_group(vi).filter(|&b| b != gi) {
                gi = b;
                if let Some(Conn {
                    role: Role::Client(c),
                    ..
                }) = conn_mut(&mut self.slots, cid)
                {
                    c.group = b;
                }
                sid = self.pick(gi, key);
            }
        }
        let Some(sid) = sid else {
            // Nothing idle: wait, unless no upstream of the group is even connecting.
            if !self.group_alive(gi) {
                self.fail_client(cid, Status::BadGateway);
                return;
            }
            let Some(g) = self.groups.get_mut(gi) else {
                return;
            };
            let queued = g.wait.len().saturating_sub(g.wait_head);
            if queued >= g.queue_size || g.wait.push(cid, gfp()).is_err() {
                self.fail_client(cid, Status::Unavailable);
            }
            return;
        };
        let Some(mut conn) = self.take(cid) else {
            return;
        };
        let mut ok = false;
        if let (Role::Client(c), Some(up)) = (&mut conn.role, conn_mut(&mut self.slots, sid)) {
            // Behind the request a busy connection has (see `pipeline`), or as its only one.
            let (busy, room) = match &up.role {
                Role::Upstream(u) => (u.st == UState::Busy, u.pipe.has_room()),
                Role::Client(_) => (false, false),
            };
            if (room || !busy) && up.tx.put(c.req_copy.data()).is_ok() {
                if let Role::Upstream(u) = &mut up.role {
                    if busy {
                        // Cannot fail: there is room.
                        let _ = u.pipe.push(cid, method);
                        self.stats.pipelined = self.stats.pipelined.saturating_add(1);
                    } else {
                        u.st = UState::Busy;
                        u.client = Some(cid);
                        u.reader.expect_response_to(method);
                        u.pipelinable = pipelinable;
                    }
                    health::client_request(&mut self.groups, u.group, u.server, c.req_copy.data());
                    let srv = self
                        .groups
                        .get_mut(u.group)
                        .and_then(|g| g.servers.get_mut(u.server));
                    if let Some(s) = srv {
                        s.stat.add(f_forwarded, 1);
                    }
                    self.stats.forwarded = self.stats.forwarded.saturating_add(1);
                }
                c.st = CState::Forwarding;
                c.server = Some(sid);
                c.since_ms = now_ms();
                if !c.retriable {
                    // The copy is only the head; the body follows from the receive buffer.
                    c.req_copy.clear();
                }
                ok = true;
            }
        }
        self.put(cid, conn);
        if !ok {
            self.fail_client(cid, Status::InternalError);
            return;
        }
        if !self.flush(sid) {
            self.upstream_failed(sid);
        }
    }

    /// An idle connection of group `gi`, chosen by the scheduler among servers that have one
    /// (`sched hash`: the one that ranks highest for `key` among them; so a URI's requests stay
    /// on one server while it has an idle connection).
    fn pick(&mut self, gi: usize, key: u64) -> Option<Id> {
        self.pick_by(gi, key, |_, u| u.st == UState::Idle)
    }

    /// A connection of group `gi` that is `usable`: of the server the scheduler picks among
    /// those that have one, the one with the fewest requests queued behind its current one.
    fn pick_by(&mut self, gi: usize, key: u64, usable: fn(&Self, &Upstream) -> bool) -> Option<Id> {
        let mut ok = [false; 64];
        let g = self.groups.get(gi)?;
        for (flag, s) in ok.iter_mut().zip(g.servers.iter()) {
            *flag = health::usable(s)
                && s.conns
                    .iter()
                    .any(|&id| self.upstream(id).is_some_and(|u| usable(self, u)));
        }
        let g = self.groups.get_mut(gi)?;
        let eligible = |i: usize| ok.get(i).copied().unwrap_or(false);
        let si = if g.hash {
            let servers = &g.servers;
            let id = |i: usize| servers.get(i).map_or(0, |s| s.hash_id);
            sched::pick_hash(key, servers.len(), id, eligible)?
        } else {
            sched::pick(&mut g.sched, eligible)?
        };
        let g = self.groups.get(gi)?;
        g.servers
            .get(si)?
            .conns
            .iter()
            .filter_map(|&id| Some((id, self.upstream(id).filter(|u| usable(self, u))?)))
            .min_by_key(|(_, u)| u.pipe.len())
            .map(|(id, _)| id)
    }

    /// Whether a request for group `gi` can expect a connection: some connection is up or
    /// connecting, or has not failed yet.
    fn group_alive(&self, gi: usize) -> bool {
        self.any_conn(gi, |u| u.st != UState::Down || u.fails == 0)
    }

    /// Whether group `gi` has an established connection (idle or busy).
    fn group_up(&self, gi: usize) -> bool {
        self.any_conn(gi, |u| matches!(u.st, UState::Idle | UState::Busy))
    }

    /// Serves the clients waiting in group `gi` while it has idle connections.
    fn serve_waiting(&mut self, gi: usize) {
        loop {
            let Some(g) = self.groups.get_mut(gi) else {
                return;
            };
            let Some(&cid) = g.wait.get(g.wait_head) else {
                // Empty: reset the queue's storage.
                // SAFETY: shrinking a vector of `Copy` ids to zero.
                unsafe { g.wait.set_len(0) };
                g.wait_head = 0;
                return;
            };
            let queued = self.queued(cid);
            if queued && !self.can_take(gi, cid) {
                return;
            }
            if let Some(g) = self.groups.get_mut(gi) {
                g.wait_head = g.wait_head.saturating_add(1);
            }
            if queued {
                self.assign_from(cid, true);
                self.client_process(cid);
            }
        }
    }

    /// Ends client `id`'s exchange with its upstream connection, which is reset: in the
    /// middle of an exchange it cannot be reused. False if `id` is no client.
    fn detach_upstream(&mut self, id: Id) -> bool {
        self.release_pending(id);
        let server = match self.get(id) {
            Some(Conn {
                role: Role::Client(c),
                ..
            }) => {
                c.fill = None;
                c.hit = None;
                c.server.take()
            }
            _ => return false,
        };
        if let Some(sid) = server.filter(|&sid| self.client_of(sid) == Some(id)) {
            self.reset_upstream(sid, false);
        }
        true
    }

    /// Answers the client with an error status and closes its connection after it.
    fn fail_client(&mut self, id: Id, status: Status) {
        if self.serve_stale(id, status) {
            return;
        }
        if !self.detach_upstream(id) {
            return;
        }
        let s = &mut self.stats;
        match status {
            // Requests the parser refused, whatever status their refusal has.
            Status::BadRequest
            | Status::UriTooLong
            | Status::HeaderFieldsTooLarge
            | Status::ContentTooLarge
            | Status::VersionNotSupported => s.errors_400 = s.errors_400.saturating_add(1),
            Status::BadGateway => s.errors_502 = s.errors_502.saturating_add(1),
            Status::Unavailable => s.errors_503 = s.errors_503.saturating_add(1),
            Status::GatewayTimeout => s.errors_504 = s.errors_504.saturating_add(1),
            // The firewall's and `client_mem`'s refusals: counted where they are decided
            // (`Client messages filtered out`, `Client memory limit exceeded`), not as errors.
            Status::Forbidden => {}
            _ => s.errors_other = s.errors_other.saturating_add(1),
        }
        self.finish_client(id, Some(status));
    }

    /// Answers the client with the stale entry its request found instead of error `status`
    /// (an upstream that failed or timed out), if `cache_use_stale` or the entry's
    /// `stale-if-error` allows; false if the client gets the error.
    fn serve_stale(&mut self, id: Id, status: Status) -> bool {
        if !matches!(
            status,
            Status::BadGateway | Status::Unavailable | Status::GatewayTimeout
        ) {
            return false;
        }
        let Some(cache) = self.cache.as_mut() else {
            return false;
        };
        // Not before the request is complete (its body would be left unread), unless it
        // has none: a request is assigned, and may fail, at its head.
        let stale = match conn_mut(&mut self.slots, id) {
            Some(Conn {
                role: Role::Client(c),
                ..
            }) if (c.req_done || !has_body(&c.req))
                && !c.resp_started
                && matches!(c.st, CState::Queued | CState::Forwarding) =>
            {
                // An entry already chosen over the upstream's error (whose connection then
                // failed or timed out), else one the proxy's own error allows.
                c.reval_hit
                    .take()
                    .or_else(|| cache.stale_for(&mut c.cache, status.code()))
            }
            _ => None,
        };
        let Some((obj, entry)) = stale else {
            return false;
        };
        if !self.detach_upstream(id) {
            return false;
        }
        self.answer_revalidated(id, obj, entry);
        true
    }

    /// Ends the client's connection after its last response: `status`, unless a response
    /// already started (then the access log gets that one).
    fn finish_client(&mut self, id: Id, status: Option<Status>) {
        let log_to = self.log_to;
        let Some(conn) = conn_mut(&mut self.slots, id) else {
            return;
        };
        let Role::Client(c) = &mut conn.role else {
            return;
        };
        if let (false, Some(status)) = (c.resp_started, status) {
            let body = page(&self.pages, status, &c.req);
            let _ = status.write_page(true, &http_date(), body, &mut conn.tx);
            count_status(&mut self.hstat, c, status.code());
            log_to.write(&c.log, status.code(), 0, None);
        } else {
            // The response broke off: its status went out, with this much of its body.
            count_status(&mut self.hstat, c, c.status);
            log_to.write(&c.log, c.status, c.body_sent, None);
        }
        clear(&mut c.log);
        c.st = CState::Closing;
        c.since_ms = now_ms();
        self.drain(id);
    }

    /// Sends what is queued for closing client `id`; lingers once it is all out.
    fn drain(&mut self, id: Id) {
        if !self.flush(id) {
            self.close_client(id);
            return;
        }
        if matches!(self.get(id), Some(c) if c.tx.is_empty()) {
            self.linger(id);
        }
    }

    /// The last response is out: half-close, then read and discard until the client closes
    /// or `CLOSE_GRACE_MS` pass. Closing with unread input would send a reset, and a reset can
    /// destroy the response still in flight: a pipelining client would never see the error
    /// that explains the close (RFC 9112, section 9.6).
    fn linger(&mut self, id: Id) {
        let done = {
            let Some(conn) = conn_mut(&mut self.slots, id) else {
                return;
            };
            let Role::Client(c) = &mut conn.role else {
                return;
            };
            match &conn.sock {
                None => true,
                Some(_) if c.eof => true,
                Some(sock) => {
                    if !c.shut {
                        sock.shutdown_write();
                        c.shut = true;
                        c.since_ms = now_ms();
                    }
                    loop {
                        conn.rx.clear();
                        match sock.recv(conn.rx.spare(RX_CAP)) {
                            Recv::Data(_) => continue,
                            Recv::Again => break false,
                            Recv::Eof | Recv::Err => break true,
                        }
                    }
                }
            }
        };
        if done {
            self.close_client(id);
        }
    }

    fn close_client(&mut self, id: Id) {
        if !self.detach_upstream(id) {
            return;
        }
        self.stats.clients_open = self.stats.clients_open.saturating_sub(1);
        if let Some(Conn {
            role: Role::Client(c),
            ..
        }) = conn_mut(&mut self.slots, id)
        {
            self.mem.close(&c.addr, core::mem::take(&mut c.charged));
        }
        let counted = match self.get(id) {
            Some(Conn {
                role: Role::Client(c),
                ..
            }) if c.counted => Some(c.addr),
            _ => None,
        };
        if let (Some(addr), Some(fw)) = (counted, &mut self.fw) {
            fw.close(&addr);
        }
        self.remove(id);
    }

    /// Resets a client connection without a response (`block_action ... drop`).
    fn drop_client(&mut self, id: Id) {
        if let Some(Conn { sock: Some(s), .. }) = self.get(id) {
            s.abort_on_close();
        }
        self.close_client(id);
    }

    // ---- upstreams ---------------------------------------------------------------------

    /// Opens the connections the softirq path wanted opened (work item).
    pub(crate) fn run_deferred(&mut self) {
        let ids = core::mem::take(&mut self.deferred);
        for &id in ids.iter() {
            let down = matches!(
                self.get(id),
                Some(Conn { role: Role::Upstream(u), sock: None, .. }) if u.st == UState::Down
            );
            if down {
                self.connect(id);
            }
        }
    }

    /// Opens (again) upstream connection `id`. Creating a socket sleeps: in softirq the
    /// connection stays down and the work item opens it ([`Proxy::run_deferred`]; without
    /// memory for the note, the tick does, as it does for every connection down and due).
    fn connect(&mut self, id: Id) {
        if crate::sock::atomic() {
            if let Some(Conn {
                role: Role::Upstream(u),
                ..
            }) = self.get(id)
            {
                u.st = UState::Down;
                u.retry_at = u.retry_at.min(now_ms());
            }
            if self.deferred.push(id, gfp()).is_ok() {
                crate::sock::defer();
            }
            return;
        }
        let addr = {
            let Some(Conn {
                role: Role::Upstream(u),
                ..
            }) = self.get(id)
            else {
                return;
            };
            let (g, s) = (u.group, u.server);
            match self.groups.get(g).and_then(|g| g.servers.get(s)) {
                Some(s) => s.addr,
                None => return,
            }
        };
        let sock = Sock::tcp(&addr).and_then(|mut s| {
            s.watch(id, core::ptr::null_mut())?;
            s.connect(&addr)?;
            Ok(s)
        });
        self.stats.server_connects = self.stats.server_connects.saturating_add(1);
        let Some(conn) = self.get(id) else { return };
        let Role::Upstream(u) = &mut conn.role else {
            return;
        };
        match sock {
            Ok(sock) => {
                conn.sock = Some(sock);
                conn.rx.clear();
                conn.rx_base = 0;
                conn.tx.clear();
                conn.last_ms = now_ms();
                u.reader = Reader::responses(Limits::NONE);
                u.st = UState::Connecting;
            }
            _ => {
                u.fails = u.fails.saturating_add(1);
                u.retry_at = now_ms().saturating_add(backoff(u.fails));
            }
        }
    }

    fn upstream_event(&mut self, id: Id) {
        let (st, state, gi) = match self.get(id) {
            Some(Conn {
                role: Role::Upstream(u),
                sock: Some(sock),
                ..
            }) => (u.st, sock.state(), u.group),
            _ => return,
        };
        if st == UState::Tunnel {
            self.tunnel_event(id);
            return;
        }
        if st == UState::Connecting {
            if state == TCP_SYN_SENT {
                return;
            }
            if state != TCP_ESTABLISHED {
                self.upstream_failed(id);
                return;
            }
            let mut si = None;
            if let Some(Conn {
                role: Role::Upstream(u),
                ..
            }) = self.get(id)
            {
                u.st = UState::Idle;
                u.fails = 0;
                si = Some(u.server);
            }
            self.stats.server_established = self.stats.server_established.saturating_add(1);
            if let Some(st) = si.and_then(|si| self.stat(gi, si)) {
                st.add(f_conns_up, 1);
            }
            self.serve_waiting(gi);
        }
        if !self.flush(id) {
            self.upstream_failed(id);
            return;
        }
        // A body the client takes unchanged goes to it zero-copy; what remains (the next
        // head, chunk framing, or everything outside softirq) is read and parsed.
        if self.splice_body(id) != splice::Spliced::ReadOn {
            return;
        }
        let alive = self.receive(id);
        self.upstream_process(id);
        if !alive {
            // The read that brought a 101 may have brought the upstream's close too.
            if matches!(self.get(id), Some(Conn { role: Role::Upstream(u), .. }) if u.st == UState::Tunnel)
            {
                self.tunnel_ended(id);
                return;
            }
            // EOF or error after what was received is processed.
            self.upstream_eof(id);
        }
    }

    /// Runs the upstream's response reader as far as the client's send queue allows.
    fn upstream_process(&mut self, id: Id) {
        self.upstream_steps(id);
        self.read_on(id);
    }

    fn upstream_steps(&mut self, id: Id) {
        loop {
            let Some(mut conn) = self.take(id) else {
                return;
            };
            let next = self.upstream_step(id, &mut conn);
            if let Role::Upstream(u) = &conn.role {
                let keep = u.reader.keep_from();
                conn.consume_to(keep);
            }
            let client = match &conn.role {
                Role::Upstream(u) => u.client,
                Role::Client(_) => None,
            };
            self.put(id, conn);
            if let Some(cid) = client {
                if let UNext::MemExceeded = next {
                    // Refused before any of the response went to it (the upstream
                    // connection, mid-response, is reset).
                    self.over_mem(cid);
                    return;
                }
                if !self.flush(cid) {
                    self.close_client(cid);
                } else if !self.mem_ok(cid) {
                    return;
                } else if let Some(Conn {
                    role: Role::Client(c),
                    ..
                }) = self.get(cid)
                {
                    if core::mem::take(&mut c.release_waiters) {
                        self.release_pending(cid);
                    }
                }
            }
            match next {
                UNext::Again => continue,
                UNext::Wait => return,
                UNext::Done {
                    keep_alive,
                    close_delimited,
                } => {
                    self.response_done(id, keep_alive, close_delimited);
                    // The next pipelined response may be here already.
                    if matches!(self.upstream(id), Some(u) if u.st == UState::Busy) {
                        continue;
                    }
                    return;
                }
                UNext::Broken => {
                    self.upstream_failed(id);
                    return;
                }
                UNext::Tunnel { head_end } => {
                    self.open_tunnel(id, head_end);
                    return;
                }
                // Only with a client (handled above).
                UNext::MemExceeded => return,
            }
        }
    }

    fn upstream_step(&mut self, id: Id, conn: &mut Conn) -> UNext {
        let Role::Upstream(u) = &mut conn.role else {
            return UNext::Wait;
        };
        if u.st != UState::Busy {
            // Bytes from an idle upstream are a protocol error (or a close, handled by EOF).
            return if conn.rx.is_empty() {
                UNext::Wait
            } else {
                UNext::Broken
            };
        }
        // The client this response is for, unless it gave up on it (a pipelined request's
        // client that went away: the response is read and dropped).
        let cid = u.client;
        let mut client = cid
            .and_then(|cid| conn_mut(&mut self.slots, cid))
            .filter(|cl| matches!(&cl.role, Role::Client(c) if c.server == Some(id)));
        if let Some(c) = &client {
            if c.tx.len() >= TX_HIGH {
                return UNext::Wait;
            }
        }
        let data = conn.rx.data();
        match u.reader.poll(data, conn.rx_base) {
            Step::Need => UNext::Wait,
            Step::Head { start, end } => {
                let Some(head) = span(data, conn.rx_base, start, end) else {
                    return UNext::Broken;
                };
                let resp = u.reader.response();
                // A response that only ends when the upstream closes (RFC 9112 section 6.3:
                // Transfer-Encoding without chunked, or no framing at all), with requests
                // pipelined behind it: whatever the upstream sends for those would be read as
                // this response's body and go to this client (another client's response, from
                // a broken or hostile origin). It is refused and the connection dropped; the
                // pipelined requests are sent again, on other connections.
                if !resp.interim
                    && resp.body == crate::parser::BodyKind::CloseDelimited
                    && u.pipe.len() > 0
                {
                    self.stats.server_other_errors =
                        self.stats.server_other_errors.saturating_add(1);
                    return UNext::Broken;
                }
                if !resp.interim {
                    if let Some(srv) = self
                        .groups
                        .get(u.group)
                        .and_then(|g| g.servers.get(u.server))
                    {
                        srv.stat.count_status(&self.srv_codes, resp.code);
                    }
                    health::response_status(
                        &mut self.groups,
                        &self.failover,
                        u.group,
                        u.server,
                        resp.code,
                    );
                    if let Some(p) = &mut u.probe {
                        p.status = resp.code;
                        p.chunked = resp.body == crate::parser::BodyKind::Chunked;
                    }
                }
                if let Some(cl) = client.as_deref_mut() {
                    if let Role::Client(c) = &mut cl.role {
                        // 1xx responses only go to HTTP/1.1 clients (RFC 9110 section 15.2).
                        let skip = resp.interim && c.req.version == crate::parser::Version::Http10;
                        // An error the stale entry the request found may answer instead
                        // (`cache_use_stale`, `stale-if-error`): this response is read and
                        // dropped, and the client gets the entry when it ends.
                        if resp.code >= 400 {
                            c.reval_hit = self
                                .cache
                                .as_mut()
                                .and_then(|k| k.stale_for(&mut c.cache, resp.code));
                            if c.reval_hit.is_some() {
                                return UNext::Again;
                            }
                        }
                        // A 304 that renews the stale entry this request revalidated: the
                        // client gets the stored response when this one ends.
                        if resp.code == 304 && c.cache.revalidating() {
                            c.reval_hit = self
                                .cache
                                .as_mut()
                                .and_then(|k| k.revalidated(&mut c.cache, head));
                            if c.reval_hit.is_some() {
                                return UNext::Again;
                            }
                            // The 304 answers conditions the client did not send, and does
                            // not renew the entry (other validators, or the cache was
                            // turned off meanwhile): the client cannot use it.
                            c.cache.end();
                            c.resp_started = true;
                            c.status = Status::BadGateway.code();
                            let close = !c.req.keep_alive;
                            let body = page(&self.pages, Status::BadGateway, &c.req);
                            if Status::BadGateway
                                .write_page(close, &http_date(), body, &mut cl.tx)
                                .is_err()
                            {
                                return UNext::Broken;
                            }
                            self.stats.errors_502 = self.stats.errors_502.saturating_add(1);
                            return UNext::Again;
                        }
                        // Only a WebSocket upgrade the proxy passed on may switch protocols;
                        // any other 101 breaks the exchange: 502, and no re-send (another
                        // server would answer the same).
                        let switch = resp.code == 101;
                        if switch && (!c.upgrade || !http::tunnel::websocket_response(head)) {
                            c.retriable = false;
                            return UNext::Broken;
                        }
                        // `client_mem`: what was read of the response counts before any of
                        // it is queued for the client, so that a refusal is still a 403.
                        let hard = self.client_mem.hard;
                        if hard != 0 && !skip && !switch {
                            let here = match resp.body {
                                crate::parser::BodyKind::Length(n) => {
                                    (head.len() as u64).saturating_add(n)
                                }
                                _ => data.len() as u64,
                            }
                            .min(data.len() as u64);
                            if self.mem.total(&c.addr).saturating_add(here) > hard {
                                return UNext::MemExceeded;
                            }
                        }
                        if !skip {
                            // After a 1xx the final response may still be the proxy's own
                            // (a 502 when the upstream then fails).
                            if !resp.interim {
                                c.resp_started = true;
                                c.status = resp.code;
                            }
                            let mods = mods_of(&self.vhosts, c.vhost, true);
                            if http::rewrite_response(
                                head,
                                &c.req,
                                &resp,
                                &self.via,
                                &http_date(),
                                &mods,
                                &mut cl.tx,
                            )
                            .is_err()
                            {
                                return UNext::Broken;
                            }
                            if switch {
                                return UNext::Tunnel { head_end: end };
                            }
                            c.dechunk = http::dechunked(&c.req, &resp).then(wire::Dechunk::new);
                            if c.dechunk.is_some() {
                                // The body ends with the connection.
                                c.req.keep_alive = false;
                            }
                            if let (Some(cache), false) = (self.cache.as_mut(), resp.interim) {
                                let req_head = match c.retriable {
                                    true => c.req_copy.data(),
                                    false => &[],
                                };
                                let (chunked, cl) = match resp.body {
                                    crate::parser::BodyKind::Chunked => (true, None),
                                    crate::parser::BodyKind::Length(n) => (false, Some(n)),
                                    _ => (false, None),
                                };
                                c.fill = cache
                                    .response(&c.cache, req_head, head, resp.code, chunked, cl);
                                // Nothing to wait for: the requests collapsed on this one go
                                // on now rather than after its whole body.
                                c.release_waiters = c.fill.is_none() && c.cache.collapse;
                            }
                        }
                    }
                }
                UNext::Again
            }
            Step::Body { start, end } => {
                let Some(bytes) = span(data, conn.rx_base, start, end) else {
                    return UNext::Broken;
                };
                let interim = u.reader.response().interim;
                if !interim {
                    health::probe_body(&mut u.probe, bytes);
                }
                let replaced = matches!(client.as_deref(),
                    Some(Conn { role: Role::Client(c), .. }) if c.reval_hit.is_some());
                if let Some(cl) = client.filter(|_| !replaced) {
                    if !interim {
                        let Conn { tx, role, .. } = cl;
                        let sent = match role {
                            Role::Client(Client {
                                dechunk: Some(d), ..
                            }) => d.feed(bytes, &mut BufSink(tx)).is_ok(),
                            _ => tx.put(bytes).is_ok(),
                        };
                        if !sent {
                            return UNext::Broken;
                        }
                        if let Role::Client(c) = role {
                            c.body_sent = c.body_sent.saturating_add(bytes.len() as u64);
                            if let Some(f) = &mut c.fill {
                                f.body(bytes);
                            }
                        }
                    }
                }
                UNext::Again
            }
            Step::End => {
                let r = u.reader.response();
                if r.interim {
                    return UNext::Again;
                }
                UNext::Done {
                    keep_alive: r.keep_alive,
                    close_delimited: r.body == crate::parser::BodyKind::CloseDelimited,
                }
            }
            Step::Error(_) => {
                self.stats.server_parse_errors = self.stats.server_parse_errors.saturating_add(1);
                UNext::Broken
            }
        }
    }

    /// Whether upstream connection `sid`, answering client `cid`, has received nothing for
    /// more than `ms` with nothing of its own left unread (the proxy is not what holds it up).
    fn upstream_stalled(&self, sid: Id, cid: Id, now: u64, ms: u64) -> bool {
        self.conn_ref(sid).is_some_and(|c| {
            matches!(&c.role, Role::Upstream(u) if u.client == Some(cid))
                && c.rx.is_empty()
                && !c.rx_stalled
                && now.saturating_sub(c.last_ms) > ms
        })
    }

    /// The response is complete: the client goes on or closes, the upstream is idle again.
    fn response_done(&mut self, id: Id, keep_alive: bool, close_delimited: bool) {
        self.stats.responses = self.stats.responses.saturating_add(1);
        let (gi, si, cid, probe, keep_alive) = match self.get(id) {
            Some(Conn {
                role: Role::Upstream(u),
                ..
            }) => {
                let c = u.client.take();
                let probe = u.probe.take();
                // A probe that does not keep its connection (HTTP/1.0 without keep-alive):
                // the server closes it, whatever its response says.
                let keep_alive = keep_alive && probe.is_none_or(|p| p.keep_alive);
                // The next pipelined request's response follows, if the connection stays
                // (else `reset_upstream` below sends the pipelined requests again).
                let stays = keep_alive && u.group != RETIRED;
                let next = match stays {
                    true => u.pipe.pop_front(),
                    false => None,
                };
                match next {
                    Some((next, method)) => {
                        u.client = Some(next);
                        u.reader.expect_response_to(method);
                    }
                    None => u.st = UState::Idle,
                }
                (u.group, u.server, c, probe, keep_alive)
            }
            _ => return,
        };
        if let Some(st) = self.stat(gi, si) {
            st.add(f_responses, 1);
        }
        // An upstream may answer before the request body is complete (an early error). The
        // connection then holds part of a request: it cannot be reused, and the client's rest
        // of the body has nowhere to go, so both close.
        let mut partial_request = false;
        let now = now_ms();
        let log_to = self.log_to;
        let mut took = None;
        let mut fill = None;
        let mut reval = None;
        // A client that gave up on its pipelined request has left it behind: its response is
        // done with, nothing else.
        let cid = cid.filter(|&cid| self.server_of(cid) == Some(id));
        if let Some(cid) = cid {
            if let Some(conn) = conn_mut(&mut self.slots, cid) {
                if let Role::Client(c) = &mut conn.role {
                    let ms = now.saturating_sub(c.since_ms);
                    took = Some(ms);
                    reval = c.reval_hit.take();
                    if reval.is_none() {
                        count_status(&mut self.hstat, c, c.status);
                        log_to.write(&c.log, c.status, c.body_sent, Some(ms));
                        clear(&mut c.log);
                    }
                    partial_request = !c.req_done;
                    fill = c.fill.take();
                    c.dechunk = None;
                    c.cache.end();
                    // `http_resp_code_block`: a client that collects too many of the watched
                    // statuses gets this response, then its connection closes (and, with
                    // `ip_block`, its address is blocked).
                    let refused = match self.fw.as_mut().filter(|_| !c.white) {
                        Some(fw) => {
                            fw.response(&c.addr, c.peer(), c.status, c.vhost) != Verdict::Pass
                        }
                        None => false,
                    };
                    let close =
                        !c.req.keep_alive || c.eof || close_delimited || partial_request || refused;
                    c.server = None;
                    c.req_copy.clear();
                    c.since_ms = now_ms();
                    c.st = if close { CState::Closing } else { CState::Idle };
                    conn.last_ms = now_ms();
                    // The client goes on: with a pipelined request already read, or to
                    // close. Otherwise its next bytes wake it.
                    if close || !conn.rx.is_empty() {
                        if let Some(s) = &conn.sock {
                            s.kick();
                        }
                    }
                }
            }
        }
        if let (Some(f), Some(cache)) = (fill, self.cache.as_mut()) {
            cache.publish(f);
        }
        if let Some(ms) = took {
            self.apm.record(now, ms);
            if let Some(s) = self.groups.get_mut(gi).and_then(|g| g.servers.get_mut(si)) {
                s.apm.record(now, ms);
            }
        }
        if !keep_alive || gi == RETIRED || partial_request {
            self.reset_upstream(id, false);
        } else {
            self.serve_waiting(gi);
        }
        // Clients that go on now (the revalidated one, the collapsed waiters) may be assigned
        // an upstream connection: only after this one is reset or idle for real.
        if let Some(cid) = cid {
            if let Some((obj, entry)) = reval {
                self.answer_revalidated(cid, obj, entry);
            }
            self.release_pending(cid);
        }
        if let Some(p) = probe {
            self.probe_done(gi, si, p);
        }
    }

    /// The upstream connection failed (error, reset, unexpected bytes).
    fn upstream_failed(&mut self, id: Id) {
        self.stats.server_failures = self.stats.server_failures.saturating_add(1);
        if let Some(Conn {
            role: Role::Upstream(u),
            ..
        }) = self.get(id)
        {
            let (g, s) = (u.group, u.server);
            if let Some(s) = self.groups.get_mut(g).and_then(|g| g.servers.get_mut(s)) {
                s.stat.add(f_errors, 1);
            }
        }
        self.upstream_lost(id, true);
    }

    /// The upstream closed its side: complete a close-delimited response, then reconnect.
    fn upstream_eof(&mut self, id: Id) {
        let ended = match self.get(id) {
            Some(Conn {
                role: Role::Upstream(u),
                ..
            }) => u.st == UState::Busy && u.reader.eof().is_ok() && u.reader.in_body(),
            _ => return,
        };
        if ended {
            self.upstream_process(id);
        }
        let busy = matches!(self.get(id), Some(Conn { role: Role::Upstream(u), .. }) if u.st == UState::Busy);
        // An idle connection closed by the upstream (its keep-alive timeout) is normal.
        self.upstream_lost(id, busy);
    }

    /// Closes the upstream connection; its client, if any, is retried or failed. `failure`
    /// counts towards the backoff.
    fn upstream_lost(&mut self, id: Id, failure: bool) {
        let cid = match self.get(id) {
            Some(Conn {
                role: Role::Upstream(u),
                ..
            }) => u.client.take(),
            _ => return,
        };
        self.reset_upstream(id, failure);
        // (Unless it gave up on its pipelined request.)
        let Some(cid) = cid.filter(|&cid| self.server_of(cid) == Some(id)) else {
            return;
        };
        let retry = match conn_mut(&mut self.slots, cid) {
            Some(Conn {
                role: Role::Client(c),
                ..
            }) => {
                c.server = None;
                let max = self.groups.get(c.group).map_or(0, |g| g.forward_retries);
                // A response already replaced by a stored one (a stale entry chosen over an
                // error whose body was being read) is not retried: the client gets the entry.
                let retry = !c.resp_started
                    && c.retriable
                    && c.req_done
                    && c.tries < max
                    && c.reval_hit.is_none();
                if retry {
                    c.tries = c.tries.saturating_add(1);
                    c.st = CState::Queued;
                }
                retry
            }
            _ => return,
        };
        if retry {
            self.stats.retries = self.stats.retries.saturating_add(1);
            self.assign(cid);
        } else {
            self.fail_client(cid, Status::BadGateway);
        }
    }

    /// Drops the upstream socket and schedules the reconnect; the requests pipelined behind
    /// its current one go to other connections. (The current one's client is the caller's.)
    fn reset_upstream(&mut self, id: Id, failure: bool) {
        let pipe = match self.get(id) {
            Some(Conn {
                role: Role::Upstream(u),
                ..
            }) => u.pipe.take(),
            _ => return,
        };
        self.reset_conn(id, failure);
        self.resend_pipe(id, pipe, failure);
    }

    fn reset_conn(&mut self, id: Id, failure: bool) {
        let Some(conn) = conn_mut(&mut self.slots, id) else {
            return;
        };
        let Role::Upstream(u) = &mut conn.role else {
            return;
        };
        if u.group == RETIRED {
            self.remove(id);
            return;
        }
        if matches!(u.st, UState::Idle | UState::Busy) {
            if let Some(s) = self
                .groups
                .get(u.group)
                .and_then(|g| g.servers.get(u.server))
            {
                s.stat.add(f_conns_up, -1);
            }
        }
        if let Some(sock) = conn.sock.take() {
            sock.abort_on_close();
            drop(sock);
        }
        conn.rx.clear();
        conn.tx.clear();
        u.client = None;
        u.probe = None;
        u.st = UState::Down;
        if failure {
            u.fails = u.fails.saturating_add(1);
            u.retry_at = now_ms().saturating_add(backoff(u.fails));
        } else {
            u.retry_at = now_ms();
        }
        if u.retry_at <= now_ms() {
            self.connect(id);
        }
    }

    /// Text for `/proc/tempesta/perfstat`: Tempesta FW's lines, in its order and with its
    /// names (operators' scripts parse them), then the proxy's own details.
    pub(crate) fn perfstat(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        let s = &self.stats;
        let (mut up, mut total, mut tunnels) = (0u64, 0u64, 0u64);
        for slot in self.slots.iter() {
            if let Some(Conn {
                role: Role::Upstream(u),
                ..
            }) = slot.conn.as_deref()
            {
                if u.st == UState::Tunnel {
                    tunnels = tunnels.saturating_add(1);
                    continue;
                }
                total = total.saturating_add(1);
                if matches!(u.st, UState::Idle | UState::Busy) {
                    up = up.saturating_add(1);
                }
            }
        }
        let rt = self.apm.summary(now_ms());
        writeln!(out, "Minimal response time\t\t: {}ms", rt.min)?;
        writeln!(out, "Average response time\t\t: {}ms", rt.avg)?;
        writeln!(out, "Median  response time\t\t: {}ms", rt.pct[0])?;
        writeln!(out, "Maximum response time\t\t: {}ms", rt.max)?;
        writeln!(out, "Percentiles")?;
        for (p, v) in sched::apm::PERCENTILES.iter().zip(rt.pct.iter()) {
            writeln!(out, "{:02}%:\t{}ms", p, v)?;
        }
        let errors = [s.errors_502, s.errors_503, s.errors_504, s.errors_other]
            .iter()
            .fold(0u64, |a, b| a.saturating_add(*b));
        let cs = self
            .cache
            .as_ref()
            .map(|c| c.store.stats)
            .unwrap_or_default();
        let lines: [(&str, u64); 27] = [
            (
                "Cache hits\t\t\t\t",
                cs.hits.saturating_add(cs.not_modified),
            ),
            ("Cache misses\t\t\t\t", cs.misses),
            ("Cache objects\t\t\t\t", cs.objects),
            ("Cache bytes\t\t\t\t", cs.bytes),
            ("Client messages received\t\t", s.requests),
            ("Client messages forwarded\t\t", s.forwarded),
            ("Client messages served from cache\t", s.cached),
            ("Client messages parsing errors\t\t", s.errors_400),
            ("Client messages filtered out\t\t", s.filtered),
            ("Client messages other errors\t\t", errors),
            ("Clients online\t\t\t\t", s.clients_open),
            (
                "Client connection attempts\t\t",
                s.clients_accepted.saturating_add(s.clients_refused),
            ),
            ("Client established connections\t\t", s.clients_accepted),
            ("Client connections active\t\t", s.clients_open),
            ("Client RX bytes\t\t\t\t", s.client_rx_bytes),
            ("Server messages received\t\t", s.responses),
            ("Server messages forwarded\t\t", s.responses),
            ("Server messages parsing errors\t\t", s.server_parse_errors),
            ("Server messages filtered out\t\t", 0),
            ("Server messages other errors\t\t", s.server_other_errors),
            ("Server connection attempts\t\t", s.server_connects),
            ("Server established connections\t\t", s.server_established),
            ("Server connections active\t\t", up),
            ("Server connections schedulable\t\t", up),
            ("Server RX bytes\t\t\t\t", s.server_rx_bytes),
            (
                "Server RX bytes spliced (zero-copy)\t",
                s.spliced_resp_bytes,
            ),
            ("Client RX bytes spliced (zero-copy)\t", s.spliced_req_bytes),
        ];
        for (name, v) in lines {
            writeln!(out, "{}: {}", name, v)?;
        }
        // SAFETY: reads a counter under glue.c's ring lock.
        let dropped = unsafe { crate::sys::tfw_glue_alog_dropped() };
        writeln!(out, "Client connections refused\t\t: {}", s.clients_refused)?;
        writeln!(out, "Client send timeouts\t\t\t: {}", s.send_timeouts)?;
        writeln!(out, "Server responses stalled\t\t: {}", s.server_stalls)?;
        writeln!(out, "Errors 400 (malformed request)\t\t: {}", s.errors_400)?;
        writeln!(out, "Errors 502 (bad gateway)\t\t: {}", s.errors_502)?;
        writeln!(out, "Errors 503 (queue full)\t\t\t: {}", s.errors_503)?;
        writeln!(out, "Errors 504 (gateway timeout)\t\t: {}", s.errors_504)?;
        writeln!(out, "Requests re-sent\t\t\t: {}", s.retries)?;
        writeln!(out, "Server connection failures\t\t: {}", s.server_failures)?;
        writeln!(out, "Server connections up\t\t\t: {}/{}", up, total)?;
        writeln!(out, "Access log lines dropped\t\t: {}", dropped)?;
        writeln!(out, "Client connections blocked\t\t: {}", s.clients_blocked)?;
        writeln!(out, "Client memory limit exceeded\t\t: {}", s.mem_exceeded)?;
        if !self.hstat.is_empty() {
            writeln!(out, "Tempesta health statistics:")?;
            for (code, n) in self.hstat.iter() {
                writeln!(out, "\tHTTP '{code}' code\t: {n}")?;
            }
        }
        writeln!(out, "Requests pipelined to servers\t\t: {}", s.pipelined)?;
        writeln!(out, "WebSocket tunnels opened\t\t: {}", s.tunnels)?;
        writeln!(out, "WebSocket tunnels open\t\t\t: {}", tunnels)?;
        if let Some(t) = &self.tables {
            writeln!(out, "HTTP tables rules\t\t\t: {}", t.len())?;
            writeln!(out, "HTTP tables memory\t\t\t: {}", t.bytes())?;
            writeln!(out, "HTTP tables redirects\t\t\t: {}", s.redirects)?;
        }
        if self.cache.is_some() {
            writeln!(out, "Cache 304 responses\t\t\t: {}", cs.not_modified)?;
            writeln!(out, "Cache objects stored\t\t\t: {}", cs.stored)?;
            writeln!(out, "Cache objects evicted\t\t\t: {}", cs.evicted)?;
            writeln!(out, "Cache objects invalidated\t\t: {}", cs.invalidated)?;
            writeln!(out, "Cache objects revalidated\t\t: {}", cs.revalidated)?;
            writeln!(out, "Cache objects purged\t\t\t: {}", cs.purged)?;
            writeln!(out, "Cache stale responses served\t\t: {}", cs.stale_served)?;
        }
        if let Some(fw) = &self.fw {
            fw.perfstat(out)?;
        }
        Ok(())
    }
}

/// What to do after a client step.
enum Next {
    Again,
    Wait,
    Assign,
    Fail(Status),
    /// The response is queued: send it, then close.
    Finish,
    /// Send what is queued, then go on.
    Flush,
    Close,
    /// Reset without a response (`block_action ... drop`).
    Drop,
}

/// What to do after an upstream step.
enum UNext {
    Again,
    Wait,
    Done {
        keep_alive: bool,
        close_delimited: bool,
    },
    Broken,
    /// A 101 for a WebSocket upgrade: its head, which ends at `head_end`, is queued for the
    /// client; the connections become a tunnel.
    Tunnel {
        head_end: u64,
    },
    /// The response would take its client past the `client_mem` hard limit.
    MemExceeded,
}

/// The `response_body` page for an error `status` answering `req` (none for HEAD).
fn page<'a>(pages: &'a Option<Arc<ErrPages>>, status: Status, req: &ReqInfo) -> &'a [u8] {
    if req.method == Method::Head {
        return &[];
    }
    pages
        .as_deref()
        .and_then(|p| config::errpage::lookup(&p.pages, status.code()))
        .map_or(&[], |b| &b[..])
}

/// Counts the response to `c`'s current request in `health_stat`, once.
fn count_status(hstat: &mut sched::health::StatCounts, c: &mut Client, code: u16) {
    if !core::mem::replace(&mut c.stat_done, true) {
        hstat.count(code);
    }
}

/// The counters of `health_stat`.
fn stat_counts(codes: &config::health::StatCodes) -> sched::health::StatCounts {
    sched::health::StatCounts::new(codes.codes.get(..codes.n).unwrap_or(&[]))
}

fn backoff(fails: u32) -> u64 {
    let shift = fails.min(16);
    BACKOFF_MIN_MS
        .checked_shl(shift)
        .unwrap_or(BACKOFF_MAX_MS)
        .min(BACKOFF_MAX_MS)
}

/// The bytes at stream offsets `[start, end)` of a receive buffer whose first byte is at
/// offset `base`.
fn span(data: &[u8], base: u64, start: u64, end: u64) -> Option<&[u8]> {
    let from = usize::try_from(start.checked_sub(base)?).ok()?;
    let to = usize::try_from(end.checked_sub(base)?).ok()?;
    data.get(from..to)
}

/// The connection `id` in `slots` (a free function, so that other fields of the proxy can be
/// borrowed at the same time).
fn conn_mut(slots: &mut KVec<Slot>, id: Id) -> Option<&mut Conn> {
    let index = (id & 0xffff_ffff) as usize;
    let gen = (id >> 32) as u32;
    slots
        .get_mut(index)
        .filter(|s| s.gen == gen)
        .and_then(|s| s.conn.as_deref_mut())
}

/// Whether the request has a body to read (which an answer that does not forward it must
/// close the connection over, rather than read and discard).
fn has_body(req: &ReqInfo) -> bool {
    !matches!(
        req.body,
        crate::parser::BodyKind::None | crate::parser::BodyKind::Length(0)
    )
}

/// A send queue as the cache's output.
struct BufSink<'a>(&'a mut Buf);

impl wire::Sink for BufSink<'_> {
    fn put(&mut self, b: &[u8]) -> core::result::Result<(), wire::Full> {
        self.0.put(b).map_err(|_| wire::Full)
    }
}

/// Removes and returns the last element (KVec of Linux 6.12 has no `pop`).
fn pop(v: &mut KVec<u32>) -> Option<u32> {
    let last = *v.last()?;
    let len = v.len().saturating_sub(1);
    // SAFETY: shrinking by one a vector of `Copy` values; the removed one was copied out.
    unsafe { v.set_len(len) };
    Some(last)
}
