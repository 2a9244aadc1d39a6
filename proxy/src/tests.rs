//! The proxy driven over the simulated network (see [`crate::host`]): the cases of the VM
//! tests of the proxy issue (`tests/test_proxy.py`), without a VM, plus failure timings a VM
//! cannot set up exactly. Each test ends by stopping the proxy and checking that every
//! socket it created or accepted was released.

use std::prelude::rust_2021::*;

use crate::host::testkit::{fnv, ok, responses, Peer, Response, Server, FNV0};
use crate::host::Sim;

const PORT: u16 = 8090;
const BASIC: &str = "listen 8090;\nserver 127.0.0.1:8101 conns_n=4;\n";
const CLIENT: [u8; 4] = [10, 0, 0, 1];

fn req(method: &str, path: &str, extra: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: example.com:8090\r\n{extra}\r\n").into_bytes()
}

fn get(path: &str) -> Vec<u8> {
    req("GET", path, "")
}

/// `n` new clients that each send `GET /p{k}` (pipelined when the upstream connections are
/// busy).
fn pipelined_gets(sim: &mut Sim, up: &mut Server, n: usize) -> Vec<Peer> {
    let clients: Vec<_> = (0..n)
        .map(|_| sim.client(PORT, CLIENT).expect("connects"))
        .collect();
    for (k, c) in clients.iter().enumerate() {
        c.send(&get(&format!("/p{k}")));
    }
    sim.run_with(&mut [up]);
    clients
}

/// Each client of [`pipelined_gets`] got exactly its own response.
fn assert_own_answers(sim: &mut Sim, up: &mut Server, clients: &[Peer]) {
    for (k, c) in clients.iter().enumerate() {
        let r = responses(&c.read_all(sim, &mut [&mut *up]), &[], false);
        assert_eq!(r.len(), 1, "client {k}");
        assert_eq!(
            r[0].body,
            format!("/p{k}").as_bytes(),
            "client {k}: {}",
            r[0].status
        );
    }
}

/// Index of the first request for `target` the upstream received at or after `from`.
fn request_at(up: &Server, target: &str, from: usize) -> Option<usize> {
    up.requests
        .iter()
        .skip(from)
        .position(|r| r.target == target)
        .map(|i| i + from)
}

/// Sends `bytes` on a new connection and collects the responses (`head` as in
/// [`responses`]) once nothing moves any more.
fn exchange(
    sim: &mut Sim,
    up: &mut [&mut Server],
    bytes: &[u8],
    head: &[bool],
) -> (Vec<Response>, bool) {
    let c = sim.client(PORT, CLIENT).expect("connects");
    c.send_all(sim, bytes, up);
    let got = c.read_all(sim, up);
    let closed = c.closed();
    (responses(&got, head, closed), closed)
}

/// Stops the proxy; nothing it opened stays open.
fn finish(mut sim: Sim) {
    sim.stop();
    assert_eq!(sim.open_sockets(), 0, "every socket released at stop");
}

/// A body of `n` bytes that is not one repeated byte.
fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 4096) as u8).collect()
}

#[test]
fn methods_and_forwarded_fields() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| {
            let b = format!("{} {} {}", r.method, r.target, r.body_len);
            let mut resp = ok(b.as_bytes());
            if r.method == "HEAD" {
                // The head only: a body would be taken for the next response.
                resp.truncate(resp.len() - b.len());
            }
            Some(resp)
        }),
    );
    let mut sim = Sim::start(BASIC).expect("starts");
    sim.run_with(&mut [&mut up]);
    assert_eq!(up.connections(), 4, "conns_n connections opened at start");
    for m in ["GET", "HEAD", "POST", "PUT", "DELETE"] {
        let body = if m == "POST" || m == "PUT" { "abc" } else { "" };
        let mut r = req(m, "/m", &format!("Content-Length: {}\r\n", body.len()));
        r.extend_from_slice(body.as_bytes());
        let (resp, closed) = exchange(&mut sim, &mut [&mut up], &r, &[m == "HEAD"]);
        assert!(!closed, "{m}: keep-alive");
        assert_eq!(resp.len(), 1, "{m}");
        assert_eq!(resp[0].status, 200, "{m}");
        if m == "HEAD" {
            assert!(resp[0].body.is_empty());
        } else {
            assert_eq!(resp[0].body, format!("{m} /m {}", body.len()).as_bytes());
        }
        assert!(resp[0].header("via").is_some(), "{m}: Via on the response");
    }
    let r = up.requests.last().expect("requests");
    assert_eq!(r.header("x-forwarded-for"), Some("10.0.0.1"));
    assert!(
        r.header("via").is_some_and(|v| v.contains("tempesta")),
        "{:?}",
        r.header("via")
    );
    finish(sim);
}

#[test]
fn hop_by_hop_fields_are_not_forwarded() {
    let mut up = Server::echo("127.0.0.1:8101", "up");
    let mut sim = Sim::start(BASIC).expect("starts");
    let r = req("GET", "/h", "Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Kept: 2\r\n");
    let (resp, _) = exchange(&mut sim, &mut [&mut up], &r, &[]);
    assert_eq!(resp[0].status, 200);
    let seen = &up.requests[0];
    assert_eq!(seen.header("x-secret"), None, "named by Connection");
    assert_eq!(seen.header("keep-alive"), None);
    assert_eq!(seen.header("x-kept"), Some("2"));
    finish(sim);
}

