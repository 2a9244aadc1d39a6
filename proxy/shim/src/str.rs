//! `kernel::str::CStr`: a NUL-terminated byte string.

/// A borrowed C string.
#[repr(transparent)]
pub struct CStr([u8]);

/// The bytes are not a C string.
#[derive(Debug)]
pub struct CStrConvertError;

impl CStr {
    /// `bytes` must end with its only NUL.
    pub fn from_bytes_with_nul(bytes: &[u8]) -> Result<&CStr, CStrConvertError> {
        match bytes.iter().position(|&b| b == 0) {
            Some(i) if i + 1 == bytes.len() => {
                // SAFETY: `CStr` is a transparent wrapper of `[u8]`.
                Ok(unsafe { &*(bytes as *const [u8] as *const CStr) })
            }
            _ => Err(CStrConvertError),
        }
    }

    /// Without the NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0[..self.0.len() - 1]
    }

    /// As UTF-8.
    pub fn to_str(&self) -> Result<&str, core::str::Utf8Error> {
        core::str::from_utf8(self.as_bytes())
    }

    /// With the NUL.
    pub fn as_bytes_with_nul(&self) -> &[u8] {
        &self.0
    }

    /// A pointer to the first byte.
    pub fn as_char_ptr(&self) -> *const core::ffi::c_char {
        self.0.as_ptr().cast()
    }
}

impl core::fmt::Display for CStr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&std::string::String::from_utf8_lossy(self.as_bytes()))
    }
}
