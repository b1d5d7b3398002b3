"""File replay of 300k generated records (10k keys, 2 fields) through flows that
differ only in their detection settings; prints the detect path each takes,
records/s and the process's peak RSS so far.

    .venv/bin/pynomaly produce --to /tmp/p300k.jsonl --count 300000 --keys 10000 \
        --start 2026-01-01T00:00:00Z --quiet
    .venv/bin/python benchmarks/default_paths.py /tmp/p300k.jsonl
"""

import resource
import sys
import time

from bytewax.testing import run_main

from pynomaly.flow import build_flow
from pynomaly.operators.detect import make_detect_logic
from pynomaly.spec import FlowSpec

PATH = sys.argv[1] if len(sys.argv) > 1 else "/tmp/p300k.jsonl"
base = {"name": "p", "source": {"type": "file", "path": PATH, "batch_size": 5000},
        "record": {"value_fields": ["cpu", "latency_ms"], "time_format": "iso"},
        "sinks": [{"type": "jsonl", "path": "/dev/null"}]}
cfgs = {
    "reference: robust_zscore, calibration none, static": {"detection": {
        "detector": "robust_zscore", "calibration": {"kind": "none"},
        "threshold": {"kind": "static", "value": 6.0}}},
    "robust_zscore, default calibration": {"detection": {"detector": "robust_zscore"}},
    "no detector named (2 fields: metric_deviation)": {},
    "hst 10x8 fixed limits, conformal, probability": {"detection": {"detector": {
        "name": "hst", "params": {"n_trees": 10, "height": 8, "limits": [[0, 1], [0, 60]]}}}},
}
for name, extra in cfgs.items():
    spec = FlowSpec.model_validate({**base, **extra})
    path = type(make_detect_logic(spec)).__name__
    t = time.perf_counter()
    run_main(build_flow(spec))
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name:55s} {path:18s} {300000 / dt:10.0f} rec/s  peak RSS so far {rss:.0f} MB",
          flush=True)
