"""The web cache: RFC 9111 rules against an upstream that counts its requests (a hit must not
reach it), PURGE, cache_ttl, reload with entries, eviction under cache_size, a 64 MiB object,
concurrent clients on one cold key, rmmod with a full cache."""
import http.client
import re
import socket
import threading
import time
import urllib.parse

from test_proxy import PORT, perfstat, proxy, raw, recv_all, request, upstream
from tfw import rmmod, start, stop, write_cfg
from vmtest import expect, test

UP = 8101
BASE = f"server 127.0.0.1:{UP} conns_n=4;\n"


def count(path, port=UP):
    """How many times the upstream (on `port`) was asked for `path` (asked directly, not
    counted)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request("GET", "/_count?p=" + urllib.parse.quote(path, safe=""))
        return int(c.getresponse().read())
    finally:
        c.close()


def stat(name):
    m = re.search(rf"^{re.escape(name)}\s*: (\d+)$", perfstat(), re.M)
    return int(m.group(1)) if m else None


def get(path, headers=None, method="GET", body=None):
    r, data = request(method, path, body=body, headers=headers)
    return r, data


def seen(data):
    """The upstream's request count written at the start of a /c/ body."""
    m = re.match(rb"count=(\d+);", data)
    return int(m.group(1)) if m else None


def twice(path, headers=None):
    """GETs `path` twice; returns the upstream's count for it afterwards."""
    for _ in range(2):
        r, _ = get(path, headers)
        expect(r.status == 200, f"{path}: {r.status}")
    return count(path)


def raw_from(src, data, timeout=20):
    """Sends `data` from address `src`, returns everything received until close."""
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", PORT))
    try:
        s.sendall(data)
        out = b""
        while b"\r\n\r\n" not in out:
            d = s.recv(65536)
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


