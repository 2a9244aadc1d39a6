// SPDX-License-Identifier: GPL-2.0

//! Health monitoring of a group's servers (`health NAME`; the rules are
//! [`sched::health`]'s): every response head from a monitored server is counted against the
//! `server_failover_http` rules, and a server past one is suspended (the scheduler skips it);
//! every period of its monitor it gets the probe request on an idle connection, unless a
//! client asked for the monitor's URL meanwhile, and a good answer to a probe brings a
//! suspended server back.
//!
//! A probe is a request without a client: its connection is busy with no
//! [`Upstream::client`], so the response is read and dropped like one a client gave up on,
//! except that its status and body checksum go to [`Probe`] first. Nothing is pipelined
//! behind a probe. A probe that gets no answer within its monitor's period resets its
//! connection (the server's connection failures then count as usual).
//!
//! The state lives with the server and starts over with each configuration (a reload
//! builds the groups anew).

use super::*;
use crate::sched::health::{crc32, Change, Health, Monitor, Window};

/// A group's monitor.
pub(super) struct GroupHealth {
    /// The probe, as sent.
    request: KVec<u8>,
    method: Method,
    /// The probe lets its connection persist.
    keep_alive: bool,
    /// `request_url`.
    url: KVec<u8>,
    monitor: Monitor,
}

impl GroupHealth {
    pub(super) fn of(cfg: &crate::cfgfile::HealthCfg) -> Result<KBox<Self>> {
        Ok(KBox::new(
            GroupHealth {
                request: crate::buf::copy(&cfg.request)?,
                method: cfg.method,
                keep_alive: cfg.keep_alive,
                url: crate::buf::copy(&cfg.url)?,
                monitor: cfg.monitor,
            },
            gfp(),
        )?)
    }
}

/// A probe's response being read.
#[derive(Clone, Copy)]
pub(super) struct Probe {
    pub(super) sent_ms: u64,
    /// Status of the final response; 0 until its head.
    pub(super) status: u16,
    /// CRC-32 of the body bytes so far (as received: a chunked body's framing included).
    pub(super) crc: u32,
    pub(super) body_len: u64,
    /// The body is chunked (`body_len` counts its framing: `0\r\n\r\n` is empty).
    pub(super) chunked: bool,
    /// The connection may stay after the response (else it is closed, see
    /// [`GroupHealth::keep_alive`]).
    pub(super) keep_alive: bool,
}

/// A monitored server's health: its state, and its count of each `server_failover_http`
/// rule's statuses (kept apart, as many as there are rules).
pub(super) struct ServerHealth {
    state: Health,
    windows: KVec<Window>,
}

fn stat_hm(s: *mut crate::sys::tfw_srv_stat) -> *mut u64 {
    // SAFETY: a field of a valid struct (the caller's pointer is non-null and live).
    unsafe { &raw mut (*s).hm }
}
fn stat_suspended(s: *mut crate::sys::tfw_srv_stat) -> *mut u64 {
    // SAFETY: as above.
    unsafe { &raw mut (*s).suspended }
}
fn stat_probes(s: *mut crate::sys::tfw_srv_stat) -> *mut u64 {
    // SAFETY: as above.
    unsafe { &raw mut (*s).probes }
}

/// The health state of a new server of a group monitored by `gh`, with `rules` rules.
pub(super) fn server_health(
    gh: Option<&GroupHealth>,
    rules: usize,
    now: u64,
) -> Result<Option<KBox<ServerHealth>>> {
    let Some(gh) = gh else {
        return Ok(None);
    };
    let windows = KVec::from_elem(Window::default(), rules, gfp())?;
    let state = Health::new(now, &gh.monitor);
    Ok(Some(KBox::new(ServerHealth { state, windows }, gfp())?))
}

/// Shows a freshly published server file that the server is monitored.
pub(super) fn publish(srv: &Server) {
    if let Some(h) = &srv.health {
        srv.stat.add(stat_hm, 1);
        srv.stat.add(stat_suspended, i64::from(h.state.suspended()));
    }
}

/// Whether the scheduler may choose the server.
pub(super) fn usable(srv: &Server) -> bool {
    !srv.health.as_ref().is_some_and(|h| h.state.suspended())
}

