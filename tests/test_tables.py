"""HTTP tables: http_chain rules route requests to vhosts by uri, host, hdr, cookie, method and
mark, block, redirect with $host/$request_uri, jump to named chains, and mark a connection's
packets so that a netfilter rule sees them; whitelist_mark exempts marked connections from
frang. Per-vhost frang limits, and `location` blocks within a vhost."""
import http.client
import json
import re
import socket

from test_cache import count
from test_firewall import frang_refused
from test_proxy import PORT, events, perfstat, proxy, upstream, wait_servers_up
from tfw import start, write_cfg
from vmtest import Fail, KernelLog, at_cleanup, expect, sh, test

TABLES = """
srv_group a { server 127.0.0.1:8201 conns_n=2; }
srv_group b { server 127.0.0.1:8202 conns_n=2; }
vhost app { proxy_pass a; }
vhost img { proxy_pass b; }
block_action attack reply;
http_chain pics {
  uri == "*.png" -> mark = 7;
  -> img;
}
http_chain {
  hdr "User-Agent" == "*bot" -> block;
  uri == "/admin*" -> block;
  cookie "beta" == "1" -> img;
  host == "old.example.com" -> 301 = https://new.example.com$request_uri;
  method == "DELETE" -> 308 = /elsewhere;
  uri == "/img/*" -> pics;
  -> app;
}
"""


# Two groups, a and b, for the tests that route between them.
GROUPS_AB = """
srv_group a { server 127.0.0.1:8201 conns_n=2; }
srv_group b { server 127.0.0.1:8202 conns_n=2; }
block_action attack reply;
"""


def ask(method, path, host="example.com", headers=None, c=None, body=None):
    """One request; returns (status, headers, body). The Host gets the listener's port unless
    it names one (strict Host checking, on with frang_limits, compares them)."""
    if ":" not in host:
        host = f"{host}:{PORT}"
    own = c is None
    c = c or http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
    try:
        c.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        if own:
            c.close()


def served_by(method, path, **kw):
    st, _, body = ask(method, path, **kw)
    expect(st == 200, f"{method} {path} {kw}: {st} {body[:200]!r}")
    return json.loads(body)["server"]


def nft(script):
    sh(f"nft -f - <<'EOF'\n{script}\nEOF")


def nft_table(chains):
    """A test table with the given chains; removed at cleanup."""
    sh("nft delete table ip tfwtest", check=False)
    nft("table ip tfwtest {\n" + chains + "\n}")
    at_cleanup(lambda: sh("nft delete table ip tfwtest", check=False))


def counter(chain):
    out = sh(f"nft list chain ip tfwtest {chain}")[1]
    m = re.search(r"counter packets (\d+)", out)
    expect(m, f"no counter in: {out}")
    return int(m.group(1))


def iptables_mark_rule(mark):
    """An iptables rule `OUTPUT -m mark --mark N -j ACCEPT` (removed at cleanup). Returns a
    function that reads the rule's packet counter.

    /usr/sbin/iptables is the nf_tables backend here; without CONFIG_NFT_COMPAT (the guest
    kernel's case) it cannot ask the kernel for the mark match's revision and writes a wrong
    rule (`--mark 0x7/0x1`, with a warning). The rule is therefore read back, and
    iptables-legacy (x_tables, which the guest kernel has) used if it is not the one asked."""
    args = f"OUTPUT -m mark --mark {mark} -j ACCEPT"
    want = f"-A OUTPUT -m mark --mark 0x{mark:x} -j ACCEPT"
    tried = []
    for ipt in ("iptables", "iptables-legacy"):
        rc, out = sh(f"{ipt} -w -A {args}", check=False)
        if rc != 0:
            tried.append(f"{ipt}: {out.strip()}")
            continue
        rules = sh(f"{ipt} -w -S OUTPUT", check=False)[1]
        if want in rules.splitlines():
            break
        sh(f"{ipt} -w -D {args}", check=False)
        tried.append(f"{ipt} wrote another rule: {rules.strip()!r}")
    else:
        raise Fail("no iptables writes the mark rule in the guest: " + "; ".join(tried))
    print(f"  iptables: {ipt}" + (f" ({'; '.join(tried)})" if tried else ""))
    at_cleanup(lambda: sh(f"{ipt} -w -D {args}", check=False))

    def packets():
        out = sh(f"{ipt} -w -L OUTPUT -v -n -x")[1]
        for line in out.splitlines():
            if re.search(r"\bmark match 0x%x$" % mark, line.strip()):
                return int(line.split()[0])
        raise Fail(f"no mark rule in:\n{out}")
    return packets


