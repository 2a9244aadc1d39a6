// SPDX-License-Identifier: GPL-2.0

//! The firewall's kernel side: `frang_limits` per client and `block_action`.
//!
//! The logic is the `filter/` crate's (sliding windows, the bounded client table, the request
//! checks); this module owns the table's memory, feeds it the proxy's events and turns a
//! refusal into Tempesta's actions. It runs with glue.c's data lock held, like the proxy (in
//! softirq or the work item): one table, no locks of its own.
//!
//! A refused connection is reset (`drop`) or closed (`reply`: there is no request to answer
//! yet); a refused request gets 403 then a close (`reply`) or a reset without a response
//! (`drop`). Every refusal is counted per limit (perfstat) and logged at most once a second per
//! client, unless `nolog`. With `ip_block` the client's address is also blocked: the table
//! refuses its connections, and `ipblock.c`'s netfilter hook drops its packets before TCP.

use kernel::prelude::*;

use crate::cfgfile::Config;
use crate::sock::gfp;

use crate::config::{self, frang::METHODS};
use crate::filter::{
    self, BodyProgress, ClientSlot, ClientTable, CodeSet, Frame, FrangLimits, HashKey,
    HeadProgress, HttpVersion, Limit, LogBudget, Method, MethodSet, RequestFacts, RespCodeBlock,
};
use crate::http::facts;
use crate::parser::Version;

/// A secret key for a table of client addresses (see `filter::hash`).
pub(crate) fn random_key() -> [u8; 16] {
    let mut key = [0u8; 16];
    // SAFETY: `key` has 16 writable bytes.
    unsafe { crate::sys::tfw_glue_random(key.as_mut_ptr().cast(), key.len()) };
    key
}

/// At most one log line per client per this period.
const LOG_PERIOD_MS: u64 = 1000;

/// How a message is arriving: network reads so far, and milliseconds (since the head's
/// first byte; for a body, since its previous piece).
#[derive(Clone, Copy, Default)]
pub(crate) struct Progress {
    pub(crate) chunks: u32,
    pub(crate) ms: u64,
}

/// What to do with a connection or request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    /// Answer 403 (requests) or close (connections), then close.
    Reply,
    /// Reset without a response.
    Drop,
}

/// The registered `ip_block` hook (`ipblock.c`); dropping it unregisters it and forgets every
/// block. At most one exists: the C side keeps a single set.
pub(crate) struct IpBlock(());

impl IpBlock {
    /// Registers the hook. Process context.
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: process context (the control path), where registration may sleep.
        let r = unsafe { crate::sys::tfw_glue_ipblock_enable() };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(IpBlock(()))
    }

    /// Blocks `addr` for `secs` seconds (0: until the hook goes); false if the set is full.
    fn add(&self, addr: &[u8; 16], secs: u32) -> bool {
        // SAFETY: `addr` points to 16 readable bytes; process context (the work item).
        unsafe { crate::sys::tfw_glue_ipblock_add(addr.as_ptr(), secs) == 0 }
    }
}

impl Drop for IpBlock {
    fn drop(&mut self) {
        // SAFETY: registered by `register`; dropped in process context (reconfiguration, stop).
        unsafe { crate::sys::tfw_glue_ipblock_disable() };
    }
}

pub(crate) struct Firewall {
    /// The global limits (per client, and per request for vhosts without their own).
    limits: Limits,
    /// Per vhost (an index into the configuration's vhosts): its own `frang_limits`, if any.
    vhosts: KVec<Option<Limits>>,
    /// The netfilter hook, while `ip_block` is on.
    ipb: Option<IpBlock>,
    block: config::BlockActions,
    table: ClientTable<KVVec<ClientSlot>>,
    /// Refusals per limit (`Limit::index`).
    pub(crate) refused: [u64; Limit::COUNT],
    /// Log lines of all clients together (a flood from many addresses is still one line
    /// per address per second without it).
    log: LogBudget,
}

/// Where a request came from.
#[derive(Clone, Copy)]
pub(crate) struct Origin<'a> {
    /// The client's address, the client table's key.
    pub(crate) addr: &'a [u8; 16],
    /// The same as text, for the log.
    pub(crate) peer: &'a [u8],
    /// The local port the connection came in on: strict Host checking wants the Host's port
    /// (80 when it names none) to be this one, as Tempesta does.
    pub(crate) port: u16,
}

/// One level of limits.
pub(crate) struct Limits {
    limits: FrangLimits<'static>,
    /// `http_ct_vals` (the limits' own list stays empty: it borrows, see [`Firewall::request`]).
    ct_vals: KVec<KVec<u8>>,
}