/// Request bodies up to 64 MiB, Content-Length and chunked, arrive intact; response bodies
/// of the same sizes come back intact.
#[test]
fn bodies_of_any_size() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| {
            let n: usize = r.target.trim_start_matches("/size/").parse().unwrap_or(0);
            let b = body(n);
            if r.header("x-chunked").is_some() {
                let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for c in b.chunks(100_000) {
                    out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    out.extend_from_slice(c);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
                Some(out)
            } else {
                Some(ok(&b))
            }
        }),
    );
    let mut sim = Sim::start(BASIC).expect("starts");
    for n in [0usize, 1 << 20, 64 << 20] {
        let b = body(n);
        // Upload, Content-Length.
        let mut r = req("POST", "/size/0", &format!("Content-Length: {n}\r\n"));
        r.extend_from_slice(&b);
        let (resp, _) = exchange(&mut sim, &mut [&mut up], &r, &[]);
        assert_eq!(resp.len(), 1, "POST {n}");
        let seen = up.requests.last().expect("a request");
        assert_eq!(
            (seen.body_len, seen.body_sum),
            (n as u64, fnv(FNV0, &b)),
            "CL body {n}"
        );
        // Upload, chunked (odd chunk sizes).
        let mut r = req("PUT", "/size/0", "Transfer-Encoding: chunked\r\n");
        for c in b.chunks(77_777) {
            r.extend_from_slice(format!("{:x};ext=1\r\n", c.len()).as_bytes());
            r.extend_from_slice(c);
            r.extend_from_slice(b"\r\n");
        }
        r.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
        let (resp, _) = exchange(&mut sim, &mut [&mut up], &r, &[]);
        assert_eq!(resp.len(), 1, "PUT chunked {n}");
        let seen = up.requests.last().expect("a request");
        assert_eq!(
            (seen.body_len, seen.body_sum),
            (n as u64, fnv(FNV0, &b)),
            "chunked body {n}"
        );
        // Downloads.
        for extra in ["", "X-Chunked: 1\r\n"] {
            let (resp, _) = exchange(
                &mut sim,
                &mut [&mut up],
                &req("GET", &format!("/size/{n}"), extra),
                &[],
            );
            assert_eq!(resp.len(), 1, "GET {n} {extra}");
            assert_eq!(resp[0].body.len(), n);
            assert!(resp[0].body == b, "response body {n} {extra}");
        }
    }
    finish(sim);
}

#[test]
fn a_hundred_pipelined_requests_answered_in_order() {
    let mut up = Server::echo("127.0.0.1:8101", "up");
    let mut sim = Sim::start(BASIC).expect("starts");
    let mut all = Vec::new();
    for i in 0..100 {
        all.extend_from_slice(&get(&format!("/p/{i}")));
    }
    let (resp, _) = exchange(&mut sim, &mut [&mut up], &all, &[]);
    assert_eq!(resp.len(), 100);
    for (i, r) in resp.iter().enumerate() {
        assert_eq!(
            r.body,
            format!("up /p/{i}").as_bytes(),
            "response {i} in request order"
        );
    }
    finish(sim);
}

#[test]
fn a_client_sending_one_byte_at_a_time() {
    let mut up = Server::echo("127.0.0.1:8101", "up");
    let mut sim = Sim::start(BASIC).expect("starts");
    let c = sim.client(PORT, CLIENT).expect("connects");
    let mut r = req("POST", "/slow", "Content-Length: 5\r\n");
    r.extend_from_slice(b"hello");
    r.extend_from_slice(&get("/after"));
    for b in &r {
        assert_eq!(c.send(core::slice::from_ref(b)), 1);
        sim.run_with(&mut [&mut up]);
    }
    let resp = responses(&c.recv(), &[], false);
    assert_eq!(resp.len(), 2);
    assert_eq!(resp[0].body, b"up /slow");
    assert_eq!(resp[1].body, b"up /after");
    assert_eq!(up.requests[0].body, b"hello");
    finish(sim);
}

#[test]
fn a_thousand_keepalive_clients() {
    let mut up = Server::echo("127.0.0.1:8101", "up");
    let mut sim = Sim::start("listen 8090;\nserver 127.0.0.1:8101 conns_n=32;\n").expect("starts");
    let clients: Vec<_> = (0..1000u32)
        .map(|i| {
            sim.client(PORT, [10, 1, (i >> 8) as u8, i as u8])
                .expect("connects")
        })
        .collect();
    for round in 0..2 {
        for (i, c) in clients.iter().enumerate() {
            c.send(&get(&format!("/c/{i}/{round}")));
        }
        sim.run_with(&mut [&mut up]);
        for (i, c) in clients.iter().enumerate() {
            let r = responses(&c.recv(), &[], false);
            assert_eq!(r.len(), 1, "client {i} round {round}");
            assert_eq!(r[0].body, format!("up /c/{i}/{round}").as_bytes());
            assert!(!c.closed(), "kept alive");
        }
    }
    assert_eq!(
        up.connections(),
        32,
        "the pool, not a connection per client"
    );
    finish(sim);
}

