"""How many WebSockets may be open: per client address, per credential, in all.

Each role (``view``, ``ingest``) is counted apart per client address and per
credential (the bearer token or session cookie the connection presented, kept
only as a hash); the global limit counts every open WebSocket. A stolen token
used from many addresses is held by the per-credential limit, many addresses
with many sessions by the global one.

Example
-------
>>> limiter = ConnectionLimiter(per_client=2, per_credential=3, total=4)
>>> [limiter.acquire("view", "10.0.0.1", "tok") for _ in range(3)]
[None, None, 'too many connections from this client']
>>> limiter.acquire("view", "10.0.0.2", "tok"), limiter.acquire("view", "10.0.0.3", "tok")
(None, 'too many connections with this credential')
>>> limiter.acquire("view", "10.0.0.3", "other"), limiter.acquire("ingest", "10.0.0.4", "i")
(None, 'too many connections to this dashboard')
>>> limiter.release("view", "10.0.0.1", "tok"); limiter.acquire("ingest", "10.0.0.4", "i")
>>> limiter.open_count("view"), limiter.refused
(3, 3)
"""

from __future__ import annotations

import hashlib
from collections import Counter


def _fingerprint(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()[:32]


class ConnectionLimiter:
    """Counts open connections and refuses one beyond any of three limits."""

    def __init__(self, per_client: int, per_credential: int, total: int) -> None:
        if min(per_client, per_credential, total) < 1:
            raise ValueError("connection limits must be at least 1")
        self.per_client = per_client
        self.per_credential = per_credential
        self.total = total
        self._clients: Counter[tuple[str, str]] = Counter()
        self._credentials: Counter[tuple[str, str]] = Counter()
        self._open: Counter[str] = Counter()
        self.refused = 0

    def acquire(self, role: str, client: str, credential: str) -> str | None:
        """Reserve a connection; None when admitted, else why it is refused."""
        by_client, by_credential = (role, client), (role, _fingerprint(credential))
        reason = None
        if self._clients[by_client] >= self.per_client:
            reason = "too many connections from this client"
        elif self._credentials[by_credential] >= self.per_credential:
            reason = "too many connections with this credential"
        elif sum(self._open.values()) >= self.total:
            reason = "too many connections to this dashboard"
        if reason is not None:
            self.refused += 1
            return reason
        self._clients[by_client] += 1
        self._credentials[by_credential] += 1
        self._open[role] += 1
        return None

    def release(self, role: str, client: str, credential: str) -> None:
        """Free a connection reserved with :meth:`acquire`."""
        for counter, slot in ((self._clients, (role, client)),
                              (self._credentials, (role, _fingerprint(credential))),
                              (self._open, role)):
            counter[slot] -= 1
            if counter[slot] <= 0:
                del counter[slot]

    def open_count(self, role: str) -> int:
        """Open connections of ``role`` over all clients."""
        return self._open[role]