/// Logs and shows what a response changed for server `srv` of group `group`.
fn changed(group: &[u8], srv: &Server, change: Change, status: u16) {
    match change {
        Change::Suspended => {
            srv.stat.add(stat_suspended, 1);
            pr_warn!(
                "server {} of group {}: suspended, too many {} responses (server_failover_http)\n",
                srv.addr,
                core::str::from_utf8(group).unwrap_or("?"),
                status
            );
        }
        Change::Alive => {
            srv.stat.add(stat_suspended, -1);
            pr_info!(
                "server {} of group {}: back, the health probe got {}\n",
                srv.addr,
                core::str::from_utf8(group).unwrap_or("?"),
                status
            );
        }
        Change::None => {}
    }
}

/// A final response head with `status` came from server `si` of group `gi`. A free function:
/// the caller holds a client connection of the slab.
pub(super) fn response_status(
    groups: &mut [Group],
    rules: &[sched::health::Rule],
    gi: usize,
    si: usize,
    status: u16,
) {
    let Some(g) = groups.get_mut(gi) else {
        return;
    };
    let Some(srv) = g.servers.get_mut(si) else {
        return;
    };
    let Some(h) = srv.health.as_deref_mut() else {
        return;
    };
    let change = h.state.status(&mut h.windows, rules, now_ms(), status);
    changed(&g.name, srv, change, status);
}

/// A client's request (its rewritten head `head`) goes to server `si` of group `gi`: if it
/// asks for the monitor's URL, it stands in for the next probe. A free function, as
/// [`response_status`].
pub(super) fn client_request(groups: &mut [Group], gi: usize, si: usize, head: &[u8]) {
    let Some(g) = groups.get_mut(gi) else {
        return;
    };
    let Some(gh) = g.health.as_deref() else {
        return;
    };
    let target = head.split(|&c| c == b' ').nth(1).unwrap_or(&[]);
    if !is_url(gh, target) {
        return;
    }
    if let Some(h) = g.servers.get_mut(si).and_then(|s| s.health.as_deref_mut()) {
        h.state.requested();
    }
}

/// Whether `target` (a request's) is the monitor's URL: its path, compared as Tempesta does
/// (case-insensitively, the query ignored).
fn is_url(gh: &GroupHealth, target: &[u8]) -> bool {
    let path = target.split(|&c| c == b'?').next().unwrap_or(&[]);
    path.eq_ignore_ascii_case(&gh.url)
}

impl Proxy {
    /// From the timer: sends the probes that are due, and resets connections whose probe got
    /// no answer in time.
    pub(super) fn health_tick(&mut self, now: u64) {
        for gi in 0..self.groups.len() {
            let Some(g) = self.groups.get_mut(gi) else {
                break;
            };
            let Some(gh) = g.health.as_deref() else {
                continue;
            };
            let monitor = gh.monitor;
            for si in 0..g.servers.len() {
                let due = self
                    .groups
                    .get_mut(gi)
                    .and_then(|g| g.servers.get_mut(si))
                    .and_then(|s| s.health.as_deref_mut())
                    .is_some_and(|h| h.state.due(now, &monitor));
                if due {
                    self.send_probe(gi, si, now);
                }
            }
            self.release_dead_group(gi);
        }
    }

    /// Writes group `gi`'s probe to an idle connection of server `si`. None idle: the server
    /// is busy with clients (which tell as much), or down (which the pool handles).
    fn send_probe(&mut self, gi: usize, si: usize, now: u64) {
        let Some(g) = self.groups.get(gi) else {
            return;
        };
        let Some(srv) = g.servers.get(si) else {
            return;
        };
        let Some(sid) = srv
            .conns
            .iter()
            .copied()
            .find(|&id| self.upstream(id).is_some_and(|u| u.st == UState::Idle))
        else {
            return;
        };
        let Some(gh) = g.health.as_deref() else {
            return;
        };
        let Some(up) = conn_mut(&mut self.slots, sid) else {
            return;
        };
        if up.tx.put(&gh.request).is_err() {
            return;
        }
        if let Role::Upstream(u) = &mut up.role {
            u.st = UState::Busy;
            u.client = None;
            u.reader.expect_response_to(gh.method);
            u.pipelinable = false;
            u.probe = Some(Probe {
                sent_ms: now,
                status: 0,
                crc: 0,
                body_len: 0,
                chunked: false,
                keep_alive: gh.keep_alive,
            });
        }
        srv.stat.add(stat_probes, 1);
        if !self.flush(sid) {
            self.upstream_failed(sid);
        }
    }

