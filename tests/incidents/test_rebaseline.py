"""An expected_change verdict re-baselines its keys on both detect paths."""

from __future__ import annotations

import numpy as np
import pytest

from pynomaly.dataflow.detect import (
    Rebaseline,
    make_detect_logic,
    rebaseline_items,
    rebaseline_shard,
)
from pynomaly.dataflow.records import EventBatch
from pynomaly.spec import FlowSpec

BANKED = {"detector": "robust_zscore", "calibration": {"kind": "none"},
          "threshold": {"kind": "static", "value": 6.0}, "warmup": 30}
PER_KEY = {"detector": "robust_zscore", "warmup": 30}


def run(detection: dict, rebaseline: Rebaseline | None) -> list[str]:
    spec = FlowSpec.model_validate({"name": "rb", "source": {"type": "file", "path": "x"},
                                    "record": {"value_fields": ["v"]}, "detection": detection})
    logic = make_detect_logic(spec)
    rng = np.random.default_rng(1)
    keys = ["a", "b"] * 200
    X = rng.normal(10, 1, size=(400, 1))
    state, _ = logic.process(None, EventBatch(keys, 1000.0 + np.arange(400.0), X, ("v",)))
    if rebaseline is not None:
        state = rebaseline_shard(state, rebaseline)
    # both keys jump to a new level at once: the change was expected for "a"
    Y = rng.normal(30, 1, size=(20, 1))
    _, out = logic.process(state, EventBatch(["a", "b"] * 10, 1400.0 + np.arange(20.0), Y, ("v",)))
    return sorted({a["key"] for a in out.alerts if a.get("kind", "anomaly") == "anomaly"})


@pytest.mark.parametrize("detection", [BANKED, PER_KEY], ids=["banked", "per-key"])
def test_expected_change_rebaselines_only_the_named_keys(detection: dict) -> None:
    assert run(detection, None) == ["a", "b"]
    assert run(detection, Rebaseline(keys=("a",))) == ["b"]  # "a" is warming up again
    assert run(detection, Rebaseline(pattern="*")) == []


def test_verdicts_become_shard_items() -> None:
    items = rebaseline_items({"verdict": "expected_change", "keys": ["a", "b", "c"]}, 2)
    assert sorted(k for _, item in items for k in item.keys) == ["a", "b", "c"]
    assert rebaseline_items({"verdict": "false_positive", "keys": ["a"]}, 2) == []
