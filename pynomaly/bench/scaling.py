"""Scaling: the same flow as 1 and as 2 Bytewax processes (``pynomaly run -p N``).

The topic has 2 partitions (one per process at ``-p 2``). Each run reads the
topic to its end (``tail: false``) and exits. Two throughputs are reported:

- ``records_per_s``: records / (wall − wall of the same command on an empty
  topic), i.e. start-up subtracted (noisy when start-up is long);
- ``steady_records_per_s``: from the alerts themselves. The generator writes
  the stream step by step (every key once per step), so an alert's event
  time says how far into the stream it was; the Kafka timestamp of the
  alert says when it was produced. Between the alerts at the 5th and 95th
  percentile of production time, records processed / seconds elapsed is the
  steady-state rate, free of start-up and shutdown.

>>> steady_rate([(0.0, 0.0), (1.0, 60.0)], keys=10) is None  # too few alerts
True
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
from pynomaly.devtools.broker import free_port


def _timed_run(spec_path: str, processes: int) -> float:
    cmd = [sys.executable, "-m", "pynomaly.cli.main", "run", spec_path,
           "-p", str(processes), "--base-port", str(free_port())]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-1500:]}")
    return dt


def steady_rate(alerts: list[tuple[float, float]], keys: int, interval_s: float = 60.0
                ) -> float | None:
    """Records/s from ``(produced_at_s, event_time_s)`` of alerts; see the module
    docstring.

    >>> steady_rate([(10.0, 0.0), (11.0, 600.0), (12.0, 1200.0)], keys=100)
    1000.0
    """
    if len(alerts) < 3:
        return None
    pts = sorted(alerts)
    lo, hi = pts[len(pts) * 5 // 100], pts[min(len(pts) - 1, len(pts) * 95 // 100)]
    dt = hi[0] - lo[0]
    if dt <= 0:
        return None
    return (hi[1] - lo[1]) / interval_s * keys / dt


def _alert_times(bootstrap: str, topic: str) -> list[tuple[float, float]]:
    from datetime import datetime

    import orjson
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"scale-{time.time_ns()}",
                  "enable.auto.commit": "false", "enable.partition.eof": "true"})
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            msgs = c.consume(10_000, 0.5)
            if any(m.error() is not None and m.error().code() == KafkaError._PARTITION_EOF
                   for m in msgs):
                msgs = [m for m in msgs if m.error() is None]
                deadline = 0
            for m in msgs:
                if m.error() is None:
                    a = orjson.loads(m.value())
                    t = datetime.fromisoformat(a["event_time"].replace("Z", "+00:00"))
                    out.append((m.timestamp()[1] / 1000.0, t.timestamp()))
    finally:
        c.close()
    return out


def _median(values: list[float]) -> float | None:
    vals = sorted(v for v in values if v)
    if not vals:
        return None
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def run_scaling(bootstrap: str, records: int = 1_000_000, keys: int = 10_000,
                processes: tuple[int, ...] = (1, 2), detector: str = "robust_zscore",
                shards: int = 16, routes: tuple[str, ...] = ("partition", "hash"),
                repeats: int = 3) -> dict[str, Any]:
    """Records/s of the flow at each process count and ``keys.route``; see the
    module docstring. Each configuration runs ``repeats`` times, interleaved
    (1, 2, 1, 2, …) so that a noisy neighbour slows both alike; rates are
    medians. ``processes`` in the result is the first route's (the topic is
    keyed by entity, so ``partition`` applies)."""
    from pynomaly.connectors.kafka_admin import ensure_topics

    stamp = time.time_ns()
    topic, empty = f"scale-{stamp}", f"scale-empty-{stamp}"
    ensure_topics(bootstrap, {empty: 2})
    produce_stream(bootstrap, topic, records, keys, partitions=2)
    out: dict[str, Any] = {"records": records, "keys": keys, "detector": detector,
                           "partitions": 2, "shards": shards, "repeats": repeats,
                           "load_average_start": load_average(), "routes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        def spec_file(name: str, src: str, alerts: str, route: str) -> str:
            ensure_topics(bootstrap, {alerts: 1})
            data = bench_spec(detector, bootstrap, src, alerts, shards=shards).model_dump(
                mode="json")
            data["keys"]["route"] = route
            path = os.path.join(tmp, f"{name}.json")
            with open(path, "w") as fh:
                json.dump(data, fh)
            return path

        for route in routes:
            runs: dict[int, list[dict[str, float | None]]] = {p: [] for p in processes}
            empty_path = spec_file(f"empty-{route}", empty, f"scale-alerts-empty-{stamp}", route)
            for rep in range(repeats):
                for p in processes:
                    alerts = f"scale-alerts-{route}-{p}-{rep}-{stamp}"
                    startup = _timed_run(empty_path, p)
                    wall = _timed_run(spec_file(f"full-{route}-{p}-{rep}", topic, alerts, route),
                                      p)
                    steady = steady_rate(_alert_times(bootstrap, alerts), keys)
                    runs[p].append({"wall_s": wall, "startup_s": startup,
                                    "records_per_s": records / max(wall - startup, 1e-3),
                                    "steady_records_per_s": steady})
            rows: dict[str, Any] = {}
            for p, rs in runs.items():
                row: dict[str, Any] = {}
                for field in ("wall_s", "startup_s", "records_per_s", "steady_records_per_s"):
                    m = _median([r[field] for r in rs])  # type: ignore[misc]
                    row[field] = None if m is None else (round(m, 2) if field in ("wall_s", "startup_s")
                                                     else round(m))
                row["steady_records_per_s_runs"] = [
                    None if r["steady_records_per_s"] is None else round(r["steady_records_per_s"])
                    for r in rs]
                rows[str(p)] = row
            for field in ("records_per_s", "steady_records_per_s"):
                base = rows.get("1", {}).get(field)
                for row in rows.values():
                    if base and row[field]:
                        row[field.replace("records_per_s", "speedup")] = round(
                            row[field] / base, 2)
            out["routes"][route] = rows
    out["route"] = routes[0]
    out["processes"] = out["routes"][routes[0]]
    out["load_average_end"] = load_average()
    out["cpu_count"] = os.cpu_count()
    return out
