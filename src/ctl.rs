// SPDX-License-Identifier: GPL-2.0

//! Control of the running state: `sysctl net.tempesta.state=start|stop` and its readers.
//!
//! glue.c calls [`tfw_rs_ctl_state`] and [`tfw_rs_state_str`] with its data lock held, as a
//! task (process context): the state here is only ever touched by one holder at a time.
//!
//! Semantics, as operators of Tempesta FW know them:
//! - `start` while stopped reads and validates the configuration, then opens the listeners;
//! - `start` while running reconfigures live: the new configuration is validated first, and on
//!   any error the running one stays untouched (reads then say `start (failed reconfig)`);
//!   listeners present in both configurations keep their sockets (no connection is dropped);
//! - `stop` closes everything; a second `stop` is a no-op;
//! - every failure returns an error to the writer and logs one line saying why.

use core::cell::UnsafeCell;

use kernel::prelude::*;
use kernel::str::CStr;

use crate::buf::SliceWriter;
use crate::cfgfile::{self, Config};
use crate::listener::Listener;
use crate::proxy::{self, Proxy};
use crate::sys;

/// What runs after a successful `start`.
struct Running {
    listeners: KVec<Listener>,
    /// Boxed: kilobytes (see `Proxy::new`).
    proxy: KBox<Proxy>,
}

struct Ctl {
    running: Option<Running>,
    /// The last `start` while running failed; the previous configuration is still in force.
    failed_reconfig: bool,
    /// Next listener event name.
    next_token: u64,
}

struct CtlCell(UnsafeCell<Ctl>);

// SAFETY: the cell is only accessed through `ctl()`, whose callers hold glue.c's data lock
// or run from module exit after the control interfaces are unregistered: never concurrently.
unsafe impl Sync for CtlCell {}

static CTL: CtlCell = CtlCell(UnsafeCell::new(Ctl {
    running: None,
    failed_reconfig: false,
    next_token: 0,
}));

/// # Safety
///
/// The caller holds glue.c's data lock, or no control handler can run (module exit), and
/// drops the reference before releasing it.
unsafe fn ctl() -> &'static mut Ctl {
    // SAFETY: exclusive access is the caller's contract (see above).
    unsafe { &mut *CTL.0.get() }
}

/// The configuration path given at load time (`tfw_cfg_path=`).
fn cfg_path() -> &'static CStr {
    // SAFETY: glue.c returns the module parameter, a NUL-terminated string that lives as long
    // as the module and cannot change (the parameter is read-only, 0444).
    unsafe { CStr::from_char_ptr(sys::tfw_glue_cfg_path()) }
}

/// The configuration path, for messages.
pub(crate) fn cfg_path_display() -> &'static str {
    cfg_path().to_str().unwrap_or("<non-UTF-8 path>")
}