@test
def http_tables_route_block_redirect_mark():
    upstream(8201, "a")
    upstream(8202, "b")
    # Counts the packets that leave with mark 7 (the responses of a marked connection).
    nft_table("chain out { type filter hook output priority 0; meta mark 7 counter; }")
    # And with iptables, as an operator would write it.
    ipt_packets = iptables_mark_rule(7)
    log = KernelLog()
    proxy(TABLES)
    # Default rule, named chain by URI, cookie.
    expect(served_by("GET", "/") == "a", "the default rule routes to vhost app")
    expect(served_by("GET", "/img/x.jpg") == "b", "/img/* jumps to chain pics, then vhost img")
    expect(served_by("GET", "/p", headers={"Cookie": "x=2; beta=1"}) == "b", "cookie beta=1")
    expect(served_by("GET", "/p", headers={"Cookie": "beta=10"}) == "a", "cookie beta=10")
    expect(served_by("GET", "/p", headers={"User-Agent": "bot-ish"}) == "a", "not a suffix match")
    expect(counter("out") == 0, "nothing marked yet")
    expect(ipt_packets() == 0, "iptables: nothing marked yet")
    # mark = 7 on /img/*.png: that connection's packets carry the mark.
    expect(served_by("GET", "/img/a.png") == "b", "/img/a.png")
    expect(counter("out") > 0, "no packet with mark 7 went out")
    expect(ipt_packets() > 0, "iptables -m mark --mark 7 counted no packet")
    # block (block_action attack reply: 403, then close).
    before = int(re.search(r"Client messages filtered out\s*: (\d+)", perfstat()).group(1))
    for path, hdrs in (("/admin", {}), ("/ADMIN/x", {}), ("/", {"User-Agent": "Googlebot"})):
        st, h, _ = ask("GET", path, headers=hdrs)
        expect(st == 403, f"{path} {hdrs}: {st}")
        expect(h.get("Connection", "").lower() == "close", f"403 closes: {h}")
    after = int(re.search(r"Client messages filtered out\s*: (\d+)", perfstat()).group(1))
    expect(after - before == 3, f"filtered {before} -> {after}")
    # Redirects: $request_uri expanded, the connection kept for the next request.
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
    st, h, body = ask("GET", "/p/q?x=1", host="old.example.com", c=c)
    expect(st == 301, f"redirect status {st}")
    expect(h.get("Location") == "https://new.example.com/p/q?x=1", f"Location {h}")
    expect(body == b"", "a redirect has no body")
    expect(served_by("GET", "/after", c=c) == "a", "the connection serves the next request")
    c.close()
    st, h, _ = ask("DELETE", "/x")
    expect(st == 308 and h.get("Location") == "/elsewhere", f"DELETE: {st} {h}")
    # A redirected request with a body: answered, then the connection closes.
    s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    s.sendall(b"POST /x HTTP/1.1\r\nHost: old.example.com\r\nContent-Length: 5\r\n\r\nhello")
    got = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    s.close()
    expect(got.startswith(b"HTTP/1.1 301 ") and b"Connection: close" in got, f"POST: {got!r}")
    p = perfstat()
    expect(re.search(r"HTTP tables redirects\s*: 3", p), f"perfstat: {p}")
    expect(re.search(r"HTTP tables rules\s*: 9", p), f"perfstat: {p}")
    lines = [l for l in log.new().splitlines() if "http_tables: request from" in l]
    expect(1 <= len(lines) <= 2, f"blocks logged at most once a second: {lines}")


@test
def whitelist_mark_bypasses_frang_and_mark_routes():
    upstream(8201, "a")
    upstream(8202, "b")
    sh("sysctl -q -w net.ipv4.tcp_fwmark_accept=1")
    at_cleanup(lambda: sh("sysctl -q -w net.ipv4.tcp_fwmark_accept=0", check=False))
    # SYNs (and every packet) from 127.0.0.3 get mark 5 before TCP sees them.
    nft_table("chain pre { type filter hook prerouting priority -150; "
              "ip saddr 127.0.0.3 meta mark set 5; }")
    proxy("""
srv_group a { server 127.0.0.1:8201 conns_n=2; }
srv_group b { server 127.0.0.1:8202 conns_n=2; }
vhost app { proxy_pass a; }
vhost marked { proxy_pass b; }
block_action attack reply;
frang_limits { request_rate 3; }
whitelist_mark 5;
http_chain {
  mark == 5 -> marked;
  -> app;
}
""")

    def burst(src, n=10):
        """n requests on one connection from src: the statuses and the servers."""
        s = socket.socket()
        s.settimeout(20)
        s.bind((src, 0))
        s.connect(("127.0.0.1", PORT))
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
        c.sock = s
        out = []
        try:
            for i in range(n):
                st, _, body = ask("GET", f"/{i}", c=c)
                out.append((st, json.loads(body)["server"] if st == 200 else None))
                if st != 200:
                    break
        except (ConnectionError, http.client.HTTPException):
            out.append(("closed", None))
        c.close()
        return out

    marked = burst("127.0.0.3")
    expect(marked == [(200, "b")] * 10, f"whitelisted 127.0.0.3: {marked}")
    plain = burst("127.0.0.4")
    expect(plain[:3] == [(200, "a")] * 3, f"127.0.0.4 first requests: {plain}")
    expect(plain[-1][0] == 403, f"127.0.0.4 over request_rate 3: {plain}")


