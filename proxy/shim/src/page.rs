//! `kernel::page::Page`: one page-sized, page-aligned heap block.

use crate::alloc::{AllocError, Flags};
use crate::error::{code::EINVAL, Result};

/// Bytes in a page.
pub const PAGE_SIZE: usize = 4096;

#[repr(C, align(4096))]
struct Block([u8; PAGE_SIZE]);

/// An owned page.
pub struct Page(Box<Block>);

impl Page {
    /// A zeroed page.
    pub fn alloc_page(flags: Flags) -> Result<Page, AllocError> {
        crate::alloc::charge(flags)?;
        Ok(Page(Box::new(Block([0; PAGE_SIZE]))))
    }

    /// The page's address. The kernel's is a `struct page *`; here it is the data itself,
    /// which is what the host socket stand-in reads spliced pages from.
    pub fn as_ptr(&self) -> *mut u8 {
        self.0 .0.as_ptr().cast_mut()
    }

    /// Copies `len` bytes from `src` to offset `off`.
    ///
    /// # Safety
    ///
    /// `src` is valid for reads of `len` bytes.
    pub unsafe fn write_raw(&self, src: *const u8, off: usize, len: usize) -> Result {
        if off.checked_add(len).is_none_or(|end| end > PAGE_SIZE) {
            return Err(EINVAL);
        }
        // SAFETY: in bounds (checked); `src` per the contract. The kernel's `Page` also
        // writes through `&self`.
        unsafe { core::ptr::copy(src, self.as_ptr().add(off), len) };
        Ok(())
    }
}