/// Handler of writes to `net.tempesta.state`. Returns 0 or a negative errno.
///
/// # Safety
///
/// Called by glue.c only, with the data lock held; `cmd` points to `len` readable bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn tfw_rs_ctl_state(
    cmd: *const kernel::ffi::c_char,
    len: usize,
) -> i32 {
    // SAFETY: glue.c passes its sysctl buffer and the length of the string in it.
    let cmd = unsafe { core::slice::from_raw_parts(cmd.cast::<u8>(), len) };
    // SAFETY: the data lock is held (our contract).
    let ctl = unsafe { ctl() };
    let r = match cmd.trim_ascii() {
        b"start" => ctl.start(),
        b"stop" => {
            ctl.stop();
            Ok(())
        }
        other => {
            pr_err!(
                "net.tempesta.state: unknown command '{}' (expected start or stop)\n",
                core::str::from_utf8(other).unwrap_or("<non-UTF-8>")
            );
            Err(EINVAL)
        }
    };
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Writes the state string (`start`, `stop` or `start (failed reconfig)`) NUL-terminated into
/// `buf` and returns its length.
///
/// # Safety
///
/// Called by glue.c only, with the data lock held; `buf` points to `len` writable bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn tfw_rs_state_str(
    buf: *mut kernel::ffi::c_char,
    len: usize,
) -> usize {
    // SAFETY: the data lock is held (our contract).
    let ctl = unsafe { ctl() };
    let s: &[u8] = match (&ctl.running, ctl.failed_reconfig) {
        (None, _) => b"stop",
        (Some(_), false) => b"start",
        (Some(_), true) => b"start (failed reconfig)",
    };
    if len == 0 {
        return 0;
    }
    let n = s.len().min(len - 1);
    // SAFETY: `buf` has `len` writable bytes (our contract) and `n + 1 <= len`; `s` is a
    // distinct static string.
    unsafe {
        core::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
    n
}

/// Stops everything. Called by glue.c at module exit, with the data lock held, after the
/// control interfaces are unregistered.
#[no_mangle]
pub(crate) extern "C" fn tfw_rs_shutdown() {
    // SAFETY: glue.c holds the data lock.
    unsafe { ctl() }.stop();
}

/// Socket events for connection `id`: from glue.c's work item, or from the connection's
/// `sk_data_ready` in softirq (`sock::atomic()`); the data lock is held.
#[no_mangle]
pub(crate) extern "C" fn tfw_rs_event(id: u64, events: kernel::ffi::c_ulong) {
    // SAFETY: glue.c holds the data lock.
    let ctl = unsafe { ctl() };
    let Some(r) = &mut ctl.running else { return };
    if id & proxy::LISTENER_ID != 0 {
        if let Some(l) = r.listeners.iter().find(|l| l.token() == id) {
            r.proxy.accept(l.sock());
        }
        return;
    }
    r.proxy.event(id, events as u64);
}

/// Work the softirq path left to a task (glue.c's work item, data lock held).
#[no_mangle]
pub(crate) extern "C" fn tfw_rs_deferred() {
    // SAFETY: glue.c holds the data lock.
    let ctl = unsafe { ctl() };
    if let Some(r) = &mut ctl.running {
        r.proxy.run_deferred();
    }
}

/// Periodic timeouts (glue.c's tick work, data lock held).
#[no_mangle]
pub(crate) extern "C" fn tfw_rs_tick() {
    // SAFETY: glue.c holds the data lock.
    let ctl = unsafe { ctl() };
    if let Some(r) = &mut ctl.running {
        r.proxy.tick();
    }
}

/// Writes `/proc/tempesta/perfstat` into `buf` (NUL-terminated, truncated to `len`); returns
/// the length written.
///
/// # Safety
///
/// Called by glue.c only, with the data lock held; `buf` points to `len` writable bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn tfw_rs_perfstat(
    buf: *mut kernel::ffi::c_char,
    len: usize,
) -> usize {
    if len == 0 {
        return 0;
    }
    // SAFETY: `buf` has `len` writable bytes (our contract).
    let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
    let mut w = SliceWriter { buf: out, pos: 0 };
    // SAFETY: the data lock is held (our contract).
    let ctl = unsafe { ctl() };
    let _ = match &ctl.running {
        Some(r) => r.proxy.perfstat(&mut w),
        None => core::fmt::Write::write_str(&mut w, "stopped\n"),
    };
    let n = w.pos.min(len - 1);
    if let Some(b) = w.buf.get_mut(n) {
        *b = 0;
    }
    n
}

/// Formats into a byte slice, dropping what does not fit (one byte is kept for the NUL).
impl Ctl {
    fn start(&mut self) -> Result {
        match cfgfile::load(cfg_path()).and_then(|cfg| self.apply(&cfg)) {
            Ok(()) => {
                self.failed_reconfig = false;
                pr_info!("started with {}\n", cfg_path_display());
                Ok(())
            }
            Err(e) => {
                if self.running.is_some() {
                    self.failed_reconfig = true;
                    pr_err!("reconfiguration failed, the running configuration is kept\n");
                }
                Err(e)
            }
        }
    }

