// SPDX-License-Identifier: GPL-2.0

//! Zero-copy bodies: the bytes of a body that the parser need not see go from one socket
//! straight into the other's send queue, never copied into `rx` (responses from the upstream
//! to the client, request bodies from the client to the upstream).
//!
//! * When: the connection is in the middle of a body run (the rest of a Content-Length body,
//!   of a chunk's data, or a close-delimited response; see `Reader::data_run`), everything it
//!   received before was passed on (`rx` empty), and nothing is queued on the other side ahead
//!   of these bytes (its `tx` empty). The bytes must go on unchanged and unkept: a response
//!   not for the cache (`fill`), not decoded for an HTTP/1.0 client (`dechunk`), not replaced
//!   by a revalidated hit, not a health probe's; a request body not kept for a re-send
//!   (`retriable`), within the firewall's body limits (checked for the whole run before any
//!   of it goes), from a client under `client_mem`'s soft limit.
//! * How: `Sock::splice_to` reads the receive queue with `tcp_read_sock` and queues the
//!   received pages on the other socket with `MSG_SPLICE_PAGES` (TCP takes a reference on each
//!   page; only an skb's small linear part is copied). Only in softirq, from one of the two
//!   sockets' callbacks, where both bh locks can be held; elsewhere the bytes are read and
//!   copied as before, so the two paths alternate freely: the reader learns of spliced bytes
//!   through `Reader::skip`, as if it had handed them out in a `Step::Body`.
//! * Backpressure: when the destination socket is full the bytes stay in the source socket
//!   (TCP pushes back on the sender) and the destination connection remembers that its feeder
//!   waits (`Conn::splice_waiting`); its next flush with nothing queued wakes the feeder.

use super::*;
use crate::sock::Splice;

/// Bytes one `Sock::splice_to` call moves at most.
const SPLICE_MAX: usize = 1 << 20;

/// What [`Proxy::splice_body`] left to do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Spliced {
    /// Read on: what is left (the next head, chunk framing, anything outside softirq) is
    /// read and parsed as usual.
    ReadOn,
    /// The destination is full: do not read (the bytes wait in the socket).
    Blocked,
    /// The connection was refused or failed meanwhile (it may be gone).
    Over,
}

impl Proxy {
    /// Splices what connection `id`'s socket holds of the current body run to the other end
    /// of its exchange.
    pub(super) fn splice_body(&mut self, id: Id) -> Spliced {
        loop {
            let (peer, max) = match self.splice_plan(id) {
                Ok(Some(plan)) => plan,
                Ok(None) => return Spliced::ReadOn,
                Err(next) => {
                    // The firewall refused the request body before any of it went out.
                    self.end_refused(id, next);
                    return Spliced::Over;
                }
            };
            let r = match (self.conn_ref(id), self.conn_ref(peer)) {
                (
                    Some(Conn {
                        sock: Some(from), ..
                    }),
                    Some(Conn { sock: Some(to), .. }),
                ) => from.splice_to(to, max),
                _ => return Spliced::ReadOn,
            };
            let (n, full) = match r {
                Splice::Moved(n, full) => (n as u64, full),
                Splice::Full => (0, true),
                Splice::Empty | Splice::Unable => return Spliced::ReadOn,
            };
            if n > 0 && !self.spliced(id, peer, n) {
                // The bytes went out but the reader did not take them: out of step.
                match self.conn_ref(id).map(|c| matches!(c.role, Role::Client(_))) {
                    Some(true) => self.close_client(id),
                    _ => self.upstream_failed(id),
                }
                return Spliced::Over;
            }
            if full {
                if let Some(p) = self.get(peer) {
                    p.splice_waiting = true;
                }
                return Spliced::Blocked;
            }
            if n < max as u64 {
                // The socket had less than the run: nothing more until it announces more.
                return Spliced::ReadOn;
            }
        }
    }

