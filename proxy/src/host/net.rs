//! The simulated network: endpoints are byte queues joined in pairs, one end a proxy socket
//! ([`super::sock::Sock`]), the other a test peer ([`super::Peer`]) or another proxy socket.
//!
//! It models what the proxy relies on of TCP and of glue.c: a bounded receive queue per end
//! (a peer that stops reading fills it, and the sender's writes then take nothing, as a full
//! send buffer does), FIN after queued data, resets, connects that succeed or are refused,
//! listeners with a backlog, and events: whenever something happens to a watched proxy socket
//! (data, room to write, a state change) its id is queued once for the event loop, as the
//! socket callbacks queue it for the work item.

use std::prelude::rust_2021::*;

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// TCP states the proxy looks at (include/net/tcp_states.h).
pub const ESTABLISHED: i32 = 1;
pub const SYN_SENT: i32 = 2;
pub const CLOSE: i32 = 7;
pub const LISTEN: i32 = 10;

/// Bytes an end's receive queue holds before its sender's writes take nothing.
pub const RCVBUF: usize = 256 * 1024;

#[derive(Default)]
pub struct Ep {
    pub rx: VecDeque<u8>,
    /// The peer sent FIN (after what is in `rx`).
    pub fin: bool,
    /// The connection was reset (or refused).
    pub reset: bool,
    pub peer: Option<usize>,
    pub state: i32,
    pub local_port: u16,
    pub peer_addr: [u8; 16],
    pub peer_text: String,
    pub mark: u32,
    /// The proxy's name for this socket, once watched.
    pub watch: Option<u64>,
    /// The proxy let go of it (a test peer's end never is).
    pub released: bool,
    pub abort: bool,
    pub shut_wr: bool,
    /// A proxy socket (created or accepted by the proxy): it must be released at the end.
    pub owned: bool,
    /// Listener: connections waiting for accept.
    pub backlog: VecDeque<usize>,
    /// Receive queue bound (test peers may lower it to play slow readers).
    pub rcvbuf: usize,
}

#[derive(Default)]
pub struct Net {
    pub now: u64,
    pub atomic: bool,
    pub deferred: bool,
    pub eps: Vec<Ep>,
    /// Listening test servers (upstreams) by address.
    pub servers: HashMap<SocketAddr, usize>,
    /// Proxy listeners by port.
    pub listeners: HashMap<u16, usize>,
    /// Watched proxy sockets with something new, in order, each once per path: `true` for
    /// data (`sk_data_ready`, handled in softirq), `false` for the work item (write space,
    /// state changes, kicks, listeners).
    pub events: VecDeque<(u64, bool)>,
}

thread_local! {
    pub static NET: RefCell<Net> = RefCell::new(Net::default());
}

/// Runs `f` on this thread's network.
pub fn with<R>(f: impl FnOnce(&mut Net) -> R) -> R {
    NET.with(|n| f(&mut n.borrow_mut()))
}

/// The simulated clock, ms.
pub fn now() -> u64 {
    with(|n| n.now)
}

impl Net {
    pub fn ep(&mut self, i: usize) -> &mut Ep {
        &mut self.eps[i]
    }

    pub fn new_ep(&mut self) -> usize {
        self.eps.push(Ep {
            rcvbuf: RCVBUF,
            ..Ep::default()
        });
        self.eps.len() - 1
    }

    /// The next event: data first (softirq runs before the work item gets the CPU), else the
    /// oldest work item event.
    pub fn next_event(&mut self) -> Option<(u64, bool)> {
        let i = self.events.iter().position(|e| e.1).unwrap_or(0);
        self.events.remove(i)
    }

    /// Queues a data event for `i` if the proxy watches it (softirq's path).
    pub fn notify(&mut self, i: usize) {
        self.queue(i, true);
    }

    /// Queues an event for `i` for the work item.
    pub fn notify_work(&mut self, i: usize) {
        self.queue(i, false);
    }

    fn queue(&mut self, i: usize, data: bool) {
        let ep = &self.eps[i];
        if ep.released {
            return;
        }
        if let Some(id) = ep.watch {
            if !self.events.contains(&(id, data)) {
                self.events.push_back((id, data));
            }
        }
    }

    /// Room in `to`'s receive queue.
    pub fn room(&self, to: usize) -> usize {
        let ep = &self.eps[to];
        ep.rcvbuf.saturating_sub(ep.rx.len())
    }

