// SPDX-License-Identifier: GPL-2.0

//! WebSocket tunnels: after a 101 to an upgrade request (see `http::tunnel`) the client and
//! its upstream connection carry bytes both ways, unparsed, until one side closes.
//!
//! * The upstream connection leaves its server's pool when the tunnel opens, and a new one
//!   takes its place, so `conns_n` connections stay available for requests. The tunnel's
//!   connection belongs to no group any more ([`RETIRED`]): when the tunnel ends it is closed,
//!   not reconnected, and a reconfiguration leaves it alone.
//! * Each direction is bounded like a request body: a send queue above [`TX_HIGH`] stops
//!   reading from the other side, whose receive buffer then fills and TCP pushes back.
//! * Closes are passed on like TCP passes them: a client that closes its side has what it
//!   sent handed to the upstream, then the upstream connection is half-closed (FIN) and what
//!   the upstream still sends goes on until it closes too. An upstream that closes has what
//!   it sent queued for the client; then its connection is released, and the client's
//!   connection is closed once its send queue is out (FIN, then lingering). A side that fails
//!   (reset) ends the tunnel at once. `client_ws_timeout` closes a tunnel that carries
//!   nothing, and a half-closed one is closed after [`CLOSE_GRACE_MS`] of silence.

use super::*;

impl Proxy {
    /// The 101 for client `u.client`'s upgrade is queued for the client: turn upstream
    /// connection `sid` and its client into the two ends of a tunnel. `head_end`: where the
    /// 101's head ends in the upstream's stream (bytes after it are the tunnel's).
    pub(super) fn open_tunnel(&mut self, sid: Id, head_end: u64) {
        let now = now_ms();
        // (A client that failed while its 101 was queued has reset this connection already.)
        let (gi, si, cid) = match self.get(sid) {
            Some(Conn {
                role: Role::Upstream(u),
                ..
            }) if u.st == UState::Busy => (u.group, u.server, u.client),
            _ => return,
        };
        let Some(cid) = cid else {
            self.reset_upstream(sid, false);
            return;
        };
        self.stats.responses = self.stats.responses.saturating_add(1);
        self.stats.tunnels = self.stats.tunnels.saturating_add(1);
        if let Some(st) = self.stat(gi, si) {
            st.add(f_responses, 1);
            st.add(f_conns_up, -1);
        }
        self.replace_in_pool(gi, si, sid, now);
        if let Some(conn) = self.get(sid) {
            conn.consume_to(head_end);
            conn.last_ms = now;
            if let Role::Upstream(u) = &mut conn.role {
                u.st = UState::Tunnel;
                u.group = RETIRED;
                u.server = RETIRED;
            }
        }
        let log_to = self.log_to;
        if let Some(conn) = conn_mut(&mut self.slots, cid) {
            conn.last_ms = now;
            if let Role::Client(c) = &mut conn.role {
                count_status(&mut self.hstat, c, c.status);
                log_to.write(&c.log, c.status, 0, Some(now.saturating_sub(c.since_ms)));
                clear(&mut c.log);
                c.st = CState::Tunnel;
                c.since_ms = now;
                c.req_copy.clear();
                c.fill = None;
                c.cache.end();
            }
        }
        // What each side sent after its head (the client's first frames, the server's
        // greeting) goes on now.
        self.pump(cid, sid);
    }

    /// Puts a new, down connection in place of `sid` in its server's pool and starts it.
    fn replace_in_pool(&mut self, gi: usize, si: usize, sid: Id, now: u64) {
        let fresh = self.insert(Role::Upstream(Upstream::new(gi, si, now))).ok();
        let Some(srv) = self.groups.get_mut(gi).and_then(|g| g.servers.get_mut(si)) else {
            if let Some(nid) = fresh {
                self.remove(nid);
            }
            return;
        };
        let Some(pos) = srv.conns.iter().position(|&id| id == sid) else {
            if let Some(nid) = fresh {
                self.remove(nid);
            }
            return;
        };
        match fresh {
            Some(nid) => {
                if let Some(slot) = srv.conns.get_mut(pos) {
                    *slot = nid;
                }
                self.connect(nid);
            }
            // Without memory the pool is one connection short until the next
            // reconfiguration; the tunnel must leave it all the same.
            None => {
                let _ = crate::store::swap_remove(&mut srv.conns, pos);
                srv.stat.add(f_conns, -1);
            }
        }
    }

    /// The other end of tunnel end `id`.
    fn tunnel_peer(&mut self, id: Id) -> Option<Id> {
        match &self.get(id)?.role {
            Role::Client(c) if c.st == CState::Tunnel => c.server,
            Role::Upstream(u) if u.st == UState::Tunnel => u.client,
            _ => None,
        }
    }

