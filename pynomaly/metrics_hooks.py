"""Delivery counters that sinks report to: a tiny interface with no-op defaults.

Sinks call the installed :class:`MetricsHooks` when messages are delivered,
retried or lost; a metrics exporter (Prometheus, OpenTelemetry) subclasses it
and calls :func:`install` once at start-up. Nothing is registered on import.
:class:`CountingHooks` keeps plain in-memory totals (tests, debugging).

Examples
--------
>>> from pynomaly import metrics_hooks
>>> counts = metrics_hooks.CountingHooks()
>>> previous = metrics_hooks.install(counts)
>>> metrics_hooks.current().delivered("kafka", "alerts", 3)
>>> metrics_hooks.current().failed("kafka", "alerts", 1, "broker down")
>>> dict(counts.totals)
{('delivered', 'kafka', 'alerts'): 3, ('failed', 'kafka', 'alerts'): 1}
>>> _ = metrics_hooks.install(previous)
"""

from __future__ import annotations

import threading
from collections import Counter


class MetricsHooks:
    """Receiver of delivery events; every method is a no-op here.

    ``sink`` names the sink kind (``"kafka"``, ``"kafka-dlq"``, ``"redis"``,
    ``"webhook"``) and ``target`` its destination (topic, stream, URL).
    """

    def delivered(self, sink: str, target: str, n: int) -> None:
        """``n`` messages were confirmed by the destination."""

    def retried(self, sink: str, target: str, n: int) -> None:
        """``n`` messages are being sent again after a retriable error."""

    def failed(self, sink: str, target: str, n: int, error: str) -> None:
        """``n`` messages could not be confirmed; the sink raises next."""

    def circuit(self, sink: str, target: str, state: str) -> None:
        """A circuit breaker moved to ``state`` (closed, open, half_open)."""


class CountingHooks(MetricsHooks):
    """Thread-safe in-memory totals keyed by ``(event, sink, target)``;
    circuit transitions are kept in order in :attr:`transitions`."""

    def __init__(self) -> None:
        self.totals: Counter[tuple[str, str, str]] = Counter()
        self.transitions: list[tuple[str, str, str]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def _add(self, event: str, sink: str, target: str, n: int) -> None:
        with self._lock:
            self.totals[(event, sink, target)] += n

    def delivered(self, sink: str, target: str, n: int) -> None:
        self._add("delivered", sink, target, n)

    def retried(self, sink: str, target: str, n: int) -> None:
        self._add("retried", sink, target, n)

    def failed(self, sink: str, target: str, n: int, error: str) -> None:
        self._add("failed", sink, target, n)
        with self._lock:
            self.errors.append(error)

    def circuit(self, sink: str, target: str, state: str) -> None:
        with self._lock:
            self.transitions.append((sink, target, state))

    def get(self, event: str, sink: str, target: str) -> int:
        """The total for one ``(event, sink, target)``; 0 when never reported."""
        with self._lock:
            return self.totals[(event, sink, target)]


_current: MetricsHooks = MetricsHooks()


def current() -> MetricsHooks:
    """The installed hooks (no-op until :func:`install` is called)."""
    return _current


def install(hooks: MetricsHooks) -> MetricsHooks:
    """Install ``hooks`` for every sink of this process; returns the previous ones."""
    global _current
    previous, _current = _current, hooks
    return previous
