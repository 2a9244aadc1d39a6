//! Every reason the parser rejects a message, one variant per rule.
//!
//! The firewall counts rejections per variant, so each rule (and each caller-set limit) has its
//! own variant instead of one generic "bad request".

use core::fmt;

/// Why a message was rejected.
///
/// Once [`feed`](super::RequestParser::feed) returned an error the parser is poisoned: every
/// later call returns the same error until [`reset`](super::RequestParser::reset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    // ---- bytes that are never acceptable -------------------------------------------------
    /// A NUL byte anywhere in the head or in chunk framing.
    NulByte,
    /// A CR not immediately followed by LF.
    BareCr,
    /// An LF not preceded by CR (bare LF is never accepted as a line terminator).
    BareLf,

    // ---- request line --------------------------------------------------------------------
    /// The method contains a byte that is not a token character.
    InvalidMethod,
    /// The method is longer than [`MAX_METHOD_LEN`](super::MAX_METHOD_LEN).
    MethodTooLong,
    /// The request line is not `method SP request-target SP HTTP-version CRLF` (e.g. two spaces,
    /// missing version, HTTP/0.9-style line).
    InvalidRequestLine,
    /// The request-target contains a forbidden byte (CTL, DEL, non-ASCII, `#`, `\`) or does not
    /// match the form required by the method (authority-form only for CONNECT, `*` only for
    /// OPTIONS).
    InvalidTarget,
    /// An absolute-form target whose scheme is not `http` or `https`.
    InvalidScheme,
    /// An absolute-form target with `userinfo@` in its authority (RFC 9110 section 4.2.4).
    UserinfoInTarget,
    /// The HTTP-version is malformed.
    InvalidVersion,
    /// A well-formed HTTP-version other than HTTP/1.0 or HTTP/1.1.
    UnsupportedVersion,
    /// More than [`MAX_EMPTY_LINES`](super::MAX_EMPTY_LINES) empty lines before a request line.
    TooManyEmptyLines,

    // ---- status line ---------------------------------------------------------------------
    /// The status line is malformed (missing SP after the version, ...).
    InvalidStatusLine,
    /// The status code is not three digits in 100..=599.
    InvalidStatusCode,
    /// The reason phrase contains a control byte.
    InvalidReason,
    /// The reason phrase is longer than [`MAX_REASON_LEN`](super::MAX_REASON_LEN).
    StatusLineTooLong,

    // ---- header fields -------------------------------------------------------------------
    /// A field line starts with `:`.
    EmptyHeaderName,
    /// A field name contains a byte that is not a token character.
    InvalidHeaderName,
    /// Whitespace between a field name and the colon (RFC 9112 section 5.1).
    WhitespaceBeforeColon,
    /// A field line ended before a colon.
    MissingColon,
    /// A line folded with obs-fold (a field line starting with SP or HTAB).
    ObsFold,
    /// Whitespace between the start line and the first field line (RFC 9112 section 2.2).
    WhitespaceAfterStartLine,
    /// A field value contains a control byte other than HTAB, or DEL.
    InvalidHeaderValue,
    /// A second instance of a field that must appear once (Content-Type, Authorization,
    /// User-Agent, Referer, If-Modified-Since, Age, Date, Expires, ETag, Last-Modified). A
    /// response may repeat Age, Date, Expires, ETag and Last-Modified: a cache reads the
    /// repeats as RFC 9111 section 4.2.1 says.
    DuplicateHeader,
    /// A field that is not allowed in a trailer section (framing, routing and connection
    /// fields).
    ForbiddenTrailer,

    // ---- Host ----------------------------------------------------------------------------
    /// An HTTP/1.1 request without a Host field.
    MissingHost,
    /// More than one Host field.
    DuplicateHost,
    /// A Host field value (or the authority of an absolute-form or authority-form target) that
    /// is not `host [":" port]`.
    InvalidHost,

    // ---- framing (request smuggling) -----------------------------------------------------
    /// A Content-Length value that is not `1*DIGIT`.
    InvalidContentLength,
    /// More than one Content-Length field, or a list of values in one field (even if they are
    /// identical).
    DuplicateContentLength,
    /// A Content-Length value that does not fit in 64 bits.
    ContentLengthOverflow,
    /// Both Content-Length and Transfer-Encoding.
    ContentLengthWithTransferEncoding,
    /// A malformed Transfer-Encoding value (empty, bad token, transfer parameters).
    InvalidTransferEncoding,
    /// A request whose Transfer-Encoding does not end with `chunked`.
    TransferEncodingNotChunked,
    /// `chunked` listed more than once.
    ChunkedAppliedTwice,
    /// Transfer-Encoding in an HTTP/1.0 message (RFC 9112 section 6.1: faulty framing).
    TransferEncodingInHttp10,
    /// Transfer-Encoding, or a non-zero Content-Length, in a 1xx or 204 response.
    BodyNotAllowed,
    /// A malformed Connection value.
    InvalidConnection,
    /// Connection lists both `close` and `keep-alive`.
    ConflictingConnection,

    // ---- chunked coding ------------------------------------------------------------------
    /// A chunk-size that is not `1*HEXDIG`, or is followed by something other than a chunk
    /// extension or CRLF.
    InvalidChunkSize,
    /// A chunk-size that does not fit in 64 bits.
    ChunkSizeOverflow,
    /// A malformed chunk extension.
    InvalidChunkExtension,
    /// A chunk-size line longer than [`Limits::chunk_line_len`](super::Limits::chunk_line_len).
    ChunkLineTooLong,
    /// Chunk data not followed by CRLF (the chunk is longer than its declared size).
    InvalidChunkTerminator,

    // ---- caller-set limits (frang) -------------------------------------------------------
    /// The request-target is longer than `http_uri_len`.
    UriTooLong,
    /// More field lines than `http_header_cnt`.
    TooManyHeaders,
    /// A field line longer than `http_hdr_len`.
    HeaderTooLong,
    /// The field lines of a head (or of a trailer section) add up to more than
    /// `http_max_header_list_size`.
    HeaderListTooLarge,
    /// The body is longer than `http_body_len`.
    BodyTooLarge,

    // ---- stream --------------------------------------------------------------------------
    /// The stream ended (see `finish`) in the middle of a message that is not close-delimited.
    UnexpectedEof,
    /// Input after the connection switched protocols (101, CONNECT 2xx) or after a
    /// close-delimited body was finished.
    Closed,
}

