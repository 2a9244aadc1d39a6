// SPDX-License-Identifier: GPL-2.0

//! The proxy's use of the cache: what a request head decides (hit, 304, PURGE, 504 for
//! `only-if-cached`, or forward), and what a response to a forwarded request leaves in the
//! store (a new entry, invalidated ones).
//!
//! The decisions are the `cache/` crate's; this file feeds them the heads the proxy holds,
//! keeps the per-vhost settings of the configuration in kernel memory, and fills and
//! publishes [`Obj`]s in the [`Store`].

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;
use kernel::sync::Arc;

use crate::buf::clear;
use crate::cache::cc::CcIgnore;
use crate::cache::config::{CacheMode, SetCookie};
use crate::cache::fresh::{stale_on_error, StaleCodes};
use crate::cache::invalidate::{self, Cidr, PurgeAction, PurgeMode};
use crate::cache::method::{Method, MethodSet};
use crate::cache::rules::{MatchOp, Rule};
use crate::cache::store::{lookup_allowed, storable, Request, Response};
use crate::cache::wire::{self, head_fields, Dechunk};
use crate::cache::{cond, decide, vary, CacheConfig, Decision, Entry, Key};
use crate::http::status::Status;
use crate::sock::gfp;
use crate::store::{NewObj, Obj, Store, VecSink};

/// `cache_fulfill` / `cache_bypass`, owned.
pub(crate) struct RuleCfg {
    pub(crate) op: MatchOp,
    pub(crate) arg: KVec<u8>,
    pub(crate) fulfill: bool,
}

/// The settings Tempesta allows per vhost.
pub(crate) struct Policy {
    pub(crate) rules: KVec<RuleCfg>,
    pub(crate) hdr_del: KVec<KVec<u8>>,
    pub(crate) cc_ignore: CcIgnore,
    /// `cache_use_stale`.
    pub(crate) use_stale: StaleCodes,
}

/// The cache part of the configuration.
pub(crate) struct CacheCfg {
    pub(crate) mode: CacheMode,
    pub(crate) size: u64,
    pub(crate) methods: MethodSet,
    pub(crate) ttl: u32,
    pub(crate) purge: Option<PurgeMode>,
    pub(crate) acl: KVec<Cidr>,
    pub(crate) global: Policy,
    /// Per vhost, in the order of `Config::vhosts`.
    pub(crate) vhosts: KVec<Policy>,
}

/// `cache_fulfill * *`, for a `CacheConfig` whose rules were evaluated already.
static FULFILL: [Rule<'static>; 1] = [Rule {
    op: MatchOp::Any,
    arg: b"*",
    fulfill: true,
}];

/// Largest response body stored: half of `cache_size`, so one object never takes the whole
/// store.
fn body_limit(size: u64) -> usize {
    usize::try_from(size / 2).unwrap_or(usize::MAX)
}

impl Policy {
    fn copy(&self) -> Result<Policy> {
        let mut rules = KVec::with_capacity(self.rules.len(), gfp())?;
        for r in self.rules.iter() {
            let mut arg = KVec::new();
            arg.extend_from_slice(&r.arg, gfp())?;
            rules.push(
                RuleCfg {
                    op: r.op,
                    arg,
                    fulfill: r.fulfill,
                },
                gfp(),
            )?;
        }
        Ok(Policy {
            rules,
            hdr_del: crate::cfgfile::copy_vals(&self.hdr_del)?,
            cc_ignore: self.cc_ignore,
            use_stale: self.use_stale,
        })
    }
}

impl CacheCfg {
    /// A copy for the proxy (the configuration it came from is freed after loading).
    pub(crate) fn copy(&self) -> Result<CacheCfg> {
        let mut acl = KVec::new();
        acl.extend_from_slice(&self.acl, gfp())?;
        let mut vhosts = KVec::with_capacity(self.vhosts.len(), gfp())?;
        for p in self.vhosts.iter() {
            vhosts.push(p.copy()?, gfp())?;
        }
        Ok(CacheCfg {
            mode: self.mode,
            size: self.size,
            methods: self.methods,
            ttl: self.ttl,
            purge: self.purge,
            acl,
            global: self.global.copy()?,
            vhosts,
        })
    }