    /// Where a body run of connection `id` can be spliced to, and how much of it; see the
    /// module docs for the conditions. `Err`: the firewall refused the request body.
    fn splice_plan(&mut self, id: Id) -> core::result::Result<Option<(Id, usize)>, Next> {
        if !crate::sock::atomic() {
            return Ok(None);
        }
        let Some(conn) = self.conn_ref(id) else {
            return Ok(None);
        };
        if !conn.rx.is_empty() || conn.sock.is_none() {
            return Ok(None);
        }
        let (peer, run) = match &conn.role {
            Role::Upstream(u) => match self.response_plan(id, conn, u) {
                Some(plan) => plan,
                None => return Ok(None),
            },
            Role::Client(c) => match self.request_plan(id, conn, c) {
                Some(plan) => plan,
                None => return Ok(None),
            },
        };
        // The firewall's body limits hold for the whole run (it is coming: the message
        // says so) and for one more read, before any of it goes out.
        if let (
            Some(fw),
            Some(Conn {
                role: Role::Client(c),
                ..
            }),
        ) = (&mut self.fw, conn_mut(&mut self.slots, id))
        {
            let progress = Progress {
                chunks: c.body.chunks.saturating_add(1),
                ms: now_ms().saturating_sub(c.body_ms),
            };
            let total = c.body_in.saturating_add(run);
            let v = fw.body(&c.addr, c.peer(), total, progress, c.vhost);
            if let Some(next) = self.refused(v) {
                return Err(next);
            }
        }
        Ok(Some((
            peer,
            usize::try_from(run).unwrap_or(usize::MAX).min(SPLICE_MAX),
        )))
    }

    /// A response body run of upstream `id` to its client, unchanged and unkept.
    fn response_plan(&self, id: Id, conn: &Conn, u: &Upstream) -> Option<(Id, u64)> {
        if u.st != UState::Busy || u.probe.is_some() || conn.rx_base != u.reader.parsed() {
            return None;
        }
        let run = u.reader.data_run();
        if run == 0 || u.reader.response().interim {
            return None;
        }
        let cid = u.client?;
        let cl = self.conn_ref(cid)?;
        let Role::Client(c) = &cl.role else {
            return None;
        };
        if c.server != Some(id)
            || c.fill.is_some()
            || c.dechunk.is_some()
            || c.reval_hit.is_some()
            || !cl.tx.is_empty()
            || cl.sock.is_none()
        {
            return None;
        }
        Some((cid, run))
    }

    /// A request body run of client `id` to its upstream, not kept for a re-send.
    fn request_plan(&self, id: Id, conn: &Conn, c: &Client) -> Option<(Id, u64)> {
        if c.st != CState::Forwarding
            || c.req_done
            || c.retriable
            || c.mem_over
            || c.hit.is_some()
            || conn.rx_base != c.reader.parsed()
        {
            return None;
        }
        let run = c.reader.data_run();
        if run == 0 {
            return None;
        }
        let sid = c.server?;
        let up = self.conn_ref(sid)?;
        let Role::Upstream(u) = &up.role else {
            return None;
        };
        if u.client != Some(id) || !up.tx.is_empty() || up.sock.is_none() {
            return None;
        }
        Some((sid, run))
    }

    /// `n` body bytes of connection `id` went to `peer` unread: the reader and the counters
    /// learn of them as if they had been read and forwarded.
    fn spliced(&mut self, id: Id, peer: Id, n: u64) -> bool {
        let now = now_ms();
        let Some(conn) = self.get(id) else {
            return false;
        };
        let taken = match &mut conn.role {
            Role::Upstream(u) => u.reader.skip(n),
            Role::Client(c) => {
                c.count_read(now);
                c.body_in = c.body_in.saturating_add(n);
                c.reader.skip(n)
            }
        };
        if !taken {
            // Cannot be: the plan took at most the run.
            return false;
        }
        conn.rx_base = conn.rx_base.saturating_add(n);
        conn.last_ms = now;
        let upstream = matches!(conn.role, Role::Upstream(_));
        if let Some(to) = self.get(peer) {
            to.sent_ms = now;
            if let Role::Client(c) = &mut to.role {
                c.body_sent = c.body_sent.saturating_add(n);
            }
        }
        let s = &mut self.stats;
        if upstream {
            s.server_rx_bytes = s.server_rx_bytes.saturating_add(n);
            s.spliced_resp_bytes = s.spliced_resp_bytes.saturating_add(n);
        } else {
            s.client_rx_bytes = s.client_rx_bytes.saturating_add(n);
            s.spliced_req_bytes = s.spliced_req_bytes.saturating_add(n);
        }
        true
    }
}
