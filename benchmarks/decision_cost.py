"""What the alert decision layer costs per shard batch on the banked path.

Streams 10k keys at one record per key per minute (two fields, robust
statistics, static threshold) through ``BankedDetectLogic`` in 64 shards,
then times, on one warm shard batch, the whole detect step and each call of
the decision layer (:mod:`pynomaly.alerting`) it makes.

Run::

    .venv/bin/python benchmarks/decision_cost.py
"""

from __future__ import annotations

import timeit

import numpy as np

from pynomaly.alerting.decision import batch_watermarks
from pynomaly.dataflow.detect import split_by_shard
from pynomaly.dataflow.detect_banked import BankedDetectLogic
from pynomaly.dataflow.records import EventBatch
from pynomaly.spec import FlowSpec

KEYS, STEPS, SHARDS = 10_000, 40, 64


def main() -> None:
    spec = FlowSpec.model_validate({
        "name": "cost", "source": {"type": "file", "path": "x"},
        "record": {"value_fields": ["cpu", "latency_ms"]},
        "detection": {"detector": "robust_zscore", "calibration": {"kind": "none"},
                      "threshold": {"kind": "static", "value": 8.0}},
        "keys": {"shards": SHARDS}})
    rng = np.random.default_rng(0)
    keys = [f"host-{i:05d}" for i in range(KEYS)]
    logic = BankedDetectLogic(spec)
    states: dict[str, object] = {}
    sub = None
    for s in range(STEPS):
        t = 1.79e9 + 60.0 * s
        X = np.c_[0.5 + 0.05 * rng.standard_normal(KEYS), 20 + rng.standard_normal(KEYS)]
        batch = EventBatch(keys, np.full(KEYS, t), X, ("cpu", "latency_ms"), watermark=t,
                           watermark_from="metrics/0")
        for shard, part in split_by_shard(batch, SHARDS):
            states[shard], _ = logic.process(states.get(shard), part)
            sub = (shard, part)
    shard, part = sub  # type: ignore[misc]
    st = states[shard]
    dst, d = st.decision, logic.decision  # type: ignore[attr-defined]
    slots = logic._slots(st, part.keys)
    keep = np.ones(len(part), dtype=bool)
    gen = (len(st.slot_keys), st.evicted, len(st.keys))  # type: ignore[attr-defined]
    ds = dst.slots_of_bank(part.keys, slots, gen)
    wb = batch_watermarks(dst, part)
    arr = d.arrivals(dst, part.keys, part.times, keep, wb, part.watermark_from, ds)
    flags = np.zeros(len(part), dtype=bool)
    obs = d.observe(dst, part.keys, part.values, keep, flags, None, arr.slots)
    no_hold = np.zeros(len(part), dtype=bool)
    calls = {
        "detect step (whole)": lambda: logic.process(st, part),
        "slots_of_bank": lambda: dst.slots_of_bank(part.keys, slots, gen),
        "batch_watermarks": lambda: batch_watermarks(dst, part),
        "arrivals (cadence)": lambda: d.arrivals(dst, part.keys, part.times, keep, wb,
                                                 part.watermark_from, ds),
        "maintenance": lambda: d.maintenance(dst, part.keys, part.times),
        "imputed": lambda: d.imputed(dst, arr, part.values, keep),
        "observe (baseline, rules)": lambda: d.observe(dst, part.keys, part.values, keep, flags,
                                                       None, arr.slots),
        "hold": lambda: d.hold(dst, obs, no_hold),
        "missing": lambda: d.missing(dst, part, 0.0),
    }
    print(f"one shard batch of {len(part)} rows ({KEYS} keys, {SHARDS} shards)")
    total = 0.0
    for name, f in calls.items():
        n = 300 if name.startswith("detect") else 2000
        us = min(timeit.repeat(f, number=n, repeat=3)) / n * 1e6
        if not name.startswith("detect"):
            total += us
        print(f"  {name:28s} {us:7.1f} us")
    print(f"  {'decision layer in all':28s} {total:7.1f} us = {total / len(part):.2f} us/record")


if __name__ == "__main__":
    main()
