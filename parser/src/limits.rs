//! Caller-set limits, named after Tempesta's frang directives.

/// Size and count limits. Zero means "no limit", as in frang.
///
/// What is counted:
/// - `uri_len`: bytes of the request-target.
/// - `header_cnt`: field lines of a head, and separately of a trailer section.
/// - `hdr_len`: bytes of one field line, name to end of value, CRLF excluded.
/// - `header_list_size`: the sum of the field-line lengths (as for `hdr_len`) of a head, and
///   separately of a trailer section.
/// - `body_len`: body data bytes (chunk data only for a chunked body). A Content-Length or a
///   chunk-size above it is rejected as soon as its line ends, before any data.
/// - `chunk_line_len`: bytes of a chunk-size line (size and extensions, CRLF excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// `http_uri_len`.
    pub uri_len: u32,
    /// `http_header_cnt`.
    pub header_cnt: u32,
    /// `http_hdr_len`.
    pub hdr_len: u32,
    /// `http_max_header_list_size` (frang's default is 16384).
    pub header_list_size: u32,
    /// `http_body_len`.
    pub body_len: u64,
    /// Longest chunk-size line (not a frang directive; guards against endless leading zeros or
    /// extensions).
    pub chunk_line_len: u32,
}

impl Limits {
    /// Defaults: `uri_len` 8192, `hdr_len` 8192, `header_list_size` 16384,
    /// `chunk_line_len` 1024, no limit on the field count and the body.
    pub const DEFAULT: Self = Self {
        uri_len: 8192,
        header_cnt: 0,
        hdr_len: 8192,
        header_list_size: 16384,
        body_len: 0,
        chunk_line_len: 1024,
    };

    /// Nothing limited (but `chunk_line_len`, which stays 1024).
    pub const NONE: Self = Self {
        uri_len: 0,
        header_cnt: 0,
        hdr_len: 0,
        header_list_size: 0,
        body_len: 0,
        chunk_line_len: 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A limit as a budget: 0 ("no limit") becomes `u64::MAX`.
#[inline]
pub(super) const fn cap(limit: u32) -> u64 {
    if limit == 0 {
        u64::MAX
    } else {
        limit as u64
    }
}

/// Like [`cap`] for 64-bit limits.
#[inline]
pub(super) const fn cap64(limit: u64) -> u64 {
    if limit == 0 {
        u64::MAX
    } else {
        limit
    }
}
