"""Delivery counters that sinks report to: a tiny interface with no-op defaults.

Sinks call the installed :class:`MetricsHooks` when messages are delivered,
retried or lost; a metrics exporter (Prometheus, OpenTelemetry) subclasses it
and calls :func:`install` once at start-up. Nothing is registered on import.
:class:`CountingHooks` keeps plain in-memory totals (tests, debugging).

Examples
--------
>>> from pynomaly.runtime import metrics_hooks
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


class SinkHealth(MetricsHooks):
    """The latest state of every sink of this process: ``"ok"`` after a
    confirmed delivery, ``"retrying"`` after a retriable error, ``"failing"``
    after a loss or while its circuit is open. Always recorded, whatever hooks
    are installed; the live view reports it to the dashboard.

    >>> h = SinkHealth()
    >>> h.delivered("kafka", "alerts", 3); h.failed("webhook", "http://x", 1, "503")
    >>> h.snapshot()
    {'kafka:alerts': 'ok', 'webhook:http://x': 'failing'}
    """

    def __init__(self) -> None:
        self._state: dict[str, str] = {}

    def delivered(self, sink: str, target: str, n: int) -> None:
        self._state[f"{sink}:{target}"] = "ok"

    def retried(self, sink: str, target: str, n: int) -> None:
        self._state[f"{sink}:{target}"] = "retrying"

    def failed(self, sink: str, target: str, n: int, error: str) -> None:
        self._state[f"{sink}:{target}"] = "failing"

    def circuit(self, sink: str, target: str, state: str) -> None:
        self._state[f"{sink}:{target}"] = "failing" if state == "open" else "ok"

    def snapshot(self) -> dict[str, str]:
        return dict(self._state)


class _Tee(MetricsHooks):
    """Forwards every event to the sink-health record and to the installed hooks."""

    def __init__(self, health: SinkHealth, hooks: MetricsHooks) -> None:
        self.health, self.hooks = health, hooks

    def delivered(self, sink: str, target: str, n: int) -> None:
        self.health.delivered(sink, target, n)
        self.hooks.delivered(sink, target, n)

    def retried(self, sink: str, target: str, n: int) -> None:
        self.health.retried(sink, target, n)
        self.hooks.retried(sink, target, n)

    def failed(self, sink: str, target: str, n: int, error: str) -> None:
        self.health.failed(sink, target, n, error)
        self.hooks.failed(sink, target, n, error)

    def circuit(self, sink: str, target: str, state: str) -> None:
        self.health.circuit(sink, target, state)
        self.hooks.circuit(sink, target, state)


_health = SinkHealth()
_installed: MetricsHooks = MetricsHooks()
_current: MetricsHooks = _Tee(_health, _installed)


def current() -> MetricsHooks:
    """What sinks report to: the installed hooks (no-op until :func:`install`),
    with the process's sink health recorded on the way."""
    return _current


def install(hooks: MetricsHooks) -> MetricsHooks:
    """Install ``hooks`` for every sink of this process; returns the previous ones."""
    global _current, _installed
    previous, _installed = _installed, hooks
    _current = _Tee(_health, hooks)
    return previous


def sink_health() -> dict[str, str]:
    """``{"<sink>:<target>": "ok" | "retrying" | "failing"}`` for this process."""
    return _health.snapshot()
