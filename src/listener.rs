// SPDX-License-Identifier: GPL-2.0

//! Listening sockets, one per `listen` directive.
//!
//! Opened and closed in process context (the sysctl write that starts or stops the module):
//! `sock_create_kern`, `kernel_bind` and `sock_release` may sleep. Accepting connections on them
//! is the next layer's job (socket callbacks + work items); until then the kernel completes
//! handshakes into the accept queue.

use core::net::SocketAddr;
use core::ptr;



use crate::sys;

/// Accept queue length asked for; the kernel caps it at `net.core.somaxconn`, which
/// `tempesta.sh` raises the way Tempesta FW does.
const BACKLOG: i32 = 65535;

/// A kernel TCP socket listening on one address. Dropping it closes the socket.
pub(crate) struct Listener {
    addr: SocketAddr,
    /// Owned: created by `sock_create_kern`, released by `Drop`. Never null.
    sock: *mut sys::socket,
}

impl Listener {
    /// Creates, binds and starts listening on `addr`. Process context only.
    ///
    /// On error returns the negative errno of the step that failed and the step's name, for the
    /// operator's message.
    pub(crate) fn open(addr: SocketAddr) -> core::result::Result<Self, (i32, &'static str)> {
        let family = match addr {
            SocketAddr::V4(_) => sys::AF_INET,
            SocketAddr::V6(_) => sys::AF_INET6,
        };
        let mut sock: *mut sys::socket = ptr::null_mut();
        // SAFETY: `init_net` is the kernel's static initial network namespace; `sock` is a valid
        // place for the result. We are in process context, as sock_create_kern requires.
        let r = unsafe {
            sys::sock_create_kern(
                &raw mut sys::init_net,
                family as i32,
                sys::sock_type_SOCK_STREAM as i32,
                sys::IPPROTO_TCP as i32,
                &mut sock,
            )
        };
        if r < 0 || sock.is_null() {
            return Err((if r < 0 { r } else { -(sys::ENOMEM as i32) }, "socket"));
        }
        // From here on, dropping `l` releases the socket on every error path.
        let l = Listener { addr, sock };

        // SAFETY: `l.sock` is a live socket we own and `sk` is set by sock_create_kern.
        unsafe { sys::sock_set_reuseaddr((*l.sock).sk) };
        let r = match addr {
            SocketAddr::V4(a) => {
                let mut sa = sys::sockaddr_in::default();
                sa.sin_family = sys::AF_INET as u16;
                sa.sin_port = a.port().to_be();
                sa.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                // SAFETY: `sa` is a valid sockaddr_in of the length passed; the socket is ours.
                unsafe {
                    sys::kernel_bind(
                        l.sock,
                        (&raw mut sa).cast(),
                        core::mem::size_of::<sys::sockaddr_in>() as i32,
                    )
                }
            }
            SocketAddr::V6(a) => {
                // A bare port means 0.0.0.0 in Tempesta's syntax; keeping IPv6 sockets v6-only
                // lets `listen 80` and `listen [::]:80` coexist.
                // SAFETY: the socket is ours and live.
                unsafe { sys::tfw_glue_sock_set_v6only(l.sock) };
                let mut sa = sys::sockaddr_in6::default();
                sa.sin6_family = sys::AF_INET6 as u16;
                sa.sin6_port = a.port().to_be();
                sa.sin6_addr.in6_u.u6_addr8 = a.ip().octets();
                sa.sin6_scope_id = a.scope_id();
                // SAFETY: as above, for sockaddr_in6.
                unsafe {
                    sys::kernel_bind(
                        l.sock,
                        (&raw mut sa).cast(),
                        core::mem::size_of::<sys::sockaddr_in6>() as i32,
                    )
                }
            }
        };
        if r < 0 {
            return Err((r, "bind"));
        }
        // SAFETY: the socket is ours, live and bound.
        let r = unsafe { sys::kernel_listen(l.sock, BACKLOG) };
        if r < 0 {
            return Err((r, "listen"));
        }
        Ok(l)
    }

    /// The address this socket listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // SAFETY: `sock` was created by sock_create_kern and is released exactly once, here.
        // Listeners are dropped in process context only (control path, module exit).
        unsafe { sys::sock_release(self.sock) };
    }
}