#[test]
fn weighted_distribution_within_five_percent() {
    let mut a = Server::echo("127.0.0.1:8101", "a");
    let mut b = Server::echo("127.0.0.1:8102", "b");
    let mut c = Server::echo("127.0.0.1:8103", "c");
    let cfg = "listen 8090;\nsrv_group g {\n sched ratio static;\n \
               server 127.0.0.1:8101 conns_n=8 weight=20;\n \
               server 127.0.0.1:8102 conns_n=8 weight=30;\n \
               server 127.0.0.1:8103 conns_n=8 weight=50;\n}\n\
               vhost v { proxy_pass g; }\nhttp_chain { -> v; }\n";
    let mut sim = Sim::start(cfg).expect("starts");
    let clients: Vec<_> = (0..6)
        .map(|_| sim.client(PORT, CLIENT).expect("connects"))
        .collect();
    let mut got = 0;
    for i in 0..500 {
        for cl in &clients {
            cl.send(&get(&format!("/w/{i}")));
        }
        sim.run_with(&mut [&mut a, &mut b, &mut c]);
        for cl in &clients {
            got += responses(&cl.recv(), &[], false).len();
        }
    }
    assert_eq!(got, 3000);
    let n = [a.requests.len(), b.requests.len(), c.requests.len()];
    for (k, w) in n.iter().zip([0.2, 0.3, 0.5]) {
        let share = *k as f64 / 3000.0;
        assert!(
            (share - w).abs() <= 0.05 * w,
            "{n:?}: share {share} for weight {w}"
        );
    }
    finish(sim);
}

/// `tests/test_proxy.py::proxy_errors`, and the failure rules of the issue.
#[test]
fn malformed_request_gets_400_and_close() {
    let mut up = Server::echo("127.0.0.1:8101", "up");
    let mut sim = Sim::start(BASIC).expect("starts");
    let bad =
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (resp, closed) = exchange(&mut sim, &mut [&mut up], bad, &[]);
    assert_eq!(resp.len(), 1);
    assert_eq!(resp[0].status, 400);
    assert!(closed, "closed after 400");
    assert!(up.requests.is_empty(), "nothing forwarded");
    finish(sim);
}

#[test]
fn no_upstream_gets_502() {
    // Nothing listens on 8109.
    let mut sim = Sim::start("listen 8090;\nserver 127.0.0.1:8109 conns_n=2;\n").expect("starts");
    let (resp, _) = exchange(&mut sim, &mut [], &get("/x"), &[]);
    assert_eq!(resp.len(), 1);
    assert_eq!(resp[0].status, 502);
    finish(sim);
}

#[test]
fn silent_upstream_gets_504_after_the_forward_timeout() {
    let mut up = Server::new("127.0.0.1:8101", Box::new(|_| None));
    let mut sim =
        Sim::start("listen 8090;\nserver 127.0.0.1:8101 conns_n=2;\nserver_forward_timeout 2;\n")
            .expect("starts");
    let c = sim.client(PORT, CLIENT).expect("connects");
    c.send(&get("/sleep"));
    sim.advance(1500, &mut [&mut up]);
    assert!(c.recv().is_empty(), "not before the timeout");
    sim.advance(1000, &mut [&mut up]);
    let r = responses(&c.recv(), &[], false);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, 504);
    finish(sim);
}

/// An upstream that resets with the request in flight: an idempotent request is re-sent on
/// another connection, a POST gets 502.
#[test]
fn upstream_reset_resends_idempotent_only() {
    // The server resets the connection of the first request it sees of each kind.
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| (!r.target.starts_with("/die")).then(|| ok(b"fine"))),
    );
    let mut sim =
        Sim::start("listen 8090;\nserver 127.0.0.1:8101 conns_n=2;\nserver_forward_retries 3;\n")
            .expect("starts");
    for (m, resent) in [("GET", true), ("POST", false)] {
        let c = sim.client(PORT, CLIENT).expect("connects");
        c.send(&req(m, "/die", "Content-Length: 0\r\n"));
        sim.run_with(&mut [&mut up]);
        let before = up.requests.len();
        // Reset the connection the request came on.
        let last = up.requests.last().expect("forwarded").conn;
        up.reset_conn(last);
        // The re-sent request (if any) is answered this time.
        up.handler = Box::new(|_| Some(ok(b"second")));
        sim.run_with(&mut [&mut up]);
        let r = responses(&c.recv(), &[], false);
        assert_eq!(r.len(), 1, "{m}");
        if resent {
            assert_eq!(r[0].status, 200, "{m} re-sent");
            assert_eq!(r[0].body, b"second");
            assert_eq!(up.requests.len(), before + 1);
        } else {
            assert_eq!(r[0].status, 502, "{m} not re-sent");
            assert_eq!(up.requests.len(), before);
        }
        up.handler = Box::new(|r| (!r.target.starts_with("/die")).then(|| ok(b"fine")));
        sim.advance(500, &mut [&mut up]);
    }
    finish(sim);
}

/// Every request gets a response or a clean 502/504 while the upstream dies and comes back
/// (a client whose connection the proxy closed after an error reconnects); then every client
/// is served again.
#[test]
fn upstream_killed_and_restarted_under_load() {
    let mut up = Server::echo("127.0.0.1:8101", "up");
    let cfg = "listen 8090;\nserver 127.0.0.1:8101 conns_n=4;\nserver_forward_timeout 5;\n";
    let mut sim = Sim::start(cfg).expect("starts");
    let mut clients: Vec<_> = (0..20)
        .map(|_| sim.client(PORT, CLIENT).expect("connects"))
        .collect();
    let mut waiting = vec![false; clients.len()];
    let mut got: Vec<Vec<u16>> = vec![Vec::new(); clients.len()];
    let mut sent = 0;
    for step in 0..60 {
        for (i, c) in clients.iter_mut().enumerate() {
            if waiting[i] {
                continue;
            }
            if c.closed() {
                *c = sim.client(PORT, CLIENT).expect("reconnects");
            }
            c.send(&get(&format!("/k/{i}/{step}")));
            waiting[i] = true;
            sent += 1;
        }
        if step == 20 {
            up.kill();
        }
        if step == 35 {
            up.restart();
        }
        sim.advance(250, &mut [&mut up]);
        for (i, c) in clients.iter().enumerate() {
            let r = responses(&c.recv(), &[], false);
            assert!(r.len() <= 1, "client {i}: one request at a time");
            for r in r {
                assert!(
                    matches!(r.status, 200 | 502 | 504),
                    "client {i}: {}",
                    r.status
                );
                got[i].push(r.status);
                waiting[i] = false;
            }
        }
    }
    sim.advance(6000, &mut [&mut up]);
    for (i, c) in clients.iter().enumerate() {
        for r in responses(&c.recv(), &[], false) {
            got[i].push(r.status);
        }
    }
    assert_eq!(
        got.iter().map(Vec::len).sum::<usize>(),
        sent,
        "every request answered"
    );
    let failed = got.iter().flatten().filter(|s| **s != 200).count();
    assert!(failed > 0, "the outage was seen");
    assert!(
        got.iter().all(|g| g.last() == Some(&200)),
        "served again after the restart: {got:?}"
    );
    finish(sim);
}

