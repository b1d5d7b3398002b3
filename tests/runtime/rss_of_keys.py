"""Resident memory that N keys take in a spec's detect step, measured as a run
holds them: keys split over the spec's shards, one state per shard, each key
fed enough records to fill its windows in batches of the source's size; no
tracing.

    python tests/runtime/rss_of_keys.py SPEC_JSON KEYS

prints ``{"keys": N, "rss_growth": bytes, "live": keys held}``.
"""

from __future__ import annotations

import gc
import json
import sys

import numpy as np

from pynomaly.dataflow.detect import make_detect_logic, split_by_shard
from pynomaly.dataflow.records import EventBatch
from pynomaly.runtime.plan import rows_per_key, rss_bytes
from pynomaly.spec import FlowSpec


def main() -> None:
    spec = FlowSpec.model_validate_json(sys.argv[1])
    n_keys = int(sys.argv[2])
    logic = make_detect_logic(spec)
    fields = tuple(spec.record.value_fields)
    rng = np.random.default_rng(3)
    level = 1.0 + np.arange(len(fields))

    def feed(states: dict, keys: list[str], first: int, per_key: int) -> None:
        ks = keys * per_key
        times = 1.7e9 + 60.0 * np.repeat(np.arange(first, first + per_key), len(keys))
        values = level + 0.1 * level * rng.standard_normal((len(ks), len(fields)))
        for shard, sub in split_by_shard(EventBatch(ks, times, values, fields), spec.keys.shards):
            states[shard] = logic.process(states.get(shard), sub)[0]

    feed({}, ["warm-a", "warm-b"], 0, 40)  # kernels and imports, thrown away
    gc.collect()
    before = rss_bytes()
    states: dict = {}
    keys = [f"host-{i:08d}" for i in range(n_keys)]
    rows = rows_per_key(spec)
    per_call = max(1, spec.source.batch_size // n_keys)  # batches of the source's size
    for first in range(0, rows, per_call):
        feed(states, keys, first, min(per_call, rows - first))
    gc.collect()
    grown = rss_bytes() - before
    live = sum(len(s.keys) for s in states.values())
    print(json.dumps({"keys": n_keys, "rss_growth": grown, "live": live}))


if __name__ == "__main__":
    main()
