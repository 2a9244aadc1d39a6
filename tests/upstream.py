#!/usr/bin/env python3
"""A small HTTP/1.1 upstream for the proxy tests: `upstream.py PORT [NAME]`.

Answers every request with a JSON summary of what it received (method, path, the headers the
proxy adds, body length and SHA-256), keeps connections alive, and serves `/size/N` with N
bytes of a known pattern (`?chunked` for a chunked response), `/sleep/S` after S seconds
(`/close/S`: then closes the connection),
`/status/N` with status N, and `/c/...` for the cache tests: the query names the response
(`cc=` Cache-Control, `cc304=` that of a 304 to If-None-Match, `etag=`, `etag304=` the ETag of that 304, `vary=`, `lm=` Last-Modified, `exp=` Expires seconds from now,
`sc=1` Set-Cookie, `n=` body size, `chunked=1`, `sleep=` seconds first, `then=` how every request
after the first fails: a status, `close` or `hang`), the body starts with how many times the
path was requested, and `/_count?p=PATH` tells that number without counting itself.

A server named `slow...` takes 100 ms for every request. `/_sick?on=1` makes every later request but `/_sick` and `/_count` get a 500 until
`/_sick?on=0`; `/hc` answers `ok` (counted, for the health monitor test).

`/ws/...` with a WebSocket upgrade answers 101 and greets with a text frame holding the JSON
summary (`/ws/big`: and 100000 bytes of the pattern in a binary frame, in the same write),
then echoes frames until the client closes (`/ws/close` closes right after the greeting,
`/ws/wrong` switches to another protocol than asked).
"""
import email.utils
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ws  # noqa: E402


def pattern(n):
    block = bytes(range(256)) * 4096
    out = bytearray()
    while len(out) < n:
        out += block[: n - len(out)]
    return bytes(out)