/// Stopping with requests, bodies and responses in flight releases every socket.
#[test]
fn stop_under_load_releases_everything() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| (r.target != "/hold").then(|| ok(&body(300_000)))),
    );
    let mut sim = Sim::start(BASIC).expect("starts");
    let mut clients = Vec::new();
    for i in 0..50 {
        let c = sim.client(PORT, CLIENT).expect("connects");
        match i % 3 {
            0 => c.send(&get("/hold")),
            1 => {
                c.set_rcvbuf(1000);
                c.send(&get("/big"))
            }
            _ => c.send(&req("POST", "/up", "Content-Length: 1000000\r\n")),
        };
        clients.push(c);
    }
    sim.run_with(&mut [&mut up]);
    finish(sim);
    assert!(
        clients.iter().all(|c| c.closed()),
        "every client sees the close"
    );
}

/// With the only connection busy, idempotent requests without a body are pipelined onto it
/// and answered in order; nothing goes behind a POST.
#[test]
fn upstream_pipelining() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| (!r.target.starts_with("/hold")).then(|| ok(r.target.as_bytes()))),
    );
    let mut sim = Sim::start("listen 8090;\nserver 127.0.0.1:8101 conns_n=1;\n").expect("starts");
    let first = sim.client(PORT, CLIENT).expect("connects");
    first.send(&get("/hold"));
    sim.run_with(&mut [&mut up]);
    let others = pipelined_gets(&mut sim, &mut up, 5);
    assert!(
        sim.stat("Requests pipelined to servers") >= 3,
        "{}",
        sim.perfstat()
    );
    assert!(
        others.iter().all(|c| c.recv().is_empty()),
        "held behind /hold"
    );
    up.answer(0, &ok(b"/hold"));
    sim.run_with(&mut [&mut up]);
    assert_eq!(responses(&first.recv(), &[], false)[0].body, b"/hold");
    assert_own_answers(&mut sim, &mut up, &others);
    // Behind a POST: nothing.
    let before = sim.stat("Requests pipelined to servers");
    let post = sim.client(PORT, CLIENT).expect("connects");
    let mut p = req("POST", "/hold-post", "Content-Length: 1\r\n");
    p.push(b'x');
    post.send(&p);
    sim.run_with(&mut [&mut up]);
    let late = sim.client(PORT, CLIENT).expect("connects");
    late.send(&get("/late"));
    sim.run_with(&mut [&mut up]);
    assert_eq!(
        sim.stat("Requests pipelined to servers"),
        before,
        "not behind a POST"
    );
    let i = up.requests.len() - 1;
    up.answer(i, &ok(b"post"));
    let late_r = late.read_all(&mut sim, &mut [&mut up]);
    assert_eq!(responses(&late_r, &[], false)[0].body, b"/late");
    finish(sim);
}

/// A client that stops reading its response: a request is not pipelined behind it, and
/// after `keepalive_timeout` without progress it is reset, freeing the upstream connection.
#[test]
fn slow_reader_is_reset_and_not_waited_for() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| {
            let n: usize = r.target.trim_start_matches("/size/").parse().unwrap_or(0);
            Some(ok(&body(n)))
        }),
    );
    let cfg = "listen 8090;\nserver 127.0.0.1:8101 conns_n=1;\nkeepalive_timeout 3;\nserver_forward_timeout 30;\n";
    let mut sim = Sim::start(cfg).expect("starts");
    let a = sim.client(PORT, CLIENT).expect("connects");
    // Room for some of the body, so that it is spliced until the socket is full.
    a.set_rcvbuf(1 << 20);
    a.send(&get("/size/33554432"));
    sim.advance(1000, &mut [&mut up]);
    let b = sim.client(PORT, CLIENT).expect("connects");
    // An event on A's full socket (ACKs of a shut window) clears its "spliced body waits"
    // flag and kicks the upstream; B's request comes before that kick is handled. (The VM
    // test caught B behind A in that window once.)
    a.poke();
    assert!(sim.step());
    b.send(&get("/size/1000"));
    assert!(sim.step());
    sim.advance(1000, &mut [&mut up]);
    assert!(b.recv().is_empty(), "B waits: not pipelined behind A");
    assert_eq!(sim.stat("Requests pipelined to servers"), 0);
    sim.advance(3000, &mut [&mut up]);
    assert!(
        a.was_reset(),
        "A reset after keepalive_timeout without progress"
    );
    assert_eq!(sim.stat("Client send timeouts"), 1);
    let r = responses(&b.read_all(&mut sim, &mut [&mut up]), &[], false);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].body.len(), 1000);
    finish(sim);
}