    fn policy(&self, vhost: Option<usize>) -> &Policy {
        vhost
            .and_then(|i| self.vhosts.get(i))
            .unwrap_or(&self.global)
    }

    /// Runs `f` with `cfg` plus the `cache_resp_hdr_del` names of `vhost`, borrowed for the
    /// call (the policy crate's view holds them as a slice of slices).
    fn with_hdr_del<R>(
        &self,
        vhost: Option<usize>,
        cfg: CacheConfig<'_>,
        f: impl FnOnce(&CacheConfig<'_>) -> R,
    ) -> R {
        let p = self.policy(vhost);
        let mut del: [&[u8]; 32] = [&[]; 32];
        for (slot, name) in del.iter_mut().zip(p.hdr_del.iter()) {
            *slot = name;
        }
        let n = p.hdr_del.len().min(del.len());
        f(&CacheConfig {
            resp_hdr_del: del.get(..n).unwrap_or_default(),
            ..cfg
        })
    }

    /// The policy crate's view for a request for `path` on `vhost`, the rules applied.
    /// `cache_resp_hdr_del` is left out (see [`CacheCfg::with_hdr_del`]).
    fn view(&self, vhost: Option<usize>, path: &[u8]) -> CacheConfig<'_> {
        let p = self.policy(vhost);
        let fulfill = p
            .rules
            .iter()
            .find(|r| {
                Rule {
                    op: r.op,
                    arg: &r.arg,
                    fulfill: r.fulfill,
                }
                .matches(path)
            })
            .is_some_and(|r| r.fulfill);
        CacheConfig {
            mode: self.mode,
            size: self.size,
            methods: self.methods,
            ttl: self.ttl,
            heuristic_percent: 0,
            rules: if fulfill { &FULFILL } else { &[] },
            cc_ignore: p.cc_ignore,
            use_stale: p.use_stale,
            resp_hdr_del: &[],
            set_cookie: SetCookie::Refuse,
            purge: self.purge,
            purge_acl: &self.acl,
        }
    }
}

/// The cache: its settings and its store.
pub(crate) struct Cache {
    pub(crate) cfg: CacheCfg,
    pub(crate) store: Store,
    /// Bytes held by objects being filled, all clients together: bounded by `cache_size`
    /// like the store, so many concurrent large misses cannot exhaust memory.
    filling: Arc<AtomicU64>,
}

/// Bytes a [`Fill`] holds, charged to the cache's `filling` total and given back when the
/// fill is published or dropped (a client that goes away mid-response).
struct Charge {
    total: Arc<AtomicU64>,
    n: u64,
}

impl Charge {
    /// Charges `n` more bytes; false (nothing charged) if that passes `limit` in total.
    fn add(&mut self, n: u64, limit: u64) -> bool {
        let before = self.total.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) > limit {
            self.total.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        self.n = self.n.saturating_add(n);
        true
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.total.fetch_sub(self.n, Ordering::Relaxed);
    }
}

/// What the cache remembers of a request until its response: the key, owned (the request's
/// bytes may be gone by then).
#[derive(Default)]
pub(crate) struct ReqCtx {
    /// The request may be stored or invalidate entries.
    pub(crate) on: bool,
    /// It found nothing stored: other requests for the key may wait for its response
    /// (request collapsing).
    pub(crate) collapse: bool,
    method: Option<Method>,
    /// Host, then path.
    key: KVec<u8>,
    host_len: usize,
    vhost: Option<usize>,
    /// When it was forwarded (wall-clock seconds): `request_time`.
    sent_s: u64,
    /// An HTTP tables `cache_ttl = N` for its response.
    ttl: Option<u32>,
    /// An HTTP tables `cache_disable`: its response is not stored.
    no_store: bool,
    /// The stale entry the request found: revalidated when `extra` holds conditions (a 304
    /// from the upstream refreshes it and the client gets it), and served instead of an error
    /// that `cache_use_stale` or its `stale-if-error` allows.
    stale: Option<(Arc<Obj>, Entry)>,
    /// The conditions added to the forwarded request for that (`If-None-Match`,
    /// `If-Modified-Since`).
    extra: KVec<u8>,
}

