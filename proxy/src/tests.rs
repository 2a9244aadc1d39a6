//! The proxy driven over the simulated network (see [`crate::host`]): the cases of the VM
//! tests of the proxy issue (`tests/test_proxy.py`), without a VM, plus failure timings a VM
//! cannot set up exactly. Each test ends by stopping the proxy and checking that every
//! socket it created or accepted was released.

use crate::host::testkit::{fnv, ok, responses, Response, Server, FNV0};
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