/// A cacheable response is stored; the next request is a hit that the upstream never sees,
/// with an `Age`; HEAD is served from the GET entry.
#[test]
fn cache_hits_do_not_reach_the_upstream() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| {
            let b = body(100_000);
            let mut resp = format!(
                "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: {}\r\n\r\n",
                b.len()
            )
            .into_bytes();
            if r.method != "HEAD" {
                resp.extend_from_slice(&b);
            }
            Some(resp)
        }),
    );
    let cfg = "listen 8090;\nserver 127.0.0.1:8101 conns_n=2;\ncache 1;\ncache_fulfill * *;\n\
               cache_methods GET HEAD;\n";
    let mut sim = Sim::start(cfg).expect("starts");
    let (r1, _) = exchange(&mut sim, &mut [&mut up], &get("/obj"), &[]);
    sim.advance(2000, &mut [&mut up]);
    let (r2, _) = exchange(&mut sim, &mut [&mut up], &get("/obj"), &[]);
    let (r3, _) = exchange(&mut sim, &mut [&mut up], &req("HEAD", "/obj", ""), &[true]);
    assert_eq!(
        up.requests.len(),
        1,
        "hits never reach the upstream: {:?}\n{}",
        up.requests
            .iter()
            .map(|r| (&r.method, &r.target))
            .collect::<Vec<_>>(),
        sim.perfstat()
    );
    assert_eq!(r1[0].body, body(100_000));
    assert_eq!(
        r2[0].body,
        body(100_000),
        "the hit's body, from the store's pages"
    );
    assert!(
        r2[0]
            .header("age")
            .is_some_and(|a| a.parse::<u64>().is_ok_and(|a| a >= 2)),
        "{:?}",
        r2[0].headers
    );
    assert_eq!(r3[0].status, 200);
    assert!(r3[0].body.is_empty());
    assert!(sim.stat("Cache hits") >= 2, "{}", sim.perfstat());
    // The upstream sent no Date: the proxy adds the receive time (RFC 9110 section 6.6.1),
    // and the stored response keeps it, so a hit's Date and Age agree.
    let dates = |r: &Response| {
        r.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("date"))
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(dates(&r1[0]).len(), 1, "{:?}", r1[0].headers);
    assert_eq!(dates(&r2[0]), dates(&r1[0]), "{:?}", r2[0].headers);
    finish(sim);
}

/// An origin repeating Age, Date, Expires, ETag or Last-Modified gets its response through
/// (502 before; seen with the public cache-tests suite) and the cache reads the repeats as
/// RFC 9111 section 4.2.1 says: the first Age line is used, repeated differing Expires lines
/// make the response stale.
#[test]
fn repeated_response_fields() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| {
            let fields = match r.target.as_str() {
                "/age" => "Cache-Control: max-age=3600\r\nAge: 0\r\nAge: 7200\r\n\
                           Date: Sun, 06 Nov 2050 08:49:37 GMT\r\nDate: Sun, 06 Nov 2050 08:49:37 GMT\r\n\
                           ETag: \"a\"\r\nETag: \"a\"\r\n",
                "/old" => "Cache-Control: max-age=3600\r\nAge: 7200\r\nAge: 0\r\n",
                _ => "Expires: Thu, 18 Aug 2050 02:01:18 GMT\r\nExpires: Thu, 18 Aug 2050 02:01:19 GMT\r\n\
                      Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
                      Last-Modified: Sun, 06 Nov 1994 08:49:38 GMT\r\n",
            };
            Some(format!("HTTP/1.1 200 OK\r\n{fields}Content-Length: 2\r\n\r\nok").into_bytes())
        }),
    );
    let cfg = "listen 8090;\nserver 127.0.0.1:8101 conns_n=2;\ncache 1;\ncache_fulfill * *;\n";
    let mut sim = Sim::start(cfg).expect("starts");
    for path in ["/age", "/age", "/old", "/old", "/expires", "/expires"] {
        let (r, _) = exchange(&mut sim, &mut [&mut up], &get(path), &[]);
        assert_eq!(
            (r[0].status, r[0].body.as_slice()),
            (200, &b"ok"[..]),
            "{path}"
        );
    }
    let sent = |p: &str| up.requests.iter().filter(|r| r.target == p).count();
    assert_eq!(sent("/age"), 1, "Age: 0 first: fresh, a hit");
    assert_eq!(sent("/old"), 2, "Age: 7200 first: stale");
    assert_eq!(sent("/expires"), 2, "two Expires: stale");
    assert_eq!(
        sim.stat("Server messages parsing errors"),
        0,
        "{}",
        sim.perfstat()
    );
    finish(sim);
}

/// An upstream response that ends only with the connection (Transfer-Encoding without
/// chunked), with requests pipelined behind it, from an origin that then answers those on the
/// same connection: their responses must not end up in the first client's body (seen with
/// the public cache-tests suite's origin). It is refused; the others get their own answers.
#[test]
fn close_delimited_response_with_pipelined_requests() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| {
            (!matches!(r.target.as_str(), "/te" | "/hold")).then(|| ok(r.target.as_bytes()))
        }),
    );
    let mut sim = Sim::start("listen 8090;\nserver 127.0.0.1:8101 conns_n=2;\n").expect("starts");
    let first = sim.client(PORT, CLIENT).expect("connects");
    first.send(&get("/te"));
    let hold = sim.client(PORT, CLIENT).expect("connects");
    hold.send(&get("/hold"));
    sim.run_with(&mut [&mut up]);
    let others = pipelined_gets(&mut sim, &mut up, 4);
    assert!(
        sim.stat("Requests pipelined to servers") >= 2,
        "{}",
        sim.perfstat()
    );
    let te = request_at(&up, "/te", 0).expect("sent");
    up.answer(
        te,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: foo\r\n\r\nTE-BODY",
    );
    sim.run_with(&mut [&mut up]);
    let h = request_at(&up, "/hold", 0).expect("sent");
    up.answer(h, &ok(b"/hold"));
    sim.run_with(&mut [&mut up]);
    // The refused request is sent again (a GET): answer it normally this time.
    sim.advance(2000, &mut [&mut up]);
    if let Some(i) = request_at(&up, "/te", te + 1) {
        up.answer(i, &ok(b"/te"));
        sim.run_with(&mut [&mut up]);
    }
    assert_own_answers(&mut sim, &mut up, &others);
    let got = first.read_all(&mut sim, &mut [&mut up]);
    let text = String::from_utf8_lossy(&got);
    assert!(!text.contains("/p"), "another client's response: {text}");
    assert!(
        text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.1 502"),
        "{text}"
    );
    assert_eq!(
        sim.stat("Server messages other errors"),
        1,
        "{}",
        sim.perfstat()
    );
    drop((first, hold, others));
    finish(sim);
}

