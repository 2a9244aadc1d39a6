"""Observability: the access log (dmesg and /proc/tempesta/access_log), response time
statistics in perfstat and the server files, and the Prometheus exporter."""
import os
import re
import subprocess
import sys
import time
import urllib.request

from test_proxy import conn, perfstat, proxy, raw, request, upstream
from vmtest import KernelLog, at_cleanup, expect, test

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALOG = "/proc/tempesta/access_log"
LINE = re.compile(r'^(\S+) "([^"]*)" "(\S+) (\S+) (\S+)" (\d+) (\d+) "([^"]*)" "([^"]*)" (\d+|-)$')


def read_stream():
    """What the access log stream holds now (non-blocking)."""
    fd = os.open(ALOG, os.O_RDONLY | os.O_NONBLOCK)
    data = b""
    try:
        while True:
            try:
                d = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not d:
                break
            data += d
    finally:
        os.close(fd)
    return data.decode()


def fields(stat):
    out = {}
    for line in stat.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


@test
def access_log_lines():
    up = upstream(8101)
    proxy("server 127.0.0.1:8101 conns_n=2;\naccess_log dmesg mmap;\n"
          "mmap_log_buffer_size 64K;\n")
    read_stream()  # nothing from before
    log = KernelLog()
    r, data = request("GET", "/page?q=1", headers={"Referer": "http://ref.example/",
                                                   "User-Agent": 'agent "quoted"'})
    expect(r.status == 200, f"GET: {r.status}")
    r, _ = request("POST", "/form", body=b"x" * 1000)
    expect(r.status == 200, f"POST: {r.status}")
    r, _ = request("GET", "/size/5000")
    expect(r.status == 200, f"size: {r.status}")
    lines = read_stream().splitlines()
    expect(len(lines) == 3, f"stream lines: {lines}")
    m = [LINE.match(l) for l in lines]
    expect(all(m), f"malformed lines: {lines}")
    g = m[0].groups()
    expect(g[0] == "127.0.0.1" and g[1] == "default", f"client/vhost: {lines[0]}")
    expect(g[2:5] == ("GET", "/page?q=1", "HTTP/1.1"), f"request line: {lines[0]}")
    expect(g[5] == "200" and int(g[6]) == len(data), f"status/length: {lines[0]} ({len(data)})")
    expect(g[7] == "http://ref.example/", f"referer: {lines[0]}")
    expect(g[8] == r"agent \x22quoted\x22", f"user agent not escaped: {lines[0]}")
    expect(g[9] != "-", f"upstream time: {lines[0]}")
    expect(m[1].group(3) == "POST" and m[1].group(8) == "-", f"POST line: {lines[1]}")
    expect(m[2].group(7) == "5000", f"body bytes: {lines[2]}")
    # The same lines in the kernel log.
    klog = log.new()
    for l in lines:
        expect(l in klog, f"not in dmesg: {l}\n{klog[-2000:]}")

    # An error the proxy answers itself: no upstream time.
    up.kill()
    up.wait()
    r, _ = request("GET", "/gone")
    expect(r.status == 502, f"without upstream: {r.status}")
    lines = read_stream().splitlines()
    expect(len(lines) == 1, f"after the 502: {lines}")
    m = LINE.match(lines[0])
    expect(m and m.group(4) == "/gone" and m.group(6) == "502" and m.group(10) == "-",
           f"502 line: {lines[0]}")


@test
def access_log_stream_bounded_and_off():
    upstream(8101)
    proxy("server 127.0.0.1:8101 conns_n=2;\naccess_log mmap;\nmmap_log_buffer_size 4K;\n")
    read_stream()
    log = KernelLog()
    # Nobody reads: a 4 KiB ring holds about 40 lines; the rest are dropped and counted.
    c = conn()
    for i in range(100):
        r, _ = request("GET", f"/fill/{i}", c=c)
        expect(r.status == 200, f"request {i}: {r.status}")
    c.close()
    dropped = int(fields(perfstat())["Access log lines dropped"])
    lines = read_stream().splitlines()
    expect(len(lines) + dropped == 100 and dropped > 0, f"{len(lines)} kept, {dropped} dropped")
    expect(lines[0].split('"')[3] == "GET /fill/0 HTTP/1.1", f"oldest line first: {lines[0]}")
    expect("/fill/" not in log.new(), "dmesg target was not configured")
    # A reader blocked on an empty stream returns when the module goes away.
    reader = subprocess.Popen(["cat", ALOG], stdout=subprocess.PIPE)
    time.sleep(0.5)
    expect(reader.poll() is None, "the reader did not block")
    subprocess.run("rmmod tempesta_fw", shell=True, check=True)
    try:
        reader.wait(timeout=10)
    except subprocess.TimeoutExpired:
        reader.kill()
        expect(False, "a blocked access log reader kept running after rmmod")


