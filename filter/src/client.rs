//! Per-client accounting: the bounded table of clients frang counts against.
//!
//! # Layout
//!
//! The caller gives a slice of [`ClientSlot`]s (the kernel allocates it once per shard at
//! start-up); nothing is allocated afterwards. Each slot holds one client and is also the head
//! of one hash bucket (as many buckets as slots, chained through the slots), so one slice is
//! the whole table and lookups walk chains of about one entry. Buckets are picked by a keyed
//! hash ([`HashKey`]) of the address, which the attacker chooses.
//!
//! # Sharding
//!
//! A table has no lock. The kernel holds N tables, each behind its own spinlock, and picks
//! the table of an address with [`shard_of`](super::shard_of)`(key.hash(addr), N)`: one client
//! is always in one shard, and CPUs serving different clients rarely share a lock. Give every
//! table the same key: shards use the low half of the hash, buckets the high half.
//!
//! # Eviction
//!
//! When the table is full a new client takes the slot of the least recently active client,
//! chosen in this order:
//! 1. an idle client (no open connection, not blocked);
//! 2. a blocked client without connections, preferring one whose block has expired (among
//!    the 8 least recently active), then the least recently active: dropping a block early
//!    is better than refusing every new client while the attacker's addresses fill the table;
//! 3. never a client with open connections: its concurrent connection count would be lost
//!    and `on_close` would have nothing to decrement. A table full of live clients refuses the
//!    newcomer with [`Limit::ClientTable`], as Tempesta blocks a connection it cannot account
//!    for. Size the table above the number of clients expected to hold connections at once;
//!    with `concurrent_tcp_connections` in force an attacker needs that many addresses.
//!
//! Three intrusive LRU lists (idle, blocked, live) make every step O(1) (plus at most 8 steps
//! to find an expired block). A slot is 272 bytes (five 40-byte windows make most of it).

use super::hash::{reduce, Addr, HashKey};
use super::limits::FrangLimits;
use super::logcap::LogBudget;
use super::window::{RateKind, Window};
use super::{Limit, Verdict};

/// No slot (end of a list or chain).
const NIL: u32 = u32::MAX;

/// Most slots a table uses: indices are `u32`, and [`NIL`] is not one.
const MAX_SLOTS: usize = 0xffff_fffe;

/// How many blocked clients eviction looks at for an expired block.
const EXPIRED_SCAN: usize = 8;

/// The lists a slot can be on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum List {
    Free = 0,
    Idle = 1,
    Blocked = 2,
    Live = 3,
}

/// A TLS handshake outcome, for the TLS connection limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// A full handshake completed (the expensive one: counted by the TLS rate and burst).
    New,
    /// A session resumed (cheap: not counted).
    Resumed,
    /// A handshake failed or was abandoned (counted by `tls_incomplete_connection_rate`).
    Incomplete,
}

/// The accounting of one client (one address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    addr: Addr,
    /// Open connections (accepted by [`ClientTable::on_connect`], not yet closed).
    conns: u32,
    /// Blocked while `now < blocked_until`; 0 is never blocked, `u64::MAX` forever.
    blocked_until: u64,
    /// When a message about this client was last logged.
    last_log: Option<u64>,
    requests: Window,
    connections: Window,
    tls_new: Window,
    tls_incomplete: Window,
    responses: Window,
}

impl Client {
    const fn new(addr: Addr) -> Self {
        Self {
            addr,
            conns: 0,
            blocked_until: 0,
            last_log: None,
            requests: Window::NEW,
            connections: Window::NEW,
            tls_new: Window::NEW,
            tls_incomplete: Window::NEW,
            responses: Window::NEW,
        }
    }

    /// The address.
    pub const fn addr(&self) -> &Addr {
        &self.addr
    }

    /// Open connections.
    pub const fn conns(&self) -> u32 {
        self.conns
    }

    /// The end of the block in milliseconds (`u64::MAX`: forever), if it is blocked at `now_ms`.
    pub const fn blocked_until(&self, now_ms: u64) -> Option<u64> {
        if self.blocked_until > now_ms {
            Some(self.blocked_until)
        } else {
            None
        }
    }

    /// Blocks until at least `until` (an existing longer block stays).
    fn block_until(&mut self, until: u64) {
        if until > self.blocked_until {
            self.blocked_until = until;
        }
    }
}

/// One slot of a [`ClientTable`]: a client and the links of the table's lists.
#[derive(Clone, Copy, Debug)]
pub struct ClientSlot {
    /// First slot of the hash bucket this slot heads.
    head: u32,
    /// Next slot in the hash chain.
    next: u32,
    /// The bucket whose chain holds this slot.
    bucket: u32,
    /// LRU (or free) list links.
    prev_lru: u32,
    next_lru: u32,
    list: List,
    client: Client,
}

impl ClientSlot {
    /// An unused slot, to fill the storage with before [`ClientTable::new`].
    pub const EMPTY: Self = Self {
        head: NIL,
        next: NIL,
        bucket: NIL,
        prev_lru: NIL,
        next_lru: NIL,
        list: List::Free,
        client: Client::new([0; 16]),
    };
}

