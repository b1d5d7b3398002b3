"""Scaling: the same flow as 1 and as 2 Bytewax processes (``pynomaly run -p N``).

The topic has 2 partitions (one per process at ``-p 2``). Each run reads the
topic to its end (``tail: false``) and exits; its wall time includes process
start-up, so the same command is also timed on an empty topic and that
start-up time is subtracted: throughput = records / (wall − wall on empty).

>>> sorted(E2E_KEYS)
['keys', 'records']
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from pynomaly.bench.e2e_setup import bench_spec, load_average, produce_stream
from pynomaly.connectors.broker import free_port

E2E_KEYS = {"records": 1_000_000, "keys": 10_000}


def _timed_run(spec_path: str, processes: int) -> float:
    cmd = [sys.executable, "-m", "pynomaly.cli.main", "run", spec_path,
           "-p", str(processes), "--base-port", str(free_port())]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-1500:]}")
    return dt


def run_scaling(bootstrap: str, records: int = 1_000_000, keys: int = 10_000,
                processes: tuple[int, ...] = (1, 2), detector: str = "robust_zscore",
                shards: int = 16) -> dict[str, Any]:
    """Records/s of the flow at each process count; see the module docstring."""
    from pynomaly.connectors.kafka_admin import ensure_topics

    stamp = time.time_ns()
    topic, empty = f"scale-{stamp}", f"scale-empty-{stamp}"
    ensure_topics(bootstrap, {empty: 2})
    produce_stream(bootstrap, topic, records, keys, partitions=2)
    out: dict[str, Any] = {"records": records, "keys": keys, "detector": detector,
                           "partitions": 2, "shards": shards,
                           "load_average_start": load_average(), "processes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, src in (("full", topic), ("empty", empty)):
            alerts = f"scale-alerts-{name}-{stamp}"
            ensure_topics(bootstrap, {alerts: 1})
            spec = bench_spec(detector, bootstrap, src, alerts, shards=shards)
            paths[name] = os.path.join(tmp, f"{name}.json")
            with open(paths[name], "w") as fh:
                json.dump(spec.model_dump(mode="json"), fh)
        for p in processes:
            startup = _timed_run(paths["empty"], p)
            wall = _timed_run(paths["full"], p)
            busy = max(wall - startup, 1e-3)
            out["processes"][str(p)] = {"wall_s": round(wall, 2), "startup_s": round(startup, 2),
                                        "records_per_s": round(records / busy)}
    base = out["processes"].get("1", {}).get("records_per_s")
    for row in out["processes"].values():
        if base:
            row["speedup"] = round(row["records_per_s"] / base, 2)
    out["load_average_end"] = load_average()
    out["cpu_count"] = os.cpu_count()
    return out
