"""A flow written in Python: the file replay with the EWMA z-score and a
calibrated probability threshold.

    pynomaly run flows.python_flow:flow
    python -m bytewax.run flows.python_flow:dataflow
"""

from pynomaly.dataflow.flow import build_flow
from pynomaly.spec import FlowSpec

flow = FlowSpec.model_validate({
    "name": "python-zscore",
    "source": {"type": "file", "path": "flows/data/sample.jsonl"},
    "record": {"value_fields": ["cpu", "latency_ms"], "max_future_s": 3.2e8},
    "detection": {
        "detector": {"name": "robust_zscore", "params": {"alpha": 0.02}},
        "calibration": {"kind": "conformal", "window": 2000},
        "threshold": {"kind": "probability", "level": 0.995},
        "warmup": 100,
    },
    "alerts": {"cooldown_s": 3600},
    "sinks": [{"type": "jsonl", "path": "out/python-flow/alerts.jsonl"}],
    "dead_letter": {"type": "jsonl", "path": "out/python-flow/dead-letters.jsonl"},
})

#: the same flow as a Bytewax Dataflow, for ``python -m bytewax.run``
dataflow = build_flow(flow)