    /// Makes `cfg` the running configuration, or changes nothing and returns an error.
    ///
    /// Everything that can fail (allocations, opening the new listeners) happens before the
    /// running state is touched. Listeners present in both configurations keep their sockets;
    /// the ones the new configuration no longer has are closed last.
    #[inline(never)]
    fn apply(&mut self, cfg: &Config) -> Result {
        // The access log ring first: allocating it is the one step here that can fail without
        // touching anything else. A ring the new configuration turns off is freed at the end.
        if cfg.access_log.stream {
            let size = usize::try_from(cfg.access_log.buffer).map_err(|_| EINVAL)?;
            // SAFETY: process context, data lock held (glue.c calls us with it).
            let r = unsafe { sys::tfw_glue_alog_setup(size) };
            if r < 0 {
                pr_err!("cannot allocate the access log buffer ({} bytes)\n", size);
                return Err(Error::from_errno(r));
            }
        }
        self.replace(cfg)?;
        if !cfg.access_log.stream {
            // SAFETY: as above; freeing cannot fail.
            unsafe { sys::tfw_glue_alog_setup(0) };
        }
        Ok(())
    }

    /// [`Self::apply`] without the access log ring.
    fn replace(&mut self, cfg: &Config) -> Result {
        let old = match &mut self.running {
            Some(r) => core::mem::take(&mut r.listeners),
            None => KVec::new(),
        };
        let (opened, mut next) = match Self::open_new(&old, cfg, &mut self.next_token) {
            Ok(v) => v,
            Err(e) => {
                if let Some(r) = &mut self.running {
                    r.listeners = old;
                }
                return Err(e);
            }
        };
        // The proxy: reconfigured in place when running (client connections stay open), new
        // otherwise. Either fails without changing anything; the listeners just opened are
        // closed again when `opened` is dropped.
        let fresh = match &mut self.running {
            Some(r) => match r.proxy.reconfigure(cfg) {
                Ok(()) => None,
                Err(e) => {
                    r.listeners = old;
                    return Err(e);
                }
            },
            None => Some(Proxy::new(cfg)?),
        };
        for s in old.into_iter() {
            if cfg.listen.iter().any(|l| l.addr == s.addr()) {
                // Cannot fail: `next` has room for every listener of `cfg`.
                next.push(s, GFP_KERNEL)?;
            }
            // Otherwise `s` is dropped here: the listener is closed.
        }
        for s in opened.into_iter() {
            next.push(s, GFP_KERNEL)?;
        }
        match (&mut self.running, fresh) {
            (Some(r), None) => {
                r.listeners = next;
                // The server files follow the new configuration.
                r.proxy.unpublish();
                r.proxy.publish();
            }
            (_, Some(proxy)) => {
                let r = self.running.insert(Running {
                    listeners: next,
                    proxy,
                });
                r.proxy.publish();
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Opens the listeners of `cfg` that `old` does not have, and allocates room for the
    /// complete new set. On error, what was opened is closed again.
    fn open_new(
        old: &KVec<Listener>,
        cfg: &Config,
        next_token: &mut u64,
    ) -> Result<(KVec<Listener>, KVec<Listener>)> {
        let next = KVec::with_capacity(cfg.listen.len(), GFP_KERNEL)?;
        let mut opened = KVec::with_capacity(cfg.listen.len(), GFP_KERNEL)?;
        for l in cfg.listen.iter() {
            if old.iter().any(|o| o.addr() == l.addr) {
                continue;
            }
            *next_token = next_token.wrapping_add(1);
            match Listener::open(l.addr, proxy::LISTENER_ID | *next_token) {
                Ok(s) => opened.push(s, GFP_KERNEL)?,
                Err((errno, step)) => {
                    pr_err!(
                        "config error: {}:{}: directive 'listen': cannot {} {}: error {}\n",
                        cfg_path_display(),
                        l.line,
                        step,
                        l.addr,
                        errno
                    );
                    return Err(Error::from_errno(errno));
                }
            }
        }
        Ok((opened, next))
    }

    fn stop(&mut self) {
        if let Some(mut r) = self.running.take() {
            r.proxy.unpublish();
            drop(r);
            // SAFETY: process context, data lock held; nothing writes the log any more.
            unsafe { sys::tfw_glue_alog_setup(0) };
            pr_info!("stopped\n");
        }
        self.failed_reconfig = false;
    }
}
