// SPDX-License-Identifier: GPL-2.0

//! A TCP socket the proxy owns, with its events routed to the proxy.
//!
//! Every call here happens with glue.c's data lock held, either by a task (the work item or
//! the control path) or by a connection's `sk_data_ready` in softirq ([`atomic`] is then
//! true). Reads and writes are `MSG_DONTWAIT`, so nothing waits for the network; in softirq
//! glue.c reads with `tcp_read_sock` and writes with `tcp_sendmsg_locked` under the socket's
//! bh lock, and releases dropped sockets later from the work item. What always sleeps
//! (`sock_create_kern`, `kernel_accept`, `kernel_connect`) is only called by tasks: the
//! proxy defers connects it wants in softirq ([`defer`]).

use core::mem::MaybeUninit;
use core::net::SocketAddr;
use core::ptr;

use kernel::alloc::flags::{GFP_NOWAIT, __GFP_NOWARN};
use kernel::alloc::Flags;
use kernel::prelude::*;

use crate::sys;

/// TCP states (include/net/tcp_states.h).
pub(crate) const TCP_ESTABLISHED: i32 = 1;
pub(crate) const TCP_SYN_SENT: i32 = 2;

/// What a read gave.
pub(crate) enum Recv {
    /// This many bytes.
    Data(usize),
    /// Nothing now.
    Again,
    /// The peer closed its side.
    Eof,
    /// The connection failed (reset...).
    Err,
}

/// An owned kernel socket, optionally watched. Dropping it stops the watch and releases it.
pub(crate) struct Sock {
    /// Created by sock_create_kern or kernel_accept; never null.
    sock: *mut sys::socket,
    /// Our callbacks' state, from tfw_glue_watch; null until watched.
    watch: *mut sys::tfw_watch,
}

impl Sock {
    /// Wraps a socket we own.
    ///
    /// # Safety
    ///
    /// `sock` is a live socket that nothing else releases.
    pub(crate) unsafe fn from_raw(sock: *mut sys::socket) -> Self {
        Self {
            sock,
            watch: ptr::null_mut(),
        }
    }