/// A configuration's limits, built (allocated) before it is committed to.
pub(crate) struct Prepared {
    limits: Limits,
    vhosts: KVec<Option<Limits>>,
    ip_block: bool,
    /// The client table's size from the configuration (taken when the table is made).
    clients: Option<usize>,
}

impl Prepared {
    /// The limits of `cfg`; `None` when it has no `frang_limits` at all (no firewall).
    pub(crate) fn of(cfg: &Config) -> Result<Option<Self>> {
        if cfg.frang.is_none() && cfg.vhosts.iter().all(|v| v.frang.is_none()) {
            return Ok(None);
        }
        let limits = Limits {
            // Without a global block no global limit applies (see config/src/frang.rs).
            limits: cfg.frang.as_ref().map_or(FrangLimits::NONE, limits_of),
            ct_vals: crate::cfgfile::copy_vals(&cfg.ct_vals)?,
        };
        let mut vhosts = KVec::with_capacity(cfg.vhosts.len(), gfp())?;
        for v in cfg.vhosts.iter() {
            let l = match &v.frang {
                Some(f) => Some(Limits {
                    limits: limits_of(f),
                    ct_vals: crate::cfgfile::copy_vals(&v.ct_vals)?,
                }),
                None => None,
            };
            vhosts.push(l, gfp())?;
        }
        Ok(Some(Prepared {
            limits,
            vhosts,
            ip_block: cfg.frang.as_ref().is_some_and(|f| f.ip_block.is_some()),
            clients: cfg.clients,
        }))
    }
}

fn limits_of(f: &config::Frang) -> FrangLimits<'static> {
    let mut methods = MethodSet::EMPTY;
    for (i, name) in METHODS.iter().enumerate() {
        if f.methods & (1u32 << i) != 0 {
            if let Some(m) = Method::from_name(name.as_bytes()) {
                methods = methods.with(m);
            }
        }
    }
    FrangLimits {
        request_rate: f.request_rate,
        request_burst: f.request_burst,
        tcp_connection_rate: f.tcp_connection_rate,
        tcp_connection_burst: f.tcp_connection_burst,
        concurrent_tcp_connections: f.concurrent_tcp_connections,
        http_uri_len: f.http_uri_len,
        http_hdr_len: f.http_hdr_len,
        http_header_cnt: f.http_header_cnt,
        http_body_len: f.http_body_len,
        http_strict_host_checking: f.http_strict_host_checking,
        http_ct_required: f.http_ct_required,
        http_method_override_allowed: f.method_override_allowed,
        http_trailer_split_allowed: f.trailer_split_allowed,
        http_methods: methods,
        ip_block: f.ip_block,
        client_header_timeout: f.client_header_timeout,
        client_body_timeout: f.client_body_timeout,
        http_header_chunk_cnt: f.http_header_chunk_cnt,
        http_body_chunk_cnt: f.http_body_chunk_cnt,
        http_resp_code_block: f.resp_code_block.map(|r| {
            let mut codes = CodeSet::EMPTY;
            for c in r.codes() {
                codes.insert(c);
            }
            RespCodeBlock {
                codes,
                limit: r.limit,
                period: Frame::from_secs(r.secs),
            }
        }),
        // Not configurable yet (refused by the configuration layer): off.
        http_max_header_list_size: 0,
        ..FrangLimits::DEFAULT
    }
}

impl Firewall {
    /// Boxed and out of line: see `Proxy::new` on stack use.
    #[inline(never)]
    pub(crate) fn new(p: Prepared, block: config::BlockActions) -> Result<KBox<Self>> {
        // Clients (addresses) the table tracks: `client_lru_size` / `client_tbl_size`, else
        // module parameter `frang_clients`, 16384 by default (272 bytes each, 4.25 MiB).
        // Addresses beyond this evict the least recently seen idle ones; live ones are never
        // evicted (see `filter/`).
        // SAFETY: reads a module parameter.
        let param = unsafe { crate::sys::tfw_glue_frang_clients() } as usize;
        // `client_lru_size` / `client_tbl_size` of the configuration, within the bounds of
        // the module parameter's.
        let n = p.clients.map_or(param, |c| c.clamp(64, 1 << 22));
        let slots = KVVec::from_elem(ClientSlot::EMPTY, n, gfp())?;
        let key = random_key();
        let ipb = match p.ip_block {
            true => Some(IpBlock::register()?),
            false => None,
        };
        Ok(KBox::new(
            Firewall {
                limits: p.limits,
                vhosts: p.vhosts,
                ipb,
                block,
                table: ClientTable::new(slots, HashKey::new(key)),
                refused: [0; Limit::COUNT],
                log: LogBudget::DEFAULT,
            },
            gfp(),
        )?)
    }

