//! `kernel::sync::Arc`: fallible construction, the rest is std's `Arc`.

use crate::alloc::{AllocError, Flags};

/// A reference-counted pointer.
pub struct Arc<T: ?Sized>(std::sync::Arc<T>);

impl<T> Arc<T> {
    /// Allocates (may fail when a test says so).
    pub fn new(v: T, flags: Flags) -> Result<Arc<T>, AllocError> {
        crate::alloc::charge(flags)?;
        Ok(Arc(std::sync::Arc::new(v)))
    }
}

impl<T: ?Sized> Arc<T> {
    /// Same allocation.
    pub fn ptr_eq(a: &Arc<T>, b: &Arc<T>) -> bool {
        std::sync::Arc::ptr_eq(&a.0, &b.0)
    }
}

impl<T: ?Sized> Clone for Arc<T> {
    fn clone(&self) -> Self {
        Arc(self.0.clone())
    }
}

impl<T: ?Sized> core::ops::Deref for Arc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