@test
def per_vhost_frang_limits():
    upstream(8201, "a")
    upstream(8202, "b")
    proxy(GROUPS_AB + """
frang_limits { http_uri_len 100; http_methods get post; }
vhost app { proxy_pass a; }
vhost strict {
  proxy_pass b;
  frang_limits { http_uri_len 12; http_methods get; http_ct_vals text/plain; }
}
http_chain {
  host == "strict.example.com" -> strict;
  -> app;
}
""")
    long = "/" + "x" * 20
    expect(served_by("GET", long) == "a", "a 21-byte URI within app's (the global) limit")
    st, _, _ = ask("GET", long, host="strict.example.com")
    expect(st == 403, f"a 21-byte URI over strict's limit of 12: {st}")
    expect(served_by("GET", "/ok", host="strict.example.com") == "b", "strict within limits")
    st, _, _ = ask("POST", "/p", host="strict.example.com", headers={"Content-Type": "text/plain"})
    expect(st == 403, f"POST is not in strict's http_methods: {st}")
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
    c.request("POST", "/p", body=b"x", headers={"Host": f"example.com:{PORT}", "Content-Type": "a/b"})
    r = c.getresponse()
    r.read()
    c.close()
    expect(r.status == 200, f"POST with any type to app (no http_ct_vals there): {r.status}")
    st, _, _ = ask("GET", "/" + "y" * 120)
    expect(st == 403, f"the global http_uri_len applies to app: {st}")


@test
def locations_route_cache_and_limit():
    """`location` blocks: the first match in file order wins; each has its own proxy_pass,
    cache rules and frang limits, inheriting what it does not write from its vhost."""
    upstream(8201, "a")
    upstream(8202, "b")
    proxy(GROUPS_AB + """
cache 2;
frang_limits { http_methods get post head; }
vhost app {
  proxy_pass a;
  cache_fulfill * *;
  location prefix "/c/s/" {
    proxy_pass b;
  }
  location prefix "/c/" {
    cache_fulfill suffix ".css";
  }
  location suffix ".php" {
    frang_limits { http_methods get; }
  }
  location eq "/login" {
    frang_limits { http_body_len 4; }
  }
}
http_chain { -> app; }
""")
    # Routing: a location's own proxy_pass, else the vhost's.
    expect(served_by("GET", "/x") == "a", "no location: the vhost's group")
    for _ in range(2):
        st, _, _ = ask("GET", "/c/s/one?cc=max-age=60")
        expect(st == 200, f"/c/s/one: {st}")
    expect(count("/c/s/one?cc=max-age=60", 8202) == 1,
           "/c/s/ goes to b, and is cached by the vhost's cache_fulfill (its first match wins "
           "over /c/, whose rules would not cache it)")
    expect(count("/c/s/one?cc=max-age=60", 8201) == 0, "b's location never reaches a")
    # The /c/ location's own rule list replaces the vhost's: only .css is cached there (the
    # subject is the path and query; the upstream ignores `f=`).
    for p in ("/c/x?cc=max-age=60&f=.css", "/c/x?cc=max-age=60&f=.js"):
        for _ in range(2):
            st, _, _ = ask("GET", p)
            expect(st == 200, f"{p}: {st}")
    expect(count("/c/x?cc=max-age=60&f=.css", 8201) == 1, ".css is cached in /c/")
    expect(count("/c/x?cc=max-age=60&f=.js", 8201) == 2, ".js is not cached in /c/")
    # Limits: a location's frang_limits on top of the vhost's (here the global ones).
    st, _, _ = ask("POST", "/run.php", headers={"Content-Length": "0"})
    expect(st == 403, f"POST is not in .php's http_methods: {st}")
    st, _, _ = ask("POST", "/RUN.PHP?x", headers={"Content-Length": "0"})
    expect(st == 200, f"suffix matches the path and query, so .php? does not: {st}")
    expect(served_by("GET", "/INDEX.PHP") == "a", "suffix matching ignores case; GET allowed")
    st, _, _ = ask("POST", "/login", body=b"0123456789")
    expect(st == 403, f"a 10-byte body over /login's http_body_len of 4: {st}")
    st, _, _ = ask("POST", "/login2", body=b"0123456789")
    expect(st == 200, f"eq matches /login only: {st}")


