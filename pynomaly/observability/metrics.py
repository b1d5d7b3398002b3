"""Prometheus metrics of an engine process, registered explicitly.

Nothing is registered on import: :func:`enable` creates the metrics in a
registry (the default one, or one given) and installs them as the process's
:class:`EngineMetrics`; until then :func:`current` returns a no-op recorder,
so steps can always call it. Each Bytewax process exposes its own registry
on its own port (``--metrics-port`` + process id), which is how Prometheus
expects several processes to be scraped.

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> reg = CollectorRegistry()
>>> m = enable(reg)
>>> m.events_in("metrics/0", 10)
>>> m.parse_failed("malformed_json", 2)
>>> b"pynomaly_events_in_total{source=\\"metrics/0\\"} 10.0" in generate_latest(reg)
True
>>> _ = disable()
"""

from __future__ import annotations

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pynomaly.runtime import metrics_hooks

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0)


class NullMetrics:
    """The recorder used while metrics are not enabled: every call is a no-op."""

    def events_in(self, source: str, n: int) -> None: ...
    def parse_failed(self, reason: str, n: int = 1, stage: str = "parse") -> None: ...
    def scored(self, flow: str, detector: str, n: int) -> None: ...
    def alerts(self, flow: str, detector: str, n: int) -> None: ...
    def batch_latency(self, flow: str, stage: str, seconds: float) -> None: ...
    def event_lag(self, flow: str, seconds: float) -> None: ...
    def keys(self, flow: str, shard: str, live: int, evicted_total: int, overflow_total: int) -> None: ...
    def drift(self, flow: str, monitor: str, n: int = 1) -> None: ...
    def snapshot_duration(self, seconds: float) -> None: ...
    def held_back(self, flow: str, reason: str, n: int) -> None: ...
    def incidents(self, flow: str, event: str, n: int) -> None: ...