@test
def cache_rfc_behaviour():
    upstream(UP)
    # Rules match in order, the first wins (Tempesta's semantics).
    proxy(BASE + "cache 2;\ncache_bypass prefix /c/bypass;\ncache_fulfill * *;\n"
          "cache_methods GET HEAD;\n")
    p = "/c/a?cc=max-age=60&etag=e1&n=3000"
    r1, d1 = get(p)
    r2, d2 = get(p)
    expect(r1.status == r2.status == 200 and seen(d1) == 1, f"{r1.status} {r2.status} {d1[:30]}")
    expect(d2 == d1 and len(d2) == 3000, f"a hit differs: {d2[:40]!r} ({len(d2)} bytes)")
    expect(count(p) == 1, f"the hit reached the upstream: {count(p)}")
    age = r2.getheader("Age")
    expect(age is not None and int(age) >= 0, f"no Age on a hit: {r2.getheaders()}")
    expect(r2.getheader("Via", "").startswith("1.1 "), "no Via on a hit")
    expect(r2.getheader("ETag") == '"e1"', f"ETag: {r2.getheader('ETag')}")
    # HEAD from the GET entry; 304 on a matching If-None-Match; 200 on another.
    r, d = get(p, method="HEAD")
    expect(r.status == 200 and d == b"" and r.getheader("Content-Length") == "3000",
           f"HEAD: {r.status} {r.getheaders()}")
    r, d = get(p, {"If-None-Match": '"e1"'})
    expect(r.status == 304 and d == b"", f"If-None-Match: {r.status}")
    expect(r.getheader("ETag") == '"e1"' and r.getheader("Age") is not None, f"304: {r.getheaders()}")
    r, d = get(p, {"If-None-Match": '"zz"'})
    expect(r.status == 200 and d == d1, f"If-None-Match mismatch: {r.status}")
    expect(count(p) == 1, f"HEAD/conditional hits reached the upstream: {count(p)}")
    # Pipelined hits, with no half-close: each is answered in order without waiting for more
    # input (the last asks to close, so the proxy closes after it).
    one = f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n\r\n".encode()
    last = f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nConnection: close\r\n\r\n"
    out = raw(one * 5 + last.encode(), timeout=10, shut=False)
    expect(out.count(b"HTTP/1.1 200 ") == 6 and out.count(d1) == 6,
           f"pipelined hits: {out.count(b'HTTP/1.1 200 ')} of 6 answered")
    expect(count(p) == 1, f"pipelined hits reached the upstream: {count(p)}")
    # HTTP/1.0 client gets the hit and a close.
    s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    s.sendall(f"GET {p} HTTP/1.0\r\nHost: 127.0.0.1:{PORT}\r\n\r\n".encode())
    out = recv_all(s)
    s.close()
    expect(out.startswith(b"HTTP/1.1 200") and out.endswith(d1), f"HTTP/1.0 hit: {out[:200]!r}")
    expect(count(p) == 1, "the HTTP/1.0 hit reached the upstream")
    # Request no-cache and max-age=0 make the cache revalidate with the upstream (the ETag
    # matches: a 304, and the stored response is sent).
    r, d = get(p, {"Cache-Control": "no-cache"})
    expect(r.status == 200 and seen(d) == 1 and count(p) == 2,
           f"no-cache was not revalidated: {d[:20]!r} upstream {count(p)}")
    time.sleep(1.2)  # an age of 0 s is within max-age=0 (RFC 9111 section 5.2.1.1)
    r, d = get(p, {"Cache-Control": "max-age=0"})
    expect(r.status == 200 and seen(d) == 1 and count(p) == 3,
           f"max-age=0 was not revalidated: {d[:20]!r} upstream {count(p)}")
    r, d = get(p)
    expect(seen(d) == 1 and count(p) == 3, f"the revalidated entry: {d[:20]!r} {count(p)}")
    # Without a validator the response is fetched again and replaces the entry.
    q = "/c/nov?cc=max-age=60"
    get(q)
    r, d = get(q, {"Cache-Control": "no-cache"})
    expect(seen(d) == 2, f"no-cache without a validator: {d[:20]!r}")
    r, d = get(q)
    expect(seen(d) == 2 and count(q) == 2, f"the replaced entry: {d[:20]!r} {count(q)}")
    # Not stored: no-store, private, Set-Cookie, Authorization without public.
    for q in ("cc=no-store", "cc=private", "cc=max-age=60&sc=1"):
        expect(twice(f"/c/ns?{q}") == 2, f"{q} was stored")
    auth = {"Authorization": "Basic dTpw"}
    expect(twice("/c/auth?cc=max-age=60", auth) == 2, "a response to Authorization was stored")
    expect(twice("/c/auth?cc=max-age=60,public", auth) == 1, "public did not allow storing")
    # CDN-Cache-Control (RFC 9213) replaces Cache-Control and Expires for this cache, and is
    # passed on; an invalid one (a string where max-age needs an integer) is ignored.
    cdn = "/c/cdn?cc=no-store&cdn=max-age=60"
    expect(twice(cdn) == 1, "CDN-Cache-Control: max-age did not override no-store")
    r, _ = get(cdn)
    expect(r.getheader("CDN-Cache-Control") == "max-age=60" and r.getheader("Age") is not None,
           f"CDN-Cache-Control hit: {r.getheaders()}")
    expect(twice("/c/cdn?cc=max-age=60&exp=60&cdn=no-store") == 2,
           "CDN-Cache-Control: no-store was stored")
    expect(twice("/c/cdn?cc=no-store&cdn=max-age=%2260%22") == 2,
           "an invalid CDN-Cache-Control was used")
    # Freshness: Expires - Date, an Expires in the past, nothing (cache_ttl 0), max-age=1.
    expect(twice("/c/exp?exp=60") == 1, "Expires in a minute was not used")
    expect(twice("/c/exp?exp=-10") == 2, "an expired response was served")
    expect(twice("/c/nofresh") == 2, "a response without freshness was served (cache_ttl 0)")
    # max-age=2: the refetched entry must still be fresh for the next request although Date
    # has one-second granularity (its age can read 1 at once).
    get("/c/short?cc=max-age=2")
    time.sleep(3.5)
    expect(twice("/c/short?cc=max-age=2") == 2, "a stale entry was served")
    # A stale entry with an ETag is revalidated: the upstream answers 304 and the client gets
    # the stored response, whose freshness the 304 renews (to a minute).
    rv = "/c/rv?cc=max-age=1&etag=r1&cc304=max-age=60"
    r, d = get(rv)
    expect(seen(d) == 1, f"{d[:20]!r}")
    time.sleep(2.2)
    r, d = get(rv)
    expect(r.status == 200 and seen(d) == 1 and count(rv) == 2,
           f"revalidation: {r.status} {d[:20]!r} upstream {count(rv)}")
    # The stored fields are updated by the 304's (RFC 9111 section 3.2).
    expect(r.getheader("Cache-Control") == "max-age=60",
           f"revalidated hit: Cache-Control {r.getheader('Cache-Control')}")
    r, d = get(rv)
    expect(seen(d) == 1 and count(rv) == 2, "the renewed entry was not fresh")
    expect(r.getheader("Cache-Control") == "max-age=60" and r.getheader("ETag") == '"r1"',
           f"hit after a 304: {r.getheaders()}")
    expect(stat("Cache objects revalidated") == 3, perfstat())
    # A 304 naming another representation does not renew the entry, and the client, which
    # sent no condition, must not get that 304: 502.
    bad = "/c/rvbad?cc=max-age=1&etag=b1&etag304=other"
    get(bad)
    time.sleep(2.2)
    r, d = get(bad)
    expect(r.status == 502 and count(bad) == 2, f"304 for another ETag: {r.status} {d[:40]!r}")
    r, d = get(bad)  # the entry was dropped: fetched unconditionally
    expect(r.status == 200 and seen(d) == 3, f"after the 502: {r.status} {d[:40]!r}")
    # cache_bypass.
    expect(twice("/c/bypass/x?cc=max-age=60") == 2, "cache_bypass prefix was cached")
    # Vary: one entry per Accept-Encoding, never the wrong one.
    v = "/c/v?cc=max-age=60&vary=Accept-Encoding"
    for enc in ("gzip", "br", "gzip", "br", "gzip"):
        r, d = get(v, {"Accept-Encoding": enc})
        expect(d.endswith(b";varied=" + enc.encode()), f"{enc} got {d!r}")
    expect(count(v) == 2, f"Vary: {count(v)} upstream requests for 2 variants")
    # Unsafe methods invalidate.
    r, _ = get(p, method="PUT", body=b"x")
    expect(r.status == 200, f"PUT: {r.status}")
    r, d = get(p)
    expect(seen(d) == 5, f"PUT did not invalidate: {d[:20]!r}")  # PUT was 4
    # A chunked response is stored and replayed with Content-Length.
    ch = "/c/ch?cc=max-age=60&chunked=1&n=20000"
    r1, d1 = get(ch)
    r2, d2 = get(ch)
    expect(len(d1) == 20000 and d2 == d1, f"chunked: {len(d1)} {len(d2)}")
    expect(r2.getheader("Content-Length") == "20000", f"replay: {r2.getheaders()}")
    expect(count(ch) == 1, "the chunked hit reached the upstream")
    # The upstream answers an HTTP/1.0 client's request chunked anyway: the client gets the
    # data decoded, delimited by the close (RFC 9112 section 6.1), not stored here.
    s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    s.sendall(b"GET /c/ch10?cc=no-store&chunked=1&n=20000 HTTP/1.0\r\n\r\n")
    out = recv_all(s)
    s.close()
    head, _, data = out.partition(b"\r\n\r\n")
    expect(head.startswith(b"HTTP/1.1 200") and b"transfer-encoding" not in head.lower()
           and len(data) == 20000 and seen(data) == 1, f"HTTP/1.0 chunked: {head!r} {len(data)}")
    # only-if-cached with nothing stored: 504, nothing forwarded.
    r, _ = get("/c/cold", {"Cache-Control": "only-if-cached"})
    expect(r.status == 504 and count("/c/cold") == 0, f"only-if-cached: {r.status}")
    hits = stat("Cache hits")
    expect(hits is not None and hits >= 10, f"perfstat:\n{perfstat()}")
    expect(stat("Cache objects") >= 5 and stat("Cache bytes") > 20000, perfstat())
    expect(stat("Client messages served from cache") >= hits, perfstat())


