"""Prometheus metrics of the dashboard, served at ``/metrics``.

A collector reads the hub's counters when scraped (nothing is registered at
import time; each app has its own registry). Only counts are exposed: no keys,
no values, no tokens.

Examples
--------
>>> from prometheus_client import generate_latest
>>> from pynomaly.dashboard.config import DashboardSettings
>>> from pynomaly.dashboard.hub import Hub
>>> hub = Hub(DashboardSettings(ingest_token="i" * 16, view_token="v" * 16))
>>> text = generate_latest(dashboard_registry(hub, lambda: {"ingest_connections": 1})).decode()
>>> "pynomaly_dashboard_events_total" in text, 'pynomaly_dashboard_connections{role="ingest"} 1.0' in text
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from pynomaly.dashboard.hub import Hub

_EVENT_KINDS = ("points", "alerts", "drift", "stats")


class DashboardCollector(Collector):
    """Counters and gauges of one hub, read at scrape time."""

    def __init__(self, hub: Hub, extra: Callable[[], dict[str, Any]]) -> None:
        self.hub = hub
        self.extra = extra

    def collect(self) -> Iterator[Any]:
        c = self.hub.counters
        events = CounterMetricFamily("pynomaly_dashboard_events", "Events ingested, by type",
                                     labels=["type"])
        for kind in _EVENT_KINDS:
            events.add_metric([kind], c[kind])
        yield events
        lost = CounterMetricFamily("pynomaly_dashboard_lost_events",
                                   "Events lost before or at the dashboard, by reason",
                                   labels=["reason"])
        lost.add_metric(["rejected"], c["rejected"])
        lost.add_metric(["publisher_dropped"], c["publisher_dropped"])
        lost.add_metric(["keys_refused"], c["keys_refused"])
        yield lost
        yield CounterMetricFamily("pynomaly_dashboard_batch_sequence_gaps",
                                  "Batches missing in publisher sequence numbers",
                                  value=c["seq_gaps"])
        yield CounterMetricFamily("pynomaly_dashboard_protocol_errors",
                                  "Ingest messages that were not valid batches",
                                  value=c["protocol_errors"])
        frames = CounterMetricFamily("pynomaly_dashboard_frames", "Frames to viewers",
                                     labels=["outcome"])
        frames.add_metric(["queued"], c["frames"])
        frames.add_metric(["skipped"], c["frames_skipped"])
        yield frames
        yield GaugeMetricFamily("pynomaly_dashboard_keys", "Keys held", value=len(self.hub.series))
        extra = self.extra()
        conns = GaugeMetricFamily("pynomaly_dashboard_connections", "Open WebSockets",
                                  labels=["role"])
        conns.add_metric(["view"], len(self.hub.viewers))
        conns.add_metric(["ingest"], extra.get("ingest_connections", 0))
        yield conns
        if "redis_errors" in extra:
            yield CounterMetricFamily("pynomaly_dashboard_redis_errors",
                                      "Failed history writes to Redis",
                                      value=extra["redis_errors"])


def dashboard_registry(hub: Hub, extra: Callable[[], dict[str, Any]]) -> CollectorRegistry:
    """A registry holding only the dashboard's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DashboardCollector(hub, extra))
    return registry