    /// Whether new limits `p` need an [`IpBlock`] this firewall lacks (register it before
    /// committing to the configuration, and give it to [`Self::update`]).
    pub(crate) fn needs_ip_block(&self, p: &Prepared) -> bool {
        p.ip_block && self.ipb.is_none()
    }

    /// The limits of requests to vhost `vhost`.
    fn of(&self, vhost: Option<usize>) -> &Limits {
        vhost
            .and_then(|i| self.vhosts.get(i))
            .and_then(|v| v.as_ref())
            .unwrap_or(&self.limits)
    }

    /// A new configuration: new limits and actions, the clients' accounting kept (and the
    /// blocks in force, unless `ip_block` is now off).
    pub(crate) fn update(
        &mut self,
        p: Prepared,
        block: config::BlockActions,
        ipb: Option<IpBlock>,
    ) {
        self.limits = p.limits;
        self.vhosts = p.vhosts;
        self.block = block;
        if !p.ip_block {
            self.ipb = None;
        } else if ipb.is_some() {
            self.ipb = ipb;
        }
    }

    /// A new connection from `addr`. `Pass` means it is counted: call [`Self::close`] when it
    /// closes.
    /// `white`: the connection's mark is in `whitelist_mark` (counted, never refused).
    pub(crate) fn connect(&mut self, addr: &[u8; 16], peer: &[u8], white: bool) -> Verdict {
        let now = crate::sock::now_ms();
        match self.table.on_connect(addr, now, &self.limits.limits, white) {
            Ok(()) => Verdict::Pass,
            Err(l) => self.refuse(addr, now, peer, l),
        }
    }

    /// A connection that [`Self::connect`] passed closed.
    pub(crate) fn close(&mut self, addr: &[u8; 16]) {
        self.table.on_close(addr);
    }

    /// A request head from `addr` to `vhost`: the request rate, then the head's checks with
    /// the vhost's limits.
    pub(crate) fn request(
        &mut self,
        at: Origin<'_>,
        f: &facts::HeadFacts<'_>,
        version: Version,
        content_length: Option<u64>,
        progress: Progress,
        vhost: Option<usize>,
    ) -> Verdict {
        let (addr, peer) = (at.addr, at.peer);
        let now = crate::sock::now_ms();
        if let Err(l) = self.table.on_request(addr, now, &self.limits.limits) {
            return self.refuse(addr, now, peer, l);
        }
        let req = RequestFacts {
            version: match version {
                Version::Http10 => HttpVersion::Http10,
                _ => HttpVersion::Http11,
            },
            method: f.method,
            method_override: f.method_override,
            uri_len: f.target.len() as u64,
            head: HeadProgress {
                chunks: progress.chunks,
                elapsed_ms: progress.ms,
                header_cnt: f.header_cnt,
                longest_header: f.longest_header,
                header_bytes: f.header_bytes,
            },
            host: f.host,
            authority: f.authority,
            tls: false,
            local_port: Some(at.port),
            content_type: f.content_type,
            content_length,
        };
        // The limits hold `http_ct_vals` as borrowed slices: lend them ours for this check.
        let lv = self.of(vhost);
        let mut vals = [&b""[..]; config::frang::MAX_CT_VALS];
        let mut n = 0usize;
        for (slot, v) in vals.iter_mut().zip(lv.ct_vals.iter()) {
            *slot = v;
            n = n.saturating_add(1);
        }
        let limits = FrangLimits {
            http_ct_vals: vals.get(..n).unwrap_or(&[]),
            ..lv.limits
        };
        match filter::check_request(&limits, &req) {
            Ok(()) => Verdict::Pass,
            Err(l) => self.refuse(addr, now, peer, l),
        }
    }

    /// A response with `status` to a request for `vhost` goes to `addr`:
    /// `http_resp_code_block`.
    pub(crate) fn response(
        &mut self,
        addr: &[u8; 16],
        peer: &[u8],
        status: u16,
        vhost: Option<usize>,
    ) -> Verdict {
        let now = crate::sock::now_ms();
        let l = self.of(vhost).limits;
        match self.table.on_response(addr, now, status, &l) {
            Ok(()) => Verdict::Pass,
            Err(l) => self.refuse(addr, now, peer, l),
        }
    }

    /// A request head is still arriving: `client_header_timeout` and `http_header_chunk_cnt`
    /// (`progress.ms` since its first byte; the slowloris checks).
    pub(crate) fn head_progress(
        &mut self,
        addr: &[u8; 16],
        peer: &[u8],
        progress: Progress,
    ) -> Verdict {
        let h = HeadProgress {
            chunks: progress.chunks,
            elapsed_ms: progress.ms,
            ..HeadProgress::default()
        };
        match filter::check_head_progress(&self.limits.limits, &h) {
            Ok(()) => Verdict::Pass,
            Err(l) => {
                let now = crate::sock::now_ms();
                self.refuse(addr, now, peer, l)
            }
        }
    }