@test
def cache_purge_ttl_reload_and_rmmod():
    upstream(UP)
    cfg = BASE + "cache_fulfill * *;\ncache_ttl 30;\ncache_purge immediate;\n" \
                 "cache_purge_acl 127.0.0.1;\n"
    proxy(cfg)
    t = "/c/t"
    expect(twice(t) == 1, "cache_ttl 30 did not make the response fresh")
    purge = f"PURGE {t} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n\r\n".encode()
    out = raw_from("127.0.0.2", purge)
    expect(out.startswith(b"HTTP/1.1 403"), f"PURGE outside the ACL: {out[:60]!r}")
    expect(twice(t) == 1, "a refused PURGE removed the entry")
    out = raw_from("127.0.0.1", purge)
    expect(out.startswith(b"HTTP/1.1 200"), f"PURGE: {out[:60]!r}")
    expect(count(t) == 1, "PURGE reached the upstream")
    expect(twice(t) == 2, "PURGE did not remove the entry")
    # Reload with the cache on: entries stay.
    write_cfg(f"listen {PORT};\n" + cfg + "cache_size 64M;\n")
    start()
    expect(twice(t) == 2, "the reload dropped the entries")
    # Off: everything goes to the upstream; on again: a cold store.
    write_cfg(f"listen {PORT};\n" + cfg.replace("cache_fulfill", "cache 0;\ncache_fulfill"))
    start()
    expect(twice(t) == 4, "cache 0 still answered from the cache")
    write_cfg(f"listen {PORT};\n" + cfg)
    start()
    for i in range(50):
        get(f"/c/full/{i}?n=10000")
    expect(stat("Cache objects") >= 50, perfstat())
    # rmmod with a full cache (the last test checks kmemleak).
    stop()
    rmmod()


