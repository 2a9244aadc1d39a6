#!/usr/bin/env python3
"""A small HTTP/1.1 upstream for the proxy tests: `upstream.py PORT [NAME]`.

Answers every request with a JSON summary of what it received (method, path, the headers the
proxy adds, body length and SHA-256), keeps connections alive, and serves `/size/N` with N
bytes of a known pattern (`?chunked` for a chunked response), `/sleep/S` after S seconds,
`/status/N` with status N.
"""
import hashlib
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def pattern(n):
    block = bytes(range(256)) * 4096
    out = bytearray()
    while len(out) < n:
        out += block[: n - len(out)]
    return bytes(out)


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

    def handle_any(self):
        body = self.read_body()
        path = self.path
        if path.startswith("/sleep/"):
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
        out = json.dumps({
            "server": NAME,
            "method": self.command,
            "path": path,
            "xff": self.headers.get_all("X-Forwarded-For"),
            "via": self.headers.get_all("Via"),
            "connection": self.headers.get_all("Connection"),
            "te": self.headers.get("Transfer-Encoding"),
            "len": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any


if __name__ == "__main__":
    port = int(sys.argv[1])
    NAME = sys.argv[2] if len(sys.argv) > 2 else str(port)
    ThreadingHTTPServer.daemon_threads = True
    # Clients vanishing mid-request (the proxy stopped, a test killed) are expected here.
    ThreadingHTTPServer.handle_error = lambda self, request, addr: None
    ThreadingHTTPServer.request_queue_size = 1024
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    srv.serve_forever()
