"""Authentication and admission: bearer tokens, viewer sessions, origin checks,
connections per client.

Viewers prove the view token once (``POST /api/session`` with
``Authorization: Bearer <token>``) and receive an HttpOnly, SameSite=Strict
session cookie: an expiry time signed with HMAC-SHA256 keyed by the view token.
Nothing secret is ever rendered into a page. The flow side sends the ingest token
as a bearer token on the WebSocket upgrade.

Examples
--------
>>> cookie = make_session("s" * 20, ttl_s=60, now=1000.0)
>>> session_valid(cookie, "s" * 20, now=1030.0), session_valid(cookie, "s" * 20, now=1061.0)
(True, False)
>>> session_valid(cookie, "t" * 20, now=1030.0)
False
>>> origin_allowed("http://127.0.0.1:8050", host="127.0.0.1:8050", scheme="ws", allowed=())
True
>>> origin_allowed("http://evil.example", host="127.0.0.1:8050", scheme="ws", allowed=())
False
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

SESSION_COOKIE = "pynomaly_session"


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_matches(given: str | None, expected: str) -> bool:
    """Compare tokens in constant time."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _signature(secret: str, expiry: int) -> str:
    return hmac.new(secret.encode(), f"view:{expiry}".encode(), hashlib.sha256).hexdigest()


def make_session(secret: str, ttl_s: int, now: float | None = None) -> str:
    """A session cookie value valid for ``ttl_s`` seconds."""
    expiry = int((time.time() if now is None else now) + ttl_s)
    return f"{expiry}.{_signature(secret, expiry)}"


def session_valid(cookie: str | None, secret: str, now: float | None = None) -> bool:
    """Whether ``cookie`` was made with ``secret`` and has not expired."""
    if not cookie:
        return False
    expiry_text, _, signature = cookie.partition(".")
    if not expiry_text.isdigit():
        return False
    expiry = int(expiry_text)
    if expiry < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(signature, _signature(secret, expiry))


def origin_allowed(origin: str | None, host: str | None, scheme: str, allowed: Iterable[str]) -> bool:
    """Whether a WebSocket upgrade from ``origin`` may proceed.

    Requests without an ``Origin`` header come from non-browser clients (which
    a hostile page cannot drive) and pass; a browser's origin must be the
    dashboard's own origin or one of ``allowed``.
    """
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if origin in {o.rstrip("/").lower() for o in allowed}:
        return True
    if not host:
        return False
    http_scheme = "https" if scheme in ("wss", "https") else "http"
    return origin == f"{http_scheme}://{host.lower()}"


class ConnectionLimiter:
    """Counts open connections per (role, client address) and refuses beyond a limit.

    >>> limiter = ConnectionLimiter(2)
    >>> [limiter.acquire("view", "1.2.3.4") for _ in range(3)]
    [True, True, False]
    >>> limiter.release("view", "1.2.3.4"); limiter.acquire("view", "1.2.3.4")
    True
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[tuple[str, str], int] = {}
        self.refused = 0

    def acquire(self, role: str, client: str) -> bool:
        """Reserve one connection; False when the client is at its limit."""
        slot = (role, client)
        count = self._open.get(slot, 0)
        if count >= self.limit:
            self.refused += 1
            return False
        self._open[slot] = count + 1
        return True

    def release(self, role: str, client: str) -> None:
        """Free a connection reserved with :meth:`acquire`."""
        slot = (role, client)
        count = self._open.get(slot, 0) - 1
        if count <= 0:
            self._open.pop(slot, None)
        else:
            self._open[slot] = count

    def open_count(self, role: str) -> int:
        """Open connections of ``role`` over all clients."""
        return sum(n for (r, _), n in self._open.items() if r == role)