    /// A new TCP socket for `addr`'s family. Tasks only (`EAGAIN` in softirq).
    pub(crate) fn tcp(addr: &SocketAddr) -> Result<Self> {
        if atomic() {
            return Err(EAGAIN);
        }
        let family = match addr {
            SocketAddr::V4(_) => sys::AF_INET,
            SocketAddr::V6(_) => sys::AF_INET6,
        };
        let mut sock: *mut sys::socket = ptr::null_mut();
        // SAFETY: `init_net` is the kernel's static initial namespace; `sock` is a valid out
        // pointer; a task (checked above).
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
            return Err(Error::from_errno(if r < 0 {
                r
            } else {
                -(sys::ENOMEM as i32)
            }));
        }
        // SAFETY: just created, owned by nobody else.
        Ok(unsafe { Self::from_raw(sock) })
    }

    pub(crate) fn raw(&self) -> *mut sys::socket {
        self.sock
    }

    pub(crate) fn watch_ptr(&self) -> *mut sys::tfw_watch {
        self.watch
    }

    /// Routes the socket's events to `tfw_rs_event(id)`. `parent` is the listener's watch for
    /// an accepted socket. Tasks only (`EAGAIN` in softirq).
    pub(crate) fn watch(&mut self, id: u64, parent: *mut sys::tfw_watch) -> Result {
        if !self.watch.is_null() {
            return Ok(());
        }
        if atomic() {
            return Err(EAGAIN);
        }
        // SAFETY: the socket is live and ours; `parent` is null or the live watch of the
        // listener this socket came from. A task (checked above).
        let w = unsafe { sys::tfw_glue_watch(self.sock, id, parent) };
        if w.is_null() {
            return Err(ENOMEM);
        }
        self.watch = w;
        Ok(())
    }

    /// Queues a read event for this socket, to resume work on it from the work item.
    pub(crate) fn kick(&self) {
        if !self.watch.is_null() {
            // SAFETY: the watch is live until `Drop`.
            unsafe { sys::tfw_glue_kick(self.watch, sys::TFW_EV_READ as i32) };
        }
    }

    /// Accepts one pending connection, `None` when there is none (or on error).
    pub(crate) fn accept(&self) -> Option<Sock> {
        if atomic() {
            return None;
        }
        let mut s: *mut sys::socket = ptr::null_mut();
        // SAFETY: a live listening socket of ours; `s` is a valid out pointer.
        let r = unsafe { sys::tfw_glue_accept(self.sock, &mut s) };
        if r < 0 || s.is_null() {
            return None;
        }
        // SAFETY: kernel_accept gave us a new socket that nobody else owns.
        Some(unsafe { Sock::from_raw(s) })
    }

    /// Starts connecting to `addr` without waiting. `Ok` when the connection is established or
    /// in progress.
    pub(crate) fn connect(&self, addr: &SocketAddr) -> Result {
        if atomic() {
            return Err(EAGAIN);
        }
        let (ss, len) = sockaddr(addr);
        // SAFETY: a live socket of ours and an address of `len` valid bytes.
        let r = unsafe { sys::tfw_glue_connect(self.sock, &ss, len as i32) };
        if r < 0 && r != -(sys::EINPROGRESS as i32) {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// The TCP state (`TCP_ESTABLISHED`...).
    pub(crate) fn state(&self) -> i32 {
        // SAFETY: a live socket of ours.
        unsafe { sys::tfw_glue_sk_state(self.sock) }
    }

    /// Whether the send buffer has room: false while the peer takes nothing of what is
    /// queued (a slow reader), true again once it reads.
    pub(crate) fn writable(&self) -> bool {
        // SAFETY: a live socket of ours; glue.c reads two counters of its `struct sock`.
        unsafe { sys::tfw_glue_writable(self.sock) }
    }

    /// Reads into `buf` without waiting.
    pub(crate) fn recv(&self, buf: &mut [MaybeUninit<u8>]) -> Recv {
        if buf.is_empty() {
            return Recv::Again;
        }
        // SAFETY: `buf` is valid for writes of its length; kernel_recvmsg writes at most that
        // many bytes and never reads them.
        let r = unsafe { sys::tfw_glue_recv(self.sock, buf.as_mut_ptr().cast(), buf.len()) };
        match r {
            0 => Recv::Eof,
            n if n > 0 => Recv::Data(n as usize),
            e if e == -(sys::EAGAIN as i32) => Recv::Again,
            _ => Recv::Err,
        }
    }

    /// Writes as much of `data` as the send buffer takes; returns how much, or an errno.
    pub(crate) fn send(&self, data: &[u8]) -> core::result::Result<usize, i32> {
        self.send_flags(data, false)
    }

    /// Like [`Sock::send`], telling TCP that more data follows at once (`MSG_MORE`): a short
    /// response head then leaves in one segment with the body that follows it.
    pub(crate) fn send_more(&self, data: &[u8]) -> core::result::Result<usize, i32> {
        self.send_flags(data, true)
    }

    fn send_flags(&self, data: &[u8], more: bool) -> core::result::Result<usize, i32> {
        if data.is_empty() {
            return Ok(0);
        }
        // Bounded so the int return of kernel_sendmsg cannot overflow.
        let len = data.len().min(1 << 20);
        // SAFETY: `data` is valid for reads of `len` bytes; the socket is ours.
        let r = unsafe { sys::tfw_glue_send(self.sock, data.as_ptr().cast(), len, more) };
        sent(r)
    }

    /// Queues `len` bytes of `pages`, starting `off` bytes into the first, without copying
    /// them (`MSG_SPLICE_PAGES`): TCP takes its own reference on each page. Returns bytes
    /// queued (0 when the send buffer is full), or an errno.
    ///
    /// # Safety
    ///
    /// Every pointer is a live order-0 page allocated by the page allocator, and the bytes
    /// sent from it never change afterwards (TCP may still read them after it is freed by
    /// the caller, through its own reference).
    pub(crate) unsafe fn send_pages(
        &self,
        pages: &[*mut kernel::ffi::c_void],
        off: usize,
        len: usize,
        more: bool,
    ) -> core::result::Result<usize, i32> {
        if len == 0 || pages.is_empty() {
            return Ok(0);
        }
        let n = u32::try_from(pages.len()).unwrap_or(u32::MAX);
        // SAFETY: the pages are valid per this function's contract; glue.c reads at most
        // `TFW_SPLICE_PAGES` of them and `len` bytes in all; the socket is ours.
        let r = unsafe { sys::tfw_glue_send_pages(self.sock, pages.as_ptr(), n, off, len, more) };
        sent(r)
    }

    /// Moves up to `max` received bytes of this socket straight into `to`'s send queue,
    /// unread and uncopied (their pages are spliced; see `tfw_glue_splice`). Only from a
    /// socket callback in softirq, for one of the two sockets; elsewhere (and when this
    /// socket must be read the usual way) [`Splice::Unable`].
    pub(crate) fn splice_to(&self, to: &Sock, max: usize) -> Splice {
        let mut full = false;
        // SAFETY: both sockets are ours and live; `full` is a valid out pointer.
        let r = unsafe { sys::tfw_glue_splice(self.sock, to.sock, max, &mut full) };
        match r {
            n if n > 0 => Splice::Moved(n as usize, full),
            0 => Splice::Empty,
            e if e == -(sys::EAGAIN as isize) => Splice::Full,
            _ => Splice::Unable,
        }
    }

    /// The peer's address as text into `buf`; returns the text.
    pub(crate) fn peer<'a>(&self, buf: &'a mut [u8; 64]) -> &'a [u8] {
        // SAFETY: `buf` has 64 writable bytes; the socket is ours.
        let n = unsafe { sys::tfw_glue_peer_str(self.sock, buf.as_mut_ptr().cast(), buf.len()) };
        match usize::try_from(n) {
            Ok(n) => buf.get(..n).unwrap_or(&[]),
            Err(_) => b"unknown",
        }
    }

    /// The peer's address as 16 bytes (IPv4 v4-mapped); zeros if the socket has no peer.
    pub(crate) fn peer_addr(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        // SAFETY: `out` has the 16 writable bytes glue.c writes; the socket is ours.
        let _ = unsafe { sys::tfw_glue_peer_addr(self.sock, out.as_mut_ptr()) };
        out
    }

    /// The local port (for an accepted socket, the listener's port).
    pub(crate) fn local_port(&self) -> u16 {
        // SAFETY: a live socket of ours; glue.c reads one field of its `inet_sock`.
        unsafe { sys::tfw_glue_local_port(self.sock) }
    }

    /// Half-closes: a FIN follows what is queued, and the socket can still be read.
    pub(crate) fn shutdown_write(&self) {
        // SAFETY: a live socket of ours; glue.c picks the variant for the context.
        unsafe { sys::tfw_glue_shutdown_wr(self.sock) };
    }

    /// Turns Nagle's algorithm off.
    pub(crate) fn set_nodelay(&self) {
        // SAFETY: a live socket of ours; glue.c does nothing in softirq (only accepted and
        // new sockets, in the work item, get here).
        unsafe { sys::tfw_glue_nodelay(self.sock) };
    }

    /// The socket's netfilter mark: for an accepted socket, its SYN's mark when
    /// `net.ipv4.tcp_fwmark_accept` is on (0 otherwise).
    pub(crate) fn mark(&self) -> u32 {
        // SAFETY: a live socket of ours; a plain read of one field.
        unsafe { sys::tfw_glue_mark(self.sock) }
    }

    /// Marks the packets this socket sends from now on (`http_chain ... -> mark = N`), for
    /// iptables/nftables rules to match.
    pub(crate) fn set_mark(&self, mark: u32) {
        // SAFETY: a live socket of ours; glue.c picks the variant for the context.
        unsafe { sys::tfw_glue_set_mark(self.sock, mark) };
    }

    /// Makes the close send a reset (for connections the proxy aborts).
    pub(crate) fn abort_on_close(&self) {
        // SAFETY: a live socket of ours.
        unsafe { sys::tfw_glue_abort(self.sock) };
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        // SAFETY: the socket is ours and the watch null or from tfw_glue_watch for it; both
        // are given up once, here (glue.c releases at once from a task, later from softirq).
        unsafe { sys::tfw_glue_release(self.sock, self.watch) };
    }
}

