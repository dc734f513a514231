"""Real HTTP servers for the outbound-call tests, in threads of the test process.

``HttpTestServer`` answers by path (the worker process calls it over loopback,
allow-listed for the test run) and records every request it gets, with the
time it arrived. ``Canary`` listens where nothing may reach: it counts
connections, so a refused destination can be shown to get zero hits.

Paths:
    /ok, /echo                 200, echoes method, path, headers and body as JSON
    /status/<code>             that status
    /flaky/<key>?fail=N        500 to the first N requests of <key>, then 200
    /limited/<key>?times=N&retry_after=S[&lower=1]
                               429 with Retry-After: S to the first N, then 200
                               (lower=1: the header name in lower case)
    /slow?seconds=S            waits S seconds before answering
    /redirect?to=URL           302 to URL
    /big?bytes=N               N bytes of body
    /files/<name>              what ``serve(name, content)`` registered, else 404
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Hit:
    at: float  # time.monotonic() on arrival
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: _RecordingServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        hit = Hit(time.monotonic(), self.command, self.path, dict(self.headers.items()), body)
        self.server.record(hit)
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        status, headers, payload = 200, {}, b""
        if parts[0] in ("ok", "echo", "webhook", ""):
            payload = json.dumps(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body.decode("utf-8", "replace"),
                }
            ).encode()
            headers["Content-Type"] = "application/json"
            headers["Set-Cookie"] = "session=server-secret"
        elif parts[0] == "status":
            status = int(parts[1])
        elif parts[0] == "flaky":
            if self.server.count(parts[1]) <= int(query.get("fail", 1)):
                status = 500
        elif parts[0] == "limited":
            if self.server.count(parts[1]) <= int(query.get("times", 1)):
                status = 429
                name = "retry-after" if query.get("lower") else "Retry-After"
                headers[name] = query.get("retry_after", "1")
        elif parts[0] == "slow":
            time.sleep(float(query.get("seconds", 1)))
        elif parts[0] == "redirect":
            status, headers["Location"] = 302, query["to"]
        elif parts[0] == "big":
            payload = b"x" * int(query["bytes"])
        elif parts[0] == "files":
            served = self.server.files.get("/".join(parts[1:]))
            status, payload = (200, served) if served is not None else (404, b"")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            # The client may stop reading (a capped body).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.lock = threading.Lock()
        self.hits: list[Hit] = []
        self.counts: Counter[str] = Counter()
        self.files: dict[str, bytes] = {}

    def record(self, hit: Hit) -> None:
        with self.lock:
            self.hits.append(hit)

    def count(self, key: str) -> int:
        """How many requests <key> has had, this one included."""
        with self.lock:
            self.counts[key] += 1
            return self.counts[key]


class HttpTestServer:
    def __init__(self) -> None:
        self._server = _RecordingServer(("127.0.0.1", 0))
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._server.lock:
            self._server.hits = []
            self._server.counts = Counter()
            self._server.files = {}

    def serve(self, name: str, content: bytes) -> str:
        """Answer ``GET /files/<name>`` with ``content``; returns its URL."""
        with self._server.lock:
            self._server.files[name] = content
        return f"{self.url}/files/{name}"

    def hits(self, path_prefix: str = "/") -> list[Hit]:
        with self._server.lock:
            return [hit for hit in self._server.hits if hit.path.startswith(path_prefix)]


class Canary:
    """Listens on 127.0.0.1 and ::1 at one port and counts who connects."""

    def __init__(self) -> None:
        self.connections = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        first.bind(("127.0.0.1", 0))
        self.port = int(first.getsockname()[1])
        self._sockets.append(first)
        try:
            second = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            second.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            second.bind(("::1", self.port))
            self._sockets.append(second)
        except OSError:
            pass  # no IPv6 loopback here
        self._stopped = threading.Event()

    def start(self) -> None:
        for sock in self._sockets:
            sock.listen(64)
            sock.settimeout(0.2)
            threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def _accept(self, sock: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.connections += 1
            conn.close()

    def hits(self) -> int:
        with self._lock:
            return self.connections

    def stop(self) -> None:
        self._stopped.set()
        for sock in self._sockets:
            sock.close()
