"""Serving the dashboard with uvicorn: in the foreground (``pynomaly dashboard``) or
in a background thread (``pynomaly demo``, tests, benchmarks).

Examples
--------
>>> from pynomaly.dashboard.config import DashboardSettings
>>> settings = DashboardSettings(ingest_token="i" * 16, view_token="v" * 16)
>>> with DashboardServer(settings, port=0) as server:
...     server.ingest_url.startswith("ws://127.0.0.1:"), "#token=" in server.viewer_url
(True, True)
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from pynomaly.dashboard.app import create_app
from pynomaly.dashboard.config import DashboardSettings
from pynomaly.dashboard.http_timeouts import header_timeout_protocol
from pynomaly.dashboard.protocol import MAX_BATCH_BYTES


def with_public_url(settings: DashboardSettings, host: str, port: int) -> DashboardSettings:
    """``settings`` with ``public_url`` defaulting to the address served on
    (loopback for a wildcard address), so only that origin may connect.

    >>> s = DashboardSettings(ingest_token="i" * 16, view_token="v" * 16)
    >>> with_public_url(s, "0.0.0.0", 8765).public_url
    'http://127.0.0.1:8765'
    >>> with_public_url(s.with_changes(public_url="https://dash.example"), "0.0.0.0", 8765).public_url
    'https://dash.example'
    """
    if settings.public_url:
        return settings
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return settings.with_changes(public_url=f"http://{shown}:{port}")


def uvicorn_config(settings: DashboardSettings, host: str, port: int, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration the dashboard runs under: the app for
    ``settings`` (public URL defaulting to ``host:port``) and the HTTP limits
    (header deadline, keep-alive timeout, header size)."""
    options.setdefault("log_level", "warning")
    settings = with_public_url(settings, host, port)
    return uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        http=header_timeout_protocol(settings.header_timeout_s),
        timeout_keep_alive=settings.keep_alive_timeout_s,  # type: ignore[arg-type]
        h11_max_incomplete_event_size=settings.max_header_bytes,
        ws="websockets-sansio",
        ws_max_size=MAX_BATCH_BYTES + 65536,
        ws_per_message_deflate=False,
        proxy_headers=False,
        server_header=False,
        lifespan="on",
        **options,
    )


def serve(settings: DashboardSettings, host: str = "127.0.0.1", port: int = 8050, **options: Any) -> None:
    """Run the dashboard in the foreground until interrupted."""
    uvicorn.Server(uvicorn_config(settings, host, port, **options)).run()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class DashboardServer:
    """The dashboard served by uvicorn in a daemon thread.

    Parameters
    ----------
    settings
        Dashboard settings (tokens included).
    host, port
        Where to listen; ``port=0`` picks a free port.
    """

    def __init__(self, settings: DashboardSettings, host: str = "127.0.0.1", port: int = 0,
                 **options: Any) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.settings = with_public_url(settings, host, self.port)
        self._server = uvicorn.Server(uvicorn_config(self.settings, host, self.port, **options))
        self._thread: threading.Thread | None = None

    @property
    def app(self) -> Any:
        """The Starlette app (``app.state.dashboard`` holds the hub)."""
        return self._server.config.app

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ingest_url(self) -> str:
        """Where a :class:`~pynomaly.connectors.live_view.LiveViewPublisher` connects."""
        return f"ws://{self.host}:{self.port}/ws/ingest"

    @property
    def viewer_url(self) -> str:
        """The page URL with the view token in the fragment (never sent to the server)."""
        return f"{self.base_url}/#token={self.settings.view_token}"

    def start(self, timeout: float = 10.0) -> DashboardServer:
        """Start serving and wait until the socket accepts connections."""
        self._thread = threading.Thread(target=self._server.run, name="dashboard", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"dashboard did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for it."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