impl Default for ClientSlot {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// A bounded table of clients in caller-provided storage `S`: a `&mut [ClientSlot]`, or any
/// owner that dereferences to one (the kernel keeps a vmalloc()ed vector in the table, so the
/// table and its storage live and die together). See the module documentation.
#[derive(Debug)]
pub struct ClientTable<S> {
    slots: S,
    /// Slots in use: `slots.len()` capped at [`MAX_SLOTS`].
    cap: usize,
    key: HashKey,
    /// First (least recently used) and last slot of each [`List`].
    heads: [u32; 4],
    tails: [u32; 4],
    len: usize,
    evictions: u64,
}

impl<S: core::ops::DerefMut<Target = [ClientSlot]>> ClientTable<S> {
    /// A table over `slots` (all of them reset; at most `u32::MAX - 1` are used). An empty
    /// slice gives a table that refuses every client.
    pub fn new(slots: S, key: HashKey) -> Self {
        let n = slots.len().min(MAX_SLOTS);
        let mut t = Self {
            slots,
            cap: n,
            key,
            heads: [NIL; 4],
            tails: [NIL; 4],
            len: 0,
            evictions: 0,
        };
        for i in 0..n {
            if let Some(s) = t.slots.get_mut(i) {
                *s = ClientSlot::EMPTY;
            }
            t.push_tail(i as u32, List::Free);
        }
        t
    }

    /// How many clients the table can hold.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// How many clients it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no client.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many clients were evicted to make room, since creation (a statistic: a growing
    /// number means the table is too small for the traffic).
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// The accounting of `addr`, if the table holds it.
    pub fn get(&self, addr: &Addr) -> Option<&Client> {
        self.find(addr)
            .and_then(|i| self.slot(i))
            .map(|s| &s.client)
    }

    /// A new connection from `addr`. On `Ok` the connection is counted as open and the caller
    /// must call [`on_close`](Self::on_close) when it closes; on `Err` it is not, and the
    /// caller refuses it (and, if `ip_block` is on, the client is now blocked).
    ///
    /// Refused attempts count in the connection rate, as in Tempesta: a client hammering a
    /// limit stays over it. Whitelisted traffic (`whitelist_mark`) is counted, so that its
    /// closes balance, but never refused, not even when its address is blocked.
    pub fn on_connect(
        &mut self,
        addr: &Addr,
        now_ms: u64,
        l: &FrangLimits<'_>,
        whitelisted: bool,
    ) -> Verdict {
        let i = self.find_or_insert(addr, now_ms)?;
        let r = self.check(i, |c| {
            if whitelisted {
                c.connections.hit(l.rate_frame, now_ms);
                c.conns = c.conns.saturating_add(1);
                return Ok(());
            }
            if c.blocked_until(now_ms).is_some() {
                return Err(Limit::Blocked);
            }
            let rate = c.connections.hit(l.rate_frame, now_ms);
            let conns = c.conns.saturating_add(1);
            if l.concurrent_tcp_connections != 0 && conns > l.concurrent_tcp_connections {
                return Err(Limit::ConcurrentConnections);
            }
            match rate.exceeds(l.tcp_connection_rate, l.tcp_connection_burst) {
                Some(RateKind::Burst) => return Err(Limit::ConnectionBurst),
                Some(RateKind::Rate) => return Err(Limit::ConnectionRate),
                None => {}
            }
            c.conns = conns;
            Ok(())
        });
        self.finish(i, now_ms, l, r)
    }

    /// A connection accepted by [`on_connect`](Self::on_connect) closed.
    pub fn on_close(&mut self, addr: &Addr) {
        if let Some(i) = self.find(addr) {
            self.with_client(i, |c| c.conns = c.conns.saturating_sub(1));
            // Time 0: any recorded block still counts for the list choice; eviction checks
            // expiry itself.
            self.relink(i, 0);
        }
    }

    /// A new request from `addr`: counts it against `request_rate` and `request_burst`.
    /// Refused when the client is blocked (requests pipelined before the block).
    pub fn on_request(&mut self, addr: &Addr, now_ms: u64, l: &FrangLimits<'_>) -> Verdict {
        let i = self.find_or_insert(addr, now_ms)?;
        let r = self.check(i, |c| {
            if c.blocked_until(now_ms).is_some() {
                return Err(Limit::Blocked);
            }
            match c
                .requests
                .hit(l.rate_frame, now_ms)
                .exceeds(l.request_rate, l.request_burst)
            {
                Some(RateKind::Burst) => Err(Limit::RequestBurst),
                Some(RateKind::Rate) => Err(Limit::RequestRate),
                None => Ok(()),
            }
        });
        self.finish(i, now_ms, l, r)
    }

