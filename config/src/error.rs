//! Errors of every layer (syntax, schema, values) and their stable texts.
//!
//! An [`Error`] is a line number, the name of the directive it concerns (when there is one) and
//! an [`ErrorKind`] whose `Display` is the reason. The shapes are:
//!
//! * `Error` as `Display`: `line N: directive 'NAME': REASON`, or `line N: REASON` when no
//!   directive is concerned, or just `REASON` when the error has no line (line 0: the whole file).
//! * [`Error::with_file`]: `FILE:N: directive 'NAME': REASON`, `FILE:N: REASON` or
//!   `FILE: REASON` — the module prints `tempesta: config error: ` followed by this.
//!
//! Reason texts are part of the interface: tests and operators grep for them, so they must not
//! change casually. Bytes from the configuration are printed as they are when printable ASCII
//! and as `\xNN` otherwise, and cut after 64 bytes (`...` marks the cut).

use core::fmt;
use core::net::SocketAddr;

use super::schema::Context;

/// How many bytes of a configuration excerpt an error message shows.
const EXCERPT_MAX: usize = 64;

/// The reason of an [`Error`]; its `Display` is the stable reason text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind<'s> {
    /// The file is larger than [`MAX_SOURCE_LEN`](super::MAX_SOURCE_LEN):
    /// `config too large (max 1048576 bytes)`.
    TooLarge,
    /// A word or quoted string is longer than [`MAX_TOKEN_LEN`](super::MAX_TOKEN_LEN):
    /// `token too long (max 4096 bytes)`.
    TokenTooLong,
    /// Blocks nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH): `blocks nested too deep (max 8)`.
    TooDeep,
    /// End of file inside a quoted string: `unterminated quoted string`.
    UnterminatedQuote,
    /// The file ends with a backslash: `unexpected end of file after '\'`.
    DanglingBackslash,
    /// A control character outside comments: `invalid character '\x01'`.
    InvalidChar(u8),
    /// A token that can't be where it is: `unexpected '}'`, `unexpected ';'`, `unexpected '='`...
    Unexpected(&'s [u8]),
    /// A statement runs into `}` or the end of file: `missing ';'`.
    MissingSemicolon,
    /// A block is still open at the end of file: `missing '}' at end of file`.
    MissingCloseBrace,
    /// `!include` was not expanded: `!include must be expanded by tempesta.sh`.
    Include,
    /// A directive name that is not an identifier: `invalid directive name 'X'`.
    InvalidName(&'s [u8]),
    /// An option key that is not an identifier: `invalid option name 'X'`.
    InvalidOptionName(&'s [u8]),
    /// `key=` with nothing after: `missing value for option 'key'`.
    MissingOptionValue(&'s [u8]),
    /// An http_chain rule that does not follow `FIELD [NAME] ==|!= ARG -> ACTION [= VAL];`:
    /// `invalid rule: DETAIL`.
    InvalidRule(&'static str),
    /// Directives that contradict each other: the text says which and why.
    Conflict(&'static str),
    /// The caller's buffers are smaller than [`measure`](super::measure) said:
    /// `internal error: WHAT buffer too small`.
    BufferTooSmall(&'static str),
    /// A name that is no directive of Tempesta FW: `unknown directive`.
    UnknownDirective,
    /// A known directive in a context that does not take it: `not allowed in CONTEXT`.
    NotAllowed(Context),
    /// A block directive written as a statement: `expected a '{ ... }' block`.
    ExpectedBlock,
    /// A statement directive written with a block: `unexpected '{ ... }' block`.
    UnexpectedBlock,
    /// Wrong number of positional arguments: `expected 1 argument, got 3`,
    /// `expected 2 to 3 arguments, got 4`, `expected at least 1 argument, got 0`,
    /// `expected at most 1 argument, got 2`, `expected no arguments, got 1`.
    ArgCount {
        /// Fewest arguments accepted.
        min: u16,
        /// Most arguments accepted ([`MANY`](super::schema::MANY) = no limit).
        max: u16,
        /// Arguments given.
        got: usize,
    },
    /// An option the directive does not take: `unknown option 'X'`.
    UnknownOption(&'s [u8]),
    /// The same option twice: `duplicate option 'X'`.
    DuplicateOption(&'s [u8]),
    /// A directive that may appear once per context appears again:
    /// `duplicate directive (only one allowed in CONTEXT)`.
    Duplicate(Context),
    /// A second `vhost`/`srv_group`/`http_chain`/`health_check` with the same name:
    /// `duplicate name 'X'`.
    DuplicateName(&'s [u8]),
    /// A directive Tempesta FW has that tempesta-rs does not implement yet:
    /// `not supported by tempesta-rs yet`.
    NotSupported,
    /// A value tempesta-rs does not implement yet: `not supported by tempesta-rs yet: KEY=VALUE`.
    NotSupportedValue(&'static str, &'s [u8]),
    /// A port that is not 1..65535: `invalid port '70000'`.
    InvalidPort(&'s [u8]),
    /// An address that does not parse: `invalid address 'X'`.
    InvalidAddress(&'s [u8]),
    /// A value that does not parse as WHAT: `invalid WHAT 'X'` (e.g. `invalid proto 'ftp'`,
    /// `invalid integer 'x'`, `invalid size '5Q'`, `invalid boolean 'maybe'`).
    InvalidValue(&'static str, &'s [u8]),
    /// A number outside its bounds: `value 'X' out of range [MIN, MAX]`.
    OutOfRange {
        /// The text as written.
        value: &'s [u8],
        /// Smallest value accepted.
        min: u64,
        /// Largest value accepted.
        max: u64,
    },
    /// The same listening address twice: `duplicate listen address 0.0.0.0:80`.
    DuplicateListen(SocketAddr),
    /// More `listen` directives than [`MAX_LISTENERS`](super::listen::MAX_LISTENERS):
    /// `too many listen directives (max 1024)`.
    TooManyListeners,
    /// A feature tempesta-rs does not implement yet: `not supported by tempesta-rs yet: WHAT`
    /// (e.g. `conditional http_chain rules`).
    NotSupportedFeature(&'static str),
    /// Arguments tempesta-rs does not implement yet, as written:
    /// `not supported by tempesta-rs yet: ratio dynamic`.
    NotSupportedArgs(&'s [u8]),
    /// A host name where an IP address is needed:
    /// `invalid address 'X': host names are not supported, use an IP address`.
    Hostname(&'s [u8]),
    /// The same server address twice in one group: `duplicate server 10.0.0.1:80 in the group`.
    DuplicateServer(SocketAddr),
    /// A count over its bound: `too many WHAT (max N)` (e.g. `too many srv_groups (max 64)`).
    TooMany(&'static str, u64),
    /// An option value outside its bounds: `KEY=VALUE out of range [MIN, MAX]`.
    OptionOutOfRange {
        /// The option.
        key: &'static str,
        /// The value as written.
        value: &'s [u8],
        /// Smallest value accepted.
        min: u64,
        /// Largest value accepted.
        max: u64,
    },
    /// A reference to something that does not exist: `WHAT 'NAME' is not defined`.
    NotDefined(&'static str, &'s [u8]),
    /// A reference to something defined further down (Tempesta FW reads the file once, in
    /// order): `WHAT 'NAME' must be defined before it is used`.
    DefinedLater(&'static str, &'s [u8]),
    /// A file the directive names could not be read: `cannot read 'PATH': error ERRNO`.
    ReadFile(&'s [u8], i32),
    /// A fixed message for rarer semantic errors (the text is the reason).
    Message(&'static str),
}

/// Writes configuration bytes safely: printable ASCII as is, the rest as `\xNN`, cut after
/// 64 bytes.
struct Excerpt<'a>(&'a [u8]);

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = self.0.len() > EXCERPT_MAX;
        for &b in self.0.iter().take(EXCERPT_MAX) {
            if (0x20..0x7f).contains(&b) {
                fmt::Write::write_char(f, char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        if cut {
            f.write_str("...")?;
        }
        Ok(())
    }
}

fn plural(n: u16) -> &'static str {
    if n == 1 {
        "argument"
    } else {
        "arguments"
    }
}

impl fmt::Display for ErrorKind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::TooLarge => {
                write!(f, "config too large (max {} bytes)", super::MAX_SOURCE_LEN)
            }
            ErrorKind::TokenTooLong => {
                write!(f, "token too long (max {} bytes)", super::MAX_TOKEN_LEN)
            }
            ErrorKind::TooDeep => write!(f, "blocks nested too deep (max {})", super::MAX_DEPTH),
            ErrorKind::UnterminatedQuote => f.write_str("unterminated quoted string"),
            ErrorKind::DanglingBackslash => f.write_str("unexpected end of file after '\\'"),
            ErrorKind::InvalidChar(c) => write!(f, "invalid character '\\x{c:02x}'"),
            ErrorKind::Unexpected(t) => write!(f, "unexpected '{}'", Excerpt(t)),
            ErrorKind::MissingSemicolon => f.write_str("missing ';'"),
            ErrorKind::MissingCloseBrace => f.write_str("missing '}' at end of file"),
            ErrorKind::Include => f.write_str("!include must be expanded by tempesta.sh"),
            ErrorKind::InvalidName(n) => write!(f, "invalid directive name '{}'", Excerpt(n)),
            ErrorKind::InvalidOptionName(n) => write!(f, "invalid option name '{}'", Excerpt(n)),
            ErrorKind::MissingOptionValue(n) => {
                write!(f, "missing value for option '{}'", Excerpt(n))
            }
            ErrorKind::InvalidRule(d) => write!(f, "invalid rule: {d}"),
            ErrorKind::Conflict(d) => f.write_str(d),
            ErrorKind::ReadFile(p, e) => write!(f, "cannot read '{}': error {e}", Excerpt(p)),
            ErrorKind::BufferTooSmall(w) => write!(f, "internal error: {w} buffer too small"),
            ErrorKind::UnknownDirective => f.write_str("unknown directive"),
            ErrorKind::NotAllowed(c) => write!(f, "not allowed in {}", c.name()),
            ErrorKind::ExpectedBlock => f.write_str("expected a '{ ... }' block"),
            ErrorKind::UnexpectedBlock => f.write_str("unexpected '{ ... }' block"),
            ErrorKind::ArgCount { min, max, got } => {
                if min == max {
                    if min == 0 {
                        write!(f, "expected no arguments, got {got}")
                    } else {
                        write!(f, "expected {min} {}, got {got}", plural(min))
                    }
                } else if max == super::schema::MANY {
                    write!(f, "expected at least {min} {}, got {got}", plural(min))
                } else if min == 0 {
                    write!(f, "expected at most {max} {}, got {got}", plural(max))
                } else {
                    write!(f, "expected {min} to {max} arguments, got {got}")
                }
            }
            ErrorKind::UnknownOption(k) => write!(f, "unknown option '{}'", Excerpt(k)),
            ErrorKind::DuplicateOption(k) => write!(f, "duplicate option '{}'", Excerpt(k)),
            ErrorKind::Duplicate(c) => {
                write!(f, "duplicate directive (only one allowed in {})", c.name())
            }
            ErrorKind::DuplicateName(n) => write!(f, "duplicate name '{}'", Excerpt(n)),
            ErrorKind::NotSupported => f.write_str("not supported by tempesta-rs yet"),
            ErrorKind::NotSupportedValue(k, v) => {
                write!(f, "not supported by tempesta-rs yet: {k}={}", Excerpt(v))
            }
            ErrorKind::InvalidPort(p) => write!(f, "invalid port '{}'", Excerpt(p)),
            ErrorKind::InvalidAddress(a) => write!(f, "invalid address '{}'", Excerpt(a)),
            ErrorKind::InvalidValue(what, v) => write!(f, "invalid {what} '{}'", Excerpt(v)),
            ErrorKind::OutOfRange { value, min, max } => {
                write!(f, "value '{}' out of range [{min}, {max}]", Excerpt(value))
            }
            ErrorKind::DuplicateListen(a) => write!(f, "duplicate listen address {a}"),
            ErrorKind::TooManyListeners => write!(
                f,
                "too many listen directives (max {})",
                super::listen::MAX_LISTENERS
            ),
            ErrorKind::NotSupportedFeature(w) => write!(f, "not supported by tempesta-rs yet: {w}"),
            ErrorKind::NotSupportedArgs(a) => {
                write!(f, "not supported by tempesta-rs yet: {}", Excerpt(a))
            }
            ErrorKind::Hostname(a) => write!(
                f,
                "invalid address '{}': host names are not supported, use an IP address",
                Excerpt(a)
            ),
            ErrorKind::DuplicateServer(a) => write!(f, "duplicate server {a} in the group"),
            ErrorKind::TooMany(what, max) => write!(f, "too many {what} (max {max})"),
            ErrorKind::OptionOutOfRange {
                key,
                value,
                min,
                max,
            } => write!(f, "{key}={} out of range [{min}, {max}]", Excerpt(value)),
            ErrorKind::NotDefined(what, n) => write!(f, "{what} '{}' is not defined", Excerpt(n)),
            ErrorKind::DefinedLater(what, n) => {
                write!(
                    f,
                    "{what} '{}' must be defined before it is used",
                    Excerpt(n)
                )
            }
            ErrorKind::Message(m) => f.write_str(m),
        }
    }
}

/// A configuration error: where (line, directive) and why ([`ErrorKind`]).
///
/// `'s` is the lifetime of the configuration text the error quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error<'s> {
    /// 1-based line; 0 when the error concerns the whole file (e.g. its size).
    pub line: u32,
    /// The name of the directive concerned (the first token for an http_chain rule).
    pub directive: Option<&'s [u8]>,
    /// The reason.
    pub kind: ErrorKind<'s>,
}

impl<'s> Error<'s> {
    /// An error at `line` about `directive`.
    pub const fn new(line: u32, directive: Option<&'s [u8]>, kind: ErrorKind<'s>) -> Self {
        Error {
            line,
            directive,
            kind,
        }
    }

    /// A `Display` adapter printing `FILE:LINE: directive 'NAME': REASON` (or
    /// `FILE:LINE: REASON` without directive, `FILE: REASON` without line).
    pub fn with_file<'e>(&'e self, file: &'e str) -> WithFile<'e, 's> {
        WithFile { err: self, file }
    }

    /// Writes the [`with_file`](Self::with_file) form into any `fmt::Write` (e.g. a fixed
    /// kernel buffer).
    pub fn fmt_with_file(&self, file: &str, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "{}", self.with_file(file))
    }

    fn fmt_tail(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = self.directive {
            write!(f, "directive '{}': ", Excerpt(d))?;
        }
        write!(f, "{}", self.kind)
    }
}

impl fmt::Display for Error<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line != 0 {
            write!(f, "line {}: ", self.line)?;
        }
        self.fmt_tail(f)
    }
}

/// `Display` adapter returned by [`Error::with_file`].
#[derive(Clone, Copy, Debug)]
pub struct WithFile<'e, 's> {
    err: &'e Error<'s>,
    file: &'e str,
}

impl fmt::Display for WithFile<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.err.line != 0 {
            write!(f, "{}:{}: ", self.file, self.err.line)?;
        } else {
            write!(f, "{}: ", self.file)?;
        }
        self.err.fmt_tail(f)
    }
}
