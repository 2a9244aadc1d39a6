// SPDX-License-Identifier: GPL-2.0

//! Pipelining to upstreams: while no connection of a group is idle, a request that can be
//! re-sent (idempotent, no body, not an upgrade, see [`Proxy::may_resend`]) is written to a
//! busy connection behind the requests already on it, as Tempesta FW does, instead of
//! waiting for a connection to become idle.
//!
//! * A connection takes requests behind its current one only when that one is pipelinable
//!   itself: after a non-idempotent request, a request with a body or an upgrade, forwarding
//!   on the connection is held until its response (RFC 9112 section 9.3.2).
//! * Responses come back in request order: the connection's reader answers its current
//!   client ([`Upstream::client`]), then the next one in its [`Pipe`].
//! * At most [`PIPE_MAX`] requests wait behind the current one. Servers are chosen among
//!   those with such a connection by the group's scheduler, so weights still apply.
//! * When the connection closes or fails, the requests behind the current one have had no
//!   response yet: they are sent again on another connection (their copies were kept, since
//!   only requests that can be re-sent are pipelined). A client that goes away leaves its
//!   entry behind: its response is read and dropped.

use super::*;

/// Most requests queued on a connection behind the one being answered.
pub(super) const PIPE_MAX: usize = 8;

/// The requests sent on an upstream connection after its current one, oldest first, with
/// their methods (a response to HEAD has no body).
pub(super) struct Pipe {
    reqs: [(Id, Method); PIPE_MAX],
    len: usize,
}

impl Pipe {
    pub(super) const fn new() -> Self {
        Pipe {
            reqs: [(0, Method::Get); PIPE_MAX],
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn has_room(&self) -> bool {
        self.len < PIPE_MAX
    }

    /// Appends a request; false (and nothing appended) without room.
    pub(super) fn push(&mut self, id: Id, method: Method) -> bool {
        match self.reqs.get_mut(self.len) {
            Some(slot) => {
                *slot = (id, method);
                self.len = self.len.saturating_add(1);
                true
            }
            None => false,
        }
    }

    /// The oldest request, removed.
    pub(super) fn pop_front(&mut self) -> Option<(Id, Method)> {
        let first = *self.reqs.first().filter(|_| self.len > 0)?;
        self.reqs.copy_within(1.., 0);
        self.len = self.len.saturating_sub(1);
        Some(first)
    }

    /// All requests, removed.
    pub(super) fn take(&mut self) -> Pipe {
        core::mem::replace(self, Pipe::new())
    }

    pub(super) fn ids(&self) -> impl Iterator<Item = Id> + '_ {
        self.reqs.iter().take(self.len).map(|r| r.0)
    }
}

impl Proxy {
    /// Whether connection `u` takes one more request behind the ones it has: it is busy with
    /// a pipelinable request, has room, and its response is flowing.
    fn takes_more(&self, u: &Upstream) -> bool {
        u.st == UState::Busy
            && u.pipelinable
            && u.pipe.has_room()
            && u.group != RETIRED
            && self.flowing(u)
    }

    /// Whether the response in flight on `u` flows: its client takes what comes (its send
    /// queue is below [`TX_HIGH`], no spliced body waits for room in its socket, and the
    /// socket itself has room). The socket is asked too: a copied response can leave the
    /// send queue below the mark while the socket is full (the feeder was woken by a partial
    /// drain), and a request pipelined at that moment went behind a client that had stopped
    /// reading (seen in the VM, `proxy_slow_reader_reset`, after the flags alone). A
    /// request put behind a response that a slow reader holds up would wait for that reader,
    /// however long it takes (a client that stops reading a large response would otherwise
    /// stall every request pipelined behind it); it waits for a connection instead.
    fn flowing(&self, u: &Upstream) -> bool {
        match u.client.and_then(|c| self.conn_ref(c)) {
            Some(c) => {
                !c.splice_waiting
                    && c.tx.len() < TX_HIGH
                    && c.sock.as_ref().is_none_or(|s| s.writable())
            }
            None => true,
        }
    }

    /// Whether client `c`'s request may be pipelined (and may have others behind it).
    pub(super) fn pipelinable(c: &Client) -> bool {
        c.retriable && !c.upgrade && !has_body(&c.req)
    }

    /// Whether clients wait in group `gi`'s queue (entries of clients that left or were
    /// answered meanwhile do not count; the scan usually stops at the first entry).
    pub(super) fn others_wait(&self, gi: usize) -> bool {
        let Some(g) = self.groups.get(gi) else {
            return false;
        };
        g.wait.iter().skip(g.wait_head).any(|&cid| self.queued(cid))
    }

    /// Whether `id` is a client waiting for an upstream connection.
    pub(super) fn queued(&self, id: Id) -> bool {
        matches!(self.conn_ref(id),
            Some(Conn { role: Role::Client(c), .. }) if c.st == CState::Queued)
    }

    /// Whether group `gi` has a connection for client `cid` now: an idle one, or a busy one
    /// its request can go behind.
    pub(super) fn can_take(&mut self, gi: usize, cid: Id) -> bool {
        let pipelinable = matches!(self.get(cid),
            Some(Conn { role: Role::Client(c), .. }) if Self::pipelinable(c));
        self.any_conn(gi, |u| {
            u.st == UState::Idle || (pipelinable && self.takes_more(u))
        })
    }

    /// A busy connection of group `gi` that takes one more request behind its own.
    pub(super) fn pick_pipelined(&mut self, gi: usize, key: u64) -> Option<Id> {
        self.pick_by(gi, key, Self::takes_more)
    }

    /// Sends again, on other connections, the requests that were queued behind the current
    /// one of a connection that closed or failed (`failure`: counts as a try, as a re-send
    /// after a failure does).
    pub(super) fn resend_pipe(&mut self, sid: Id, pipe: Pipe, failure: bool) {
        for cid in pipe.ids() {
            let again = match conn_mut(&mut self.slots, cid) {
                // Still waiting for this connection's response (a client that gave up on it
                // has left its entry behind).
                Some(Conn {
                    role: Role::Client(c),
                    ..
                }) if c.server == Some(sid) && c.st == CState::Forwarding => {
                    let max = self.groups.get(c.group).map_or(0, |g| g.forward_retries);
                    c.server = None;
                    if failure {
                        c.tries = c.tries.saturating_add(1);
                    }
                    let again = c.tries <= max;
                    if again {
                        c.st = CState::Queued;
                    }
                    again
                }
                _ => continue,
            };
            if again {
                self.stats.retries = self.stats.retries.saturating_add(1);
                // Already in flight once: ahead of the clients queued meanwhile.
                self.assign_from(cid, true);
            } else {
                self.fail_client(cid, Status::BadGateway);
            }
        }
    }
}
