//! `kernel::error`: an errno in a newtype.

/// A negative errno.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Error(i32);

impl Error {
    /// From a negative errno (anything else becomes `EINVAL`, as in the kernel).
    pub fn from_errno(errno: i32) -> Error {
        if (-4095..0).contains(&errno) {
            Error(errno)
        } else {
            code::EINVAL
        }
    }

    /// The negative errno.
    pub fn to_errno(self) -> i32 {
        self.0
    }
}

impl From<crate::alloc::AllocError> for Error {
    fn from(_: crate::alloc::AllocError) -> Error {
        code::ENOMEM
    }
}

impl From<core::convert::Infallible> for Error {
    fn from(e: core::convert::Infallible) -> Error {
        match e {}
    }
}

/// `kernel::error::Result`.
pub type Result<T = (), E = Error> = core::result::Result<T, E>;

/// The errno constants.
pub mod code {
    use super::Error;
    macro_rules! codes {
        ($($name:ident = $v:expr),* $(,)?) => { $(
            #[allow(missing_docs)]
            pub const $name: Error = Error(-$v);
        )* };
    }
    codes! {
        EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, E2BIG = 7, EBADF = 9, EAGAIN = 11,
        ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EINVAL = 22,
        EFBIG = 27, ENOSPC = 28, ERANGE = 34, ENAMETOOLONG = 36, EMSGSIZE = 90,
        EOPNOTSUPP = 95, EADDRINUSE = 98, ECONNRESET = 104, ETIMEDOUT = 110,
        ECONNREFUSED = 111, EINPROGRESS = 115,
    }
}
