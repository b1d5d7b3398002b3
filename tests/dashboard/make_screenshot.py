"""Regenerate ``docs/dashboard.png``: a real replay flow feeding a served dashboard,
photographed in headless Chromium.

    .venv/bin/python tests/dashboard/make_screenshot.py [docs/dashboard.png]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(out: str = "docs/dashboard.png") -> int:
    sys.path.insert(0, str(Path(__file__).parent))
    from dashboard_support import CHROMIUM, CHROMIUM_ARGS, INGEST_TOKEN, VIEW_TOKEN
    from flow_data import flow_spec, write_metrics
    from playwright.sync_api import sync_playwright

    from pynomaly.dashboard.config import DashboardSettings
    from pynomaly.dashboard.server import DashboardServer

    settings = DashboardSettings(ingest_token=INGEST_TOKEN, view_token=VIEW_TOKEN, history_points=300)
    with tempfile.TemporaryDirectory() as tmp, DashboardServer(settings) as server, \
            sync_playwright() as p:
        data = Path(tmp) / "metrics.jsonl"
        write_metrics(data, seconds=300, anomaly_at=170, more_anomalies={"db-1": 235})
        spec = Path(tmp) / "flow.json"
        spec.write_text(json.dumps(flow_spec(data, server.ingest_url, INGEST_TOKEN, speed=30)))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.add_init_script("localStorage.setItem('pynomaly.selected.v1', '[\"web-2\", \"db-1\"]')")
        page.goto(server.viewer_url)
        page.wait_for_selector('#conn[data-state="live"]', timeout=20_000)
        flow = subprocess.run([sys.executable, "-m", "pynomaly.cli.main", "run", str(spec)],
                              check=True, capture_output=True, timeout=120)
        del flow
        time.sleep(2.0)
        page.mouse.move(760, 330)  # show the tooltip on the first chart
        time.sleep(0.5)
        page.screenshot(path=out)
        browser.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