/// What the HTTP tables said about caching a request (`cache_disable`, `cache_ttl = N`).
#[derive(Clone, Copy, Default)]
pub(crate) struct TableHints {
    pub(crate) disable: bool,
    pub(crate) ttl: Option<u32>,
}

impl ReqCtx {
    /// The request's response is complete: drop what only it needed (a stale entry it
    /// revalidated stays out of memory accounting otherwise).
    pub(crate) fn end(&mut self) {
        self.stale = None;
    }

    /// The request does not go through the cache at all (a WebSocket upgrade): nothing the
    /// previous request on the connection left here applies to it.
    pub(crate) fn bypass(&mut self) {
        self.on = false;
        self.collapse = false;
        self.stale = None;
        crate::buf::clear(&mut self.extra);
    }

    /// The forwarded request carries conditions the cache added to revalidate an entry.
    pub(crate) fn revalidating(&self) -> bool {
        self.stale.is_some() && !self.extra.is_empty()
    }

    /// Field lines to add to the forwarded request.
    pub(crate) fn extra(&self) -> &[u8] {
        &self.extra
    }

    /// Whether both requests are for the same URI.
    pub(crate) fn same_key(&self, other: &ReqCtx) -> bool {
        match (self.key(), other.key()) {
            (Some(a), Some(b)) => a.matches(&b),
            _ => false,
        }
    }

    fn key(&self) -> Option<Key<'_>> {
        let (host, path) = self.key.split_at_checked(self.host_len)?;
        Some(Key {
            https: false,
            host,
            path,
        })
    }
}

/// What to do with a request.
pub(crate) enum Answer {
    /// Forward it (the context says whether the response matters to the cache).
    Forward,
    /// Answer from the entry: in full, or a 304.
    Hit {
        obj: Arc<Obj>,
        entry: Entry,
        not_modified: bool,
    },
    /// Answer with a status of its own, empty body: 200 (purged), 403 (PURGE refused), 504
    /// (`only-if-cached` with nothing stored).
    Status(Status),
}

/// Wall-clock seconds.
pub(crate) fn now_s() -> u64 {
    // SAFETY: reads the realtime clock; callable in any context.
    unsafe { crate::sys::tfw_glue_real_secs() }
}

impl Cache {
    /// Boxed and out of line: see `Proxy::new` on stack use.
    #[inline(never)]
    pub(crate) fn new(cfg: CacheCfg) -> Result<KBox<Cache>> {
        let store = Store::new(cfg.size);
        let filling = Arc::new(AtomicU64::new(0), gfp())?;
        Ok(KBox::new(
            Cache {
                cfg,
                store,
                filling,
            },
            gfp(),
        )?)
    }

    /// New settings; the entries stay (evicted down to a smaller `cache_size`).
    pub(crate) fn reconfigure(&mut self, cfg: CacheCfg) {
        self.store.set_limit(cfg.size);
        self.cfg = cfg;
    }

