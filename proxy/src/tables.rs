// SPDX-License-Identifier: GPL-2.0

//! The HTTP tables of the running configuration: `http_chain` rules, kept in kernel memory.
//!
//! `config/` types each rule as slices of the configuration text and `filter/` evaluates
//! them; this module keeps a copy of the text and the rules that borrow from it together, for
//! as long as the configuration runs. The rules are built once, at load (process context), and
//! then only read: evaluating a request allocates nothing and takes no lock.
//!
//! The copy is the one self-reference of the module: [`Tables`] owns the text, the rules point
//! into it, the chains point into the rules. Both buffers are heap allocations that never move
//! or change after [`Tables::build`], and the `'static` lifetime never leaves this file:
//! [`Tables::chains`] hands them out for the lifetime of `&self` only.

use kernel::prelude::*;

use crate::config::{self, tables as ct};
use crate::filter::tables::{self as ft, Chain, Cond, Outcome, Pattern, Rule};
use crate::http::facts;

/// The compiled HTTP tables.
pub(crate) struct Tables {
    // Field order is drop order: the borrowers go before what they borrow.
    chains: KVec<Chain<'static>>,
    rules: KVec<Rule<'static>>,
    text: KVVec<u8>,
}

impl Tables {
    /// Compiles the `http_chain`s of `tree` (parsed from `src`, and validated); `None` when
    /// the configuration has none. Process context.
    pub(crate) fn build<'s>(
        src: &'s [u8],
        tree: &config::Tree<'s, '_>,
    ) -> core::result::Result<Option<Self>, TablesError<'s>> {
        if ct::chains(tree).next().is_none() {
            return Ok(None);
        }
        let mut text = KVVec::with_capacity(src.len(), GFP_KERNEL)?;
        text.extend_from_slice(src, GFP_KERNEL)?;
        // SAFETY: `text`'s buffer is moved into the returned `Tables` with it and never
        // changed again (no method of `Tables` takes `&mut self`), so it stays valid and
        // unchanged until `Tables` drops, after the rules and chains that borrow it (field
        // order). The `'static` is narrowed to `&self`'s lifetime by `Tables::chains`.
        let own: &'static [u8] = unsafe { core::slice::from_raw_parts(text.as_ptr(), text.len()) };
        // A slice of `src` as the same bytes of the copy.
        let base = src.as_ptr() as usize;
        let rebase = |s: &[u8]| -> Option<&'static [u8]> {
            if s.is_empty() {
                // The main chain's name, which is no slice of the text.
                return Some(&[]);
            }
            let start = (s.as_ptr() as usize).checked_sub(base)?;
            own.get(start..start.checked_add(s.len())?)
        };

        let mut ranges: KVec<(&'static [u8], usize, usize)> = KVec::new();
        let mut rules = KVec::new();
        for chain in ct::chains(tree) {
            let name = rebase(ct::chain_name(tree, chain)).ok_or(TablesError::Internal)?;
            let start = rules.len();
            for r in ct::rules(tree, chain) {
                let rule = compile(&r?, &rebase).ok_or(TablesError::Internal)?;
                rules.push(rule, GFP_KERNEL)?;
            }
            ranges.push((name, start, rules.len()), GFP_KERNEL)?;
        }
        // SAFETY: as for `own`: `rules` moves into `Tables` and is never changed again.
        let all: &'static [Rule<'static>] =
            unsafe { core::slice::from_raw_parts(rules.as_ptr(), rules.len()) };
        let mut chains = KVec::with_capacity(ranges.len(), GFP_KERNEL)?;
        for &(name, start, end) in ranges.iter() {
            let rules = all.get(start..end).ok_or(TablesError::Internal)?;
            chains.push(Chain { name, rules }, GFP_KERNEL)?;
        }
        // The configuration layer only lets a rule name chains defined before it, so this
        // can't fail; checked anyway, since `evaluate` relies on it to end.
        ft::validate(&chains).map_err(|_| TablesError::Internal)?;
        Ok(Some(Tables {
            chains,
            rules,
            text,
        }))
    }

    /// The chains, borrowed for as long as `self`.
    pub(crate) fn chains(&self) -> &[Chain<'_>] {
        &self.chains
    }

    /// Whether a rule has a `mark` condition (it needs `net.ipv4.tcp_fwmark_accept`).
    pub(crate) fn uses_marks(&self) -> bool {
        self.rules.iter().any(|r| matches!(r.cond, Cond::Mark(_)))
    }

    /// Rules in all chains.
    pub(crate) fn len(&self) -> usize {
        self.rules.len()
    }

    /// Bytes held (the configuration text and the rules).
    pub(crate) fn bytes(&self) -> usize {
        self.text
            .capacity()
            .saturating_add(self.rules.capacity() * core::mem::size_of::<Rule<'_>>())
            .saturating_add(self.chains.capacity() * core::mem::size_of::<Chain<'_>>())
    }

    /// Runs a request head (`f` is what `facts::scan` found in it) through the chains; `mark`
    /// is its connection's netfilter mark.
    pub(crate) fn route<'t>(
        &'t self,
        head: &[u8],
        f: &facts::HeadFacts<'_>,
        mark: u32,
    ) -> Outcome<'t> {
        let req = Head {
            head,
            uri: f.target,
            host: facts::host_name(f),
            method: f.method,
            mark,
        };
        ft::evaluate(self.chains(), &req)
    }
}

