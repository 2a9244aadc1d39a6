//! Test peers on the simulated network: clients ([`Peer`]), upstream servers ([`Server`])
//! that parse requests incrementally and answer them, and a response parser.

use std::prelude::rust_2021::*;

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::net::{self, with};
use super::Sim;

/// FNV-1a, to compare bodies without keeping them.
pub fn fnv(h: u64, data: &[u8]) -> u64 {
    data.iter()
        .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

/// [`fnv`]'s start value.
pub const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

/// A client's end of a connection to the proxy (or a server's end of one from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub(crate) ep: usize,
}

impl Peer {
    /// Sends what fits now (the proxy's receive queue is bounded); returns how much.
    pub fn send(&self, data: &[u8]) -> usize {
        with(|n| n.send(self.ep, data)).unwrap_or(0)
    }

    /// Sends all of `data`, running the simulation whenever the proxy's queue is full.
    pub fn send_all(&self, sim: &mut Sim, mut data: &[u8], servers: &mut [&mut Server]) {
        let mut stuck = 0;
        while !data.is_empty() {
            let k = self.send(data);
            data = &data[k..];
            sim.run_with(servers);
            stuck = if k == 0 { stuck + 1 } else { 0 };
            assert!(stuck < 1000, "the proxy stopped reading");
        }
    }

    /// Reads as long as the proxy sends (a reader that keeps up): everything it got.
    pub fn read_all(&self, sim: &mut Sim, servers: &mut [&mut Server]) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            sim.run_with(servers);
            let more = self.recv();
            if more.is_empty() {
                return got;
            }
            got.extend_from_slice(&more);
        }
    }

    /// Everything received so far.
    pub fn recv(&self) -> Vec<u8> {
        with(|n| n.recv(self.ep, usize::MAX))
    }

    /// The peer stopped sending (FIN) or reset the connection.
    pub fn closed(&self) -> bool {
        with(|n| {
            let e = n.ep(self.ep);
            e.fin || e.reset
        })
    }

    /// The connection was reset.
    pub fn was_reset(&self) -> bool {
        with(|n| n.ep(self.ep).reset)
    }

    /// A write-space event for the proxy's end, as ACKs give while this peer's window is
    /// shut (the socket stays full: the event says nothing new).
    pub fn poke(&self) {
        with(|n| {
            if let Some(p) = n.ep(self.ep).peer {
                n.notify_work(p);
            }
        });
    }

    /// Half-closes (FIN).
    pub fn shutdown(&self) {
        with(|n| n.shutdown(self.ep));
    }

    /// Resets the connection.
    pub fn reset(&self) {
        with(|n| n.reset(self.ep));
    }

    /// How much this end takes before the sender must wait (a slow reader: small).
    pub fn set_rcvbuf(&self, bytes: usize) {
        with(|n| n.ep(self.ep).rcvbuf = bytes);
    }
}

/// A request as an upstream received it.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body_len: u64,
    pub body_sum: u64,
    /// The body, when it is at most 64 KiB.
    pub body: Vec<u8>,
    /// Which of the server's connections it came on.
    pub conn: usize,
}

impl Request {
    /// The first value of field `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

enum Dec {
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkCrlf,
    Trailers,
}

struct SConn {
    peer: Peer,
    buf: Vec<u8>,
    dec: Dec,
    req: Request,
    /// Responses in request order: (request index, response once known).
    pending: VecDeque<(usize, Option<Vec<u8>>)>,
    out: VecDeque<u8>,
    closed: bool,
    /// After an upgrade request: bytes are echoed back unparsed (a WebSocket echo server;
    /// frames are opaque to the proxy's tunnel).
    tunnel: bool,
    /// Bytes that came after the upgrade request's head.
    early: Vec<u8>,
}

/// What a server does with a request: bytes to send back (a whole response, or several),
/// or `None` to hold it unanswered.
pub type Handler = Box<dyn FnMut(&Request) -> Option<Vec<u8>>>;

/// An upstream server on the simulated network.
pub struct Server {
    pub addr: SocketAddr,
    listener: usize,
    conns: Vec<SConn>,
    /// Every request received, in order.
    pub requests: Vec<Request>,
    pub handler: Handler,
}

/// A 200 response with `body`.
pub fn ok(body: &[u8]) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    r.extend_from_slice(body);
    r
}

impl Server {
    /// Listens on `addr`, answering with `handler`.
    pub fn new(addr: &str, handler: Handler) -> Server {
        let addr: SocketAddr = addr.parse().expect("an address");
        let listener = with(|n| {
            let l = n.new_ep();
            n.ep(l).state = net::LISTEN;
            n.servers.insert(addr, l);
            l
        });
        Server {
            addr,
            listener,
            conns: Vec::new(),
            requests: Vec::new(),
            handler,
        }
    }

