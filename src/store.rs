// SPDX-License-Identifier: GPL-2.0

//! The web cache's store: stored responses in page-allocator pages, found by the keyed hash
//! of their URI, bounded by `cache_size` with least-recently-used eviction.
//!
//! The policy (what is stored, for how long, what a hit answers) is the `cache/` crate's;
//! this module only keeps bytes and metadata. It runs where the proxy runs, with glue.c's data
//! lock held (a hit is answered in the client's `sk_data_ready`, in softirq, when the lock is
//! free), so the store is single-owner state without locks of its own.
//!
//! * An [`Obj`] is immutable once published and shared by reference count: a client still
//!   sending an entry that was evicted or replaced keeps it alive until the send is done.
//! * The metadata a 304 revalidation or a PURGE changes (the [`Entry`]) lives in the store's
//!   slot, not in the object. A 304 also updates the stored fields: the slot gets a new
//!   object with those fields that shares the body ([`Obj::with_fields`]).
//! * Bodies live in whole pages ([`Pages`]), never in kmalloc memory, so a large object does
//!   not need a large contiguous allocation and growing it never copies.
//! * A hit's body goes to the socket from those pages without a copy ([`Pages::splice`]):
//!   TCP takes its own page references, so a page outlives an evicted object while its
//!   segments are in flight, and since a published body is never written, what TCP sends is
//!   what was stored.

use kernel::page::{Page, PAGE_SIZE};
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};
use kernel::sync::Arc;

use crate::cache::wire::{Full, Sink};
use crate::cache::{vary, Entry, Fields, Key, Seed};
use crate::sock::{gfp, gfp_bulk, Sock};
use crate::sys;

/// Bookkeeping bytes charged to each object besides its data.
const OVERHEAD: usize = 256;

/// A body in pages.
pub(crate) struct Pages {
    pages: KVec<Page>,
    len: usize,
    /// Appending past this many bytes fails.
    limit: usize,
}

impl Pages {
    pub(crate) fn new(limit: usize) -> Self {
        Pages {
            pages: KVec::new(),
            len: 0,
            limit,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of memory held.
    fn footprint(&self) -> usize {
        let index = self
            .pages
            .capacity()
            .saturating_mul(core::mem::size_of::<Page>());
        self.pages
            .len()
            .saturating_mul(PAGE_SIZE)
            .saturating_add(index)
    }

    /// Appends `b`, allocating pages as needed.
    pub(crate) fn append(&mut self, mut b: &[u8]) -> Result {
        if self.len.saturating_add(b.len()) > self.limit {
            return Err(EFBIG);
        }
        while !b.is_empty() {
            let off = self.len % PAGE_SIZE;
            if off == 0 && self.len / PAGE_SIZE == self.pages.len() {
                self.pages.push(Page::alloc_page(gfp_bulk())?, gfp())?;
            }
            let page = self.pages.get(self.len / PAGE_SIZE).ok_or(EINVAL)?;
            let n = b.len().min(PAGE_SIZE.saturating_sub(off));
            // SAFETY: `b` is valid for reading `n <= b.len()` bytes; the page belongs to this
            // unpublished body, which nothing else reads or writes.
            unsafe { page.write_raw(b.as_ptr(), off, n)? };
            self.len = self.len.saturating_add(n);
            b = b.get(n..).unwrap_or_default();
        }
        Ok(())
    }

    /// Queues the bytes from offset `off` on `sock` without copying them; returns how many
    /// (0 when the send buffer is full), or an errno.
    ///
    /// Only for a published body: TCP keeps referencing the pages after this returns.
    pub(crate) fn splice(&self, sock: &Sock, off: usize) -> core::result::Result<usize, i32> {
        const N: usize = sys::TFW_SPLICE_PAGES as usize;
        if off >= self.len {
            return Ok(0);
        }
        let mut ptrs = [core::ptr::null_mut::<kernel::ffi::c_void>(); N];
        let mut n = 0usize;
        for (slot, page) in ptrs.iter_mut().zip(self.pages.iter().skip(off / PAGE_SIZE)) {
            *slot = page.as_ptr().cast();
            n = n.saturating_add(1);
        }
        let in_page = off % PAGE_SIZE;
        let len = self
            .len
            .saturating_sub(off)
            .min(n.saturating_mul(PAGE_SIZE).saturating_sub(in_page));
        let Some(pages) = ptrs.get(..n) else {
            return Ok(0);
        };
        let more = off.saturating_add(len) < self.len;
        // SAFETY: the pointers are pages this body owns (allocated by `Page::alloc_page`),
        // alive for the call; a published body is never written again, so the bytes TCP
        // reads later through its own page references do not change.
        unsafe { sock.send_pages(pages, in_page, len, more) }
    }
}

impl Sink for Pages {
    fn put(&mut self, bytes: &[u8]) -> core::result::Result<(), Full> {
        self.append(bytes).map_err(|_| Full)
    }
}

/// Appends to a kmalloc'd vector (the small parts of an object: its key and fields).
pub(crate) struct VecSink<'a>(pub(crate) &'a mut KVec<u8>);

impl Sink for VecSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> core::result::Result<(), Full> {
        self.0.extend_from_slice(bytes, gfp()).map_err(|_| Full)
    }
}