    /// Sends from `from` to its peer: what fits. `Err(-EPIPE)` on a dead connection.
    pub fn send(&mut self, from: usize, data: &[u8]) -> Result<usize, i32> {
        let ep = &self.eps[from];
        if ep.reset {
            return Err(-104);
        }
        if ep.shut_wr || ep.state != ESTABLISHED {
            return Err(-32);
        }
        let Some(to) = ep.peer else { return Err(-32) };
        if self.eps[to].released {
            // The peer's socket is gone: its stack answers with a reset.
            self.eps[from].reset = true;
            self.notify_work(from);
            return Err(-104);
        }
        let n = data.len().min(self.room(to));
        self.eps[to].rx.extend(&data[..n]);
        if n > 0 {
            self.notify(to);
        }
        Ok(n)
    }

    /// Reads up to `max` bytes of `i`'s queue; draining it wakes a sender that was full.
    pub fn recv(&mut self, i: usize, max: usize) -> Vec<u8> {
        let n = max.min(self.eps[i].rx.len());
        let out: Vec<u8> = self.eps[i].rx.drain(..n).collect();
        if n > 0 {
            if let Some(p) = self.eps[i].peer {
                self.notify_work(p);
            }
        }
        out
    }

    /// `i` sends FIN.
    pub fn shutdown(&mut self, i: usize) {
        if self.eps[i].shut_wr {
            return;
        }
        self.eps[i].shut_wr = true;
        if let Some(p) = self.eps[i].peer {
            self.eps[p].fin = true;
            self.notify(p);
        }
    }

    /// `i` resets the connection.
    pub fn reset(&mut self, i: usize) {
        self.eps[i].reset = true;
        self.eps[i].state = CLOSE;
        if let Some(p) = self.eps[i].peer {
            self.eps[p].reset = true;
            self.eps[p].state = CLOSE;
            self.eps[p].rx.clear();
            self.notify_work(p);
        }
    }

    /// The proxy releases its socket `i`: FIN after what is queued, or a reset
    /// (`abort_on_close`, or unread data, as TCP does).
    pub fn release(&mut self, i: usize) {
        let abort = self.eps[i].abort || !self.eps[i].rx.is_empty();
        if abort {
            self.reset(i);
        } else {
            self.shutdown(i);
        }
        let ep = &mut self.eps[i];
        ep.released = true;
        ep.watch = None;
        ep.state = CLOSE;
        // Connections never accepted are reset.
        let backlog: Vec<usize> = ep.backlog.drain(..).collect();
        for c in backlog {
            self.reset(c);
        }
    }

    /// A pair of connected ends: `(a, b)`.
    pub fn pair(&mut self) -> (usize, usize) {
        let a = self.new_ep();
        let b = self.new_ep();
        for (x, y) in [(a, b), (b, a)] {
            let ep = &mut self.eps[x];
            ep.peer = Some(y);
            ep.state = ESTABLISHED;
        }
        (a, b)
    }

    /// A test client connects to the proxy's listener on `port`: the client's end, or
    /// `None` if nothing listens there.
    pub fn client_connect(&mut self, port: u16, ip: [u8; 4]) -> Option<usize> {
        let l = *self.listeners.get(&port)?;
        if self.eps[l].released {
            return None;
        }
        let (client, server) = self.pair();
        let s = &mut self.eps[server];
        s.local_port = port;
        s.peer_addr = [
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ip[0], ip[1], ip[2], ip[3],
        ];
        s.peer_text = format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
        self.eps[l].backlog.push_back(server);
        self.notify_work(l);
        Some(client)
    }

    /// A proxy socket `i` connects to `addr`: established at once when a test server
    /// listens there (its end waits in that server's backlog), refused otherwise; either way
    /// an event follows, as the state change callback's.
    pub fn connect(&mut self, i: usize, addr: &SocketAddr) {
        match self.servers.get(addr).copied() {
            Some(l) if !self.eps[l].released => {
                let s = self.new_ep();
                let ep = &mut self.eps[i];
                ep.peer = Some(s);
                ep.state = ESTABLISHED;
                let se = &mut self.eps[s];
                se.peer = Some(i);
                se.state = ESTABLISHED;
                se.local_port = addr.port();
                self.eps[l].backlog.push_back(s);
            }
            _ => {
                let ep = &mut self.eps[i];
                ep.state = CLOSE;
                ep.reset = true;
            }
        }
        self.notify_work(i);
    }
}
