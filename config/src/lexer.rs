//! Tokenizer of the Tempesta FW configuration language (modelled on Tempesta's TFSM in
//! `fw/cfg.c`).
//!
//! * Whitespace separates tokens; `#` starts a comment up to the end of the line (also right
//!   after a word: `a#b` is the word `a`).
//! * `{`, `}`, `;` are single-character tokens.
//! * `->`, `==`, `!=` and `=` are operators and also end a word, spaces or not: `a==b` is three
//!   tokens, `-> main` and `->main` are the same; a `-` not followed by `>` and a `!` not
//!   followed by `=` are ordinary word characters (`0x24-0x26`, `!include`).
//! * `"..."` is a quoted string: it may contain spaces, `;`, `{`, `#` and line breaks; a
//!   backslash escapes the next character (`\"`, `\\`, any other). The escapes are kept in the
//!   raw text; [`unescape`](super::unescape) removes them. A `"` also ends a word.
//! * Outside quotes, a backslash makes the next character an ordinary word character.
//! * Control characters other than whitespace are rejected outside comments.

use super::error::ErrorKind;
use super::tree::Op;
use super::MAX_TOKEN_LEN;

/// A lexical token class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lex {
    Word,
    Quoted,
    LBrace,
    RBrace,
    Semi,
    Op(Op),
}

/// A token with its span (for `Quoted`, without the quotes) and line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lexeme {
    pub kind: Lex,
    pub start: u32,
    pub end: u32,
    pub line: u32,
    pub escaped: bool,
}

/// A lexical error and the line it is on.
pub(crate) struct LexError {
    pub kind: ErrorKind<'static>,
    pub line: u32,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn is_bad_ctl(c: u8) -> bool {
    (c < 0x20 && !is_space(c)) || c == 0x7f
}

fn u32_of(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

pub(crate) struct Lexer<'s> {
    src: &'s [u8],
    pos: usize,
    line: u32,
}

impl<'s> Lexer<'s> {
    pub fn new(src: &'s [u8]) -> Self {
        Lexer {
            src,
            pos: 0,
            line: 1,
        }
    }

    fn at(&self, off: usize) -> Option<u8> {
        self.src.get(self.pos.checked_add(off)?).copied()
    }

    fn bump(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n);
    }

    fn newline(&mut self) {
        self.line = self.line.saturating_add(1);
    }

    fn err(&self, kind: ErrorKind<'static>) -> LexError {
        LexError {
            kind,
            line: self.line,
        }
    }

    fn single(&mut self, kind: Lex, len: usize) -> Lexeme {
        let start = self.pos;
        self.bump(len);
        Lexeme {
            kind,
            start: u32_of(start),
            end: u32_of(self.pos),
            line: self.line,
            escaped: false,
        }
    }

    /// The next token, `None` at the end of the input.
    pub fn next_token(&mut self) -> Result<Option<Lexeme>, LexError> {
        loop {
            let Some(c) = self.at(0) else {
                return Ok(None);
            };
            match c {
                b'\n' => {
                    self.newline();
                    self.bump(1);
                }
                c if is_space(c) => self.bump(1),
                b'#' => {
                    while let Some(c) = self.at(0) {
                        if c == b'\n' {
                            break;
                        }
                        self.bump(1);
                    }
                }
                b'"' => return self.quoted().map(Some),
                b'{' => return Ok(Some(self.single(Lex::LBrace, 1))),
                b'}' => return Ok(Some(self.single(Lex::RBrace, 1))),
                b';' => return Ok(Some(self.single(Lex::Semi, 1))),
                b'=' => {
                    return Ok(Some(if self.at(1) == Some(b'=') {
                        self.single(Lex::Op(Op::Eq), 2)
                    } else {
                        self.single(Lex::Op(Op::Assign), 1)
                    }))
                }
                b'!' if self.at(1) == Some(b'=') => {
                    return Ok(Some(self.single(Lex::Op(Op::Ne), 2)))
                }
                b'-' if self.at(1) == Some(b'>') => {
                    return Ok(Some(self.single(Lex::Op(Op::Arrow), 2)))
                }
                c if is_bad_ctl(c) => return Err(self.err(ErrorKind::InvalidChar(c))),
                _ => return self.word().map(Some),
            }
        }
    }

    fn word(&mut self) -> Result<Lexeme, LexError> {
        let start = self.pos;
        let line = self.line;
        let mut escaped = false;
        while let Some(c) = self.at(0) {
            match c {
                b'"' | b'#' | b'{' | b'}' | b';' | b'=' => break,
                c if is_space(c) => break,
                b'-' if self.at(1) == Some(b'>') => break,
                b'!' if self.at(1) == Some(b'=') => break,
                b'\\' => {
                    let Some(n) = self.at(1) else {
                        return Err(self.err(ErrorKind::DanglingBackslash));
                    };
                    if n == b'\n' {
                        self.newline();
                    } else if is_bad_ctl(n) {
                        return Err(self.err(ErrorKind::InvalidChar(n)));
                    }
                    escaped = true;
                    self.bump(2);
                }
                c if is_bad_ctl(c) => return Err(self.err(ErrorKind::InvalidChar(c))),
                _ => self.bump(1),
            }
            if self.pos.saturating_sub(start) > MAX_TOKEN_LEN {
                return Err(LexError {
                    kind: ErrorKind::TokenTooLong,
                    line,
                });
            }
        }
        Ok(Lexeme {
            kind: Lex::Word,
            start: u32_of(start),
            end: u32_of(self.pos),
            line,
            escaped,
        })
    }

    fn quoted(&mut self) -> Result<Lexeme, LexError> {
        let line = self.line;
        self.bump(1);
        let start = self.pos;
        let mut escaped = false;
        loop {
            let Some(c) = self.at(0) else {
                return Err(LexError {
                    kind: ErrorKind::UnterminatedQuote,
                    line,
                });
            };
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(n) = self.at(1) else {
                        return Err(LexError {
                            kind: ErrorKind::UnterminatedQuote,
                            line,
                        });
                    };
                    if n == b'\n' {
                        self.newline();
                    } else if is_bad_ctl(n) {
                        return Err(self.err(ErrorKind::InvalidChar(n)));
                    }
                    escaped = true;
                    self.bump(2);
                }
                b'\n' => {
                    self.newline();
                    self.bump(1);
                }
                c if is_bad_ctl(c) => return Err(self.err(ErrorKind::InvalidChar(c))),
                _ => self.bump(1),
            }
            if self.pos.saturating_sub(start) > MAX_TOKEN_LEN {
                return Err(LexError {
                    kind: ErrorKind::TokenTooLong,
                    line,
                });
            }
        }
        let end = self.pos;
        self.bump(1); // closing quote
        Ok(Lexeme {
            kind: Lex::Quoted,
            start: u32_of(start),
            end: u32_of(end),
            line,
            escaped,
        })
    }
}
