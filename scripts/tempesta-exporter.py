#!/usr/bin/env python3
"""Prometheus exporter for tempesta-rs (and Tempesta FW): serves /proc/tempesta/perfstat and
/proc/tempesta/servers/*/* in the Prometheus text format.

    scripts/tempesta-exporter.py [--listen ADDR:PORT] [--proc DIR]    (default 127.0.0.1:9115)
    curl http://127.0.0.1:9115/metrics

Every "Name : value" line becomes a metric named tempesta_<name in snake case> (counters get
_total, per Prometheus naming); the response time lines become
tempesta_response_time_ms{stat="min|avg|max|p50|...|p99"}; server files add
group="...",server="ip:port" labels under tempesta_upstream_*. Each scrape reads the files anew:
nothing is cached, so the figures are as fresh as the kernel's. Standard library only.
"""
import argparse
import http.server
import os
import re
import sys

PROC = "/proc/tempesta"

# Lines whose value is a level, not a running count.
GAUGES = re.compile(r"online|active|schedulable|connections up|^connections$|response time")


def metric_name(label):
    name = re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")
    return name


def parse(text):
    """Yields (name, labels, value, kind) of one perfstat-like file."""
    pct = False
    for line in text.splitlines():
        if line.strip() == "Percentiles":
            pct = True
            continue
        m = re.match(r"^\s*(\d+)%:\s*(\d+)ms\s*$", line)
        if pct and m:
            yield "response_time_ms", {"stat": f"p{int(m.group(1))}"}, int(m.group(2)), "gauge"
            continue
        if ":" not in line:
            continue
        label, value = line.split(":", 1)
        value = value.strip()
        m = re.match(r"^(Minimal|Average|Median|Maximum)\s+response time$", label.strip())
        if m:
            stat = {"Minimal": "min", "Average": "avg", "Median": "median",
                    "Maximum": "max"}[m.group(1)]
            yield "response_time_ms", {"stat": stat}, int(value.rstrip("ms") or 0), "gauge"
            continue
        m = re.match(r"^(\d+)/(\d+)$", value)  # "up/total"
        if m:
            base = metric_name(label)
            yield base, {}, int(m.group(1)), "gauge"
            yield base + "_configured", {}, int(m.group(2)), "gauge"
            continue
        if not re.match(r"^\d+$", value):
            continue
        kind = "gauge" if GAUGES.search(label.strip().lower()) else "counter"
        yield metric_name(label), {}, int(value), kind


def fmt_labels(labels):
    if not labels:
        return ""
    inner = ",".join('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace('"', '\\"'))
                     for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def collect(proc):
    """The metrics text of one scrape."""
    samples = {}  # name -> (kind, [(labels, value)])

    def add(name, labels, value, kind):
        if kind == "counter":
            name += "_total"
        samples.setdefault(name, (kind, []))[1].append((labels, value))

    state = (read(os.path.join(proc, "state")) or "").strip()
    add("tempesta_up", {}, 1 if state.startswith("start") else 0, "gauge")
    perf = read(os.path.join(proc, "perfstat"))
    if perf:
        for name, labels, value, kind in parse(perf):
            add("tempesta_" + name, labels, value, kind)
    servers = os.path.join(proc, "servers")
    if os.path.isdir(servers):
        for group in sorted(os.listdir(servers)):
            gdir = os.path.join(servers, group)
            if not os.path.isdir(gdir):
                continue
            for srv in sorted(os.listdir(gdir)):
                text = read(os.path.join(gdir, srv))
                if text is None:
                    continue
                for name, labels, value, kind in parse(text):
                    add("tempesta_upstream_" + name, dict(labels, group=group, server=srv),
                        value, kind)
    out = []
    for name in sorted(samples):
        kind, rows = samples[name]
        out.append(f"# TYPE {name} {kind}")
        for labels, value in rows:
            out.append(f"{name}{fmt_labels(labels)} {value}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:9115", help="ADDR:PORT to serve on")
    ap.add_argument("--proc", default=PROC, help="the /proc/tempesta directory")
    ap.add_argument("--once", action="store_true", help="print one scrape and exit")
    args = ap.parse_args()
    if args.once:
        sys.stdout.write(collect(args.proc))
        return
    host, _, port = args.listen.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = collect(args.proc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    cls = http.server.ThreadingHTTPServer
    if ":" in host:
        class V6(http.server.ThreadingHTTPServer):
            address_family = __import__("socket").AF_INET6
        cls = V6
    srv = cls((host, int(port)), Handler)
    print(f"tempesta exporter on http://{args.listen}/metrics", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
