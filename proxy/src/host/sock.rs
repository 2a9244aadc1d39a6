//! The host's `crate::sock`: `src/sock.rs`'s interface over the simulated network
//! ([`super::net`]). Every function has the kernel version's signature and contract.

use std::prelude::rust_2021::*;

use core::mem::MaybeUninit;
use core::net::SocketAddr;

use kernel::alloc::flags::{__GFP_NOWARN, GFP_ATOMIC, GFP_KERNEL, GFP_NOWAIT};
use kernel::alloc::Flags;
use kernel::error::Result;
use kernel::prelude::*;

use super::net::{self, with};
use super::sys;

pub(crate) const TCP_ESTABLISHED: i32 = net::ESTABLISHED;
pub(crate) const TCP_SYN_SENT: i32 = net::SYN_SENT;

/// What a read gave.
pub(crate) enum Recv {
    Data(usize),
    Again,
    Eof,
    Err,
}

/// What [`Sock::splice_to`] did.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Splice {
    Moved(usize, bool),
    Empty,
    Full,
    Unable,
}

/// A proxy socket: one end of the simulated network.
pub(crate) struct Sock {
    pub(crate) ep: usize,
}

impl Sock {
    /// A new, unconnected socket. Tasks only, as in the kernel.
    pub(crate) fn tcp(_addr: &SocketAddr) -> Result<Self> {
        if atomic() {
            return Err(EAGAIN);
        }
        Ok(Sock {
            ep: with(|n| {
                let ep = n.new_ep();
                n.ep(ep).owned = true;
                ep
            }),
        })
    }

    pub(crate) fn watch_ptr(&self) -> *mut sys::tfw_watch {
        core::ptr::null_mut()
    }

    pub(crate) fn watch(&mut self, id: u64, _parent: *mut sys::tfw_watch) -> Result {
        if atomic() {
            return Err(EAGAIN);
        }
        with(|n| {
            n.ep(self.ep).watch = Some(id);
            // Data that came before the watch is seen at once (glue.c checks the queue).
            if !n.ep(self.ep).rx.is_empty() || n.ep(self.ep).fin {
                n.notify_work(self.ep);
            }
        });
        Ok(())
    }

    pub(crate) fn kick(&self) {
        with(|n| n.notify_work(self.ep));
    }

    pub(crate) fn accept(&self) -> Option<Sock> {
        if atomic() {
            return None;
        }
        with(|n| {
            let ep = n.ep(self.ep).backlog.pop_front()?;
            n.ep(ep).owned = true;
            Some(Sock { ep })
        })
    }

    pub(crate) fn connect(&self, addr: &SocketAddr) -> Result {
        if atomic() {
            return Err(EAGAIN);
        }
        with(|n| n.connect(self.ep, addr));
        Ok(())
    }

    pub(crate) fn state(&self) -> i32 {
        with(|n| n.ep(self.ep).state)
    }

    pub(crate) fn writable(&self) -> bool {
        with(|n| {
            let ep = n.ep(self.ep);
            ep.state == net::ESTABLISHED && ep.peer.is_some_and(|p| n.room(p) > 0)
        })
    }

    pub(crate) fn recv(&self, buf: &mut [MaybeUninit<u8>]) -> Recv {
        if buf.is_empty() {
            return Recv::Again;
        }
        with(|n| {
            let ep = n.ep(self.ep);
            if ep.reset {
                return Recv::Err;
            }
            if ep.rx.is_empty() {
                return if ep.fin { Recv::Eof } else { Recv::Again };
            }
            let data = n.recv(self.ep, buf.len());
            for (d, s) in buf.iter_mut().zip(&data) {
                d.write(*s);
            }
            Recv::Data(data.len())
        })
    }

    pub(crate) fn send(&self, data: &[u8]) -> core::result::Result<usize, i32> {
        self.send_more(data)
    }

    pub(crate) fn send_more(&self, data: &[u8]) -> core::result::Result<usize, i32> {
        if data.is_empty() {
            return Ok(0);
        }
        let len = data.len().min(1 << 20);
        with(|n| n.send(self.ep, &data[..len]))
    }

