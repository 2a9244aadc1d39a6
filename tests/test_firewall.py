"""The firewall: Tempesta FW's example configuration (block_action + frang_limits) loads and is
enforced; each implemented frang limit refuses a scripted client and lets a well-behaved one
through; block_action reply and drop; rate-limited logging; counters."""
import http.client
import os
import re
import socket
import threading
import time

from test_proxy import PORT, events, perfstat, proxy, raw, request, upstream, wait_servers_up
from tfw import insmod, start, stop, write_cfg
from vmtest import KernelLog, at_cleanup, expect, test

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "config", "tests", "data", "tempesta_fw.conf")
HOST = {"Host": "example.com"}


def get(path, host="example.com", port=PORT, src=None, extra=b""):
    """One raw GET; returns the response bytes, or the exception's name if the connection was
    reset."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        if src:
            s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path.encode(), host.encode(), extra))
        out = b""
        while b"\r\n\r\n" not in out:
            d = s.recv(65536)
            if not d:
                break
            out += d
        return out
    except (ConnectionResetError, BrokenPipeError) as e:
        return type(e).__name__
    finally:
        s.close()


def first_answer():
    """A GET on a new connection from 127.0.0.1: the first bytes of the answer, b"" if the
    connection was closed or reset without one."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        # The reset may come before connect() returns: the module accepts and aborts at once.
        s.connect(("127.0.0.1", PORT))
        s.sendall(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
        return s.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        return b""
    finally:
        s.close()


def status(resp):
    return int(resp.split(b" ", 2)[1]) if isinstance(resp, bytes) and resp.startswith(b"HTTP/") else resp


@test
def tempesta_example_config_loads_and_filters():
    # Tempesta FW's own example, unchanged: listen 80, block_action error reply / attack drop,
    # frang_limits (rates, concurrent connections, http_methods), srv_group, vhost, http_chain.
    upstream(8080)
    insmod(EXAMPLE)
    start()
    wait_servers_up()
    expect(status(get("/ok", port=80)) == 200, "GET through the example configuration")
    # PATCH is not in its http_methods: attack -> drop: reset, no response.
    s = socket.create_connection(("127.0.0.1", 80), timeout=20)
    s.sendall(b"PATCH /x HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n")
    try:
        got = s.recv(65536)
    except ConnectionResetError:
        got = "reset"
    s.close()
    expect(got in ("reset", b""), f"PATCH was answered: {got!r}")
    expect(status(get("/again", port=80)) == 200, "the client is served after the drop")
    f = perfstat()
    expect(re.search(r"Client messages filtered out\s+: 1$", f, re.M), f)
    expect(re.search(r"Frang refused \(.*method.*\)\s*: 1$", f, re.M | re.I), f)


@test
def request_limits_reply_403():
    upstream(8101)
    proxy("server 127.0.0.1:8101 conns_n=2;\nblock_action attack reply;\n"
          "frang_limits {\n  http_uri_len 30;\n  http_header_cnt 6;\n  http_hdr_len 200;\n"
          "  http_body_len 1000;\n  http_methods get post;\n  http_ct_required;\n"
          "  http_ct_vals text/plain \"application/json\";\n}\n")
    ok = get("/fine")
    expect(status(ok) == 200, f"a well-behaved request: {ok!r}")
    cases = [
        ("long URI", b"GET /" + b"a" * 40 + b" HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        ("headers", b"GET / HTTP/1.1\r\nHost: example.com\r\n"
         + b"".join(b"X-%d: v\r\n" % i for i in range(8)) + b"\r\n"),
        ("header line", b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Long: " + b"v" * 300 + b"\r\n\r\n"),
        ("method", b"PUT / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n"),
        ("no content type", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1\r\n\r\nx"),
        ("Content-Length", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 5000\r\n\r\n"),
        ("content type", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Type: a/b\r\n"
         b"Content-Length: 1\r\n\r\nx"),
        ("chunked body", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n" + (b"100\r\n" + b"x" * 256 + b"\r\n") * 6 + b"0\r\n\r\n"),
        ("IP Host", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        ("absolute URI host", b"GET http://other.example/ HTTP/1.1\r\nHost: example.com\r\n\r\n"),
    ]
    for name, req in cases:
        out = raw(req)
        expect(out.startswith(b"HTTP/1.1 403 "), f"{name}: {out[:80]!r}")
    # Within the limits: a POST with a type and a small chunked body.
    r, _ = request("POST", "/p", body=iter([b"x" * 100]), chunked=True,
                   headers=dict(HOST, **{"Content-Type": "text/plain"}))
    expect(r.status == 200, f"POST within limits: {r.status}")
    out = raw(b"POST /j HTTP/1.1\r\nHost: example.com\r\nContent-Type: Application/JSON; charset=utf-8"
              b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    expect(out.startswith(b"HTTP/1.1 200 "), f"a listed type with parameters: {out[:80]!r}")
    f = perfstat()
    expect(re.search(r"Client messages filtered out\s+: 10$", f, re.M), f)
    expect(re.search(r"Frang refused \(restricted HTTP method\)\s+: 1$", f, re.M), f)


@test
def request_rate_per_client():
    upstream(8101)
    proxy("server 127.0.0.1:8101 conns_n=2;\nblock_action attack reply;\n"
          "frang_limits { request_rate 10; }\n")
    log = KernelLog()
    # 40 pipelined requests from 127.0.0.1: at most 10 a second pass, then 403 and close.
    reqs = b"".join(b"GET /r/%d HTTP/1.1\r\nHost: example.com\r\n\r\n" % i for i in range(40))
    out = raw(reqs, shut=False, timeout=20)
    codes = re.findall(rb"HTTP/1.1 (\d+)", out)
    expect(b"403" in codes, f"no 403 in {codes}")
    expect(1 <= codes.count(b"200") <= 10, f"{codes.count(b'200')} passed, limit 10")
    # Another address is not limited by 127.0.0.1's rate.
    expect(status(get("/other", src="127.0.0.2")) == 200, "127.0.0.2 was refused")
    # A second later 127.0.0.1 is served again.
    time.sleep(1.2)
    expect(status(get("/later")) == 200, "127.0.0.1 after the frame")
    # Logged once per client per second, not once per refusal.
    lines = [l for l in log.new().splitlines() if "frang:" in l]
    expect(1 <= len(lines) <= 2 and "request rate exceeded for 127.0.0.1" in lines[0],
           f"log lines: {lines}")


@test
def concurrent_connections_drop():
    upstream(8101)
    proxy("server 127.0.0.1:8101 conns_n=2;\nfrang_limits { concurrent_tcp_connections 3; }\n")
    held = [socket.create_connection(("127.0.0.1", PORT), timeout=20) for _ in range(3)]
    time.sleep(0.5)
    # The fourth is accepted by TCP, then reset (attack drop, the default).
    got = first_answer()
    expect(got == b"", f"a fourth connection was served: {got[:60]!r}")
    for h in held:
        h.close()
    time.sleep(0.5)
    expect(status(get("/after")) == 200, "served once the connections closed")
    f = perfstat()
    expect(re.search(r"Client connections blocked\s+: 1$", f, re.M), f)


@test
def block_action_error_drop():
    upstream(8101)
    proxy("server 127.0.0.1:8101 conns_n=2;\nblock_action error drop;\n")
    try:
        out = raw(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    except (ConnectionResetError, BrokenPipeError):
        out = b""
    expect(out == b"", f"a malformed request was answered: {out[:80]!r}")
    # Without frang_limits the example's limits do not apply: PUT and an IP Host pass.
    r, _ = request("PUT", "/p", body=b"x")
    expect(r.status == 200, f"PUT without frang_limits: {r.status}")


def trickle(pieces, gap, src=None, wait=6.0):
    """Sends `pieces` on one connection with `gap` seconds between them, then waits up to
    `wait` seconds for the answer. Returns (outcome, seconds from the first piece): outcome is
    the response bytes, b"" if closed without one, "reset" if reset."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", PORT))
    t0 = time.monotonic()
    out = b""
    try:
        for i, p in enumerate(pieces):
            if i:
                time.sleep(gap)
            s.sendall(p)
        s.settimeout(wait)
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
            if b"\r\n\r\n" in out:
                break
    except (ConnectionResetError, BrokenPipeError):
        out = "reset"
    except socket.timeout:
        out = "timeout"
    finally:
        s.close()
    return out, time.monotonic() - t0


@test
def slowloris_and_slow_body_closed():
    upstream(8101)
    proxy("server 127.0.0.1:8101 conns_n=2;\n"
          "frang_limits {\n  client_header_timeout 2;\n  client_body_timeout 2;\n}\n")
    log = KernelLog()
    # Slowloris: a header line every 0.5 s, never ending the head. Closed (attack drop: reset)
    # about 2 s in, long before the 12 s it would take; a normal client is served meanwhile.
    head = [b"GET /slow HTTP/1.1\r\nHost: example.com\r\n"] + [b"X-%d: a\r\n" % i for i in range(24)]
    out, took = trickle(head, 0.5, wait=6)
    expect(out in ("reset", b""), f"slowloris was answered: {out!r}")
    expect(took < 6, f"slowloris held its connection {took:.1f}s")
    expect(status(get("/fast")) == 200, "a normal client next to the slowloris")
    # The same head, complete within the timeout: served.
    out, _ = trickle([b"GET /ok HTTP/1.1\r\n", b"Host: example.com\r\n", b"\r\n"], 0.3)
    expect(isinstance(out, bytes) and out.startswith(b"HTTP/1.1 200"), f"a head in 0.6 s: {out!r}")
    # A body that stops: 5 of 10 bytes, then nothing. Closed at about 2 s without a response.
    out, took = trickle([b"POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\n\r\nabcde"],
                        0, wait=8)
    expect(out in ("reset", b""), f"a stalled body was answered: {out!r}")
    expect(took < 6, f"a stalled body held its connection {took:.1f}s")
    # A body in pieces 1 s apart (each gap under the timeout; 4 s in all): served.
    out, _ = trickle([b"POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4\r\n\r\n",
                      b"a", b"b", b"c", b"d"], 1.0)
    expect(isinstance(out, bytes) and out.startswith(b"HTTP/1.1 200"), f"a slow body: {out!r}")
    f = perfstat()
    expect(re.search(r"Frang refused \(client header timeout\)\s*: 1$", f, re.M), f)
    expect(re.search(r"Frang refused \(client body timeout\)\s*: 1$", f, re.M), f)
    lines = [l for l in log.new().splitlines() if "frang:" in l]
    expect(any("client header timeout exceeded" in l for l in lines), f"log: {lines}")


@test
def chunk_counts():
    upstream(8101)
    proxy("server 127.0.0.1:8101 conns_n=2;\nblock_action attack reply;\n"
          "frang_limits {\n  http_header_chunk_cnt 3;\n  http_body_chunk_cnt 3;\n}\n")
    # A head in 6 pieces (each a separate read, 0.2 s apart): refused with 403.
    pieces = [b"GET /c HTTP/1.1\r\n", b"Host: ", b"example.com\r\n", b"X-A: 1\r\n", b"X-B: 2\r\n", b"\r\n"]
    out, _ = trickle(pieces, 0.2)
    expect(isinstance(out, bytes) and out.startswith(b"HTTP/1.1 403"), f"6-piece head: {out!r}")
    # In 2 pieces: served.
    out, _ = trickle([b"GET /c HTTP/1.1\r\nHost: ex", b"ample.com\r\n\r\n"], 0.2)
    expect(isinstance(out, bytes) and out.startswith(b"HTTP/1.1 200"), f"2-piece head: {out!r}")
    # A body in 6 pieces: refused; in 2: served.
    h = b"POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 6\r\n\r\n"
    out, _ = trickle([h] + [b"x"] * 6, 0.2)
    expect(isinstance(out, bytes) and out.startswith(b"HTTP/1.1 403"), f"6-piece body: {out!r}")
    out, _ = trickle([h + b"xxx", b"xxx"], 0.2)
    expect(isinstance(out, bytes) and out.startswith(b"HTTP/1.1 200"), f"2-piece body: {out!r}")
    f = perfstat()
    expect(re.search(r"Frang refused \(HTTP header chunk count\)\s*: 1$", f, re.M), f)
    expect(re.search(r"Frang refused \(HTTP body chunk count\)\s*: 1$", f, re.M), f)


def syn_gets_through(src, timeout=1.5):
    """Whether a TCP connection from `src` is established within `timeout` seconds."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", PORT))
        return True
    except (socket.timeout, ConnectionRefusedError, OSError):
        return False
    finally:
        s.close()


@test
def ip_block_drops_at_netfilter_and_expires():
    upstream(8101)
    proxy("server 127.0.0.1:8101 conns_n=2;\nblock_action attack drop;\n"
          "frang_limits {\n  request_rate 5;\n  ip_block 4;\n}\n")
    log = KernelLog()
    expect(syn_gets_through("127.0.0.3"), "127.0.0.3 before any block")
    # 20 pipelined requests from 127.0.0.3 exceed the rate: reset, and the address is blocked.
    reqs = b"".join(b"GET /r/%d HTTP/1.1\r\nHost: example.com\r\n\r\n" % i for i in range(20))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.3", 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", PORT))
    s.sendall(reqs)
    try:
        while s.recv(65536):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    # Its SYNs are now dropped before TCP: the client sees a connect timeout, not a reset.
    t = time.monotonic()
    expect(not syn_gets_through("127.0.0.3"), "127.0.0.3 connected while blocked")
    expect(time.monotonic() - t >= 1.4, "the blocked SYN was answered rather than dropped")
    # Other addresses are served meanwhile.
    expect(status(get("/other")) == 200, "127.0.0.1 while 127.0.0.3 is blocked")
    expect(status(get("/other2", src="127.0.0.4")) == 200, "127.0.0.4 while 127.0.0.3 is blocked")
    f = perfstat()
    expect(re.search(r"Frang addresses blocked\s+: 1$", f, re.M), f)
    m = re.search(r"Frang packets dropped\s+: (\d+)$", f, re.M)
    expect(m and int(m.group(1)) >= 1, f)
    lines = [l for l in log.new().splitlines() if "frang:" in l]
    expect(any("127.0.0.3, address blocked" in l for l in lines), f"log: {lines}")
    # The block expires after its 4 s: served again.
    time.sleep(4.5)
    expect(status(get("/later", src="127.0.0.3")) == 200, "127.0.0.3 after the block expired")


@test
def ip_block_until_restart():
    upstream(8101)
    conf = ("server 127.0.0.1:8101 conns_n=2;\nblock_action attack drop;\n"
            "frang_limits {\n  http_uri_len 10;\n  ip_block 0;\n}\n")
    proxy(conf)
    expect(get("/" + "u" * 20, src="127.0.0.5") in (b"", "ConnectionResetError"), "a long URI was served")
    time.sleep(1)
    expect(not syn_gets_through("127.0.0.5"), "127.0.0.5 connected while blocked")
    # A restart forgets the blocks (Tempesta: 0 = until restart).
    stop()
    start()
    wait_servers_up()
    expect(status(get("/x", src="127.0.0.5")) == 200, "127.0.0.5 after a restart")


@test
def client_table_bounded_over_10000_addresses():
    # 10,000 client addresses (127.1.0.0/16 on the loopback) against a table of 4,096 clients
    # (Tempesta's client_lru_size; the module parameter frang_clients is overridden): the
    # table stays within its bound by evicting idle clients, never live ones, and a new
    # client is still accounted and served.
    upstream(8101)
    # (keepalive_timeout: the held connections idle through the flood.)
    proxy("server 127.0.0.1:8101 conns_n=2;\nkeepalive_timeout 900;\nclient_lru_size 4096;\n"
          "frang_limits { concurrent_tcp_connections 2; }\n", params="frang_clients=65536")
    # A live client: its connections must keep it in the table through the flood.
    held = [socket.create_connection(("127.0.0.1", PORT), timeout=20) for _ in range(2)]
    t = time.monotonic()
    failed = 0
    for i in range(10000):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.1.%d.%d" % (i // 250, 1 + i % 250), 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", PORT))
        except OSError:
            failed += 1
        finally:
            s.close()
    print(f"  10000 addresses in {time.monotonic() - t:.1f}s, {failed} failed")
    expect(failed == 0, f"{failed} connections failed")
    time.sleep(1)
    f = perfstat()
    m = re.search(r"Frang clients tracked\s+: (\d+)$", f, re.M)
    e = re.search(r"Frang clients evicted\s+: (\d+)$", f, re.M)
    expect(m and 0 < int(m.group(1)) <= 4096, f)
    expect(e and int(e.group(1)) >= 10000 - 4096, f)
    # 127.0.0.1 still holds its 2 connections: a third is over concurrent_tcp_connections,
    # which it could not be had the flood evicted it.
    got = first_answer()
    expect(got == b"", f"a third connection of a live client was served: {got[:60]!r}")
    for h in held:
        h.close()
    expect(status(get("/new", src="127.2.0.1")) == 200, "a new client after 10,000 others")


@test
def resp_code_block_closes_and_blocks():
    # More than 3 responses 403/404 within 10 s: the client's connection closes after the
    # response that exceeds it, and with ip_block its address is then blocked.
    upstream(8101)
    log = KernelLog()
    proxy("server 127.0.0.1:8101 conns_n=2;\nblock_action attack drop;\n"
          "frang_limits { http_resp_code_block 403 404 3 10; ip_block 30; }\n")
    wait_servers_up()
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
    s = socket.socket()
    s.settimeout(20)
    s.bind(("127.0.0.3", 0))
    s.connect(("127.0.0.1", PORT))
    c.sock = s
    got = []
    try:
        for i in range(6):
            c.request("GET", f"/status/{404 if i % 2 else 403}", headers=HOST)
            r = c.getresponse()
            r.read()
            got.append(r.status)
    except (ConnectionError, http.client.HTTPException, OSError):
        got.append("closed")
    c.close()
    expect(got == [403, 404, 403, 404, "closed"], f"statuses: {got}")
    expect(status(get("/status/200", src="127.0.0.4")) == 200, "another address is served")
    expect(not syn_gets_through("127.0.0.3"), "127.0.0.3 is blocked")
    f = perfstat()
    expect(re.search(r"Frang refused \(http_resp_code_block limit\)\s*: 1", f), f)
    lines = [l for l in log.new().splitlines() if "frang:" in l]
    expect(any("http_resp_code_block limit exceeded for 127.0.0.3" in l for l in lines), f"{lines}")


def one_write_upstream(port):
    """An upstream that writes each response in one send(): `GET /big` gets 10000 bytes of
    body, anything else "ok". The whole response reaches the proxy at once, as from a server
    that buffers its output."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    at_cleanup(srv.close)

    def serve(c):
        buf = b""
        with c:
            while True:
                try:
                    d = c.recv(65536)
                except OSError:
                    return
                if not d:
                    return
                buf += d
                while b"\r\n\r\n" in buf:
                    head, _, rest = buf.partition(b"\r\n\r\n")
                    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                    n = int(m.group(1)) if m else 0
                    if len(rest) < n:
                        break
                    buf = rest[n:]
                    body = b"a" * 10000 if head.split(b" ")[1] == b"/big" else b"ok"
                    try:
                        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                                  % (len(body), body))
                    except OSError:
                        return

    def accept():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


@test
def client_mem_limits():
    # Tempesta's client_mem semantics (its test suite's cases): a request or a response that
    # takes the client past the hard limit gets 403 (block_action attack reply) and a close.
    one_write_upstream(8131)
    base = ("server 127.0.0.1:8131 conns_n=2;\nblock_action attack reply;\n"
            "block_action error reply;\n")
    proxy(base + "client_mem 5000 10000;\n")
    log = KernelLog()
    expect(status(get("/small")) == 200, "a small exchange is served")
    post = b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 30000\r\n\r\n" + b"a" * 30000
    out = raw(post, shut=False)
    expect(out.startswith(b"HTTP/1.1 403 "), f"30000-byte request: {out[:80]!r}")
    out = raw(b"GET /big HTTP/1.1\r\nHost: example.com\r\n\r\n", shut=False)
    expect(out.startswith(b"HTTP/1.1 403 ") and b"aaaa" not in out,
           f"10000-byte response: {out[:80]!r}")
    expect(status(get("/small")) == 200, "the client is served after the refusals")
    expect(events("Client memory limit exceeded") >= 2, perfstat())
    expect(any("client_mem: 127.0.0.1 holds more than 10000 bytes" in l
               for l in log.new().splitlines()), log.new())
    # The soft limit only slows a client down: a large upload above it still goes through.
    write_cfg(f"listen {PORT};\n" + base + "client_mem 4000 1M;\n")
    start()
    big = b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 300000\r\n\r\n" + b"b" * 300000
    out = raw(big + b"GET /small HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
              shut=False)
    expect(out.count(b"HTTP/1.1 200 ") == 2, f"upload over the soft limit: {out[:200]!r}")
    # Reconfigured without limits (client_mem 0): the same exchanges pass.
    write_cfg(f"listen {PORT};\n" + base + "client_mem 0;\n")
    start()
    out = raw(b"GET /big HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", shut=False)
    expect(out.startswith(b"HTTP/1.1 200 ") and out.endswith(b"a" * 10000), f"{out[:80]!r}")
    out = raw(post.replace(b"Content-Length", b"Connection: close\r\nContent-Length"),
              shut=False)
    expect(out.startswith(b"HTTP/1.1 200 "), f"{out[:80]!r}")


@test
def request_alphabets_brange():
    # http_*_brange (Tempesta's test-suite cases): a byte outside the operator's alphabet for
    # its part of the request is a malformed request: 400 (block_action error reply), close.
    upstream(8132)
    proxy("server 127.0.0.1:8132 conns_n=2;\n"
          "http_uri_brange 0x2f 0x41-0x5a 0x61-0x7a 0x30-0x39 0x26 0x3f 0x3a 0x2d 0x2e 0x5f 0x3d;\n"
          "http_cookie_brange 0x30-0x39 0x61-0x7a;\n"
          "http_xff_brange 0x30-0x39 0x2e 0x3a 0x61-0x7a;\n"
          "http_etag_brange 0x61-0x7a;\n"
          "http_ctext_vchar_brange 0x20-0x7a;\n")
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    for path in ("/js/prism.min.js", "/a?b=c&d=e"):
        c.request("GET", path, headers={"User-Agent": "Mozilla/5.0 (X11; Linux)",
                                        "X-Forwarded-For": "5.10.50.6, 2001:db8::1",
                                        "Cookie": "ID=qwerty; c2=v2", "If-None-Match": 'W/"abc"'})
        r = c.getresponse()
        r.read()
        expect(r.status == 200, f"{path}: {r.status}")
    c.close()

    def one(target, field=b""):
        return raw(b"GET %s HTTP/1.1\r\nHost: example.com\r\n%s\r\n" % (target, field))

    for target, field, what in (
            (b"/js%a", b"", "a % in the target"),
            (b"/", b"Referer: /a+b\r\n", "a + in Referer"),
            (b"/", b"Cookie: id=QWErty\r\n", "upper case in a cookie value"),
            (b"/", b"X-Forwarded-For: 5,6\r\nX-Forwarded-For: 1_2\r\n", "_ in X-Forwarded-For"),
            (b"/", b'If-None-Match: "asdfQWErty"\r\n', "upper case in an entity tag"),
            (b"/", b"User-Agent: curl {x}\r\n", "{ in another field")):
        out = one(target, field)
        expect(out.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in out, f"{what}: {out[:120]!r}")
    expect(status(one(b"/ok")) == 200, "a plain request after the refusals")


@test
def trailer_split_and_method_override():
    # http_trailer_split_allowed (off by default): a trailer field that repeats a head field is
    # refused before the trailer goes upstream; http_method_override_allowed lets
    # X-HTTP-Method-Override through when http_methods allows the method it names.
    upstream(8134)
    base = "server 127.0.0.1:8134 conns_n=2;\nblock_action attack reply;\n"
    proxy(base + "frang_limits { http_methods get post put; }\n")
    split = (b"POST /t HTTP/1.1\r\nHost: example.com\r\nUser-Agent: a\r\n"
             b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
             b"3\r\nabc\r\n0\r\nUser-Agent: b\r\n\r\n")
    other = split.replace(b"User-Agent: b", b"X-Sum: 1")
    override = (b"POST /o HTTP/1.1\r\nHost: example.com\r\nX-HTTP-Method-Override: PUT\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    expect(status(raw(split, shut=False)) == 403, "a trailer repeating User-Agent")
    expect(status(raw(other, shut=False)) == 200, "a trailer of its own")
    expect(status(raw(override, shut=False)) == 403, "method override, not allowed")
    f = perfstat()
    expect(re.search(r"Frang refused \(HTTP field appears in header and trailer\)\s*: 1$", f,
                     re.M), f)
    write_cfg(f"listen {PORT};\n" + base + "frang_limits { http_methods get post put; "
              "http_trailer_split_allowed; http_method_override_allowed; }\n")
    start()
    expect(status(raw(split, shut=False)) == 200, "split trailer allowed")
    expect(status(raw(override, shut=False)) == 200, "method override to an allowed method")
    delete = override.replace(b"PUT", b"DELETE")
    expect(status(raw(delete, shut=False)) == 403, "method override to a method not allowed")


# Tempesta FW's own site configuration, as tempesta-test's DDoS test runs it (its TLS lines
# left out): frang, http_uri_brange, health_stat, HTTP tables redirects and cache_disable.
WORDPRESS = """
cache 2;
cache_fulfill * *;
cache_methods GET HEAD;
cache_ttl 3600;
access_log dmesg;
keepalive_timeout 15;
frang_limits {
    request_rate 500;
    request_burst 100;
    tcp_connection_rate 500;
    tcp_connection_burst 100;
    concurrent_tcp_connections 50;
    client_header_timeout 20;
    client_body_timeout 10;
    http_uri_len 1024;
    http_hdr_len 256;
    http_ct_required false;
    http_ct_vals "text/plain" "text/html" "application/json" "application/xml";
    http_header_chunk_cnt 10;
    http_body_chunk_cnt 0;
    http_resp_code_block 403 404 502 5 1;
    http_method_override_allowed true;
    http_methods head post put get;
    http_strict_host_checking true;
    ip_block off;
}
http_uri_brange 0x25 0x2b 0x2c 0x2f 0x41-0x5a 0x61-0x7a 0x30-0x39 0x26 0x3f 0x3a 0x2d 0x2e 0x5b 0x5d 0x5f 0x3d;
health_stat 3* 4* 5*;
health_stat_server 3* 4* 5*;
block_action attack drop;
block_action error reply;
req_hdr_add X-Forwarded-Proto "https";
resp_hdr_set Strict-Transport-Security "max-age=31536000; includeSubDomains";
req_hdr_set Proxy;
srv_group main {server 127.0.0.1:8135 conns_n=4;}
vhost tempesta-tech.com {proxy_pass main;}
http_chain {
    uri == "/index" -> 301 = /;
    uri == "/wp-admin*" -> cache_disable;
    uri == "/services" -> 301 = /development-services;
    -> tempesta-tech.com;
}
"""


@test
def tempesta_site_config_loads_and_works():
    upstream(8135)
    proxy(WORDPRESS)
    host = "tempesta-tech.com"
    out = get("/blog/a-post?x=1", host=host)
    expect(status(out) == 200 and b"Strict-Transport-Security: max-age=31536000" in out,
           f"{out[:300]!r}")
    out = get("/index", host=host)
    expect(status(out) == 301 and b"\r\nLocation: /\r\n" in out, f"{out[:200]!r}")
    expect(status(get("/a~b", host=host)) == 400, "~ is outside http_uri_brange")
    stat = perfstat()
    expect("\tHTTP '3' code\t: 1" in stat.splitlines() and
           "\tHTTP '4' code\t: 1" in stat.splitlines(), stat)
