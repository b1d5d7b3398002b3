"""What ``pynomaly run`` says while it runs: a start line, a periodic status, a summary.

:class:`FlowCounters` sits in front of the process's metrics recorder (see
:mod:`pynomaly.observability.metrics`): it counts records read, alerts and
dead letters and keeps the newest event-time lag, and passes every call on.
:class:`RunStatus` installs it, prints the start line, a one-line status every
``interval_s`` from a background thread, and a summary at the end.

>>> import io
>>> from pynomaly.spec import FlowSpec
>>> spec = FlowSpec.model_validate({"name": "cpu",
...     "source": {"type": "kafka", "bootstrap_servers": "k:9092", "topics": ["metrics"]},
...     "record": {"value_fields": ["cpu"]},
...     "sinks": [{"type": "kafka", "bootstrap_servers": "k:9092", "topic": "alerts"},
...               {"type": "dashboard", "url": "ws://127.0.0.1:8765/ws/ingest"}]})
>>> start_line(spec, "cpu", workers=2, processes=1, metrics_url="http://127.0.0.1:9100")
'run cpu | source kafka k:9092 [metrics] | sinks kafka k:9092/alerts, dashboard http://127.0.0.1:8765/ | dead letters stderr | detect banked | 2 workers | metrics http://127.0.0.1:9100/metrics'
>>> protected = spec.model_copy(update={"detection": spec.detection.model_copy(
...     update={"protect": True})})
>>> start_line(protected, "cpu", workers=1, processes=1).split(" | ")[4]
'detect per key (protect)'
>>> c = FlowCounters()
>>> c.events_in("metrics/0", 1000); c.alerts("cpu", "hst", 2); c.parse_failed("bad_json", 3)
>>> c.event_lag("cpu", 0.25)
>>> status_line(c.snapshot(), rate=500.0)
'status: 500 records/s, 1,000 records, event-time lag 0.2 s, 2 alerts, 3 dead letters'
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from pynomaly.observability import metrics
from pynomaly.observability.metrics import NullMetrics

__all__ = ["Counts", "FlowCounters", "RunStatus", "describe_sink", "start_line", "status_line",
           "summary_line"]


@dataclass(frozen=True)
class Counts:
    """Totals at one moment."""

    records: int = 0
    alerts: int = 0
    dead_letters: int = 0
    #: wall clock minus the newest event time scored (None before the first batch)
    lag_s: float | None = None


class FlowCounters(NullMetrics):
    """A metrics recorder that counts what a status line shows and forwards
    every call to ``inner`` (the recorder it wraps)."""

    def __init__(self, inner: NullMetrics | None = None) -> None:
        self.inner = inner if inner is not None else NullMetrics()
        self._lock = threading.Lock()
        self._records = 0
        self._alerts = 0
        self._dead = 0
        self._lag: float | None = None

    def snapshot(self) -> Counts:
        with self._lock:
            return Counts(self._records, self._alerts, self._dead, self._lag)

    def events_in(self, source: str, n: int) -> None:
        with self._lock:
            self._records += n
        self.inner.events_in(source, n)

    def parse_failed(self, reason: str, n: int = 1, stage: str = "parse") -> None:
        with self._lock:
            self._dead += n
        self.inner.parse_failed(reason, n, stage)

    def alerts(self, flow: str, detector: str, n: int) -> None:
        with self._lock:
            self._alerts += n
        self.inner.alerts(flow, detector, n)

    def event_lag(self, flow: str, seconds: float) -> None:
        self._lag = seconds
        self.inner.event_lag(flow, seconds)

    def scored(self, flow: str, detector: str, n: int) -> None:
        self.inner.scored(flow, detector, n)

    def batch_latency(self, flow: str, stage: str, seconds: float) -> None:
        self.inner.batch_latency(flow, stage, seconds)

    def keys(self, flow: str, shard: str, live: int, evicted_total: int,
             overflow_total: int) -> None:
        self.inner.keys(flow, shard, live, evicted_total, overflow_total)

    def drift(self, flow: str, monitor: str, n: int = 1) -> None:
        self.inner.drift(flow, monitor, n)

    def snapshot_duration(self, seconds: float) -> None:
        self.inner.snapshot_duration(seconds)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def describe_sink(sink: Any) -> str:
    """A sink spec in a few words (no secrets)."""
    kind = sink.type
    if kind == "kafka":
        return f"kafka {sink.bootstrap_servers}/{sink.topic}"
    if kind == "jsonl":
        return f"jsonl {sink.path}"
    if kind == "redis":
        return f"redis {_without_secrets(sink.url)} {sink.stream}"
    if kind == "webhook":
        return f"webhook {_without_secrets(sink.url)}"
    if kind == "dashboard":
        return f"dashboard {dashboard_url(sink.url)}"
    return str(kind)


def _without_secrets(url: str) -> str:
    """``url`` without user, password, query and fragment (tokens live there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def dashboard_url(ingest_url: str) -> str:
    """The page a person opens for a dashboard sink's ingest URL.

    >>> dashboard_url("wss://ops.example/ws/ingest?token=secret")
    'https://ops.example/'
    """
    parts = urlsplit(ingest_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    port = f":{parts.port}" if parts.port else ""
    return f"{scheme}://{parts.hostname or ''}{port}/"


def start_line(spec: Any, flow_id: str, *, workers: int, processes: int,
               process_id: int | None = None, metrics_url: str | None = None) -> str:
    """One line naming the flow, its source, sinks, workers and URLs."""
    parts = [f"run {flow_id}"]
    if spec is not None:
        src = spec.source
        if src.type == "kafka":
            parts.append(f"source kafka {src.bootstrap_servers} [{', '.join(src.topics)}]")
        else:
            parts.append(f"source {src.type} {getattr(src, 'path', '')}".rstrip())
        parts.append("sinks " + (", ".join(describe_sink(s) for s in spec.sinks) or "none"))
        dead = spec.dead_letter
        parts.append("dead letters " + (describe_sink(dead) if dead is not None else "stderr"))
        from pynomaly.dataflow.detect_banked import per_key_reason

        reason = per_key_reason(spec)
        parts.append("detect banked" if reason is None else f"detect per key ({reason})")
    else:
        parts.append("source and sinks defined in Python")
    who = _plural(workers, "worker")
    if process_id is not None:
        who += f" (one process of {processes})"
    elif processes > 1:
        who += f" x {processes} processes"
    parts.append(who)
    if metrics_url:
        parts.append(f"metrics {metrics_url.rstrip('/')}/metrics")
    return " | ".join(parts)


def status_line(counts: Counts, rate: float) -> str:
    """The periodic one-line status."""
    lag = "-" if counts.lag_s is None else _duration(max(0.0, counts.lag_s))
    return (f"status: {rate:,.0f} records/s, {_plural(counts.records, 'record')}, "
            f"event-time lag {lag}, {_plural(counts.alerts, 'alert')}, "
            f"{_plural(counts.dead_letters, 'dead letter')}")


def summary_line(counts: Counts, seconds: float, reason: str | None = None) -> str:
    """The last line of a run."""
    rate = counts.records / seconds if seconds > 0 else 0.0
    how = f"stopped ({reason})" if reason else "finished"
    return (f"{how} after {_duration(seconds)}: {_plural(counts.records, 'record')} "
            f"({rate:,.0f} records/s), {_plural(counts.alerts, 'alert')}, "
            f"{_plural(counts.dead_letters, 'dead letter')}")


class RunStatus:
    """Counts a run and reports it on ``stream``.

    ``interval_s`` is the time between status lines (0: none); with
    ``quiet`` nothing is printed and only the counts are kept (``replay``
    uses them for its own summary).
    """

    def __init__(self, *, interval_s: float = 10.0, quiet: bool = False,
                 stream: IO[str] | None = None) -> None:
        self.interval_s = interval_s
        self.quiet = quiet
        self.stream = stream
        self.counters = FlowCounters()
        self._previous: NullMetrics | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._prefix = ""

    def _print(self, line: str) -> None:
        if not self.quiet:
            print(self._prefix + line, file=self.stream or sys.stdout, flush=True)

    def start(self, first_line: str | None = None, prefix: str = "") -> None:
        """Wrap the current metrics recorder, print ``first_line``, start the
        ticker; status and summary lines begin with ``prefix`` (the process
        of a cluster they come from)."""
        self._prefix = prefix
        self.counters.inner = metrics.current()
        self._previous = metrics.install(self.counters)
        self._t0 = time.monotonic()
        if first_line:
            self._print(first_line)
        if self.interval_s > 0 and not self.quiet:
            self._thread = threading.Thread(target=self._tick, name="pynomaly-status",
                                            daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        last_t, last_n = self._t0, 0
        while not self._stop.wait(self.interval_s):
            counts = self.counters.snapshot()
            now = time.monotonic()
            rate = (counts.records - last_n) / (now - last_t) if now > last_t else 0.0
            last_t, last_n = now, counts.records
            self._print(status_line(counts, rate))

    def stop(self, reason: str | None = None) -> Counts:
        """Stop the ticker, print the summary, put the wrapped recorder back."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        counts = self.counters.snapshot()
        self._print(summary_line(counts, time.monotonic() - self._t0, reason))
        if self._previous is not None and metrics.current() is self.counters:
            metrics.install(self.counters.inner)
        return counts
