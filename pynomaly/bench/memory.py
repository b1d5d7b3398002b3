"""Memory: resident bytes per live key, and a flat footprint under key churn.

Run in a fresh process (``python -m pynomaly.bench.memory``) so the resident
set size (RSS, ``/proc/self/status``) is this measurement's alone. Keys are
fed through the detect step exactly as in the flow (split by shard, one
state per shard); the key strings are part of what is counted.

- ``live``: ``keys`` distinct keys, one event each; RSS before and after,
  bytes per key = ΔRSS / keys. ``array_bytes_per_key`` is the state arrays
  alone.
- ``churn``: ``keys`` live keys at a time, a fresh fifth of them every
  minute of event time, TTL eviction after ``ttl_s``; RSS sampled along the
  way stays flat once the first keys expire.

>>> rss_bytes() > 0
True
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from typing import Any

import numpy as np

from pynomaly.bench.e2e_setup import bench_spec
from pynomaly.dataflow.detect import DetectLogic, make_detect_logic, split_by_shard
from pynomaly.dataflow.records import EventBatch

FIELDS = ("cpu", "latency_ms")


def rss_bytes() -> int:
    """Resident set size of this process."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _feed(logic: Any, states: dict, keys: list[str], t: float, shards: int,
          rng: np.random.Generator) -> None:
    values = np.column_stack([0.5 + 0.05 * rng.standard_normal(len(keys)),
                              20 + rng.standard_normal(len(keys))])
    batch = EventBatch(keys, np.full(len(keys), t), values, FIELDS)
    for shard, sub in split_by_shard(batch, shards):
        states[shard], _ = logic.process(states.get(shard), sub)


def live_keys(detector: str, keys: int, *, shards: int = 64, per_key: bool = False,
              chunk: int = 50_000) -> dict[str, Any]:
    spec = bench_spec(detector, "127.0.0.1:9", "m", None, shards=shards, max_keys=10 * keys)
    logic = DetectLogic(spec) if per_key else make_detect_logic(spec)
    rng = np.random.default_rng(0)
    states: dict = {}
    _feed(logic, states, ["warm"], 1.7e9, shards, rng)  # imports, kernels
    gc.collect()
    before = rss_bytes()
    for lo in range(0, keys, chunk):
        ids = range(lo, min(keys, lo + chunk))
        _feed(logic, states, [f"host-{i:08d}" for i in ids], 1.7e9 + 60, shards, rng)
    gc.collect()
    after = rss_bytes()
    live = sum(len(s.keys) for s in states.values())
    out = {"detector": detector, "path": "per_key" if per_key else "banked", "keys": live,
           "rss_mb": round(after / 2**20, 1), "rss_delta_mb": round((after - before) / 2**20, 1),
           "bytes_per_key": round((after - before) / max(live, 1))}
    if not per_key:
        out["array_bytes_per_key"] = next(iter(states.values())).bytes_per_key()
    return out


def churn(detector: str, keys: int, *, minutes: int = 40, ttl_s: float = 300.0,
          shards: int = 64) -> dict[str, Any]:
    spec = bench_spec(detector, "127.0.0.1:9", "m", None, shards=shards, ttl_s=ttl_s,
                      max_keys=10 * keys)
    logic = make_detect_logic(spec)
    rng = np.random.default_rng(0)
    states: dict = {}
    fresh = keys // 5
    samples = []
    for m in range(minutes):
        first = m * fresh  # every minute the oldest fifth stops, a new fifth starts
        ids = range(first, first + keys)
        t = 1.7e9 + 60.0 * m
        for _ in range(4):  # a few batches per minute so each shard sees many batches
            _feed(logic, states, [f"host-{i:08d}" for i in ids], t, shards, rng)
            t += 15.0
        if m % 4 == 3:
            gc.collect()
            samples.append({"minute": m + 1, "rss_mb": round(rss_bytes() / 2**20, 1),
                            "live_keys": sum(len(s.keys) for s in states.values()),
                            "keys_seen": first + keys,
                            "evicted": sum(s.evicted for s in states.values())})
    later = [s["rss_mb"] for s in samples[len(samples) // 2:]]
    return {"detector": detector, "keys_live_target": keys, "ttl_s": ttl_s,
            "samples": samples, "rss_mb_second_half_min": min(later),
            "rss_mb_second_half_max": max(later)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["live", "churn"])
    p.add_argument("--detector", default="robust_zscore")
    p.add_argument("--keys", type=int, default=1_000_000)
    p.add_argument("--per-key", action="store_true", help="the per-key detect path")
    p.add_argument("--minutes", type=int, default=40)
    args = p.parse_args(argv)
    if args.mode == "live":
        res = live_keys(args.detector, args.keys, per_key=args.per_key)
    else:
        res = churn(args.detector, args.keys, minutes=args.minutes)
    json.dump(res, sys.stdout)
    print()
    return 0


def measure(mode: str, detector: str, keys: int, *, per_key: bool = False,
            minutes: int = 40) -> dict[str, Any]:
    """Run one measurement in a fresh process and return its JSON."""
    import subprocess

    cmd = [sys.executable, "-m", "pynomaly.bench.memory", mode, "--detector", detector,
           "--keys", str(keys), "--minutes", str(minutes), *(["--per-key"] if per_key else [])]
    proc = subprocess.run(cmd, capture_output=True, timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-1500:]}")
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


if __name__ == "__main__":
    raise SystemExit(main())
