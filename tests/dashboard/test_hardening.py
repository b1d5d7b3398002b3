"""Dashboard hardening against a served app, over real sockets: the origin
allow-list (not the request's own Host), connection limits per credential and
in all, and the deadlines on half-sent and idle HTTP requests."""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Iterator

import pytest
from dashboard_support import INGEST_TOKEN, VIEW_TOKEN

from pynomaly.dashboard.auth import make_session
from pynomaly.dashboard.config import DashboardSettings
from pynomaly.dashboard.server import DashboardServer

#: Longest wait for the server to act; timeouts under test are far shorter.
PATIENCE_S = 30.0


def _settings(**over) -> DashboardSettings:
    base = dict(ingest_token=INGEST_TOKEN, view_token=VIEW_TOKEN, tick_s=0.1,
                header_timeout_s=1.0, keep_alive_timeout_s=1.0)
    return DashboardSettings(**(base | over))


@pytest.fixture
def server(request) -> Iterator[DashboardServer]:
    over = getattr(request, "param", {})
    with DashboardServer(_settings(**over)) as served:
        yield served


def _connect(server: DashboardServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=PATIENCE_S)
    sock.settimeout(PATIENCE_S)
    return sock


def _upgrade(server: DashboardServer, path: str, headers: dict[str, str]) -> tuple[int, socket.socket]:
    """Open a WebSocket upgrade by hand; the status line's code and the socket."""
    sock = _connect(server)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    lines += [f"{k}: {v}" for k, v in ({"Host": f"{server.host}:{server.port}"} | headers).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, f"closed before a response: {head!r}"
        head += chunk
    return int(head.split(b" ", 2)[1]), sock


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes, float]:
    """Read until the server closes; (closed, bytes read, seconds taken)."""
    start = time.monotonic()
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        return False, data, time.monotonic() - start
    return True, data, time.monotonic() - start


VIEW = {"Authorization": f"Bearer {VIEW_TOKEN}"}


# -- origins ---------------------------------------------------------------------------
def test_origin_is_checked_against_the_public_url_not_the_host_header(server):
    own = f"http://{server.host}:{server.port}"
    status, sock = _upgrade(server, "/ws/view", VIEW | {"Origin": own})
    sock.close()
    assert status == 101
    # A DNS-rebinding page: Host and Origin agree, and both are foreign.
    rebound = f"evil.example:{server.port}"
    status, sock = _upgrade(server, "/ws/view", VIEW | {"Host": rebound,
                                                       "Origin": f"http://{rebound}"})
    sock.close()
    assert status == 403
    status, sock = _upgrade(server, "/ws/view", VIEW | {"Origin": f"http://localhost:{server.port}"})
    sock.close()
    assert status == 101  # a loopback alias of a loopback public URL


@pytest.mark.parametrize("server", [{"public_url": "https://dash.example",
                                     "allowed_origins": ("https://ops.example",)}], indirect=True)
def test_configured_public_url_and_allowed_origins(server):
    for origin, expected in (("https://dash.example", 101), ("https://ops.example", 101),
                             (f"http://{server.host}:{server.port}", 403),
                             ("http://dash.example", 403), ("null", 403)):
        status, sock = _upgrade(server, "/ws/view", VIEW | {"Origin": origin})
        sock.close()
        assert status == expected, origin


def test_a_public_url_that_is_not_a_url_is_refused():
    with pytest.raises(ValueError, match=r"public_url / allowed_origins: not an http\(s\) URL"):
        _settings(public_url="dash.example")


# -- connection limits -------------------------------------------------------------------
@pytest.mark.parametrize("server", [{"max_connections_per_client": 100,
                                     "max_connections_per_token": 2,
                                     "max_connections": 4}], indirect=True)
def test_connection_limits_per_credential_and_in_all(server):
    opened = []
    try:
        for _ in range(2):
            status, sock = _upgrade(server, "/ws/view", VIEW)
            opened.append(sock)
            assert status == 101
        status, sock = _upgrade(server, "/ws/view", VIEW)  # the same token a third time
        sock.close()
        assert status == 429
        sessions = [make_session(VIEW_TOKEN, ttl_s=600 + i) for i in range(3)]
        for cookie in sessions[:2]:  # other credentials: admitted up to the global limit
            status, sock = _upgrade(server, "/ws/view", {"Cookie": f"pynomaly_session={cookie}"})
            opened.append(sock)
            assert status == 101
        status, sock = _upgrade(server, "/ws/view", {"Cookie": f"pynomaly_session={sessions[2]}"})
        sock.close()
        assert status == 429  # 4 open in all
        status, sock = _upgrade(server, "/ws/ingest", {"Authorization": f"Bearer {INGEST_TOKEN}"})
        sock.close()
        assert status == 429  # the global limit counts every role
        opened.pop(0).close()  # a token connection goes: that token may connect again
        limiter = server.app.state.dashboard.limiter
        deadline = time.monotonic() + PATIENCE_S
        while limiter.open_count("view") > 3:
            assert time.monotonic() < deadline, "the closed connection was never released"
            time.sleep(0.05)
        status, sock = _upgrade(server, "/ws/view", VIEW)
        opened.append(sock)
        assert status == 101
    finally:
        for sock in opened:
            sock.close()


# -- HTTP deadlines ----------------------------------------------------------------------
def test_half_sent_request_is_closed_after_the_header_timeout(server):
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and then nothing
    closed, data, took = _closed_within(sock, PATIENCE_S)
    sock.close()
    assert closed, "a half-sent request kept its connection"
    assert data.startswith(b"HTTP/1.1 408"), data
    assert 0.5 <= took < PATIENCE_S


def test_silent_connection_is_closed_after_the_header_timeout(server):
    sock = _connect(server)
    closed, data, _ = _closed_within(sock, PATIENCE_S)
    sock.close()
    assert closed and data == b""


def test_idle_keep_alive_connection_is_closed(server):
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    closed, data, took = _closed_within(sock, PATIENCE_S)
    sock.close()
    assert data.startswith(b"HTTP/1.1 200")
    assert closed and took >= 0.5


def test_a_slow_but_steady_client_still_gets_its_answer(server):
    sock = _connect(server)
    for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
        sock.sendall(part)
        time.sleep(0.2)
    _, data, _ = _closed_within(sock, PATIENCE_S)
    sock.close()
    assert data.startswith(b"HTTP/1.1 200")


def test_websocket_is_not_cut_by_the_header_timeout(server):
    status, sock = _upgrade(server, "/ws/view", VIEW)
    assert status == 101
    time.sleep(2.5)  # over twice the header timeout: an open socket stays open
    sock.settimeout(0.5)
    try:
        assert sock.recv(4096) != b"", "the WebSocket was closed"
    except TimeoutError:
        pass  # nothing to read yet, and still open
    finally:
        sock.close()


def test_oversized_incomplete_headers_are_refused(server):
    sock = _connect(server)  # headers beyond max_header_bytes, never finished
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000)
    closed, data, _ = _closed_within(sock, PATIENCE_S)
    sock.close()
    assert closed and data.startswith(b"HTTP/1.1 4"), data[:80]
    assert b"408" not in data[:12], "refused for its size, not by the deadline"
