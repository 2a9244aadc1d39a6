// SPDX-License-Identifier: GPL-2.0

//! tempesta-rs: an HTTP accelerator and application-layer firewall in the Linux kernel.
//!
//! This crate is the kernel module and the only code that touches kernel APIs. It is a thin
//! shell: the logic lives in the `no_std` crates of the workspace (configuration language, HTTP
//! parser, cache policy, schedulers), whose sources are compiled into this crate below with
//! `#[path]`, so that host tests and the module run the same code.
//!
//! The data path, top to bottom, and where each stage lives:
//!
//! ```text
//!   net.tempesta.state (glue.c) -> ctl: read + validate config (config/), start/stop
//!   listener, sock: sockets; callbacks queue events to one work item (glue.c)
//!   proxy: client -> http/ (parser/, rewrite) -> firewall (filter/, tables)
//!          -> cached: hit from store, or collapse, or forward -> sched/ -> upstream pool
//!          -> back (a storable response fills a store object on its way)
//! ```

// The `no_std` crates, compiled from their own sources. Their crate-level attributes
// (`#![no_std]` etc.) are meaningless as submodules, hence `unused_attributes`.
#[allow(unused_attributes, dead_code, unreachable_pub)]
#[path = "../config/src/lib.rs"]
mod config;

// Compiled in now so that the kernel build keeps proving the parser is kernel-clean (no_std,
// no alloc, no SIMD); the socket layer of the proxy issue is its first user.
#[allow(unused_attributes, dead_code, unreachable_pub, unused_imports)]
#[path = "../parser/src/lib.rs"]
mod parser;

// The proxy's HTTP logic (sans-I/O). `--cfg tfw_kernel` (Kbuild) makes it use
// `crate::parser` instead of the external crate.
#[allow(unused_attributes, dead_code, unreachable_pub, unused_imports)]
#[path = "../http/src/lib.rs"]
mod http;

#[allow(unused_attributes, dead_code, unreachable_pub)]
#[path = "../sched/src/lib.rs"]
mod sched;

// Cache policy (RFC 9111) and firewall logic (frang, HTTP tables), kernel-clean (no_std, no
// alloc, no FPU); `cached`, `store`, `firewall` and `tables` are their kernel sides.
#[allow(unused_attributes, dead_code, unreachable_pub, unused_imports)]
#[path = "../cache/src/lib.rs"]
mod cache;

#[allow(unused_attributes, dead_code, unreachable_pub, unused_imports)]
#[path = "../filter/src/lib.rs"]
mod filter;

// The proxy (connections, pools, exchanges), the cache's and the firewall's glue to it, and
// the configuration's kernel form: kernel-free logic over the narrow socket interface of
// `sock`, so `proxy/` compiles them on the host too and drives them over a simulated network.
#[path = "../proxy/src/buf.rs"]
mod buf;
#[path = "../proxy/src/cached.rs"]
mod cached;
#[path = "../proxy/src/cfgfile.rs"]
mod cfgfile;
#[path = "../proxy/src/firewall.rs"]
mod firewall;
#[path = "../proxy/src/proxy.rs"]
mod proxy;
#[path = "../proxy/src/tables.rs"]
mod tables;

mod ctl;
mod listener;
mod sock;
mod store;
mod sys;

use kernel::prelude::*;

module! {
    type: TempestaFw,
    name: "tempesta_fw",
    author: "tempesta-rs developers",
    description: "tempesta-rs: in-kernel HTTP accelerator and application-layer firewall",
    license: "GPL",
}

/// The module instance. Loading it registers the control interfaces only; nothing listens until
/// `sysctl -w net.tempesta.state=start`.
struct TempestaFw;

impl kernel::Module for TempestaFw {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: called once from module init, before which no glue interface exists.
        let r = unsafe { sys::tfw_glue_init() };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        pr_info!("loaded, configuration {}\n", ctl::cfg_path_display());
        Ok(TempestaFw)
    }
}

impl Drop for TempestaFw {
    fn drop(&mut self) {
        // SAFETY: paired with the successful `tfw_glue_init()` in `init`. It stops everything
        // (`ctl::tfw_rs_shutdown` under the data lock) and returns when no handler, socket
        // callback or work item can run any more.
        unsafe { sys::tfw_glue_exit() };
        pr_info!("unloaded\n");
    }
}
