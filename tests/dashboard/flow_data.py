"""A small generated metrics file with one injected anomaly, for flows feeding the
dashboard in tests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

KEYS = ("web-1", "web-2", "db-1")
ANOMALY_KEY = "web-2"


def write_metrics(path: Path, seconds: int = 240, anomaly_at: int = 150, seed: int = 7,
                  more_anomalies: dict[str, int] | None = None) -> float:
    """Write ``seconds`` events per key (one a second, ending at the wall clock now) with a
    CPU and latency spike on :data:`ANOMALY_KEY` at ``anomaly_at`` (and on the keys of
    ``more_anomalies`` at their indices); returns the first event time (epoch s)."""
    spikes = {ANOMALY_KEY: anomaly_at, **(more_anomalies or {})}
    rng = np.random.default_rng(seed)
    start = float(int(time.time()) - seconds)
    with path.open("w") as out:
        for i in range(seconds):
            for j, key in enumerate(KEYS):
                cpu = 0.4 + 0.05 * np.sin(i / 15 + j) + rng.normal(0, 0.01)
                latency = 18 + 2 * np.cos(i / 20 + j) + rng.normal(0, 0.4)
                if key in spikes and spikes[key] <= i < spikes[key] + 3:
                    cpu, latency = cpu + 0.5, latency * 4
                ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i))
                out.write(json.dumps({"key": key, "ts": ts, "cpu": round(float(cpu), 4),
                                      "latency_ms": round(float(latency), 3)}) + "\n")
    return start


def flow_spec(data: Path, ingest_url: str, token: str, speed: float) -> dict:
    """A replay flow spec publishing every scored point and alert to the dashboard."""
    return {
        "name": "dashboard-e2e",
        "source": {"type": "file", "path": str(data), "batch_size": 30, "speed": speed},
        "record": {"key_field": "key", "time_field": "ts", "time_format": "iso",
                   "value_fields": ["cpu", "latency_ms"]},
        "detection": {"detector": {"name": "robust_zscore", "params": {"alpha": 0.02, "warmup": 30}},
                      "warmup": 30, "threshold": {"kind": "static", "value": 8.0}},
        "alerts": {"cooldown_s": 600},
        "sinks": [{"type": "dashboard", "url": ingest_url, "token": token, "points": True}],
    }