    /// An event on tunnel end `id` (client or upstream): send, read, pass on.
    pub(super) fn tunnel_event(&mut self, id: Id) {
        let Some(peer) = self.tunnel_peer(id) else {
            let (cid, sid) = self.ends(id);
            self.end_tunnel(cid, sid);
            return;
        };
        if !self.flush(id) {
            self.fail_tunnel(id);
            return;
        }
        let alive = self.receive(id);
        if !alive {
            // A client's EOF is recorded by `receive`; an upstream's is not, and a failed
            // read ends either side (what it received so far still goes on).
            match self.get(id) {
                Some(Conn {
                    role: Role::Upstream(u),
                    ..
                }) => u.ended = true,
                _ => {
                    self.fail_tunnel(id);
                    return;
                }
            }
        }
        self.pump(id, peer);
    }

    /// Upstream tunnel end `sid` closed (or failed) in the read that brought its 101.
    pub(super) fn tunnel_ended(&mut self, sid: Id) {
        if let Some(Conn {
            role: Role::Upstream(u),
            ..
        }) = self.get(sid)
        {
            u.ended = true;
        }
        match self.tunnel_peer(sid) {
            Some(cid) => self.pump(cid, sid),
            None => self.end_tunnel(None, Some(sid)),
        }
    }

    /// The client and upstream ends of the tunnel that `id` is an end of.
    fn ends(&mut self, id: Id) -> (Option<Id>, Option<Id>) {
        match self.get(id).map(|c| &c.role) {
            Some(Role::Client(c)) => (Some(id), c.server),
            Some(Role::Upstream(u)) => (u.client, Some(id)),
            None => (None, None),
        }
    }

    /// Passes on what each end holds for the other, then passes on a close (see the module
    /// docs).
    fn pump(&mut self, a: Id, b: Id) {
        for (from, to) in [(a, b), (b, a)] {
            if !self.relay(from, to) {
                self.fail_tunnel(to);
                return;
            }
        }
        let (cid, sid) = self.ends(a);
        let (Some(cid), Some(sid)) = (cid, sid) else {
            self.end_tunnel(cid, sid);
            return;
        };
        let (upstream_done, upstream_sent) = match self.conn_ref(sid) {
            Some(up) => (
                matches!(&up.role, Role::Upstream(u) if u.ended) && up.rx.is_empty(),
                up.tx.is_empty(),
            ),
            None => (false, false),
        };
        let client_done = upstream_sent
            && self
                .conn_ref(cid)
                .is_some_and(|c| matches!(&c.role, Role::Client(cl) if cl.eof) && c.rx.is_empty());
        if upstream_done {
            self.end_tunnel(Some(cid), Some(sid));
        } else if client_done {
            if let Some(Conn { sock: Some(s), .. }) = self.get(sid) {
                s.shutdown_write();
            }
        }
    }

    /// Moves what `from` received into `to`'s send queue, as far as the queue has room, and
    /// sends it. False if `to`'s connection failed or its queue could not grow.
    fn relay(&mut self, from: Id, to: Id) -> bool {
        let Some(mut src) = self.take(from) else {
            return true;
        };
        let now = now_ms();
        let mut moved = false;
        let mut ok = true;
        if let Some(dst) = self.get(to) {
            let n = src.rx.len().min(TX_HIGH.saturating_sub(dst.tx.len()));
            if let Some(bytes) = src.rx.data().get(..n).filter(|b| !b.is_empty()) {
                // Out of memory: no event would come to retry, so the tunnel ends rather
                // than stalls.
                ok = dst.tx.put(bytes).is_ok();
                moved = ok;
                if ok {
                    dst.last_ms = now;
                }
            }
            ok = ok && dst.send_tx(false).is_ok();
            if moved {
                src.rx.consume(n);
                src.rx_base = src.rx_base.saturating_add(n as u64);
                src.last_ms = now;
            }
        }
        self.put(from, src);
        self.read_on(from);
        ok
    }

    /// Tunnel end `id` failed: nothing more goes to it; the tunnel closes.
    fn fail_tunnel(&mut self, id: Id) {
        match self.ends(id) {
            // The client's socket failed: close it and its upstream end.
            (Some(cid), _) if cid == id => self.close_client(cid),
            // The upstream's failed: the client gets what is queued for it, then a FIN.
            (cid, sid) => self.end_tunnel(cid, sid),
        }
    }

    /// Closes a tunnel: the upstream connection now (what TCP took still goes out before its
    /// FIN), the client's after its send queue.
    fn end_tunnel(&mut self, cid: Option<Id>, sid: Option<Id>) {
        if let Some(sid) = sid {
            let _ = self.flush(sid);
            self.remove(sid);
        }
        let Some(cid) = cid else { return };
        if let Some(Conn {
            role: Role::Client(c),
            ..
        }) = self.get(cid)
        {
            c.server = None;
            c.st = CState::Closing;
            c.since_ms = now_ms();
        }
        self.drain(cid);
    }
}
