//! `kernel::ffi`: C types.
pub use core::ffi::{c_char, c_int, c_uint, c_void};
