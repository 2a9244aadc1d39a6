//! Host stand-ins for the C glue's functions that the proxy calls (`src/glue.c`): `/proc`
//! counters, the access log, the IP block table, random bytes, file reading and the clock.
//! Their signatures are the generated bindings'.
#![allow(non_camel_case_types, clippy::missing_safety_doc)]

use std::prelude::rust_2021::*;

use core::ffi::{c_char, c_int, c_uint, c_void};
use std::cell::RefCell;

/// Pages one `send_pages` call takes at most (glue.h).
pub const TFW_SPLICE_PAGES: u32 = 16;

/// A server's counters in `/proc/tempesta/servers/GROUP/ADDR` (glue.h).
#[repr(C)]
#[derive(Default, Copy, Clone, Debug)]
pub struct tfw_srv_stat {
    pub conns_up: u64,
    pub conns: u64,
    pub forwarded: u64,
    pub responses: u64,
    pub errors: u64,
    pub rt_min: u64,
    pub rt_avg: u64,
    pub rt_max: u64,
    pub rt_pct: [u64; 5],
    pub hm: u64,
    pub suspended: u64,
    pub probes: u64,
    pub hs_n: u64,
    pub hs_code: [u64; 16],
    pub hs_count: [u64; 16],
}

/// A `/proc` directory (opaque).
pub struct proc_dir_entry {
    _private: [u8; 0],
}

/// A socket's callback state (opaque; the host network keeps its own).
pub struct tfw_watch {
    _private: [u8; 0],
}

/// What the stand-ins recorded, for tests to look at.
#[derive(Default)]
pub struct Glue {
    /// `/proc/tempesta/servers/GROUP/ADDR` entries: group, address, counters.
    pub servers: Vec<(String, String, Box<tfw_srv_stat>)>,
    groups: Vec<String>,
    /// Access log lines.
    pub alog: Vec<String>,
    /// Addresses blocked (`ip_block`), with seconds.
    pub blocked: Vec<([u8; 16], u32)>,
    rand: u64,
}

thread_local! {
    /// The glue's state for the simulation on this thread.
    pub static GLUE: RefCell<Glue> = RefCell::new(Glue { rand: 0x9e37_79b9_7f4a_7c15, ..Glue::default() });
}

unsafe fn c_str(p: *const c_char) -> String {
    // SAFETY: the caller passes a NUL-terminated string.
    unsafe { core::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

pub unsafe fn tfw_glue_alog_write(line: *const c_char, len: usize) {
    // SAFETY: `line` has `len` readable bytes.
    let b = unsafe { core::slice::from_raw_parts(line.cast::<u8>(), len) };
    let s = String::from_utf8_lossy(b).into_owned();
    GLUE.with(|g| g.borrow_mut().alog.push(s));
}

pub unsafe fn tfw_glue_alog_dropped() -> u64 {
    0
}

pub unsafe fn tfw_glue_frang_clients() -> c_uint {
    1024
}

pub unsafe fn tfw_glue_fwmark_accept() -> bool {
    false
}

pub unsafe fn tfw_glue_ipblock_enable() -> c_int {
    0
}

pub unsafe fn tfw_glue_ipblock_disable() {}

pub unsafe fn tfw_glue_ipblock_add(addr: *const u8, secs: u32) -> c_int {
    let mut a = [0u8; 16];
    // SAFETY: 16 readable bytes (glue.h).
    a.copy_from_slice(unsafe { core::slice::from_raw_parts(addr, 16) });
    GLUE.with(|g| g.borrow_mut().blocked.push((a, secs)));
    0
}

pub unsafe fn tfw_glue_ipblock_stats(dropped: *mut u64, full: *mut u64, blocked: *mut u64) {
    let n = GLUE.with(|g| g.borrow().blocked.len() as u64);
    // SAFETY: valid out pointers (glue.h).
    unsafe {
        *dropped = 0;
        *full = 0;
        *blocked = n;
    }
}

pub unsafe fn tfw_glue_proc_group(name: *const c_char) -> *mut proc_dir_entry {
    // SAFETY: NUL-terminated.
    let name = unsafe { c_str(name) };
    GLUE.with(|g| {
        let mut g = g.borrow_mut();
        g.groups.push(name);
        // A token: the group's index plus one, never dereferenced.
        g.groups.len() as *mut proc_dir_entry
    })
}

pub unsafe fn tfw_glue_proc_server(
    group: *mut proc_dir_entry,
    addr: *const c_char,
) -> *mut tfw_srv_stat {
    // SAFETY: NUL-terminated.
    let addr = unsafe { c_str(addr) };
    GLUE.with(|g| {
        let mut g = g.borrow_mut();
        let name = g
            .groups
            .get((group as usize).wrapping_sub(1))
            .cloned()
            .unwrap_or_default();
        let mut stat = Box::<tfw_srv_stat>::default();
        let p: *mut tfw_srv_stat = &mut *stat;
        g.servers.push((name, addr, stat));
        p
    })
}

/// The proxy unpublishes before it drops its pointers; the counters stay readable (and
/// allocated) until the simulation ends, unlike the kernel's.
pub unsafe fn tfw_glue_proc_servers_clear() {}

pub unsafe fn tfw_glue_random(buf: *mut c_void, len: usize) {
    GLUE.with(|g| {
        let mut g = g.borrow_mut();
        for i in 0..len {
            // xorshift64
            let mut x = g.rand;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            g.rand = x;
            // SAFETY: `len` writable bytes.
            unsafe { *buf.cast::<u8>().add(i) = x as u8 };
        }
    })
}

/// Seconds since the epoch: a fixed date plus the simulated clock.
pub unsafe fn tfw_glue_real_secs() -> u64 {
    1_764_000_000 + super::net::now() / 1000
}

pub unsafe fn tfw_glue_read_file(
    path: *const c_char,
    max: usize,
    buf: *mut *mut c_void,
    len: *mut usize,
) -> c_int {
    // SAFETY: NUL-terminated.
    let path = unsafe { c_str(path) };
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) => return -e.raw_os_error().unwrap_or(2),
    };
    if data.len() > max {
        return -27; // EFBIG
    }
    let boxed: Box<[u8]> = data.into_boxed_slice();
    // SAFETY: valid out pointers; `tfw_glue_free_file` takes the box back.
    unsafe {
        *len = boxed.len();
        *buf = Box::into_raw(boxed).cast::<c_void>();
    }
    FILES.with(|f| f.borrow_mut().push(unsafe { (*buf as usize, *len) }));
    0
}

thread_local! {
    static FILES: RefCell<Vec<(usize, usize)>> = const { RefCell::new(Vec::new()) };
}

pub unsafe fn tfw_glue_free_file(buf: *mut c_void) {
    let len = FILES.with(|f| {
        let mut f = f.borrow_mut();
        let i = f.iter().position(|&(p, _)| p == buf as usize)?;
        Some(f.swap_remove(i).1)
    });
    if let Some(len) = len {
        // SAFETY: from `Box::into_raw` in `tfw_glue_read_file`, with this length.
        drop(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(buf.cast::<u8>(), len)) });
    }
}
