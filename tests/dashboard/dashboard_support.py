"""Constants shared by the dashboard tests and the screenshot script."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
INGEST_TOKEN = "ingest-token-for-tests-0123456789"
VIEW_TOKEN = "view-token-for-tests-0123456789"