/// `frang_limits`: methods outside `http_methods` get 403 and are not forwarded.
#[test]
fn frang_method_limit() {
    let mut up = Server::echo("127.0.0.1:8101", "up");
    let cfg =
        "listen 8090;\nserver 127.0.0.1:8101 conns_n=1;\nfrang_limits { http_methods get head; }\n\
               block_action attack reply;\n";
    let mut sim = Sim::start(cfg).expect("starts");
    let (r, _) = exchange(&mut sim, &mut [&mut up], &req("DELETE", "/x", ""), &[]);
    assert_eq!(r[0].status, 403);
    let (r, _) = exchange(&mut sim, &mut [&mut up], &get("/x"), &[]);
    assert_eq!(r[0].status, 200);
    assert_eq!(up.requests.len(), 1);
    finish(sim);
}

/// `Connection: close` is honoured (the response closes the connection); HTTP/1.0 without
/// keep-alive closes; idle keep-alive connections close after `keepalive_timeout`.
#[test]
fn persistence_rules() {
    let mut up = Server::echo("127.0.0.1:8101", "up");
    let cfg = "listen 8090;\nserver 127.0.0.1:8101 conns_n=1;\nkeepalive_timeout 2;\n";
    let mut sim = Sim::start(cfg).expect("starts");
    let (r, closed) = exchange(
        &mut sim,
        &mut [&mut up],
        &req("GET", "/c", "Connection: close\r\n"),
        &[],
    );
    assert_eq!((r[0].status, closed), (200, true), "Connection: close");
    let (r, closed) = exchange(
        &mut sim,
        &mut [&mut up],
        b"GET /h10 HTTP/1.0\r\nHost: example.com:8090\r\n\r\n",
        &[],
    );
    assert_eq!((r[0].status, closed), (200, true), "HTTP/1.0");
    let (r, closed) = exchange(
        &mut sim,
        &mut [&mut up],
        b"GET /h10k HTTP/1.0\r\nHost: example.com:8090\r\nConnection: keep-alive\r\n\r\n",
        &[],
    );
    assert_eq!((r[0].status, closed), (200, false), "HTTP/1.0 keep-alive");
    let c = sim.client(PORT, CLIENT).expect("connects");
    c.send(&get("/idle"));
    sim.advance(1000, &mut [&mut up]);
    assert!(!c.closed());
    sim.advance(2000, &mut [&mut up]);
    assert!(c.closed(), "idle past keepalive_timeout");
    finish(sim);
}

/// Every allocation of an exchange (pipelined GETs, a POST with a body, a cache fill and
/// a hit), failed in turn from that one on: the proxy answers with an error or closes,
/// never panics (an oops in the kernel), never spins, and leaks no socket.
#[test]
fn allocation_failures_never_crash_spin_or_leak() {
    use kernel::alloc::{allocations, fail_after, fail_never};
    // `None`: a clean run, to count the exchange's allocations.
    let scenario = |fail: Option<u64>| -> u64 {
        let mut up = Server::echo("127.0.0.1:8101", "up");
        let cfg = "listen 8090;\nserver 127.0.0.1:8101 conns_n=2;\ncache 1;\ncache_fulfill * *;\n";
        let mut sim = Sim::start(cfg).expect("starts");
        sim.run_with(&mut [&mut up]);
        let start = allocations();
        if let Some(n) = fail {
            fail_after(n);
        }
        let c = sim.client(PORT, CLIENT).expect("connects");
        let mut r = get("/a");
        r.extend_from_slice(&req("POST", "/b", "Content-Length: 3\r\n"));
        r.extend_from_slice(b"xyz");
        r.extend_from_slice(&get("/a"));
        c.send(&r);
        sim.advance(500, &mut [&mut up]);
        let used = allocations() - start;
        fail_never();
        sim.advance(500, &mut [&mut up]);
        let got = responses(&c.recv(), &[], c.closed());
        if fail.is_none() {
            assert_eq!(got.len(), 3);
        }
        assert!(got.len() == 3 || c.closed(), "n={fail:?}: {got:?}");
        finish(sim);
        used
    };
    let total = scenario(None);
    assert!(total > 10, "{total} allocations");
    for n in 0..=total {
        scenario(Some(n));
    }
}

