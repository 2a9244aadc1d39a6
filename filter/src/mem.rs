//! `client_mem`: how many bytes the proxy holds for each client address.
//!
//! Tempesta FW limits the memory one client can make it hold, summed over all of the client's
//! connections: `client_mem <soft> [<hard>]`. The kernel charges each client connection with
//! the bytes buffered for it (see `proxy/src/proxy.rs`) and asks this table for the client's total.
//!
//! An entry lives while its client has a connection, so the table never holds more entries
//! than there are client connections, and it never evicts (an evicted total would be lost
//! while its connections still count against it). The caller sizes it: [`MemTable::wants_room`]
//! says when the load passes one half, and [`MemTable::move_into`] rehashes into storage twice
//! the size, allocated where sleeping is allowed (the kernel grows it when it accepts a
//! connection, in its work item). Open addressing with linear probing and backward-shift
//! deletion (no tombstones, so probes stay short under churn); buckets come from the keyed
//! hash of [`HashKey`], so an attacker choosing addresses cannot aim them at one run.

use super::hash::{reduce, Addr, HashKey};

/// One client's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemSlot {
    addr: Addr,
    /// High half of the address's hash (its home bucket, kept for rehashing and deletion).
    hash: u32,
    /// Open connections; 0 is a free slot.
    conns: u32,
    /// Bytes held for the client.
    bytes: u64,
}

impl MemSlot {
    /// A free slot.
    pub const EMPTY: MemSlot = MemSlot {
        addr: [0; 16],
        hash: 0,
        conns: 0,
        bytes: 0,
    };
}

/// The table of per-client totals (see the module documentation).
pub struct MemTable<S> {
    slots: S,
    len: usize,
    key: HashKey,
}

impl<S: core::ops::DerefMut<Target = [MemSlot]>> MemTable<S> {
    /// A table over `slots` (all [`MemSlot::EMPTY`]).
    pub fn new(slots: S, key: HashKey) -> Self {
        Self { slots, len: 0, key }
    }

    /// Slots in the table.
    pub fn capacity(&self) -> usize {
        self.slots.deref().len()
    }

    /// Clients with an entry.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no client has an entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether a new client would take the table past half full: grow it first.
    pub fn wants_room(&self) -> bool {
        self.len.saturating_add(1).saturating_mul(2) > self.capacity()
    }

    /// Moves every entry into `to` (larger, all empty) and returns the old storage. Nothing is
    /// moved, and `to` comes back, if it could not hold them at most half full.
    pub fn move_into(&mut self, mut to: S) -> S {
        if self.len.saturating_mul(2) > to.deref().len() {
            return to;
        }
        let cap = to.deref().len();
        for s in self.slots.deref().iter().filter(|s| s.conns != 0) {
            let dst = to.deref_mut();
            let mut i = reduce(u64::from(s.hash), cap);
            // At most half full: a free slot is always found.
            for _ in 0..cap {
                match dst.get_mut(i) {
                    Some(d) if d.conns == 0 => {
                        *d = *s;
                        break;
                    }
                    _ => i = next(i, cap),
                }
            }
        }
        core::mem::replace(&mut self.slots, to)
    }

    /// Where `addr`'s entry is, or the free slot where it would go.
    fn find(&self, addr: &Addr) -> (usize, bool, u32) {
        let hash = (self.key.hash(addr) >> 32) as u32;
        let slots = self.slots.deref();
        let cap = slots.len();
        let mut i = reduce(u64::from(hash), cap);
        for _ in 0..cap {
            match slots.get(i) {
                Some(s) if s.conns == 0 => return (i, false, hash),
                Some(s) if s.hash == hash && s.addr == *addr => return (i, true, hash),
                _ => i = next(i, cap),
            }
        }
        (cap, false, hash)
    }

    /// A new connection of `addr`. False if the table has no room (grow it first).
    pub fn connect(&mut self, addr: &Addr) -> bool {
        let (i, found, hash) = self.find(addr);
        if !found && self.len.saturating_add(1) > self.capacity().saturating_sub(1) {
            // Always keep one slot free: probes end at it.
            return false;
        }
        let Some(s) = self.slots.deref_mut().get_mut(i) else {
            return false;
        };
        if found {
            s.conns = s.conns.saturating_add(1);
        } else {
            *s = MemSlot {
                addr: *addr,
                hash,
                conns: 1,
                bytes: 0,
            };
            self.len = self.len.saturating_add(1);
        }
        true
    }

    /// A connection of `addr` that was charged `from` bytes now holds `to`; returns the
    /// client's new total (0 for an unknown client).
    pub fn charge(&mut self, addr: &Addr, from: u64, to: u64) -> u64 {
        let (i, found, _) = self.find(addr);
        match self.slots.deref_mut().get_mut(i) {
            Some(s) if found => {
                s.bytes = s.bytes.saturating_sub(from).saturating_add(to);
                s.bytes
            }
            _ => 0,
        }
    }