    /// A TLS handshake of `addr` ended: counts it against the TLS limits.
    pub fn on_tls_handshake(
        &mut self,
        addr: &Addr,
        now_ms: u64,
        hs: Handshake,
        l: &FrangLimits<'_>,
    ) -> Verdict {
        let i = self.find_or_insert(addr, now_ms)?;
        let r = self.check(i, |c| match hs {
            Handshake::New => match c
                .tls_new
                .hit(l.rate_frame, now_ms)
                .exceeds(l.tls_connection_rate, l.tls_connection_burst)
            {
                Some(RateKind::Burst) => Err(Limit::TlsConnectionBurst),
                Some(RateKind::Rate) => Err(Limit::TlsConnectionRate),
                None => Ok(()),
            },
            Handshake::Incomplete => match c
                .tls_incomplete
                .hit(l.rate_frame, now_ms)
                .exceeds(l.tls_incomplete_connection_rate, 0)
            {
                Some(_) => Err(Limit::TlsIncompleteRate),
                None => Ok(()),
            },
            Handshake::Resumed => Ok(()),
        });
        self.finish(i, now_ms, l, r)
    }

    /// A response with `status` is sent to `addr` for a request whose location has limits
    /// `l`: counts it against `http_resp_code_block`. Checked on responses rather than on
    /// requests because a password guesser pipelines its attempts and waits for the answers.
    pub fn on_response(
        &mut self,
        addr: &Addr,
        now_ms: u64,
        status: u16,
        l: &FrangLimits<'_>,
    ) -> Verdict {
        let Some(rcb) = l.http_resp_code_block else {
            return Ok(());
        };
        if !rcb.codes.contains(status) {
            return Ok(());
        }
        let i = self.find_or_insert(addr, now_ms)?;
        let r = self.check(i, |c| {
            if c.responses.hit(rcb.period, now_ms).rate > rcb.limit {
                Err(Limit::RespCodeBlock)
            } else {
                Ok(())
            }
        });
        self.finish(i, now_ms, l, r)
    }

    /// Blocks `addr` for `secs` seconds from `now_ms` (0: forever); a longer existing block
    /// stays. False when the table has no room for the client.
    pub fn block(&mut self, addr: &Addr, now_ms: u64, secs: u32) -> bool {
        let Ok(i) = self.find_or_insert(addr, now_ms) else {
            return false;
        };
        self.block_index(i, now_ms, secs);
        true
    }

    /// Applies `ip_block` to `addr` after it exceeded a limit the caller checked (a
    /// [`check_request`](super::check_request) failure, an HTTP tables `block`): blocks it
    /// if `ip_block` is on; true if it is blocked.
    pub fn punish(&mut self, addr: &Addr, now_ms: u64, l: &FrangLimits<'_>) -> bool {
        match l.ip_block {
            Some(secs) => self.block(addr, now_ms, secs),
            None => false,
        }
    }

    /// Lifts a block of `addr`.
    pub fn unblock(&mut self, addr: &Addr) {
        if let Some(i) = self.find(addr) {
            self.with_client(i, |c| c.blocked_until = 0);
            self.relink(i, 0);
        }
    }

    /// Whether `addr` is blocked at `now_ms`. Read-only and O(1): fit for the per-packet
    /// netfilter hook.
    pub fn is_blocked(&self, addr: &Addr, now_ms: u64) -> bool {
        self.get(addr)
            .is_some_and(|c| c.blocked_until(now_ms).is_some())
    }

    /// Whether a message about `addr` may be logged now: once per `period_ms` per client, so
    /// that an attacker cannot flood the log (every refused packet would be a line). A client
    /// the table does not hold may be logged. Records the time when it returns true.
    pub fn should_log(&mut self, addr: &Addr, now_ms: u64, period_ms: u64) -> bool {
        self.should_log_within(addr, now_ms, period_ms, &mut LogBudget::new(1, 0))
    }

    /// [`should_log`](Self::should_log) under a global `budget` as well: a line that is due
    /// for the client takes a token from the budget; when there is none the line is
    /// suppressed (the budget counts it) and the client stays due, so its next refusal may
    /// be logged as soon as the budget allows.
    pub fn should_log_within(
        &mut self,
        addr: &Addr,
        now_ms: u64,
        period_ms: u64,
        budget: &mut LogBudget,
    ) -> bool {
        let Some(i) = self.find(addr) else {
            return budget.allow(now_ms);
        };
        self.with_client(i, |c| {
            let due = !matches!(c.last_log, Some(t) if now_ms.saturating_sub(t) < period_ms);
            if due && budget.allow(now_ms) {
                c.last_log = Some(now_ms);
                return true;
            }
            false
        })
        .unwrap_or(false)
    }

    // --- internals ---