/// A stored response.
pub(crate) struct Obj {
    https: bool,
    host: KVec<u8>,
    path: KVec<u8>,
    /// The status code and reason phrase (`200 OK`).
    pub(crate) status_text: KVec<u8>,
    /// The stored field lines (`wire::stored_fields`).
    pub(crate) fields: KVec<u8>,
    /// Shared with the object a revalidation replaces this one with (new fields, same
    /// body).
    pub(crate) body: Arc<Pages>,
}

/// An object being filled from the upstream's response: an [`Obj`] whose body still grows.
pub(crate) struct NewObj {
    https: bool,
    host: KVec<u8>,
    path: KVec<u8>,
    pub(crate) status_text: KVec<u8>,
    pub(crate) fields: KVec<u8>,
    pub(crate) body: Pages,
}

impl NewObj {
    /// The complete object, ready to publish.
    pub(crate) fn finish(self) -> Result<Obj> {
        Ok(Obj {
            https: self.https,
            host: self.host,
            path: self.path,
            status_text: self.status_text,
            fields: self.fields,
            body: Arc::new(self.body, gfp())?,
        })
    }
}

/// A copy of `b`.
fn copied(b: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::new();
    v.extend_from_slice(b, gfp())?;
    Ok(v)
}

impl Obj {
    /// An object for `key`, to be filled before it is published.
    pub(crate) fn new(key: &Key<'_>, body_limit: usize) -> Result<NewObj> {
        Ok(NewObj {
            https: key.https,
            host: copied(key.host)?,
            path: copied(key.path)?,
            status_text: KVec::new(),
            fields: KVec::new(),
            body: Pages::new(body_limit),
        })
    }

    /// This object with the field lines `fields` (a revalidation updated them), sharing the
    /// body.
    pub(crate) fn with_fields(&self, fields: KVec<u8>) -> Result<Obj> {
        Ok(Obj {
            https: self.https,
            host: copied(&self.host)?,
            path: copied(&self.path)?,
            status_text: copied(&self.status_text)?,
            fields,
            body: self.body.clone(),
        })
    }

    fn key(&self) -> Key<'_> {
        Key {
            https: self.https,
            host: &self.host,
            path: &self.path,
        }
    }

    /// Bytes charged against `cache_size`.
    fn size(&self) -> usize {
        OVERHEAD
            .saturating_add(self.host.capacity())
            .saturating_add(self.path.capacity())
            .saturating_add(self.status_text.capacity())
            .saturating_add(self.fields.capacity())
            .saturating_add(self.body.footprint())
    }
}

struct Slot {
    obj: Arc<Obj>,
    entry: Entry,
    /// The hash of the request fields the response's Vary names (`vary::variant_hash`).
    variant: u64,
    /// Its position in the LRU order.
    seq: u64,
    size: usize,
}

