"""Flow side of the live dashboard: a non-blocking publisher and a Bytewax sink.

:class:`LiveViewPublisher` takes events shaped as in
:mod:`pynomaly.dashboard.protocol` and pushes them in batches over an
authenticated WebSocket to the dashboard's ``/ws/ingest``. The caller never
waits: events go into a bounded in-memory queue (the oldest are dropped and
counted when it is full) and a background thread sends them, reconnecting with
capped exponential backoff when the dashboard is away. The dashboard learns of
drops from the ``dropped`` field of each batch.

:class:`LiveViewSink` wraps one publisher per Bytewax worker; it takes protocol
events or the outputs of the flow's detect step, and adds stats events.

Examples
--------
Nothing listens on port 9 here; publishing still returns at once:

>>> pub = LiveViewPublisher("ws://127.0.0.1:9/ws/ingest", "t" * 24, max_queue=2)
>>> pub.publish_batch([{"type": "point", "key": "a", "ts": 0, "value": 1.0}] * 3)
2
>>> pub.stats()["dropped"]
1
>>> pub.close(timeout=1.0)  # what could not be sent is counted too
>>> pub.stats()["dropped"], pub.stats()["queued"]
(3, 0)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from pynomaly.dashboard.protocol import encode_batch
from pynomaly.runtime import metrics_hooks

log = logging.getLogger(__name__)


class LiveViewPublisher:
    """Publish dashboard events from a flow without ever blocking it.

    Parameters
    ----------
    url
        The dashboard's ingest endpoint, e.g. ``ws://127.0.0.1:8050/ws/ingest``.
    token
        The dashboard's ingest token (sent as ``Authorization: Bearer``).
    max_queue
        Events held while the dashboard is slow or away; beyond it the oldest
        are dropped and counted.
    max_batch
        Events per WebSocket message.
    flush_interval_s
        How long the sender lets events gather before sending a partial batch.
    max_backoff_s
        Longest wait between reconnection attempts.
    compression
        ``"deflate"`` to compress messages (worth it over slow links), None for
        loopback and fast networks.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        max_queue: int = 50_000,
        max_batch: int = 2_000,
        flush_interval_s: float = 0.05,
        max_backoff_s: float = 5.0,
        open_timeout_s: float = 5.0,
        compression: str | None = None,
    ) -> None:
        if max_queue < 1 or max_batch < 1:
            raise ValueError("max_queue and max_batch must be positive")
        self.url = url
        self._headers = {"Authorization": f"Bearer {token}"}
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.flush_interval_s = flush_interval_s
        self.max_backoff_s = max_backoff_s
        self.open_timeout_s = open_timeout_s
        self.compression = compression
        self._queue: deque[Any] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._seq = 0
        self.published = 0
        self.sent = 0
        self.dropped = 0
        self.batches = 0
        self.reconnects = 0
        self.connected = False
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="live-view-publisher", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ caller side
    def publish_batch(self, events: Iterable[Any]) -> int:
        """Queue ``events`` for sending; returns how many were queued. Never blocks
        beyond a short lock."""
        items = events if isinstance(events, list) else list(events)
        if not items:
            return 0
        if len(items) > self.max_queue:
            with self._lock:
                self.dropped += len(items) - self.max_queue
            items = items[-self.max_queue:]
        with self._lock:
            overflow = len(self._queue) + len(items) - self.max_queue
            if overflow > 0:
                for _ in range(overflow):
                    self._queue.popleft()
                self.dropped += overflow
            self._queue.extend(items)
            self.published += len(items)
        if len(self._queue) >= self.max_batch:
            self._wake.set()
        return len(items)

    def publish(self, event: Any) -> int:
        """Queue one event (see :meth:`publish_batch`)."""
        return self.publish_batch([event])

    def stats(self) -> dict[str, Any]:
        """Counters: published, sent, dropped, queued, batches, reconnects, connected."""
        return {"published": self.published, "sent": self.sent, "dropped": self.dropped,
                "queued": len(self._queue), "batches": self.batches,
                "reconnects": self.reconnects, "connected": self.connected,
                "last_error": self.last_error}

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the queue is empty (sent) or ``timeout``; True when empty."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while time.monotonic() < deadline:
            if not self._queue and not self._sending:
                return True
            time.sleep(0.01)
        return not self._queue

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (waiting up to ``timeout``), stop the sender thread and
        count what could not be sent as dropped."""
        if self.connected:
            self.flush(timeout)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        with self._lock:
            self.dropped += len(self._queue)
            self._queue.clear()

    def __enter__(self) -> LiveViewPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ sender side
    _sending = False

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                with connect(self.url, additional_headers=self._headers, proxy=None,
                             compression=self.compression, open_timeout=self.open_timeout_s,
                             max_size=None) as ws:
                    self.connected = True
                    self.last_error = None
                    backoff = 0.1
                    self._pump(ws)
            except InvalidStatus as exc:
                self.last_error = f"dashboard refused the connection: HTTP {exc.response.status_code}"
                log.warning("live view: %s", self.last_error)
            except (OSError, TimeoutError, WebSocketException) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                self.connected = False
            if self._stop.is_set():
                break
            self.reconnects += 1
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    def _pump(self, ws: ClientConnection) -> None:
        while True:
            if len(self._queue) < self.max_batch and not self._stop.is_set():
                self._wake.wait(self.flush_interval_s)
                self._wake.clear()
            if self._stop.is_set():  # close() already gave flush() its time
                return
            if not self._queue:
                continue
            with self._lock:
                n = min(self.max_batch, len(self._queue))
                batch = [self._queue.popleft() for _ in range(n)]
                dropped = self.dropped
                self._sending = True
            try:
                self._seq += 1
                ws.send(encode_batch(batch, seq=self._seq, dropped=dropped))
            except BaseException:
                with self._lock:
                    self.dropped += len(batch)
                raise
            finally:
                self._sending = False
            self.sent += len(batch)
            self.batches += 1


def _column(value: Any, n: int) -> list[float | None]:
    """``value`` (None, a scalar or an array of n) as n floats or Nones."""
    if value is None:
        return [None] * n
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    return [None if not np.isfinite(x) else x for x in arr.tolist()]


def detect_output_events(
    output: Any, fields: Sequence[str] | None = None, threshold: float | None = None,
    points: bool = True, threshold_on: str = "score",
) -> list[dict[str, Any]]:
    """Protocol events for one output of the flow's detect step.

    ``output`` has ``alerts`` (alert records), ``drift`` (``{"key", "ts" (epoch
    s), "monitor", "detail"}``) and ``points``: tuples ``(key, event times in
    epoch s, values (n, fields), scores[, probabilities[, thresholds[, ...]]])``
    where probabilities and thresholds are arrays, scalars or None. Field names
    come from ``fields`` (else ``value`` or ``f0``, ``f1``, ...); ``threshold``
    is used when the tuple carries none, on the scale ``threshold_on``
    (``"score"`` or ``"probability"``).

    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> out = SimpleNamespace(alerts=[{"id": "x", "key": "k"}], drift=[], points=[
    ...     ("k", np.array([1.0]), np.array([[0.5, 2.0]]), np.array([3.0]))])
    >>> events = detect_output_events(out, fields=["cpu", "mem"], threshold=8.0)
    >>> events[0]
    {'type': 'point', 'key': 'k', 'ts': 1000.0, 'value': {'cpu': 0.5, 'mem': 2.0}, 'score': 3.0, 'probability': None, 'threshold': 8.0, 'threshold_on': 'score'}
    >>> events[1]["type"]
    'alert'
    """
    events: list[dict[str, Any]] = []
    if points:
        for item in getattr(output, "points", ()):
            key, times, values, scores = item[:4]
            x = np.asarray(values, dtype=np.float64)
            if x.ndim == 1:
                x = x[:, None]
            n = len(x)
            names = list(fields) if fields and len(fields) == x.shape[1] else (
                ["value"] if x.shape[1] == 1 else [f"f{j}" for j in range(x.shape[1])])
            ts = (np.asarray(times, dtype=np.float64) * 1000.0).tolist()
            sc = _column(scores, n)
            pr = _column(item[4] if len(item) > 4 else None, n)
            th = _column(item[5] if len(item) > 5 and item[5] is not None else threshold, n)
            for i, row in enumerate(x.tolist()):
                events.append({"type": "point", "key": str(key), "ts": ts[i],
                               "value": dict(zip(names, row, strict=True)), "score": sc[i],
                               "probability": pr[i], "threshold": th[i],
                               "threshold_on": threshold_on})
    for alert in getattr(output, "alerts", ()):
        events.append({"type": "alert", **alert})
    for drift in getattr(output, "drift", ()):
        events.append({"type": "drift", "key": drift.get("key"), "ts": float(drift["ts"]) * 1000.0,
                       "monitor": drift.get("monitor") or "drift",
                       "detail": drift.get("detail")})
    windows = getattr(output, "windows", None)
    if windows is not None:
        events.append({"type": "windows", "windows": windows})
    return events


class FlowStats:
    """Stats events (events/s, event-time lag, alert rate, active keys) measured
    from what passes through the sink, one every ``interval_s``."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._start = time.monotonic()
        self._events = 0
        self._alerts = 0
        self._drift = 0
        self._keys: set[str] = set()
        self._max_event_time: float | None = None

    def observe(self, events: list[dict[str, Any]], scored: int) -> dict[str, Any] | None:
        """Account for ``events``; returns a stats event when one is due."""
        self._events += scored
        for e in events:
            kind = e.get("type")
            if kind == "point":
                self._keys.add(e["key"])
                t = e["ts"]
                if self._max_event_time is None or t > self._max_event_time:
                    self._max_event_time = t
            elif kind == "alert":
                self._alerts += 1
            elif kind == "drift":
                self._drift += 1
        elapsed = time.monotonic() - self._start
        if elapsed < self.interval_s:
            return None
        lag = None if self._max_event_time is None else time.time() - self._max_event_time / 1000.0
        stats = {"type": "stats", "events_per_s": self._events / elapsed,
                 "lag_s": lag, "alert_rate": self._alerts / self._events if self._events else 0.0,
                 "active_keys": len(self._keys), "drift_events": self._drift,
                 "sinks": metrics_hooks.sink_health()}
        self._start = time.monotonic()
        self._events = self._alerts = 0
        self._keys = set()
        return stats