@test
def cache_use_stale():
    """A stale entry answers instead of an upstream error when `cache_use_stale` lists the
    status (the upstream's, or the proxy's 502/504), or within the entry's `stale-if-error`;
    never for must-revalidate, never for a status outside the list."""
    up = upstream(UP)
    cfg = BASE + "cache_fulfill * *;\nserver_forward_timeout 2;\nserver_forward_retries 1;\n"
    proxy(cfg + "cache_use_stale 5* 403;\n")
    cases = [  # path, status the client gets once the entry is stale, from the entry?
        ("/c/us/503?cc=max-age=1&n=5000&then=503", 200, True),
        ("/c/us/403?cc=max-age=1&then=403", 200, True),
        ("/c/us/etag?cc=max-age=1&etag=e&then=503", 200, True),  # revalidation fails
        ("/c/us/close?cc=max-age=1&then=close", 200, True),  # the proxy's 502
        ("/c/us/hang?cc=max-age=1&then=hang", 200, True),  # the proxy's 504
        ("/c/us/404?cc=max-age=1&then=404", 404, False),  # not listed
        ("/c/us/mr?cc=max-age=1,must-revalidate&then=503", 503, False),
    ]
    # Without cache_use_stale (after a reload that keeps the entries): stale-if-error only.
    later = [
        ("/c/us/sie?cc=max-age=1,stale-if-error=60&then=500", 200, True),
        ("/c/us/plain?cc=max-age=1&then=500", 500, False),
    ]
    for path, _, _ in cases + later:
        r, d = get(path)
        expect(r.status == 200 and seen(d) == 1, f"{path}: {r.status} {d[:40]!r}")
    time.sleep(2.2)
    before = stat("Cache stale responses served")

    def check(path, status, stale):
        r, d = get(path)
        expect(r.status == status, f"{path}: {r.status}, want {status}")
        if stale:
            expect(seen(d) == 1, f"{path}: not the stored body: {d[:40]!r}")
            expect(int(r.getheader("Age", "0")) >= 2, f"{path}: Age {r.getheader('Age')}")
        else:
            expect(d.startswith(b"error;"), f"{path}: not the upstream's error: {d[:40]!r}")
        expect(count(path) >= 2, f"{path}: the upstream was not asked")

    for path, status, stale in cases:
        check(path, status, stale)
    served = sum(1 for _, _, s in cases if s)
    expect(stat("Cache stale responses served") == before + served, perfstat())
    # A keep-alive connection goes on after a stale answer to an upstream error.
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
    for _ in range(3):
        c.request("GET", cases[0][0])
        r = c.getresponse()
        d = r.read()
        expect(r.status == 200 and seen(d) == 1, f"keep-alive: {r.status} {d[:40]!r}")
    c.close()
    write_cfg(f"listen {PORT};\n" + cfg)
    start()
    for path, status, stale in later:
        check(path, status, stale)
    # The upstream down: a new request is refused at its head (no connection can be made),
    # and the proxy's 502 is replaced by the stale entry.
    up.kill()
    up.wait()
    time.sleep(1.5)
    r, d = get(later[0][0])
    expect(r.status == 200 and seen(d) == 1, f"upstream down: {r.status} {d[:40]!r}")
    r, d = get(later[1][0])
    expect(r.status in (502, 504), f"upstream down, no stale-if-error: {r.status}")


