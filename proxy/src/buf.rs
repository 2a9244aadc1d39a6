// SPDX-License-Identifier: GPL-2.0

//! A byte queue: bytes are appended at the back and consumed from the front.
//!
//! Used for what a connection received and has not forwarded yet, and for what it must send
//! and the socket did not take yet. Bounded by its users: receive buffers by their fixed
//! capacity, send queues by the backpressure threshold (a reader stops producing when the
//! queue it feeds is above it).

use core::mem::MaybeUninit;

use kernel::prelude::*;

use crate::sock::gfp;

/// Receive buffers grow by this much at a time.
const GROW: usize = 8192;

pub(crate) struct Buf {
    v: KVec<u8>,
    /// Bytes before this index are consumed.
    start: usize,
}

impl Buf {
    pub(crate) const fn new() -> Self {
        Self {
            v: KVec::new(),
            start: 0,
        }
    }

    /// The unconsumed bytes.
    pub(crate) fn data(&self) -> &[u8] {
        self.v.get(self.start..).unwrap_or(&[])
    }

    pub(crate) fn len(&self) -> usize {
        self.v.len().saturating_sub(self.start)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops `n` bytes from the front (all of them if fewer are queued).
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.v.len());
        if self.start == self.v.len() {
            self.clear();
        }
    }

    pub(crate) fn clear(&mut self) {
        // SAFETY: shrinking a vector of `u8` (no destructors) to zero.
        unsafe { self.v.set_len(0) };
        self.start = 0;
    }

    /// Appends `b`.
    pub(crate) fn put(&mut self, b: &[u8]) -> Result {
        if self.start > 0 && self.start >= self.v.len() / 2 {
            self.compact();
        }
        self.v.extend_from_slice(b, gfp())?;
        Ok(())
    }

    /// Moves the unconsumed bytes to the front.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        let len = self.len();
        self.v.copy_within(self.start.., 0);
        // SAFETY: shrinking a vector of `u8`; the first `len` bytes were just initialized by
        // the copy.
        unsafe { self.v.set_len(len) };
        self.start = 0;
    }

    /// Room for at most `max` total bytes: the uninitialized tail to receive into. Call
    /// [`Buf::filled`] with what was written.
    ///
    /// The buffer grows in steps of [`GROW`] as data accumulates, so an idle or fast-draining
    /// connection holds a few KiB, not `max`.
    pub(crate) fn spare(&mut self, max: usize) -> &mut [MaybeUninit<u8>] {
        self.compact();
        let room = max.saturating_sub(self.v.len());
        let want = room.min(GROW);
        if want > 0 && self.v.reserve(want, gfp()).is_err() {
            return &mut [];
        }
        let spare = self.v.spare_capacity_mut();
        let n = spare.len().min(room);
        spare.get_mut(..n).unwrap_or(&mut [])
    }

    /// Marks `n` bytes of the [`spare`](Self::spare) area as received.
    ///
    /// # Safety
    ///
    /// The first `n` bytes of the last `spare` slice were initialized.
    pub(crate) unsafe fn filled(&mut self, n: usize) {
        let len = self.v.len().saturating_add(n).min(self.v.capacity());
        // SAFETY: the caller initialized these bytes; `len` is within the capacity.
        unsafe { self.v.set_len(len) };
    }
}

/// A kernel copy of `b` (process context: configuration loading).
pub(crate) fn copy(b: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::new();
    v.extend_from_slice(b, gfp())?;
    Ok(v)
}

/// Empties a byte vector, keeping its memory (6.12's `KVec` has no `clear`).
pub(crate) fn clear(v: &mut KVec<u8>) {
    // SAFETY: shrinking a vector of `u8` (no destructors) to zero.
    unsafe { v.set_len(0) };
}

impl crate::http::Out for Buf {
    fn put(&mut self, bytes: &[u8]) -> core::result::Result<(), crate::http::Overflow> {
        Buf::put(self, bytes).map_err(|_| crate::http::Overflow)
    }
}

/// Formats into a byte slice, truncating, and keeps one byte free for a NUL.
pub(crate) struct SliceWriter<'a> {
    pub(crate) buf: &'a mut [u8],
    pub(crate) pos: usize,
}

impl core::fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len().saturating_sub(1).saturating_sub(self.pos);
        let n = s.len().min(room);
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.pos..self.pos + n),
            s.as_bytes().get(..n),
        ) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(())
    }
}