    /// Answers each request with 200 and a body naming the server and the target.
    pub fn echo(addr: &str, name: &'static str) -> Server {
        Server::new(
            addr,
            Box::new(move |r: &Request| Some(ok(format!("{name} {}", r.target).as_bytes()))),
        )
    }

    /// Reads, answers and writes what it can; whether anything happened.
    pub fn serve(&mut self) -> bool {
        let mut busy = false;
        while let Some(ep) = with(|n| n.ep(self.listener).backlog.pop_front()) {
            busy = true;
            self.conns.push(SConn {
                peer: Peer { ep },
                buf: Vec::new(),
                dec: Dec::Head,
                req: Request::default(),
                pending: VecDeque::new(),
                out: VecDeque::new(),
                closed: false,
                tunnel: false,
                early: Vec::new(),
            });
        }
        for ci in 0..self.conns.len() {
            let data = {
                let c = &self.conns[ci];
                if c.closed {
                    continue;
                }
                c.peer.recv()
            };
            if !data.is_empty() && self.conns[ci].tunnel {
                busy = true;
                self.conns[ci].out.extend(data);
            } else if !data.is_empty() {
                busy = true;
                for req in self.conns[ci].feed(&data, ci) {
                    let resp = (self.handler)(&req);
                    self.conns[ci]
                        .pending
                        .push_back((self.requests.len(), resp));
                    self.requests.push(req);
                }
            }
            let c = &mut self.conns[ci];
            // An HTTP/1.1 server answers in order: a held response holds those behind it.
            while let Some((_, Some(_))) = c.pending.front() {
                if let Some((_, Some(r))) = c.pending.pop_front() {
                    c.out.extend(r);
                    if c.tunnel {
                        let early = core::mem::take(&mut c.early);
                        c.out.extend(early);
                    }
                }
            }
            while !c.out.is_empty() {
                let (a, _) = c.out.as_slices();
                let k = c.peer.send(a);
                if k == 0 {
                    break;
                }
                busy = true;
                c.out.drain(..k);
            }
            if c.peer.closed() && c.out.is_empty() {
                // The proxy closed: close ours too.
                c.peer.shutdown();
                c.closed = true;
                busy = true;
            }
        }
        busy
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.conns.iter().filter(|c| !c.closed).count()
    }

    /// Answers held request `i` with `bytes` (sent once those before it are answered).
    pub fn answer(&mut self, i: usize, bytes: &[u8]) {
        let ci = self.requests[i].conn;
        if let Some(slot) = self.conns[ci].pending.iter_mut().find(|(k, _)| *k == i) {
            slot.1 = Some(bytes.to_vec());
        }
    }

    /// Resets connection `ci` (of [`Request::conn`]).
    pub fn reset_conn(&mut self, ci: usize) {
        let c = &mut self.conns[ci];
        if !c.closed {
            c.peer.reset();
            c.closed = true;
        }
    }

    /// Dies: every connection reset, and connects are refused until [`Server::restart`].
    pub fn kill(&mut self) {
        for c in self.conns.iter_mut().filter(|c| !c.closed) {
            c.peer.reset();
            c.closed = true;
        }
        let addr = self.addr;
        with(|n| n.servers.remove(&addr));
    }

    /// Listens again.
    pub fn restart(&mut self) {
        let (addr, l) = (self.addr, self.listener);
        with(|n| {
            n.ep(l).backlog.clear();
            n.servers.insert(addr, l);
        });
    }
}