@test
def cache_eviction_bounded():
    upstream(UP)
    # Through HTTP tables with the cache actions, to a vhost.
    proxy(f"srv_group app {{ server 127.0.0.1:{UP} conns_n=4; }}\nvhost app {{ proxy_pass app; }}\n"
          "http_chain {\n uri == \"/c/off*\" -> cache_disable;\n"
          " uri == \"/c/ttl*\" -> cache_ttl = 30;\n -> app;\n}\n"
          "cache_fulfill * *;\ncache_size 1M;\n")
    expect(twice("/c/off?cc=max-age=60") == 2, "cache_disable: the response was stored")
    expect(twice("/c/ttl") == 1, "cache_ttl = 30: the response was not fresh")
    expect(twice("/c/plain") == 2, "without cache_ttl the response was fresh")
    n = 160  # 10 MiB of distinct 64 KiB objects through a 1 MiB store
    for i in range(n):
        r, d = get(f"/c/e/{i}?cc=max-age=60&n=65536")
        expect(r.status == 200 and len(d) == 65536, f"object {i}: {r.status} {len(d)}")
        b = stat("Cache bytes")
        expect(b <= 1 << 20, f"Cache bytes {b} above cache_size after {i}")
    expect(stat("Cache objects evicted") >= n - 16, perfstat())
    expect(twice(f"/c/e/{n - 1}?cc=max-age=60&n=65536") == 1, "the newest object was evicted")
    expect(twice("/c/e/0?cc=max-age=60&n=65536") == 2, "the oldest object was kept")


@test
def cache_large_object_and_concurrent_cold_key():
    upstream(UP)
    proxy(BASE + "cache_fulfill * *;\ncache_size 160M;\n")
    big = "/c/big?cc=max-age=600&n=67108864"
    r1, d1 = get(big)
    expect(r1.status == 200 and len(d1) == 1 << 26, f"64 MiB: {r1.status} {len(d1)}")
    r2, d2 = get(big)
    expect(d2 == d1, "the 64 MiB hit differs")
    expect(count(big) == 1, "the 64 MiB hit reached the upstream")
    del d1, d2
    # 16 clients at once on one cold key (the upstream takes 2 s to answer): one request goes
    # upstream, and every client gets the whole response.
    cold = "/c/cold-key?cc=max-age=60&n=100000&sleep=2"
    results = []

    def one():
        try:
            r, d = get(cold)
            results.append((r.status, len(d)))
        except Exception as e:  # noqa: BLE001 - reported below
            results.append(("error", repr(e)))

    threads = [threading.Thread(target=one) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    expect(results == [(200, 100000)] * 16, f"concurrent cold key: {results}")
    n = count(cold)
    print(f"  16 concurrent misses on one key: {n} upstream request(s)")
    expect(n == 1, f"{n} upstream requests for one cold key: not collapsed")
    expect(twice(cold) == 1, "the cold key was not stored")
    expect(stat("Client messages served from cache") >= 17, perfstat())
    # Not cacheable: the waiting requests are forwarded after the first one's response.
    results.clear()
    nc = "/c/nc-key?cc=no-store&n=5000&sleep=1"
    threads = [threading.Thread(target=lambda: results.append(get(nc)[1])) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    expect(len(results) == 6 and all(len(d) == 5000 for d in results), f"{len(results)}")
    expect(sorted(seen(d) for d in results) == list(range(1, 7)), "each got its own response")
