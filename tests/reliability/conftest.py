"""Fixtures of the reliability suite."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynomaly.runtime import metrics_hooks

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def counts() -> Iterator[metrics_hooks.CountingHooks]:
    """Counting metrics hooks installed for the test, the previous ones restored after."""
    hooks = metrics_hooks.CountingHooks()
    previous = metrics_hooks.install(hooks)
    try:
        yield hooks
    finally:
        metrics_hooks.install(previous)


@pytest.fixture(scope="session")
def reference_alerts(bootstrap: str) -> dict[str, dict]:
    """Alerts (by id, without emit time) of an uninterrupted run of the
    recovery flow over its events, read as a backlog."""
    from recovery_flow import reference_run

    return reference_run(bootstrap)