class EngineMetrics(NullMetrics, metrics_hooks.MetricsHooks):
    """All engine metrics in one registry; also the sinks' delivery hooks."""

    def __init__(self, registry: CollectorRegistry) -> None:
        p = "pynomaly_"
        self.registry = registry
        self._events_in = Counter(p + "events_in", "Records read, by source partition",
                                  ["source"], registry=registry)
        self._parse_failures = Counter(
            p + "parse_failures",
            "Records dead-lettered, by reason and stage (parse, or detect for late events and key overflow)",
            ["reason", "stage"], registry=registry)
        self._scored = Counter(p + "events_scored", "Events scored, by flow and detector",
                               ["flow", "detector"], registry=registry)
        self._alerts = Counter(p + "alerts", "Alerts emitted, by flow and detector",
                               ["flow", "detector"], registry=registry)
        self._latency = Histogram(p + "batch_latency_seconds",
                                  "Processing time of one micro-batch, by stage",
                                  ["flow", "stage"], buckets=LATENCY_BUCKETS, registry=registry)
        self._lag = Gauge(p + "event_time_lag_seconds",
                          "Wall clock minus the newest event time scored", ["flow"],
                          registry=registry)
        self._live = Gauge(p + "live_keys", "Keys with state, by shard", ["flow", "shard"],
                           registry=registry)
        self._evicted = Gauge(p + "evicted_keys", "Keys evicted as idle since start, by shard",
                              ["flow", "shard"], registry=registry)
        self._overflow = Gauge(p + "key_overflow_events",
                               "Events rejected by the live-key cap since start, by shard",
                               ["flow", "shard"], registry=registry)
        self._drift = Counter(p + "drift_events", "Drift events, by flow and monitor",
                              ["flow", "monitor"], registry=registry)
        self._delivered = Counter(p + "sink_delivered", "Messages confirmed by a sink",
                                  ["sink", "target"], registry=registry)
        self._retries = Counter(p + "sink_retries", "Messages sent again after a retriable error",
                                ["sink", "target"], registry=registry)
        self._failures = Counter(p + "sink_failures", "Messages a sink could not confirm",
                                 ["sink", "target"], registry=registry)
        self._circuit = Gauge(p + "sink_circuit_open", "1 while a sink's circuit breaker is open",
                              ["sink", "target"], registry=registry)
        self._held = Counter(p + "alerts_held_back",
                             "Alerts held back by verdict feedback or the alert budget",
                             ["flow", "reason"], registry=registry)
        self._incidents = Counter(p + "incident_events", "Incident records, by event",
                                  ["flow", "event"], registry=registry)
        self._snapshot = Histogram(p + "recovery_snapshot_seconds",
                                   "Time to serialise one shard's state for a recovery snapshot",
                                   buckets=LATENCY_BUCKETS, registry=registry)

    def events_in(self, source: str, n: int) -> None:
        self._events_in.labels(source).inc(n)

    def held_back(self, flow: str, reason: str, n: int) -> None:
        self._held.labels(flow, reason).inc(n)

    def incidents(self, flow: str, event: str, n: int) -> None:
        self._incidents.labels(flow, event).inc(n)

    def parse_failed(self, reason: str, n: int = 1, stage: str = "parse") -> None:
        self._parse_failures.labels(reason, stage).inc(n)

    def scored(self, flow: str, detector: str, n: int) -> None:
        self._scored.labels(flow, detector).inc(n)

    def alerts(self, flow: str, detector: str, n: int) -> None:
        self._alerts.labels(flow, detector).inc(n)

    def batch_latency(self, flow: str, stage: str, seconds: float) -> None:
        self._latency.labels(flow, stage).observe(seconds)

    def event_lag(self, flow: str, seconds: float) -> None:
        self._lag.labels(flow).set(seconds)

    def keys(self, flow: str, shard: str, live: int, evicted_total: int, overflow_total: int) -> None:
        self._live.labels(flow, shard).set(live)
        self._evicted.labels(flow, shard).set(evicted_total)
        self._overflow.labels(flow, shard).set(overflow_total)

    def drift(self, flow: str, monitor: str, n: int = 1) -> None:
        self._drift.labels(flow, monitor).inc(n)

    def snapshot_duration(self, seconds: float) -> None:
        self._snapshot.observe(seconds)

    # -- sink delivery hooks -------------------------------------------------
    def delivered(self, sink: str, target: str, n: int) -> None:
        self._delivered.labels(sink, target).inc(n)

    def retried(self, sink: str, target: str, n: int) -> None:
        self._retries.labels(sink, target).inc(n)

    def failed(self, sink: str, target: str, n: int, error: str) -> None:
        self._failures.labels(sink, target).inc(n)

    def circuit(self, sink: str, target: str, state: str) -> None:
        self._circuit.labels(sink, target).set(1.0 if state == "open" else 0.0)


_current: NullMetrics = NullMetrics()


def current() -> NullMetrics:
    """The process's recorder (a no-op until :func:`enable`)."""
    return _current


def enable(registry: CollectorRegistry | None = None) -> EngineMetrics:
    """Create the engine metrics in ``registry`` (default: the global one) and
    make them current, also as the sinks' delivery hooks. Idempotent per registry."""
    global _current
    reg = registry if registry is not None else DEFAULT_REGISTRY
    if isinstance(_current, EngineMetrics) and _current.registry is reg:
        return _current
    m = EngineMetrics(reg)
    _current = m
    metrics_hooks.install(m)
    return m


def install(recorder: NullMetrics) -> NullMetrics:
    """Make ``recorder`` current (a wrapper such as
    :class:`pynomaly.runtime.run_status.FlowCounters`); returns the one it replaces."""
    global _current
    previous, _current = _current, recorder
    return previous


def disable() -> NullMetrics:
    """Back to the no-op recorder; returns the one that was current."""
    global _current
    previous, _current = _current, NullMetrics()
    metrics_hooks.install(metrics_hooks.MetricsHooks())
    return previous