@test
def response_time_statistics():
    upstream(8101)
    proxy("server 127.0.0.1:8101 conns_n=2;\n")
    for i in range(10):
        r, _ = request("GET", "/sleep/0.2")
        expect(r.status == 200, f"request {i}: {r.status}")
    r, _ = request("GET", "/sleep/1")
    f = fields(perfstat())
    med = int(f["Median  response time"].rstrip("ms"))
    mx = int(f["Maximum response time"].rstrip("ms"))
    mn = int(f["Minimal response time"].rstrip("ms"))
    expect(195 <= mn <= 400, f"min {mn}ms")
    expect(195 <= med <= 400, f"median {med}ms")
    expect(995 <= mx <= 1500, f"max {mx}ms")
    expect(int(f["99%"].rstrip("ms")) >= 900, f"p99 {f['99%']}")
    expect(int(f["Client messages received"]) == 11, f"received: {f}")
    expect(int(f["Client messages forwarded"]) == 11, f"forwarded: {f}")
    expect(int(f["Server messages received"]) == 11, f"server messages: {f}")
    expect(int(f["Client RX bytes"]) > 0 and int(f["Server RX bytes"]) > 0, "RX bytes")
    # The server file is refreshed once a second.
    time.sleep(1.5)
    with open("/proc/tempesta/servers/default/127.0.0.1:8101") as fh:
        s = fields(fh.read())
    expect(195 <= int(s["Median  response time"].rstrip("ms")) <= 400, f"server file: {s}")
    expect(int(s["Requests forwarded"]) == 11, f"server file: {s}")


@test
def prometheus_exporter():
    upstream(8101)
    proxy("server 127.0.0.1:8101 conns_n=2;\n")
    for i in range(5):
        request("GET", f"/m/{i}")
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "tempesta-exporter.py"),
                          "--listen", "127.0.0.1:9115"], stdout=subprocess.PIPE)
    at_cleanup(lambda: (p.kill(), p.wait()))
    expect(b"exporter" in p.stdout.readline(), "exporter did not start")
    text = urllib.request.urlopen("http://127.0.0.1:9115/metrics", timeout=10).read().decode()
    expect("# TYPE tempesta_client_messages_received_total counter" in text, text[:2000])
    expect(re.search(r"^tempesta_client_messages_received_total 5$", text, re.M), text[:2000])
    expect(re.search(r'^tempesta_response_time_ms\{stat="p99"\} \d+$', text, re.M), text[:2000])
    expect(re.search(r'^tempesta_upstream_requests_forwarded_total\{group="default",'
                     r'server="127.0.0.1:8101"\} 5$', text, re.M), text[:3000])
    expect("tempesta_up 1" in text, text[:2000])
    # Every sample line is NAME[{labels}] INTEGER.
    for l in text.splitlines():
        expect(l.startswith("# TYPE ") or re.match(r"^[a-z0-9_]+(\{[^}]*\})? \d+$", l), f"bad: {l}")


@test
def health_statistics_by_status():
    # Tempesta's `health_stat` (perfstat: responses to clients by status or class) and
    # `health_stat_server` (each server's file: its responses by status or class).
    upstream(8133)
    proxy("server 127.0.0.1:8133 conns_n=1;\nhealth_stat 2* 4* 404 5*;\n"
          "health_stat_server 200 4*;\n")
    for path in ("/a", "/b", "/c", "/status/404", "/status/404"):
        r, _ = request("GET", path)
        expect(r.status in (200, 404), f"{path}: {r.status}")
    out = raw(b"GET / HTTP/1.1\nHost: x\n\n")  # bare LF: 400 from the proxy itself
    expect(out.startswith(b"HTTP/1.1 400 "), f"{out[:60]!r}")
    stat = perfstat()
    for line in ("Tempesta health statistics:", "\tHTTP '2' code\t: 3", "\tHTTP '4' code\t: 3",
                 "\tHTTP '404' code\t: 2", "\tHTTP '5' code\t: 0"):
        expect(line in stat.splitlines(), f"{line!r} not in perfstat:\n{stat}")
    with open("/proc/tempesta/servers/default/127.0.0.1:8133") as fh:
        srv = fh.read()
    for line in ("\tHTTP '200' code\t: 3 (3 total)", "\tHTTP '4' code\t: 2 (2 total)"):
        expect(line in srv.splitlines(), f"{line!r} not in the server file:\n{srv}")
