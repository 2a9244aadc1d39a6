//! The reverse proxy of tempesta-rs, as the host builds it: the module's own sources over a
//! simulated network, for host tests.
//!
//! The kernel module (`src/tfw.rs`) compiles `proxy.rs`, `cached.rs`, `firewall.rs`,
//! `tables.rs`, `cfgfile.rs` and `buf.rs` from this directory as modules of its own crate,
//! next to `sock.rs` (the socket layer: every call into the kernel's socket API), `store.rs`
//! (the cache's page store) and `sys` (the bindings). None of these six files calls the
//! kernel directly: their I/O is the [`sock::Sock`] interface (send, receive, splice, connect,
//! accept, a clock) and a handful of counters in `/proc` (`sys`).
//!
//! This crate compiles the same files for the host with stand-ins for those three:
//!
//! * `kernel::` is `proxy/shim` (KVec, KBox, Arc, Page, RBTree and errors with the 6.12
//!   signatures, on the host allocator);
//! * [`sock`] and [`sys`] are [`host`]'s simulated network: sockets are byte queues between
//!   the proxy and test peers, events are queued per connection and delivered by the test's
//!   event loop ([`host::Sim`]) the way glue.c's callbacks and work item deliver them;
//! * `store` is the module's own `src/store.rs`.
//!
//! So the proxy is a state machine driven by events (`Proxy::event`, `accept`, `tick`,
//! `run_deferred`) whose only effects are calls on its sockets; host tests drive it through
//! whole exchanges (pipelining, bodies of any size, byte-at-a-time clients, upstreams that
//! fail, thousands of clients) without a VM, and the VM tests run the same code in the kernel.
#![no_std]
#![allow(dead_code, unreachable_pub)]
// The kernel build compiles these files with the kernel's (older) clippy; these lints of the
// host's are style calls made differently there: the timeout rules are one `match` arm per
// state and rule; `Role` is a slot's payload, boxing it would add an allocation per
// connection; the kernel's `RBTreeNode` frees on drop (the stand-in's does not), and
// `NewObj::new` builds the object under construction.
#![allow(
    clippy::collapsible_match,
    clippy::large_enum_variant,
    clippy::drop_non_drop,
    clippy::new_ret_no_self
)]

pub(crate) use tempesta_cache as cache;
pub(crate) use tempesta_config as config;
pub(crate) use tempesta_filter as filter;
pub(crate) use tempesta_http as http;
pub(crate) use tempesta_parser as parser;
pub(crate) use tempesta_sched as sched;

mod buf;
mod cached;
mod cfgfile;
mod firewall;
mod proxy;
#[path = "../../src/store.rs"]
mod store;
mod tables;

// The host's stand-ins and the tests use std; the proxy's own files see only `core` and
// `kernel::` (std's prelude is not in scope for them), as in the module.
#[macro_use]
extern crate std;

pub mod host;
pub(crate) use host::sock;
pub(crate) use host::sys;

#[cfg(test)]
mod hostile;
#[cfg(test)]
mod tests;
