"""Fixtures of the dashboard tests: settings, a served dashboard, headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_support import CHROMIUM, CHROMIUM_ARGS, INGEST_TOKEN, VIEW_TOKEN

from pynomaly.dashboard.config import DashboardSettings
from pynomaly.dashboard.server import DashboardServer


@pytest.fixture
def settings() -> DashboardSettings:
    """Settings with fixed tokens and a fast tick."""
    return DashboardSettings(ingest_token=INGEST_TOKEN, view_token=VIEW_TOKEN, tick_s=0.1,
                             max_connections_per_client=4, history_points=120)


@pytest.fixture
def served(settings: DashboardSettings) -> Iterator[DashboardServer]:
    """The dashboard served by uvicorn on a free loopback port."""
    with DashboardServer(settings) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright. Fails when it is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium "
                    "(scripts/bootstrap.sh test installs it)", pytrace=False)
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
