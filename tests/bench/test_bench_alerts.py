"""``pynomaly bench alerts --json`` runs the three scenarios and reports the fixed keys."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.timeout(300)
def test_bench_alerts_reports_the_fixed_keys_on_a_small_run() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pynomaly.cli.main", "bench", "alerts", "--json",
         "--budget-keys", "3000", "--budget-hours", "1", "--incident-hours", "6",
         "--feedback-days", "5"], capture_output=True, timeout=280)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    report = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    inc, fb, bud = report["incidents"], report["feedback"], report["budget"]
    assert inc["outages_found"] == 1.0 and inc["purity"] >= 0.9
    assert inc["compression"] == pytest.approx(inc["outage_alerts"] / inc["outage_incidents"],
                                               abs=1e-3)
    assert inc["compression"] > 5
    assert fb["false_alerts_without"] > 0 and 0.5 <= fb["fp_reduction"] <= 1.0
    assert fb["tp_kept"] >= 0.9
    assert bud["null_candidates_per_hour"] > bud["null_alerts_per_hour"]
    # the cap: at most the budget plus one bucket
    assert bud["null_alerts_per_hour"] <= bud["budget_per_hour"] * 1.25
    assert 0 < bud["recall_ratio"] <= 1.0
