//! `kernel::init`: only zero-initialised boxes (`KBox::init(zeroed(), flags)`).

use core::marker::PhantomData;

/// All-zero bytes are a valid `Self`.
///
/// # Safety
///
/// As the kernel's: the type must be valid when zeroed.
pub unsafe trait Zeroable {}

/// An initializer that zeroes.
pub struct Zeroed<T>(PhantomData<T>);

/// The zeroing initializer. Unlike the kernel's, without a `Zeroable` bound: the types the
/// proxy zeroes are foreign to it on the host (so it cannot implement the trait for them),
/// and the kernel build, which compiles the same calls with the bound, is the check.
pub fn zeroed<T>() -> Zeroed<T> {
    Zeroed(PhantomData)
}