    fn slot(&self, i: u32) -> Option<&ClientSlot> {
        self.slots.get(..self.cap)?.get(i as usize)
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut ClientSlot> {
        let cap = self.cap;
        self.slots.get_mut(..cap)?.get_mut(i as usize)
    }

    fn with_client<R>(&mut self, i: u32, f: impl FnOnce(&mut Client) -> R) -> Option<R> {
        self.slot_mut(i).map(|s| f(&mut s.client))
    }

    /// Runs a check on the client of slot `i` (which exists: it was just found).
    fn check(&mut self, i: u32, f: impl FnOnce(&mut Client) -> Verdict) -> Verdict {
        self.with_client(i, f).unwrap_or(Err(Limit::ClientTable))
    }

    /// Blocks on `Err` when `ip_block` is on, and moves the client to the end of its list.
    fn finish(&mut self, i: u32, now_ms: u64, l: &FrangLimits<'_>, r: Verdict) -> Verdict {
        if let (Err(e), Some(secs)) = (r, l.ip_block) {
            // A client refused for being blocked is not blocked again: that would make a
            // block last forever while the client keeps knocking.
            if e != Limit::Blocked {
                self.block_index(i, now_ms, secs);
            }
        }
        self.relink(i, now_ms);
        r
    }

    fn block_index(&mut self, i: u32, now_ms: u64, secs: u32) {
        let until = if secs == 0 {
            u64::MAX
        } else {
            now_ms.saturating_add(u64::from(secs).saturating_mul(1000))
        };
        self.with_client(i, |c| c.block_until(until));
        self.relink(i, now_ms);
    }

    fn bucket_of(&self, addr: &Addr) -> u32 {
        let b = reduce(self.key.hash(addr) >> 32, self.cap);
        u32::try_from(b).unwrap_or(NIL)
    }

    fn find(&self, addr: &Addr) -> Option<u32> {
        let mut i = self.slot(self.bucket_of(addr))?.head;
        while let Some(s) = self.slot(i) {
            if s.client.addr == *addr {
                return Some(i);
            }
            i = s.next;
        }
        None
    }

    fn find_or_insert(&mut self, addr: &Addr, now_ms: u64) -> Result<u32, Limit> {
        match self.find(addr) {
            Some(i) => Ok(i),
            None => self.insert(addr, now_ms).ok_or(Limit::ClientTable),
        }
    }

    fn insert(&mut self, addr: &Addr, now_ms: u64) -> Option<u32> {
        let bucket = self.bucket_of(addr);
        self.slot(bucket)?;
        let free = self.heads.get(List::Free as usize).copied().unwrap_or(NIL);
        let i = if free != NIL {
            free
        } else {
            let v = self.victim(now_ms)?;
            self.unhash(v);
            self.len = self.len.saturating_sub(1);
            self.evictions = self.evictions.saturating_add(1);
            v
        };
        self.unlink(i);
        // Read after the eviction: the victim may have been the first of this very chain.
        let head = self.slot(bucket)?.head;
        let s = self.slot_mut(i)?;
        s.client = Client::new(*addr);
        s.next = head;
        s.bucket = bucket;
        self.slot_mut(bucket)?.head = i;
        self.push_tail(i, List::Idle);
        self.len = self.len.saturating_add(1);
        Some(i)
    }

    /// The slot to evict, per the module documentation.
    fn victim(&self, now_ms: u64) -> Option<u32> {
        let idle = self.heads.get(List::Idle as usize).copied().unwrap_or(NIL);
        if idle != NIL {
            return Some(idle);
        }
        let first = self
            .heads
            .get(List::Blocked as usize)
            .copied()
            .unwrap_or(NIL);
        let mut i = first;
        for _ in 0..EXPIRED_SCAN {
            let Some(s) = self.slot(i) else { break };
            if s.client.blocked_until(now_ms).is_none() {
                return Some(i);
            }
            i = s.next_lru;
        }
        self.slot(first).map(|_| first)
    }

    /// Removes slot `i` from its hash chain.
    fn unhash(&mut self, i: u32) {
        let Some(&ClientSlot { bucket, next, .. }) = self.slot(i) else {
            return;
        };
        let Some(b) = self.slot_mut(bucket) else {
            return;
        };
        if b.head == i {
            b.head = next;
            return;
        }
        let mut cur = b.head;
        while let Some(s) = self.slot_mut(cur) {
            if s.next == i {
                s.next = next;
                return;
            }
            cur = s.next;
        }
    }

    /// Puts slot `i` at the most recently used end of the list its state calls for.
    fn relink(&mut self, i: u32, now_ms: u64) {
        let Some(s) = self.slot_mut(i) else { return };
        if s.list == List::Free {
            return;
        }
        if s.client.blocked_until != 0 && s.client.blocked_until <= now_ms {
            s.client.blocked_until = 0;
        }
        let list = if s.client.conns > 0 {
            List::Live
        } else if s.client.blocked_until != 0 {
            List::Blocked
        } else {
            List::Idle
        };
        self.unlink(i);
        self.push_tail(i, list);
    }

    fn unlink(&mut self, i: u32) {
        let Some(s) = self.slot_mut(i) else { return };
        let (prev, next, list) = (s.prev_lru, s.next_lru, s.list as usize);
        s.prev_lru = NIL;
        s.next_lru = NIL;
        match self.slot_mut(prev) {
            Some(p) => p.next_lru = next,
            None => {
                if let Some(h) = self.heads.get_mut(list) {
                    *h = next;
                }
            }
        }
        match self.slot_mut(next) {
            Some(n) => n.prev_lru = prev,
            None => {
                if let Some(t) = self.tails.get_mut(list) {
                    *t = prev;
                }
            }
        }
    }

    fn push_tail(&mut self, i: u32, list: List) {
        let l = list as usize;
        let tail = self.tails.get(l).copied().unwrap_or(NIL);
        let Some(s) = self.slot_mut(i) else { return };
        s.list = list;
        s.prev_lru = tail;
        s.next_lru = NIL;
        match self.slot_mut(tail) {
            Some(t) => t.next_lru = i,
            None => {
                if let Some(h) = self.heads.get_mut(l) {
                    *h = i;
                }
            }
        }
        if let Some(t) = self.tails.get_mut(l) {
            *t = i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::addr_v4;
    use super::super::limits::{CodeSet, RespCodeBlock};
    use super::super::window::Frame;
    use super::*;

    const KEY: HashKey = HashKey::new(*b"sixteen byte key");

    fn a(i: u32) -> Addr {
        addr_v4(i.to_be_bytes())
    }

    fn storage(n: usize) -> Vec<ClientSlot> {
        vec![ClientSlot::EMPTY; n]
    }

    fn lim() -> FrangLimits<'static> {
        FrangLimits::NONE
    }

    /// Walks every list and chain and checks they agree with `len`.
    fn check_invariants(t: &ClientTable<&mut [ClientSlot]>) {
        let mut seen = 0;
        for l in [List::Idle, List::Blocked, List::Live] {
            let mut i = t.heads[l as usize];
            let mut prev = NIL;
            while i != NIL {
                let s = &t.slots[i as usize];
                assert_eq!(s.list, l);
                assert_eq!(s.prev_lru, prev);
                assert_eq!(t.find(&s.client.addr), Some(i));
                match l {
                    List::Live => assert!(s.client.conns > 0),
                    _ => assert_eq!(s.client.conns, 0),
                }
                prev = i;
                i = s.next_lru;
                seen += 1;
            }
            assert_eq!(t.tails[l as usize], prev);
        }
        assert_eq!(seen, t.len());
        assert!(t.len() <= t.capacity());
    }

    #[test]
    fn slot_size_is_bounded() {
        // The kernel sizes its shards by this: 64 Ki clients take 17 MiB.
        assert_eq!(core::mem::size_of::<ClientSlot>(), 272);
    }

    #[test]
    fn connect_close_counts() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = lim();
        assert!(t.is_empty());
        assert_eq!(t.on_connect(&a(1), 0, &l, false), Ok(()));
        assert_eq!(t.on_connect(&a(1), 0, &l, false), Ok(()));
        assert_eq!(t.get(&a(1)).unwrap().conns(), 2);
        assert_eq!(t.len(), 1);
        t.on_close(&a(1));
        t.on_close(&a(1));
        t.on_close(&a(1)); // unbalanced close: saturates, never panics
        t.on_close(&a(99)); // unknown client
        assert_eq!(t.get(&a(1)).unwrap().conns(), 0);
        assert_eq!(t.get(&a(1)).unwrap().addr(), &a(1));
        check_invariants(&t);
    }

    #[test]
    fn concurrent_connections() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = FrangLimits {
            concurrent_tcp_connections: 2,
            ..lim()
        };
        assert_eq!(t.on_connect(&a(1), 0, &l, false), Ok(()));
        assert_eq!(t.on_connect(&a(1), 0, &l, false), Ok(()));
        assert_eq!(
            t.on_connect(&a(1), 0, &l, false),
            Err(Limit::ConcurrentConnections)
        );
        // The refused one is not counted open.
        assert_eq!(t.get(&a(1)).unwrap().conns(), 2);
        // Another client has its own count.
        assert_eq!(t.on_connect(&a(2), 0, &l, false), Ok(()));
        t.on_close(&a(1));
        assert_eq!(t.on_connect(&a(1), 0, &l, false), Ok(()));
        check_invariants(&t);
    }

