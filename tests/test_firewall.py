"""The firewall: Tempesta FW's example configuration (block_action + frang_limits) loads and is
enforced; each implemented frang limit refuses a scripted client and lets a well-behaved one
through; block_action reply and drop; rate-limited logging; counters."""
import os
import re
import socket
import time

from test_proxy import PORT, perfstat, proxy, raw, request, upstream, wait_servers_up
from tfw import insmod, start
from vmtest import KernelLog, expect, test

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
          "  http_body_len 1000;\n  http_methods get post;\n  http_ct_required;\n}\n")
    ok = get("/fine")
    expect(status(ok) == 200, f"a well-behaved request: {ok!r}")
    cases = [
        ("long URI", b"GET /" + b"a" * 40 + b" HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        ("headers", b"GET / HTTP/1.1\r\nHost: example.com\r\n"
         + b"".join(b"X-%d: v\r\n" % i for i in range(8)) + b"\r\n"),
        ("header line", b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Long: " + b"v" * 300 + b"\r\n\r\n"),
        ("method", b"PUT / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n"),
        ("no content type", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1\r\n\r\nx"),
        ("Content-Length", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Type: a/b\r\n"
         b"Content-Length: 5000\r\n\r\n"),
        ("chunked body", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Type: a/b\r\n"
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
    f = perfstat()
    expect(re.search(r"Client messages filtered out\s+: 9$", f, re.M), f)
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
    s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
        got = s.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        got = b""
    s.close()
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
    except ConnectionResetError:
        out = b""
    expect(out == b"", f"a malformed request was answered: {out[:80]!r}")
    # Without frang_limits the example's limits do not apply: PUT and an IP Host pass.
    r, _ = request("PUT", "/p", body=b"x")
    expect(r.status == 200, f"PUT without frang_limits: {r.status}")