impl SConn {
    /// Parses `data`; the requests it completes.
    fn feed(&mut self, mut data: &[u8], conn: usize) -> Vec<Request> {
        let mut done = Vec::new();
        while !data.is_empty() {
            match self.dec {
                Dec::Head | Dec::ChunkSize | Dec::Trailers => {
                    let (end, lines) = match self.dec {
                        Dec::Head | Dec::Trailers => (&b"\r\n\r\n"[..], true),
                        _ => (&b"\r\n"[..], false),
                    };
                    // Trailers may be empty: a bare CRLF ends them.
                    let before = self.buf.len();
                    self.buf.extend_from_slice(data);
                    let found =
                        if matches!(self.dec, Dec::Trailers) && self.buf.starts_with(b"\r\n") {
                            Some(0)
                        } else {
                            find(&self.buf, end)
                        };
                    let Some(pos) = found else {
                        data = &[];
                        continue;
                    };
                    let used = if matches!(self.dec, Dec::Trailers)
                        && pos == 0
                        && self.buf.starts_with(b"\r\n")
                    {
                        2
                    } else {
                        pos + end.len()
                    };
                    data = &data[used - before..];
                    let text = String::from_utf8_lossy(&self.buf[..used]).into_owned();
                    self.buf.clear();
                    match self.dec {
                        Dec::Head => {
                            let _ = lines;
                            self.req = parse_head(&text, conn);
                            if self.req.header("upgrade").is_some() {
                                // The rest is the tunnel's.
                                self.tunnel = true;
                                self.early.extend_from_slice(data);
                                done.push(self.take());
                                return done;
                            }
                            let te = self
                                .req
                                .header("transfer-encoding")
                                .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
                            let cl = self
                                .req
                                .header("content-length")
                                .and_then(|v| v.trim().parse::<u64>().ok());
                            self.dec = if te {
                                Dec::ChunkSize
                            } else {
                                match cl {
                                    Some(n) if n > 0 => Dec::Body(n),
                                    _ => {
                                        done.push(self.take());
                                        Dec::Head
                                    }
                                }
                            };
                        }
                        Dec::ChunkSize => {
                            let size = text.trim_end().split(';').next().unwrap_or("");
                            let n = u64::from_str_radix(size.trim(), 16).expect("a chunk size");
                            self.dec = if n == 0 {
                                Dec::Trailers
                            } else {
                                Dec::ChunkData(n)
                            };
                        }
                        _ => {
                            done.push(self.take());
                            self.dec = Dec::Head;
                        }
                    }
                }
                Dec::Body(left) | Dec::ChunkData(left) => {
                    let k = (left.min(data.len() as u64)) as usize;
                    self.body(&data[..k]);
                    data = &data[k..];
                    let rest = left - k as u64;
                    self.dec = match (&self.dec, rest) {
                        (Dec::Body(_), 0) => {
                            done.push(self.take());
                            Dec::Head
                        }
                        (Dec::Body(_), r) => Dec::Body(r),
                        (_, 0) => Dec::ChunkCrlf,
                        (_, r) => Dec::ChunkData(r),
                    };
                }
                Dec::ChunkCrlf => {
                    self.buf.extend_from_slice(&data[..1]);
                    data = &data[1..];
                    if self.buf.len() == 2 {
                        assert_eq!(self.buf, b"\r\n", "chunk data ends with CRLF");
                        self.buf.clear();
                        self.dec = Dec::ChunkSize;
                    }
                }
            }
        }
        done
    }

    fn body(&mut self, b: &[u8]) {
        self.req.body_len += b.len() as u64;
        self.req.body_sum = fnv(self.req.body_sum, b);
        if self.req.body.len() + b.len() <= 65536 {
            self.req.body.extend_from_slice(b);
        }
    }

    fn take(&mut self) -> Request {
        core::mem::take(&mut self.req)
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn parse_head(text: &str, conn: usize) -> Request {
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.splitn(3, ' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Request {
        method,
        target,
        headers,
        body_sum: FNV0,
        conn,
        ..Request::default()
    }
}

/// A response as a client received it.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of field `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `buf` into responses; `head[i]`: the i-th response answers a HEAD (no body). The
/// last one may be close-delimited when `closed`. Stops at an incomplete response.
pub fn responses(buf: &[u8], head: &[bool], closed: bool) -> Vec<Response> {
    responses_rest(buf, head, closed).0
}

/// [`responses`], and what follows the last complete one (an incomplete response, or
/// nothing).
pub fn responses_rest<'b>(buf: &'b [u8], head: &[bool], closed: bool) -> (Vec<Response>, &'b [u8]) {
    let mut out = Vec::new();
    let mut rest = buf;
    while let Some(end) = find(rest, b"\r\n\r\n") {
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        let mut lines = text.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let mut body = &rest[end + 4..];
        let no_body = head.get(out.len()).copied().unwrap_or(false)
            || status / 100 == 1
            || status == 204
            || status == 304;
        // Chunked when it is the last coding of all the Transfer-Encoding lines.
        let last_coding = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"))
            .flat_map(|(_, v)| v.split(','))
            .map(|c| c.trim().to_ascii_lowercase())
            .rfind(|c| !c.is_empty());
        if no_body {
        } else if last_coding.as_deref() == Some("chunked") {
            loop {
                let Some(e) = find(body, b"\r\n") else {
                    return (out, rest);
                };
                let size = String::from_utf8_lossy(&body[..e]);
                let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                    .unwrap_or(0);
                body = &body[e + 2..];
                if n == 0 {
                    let Some(t) = find(body, b"\r\n") else {
                        return (out, rest);
                    };
                    // Trailer fields, then the empty line.
                    if t == 0 {
                        body = &body[2..];
                    } else {
                        let Some(t) = find(body, b"\r\n\r\n") else {
                            return (out, rest);
                        };
                        body = &body[t + 4..];
                    }
                    break;
                }
                if body.len() < n + 2 {
                    return (out, rest);
                }
                r.body.extend_from_slice(&body[..n]);
                body = &body[n + 2..];
            }
        } else if let Some(n) = r
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            if body.len() < n {
                return (out, rest);
            }
            r.body.extend_from_slice(&body[..n]);
            body = &body[n..];
        } else if closed {
            r.body.extend_from_slice(body);
            body = &[];
        } else {
            return (out, rest);
        }
        out.push(r);
        rest = body;
    }
    (out, rest)
}
