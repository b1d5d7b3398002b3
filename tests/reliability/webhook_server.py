"""A local HTTP endpoint that fails on purpose, for webhook sink tests.

``FlakyEndpoint(plan)`` answers each POST with ``plan(n, body)`` (n counts
requests from 0) and records every request; :meth:`stop`/:meth:`start` take
the port down and back up (connection refused in between).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson


class FlakyEndpoint:
    def __init__(self, plan: Callable[[int, bytes], int], port: int = 0) -> None:
        self.plan = plan
        self.requests: list[tuple[float, int, str, bytes]] = []  # (time, status, key, body)
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/alerts"

    def start(self) -> FlakyEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with endpoint._lock:
                    status = endpoint.plan(len(endpoint.requests), body)
                    endpoint.requests.append((time.monotonic(), status,
                                              self.headers.get("idempotency-key", ""), body))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accepted_ids(self) -> list[str]:
        """Alert ids of the requests answered with 2xx, in arrival order."""
        with self._lock:
            return [orjson.loads(b)["id"] for _, s, _, b in self.requests if 200 <= s < 300]

    def __enter__(self) -> FlakyEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
