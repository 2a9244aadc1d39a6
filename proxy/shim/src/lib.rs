//! Host stand-ins for the Rust-for-Linux 6.12 APIs that the proxy's sources use.
//!
//! The proxy (`proxy/src`) is compiled into the kernel module, where `kernel::` is the kernel
//! crate. On the host this crate takes that name, so the same sources build and run under
//! `cargo test`. Each item has the kernel's signature, no more: the host build then also
//! checks that the sources use only what 6.12 offers (no `pop`, `truncate`, `clear` on
//! `KVec`, fallible allocation with explicit flags everywhere). Allocation goes to the
//! host's allocator; a test can make it fail (see [`alloc::fail_after`]).
//!
//! What behaves differently on purpose: nothing here sleeps or is context-aware, pages are
//! plain heap blocks, and `RBTree` is a `BTreeMap`.

pub mod alloc;
pub mod error;
pub mod ffi;
pub mod init;
pub mod page;
pub mod rbtree;
pub mod str;
pub mod sync;

/// What `use kernel::prelude::*` brings in, as far as the proxy uses it.
pub mod prelude {
    pub use crate::alloc::flags::*;
    pub use crate::alloc::{KBox, KVVec, KVec};
    pub use crate::error::{code::*, Error, Result};
    pub use crate::init::Zeroable;
    pub use crate::str::CStr;
    pub use crate::{pr_err, pr_info, pr_warn};
}

/// Kernel log lines go to the test's stderr (captured unless `--nocapture`).
#[macro_export]
macro_rules! pr_info {
    ($($arg:tt)*) => { ::std::eprint!("[info] {}", ::core::format_args!($($arg)*)) };
}
/// See [`pr_info!`].
#[macro_export]
macro_rules! pr_warn {
    ($($arg:tt)*) => { ::std::eprint!("[warn] {}", ::core::format_args!($($arg)*)) };
}
/// See [`pr_info!`].
#[macro_export]
macro_rules! pr_err {
    ($($arg:tt)*) => { ::std::eprint!("[err] {}", ::core::format_args!($($arg)*)) };
}
