"""File replay throughput: JSONL, Parquet or CSV in, alerts JSONL out, one process.

The generator writes ``records`` records over ``keys`` keys to a file; the
flow (file source → parse → shard → detect → alerts JSONL) reads it as fast
as it can, one Bytewax worker in this process, with the collector settings
of ``pynomaly run``/``pynomaly replay``. For reference the same file is also
just read and decoded (JSONL: orjson per line; Parquet and CSV: rows as
dicts), which the flow itself does not do (it reads the JSON bytes and the
Arrow columns directly).

>>> sorted(FORMATS)
['csv', 'jsonl', 'parquet']
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from pynomaly.bench.e2e import run_flow, warm_up
from pynomaly.bench.e2e_setup import bench_spec, load_average

FORMATS = {"jsonl": ".jsonl", "parquet": ".parquet", "csv": ".csv"}


def _read_only(path: str, fmt: str) -> float:
    import orjson

    from pynomaly.connectors.file_source import read_batches

    t0 = time.perf_counter()
    for batch in read_batches(path, fmt, 10_000):
        if fmt == "jsonl":
            for line in batch.payloads:
                orjson.loads(line)
        else:
            list(batch.payloads)  # the rows as dicts
    return time.perf_counter() - t0


def run_replay(records: int = 1_000_000, keys: int = 10_000,
               formats: tuple[str, ...] = ("jsonl", "parquet", "csv"),
               detector: str = "robust_zscore") -> dict[str, Any]:
    from pynomaly.devtools.generator import GeneratorConfig
    from pynomaly.devtools.generator_sinks import produce
    from pynomaly.spec import FlowSpec

    out: dict[str, Any] = {"records": records, "keys": keys, "detector": detector,
                           "load_average_start": load_average(), "formats": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in formats:
            path = os.path.join(tmp, "stream" + FORMATS[fmt])
            produce(GeneratorConfig(keys=keys, seed=0), [path], count=records)
            alerts = os.path.join(tmp, f"alerts-{fmt}.jsonl")
            data = bench_spec(detector, "127.0.0.1:9", "m", None).model_dump(mode="json")
            data["source"] = {"type": "file", "path": path, "format": fmt, "batch_size": 10_000}
            data["sinks"] = [{"type": "jsonl", "path": alerts}]
            spec = FlowSpec.model_validate(data)
            warm_up(spec)
            read_s = _read_only(path, fmt)
            secs, seen = run_flow(spec, records)
            if seen != records:
                raise RuntimeError(f"replay {fmt}: read {seen} of {records} records")
            with open(alerts, "rb") as fh:
                n_alerts = sum(1 for _ in fh)
            out["formats"][fmt] = {"records_per_s": round(records / secs),
                                   "read_decode_records_per_s": round(records / read_s),
                                   "alerts": n_alerts, "file_mb": round(os.path.getsize(path) / 2**20, 1)}
    out["load_average_end"] = load_average()
    return out
