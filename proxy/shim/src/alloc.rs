//! `kernel::alloc`: allocation flags, `KVec` and `KBox` with the kernel's fallible API.
//!
//! A thread-local countdown ([`fail_after`]) makes the n-th allocation from now fail, so host
//! tests can walk the proxy's out-of-memory paths.

use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};
use std::cell::Cell;

/// Allocation flags (`GFP_*`). The host ignores them but keeps the type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Flags(u32);

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// The flag constants.
pub mod flags {
    use super::Flags;
    /// May sleep.
    pub const GFP_KERNEL: Flags = Flags(1);
    /// Atomic context.
    pub const GFP_ATOMIC: Flags = Flags(2);
    /// Does not sleep, no reserves.
    pub const GFP_NOWAIT: Flags = Flags(4);
    /// No warning on failure.
    #[allow(non_upper_case_globals)]
    pub const __GFP_NOWARN: Flags = Flags(8);
}

/// An allocation failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AllocError;

thread_local! {
    static FAIL_AFTER: Cell<Option<u64>> = const { Cell::new(None) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

/// Allocations made on this thread so far (failed ones included).
pub fn allocations() -> u64 {
    COUNT.with(Cell::get)
}

/// The `n`-th allocation from now (0: the next one) and every one after it fail, until
/// [`fail_never`].
pub fn fail_after(n: u64) {
    FAIL_AFTER.with(|c| c.set(Some(n)));
}

/// Allocations succeed again.
pub fn fail_never() {
    FAIL_AFTER.with(|c| c.set(None));
}

/// Counts one allocation against [`fail_after`].
pub(crate) fn charge(_flags: Flags) -> Result<(), AllocError> {
    COUNT.with(|c| c.set(c.get() + 1));
    FAIL_AFTER.with(|c| match c.get() {
        None => Ok(()),
        Some(0) => Err(AllocError),
        Some(n) => {
            c.set(Some(n - 1));
            Ok(())
        }
    })
}

/// The kernel's `KVec`: a vector whose growth can fail and names its flags.
pub struct KVec<T>(Vec<T>);

impl<T> KVec<T> {
    /// Empty, no allocation.
    pub const fn new() -> Self {
        KVec(Vec::new())
    }

    /// Room for `n`.
    pub fn with_capacity(n: usize, flags: Flags) -> Result<Self, AllocError> {
        let mut v = KVec::new();
        v.reserve(n, flags)?;
        Ok(v)
    }

    /// Room for `n` more.
    pub fn reserve(&mut self, n: usize, flags: Flags) -> Result<(), AllocError> {
        if self.0.capacity() - self.0.len() >= n {
            return Ok(());
        }
        charge(flags)?;
        self.0.try_reserve(n).map_err(|_| AllocError)
    }

    /// Appends.
    pub fn push(&mut self, v: T, flags: Flags) -> Result<(), AllocError> {
        self.reserve(1, flags)?;
        self.0.push(v);
        Ok(())
    }

    /// Elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No elements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Allocated room.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Sets the length.
    ///
    /// # Safety
    ///
    /// As `Vec::set_len`.
    pub unsafe fn set_len(&mut self, n: usize) {
        // SAFETY: the caller's contract is `Vec::set_len`'s.
        unsafe { self.0.set_len(n) }
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// The elements.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.0
    }

    /// A pointer to the first element.
    pub fn as_ptr(&self) -> *const T {
        self.0.as_ptr()
    }

    /// A pointer to the first element.
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.0.as_mut_ptr()
    }

    /// The allocated, unused room.
    pub fn spare_capacity_mut(&mut self) -> &mut [MaybeUninit<T>] {
        self.0.spare_capacity_mut()
    }
}

impl<T: Clone> KVec<T> {
    /// Appends a copy of `s`.
    pub fn extend_from_slice(&mut self, s: &[T], flags: Flags) -> Result<(), AllocError> {
        self.reserve(s.len(), flags)?;
        self.0.extend_from_slice(s);
        Ok(())
    }

    /// Appends `n` copies of `v`.
    pub fn extend_with(&mut self, n: usize, v: T, flags: Flags) -> Result<(), AllocError> {
        self.reserve(n, flags)?;
        self.0.extend(core::iter::repeat_n(v, n));
        Ok(())
    }

    /// `n` copies of `v`.
    pub fn from_elem(v: T, n: usize, flags: Flags) -> Result<Self, AllocError> {
        let mut out = KVec::with_capacity(n, flags)?;
        out.0.extend(core::iter::repeat_n(v, n));
        Ok(out)
    }
}

impl<T> Default for KVec<T> {
    fn default() -> Self {
        KVec::new()
    }
}

impl<T> Deref for KVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> DerefMut for KVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<'a, T> IntoIterator for &'a KVec<T> {
    type Item = &'a T;
    type IntoIter = core::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut KVec<T> {
    type Item = &'a mut T;
    type IntoIter = core::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter_mut()
    }
}

impl<T> IntoIterator for KVec<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<T: core::fmt::Debug> core::fmt::Debug for KVec<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: PartialEq> PartialEq for KVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T: Eq> Eq for KVec<T> {}

/// The kernel's `KVVec` (kmalloc, else vmalloc): the same on the host.
pub type KVVec<T> = KVec<T>;

/// The kernel's `KBox`.
pub struct KBox<T: ?Sized>(Box<T>);

impl<T> KBox<T> {
    /// Allocates.
    pub fn new(v: T, flags: Flags) -> Result<Self, AllocError> {
        charge(flags)?;
        Ok(KBox(Box::new(v)))
    }

    /// Allocates zeroed memory (see [`crate::init::zeroed`]).
    pub fn init(_z: crate::init::Zeroed<T>, flags: Flags) -> crate::error::Result<Self> {
        charge(flags)?;
        // SAFETY: the kernel build of the same call requires `T: Zeroable`: all-zero bytes
        // are a valid `T`.
        Ok(KBox(unsafe { Box::<T>::new_zeroed().assume_init() }))
    }

    /// The value, out of its box.
    pub fn into_inner(b: Self) -> T {
        *b.0
    }
}

impl<T: ?Sized> Deref for KBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized> DerefMut for KBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