class _LiveViewPartition(StatelessSinkPartition[Any]):
    def __init__(self, publisher: LiveViewPublisher, fields: Sequence[str] | None,
                 threshold: float | None, points: bool, stats_interval_s: float,
                 threshold_on: str = "score") -> None:
        self.publisher = publisher
        self.fields = fields
        self.threshold = threshold
        self.points = points
        self.threshold_on = threshold_on
        self.stats = FlowStats(stats_interval_s)

    def write_batch(self, items: list[Any]) -> None:
        events: list[dict[str, Any]] = []
        scored = 0
        for item in items:
            if isinstance(item, dict):
                events.append(item)
                scored += item.get("type") == "point"
            else:
                events.extend(detect_output_events(item, self.fields, self.threshold, self.points,
                                                   self.threshold_on))
                scored += int(getattr(item, "scored", 0))
        stats = self.stats.observe(events, scored)
        if stats is not None:
            events.append(stats)
        self.publisher.publish_batch(events)

    def close(self) -> None:
        self.publisher.close(timeout=2.0)


class LiveViewSink(DynamicSink[Any]):
    """Bytewax sink publishing to the live dashboard (one publisher per worker).

    Items are protocol events (dicts, see :mod:`pynomaly.dashboard.protocol`) or
    outputs of the flow's detect step (objects with ``alerts``, ``points`` and
    ``scored``), converted by :func:`detect_output_events`. A stats event
    measured from the items is added every ``stats_interval_s``. Writing never
    blocks the dataflow.

    Parameters
    ----------
    url
        The dashboard ingest endpoint.
    token
        The ingest token; default ``$PYNOMALY_DASHBOARD_INGEST_TOKEN`` (or
        ``$PYNOMALY_INGEST_TOKEN``).
    flow
        Name of the flow (for logs).
    points
        Publish every scored point, not only alerts.
    fields, threshold, threshold_on
        Value field names, and the threshold with its scale (``"score"`` or
        ``"probability"``), attached to points when the outputs carry none.
    **publisher_options
        Passed to :class:`LiveViewPublisher`.
    """

    def __init__(self, url: str, token: str | None = None, *, flow: str = "",
                 points: bool = True, fields: Sequence[str] | None = None,
                 threshold: float | None = None, threshold_on: str = "score",
                 stats_interval_s: float = 1.0, **publisher_options: Any) -> None:
        token = token or os.environ.get("PYNOMALY_DASHBOARD_INGEST_TOKEN") or \
            os.environ.get("PYNOMALY_INGEST_TOKEN")
        if not token:
            raise ValueError(f"dashboard sink of flow {flow!r} needs an ingest token "
                             "(token= or $PYNOMALY_DASHBOARD_INGEST_TOKEN)")
        self.url = url
        self.token = token
        self.flow = flow
        self.points = points
        self.fields = list(fields) if fields else None
        self.threshold = threshold
        self.threshold_on = threshold_on
        self.stats_interval_s = stats_interval_s
        self.publisher_options = publisher_options

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _LiveViewPartition:
        publisher = LiveViewPublisher(self.url, self.token, **self.publisher_options)
        return _LiveViewPartition(publisher, self.fields, self.threshold, self.points,
                                  self.stats_interval_s, self.threshold_on)
