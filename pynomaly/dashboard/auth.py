"""Authentication: bearer tokens and viewer sessions (origins are checked by
:mod:`pynomaly.dashboard.origins`, connections counted by :mod:`pynomaly.dashboard.limits`).

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
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

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