    /// Decides on request `head` (method `method`, target `target`, `host`) from client
    /// address `addr`, and fills `ctx` for its response.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn request(
        &mut self,
        ctx: &mut ReqCtx,
        head: &[u8],
        method: &[u8],
        target: &[u8],
        host: &[u8],
        vhost: Option<usize>,
        addr: &[u8; 16],
        hints: TableHints,
    ) -> Answer {
        ctx.on = false;
        ctx.collapse = false;
        ctx.stale = None;
        clear(&mut ctx.extra);
        let method = Method::parse(method);
        let Some(key) = Key::new(false, target, host) else {
            return Answer::Forward;
        };
        let cfg = self.cfg.view(vhost, key.path);
        let use_stale = cfg.use_stale != StaleCodes::NONE;
        let req_fields = head_fields(head);
        match invalidate::purge_action(method, &cfg, invalidate::acl_match(cfg.purge_acl, addr)) {
            PurgeAction::NotPurge => {}
            PurgeAction::Forbidden => return Answer::Status(Status::Forbidden),
            PurgeAction::Invalidate => {
                let n = self.store.invalidate(&key);
                self.store.stats.purged = self.store.stats.purged.saturating_add(n as u64);
                return Answer::Status(Status::Ok);
            }
            PurgeAction::Immediate => {
                let n = self.store.remove(&key);
                self.store.stats.purged = self.store.stats.purged.saturating_add(n as u64);
                return Answer::Status(Status::Ok);
            }
        }
        // A safe request on a URI the rules bypass can neither be answered nor stored (nor
        // invalidate anything): no field is read, no key is kept. This is every request
        // under Tempesta's default `cache 2` without `cache_fulfill`.
        if cfg.mode == CacheMode::Off || (method.is_safe() && cfg.rules.is_empty()) {
            return Answer::Forward;
        }
        let req = Request::new(method, key, &req_fields);
        let mut miss = false;
        let mut stale = None;
        if !hints.disable && lookup_allowed(&req, &cfg) {
            match self.lookup(&req, &req_fields) {
                Ok(hit) => return hit,
                Err((d, found)) => {
                    miss = d == Decision::Miss;
                    if d == Decision::Revalidate {
                        stale = found;
                    }
                }
            }
            self.store.stats.misses = self.store.stats.misses.saturating_add(1);
        }
        // Remember the key: the response may be stored, or invalidate entries.
        if !method.is_safe() || (method == Method::Get && !hints.disable) {
            clear(&mut ctx.key);
            if ctx.key.extend_from_slice(key.host, gfp()).is_err()
                || ctx.key.extend_from_slice(key.path, gfp()).is_err()
            {
                return Answer::Forward;
            }
            ctx.host_len = key.host.len();
            ctx.method = Some(method);
            ctx.vhost = vhost;
            ctx.sent_s = now_s();
            ctx.on = true;
            ctx.collapse = miss && method == Method::Get;
            ctx.ttl = hints.ttl;
            ctx.no_store = hints.disable;
            // A stale entry with validators is revalidated, unless the client's request is
            // conditional itself (its conditions go upstream as they are).
            let conditional = crate::cache::fields::has(&req_fields, b"if-none-match")
                || crate::cache::fields::has(&req_fields, b"if-modified-since");
            if let Some((obj, entry)) = stale {
                if conditional || conditions(&obj, &entry, &mut ctx.extra).is_err() {
                    clear(&mut ctx.extra);
                }
                // Kept to revalidate, or to answer an upstream error with.
                let fallback = !entry.must_revalidate
                    && !entry.no_cache
                    && (use_stale || entry.stale_if_error.is_some());
                if !ctx.extra.is_empty() || fallback {
                    ctx.stale = Some((obj, entry));
                }
            }
        }
        Answer::Forward
    }

    /// A 304 from the upstream for a request that revalidated `ctx.stale`: if it refers to
    /// the stored response, the entry's freshness is renewed and the caller answers the
    /// client with the stored response instead of the 304.
    pub(crate) fn revalidated(
        &mut self,
        ctx: &mut ReqCtx,
        head: &[u8],
    ) -> Option<(Arc<Obj>, Entry)> {
        if ctx.extra.is_empty() {
            return None;
        }
        let (obj, entry) = ctx.stale.take()?;
        let key = ctx.key()?;
        let cfg = self.cfg.view(ctx.vhost, key.path);
        let stored_fields = wire::FieldBlock(&obj.fields);
        let mut stored = Response::new(entry.status, &stored_fields, cfg.cc_ignore);
        let v = cond::Validators::new(&entry, stored.etag);
        let resp_fields = head_fields(head);
        let update = Response::new(304, &resp_fields, cfg.cc_ignore);
        if !cond::freshens(&v, update.etag, update.last_modified) {
            // The origin's validators changed under it: the entry is dropped, so the next
            // request fetches the resource unconditionally.
            let n = self.store.remove(&key);
            let s = &mut self.store.stats;
            s.invalidated = s.invalidated.saturating_add(n as u64);
            return None;
        }
        stored.update_from_304(&update);
        let mut cfg = cfg;
        if let Some(ttl) = ctx.ttl {
            cfg.ttl = ttl;
        }
        let renewed = Entry::new(ctx.sent_s, now_s(), &stored, &cfg);
        // The stored fields updated by the 304's (RFC 9111 section 3.2); without memory
        // for that, the entry keeps its fields and gets the new freshness.
        let mut fields = KVec::new();
        let new = self
            .cfg
            .with_hdr_del(ctx.vhost, cfg, |cfg| {
                wire::updated_fields(&obj.fields, head, cfg, &mut VecSink(&mut fields))
            })
            .map_err(|_| ENOMEM)
            .and_then(|()| obj.with_fields(fields));
        // The updated response must still be storable: a 304 may add Set-Cookie, private or
        // no-store, and one that changes Vary makes the entry another variant. Then this
        // client gets it, and the entry goes.
        fn vary(f: &[u8]) -> Option<&[u8]> {
            wire::field_lines(f)
                .find(|(n, _)| n.eq_ignore_ascii_case(b"vary"))
                .map(|(_, v)| v)
        }
        let req = Request::new(ctx.method?, key, &wire::FieldBlock(&[]));
        let keep = storable(&req, &stored, &cfg).is_ok()
            && new
                .as_ref()
                .map_or(true, |n| vary(&n.fields) == vary(&obj.fields));
        let obj = if keep {
            let s = &mut self.store.stats;
            s.revalidated = s.revalidated.saturating_add(1);
            self.store.refresh(&obj, new, renewed)
        } else {
            let n = self.store.remove(&key);
            let s = &mut self.store.stats;
            s.invalidated = s.invalidated.saturating_add(n as u64);
            new.and_then(|n| Arc::new(n, gfp()).map_err(Into::into))
                .unwrap_or(obj)
        };
        Some((obj, renewed))
    }

    /// The stale entry the request found, to answer it instead of error `status` (the
    /// upstream's, or the 502/503/504 the proxy makes when the upstream fails or times out),
    /// if `cache_use_stale` or the entry's `stale-if-error` allows that (RFC 9111 section
    /// 4.2.4, RFC 5861 section 4).
    pub(crate) fn stale_for(&mut self, ctx: &mut ReqCtx, status: u16) -> Option<(Arc<Obj>, Entry)> {
        let (obj, _) = ctx.stale.as_ref()?;
        // As stored now: one purged or replaced since the request found it is not served
        // (one `cache_purge invalidate` marked stale still may be).
        let entry = self.store.entry_of(obj)?;
        let key = ctx.key()?;
        let cfg = self.cfg.view(ctx.vhost, key.path);
        if !stale_on_error(&entry, status, &cfg.use_stale, now_s()) {
            return None;
        }
        let s = &mut self.store.stats;
        s.stale_served = s.stale_served.saturating_add(1);
        ctx.stale.take().map(|(obj, _)| (obj, entry))
    }

    /// Looks request `req` up: a hit (or its 304, or 504 for `only-if-cached`), else the
    /// decision that sends it upstream.
    #[allow(clippy::type_complexity)]
    fn lookup<F: crate::cache::Fields + ?Sized>(
        &mut self,
        req: &Request<'_>,
        req_fields: &F,
    ) -> core::result::Result<Answer, (Decision, Option<(Arc<Obj>, Entry)>)> {
        let now = now_s();
        let found = self.store.find(&req.key, req_fields);
        let entry = found.as_ref().map(|(_, e)| e);
        match decide(&req.cc, entry, now) {
            Decision::Fresh | Decision::Stale | Decision::StaleWhileRevalidate => {
                let Some((obj, entry)) = found else {
                    return Err((Decision::Miss, None));
                };
                let fields = wire::FieldBlock(&obj.fields);
                let etag = crate::cache::Fields::field(&fields, b"etag", 0);
                let v = cond::Validators::new(&entry, etag);
                let nm = cond::evaluate(req.method, req_fields, entry.status, &v, now)
                    == cond::Cond::NotModified;
                let s = &mut self.store.stats;
                if nm {
                    s.not_modified = s.not_modified.saturating_add(1);
                } else {
                    s.hits = s.hits.saturating_add(1);
                }
                Ok(Answer::Hit {
                    obj,
                    entry,
                    not_modified: nm,
                })
            }
            Decision::GatewayTimeout => Ok(Answer::Status(Status::GatewayTimeout)),
            // A stale entry is revalidated, or replaced by what the upstream answers.
            d => Err((d, found)),
        }
    }

    /// A request that waited for another one for the same URI (`ctx.collapse`), looked up
    /// again now that the other's response is complete; its forwarded head is `req_head`.
    /// `None`: forward it after all (the response was not stored, or is another variant).
    pub(crate) fn after_wait(&mut self, ctx: &ReqCtx, req_head: &[u8]) -> Option<Answer> {
        let key = ctx.key()?;
        let method = ctx.method?;
        let req_fields = head_fields(req_head);
        let req = Request::new(method, key, &req_fields);
        match self.lookup(&req, &req_fields) {
            Ok(a @ Answer::Hit { .. }) => Some(a),
            _ => None,
        }
    }

    /// The response head `head` (status `status`) to the request whose context is `ctx` and
    /// whose forwarded head is `req_head` (empty if no longer held): invalidates what it
    /// invalidates, and returns the object to fill if it is to be stored.
    pub(crate) fn response(
        &mut self,
        ctx: &ReqCtx,
        req_head: &[u8],
        head: &[u8],
        status: u16,
        chunked: bool,
        content_length: Option<u64>,
    ) -> Option<KBox<Fill>> {
        if !ctx.on {
            return None;
        }
        let (Some(key), Some(method)) = (ctx.key(), ctx.method) else {
            return None;
        };
        let resp_fields = head_fields(head);
        if invalidate::invalidates(method, status) {
            for k in invalidate::targets(&key, &resp_fields).iter().flatten() {
                let n = self.store.remove(k);
                let s = &mut self.store.stats;
                s.invalidated = s.invalidated.saturating_add(n as u64);
            }
        }
        if req_head.is_empty() || ctx.no_store {
            return None;
        }
        let req_fields = head_fields(req_head);
        let mut cfg = self.cfg.view(ctx.vhost, key.path);
        if let Some(ttl) = ctx.ttl {
            cfg.ttl = ttl;
        }
        let req = Request::new(method, key, &req_fields);
        let resp = Response::new(status, &resp_fields, cfg.cc_ignore);
        if storable(&req, &resp, &cfg).is_err() {
            return None;
        }
        let limit = body_limit(self.cfg.size);
        if content_length.is_some_and(|n| n > limit as u64) {
            return None;
        }
        let now = now_s();
        let entry = Entry::new(ctx.sent_s, now, &resp, &cfg);
        let variant = vary::variant_hash(self.store.seed(), &resp_fields, &req_fields);
        let mut obj = Obj::new(&key, limit).ok()?;
        obj.status_text
            .extend_from_slice(wire::status_text(head), gfp())
            .ok()?;
        self.cfg
            .with_hdr_del(ctx.vhost, cfg, |cfg| {
                wire::stored_fields(head, cfg, &mut VecSink(&mut obj.fields))
            })
            .ok()?;
        if !crate::cache::fields::has(&resp_fields, b"date") {
            // The receive time, as the client got it (RFC 9110 section 6.6.1: a recipient
            // with a clock adds the Date a response lacks when it caches it).
            let mut d = [0u8; crate::cache::date::DATE_LEN];
            crate::cache::date::format_http_date(now, &mut d);
            let mut sink = VecSink(&mut obj.fields);
            for part in [&b"Date: "[..], &d, b"\r\n"] {
                wire::Sink::put(&mut sink, part).ok()?;
            }
        }
        KBox::new(
            Fill {
                obj,
                entry,
                variant,
                dechunk: chunked.then(Dechunk::new),
                failed: false,
                charge: Charge {
                    total: self.filling.clone(),
                    n: 0,
                },
                limit: self.cfg.size,
            },
            gfp(),
        )
        .ok()
    }

    /// Publishes a filled object; a failed or incomplete fill is dropped.
    pub(crate) fn publish(&mut self, fill: KBox<Fill>) {
        let Fill {
            obj,
            entry,
            variant,
            dechunk,
            failed,
            charge,
            limit: _,
        } = KBox::into_inner(fill);
        drop(charge);
        if failed || dechunk.is_some_and(|d| !d.done()) {
            return;
        }
        if let Ok(obj) = obj.finish() {
            let _ = self.store.publish(obj, entry, variant);
        }
    }
}

