// SPDX-License-Identifier: GPL-2.0

//! Listening sockets, one per `listen` directive.
//!
//! Opened and closed in process context (the sysctl write that starts or stops the module):
//! `sock_create_kern`, `kernel_bind` and `sock_release` may sleep. A listener is watched like
//! any connection: a handshake completing in softirq queues an event, and the work item
//! accepts everything pending without blocking (see [`crate::proxy::Proxy::accept`]).

use core::net::SocketAddr;

use crate::sock::{self, Sock};
use crate::sys;

/// Accept queue length asked for; the kernel caps it at `net.core.somaxconn`, which
/// `tempesta.sh` raises the way Tempesta FW does.
const BACKLOG: i32 = 65535;

/// A kernel TCP socket listening on one address. Dropping it closes the socket.
pub(crate) struct Listener {
    addr: SocketAddr,
    sock: Sock,
    /// The event name of this listener (see [`crate::proxy::LISTENER_ID`]).
    token: u64,
}

impl Listener {
    /// Creates, binds and starts listening on `addr`; its events are named `token`. Process
    /// context only.
    ///
    /// On error returns the negative errno of the step that failed and the step's name, for the
    /// operator's message.
    pub(crate) fn open(
        addr: SocketAddr,
        token: u64,
    ) -> core::result::Result<Self, (i32, &'static str)> {
        let sock = Sock::tcp(&addr).map_err(|e| (e.to_errno(), "socket"))?;
        // From here on, dropping `l` releases the socket on every error path.
        let mut l = Listener { addr, sock, token };
        let raw = l.sock.raw();

        // SAFETY: `raw` is a live socket we own and `sk` is set by sock_create_kern.
        unsafe { sys::sock_set_reuseaddr((*raw).sk) };
        if addr.is_ipv6() {
            // A bare port means 0.0.0.0 in Tempesta's syntax; keeping IPv6 sockets v6-only
            // lets `listen 80` and `listen [::]:80` coexist.
            // SAFETY: the socket is ours and live.
            unsafe { sys::tfw_glue_sock_set_v6only(raw) };
        }
        let (mut ss, len) = sock::sockaddr(&addr);
        // SAFETY: `ss` holds a valid socket address of `len` bytes; the socket is ours.
        let r = unsafe { sys::kernel_bind(raw, (&raw mut ss).cast(), len as i32) };
        if r < 0 {
            return Err((r, "bind"));
        }
        // SAFETY: the socket is ours, live and bound.
        let r = unsafe { sys::kernel_listen(raw, BACKLOG) };
        if r < 0 {
            return Err((r, "listen"));
        }
        l.sock
            .watch(token, core::ptr::null_mut())
            .map_err(|e| (e.to_errno(), "watch"))?;
        Ok(l)
    }

    /// The address this socket listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn token(&self) -> u64 {
        self.token
    }

    pub(crate) fn sock(&self) -> &Sock {
        &self.sock
    }
}