    /// # Safety
    ///
    /// As the kernel's: each pointer is a page (here: `kernel::page::Page::as_ptr`, the
    /// page's bytes), `off + len` within the pages given.
    pub(crate) unsafe fn send_pages(
        &self,
        pages: &[*mut kernel::ffi::c_void],
        off: usize,
        len: usize,
        _more: bool,
    ) -> core::result::Result<usize, i32> {
        const PAGE: usize = kernel::page::PAGE_SIZE;
        if len == 0 || pages.is_empty() {
            return Ok(0);
        }
        let room = with(|n| n.ep(self.ep).peer.map_or(0, |p| n.room(p)));
        let len = len.min(room).min((pages.len() * PAGE).saturating_sub(off));
        let mut bytes = Vec::with_capacity(len);
        let mut pos = off;
        while bytes.len() < len {
            let (pi, po) = (pos / PAGE, pos % PAGE);
            let n = (PAGE - po).min(len - bytes.len());
            // SAFETY: per the contract, page `pi` has PAGE_SIZE readable bytes.
            let page = unsafe { core::slice::from_raw_parts(pages[pi].cast::<u8>(), PAGE) };
            bytes.extend_from_slice(&page[po..po + n]);
            pos += n;
        }
        with(|n| n.send(self.ep, &bytes))
    }

    /// Moves received bytes straight into `to`'s peer, as glue.c's splice does (only in
    /// "softirq", as there).
    pub(crate) fn splice_to(&self, to: &Sock, max: usize) -> Splice {
        if !atomic() {
            return Splice::Unable;
        }
        with(|n| {
            if n.ep(self.ep).reset || n.ep(to.ep).reset || n.ep(to.ep).state != net::ESTABLISHED {
                return Splice::Unable;
            }
            let avail = n.ep(self.ep).rx.len();
            if avail == 0 {
                return Splice::Empty;
            }
            let Some(dst) = n.ep(to.ep).peer else {
                return Splice::Unable;
            };
            let room = n.room(dst);
            if room == 0 {
                return Splice::Full;
            }
            let take = avail.min(max).min(room);
            let data = n.recv(self.ep, take);
            match n.send(to.ep, &data) {
                Ok(k) if k == data.len() => Splice::Moved(k, take < avail.min(max)),
                _ => Splice::Unable,
            }
        })
    }

    pub(crate) fn peer<'a>(&self, buf: &'a mut [u8; 64]) -> &'a [u8] {
        let text = with(|n| n.ep(self.ep).peer_text.clone());
        let k = text.len().min(64);
        buf[..k].copy_from_slice(&text.as_bytes()[..k]);
        &buf[..k]
    }

    pub(crate) fn peer_addr(&self) -> [u8; 16] {
        with(|n| n.ep(self.ep).peer_addr)
    }

    pub(crate) fn local_port(&self) -> u16 {
        with(|n| n.ep(self.ep).local_port)
    }

    pub(crate) fn shutdown_write(&self) {
        with(|n| n.shutdown(self.ep));
    }

    pub(crate) fn set_nodelay(&self) {}

    pub(crate) fn mark(&self) -> u32 {
        with(|n| n.ep(self.ep).mark)
    }

    pub(crate) fn set_mark(&self, mark: u32) {
        with(|n| n.ep(self.ep).mark = mark);
    }

    pub(crate) fn abort_on_close(&self) {
        with(|n| n.ep(self.ep).abort = true);
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        with(|n| n.release(self.ep));
    }
}

/// "Softirq": the event loop sets it while it delivers data events.
pub(crate) fn atomic() -> bool {
    with(|n| n.atomic)
}

pub(crate) fn gfp() -> Flags {
    if atomic() {
        GFP_ATOMIC
    } else {
        GFP_KERNEL
    }
}

pub(crate) fn gfp_bulk() -> Flags {
    if atomic() {
        GFP_NOWAIT | __GFP_NOWARN
    } else {
        GFP_KERNEL
    }
}

/// The work item runs `run_deferred` on its next turn.
pub(crate) fn defer() {
    with(|n| n.deferred = true);
}

pub(crate) fn now_ms() -> u64 {
    net::now()
}