COUNTS = {}
LOCK = threading.Lock()
SICK = False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "upstream"

    def log_message(self, *args):
        pass

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            body = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def cache_object(self):
        """`/c/...`: a response shaped by the query, counted per path (query included)."""
        with LOCK:
            COUNTS[self.path] = COUNTS.get(self.path, 0) + 1
            n_seen = COUNTS[self.path]
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        if "sleep" in q:
            time.sleep(float(q["sleep"]))
        then = q.get("then")
        if then and n_seen > 1:
            # Fails every request after the first: closes without answering, answers after
            # 6 s, or answers with the status given.
            if then in ("close", "hang"):
                if then == "hang":
                    time.sleep(6)
                self.close_connection = True
                return
            err = b"error;" + pattern(3000)
            self.send_response(int(then))
            self.send_header("Content-Length", str(len(err)))
            self.end_headers()
            self.wfile.write(err)
            return
        size = int(q.get("n", "0"))
        body = (b"count=%d;method=%s;" % (n_seen, self.command.encode()))
        body += pattern(max(size - len(body), 0))
        etag = q.get("etag")
        if etag and self.headers.get("If-None-Match") == f'"{etag}"':
            self.send_response(304)
            self.send_header("ETag", f'"{q.get("etag304", etag)}"')
            if "cc304" in q or "cc" in q:
                self.send_header("Cache-Control", q.get("cc304", q.get("cc")))
            self.end_headers()
            return
        self.send_response(int(q.get("status", "200")))
        self.send_header("Content-Type", "text/plain")
        if "cc" in q:
            self.send_header("Cache-Control", q["cc"])
        if "cdn" in q:
            self.send_header("CDN-Cache-Control", q["cdn"])
        if etag:
            self.send_header("ETag", f'"{etag}"')
        if "vary" in q:
            self.send_header("Vary", q["vary"])
            body += b";varied=" + self.headers.get(q["vary"], "").encode()
        if "lm" in q:
            self.send_header("Last-Modified", email.utils.formatdate(float(q["lm"]), usegmt=True))
        if "exp" in q:
            self.send_header("Expires",
                             email.utils.formatdate(time.time() + float(q["exp"]), usegmt=True))
        if q.get("sc"):
            self.send_header("Set-Cookie", "session=secret")
        if q.get("chunked"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD":
                for i in range(0, len(body), 3000):
                    c = body[i : i + 3000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        body = self.read_body()
        path = self.path
        if NAME.startswith("slow") and not path.startswith(("/_count?", "/_sick?")):
            # A server that takes 100 ms for everything (the dynamic scheduler test).
            time.sleep(0.1)
        if NAME == "closer":
            # Reads every request and closes without answering (a failing upstream).
            self.close_connection = True
            return
        if path.startswith("/_sick?"):
            global SICK
            SICK = path.endswith("on=1")
            return self.small(200, b"sick" if SICK else b"well")
        if SICK and not path.startswith("/_count?"):
            return self.small(500, b"sick")
        if path == "/hc":
            with LOCK:
                COUNTS[path] = COUNTS.get(path, 0) + 1
            return self.small(200, b"ok\n")
        if path.startswith("/c/"):
            return self.cache_object()
        if path.startswith("/ws/") and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket(self.summary(body))
        if path.startswith("/_count?"):
            p = dict(urllib.parse.parse_qsl(path.split("?", 1)[1]))["p"]
            out = str(COUNTS.get(p, 0)).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        if path.startswith(("/sleep/", "/close/")):
            time.sleep(float(path.split("/")[2]))
        if path.startswith("/size/"):
            n = int(path.split("/")[2].split("?")[0])
            data = pattern(n)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if path.endswith("?chunked"):
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if self.command != "HEAD":
                    for i in range(0, n, 65536):
                        c = data[i : i + 65536]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                    self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(n))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return
        code = int(path.split("/")[2]) if path.startswith("/status/") else 200
        out = self.summary(body)
        self.send_response(code)
        if path.startswith("/close/"):
            # Answers, then closes the connection (requests pipelined behind are lost here).
            self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    def small(self, code, out):
        self.send_response(code)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    def summary(self, body):
        """What the request looked like here, as JSON."""
        return json.dumps({
            "server": NAME,
            "method": self.command,
            # Without "HTTP/": tests split raw pipelined output at "HTTP/1.1".
            "version": self.request_version.replace("HTTP/", ""),
            "path": self.path,
            "xff": self.headers.get_all("X-Forwarded-For"),
            "via": self.headers.get_all("Via"),
            "connection": self.headers.get_all("Connection"),
            "te": self.headers.get("Transfer-Encoding"),
            "headers": [[k, v] for k, v in self.headers.items()],
            "len": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }).encode()

    def websocket(self, summary):
        """101, a greeting frame in the same write, then an echo of every frame."""
        key = self.headers.get("Sec-WebSocket-Key", "")
        proto = b"h2c" if self.path.startswith("/ws/wrong") else b"websocket"
        self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + proto
                         + b"\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
                         + ws.accept_for(key).encode() + b"\r\n\r\n"
                         + ws.frame(ws.TEXT, summary, False)
                         + (ws.frame(ws.BINARY, pattern(100000), False)
                            if self.path.startswith("/ws/big") else b""))
        self.wfile.flush()
        self.close_connection = True
        if self.path.startswith("/ws/close"):
            return
        while True:
            f = ws.read_frame(self.rfile)
            if f is None:
                return
            op, payload = f
            if op == ws.CLOSE:
                self.wfile.write(ws.frame(ws.CLOSE, payload, False))
                return
            self.wfile.write(ws.frame(ws.PONG if op == ws.PING else op, payload, False))
            self.wfile.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_PURGE = handle_any


def serve(port, name):
    global NAME
    NAME = name
    ThreadingHTTPServer.daemon_threads = True
    # Clients vanishing mid-request (the proxy stopped, a test killed) are expected here.
    ThreadingHTTPServer.handle_error = lambda self, request, addr: None
    ThreadingHTTPServer.request_queue_size = 1024
    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def zygote():
    """`upstream.py --zygote`: reads `PORT NAME` lines and forks a server for each, which
    prints `ready PID` (or `fail PID reason`). A fork of this loaded process starts in
    milliseconds where a new python3 takes seconds under emulation, and the tests start
    about eighty upstreams."""
    import signal
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped on exit
    for line in sys.stdin:
        port, name = line.split()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.close(0)
            try:
                srv = serve(int(port), name)
            except OSError as e:
                print(f"fail {os.getpid()} {e}", flush=True)
                os._exit(1)
            print(f"ready {os.getpid()}", flush=True)
            srv.serve_forever()
            os._exit(0)


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        zygote()
        sys.exit(0)
    srv = serve(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else sys.argv[1])
    print("ready", flush=True)
    srv.serve_forever()