/// Counters for `/proc/tempesta/perfstat`.
#[derive(Clone, Copy, Default)]
pub(crate) struct CacheStats {
    pub(crate) hits: u64,
    pub(crate) not_modified: u64,
    pub(crate) misses: u64,
    pub(crate) stored: u64,
    pub(crate) evicted: u64,
    pub(crate) invalidated: u64,
    pub(crate) revalidated: u64,
    pub(crate) purged: u64,
    /// Stale entries served instead of an upstream error (`cache_use_stale`).
    pub(crate) stale_served: u64,
    pub(crate) objects: u64,
    pub(crate) bytes: u64,
}

/// The store.
pub(crate) struct Store {
    seed: Seed,
    /// Key hash -> the entries under it (variants, and keys that collide).
    map: RBTree<u64, KVec<Slot>>,
    /// LRU order: sequence number -> key hash; the smallest is evicted first.
    lru: RBTree<u64, u64>,
    next_seq: u64,
    limit: u64,
    pub(crate) stats: CacheStats,
}

impl Store {
    /// An empty store of at most `limit` bytes, with a random hash seed.
    pub(crate) fn new(limit: u64) -> Store {
        let mut k = [0u64; 2];
        // SAFETY: `k` is valid for writing its size in bytes.
        unsafe { crate::sys::tfw_glue_random(k.as_mut_ptr().cast(), core::mem::size_of_val(&k)) };
        Store {
            seed: Seed { k0: k[0], k1: k[1] },
            map: RBTree::new(),
            lru: RBTree::new(),
            next_seq: 0,
            limit,
            stats: CacheStats::default(),
        }
    }

    pub(crate) fn seed(&self) -> Seed {
        self.seed
    }