    #[test]
    fn connection_burst_and_rate() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = FrangLimits {
            tcp_connection_burst: 2,
            tcp_connection_rate: 5,
            ..lim()
        };
        let c = &a(7);
        assert_eq!(t.on_connect(c, 0, &l, false), Ok(()));
        assert_eq!(t.on_connect(c, 10, &l, false), Ok(()));
        assert_eq!(t.on_connect(c, 20, &l, false), Err(Limit::ConnectionBurst));
        // Next slot: the burst resets, but the refused attempt counted in the rate (3).
        assert_eq!(t.on_connect(c, 125, &l, false), Ok(()));
        assert_eq!(t.on_connect(c, 250, &l, false), Ok(()));
        assert_eq!(t.on_connect(c, 375, &l, false), Err(Limit::ConnectionRate));
        // A frame later all is forgotten.
        assert_eq!(t.on_connect(c, 1375, &l, false), Ok(()));
    }

    #[test]
    fn request_burst_and_rate() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = FrangLimits {
            request_burst: 3,
            request_rate: 4,
            ..lim()
        };
        let c = &a(1);
        for _ in 0..3 {
            assert_eq!(t.on_request(c, 0, &l), Ok(()));
        }
        assert_eq!(t.on_request(c, 0, &l), Err(Limit::RequestBurst));
        assert_eq!(t.on_request(c, 130, &l), Err(Limit::RequestRate));
        assert_eq!(t.on_request(c, 1130, &l), Ok(()));
        // Unlimited.
        for _ in 0..10_000 {
            assert_eq!(t.on_request(&a(2), 0, &lim()), Ok(()));
        }
    }

    #[test]
    fn request_rate_with_custom_frame() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = FrangLimits {
            request_rate: 2,
            rate_frame: Frame::from_secs(10),
            ..lim()
        };
        assert_eq!(t.on_request(&a(1), 0, &l), Ok(()));
        assert_eq!(t.on_request(&a(1), 5_000, &l), Ok(()));
        assert_eq!(t.on_request(&a(1), 9_000, &l), Err(Limit::RequestRate));
        assert_eq!(t.on_request(&a(1), 20_000, &l), Ok(()));
    }

    #[test]
    fn tls_limits() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = FrangLimits {
            tls_connection_burst: 1,
            tls_connection_rate: 2,
            tls_incomplete_connection_rate: 1,
            ..lim()
        };
        let c = &a(1);
        assert_eq!(t.on_tls_handshake(c, 0, Handshake::New, &l), Ok(()));
        assert_eq!(
            t.on_tls_handshake(c, 0, Handshake::New, &l),
            Err(Limit::TlsConnectionBurst)
        );
        assert_eq!(t.on_tls_handshake(c, 0, Handshake::Resumed, &l), Ok(()));
        assert_eq!(
            t.on_tls_handshake(c, 200, Handshake::New, &l),
            Err(Limit::TlsConnectionRate)
        );
        assert_eq!(t.on_tls_handshake(c, 0, Handshake::Incomplete, &l), Ok(()));
        assert_eq!(
            t.on_tls_handshake(c, 300, Handshake::Incomplete, &l),
            Err(Limit::TlsIncompleteRate)
        );
    }

    #[test]
    fn response_code_block() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let mut codes = CodeSet::EMPTY;
        codes.insert(401);
        codes.insert(403);
        let l = FrangLimits {
            http_resp_code_block: Some(RespCodeBlock {
                codes,
                limit: 2,
                period: Frame::from_secs(2),
            }),
            ip_block: Some(60),
            ..lim()
        };
        let c = &a(1);
        assert_eq!(t.on_response(c, 0, 200, &l), Ok(()));
        assert_eq!(t.on_response(c, 0, 401, &l), Ok(()));
        assert_eq!(t.on_response(c, 500, 403, &l), Ok(()));
        assert_eq!(t.on_response(c, 1999, 401, &l), Err(Limit::RespCodeBlock));
        assert!(t.is_blocked(c, 2000));
        // Other codes and clients are not counted; no config, no check.
        assert_eq!(t.on_response(&a(2), 0, 404, &l), Ok(()));
        assert!(t.get(&a(2)).is_none());
        assert_eq!(t.on_response(&a(2), 0, 401, &lim()), Ok(()));
        // The period slides: a 4th response 2 s after the first ones is fine for client 3.
        let c = &a(3);
        assert_eq!(t.on_response(c, 0, 401, &l), Ok(()));
        assert_eq!(t.on_response(c, 0, 401, &l), Ok(()));
        assert_eq!(t.on_response(c, 2000, 401, &l), Ok(()));
    }

    #[test]
    fn ip_block_on_violation_and_expiry() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = FrangLimits {
            request_burst: 1,
            ip_block: Some(10),
            ..lim()
        };
        let c = &a(1);
        assert_eq!(t.on_request(c, 1000, &l), Ok(()));
        assert_eq!(t.on_request(c, 1000, &l), Err(Limit::RequestBurst));
        assert!(t.is_blocked(c, 1000));
        assert!(t.is_blocked(c, 10_999));
        assert!(!t.is_blocked(c, 11_000));
        // While blocked every event is refused, and knocking does not extend the block.
        assert_eq!(t.on_request(c, 5000, &l), Err(Limit::Blocked));
        assert_eq!(t.on_connect(c, 5000, &l, false), Err(Limit::Blocked));
        assert_eq!(t.get(c).unwrap().blocked_until(5000), Some(11_000));
        assert_eq!(t.on_request(c, 11_000, &l), Ok(()));
        assert_eq!(t.get(c).unwrap().blocked_until(11_000), None);
        check_invariants(&t);
    }

    #[test]
    fn no_ip_block_means_no_block() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = FrangLimits {
            request_burst: 1,
            ..lim()
        };
        t.on_request(&a(1), 0, &l).unwrap();
        assert_eq!(t.on_request(&a(1), 0, &l), Err(Limit::RequestBurst));
        assert!(!t.is_blocked(&a(1), 0));
        assert!(!t.punish(&a(1), 0, &l));
        assert!(t.punish(
            &a(1),
            0,
            &FrangLimits {
                ip_block: Some(1),
                ..l
            }
        ));
        assert!(t.is_blocked(&a(1), 999) && !t.is_blocked(&a(1), 1000));
    }

    #[test]
    fn explicit_block_forever_and_unblock() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        assert!(t.block(&a(1), 0, 0));
        assert!(t.is_blocked(&a(1), u64::MAX - 1));
        // A shorter block does not shorten a longer one.
        assert!(t.block(&a(1), 0, 5));
        assert!(t.is_blocked(&a(1), 1_000_000));
        t.unblock(&a(1));
        assert!(!t.is_blocked(&a(1), 0));
        assert!(!t.is_blocked(&a(2), 0));
        t.unblock(&a(2));
        // Huge durations saturate.
        assert!(t.block(&a(3), u64::MAX - 5, u32::MAX));
        assert!(t.is_blocked(&a(3), u64::MAX - 1));
        check_invariants(&t);
    }

    #[test]
    fn whitelisted_bypasses_limits() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = FrangLimits {
            concurrent_tcp_connections: 1,
            tcp_connection_burst: 1,
            ip_block: Some(0),
            ..lim()
        };
        t.block(&a(1), 0, 0);
        for _ in 0..5 {
            assert_eq!(t.on_connect(&a(1), 0, &l, true), Ok(()));
        }
        assert_eq!(t.get(&a(1)).unwrap().conns(), 5);
        assert_eq!(t.on_connect(&a(1), 0, &l, false), Err(Limit::Blocked));
    }

    #[test]
    fn should_log_once_per_period() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        assert!(t.should_log(&a(1), 0, 1000)); // unknown client
        t.on_request(&a(1), 0, &lim()).unwrap();
        assert!(t.should_log(&a(1), 0, 1000));
        assert!(!t.should_log(&a(1), 999, 1000));
        assert!(t.should_log(&a(1), 1000, 1000));
        assert!(!t.should_log(&a(1), 500, 1000)); // clock went back
        assert!(t.should_log(&a(2), 500, 1000)); // per client
    }

    #[test]
    fn log_budget_suppressed_client_stays_due() {
        let mut st = storage(8);
        let mut t = ClientTable::new(&mut st[..], KEY);
        t.on_request(&a(1), 0, &lim()).unwrap();
        t.on_request(&a(2), 0, &lim()).unwrap();
        let mut b = LogBudget::new(1, 1);
        assert!(t.should_log_within(&a(1), 5_000, 1000, &mut b));
        // No token left: a(2) is suppressed but not marked as logged...
        assert!(!t.should_log_within(&a(2), 5_000, 1000, &mut b));
        assert_eq!(b.suppressed(), 1);
        // ...so it is logged as soon as a token comes back, within its own period.
        assert!(t.should_log_within(&a(2), 6_000, 1000, &mut b));
        // a(1) is not due before its period ends: no token is taken for it.
        assert!(!t.should_log_within(&a(1), 5_500, 1000, &mut b));
        assert_eq!(b.suppressed(), 1);
    }

    #[test]
    fn bounded_under_10000_addresses() {
        let mut st = storage(64);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = lim();
        for i in 0..10_000u32 {
            assert_eq!(t.on_connect(&a(i), u64::from(i), &l, false), Ok(()));
            t.on_close(&a(i));
            assert!(t.len() <= 64);
        }
        assert_eq!(t.len(), 64);
        assert_eq!(t.evictions(), 10_000 - 64);
        // LRU: the last 64 are the ones kept.
        assert!((10_000 - 64..10_000).all(|i| t.get(&a(i)).is_some()));
        assert!(t.get(&a(0)).is_none());
        check_invariants(&t);
    }

    #[test]
    fn lru_order_follows_activity() {
        let mut st = storage(4);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = lim();
        for i in 0..4 {
            t.on_request(&a(i), 0, &l).unwrap();
        }
        // Touch client 0: client 1 becomes the least recently used.
        t.on_request(&a(0), 1, &l).unwrap();
        t.on_request(&a(9), 2, &l).unwrap();
        assert!(t.get(&a(0)).is_some());
        assert!(t.get(&a(1)).is_none());
        check_invariants(&t);
    }

    #[test]
    fn live_clients_are_never_evicted() {
        let mut st = storage(16);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = lim();
        for i in 0..10 {
            t.on_connect(&a(i), 0, &l, false).unwrap();
        }
        for i in 100..10_100 {
            t.on_request(&a(i), 1, &l).unwrap();
        }
        assert!((0..10).all(|i| t.get(&a(i)).map(Client::conns) == Some(1)));
        check_invariants(&t);
        // Full of live clients: a newcomer is refused, the others keep their counts.
        for i in 10..16 {
            t.on_connect(&a(i), 2, &l, false).unwrap();
        }
        assert_eq!(t.on_connect(&a(500), 3, &l, false), Err(Limit::ClientTable));
        assert_eq!(t.on_request(&a(501), 3, &l), Err(Limit::ClientTable));
        assert!(!t.block(&a(502), 3, 0));
        assert!(!t.is_blocked(&a(502), 3));
        // One closes: room again.
        t.on_close(&a(3));
        assert_eq!(t.on_connect(&a(500), 4, &l, false), Ok(()));
        assert!(t.get(&a(3)).is_none());
        check_invariants(&t);
    }

    #[test]
    fn blocked_clients_outlive_idle_ones() {
        let mut st = storage(16);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = lim();
        for i in 0..8 {
            assert!(t.block(&a(i), 0, 3600));
        }
        for i in 100..10_100 {
            t.on_request(&a(i), 10, &l).unwrap();
        }
        assert!((0..8).all(|i| t.is_blocked(&a(i), 20)));
        check_invariants(&t);
    }

    #[test]
    fn expired_blocks_go_first_then_oldest_blocks() {
        let mut st = storage(4);
        let mut t = ClientTable::new(&mut st[..], KEY);
        assert!(t.block(&a(0), 0, 100)); // long
        assert!(t.block(&a(1), 0, 1)); // expires at 1000
        assert!(t.block(&a(2), 0, 100));
        assert!(t.block(&a(3), 0, 100));
        // Only blocked clients: the expired one goes, though it is not the oldest.
        assert!(t.block(&a(4), 2000, 100));
        assert!(t.get(&a(1)).is_none());
        assert!(t.is_blocked(&a(0), 2000));
        // None expired: the least recently active blocked client goes.
        assert!(t.block(&a(5), 3000, 100));
        assert!(t.get(&a(0)).is_none());
        assert!([2, 3, 4, 5].iter().all(|&i| t.is_blocked(&a(i), 3000)));
        check_invariants(&t);
    }

    #[test]
    fn empty_storage_refuses_everyone() {
        let mut st: [ClientSlot; 0] = [];
        let mut t = ClientTable::new(&mut st[..], KEY);
        assert_eq!(t.capacity(), 0);
        assert_eq!(
            t.on_connect(&a(1), 0, &lim(), false),
            Err(Limit::ClientTable)
        );
        assert!(!t.is_blocked(&a(1), 0));
        assert!(t.should_log(&a(1), 0, 1));
        t.on_close(&a(1));
    }

    #[test]
    fn reused_storage_is_reset() {
        let mut st = storage(4);
        {
            let mut t = ClientTable::new(&mut st[..], KEY);
            t.on_connect(&a(1), 0, &lim(), false).unwrap();
        }
        let t = ClientTable::new(&mut st[..], KEY);
        assert!(t.is_empty() && t.get(&a(1)).is_none());
        check_invariants(&t);
    }

    #[test]
    fn chains_stay_short_and_depend_on_the_key() {
        const N: usize = 4096;
        let chains = |key: HashKey| {
            let mut st = storage(N);
            let mut t = ClientTable::new(&mut st[..], key);
            for i in 0..N as u32 {
                t.on_request(&a(i), 0, &lim()).unwrap();
            }
            let buckets: Vec<u32> = (0..N as u32).map(|i| t.bucket_of(&a(i))).collect();
            let longest = (0..N)
                .map(|b| {
                    let mut n = 0;
                    let mut i = t.slots[b].head;
                    while i != NIL {
                        n += 1;
                        i = t.slots[i as usize].next;
                    }
                    n
                })
                .max()
                .unwrap();
            check_invariants(&t);
            (buckets, longest)
        };
        let (b1, l1) = chains(KEY);
        let (b2, l2) = chains(HashKey::new(*b"another key here"));
        // Full load, random hash: the longest chain of 4096 is about 7.
        assert!(l1 <= 12 && l2 <= 12, "{l1} {l2}");
        let same = b1.iter().zip(&b2).filter(|(x, y)| x == y).count();
        assert!(same < N / 100, "{same}");
    }

    #[test]
    fn churn_keeps_invariants() {
        let mut st = storage(32);
        let mut t = ClientTable::new(&mut st[..], KEY);
        let l = FrangLimits {
            concurrent_tcp_connections: 3,
            ip_block: Some(1),
            ..lim()
        };
        let mut x: u32 = 1;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let c = a(x % 64);
            match x % 7 {
                0 | 1 => _ = t.on_connect(&c, step, &l, false),
                2 => t.on_close(&c),
                3 => _ = t.on_request(&c, step, &l),
                4 => _ = t.block(&c, step, 1),
                5 => t.unblock(&c),
                _ => _ = t.should_log(&c, step, 10),
            }
            if step % 997 == 0 {
                check_invariants(&t);
            }
        }
        check_invariants(&t);
    }
}
