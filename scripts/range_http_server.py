"""A small HTTP file server for the download tests (127.0.0.1 only): single-range requests (RFC 9110:
206 with Content-Range, 416, If-Range against an ETag), and faults on demand, so the tests can check that
`morpho data` resumes and retries.

    python range_http_server.py ROOT --port-file F --log F [--fail NAME:TIMES[:AFTER]] [--drop NAME:BYTES:TIMES] [--no-ranges] [--slow NAME:TIMES]

--fail: after the first AFTER requests for NAME (default 0), the next TIMES get 503. --drop: the first TIMES requests for NAME send the
headers and BYTES bytes of the body, then close the connection. --no-ranges: ignore Range (always 200). --slow: the
first TIMES requests for NAME send the body at 2 bytes per second.
Each request is logged as one line: "<name> range=<Range or -> if-range=<If-Range or -> status=<code>".
"""
import argparse
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = None
lock = threading.Lock()
counts = {}


def rule_hits(kind, name, times, after=0):
    with lock:
        key = (kind, name)
        counts[key] = counts.get(key, 0) + 1
        return after < counts[key] <= after + times


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def record(self, name, status):
        with open(args.log, "a") as f:
            f.write(f"{name} range={self.headers.get('Range', '-')} if-range={self.headers.get('If-Range', '-')} status={status}\n")

    def do_GET(self):
        name = self.path.lstrip("/")
        path = os.path.join(args.root, name)
        for rule in args.fail:
            n, times, after = (rule + ":0").split(":")[:3] if rule.count(":") == 1 else rule.rsplit(":", 2)
            if n == name and rule_hits("fail", name, int(times), int(after)):
                self.record(name, 503)
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        if not os.path.isfile(path):
            self.record(name, 404)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        st = os.stat(path)
        size = st.st_size
        etag = f'"{size}-{st.st_mtime_ns}"'
        first, last, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if rng and not args.no_ranges and (if_range is None or if_range == etag):
            a, b = rng.removeprefix("bytes=").split("-")
            first = int(a)
            last = min(int(b), size - 1) if b else size - 1
            if first >= size:
                self.record(name, 416)
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        if status == 206 and name in args.empty_206:
            # A faulty server: a valid range answer with no bytes in it.
            self.record(name, 206)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.record(name, status)
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "none" if args.no_ranges else "bytes")
        self.send_header("Content-Length", str(last - first + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(first)
            body = f.read(last - first + 1)
        for rule in args.slow:
            n, times = rule.rsplit(":", 1)
            if n == name and rule_hits("slow", name, int(times)):
                try:
                    for k in range(len(body)):
                        self.wfile.write(body[k:k + 1])
                        self.wfile.flush()
                        time.sleep(0.5)
                except OSError:
                    pass  # the client gave up
                self.close_connection = True
                return
        for rule in args.drop:
            n, nbytes, times = rule.rsplit(":", 2)
            if n == name and rule_hits("drop", name, int(times)):
                self.wfile.write(body[: int(nbytes)])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
        self.wfile.write(body)


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--fail", action="append", default=[])
    p.add_argument("--drop", action="append", default=[])
    p.add_argument("--no-ranges", action="store_true")
    p.add_argument("--empty-206", action="append", default=[])
    p.add_argument("--slow", action="append", default=[])
    args = p.parse_args()
    # A parent that spawns from a thread with signals blocked passes the mask on: take SIGTERM again.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