impl Error {
    /// A short, stable, lowercase name for logs and counters.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NulByte => "nul_byte",
            Self::BareCr => "bare_cr",
            Self::BareLf => "bare_lf",
            Self::InvalidMethod => "invalid_method",
            Self::MethodTooLong => "method_too_long",
            Self::InvalidRequestLine => "invalid_request_line",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidScheme => "invalid_scheme",
            Self::UserinfoInTarget => "userinfo_in_target",
            Self::InvalidVersion => "invalid_version",
            Self::UnsupportedVersion => "unsupported_version",
            Self::TooManyEmptyLines => "too_many_empty_lines",
            Self::InvalidStatusLine => "invalid_status_line",
            Self::InvalidStatusCode => "invalid_status_code",
            Self::InvalidReason => "invalid_reason",
            Self::StatusLineTooLong => "status_line_too_long",
            Self::EmptyHeaderName => "empty_header_name",
            Self::InvalidHeaderName => "invalid_header_name",
            Self::WhitespaceBeforeColon => "whitespace_before_colon",
            Self::MissingColon => "missing_colon",
            Self::ObsFold => "obs_fold",
            Self::WhitespaceAfterStartLine => "whitespace_after_start_line",
            Self::InvalidHeaderValue => "invalid_header_value",
            Self::DuplicateHeader => "duplicate_header",
            Self::ForbiddenTrailer => "forbidden_trailer",
            Self::MissingHost => "missing_host",
            Self::DuplicateHost => "duplicate_host",
            Self::InvalidHost => "invalid_host",
            Self::InvalidContentLength => "invalid_content_length",
            Self::DuplicateContentLength => "duplicate_content_length",
            Self::ContentLengthOverflow => "content_length_overflow",
            Self::ContentLengthWithTransferEncoding => "content_length_with_transfer_encoding",
            Self::InvalidTransferEncoding => "invalid_transfer_encoding",
            Self::TransferEncodingNotChunked => "transfer_encoding_not_chunked",
            Self::ChunkedAppliedTwice => "chunked_applied_twice",
            Self::TransferEncodingInHttp10 => "transfer_encoding_in_http10",
            Self::BodyNotAllowed => "body_not_allowed",
            Self::InvalidConnection => "invalid_connection",
            Self::ConflictingConnection => "conflicting_connection",
            Self::InvalidChunkSize => "invalid_chunk_size",
            Self::ChunkSizeOverflow => "chunk_size_overflow",
            Self::InvalidChunkExtension => "invalid_chunk_extension",
            Self::ChunkLineTooLong => "chunk_line_too_long",
            Self::InvalidChunkTerminator => "invalid_chunk_terminator",
            Self::UriTooLong => "uri_too_long",
            Self::TooManyHeaders => "too_many_headers",
            Self::HeaderTooLong => "header_too_long",
            Self::HeaderListTooLarge => "header_list_too_large",
            Self::BodyTooLarge => "body_too_large",
            Self::UnexpectedEof => "unexpected_eof",
            Self::Closed => "closed",
        }
    }

    /// The status code a server should answer a rejected request with (RFC 9110, RFC 6585).
    pub const fn status_code(self) -> u16 {
        match self {
            Self::UriTooLong => 414,
            Self::TooManyHeaders | Self::HeaderTooLong | Self::HeaderListTooLarge => 431,
            Self::BodyTooLarge => 413,
            Self::UnsupportedVersion => 505,
            Self::TransferEncodingNotChunked => 501,
            _ => 400,
        }
    }

    /// Whether the error is a caller-set limit (frang) rather than a syntax or framing rule.
    pub const fn is_limit(self) -> bool {
        matches!(
            self,
            Self::UriTooLong
                | Self::TooManyHeaders
                | Self::HeaderTooLong
                | Self::HeaderListTooLarge
                | Self::BodyTooLarge
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