    /// `addr`'s total (0 for an unknown client).
    pub fn total(&self, addr: &Addr) -> u64 {
        match self.find(addr) {
            (i, true, _) => self.slots.deref().get(i).map_or(0, |s| s.bytes),
            _ => 0,
        }
    }

    /// A connection of `addr`, charged `charged` bytes, is gone; the entry goes with the last.
    pub fn close(&mut self, addr: &Addr, charged: u64) {
        let (i, found, _) = self.find(addr);
        if !found {
            return;
        }
        let Some(s) = self.slots.deref_mut().get_mut(i) else {
            return;
        };
        s.bytes = s.bytes.saturating_sub(charged);
        s.conns = s.conns.saturating_sub(1);
        if s.conns == 0 {
            *s = MemSlot::EMPTY;
            self.len = self.len.saturating_sub(1);
            self.shift_back(i);
        }
    }

    /// Backward-shift deletion: slot `hole` was just freed; entries after it that probed past
    /// it move back so that every entry stays reachable from its home bucket.
    fn shift_back(&mut self, mut hole: usize) {
        let slots = self.slots.deref_mut();
        let cap = slots.len();
        let mut j = next(hole, cap);
        for _ in 0..cap {
            let Some(&s) = slots.get(j) else { return };
            if s.conns == 0 {
                return;
            }
            let home = reduce(u64::from(s.hash), cap);
            // The entry at j may fill the hole if its home is not in (hole, j] (cyclically).
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                if let Some(h) = slots.get_mut(hole) {
                    *h = s;
                }
                if let Some(e) = slots.get_mut(j) {
                    *e = MemSlot::EMPTY;
                }
                hole = j;
            }
            j = next(j, cap);
        }
    }
}

fn next(i: usize, cap: usize) -> usize {
    let n = i.saturating_add(1);
    if n >= cap {
        0
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::addr_v4;

    fn table(n: usize) -> MemTable<Vec<MemSlot>> {
        MemTable::new(vec![MemSlot::EMPTY; n], HashKey::new([7; 16]))
    }

    fn a(i: u32) -> Addr {
        addr_v4(i.to_be_bytes())
    }

    #[test]
    fn totals_are_per_address_over_connections() {
        let mut t = table(16);
        assert!(t.connect(&a(1)));
        assert!(t.connect(&a(1)));
        assert!(t.connect(&a(2)));
        assert_eq!(t.len(), 2);
        assert_eq!(t.charge(&a(1), 0, 100), 100);
        assert_eq!(t.charge(&a(1), 0, 50), 150);
        assert_eq!(t.charge(&a(1), 100, 10), 60);
        assert_eq!(t.total(&a(2)), 0);
        t.close(&a(1), 10);
        assert_eq!(t.total(&a(1)), 50);
        t.close(&a(1), 50);
        assert_eq!(t.total(&a(1)), 0);
        assert_eq!(t.len(), 1);
        assert_eq!(t.charge(&a(1), 0, 5), 0, "no entry after the last close");
    }

    #[test]
    fn full_table_refuses_and_grows() {
        let mut t = table(4);
        assert!(t.connect(&a(1)));
        assert!(t.connect(&a(2)));
        assert!(t.wants_room());
        assert!(t.connect(&a(3)));
        assert!(!t.connect(&a(4)), "one slot stays free");
        assert!(t.connect(&a(3)), "a known client always fits");
        t.charge(&a(3), 0, 33);
        let old = t.move_into(vec![MemSlot::EMPTY; 16]);
        assert_eq!(old.len(), 4);
        assert_eq!(t.capacity(), 16);
        assert!(t.connect(&a(4)));
        assert_eq!(t.total(&a(3)), 33);
        assert_eq!(t.len(), 4);
        // Too small a target is refused.
        let back = t.move_into(vec![MemSlot::EMPTY; 4]);
        assert_eq!(back.len(), 4);
        assert_eq!(t.capacity(), 16);
    }

    #[test]
    fn churn_keeps_every_entry_reachable() {
        // A model check: random connects, charges and closes against a plain map.
        let mut t = table(64);
        let mut model = std::collections::HashMap::<u32, (u32, u64)>::new();
        let mut x = 12345u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let who = (x % 40) as u32;
            match (x >> 8) % 3 {
                0 if model.len() < 31 || model.contains_key(&who) => {
                    assert!(t.connect(&a(who)));
                    model.entry(who).or_insert((0, 0)).0 += 1;
                }
                1 => {
                    if let Some(e) = model.get_mut(&who) {
                        let add = (x >> 20) % 1000;
                        e.1 += add;
                        assert_eq!(t.charge(&a(who), 0, add), e.1);
                    }
                }
                _ => {
                    if let Some(e) = model.get_mut(&who) {
                        let charged = e.1.min((x >> 30) % 500);
                        e.1 -= charged;
                        e.0 -= 1;
                        t.close(&a(who), charged);
                        if e.0 == 0 {
                            model.remove(&who);
                        }
                    }
                }
            }
            assert_eq!(t.len(), model.len());
        }
        for (who, (_, bytes)) in &model {
            assert_eq!(t.total(&a(*who)), *bytes);
        }
    }
}