/// Whether the data lock's holder is the softirq path: nothing may sleep (no
/// `sock_create_kern`, no `GFP_KERNEL`).
/// What [`Sock::splice_to`] did.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Splice {
    /// Bytes moved; `true` when the destination filled up before `max`.
    Moved(usize, bool),
    /// Nothing to read now (or the end of the stream, which a read reports).
    Empty,
    /// The destination took nothing (full, or busy): its write event comes.
    Full,
    /// Not here: read and copy instead.
    Unable,
}

pub(crate) fn atomic() -> bool {
    // SAFETY: reads a flag; the data lock is held (our module's contract).
    unsafe { sys::tfw_glue_atomic() }
}

/// Allocation flags for the data path: `GFP_ATOMIC` in softirq, `GFP_KERNEL` in a task.
pub(crate) fn gfp() -> Flags {
    if atomic() {
        GFP_ATOMIC
    } else {
        GFP_KERNEL
    }
}

/// Allocation flags for bulk memory that may be refused (cache pages): in softirq
/// `GFP_NOWAIT` without a warning, so that filling the cache never draws on the reserves
/// the network stack's own atomic allocations need.
pub(crate) fn gfp_bulk() -> Flags {
    if atomic() {
        GFP_NOWAIT | __GFP_NOWARN
    } else {
        GFP_KERNEL
    }
}