    /// A probe's response ended (`probe` is what it was).
    pub(super) fn probe_done(&mut self, gi: usize, si: usize, probe: Probe) {
        let Some(g) = self.groups.get_mut(gi) else {
            return;
        };
        let Some(monitor) = g.health.as_deref().map(|gh| gh.monitor) else {
            return;
        };
        let Some(srv) = g.servers.get_mut(si) else {
            return;
        };
        let Some(h) = srv.health.as_deref_mut() else {
            return;
        };
        // An empty chunked body is its last chunk alone: `0\r\n\r\n`.
        let empty = probe.body_len == 0 || (probe.chunked && probe.body_len == 5);
        let body = (!empty).then_some(probe.crc);
        let change = h.state.probe_done(&monitor, probe.status, body);
        changed(&g.name, srv, change, probe.status);
        if change == Change::Alive {
            self.serve_waiting(gi);
        }
    }

    /// Whether a probe on connection `u` waited longer than its monitor's period (or the
    /// group's `server_forward_timeout`, if shorter).
    pub(super) fn probe_expired(&self, u: &Upstream, now: u64) -> bool {
        let Some(p) = &u.probe else {
            return false;
        };
        let Some(g) = self.groups.get(u.group) else {
            return false;
        };
        let secs = g.health.as_deref().map_or(10, |gh| gh.monitor.secs);
        let ms = u64::from(secs.max(1))
            .saturating_mul(1000)
            .min(g.forward_timeout_ms);
        now.saturating_sub(p.sent_ms) > ms
    }

    /// With every server of group `gi` suspended (or down), the requests queued for it are
    /// not left to time out: each goes to its vhost's backup group, or gets 502 now.
    fn release_dead_group(&mut self, gi: usize) {
        if self.group_alive(gi) {
            return;
        }
        loop {
            let Some(g) = self.groups.get_mut(gi) else {
                return;
            };
            let Some(&cid) = g.wait.get(g.wait_head) else {
                break;
            };
            g.wait_head = g.wait_head.saturating_add(1);
            if self.queued(cid) {
                self.assign_from(cid, true);
                self.client_process(cid);
            }
        }
        // Resets the emptied queue.
        self.serve_waiting(gi);
    }
}

/// Adds body bytes of a probe's response to its checksum.
pub(super) fn probe_body(probe: &mut Option<Probe>, bytes: &[u8]) {
    if let Some(p) = probe {
        p.crc = crc32(p.crc, bytes);
        p.body_len = p.body_len.saturating_add(bytes.len() as u64);
    }
}

/// A reload builds the groups anew: a server that stays (same group name, same address) keeps
/// its response times (the dynamic scheduler's input) and its weight, its `predict` history,
/// and whether it is suspended, so that a reload does not send traffic to a server known to be
/// failing. Nothing here allocates.
pub(super) fn carry_over(old: &mut [Group], new: &mut [Group]) {
    for g in new.iter_mut() {
        let Some(og) = old
            .iter_mut()
            .find(|o| o.name.eq_ignore_ascii_case(&g.name))
        else {
            continue;
        };
        for (si, srv) in g.servers.iter_mut().enumerate() {
            let Some(oi) = og.servers.iter().position(|o| o.addr == srv.addr) else {
                continue;
            };
            let Some(os) = og.servers.get_mut(oi) else {
                continue;
            };
            core::mem::swap(&mut srv.apm, &mut os.apm);
            if let (Some(h), Some(oh)) = (&mut srv.history, &mut os.history) {
                core::mem::swap(h, oh);
            }
            if let (Some(h), Some(oh)) = (&mut srv.health, &os.health) {
                h.state.carry_from(&oh.state);
            }
            if let (Some(_), Some(slot), Some(os)) =
                (g.dynamic, g.sched.get_mut(si), og.sched.get(oi))
            {
                slot.set_weight(os.weight());
            }
        }
    }
}
