"""Backfill history kept in Redis (optional).

With ``redis_url`` set the dashboard writes, every ``redis_flush_s``, the new points
of every key that changed as one JSON chunk per key (``RPUSH`` onto
``<prefix>:h:<key>``, trimmed to ``history_points`` chunks), and the new alerts
and drift events (capped lists). Viewers selecting a key are backfilled from
Redis first, completed by the newer points still only in memory, so a restarted
dashboard, or a second replica, shows the same recent history. Writes happen off
the ingest path, batched in one pipeline per flush.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

if TYPE_CHECKING:
    from pynomaly.dashboard.hub import Hub

log = logging.getLogger(__name__)

TRIM_EVERY = 16
"""Chunks appended to a key between two trims of its list."""
FLUSH_SLICE = 1000
"""Keys written per pipeline; ingest runs between two slices."""


class RedisHistory:
    """Writes hub history to Redis and reads it back for backfill.

    Parameters
    ----------
    url
        Redis URL (``redis://host:port/db``).
    prefix
        Prefix of the keys written.
    history_points
        Points per key to keep and to return.
    alert_history
        Alerts (and drift events) to keep.
    """

    def __init__(self, url: str, prefix: str, history_points: int, alert_history: int) -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.from_url(url)
        self.prefix = prefix
        self.history_points = history_points
        self.alert_history = alert_history
        self._flushed: dict[str, int] = {}
        self._since_trim: dict[str, int] = {}
        self._alert_cursor = 0
        self._drift_cursor = 0
        self.errors = 0
        self.last_error: str | None = None

    def _hkey(self, key: str) -> str:
        return f"{self.prefix}:h:{key}"

    async def restore(self, hub: Hub) -> int:
        """Load known keys and recent alerts into an empty hub; returns keys restored."""
        keys = await self.client.smembers(f"{self.prefix}:keys")
        for raw in keys:
            key = raw.decode()
            if key not in hub.series:
                hub._new_series(key)
        for raw in await self.client.lrange(f"{self.prefix}:alerts", -self.alert_history, -1):
            alert = orjson.loads(raw)
            hub.alert_seq += 1
            alert["seq"] = hub.alert_seq
            hub.alerts.append(alert)
            s = hub.series.get(alert["key"])
            if s is not None:
                s.add_alert(alert)
        self._alert_cursor = hub.alert_seq
        return len(keys)

    async def flush(self, hub: Hub) -> int:
        """Write what changed since the last flush; returns the keys written.

        Keys are written in slices of :data:`FLUSH_SLICE`, one pipeline each, so
        ingest runs between slices. When Redis fails, the keys not yet written stay
        dirty and are retried from where they were at the next flush.
        """
        keys = list(hub.dirty)
        hub.dirty = set()
        written = 0
        for start in range(0, len(keys), FLUSH_SLICE):
            part = keys[start:start + FLUSH_SLICE]
            pipe = self.client.pipeline(transaction=False)
            before = {key: self._flushed.get(key) for key in part}
            written_here = self._queue_points(pipe, hub, part)
            if start == 0:
                self._push_feed(pipe, "alerts", hub.alerts, hub.alert_seq, "_alert_cursor")
                self._push_feed(pipe, "drift", hub.drifts, hub.drift_seq, "_drift_cursor")
            try:
                await pipe.execute()
            except Exception as exc:  # Redis down: keep serving from memory, report it
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("redis history flush failed: %s", self.last_error)
                for key, since in before.items():
                    if since is None:
                        self._flushed.pop(key, None)
                    else:
                        self._flushed[key] = since
                hub.dirty.update(keys[start:])
                return written
            written += written_here
        return written

    def _queue_points(self, pipe: Any, hub: Hub, keys: list[str]) -> int:
        written = 0
        new_keys = []
        for key in keys:
            s = hub.series.get(key)
            if s is None:
                continue
            since = self._flushed.get(key)
            if since is None:
                new_keys.append(key)
                since = 0
            cols = s.columns(since_total=since)
            self._flushed[key] = s.total
            if not len(cols["t"]):
                continue
            chunk = {"f": s.fields, "t": cols["t"], "s": cols["s"], "p": cols["p"],
                     "h": cols["h"], "v": [cols["v"][f] for f in s.fields]}
            hkey = self._hkey(key)
            pipe.rpush(hkey, orjson.dumps(chunk, option=orjson.OPT_SERIALIZE_NUMPY))
            count = self._since_trim.get(key, 0) + 1
            if count >= TRIM_EVERY:
                pipe.ltrim(hkey, -self.history_points, -1)
                count = 0
            self._since_trim[key] = count
            written += 1
        if new_keys:
            pipe.sadd(f"{self.prefix}:keys", *new_keys)
        return written

    def _push_feed(self, pipe: Any, name: str, feed: Any, seq: int, cursor_attr: str) -> None:
        new = seq - getattr(self, cursor_attr)
        if new <= 0:
            return
        items = list(feed)[-min(new, len(feed)):]
        setattr(self, cursor_attr, seq)
        if items:
            lkey = f"{self.prefix}:{name}"
            pipe.rpush(lkey, *[orjson.dumps({k: v for k, v in a.items() if k != "seq"})
                               for a in items])
            pipe.ltrim(lkey, -self.alert_history, -1)

    async def load(self, key: str) -> dict[str, Any] | None:
        """The stored points of ``key`` (last ``history_points``), or None if none."""
        blobs = await self.client.lrange(self._hkey(key), -self.history_points, -1)
        if not blobs:
            return None
        chunks = [orjson.loads(b) for b in blobs]
        fields = chunks[-1]["f"]

        def cat(name: str, dtype: Any) -> np.ndarray:
            return np.concatenate([np.asarray(c[name], dtype=dtype) for c in chunks])

        def col(values: list[float | None]) -> np.ndarray:
            return np.asarray([np.nan if x is None else x for x in values], dtype=np.float32)

        t = cat("t", np.float64)
        out = {"t": t, "s": np.concatenate([col(c["s"]) for c in chunks]),
               "p": np.concatenate([col(c["p"]) for c in chunks]),
               "h": np.concatenate([col(c["h"]) for c in chunks]), "v": {}, "missed": 0}
        for j, name in enumerate(fields):
            parts = [col(c["v"][j]) if c["f"] == fields else np.full(len(c["t"]), np.nan, np.float32)
                     for c in chunks]
            out["v"][name] = np.concatenate(parts)
        n = self.history_points
        return {k: (v[-n:] if isinstance(v, np.ndarray) else
                    {f: a[-n:] for f, a in v.items()} if isinstance(v, dict) else v)
                for k, v in out.items()} | {"fields": fields}

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()


def merge_backfill(stored: dict[str, Any] | None, memory: dict[str, Any], limit: int) -> dict[str, Any]:
    """Join points read from Redis with newer in-memory points (by event time order of
    arrival), keeping the last ``limit``.

    >>> a = {"t": np.array([1.0, 2.0]), "s": np.array([1, 2], np.float32),
    ...      "p": np.full(2, np.nan, np.float32), "h": np.full(2, np.nan, np.float32),
    ...      "v": {"value": np.array([10, 20], np.float32)}, "missed": 0}
    >>> b = {"t": np.array([2.0, 3.0]), "s": np.array([2, 3], np.float32),
    ...      "p": np.full(2, np.nan, np.float32), "h": np.full(2, np.nan, np.float32),
    ...      "v": {"value": np.array([20, 30], np.float32)}, "missed": 0}
    >>> merge_backfill(a, b, 10)["t"].tolist()
    [1.0, 2.0, 3.0]
    """
    if stored is None or not len(stored["t"]):
        return memory
    if not len(memory["t"]):
        return stored
    newer = memory["t"] > stored["t"][-1]
    out: dict[str, Any] = {"missed": 0}
    for name in ("t", "s", "p", "h"):
        out[name] = np.concatenate([stored[name], memory[name][newer]])[-limit:]
    out["v"] = {}
    for field, arr in memory["v"].items():
        old = stored["v"].get(field, np.full(len(stored["t"]), np.nan, np.float32))
        out["v"][field] = np.concatenate([old, arr[newer]])[-limit:]
    return out