    /// A new `cache_size`: evicts down to it.
    pub(crate) fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
        while self.stats.bytes > self.limit && self.evict_one() {}
    }

    /// The entry for `key` whose variant matches request fields `req`, made the most
    /// recently used.
    pub(crate) fn find<F: Fields + ?Sized>(
        &mut self,
        key: &Key<'_>,
        req: &F,
    ) -> Option<(Arc<Obj>, Entry)> {
        let hash = key.hash(self.seed);
        let seed = self.seed;
        let next = self.next_seq;
        let slots = self.map.get_mut(&hash)?;
        let slot = slots.iter_mut().find(|s| {
            s.obj.key().matches(key)
                && vary::variant_hash(seed, &crate::cache::wire::FieldBlock(&s.obj.fields), req)
                    == s.variant
        })?;
        let old = slot.seq;
        slot.seq = next;
        let found = (slot.obj.clone(), slot.entry);
        self.next_seq = next.wrapping_add(1);
        if let Some(node) = self.lru.remove_node(&old) {
            self.lru
                .insert(node.into_reservation().into_node(next, hash));
        }
        Some(found)
    }

    /// Publishes `obj`, replacing the entry of the same key and variant; evicts the least
    /// recently used entries to stay within the limit. An object larger than the whole
    /// store is refused.
    pub(crate) fn publish(&mut self, obj: Obj, entry: Entry, variant: u64) -> Result {
        let size = obj.size();
        if size as u64 > self.limit {
            return Err(EFBIG);
        }
        let hash = obj.key().hash(self.seed);
        self.remove_where(hash, |s| {
            s.obj.key().matches(&obj.key()) && s.variant == variant
        });
        while self.stats.bytes.saturating_add(size as u64) > self.limit && self.evict_one() {}
        let seq = self.next_seq;
        let node = RBTreeNode::new(seq, hash, gfp())?;
        let obj = Arc::new(obj, gfp())?;
        let slot = Slot {
            obj,
            entry,
            variant,
            seq,
            size,
        };
        match self.map.get_mut(&hash) {
            Some(slots) => slots.push(slot, gfp())?,
            None => {
                let mut slots = KVec::new();
                slots.push(slot, gfp())?;
                self.map.try_create_and_insert(hash, slots, gfp())?;
            }
        }
        self.lru.insert(node);
        self.next_seq = seq.wrapping_add(1);
        let s = &mut self.stats;
        s.stored = s.stored.saturating_add(1);
        s.objects = s.objects.saturating_add(1);
        s.bytes = s.bytes.saturating_add(size as u64);
        Ok(())
    }

    /// The current metadata of the entry holding `obj`, if it is still stored (not purged,
    /// replaced or evicted since it was found).
    pub(crate) fn entry_of(&self, obj: &Arc<Obj>) -> Option<Entry> {
        self.map
            .get(&obj.key().hash(self.seed))?
            .iter()
            .find(|s| Arc::ptr_eq(&s.obj, obj))
            .map(|s| s.entry)
    }

    /// The entry holding `old` (a 304 revalidated it) gets object `new` (its updated
    /// fields, the same body) and metadata `entry`, if it is still stored; returns the object
    /// now stored (the new one, or `old` when it could not be replaced).
    pub(crate) fn refresh(&mut self, old: &Arc<Obj>, new: Result<Obj>, entry: Entry) -> Arc<Obj> {
        let hash = old.key().hash(self.seed);
        let new = new.and_then(|o| Arc::new(o, gfp()).map_err(Into::into));
        let Some(s) = self
            .map
            .get_mut(&hash)
            .and_then(|slots| slots.iter_mut().find(|s| Arc::ptr_eq(&s.obj, old)))
        else {
            return new.unwrap_or_else(|_| old.clone());
        };
        s.entry = entry;
        if let Ok(new) = new {
            let size = new.size();
            let st = &mut self.stats;
            st.bytes = st
                .bytes
                .saturating_sub(s.size as u64)
                .saturating_add(size as u64);
            s.obj = new;
            s.size = size;
        }
        let stored = s.obj.clone();
        while self.stats.bytes > self.limit && self.evict_one() {}
        stored
    }

    /// Removes every entry (all variants) of `key`; returns how many.
    pub(crate) fn remove(&mut self, key: &Key<'_>) -> usize {
        let hash = key.hash(self.seed);
        self.remove_where(hash, |s| s.obj.key().matches(key))
    }

    /// Makes every entry of `key` stale, so that its next use revalidates; returns how many.
    pub(crate) fn invalidate(&mut self, key: &Key<'_>) -> usize {
        let hash = key.hash(self.seed);
        let Some(slots) = self.map.get_mut(&hash) else {
            return 0;
        };
        let mut n = 0usize;
        for s in slots.iter_mut().filter(|s| s.obj.key().matches(key)) {
            s.entry.lifetime = 0;
            s.entry.no_cache = true;
            n = n.saturating_add(1);
        }
        n
    }

    fn remove_where(&mut self, hash: u64, pred: impl Fn(&Slot) -> bool) -> usize {
        let Store {
            map, lru, stats, ..
        } = self;
        let Some(slots) = map.get_mut(&hash) else {
            return 0;
        };
        let mut removed = 0usize;
        let mut i = 0usize;
        while i < slots.len() {
            if !slots.get(i).is_some_and(&pred) {
                i = i.saturating_add(1);
                continue;
            }
            if let Some(s) = swap_remove(slots, i) {
                lru.remove(&s.seq);
                removed = removed.saturating_add(1);
                stats.objects = stats.objects.saturating_sub(1);
                stats.bytes = stats.bytes.saturating_sub(s.size as u64);
            }
        }
        if slots.is_empty() {
            map.remove(&hash);
        }
        removed
    }

    /// Evicts the least recently used entry; false if the store is empty.
    fn evict_one(&mut self) -> bool {
        let Some(cursor) = self.lru.cursor_front() else {
            return false;
        };
        let (seq, hash) = {
            let (k, v) = cursor.current();
            (*k, *v)
        };
        let (_, node) = cursor.remove_current();
        drop(node);
        let n = self.remove_where(hash, |s| s.seq == seq);
        self.stats.evicted = self.stats.evicted.saturating_add(n as u64);
        true
    }
}

/// `Vec::swap_remove`, which `KVec` of 6.12 lacks.
pub(crate) fn swap_remove<T>(v: &mut KVec<T>, i: usize) -> Option<T> {
    let last = v.len().checked_sub(1)?;
    if i > last {
        return None;
    }
    v.swap(i, last);
    let ptr = v.as_mut_ptr();
    // SAFETY: `last < len`: the element is initialized; the length is lowered right after
    // reading it out, so it is not dropped twice.
    let item = unsafe { ptr.add(last).read() };
    // SAFETY: the element at `last` was moved out above; the first `last` stay initialized.
    unsafe { v.set_len(last) };
    Some(item)
}
