"""The flow's stats events carry the health of its sinks to the overview."""

import time

from pynomaly.connectors.live_view import FlowStats
from pynomaly.runtime import metrics_hooks


def test_sink_health_is_recorded_whatever_hooks_are_installed():
    counts = metrics_hooks.CountingHooks()
    previous = metrics_hooks.install(counts)
    try:
        metrics_hooks.current().delivered("kafka", "alerts-t1", 2)
        metrics_hooks.current().retried("webhook", "http://hook-t1", 1)
        health = metrics_hooks.sink_health()
        assert health["kafka:alerts-t1"] == "ok"
        assert health["webhook:http://hook-t1"] == "retrying"
        metrics_hooks.current().circuit("webhook", "http://hook-t1", "open")
        assert metrics_hooks.sink_health()["webhook:http://hook-t1"] == "failing"
        assert counts.get("delivered", "kafka", "alerts-t1") == 2
    finally:
        metrics_hooks.install(previous)


def test_stats_event_reports_sinks():
    metrics_hooks.current().failed("redis", "stream-t2", 1, "connection refused")
    stats = FlowStats(interval_s=0.0)
    time.sleep(0.001)
    event = stats.observe([], scored=0)
    assert event is not None and event["sinks"]["redis:stream-t2"] == "failing"