    /// `len` body bytes of the current request have arrived (chunked bodies: framing
    /// included, the bytes on the wire) in `progress.chunks` reads, the last `progress.ms`
    /// after the one before.
    pub(crate) fn body(
        &mut self,
        addr: &[u8; 16],
        peer: &[u8],
        len: u64,
        progress: Progress,
        vhost: Option<usize>,
    ) -> Verdict {
        let b = BodyProgress {
            len,
            chunks: progress.chunks,
            idle_ms: progress.ms,
        };
        match filter::check_body(&self.of(vhost).limits, &b) {
            Ok(()) => Verdict::Pass,
            Err(l) => {
                let now = crate::sock::now_ms();
                self.refuse(addr, now, peer, l)
            }
        }
    }

    /// A trailer field of the current request repeats one of its head (see
    /// `Reader::trailer_split`): refused unless `http_trailer_split_allowed`.
    pub(crate) fn trailer_split(
        &mut self,
        addr: &[u8; 16],
        peer: &[u8],
        vhost: Option<usize>,
    ) -> Verdict {
        match filter::check_trailer(&self.of(vhost).limits, true) {
            Ok(()) => Verdict::Pass,
            Err(l) => self.refuse(addr, crate::sock::now_ms(), peer, l),
        }
    }

    /// An HTTP tables `block` rule refused a request of `addr`: counted with the limits and
    /// logged under the same caps (once per client per second, the global budget). Not a
    /// frang limit, so it does not lead to `ip_block` (Tempesta blocks addresses for frang
    /// violations only).
    pub(crate) fn tables_block(&mut self, addr: &[u8; 16], peer: &[u8]) {
        let now = crate::sock::now_ms();
        if self.count(addr, now, Limit::TablesBlock) {
            pr_warn!(
                "http_tables: request from {} blocked\n",
                core::str::from_utf8(peer).unwrap_or("?")
            );
        }
    }

    /// Counts a refusal of `addr` by `l`; true when a line about it may be logged (not
    /// `nolog`, due for the client, within the global budget).
    fn count(&mut self, addr: &[u8; 16], now: u64, l: Limit) -> bool {
        if let Some(c) = self.refused.get_mut(l.index()) {
            *c = c.saturating_add(1);
        }
        !self.block.attack.nolog
            && self
                .table
                .should_log_within(addr, now, LOG_PERIOD_MS, &mut self.log)
    }

    fn refuse(&mut self, addr: &[u8; 16], now: u64, peer: &[u8], l: Limit) -> Verdict {
        let mut blocked = false;
        if let (Some(ipb), Some(secs)) = (&self.ipb, self.limits.limits.ip_block) {
            if l != Limit::Blocked && self.table.punish(addr, now, &self.limits.limits) {
                blocked = ipb.add(addr, secs);
            }
        }
        if self.count(addr, now, l) {
            pr_warn!(
                "frang: {} exceeded for {}{}\n",
                l.name(),
                core::str::from_utf8(peer).unwrap_or("?"),
                if blocked { ", address blocked" } else { "" }
            );
        }
        if self.block.attack.drop {
            Verdict::Drop
        } else {
            Verdict::Reply
        }
    }

    /// Per-limit perfstat lines (the limits that refused something).
    pub(crate) fn perfstat(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        if self.ipb.is_some() {
            let (mut dropped, mut full, mut blocked) = (0u64, 0u64, 0u64);
            // SAFETY: three valid out pointers.
            unsafe { crate::sys::tfw_glue_ipblock_stats(&mut dropped, &mut full, &mut blocked) };
            writeln!(out, "Frang addresses blocked\t\t: {blocked}")?;
            writeln!(out, "Frang packets dropped\t\t\t: {dropped}")?;
            writeln!(out, "Frang blocks refused (set full)\t: {full}")?;
        }
        writeln!(out, "Frang clients tracked\t\t\t: {}", self.table.len())?;
        writeln!(
            out,
            "Frang log lines suppressed\t\t: {}",
            self.log.suppressed()
        )?;
        writeln!(
            out,
            "Frang clients evicted\t\t\t: {}",
            self.table.evictions()
        )?;
        for l in Limit::ALL {
            let n = self.refused.get(l.index()).copied().unwrap_or(0);
            if n != 0 {
                writeln!(out, "Frang refused ({})\t: {}", l.name(), n)?;
            }
        }
        Ok(())
    }
}