/// A WebSocket upgrade becomes a tunnel: bytes both ways (early data, 1 MiB through the
/// bounded queues) while the pool serves other clients, closed from either side or after
/// `client_ws_timeout` without traffic.
#[test]
fn websocket_tunnels() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| {
            Some(if r.header("upgrade").is_some() {
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".to_vec()
            } else {
                ok(b"plain")
            })
        }),
    );
    let cfg = "listen 8090;\nserver 127.0.0.1:8101 conns_n=2;\nclient_ws_timeout 3;\n";
    let mut sim = Sim::start(cfg).expect("starts");
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    let c = sim.client(PORT, CLIENT).expect("connects");
    let mut open = req("GET", "/ws", upgrade);
    open.extend_from_slice(b"early");
    c.send(&open);
    let got = c.read_all(&mut sim, &mut [&mut up]);
    let head_end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    assert!(
        got.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(
        &got[head_end..],
        b"early",
        "the bytes sent with the upgrade"
    );
    assert_eq!(sim.stat("WebSocket tunnels open"), 1);
    let big = body(1 << 20);
    c.send_all(&mut sim, &big, &mut [&mut up]);
    let mut echoed = c.read_all(&mut sim, &mut [&mut up]);
    while echoed.len() < big.len() {
        let more = c.read_all(&mut sim, &mut [&mut up]);
        assert!(!more.is_empty(), "tunnel stalled at {}", echoed.len());
        echoed.extend_from_slice(&more);
    }
    assert!(echoed == big, "1 MiB through the tunnel");
    // The pool got a connection in place of the tunnel's: plain requests go on.
    let (r, _) = exchange(&mut sim, &mut [&mut up], &get("/plain"), &[]);
    assert_eq!(r[0].body, b"plain");
    // The client closes: the upstream sees it, closes, and so does the proxy.
    c.shutdown();
    sim.run_with(&mut [&mut up]);
    assert!(c.closed(), "closed after the upstream closed");
    assert_eq!(sim.stat("WebSocket tunnels open"), 0);
    // An idle tunnel ends after client_ws_timeout.
    let d = sim.client(PORT, CLIENT).expect("connects");
    d.send(&req("GET", "/ws2", upgrade));
    sim.run_with(&mut [&mut up]);
    assert_eq!(sim.stat("WebSocket tunnels open"), 1);
    sim.advance(2000, &mut [&mut up]);
    assert!(!d.closed());
    sim.advance(2000, &mut [&mut up]);
    assert!(d.closed(), "idle past client_ws_timeout");
    assert_eq!(sim.stat("WebSocket tunnels open"), 0);
    finish(sim);
}

/// A reload replaces the pools and keeps the clients: a keep-alive client's next request
/// goes to the new server, one in flight is answered by the old, and the old pool's
/// connections close once idle.
#[test]
fn reload_keeps_clients() {
    let mut a = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| (r.target != "/slow").then(|| ok(b"a"))),
    );
    let mut b = Server::echo("127.0.0.1:8102", "b");
    let mut sim = Sim::start("listen 8090;\nserver 127.0.0.1:8101 conns_n=2;\n").expect("starts");
    let c = sim.client(PORT, CLIENT).expect("connects");
    c.send(&get("/before"));
    let r = responses(&c.read_all(&mut sim, &mut [&mut a, &mut b]), &[], false);
    assert_eq!(r[0].body, b"a");
    let slow = sim.client(PORT, CLIENT).expect("connects");
    slow.send(&get("/slow"));
    sim.run_with(&mut [&mut a, &mut b]);
    sim.reload("listen 8090;\nserver 127.0.0.1:8102 conns_n=2;\n")
        .expect("reloads");
    sim.run_with(&mut [&mut a, &mut b]);
    c.send(&get("/after"));
    let r = responses(&c.read_all(&mut sim, &mut [&mut a, &mut b]), &[], false);
    assert_eq!(r[0].body, b"b /after", "the new pool");
    assert!(!c.closed(), "the client's connection survived the reload");
    let i = a.requests.len() - 1;
    a.answer(i, &ok(b"slow a"));
    let r = responses(&slow.read_all(&mut sim, &mut [&mut a, &mut b]), &[], false);
    assert_eq!(
        r[0].body, b"slow a",
        "answered by the old pool's connection"
    );
    sim.run_with(&mut [&mut a, &mut b]);
    assert_eq!(a.open_connections(), 0, "the old pool closed");
    let servers: Vec<String> = crate::host::sys::GLUE.with(|g| {
        g.borrow()
            .servers
            .iter()
            .map(|(_, addr, _)| addr.clone())
            .collect()
    });
    assert!(servers.iter().any(|s| s == "127.0.0.1:8102"), "{servers:?}");
    finish(sim);
}

/// Requests waiting for a connection are bounded by `server_queue_size`: the next one gets
/// 503 at once; the queued ones are served in order when the connection frees.
#[test]
fn queue_full_gets_503() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| (r.target != "/hold").then(|| ok(r.target.as_bytes()))),
    );
    let cfg =
        "listen 8090;\nsrv_group g { server 127.0.0.1:8101 conns_n=1; server_queue_size 2; }\n\
               vhost v { proxy_pass g; }\nhttp_chain { -> v; }\n";
    let mut sim = Sim::start(cfg).expect("starts");
    let post = |path: &str| {
        let mut r = req("POST", path, "Content-Length: 1\r\n");
        r.push(b'x');
        r
    };
    let first = sim.client(PORT, CLIENT).expect("connects");
    first.send(&post("/hold"));
    sim.run_with(&mut [&mut up]);
    let rest: Vec<_> = (0..4)
        .map(|_| sim.client(PORT, CLIENT).expect("connects"))
        .collect();
    for (k, c) in rest.iter().enumerate() {
        c.send(&post(&format!("/q{k}")));
        sim.run_with(&mut [&mut up]);
    }
    for c in &rest[2..] {
        let r = responses(&c.recv(), &[], c.closed());
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].status, 503, "beyond server_queue_size");
    }
    assert!(rest[..2].iter().all(|c| c.recv().is_empty()), "queued");
    up.answer(0, &ok(b"held"));
    for (k, c) in rest[..2].iter().enumerate() {
        let r = responses(&c.read_all(&mut sim, &mut [&mut up]), &[], false);
        assert_eq!(r[0].body, format!("/q{k}").as_bytes());
    }
    assert_eq!(sim.stat("Errors 503 (queue full)"), 2);
    finish(sim);
}