@test
def header_changes_per_vhost_and_location():
    """req_hdr_set/req_hdr_add and resp_hdr_set/resp_hdr_add: removed, replaced and added
    fields on forwarded requests, responses and cache hits; each list is the innermost level's
    (location, vhost, global)."""
    upstream(8201, "a")
    upstream(8202, "b")
    proxy(GROUPS_AB + r"""
req_hdr_add X-Global "g 1";
resp_hdr_set Server "tempesta";
cache 2;
vhost app {
  proxy_pass a;
  req_hdr_set X-Client-Id;
  req_hdr_set X-Env prod;
  req_hdr_add X-Added one;
  req_hdr_set Host up.internal;
  location prefix "/c/" {
    cache_fulfill * *;
    resp_hdr_add X-Loc "yes \"q\"";
  }
}
http_chain { -> app; }
""")
    st, hdrs, body = ask("GET", "/x", headers={"X-Client-Id": "5", "X-Env": "dev"})
    expect(st == 200, f"/x: {st} {body[:200]!r}")
    seen = json.loads(body)["headers"]
    names = [k.lower() for k, _ in seen]
    expect("x-client-id" not in names, f"req_hdr_set NAME removes: {seen}")
    expect([v for k, v in seen if k.lower() == "x-env"] == ["prod"], f"req_hdr_set replaces: {seen}")
    expect([v for k, v in seen if k.lower() == "x-added"] == ["one"], f"req_hdr_add: {seen}")
    expect("x-global" not in names, f"the vhost's own list replaces the global one: {seen}")
    expect(hdrs.get("Server") == "tempesta", f"the global resp_hdr_set applies: {hdrs}")
    # req_hdr_set Host wins over both the client's Host and an absolute-form authority: the
    # upstream gets one Host.
    for path in ("/x", "http://abs.example/x"):
        st, _, body = ask("GET", path)
        hosts = [v for k, v in json.loads(body)["headers"] if k.lower() == "host"]
        expect(st == 200 and hosts == ["up.internal"], f"{path}: {st} Host {hosts}")
    for i in range(2):
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
        c.request("GET", "/c/h?cc=max-age=60", headers={"Host": f"example.com:{PORT}"})
        r = c.getresponse()
        r.read()
        c.close()
        expect(r.status == 200, f"/c/h #{i}: {r.status}")
        loc = [v for k, v in r.getheaders() if k.lower() == "x-loc"]
        expect(loc == ['yes "q"'], f"#{i} (miss, then hit): resp_hdr_add once: {r.getheaders()}")
        server = [v for k, v in r.getheaders() if k.lower() == "server"]
        expect(server and server != ["tempesta"],
               f"#{i}: the location's own list replaces the global one: {r.getheaders()}")
    expect(count("/c/h?cc=max-age=60", 8201) == 1, "the second was a hit")


@test
def tables_block_counted():
    """A request refused by an HTTP tables `block` rule is counted in perfstat: with
    frang_limits (the firewall on) among the per-limit refusals, and either way as a filtered
    message (not as an error)."""
    upstream(8201, "a")
    upstream(8202, "b")
    problems = []
    # With frang_limits and block_action attack drop: reset, no response.
    proxy(TABLES.replace("block_action attack reply;", "block_action attack drop;")
          + "frang_limits { http_uri_len 100; }\n")
    s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    s.sendall(b"GET /admin HTTP/1.1\r\nHost: example.com:8090\r\n\r\n")
    try:
        got = s.recv(65536)
    except ConnectionResetError:
        got = b""
    s.close()
    expect(got == b"", f"a blocked request was answered: {got[:80]!r}")
    expect(served_by("GET", "/y") == "a", "an allowed request")
    n = frang_refused("HTTP tables block rule")
    if n != 1:
        problems.append(f"1 block with frang_limits, counted {n}")
    # HTTP tables alone (no frang_limits), block_action attack reply: 403.
    write_cfg(f"listen {PORT};\n" + TABLES)
    start()
    wait_servers_up()
    filtered, errors = (events("Client messages filtered out"),
                        events("Client messages other errors"))
    for path in ("/admin", "/admin/2"):
        st, _, _ = ask("GET", path)
        expect(st == 403, f"{path}: {st}")
    expect(served_by("GET", "/x") == "a", "an allowed request")
    n = events("Client messages filtered out") - filtered
    if n != 2:
        problems.append(f"2 blocks without frang_limits, {n} filtered")
    n = events("Client messages other errors") - errors
    if n != 0:
        problems.append(f"2 blocks counted as {n} other errors too")
    expect(not problems, "; ".join(problems) + f"\n{perfstat()}")
