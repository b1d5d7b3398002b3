"""``pynomaly bench e2e`` runs end to end on a tiny configuration and reports
the documented fields (no timing assertions: numbers belong to benchmarks)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.timeout(300)
def test_bench_e2e_json_reports_documented_fields(bootstrap: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pynomaly.cli.main", "bench", "e2e", "--json",
         "--records", "3000", "--keys", "20", "--batch-size", "500", "--anomaly-rate", "0.02",
         "--bootstrap-servers", bootstrap],
        capture_output=True, timeout=280)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    report = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert report["raw_records_per_s"] > 0
    assert set(report["detectors"]) == {"robust_zscore", "hst"}
    for row in report["detectors"].values():
        assert row["records_per_s"] > 0
        assert row["ratio"] == pytest.approx(row["records_per_s"] / report["raw_records_per_s"],
                                             abs=1e-3)
        # the generated stream holds labelled anomalies (rate 0.001, fixed seed), and
        # every alert the flow raised must have reached the topic, confirmed
        assert row["alerts_delivered"] > 0, row
    assert report["throughput"]["records"] == 3000


def test_memory_bench_counts_live_keys_and_evicts_under_churn() -> None:
    from pynomaly.bench.memory import churn, live_keys

    live = live_keys("robust_zscore", 3000, shards=4)
    assert live["keys"] == 3001 and live["array_bytes_per_key"] == (2 + 2 + 1) * 8 + 3 * 8  # mean, var, count + 3 counters
    res = churn("robust_zscore", 500, minutes=12, shards=4)
    last = res["samples"][-1]
    assert last["evicted"] > 0 and last["live_keys"] < last["keys_seen"]


@pytest.mark.timeout(120)
def test_transport_floor_reports_every_offered_load(bootstrap: str) -> None:
    from pynomaly.bench.latency import run_transport_floor

    res = run_transport_floor(bootstrap, rates=(200, 500), seconds=1.0)
    assert set(res["rates"]) == {"200", "500"}
    for row in res["rates"].values():
        assert row["received"] == row["probes"] > 0  # every stamp of the window came back
        assert 0 <= row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
