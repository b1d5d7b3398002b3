"""Alerts do not depend on how records were batched: the same file replayed
at batch sizes 1, 7 and 700 gives the same alerts, every field equal but the
wall-clock ``emit_time``, on the banked path and on the per-key path."""

import numpy as np
import orjson
import pytest

from pynomaly.dataflow.detect_banked import banked_eligible
from pynomaly.dataflow.flow import build_flow
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import FlowSpec, load_spec

KEYS = ("web-1", "web-2", "db-1")


def _stream(path, n=1500, seed=3):
    """Three keys, two features, with spikes close together (several flagged
    rows of one key inside one batch of 700)."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        key = KEYS[i % 3]
        cpu, lat = 0.4 + 0.05 * rng.normal(), 20.0 + rng.normal()
        if i > 300 and rng.random() < 0.03:
            cpu += rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 3.0)
        if i > 300 and rng.random() < 0.03:
            lat += rng.uniform(10.0, 90.0)
        lines.append(orjson.dumps({"key": key, "ts": 1_767_225_600 + 20 * i,
                                   "cpu": round(float(cpu), 4),
                                   "latency_ms": round(float(lat), 3)}))
    path.write_bytes(b"\n".join(lines) + b"\n")


def _detection(kind: str) -> dict:
    if kind == "file_replay":  # the shipped flow: robust statistics, conformal, static 8
        return load_spec("flows/file_replay.yaml").model_dump()["detection"]
    hst = {"name": "hst", "params": {"n_trees": 10, "height": 6, "window_size": 64, "seed": 1}}
    if kind == "hst_banked":  # fixed limits, no calibration
        hst["params"]["limits"] = [[-3.0, 4.0], [0.0, 150.0]]
        return {"detector": hst, "warmup": 64, "calibration": {"kind": "none"},
                "threshold": {"kind": "static", "value": 0.6}}
    return {"detector": hst, "warmup": 64,  # as the README's flow: conformal, probability
            "calibration": {"kind": "conformal", "window": 300},
            "threshold": {"kind": "probability", "level": 0.97}}


def _alerts(tmp_path, src, kind: str, batch_size: int, per_key: bool = False) -> list[dict]:
    out = tmp_path / f"{kind}-{batch_size}-{per_key}.jsonl"
    spec = FlowSpec.model_validate({
        "name": f"inv-{kind}",
        "source": {"type": "file", "path": str(src), "batch_size": batch_size},
        "record": {"key_field": "key", "time_field": "ts", "time_format": "epoch_s",
                   "value_fields": ["cpu", "latency_ms"], "max_future_s": 315360000},
        "detection": _detection(kind),
        "alerts": {"cooldown_s": 0, "explain_top": 2},
        "sinks": [{"type": "jsonl", "path": str(out)}],
        "dead_letter": {"type": "jsonl",
                        "path": str(tmp_path / f"dead-{kind}-{batch_size}-{per_key}.jsonl")},
    })
    assert banked_eligible(spec)  # each runs banked unless told otherwise
    run_dataflow(build_flow(spec, per_key=per_key), RunOptions())
    alerts = [orjson.loads(x) for x in out.read_bytes().splitlines()] if out.exists() else []
    for a in alerts:
        del a["emit_time"]
    return sorted(alerts, key=lambda a: (a["event_time"], a["key"]))


@pytest.mark.parametrize("per_key", [False, True], ids=["banked", "per_key"])
@pytest.mark.parametrize("kind", ["file_replay", "hst_banked", "hst_conformal"])
def test_alerts_are_the_same_at_any_batch_size(tmp_path, kind, per_key):
    src = tmp_path / "m.jsonl"
    _stream(src)
    runs = {b: _alerts(tmp_path, src, kind, b, per_key) for b in (700, 7, 1)}
    assert len(runs[700]) >= 10
    assert any(len(a["explanation"]) == 2 for a in runs[700])
    assert runs[7] == runs[700]
    assert runs[1] == runs[700]
    if per_key:  # and the two paths agree
        assert runs[700] == _alerts(tmp_path, src, kind, 700)
