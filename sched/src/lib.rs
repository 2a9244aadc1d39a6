//! Upstream schedulers (`sched ratio static` = weighted round robin, later `dynamic`, `hash`).
//!
//! `no_std` and allocation-free; the module drives it with its server tables. Filled in by the
//! proxy issue.
#![cfg_attr(not(test), no_std)]
