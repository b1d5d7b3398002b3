"""Health and metrics HTTP endpoints of an engine process.

- ``/healthz`` — the process is alive (always 200 while it serves).
- ``/readyz`` — every readiness check passes (source connected, sinks
  writable, recovery store reachable): 200, else 503; the JSON body names each
  check and what is wrong.
- ``/metrics`` — the Prometheus exposition of the process's registry.

Served by a small threaded HTTP server in a daemon thread so it answers even
while the dataflow is busy.

>>> import json, urllib.request
>>> from prometheus_client import CollectorRegistry
>>> srv = HealthServer(CollectorRegistry(), port=0).start()
>>> srv.add_check("source", lambda: None)
>>> srv.add_check("sink:alerts", lambda: "broker 127.0.0.1:1 unreachable")
>>> try:
...     urllib.request.urlopen(srv.url + "/readyz")
... except urllib.error.HTTPError as e:
...     e.code, json.loads(e.read())["checks"]["sink:alerts"]
(503, {'ok': False, 'error': 'broker 127.0.0.1:1 unreachable'})
>>> json.loads(urllib.request.urlopen(srv.url + "/healthz").read())["status"]
'alive'
>>> srv.stop()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

#: A check returns None when healthy, else a one-line reason.
Check = Callable[[], "str | None"]


class HealthServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` on ``host:port``."""

    def __init__(self, registry: CollectorRegistry, host: str = "127.0.0.1", port: int = 0,
                 cache_s: float = 2.0) -> None:
        self.registry = registry
        self.checks: dict[str, Check] = {}
        self.cache_s = cache_s
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._started = time.time()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(server.registry), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    body = {"status": "alive", "uptime_s": round(time.time() - server._started, 3)}
                    self._send(200, orjson.dumps(body), "application/json")
                elif path == "/readyz":
                    report = server.readiness()
                    self._send(200 if report["ready"] else 503, orjson.dumps(report),
                               "application/json")
                else:
                    self._send(404, b'{"error":"not found"}', "application/json")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_check(self, name: str, check: Check) -> None:
        self.checks[name] = check
        self._cached = None

    def readiness(self) -> dict[str, Any]:
        """Run every check (results cached ``cache_s`` seconds)."""
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.cache_s:
                return self._cached[1]
            results: dict[str, Any] = {}
            for name, check in self.checks.items():
                try:
                    err = check()
                except Exception as exc:  # a failing check is a finding, not a crash
                    err = f"{type(exc).__name__}: {exc}"
                results[name] = {"ok": err is None} if err is None else {"ok": False, "error": err}
            report = {"ready": all(r["ok"] for r in results.values()), "checks": results}
            self._cached = (now, report)
            return report

    def start(self) -> HealthServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="health",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
