"""Live reconfiguration under load: reloads never fail a request on an established connection;
restarts under load never hang a client and the proxy serves again after each."""
import re
import time
import subprocess

from test_proxy import PORT, request, upstream, wait_servers_up
from test_tempesta_sh import tsh
from tfw import ctl, insmod, write_cfg
from vmtest import Fail, at_cleanup, expect, test

# Configurations a reload cycles through: other upstreams, weights, a second listener, other
# timeouts and Via, the access log on and off.
CONFIGS = [
    "server 127.0.0.1:8101 conns_n=4;\n",
    "server 127.0.0.1:8102 conns_n=4;\nkeepalive_timeout 30;\n",
    "server 127.0.0.1:8101 conns_n=2 weight=30;\nserver 127.0.0.1:8102 conns_n=2 weight=70;\n"
    f"listen {PORT + 1};\n",
    "srv_group app { server 127.0.0.1:8102 conns_n=3; }\n"
    "vhost app { proxy_pass app; }\nhttp_chain { -> app; }\nhdr_via \"edge\";\n",
    "server 127.0.0.1:8101 conns_n=4;\naccess_log mmap;\nserver_forward_timeout 30;\n",
]


def wrk(seconds, conns=8, path="/reload"):
    p = subprocess.Popen(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--timeout", "20s",
                          f"http://127.0.0.1:{PORT}{path}"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    at_cleanup(lambda: p.kill())
    return p


def wrk_result(p, seconds):
    try:
        out, _ = p.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise Fail("wrk hung")
    m = re.search(r"(\d+) requests in", out)
    expect(m, f"wrk output: {out}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return int(m.group(1)), errors, non2xx, out


@test
def reload_under_load_fails_no_request():
    upstream(8101, "a")
    upstream(8102, "b")
    cfg = write_cfg(f"listen {PORT};\n{CONFIGS[0]}")
    insmod(cfg)
    rc, out = ctl("start")
    expect(rc == 0, f"start: {out}")
    wait_servers_up()
    seconds = 24
    p = wrk(seconds)
    time.sleep(2)
    for i in range(10):
        write_cfg(f"listen {PORT};\n{CONFIGS[(i + 1) % len(CONFIGS)]}")
        if i % 2:
            rc, out = tsh("reload", cfg)
            expect(rc == 0, f"tempesta.sh reload {i}: {rc} {out}")
        else:
            rc, out = ctl("start")
            expect(rc == 0, f"reload {i}: {out}")
        time.sleep(2)
    n, errors, non2xx, out = wrk_result(p, seconds)
    expect(n > 100, f"only {n} requests in {seconds}s: {out}")
    expect(not errors and not non2xx, f"failed requests across 10 reloads:\n{out}")
    r, _ = request("GET", "/after")
    expect(r.status == 200, f"after the reloads: {r.status}")


@test
def restart_under_load_recovers():
    upstream(8101)
    cfg = write_cfg(f"listen {PORT};\n{CONFIGS[0]}")
    at_cleanup(lambda: tsh("stop", cfg))
    rc, out = tsh("start", cfg)
    expect(rc == 0, f"start: {rc} {out}")
    wait_servers_up()
    seconds = 16
    p = wrk(seconds)
    for i in range(3):
        time.sleep(3)
        rc, out = tsh("restart", cfg)
        expect(rc == 0, f"restart {i}: {rc} {out}")
        wait_servers_up()
        r, _ = request("GET", f"/after-restart-{i}")
        expect(r.status == 200, f"after restart {i}: {r.status}")
    n, _, non2xx, out = wrk_result(p, seconds)
    # Connections open at a restart are closed by it (wrk counts read errors and reconnects);
    # what must not happen is a hang or an error status.
    expect(n > 50, f"only {n} requests: {out}")
    expect(not non2xx, f"error statuses across restarts:\n{out}")


def resent():
    with open("/proc/tempesta/perfstat") as f:
        m = re.search(r"Requests re-sent\s*: (\d+)", f.read())
    return int(m.group(1)) if m else -1


@test
def reload_grace_shutdown_time():
    """grace_shutdown_time: a request still on a connection of the previous configuration N s
    after a reload is re-sent to a current one if it may be (GET), else answered 502 (POST);
    without it (0) the exchange finishes where it started."""
    import threading
    upstream(8101)
    cfg = f"listen {PORT};\nserver 127.0.0.1:8101 conns_n=2;\n"
    insmod(write_cfg(cfg + "grace_shutdown_time 1;\n"))
    ctl("start")
    wait_servers_up()

    def slow(method, out):
        t = time.monotonic()
        r, _ = request(method, "/sleep/4", body=b"x" if method == "POST" else None)
        out.append((r.status, time.monotonic() - t))

    for method, grace, want, resends in (("GET", 1, 200, 1), ("POST", 1, 502, 0),
                                         ("GET", 0, 200, 0)):
        before = resent()
        out = []
        th = threading.Thread(target=slow, args=(method, out))
        th.start()
        time.sleep(1)
        write_cfg(cfg + f"grace_shutdown_time {grace};\n")
        rc, msg = ctl("start")
        expect(rc == 0, f"reload: {msg}")
        th.join(60)
        expect(out and out[0][0] == want, f"{method}, grace {grace}: {out}")
        expect(resent() - before == resends,
               f"{method}, grace {grace}: re-sent {resent() - before}, want {resends}")