/// An object being filled from the upstream's response.
pub(crate) struct Fill {
    obj: NewObj,
    entry: Entry,
    variant: u64,
    dechunk: Option<Dechunk>,
    /// Too large or out of memory: not stored.
    failed: bool,
    charge: Charge,
    /// `cache_size`: the bound of all fills together.
    limit: u64,
}

impl Fill {
    /// Response body bytes, as forwarded (chunked framing included).
    pub(crate) fn body(&mut self, bytes: &[u8]) {
        if self.failed {
            return;
        }
        if !self.charge.add(bytes.len() as u64, self.limit) {
            self.failed = true;
            return;
        }
        let ok = match &mut self.dechunk {
            Some(d) => d.feed(bytes, &mut self.obj.body).is_ok(),
            None => self.obj.body.append(bytes).is_ok(),
        };
        self.failed = !ok;
    }
}

/// Writes the revalidation conditions for a stored response (RFC 9111 section 4.3.1).
fn conditions(
    obj: &Obj,
    entry: &Entry,
    out: &mut KVec<u8>,
) -> core::result::Result<(), wire::Full> {
    let fields = wire::FieldBlock(&obj.fields);
    let etag = crate::cache::Fields::field(&fields, b"etag", 0);
    let v = cond::Validators::new(entry, etag);
    let r = cond::revalidation(&v);
    let mut out = VecSink(out);
    if let Some(tag) = r.if_none_match {
        wire::Sink::put(&mut out, b"If-None-Match: ")?;
        wire::Sink::put(&mut out, tag)?;
        wire::Sink::put(&mut out, b"\r\n")?;
    }
    if let Some(date) = r.if_modified_since {
        wire::Sink::put(&mut out, b"If-Modified-Since: ")?;
        wire::Sink::put(&mut out, &date)?;
        wire::Sink::put(&mut out, b"\r\n")?;
    }
    Ok(())
}

/// Writes the head of a hit (or its 304) into `out`; the caller sends the body from
/// `obj.body` unless `head_only` or a 304.
pub(crate) fn hit_head(
    obj: &Obj,
    entry: &Entry,
    not_modified: bool,
    reply: &wire::Reply<'_>,
    out: &mut dyn wire::Sink,
) -> core::result::Result<(), wire::Full> {
    if not_modified {
        return wire::not_modified_head(&obj.fields, reply, out);
    }
    wire::hit_head(
        entry.status,
        &obj.status_text,
        &obj.fields,
        obj.body.len() as u64,
        reply,
        out,
    )
}
