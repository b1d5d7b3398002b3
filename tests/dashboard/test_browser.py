"""End to end in real headless Chromium: a real flow (file replay with an injected
anomaly, ``pynomaly run``) publishes into a served dashboard; the page shows live
points and the alert with its explanation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dashboard_support import INGEST_TOKEN, VIEW_TOKEN
from flow_data import ANOMALY_KEY, flow_spec, write_metrics

pytestmark = pytest.mark.browser


#: Longest wait for anything the page or the flow should do. Generous: on a busy
#: 2-core machine a JIT compile or a slow render can take tens of seconds, and a
#: condition met early ends the wait at once.
PATIENCE_S = 120
PATIENCE_MS = PATIENCE_S * 1000


def _points(page, key: str) -> int:
    value = page.get_attribute(f'.chart-card[data-key="{key}"]', "data-points")
    return int(value or 0)


def _settled_points(page, key: str) -> int:
    """The key's point count once two reads a second apart agree."""
    deadline = time.monotonic() + PATIENCE_S
    last = _points(page, key)
    while True:
        time.sleep(1.0)
        now = _points(page, key)
        if now == last:
            return now
        assert time.monotonic() < deadline, "the chart kept changing while paused"
        last = now


def test_flow_to_browser_live_points_and_alert(served, browser, tmp_path: Path) -> None:
    data = tmp_path / "metrics.jsonl"
    write_metrics(data, seconds=240, anomaly_at=150)
    spec = tmp_path / "flow.json"
    spec.write_text(json.dumps(flow_spec(data, served.ingest_url, INGEST_TOKEN, speed=24)))

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(PATIENCE_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(served.viewer_url)
    page.wait_for_selector('#conn[data-state="live"]')
    assert "token" not in page.url  # the fragment is dropped once exchanged for a cookie
    assert VIEW_TOKEN not in page.content()

    flow = subprocess.Popen([sys.executable, "-m", "pynomaly.cli.main", "run", str(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"})
    hub = served.app.state.dashboard.hub
    try:
        deadline = time.monotonic() + PATIENCE_S
        while ANOMALY_KEY not in hub.series:
            assert time.monotonic() < deadline and flow.poll() is None, "the flow published nothing"
            time.sleep(0.1)
        # Hold the flow while the page opens the key's chart, so that live points
        # are still to come however slowly the page gets there.
        flow.send_signal(signal.SIGSTOP)
        page.fill("#search", ANOMALY_KEY[:4])  # key search: "web-" matches two keys
        page.wait_for_function("() => document.querySelectorAll('#key-list li').length >= 1")
        page.click(f'#key-list li[data-key="{ANOMALY_KEY}"]')
        chart = f'.chart-card[data-key="{ANOMALY_KEY}"]'
        page.wait_for_selector(chart)
        page.wait_for_function(
            f"""() => Number(document.querySelector('{chart}').dataset.points) > 0""")
        first = _settled_points(page, ANOMALY_KEY)  # the backfill
        flow.send_signal(signal.SIGCONT)
        page.wait_for_function(  # live: more points arrive after the backfill
            f"""() => Number(document.querySelector('{chart}').dataset.points) > {first}""")
        page.click("#pause")  # pause freezes the view (the server stops sending)
        page.wait_for_selector('#conn[data-state="paused"]')
        frozen = _settled_points(page, ANOMALY_KEY)  # what was already on its way
        time.sleep(1.0)
        assert _points(page, ANOMALY_KEY) == frozen
        page.click("#pause")
        page.wait_for_selector('#conn[data-state="live"]')
        alert = page.wait_for_selector(f'#alerts li.alert:has-text("{ANOMALY_KEY}")')
        contributions = alert.query_selector_all(".contrib .f")
        assert {c.inner_text() for c in contributions} <= {"cpu", "latency_ms"}
        assert contributions, "the alert shows its top contributing features"
        # schema v2 on the card: severity, and each value against expected and its band
        assert alert.query_selector(".sev") is not None
        assert "expected" in alert.inner_text() and "normal" in alert.inner_text()
        page.wait_for_function(
            f"""() => Number(document.querySelector('{chart}').dataset.alerts) >= 1""")
        assert hub.counters["alerts"] >= 1 and hub.counters["points"] > 0
        assert hub.flow_stats is not None  # the overview is fed by the flow's stats
        assert flow.wait(timeout=PATIENCE_S) == 0, flow.stdout.read().decode() if flow.stdout else ""
        deadline = time.monotonic() + PATIENCE_S
        while _points(page, ANOMALY_KEY) < 120 and time.monotonic() < deadline:
            time.sleep(0.1)
        shot = os.environ.get("PYNOMALY_DASHBOARD_SCREENSHOT")
        page.screenshot(path=shot or str(tmp_path / "dashboard.png"))

        # installable app shell: opens offline and shows the last data it had
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        page.wait_for_function(  # the snapshot holds the alert (saved when it arrives)
            f"""() => (JSON.parse(localStorage.getItem('pynomaly.snapshot.v1') || '{{"alerts": []}}')
                      .alerts || []).some((a) => a.key === '{ANOMALY_KEY}')""")
        page.context.set_offline(True)
        page.reload()
        page.wait_for_selector('#conn[data-state="offline"]')
        assert "showing the last data" in page.inner_text("#banner").lower()
        assert _points(page, ANOMALY_KEY) > 0
        assert page.query_selector(f'#alerts li.alert:has-text("{ANOMALY_KEY}")') is not None
        page.context.set_offline(False)
        errors[:] = [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e
                     and "Failed to fetch" not in e]
    finally:
        if flow.poll() is None:
            flow.send_signal(signal.SIGCONT)
            flow.terminate()
            flow.wait(timeout=10)
        if flow.stdout is not None:
            flow.stdout.close()
        page.close()
    assert not errors, errors
