"""End to end in real headless Chromium: a real flow (file replay with an injected
anomaly, ``pynomaly run``) publishes into a served dashboard; the page shows live
points and the alert with its explanation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dashboard_support import INGEST_TOKEN, VIEW_TOKEN
from flow_data import ANOMALY_KEY, flow_spec, write_metrics

pytestmark = pytest.mark.browser


def _points(page, key: str) -> int:
    value = page.get_attribute(f'.chart-card[data-key="{key}"]', "data-points")
    return int(value or 0)


def test_flow_to_browser_live_points_and_alert(served, browser, tmp_path: Path) -> None:
    data = tmp_path / "metrics.jsonl"
    write_metrics(data, seconds=240, anomaly_at=150)
    spec = tmp_path / "flow.json"
    spec.write_text(json.dumps(flow_spec(data, served.ingest_url, INGEST_TOKEN, speed=24)))

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(served.viewer_url)
    page.wait_for_selector('#conn[data-state="live"]', timeout=10_000)
    assert "token" not in page.url  # the fragment is dropped once exchanged for a cookie
    assert VIEW_TOKEN not in page.content()

    flow = subprocess.Popen([sys.executable, "-m", "pynomaly.cli.main", "run", str(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"})
    hub = served.app.state.dashboard.hub
    try:
        deadline = time.monotonic() + 30
        while ANOMALY_KEY not in hub.series:
            assert time.monotonic() < deadline and flow.poll() is None, "the flow published nothing"
            time.sleep(0.1)
        page.fill("#search", ANOMALY_KEY[:4])  # key search: "web-" matches two keys
        page.wait_for_function("() => document.querySelectorAll('#key-list li').length >= 1",
                               timeout=10_000)
        page.click(f'#key-list li[data-key="{ANOMALY_KEY}"]', timeout=10_000)
        chart = f'.chart-card[data-key="{ANOMALY_KEY}"]'
        page.wait_for_selector(chart, timeout=5_000)
        page.wait_for_function(
            f"""() => Number(document.querySelector('{chart}').dataset.points) > 0""",
            timeout=10_000)
        first = _points(page, ANOMALY_KEY)
        page.wait_for_function(
            f"""() => Number(document.querySelector('{chart}').dataset.points) > {first}""",
            timeout=10_000)  # live: more points arrive after the backfill
        page.click("#pause")  # pause freezes the view (the server stops sending)
        page.wait_for_selector('#conn[data-state="paused"]', timeout=5_000)
        time.sleep(0.8)  # a chart shows what it already received within 0.5 s
        frozen = _points(page, ANOMALY_KEY)
        time.sleep(1.0)
        assert _points(page, ANOMALY_KEY) == frozen
        page.click("#pause")
        page.wait_for_selector('#conn[data-state="live"]', timeout=5_000)
        alert = page.wait_for_selector(f'#alerts li.alert:has-text("{ANOMALY_KEY}")', timeout=30_000)
        contributions = alert.query_selector_all(".contrib .f")
        assert {c.inner_text() for c in contributions} <= {"cpu", "latency_ms"}
        assert contributions, "the alert shows its top contributing features"
        page.wait_for_function(
            f"""() => Number(document.querySelector('{chart}').dataset.alerts) >= 1""",
            timeout=5_000)
        assert hub.counters["alerts"] >= 1 and hub.counters["points"] > 0
        assert hub.flow_stats is not None  # the overview is fed by the flow's stats
        assert flow.wait(timeout=60) == 0, flow.stdout.read().decode() if flow.stdout else ""
        deadline = time.monotonic() + 5
        while _points(page, ANOMALY_KEY) < 120 and time.monotonic() < deadline:
            time.sleep(0.1)
        shot = os.environ.get("PYNOMALY_DASHBOARD_SCREENSHOT")
        page.screenshot(path=shot or str(tmp_path / "dashboard.png"))

        # installable app shell: opens offline and shows the last data it had
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=10_000)
        page.wait_for_function(  # the snapshot holds the alert (saved when it arrives)
            f"""() => (JSON.parse(localStorage.getItem('pynomaly.snapshot.v1') || '{{"alerts": []}}')
                      .alerts || []).some((a) => a.key === '{ANOMALY_KEY}')""",
            timeout=10_000)
        page.context.set_offline(True)
        page.reload()
        page.wait_for_selector('#conn[data-state="offline"]', timeout=10_000)
        assert "showing the last data" in page.inner_text("#banner").lower()
        assert _points(page, ANOMALY_KEY) > 0
        assert page.query_selector(f'#alerts li.alert:has-text("{ANOMALY_KEY}")') is not None
        page.context.set_offline(False)
        errors[:] = [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e
                     and "Failed to fetch" not in e]
    finally:
        if flow.poll() is None:
            flow.terminate()
            flow.wait(timeout=10)
        page.close()
    assert not errors, errors
