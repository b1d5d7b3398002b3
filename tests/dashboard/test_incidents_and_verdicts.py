"""Incidents on the dashboard and its verdict buttons, in real headless Chromium:
a publisher sends an alert and an incident, the viewer clicks "Not an anomaly",
the verdict lands on the Kafka verdict topic (the embedded broker)."""

from __future__ import annotations

import time

import orjson
import pytest
from dashboard_support import INGEST_TOKEN, VIEW_TOKEN

from pynomaly.connectors.kafka_admin import ensure_topics
from pynomaly.connectors.live_view import LiveViewPublisher
from pynomaly.dashboard.config import DashboardSettings
from pynomaly.dashboard.server import DashboardServer

pytestmark = [pytest.mark.browser, pytest.mark.broker]

PATIENCE_MS = 120_000

ALERT = {"type": "alert", "id": "a-0001", "flow": "f", "key": "web-01",
         "event_time": "2026-01-01T00:00:00.000Z", "emit_time": "2026-01-01T00:00:01.000Z",
         "values": {"latency_ms": 80.0}, "score": 9.5, "probability": 0.9999, "threshold": 0.999,
         "detector": "robust_zscore", "explanation": {"latency_ms": 1.0}, "schema_version": 2}
INCIDENT = {"type": "incident", "event": "update", "id": "inc-1", "flow": "f",
            "group": {"service": "web"}, "opened_at": 1767225600.0, "updated_at": 1767225660.0,
            "resolved_at": None, "n_alerts": 3, "members": ["a-0001", "a-0002", "a-0003"],
            "keys": ["web-01", "web-02"], "root_cause": [
                {"key": "web-01", "field": "latency_ms", "first_at": 1767225600.0,
                 "magnitude": 9.5, "rank": 1}],
            "summary": "3 alerts on 2 keys (service=web); first web-01.latency_ms"}


def read_topic(bootstrap: str, topic: str, want: int) -> list[dict]:
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{time.time_ns()}",
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got: list[dict] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < want and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got.append(orjson.loads(m.value()))
    finally:
        c.close()
    return got


def test_incidents_show_and_buttons_post_verdicts(browser, bootstrap: str) -> None:
    topic = f"verdicts-{time.time_ns()}"
    ensure_topics(bootstrap, {topic: 1})
    settings = DashboardSettings(ingest_token=INGEST_TOKEN, view_token=VIEW_TOKEN, tick_s=0.1,
                                 verdicts_url=f"kafka://{bootstrap}/{topic}")
    with DashboardServer(settings) as served:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(PATIENCE_MS)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(served.viewer_url)
        page.wait_for_selector('#conn[data-state="live"]')
        with LiveViewPublisher(served.ingest_url, INGEST_TOKEN) as pub:
            pub.publish_batch([ALERT, INCIDENT])
            pub.flush()
        inc = page.wait_for_selector('#incidents li[data-incident="inc-1"]')
        assert "3 alerts on 2 keys" in inc.inner_text() and "root cause: web-01" in inc.inner_text()
        assert "1 open" in page.text_content("#incident-count")
        card = page.wait_for_selector('#alerts li.alert:has-text("web-01")')
        card.query_selector('button[data-verdict="false_positive"]').click()
        page.wait_for_selector('#alerts .verdicts[data-target="a-0001"][data-state="sent"]')
        inc.query_selector('button[data-verdict="expected_change"]').click()
        page.wait_for_selector('#incidents .verdicts[data-target="inc-1"][data-state="sent"]')
        got = read_topic(bootstrap, topic, 2)
        assert sorted((v.get("alert_id") or v.get("incident_id"), v["verdict"]) for v in got) == [
            ("a-0001", "false_positive"), ("inc-1", "expected_change")]
        assert all(v["by"] == "dashboard" and v["scope"] == "key" for v in got)
        assert sorted(tuple(v["keys"]) for v in got) == [("web-01",), ("web-01", "web-02")]
        assert not errors, errors


def test_without_a_verdict_topic_there_are_no_buttons(served, browser) -> None:
    page = browser.new_page()
    page.set_default_timeout(PATIENCE_MS)
    page.goto(served.viewer_url)
    page.wait_for_selector('#conn[data-state="live"]')
    with LiveViewPublisher(served.ingest_url, INGEST_TOKEN) as pub:
        pub.publish_batch([ALERT, INCIDENT])
        pub.flush()
    page.wait_for_selector('#incidents li[data-incident="inc-1"]')
    page.wait_for_selector('#alerts li.alert:has-text("web-01")')
    assert page.query_selector(".verdicts") is None
