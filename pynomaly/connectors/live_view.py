"""Flow side of the live dashboard: a non-blocking publisher and a Bytewax sink.

:class:`LiveViewPublisher` takes events shaped as in
:mod:`pynomaly.dashboard.protocol` and pushes them in batches over an
authenticated WebSocket to the dashboard's ``/ws/ingest``. The caller never
waits: events go into a bounded in-memory queue (the oldest are dropped and
counted when it is full) and a background thread sends them, reconnecting with
capped exponential backoff when the dashboard is away. The dashboard learns of
drops from the ``dropped`` field of each batch.

:class:`LiveViewSink` wraps one publisher per Bytewax worker.

Examples
--------
Nothing listens on port 9 here; publishing still returns at once:

>>> pub = LiveViewPublisher("ws://127.0.0.1:9/ws/ingest", "t" * 24, max_queue=2)
>>> pub.publish_batch([{"type": "point", "key": "a", "ts": 0, "value": 1.0}] * 3)
2
>>> pub.stats()["dropped"]
1
>>> pub.close(timeout=1.0)
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from pynomaly.dashboard.protocol import encode_batch

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
        """Send what is queued (up to ``timeout``) and stop the sender thread."""
        if self.connected:
            self.flush(timeout)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

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
            if not self._queue:
                if self._stop.is_set():
                    return
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


class _LiveViewPartition(StatelessSinkPartition[Any]):
    def __init__(self, publisher: LiveViewPublisher) -> None:
        self.publisher = publisher

    def write_batch(self, items: list[Any]) -> None:
        self.publisher.publish_batch(items)

    def close(self) -> None:
        self.publisher.close(timeout=2.0)


class LiveViewSink(DynamicSink[Any]):
    """Bytewax sink publishing dashboard events (one publisher per worker).

    Items are dicts (or pydantic models) shaped as in
    :mod:`pynomaly.dashboard.protocol`. Writing never blocks the dataflow.

    Parameters
    ----------
    url, token
        The dashboard ingest endpoint and token.
    **publisher_options
        Passed to :class:`LiveViewPublisher`.
    """

    def __init__(self, url: str, token: str, **publisher_options: Any) -> None:
        self.url = url
        self.token = token
        self.publisher_options = publisher_options

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _LiveViewPartition:
        return _LiveViewPartition(LiveViewPublisher(self.url, self.token, **self.publisher_options))