/// Has the work item call `tfw_rs_deferred` soon (work the softirq path cannot do).
pub(crate) fn defer() {
    // SAFETY: sets a flag and queues the work item; any context.
    unsafe { sys::tfw_glue_defer() };
}

/// `addr` as a kernel socket address and its length.
pub(crate) fn sockaddr(addr: &SocketAddr) -> (sys::__kernel_sockaddr_storage, usize) {
    let mut ss = sys::__kernel_sockaddr_storage::default();
    let len = match addr {
        SocketAddr::V4(a) => {
            let mut sa = sys::sockaddr_in::default();
            sa.sin_family = sys::AF_INET as u16;
            sa.sin_port = a.port().to_be();
            sa.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { ptr::write((&raw mut ss).cast::<sys::sockaddr_in>(), sa) };
            core::mem::size_of::<sys::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let mut sa = sys::sockaddr_in6::default();
            sa.sin6_family = sys::AF_INET6 as u16;
            sa.sin6_port = a.port().to_be();
            sa.sin6_addr.in6_u.u6_addr8 = a.ip().octets();
            sa.sin6_scope_id = a.scope_id();
            // SAFETY: as above, for sockaddr_in6.
            unsafe { ptr::write((&raw mut ss).cast::<sys::sockaddr_in6>(), sa) };
            core::mem::size_of::<sys::sockaddr_in6>()
        }
    };
    (ss, len)
}

/// Milliseconds of a monotonic clock.
pub(crate) fn now_ms() -> u64 {
    // SAFETY: reads jiffies; callable in any context.
    unsafe { sys::tfw_glue_now_ms() }
}

/// A send's result: bytes queued (0 when the send buffer is full), or an errno.
fn sent(r: i32) -> core::result::Result<usize, i32> {
    match r {
        n if n >= 0 => Ok(n as usize),
        e if e == -(sys::EAGAIN as i32) => Ok(0),
        e => Err(e),
    }
}
