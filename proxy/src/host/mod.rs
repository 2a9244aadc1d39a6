//! The host's stand-ins for the module's kernel side ([`sys`], `sock`, [`net`]) and the
//! event loop that drives the proxy over them ([`Sim`]), as glue.c's callbacks, work item
//! and tick drive it in the kernel.

use std::prelude::rust_2021::*;

pub(crate) mod net;
pub(crate) mod sock;
pub mod sys;
pub mod testkit;

use std::net::SocketAddr;

use kernel::error::Result;
use kernel::prelude::*;

use crate::cfgfile;
use crate::proxy::{Proxy, LISTENER_ID};
use sock::Sock;

/// glue.c's tick period.
pub const TICK_MS: u64 = 250;

/// The proxy started from a configuration, its listeners, and the loop that delivers
/// events: the host's `ctl.rs` and glue.c.
pub struct Sim {
    proxy: Option<KBox<Proxy>>,
    listeners: Vec<(u64, Sock)>,
    /// Deliver data events as softirq does (`sock::atomic()`: connects are deferred,
    /// bodies spliced, allocations atomic); other events come from the "work item". Off:
    /// everything from the work item.
    pub softirq: bool,
    last_tick: u64,
}

impl Sim {
    /// Loads `config` (written to a file, read back through `cfgfile::load` as the module
    /// reads its own) and starts the proxy: its listeners open, its upstream connections
    /// are opened at the first turn. The network is this thread's (each test has its own):
    /// servers made before the start are there for the first connects.
    pub fn start(config: &str) -> core::result::Result<Sim, Error> {
        let cfg = load(config)?;
        let mut proxy = Proxy::new(&cfg)?;
        let mut listeners = Vec::new();
        for (k, l) in cfg.listen.iter().enumerate() {
            let id = LISTENER_ID | (k as u64 + 1);
            let mut s = Sock::tcp(&l.addr)?;
            net::with(|n| {
                let ep = n.ep(s.ep);
                ep.state = net::LISTEN;
                ep.local_port = l.addr.port();
                n.listeners.insert(l.addr.port(), s.ep);
            });
            s.watch(id, core::ptr::null_mut())?;
            listeners.push((id, s));
        }
        proxy.publish();
        let mut sim = Sim {
            proxy: Some(proxy),
            listeners,
            softirq: true,
            last_tick: 0,
        };
        sim.run();
        Ok(sim)
    }

    /// Delivers events until nothing is left to do, letting `servers` answer as they go.
    ///
    /// Panics on a livelock: a million events without the network going quiet means a
    /// socket keeps waking itself (in the kernel: a work item that never idles).
    pub fn run_with(&mut self, servers: &mut [&mut testkit::Server]) {
        let mut delivered = 0u64;
        loop {
            let mut busy = false;
            while self.step() {
                busy = true;
                delivered += 1;
                assert!(
                    delivered < 1_000_000,
                    "livelock: an event keeps coming\n{}",
                    self.perfstat()
                );
            }
            if net::with(|n| core::mem::take(&mut n.deferred)) {
                busy = true;
                if let Some(p) = self.proxy.as_mut() {
                    p.run_deferred();
                }
            }
            for s in servers.iter_mut() {
                busy |= s.serve();
            }
            if !busy {
                break;
            }
        }
    }

    /// Delivers the next queued event as glue.c would: a listener's to `accept`, a data
    /// event in "softirq", the rest from the "work item". False when none is queued.
    pub fn step(&mut self) -> bool {
        let Some((id, data)) = net::with(|n| n.next_event()) else {
            return false;
        };
        let Some(p) = self.proxy.as_mut() else {
            return true;
        };
        if id & LISTENER_ID != 0 {
            if let Some((_, l)) = self.listeners.iter().find(|(lid, _)| *lid == id) {
                p.accept(l);
            }
            return true;
        }
        let softirq = self.softirq && data;
        net::with(|n| n.atomic = softirq);
        p.event(id, 0);
        net::with(|n| n.atomic = false);
        true
    }

    /// [`Sim::run_with`] without servers.
    pub fn run(&mut self) {
        self.run_with(&mut []);
    }

    /// Moves the clock by `ms`, ticking every [`TICK_MS`] and running events in between.
    pub fn advance(&mut self, ms: u64, servers: &mut [&mut testkit::Server]) {
        let end = net::now() + ms;
        loop {
            let next = (self.last_tick + TICK_MS).min(end);
            net::with(|n| n.now = n.now.max(next));
            if net::now() >= self.last_tick + TICK_MS {
                self.last_tick = net::now();
                if let Some(p) = self.proxy.as_mut() {
                    p.tick();
                }
            }
            self.run_with(servers);
            if net::now() >= end {
                break;
            }
        }
    }

    /// Applies a new configuration to the running proxy, as a `start` while running does
    /// (`ctl.rs`): pools replaced, clients kept. The listeners stay as they are.
    pub fn reload(&mut self, config: &str) -> core::result::Result<(), Error> {
        let cfg = load(config)?;
        let p = self.proxy.as_mut().ok_or(EINVAL)?;
        p.reconfigure(&cfg)?;
        p.unpublish();
        p.publish();
        self.run();
        Ok(())
    }

    /// The proxy, for its counters.
    pub fn perfstat(&self) -> String {
        let mut s = String::new();
        if let Some(p) = &self.proxy {
            let _ = p.perfstat(&mut s);
        }
        s
    }

    /// One line of `/proc/tempesta/perfstat`'s: the number after `name:`.
    pub fn stat(&self, name: &str) -> u64 {
        self.perfstat()
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == name).then(|| v.trim().parse().ok()).flatten()
            })
            .unwrap_or(0)
    }

    /// A test client connects to the proxy's `port` from `ip`.
    pub fn client(&mut self, port: u16, ip: [u8; 4]) -> Option<testkit::Peer> {
        let ep = net::with(|n| n.client_connect(port, ip))?;
        self.run();
        Some(testkit::Peer { ep })
    }

    /// Stops the proxy as `sysctl net.tempesta.state=stop` does: listeners closed, every
    /// connection dropped.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proxy.take() {
            p.unpublish();
            drop(p);
        }
        self.listeners.clear();
    }

    /// Sockets the proxy holds (created or accepted, not released).
    pub fn open_sockets(&self) -> usize {
        net::with(|n| n.eps.iter().filter(|e| e.owned && !e.released).count())
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

fn load(config: &str) -> Result<KBox<cfgfile::Config>> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "tempesta-rs-host-{}-{}.conf",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, config).map_err(|_| EIO)?;
    let mut c = path.to_string_lossy().into_owned().into_bytes();
    c.push(0);
    let cpath = CStr::from_bytes_with_nul(&c).map_err(|_| EINVAL)?;
    let r = cfgfile::load(cpath);
    let _ = std::fs::remove_file(&path);
    r
}

/// A test server's address.
pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a socket address")
}