/// An upstream that answers an HTTP/1.0 request with chunked coding anyway (the proxy asks
/// with HTTP/1.0): the client gets the data without the framing, delimited by the close;
/// an HTTP/1.1 client gets the chunks as they are.
#[test]
fn chunked_response_to_http10_client_is_decoded() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| {
            let mut b =
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n".to_vec();
            for _ in 0..50 {
                b.extend_from_slice(b"400;e=1\r\n");
                b.extend_from_slice(&body(1024));
                b.extend_from_slice(b"\r\n");
            }
            b.extend_from_slice(
                format!("{:x}\r\n{}\r\n0\r\nX: y\r\n\r\n", r.target.len(), r.target).as_bytes(),
            );
            Some(b)
        }),
    );
    let mut sim = Sim::start(BASIC).expect("starts");
    let mut want = body(1024).repeat(50);
    want.extend_from_slice(b"/h10");
    for keep in ["", "Connection: keep-alive\r\n"] {
        let c = sim.client(PORT, CLIENT).expect("connects");
        c.send(format!("GET /h10 HTTP/1.0\r\n{keep}\r\n").as_bytes());
        let got = c.read_all(&mut sim, &mut [&mut up]);
        assert!(c.closed(), "the close ends the body");
        let end = got
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head")
            + 4;
        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
        assert!(
            head.starts_with("http/1.1 200 ") && head.contains("connection: close"),
            "{head}"
        );
        assert!(
            !head.contains("transfer-encoding") && !head.contains("trailer"),
            "{head}"
        );
        assert!(got[end..] == want[..], "{keep}: the body, decoded");
    }
    let (r, closed) = exchange(&mut sim, &mut [&mut up], &get("/h11"), &[]);
    assert!(!closed && r[0].header("transfer-encoding") == Some("chunked"));
    assert_eq!(r[0].body.len(), 50 * 1024 + 4);
    finish(sim);
}

/// A malformed request pipelined behind one the proxy answered (forwarded, or a hit) gets
/// its 400 after that response, not a bare close.
#[test]
fn pipelined_malformed_request_gets_400() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|r| {
            Some(
                format!(
                    "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: {}\r\n\r\n{}",
                    r.target.len(),
                    r.target
                )
                .into_bytes(),
            )
        }),
    );
    let cfg = "listen 8090;\nserver 127.0.0.1:8101 conns_n=1;\ncache 2;\ncache_fulfill * *;\n";
    let mut sim = Sim::start(cfg).expect("starts");
    let bad = b"GET /b HTTP/1.1\r\nHost: example.com:8090\r\nIf-Modified-Since: a\r\nIf-Modified-Since: b\r\n\r\n";
    // Forwarded, then a hit of the same URI.
    for round in ["forwarded", "hit"] {
        let mut b = get("/a");
        b.extend_from_slice(bad);
        let (r, closed) = exchange(&mut sim, &mut [&mut up], &b, &[]);
        assert_eq!(r.len(), 2, "{round}");
        assert_eq!(
            (r[0].status, r[1].status, closed),
            (200, 400, true),
            "{round}"
        );
        assert_eq!(r[0].body, b"/a");
    }
    assert_eq!(up.requests.len(), 1);
    finish(sim);
}

/// An upstream that stops sending in the middle of a response while the client keeps up:
/// after `server_forward_timeout` the client is reset (the response cannot be finished) and
/// the upstream connection dropped.
#[test]
fn stalled_upstream_response_is_cut() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|_| Some(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc".to_vec())),
    );
    let cfg = "listen 8090;\nserver 127.0.0.1:8101 conns_n=1;\nserver_forward_timeout 2;\n";
    let mut sim = Sim::start(cfg).expect("starts");
    let c = sim.client(PORT, CLIENT).expect("connects");
    c.send(&get("/stall"));
    sim.run_with(&mut [&mut up]);
    sim.advance(1500, &mut [&mut up]);
    assert!(!c.closed(), "not before the timeout");
    sim.advance(2000, &mut [&mut up]);
    assert!(c.was_reset(), "cut after it");
    assert_eq!(
        sim.stat("Server responses stalled"),
        1,
        "{}",
        sim.perfstat()
    );
    finish(sim);
}

/// After an interim response the final one may still be the proxy's: an upstream that
/// breaks after its 100 Continue gives the client a 502, not a bare close.
#[test]
fn failure_after_interim_response_gets_502() {
    let mut up = Server::new(
        "127.0.0.1:8101",
        Box::new(|_| Some(b"HTTP/1.1 100 Continue\r\n\r\nnot a status line\r\n\r\n".to_vec())),
    );
    let mut sim = Sim::start(BASIC).expect("starts");
    let mut r = req("POST", "/p", "Content-Length: 3\r\n");
    r.extend_from_slice(b"abc");
    let (resp, closed) = exchange(&mut sim, &mut [&mut up], &r, &[]);
    let codes: Vec<u16> = resp.iter().map(|r| r.status).collect();
    assert_eq!((codes, closed), (vec![100, 502], true));
    finish(sim);
}