/// Why [`Tables::build`] failed.
pub(crate) enum TablesError<'s> {
    /// A rule the configuration layer refused (validation lets none through).
    Config(config::Error<'s>),
    /// No memory.
    NoMem,
    /// A rule that points outside the configuration text: a bug.
    Internal,
}

impl<'s> From<config::Error<'s>> for TablesError<'s> {
    fn from(e: config::Error<'s>) -> Self {
        TablesError::Config(e)
    }
}

impl From<kernel::alloc::AllocError> for TablesError<'_> {
    fn from(_: kernel::alloc::AllocError) -> Self {
        TablesError::NoMem
    }
}

/// One typed rule as the evaluator's, its slices moved to the copy by `rebase`.
fn compile<'t>(r: &ct::Rule<'_>, rebase: &impl Fn(&[u8]) -> Option<&'t [u8]>) -> Option<Rule<'t>> {
    let pat = |a: &[u8]| rebase(a).map(Pattern::parse);
    let (cond, negate) = match r.cond {
        None => (Cond::Always, false),
        Some(c) => {
            let cond = match c.field {
                ct::Field::Uri => Cond::Uri(pat(c.arg)?),
                ct::Field::Host => Cond::Host(pat(c.arg)?),
                ct::Field::Method => Cond::Method(pat(c.arg)?),
                ct::Field::Hdr(name) => Cond::Hdr {
                    name: rebase(name)?,
                    value: pat(c.arg)?,
                },
                ct::Field::Cookie(name) => Cond::Cookie {
                    name: pat(name)?,
                    value: pat(c.arg)?,
                },
                ct::Field::Mark if c.arg == b"*" => Cond::Mark(None),
                ct::Field::Mark => {
                    Cond::Mark(Some(config::values::parse_u32_in(c.arg, 1, u32::MAX).ok()?))
                }
            };
            (cond, c.negate)
        }
    };
    let action = match r.action {
        ct::Action::Vhost(v) => ft::Action::Vhost(rebase(v)?),
        ct::Action::Chain(c) => ft::Action::Chain(rebase(c)?),
        ct::Action::Block => ft::Action::Block,
        ct::Action::Mark(m) => ft::Action::Mark(m),
        ct::Action::CacheDisable(b) => ft::Action::CacheDisable(b),
        ct::Action::CacheTtl(t) => ft::Action::CacheTtl(t),
        ct::Action::Redirect { status, url } => ft::Action::Redirect {
            status,
            url: rebase(url)?,
        },
    };
    Some(Rule {
        cond,
        negate,
        action,
    })
}

/// A request head as the evaluator sees it.
struct Head<'h> {
    head: &'h [u8],
    uri: &'h [u8],
    host: &'h [u8],
    method: &'h [u8],
    mark: u32,
}

impl ft::Request for Head<'_> {
    fn uri(&self) -> &[u8] {
        self.uri
    }
    fn host(&self) -> &[u8] {
        self.host
    }
    fn method(&self) -> &[u8] {
        self.method
    }
    fn mark(&self) -> u32 {
        self.mark
    }
    fn any_header(&self, name: &[u8], pred: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        facts::any_field(self.head, name, pred)
    }
}
